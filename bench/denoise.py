"""Denoising benchmark (noisy / neurecon models / OIDN) on the test split: the command line of
neurecon.studies.denoise_bench (its docstring, printed by --help, describes the benchmark).

    .venv/bin/python bench/denoise.py --data data/mitsuba/test --out bench/results   # every preset
"""

from __future__ import annotations

import argparse

from neurecon.nn.precision import PRECISIONS
from neurecon.studies import denoise_bench


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(
        description=denoise_bench.__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--data", default="data/mitsuba/test")
    ap.add_argument(
        "--models",
        nargs="+",
        default=["fast", "balanced", "high", "kpcn"],
        help="shipped names or .pt paths; NAME:fp32 / NAME:bf16 fixes that model's precision",
    )
    ap.add_argument("--precision", default="auto", choices=PRECISIONS, help="for models without a :suffix")
    ap.add_argument("--spp", type=int, nargs="+", default=[4, 16])
    ap.add_argument("--out", default="bench/results")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument(
        "--oidn-fast",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="also run OIDN's quality='fast' mode (on the CPU its 'balanced' equals 'high'); "
        "ratios and targets stay against 'high'",
    )
    ap.add_argument("--limit", type=int, default=None, help="first N scenes only")
    a = ap.parse_args(argv)
    denoise_bench.run(
        data=a.data,
        models=a.models,
        precision=a.precision,
        spp=a.spp,
        out=a.out,
        repeat=a.repeat,
        oidn_fast=a.oidn_fast,
        limit=a.limit,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
