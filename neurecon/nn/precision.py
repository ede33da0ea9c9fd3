"""Inference precision: bf16 for the convolutional trunk where the CPU computes bf16 natively.

On CPUs with AVX512-BF16 or AMX, oneDNN's bf16 convolutions run about twice as fast as fp32
ones. Only the feature trunk runs in bf16 (autocast). The parts whose absolute precision
matters stay in fp32: kernel logits and their softmax, the kernel application, direct
predictions, and the scale compositor's α. A bf16 logit near 8 is off by up to 0.03, which
would move its softmax weight by 3 %. Training is fp32 unless a config sets run.precision: bf16
(the same autocast around the forward pass; train/trainer.py).
"""

from __future__ import annotations

import contextlib

import torch

from .portable import portable

PRECISIONS = ("auto", "fp32", "bf16")


def native_bf16() -> bool:
    """True when this CPU has bf16 dot-product instructions (AVX512-BF16 or AMX). Elsewhere
    oneDNN emulates bf16, and it ran 3× slower than fp32 on an AVX2 machine."""
    try:
        return bool(torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported())
    except AttributeError:  # private probes; assume no native bf16 if this torch lacks them
        return False


def resolve(precision: str) -> str:
    """'auto' → 'bf16' on CPUs with native bf16, else 'fp32'."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}")
    if precision == "auto":
        return "bf16" if native_bf16() else "fp32"
    return precision


# 'auto' on a native-bf16 CPU picks bf16 for jobs of at least this many pixels. Creating the bf16
# primitives costs ~0.8 s on the first call (an AMX Xeon: a one-frame 256² `neurecon denoise` took
# 2.4 s wall in bf16, 1.5 s in fp32), and bf16 saves roughly half of fp32's conv time, ~0.4 s a Mpix
# for `high` there: below ~2 Mpix of work one frame is done sooner in fp32.
BF16_MIN_PIXELS = 2 * 2**20


def resolve_for(precision: str, pixels: int, warm: bool = False) -> str:
    """`resolve` for a job of `pixels` (a frame, or all frames of a sequence): 'auto' is bf16 only
    where the CPU has native bf16 and either the job is large enough to pay for creating the bf16
    primitives (≥ BF16_MIN_PIXELS) or they already exist (`warm`: bf16 ran before in this
    process); fp32 otherwise, and always on CPUs without native bf16."""
    if precision != "auto":
        return resolve(precision)
    if not native_bf16():
        return "fp32"
    return "bf16" if warm or pixels >= BF16_MIN_PIXELS else "fp32"


def trunk(precision: str):
    """Context for a model call: bf16 autocast for 'bf16', nothing for 'fp32'."""
    if precision == "bf16":
        return torch.autocast("cpu", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def fp32():
    """Context that turns autocast off for a precision-critical part (give it `widen`ed inputs).
    Nothing while exporting (portable ops): an exported graph is fp32 throughout."""
    if portable():
        return contextlib.nullcontext()
    return torch.autocast("cpu", enabled=False)


def widen(x: torch.Tensor) -> torch.Tensor:
    """A bf16/fp16 activation as fp32; fp32 and fp64 (gradient checks) pass through."""
    return x.float() if x.dtype in (torch.bfloat16, torch.float16) else x
