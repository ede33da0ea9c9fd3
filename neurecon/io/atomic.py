"""The one atomic writer: every file neurecon writes appears whole or not at all.

Renders and dataset builds get killed mid-write; a half-written EXR that later matches a
dataset pattern, or a torn checkpoint, is worse than a missing one. Writers therefore write a
hidden temp file next to the target (same filesystem) and ``os.replace`` it into place. The
result gets the mode a plain ``open()`` would give it (0666 less the umask), not mkstemp's 0600.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextmanager
def atomic_output(path: str | os.PathLike, fsync: bool = False) -> Iterator[str]:
    """Yield a temp path to write to; on success move it onto ``path``, on failure delete it."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        yield tmp
        os.chmod(tmp, 0o666 & ~_umask())
        if fsync:
            with open(tmp, "rb") as f:
                os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    with atomic_output(path) as tmp, open(tmp, "wb") as f:
        f.write(data)


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    atomic_write_bytes(path, text.encode())


def atomic_save(obj: Any, path: str | os.PathLike) -> None:
    """``torch.save`` through the atomic writer (checkpoints, packs of tensors)."""
    import torch

    with atomic_output(path) as tmp:
        torch.save(obj, tmp)
