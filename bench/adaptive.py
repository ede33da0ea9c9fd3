"""Adaptive sampling benchmark (Fig. 9 / Fig. 19 analogues): the command line of
neurecon.studies.adaptive (its docstring, printed by --help, describes the study).

    .venv/bin/neurecon render --split test --scenes 8 --size 128 --spp 16 --ref-spp 1024 --out data/errormap
    .venv/bin/python bench/adaptive.py --data data/errormap --out bench/results/adaptive
"""

from __future__ import annotations

import argparse
import json

from neurecon.studies import adaptive


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=adaptive.__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default="data/errormap", help="a dataset root with test/ references")
    ap.add_argument("--out", default="bench/results/adaptive")
    ap.add_argument("--scenes", type=int, default=8)
    ap.add_argument("--size", type=int, default=128)
    ap.add_argument("--budgets", type=int, nargs="+", default=[16, 64])
    ap.add_argument(
        "--seeds",
        type=int,
        nargs="+",
        default=[7],
        help="render seeds; scores are means over them (per seed, every guide's first pass is the same)",
    )
    ap.add_argument("--predictor", default=None, help="error predictor (default: the shipped errormap)")
    a = ap.parse_args(argv)
    res = adaptive.run(a.data, a.out, a.scenes, a.size, a.budgets, a.seeds, a.predictor)
    print(json.dumps(res["targets"], indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
