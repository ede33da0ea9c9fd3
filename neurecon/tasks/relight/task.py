"""The ``relight`` training task: Light Stage Super-Resolution on OLAT folders.

Config (``task:`` section)::

    name: relight
    data: {root: data/olat, train: train, valid: valid, batch: 4, k: 4, m: 8, heldout_queries: 0.25,
           flip: true, exposure_jitter: 0.5, train_limit: null, valid_limit: null, valid_lights: null}
    model: {arch: relight_unet, widths: [16, 32, 48, 64], query_in_encoder: true, residual: true,
            sharpness: 20, upsample: nearest}
    progressive: paper     # false (direct, full resolution throughout) | paper | {hold: N, blend: N}
    target: blended        # blended | fixed: the stage loss's target (neurecon.train.progressive)
    init: null             # a shipped name or .pt to start from

Training samples: :class:`.data.OlatSampler` (k of the m nearest captured lights). The loss is the
progressive stage loss L_d (masked L1 in t = log(1 + x) space) of the schedule's state at the
iteration; one optimiser (the trainer's) throughout.

Validation: every held-out light of every validation subject, inputs its k nearest captured
lights. The stage output is brought to full resolution (nearest), so a run in a coarse stage
is scored on what it can produce then; ``psnr_full`` (the monitored value, keep-the-best) is the
masked PSNR once the model's own full-resolution output is trained (the final stage, or a direct
run) and 0 before, so best.pt is always a finished full-resolution model.
"""

from __future__ import annotations

import numpy as np
import torch

from ...models import build_model, load_model
from ...nn.relight import from_net
from ...train.config import check_keys
from ...train.progressive import ProgressiveSchedule, StageState, full_resolution, masked_l1, stage_loss, stage_output
from ...train.trainer import dist_info
from .baselines import Relighter
from .data import OlatSampler, heldout_cases, load_subjects
from .metrics import mean_metrics, relight_metrics

TASK_KEYS = {"name", "data", "model", "progressive", "target", "init"}
DATA_DEFAULTS = {
    "root": "data/olat",
    "train": "train",
    "valid": "valid",
    "batch": 4,
    "k": 4,
    "m": 8,
    "heldout_queries": 0.25,
    "flip": True,
    "exposure_jitter": 0.5,
    "train_limit": None,
    "valid_limit": None,
    "valid_lights": None,
}
MODEL_DEFAULTS = {
    "arch": "relight_unet",
    "widths": [16, 32, 48, 64],
    "query_in_encoder": True,
    "residual": True,
    "sharpness": 20.0,
    "upsample": "nearest",
    "select": True,
}


def _unwrap(model):
    while hasattr(model, "module") or hasattr(model, "net"):
        model = getattr(model, "module", None) or model.net
    return model


@torch.no_grad()
def evaluate_network(model, cases: list[dict], state: StageState | None = None) -> dict[str, float]:
    """Mean metrics of the model's stage output (full resolution when `state` is None) over cases."""
    model = _unwrap(model)
    state = state or StageState(0, 1.0, model.levels, "final")
    rows, l1 = [], []
    for c in cases:
        s = c["subject"]
        aux = model(c["images"][None], c["dirs"][None], c["query"][None], state.level, state.w_fine)
        pred_t = full_resolution(stage_output(aux, state.level, state.w_fine, model.upsample), s.size)
        ref = s.heldout[c["index"]]
        ref_t = torch.log1p(torch.from_numpy(ref).permute(2, 0, 1)[None].clamp_min(0))
        mask = torch.from_numpy(s.mask)[None, None]
        l1.append(float(masked_l1(pred_t, ref_t, mask)))
        pred = from_net(pred_t)[0].permute(1, 2, 0).numpy()
        rows.append(relight_metrics(pred, ref, s.mask, s.images[c["neighbours"][0]]))
    out = mean_metrics(rows)
    out["l1_log"] = float(np.mean(l1))
    return out


def evaluate_baseline(method: str, cases: list[dict], k: int = 4) -> dict[str, float]:
    rows = []
    relighters: dict[str, Relighter] = {}
    for c in cases:
        s = c["subject"]
        r = relighters.setdefault(s.name, Relighter.from_subject(s, k=k))
        pred = r(method, s.heldout_dirs[c["index"]])
        rows.append(relight_metrics(pred, s.heldout[c["index"]], s.mask, s.images[c["neighbours"][0]]))
    return mean_metrics(rows)


class RelightTask:
    monitor = "psnr_full"
    monitor_mode = "max"

    def __init__(self, cfg):
        t = cfg.task
        check_keys(t, TASK_KEYS, "task")
        self.data = {**DATA_DEFAULTS, **check_keys(t.get("data") or {}, DATA_DEFAULTS, "task.data")}
        self.spec = {**MODEL_DEFAULTS, **check_keys(t.get("model") or {}, MODEL_DEFAULTS, "task.model")}
        self.target = t.get("target", "blended")
        if self.target not in ("blended", "fixed"):
            raise ValueError(f"task.target must be blended or fixed, got {self.target!r}")
        self.schedule = ProgressiveSchedule.from_config(
            t.get("progressive", "paper"), len(self.spec["widths"]), cfg.run.iterations
        )
        self.init = t.get("init")
        rank, _ = dist_info()
        d = self.data
        self.train = load_subjects(d["root"], d["train"], d["train_limit"])
        self.valid = load_subjects(d["root"], d["valid"], d["valid_limit"])
        self.cases = heldout_cases(self.valid, d["k"], d["valid_lights"])
        if not self.cases:
            raise ValueError(f"the validation subjects in {d['root']}/{d['valid']} have no held-out lights")
        self.sampler = OlatSampler(
            self.train,
            d["batch"],
            d["k"],
            d["m"],
            d["heldout_queries"],
            d["flip"],
            d["exposure_jitter"],
            seed=cfg.run.seed + 1000 * rank,
        )
        self.step = 0

    # the model card -------------------------------------------------------------------------
    @staticmethod
    def describe(cfg: dict) -> str:
        t = cfg["task"]
        spec = {**MODEL_DEFAULTS, **(t.get("model") or {})}
        d = {**DATA_DEFAULTS, **(t.get("data") or {})}
        it = (cfg.get("run") or {}).get("iterations", 0)
        sched = ProgressiveSchedule.from_config(t.get("progressive", "paper"), len(spec["widths"]), it)
        return (
            f"Relighting from OLAT images (Light Stage Super-Resolution, Sun et al. 2020): `relight_unet` "
            f"(widths {spec['widths']}, {len(spec['widths'])} levels, alias-free light-direction pooling with a "
            f"learnable sharpness, 1×1 auxiliary RGB heads on every decoder level, "
            + (
                "each level's image a per-pixel selection among the neighbours' images plus the head's correction"
                if spec.get("select", True)
                else (
                    "the heads correcting the pooled blend" if spec["residual"] else "the heads synthesising the image"
                )
            )
            + f") on the k = {d['k']} nearest "
            f"captured lights (training: {d['k']} of the {d['m']} nearest). Training schedule: {sched.describe()}; "
            f"stage loss target {t.get('target', 'blended')}; masked L1 on log(1 + x) of exposure-normalised radiance."
        )

    @staticmethod
    def describe_data(task: dict) -> dict:
        from ...io.olat import read_olat
        from ...render.olat import subject_folders

        d = {**DATA_DEFAULTS, **(task.get("data") or {})}
        out = {}
        for split in ("train", "valid"):
            text = f"OLAT folders in {d['root']}/{d[split]}"
            try:
                folders = subject_folders(d["root"], d[split])
                lim = d.get(f"{split}_limit")
                folders = folders[:lim] if lim else folders
                first = read_olat(folders[0])
                m = first.meta
                text = (
                    f"{len(folders)} OLAT folders in {d['root']}/{d[split]}: {len(first.lights)} captured + "
                    f"{len(first.heldout)} held-out lights each"
                    + (
                        f", {m['size']}², {m['spp']} spp, {m.get('layout', '')} layout ({m.get('renderer', '')})"
                        if m
                        else ""
                    )
                )
            except (OSError, ValueError, KeyError):
                text += " (not on this machine)"
            out[split] = {"text": text}
        return out

    @staticmethod
    def card_metrics(model, cfg: dict) -> dict:
        """The exported weights and the three baselines on the validation subjects' held-out lights."""
        d = {**DATA_DEFAULTS, **(cfg["task"].get("data") or {})}
        valid = load_subjects(d["root"], d["valid"], d["valid_limit"])
        cases = heldout_cases(valid, d["k"], d["valid_lights"])
        out = {"network": evaluate_network(model, cases)}
        for m in ("nearest", "barycentric", "knn"):
            out[m] = evaluate_baseline(m, cases, d["k"])
        return {f"valid_{m}_{k}": v for m, r in out.items() for k, v in r.items() if k in ("psnr", "ssim")}

    # Task protocol --------------------------------------------------------------------------
    def build_model(self):
        model = build_model(self.spec)
        if self.init:
            src, _ = load_model(self.init)
            model.load_state_dict(src.state_dict())
        return model

    def model_spec(self, model) -> dict:
        return _unwrap(model).spec()

    def next_batch(self):
        return self.sampler.sample()

    def training_step(self, model, batch, step, total):
        state = self.schedule.state(step)
        self.step = step + 1
        aux = model(batch["images"], batch["dirs"], batch["query"], state.level, state.w_fine)
        loss = stage_loss(aux, batch["target"], batch["mask"], state, self.target, self.spec["upsample"])
        return loss, {"level": state.level, "w_fine": state.w_fine}

    def current_state(self) -> StageState:
        return self.schedule.state(max(0, self.step - 1))

    def validate(self, model) -> dict[str, float]:
        state = self.current_state()
        out = evaluate_network(model, self.cases, state)
        out["psnr_full"] = out["psnr"] if state.full else 0.0
        out["level"], out["w_fine"] = state.level, state.w_fine
        return out

    def state_dict(self) -> dict:
        return {"sampler_rng": self.sampler.rng.bit_generator.state, "step": self.step}

    def load_state_dict(self, state: dict) -> None:
        self.sampler.rng.bit_generator.state = state["sampler_rng"]
        self.step = state.get("step", 0)
