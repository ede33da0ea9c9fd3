"""The Fig. 18 comparison of neurecon.studies.asymmetric (bench/asymmetric.py): β fits and the two
error spaces."""

import pytest
import torch

from neurecon.studies.asymmetric import compare_to_blends, isolated


def _frames(beta=0.3, seed=0, scale=1.0):
    g = torch.Generator().manual_seed(seed)
    ref = torch.rand(1, 3, 32, 32, generator=g, dtype=torch.float64) + 0.1
    u = torch.rand(ref.shape, generator=g, dtype=torch.float64)
    noisy = ref * torch.log(u).pow(2) / 2  # heavy-tailed (squared exponential), mean ref
    sym = ref + 0.02 * torch.randn(ref.shape, generator=g, dtype=torch.float64)
    return {
        k: v * scale
        for k, v in {"noisy": noisy, "sym": sym, "ref": ref, "asym": beta * noisy + (1 - beta) * sym}.items()
    }


def _masks():
    fireflies = torch.zeros(1, 1, 32, 32, dtype=torch.bool)
    edges = torch.zeros(1, 1, 32, 32, dtype=torch.bool)
    edges[..., :4, :] = True
    fireflies[..., -4:, :] = True
    return fireflies, edges


@pytest.mark.parametrize("space", ["", "hdr_"])
def test_an_asymmetric_output_that_is_a_blend_is_matched_by_both_fits(space):
    """If the 'asymmetric' output is itself 0.3·noisy + 0.7·sym of linear radiance, the paper's fit
    finds 0.3 in either space (the blends are made before the tonemap, like the output) and every
    tail statistic equals the output's own; the matched-MSE fits hit their target."""
    m = compare_to_blends(_frames(), space, *_masks())
    assert m["paperblend_beta"] == pytest.approx(0.3, abs=1e-6)
    assert m["blend_beta"] == pytest.approx(0.3, abs=1e-6)
    assert m["paperblend_p999"] == pytest.approx(m["p999"], rel=1e-5)
    assert m["paperblend_kurtosis"] == pytest.approx(m["kurtosis"], rel=1e-5)
    assert m["blend_mse"] == pytest.approx(m["mse"], rel=1e-6)
    # blending tonemapped images is another blend; in linear space there is nothing to tell apart
    assert ("displayblend_mse" in m) == (space == "")
    if space == "":
        assert m["displayblend_mse"] == pytest.approx(m["mse"], rel=1e-6)
        assert m["displayblend_beta"] != pytest.approx(m["blend_beta"], abs=1e-3)


def test_a_blended_firefly_is_clipped_only_when_tonemapped_images_are_blended():
    """A perfect denoiser, and an input that is exact but for 16 pixels at 1000 (fireflies). The
    'asymmetric' output carries 1 % of them, as radiance: 1000 → ~10, which the tonemap shows as
    0.96. The radiance blend matches it at β = 0.01; blending tonemapped images carries β of an
    already clipped firefly (≤ 1), so it needs a β near 1 for the same error."""
    ref = _frames()["ref"]
    noisy = ref.clone()
    noisy[..., 8:12, 8:12] = 1000.0
    x = {"ref": ref, "sym": ref.clone(), "noisy": noisy, "asym": 0.01 * noisy + 0.99 * ref}
    m = compare_to_blends(x, "", *_masks())
    assert m["blend_beta"] == pytest.approx(0.01, rel=1e-4)
    assert m["paperblend_beta"] == pytest.approx(0.01, rel=1e-4)
    assert m["displayblend_beta"] > 0.5
    assert m["displayblend_mse"] == pytest.approx(m["mse"], rel=1e-6)


def test_hdr_statistics_are_relative_and_tonemapped_ones_are_not():
    """Relative linear error does not care how bright the frame is (once well above its 0.01); the
    tonemap compresses a 10× brighter frame's errors, so its statistics change."""
    masks = _masks()
    dim, bright = (_frames(scale=k) for k in (10.0, 100.0))
    m_dim, m_bright = (compare_to_blends(x, "hdr_", *masks) for x in (dim, bright))
    assert m_bright["p999"] == pytest.approx(m_dim["p999"], rel=0.02)
    assert m_bright["blend_beta"] == pytest.approx(m_dim["blend_beta"], rel=0.02)
    t_dim, t_bright = (compare_to_blends(x, "", *masks) for x in (dim, bright))
    assert t_bright["p999"] < 0.5 * t_dim["p999"]


def test_the_isolated_error_is_large_on_a_speckle_and_zero_on_a_shared_error():
    """A firefly-like impulse stands out of its 3×3 neighbourhood by its full height; an error that
    half the image shares (an edge, a colour shift) does not stand out anywhere."""
    e = torch.full((1, 1, 16, 16), 0.01, dtype=torch.float64)
    e[..., 8:, :] = 0.5
    e[..., 3, 4] = 0.9
    e[..., 12, 6] = 0.0  # a pixel below its neighbours does not stand out: 0, not negative
    iso = isolated(e)
    assert float(iso[..., 3, 4]) == pytest.approx(0.89)
    iso[..., 3, 4] = 0
    assert float(iso.abs().max()) == 0.0


def test_lambda_stats_summary_checks_and_figures(tmp_path):
    """The per-λ statistics of synthetic outputs feed the summary, the checks and all three
    figures (which read every key they draw)."""
    from neurecon.metrics import as_tensor, tonemapped
    from neurecon.studies.asymmetric import (
        TAIL_CHECKS,
        checks,
        crop_grid,
        fig18,
        input_masks,
        lambda_stats,
        plot,
        region_masks,
    )
    from neurecon.studies.blend import LAMBDAS, SPACES, summarise

    g = torch.Generator().manual_seed(5)
    size = 72
    ref = (torch.rand(size, size, 3, generator=g, dtype=torch.float64) + 0.1).numpy().astype("float32")
    noisy = (ref * torch.log(torch.rand(ref.shape, generator=g, dtype=torch.float64)).pow(2).numpy() / 2).astype(
        "float32"
    )
    sym = ref + 0.02 * torch.randn(ref.shape, generator=g).numpy()
    outs = {lam: ((lam - 1) / 20 * noisy + (1 - (lam - 1) / 20) * sym).astype("float32") for lam in LAMBDAS}
    lin = {"noisy": as_tensor(noisy), "sym": as_tensor(sym), "ref": as_tensor(ref)}
    masks = {}
    for prefix, (to_space, weight_of) in SPACES.items():
        noisy_s, ref_s = to_space(lin["noisy"]), to_space(lin["ref"])
        masks[prefix] = input_masks(noisy_s, ref_s, weight_of(ref_s))
    ref_t = tonemapped(ref)
    flat, textured = region_masks(ref_t)
    assert int(flat.sum()) == pytest.approx(0.3 * size * size, rel=0.05)
    rows = [
        {"spp": 4, "lambda": {str(l): lambda_stats(lin, img, ref_t, flat, textured, masks) for l, img in outs.items()}}
    ]
    summary = summarise(rows, [4], LAMBDAS)
    s = summary["4"]
    assert "mse" in s["2.0"] and "hdr_mse" in s["2.0"] and "displayblend_p999" in s["2.0"]
    assert "hdr_displayblend_p999" not in s["2.0"]
    c = checks(summary)["4"]
    assert c["noise_rises_monotonically"]  # more of the input's noise at every λ
    assert list(c) == ["noise_rises_monotonically", "detail_rises_monotonically", *(n for n, _, _ in TAIL_CHECKS)]
    assert all(list(c[n]) == ["2.0", "5.0", "10.0"] for n, _, _ in TAIL_CHECKS)
    plot(summary, tmp_path / "a.png")
    crop_grid(noisy, outs, ref, flat, tmp_path / "c.png")
    fig18([("s", noisy, sym, outs[10.0], ref, s["10.0"]["blend_beta"], masks[""][0])], 4, tmp_path / "f.png")
    assert all((tmp_path / f).stat().st_size > 1000 for f in ("a.png", "c.png", "f.png"))
