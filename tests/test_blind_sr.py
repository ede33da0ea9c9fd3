"""Blind SR (Hui et al. 2021): degradations, the modulated generator, VGG / DISTS / RealnessGAN /
relativistic losses, the total loss, Algorithm 1's critic and actor, the blind_sr task on the
trainer (exact GAN resume) and `neurecon upscale --blind / --sigma`."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from neurecon.losses import (
    PAPER_TOTAL,
    PAPER_VGG_LAYERS,
    VGGPerceptualLoss,
    actor_loss,
    critic_loss,
    get_loss,
    kl_anchor,
    realness_anchors,
    realness_d_loss,
    realness_g_loss,
    relativistic_d_loss,
    relativistic_g_loss,
    vgg_layer_weights,
)
from neurecon.nn.blind_sr import Critic, DegradationEstimator, Discriminator, ModulatedEDSR, WithCode
from neurecon.nn.dists import DISTS, load_dists
from neurecon.nn.vgg import LAYERS, VGGFeatures, WeightsMismatch, WeightsNotFound, find_weights, load_vgg
from neurecon.tasks.blind_sr.degradations import (
    BlindPairSampler,
    Kernel,
    blur,
    blur_separable,
    degrade,
    gaussian_1d,
    gaussian_kernel,
    is_delta,
    isotropic,
    prepare_images,
)
from neurecon.tasks.sr.imresize import bicubic_down

torch.set_num_threads(1)


@pytest.fixture(autouse=True)
def _no_weights_on_the_machine(monkeypatch, tmp_path):
    """Every test sees an empty torch hub cache and no weight variables (as this machine is)."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch_home"))
    for v in ("NEURECON_VGG19", "NEURECON_VGG16", "NEURECON_DISTS"):
        monkeypatch.delenv(v, raising=False)


def torchvision_state(depth: str, seed: int = 0) -> dict:
    """A state dict named as torchvision's (features.N.*, classifier.*) with random values."""
    torch.manual_seed(seed)
    net = VGGFeatures(depth, [list(LAYERS[depth])[-1]])
    state = {f"features.{k}": v.clone() for k, v in net.features.state_dict().items()}
    state.update({"classifier.0.weight": torch.zeros(4, 7), "classifier.0.bias": torch.zeros(4)})
    return state


@pytest.fixture(scope="module")
def weight_files(tmp_path_factory):
    """Synthetic torchvision VGG19 / VGG16 files and DISTS α/β, written once."""
    d = tmp_path_factory.mktemp("weights")
    states = {"vgg19": torchvision_state("vgg19"), "vgg16": torchvision_state("vgg16", seed=3)}
    torch.save(states["vgg19"], d / "vgg19-dcbb9e9d.pth")
    torch.save(states["vgg16"], d / "vgg16-397923af.pth")
    g = torch.Generator().manual_seed(4)
    ab = {"alpha": torch.rand(1, 1475, 1, 1, generator=g) * 0.1, "beta": torch.rand(1, 1475, 1, 1, generator=g) * 0.1}
    torch.save(ab, d / "weights.pt")
    return {"vgg19": d / "vgg19-dcbb9e9d.pth", "vgg16": d / "vgg16-397923af.pth", "dists": d / "weights.pt",
            "state_vgg19": states["vgg19"]}  # fmt: skip


# --- degradations -------------------------------------------------------------------------------
@pytest.mark.parametrize("sigma", [0.2, 0.7, 1.3, 2.6, 4.0])
def test_blur_kernels_sum_to_one(sigma):
    k = gaussian_kernel(sigma)
    assert k.shape == (21, 21) and k.min() >= 0
    assert k.sum() == pytest.approx(1.0, abs=1e-12)
    assert np.allclose(k, k.T) and np.allclose(k, k[::-1, ::-1])  # isotropic: symmetric
    a = Kernel(sigma, 0.5 + sigma / 2, 0.6).array()
    assert a.sum() == pytest.approx(1.0, abs=1e-12) and np.allclose(a, a[::-1, ::-1])  # 180° symmetric
    assert gaussian_1d(sigma).sum() == pytest.approx(1.0, abs=1e-12)


def test_anisotropic_kernel_has_the_asked_covariance():
    k = Kernel(3.0, 1.0, math.pi / 6).array(41)  # wide enough that truncation is negligible
    t = np.arange(41) - 20.0
    yy, xx = np.meshgrid(t, t, indexing="ij")
    cov = np.array([[(k * xx * xx).sum(), (k * xx * yy).sum()], [(k * xx * yy).sum(), (k * yy * yy).sum()]])
    c, s = math.cos(math.pi / 6), math.sin(math.pi / 6)
    want = np.array([[c, -s], [s, c]]) @ np.diag([9.0, 1.0]) @ np.array([[c, s], [-s, c]])
    np.testing.assert_allclose(cov, want, atol=2e-3)
    assert Kernel(3.0, 1.0, math.pi / 6).code("cov") == pytest.approx([want[0, 0] / 4, want[1, 1] / 4, want[0, 1] / 4])


def test_delta_kernel_reproduces_plain_bicubic_exactly(rng):
    hr = rng.random((48, 40, 3)).astype(np.float32)
    want = np.round(np.clip(bicubic_down(hr.astype(np.float64), 4), 0, 1) * 255) / 255
    assert is_delta(gaussian_kernel(0.0)) and is_delta(gaussian_kernel(0.02))  # σ → 0: the weights underflow
    assert not is_delta(gaussian_kernel(0.2))
    for s in (0.0, 0.02):
        assert np.array_equal(degrade(hr, isotropic(s), 4), want.astype(np.float32))
    np.testing.assert_array_equal(
        degrade(hr, isotropic(0), 2, quantize=False),
        np.clip(bicubic_down(hr.astype(np.float64), 2), 0, 1).astype(np.float32),
    )
    # σ = 0.2 (the bench's smallest) is within a rounding step of it
    assert np.abs(degrade(hr, isotropic(0.2), 4, quantize=False) - np.clip(bicubic_down(hr, 4), 0, 1)).max() < 1e-4


def test_blur_paths_agree_and_blur_is_a_convolution(rng):
    x = torch.from_numpy(rng.random((2, 3, 40, 40)))
    g = torch.from_numpy(np.stack([gaussian_1d(1.1), gaussian_1d(2.5)]))
    kk = torch.einsum("ni,nj->nij", g, g)
    torch.testing.assert_close(blur_separable(x, g), blur(x, kk, pad=False))
    # constant images stay constant (the kernel sums to one); a delta image gives the kernel back
    assert torch.allclose(blur(torch.ones(1, 1, 30, 30, dtype=torch.float64), kk[1]), torch.ones(1, 1, 30, 30).double())
    d = torch.zeros(1, 1, 41, 41, dtype=torch.float64)
    d[..., 20, 20] = 1
    a = torch.from_numpy(Kernel(2.0, 1.0, 0.4).array())
    torch.testing.assert_close(blur(d, a, pad=False)[0, 0], a.flip(0, 1))


def test_training_crops_equal_the_whole_degraded_image(rng):
    hr8 = (rng.random((96, 120, 3)) * 255).astype(np.uint8)
    imgs = prepare_images([("x", hr8)], 4)
    for kernel in ("isotropic", "anisotropic"):
        deg = {"kernel": kernel, "sigma": [0.5, 3.0], "size": 21, "quantize": False}
        s = BlindPairSampler(imgs, 4, 8, 3, deg, code="cov", augment=False, seed=3)
        r = np.random.default_rng(3)
        b = s.sample()
        for n in range(3):  # replay the sampler's draws: image, i, j, kernel
            r.integers(1)
            i, j = int(r.integers(2, 24 - 8 - 2 + 1)), int(r.integers(2, 30 - 8 - 2 + 1))
            from neurecon.tasks.blind_sr.degradations import sample_kernel

            k = sample_kernel(r, kernel, [0.5, 3.0])
            whole = degrade(imgs[0].hr, k, 4, quantize=False)
            np.testing.assert_allclose(b["lr"][n].permute(1, 2, 0).numpy(), whole[i : i + 8, j : j + 8], atol=2e-6)
            np.testing.assert_array_equal(
                b["hr"][n].permute(1, 2, 0).numpy(), imgs[0].hr[4 * i : 4 * i + 32, 4 * j : 4 * j + 32]
            )
            assert b["code"][n].tolist() == pytest.approx(k.code("cov"), rel=1e-6)


# --- networks -----------------------------------------------------------------------------------
def test_modulated_generator_starts_as_its_edsr_and_tiles_exactly():
    from neurecon.nn.sr import EDSR

    torch.manual_seed(0)
    edsr = EDSR(scale=4, n_feats=8, n_blocks=2).eval()
    g = ModulatedEDSR(scale=4, n_feats=8, n_blocks=2).eval()
    g.load_edsr(edsr.state_dict())
    x = torch.rand(2, 3, 12, 14)
    with torch.no_grad():
        torch.testing.assert_close(g(x, torch.tensor([[1.0], [3.0]])), edsr(x))  # identity modulation at start
        torch.nn.init.normal_(g.modulation[-1].weight, std=0.3)
        a, b = g(x, torch.tensor([[0.3], [0.3]])), g(x, torch.tensor([[3.5], [3.5]]))
        assert (a - b).abs().max() > 1e-3  # the code changes the output once the modulation is trained
        from neurecon.infer.upscale import upscale_tensor

        big = torch.rand(1, 3, 37, 29)
        w = WithCode(g, [2.0])
        torch.testing.assert_close(upscale_tensor(w, big, tile=16), upscale_tensor(w, big, tile=0), atol=1e-5, rtol=0)
    assert g(x, torch.tensor([2.0])).shape == (2, 3, 48, 56)  # one code broadcast over the batch


def test_estimator_critic_and_discriminator_shapes():
    a = DegradationEstimator(width=8, depth=2)
    out = a(torch.rand(3, 3, 20, 17))
    assert out.shape == (3, 1) and (out >= 0.2).all() and (out <= 4.0).all()
    q = Critic(width=8, depth=2, action_dim=1, hidden=16)
    assert q(torch.rand(3, 3, 20, 17), out).shape == (3,)
    assert Discriminator(nf=4, levels=3, outputs=51)(torch.rand(2, 3, 32, 40)).shape == (2, 51)


# --- VGG and DISTS --------------------------------------------------------------------------------
def test_vgg_layer_weights_are_1e3_over_c_squared():
    vgg = VGGFeatures("vgg19", PAPER_VGG_LAYERS)
    assert vgg.channels() == [64, 128, 256, 512, 512]
    assert vgg.indices == [1, 6, 11, 20, 29]  # torchvision's features.N of relu1_1 … relu5_1
    w = vgg_layer_weights(vgg.channels())
    assert w == [0.244140625, 0.06103515625, 0.0152587890625, 0.003814697265625, 0.003814697265625]
    assert VGGPerceptualLoss(vgg).weights == w
    assert VGGFeatures("vgg16", PAPER_VGG_LAYERS).indices == [1, 6, 11, 18, 25]


def test_vgg_perceptual_loss_is_the_weighted_mean_l1_of_the_activations():
    torch.manual_seed(1)
    vgg = VGGFeatures("vgg19", PAPER_VGG_LAYERS).freeze()
    sr, hr = torch.rand(2, 3, 32, 32), torch.rand(2, 3, 32, 32)
    got = VGGPerceptualLoss(vgg)(sr, hr)
    want = sum(
        w * (a - b).abs().sum() / a.numel() for w, a, b in zip(vgg_layer_weights(vgg.channels()), vgg(hr), vgg(sr))
    )
    assert float(got) == pytest.approx(float(want), rel=1e-5)
    assert float(VGGPerceptualLoss(vgg)(hr, hr)) == 0.0


def test_a_torchvision_state_dict_loads_and_wrong_files_are_refused(tmp_path, monkeypatch, weight_files):
    state, path = weight_files["state_vgg19"], weight_files["vgg19"]
    vgg = load_vgg("vgg19", PAPER_VGG_LAYERS, path)
    assert torch.equal(vgg.features[0].weight, state["features.0.weight"])
    assert torch.equal(vgg.features[28].bias, state["features.28.bias"])
    assert not any(p.requires_grad for p in vgg.parameters())
    # found through the environment and in torch hub's cache
    monkeypatch.setenv("NEURECON_VGG19", str(path))
    assert find_weights("vgg19") == path
    monkeypatch.delenv("NEURECON_VGG19")
    hub = tmp_path / "torch_home" / "hub" / "checkpoints"
    hub.mkdir(parents=True)
    (hub / "vgg19-dcbb9e9d.pth").symlink_to(path)
    assert find_weights("vgg19") == hub / "vgg19-dcbb9e9d.pth"
    # wrong files: VGG16's given as VGG19, a dict of something else, not a torch file, a missing one
    with pytest.raises(
        WeightsMismatch, match=r"vgg16-397923af.pth: not torchvision's vgg19 \(13 conv layers in the file"
    ):
        load_vgg("vgg19", PAPER_VGG_LAYERS, weight_files["vgg16"])
    torch.save({"alpha": torch.ones(3)}, tmp_path / "other.pth")
    with pytest.raises(WeightsMismatch, match="other.pth: not a torchvision vgg19 state dict"):
        load_vgg("vgg19", PAPER_VGG_LAYERS, tmp_path / "other.pth")
    (tmp_path / "text.pth").write_text("not weights")
    with pytest.raises(WeightsMismatch, match="text.pth: cannot be read as a state dict"):
        load_vgg("vgg19", PAPER_VGG_LAYERS, tmp_path / "text.pth")
    bad = dict(state)
    bad["features.2.weight"] = torch.zeros(64, 64, 1, 1)
    with pytest.raises(WeightsMismatch, match=r"bad.pth: .*wrong shapes \['features.2.weight"):
        VGGFeatures("vgg19", PAPER_VGG_LAYERS).load_torchvision(bad, "bad.pth")
    with pytest.raises(FileNotFoundError, match="no such file"):
        load_vgg("vgg19", PAPER_VGG_LAYERS, tmp_path / "absent.pth")


def test_missing_weights_name_where_they_were_looked_for_and_are_skipped_not_faked():
    with pytest.raises(WeightsNotFound, match=r"vgg19-dcbb9e9d.pth\) not found; looked at: \$NEURECON_VGG19 \(unset\)"):
        find_weights("vgg19")
    with pytest.raises(WeightsNotFound, match="never downloads"):
        get_loss("l1+15*vgg")
    loss = get_loss(PAPER_TOTAL, missing="skip")
    assert loss.terms == [(1.0, "l1"), (0.01, "realness")]
    assert [(w, n) for w, n, _ in loss.skipped] == [(15.0, "vgg"), (10.0, "dists")]
    assert "skipped (no weights on this machine): 15·vgg, 10·dists" in loss.describe()


def test_dists_of_an_image_with_itself_is_zero(tmp_path, weight_files):
    torch.manual_seed(2)
    d = load_dists(weight_files["vgg16"], weight_files["dists"])
    x, y = torch.rand(2, 3, 48, 48), torch.rand(2, 3, 48, 48)
    assert d(x, x).abs().max() < 1e-5
    assert (d(x, y) > 1e-3).all()
    torch.save({"alpha": torch.rand(10)}, tmp_path / "bad.pt")
    with pytest.raises(WeightsMismatch, match="not DISTS's α/β"):
        load_dists(weight_files["vgg16"], tmp_path / "bad.pt")
    with pytest.raises(WeightsNotFound, match="dists-pytorch's weights.pt"):
        load_dists(weight_files["vgg16"])
    assert type(DISTS().vgg.features[4]).__name__ == "L2Pool"  # max-pools replaced by L2 pooling


# --- adversarial losses -------------------------------------------------------------------------
def test_realness_loss_equals_its_closed_form_and_kl_of_an_anchor_with_itself_is_zero():
    a_real, a_fake = realness_anchors(4, "reference")
    assert torch.allclose(a_real, torch.full((4,), 0.25))  # reference code: real = uniform
    assert a_fake[1] > a_fake[0] and torch.allclose(a_fake, a_fake.flip(0))  # fake = Gaussian, peaked
    assert torch.allclose(realness_anchors(4, "paper_text")[0], a_fake)  # the paper's wording reverses them
    assert a_real.sum() == pytest.approx(1) and a_fake.sum() == pytest.approx(1)
    p = torch.tensor([[0.1, 0.2, 0.3, 0.4]])
    logits = p.log() + 1.7  # softmax(logits) = p
    kl = lambda a, q: sum(float(ai) * math.log(float(ai) / float(qi)) for ai, qi in zip(a, q))
    assert float(kl_anchor(a_real, logits)) == pytest.approx(kl(a_real, p[0]), rel=1e-5)
    want_g = kl(a_real, p[0]) - kl(a_fake, p[0])
    assert float(realness_g_loss(logits, a_real, a_fake)) == pytest.approx(want_g, rel=1e-5)
    real_logits = torch.tensor([[0.0, 1.0, 2.0, 3.0]])
    q = torch.softmax(real_logits, -1)[0]
    want_d = kl(a_real, q) + kl(a_fake, p[0])
    assert float(realness_d_loss(real_logits, logits, a_real, a_fake)) == pytest.approx(want_d, rel=1e-5)
    for a in (a_real, a_fake):
        assert float(kl_anchor(a, a.log()[None])) == pytest.approx(0.0, abs=1e-7)
    zero = torch.tensor([0.5, 0.5, 0.0, 0.0])  # 0·log 0 = 0
    want = math.log(1 + math.exp(-5))  # Σ 0.5·log(0.5 / p), p = 1 / (2 + 2e⁻⁵) on the first two outcomes
    assert float(kl_anchor(zero, torch.tensor([[0.0, 0.0, -5.0, -5.0]]))) == pytest.approx(want, rel=1e-5)
    with pytest.raises(ValueError, match="anchor orientation"):
        realness_anchors(4, "upside_down")


def test_relativistic_losses_by_hand():
    bce = lambda z, y: -(y * math.log(1 / (1 + math.exp(-z))) + (1 - y) * math.log(1 - 1 / (1 + math.exp(-z))))
    r, f = torch.tensor([2.0, 0.0]), torch.tensor([1.0, -1.0])  # means 1 and 0
    want_d = 0.5 * ((bce(2, 1) + bce(0, 1)) / 2 + (bce(0, 0) + bce(-2, 0)) / 2)
    want_g = 0.5 * ((bce(2, 0) + bce(0, 0)) / 2 + (bce(0, 1) + bce(-2, 1)) / 2)
    assert float(relativistic_d_loss(r, f)) == pytest.approx(want_d, rel=1e-6)
    assert float(relativistic_g_loss(r, f)) == pytest.approx(want_g, rel=1e-6)


def test_gradients_reach_the_generator_through_every_term_of_the_total_loss(weight_files):
    res = {k: weight_files[k] for k in ("vgg19", "vgg16", "dists")}
    torch.manual_seed(0)
    g = ModulatedEDSR(scale=4, n_feats=8, n_blocks=1)
    torch.nn.init.normal_(g.modulation[-1].weight, std=0.1)
    lr, hr, code = torch.rand(2, 3, 8, 8), torch.rand(2, 3, 32, 32), torch.tensor([[1.0], [2.0]])
    total = get_loss(PAPER_TOTAL, res)
    assert total.terms == [(1.0, "l1"), (15.0, "vgg"), (0.01, "realness"), (10.0, "dists")] and not total.skipped
    discs = {"realness": Discriminator(4, 3, 51), "relativistic": Discriminator(4, 3, 1)}
    for d in discs.values():
        d.requires_grad_(False)
    value, parts = total.parts(g(lr, code), hr, disc=discs["realness"])
    assert float(value.detach()) == pytest.approx(
        sum(w * parts[f"loss_{n}"] for w, n in total.terms), rel=1e-4, abs=1e-6
    )  # the paper's weights
    for term in ("l1", "vgg", "vgg16", "dists", "realness", "relativistic"):
        g.zero_grad()
        loss = get_loss(term, res)(g(lr, code), hr, disc=discs.get(term))
        loss.backward()
        for name in ("head.weight", "blocks.0.conv1.weight", "tail.1.weight", "modulation.0.weight"):
            grad = dict(g.named_parameters())[name].grad
            assert grad is not None and grad.abs().sum() > 0, (term, name)
    assert all(p.grad is None for d in discs.values() for p in d.parameters())  # the frozen D gets none
    with pytest.raises(ValueError, match="needs the task's discriminator"):
        get_loss("l1+0.01*realness")(g(lr, code), hr)
    with pytest.raises(ValueError, match="one adversarial term"):
        get_loss("realness+relativistic")


# --- actor–critic -------------------------------------------------------------------------------
def test_critic_loss_matches_algorithm_1():
    q, r = torch.tensor([0.5, -1.0, 2.0]), torch.tensor([1.0, 0.0, 1.0])
    gamma = 0.9
    printed = sum(max(0.0, -gamma * qi) + (ri - qi) for qi, ri in zip(q.tolist(), r.tolist())) / 3
    assert float(critic_loss(q, r, "printed", gamma)) == pytest.approx(printed)
    assert float(critic_loss(q, r, "td2")) == pytest.approx(float(((r - q) ** 2).mean()))  # one-step: y = r
    qn, done = torch.tensor([1.0, 2.0, 3.0]), torch.tensor([0.0, 1.0, 0.0])
    y = r + gamma * (1 - done) * qn
    assert float(critic_loss(q, r, "td2", gamma, qn, done)) == pytest.approx(float(((y - q) ** 2).mean()))
    # the printed form is linear in Q: its gradient is −1 per sample where Q ≥ 0, whatever r is
    qq = torch.tensor([0.5, 3.0], requires_grad=True)
    critic_loss(qq, torch.tensor([1.0, 1.0]), "printed", gamma).backward()
    assert qq.grad.tolist() == pytest.approx([-0.5, -0.5])
    assert float(actor_loss(torch.tensor([1.0, 3.0]))) == -2.0


def test_actor_critic_step_improves_the_reward_of_a_toy_environment():
    """States are constant images of brightness b; the best action is a*(b) = 1 + 2b and the reward
    −(a − a*)² is only observed, never differentiated. DDPG (the task's own pieces, the task's
    critic) moves a pre-trained but biased actor to the optimum."""
    from neurecon.train.actor_critic import ReplayBuffer, actor_objective, critic_update, explore

    torch.manual_seed(0)
    rng = np.random.default_rng(0)

    class Actor(torch.nn.Module):  # a(s) = w·mean(s) + c (the estimator normalises brightness away)
        def __init__(self):
            super().__init__()
            self.lin = torch.nn.Linear(1, 1)

        def forward(self, s):
            return self.lin(s.mean((1, 2, 3))[:, None])

    actor = Actor()
    critic = Critic(width=8, depth=1, action_dim=1, hidden=32)
    opt_a = torch.optim.Adam(actor.parameters(), lr=3e-3)
    opt_c = torch.optim.Adam(critic.parameters(), lr=3e-3)

    def states(n):
        b = torch.from_numpy(rng.uniform(0.1, 0.9, size=n)).float()
        return b.view(n, 1, 1, 1).expand(n, 3, 6, 6).contiguous(), b

    def reward(a, b):
        return -((a[:, 0] - (1 + 2 * b)) ** 2)

    pre = torch.optim.Adam(actor.parameters(), lr=5e-2)
    for _ in range(300):  # "pre-training": regress to a biased target a*(b) + 0.6
        s, b = states(16)
        loss = ((actor(s)[:, 0] - (1.6 + 2 * b)) ** 2).mean()
        pre.zero_grad()
        loss.backward()
        pre.step()
    test_s, test_b = states(64)
    with torch.no_grad():
        before = float(reward(actor(test_s), test_b).mean())
    buf = ReplayBuffer(512, (3, 6, 6), 1)
    for _ in range(250):
        s, b = states(16)
        with torch.no_grad():
            acts = explore(actor(s), 3, 0.4, rng, 0.0, 4.0)
            buf.add(s.repeat(3, 1, 1, 1), acts, reward(acts, b.repeat(3)))
        critic_update(critic, opt_c, buf, rng, 64, "td2")
        la = actor_objective(critic, actor, buf.sample(rng, 64)[0])
        opt_a.zero_grad()
        la.backward()
        opt_a.step()
    with torch.no_grad():
        after = float(reward(actor(test_s), test_b).mean())
    assert before < -0.3 and after > 0.25 * before, (before, after)  # the regret shrinks 4×


def test_replay_buffer_round_trip_and_ring():
    from neurecon.train.actor_critic import ReplayBuffer

    buf = ReplayBuffer(4, (3, 2, 2), 1, quantized=True)
    s = torch.round(torch.rand(6, 3, 2, 2) * 255) / 255
    buf.add(s, torch.arange(6.0)[:, None], torch.arange(6.0))
    assert len(buf) == 4 and buf.pos == 2 and buf.r.tolist() == [4.0, 5.0, 2.0, 3.0]
    other = ReplayBuffer(4, (3, 2, 2), 1, quantized=True)
    other.load_state_dict(buf.state_dict())
    rng1, rng2 = np.random.default_rng(1), np.random.default_rng(1)
    for x, y in zip(buf.sample(rng1, 5), other.sample(rng2, 5)):
        assert torch.equal(x, y)
    assert torch.equal(buf.s[2].float() / 255, s[2])  # 8-bit states exactly


def test_psnr_reward_is_the_benchmark_metric(rng):
    from neurecon.tasks.blind_sr.evaluate import rewards
    from neurecon.tasks.sr.metrics import psnr_y, ssim_y

    hr = torch.from_numpy(rng.random((2, 3, 40, 40))).float()
    sr = (hr + 0.05 * torch.from_numpy(rng.standard_normal((2, 3, 40, 40)))).float()
    r = rewards(sr, hr, 4, "psnr")
    s = rewards(sr, hr, 4, "ssim")
    for n in range(2):
        assert float(r[n]) == pytest.approx(psnr_y(sr[n : n + 1], hr[n : n + 1], 4), rel=1e-5)
        assert float(s[n]) == pytest.approx(ssim_y(sr[n : n + 1], hr[n : n + 1], 4), rel=1e-5)


# --- the task on the trainer --------------------------------------------------------------------
def tiny_blind_config(out, recipe="generator", iterations=4, **task):
    t = {
        "name": "blind_sr",
        "recipe": recipe,
        "scale": 4,
        "data": {"train": ["coins"], "valid": ["coins"], "patch": 8, "batch": 2, "valid_max_size": 48},
        "degradation": {"sigma": [0.2, 4.0]},
        "model": {"arch": "amnet", "n_feats": 4, "n_blocks": 1, "code_hidden": 8},
        "gan": {"nf": 4, "levels": 2, "outcomes": 8},
        **task,
    }
    return {
        "task": t,
        "optim": {"lr": 1e-3},
        "run": {"out": str(out), "iterations": iterations, "val_every": 2, "ckpt_every": 2, "log_every": 1, "seed": 1},
    }


@pytest.mark.parametrize("adv", ["realness"])
def test_gan_training_resumes_exactly(tmp_path, adv):
    """The discriminator and its optimiser live in the task's state: 4 steps in one go equal 2 + 2."""
    from neurecon.train.run import train_from_config

    cfg = tiny_blind_config(tmp_path / "a", loss=f"l1+0.01*{adv}", keep="last")
    full = train_from_config(cfg, progress=False)
    cut = tiny_blind_config(tmp_path / "b", loss=f"l1+0.01*{adv}", keep="last")
    cut["run"]["stop_at"] = 2
    train_from_config(cut, progress=False)
    cut["run"]["stop_at"] = 0
    resumed = train_from_config(cut, progress=False)
    for a, b in zip(full.model.state_dict().values(), resumed.model.state_dict().values()):
        assert torch.equal(a, b)
    for a, b in zip(full.task.disc.state_dict().values(), resumed.task.disc.state_dict().values()):
        assert torch.equal(a, b)
    import json

    from neurecon.models import read_file

    assert read_file(tmp_path / "b" / "best.pt")["step"] == 4  # keep: last ships the final weights
    terms = json.loads((tmp_path / "a" / "loss_terms.json").read_text())
    assert [t["term"] for t in terms["active"]] == ["l1", adv] and terms["skipped"] == []
    log = [json.loads(x) for x in (tmp_path / "a" / "metrics.jsonl").read_text().splitlines()]
    assert any("loss_d" in r for r in log)


def test_rl_recipe_trains_the_actor_and_resumes_exactly(tmp_path):
    from neurecon.io.atomic import atomic_save
    from neurecon.train.run import train_from_config

    torch.manual_seed(0)
    g = ModulatedEDSR(scale=4, n_feats=4, n_blocks=1, code_hidden=8)
    torch.nn.init.normal_(g.modulation[-1].weight, std=0.5)
    atomic_save({"spec": g.spec(), "model": g.state_dict()}, tmp_path / "g.pt")
    a = DegradationEstimator(width=4, depth=1)
    atomic_save({"spec": a.spec(), "model": a.state_dict()}, tmp_path / "a.pt")
    rl = {"generator": str(tmp_path / "g.pt"), "buffer": 32, "minibatch": 4, "warmup": 4, "actions_per_state": 2,
          "critic": {"width": 4, "depth": 1, "hidden": 8}}  # fmt: skip
    extra = {
        "model": {"arch": "degradation_estimator", "width": 4, "depth": 1},
        "init": str(tmp_path / "a.pt"),
        "rl": rl,
    }
    full = train_from_config(tiny_blind_config(tmp_path / "x", "rl", 6, **extra), progress=False)
    cut = tiny_blind_config(tmp_path / "y", "rl", 6, **extra)
    cut["run"]["stop_at"] = 4
    train_from_config(cut, progress=False)
    cut["run"]["stop_at"] = 0
    resumed = train_from_config(cut, progress=False)
    for x, y in zip(full.model.state_dict().values(), resumed.model.state_dict().values()):
        assert torch.equal(x, y)
    assert torch.equal(full.task.buffer.r, resumed.task.buffer.r)
    assert any(not torch.equal(x, y) for x, y in zip(full.model.state_dict().values(), a.state_dict().values()))


# --- neurecon upscale --blind / --sigma ------------------------------------------------------------
def test_upscale_cli_blind_and_sigma(tmp_path, capsys):
    from PIL import Image

    from neurecon.cli import main
    from neurecon.io.atomic import atomic_save

    torch.manual_seed(0)
    g = ModulatedEDSR(scale=4, n_feats=4, n_blocks=1, code_hidden=8)
    torch.nn.init.normal_(g.modulation[-1].weight, std=0.5)
    atomic_save({"spec": g.spec(), "model": g.state_dict()}, tmp_path / "g.pt")
    a = DegradationEstimator(width=4, depth=1)
    atomic_save({"spec": a.spec(), "model": a.state_dict()}, tmp_path / "a.pt")
    Image.fromarray((np.random.default_rng(0).random((20, 24, 3)) * 255).astype(np.uint8)).save(tmp_path / "in.png")
    base = ["upscale", str(tmp_path / "in.png"), "--scale", "4", "--model", str(tmp_path / "g.pt")]
    assert main([*base, "-o", str(tmp_path / "b.png"), "--blind", "--actor", str(tmp_path / "a.pt")]) == 0
    assert "blur estimated by" in capsys.readouterr().out
    assert main([*base, "-o", str(tmp_path / "s1.png"), "--sigma", "0.5"]) == 0
    assert main([*base, "-o", str(tmp_path / "s2.png"), "--sigma", "3.5"]) == 0
    assert Image.open(tmp_path / "s1.png").size == (96, 80)
    assert np.asarray(Image.open(tmp_path / "s1.png")).tolist() != np.asarray(Image.open(tmp_path / "s2.png")).tolist()
    assert main([*base, "-o", str(tmp_path / "n.png")]) == 2  # a modulated model needs --blind or --sigma
    assert "pass --blind" in capsys.readouterr().err
    assert main([*base, "-o", str(tmp_path / "far.png"), "--sigma", "6"]) == 2  # beyond the trained [0.2, 4]
    assert "outside the σ range" in capsys.readouterr().err and not (tmp_path / "far.png").exists()


def test_niqe_no_reference_reward_prefers_sharp_images():
    from neurecon.tasks.blind_sr.data import load_split
    from neurecon.tasks.blind_sr.evaluate import rewards
    from neurecon.tasks.blind_sr.niqe import NIQE

    imgs = [a[:288, :288].astype(np.float64) / 255 for _, a in load_split(["rocket", "brick", "coins"], "train")]
    model = NIQE.fit(imgs)
    test = load_split(["chelsea"], "valid")[0][1][:192, :192].astype(np.float32) / 255
    blurred = degrade(test, isotropic(2.6), 1, quantize=False)  # blur only (×1)
    assert model.score(test) < model.score(blurred)
    sr = torch.from_numpy(np.stack([test, blurred])).permute(0, 3, 1, 2)
    r = rewards(sr, None, 4, "niqe", model)
    assert r[0] > r[1]
