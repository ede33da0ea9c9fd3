"""onnxruntime against PyTorch and OIDN: the exported denoisers' agreement and throughput.

For each model: export it (OIDN's three buffers, the `oidn` source, which every method here gets),
record max |onnxruntime − torch| on a 256² and a 512×384 frame (fp32), then time, in one
process and interleaved (timing.time_interleaved), the torch Denoiser (fp32, the default memory
budget), the onnxruntime backend (the same budget, its own tiler plan) and OIDN on random frames
at each size. Ratios are OIDN's seconds / the method's (above 1: faster than OIDN) and
torch's / onnxruntime's. The CPU model, thread count and load average go with the result.
"""

from __future__ import annotations

import tempfile
from functools import partial
from pathlib import Path

import torch

from .. import peers
from ..infer.denoiser import Denoiser
from ..infer.onnx_backend import OnnxDenoiser
from ..infer.onnx_export import check_onnx, export_onnx
from .common import cpu_model, write_json
from .resolution import SIZES, frame, load_average
from .timing import time_interleaved

CHECK_SIZES = [(256, 256), (384, 512)]


def run(models, sizes, rounds: int, maxmem: int, out: str | Path, onnx_dir: str | Path | None = None) -> dict:
    threads = torch.get_num_threads()
    result: dict = {
        "cpu": cpu_model(),
        "threads": threads,
        "load_before": load_average(),
        "maxmem_mb": maxmem,
        "precision": "fp32",
        "source": "oidn",
        "max_abs_diff": {},
        "sizes": {},
    }
    tmp = tempfile.TemporaryDirectory()
    where = Path(onnx_dir or tmp.name)
    dens: dict = {}
    for m in models:
        path = where / f"{m}_oidn.onnx"
        export_onnx(m, path, source="oidn")
        diffs = check_onnx(m, path, CHECK_SIZES)
        result["max_abs_diff"][m] = {f"{w}×{h}": d for (h, w), d in diffs.items()}
        print(f"{m}: " + ", ".join(f"{k} max |ort − torch| {v:.2e}" for k, v in result["max_abs_diff"][m].items()))
        dens[f"torch:{m}"] = Denoiser.load(m, maxmem_mb=maxmem, precision="fp32")
        dens[f"ort:{m}"] = OnnxDenoiser.load(path, threads=threads, maxmem_mb=maxmem)
    peers.warm_up()
    for label in sizes:
        h, w = SIZES[label]
        buf = frame(h, w)
        calls = {k: partial(d.denoise_buffers, buf) for k, d in dens.items()}
        calls["oidn"] = partial(peers.oidn_denoise, buf["color"], buf["albedo"], buf["normal"])
        runs: dict = {}
        sec = time_interleaved(calls, rounds, 1, warmups=1, record=runs)
        row = {
            "seconds": sec,
            "runs": runs,
            "mpix_per_s": {k: h * w / 1e6 / s for k, s in sec.items()},
            "ratio_vs_oidn": {k: sec["oidn"] / s for k, s in sec.items()},
            "ort_vs_torch": {m: sec[f"torch:{m}"] / sec[f"ort:{m}"] for m in models},
            "tiles": {k: d.last_plan.count for k, d in dens.items() if d.last_plan is not None},
        }
        result["sizes"][label] = row
        print(
            f"{label}: "
            + ", ".join(f"{k} {row['mpix_per_s'][k]:.3f} Mpix/s ({row['ratio_vs_oidn'][k]:.2f}× OIDN)" for k in sec)
        )
    result["load_after"] = load_average()
    tmp.cleanup()
    write_json(Path(out) / "onnx.json", result)
    return result


def markdown_table(result: dict) -> str:
    models = list(result["max_abs_diff"])
    head = "| size | OIDN Mpix/s | " + " | ".join(f"torch:{m} | ort:{m} | ort/torch {m}" for m in models) + " |"
    lines = [head, "|" + "---|" * (2 + 3 * len(models))]
    for label, row in result["sizes"].items():
        cells = []
        for m in models:
            for k in (f"torch:{m}", f"ort:{m}"):
                cells.append(f"{row['mpix_per_s'][k]:.3f} ({row['ratio_vs_oidn'][k]:.2f}×)")
            cells.append(f"{row['ort_vs_torch'][m]:.2f}×")
        lines.append(f"| {label} | {row['mpix_per_s']['oidn']:.3f} | " + " | ".join(cells) + " |")
    return "\n".join(lines)
