"""Throughput and memory at the resolutions users render: every denoiser preset and OIDN in one
process, interleaved, at 256², 1024², 1920×1080 and 3840×2160 (and fp32 / bf16), through the same
`Denoiser.denoise_buffers` call users make (so tiling at the default memory budget is included).

Reported per size: Mpix/s of each method and its ratio to OIDN's in the same run, the peak RSS of
one denoise in a fresh subprocess (a process of its own per configuration, so one size's memory
does not hide another's), and the achieved GFLOP/s of the conv trunk against this CPU's measured
matmul peak. The CPU model goes with every result: machines of this kind differ.
"""

from __future__ import annotations

import json
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch

from ..buffers import Buffers
from .common import pyplot, write_json
from .timing import time_interleaved

SIZES = {"256²": (256, 256), "1024²": (1024, 1024), "1080p": (1080, 1920), "4K": (2160, 3840)}


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def frame(h: int, w: int, seed: int = 0) -> Buffers:
    """Random colour, albedo and normal (OIDN's three buffers: every method gets the same input)."""
    rng = np.random.default_rng(seed)
    return Buffers(
        color=rng.random((h, w, 3), dtype=np.float32) * 2,
        albedo=rng.random((h, w, 3), dtype=np.float32),
        normal=rng.random((h, w, 3), dtype=np.float32) * 2 - 1,
    )


def conv_macs_per_pixel(model, size: int = 256) -> float:
    """Multiply–accumulates of every convolution per output pixel, counted by hooks on one
    forward pass at `size`² (the kernel application and elementwise work are not counted)."""
    macs = 0

    def hook(mod, inp, out):
        nonlocal macs
        k = mod.kernel_size[0] * mod.kernel_size[1] * mod.in_channels // mod.groups
        macs += out.numel() * k

    handles = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, torch.nn.Conv2d)]
    try:
        buf = frame(size, size)
        inputs = {n: buf.to_tensor([n]) for n in ("color", "albedo", "normal")}
        with torch.no_grad():
            model(inputs, "oidn")
    finally:
        for h in handles:
            h.remove()
    return macs / size**2


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


def _child_peak(model: str, size: str, precision: str, maxmem: int) -> dict:
    """Peak RSS and seconds of one denoise in a fresh interpreter."""
    code = (
        "import json, resource, sys, time, torch\n"
        f"torch.set_num_threads({torch.get_num_threads()})\n"
        "from neurecon.studies.resolution import SIZES, frame\n"
        "from neurecon import peers\n"
        "from neurecon.infer.denoiser import Denoiser\n"
        f"h, w = SIZES[{size!r}]\nbuf = frame(h, w)\n"
        "base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
        "t = time.perf_counter()\n"
        f"if {model!r} == 'oidn':\n"
        "    peers.oidn_denoise(buf['color'], buf['albedo'], buf['normal'])\n"
        "else:\n"
        f"    Denoiser.load({model!r}, precision={precision!r}, maxmem_mb={maxmem}).denoise_buffers(buf, 'oidn')\n"
        "print(json.dumps({'peak_mb': resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,"
        " 'input_mb': base / 1024, 'seconds': time.perf_counter() - t}))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    if out.returncode != 0:
        return {"error": (out.stderr.strip().splitlines() or ["failed"])[-1]}
    return json.loads(out.stdout.strip().splitlines()[-1])


def run(
    models=("fast", "balanced", "high"),
    sizes=tuple(SIZES),
    precisions=("fp32",),
    rounds: int = 3,
    maxmem: int = 2048,
    rss: bool = True,
    out: str | Path = "bench/results/resolution_speed",
) -> dict:
    from .. import peers
    from ..infer.denoiser import Denoiser
    from ..nn.precision import native_bf16

    out = Path(out)
    dens = {f"{m}:{p}": Denoiser.load(m, precision=p, maxmem_mb=maxmem) for m in models for p in precisions}
    peers.warm_up()
    result: dict = {
        "cpu": cpu_model(),
        "threads": torch.get_num_threads(),
        "native_bf16": native_bf16(),
        "maxmem_mb": maxmem,
        "peak_gflops": {"fp32_matmul": matmul_peak(torch.float32)},
        "conv_macs_per_pixel": {m: conv_macs_per_pixel(Denoiser.load(m).model) for m in models},
        "sizes": {},
    }
    if native_bf16():
        result["peak_gflops"]["bf16_matmul"] = matmul_peak(torch.bfloat16)
    for label in sizes:
        h, w = SIZES[label]
        buf = frame(h, w)
        calls = {k: (lambda d=d, b=buf: d.denoise_buffers(b, "oidn")) for k, d in dens.items()}
        calls["oidn"] = lambda b=buf: peers.oidn_denoise(b["color"], b["albedo"], b["normal"])
        sec = time_interleaved(calls, rounds=rounds, repeat=1)
        row: dict = {"height": h, "width": w, "seconds": sec, "mpix_per_s": {}, "ratio_vs_oidn": {}, "gflops": {}}
        for k, s in sec.items():
            row["mpix_per_s"][k] = h * w / s / 1e6
            row["ratio_vs_oidn"][k] = sec["oidn"] / s
            if k != "oidn":
                row["gflops"][k] = 2 * result["conv_macs_per_pixel"][k.split(":")[0]] * h * w / s / 1e9
        if rss:
            row["peak_rss"] = {k: _child_peak(k.split(":")[0], label, k.split(":")[1], maxmem) for k in dens}
            row["peak_rss"]["oidn"] = _child_peak("oidn", label, "fp32", maxmem)
        result["sizes"][label] = row
        print(
            f"{label}: "
            + ", ".join(f"{k} {row['mpix_per_s'][k]:.3f} Mpix/s ({row['ratio_vs_oidn'][k]:.2f}×)" for k in sec),
            flush=True,
        )
    write_json(out / "resolution.json", result)
    plot(result, out / "resolution.png")
    return result


def plot(result: dict, path: Path) -> None:
    plt = pyplot()
    labels = list(result["sizes"])
    methods = list(next(iter(result["sizes"].values()))["mpix_per_s"])
    fig, (a, b) = plt.subplots(1, 2, figsize=(10, 3.6))
    for m in methods:
        a.plot(labels, [result["sizes"][s]["mpix_per_s"][m] for s in labels], "o-", label=m)
        b.plot(labels, [result["sizes"][s]["ratio_vs_oidn"][m] for s in labels], "o-", label=m)
    a.set(ylabel="Mpix/s", title=f"throughput ({result['cpu']}, {result['threads']} threads)")
    b.axhline(1.0, color="k", lw=0.8)
    b.set(ylabel="× OIDN's throughput", title=f"ratio to OIDN, --maxmem {result['maxmem_mb']}")
    a.legend(fontsize=7)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90)
    plt.close(fig)


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
