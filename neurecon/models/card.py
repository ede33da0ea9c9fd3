"""Model cards: turn a finished training run into shipped weights (fp16) plus a Markdown card
saying how they were trained (config, data, iterations, wall time) and what they score.

    neurecon export runs/denoise_default neurecon/models/weights/kpcn_default.pt [--scores bench/results/denoise.json]
    neurecon export neurecon/models/weights/unet_high_lambda.pt --scores bench/results/asym_unet_high/asymmetric.json \
        bench/results/asym_noise/asymmetric_noise.json      # refresh a shipped card from one or more benches
"""
from __future__ import annotations

import json
from pathlib import Path

import torch
import yaml

from . import export_shipped, weights_digest


def run_summary(run_dir: str | Path) -> dict:
    run = Path(run_dir)
    hist = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines() if line.strip()]
    train = [h for h in hist if "loss" in h]
    val = [h for h in hist if any(k.startswith("val_") for k in h)]
    best = torch.load(run / "best.pt", map_location="cpu", weights_only=False)
    cfg = best.get("config") or yaml.safe_load((run / "config.yaml").read_text())
    best_val = next((h for h in val if h["step"] == best["step"]), val[-1] if val else {})
    data_meta = {}
    from ..data.denoise import scene_seed, select_scenes
    from ..io import find_frames
    from ..train.denoise_task import DATA_DEFAULTS, train_dirs

    d = dict(cfg["task"].get("data") or {})
    if str(cfg["task"].get("name", "")).startswith("denoise"):  # what the denoise tasks read when a key is left out
        d = {**DATA_DEFAULTS, **d}
    root = Path(d.get("root", ""))
    subs = train_dirs(d)  # one or several train directories
    dirs = [("train" if len(subs) == 1 else f"train {t}", "train", t) for t in subs]
    for key, split, sub in dirs + [("valid", "valid", d.get("valid", "valid"))]:
        meta = root / sub / "metadata.json"
        if meta.exists():
            m = json.loads(meta.read_text())
            data_meta[key] = {k: m.get(k) for k in ("renderer", "variant", "sampler", "size", "spp", "ref_spp")}
            # what training read (limit, seed range), not what the render job's metadata planned
            used = select_scenes(find_frames(meta.parent), d.get(f"{split}_limit"), d.get(f"{split}_seeds"))
            seeds = [s for s in map(scene_seed, used) if s is not None]
            data_meta[key]["scenes"] = len(used)
            data_meta[key]["seed_range"] = [min(seeds), max(seeds) + 1] if seeds else m.get("seed_range")
    last = run / "last.pt"
    world = torch.load(last, map_location="cpu", weights_only=False).get("world", 1) if last.exists() else 1
    return {"iterations": train[-1]["step"] if train else 0, "world": world,
            "precision": (cfg.get("run") or {}).get("precision", "fp32"),
            "wall_minutes": round(train[-1].get("elapsed_s", 0) / 60, 1) if train else None,
            "best_step": best["step"], "best_validation": {k[4:]: v for k, v in best_val.items() if k.startswith("val_")},
            "final_train_loss": train[-1]["loss"] if train else None, "config": cfg, "data": data_meta}


# What a card keeps of the λ benches (bench/asymmetric.py, bench/asymmetric_noise.py): per spp and λ
LAMBDA_KEYS = {"asymmetric": ["noise_flat", "detail_kept", "p999", "blend_p999", "hdr_p999", "hdr_blend_p999",
                              "p999_isolated", "blend_p999_isolated"],
               "asymmetric_noise": ["blend_beta", "p999_noise", "blend_p999_noise", "kurtosis", "blend_kurtosis",
                                    "hdr_p999_noise", "hdr_blend_p999_noise", "hdr_kurtosis", "hdr_blend_kurtosis",
                                    "confidence_corr", "blend_confidence_corr", "noise_var", "blend_noise_var",
                                    "p999_noise_over_rms", "blend_p999_noise_over_rms"]}


def scores_for(bench: dict, weights_file: str, digest: str | None = None) -> dict:
    """What a benchmark result says about the model shipped as `weights_file` (under any of its
    shipped names); {} when the benchmark did not run it.

    bench/denoise.py: this model's rows, OIDN's, and the ratios to OIDN. The λ benches (which name
    the model they ran in "model"): their summary's main statistics, checks and verdict, under the
    bench's name. A bench that recorded the weights' digest counts only for the same `digest`."""
    from . import SHIPPED

    names = {n for n, f in SHIPPED.items() if f == weights_file}
    kind = "asymmetric_noise" if "verdict" in bench else "asymmetric" if {"checks", "speed"} <= bench.keys() else None
    if kind in LAMBDA_KEYS:
        if bench.get("model") not in names:
            return {}
        if digest and bench.get("weights_digest", digest) != digest:
            return {}
        per_spp = {spp: {lam: {k: m[k] for k in LAMBDA_KEYS[kind] if k in m} for lam, m in s.items()}
                   for spp, s in bench["summary"].items()}
        extra = {k: bench[k] for k in ("checks", "verdict", "speed", "renders_per_scene", "scenes") if k in bench}
        return {kind: {"summary": per_spp, **extra}}
    names = {f"neurecon:{n}" for n in names}
    keep = lambda k, s: s["method"] in names | {"oidn", "oidn:fast", "noisy"}  # noqa: E731
    ratios = {k: r for k, r in bench.get("ratios_vs_oidn", {}).items() if k.split("@")[0] in names}
    if not ratios:
        return {}
    return {"summary": {k: s for k, s in bench.get("summary", {}).items() if keep(k, s)}, "ratios_vs_oidn": ratios}


def _rounded(x, digits: int = 4):
    """Floats to `digits` significant digits, for reading (the .pt card keeps them whole)."""
    if isinstance(x, dict):
        return {k: _rounded(v, digits) for k, v in x.items()}
    if isinstance(x, list):
        return [_rounded(v, digits) for v in x]
    return float(f"{x:.{digits}g}") if isinstance(x, float) else x


def _scores_block(scores: dict | None) -> list[str]:
    return ["", "## Benchmark scores", "", "```json", json.dumps(_rounded(scores), indent=1), "```"] if scores else []


def rescore(shipped_pt: str | Path, *benches: dict) -> tuple[Path, Path]:
    """Replace the benchmark rows of an already shipped model (its .pt card and .md) with these
    benchmarks', or drop them when no benchmark ran the model (by name, and for the λ benches
    by the weights' digest as well)."""
    pt = Path(shipped_pt)
    ck = torch.load(pt, map_location="cpu", weights_only=False)
    scores = {}
    for bench in benches:
        scores.update(scores_for(bench, pt.name, weights_digest(ck["model"])))
    ck["card"]["scores"] = scores
    torch.save(ck, pt)
    md = pt.with_suffix(".md")
    text = md.read_text()
    head, _, config = text.partition("\n## Config")
    head = head.split("\n\n## Benchmark scores")[0].rstrip("\n")
    md.write_text("\n".join([head, *_scores_block(scores), "", "## Config"]) + config)
    return pt, md


def export_run(run_dir: str | Path, out: str | Path, scores: dict | None = None) -> tuple[Path, Path]:
    run = Path(run_dir)
    s = run_summary(run)
    cfg = s["config"]
    card = {"name": cfg.get("card", {}).get("name", Path(out).stem),
            "description": cfg.get("card", {}).get("description", ""),
            "trained_by": f"neurecon train (config: {cfg.get('card', {}).get('config', 'see config below')})",
            "iterations": s["iterations"], "wall_minutes": s["wall_minutes"], "best_step": s["best_step"],
            "processes": s["world"], "precision": s["precision"],
            "best_validation": s["best_validation"], "data": s["data"], "scores": scores or {},
            "config": cfg}
    pt = export_shipped(run / "best.pt", out, card)
    md = Path(out).with_suffix(".md")
    lines = [f"# {card['name']}", "", card["description"], "",
             f"- trained by `neurecon train` on the data below: {s['iterations']} iterations in "
             f"{s['wall_minutes']} min on this project's 2-core CPU machine"
             + (f" ({s['world']} DDP processes)" if s["world"] > 1 else "")
             + (f", {s['precision']} mixed precision" if s["precision"] != "fp32" else "")
             + f"; best validation at step {s['best_step']}",
             f"- weights: `{Path(out).name}`, fp16, {pt.stat().st_size / 1024:.0f} KiB",
             "", "## Data", ""]
    for split, m in s["data"].items():
        lines.append(f"- {split}: {m.get('scenes')} procedural Mitsuba scenes, {m.get('size')}², noisy {m.get('spp')} spp, "
                     f"reference {m.get('ref_spp')} spp, seeds {m.get('seed_range')} ({m.get('renderer')}, {m.get('variant')})")
    lines += ["", "## Validation (best checkpoint)", "", "| metric | value |", "|---|---|"]
    lines += [f"| {k} | {v:.5g} |" for k, v in s["best_validation"].items()]
    lines += _scores_block(scores)
    lines += ["", "## Config", "", "```yaml", yaml.safe_dump(cfg, sort_keys=False).strip(), "```", ""]
    md.write_text("\n".join(lines))
    return pt, md
