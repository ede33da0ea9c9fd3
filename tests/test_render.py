"""Statistical checks of the Mitsuba renderer on tiny real renders (Cornell box, 16–24 px)."""

import numpy as np
import pytest

from neurecon.render.mitsuba_backend import integrator, mitsuba, render_buffers


def cornell(size=16, rfilter="box"):
    mi = mitsuba()
    d = mi.cornell_box()
    d["integrator"] = integrator(max_depth=6)
    d["sensor"]["film"].update(width=size, height=size, rfilter={"type": rfilter})
    return mi.load_dict(d)


@pytest.fixture(scope="module")
def box_scene():
    return cornell(16)


@pytest.fixture(scope="module")
def reference(box_scene):
    return render_buffers(box_scene, 2048, seed=999)


def test_buffers_present_and_in_range(box_scene):
    b = render_buffers(box_scene, 4, seed=1)
    for name in ("color", "albedo", "normal", "depth", "position", "color_var", "albedo_var", "normal_var"):
        assert name in b, name
    assert np.abs(b["normal"]).max() <= 1.0 + 1e-5
    assert (b["color_var"] >= 0).all() and (b["depth"] >= 0).all()


def test_variance_matches_empirical_variance_of_means(box_scene):
    K, spp = 48, 4
    runs = [render_buffers(box_scene, spp, seed=100 + k) for k in range(K)]
    means = np.stack([r["color"] for r in runs])
    predicted = np.stack([r["color_var"] for r in runs]).mean(0).mean()
    empirical = means.var(0, ddof=1).mean()
    assert predicted == pytest.approx(empirical, rel=0.15)


def test_mean_of_noisy_renders_converges_to_reference(box_scene, reference):
    K = 32
    runs = [render_buffers(box_scene, 4, seed=500 + k)["color"] for k in range(K)]
    ref = reference["color"]
    avg = np.mean(runs, 0)
    assert avg.mean() == pytest.approx(ref.mean(), rel=0.03)
    single = ((runs[0] - ref) ** 2).mean()
    assert ((avg - ref) ** 2).mean() < single / (K / 4)  # error falls ~1/K; allow a factor 4


def _neighbour_correlation(scene, spp=4):
    """Correlation of horizontally adjacent residuals between two independent renders,
    standardised by the predicted std so that a few bright pixels cannot dominate."""
    a, b = (render_buffers(scene, spp, seed=s) for s in (7, 8))
    z = (a["color"] - b["color"]) / np.sqrt(a["color_var"] + b["color_var"] + 1e-6)
    z = np.clip(z.mean(-1), -5, 5)
    return np.corrcoef(z[:, :-1].ravel(), z[:, 1:].ravel())[0, 1]


def test_box_filter_gives_uncorrelated_residuals():
    assert abs(_neighbour_correlation(cornell(48))) < 0.08


def test_gaussian_filter_would_correlate_residuals():
    # the control: Mitsuba's default Gaussian filter splats into neighbours (DESIGN.md)
    assert _neighbour_correlation(cornell(48, rfilter="gaussian")) > 0.2
