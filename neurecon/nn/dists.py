"""DISTS (Ding, Ma, Wang & Simoncelli 2020): deep image structure and texture similarity.

The network is torchvision's VGG16 ``features`` with every max-pool replaced by an L2 pooling
(squares, a 3×3 Hann window — ``hanning(5)[1:-1]`` normalised — stride 2, padding 1, square root);
the compared representations are the image itself and relu1_2, relu2_2, relu3_3, relu4_3,
relu5_3 (channels 3, 64, 128, 256, 512, 512: 1475 in all). Per channel, with means μ, variances σ²
and covariance σ_xy over the image and c₁ = c₂ = 1e-6,

    S1 = (2 μ_x μ_y + c₁) / (μ_x² + μ_y² + c₁),   S2 = (2 σ_xy + c₂) / (σ_x² + σ_y² + c₂),
    DISTS(x, y) = 1 − Σ (α·S1 + β·S2),   α, β ≥ 0 normalised to Σα + Σβ = 1,

so DISTS(x, x) = 0. α and β (``1×1475×1×1`` each, keys ``alpha`` and ``beta``) are learnt on
human ratings and cannot be trained here: they load from a local file — the ``weights.pt`` the
``dists-pytorch`` package installs into ``sys.prefix``, or any path given (``task.weights.dists: PATH``,
``$NEURECON_DISTS``). The VGG16 weights come from :func:`neurecon.nn.vgg.find_weights`. Both
missing → :class:`~neurecon.nn.vgg.WeightsNotFound` naming where it looked.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .vgg import VGGFeatures, WeightsMismatch, WeightsNotFound, find_weights, read_state

CHANNELS = (3, 64, 128, 256, 512, 512)
STAGE_ENDS = (3, 8, 15, 22, 29)  # relu1_2, relu2_2, relu3_3, relu4_3, relu5_3 in VGG16 features
POOLS = (4, 9, 16, 23)  # the max-pools replaced by L2 pooling
ENV = "NEURECON_DISTS"


class L2Pool(nn.Module):
    filter: torch.Tensor

    def __init__(self, channels: int, filter_size: int = 5):
        super().__init__()
        a = np.hanning(filter_size)[1:-1]
        g = torch.tensor(a[:, None] * a[None, :], dtype=torch.float32)
        self.register_buffer("filter", (g / g.sum())[None, None].repeat(channels, 1, 1, 1), persistent=False)
        self.padding = (filter_size - 2) // 2

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.conv2d(x * x, self.filter, stride=2, padding=self.padding, groups=x.shape[1])
        return (out + 1e-12).sqrt()


def find_alpha_beta(path: str | Path | None = None) -> Path:
    if path:
        p = Path(path).expanduser()
        if p.is_file():
            return p
        raise FileNotFoundError(f"DISTS α/β: no such file {p}")
    env = os.environ.get(ENV)
    if env:
        if Path(env).is_file():
            return Path(env)
        raise FileNotFoundError(f"DISTS α/β: ${ENV}={env} is not a file")
    tried = [f"${ENV} (unset)"]
    p = Path(sys.prefix) / "weights.pt"  # where dists-pytorch's setup installs them
    if p.is_file():
        return p
    tried.append(f"{p} (dists-pytorch's install location)")
    raise WeightsNotFound(
        f"DISTS α/β (dists-pytorch's weights.pt) not found; looked at: {'; '.join(tried)}. "
        f"neurecon never downloads them: give the file with --dists PATH (task.weights.dists: PATH) or ${ENV}"
    )


class DISTS(nn.Module):
    """``forward(x, y)`` → N DISTS values (0 for identical images); frozen."""

    alpha: torch.Tensor
    beta: torch.Tensor

    def __init__(self, alpha: torch.Tensor | None = None, beta: torch.Tensor | None = None):
        super().__init__()
        vgg = VGGFeatures("vgg16", ["relu5_3"], normalize=True)
        self.vgg = vgg
        for i in POOLS:
            vgg.features[i] = L2Pool(CHANNELS[POOLS.index(i) + 1])
        n = sum(CHANNELS)
        self.register_buffer("alpha", torch.full((1, n, 1, 1), 0.1) if alpha is None else alpha.float().clone())
        self.register_buffer("beta", torch.full((1, n, 1, 1), 0.1) if beta is None else beta.float().clone())

    def set_alpha_beta(self, state: dict, source: str = "the file") -> None:
        n = sum(CHANNELS)
        if not {"alpha", "beta"} <= set(state):
            raise WeightsMismatch(f"{source}: not DISTS's α/β (needs 'alpha' and 'beta'; found {sorted(state)[:4]})")
        for k in ("alpha", "beta"):
            v = state[k]
            if not torch.is_tensor(v) or v.numel() != n:
                raise WeightsMismatch(f"{source}: '{k}' must hold {n} values, got {getattr(v, 'shape', type(v))}")
            getattr(self, k).copy_(v.reshape(1, n, 1, 1).float())

    def features(self, x: torch.Tensor) -> list[torch.Tensor]:
        h = (x - self.vgg.mean) / self.vgg.std
        out = [x]
        for i, m in enumerate(self.vgg.features):
            h = m(h)
            if i in STAGE_ENDS:
                out.append(h)
        return out

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        fx, fy = self.features(x), self.features(y)
        c1 = c2 = 1e-6
        w_sum = self.alpha.sum() + self.beta.sum()
        alpha = torch.split(self.alpha / w_sum, list(CHANNELS), dim=1)
        beta = torch.split(self.beta / w_sum, list(CHANNELS), dim=1)
        d1 = d2 = x.new_zeros(x.shape[0], 1, 1, 1)
        for k in range(len(CHANNELS)):
            mx, my = fx[k].mean((2, 3), keepdim=True), fy[k].mean((2, 3), keepdim=True)
            s1 = (2 * mx * my + c1) / (mx**2 + my**2 + c1)
            vx = ((fx[k] - mx) ** 2).mean((2, 3), keepdim=True)
            vy = ((fy[k] - my) ** 2).mean((2, 3), keepdim=True)
            cxy = (fx[k] * fy[k]).mean((2, 3), keepdim=True) - mx * my
            s2 = (2 * cxy + c2) / (vx + vy + c2)
            d1 = d1 + (alpha[k] * s1).sum(1, keepdim=True)
            d2 = d2 + (beta[k] * s2).sum(1, keepdim=True)
        return 1 - (d1 + d2).flatten()

    def freeze(self) -> DISTS:
        for p in self.parameters():
            p.requires_grad_(False)
        return self.eval()


def load_dists(vgg16: str | Path | None = None, alpha_beta: str | Path | None = None) -> DISTS:
    """A frozen DISTS with torchvision's VGG16 and DISTS's α/β, both from local files."""
    ab_path = find_alpha_beta(alpha_beta)  # the rarer file first: its error is the useful one
    vgg_path = find_weights("vgg16", vgg16)
    d = DISTS()
    d.vgg.load_torchvision(read_state(vgg_path), str(vgg_path))
    d.set_alpha_beta(read_state(ab_path), str(ab_path))
    return d.freeze()
