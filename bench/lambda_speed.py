"""How fast λ moves (full denoise vs a λ change of a cached session): the command line of
neurecon.studies.lambda_speed (its docstring, printed by --help, describes the benchmark).

    .venv/bin/python bench/lambda_speed.py --models lambda --size 256 --out bench/results/lambda_speed
"""

from __future__ import annotations

import argparse

from neurecon.studies import lambda_speed


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=lambda_speed.__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", nargs="+", default=["lambda"], help="λ models: shipped names or .pt paths")
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--precision", default="auto")
    ap.add_argument("--out", default="bench/results/lambda_speed")
    a = ap.parse_args(argv)
    lambda_speed.run(models=a.models, size=a.size, repeat=a.repeat, rounds=a.rounds, precision=a.precision, out=a.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
