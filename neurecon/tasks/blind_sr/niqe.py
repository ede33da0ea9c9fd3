"""NIQE (Mittal, Soundararajan & Bovik 2013), the no-reference reward option of the actor–critic
stage, fitted on this project's own pristine photographs (no pretrained parameters downloaded).

Features (per P×P patch, P = 96, at the image's scale and at half scale — MATLAB bicubic): the
MSCN coefficients ``(I − μ)/(σ + 1)`` with a 7×7 Gaussian window (σ = 7/6) on the luminance
(0–255); a generalised Gaussian fitted by moment matching to them (shape α, variance σ²), and an
asymmetric generalised Gaussian fitted to the products of neighbouring coefficients in four
orientations (shape, mean, left and right variances) — 18 numbers per scale, 36 per patch.

The pristine model is the mean μ_p and covariance Σ_p of the features of the sharpest patches
(patch sharpness — the mean of σ — above ``sharpness_fraction`` of the image's largest) of the
given images. The quality of an image is the Mahalanobis-like distance
``sqrt((μ_p − μ)ᵀ ((Σ_p + Σ)/2)⁺ (μ_p − μ))`` between that model and the mean and covariance of
the image's patches (Σ = 0 for one patch): lower is more natural. The reward is −NIQE.
"""

from __future__ import annotations

import math

import numpy as np

from ..sr.imresize import imresize
from ..sr.metrics import rgb_to_y

PATCH = 96
_GAM = np.arange(0.2, 10.0, 0.001)
_R_GAM = np.array([math.gamma(2 / g) ** 2 / (math.gamma(1 / g) * math.gamma(3 / g)) for g in _GAM])


def _gauss_window(size: int = 7, sigma: float = 7 / 6) -> np.ndarray:
    t = np.arange(size) - size // 2
    g = np.exp(-(t**2) / (2 * sigma**2))
    w = np.outer(g, g)
    return w / w.sum()


def _filter(img: np.ndarray, w: np.ndarray) -> np.ndarray:
    """'same'-size correlation with replicate edges (the kernel is symmetric)."""
    r = w.shape[0] // 2
    p = np.pad(img, r, mode="edge")
    out = np.zeros_like(img)
    for i in range(w.shape[0]):
        for j in range(w.shape[1]):
            out += w[i, j] * p[i : i + img.shape[0], j : j + img.shape[1]]
    return out


def mscn(y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """MSCN coefficients and the local σ of a luminance image (0–255 floats)."""
    w = _gauss_window()
    mu = _filter(y, w)
    sigma = np.sqrt(np.abs(_filter(y * y, w) - mu * mu))
    return (y - mu) / (sigma + 1), sigma


def ggd(x: np.ndarray) -> tuple[float, float]:
    """Generalised Gaussian by moment matching: (shape α, variance σ²)."""
    var = float(np.mean(x * x))
    e = float(np.mean(np.abs(x)))
    rho = e * e / max(var, 1e-12)
    return float(_GAM[np.argmin(np.abs(rho - _R_GAM))]), var


def aggd(x: np.ndarray) -> tuple[float, float, float, float]:
    """Asymmetric generalised Gaussian: (shape, mean, left variance, right variance)."""
    left, right = x[x < 0], x[x > 0]
    sl = math.sqrt(float(np.mean(left**2))) if left.size else 1e-6
    sr = math.sqrt(float(np.mean(right**2))) if right.size else 1e-6
    g = sl / max(sr, 1e-12)
    r = float(np.mean(np.abs(x))) ** 2 / max(float(np.mean(x * x)), 1e-12)
    rn = r * (g**3 + 1) * (g + 1) / (g * g + 1) ** 2
    a = float(_GAM[np.argmin((_R_GAM - rn) ** 2)])
    c = math.sqrt(math.gamma(1 / a) / math.gamma(3 / a))
    mean = (sr - sl) * c * math.gamma(2 / a) / math.gamma(1 / a)
    return a, mean, sl * sl, sr * sr


def patch_features(m: np.ndarray) -> list[float]:
    """18 features of one patch of MSCN coefficients."""
    f = list(ggd(m))
    pairs = (
        m[:, :-1] * m[:, 1:],  # horizontal neighbours
        m[:-1, :] * m[1:, :],  # vertical
        m[:-1, :-1] * m[1:, 1:],  # main diagonal
        m[:-1, 1:] * m[1:, :-1],  # anti-diagonal
    )
    for prod in pairs:
        f += list(aggd(prod.ravel()))
    return f


def features(img: np.ndarray, patch: int = PATCH, sharpness_fraction: float | None = None) -> np.ndarray:
    """K×36 features of the image's P×P patches (H×W×3 RGB or H×W luminance in [0, 1]); with
    ``sharpness_fraction`` only the patches sharper than that fraction of the sharpest one."""
    y = rgb_to_y(img)[..., 0] * 255 if img.ndim == 3 else np.asarray(img, dtype=np.float64) * 255
    h, w = (y.shape[0] // patch) * patch, (y.shape[1] // patch) * patch
    if h == 0 or w == 0:
        raise ValueError(f"NIQE needs at least one {patch}×{patch} patch, got {y.shape}")
    y = y[:h, :w]
    feats, sharp = [], []
    for level, scale_img in enumerate((y, imresize(y, 0.5))):
        m, sigma = mscn(scale_img)
        p = patch // (2**level)
        rows = []
        for i in range(0, m.shape[0] - p + 1, p):
            for j in range(0, m.shape[1] - p + 1, p):
                rows.append(patch_features(m[i : i + p, j : j + p]))
                if level == 0:
                    sharp.append(float(sigma[i : i + p, j : j + p].mean()))
        feats.append(np.array(rows))
    out = np.concatenate(feats, 1)
    if sharpness_fraction is not None:
        s = np.array(sharp)
        out = out[s > sharpness_fraction * s.max()]
    return out


class NIQE:
    """``NIQE.fit(images)`` → a pristine model; ``score(img)`` → NIQE (lower is better)."""

    def __init__(self, mu: np.ndarray, cov: np.ndarray, patch: int = PATCH):
        self.mu, self.cov, self.patch = mu, cov, patch

    @classmethod
    def fit(cls, images: list[np.ndarray], patch: int = PATCH, sharpness_fraction: float = 0.75) -> NIQE:
        f = np.concatenate([features(im, patch, sharpness_fraction) for im in images], 0)
        if f.shape[0] < 2:
            raise ValueError("NIQE needs at least two pristine patches")
        return cls(f.mean(0), np.cov(f, rowvar=False), patch)

    def score(self, img: np.ndarray) -> float:
        f = features(img, self.patch)
        mu = f.mean(0)
        cov = np.cov(f, rowvar=False) if f.shape[0] > 1 else np.zeros_like(self.cov)
        d = self.mu - mu
        return float(math.sqrt(max(0.0, float(d @ np.linalg.pinv((self.cov + cov) / 2) @ d))))
