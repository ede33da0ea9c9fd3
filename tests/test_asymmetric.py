import numpy as np
import pytest
import torch

from neurecon.buffers import Buffers
from neurecon.infer.denoiser import Denoiser
from neurecon.losses import asymmetric, smape, smape_map
from neurecon.nn.specialiser import LambdaKPCN, LambdaUNet

FULL = ["color", "color_var", "albedo", "albedo_var", "normal", "normal_var"]


def test_lambda_one_is_the_symmetric_loss_exactly():
    g = torch.Generator().manual_seed(0)
    d, r, c = (torch.rand(2, 3, 5, 5, generator=g) for _ in range(3))
    assert torch.equal(asymmetric(d, r, c, 1.0), smape(d, r))
    assert torch.equal(asymmetric(d, r, c, torch.ones(2, 1, 5, 5)), smape(d, r))


def test_penalised_side():
    r = torch.tensor([1.0])
    c = torch.tensor([2.0])  # the noisy input lies above the reference
    same_side = torch.tensor([1.5])  # result between reference and input: not penalised
    opposite = torch.tensor([0.5])  # result on the far side of the reference: ×λ
    assert asymmetric(same_side, r, c, 4.0) == pytest.approx(float(smape_map(same_side, r)))
    assert asymmetric(opposite, r, c, 4.0) == pytest.approx(4 * float(smape_map(opposite, r)))
    c_low = torch.tensor([0.2])  # input below the reference flips which side is penalised
    assert asymmetric(same_side, r, c_low, 4.0) == pytest.approx(4 * float(smape_map(same_side, r)))
    assert asymmetric(opposite, r, c_low, 4.0) == pytest.approx(float(smape_map(opposite, r)))


def test_per_pixel_lambda_applies_per_pixel():
    r, c = torch.ones(1, 1, 1, 2), torch.full((1, 1, 1, 2), 2.0)
    d = torch.full((1, 1, 1, 2), 0.5)  # both pixels on the penalised side
    lam = torch.tensor([[[[1.0, 3.0]]]])
    base = float(smape_map(d, r)[0, 0, 0, 0])
    assert float(asymmetric(d, r, c, lam)) == pytest.approx((base + 3 * base) / 2)


def _lambda_model(arch: str):
    torch.manual_seed(0)
    if arch == "kpcn":
        return LambdaKPCN({"width": 8, "blocks": 1, "kernel": 5, "sources": {"mitsuba": FULL}}, blocks=1)
    return LambdaUNet({"widths": [8, 8, 8, 8], "kernel": 3, "sources": {"mitsuba": FULL}}, blocks=1)


@pytest.fixture(params=["kpcn", "unet"])
def lam_den(request):
    m = _lambda_model(request.param)
    for s in getattr(m, "specialisers", [getattr(m, "specialiser", None)]):
        torch.nn.init.normal_(s.out.weight, std=0.2)  # as if trained: λ changes the output
    return Denoiser(m)


def _buf(rng, h=20, w=24):
    return Buffers({b: rng.uniform(0, 1, (h, w, 3)).astype(np.float32) for b in FULL})


def test_cached_session_equals_full_denoise(lam_den, rng):
    buf = _buf(rng)
    sess = lam_den.session(buf)
    assert np.abs(sess.denoise(1.0) - sess.denoise(10.0)).max() > 1e-4  # λ matters
    for lam in (1.0, 3.0):
        np.testing.assert_allclose(sess.denoise(lam), lam_den.denoise_buffers(buf, lam=lam), atol=1e-6)
    lam_map = np.linspace(1, 10, 20 * 24, dtype=np.float32).reshape(20, 24)
    np.testing.assert_allclose(sess.denoise(lam_map), lam_den.denoise_buffers(buf, lam=lam_map), atol=1e-6)


def test_tiled_lambda_map_equals_untiled(lam_den, rng):
    buf = _buf(rng, 33, 41)
    inputs, src = lam_den.prepare(buf)
    inputs["lambda"] = lam_den.lambda_map(rng.uniform(1, 10, (33, 41)), (33, 41))
    assert (lam_den.run_tiled(inputs, src, tile=12) - lam_den.run_tiled(inputs, src, tile=100)).abs().max() < 1e-4


def test_bad_lambda_maps_raise(lam_den, rng):
    buf = _buf(rng)
    with pytest.raises(ValueError, match="frame is 24×20"):
        lam_den.denoise_buffers(buf, lam=np.ones((10, 10)))
    with pytest.raises(ValueError, match="≥ 1"):
        lam_den.denoise_buffers(buf, lam=0.5)
    with pytest.raises(ValueError, match="≥ 1"):
        lam_den.denoise_buffers(buf, lam=np.full((20, 24), 0.9))


def test_lambda_on_a_model_without_it_is_an_error(rng):
    from neurecon.nn.kpcn import KPCN

    den = Denoiser(KPCN(width=4, blocks=1, kernel=3, sources={"mitsuba": FULL}))
    with pytest.raises(ValueError, match="no λ control"):
        den.denoise_buffers(_buf(rng), lam=2.0)


@pytest.mark.parametrize("arch", ["kpcn", "unet"])
def test_untrained_specialiser_reproduces_the_backbone_for_every_lambda(arch):
    m = _lambda_model(arch)
    m.start_from_backbone()
    g = torch.Generator().manual_seed(1)
    x = {b: torch.rand(1, 3, 13, 11, generator=g) for b in FULL}  # not a multiple of the U-Net stride
    for lam in (1.0, 4.0, 1 + 9 * torch.rand(1, 1, 13, 11, generator=g)):
        torch.testing.assert_close(m(x, lam=lam), m.backbone(x))


def test_training_lambdas_cover_one_to_ten_and_vary_smoothly():

    from neurecon.tasks.denoise.lambda_task import LambdaTask

    task = LambdaTask.__new__(LambdaTask)
    task.lam_rng = torch.Generator().manual_seed(0)
    lam = task.sample_lambda(torch.zeros(64, 3, 16, 16))
    assert lam.min() >= 1 and lam.max() <= 10 and lam.shape == (64, 1, 16, 16)
    assert (lam[0::2].amax((2, 3)) == lam[0::2].amin((2, 3))).all()  # constant per patch
    log_lam = lam[1::2].log()
    # smooth maps: 4 control points over 16 px, so log λ moves at most log(10)/5 per pixel
    assert (log_lam[..., 1:] - log_lam[..., :-1]).abs().max() <= 0.47
    assert (log_lam.amax((2, 3)) - log_lam.amin((2, 3))).max() > 0.5  # but they do vary


@pytest.mark.parametrize("arch", ["kpcn", "unet"])
def test_gated_specialiser_keeps_lambda_one_exactly_the_backbone_after_training(arch):
    from neurecon.nn.specialiser import lambda_model

    torch.manual_seed(0)
    spec = (
        {"arch": "kpcn", "width": 8, "blocks": 1, "kernel": 5, "sources": {"mitsuba": FULL}}
        if arch == "kpcn"
        else {"arch": "unet", "widths": [8, 8, 8, 8], "kernel": 3, "sources": {"mitsuba": FULL}}
    )
    m = lambda_model(spec, blocks=1, gated=True)
    m.start_from_backbone()
    for s in getattr(m, "specialisers", [getattr(m, "specialiser", None)]):
        torch.nn.init.normal_(s.out.weight, std=0.3)  # as if trained
    g = torch.Generator().manual_seed(2)
    x = {b: torch.rand(1, 3, 16, 16, generator=g) for b in FULL}
    with torch.no_grad():
        torch.testing.assert_close(m(x, lam=1.0), m.backbone(x))
        assert (m(x, lam=5.0) - m.backbone(x)).abs().max() > 1e-4
