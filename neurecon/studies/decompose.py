"""Diffuse/specular decomposition against the single-buffer model (Vogels et al. 2018 §6.1),
from one run of the denoising benchmark that holds both models (docs/decompose.md).

    .venv/bin/python bench/denoise.py --data runs/lobes_data/test --no-oidn-fast --out runs/decompose_bench \\
        --models runs/pilot_decompose_single/best.pt:fp32 runs/pilot_decompose_lobes/best.pt:fp32
    .venv/bin/python bench/decompose.py --bench runs/decompose_bench/denoise.json --out bench/results \\
        --pair runs/pilot_decompose_single/best.pt:fp32 runs/pilot_decompose_lobes/best.pt:fp32

For each (single, decomposed) pair (e.g. one per training seed) and spp level: both models' mean
relMSE / SMAPE / DSSIM and seconds per frame over the test scenes, decomposed / single ratios
(below 1: decomposition wins), the scenes on which it wins, and both against OIDN's when the run
has it. Writes decompose.json.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from .common import write_json

METRICS = ("relmse", "smape", "dssim")


def _method(name: str) -> str:
    return name if name in ("noisy", "oidn") else f"neurecon:{name}"


def compare(rows: list[dict], single: str, decomposed: str) -> dict:
    """Per spp level: means, decomposed / single ratios and per-scene wins for one pair."""
    out = {}
    for spp in sorted({r["spp"] for r in rows}):
        at = [r for r in rows if r["spp"] == spp]
        by = {(r["scene"], r["method"]): r for r in at}
        scenes = sorted({r["scene"] for r in at if (r["scene"], _method(single)) in by})
        if not scenes:
            raise ValueError(f"no rows for {single} at {spp} spp; methods: {sorted({r['method'] for r in at})}")

        def mean(method: str, key: str, by=by, scenes=scenes) -> float:
            return float(np.mean([by[(sc, method)][key] for sc in scenes]))

        s, d = _method(single), _method(decomposed)
        level = {
            "scenes": len(scenes),
            "single": {k: mean(s, k) for k in (*METRICS, "seconds")},
            "decomposed": {k: mean(d, k) for k in (*METRICS, "seconds")},
            "wins": {k: sum(by[(sc, d)][k] < by[(sc, s)][k] for sc in scenes) for k in METRICS},
        }
        level["decomposed_over_single"] = {
            k: level["decomposed"][k] / level["single"][k] for k in (*METRICS, "seconds")
        }
        if all((sc, "oidn") in by for sc in scenes):
            oidn = {k: mean("oidn", k) for k in METRICS}
            level["over_oidn"] = {m: {k: level[m][k] / oidn[k] for k in METRICS} for m in ("single", "decomposed")}
        out[str(spp)] = level
    return out


def run(bench: str | Path, pairs: list[tuple[str, str]], out: str | Path) -> dict:
    data = json.loads(Path(bench).read_text())
    result = {
        "bench": str(bench),
        "meta": {k: data["meta"].get(k) for k in ("host", "cpus", "torch_threads", "data", "scenes")},
        "pairs": [{"single": s, "decomposed": d, "by_spp": compare(data["rows"], s, d)} for s, d in pairs],
    }
    write_json(Path(out) / "decompose.json", result)
    for p in result["pairs"]:
        for spp, level in p["by_spp"].items():
            r = level["decomposed_over_single"]
            print(
                f"{p['decomposed']} vs {p['single']} @ {spp} spp: relMSE {r['relmse']:.2f}×, DSSIM {r['dssim']:.2f}×, "
                f"time {r['seconds']:.2f}×; wins relMSE {level['wins']['relmse']}/{level['scenes']}, "
                f"DSSIM {level['wins']['dssim']}/{level['scenes']}"
            )
    return result
