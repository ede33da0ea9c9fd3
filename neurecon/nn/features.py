"""Network input features from render buffers (Vogels et al. 2018, §6.1).

log(1+colour) (3), relative colour variance (1), log(1+albedo) (3), relative albedo variance (1),
normal (3), relative normal variance (1). Relative variance = variance of the mean / (mean² + ε),
averaged over channels, then log(1+·) so that fireflies do not dominate the input range.
A *source* names the buffers a renderer provides; its encoder's input width follows from them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch

EPS_REL = 1e-2
FEATURE_WIDTH = {
    "color": 3,
    "albedo": 3,
    "normal": 3,
    "depth": 1,
    "color_var": 1,
    "albedo_var": 1,
    "normal_var": 1,
    "depth_var": 1,
}
# the buffers of the shipped sources; any list of FEATURE_WIDTH keys defines a new one
DEFAULT_SOURCES: dict[str, list[str]] = {
    "mitsuba": ["color", "color_var", "albedo", "albedo_var", "normal", "normal_var"],
    "mitsuba_ld": ["color", "color_var", "albedo", "albedo_var", "normal", "normal_var"],
    "oidn": ["color", "albedo", "normal"],
    # Blender Cycles: Combined + Denoising Albedo/Normal, its own filter and sampler, no variance pass
    "cycles": ["color", "albedo", "normal"],
    # Cycles rendered as two half-sample renders: their mean, and the variance of it estimated from the two
    "cycles_var": ["color", "color_var", "albedo", "albedo_var", "normal", "normal_var"],
}


def source_width(buffers: Sequence[str]) -> int:
    unknown = [b for b in buffers if b not in FEATURE_WIDTH]
    if unknown:
        raise ValueError(f"unknown feature buffer(s) {unknown}; known: {list(FEATURE_WIDTH)}")
    return sum(FEATURE_WIDTH[b] for b in buffers)


def relative_variance(var: torch.Tensor, mean: torch.Tensor) -> torch.Tensor:
    rel = var.mean(1, keepdim=True) / (mean.pow(2).mean(1, keepdim=True) + EPS_REL)
    return torch.log1p(rel)


def make_features(inputs: Mapping[str, torch.Tensor], buffers: Sequence[str]) -> torch.Tensor:
    """Concatenate the §6.1 features of `buffers` from a dict of N×C×H×W tensors."""
    missing = [b for b in buffers if b not in inputs]
    if missing:
        raise ValueError(f"the model needs buffer(s) {', '.join(missing)}; got {', '.join(inputs) or 'nothing'}")
    out = []
    for b in buffers:
        x = inputs[b]
        if b in ("color", "albedo"):
            out.append(torch.log1p(x.clamp_min(0)))
        elif b == "depth":
            out.append(torch.log1p(x.clamp_min(0)))
        elif b.endswith("_var"):
            out.append(relative_variance(x, inputs[b[:-4]]))
        else:  # normal: already in [-1, 1]
            out.append(x)
    return torch.cat(out, 1)
