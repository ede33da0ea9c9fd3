"""Blind-SR study (AMNet / AMGAN / AMGAN* / AMGAN-RL, ×4): the command line of
neurecon.studies.blind_sr (its docstring, printed by --help, describes the study).

    python bench/blind_sr.py                # train (or resume / read) every run, score, write the results
    python bench/blind_sr.py --skip-train   # only read finished runs
    python bench/blind_sr.py --export       # also ship amnet_x4, amgan_x4 and the actors with their cards
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from neurecon.studies import blind_sr

ROOT = Path(__file__).resolve().parents[1]


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=blind_sr.__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--configs", default=str(ROOT / "configs" / "blind_sr"), help="folder of the blind_sr recipes")
    p.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE", help="override entries of every recipe")
    p.add_argument("--only", nargs="*", help=f"train only these runs ({', '.join(blind_sr.RUNS)})")
    p.add_argument("--skip-train", action="store_true", help="only read finished runs")
    p.add_argument("--export", action="store_true", help="ship the generators and actors with their cards")
    p.add_argument("--threads", type=int, default=1, help="torch threads for scoring (default 1)")
    p.add_argument("--out", default=str(ROOT / "bench" / "results" / "blind_sr"))
    p.add_argument("--quiet", action="store_true")
    a = p.parse_args(argv)
    torch.set_num_threads(a.threads)
    blind_sr.run(
        root=ROOT,
        configs=a.configs,
        out=a.out,
        overrides=a.set,
        skip_train=a.skip_train,
        export_all=a.export,
        quiet=a.quiet,
        only=a.only,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
