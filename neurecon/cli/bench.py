"""`neurecon bench NAME [ARGS…]`: run a shipped benchmark by name (`--list` names them).

Each name is one of the thin command lines in the source checkout's ``bench/`` (they write JSON and
plots into ``bench/results/``); ARGS go to it unchanged (``neurecon bench denoise --help``). The
benchmarks read the checkout's data and results, so they run from a checkout (or
$NEURECON_BENCH_DIR), not from an installed wheel.
"""

from __future__ import annotations

import argparse
import os
import runpy
import sys
from pathlib import Path

# name -> script in bench/ (and what it measures); the list is explicit, like models/registry.py
BENCHES: dict[str, tuple[str, str]] = {
    "denoise": ("denoise.py", "quality and speed of the presets against OIDN on the test split"),
    "speed": ("resolution.py", "throughput and memory at 256² … 4K against OIDN"),
    "evalset": ("evalset.py", "the presets against OIDN on a hand-built family training never sees"),
    "generalise": ("generalise.py", "home split vs unseen family (vs Cycles): ratios to OIDN and the gap"),
    "onnx": ("onnx_speed.py", "onnxruntime against torch and OIDN: agreement and throughput"),
    "temporal": ("temporal.py", "flicker of single-frame and temporal denoisers against OIDN"),
    "sources": ("sources.py", "adapting the default to Cycles with N frames vs scratch vs OIDN (Fig. 11)"),
    "adaptive": ("adaptive.py", "error-guided adaptive sampling against uniform and variance-guided"),
    "relight": ("relight.py", "progressive vs direct training of the relighting U-Net"),
    "blind_sr": ("blind_sr.py", "blind SR: AMNet / AMGAN / actor–critic at ×4"),
    "eco": ("eco.py", "SR students: vanilla vs KD vs ECO"),
    "lambda_speed": ("lambda_speed.py", "a λ change against a full denoise"),
    "lambda_valid": ("lambda_valid.py", "λ models on a λ config's validation set"),
    "asymmetric": ("asymmetric.py", "λ control study (Vogels et al. §4, Fig. 17–18)"),
    "asymmetric_noise": ("asymmetric_noise.py", "Fig. 18 on the noise itself, over independent renders"),
    "albedo_ratio": ("albedo_ratio.py", "ablation of the gated albedo ratio"),
    "dssim_gap": ("dssim_gap.py", "where a model's DSSIM differs from OIDN's"),
    "kp_vs_dp": ("kp_vs_dp.py", "kernel vs direct prediction, single- vs multi-scale"),
    "decompose": ("decompose.py", "diffuse/specular decomposition against the single-buffer model"),
    "inference": ("inference.py", "CPU inference tuning: layouts, bf16, torch.compile"),
    "render": ("render.py", "Mitsuba's llvm and scalar variants' throughput"),
    "pages": ("pages.py", "the report and λ explorer in headless Chromium, with screenshots"),
}


def bench_dir() -> Path:
    env = os.environ.get("NEURECON_BENCH_DIR")
    return Path(env) if env else Path(__file__).resolve().parents[2] / "bench"


def add_parser(sub) -> None:
    b = sub.add_parser(
        "bench",
        help="run a shipped benchmark by name (neurecon bench --list)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    b.add_argument("name", nargs="?", help="the benchmark (see --list)")
    b.add_argument("args", nargs=argparse.REMAINDER, help="passed to the benchmark's command line")
    b.add_argument("--list", action="store_true", help="list the benchmarks and exit")
    b.set_defaults(func=run)


def run(a) -> int:
    if a.list:
        here = bench_dir()
        w = max(map(len, BENCHES))
        for name, (script, what) in BENCHES.items():
            missing = "" if (here / script).is_file() else "  (missing here)"
            print(f"{name:<{w}}  bench/{script:<22} {what}{missing}")
        return 0
    known = ", ".join(BENCHES)
    if not a.name:
        raise ValueError(f"name a benchmark: {known} (neurecon bench --list)")
    if a.name not in BENCHES:
        raise ValueError(f"unknown benchmark '{a.name}'; known: {known}")
    script = bench_dir() / BENCHES[a.name][0]
    if not script.is_file():
        raise FileNotFoundError(
            f"{script}: the benchmarks' command lines live in a source checkout's bench/; run from one "
            "or set NEURECON_BENCH_DIR"
        )
    argv, path = sys.argv, list(sys.path)
    sys.argv = [str(script), *a.args]
    sys.path.insert(0, str(script.parent))  # as `python bench/NAME.py` would have it
    try:
        runpy.run_path(str(script), run_name="__main__")
    except SystemExit as e:  # the script's own exit status (argparse: 2 for a bad argument)
        return e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    finally:
        sys.argv, sys.path[:] = argv, path
    return 0
