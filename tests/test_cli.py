import numpy as np
import pytest
import torch

from neurecon.buffers import Buffers
from neurecon.cli import main
from neurecon.io import read_image, write_buffers, write_image
from neurecon.nn.kpcn import KPCN

FULL = ["color", "color_var", "albedo", "albedo_var", "normal", "normal_var"]


@pytest.fixture
def model_pt(tmp_path):
    torch.manual_seed(0)
    m = KPCN(width=8, blocks=1, kernel=5, sources={"mitsuba": FULL, "oidn": ["color", "albedo", "normal"]})
    path = tmp_path / "tiny.pt"
    torch.save({"spec": m.spec(), "model": m.state_dict()}, path)
    return path


@pytest.fixture
def frame(rng):
    return Buffers(color=rng.uniform(0, 3, (12, 16, 3)), albedo=rng.uniform(0, 1, (12, 16, 3)),
                   normal=rng.uniform(-1, 1, (12, 16, 3)))


def test_inspect_lists_buffers_and_flags_nan(tmp_path, frame, capsys):
    frame["color"][0, 0, 0] = np.nan
    write_buffers(tmp_path / "f.exr", frame)
    assert main(["inspect", str(tmp_path / "f.exr")]) == 1  # 1 = file has NaN/Inf
    out = capsys.readouterr().out
    assert "16×12" in out and "albedo" in out and "normal" in out


def test_inspect_corrupt_file_is_an_error(tmp_path, capsys):
    bad = tmp_path / "bad.exr"
    bad.write_bytes(b"\x76\x2f\x31\x01" + b"garbage" * 10)
    assert main(["inspect", str(bad)]) == 2
    assert "bad.exr" in capsys.readouterr().err


def test_denoise_multilayer_and_separate_files_agree(tmp_path, frame, model_pt):
    from neurecon.denoise import Denoiser

    write_buffers(tmp_path / "f.exr", frame)
    assert main(["denoise", str(tmp_path / "f.exr"), "-o", str(tmp_path / "a.exr"), "--model", str(model_pt)]) == 0
    for n, p in (("color", "c.pfm"), ("albedo", "a.pfm"), ("normal", "n.pfm")):
        write_image(tmp_path / p, frame[n])
    assert main(["denoise", "--hdr", str(tmp_path / "c.pfm"), "--alb", str(tmp_path / "a.pfm"),
                 "--nrm", str(tmp_path / "n.pfm"), "-o", str(tmp_path / "b.pfm"), "--model", str(model_pt)]) == 0
    a, b = read_image(tmp_path / "a.exr"), read_image(tmp_path / "b.pfm")
    np.testing.assert_allclose(a, b, atol=1e-6)
    api = Denoiser.load(model_pt).denoise(frame["color"], albedo=frame["albedo"], normal=frame["normal"])
    np.testing.assert_allclose(a, api, atol=1e-6)


def test_denoise_missing_buffer_names_what_it_got(tmp_path, frame, model_pt, capsys):
    write_image(tmp_path / "c.exr", frame["color"])
    assert main(["denoise", "--hdr", str(tmp_path / "c.exr"), "-o", str(tmp_path / "o.exr"), "--model", str(model_pt)]) == 2
    err = capsys.readouterr().err
    assert "needs" in err and "got color" in err


def test_unknown_model_name(tmp_path, frame, capsys):
    write_buffers(tmp_path / "f.exr", frame)
    assert main(["denoise", str(tmp_path / "f.exr"), "-o", str(tmp_path / "o.exr"), "--model", "nonexistent"]) == 2
    assert "unknown model" in capsys.readouterr().err
