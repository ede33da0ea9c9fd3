"""Blind super-resolution networks (Hui et al. 2021, AMNet / AMGAN / AMGAN-RL):

* :class:`ModulatedEDSR` (architecture ``amnet``): the EDSR body of :mod:`neurecon.nn.sr` with a
  per-layer, per-channel scale and shift computed from a degradation code (σ of the blur, or a
  kernel code): in every residual block ``h = conv₁(x); h = h·(1 + γ_b(c)) + β_b(c); x + conv₂(ReLU(h))``.
  γ and β come from one small MLP of the code whose last layer starts at zero, so an untrained
  modulation is the identity and the network starts as a plain EDSR (an EDSR checkpoint of the same
  size loads into it: :meth:`ModulatedEDSR.load_edsr`). The code is constant over the image, so
  the network stays local and tiles exactly (:class:`WithCode`).
* :class:`DegradationEstimator` (``degradation_estimator``): the actor μ(s): convolutions at LR
  resolution, a global mean, an MLP → the code; a σ code is bounded to ``out_range`` by a sigmoid.
  Pre-trained by regression on the true codes, refined by the actor–critic stage.
* :class:`Critic`: Q(s, a), an encoder of the LR image like the actor's joined with the action.
* :class:`Discriminator`: VGG-style (3×3 conv, then 4×4 stride-2 conv per level, LeakyReLU 0.2),
  a global mean and two linear layers → ``outputs`` numbers: 1 logit (standard / relativistic GAN)
  or the N outcome logits of RealnessGAN (a distribution after softmax).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .sr import MeanShift, SRNet, Upsampler, conv3


class ModulatedResBlock(nn.Module):
    def __init__(self, n_feats: int, res_scale: float = 1.0):
        super().__init__()
        self.conv1, self.conv2 = conv3(n_feats, n_feats), conv3(n_feats, n_feats)
        self.res_scale = res_scale

    def forward(self, x: torch.Tensor, gamma: torch.Tensor, beta: torch.Tensor) -> torch.Tensor:
        h = self.conv1(x)
        h = h * (1 + gamma[..., None, None]) + beta[..., None, None]
        return x + self.conv2(F.relu(h)) * self.res_scale


class ModulatedEDSR(SRNet):
    """EDSR modulated by a degradation code: ``forward(lr, code)`` with code N×code_dim (or 1×D,
    broadcast)."""

    def __init__(
        self,
        scale: int = 4,
        n_feats: int = 32,
        n_blocks: int = 8,
        res_scale: float = 1.0,
        n_colors: int = 3,
        code: str = "sigma",
        code_dim: int = 1,
        code_hidden: int = 64,
        code_range: tuple[float, float] | list[float] = (0.2, 4.0),
    ):
        super().__init__(
            {
                "arch": "amnet",
                "scale": scale,
                "n_feats": n_feats,
                "n_blocks": n_blocks,
                "res_scale": res_scale,
                "n_colors": n_colors,
                "code": code,
                "code_dim": code_dim,
                "code_hidden": code_hidden,
                "code_range": [float(v) for v in code_range],
            }
        )
        self.code_kind, self.code_dim = code, int(code_dim)
        self.code_range = (float(code_range[0]), float(code_range[1]))
        self.n_feats, self.n_blocks = n_feats, n_blocks
        self.sub_mean, self.add_mean = MeanShift(sign=-1), MeanShift(sign=1)
        self.head = conv3(n_colors, n_feats)
        self.blocks = nn.ModuleList([ModulatedResBlock(n_feats, res_scale) for _ in range(n_blocks)])
        self.body_end = conv3(n_feats, n_feats)
        self.tail = nn.Sequential(Upsampler(scale, n_feats), conv3(n_feats, n_colors))
        self.modulation = nn.Sequential(
            nn.Linear(code_dim, code_hidden),
            nn.ReLU(inplace=True),
            nn.Linear(code_hidden, code_hidden),
            nn.ReLU(inplace=True),
            nn.Linear(code_hidden, 2 * n_feats * n_blocks),
        )
        last = self.modulation[-1]
        assert isinstance(last, nn.Linear)
        nn.init.zeros_(last.weight)
        nn.init.zeros_(last.bias)

    def modulations(self, code: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """γ, β: N×n_blocks×n_feats each."""
        if code.ndim == 1:
            code = code[:, None] if self.code_dim == 1 else code[None]
        m = self.modulation(code.float()).view(code.shape[0], self.n_blocks, 2, self.n_feats)
        return m[:, :, 0], m[:, :, 1]

    def forward(self, x: torch.Tensor, code: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        gamma, beta = self.modulations(code.to(x.device))
        if gamma.shape[0] == 1 and x.shape[0] > 1:
            gamma, beta = gamma.expand(x.shape[0], -1, -1), beta.expand(x.shape[0], -1, -1)
        f = self.head(self.sub_mean(x))
        h = f
        for b, block in enumerate(self.blocks):
            h = block(h, gamma[:, b].to(h.dtype), beta[:, b].to(h.dtype))
        f = f + self.body_end(h)
        return self.add_mean(self.tail(f))

    def load_edsr(self, state: dict[str, torch.Tensor]) -> None:
        """Start from a plain EDSR of the same size (``body.{b}.body.{0,2}`` → ``blocks.{b}.conv{1,2}``,
        ``body.{n}`` → ``body_end``); the modulation keeps its identity start."""
        mapped = {}
        for k, v in state.items():
            parts = k.split(".")
            if parts[0] == "body" and int(parts[1]) < self.n_blocks:
                conv = {"0": "conv1", "2": "conv2"}[parts[3]]
                mapped[f"blocks.{parts[1]}.{conv}.{parts[4]}"] = v
            elif parts[0] == "body":
                mapped[f"body_end.{parts[2]}"] = v
            else:
                mapped[k] = v
        missing, unexpected = self.load_state_dict(mapped, strict=False)
        if unexpected or any(not m.startswith("modulation.") for m in missing):
            raise ValueError(f"not an EDSR of this size: missing {missing}, unexpected {unexpected}")


class WithCode(nn.Module):
    """A modulated generator with a fixed code: ``forward(lr)``, ``scale`` and ``halo()`` as a plain
    SR network, so the tiler and :func:`neurecon.infer.upscale.upscale_tensor` run it unchanged."""

    def __init__(self, net: nn.Module, code: torch.Tensor | list[float]):
        super().__init__()
        self.net = net
        self.scale = net.scale
        self.register_buffer("code", torch.as_tensor(code, dtype=torch.float32).reshape(1, -1), persistent=False)

    def halo(self) -> int:
        return int(self.net.halo())  # type: ignore[operator]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x, self.code)


def _encoder(width: int, depth: int) -> nn.Sequential:
    layers: list[nn.Module] = [conv3(3, width), nn.LeakyReLU(0.1, inplace=True)]
    for _ in range(depth - 1):
        layers += [conv3(width, width), nn.LeakyReLU(0.1, inplace=True)]
    return nn.Sequential(*layers)


class DegradationEstimator(nn.Module):
    """μ(LR) → degradation code (N×code_dim), one code per image.

    The image is normalised (its mean removed, divided by its standard deviation: blur is a
    property of the edges, not of brightness or contrast), convolutions at LR resolution give at
    every pixel a local estimate and a confidence logit, and the estimates are averaged with the
    softmax of the confidences over the whole image (flat regions carry no blur information; edges
    do). A σ code is ``lo + (hi − lo)·sigmoid(z)`` in ``out_range``; ``out_range: null`` leaves it
    unbounded (kernel codes)."""

    def __init__(
        self,
        width: int = 32,
        depth: int = 5,
        code: str = "sigma",
        code_dim: int = 1,
        out_range: tuple[float, float] | list[float] | None = (0.2, 4.0),
    ):
        super().__init__()
        self._spec = {
            "arch": "degradation_estimator",
            "width": width,
            "depth": depth,
            "code": code,
            "code_dim": code_dim,
            "out_range": None if out_range is None else [float(v) for v in out_range],
        }
        self.code_kind, self.code_dim = code, code_dim
        self.out_range = None if out_range is None else (float(out_range[0]), float(out_range[1]))
        self.features = _encoder(width, depth)
        self.local = nn.Conv2d(width, code_dim, 1)
        self.confidence = nn.Conv2d(width, 1, 1)

    def spec(self) -> dict:
        return dict(self._spec)

    def freeze(self) -> DegradationEstimator:
        for p in self.parameters():
            p.requires_grad_(False)
        return self.eval()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x - x.mean((1, 2, 3), keepdim=True)
        x = x / (x.std((1, 2, 3), keepdim=True) + 1e-2)
        f = self.features(x)
        z = self.local(f).flatten(2)  # N×D×HW local estimates
        w = torch.softmax(self.confidence(f).flatten(2), dim=-1)  # N×1×HW
        z = (z * w).sum(-1)
        if self.out_range is None:
            return z
        lo, hi = self.out_range
        return lo + (hi - lo) * torch.sigmoid(z)


class Critic(nn.Module):
    """Q(s, a): an LR-image encoder (global mean and RMS of its features) joined with the action by
    an MLP → one number per sample. ``hint_dim`` > 0 adds a further per-state input (``hint``: any
    fixed function of s, e.g. the frozen pre-trained actor's estimate), so a critic trained for
    few steps need not relearn from pixels what the actor learnt in its pre-training."""

    def __init__(self, width: int = 32, depth: int = 4, action_dim: int = 1, hidden: int = 64, hint_dim: int = 0):
        super().__init__()
        self.sub_mean = MeanShift(sign=-1)
        self.features = _encoder(width, depth)
        self.hint_dim = hint_dim
        self.mlp = nn.Sequential(
            nn.Linear(2 * width + action_dim + hint_dim, hidden),
            nn.LeakyReLU(0.1, inplace=True),
            nn.Linear(hidden, hidden),
            nn.LeakyReLU(0.1, inplace=True),
            nn.Linear(hidden, 1),
        )

    def encode(self, s: torch.Tensor) -> torch.Tensor:
        f = self.features(self.sub_mean(s))
        return torch.cat([f.mean((2, 3)), f.pow(2).mean((2, 3)).add(1e-8).sqrt()], 1)

    def forward(self, s: torch.Tensor, a: torch.Tensor, hint: torch.Tensor | None = None) -> torch.Tensor:
        parts = [self.encode(s), a.reshape(a.shape[0], -1)]
        if self.hint_dim:
            if hint is None:
                raise ValueError("this critic takes a hint (hint_dim > 0)")
            parts.append(hint.reshape(hint.shape[0], -1))
        return self.mlp(torch.cat(parts, 1)).squeeze(1)


class Discriminator(nn.Module):
    """VGG-style discriminator of HR patches (any size ≥ 2^levels): per level a 3×3 conv and a 4×4
    stride-2 conv (LeakyReLU 0.2, no normalisation), widths ``nf·2^l`` capped at 8·nf, then a global
    mean, Linear(…, 100), LeakyReLU, Linear(100, outputs)."""

    def __init__(self, nf: int = 16, levels: int = 4, outputs: int = 1, in_ch: int = 3):
        super().__init__()
        layers: list[nn.Module] = []
        cin = in_ch
        for lvl in range(levels):
            w = nf * min(2**lvl, 8)
            layers += [
                nn.Conv2d(cin, w, 3, padding=1),
                nn.LeakyReLU(0.2, inplace=True),
                nn.Conv2d(w, w, 4, stride=2, padding=1),
                nn.LeakyReLU(0.2, inplace=True),
            ]
            cin = w
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Sequential(nn.Linear(cin, 100), nn.LeakyReLU(0.2, inplace=True), nn.Linear(100, outputs))
        self.outputs = outputs

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x * 2 - 1).mean((2, 3)))
