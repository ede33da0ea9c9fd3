"""OLAT folders → relighting samples.

A :class:`Subject` is one OLAT folder in memory: its captured images (exposure-normalised, see
:func:`exposure_scale`), directions, mask and held-out lights. :class:`OlatSampler` draws training
samples the way the paper does: a query light — one of the captured lights, left out of its own
inputs, or (with probability ``heldout_queries``) a held-out light of a training subject — and as
inputs ``k`` lights drawn at random from the query's ``m`` nearest captured lights (the paper's
active set). Augmentations: a horizontal mirror (the image flipped, x of every direction negated:
an exact symmetry of light transport in the camera frame) and a random exposure (light transport
is linear).

Images enter the network as t = log(1 + x) of the normalised radiance (:func:`neurecon.nn.relight.to_net`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from ...io.olat import OlatSet, read_olat
from ...nn.relight import to_net
from ...render.lights import nearest
from ...render.olat import subject_folders

LUMA = np.array([0.2126, 0.7152, 0.0722], np.float32)
EXPOSURE_TARGET = 0.25  # mean masked luminance over the captured lights after normalisation


def exposure_scale(images: np.ndarray, mask: np.ndarray | None = None, target: float = EXPOSURE_TARGET) -> float:
    """The factor that brings a folder's mean subject luminance over all captured lights to
    `target`: one number per folder, so relative brightness between lights is kept."""
    lum = np.asarray(images, np.float64) @ LUMA.astype(np.float64)  # N×H×W
    if mask is None:
        mean = float(lum.mean())
    else:
        w = np.asarray(mask, np.float64)
        mean = float((lum * w).sum() / max(w.sum() * len(lum), 1e-12))
    return target / max(mean, 1e-8)


@dataclass
class Subject:
    name: str
    images: np.ndarray  # N×H×W×3 float32, linear × scale
    dirs: np.ndarray  # N×3 unit, camera frame
    mask: np.ndarray  # H×W float32 in [0, 1]
    scale: float  # what the folder's images were multiplied by
    heldout: np.ndarray  # M×H×W×3 float32 × scale
    heldout_dirs: np.ndarray  # M×3
    meta: dict = field(default_factory=dict)  # the renderer's description of the subject (camera, objects), if any

    @property
    def size(self) -> tuple[int, int]:
        return int(self.images.shape[1]), int(self.images.shape[2])


def load_subject(folder: str | Path | OlatSet) -> Subject:
    olat = folder if isinstance(folder, OlatSet) else read_olat(folder)
    images = olat.images()
    mask = olat.mask(images.shape[1:3])
    scale = exposure_scale(images, mask)
    held = olat.heldout_images() if olat.heldout else np.zeros((0, *images.shape[1:]), np.float32)
    return Subject(
        olat.root.name,
        (images * scale).astype(np.float32),
        olat.directions,
        mask,
        scale,
        (held * scale).astype(np.float32),
        olat.heldout_directions,
        dict(olat.meta.get("subject") or {}),
    )


def load_subjects(root: str | Path, split: str | None, limit: int | None = None) -> list[Subject]:
    folders = subject_folders(root, split)
    return [load_subject(f) for f in (folders[:limit] if limit else folders)]


def as_input(subject: Subject, idx: np.ndarray, query, flip: bool = False, gain: float = 1.0) -> dict:
    """One sample's network inputs: images (k×3×H×W, t-space), dirs (k×3), query (3)."""
    imgs = subject.images[idx] * gain
    dirs = subject.dirs[idx].copy()
    q = np.asarray(query, np.float64).copy()
    if flip:
        imgs = imgs[:, :, ::-1]
        dirs[:, 0] *= -1
        q[0] *= -1
    t = to_net(torch.from_numpy(np.ascontiguousarray(imgs)).permute(0, 3, 1, 2))
    return {"images": t, "dirs": torch.from_numpy(dirs).float(), "query": torch.from_numpy(q).float()}


def image_tensor(img: np.ndarray, flip: bool = False, gain: float = 1.0) -> torch.Tensor:
    """H×W×3 linear → 3×H×W t-space."""
    x = img[:, ::-1] if flip else img
    return to_net(torch.from_numpy(np.ascontiguousarray(x * gain)).permute(2, 0, 1))


class OlatSampler:
    def __init__(
        self,
        subjects: list[Subject],
        batch: int = 4,
        k: int = 4,
        m: int = 8,
        heldout_queries: float = 0.25,
        flip: bool = True,
        exposure_jitter: float = 0.5,
        seed: int = 0,
    ):
        if not subjects:
            raise ValueError("no training subjects")
        if not 1 <= k <= m:
            raise ValueError(f"need 1 ≤ k ≤ m, got k={k}, m={m}")
        n = min(len(s.dirs) for s in subjects)
        if m > n - 1:
            raise ValueError(f"m={m} nearest lights asked for, but a subject has only {n} captured lights")
        self.subjects, self.batch, self.k, self.m = subjects, batch, k, m
        self.heldout_queries, self.flip, self.jitter = heldout_queries, flip, exposure_jitter
        self.rng = np.random.default_rng(seed)

    def draw(self) -> dict:
        rng = self.rng
        s = self.subjects[int(rng.integers(len(self.subjects)))]
        if len(s.heldout) and rng.random() < self.heldout_queries:
            j = int(rng.integers(len(s.heldout)))
            q, target, exclude = s.heldout_dirs[j], s.heldout[j], None
        else:
            j = int(rng.integers(len(s.dirs)))
            q, target, exclude = s.dirs[j], s.images[j], j
        active = nearest(s.dirs, q, self.m, exclude=exclude)
        idx = np.sort(rng.choice(active, self.k, replace=False))
        flip = bool(self.flip and rng.random() < 0.5)
        gain = float(np.exp(rng.uniform(-self.jitter, self.jitter))) if self.jitter else 1.0
        x = as_input(s, idx, q, flip, gain)
        x["target"] = image_tensor(target, flip, gain)
        m = s.mask[:, ::-1] if flip else s.mask
        x["mask"] = torch.from_numpy(np.ascontiguousarray(m))[None].float()
        return x

    def sample(self) -> dict:
        items = [self.draw() for _ in range(self.batch)]
        return {key: torch.stack([it[key] for it in items]) for key in items[0]}


def heldout_cases(subjects: list[Subject], k: int, limit_per_subject: int | None = None) -> list[dict]:
    """Every held-out light of every subject with its k nearest captured lights as inputs
    (validation and benchmarks: deterministic)."""
    out = []
    for s in subjects:
        for j in range(len(s.heldout))[:limit_per_subject]:
            idx = nearest(s.dirs, s.heldout_dirs[j], k)
            x = as_input(s, idx, s.heldout_dirs[j])
            x.update(subject=s, index=j, neighbours=idx)
            out.append(x)
    return out
