"""Atomic file replacement shared by every writer.

Renders and dataset builds get killed mid-write; a half-written EXR that later matches a
dataset pattern is worse than a missing one. Writers therefore write a hidden temp file next
to the target (same filesystem) and ``os.replace`` it into place.
"""
from __future__ import annotations

import os
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator


@contextmanager
def atomic_output(path: str | os.PathLike) -> Iterator[str]:
    """Yield a temp path to write to; on success move it onto ``path``, on failure delete it."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        yield tmp
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
