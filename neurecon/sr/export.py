"""Export a finished SR run as shipped weights + model card.

    python -m neurecon.sr.export runs/sr_teacher_x2 sr_teacher_x2

writes ``neurecon/models/weights/<name>.pt`` (fp16 weights + spec + card, via
:func:`neurecon.models.export_shipped`) and ``<name>.md``. The card's PSNR-Y / SSIM-Y are measured
on the run's validation set with the exported fp16 weights, next to bicubic.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import torch
import yaml

from ..models import WEIGHTS_DIR, export_shipped, load_model
from ..models.card import run_summary
from .data import DEMO_TRAIN, DEMO_VALID, make_pairs
from .tasks import DATA_DEFAULTS, evaluate


def _describe(source, split: str) -> str:
    if source == "demo":
        names = DEMO_TRAIN if split == "train" else DEMO_VALID
        return f"scikit-image demo photographs ({split}): {', '.join(names)}"
    return str(source)


def export_run(run: str | Path, name: str, out_dir: str | Path = WEIGHTS_DIR, extra: dict | None = None) -> dict:
    run = Path(run)
    best = run / "best.pt"
    if not best.exists():
        raise FileNotFoundError(f"{best} not found: train the run first")
    ck = torch.load(best, map_location="cpu", weights_only=False)
    cfg = ck["config"]
    task = cfg["task"]
    data = {**DATA_DEFAULTS, **(task.get("data") or {})}
    scale = int(task.get("scale", 2))
    info = run_summary(run)
    out = Path(out_dir) / f"{name}.pt"
    card = {"name": name, "task": "super-resolution", "scale": scale, "recipe": task.get("recipe", "vanilla"),
            "spec": ck["spec"], "parameters": None, "best_step": ck["step"],
            "iterations": cfg["run"]["iterations"], "wall_time_s": round(info["wall_minutes"] * 60) if info["wall_minutes"] else None,
            "threads": cfg["run"].get("threads"), "seed": cfg["run"].get("seed"),
            "train_data": _describe(data["train"], "train"), "valid_data": _describe(data["valid"], "valid"),
            "degradation": "MATLAB bicubic imresize (antialiased), LR rounded to 8 bits" if data["quantize_lr"]
            else "MATLAB bicubic imresize (antialiased), float LR",
            "patch": data["patch"], "batch": data["batch"], "optim": cfg["optim"],
            "teacher": (task.get("teacher") or {}).get("model") if task.get("recipe") in ("kd", "eco") else None,
            "eco": task.get("eco") if task.get("recipe") == "eco" else None,
            "config": cfg.get("card", {}), "run": str(run), **(extra or {})}
    export_shipped(best, out, card)  # fp16
    model, _ = load_model(out)
    card["parameters"] = sum(p.numel() for p in model.parameters())
    valid = make_pairs(data["valid"], scale, "valid", data["valid_limit"], data["quantize_lr"])
    m = evaluate(model, valid, scale)
    b = evaluate("bicubic", valid, scale)
    card["valid_psnr_y"], card["valid_ssim_y"] = round(m["psnr_y"], 4), round(m["ssim_y"], 5)
    card["bicubic_psnr_y"], card["bicubic_ssim_y"] = round(b["psnr_y"], 4), round(b["ssim_y"], 5)
    export_shipped(best, out, card)
    (out.with_suffix(".md")).write_text(card_markdown(card))
    return card


def card_markdown(c: dict) -> str:
    spec = ", ".join(f"{k}={v}" for k, v in c["spec"].items())
    o = c["optim"]
    lines = [f"# {c['name']}: {c['config'].get('title', 'super-resolution model')}", "",
             f"×{c['scale']} single-image super-resolution, `{c['spec']['arch']}` ({spec}); "
             f"{c['parameters']:,} parameters, fp16 weights.", "",
             "| | |", "|---|---|",
             f"| recipe | {c['recipe']}" + (f" (teacher `{c['teacher']}`, ECO {c['eco']})" if c['recipe'] == 'eco' else
                                          f" (teacher `{c['teacher']}`)" if c['recipe'] == 'kd' else "") + " |",
             f"| training data | {c['train_data']} |",
             f"| degradation | {c['degradation']} |",
             f"| crops | LR {c['patch']}², batch {c['batch']}, flips + 90° rotations |",
             f"| optimiser | {o['name']} lr {o['lr']}, {o['schedule']} (min ratio {o['min_lr_ratio']}), "
             f"warmup {o['warmup']}, grad clip {o['grad_clip']}, L1 loss |",
             f"| iterations | {c['iterations']} (best validation at step {c['best_step']}) |",
             f"| wall time | {c['wall_time_s']} s on {c['threads']} CPU thread(s) (shared 2-core machine) |",
             f"| validation data | {c['valid_data']} |",
             f"| PSNR-Y / SSIM-Y (valid, border {c['scale']}, 8-bit output) | **{c['valid_psnr_y']:.2f} dB / "
             f"{c['valid_ssim_y']:.4f}** (bicubic {c['bicubic_psnr_y']:.2f} dB / {c['bicubic_ssim_y']:.4f}) |", ""]
    if c.get("study"):
        lines += [f"Study: {c['study']}.", ""]
    if c["config"].get("intended_use"):
        lines += [f"Intended use: {c['config']['intended_use']}.", ""]
    lines += ["Metrics: Y of BT.601 (MATLAB rgb2ycbcr), float64, border crop = scale, BasicSR conventions "
              "(`neurecon.sr.metrics`). Small model trained briefly on a handful of photographs: a demo and a "
              "study artefact, not a competitive upscaler.", "",
              "Reproduce: `neurecon train configs/" + (c.get("config_file") or "sr_*.yaml") + "` then "
              f"`python -m neurecon.sr.export {c['run']} {c['name']}`.", ""]
    return "\n".join(lines)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("run", help="training run directory (with best.pt)")
    p.add_argument("name", help="shipped name, e.g. sr_teacher_x2")
    p.add_argument("--out-dir", default=str(WEIGHTS_DIR))
    p.add_argument("--config-file", default=None, help="config path to quote in the card")
    a = p.parse_args(argv)
    card = export_run(a.run, a.name, a.out_dir, {"config_file": a.config_file} if a.config_file else None)
    print(yaml.safe_dump({k: card[k] for k in ("name", "valid_psnr_y", "valid_ssim_y", "bicubic_psnr_y", "parameters",
                                                "wall_time_s")}, sort_keys=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
