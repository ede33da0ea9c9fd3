"""The Fig. 18 comparison in bench/asymmetric.py: β fits and the two error spaces."""
import sys
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
from asymmetric import compare_to_blends, error_spaces  # noqa: E402


def _frames(beta=0.3, seed=0, scale=1.0):
    g = torch.Generator().manual_seed(seed)
    ref = torch.rand(1, 3, 32, 32, generator=g, dtype=torch.float64) + 0.1
    u = torch.rand(ref.shape, generator=g, dtype=torch.float64)
    noisy = ref * torch.log(u).pow(2) / 2  # heavy-tailed (squared exponential), mean ref
    sym = ref + 0.02 * torch.randn(ref.shape, generator=g, dtype=torch.float64)
    return {k: v * scale for k, v in {"noisy": noisy, "sym": sym, "ref": ref,
                                      "asym": beta * noisy + (1 - beta) * sym}.items()}


@pytest.mark.parametrize("space", ["", "hdr_"])
def test_an_asymmetric_output_that_is_a_blend_is_matched_by_both_fits(space):
    """If the 'asymmetric' output is itself 0.3·noisy + 0.7·sym (in linear HDR), the paper's fit
    finds 0.3 there and every tail statistic equals the output's own; the matched-MSE fit hits its
    target in either space (after the tonemap the output is no longer a linear blend)."""
    x, weight = error_spaces(_frames())[space]
    fireflies = edges = torch.zeros(1, 1, 32, 32, dtype=torch.bool)
    edges[..., :4, :] = True
    fireflies[..., -4:, :] = True
    m = compare_to_blends(x, weight, fireflies, edges)
    if space == "hdr_":
        assert m["paperblend_beta"] == pytest.approx(0.3, abs=1e-9)
        assert m["paperblend_p999"] == pytest.approx(m["p999"], rel=1e-6)
        assert m["paperblend_kurtosis"] == pytest.approx(m["kurtosis"], rel=1e-6)
    assert m["blend_mse"] == pytest.approx(m["mse"], rel=1e-6)  # the matched-MSE fit hits its target


def test_hdr_statistics_are_relative_and_tonemapped_ones_are_not():
    """Relative linear error does not care how bright the frame is (once well above its 0.01); the
    tonemap compresses a 10× brighter frame's errors, so its statistics change."""
    fireflies = edges = torch.zeros(1, 1, 32, 32, dtype=torch.bool)
    dim, bright = (error_spaces(_frames(scale=k)) for k in (10.0, 100.0))
    m_dim, m_bright = (compare_to_blends(*sp["hdr_"], fireflies, edges) for sp in (dim, bright))
    assert m_bright["p999"] == pytest.approx(m_dim["p999"], rel=0.02)
    assert m_bright["blend_beta"] == pytest.approx(m_dim["blend_beta"], rel=0.02)
    t_dim, t_bright = (compare_to_blends(*sp[""], fireflies, edges) for sp in (dim, bright))
    assert t_bright["p999"] < 0.5 * t_dim["p999"]
