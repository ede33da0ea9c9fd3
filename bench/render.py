"""Renderer throughput: samples per second of Mitsuba's llvm and scalar variants on the same
procedural scenes with neurecon's integrator stack (moment(aov(path)), box filter).

    .venv/bin/python bench/render.py --size 64 --spp 16 --scenes 3 --out bench/results

Each variant runs in its own subprocess (Mitsuba fixes its variant per process). The llvm
variant's first render includes JIT compilation: reported separately as `first_seconds`.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def measure(variant: str, size: int, spp: int, scenes: int) -> dict:
    os.environ["NEURECON_MITSUBA_VARIANT"] = variant
    sys.path.insert(0, str(ROOT))
    from neurecon.render.mitsuba_backend import current_variant, find_libllvm, mitsuba, render_buffers
    from neurecon.render.scenes import random_scene

    mi = mitsuba()
    first = None
    times = []
    for s in range(scenes):
        scene = mi.load_dict(random_scene(200_000 + s, size))
        t = time.perf_counter()
        render_buffers(scene, spp, seed=1)
        first = first if first is not None else time.perf_counter() - t
        t = time.perf_counter()
        render_buffers(scene, spp, seed=2)  # warm: kernels cached
        times.append(time.perf_counter() - t)
    samples = size * size * spp * scenes
    return {
        "variant": current_variant(),
        "libllvm": find_libllvm() if "llvm" in variant else None,
        "size": size,
        "spp": spp,
        "scenes": scenes,
        "first_seconds": first,
        "seconds": sum(times),
        "samples_per_second": samples / sum(times),
    }


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--spp", type=int, default=16)
    ap.add_argument("--scenes", type=int, default=3)
    ap.add_argument("--variants", nargs="+", default=["llvm_ad_rgb", "scalar_rgb"])
    ap.add_argument("--out", default="bench/results")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    if a.child:
        print(json.dumps(measure(a.child, a.size, a.spp, a.scenes)))
        return 0
    results = []
    for v in a.variants:
        p = subprocess.run(
            [
                sys.executable,
                __file__,
                "--child",
                v,
                "--size",
                str(a.size),
                "--spp",
                str(a.spp),
                "--scenes",
                str(a.scenes),
            ],
            capture_output=True,
            text=True,
        )
        if p.returncode != 0:
            results.append({"variant": v, "error": p.stderr.strip().splitlines()[-1:] or ["failed"]})
            continue
        results.append(json.loads(p.stdout.strip().splitlines()[-1]))
    ok = {r["variant"]: r for r in results if "samples_per_second" in r}
    if "llvm_ad_rgb" in ok and "scalar_rgb" in ok:
        ratio = ok["llvm_ad_rgb"]["samples_per_second"] / ok["scalar_rgb"]["samples_per_second"]
    else:
        ratio = None
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "render.json").write_text(
        json.dumps({"results": results, "llvm_over_scalar": ratio, "cpus": os.cpu_count()}, indent=1)
    )
    for r in results:
        if "samples_per_second" in r:
            print(
                f"{r['variant']:<12} {r['samples_per_second'] / 1e6:7.2f} Msamples/s  (first render {r['first_seconds']:.2f} s)"
            )
        else:
            print(f"{r['variant']:<12} failed: {r['error']}")
    if ratio:
        print(f"llvm / scalar: {ratio:.2f}×")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
