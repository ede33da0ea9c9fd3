"""One trainer (loop, checkpoints, resume, validation, distributed) and the tasks that plug into it."""

from .config import OptimConfig, RunConfig, TrainConfig, load_config  # noqa: F401
