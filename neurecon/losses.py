"""Training losses. SMAPE (Vogels et al. 2018, Eq. 2) is the denoiser's; the asymmetric wrapper
(Eq. 6) turns any per-pixel loss into one that penalises moving away from the input more."""

from __future__ import annotations

import math

import torch

SMAPE_EPS = 1e-2


def smape_map(d: torch.Tensor, r: torch.Tensor, eps: float = SMAPE_EPS) -> torch.Tensor:
    """Per-element |d − r| / (|d| + |r| + ε)."""
    return (d - r).abs() / (d.abs() + r.abs() + eps)


def smape(d: torch.Tensor, r: torch.Tensor, eps: float = SMAPE_EPS) -> torch.Tensor:
    """Eq. 2: mean over pixels and the three colour channels."""
    return smape_map(d, r, eps).mean()


def relmse_map(d: torch.Tensor, r: torch.Tensor, eps: float = 1e-2) -> torch.Tensor:
    return (d - r).pow(2) / (r.pow(2) + eps)


def l1_tonemapped_map(d: torch.Tensor, r: torch.Tensor) -> torch.Tensor:
    """|tm(d) − tm(r)| with the report's tonemap: the error the tonemapped metrics see. Under the
    asymmetric wrapper this is a quantile loss (the input's side weighted λ×) on displayed values."""
    from .metrics import tonemap

    return (tonemap(d) - tonemap(r)).abs()


# per-element loss maps; a training loss is the mean of one (the asymmetric loss reweights it first)
MAP_LOSSES = {
    "smape": smape_map,
    "l1": lambda d, r: (d - r).abs(),
    "relmse": relmse_map,
    "l1_tonemapped": l1_tonemapped_map,
}


def dssim_tonemapped(d: torch.Tensor, r: torch.Tensor) -> torch.Tensor:
    """(1 − SSIM) / 2 of the tonemapped images: the report's DSSIM as a differentiable loss."""
    from .metrics import ssim_map, tonemap

    return (1 - ssim_map(tonemap(d), tonemap(r)).mean()) / 2


# whole-image losses that are not means of a per-element map
IMAGE_LOSSES = {"dssim": dssim_tonemapped}


# terms that need networks: pretrained feature extractors (loaded from local files, never
# downloaded) or the task's discriminator (adversarial terms, called with `disc=`)
FEATURE_LOSSES = ("vgg", "vgg19", "vgg16", "dists")
ADVERSARIAL_LOSSES = ("realness", "relativistic")


class LossSum:
    """A weighted sum of named loss terms: ``loss(d, r)`` (or ``loss(d, r, disc=D)`` when an
    adversarial term is active) → scalar tensor. ``terms`` are the active (weight, name) pairs,
    ``skipped`` the (weight, name, reason) of terms whose pretrained weights are not on this
    machine (only with ``missing="skip"``): they contribute nothing and are reported, never faked."""

    def __init__(self, name: str, terms: list, skipped: list):
        self.name = name
        self._terms = terms  # (weight, name, fn(d, r, disc))
        self.skipped: list[tuple[float, str, str]] = skipped

    @property
    def terms(self) -> list[tuple[float, str]]:
        return [(w, n) for w, n, _ in self._terms]

    @property
    def adversarial(self) -> str | None:
        """The adversarial term's name when one is active (the task then owns a discriminator)."""
        return next((n for _, n, _ in self._terms if n in ADVERSARIAL_LOSSES), None)

    def parts(self, d: torch.Tensor, r: torch.Tensor, disc=None) -> tuple[torch.Tensor, dict[str, float]]:
        """The total and each active term's unweighted value (for the logs)."""
        total, logs = None, {}
        for w, n, fn in self._terms:
            v = fn(d, r, disc)
            logs[f"loss_{n}"] = float(v.detach())
            total = w * v if total is None else total + w * v
        assert total is not None
        return total, logs

    def __call__(self, d: torch.Tensor, r: torch.Tensor, disc=None) -> torch.Tensor:
        return self.parts(d, r, disc)[0]

    def describe(self) -> str:
        active = " + ".join(f"{w:g}·{n}" if w != 1 else n for w, n in self.terms) or "nothing"
        if not self.skipped:
            return active
        return active + "; skipped (no weights on this machine): " + ", ".join(f"{w:g}·{n}" for w, n, _ in self.skipped)


def _feature_term(loss: str, resources: dict):
    """fn(d, r, disc) for a pretrained-network term, loading its weights now (may raise
    WeightsNotFound / WeightsMismatch)."""
    if loss in ("vgg", "vgg19", "vgg16"):
        from .nn.vgg import load_vgg

        depth = "vgg16" if loss == "vgg16" else "vgg19"
        net = VGGPerceptualLoss(load_vgg(depth, PAPER_VGG_LAYERS, resources.get(depth)))
        return lambda d, r, disc=None: net(d, r)
    from .nn.dists import load_dists

    dists = load_dists(resources.get("vgg16"), resources.get("dists"))
    return lambda d, r, disc=None: dists(d, r).mean()


def _adversarial_term(loss: str, resources: dict):
    anchors = resources.get("anchors", "reference")

    def fn(d, r, disc=None):
        if disc is None:
            raise ValueError(f"the '{loss}' loss term needs the task's discriminator (a GAN recipe: task blind_sr)")
        if loss == "realness":
            a_real, a_fake = realness_anchors(disc.outputs, anchors)
            return realness_g_loss(disc(d), a_real.to(d.device), a_fake.to(d.device))
        return relativistic_g_loss(disc(r).detach(), disc(d))

    return fn


def get_loss(name: str, resources: dict | None = None, missing: str = "error") -> LossSum:
    """A training loss by name; "a+b" sums terms (e.g. "smape+dssim": SMAPE for HDR accuracy plus
    DSSIM, which punishes the structured low-frequency artefacts SMAPE barely sees), and "w*a"
    weights one (e.g. "smape+2*dssim").

    Terms with networks: ``vgg`` (= ``vgg19``) / ``vgg16`` — the perceptual loss on relu1_1 …
    relu5_1 with w_l = 1e3/C_l² (:class:`VGGPerceptualLoss`); ``dists``; and the adversarial
    generator terms ``realness`` and ``relativistic`` (evaluated with ``disc=``). ``resources``
    gives local weight paths (``vgg19``, ``vgg16``, ``dists``; else the environment / torch hub
    cache, see :mod:`neurecon.nn.vgg`) and ``anchors`` (RealnessGAN's orientation). A term whose
    weights are nowhere on the machine raises, or with ``missing="skip"`` is left out and listed in
    ``skipped``; a file given explicitly that is missing or wrong always raises."""
    if missing not in ("error", "skip"):
        raise ValueError(f"missing must be 'error' or 'skip', got {missing!r}")
    resources = resources or {}
    known = [*MAP_LOSSES, *IMAGE_LOSSES, *FEATURE_LOSSES, *ADVERSARIAL_LOSSES]
    terms, skipped = [], []
    for term in name.split("+"):
        wtext, star, loss = (part.strip() for part in term.rpartition("*"))
        try:
            weight = float(wtext) if star else 1.0
        except ValueError:
            weight = math.nan
        if loss not in known or not math.isfinite(weight):
            raise ValueError(
                f"bad term '{term.strip()}' in loss '{name}'; combine terms from "
                f"{', '.join(known)} with '+', weighted as '2*dssim'"
            )
        if loss in IMAGE_LOSSES:
            fn = lambda d, r, disc=None, f=IMAGE_LOSSES[loss]: f(d, r)
        elif loss in MAP_LOSSES:
            fn = lambda d, r, disc=None, f=MAP_LOSSES[loss]: f(d, r).mean()
        elif loss in ADVERSARIAL_LOSSES:
            fn = _adversarial_term(loss, resources)
        else:
            from .nn.vgg import WeightsNotFound

            try:
                fn = _feature_term(loss, resources)
            except WeightsNotFound as e:  # nothing on the machine; a wrong or missing given file raises
                if missing == "error":
                    raise
                skipped.append((weight, loss, str(e)))
                continue
        terms.append((weight, loss, fn))
    if sum(1 for _, n, _ in terms if n in ADVERSARIAL_LOSSES) > 1:
        raise ValueError(f"loss '{name}': one adversarial term at most (realness or relativistic)")
    return LossSum(name, terms, skipped)


# --- perceptual and adversarial terms (Hui et al. 2021, supplement §1) ----------------------------
PAPER_VGG_LAYERS = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")
PAPER_TOTAL = "l1+15*vgg+0.01*realness+10*dists"  # L1 + 15·L_vgg + 0.01·L_realness + 10·L_DISTS


def vgg_layer_weights(channels) -> list[float]:
    """w_l = 1e3 / C_l² (the paper's weights, after Hui et al.'s inpainting paper): 0.244140625,
    0.06103515625, 0.0152587890625, 0.003814697265625, 0.003814697265625 for VGG19's relu*_1."""
    return [1e3 / float(c) ** 2 for c in channels]


class VGGPerceptualLoss(torch.nn.Module):
    """L_vgg = Σ_l w_l ‖Ψ_l(HR) − Ψ_l(SR)‖₁ / N_l: the L1 distance of the activations of each layer
    divided by its number of elements (a mean), weighted by w_l (default 1e3/C_l²). ``vgg`` is a
    frozen :class:`neurecon.nn.vgg.VGGFeatures` returning the layers' activations."""

    def __init__(self, vgg, weights: list[float] | None = None):
        super().__init__()
        self.vgg = vgg
        self.weights = list(weights) if weights is not None else vgg_layer_weights(vgg.channels())

    def forward(self, sr: torch.Tensor, hr: torch.Tensor) -> torch.Tensor:
        fs = self.vgg(sr)
        with torch.no_grad():
            fh = self.vgg(hr)
        return sum(w * (a - b).abs().mean() for w, a, b in zip(self.weights, fh, fs, strict=True))


ANCHOR_ORIENTATIONS = ("reference", "paper_text")


def realness_anchors(n: int, orientation: str = "reference") -> tuple[torch.Tensor, torch.Tensor]:
    """RealnessGAN's anchor distributions over ``n`` outcomes, as (A1 = real, A0 = fake).

    The two shapes, made deterministic: *uniform* — 1/n each (the histogram of U(−1, 1)); *Gaussian*
    — the mass of N(0, 1) in n equal bins spanning ±3 standard deviations, renormalised (the
    histogram the reference code draws from 1000 samples of N(0, 0.1) spans about ±3σ; the scale
    cancels). ``orientation``: ``reference`` (the default) — real = uniform, fake = Gaussian, as in
    RealnessGAN's released code, which the AMGAN supplement says it follows; ``paper_text`` — real =
    Gaussian, fake = uniform, as the supplement's text words it."""
    if n < 2:
        raise ValueError(f"RealnessGAN needs at least 2 outcomes, got {n}")
    uniform = torch.full((n,), 1.0 / n, dtype=torch.float64)
    edges = torch.linspace(-3.0, 3.0, n + 1, dtype=torch.float64)
    cdf = 0.5 * (1 + torch.erf(edges / math.sqrt(2)))
    gauss = cdf[1:] - cdf[:-1]
    gauss = gauss / gauss.sum()
    if orientation == "reference":
        return uniform.float(), gauss.float()
    if orientation == "paper_text":
        return gauss.float(), uniform.float()
    raise ValueError(f"unknown anchor orientation '{orientation}'; choose {', '.join(ANCHOR_ORIENTATIONS)}")


def kl_anchor(anchor: torch.Tensor, logits: torch.Tensor) -> torch.Tensor:
    """KL(A ‖ softmax(logits)) = Σ_u A(u)·(log A(u) − log P(u)) per sample (0·log 0 = 0)."""
    logp = torch.log_softmax(logits, dim=-1)
    a = anchor.to(logits.dtype).expand_as(logp)
    loga = torch.where(a > 0, a.clamp_min(1e-30).log(), torch.zeros_like(a))
    return (a * (loga - logp)).sum(-1)


def realness_g_loss(fake_logits: torch.Tensor, a_real: torch.Tensor, a_fake: torch.Tensor) -> torch.Tensor:
    """L_realness = E[KL(A1 ‖ D(G(x)))] − E[KL(A0 ‖ D(G(x)))] (the supplement's generator loss)."""
    return (kl_anchor(a_real, fake_logits) - kl_anchor(a_fake, fake_logits)).mean()


def realness_d_loss(
    real_logits: torch.Tensor, fake_logits: torch.Tensor, a_real: torch.Tensor, a_fake: torch.Tensor
) -> torch.Tensor:
    """The discriminator's: E[KL(A1 ‖ D(HR))] + E[KL(A0 ‖ D(G(x)))]."""
    return kl_anchor(a_real, real_logits).mean() + kl_anchor(a_fake, fake_logits).mean()


def relativistic_d_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """RaGAN (Jolicoeur-Martineau 2019; ESRGAN's form): real should look more real than the
    average fake and fake less real than the average real, binary cross-entropy on the differences."""
    bce = torch.nn.functional.binary_cross_entropy_with_logits
    dr, df = real_logits - fake_logits.mean(), fake_logits - real_logits.mean()
    return 0.5 * (bce(dr, torch.ones_like(dr)) + bce(df, torch.zeros_like(df)))


def relativistic_g_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """The generator's side of RaGAN (the labels swapped); ``real_logits`` are detached by the caller."""
    bce = torch.nn.functional.binary_cross_entropy_with_logits
    dr, df = real_logits - fake_logits.mean(), fake_logits - real_logits.mean()
    return 0.5 * (bce(dr, torch.zeros_like(dr)) + bce(df, torch.ones_like(df)))


# --- actor–critic (Algorithm 1 of the AMGAN-RL supplement; DDPG, Lillicrap et al. 2016) -----------
CRITIC_FORMS = ("td2", "printed")


def critic_loss(
    q: torch.Tensor,
    r: torch.Tensor,
    form: str = "td2",
    gamma: float = 0.0,
    q_next: torch.Tensor | None = None,
    done: torch.Tensor | None = None,
) -> torch.Tensor:
    """The critic's loss on a minibatch of N transitions.

    ``td2`` (DDPG's, the default — it trains): (1/N) Σ (y_i − Q(s_i, a_i))², y_i = r_i +
    γ·(1 − done_i)·Q'(s'_i, μ'(s'_i)) (``q_next``; y = r for one-step episodes, as here).
    ``printed``: Algorithm 1 line 7 as printed, (1/N) Σ max(0, −γ·Q(s_i, a_i)) + (r_i − Q(s_i, a_i)) —
    linear in Q, so its gradient in Q is −1 wherever Q ≥ 0 and it drives Q upwards without bound
    instead of towards r (kept to show it, not to train with)."""
    r = r.to(q.dtype)
    if form == "td2":
        y = r
        if q_next is not None and gamma:
            y = r + gamma * (1 - (done if done is not None else torch.zeros_like(r)).to(q.dtype)) * q_next.detach()
        return ((y - q) ** 2).mean()
    if form == "printed":
        return (torch.clamp(-gamma * q, min=0) + (r - q)).mean()
    raise ValueError(f"unknown critic loss form '{form}'; choose {', '.join(CRITIC_FORMS)}")


def actor_loss(q_of_mu: torch.Tensor) -> torch.Tensor:
    """−(1/N) Σ Q(s_i, μ(s_i)): its gradient in θ^μ is minus Algorithm 1's policy gradient
    (1/N) Σ ∇_a Q(s, a)|_{a=μ(s_i)} ∇_θ μ(s_i) (the critic held fixed)."""
    return -q_of_mu.mean()


def asymmetric(d: torch.Tensor, r: torch.Tensor, c: torch.Tensor, lam, base: str = "smape") -> torch.Tensor:
    """Eq. 6: ℓ'_λ(d, r, c) = ℓ(d, r)·(1 + (λ − 1)·H((d − r)(r − c))), averaged.

    The penalty applies where the result d and the noisy input c lie on opposite sides of the
    reference r (d − r and r − c share a sign): moving away from the input costs λ× more, so the
    network keeps input detail (and some noise) where it is unsure. `lam` is a float or a
    per-pixel N×1×H×W tensor; λ = 1 is exactly the base loss.
    """
    ell = MAP_LOSSES[base](d, r)
    heaviside = ((d - r) * (r - c) > 0).to(ell.dtype)
    return (ell * (1 + (lam - 1) * heaviside)).mean()
