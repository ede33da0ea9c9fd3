"""Whole-image SR inference with overlapping tiles that reproduce the untiled result.

Each tile is run with ``halo`` LR pixels of real context on every side that has neighbours
(zero padding where the image ends, exactly as in the untiled pass) and only its core is kept.
For convolution-only networks (EDSR) a halo of one pixel per 3×3 conv makes tiled == untiled
up to float rounding; RCAN's channel attention pools over the tile, so its tiles are approximate
(use ``tile=0`` for exact RCAN output).
"""
from __future__ import annotations

import numpy as np
import torch
from torch import nn


def model_scale(model: nn.Module) -> int:
    s = getattr(model, "scale", None)
    if s is None:
        raise ValueError("not an SR model (no .scale)")
    return int(s)


def model_halo(model: nn.Module) -> int:
    if hasattr(model, "halo"):
        return int(model.halo())
    # generic fallback: one pixel per conv, times its half-width
    return sum(max(m.kernel_size) // 2 * m.dilation[0] for m in model.modules() if isinstance(m, nn.Conv2d))


@torch.no_grad()
def upscale_tensor(model: nn.Module, x: torch.Tensor, tile: int = 0, halo: int | None = None) -> torch.Tensor:
    """N×C×H×W in → N×C×sH×sW out (not clamped). ``tile`` = LR core size, 0 = one pass."""
    s = model_scale(model)
    n, c, h, w = x.shape
    if tile <= 0 or (h <= tile and w <= tile):
        return model(x)
    halo = model_halo(model) if halo is None else halo
    out = None
    for y0 in range(0, h, tile):
        for x0 in range(0, w, tile):
            y1, x1 = min(y0 + tile, h), min(x0 + tile, w)
            ya, yb, xa, xb = max(0, y0 - halo), min(h, y1 + halo), max(0, x0 - halo), min(w, x1 + halo)
            o = model(x[:, :, ya:yb, xa:xb])
            if out is None:
                out = o.new_zeros(n, o.shape[1], h * s, w * s)
            out[:, :, y0 * s:y1 * s, x0 * s:x1 * s] = o[:, :, (y0 - ya) * s:(y1 - ya) * s, (x0 - xa) * s:(x1 - xa) * s]
    return out


def upscale_array(model: nn.Module, img: np.ndarray, tile: int = 0) -> np.ndarray:
    """H×W×3 float in [0, 1] → sH×sW×3 float32, clamped to [0, 1]."""
    x = torch.from_numpy(np.ascontiguousarray(img, dtype=np.float32)).permute(2, 0, 1)[None]
    y = upscale_tensor(model, x, tile).clamp(0, 1)
    return y[0].permute(1, 2, 0).numpy()
