"""Training task for the kernel-predicting denoiser (§6.2): SMAPE on random/importance-sampled
patches of the train split; validation on whole frames of the valid split.

Config (`task:` section)::

    name: denoise
    data: {root: data/mitsuba, train: train, valid: valid, spp: [4, 16], patch: 64, batch: 8,   # train: a dir or a list
           importance: 0.5, source: mitsuba, valid_limit: 8, train_limit: null,
           train_seeds: null,   # train_seeds: [200, 400] reads only scenes rendered with those seeds
           pack: null}          # bf16 | fp32: map the train scenes from shared pack files (data/packed.py)
    model: {arch: kpcn, width: 32, blocks: 6, kernel: 21, demodulate: false, head: kernel}
    loss: smape            # or a weighted sum such as smape+2*dssim (neurecon.losses.get_loss)
    init: balanced         # optional: start from a shipped model or .pt with the same parameters
"""
from __future__ import annotations

import os
from pathlib import Path

import torch

from .. import metrics
from ..data.denoise import REFERENCE, PatchSampler, load_frames, pack_bytes_of
from ..losses import get_loss
from ..models import build_model
from ..nn.features import DEFAULT_SOURCES
from .trainer import dist_info

DATA_DEFAULTS = {"root": "data/mitsuba", "train": "train", "valid": "valid", "spp": [4, 16], "patch": 64,
                 "batch": 8, "importance": 0.5, "source": "mitsuba", "valid_limit": 8, "train_limit": None,
                 "train_seeds": None, "pack": None}


def train_dirs(data: dict) -> list[str]:
    t = data["train"]
    return [t] if isinstance(t, str) else list(t)


class DenoiseTask:
    monitor = "loss"
    monitor_mode = "min"

    def __init__(self, cfg):
        t = cfg.task
        unknown = set(t) - {"name", "data", "model", "loss", "init"}
        if unknown:
            raise ValueError(f"unknown key(s) {sorted(unknown)} in the denoise task config")
        self.data = {**DATA_DEFAULTS, **(t.get("data") or {})}
        unknown = set(self.data) - set(DATA_DEFAULTS)
        if unknown:
            raise ValueError(f"unknown key(s) {sorted(unknown)} in task.data; allowed: {sorted(DATA_DEFAULTS)}")
        self.spec = {"arch": "kpcn", **(t.get("model") or {})}
        # several sources train one shared backbone behind source-aware encoders (§3.2):
        # steps alternate between them; validation reports each, the first one is monitored
        names = self.data["source"]
        self.sources = [names] if isinstance(names, str) else list(names)
        self.spec.setdefault("sources", {s: DEFAULT_SOURCES[s] for s in self.sources})
        missing = [s for s in self.sources if s not in self.spec["sources"]]
        if missing:
            raise ValueError(f"source(s) {missing} have no buffer list; known defaults: {sorted(DEFAULT_SOURCES)}")
        self.source = self.sources[0]
        self.init = t.get("init")
        self.loss = get_loss(t.get("loss", "smape"))
        buffers = sorted({b for s in self.sources for b in self.spec["sources"][s]})
        root = Path(self.data["root"])
        rank, world = dist_info()
        progress = rank == 0
        copies = int(os.environ.get("LOCAL_WORLD_SIZE", world))  # ranks on this machine, each holding the set
        # `train` may list several split directories (e.g. 128² and 256² renders: training at the
        # resolutions people render at); limit and seed range apply to each
        self.train_frames = []
        for d in train_dirs(self.data):
            self.train_frames += load_frames(root / d, self.data["spp"], buffers, limit=self.data["train_limit"],
                                             progress=progress, seeds=self.data["train_seeds"], copies=copies,
                                             pack=self.data["pack"],
                                             mapped=pack_bytes_of(self.train_frames) if self.data["pack"] else 0)
        self.valid_frames = load_frames(root / self.data["valid"], self.data["spp"], buffers,
                                        limit=self.data["valid_limit"], progress=progress)
        self.sampler = PatchSampler(self.train_frames, self.data["patch"], self.data["batch"],
                                    self.data["importance"], seed=cfg.run.seed + 1000 * rank)

    def build_model(self):
        model = build_model(self.spec)
        if not self.init:
            return model
        from ..models import load_model  # fine-tuning: new data or loss, same network

        trained, ck = load_model(self.init)
        # the same network, or a grown one (e.g. a U-Net with a 4th kernel scale): every trained
        # parameter must fit, parts the init lacks keep their fresh initialisation
        mismatch = f"task.init '{self.init}' is a {ck['spec']}, whose weights do not fit this config's {model.spec()}"
        try:
            missing, unexpected = model.load_state_dict(trained.state_dict(), strict=False)
        except RuntimeError as e:
            raise ValueError(mismatch) from e
        if unexpected:
            raise ValueError(f"{mismatch}: unexpected {', '.join(unexpected)}")
        changed = sorted(k for k in set(ck["spec"]) | set(model.spec()) if ck["spec"].get(k) != model.spec().get(k))
        if (changed or missing) and dist_info()[0] == 0:
            print(f"task.init: spec changes {changed}" + (f"; new parameters start fresh: {', '.join(missing)}" if missing else ""))
        return model

    def model_spec(self, model) -> dict:
        return model.spec()

    def next_batch(self):
        return self.sampler.sample()

    def training_step(self, model, batch, step, total):
        out = model(batch, self.sources[step % len(self.sources)])
        return self.loss(out, batch[REFERENCE]), {}

    def validate(self, model) -> dict[str, float]:
        sums: dict[str, float] = {}
        for f in self.valid_frames:
            for i, src in enumerate(self.sources):
                out = model(f.inputs, src)
                m = {"loss": float(self.loss(out, f.reference)), **metrics.denoise_metrics(out, f.reference)}
                for k, v in m.items():
                    key = k if i == 0 else f"{src}_{k}"
                    sums[key] = sums.get(key, 0.0) + v
        return {k: v / len(self.valid_frames) for k, v in sums.items()}

    def state_dict(self) -> dict:
        return {"sampler_rng": self.sampler.rng.bit_generator.state}

    def load_state_dict(self, state: dict) -> None:
        self.sampler.rng.bit_generator.state = state["sampler_rng"]


class LambdaTask(DenoiseTask):
    """§4.3 modular training: load a trained KPCN, freeze it, and train only a loss-specialiser and
    a kernel predictor (initialised from the backbone's) with the asymmetric loss, log λ ~ U(0, log 10)
    (see `sample_lambda`).

    Config: `task: {name: denoise_lambda, backbone: default | path.pt, blocks: 2, gated: true, data: {...}}`.
    Validation reports the asymmetric loss at λ ∈ {1, 2, 5, 10}; `loss` is their mean.
    """

    VALID_LAMBDAS = (1.0, 2.0, 5.0, 10.0)

    def __init__(self, cfg):
        from ..models import load_checkpoint

        t = dict(cfg.task)
        self.backbone_ck = load_checkpoint(t.pop("backbone", "default"))
        self.blocks = int(t.pop("blocks", 2))
        self.gated = bool(t.pop("gated", True))
        self.base = t.pop("loss", "smape")
        self.backbone_spec = dict(self.backbone_ck["spec"])
        t["model"] = self.backbone_spec
        super().__init__(type(cfg)(task=t, optim=cfg.optim, run=cfg.run, card=cfg.card))
        self.lam_rng = torch.Generator().manual_seed(cfg.run.seed + 77)

    def build_model(self):
        from ..nn.blocks import freeze
        from ..nn.specialiser import lambda_model

        model = lambda_model(self.backbone_spec, self.blocks, self.gated)
        model.backbone.load_state_dict({k: v.float() for k, v in self.backbone_ck["model"].items()})
        freeze(model.backbone)
        model.start_from_backbone()
        if self.gated:  # only the specialiser learns: λ = 1 stays the backbone exactly
            freeze(getattr(model, "predictors", None) or model.predictor)
        return model

    def training_step(self, model, batch, step, total):
        from ..losses import asymmetric

        lam = self.sample_lambda(batch["color"])
        src = self.sources[step % len(self.sources)]
        out = model(batch, src, lam=lam)
        return asymmetric(out, batch[REFERENCE], batch["color"], lam, self.base), {}

    def sample_lambda(self, like: torch.Tensor) -> torch.Tensor:
        """log λ ~ U(0, log 10): constant per patch for half the batch, a smooth random map
        (bilinear 4×4 noise) for the other half. The paper draws λ i.i.d. per pixel; we found
        that a 3×3-conv specialiser then cannot tell which λ belongs to which pixel and drifts
        towards the average (its λ = 1 result got worse than the frozen backbone's)."""
        n, _, h, w = like.shape
        g = self.lam_rng
        const = torch.rand(n, 1, 1, 1, generator=g).expand(n, 1, h, w)
        smooth = torch.nn.functional.interpolate(torch.rand(n, 1, 4, 4, generator=g), size=(h, w),
                                                 mode="bilinear", align_corners=True)
        pick = (torch.arange(n) % 2 == 0).view(n, 1, 1, 1)
        return torch.exp(torch.where(pick, const, smooth) * torch.log(torch.tensor(10.0)))

    def validate(self, model) -> dict[str, float]:
        from ..losses import asymmetric

        sums = {f"loss_lambda{int(l)}": 0.0 for l in self.VALID_LAMBDAS}
        for f in self.valid_frames:
            feats = model.features(f.inputs, self.source)
            free = model.lambda_free(feats)
            for lam in self.VALID_LAMBDAS:
                out = model.tail(feats, f.inputs, lam, free)
                sums[f"loss_lambda{int(lam)}"] += float(asymmetric(out, f.reference, f.inputs["color"], lam, self.base))
        res = {k: v / len(self.valid_frames) for k, v in sums.items()}
        res["loss"] = sum(res.values()) / len(res)
        return res

    def state_dict(self) -> dict:
        return {**super().state_dict(), "lam_rng": self.lam_rng.get_state()}

    def load_state_dict(self, state: dict) -> None:
        super().load_state_dict(state)
        self.lam_rng.set_state(state["lam_rng"])
