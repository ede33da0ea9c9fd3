"""`neurecon train CONFIG.yaml`: pick the task named in the config and run the trainer."""
from __future__ import annotations

from typing import Callable

from .config import TrainConfig, load_config
from .trainer import Trainer, maybe_init_distributed

TASKS: dict[str, Callable[[TrainConfig], object]] = {}


def register_task(name: str):
    def deco(factory):
        TASKS[name] = factory
        return factory
    return deco


@register_task("denoise")
def _denoise(cfg: TrainConfig):
    from .denoise_task import DenoiseTask

    return DenoiseTask(cfg)


@register_task("denoise_lambda")
def _denoise_lambda(cfg: TrainConfig):
    from .denoise_task import LambdaTask

    return LambdaTask(cfg)


def _load_plugins() -> None:
    try:
        from ..sr import tasks as _  # noqa: F401  (registers "sr" recipes)
    except ImportError:
        pass


def make_task(cfg: TrainConfig):
    name = cfg.task.get("name")
    if name not in TASKS:
        _load_plugins()
    if name not in TASKS:
        raise ValueError(f"unknown task '{name}' in config; known: {sorted(TASKS)}")
    return TASKS[name](cfg)


def train_from_config(path_or_dict, overrides: list[str] | None = None, resume: bool = True, progress: bool = True) -> Trainer:
    cfg = load_config(path_or_dict, overrides)
    maybe_init_distributed()  # tasks seed their samplers per rank
    trainer = Trainer(cfg, make_task(cfg), progress=progress)
    result = trainer.fit(resume=resume)
    if trainer.is_main:
        print(f"finished at step {result['step']}; best val {trainer.task.monitor} = {result['best']}; "
              f"outputs in {cfg.run.out}")
    return trainer
