"""Renderer throughput: samples per second of Mitsuba's llvm and scalar variants on the same
procedural scenes with neurecon's integrator stack (moment(aov(path)), box filter).

    .venv/bin/python bench/render.py --size 64 --spp 16 --scenes 3 --out bench/results

Each variant runs in its own subprocess (Mitsuba fixes its variant per process). The llvm
variant's first render includes JIT compilation: reported separately as `first_seconds`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from .common import write_json

# what a variant's subprocess runs: measure() with the variant fixed before Mitsuba is imported
_CHILD = (
    "import json, sys; from neurecon.studies.render_speed import measure; print(json.dumps(measure(*sys.argv[1:])))"
)


def measure(variant: str, size: int, spp: int, scenes: int) -> dict:
    """Render `scenes` procedural scenes twice (the second warm) in this process, which must not
    have loaded Mitsuba with another variant; the warm renders' samples per second."""
    size, spp, scenes = int(size), int(spp), int(scenes)
    os.environ["NEURECON_MITSUBA_VARIANT"] = variant
    from ..render.mitsuba_backend import current_variant, find_libllvm, mitsuba, render_buffers
    from ..render.scenes import random_scene

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


def measure_in_subprocess(variant: str, size: int, spp: int, scenes: int) -> dict:
    """`measure` in a fresh interpreter; {"variant", "error"} when it fails."""
    p = subprocess.run(
        [sys.executable, "-c", _CHILD, variant, str(size), str(spp), str(scenes)], capture_output=True, text=True
    )
    if p.returncode != 0:
        return {"variant": variant, "error": p.stderr.strip().splitlines()[-1:] or ["failed"]}
    return json.loads(p.stdout.strip().splitlines()[-1])


def llvm_over_scalar(results: list[dict]) -> float | None:
    ok = {r["variant"]: r for r in results if "samples_per_second" in r}
    if "llvm_ad_rgb" in ok and "scalar_rgb" in ok:
        return ok["llvm_ad_rgb"]["samples_per_second"] / ok["scalar_rgb"]["samples_per_second"]
    return None


def run(size: int, spp: int, scenes: int, variants: list[str], out: str | Path) -> dict:
    """Measure every variant in its own subprocess; writes render.json into `out`."""
    results = [measure_in_subprocess(v, size, spp, scenes) for v in variants]
    ratio = llvm_over_scalar(results)
    result = {"results": results, "llvm_over_scalar": ratio, "cpus": os.cpu_count()}
    write_json(Path(out) / "render.json", result)
    for r in results:
        if "samples_per_second" in r:
            print(
                f"{r['variant']:<12} {r['samples_per_second'] / 1e6:7.2f} Msamples/s  "
                f"(first render {r['first_seconds']:.2f} s)"
            )
        else:
            print(f"{r['variant']:<12} failed: {r['error']}")
    if ratio:
        print(f"llvm / scalar: {ratio:.2f}×")
    return result
