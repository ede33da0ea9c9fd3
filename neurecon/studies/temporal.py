"""Temporal stability of denoised sequences (Vogels et al. 2018 §7.2, Fig. 12–15): OIDN frame by
frame, neurecon's single-frame backbone, and the temporal models (M = 1, M = 3, M = 3 causal) on
rendered test sequences (:mod:`neurecon.render.sequence`, `data/temporal/test`) at each spp.

Sequence kinds and what is measured (tonemapped = Reinhard then sRGB, :func:`neurecon.metrics.tonemap`):

* **static camera, new seed each frame** (``seeds``, Fig. 12): ``adjacent_dssim`` — the mean DSSIM
  between adjacent outputs (the reference is one image, so any change is flicker);
* **moving camera and objects**: the warped flicker ``flicker`` F = mean over valid pixels of
  |(d_t − W d_{t−1}) − (r_t − W r_{t−1})| (W: bilinear warp along frame t's motion vectors, valid:
  its ``motion_valid``), and ``tpsnr`` = PSNR of the unwarped frame differences
  (d_t − d_{t−1}) against (r_t − r_{t−1}), peak 1; both on tonemapped values, F also on the static
  sequences;
* per frame against its own reference: ``relmse`` (linear HDR), ``dssim``, and ``flip`` when
  ``flip-evaluator`` is installed (else omitted);
* ``seconds`` per frame: OIDN and the single-frame model per call; the temporal models in steady
  state (one frame's features + one window, medians; :meth:`TemporalDenoiser.steady_seconds`).

Targets (issue #25): flicker (F, adjacent DSSIM) ≤ 0.5× single-frame neurecon's and below OIDN's on
both sequence kinds; per-frame relMSE and DSSIM within 1 % of single-frame; cost ≤ 2× single-frame.
Writes temporal.json, temporal.png and a side-by-side GIF per sequence kind
(noisy | OIDN | single | temporal M = 3 | reference) into the output folder.
"""

from __future__ import annotations

import json
import platform
import time
from pathlib import Path

import numpy as np
import torch

from .. import metrics
from ..buffers import Buffers
from ..io import read_buffers
from ..nn.temporal import warp
from .common import pyplot, write_json

GIF_FRAMES = 12
METHODS_ORDER = ["noisy", "oidn", "single", "temporal_m1", "temporal_m3", "temporal_m3_causal"]


def _flip_fn():
    return metrics.flip if metrics.flip_available() else None


def load_sequence(seq_dir: Path, spp: int) -> tuple[list[Buffers], list[np.ndarray], dict]:
    files = sorted((seq_dir / f"{spp}spp").glob("frame_*.exr"))
    refs = [read_buffers(f)["color"] for f in sorted((seq_dir / "ref").glob("frame_*.exr"))]
    meta = json.loads((seq_dir / "sequence.json").read_text())
    return [read_buffers(f) for f in files], refs, meta


def _t(a: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(a.transpose(2, 0, 1)))[None].double()


def sequence_metrics(outs, refs, frames, flip=None) -> dict[str, float]:
    """Per-frame quality and temporal stability of one method on one sequence."""
    tm = [metrics.tonemapped(o) for o in outs]
    tr = [metrics.tonemapped(r) for r in refs]
    flick_num = flick_den = 0.0
    tmse = []
    adj = []
    for t in range(1, len(outs)):
        flow = _t(frames[t]["motion"])
        v = _t(frames[t]["motion_valid"])
        e = ((tm[t] - warp(tm[t - 1], flow)) - (tr[t] - warp(tr[t - 1], flow))).abs().mean(1, keepdim=True)
        flick_num += float((e * v).sum())
        flick_den += float(v.sum())
        tmse.append(float((((tm[t] - tm[t - 1]) - (tr[t] - tr[t - 1])) ** 2).mean()))
        adj.append((1 - metrics.ssim(tm[t], tm[t - 1])) / 2)
    out = {
        "relmse": float(np.mean([metrics.relmse(o, r) for o, r in zip(outs, refs)])),
        "dssim": float(np.mean([metrics.dssim(o, r) for o, r in zip(outs, refs)])),
        "flicker": flick_num / max(flick_den, 1.0),
        "tpsnr": float(10 * np.log10(1.0 / max(np.mean(tmse), 1e-12))),
        "adjacent_dssim": float(np.mean(adj)),
        "valid_fraction": flick_den / max(1.0, sum(np.prod(f["motion_valid"].shape) for f in frames[1:])),
    }
    if flip is not None:
        out["flip"] = float(np.mean([flip(o, r) for o, r in zip(outs, refs)]))
    return out


def run_methods(frames: list[Buffers], models: dict, single, spp_label: str) -> tuple[dict, dict]:
    """Outputs and seconds per frame of every method on one sequence."""
    from ..peers import oidn_denoise

    outs: dict[str, list[np.ndarray]] = {"noisy": [f["color"] for f in frames]}
    secs: dict[str, float] = {}
    o, s = [], []
    for f in frames:
        d, dt = oidn_denoise(f["color"], f["albedo"], f["normal"])
        o.append(d)
        s.append(dt)
    outs["oidn"], secs["oidn"] = o, float(np.median(s))
    o, s = [], []
    for f in frames:
        o.append(single.denoise_buffers(f))
        s.append(single.last_seconds)
    outs["single"], secs["single"] = o, float(np.median(s))
    for name, den in models.items():
        outs[name] = den.denoise_sequence(frames)
        secs[name] = den.steady_seconds()
    return outs, secs


def interleaved_seconds(single, models: dict, frames: list[Buffers], rounds: int = 5) -> dict[str, float]:
    """Seconds per frame in steady state, every method timed in turn within each round (so that a
    machine's load drifting affects all alike): OIDN and the single-frame model on one frame; a
    temporal model on one new frame's preparation (features) plus one window's combination."""
    from ..peers import oidn_denoise

    windows = {}
    for name, den in models.items():
        n = 2 * den.radius + 1
        windows[name] = {i: den.prepare(f, i) for i, f in enumerate(frames[:n])}
    times: dict[str, list[float]] = {"oidn": [], "single": [], **{n: [] for n in models}}
    c = min(len(frames) - 1, max(den.radius for den in models.values()))
    f = frames[c]
    for _ in range(rounds):
        times["oidn"].append(oidn_denoise(f["color"], f["albedo"], f["normal"])[1])
        single.denoise_buffers(f)
        times["single"].append(single.last_seconds)
        for name, den in models.items():
            t = time.perf_counter()
            den.prepare(frames[den.radius], den.radius)
            den._emit(windows[name], den.radius)
            times[name].append(time.perf_counter() - t)
    return {k: float(np.median(v)) for k, v in times.items()}


def upsampled(frames: list[Buffers], factor: int = 2) -> list[Buffers]:
    """Frames repeated `factor`× per axis (motion scaled): for timing at a larger size."""
    out = []
    for f in frames:
        b = {k: np.repeat(np.repeat(f[k], factor, 0), factor, 1) for k in f.names()}
        for k in ("motion", "motion_next"):
            if k in b:
                b[k] = b[k] * factor
        out.append(Buffers(b))
    return out


def _srgb8(img: np.ndarray) -> np.ndarray:
    return (metrics.tonemapped(img)[0].permute(1, 2, 0).numpy() * 255).clip(0, 255).astype(np.uint8)


def _gif(path: Path, columns: list[list[np.ndarray]], labels: list[str], ms: int = 150) -> None:
    from PIL import Image, ImageDraw

    frames = []
    for t in range(len(columns[0])):
        tiles = [_srgb8(c[t]) for c in columns]
        strip = np.concatenate(tiles, 1)
        img = Image.fromarray(np.concatenate([np.zeros((14, strip.shape[1], 3), np.uint8), strip], 0))
        draw = ImageDraw.Draw(img)
        w = tiles[0].shape[1]
        for i, lab in enumerate(labels):
            draw.text((i * w + 3, 1), lab, fill=(255, 255, 255))
        frames.append(img.convert("P", palette=Image.ADAPTIVE))
    path.parent.mkdir(parents=True, exist_ok=True)
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=ms, loop=0, optimize=True)


def run(
    data: str = "data/temporal/test",
    single: str = "fast",
    temporal: tuple[str, ...] = ("temporal_m1", "temporal_m3"),
    causal: bool = True,
    spp: tuple[int, ...] = (4, 16),
    out: str = "bench/results/temporal",
    precision: str = "auto",
) -> dict:
    from ..infer.denoiser import Denoiser
    from ..infer.temporal import TemporalDenoiser
    from ..peers import warm_up

    torch.set_num_threads(1)
    warm_up()
    flip = _flip_fn()
    den_single = Denoiser.load(single, precision=precision)
    named = dict(t.split("=", 1) if "=" in t else (t, t) for t in temporal)  # LABEL=path.pt, or a shipped name
    models = {label: TemporalDenoiser.load(src, precision=precision) for label, src in named.items()}
    if causal and "temporal_m3" in named:
        models["temporal_m3_causal"] = TemporalDenoiser.load(named["temporal_m3"], precision=precision, causal=True)
    seqs = sorted(p.parent for p in Path(data).glob("seq*/sequence.json"))
    if not seqs:
        raise FileNotFoundError(f"no rendered sequences under {data}: render them (see docs/temporal.md)")
    t0 = time.perf_counter()
    per: dict = {}
    gifs: dict = {}
    for d in seqs:
        for s in spp:
            frames, refs, meta = load_sequence(d, s)
            kind = "static" if meta["kind"] == "seeds" else "moving"
            outs, secs = run_methods(frames, models, den_single, f"{s}spp")
            res = {m: {**sequence_metrics(o, refs, frames, flip), "seconds": secs.get(m)} for m, o in outs.items()}
            per.setdefault(kind, {}).setdefault(str(s), []).append(
                {"sequence": d.name, "motion": meta["kind"], "frames": len(frames), "results": res}
            )
            if s == min(spp) and kind not in gifs:
                cols = ["noisy", "oidn", "single", "temporal_m3" if "temporal_m3" in outs else list(named)[-1]]
                gif = Path(out) / f"temporal_{kind}_{s}spp.gif"
                cut = GIF_FRAMES  # a short loop keeps the file small
                _gif(
                    gif,
                    [outs[c][:cut] for c in cols] + [refs[:cut]],
                    ["noisy", "OIDN", "single", "temporal", "reference"],
                )
                gifs[kind] = str(gif)
    timing = {}
    if "moving" in per:  # steady-state cost, interleaved, on the first moving sequence (and 2× upsampled)
        d = next(p for p in seqs if json.loads((p / "sequence.json").read_text())["kind"] != "seeds")
        frames, _, _ = load_sequence(d, min(spp))
        frames = frames[:8]
        for label, fr in (("128", frames), ("256", upsampled(frames, 2))):
            timing[label] = interleaved_seconds(den_single, models, fr)
            timing[label]["ratio_vs_single"] = {m: timing[label][m] / timing[label]["single"] for m in models}
        for by_spp in per.values():
            for runs in by_spp.values():
                for r in runs:
                    for m, v in r["results"].items():
                        if m in timing["128"]:
                            v["seconds"] = timing["128"][m]  # the interleaved steady-state number
    summary = _summarise(per)
    result = {
        "benchmark": "temporal",
        "data": data,
        "single": single,
        "temporal": list(models),
        "spp": list(spp),
        "precision": den_single.precision,
        "flip": "flip-evaluator" if flip else "not installed (pip install flip-evaluator)",
        "cpu": platform.processor() or platform.machine(),
        "threads": torch.get_num_threads(),
        "seconds": round(time.perf_counter() - t0, 1),
        "timing_interleaved": timing,
        "summary": summary,
        "targets": _targets(summary),
        "sequences": per,
        "gifs": gifs,
    }
    write_json(Path(out) / "temporal.json", result)
    _plot(summary, Path(out) / "temporal.png")
    return result


def _mean(runs: list, method: str, key: str) -> float:
    return float(np.mean([r["results"][method][key] or 0.0 for r in runs]))


def _summarise(per: dict) -> dict:
    """Means over the sequences of a kind, per spp and method."""
    out: dict = {}
    for kind, by_spp in per.items():
        for s, runs in by_spp.items():
            methods = runs[0]["results"].keys()
            out.setdefault(kind, {})[s] = {m: {k: _mean(runs, m, k) for k in runs[0]["results"][m]} for m in methods}
    return out


def _targets(summary: dict) -> dict:
    """The issue's targets, per kind, spp and temporal model: ratios to single-frame and OIDN."""
    out: dict = {}
    for kind, by_spp in summary.items():
        flick = "adjacent_dssim" if kind == "static" else "flicker"
        for s, ms in by_spp.items():
            for m in (k for k in ms if k.startswith("temporal")):
                r = {
                    f"{flick}_vs_single": ms[m][flick] / ms["single"][flick],
                    f"{flick}_vs_oidn": ms[m][flick] / ms["oidn"][flick],
                    "relmse_vs_single": ms[m]["relmse"] / ms["single"]["relmse"],
                    "dssim_vs_single": ms[m]["dssim"] / ms["single"]["dssim"],
                    "seconds_vs_single": ms[m]["seconds"] / ms["single"]["seconds"],
                }
                if kind == "static":
                    r["flicker_vs_single"] = ms[m]["flicker"] / ms["single"]["flicker"]
                r["met"] = {
                    "flicker ≤ 0.5× single": r[f"{flick}_vs_single"] <= 0.5,
                    "flicker < OIDN": r[f"{flick}_vs_oidn"] < 1.0,
                    "relMSE within 1 %": r["relmse_vs_single"] <= 1.01,
                    "DSSIM within 1 %": r["dssim_vs_single"] <= 1.01,
                    "cost ≤ 2× single": r["seconds_vs_single"] <= 2.0,
                }
                out.setdefault(kind, {}).setdefault(s, {})[m] = r
    return out


def _plot(summary: dict, path: Path) -> None:
    plt = pyplot()
    kinds = [k for k in ("static", "moving") if k in summary]
    panels = [(k, "adjacent_dssim" if k == "static" else "flicker") for k in kinds]
    panels += [(k, "dssim") for k in kinds] + [(kinds[-1], "relmse")]
    fig, axes = plt.subplots(1, len(panels), figsize=(4 * len(panels), 3.4))
    for ax, (kind, key) in zip(np.atleast_1d(axes), panels):
        by_spp = summary[kind]
        methods = [m for m in METHODS_ORDER if m in next(iter(by_spp.values())) and m != "noisy"]
        x = np.arange(len(methods))
        for i, (s, ms) in enumerate(sorted(by_spp.items(), key=lambda kv: int(kv[0]))):
            ax.bar(x + (i - 0.5) * 0.38, [ms[m][key] for m in methods], 0.38, label=f"{s} spp")
        ax.set_xticks(x, [m.replace("temporal_", "T ").replace("_causal", " c") for m in methods], rotation=30)
        ax.set_title(f"{kind}: {key}")
        ax.legend(fontsize=7)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
