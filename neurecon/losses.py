"""Training losses. SMAPE (Vogels et al. 2018, Eq. 2) is the denoiser's; the asymmetric wrapper
(Eq. 6) turns any per-pixel loss into one that penalises moving away from the input more."""

from __future__ import annotations

import math

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


def l1_tonemapped_map(d: torch.Tensor, r: torch.Tensor) -> torch.Tensor:
    """|tm(d) − tm(r)| with the report's tonemap: the error the tonemapped metrics see. Under the
    asymmetric wrapper this is a quantile loss (the input's side weighted λ×) on displayed values."""
    from .metrics import tonemap

    return (tonemap(d) - tonemap(r)).abs()


# per-element loss maps; a training loss is the mean of one (the asymmetric loss reweights it first)
MAP_LOSSES = {
    "smape": smape_map,
    "l1": lambda d, r: (d - r).abs(),
    "relmse": relmse_map,
    "l1_tonemapped": l1_tonemapped_map,
}


def dssim_tonemapped(d: torch.Tensor, r: torch.Tensor) -> torch.Tensor:
    """(1 − SSIM) / 2 of the tonemapped images: the report's DSSIM as a differentiable loss."""
    from .metrics import ssim_map, tonemap

    return (1 - ssim_map(tonemap(d), tonemap(r)).mean()) / 2


# whole-image losses that are not means of a per-element map
IMAGE_LOSSES = {"dssim": dssim_tonemapped}


def get_loss(name: str):
    """A training loss by name; "a+b" sums terms (e.g. "smape+dssim": SMAPE for HDR accuracy plus
    DSSIM, which punishes the structured low-frequency artefacts SMAPE barely sees), and "w*a"
    weights one (e.g. "smape+2*dssim")."""
    known = {**MAP_LOSSES, **IMAGE_LOSSES}
    terms = []
    for term in name.split("+"):
        weight, star, loss = (part.strip() for part in term.rpartition("*"))
        try:
            weight = float(weight) if star else 1.0
        except ValueError:
            weight = math.nan
        if loss not in known or not math.isfinite(weight):
            raise ValueError(
                f"bad term '{term.strip()}' in loss '{name}'; combine terms from "
                f"{', '.join(known)} with '+', weighted as '2*dssim'"
            )
        fn = IMAGE_LOSSES[loss] if loss in IMAGE_LOSSES else (lambda d, r, f=MAP_LOSSES[loss]: f(d, r).mean())
        terms.append((weight, fn))
    return lambda d, r: sum(w * f(d, r) for w, f in terms)


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
