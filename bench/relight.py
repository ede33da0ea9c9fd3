"""Relighting: progressive vs direct training of the relighting U-Net, both against the nearest,
barycentric and k-nearest baselines, on held-out lights of held-out objects: the command line of
neurecon.studies.relight (its docstring, printed by --help, describes the study).

    neurecon render --recipe configs/relight/default.yaml      # the OLAT data (train / valid / test)
    .venv/bin/python bench/relight.py                           # train (or resume / read) both runs, evaluate
    .venv/bin/python bench/relight.py --skip-train              # only read finished runs
"""

from __future__ import annotations

import argparse

from neurecon.studies import relight


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=relight.__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--recipe", default="configs/relight/default.yaml")
    ap.add_argument("--runs", default="runs")
    ap.add_argument("--out", default="bench/results/relight")
    ap.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE", help="overrides for both runs")
    ap.add_argument("--skip-train", action="store_true")
    ap.add_argument("--test-split", default="test")
    a = ap.parse_args(argv)
    result = relight.run(a.recipe, a.out, a.runs, a.set, a.skip_train, a.test_split)
    print(relight.table(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
