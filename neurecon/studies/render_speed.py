"""Renderer throughput: samples per second of Mitsuba's llvm and scalar variants on the same
procedural scenes with neurecon's integrator stack (moment(aov(path)), box filter).

    .venv/bin/python bench/render.py --size 64 --spp 16 --scenes 3 --out bench/results

``--lobes`` also times the ``lobes`` integrator (render --lobes: path plus the diffuse/specular
split, render/lobes.py) on the same scenes, warm, interleaved with ``path``: ``lobes_over_path``
is its time over path's. ``--threads N`` fixes Dr.Jit's thread count.

Each variant runs in its own subprocess (Mitsuba fixes its variant per process). The llvm
variant's first render includes JIT compilation: reported separately as `first_seconds`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from .common import write_json

# what a variant's subprocess runs: measure() with the variant fixed before Mitsuba is imported
_CHILD = (
    "import json, sys; from neurecon.studies.render_speed import measure; print(json.dumps(measure(*sys.argv[1:])))"
)


def measure(variant: str, size: int, spp: int, scenes: int, lobes: int = 0, threads: int = 0) -> dict:
    """Render `scenes` procedural scenes twice (the second warm) in this process, which must not
    have loaded Mitsuba with another variant; the warm renders' samples per second (and, with
    `lobes`, the lobes integrator's time over path's on the same scenes)."""
    size, spp, scenes, lobes, threads = int(size), int(spp), int(scenes), int(lobes), int(threads)
    os.environ["NEURECON_MITSUBA_VARIANT"] = variant
    from ..render.mitsuba_backend import current_variant, find_libllvm, mitsuba, render_buffers, with_lobes
    from ..render.scenes import random_scene

    mi = mitsuba()
    if threads:
        import drjit as dr

        dr.set_thread_count(threads)

    def warm_seconds(spec: dict) -> tuple[float, float]:
        scene = mi.load_dict(spec)
        t = time.perf_counter()
        render_buffers(scene, spp, seed=1)
        cold = time.perf_counter() - t
        t = time.perf_counter()
        render_buffers(scene, spp, seed=2)  # warm: kernels cached
        return cold, time.perf_counter() - t

    first = None
    times, lobe_times = [], []
    for s in range(scenes):
        spec = random_scene(200_000 + s, size)
        cold, warm = warm_seconds(spec)
        first = first if first is not None else cold
        times.append(warm)
        if lobes:
            lobe_times.append(warm_seconds(with_lobes(spec))[1])
    samples = size * size * spp * scenes
    extra = {"lobes_seconds": sum(lobe_times), "lobes_over_path": sum(lobe_times) / sum(times)} if lobes else {}
    return {
        "variant": current_variant(),
        "libllvm": find_libllvm() if "llvm" in variant else None,
        "size": size,
        "spp": spp,
        "scenes": scenes,
        "first_seconds": first,
        "seconds": sum(times),
        "samples_per_second": samples / sum(times),
        "threads": threads or None,
        **extra,
    }


def measure_in_subprocess(
    variant: str, size: int, spp: int, scenes: int, lobes: bool = False, threads: int = 0
) -> dict:
    """`measure` in a fresh interpreter; {"variant", "error"} when it fails."""
    args = [variant, str(size), str(spp), str(scenes), str(int(lobes)), str(threads)]
    p = subprocess.run([sys.executable, "-c", _CHILD, *args], capture_output=True, text=True)
    if p.returncode != 0:
        return {"variant": variant, "error": p.stderr.strip().splitlines()[-1:] or ["failed"]}
    return json.loads(p.stdout.strip().splitlines()[-1])


def llvm_over_scalar(results: list[dict]) -> float | None:
    ok = {r["variant"]: r for r in results if "samples_per_second" in r}
    if "llvm_ad_rgb" in ok and "scalar_rgb" in ok:
        return ok["llvm_ad_rgb"]["samples_per_second"] / ok["scalar_rgb"]["samples_per_second"]
    return None


def run(
    size: int, spp: int, scenes: int, variants: list[str], out: str | Path, lobes: bool = False, threads: int = 0
) -> dict:
    """Measure every variant in its own subprocess; writes render.json into `out`."""
    results = [measure_in_subprocess(v, size, spp, scenes, lobes, threads) for v in variants]
    ratio = llvm_over_scalar(results)
    result = {"results": results, "llvm_over_scalar": ratio, "cpus": os.cpu_count()}
    write_json(Path(out) / "render.json", result)
    for r in results:
        if "samples_per_second" in r:
            print(
                f"{r['variant']:<12} {r['samples_per_second'] / 1e6:7.2f} Msamples/s  "
                f"(first render {r['first_seconds']:.2f} s)"
                + (f"; lobes / path {r['lobes_over_path']:.2f}×" if "lobes_over_path" in r else "")
            )
        else:
            print(f"{r['variant']:<12} failed: {r['error']}")
    if ratio:
        print(f"llvm / scalar: {ratio:.2f}×")
    return result
