"""bf16 inference: only the conv trunk is bf16; kernels, their application and the compositor
stay fp32, so outputs stay close to fp32 ones."""

import numpy as np
import pytest
import torch

from neurecon.infer.denoiser import Denoiser
from neurecon.nn import precision
from neurecon.nn.unet import UNetKPCN


def test_auto_follows_the_cpu_and_bad_names_are_refused():
    assert precision.resolve("auto") == ("bf16" if precision.native_bf16() else "fp32")
    assert precision.resolve("fp32") == "fp32"
    with pytest.raises(ValueError, match="precision must be one of"):
        precision.resolve("fp16")


def _inputs(g, size=24):
    return {
        "color": torch.rand(1, 3, size, size, generator=g) * 4,
        "color_var": torch.rand(1, 3, size, size, generator=g),
        "albedo": torch.rand(1, 3, size, size, generator=g),
        "albedo_var": torch.rand(1, 3, size, size, generator=g) / 10,
        "normal": torch.rand(1, 3, size, size, generator=g) * 2 - 1,
        "normal_var": torch.rand(1, 3, size, size, generator=g) / 10,
    }


def test_bf16_trunk_keeps_kernels_fp32_and_normalised():
    torch.manual_seed(0)
    model = UNetKPCN(widths=(8, 8, 8, 8)).eval()
    x = _inputs(torch.Generator().manual_seed(1))
    with torch.no_grad(), precision.trunk("bf16"):
        feats = model.features(x)
        assert feats[0].dtype == torch.bfloat16  # the trunk did run in bf16
        w = model.heads[0].weights(feats[0])
        out = model(x)
    assert w.dtype == torch.float32 and out.dtype == torch.float32
    torch.testing.assert_close(w.sum(1), torch.ones_like(w[:, 0]), atol=1e-5, rtol=0)


def test_bf16_denoise_is_close_to_fp32(rng):
    torch.manual_seed(0)
    model = UNetKPCN(widths=(8, 12, 16, 16), sources={"oidn": ["color", "albedo", "normal"]})
    c = rng.uniform(0, 4, (29, 27, 3)).astype(np.float32)
    a = rng.uniform(0, 1, (29, 27, 3)).astype(np.float32)
    n = rng.uniform(-1, 1, (29, 27, 3)).astype(np.float32)
    full = Denoiser(model, precision="fp32").denoise(c, a, n)
    half = Denoiser(model, precision="bf16").denoise(c, a, n)
    assert half.dtype == np.float32
    rel = np.abs(half - full).mean() / np.abs(full).mean()
    assert 0 < rel < 1e-2, rel  # not identical (bf16 ran) yet within a percent
