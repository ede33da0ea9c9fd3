import torch

from neurecon.buffers import Buffers
from neurecon.nn.kpcn import KPCN
from neurecon.nn.multiscale import MultiScale, compose, down2, pyramid, up2


def test_alpha_zero_returns_fine_image():
    g = torch.Generator().manual_seed(0)
    fine, coarse = torch.rand(1, 3, 8, 8, generator=g), torch.rand(1, 3, 4, 4, generator=g)
    torch.testing.assert_close(compose(fine, coarse, torch.zeros(1, 1, 8, 8)), fine)


def test_alpha_one_replaces_exactly_the_low_frequencies():
    g = torch.Generator().manual_seed(1)
    fine, coarse = torch.rand(1, 3, 8, 8, generator=g), torch.rand(1, 3, 4, 4, generator=g)
    out = compose(fine, coarse, torch.ones(1, 1, 8, 8))
    torch.testing.assert_close(down2(out), coarse)  # low frequencies are the coarse image's
    torch.testing.assert_close(out - up2(down2(out)), fine - up2(down2(fine)))  # high ones the fine's


def test_pyramid_of_constant_is_constant_and_variance_scales():
    x = {"color": torch.full((1, 3, 16, 16), 0.7), "color_var": torch.full((1, 3, 16, 16), 0.2)}
    p = pyramid(x, 3)
    assert [t["color"].shape[-1] for t in p] == [16, 8, 4]
    for lvl, t in enumerate(p):
        torch.testing.assert_close(t["color"], torch.full_like(t["color"], 0.7))
        torch.testing.assert_close(t["color_var"], torch.full_like(t["color_var"], 0.2 / 4**lvl))


def test_tensor_pyramid_matches_buffers_downsampling(rng):
    b = Buffers(color=rng.uniform(size=(8, 8, 3)), color_var=rng.uniform(size=(8, 8, 3)))
    t = {n: b.to_tensor([n]) for n in ("color", "color_var")}
    d = b.downsample2x()
    p = pyramid(t, 2)[1]
    torch.testing.assert_close(p["color_var"], d.to_tensor(["color_var"]))


def test_multiscale_runs_on_odd_sizes_and_keeps_constant_images():
    full = ["color", "albedo", "normal"]
    m = MultiScale(KPCN(width=8, blocks=1, kernel=3, sources={"oidn": full}), levels=3)
    x = {
        "color": torch.full((1, 3, 13, 19), 0.5),
        "albedo": torch.full((1, 3, 13, 19), 0.3),
        "normal": torch.zeros(1, 3, 13, 19),
    }
    out = m(x)
    assert out.shape == (1, 3, 13, 19)
    torch.testing.assert_close(out, x["color"])  # normalised kernels + Eq. 5 preserve a constant


def test_multiscale_spec_round_trips_through_the_registry():
    from neurecon.models import build_model

    m = MultiScale(KPCN(width=4, blocks=1, kernel=3, sources={"oidn": ["color", "albedo", "normal"]}), levels=2)
    m2 = build_model(m.spec())
    m2.load_state_dict(m.state_dict())
    assert m2.levels == 2 and m2.spec() == m.spec()


def test_multiscale_tiled_equals_untiled():
    from neurecon.infer.denoiser import Denoiser

    torch.manual_seed(0)
    m = MultiScale(KPCN(width=4, blocks=1, kernel=3, sources={"oidn": ["color", "albedo", "normal"]}), levels=3)
    g = torch.Generator().manual_seed(0)
    x = {k: torch.rand(1, 3, 70, 61, generator=g) for k in ("color", "albedo", "normal")}
    den = Denoiser(m)
    assert (den.run_tiled(x, "oidn", tile=20) - den.run_tiled(x, "oidn", tile=500)).abs().max() < 1e-4
