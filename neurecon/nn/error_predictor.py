"""The error-predicting network of Vogels et al. 2018, §5: six residual blocks trained with L1 to
predict, per pixel, the error of a frozen denoiser's output for one or more guiding metrics.

Its input is what the denoiser saw and made (the §6.1 features of the noisy buffers, the denoised
colour, the per-pixel sample count) plus the denoiser's own full-resolution decoder features
(``UNetKPCN.features()[0]``), squeezed by a 1×1 convolution so the trunk stays small. One output
channel per metric, through a softplus: predicted errors are never negative.

The residual trunk runs at half resolution (a stride-2 stem, then bilinear upsampling and a
full-resolution head that also sees the image channels): a quarter of the cost, and the error
maps that guide sampling are smooth at that scale anyway (the DSSIM window alone is 11 pixels).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from .features import make_features

PREDICTOR_BUFFERS = ["color", "color_var", "albedo", "normal"]
# features of PREDICTOR_BUFFERS (3 + 1 + 3 + 3), log(1 + denoised) (3), log2(spp) / 10 (1)
IMAGE_CHANNELS = 14


class ResidualBlock(nn.Module):
    def __init__(self, width: int):
        super().__init__()
        self.a = nn.Conv2d(width, width, 3, padding=1)
        self.b = nn.Conv2d(width, width, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.b(F.relu(self.a(x)))


class ErrorPredictor(nn.Module):
    def __init__(
        self,
        metrics: Sequence[str] = ("smape", "relmse", "dssim"),
        feature_width: int = 32,
        squeeze: int = 16,
        width: int = 32,
        blocks: int = 6,
    ):
        super().__init__()
        self.metrics = list(metrics)
        self.feature_width, self.squeeze_width, self.width, self.blocks = feature_width, squeeze, width, blocks
        self.squeeze = nn.Conv2d(feature_width, squeeze, 1)
        self.stem = nn.Conv2d(IMAGE_CHANNELS + squeeze, width, 3, stride=2, padding=1)
        self.trunk = nn.Sequential(*[ResidualBlock(width) for _ in range(blocks)])
        self.head = nn.Conv2d(width + IMAGE_CHANNELS, len(self.metrics), 3, padding=1)
        # start near small errors (softplus(−4) ≈ 0.018), not at softplus(0) ≈ 0.69
        assert self.head.bias is not None
        nn.init.constant_(self.head.bias, -4.0)

    def forward(self, image: torch.Tensor, features: torch.Tensor) -> torch.Tensor:
        """image: N×IMAGE_CHANNELS×H×W (predictor_image), features: N×feature_width×H×W → N×M×H×W ≥ 0."""
        x = torch.cat([image, F.relu(self.squeeze(features))], 1)
        x = F.relu(self.trunk(F.relu(self.stem(x))))
        x = F.interpolate(x, size=image.shape[2:], mode="bilinear", align_corners=False)
        return F.softplus(self.head(torch.cat([x, image], 1)))

    def spec(self) -> dict:
        return {
            "arch": "error_predictor",
            "metrics": self.metrics,
            "feature_width": self.feature_width,
            "squeeze": self.squeeze_width,
            "width": self.width,
            "blocks": self.blocks,
        }


def predictor_image(inputs: Mapping[str, torch.Tensor], denoised: torch.Tensor, spp: torch.Tensor) -> torch.Tensor:
    """The per-pixel image channels: §6.1 features of colour, its relative variance, albedo and
    normal, log(1 + denoised) and log2(spp)/10 (spp: N×1×H×W sample counts)."""
    feats = make_features(inputs, PREDICTOR_BUFFERS)
    return torch.cat([feats, torch.log1p(denoised.clamp_min(0)), torch.log2(spp.clamp_min(1)) / 10], 1)
