"""Temporal denoising: motion vectors of rendered sequences, warping, the temporal combiner, the
streaming API and CLI (tiny renders ≤ 32², tiny networks)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from neurecon.buffers import BufferError, Buffers
from neurecon.nn.temporal import Frame, TemporalCombiner, TemporalUNet, apply_window, chain_flows, warp
from neurecon.render import sequence as S
from neurecon.render.mitsuba_backend import integrator, mitsuba, render_buffers

TINY_UNET = {"widths": [4, 4, 4, 4], "kernel": 3, "sources": {"mitsuba": ["color", "albedo", "normal"]}}


@pytest.fixture(autouse=True)
def one_thread():
    """Tiny tensors: one thread is fastest, and on a loaded 2-core machine two spin against each other."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


# --- warping -------------------------------------------------------------------------------------


def test_zero_motion_warps_to_the_identity():
    x = torch.rand(2, 5, 9, 11)
    zero = torch.zeros(2, 2, 9, 11)
    assert torch.equal(warp(x, zero), x)
    flows, valids = chain_flows([zero, zero, zero], [torch.ones(2, 1, 9, 11)] * 3)
    for f, v in zip(flows, valids):
        assert torch.equal(warp(x, f), x)
        assert bool((v == 1).all())


def test_integer_motion_shifts_and_chains():
    x = torch.rand(1, 3, 8, 10)
    one = torch.zeros(1, 2, 8, 10)
    one[:, 0] = 1.0  # each frame: the point was one pixel to the right
    assert torch.allclose(warp(x, one)[..., :-1], x[..., 1:], atol=1e-6)
    flows, valids = chain_flows([one, one], [torch.ones(1, 1, 8, 10)] * 2)
    assert torch.allclose(flows[1][:, 0, :, :-2], torch.full((1, 8, 8), 2.0))
    assert bool((valids[1][..., -2:] == 0).all()) and bool((valids[1][..., :-2] == 1).all())  # off-screen


# --- exact motion vectors --------------------------------------------------------------------------


def _pinhole_flow(cam_t: S.Camera, cam_s: S.Camera) -> np.ndarray:
    """Motion of every pixel centre between two cameras at the same position (a pure rotation),
    from the pinhole model alone: +x of Mitsuba's camera is image-left, +y image-up, +z forward."""
    w, h = cam_t.size
    f = (w / 2) / math.tan(math.radians(cam_t.fov) / 2)
    y, x = np.mgrid[0:h, 0:w] + 0.5
    d = np.stack([(w / 2 - x) / f, (h / 2 - y) / f, np.ones_like(x)], -1)
    world = d @ cam_t.to_world[:3, :3].T
    a = world @ cam_s.to_world[:3, :3]  # into the other camera's frame
    u, v = w / 2 - f * a[..., 0] / a[..., 2], h / 2 - f * a[..., 1] / a[..., 2]
    return np.stack([u - x, v - y], -1)


def _room(size=(32, 24)):
    """The inside of a box lit by a constant environment: every pixel centre hits a wall."""
    mi = mitsuba()
    return mi.load_dict(
        {
            "type": "scene",
            "integrator": integrator(3),
            "box": {
                "type": "cube",
                "to_world": mi.ScalarTransform4f().scale([6, 4, 8]),
                "bsdf": {"type": "twosided", "bsdf": {"type": "diffuse"}},
            },
            "wall": {
                "type": "rectangle",
                "to_world": mi.ScalarTransform4f().translate([0, 0, 5]).rotate([0, 1, 0], 180).scale(4),
                "bsdf": {"type": "twosided", "bsdf": {"type": "diffuse"}},
            },
            "env": {"type": "constant"},
        }
    )


def _camera(mi_look, size, fov=50.0):
    return S.Camera(np.asarray(mi_look, np.float64), fov, size)


def _look(origin, target):
    mi = mitsuba()
    m = np.asarray(mi.ScalarTransform4f().look_at(origin=origin, target=target, up=[0, 1, 0]).matrix, np.float64)
    return m[..., 0] if m.ndim == 3 else m


def test_camera_rotation_motion_is_exact():
    size = (32, 24)
    scene = _room(size)
    cam0 = _camera(_look([0.3, 0.2, 0], [0.3, 0.2, 1]), size)
    for deg in (1.7, -3.1):
        rot = S.about(cam0.origin, S._rot_y(deg)) @ cam0.to_world
        cam1 = S.Camera(rot, cam0.fov, size)
        flow, valid = S.motion_between(S.trace(scene, cam1), S.trace(scene, cam0))
        v = valid[..., 0] > 0
        assert v.mean() > 0.8
        assert np.abs(flow - _pinhole_flow(cam1, cam0))[v].max() < 1e-3


def test_camera_pan_over_a_plane_is_exact():
    """A sideways camera move of T in front of a fronto-parallel wall at depth Z moves every pixel
    by f·T/Z: the camera moves towards image-left, the image content to the right, so the point a
    pixel sees now was f·T/Z pixels further left in the previous frame."""
    size = (32, 24)
    scene = _room(size)
    cam0 = _camera(_look([0, 0, 0], [0, 0, 1]), size)
    T = 0.1
    cam1 = _camera(_look([T, 0, 0], [T, 0, 1]), size)  # +x world is image-left for this camera
    flow, valid = S.motion_between(S.trace(scene, cam1), S.trace(scene, cam0))
    f = (size[0] / 2) / math.tan(math.radians(cam0.fov) / 2)
    v = valid[..., 0] > 0
    assert v.mean() > 0.8
    assert np.abs(flow[..., 0][v] + f * T / 5).max() < 1e-3  # the wall is at z = 5
    assert np.abs(flow[..., 1][v]).max() < 1e-3


def _small_scene(size=32):
    """Diffuse surfaces with smooth textures (so that resampling an image of them is accurate)."""
    mi = mitsuba()
    T = mi.ScalarTransform4f()
    u, v = np.meshgrid(np.linspace(0, 1, 64), np.linspace(0, 1, 64))

    def smooth(phase):
        rgb = np.stack([0.5 + 0.4 * np.sin(2 * np.pi * (u * 1.5 + v + phase + k / 3)) for k in range(3)], -1)
        bitmap = mi.Bitmap(rgb.astype(np.float32))
        return {"type": "diffuse", "reflectance": {"type": "bitmap", "bitmap": bitmap, "filter_type": "bilinear"}}

    return mi.load_dict(
        {
            "type": "scene",
            "integrator": integrator(3),
            "floor": {"type": "rectangle", "to_world": T.rotate([1, 0, 0], -90).scale(6), "bsdf": smooth(0.0)},
            "back": {"type": "rectangle", "to_world": T.translate([0, 3, -3]).scale(6), "bsdf": smooth(0.3)},
            "obj0": {"type": "sphere", "to_world": T.translate([0.6, 0.7, 0]).scale(0.7), "bsdf": smooth(0.6)},
            "obj1": {"type": "cube", "to_world": T.translate([-1, 0.5, 0.5]).scale(0.5), "bsdf": smooth(0.8)},
            "env": {"type": "constant", "radiance": {"type": "rgb", "value": 0.8}},
            "sensor": {
                "type": "perspective",
                "fov": 45,
                "to_world": T.look_at(origin=[0, 2, 6], target=[0, 0.6, 0], up=[0, 1, 0]),
                "film": {"type": "hdrfilm", "width": size, "height": size, "rfilter": {"type": "box"}},
                "sampler": {"type": "independent", "sample_count": 4},
            },
        }
    )


def _bilinear(img: np.ndarray, flow: np.ndarray) -> np.ndarray:
    t = torch.from_numpy(img.transpose(2, 0, 1))[None]
    return warp(t, torch.from_numpy(flow.transpose(2, 0, 1))[None])[0].permute(1, 2, 0).numpy()


def test_rendered_frame_warped_by_its_motion_matches_its_neighbour():
    """Albedo (noise-free, view-independent on diffuse surfaces) of frame 1 against frame 0 warped
    along frame 1's motion: equal away from disocclusions, and far from equal unwarped."""
    scene = _small_scene(32)
    anim = S.animate(scene, "orbit+objects", 2, seed=3, size=(32, 32), speed=3)
    assert anim.moving
    g0, g1 = anim.geometry(0), anim.geometry(1)
    a1 = render_buffers(scene, 16, seed=2)["albedo"]
    anim.set_frame(0)
    a0 = render_buffers(scene, 16, seed=1)["albedo"]
    flow, valid = S.motion_between(g1, g0, anim.moves(1, 0))
    v = valid[..., 0] > 0
    assert 0.6 < v.mean() < 1.0  # some disocclusion and off-screen pixels, most valid
    assert np.abs(flow[v]).mean() > 0.5
    warped_err = np.abs(_bilinear(a0, flow) - a1).mean(-1)[v]
    plain_err = np.abs(a0 - a1).mean(-1)[v]
    assert np.median(warped_err) < 0.1 * np.median(plain_err)
    assert warped_err.mean() < 0.35 * plain_err.mean()
    moved = v & np.isin(g1.shape.reshape(32, 32), list(anim.shape_index.values()))
    assert moved.sum() > 10
    assert np.abs(_bilinear(a0, flow) - a1).mean(-1)[moved].mean() < 0.35 * np.abs(a0 - a1).mean(-1)[moved].mean()


def test_sequence_job_writes_motion_layers(tmp_path):
    from neurecon.io import read_buffers, read_exr_channels

    job = S.SequenceJob(out=str(tmp_path), split="test", scenes=1, frames=3, size=16, spp=[2], ref_spp=4, motion="pan")
    meta = S.run(job, progress=False)
    assert meta["sequences"][0]["kind"] == "pan"
    seq = tmp_path / "test" / S.sequence_name(S.SEQ_SPLIT_BASE["test"])
    chans = read_exr_channels(seq / "2spp" / "frame_0001.exr")
    for c in ("motion.X", "motion.Y", "motion_valid.Y", "motion_next.X", "motion_next.Y", "motion_next_valid.Y"):
        assert c in chans
    first = read_buffers(seq / "2spp" / "frame_0000.exr")
    assert not first["motion"].any() and not first["motion_valid"].any()  # zero in the first frame
    last = read_buffers(seq / "ref" / "frame_0002.exr")
    assert not last["motion_next"].any() and not last["motion_next_valid"].any()
    assert (seq / "sequence.json").exists()


def test_blender_vector_pass_reads_into_the_convention(tmp_path):
    from neurecon.io import read_buffers, write_buffers, write_exr_channels

    h, w = 4, 5
    rng = np.random.default_rng(0)
    vec = rng.normal(size=(4, h, w)).astype(np.float32)
    chans = {f"ViewLayer.Combined.{c}": np.ones((h, w), np.float32) for c in "RGB"}
    chans.update({f"ViewLayer.Vector.{c}": vec[i] for i, c in enumerate("XYZW")})
    write_exr_channels(tmp_path / "b.exr", chans)
    b = read_buffers(tmp_path / "b.exr")
    # R,G = towards the previous frame, y up; B,A = minus the motion to the next frame, y up
    assert np.allclose(b["motion"][..., 0], vec[0]) and np.allclose(b["motion"][..., 1], -vec[1])
    assert np.allclose(b["motion_next"][..., 0], -vec[2]) and np.allclose(b["motion_next"][..., 1], vec[3])
    write_buffers(tmp_path / "c.exr", b.subset(["color", "motion", "motion_next"]), style="cycles")
    again = read_buffers(tmp_path / "c.exr")
    assert np.allclose(again["motion"], b["motion"]) and np.allclose(again["motion_next"], b["motion_next"])


# --- the combiner ---------------------------------------------------------------------------------


def test_joint_softmax_sums_to_one_across_frames():
    torch.manual_seed(0)
    comb = TemporalCombiner(width=6, frames=5, kernel=5, neighbour_kernel=3)
    torch.nn.init.normal_(comb.logits.weight, std=2.0)
    feats = torch.rand(2, 6, 7, 8)
    masks = [torch.ones(2, 1, 7, 8) for _ in range(5)]
    masks[0] = None  # absent (window clipped)
    masks[4] = (torch.rand(2, 1, 7, 8) > 0.5).float()  # disoccluded in places
    with torch.no_grad():
        w = comb.weights(feats, masks)
    total = sum(x.sum(1) for x in w)
    assert torch.allclose(total, torch.ones_like(total), atol=1e-5)
    assert float(w[0].abs().max()) == 0.0
    assert float((w[4] * (1 - masks[4])).abs().max()) == 0.0
    assert w[2].shape[1] == 25 and w[1].shape[1] == 9
    # with every tap valid, the renormalised application is the plain weighted sum
    colors = [torch.rand(2, 3, 7, 8) for _ in range(5)]
    ones = [torch.ones(2, 1, 7, 8) for _ in range(5)]
    wa = comb.weights(feats, ones)
    from neurecon.nn.kernels import apply_kernels

    plain = sum(apply_kernels(c, x) for c, x in zip(colors, wa))
    assert torch.allclose(apply_window(wa, colors, ones), plain, atol=1e-5)
    e = comb.exp_logits(feats, ones)  # unnormalised: the same result
    assert torch.allclose(apply_window(e, colors, ones), plain, atol=1e-5)


def _tiny_model(radius=1):
    torch.manual_seed(0)
    m = TemporalUNet(TINY_UNET, radius=radius, neighbour_kernel=3, proj=4)
    m.start_from_backbone()
    return m.eval()


def test_a_window_with_only_the_centre_is_the_backbone():
    m = _tiny_model(1)
    inputs = {"color": torch.rand(1, 3, 16, 16), "albedo": torch.rand(1, 3, 16, 16), "normal": torch.rand(1, 3, 16, 16)}
    with torch.no_grad():
        single = m.backbone(inputs)
        feats = m.features(inputs)
        out = m.combine([None, Frame(feats, inputs["color"]), None])
    assert torch.allclose(out, single, atol=1e-5)


def _frames(n=5, size=16, moving=True):
    rng = np.random.default_rng(1)
    out = []
    for t in range(n):
        b = {k: rng.random((size, size, 3)).astype(np.float32) for k in ("color", "albedo", "normal")}
        mv = np.zeros((size, size, 2), np.float32)
        if moving:
            mv[..., 0] = 0.5
        b["motion"] = mv if t else np.zeros_like(mv)
        b["motion_valid"] = np.full((size, size, 1), float(t > 0), np.float32)
        b["motion_next"] = -mv if t < n - 1 else np.zeros_like(mv)
        b["motion_next_valid"] = np.full((size, size, 1), float(t < n - 1), np.float32)
        out.append(Buffers(b))
    return out


def test_windows_at_the_first_and_last_frame_work():
    from neurecon.infer.temporal import TemporalDenoiser

    den = TemporalDenoiser(_tiny_model(2), precision="fp32")
    frames = _frames(4)
    outs = den.denoise_sequence(frames)
    assert len(outs) == 4 and all(np.isfinite(o).all() and o.shape == (16, 16, 3) for o in outs)
    # a 1-frame "sequence": every neighbour absent, the backbone alone
    (only,) = den.denoise_sequence(frames[:1])
    b = frames[0]
    with torch.no_grad():
        single = den.model.backbone({k: b.to_tensor([k]) for k in ("color", "albedo", "normal")})
    assert np.allclose(only, single[0].permute(1, 2, 0).numpy(), atol=1e-5)


@pytest.mark.parametrize("window,causal,most", [(3, False, 3), (5, False, 5), (5, True, 3)])
def test_the_stream_holds_at_most_the_window(window, causal, most):
    from neurecon.infer.temporal import TemporalDenoiser

    den = TemporalDenoiser(_tiny_model(2), precision="fp32", window=window, causal=causal)
    read = []

    def frames():
        for i, f in enumerate(_frames(9)):
            read.append(i)
            yield f

    for k, _ in enumerate(den.stream(frames())):
        # frame k is out: the stream has read at most the frames its window reaches
        assert len(read) <= k + 1 + (0 if causal else window // 2)
    assert den.max_held == most


def test_missing_motion_vectors_name_the_layer():
    from neurecon.infer.temporal import MotionError, TemporalDenoiser

    den = TemporalDenoiser(_tiny_model(1), precision="fp32")
    f = _frames(2)
    bare = Buffers({k: f[1][k] for k in ("color", "albedo", "normal")})
    with pytest.raises(MotionError, match="motion.X"):
        den.denoise_sequence([f[0], bare])
    no_next = Buffers({k: f[0][k] for k in ("color", "albedo", "normal", "motion")})
    with pytest.raises(MotionError, match="motion_next"):
        den.denoise_sequence([no_next])
    assert isinstance(MotionError("x"), BufferError)
    causal = TemporalDenoiser(_tiny_model(1), precision="fp32", causal=True)
    assert len(causal.denoise_sequence([no_next])) == 1


def test_cli_streams_a_sequence_within_the_window(tmp_path, capsys):
    from neurecon.cli import main
    from neurecon.io import read_image, write_buffers

    m = _tiny_model(1)
    torch.save({"spec": m.spec(), "model": m.state_dict()}, tmp_path / "t.pt")
    names = []
    for i, f in enumerate(_frames(6)):
        names.append(str(tmp_path / f"frame_{i:04d}.exr"))
        write_buffers(names[-1], f)
    out = tmp_path / "clean"
    assert main(["denoise", *names, "-o", str(out), "--temporal", "3", "--model", str(tmp_path / "t.pt")]) == 0
    said = capsys.readouterr().out
    assert "at most 3 frames held" in said
    assert sorted(p.name for p in out.iterdir()) == [f"frame_{i:04d}.exr" for i in range(6)]
    assert np.isfinite(read_image(out / "frame_0003.exr")).all()
    # a frame without motion vectors: the error names the layer
    write_buffers(names[2], Buffers({k: _frames(6)[2][k] for k in ("color", "albedo", "normal")}))
    assert main(["denoise", *names, "-o", str(out), "--temporal", "3", "--model", str(tmp_path / "t.pt")]) == 2
    assert "motion.X" in capsys.readouterr().err


# --- training data and task ------------------------------------------------------------------------


def _shifting_sequence(frames=6, size=24, seed=0):
    """Frame t is a smooth random texture moved t pixels to the right: exact motion (−1, 0)."""
    from neurecon.tasks.denoise_temporal.data import SequenceData

    rng = np.random.default_rng(seed)
    base = torch.from_numpy(rng.random((3, size, size + frames)).astype(np.float32))
    color = torch.stack([base[:, :, frames - t : frames - t + size] for t in range(frames)])
    mv = torch.zeros(frames, 2, size, size)
    mv[:, 0] = -1.0
    valid = torch.ones(frames, 1, size, size)
    valid[0] = 0
    valid[:, :, :, 0] = 0  # the leftmost column came from off-screen
    nxt = -mv
    nvalid = torch.ones(frames, 1, size, size)
    nvalid[-1] = 0
    nvalid[:, :, :, -1] = 0
    planes = {
        "color": color,
        "albedo": color.clone(),
        "normal": color.clone(),
        "motion": mv,
        "motion_valid": valid,
        "motion_next": nxt,
        "motion_next_valid": nvalid,
    }
    return SequenceData("synthetic", 4, "pan", planes, color.clone())


@pytest.mark.parametrize("pair", [False, True])
def test_augmented_windows_keep_motion_exact(pair):
    """Whatever flips, transposition and time reversal the sampler draws, every present slot's
    colour warped along the chained flow onto the centre equals the centre's colour."""
    from neurecon.nn.temporal import window_flows
    from neurecon.tasks.denoise_temporal.data import WindowSampler

    sampler = WindowSampler([_shifting_sequence()], radius=2, patch=16, batch=8, pair=pair, seed=3)
    sampler.exposure_range = 1.0
    checked = 0
    for _ in range(4):
        b = sampler.sample()
        for lo in [1, 0] if pair else [0]:
            sub = {k: (v[:, lo : lo + 5] if k != "reference" else v) for k, v in b.items()}
            flows, valids = window_flows(sub, 2)
            centre = sub["color"][:, 2]
            for j in (0, 1, 3, 4):
                if flows[j] is None:
                    continue
                v = valids[j] * sub["present"][:, j, None, None, None]
                err = (warp(sub["color"][:, j], flows[j]) - centre).abs() * v
                assert float(err.max()) < 1e-5
                checked += int(v.sum())
    assert checked > 1000


def _write_synthetic_split(root, split, n, frames=4, size=24):
    import json

    from neurecon.io import write_buffers

    for k in range(n):
        s = _shifting_sequence(frames, size, seed=k)
        d = root / split / f"seq{k:06d}"
        for t in range(frames):
            b = Buffers({p: v[t].permute(1, 2, 0).numpy() for p, v in s.planes.items()})
            (d / "4spp").mkdir(parents=True, exist_ok=True)
            (d / "ref").mkdir(parents=True, exist_ok=True)
            write_buffers(d / "4spp" / f"frame_{t:04d}.exr", b)
            write_buffers(d / "ref" / f"frame_{t:04d}.exr", Buffers(color=b["color"]))
        (d / "sequence.json").write_text(json.dumps({"kind": "pan", "frames": frames}))
    meta = {"sequences": [{"name": f"seq{k:06d}", "kind": "pan", "frames": frames} for k in range(n)], "size": size}
    (root / split / "metadata.json").write_text(json.dumps(meta))


def test_the_task_trains_on_a_frozen_backbone_and_exports(tmp_path):
    from neurecon.models.card import export_run
    from neurecon.train.run import train_from_config

    _write_synthetic_split(tmp_path / "data", "train", 2)
    _write_synthetic_split(tmp_path / "data", "valid", 1)
    bb = TemporalUNet(TINY_UNET, radius=1).backbone
    torch.save({"spec": bb.spec(), "model": bb.state_dict()}, tmp_path / "bb.pt")
    cfg = {
        "task": {
            "name": "denoise_temporal",
            "backbone": str(tmp_path / "bb.pt"),
            "radius": 1,
            "proj": 4,
            "loss": "smape",
            "temporal_weight": 0.5,
            "data": {"root": str(tmp_path / "data"), "spp": [4], "patch": 16, "batch": 2},
        },
        "optim": {"lr": 1e-3},
        "run": {"out": str(tmp_path / "run"), "iterations": 2, "val_every": 2, "ckpt_every": 2, "log_every": 1},
    }
    before = {k: v.clone() for k, v in bb.state_dict().items()}
    train_from_config(cfg, progress=False)
    pt, md = export_run(tmp_path / "run", tmp_path / "t.pt")
    from neurecon.models import load_model

    model, ck = load_model(pt)
    assert isinstance(model, TemporalUNet) and ck["card"]["task"] == "denoise_temporal"
    for k, v in model.backbone.state_dict().items():  # the backbone stayed frozen
        assert torch.allclose(v, before[k], atol=1e-3)
    assert "val_flicker" in (tmp_path / "run" / "metrics.jsonl").read_text()
    assert "Temporal denoiser" in md.read_text()


@pytest.mark.parametrize("name", ["temporal_m1", "temporal_m3"])
def test_shipped_temporal_models_load_and_refuse_single_frames(name):
    from neurecon.infer.denoiser import Denoiser
    from neurecon.infer.temporal import TemporalDenoiser

    den = TemporalDenoiser.load(name)
    assert den.window == den.model.frames and den.model.config.widths == (16, 24, 32, 48)  # on `fast`
    assert TemporalDenoiser.load(name, window=3, causal=True).window == 3
    with pytest.raises(ValueError, match="--temporal"):
        Denoiser.load(name).denoise_buffers(_frames(1)[0])


def test_the_bench_metrics_see_flicker_and_not_motion():
    """A moving sequence denoised perfectly has no flicker; per-frame noise that changes every
    frame has, warped or not; a static offset (bias) has none."""
    from neurecon.studies.temporal import sequence_metrics

    s = _shifting_sequence(5, 16)
    frames = [Buffers({k: v[t].permute(1, 2, 0).numpy() for k, v in s.planes.items()}) for t in range(5)]
    refs = [f["color"] for f in frames]
    perfect = sequence_metrics(refs, refs, frames)
    assert perfect["flicker"] == 0 and perfect["relmse"] == 0
    rng = np.random.default_rng(0)
    noisy = [r + rng.normal(0, 0.05, r.shape).astype(np.float32) for r in refs]
    assert sequence_metrics(noisy, refs, frames)["flicker"] > 0.01
    biased = [r + 0.05 for r in refs]  # the same error in every frame
    assert sequence_metrics(biased, refs, frames)["flicker"] < 1e-3
