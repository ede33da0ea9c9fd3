"""Speed and memory at production resolutions: the command line of neurecon.studies.resolution.

.venv/bin/python bench/resolution.py                       # fast, balanced, high and OIDN, 256² … 4K, fp32
.venv/bin/python bench/resolution.py --sizes 256² 1080p --precisions fp32 bf16 --no-rss
.venv/bin/python bench/resolution.py --rounds 3 --rounds-4k 1   # what bench/results/resolution_speed holds

--pythonpath DIR runs the per-configuration RSS children (and with --no-timing only those) on
another checkout of the package, e.g. the commit before #23 for its memory.
"""

from __future__ import annotations

import argparse

# neurecon before torch: it picks the OpenMP wait policy before torch loads its runtime
from neurecon.studies import resolution


def main(argv=None) -> int:
    import torch

    ap = argparse.ArgumentParser(description=resolution.__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", nargs="+", default=["fast", "balanced", "high"])
    ap.add_argument("--sizes", nargs="+", default=list(resolution.SIZES), choices=list(resolution.SIZES))
    ap.add_argument("--precisions", nargs="+", default=["fp32", "bf16"], choices=["fp32", "bf16"])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--rounds-4k", type=int, default=None, help="rounds at 4K (default: --rounds)")
    ap.add_argument("--maxmem", type=int, default=2048, help="the denoiser's memory budget in MB (the default's)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--no-rss", action="store_true", help="skip the per-configuration peak-RSS subprocesses")
    ap.add_argument("--no-timing", action="store_true", help="only the RSS subprocesses (e.g. with --pythonpath)")
    ap.add_argument("--no-extras", action="store_true", help="skip the 1080p profile, cold start and calibration")
    ap.add_argument("--pythonpath", default=None, help="run the RSS children on this checkout of neurecon")
    ap.add_argument("--out", default="bench/results/resolution_speed")
    a = ap.parse_args(argv)
    torch.set_num_threads(a.threads)
    resolution.run(
        a.models,
        a.sizes,
        a.precisions,
        a.rounds,
        a.maxmem,
        a.rounds_4k,
        rss=not a.no_rss,
        out=a.out,
        timing=not a.no_timing,
        extras=not a.no_extras,
        pythonpath=a.pythonpath,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
