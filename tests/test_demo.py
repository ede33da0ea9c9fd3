"""End to end: render → denoise with the shipped default (and OIDN) → report. The small one runs
in CI; the README-sized one is marked slow."""

import json

import numpy as np
import pytest

from neurecon.cli import main
from neurecon.io import read_image
from neurecon.models import SHIPPED, WEIGHTS_DIR

needs_weights = pytest.mark.skipif(
    not (WEIGHTS_DIR / SHIPPED["default"].file).exists(), reason="shipped default weights not trained yet"
)


@needs_weights
def test_demo_small(tmp_path, capsys):
    assert main(["demo", "--out", str(tmp_path), "--size", "48", "--spp", "4", "--ref-spp", "64"]) == 0
    m = json.loads((tmp_path / "metrics.json").read_text())
    noisy, ours = m["noisy 4 spp"], m["neurecon"]
    assert ours["relmse"] < noisy["relmse"] and ours["dssim"] < noisy["dssim"]
    assert (tmp_path / "report" / "index.html").exists()
    # the λ control on the same frame, linked from the report; λ = 1 is its backbone, high_v1, exactly
    assert 'href="lambda/index.html"' in (tmp_path / "report" / "index.html").read_text()
    lam = json.loads((tmp_path / "report" / "lambda" / "lambda.json").read_text())
    from neurecon import Denoiser, metrics
    from neurecon.io import read_buffers

    v1 = Denoiser.load("high_v1", precision="fp32").denoise_buffers(read_buffers(tmp_path / "noisy.exr"))
    ref = read_image(tmp_path / "reference.exr")
    want = metrics.denoise_metrics(v1, ref)
    assert lam["metrics"]["1"] == pytest.approx({k: want[k] for k in lam["metrics"]["1"]}, rel=1e-3, abs=1e-5)
    assert "report:" in capsys.readouterr().out
    # noisy.exr keeps the features the denoiser needs: the user can denoise it again
    assert main(["denoise", str(tmp_path / "noisy.exr"), "-o", str(tmp_path / "again.exr")]) == 0
    np.testing.assert_allclose(read_image(tmp_path / "again.exr"), read_image(tmp_path / "neurecon.exr"), atol=1e-5)


@needs_weights
@pytest.mark.slow
def test_demo_readme_size(tmp_path):
    assert main(["demo", "--out", str(tmp_path)]) == 0
    m = json.loads((tmp_path / "metrics.json").read_text())
    assert m["neurecon"]["relmse"] < m["noisy 4 spp"]["relmse"] / 3
