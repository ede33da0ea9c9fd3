"""`neurecon train CONFIG.yaml`: build the task the config names (from the registry) and run the
trainer."""

from __future__ import annotations

from ..models import registry
from .config import TrainConfig, load_config
from .trainer import Trainer, maybe_init_distributed


def make_task(cfg: TrainConfig):
    return registry.task_factory(cfg.task.get("name"))(cfg)


def train_from_config(
    path_or_dict, overrides: list[str] | None = None, resume: bool = True, progress: bool = True
) -> Trainer:
    cfg = load_config(path_or_dict, overrides)
    maybe_init_distributed()  # tasks seed their samplers per rank
    trainer = Trainer(cfg, make_task(cfg), progress=progress)
    result = trainer.fit(resume=resume)
    if trainer.is_main:
        print(
            f"finished at step {result['step']}; best val {trainer.task.monitor} = {result['best']}; "
            f"outputs in {cfg.run.out}"
        )
    return trainer
