"""OpenEXR channel I/O: every channel of a file by its full name, as H×W float32.

Layout interpretation (which channels are colour, albedo, …) lives in :mod:`.layouts`; this
module only moves named 2-D planes to and from disk, and turns the OpenEXR library's terse
failures into an :class:`ExrError` that says which file is broken and how.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

import numpy as np
import OpenEXR

from ..buffers import BufferError
from .atomic import atomic_output

EXR_MAGIC = b"\x76\x2f\x31\x01"


class ExrError(BufferError):
    """An EXR file exists but cannot be read: not an EXR, truncated or corrupt."""


def read_exr_channels(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """Read every channel of every part as ``{full name: H×W float32}``.

    Half and uint channels are converted to float32. In multi-part files a channel whose name
    already appeared in an earlier part is renamed ``<part name>.<channel>``.
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(2, "no such EXR file", path)
    with open(path, "rb") as fh:
        magic = fh.read(4)
    if magic != EXR_MAGIC:
        raise ExrError(f"{path}: not an EXR file (starts with {magic!r}, not the EXR magic number)")
    try:
        exr = OpenEXR.File(path, separate_channels=True)
        if not exr.parts:  # undecodable pixel data only makes the bindings print a warning
            raise ExrError("no readable part")
    except Exception as e:  # the bindings raise RuntimeError, ValueError, UnicodeDecodeError…
        raise ExrError(f"{path}: cannot read EXR: {_diagnose(path, e)}") from e

    out: dict[str, np.ndarray] = {}
    for part in exr.parts:
        for name, ch in part.channels.items():
            if name in out:  # multi-part files must name their parts
                name = f"{part.name()}.{name}"
            out[name] = np.ascontiguousarray(ch.pixels, dtype=np.float32)
    return out


def _diagnose(path: str, err: Exception) -> str:
    """Say whether the header or the pixel data is broken; the bindings only say 'unable to read'."""
    size = os.path.getsize(path)
    try:
        OpenEXR.File(path, header_only=True)
    except Exception:
        return f"header is truncated or corrupt ({size} bytes on disk; {err})"
    return f"header is valid but the pixel data is truncated or corrupt ({size} bytes on disk; {err})"


def write_exr_channels(path: str | os.PathLike, channels: Mapping[str, np.ndarray], half: bool = False) -> None:
    """Write H×W planes as one ZIP-compressed scanline EXR, atomically.

    ``half=True`` stores float16 (values beyond ±65504 become ±inf); the default float32
    round-trips exactly.
    """
    if not channels:
        raise BufferError(f"{os.fspath(path)}: no channels to write")
    dtype = np.float16 if half else np.float32
    # OpenEXR.File replaces the dict's values by Channel objects, so it must get its own dict.
    planes = {name: np.ascontiguousarray(a, dtype=dtype) for name, a in channels.items()}
    shapes = {a.shape for a in planes.values()}
    if len(shapes) != 1 or len(next(iter(shapes))) != 2:
        raise BufferError(
            f"{os.fspath(path)}: channels must all be H×W of one size, got "
            + ", ".join(f"{n} {a.shape}" for n, a in planes.items())
        )
    header = {"compression": OpenEXR.ZIP_COMPRESSION, "type": OpenEXR.scanlineimage}
    with atomic_output(path) as tmp:
        OpenEXR.File(header, planes).write(tmp)
