"""Super-resolution metrics with BasicSR's conventions (``calculate_psnr/ssim``, ``test_y_channel``).

* Images are sRGB values in [0, 1] (H×W×3 numpy or N×3×H×W tensors).
* ``quantize=True`` (default) rounds the SR output to 8 bits first, as BasicSR does when it turns
  the network output into a uint8 image (``tensor2img``) before measuring.
* Y channel of ITU-R BT.601 with MATLAB's ``rgb2ycbcr`` coefficients:
  ``Y = (16 + 65.481·R + 128.553·G + 24.966·B) / 255`` (R, G, B in [0, 1]; Y in [16, 235]/255).
  One-channel images are used as they are.
* ``crop_border`` pixels are removed on each side (the convention: crop = scale).
* float64 throughout; PSNR with peak 1 (identical to BasicSR's peak 255 on ×255 values) and SSIM
  from :func:`neurecon.metrics.ssim` (Gaussian 11×11, σ = 1.5, K1 = 0.01, K2 = 0.03, valid region —
  the same as BasicSR's ``_ssim`` on 0–255 values with C1 = (0.01·255)², C2 = (0.03·255)²).
"""

from __future__ import annotations

import numpy as np
import torch

from ... import metrics as _m

Y_COEFFS = (65.481, 128.553, 24.966)  # MATLAB rgb2ycbcr (BT.601, studio swing) for R, G, B
Y_OFFSET = 16.0


def to_hwc64(img) -> np.ndarray:
    if isinstance(img, torch.Tensor):
        t = img.detach().cpu().double()
        if t.ndim == 4:
            if t.shape[0] != 1:
                raise ValueError("metrics take one image at a time (N = 1)")
            t = t[0]
        return t.permute(1, 2, 0).numpy()
    a = np.asarray(img, dtype=np.float64)
    return a[..., None] if a.ndim == 2 else a


def rgb_to_y(img: np.ndarray) -> np.ndarray:
    """H×W×3 RGB in [0, 1] → H×W×1 Y in [16/255, 235/255] (float64)."""
    a = np.asarray(img, dtype=np.float64)
    if a.shape[-1] != 3:
        raise ValueError(f"rgb_to_y needs 3 channels, got shape {a.shape}")
    y = (Y_OFFSET + a @ np.array(Y_COEFFS)) / 255.0
    return y[..., None]


def quantize8(a: np.ndarray) -> np.ndarray:
    return np.round(np.clip(a, 0.0, 1.0) * 255.0) / 255.0


def _prepare(sr, hr, crop_border: int, y_channel: bool, quantize: bool) -> tuple[np.ndarray, np.ndarray]:
    a, b = to_hwc64(sr), to_hwc64(hr)
    if a.shape != b.shape:
        raise ValueError(f"SR and HR shapes differ: {a.shape} vs {b.shape}")
    if quantize:
        a, b = quantize8(a), quantize8(b)
    if y_channel and a.shape[-1] == 3:
        a, b = rgb_to_y(a), rgb_to_y(b)
    if crop_border:
        a = a[crop_border:-crop_border, crop_border:-crop_border]
        b = b[crop_border:-crop_border, crop_border:-crop_border]
    return a, b


def psnr_y(sr, hr, crop_border: int = 0, y_channel: bool = True, quantize: bool = True) -> float:
    a, b = _prepare(sr, hr, crop_border, y_channel, quantize)
    return _m.psnr(a, b, data_range=1.0)


def ssim_y(sr, hr, crop_border: int = 0, y_channel: bool = True, quantize: bool = True) -> float:
    a, b = _prepare(sr, hr, crop_border, y_channel, quantize)
    return _m.ssim(a, b, data_range=1.0)


def sr_metrics(sr, hr, scale: int, quantize: bool = True) -> dict[str, float]:
    """PSNR-Y and SSIM-Y with the border crop = scale."""
    return {"psnr_y": psnr_y(sr, hr, scale, quantize=quantize), "ssim_y": ssim_y(sr, hr, scale, quantize=quantize)}
