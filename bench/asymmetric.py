"""λ control study (Vogels et al. 2018 §4, Fig. 17–18) on the test split: the command line of
neurecon.studies.asymmetric (its docstring, printed by --help, describes the study).

    .venv/bin/python bench/asymmetric.py --data data/mitsuba/test --model lambda --out bench/results
"""

from __future__ import annotations

import argparse

from neurecon.studies import asymmetric


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=asymmetric.__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default="data/mitsuba/test")
    ap.add_argument("--model", default="lambda")
    ap.add_argument("--spp", type=int, nargs="+", default=[4, 16])
    ap.add_argument("--out", default="bench/results")
    ap.add_argument("--limit", type=int, default=None)
    a = ap.parse_args(argv)
    asymmetric.run(data=a.data, model=a.model, spp=a.spp, out=a.out, limit=a.limit)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
