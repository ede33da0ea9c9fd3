"""Relighting study: progressive vs direct training, both against the interpolation baselines.

Two runs of one recipe (``configs/relight/default.yaml``) that differ only in the schedule: the
recipe's progressive coarse-to-fine training (the paper's 4 stages) and the same network trained
directly at full resolution for the same number of iterations (``task.progressive=false``): same
data, seed (same initial weights and sample stream), optimiser and iterations. Each is an ordinary
``neurecon train`` run: finished runs are read, unfinished ones resumed.

Measured:

* validation over iterations (the runs' own logs: the validation subjects' held-out lights, the
  stage output brought to full resolution) against the baselines on the same cases;
* at the end, on the **test** split (held-out objects, never trained or validated on), every
  held-out light (between the captured ones): masked PSNR, SSIM, highlight and moved-shadow errors
  (:mod:`neurecon.tasks.relight.metrics`) of both networks' best checkpoints and of the nearest,
  barycentric and k-nearest baselines, and per case whether the network beats barycentric;
* training wall time of both runs (same machine, same thread count, logged by the trainer).

Writes into ``out``: ``relight.json``, ``curves.png`` (validation PSNR and shadow error over
iterations), ``grid.png`` (test cases: reference, baselines, direct, progressive, |error| of
barycentric and progressive) and ``sweep.gif`` (a light orbiting a test subject at a fixed world
elevation: progressive network | barycentric).
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path

import numpy as np
import torch

from ..io.ldr import tonemap_to_ldr
from ..models import load_model
from ..render.lights import camera_basis, normalize
from ..tasks.relight.baselines import Relighter
from ..tasks.relight.data import heldout_cases, load_subjects
from ..tasks.relight.metrics import mean_metrics, relight_metrics
from ..tasks.relight.task import evaluate_baseline
from ..train.config import load_config
from .common import cpu_model, pyplot, write_json

BASELINES = ("nearest", "barycentric", "knn")
METRICS = ("psnr", "ssim", "highlight_mae", "shadow_mae")


def configs(recipe: str | Path, overrides: list[str] | None = None, runs: str = "runs") -> dict:
    over = list(overrides or [])
    return {
        "progressive": load_config(recipe, over + [f"run.out={runs}/relight_default"]),
        "direct": load_config(recipe, over + ["task.progressive=false", f"run.out={runs}/relight_direct"]),
    }


def read_log(run: Path) -> tuple[list[dict], list[dict]]:
    path = run / "metrics.jsonl"
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()] if path.exists() else []
    return [r for r in rows if "loss" in r], [r for r in rows if "val_psnr" in r]


def finished(run: Path, iterations: int) -> bool:
    train, _ = read_log(run)
    return (run / "best.pt").exists() and bool(train) and train[-1]["step"] >= iterations


def train_runs(cfgs: dict, progress: bool = True) -> None:
    from ..train.run import train_from_config

    for name, cfg in cfgs.items():
        if finished(Path(cfg.run.out), cfg.run.iterations):
            continue
        print(f"training {name}: {cfg.run.out}", flush=True)
        train_from_config(cfg.to_dict(), progress=progress)


def network_rows(model, cases: list[dict]) -> list[dict]:
    rows = []
    relighters: dict[str, Relighter] = {}
    for c in cases:
        s = c["subject"]
        r = relighters.setdefault(s.name, Relighter.from_subject(s, model, k=len(c["neighbours"])))
        pred = r.network(s.heldout_dirs[c["index"]])
        rows.append(relight_metrics(pred, s.heldout[c["index"]], s.mask, s.images[c["neighbours"][0]]))
    return rows


def baseline_rows(method: str, cases: list[dict]) -> list[dict]:
    rows = []
    relighters: dict[str, Relighter] = {}
    for c in cases:
        s = c["subject"]
        r = relighters.setdefault(s.name, Relighter.from_subject(s))
        pred = r(method, s.heldout_dirs[c["index"]])
        rows.append(relight_metrics(pred, s.heldout[c["index"]], s.mask, s.images[c["neighbours"][0]]))
    return rows


def wins(a: list[dict], b: list[dict], key: str = "psnr") -> float:
    """Fraction of cases where `a` is better than `b` on `key` (higher PSNR/SSIM, lower errors)."""
    higher = key in ("psnr", "ssim")
    pairs = [(x[key], y[key]) for x, y in zip(a, b) if np.isfinite(x[key]) and np.isfinite(y[key])]
    if not pairs:
        return float("nan")
    return float(np.mean([(x > y) if higher else (x < y) for x, y in pairs]))


def with_elapsed(val: list[dict], train: list[dict]) -> list[dict]:
    """Validation rows with the training wall time (minutes) at their step, from the train log."""
    times = {r["step"]: r.get("elapsed_s") for r in train}
    steps = sorted(times)
    out = []
    for r in val:
        near = min(steps, key=lambda s: abs(s - r["step"])) if steps else None
        out.append({**r, "elapsed_min": round(times[near] / 60, 2) if near is not None and times[near] else None})
    return out


def at_time(rows: list[dict], minutes: float) -> dict:
    """The validation row whose wall time is closest to `minutes`."""
    timed = [r for r in rows if r.get("elapsed_min") is not None]
    return min(timed, key=lambda r: abs(r["elapsed_min"] - minutes)) if timed else {}


def plot_curves(curves: dict, baselines: dict, path: Path) -> None:
    plt = pyplot()
    fig, axes = plt.subplots(1, 3, figsize=(16, 4))
    panels = (
        (axes[0], "step", "val_psnr", "iteration", "masked PSNR (dB)"),
        (axes[1], "step", "val_shadow_mae", "iteration", "moved-shadow MAE"),
        (axes[2], "elapsed_min", "val_psnr", "training wall time (min, both runs side by side)", "masked PSNR (dB)"),
    )
    for ax, xkey, key, xlabel, label in panels:
        for name, rows in curves.items():
            rows = [r for r in rows if r.get(xkey) is not None]
            ax.plot([r[xkey] for r in rows], [r[key] for r in rows], "-o", ms=3, label=f"network, {name}")
        for i, (m, v) in enumerate(baselines.items()):
            ax.axhline(v[key[4:]], ls="--", color=f"C{i + 3}", label=m)
        ax.set_xlabel(xlabel)
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
    axes[0].set_title("validation (held-out lights of validation objects)")
    axes[1].set_title("error where hard shadows moved (lower is better)")
    axes[2].set_title("validation PSNR against training time")
    for ax in axes[[0, 2]]:
        lo = min(v["psnr"] for v in baselines.values()) - 1.5
        ax.set_ylim(bottom=lo)
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _tile(img: np.ndarray, zoom: int) -> np.ndarray:
    u8 = np.round(tonemap_to_ldr(img) * 255).astype(np.uint8)
    return np.kron(u8, np.ones((zoom, zoom, 1), np.uint8))


def image_grid(cases: list[dict], preds: dict[str, list[np.ndarray]], path: Path, zoom: int = 3) -> None:
    """Rows = cases; columns = reference, each method, |error| ×4 of barycentric and progressive."""
    from PIL import Image, ImageDraw

    names = ["reference", *preds, "|err| barycentric", "|err| progressive"]
    rows = []
    for i, c in enumerate(cases):
        ref = c["subject"].heldout[c["index"]]
        cols = [ref] + [preds[m][i] for m in preds]
        cols += [4 * np.abs(preds[m][i] - ref) for m in ("barycentric", "progressive")]
        rows.append(np.concatenate([_tile(x, zoom) for x in cols], 1))
    grid = np.concatenate(rows, 0)
    h = 14
    canvas = np.zeros((grid.shape[0] + h, grid.shape[1], 3), np.uint8)
    canvas[h:] = grid
    im = Image.fromarray(canvas)
    draw = ImageDraw.Draw(im)
    w = grid.shape[1] // len(names)
    for j, n in enumerate(names):
        draw.text((j * w + 2, 1), n, fill=(255, 255, 255))
    im.save(path)


def orbit_directions(subject, frames: int, elevation_deg: float) -> np.ndarray:
    """A light circling the subject at a fixed *world* elevation, in the subject's camera frame."""
    cam = subject.meta["camera"]
    basis = camera_basis(cam["origin"], cam["target"], cam["up"])
    el = math.radians(elevation_deg)
    t = 2 * math.pi * np.arange(frames) / frames
    world = np.stack([math.cos(el) * np.sin(t), np.full(frames, math.sin(el)), math.cos(el) * np.cos(t)], -1)
    return normalize(world @ basis)


def sweep_gif(relighter: Relighter, dirs: np.ndarray, path: Path, zoom: int = 3, ms: int = 90) -> None:
    from PIL import Image, ImageDraw

    frames = []
    for d in dirs:
        a, b = relighter.network(d), relighter.barycentric(d)
        row = np.concatenate([_tile(a, zoom), np.zeros((a.shape[0] * zoom, 4, 3), np.uint8), _tile(b, zoom)], 1)
        canvas = np.zeros((row.shape[0] + 14, row.shape[1], 3), np.uint8)
        canvas[14:] = row
        im = Image.fromarray(canvas)
        draw = ImageDraw.Draw(im)
        draw.text((2, 1), "network (progressive)", fill=(255, 255, 255))
        draw.text((a.shape[1] * zoom + 6, 1), "barycentric", fill=(255, 255, 255))
        frames.append(im.convert("P", palette=Image.ADAPTIVE))
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=ms, loop=0)


def run(
    recipe: str | Path = "configs/relight/default.yaml",
    out: str | Path = "bench/results/relight",
    runs: str = "runs",
    overrides: list[str] | None = None,
    skip_train: bool = False,
    test_split: str = "test",
    grid_cases: int = 6,
    sweep_frames: int = 36,
    progress: bool = True,
) -> dict:
    torch.set_num_threads(1)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    cfgs = configs(recipe, overrides, runs)
    if not skip_train:
        train_runs(cfgs, progress)
    for name, cfg in cfgs.items():
        if not (Path(cfg.run.out) / "best.pt").exists():
            raise FileNotFoundError(f"{cfg.run.out}/best.pt missing: train the {name} run first (without --skip-train)")
    task = cfgs["progressive"].task
    data = task.get("data") or {}
    root, k = data.get("root", "data/olat"), int(data.get("k", 4))

    # validation curves (the runs' logs) and the baselines on the same validation cases
    valid = load_subjects(root, data.get("valid", "valid"), data.get("valid_limit"))
    vcases = heldout_cases(valid, k, data.get("valid_lights"))
    vbase = {m: evaluate_baseline(m, vcases, k) for m in BASELINES}
    curves, walls = {}, {}
    for name, cfg in cfgs.items():
        train, val = read_log(Path(cfg.run.out))
        curves[name] = with_elapsed(val, train)
        walls[name] = {
            "seconds": train[-1]["elapsed_s"] if train else None,
            "iterations": train[-1]["step"] if train else 0,
        }

    # the test split: held-out objects, held-out lights
    test = load_subjects(root, test_split)
    cases = heldout_cases(test, k)
    t0 = time.perf_counter()
    rows = {m: baseline_rows(m, cases) for m in BASELINES}
    models = {}
    for name, cfg in cfgs.items():
        models[name], _ = load_model(Path(cfg.run.out) / "best.pt")
        rows[name] = network_rows(models[name], cases)
    summary = {m: mean_metrics(r) for m, r in rows.items()}
    result = {
        "recipe": str(recipe),
        "test": {"split": f"{root}/{test_split}", "subjects": len(test), "cases": len(cases), "k": k},
        "summary": summary,
        "wins_vs": {
            name: {b: {key: wins(rows[name], rows[b], key) for key in METRICS} for b in BASELINES + ("direct",)}
            for name in ("progressive", "direct")
        },
        "validation_baselines": vbase,
        "curves": {
            n: [
                {
                    k2: r[k2]
                    for k2 in (
                        "step",
                        "val_psnr",
                        "val_ssim",
                        "val_highlight_mae",
                        "val_shadow_mae",
                        "val_level",
                        "val_w_fine",
                        "elapsed_min",
                    )
                    if k2 in r
                }
                for r in c
            ]
            for n, c in curves.items()
        },
        "training": walls,
        "equal_time": {
            "minutes": curves["progressive"][-1].get("elapsed_min") if curves["progressive"] else None,
            "progressive_final": curves["progressive"][-1] if curves["progressive"] else {},
            "direct_at_that_time": at_time(curves["direct"], curves["progressive"][-1].get("elapsed_min") or 0)
            if curves["progressive"]
            else {},
        },
        "schedules": {n: cfg.task.get("progressive", "paper") for n, cfg in cfgs.items()},
        "eval_seconds": round(time.perf_counter() - t0, 1),
    }
    result["cpu"] = cpu_model()
    plot_curves(curves, vbase, out / "curves.png")

    # the grid: the cases where barycentric is worst at the moved shadows (where interpolation fails)
    order = np.argsort([-(r["shadow_mae"] if np.isfinite(r["shadow_mae"]) else -1) for r in rows["barycentric"]])
    picked = [int(i) for i in order[:grid_cases]]
    gcases = [cases[i] for i in picked]
    preds: dict[str, list[np.ndarray]] = {m: [] for m in (*BASELINES, "direct", "progressive")}
    for c in gcases:
        s = c["subject"]
        q = s.heldout_dirs[c["index"]]
        for m in BASELINES:
            preds[m].append(Relighter.from_subject(s)(m, q))
        for name in ("direct", "progressive"):
            preds[name].append(Relighter.from_subject(s, models[name], k).network(q))
    image_grid(gcases, preds, out / "grid.png")
    result["grid_cases"] = [{"subject": c["subject"].name, "heldout": int(c["index"])} for c in gcases]

    # the sweep: the test subject with a ground whose barycentric shadow error is largest
    with_ground = [s for s in test if s.meta.get("ground")] or test
    by_err: dict[str, list[float]] = {}
    for c, r in zip(cases, rows["barycentric"]):
        by_err.setdefault(c["subject"].name, []).append(r["shadow_mae"])
    subject = max(with_ground, key=lambda s: np.nanmean(by_err.get(s.name, [0.0]) or [0.0]))
    sweep_gif(
        Relighter.from_subject(subject, models["progressive"], k),
        orbit_directions(subject, sweep_frames, 40.0),
        out / "sweep.gif",
    )
    result["sweep"] = {"subject": subject.name, "frames": sweep_frames, "world_elevation_deg": 40.0}
    write_json(out / "relight.json", result)
    return result


def table(result: dict) -> str:
    """A Markdown table of the test summary."""
    lines = [
        "| method | masked PSNR (dB) ↑ | SSIM ↑ | highlight MAE ↓ | moved-shadow MAE ↓ |",
        "|---|---|---|---|---|",
    ]
    for m in ("nearest", "barycentric", "knn", "direct", "progressive"):
        s = result["summary"][m]
        lines.append(f"| {m} | {s['psnr']:.2f} | {s['ssim']:.4f} | {s['highlight_mae']:.4f} | {s['shadow_mae']:.4f} |")
    return "\n".join(lines)
