"""Generic layers shared by every network in neurecon."""
from __future__ import annotations

import torch
from torch import nn


def conv3x3(cin: int, cout: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, 3, stride=stride, padding=1)


class ResBlock(nn.Module):
    """Two 3×3 convolutions bypassed by a skip (Vogels et al. 2018, Fig. 2 right)."""

    def __init__(self, width: int):
        super().__init__()
        self.conv1 = conv3x3(width, width)
        self.conv2 = conv3x3(width, width)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv2(torch.relu(self.conv1(torch.relu(x))))


def xavier_init(module: nn.Module) -> nn.Module:
    """Xavier-uniform weights and zero biases for every conv (§6.2)."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            nn.init.xavier_uniform_(m.weight)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
    return module


def freeze(module: nn.Module) -> nn.Module:
    """Lock a trained part (encoders, extractors) so later stages train only what sits on top."""
    for p in module.parameters():
        p.requires_grad_(False)
    module.eval()
    return module
