"""Memory of an inference call, measured rather than guessed.

:func:`peak_tensor_bytes` runs a function under a dispatch mode that sees every tensor an operator
returns and when the last reference to its storage goes away, and reports the largest number of
bytes alive at once: for a network pass on a probe tile this is the peak of its activations, which
scales with the tile's pixels (every activation is N×C×h×w with h·w ∝ the tile's area). What the
operators allocate internally and the allocator's slack are not tensors; :data:`RSS_PER_LIVE`
covers them, measured against the process's peak resident memory (bench/resolution.py, the
`memory` section of its JSON; docs/speed.md).

:func:`rss_mb` / :func:`peak_rss_mb` read the process's resident memory (Linux /proc; elsewhere
`resource`), for the tests and benchmarks that check the budget holds.
"""

from __future__ import annotations

import resource
import sys
import weakref
from collections.abc import Callable
from typing import Any

import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten

# Peak RSS a tile adds over the peak of live tensor bytes its probe measured, as a factor: oneDNN's
# scratch buffers and reorders, softmax temporaries and the C allocator's slack. Measured 1.06–1.17
# for the shipped presets at 0.25–8 Mpix tiles (fp32, this CPU; docs/speed.md): 1.25 keeps the
# budget with a margin.
RSS_PER_LIVE = 1.25


class _LiveBytes(TorchDispatchMode):
    def __init__(self) -> None:
        super().__init__()
        self.live: dict[int, list[int]] = {}  # storage address -> [bytes, live tensors on it]
        self.current = 0
        self.peak = 0

    def _drop(self, ptr: int) -> None:
        entry = self.live.get(ptr)
        if entry is None:
            return
        entry[1] -= 1
        if entry[1] == 0:
            self.current -= entry[0]
            del self.live[ptr]

    def _track(self, t: torch.Tensor) -> None:
        try:
            storage = t.untyped_storage()
        except (RuntimeError, NotImplementedError):  # tensors without storage (e.g. mkldnn)
            return
        ptr = storage.data_ptr()
        if ptr == 0:
            return
        entry = self.live.get(ptr)
        if entry is None:
            self.live[ptr] = [storage.nbytes(), 1]
            self.current += storage.nbytes()
            self.peak = max(self.peak, self.current)
        else:
            entry[1] += 1
        weakref.finalize(t, self._drop, ptr)

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        for t in tree_flatten(out)[0]:
            if isinstance(t, torch.Tensor):
                self._track(t)
        return out


def peak_tensor_bytes(fn: Callable[..., Any], *args, **kwargs) -> tuple[Any, int]:
    """(fn's result, the peak bytes of tensors alive at once that fn's operators created). Tensors
    that existed before the call (inputs, weights) are not counted, views of a storage count once."""
    mode = _LiveBytes()
    with mode:
        result = fn(*args, **kwargs)
    return result, mode.peak


# glibc's mallopt parameter. The C allocator's own default grows its mmap threshold up to 32 MB as
# large blocks are freed, after which the tensors of one tile are carved from a heap that does not
# shrink for the next (2048² in 8 tiles of `fast` peaked 55 % above its plan). Every mapped block is
# page-faulted in afresh, so a low threshold costs time: a 4K frame of `high` in 4 tiles (budget
# 2048 MB) took 31 s at 4 MB, 20–22 s at 16 MB, 19–22 s at 32 MB and 23 s with glibc's default, and
# peaked 1319, 1444, 1606 and 1708 MB over the process (docs/speed.md); at 512 MB a 2048² frame of
# `fast` peaked at 1.21× the budget with 16 MB. So the threshold follows the budget: 1/64 of it,
# within [4, 16] MB. Small frames are better served by the default (a 256² pass takes 10–15 % more
# CPU time with every block mapped), so it is set only once a frame is tiled.
_M_MMAP_THRESHOLD = -3
MMAP_MIN, MMAP_MAX = 4 * 2**20, 16 * 2**20
_threshold_set: int | None = None


def mmap_threshold(budget_bytes: float) -> int:
    """The mmap threshold for tiles planned within `budget_bytes`: 1/64 of it, within [4, 16] MB."""
    return int(min(MMAP_MAX, max(MMAP_MIN, budget_bytes / 64)))


def predictable_heap(budget_bytes: float = 2048 * 2**20) -> bool:
    """Have the C allocator return every block of ≥ mmap_threshold(budget_bytes) to the system when
    it is freed (glibc; elsewhere a no-op returning False), so that tiles after the first reuse
    little that RSS keeps. Process-wide, for the rest of the process (a later call with another
    budget moves the threshold)."""
    global _threshold_set
    threshold = mmap_threshold(budget_bytes)
    if _threshold_set == threshold:
        return True
    if not sys.platform.startswith("linux"):
        return False
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6")
        ok = bool(libc.mallopt(_M_MMAP_THRESHOLD, threshold))
    except (OSError, AttributeError):
        return False
    if ok:
        _threshold_set = threshold
    return ok


def _status_mb(field: str) -> float | None:
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def rss_mb() -> float:
    """The process's resident memory now, MB (Linux; elsewhere its peak)."""
    now = _status_mb("VmRSS")
    return now if now is not None else peak_rss_mb()


def peak_rss_mb() -> float:
    """The process's peak resident memory so far (since reset_peak_rss, where it worked), MB."""
    hwm = _status_mb("VmHWM")
    if hwm is not None:
        return hwm
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 1024


def reset_peak_rss() -> bool:
    """Reset the peak that peak_rss_mb reports to the current RSS (Linux ≥ 4.0: /proc/self/clear_refs);
    False where that is not possible (the peak then includes everything before)."""
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
        return True
    except OSError:
        return False
