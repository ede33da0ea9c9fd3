"""`neurecon denoise` and the Denoiser API say which buffers the chosen encoder did not read."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from neurecon.buffers import Buffers
from neurecon.cli import main
from neurecon.infer.unused import UnusedBufferWarning, unused_buffer_notes
from neurecon.io import write_buffers, write_image
from neurecon.nn.features import DEFAULT_SOURCES

SOURCES = {"mitsuba": DEFAULT_SOURCES["mitsuba"], "oidn": DEFAULT_SOURCES["oidn"]}


@pytest.fixture
def tiny(tmp_path, rng):
    """A 16×16 frame as OIDN-style files: every plane the default model's encoders read."""
    planes = {
        "color": rng.uniform(0, 3, (16, 16, 3)),
        "albedo": rng.uniform(0, 1, (16, 16, 3)),
        "normal": rng.uniform(-1, 1, (16, 16, 3)),
        "color_var": rng.uniform(0, 0.1, (16, 16, 3)),
        "albedo_var": rng.uniform(0, 0.01, (16, 16, 3)),
        "normal_var": rng.uniform(0, 0.01, (16, 16, 3)),
    }
    paths = {}
    for name, value in planes.items():
        paths[name] = tmp_path / f"{name}.exr"
        write_image(paths[name], value.astype(np.float32))
    return Buffers(planes), paths


def _denoise(tmp_path, paths, *flags):
    files = {"color": "--hdr", "albedo": "--alb", "normal": "--nrm", "color_var": "--var"}
    files |= {"albedo_var": "--alb-var", "normal_var": "--nrm-var"}
    args = [x for name in flags for x in (files[name], str(paths[name]))]
    return main(["denoise", *args, "-o", str(tmp_path / "out.exr"), "--precision", "fp32"])


def test_var_alone_warns_with_the_shipped_model(tmp_path, tiny, capsys):
    _, paths = tiny
    assert _denoise(tmp_path, paths, "color", "albedo", "normal", "color_var") == 0
    err = capsys.readouterr().err
    assert "source: oidn" in err
    assert (
        "warning: --var given but not used: the `mitsuba` encoder, which reads color_var, also needs "
        "albedo_var, normal_var; the `oidn` encoder was used"
    ) in err
    assert err.count("warning:") == 1


def test_all_variances_use_the_variance_encoder_without_warning(tmp_path, tiny, capsys):
    _, paths = tiny
    assert _denoise(tmp_path, paths, *paths) == 0
    err = capsys.readouterr().err
    assert "source: mitsuba" in err and "warning" not in err


def test_planes_merely_present_in_a_multilayer_file_are_not_warned_about(tmp_path, tiny, capsys):
    buf, _ = tiny
    write_buffers(tmp_path / "f.exr", buf.subset(["color", "albedo", "normal", "color_var"]))
    assert main(["denoise", str(tmp_path / "f.exr"), "-o", str(tmp_path / "o.exr"), "--precision", "fp32"]) == 0
    err = capsys.readouterr().err
    assert "source: oidn" in err and "warning" not in err


def test_a_flag_beside_a_multilayer_file_is_refused(tmp_path, tiny, capsys):
    buf, paths = tiny
    write_buffers(tmp_path / "f.exr", buf.subset(["color", "albedo", "normal"]))
    assert main(["denoise", str(tmp_path / "f.exr"), "--var", str(paths["color_var"]), "-o", str(tmp_path / "o.exr")])
    assert (
        "give either a multi-layer EXR or --hdr (with --alb/--nrm/--var/--alb-var/--nrm-var), not both"
        in capsys.readouterr().err
    )


def test_the_api_warns_once_per_unused_argument(tiny):
    from neurecon.infer.denoiser import Denoiser

    buf, _ = tiny
    den = Denoiser.load(precision="fp32")
    with pytest.warns(UnusedBufferWarning, match=r"variance= given but not used: the `mitsuba` encoder") as got:
        den.denoise(buf["color"], albedo=buf["albedo"], normal=buf["normal"], variance=buf["color_var"])
    assert len([w for w in got if issubclass(w.category, UnusedBufferWarning)]) == 1
    with warnings.catch_warnings():
        warnings.simplefilter("error", UnusedBufferWarning)
        den.denoise(buf["color"], albedo=buf["albedo"], normal=buf["normal"])  # all read: silent


def test_notes_name_the_closest_encoder_or_none():
    given = {"color_var": "--var", "depth": "--z"}
    notes = unused_buffer_notes(
        given, ["color", "albedo", "normal", "color_var", "depth"], "oidn", SOURCES, SOURCES["oidn"]
    )
    assert notes == [
        "--var given but not used: the `mitsuba` encoder, which reads color_var, also needs albedo_var, "
        "normal_var; the `oidn` encoder was used",
        "--z given but not used: no encoder of this model reads depth; the `oidn` encoder was used",
    ]
    # everything there, but --source picked the smaller encoder
    every = [*SOURCES["mitsuba"]]
    notes = unused_buffer_notes({"albedo_var": "--alb-var"}, every, "oidn", SOURCES, SOURCES["oidn"])
    assert notes == [
        "--alb-var given but not used: the `mitsuba` encoder, which reads albedo_var, was not chosen "
        "(--source); the `oidn` encoder was used"
    ]
    assert unused_buffer_notes({"albedo": "--alb"}, every, "oidn", SOURCES, SOURCES["oidn"]) == []
