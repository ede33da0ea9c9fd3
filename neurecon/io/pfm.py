"""Portable Float Map I/O, the format ``oidnDenoise`` reads and writes.

Format: ``PF`` (RGB) or ``Pf`` (grey), then width and height, then a scale whose sign gives the
byte order (negative = little-endian; its magnitude is ignored, as OIDN does), then raw float32
rows stored bottom-to-top. Arrays here are top-to-bottom like every other image in neurecon.
"""

from __future__ import annotations

import math
import os
import re

import numpy as np

from ..buffers import BufferError
from .atomic import atomic_output
from .limits import check_image_size, check_is_file

_HEADER = re.compile(rb"(P[Ff])\s+(\d+)\s+(\d+)\s+(\S+)\s")
_HEADER_MAX = 256  # bytes of the file the header is looked for in


class PfmError(BufferError):
    """A PFM file has a malformed header or too little pixel data."""


def read_pfm(path: str | os.PathLike) -> np.ndarray:
    """Read a PFM as H×W×3 (``PF``) or H×W×1 (``Pf``) float32, top row first.

    Checked before the pixels are read: the scale (a finite non-zero number), the size against the
    read budget (:mod:`.limits`) and the file's length. After: the byte order (:func:`_check_byte_order`).
    """
    path = check_is_file(path, "PFM file")
    size = os.path.getsize(path)
    with open(path, "rb") as fh:
        head = fh.read(_HEADER_MAX)
        m = _HEADER.match(head)
        if not m:
            raise PfmError(f"{path}: not a PFM file (header {head[:16]!r})")
        kind, w, h, scale = m.groups()
        try:
            scale = float(scale)
        except ValueError:
            raise PfmError(f"{path}: PFM scale {scale!r} is not a number") from None
        if scale == 0 or not math.isfinite(scale):
            raise PfmError(f"{path}: PFM scale is {scale}, so the byte order is undefined (its sign gives it)")
        c = 3 if kind == b"PF" else 1
        w, h = int(w), int(h)
        check_image_size(path, w, h, c)
        n = w * h * c
        if size - m.end() < 4 * n:
            raise PfmError(f"{path}: PFM {w}×{h}×{c} needs {4 * n} bytes of pixels, file has {size - m.end()}")
        fh.seek(m.end())
        data = fh.read(4 * n)
    arr = np.frombuffer(data, dtype="<f4" if scale < 0 else ">f4", count=n)
    _check_byte_order(path, arr, scale)
    return np.ascontiguousarray(arr.reshape(h, w, c)[::-1], dtype=np.float32)


def _implausible(values: np.ndarray) -> float:
    """The fraction of values no image holds: NaN/Inf, |x| > 1e20, or non-zero |x| < 1e-30."""
    a = np.abs(values.astype(np.float64))
    with np.errstate(invalid="ignore"):
        bad = ~np.isfinite(a) | (a > 1e20) | ((a < 1e-30) & (a != 0))
    return float(bad.mean()) if bad.size else 0.0


def _check_byte_order(path: str, arr: np.ndarray, scale: float) -> None:
    """Refuse a PFM whose scale's sign states the wrong byte order: read in the stated order over
    a quarter of its values (sampled) are NaN/Inf, huge or subnormal, in the other order under 1 %.
    Byte-swapped floats look like that (0.5 swapped is 8.9e-44); rendered images do not."""
    sample = arr[:: max(1, arr.size // 65536)]
    if _implausible(sample) <= 0.25:
        return
    swapped = sample.view(sample.dtype.newbyteorder())
    if _implausible(swapped) < 0.01:
        stated, other = ("little", "big") if scale < 0 else ("big", "little")
        raise PfmError(
            f"{path}: PFM byte order is wrong: its scale {scale:g} says {stated}-endian but the pixels are "
            f"{other}-endian (read as stated, {_implausible(sample):.0%} of them would be NaN, Inf or beyond "
            f"1e20); fix the scale's sign (negative = little-endian)"
        )


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
