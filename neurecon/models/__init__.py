"""Models: the registry of architectures, tasks and shipped weights (:mod:`.registry`),
checkpoints (:mod:`.checkpoint`) and model cards (:mod:`.card`)."""

from .checkpoint import (
    CheckpointError,
    build_model,
    export_shipped,
    load_checkpoint,
    load_model,
    load_part,
    read_file,
    resolve,
    weights_digest,
)
from .registry import DEFAULTS, SHIPPED, WEIGHTS_DIR

__all__ = [
    "CheckpointError",
    "DEFAULTS",
    "SHIPPED",
    "WEIGHTS_DIR",
    "build_model",
    "export_shipped",
    "load_checkpoint",
    "load_model",
    "load_part",
    "read_file",
    "resolve",
    "weights_digest",
]
