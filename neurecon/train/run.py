"""`neurecon train CONFIG.yaml`: build the task the config names (from the registry) and run the
trainer, stage after stage for a staged recipe."""

from __future__ import annotations

import json
from pathlib import Path

from ..models import registry
from .config import TrainConfig, load_stages
from .trainer import Trainer, maybe_init_distributed


def make_task(cfg: TrainConfig):
    return registry.task_factory(cfg.task.get("name"))(cfg)


def stage_finished(cfg: TrainConfig) -> bool:
    """The run reached its last iteration (its metrics log says so and best.pt exists)."""
    out = Path(cfg.run.out)
    if not (out / "best.pt").exists() or not (out / "metrics.jsonl").exists():
        return False
    steps = []
    for line in (out / "metrics.jsonl").read_text().splitlines():
        try:
            steps.append(json.loads(line).get("step", 0))
        except ValueError:
            continue
    return bool(steps) and max(steps) >= end_step(cfg)


def end_step(cfg: TrainConfig) -> int:
    """Where a run ends: run.stop_at when it cuts the schedule short, else run.iterations."""
    return min(cfg.run.stop_at, cfg.run.iterations) if cfg.run.stop_at else cfg.run.iterations


def train_from_config(
    path_or_dict,
    overrides: list[str] | None = None,
    resume: bool = True,
    progress: bool = True,
    stage: str | None = None,
) -> Trainer | None:
    """Train every stage of the recipe in order (finished stages are skipped, the first unfinished
    one resumes), or only `stage`. Returns the trainer of the last stage run (None when every
    stage had finished before)."""
    stages = load_stages(path_or_dict, overrides)
    if stage is not None:
        known = [n for n, _ in stages]
        if stage not in known:
            raise ValueError(f"no stage '{stage}' in the recipe; its stages: {known}")
        stages = [s for s in stages if s[0] == stage]
    maybe_init_distributed()  # tasks seed their samplers per rank
    trainer = None
    for name, cfg in stages:
        if len(stages) > 1 and resume and stage_finished(cfg):
            continue
        trainer = Trainer(cfg, make_task(cfg), progress=progress)
        if name and trainer.is_main:
            print(f"stage {name}: {cfg.run.out}")
        result = trainer.fit(resume=resume)
        if result["step"] < end_step(cfg):  # stopped on run.max_minutes: later stages must wait
            if trainer.is_main:
                where = f" stage {name}" if name else ""
                print(f"stopped at step {result['step']} of {end_step(cfg)}; the same command resumes{where}")
            return trainer
        if trainer.is_main:
            print(
                f"finished at step {result['step']}; best val {trainer.task.monitor} = {result['best']}; "
                f"outputs in {cfg.run.out}"
            )
    if trainer is None:
        print(f"every stage is finished; the last is in {stages[-1][1].run.out}")
    return trainer
