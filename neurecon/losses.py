"""Training losses. SMAPE (Vogels et al. 2018, Eq. 2) is the denoiser's; the asymmetric wrapper
(Eq. 6) turns any per-pixel loss into one that penalises moving away from the input more."""
from __future__ import annotations

import torch

SMAPE_EPS = 1e-2


def smape_map(d: torch.Tensor, r: torch.Tensor, eps: float = SMAPE_EPS) -> torch.Tensor:
    """Per-element |d − r| / (|d| + |r| + ε)."""
    return (d - r).abs() / (d.abs() + r.abs() + eps)


def smape(d: torch.Tensor, r: torch.Tensor, eps: float = SMAPE_EPS) -> torch.Tensor:
    """Eq. 2: mean over pixels and the three colour channels."""
    return smape_map(d, r, eps).mean()


def relmse_map(d: torch.Tensor, r: torch.Tensor, eps: float = 1e-2) -> torch.Tensor:
    return (d - r).pow(2) / (r.pow(2) + eps)


# per-element loss maps; a training loss is the mean of one (the asymmetric loss reweights it first)
MAP_LOSSES = {"smape": smape_map, "l1": lambda d, r: (d - r).abs(), "relmse": relmse_map}


def get_loss(name: str):
    if name not in MAP_LOSSES:
        raise ValueError(f"unknown loss '{name}'; choose from {', '.join(MAP_LOSSES)}")
    return lambda d, r: MAP_LOSSES[name](d, r).mean()


def asymmetric(d: torch.Tensor, r: torch.Tensor, c: torch.Tensor, lam, base: str = "smape") -> torch.Tensor:
    """Eq. 6: ℓ'_λ(d, r, c) = ℓ(d, r)·(1 + (λ − 1)·H((d − r)(r − c))), averaged.

    The penalty applies where the result d and the noisy input c lie on opposite sides of the
    reference r (d − r and r − c share a sign): moving away from the input costs λ× more, so the
    network keeps input detail (and some noise) where it is unsure. `lam` is a float or a
    per-pixel N×1×H×W tensor; λ = 1 is exactly the base loss.
    """
    ell = MAP_LOSSES[base](d, r)
    heaviside = ((d - r) * (r - c) > 0).to(ell.dtype)
    return (ell * (1 + (lam - 1) * heaviside)).mean()
