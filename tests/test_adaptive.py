"""Adaptive sampling with Mitsuba: allocation, exact per-pixel statistics for arbitrary counts,
pooling of passes, users' scene files and the sampling loop (tiny real renders, 8–24 px)."""

import numpy as np
import pytest

from neurecon.render.adaptive import (
    PLANES,
    AdaptiveRenderer,
    SceneLoadError,
    adaptive_render,
    allocate,
    bands,
    pass_schedule,
    pass_seed,
    uniform_guide,
    variance_guide,
)
from neurecon.render.mitsuba_backend import integrator, mitsuba, render_buffers

RADIANCE = [0.3, 0.7, 1.9]
CONST_XML = """<scene version="3.0.0">
  <default name="res" value="48"/>
  <integrator type="path"><integer name="max_depth" value="4"/></integrator>
  <sensor type="perspective">
    <float name="fov" value="40"/>
    <film type="hdrfilm"><integer name="width" value="$res"/><integer name="height" value="32"/>
      <rfilter type="gaussian"/></film>
  </sensor>
  <emitter type="constant"><rgb name="radiance" value="0.3, 0.7, 1.9"/></emitter>
</scene>
"""


def constant_scene(w=12, h=8):
    """Nothing but a constant environment: every camera sample returns RADIANCE exactly."""
    return {
        "type": "scene",
        "integrator": {"type": "path", "max_depth": 4},
        "sensor": {
            "type": "perspective",
            "film": {"type": "hdrfilm", "width": w, "height": h, "rfilter": {"type": "box"}},
        },
        "emitter": {"type": "constant", "radiance": {"type": "rgb", "value": RADIANCE}},
    }


def cornell_dict(size=12):
    d = mitsuba().cornell_box()
    d["integrator"] = integrator(max_depth=6)
    d["sensor"]["film"].update(width=size, height=size, rfilter={"type": "box"})
    return d


@pytest.fixture(scope="module")
def cornell():
    return AdaptiveRenderer(cornell_dict())


def reference_stats(renderer, passes):
    """Per-pixel count, sum and sum of squares from the raw samples of each (counts, seed) pass,
    accumulated with numpy (np.add.at) — what the renderer's dr.scatter_reduce must reproduce."""
    npix = renderer.width * renderer.height
    total = np.zeros((npix, 13))
    squares = np.zeros((npix, 13))
    count = np.zeros(npix, np.int64)
    for counts, seed in passes:
        pixels = np.repeat(np.arange(npix, dtype=np.uint32), counts.ravel())
        _, values = renderer.trace(pixels, pass_seed(seed, 0))
        v = np.stack([np.asarray(x, np.float64) for x in values], 1)
        np.add.at(total, pixels, v)
        np.add.at(squares, pixels, v * v)
        np.add.at(count, pixels, 1)
    return count, total, squares


def check_against(stats, count, total, squares):
    assert np.array_equal(stats.counts.ravel(), count)
    n = count[:, None].astype(np.float64)
    mu = total / np.maximum(n, 1)
    var = np.where(n > 1, np.maximum(squares - n * mu * mu, 0) / np.maximum(n - 1, 1) / np.maximum(n, 1), 0)
    c = 0
    for name, ch in PLANES.items():
        got_mu = stats.mean(name).reshape(-1, ch)
        got_var = stats.variance_of_mean(name).reshape(-1, ch)
        np.testing.assert_allclose(got_mu, mu[:, c : c + ch], rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(got_var, var[:, c : c + ch], rtol=1e-6, atol=1e-12)
        c += ch


# allocation ------------------------------------------------------------------------------


@pytest.mark.parametrize("total_spp", [1, 3, 16, 37])
def test_allocation_sums_to_the_budget_within_the_clamp(rng, total_spp):
    w = rng.lognormal(0, 2.5, (20, 30))
    w[0, :5] = 0
    w[1, 0], w[1, 1], w[1, 2] = np.nan, np.inf, -3  # bad weights count as 0
    total = total_spp * w.size
    c = allocate(w, total, cap=8)
    assert c.shape == w.shape and c.dtype.kind == "i"
    assert c.sum() == total
    assert c.min() >= 1
    assert c.max() <= 8 * total_spp


def test_allocation_is_proportional_where_the_cap_does_not_bind(rng):
    w = rng.uniform(1, 3, 400)
    total = 400 * 10
    c = allocate(w, total, cap=8)
    exact = 1 + (total - 400) * w / w.sum()
    assert np.abs(c - exact).max() < 1  # largest-remainder rounding of the exact shares


def test_allocation_caps_and_refills():
    w = np.zeros(100)
    w[0] = 1.0  # everything wants pixel 0: it gets the cap, the rest spreads over the others
    c = allocate(w, 100 * 4, cap=8)
    assert c[0] == 32 and c.sum() == 400 and c[1:].min() >= 1
    assert np.array_equal(allocate(np.zeros((4, 4)), 16 * 5), np.full((4, 4), 5))  # no signal: uniform
    with pytest.raises(ValueError, match="cannot give 1"):
        allocate(np.ones(10), 9)


def test_pass_schedule_doubles_to_the_budget():
    assert pass_schedule(64) == [16, 32, 64]
    assert pass_schedule(16) == [4, 8, 16]
    assert pass_schedule(100) == [16, 32, 64, 100]
    assert pass_schedule(1) == [1]
    with pytest.raises(ValueError):
        pass_schedule(0)


# exact statistics ----------------------------------------------------------------------------


def test_constant_radiance_gives_exact_means_and_variances(rng):
    r = AdaptiveRenderer(constant_scene())
    counts = rng.integers(0, 40, r.shape)
    counts[0, 0], counts[0, 1] = 0, 1
    stats = r.render_counts(counts, seed=5)
    assert np.array_equal(stats.counts, counts)
    lit = counts > 0
    mean = stats.mean("color")
    assert np.array_equal(mean[lit], np.broadcast_to(np.float32(RADIANCE).astype(np.float64), mean[lit].shape))
    assert np.all(stats.variance_of_mean("color") == 0)
    b = stats.buffers()
    assert np.all(b["albedo"] == 0) and np.all(b["depth"] == 0)  # no surface anywhere


def test_arbitrary_counts_match_numpy_accumulation_of_the_same_samples(cornell, rng):
    counts = rng.integers(0, 9, cornell.shape)
    stats = cornell.render_counts(counts, seed=11)
    check_against(stats, *reference_stats(cornell, [(counts, 11)]))
    assert stats.variance_of_mean("color").max() > 0  # a real scene: the check saw variance


def test_two_passes_pool_to_the_statistics_of_all_their_samples(cornell, rng):
    c1, c2 = rng.integers(1, 6, cornell.shape), rng.integers(0, 12, cornell.shape)
    pooled = cornell.render_counts(c1, seed=1)
    pooled += cornell.render_counts(c2, seed=2)
    count, total, squares = reference_stats(cornell, [(c1, 1), (c2, 2)])
    assert np.array_equal(count.reshape(cornell.shape), c1 + c2)
    check_against(pooled, count, total, squares)


def test_uniform_counts_reproduce_mitsubas_own_render(cornell):
    # same seed, same lane order (pixel-major, spp samples each): Mitsuba's moment integrator and
    # our scatter-reduced sums see the same samples
    ours = cornell.render_uniform(8, seed=3).buffers()
    theirs = render_buffers(mitsuba().load_dict(cornell_dict()), 8, seed=3)
    for name in ("color", "albedo", "normal", "depth", "color_var"):
        np.testing.assert_allclose(ours[name], theirs[name], rtol=2e-4, atol=1e-6, err_msg=name)


def test_bad_counts_are_refused(cornell):
    with pytest.raises(ValueError, match="film"):
        cornell.render_counts(np.ones((3, 3), int), 0)
    with pytest.raises(ValueError, match="≥ 0"):
        cornell.render_counts(-np.ones(cornell.shape, int), 0)


# scenes ------------------------------------------------------------------------------------


def test_a_scene_that_fails_to_load_is_a_clear_error(tmp_path):
    with pytest.raises(SceneLoadError, match="could not load"):
        AdaptiveRenderer({"type": "scene", "shape": {"type": "obj", "filename": str(tmp_path / "none.obj")}})
    from neurecon.render.scene_file import load_scene_file

    with pytest.raises(FileNotFoundError):
        load_scene_file(tmp_path / "missing.xml")
    bad = tmp_path / "bad.xml"
    bad.write_text(
        '<scene version="3.0.0"><sensor type="perspective"/><shape type="obj">'
        '<string name="filename" value="gone.obj"/></shape></scene>'
    )
    with pytest.raises(SceneLoadError, match="bad.xml.*gone.obj"):
        load_scene_file(bad)
    bad.write_text("<scene><sensor")
    with pytest.raises(SceneLoadError, match="not a Mitsuba XML"):
        load_scene_file(bad)


def test_scene_file_gets_a_box_filtered_film_at_its_aspect(tmp_path):
    from neurecon.render.scene_file import load_scene_file

    path = tmp_path / "const.xml"
    path.write_text(CONST_XML)
    scene = load_scene_file(path, 16)
    film = scene.sensors()[0].film()
    assert list(film.crop_size()) == [24, 16]  # 48×32 → height 16 at 3:2
    assert film.rfilter().is_box_filter()
    assert list(load_scene_file(path).sensors()[0].film().crop_size()) == [48, 32]


def test_render_cli_writes_a_frame_neurecon_reads(tmp_path):
    from neurecon.cli import main
    from neurecon.io import read_buffers, read_exr_channels

    path = tmp_path / "const.xml"
    path.write_text(CONST_XML)
    out = tmp_path / "frame.exr"
    assert main(["render", "--scene", str(path), "--size", "8", "--spp", "3", "-o", str(out), "--quiet"]) == 0
    buf = read_buffers(out)
    for name in ("color", "albedo", "normal", "depth", "color_var", "albedo_var", "normal_var"):
        assert name in buf, name
    assert np.allclose(buf["color"], RADIANCE) and np.all(buf["color_var"] == 0)
    assert np.all(read_exr_channels(out)["spp.Y"] == 3)
    assert main(["render", "--scene", str(tmp_path / "none.xml"), "-o", str(out)]) == 2


# the loop ------------------------------------------------------------------------------------


def test_adaptive_loop_spends_exactly_the_budget(cornell):
    npix = cornell.width * cornell.height
    res = adaptive_render(cornell, 8, variance_guide, seed=4)
    assert [p["total_spp"] for p in res.passes] == [2, 4, 8]
    assert res.stats.total == 8 * npix
    assert res.stats.counts.min() >= 2 + 1 + 1  # the uniform pass, then ≥ 1 per adaptive pass
    assert len(res.weights) == 2
    uni = adaptive_render(cornell, 8, uniform_guide, seed=4)
    assert np.all(uni.stats.counts == 8)


def test_adaptive_loop_places_samples_by_the_guide(cornell):
    # a guide that only wants the left half: it gets the capped share, the right half the minimum
    def left(buf, counts):
        w = np.zeros(buf.shape)
        w[:, : buf.shape[1] // 2] = 1
        return w

    res = adaptive_render(cornell, 16, left, seed=0)
    c = res.stats.counts
    half = cornell.width // 2
    assert c[:, :half].mean() > 4 * c[:, half:].mean()
    assert res.stats.total == 16 * c.size


def test_two_passes_equal_one_pass_of_the_summed_counts_on_a_constant_scene(rng):
    r = AdaptiveRenderer(constant_scene())
    c1, c2 = rng.integers(0, 5, r.shape), rng.integers(0, 9, r.shape)
    two = r.render_counts(c1, seed=3)
    two += r.render_counts(c2, seed=3)
    one = r.render_counts(c1 + c2, seed=3)
    assert np.array_equal(two.counts, one.counts)
    for name in PLANES:
        assert np.array_equal(two.mean(name), one.mean(name)), name
        assert np.array_equal(two.variance_of_mean(name), one.variance_of_mean(name)), name


# work units and sharding -------------------------------------------------------------------


@pytest.mark.parametrize("band", [1, 7, 40, 10_000])
def test_bands_tile_the_frame_in_order_within_the_sample_limit(rng, band):
    c = rng.integers(0, 6, (9, 11))
    c[3] = 0  # an empty row
    c[5, 4] = 60  # one pixel above small limits: a unit of its own
    units = bands(c, band)
    flat = c.ravel()
    assert units[0][0] == 0 and units[-1][1] == c.size
    assert all(a[1] == b[0] and a[0] < a[1] for a, b in zip(units, units[1:], strict=False))
    for lo, hi in units:
        assert flat[lo:hi].sum() <= band or hi - lo == 1
        if c.sum(1).max() <= band:  # every row fits: units are whole rows
            assert lo % c.shape[1] == 0 and hi % c.shape[1] == 0
    assert len(bands(c, 10_000)) == 1


def test_units_rendered_apart_pool_to_the_samples_of_the_whole_pass(cornell, rng):
    counts = rng.integers(0, 9, cornell.shape)
    small = AdaptiveRenderer(cornell_dict(), band_samples=50).render_counts(counts, seed=11)
    assert len(bands(counts, 50)) > 4
    # each unit's samples are its own seeds' samples, reduced exactly
    flat = counts.ravel()
    for b, (lo, hi) in enumerate(bands(counts, 50)):
        pixels = np.repeat(np.arange(lo, hi, dtype=np.uint32), flat[lo:hi])
        _, values = cornell.trace(pixels, pass_seed(11, b))
        v = np.stack([np.asarray(x, np.float64) for x in values], 1)
        total = np.zeros((hi - lo, 13))
        np.add.at(total, pixels - lo, v)
        got = np.concatenate([small.sums[n].reshape(-1, ch)[lo:hi] for n, ch in PLANES.items()], 1)
        np.testing.assert_allclose(got, total, rtol=1e-12, atol=1e-12)


def test_two_worker_processes_give_bit_identical_statistics(rng):
    from functools import partial

    from neurecon.render.shard import PooledRenderer

    counts = rng.integers(0, 7, (16, 16))
    local = AdaptiveRenderer(cornell_dict(16), band_samples=64)
    want = local.render_counts(counts, seed=9)
    loop = adaptive_render(local, 4, variance_guide, seed=2)
    with PooledRenderer(partial(cornell_dict, 16), workers=2, band_samples=64) as pool:
        got = pool.render_counts(counts, seed=9)
        pooled_loop = adaptive_render(pool, 4, variance_guide, seed=2)
    assert np.array_equal(got.counts, want.counts)
    for name in PLANES:
        assert np.array_equal(got.sums[name], want.sums[name]), name
        assert np.array_equal(got.squares[name], want.squares[name]), name
    # the whole loop: same guide maps, same allocations, same statistics
    assert all(np.array_equal(a, b) for a, b in zip(pooled_loop.counts, loop.counts, strict=True))
    for name in PLANES:
        assert np.array_equal(pooled_loop.stats.sums[name], loop.stats.sums[name]), name


def test_shard_files_merge_to_the_unsharded_pass(rng, tmp_path):
    from neurecon.render.shard import merge_shards, render_shard

    cornell = AdaptiveRenderer(cornell_dict(), band_samples=60)
    counts = rng.integers(0, 9, cornell.shape)
    want = cornell.render_counts(counts, seed=4)
    paths = [tmp_path / f"part{i}.npz" for i in range(3)]
    assert sum(render_shard(cornell, counts, 4, (i, 3), p) for i, p in enumerate(paths)) == len(bands(counts, 60))
    got = merge_shards(reversed(paths))  # any order
    assert np.array_equal(got.counts, counts)
    for name in PLANES:
        assert np.array_equal(got.sums[name], want.sums[name]) and np.array_equal(got.squares[name], want.squares[name])
    with pytest.raises(ValueError, match="2/3 are missing"):
        merge_shards(paths[:2])
    with pytest.raises(ValueError, match="given twice"):
        merge_shards([paths[0], paths[0], paths[1], paths[2]])
    other = tmp_path / "other.npz"
    render_shard(cornell, counts, 5, (2, 3), other)  # another seed: another pass
    with pytest.raises(ValueError, match="another pass"):
        merge_shards([paths[0], paths[1], other])


def test_render_cli_shards_and_merges_a_frame(tmp_path):
    from neurecon.cli import main
    from neurecon.io import read_exr_channels

    path = tmp_path / "const.xml"
    path.write_text(CONST_XML)
    common = ["render", "--scene", str(path), "--size", "64", "--spp", "65", "--quiet"]  # 96×64×65: 2 units
    whole, merged = tmp_path / "whole.exr", tmp_path / "merged.exr"
    assert main([*common, "-o", str(whole)]) == 0
    parts = [str(tmp_path / f"p{i}.npz") for i in range(2)]
    for i, p in enumerate(parts):
        assert main([*common, "--shard", f"{i}/2", "-o", p]) == 0
    assert all(np.load(p)["count"].size > 0 for p in parts)  # both shards rendered something
    assert main(["render", "--merge", *parts, "-o", str(merged), "--quiet"]) == 0
    a, b = read_exr_channels(whole), read_exr_channels(merged)
    assert sorted(a) == sorted(b) and all(np.array_equal(a[k], b[k]) for k in a)
    assert np.all(b["spp.Y"] == 65)
    assert main([*common, "--shard", "0/2", "-o", str(tmp_path / "x.exr")]) == 2  # a shard is an npz
    assert main([*common, "--shard", "0/2", "--adaptive", "-o", parts[0]]) == 2
