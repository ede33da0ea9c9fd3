"""Diffuse/specular decomposition (Vogels et al. 2018 §6.1, after Bako et al. 2017).

The renderer splits colour into diffuse + specular (:mod:`neurecon.render.lobes`). One network
denoises both as a batch of two, told apart by a flag input channel (0 diffuse, 1 specular):

* diffuse is demodulated, irradiance = diffuse / (albedo + ε) (its variance / (albedo + ε)²), and
  the result is multiplied by (albedo + ε) again, so texture comes from the albedo;
* specular is filtered in log space, log(1 + specular), and the result mapped back with expm1, so
  the bright, sparse highlights that dominate its noise weigh less in every kernel.

The encoder features are those of the source (``log1p`` colour, relative variance, …) computed
from each component in place of the colour; everything else (albedo, normals, their variances) is
shared. The output is diffuse_denoised·(albedo + ε) + specular_denoised.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch

from .kpcn import albedo_factor

FLAG = "lobe"  # the model-internal flag plane: 0 for the diffuse half of the batch, 1 for specular
COMPONENTS = ("diffuse", "specular")


def lobe_buffers(source_buffers: Sequence[str]) -> list[str]:
    """The planes a decomposing model reads besides the source's: the components, with their
    variances when the source reads the colour's."""
    return [*COMPONENTS] + (["diffuse_var", "specular_var"] if "color_var" in source_buffers else [])


def lobe_batch(inputs: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The batch of 2N the network sees: colour (and its variance) replaced by the irradiance for
    the first N, by the specular for the last N; the flag plane says which."""
    factor = albedo_factor(inputs)
    halves: dict[str, tuple[torch.Tensor, torch.Tensor]] = {
        "color": (inputs["diffuse"] / factor, inputs["specular"]),
    }
    if "color_var" in inputs:
        halves["color_var"] = (inputs["diffuse_var"] / factor.square(), inputs["specular_var"])
    out = {k: torch.cat(halves[k], 0) if k in halves else torch.cat([v, v], 0) for k, v in inputs.items()}
    c = inputs["color"]
    flag = torch.zeros(c.shape[0], 1, *c.shape[2:], dtype=c.dtype, device=c.device)
    out[FLAG] = torch.cat([flag, torch.ones_like(flag)], 0)
    return out


def filtered_radiance(batch: Mapping[str, torch.Tensor]) -> torch.Tensor:
    """What the kernels filter: the irradiance as it is, the specular as log(1 + specular)."""
    c = batch["color"]
    n = c.shape[0] // 2
    return torch.cat([c[:n], torch.log1p(c[n:].clamp_min(0))], 0)


def recombine(filtered: torch.Tensor, inputs: Mapping[str, torch.Tensor]) -> torch.Tensor:
    """diffuse·(albedo + ε) + specular from the filtered batch of 2N."""
    n = filtered.shape[0] // 2
    return filtered[:n] * albedo_factor(inputs) + torch.expm1(filtered[n:])
