"""Read budgets: how large an image a reader may decode, checked from the file's header before any
pixel is allocated (a 400-byte EXR can declare 100000×100000 pixels; a 236 KB PNG, 9000×9000).

Two limits, each raised by a global flag or an environment variable:

* pixels per image: ``neurecon --max-pixels N …`` or ``NEURECON_MAX_PIXELS=N``, default 2²⁶ = 67.1 M
  (8192×8192);
* decoded float32 size of all of a file's channels: ``neurecon --max-read-mb N …`` or
  ``NEURECON_MAX_READ_MB=N``, default 8192 MB (an 8192² multi-layer EXR of 25 channels is 6.4 GB).

Every reader (EXR, PFM, PNG/JPEG, and so `neurecon inspect`) calls :func:`check_image_size` with the
size its header declares; an image over a limit is an :class:`ImageTooLargeError` that names the
size and the flag, never a MemoryError or a "corrupt file" after trying to allocate it.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

from ..buffers import BufferError

DEFAULT_MAX_PIXELS = 2**26
DEFAULT_MAX_READ_MB = 8192
ENV_MAX_PIXELS = "NEURECON_MAX_PIXELS"
ENV_MAX_READ_MB = "NEURECON_MAX_READ_MB"

_override: dict[str, int | None] = {"pixels": None, "mb": None}


class ImageTooLargeError(BufferError):
    """A file declares an image larger than the read budget."""


def _from_env(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or not raw.strip():
        return default
    try:
        value = int(float(raw))
    except ValueError:
        raise BufferError(f"{name}={raw!r} is not a number") from None
    if value < 1:
        raise BufferError(f"{name} must be ≥ 1, got {raw!r}")
    return value


def max_pixels() -> int:
    """Pixels one image may have: ``--max-pixels``, else ``NEURECON_MAX_PIXELS``, else 2²⁶."""
    return _override["pixels"] or _from_env(ENV_MAX_PIXELS, DEFAULT_MAX_PIXELS)


def max_read_mb() -> int:
    """MB of float32 one file's channels may decode to: ``--max-read-mb``, else ``NEURECON_MAX_READ_MB``."""
    return _override["mb"] or _from_env(ENV_MAX_READ_MB, DEFAULT_MAX_READ_MB)


@contextmanager
def limits(pixels: int | None = None, read_mb: int | None = None) -> Iterator[None]:
    """Use these limits (None: keep the current one) inside the block (the CLI's global flags)."""
    for name, value in (("pixels", pixels), ("mb", read_mb)):
        if value is not None and value < 1:
            raise BufferError(f"the {'--max-pixels' if name == 'pixels' else '--max-read-mb'} limit must be ≥ 1")
    saved = dict(_override)
    _override.update(pixels=pixels or saved["pixels"], mb=read_mb or saved["mb"])
    try:
        yield
    finally:
        _override.update(saved)


def check_image_size(
    path: str | os.PathLike, width: int, height: int, channels: int = 1, samples: int | None = None
) -> None:
    """Refuse, before decoding, an empty image or one over the pixel or read-size budget
    (`samples`: the values the whole file decodes to, if more than width·height·channels)."""
    name = os.fspath(path)
    if width < 1 or height < 1:
        raise BufferError(f"{name}: the file declares an empty {width}×{height} image")
    pixels = width * height
    limit = max_pixels()
    if pixels > limit:
        raise ImageTooLargeError(
            f"{name}: image too large: {width}×{height} = {pixels / 1e6:.1f} Mpx, over the limit of "
            f"{limit / 1e6:.1f} Mpx; raise it with `neurecon --max-pixels N` or {ENV_MAX_PIXELS}=N"
        )
    samples = max(samples or 0, pixels * max(1, channels))
    mb = samples * 4 / 2**20
    limit_mb = max_read_mb()
    if mb > limit_mb:
        raise ImageTooLargeError(
            f"{name}: image too large: {width}×{height} ({samples / pixels:.0f} channels) decodes to {mb:.0f} MB, "
            f"over the limit of {limit_mb} MB; raise it with `neurecon --max-read-mb N` or {ENV_MAX_READ_MB}=N"
        )


def check_is_file(path: str | os.PathLike, what: str = "image file") -> str:
    """The path as a string; FileNotFoundError if missing, a BufferError for a directory."""
    name = os.fspath(path)
    if not os.path.exists(name):
        raise FileNotFoundError(2, f"no such {what}", name)
    if os.path.isdir(name):
        raise BufferError(f"{name}: is a directory, not an image file")
    return name
