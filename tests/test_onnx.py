"""ONNX export (dynamic H×W, portable ops) against the eager PyTorch path, and the onnxruntime
backend (no torch at import, the same sanitising and tiling as the torch denoiser)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from neurecon.buffers import Buffers
from neurecon.cli import main
from neurecon.io import read_image, write_buffers

pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

from neurecon.infer.onnx_backend import OnnxDenoiser  # noqa: E402
from neurecon.infer.onnx_export import check_onnx, export_onnx  # noqa: E402
from neurecon.nn.unet import UNetKPCN  # noqa: E402

FULL = ["color", "color_var", "albedo", "albedo_var", "normal", "normal_var"]
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def tiny_unet(tmp_path_factory):
    """A small U-Net with every export-relevant part: 4 levels with the H/8 gain, the albedo ratio,
    two sources. Random weights (the kernels still normalise)."""
    torch.manual_seed(0)
    m = UNetKPCN(
        widths=(8, 8, 12, 12, 16),
        kernel=5,
        levels=4,
        albedo_ratio=True,
        sources={"mitsuba": FULL, "oidn": ["color", "albedo", "normal"]},
    )
    with torch.no_grad():  # open the albedo gate, so the test sees it
        m.albedo_ratio.gate.bias.fill_(0.5)  # type: ignore[union-attr]
    d = tmp_path_factory.mktemp("onnx")
    pt = d / "tiny.pt"
    torch.save({"spec": m.spec(), "model": m.state_dict()}, pt)
    onnx = d / "tiny.onnx"
    export_onnx(pt, onnx)
    return pt, onnx


def frame(h: int, w: int, seed: int = 0, variances: bool = True) -> Buffers:
    rng = np.random.default_rng(seed)
    b = Buffers(
        color=(rng.random((h, w, 3)) ** 4 * 8).astype(np.float32),
        albedo=rng.random((h, w, 3)).astype(np.float32),
        normal=rng.uniform(-1, 1, (h, w, 3)).astype(np.float32),
    )
    if variances:
        for n in ("color_var", "albedo_var", "normal_var"):
            b[n] = (rng.random((h, w, 3)) * 0.05).astype(np.float32)
    return b


def test_default_model_matches_pytorch_on_256_and_512x384(tmp_path):
    """The issue's bar: the shipped default, exported, within 1e-3 of PyTorch in fp32 (measured
    ≤ 1e-4 on HDR frames with fireflies up to 20)."""
    out = tmp_path / "default.onnx"
    meta = export_onnx("default", out)
    assert meta["neurecon.source"] == "mitsuba" and int(meta["neurecon.stride"]) == 16
    diffs = check_onnx("default", out, [(256, 256), (384, 512)])
    assert max(diffs.values()) < 1e-3, diffs


@pytest.mark.parametrize("h, w", [(48, 64), (37, 53)])
def test_one_graph_takes_any_size(tiny_unet, h, w):
    """Traced on 64×96, run at other sizes, multiples of the stride or not: the padding and every
    slice follow the input's size (the eager path pads to 16 and crops too)."""
    pt, onnx = tiny_unet
    diffs = check_onnx(pt, onnx, [(h, w)])
    assert diffs[(h, w)] < 1e-4, diffs


def test_oidn_source_export_and_missing_buffers(tmp_path, tiny_unet):
    pt, onnx = tiny_unet
    oidn = tmp_path / "oidn.onnx"
    export_onnx(pt, oidn, source="oidn")
    b = frame(32, 48, variances=False)
    got = OnnxDenoiser.load(oidn).denoise(b["color"], albedo=b["albedo"], normal=b["normal"])
    from neurecon.infer.denoiser import Denoiser

    ref = Denoiser.load(pt, precision="fp32").denoise(b["color"], albedo=b["albedo"], normal=b["normal"])
    np.testing.assert_allclose(got, ref, atol=1e-4)
    with pytest.raises(ValueError, match="'mitsuba' source.*missing color_var"):
        OnnxDenoiser.load(onnx).denoise_buffers(b)
    with pytest.raises(ValueError, match="no source 'blender'"):
        export_onnx(pt, tmp_path / "x.onnx", source="blender")


def test_backend_sanitises_like_torch_and_tiles_exactly(tiny_unet):
    pt, onnx = tiny_unet
    b = frame(400, 384, seed=1)
    b["color"][3, 4] = np.nan
    b["color"][10, 11] = -5.0
    b["normal"][7, 7] = np.inf
    den = OnnxDenoiser.load(onnx, maxmem_mb=4096)
    whole = den.denoise_buffers(b.copy())
    assert den.last_plan is not None and den.last_plan.untiled
    expected = b.copy().sanitize()
    assert str(den.last_sanitize_report) == str(expected) and den.last_sanitize_report.total == 9  # per value
    assert np.isfinite(whole).all()
    # a budget that forces tiles (each ≥ the receptive radius of halo): the same image
    den.maxmem_mb = 1 + int((b.shape[0] * b.shape[1] * 76 + 384 * 360 * 1300) / 2**20)
    tiled = den.denoise_buffers(b.copy())
    assert den.last_plan is not None and den.last_plan.count > 1
    np.testing.assert_allclose(tiled, whole, atol=1e-5)
    from neurecon.infer.denoiser import Denoiser

    ref = Denoiser.load(pt, precision="fp32").denoise_buffers(b.copy())
    np.testing.assert_allclose(whole, ref, atol=1e-4)


def test_onnxruntime_path_does_not_import_torch(tiny_unet):
    _, onnx = tiny_unet
    code = (
        "import sys, numpy as np\n"
        "from neurecon.buffers import Buffers\n"
        "from neurecon.infer.onnx_backend import OnnxDenoiser\n"
        f"d = OnnxDenoiser.load({str(onnx)!r})\n"
        "c = np.ones((40, 40, 3), np.float32)\n"
        "b = Buffers(color=c, albedo=c * 0.5, normal=c * 0, color_var=c * 0.01, albedo_var=c * 0, normal_var=c * 0)\n"
        "assert d.denoise_buffers(b).shape == (40, 40, 3)\n"
        "print('torch' in sys.modules)\n"
    )
    r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "False"


def test_cli_backend_onnxruntime_with_a_file_and_with_a_cached_export(tmp_path, tiny_unet, monkeypatch, capsys):
    pt, onnx = tiny_unet
    b = frame(40, 56, seed=2)
    write_buffers(tmp_path / "f.exr", b)
    assert main(["denoise", str(tmp_path / "f.exr"), "-o", str(tmp_path / "torch.exr"), "--model", str(pt)]) == 0
    assert main(["denoise", str(tmp_path / "f.exr"), "-o", str(tmp_path / "ort.exr"), "--model", str(onnx)]) == 0
    assert "onnxruntime" in capsys.readouterr().out
    np.testing.assert_allclose(read_image(tmp_path / "ort.exr"), read_image(tmp_path / "torch.exr"), atol=1e-4)
    monkeypatch.setenv("NEURECON_CACHE_DIR", str(tmp_path / "cache"))
    args = ["denoise", str(tmp_path / "f.exr"), "-o", str(tmp_path / "c.exr"), "--model", str(pt)]
    assert main([*args, "--backend", "onnxruntime"]) == 0
    cached = list((tmp_path / "cache" / "onnx").glob("tiny-mitsuba-*.onnx"))
    assert len(cached) == 1
    np.testing.assert_allclose(read_image(tmp_path / "c.exr"), read_image(tmp_path / "torch.exr"), atol=1e-4)
    assert main([*args, "--backend", "onnxruntime", "--temporal", "3"]) == 2
    assert "torch backend only" in capsys.readouterr().err
    assert main(["export", str(pt), "--onnx", str(tmp_path / "x.pt")]) == 2
    assert "needs a .onnx" in capsys.readouterr().err


def test_the_onnx_backend_names_its_one_source(tmp_path):
    """An exported graph reads one source: asking for another is a clear error, choosing says why."""
    from neurecon.infer.onnx_backend import OnnxDenoiser
    from neurecon.infer.onnx_export import export_onnx

    path = tmp_path / "fast_oidn.onnx"
    export_onnx("fast", path, source="oidn")
    den = OnnxDenoiser.load(path)
    why = "the one source fast_oidn.onnx was exported for"
    assert den.choose_source(["color", "albedo", "normal"]) == ("oidn", why)
    with pytest.raises(ValueError, match="exported for the 'oidn' source only, not 'cycles'"):
        den.check_source("cycles")
