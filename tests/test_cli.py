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
    return Buffers(
        color=rng.uniform(0, 3, (12, 16, 3)),
        albedo=rng.uniform(0, 1, (12, 16, 3)),
        normal=rng.uniform(-1, 1, (12, 16, 3)),
    )


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
    from neurecon.infer.denoiser import Denoiser

    write_buffers(tmp_path / "f.exr", frame)
    assert main(["denoise", str(tmp_path / "f.exr"), "-o", str(tmp_path / "a.exr"), "--model", str(model_pt)]) == 0
    for n, p in (("color", "c.pfm"), ("albedo", "a.pfm"), ("normal", "n.pfm")):
        write_image(tmp_path / p, frame[n])
    assert (
        main(
            [
                "denoise",
                "--hdr",
                str(tmp_path / "c.pfm"),
                "--alb",
                str(tmp_path / "a.pfm"),
                "--nrm",
                str(tmp_path / "n.pfm"),
                "-o",
                str(tmp_path / "b.pfm"),
                "--model",
                str(model_pt),
            ]
        )
        == 0
    )
    a, b = read_image(tmp_path / "a.exr"), read_image(tmp_path / "b.pfm")
    np.testing.assert_allclose(a, b, atol=1e-6)
    api = Denoiser.load(model_pt).denoise(frame["color"], albedo=frame["albedo"], normal=frame["normal"])
    np.testing.assert_allclose(a, api, atol=1e-6)


def test_denoise_layer_picks_a_cycles_view_layer(tmp_path, frame, model_pt, capsys):
    """Blender writes every enabled view layer into one file: --layer names the one to denoise."""
    from neurecon.io.exr import read_exr_channels, write_exr_channels
    from neurecon.io.layouts import buffers_to_channels

    write_buffers(tmp_path / "one.exr", frame, style="cycles")
    other = Buffers(**{n: frame[n][::-1].copy() for n in frame.names()})
    channels = {k.replace("ViewLayer.", "Fg.", 1): v for k, v in buffers_to_channels(frame, "cycles").items()}
    channels |= {k.replace("ViewLayer.", "Bg.", 1): v for k, v in buffers_to_channels(other, "cycles").items()}
    write_exr_channels(tmp_path / "two.exr", channels)
    assert sorted(read_exr_channels(tmp_path / "two.exr")) == sorted(channels)

    def run(src, out, *extra):
        return main(["denoise", str(tmp_path / src), "-o", str(tmp_path / out), "--model", str(model_pt), *extra])

    assert run("two.exr", "x.exr") == 2
    assert "several Cycles view layers (Bg, Fg)" in capsys.readouterr().err
    assert run("one.exr", "ref.exr") == 0 and run("two.exr", "fg.exr", "--layer", "Fg") == 0
    np.testing.assert_array_equal(read_image(tmp_path / "fg.exr"), read_image(tmp_path / "ref.exr"))
    assert run("two.exr", "bg.exr", "--layer", "Bg") == 0
    assert not np.array_equal(read_image(tmp_path / "bg.exr"), read_image(tmp_path / "ref.exr"))
    assert run("two.exr", "y.exr", "--layer", "Mid") == 2
    assert "no Cycles view layer 'Mid'; found: Bg, Fg" in capsys.readouterr().err


def test_denoise_missing_buffer_names_what_it_got(tmp_path, frame, model_pt, capsys):
    write_image(tmp_path / "c.exr", frame["color"])
    assert (
        main(["denoise", "--hdr", str(tmp_path / "c.exr"), "-o", str(tmp_path / "o.exr"), "--model", str(model_pt)])
        == 2
    )
    err = capsys.readouterr().err
    assert "needs" in err and "got color" in err


def test_unknown_model_name(tmp_path, frame, capsys):
    write_buffers(tmp_path / "f.exr", frame)
    assert main(["denoise", str(tmp_path / "f.exr"), "-o", str(tmp_path / "o.exr"), "--model", "nonexistent"]) == 2
    assert "unknown model" in capsys.readouterr().err


def test_denoise_a_sequence_keeps_going_past_a_bad_frame(tmp_path, frame, model_pt, rng, capsys):
    from neurecon.infer.denoiser import Denoiser

    frames = tmp_path / "in"
    frames.mkdir()
    paths = []
    for i in range(3):
        f = Buffers({n: frame[n] * (1 + i) if n == "color" else frame[n] for n in frame.names()})
        write_buffers(frames / f"frame_{i:04d}.exr", f)
        paths.append(frames / f"frame_{i:04d}.exr")
    (frames / "frame_0001.exr").write_bytes(b"\x76\x2f\x31\x01" + b"garbage" * 10)  # a truncated render
    out = tmp_path / "out"
    assert main(["denoise", *map(str, paths), "-o", str(out), "--model", str(model_pt)]) == 2
    cap = capsys.readouterr()
    assert "denoised 2 of 3 frames" in cap.out and "frame_0001.exr" in cap.err
    den = Denoiser.load(model_pt)
    for i in (0, 2):
        c = frame["color"] * (1 + i)
        expect = den.denoise(c, albedo=frame["albedo"], normal=frame["normal"])
        np.testing.assert_allclose(read_image(out / f"frame_{i:04d}.exr"), expect, atol=1e-6)
    assert not (out / "frame_0001.exr").exists()


def test_denoise_sequence_output_must_be_a_directory_without_name_clashes(tmp_path, frame, model_pt, capsys):
    for d in ("a", "b"):
        (tmp_path / d).mkdir()
        write_buffers(tmp_path / d / "f.exr", frame)
    args = [str(tmp_path / "a" / "f.exr"), str(tmp_path / "b" / "f.exr"), "--model", str(model_pt)]
    assert main(["denoise", *args, "-o", str(tmp_path / "out")]) == 2
    assert "several inputs are named f.exr" in capsys.readouterr().err
    (tmp_path / "file.exr").write_bytes(b"")
    assert (
        main(["denoise", str(tmp_path / "a" / "f.exr"), str(tmp_path / "x.exr"), "-o", str(tmp_path / "file.exr")]) == 2
    )
    assert "need a directory" in capsys.readouterr().err
    # one frame into an existing directory keeps its name; never over its own input
    assert main(["denoise", str(tmp_path / "a" / "f.exr"), "-o", str(tmp_path / "b"), "--model", str(model_pt)]) == 0
    assert read_image(tmp_path / "b" / "f.exr").shape == (12, 16, 3)
    before = (tmp_path / "a" / "f.exr").read_bytes()
    assert main(["denoise", str(tmp_path / "a" / "f.exr"), "-o", str(tmp_path / "a"), "--model", str(model_pt)]) == 2
    assert "would overwrite the input" in capsys.readouterr().err
    assert (tmp_path / "a" / "f.exr").read_bytes() == before
    # nor over an OIDN-style input; --hdr into a directory keeps the colour file's name
    write_image(tmp_path / "c.exr", frame["color"])
    write_image(tmp_path / "alb.exr", frame["albedo"])
    write_image(tmp_path / "nrm.exr", frame["normal"])
    oidn = [
        "--hdr",
        str(tmp_path / "c.exr"),
        "--alb",
        str(tmp_path / "alb.exr"),
        "--nrm",
        str(tmp_path / "nrm.exr"),
        "--model",
        str(model_pt),
    ]
    for target in ("c.exr", "alb.exr"):
        assert main(["denoise", *oidn, "-o", str(tmp_path / target)]) == 2
        assert "would overwrite the input" in capsys.readouterr().err
    assert main(["denoise", *oidn, "-o", str(tmp_path / "b")]) == 0
    assert (tmp_path / "b" / "c.exr").exists()
    # a directory is named by a trailing slash; a file name for a sequence is refused
    assert (
        main(["denoise", str(tmp_path / "a" / "f.exr"), "-o", str(tmp_path / "new") + "/", "--model", str(model_pt)])
        == 0
    )
    assert (tmp_path / "new" / "f.exr").exists()
    assert (
        main(["denoise", str(tmp_path / "a" / "f.exr"), str(tmp_path / "c.exr"), "-o", str(tmp_path / "out.exr")]) == 2
    )
    assert "need a directory for -o, not the file name" in capsys.readouterr().err


def test_denoise_sequence_checks_lambda_once_before_any_frame(tmp_path, frame, model_pt, capsys):
    paths = []
    for i in range(2):
        write_buffers(tmp_path / f"f{i}.exr", frame)
        paths.append(str(tmp_path / f"f{i}.exr"))
    assert main(["denoise", *paths, "-o", str(tmp_path / "out"), "--model", str(model_pt), "--lambda", "2"]) == 2
    err = capsys.readouterr().err
    assert err.count("no λ control") == 1 and not (tmp_path / "out").exists()
