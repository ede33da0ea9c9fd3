"""Kernel vs direct prediction, and single- vs multi-scale KPCN (Vogels et al. 2018 §8, §3.4): the
command line of neurecon.studies.kp_vs_dp (its docstring, printed by --help, describes the studies).

    .venv/bin/python bench/kp_vs_dp.py --iterations 1500 --out bench/results
"""

from __future__ import annotations

import argparse
from pathlib import Path

from neurecon.studies import kp_vs_dp

ROOT = Path(__file__).resolve().parents[1]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=kp_vs_dp.__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--iterations", type=int, default=1500)
    ap.add_argument("--data", default="data/mitsuba")
    ap.add_argument("--test", default="data/mitsuba/test")
    ap.add_argument("--runs", default="runs")
    ap.add_argument("--out", default="bench/results")
    a = ap.parse_args(argv)
    kp_vs_dp.run(iterations=a.iterations, data=a.data, test=a.test, runs=a.runs, out=a.out, root=ROOT)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
