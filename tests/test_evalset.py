"""The `classic` evaluation family: every scene loads and renders, names are unique, the family is
built without the training generator, renders are reproducible, and the study's ratios are right."""

from __future__ import annotations

import json

import numpy as np
import pytest
from test_layout import graph

from neurecon.cli import main
from neurecon.render.evalsets import FAMILIES, classic
from neurecon.render.evalsets.job import EvalsetJob, scene_seed
from neurecon.render.evalsets.job import run as run_evalset
from neurecon.render.mitsuba_backend import mitsuba, render_buffers
from neurecon.studies import evalset as study

TRAINING_GENERATOR = {"neurecon.render.scenes", "neurecon.render.dataset"}


def test_the_family_has_at_least_twelve_uniquely_named_documented_scenes():
    names = list(classic.SCENES)
    assert len(names) >= 12
    assert len(set(names)) == len(names)
    assert len({fn.__name__ for fn in classic.SCENES.values()}) == len(names)  # no function listed twice
    assert all((fn.__doc__ or "").strip() for fn in classic.SCENES.values())


@pytest.mark.parametrize("name", list(classic.SCENES))
def test_every_scene_loads_and_renders_finite_buffers(name):
    mi = mitsuba()
    scene = mi.load_dict(classic.SCENES[name]((16, 12)))
    b = render_buffers(scene, 1, seed=3)
    assert b["color"].shape == (12, 16, 3)
    for plane in ("color", "albedo", "normal", "depth"):
        assert np.isfinite(b[plane]).all(), plane
    assert b["color"].max() > 0  # something in frame is lit
    assert (b["depth"] > 0).any()  # and something is hit


def closure(g: dict[str, set[str]], start: str) -> set[str]:
    seen, todo = set(), [start]
    while todo:
        m = todo.pop()
        for t in g.get(m, ()):
            if t not in seen:
                seen.add(t)
                todo.append(t)
    return seen


def test_the_family_never_imports_the_training_generator_even_indirectly():
    g = graph()
    family = [m for m in g if m.startswith("neurecon.render.evalsets")]
    assert "neurecon.render.evalsets.classic" in family
    for m in family:
        bad = {t for t in closure(g, m) if t in TRAINING_GENERATOR or t.startswith("neurecon.render.grammar")}
        assert not bad, f"{m} imports {bad}"
    # the check would see it: the training data job does import the generator
    assert "neurecon.render.scenes" in closure(g, "neurecon.render.dataset")


def test_a_scene_is_a_pure_function_of_its_size_and_renders_bit_identically():
    mi = mitsuba()
    a = render_buffers(mi.load_dict(classic.foliage_cards((16, 16))), 2, seed=scene_seed("foliage_cards", 0))
    b = render_buffers(mi.load_dict(classic.foliage_cards((16, 16))), 2, seed=scene_seed("foliage_cards", 0))
    np.testing.assert_array_equal(a["color"], b["color"])
    np.testing.assert_array_equal(a["normal"], b["normal"])


def test_seeds_differ_between_scenes_and_levels():
    seeds = {scene_seed(n, level) for n in classic.SCENES for level in (0, 1, 15)}
    assert len(seeds) == 3 * len(classic.SCENES)
    assert all(0 <= s < 2**31 for s in seeds)


def test_normal_map_of_a_height_field():
    flat = classic._height_to_normalmap(np.zeros((8, 8)), strength=5)
    np.testing.assert_allclose(flat, np.broadcast_to([0.5, 0.5, 1.0], flat.shape), atol=1e-6)
    ramp = classic._height_to_normalmap(np.tile(np.arange(8.0), (8, 1)) * 0.1, strength=10)  # dh/dx = 0.1
    n = ramp[4, 4] * 2 - 1
    np.testing.assert_allclose(n, np.array([-1.0, 0.0, 1.0]) / np.sqrt(2), atol=1e-6)  # 45° tilt against +x


def test_text_and_photo_textures_are_linear_rgb_in_range():
    text = classic._text_image(["neurecon", "abc"], n=128)
    photo = classic._photo("astronaut")
    for img in (text, photo):
        assert img.ndim == 3 and img.shape[2] == 3 and img.dtype == np.float32
        assert 0 <= img.min() and img.max() <= 1
    assert text.std() > 0.01  # the glyphs are there, not a blank card
    # sRGB 128 is linear ~0.216
    np.testing.assert_allclose(classic._srgb_to_linear(np.array([128], np.uint8)), [0.2158605], rtol=1e-5)


def test_a_tiny_family_render_writes_the_test_split_layout_and_metadata(tmp_path):
    from neurecon.io import find_frames

    job = EvalsetJob(out=str(tmp_path), size=16, spp=[1, 2], ref_spp=4, scenes=["cornell_box", "text_texture"])
    meta = run_evalset(job, progress=False)
    frames = find_frames(tmp_path)
    assert sorted(frames) == ["cornell_box", "text_texture"]
    fs = frames["cornell_box"]
    assert sorted(fs.inputs) == [1, 2]
    buf = fs.read(2)
    assert {"color", "albedo", "normal", "color_var", "albedo_var", "normal_var"} <= set(buf.names())
    on_disk = json.loads((tmp_path / "metadata.json").read_text())
    assert [s["name"] for s in on_disk["scenes"]] == ["cornell_box", "text_texture"]  # the family's order
    assert on_disk["scenes"][0]["ref_spp"] == 4 and on_disk["pixel_filter"] == "box"
    assert on_disk["scenes"][0]["description"].startswith("The Cornell box")
    assert meta["skipped"] == 0
    assert run_evalset(job, progress=False)["skipped"] == 2  # finished scenes are not re-rendered


def test_bad_jobs_are_clear_errors(capsys):
    with pytest.raises(ValueError, match="unknown evaluation family 'nope'; choose from classic"):
        EvalsetJob(out="x", family="nope").validate()
    with pytest.raises(ValueError, match="has no scene teapot"):
        EvalsetJob(out="x", scenes=["teapot"]).validate()
    with pytest.raises(ValueError, match="spp"):
        EvalsetJob(out="x", spp=[0]).validate()
    assert main(["render", "--evalset", "nope", "--out", "unused"]) == 2
    assert "unknown evaluation family" in capsys.readouterr().err


def test_geomean_ratios_worst_scene_and_wins():
    rows = []
    for scene, mine, oidn in (("a", 1.0, 2.0), ("b", 8.0, 2.0)):
        for meth, v in (("neurecon:high", mine), ("oidn", oidn), ("noisy", 100.0)):
            rows.append({"scene": scene, "spp": 4, "method": meth, "relmse": v, "smape": v, "dssim": v})
    ratios = study.per_scene_ratios(rows)
    assert {(r["scene"], r["relmse"]) for r in ratios} == {("a", 0.5), ("b", 4.0)}  # noisy is not compared
    s = study.summarise_ratios(ratios)["neurecon:high@4"]
    assert s["geomean_relmse"] == pytest.approx(np.sqrt(0.5 * 4.0))  # not the ratio of means (2.25)
    assert s["worst_dssim"] == {"scene": "b", "ratio": 4.0}
    assert s["ahead_on"] == ["a"]
    assert "| a | 0.50× | 0.50× |" in study.scene_table(ratios, "neurecon:high", [4])
    with pytest.raises(ValueError):
        study.geomean([])


def test_contact_sheet_is_a_grid_of_the_given_images(tmp_path):
    from PIL import Image

    rng = np.random.default_rng(0)
    imgs = [rng.uniform(0, 2, (16, 16, 3)).astype(np.float32) for _ in range(3)]
    path = study.contact_sheet([("s1", imgs), ("s2", imgs)], ["ref", "noisy", "den"], tmp_path / "sheet.png")
    w, h = Image.open(path).size
    assert w > h > 0  # 3 columns, 2 rows
    assert study.exposure_for(np.full((4, 4, 3), 0.1, np.float32)) == pytest.approx(6.0)


def test_family_registry_names_the_classic_family():
    assert FAMILIES["classic"] is classic.SCENES


def test_the_render_verb_renders_a_family_subset(tmp_path, capsys):
    args = ["render", "--evalset", "classic", "--evalset-scenes", "glass_caustics", "--size", "16"]
    assert main(args + ["--spp", "1", "--ref-spp", "2", "--out", str(tmp_path), "--quiet"]) == 0
    assert "1 scene(s) of 'classic'" in capsys.readouterr().out
    assert (tmp_path / "glass_caustics_0001spp.var.exr").exists() and (tmp_path / "glass_caustics_ref.hdr.exr").exists()
