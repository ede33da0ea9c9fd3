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
from neurecon.infer.denoiser import Denoiser
from neurecon.io import read_image, write_buffers, write_image
from neurecon.io.oidn_layout import find_frames
from neurecon.models import SHIPPED, WEIGHTS_DIR
from neurecon.nn.specialiser import LambdaUNet
from neurecon.tasks.denoise.explore import explore, sweep

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


def test_sweep_equals_full_denoises(lam_den, frame):
    outs, _ = sweep(lam_den, frame, [5, 1, 2, 2])
    assert list(outs) == [1.0, 2.0, 5.0]  # sorted, duplicates dropped
    for lam, img in outs.items():
        np.testing.assert_allclose(img, lam_den.denoise_buffers(frame, lam=lam), atol=1e-6)
    assert np.abs(outs[5.0] - outs[1.0]).max() > 1e-4


@pytest.mark.parametrize("gated", [False, True])
def test_cached_specialiser_equals_the_one_conv_it_replaces(lam_den, frame, gated):
    """Shipped weights were trained with one conv over [relu(features), λ]; the split form must match it."""
    m = lam_den.model
    for spec in m.specialisers:
        spec.gated = gated
    inputs, src = lam_den.prepare(frame)
    feats = m.features(inputs, src)
    for spec, f in zip(m.specialisers, feats):
        lam_ch = torch.rand(1, 1, *f.shape[2:]) * 0.9 + 0.1
        delta = spec.out(torch.relu(spec.blocks(spec.inp(torch.cat([torch.relu(f), lam_ch], 1)))))
        original = f + (lam_ch * delta if spec.gated else delta)
        torch.testing.assert_close(spec(f, lam_ch), original, atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(spec(f, lam_ch, spec.lambda_free(f)), original, atol=1e-5, rtol=1e-5)
        assert (original - f).abs().max() > 1e-3  # λ matters here


def test_a_frame_over_the_memory_budget_is_refused_before_caching(lam_den, frame):
    lam_den.maxmem_mb = 0.01
    with pytest.raises(ValueError, match="interactive λ session on this 24×20 frame needs about"):
        lam_den.session(frame)


def test_explore_writes_what_the_page_shows(lam_den, frame, tmp_path, rng):
    ref = rng.uniform(0, 1, (20, 24, 3)).astype(np.float32)
    page, _ = explore(lam_den, frame, tmp_path, [1, 3, 10], reference=ref)
    doc = page.read_text()
    assert 'max="2"' in doc and 'data-src="step{i}.png"' in doc and '"lambda_3.exr"' in doc
    for i in range(3):
        assert (tmp_path / f"step{i}.png").exists() and (tmp_path / f"step{i}_change.png").exists()
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
    with pytest.raises(ValueError, match="too close to tell apart"):
        explore(lam_den, frame, tmp_path / "c", [1, 1.0000001, 10])
    assert not any((tmp_path / d).exists() for d in "abc")


@pytest.mark.skipif(not shutil.which("node"), reason="needs node to run the page's script")
def test_the_slider_swaps_images_labels_and_the_metrics_row(lam_den, frame, tmp_path):
    page, _ = explore(lam_den, frame, tmp_path, [1, 2, 5, 10], reference=frame["color"])
    doc = page.read_text()
    script = re.search(r"<script>(.*)</script>", doc, re.S).group(1)
    # the page's own elements, as the script will query them
    srcs = re.findall(r'data-src="([^"]+)"', doc)
    rows = re.findall(r'<tr data-i="(\d+)"', doc)
    assert srcs[:2] == ["step{i}.png", "step{i}_change.png"] and rows == ["0", "1", "2", "3"]
    n_labels = doc.count('class="lam"')
    assert n_labels == len(srcs)  # the slider's λ, and one under each live image but the change map
    harness = (
        f"""
const imgs = {json.dumps(srcs)}.map(s => ({{dataset: {{src: s}}, src: ""}}));
const labels = Array.from({{length: {n_labels}}}, () => ({{textContent: ""}})), exrs = [{{textContent: ""}}];
const rows = {json.dumps(rows)}.map(i => ({{dataset: {{i: i}}, className: ""}}));
let handler; const slider = {{value: "0", addEventListener: (e, f) => {{ handler = f; }}}};
const byQuery = {{"img[data-src]": imgs, ".lam": labels, ".exr": exrs, "tr[data-i]": rows}};
global.document = {{getElementById: id => {{ if (id !== "lam") throw new Error(id); return slider; }},
  querySelectorAll: q => {{ if (!(q in byQuery)) throw new Error("unexpected selector " + q); return byQuery[q]; }}}};
"""
        + script
        + """
slider.value = "2"; handler();
console.log(JSON.stringify([imgs.map(i => i.src), labels.map(l => String(l.textContent)),
                            exrs[0].textContent, rows.map(r => r.className)]));
"""
    )
    out = json.loads(subprocess.run(["node", "-e", harness], capture_output=True, text=True, check=True).stdout)
    assert out[0] == [p.replace("{i}", "2") for p in srcs] and out[0][2] == "step2_crop0.png"
    assert out[1] == ["5"] * n_labels and "lambda_5.exr" in out[2] and out[3] == ["", "", "on", ""]
    assert all((tmp_path / p).exists() for p in out[0])


@pytest.mark.skipif(not (WEIGHTS_DIR / SHIPPED["lambda"].file).exists(), reason="shipped λ weights not trained yet")
def test_cli_on_a_rendered_frame(tiny_dataset, tmp_path, capsys):
    fs = next(iter(find_frames(tiny_dataset / "valid").values()))
    write_buffers(tmp_path / "frame.exr", fs.read(4))
    write_image(tmp_path / "ref.exr", fs.read("ref")["color"])
    out = tmp_path / "lam"
    assert (
        main(
            [
                "lambda",
                str(tmp_path / "frame.exr"),
                "--reference",
                str(tmp_path / "ref.exr"),
                "--out",
                str(out),
                "--lambdas",
                "1",
                "10",
                "--precision",
                "fp32",
            ]
        )
        == 0
    )
    assert "faster" in capsys.readouterr().out
    rec = json.loads((out / "lambda.json").read_text())
    assert rec["model"] == "unet_high_lambda" and set(rec["metrics"]) == {"1", "10"}
    # λ = 1 is the denoiser it specialises exactly (gated specialisers): high_v1, the default it was trained on
    default = Denoiser.load("high_v1", precision="fp32").denoise_buffers(fs.read(4))
    assert np.abs(read_image(out / "lambda_1.exr") - default).max() < 1e-5
    assert main(["lambda", str(tmp_path / "frame.exr"), "--out", str(tmp_path / "x"), "--lambdas", "0.5"]) == 2
    assert "≥ 1" in capsys.readouterr().err
