"""CPU inference tuning: each preset in NCHW vs channels-last, fp32 vs the bf16 trunk (on CPUs with
native bf16, or with --bf16), optionally torch.compile, with OIDN timed in the same process as the
yardstick.

    .venv/bin/python bench/inference.py --models fast balanced high kpcn --size 256 --out bench/results

Random inputs of the given size (speed does not depend on content); median of --repeat runs
after two warm-ups, interleaved per round so background load hits every variant alike.
Writes inference.json (seconds, speed-up of each layout, throughput vs OIDN).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from .common import write_json
from .timing import random_frame, time_interleaved


def variants(models: list[str], bf16: bool = False, compile: bool = False) -> dict:
    """`Denoiser` per "<model>:<layout>" (nchw, channels_last, +bf16 where native or asked, +compile)."""
    from ..infer.denoiser import Denoiser
    from ..models import load_model
    from ..nn.precision import native_bf16

    out = {}
    for m in models:
        out[f"{m}:nchw"] = Denoiser(load_model(m)[0], channels_last=False, precision="fp32")
        out[f"{m}:channels_last"] = Denoiser(load_model(m)[0], channels_last=True, precision="fp32")
        if bf16 or native_bf16():
            out[f"{m}:channels_last+bf16"] = Denoiser(load_model(m)[0], channels_last=True, precision="bf16")
        if compile:
            den = Denoiser(load_model(m)[0], channels_last=True, precision="fp32")
            den.model = torch.compile(den.model, dynamic=False)
            out[f"{m}:channels_last+compile"] = den
    return out


def summarise(sec: dict[str, float], diff: dict[str, float], size: int, meta: dict) -> dict:
    """inference.json: seconds, max |difference| to fp32 NCHW, Mpix/s, speed-up vs NCHW and, when
    OIDN ran, throughput relative to it."""
    res = {
        "meta": meta,
        "seconds": sec,
        "max_abs_diff_vs_nchw_fp32": diff,
        "mpix_per_s": {k: size**2 / 1e6 / s for k, s in sec.items()},
        "speedup_vs_nchw": {k: sec[k.split(":")[0] + ":nchw"] / s for k, s in sec.items() if ":" in k},
    }
    if "oidn" in sec:
        res["throughput_vs_oidn"] = {k: sec["oidn"] / s for k, s in sec.items()}
    return res


def run(
    models: list[str],
    size: int,
    repeat: int,
    rounds: int,
    out: str | Path,
    compile: bool = False,
    bf16: bool = False,
) -> dict:
    """Time every variant of every model (and OIDN) on a random size² frame; writes inference.json."""
    from .. import peers
    from ..nn.precision import native_bf16

    buf = random_frame(size)
    calls = {k: (lambda d=d: d.denoise_buffers(buf)) for k, d in variants(models, bf16, compile).items()}
    if peers.available():
        peers.warm_up()
        calls["oidn"] = lambda: peers.oidn_denoise(buf["color"], buf["albedo"], buf["normal"])
    sec = time_interleaved(calls, rounds, repeat)
    # every variant must give the fp32 NCHW result (bf16 only approximately): max |difference|
    ref = {m: calls[f"{m}:nchw"]() for m in models}
    diff = {k: float(np.abs(fn() - ref[k.split(":")[0]]).max()) for k, fn in calls.items() if ":" in k}
    meta = {
        "size": size,
        "torch_threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "native_bf16": native_bf16(),
        "repeat": repeat,
        "rounds": rounds,
    }
    res = summarise(sec, diff, size, meta)
    write_json(Path(out) / "inference.json", res)
    for k in sec:
        extra = f"  vs nchw {res['speedup_vs_nchw'][k]:.2f}×" if k in res["speedup_vs_nchw"] else ""
        vs = f"  vs OIDN {res['throughput_vs_oidn'][k]:.2f}×" if "throughput_vs_oidn" in res else ""
        d = f"  max|Δ| {diff[k]:.1e}" if k in diff else ""
        print(f"{k:32s} {sec[k] * 1e3:7.1f} ms{extra}{vs}{d}")
    return res
