"""Relighting: the progressive schedule and stage loss, the network's growth, the OLAT layout and
render, the baselines and the relight CLI (tiny renders and nets)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from neurecon.io.olat import OlatError, read_olat, write_olat
from neurecon.nn.relight import RelightUNet, alias_free_weights, up
from neurecon.render.lights import SphereTriangulation, fibonacci_hemisphere, fibonacci_sphere, normalize
from neurecon.train.progressive import ProgressiveSchedule, StageState, stage_loss, stage_output


def _inputs(B=2, k=3, H=16, seed=0):
    g = torch.Generator().manual_seed(seed)
    images = torch.rand(B, k, 3, H, H, generator=g)
    dirs = torch.nn.functional.normalize(torch.randn(B, k, 3, generator=g), dim=-1)
    query = torch.nn.functional.normalize(torch.randn(B, 3, generator=g), dim=-1)
    target = torch.rand(B, 3, H, H, generator=g)
    mask = (torch.rand(B, 1, H, H, generator=g) > 0.3).float()
    return images, dirs, query, target, mask


@pytest.fixture(scope="module")
def net():
    torch.manual_seed(0)
    m = RelightUNet(widths=(4, 6, 8), residual=False)  # non-zero heads: every level's image differs
    return m.eval()


# the stage output and the network's growth ------------------------------------------------------
def test_at_w_fine_1_the_stage_output_is_that_levels_auxiliary_image(net):
    images, dirs, q, _, _ = _inputs()
    with torch.no_grad():
        for level in (0, 1, 2):
            aux = net(images, dirs, q, level, 1.0)
            assert all(a is None for a in aux[:level]) and all(a is not None for a in aux[level:])
            assert torch.equal(stage_output(aux, level, 1.0), aux[level])
            assert aux[level].shape[-1] == 16 // 2**level


def test_at_w_fine_0_the_stage_output_is_the_upsampled_coarser_one(net):
    images, dirs, q, _, _ = _inputs()
    with torch.no_grad():
        for level in (0, 1):
            aux = net(images, dirs, q, level, 0.0)
            out = stage_output(aux, level, 0.0)
            assert torch.equal(out, up(aux[level + 1]))
            # and the coarser level is the previous stage's network, untouched by the new level:
            # the encoder input of level + 1 is the downsampled input images, not the new level's
            prev = net(images, dirs, q, level + 1, 1.0)
            assert torch.allclose(aux[level + 1], prev[level + 1], atol=1e-6)
        mid = net(images, dirs, q, 0, 0.5)
        assert not torch.allclose(mid[1], net(images, dirs, q, 1, 1.0)[1])  # α also blends the encoder


def test_the_residual_net_corrects_the_alias_free_blend():
    images, dirs, q, _, _ = _inputs()
    m = RelightUNet(widths=(4, 6, 8), residual=True)
    with torch.no_grad():
        w = m.pool_weights(dirs, q)
        blend = (images * w[:, :, None, None, None]).sum(1)
        start = m.relight(images, dirs, q)
        assert 0 < (start - blend).abs().max() < 0.5  # near the blend, with heads that pass gradients
        for h in [*m.heads, *m.selectors]:
            h.weight.zero_()
            h.bias.zero_()
        assert torch.allclose(m.relight(images, dirs, q), blend, atol=1e-6)


def test_alias_free_weights_drop_the_farthest_neighbour():
    _, dirs, q, _, _ = _inputs(B=5, k=4)
    w = alias_free_weights(dirs, q, 10.0)
    assert torch.all(w >= 0) and torch.allclose(w.sum(1), torch.ones(5))
    far = (dirs * q[:, None]).sum(-1).argmin(1)
    assert torch.all(w[torch.arange(5), far] == 0)
    same = alias_free_weights(q[:, None].expand(5, 3, 3), q, 10.0)  # all equally far: uniform
    assert torch.allclose(same, torch.full((5, 3), 1 / 3))


# the schedule and the loss ----------------------------------------------------------------------
def test_paper_schedule_proportions_and_phases():
    s = ProgressiveSchedule.paper(4, 200_000)
    assert s.hold == [30_000] * 3 and s.blend == [20_000] * 3  # the supplement's counts
    assert s.state(0) == StageState(3, 1.0, 1, "hold")
    assert s.state(30_000 + 10_000) == StageState(2, 0.5, 1, "blend")
    assert s.state(150_000).full and s.state(149_999).w_fine < 1
    assert ProgressiveSchedule.direct(4, 10).state(0).full
    with pytest.raises(ValueError, match="take"):
        ProgressiveSchedule(4, [5, 5, 5], [5, 5, 5], 20)


@pytest.mark.parametrize("target_mode", ["blended", "fixed"])
def test_the_loss_is_continuous_across_stage_boundaries(net, target_mode):
    images, dirs, q, target, mask = _inputs()
    sched = ProgressiveSchedule(3, [10, 10], [10, 10], 50)
    jumps = []
    with torch.no_grad():
        for step, _ in sched.boundaries()[1:]:
            before, after = sched.state(step - 1e-6), sched.state(step)
            losses = []
            for st in (before, after):
                aux = net(images, dirs, q, st.level, st.w_fine)
                losses.append(float(stage_loss(aux, target, mask, st, target_mode)))
            jumps.append(abs(losses[1] - losses[0]))
    if target_mode == "blended":  # exact: L_d at α = 0 is L_(d+1) at α = 1
        assert max(jumps) < 1e-5, jumps
    else:  # the paper's fixed target D(I, d) jumps where the stage's resolution changes
        assert min(jumps[0::2]) > 5e-5 and max(jumps[1::2]) < 1e-5, jumps


@pytest.mark.parametrize("level", [0, 1])
def test_masked_pixels_get_zero_gradient(level):
    H = 16
    aux = [torch.rand(1, 3, H // 2**j, H // 2**j, requires_grad=True) for j in range(3)]
    target = torch.rand(1, 3, H, H)
    mask = torch.ones(1, 1, H, H)
    mask[..., :8, :8] = 0  # background: a block aligned with every level
    for w in (1.0, 0.4):
        for a in aux:
            a.grad = None
        stage_loss(aux, target, mask, StageState(level, w, 1, "blend"), "blended").backward()
        s = 8 // 2**level
        g = aux[level].grad
        assert torch.all(g[..., :s, :s] == 0) and g[..., s:, s:].abs().sum() > 0
        if w < 1:
            gc = aux[level + 1].grad
            assert torch.all(gc[..., : s // 2, : s // 2] == 0)


# light directions and the baselines -------------------------------------------------------------
@pytest.mark.parametrize("dirs", [fibonacci_sphere(40), fibonacci_hemisphere(30)], ids=["sphere", "hemisphere"])
def test_barycentric_weights_are_convex_and_exact_at_captured_lights(dirs):
    from neurecon.tasks.relight.baselines import Relighter

    tri = SphereTriangulation(dirs)
    rng = np.random.default_rng(0)
    queries = normalize(rng.normal(size=(200, 3)))
    if len(dirs) == 30:
        queries[:, 1] = np.abs(queries[:, 1])
    for q in queries:
        idx, w = tri.weights(q)
        assert np.all(w >= 0) and abs(w.sum() - 1) < 1e-12 and np.all(idx < len(dirs))
    images = rng.uniform(0, 2, (len(dirs), 4, 5, 3)).astype(np.float32)
    r = Relighter(images, dirs)
    for i in (0, 7, len(dirs) - 1):
        idx, w = tri.weights(dirs[i])
        assert w.max() == 1.0 and idx[np.argmax(w)] == i
        assert np.array_equal(r.barycentric(dirs[i]), images[i])
        assert np.array_equal(r.knn(dirs[i]), images[i]) and np.array_equal(r.nearest(dirs[i]), images[i])
    # inside a real face the weights reproduce the direction (up to length)
    q = tri.face_centres()[3]
    idx, w = tri.weights(q)
    assert np.allclose(normalize(w @ dirs[idx]), q, atol=1e-9)


# the OLAT layout -------------------------------------------------------------------------------
def test_olat_layout_round_trips(tmp_path, rng):
    imgs = rng.uniform(0, 4, (5, 6, 7, 3)).astype(np.float32)
    dirs = normalize(rng.normal(size=(5, 3)))
    mask = (rng.uniform(size=(6, 7)) > 0.5).astype(np.float32)
    held = rng.uniform(0, 1, (2, 6, 7, 3)).astype(np.float32)
    write_olat(tmp_path / "o", imgs, dirs, mask, held, normalize(rng.normal(size=(2, 3))), meta={"by": "test"})
    raw = json.loads((tmp_path / "o" / "olat.json").read_text())
    assert raw["lights"][0] == {"file": "light_000.exr", "direction": [round(float(c), 7) for c in dirs[0]]}
    assert raw["mask"] == "mask.png"
    back = read_olat(tmp_path / "o")
    assert np.array_equal(back.images(), imgs) and np.allclose(back.directions, dirs, atol=1e-6)
    assert np.array_equal(back.mask(), mask) and np.array_equal(back.heldout_images(), held)
    assert back.meta == {"by": "test"}


def _manifest(folder, obj):
    folder.mkdir(exist_ok=True)
    (folder / "olat.json").write_text(obj if isinstance(obj, str) else json.dumps(obj))
    return folder


def test_bad_olat_folders_give_clear_errors(tmp_path, rng):
    with pytest.raises(FileNotFoundError, match="OLAT folder not found"):
        read_olat(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(OlatError, match="no olat.json"):
        read_olat(tmp_path / "empty")
    with pytest.raises(OlatError, match="not valid JSON"):
        read_olat(_manifest(tmp_path / "j", "{lights: "))
    with pytest.raises(OlatError, match="no 'lights'"):
        read_olat(_manifest(tmp_path / "n", {"mask": "m.png"}))
    with pytest.raises(OlatError, match="unknown key"):
        read_olat(_manifest(tmp_path / "u", {"lights": [], "light": []}))
    with pytest.raises(OlatError, match="not found"):
        read_olat(_manifest(tmp_path / "f", {"lights": [{"file": "a.exr", "direction": [0, 0, 1]}]}))
    good = write_olat(tmp_path / "g", rng.uniform(size=(2, 4, 4, 3)), [[1, 0, 0], [0, 1, 0]]).root
    raw = json.loads((good / "olat.json").read_text())
    for bad, msg in [
        ({**raw, "lights": [{**raw["lights"][0], "direction": [0, 0]}]}, "three finite numbers"),
        ({**raw, "lights": [{**raw["lights"][0], "direction": [0, 0, 0]}]}, "zero length"),
        ({**raw, "lights": [raw["lights"][0], {**raw["lights"][1], "direction": [2, 0, 0]}]}, "same direction"),
        ({**raw, "lights": [raw["lights"][0], raw["lights"][0]]}, "listed twice"),
        ({**raw, "lights": [{"file": "light_000.exr"}]}, "must be"),
        ({**raw, "mask": "nomask.png"}, "mask nomask.png not found"),
    ]:
        (good / "olat.json").write_text(json.dumps(bad))
        with pytest.raises(OlatError, match=msg):
            read_olat(good)
    from neurecon.io import write_image

    (good / "olat.json").write_text(json.dumps(raw))
    write_image(good / "light_001.exr", np.zeros((5, 4, 3), np.float32))
    with pytest.raises(OlatError, match="one size"):
        read_olat(good).images()


# a tiny OLAT render, the task and the CLI ------------------------------------------------------
@pytest.fixture(scope="module")
def tiny_olat(tmp_path_factory):
    from neurecon.render.olat import OlatJob, run

    root = tmp_path_factory.mktemp("olat")
    run(
        OlatJob(out=str(root), split="train", scenes=1, size=16, spp=4, lights=10, heldout=3, ground=1.0),
        progress=False,
    )
    return root


def test_a_tiny_olat_render_has_the_declared_lights_and_a_mask(tiny_olat):
    folder = tiny_olat / "train" / "subject000000"
    o = read_olat(folder)
    assert len(o.lights) == 10 and len(o.heldout) == 3 and o.mask_file == "mask.png"
    assert np.allclose(np.linalg.norm(o.directions, axis=1), 1)
    imgs, m = o.images(), o.mask()
    assert imgs.shape == (10, 16, 16, 3) and np.isfinite(imgs).all() and imgs.max() > 0
    assert 0 < (m > 0.5).mean() < 1  # subject and background both present
    far = torch.nn.functional.max_pool2d(torch.from_numpy(m)[None, None], 3, 1, 1)[0, 0].numpy() == 0
    assert far.any() and float(imgs[:, far].max()) == 0.0  # the background is black under every light
    # held-out lights lie between captured ones: none coincides with a captured direction
    assert (o.heldout_directions @ o.directions.T).max() < 0.9999
    assert o.meta["emitter"].startswith("point") and o.meta["pixel_filter"] == "box"


def test_the_cli_runs_the_baselines_on_a_tiny_folder(tiny_olat, tmp_path, capsys):
    from neurecon.cli import main
    from neurecon.io import read_image

    folder = tiny_olat / "train" / "subject000000"
    o = read_olat(folder)
    d = ",".join(str(c) for c in o.directions[2])
    for m in ("nearest", "barycentric", "knn"):
        out = tmp_path / f"{m}.exr"
        assert main(["relight", "--olat", str(folder), "--light", d, "-o", str(out), "--method", m]) == 0
        assert np.allclose(read_image(out), o.images()[2])  # exact at a captured light
    assert (
        main(
            [
                "relight",
                "--olat",
                str(folder),
                "--path",
                "orbit",
                "--frames",
                "3",
                "-o",
                str(tmp_path / "seq"),
                "--method",
                "barycentric",
                "--ext",
                "png",
            ]
        )
        == 0
    )
    assert sorted(p.name for p in (tmp_path / "seq").iterdir()) == [f"frame_00{i}.png" for i in range(3)] + [
        "path.json"
    ]
    assert (
        main(
            [
                "relight",
                "--olat",
                str(tmp_path / "nope"),
                "--light",
                "0,1,0",
                "-o",
                str(tmp_path / "x.exr"),
                "--method",
                "nearest",
            ]
        )
        == 2
    )
    assert "OLAT folder not found" in capsys.readouterr().err
    assert main(["relight", "--olat", str(folder), "--light", "0,0,0", "-o", str(tmp_path / "x.exr")]) == 2


def test_the_task_trains_progressively_and_exports(tiny_olat, tmp_path):
    from neurecon.cli import main
    from neurecon.models import load_model
    from neurecon.train.run import train_from_config

    cfg = {
        "task": {
            "name": "relight",
            "data": {"root": str(tiny_olat), "train": "train", "valid": "train", "batch": 2, "k": 3, "m": 5},
            "model": {"widths": [4, 6, 8]},
            "progressive": {"hold": 1, "blend": 1},
        },
        "optim": {"lr": 1e-3},
        "run": {"out": str(tmp_path / "run"), "iterations": 6, "val_every": 3, "ckpt_every": 3, "log_every": 1},
    }
    trainer = train_from_config(cfg, progress=False)
    rows = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert [r["level"] for r in rows if "level" in r] == [2, 1, 1, 0, 0, 0]
    val = [r for r in rows if "val_psnr" in r]
    assert val[0]["val_psnr_full"] == 0.0 and val[-1]["val_psnr_full"] == val[-1]["val_psnr"] > 0
    assert trainer.step == 6
    assert main(["export", str(tmp_path / "run"), str(tmp_path / "r.pt")]) == 0
    model, ck = load_model(tmp_path / "r.pt")
    assert ck["card"]["task"] == "relight" and "valid_network_psnr" in ck["card"]["measured"]
    folder = tiny_olat / "train" / "subject000000"
    assert (
        main(
            [
                "relight",
                "--olat",
                str(folder),
                "--light",
                "0,1,0",
                "-o",
                str(tmp_path / "n.exr"),
                "--model",
                str(tmp_path / "r.pt"),
            ]
        )
        == 0
    )


def test_the_study_helpers():
    from types import SimpleNamespace

    from neurecon.studies.relight import orbit_directions, wins

    cam = {"origin": [3.0, 2.0, 5.0], "target": [0.0, 0.5, 0.0], "up": [0, 1, 0]}
    d = orbit_directions(SimpleNamespace(meta={"camera": cam}), 8, 40.0)
    from neurecon.render.lights import camera_basis

    world = d @ camera_basis(cam["origin"], cam["target"]).T
    assert np.allclose(world[:, 1], np.sin(np.radians(40.0))) and np.allclose(np.linalg.norm(d, axis=1), 1)
    a = [{"psnr": 30.0, "shadow_mae": 0.1}, {"psnr": 20.0, "shadow_mae": float("nan")}]
    b = [{"psnr": 25.0, "shadow_mae": 0.2}, {"psnr": 25.0, "shadow_mae": 0.1}]
    assert wins(a, b, "psnr") == 0.5 and wins(a, b, "shadow_mae") == 1.0


def test_queries_outside_the_captured_lights_are_named():
    """A query beyond twice the widest neighbour gap of the captured lights is reported; one
    between them is not."""
    from neurecon.cli.relight import outside_coverage

    az = np.radians(np.arange(0, 360, 30))
    captured = np.stack([np.cos(az) * 0.8, np.full_like(az, 0.6), np.sin(az) * 0.8], 1)  # a ring 30° apart
    between = np.array([[np.cos(np.radians(15)) * 0.8, 0.6, np.sin(np.radians(15)) * 0.8]])
    assert outside_coverage(captured, between) == ""
    below = np.array([[0.0, -1.0, 0.0]])
    msg = outside_coverage(captured, np.concatenate([between, below]))
    assert msg.startswith("1 of 2 query directions") and "127°" in msg
