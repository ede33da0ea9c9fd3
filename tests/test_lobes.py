"""The `lobes` integrator: colour split by the first bounce's lobe, on tiny real Mitsuba renders."""

from __future__ import annotations

import numpy as np
import pytest

from neurecon.render.mitsuba_backend import mitsuba, render_buffers, with_lobes
from neurecon.render.scenes import random_scene

MIXED = (2, 4)  # procedural scenes whose frames hold both diffuse and glossy/specular light


@pytest.fixture(scope="module")
def mixed():
    mi = mitsuba()
    return {s: mi.load_dict(with_lobes(random_scene(s, 16))) for s in MIXED}


def test_diffuse_plus_specular_is_the_colour_of_the_same_samples(mixed):
    for seed, scene in mixed.items():
        b = render_buffers(scene, 4, seed=1)
        c, d, s = b["color"], b["diffuse"], b["specular"]
        assert np.abs(d + s - c).max() <= 1e-4 * (1 + np.abs(c)).min(), seed
        assert d.min() >= 0 and s.min() >= -1e-6 * max(1.0, c.max()), seed
        share = d.sum() / c.sum()
        assert 0.05 < share < 0.95, (seed, share)  # both lobes carry light here


def _scene(bsdf: dict, lobes: bool = True) -> dict:
    """A ball under an environment and a point light, on a diffuse floor if `floor`."""
    mi = mitsuba()
    T = mi.ScalarTransform4f
    scene = {
        "type": "scene",
        "integrator": {
            "type": "moment",
            "nested": {"type": "aov", "aovs": "albedo:albedo", "integrator": {"type": "path", "max_depth": 6}},
        },
        "sensor": {
            "type": "perspective",
            "to_world": T().look_at(origin=[0, 0, 4], target=[0, 0, 0], up=[0, 1, 0]),
            "film": {"type": "hdrfilm", "width": 16, "height": 16, "rfilter": {"type": "box"}},
        },
        "light": {"type": "constant", "radiance": {"type": "rgb", "value": 0.8}},
        "sun": {"type": "point", "position": [2, 3, 3], "intensity": {"type": "rgb", "value": 20.0}},
        "ball": {"type": "sphere", "bsdf": bsdf},
    }
    return with_lobes(scene) if lobes else scene


def test_colour_is_the_path_integrators_for_the_same_seed():
    # the same sampler dimensions in the same order as Mitsuba's C++ `path`: the same samples
    mi = mitsuba()
    spec = _scene({"type": "roughplastic", "alpha": 0.2}, lobes=False)
    spec["floor"] = {
        "type": "rectangle",
        "to_world": mi.ScalarTransform4f().translate([0, -1, 0]).rotate([1, 0, 0], -90).scale(4),
    }
    path = render_buffers(mi.load_dict(spec), 4, seed=3)["color"]
    lobes = render_buffers(mi.load_dict(with_lobes(spec)), 4, seed=3)
    assert np.abs(lobes["color"] - path).max() <= 1e-5 * (1 + np.abs(path).max())
    assert 0.1 < lobes["diffuse"].sum() / path.sum() < 0.9


def test_lobes_of_pure_materials():
    mi = mitsuba()
    # a diffuse ball: only the environment seen directly is specular (emission is not demodulated)
    b = render_buffers(mi.load_dict(_scene({"type": "diffuse"})), 4, seed=1)
    albedo = b["albedo"].mean(-1)  # 0.5 where every sample of the pixel hit the ball, 0 where none did
    on_ball, off_ball = albedo > 0.5 - 1e-6, albedo == 0
    assert on_ball.mean() > 0.2 and off_ball.mean() > 0.2
    assert np.abs(b["specular"][on_ball]).max() < 1e-6 and b["diffuse"][on_ball].min() > 0
    np.testing.assert_allclose(b["specular"][off_ball], b["color"][off_ball], rtol=1e-6)
    assert b["diffuse"][off_ball].max() == 0
    # a rough metal ball: no diffuse light anywhere
    metal = render_buffers(mi.load_dict(_scene({"type": "roughconductor", "alpha": 0.3})), 4, seed=1)
    assert metal["diffuse"].max() == 0 and metal["specular"].max() > 0.1


def test_variances_are_non_negative_and_fall_with_spp(mixed):
    scene = mixed[4]
    for plane in ("diffuse", "specular"):
        var = {
            spp: np.stack([render_buffers(scene, spp, seed=10 + k)[f"{plane}_var"] for k in range(6)])
            for spp in (4, 16)
        }
        assert min(v.min() for v in var.values()) >= 0
        ratio = var[16].mean() / var[4].mean()
        assert 0.1 < ratio < 0.5, (plane, ratio)  # 1/4 for 4× the samples (heavy tails: loosely)


def test_a_lobes_dataset_writes_and_reads_the_split(tmp_path):
    from neurecon.io import find_frames
    from neurecon.render.dataset import RenderJob, run

    job = RenderJob(out=str(tmp_path), split="test", scenes=1, size=16, spp=[4], ref_spp=8, lobes=True, threads=1)
    meta = run(job, progress=False)
    assert meta["integrator"] == "moment(aov(lobes))" and meta["scenes"][0]["lobes"]
    (frame,) = find_frames(tmp_path / "test").values()
    noisy, ref = frame.read(4), frame.read("ref")
    for plane in ("diffuse", "specular", "diffuse_var", "specular_var"):
        assert plane in noisy
    for b in (noisy, ref):
        np.testing.assert_allclose(b["diffuse"] + b["specular"], b["color"], atol=1e-4, rtol=1e-4)
    assert sorted(p.name.split(".", 1)[1] for p in frame.files["ref"].values()) == [
        "alb.exr",
        "diff.exr",
        "hdr.exr",
        "nrm.exr",
        "spec.exr",
        "z.exr",
    ]


def test_lobes_need_mitsuba():
    from neurecon.render.dataset import RenderJob

    with pytest.raises(ValueError, match="--lobes"):
        RenderJob(out="x", renderer="cycles", lobes=True).validate()


def test_lobes_flag_is_refused_where_it_would_be_ignored(tmp_path, capsys):
    from neurecon.cli import main

    assert main(["render", "--sequence", "--lobes", "--out", str(tmp_path)]) == 2
    assert "--lobes applies to dataset renders (no --sequence)" in capsys.readouterr().err
