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

import argparse
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from neurecon.metrics import tonemapped  # noqa: E402

BACKBONE = {"width": 16, "blocks": 6, "kernel": 5}
RUNS = {
    "kp": {"arch": "kpcn", **BACKBONE, "head": "kernel"},
    "dp": {"arch": "kpcn", **BACKBONE, "head": "direct"},
    "ms": {"arch": "kpcn_ms", **BACKBONE, "head": "kernel", "levels": 3},
}


def train_runs(names: list[str], iterations: int, data: str, runs_dir: Path) -> None:
    procs = []
    for name in names:
        out = runs_dir / f"study_{name}"
        if (out / "last.pt").exists() and torch.load(out / "last.pt", weights_only=False)["step"] >= iterations:
            continue
        model = json.dumps(RUNS[name])
        cmd = [
            sys.executable,
            "-m",
            "neurecon",
            "train",
            str(ROOT / "configs" / "study_base.yaml"),
            "--set",
            f"task.model={model}",
            f"task.data.root={data}",
            f"run.out={out}",
            f"run.iterations={iterations}",
        ]
        procs.append(
            subprocess.Popen(
                cmd,
                cwd=ROOT,
                env={**__import__("os").environ, "OMP_NUM_THREADS": "1"},
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
    hist = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    return [(h["step"], h["val_loss"]) for h in hist if "val_loss" in h]


def blur(x: torch.Tensor, k: int = 9) -> torch.Tensor:
    return F.avg_pool2d(F.pad(x, (k // 2,) * 4, mode="replicate"), k, stride=1)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--iterations", type=int, default=1500)
    ap.add_argument("--data", default="data/mitsuba")
    ap.add_argument("--test", default="data/mitsuba/test")
    ap.add_argument("--runs", default="runs")
    ap.add_argument("--out", default="bench/results")
    a = ap.parse_args(argv)
    runs, out = Path(a.runs), Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    train_runs(["kp", "dp", "ms"], a.iterations, a.data, runs)

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    curves = {n: curve(runs / f"study_{n}") for n in ("kp", "dp")}
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
    fig.savefig(out / "kp_vs_dp.png", dpi=100)
    plt.close(fig)
    kp, dp = dict(curves["kp"]), dict(curves["dp"])
    common = sorted(set(kp) & set(dp))
    res = {
        "curves": curves,
        "kp_below_dp_at": {s: kp[s] < dp[s] for s in common},
        "final": {"kp": kp[common[-1]], "dp": dp[common[-1]]},
    }
    (out / "kp_vs_dp.json").write_text(json.dumps(res, indent=1))
    print("KP vs DP validation SMAPE:", {s: (round(kp[s], 4), round(dp[s], 4)) for s in common})

    from neurecon.denoise import Denoiser

    from neurecon.io import find_frames
    from neurecon.io.ldr import write_ldr

    dens = {n: Denoiser.load(runs / f"study_{n}" / "best.pt") for n in ("kp", "ms")}
    rows, crops = [], []
    for name, fs in sorted(find_frames(a.test).items()):
        buf = fs.read(4)
        ref = tonemapped(fs.read("ref")["color"])
        row = {"scene": name}
        outs = {}
        for n, den in dens.items():
            img = den.denoise_buffers(buf)
            outs[n] = img
            o = tonemapped(img)
            row[f"{n}_lowfreq_mse"] = float((blur(o) - blur(ref)).pow(2).mean())
            row[f"{n}_mse"] = float((o - ref).pow(2).mean())
        rows.append(row)
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
    summary = {k: float(np.mean([r[k] for r in rows])) for k in rows[0] if k != "scene"}
    summary["ms_lower_lowfreq_error_on"] = (
        f"{sum(r['ms_lowfreq_mse'] < r['kp_lowfreq_mse'] for r in rows)}/{len(rows)} scenes"
    )
    (out / "multiscale.json").write_text(json.dumps({"summary": summary, "rows": rows}, indent=1))
    grid = np.concatenate(crops, 0)
    write_ldr(out / "multiscale_crops.png", np.repeat(np.repeat(grid / (1 + grid), 3, 0), 3, 1))
    print("single vs multi-scale (6 blocks, 4 spp):", json.dumps(summary, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
