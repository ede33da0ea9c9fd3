"""Timing shared by the speed studies: a random frame (speed does not depend on content), the
median of repeated runs, and interleaved timing of several calls."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

import numpy as np

from ..buffers import Buffers

PLANES = ("color", "albedo", "normal", "color_var", "albedo_var", "normal_var")


def random_frame(size: int, seed: int = 0) -> Buffers:
    """A size×size frame of uniform random planes (colour, albedo, normal and their variances)."""
    rng = np.random.default_rng(seed)
    return Buffers({n: rng.random((size, size, 3), dtype=np.float32) for n in PLANES})


def timed(fn: Callable, repeat: int):
    """(the last result of `fn`, the median seconds of `repeat` calls)."""
    out, times = None, []
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return out, statistics.median(times)


def time_interleaved(
    calls: dict[str, Callable], rounds: int, repeat: int, warmups: int = 2, record: dict | None = None
) -> dict[str, float]:
    """Median seconds of each call after `warmups` warm-ups (and compiles), `repeat` runs per call
    per round, the calls interleaved so background load hits every one alike. `record`, if given,
    receives every timed run's seconds per call."""
    times: dict[str, list[float]] = {k: [] for k in calls}
    for fn in calls.values():
        for _ in range(warmups):
            fn()
    for _ in range(rounds):
        for k, fn in calls.items():
            for _ in range(repeat):
                t = time.perf_counter()
                fn()
                times[k].append(time.perf_counter() - t)
    if record is not None:
        record.update(times)
    return {k: statistics.median(v) for k, v in times.items()}
