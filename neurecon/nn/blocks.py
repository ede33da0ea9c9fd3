"""Generic layers shared by every network in neurecon."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def conv3x3(cin: int, cout: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, 3, stride=stride, padding=1)


def pointwise_planar(conv: nn.Conv2d, x: torch.Tensor) -> torch.Tensor:
    """A 1×1 convolution whose output is planar (NCHW-contiguous) whatever the input's layout.
    On a channels-last input it is one GEMM, weight (O×C) · pixelsᵀ (C×HW), which writes planes
    directly: 2.5× faster at 256² than the conv (whose 1×1 channels-last path is PyTorch's slow
    generic one) plus the transpose to planes that per-plane consumers need."""
    assert conv.kernel_size == (1, 1) and conv.stride == (1, 1) and conv.groups == 1, "a plain 1×1 conv"
    N, C, H, W = x.shape
    if x.is_contiguous() or not x.is_contiguous(memory_format=torch.channels_last):
        return F.conv2d(x, conv.weight, conv.bias).contiguous()
    w = conv.weight.reshape(conv.out_channels, C)
    bias = conv.bias[:, None] if conv.bias is not None else w.new_zeros(conv.out_channels, 1)
    pixels = x.permute(0, 2, 3, 1).reshape(N, H * W, C)  # a view of the channels-last storage
    # one 2-D addmm per image: batched matmul would compute pixels·wᵀ and transpose it after
    if N == 1:
        out = torch.addmm(bias, w, pixels[0].t())[None]
    else:
        out = torch.stack([torch.addmm(bias, w, p.t()) for p in pixels])
    return out.view(N, conv.out_channels, H, W)


def conv3x3_split(conv: nn.Conv2d, first: torch.Tensor, second: torch.Tensor) -> torch.Tensor:
    """`conv(torch.cat([first, second], 1))` without the concatenation: the convolution of a
    channel concatenation is the sum of the convolutions of its parts. Skips the copy of every
    U-Net skip connection (1.2× faster per decoder level at 256² channels-last)."""
    assert conv.stride == (1, 1) and conv.dilation == (1, 1) and conv.groups == 1, "a plain stride-1 conv"
    c = first.shape[1]
    pad = conv.padding
    return F.conv2d(first, conv.weight[:, :c], conv.bias, padding=pad).add_(
        F.conv2d(second, conv.weight[:, c:], None, padding=pad))


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
