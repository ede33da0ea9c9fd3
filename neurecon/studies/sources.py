"""Adapting the denoiser to a new renderer with few frames (Vogels et al. 2018 §7.1, Fig. 11).

A = Mitsuba (what the shipped models were trained on), B = Blender Cycles (its own sampler, the
Blackman-Harris pixel filter, no variance pass). On B's test split, per spp level:

* ``noisy`` — the input;
* ``default`` — the shipped default unadapted (its ``oidn`` encoder reads B's colour, albedo and
  normal: what a Cycles user gets without adapting);
* ``adapted@N`` — a ``cycles`` encoder trained on N frames of B with everything else frozen
  (the adapt recipe, ``configs/denoise_adapt/cycles.yaml``; ``neurecon adapt``);
* ``scratch@N`` — the same architecture trained from scratch on those N frames, same schedule;
* ``oidn`` — OIDN 2.5 (pyoidn, ``hdr=True``, albedo + normal) on the same passes: the line to beat
  (Cycles' built-in denoiser is OIDN on these passes).

relMSE and DSSIM (neurecon.metrics) per frame, means per method and spp; the figure is DSSIM
(and relMSE) against N, with the unadapted default and OIDN as horizontal lines.
"""

from __future__ import annotations

import os
import platform
import time
from pathlib import Path

import numpy as np
import torch

from .. import metrics
from ..nn.features import DEFAULT_SOURCES
from .common import cpu_model, pyplot, test_frames, write_json, write_text

RECIPE = Path(__file__).resolve().parents[2] / "configs" / "denoise_adapt" / "cycles.yaml"


def _finished(run_dir: Path) -> bool:
    from ..train.config import load_config
    from ..train.run import stage_finished

    cfg_file = run_dir / "config.yaml"
    return cfg_file.exists() and stage_finished(load_config(cfg_file))


def train_adapter(data: str, frames: int, runs: Path, base: str, source: str, overrides: list[str]) -> Path:
    """The adapter for `frames` training frames (trained now unless its run finished before)."""
    from ..models.card import export_adapter
    from ..tasks.denoise.adapt import adapt_config
    from ..train.run import train_from_config

    run_dir = runs / f"adapt_{source}_{frames}"
    if not _finished(run_dir):
        train_from_config(adapt_config(RECIPE, base, source, data, frames, run_dir), overrides=overrides)
    return export_adapter(run_dir, run_dir / "adapter.pt")[0]


def train_scratch(data: str, frames: int, runs: Path, base: str, source: str, overrides: list[str]) -> Path:
    """The base's architecture with only a `source` encoder, trained from scratch on the same
    frames with the adapt recipe's optimiser and schedule; returns its best.pt."""
    from ..models import load_checkpoint
    from ..tasks.denoise.adapt import adapt_config
    from ..train.run import train_from_config

    run_dir = runs / f"scratch_{source}_{frames}"
    if not _finished(run_dir):
        raw = adapt_config(RECIPE, base, source, data, frames, run_dir)
        task = raw["task"]
        spec = dict(load_checkpoint(base)["spec"])
        spec["sources"] = {source: DEFAULT_SOURCES[source]}
        raw["task"] = {"name": "denoise", "data": task["data"], "model": spec, "loss": task.get("loss", "smape")}
        raw["task"]["data"]["source"] = source
        raw["card"] = {"name": f"scratch_{source}_{frames}"}
        train_from_config(raw, overrides=overrides)
    return run_dir / "best.pt"


TABLE2_RECIPE = RECIPE.parents[1] / "denoise_sources" / "table2.yaml"
# Table 2's four models: which encoder each renderer's frames go through (a renderer left out is
# not trained on); A = mitsuba, B = cycles
TABLE2_ROWS = {
    "a_only": {"mitsuba": "oidn"},
    "b_only": {"cycles": "cycles"},
    "shared": {"mitsuba": "oidn", "cycles": "oidn"},
    "per_source": {"mitsuba": "oidn", "cycles": "cycles"},
}
TABLE2_NAMES = {
    "a_only": "A only (Mitsuba)",
    "b_only": "B only (Cycles)",
    "shared": "A + B, one shared encoder",
    "per_source": "A + B, one encoder per renderer",
}


def table2_config(row: str, roots: dict[str, str], runs: Path) -> dict:
    """The Table 2 recipe with `row`'s train/valid dirs and their sources filled in."""
    from ..train.config import read_config_file

    raw = read_config_file(TABLE2_RECIPE)
    raw.pop("render", None)
    mapping = {}
    for renderer, source in TABLE2_ROWS[row].items():
        for split in ("train", "valid"):
            mapping[f"{roots[renderer]}/{split}"] = source
    data = raw["task"]["data"]
    data.update(
        root=".",
        train=[d for d in mapping if d.endswith("/train")],
        valid=[d for d in mapping if d.endswith("/valid")],
        source=mapping,
    )
    raw["run"]["out"] = str(runs / "table2" / row)
    raw["card"] = {"name": f"table2_{row}", "config": str(TABLE2_RECIPE.relative_to(RECIPE.parents[2]))}
    return raw


def train_table2(roots: dict[str, str], runs: Path, overrides: list[str]) -> dict[str, Path]:
    """Train (or reuse) Table 2's four models; their best.pt per row."""
    from ..train.run import train_from_config

    out = {}
    for row in TABLE2_ROWS:
        run_dir = runs / "table2" / row
        if not _finished(run_dir):
            train_from_config(table2_config(row, roots, runs), overrides=overrides)
        out[row] = run_dir / "best.pt"
    return out


def table2_models(paths: dict[str, Path]) -> dict:
    """{row name: {renderer: Buffers → image}}: each model reads a renderer through the encoder it
    was trained with for it, or, for the renderer it never saw, through its only encoder."""
    from ..infer.denoiser import Denoiser

    models = {}
    for row, path in paths.items():
        den = Denoiser.load(str(path), precision="fp32")
        fns = {}
        for renderer in ("mitsuba", "cycles"):
            src = TABLE2_ROWS[row].get(renderer) or next(iter(TABLE2_ROWS[row].values()))
            fns[renderer] = lambda b, den=den, src=src: den.denoise_buffers(b, source=src)
        models[TABLE2_NAMES[row]] = fns
    return models


def evaluate(data: str, methods: dict, spp: list[int], limit: int | None = None) -> list[dict]:
    """Rows of relMSE / DSSIM for every test frame and method. `methods` maps a name to a callable
    Buffers → H×W×3 image."""
    rows = []
    for name, level, buf, ref in test_frames(data, spp, limit, "neurecon render --renderer cycles --split test"):
        for method, fn in methods.items():
            t = time.perf_counter()
            img = fn(buf)
            sec = time.perf_counter() - t
            m = metrics.denoise_metrics(img, ref)
            rows.append({"scene": name, "spp": level, "method": method, "seconds": sec, **m})
        last = rows[-len(methods) :]
        print(
            f"{name} {level:>3} spp  " + "  ".join(f"{r['method']}: {r['relmse']:.4f}/{r['dssim']:.4f}" for r in last),
            flush=True,
        )
    return rows


def summarise(rows: list[dict]) -> dict:
    """{method: {spp: {relmse, dssim, frames}}}: means over the test frames."""
    out: dict = {}
    for r in rows:
        out.setdefault(r["method"], {}).setdefault(str(r["spp"]), []).append(r)
    return {
        m: {
            s: {
                "relmse": float(np.mean([r["relmse"] for r in rs])),
                "dssim": float(np.mean([r["dssim"] for r in rs])),
                "frames": len(rs),
            }
            for s, rs in per.items()
        }
        for m, per in out.items()
    }


def verdict(summary: dict, frames: list[int], spp: list[int]) -> dict:
    """The issue's target per N: adapted relMSE and DSSIM ≤ OIDN's and < the unadapted default's,
    at every spp level."""
    out = {}
    for n in frames:
        a = summary.get(f"adapted@{n}")
        if a is None:
            continue
        checks = {}
        for s in map(str, spp):
            for key in ("relmse", "dssim"):
                if "oidn" in summary:
                    checks[f"{key}@{s} <= oidn"] = a[s][key] <= summary["oidn"][s][key]
                checks[f"{key}@{s} < default"] = a[s][key] < summary["default"][s][key]
        out[str(n)] = {"checks": checks, "all": all(checks.values())}
    return out


def markdown(summary: dict, spp: list[int]) -> str:
    head = "| method | " + " | ".join(f"relMSE @{s} | DSSIM @{s}" for s in spp) + " |"
    lines = [head, "|---|" + "---|---|" * len(spp)]
    for m, per in summary.items():
        cells = " | ".join(f"{per[str(s)]['relmse']:.4f} | {per[str(s)]['dssim']:.4f}" for s in spp if str(s) in per)
        lines.append(f"| {m} | {cells} |")
    return "\n".join(lines)


def plot(summary: dict, frames: list[int], spp: list[int], path: Path) -> None:
    """Fig. 11 analogue: DSSIM and relMSE against the number of adaptation frames."""
    plt = pyplot()
    fig, axes = plt.subplots(2, len(spp), figsize=(4.2 * len(spp), 6.4), squeeze=False)
    for col, s in enumerate(map(str, spp)):
        for row, key in enumerate(("dssim", "relmse")):
            ax = axes[row][col]
            for kind, style in (("adapted", "o-"), ("scratch", "s--")):
                ns = [n for n in frames if f"{kind}@{n}" in summary]
                if ns:
                    ax.plot(ns, [summary[f"{kind}@{n}"][s][key] for n in ns], style, label=f"{kind} (N frames)")
            for m, color in (("default", "tab:red"), ("oidn", "tab:green")):
                if m in summary:
                    ax.axhline(
                        summary[m][s][key],
                        color=color,
                        ls=":",
                        label=f"{m}" + (" (unadapted)" if m == "default" else ""),
                    )
            ax.set_xscale("log", base=2)
            ax.set_xticks(frames, [str(n) for n in frames])
            ax.set_xlabel("Cycles training frames N")
            ax.set_ylabel(key)
            ax.set_title(f"Cycles test split, {s} spp")
            ax.grid(alpha=0.3)
    axes[0][0].legend(fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def run(
    data: str,
    test: str,
    frames: list[int],
    out: str | Path,
    runs: str | Path = "runs",
    base: str = "default",
    source: str = "cycles",
    spp: list[int] | None = None,
    scratch: list[int] | None = None,
    overrides: list[str] | None = None,
    limit: int | None = None,
    mitsuba_test: str | None = None,
    extra: dict[str, str] | None = None,
    table2: dict[str, str] | None = None,
) -> dict:
    """Train (or reuse) the adapters and scratch models, evaluate everything on `test`, write
    sources.json, sources.md and sources.png into `out`. With `mitsuba_test`, also Table 2 on
    both renderers' test splits: the four models trained from scratch when `table2` gives the
    renderers' dataset roots ({"mitsuba": ..., "cycles": ...}), and the shipped default with and
    without its adapter."""
    from .. import peers
    from ..infer.denoiser import Denoiser
    from ..models.checkpoint import read_file

    spp = spp or [4, 16]
    out, runs = Path(out), Path(runs)
    overrides = list(overrides or [])
    adapters = {n: train_adapter(data, n, runs, base, source, overrides) for n in frames}
    scratches = {n: train_scratch(data, n, runs, base, source, overrides) for n in scratch or []}
    dens = {"default": Denoiser.load(base, precision="fp32")}
    for n, path in adapters.items():
        dens[f"adapted@{n}"] = Denoiser.load(f"{base}+{path}", precision="fp32")
    for n, path in scratches.items():
        dens[f"scratch@{n}"] = Denoiser.load(path, precision="fp32")
    # other adapters of the base (e.g. trained with --first-block, or for another source), each
    # read through the source it was trained for
    extra_source = {}
    for name, path in (extra or {}).items():
        dens[name] = Denoiser.load(f"{base}+{path}", precision="fp32")
        extra_source[name] = read_file(path).get("adapter", {}).get("source", source)
    methods: dict = {"noisy": lambda b: b["color"]}
    for name, den in dens.items():
        src = None if name == "default" else extra_source.get(name, source)  # unadapted: its buffers pick
        methods[name] = lambda b, den=den, src=src: den.denoise_buffers(b, source=src)
    if peers.available():
        peers.warm_up()
        methods["oidn"] = lambda b: peers.oidn_denoise(b["color"], b["albedo"], b["normal"])[0]
    rows = evaluate(test, methods, spp, limit)
    summary = summarise(rows)
    table = None
    table2_runs = train_table2(table2, runs, overrides) if table2 else {}
    if mitsuba_test and (frames or table2_runs):
        # A = Mitsuba, B = Cycles: the four from-scratch models, then the shipped default (its
        # mitsuba encoder on A, the oidn one on B) and the default with its adapter (cycles on B)
        models = table2_models(table2_runs)
        base_den = dens["default"]
        models["the default (Mitsuba-trained), unadapted"] = {
            "mitsuba": lambda b: base_den.denoise_buffers(b, source="mitsuba"),
            "cycles": lambda b: base_den.denoise_buffers(b, source="oidn"),
        }
        if frames:
            n_a = max(frames)
            adapted = dens[f"adapted@{n_a}"]
            models[f"the default + a cycles encoder adapted on {n_a} frames"] = {
                "mitsuba": lambda b: adapted.denoise_buffers(b, source="mitsuba"),
                "cycles": lambda b: adapted.denoise_buffers(b, source=source),
            }
        if peers.available():
            oidn = {"mitsuba": methods["oidn"], "cycles": methods["oidn"]}
            models["OIDN 2.5 (reference line)"] = oidn
        table = source_table({"mitsuba": mitsuba_test, "cycles": test}, models, spp, limit)
    result = {
        "meta": {
            "host": platform.node(),
            "cpu": cpu_model(),
            "cpus": os.cpu_count(),
            "torch_threads": torch.get_num_threads(),
            "data": data,
            "test": test,
            "base": base,
            "source": source,
            "frames": frames,
            "scratch": scratch or [],
            "table2_roots": table2 or {},
            "table2_runs": {k: str(v) for k, v in table2_runs.items()},
            "overrides": overrides,
            "adapters": {str(n): str(p) for n, p in adapters.items()},
            "extra_adapters": dict(extra or {}),
            "adapter_validation": {
                str(n): read_file(p).get("card", {}).get("best_validation", {}) for n, p in adapters.items()
            },
            "default_encoder_on_test": dens["default"].pick_source(DEFAULT_SOURCES[source]),
        },
        "summary": summary,
        "verdict": verdict(summary, frames, spp),
        "rows": rows,
    }
    text = markdown(summary, spp)
    if table is not None:
        result["table2"] = table
        result["meta"]["mitsuba_test"] = mitsuba_test
        text += "\n\n" + source_table_markdown(table, ["mitsuba", "cycles"])
        plot_table2(table, out / "sources_table2.png")
    write_json(out / "sources.json", result)
    write_text(out / "sources.md", text + "\n")
    print(text)
    plot(summary, frames, spp, out / "sources.png")
    return result


def source_table(tests: dict[str, str], models: dict, spp: list[int], limit: int | None = None) -> dict:
    """Table 2 analogue: each model on each renderer's test split, relMSE and DSSIM relative to
    the input's (mean over frames of method / noisy). `models` maps a row name to
    {test name: callable Buffers → image} (each model reads a renderer with the encoder it has for it)."""
    table: dict = {}
    for test_name, data in tests.items():
        methods = {"noisy": lambda b: b["color"]}
        methods.update({row: fns[test_name] for row, fns in models.items() if test_name in fns})
        rows = evaluate(data, methods, spp, limit)
        noisy = {(r["scene"], r["spp"]): r for r in rows if r["method"] == "noisy"}
        for row in models:
            mine = [r for r in rows if r["method"] == row]
            if not mine:
                continue
            rel = {
                key: float(np.mean([r[key] / max(noisy[(r["scene"], r["spp"])][key], 1e-12) for r in mine]))
                for key in ("relmse", "dssim")
            }
            table.setdefault(row, {})[test_name] = {
                **{f"{k}_vs_input": v for k, v in rel.items()},
                "relmse": float(np.mean([r["relmse"] for r in mine])),
                "dssim": float(np.mean([r["dssim"] for r in mine])),
            }
    return table


def plot_table2(table: dict, path: Path) -> None:
    """Table 2 as grouped bars: each model's error relative to the input on each renderer's test split."""
    plt = pyplot()
    rows, tests = list(table)[::-1], ["mitsuba", "cycles"]
    fig, axes = plt.subplots(1, 2, figsize=(12, 0.5 * len(rows) + 1.6), sharey=True)
    height = 0.8 / len(tests)
    for ax, key in zip(axes, ("relmse_vs_input", "dssim_vs_input")):
        for k, test in enumerate(tests[::-1]):
            ys = [i + (k - (len(tests) - 1) / 2) * height for i in range(len(rows))]
            ax.barh(ys, [table[r].get(test, {}).get(key, np.nan) for r in rows], height, label=f"test: {test}")
        ax.set_yticks(range(len(rows)), rows, fontsize=8)
        ax.set_xlabel(key.replace("_vs_input", " / the input's"))
        ax.grid(axis="x", alpha=0.3)
    axes[1].legend(fontsize=8, loc="lower right")
    fig.suptitle("Table 2 analogue: A = Mitsuba, B = Cycles (lower is better)")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def source_table_markdown(table: dict, tests: list[str]) -> str:
    head = "| model | " + " | ".join(f"{t}: relMSE / input | {t}: DSSIM / input" for t in tests) + " |"
    lines = [head, "|---|" + "---|---|" * len(tests)]
    for row, per in table.items():
        cells = " | ".join(
            f"{per[t]['relmse_vs_input']:.4f} | {per[t]['dssim_vs_input']:.4f}" if t in per else "– | –" for t in tests
        )
        lines.append(f"| {row} | {cells} |")
    return "\n".join(lines)
