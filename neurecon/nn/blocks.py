"""Generic layers shared by every network in neurecon."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .portable import portable


def conv3x3(cin: int, cout: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, 3, stride=stride, padding=1)


def _fusable(x: torch.Tensor, weight: torch.Tensor) -> bool:
    """Whether oneDNN's convolution with a fused activation applies: CPU inference in fp32 (no
    autograd, no autocast), the op present in this torch build, and an input large enough that
    torch's own conv2d would run oneDNN too (one image in fp32: more than 20480 input values,
    ATen's `use_mkldnn` rule; smaller ones take its native kernel, whose rounding differs)."""
    return (
        x.numel() > 20480
        and x.device.type == "cpu"
        and x.dtype == torch.float32
        and weight.dtype == torch.float32
        and not torch.is_grad_enabled()
        and not torch.is_autocast_enabled("cpu")
        and _HAS_POINTWISE
        and not portable()
    )


_HAS_POINTWISE = torch.backends.mkldnn.is_available() and hasattr(torch.ops.mkldnn, "_convolution_pointwise")


def conv_act(conv: nn.Conv2d, x: torch.Tensor, relu: bool = True) -> torch.Tensor:
    """`conv(x)`, then a ReLU if `relu`. In fp32 CPU inference the ReLU runs inside the oneDNN
    convolution as a post-op (bit-identical: the same primitive, the activation applied to its
    fp32 result before it is stored), which saves one pass over the output and one operator call;
    everywhere else (training, bf16 autocast) it is the module followed by an in-place ReLU."""
    if _fusable(x, conv.weight) and conv.padding_mode == "zeros" and not isinstance(conv.padding, str):
        return torch.ops.mkldnn._convolution_pointwise(
            x,
            conv.weight,
            conv.bias,
            list(conv.padding),
            list(conv.stride),
            list(conv.dilation),
            conv.groups,
            "relu" if relu else "none",
            [],
            "",
        )
    y = conv(x)
    return y.relu_() if relu else y


def pointwise_planar(conv: nn.Conv2d, x: torch.Tensor) -> torch.Tensor:
    """A 1×1 convolution whose output is planar (NCHW-contiguous) whatever the input's layout.
    On a channels-last input it is one GEMM, weight (O×C) · pixelsᵀ (C×HW), which writes planes
    directly: 2.5× faster at 256² than the conv (whose 1×1 channels-last path is PyTorch's slow
    generic one) plus the transpose to planes that per-plane consumers need."""
    assert conv.kernel_size == (1, 1) and conv.stride == (1, 1) and conv.groups == 1, "a plain 1×1 conv"
    N, C, H, W = x.shape
    if portable():
        return F.conv2d(x, conv.weight, conv.bias)
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


def _upsampled_phases(w: torch.Tensor) -> torch.Tensor:
    """A 3×3 kernel (O×C×3×3) applied to a nearest-2×-upsampled image, rewritten as four 2×2
    kernels on the image itself, one per output phase (row parity a, column parity b), stacked
    as a (4·O)×C×2×2 weight in the order (0,0), (0,1), (1,0), (1,1). An even output row 2i sees
    low-res rows (i−1, i, i), an odd one (i, i, i+1): taps that land on the same row add up."""

    def fold(k: torch.Tensor, dim: int) -> list[torch.Tensor]:
        t0, t1, t2 = k.unbind(dim)
        return [torch.stack([t0, t1 + t2], dim), torch.stack([t0 + t1, t2], dim)]

    return torch.cat([kb for ka in fold(w, 2) for kb in fold(ka, 3)], 0)


def conv3x3_up2_split(conv: nn.Conv2d, coarse: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
    """`conv(torch.cat([up2(coarse), skip], 1))` (nearest 2× upsampling, zero padding) without
    the upsampled tensor or the concatenation. The convolution of a concatenation is the sum of
    its parts' convolutions; the upsampled part is one 2×2 convolution at the coarse resolution
    with the four phase kernels (2.25× fewer MACs than 3×3 at full resolution), added into the
    skip part's output phase by phase. Measured at 256², channels-last: the finest decoder level
    (48 + 32 → 32 channels) 15.4 → 11.3 ms; the fast / balanced / high presets 7–9 % faster."""
    assert (
        conv.kernel_size == (3, 3)
        and conv.padding == (1, 1)
        and conv.stride == (1, 1)
        and conv.dilation == (1, 1)
        and conv.groups == 1
    ), "a plain 3×3 conv with padding 1"
    if portable():  # the definition itself: shapes stay symbolic, no in-place phase writes
        return conv(torch.cat([F.interpolate(coarse, scale_factor=2.0, mode="nearest"), skip], 1))
    N, c, H, W = coarse.shape
    assert skip.shape[2:] == (2 * H, 2 * W), f"skip {tuple(skip.shape)} is not twice {tuple(coarse.shape)}"
    O = conv.out_channels
    out = F.conv2d(skip, conv.weight[:, c:], conv.bias, padding=1)
    # window p of the 1-padded coarse image covers rows p−1, p: phase 0 of row i uses window i,
    # phase 1 window i+1 (likewise for columns)
    padded = F.pad(coarse, (1, 1, 1, 1))
    kernels = _upsampled_phases(conv.weight[:, :c])
    # Without autograd one phase at a time: the four phases' convolution is as large as `out`
    # itself, one phase a quarter of it (the same arithmetic per output: the output channels of
    # one convolution are independent). With autograd, one convolution (fewer saved tensors).
    groups = 1 if torch.is_grad_enabled() else 4
    for g in range(groups):
        n = 4 // groups
        phases = F.conv2d(padded, kernels[g * n * O : (g + 1) * n * O])
        for j in range(n):
            a, b = divmod(g * n + j, 2)
            out[:, :, a::2, b::2] += phases[:, j * O : (j + 1) * O, a : a + H, b : b + W]
        del phases
    return out


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
