"""Throughput and memory at the resolutions users render: every denoiser preset and OIDN in one
process, interleaved, at 256², 1024², 1920×1080 and 3840×2160 (fp32, and bf16 where the CPU has it
natively), through the same `Denoiser.denoise_buffers` call users make, at the default memory
budget (so tiling is included).

Reported per size: Mpix/s of each method and its ratio to OIDN's in the same run, the peak RSS of
one denoise in a fresh subprocess (a process of its own per configuration; the process's own
memory, the frame's and the call's separately, and the tiles the budget planned), and the
achieved GFLOP/s of the conv trunk against this CPU's measured matmul peak. Besides: where the
time of a 1080p frame goes (`profile`: operator classes, untiled and at the budget), what one
`neurecon denoise` of a 256² frame costs from a cold process (`cold_start`), and the measured
memory of a pass against the planner's estimate (`memory`). The CPU model and its load go with
every result: machines of this kind differ, and this one is shared.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

import numpy as np
import torch

from ..buffers import Buffers
from .common import cpu_model, pyplot, write_json
from .timing import time_interleaved

SIZES = {"256²": (256, 256), "1024²": (1024, 1024), "1080p": (1080, 1920), "4K": (2160, 3840)}


def load_average() -> float | None:
    try:
        return round(os.getloadavg()[0], 2)
    except (OSError, AttributeError):
        return None


def frame(h: int, w: int, seed: int = 0) -> Buffers:
    """Random colour, albedo and normal (OIDN's three buffers: every method gets the same input)."""
    rng = np.random.default_rng(seed)
    return Buffers(
        color=rng.random((h, w, 3), dtype=np.float32) * 2,
        albedo=rng.random((h, w, 3), dtype=np.float32),
        normal=rng.random((h, w, 3), dtype=np.float32) * 2 - 1,
    )


def conv_macs_per_pixel(model, size: int = 256) -> float:
    """Multiply–accumulates per output pixel of every convolution and matrix product (the 1×1
    heads), counted by torch's FLOP counter on one forward pass at `size`² (kernel application and
    elementwise work are not counted). It sees the functional convolutions too (the decoders'
    first convs, split into a skip part and an upsampled part): hooks on Conv2d modules miss those
    and counted 49.6 k instead of 80.8 k for `high`. Run with autograd on, so that every conv is an
    aten convolution the counter knows (inference fuses conv and ReLU into oneDNN's own op)."""
    from torch.utils.flop_counter import FlopCounterMode

    buf = frame(size, size)
    inputs = {n: buf.to_tensor([n]) for n in ("color", "albedo", "normal")}
    with torch.enable_grad(), FlopCounterMode(display=False) as counter:
        model(inputs, "oidn")
    return counter.get_total_flops() / 2 / size**2


def matmul_peak(dtype: torch.dtype, n: int = 2048, repeat: int = 5) -> float:
    """GFLOP/s of an n×n matmul on this CPU (median of `repeat`)."""
    a, b = torch.randn(n, n, dtype=dtype), torch.randn(n, n, dtype=dtype)
    a @ b
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        a @ b
        times.append(time.perf_counter() - t)
    return 2 * n**3 / float(np.median(times)) / 1e9


# One denoise in a fresh interpreter. Self-contained (it reads /proc itself and asks the denoiser
# only for what every version has), so the same child measures an older checkout of the package
# too (PYTHONPATH). ru_maxrss is no use here: Linux carries the parent's peak across fork + exec.
_CHILD = """
import json, sys, time
import neurecon  # first: the OpenMP wait policy is chosen before torch loads (neurecon/_openmp.py)
import torch
torch.set_num_threads(int(sys.argv[4]))
from neurecon.studies.resolution import SIZES, frame

def status(field):
    for line in open("/proc/self/status"):
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024

model, size, precision, maxmem = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[5])
if model != "oidn":
    from neurecon.infer.denoiser import Denoiser
    den = Denoiser.load(model, precision=precision, maxmem_mb=maxmem)
else:
    from neurecon import peers
    peers.warm_up()
process = status("VmRSS")
h, w = SIZES[size]
buf = frame(h, w)
held = status("VmRSS")
open("/proc/self/clear_refs", "w").write("5")  # VmHWM := VmRSS: the peak of what follows
t = time.perf_counter()
if model == "oidn":
    peers.oidn_denoise(buf["color"], buf["albedo"], buf["normal"])
else:
    den.denoise_buffers(buf, "oidn")
seconds = time.perf_counter() - t
peak = status("VmHWM")
plan = getattr(den, "last_plan", None) if model != "oidn" else None
print(json.dumps({
    "peak_mb": peak, "process_mb": process, "frame_mb": held - process, "call_mb": peak - process,
    "seconds": seconds, "tiles": plan.count if plan else None, "work": plan.work if plan else None,
}))
"""


def child_peak(model: str, size: str, precision: str, maxmem: int, pythonpath: str | None = None) -> dict:
    """Peak RSS and seconds of one denoise in a fresh interpreter: `peak_mb` of the process,
    `process_mb` before the frame existed (interpreter, torch, model), `frame_mb` its planes, and
    `call_mb` = peak − process (the frame and everything its denoise held: what --maxmem bounds)."""
    env = dict(os.environ)
    if pythonpath:
        env["PYTHONPATH"] = pythonpath
    args = [sys.executable, "-c", _CHILD, model, size, precision, str(torch.get_num_threads()), str(maxmem)]
    out = subprocess.run(args, capture_output=True, text=True, check=False, env=env)
    if out.returncode != 0:
        return {"error": (out.stderr.strip().splitlines() or ["failed"])[-1]}
    return json.loads(out.stdout.strip().splitlines()[-1])


# operator → class, for `profile`
_CLASSES = {
    "convolution": ("mkldnn_convolution", "_convolution_pointwise", "thnn_conv2d", "slow_conv"),
    "1×1 heads (matmul)": ("aten::addmm", "aten::mm", "aten::matmul"),
    "softmax": ("softmax",),
    "kernel application": ("addcmul", "aten::fill_", "aten::zero_"),
    "pyramid down/up": ("avg_pool2d", "upsample_nearest"),
    "copies and layout": ("aten::copy_", "aten::cat", "pad", "aten::clone", "contiguous", "aten::index"),
}


def _classify(name: str) -> str:
    for cls, keys in _CLASSES.items():
        if any(k in name for k in keys):
            return cls
    return "elementwise (ReLU, log1p, clamps, adds, α, sanitising)"


def profile(model: str, size: str = "1080p", maxmem: int = 2048, precision: str = "fp32") -> dict:
    """Where the time of one denoise goes: seconds per operator class (self CPU time of torch's
    profiler, full resolution and lower levels apart for the convolutions), the untiled pass
    against the pass at `maxmem` (their difference is the halos' recomputation), and the
    denoiser's own phases where it reports them (scan and plan, tiles, clamp)."""
    from torch.profiler import ProfilerActivity
    from torch.profiler import profile as torch_profile

    from ..infer.denoiser import Denoiser

    h, w = SIZES[size]
    buf = frame(h, w)
    out: dict = {"model": model, "size": size, "maxmem_mb": maxmem}
    for label, mb in (("untiled", 10**6), ("budget", maxmem)):
        den = Denoiser.load(model, precision=precision, maxmem_mb=mb)
        den.denoise_buffers(buf, "oidn")  # warm: primitives, probe
        with torch_profile(activities=[ProfilerActivity.CPU], record_shapes=True) as prof:
            t = time.perf_counter()
            den.denoise_buffers(buf, "oidn")
            wall = time.perf_counter() - t
        classes: dict[str, float] = {}
        for e in prof.key_averages(group_by_input_shape=True):
            if e.self_cpu_time_total <= 0 or e.key.startswith("ProfilerStep"):
                continue
            cls = _classify(e.key)
            if cls == "convolution":
                shapes = [s for s in (e.input_shapes or []) if len(s) == 4]
                full = bool(shapes) and shapes[0][2] * shapes[0][3] >= 0.5 * h * w
                cls = "convolution, full resolution" if full else "convolution, H/2 and below"
            classes[cls] = classes.get(cls, 0.0) + e.self_cpu_time_total / 1e6
        total = sum(classes.values())
        plan = getattr(den, "last_plan", None)
        out[label] = {
            "wall_seconds": wall,
            "cpu_seconds": total,
            "share": {k: v / total for k, v in sorted(classes.items(), key=lambda kv: -kv[1])},
            "seconds": dict(sorted(classes.items(), key=lambda kv: -kv[1])),
            "tiles": plan.count if plan else None,
            "work": plan.work if plan else None,
            "phases": dict(getattr(den, "last_timings", {}) or {}),
        }
    out["halo_recompute_share"] = max(0.0, 1 - out["untiled"]["wall_seconds"] / out["budget"]["wall_seconds"])
    return out


def cold_start(model: str | None = None, size: int = 256, precisions=("auto", "fp32"), repeat: int = 3) -> dict:
    """Wall seconds of one `neurecon denoise` of a size² frame from a fresh process (imports, model
    load, first call, write), per --precision (median of `repeat`), and the first against the
    second call in one process (what creating the primitives costs)."""
    from ..io import write_buffers

    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "frame.exr"
        write_buffers(src, frame(size, size))
        result: dict = {"size": size, "model": model or "default", "cli_seconds": {}}
        for p in precisions:
            times = []
            for _ in range(repeat):
                cmd = [sys.executable, "-c", "import sys; from neurecon.cli import main; sys.exit(main())"]
                cmd += ["denoise", str(src), "-o", str(Path(tmp) / "out.exr")]
                cmd += ["--precision", p] + (["--model", model] if model else [])
                t = time.perf_counter()
                done = subprocess.run(cmd, capture_output=True, text=True, check=False)
                times.append(time.perf_counter() - t)
                if done.returncode != 0:
                    result["cli_seconds"][p] = {"error": done.stderr.strip().splitlines()[-1:]}
                    break
            else:
                result["cli_seconds"][p] = float(np.median(times))
    from ..infer.denoiser import Denoiser

    den = Denoiser.load(model)
    buf = frame(size, size, seed=1)
    calls = []
    for _ in range(2):
        t = time.perf_counter()
        den.denoise_buffers(buf, "oidn")
        calls.append(time.perf_counter() - t)
    result["in_process"] = {"precision": den.precision, "first_call": calls[0], "second_call": calls[1]}
    return result


def memory_calibration(models, size: str = "1024²", pythonpath: str | None = None) -> dict:
    """Per preset: the planner's bytes per pixel (probe × memory.RSS_PER_LIVE) against the peak
    RSS one untiled pass adds per pixel over the frame's planes (a fresh process)."""
    from ..infer.denoiser import Denoiser

    h, w = SIZES[size]
    out = {}
    for m in models:
        den = Denoiser.load(m, precision="fp32")
        est = den.bytes_per_pixel("oidn", False, "fp32")
        got = child_peak(m, size, "fp32", 10**6, pythonpath)
        if "error" in got:
            out[m] = got
            continue
        measured = (got["call_mb"] - got["frame_mb"]) * 2**20 / (h * w) - 12  # the output is not the pass's
        out[m] = {"planned_bytes_per_pixel": est, "measured_bytes_per_pixel": measured, "ratio": est / measured}
    return out


def run(
    models=("fast", "balanced", "high"),
    sizes=tuple(SIZES),
    precisions=("fp32",),
    rounds: int = 3,
    maxmem: int = 2048,
    rounds_4k: int | None = None,
    rss: bool = True,
    out: str | Path = "bench/results/resolution_speed",
    timing: bool = True,
    extras: bool = True,
    pythonpath: str | None = None,
) -> dict:
    """The whole study into `out`/resolution.json (+ .png). `pythonpath` runs the RSS children on
    another checkout of the package (a "before" measurement); `timing=False` skips the in-process
    timing, `extras=False` the profile, cold start and calibration."""
    from .. import peers
    from ..infer.denoiser import Denoiser
    from ..nn.precision import native_bf16

    out = Path(out)
    precisions = tuple(p for p in precisions if p == "fp32" or native_bf16())  # emulated bf16 is 3× slower
    result: dict = {
        "cpu": cpu_model(),
        "threads": torch.get_num_threads(),
        "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY", "default"),
        "load_average_start": load_average(),
        "native_bf16": native_bf16(),
        "precisions": list(precisions),
        "maxmem_mb": maxmem,
        "peak_gflops": {"fp32_matmul": matmul_peak(torch.float32)},
        "conv_macs_per_pixel": {m: conv_macs_per_pixel(Denoiser.load(m).model) for m in models},
        "sizes": {},
    }
    if native_bf16():
        result["peak_gflops"]["bf16_matmul"] = matmul_peak(torch.bfloat16)
    dens = {f"{m}:{p}": Denoiser.load(m, precision=p, maxmem_mb=maxmem) for m in models for p in precisions}
    peers.warm_up()
    for label in sizes:
        h, w = SIZES[label]
        row: dict = {"height": h, "width": w}
        if timing:
            buf = frame(h, w)
            calls: dict[str, Callable[[], object]] = {
                k: partial(d.denoise_buffers, buf, "oidn") for k, d in dens.items()
            }
            calls["oidn"] = partial(peers.oidn_denoise, buf["color"], buf["albedo"], buf["normal"])
            runs: dict = {}
            n = rounds_4k if rounds_4k is not None and h * w > 4e6 else rounds
            # one warm-up at 1080p and above: the first call pays primitive creation, later ones do not
            sec = time_interleaved(calls, rounds=n, repeat=1, warmups=2 if h * w <= 2**20 else 1, record=runs)
            row.update(seconds=sec, runs=runs, mpix_per_s={}, ratio_vs_oidn={}, gflops={}, tiles={})
            for k, s in sec.items():
                row["mpix_per_s"][k] = h * w / s / 1e6
                row["ratio_vs_oidn"][k] = sec["oidn"] / s
                if k != "oidn":
                    row["gflops"][k] = 2 * result["conv_macs_per_pixel"][k.split(":")[0]] * h * w / s / 1e9
                    plan = getattr(dens[k], "last_plan", None)
                    row["tiles"][k] = {"count": plan.count, "work": plan.work} if plan else None
            del buf, calls
            print(
                f"{label}: "
                + ", ".join(f"{k} {row['mpix_per_s'][k]:.3f} Mpix/s ({row['ratio_vs_oidn'][k]:.2f}×)" for k in sec),
                flush=True,
            )
        if rss:
            row["peak_rss"] = {k: child_peak(k.split(":")[0], label, k.split(":")[1], maxmem, pythonpath) for k in dens}
            row["peak_rss"]["oidn"] = child_peak("oidn", label, "fp32", maxmem, pythonpath)
        result["sizes"][label] = row
        write_json(out / "resolution.json", result)  # after every size: a long run keeps what it measured
    if extras:
        result["profile"] = {m: profile(m, "1080p", maxmem) for m in ("fast", "high") if m in models}
        write_json(out / "resolution.json", result)
        result["cold_start"] = cold_start()
        result["memory"] = memory_calibration(models, pythonpath=pythonpath)
    result["load_average_end"] = load_average()
    write_json(out / "resolution.json", result)
    plot(result, out / "resolution.png")
    return result


def plot(result: dict, path: Path, before: dict | None = None) -> None:
    """Throughput and ratio to OIDN per size (and `before`'s ratios dashed, if given)."""
    plt = pyplot()
    labels = [s for s in result["sizes"] if "mpix_per_s" in result["sizes"][s]]
    if not labels:
        return
    methods = list(result["sizes"][labels[0]]["mpix_per_s"])
    fig, (a, b) = plt.subplots(1, 2, figsize=(10, 3.6))
    for i, m in enumerate(methods):
        color = f"C{i}"
        a.plot(labels, [result["sizes"][s]["mpix_per_s"][m] for s in labels], "o-", color=color, label=m)
        b.plot(labels, [result["sizes"][s]["ratio_vs_oidn"][m] for s in labels], "o-", color=color, label=m)
        if before and m != "oidn":
            old = [before["sizes"].get(s, {}).get("ratio_vs_oidn", {}).get(m) for s in labels]
            if any(v is not None for v in old):
                b.plot(labels, [np.nan if v is None else v for v in old], "x--", color=color, alpha=0.6)
    a.set(ylabel="Mpix/s", title=f"throughput ({result['cpu']}, {result['threads']} threads)")
    b.axhline(1.0, color="k", lw=0.8)
    title = f"× OIDN, --maxmem {result['maxmem_mb']}" + (" (dashed: before #23)" if before else "")
    b.set(ylabel="× OIDN's throughput", title=title)
    a.legend(fontsize=7)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90)
    plt.close(fig)


def markdown_table(result: dict) -> str:
    """The README/docs table: per size, OIDN's Mpix/s and each preset's ratio to it, with the
    peak RSS (MB) of its call where measured."""
    sizes = [s for s in result["sizes"] if "ratio_vs_oidn" in result["sizes"][s]]
    if not sizes:
        return ""
    methods = [m for m in result["sizes"][sizes[0]]["ratio_vs_oidn"] if m != "oidn"]
    head = "| frame | OIDN Mpix/s | " + " | ".join(f"`{m.split(':')[0]}`" for m in methods) + " |"
    lines = [head, "|" + "---|" * (2 + len(methods))]
    for s in sizes:
        row = result["sizes"][s]
        cells = []
        for m in methods:
            cell = f"{row['ratio_vs_oidn'][m]:.2f}×"
            rss = row.get("peak_rss", {}).get(m, {})
            if "peak_mb" in rss:
                cell += f" ({rss['peak_mb']:.0f} MB)"
            cells.append(cell)
        lines.append(f"| {s} | {row['mpix_per_s']['oidn']:.3f} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def profile_table(before: dict | None, after: dict) -> str:
    """Seconds per operator class of one 1080p denoise (untiled and at the budget), before and
    after, from `profile` results (dicts of model → profile)."""
    lines = []
    for model, prof in after.items():
        old = (before or {}).get(model)
        cols = [("after, untiled", prof["untiled"]), ("after, at the budget", prof["budget"])]
        if old:
            cols = [("before, at the budget", old["budget"]), ("before, untiled", old["untiled"]), *cols]
        classes: list[str] = []
        for _, c in cols:
            classes += [k for k in c["seconds"] if k not in classes]
        lines.append(f"**`{model}`, 1080p** (CPU seconds per operator class; wall seconds last)\n")
        lines.append("| | " + " | ".join(name for name, _ in cols) + " |")
        lines.append("|---|" + "---|" * len(cols))
        for k in classes:
            lines.append(f"| {k} | " + " | ".join(f"{c['seconds'].get(k, 0.0):.2f}" for _, c in cols) + " |")
        lines.append("| tiles (work) | " + " | ".join(_tiles(c) for _, c in cols) + " |")
        lines.append("| **wall seconds** | " + " | ".join(f"**{c['wall_seconds']:.2f}**" for _, c in cols) + " |")
        lines.append("")
    return "\n".join(lines)


def _tiles(c: dict) -> str:
    if c.get("tiles") is None:
        return "?"
    return "1" if c["tiles"] == 1 else f"{c['tiles']} ({c['work']:.2f}×)"
