"""Portable Float Map I/O, the format ``oidnDenoise`` reads and writes.

Format: ``PF`` (RGB) or ``Pf`` (grey), then width and height, then a scale whose sign gives the
byte order (negative = little-endian; its magnitude is ignored, as OIDN does), then raw float32
rows stored bottom-to-top. Arrays here are top-to-bottom like every other image in neurecon.
"""

from __future__ import annotations

import os
import re

import numpy as np

from ..buffers import BufferError
from .atomic import atomic_output

_HEADER = re.compile(rb"(P[Ff])\s+(\d+)\s+(\d+)\s+(\S+)\s")


class PfmError(BufferError):
    """A PFM file has a malformed header or too little pixel data."""


def read_pfm(path: str | os.PathLike) -> np.ndarray:
    """Read a PFM as H×W×3 (``PF``) or H×W×1 (``Pf``) float32, top row first."""
    path = os.fspath(path)
    with open(path, "rb") as fh:
        data = fh.read()
    m = _HEADER.match(data)
    if not m:
        raise PfmError(f"{path}: not a PFM file (header {data[:16]!r})")
    kind, w, h, scale = m.groups()
    try:
        scale = float(scale)
    except ValueError:
        raise PfmError(f"{path}: PFM scale {scale!r} is not a number") from None
    if scale == 0:
        raise PfmError(f"{path}: PFM scale is 0, so the byte order is undefined")
    c = 3 if kind == b"PF" else 1
    w, h = int(w), int(h)
    n = w * h * c
    if len(data) - m.end() < 4 * n:
        raise PfmError(f"{path}: PFM {w}×{h}×{c} needs {4 * n} bytes of pixels, file has {len(data) - m.end()}")
    arr = np.frombuffer(data, dtype="<f4" if scale < 0 else ">f4", count=n, offset=m.end())
    return np.ascontiguousarray(arr.reshape(h, w, c)[::-1], dtype=np.float32)


def write_pfm(path: str | os.PathLike, img: np.ndarray) -> None:
    """Write an H×W, H×W×1 (``Pf``) or H×W×3 (``PF``) array as little-endian PFM, atomically."""
    arr = np.asarray(img, dtype=np.float32)
    if arr.ndim == 2:
        arr = arr[..., None]
    if arr.ndim != 3 or arr.shape[2] not in (1, 3):
        raise BufferError(f"{os.fspath(path)}: PFM stores 1 or 3 channels, got shape {arr.shape}")
    h, w, c = arr.shape
    header = b"%s\n%d %d\n-1.0\n" % (b"PF" if c == 3 else b"Pf", w, h)
    with atomic_output(path) as tmp, open(tmp, "wb") as fh:
        fh.write(header)
        fh.write(np.ascontiguousarray(arr[::-1], dtype="<f4").tobytes())
