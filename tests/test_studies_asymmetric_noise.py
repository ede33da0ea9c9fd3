"""neurecon.studies.asymmetric_noise (bench/asymmetric_noise.py): the bias/noise split over K
renders, the per-pixel kurtosis and the Fig. 18 verdict on synthetic renders whose answer is known."""

import pytest
import torch

from neurecon.studies.asymmetric_noise import (
    compare_noise,
    pixel_kurtosis,
    plot,
    realisation_seed,
    spearman,
    split_error,
    verdict,
)
from neurecon.studies.blend import fit_beta


def _gen(seed=0):
    return torch.Generator().manual_seed(seed)


def test_split_error_recovers_variance_and_bias():
    g = _gen()
    ref = torch.rand(1, 3, 128, 128, generator=g, dtype=torch.float64)
    k, sigma, offset = 4, 0.05, 0.02  # few renders: without √(K/(K−1)) the variance is 25 % short
    x = ref + offset + sigma * torch.randn(k, 3, 128, 128, generator=g, dtype=torch.float64)
    bias, noise = split_error(x, ref)
    assert noise.pow(2).mean().item() == pytest.approx(sigma**2, rel=0.03)
    # the mean of K renders still carries σ²/K of noise on top of the offset
    assert bias.pow(2).mean().item() == pytest.approx(offset**2 + sigma**2 / k, rel=0.03)


def test_pixel_kurtosis_of_one_outlier_and_of_gaussian_noise():
    k = 16
    spike = torch.zeros(k, 3, 4, 4, dtype=torch.float64)
    spike[3] = 5.0  # one render of K holds a firefly at every pixel
    _, noise = split_error(spike, torch.zeros(1, 3, 4, 4, dtype=torch.float64))
    assert pixel_kurtosis(noise) == pytest.approx(((k - 1) ** 3 + 1) / (k * (k - 1)), rel=1e-9)
    gauss = torch.randn(k, 3, 64, 64, generator=_gen(1), dtype=torch.float64)
    assert 2.3 < pixel_kurtosis(split_error(gauss, torch.zeros(1, 3, 64, 64, dtype=torch.float64))[1]) < 3.1


def test_pixel_kurtosis_weights_pixels_by_their_noise():
    k = 16
    n = torch.randn(k, 1, 32, 32, generator=_gen(4), dtype=torch.float64)
    n[:, :, :, 16:] = 0.0
    n[3, :, :, 16:] = 1e-3  # faint spikes on half the pixels: kurtosis 14 there, ~1e-6 of the variance
    n = n.expand(k, 3, 32, 32)
    gauss_half = pixel_kurtosis(n[..., :16])
    assert pixel_kurtosis(n) == pytest.approx(gauss_half, rel=1e-3)  # an unweighted mean would be ~8


def test_pixel_kurtosis_ignores_how_noise_level_varies_across_the_frame():
    g = _gen(2)
    n = torch.randn(32, 1, 64, 64, generator=g, dtype=torch.float64).expand(32, 3, 64, 64)
    level = torch.logspace(-3, 1, 64, dtype=torch.float64).view(1, 1, 1, 64)
    assert pixel_kurtosis(n * level) == pytest.approx(pixel_kurtosis(n), rel=0.15)


def test_spearman():
    a = torch.arange(100, dtype=torch.float64)
    assert spearman(a, a.exp()) == pytest.approx(1.0)
    assert spearman(a, -a) == pytest.approx(-1.0)


def _renders(k=24, asym_beta=None, seed=3):
    g = _gen(seed)
    ref = torch.rand(1, 3, 32, 32, generator=g, dtype=torch.float64) + 0.1
    u = torch.rand(k, 3, 32, 32, generator=g, dtype=torch.float64)
    noisy = ref * torch.log(u).pow(2) / 2  # heavy-tailed (squared exponential), mean ref
    sym = ref + 0.01 * torch.randn(k, 3, 32, 32, generator=g, dtype=torch.float64)
    if asym_beta is None:  # noise as strong as a blend's but Gaussian
        asym = ref + 0.15 * ref * torch.randn(k, 3, 32, 32, generator=g, dtype=torch.float64)
    else:
        asym = asym_beta * noisy + (1 - asym_beta) * sym
    return {"noisy": noisy, "sym": sym, "asym": asym, "ref": ref}


def _summary(lin):
    s = {}
    for prefix in ("", "hdr_"):
        s.update({prefix + k: v for k, v in compare_noise(lin, prefix)[0].items()})
    return {"4": {"10.0": s}}


def test_gaussian_asymmetric_noise_is_lighter_than_the_blend():
    s = _summary(_renders())
    cell = verdict(s)["cells"]["4"]["10.0"]
    assert s["4"]["10.0"]["blend_beta"] > 0.05
    assert all(cell.values()), (cell, s)
    assert s["4"]["10.0"]["p999_standardised"] < s["4"]["10.0"]["blend_p999_standardised"]
    assert verdict(s)["fig18_claim_holds"]


def test_plot_reads_every_key_it_draws(tmp_path):
    s = _summary(_renders(k=8))
    plot({"4": s["4"], "16": s["4"]}, tmp_path / "p.png")
    assert (tmp_path / "p.png").stat().st_size > 10_000


def test_an_asymmetric_output_that_is_a_blend_is_not_lighter():
    s = _summary(_renders(asym_beta=0.2))
    v = s["4"]["10.0"]
    assert v["blend_beta"] == pytest.approx(0.2, abs=1e-6)
    for key in ("kurtosis", "p999_noise", "p999_standardised", "noise_var"):
        assert v[key] == pytest.approx(v["blend_" + key], rel=1e-6)  # the fit recovers the blend itself
    assert v["blend_kurtosis"] > 4  # the input's heavy tail is inherited
    # exact ties fail the strict comparison; anything lighter than the blend must be earned
    tie = {"4": {"10.0": {**v, "blend_p999_noise": v["p999_noise"], "blend_kurtosis": v["kurtosis"]}}}
    assert not verdict(tie)["fig18_claim_holds"]


def test_blend_fit_takes_the_rising_side_of_the_mse_curve():
    def mse(b):  # a little of an unbiased input first lowers the MSE (minimum at β = 0.2)
        return (b - 0.2) ** 2 + 1.0

    assert fit_beta(mse, mse(0.5)) == pytest.approx(0.5, abs=1e-6)
    assert fit_beta(mse, mse(0.3)) == pytest.approx(0.3, abs=1e-6)  # below mse(0): not β = 0
    assert fit_beta(mse, 0.5) == pytest.approx(0.2, abs=1e-6)  # unreachable: the minimum


def test_realisation_seeds_are_new_and_distinct():
    seeds = {
        realisation_seed(s, spp, k) for s in (200_000, 200_001, 299_999) for spp in (4, 16, 64) for k in range(256)
    }
    assert len(seeds) == 3 * 3 * 256
    assert min(seeds) > 300_000 * 16  # above every dataset render seed (scene_seed·16 + level)
