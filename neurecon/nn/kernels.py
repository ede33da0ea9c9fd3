"""Per-pixel kernel application (Vogels et al. 2018, Eq. 3–4).

``apply_kernels(image, weights)`` computes d_p = Σ_q w_pq c_q over a k×k neighbourhood without
``F.unfold``'s k²×C×H×W tensor: it loops over the k² shifts and accumulates
``shifted_image * weight_slice`` (measured 40× faster than unfold at 256², DESIGN.md), with a
hand-written backward that does the same loop, so nothing of size k²×C×H×W is ever stored.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
import torch.nn.functional as F

from .portable import portable


def _check(image: torch.Tensor, weights: torch.Tensor) -> int:
    if image.ndim != 4 or weights.ndim != 4:
        raise ValueError(
            f"expected N×C×H×W image and N×k²×H×W weights, got {tuple(image.shape)} and {tuple(weights.shape)}"
        )
    k2 = int(weights.shape[1])  # int(): a traced size is a tensor
    k = math.isqrt(k2)
    if k * k != k2 or k % 2 == 0:
        raise ValueError(f"weights need k² channels with odd k, got {k2}")
    if not portable() and (image.shape[0] != weights.shape[0] or image.shape[2:] != weights.shape[2:]):
        raise ValueError(f"image {tuple(image.shape)} and weights {tuple(weights.shape)} disagree")
    return k


def _accumulate(padded: torch.Tensor, weights: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
    """out = Σ_q weights_q · (padded shifted by q), accumulated tap by tap into `out` (the first tap
    written, not added to zeros: the same values, one pass over `out` fewer)."""
    k = int(round(weights.shape[1] ** 0.5))
    H, W = weights.shape[2:]
    torch.mul(padded[:, :, :H, :W], weights[:, :1], out=out)
    for q in range(1, k * k):
        dy, dx = divmod(q, k)
        out.addcmul_(padded[:, :, dy : dy + H, dx : dx + W], weights[:, q : q + 1])
    return out


class _KernelApply(torch.autograd.Function):
    """Takes the already padded image, so any padding mode's backward is autograd's business."""

    @staticmethod
    def forward(ctx, padded, weights):
        k = int(round(weights.shape[1] ** 0.5))
        H, W = weights.shape[2:]
        out = _accumulate(padded, weights, padded.new_empty(padded.shape[:2] + (H, W)))
        ctx.save_for_backward(padded, weights)
        ctx.k = k
        return out

    @staticmethod
    def backward(ctx, grad_out):
        padded, weights = ctx.saved_tensors
        k = ctx.k
        H, W = grad_out.shape[2:]
        grad_w = grad_pad = None
        if ctx.needs_input_grad[1]:
            grad_w = torch.empty_like(weights)
            for q in range(k * k):
                dy, dx = divmod(q, k)
                grad_w[:, q] = (grad_out * padded[:, :, dy : dy + H, dx : dx + W]).sum(1)
        if ctx.needs_input_grad[0]:
            grad_pad = torch.zeros_like(padded)
            for q in range(k * k):
                dy, dx = divmod(q, k)
                grad_pad[:, :, dy : dy + H, dx : dx + W].addcmul_(grad_out, weights[:, q : q + 1])
        return grad_pad, grad_w


def apply_kernels(image: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """Filter `image` (N×C×H×W) with per-pixel kernels `weights` (N×k²×H×W, row-major k×k).
    Outside the frame the edge pixel is repeated, so normalised kernels never darken borders."""
    r = _check(image, weights) // 2
    padded = F.pad(image, (r, r, r, r), mode="replicate")
    if portable():
        return _accumulate_portable(padded, weights, r)
    return _KernelApply.apply(padded, weights)


def _accumulate_portable(padded: torch.Tensor, weights: torch.Tensor, r: int) -> torch.Tensor:
    """_accumulate in exportable form: out-of-place, and each shift sliced from the end
    (``-2r + dy``) so that only k, never H or W, is a constant of the traced graph."""
    k = 2 * r + 1
    out = None
    for q in range(k * k):
        dy, dx = divmod(q, k)
        shifted = padded[:, :, dy : dy - 2 * r or None, dx : dx - 2 * r or None]
        term = shifted * weights[:, q : q + 1]
        out = term if out is None else out + term
    assert out is not None
    return out


def apply_kernels_rows(
    image: torch.Tensor, weights: Callable[[int, int], torch.Tensor], rows: int, k: int
) -> torch.Tensor:
    """`apply_kernels(image, W)` without W: `weights(y0, y1)` returns the N×k²×(y1−y0)×W weights
    of rows [y0, y1) (e.g. a head's softmax of those rows' logits), `rows` rows at a time, so the
    k² weight planes (and the logits they come from) exist for one band only. The same arithmetic
    per pixel as apply_kernels; no autograd (inference)."""
    N, C, H, W = image.shape
    r = k // 2
    padded = F.pad(image, (r, r, r, r), mode="replicate")
    out = image.new_empty(image.shape)
    for y0 in range(0, H, rows):
        y1 = min(H, y0 + rows)
        w = weights(y0, y1)
        if w.shape != (N, k * k, y1 - y0, W):
            raise ValueError(f"weights of rows {y0}–{y1} are {tuple(w.shape)}, not {(N, k * k, y1 - y0, W)}")
        _accumulate(padded[:, :, y0 : y1 + 2 * r], w, out[:, :, y0:y1])
    return out


def apply_kernels_reference(image: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """Plain `F.unfold` implementation: slow and memory-hungry, kept as the test oracle."""
    k = _check(image, weights)
    N, C, H, W = image.shape
    r = k // 2
    patches = F.unfold(F.pad(image, (r, r, r, r), mode="replicate"), k).view(N, C, k * k, H, W)
    return (patches * weights[:, None]).sum(2)


def softmax_kernels(logits: torch.Tensor) -> torch.Tensor:
    """Eq. 4: normalise k² logits per pixel so weights are in [0, 1] and sum to one."""
    if portable():
        # spelled out for export: onnxruntime's Softmax over the channel axis of N×k²×H×W
        # transposes to the last axis and back, 24 % of a 256² pass of `high`; this is elementwise
        e = torch.exp(logits - logits.amax(1, keepdim=True))
        return e / e.sum(1, keepdim=True)
    return torch.softmax(logits, dim=1)
