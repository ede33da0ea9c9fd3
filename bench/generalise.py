"""The denoisers beyond their training generator (issue 24): the command line of
neurecon.studies.generalise. Render the sets first:

    neurecon render --split test --scenes 8 --size 128 --spp 4 16 --ref-spp 1024 --out data/mitsuba128
    neurecon render --evalset classic --size 256 --spp 4 16 --ref-spp 1024 --out data/eval_classic
    python bench/generalise.py --models high=default fast balanced --out bench/results/generalise
"""

from __future__ import annotations

import argparse

from neurecon.studies import generalise


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=generalise.__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", nargs="+", default=["high=default", "fast", "balanced"], help="LABEL=SPEC or SPEC")
    ap.add_argument(
        "--set",
        nargs="+",
        default=[f"{k}={v}" for k, v in generalise.DEFAULT_SETS.items()],
        help="NAME=DIR test sets (missing ones are skipped and recorded); 'home' is the gap's baseline",
    )
    ap.add_argument("--spp", type=int, nargs="+", default=[4, 16])
    ap.add_argument("--limit", type=int, default=None, help="first N scenes of each set")
    ap.add_argument("--out", default="bench/results/generalise")
    a = ap.parse_args(argv)
    sets = dict(s.split("=", 1) for s in a.set)
    generalise.run(sets, generalise.parse_models(a.models), a.spp, a.out, a.limit)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
