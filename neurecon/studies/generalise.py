"""How far the denoisers carry beyond their training generator (issue 24): every model and OIDN
(`pyoidn`, quality high, hdr, albedo + normal, same process) on several test sets — the home
test split (the training generator's own), the hand-built `classic` family training never
touches, and a Cycles test split when one is rendered — with relMSE, SMAPE, DSSIM and HDR-FLIP per
scene, their geomean ratios to OIDN per set, and the home-vs-unseen gap (a model's geomean ratio
on the unseen set over its ratio at home: 1.0 = it generalises as well as OIDN does).

Models are given as LABEL=SPEC (SPEC: a shipped name or a .pt), so a candidate and the shipped
weights it would replace run side by side: ``--models high=default before=/tmp/unet_high_before.pt``.
"""

from __future__ import annotations

import platform
from pathlib import Path

import numpy as np

from .. import metrics, peers
from .common import cpu_model, pyplot, test_frames, write_json, write_text
from .denoise_bench import load_denoiser
from .evalset import geomean

SCORES = ("relmse", "smape", "dssim", "flip")
DEFAULT_SETS = {"home": "data/mitsuba128/test", "unseen": "data/eval_classic", "cycles": "data/cycles/test"}


def parse_models(specs: list[str]) -> dict[str, str]:
    """LABEL=SPEC pairs (a bare SPEC is its own label), in the order given."""
    out: dict[str, str] = {}
    for s in specs:
        label, _, spec = s.partition("=") if "=" in s else (s, "", s)
        if not label or not spec or label in out:
            raise ValueError(f"--models takes LABEL=SPEC or SPEC with distinct labels, got '{s}'")
        out[label] = spec
    return out


def score_set(data: str, models: dict, spp: list[int], limit: int | None = None, progress: bool = True) -> list[dict]:
    """One row per (scene, spp, method) on the frames under `data`: the scores, and each over OIDN's."""
    rows = []
    for name, level, buf, ref in test_frames(data, spp, limit):
        outs = {"noisy": buf["color"]}
        for label, den in models.items():
            outs[label] = den.denoise_buffers(buf)
        outs["oidn"] = peers.oidn_denoise(buf["color"], buf["albedo"], buf["normal"], quality="high")[0]
        scores = {m: metrics.denoise_metrics(img, ref, with_flip=True) for m, img in outs.items()}
        for m, s in scores.items():
            rows.append(
                {
                    "scene": name,
                    "spp": level,
                    "method": m,
                    **s,
                    **{f"{k}_vs_oidn": s[k] / scores["oidn"][k] for k in SCORES if scores["oidn"][k] > 0},
                }
            )
        if progress:
            print(
                f"{Path(data).name}/{name} {level} spp  "
                + "  ".join(f"{m}: relMSE {s['relmse']:.4f} DSSIM {s['dssim']:.4f}" for m, s in scores.items()),
                flush=True,
            )
    return rows


def summarise(rows: list[dict], methods: list[str], spp: list[int]) -> dict:
    """Per method@spp: geomean over scenes of each score's ratio to OIDN, the worst scene, wins."""
    out = {}
    for m in methods:
        for s in spp:
            sel = [r for r in rows if r["method"] == m and r["spp"] == s]
            if not sel:
                continue
            e: dict = {"scenes": len(sel)}
            for k in SCORES:
                e[f"geomean_{k}"] = geomean(r[f"{k}_vs_oidn"] for r in sel)
            for k in ("relmse", "dssim"):
                worst = max(sel, key=lambda r: r[f"{k}_vs_oidn"])
                e[f"worst_{k}"] = {"scene": worst["scene"], "ratio": worst[f"{k}_vs_oidn"]}
            e["ahead_on"] = sum(r["relmse_vs_oidn"] < 1 and r["dssim_vs_oidn"] < 1 for r in sel)
            out[f"{m}@{s}"] = e
    return out


def gaps(summaries: dict[str, dict], home: str = "home") -> dict:
    """Per other set, method@spp: geomean ratio there over the ratio at home, per score."""
    if home not in summaries:
        return {}
    out: dict = {}
    for name, summ in summaries.items():
        if name == home:
            continue
        out[name] = {
            key: {k: e[f"geomean_{k}"] / summaries[home][key][f"geomean_{k}"] for k in ("relmse", "dssim")}
            for key, e in summ.items()
            if key in summaries[home]
        }
    return out


def markdown(summaries: dict[str, dict], gap: dict) -> str:
    lines = []
    for name, summ in summaries.items():
        lines += [
            f"**{name}** (geomean over scenes of each scene's score / OIDN's; < 1 is better than OIDN)",
            "",
            "| method | spp | relMSE | SMAPE | DSSIM | FLIP | worst relMSE | worst DSSIM | ahead on |",
            "|---|---|---|---|---|---|---|---|---|",
        ]
        for key, e in summ.items():
            m, s = key.rsplit("@", 1)
            if m == "noisy":
                continue
            wr, wd = e["worst_relmse"], e["worst_dssim"]
            lines.append(
                f"| {m} | {s} | {e['geomean_relmse']:.3f}× | {e['geomean_smape']:.3f}× | "
                f"{e['geomean_dssim']:.3f}× | {e['geomean_flip']:.3f}× | {wr['ratio']:.2f}× ({wr['scene']}) | "
                f"{wd['ratio']:.2f}× ({wd['scene']}) | {e['ahead_on']}/{e['scenes']} |"
            )
        lines.append("")
    for name, g in gap.items():
        lines += [
            f"**gap {name} / home** (the ratio to OIDN there over the ratio at home)",
            "",
            "| method | spp | relMSE | DSSIM |",
            "|---|---|---|---|",
        ]
        lines += [
            f"| {k.rsplit('@', 1)[0]} | {k.rsplit('@', 1)[1]} | {v['relmse']:.3f} | {v['dssim']:.3f} |"
            for k, v in g.items()
            if not k.startswith("noisy@")
        ]
        lines.append("")
    return "\n".join(lines)


def plot(summaries: dict[str, dict], methods: list[str], spp: list[int], path: Path) -> None:
    plt = pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.4))
    sets = list(summaries)
    width = 0.8 / max(1, len(methods) * len(spp))
    colours = plt.get_cmap("tab20" if len(methods) > 10 else "tab10").colors
    hatches = ["", "//", "..", "xx"]  # one colour per model, one hatch per spp
    for ax, k in zip(axes, ("relmse", "dssim")):
        for i, (j, m, t, s) in enumerate((j, m, t, s) for j, m in enumerate(methods) for t, s in enumerate(spp)):
            vals = [summaries[n].get(f"{m}@{s}", {}).get(f"geomean_{k}", np.nan) for n in sets]
            ax.bar(
                np.arange(len(sets)) + i * width,
                vals,
                width,
                color=colours[j % len(colours)],
                hatch=hatches[t % len(hatches)],
                edgecolor="white",
                label=f"{m} @{s}",
            )
        ax.axhline(1.0, color="k", lw=1, ls="--")
        ax.set_xticks(np.arange(len(sets)) + width * (len(methods) * len(spp) - 1) / 2, sets)
        ax.set_ylabel(f"geomean {k} / OIDN's")
        ax.set_title(f"{k}: below the line beats OIDN")
    axes[1].legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def run(
    sets: dict[str, str], models: dict[str, str], spp: list[int], out: str | Path, limit: int | None = None
) -> dict:
    if not peers.available():
        raise SystemExit("the generalisation benchmark measures against OIDN: install pyoidn")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    dens = {label: load_denoiser(spec, "auto") for label, spec in models.items()}
    peers.warm_up()
    present = {n: d for n, d in sets.items() if Path(d).is_dir()}
    rows = {n: score_set(d, dens, spp, limit) for n, d in present.items()}
    methods = ["noisy", *dens]
    summaries = {n: summarise(r, methods, spp) for n, r in rows.items()}
    gap = gaps(summaries)
    result = {
        "meta": {
            "host": platform.node(),
            "cpu": cpu_model(),
            "sets": present,
            "skipped_sets": {n: d for n, d in sets.items() if n not in present},
            "models": {label: {"spec": models[label], "card": d.card} for label, d in dens.items()},
            "oidn": "pyoidn, quality high, hdr, albedo + normal",
        },
        "summary": summaries,
        "gap_vs_home": gap,
        "rows": rows,
    }
    write_json(out / "generalise.json", result)
    md = markdown(summaries, gap)
    write_text(out / "generalise.md", md)
    plot(summaries, list(dens), spp, out / "generalise.png")
    print(md)
    return result
