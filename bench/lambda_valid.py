"""Validate λ models on a λ config's validation set: the command line of
neurecon.studies.lambda_valid (its docstring, printed by --help, describes it).

    .venv/bin/python bench/lambda_valid.py lambda runs/pilot_lambda_b1/best.pt \
        --config configs/history/pilot_lambda_blocks.yaml --out bench/results/pilot_lambda_blocks_valid.json
"""

from __future__ import annotations

import argparse

from neurecon.studies import lambda_valid


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=lambda_valid.__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("models", nargs="+", help="shipped names or .pt paths")
    ap.add_argument(
        "--config", default="configs/denoise_lambda/high.yaml", help="the λ recipe whose validation set is used"
    )
    ap.add_argument("--out", required=True)
    a = ap.parse_args(argv)
    lambda_valid.run(models=a.models, config=a.config, out=a.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
