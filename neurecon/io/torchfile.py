"""The one place a torch file is read: ``weights_only=True``, so a file can hold tensors and plain
data but cannot run code while it is read; anything else is a one-line :class:`CheckpointError`."""

from __future__ import annotations

import pickle
import re
import warnings
from pathlib import Path

import torch


class CheckpointError(ValueError):
    """A file is not a neurecon checkpoint: a directory, empty, corrupt, or holding Python objects
    other than tensors and plain data (which are refused unread, never executed)."""


def read_torch_file(path: str | Path):
    """A .pt/.pth file's contents (CPU tensors and plain data), loaded with ``weights_only=True``."""
    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(f"no such checkpoint: {p}")
    if p.is_dir():
        raise CheckpointError(f"{p}: is a directory, not a .pt checkpoint")
    size = p.stat().st_size
    if size == 0:
        raise CheckpointError(f"{p}: empty file, not a .pt checkpoint")
    try:
        with warnings.catch_warnings():  # e.g. "Detected pickle protocol 4": a refused file says why below
            warnings.simplefilter("ignore")
            ck = torch.load(p, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as e:
        found = re.search(r"(?:unsupported GLOBAL|Unsupported global: GLOBAL) ([\w.]+)", str(e))
        if found:
            raise CheckpointError(
                f"{p}: refused: the file would create the Python object {found.group(1)}, and a neurecon "
                "checkpoint holds only tensors and plain data (it was not loaded)"
            ) from None
        detail = re.search(r"WeightsUnpickler error:\s*(\S[^\n]*)", str(e))
        why = f"; the restricted unpickler stopped at: {detail.group(1).strip()[:120]}" if detail else ""
        raise CheckpointError(f"{p}: not a .pt checkpoint, or truncated or corrupt ({size} bytes{why})") from None
    except Exception as e:  # RuntimeError (not a zip, a torn archive), EOFError, …
        reason = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise CheckpointError(f"{p}: not a .pt checkpoint, or truncated or corrupt ({size} bytes; {reason})") from None
    return ck
