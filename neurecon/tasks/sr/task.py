"""The ``sr`` training task for :class:`neurecon.train.trainer.Trainer`: vanilla, KD and ECO recipes.

Config (``task:`` section)::

    name: sr
    recipe: eco            # vanilla | kd | eco
    scale: 2
    data: {train: demo, valid: demo, patch: 48, batch: 16, augment: true, quantize_lr: true,
           train_limit: null, valid_limit: null, valid_max_size: null, valid_tile: 0}
    model: {preset: edsr_baseline_xs}          # or arch/n_feats/n_blocks/... (see sr.models.PRESETS)
    loss: l1
    teacher: {model: sr_teacher_x2, tile: 128, cache: auto}   # kd and eco only
    eco: {schedule: sigmoid, shift: 0.0, per_sample: false, a: 1.0}

* vanilla: L1(S(x), y) on random aligned crops of the real pairs.
* kd: L1(S(x), ŷ) — the teacher's SR of the whole LR image as target, the original LR as input.
* eco: the spatially consistent pair (D(ŷ), ŷ) mixed with (x, y) by the schedule a(t)
  (see :mod:`neurecon.sr.eco`), or picked per sample with probability a (``per_sample: true``).

The teacher (a shipped name or a checkpoint path, loaded with :func:`neurecon.models.load_model`)
is frozen and independent of the student; its outputs on the whole training LR images are
computed once and cached (``cache: auto`` → ``<parent of run.out>/sr_teacher_cache/<fingerprint>.pt``,
shared by runs on the same teacher and data; ``none`` keeps them in memory only; or a file path).
Validation: PSNR-Y / SSIM-Y (BasicSR conventions, border = scale) on whole valid images.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import torch

from ...infer.upscale import upscale_array, upscale_tensor
from ...io.atomic import atomic_save
from ...losses import get_loss
from ...models import build_model, load_model, read_file
from ...train.config import check_keys
from ...train.trainer import dist_info
from . import models as sr_models
from .data import DEMO_TRAIN, DEMO_VALID, PairSampler, make_pairs
from .eco import SCHEDULES, eco_weight, mix, teacher_pair
from .metrics import sr_metrics

RECIPES = ("vanilla", "kd", "eco")
TASK_KEYS = {"name", "recipe", "scale", "data", "model", "loss", "teacher", "eco"}
DATA_DEFAULTS = {
    "train": "demo",
    "valid": "demo",
    "patch": 48,
    "batch": 16,
    "augment": True,
    "quantize_lr": True,
    "train_limit": None,
    "valid_limit": None,
    "valid_max_size": None,
    "valid_tile": 0,
}
TEACHER_DEFAULTS = {"model": None, "tile": 128, "cache": "auto"}
ECO_DEFAULTS = {"schedule": "sigmoid", "shift": 0.0, "per_sample": False, "a": 1.0}


def _section(t: dict, key: str, defaults: dict) -> dict:
    return {**defaults, **check_keys(t.get(key) or {}, defaults, f"task.{key}")}


def load_teacher(name_or_path, scale: int):
    """Frozen teacher in eval mode (fp32) and its checkpoint."""
    if not name_or_path:
        raise ValueError("the kd and eco recipes need task.teacher.model (a shipped name or a .pt path)")
    model, ck = load_model(name_or_path)
    if int(getattr(model, "scale", -1)) != int(scale):
        raise ValueError(f"teacher {name_or_path} is ×{getattr(model, 'scale', '?')}, the task is ×{scale}")
    for p in model.parameters():
        p.requires_grad_(False)
    return model.eval(), ck


def fingerprint(teacher, pairs, scale: int) -> str:
    h = hashlib.sha1()
    h.update(json.dumps(teacher.spec() if hasattr(teacher, "spec") else str(teacher), sort_keys=True).encode())
    for k, v in teacher.state_dict().items():
        h.update(k.encode())
        h.update(v.detach().float().cpu().numpy().tobytes())
    h.update(str(scale).encode())
    for p in pairs:
        h.update(p.name.encode())
        h.update(str(p.lr.shape).encode())
        h.update(p.lr.tobytes())
    return h.hexdigest()


def teacher_outputs(
    teacher, pairs, scale: int, tile: int = 128, cache: str | Path | None = None, progress: bool = False
) -> list[tuple[np.ndarray, np.ndarray]]:
    """[(D(ŷ), ŷ)] for every training pair; ŷ = clamp(T(whole LR), 0, 1), computed once (cached)."""
    fp = fingerprint(teacher, pairs, scale)
    path = None
    if cache:
        path = Path(cache)
        if path.suffix != ".pt":
            path = path / f"{fp[:16]}.pt"
        if path.exists():
            try:
                ck = read_file(path)
            except ValueError as e:  # not loadable with weights_only (e.g. a cache of numpy arrays): recompute
                print(f"ignoring the teacher cache: {e}", flush=True)
                ck = {}
            if ck.get("fingerprint") == fp:
                return [teacher_pair(sr.numpy() if torch.is_tensor(sr) else sr, scale) for sr in ck["sr"]]
    srs = []
    for i, p in enumerate(pairs):
        if progress:
            print(f"teacher SR {i + 1}/{len(pairs)}: {p.name} {p.lr.shape[1]}×{p.lr.shape[0]}", flush=True)
        srs.append(upscale_array(teacher, p.lr, tile=tile))
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        # tensors, not numpy arrays: the cache loads with weights_only=True like every .pt
        sr_tensors = [torch.from_numpy(np.ascontiguousarray(sr)) for sr in srs]
        atomic_save({"fingerprint": fp, "names": [p.name for p in pairs], "sr": sr_tensors}, path)
    return [teacher_pair(sr, scale) for sr in srs]


class SRTask:
    monitor = "psnr_y"
    monitor_mode = "max"

    def __init__(self, cfg):
        t = cfg.task
        check_keys(t, TASK_KEYS, "task")
        self.recipe = t.get("recipe", "vanilla")
        if self.recipe not in RECIPES:
            raise ValueError(f"unknown sr recipe '{self.recipe}'; choose {', '.join(RECIPES)}")
        self.scale = int(t.get("scale", 2))
        if self.scale not in (2, 3, 4, 8):
            raise ValueError(f"task.scale must be 2, 3, 4 or 8, got {self.scale}")
        self.data = _section(t, "data", DATA_DEFAULTS)
        self.teacher_cfg = _section(t, "teacher", TEACHER_DEFAULTS)
        self.eco = _section(t, "eco", ECO_DEFAULTS)
        if self.eco["schedule"] not in SCHEDULES:
            raise ValueError(f"unknown ECO schedule '{self.eco['schedule']}'; choose {', '.join(SCHEDULES)}")
        self.spec = sr_models.resolve_preset(t.get("model") or {"preset": "edsr_baseline_s"}, self.scale)
        self.loss = get_loss(t.get("loss", "l1"))
        rank, _ = dist_info()
        self.verbose = rank == 0
        d = self.data
        self.train_pairs = make_pairs(d["train"], self.scale, "train", d["train_limit"], d["quantize_lr"])
        self.valid_pairs = make_pairs(
            d["valid"], self.scale, "valid", d["valid_limit"], d["quantize_lr"], d["valid_max_size"]
        )
        self.teacher, extra = None, None
        if self.recipe in ("kd", "eco"):
            self.teacher, _ = load_teacher(self.teacher_cfg["model"], self.scale)
            cache = self.teacher_cfg["cache"]
            if cache == "auto":
                cache = Path(cfg.run.out).parent / "sr_teacher_cache"
            elif cache in (None, "none", False):
                cache = None
            extra = teacher_outputs(
                self.teacher, self.train_pairs, self.scale, self.teacher_cfg["tile"], cache, progress=self.verbose
            )
        self.sampler = PairSampler(
            self.train_pairs,
            self.scale,
            d["patch"],
            d["batch"],
            d["augment"],
            seed=cfg.run.seed + 1000 * rank,
            extra=extra,
        )

    # what the model card says -----------------------------------------------------------------
    @staticmethod
    def describe(cfg: dict) -> str:
        t = cfg["task"]
        spec = sr_models.resolve_preset(t.get("model") or {"preset": "edsr_baseline_s"}, int(t.get("scale", 2)))
        recipe = t.get("recipe", "vanilla")
        teacher = (t.get("teacher") or {}).get("model")
        how = {
            "vanilla": "L1 on the real pairs",
            "kd": f"L1 towards the teacher `{teacher}`'s SR (KD)",
            "eco": f"ECO: the teacher `{teacher}`'s noise-free pairs mixed with the real ones ({t.get('eco') or {}})",
        }
        return (
            f"×{spec['scale']} single-image super-resolution, `{spec['arch']}` "
            f"({', '.join(f'{k}={v}' for k, v in spec.items() if k not in ('arch', 'scale'))}), recipe {recipe}: "
            f"{how.get(recipe, recipe)}; MATLAB bicubic degradation. PSNR-Y / SSIM-Y on BT.601 Y, border = scale, "
            f"8-bit output (BasicSR conventions)."
        )

    @staticmethod
    def describe_data(task: dict) -> dict:
        d = {**DATA_DEFAULTS, **(task.get("data") or {})}
        out = {}
        for split in ("train", "valid"):
            src = d[split]
            names = DEMO_TRAIN if split == "train" else DEMO_VALID
            text = f"scikit-image photographs: {', '.join(names)}" if src == "demo" else str(src)
            out[split] = {"text": text + (", LR rounded to 8 bits" if d["quantize_lr"] else ", float LR")}
        return out

    @staticmethod
    def card_metrics(model, cfg: dict) -> dict:
        """PSNR-Y / SSIM-Y of the exported weights and of bicubic on the run's validation images."""
        t = cfg["task"]
        d, scale = {**DATA_DEFAULTS, **(t.get("data") or {})}, int(t.get("scale", 2))
        valid = make_pairs(d["valid"], scale, "valid", d["valid_limit"], d["quantize_lr"])
        m, b = evaluate(model, valid, scale), evaluate("bicubic", valid, scale)
        return {
            "valid_psnr_y": m["psnr_y"],
            "valid_ssim_y": m["ssim_y"],
            "bicubic_psnr_y": b["psnr_y"],
            "bicubic_ssim_y": b["ssim_y"],
        }

    # Task protocol ---------------------------------------------------------------------------
    def build_model(self):
        return build_model(self.spec)

    def model_spec(self, model) -> dict:
        return model.spec() if hasattr(model, "spec") else dict(self.spec)

    def next_batch(self):
        return self.sampler.sample()

    def teacher_weight(self, step: int, total: int) -> float:
        e = self.eco
        return eco_weight(step / max(1, total), e["shift"], e["schedule"], e["a"])

    def training_step(self, model, batch, step, total):
        lr, hr, logs = batch["lr"], batch["hr"], {}
        if self.recipe == "kd":
            hr = batch["hr_t"]
        elif self.recipe == "eco":
            a = self.teacher_weight(step, total)
            lr, hr = mix(lr, hr, batch["lr_t"], batch["hr_t"], a, batch["u"], self.eco["per_sample"])
            logs["eco_a"] = a
        return self.loss(model(lr), hr), logs

    def validate(self, model) -> dict[str, float]:
        return evaluate(model, self.valid_pairs, self.scale, tile=self.data["valid_tile"])

    def state_dict(self) -> dict:
        return {"sampler_rng": self.sampler.rng.bit_generator.state}

    def load_state_dict(self, state: dict) -> None:
        self.sampler.rng.bit_generator.state = state["sampler_rng"]


@torch.no_grad()
def evaluate(model, pairs, scale: int, tile: int = 0) -> dict[str, float]:
    """Mean PSNR-Y / SSIM-Y of ``model`` (or ``"bicubic"``) over ``pairs``."""
    sums: dict[str, float] = {}
    for p in pairs:
        if isinstance(model, str) and model == "bicubic":
            from .imresize import imresize

            sr = np.clip(imresize(p.lr.astype(np.float64), scale), 0, 1)
        else:
            x = torch.from_numpy(p.lr).permute(2, 0, 1)[None]
            sr = upscale_tensor(model, x, tile).clamp(0, 1)
        for k, v in sr_metrics(sr, p.hr, scale).items():
            sums[k] = sums.get(k, 0.0) + v
    return {k: v / len(pairs) for k, v in sums.items()}
