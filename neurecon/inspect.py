"""`neurecon inspect FILE…`: what buffers a file holds, its resolution, value ranges, NaN/Inf.

EXR files are read as multi-layer buffers when their channel names follow a known layout
(Mitsuba, Cycles), else as one image; the raw channel names are listed too.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

from .buffers import BufferError, Buffers


def _oidn_plane(path: Path) -> str:
    """The canonical plane an OIDN-layout file name implies (`x_0004spp.alb.exr` → albedo)."""
    from .io.oidn_layout import FEATURES

    parts = path.name.split(".")
    feature = parts[-2] if len(parts) >= 3 else "hdr"
    return {f: p for p, f in FEATURES.items()}.get(feature, "color")


def _single(path: Path) -> Buffers:
    from .io import read_array

    return Buffers({_oidn_plane(path): read_array(path)})


def inspect_file(path: str) -> dict:
    from .io import detect_layout, read_buffers, read_exr_channels

    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(f"no such file: {path}")
    info: dict = {"file": str(p), "bytes": p.stat().st_size}
    if p.suffix.lower() == ".exr":
        channels = read_exr_channels(p)
        info["channels"] = sorted(channels)
        info["layout"] = detect_layout(channels)
        try:
            buf = read_buffers(p) if info["layout"] != "plain" or _oidn_plane(p) == "color" else None
        except BufferError:
            buf = None
        if buf is None:  # a single-feature file such as an OIDN-layout albedo: show it as that plane
            buf = _single(p)
            info["layout"] += " (single image)"
    else:
        buf = _single(p)
    h, w = buf.shape
    info.update(width=w, height=h, buffers=buf.stats())
    return info


def inspect_paths(paths: list[str], as_json: bool = False, out=sys.stdout) -> int:
    """Print a table per file; returns 1 if any file had NaN/Inf (useful in scripts), 2 on errors."""
    status = 0
    results = []
    for path in paths:
        try:
            info = inspect_file(path)
        except (BufferError, FileNotFoundError) as e:
            print(f"{path}: error: {e}", file=sys.stderr)
            status = 2
            continue
        results.append(info)
        bad = sum(b["nan"] + b["inf"] for b in info["buffers"].values())
        status = max(status, 1 if bad else 0)
        if as_json:
            continue
        print(f"{info['file']}: {info['width']}×{info['height']}"
              + (f", layout {info['layout']}, {len(info['channels'])} channels" if "channels" in info else ""), file=out)
        print(f"  {'buffer':<12}{'ch':>3}{'min':>12}{'max':>12}{'mean':>12}{'NaN':>8}{'Inf':>8}", file=out)
        for name, s in info["buffers"].items():
            print(f"  {name:<12}{s['channels']:>3}{s['min']:>12.4g}{s['max']:>12.4g}{s['mean']:>12.4g}"
                  f"{s['nan']:>8}{s['inf']:>8}", file=out)
    if as_json:
        json.dump(results if len(results) != 1 else results[0], out, indent=1)
        print(file=out)
    return status
