"""The relighting network of Light Stage Super-Resolution (Sun et al. 2020), at CPU scale.

Input: the images of the subject under its k nearest captured lights, their light directions and
the query direction; output: the image under the query light, plus an auxiliary RGB image from
every decoder level (1×1 heads) for the progressive coarse-to-fine training of
:mod:`neurecon.train.progressive`.

    per neighbour i:  [t(I_i), ℓ_i, ℓ_q] ──enc0──e0ᵢ──pool──enc1──e1ᵢ── … ──enc(D−1)──e(D−1)ᵢ
    pooled per level: p_j = Σᵢ Wᵢ e_jᵢ                        (alias-free light-direction weights)
    decoder:          d(D−1) = block([p(D−1), ℓ_q]);  d_j = block([U(d(j+1)), p_j])
    auxiliary images: A_j = head_j(d_j) (+ D(Σᵢ Wᵢ t(I_i), j) with `residual`)

Every neighbour goes through the same encoder (weights shared); the k encodings of each level are
pooled with the paper's alias-free weights
``Wᵢ ∝ max(0, exp(s(ℓ_q·ℓᵢ − 1)) − minⱼ exp(s(ℓ_q·ℓⱼ − 1)))`` with a learnable sharpness s: the
farthest neighbour of the active set has weight 0, so a light entering or leaving the set as the
query moves changes nothing (no popping). Images are seen as t(x) = log(1 + x) of linear radiance
(the caller normalises the exposure, see :func:`neurecon.tasks.relight.data.exposure_scale`).

Progressive growth (the paper's supplement): ``forward(..., level=d, w_fine=α)`` computes only the
levels ≥ d. Level d's encoder starts from the input images box-downsampled to its resolution
(through a 1×1 "from input" layer); the next coarser encoder level's input is
``α·pool(e_d) + (1 − α)·from_input(D(x, d + 1))`` and the stage output is
``α·A_d + (1 − α)·U(A_(d+1))``. ``w_fine`` = α is the weight on the *finer* level.
Deviation from the paper, stated: the query direction also enters each neighbour's encoder input
(``query_in_encoder``), and with ``residual`` the heads predict a correction of the pooled input
images (zero-initialised, so training starts at the alias-free weighted blend).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from .blocks import conv3x3, xavier_init


def _block(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(conv3x3(cin, cout), nn.ReLU(inplace=True), conv3x3(cout, cout), nn.ReLU(inplace=True))


def down(x: torch.Tensor, d: int) -> torch.Tensor:
    """Box downsampling by 2^d (D(·, d) of the paper; exact area averaging)."""
    return F.avg_pool2d(x, 2**d) if d else x


def up(x: torch.Tensor, mode: str = "nearest") -> torch.Tensor:
    """2× upsampling, nearest (default) or bilinear."""
    if mode == "nearest":
        return F.interpolate(x, scale_factor=2, mode="nearest")
    return F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)


def to_net(x: torch.Tensor) -> torch.Tensor:
    """Linear (exposure-normalised) radiance → the network's image space t = log(1 + x)."""
    return torch.log1p(x.clamp_min(0))


def from_net(t: torch.Tensor) -> torch.Tensor:
    return torch.expm1(t).clamp_min(0)


def alias_free_weights(dirs: torch.Tensor, query: torch.Tensor, sharpness: torch.Tensor | float) -> torch.Tensor:
    """B×k weights of the k neighbour lights `dirs` (B×k×3) for the query (B×3): non-negative, summing
    to 1, the farthest neighbour at 0 (uniform if all k are equally far)."""
    cos = (dirs * query[:, None]).sum(-1).clamp(-1, 1)
    e = torch.exp(sharpness * (cos - 1))
    w = (e - e.min(1, keepdim=True).values).clamp_min(0)
    s = w.sum(1, keepdim=True)
    uniform = torch.full_like(w, 1.0 / w.shape[1])
    return torch.where(s > 1e-12, w / s.clamp_min(1e-12), uniform)


class RelightUNet(nn.Module):
    def __init__(
        self,
        widths: tuple[int, ...] | list[int] = (16, 32, 48, 64),
        query_in_encoder: bool = True,
        residual: bool = True,
        sharpness: float = 20.0,
        upsample: str = "nearest",
    ):
        super().__init__()
        widths = tuple(int(w) for w in widths)
        if len(widths) < 2:
            raise ValueError("a relighting U-Net needs at least two levels")
        if upsample not in ("nearest", "bilinear"):
            raise ValueError(f"upsample must be nearest or bilinear, got {upsample!r}")
        self._spec = {
            "arch": "relight_unet",
            "widths": list(widths),
            "query_in_encoder": query_in_encoder,
            "residual": residual,
            "sharpness": sharpness,
            "upsample": upsample,
        }
        self.widths, self.levels = widths, len(widths)
        self.query_in_encoder, self.residual, self.upsample = query_in_encoder, residual, upsample
        cin = 9 if query_in_encoder else 6
        self.enc = nn.ModuleList(_block(cin if j == 0 else widths[j - 1], widths[j]) for j in range(self.levels))
        # "from input": the downsampled input images into level j's input width (j ≥ 1)
        self.from_input = nn.ModuleList(
            [nn.Identity()] + [nn.Conv2d(cin, widths[j - 1], 1) for j in range(1, self.levels)]
        )
        last = self.levels - 1
        self.dec = nn.ModuleList(
            _block(widths[j] + 3, widths[j]) if j == last else _block(widths[j + 1] + widths[j], widths[j])
            for j in range(self.levels)
        )
        self.heads = nn.ModuleList(nn.Conv2d(w, 3, 1) for w in widths)
        xavier_init(self)
        if residual:
            for h in self.heads:
                nn.init.zeros_(h.weight)  # type: ignore[arg-type]  # heads are Conv2d
                nn.init.zeros_(h.bias)  # type: ignore[arg-type]
        self.log_sharpness = nn.Parameter(torch.tensor(math.log(sharpness)))

    def spec(self) -> dict:
        return dict(self._spec)

    @property
    def stride(self) -> int:
        """Input sizes must be multiples of this (every level halves exactly)."""
        return 2 ** (self.levels - 1)

    def sharpness(self) -> torch.Tensor:
        return self.log_sharpness.exp()

    def pool_weights(self, dirs: torch.Tensor, query: torch.Tensor) -> torch.Tensor:
        return alias_free_weights(dirs, query, self.sharpness())

    def forward(
        self, images: torch.Tensor, dirs: torch.Tensor, query: torch.Tensor, level: int = 0, w_fine: float = 1.0
    ) -> list[torch.Tensor | None]:
        """Auxiliary images A_j (B×3×H/2^j×W/2^j, image space t) for every level j ≥ `level`
        (None for the finer, inactive levels). `images`: B×k×3×H×W in image space t; `dirs`:
        B×k×3 unit neighbour directions; `query`: B×3."""
        B, k, _, H, W = images.shape
        if H % self.stride or W % self.stride:
            raise ValueError(f"input {W}×{H} is not a multiple of {self.stride} (pad it)")
        if not 0 <= level < self.levels:
            raise ValueError(f"level {level} outside 0…{self.levels - 1}")
        weights = self.pool_weights(dirs, query)  # B×k
        planes = [images, dirs[..., None, None].expand(B, k, 3, H, W)]
        if self.query_in_encoder:
            planes.append(query[:, None, :, None, None].expand(B, k, 3, H, W))
        x = torch.cat(planes, 2).reshape(B * k, -1, H, W)

        def pooled(e: torch.Tensor) -> torch.Tensor:
            return (e.view(B, k, *e.shape[1:]) * weights[:, :, None, None, None]).sum(1)

        skips: list[torch.Tensor | None] = [None] * self.levels
        # level `level` starts from the input images (downsampled, through its "from input" layer)
        h = torch.relu(self.from_input[level](down(x, level))) if level else x
        for j in range(level, self.levels):
            if j > level:
                h = F.max_pool2d(h, 2)
                if j == level + 1 and w_fine < 1.0:  # the new level fades in: α·pool(e_d) + (1 − α)·input
                    h = w_fine * h + (1.0 - w_fine) * torch.relu(self.from_input[j](down(x, j)))
            h = self.enc[j](h)
            skips[j] = pooled(h)
        aux: list[torch.Tensor | None] = [None] * self.levels
        base = (images * weights[:, :, None, None, None]).sum(1) if self.residual else None
        d = None
        for j in range(self.levels - 1, level - 1, -1):
            s = skips[j]
            assert s is not None
            if d is None:
                q = query[:, :, None, None].expand(B, 3, *s.shape[2:])
                d = self.dec[j](torch.cat([s, q], 1))
            else:
                d = self.dec[j](torch.cat([up(d, self.upsample), s], 1))
            a = self.heads[j](d)
            if base is not None:
                a = a + down(base, j)
            aux[j] = a
        return aux

    def relight(self, images: torch.Tensor, dirs: torch.Tensor, query: torch.Tensor) -> torch.Tensor:
        """The full-resolution prediction in image space t (level 0, α = 1)."""
        out = self.forward(images, dirs, query, 0, 1.0)[0]
        assert out is not None
        return out
