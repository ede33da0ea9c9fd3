"""Model cards: turn a finished training run into shipped weights (fp16) plus a Markdown card
saying how they were trained (config, data, iterations, wall time) and what they score.

    neurecon export runs/denoise_default neurecon/models/weights/kpcn_default.pt [--scores bench/results/denoise.json]
    neurecon export neurecon/models/weights/unet_high_lambda.pt --scores bench/results/asym_unet_high/asymmetric.json \
        bench/results/asym_noise/asymmetric_noise.json      # refresh a shipped card from one or more benches
"""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from ..io.atomic import atomic_save, atomic_write_text
from . import registry
from .checkpoint import export_shipped, load_model, read_file, weights_digest, write_adapter


def _history(run: Path) -> list[dict]:
    lines = (run / "metrics.jsonl").read_text().splitlines() if (run / "metrics.jsonl").exists() else []
    out = []
    for line in lines:
        try:
            out.append(json.loads(line))
        except ValueError:  # a torn last line of a killed run
            continue
    return out


def _world_of_last(last: Path) -> int:
    """The DDP world size a run's resume checkpoint records (runs whose best.pt predates the field).
    A last.pt that cannot be read safely (an old run's numpy RNG state) does not stop an export."""
    if not last.exists():
        return 1
    try:
        return int(read_file(last).get("world", 1))
    except ValueError as e:
        print(f"note: {e}; the card assumes one process")
        return 1


def run_summary(run_dir: str | Path) -> dict:
    """What a finished run says about itself: iterations, wall time, processes, precision, the
    best validation, its config, and the data as its task describes it."""
    run = Path(run_dir)
    if not (run / "best.pt").exists():
        raise FileNotFoundError(f"{run / 'best.pt'} not found: train the run first")
    hist = _history(run)
    train = [h for h in hist if "loss" in h]
    val = [h for h in hist if any(k.startswith("val_") for k in h)]
    best = read_file(run / "best.pt")
    cfg = best.get("config") or yaml.safe_load((run / "config.yaml").read_text())
    best_val = next((h for h in val if h["step"] == best["step"]), val[-1] if val else {})
    task = registry.task_factory(cfg["task"].get("name"))
    world = best.get("world") or _world_of_last(run / "last.pt")
    return {
        "iterations": train[-1]["step"] if train else 0,
        "world": world,
        "precision": (cfg.get("run") or {}).get("precision", "fp32"),
        "wall_minutes": round(train[-1].get("elapsed_s", 0) / 60, 1) if train else None,
        "best_step": best["step"],
        "best_validation": {k[4:]: v for k, v in best_val.items() if k.startswith("val_")},
        "final_train_loss": train[-1]["loss"] if train else None,
        "config": cfg,
        "data": task.describe_data(cfg["task"]),
    }


# What a card keeps of the λ benches (bench/asymmetric.py, bench/asymmetric_noise.py): per spp and λ
LAMBDA_KEYS = {
    "asymmetric": [
        "noise_flat",
        "detail_kept",
        "p999",
        "blend_p999",
        "hdr_p999",
        "hdr_blend_p999",
        "p999_isolated",
        "blend_p999_isolated",
    ],
    "asymmetric_noise": [
        "blend_beta",
        "p999_noise",
        "blend_p999_noise",
        "kurtosis",
        "blend_kurtosis",
        "hdr_p999_noise",
        "hdr_blend_p999_noise",
        "hdr_kurtosis",
        "hdr_blend_kurtosis",
        "confidence_corr",
        "blend_confidence_corr",
        "noise_var",
        "blend_noise_var",
        "p999_noise_over_rms",
        "blend_p999_noise_over_rms",
    ],
}


def scores_for(bench: dict, weights_file: str, digest: str | None = None) -> dict:
    """What a benchmark result says about the model shipped as `weights_file` (under any of its
    shipped names); {} when the benchmark did not run it.

    bench/denoise.py: this model's rows, OIDN's, and the ratios to OIDN. The λ benches (which name
    the model they ran in "model"): their summary's main statistics, checks and verdict, under the
    bench's name. A bench that recorded the weights' digest counts only for the same `digest`."""
    names = registry.shipped_names(weights_file)
    kind = "asymmetric_noise" if "verdict" in bench else "asymmetric" if {"checks", "speed"} <= bench.keys() else None
    if kind in LAMBDA_KEYS:
        if bench.get("model") not in names:
            return {}
        if digest and bench.get("weights_digest", digest) != digest:
            return {}
        per_spp = {
            spp: {lam: {k: m[k] for k in LAMBDA_KEYS[kind] if k in m} for lam, m in s.items()}
            for spp, s in bench["summary"].items()
        }
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
    ck = read_file(pt)
    scores = {}
    for bench in benches:
        scores.update(scores_for(bench, pt.name, weights_digest(ck["model"])))
    ck["card"]["scores"] = scores
    atomic_save(ck, pt)
    md = pt.with_suffix(".md")
    text = md.read_text()
    head, _, config = text.partition("\n## Config")
    head = head.split("\n\n## Benchmark scores")[0].rstrip("\n")
    atomic_write_text(md, "\n".join([head, *_scores_block(scores), "", "## Config"]) + config)
    return pt, md


def refresh_card(shipped_pt: str | Path, recipe: str | Path) -> tuple[Path, Path]:
    """Regenerate a shipped card's description from its recipe (`configs/<task>/<preset>.yaml`)
    and record the recipe's path, in the .pt card and the .md (weights untouched)."""
    from ..train.config import load_stages

    pt = Path(shipped_pt)
    ck = read_file(pt)
    stages = load_stages(recipe)
    cfg = stages[-1][1].to_dict()
    task = registry.task_factory(cfg["task"].get("name"))
    description = task.describe(cfg)
    if len(stages) > 1:
        description += f" The last of the {len(stages)} stages of its recipe."
    ck["card"].update(description=description, recipe=str(recipe))
    atomic_save(ck, pt)
    md = pt.with_suffix(".md")
    title, _, rest = md.read_text().partition("\n\n")
    _, _, body = rest.partition("\n\n")  # drop the old description paragraph
    body = "\n".join(line for line in body.splitlines() if not line.startswith("- recipe: "))
    atomic_write_text(md, f"{title}\n\n{description}\n\n- recipe: `{recipe}`\n{body}")
    return pt, md


def _card_fields(name: str, task, s: dict, scores: dict | None) -> dict:
    """The card entries every trained model has, from its run summary `s` (run_summary)."""
    cfg = s["config"]
    return {
        "name": name,
        "task": cfg["task"].get("name"),
        "description": task.describe(cfg),
        "recipe": cfg.get("card", {}).get("config"),
        "iterations": s["iterations"],
        "wall_minutes": s["wall_minutes"],
        "best_step": s["best_step"],
        "processes": s["world"],
        "precision": s["precision"],
        "best_validation": s["best_validation"],
        "data": s["data"],
        "scores": scores or {},
        "config": cfg,
    }


def export_run(run_dir: str | Path, out: str | Path, scores: dict | None = None) -> tuple[Path, Path]:
    """Ship a run's best weights as fp16 `out` with its card (in the .pt and as `out`.md). The
    card's text comes from the recipe and the run; the task adds what it measures on the
    exported weights (e.g. SR's PSNR-Y), so every task's card has the same form."""
    run, out = Path(run_dir), Path(out)
    s = run_summary(run)
    cfg = s["config"]
    task = registry.task_factory(cfg["task"].get("name"))
    name = cfg.get("card", {}).get("name", out.stem)
    card = _card_fields(name, task, s, scores)
    export_shipped(run / "best.pt", out, card)
    model, _ = load_model(out)
    card["parameters"] = sum(p.numel() for p in model.parameters())
    measured = getattr(task, "card_metrics", None)
    card["measured"] = measured(model, cfg) if measured else {}
    export_shipped(run / "best.pt", out, card)
    atomic_write_text(out.with_suffix(".md"), card_markdown(card, out))
    return out, out.with_suffix(".md")


def card_markdown(card: dict, pt: Path) -> str:
    recipe = card.get("recipe")
    lines = [
        f"# {card['name']}",
        "",
        card["description"],
        "",
        f"- trained by `neurecon train{' ' + recipe if recipe else ''}`: {card['iterations']} iterations in "
        f"{card['wall_minutes']} min on this project's 2-core CPU machine"
        + (f" ({card['processes']} DDP processes)" if card["processes"] > 1 else "")
        + (f", {card['precision']} mixed precision" if card["precision"] != "fp32" else "")
        + f"; best validation at step {card['best_step']}",
        f"- weights: `{pt.name}`, fp16, {pt.stat().st_size / 1024:.0f} KiB, {card['parameters']:,} parameters",
        "",
        "## Data",
        "",
    ]
    lines += [f"- {split}: {m.get('text', m)}" for split, m in card["data"].items()]
    if card["best_validation"]:
        lines += ["", "## Validation (best checkpoint)", "", "| metric | value |", "|---|---|"]
        lines += [f"| {k} | {v:.5g} |" for k, v in card["best_validation"].items()]
    if card.get("measured"):
        lines += ["", "## Measured with the exported fp16 weights", "", "| metric | value |", "|---|---|"]
        lines += [f"| {k} | {v:.5g} |" for k, v in card["measured"].items()]
    lines += _scores_block(card["scores"])
    lines += ["", "## Config", "", "```yaml", yaml.safe_dump(card["config"], sort_keys=False).strip(), "```", ""]
    return "\n".join(lines)


def export_adapter(run_dir: str | Path, out: str | Path, scores: dict | None = None) -> tuple[Path, Path]:
    """Ship an adapt run (task `denoise_adapt`) as an adapter file: only the trained part of its
    best weights (fp16), the adapter record and a card in the same form as a model's."""
    run, out = Path(run_dir), Path(out)
    s = run_summary(run)
    cfg = s["config"]
    task = registry.task_factory(cfg["task"].get("name"))
    info_of = getattr(task, "adapter_card_info", None)
    if info_of is None:
        raise ValueError(f"{run} was not trained by an adapt recipe (task {cfg['task'].get('name')})")
    info = info_of(cfg["task"])
    state = read_file(run / "best.pt")["model"]
    card = {
        **_card_fields(cfg.get("card", {}).get("name", out.stem), task, s, scores),
        "adapter": info,
        "parameters": sum(v.numel() for k, v in state.items() if any(k.startswith(p) for p in info["trained"])),
    }
    write_adapter(out, state, info, card)
    md = card_markdown(card, out).replace(
        "- trained by `neurecon train ", "- trained by `neurecon adapt` with the recipe `", 1
    )
    names = sorted(registry.shipped_names(out.name)) if out.parent.resolve() == registry.WEIGHTS_DIR.resolve() else []
    load = " or ".join(f"`--model {n}`" for n in names) + " (shipped)" if names else f"`--model {info['base']}+{out}`"
    md = md.replace(
        "\n## Data",
        f"- adapter for `{info['base']}` (weights {info['base_digest']}): source `{info['source']}` reads "
        f"{', '.join(info['buffers'])}; trained {', '.join(p.rstrip('.') for p in info['trained'])}; load with "
        f"{load}\n\n## Data",
        1,
    )
    atomic_write_text(out.with_suffix(".md"), md)
    return out, out.with_suffix(".md")
