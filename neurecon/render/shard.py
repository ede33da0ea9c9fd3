"""A pass's work units (adaptive.bands) spread over processes: a pool of local workers
(``neurecon render --workers N``) and shard files that a render farm merges
(``--shard i/N -o part.npz``, then ``--merge part*.npz -o frame.exr``).

A unit's samples are seeded by (pass seed, unit) alone and every pixel belongs to one unit, so any
number of processes gives bit-identical statistics: pooling is addition into disjoint pixels.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Iterable

import numpy as np

from .adaptive import BAND_SAMPLES, CHANNELS, AdaptiveRenderer, BandStats, SampleStats, bands

_WORKER: AdaptiveRenderer | None = None


def _init_worker(make_scene: Callable, threads: int, band_samples: int) -> None:
    global _WORKER
    import drjit as dr

    from .mitsuba_backend import mitsuba

    mitsuba()
    dr.set_thread_count(threads)
    _WORKER = AdaptiveRenderer(make_scene(), band_samples)


def _render_band(job: tuple[int, np.ndarray, int, int]) -> BandStats:
    assert _WORKER is not None, "worker not initialised"
    return _WORKER.render_band(*job)


class PooledRenderer:
    """AdaptiveRenderer's render_counts / render_uniform with the units of each pass rendered by
    `workers` spawned processes (`threads` Dr.Jit threads each) from a shared queue. `make_scene`
    must pickle (a module-level function or a functools.partial of one): each worker builds its own
    scene; this process loads it too, for its size and its load errors (a failing initializer
    would make the pool respawn workers forever)."""

    def __init__(self, make_scene: Callable, workers: int, threads: int = 1, band_samples: int = BAND_SAMPLES):
        import multiprocessing

        if workers < 1 or threads < 1:
            raise ValueError(f"need ≥ 1 worker and ≥ 1 thread each, got {workers} and {threads}")
        self.local = AdaptiveRenderer(make_scene(), band_samples)
        self.width, self.height = self.local.width, self.local.height
        self.band_samples = band_samples
        self._pool = multiprocessing.get_context("spawn").Pool(
            workers, initializer=_init_worker, initargs=(make_scene, threads, band_samples)
        )

    @property
    def shape(self) -> tuple[int, int]:
        return self.height, self.width

    def render_counts(self, counts, seed: int) -> SampleStats:
        c = self.local._check_counts(counts)
        flat = c.ravel()
        jobs = [(lo, flat[lo:hi], b, seed) for b, (lo, hi) in enumerate(bands(c, self.band_samples))]
        stats = SampleStats(self.height, self.width)
        for band in self._pool.imap_unordered(_render_band, jobs):
            stats.add_band(band)
        return stats

    def render_uniform(self, spp: int, seed: int) -> SampleStats:
        if spp < 1:
            raise ValueError(f"spp must be ≥ 1, got {spp}")
        return self.render_counts(np.full(self.shape, spp, np.int64), seed)

    def close(self) -> None:
        self._pool.close()
        self._pool.join()

    def __enter__(self) -> PooledRenderer:
        return self

    def __exit__(self, *exc) -> None:
        if exc[0] is not None:
            self._pool.terminate()
        self.close()


def pass_digest(counts: np.ndarray, seed: int, band_samples: int) -> str:
    """Names one pass (its counts, seed and units): shards of different passes must not be merged."""
    c = np.ascontiguousarray(counts, np.int64)
    return hashlib.sha256(repr((c.shape, seed, band_samples)).encode() + c.tobytes()).hexdigest()[:16]


def render_shard(
    renderer: AdaptiveRenderer,
    counts,
    seed: int,
    shard: tuple[int, int],
    path: str | os.PathLike,
) -> int:
    """Render the units k ≡ i (mod N) of one pass into `path` (npz: per-unit start, count, sums and
    sums of squares, plus what a merge checks); returns how many units it rendered."""
    i, n = shard
    band_samples = renderer.band_samples
    c = renderer._check_counts(counts)
    flat = c.ravel()
    units = [(b, lo, hi) for b, (lo, hi) in enumerate(bands(c, band_samples)) if b % n == i]
    parts = [renderer.render_band(lo, flat[lo:hi], b, seed) for b, lo, hi in units]
    empty = np.zeros((0, CHANNELS))
    np.savez(
        path,
        height=renderer.height,
        width=renderer.width,
        shard=np.array([i, n]),
        digest=pass_digest(c, seed, band_samples),
        starts=np.array([p.start for p in parts], np.int64),
        lengths=np.array([p.count.size for p in parts], np.int64),
        count=np.concatenate([p.count for p in parts]) if parts else np.zeros(0, np.int64),
        sums=np.concatenate([p.sums for p in parts]) if parts else empty,
        squares=np.concatenate([p.squares for p in parts]) if parts else empty,
    )
    return len(parts)


def merge_shards(paths: Iterable[str | os.PathLike]) -> SampleStats:
    """Pool the shard files of one pass (all N of them, each once) into the frame's statistics."""
    paths = list(paths)
    if not paths:
        raise ValueError("no shard files to merge")
    stats: SampleStats | None = None
    seen: dict[int, str] = {}
    first: tuple | None = None
    for path in paths:
        try:
            z = np.load(path)
            key = (int(z["height"]), int(z["width"]), int(z["shard"][1]), str(z["digest"]))
            i = int(z["shard"][0])
        except (OSError, KeyError, ValueError) as e:
            raise ValueError(f"{path} is not a neurecon render shard ({e})") from None
        if first is None:
            first = key
            stats = SampleStats(key[0], key[1])
        elif key != first:
            raise ValueError(f"{path} is a shard of another pass or frame than {paths[0]}")
        if i in seen:
            raise ValueError(f"shard {i}/{key[2]} given twice ({seen[i]} and {path})")
        seen[i] = str(path)
        assert stats is not None
        ends = np.cumsum(z["lengths"])
        for start, lo, hi in zip(z["starts"], ends - z["lengths"], ends, strict=True):
            stats.add_band(BandStats(int(start), z["count"][lo:hi], z["sums"][lo:hi], z["squares"][lo:hi]))
    assert first is not None and stats is not None
    missing = sorted(set(range(first[2])) - set(seen))
    if missing:
        raise ValueError(f"shards {', '.join(f'{k}/{first[2]}' for k in missing)} are missing")
    return stats
