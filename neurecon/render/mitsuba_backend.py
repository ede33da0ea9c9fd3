"""Mitsuba 3 as a buffer renderer: variant choice, the moment/aov integrator stack, and turning
its film into :class:`~neurecon.buffers.Buffers` with per-pixel variances of the mean.

Variant: ``llvm_ad_rgb`` needs LLVM ≥ 17 (with the system LLVM 14 it aborts the process), so it is
chosen only when a libLLVM ≥ 17 is found, via ``DRJIT_LIBLLVM_PATH``; otherwise ``scalar_rgb``
(~3× slower). ``NEURECON_MITSUBA_VARIANT`` overrides the choice.
"""

from __future__ import annotations

import glob
import os
import re

import numpy as np

from ..buffers import Buffers

_VARIANT: str | None = None
# Caps one render pass so llvm wavefronts stay a few hundred MB; more spp are accumulated passes.
MAX_SAMPLES_PER_PASS = 1 << 22


def find_libllvm(min_version: int = 17) -> str | None:
    if os.environ.get("DRJIT_LIBLLVM_PATH"):
        return os.environ["DRJIT_LIBLLVM_PATH"]
    best = None
    for path in glob.glob("/usr/lib/*/libLLVM-*.so*") + glob.glob("/usr/lib/llvm-*/lib/libLLVM*.so*"):
        m = re.search(r"libLLVM-?(\d+)", os.path.basename(path)) or re.search(r"llvm-(\d+)", path)
        if m and int(m.group(1)) >= min_version and (best is None or int(m.group(1)) > best[0]):
            best = (int(m.group(1)), path)
    return best[1] if best else None


def mitsuba(variant: str | None = None):
    """Import mitsuba with the fastest working variant (once per process) and return the module."""
    global _VARIANT
    if _VARIANT is None:
        variant = variant or os.environ.get("NEURECON_MITSUBA_VARIANT")
        if variant is None:
            llvm = find_libllvm()
            if llvm:
                os.environ["DRJIT_LIBLLVM_PATH"] = llvm
                variant = "llvm_ad_rgb"
            else:
                variant = "scalar_rgb"
        import mitsuba as mi

        try:
            mi.set_variant(variant)
        except Exception:  # e.g. llvm variant compiled out: the scalar one is always there
            if variant == "scalar_rgb":
                raise
            variant = "scalar_rgb"
            mi.set_variant(variant)
        _VARIANT = variant
        from .lobes import register

        register(mi)  # the `lobes` integrator (diffuse/specular split), for scene dicts that name it
    import mitsuba as mi

    return mi


def current_variant() -> str:
    mitsuba()
    return _VARIANT  # type: ignore[return-value]


def integrator(max_depth: int = 8, lobes: bool = False) -> dict:
    """moment(aov(path)): means and second moments of colour and every feature in one pass.

    ``lobes``: the path tracer that also splits colour into diffuse + specular (:mod:`.lobes`);
    its colour equals ``path``'s for the same seed (to float rounding)."""
    return {
        "type": "moment",
        "nested": {
            "type": "aov",
            "aovs": "albedo:albedo,nn:sh_normal,pos:position,dd:depth",
            "integrator": {"type": "lobes" if lobes else "path", "max_depth": max_depth, "rr_depth": 5},
        },
    }


def with_lobes(scene: dict) -> dict:
    """A scene dict built with :func:`integrator` whose path tracer is swapped for ``lobes``."""
    integ = scene["integrator"]
    inner = integ["nested"]["integrator"]
    if integ.get("type") != "moment" or inner.get("type") not in ("path", "lobes"):
        raise ValueError("lobes need the scene's moment(aov(path)) integrator (render/mitsuba_backend.integrator)")
    return {**scene, "integrator": integrator(inner.get("max_depth", 8), lobes=True)}


# film channel prefix -> canonical plane
_CHANNELS = {
    "nested.integrator": ("color", ["R", "G", "B"]),
    "nested.albedo": ("albedo", ["R", "G", "B"]),
    "nested.nn": ("normal", ["X", "Y", "Z"]),
    "nested.pos": ("position", ["X", "Y", "Z"]),
    "nested.dd": ("depth", ["T"]),
    "nested.integrator.diffuse": ("diffuse", ["R", "G", "B"]),  # the lobes integrator only
    "nested.integrator.specular": ("specular", ["R", "G", "B"]),
}
_VAR_NAME = {"color": "color_var", "albedo": "albedo_var", "normal": "normal_var", "depth": "depth_var"}


def _render_pass(mi, scene, spp: int, seed: int) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    img = np.asarray(mi.render(scene, spp=spp, seed=seed), dtype=np.float64)
    names = [f.name for f in scene.sensors()[0].film().bitmap().struct_()]
    col = {n: i for i, n in enumerate(names)}
    mean, m2 = {}, {}
    for prefix, (plane, suffixes) in _CHANNELS.items():
        if f"{prefix}.{suffixes[0]}" not in col:
            continue
        mean[plane] = np.stack([img[..., col[f"{prefix}.{s}"]] for s in suffixes], -1)
        m2[plane] = np.stack([img[..., col[f"m2_{prefix}.{s}"]] for s in suffixes], -1)
    return mean, m2


def render_buffers(scene, spp: int, seed: int) -> Buffers:
    """Render `spp` samples per pixel and return means plus variances of the mean.

    Variance of the mean = (E[x²] − E[x]²) · spp/(spp−1) / spp, i.e. the unbiased sample variance
    divided by spp (data contract). Large spp counts are split into passes with distinct seeds.
    """
    mi = mitsuba()
    if isinstance(scene, dict):
        scene = mi.load_dict(scene)
    w, h = scene.sensors()[0].film().crop_size()
    per_pass = max(1, min(spp, MAX_SAMPLES_PER_PASS // max(1, w * h)))
    n_pass = -(-spp // per_pass)
    sums: dict[str, np.ndarray] = {}
    sq: dict[str, np.ndarray] = {}
    done = 0
    for p in range(n_pass):
        k = min(per_pass, spp - done)
        # Mitsuba seeds are uint32: hash (seed, pass) instead of arithmetic that could overflow
        pass_seed = int(np.random.SeedSequence([seed, p]).generate_state(1)[0])
        mean, m2 = _render_pass(mi, scene, k, pass_seed)
        for plane in mean:
            sums[plane] = sums.get(plane, 0) + mean[plane] * k
            sq[plane] = sq.get(plane, 0) + m2[plane] * k
        done += k
    out = {}
    for plane in sums:
        mu = sums[plane] / spp
        second = sq[plane] / spp
        var = np.maximum(second - mu * mu, 0.0) / max(spp - 1, 1)
        out[plane] = mu.astype(np.float32)
        out[_VAR_NAME.get(plane, plane + "_var")] = var.astype(np.float32)
    out.pop("position_var", None)
    return Buffers(out)
