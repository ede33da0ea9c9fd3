"""The one training loop every recipe runs on.

A *task* (denoising, super-resolution, a loss specialiser, …) says how to build the model, draw
a batch, compute the loss and validate; the trainer owns everything else: optimiser and LR
schedule, gradient clipping, an optional moving average of the weights (`optim.ema`),
`torch.distributed` (DDP over gloo on CPU), periodic validation with keep-the-best, atomic
checkpoints and exact resume (model, optimiser, schedule, step and every RNG, including the
task's), JSONL metrics, a training-curve PNG and optional TensorBoard.

Layout of `run.out`:  last.pt (resume), best.pt (weights + spec of the best validation),
metrics.jsonl, curves.png, config.yaml.
"""

from __future__ import annotations

import copy
import json
import math
import os
import random
import time
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch
import yaml
from torch import nn

from ..io.atomic import atomic_save, atomic_write_text
from ..models.checkpoint import read_file
from ..nn import precision
from .config import TrainConfig


class Task(Protocol):
    """What a task gives the trainer. A task with further optimised modules of its own (a GAN's
    discriminator, an actor–critic's critic) owns them and their optimisers, steps them itself —
    inside ``training_step``, or in the optional ``after_step(model, step, total) -> logs``, which the
    trainer calls right after the model's own optimiser step (e.g. the discriminator's update on the
    generator's detached output) — and keeps their weights and optimiser states in its
    ``state_dict``, so that resume stays exact."""

    monitor: str  # validation metric used to keep the best model
    monitor_mode: str  # "min" or "max"

    def build_model(self) -> nn.Module: ...
    def next_batch(self) -> Any: ...
    def training_step(self, model: nn.Module, batch: Any, step: int, total: int) -> tuple[torch.Tensor, dict]: ...
    def validate(self, model: nn.Module) -> dict[str, float]: ...
    def model_spec(self, model: nn.Module) -> dict: ...
    def state_dict(self) -> dict: ...
    def load_state_dict(self, state: dict) -> None: ...


def dist_info() -> tuple[int, int]:
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        return torch.distributed.get_rank(), torch.distributed.get_world_size()
    return 0, 1


def maybe_init_distributed() -> tuple[int, int]:
    """Join the process group torchrun describes in the environment (gloo: CPU-friendly)."""
    if int(os.environ.get("WORLD_SIZE", "1")) > 1 and not torch.distributed.is_initialized():
        torch.distributed.init_process_group("gloo")
    return dist_info()


def build_optimizer(params, cfg) -> torch.optim.Optimizer:
    params = [p for p in params if p.requires_grad]
    if cfg.name == "adam":
        return torch.optim.Adam(params, lr=cfg.lr, betas=cfg.betas, weight_decay=cfg.weight_decay)
    if cfg.name == "lamb":
        from .lamb import Lamb

        return Lamb(params, lr=cfg.lr, betas=cfg.betas, weight_decay=cfg.weight_decay)
    raise ValueError(f"unknown optimizer '{cfg.name}'; choose adam or lamb")


def lr_factor(step: int, total: int, cfg) -> float:
    if cfg.warmup and step < cfg.warmup:
        return (step + 1) / cfg.warmup
    if cfg.schedule == "constant":
        return 1.0
    if cfg.schedule == "cosine":
        t = (step - cfg.warmup) / max(1, total - cfg.warmup)
        return cfg.min_lr_ratio + (1 - cfg.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * min(1.0, t)))
    raise ValueError(f"unknown schedule '{cfg.schedule}'; choose constant or cosine")


def _rng_state() -> dict:
    """Every global RNG's state as tensors, lists and numbers, so `last.pt` loads with
    ``weights_only=True`` (numpy's legacy state holds an ndarray, which would need a pickled global)."""
    name, keys, pos, has_gauss, gauss = np.random.get_state()
    version, internal, gauss_next = random.getstate()
    return {
        "torch": torch.get_rng_state(),
        "numpy": {
            "name": str(name),
            "keys": torch.from_numpy(np.asarray(keys, dtype=np.int64)),  # uint32 values, exactly
            "pos": int(pos),
            "has_gauss": int(has_gauss),
            "gauss": float(gauss),
        },
        "python": {"version": version, "state": list(internal), "gauss_next": gauss_next},
    }


def _set_rng_state(s: dict) -> None:
    torch.set_rng_state(s["torch"])
    n, p = s["numpy"], s["python"]
    keys = n["keys"].numpy().astype(np.uint32)
    np.random.set_state((n["name"], keys, n["pos"], n["has_gauss"], n["gauss"]))
    random.setstate((p["version"], tuple(p["state"]), p["gauss_next"]))


def _plain(x):
    """Tuples as lists, for comparing a saved config or spec with the current one."""
    if isinstance(x, dict):
        return {k: _plain(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_plain(v) for v in x]
    return x


def _differences(saved: dict, now: dict, prefix: str = "") -> list[str]:
    """`key: saved → now` for every leaf that differs (nested dicts by dotted key)."""
    out = []
    for k in sorted(set(saved) | set(now), key=str):
        a, b = saved.get(k, "(unset)"), now.get(k, "(unset)")
        if isinstance(a, dict) and isinstance(b, dict):
            out += _differences(a, b, f"{prefix}{k}.")
        elif _plain(a) != _plain(b):
            out.append(f"{prefix}{k}: {a!r} → {b!r}")
    return out


TRAINING_KEYS = ("model", "optim", "sched", "step", "best", "rng", "task", "config")
RESTART_HINT = "to start the run over, pass --restart (or give it another run.out)"


class WeightEMA:
    """Exponential moving average of a model's weights (floating-point parameters and buffers;
    other buffers are copied). When the loss is dominated by a few pixels (fireflies, the λ = 10
    side of the asymmetric loss) the last step's weights jitter from one validation to the next;
    their average does not, so validation, keep-the-best and best.pt use it."""

    def __init__(self, model: nn.Module, decay: float):
        if not 0.0 < decay < 1.0:
            raise ValueError(f"optim.ema must be in (0, 1) (0 turns it off), got {decay}")
        self.decay = decay
        self.model = copy.deepcopy(model).eval().requires_grad_(False)

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        for avg, new in zip(self.model.state_dict().values(), model.state_dict().values(), strict=True):
            if avg.is_floating_point():
                avg.lerp_(new, 1.0 - self.decay)
            else:
                avg.copy_(new)


class Autocast(nn.Module):
    """Runs the wrapped network's forward with the bf16 conv trunk of inference (nn/precision.py);
    the loss is computed outside, on fp32 outputs."""

    def __init__(self, net: nn.Module):
        super().__init__()
        self.net = net

    def forward(self, *args, **kw):
        with precision.trunk("bf16"):
            out = self.net(*args, **kw)
        return precision.widen(out) if isinstance(out, torch.Tensor) else out


class Trainer:
    def __init__(self, config: TrainConfig, task: Task, progress: bool = True):
        self.cfg, self.task, self.progress = config, task, progress
        self.rank, self.world = maybe_init_distributed()
        if config.run.threads:
            torch.set_num_threads(config.run.threads)
        torch.manual_seed(config.run.seed + self.rank)
        np.random.seed(config.run.seed + self.rank)
        random.seed(config.run.seed + self.rank)
        self.out = Path(config.run.out)
        self.model = task.build_model()
        self.net = self.model
        if self.world > 1:
            # a step may leave parts unused (e.g. the encoders of other sources): tell DDP
            self.net = nn.parallel.DistributedDataParallel(self.model, find_unused_parameters=True)
        if config.run.precision not in ("fp32", "bf16"):
            raise ValueError(f"run.precision must be fp32 or bf16, got {config.run.precision!r}")
        if config.run.precision == "bf16":
            # mixed precision: the conv trunk in bf16 (1.3–1.5× the steps per second on a CPU
            # with native bf16), heads and compositor stay fp32 (nn/precision.py), so does the loss
            self.net = Autocast(self.net)
        self.opt = build_optimizer(self.model.parameters(), config.optim)
        self.ema = WeightEMA(self.model, config.optim.ema) if config.optim.ema else None
        self.sched = torch.optim.lr_scheduler.LambdaLR(
            self.opt, lambda s: lr_factor(s, config.run.iterations, config.optim)
        )
        self.step = 0
        self.elapsed_before = 0.0  # training seconds of earlier sessions (resume)
        self._t0 = time.perf_counter()
        self.best: float | None = None
        self.history: list[dict] = []
        self._tb: Any = None  # a tensorboard SummaryWriter once the first record is logged

    # checkpoints ------------------------------------------------------------------------
    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def checkpoint(self) -> dict:
        return {
            "spec": self.task.model_spec(self.model),
            "model": self.model.state_dict(),
            "optim": self.opt.state_dict(),
            "sched": self.sched.state_dict(),
            "step": self.step,
            "best": self.best,
            "rng": _rng_state(),
            "task": self.task.state_dict(),
            "config": self.cfg.to_dict(),
            "world": self.world,
            "elapsed_s": self.elapsed,
            **({"ema": self.ema.model.state_dict()} if self.ema else {}),
        }

    @property
    def eval_model(self) -> nn.Module:
        """What validation scores and best.pt holds: the weight average if there is one."""
        return self.ema.model if self.ema else self.model

    @property
    def elapsed(self) -> float:
        return self.elapsed_before + time.perf_counter() - self._t0

    def save_last(self) -> None:
        if self.is_main:
            atomic_save(self.checkpoint(), self.out / "last.pt")

    def resume(self) -> bool:
        """Continue from `last.pt`: weights, optimiser, schedule, step, RNGs and the task's state;
        `metrics.jsonl` is cut back to the checkpoint's step (a torn last line dropped). A file
        that is not this run's checkpoint is a ValueError that suggests --restart."""
        path = self.out / "last.pt"
        if not path.exists():
            return False
        try:
            ck = read_file(path)
        except ValueError as e:
            raise ValueError(f"cannot resume: {e}; {RESTART_HINT}") from None
        missing = [k for k in TRAINING_KEYS if k not in ck]
        if missing:
            raise ValueError(
                f"cannot resume from {path}: not a training checkpoint (no {', '.join(missing)}); {RESTART_HINT}"
            )
        try:
            self._load_training_state(ck)
        except (RuntimeError, ValueError, KeyError, TypeError, IndexError, AttributeError) as e:
            saved = ck["config"] if isinstance(ck["config"], dict) else {}
            now = self.cfg.to_dict()
            diff = _differences(
                {k: saved.get(k, {}) for k in ("task", "optim")}, {k: now[k] for k in ("task", "optim")}
            )
            reason = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            raise ValueError(
                f"cannot resume from {path}: the checkpoint does not match this config ({reason}"
                + (f"; changed since it was saved: {'; '.join(diff[:6])}" if diff else "")
                + f"); {RESTART_HINT}"
            ) from None
        self._truncate_metrics()
        return True

    def _load_training_state(self, ck: dict) -> None:
        self.model.load_state_dict(ck["model"])
        if self.ema:  # a run that turns the average on mid-way starts it from the current weights
            self.ema.model.load_state_dict(ck.get("ema", ck["model"]))
        self.opt.load_state_dict(ck["optim"])
        self.sched.load_state_dict(ck["sched"])
        self.step, self.best = int(ck["step"]), ck["best"]
        saved_ema = ck["config"]["optim"].get("ema", 0.0)
        if saved_ema != self.cfg.optim.ema:
            # the kept best was scored on other weights (raw vs averaged): compare afresh
            self.best = None
            if self.is_main:
                print(
                    f"optim.ema changed ({saved_ema} → {self.cfg.optim.ema}) on resume: "
                    "the best validation so far is forgotten, best.pt is replaced at the next check"
                )
        self.elapsed_before = ck.get("elapsed_s", 0.0)
        _set_rng_state(ck["rng"])
        self.task.load_state_dict(ck["task"])

    def _truncate_metrics(self) -> None:
        """Keep the records up to the checkpoint's step (a run killed after it logged steps the
        resumed run logs again) and drop unparsable lines (torn by the kill); rewrite the file so."""
        mpath = self.out / "metrics.jsonl"
        if not mpath.exists():
            return
        kept_lines, self.history = [], []
        for line in mpath.read_text(errors="replace").splitlines():
            try:
                rec = json.loads(line)
            except ValueError:
                continue
            step = rec.get("step", 0) if isinstance(rec, dict) else None
            if isinstance(step, (int, float)) and step <= self.step:
                kept_lines.append(line)
                self.history.append(rec)
        if self.is_main:
            atomic_write_text(mpath, "".join(line + "\n" for line in kept_lines))

    # logging ----------------------------------------------------------------------------
    def log(self, record: dict) -> None:
        if not self.is_main:
            return
        self.history.append(record)
        with open(self.out / "metrics.jsonl", "a") as f:
            f.write(json.dumps(record) + "\n")
        if self.cfg.run.tensorboard:
            if self._tb is None:
                from torch.utils.tensorboard import SummaryWriter

                self._tb = SummaryWriter(str(self.out / "tb"))
            for k, v in record.items():
                if k != "step" and isinstance(v, (int, float)):
                    self._tb.add_scalar(k, v, record["step"])

    def plot(self) -> None:
        if self.is_main and self.history:
            from .curves import plot_history

            plot_history(self.history, self.out / "curves.png", monitor=self.task.monitor)

    # the loop ---------------------------------------------------------------------------
    def validate(self) -> dict:
        model = self.eval_model
        model.eval()
        with torch.no_grad():
            metrics = self.task.validate(model)
        self.model.train()
        value = float(metrics[self.task.monitor])
        better = self.best is None or (value < self.best if self.task.monitor_mode == "min" else value > self.best)
        if better:
            self.best = value
            if self.is_main:
                atomic_save(
                    {
                        "spec": self.task.model_spec(model),
                        "model": model.state_dict(),
                        "step": self.step,
                        self.task.monitor: value,
                        "config": self.cfg.to_dict(),
                        "world": self.world,
                    },
                    self.out / "best.pt",
                )
        self.log({"step": self.step, **{f"val_{k}": v for k, v in metrics.items()}})
        return metrics

    def fit(self, resume: bool = True) -> dict:
        from tqdm import tqdm

        run = self.cfg.run
        resumed = resume and self.resume()  # before config.yaml: a failed resume leaves the run as it was
        if self.is_main:
            self.out.mkdir(parents=True, exist_ok=True)
            atomic_write_text(self.out / "config.yaml", yaml.safe_dump(self.cfg.to_dict(), sort_keys=False))
        if resumed and self.is_main:
            print(f"resumed from {self.out / 'last.pt'} at step {self.step}")
        elif not resumed and self.is_main and (self.out / "metrics.jsonl").exists():
            (self.out / "metrics.jsonl").unlink()
        t0 = self._t0 = time.perf_counter()
        bar = tqdm(
            total=run.iterations,
            initial=self.step,
            disable=not (self.progress and self.is_main),
            desc=f"train {self.out.name}",
            unit="it",
        )
        self.model.train()
        running: dict[str, float] = {}
        n_run = 0
        # run.stop_at ends a run early on purpose (a stage cut short of its schedule)
        end = min(run.stop_at, run.iterations) if run.stop_at else run.iterations
        while self.step < end:
            batch = self.task.next_batch()
            loss, logs = self.task.training_step(self.net, batch, self.step, run.iterations)
            if not torch.isfinite(loss):
                raise FloatingPointError(f"loss became {loss.item()} at step {self.step}; last checkpoint is intact")
            self.opt.zero_grad(set_to_none=True)
            loss.backward()
            if self.cfg.optim.grad_clip > 0:
                logs["grad_norm"] = float(nn.utils.clip_grad_norm_(self.model.parameters(), self.cfg.optim.grad_clip))
            self.opt.step()
            self.sched.step()
            after_step = getattr(self.task, "after_step", None)
            if after_step is not None:  # the task's own modules (e.g. a discriminator) step here
                logs.update(after_step(self.net, self.step, run.iterations) or {})
            if self.ema:
                self.ema.update(self.model)
            self.step += 1
            for k, v in {"loss": float(loss.detach()), **logs}.items():
                running[k] = running.get(k, 0.0) + float(v)
            n_run += 1
            bar.update(1)
            if self.step % run.log_every == 0 or self.step == end:
                rec = {k: v / n_run for k, v in running.items()}
                bar.set_postfix(loss=f"{rec['loss']:.4f}")
                self.log(
                    {"step": self.step, "lr": self.sched.get_last_lr()[0], "elapsed_s": round(self.elapsed, 2), **rec}
                )
                running, n_run = {}, 0
            if self.step % run.val_every == 0 or self.step == end:
                if self.is_main:
                    self.validate()
                    self.plot()
                if self.world > 1:
                    torch.distributed.barrier()
            if self.step % run.ckpt_every == 0 or self.step == end:
                self.save_last()
            if run.max_minutes and time.perf_counter() - t0 > 60 * run.max_minutes:
                self.save_last()
                if self.is_main:
                    print(f"stopping at step {self.step}: max_minutes={run.max_minutes} reached (resume to continue)")
                break
        bar.close()
        return {"step": self.step, "best": self.best, "seconds": time.perf_counter() - t0}
