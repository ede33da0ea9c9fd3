"""Speed and memory at production resolutions: the command line of neurecon.studies.resolution.

.venv/bin/python bench/resolution.py                       # fast, balanced, high and OIDN, 256² … 4K, fp32
.venv/bin/python bench/resolution.py --sizes 256² 1080p --precisions fp32 bf16 --no-rss
"""

from __future__ import annotations

import argparse

import torch

from neurecon.studies import resolution


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=resolution.__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", nargs="+", default=["fast", "balanced", "high"])
    ap.add_argument("--sizes", nargs="+", default=list(resolution.SIZES), choices=list(resolution.SIZES))
    ap.add_argument("--precisions", nargs="+", default=["fp32"], choices=["fp32", "bf16"])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--maxmem", type=int, default=2048, help="the denoiser's memory budget in MB (the default's)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--no-rss", action="store_true", help="skip the per-configuration peak-RSS subprocesses")
    ap.add_argument("--out", default="bench/results/resolution_speed")
    a = ap.parse_args(argv)
    torch.set_num_threads(a.threads)
    resolution.run(a.models, a.sizes, a.precisions, a.rounds, a.maxmem, not a.no_rss, a.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
