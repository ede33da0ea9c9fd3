"""Denoising benchmark: noisy / neurecon model(s) / OIDN 2.5 ('high' and 'fast') on the test split,
in one process.

    .venv/bin/python bench/denoise.py --data data/mitsuba/test --out bench/results   # every preset

For every test scene and spp level: relMSE, SMAPE (linear HDR), DSSIM (tonemapped), seconds per
frame and Mpix/s (median of --repeat timed runs after a warm-up; same threads for everyone).
Writes denoise.json, denoise.md (the README table), denoise.png (quality vs throughput) and an
HTML report of the first scene. The issue-4 targets are checked per spp level and stored under
"targets": a preset matching OIDN (relMSE and DSSIM ≤ OIDN's) at ≥ 1× its throughput, and `fast`
at ≥ 2× OIDN's throughput.
"""

from __future__ import annotations

import os
import platform
from pathlib import Path

import numpy as np
import torch

from .. import metrics
from .common import pyplot, test_frames, write_json, write_text
from .timing import timed

QUALITY = {"oidn": "high", "oidn:fast": "fast"}  # peer method -> OIDN quality mode


def load_denoiser(spec: str, precision: str):
    """A `Denoiser` for "NAME" (at `precision`) or "NAME:fp32" / "NAME:bf16" (at that precision)."""
    from ..infer.denoiser import Denoiser
    from ..nn.precision import PRECISIONS

    name, _, suffix = spec.rpartition(":")
    if suffix in PRECISIONS:
        return Denoiser.load(name, precision=suffix)
    return Denoiser.load(spec, precision=precision)


def summarise(rows: list[dict], spps, methods) -> dict:
    """Means over the scenes per "method@spp" (quality metrics, seconds, Mpix/s)."""
    summary = {}
    for spp in spps:
        for meth in methods:
            sel = [r for r in rows if r["spp"] == spp and r["method"] == meth]
            if not sel:
                continue
            summary[f"{meth}@{spp}"] = {
                "method": meth,
                "spp": spp,
                "frames": len(sel),
                **{k: float(np.mean([r[k] for r in sel])) for k in ("relmse", "smape", "dssim")},
                "seconds": float(np.mean([r["seconds"] for r in sel])),
                "mpix_per_s": (float(np.mean([r["mpix_per_s"] for r in sel])) if sel[0]["mpix_per_s"] else None),
            }
    return summary


def ratios_vs_oidn(summary: dict) -> dict:
    """Each method's metrics and throughput over OIDN-high's at the same spp (but the noisy input's)."""
    ratios = {}
    for key, s in summary.items():
        if s["method"] not in ("noisy", "oidn"):
            o = summary[f"oidn@{s['spp']}"]
            ratios[key] = {k: s[k] / o[k] for k in ("relmse", "smape", "dssim")}
            ratios[key]["throughput"] = s["mpix_per_s"] / o["mpix_per_s"]
    return ratios


def check_targets(ratios: dict, spps) -> dict:
    """Per spp: the presets matching OIDN (relMSE and DSSIM ≤ OIDN's) at ≥ 1× its throughput, and
    whether `fast` runs at ≥ 2× OIDN's throughput (None when it did not run)."""
    out = {}
    for spp in spps:
        mine = {
            k.split("@")[0].replace("neurecon:", ""): r
            for k, r in ratios.items()
            if k.endswith(f"@{spp}") and k.startswith("neurecon:")
        }
        out[spp] = {
            "match_oidn_at_1x": [
                m for m, r in mine.items() if r["relmse"] <= 1 and r["dssim"] <= 1 and r["throughput"] >= 1
            ],
            "fast_2x": (mine["fast"]["throughput"] >= 2) if "fast" in mine else None,
        }
    return out


def markdown_table(summary: dict, ratios: dict, targets: dict) -> str:
    """denoise.md: the summary table, the ratios to OIDN and the targets."""
    lines = ["| method | spp | relMSE | SMAPE | DSSIM | s/frame | Mpix/s |", "|---|---|---|---|---|---|---|"]
    for s in summary.values():
        mp = f"{s['mpix_per_s']:.3f}" if s["mpix_per_s"] else "–"
        sec = f"{s['seconds']:.3f}" if s["seconds"] else "–"
        lines.append(
            f"| {s['method']} | {s['spp']} | {s['relmse']:.4f} | {s['smape']:.4f} | {s['dssim']:.4f} | {sec} | {mp} |"
        )
    if ratios:
        lines += ["", "| vs OIDN | relMSE ratio | DSSIM ratio | throughput ratio |", "|---|---|---|---|"]
        for k, r in ratios.items():
            lines.append(f"| {k} | {r['relmse']:.2f}× | {r['dssim']:.2f}× | {r['throughput']:.2f}× |")
    for spp, t in targets.items():
        lines.append(
            f"\n{spp} spp: presets matching OIDN at ≥ 1× throughput: "
            f"{', '.join(t['match_oidn_at_1x']) or 'none'}; fast ≥ 2× OIDN: {t['fast_2x']}"
        )
    return "\n".join(lines)


def run(
    data: str,
    models: list[str],
    precision: str,
    spp: list[int],
    out: str | Path,
    repeat: int,
    oidn_fast: bool = True,
    limit: int | None = None,
) -> dict:
    """The benchmark on the frames under `data` (the first `limit` scenes); writes denoise.json,
    denoise.md, denoise.png and denoise_report/ into `out` and returns the JSON's content."""
    from .. import peers
    from ..nn.precision import native_bf16
    from ..report import write_report

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    dens = {m: load_denoiser(m, precision) for m in models}
    peer = (["oidn"] + (["oidn:fast"] if oidn_fast else [])) if peers.available() else []
    methods = ["noisy"] + [f"neurecon:{m}" for m in models] + peer
    if peers.available():
        peers.warm_up()
    rows = []
    warm: dict[str, bool] = {}
    report_done = False
    for name, level, buf, ref in test_frames(data, spp, limit):
        h, w = buf.shape
        results = {"noisy": (buf["color"], 0.0)}
        for m, den in dens.items():
            if not warm.get(m):  # first call allocates; time only warm runs
                den.denoise_buffers(buf)
                warm[m] = True
            results[f"neurecon:{m}"] = timed(lambda den=den, buf=buf: den.denoise_buffers(buf), repeat)
        for meth in peer:
            results[meth] = timed(
                lambda buf=buf, q=QUALITY[meth]: peers.oidn_denoise(
                    buf["color"], buf["albedo"], buf["normal"], quality=q
                )[0],
                repeat,
            )
        for meth, (img, sec) in results.items():
            rows.append(
                {
                    "scene": name,
                    "spp": level,
                    "method": meth,
                    "width": w,
                    "height": h,
                    **metrics.denoise_metrics(img, ref),
                    "seconds": sec,
                    "mpix_per_s": (w * h / 1e6 / sec) if sec else None,
                }
            )
        if not report_done:
            write_report(
                out / "denoise_report",
                {f"noisy {level} spp": buf["color"], **{k: v[0] for k, v in results.items() if k != "noisy"}},
                ref,
                {k: metrics.denoise_metrics(v[0], ref) for k, v in results.items()},
                title=f"{name}, {level} spp",
            )
            report_done = True
        print(
            f"{name} {level:>3} spp  "
            + "  ".join(
                f"{r['method']}: relMSE {r['relmse']:.4f} DSSIM {r['dssim']:.4f}" for r in rows[-len(results) :]
            ),
            flush=True,
        )

    summary = summarise(rows, spp, methods)
    ratios = ratios_vs_oidn(summary) if "oidn" in methods else {}
    targets = check_targets(ratios, spp)
    meta = {
        "host": platform.node(),
        "cpus": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "data": data,
        "scenes": sorted({r["scene"] for r in rows}),
        "models": {m: d.card for m, d in dens.items()},
        "precision": {m: d.precision for m, d in dens.items()},
        "native_bf16": native_bf16(),
    }
    result = {"meta": meta, "summary": summary, "ratios_vs_oidn": ratios, "targets": targets, "rows": rows}
    write_json(out / "denoise.json", result)
    table = markdown_table(summary, ratios, targets)
    write_text(out / "denoise.md", table + "\n")
    print(table)
    plot(summary, out / "denoise.png")
    return result


def plot(summary: dict, path: Path) -> None:
    """relMSE and DSSIM against throughput, one marker per spp, OIDN's lines dotted (denoise.png)."""
    plt = pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    methods = sorted({s["method"] for s in summary.values() if s["mpix_per_s"]}, key=lambda m: m.startswith("oidn"))
    colours = {m: ({"oidn": "k", "oidn:fast": "0.5"}.get(m) or f"C{i}") for i, m in enumerate(methods)}
    markers = {spp: mk for spp, mk in zip(sorted({s["spp"] for s in summary.values()}), "os^vD")}
    for ax, metric in zip(axes, ("relmse", "dssim")):
        for s in summary.values():
            if s["mpix_per_s"]:
                ax.scatter(s["mpix_per_s"], s[metric], marker=markers[s["spp"]], color=colours[s["method"]])
                ax.annotate(
                    f"{s['method'].replace('neurecon:', '')}@{s['spp']}", (s["mpix_per_s"], s[metric]), fontsize=7
                )
        for spp in markers:  # OIDN's quality/speed lines: the target quadrant is below-right
            o = summary.get(f"oidn@{spp}")
            if o:
                ax.axhline(o[metric], color="k", lw=0.5, ls=":")
                ax.axvline(o["mpix_per_s"], color="k", lw=0.5, ls=":")
        ax.set(
            xlabel="throughput (Mpix/s, higher is better)",
            ylabel=f"{metric} (lower is better)",
            yscale="log",
            title=f"{metric} vs throughput (markers: "
            + ", ".join(f"{mk} {spp} spp" for spp, mk in markers.items())
            + ")",
        )
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
