"""The single-frame kernel-predicting denoiser of Vogels et al. 2018 (§3.1–3.2, Fig. 2).

source-aware encoder → spatial-feature extractor (residual blocks) → kernel predictor
(k×k softmax weights per pixel) → weights applied to the noisy colour.

The model is split into named parts (`encoders`, `extractor`, `predictor`) and into
`features()` (λ-independent, cacheable) and `reconstruct()` so that later modules — loss
specialiser, scale compositor, temporal combiner — can be trained on top of frozen parts.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field

import torch
from torch import nn

from .blocks import ResBlock, conv3x3, pointwise_planar, xavier_init
from .features import DEFAULT_SOURCES, make_features, source_width
from .kernels import apply_kernels, apply_kernels_rows, softmax_kernels
from .portable import portable
from .precision import fp32, widen

# Demodulation (§6.1 factorises diffuse colour into irradiance × albedo): the kernels filter
# colour / (albedo + ε) and the output is multiplied by (albedo + ε) again, so texture comes back
# from the (nearly noise-free) albedo instead of being averaged away with the noise. ε keeps
# black and sky pixels (albedo 0) from dividing by zero while removing ~93 % of a 0.2/0.8 checker's
# contrast from what the kernels see (1e-3 made sky pixels 1000× brighter than their neighbours).
DEMOD_EPS = 2e-2


def albedo_factor(inputs: Mapping[str, torch.Tensor]) -> torch.Tensor:
    """The factor colour is divided by before filtering and multiplied by after."""
    return inputs["albedo"].clamp_min(0) + DEMOD_EPS


@dataclass
class KPCNConfig:
    width: int = 32
    blocks: int = 6
    kernel: int = 21
    sources: dict[str, list[str]] = field(default_factory=lambda: {"mitsuba": DEFAULT_SOURCES["mitsuba"]})
    demodulate: bool = False  # filter irradiance colour/(albedo+ε), multiply the albedo back (albedo_factor)
    head: str = "kernel"  # "kernel" (KPCN) or "direct" (DPCN baseline, §8)

    @property
    def uses_albedo(self) -> bool:
        """Whether the reconstruction reads the albedo itself (not only as an input feature)."""
        return self.demodulate


class SourceEncoder(nn.Sequential):
    """Two 3×3 convolutions embedding one renderer's features into the common space (§3.2)."""

    def __init__(self, cin: int, width: int):
        super().__init__(conv3x3(cin, width), nn.ReLU(inplace=True), conv3x3(width, width))


class KernelPredictor(nn.Module):
    """1×1 convolution to k² logits, softmax-normalised (Eq. 4), applied to the radiance (Eq. 3).
    `relu_input=False` skips the ReLU for features that are already non-negative (U-Net decoders)."""

    def __init__(self, width: int, kernel: int, relu_input: bool = True):
        super().__init__()
        if kernel % 2 == 0:
            raise ValueError(f"kernel size must be odd, got {kernel}")
        self.kernel = kernel
        self.relu_input = relu_input
        self.logits = nn.Conv2d(width, kernel * kernel, 1)

    def weights(self, feats: torch.Tensor) -> torch.Tensor:
        # the k² loop of apply_kernels reads one weight plane per tap: planar (NCHW) weights keep
        # those reads contiguous, which a channels-last model's conv output would not (~10× slower)
        with fp32():  # logits are absolute: bf16 rounding would move the weights (precision.py)
            feats = widen(feats)
            return softmax_kernels(pointwise_planar(self.logits, torch.relu(feats) if self.relu_input else feats))

    def forward(self, feats: torch.Tensor, radiance: torch.Tensor) -> torch.Tensor:
        H, W = feats.shape[-2:]
        if portable() or torch.is_grad_enabled() or H * W < BANDED_PIXELS or H < BANDS:
            return apply_kernels(radiance, self.weights(feats))
        # inference: logits, softmax and kernel application in BANDS bands of rows, so the 2·k²
        # planes of logits and weights exist for one band at a time (the same values per pixel);
        # a fixed number of bands keeps the memory of a pass proportional to its pixels. A band of
        # a multiple of 64 pixels keeps the softmax's vector blocks where the whole map's are
        # (its tail is computed otherwise: with other bands the result would differ in the last bit)
        step = 64 // math.gcd(W, 64)
        rows = -(-H // BANDS)
        rows = -(-rows // step) * step
        return apply_kernels_rows(radiance, lambda y0, y1: self.weights(feats[..., y0:y1, :]), rows, self.kernel)


# inference on maps of ≥ BANDED_PIXELS pixels runs a kernel head in BANDS bands of rows
BANDS, BANDED_PIXELS = 8, 2**14


class DirectPredictor(nn.Module):
    """DPCN baseline: the colour itself, predicted in log space (exp(y) − 1 keeps it non-negative)."""

    def __init__(self, width: int):
        super().__init__()
        self.out = nn.Conv2d(width, 3, 1)

    def forward(self, feats: torch.Tensor, radiance: torch.Tensor) -> torch.Tensor:
        with fp32():  # exp of a bf16 log-colour would be off by ~1 %
            return torch.expm1(self.out(torch.relu(widen(feats))).clamp(max=20)).clamp_min(0)


class KPCN(nn.Module):
    def __init__(self, config: KPCNConfig | None = None, **kw):
        super().__init__()
        self.config = config or KPCNConfig(**kw)
        c = self.config
        self.encoders = nn.ModuleDict(
            {name: SourceEncoder(source_width(bufs), c.width) for name, bufs in c.sources.items()}
        )
        self.extractor = nn.Sequential(*[ResBlock(c.width) for _ in range(c.blocks)])
        self.predictor = KernelPredictor(c.width, c.kernel) if c.head == "kernel" else DirectPredictor(c.width)
        xavier_init(self)

    @property
    def default_source(self) -> str:
        return next(iter(self.config.sources))

    def receptive_radius(self) -> int:
        """Pixels of context one output pixel depends on: convs (1 px each) plus the kernel radius."""
        return 2 + 2 * self.config.blocks + self.config.kernel // 2

    def features(self, inputs: Mapping[str, torch.Tensor], source: str | None = None) -> torch.Tensor:
        source = source or self.default_source
        if source not in self.encoders:
            raise ValueError(f"unknown source '{source}'; this model has encoders for {list(self.encoders)}")
        return self.extractor(self.encoders[source](make_features(inputs, self.config.sources[source])))

    def radiance(self, inputs: Mapping[str, torch.Tensor]) -> torch.Tensor:
        c = inputs["color"]
        return c / albedo_factor(inputs) if self.config.demodulate else c

    def reconstruct(self, feats: torch.Tensor, inputs: Mapping[str, torch.Tensor]) -> torch.Tensor:
        out = self.predictor(feats, self.radiance(inputs))
        return out * albedo_factor(inputs) if self.config.demodulate else out

    def forward(self, inputs: Mapping[str, torch.Tensor], source: str | None = None) -> torch.Tensor:
        return self.reconstruct(self.features(inputs, source), inputs)

    def spec(self) -> dict:
        return {"arch": "kpcn", **asdict(self.config)}
