"""MATLAB-compatible ``imresize`` (bicubic, antialiased), the degradation every SR benchmark uses.

Definition (MATLAB ``imresize`` / BasicSR ``matlab_functions.imresize``):

* kernel: Keys' cubic convolution with a = −0.5,
  ``h(x) = 1.5|x|³ − 2.5|x|² + 1`` for |x| ≤ 1, ``−0.5|x|³ + 2.5|x|² − 4|x| + 2`` for 1 < |x| ≤ 2;
* downsampling (scale < 1) with ``antialias=True`` widens the kernel by 1/scale:
  ``h_s(x) = scale · h(scale · x)`` with support 4/scale;
* output pixel i (1-based) sits at input coordinate ``u = i/scale + 0.5·(1 − 1/scale)``; it takes
  the ``ceil(width) + 2`` input pixels from ``floor(u − width/2)`` on, weights ``h_s(u − j)``
  normalised to sum to one;
* out-of-range indices are mirrored with MATLAB's 'symmetric' rule (the edge pixel repeats,
  periodic with period 2n, so tiny inputs work too);
* output length ``ceil(in · scale)`` (a 1e-9 tolerance absorbs float error such as 300·(1/3));
* the image is resized along H, then along W (separable, so the order only changes rounding).

It is vectorised: one weight/index table per axis and a loop over the few (≤ 4/scale + 3) taps,
never over pixels. Works on numpy arrays (H×W or H×W×C; computed in float64, returned in the input
float dtype, uint8 in → rounded uint8 out like MATLAB) and on torch tensors (…×H×W, computed in
the tensor's dtype, differentiable).
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
import torch


def cubic(x):
    """Keys' cubic kernel with a = −0.5 (numpy or torch)."""
    ax = abs(x)
    ax2, ax3 = ax * ax, ax * ax * ax
    inner = (1.5 * ax3 - 2.5 * ax2 + 1) * (ax <= 1)
    outer = (-0.5 * ax3 + 2.5 * ax2 - 4 * ax + 2) * ((ax > 1) & (ax <= 2))
    return inner + outer


def output_length(in_length: int, scale: float) -> int:
    return max(1, math.ceil(in_length * scale - 1e-9))


@lru_cache(maxsize=256)
def contributions(
    in_length: int, out_length: int, scale: float, antialias: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """Weights (out×P, float64, rows sum to 1) and 0-based input indices (out×P, already mirrored)."""
    width = 4.0
    shrink = scale < 1 and antialias
    if shrink:
        width = width / scale
    x = np.arange(1, out_length + 1, dtype=np.float64)
    u = x / scale + 0.5 * (1 - 1 / scale)
    left = np.floor(u - width / 2)
    taps = int(math.ceil(width)) + 2
    idx = left[:, None] + np.arange(taps, dtype=np.float64)[None, :]
    dist = u[:, None] - idx
    w = scale * cubic(dist * scale) if shrink else cubic(dist)
    w = w / w.sum(axis=1, keepdims=True)
    keep = np.any(w != 0, axis=0)  # like MATLAB, drop tap columns that are zero for every output
    w, idx = w[:, keep], idx[:, keep]
    idx = idx.astype(np.int64) - 1  # 0-based
    period = 2 * in_length
    m = np.mod(idx, period)
    idx = np.where(m < in_length, m, period - 1 - m)  # symmetric: ... b a | a b c | c b ...
    w.setflags(write=False)
    idx.setflags(write=False)
    return w, idx


def weight_matrix(in_length: int, out_length: int, scale: float, antialias: bool = True) -> np.ndarray:
    """Dense out×in resampling matrix (mirrored taps summed): ``out = M @ in`` along one axis."""
    w, idx = contributions(in_length, out_length, float(scale), antialias)
    m = np.zeros((out_length, in_length))
    np.add.at(m, (np.repeat(np.arange(out_length), w.shape[1]), idx.ravel()), w.ravel())
    return m


def _resize_axis_np(a: np.ndarray, axis: int, out_len: int, scale: float, antialias: bool) -> np.ndarray:
    w, idx = contributions(a.shape[axis], out_len, float(scale), antialias)
    shape = [1] * a.ndim
    shape[axis] = out_len
    out = np.zeros(a.shape[:axis] + (out_len,) + a.shape[axis + 1 :], dtype=np.float64)
    for p in range(w.shape[1]):
        out += w[:, p].reshape(shape) * np.take(a, idx[:, p], axis=axis)
    return out


def _resize_axis_torch(a: torch.Tensor, dim: int, out_len: int, scale: float, antialias: bool) -> torch.Tensor:
    w, idx = contributions(a.shape[dim], out_len, float(scale), antialias)
    shape = [1] * a.ndim
    shape[dim] = out_len
    wt = torch.tensor(w, dtype=a.dtype, device=a.device)
    it = torch.tensor(idx, device=a.device)
    out = None
    for p in range(w.shape[1]):
        term = wt[:, p].reshape(shape) * a.index_select(dim, it[:, p])
        out = term if out is None else out + term
    return out


def _scales(scale, output_shape, in_hw) -> tuple[tuple[float, float], tuple[int, int]]:
    if output_shape is not None:
        oh, ow = int(output_shape[0]), int(output_shape[1])
        if scale is None:
            return (oh / in_hw[0], ow / in_hw[1]), (oh, ow)
        sh, sw = (scale, scale) if np.isscalar(scale) else scale
        return (float(sh), float(sw)), (oh, ow)
    if scale is None:
        raise ValueError("imresize needs a scale or an output_shape")
    sh, sw = (scale, scale) if np.isscalar(scale) else scale
    if sh <= 0 or sw <= 0:
        raise ValueError(f"scale must be positive, got {scale}")
    return (float(sh), float(sw)), (output_length(in_hw[0], sh), output_length(in_hw[1], sw))


def imresize(
    img,
    scale: float | tuple[float, float] | None = None,
    output_shape: tuple[int, int] | None = None,
    antialias: bool = True,
):
    """Resize like MATLAB ``imresize(img, scale, 'bicubic')``.

    numpy: H×W or H×W×C (channels last). torch: …×H×W (channels first, any leading dims).
    ``scale`` < 1 shrinks (e.g. 0.5 or 1/3); ``output_shape`` = (H, W) overrides the size.
    """
    if isinstance(img, torch.Tensor):
        if img.ndim < 2:
            raise ValueError(f"imresize needs at least 2 dims, got shape {tuple(img.shape)}")
        x = img if img.is_floating_point() else img.float()
        (sh, sw), (oh, ow) = _scales(scale, output_shape, x.shape[-2:])
        x = _resize_axis_torch(x, x.ndim - 2, oh, sh, antialias)
        return _resize_axis_torch(x, x.ndim - 1, ow, sw, antialias)
    a = np.asarray(img)
    if a.ndim not in (2, 3):
        raise ValueError(f"imresize needs H×W or H×W×C, got shape {a.shape}")
    (sh, sw), (oh, ow) = _scales(scale, output_shape, a.shape[:2])
    out = _resize_axis_np(a.astype(np.float64), 0, oh, sh, antialias)
    out = _resize_axis_np(out, 1, ow, sw, antialias)
    if a.dtype == np.uint8:
        return np.clip(np.round(out), 0, 255).astype(np.uint8)
    if np.issubdtype(a.dtype, np.floating):
        return out.astype(a.dtype)
    return out


def bicubic_down(img, factor: int, antialias: bool = True):
    """The SR degradation: ``imresize(img, 1/factor)`` (HR is expected to be mod-cropped)."""
    return imresize(img, 1.0 / factor, antialias=antialias)


def modcrop(img: np.ndarray, factor: int) -> np.ndarray:
    """Crop H and W (channels last) down to multiples of ``factor``."""
    h, w = img.shape[0] - img.shape[0] % factor, img.shape[1] - img.shape[1] % factor
    return img[:h, :w]
