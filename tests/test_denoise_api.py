import numpy as np
import pytest
import torch

from neurecon.buffers import BufferError
from neurecon.infer.denoiser import Denoiser
from neurecon.nn.kpcn import KPCN

FULL = ["color", "color_var", "albedo", "albedo_var", "normal", "normal_var"]


@pytest.fixture
def den():
    torch.manual_seed(0)
    m = KPCN(width=8, blocks=2, kernel=7, sources={"mitsuba": FULL, "oidn": ["color", "albedo", "normal"]})
    return Denoiser(m)


def _img(rng, h=37, w=53):
    return rng.uniform(0, 2, (h, w, 3)).astype(np.float32)


def test_tiled_equals_untiled(den, rng):
    c, a, n = _img(rng), _img(rng) / 2, _img(rng) - 1
    x = {
        k: torch.from_numpy(v.transpose(2, 0, 1)[None].copy()) for k, v in (("color", c), ("albedo", a), ("normal", n))
    }
    full = den.run_tiled(x, "oidn", tile=1000)
    tiled = den.run_tiled(x, "oidn", tile=16)
    assert (full - tiled).abs().max() < 1e-4


def test_api_shapes_and_source_choice(den, rng):
    c = _img(rng)
    out = den.denoise(c, albedo=_img(rng) / 2, normal=_img(rng) - 1)
    assert out.shape == c.shape and out.dtype == np.float32
    assert den.pick_source({"color", "albedo", "normal"}) == "oidn"
    assert den.pick_source(set(FULL)) == "mitsuba"


def test_missing_buffer_is_a_clear_error(den, rng):
    with pytest.raises(BufferError, match="needs.*got color"):
        den.denoise(_img(rng))


def test_mismatched_sizes_raise(den, rng):
    with pytest.raises(BufferError, match="others are"):
        den.denoise(_img(rng), albedo=_img(rng, 10, 10), normal=_img(rng))


def test_nan_pixels_are_sanitised_not_spread(den, rng):
    c = _img(rng)
    c[10, 10] = np.nan
    c[20, 5, 1] = np.inf
    out = den.denoise(c, albedo=_img(rng) / 2, normal=_img(rng) - 1)
    assert np.isfinite(out).all()
    assert den.last_sanitize_report.nan == {"color": 3} and den.last_sanitize_report.inf == {"color": 1}
