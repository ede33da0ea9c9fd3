"""Renderer throughput of Mitsuba's llvm and scalar variants: the command line of
neurecon.studies.render_speed (its docstring, printed by --help, describes the benchmark).

    .venv/bin/python bench/render.py --size 64 --spp 16 --scenes 3 --out bench/results
"""

from __future__ import annotations

import argparse
import json

from neurecon.studies import render_speed


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=render_speed.__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--spp", type=int, default=16)
    ap.add_argument("--scenes", type=int, default=3)
    ap.add_argument("--variants", nargs="+", default=["llvm_ad_rgb", "scalar_rgb"])
    ap.add_argument("--lobes", action="store_true", help="also time the lobes integrator (render --lobes)")
    ap.add_argument("--threads", type=int, default=0, help="Dr.Jit threads (0: its default)")
    ap.add_argument("--out", default="bench/results")
    ap.add_argument("--child", help=argparse.SUPPRESS)  # measure one variant in this process
    a = ap.parse_args(argv)
    if a.child:
        print(json.dumps(render_speed.measure(a.child, a.size, a.spp, a.scenes, a.lobes, a.threads)))
        return 0
    render_speed.run(a.size, a.spp, a.scenes, a.variants, a.out, lobes=a.lobes, threads=a.threads)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
