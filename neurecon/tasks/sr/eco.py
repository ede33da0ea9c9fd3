"""ECO (Lee & Heo, AAAI 2024): empirical-centroid-oriented optimisation.

A frozen, fully trained teacher T gives the *empirical centroid* ŷ = clamp(T(x), 0, 1) of every
training LR image x (whole image, computed once and cached). The noise-free, spatially consistent
pair is (D(ŷ), ŷ) with D the data's own degradation (MATLAB bicubic, clamped to [0, 1]). Training
mixes it with the real pair (x, y):

    LR = a·D(ŷ) + (1 − a)·x,    HR = a·ŷ + (1 − a)·y,    loss = L1(S(LR), HR)

with a from :func:`eco_weight` (authors' code): x = 10(t − 0.5),
s = clip(1.2·(σ(x − shift) − 0.5), −0.5, 0.5) + 0.5, a = 1 − s, t = iteration / total. So a = 1
until ~26 % of training and 0 after ~74 % (shift 0). The per-sample alternative draws the teacher
pair with probability a for each sample instead of blending.

The blend is per pixel, so mixing the full images and then cropping equals cropping the two
aligned pairs at the same place and mixing the crops — which is what the trainer does (tested).
KD, for comparison, trains on (x, ŷ): noise-free target but an LR that does not match it.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from .imresize import bicubic_down

SCHEDULES = ("sigmoid", "linear", "constant")


def eco_weight(t: float, shift: float = 0.0, schedule: str = "sigmoid", a: float = 1.0) -> float:
    """Teacher weight a(t) for t = iteration / total in [0, 1].

    ``sigmoid`` is the authors' schedule (``shift`` moves it in units of x = 10(t − 0.5));
    ``linear`` goes 1 → 0; ``constant`` keeps ``a`` (a = 1: the noise-free objective without mixup,
    Eq. 11 of the paper).
    """
    t = min(max(float(t), 0.0), 1.0)
    if schedule == "sigmoid":
        x = 10.0 * (t - 0.5)
        sig = 1.0 / (1.0 + math.exp(-(x - shift)))
        s = min(max(1.2 * (sig - 0.5), -0.5), 0.5) + 0.5
        return 1.0 - s
    if schedule == "linear":
        return 1.0 - t
    if schedule == "constant":
        return float(a)
    raise ValueError(f"unknown ECO schedule '{schedule}'; choose {', '.join(SCHEDULES)}")


def teacher_pair(sr: np.ndarray, scale: int) -> tuple[np.ndarray, np.ndarray]:
    """(D(ŷ), ŷ) from a teacher output ŷ (H×W×3): both clamped to [0, 1], float32."""
    hr_t = np.clip(np.asarray(sr, dtype=np.float32), 0.0, 1.0)
    lr_t = np.clip(bicubic_down(hr_t.astype(np.float64), scale), 0.0, 1.0).astype(np.float32)
    return lr_t, hr_t


def mix(lr, hr, lr_t, hr_t, a: float, u: torch.Tensor | None = None, per_sample: bool = False):
    """ECO's pair. Blend: a·teacher + (1 − a)·real. Per-sample: teacher pair where u < a.
    Tensors N×C×h×w / N×C×H×W; results clamped to [0, 1]."""
    if per_sample:
        if u is None:
            raise ValueError("per-sample ECO needs the batch's uniform draws u")
        pick = (u < a).to(lr.dtype).view(-1, 1, 1, 1)
        x, y = pick * lr_t + (1 - pick) * lr, pick * hr_t + (1 - pick) * hr
    elif a >= 1.0:
        x, y = lr_t, hr_t
    elif a <= 0.0:
        x, y = lr, hr
    else:
        x, y = a * lr_t + (1 - a) * lr, a * hr_t + (1 - a) * hr
    return x.clamp(0, 1), y.clamp(0, 1)
