"""Where a model's DSSIM differs from OIDN's: by region and by scale, on the test split.

    .venv/bin/python bench/dssim_gap.py --model high --spp 4 --out bench/results

A single DSSIM ratio says how far a model is from OIDN, not what to change. This splits it:
- by region: the per-pixel DSSIM map averaged over the flat, mid and edge thirds of the pixels,
  ranked by the reference's local contrast (std of tonemapped luminance in 7×7). A gap in flat
  regions is residual noise or blotches; on edges it is blur.
- by scale: DSSIM of both images box-downsampled 2× and 4× (both sides alike). A gap that grows at
  coarser scales is low-frequency error, which only wider filters (coarser kernel scales) remove.
- by octave: tonemapped error energy per band of a Laplacian-style pyramid (1–2 px … > 64 px).
Ratios are model / OIDN-high (< 1: the model is better). Writes dssim_gap.json.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from .. import metrics
from .common import write_json

REGIONS = ("flat", "mid", "edge")
SCALES = (1, 2, 4)
OCTAVES = 7  # 1–2, 2–4, …, 32–64 px, and the rest


def contrast_regions(ref: torch.Tensor) -> dict[str, torch.Tensor]:
    """Thirds of the pixels by rank of the reference's local contrast (7×7 std of luminance);
    by rank, not by threshold, so ties (a constant sky) cannot leave a third empty."""
    lum = ref.mean(1, keepdim=True)
    mean = F.avg_pool2d(lum, 7, 1, 3, count_include_pad=False)
    std = (F.avg_pool2d(lum * lum, 7, 1, 3, count_include_pad=False) - mean**2).clamp_min(0).sqrt()
    rank = torch.empty(std.numel(), dtype=torch.long)
    rank[std.flatten().argsort(stable=True)] = torch.arange(std.numel())
    third = (rank * 3 // std.numel()).view(std.shape)
    return {name: third == i for i, name in enumerate(REGIONS)}


def dssim_map(x: torch.Tensor, ref: torch.Tensor) -> torch.Tensor:
    """Per-pixel DSSIM, channel mean, padded back to the image size (ssim_map drops a 5-pixel border)."""
    d = ((1 - metrics.ssim_map(x, ref)) / 2).mean(1, keepdim=True)
    return F.pad(d, (5, 5, 5, 5), value=float("nan"))


def octave_energy(err: torch.Tensor) -> list[float]:
    """Squared error per full-resolution pixel in each octave band. With box downsampling and
    nearest upsampling the bands are orthogonal: they sum to the MSE exactly (of the image cropped
    to a multiple of 2^(OCTAVES−1), which the last band needs)."""
    m = 2 ** (OCTAVES - 1)
    err = err[..., : err.shape[-2] // m * m, : err.shape[-1] // m * m]
    out = []
    for _ in range(OCTAVES - 1):  # a coarse pixel stands for 4^level full-resolution ones: means add up
        lo = F.avg_pool2d(err, 2)
        out.append(float(((err - F.interpolate(lo, scale_factor=2, mode="nearest")) ** 2).mean()))
        err = lo
    return out + [float((err**2).mean())]


def frame_stats(out: torch.Tensor, ref: torch.Tensor, regions: dict[str, torch.Tensor]) -> dict:
    """DSSIM of a tonemapped output per region and per scale, and its error energy per octave."""
    dmap = dssim_map(out, ref)
    s = {f"dssim_{r}": float(dmap[m & ~dmap.isnan()].mean()) for r, m in regions.items()}  # NaN: border
    s["dssim_1/1"] = float(dmap.nanmean())
    for k in SCALES[1:]:
        s[f"dssim_1/{k}"] = float(((1 - metrics.ssim_map(F.avg_pool2d(out, k), F.avg_pool2d(ref, k))) / 2).mean())
    s["octaves"] = octave_energy(out - ref)
    return s


KEYS = [f"dssim_{x}" for x in REGIONS] + [f"dssim_1/{k}" for k in SCALES]


def compare(rows: list[dict]) -> dict:
    """Means over the scenes of model and OIDN, and their ratios (octaves: of the summed energies).
    `rows`: per scene {"model": frame_stats, "oidn": frame_stats}."""
    mean = {who: {k: float(np.nanmean([row[who][k] for row in rows])) for k in KEYS} for who in ("model", "oidn")}
    ratio = {k: mean["model"][k] / mean["oidn"][k] for k in KEYS}
    oct_m = np.sum([row["model"]["octaves"] for row in rows], 0)
    oct_o = np.sum([row["oidn"]["octaves"] for row in rows], 0)
    ratio["octaves"] = (oct_m / oct_o).tolist()
    return {"mean": mean, "ratio_vs_oidn": ratio}


def run(model: str, data: str, spp: list[int], precision: str, out: str | Path) -> dict:
    """The study of `model` against OIDN-high on the frames under `data`, at each `spp`; writes
    dssim_gap_<model>.json into `out`."""
    from .. import peers
    from ..infer.denoiser import Denoiser
    from ..io import find_frames

    if not peers.available():
        raise SystemExit("this benchmark compares with OIDN: install pyoidn (scripts/setup.sh)")
    frames = find_frames(data)
    if not frames:
        raise SystemExit(f"no frames under {data}: render them with `neurecon render --split test`")
    den = Denoiser.load(model, precision=precision)
    result = {"model": model, "card": den.card, "data": data, "per_spp": {}}
    for level in spp:
        rows = []
        for name in sorted(frames):
            fs = frames[name]
            ref = fs.read("ref")["color"]
            buf = fs.read(level)
            buf.sanitize()
            oidn = peers.oidn_denoise(buf["color"], buf["albedo"], buf["normal"], quality="high")[0]
            r = metrics.tonemapped(ref)
            regions = contrast_regions(r)
            rows.append(
                {
                    "scene": name,
                    "model": frame_stats(metrics.tonemapped(den.denoise_buffers(buf)), r, regions),
                    "oidn": frame_stats(metrics.tonemapped(oidn), r, regions),
                }
            )
        c = compare(rows)
        result["per_spp"][str(level)] = {**c, "rows": rows}
        ratio = c["ratio_vs_oidn"]
        print(
            f"{level} spp, {model} / OIDN:  "
            + "  ".join(f"{k} {ratio[k]:.3f}" for k in KEYS)
            + "\n  octaves (1–2 px … >64 px): "
            + " ".join(f"{v:.2f}" for v in ratio["octaves"]),
            flush=True,
        )
    path = write_json(Path(out) / f"dssim_gap_{Path(model).stem}.json", result)
    print(f"wrote {path}")
    return result
