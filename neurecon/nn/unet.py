"""U-Net kernel predictor: the speed path of Vogels et al. 2018 §9.1.

A full-resolution stack of residual blocks spends ~37 k MAC per pixel per 3×3 conv; a U-Net
spends most of its FLOPs at low resolution (how OIDN denoises 256² in ~85 ms here). Its decoder
predicts small softmax kernels (5×5 by default) at three scales (`levels`: 3, or 4 with H/8), each
applied to that level of the colour pyramid, and the scale compositor (Eq. 5) blends them
coarsest → finest, so low-frequency noise is removed by the coarse kernels while the fine kernels
keep edges.

    source encoder → e0 (H) → e1 (H/2) → e2 (H/4) → e3 (H/8) [→ e4 (H/16)]
                     d0 ← d1 ← d2 ← e3 [← d3 ← e4] (skip connections); kernels from d2, d1, d0
                     [and from d3 (or e3 without H/16) when levels = 4]

`widths` has one entry per level: four (three poolings, bottleneck at H/8; `fast`) or five for a
deeper U-Net whose H/16 bottleneck sees ~2× the context (`balanced`, `high`: low-frequency blotches
at low spp span more pixels than a H/8 bottleneck reaches).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

import torch
from torch import nn

from .blocks import conv3x3, conv3x3_up2_split, conv_act, pointwise_planar, xavier_init
from .features import DEFAULT_SOURCES, make_features, source_width
from .kpcn import DirectPredictor, KernelPredictor, SourceEncoder, albedo_factor
from .lobes import FLAG, filtered_radiance, lobe_batch, lobe_buffers, recombine
from .multiscale import ScaleCompositor, down2, pad_to_multiple
from .precision import fp32, widen


@dataclass
class UNetConfig:
    widths: tuple[int, ...] = (16, 24, 32, 48)  # per level, H … H/2^depth: 4 (depth 3) or 5 (depth 4)
    kernel: int = 5
    sources: dict[str, list[str]] = field(default_factory=lambda: {"mitsuba": DEFAULT_SOURCES["mitsuba"]})
    head: str = "kernel"  # kernel | direct
    demodulate: bool = False
    levels: int = 3  # kernel scales: 3 (H, H/2, H/4) or 4 (+ H/8 from the bottleneck)
    albedo_ratio: bool = False  # put back albedo detail the kernels blur (AlbedoRatio), gated per pixel
    coarsest_gate: float = 1.0  # levels = 4: starting weight of the H/8 scale in α (see UNetKPCN)
    decompose: bool = False  # denoise diffuse and specular as a batch of two, flagged (nn/lobes.py)

    @property
    def uses_albedo(self) -> bool:
        """Whether the reconstruction reads the albedo itself (not only as an input feature)."""
        return self.demodulate or self.albedo_ratio or self.decompose

    def reconstruction_buffers(self, source: str) -> list[str]:
        """Planes the reconstruction reads besides the source's features and the colour."""
        return (["albedo"] if self.uses_albedo else []) + (lobe_buffers(self.sources[source]) if self.decompose else [])


def _block(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(conv3x3(cin, cout), nn.ReLU(inplace=True), conv3x3(cout, cout), nn.ReLU(inplace=True))


def _run_block(block: nn.Sequential, x: torch.Tensor) -> torch.Tensor:
    """block(x) for a `_block` (conv, ReLU, conv, ReLU), each ReLU fused into its conv where it
    can be (blocks.conv_act: bit-identical)."""
    first, second = block[0], block[2]
    assert isinstance(first, nn.Conv2d) and isinstance(second, nn.Conv2d)
    return conv_act(second, conv_act(first, x))


def _decode(block: nn.Sequential, coarse: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
    """block(cat([up2(coarse), skip])), its first conv computed without either tensor."""
    first, second = block[0], block[2]
    assert isinstance(first, nn.Conv2d) and isinstance(second, nn.Conv2d)
    x = conv3x3_up2_split(first, coarse, skip).relu_()
    del skip  # a caller that handed the skip over (features) has it freed before the second conv
    return conv_act(second, x)


def _identity_on_skip(block: nn.Sequential, skip_width: int) -> None:
    """Make a decoder block pass its skip input through unchanged (its upsampled input weighted 0):
    for non-negative skips (ReLU outputs), block(cat([up, skip])) = skip."""
    first, second = block[0], block[2]
    assert isinstance(first, nn.Conv2d) and isinstance(second, nn.Conv2d)
    with torch.no_grad():
        for conv, offset in ((first, first.in_channels - skip_width), (second, 0)):
            assert conv.bias is not None
            conv.weight.zero_()
            conv.bias.zero_()
            conv.weight[torch.arange(skip_width), offset + torch.arange(skip_width), 1, 1] = 1.0


class AlbedoRatio(nn.Module):
    """Texture the kernels averaged away, put back from the (nearly noise-free) albedo.

    The kernels and the compositor's α define one linear filter L per pixel; they are applied to
    the albedo f alongside the colour c. Where shading s is smooth, c ≈ f·s, so L(c) ≈ L(f)·s and
    L(c)·f / L(f) ≈ f·s: the albedo's detail at the radiance's noise level. Full demodulation
    (filtering c / f) does this everywhere and fails where Mitsuba's albedo AOV is 0 (conductors,
    sky) or shading is not smooth; here a per-pixel gate g ∈ [0, 1] from the finest decoder
    features decides, out = L(c)·(1 + g·(ratio − 1)). The gate starts at 0 (weights zero), so a
    model fine-tuned with this on computes exactly what it did before. Under a λ specialiser the
    (frozen) gate reads the specialised finest features, so λ steers it too; at λ = 1 those are the
    backbone's own."""

    EPS = 1e-2  # albedo is in [0, 1]; ε keeps black albedo from dividing by zero
    MAX = 4.0  # a bright texel next to dark ones; beyond 4× it is more likely a wrong L(f)

    def __init__(self, width: int):
        super().__init__()
        self.gate = nn.Conv2d(width, 1, 1)
        nn.init.zeros_(self.gate.weight)
        nn.init.zeros_(self.gate.bias)  # type: ignore[arg-type]  # Conv2d's bias exists (bias=True)

    def gate_map(self, feats: torch.Tensor) -> torch.Tensor:
        """g ∈ [0, 1], N×1×H×W (clamp passes gradient at exactly 0, so a closed gate can open)."""
        with fp32():
            return pointwise_planar(self.gate, widen(feats)).clamp(0, 1)

    def forward(
        self, filtered: torch.Tensor, filtered_albedo: torch.Tensor, albedo: torch.Tensor, feats: torch.Tensor
    ) -> torch.Tensor:
        return self.apply_gate(filtered, filtered_albedo, albedo, self.gate_map(feats))

    def apply_gate(
        self, filtered: torch.Tensor, filtered_albedo: torch.Tensor, albedo: torch.Tensor, g: torch.Tensor
    ) -> torch.Tensor:
        """forward() with the gate map g = gate_map(feats) already computed."""
        with fp32():
            ratio = ((albedo.clamp_min(0) + self.EPS) / (filtered_albedo.clamp_min(0) + self.EPS)).clamp(max=self.MAX)
            return filtered * (1 + g * (ratio - 1))


class UNetKPCN(nn.Module):
    def __init__(self, config: UNetConfig | None = None, **kw):
        super().__init__()
        if config is None:
            kw = {**kw, "widths": tuple(kw.get("widths", UNetConfig().widths))}
            config = UNetConfig(**kw)
        self.config = c = config
        if c.levels not in (3, 4):
            raise ValueError(f"levels must be 3 or 4 (kernel scales H … H/8), got {c.levels}")
        if c.albedo_ratio and (c.head != "kernel" or c.demodulate):
            raise ValueError(
                "albedo_ratio needs kernel heads (it filters the albedo with the same kernels) "
                "on radiance, not with demodulate"
            )
        if c.decompose and (c.head != "kernel" or c.demodulate or c.albedo_ratio):
            raise ValueError("decompose demodulates the diffuse itself: kernel heads, without demodulate/albedo_ratio")
        if len(c.widths) not in (4, 5):
            raise ValueError(f"widths needs 4 or 5 entries (one per level, H … H/8 or H/16), got {list(c.widths)}")
        w = c.widths
        self.depth = len(w) - 1  # 2× poolings
        self.stride = 2**self.depth  # the output is equivariant to shifts by multiples of this
        flag = 1 if c.decompose else 0  # the lobe flag channel
        self.encoders = nn.ModuleDict({n: SourceEncoder(source_width(b) + flag, w[0]) for n, b in c.sources.items()})
        for i in range(1, self.depth + 1):  # enc1 … enc3 (enc4): names kept from the 4-level presets
            setattr(self, f"enc{i}", _block(w[i - 1], w[i]))
        for i in reversed(range(self.depth)):  # dec2 … dec0 (dec3 first when deeper)
            setattr(self, f"dec{i}", _block(w[i + 1] + w[i], w[i]))
        # decoder outputs end in a ReLU, so the kernel heads need not apply another
        head = (lambda w: KernelPredictor(w, c.kernel, relu_input=False)) if c.head == "kernel" else DirectPredictor
        self.heads = nn.ModuleList([head(w) for w in c.widths[: c.levels]])
        self.compositor = ScaleCompositor(16)
        xavier_init(self)
        self.albedo_ratio = AlbedoRatio(w[0]) if c.albedo_ratio else None  # zero gate: after xavier_init
        if self.depth == 4:
            # the H/8 decoder starts as the identity on e3, so a depth-3 model loaded into this
            # one (task.init) computes exactly what it did and learns to use the H/16 context
            _identity_on_skip(self.dec3, w[3])  # type: ignore[arg-type]  # a Sequential (_block)
        if c.levels == 4:
            # The H/8 scale (5×5 kernels span 40 pixels: the blotches a flat wall keeps at low spp)
            # enters through a learned gain on its α. A 3-scale model grown into this one (task.init)
            # must start near its old output, and the new head must still learn. Measured on the
            # test split with `high` grown this way: uniform H/8 kernels spread emitters over 40
            # pixels (4-spp relMSE 0.0052 → 0.013 at gain 0.1, → 1.7 at gain 1); at gain 0 the
            # head's gradient is 0 and the gain's flips sign from batch to batch (it stayed within
            # ±2e-4 of 0 for 250 steps even at 100× the learning rate). So the H/8 kernels start as
            # near-deltas (94 % on the centre tap) and, for grown models, the gain at 0.1 (config):
            # relMSE 0.00521, DSSIM 0.0273 at the start against 0.00518 / 0.0272. (Training then
            # closed the gain on `high`: configs/pilot_high_h8.yaml.)
            self.coarsest_gate = nn.Parameter(torch.full((1,), float(c.coarsest_gate)))
            if c.head == "kernel":
                logits: Any = self.heads[3].logits
                nn.init.zeros_(logits.weight)
                nn.init.zeros_(logits.bias)
                with torch.no_grad():
                    logits.bias[c.kernel**2 // 2] = 6.0

    @property
    def default_source(self) -> str:
        return next(iter(self.config.sources))

    def receptive_radius(self) -> int:
        """Generous bound (checked by tiled == untiled in the tests): 3×3 convs at each level
        times that level's stride, kernel radii at their scales, compositor and padding slack."""
        return 4 * (2 ** (self.depth + 1) - 1) + (self.config.kernel // 2) * 2 ** (self.config.levels - 1) + 16

    def features(self, inputs: Mapping[str, torch.Tensor], source: str | None = None) -> list[torch.Tensor]:
        source = source or self.default_source
        if source not in self.encoders:
            raise ValueError(f"unknown source '{source}'; this model has encoders for {list(self.encoders)}")
        encoder: Any = self.encoders[source]  # a SourceEncoder: conv, ReLU, conv
        first, second = encoder[0], encoder[2]
        assert isinstance(first, nn.Conv2d) and isinstance(second, nn.Conv2d)
        x = make_features(inputs, self.config.sources[source])
        if self.config.decompose:
            x = torch.cat([x, inputs[FLAG].to(x.dtype)], 1)
        enc = [conv_act(second, conv_act(first, x))]
        for i in range(1, self.depth + 1):
            enc.append(_run_block(getattr(self, f"enc{i}"), down2(enc[-1])))
        feats = [enc.pop()]  # bottleneck, then d(depth−1) … d0
        for i in reversed(range(self.depth)):
            # each skip is dropped once its decoder has read it (the full-resolution e0 is the
            # largest tensor of the pass), and so is a decoder output no head reads
            feats.insert(0, _decode(getattr(self, f"dec{i}"), feats[0], enc.pop()))
            if i + 1 >= self.config.levels:  # feats[1] is level i + 1
                feats.pop(1)
        return feats[: self.config.levels]  # [d0, d1, d2, d3 or e3]

    def forward(self, inputs: Mapping[str, torch.Tensor], source: str | None = None) -> torch.Tensor:
        padded, (H, W) = pad_to_multiple(inputs, self.stride)
        if self.config.decompose:  # one network, diffuse and specular as a batch of two
            batch = lobe_batch(padded)
            feats = self.features(batch, source)
            filtered = self.reconstruct(feats, {**batch, "color": filtered_radiance(batch)}, consume=True)
            return recombine(filtered, padded)[..., :H, :W]
        return self.reconstruct(self.features(padded, source), padded, consume=True)[..., :H, :W]

    def reconstruct(
        self,
        feats: list[torch.Tensor],
        padded: Mapping[str, torch.Tensor],
        heads: nn.ModuleList | None = None,
        consume: bool = False,
    ) -> torch.Tensor:
        """Apply one head per scale to that level of the radiance pyramid and composite the
        results coarsest → finest. `heads` replaces the model's own (the λ specialiser's).
        `consume=True` hands `feats` over (the list is emptied): each feature map is released as
        soon as its head has read it, instead of living until the end of the call."""
        c = padded["color"]
        radiance = c / albedo_factor(padded) if self.config.demodulate else c
        if self.albedo_ratio is not None:  # the same kernels and α filter the albedo: L(f)
            radiance = torch.cat([radiance, padded["albedo"].clamp_min(0)], 1)
        levels: list[torch.Tensor | None] = [radiance]
        for _ in range(self.config.levels - 1):
            levels.append(down2(levels[-1]))  # type: ignore[arg-type]  # set just above
        del radiance
        maps: list[torch.Tensor | None] = list(feats)
        if consume:
            feats.clear()
        # the albedo gate reads the finest features: computed first, so they can go after their head
        gate = self.albedo_ratio.gate_map(maps[0]) if self.albedo_ratio is not None else None  # type: ignore[arg-type]
        outs: list[torch.Tensor] = []
        for i, head in enumerate((heads or self.heads)[: len(maps)]):
            outs.append(head(maps[i], levels[i]))
            maps[i] = levels[i] = None
        result = outs.pop()
        for i in reversed(range(len(outs))):
            # the H/8 result (outs[3]) enters outs[2] through its gain, unclamped: a gain clamped
            # at 0 would stay shut for good once a step pushed it below
            gain = self.coarsest_gate if i == 2 and self.config.levels == 4 else None
            result = self.compositor(outs.pop(), result, gain)
        if self.albedo_ratio is not None:
            assert gate is not None
            result = self.albedo_ratio.apply_gate(result[:, :3], result[:, 3:], padded["albedo"], gate)
        if self.config.demodulate:
            result = result * albedo_factor(padded)
        return result

    def spec(self) -> dict:
        d = asdict(self.config)
        d["widths"] = list(d["widths"])
        if self.config.levels != 4:  # no H/8 scale, no gain: keep specs of 3-scale models as they were
            d.pop("coarsest_gate")
        if not self.config.decompose:  # specs of single-buffer models stay as they were
            d.pop("decompose")
        return {"arch": "unet", **d}
