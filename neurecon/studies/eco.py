"""ECO study: vanilla vs KD vs ECO training of the same small SR network (Lee & Heo, AAAI 2024).

    python bench/eco.py                 # train (or resume / read) the three students, write the results
    python bench/eco.py --skip-train    # only read finished runs
    python bench/eco.py --export        # also ship the vanilla and ECO students as sr_vanilla_x2 / sr_eco_x2

The students come from configs/sr/{vanilla,kd,eco}_x2.yaml, which differ only in `task.recipe`:
same architecture (EDSR-baseline-XS ×2), data (scikit-image demo photographs), seed (so the same
initial weights and the same random crops), optimiser and iterations. KD and ECO use the teacher
named in the configs (shipped `sr_teacher_x2`, from configs/sr/teacher_x2.yaml; train it first if
it is missing). Each run is an ordinary `neurecon train` run: finished runs are read, unfinished
ones resumed. Writes bench/results/eco.json and bench/results/eco.png (PSNR-Y on the validation
set over iterations) and prints a table.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from .common import pyplot, write_json

RECIPES = ("vanilla", "kd", "eco")
COLORS = {"vanilla": "C0", "kd": "C2", "eco": "C3"}
SHARED_EXCEPT = ("recipe", "teacher", "eco")  # the task keys the three configs may differ in


def _metrics(run: Path) -> list[dict]:
    path = run / "metrics.jsonl"
    return [json.loads(l) for l in path.read_text().splitlines() if l.strip()] if path.exists() else []


def read_curve(run: Path) -> list[dict]:
    """The run's validations: [{"step", "psnr_y", "ssim_y"}] ([] before the first)."""
    return [
        {"step": r["step"], "psnr_y": r["val_psnr_y"], "ssim_y": r["val_ssim_y"]}
        for r in _metrics(run)
        if "val_psnr_y" in r
    ]


def wall_time(run: Path) -> float | None:
    """The last elapsed_s the run logged (None without any)."""
    el = [e for e in (r.get("elapsed_s") for r in _metrics(run)) if e is not None]
    return el[-1] if el else None


def finished(run: Path, iterations: int) -> bool:
    from ..models import read_file

    last = run / "last.pt"
    return last.exists() and read_file(last)["step"] >= iterations


def at(curve: list[dict], step: int) -> float:
    """PSNR at the validation point closest to `step`."""
    return min(curve, key=lambda r: abs(r["step"] - step))["psnr_y"]


def config_path(configs: str | Path, recipe: str) -> Path:
    """The recipe's student config in the folder `configs`: <recipe>_x2.yaml (configs/sr/), or
    sr_<recipe>_x2.yaml (the flat layout of configs/history/)."""
    names = [Path(configs) / f"{recipe}_x2.yaml", Path(configs) / f"sr_{recipe}_x2.yaml"]
    return next((p for p in names if p.exists()), names[0])


def load_configs(configs: str | Path, runs: str | Path | None, overrides: list[str]) -> dict:
    """{recipe: (config path, overrides, TrainConfig)}; `runs` puts the runs in RUNS/<recipe>."""
    from ..train.config import load_config

    cfgs = {}
    for r in RECIPES:
        path = config_path(configs, r)
        ov = list(overrides) + ([f"run.out={Path(runs) / r}"] if runs else [])
        cfgs[r] = (path, ov, load_config(path, ov))
    return cfgs


def check_controlled(cfgs: dict) -> None:
    """The comparison is only fair if everything but the recipe is shared: task (but its recipe,
    teacher and eco sections), optimiser and run settings (but run.out)."""
    van = cfgs["vanilla"][2]
    base = {k: v for k, v in van.task.items() if k not in SHARED_EXCEPT}
    for r in RECIPES:
        c = cfgs[r][2]
        other = {k: v for k, v in c.task.items() if k not in SHARED_EXCEPT}
        if (
            other != base
            or c.optim != van.optim
            or {k: v for k, v in vars(c.run).items() if k != "out"}
            != {k: v for k, v in vars(van.run).items() if k != "out"}
        ):
            raise SystemExit(f"config of '{r}' differs from vanilla in more than the recipe: not a controlled study")


def table_steps(val_steps: list[int], iterations: int) -> dict[str, int]:
    """The validation steps nearest 10 %, 25 % and 50 % of the run (the earlier on ties), and the last."""
    snap = lambda f: min(val_steps, key=lambda s: (abs(s - f * iterations), s))
    return {"early": snap(0.1), "quarter": snap(0.25), "mid": snap(0.5), "final": val_steps[-1]}


def table_row(curve: list[dict], steps: dict[str, int], iterations: int, wall: float | None) -> dict:
    """One recipe's row: PSNR-Y at the table's steps, best, final SSIM-Y, wall time and stability
    (total PSNR lost between consecutive validations, 0 = monotone; and in the first half)."""
    row = {k: round(at(curve, s), 4) for k, s in steps.items()}
    row["best"] = round(max(x["psnr_y"] for x in curve), 4)
    row["final_ssim_y"] = round(curve[-1]["ssim_y"], 5)
    row["wall_time_s"] = wall
    pairs = list(zip(curve, curve[1:]))
    drops = [max(0.0, a["psnr_y"] - b["psnr_y"]) for a, b in pairs]
    half = [max(0.0, a["psnr_y"] - b["psnr_y"]) for a, b in pairs if b["step"] <= iterations // 2]
    row["psnr_drops_db"] = round(sum(drops), 4)
    row["psnr_drops_first_half_db"] = round(sum(half), 4)
    return row


def deltas_vs_vanilla(curves: dict[str, list[dict]], table: dict, iterations: int) -> dict:
    """KD's and ECO's mean PSNR-Y difference to vanilla over the first and second quarter and the
    last tenth of the run (at validation steps vanilla has too), and at the end."""
    van = {x["step"]: x["psnr_y"] for x in curves["vanilla"]}

    def delta(r, lo, hi):
        d = [x["psnr_y"] - van[x["step"]] for x in curves[r] if lo < x["step"] <= hi and x["step"] in van]
        return round(sum(d) / len(d), 4) if d else None

    return {
        r: {
            "first_quarter_mean": delta(r, 0, iterations // 4),
            "second_quarter_mean": delta(r, iterations // 4, iterations // 2),
            "last_tenth_mean": delta(r, int(0.9 * iterations), iterations),
            "final": round(table[r]["final"] - table["vanilla"]["final"], 4),
        }
        for r in ("kd", "eco")
    }


def paper_trend(deltas: dict) -> dict[str, bool]:
    """The paper's trend: ECO ahead of vanilla early and not behind at the end, KD behind at the end."""
    return {
        "eco_ahead_early": (deltas["eco"]["first_quarter_mean"] or 0) > 0,
        "eco_not_behind_at_end": deltas["eco"]["final"] >= 0,
        "kd_behind_vanilla_at_end": deltas["kd"]["final"] < 0,
    }


def run(
    root: Path,
    configs: str | Path,
    out: str | Path,
    runs: str | Path | None = None,
    overrides: list[str] | tuple[str, ...] = (),
    skip_train: bool = False,
    export: bool = False,
    quiet: bool = False,
) -> dict:
    """Train (or resume, or read) the three students, compare them; writes eco.json and eco.png
    into `out`. `root`: the repository, to which the configs' paths in eco.json are relative."""
    import torch

    torch.set_num_threads(1)
    from ..tasks.sr.data import make_pairs
    from ..tasks.sr.task import DATA_DEFAULTS, evaluate, load_teacher
    from ..train.run import train_from_config

    cfgs = load_configs(configs, runs, overrides)
    run_dirs = {r: Path(cfgs[r][2].run.out) for r in RECIPES}
    check_controlled(cfgs)

    iters = cfgs["vanilla"][2].run.iterations
    for r in RECIPES:
        path, ov, _ = cfgs[r]
        if finished(run_dirs[r], iters):
            print(f"[{r}] finished run found in {run_dirs[r]}")
            continue
        if skip_train:
            raise SystemExit(f"[{r}] no finished run in {run_dirs[r]} (drop --skip-train to train it)")
        print(f"[{r}] training {path.name} → {run_dirs[r]}", flush=True)
        train_from_config(path, ov, resume=True, progress=not quiet)

    curves = {r: read_curve(run_dirs[r]) for r in RECIPES}
    c0 = cfgs["vanilla"][2]
    task = c0.task
    scale = int(task.get("scale", 2))
    data = {**DATA_DEFAULTS, **(task.get("data") or {})}
    valid = make_pairs(data["valid"], scale, "valid", data["valid_limit"], data["quantize_lr"], data["valid_max_size"])
    teacher_name = cfgs["eco"][2].task["teacher"]["model"]
    teacher, _ = load_teacher(teacher_name, scale)
    ref = {"teacher": evaluate(teacher, valid, scale), "bicubic": evaluate("bicubic", valid, scale)}

    steps = table_steps(sorted({x["step"] for x in curves["vanilla"]}), iters)
    table = {r: table_row(curves[r], steps, iters, wall_time(run_dirs[r])) for r in RECIPES}
    deltas = deltas_vs_vanilla(curves, table, iters)
    result = {
        "study": "ECO vs vanilla vs KD (same architecture, data, seed, iterations)",
        "configs": {r: str(cfgs[r][0].relative_to(root) if cfgs[r][0].is_absolute() else cfgs[r][0]) for r in RECIPES},
        "overrides": list(overrides),
        "runs": {r: str(run_dirs[r]) for r in RECIPES},
        "setup": {
            "model": task["model"],
            "scale": scale,
            "data": data,
            "iterations": iters,
            "optim": vars(c0.optim),
            "seed": c0.run.seed,
            "threads": c0.run.threads,
            "eco": cfgs["eco"][2].task.get("eco"),
            "teacher": teacher_name,
            "valid_images": [v.name for v in valid],
        },
        "metric": "PSNR-Y (dB) on the validation set, border crop = scale, 8-bit SR output",
        "reference": {k: {m: round(v, 4) for m, v in d.items()} for k, d in ref.items()},
        "table_steps": steps,
        "table": table,
        "delta_vs_vanilla_db": deltas,
        "paper_trend_seen": paper_trend(deltas),
        "curves": curves,
        "generated": time.strftime("%Y-%m-%d %H:%M:%S"),
    }
    out = Path(out)
    write_json(out / "eco.json", result)
    plot(result, out / "eco.png")
    print_table(result)
    print(f"wrote {out / 'eco.json'} and {out / 'eco.png'}")
    if export:
        export_students(result)
    return result


def print_table(result: dict) -> None:
    """The PSNR-Y table, the differences to vanilla and the paper's trend, as text."""
    ref, steps, table = result["reference"], result["table_steps"], result["table"]
    print(
        f"\nPSNR-Y (dB) on {', '.join(result['setup']['valid_images'])}; teacher {ref['teacher']['psnr_y']:.3f}, "
        f"bicubic {ref['bicubic']['psnr_y']:.3f}"
    )
    hdr = (
        f"{'recipe':8s} "
        + " ".join(f"{f'{k}@{s}':>12s}" for k, s in steps.items())
        + "    best  SSIM-Y  drops(dB)  time(s)"
    )
    print(hdr)
    for r in RECIPES:
        row = table[r]
        print(
            f"{r:8s} " + " ".join(f"{row[k]:12.3f}" for k in steps) + f" {row['best']:7.3f} {row['final_ssim_y']:.4f} "
            f"{row['psnr_drops_db']:10.3f} {row['wall_time_s'] or 0:8.0f}"
        )
    for r in ("kd", "eco"):
        deltas = result["delta_vs_vanilla_db"][r]
        print(f"{r} − vanilla: " + ", ".join(f"{k} {v:+.3f}" for k, v in deltas.items() if v is not None))
    print("paper trend: " + ", ".join(f"{k}={v}" for k, v in result["paper_trend_seen"].items()))


def export_students(result: dict) -> None:
    """Ship the vanilla and ECO students as sr_vanilla_x2 / sr_eco_x2 (their registered files), with
    the study's row in the card's scores."""
    from ..models import SHIPPED, WEIGHTS_DIR, read_file
    from ..models.card import export_run

    for r in ("vanilla", "eco"):
        name = f"sr_{r}_x2"
        scores = {"eco_study": {"source": "bench/eco.py (bench/results/eco.json)", **result["table"][r]}}
        pt, _ = export_run(result["runs"][r], WEIGHTS_DIR / SHIPPED[name].file, scores)
        measured = read_file(pt)["card"]["measured"]
        print(f"exported {name}: PSNR-Y {measured['valid_psnr_y']:.3f} dB")


def plot(res: dict, path: Path) -> None:
    """Validation PSNR-Y over iterations per recipe, and KD's and ECO's difference to vanilla with
    the ECO teacher weight a(t) (eco.png)."""
    from ..tasks.sr.eco import eco_weight

    plt = pyplot()
    curves, ref = res["curves"], res["reference"]
    fig, (ax, bx) = plt.subplots(1, 2, figsize=(11, 4))
    for r, cv in curves.items():
        ax.plot([x["step"] for x in cv], [x["psnr_y"] for x in cv], "o-", ms=2.5, lw=1.2, color=COLORS[r], label=r)
    ax.axhline(ref["teacher"]["psnr_y"], color="k", ls="--", lw=0.8, label="teacher")
    ax.axhline(ref["bicubic"]["psnr_y"], color="gray", ls=":", lw=0.8, label="bicubic")
    finals = [cv[-1]["psnr_y"] for cv in curves.values()]
    lo = min(ref["bicubic"]["psnr_y"], min(finals)) - 0.6
    ax.set_ylim(lo, max(ref["teacher"]["psnr_y"], max(finals)) + 0.3)
    ax.set(xlabel="iteration", ylabel="PSNR-Y (dB)", title="validation PSNR-Y")
    ax.legend(loc="lower right", fontsize=8)
    van = {x["step"]: x["psnr_y"] for x in curves["vanilla"]}
    for r in ("kd", "eco"):
        pts = [(x["step"], x["psnr_y"] - van[x["step"]]) for x in curves[r] if x["step"] in van]
        bx.plot(*zip(*pts), "o-", ms=2.5, lw=1.2, color=COLORS[r], label=f"{r} − vanilla")
    bx.axhline(0, color="C0", lw=0.8)
    bx.set(xlabel="iteration", ylabel="Δ PSNR-Y (dB)", title="difference to vanilla")
    iters = res["setup"]["iterations"]
    e = res["setup"]["eco"] or {}
    cx = bx.twinx()
    ts = [i / 100 for i in range(101)]
    cx.plot(
        [t * iters for t in ts],
        [eco_weight(t, e.get("shift", 0.0), e.get("schedule", "sigmoid"), e.get("a", 1.0)) for t in ts],
        color="gray",
        lw=0.8,
        alpha=0.6,
    )
    cx.set_ylabel("ECO teacher weight a(t)", color="gray")
    cx.set_ylim(-0.05, 1.05)
    bx.legend(loc="upper right", fontsize=8)
    model = res["setup"]["model"]
    model = model.get("preset", model) if isinstance(model, dict) and len(model) == 1 else model
    fig.suptitle(
        f"ECO study: {model} ×{res['setup']['scale']}, {iters} iterations, seed {res['setup']['seed']}, "
        f"teacher {res['setup']['teacher']}",
        fontsize=10,
    )
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
