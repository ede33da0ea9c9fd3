"""`neurecon demo`: render a scene, denoise it with the default model and OIDN, write a report."""

from __future__ import annotations


def add_parser(sub) -> None:
    m = sub.add_parser("demo", help="render a scene, denoise it with the default model and with OIDN, write a report")
    m.add_argument("--out", default="demo")
    m.add_argument("--size", type=int, default=256)
    m.add_argument("--spp", type=int, default=4)
    m.add_argument("--ref-spp", type=int, default=1024)
    m.add_argument("--seed", type=int, default=200_000)
    m.add_argument("--model", default=None)
    m.set_defaults(func=run)


def run(a) -> int:
    from ..tasks.denoise.demo import run_demo

    return run_demo(a.out, size=a.size, spp=a.spp, ref_spp=a.ref_spp, seed=a.seed, model=a.model)
