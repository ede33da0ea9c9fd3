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


def flip_available() -> bool:
    try:
        import flip_evaluator  # noqa: F401
    except ImportError:
        return False
    return True


def flip_hdr(test, ref) -> tuple[np.ndarray, float]:
    """HDR-FLIP (Andersson et al. 2021, the `flip-evaluator` package) of H×W×3 linear images: the
    magma error map (H×W×3, sRGB in [0, 1]) and the mean error."""
    import flip_evaluator

    r = np.ascontiguousarray(np.clip(np.nan_to_num(np.asarray(ref)), 0, None), np.float32)
    t = np.ascontiguousarray(np.clip(np.nan_to_num(np.asarray(test)), 0, None), np.float32)
    err_map, mean, _ = flip_evaluator.evaluate(r, t, "HDR")
    return np.asarray(err_map, np.float32), float(mean)


def flip(d, r) -> float:
    """Mean HDR-FLIP error of `d` against `r` (H×W×3 linear)."""
    return flip_hdr(d, r)[1]


def denoise_metrics(d, r, with_flip: bool = False) -> dict[str, float]:
    """The denoising report's metrics: relMSE, SMAPE (linear HDR), DSSIM (tonemapped) and, with
    `with_flip`, HDR-FLIP (H×W×3 arrays)."""
    out = {"relmse": relmse(d, r), "smape": smape(d, r), "dssim": dssim(d, r)}
    if with_flip:
        out["flip"] = flip(d, r)
    return out


ERROR_METRICS = ("smape", "relmse", "dssim")


def error_maps(d, r, metrics=ERROR_METRICS) -> dict[str, torch.Tensor]:
    """Per-pixel error maps (N×1×H×W, float64) whose frame means are the metrics above: SMAPE and
    relMSE averaged over channels; DSSIM = (1 − SSIM)/2 of the tonemapped images with SSIM's
    windows centred on every pixel (replicate padding, so the map covers the frame; its mean differs
    from :func:`dssim`'s valid-region mean only near the border)."""
    d, r = as_tensor(d), as_tensor(r)
    out = {}
    for m in metrics:
        if m == "smape":
            out[m] = ((d - r).abs() / (d.abs() + r.abs() + 1e-2)).mean(1, keepdim=True)
        elif m == "relmse":
            out[m] = ((d - r) ** 2 / (r**2 + RELMSE_EPS)).mean(1, keepdim=True)
        elif m == "dssim":
            pad = (5, 5, 5, 5)
            a, b = F.pad(tonemap(d), pad, mode="replicate"), F.pad(tonemap(r), pad, mode="replicate")
            out[m] = ((1 - ssim_map(a, b)) / 2).mean(1, keepdim=True)
        else:
            raise ValueError(f"unknown error metric '{m}'; known: {', '.join(ERROR_METRICS)}")
    return out


def spearman(a, b) -> float:
    """Spearman's rank correlation of two equally long samples: Pearson's of their ranks, ties
    sharing their average rank (as scipy.stats.spearmanr)."""
    a, b = np.asarray(a, np.float64).ravel(), np.asarray(b, np.float64).ravel()
    if a.size != b.size or a.size < 2:
        raise ValueError(f"spearman needs two samples of one length ≥ 2, got {a.size} and {b.size}")
    ra, rb = _average_ranks(a), _average_ranks(b)
    ra, rb = ra - ra.mean(), rb - rb.mean()
    den = float(np.sqrt((ra * ra).sum() * (rb * rb).sum()))
    return float((ra * rb).sum() / den) if den > 0 else float("nan")


def _average_ranks(x: np.ndarray) -> np.ndarray:
    _, inverse, counts = np.unique(x, return_inverse=True, return_counts=True)
    first = np.concatenate([[0], np.cumsum(counts)[:-1]])
    return (first + (counts - 1) / 2)[inverse]
