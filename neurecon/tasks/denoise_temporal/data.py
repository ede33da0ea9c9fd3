"""Sequence folders (:mod:`neurecon.render.sequence`) → (noisy window, reference centre) samples.

A sequence is read whole into memory (every frame of one spp level: the backbone's input buffers,
the four motion planes, the reference colour). A training sample is a random P×P crop of a window
of 2M+1 slots around a random centre frame (2M+2 slots, the previous centre's window too, when the
temporal loss needs consecutive outputs). Slots beyond the sequence are absent (`present` 0) — the
window is clipped at the ends as at inference — and, to teach one model every window it will see,
some samples shrink the window (a shorter --temporal) or drop the frames ahead (causal mode).

Augmentation, exact for motion vectors: horizontal / vertical flips (the vector's component
negated), transposition (components swapped), time reversal (slot order reversed, `motion` and
`motion_next` swapped) and exposure scaling (colour × s, variance × s²).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ...io import read_buffers

MOTION_PLANES = ("motion", "motion_valid", "motion_next", "motion_next_valid")
VECTOR_PLANES = ("motion", "motion_next")
REVERSED = {
    "motion": "motion_next",
    "motion_valid": "motion_next_valid",
    "motion_next": "motion",
    "motion_next_valid": "motion_valid",
}


@dataclass
class SequenceData:
    name: str
    spp: int
    kind: str
    planes: dict[str, torch.Tensor]  # plane -> F×C×H×W
    reference: torch.Tensor  # F×3×H×W

    @property
    def frames(self) -> int:
        return self.reference.shape[0]


def find_sequences(root: str | Path) -> list[Path]:
    """Finished sequence folders (those with sequence.json) below a split's directory, sorted."""
    root = Path(root)
    return sorted(p.parent for p in root.glob("seq*/sequence.json"))


def frame_files(seq_dir: Path, spp: int | str) -> list[Path]:
    sub = "ref" if spp == "ref" else f"{spp}spp"
    return sorted((seq_dir / sub).glob("frame_*.exr"))


def load_sequences(
    root: str | Path, spp: list[int], buffers: list[str], limit: int | None = None
) -> list[SequenceData]:
    """Every (sequence, spp) pair below `root` with the buffers a source needs plus motion."""
    dirs = find_sequences(root)[:limit]
    if not dirs:
        raise FileNotFoundError(f"no rendered sequences (seq*/sequence.json) under {root}")
    planes = sorted(set(buffers) | {"color"}) + list(MOTION_PLANES)
    out = []
    for d in dirs:
        meta = json.loads((d / "sequence.json").read_text())
        refs = torch.stack([_tensor(read_buffers(f)["color"]) for f in frame_files(d, "ref")])
        for s in spp:
            files = frame_files(d, s)
            if not files:
                continue
            bufs = [read_buffers(f) for f in files]
            for b in bufs:
                b.sanitize()
            stacked = {p: torch.stack([_tensor(b[p]) for b in bufs]) for p in planes}
            out.append(SequenceData(d.name, s, meta.get("kind", "?"), stacked, refs))
    if not out:
        raise FileNotFoundError(f"no sequences with spp in {spp} under {root}")
    return out


def _tensor(a: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(a.transpose(2, 0, 1)))


class WindowSampler:
    """Batches of stacked windows: every plane N×S×C×P×P, `present` N×S, `reference` N×S×3×P×P;
    S = 2M+1, or 2M+2 with `pair` (slot 0 is the frame before the first slot of the centre's
    window: centres at slots M+1 and M)."""

    def __init__(
        self,
        seqs: list[SequenceData],
        radius: int,
        patch: int = 64,
        batch: int = 4,
        pair: bool = False,
        shrink: float = 0.25,
        causal: float = 0.15,
        exposure_range: float = 4.0,
        seed: int = 0,
    ):
        self.seqs, self.radius, self.patch, self.batch, self.pair = seqs, radius, patch, batch, pair
        self.shrink, self.causal, self.exposure_range = shrink, causal, exposure_range
        self.rng = np.random.default_rng(seed)
        small = [s.name for s in seqs if min(s.reference.shape[2:]) < patch]
        if small:
            raise ValueError(f"patch size {patch} is larger than the frames of {small[:3]}")

    def sample(self) -> dict[str, torch.Tensor]:
        items: dict[str, list[torch.Tensor]] = {}
        for _ in range(self.batch):
            for k, v in self._one().items():
                items.setdefault(k, []).append(v)
        return {k: torch.stack(v) for k, v in items.items()}

    def _one(self) -> dict[str, torch.Tensor]:
        rng, M, P = self.rng, self.radius, self.patch
        s = self.seqs[int(rng.integers(len(self.seqs)))]
        F = s.frames
        reverse = bool(rng.integers(2))
        lo = 1 if self.pair and F > 1 else 0  # the previous centre must exist
        c = int(rng.integers(lo, F)) if not reverse else int(rng.integers(0, F - lo))
        step = -1 if reverse else 1  # slot k is frame c + step·(k − centre slot)
        first = -(M + 1) if self.pair else -M
        offsets = list(range(first, M + 1))
        m = int(rng.integers(1, M + 1)) if rng.random() < self.shrink else M
        ahead = 0 if rng.random() < self.causal else m
        idx = [c + step * k for k in offsets]
        # `present` for the centre's window; with `pair` the previous centre's window is the same
        # shifted by one slot, so its reach is judged from both centres (a slot either uses)
        present = []
        for k, t in zip(offsets, idx):
            near = any(-m <= k - cen <= ahead for cen in ((0, -1) if self.pair else (0,)))
            present.append(1.0 if (0 <= t < F and near) else 0.0)
        H, W = s.reference.shape[2:]
        y, x = int(rng.integers(0, H - P + 1)), int(rng.integers(0, W - P + 1))
        safe = [min(max(t, 0), F - 1) for t in idx]
        out = {}
        for name, arr in s.planes.items():
            key = REVERSED.get(name, name) if reverse else name  # the previous frame becomes the next one
            crop = arr[safe, :, y : y + P, x : x + P].clone()
            crop[torch.tensor(present) == 0] = 0
            out[key] = crop
        out["reference"] = s.reference[safe, :, y : y + P, x : x + P].clone()
        out["present"] = torch.tensor(present)
        return self._augment(out)

    def _augment(self, b: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        rng = self.rng
        s = float(np.exp(rng.uniform(-1, 1) * np.log(self.exposure_range)))
        b["color"] = b["color"] * s
        b["reference"] = b["reference"] * s
        if "color_var" in b:
            b["color_var"] = b["color_var"] * (s * s)
        if rng.integers(2):  # transpose: rows ↔ columns, x ↔ y
            for k in list(b):
                if k != "present":
                    b[k] = b[k].transpose(-1, -2)
            for k in VECTOR_PLANES:
                b[k] = b[k].flip(1)
        for axis, comp in ((-1, 0), (-2, 1)):  # flips: columns (x) and rows (y)
            if rng.integers(2):
                for k in list(b):
                    if k != "present":
                        b[k] = b[k].flip(axis)
                for k in VECTOR_PLANES:
                    b[k][:, comp] = -b[k][:, comp]
        return {k: v.contiguous() for k, v in b.items()}
