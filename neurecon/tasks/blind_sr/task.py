"""The ``blind_sr`` training task (Hui et al. 2021: AMNet, AMGAN, AMGAN*, AMGAN-RL) on the one trainer.

Config (``task:`` section)::

    name: blind_sr
    recipe: generator        # generator | actor | rl
    scale: 4
    data: {train: demo, valid: demo, patch: 24, batch: 8, augment: true, valid_sigmas: [0.2, 1.3, 2.6],
           train_limit: null, valid_limit: null, valid_max_size: null}
    degradation: {kernel: isotropic, sigma: [0.2, 4.0], size: 21, noise: [0, 0], jpeg: null, quantize: true}
    code: sigma              # sigma | cov (neurecon.tasks.blind_sr.degradations)
    model: {arch: amnet, n_feats: 16, n_blocks: 4}   # or edsr/rcan (non-blind), degradation_estimator (actor)
    loss: l1                 # generator: any neurecon.losses.get_loss sum, e.g. l1+15*vgg+0.01*realness+10*dists
    init: null               # a shipped name or .pt whose weights the model starts from
    weights: {vgg19: null, vgg16: null, dists: null, missing: skip}
    gan: {nf: 16, levels: 4, outcomes: 51, anchors: reference, lr: 1.0e-4, betas: [0.9, 0.999]}
    keep: best               # best (keep-the-best on the monitored metric) | last (the latest validation)
    rl: {generator: amnet_x4, reward: psnr, critic_loss: td2, gamma: 0.0, buffer: 2048, minibatch: 32,
         warmup: 64, actions_per_state: 4, noise: 0.2, baseline: true, critic_lr: 1.0e-3,
         critic: {width: 32, depth: 4, hidden: 64}, critic_updates: 1, actor_delay: 0}

Recipes:

* ``generator``: the SR network on on-the-fly degraded crops (a fresh kernel per sample), told the
  true code when it is modulated (AMNet), told nothing when it is a plain network (the non-blind
  baseline trains so, with ``degradation.sigma: [0, 0]``: the bicubic degradation exactly). An
  adversarial term in ``loss`` (``realness`` — AMGAN, or ``relativistic`` — AMGAN*) gives the task a
  :class:`neurecon.nn.blind_sr.Discriminator` and its Adam optimiser: the generator's step runs
  with the discriminator frozen, then the trainer's ``after_step`` hook updates the discriminator
  on the real HR crops and the generator's detached output. Perceptual terms (vgg, dists) load
  their ImageNet weights from local files (``weights:``, ``neurecon train --vgg19 PATH``, the
  environment, torch hub's cache); with ``weights.missing: skip`` a term without weights on the
  machine is left out, printed, and recorded in ``<run.out>/loss_terms.json`` and the card.
* ``actor``: the degradation estimator μ(LR) regressed on the true code (``loss``: l1 | l2).
* ``rl``: Algorithm 1 — the actor (from ``init``) refined by DDPG against a critic Q(s, a) that the
  task owns. Environment: the frozen generator ``rl.generator``; state s: an LR crop; action a: the
  code it is given; reward r: ``rl.reward`` of its 8-bit output — PSNR-Y or SSIM-Y against HR, or
  the no-reference ``niqe`` (−NIQE, the pristine model fitted on the training photographs) — not
  differentiable; one-step episodes. Each step: the actor's action and ``actions_per_state − 1``
  exploration actions (Gaussian, std ``rl.noise``) per state are rendered and stored in the replay
  buffer; with ``baseline`` the reward is relative to the actor's own noise-free action on the same
  state (a state-only baseline: the best action is unchanged, the critic learns the action's effect
  instead of the image content); the critic takes ``critic_updates`` steps of ``rl.critic_loss``
  (``td2``: DDPG's squared TD error — trains; ``printed``: Algorithm 1's linear form — diverges)
  on minibatches of ``minibatch`` transitions; then the actor's loss −Q(s, μ(s)) goes to the
  trainer's optimiser. With ``critic_hint`` (default) the critic also reads the frozen pre-trained
  actor's estimate of s — a fixed function of the state, so Q is still Q(s, a): a critic trained for
  a few hundred steps from random weights cannot learn blur features from pixels (the actor needed
  thousands), and without it the pilot's critic drove the actor to a bound of the σ range.
  ``anchor`` β > 0 adds β·‖μ(s) − μ₀(s)‖² to the actor's loss (μ₀: the frozen pre-trained actor), a
  behaviour regulariser that Algorithm 1 does not have (β = 0 is plain DDPG): the recipes say when
  they use it and why. The buffer, critic and its optimiser are in the task's state (exact resume).

Validation (whole images of ``data.valid`` at ``valid_sigmas``): generator — PSNR-Y / SSIM-Y with
the true code (monitor psnr_y); actor — mean |σ̂ − σ| (monitor sigma_mae, min); rl — the reward
of G(LR, μ(LR)) (monitor reward) and its σ error.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from ...losses import CRITIC_FORMS, LossSum, get_loss, realness_anchors, realness_d_loss, relativistic_d_loss
from ...models import build_model, load_model
from ...nn.blind_sr import Critic, Discriminator, ModulatedEDSR
from ...train.actor_critic import ReplayBuffer, actor_objective, critic_update, explore
from ...train.config import check_keys
from ...train.trainer import dist_info
from .data import load_split
from .degradations import CODE_DIMS, CODES, BlindPairSampler, prepare_images
from .evaluate import REWARDS, estimate, evaluate, rewards

RECIPES = ("generator", "actor", "rl")
TASK_KEYS = {
    "name", "recipe", "scale", "data", "degradation", "code", "model", "loss", "init", "weights", "gan", "rl", "keep"
}  # fmt: skip
DATA_DEFAULTS = {
    "train": "demo",
    "valid": "demo",
    "patch": 24,
    "batch": 8,
    "augment": True,
    "valid_sigmas": [0.2, 1.3, 2.6],
    "train_limit": None,
    "valid_limit": None,
    "valid_max_size": None,
}
DEGRADATION_DEFAULTS = {
    "kernel": "isotropic",
    "sigma": [0.2, 4.0],
    "size": 21,
    "noise": [0, 0],
    "jpeg": None,
    "quantize": True,
}
WEIGHTS_DEFAULTS = {"vgg19": None, "vgg16": None, "dists": None, "missing": "skip"}
GAN_DEFAULTS = {"nf": 16, "levels": 4, "outcomes": 51, "anchors": "reference", "lr": 1e-4, "betas": [0.9, 0.999]}
RL_DEFAULTS = {
    "generator": None,
    "reward": "psnr",
    "critic_loss": "td2",
    "gamma": 0.0,
    "buffer": 2048,
    "minibatch": 32,
    "warmup": 64,
    "actions_per_state": 4,
    "noise": 0.2,
    "baseline": True,
    "critic_lr": 1e-3,
    "critic": {"width": 32, "depth": 4, "hidden": 64},
    "critic_updates": 1,
    "actor_delay": 0,
    "critic_hint": True,
    "anchor": 0.0,
}
MODEL_DEFAULTS = {
    "generator": {"arch": "amnet", "n_feats": 16, "n_blocks": 4},
    "actor": {"arch": "degradation_estimator", "width": 32, "depth": 5},
}


def _section(t: dict, key: str, defaults: dict) -> dict:
    return {**defaults, **check_keys(t.get(key) or {}, defaults, f"task.{key}")}


def model_spec(t: dict) -> dict:
    """The spec the task builds (the code and its range filled in for amnet / the estimator)."""
    recipe = t.get("recipe", "generator")
    spec = dict(t.get("model") or MODEL_DEFAULTS["actor" if recipe == "rl" else recipe])
    code = t.get("code", "sigma")
    sigma = (t.get("degradation") or {}).get("sigma", DEGRADATION_DEFAULTS["sigma"])
    if spec.get("arch") == "amnet":
        spec.setdefault("code", code)
        spec.setdefault("code_dim", CODE_DIMS[code])
        spec.setdefault("code_range", [float(sigma[0]), float(sigma[1])])
    if spec.get("arch") == "degradation_estimator":
        spec.setdefault("code", code)
        spec.setdefault("code_dim", CODE_DIMS[code])
        spec.setdefault("out_range", [float(sigma[0]), float(sigma[1])] if code == "sigma" else None)
    if spec.get("arch") in ("amnet", "edsr", "rcan"):
        spec["scale"] = int(t.get("scale", 4))
    return spec


def load_init(model: torch.nn.Module, name_or_path) -> None:
    """Start ``model`` from a checkpoint's weights (a plain EDSR may start an AMNet)."""
    src, _ = load_model(name_or_path)
    if isinstance(model, ModulatedEDSR) and not isinstance(src, ModulatedEDSR):
        model.load_edsr(src.state_dict())
        return
    model.load_state_dict(src.state_dict())


class BlindSRTask:
    def __init__(self, cfg):
        t = cfg.task
        check_keys(t, TASK_KEYS, "task")
        self.recipe = t.get("recipe", "generator")
        if self.recipe not in RECIPES:
            raise ValueError(f"unknown blind_sr recipe '{self.recipe}'; choose {', '.join(RECIPES)}")
        self.scale = int(t.get("scale", 4))
        if self.scale not in (2, 3, 4):
            raise ValueError(f"task.scale must be 2, 3 or 4, got {self.scale}")
        self.code = t.get("code", "sigma")
        if self.code not in CODES:
            raise ValueError(f"unknown task.code '{self.code}'; choose {', '.join(CODES)}")
        self.data = _section(t, "data", DATA_DEFAULTS)
        self.deg = _section(t, "degradation", DEGRADATION_DEFAULTS)
        self.weights = _section(t, "weights", WEIGHTS_DEFAULTS)
        self.gan = _section(t, "gan", GAN_DEFAULTS)
        self.rl = _section(t, "rl", RL_DEFAULTS)
        self.spec = model_spec(t)
        self.init = t.get("init")
        rank, world = dist_info()
        self.verbose = rank == 0
        d = self.data
        train = load_split(d["train"], "train", d["train_limit"])
        self.sampler = BlindPairSampler(
            prepare_images(train, self.scale, int(self.deg["size"])),
            self.scale,
            int(d["patch"]),
            int(d["batch"]),
            self.deg,
            self.code,
            bool(d["augment"]),
            seed=cfg.run.seed + 1000 * rank,
        )
        from .data import fixed_pairs

        valid = load_split(d["valid"], "valid", d["valid_limit"])
        self.valid_pairs = fixed_pairs(
            valid, self.scale, d["valid_sigmas"], bool(self.deg["quantize"]), d["valid_max_size"]
        )
        self.disc: Discriminator | None = None
        self.rng = np.random.default_rng(cfg.run.seed + 7 + 1000 * rank)
        self.keep = t.get("keep") or "best"
        if self.keep not in ("best", "last"):
            raise ValueError(f"task.keep must be best or last, got {self.keep!r}")
        self._step = 0
        if self.recipe == "generator":
            self.monitor, self.monitor_mode = "psnr_y", "max"
            res = {k: self.weights[k] for k in ("vgg19", "vgg16", "dists")} | {"anchors": self.gan["anchors"]}
            self.loss: LossSum = get_loss(t.get("loss", "l1"), res, missing=self.weights["missing"])
            self._report_terms(cfg)
            if self.loss.adversarial:
                if world > 1:
                    raise ValueError(
                        "adversarial blind_sr recipes run in one process (the discriminator is not DDP-synced)"
                    )
                g = self.gan
                outputs = int(g["outcomes"]) if self.loss.adversarial == "realness" else 1
                with torch.random.fork_rng():  # its initial weights follow the run's seed alone
                    torch.manual_seed(cfg.run.seed + 11 + 1000 * rank)
                    self.disc = Discriminator(int(g["nf"]), int(g["levels"]), outputs)
                self.opt_d = torch.optim.Adam(self.disc.parameters(), lr=float(g["lr"]), betas=tuple(g["betas"]))
                if outputs > 1:
                    self.anchors = realness_anchors(outputs, g["anchors"])
                self._pending: tuple[torch.Tensor, torch.Tensor] | None = None
        elif self.recipe == "actor":
            self.monitor, self.monitor_mode = "sigma_mae", "min"
            self.actor_loss = t.get("loss", "l1")
            if self.actor_loss not in ("l1", "l2"):
                raise ValueError(f"the actor recipe's loss is l1 or l2, got {self.actor_loss!r}")
        else:
            with torch.random.fork_rng():
                torch.manual_seed(cfg.run.seed + 13 + 1000 * rank)
                self._setup_rl()
        if (
            self.keep == "last"
        ):  # best.pt follows the latest validation (e.g. a GAN: the best PSNR is its least adversarial)
            self.monitor, self.monitor_mode = "last_step", "max"

    # reporting -------------------------------------------------------------------------------
    def _report_terms(self, cfg) -> None:
        rec = {
            "loss": self.loss.name,
            "active": [{"weight": w, "term": n} for w, n in self.loss.terms],
            "skipped": [{"weight": w, "term": n, "reason": why} for w, n, why in self.loss.skipped],
        }
        if self.verbose:
            print(f"blind_sr loss: {self.loss.describe()}", flush=True)
            for _, n, why in self.loss.skipped:
                print(f"  skipped {n}: {why}", flush=True)
            out = Path(cfg.run.out)
            out.mkdir(parents=True, exist_ok=True)
            (out / "loss_terms.json").write_text(json.dumps(rec, indent=1))

    def _setup_rl(self) -> None:
        rl = self.rl
        self.monitor, self.monitor_mode = "reward", "max"
        if rl["reward"] not in REWARDS:
            raise ValueError(f"unknown rl.reward '{rl['reward']}'; choose {', '.join(REWARDS)}")
        if rl["critic_loss"] not in CRITIC_FORMS:
            raise ValueError(f"unknown rl.critic_loss '{rl['critic_loss']}'; choose {', '.join(CRITIC_FORMS)}")
        if not rl["generator"]:
            raise ValueError("the rl recipe needs rl.generator (the frozen environment: a shipped name or .pt)")
        g, _ = load_model(rl["generator"])
        if not isinstance(g, ModulatedEDSR) or g.scale != self.scale or g.code_kind != self.code:
            raise ValueError(f"rl.generator {rl['generator']} is not a ×{self.scale} '{self.code}'-modulated generator")
        self.generator = g.freeze()
        self.code_range = g.code_range
        cc = {**RL_DEFAULTS["critic"], **check_keys(rl["critic"] or {}, RL_DEFAULTS["critic"], "task.rl.critic")}
        dim = CODE_DIMS[self.code]
        self.critic = Critic(
            int(cc["width"]), int(cc["depth"]), dim, int(cc["hidden"]), dim if rl["critic_hint"] else 0
        )
        self.hint = None
        if float(rl["anchor"]) > 0 and not rl["critic_hint"]:
            raise ValueError("rl.anchor needs rl.critic_hint (the frozen pre-trained actor)")
        if rl["critic_hint"]:  # the frozen pre-trained actor's estimate of s, a fixed state feature of the critic
            if not self.init:
                raise ValueError("rl.critic_hint needs task.init (the pre-trained actor)")
            mu0, _ = load_model(self.init)
            mu0 = mu0.freeze()
            self.hint = lambda s: mu0(s).detach()
        self.opt_c = torch.optim.Adam(self.critic.parameters(), lr=float(rl["critic_lr"]))
        self.niqe = None
        if rl["reward"] == "niqe":  # the no-reference reward: fitted on the training photographs
            from .niqe import NIQE

            self.niqe = NIQE.fit([im.hr for im in self.sampler.images])
        p = int(self.data["patch"])
        self.buffer = ReplayBuffer(
            int(rl["buffer"]), (3, p, p), dim, bool(self.deg["quantize"]), dim if self.hint is not None else 0
        )

    # what the model card says -----------------------------------------------------------------
    @staticmethod
    def describe(cfg: dict) -> str:
        t = cfg["task"]
        recipe = t.get("recipe", "generator")
        spec = model_spec(t)
        scale = int(t.get("scale", 4))
        deg = {**DEGRADATION_DEFAULTS, **(t.get("degradation") or {})}
        sig = deg["sigma"]
        blur = (
            "no blur (plain bicubic)"
            if float(sig[1]) <= 0
            else f"{deg['kernel']} Gaussian blur σ ∈ [{sig[0]}, {sig[1]}]"
        )
        extra = []
        if deg["noise"] and float(deg["noise"][1]) > 0:
            extra.append(f"noise σ_n ∈ {deg['noise']}/255")
        if deg["jpeg"]:
            extra.append(f"JPEG q ∈ {deg['jpeg']}")
        where = f"×{scale} blind SR; degradation: {blur} {deg['size']}×{deg['size']}, MATLAB bicubic ↓{scale}"
        where += (", " + ", ".join(extra) if extra else "") + ", LR rounded to 8 bits"
        size = ", ".join(f"{k}={v}" for k, v in spec.items() if k not in ("arch", "scale"))
        if recipe == "actor":
            how = t.get("loss", "l1")
            return (
                f"{where}. Degradation estimator (actor) `{spec['arch']}` ({size}) regressed on the true code ({how})."
            )
        if recipe == "rl":
            rl = {**RL_DEFAULTS, **(t.get("rl") or {})}
            return (
                f"{where}. Degradation estimator `{spec['arch']}` ({size}) refined by the actor–critic stage "
                f"(Algorithm 1, DDPG, critic loss {rl['critic_loss']}) "
                f"against the frozen generator `{rl['generator']}`, "
                f"reward {rl['reward'].upper()}-Y of the 8-bit output"
                + (" relative to the actor's own action" if rl["baseline"] else "")
                + f"; started from `{t.get('init')}`."
            )
        terms = _recorded_terms(cfg)
        loss = t.get("loss", "l1")
        if terms is not None and terms["skipped"]:
            active = " + ".join(f"{a['weight']:g}·{a['term']}" for a in terms["active"])
            loss = f"{active} (recipe: {loss}"
            if terms["skipped"]:
                loss += "; skipped on the training machine, no weights: " + ", ".join(
                    f"{s['weight']:g}·{s['term']}" for s in terms["skipped"]
                )
            loss += ")"
        kind = (
            "degradation-modulated generator (AMNet: per-block scale/shift from the code)"
            if spec["arch"] == "amnet"
            else "non-blind generator"
        )
        metric = "PSNR-Y / SSIM-Y: BT.601 Y, border = scale, 8-bit output"
        return f"{where}. {kind} `{spec['arch']}` ({size}), loss {loss}. {metric}."

    @staticmethod
    def describe_data(task: dict) -> dict:
        from .data import SPLITS

        d = {**DATA_DEFAULTS, **(task.get("data") or {})}
        out = {}
        for split in ("train", "valid"):
            src = d[split]
            text = f"scikit-image photographs: {', '.join(SPLITS[split])}" if src == "demo" else str(src)
            if split == "valid":
                text += f", σ ∈ {d['valid_sigmas']}"
            out[split] = {"text": text}
        out["held out"] = {"text": f"never trained on: {', '.join(SPLITS['test'])} (bench/blind_sr.py)"}
        return out

    @staticmethod
    def card_metrics(model, cfg: dict) -> dict:
        """What the exported weights score on the run's validation images."""
        from .data import fixed_pairs

        t = cfg["task"]
        d = {**DATA_DEFAULTS, **(t.get("data") or {})}
        scale, recipe = int(t.get("scale", 4)), t.get("recipe", "generator")
        pairs = fixed_pairs(load_split(d["valid"], "valid", d["valid_limit"]), scale, d["valid_sigmas"])
        if recipe == "generator":
            m, b = evaluate(model, pairs, scale, "oracle", t.get("code", "sigma")), evaluate("bicubic", pairs, scale)
            return {"valid_psnr_y": m["psnr_y"], "valid_ssim_y": m["ssim_y"], "bicubic_psnr_y": b["psnr_y"],
                    "bicubic_ssim_y": b["ssim_y"]}  # fmt: skip
        errs = [abs(estimate(model, p.lr)[0] - p.sigma) for p in pairs]
        return {"valid_sigma_mae": float(np.mean(errs))}

    # Task protocol ---------------------------------------------------------------------------
    def build_model(self):
        model = build_model(self.spec)
        if self.init:
            load_init(model, self.init)
        return model

    def model_spec(self, model) -> dict:
        return model.spec() if hasattr(model, "spec") else dict(self.spec)

    def next_batch(self):
        return self.sampler.sample()

    def _generate(self, model, batch):
        if self.spec["arch"] == "amnet":
            return model(batch["lr"], batch["code"])
        return model(batch["lr"])

    def training_step(self, model, batch, step, total):
        self._step = step + 1
        if self.recipe == "actor":
            pred = model(batch["lr"])
            err = pred - batch["code"]
            loss = err.abs().mean() if self.actor_loss == "l1" else (err**2).mean()
            return loss, {"sigma_abs_err": float((pred[:, 0] - batch["code"][:, 0]).abs().mean().detach())}
        if self.recipe == "rl":
            return self._rl_step(model, batch, step)
        sr = self._generate(model, batch)
        if self.disc is not None:
            self.disc.requires_grad_(False)  # the generator's step sees a fixed discriminator
            self._pending = (batch["hr"], sr.detach())
        loss, logs = self.loss.parts(sr, batch["hr"], disc=self.disc)
        return loss, logs

    def after_step(self, model, step, total) -> dict:
        """The discriminator's update on the real crops and the generator's detached output."""
        if self.disc is None or self._pending is None:
            return {}
        real, fake = self._pending
        self._pending = None
        self.disc.requires_grad_(True)
        lr, lf = self.disc(real), self.disc(fake)
        if self.loss.adversarial == "realness":
            a1, a0 = self.anchors
            loss_d = realness_d_loss(lr, lf, a1, a0)
        else:
            loss_d = relativistic_d_loss(lr, lf)
        self.opt_d.zero_grad(set_to_none=True)
        loss_d.backward()
        self.opt_d.step()
        return {"loss_d": float(loss_d.detach())}

    def _rl_step(self, actor, batch, step):
        rl = self.rl
        s, hr = batch["lr"], batch["hr"]
        b, k = s.shape[0], int(rl["actions_per_state"])
        lo, hi = self.code_range if self.code == "sigma" else (None, None)
        with torch.no_grad():  # Algorithm 1, lines 2–5: act, render, observe the reward, store
            mu = actor(s)
            acts = explore(mu, k, float(rl["noise"]), self.rng, lo, hi)
            states = s.repeat(k, 1, 1, 1)
            r = rewards(self.generator(states, acts), hr.repeat(k, 1, 1, 1), self.scale, rl["reward"], self.niqe)
            logs = {
                "reward": float(r[:b].mean()),
                "sigma_abs_err": float((mu[:, 0] - batch["code"][:, 0]).abs().mean()),
            }
            if rl["baseline"]:
                r = r - r[:b].repeat(k)
        self.buffer.add(states, acts, r, self.hint(s).repeat(k, 1) if self.hint is not None else None)
        n = int(rl["minibatch"])
        if len(self.buffer) < max(n, int(rl["warmup"])):
            return 0 * sum(p.sum() for p in actor.parameters()), logs  # a zero step until the buffer fills
        for _ in range(int(rl["critic_updates"])):  # lines 6–7
            logs["loss_critic"] = critic_update(
                self.critic, self.opt_c, self.buffer, self.rng, n, rl["critic_loss"], float(rl["gamma"]),
                hint=self.hint is not None,
            )  # fmt: skip
        bs, _, _, bh = self.buffer.sample(self.rng, n, extra=True)
        hint = bh if self.hint is not None else None
        la = actor_objective(self.critic, actor, bs, hint)  # line 8, stepped by the trainer's optimiser
        if float(rl["anchor"]) > 0:  # optional: stay near the pre-trained actor (not in Algorithm 1)
            la = la + float(rl["anchor"]) * ((actor(bs) - bh) ** 2).sum(1).mean()
        return (la * 0 if step < int(rl["actor_delay"]) else la), logs

    @torch.no_grad()
    def validate(self, model) -> dict[str, float]:
        return {**self._validate(model), **({"last_step": float(self._step)} if self.keep == "last" else {})}

    def _validate(self, model) -> dict[str, float]:
        if self.recipe == "generator":
            if self.spec["arch"] == "amnet":
                m = evaluate(model, self.valid_pairs, self.scale, "oracle", self.code)
            else:
                m = evaluate(model, self.valid_pairs, self.scale)
            return {"psnr_y": m["psnr_y"], "ssim_y": m["ssim_y"]}
        codes = [estimate(model, p.lr) for p in self.valid_pairs]
        mae = float(np.mean([abs(c[0] - p.sigma) for c, p in zip(codes, self.valid_pairs)]))
        if self.recipe == "actor":
            return {"sigma_mae": mae}
        m = evaluate(self.generator, self.valid_pairs, self.scale, model, self.code, niqe=self.niqe)
        reward = {"psnr": m["psnr_y"], "ssim": m["ssim_y"], "niqe": -m.get("niqe", 0.0)}[self.rl["reward"]]
        return {"reward": reward, "psnr_y": m["psnr_y"], "ssim_y": m["ssim_y"], "sigma_mae": mae}

    def state_dict(self) -> dict:
        st: dict = {"sampler_rng": self.sampler.rng.bit_generator.state, "rng": self.rng.bit_generator.state}
        if self.disc is not None:
            st["disc"], st["opt_d"] = self.disc.state_dict(), self.opt_d.state_dict()
        if self.recipe == "rl":
            st["critic"], st["opt_c"], st["buffer"] = (
                self.critic.state_dict(),
                self.opt_c.state_dict(),
                self.buffer.state_dict(),
            )
        return st

    def load_state_dict(self, state: dict) -> None:
        self.sampler.rng.bit_generator.state = state["sampler_rng"]
        self.rng.bit_generator.state = state["rng"]
        if self.disc is not None:
            self.disc.load_state_dict(state["disc"])
            self.opt_d.load_state_dict(state["opt_d"])
        if self.recipe == "rl":
            self.critic.load_state_dict(state["critic"])
            self.opt_c.load_state_dict(state["opt_c"])
            self.buffer.load_state_dict(state["buffer"])


def _recorded_terms(cfg: dict) -> dict | None:
    """The loss terms the run recorded as active / skipped (``<run.out>/loss_terms.json``)."""
    out = (cfg.get("run") or {}).get("out")
    path = Path(out) / "loss_terms.json" if out else None
    if path is None or not path.exists():
        return None
    try:
        return json.loads(path.read_text())
    except ValueError:
        return None
