"""The one registry: architectures, training tasks and shipped models, each filled from the
explicit lists below (nothing registers itself on import, nothing is looked up on a miss).

Architectures map a spec's ``arch`` to a builder in :mod:`neurecon.models.archs` (core code).
Tasks are named by ``module:Class`` strings and imported when a config asks for them, so the core
(trainer, cards) never imports a task. Code outside the package adds its own with
:func:`register_arch`, :func:`register_task` and :func:`register_shipped`; a name that is taken is
refused.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from torch import nn

from . import archs

WEIGHTS_DIR = Path(__file__).parent / "weights"


@dataclass(frozen=True)
class Shipped:
    file: str  # in WEIGHTS_DIR
    task: str  # the task (a key of TASKS) whose recipe trained it


ARCHS: dict[str, Callable[[dict], nn.Module]] = {}
TASKS: dict[str, str] = {}
SHIPPED: dict[str, Shipped] = {}
# what a task's inference uses when no model is named ("sr": per scale)
DEFAULTS: dict[str, Any] = {
    "denoise": "default",
    "sr": {2: "sr_teacher_x2"},
    "relight": "relight",
    # `neurecon upscale --blind` / `--sigma`: the degradation-modulated generator and its actor, per scale
    "blind_sr": {4: {"generator": "amnet_x4", "actor": "blind_actor_rl_x4"}},
}


def _add(table: dict, kind: str, name: str, value) -> None:
    if name in table:
        raise ValueError(f"{kind} '{name}' is already registered")
    table[name] = value


def register_arch(name: str, builder: Callable[[dict], nn.Module]) -> None:
    _add(ARCHS, "architecture", name, builder)


def register_task(name: str, target: str) -> None:
    """`target` is ``"package.module:Factory"``; the factory takes a TrainConfig."""
    if ":" not in target:
        raise ValueError(f"task target '{target}' is not 'module:attribute'")
    _add(TASKS, "task", name, target)


def register_shipped(name: str, file: str, task: str) -> None:
    _add(SHIPPED, "shipped model", name, Shipped(file, task))


for _name, _builder in [
    ("kpcn", archs.kpcn),
    ("kpcn_ms", archs.kpcn_ms),
    ("unet", archs.unet),
    ("kpcn_lambda", archs.kpcn_lambda),
    ("unet_lambda", archs.unet_lambda),
    ("edsr", archs.edsr),
    ("rcan", archs.rcan),
    ("relight_unet", archs.relight_unet),
    ("unet_temporal", archs.unet_temporal),
    ("amnet", archs.amnet),
    ("degradation_estimator", archs.degradation_estimator),
    ("error_predictor", archs.error_predictor),
]:
    register_arch(_name, _builder)

for _name, _target in [
    ("denoise", "neurecon.tasks.denoise.task:DenoiseTask"),
    ("error_predict", "neurecon.tasks.error_predict.task:ErrorPredictTask"),
    ("denoise_lambda", "neurecon.tasks.denoise.lambda_task:LambdaTask"),
    ("denoise_adapt", "neurecon.tasks.denoise.adapt:AdaptTask"),
    ("sr", "neurecon.tasks.sr.task:SRTask"),
    ("relight", "neurecon.tasks.relight.task:RelightTask"),
    ("denoise_temporal", "neurecon.tasks.denoise_temporal.task:TemporalTask"),
    ("blind_sr", "neurecon.tasks.blind_sr.task:BlindSRTask"),
]:
    register_task(_name, _target)

# "default" is what Denoiser.load() gives without a name: the best quality at ≥ OIDN's throughput
# (docs/generalise.md); "lambda" is the λ control of `high_v1`, the default it was trained on
for _name, _file, _task in [
    ("default", "unet_high.pt", "denoise"),
    ("high", "unet_high.pt", "denoise"),
    # the default until the grammar fine-tune (docs/generalise.md); the Cycles adapter and the error
    # predictor were trained on its weights and load onto it
    ("high_v1", "unet_high_v1.pt", "denoise"),
    ("fast", "unet_fast.pt", "denoise"),
    ("balanced", "unet_balanced.pt", "denoise"),
    ("kpcn", "kpcn_default.pt", "denoise"),
    ("lambda", "unet_high_lambda.pt", "denoise_lambda"),
    ("high_lambda", "unet_high_lambda.pt", "denoise_lambda"),
    ("balanced_lambda", "unet_balanced_lambda.pt", "denoise_lambda"),
    ("kpcn_lambda", "kpcn_lambda.pt", "denoise_lambda"),
    # adapters (a shipped adapter loads onto the base it was trained on): a Cycles encoder (§7.1)
    ("default+cycles", "unet_high_cycles.pt", "denoise_adapt"),
    ("high+cycles", "unet_high_cycles.pt", "denoise_adapt"),
    ("high_v1+cycles", "unet_high_v1_cycles.pt", "denoise_adapt"),
    ("sr_teacher_x2", "sr_teacher_x2.pt", "sr"),
    ("sr_vanilla_x2", "sr_vanilla_x2.pt", "sr"),
    ("sr_eco_x2", "sr_eco_x2.pt", "sr"),
    ("relight", "relight_unet.pt", "relight"),
    # temporal denoisers (§3.3) on the frozen `fast` backbone: 3- and 7-frame windows
    ("temporal_m1", "unet_fast_temporal_m1.pt", "denoise_temporal"),
    ("temporal_m3", "unet_fast_temporal_m3.pt", "denoise_temporal"),
    ("amnet_x4", "amnet_x4.pt", "blind_sr"),
    ("amgan_x4", "amgan_x4.pt", "blind_sr"),
    ("blind_actor_x4", "blind_actor_x4.pt", "blind_sr"),
    ("blind_actor_rl_x4", "blind_actor_rl_x4.pt", "blind_sr"),
    ("amgan_actor_rl_x4", "amgan_actor_rl_x4.pt", "blind_sr"),
    # error maps of the default denoiser's output (SMAPE, relMSE, DSSIM) for adaptive sampling (§5)
    ("errormap", "errormap_high.pt", "error_predict"),
]:
    register_shipped(_name, _file, _task)


def arch(name: str | None) -> Callable[[dict], nn.Module]:
    if name not in ARCHS:
        raise ValueError(f"unknown architecture '{name}'; known: {sorted(ARCHS)}")
    return ARCHS[name]


def task_factory(name: str | None) -> Any:
    """The task class a config's `task.name` names, imported now."""
    if name not in TASKS:
        raise ValueError(f"unknown task '{name}' in config; known: {sorted(TASKS)}")
    module, attr = TASKS[name].split(":")
    return getattr(importlib.import_module(module), attr)


def shipped_names(file: str) -> set[str]:
    """Every shipped name of one weights file."""
    return {n for n, s in SHIPPED.items() if s.file == file}
