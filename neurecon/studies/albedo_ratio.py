"""Ablation of the U-Net's gated albedo ratio (nn/unet.py AlbedoRatio) on the test split.

    .venv/bin/python bench/albedo_ratio.py --model high --out bench/results

The same trained weights run twice: as trained, and with the gate closed (g = 0, which is exactly
the model without the ratio). The rest of the network was trained with the ratio and leans on it,
so closing the gate shows what this network owes to the ratio, not what the ratio adds to a model
trained without it (compare that with the previous stage's benchmark). OIDN runs alongside as the
reference point. Per scene and spp: relMSE and DSSIM of both, the gate's mean and the share of
pixels where it is over half open.
Writes albedo_ratio.json and albedo_ratio.png (crops where the ratio changes the output most, in
the scene whose DSSIM it improves most: noisy, gate closed, as trained, OIDN, reference, gate map).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from .. import metrics
from .common import densest_window, pyplot, write_json


class GateProbe:
    """Records the gate map of the model's AlbedoRatio on each call; `closed` forces g = 0."""

    def __init__(self, module):
        self.module, self.closed, self.gate = module, False, None
        self._forward = module.forward
        module.forward = self

    def __call__(self, filtered, filtered_albedo, albedo, feats):
        with torch.no_grad():
            self.gate = self.module.gate_map(feats)
        return filtered if self.closed else self._forward(filtered, filtered_albedo, albedo, feats)


def summarise(rows: list[dict], spps) -> dict:
    """Per spp: mean relMSE and DSSIM of the gate closed, as trained and OIDN, and the mean gate."""
    summary = {}
    for spp in spps:
        sel = [r for r in rows if r["spp"] == spp]
        summary[spp] = {
            m: {k: float(np.mean([r[m][k] for r in sel])) for k in ("relmse", "dssim")}
            for m in ("closed", "trained", "oidn")
            if m in sel[0]
        }
        summary[spp]["gate_mean"] = float(np.mean([r["gate_mean"] for r in sel]))
    return summary


def run(data: str, model: str, spp: list[int], out: str | Path) -> dict:
    """The ablation on every frame under `data`; writes albedo_ratio.json and .png into `out`."""
    from .. import peers
    from ..infer.denoiser import Denoiser
    from ..io import find_frames

    den = Denoiser.load(model)
    if getattr(den.model, "albedo_ratio", None) is None:
        raise SystemExit(f"model '{model}' has no albedo ratio (UNetConfig.albedo_ratio)")
    probe = GateProbe(den.model.albedo_ratio)
    frames = find_frames(data)
    rows, best = [], None
    for name in sorted(frames):
        fs = frames[name]
        ref = fs.read("ref")["color"]
        for level in spp:
            buf = fs.read(level)
            buf.sanitize()
            probe.closed = True
            closed = den.denoise_buffers(buf)
            probe.closed = False
            opened = den.denoise_buffers(buf)
            gate = probe.gate[0, 0, : ref.shape[0], : ref.shape[1]].numpy()
            assert gate.shape == ref.shape[:2], "a tiled run: the probe saw only the last tile"
            row = {
                "scene": name,
                "spp": level,
                "gate_mean": float(gate.mean()),
                "gate_over_half": float((gate > 0.5).mean()),
                "closed": metrics.denoise_metrics(closed, ref),
                "trained": metrics.denoise_metrics(opened, ref),
            }
            oidn = None
            if peers.available():
                oidn = peers.oidn_denoise(buf["color"], buf["albedo"], buf["normal"])[0]
                row["oidn"] = metrics.denoise_metrics(oidn, ref)
            rows.append(row)
            print(
                f"{name} {level:>2} spp  gate {row['gate_mean']:.3f} ({row['gate_over_half']:.1%} > ½)  DSSIM closed "
                f"{row['closed']['dssim']:.4f} trained {row['trained']['dssim']:.4f}"
                + (f" OIDN {row['oidn']['dssim']:.4f}" if "oidn" in row else ""),
                flush=True,
            )
            gain = row["closed"]["dssim"] - row["trained"]["dssim"]
            if level == min(spp) and (best is None or gain > best[0]):
                best = (gain, name, buf["color"], closed, opened, oidn, ref, gate)
    summary = summarise(rows, spp)
    out = Path(out)
    result = {"model": model, "data": data, "summary": summary, "rows": rows}
    write_json(out / "albedo_ratio.json", result)
    print(json.dumps(summary, indent=1))
    crops(best, out / "albedo_ratio.png")
    return result


def crops(best, path: Path, size: int = 96) -> None:
    """Panels of the size² window where opening the gate changes the output most: noisy, gate
    closed, as trained, OIDN (if it ran), reference, gate map. `best`: (gain, name, noisy, closed,
    opened, oidn or None, reference, gate)."""
    plt = pyplot()
    _, name, noisy, closed, opened, oidn, ref, gate = best
    change = np.abs(opened - closed).mean(2)
    y, x = densest_window(torch.from_numpy(change).double()[None, None], size, stride=1)
    win = (slice(y, y + size), slice(x, x + size))
    show = lambda img: metrics.tonemap(torch.from_numpy(np.ascontiguousarray(img[win]))).clip(0, 1).numpy()
    panels = [("noisy", show(noisy)), ("gate closed", show(closed)), ("as trained", show(opened))]
    panels += [("OIDN", show(oidn))] if oidn is not None else []
    panels += [("reference", show(ref)), ("gate g", gate[win])]
    fig, axes = plt.subplots(1, len(panels), figsize=(2.6 * len(panels), 2.9))
    for ax, (title, img) in zip(axes, panels):
        ax.imshow(img, cmap="magma" if img.ndim == 2 else None, vmin=0, vmax=1, interpolation="nearest")
        ax.set_title(title, fontsize=9)
        ax.axis("off")
    fig.suptitle(f"{name}: where the albedo ratio changes the output most", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
