"""Two studies from Vogels et al. 2018 at CPU scale, each a pair of runs that differ in one thing.

1. §8: kernel prediction (KP) vs direct prediction (DP) — the same shallow residual backbone,
   data, seeds and iterations; only the head differs. Validation loss (SMAPE) over iterations.
2. §3.4 / Fig. 16: a shallow 6-block KPCN, single-scale vs multi-scale (3-level pyramid + scale
   compositor), on the test split at 4 spp: low-frequency error = MSE after blurring output and
   reference with a 9×9 box, in tonemapped values (blotches), plus a crop grid.

    .venv/bin/python bench/kp_vs_dp.py --iterations 1500 --out bench/results

Runs train through `neurecon train` (one trainer), two at a time on one thread each; finished
runs in runs/study_* are reused (delete them to retrain). Writes kp_vs_dp.json/.png and
multiscale.json, multiscale_crops.png.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import torch

from ..metrics import tonemapped
from .common import box, pyplot, write_json

BACKBONE = {"width": 16, "blocks": 6, "kernel": 5}
RUNS = {
    "kp": {"arch": "kpcn", **BACKBONE, "head": "kernel"},
    "dp": {"arch": "kpcn", **BACKBONE, "head": "direct"},
    "ms": {"arch": "kpcn_ms", **BACKBONE, "head": "kernel", "levels": 3},
}
BLUR = 9  # box width of the low-frequency error
STUDY_BASE = Path("configs/history/study_base.yaml")  # the config the three runs override (in the repository)


def train_runs(names: list[str], iterations: int, data: str, runs_dir: Path, root: Path) -> None:
    """Train the runs `names` (keys of RUNS) into runs_dir/study_<name> with `neurecon train` on
    root/configs/history/study_base.yaml, two processes of one thread at a time; finished runs are kept."""
    from ..models import read_file

    procs = []
    for name in names:
        out = runs_dir / f"study_{name}"
        if (out / "last.pt").exists() and read_file(out / "last.pt")["step"] >= iterations:
            continue
        model = json.dumps(RUNS[name])
        cmd = [
            sys.executable,
            "-m",
            "neurecon",
            "train",
            str(root / STUDY_BASE),
            "--set",
            f"task.model={model}",
            f"task.data.root={data}",
            f"run.out={out}",
            f"run.iterations={iterations}",
        ]
        procs.append(
            subprocess.Popen(
                cmd,
                cwd=root,
                env={**os.environ, "OMP_NUM_THREADS": "1"},
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                text=True,
            )
        )
        if len(procs) == 2:
            _wait(procs)
            procs = []
    _wait(procs)


def _wait(procs) -> None:
    for p in procs:
        _, err = p.communicate()
        if p.returncode:
            raise SystemExit(f"training failed:\n{err[-2000:]}")


def curve(run: Path) -> list[tuple[int, float]]:
    """(step, validation loss) of every validation the run logged."""
    hist = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    return [(h["step"], h["val_loss"]) for h in hist if "val_loss" in h]


def compare_heads(curves: dict[str, list[tuple[int, float]]]) -> dict:
    """kp_vs_dp.json: the curves, where KP's validation loss is below DP's, and both at the last
    common step."""
    kp, dp = dict(curves["kp"]), dict(curves["dp"])
    common = sorted(set(kp) & set(dp))
    return {
        "curves": curves,
        "kp_below_dp_at": {s: kp[s] < dp[s] for s in common},
        "final": {"kp": kp[common[-1]], "dp": dp[common[-1]]},
    }


def lowfreq_stats(outs: dict[str, np.ndarray], ref: torch.Tensor) -> dict:
    """Per output: MSE after a BLUR×BLUR box on output and reference (tonemapped), and plain MSE."""
    row = {}
    for n, img in outs.items():
        o = tonemapped(img)
        row[f"{n}_lowfreq_mse"] = float((box(o, BLUR) - box(ref, BLUR)).pow(2).mean())
        row[f"{n}_mse"] = float((o - ref).pow(2).mean())
    return row


def multiscale_summary(rows: list[dict]) -> dict:
    summary = {k: float(np.mean([r[k] for r in rows])) for k in rows[0] if k != "scene"}
    summary["ms_lower_lowfreq_error_on"] = (
        f"{sum(r['ms_lowfreq_mse'] < r['kp_lowfreq_mse'] for r in rows)}/{len(rows)} scenes"
    )
    return summary


def plot_heads(curves: dict, path: Path) -> None:
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(5, 3.5))
    for n, c in curves.items():
        ax.plot(*zip(*c), "o-", ms=3, label=f"{n.upper()} head")
    ax.set(
        xlabel="iteration",
        ylabel="validation SMAPE",
        yscale="log",
        title="same backbone (6 res. blocks × 16), data, seed",
    )
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def run(iterations: int, data: str, test: str, runs: str | Path, out: str | Path, root: Path) -> dict:
    """Train (or reuse) the three runs, then compare KP with DP and single- with multi-scale;
    writes the JSONs and figures into `out`."""
    from ..infer.denoiser import Denoiser
    from ..io import find_frames
    from ..io.ldr import write_ldr

    runs, out = Path(runs), Path(out)
    out.mkdir(parents=True, exist_ok=True)
    train_runs(["kp", "dp", "ms"], iterations, data, runs, root)

    curves = {n: curve(runs / f"study_{n}") for n in ("kp", "dp")}
    plot_heads(curves, out / "kp_vs_dp.png")
    res = compare_heads(curves)
    write_json(out / "kp_vs_dp.json", res)
    kp, dp = dict(curves["kp"]), dict(curves["dp"])
    print("KP vs DP validation SMAPE:", {s: (round(kp[s], 4), round(dp[s], 4)) for s in sorted(set(kp) & set(dp))})

    dens = {n: Denoiser.load(runs / f"study_{n}" / "best.pt") for n in ("kp", "ms")}
    rows, crops = [], []
    for name, fs in sorted(find_frames(test).items()):
        buf = fs.read(4)
        ref = tonemapped(fs.read("ref")["color"])
        outs = {n: den.denoise_buffers(buf) for n, den in dens.items()}
        rows.append({"scene": name, **lowfreq_stats(outs, ref)})
        if len(crops) < 3:
            y, x = 96, 96
            crops.append(
                np.concatenate(
                    [
                        buf["color"][y : y + 64, x : x + 64],
                        outs["kp"][y : y + 64, x : x + 64],
                        outs["ms"][y : y + 64, x : x + 64],
                        fs.read("ref")["color"][y : y + 64, x : x + 64],
                    ],
                    1,
                )
            )
    summary = multiscale_summary(rows)
    write_json(out / "multiscale.json", {"summary": summary, "rows": rows})
    grid = np.concatenate(crops, 0)
    write_ldr(out / "multiscale_crops.png", np.repeat(np.repeat(grid / (1 + grid), 3, 0), 3, 1))
    print("single vs multi-scale (6 blocks, 4 spp):", json.dumps(summary, indent=1))
    return {"kp_vs_dp": res, "multiscale": summary}
