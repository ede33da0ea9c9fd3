import pytest
import torch

from neurecon.infer.denoiser import Denoiser
from neurecon.models import build_model
from neurecon.nn.unet import UNetKPCN

OIDN = ["color", "albedo", "normal"]


def _x(h, w, seed=0):
    g = torch.Generator().manual_seed(seed)
    return {
        "color": torch.rand(1, 3, h, w, generator=g) * 2,
        "albedo": torch.rand(1, 3, h, w, generator=g),
        "normal": torch.rand(1, 3, h, w, generator=g) * 2 - 1,
    }


def test_runs_on_sizes_that_are_not_multiples_of_the_stride():
    m = UNetKPCN(widths=(4, 6, 8, 8), sources={"oidn": OIDN})
    for h, w in ((13, 19), (8, 8), (33, 7)):
        assert m(_x(h, w)).shape == (1, 3, h, w)


def test_constant_image_is_preserved():
    m = UNetKPCN(widths=(4, 6, 8, 8), sources={"oidn": OIDN})
    x = _x(24, 20)
    x["color"] = torch.full_like(x["color"], 0.3)
    torch.testing.assert_close(m(x), x["color"])


@pytest.mark.parametrize("albedo_ratio", [False, True])
def test_tiled_equals_untiled_with_the_declared_receptive_radius(albedo_ratio):
    torch.manual_seed(0)
    m = UNetKPCN(widths=(4, 6, 8, 8), sources={"oidn": OIDN}, albedo_ratio=albedo_ratio)
    if albedo_ratio:  # a half-open gate that varies with the features
        torch.nn.init.normal_(m.albedo_ratio.gate.weight, std=0.5)
        torch.nn.init.constant_(m.albedo_ratio.gate.bias, 0.5)
    den = Denoiser(m)
    x = _x(150, 140)
    assert (den.run_tiled(x, "oidn", tile=48) - den.run_tiled(x, "oidn", tile=1000)).abs().max() < 1e-4


def test_spec_round_trip_and_direct_head():
    m = UNetKPCN(widths=(4, 6, 8, 8), sources={"oidn": OIDN}, head="direct")
    m2 = build_model(m.spec())
    m2.load_state_dict(m.state_dict())
    torch.testing.assert_close(m2(_x(16, 16)), m(_x(16, 16)))


def test_channels_last_inference_equals_planar():
    torch.manual_seed(0)
    x = _x(40, 36)
    planar = Denoiser(UNetKPCN(widths=(4, 6, 8, 8), sources={"oidn": OIDN}), channels_last=False)
    torch.manual_seed(0)
    fast = Denoiser(UNetKPCN(widths=(4, 6, 8, 8), sources={"oidn": OIDN}), channels_last=True)
    assert fast.model.enc1[0].weight.is_contiguous(memory_format=torch.channels_last)
    torch.testing.assert_close(fast.run_tiled(x, "oidn"), planar.run_tiled(x, "oidn"), atol=1e-5, rtol=1e-4)


def test_demodulated_unet_keeps_a_checker_texture_under_constant_light():
    """Kernels see colour / albedo: a textured surface under constant irradiance is a constant image
    to them, so normalised kernels (at every scale, through the compositor) return the texture."""
    from neurecon.nn.kpcn import albedo_factor

    torch.manual_seed(0)
    m = UNetKPCN(widths=(4, 6, 8, 8), sources={"oidn": OIDN}, demodulate=True)
    x = _x(32, 24)
    yy, xx = torch.meshgrid(torch.arange(32), torch.arange(24), indexing="ij")
    x["albedo"] = (0.2 + 0.6 * ((yy // 2 + xx // 2) % 2)).float().expand(1, 3, 32, 24).clone()
    x["color"] = 1.5 * albedo_factor(x)
    out = m(x)
    torch.testing.assert_close(out, x["color"], rtol=1e-4, atol=1e-5)
    m.config.demodulate = False  # the same kernels on radiance average the checker away
    assert (m(x) - x["color"]).abs().max() > 0.05


def test_four_level_unet_tiles_exactly_and_keeps_constants():
    torch.manual_seed(0)
    m = UNetKPCN(widths=(4, 6, 8, 8), sources={"oidn": OIDN}, levels=4)
    for p in m.heads[3].parameters():  # a trained, not a uniform, coarsest head
        torch.nn.init.normal_(p)
    with torch.no_grad():
        m.coarsest_gate.fill_(0.7)  # and an open gate: the H/8 scale shapes the output
    assert len(m.features(_x(16, 16))) == 4
    x = _x(24, 20)
    x["color"] = torch.full_like(x["color"], 0.3)
    torch.testing.assert_close(m(x), x["color"])
    den = Denoiser(m)
    x = _x(150, 140)
    assert (den.run_tiled(x, "oidn", tile=48) - den.run_tiled(x, "oidn", tile=1000)).abs().max() < 1e-4


@pytest.mark.parametrize("widths", [(4, 6, 8, 8), (4, 6, 8, 8, 8)])
def test_fourth_level_grows_from_a_three_level_model(widths):
    """A 3-level model's weights load into a 4-level one (what task.init does): only the new H/8
    head and its gate are missing; with the gate closed the output is the 3-level model's exactly,
    and the gate gets a gradient, so training can open it."""
    torch.manual_seed(0)
    three = UNetKPCN(widths=widths, sources={"oidn": OIDN})
    four = UNetKPCN(widths=widths, sources={"oidn": OIDN}, levels=4, coarsest_gate=0.0)
    missing, unexpected = four.load_state_dict(three.state_dict(), strict=False)
    assert not unexpected and sorted(missing) == ["coarsest_gate", "heads.3.logits.bias", "heads.3.logits.weight"]
    w = four.heads[3].weights(torch.rand(1, 8, 3, 3))  # near-delta H/8 kernels, whatever the features
    assert torch.allclose(w[:, 12], torch.tensor(0.9438), atol=1e-4) and torch.allclose(w.sum(1), torch.ones(()))
    x = _x(32, 48)
    out = four(x)
    torch.testing.assert_close(out, three(x), atol=0, rtol=0)
    out.square().mean().backward()
    assert four.coarsest_gate.grad.abs() > 0
    with torch.no_grad():
        four.coarsest_gate.fill_(1.0)
    assert (four(x) - three(x)).abs().max() > 1e-3  # open: the H/8 scale now shapes the output
    assert build_model(four.spec()).config.levels == 4
    assert UNetKPCN(widths=widths, sources={"oidn": OIDN}, levels=4).coarsest_gate.item() == 1.0  # plain Eq. 5


def test_deeper_unet_grows_from_a_preset_exactly_and_tiles_exactly():
    """widths with 5 entries add an H/16 level; its H/8 decoder starts as the identity on e3, so a
    4-width model loaded into it (task.init) gives the same output until training moves it."""
    torch.manual_seed(0)
    shallow = UNetKPCN(widths=(4, 6, 8, 8), sources={"oidn": OIDN})
    deep = UNetKPCN(widths=(4, 6, 8, 8, 12), sources={"oidn": OIDN})
    assert deep.stride == 16 and deep.receptive_radius() > shallow.receptive_radius()
    missing, unexpected = deep.load_state_dict(shallow.state_dict(), strict=False)
    assert not unexpected and {k.split(".")[0] for k in missing} == {"enc4", "dec3"}
    x = _x(32, 48)  # a multiple of both strides: same padding
    torch.testing.assert_close(deep(x), shallow(x), atol=1e-6, rtol=1e-5)
    for p in deep.dec3.parameters():  # as after training: the H/16 path now matters
        torch.nn.init.normal_(p, std=0.1)
    assert (deep(x) - shallow(x)).abs().max() > 1e-3
    assert deep(_x(13, 37)).shape == (1, 3, 13, 37)
    den = Denoiser(deep, precision="fp32")
    x = _x(150, 140)
    assert (den.run_tiled(x, "oidn", tile=64) - den.run_tiled(x, "oidn", tile=1000)).abs().max() < 1e-4
    assert build_model(deep.spec()).stride == 16


def test_unet_widths_must_name_four_or_five_levels():

    with pytest.raises(ValueError, match="4 or 5 entries"):
        UNetKPCN(widths=(4, 6, 8), sources={"oidn": OIDN})


def _checker_under_constant_light(h=32, w=24):
    x = _x(h, w)
    yy, xx = torch.meshgrid(torch.arange(h), torch.arange(w), indexing="ij")
    x["albedo"] = (0.2 + 0.6 * ((yy // 2 + xx // 2) % 2)).float().expand(1, 3, h, w).clone()
    x["color"] = 1.5 * x["albedo"]
    return x


def test_closed_albedo_ratio_is_the_plain_model_exactly():
    """The gate starts at zero, so a trained model fine-tuned with the ratio on starts from its
    own output (configs/denoise_high_ft3.yaml relies on it)."""
    torch.manual_seed(0)
    plain = UNetKPCN(widths=(4, 6, 8, 8), sources={"oidn": OIDN})
    ratio = build_model({**plain.spec(), "albedo_ratio": True})
    missing, unexpected = ratio.load_state_dict(plain.state_dict(), strict=False)
    assert sorted(missing) == ["albedo_ratio.gate.bias", "albedo_ratio.gate.weight"] and not unexpected
    x = _checker_under_constant_light()
    assert torch.equal(ratio(x), plain(x))


def test_open_albedo_ratio_puts_a_blurred_checker_back():
    """With the gate open, L(c)·f / L(f) under constant light is the texture, up to the ratio's ε
    (the same kernels alone average the checker away)."""
    torch.manual_seed(0)
    m = UNetKPCN(widths=(4, 6, 8, 8), sources={"oidn": OIDN}, albedo_ratio=True)
    x = _checker_under_constant_light()
    closed = (m(x) - x["color"]).abs().max()
    torch.nn.init.constant_(m.albedo_ratio.gate.bias, 1.0)
    opened = (m(x) - x["color"]).abs().max()
    assert closed > 0.2 and opened < 0.03, (closed, opened)


def test_albedo_ratio_refuses_heads_it_cannot_share_kernels_with():
    for bad in ({"head": "direct"}, {"demodulate": True}):
        with pytest.raises(ValueError, match="albedo_ratio"):
            UNetKPCN(widths=(4, 6, 8, 8), sources={"oidn": OIDN}, albedo_ratio=True, **bad)


def test_gate_gradient_flows_from_closed():
    """clamp(0, 1) at exactly 0 still passes gradient, or the zero-initialised gate could never open."""
    m = UNetKPCN(widths=(4, 6, 8, 8), sources={"oidn": OIDN}, albedo_ratio=True)
    x = _checker_under_constant_light()
    (m(x) - x["color"]).abs().mean().backward()
    assert m.albedo_ratio.gate.bias.grad.abs() > 0


def test_compositor_blends_extra_channels_with_the_colours_alpha():
    from neurecon.nn.multiscale import ScaleCompositor, compose

    torch.manual_seed(0)
    comp = ScaleCompositor(8)
    fine, coarse = torch.rand(1, 6, 16, 16), torch.rand(1, 6, 8, 8)
    both = comp(fine, coarse)
    torch.testing.assert_close(both[:, :3], comp(fine[:, :3], coarse[:, :3]))
    torch.testing.assert_close(both[:, 3:], compose(fine[:, 3:], coarse[:, 3:], comp.alpha(fine[:, :3], coarse[:, :3])))
