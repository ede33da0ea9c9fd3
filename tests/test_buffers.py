import numpy as np
import pytest
import torch

from neurecon.buffers import BufferError, Buffers


def test_downsample_divides_variance_by_four(rng):
    col = rng.uniform(0, 1, (8, 6, 3)).astype(np.float32)
    var = rng.uniform(0, 1, (8, 6, 3)).astype(np.float32)
    b = Buffers(color=col, color_var=var).downsample2x()
    assert b.shape == (4, 3)
    np.testing.assert_allclose(b["color"][1, 2], col[2:4, 4:6].mean((0, 1)), rtol=1e-6)
    np.testing.assert_allclose(b["color_var"][1, 2], var[2:4, 4:6].mean((0, 1)) / 4, rtol=1e-6)


def test_variance_of_mean_scales_as_predicted_by_downsampling(rng):
    # 2×2 box mean of 4 iid pixels has a quarter of the variance: check empirically
    samples = rng.normal(0, 1, (4000, 2, 2, 3)).astype(np.float32)
    means = np.stack([Buffers(color=s, color_var=np.ones_like(s)).downsample2x()["color"][0, 0] for s in samples[:500]])
    assert abs(means.var() - 0.25) < 0.04
    assert Buffers(color=samples[0], color_var=np.ones_like(samples[0])).downsample2x()["color_var"][0, 0, 0] == 0.25


def test_sanitize_policy_counts_and_replaces():
    col = np.ones((4, 4, 3), np.float32)
    col[0, 0, 0] = np.nan
    col[1, 1, :] = np.inf
    col[2, 2, 1] = -5
    nrm = np.full((4, 4, 3), 2.0, np.float32)
    b = Buffers(color=col, normal=nrm)
    rep = b.sanitize()
    assert rep.nan == {"color": 1} and rep.inf == {"color": 3} and rep.negative == {"color": 1}
    assert np.isfinite(b["color"]).all() and (b["color"] >= 0).all()
    assert b["color"][0, 0, 0] == 0 and b["color"][3, 3, 0] == 1
    assert b["normal"].max() == 1.0


def test_errors_name_what_was_found():
    b = Buffers(color=np.zeros((4, 4, 3)))
    with pytest.raises(BufferError, match="albedo.*found: color"):
        b.require(["albedo"])
    with pytest.raises(BufferError, match="5×4"):
        b["albedo"] = np.zeros((4, 5, 3))
    with pytest.raises(BufferError, match="needs 3 channels"):
        b["normal"] = np.zeros((4, 4, 2))


def test_tensor_round_trip_and_crop(rng):
    b = Buffers(color=rng.uniform(size=(5, 7, 3)), depth=rng.uniform(size=(5, 7)))
    t = b.to_tensor(["color", "depth"])
    assert t.shape == (1, 4, 5, 7) and t.dtype == torch.float32
    back = Buffers.from_tensor(t, ["color", "depth"])
    np.testing.assert_array_equal(back["depth"], b["depth"])
    c = b.crop(1, 2, 3, 4)
    np.testing.assert_array_equal(c["color"], b["color"][1:4, 2:6])
    with pytest.raises(BufferError):
        b.crop(3, 0, 3, 3)
