"""Adapting the default denoiser to Blender Cycles with N frames (Fig. 11 analogue): the command
line of neurecon.studies.sources (its docstring, printed by --help, describes the study).

    neurecon render --recipe configs/denoise_adapt/cycles.yaml        # Cycles train/valid/test (needs --cycles setup)
    .venv/bin/python bench/sources.py --frames 8 16 32 75 --scratch 32 75 \
        --mitsuba-test data/mitsuba128/test --table2   # → bench/results/sources/sources.{json,md,png}
"""

from __future__ import annotations

import argparse

from neurecon.studies import sources


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=sources.__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default="data/cycles", help="the new source's dataset root (train/, valid/)")
    ap.add_argument("--test", default="data/cycles/test")
    ap.add_argument("--frames", type=int, nargs="*", default=[8, 16, 32], help="adaptation set sizes N")
    ap.add_argument("--scratch", type=int, nargs="*", default=[], help="N for the from-scratch comparison")
    ap.add_argument("--base", default="default")
    ap.add_argument("--source", default="cycles")
    ap.add_argument("--spp", type=int, nargs="+", default=[4, 16])
    ap.add_argument("--runs", default="runs", help="where the adapt / scratch runs go (finished ones are reused)")
    ap.add_argument("--out", default="bench/results/sources")
    ap.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE", help="overrides for every training run")
    ap.add_argument("--limit", type=int, default=None, help="first N test scenes only")
    ap.add_argument(
        "--mitsuba-test",
        default=None,
        help="a Mitsuba test split (e.g. data/mitsuba128/test): adds the Table 2 analogue (needs --scratch)",
    )
    ap.add_argument(
        "--table2",
        nargs="?",
        const="data/mitsuba,data/cycles",
        default=None,
        metavar="A_ROOT,B_ROOT",
        help="train Table 2's four models from scratch (configs/denoise_sources/table2.yaml) on these "
        "Mitsuba and Cycles dataset roots (default data/mitsuba,data/cycles) and add them to --mitsuba-test's table",
    )
    ap.add_argument(
        "--adapter",
        nargs="*",
        default=[],
        metavar="NAME=PATH",
        help="more adapters of --base to evaluate (e.g. one trained by `neurecon adapt --first-block`)",
    )
    a = ap.parse_args(argv)
    extra = dict(item.split("=", 1) for item in a.adapter)
    table2 = dict(zip(("mitsuba", "cycles"), a.table2.split(","))) if a.table2 else None
    if table2 and not a.mitsuba_test:
        ap.error("--table2 needs --mitsuba-test (the A test split)")
    sources.run(
        data=a.data,
        test=a.test,
        frames=a.frames,
        out=a.out,
        runs=a.runs,
        base=a.base,
        source=a.source,
        spp=a.spp,
        scratch=a.scratch,
        overrides=a.set,
        limit=a.limit,
        mitsuba_test=a.mitsuba_test,
        extra=extra,
        table2=table2,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
