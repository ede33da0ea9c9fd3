"""Validate λ models on a λ config's validation set, as its training run would: the asymmetric
loss at λ = 1, 2, 5 and 10 (and their mean), every model in fp32 on the same frames.

    .venv/bin/python bench/lambda_valid.py lambda runs/pilot_lambda_b1/best.pt \
        --config configs/pilot_lambda_blocks.yaml --out bench/results/pilot_lambda_blocks_valid.json
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from neurecon.models import load_model  # noqa: E402
from neurecon.train.config import load_config  # noqa: E402
from neurecon.train.run import make_task  # noqa: E402


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("models", nargs="+", help="shipped names or .pt paths")
    ap.add_argument("--config", default="configs/denoise_lambda_high.yaml")
    ap.add_argument("--out", required=True)
    a = ap.parse_args(argv)
    seeds = load_config(a.config).task["data"].get("train_seeds")
    # the task loads its training set too: keep one scene of it, validation is what is measured
    keep = [f"task.data.train_seeds=[{seeds[0]}, {seeds[0] + 1}]"] if seeds else ["task.data.train_limit=1"]
    task = make_task(load_config(a.config, [*keep, "task.data.pack=null"]))
    res = {}
    for name in a.models:
        model = load_model(name)[0].float().eval()
        with torch.no_grad():
            res[name] = task.validate(model)
        print(name, {k: round(v, 5) for k, v in res[name].items()}, flush=True)
    Path(a.out).write_text(json.dumps({"config": a.config, "valid": res}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
