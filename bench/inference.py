"""CPU inference tuning (layouts, bf16, torch.compile, OIDN as yardstick): the command line of
neurecon.studies.inference (its docstring, printed by --help, describes the benchmark).

    .venv/bin/python bench/inference.py --models fast balanced high kpcn --size 256 --out bench/results
"""

from __future__ import annotations

import argparse

from neurecon.studies import inference


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=inference.__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", nargs="+", default=["fast", "balanced", "high", "kpcn"])
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--repeat", type=int, default=7)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--compile", action="store_true", help="also time torch.compile (minutes of compile time)")
    ap.add_argument(
        "--bf16",
        action="store_true",
        help="time the bf16 trunk (nn/precision.py) even where the CPU only emulates bf16",
    )
    ap.add_argument("--out", default="bench/results")
    a = ap.parse_args(argv)
    inference.run(
        models=a.models, size=a.size, repeat=a.repeat, rounds=a.rounds, out=a.out, compile=a.compile, bf16=a.bf16
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
