"""Inference: the `Denoiser` Python API (pyoidn's conventions) and `neurecon denoise`.

    den = neurecon.Denoiser.load()            # shipped default, or a name / .pt path
    out = den.denoise(color, albedo=alb, normal=nrm, variance=var)   # H×W×3 float32 arrays

The model's source-aware encoders decide which buffers are needed: the richest source whose
buffers were all given is used (e.g. `mitsuba` with variances, `oidn` with colour+albedo+normal).
Inputs are sanitised (NaN/Inf → 0, negative radiance → 0; see `Buffers.sanitize`) and the
counts are kept in `last_sanitize_report`. Frames larger than the memory budget are denoised in
tiles that overlap by the receptive radius, so tiled and untiled results agree to float rounding.
"""
from __future__ import annotations

import math
import time
from pathlib import Path

import numpy as np
import torch

from .buffers import BufferError, Buffers
from .models import load_model


def _bytes_per_pixel(model) -> int:
    """Peak activation memory of one inference pixel (float32): kernel logits + weights
    (2·k²), a handful of feature maps, inputs and output."""
    c = model.config
    k2 = c.kernel ** 2 if c.head == "kernel" else 0
    return 4 * (2 * k2 + 6 * c.width + 40)


class Denoiser:
    def __init__(self, model, checkpoint: dict | None = None, maxmem_mb: int = 2048, threads: int | None = None):
        self.model = model.eval()
        self.card = (checkpoint or {}).get("card", {})
        self.maxmem_mb = maxmem_mb
        self.last_sanitize_report = None
        self.last_seconds = 0.0
        if threads:
            torch.set_num_threads(threads)

    @classmethod
    def load(cls, name_or_path: str | Path | None = None, **kw) -> "Denoiser":
        model, ck = load_model(name_or_path)
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
    def denoise(self, color, albedo=None, normal=None, variance=None, source: str | None = None) -> np.ndarray:
        """Denoise H×W×3 float32 linear HDR colour; auxiliary buffers are H×W×3 too."""
        buf = Buffers(color=color, albedo=albedo, normal=normal, color_var=variance)
        return self.denoise_buffers(buf, source)

    def denoise_buffers(self, buf: Buffers, source: str | None = None) -> np.ndarray:
        buf = buf.copy()
        self.last_sanitize_report = buf.sanitize()
        source = source or self.pick_source(buf.names())
        needed = sorted(set(self.model.config.sources[source]) | {"color"}
                        | ({"albedo"} if self.model.config.demodulate else set()))
        buf.require(needed)
        inputs = {n: buf.to_tensor([n]) for n in needed}
        t = time.perf_counter()
        out = self.run_tiled(inputs, source)
        self.last_seconds = time.perf_counter() - t
        return out[0].permute(1, 2, 0).numpy()

    @torch.no_grad()
    def run_tiled(self, inputs: dict[str, torch.Tensor], source: str, tile: int | None = None) -> torch.Tensor:
        """Run the model on overlapping tiles whose core regions cover the frame exactly."""
        H, W = inputs["color"].shape[2:]
        r = self.model.receptive_radius()
        if tile is None:
            budget = self.maxmem_mb * 2 ** 20 // _bytes_per_pixel(self.model)
            tile = max(64, int(math.sqrt(budget)) - 2 * r)
        if H <= tile and W <= tile:
            return self.model(inputs, source)
        out = torch.zeros(1, 3, H, W)
        for y0 in range(0, H, tile):
            for x0 in range(0, W, tile):
                y1, x1 = min(H, y0 + tile), min(W, x0 + tile)
                ya, xa = max(0, y0 - r), max(0, x0 - r)
                yb, xb = min(H, y1 + r), min(W, x1 + r)
                part = self.model({k: v[..., ya:yb, xa:xb] for k, v in inputs.items()}, source)
                out[..., y0:y1, x0:x1] = part[..., y0 - ya:y1 - ya, x0 - xa:x1 - xa]
        return out


def denoise_cli(a) -> int:
    from .io import read_buffers, read_image, write_image

    if a.input and a.hdr:
        raise ValueError("give either a multi-layer EXR or --hdr (with --alb/--nrm/--var), not both")
    if a.input:
        buf = read_buffers(a.input)
    elif a.hdr:
        buf = Buffers(color=read_image(a.hdr))
        for flag, plane in (("alb", "albedo"), ("nrm", "normal"), ("var", "color_var")):
            path = getattr(a, flag)
            if path:
                buf[plane] = read_image(path)
    else:
        raise ValueError("nothing to denoise: give a multi-layer EXR or --hdr color.exr")
    den = Denoiser.load(a.model, maxmem_mb=a.maxmem)
    out = den.denoise_buffers(buf)
    write_image(a.output, out)
    rep = den.last_sanitize_report
    h, w = buf.shape
    print(f"denoised {w}×{h} in {den.last_seconds:.2f} s -> {a.output}"
          + ("" if not rep.total else f" (sanitised input: {rep})"))
    return 0
