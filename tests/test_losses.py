import pytest
import torch

from neurecon import metrics
from neurecon.losses import get_loss, smape


def _pair(seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(2, 3, 24, 24, generator=g) * 3, torch.rand(2, 3, 24, 24, generator=g) * 3


def test_dssim_loss_is_the_reported_metric():
    d, r = _pair()
    assert float(get_loss("dssim")(d, r)) == pytest.approx(metrics.dssim(d, r), rel=1e-5)
    assert float(get_loss("dssim")(r, r)) == pytest.approx(0.0, abs=1e-6)


def test_sum_of_terms_and_gradients():
    d, r = _pair(1)
    d.requires_grad_(True)
    total = get_loss("smape+dssim")(d, r)
    assert float(total.detach()) == pytest.approx(float(smape(d.detach(), r)) + metrics.dssim(d.detach(), r), rel=1e-5)
    total.backward()
    assert torch.isfinite(d.grad).all() and d.grad.abs().sum() > 0
    weighted = get_loss("smape + 2.5 * dssim")(d.detach(), r)
    assert float(weighted) == pytest.approx(float(smape(d.detach(), r)) + 2.5 * metrics.dssim(d.detach(), r), rel=1e-5)


def test_unknown_loss_names_the_choices():
    for bad in ("smape+ssimm", "smape+x*dssim", "smape+", "smape+nan*dssim"):
        with pytest.raises(ValueError, match="combine terms from .*dssim.*'2\\*dssim'"):
            get_loss(bad)


def test_l1_tonemapped_is_the_displayed_error_and_asymmetric_makes_it_a_quantile_loss():
    """|tm(d) − tm(r)| per element; wrapped by Eq. 6 with all inputs above the references, its best
    constant output is the λ/(1+λ) quantile of the references (pulled towards the input)."""
    from neurecon.losses import MAP_LOSSES, asymmetric

    d, r = _pair(2)
    assert torch.allclose(MAP_LOSSES["l1_tonemapped"](d, r), (metrics.tonemap(d) - metrics.tonemap(r)).abs())
    refs = torch.linspace(0.1, 2.0, 101).view(1, 1, 1, 101)
    c = torch.full_like(refs, 10.0)  # the noisy input lies above every reference
    lam = 3.0
    grid = torch.linspace(0.1, 2.0, 381)
    losses = [float(asymmetric(torch.full_like(refs, float(v)), refs, c, lam, "l1_tonemapped")) for v in grid]
    best = float(grid[int(torch.tensor(losses).argmin())])
    assert best == pytest.approx(float(torch.quantile(refs, lam / (1 + lam))), abs=0.02)
