"""Validate λ models on a λ config's validation set, as its training run would: the asymmetric
loss at λ = 1, 2, 5 and 10 (and their mean), every model in fp32 on the same frames.

    .venv/bin/python bench/lambda_valid.py lambda runs/pilot_lambda_b1/best.pt \\
        --config configs/history/pilot_lambda_blocks.yaml --out bench/results/pilot_lambda_blocks_valid.json
"""

from __future__ import annotations

from pathlib import Path

import torch

from .common import write_json


def validation_task(config: str | Path):
    """The config's task with its training set cut to one scene (it is loaded, not measured) and
    no packing."""
    from ..train.config import load_config
    from ..train.run import make_task

    seeds = load_config(config).task["data"].get("train_seeds")
    keep = [f"task.data.train_seeds=[{seeds[0]}, {seeds[0] + 1}]"] if seeds else ["task.data.train_limit=1"]
    return make_task(load_config(config, [*keep, "task.data.pack=null"]))


def validate(models: list[str], task) -> dict[str, dict[str, float]]:
    """The task's validation of every model (a shipped name or a .pt path), in fp32."""
    from ..models import load_model

    res = {}
    for name in models:
        model = load_model(name)[0].float().eval()
        with torch.no_grad():
            res[name] = task.validate(model)
        print(name, {k: round(v, 5) for k, v in res[name].items()}, flush=True)
    return res


def run(models: list[str], config: str, out: str | Path) -> dict:
    """Validate `models` on `config`'s validation set; writes {"config", "valid"} to `out`."""
    result = {"config": config, "valid": validate(models, validation_task(config))}
    write_json(out, result)
    return result
