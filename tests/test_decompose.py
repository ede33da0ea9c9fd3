"""The diffuse/specular decomposing U-Net (model option `decompose: true`, nn/lobes.py)."""

from __future__ import annotations

import pytest
import torch

from neurecon.buffers import BufferError, Buffers
from neurecon.infer.denoiser import Denoiser
from neurecon.models import build_model
from neurecon.nn.features import DEFAULT_SOURCES
from neurecon.nn.kpcn import DEMOD_EPS
from neurecon.nn.unet import UNetKPCN

FULL = DEFAULT_SOURCES["mitsuba"]
SOURCES = {"mitsuba": FULL, "oidn": DEFAULT_SOURCES["oidn"]}


def _x(h, w, n=1, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = {b: torch.rand(n, 3, h, w, generator=g) for b in FULL}
    x["normal"] = x["normal"] * 2 - 1
    for b in ("diffuse", "specular", "diffuse_var", "specular_var"):
        x[b] = torch.rand(n, 3, h, w, generator=g) * 2
    x["color"] = x["diffuse"] + x["specular"]
    return x


def _model(**kw):
    torch.manual_seed(0)
    return UNetKPCN(widths=(4, 6, 8, 8), sources=SOURCES, decompose=True, **kw)


def test_textured_diffuse_and_constant_specular_come_back_exactly():
    # constant irradiance on a checker albedo, a constant highlight: the kernels see constants
    # (irradiance; log specular) and recombination puts the texture back from the albedo
    x = _x(24, 20)
    checker = (torch.arange(24)[:, None] // 4 + torch.arange(20)[None] // 4) % 2
    x["albedo"] = (0.2 + 0.6 * checker.float()).expand(1, 3, 24, 20).contiguous()
    x["diffuse"] = 0.7 * (x["albedo"] + DEMOD_EPS)
    x["specular"] = torch.full_like(x["diffuse"], 3.0)
    x["color"] = x["diffuse"] + x["specular"]
    for source in SOURCES:
        torch.testing.assert_close(_model()(x, source), x["color"], atol=1e-5, rtol=1e-5)


def test_each_frame_of_a_batch_is_denoised_on_its_own():
    m = _model()
    x = _x(16, 24, n=2)
    both = m(x, "mitsuba")
    for i in range(2):
        torch.testing.assert_close(both[i : i + 1], m({k: v[i : i + 1] for k, v in x.items()}, "mitsuba"))


def test_the_flag_tells_the_halves_apart():
    m = _model()
    x = _x(16, 16)
    swapped = {**x, "diffuse": x["specular"], "specular": x["diffuse"]}  # same colour, other split
    assert (m(x, "mitsuba") - m(swapped, "mitsuba")).abs().max() > 1e-3


def test_tiled_equals_untiled():
    den = Denoiser(_model())
    x = _x(112, 104)
    assert (den.run_tiled(x, "mitsuba", tile=40) - den.run_tiled(x, "mitsuba", tile=1000)).abs().max() < 1e-4


def test_the_denoiser_reads_the_components_and_names_missing_ones():
    den = Denoiser(build_model(_model().spec()))
    assert den.reads("oidn") == {"color", "albedo", "normal", "diffuse", "specular"}
    assert den.reads("mitsuba") >= {"diffuse_var", "specular_var", "color_var"}
    x = _x(16, 16)
    buf = Buffers({k: v[0].permute(1, 2, 0).numpy() for k, v in x.items()})
    out = den.denoise_buffers(buf)
    assert out.shape == (16, 16, 3)
    with pytest.raises(BufferError, match="specular"):
        den.denoise_buffers(buf.subset([*FULL, "diffuse", "diffuse_var", "specular_var"]))


def test_spec_round_trip_and_refusals():
    spec = _model().spec()
    assert spec["decompose"] is True and build_model(spec).spec() == spec
    assert "decompose" not in UNetKPCN(widths=(4, 6, 8, 8), sources=SOURCES).spec()  # old specs unchanged
    for bad in ({"demodulate": True}, {"albedo_ratio": True}, {"head": "direct"}):
        with pytest.raises(ValueError, match="decompose"):
            _model(**bad)


@pytest.mark.slow
def test_trains_on_a_lobes_dataset_with_consistent_augmentation(tmp_path):
    from conftest import tiny_config

    from neurecon.render.dataset import RenderJob, run
    from neurecon.train.run import train_from_config

    for split, n in (("train", 2), ("valid", 1)):
        job = RenderJob(out=str(tmp_path), split=split, scenes=n, size=32, spp=[4], ref_spp=16, lobes=True)
        run(job, progress=False)
    cfg = tiny_config(tmp_path, tmp_path / "run", iterations=4)
    cfg["task"]["model"] = {"arch": "unet", "widths": [4, 6, 8, 8], "kernel": 5, "decompose": True}
    tr = train_from_config(cfg, progress=False)
    for _ in range(3):  # exposure scaling keeps diffuse + specular = colour
        b = tr.task.next_batch()
        torch.testing.assert_close(b["diffuse"] + b["specular"], b["color"], atol=1e-4, rtol=1e-4)
    assert tr.model.config.decompose and (tmp_path / "run" / "best.pt").exists()
    den = Denoiser.load(tmp_path / "run" / "best.pt")
    assert den.reads("mitsuba") >= {"diffuse", "specular", "diffuse_var", "specular_var"}
