"""Temporal stability benchmark (noisy / OIDN / neurecon single-frame / temporal M = 1, 3): the command
line of neurecon.studies.temporal (its docstring, printed by --help, describes the benchmark).

    neurecon render --sequence --split test --scenes 1 --seed 6000 --frames 24 --motion seeds --ref-spp 1024
    neurecon render --sequence --split test --scenes 2 --seed 5000 --frames 12 --motion orbit+objects --ref-spp 512
    .venv/bin/python bench/temporal.py --data data/temporal/test --out bench/results/temporal
"""

from __future__ import annotations

import argparse

from neurecon.nn.precision import PRECISIONS
from neurecon.studies import temporal


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=temporal.__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default="data/temporal/test")
    ap.add_argument("--single", default="fast", help="the single-frame model (the temporal models' backbone)")
    ap.add_argument(
        "--temporal", nargs="+", default=["temporal_m1", "temporal_m3"], help="shipped names, or LABEL=path.pt"
    )
    ap.add_argument("--no-causal", dest="causal", action="store_false", help="skip temporal_m3 in causal mode")
    ap.add_argument("--spp", type=int, nargs="+", default=[4, 16])
    ap.add_argument("--precision", default="auto", choices=PRECISIONS)
    ap.add_argument("--out", default="bench/results/temporal")
    a = ap.parse_args(argv)
    r = temporal.run(a.data, a.single, tuple(a.temporal), a.causal, tuple(a.spp), a.out, a.precision)
    for kind, by_spp in r["targets"].items():
        for s, ms in by_spp.items():
            for m, t in ms.items():
                print(kind, f"{s}spp", m, {k: round(v, 3) for k, v in t.items() if k != "met"}, t["met"])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
