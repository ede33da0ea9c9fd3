"""Loss specialisation (Vogels et al. 2018, §4.3, Fig. 8): a shallow module on top of the frozen
features of a pre-trained denoiser that also receives a per-pixel λ map, followed by its own kernel
predictor. λ = 1 is the symmetric loss; larger λ keeps more of the input (less bias, more noise).
`LambdaKPCN` specialises a KPCN; `LambdaUNet` a U-Net preset, with one specialiser and predictor
per scale (λ averaged down to each scale) and the backbone's frozen scale compositor.

`features()` is the frozen backbone and does not depend on λ, and neither does `lambda_free()`, the
specialisers' first convolution applied to the features alone; an interactive session computes
both once and re-runs only `tail(features, inputs, λ, lambda_free)` when the artist moves the slider.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
import torch.nn.functional as F
from torch import nn

from .blocks import ResBlock, conv3x3, xavier_init
from .kpcn import KPCN, KernelPredictor, KPCNConfig, albedo_factor
from .multiscale import down2, pad_to_multiple
from .unet import UNetConfig, UNetKPCN

LAMBDA_MAX = 10.0


def lambda_channel(lam, like: torch.Tensor) -> torch.Tensor:
    """λ as the network sees it: log λ / log λ_max, shape N×1×H×W."""
    if not torch.is_tensor(lam):
        lam = torch.tensor(float(lam))
    lam = lam.to(like.dtype)
    if lam.ndim == 2:
        lam = lam[None, None]
    elif lam.ndim == 3:
        lam = lam[:, None]
    return (torch.log(lam) / torch.log(torch.tensor(LAMBDA_MAX))).expand(like.shape[0], 1, *like.shape[2:])


class LossSpecialiser(nn.Module):
    """Residual correction of the frozen features given λ. The last conv starts at zero, so an
    untrained specialiser passes the features through and training starts from the backbone's
    own (symmetric) result instead of from scratch. `gated`: the correction is scaled by
    log λ / log λ_max, so λ = 1 returns the backbone's features exactly, however long it trains
    (the paper's "λ = 1 reverts back to the symmetric loss", kept by construction; ungated, our
    λ = 1 output drifted from the backbone's and its error tails grew)."""

    def __init__(self, width: int, blocks: int = 2, gated: bool = False):
        super().__init__()
        self.inp = conv3x3(width + 1, width)
        self.blocks = nn.Sequential(*[ResBlock(width) for _ in range(blocks)])
        self.out = conv3x3(width, width)
        self.gated = gated

    def zero_init(self) -> None:
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)  # type: ignore[arg-type]  # conv3x3 has a bias

    def lambda_free(self, feats: torch.Tensor) -> torch.Tensor:
        """The first conv's response to the features alone (with its bias). The conv is linear in
        its input channels (zero padding), so this part is the same for every λ and a session
        caches it. Equal to the one conv over [features, λ] up to float rounding (under bf16
        autocast the two parts round separately: one bf16 step at most)."""
        assert self.inp.padding_mode == "zeros", "the split needs a zero-padded first conv"
        w = self.inp.weight[:, : feats.shape[1]]
        return F.conv2d(torch.relu(feats), w, self.inp.bias, padding=self.inp.padding)

    def forward(
        self, feats: torch.Tensor, lam_ch: torch.Tensor, lambda_free: torch.Tensor | None = None
    ) -> torch.Tensor:
        x = self.lambda_free(feats) if lambda_free is None else lambda_free
        x = x + F.conv2d(lam_ch.to(x.dtype), self.inp.weight[:, -1:], padding=self.inp.padding)  # λ: last channel
        delta = self.out(torch.relu(self.blocks(x)))
        return feats + (lam_ch * delta if self.gated else delta)


class LambdaKPCN(nn.Module):
    """Frozen KPCN backbone (`backbone.encoders`, `backbone.extractor`) + specialiser + predictor.
    With `gated`, the predictor stays the backbone's (frozen by the training task) and λ = 1 is
    exactly the backbone."""

    def __init__(self, backbone: dict, blocks: int = 2, gated: bool = False):
        super().__init__()
        self.backbone = KPCN(KPCNConfig(**backbone))
        c = self.backbone.config
        self.gated = gated
        self.specialiser = LossSpecialiser(c.width, blocks, gated)
        self.predictor = KernelPredictor(c.width, c.kernel)
        xavier_init(self.specialiser)
        self.specialiser.zero_init()
        xavier_init(self.predictor)
        self.config = c
        self.blocks = blocks

    def start_from_backbone(self) -> None:
        """Copy the trained backbone's kernel predictor: with the zero-initialised specialiser the
        model then equals the backbone for every λ before specialisation."""
        self.predictor.load_state_dict(self.backbone.predictor.state_dict())

    def receptive_radius(self) -> int:
        return self.backbone.receptive_radius() + 2 + 2 * self.blocks

    @property
    def default_source(self) -> str:
        return self.backbone.default_source

    def features(self, inputs: Mapping[str, torch.Tensor], source: str | None = None) -> torch.Tensor:
        return self.backbone.features(inputs, source)

    def lambda_free(self, feats: torch.Tensor) -> torch.Tensor:
        return self.specialiser.lambda_free(feats)

    def tail(
        self, feats: torch.Tensor, inputs: Mapping[str, torch.Tensor], lam=1.0, lambda_free: torch.Tensor | None = None
    ) -> torch.Tensor:
        f = self.specialiser(feats, lambda_channel(lam, feats), lambda_free)
        radiance = self.backbone.radiance(inputs)
        out = self.predictor(f, radiance)
        return out * albedo_factor(inputs) if self.config.demodulate else out

    def forward(self, inputs: Mapping[str, torch.Tensor], source: str | None = None, lam=1.0) -> torch.Tensor:
        return self.tail(self.features(inputs, source), inputs, lam)

    def spec(self) -> dict:
        from dataclasses import asdict

        return {"arch": "kpcn_lambda", "backbone": asdict(self.config), "blocks": self.blocks, "gated": self.gated}


class LambdaUNet(nn.Module):
    """Frozen U-Net preset + per-scale specialisers and kernel predictors (copied from its heads)."""

    def __init__(self, backbone: dict, blocks: int = 2, gated: bool = False):
        super().__init__()
        spec = {**backbone, "widths": tuple(backbone.get("widths", UNetConfig().widths))}
        self.backbone = UNetKPCN(UNetConfig(**spec))
        c = self.backbone.config
        if c.head != "kernel":
            raise ValueError("λ control needs a kernel-predicting backbone (head: kernel)")
        self.gated = gated
        self.specialisers = nn.ModuleList([LossSpecialiser(w, blocks, gated) for w in c.widths[: c.levels]])
        self.predictors = nn.ModuleList([KernelPredictor(w, c.kernel) for w in c.widths[: c.levels]])
        xavier_init(self.specialisers)
        xavier_init(self.predictors)
        for s in self.specialisers:
            s.zero_init()  # type: ignore[operator]  # a LossSpecialiser
        self.config = c
        self.blocks = blocks
        self.stride = self.backbone.stride

    def start_from_backbone(self) -> None:
        self.predictors.load_state_dict(self.backbone.heads.state_dict())

    def receptive_radius(self) -> int:
        # specialiser convs at up to the coarsest kernel scale
        return self.backbone.receptive_radius() + 2 ** (self.config.levels - 1) * (2 + 2 * self.blocks)

    @property
    def default_source(self) -> str:
        return self.backbone.default_source

    def features(self, inputs: Mapping[str, torch.Tensor], source: str | None = None) -> list[torch.Tensor]:
        padded, _ = pad_to_multiple(inputs, self.stride)
        return self.backbone.features(padded, source)

    def lambda_free(self, feats: list[torch.Tensor]) -> list[torch.Tensor]:
        return [spec.lambda_free(f) for spec, f in zip(self.specialisers, feats)]  # type: ignore[operator]

    def tail(
        self,
        feats: list[torch.Tensor],
        inputs: Mapping[str, torch.Tensor],
        lam=1.0,
        lambda_free: list[torch.Tensor] | None = None,
    ) -> torch.Tensor:
        H, W = inputs["color"].shape[2:]
        padded, _ = pad_to_multiple({**inputs, "lambda": lambda_channel(lam, inputs["color"])}, self.stride)
        lam_ch = padded.pop("lambda")
        adjusted = []
        for i, (spec, f) in enumerate(zip(self.specialisers, feats)):
            while lam_ch.shape[-1] != f.shape[-1]:
                lam_ch = down2(lam_ch)
            adjusted.append(spec(f, lam_ch, None if lambda_free is None else lambda_free[i]))
        return self.backbone.reconstruct(adjusted, padded, self.predictors)[..., :H, :W]

    def forward(self, inputs: Mapping[str, torch.Tensor], source: str | None = None, lam=1.0) -> torch.Tensor:
        return self.tail(self.features(inputs, source), inputs, lam)

    def spec(self) -> dict:
        b = self.backbone.spec()
        b.pop("arch")
        return {"arch": "unet_lambda", "backbone": b, "blocks": self.blocks, "gated": self.gated}


def lambda_model(backbone_spec: dict, blocks: int = 2, gated: bool = False) -> nn.Module:
    """The λ model for a backbone spec ({"arch": ..., **arguments})."""
    spec = dict(backbone_spec)
    arch = spec.pop("arch", "kpcn")
    if arch == "kpcn":
        return LambdaKPCN(spec, blocks, gated)
    if arch == "unet":
        return LambdaUNet(spec, blocks, gated)
    raise ValueError(f"λ control is implemented for kpcn and unet backbones, not '{arch}'")
