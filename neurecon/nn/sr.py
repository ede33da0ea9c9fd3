"""SR generators: EDSR (Lim et al. 2017; EDSR-baseline is its 64×16 no-scaling variant) and RCAN
(Zhang et al. 2018), architectures ``edsr`` and ``rcan`` of :mod:`neurecon.models.registry`.

Inputs and outputs are N×3×H×W sRGB values in [0, 1]; the networks subtract the DIV2K mean, work
in residual space, and return ``scale``× larger images (any H, W — odd sizes included). Spec
dicts are ``{"arch": "edsr"|"rcan", **constructor kwargs}``; the SR task's presets
(:mod:`neurecon.tasks.sr.models`) name the papers' sizes and small ones that train on a CPU.
"""

from __future__ import annotations

import math

import torch
from torch import nn

DIV2K_MEAN = (0.4488, 0.4371, 0.4040)


def conv3(cin: int, cout: int) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, 3, padding=1)


class MeanShift(nn.Module):
    def __init__(self, mean=DIV2K_MEAN, sign: float = -1.0):
        super().__init__()
        self.register_buffer("bias", sign * torch.tensor(mean, dtype=torch.float32).view(1, 3, 1, 1), persistent=False)

    def forward(self, x):
        return x + self.bias


class Upsampler(nn.Sequential):
    """Sub-pixel convolution: ×2^k as k (conv → PixelShuffle(2)) stages, ×3 as one stage."""

    def __init__(self, scale: int, n_feats: int):
        layers: list[nn.Module] = []
        if scale & (scale - 1) == 0:
            for _ in range(int(math.log2(scale))):
                layers += [conv3(n_feats, 4 * n_feats), nn.PixelShuffle(2)]
        elif scale == 3:
            layers += [conv3(n_feats, 9 * n_feats), nn.PixelShuffle(3)]
        else:
            raise ValueError(f"scale must be 1, 2, 3, 4 or 8, got {scale}")
        super().__init__(*layers)


class ResBlock(nn.Module):
    """EDSR block: conv-ReLU-conv, scaled, plus identity (no batch norm)."""

    def __init__(self, n_feats: int, res_scale: float = 1.0):
        super().__init__()
        self.body = nn.Sequential(conv3(n_feats, n_feats), nn.ReLU(inplace=True), conv3(n_feats, n_feats))
        self.res_scale = res_scale

    def forward(self, x):
        return x + self.body(x) * self.res_scale


class SRNet(nn.Module):
    """Common head/body/tail skeleton and helpers (spec, freeze, halo for exact tiling)."""

    exact_tiling = True  # False when the body is not local (global pooling)

    def __init__(self, spec: dict):
        super().__init__()
        self._spec = dict(spec)
        self.scale = int(spec["scale"])

    def spec(self) -> dict:
        return dict(self._spec)

    def freeze(self) -> SRNet:
        for p in self.parameters():
            p.requires_grad_(False)
        return self.eval()

    def halo(self) -> int:
        """LR pixels of context a tile needs so that tiled == untiled: one per 3×3 conv (an upper
        bound; convs at HR resolution need less)."""
        return sum(1 for m in self.modules() if isinstance(m, nn.Conv2d) and m.kernel_size[0] == 3)

    def forward(self, x):
        x = self.sub_mean(x)
        f = self.head(x)
        f = f + self.body(f)
        return self.add_mean(self.tail(f))


class EDSR(SRNet):
    def __init__(
        self, scale: int = 2, n_feats: int = 64, n_blocks: int = 16, res_scale: float = 1.0, n_colors: int = 3
    ):
        super().__init__(
            {
                "arch": "edsr",
                "scale": scale,
                "n_feats": n_feats,
                "n_blocks": n_blocks,
                "res_scale": res_scale,
                "n_colors": n_colors,
            }
        )
        self.sub_mean, self.add_mean = MeanShift(sign=-1), MeanShift(sign=1)
        self.head = conv3(n_colors, n_feats)
        self.body = nn.Sequential(*[ResBlock(n_feats, res_scale) for _ in range(n_blocks)], conv3(n_feats, n_feats))
        self.tail = nn.Sequential(Upsampler(scale, n_feats), conv3(n_feats, n_colors))


class ChannelAttention(nn.Module):
    def __init__(self, n_feats: int, reduction: int):
        super().__init__()
        mid = max(1, n_feats // reduction)
        self.body = nn.Sequential(
            nn.AdaptiveAvgPool2d(1),
            nn.Conv2d(n_feats, mid, 1),
            nn.ReLU(inplace=True),
            nn.Conv2d(mid, n_feats, 1),
            nn.Sigmoid(),
        )

    def forward(self, x):
        return x * self.body(x)


class RCAB(nn.Module):
    def __init__(self, n_feats: int, reduction: int):
        super().__init__()
        self.body = nn.Sequential(
            conv3(n_feats, n_feats),
            nn.ReLU(inplace=True),
            conv3(n_feats, n_feats),
            ChannelAttention(n_feats, reduction),
        )

    def forward(self, x):
        return x + self.body(x)


class ResidualGroup(nn.Module):
    def __init__(self, n_feats: int, n_blocks: int, reduction: int):
        super().__init__()
        self.body = nn.Sequential(*[RCAB(n_feats, reduction) for _ in range(n_blocks)], conv3(n_feats, n_feats))

    def forward(self, x):
        return x + self.body(x)


class RCAN(SRNet):
    # channel attention pools over the whole input: tiles see per-tile statistics
    exact_tiling = False

    def __init__(
        self,
        scale: int = 2,
        n_feats: int = 64,
        n_groups: int = 10,
        n_blocks: int = 20,
        reduction: int = 16,
        n_colors: int = 3,
    ):
        super().__init__(
            {
                "arch": "rcan",
                "scale": scale,
                "n_feats": n_feats,
                "n_groups": n_groups,
                "n_blocks": n_blocks,
                "reduction": reduction,
                "n_colors": n_colors,
            }
        )
        self.sub_mean, self.add_mean = MeanShift(sign=-1), MeanShift(sign=1)
        self.head = conv3(n_colors, n_feats)
        self.body = nn.Sequential(
            *[ResidualGroup(n_feats, n_blocks, reduction) for _ in range(n_groups)], conv3(n_feats, n_feats)
        )
        self.tail = nn.Sequential(Upsampler(scale, n_feats), conv3(n_feats, n_colors))
