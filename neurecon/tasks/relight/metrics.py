"""Relighting metrics on the subject (masked), on display values.

Images are the folder's exposure-normalised linear radiance (:func:`.data.exposure_scale`); the
display transform is neurecon's (:func:`neurecon.metrics.tonemap`: Reinhard x/(1+x), sRGB), the
same for every method.

* ``psnr``: 10·log10(1 / MSE) over subject pixels (mask-weighted) and channels.
* ``ssim``: the SSIM map (11×11 Gaussian, valid region) averaged with the mask as weights.
* ``highlight_mae``: mean absolute display error over the *highlights*: the brightest 2 % of the
  subject's pixels in the reference, together with the brightest 2 % under the nearest captured
  light — where a blend shows a highlight twice or in the wrong place.
* ``shadow_mae``: mean absolute display error where the *hard shadows moved*: subject pixels
  that are in shadow (luminance below 10 % of the 90th percentile of the subject's luminance) in
  the reference but not under the nearest captured light, or the reverse, dilated by one pixel
  (the penumbra). NaN when no shadow moved (a case then counts in no shadow average).

Lower is better for the two MAEs; they are in display units ([0, 1]).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from ...metrics import ssim_map, tonemap

LUMA = torch.tensor([0.2126, 0.7152, 0.0722], dtype=torch.float64)
HIGHLIGHT_FRACTION = 0.02
SHADOW_RELATIVE = 0.1


def _t(x) -> torch.Tensor:
    """H×W×3 array or 3×H×W / 1×3×H×W tensor → 1×3×H×W float64."""
    if isinstance(x, np.ndarray):
        x = torch.from_numpy(np.ascontiguousarray(x))
        if x.ndim == 3 and x.shape[-1] == 3:
            x = x.permute(2, 0, 1)
    x = x.double()
    return x[None] if x.ndim == 3 else x


def _m(mask) -> torch.Tensor:
    m = torch.as_tensor(np.ascontiguousarray(mask) if isinstance(mask, np.ndarray) else mask).double()
    while m.ndim < 4:
        m = m[None]
    return m


def luminance(x: torch.Tensor) -> torch.Tensor:
    return (x * LUMA.to(x.dtype)[None, :, None, None]).sum(1, keepdim=True)


def highlight_region(ref: torch.Tensor, nearest_img: torch.Tensor | None, mask: torch.Tensor) -> torch.Tensor:
    inside = mask > 0.5

    def top(x):
        lum = luminance(x)
        vals = lum[inside]
        if vals.numel() == 0:
            return torch.zeros_like(inside)
        thr = torch.quantile(vals, 1 - HIGHLIGHT_FRACTION)
        return (lum >= thr) & inside & (lum > 0)

    r = top(ref)
    return r | top(nearest_img) if nearest_img is not None else r


def shadow_region(ref: torch.Tensor, nearest_img: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    inside = mask > 0.5

    def dark(x):
        lum = luminance(x)
        vals = lum[inside]
        if vals.numel() == 0:
            return torch.zeros_like(inside)
        return lum < SHADOW_RELATIVE * torch.quantile(vals, 0.9)

    moved = (dark(ref) ^ dark(nearest_img)) & inside
    return (F.max_pool2d(moved.double(), 3, 1, 1) > 0) & inside


def relight_metrics(pred, ref, mask, nearest_img=None) -> dict[str, float]:
    """Masked PSNR / SSIM and the highlight and moved-shadow errors of one prediction (linear,
    exposure-normalised; arrays H×W×3 or tensors). `nearest_img` is the image under the nearest
    captured light (defines where highlights and shadows moved; without it the shadow error is NaN)."""
    p, r, m = _t(pred), _t(ref), _m(mask)
    dp, dr = tonemap(p), tonemap(r)
    w = m.expand_as(dp)
    mse = float(((dp - dr) ** 2 * w).sum() / w.sum().clamp_min(1e-12))
    psnr = 10 * np.log10(1.0 / max(mse, 1e-12))
    smap = ssim_map(dp, dr)
    c = (m.shape[-1] - smap.shape[-1]) // 2
    ms = m[..., c : m.shape[-2] - c, c : m.shape[-1] - c].expand_as(smap)
    ssim = float((smap * ms).sum() / ms.sum().clamp_min(1e-12))
    err = (dp - dr).abs().mean(1, keepdim=True)
    n = _t(nearest_img) if nearest_img is not None else None
    hl = highlight_region(r, n, m)
    out = {
        "psnr": float(psnr),
        "ssim": ssim,
        "highlight_mae": float(err[hl].mean()) if hl.any() else float("nan"),
        "shadow_mae": float("nan"),
    }
    if n is not None:
        sh = shadow_region(r, n, m)
        out["shadow_mae"] = float(err[sh].mean()) if sh.any() else float("nan")
    return out


def mean_metrics(rows: list[dict[str, float]]) -> dict[str, float]:
    """Means over cases (NaN-skipping: cases without moved shadows do not count in shadow_mae)."""
    keys = rows[0].keys() if rows else []
    out = {}
    for k in keys:
        v = np.array([r[k] for r in rows], np.float64)
        out[k] = float(np.nanmean(v)) if np.isfinite(v).any() else float("nan")
    out["cases"] = len(rows)
    out["shadow_cases"] = int(sum(np.isfinite(r.get("shadow_mae", np.nan)) for r in rows))
    return out
