"""Super-resolution: MATLAB imresize against its definition, Y-channel metrics, the ECO schedule and
spatially consistent pairs, generator output sizes, exact tiling, the sr task on the Trainer."""

import math
from argparse import Namespace

import numpy as np
import pytest
import torch

from neurecon.tasks.sr.eco import eco_weight, mix, teacher_pair
from neurecon.tasks.sr.imresize import contributions, cubic, imresize, output_length, weight_matrix
from neurecon.tasks.sr.metrics import Y_COEFFS, psnr_y, rgb_to_y, ssim_y

torch.set_num_threads(1)


# --- imresize -------------------------------------------------------------------------------
def ref_resize_1d(x: np.ndarray, scale: float, antialias: bool) -> np.ndarray:
    """Straight from the definition: per output pixel, every input index the kernel touches,
    MATLAB-symmetric edges, weights normalised."""
    n = len(x)
    m = math.ceil(n * scale - 1e-9)
    shrink = scale < 1 and antialias
    out = np.empty(m)
    for i in range(1, m + 1):
        u = i / scale + 0.5 * (1 - 1 / scale)
        num = den = 0.0
        for j in range(-60, n + 60):  # 1-based input positions, far beyond the support
            d = u - j
            w = scale * cubic(scale * d) if shrink else cubic(d)
            k = (j - 1) % (2 * n)
            k = k if k < n else 2 * n - 1 - k
            num += w * x[k]
            den += w
        out[i - 1] = num / den
    return out


def test_cubic_kernel_values():
    assert cubic(0.0) == 1.0 and cubic(1.0) == 0.0 and cubic(2.0) == 0.0 and cubic(2.5) == 0.0
    assert cubic(0.5) == pytest.approx(0.5625) and cubic(-0.5) == pytest.approx(0.5625)
    assert cubic(1.5) == pytest.approx(-0.0625)  # a = -0.5: negative lobe


def test_half_scale_antialiased_weights_by_hand():
    # ×0.5 with antialiasing: kernel 0.5·h(0.5·x), 8 taps around u = 1.5 (between inputs 1 and 2)
    # h(0.25) = .8671875, h(.75) = .2265625, h(1.25) = -.0703125, h(1.75) = -.0234375, /2 each
    w = np.array([-0.0234375, -0.0703125, 0.2265625, 0.8671875, 0.8671875, 0.2265625, -0.0703125, -0.0234375]) / 2
    x = np.arange(1.0, 9.0) ** 2  # input 1..8 squared
    # taps at 1-based positions -2..5; symmetric edges: -2→3, -1→2, 0→1
    src = np.array([x[2], x[1], x[0], x[0], x[1], x[2], x[3], x[4]])
    out = imresize(x[:, None], (0.5, 1.0))[:, 0]
    assert out.shape == (4,)
    assert out[0] == pytest.approx(float(w @ src), abs=1e-12)
    ww, _ = contributions(8, 4, 0.5, True)
    np.testing.assert_allclose(ww[0], w, atol=1e-15)


@pytest.mark.parametrize("n", [1, 2, 5, 8, 13])
@pytest.mark.parametrize("scale", [0.5, 1 / 3, 0.25, 0.75, 0.6, 1.5, 2.0, 3.0])
@pytest.mark.parametrize("antialias", [True, False])
def test_imresize_matches_definition(n, scale, antialias):
    x = np.random.default_rng(n).random(n)
    got = imresize(x[:, None], (scale, 1.0), antialias=antialias)[:, 0]
    np.testing.assert_allclose(got, ref_resize_1d(x, scale, antialias), atol=1e-12)


def test_output_sizes():
    assert [
        output_length(n, s) for n, s in [(7, 0.5), (5, 1 / 3), (10, 0.75), (300, 1 / 3), (7, 2), (5, 1.5), (9, 0.25)]
    ] == [4, 2, 8, 100, 14, 8, 3]
    img = np.random.default_rng(0).random((7, 10, 3)).astype(np.float32)
    assert imresize(img, 0.5).shape == (4, 5, 3)
    assert imresize(img, 1 / 3).shape == (3, 4, 3)
    assert imresize(img, 2).shape == (14, 20, 3)
    assert imresize(img, output_shape=(5, 6)).shape == (5, 6, 3)
    assert imresize(img, 0.5).dtype == np.float32


def test_imresize_2d_is_separable_and_torch_matches_numpy():
    rng = np.random.default_rng(1)
    img = rng.random((9, 11, 3))
    out = imresize(img, 0.5)
    mh, mw = weight_matrix(9, 5, 0.5), weight_matrix(11, 6, 0.5)
    np.testing.assert_allclose(out, np.einsum("ai,ijc,bj->abc", mh, img, mw), atol=1e-12)
    t = imresize(torch.from_numpy(img).permute(2, 0, 1)[None], 0.5)
    np.testing.assert_allclose(t[0].permute(1, 2, 0).numpy(), out, atol=1e-12)
    # antialias: off and on differ when shrinking, not when enlarging
    assert np.abs(imresize(img, 0.5, antialias=False) - out).max() > 1e-3
    np.testing.assert_array_equal(imresize(img, 2, antialias=False), imresize(img, 2))
    # constants stay constant; uint8 in → rounded uint8 out (MATLAB)
    np.testing.assert_allclose(imresize(np.full((6, 6), 0.3), 1 / 3), 0.3, atol=1e-12)
    u8 = (rng.random((8, 8, 3)) * 255).astype(np.uint8)
    o8 = imresize(u8, 0.5)
    assert o8.dtype == np.uint8
    np.testing.assert_array_equal(o8, np.clip(np.round(imresize(u8.astype(np.float64), 0.5)), 0, 255))


# --- Y-channel metrics ------------------------------------------------------------------------
def test_y_coefficients():
    assert Y_COEFFS == (65.481, 128.553, 24.966)
    px = np.array([[[0, 0, 0], [1, 1, 1], [1, 0, 0], [0, 1, 0], [0, 0, 1]]], dtype=np.float64)
    y = rgb_to_y(px)[0, :, 0] * 255
    np.testing.assert_allclose(y, [16, 235, 16 + 65.481, 16 + 128.553, 16 + 24.966], atol=1e-9)


def test_psnr_y_ssim_y_conventions():
    hr = np.full((12, 12, 3), 128 / 255)  # 8-bit code values (the SR output is quantised first)
    sr = hr + 1 / 255
    expected = 10 * math.log10(1 / (219 / 255 / 255) ** 2)  # ΔY = (65.481 + 128.553 + 24.966)/255 per code value
    assert psnr_y(sr, hr, crop_border=2) == pytest.approx(expected, abs=1e-9)
    assert psnr_y(hr, hr) == math.inf
    bad = hr.copy()
    bad[:2] = 0  # only the border is wrong: cropped away
    assert psnr_y(bad, hr, crop_border=2) == math.inf
    rng = np.random.default_rng(0)
    a = rng.random((24, 24, 3))
    assert ssim_y(a, a, 2) == pytest.approx(1.0)
    assert ssim_y(np.clip(a + rng.normal(0, 0.1, a.shape), 0, 1), a, 2) < 0.95


# --- ECO -----------------------------------------------------------------------------------------
def test_eco_schedule_values():
    s = 1 / (1 + math.exp(2))  # σ(−2): t = 0.3 → x = −2
    mid = 1 - (1.2 * (s - 0.5) + 0.5)
    assert eco_weight(0.0) == 1.0
    assert eco_weight(0.3) == pytest.approx(mid) and eco_weight(0.3) == pytest.approx(0.956957, abs=1e-6)
    assert eco_weight(0.5) == pytest.approx(0.5)
    assert eco_weight(0.7) == pytest.approx(1 - mid) and eco_weight(0.7) == pytest.approx(0.043043, abs=1e-6)
    assert eco_weight(1.0) == 0.0
    assert eco_weight(0.25) == 1.0 and eco_weight(0.27) < 1.0 and eco_weight(0.73) > 0.0 and eco_weight(0.75) == 0.0
    assert eco_weight(0.5, shift=1.0) > 0.5  # a positive shift keeps the teacher longer
    assert eco_weight(0.4, schedule="constant", a=1.0) == 1.0 and eco_weight(0.25, schedule="linear") == 0.75


def _smooth(h, w, seed):
    yy, xx = np.mgrid[0:h, 0:w] / max(h, w)
    ph = np.random.default_rng(seed).random(3) * 6
    return np.stack([0.5 + 0.25 * np.sin(3 * xx + 2 * yy + p) for p in ph], -1)


def test_mixed_pair_is_spatially_consistent():
    s, a = 2, 0.37
    y = np.random.default_rng(0).random((20, 16, 3))  # real HR (noisy)
    x = np.clip(imresize(y, 1 / s), 0, 1)
    yhat = _smooth(20, 16, 1)  # "teacher SR": smooth, so D(ŷ) needs no clamping
    lr_t, hr_t = teacher_pair(yhat, s)
    np.testing.assert_allclose(lr_t, imresize(hr_t.astype(np.float64), 1 / s), atol=1e-6)
    T = lambda a_: torch.from_numpy(np.ascontiguousarray(a_)).permute(2, 0, 1)[None].float()
    mx, my = mix(T(x), T(y), T(lr_t), T(hr_t), a)
    teacher_hr = my - (1 - a) * T(y)  # the teacher part of the mixed HR …
    teacher_lr = mx - (1 - a) * T(x)  # … downsamples to the teacher part of the mixed LR
    torch.testing.assert_close(imresize(teacher_hr.double(), 1 / s).float(), teacher_lr, atol=1e-5, rtol=0)
    # whereas the KD pair (x, ŷ) is not consistent
    assert (imresize(T(hr_t).double(), 1 / s).float() - T(x)).abs().max() > 0.1
    # a = 1: exactly the teacher pair; a = 0: exactly the data
    assert torch.equal(mix(T(x), T(y), T(lr_t), T(hr_t), 1.0)[1], T(hr_t))
    assert torch.equal(mix(T(x), T(y), T(lr_t), T(hr_t), 0.0)[0], T(x))


def test_per_sample_choice_and_aligned_crops():
    from neurecon.tasks.sr.data import PairSampler, SRPair

    s = 2
    hr = _smooth(64, 48, 3).astype(np.float32)
    lr = imresize(hr, 0.5)
    pair = SRPair("p", hr, lr)
    lr_t, hr_t = teacher_pair(_smooth(64, 48, 4), s)
    smp = PairSampler([pair], s, patch=12, batch=6, augment=True, seed=0, extra=[(lr_t, hr_t)])
    b = smp.sample()
    assert b["lr"].shape == (6, 3, 12, 12) and b["hr_t"].shape == (6, 3, 24, 24) and b["u"].shape == (6,)
    # the teacher crops are the same place and orientation as each other: interior of D(hr_t crop) = lr_t crop
    d = imresize(b["hr_t"].double(), 0.5).float()
    torch.testing.assert_close(d[..., 3:-3, 3:-3], b["lr_t"][..., 3:-3, 3:-3], atol=1e-5, rtol=0)
    d = imresize(b["hr"].double(), 0.5).float()
    torch.testing.assert_close(d[..., 3:-3, 3:-3], b["lr"][..., 3:-3, 3:-3], atol=1e-5, rtol=0)
    u = torch.tensor([0.1, 0.9, 0.2, 0.6, 0.3, 0.7])
    mx, my = mix(b["lr"], b["hr"], b["lr_t"], b["hr_t"], 0.5, u, per_sample=True)
    for i in range(6):
        src = b["hr_t"] if u[i] < 0.5 else b["hr"]
        assert torch.equal(my[i], src[i].clamp(0, 1))


# --- generators and inference ------------------------------------------------------------------
@pytest.mark.parametrize("arch", ["edsr", "rcan"])
@pytest.mark.parametrize("scale", [2, 3, 4])
def test_sr_output_size_odd_inputs(arch, scale):
    from neurecon.models import build_model

    kw = (
        {"n_feats": 8, "n_blocks": 1}
        if arch == "edsr"
        else {"n_feats": 8, "n_groups": 1, "n_blocks": 1, "reduction": 4}
    )
    m = build_model({"arch": arch, "scale": scale, **kw})
    with torch.no_grad():
        assert m(torch.rand(1, 3, 7, 5)).shape == (1, 3, 7 * scale, 5 * scale)


def test_tiled_equals_untiled():
    from neurecon.infer.upscale import upscale_tensor
    from neurecon.models import build_model

    torch.manual_seed(0)
    m = build_model({"arch": "edsr", "scale": 2, "n_feats": 8, "n_blocks": 2}).eval()
    x = torch.rand(1, 3, 23, 19)
    full = upscale_tensor(m, x, tile=0)
    torch.testing.assert_close(upscale_tensor(m, x, tile=7), full, atol=1e-5, rtol=0)
    assert (upscale_tensor(m, x, tile=7, halo=0) - full).abs().max() > 1e-4  # the halo is what makes it exact


# --- the sr task on the Trainer ------------------------------------------------------------------
@pytest.fixture(autouse=True)
def _no_curve_png(monkeypatch):
    """The trainer's curves.png costs seconds of matplotlib per validation; not under test here."""
    import neurecon.train.curves as curves

    monkeypatch.setattr(curves, "plot_history", lambda *a, **k: None)


def _write_images(folder, n=2, size=(40, 36)):
    from PIL import Image

    folder.mkdir()
    for i in range(n):
        a = (_smooth(*size, 10 + i) * 255 + np.random.default_rng(i).normal(0, 8, size + (3,))).clip(0, 255)
        Image.fromarray(a.astype(np.uint8)).save(folder / f"im{i}.png")
    return folder


def _cfg(tmp_path, out, recipe="vanilla", iterations=4, teacher=None, **run):
    folder = tmp_path / "hr"
    task = {
        "name": "sr",
        "recipe": recipe,
        "scale": 2,
        "data": {"train": str(folder), "valid": str(folder), "patch": 8, "batch": 2},
        "model": {"arch": "edsr", "n_feats": 8, "n_blocks": 1},
    }
    if teacher:
        task["teacher"] = {"model": str(teacher), "cache": str(tmp_path / "cache")}
    return {
        "task": task,
        "optim": {"lr": 1e-3, "schedule": "constant"},
        "run": {
            "out": str(tmp_path / out),
            "iterations": iterations,
            "val_every": 100,
            "ckpt_every": 100,
            "log_every": 1,
            "threads": 1,
            **run,
        },
    }


def test_sr_task_trains_and_resumes_exactly(tmp_path):
    from neurecon.train.run import train_from_config

    _write_images(tmp_path / "hr")
    a = train_from_config(_cfg(tmp_path, "a", iterations=4), resume=False, progress=False)
    init = train_from_config(_cfg(tmp_path, "init", iterations=0), resume=False, progress=False).model.state_dict()
    assert any(not torch.equal(v, init[k]) for k, v in a.model.state_dict().items())  # weights changed
    hist = a.history
    assert any("val_psnr_y" in h for h in hist) and (tmp_path / "a" / "best.pt").exists()
    assert all(math.isfinite(h["loss"]) for h in hist if "loss" in h)
    # 2 iterations, stop, resume to 4: identical to 4 in one go (model, optimiser, sampler RNG)
    train_from_config(_cfg(tmp_path, "b", iterations=2), resume=False, progress=False)
    b = train_from_config(_cfg(tmp_path, "b", iterations=4), resume=True, progress=False)
    for k, v in a.model.state_dict().items():
        assert torch.equal(v, b.model.state_dict()[k]), k


def test_sr_task_loss_decreases(tmp_path):
    from neurecon.train.run import train_from_config

    _write_images(tmp_path / "hr")
    tr = train_from_config(_cfg(tmp_path, "d", iterations=20, log_every=5), resume=False, progress=False)
    losses = [h["loss"] for h in tr.history if "loss" in h]
    assert losses[-1] < losses[0]


def test_kd_and_eco_recipes_use_a_cached_frozen_teacher(tmp_path):
    from neurecon.models import build_model
    from neurecon.tasks.sr.task import SRTask
    from neurecon.train.config import load_config
    from neurecon.train.run import train_from_config

    _write_images(tmp_path / "hr")
    torch.manual_seed(1)
    t = build_model({"arch": "edsr", "scale": 2, "n_feats": 8, "n_blocks": 1})
    torch.save({"spec": t.spec(), "model": t.state_dict()}, tmp_path / "teacher.pt")
    tr = train_from_config(
        _cfg(tmp_path, "eco", "eco", iterations=4, teacher=tmp_path / "teacher.pt"), resume=False, progress=False
    )
    a_logged = [h["eco_a"] for h in tr.history if "eco_a" in h]
    assert a_logged[0] == 1.0 and a_logged[-1] < 1.0  # t = 0 … 3/4
    assert len(list((tmp_path / "cache").glob("*.pt"))) == 1  # teacher outputs cached once
    task = SRTask(load_config(_cfg(tmp_path, "kd", "kd", teacher=tmp_path / "teacher.pt")))
    assert not any(p.requires_grad for p in task.teacher.parameters())
    # cached ŷ equals the teacher on the whole LR image
    with torch.no_grad():
        full = t(torch.from_numpy(task.train_pairs[0].lr).permute(2, 0, 1)[None]).clamp(0, 1)[0].permute(1, 2, 0)
    np.testing.assert_allclose(task.sampler.extra[0][1], full.numpy(), atol=1e-5)
    # KD: original LR in, teacher SR as target
    b = task.next_batch()
    student = build_model({"arch": "edsr", "scale": 2, "n_feats": 8, "n_blocks": 1})
    loss, _ = task.training_step(student, b, 0, 10)
    assert loss.item() == pytest.approx((student(b["lr"]) - b["hr_t"]).abs().mean().item())


# --- CLI ---------------------------------------------------------------------------------------------
def test_upscale_cli_tiling_and_errors(tmp_path):
    from PIL import Image

    from neurecon.cli.upscale import run as upscale_cli
    from neurecon.models import build_model

    torch.manual_seed(0)
    m = build_model({"arch": "edsr", "scale": 2, "n_feats": 8, "n_blocks": 1})
    torch.save({"spec": m.spec(), "model": m.state_dict()}, tmp_path / "m.pt")
    Image.fromarray((np.random.default_rng(0).random((21, 17, 3)) * 255).astype(np.uint8)).save(tmp_path / "in.png")
    args = dict(input=str(tmp_path / "in.png"), scale=2, model=str(tmp_path / "m.pt"))
    assert upscale_cli(Namespace(output=str(tmp_path / "a.png"), tile=0, **args)) == 0
    assert upscale_cli(Namespace(output=str(tmp_path / "b.png"), tile=6, **args)) == 0
    a, b = np.asarray(Image.open(tmp_path / "a.png")), np.asarray(Image.open(tmp_path / "b.png"))
    assert a.shape == (42, 34, 3)
    assert np.abs(a.astype(int) - b.astype(int)).max() <= 1  # tiles reproduce the whole-image pass
    with pytest.raises(ValueError, match="×2 model"):
        upscale_cli(Namespace(output=str(tmp_path / "c.png"), tile=0, **{**args, "scale": 4}))
    with pytest.raises(FileNotFoundError):
        upscale_cli(Namespace(output=str(tmp_path / "c.png"), tile=0, **{**args, "input": str(tmp_path / "no.png")}))
