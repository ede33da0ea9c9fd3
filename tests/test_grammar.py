"""The scene grammar (issue 24's wide training generator): coverage, purity, re-rendering from metadata."""

from __future__ import annotations

import json

import numpy as np
import pytest

from neurecon.io import read_image
from neurecon.render import grammar
from neurecon.render.dataset import RenderJob
from neurecon.render.dataset import run as run_job
from neurecon.render.grammar import build, meshes, recipe, textures
from neurecon.render.mitsuba_backend import mitsuba, render_buffers

DECLARED = {
    "layout": grammar.LAYOUTS,
    "geometry": grammar.GEOMETRIES,
    "material": grammar.MATERIALS,
    "texture": grammar.TEXTURES,
    "light": grammar.LIGHTS,
}


def sample(n: int = 64, size: int = 64) -> list[dict]:
    return [grammar.sample_recipe(s, size) for s in range(n)]


def test_every_declared_kind_appears_in_a_64_scene_sample():
    seen: dict[str, set[str]] = {k: set() for k in DECLARED}
    for r in sample():
        for k, found in grammar.kinds_in(r).items():
            seen[k] |= found
    for k, kinds in DECLARED.items():
        assert seen[k] == set(kinds), f"{k}: missing {set(kinds) - seen[k]}, undeclared {seen[k] - set(kinds)}"
    photos = {
        m["albedo"]["name"]
        for r in sample()
        for o in r["objects"]
        for m in [o["material"]]
        if m.get("albedo", {}).get("kind") == "photo"
    }
    assert len(photos) >= 4  # several photographs, not one


def test_recipes_are_pure_json_and_never_use_the_held_out_photographs():
    from neurecon.render.evalsets.classic import HELD_OUT_PHOTOS

    a, b = grammar.sample_recipe(7, 96), grammar.sample_recipe(7, 96)
    assert a == b and json.loads(json.dumps(a)) == a
    assert grammar.sample_recipe(8, 96) != a
    assert not set(HELD_OUT_PHOTOS) & set(textures.PHOTOS)
    with pytest.raises(ValueError, match="not one the grammar may use"):
        textures.photo({"name": "astronaut", "seed": 0})


def test_film_height_is_the_size_and_widths_vary_with_the_drawn_aspect():
    films = {tuple(r["camera"]["film"]) for r in sample(size=96)}
    assert {h for _, h in films} == {96}
    assert len({w for w, _ in films}) >= 4 and min(w for w, _ in films) >= 64


def test_every_material_and_light_kind_builds_a_loadable_plugin():
    mi = mitsuba()
    rng = np.random.default_rng(0)
    made: set[str] = set()
    while made != set(grammar.MATERIALS):
        m = recipe.material(rng)
        mi.load_dict(build.bsdf(m, thin=True))
        made.add(m["kind"])
    for r in sample(24):
        for li in r["lights"]:
            d = build._light(li, [0, 0.5, 0])
            mi.load_dict({"type": "scene", "l": d})


def test_meshes_are_valid_and_tubes_have_their_radius():
    for kind, geo in [
        ("lumpy", {"kind": "lumpy", "seed": 1}),
        ("displaced", {"kind": "displaced", "seed": 2, "amount": 0.2}),
        ("assembly", {"kind": "assembly", "seed": 3, "parts": 50}),
        ("wires", {"kind": "wires", "seed": 4, "radius": 0.01}),
        ("foliage", {"kind": "foliage", "seed": 5, "leaves": 100}),
        ("shell", {"kind": "shell", "seed": 6}),
        ("torus", {"kind": "torus", "minor": 0.3}),
    ]:
        v, f, uv = build._object_mesh(geo)
        assert np.isfinite(v).all() and len(uv) == len(v), kind
        assert f.max() < len(v) and f.min() >= 0 and len(f) > 0, kind
        area = np.linalg.norm(np.cross(v[f[:, 1]] - v[f[:, 0]], v[f[:, 2]] - v[f[:, 0]]), axis=1)
        assert (area > 0).mean() > 0.95, kind  # few degenerate triangles (the poles of UV spheres)
    path = np.array([[0, 0, 0], [0, 1, 0], [1, 2, 0]], float)
    v, _, _ = meshes.tube(path, 0.05, sides=8)
    # each ring of `sides` vertices lies at `radius` from its path point
    np.testing.assert_allclose(np.linalg.norm(v.reshape(3, 8, 3) - path[:, None], axis=-1), 0.05, rtol=1e-5)


def signed_volume(v: np.ndarray, f: np.ndarray) -> float:
    return float(np.einsum("ij,ij->i", v[f[:, 0]], np.cross(v[f[:, 1]], v[f[:, 2]])).sum() / 6)


def test_closed_meshes_face_outward_with_their_volume():
    # one-sided BSDFs are black seen from inside: a closed mesh's signed volume is positive and its volume
    assert signed_volume(*meshes.box()[:2]) == pytest.approx(8.0, rel=1e-6)
    assert signed_volume(*meshes.uv_sphere(96, 48)[:2]) == pytest.approx(4 / 3 * np.pi, rel=0.01)
    r = 0.3
    assert signed_volume(*meshes.torus(r, 96, 48)[:2]) == pytest.approx(2 * np.pi**2 * r**2, rel=0.01)
    for mesh in (meshes.lumpy(1), meshes.displaced(2, 0.2)):
        assert signed_volume(*mesh[:2]) > 3.0
    path = np.array([[0, 0, 0], [0, 1, 0], [0, 2, 0]], float)
    v, f, _ = meshes.tube(path, 0.1, sides=8)
    n = np.cross(v[f[:, 1]] - v[f[:, 0]], v[f[:, 2]] - v[f[:, 0]])
    off_axis = v[f].mean(1) * [1, 0, 1]
    assert ((n * off_axis).sum(1) > 0).all()  # an open tube's faces point away from its axis


def test_pattern_textures_are_normalised_and_a_flat_height_gives_an_upright_normal_map():
    for kind in textures.PATTERNS:
        p = textures.pattern({"kind": kind, "seed": 3, "scale": 1.0}, n=64)
        assert p.shape == (64, 64) and p.min() == pytest.approx(0, abs=1e-6) and p.max() == pytest.approx(1, abs=1e-6)
    n = textures.normal_map(np.full((16, 16), 0.3, np.float32), 2.0)
    np.testing.assert_allclose(n, np.broadcast_to([0.5, 0.5, 1.0], n.shape), atol=1e-6)


def test_a_recipe_recorded_in_metadata_rerenders_the_scene_bit_identically(tmp_path):
    job = RenderJob(out=str(tmp_path), scenes=1, seed=3, size=16, spp=[2], ref_spp=2, generator="grammar")
    meta = run_job(job, progress=False)
    rec = meta["scenes"][0]
    assert rec["name"] == "scene000003_grammar" and rec["generator"] == "grammar"
    saved = json.loads((tmp_path / "train" / "metadata.json").read_text())["scenes"][0]["recipe"]
    mi = mitsuba()
    again = render_buffers(mi.load_dict(grammar.build_scene(saved)), 2, seed=3 * 16 + 0)
    on_disk = read_image(tmp_path / "train" / "scene000003_grammar_0002spp.hdr.exr")
    np.testing.assert_array_equal(again["color"], on_disk)
    assert saved["camera"]["film"][1] == 16 and on_disk.shape[0] == 16


def test_a_wrong_generator_is_a_clear_error():
    with pytest.raises(ValueError, match="unknown scene generator 'wide'"):
        RenderJob(out="x", generator="wide").validate()
    with pytest.raises(ValueError, match="grammar generator renders with Mitsuba"):
        RenderJob(out="x", generator="grammar", renderer="cycles").validate()
    with pytest.raises(ValueError, match="not a grammar-1 scene recipe"):
        grammar.build_scene({"layout": {}})


def test_require_kind_keeps_only_recipes_with_that_kind():
    from neurecon.render.dataset import RenderJob
    from neurecon.render.grammar.recipe import kinds_in, sample_recipe

    job = RenderJob(out="x", generator="grammar", scenes=6, size=64, require=["normalmap"])
    job.validate()
    seeds = job.scene_ids()
    assert len(seeds) == 6 and seeds == sorted(set(seeds))
    assert all("normalmap" in kinds_in(sample_recipe(s, 64))["material"] for s in seeds)
    skipped = [s for s in range(seeds[0], seeds[-1]) if s not in seeds]
    assert skipped and all("normalmap" not in kinds_in(sample_recipe(s, 64))["material"] for s in skipped)
    job.shard = (1, 2)
    assert job.scene_ids() == seeds[1::2]
    with pytest.raises(ValueError, match="unknown grammar kind"):
        RenderJob(out="x", generator="grammar", require=["bumpy"]).validate()
    with pytest.raises(ValueError, match="--generator grammar"):
        RenderJob(out="x", require=["bump"]).validate()
