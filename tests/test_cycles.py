"""Cycles as a second renderer, sources declared by the data, and the adapt recipe (§3.2, §7.1).

The Cycles renders need Blender as a module (`bash scripts/setup.sh --cycles`, ~950 MB, not in the
default CI install): those tests are skipped when `bpy` is absent, and say so.
"""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
import torch

from neurecon.buffers import Buffers
from neurecon.io import read_buffers, write_buffers
from neurecon.models import build_model, load_checkpoint, load_model, weights_digest
from neurecon.render.cycles_backend import have_bpy

needs_bpy = pytest.mark.skipif(
    not have_bpy(), reason="bpy (Blender as a module) not installed: `bash scripts/setup.sh --cycles`"
)

TINY_UNET = {
    "arch": "unet",
    "widths": [8, 8, 12, 12],
    "kernel": 3,
    "sources": {
        "mitsuba": ["color", "color_var", "albedo", "albedo_var", "normal", "normal_var"],
        "oidn": ["color", "albedo", "normal"],
    },
}


def _frame(rng, h=24, w=20) -> Buffers:
    return Buffers(
        color=rng.uniform(0, 2, (h, w, 3)).astype(np.float32),
        albedo=rng.uniform(0, 1, (h, w, 3)).astype(np.float32),
        normal=rng.uniform(-1, 1, (h, w, 3)).astype(np.float32),
    )


@pytest.fixture(scope="module")
def tiny_base(tmp_path_factory):
    """A small untrained U-Net saved as a model file: the base to adapt."""
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("base") / "base.pt"
    model = build_model(TINY_UNET)
    torch.save({"spec": dict(TINY_UNET), "model": model.state_dict()}, path)
    return path


def _adapt(root, base, out, source, buffers=None, init_from=None, iterations=3):
    from neurecon.models.card import export_adapter
    from neurecon.train.run import train_from_config

    task = {"name": "denoise_adapt", "base": str(base), "source": source, "init_from": init_from}
    if buffers:
        task["buffers"] = buffers
    task["data"] = {"root": str(root), "spp": [4], "patch": 16, "batch": 2, "valid_limit": 1, "train_limit": 2}
    cfg = {
        "task": task,
        "optim": {"lr": 1e-2, "ema": 0.9},
        "run": {"out": str(out), "iterations": iterations, "val_every": 3, "ckpt_every": 3, "log_every": 1, "seed": 1},
    }
    train_from_config(cfg, progress=False)
    return export_adapter(out, out / "adapter.pt")[0]


# ------------------------------------------------------------------ source recognition


def test_cycles_multilayer_exr_is_the_cycles_source(tmp_path, rng, tiny_base):
    """Cycles channel names (ViewLayer.Combined.R, …) declare the `cycles` source; the denoiser
    uses a `cycles` encoder when the model has one, else falls back and says why."""
    from neurecon.infer.denoiser import Denoiser

    path = tmp_path / "frame.exr"
    write_buffers(path, _frame(rng), style="cycles")
    buf = read_buffers(path)
    assert buf.source == "cycles" and set(buf.names()) == {"color", "albedo", "normal"}
    plain = tmp_path / "plain.exr"
    write_buffers(plain, _frame(rng))
    assert read_buffers(plain).source is None  # Mitsuba-style names declare nothing

    den = Denoiser.load(tiny_base)
    source, why = den.choose_source(buf.names(), declared=buf.source)
    assert source == "oidn" and "no encoder" in why and "neurecon adapt" in why
    spec = {**TINY_UNET, "sources": {**TINY_UNET["sources"], "cycles": ["color", "albedo", "normal"]}}
    both = Denoiser(build_model(spec))
    assert both.choose_source(buf.names(), declared=buf.source)[0] == "cycles"
    assert both.choose_source(buf.names())[0] == "oidn"  # undeclared data: not the cycles encoder
    assert both.choose_source(buf.names(), requested="oidn", declared="cycles")[0] == "oidn"


def test_wrong_source_name_lists_the_known_ones(tmp_path, rng, tiny_base):
    from neurecon.infer.denoiser import Denoiser

    den = Denoiser.load(tiny_base)
    with pytest.raises(ValueError, match=r"unknown source 'blender'.*mitsuba, oidn.*cycles"):
        den.denoise_buffers(_frame(rng), source="blender")
    frame = tmp_path / "f.exr"
    write_buffers(frame, _frame(rng))
    r = subprocess.run(
        [sys.executable, "-m", "neurecon", "denoise", str(frame), "-o", str(tmp_path / "o.exr")]
        + ["--model", str(tiny_base), "--source", "blender"],
        capture_output=True,
        text=True,
    )
    assert r.returncode == 2 and "unknown source 'blender'" in r.stderr and "mitsuba, oidn" in r.stderr
    assert not (tmp_path / "o.exr").exists()


def test_denoise_cli_says_which_source(tmp_path, rng, tiny_base):
    frame = tmp_path / "cyc.exr"
    write_buffers(frame, _frame(rng), style="cycles")
    r = subprocess.run(
        [sys.executable, "-m", "neurecon", "denoise", str(frame), "-o", str(tmp_path / "o.exr")]
        + ["--model", str(tiny_base), "--precision", "fp32"],
        capture_output=True,
        text=True,
    )
    assert r.returncode == 0, r.stderr
    assert "source: oidn (the file is cycles, which this model has no encoder for" in r.stderr


# ------------------------------------------------------------------ the adapt recipe


def test_adaptation_keeps_the_frozen_weights_bit_identical(tmp_path, tiny_dataset, tiny_base):
    """Only the new encoder changes; every other weight of the adapted model is the base's,
    bit for bit (Adam's update, the weight average and the fp16 export never touch them)."""
    adapter = _adapt(tiny_dataset, tiny_base, tmp_path / "run", "cycles", init_from="oidn")
    base = load_checkpoint(tiny_base)
    merged = load_checkpoint(f"{tiny_base}+{adapter}")
    assert set(merged["model"]) == set(base["model"]) | {k for k in merged["model"] if k.startswith("encoders.cycles.")}
    for k, v in base["model"].items():
        assert torch.equal(merged["model"][k], v), k
    # the run's own best weights (fp32, from the weight average) too, not just what the file re-adds
    run_state = torch.load(tmp_path / "run" / "best.pt", weights_only=True)["model"]
    for k, v in base["model"].items():
        assert torch.equal(run_state[k], v.float()), k
    # and the encoder did train: it left its starting point (the base's oidn encoder)
    trained = merged["model"]["encoders.cycles.0.weight"].float()
    assert not torch.equal(trained, base["model"]["encoders.oidn.0.weight"].float())
    ad = torch.load(adapter, weights_only=True)
    assert set(ad["model"]) == {k for k in merged["model"] if k.startswith("encoders.cycles.")}
    assert ad["adapter"]["base_digest"] == weights_digest(base["model"])
    assert all(v.dtype == torch.float16 for v in ad["model"].values())
    assert (adapter.with_suffix(".md")).read_text().startswith("# base+cycles") or "adapter for" in (
        adapter.with_suffix(".md").read_text()
    )


def test_adapter_for_a_source_with_fewer_buffers_loads_and_runs(tmp_path, tiny_dataset, tiny_base, rng):
    """A colour-only source (fewer buffers than any base encoder): a fresh encoder, trained, loads
    onto the base by name and denoises a frame that has nothing but colour."""
    from neurecon.infer.denoiser import Denoiser

    adapter = _adapt(tiny_dataset, tiny_base, tmp_path / "run", "beauty", buffers=["color"])
    den = Denoiser.load(f"{tiny_base}+{adapter}", precision="fp32")
    assert den.model.config.sources["beauty"] == ["color"]
    color = rng.uniform(0, 1, (20, 28, 3)).astype(np.float32)
    out = den.denoise(color)  # the only source whose buffers were given
    assert out.shape == color.shape and np.isfinite(out).all()
    # the adapter file alone loads onto the base it names
    model, ck = load_model(adapter)
    assert "beauty" in model.config.sources and ck["card"]["name"].endswith("+beauty")


def test_adapter_refuses_another_base(tmp_path, tiny_dataset, tiny_base):
    from neurecon.io.torchfile import CheckpointError

    adapter = _adapt(tiny_dataset, tiny_base, tmp_path / "run", "cycles", init_from="oidn", iterations=1)
    torch.manual_seed(5)
    other = tmp_path / "other.pt"
    torch.save({"spec": dict(TINY_UNET), "model": build_model(TINY_UNET).state_dict()}, other)
    with pytest.raises(CheckpointError, match="trained on base weights"):
        load_checkpoint(f"{other}+{adapter}")


def test_adapt_task_refuses_a_source_the_base_has(tmp_path, tiny_dataset, tiny_base):
    from neurecon.train.run import train_from_config

    cfg = {
        "task": {
            "name": "denoise_adapt",
            "base": str(tiny_base),
            "source": "oidn",
            "data": {"root": str(tiny_dataset)},
        },
        "run": {"out": str(tmp_path / "r"), "iterations": 1},
    }
    with pytest.raises(ValueError, match="already has a 'oidn' encoder"):
        train_from_config(cfg, progress=False)


# ------------------------------------------------------------------ the Cycles renderer


def test_grammar_translation_keeps_the_scene(rng):
    """describe_scene draws the same scene as random_scene: as many shapes and lights, and the
    camera where Mitsuba puts it (no bpy needed)."""
    from neurecon.render.cycles_backend import describe_scene, envmap_to_blender
    from neurecon.render.scenes import random_scene

    for seed in (200000, 200001, 7):
        desc = describe_scene(seed, 32)
        scene = random_scene(seed, 32)
        shapes = [k for k, v in scene.items() if k.startswith(("obj", "floor", "back", "left", "right", "ceiling"))]
        emitters = [k for k in scene if k.startswith("light")]
        assert len([o for o in desc["objects"] if "emission" not in o]) == len(shapes)
        assert len(desc["objects"]) - len(shapes) + len(desc["lights"]) == len(emitters)
        cam = np.array(desc["camera"]["matrix"])
        assert np.allclose(cam, np.array(scene["sensor"]["to_world"].matrix))
    # an envmap resampled into Blender's convention: a constant map stays constant, and the
    # direction Mitsuba calls "up" (+y, row 0) lands in Blender's top row (+z)
    img = np.zeros((16, 32, 3), np.float32)
    img[0] = 10.0
    out = envmap_to_blender(img, np.eye(4), height=16)
    assert out[0].mean() > 5 and out[-1].mean() == 0
    assert np.allclose(envmap_to_blender(np.ones((8, 16, 3), np.float32), np.eye(4)), 1.0)


@needs_bpy
def test_tiny_cycles_render_reads_back_with_its_buffers(tmp_path):
    """A 64² procedural scene at 2 spp (reference 4): the OIDN-layout files have Cycles' passes,
    the raw multi-layer EXR declares the `cycles` source, the metadata says how it was rendered."""
    from neurecon.io import find_frames
    from neurecon.render.cycles_backend import run_worker
    from neurecon.render.dataset import RenderJob, run

    meta = run(
        RenderJob(out=str(tmp_path), split="test", scenes=1, size=64, spp=[2], ref_spp=4, renderer="cycles"),
        progress=False,
    )
    assert meta["source"] == "cycles" and meta["pixel_filter"].startswith("blackman_harris")
    assert json.loads((tmp_path / "test" / "metadata.json").read_text())["renderer"].startswith("cycles")
    frames = find_frames(tmp_path / "test")
    fs = frames["scene200000"]
    noisy, ref = fs.read(2), fs.read("ref")
    assert noisy.source == "cycles"  # the folder's metadata declares it: the model picks its cycles encoder
    assert {"color", "albedo", "normal", "depth", "motion"} <= set(noisy.names())
    assert noisy.shape == (64, 64) and ref.shape == (64, 64)
    assert np.isfinite(noisy["color"]).all() and noisy["color"].mean() > 0
    # reflectances in [0, 1]; Cycles' Denoising Albedo of an emitter seen directly is its emission
    assert 0 <= noisy["albedo"].min() and np.quantile(noisy["albedo"], 0.9) <= 1 + 1e-3
    n = np.linalg.norm(noisy["normal"], axis=-1)
    hit = n > 0.5
    # unit normals where a surface was hit (shorter only where the filter averages across an edge)
    assert hit.mean() > 0.5 and np.mean(np.abs(n[hit] - 1) < 0.05) > 0.9
    assert np.abs(noisy["motion"]).max() < 1e-3  # a still: no motion (float rounding of Cycles' reprojection)
    # the raw Cycles file as Blender writes it: recognised by its channel names
    run_worker(
        {
            "name": "raw",
            "seed": 3,
            "size": 64,
            "spp": [2],
            "ref_spp": 2,
            "directory": str(tmp_path / "raw"),
            "keep_exr": True,
        }
    )
    raw = read_buffers(tmp_path / "raw" / "raw_ref.cycles.exr")
    assert raw.source == "cycles" and {"color", "albedo", "normal"} <= set(raw.names())


def test_halves_variance_is_the_variance_of_their_mean(rng):
    """(a − b)²/4 is unbiased for Var((a + b)/2): over many pixels of independent halves with a
    known per-pixel variance σ², its mean is σ²/2, and the mean of the halves is kept."""
    from neurecon.render.cycles_backend import halves_mean_variance

    sigma = rng.uniform(0.1, 2.0, (64, 64, 1)).astype(np.float32)
    mu = rng.uniform(0, 5, (64, 64, 3)).astype(np.float32)
    est = []
    for _ in range(50):
        a, b = (Buffers(color=mu + sigma * rng.standard_normal(mu.shape).astype(np.float32)) for _ in range(2))
        a["depth"] = np.ones((64, 64, 1), np.float32)
        out = halves_mean_variance(a, b)
        assert np.allclose(out["color"], (a["color"] + b["color"]) / 2) and "albedo_var" not in out
        assert np.array_equal(out["depth"], a["depth"])
        est.append(out["color_var"] / (sigma**2 / 2))
    ratio = np.mean(est)
    assert abs(ratio - 1) < 0.02, ratio  # 50 · 64² · 3 samples of a χ²₁ ratio: σ ≈ 0.004


def test_variance_halves_needs_cycles_and_even_spp():
    from neurecon.render.dataset import RenderJob

    with pytest.raises(ValueError, match="applies to Cycles"):
        RenderJob(out="x", variance="halves").validate()
    with pytest.raises(ValueError, match="spp must be even"):
        RenderJob(out="x", renderer="cycles", variance="halves", spp=[4, 5]).validate()
    with pytest.raises(ValueError, match="unknown variance mode"):
        RenderJob(out="x", renderer="cycles", variance="split").validate()


@needs_bpy
def test_tiny_cycles_halves_render_has_variances(tmp_path):
    """`variance: halves`: each noisy frame carries colour/albedo/normal variances and the folder
    declares the cycles_var source, whose encoder reads them."""
    from neurecon.io import find_frames
    from neurecon.nn.features import DEFAULT_SOURCES
    from neurecon.render.dataset import RenderJob, run

    job = RenderJob(out=str(tmp_path), split="test", scenes=1, size=48, spp=[2], ref_spp=4, renderer="cycles")
    job.variance = "halves"
    meta = run(job, progress=False)
    assert meta["source"] == "cycles_var" and meta["scenes"][0]["variance"] == "halves"
    noisy = find_frames(tmp_path / "test")["scene200000"].read(2)
    assert set(DEFAULT_SOURCES["cycles_var"]) <= set(noisy.names())
    assert noisy["color_var"].min() >= 0 and noisy["color_var"].max() > 0  # 1 spp halves of a noisy frame differ


def test_sources_study_summary_and_verdict(tmp_path):
    """Means per method and spp, and the issue's target (adapted ≤ OIDN and < unadapted) per N."""
    from neurecon.studies.sources import plot, summarise, verdict

    rows = []
    for scene, scale in (("a", 1.0), ("b", 3.0)):
        for method, v in (("default", 0.04), ("oidn", 0.03), ("adapted@8", 0.035), ("adapted@16", 0.02)):
            rows.append({"scene": scene, "spp": 4, "method": method, "relmse": v * scale, "dssim": v * scale / 2})
    s = summarise(rows)
    assert s["oidn"]["4"]["relmse"] == pytest.approx(0.06) and s["oidn"]["4"]["frames"] == 2
    assert s["adapted@16"]["4"]["dssim"] == pytest.approx(0.02)
    v = verdict(s, [8, 16], [4])
    assert v["8"]["checks"]["dssim@4 < default"] and not v["8"]["checks"]["dssim@4 <= oidn"] and not v["8"]["all"]
    assert v["16"]["all"]
    plot(s, [8, 16], [4], tmp_path / "fig.png")
    assert (tmp_path / "fig.png").stat().st_size > 1000
    from neurecon.studies.sources import plot_table2, source_table_markdown

    table = {"A only": {"mitsuba": {"relmse_vs_input": 0.1, "dssim_vs_input": 0.2}}}
    table["B only"] = {t: {"relmse_vs_input": 0.3, "dssim_vs_input": 0.1} for t in ("mitsuba", "cycles")}
    plot_table2(table, tmp_path / "t2.png")
    assert (tmp_path / "t2.png").stat().st_size > 1000
    assert "| A only | 0.1000 | 0.2000 | – | – |" in source_table_markdown(table, ["mitsuba", "cycles"])


@pytest.mark.parametrize(
    "name, base, other", [("default+cycles", "default", "high_v1"), ("high_v1+cycles", "high_v1", "default")]
)
def test_shipped_cycles_adapters_load_onto_the_base_they_were_trained_on(rng, name, base, other):
    """`default+cycles` (onto today's default) and `high_v1+cycles` (onto the default before the
    scene-grammar retraining): each base's weights untouched, plus a `cycles` encoder that the
    denoiser uses for files with Cycles channel names."""
    from neurecon.infer.denoiser import Denoiser

    merged = load_checkpoint(name)
    assert all(torch.equal(merged["model"][k], v) for k, v in load_checkpoint(base)["model"].items())
    assert not all(torch.equal(merged["model"][k], v) for k, v in load_checkpoint(other)["model"].items())
    assert merged["spec"]["sources"]["cycles"] == ["color", "albedo", "normal"]
    den = Denoiser.load(name, precision="fp32")
    frame = _frame(rng, 32, 32)
    frame.source = "cycles"
    assert den.choose_source(frame.names(), declared=frame.source)[0] == "cycles"
    out = den.denoise_buffers(frame)
    assert out.shape == (32, 32, 3) and np.isfinite(out).all()


@needs_bpy
def test_blend_file_renders_with_its_own_camera(tmp_path):
    """`neurecon render --blend FILE`: a user's .blend (here one saved from a procedural scene) is
    rendered with its camera and resolution unless --size is given, named after the file."""
    from neurecon.io import find_frames

    script = (
        "import bpy, sys; from neurecon.render.cycles_backend import build_scene, describe_scene; "
        "build_scene(describe_scene(200001, 48)); bpy.context.scene.render.resolution_y = 32; "
        "bpy.ops.wm.save_as_mainfile(filepath=sys.argv[1])"
    )
    blend = tmp_path / "my shot.blend"
    subprocess.run([sys.executable, "-c", script, str(blend)], check=True, capture_output=True)
    r = subprocess.run(
        [sys.executable, "-m", "neurecon", "render", "--blend", str(blend), "--spp", "2", "--ref-spp", "2"]
        + ["--out", str(tmp_path / "out"), "--split", "test", "--quiet"],
        capture_output=True,
        text=True,
    )
    assert r.returncode == 0, r.stderr
    fs = find_frames(tmp_path / "out" / "test")["my_shot"]
    assert fs.read(2).shape == (32, 48)  # the file's own 48×32
    meta = json.loads((tmp_path / "out" / "test" / "metadata.json").read_text())
    assert meta["scenes"][0]["blend"].endswith("my shot.blend") and meta["source"] == "cycles"
    bad = subprocess.run(
        [sys.executable, "-m", "neurecon", "render", "--blend", str(tmp_path / "missing.blend")],
        capture_output=True,
        text=True,
    )
    assert bad.returncode == 2 and "not found" in bad.stderr
