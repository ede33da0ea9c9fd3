"""The `Denoiser` Python API (pyoidn's conventions) and the interactive λ session.

    den = neurecon.Denoiser.load()            # shipped default, or a name / .pt path
    out = den.denoise(color, albedo=alb, normal=nrm, variance=var)   # H×W×3 float32 arrays

The model's source-aware encoders decide which buffers are needed: the richest source whose
buffers were all given is used (e.g. `mitsuba` with variances, `oidn` with colour+albedo+normal).
Inputs are sanitised (NaN/Inf → 0, |x| > 1e15 clamped, negative radiance → 0; see
`Buffers.sanitize`) and the counts are kept in `last_sanitize_report`; the output is finite and
within ±1e15 (`buffers.VALUE_MAX`). Integer arrays (8-bit images) are refused: the API takes
linear float radiance. Frames larger than the memory budget are denoised in
tiles that overlap by the receptive radius, so tiled and untiled results agree to float rounding.
"""

from __future__ import annotations

import math
import time
from pathlib import Path

import numpy as np
import torch

from ..buffers import VALUE_MAX, BufferError, Buffers, SanitizeReport
from ..models import load_model
from ..nn import precision as prec
from ..nn.specialiser import LAMBDA_MAX
from .tiler import tile_apply


def _bytes_per_pixel(model) -> int:
    """Peak activation memory of one inference pixel (float32): kernel logits + weights
    (2·k²), a handful of feature maps, inputs and output."""
    c = model.config
    k2 = c.kernel**2 if c.head == "kernel" else 0
    width = getattr(c, "width", None) or 2 * c.widths[0] + c.widths[1]
    return 4 * (2 * k2 + 6 * width + 40)


class Denoiser:
    def __init__(
        self,
        model,
        checkpoint: dict | None = None,
        maxmem_mb: int = 2048,
        threads: int | None = None,
        channels_last: bool = True,
        precision: str = "auto",
    ):
        # channels-last lets oneDNN skip its layout reorders around every conv (bench/inference.py)
        self.model = model.eval().to(memory_format=torch.channels_last if channels_last else torch.contiguous_format)
        # 'auto': the conv trunk in bf16 where the CPU has native bf16 (nn/precision.py), else fp32
        self.precision = prec.resolve(precision)
        self.card = (checkpoint or {}).get("card", {})
        self.maxmem_mb = maxmem_mb
        self.last_sanitize_report: SanitizeReport | None = None
        self.last_seconds = 0.0
        if threads:
            torch.set_num_threads(threads)

    @classmethod
    def load(cls, name_or_path: str | Path | None = None, **kw) -> Denoiser:
        model, ck = load_model(name_or_path)
        if getattr(getattr(model, "config", None), "sources", None) is None:
            what = (ck.get("card") or {}).get("task") or ck["spec"].get("arch", "unknown")
            hint = "; super-resolve with `neurecon upscale`" if hasattr(model, "scale") else ""
            raise ValueError(f"model '{name_or_path}' is not a denoiser (its task: {what}){hint}")
        return cls(model, ck, **kw)

    # source selection -------------------------------------------------------------------
    def pick_source(self, available) -> str:
        sources = self.model.config.sources
        usable = [s for s, bufs in sources.items() if all(b in available for b in bufs)]
        if not usable:
            need = " or ".join("{" + ", ".join(b) + "}" for b in sources.values())
            raise BufferError(f"this model needs {need}; got {', '.join(sorted(available)) or 'nothing'}")
        return max(usable, key=lambda s: len(sources[s]))

    # API ----------------------------------------------------------------------------------
    @property
    def has_lambda(self) -> bool:
        return hasattr(self.model, "tail")

    def denoise(
        self, color, albedo=None, normal=None, variance=None, source: str | None = None, lam=None
    ) -> np.ndarray:
        """Denoise H×W×3 float32 linear HDR colour; auxiliary buffers are H×W×3 too. Integer
        arrays are refused (an 8-bit image is not linear radiance: decode it first, e.g.
        ``neurecon.io.srgb_decode(x / 255)``). `lam` (1 ≤ λ ≤ 10, float or H×W map) trades bias
        for variance on models trained for it."""
        given = {"color": color, "albedo": albedo, "normal": normal, "variance": variance}
        for name, value in given.items():
            kind = np.asarray(value).dtype.kind if value is not None else "f"
            if kind in "biu":
                raise BufferError(
                    f"{name} is a {np.asarray(value).dtype} array: the denoiser takes linear float radiance; "
                    "convert it first (an 8-bit sRGB image: neurecon.io.srgb_decode(x / 255))"
                )
        buf = Buffers(color=color, albedo=albedo, normal=normal, color_var=variance)
        return self.denoise_buffers(buf, source, lam)

    def prepare(self, buf: Buffers, source: str | None = None) -> tuple[dict[str, torch.Tensor], str]:
        """Sanitised input tensors for the chosen source (the report lands in last_sanitize_report)."""
        h, w = buf.shape
        if h == 0 or w == 0:
            raise BufferError(f"the frame is empty ({w}×{h} pixels)")
        buf = buf.copy()
        self.last_sanitize_report = buf.sanitize()
        source = source or self.pick_source(buf.names())
        needed = sorted(
            set(self.model.config.sources[source])
            | {"color"}
            | ({"albedo"} if self.model.config.uses_albedo else set())
        )
        buf.require(needed)
        return {n: buf.to_tensor([n]) for n in needed}, source

    def lambda_map(self, lam, shape: tuple[int, int]) -> torch.Tensor:
        """Validate λ (scalar or H×W) and return it as a 1×1×H×W tensor.

        λ outside [1, LAMBDA_MAX = 10], the range the λ models were trained for, is refused (not
        clamped): beyond it the specialiser extrapolates, and a clamped map would silently not be
        the one asked for. NaN/Inf in a map are refused and counted."""
        if not self.has_lambda:
            raise ValueError("this model has no λ control; load a model trained with configs/denoise_lambda.yaml")
        arr = np.asarray(lam, np.float32)
        if arr.ndim == 3 and arr.shape[2] in (1, 3):
            arr = arr.mean(2)
        if arr.ndim == 0:
            arr = np.full(shape, float(arr), np.float32)
        if arr.shape != tuple(shape):
            raise ValueError(
                f"λ map is {arr.shape[1] if arr.ndim > 1 else '?'}×{arr.shape[0]} "
                f"but the frame is {shape[1]}×{shape[0]}"
            )
        bad = int((~np.isfinite(arr)).sum())
        if bad:
            raise ValueError(f"λ map has {bad} NaN/Inf value{'s' if bad > 1 else ''}; λ must be a number ≥ 1 and ≤ 10")
        lo, hi = float(arr.min()), float(arr.max())
        if lo < 1 or hi > LAMBDA_MAX * (1 + 1e-6):
            raise ValueError(
                f"λ must be ≥ 1 and ≤ {LAMBDA_MAX:g} everywhere (1 = symmetric loss; the λ models were trained for "
                f"1–{LAMBDA_MAX:g}: values outside are refused, not clamped); got min {lo:.3g}, max {hi:.3g}"
            )
        return torch.from_numpy(np.ascontiguousarray(arr))[None, None]

    def denoise_buffers(self, buf: Buffers, source: str | None = None, lam=None) -> np.ndarray:
        inputs, source = self.prepare(buf, source)
        if lam is not None or self.has_lambda:
            inputs["lambda"] = self.lambda_map(1.0 if lam is None else lam, buf.shape)
        t = time.perf_counter()
        out = self.run_tiled(inputs, source).clamp_(-VALUE_MAX, VALUE_MAX)  # a no-op on any valid frame
        self.last_seconds = time.perf_counter() - t
        return out[0].permute(1, 2, 0).numpy()

    def session(self, buf: Buffers, source: str | None = None) -> LambdaSession:
        """Interactive λ: features computed once, each λ re-runs only the specialiser tail."""
        return LambdaSession(self, buf, source)

    def _forward(self, inputs: dict[str, torch.Tensor], source: str) -> torch.Tensor:
        lam = inputs.get("lambda")
        with prec.trunk(self.precision):
            return self.model(inputs, source) if lam is None else self.model(inputs, source, lam=lam)

    @torch.no_grad()
    def run_tiled(self, inputs: dict[str, torch.Tensor], source: str, tile: int | None = None) -> torch.Tensor:
        """Run the model on overlapping tiles whose core regions cover the frame exactly."""
        r = self.model.receptive_radius()
        if tile is None:
            budget = self.maxmem_mb * 2**20 // _bytes_per_pixel(self.model)
            tile = max(64, int(math.sqrt(budget)) - 2 * r)
        return tile_apply(
            lambda part: self._forward(part, source), inputs, tile, r, stride=getattr(self.model, "stride", 1)
        )


def _cached_bytes_per_pixel(model, inputs: dict[str, torch.Tensor], source: str, precision: str) -> float:
    """What a λ session keeps per pixel (inputs, features, the specialisers' λ-free part), measured
    on a 64² corner of the frame."""
    probe = {k: v[..., :64, :64] for k, v in inputs.items()}
    with torch.no_grad(), prec.trunk(precision):
        feats = model.features(probe, source)
        kept = [*probe.values(), *feats, *model.lambda_free(feats)]
    return sum(t.numel() * t.element_size() for t in kept) / (probe["color"].shape[-2] * probe["color"].shape[-1])


class LambdaSession:
    """A frame whose λ-independent features are cached (whole frame, untiled: a frame whose cache
    and tail would exceed the denoiser's memory budget is refused up front)."""

    def __init__(self, den: Denoiser, buf: Buffers, source: str | None = None):
        if not den.has_lambda:
            raise ValueError("this model has no λ control; load a model trained with configs/denoise_lambda.yaml")
        self.den, self.shape = den, buf.shape
        self.inputs, self.source = den.prepare(buf, source)
        h, w = buf.shape
        # the tail's transient activations are of the cache's sizes: peak RSS of a 1024² session and
        # one λ on the shipped `lambda` model was 1.0 KB/px with 0.46 KB/px cached (fp32)
        need_mb = h * w * 2.2 * _cached_bytes_per_pixel(den.model, self.inputs, self.source, den.precision) / 2**20
        if need_mb > den.maxmem_mb:
            raise ValueError(
                f"an interactive λ session on this {w}×{h} frame needs about {need_mb:.0f} MB, over the "
                f"{den.maxmem_mb} MB budget: raise --maxmem (maxmem_mb), or denoise at a fixed λ "
                f"(neurecon denoise --lambda), which tiles"
            )
        t = time.perf_counter()
        with torch.no_grad(), prec.trunk(den.precision):
            self.features = den.model.features(self.inputs, self.source)
            self.lambda_free = den.model.lambda_free(self.features)
        self.feature_seconds = time.perf_counter() - t
        self.last_seconds = 0.0

    @torch.no_grad()
    def denoise(self, lam=1.0) -> np.ndarray:
        t = time.perf_counter()
        with prec.trunk(self.den.precision):
            out = self.den.model.tail(
                self.features, self.inputs, self.den.lambda_map(lam, self.shape), self.lambda_free
            ).clamp_(-VALUE_MAX, VALUE_MAX)
        self.last_seconds = time.perf_counter() - t
        return out[0].permute(1, 2, 0).numpy()
