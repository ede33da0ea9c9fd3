"""Evaluating blind-SR models on whole images, and the actor–critic rewards.

* :func:`super_resolve`: a generator on one LR image with a given code (a modulated generator) or
  none (a plain SR network); :func:`estimate` the actor's code for one whole image.
* :func:`evaluate`: PSNR-Y / SSIM-Y (BasicSR conventions: 8-bit output, BT.601 Y, border = scale)
  of ``bicubic``, a plain model, or a modulated one driven by the true code (``"oracle"``), a
  fixed σ, or an actor; per pair and averaged per σ.
* :func:`rewards`: per-sample rewards of a batch, computed as the metrics are (8-bit quantised SR,
  Y channel, border = scale) — ``psnr`` or ``ssim`` against HR, or the no-reference ``niqe``
  (−NIQE of the output alone, :mod:`.niqe`); not differentiable, and need not be.
"""

from __future__ import annotations

import numpy as np
import torch

from ...infer.upscale import upscale_array
from ...metrics import ssim_map
from ...nn.blind_sr import WithCode
from ..sr.imresize import imresize
from ..sr.metrics import Y_COEFFS, Y_OFFSET, sr_metrics

REWARDS = ("psnr", "ssim", "niqe")  # niqe: no-reference, −NIQE of the output (HR unused)


def is_modulated(model) -> bool:
    return hasattr(model, "code_dim") and hasattr(model, "modulations")


@torch.no_grad()
def estimate(actor, lr: np.ndarray) -> list[float]:
    """The actor's code for one whole H×W×3 LR image."""
    x = torch.from_numpy(np.ascontiguousarray(lr, dtype=np.float32)).permute(2, 0, 1)[None]
    return [float(v) for v in actor(x)[0]]


@torch.no_grad()
def super_resolve(generator, lr: np.ndarray, code=None, tile: int = 0) -> np.ndarray:
    """sH×sW×3 in [0, 1]; ``code`` is required by a modulated generator and ignored by a plain one."""
    if is_modulated(generator):
        if code is None:
            raise ValueError("a modulated generator needs a degradation code (σ or the actor's estimate)")
        generator = WithCode(generator, list(np.atleast_1d(np.asarray(code, dtype=np.float64))))
    return upscale_array(generator, lr, tile=tile)


def code_for(pair, source, kind: str = "sigma") -> list[float] | None:
    """The code a row of the benchmark feeds: ``oracle`` (the true kernel's), a number (a fixed σ),
    an actor module (its estimate), or None (a plain model)."""
    if source is None:
        return None
    if isinstance(source, str):
        if source != "oracle":
            raise ValueError(f"unknown code source '{source}'")
        return pair.kernel.code(kind)
    if isinstance(source, (int, float)):
        return [float(source)]
    return estimate(source, pair.lr)


def evaluate(generator, pairs, scale: int, code_source=None, kind: str = "sigma", tile: int = 0, niqe=None) -> dict:
    """``{"rows": [{name, sigma, code, psnr_y, ssim_y}], "by_sigma": {σ: {psnr_y, ssim_y}},
    "psnr_y", "ssim_y"}`` (means over every pair); with a fitted ``niqe`` model, ``niqe`` too."""
    rows = []
    for p in pairs:
        if generator == "bicubic":
            sr, code = np.clip(imresize(p.lr.astype(np.float64), scale), 0, 1), None
        else:
            code = code_for(p, code_source, kind) if is_modulated(generator) else None
            sr = super_resolve(generator, p.lr, code, tile)
        m = sr_metrics(sr, p.hr, scale)
        if niqe is not None:
            m["niqe"] = niqe.score(np.round(np.clip(sr, 0, 1) * 255) / 255)
        rows.append({"name": p.name, "sigma": p.sigma, "code": code, **m})
    keys = ("psnr_y", "ssim_y") + (("niqe",) if niqe is not None else ())
    by_sigma: dict[str, dict[str, float]] = {}
    for s in sorted({r["sigma"] for r in rows}):
        sel = [r for r in rows if r["sigma"] == s]
        by_sigma[f"{s:g}"] = {k: float(np.mean([r[k] for r in sel])) for k in keys}
    return {"rows": rows, "by_sigma": by_sigma, **{k: float(np.mean([r[k] for r in rows])) for k in keys}}


def y_channel(x: torch.Tensor) -> torch.Tensor:
    """N×3×H×W RGB in [0, 1] → N×1×H×W BT.601 Y (MATLAB rgb2ycbcr), as :func:`..sr.metrics.rgb_to_y`."""
    c = torch.tensor(Y_COEFFS, dtype=x.dtype, device=x.device).view(1, 3, 1, 1)
    return (Y_OFFSET + (x * c).sum(1, keepdim=True)) / 255.0


@torch.no_grad()
def rewards(sr: torch.Tensor, hr: torch.Tensor | None, scale: int, kind: str = "psnr", niqe=None) -> torch.Tensor:
    """Per-sample rewards (N) of N×3×H×W batches, as the benchmark measures: SR rounded to 8 bits,
    Y channel, ``scale`` border pixels cropped; PSNR in dB or SSIM against HR, or −NIQE of the SR
    alone (``niqe``: a fitted :class:`.niqe.NIQE`)."""
    a = torch.round(sr.double().clamp(0, 1) * 255) / 255
    if kind == "niqe":
        if niqe is None:
            raise ValueError("the niqe reward needs a fitted NIQE model")
        imgs = a.permute(0, 2, 3, 1).numpy()
        return torch.tensor([-niqe.score(im) for im in imgs], dtype=torch.float32)
    assert hr is not None
    b = torch.round(hr.double().clamp(0, 1) * 255) / 255
    a, b = y_channel(a), y_channel(b)
    if scale:
        a, b = a[..., scale:-scale, scale:-scale], b[..., scale:-scale, scale:-scale]
    if kind == "psnr":
        mse = ((a - b) ** 2).mean((1, 2, 3)).clamp_min(1e-12)
        return (10 * torch.log10(1.0 / mse)).float()
    if kind == "ssim":
        return ssim_map(a, b).mean((1, 2, 3)).float()
    raise ValueError(f"unknown reward '{kind}'; choose {', '.join(REWARDS)}")
