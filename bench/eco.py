"""ECO study: vanilla vs KD vs ECO training of the same small SR network (Lee & Heo, AAAI 2024).

    python bench/eco.py                 # train (or resume / read) the three students, write the results
    python bench/eco.py --skip-train    # only read finished runs
    python bench/eco.py --export        # also ship the vanilla and ECO students as sr_vanilla_x2 / sr_eco_x2

The students come from configs/sr_{vanilla,kd,eco}_x2.yaml, which differ only in `task.recipe`:
same architecture (EDSR-baseline-XS ×2), data (scikit-image demo photographs), seed (so the same
initial weights and the same random crops), optimiser and iterations. KD and ECO use the teacher
named in the configs (shipped `sr_teacher_x2`, from configs/sr_teacher_x2.yaml; train it first if
it is missing). Each run is an ordinary `neurecon train` run: finished runs are read, unfinished
ones resumed. Writes bench/results/eco.json and bench/results/eco.png (PSNR-Y on the validation
set over iterations) and prints a table.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RECIPES = ("vanilla", "kd", "eco")
COLORS = {"vanilla": "C0", "kd": "C2", "eco": "C3"}


def read_curve(run: Path) -> list[dict]:
    path = run / "metrics.jsonl"
    if not path.exists():
        return []
    rows = [json.loads(l) for l in path.read_text().splitlines() if l.strip()]
    return [
        {"step": r["step"], "psnr_y": r["val_psnr_y"], "ssim_y": r["val_ssim_y"]} for r in rows if "val_psnr_y" in r
    ]


def wall_time(run: Path) -> float | None:
    path = run / "metrics.jsonl"
    if not path.exists():
        return None
    el = [json.loads(l).get("elapsed_s") for l in path.read_text().splitlines() if l.strip()]
    el = [e for e in el if e is not None]
    return el[-1] if el else None


def finished(run: Path, iterations: int) -> bool:
    import torch

    last = run / "last.pt"
    return last.exists() and torch.load(last, map_location="cpu", weights_only=False)["step"] >= iterations


def at(curve: list[dict], step: int) -> float:
    """PSNR at the validation point closest to `step`."""
    return min(curve, key=lambda r: abs(r["step"] - step))["psnr_y"]


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--configs", default=str(ROOT / "configs"), help="folder with sr_{vanilla,kd,eco}_x2.yaml")
    p.add_argument("--runs", default=None, help="put the runs in RUNS/<recipe> instead of the configs' run.out")
    p.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE", help="override entries of all three configs")
    p.add_argument("--skip-train", action="store_true", help="only read finished runs")
    p.add_argument("--export", action="store_true", help="export the vanilla and ECO students as shipped weights")
    p.add_argument("--out", default=str(ROOT / "bench" / "results"))
    p.add_argument("--quiet", action="store_true")
    a = p.parse_args(argv)

    import torch

    torch.set_num_threads(1)
    from neurecon.sr.data import make_pairs
    from neurecon.sr.tasks import DATA_DEFAULTS, evaluate, load_teacher

    from neurecon.train.config import load_config
    from neurecon.train.run import train_from_config

    cfgs, runs = {}, {}
    for r in RECIPES:
        path = Path(a.configs) / f"sr_{r}_x2.yaml"
        ov = list(a.set) + ([f"run.out={Path(a.runs) / r}"] if a.runs else [])
        cfgs[r] = (path, ov, load_config(path, ov))
        runs[r] = Path(cfgs[r][2].run.out)
    # the comparison is only fair if everything but the recipe is shared
    base = {k: v for k, v in cfgs["vanilla"][2].task.items() if k not in ("recipe", "teacher", "eco")}
    for r in RECIPES:
        c = cfgs[r][2]
        other = {k: v for k, v in c.task.items() if k not in ("recipe", "teacher", "eco")}
        if (
            other != base
            or c.optim != cfgs["vanilla"][2].optim
            or {k: v for k, v in vars(c.run).items() if k != "out"}
            != {k: v for k, v in vars(cfgs["vanilla"][2].run).items() if k != "out"}
        ):
            raise SystemExit(f"config of '{r}' differs from vanilla in more than the recipe: not a controlled study")

    iters = cfgs["vanilla"][2].run.iterations
    for r in RECIPES:
        path, ov, c = cfgs[r]
        if finished(runs[r], iters):
            print(f"[{r}] finished run found in {runs[r]}")
            continue
        if a.skip_train:
            raise SystemExit(f"[{r}] no finished run in {runs[r]} (drop --skip-train to train it)")
        print(f"[{r}] training {path.name} → {runs[r]}", flush=True)
        train_from_config(path, ov, resume=True, progress=not a.quiet)

    curves = {r: read_curve(runs[r]) for r in RECIPES}
    c0 = cfgs["vanilla"][2]
    task = c0.task
    scale = int(task.get("scale", 2))
    data = {**DATA_DEFAULTS, **(task.get("data") or {})}
    valid = make_pairs(data["valid"], scale, "valid", data["valid_limit"], data["quantize_lr"], data["valid_max_size"])
    teacher_name = cfgs["eco"][2].task["teacher"]["model"]
    teacher, _ = load_teacher(teacher_name, scale)
    ref = {"teacher": evaluate(teacher, valid, scale), "bicubic": evaluate("bicubic", valid, scale)}

    val_steps = sorted({x["step"] for x in curves["vanilla"]})
    snap = lambda f: min(val_steps, key=lambda s: (abs(s - f * iters), s))  # noqa: E731 (a validation step)
    steps = {"early": snap(0.1), "quarter": snap(0.25), "mid": snap(0.5), "final": val_steps[-1]}
    table = {}
    for r in RECIPES:
        cv = curves[r]
        row = {k: round(at(cv, s), 4) for k, s in steps.items()}
        row["best"] = round(max(x["psnr_y"] for x in cv), 4)
        row["final_ssim_y"] = round(cv[-1]["ssim_y"], 5)
        row["wall_time_s"] = wall_time(runs[r])
        # stability: total PSNR lost between consecutive validations (0 = monotone curve)
        drops = [max(0.0, a_["psnr_y"] - b_["psnr_y"]) for a_, b_ in zip(cv, cv[1:])]
        half = [max(0.0, a_["psnr_y"] - b_["psnr_y"]) for a_, b_ in zip(cv, cv[1:]) if b_["step"] <= iters // 2]
        row["psnr_drops_db"] = round(sum(drops), 4)
        row["psnr_drops_first_half_db"] = round(sum(half), 4)
        table[r] = row
    van = {x["step"]: x["psnr_y"] for x in curves["vanilla"]}

    def delta(r, lo, hi):
        d = [x["psnr_y"] - van[x["step"]] for x in curves[r] if lo < x["step"] <= hi and x["step"] in van]
        return round(sum(d) / len(d), 4) if d else None

    deltas = {
        r: {
            "first_quarter_mean": delta(r, 0, iters // 4),
            "second_quarter_mean": delta(r, iters // 4, iters // 2),
            "last_tenth_mean": delta(r, int(0.9 * iters), iters),
            "final": round(table[r]["final"] - table["vanilla"]["final"], 4),
        }
        for r in ("kd", "eco")
    }
    trend = {
        "eco_ahead_early": (deltas["eco"]["first_quarter_mean"] or 0) > 0,
        "eco_not_behind_at_end": deltas["eco"]["final"] >= 0,
        "kd_behind_vanilla_at_end": deltas["kd"]["final"] < 0,
    }
    result = {
        "study": "ECO vs vanilla vs KD (same architecture, data, seed, iterations)",
        "configs": {r: str(cfgs[r][0].relative_to(ROOT) if cfgs[r][0].is_absolute() else cfgs[r][0]) for r in RECIPES},
        "overrides": list(a.set),
        "runs": {r: str(runs[r]) for r in RECIPES},
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
        "paper_trend_seen": trend,
        "curves": curves,
        "generated": time.strftime("%Y-%m-%d %H:%M:%S"),
    }
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "eco.json").write_text(json.dumps(result, indent=1))
    plot(result, out / "eco.png")

    print(
        f"\nPSNR-Y (dB) on {', '.join(v.name for v in valid)}; teacher {ref['teacher']['psnr_y']:.3f}, "
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
        print(f"{r} − vanilla: " + ", ".join(f"{k} {v:+.3f}" for k, v in deltas[r].items() if v is not None))
    print("paper trend: " + ", ".join(f"{k}={v}" for k, v in trend.items()))
    print(f"wrote {out / 'eco.json'} and {out / 'eco.png'}")

    if a.export:
        from neurecon.sr.export import export_run

        for r in ("vanilla", "eco"):
            card = export_run(
                runs[r],
                f"sr_{r}_x2",
                extra={"config_file": f"sr_{r}_x2.yaml", "study": "bench/eco.py (bench/results/eco.json)"},
            )
            print(f"exported sr_{r}_x2: PSNR-Y {card['valid_psnr_y']:.3f} dB")
    return 0


def plot(res: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from neurecon.sr.eco import eco_weight

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


if __name__ == "__main__":
    sys.exit(main())
