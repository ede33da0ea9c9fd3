"""The report page and the λ explorer in a real browser (headless Debian Chromium through
Playwright): dragging a slider changes the shown pixels where it uncovers another image, and only
there, and the labels follow. Screenshots of both pages are kept in the test's tmp directory
(`pytest --basetemp=DIR` to keep them somewhere; `bench/pages.py` writes them for a demo run).
Skipped, with the reason, where Chromium or Playwright is missing. The page's self-contained form
and the reading of report directories are tested without a browser."""

from __future__ import annotations

import base64
import io
import re

import numpy as np
import pytest
import torch

from neurecon import metrics
from neurecon.buffers import Buffers
from neurecon.cli import main
from neurecon.io import write_buffers, write_image
from neurecon.studies import pages

FULL = ["color", "color_var", "albedo", "albedo_var", "normal", "normal_var"]
needs_browser = pytest.mark.skipif(pages.unavailable() is not None, reason=str(pages.unavailable()))


def report_dir(d, h=96, w=128, seed=0):
    """A frame directory as `neurecon demo` writes it: a reference with a bright patch, a noisy
    input, and two 'methods': one close to the reference, one with a darkened left half."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w]
    ref = np.stack([xx / w, yy / h, 0.5 + 0 * xx], -1).astype(np.float32)
    ref[30:60, 40:90] = [2.0, 0.2, 0.2]
    noisy = (ref * rng.exponential(1, ref.shape)).astype(np.float32)
    d.mkdir(parents=True, exist_ok=True)
    write_buffers(d / "noisy.exr", Buffers(color=noisy, albedo=ref.clip(0, 1), normal=np.zeros_like(ref)))
    write_image(d / "reference.exr", ref)
    write_image(d / "neurecon.exr", (ref + rng.normal(0, 0.01, ref.shape)).astype(np.float32))
    dark = ref.copy()
    dark[:, : w // 2] *= 0.5
    write_image(d / "oidn.exr", dark)
    return ref


def test_report_dir_page_is_self_contained_with_all_parts(tmp_path, capsys):
    report_dir(tmp_path / "shot_a")
    report_dir(tmp_path / "shot_b", seed=1)
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "metrics.jsonl").write_text(
        '{"step": 10, "loss": 0.5}\n{"step": 20, "loss": 0.3}\n{"step": 20, "val_relmse": 0.01}\n{"step": 3'
    )
    assert main(["report", str(tmp_path), "-o", str(tmp_path / "page.html")]) == 0
    out = capsys.readouterr().out
    assert "shot_a (noisy, neurecon, oidn)" in out and "training runs run" in out
    doc = (tmp_path / "page.html").read_text()
    assert 'src="http' not in doc and 'src="data:image/png;base64,' in doc  # nothing outside the file
    assert doc.count('class="frame"') == 2 and doc.count('class="cmp"') == 4  # a slider per method, per frame
    assert "training run run (20 iterations)" in doc and "relmse 0.01" in doc
    # the embedded reference is the tonemapped image: decode one and compare with the transform
    from PIL import Image

    from neurecon.io.ldr import tonemap_to_ldr
    from neurecon.report import _display

    images = re.search(r"const IMAGES = (\{.*?\});", doc, re.S)
    assert images is not None
    import json

    uri = json.loads(images.group(1))["shot_a"]["reference"]
    png = np.asarray(Image.open(io.BytesIO(base64.b64decode(uri.split(",", 1)[1]))))
    ref = report_dir(tmp_path / "again")
    np.testing.assert_allclose(png / 255, tonemap_to_ldr(_display(ref)), atol=0.5 / 255 + 1e-6)
    # the metrics table: OIDN (half darkened) is worse than the near-copy on every metric
    assert re.search(r"<td>neurecon</td><td class=\"best\">", doc)


def test_report_refuses_a_directory_with_nothing_to_show(tmp_path, capsys):
    write_image(tmp_path / "neurecon.exr", np.ones((8, 8, 3), np.float32))
    assert main(["report", str(tmp_path)]) == 2
    assert "nothing to report" in capsys.readouterr().err
    write_image(tmp_path / "reference.exr", np.ones((9, 8, 3), np.float32))
    assert main(["report", str(tmp_path)]) == 2
    assert "'neurecon' is 8×8, the reference 8×9" in capsys.readouterr().err


@needs_browser
def test_report_slider_in_chromium(tmp_path):
    report_dir(tmp_path / "frame")
    assert main(["report", str(tmp_path / "frame"), "-o", str(tmp_path / "report.html")]) == 0
    r = pages.check_report(tmp_path / "report.html", tmp_path / "report.png")
    assert r["script_errors"] == []
    assert r["before"]["readout"] == "noisy | reference at 50 %" and r["before"]["left_tag"] == "noisy"
    assert r["after"]["value"] == 20 and r["after"]["readout"] == "noisy | reference at 20 %"
    # the name tag rides on the split: it moved left by the 30 % the split moved
    moved = r["before"]["left_tag_x"] - r["after"]["left_tag_x"]
    assert moved == pytest.approx(0.3 * r["view_width"], abs=3)
    # where the split passed, noisy gave way to the reference; elsewhere nothing changed
    assert r["changed_uncovered"] > 10
    assert r["changed_left"] == 0 and r["changed_right"] == 0
    assert (tmp_path / "report.png").stat().st_size > 10_000


@needs_browser
def test_lambda_explorer_slider_in_chromium(tmp_path):
    from neurecon.infer.denoiser import Denoiser
    from neurecon.nn.specialiser import LambdaUNet
    from neurecon.tasks.denoise.explore import explore

    torch.manual_seed(0)
    m = LambdaUNet({"widths": [8, 8, 8, 8], "kernel": 3, "sources": {"mitsuba": FULL}}, blocks=1)
    for s in m.specialisers:
        torch.nn.init.normal_(s.out.weight, std=0.5)  # as if trained: λ changes the output
    rng = np.random.default_rng(0)
    frame = Buffers({b: rng.uniform(0, 1, (48, 64, 3)).astype(np.float32) for b in FULL})
    ref = rng.uniform(0, 1, (48, 64, 3)).astype(np.float32)
    page, _ = explore(Denoiser(m), frame, tmp_path / "lam", [1, 2, 5, 10], reference=ref)
    r = pages.check_lambda_page(page, tmp_path / "lambda.png")
    assert r["script_errors"] == []
    assert r["before"] == {"label": "1", "value": 0, "src": "step0.png", "row": "0"}
    assert r["after"] == {"label": "10", "value": 3, "src": "step3.png", "row": "3"}
    assert r["changed"] > 1  # λ = 10 keeps visibly more of the input than λ = 1
    assert (tmp_path / "lambda.png").stat().st_size > 5_000


def test_crops_sit_where_a_method_is_worst_and_flip_is_optional(monkeypatch):
    from neurecon import report

    rng = np.random.default_rng(3)
    ref = rng.uniform(0.2, 0.8, (96, 128, 3)).astype(np.float32)
    good = ref.copy()
    good[60:80, 100:120] += 1.0  # the one place a method is wrong (the noisy input is wrong everywhere)
    noisy = (ref * rng.exponential(1, ref.shape)).astype(np.float32)
    monkeypatch.setattr(metrics, "flip_available", lambda: False)
    doc, uris = report.frame_section("f", "frame", {"noisy": noisy, "method": good}, ref, crop=32)
    y, x = (int(v) for v in re.search(r"crop 0<br>\(y=(\d+), x=(\d+)\)", doc).groups())
    assert y <= 60 and y + 32 >= 80 and x <= 100 and x + 32 >= 120  # the window holds the whole error
    assert "FLIP skipped" in doc and "flip" not in re.search(r"<table class=\"m\">.*?</table>", doc, re.S).group(0)
    assert set(uris) == {"noisy", "method", "reference"}
