"""Image-quality metrics. Inputs are N×C×H×W tensors or H×W×C numpy arrays.

HDR metrics (relMSE, SMAPE) work on linear radiance. Perceptual ones (SSIM/DSSIM, PSNR) work on
display values: :func:`tonemap` = Reinhard x/(1+x) then sRGB encoding, the same transform for
every method so that comparisons are fair. SSIM is Wang et al. 2004 (11×11 Gaussian, σ = 1.5,
K1 = 0.01, K2 = 0.03, valid region only), computed in float64.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

RELMSE_EPS = 1e-2


def as_tensor(x) -> torch.Tensor:
    """An H×W×C (or H×W) array as a 1×C×H×W float64 tensor; tensors pass through as float64."""
    if isinstance(x, np.ndarray):
        x = torch.from_numpy(np.ascontiguousarray(x))
        if x.ndim == 2:
            x = x[..., None]
        x = x.permute(2, 0, 1)[None]
    return x.double()


def relmse(d, r, eps: float = RELMSE_EPS) -> float:
    d, r = as_tensor(d), as_tensor(r)
    return float(((d - r) ** 2 / (r**2 + eps)).mean())


def smape(d, r, eps: float = 1e-2) -> float:
    d, r = as_tensor(d), as_tensor(r)
    return float(((d - r).abs() / (d.abs() + r.abs() + eps)).mean())


def mse(d, r) -> float:
    return float(((as_tensor(d) - as_tensor(r)) ** 2).mean())


def tonemap(x: torch.Tensor) -> torch.Tensor:
    x = x.clamp_min(0)
    x = x / (1 + x)
    return torch.where(x <= 0.0031308, 12.92 * x, 1.055 * x.clamp_min(1e-12) ** (1 / 2.4) - 0.055)


def tonemapped(img) -> torch.Tensor:
    """A linear HDR image (array or tensor) as the 1×C×H×W tensor the tonemapped metrics see."""
    return tonemap(as_tensor(img))


def _gaussian(size: int = 11, sigma: float = 1.5) -> torch.Tensor:
    g = torch.exp(-((torch.arange(size, dtype=torch.float64) - size // 2) ** 2) / (2 * sigma**2))
    return g / g.sum()


def ssim_map(
    a: torch.Tensor, b: torch.Tensor, data_range: float = 1.0, size: int = 11, sigma: float = 1.5
) -> torch.Tensor:
    """Per-pixel SSIM of two N×C×H×W tensors over the valid region (no padding); differentiable,
    so the training loss and the reported metric are the same formula."""
    C = a.shape[1]
    g = _gaussian(size, sigma).to(a.dtype)
    w = (g[:, None] * g[None, :]).expand(C, 1, size, size).contiguous()

    def filt(x):
        return F.conv2d(x, w, groups=C)

    c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2
    mu_a, mu_b = filt(a), filt(b)
    s_aa = filt(a * a) - mu_a**2
    s_bb = filt(b * b) - mu_b**2
    s_ab = filt(a * b) - mu_a * mu_b
    return ((2 * mu_a * mu_b + c1) * (2 * s_ab + c2)) / ((mu_a**2 + mu_b**2 + c1) * (s_aa + s_bb + c2))


def ssim(a, b, data_range: float = 1.0, size: int = 11, sigma: float = 1.5) -> float:
    """Mean SSIM over channels and the valid region (no padding), float64."""
    return float(ssim_map(as_tensor(a), as_tensor(b), data_range, size, sigma).mean())


def dssim(d, r) -> float:
    """(1 − SSIM) / 2 of the tonemapped images."""
    return (1 - ssim(tonemapped(d), tonemapped(r))) / 2


def psnr(d, r, data_range: float = 1.0) -> float:
    m = mse(d, r)
    return float("inf") if m == 0 else 10 * float(np.log10(data_range**2 / m))


def denoise_metrics(d, r) -> dict[str, float]:
    """The denoising report's metrics: relMSE, SMAPE (linear HDR) and DSSIM (tonemapped)."""
    return {"relmse": relmse(d, r), "smape": smape(d, r), "dssim": dssim(d, r)}
