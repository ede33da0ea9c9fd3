import pytest
import torch

from neurecon.losses import smape, smape_map
from neurecon.nn.features import make_features
from neurecon.nn.kpcn import KPCN, albedo_factor

FULL = ["color", "color_var", "albedo", "albedo_var", "normal", "normal_var"]


def _inputs(n=1, h=12, w=10):
    g = torch.Generator().manual_seed(0)
    return {b: torch.rand(n, 3, h, w, generator=g) for b in FULL}


def test_smape_matches_formula():
    d = torch.tensor([1.0, 0.0, 3.0])
    r = torch.tensor([2.0, 0.5, 3.0])
    expect = (1 / (1 + 2 + 0.01) + 0.5 / (0.5 + 0.01) + 0) / 3
    assert smape(d, r).item() == pytest.approx(expect, rel=1e-6)
    assert smape_map(d, r)[2] == 0


def test_features_follow_section_6_1():
    x = _inputs()
    f = make_features(x, FULL)
    assert f.shape[1] == 12
    torch.testing.assert_close(f[:, :3], torch.log1p(x["color"]))
    rel = x["color_var"].mean(1, keepdim=True) / (x["color"].pow(2).mean(1, keepdim=True) + 1e-2)
    torch.testing.assert_close(f[:, 3:4], torch.log1p(rel))
    with pytest.raises(ValueError, match="needs buffer"):
        make_features({"color": x["color"]}, FULL)


def test_kpcn_output_is_convex_combination_of_input():
    m = KPCN(width=8, blocks=2, kernel=5, sources={"a": FULL})
    x = _inputs()
    out = m(x)
    assert out.shape == x["color"].shape
    assert (out >= x["color"].min() - 1e-6).all() and (out <= x["color"].max() + 1e-6).all()


def test_source_aware_encoders_share_the_backbone():
    m = KPCN(width=8, blocks=1, kernel=3, sources={"full": FULL, "oidn": ["color", "albedo", "normal"]})
    assert m.encoders["full"][0].in_channels == 12 and m.encoders["oidn"][0].in_channels == 9
    x = _inputs()
    assert m(x, "oidn").shape == m(x, "full").shape
    with pytest.raises(ValueError, match="unknown source"):
        m(x, "cycles")


def test_receptive_radius_bounds_dependence():
    m = KPCN(width=4, blocks=1, kernel=3, sources={"a": FULL}).double()
    x = {k: v.double().requires_grad_() for k, v in _inputs(h=21, w=21).items()}
    m(x)[0, :, 10, 10].sum().backward()
    g = sum(v.grad.abs().sum(1)[0] for v in x.values())
    ys, xs = torch.nonzero(g, as_tuple=True)
    r = m.receptive_radius()
    assert (ys - 10).abs().max() <= r and (xs - 10).abs().max() <= r
    assert (ys - 10).abs().max() >= r - 1  # and the bound is not loose by much


def test_demodulation_multiplies_albedo_back():
    m = KPCN(width=4, blocks=1, kernel=3, sources={"a": FULL}, demodulate=True)
    x = _inputs()
    flat = torch.full_like(x["color"], 0.7)
    x["color"] = flat * albedo_factor(x)  # constant irradiance
    torch.testing.assert_close(m(x), x["color"], rtol=1e-4, atol=1e-5)


def test_load_part_moves_a_trained_extractor_into_a_new_model():
    from neurecon.models import load_part

    a = KPCN(width=8, blocks=2, kernel=5, sources={"full": FULL})
    b = KPCN(width=8, blocks=2, kernel=3, sources={"oidn": ["color", "albedo", "normal"]})
    load_part(b.extractor, {"model": a.state_dict()}, "extractor")
    for (k, va), vb in zip(a.extractor.state_dict().items(), b.extractor.state_dict().values()):
        torch.testing.assert_close(va, vb, msg=k)
    with pytest.raises(ValueError, match="no parameters under"):
        load_part(b.extractor, {"model": a.state_dict()}, "decoder")
