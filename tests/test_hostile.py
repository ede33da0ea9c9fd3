"""Hostile input (issue #22): a .pt payload never runs through any load path; crafted files are
one-line errors with exit status 2; huge headers are refused before allocation (peak RSS measured
in a subprocess); huge fireflies give finite output within the stated bound; a sequence goes on
past a frame that fails to write; resume cuts metrics.jsonl back and leaves config.yaml alone
when it fails; a seeded mutation fuzz over small EXR/PFM/PNG files never gives a traceback."""

from __future__ import annotations

import errno
import json
import os
import random
import struct
import subprocess
import sys
import time
import zlib
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from conftest import tiny_config

from neurecon.buffers import VALUE_MAX, Buffers
from neurecon.cli import main
from neurecon.io import read_image, write_buffers, write_exr_channels, write_image, write_pfm
from neurecon.nn.kpcn import KPCN

FULL = ["color", "color_var", "albedo", "albedo_var", "normal", "normal_var"]
REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def model_pt(tmp_path):
    torch.manual_seed(0)
    m = KPCN(width=8, blocks=1, kernel=5, sources={"mitsuba": FULL, "oidn": ["color", "albedo", "normal"]})
    path = tmp_path / "tiny.pt"
    torch.save({"spec": m.spec(), "model": m.state_dict()}, path)
    return path


@pytest.fixture
def frame(rng):
    return Buffers(
        color=rng.uniform(0, 3, (12, 16, 3)),
        albedo=rng.uniform(0, 1, (12, 16, 3)),
        normal=rng.uniform(-1, 1, (12, 16, 3)),
    )


def run_cli(args: list[str], capsys) -> tuple[int, str]:
    rc = main([str(a) for a in args])
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return rc, err


# --- a pickle payload never runs -------------------------------------------------------------
class Payload:
    """Unpickling this runs `touch marker` (a real attack would do worse)."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def plant(path: Path, marker: Path, **extra) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"spec": Payload(marker), "model": {}, **extra}, path)
    return path


def test_the_payload_would_run_if_loaded_unsafely(tmp_path):
    """The fixture is a real attack: loaded with weights_only=False it creates the marker."""
    marker = tmp_path / "pwned"
    torch.load(plant(tmp_path / "evil.pt", marker), weights_only=False)
    assert marker.exists()


@pytest.mark.parametrize("verb", ["denoise", "lambda", "upscale"])
def test_pickle_payload_never_runs_through_model(verb, tmp_path, frame, capsys):
    marker = tmp_path / "pwned"
    evil = plant(tmp_path / "evil.pt", marker)
    write_buffers(tmp_path / "f.exr", frame)
    write_image(tmp_path / "in.png", np.full((8, 8, 3), 0.5, np.float32))
    args = {
        "denoise": ["denoise", tmp_path / "f.exr", "-o", tmp_path / "o.exr", "--model", evil],
        "lambda": ["lambda", tmp_path / "f.exr", "--out", tmp_path / "lam", "--model", evil],
        "upscale": ["upscale", tmp_path / "in.png", "-o", tmp_path / "o.png", "--model", evil],
    }[verb]
    rc, err = run_cli(args, capsys)
    assert rc == 2 and "refused" in err and "posix.system" in err and len(err.strip().splitlines()) == 1
    assert not marker.exists()


def test_pickle_payload_never_runs_through_export(tmp_path, capsys):
    marker = tmp_path / "pwned"
    run = tmp_path / "run"
    plant(run / "best.pt", marker, step=1)
    (run / "metrics.jsonl").write_text('{"step": 1, "loss": 1.0}\n')
    rc, err = run_cli(["export", run, tmp_path / "out.pt"], capsys)
    assert rc == 2 and "refused" in err
    bench = tmp_path / "bench.json"
    bench.write_text("{}")
    rc, err = run_cli(["export", plant(tmp_path / "shipped.pt", marker), "--scores", bench], capsys)
    assert rc == 2 and "refused" in err
    assert not marker.exists()


def test_pickle_payload_never_runs_through_resume(tiny_dataset, tmp_path, capsys):
    marker = tmp_path / "pwned"
    out = tmp_path / "runs" / "x"
    plant(out / "last.pt", marker)
    (out / "config.yaml").write_text("planted: true\n")
    cfg = tmp_path / "cfg.yaml"
    cfg.write_text(yaml.safe_dump(tiny_config(tiny_dataset, out, iterations=2)))
    rc, err = run_cli(["train", cfg], capsys)
    assert rc == 2 and "refused" in err and "--restart" in err
    assert not marker.exists()
    assert (out / "config.yaml").read_text() == "planted: true\n"  # a failed resume leaves the run as it was


def test_pickle_payload_never_runs_through_the_teacher_cache(tmp_path, capsys):
    from neurecon.nn.sr import EDSR
    from neurecon.tasks.sr.data import SRPair
    from neurecon.tasks.sr.task import teacher_outputs

    marker = tmp_path / "pwned"
    torch.manual_seed(0)
    teacher = EDSR(scale=2, n_feats=4, n_blocks=1).eval()
    rng = np.random.default_rng(0)
    pairs = [
        SRPair("a", rng.uniform(0, 1, (16, 16, 3)).astype(np.float32), rng.uniform(0, 1, (8, 8, 3)).astype(np.float32))
    ]
    cache = tmp_path / "cache.pt"
    torch.save({"fingerprint": Payload(marker), "sr": []}, cache)
    first = teacher_outputs(teacher, pairs, 2, tile=0, cache=cache)  # refused, recomputed, cached as tensors
    assert not marker.exists() and "ignoring the teacher cache" in capsys.readouterr().out
    assert torch.load(cache, weights_only=True)["sr"][0].dtype == torch.float32
    again = teacher_outputs(teacher, pairs, 2, tile=0, cache=cache)
    for (a, b), (c, d) in zip(first, again):
        np.testing.assert_array_equal(a, c)
        np.testing.assert_array_equal(b, d)


def test_shipped_weights_load_with_weights_only():
    from neurecon.models import WEIGHTS_DIR, read_file

    files = sorted(WEIGHTS_DIR.glob("*.pt"))
    assert files
    for f in files:
        ck = torch.load(f, map_location="cpu", weights_only=True)
        # a model, or an adapter (its trained part and the base it loads onto, models/checkpoint.py)
        assert {"spec", "model", "card"} <= ck.keys() or {"adapter", "model", "card"} <= ck.keys()
        assert read_file(f).keys() == ck.keys()


def test_no_unsafe_torch_load_in_the_package():
    hits = []
    for f in (REPO / "neurecon").rglob("*.py"):
        for i, line in enumerate(f.read_text().splitlines(), 1):
            if "torch.load(" in line:
                hits.append(f"{f.relative_to(REPO)}:{i}")
    assert len(hits) == 1 and hits[0].startswith("neurecon/io/torchfile.py:"), hits
    text = (REPO / "neurecon/io/torchfile.py").read_text()
    assert "weights_only=True" in text and "weights_only=False" not in text


@pytest.mark.parametrize(
    "content, message",
    [
        (b"", "empty file"),
        (b"definitely not a checkpoint" * 5, "not a .pt checkpoint"),
        (None, "is a directory"),
        ("truncated", "not a .pt checkpoint"),
        ("list", "not a neurecon checkpoint"),
        ("no-spec", "needs 'spec' and 'model'"),
    ],
)
def test_bad_model_files_are_one_line_errors(content, message, tmp_path, frame, model_pt, capsys):
    bad = tmp_path / "bad.pt"
    if content is None:
        bad.mkdir()
    elif content == "truncated":
        bad.write_bytes(model_pt.read_bytes()[:500])
    elif content == "list":
        torch.save([1, 2], bad)
    elif content == "no-spec":
        torch.save({"model": {}}, bad)
    else:
        bad.write_bytes(content)
    write_buffers(tmp_path / "f.exr", frame)
    rc, err = run_cli(["denoise", tmp_path / "f.exr", "-o", tmp_path / "o.exr", "--model", bad], capsys)
    assert rc == 2 and message in err and len(err.strip().splitlines()) == 1


def test_a_model_of_another_task_is_a_clear_error(tmp_path, frame, capsys):
    write_buffers(tmp_path / "f.exr", frame)
    rc, err = run_cli(["denoise", tmp_path / "f.exr", "-o", tmp_path / "o.exr", "--model", "sr_vanilla_x2"], capsys)
    assert rc == 2 and "not a denoiser" in err
    write_image(tmp_path / "in.png", np.full((8, 8, 3), 0.5, np.float32))
    rc, err = run_cli(["upscale", tmp_path / "in.png", "-o", tmp_path / "o.png", "--model", "fast"], capsys)
    assert rc == 2 and "not a super-resolution model" in err


# --- crafted files ---------------------------------------------------------------------------
def craft_exr(path: Path, width: int, height: int, channels: str = "RGB") -> Path:
    """A 16×16 EXR whose header then declares width×height (pixel data untouched)."""
    write_exr_channels(path, {c: np.zeros((16, 16), np.float32) for c in channels})
    data = bytearray(path.read_bytes())
    for name in (b"dataWindow", b"displayWindow"):
        at = data.index(name + b"\0box2i\0") + len(name) + 7 + 4
        data[at : at + 16] = struct.pack("<4i", 0, 0, width - 1, height - 1)
    path.write_bytes(bytes(data))
    return path


def craft_png(path: Path, width: int, height: int) -> Path:
    """A valid 8×8 PNG whose IHDR then declares width×height (CRC fixed, so Pillow opens it)."""
    write_image(path, np.full((8, 8, 3), 0.5, np.float32))
    data = bytearray(path.read_bytes())
    ihdr = data.index(b"IHDR")
    data[ihdr + 4 : ihdr + 12] = struct.pack(">II", width, height)
    data[ihdr + 17 : ihdr + 21] = struct.pack(">I", zlib.crc32(bytes(data[ihdr : ihdr + 17])))
    path.write_bytes(bytes(data))
    return path


def craft_pfm(path: Path, width: int, height: int) -> Path:
    path.write_bytes(b"PF\n%d %d\n-1.0\n" % (width, height) + bytes(1200))
    return path


def test_huge_headers_are_too_large_not_corrupt(tmp_path, capsys):
    for f in (
        craft_exr(tmp_path / "a.exr", 16384, 16384),
        craft_exr(tmp_path / "b.exr", 100000, 100000),
        craft_pfm(tmp_path / "c.pfm", 100000, 100000),
        craft_png(tmp_path / "d.png", 9000, 9000),
    ):
        rc, err = run_cli(["inspect", f], capsys)
        assert rc == 2 and "image too large" in err and "--max-pixels" in err and "NEURECON_MAX_PIXELS" in err
        assert "corrupt" not in err and f.name in err
    # the message names the size; the flag raises the limit (then the truth: the data is not there)
    rc, err = run_cli(["inspect", tmp_path / "a.exr"], capsys)
    assert "16384×16384 = 268.4 Mpx" in err
    small = craft_exr(tmp_path / "e.exr", 1024, 1024)
    rc, err = run_cli(["--max-pixels", "1e6", "inspect", small], capsys)
    assert rc == 2 and "1024×1024 = 1.0 Mpx, over the limit of 1.0 Mpx" in err
    rc, err = run_cli(["--max-pixels", "2e6", "inspect", small], capsys)
    assert rc == 2 and "too large" not in err and "pixel data is truncated or corrupt" in err


def test_pillow_decompression_bomb_is_the_same_message(tmp_path, capsys):
    # 400 Mpx: over twice the limit, where Pillow's own refusal (DecompressionBombError, at twice
    # its MAX_IMAGE_PIXELS, which reading sets to our limit) comes before our check: same message
    big = craft_png(tmp_path / "bomb.png", 20000, 20000)
    rc, err = run_cli(["upscale", big, "-o", tmp_path / "o.png"], capsys)
    assert rc == 2 and "image too large" in err and "--max-pixels" in err
    from PIL import Image

    from neurecon.io.ldr import open_image

    saved = Image.MAX_IMAGE_PIXELS
    with pytest.raises(ValueError, match="image too large"):
        with open_image(big):
            pass
    assert Image.MAX_IMAGE_PIXELS == saved


def test_read_size_budget(tmp_path, capsys):
    f = craft_exr(tmp_path / "wide.exr", 4096, 4096, channels="RGBAXYZ")  # 16.8 Mpx × 7 = 448 MB
    rc, err = run_cli(["--max-read-mb", "100", "inspect", f], capsys)
    assert rc == 2 and "decodes to 448 MB" in err and "--max-read-mb" in err


# the peak RSS of this process alone: VmHWM (ru_maxrss would include the parent's, inherited on fork)
PEAK_RSS = """
import resource, sys
from neurecon.cli import main
rc = main(sys.argv[1:])
try:
    kb = next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM:"))
except OSError:
    kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print("RSS", rc, kb // 1024, file=sys.stderr)
"""


def test_huge_headers_stay_within_a_few_hundred_mb(tmp_path, model_pt):
    exr = craft_exr(tmp_path / "huge.exr", 16384, 16384)
    png = craft_png(tmp_path / "huge.png", 9000, 9000)
    pfm = craft_pfm(tmp_path / "huge.pfm", 100000, 100000)
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    peaks = {}
    for name, args in {
        "inspect": ["inspect", exr, pfm, png],
        "denoise": ["denoise", exr, "-o", tmp_path / "o.exr", "--model", model_pt],
        "upscale": ["upscale", png, "-o", tmp_path / "o.png"],
    }.items():
        r = subprocess.run(
            [sys.executable, "-c", PEAK_RSS, *map(str, args)], capture_output=True, text=True, env=env, timeout=120
        )
        line = [ln for ln in r.stderr.splitlines() if ln.startswith("RSS")][-1].split()
        assert line[1] == "2" and "image too large" in r.stderr and "Traceback" not in r.stderr, r.stderr
        peaks[name] = int(line[2])
    print("peak RSS (MB):", peaks)
    assert max(peaks.values()) < 400, peaks


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda p: p.write_bytes(b"PF\n2 2\nnan\n" + bytes(48)), "byte order is undefined"),
        (lambda p: p.write_bytes(b"PF\n2 2\ninf\n" + bytes(48)), "byte order is undefined"),
        (lambda p: p.write_bytes(b"PF\n0 0\n-1.0\n"), "empty 0×0 image"),
        (
            lambda p: p.write_bytes(b"PF\n8 8\n-1.0\n" + np.linspace(0.1, 5, 192, dtype=">f4").tobytes()),
            "byte order is wrong",
        ),
        (
            lambda p: p.write_bytes(b"PF\n8 8\n1.0\n" + np.linspace(0.1, 5, 192, dtype="<f4").tobytes()),
            "byte order is wrong",
        ),
    ],
)
def test_bad_pfms(make, message, tmp_path, capsys):
    make(tmp_path / "x.pfm")
    rc, err = run_cli(["inspect", tmp_path / "x.pfm"], capsys)
    assert rc == 2 and message in err


def test_directories_empty_and_corrupt_inputs(tmp_path, model_pt, capsys):
    (tmp_path / "dir.exr").mkdir()
    (tmp_path / "empty.png").write_bytes(b"")
    png = craft_png(tmp_path / "ok.png", 8, 8)
    (tmp_path / "cut.png").write_bytes(png.read_bytes()[:50])  # into the IDAT chunk
    (tmp_path / "junk.jpg").write_bytes(b"\xff\xd8\xff" + bytes(100))
    for f, message in (
        ("dir.exr", "is a directory"),
        ("empty.png", "not an image"),
        ("cut.png", "cannot read image"),
        ("junk.jpg", "junk.jpg"),
    ):
        rc, err = run_cli(["denoise", "--hdr", tmp_path / f, "-o", tmp_path / "o.exr", "--model", model_pt], capsys)
        assert rc == 2 and message in err and len(err.strip().splitlines()) == 1, err
        rc, err = run_cli(["upscale", tmp_path / f, "-o", tmp_path / "o.png"], capsys)
        assert rc == 2 and len(err.strip().splitlines()) == 1, err


def test_empty_frame_and_integer_arrays_in_the_api(model_pt):
    from neurecon.infer.denoiser import Denoiser
    from neurecon.infer.upscale import upscale_array
    from neurecon.nn.sr import EDSR

    den = Denoiser.load(model_pt)
    with pytest.raises(ValueError, match="empty"):
        den.denoise(np.zeros((0, 0, 3), np.float32))
    img8 = np.full((8, 8, 3), 128, np.uint8)
    with pytest.raises(ValueError, match="uint8 array"):
        den.denoise(img8)
    with pytest.raises(ValueError, match="int64 array"):
        den.denoise(np.ones((8, 8, 3), np.float32), albedo=np.ones((8, 8, 3), np.int64))
    with pytest.raises(ValueError, match="uint8 array"):
        upscale_array(EDSR(scale=2, n_feats=4, n_blocks=1), img8)


def test_lambda_outside_the_trained_range_and_nan_maps(tmp_path, frame, capsys):
    write_buffers(tmp_path / "f.exr", frame)
    rc, err = run_cli(["denoise", tmp_path / "f.exr", "-o", tmp_path / "o.exr", "--lambda", "1e9"], capsys)
    assert rc == 2 and "≤ 10" in err and "refused, not clamped" in err and "max 1e+09" in err
    lam = np.full((12, 16, 1), 2.0, np.float32)
    lam[3, 4] = np.nan
    write_pfm(tmp_path / "lam.pfm", lam)
    rc, err = run_cli(
        ["denoise", tmp_path / "f.exr", "-o", tmp_path / "o.exr", "--lambda-map", tmp_path / "lam.pfm"], capsys
    )
    assert rc == 2 and "1 NaN/Inf value" in err and "got min" not in err


# --- huge finite values ----------------------------------------------------------------------
@pytest.mark.parametrize("model", ["tiny", "fast"])
@pytest.mark.parametrize("firefly", [1e30, 3.4e38])
def test_huge_fireflies_give_finite_output_within_the_bound(model, firefly, model_pt, rng):
    from neurecon.infer.denoiser import Denoiser

    den = Denoiser.load(model_pt if model == "tiny" else model, precision="fp32")
    h, w = 64, 64
    color = rng.uniform(0, 2, (h, w, 3)).astype(np.float32)
    hot = rng.random((h, w)) < 0.05
    color[hot] = firefly
    buf = Buffers(
        color=color,
        color_var=np.where(hot[..., None], firefly, 0.01).astype(np.float32),
        albedo=rng.uniform(0, 1, (h, w, 3)),
        albedo_var=np.full((h, w, 3), 1e-3),
        normal=rng.uniform(-1, 1, (h, w, 3)),
        normal_var=np.full((h, w, 3), 1e-3),
    )
    out = den.denoise_buffers(buf)
    assert np.isfinite(out).all() and np.abs(out).max() <= VALUE_MAX
    rep = den.last_sanitize_report
    assert rep.huge["color"] == 3 * int(hot.sum()) and "huge (|x| > 1e+15, clamped)" in str(rep)
    if firefly > 1e30:  # beyond the variance bound too
        assert rep.huge["color_var"] == 3 * int(hot.sum())


def test_valid_radiance_is_untouched_by_the_clamp(rng):
    b = Buffers(color=rng.uniform(0, 1e7, (8, 8, 3)), color_var=rng.uniform(0, 1e14, (8, 8, 3)))
    before = b.copy()
    assert b.sanitize().total == 0
    for k in b.names():
        np.testing.assert_array_equal(b[k], before[k])


def test_cli_reports_huge_values(tmp_path, frame, model_pt, capsys):
    frame["color"][2, 3] = 1e30
    write_buffers(tmp_path / "f.exr", frame)
    assert main(["denoise", str(tmp_path / "f.exr"), "-o", str(tmp_path / "o.exr"), "--model", str(model_pt)]) == 0
    assert "color: 3 huge" in capsys.readouterr().out
    assert np.isfinite(read_image(tmp_path / "o.exr")).all()


# --- outputs ---------------------------------------------------------------------------------
def test_sequence_goes_on_past_a_frame_that_fails_to_write(tmp_path, frame, model_pt, monkeypatch, capsys):
    import neurecon.io as nio

    paths = []
    for i in range(3):
        write_buffers(tmp_path / f"f{i}.exr", frame)
        paths.append(str(tmp_path / f"f{i}.exr"))
    real = nio.write_image
    faults = iter([None, OSError(errno.ENOSPC, "No space left on device"), None])

    def flaky(path, *a, **kw):
        fault = next(faults)
        if fault:
            raise fault
        return real(path, *a, **kw)

    monkeypatch.setattr(nio, "write_image", flaky)
    out = tmp_path / "out"
    assert main(["denoise", *paths, "-o", str(out), "--model", str(model_pt)]) == 2
    err = capsys.readouterr().err
    assert "f1.exr: [Errno 28] No space left on device" in err
    assert sorted(p.name for p in out.iterdir()) == ["f0.exr", "f2.exr"]


@pytest.mark.parametrize("fault", [RuntimeError("cannot write: disk full"), MemoryError()])
def test_sequence_goes_on_past_runtime_and_memory_errors(fault, tmp_path, frame, model_pt, monkeypatch, capsys):
    from neurecon.infer.denoiser import Denoiser

    paths = []
    for i in range(3):
        write_buffers(tmp_path / f"f{i}.exr", frame)
        paths.append(str(tmp_path / f"f{i}.exr"))
    real, calls = Denoiser.denoise_buffers, []

    def flaky(self, *a, **kw):
        calls.append(1)
        if len(calls) == 2:
            raise fault
        return real(self, *a, **kw)

    monkeypatch.setattr(Denoiser, "denoise_buffers", flaky)
    assert main(["denoise", *paths, "-o", str(tmp_path / "out"), "--model", str(model_pt)]) == 2
    err = capsys.readouterr().err
    assert "f1.exr:" in err and "Traceback" not in err
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["f0.exr", "f2.exr"]


def test_unwritable_outputs_fail_before_the_work(tmp_path, frame, model_pt, monkeypatch, capsys):
    from neurecon.infer.denoiser import Denoiser

    write_buffers(tmp_path / "f.exr", frame)
    (tmp_path / "file").write_text("x")
    monkeypatch.setattr(Denoiser, "load", lambda *a, **k: pytest.fail("loaded the model before checking the output"))
    for args in (
        ["denoise", tmp_path / "f.exr", "-o", tmp_path / "file" / "o.exr", "--model", model_pt],
        ["lambda", tmp_path / "f.exr", "--out", tmp_path / "file", "--model", model_pt],
        ["denoise", tmp_path / "f.exr", "-o", "/proc/neurecon-test/o.exr", "--model", model_pt],
    ):
        rc, err = run_cli(args, capsys)
        assert rc == 2 and "cannot write into" in err, err
    write_image(tmp_path / "in.png", np.full((8, 8, 3), 0.5, np.float32))
    rc, err = run_cli(["upscale", tmp_path / "in.png", "-o", "/proc/o.png"], capsys)
    assert rc == 2 and "cannot write into" in err


def test_upscale_refuses_to_overwrite_its_input(tmp_path, capsys):
    src = tmp_path / "in.png"
    write_image(src, np.full((8, 8, 3), 0.5, np.float32))
    before = src.read_bytes()
    for out in (src, tmp_path / "." / "in.png"):
        rc, err = run_cli(["upscale", src, "-o", out], capsys)
        assert rc == 2 and "overwrite the input" in err
    os.link(src, tmp_path / "hard.png")
    rc, err = run_cli(["upscale", src, "-o", tmp_path / "hard.png"], capsys)
    assert rc == 2 and "overwrite the input" in err
    assert src.read_bytes() == before


def test_inspect_json_is_one_document_even_with_openexr_warnings(tmp_path):
    good = craft_exr(tmp_path / "good.exr", 16, 16)
    data = good.read_bytes()
    (tmp_path / "torn.exr").write_bytes(data[: len(data) - 20])  # OpenEXR prints a warning on stdout
    for files in (["torn.exr", "good.exr"], ["good.exr"], ["torn.exr"]):
        r = subprocess.run(
            [sys.executable, "-c", "import sys; from neurecon.cli import main; sys.exit(main(sys.argv[1:]))"]
            + ["inspect", "--json", *files],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=60,
        )
        doc = json.loads(r.stdout)
        assert isinstance(doc, list) and len(doc) == files.count("good.exr")
        assert "Traceback" not in r.stderr


def test_render_bad_sizes_are_clear_errors(tmp_path, capsys):
    from neurecon.render.dataset import RenderJob

    with pytest.raises(ValueError, match=r"size \(--size\) must be an integer ≥ 1, got 0"):
        RenderJob(out=str(tmp_path), size=0).validate()  # e.g. a recipe's render: entry
    for size in ("-1", "0"):  # 0 is not "the default"
        rc, err = run_cli(["render", "--out", tmp_path, "--size", size, "--quiet"], capsys)
        assert rc == 2 and "--size" in err and "≥ 1" in err and not list(tmp_path.iterdir())


def test_bad_set_types_are_clear_errors(tmp_path, capsys):
    cfg = tmp_path / "cfg.yaml"
    cfg.write_text(yaml.safe_dump(tiny_config(tmp_path / "data", tmp_path / "run")))
    rc, err = run_cli(["train", cfg, "--set", "run.iterations=abc"], capsys)
    assert rc == 2 and "run.iterations" in err and "abc" in err


# --- resume ----------------------------------------------------------------------------------
def test_resume_truncates_metrics_tolerates_a_torn_line_and_keeps_config(tiny_dataset, tmp_path, capsys):
    from neurecon.train.run import train_from_config

    out = tmp_path / "run"
    cfg = tiny_config(tiny_dataset, out, iterations=6)
    cfg["run"].update(ckpt_every=3, val_every=3)
    cfg["run"]["iterations"] = 3
    train_from_config(cfg, progress=False)  # checkpoint at step 3
    # a run killed at step 5 after logging it, mid-line
    with open(out / "metrics.jsonl", "a") as f:
        f.write('{"step": 4, "loss": 9.0}\n{"step": 5, "loss": 9.0}\n{"step": 5, "lo')
    cfg["run"]["iterations"] = 6
    train_from_config(cfg, progress=False)
    steps = [json.loads(line)["step"] for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert steps == sorted(steps) and len([s for s in steps if s == 4]) == 1
    assert all(json.loads(line).get("loss") != 9.0 for line in (out / "metrics.jsonl").read_text().splitlines())

    # a corrupt last.pt: --restart suggested, config.yaml untouched
    config_before = (out / "config.yaml").read_text()
    (out / "last.pt").write_bytes((out / "last.pt").read_bytes()[:1000])
    path = tmp_path / "cfg.yaml"
    path.write_text(yaml.safe_dump({**cfg, "optim": {"lr": 5e-4}}))
    rc, err = run_cli(["train", path], capsys)
    assert rc == 2 and "cannot resume" in err and "--restart" in err and "truncated or corrupt" in err
    assert (out / "config.yaml").read_text() == config_before


def test_resume_with_another_model_is_a_clear_error(tiny_dataset, tmp_path, capsys):
    from neurecon.train.run import train_from_config

    out = tmp_path / "run"
    cfg = tiny_config(tiny_dataset, out, iterations=3)
    train_from_config(cfg, progress=False)
    config_before = (out / "config.yaml").read_text()
    cfg["run"]["iterations"] = 6
    cfg["task"]["model"]["width"] = 12
    path = tmp_path / "cfg.yaml"
    path.write_text(yaml.safe_dump(cfg))
    rc, err = run_cli(["train", path], capsys)
    assert rc == 2 and "does not match this config" in err and "task.model.width: 8 → 12" in err
    assert "--restart" in err and (out / "config.yaml").read_text() == config_before


def test_training_checkpoints_load_with_weights_only(tiny_dataset, tmp_path):
    from neurecon.train.run import train_from_config

    cfg = tiny_config(tiny_dataset, tmp_path / "run", iterations=3)
    train_from_config(cfg, progress=False)
    for name in ("last.pt", "best.pt"):
        torch.load(tmp_path / "run" / name, weights_only=True)


# --- fuzz ------------------------------------------------------------------------------------
def _seeds(tmp: Path) -> dict[str, bytes]:
    rng = np.random.default_rng(1)
    write_buffers(tmp / "s.exr", Buffers(color=rng.uniform(0, 2, (8, 8, 3)), albedo=rng.uniform(0, 1, (8, 8, 3))))
    write_pfm(tmp / "s.pfm", rng.uniform(0, 2, (8, 8, 3)).astype(np.float32))
    write_image(tmp / "s.png", rng.uniform(0, 1, (8, 8, 3)).astype(np.float32))
    return {ext: (tmp / f"s{ext}").read_bytes() for ext in (".exr", ".pfm", ".png")}


def _mutate(data: bytes, r: random.Random) -> bytes:
    b = bytearray(data)
    for _ in range(r.randint(1, 4)):
        op = r.random()
        if op < 0.45 and b:  # flip bytes, header-heavy
            i = r.randrange(min(len(b), 400)) if r.random() < 0.7 else r.randrange(len(b))
            b[i] = r.randrange(256)
        elif op < 0.6:  # truncate
            del b[r.randrange(len(b) + 1) :]
        elif op < 0.75 and b:  # overwrite a 32-bit field with an extreme value
            i = r.randrange(max(1, min(len(b), 400) - 4))
            b[i : i + 4] = struct.pack("<I", r.choice([0, 1, 0x7FFFFFFF, 0xFFFFFFFF, 65536, 100000]))
        elif op < 0.9 and b:  # duplicate or drop a chunk
            i, n = r.randrange(len(b)), r.randint(1, 64)
            b[i:i] = b[i : i + n] if r.random() < 0.5 else b""
            if r.random() < 0.5:
                del b[i : i + n]
        else:  # append garbage
            b += bytes(r.randrange(256) for _ in range(r.randint(1, 64)))
    return bytes(b)


FUZZ = """
import sys, traceback
from neurecon.cli import main
bad, codes = [], {}
for path in sys.argv[1:]:
    try:
        rc = main(["inspect", path])
    except BaseException:
        bad.append(path + ": raised out of main: " + traceback.format_exc().splitlines()[-1])
        continue
    if rc not in (0, 1, 2):
        bad.append(f"{path}: exit {rc}")
    codes[rc] = codes.get(rc, 0) + 1
print("FUZZ-BAD", bad, "exit codes", codes, file=sys.stderr)
"""


def test_fuzzed_files_give_exit_0_or_2_and_never_a_traceback(tmp_path):
    r = random.Random(22)
    seeds = _seeds(tmp_path)
    files = []
    for ext, data in seeds.items():
        for i in range(60):
            f = tmp_path / f"m{i:02d}{ext}"
            f.write_bytes(_mutate(data, r))
            files.append(str(f))
    t = time.perf_counter()
    env = {**os.environ, "OMP_NUM_THREADS": "1", "NEURECON_MAX_PIXELS": str(2**22)}
    res = subprocess.run([sys.executable, "-c", FUZZ, *files], capture_output=True, text=True, env=env, timeout=120)
    seconds = time.perf_counter() - t
    print(f"fuzz: {len(files)} mutated files in {seconds:.1f} s;", res.stderr.strip().splitlines()[-1])
    assert "FUZZ-BAD []" in res.stderr, res.stderr[-3000:]
    assert "Traceback" not in res.stderr and "internal error" not in res.stderr, res.stderr[-3000:]
    # exit 1 (NaN/Inf in a readable file) counts as a success of inspect; everything else 0 or 2
    assert seconds < 30


def test_fuzzed_frames_through_denoise(tmp_path, model_pt, capsys):
    """A sample of mutants through the full denoise path, in process (one model load per call)."""
    r = random.Random(7)
    seeds = _seeds(tmp_path)
    for i in range(12):
        ext = r.choice(list(seeds))
        f = tmp_path / f"d{i:02d}{ext}"
        f.write_bytes(_mutate(seeds[ext], r))
        args = (
            [f, "-o", tmp_path / f"o{i}.exr", "--model", model_pt]
            if ext == ".exr"
            else ["--hdr", f, "-o", tmp_path / f"o{i}.exr", "--model", model_pt]
        )
        rc, err = run_cli(["denoise", *args], capsys)
        assert rc in (0, 2) and "internal error" not in err, err


def test_outputs_follow_the_umask(tmp_path):
    old = os.umask(0o027)
    try:
        write_image(tmp_path / "a.exr", np.zeros((2, 2, 3), np.float32))
        write_pfm(tmp_path / "a.pfm", np.zeros((2, 2, 3), np.float32))
    finally:
        os.umask(old)
    for name in ("a.exr", "a.pfm"):
        assert (tmp_path / name).stat().st_mode & 0o777 == 0o640


def test_lambda_sweep_refuses_an_untrained_lambda_before_the_work(tmp_path, frame, capsys):
    write_buffers(tmp_path / "f.exr", frame)
    rc, err = run_cli(["lambda", tmp_path / "f.exr", "--out", tmp_path / "x", "--lambdas", "1", "20"], capsys)
    assert rc == 2 and "≤ 10" in err and "max 20" in err and not (tmp_path / "x").exists()
