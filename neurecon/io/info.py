"""What an image file holds (`neurecon inspect`): its buffers, its resolution, value ranges, NaN/Inf.

EXR files are read as multi-layer buffers when their channel names follow a known layout
(Mitsuba, Cycles), else as one image; the raw channel names are listed too.
"""

from __future__ import annotations

from pathlib import Path

from ..buffers import BufferError, Buffers


def _oidn_plane(path: Path) -> str:
    """The canonical plane an OIDN-layout file name implies (`x_0004spp.alb.exr` → albedo)."""
    from .oidn_layout import FEATURES

    parts = path.name.split(".")
    feature = parts[-2] if len(parts) >= 3 else "hdr"
    return {f: p for p, f in FEATURES.items()}.get(feature, "color")


def _single(path: Path) -> Buffers:
    from .images import read_array

    return Buffers({_oidn_plane(path): read_array(path)})


def inspect_file(path: str) -> dict:
    from .exr import read_exr_channels
    from .images import read_buffers
    from .layouts import detect_layout

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
