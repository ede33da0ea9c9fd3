"""The relighting network of Light Stage Super-Resolution (Sun et al. 2020), at CPU scale.

Input: the images of the subject under its k nearest captured lights, their light directions and
the query direction; output: the image under the query light, plus an auxiliary RGB image from
every decoder level (1×1 heads) for the progressive coarse-to-fine training of
:mod:`neurecon.train.progressive`.

    per neighbour i:  [t(I_i), ℓ_i, ℓ_q] ──enc0──e0ᵢ──pool──enc1──e1ᵢ── … ──enc(D−1)──e(D−1)ᵢ
    pooled per level: p_j = Σᵢ Wᵢ e_jᵢ                        (alias-free light-direction weights)
    decoder:          d(D−1) = block([p(D−1), ℓ_q]);  d_j = block([U(d(j+1)), p_j])
    auxiliary images: A_j = Σᵢ Sᵢⱼ·D(t(Iᵢ), j) + head_j(d_j)      (`select`, the default)
                      A_j = D(Σᵢ Wᵢ t(Iᵢ), j) + head_j(d_j)          (`residual` without `select`)
                      A_j = head_j(d_j)                               (neither: the paper's synthesis)

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
Deviations from the paper, stated:

* the query direction also enters each neighbour's encoder input (``query_in_encoder``);
* ``select`` (default): every level's image is a per-pixel blend of the neighbours' images,
  Sᵢⱼ(x) ∝ Wᵢ·exp(logitᵢⱼ(x)) with a logit per neighbour from a 3×3 conv of [decoder features,
  that neighbour's own encoding], plus the head's correction. Choosing per pixel which neighbour
  is right (lit or in shadow, highlight or not) is what removes double shadows and highlights,
  and far easier to learn than synthesising the image. Measured with the shipped recipe (direct
  training, validation PSNR): a residual over the fixed blend (``select: false``) went from 23.89
  to 23.91 dB between iterations 250 and 1250 (the blend alone: 23.90); the selection from 23.93
  to 24.36 dB between 250 and 500. The paper's pure synthesis (neither option) starts from nothing
  and was not tried at this budget. Neighbours with Wᵢ = 0 keep
  weight 0, so the blend stays alias-free. Heads and selectors start with small weights (×0.1),
  so training starts near the alias-free blend; zero weights would pass no gradient back.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from .blocks import conv3x3, xavier_init

HEAD_INIT_SCALE = 0.1  # residual heads: Xavier weights × this (zero heads would block the decoder's gradient)


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
        select: bool = True,
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
            "select": select,
        }
        self.widths, self.levels = widths, len(widths)
        self.query_in_encoder, self.residual, self.upsample, self.select = query_in_encoder, residual, upsample, select
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
        # per-pixel neighbour selection: a logit per neighbour from [decoder features, its own encoding]
        self.selectors = nn.ModuleList(conv3x3(2 * w, 1) for w in widths) if select else None
        xavier_init(self)
        # start near the pooled blend, but not at zero: a zero head passes no gradient back
        small = list(self.heads) if residual or select else []
        small += list(self.selectors) if self.selectors is not None else []
        with torch.no_grad():
            for h in small:
                h.weight.mul_(HEAD_INIT_SCALE)  # type: ignore[operator]  # Conv2d heads
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
        encodings: list[torch.Tensor | None] = [None] * self.levels  # per neighbour (B·k×C×h×w)
        # level `level` starts from the input images (downsampled, through its "from input" layer)
        h = torch.relu(self.from_input[level](down(x, level))) if level else x
        for j in range(level, self.levels):
            if j > level:
                h = F.max_pool2d(h, 2)
                if j == level + 1 and w_fine < 1.0:  # the new level fades in: α·pool(e_d) + (1 − α)·input
                    h = w_fine * h + (1.0 - w_fine) * torch.relu(self.from_input[j](down(x, j)))
            h = self.enc[j](h)
            skips[j] = pooled(h)
            encodings[j] = h
        aux: list[torch.Tensor | None] = [None] * self.levels
        base = (images * weights[:, :, None, None, None]).sum(1) if self.residual and not self.select else None
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
            if self.selectors is not None:
                a = a + self.selected(j, d, encodings[j], images, weights)
            elif base is not None:
                a = a + down(base, j)
            aux[j] = a
        return aux

    def selection(self, j: int, d: torch.Tensor, e: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
        """B×k×h×w per-pixel weights of the neighbours at level j: the alias-free weights Wᵢ times
        exp(logitᵢ), normalised (a neighbour with Wᵢ = 0 stays at 0, so no popping)."""
        assert self.selectors is not None
        B, k = weights.shape
        dk = d[:, None].expand(B, k, *d.shape[1:]).reshape(B * k, *d.shape[1:])
        logits = self.selectors[j](torch.cat([dk, e], 1)).view(B, k, *d.shape[2:])
        num = weights[:, :, None, None] * torch.exp(logits - logits.max(1, keepdim=True).values)
        return num / num.sum(1, keepdim=True).clamp_min(1e-12)

    def selected(self, j: int, d: torch.Tensor, e, images: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
        """Σᵢ selectionᵢ · D(t(Iᵢ), j): the neighbours' images blended per pixel."""
        B, k = weights.shape
        sel = self.selection(j, d, e, weights)
        imgs = down(images.reshape(B * k, *images.shape[2:]), j).view(B, k, 3, *d.shape[2:])
        return (sel[:, :, None] * imgs).sum(1)

    def relight(self, images: torch.Tensor, dirs: torch.Tensor, query: torch.Tensor) -> torch.Tensor:
        """The full-resolution prediction in image space t (level 0, α = 1)."""
        out = self.forward(images, dirs, query, 0, 1.0)[0]
        assert out is not None
        return out
