"""CPU inference tuning: each preset in NCHW vs channels-last, fp32 vs the bf16 trunk (on CPUs with
native bf16, or with --bf16), optionally torch.compile, with OIDN timed in the same process as the
yardstick.

    .venv/bin/python bench/inference.py --models fast balanced high kpcn --size 256 --out bench/results

Random inputs of the given size (speed does not depend on content); median of --repeat runs
after two warm-ups, interleaved per round so background load hits every variant alike.
Writes inference.json (seconds, speed-up of each layout, throughput vs OIDN).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from neurecon.denoise import Denoiser  # noqa: E402

from neurecon import peers  # noqa: E402
from neurecon.buffers import Buffers  # noqa: E402
from neurecon.models import load_model  # noqa: E402
from neurecon.nn.precision import native_bf16  # noqa: E402


def frame(size: int, seed: int = 0) -> Buffers:
    rng = np.random.default_rng(seed)
    planes = {
        n: rng.random((size, size, 3), dtype=np.float32)
        for n in ("color", "albedo", "normal", "color_var", "albedo_var", "normal_var")
    }
    return Buffers(**planes)


def time_interleaved(calls: dict, rounds: int, repeat: int) -> dict[str, float]:
    """Median seconds of each call after two warm-ups (and compiles), `repeat` runs per call per
    round, the calls interleaved so background load hits every one alike."""
    times: dict[str, list[float]] = {k: [] for k in calls}
    for fn in calls.values():
        fn(), fn()
    for _ in range(rounds):
        for k, fn in calls.items():
            for _ in range(repeat):
                t = time.perf_counter()
                fn()
                times[k].append(time.perf_counter() - t)
    return {k: statistics.median(v) for k, v in times.items()}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
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
    buf = frame(a.size)
    variants = {}
    for m in a.models:
        variants[f"{m}:nchw"] = Denoiser(load_model(m)[0], channels_last=False, precision="fp32")
        variants[f"{m}:channels_last"] = Denoiser(load_model(m)[0], channels_last=True, precision="fp32")
        if a.bf16 or native_bf16():
            variants[f"{m}:channels_last+bf16"] = Denoiser(load_model(m)[0], channels_last=True, precision="bf16")
        if a.compile:
            den = Denoiser(load_model(m)[0], channels_last=True, precision="fp32")
            den.model = torch.compile(den.model, dynamic=False)
            variants[f"{m}:channels_last+compile"] = den
    calls = {k: (lambda d=d: d.denoise_buffers(buf)) for k, d in variants.items()}
    if peers.available():
        peers.warm_up()
        calls["oidn"] = lambda: peers.oidn_denoise(buf["color"], buf["albedo"], buf["normal"])
    sec = time_interleaved(calls, a.rounds, a.repeat)
    # every variant must give the fp32 NCHW result (bf16 only approximately): max |difference|
    ref = {m: calls[f"{m}:nchw"]() for m in a.models}
    diff = {k: float(np.abs(fn() - ref[k.split(":")[0]]).max()) for k, fn in calls.items() if ":" in k}
    res = {
        "meta": {
            "size": a.size,
            "torch_threads": torch.get_num_threads(),
            "torch": torch.__version__,
            "native_bf16": native_bf16(),
            "repeat": a.repeat,
            "rounds": a.rounds,
        },
        "seconds": sec,
        "max_abs_diff_vs_nchw_fp32": diff,
        "mpix_per_s": {k: a.size**2 / 1e6 / s for k, s in sec.items()},
        "speedup_vs_nchw": {k: sec[k.split(":")[0] + ":nchw"] / s for k, s in sec.items() if ":" in k},
    }
    if "oidn" in sec:
        res["throughput_vs_oidn"] = {k: sec["oidn"] / s for k, s in sec.items()}
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "inference.json").write_text(json.dumps(res, indent=1))
    for k in sec:
        extra = f"  vs nchw {res['speedup_vs_nchw'][k]:.2f}×" if k in res["speedup_vs_nchw"] else ""
        vs = f"  vs OIDN {res['throughput_vs_oidn'][k]:.2f}×" if "throughput_vs_oidn" in res else ""
        d = f"  max|Δ| {diff[k]:.1e}" if k in diff else ""
        print(f"{k:32s} {sec[k] * 1e3:7.1f} ms{extra}{vs}{d}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
