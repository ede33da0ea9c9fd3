"""Ablation of the U-Net's gated albedo ratio on the test split: the command line of
neurecon.studies.albedo_ratio (its docstring, printed by --help, describes the study).

    .venv/bin/python bench/albedo_ratio.py --model high --out bench/results
"""

from __future__ import annotations

import argparse

from neurecon.studies import albedo_ratio


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=albedo_ratio.__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default="data/mitsuba/test")
    ap.add_argument("--model", default="high")
    ap.add_argument("--spp", type=int, nargs="+", default=[4, 16])
    ap.add_argument("--out", default="bench/results")
    a = ap.parse_args(argv)
    albedo_ratio.run(data=a.data, model=a.model, spp=a.spp, out=a.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
