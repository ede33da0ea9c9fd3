"""A denoising frame in memory: one scene's input planes at one spp level, its reference, and
the patch sampler's importance table. `packed` freezes exactly what these functions compute."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

REFERENCE = "reference"


@dataclass
class Frame:
    name: str
    spp: int
    inputs: dict[str, torch.Tensor]  # canonical buffer -> 1×C×H×W (float32, or bf16 from a pack)
    reference: torch.Tensor  # 1×3×H×W float32
    table: np.ndarray | None = None  # the sampler's summed-area table, when a pack holds it


def read_scene(fs, levels: Sequence[int], planes: Sequence[str]) -> list[Frame]:
    """One scene's sanitised frames at `levels`, sharing one reference tensor."""
    ref = fs.read("ref")
    ref.sanitize()
    reference = ref.to_tensor(["color"])
    frames = []
    for s in levels:
        buf = fs.read(s).require(planes)
        buf.sanitize()
        frames.append(Frame(fs.name, s, {p: buf.to_tensor([p]) for p in planes}, reference))
    return frames


def importance_map(frame: Frame) -> np.ndarray:
    c, v = frame.inputs["color"][0], frame.inputs.get("color_var")
    rel = (v[0].mean(0) / (c.pow(2).mean(0) + 1e-2)) if v is not None else torch.zeros_like(c[0])
    ref = frame.reference[0].mean(0)
    lref = torch.log1p(ref)
    gx = torch.zeros_like(lref)
    gx[:, 1:] = (lref[:, 1:] - lref[:, :-1]).abs()
    gy = torch.zeros_like(lref)
    gy[1:] = (lref[1:] - lref[:-1]).abs()
    score = rel.clamp(max=10) + 4 * (gx + gy)
    return score.numpy().astype(np.float64)


def importance_table(frame: Frame) -> np.ndarray:
    """Summed-area table of the importance, zero-padded: any patch's score in O(1)."""
    return np.pad(importance_map(frame).cumsum(0).cumsum(1), ((1, 0), (1, 0)))
