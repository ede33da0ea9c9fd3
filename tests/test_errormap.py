"""Error maps (§5): the per-pixel metric maps, Spearman, the predictor network, the ErrorMapper,
`neurecon errormap` and the error_predict training task on tiny real renders."""

import numpy as np
import pytest
import torch

from neurecon import metrics
from neurecon.nn.error_predictor import IMAGE_CHANNELS, ErrorPredictor


def test_error_maps_average_to_the_frame_metrics(rng):
    r = rng.gamma(1.0, 1.0, (24, 20, 3))
    d = r * rng.lognormal(0, 0.3, r.shape)
    maps = metrics.error_maps(d, r)
    assert float(maps["smape"].mean()) == pytest.approx(metrics.smape(d, r), rel=1e-12)
    assert float(maps["relmse"].mean()) == pytest.approx(metrics.relmse(d, r), rel=1e-12)
    # away from the border the DSSIM map is SSIM's valid region exactly
    valid = (1 - metrics.ssim_map(metrics.tonemapped(d), metrics.tonemapped(r))) / 2
    np.testing.assert_allclose(maps["dssim"][..., 5:-5, 5:-5], valid.mean(1, keepdim=True), rtol=1e-12)
    assert all(float(m.min()) >= 0 for m in maps.values())
    with pytest.raises(ValueError, match="unknown error metric"):
        metrics.error_maps(d, r, ["psnr"])


def test_spearman_matches_scipy(rng):
    stats = pytest.importorskip("scipy.stats")
    a = rng.normal(size=200)
    b = a + rng.normal(size=200)
    b[:20] = np.round(b[:20])  # ties
    a[5:15] = 1.0
    assert metrics.spearman(a, b) == pytest.approx(stats.spearmanr(a, b).statistic, abs=1e-12)
    assert metrics.spearman(a, a**3) == pytest.approx(1.0)
    assert metrics.spearman(a, -a) == pytest.approx(-1.0)


def test_predicted_maps_are_non_negative_even_for_wild_inputs():
    torch.manual_seed(0)
    net = ErrorPredictor(feature_width=8, width=8)
    image = torch.randn(2, IMAGE_CHANNELS, 19, 23) * 50
    feats = torch.randn(2, 8, 19, 23) * 50
    out = net(image, feats)
    assert out.shape == (2, 3, 19, 23)
    assert bool((out >= 0).all()) and bool(torch.isfinite(out).all())
    assert len([m for m in net.trunk]) == 6  # §5: six residual blocks


@pytest.fixture(scope="module")
def predictor_file(tmp_path_factory):
    """An untrained predictor for the `fast` denoiser (its d0 features are 16 wide)."""
    torch.manual_seed(1)
    net = ErrorPredictor(feature_width=16, width=8, squeeze=4)
    path = tmp_path_factory.mktemp("pred") / "pred.pt"
    torch.save({"spec": net.spec(), "model": net.state_dict(), "card": {"denoiser": "fast"}}, path)
    return path


def test_errormap_cli_writes_a_non_negative_map(tmp_path, predictor_file):
    from neurecon.cli import main
    from neurecon.io import read_exr_channels
    from neurecon.render.adaptive import AdaptiveRenderer, write_frame
    from neurecon.render.mitsuba_backend import mitsuba

    d = mitsuba().cornell_box()
    d["sensor"]["film"].update(width=16, height=16, rfilter={"type": "box"})
    frame = tmp_path / "f.exr"
    write_frame(frame, AdaptiveRenderer(d).render_uniform(4, 0))
    out = tmp_path / "err.exr"
    args = ["errormap", str(frame), "-o", str(out), "--predictor", str(predictor_file)]
    assert main(args) == 0
    m = read_exr_channels(out)["Y"]
    assert m.shape == (16, 16) and m.min() >= 0
    assert main(args[:-2] + ["--predictor", str(predictor_file), "--metric", "all"]) == 0
    assert set(read_exr_channels(out)) == {"smape.Y", "relmse.Y", "dssim.Y"}
    assert main(["errormap", str(tmp_path / "none.exr"), "-o", str(out), "--predictor", str(predictor_file)]) == 2


def test_adaptive_cli_with_a_predicted_guide(tmp_path, predictor_file):
    from neurecon.cli import main
    from neurecon.io import read_exr_channels

    out = tmp_path / "a.exr"
    args = ["render", "--adaptive", "--budget", "8", "--guide", "dssim", "--size", "16", "-o", str(out)]
    assert main(args + ["--predictor", str(predictor_file), "--quiet"]) == 0
    spp = read_exr_channels(out)["spp.Y"]
    assert spp.sum() == 8 * 16 * 16 and spp.min() >= 2 + 1 + 1


def test_error_predict_task_trains_and_validates(tiny_dataset, tmp_path):
    from neurecon.train.run import train_from_config

    train_from_config(
        {
            "task": {
                "name": "error_predict",
                "data": {
                    "root": str(tiny_dataset),
                    "train": "train",
                    "valid_scenes": 1,
                    "spp": [4],
                    "patch": 16,
                    "batch": 2,
                    "denoiser": "fast",
                },
                "model": {"width": 8, "blocks": 6, "squeeze": 4},
            },
            "optim": {"lr": 1e-3},
            "run": {
                "out": str(tmp_path / "run"),
                "iterations": 4,
                "val_every": 2,
                "ckpt_every": 2,
                "log_every": 1,
                "seed": 0,
            },
        },
        progress=False,
    )
    from neurecon.models import load_model

    model, ck = load_model(tmp_path / "run" / "best.pt")
    assert isinstance(model, ErrorPredictor) and model.feature_width == 16
