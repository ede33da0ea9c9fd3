"""Helpers every study shares: JSON output, a headless pyplot, the replicate-padded box filter and
the window in which a per-pixel score is densest."""

from __future__ import annotations

import json
import platform
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from ..io.atomic import atomic_write_text


def write_json(path: str | Path, obj, **kw) -> Path:
    """`obj` as indented JSON (``indent=1``, the benches' format) at `path`, written atomically;
    the parent folder is created. `kw` goes to :func:`json.dumps` (e.g. ``ensure_ascii=False``)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, json.dumps(obj, indent=1, **kw))
    return path


def write_text(path: str | Path, text: str) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, text)
    return path


def pyplot():
    """matplotlib.pyplot on the non-interactive Agg backend (no display, no GPU)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def box(x: torch.Tensor, k: int) -> torch.Tensor:
    """k×k box mean of an N×C×H×W tensor, replicate-padded so the size is kept (k odd)."""
    return F.avg_pool2d(F.pad(x, (k // 2,) * 4, mode="replicate"), k, stride=1)


def densest_window(score: torch.Tensor, size: int, stride: int = 8) -> tuple[int, int]:
    """Top-left (y, x) of the size×size window, on a `stride` grid, with the largest mean of a
    1×1×H×W score map (the first such window on ties); a window larger than the map is cut to it."""
    size = min(size, *score.shape[-2:])
    pooled = F.avg_pool2d(score, size, stride)[0, 0]
    y, x = np.unravel_index(int(pooled.argmax()), tuple(pooled.shape))
    return int(y) * stride, int(x) * stride


def cpu_model() -> str:
    """The CPU's model name (Linux /proc/cpuinfo; elsewhere platform.processor()), recorded with every
    timing: machines of this kind differ between sessions."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def test_frames(data, spp, limit: int | None = None, render_hint: str = "neurecon render --split test"):
    """(scene, spp, sanitised noisy Buffers, reference colour) for the first `limit` scenes under
    `data` (io.find_frames' layouts), at each level of `spp` the scene has; no scene is an error
    that says how to render them."""
    from ..io import find_frames

    frames = find_frames(data)
    names = sorted(frames)[:limit]
    if not names:
        raise SystemExit(f"no frames under {data}: render them with `{render_hint}`")
    for name in names:
        fs = frames[name]
        ref = fs.read("ref")["color"]
        for level in spp:
            if level not in fs.inputs:
                continue
            buf = fs.read(level)
            buf.sanitize()
            yield name, level, buf, ref
