"""What the evaluation-family benchmark computes from the denoising benchmark's rows: per-scene
ratios to OIDN, their geometric means over the scenes (one scene's ratio counts as much as
another's, whatever its absolute error), the worst scene per method, the per-scene table, and a
contact sheet (reference | noisy | neurecon | OIDN) of every scene.

The denoising benchmark (:mod:`.denoise_bench`) reports ratios of *means* over scenes, which one
high-error scene dominates; the issue-24 figures are geomeans of per-scene ratios, computed here.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

METRICS = ("relmse", "smape", "dssim")


def per_scene_ratios(rows: list[dict], peer: str = "oidn") -> list[dict]:
    """One row per (scene, spp, method ≠ peer, noisy) with each metric over the peer's on that scene."""
    peer_rows = {(r["scene"], r["spp"]): r for r in rows if r["method"] == peer}
    out = []
    for r in rows:
        if r["method"] in (peer, "noisy") or (r["scene"], r["spp"]) not in peer_rows:
            continue
        p = peer_rows[(r["scene"], r["spp"])]
        out.append(
            {
                "scene": r["scene"],
                "spp": r["spp"],
                "method": r["method"],
                **{m: r[m] / p[m] if p[m] > 0 else math.inf for m in METRICS},
            }
        )
    return out


def geomean(values) -> float:
    v = np.asarray(list(values), dtype=np.float64)
    if v.size == 0:
        raise ValueError("geomean of no values")
    if np.any(v <= 0):
        raise ValueError("geomean needs positive values")
    return float(np.exp(np.mean(np.log(v))))


def summarise_ratios(ratios: list[dict]) -> dict:
    """Per "method@spp": geomean ratio of each metric over the scenes, the worst scene's ratio and
    name, and the number of scenes where the method beats the peer (relMSE and DSSIM both < 1)."""
    out: dict = {}
    keys = list(dict.fromkeys((r["method"], r["spp"]) for r in ratios))  # the methods' order as run
    for key in sorted(keys, key=lambda k: k[1]):
        sel = [r for r in ratios if (r["method"], r["spp"]) == key]
        entry: dict = {"method": key[0], "spp": key[1], "scenes": len(sel)}
        for m in METRICS:
            entry[f"geomean_{m}"] = geomean(r[m] for r in sel)
            worst = max(sel, key=lambda r: r[m])
            entry[f"worst_{m}"] = {"scene": worst["scene"], "ratio": worst[m]}
        entry["ahead_on"] = sorted(r["scene"] for r in sel if r["relmse"] < 1 and r["dssim"] < 1)
        out[f"{key[0]}@{key[1]}"] = entry
    return out


def scene_table(ratios: list[dict], method: str, spps) -> str:
    """Markdown: one line per scene, `method`'s relMSE and DSSIM ratios to OIDN at each spp."""
    scenes = list(dict.fromkeys(r["scene"] for r in ratios))
    head = "| scene | " + " | ".join(f"relMSE {s} spp | DSSIM {s} spp" for s in spps) + " |"
    lines = [head, "|---|" + "---|---|" * len(spps)]
    by = {(r["scene"], r["spp"]): r for r in ratios if r["method"] == method}
    for sc in scenes:
        cells = []
        for s in spps:
            r = by.get((sc, s))
            cells += [f"{r['relmse']:.2f}×", f"{r['dssim']:.2f}×"] if r else ["–", "–"]
        lines.append(f"| {sc} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def summary_table(summary: dict) -> str:
    lines = [
        "| method | spp | geomean relMSE | geomean SMAPE | geomean DSSIM | worst relMSE | ahead of OIDN on |",
        "|---|---|---|---|---|---|---|",
    ]
    for s in summary.values():
        w = s["worst_relmse"]
        lines.append(
            f"| {s['method'].replace('neurecon:', '')} | {s['spp']} | {s['geomean_relmse']:.2f}× | "
            f"{s['geomean_smape']:.2f}× | {s['geomean_dssim']:.2f}× | {w['ratio']:.2f}× ({w['scene']}) | "
            f"{len(s['ahead_on'])}/{s['scenes']} |"
        )
    return "\n".join(lines)


def exposure_for(reference: np.ndarray) -> float:
    """One display exposure per scene: the reference's 90th-percentile luminance maps to 0.6, so a
    dark scene is visible and a bright one does not clip (the same exposure for a whole row)."""
    lum = reference[..., :3].mean(-1)
    p = float(np.percentile(lum[np.isfinite(lum)], 90))
    return 0.6 / p if p > 0 else 1.0


def run(data: str, out: str | Path, models: list[str], spp: list[int], repeat: int, sheet_spp: int) -> dict:
    """The denoising benchmark on `data` (writes denoise.json & co. into `out`), then the per-scene
    ratios to OIDN and their geomeans (evalset.json, evalset.md) and the contact sheet
    (contact_sheet.jpg: reference | noisy | the first model | OIDN at `sheet_spp`)."""
    import json

    from .. import peers
    from . import denoise_bench
    from .common import write_json, write_text

    if not peers.available():
        raise SystemExit("the evaluation family is measured against OIDN: install pyoidn")
    out = Path(out)
    bench = denoise_bench.run(
        data=data, models=models, precision="auto", spp=spp, out=out, repeat=repeat, oidn_fast=False
    )
    ratios = per_scene_ratios(bench["rows"])
    summary = summarise_ratios(ratios)
    meta_path = Path(data) / "metadata.json"
    scene_meta = json.loads(meta_path.read_text())["scenes"] if meta_path.exists() else []
    result = {
        "meta": {**bench["meta"], "family": scene_meta and scene_meta[0].get("family"), "scenes_rendered": scene_meta},
        "geomean_vs_oidn": summary,
        "per_scene_vs_oidn": ratios,
    }
    write_json(out / "evalset.json", result)
    md = [summary_table(summary)]
    for m in models:
        md += [
            "",
            f"**{m}** per scene (ratio to OIDN; < 1 is better than OIDN)",
            "",
            scene_table(ratios, f"neurecon:{m}", spp),
        ]
    write_text(out / "evalset.md", "\n".join(md) + "\n")
    print("\n".join(md))

    write_sheet(data, out / "contact_sheet.jpg", models[0], sheet_spp, bench["meta"]["scenes"])
    return result


def write_sheet(data: str, path: str | Path, model: str, spp: int, names: list[str] | None = None) -> Path:
    """The contact sheet of the scenes under `data`: reference | noisy at `spp` | `model` | OIDN."""
    from .. import peers
    from ..io import find_frames
    from . import denoise_bench

    frames = find_frames(data)
    den = denoise_bench.load_denoiser(model, "auto")
    sheet = []
    for name in names or sorted(frames):
        fs = frames[name]
        buf = fs.read(spp)
        buf.sanitize()
        oidn = peers.oidn_denoise(buf["color"], buf["albedo"], buf["normal"])[0]
        sheet.append((name, [fs.read("ref")["color"], buf["color"], den.denoise_buffers(buf), oidn]))
    return contact_sheet(sheet, ["reference", f"noisy {spp} spp", f"neurecon {model}", "OIDN 2.5 high"], path)


def contact_sheet(rows_of_images: list[tuple[str, list[np.ndarray]]], columns: list[str], path: str | Path) -> Path:
    """An image grid (PNG, or JPEG for a small file: noise compresses badly): one row per scene
    (its label at the left), one column per image kind; each row is
    shown at the exposure of its first image (the reference)."""
    from ..io.ldr import tonemap_to_ldr
    from .common import pyplot

    plt = pyplot()

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    n_rows, n_cols = len(rows_of_images), len(columns)
    fig, axes = plt.subplots(n_rows, n_cols, figsize=(2.0 * n_cols, 2.0 * n_rows), squeeze=False)
    for i, (label, images) in enumerate(rows_of_images):
        exposure = exposure_for(images[0])
        for j, img in enumerate(images):
            ax = axes[i][j]
            ax.imshow(tonemap_to_ldr(img, exposure), interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
            if i == 0:
                ax.set_title(columns[j], fontsize=9)
            if j == 0:
                ax.set_ylabel(label, fontsize=7)
    fig.tight_layout(pad=0.3)
    jpeg = path.suffix.lower() in (".jpg", ".jpeg")
    fig.savefig(path, dpi=80, bbox_inches="tight", **({"pil_kwargs": {"quality": 85}} if jpeg else {}))
    plt.close(fig)
    return path
