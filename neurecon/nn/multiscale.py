"""Multi-scale reconstruction (Vogels et al. 2018, §3.4, Eq. 5).

The inputs are decomposed into a pyramid by 2×2 box downsampling (variances of a 4-sample mean
divided by 4); each scale is denoised, and a scale-compositing module blends adjacent scales
from coarsest to finest:  o = i_f − α·U(D(i_f)) + α·U(i_c),  α ∈ [0, 1] per pixel from a shallow
CNN, i.e. the fine image's low frequencies are replaced by the coarse image's where α says so.
D is 2×2 box downsampling, U nearest-neighbour upsampling. One compositor's weights serve every
level. A caller may scale α by a learned gain (the U-Net's gate on a grown H/8 scale), which is not
confined to [0, 1]: a gain above 1 or below 0 extrapolates between the two images.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from .blocks import conv3x3, conv_act, pointwise_planar, xavier_init
from .portable import portable
from .precision import fp32, widen


def down2(x: torch.Tensor) -> torch.Tensor:
    return F.avg_pool2d(x, 2)


def up2(x: torch.Tensor) -> torch.Tensor:
    return F.interpolate(x, scale_factor=2, mode="nearest")


def downsample_inputs(inputs: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """One pyramid step for a dict of buffers: box mean, variances additionally / 4."""
    return {k: down2(v) / 4 if k.endswith("_var") else down2(v) for k, v in inputs.items()}


def pyramid(inputs: Mapping[str, torch.Tensor], levels: int) -> list[dict[str, torch.Tensor]]:
    out = [dict(inputs)]
    for _ in range(levels - 1):
        out.append(downsample_inputs(out[-1]))
    return out


def pad_to_multiple(inputs: Mapping[str, torch.Tensor], m: int) -> tuple[dict[str, torch.Tensor], tuple[int, int]]:
    """Replicate-pad H and W up to a multiple of `m` so every pyramid level halves exactly."""
    H, W = next(iter(inputs.values())).shape[2:]
    ph, pw = (-H) % m, (-W) % m
    if portable():  # H, W symbolic: always pad (by 0 where they are multiples already)
        return {k: F.pad(v, (0, pw, 0, ph), mode="replicate") for k, v in inputs.items()}, (H, W)
    if not (ph or pw):
        return dict(inputs), (H, W)
    return {k: F.pad(v, (0, pw, 0, ph), mode="replicate") for k, v in inputs.items()}, (H, W)


def compose(fine: torch.Tensor, coarse: torch.Tensor, alpha: torch.Tensor) -> torch.Tensor:
    """Eq. 5 with a given α (N×1×H×W), as  i_f + α·U(i_c − D(i_f)): one full-resolution
    upsampling and product instead of two."""
    return fine + alpha * up2(coarse - down2(fine))


class ScaleCompositor(nn.Module):
    """Shallow CNN predicting α from the fine image and the upsampled coarse image (log space)."""

    def __init__(self, width: int = 16):
        super().__init__()
        self.net = nn.Sequential(
            conv3x3(6, width),
            nn.ReLU(inplace=True),
            conv3x3(width, width),
            nn.ReLU(inplace=True),
            nn.Conv2d(width, 1, 1),
        )
        xavier_init(self)

    def alpha(self, fine: torch.Tensor, coarse: torch.Tensor) -> torch.Tensor:
        # log1p at the coarse resolution, then upsample: equal for nearest upsampling, 4× cheaper
        x = torch.cat([torch.log1p(fine.clamp_min(0)), up2(torch.log1p(coarse.clamp_min(0)))], 1)
        first, second, last = self.net[0], self.net[2], self.net[-1]
        assert isinstance(first, nn.Conv2d) and isinstance(second, nn.Conv2d) and isinstance(last, nn.Conv2d)
        # conv, ReLU, conv, ReLU with each ReLU fused into its conv where it can be (bit-identical)
        return torch.sigmoid(pointwise_planar(last, conv_act(second, conv_act(first, x))))

    def forward(self, fine: torch.Tensor, coarse: torch.Tensor, gain: torch.Tensor | None = None) -> torch.Tensor:
        """Channels past the colour's three (e.g. the albedo filtered alongside) are composed
        with the colour's α; `gain` scales α (0: the fine image passes unchanged)."""
        with fp32():  # a shallow net on images: nothing to gain from bf16, α's precision to lose
            fine, coarse = widen(fine), widen(coarse)
            alpha = self.alpha(fine[:, :3], coarse[:, :3])
            return compose(fine, coarse, alpha if gain is None else gain * alpha)


class MultiScale(nn.Module):
    """Any single-scale denoiser (shared weights across scales) + one shared compositor."""

    def __init__(self, denoiser: nn.Module, levels: int = 3, compositor_width: int = 16):
        super().__init__()
        self.denoiser: Any = denoiser  # a KPCN-like module: receptive_radius(), spec(), default_source
        self.levels = levels
        self.compositor = ScaleCompositor(compositor_width)
        self.config = getattr(denoiser, "config", None)

    def receptive_radius(self) -> int:
        return self.denoiser.receptive_radius() * 2 ** (self.levels - 1) + 2**self.levels

    @property
    def default_source(self) -> str:
        return self.denoiser.default_source

    @property
    def stride(self) -> int:
        return 2 ** (self.levels - 1)

    def spec(self) -> dict:
        """Flat: the per-scale KPCN's arguments plus `levels` (see models.build_model)."""
        inner = self.denoiser.spec()
        return {**inner, "arch": "kpcn_ms", "levels": self.levels}

    def forward(self, inputs: Mapping[str, torch.Tensor], source: str | None = None) -> torch.Tensor:
        padded, (H, W) = pad_to_multiple(inputs, 2 ** (self.levels - 1))
        outs = [self.denoiser(level, source) for level in pyramid(padded, self.levels)]
        result = outs[-1]
        for fine in reversed(outs[:-1]):
            result = self.compositor(fine, result)
        return result[..., :H, :W]
