"""Where a model's DSSIM differs from OIDN's, by region and by scale: the command line of
neurecon.studies.dssim_gap (its docstring, printed by --help, describes the study).

    .venv/bin/python bench/dssim_gap.py --model high --spp 4 --out bench/results
"""

from __future__ import annotations

import argparse

from neurecon.studies import dssim_gap


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=dssim_gap.__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="high", help="shipped name or .pt path")
    ap.add_argument("--data", default="data/mitsuba/test")
    ap.add_argument("--spp", type=int, nargs="+", default=[4])
    ap.add_argument("--precision", default="fp32")
    ap.add_argument("--out", default="bench/results")
    a = ap.parse_args(argv)
    dssim_gap.run(model=a.model, data=a.data, spp=a.spp, precision=a.precision, out=a.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
