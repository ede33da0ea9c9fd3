"""The denoisers on a hand-built evaluation family training never touches (issue 24): the
command line of neurecon.studies.evalset. Render the family first:

    .venv/bin/python -m neurecon render --evalset classic --size 256 --spp 4 16 --ref-spp 1024 --out data/eval_classic
    .venv/bin/python bench/evalset.py --data data/eval_classic --out bench/results/eval_classic
"""

from __future__ import annotations

import argparse

from neurecon.studies import evalset


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=evalset.__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default="data/eval_classic")
    ap.add_argument("--out", default="bench/results/eval_classic")
    ap.add_argument(
        "--models", nargs="+", default=["high", "fast", "balanced"], help="the first is on the contact sheet"
    )
    ap.add_argument("--spp", type=int, nargs="+", default=[4, 16])
    ap.add_argument("--repeat", type=int, default=1, help="timed runs per frame (throughput is not the point here)")
    ap.add_argument("--sheet-spp", type=int, default=4)
    ap.add_argument("--sheet-only", action="store_true", help="only (re)draw contact_sheet.jpg")
    a = ap.parse_args(argv)
    if a.sheet_only:
        evalset.write_sheet(a.data, f"{a.out}/contact_sheet.jpg", a.models[0], a.sheet_spp)
        return 0
    evalset.run(a.data, a.out, a.models, a.spp, a.repeat, a.sheet_spp)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
