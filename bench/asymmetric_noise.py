"""Fig. 18 on the noise itself, over K independent renders per test scene: the command line of
neurecon.studies.asymmetric_noise (its docstring, printed by --help, describes the study).

    .venv/bin/python bench/asymmetric_noise.py --data data/mitsuba/test --model lambda --out bench/results/asym_noise
"""

from __future__ import annotations

import argparse

from neurecon.studies import asymmetric_noise


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(
        description=asymmetric_noise.__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--data", default="data/mitsuba/test")
    ap.add_argument("--model", default="lambda")
    ap.add_argument("--spp", type=int, nargs="+", default=[4, 16])
    ap.add_argument("--renders", type=int, default=24, help="independent renders per scene and spp (K)")
    ap.add_argument("--limit", type=int, default=None)
    ap.add_argument("--out", default="bench/results/asym_noise")
    ap.add_argument("--replot", action="store_true", help="redraw asymmetric_noise.png from the JSON in --out")
    a = ap.parse_args(argv)
    if a.replot:
        asymmetric_noise.replot(a.out)
        return 0
    asymmetric_noise.run(data=a.data, model=a.model, spp=a.spp, renders=a.renders, out=a.out, limit=a.limit)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
