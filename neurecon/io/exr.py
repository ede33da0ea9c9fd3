"""OpenEXR channel I/O: every channel of a file by its full name, as H×W float32.

Layout interpretation (which channels are colour, albedo, …) lives in :mod:`.layouts`; this
module only moves named 2-D planes to and from disk, and turns the OpenEXR library's terse
failures into an :class:`ExrError` that says which file is broken and how.
"""

from __future__ import annotations

import ctypes
import os
import sys
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager

import numpy as np
import OpenEXR

from ..buffers import BufferError
from .atomic import atomic_output
from .limits import check_image_size, check_is_file

EXR_MAGIC = b"\x76\x2f\x31\x01"


class ExrError(BufferError):
    """An EXR file exists but cannot be read: not an EXR, truncated or corrupt."""


@contextmanager
def c_stdout_to_stderr() -> Iterator[None]:
    """Send what C/C++ code prints on stdout (file descriptor 1) to stderr inside the block: the
    OpenEXR bindings print their warnings there, which would corrupt a program's own stdout (the
    JSON of `neurecon inspect --json`)."""
    try:
        sys.stdout.flush()
        saved = os.dup(1)
    except (OSError, ValueError, AttributeError):  # no usable fd 1 (embedded interpreters)
        yield
        return
    try:
        os.dup2(2, 1)
        yield
    finally:
        _flush_c_stdio()
        os.dup2(saved, 1)
        os.close(saved)


class _Captured:
    text = ""

    def first_line(self) -> str:
        lines = [ln.strip() for ln in self.text.splitlines() if ln.strip()]
        return lines[0][:240] if lines else ""


@contextmanager
def _capture_c_output() -> Iterator[_Captured]:
    """What C/C++ code prints on file descriptors 1 and 2 inside the block, collected instead of
    printed (OpenEXR reports a broken chunk there, over several lines): a read that fails puts
    its first line into the one-line error; one that succeeds passes it on to stderr."""
    got = _Captured()
    try:
        sys.stdout.flush()
        sys.stderr.flush()
        saved = (os.dup(1), os.dup(2))
    except (OSError, ValueError, AttributeError):  # no usable fds (embedded interpreters)
        yield got
        return
    with tempfile.TemporaryFile() as buf:
        ok = False
        try:
            os.dup2(buf.fileno(), 1)
            os.dup2(buf.fileno(), 2)
            yield got
            ok = True
        finally:
            _flush_c_stdio()
            for fd, dup in zip((1, 2), saved):
                os.dup2(dup, fd)
                os.close(dup)
            buf.seek(0)
            got.text = buf.read(1 << 16).decode(errors="replace")
            if ok and got.text.strip():
                sys.stderr.write(got.text)


def _flush_c_stdio() -> None:
    try:
        ctypes.CDLL(None).fflush(None)
    except (OSError, AttributeError):
        pass


def exr_header(path: str | os.PathLike) -> list[tuple[str, int, int, int]]:
    """(part name, width, height, channel count) of every part, from the header alone (nothing of
    the pixel data is read or allocated)."""
    path = check_is_file(path, "EXR file")
    with open(path, "rb") as fh:
        magic = fh.read(4)
    if magic != EXR_MAGIC:
        raise ExrError(f"{path}: not an EXR file (starts with {magic!r}, not the EXR magic number)")
    lib = _Captured()
    try:
        with _capture_c_output() as lib:
            head = OpenEXR.File(path, header_only=True)
        parts = []
        for part in head.parts:
            (x0, y0), (x1, y1) = (np.asarray(v, dtype=np.int64) for v in part.header["dataWindow"])
            parts.append((str(part.name() or ""), int(x1 - x0 + 1), int(y1 - y0 + 1), len(part.header["channels"])))
    except Exception as e:  # the bindings raise RuntimeError, ValueError, UnicodeDecodeError…
        size = os.path.getsize(path)
        why = "; ".join(x for x in (str(e).strip().splitlines()[:1] + [lib.first_line()]) if x)
        raise ExrError(f"{path}: cannot read EXR: header is truncated or corrupt ({size} bytes on disk; {why})") from e
    if not parts:
        raise ExrError(f"{path}: cannot read EXR: the header lists no part")
    return parts


def read_exr_channels(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """Read every channel of every part as ``{full name: H×W float32}``.

    Half and uint channels are converted to float32. In multi-part files a channel whose name
    already appeared in an earlier part is renamed ``<part name>.<channel>``. The size the header
    declares is checked against the read budget (:mod:`.limits`) before any pixel is read.
    """
    parts = exr_header(path)
    path = os.fspath(path)
    for _, w, h, c in parts:
        check_image_size(path, w, h, c)
    if len(parts) > 1:
        _, w, h, _ = max(parts, key=lambda p: p[1] * p[2])
        check_image_size(path, w, h, samples=sum(pw * ph * pc for _, pw, ph, pc in parts))
    lib = _Captured()
    try:
        with _capture_c_output() as lib:
            exr = OpenEXR.File(path, separate_channels=True)
            if not exr.parts:  # undecodable pixel data only makes the bindings print a warning
                raise ExrError("no readable part")
    except Exception as e:  # the bindings raise RuntimeError, ValueError, UnicodeDecodeError…
        size = os.path.getsize(path)
        why = "; ".join(x for x in (str(e).strip().splitlines()[:1] + [lib.first_line()]) if x)
        raise ExrError(
            f"{path}: cannot read EXR: header is valid but the pixel data is truncated or corrupt "
            f"({size} bytes on disk; {why})"
        ) from e

    out: dict[str, np.ndarray] = {}
    for part in exr.parts:
        for name, ch in part.channels.items():
            if name in out:  # multi-part files must name their parts
                name = f"{part.name()}.{name}"
            out[name] = np.ascontiguousarray(ch.pixels, dtype=np.float32)
    return out


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


class ExrRowWriter:
    """An RGB float32 ZIP scanline EXR written band by band, top to bottom, atomically: for images
    whose rows are made in order and should not all be held (neurecon denoise on a frame whose
    output exceeds the memory budget: Denoiser.denoise_buffers(sink=...)). Use as a context
    manager; `writer(rows, y0)` appends rows y0 … y0 + n − 1 (n×W×3) and must continue where the
    last band ended. The file appears only when every row was written and the block ends cleanly.
    (The bindings' incremental writer is their legacy OutputFile API.)"""

    def __init__(self, path: str | os.PathLike, width: int, height: int):
        self.path, self.width, self.height = path, int(width), int(height)
        self.next_row = 0
        self._atomic = atomic_output(path)
        self._file = None

    def __enter__(self) -> ExrRowWriter:
        tmp = self._atomic.__enter__()
        header = OpenEXR.Header(self.width, self.height)  # RGB FLOAT, ZIP, increasing y
        try:
            self._file = OpenEXR.OutputFile(tmp, header)
        except BaseException:
            self._atomic.__exit__(*sys.exc_info())
            raise
        return self

    def __call__(self, rows: np.ndarray, y0: int) -> None:
        if y0 != self.next_row or rows.ndim != 3 or rows.shape[1:] != (self.width, 3):
            raise BufferError(
                f"{os.fspath(self.path)}: expected rows from {self.next_row} of {self.width}×3, got "
                f"{tuple(rows.shape)} from row {y0}"
            )
        assert self._file is not None
        planes = {c: np.ascontiguousarray(rows[..., i], dtype=np.float32).tobytes() for i, c in enumerate("RGB")}
        self._file.writePixels(planes, rows.shape[0])
        self.next_row += rows.shape[0]

    def __exit__(self, kind, value, tb) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
        if kind is None and self.next_row != self.height:
            err = BufferError(f"{os.fspath(self.path)}: {self.next_row} of {self.height} rows were written")
            self._atomic.__exit__(type(err), err, None)
            raise err
        self._atomic.__exit__(kind, value, tb)
