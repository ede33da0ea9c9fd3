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

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from neurecon.denoise import Denoiser  # noqa: E402

from neurecon import metrics, peers  # noqa: E402
from neurecon.io import find_frames  # noqa: E402
from neurecon.nn.precision import PRECISIONS, native_bf16  # noqa: E402
from neurecon.report import write_report  # noqa: E402


def load(spec: str, precision: str) -> Denoiser:
    name, _, suffix = spec.rpartition(":")
    if suffix in PRECISIONS:
        return Denoiser.load(name, precision=suffix)
    return Denoiser.load(spec, precision=precision)


def timed(fn, repeat: int) -> tuple[np.ndarray, float]:
    out, times = None, []
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return out, statistics.median(times)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default="data/mitsuba/test")
    ap.add_argument(
        "--models",
        nargs="+",
        default=["fast", "balanced", "high", "kpcn"],
        help="shipped names or .pt paths; NAME:fp32 / NAME:bf16 fixes that model's precision",
    )
    ap.add_argument("--precision", default="auto", choices=PRECISIONS, help="for models without a :suffix")
    ap.add_argument("--spp", type=int, nargs="+", default=[4, 16])
    ap.add_argument("--out", default="bench/results")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument(
        "--oidn-fast",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="also run OIDN's quality='fast' mode (on the CPU its 'balanced' equals 'high'); "
        "ratios and targets stay against 'high'",
    )
    ap.add_argument("--limit", type=int, default=None, help="first N scenes only")
    a = ap.parse_args(argv)

    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    frames = find_frames(a.data)
    names = sorted(frames)[: a.limit]
    if not names:
        raise SystemExit(f"no frames under {a.data}: render them with `neurecon render --split test`")
    dens = {m: load(m, a.precision) for m in a.models}
    quality = {"oidn": "high", "oidn:fast": "fast"}  # peer method -> OIDN quality mode
    peer = (["oidn"] + (["oidn:fast"] if a.oidn_fast else [])) if peers.available() else []
    methods = ["noisy"] + [f"neurecon:{m}" for m in a.models] + peer
    if peers.available():
        peers.warm_up()
    rows = []
    warm: dict[str, bool] = {}
    report_done = False
    for name in names:
        fs = frames[name]
        ref = fs.read("ref")["color"]
        for spp in a.spp:
            if spp not in fs.inputs:
                continue
            buf = fs.read(spp)
            buf.sanitize()
            h, w = buf.shape
            results = {"noisy": (buf["color"], 0.0)}
            for m, den in dens.items():
                if not warm.get(m):  # first call allocates; time only warm runs
                    den.denoise_buffers(buf)
                    warm[m] = True
                results[f"neurecon:{m}"] = timed(lambda: den.denoise_buffers(buf), a.repeat)
            if peers.available():
                for meth in peer:
                    results[meth] = timed(
                        lambda: peers.oidn_denoise(buf["color"], buf["albedo"], buf["normal"], quality=quality[meth])[
                            0
                        ],
                        a.repeat,
                    )
            for meth, (img, sec) in results.items():
                rows.append(
                    {
                        "scene": name,
                        "spp": spp,
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
                    {f"noisy {spp} spp": buf["color"], **{k: v[0] for k, v in results.items() if k != "noisy"}},
                    ref,
                    {k: metrics.denoise_metrics(v[0], ref) for k, v in results.items()},
                    title=f"{name}, {spp} spp",
                )
                report_done = True
            print(
                f"{name} {spp:>3} spp  "
                + "  ".join(
                    f"{r['method']}: relMSE {r['relmse']:.4f} DSSIM {r['dssim']:.4f}" for r in rows[-len(results) :]
                ),
                flush=True,
            )

    summary = {}
    for spp in a.spp:
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
    ratios = {}
    if "oidn" in methods:
        for key, s in summary.items():
            if s["method"] not in ("noisy", "oidn"):
                o = summary[f"oidn@{s['spp']}"]
                ratios[key] = {k: s[k] / o[k] for k in ("relmse", "smape", "dssim")}
                ratios[key]["throughput"] = s["mpix_per_s"] / o["mpix_per_s"]
    targets = check_targets(ratios, a.spp)
    meta = {
        "host": platform.node(),
        "cpus": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "data": a.data,
        "scenes": names,
        "models": {m: d.card for m, d in dens.items()},
        "precision": {m: d.precision for m, d in dens.items()},
        "native_bf16": native_bf16(),
    }
    (out / "denoise.json").write_text(
        json.dumps(
            {"meta": meta, "summary": summary, "ratios_vs_oidn": ratios, "targets": targets, "rows": rows}, indent=1
        )
    )
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
    table = "\n".join(lines)
    (out / "denoise.md").write_text(table + "\n")
    print(table)
    plot(summary, out / "denoise.png")
    return 0


def check_targets(ratios: dict, spps) -> dict:
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


def plot(summary: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

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


if __name__ == "__main__":
    raise SystemExit(main())
