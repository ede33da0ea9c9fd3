"""The λ explorer: a sweep from one cached session equals full denoises, the files hold what the
page shows, the page's slider swaps the images, and bad input fails before anything is written."""
import json
import re
import shutil
import subprocess

import numpy as np
import pytest
import torch

from neurecon import metrics
from neurecon.buffers import Buffers
from neurecon.cli import main
from neurecon.denoise import Denoiser
from neurecon.explore import explore, sweep
from neurecon.io import read_image, write_buffers, write_image
from neurecon.io.oidn_layout import find_frames
from neurecon.nn.specialiser import LambdaUNet

FULL = ["color", "color_var", "albedo", "albedo_var", "normal", "normal_var"]


@pytest.fixture
def lam_den():
    torch.manual_seed(0)
    m = LambdaUNet({"widths": [8, 8, 8, 8], "kernel": 3, "sources": {"mitsuba": FULL}}, blocks=1)
    for s in m.specialisers:
        torch.nn.init.normal_(s.out.weight, std=0.2)  # as if trained: λ changes the output
    return Denoiser(m)


@pytest.fixture
def frame(rng):
    return Buffers({b: rng.uniform(0, 1, (20, 24, 3)).astype(np.float32) for b in FULL})


def test_sweep_equals_full_denoises_and_reports_the_speedup(lam_den, frame):
    outs, timing = sweep(lam_den, frame, [5, 1, 2, 2])
    assert list(outs) == [1.0, 2.0, 5.0]  # sorted, duplicates dropped
    for lam, img in outs.items():
        np.testing.assert_allclose(img, lam_den.denoise_buffers(frame, lam=lam), atol=1e-6)
    assert np.abs(outs[5.0] - outs[1.0]).max() > 1e-4
    assert timing["speedup"] == pytest.approx(timing["full_denoise_seconds"] / timing["lambda_change_seconds"])


def test_explore_writes_what_the_page_shows(lam_den, frame, tmp_path, rng):
    ref = rng.uniform(0, 1, (20, 24, 3)).astype(np.float32)
    page = explore(lam_den, frame, tmp_path, [1, 3, 10], reference=ref)
    doc = page.read_text()
    assert 'max="2"' in doc and '"lambda_{i}.png"' in doc
    for i in range(3):
        assert (tmp_path / f"lambda_{i}.png").exists() and (tmp_path / f"lambda_{i}_change.png").exists()
    rec = json.loads((tmp_path / "lambda.json").read_text())
    assert rec["lambdas"] == [1.0, 3.0, 10.0]
    for lam in (1, 3, 10):
        out = read_image(tmp_path / f"lambda_{lam}.exr")
        np.testing.assert_allclose(out, lam_den.denoise_buffers(frame, lam=lam), atol=1e-6)
        assert rec["metrics"][str(lam)] == pytest.approx(metrics.denoise_metrics(out, ref))
        assert f"<td>{lam}</td><td>{rec['metrics'][str(lam)]['dssim']:.4g}</td>" in doc


def test_bad_input_fails_before_writing(lam_den, frame, tmp_path):
    with pytest.raises(ValueError, match="reference is 10×10 but the frame is 24×20"):
        explore(lam_den, frame, tmp_path / "a", reference=np.zeros((10, 10, 3), np.float32))
    with pytest.raises(ValueError, match="≥ 1"):
        explore(lam_den, frame, tmp_path / "b", [0.5, 2])
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()


@pytest.mark.skipif(not shutil.which("node"), reason="needs node to run the page's script")
def test_the_slider_swaps_images_labels_and_the_metrics_row(lam_den, frame, tmp_path):
    page = explore(lam_den, frame, tmp_path, [1, 2, 5, 10], reference=frame["color"])
    script = re.search(r"<script>(.*)</script>", page.read_text(), re.S).group(1)
    harness = """
const imgs = [{dataset: {src: "lambda_{i}_crop0.png"}, src: ""}], labels = [{textContent: ""}];
const rows = [0, 1, 2, 3].map(i => ({dataset: {i: String(i)}, className: ""}));
let handler; const slider = {value: "0", addEventListener: (e, f) => { handler = f; }};
global.document = {getElementById: () => slider,
  querySelectorAll: q => q.startsWith("img") ? imgs : q.startsWith(".lam") ? labels : rows};
""" + script + """
slider.value = "2"; handler();
console.log(JSON.stringify([imgs[0].src, String(labels[0].textContent), rows.map(r => r.className)]));
"""
    out = subprocess.run(["node", "-e", harness], capture_output=True, text=True, check=True).stdout
    assert json.loads(out) == ["lambda_2_crop0.png", "5", ["", "", "on", ""]]


def test_cli_on_a_rendered_frame(tiny_dataset, tmp_path, capsys):
    fs = next(iter(find_frames(tiny_dataset / "valid").values()))
    write_buffers(tmp_path / "frame.exr", fs.read(4))
    write_image(tmp_path / "ref.exr", fs.read("ref")["color"])
    out = tmp_path / "lam"
    assert main(["lambda", str(tmp_path / "frame.exr"), "--reference", str(tmp_path / "ref.exr"),
                 "--out", str(out), "--lambdas", "1", "10", "--precision", "fp32"]) == 0
    assert "faster" in capsys.readouterr().out
    rec = json.loads((out / "lambda.json").read_text())
    assert rec["model"] == "unet_high_lambda" and set(rec["metrics"]) == {"1", "10"}
    # λ = 1 is the shipped default exactly (gated specialisers)
    default = Denoiser.load("default", precision="fp32").denoise_buffers(fs.read(4))
    assert np.abs(read_image(out / "lambda_1.exr") - default).max() < 1e-5
    assert main(["lambda", str(tmp_path / "frame.exr"), "--out", str(tmp_path / "x"), "--lambdas", "0.5"]) == 2
    assert "≥ 1" in capsys.readouterr().err
