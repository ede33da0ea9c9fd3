"""neurecon.studies.dssim_gap (bench/dssim_gap.py): the region split and the octave bands put error
where it is."""

import pytest
import torch

from neurecon.studies.dssim_gap import OCTAVES, contrast_regions, dssim_map, octave_energy


def test_regions_are_thirds_ranked_by_local_contrast():
    checker = (torch.arange(60)[:, None] + torch.arange(60)[None]).remainder(2).float() - 0.5
    ref = torch.full((1, 3, 60, 60), 0.5)
    ref[..., 20:40] += 0.05 * checker[:, 20:40]  # mid
    ref[..., 40:] += 0.8 * checker[:, 40:]  # edge
    r = contrast_regions(ref)
    assert sum(int(m.sum()) for m in r.values()) == 3600
    for name, cols in (("flat", slice(0, 14)), ("mid", slice(27, 34)), ("edge", slice(47, 60))):
        assert r[name][..., cols].all(), name
    half_flat = torch.cat([torch.full((1, 3, 60, 30), 0.5), ref[..., 30:]], -1)  # ties at zero contrast
    assert [int(m.sum()) for m in contrast_regions(half_flat).values()] == [1200, 1200, 1200]


@pytest.mark.parametrize("pattern, band", [("checker", 0), ("offset", OCTAVES - 1)])
def test_octave_energy_lands_in_the_right_band_and_sums_to_the_mse(pattern, band):
    if pattern == "checker":  # period 2 px: all of it in the finest band
        err = (torch.arange(64)[:, None] + torch.arange(64)[None]).remainder(2).float()[None, None] - 0.5
    else:  # a constant offset: all of it in the coarsest
        err = torch.full((1, 1, 128, 128), 0.1)
    e = octave_energy(err)
    assert len(e) == OCTAVES and e[band] == pytest.approx(float((err**2).mean()), rel=1e-5)
    assert sum(e) == pytest.approx(e[band], rel=1e-5)


def test_octave_bands_of_any_error_sum_to_its_mse_and_odd_sizes_are_cropped():
    g = torch.Generator().manual_seed(3)
    white = torch.randn(1, 3, 150, 130, generator=g)
    walk = torch.randn(1, 3, 128, 128, generator=g).cumsum(-1).cumsum(-2) / 50  # mostly coarse
    for err in (white, walk):
        e = octave_energy(err)
        mse = float((err[..., :128, :128] ** 2).mean())
        assert sum(e) == pytest.approx(mse, rel=1e-4)
    assert octave_energy(white)[0] > 0.4 * sum(octave_energy(white))  # white noise: half in 1–2 px
    assert octave_energy(walk)[-1] > octave_energy(walk)[0]


def test_dssim_map_is_zero_for_the_reference_and_nan_only_on_its_border():
    ref = torch.rand(1, 3, 32, 32, generator=torch.Generator().manual_seed(2))
    d = dssim_map(ref, ref)
    assert d.shape == (1, 1, 32, 32)
    assert d[..., 5:-5, 5:-5].abs().max() < 1e-6 and d[..., :5, :].isnan().all()
    assert dssim_map(ref + 0.1 * torch.randn_like(ref), ref)[..., 5:-5, 5:-5].mean() > 0.01
