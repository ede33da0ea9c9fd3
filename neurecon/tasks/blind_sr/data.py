"""Blind-SR images: the bundled scikit-image photographs in three disjoint splits, and whole-image
test pairs at fixed blur widths.

* train (:data:`TRAIN`): rocket, hubble_deep_field, immunohistochemistry, retina, the two
  stereo_motorcycle views, and the greyscale brick, grass, gravel, moon, coins, clock;
* valid (:data:`VALID`, keep-the-best during training): chelsea;
* test (:data:`TEST`, the benchmark's; never trained on, never used to pick a checkpoint):
  astronaut, coffee, camera.

(The ``sr`` task's demo split trains on astronaut and camera; the blind-SR models do not.)
A task config may name other sources (a folder, a list of files or demo names) as in the sr task.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..sr.data import load_hr
from ..sr.imresize import modcrop
from .degradations import Kernel, degrade, isotropic

TRAIN = [
    "rocket",
    "hubble_deep_field",
    "immunohistochemistry",
    "retina",
    "motorcycle_left",
    "motorcycle_right",
    "brick",
    "grass",
    "gravel",
    "moon",
    "coins",
    "clock",
]
VALID = ["chelsea"]
TEST = ["astronaut", "coffee", "camera"]
SPLITS = {"train": TRAIN, "valid": VALID, "test": TEST}
BENCH_SIGMAS = (0.2, 1.3, 2.6)


def load_split(source, split: str, limit: int | None = None) -> list[tuple[str, np.ndarray]]:
    """(name, H×W×3 uint8) of ``source``: ``demo`` (this module's split) or what the sr task reads."""
    return load_hr(SPLITS[split] if source == "demo" else source, split, limit)


@dataclass
class BlindPair:
    name: str
    kernel: Kernel
    hr: np.ndarray  # H×W×3 float32 in [0, 1], a multiple of the scale
    lr: np.ndarray  # float32, rounded to 8 bits with quantize

    @property
    def sigma(self) -> float:
        return self.kernel.sigma_x


def fixed_pairs(
    items: list[tuple[str, np.ndarray]],
    scale: int,
    sigmas=BENCH_SIGMAS,
    quantize: bool = True,
    max_size: int | None = None,
) -> list[BlindPair]:
    """Every image degraded with every isotropic σ (whole images; ``max_size`` centre-crops HR)."""
    out = []
    for name, a8 in items:
        hr8 = modcrop(a8, scale)
        if max_size:
            h, w = hr8.shape[:2]
            ch, cw = min(h, max_size - max_size % scale), min(w, max_size - max_size % scale)
            y0, x0 = ((h - ch) // 2) // scale * scale, ((w - cw) // 2) // scale * scale
            hr8 = hr8[y0 : y0 + ch, x0 : x0 + cw]
        hr = hr8.astype(np.float32) / 255.0
        for s in sigmas:
            k = isotropic(float(s))
            out.append(BlindPair(name, k, hr, degrade(hr, k, scale, quantize=quantize)))
    return out
