"""Denoising datasets: frames in OIDN's layout → in-memory tensors → training patches.

Patches are drawn partly uniformly and partly by importance (Bako et al. 2017): candidate patches
are scored by their mean relative colour variance plus the reference's local contrast, so that
noisy, detailed regions are seen more often than flat walls. Augmentation: flips, 90° rotations
(world-space normals need no change), and exposure scaling (colour and its diffuse/specular
components × s, their variances × s²), which
keeps the network honest about HDR range.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import torch

from ...buffers import RADIANCE, VARIANCE_OF
from ...io import find_frames
from .frames import REFERENCE, Frame, importance_table, read_scene


def scene_seed(name: str) -> int | None:
    """The seed in a rendered scene's name (`scene000234`, `scene000234_ldsampler`), else None."""
    m = re.match(r"scene(\d+)", name)
    return int(m.group(1)) if m else None


def select_scenes(names, limit: int | None = None, seeds: Sequence[int] | None = None) -> list[str]:
    """The scenes a config trains on: sorted names, only those whose seed lies in
    [seeds[0], seeds[1]) when `seeds` is given, then the first `limit`."""
    names = sorted(names)
    if seeds is not None:
        lo, hi = seeds
        names = [n for n in names if (s := scene_seed(n)) is not None and lo <= s < hi]
    return names[:limit]


def available_memory() -> int | None:
    """Bytes the kernel can still hand out without swapping (Linux MemAvailable), else None."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


RAM_HEADROOM = 0.9  # share of the free RAM a training set may take


def _frame_bytes(frame: Frame) -> int:
    """RAM one loaded frame holds during training: its input planes plus the sampler's
    summed-area table (the reference is shared between a scene's spp levels, so not counted)."""
    return sum(t.nbytes for t in frame.inputs.values()) + importance_table(frame).nbytes


def load_frames(
    root: str | Path,
    spp: Sequence[int] | None,
    buffers: Sequence[str],
    limit: int | None = None,
    progress: bool = False,
    seeds: Sequence[int] | None = None,
    copies: int = 1,
    pack: str | None = None,
    mapped: int = 0,
) -> list[Frame]:
    """Read every (scene, spp) pair below `root` (one split's directory) with the needed buffers,
    for the scenes `select_scenes(limit, seeds)` picks (so a config names the exact scenes).

    `pack` ("fp32" or "bf16", see `packed`) maps the scenes from per-scene pack files, built on
    first use, which the processes on this machine share; None reads them into private memory.

    A set that does not fit in RAM raises MemoryError before loading, rather than swapping for an
    hour: private sets are checked after the first scene (its size times the scenes, times
    `copies`: processes on this machine loading the same set, e.g. DDP ranks), packed ones by the
    packs' size, counted once, plus `mapped`: packs this process already maps (other train
    directories), which the kernel still counts as free.
    """
    from tqdm import tqdm

    root = Path(root)
    sets = find_frames(root)
    if not sets:
        raise FileNotFoundError(f"no frames in OIDN layout found under {root}")
    planes = sorted(set(buffers) | {"color", "albedo"})
    frames: list[Frame] = []
    names = select_scenes(sets, limit, seeds)
    if not names:
        raise FileNotFoundError(
            f"no scenes under {root} with limit {limit}" + (f" and seeds in {list(seeds)}" if seeds is not None else "")
        )
    if pack:
        from .packed import ensure_packs, open_pack, pack_dir

        metas = ensure_packs(sets, names, spp, planes, pack, pack_dir(root), progress)
        _check_fits(
            root,
            sum(m["size"] for m in metas.values()) + mapped,
            len(names),
            1,
            f"packed in {pack}" + (" (plus the packs already mapped)" if mapped else ""),
        )
        for name in names:
            arrays = open_pack(pack_dir(root), name, metas[name])
            frames += [
                Frame(
                    name, s, {p: arrays[f"{s}/{p}"] for p in planes}, arrays["reference"], arrays[f"{s}/table"].numpy()
                )
                for s in metas[name]["key"]["spp"]
            ]
    else:
        for i, name in enumerate(tqdm(names, desc=f"load {root.name}", disable=not progress, unit="scene")):
            frames += read_scene(sets[name], [s for s in sets[name].inputs if not spp or s in spp], planes)
            if i == 0 and len(names) > 1:
                _check_memory(root, frames, len(names), copies)
    if not frames:
        raise FileNotFoundError(f"no noisy frames with spp in {spp} under {root}")
    return frames


def _check_memory(root: Path, first: list[Frame], scenes: int, copies: int) -> None:
    """Raise MemoryError when the remaining scenes (sized like the first) will not fit in RAM."""
    if first:
        per_scene = sum(_frame_bytes(f) for f in first) + first[0].reference.nbytes
        _check_fits(root, per_scene * scenes, scenes, copies, "loaded", already=per_scene * copies)


def _check_fits(root: Path, total: int, scenes: int, copies: int, how: str, already: int = 0) -> None:
    free = available_memory()
    if free is None or total * copies - already <= RAM_HEADROOM * free:
        return
    if how == "loaded":
        need = f"~{total / 2**30:.1f} GiB per process × {copies} process(es)"
        fix = "or pack the set (task.data.pack: bf16), which the processes share"
    else:
        need = f"{total / 2**30:.1f} GiB, shared by the processes"
        fix = "or pack it in bf16" if "fp32" in how else "or free some memory"
    raise MemoryError(
        f"{scenes} scenes from {root}, {how}, need {need}; {free / 2**30:.1f} GiB is free: "
        f"narrow task.data.train_seeds or train_limit, {fix}"
    )


def pack_bytes_of(frames: list[Frame]) -> int:
    """Bytes of the distinct file mappings behind packed frames (one per scene)."""
    storages = {f.reference.untyped_storage().data_ptr(): f.reference.untyped_storage().nbytes() for f in frames}
    return sum(storages.values())


class PatchSampler:
    """Infinite iterator of training batches {buffer: N×C×P×P, "reference": N×3×P×P}."""

    def __init__(
        self,
        frames: list[Frame],
        patch: int = 64,
        batch: int = 8,
        importance: float = 0.5,
        exposure_range: float = 4.0,
        seed: int = 0,
        candidates: int = 16,
    ):
        self.frames, self.patch, self.batch = frames, patch, batch
        self.importance, self.exposure_range, self.candidates = importance, exposure_range, candidates
        self.rng = np.random.default_rng(seed)
        small = [f.name for f in frames if min(f.reference.shape[2:]) < patch]
        if small:
            raise ValueError(f"patch size {patch} is larger than frame(s) {small[:3]}")
        self.tables = [f.table if f.table is not None else importance_table(f) for f in frames]

    def _pick(self, i: int) -> tuple[int, int]:
        H, W = self.frames[i].reference.shape[2:]
        P = self.patch
        if self.rng.random() >= self.importance:
            return int(self.rng.integers(0, H - P + 1)), int(self.rng.integers(0, W - P + 1))
        ys = self.rng.integers(0, H - P + 1, self.candidates)
        xs = self.rng.integers(0, W - P + 1, self.candidates)
        t = self.tables[i]
        score = t[ys + P, xs + P] - t[ys, xs + P] - t[ys + P, xs] + t[ys, xs] + 1e-6
        k = self.rng.choice(self.candidates, p=score / score.sum())
        return int(ys[k]), int(xs[k])

    def sample(self) -> dict[str, torch.Tensor]:
        P = self.patch
        items: dict[str, list[torch.Tensor]] = {}
        for _ in range(self.batch):
            i = int(self.rng.integers(len(self.frames)))
            f = self.frames[i]
            y, x = self._pick(i)
            crop = {k: v[..., y : y + P, x : x + P].float() for k, v in f.inputs.items()}
            crop[REFERENCE] = f.reference[..., y : y + P, x : x + P]
            s = float(np.exp(self.rng.uniform(-1, 1) * np.log(self.exposure_range)))
            rot, flip = int(self.rng.integers(4)), bool(self.rng.integers(2))
            for k, v in crop.items():
                if k in RADIANCE or k == REFERENCE:
                    v = v * s
                elif VARIANCE_OF.get(k) in RADIANCE:
                    v = v * (s * s)
                v = torch.rot90(v, rot, (2, 3))
                if flip:
                    v = torch.flip(v, (3,))
                items.setdefault(k, []).append(v)
        return {k: torch.cat(v, 0).contiguous() for k, v in items.items()}

    def __iter__(self) -> Iterator[dict[str, torch.Tensor]]:
        while True:
            yield self.sample()
