"""Diffuse/specular decomposition against the single-buffer model: the command line of
neurecon.studies.decompose (its docstring, printed by --help, describes the comparison).

    .venv/bin/python bench/decompose.py --bench runs/decompose_bench/denoise.json --pair SINGLE DECOMPOSED
"""

from __future__ import annotations

import argparse

from neurecon.studies import decompose


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=decompose.__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bench", required=True, help="denoise.json of a bench/denoise.py run with both models")
    ap.add_argument(
        "--pair", nargs=2, action="append", required=True, metavar=("SINGLE", "DECOMPOSED"), help="model names as run"
    )
    ap.add_argument("--out", default="bench/results")
    a = ap.parse_args(argv)
    decompose.run(a.bench, [tuple(p) for p in a.pair], a.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
