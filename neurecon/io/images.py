"""Format-dispatching image and buffer I/O: .exr, .pfm, .png/.jpg/.jpeg by file extension."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ..buffers import BufferError, Buffers
from .exr import ExrError, read_exr_channels, write_exr_channels
from .layouts import buffers_to_channels, channels_to_buffers
from .ldr import FORMATS as LDR_FORMATS
from .ldr import read_ldr, write_ldr
from .pfm import read_pfm, write_pfm

EXR_NAMES = {1: ("Y",), 2: ("R", "G"), 3: ("R", "G", "B"), 4: ("R", "G", "B", "A")}
IMAGE_TYPES = (".exr", ".pfm", *LDR_FORMATS)  # what write_image writes
_RANK = {c: i for i, c in enumerate("RGBAXYZW")}


def _ext(path) -> str:
    return Path(path).suffix.lower()


def _component_order(name: str) -> tuple[str, int, str]:
    layer, _, comp = name.rpartition(".")
    return layer, _RANK.get(comp.upper(), len(_RANK)), comp


def read_array(path: str | os.PathLike) -> np.ndarray:
    """Read one image as H×W×C float32 with C as stored (1–3).

    For EXR that is the first layer in name order (the unnamed ``R,G,B`` layer before any
    ``albedo.R``…), components in R,G,B / X,Y,Z order, at most three (alpha is dropped).
    """
    ext = _ext(path)
    if ext == ".exr":
        channels = read_exr_channels(path)
        if not channels:
            raise ExrError(f"{os.fspath(path)}: EXR has no channels")
        names = sorted(channels, key=_component_order)
        layer = _component_order(names[0])[0]
        names = [n for n in names if _component_order(n)[0] == layer][:3]
        return np.stack([channels[n] for n in names], axis=-1)
    if ext == ".pfm":
        return read_pfm(path)
    if ext in LDR_FORMATS:
        return read_ldr(path)
    raise BufferError(f"{os.fspath(path)}: unsupported image type '{ext}' (.exr, .pfm, .png, .jpg, .jpeg)")


def read_image(path: str | os.PathLike) -> np.ndarray:
    """Read one image as linear H×W×3 float32 (grey repeated, a 2-channel image padded with 0)."""
    arr = read_array(path)
    if arr.shape[2] == 1:
        return np.repeat(arr, 3, axis=2)
    if arr.shape[2] == 2:
        return np.concatenate([arr, np.zeros_like(arr[..., :1])], axis=2)
    return arr


def write_image(path: str | os.PathLike, array: np.ndarray, exposure: float = 1.0, half: bool = False) -> None:
    """Write an H×W(×C) image by extension: EXR (1–4 channels: Y / R,G / R,G,B / R,G,B,A),
    PFM (1 or 3), PNG/JPEG (1 or 3, tonemapped with ``exposure``). ``half`` applies to EXR."""
    arr = np.asarray(array, dtype=np.float32)
    if arr.ndim == 2:
        arr = arr[..., None]
    ext = _ext(path)
    if ext == ".exr":
        if arr.ndim != 3 or arr.shape[2] not in EXR_NAMES:
            raise BufferError(f"{os.fspath(path)}: EXR image needs 1–4 channels, got shape {arr.shape}")
        write_exr_channels(path, {n: arr[..., i] for i, n in enumerate(EXR_NAMES[arr.shape[2]])}, half=half)
    elif ext == ".pfm":
        write_pfm(path, arr)
    elif ext in LDR_FORMATS:
        write_ldr(path, arr, exposure=exposure)
    else:
        raise BufferError(f"{os.fspath(path)}: unsupported image type '{ext}' (.exr, .pfm, .png, .jpg, .jpeg)")


def read_buffers(path: str | os.PathLike, layer: str | None = None) -> Buffers:
    """Read a frame's buffers: a multi-layer EXR via :mod:`.layouts` (Mitsuba, Cycles or plain;
    ``layer`` picks a Cycles view layer), any other image as colour only.

    Values come back as stored; call :meth:`Buffers.sanitize` before feeding a network.
    """
    if _ext(path) != ".exr":
        return Buffers(color=read_image(path))
    channels = read_exr_channels(path)
    try:
        return channels_to_buffers(channels, layer=layer)
    except BufferError as e:
        raise BufferError(f"{os.fspath(path)}: {e}") from None


def write_buffers(path: str | os.PathLike, buffers: Buffers, style: str = "mitsuba", half: bool = False) -> None:
    """Write all planes into one multi-layer EXR with :func:`.layouts.buffers_to_channels` names."""
    if _ext(path) != ".exr":
        raise BufferError(f"{os.fspath(path)}: multi-layer buffers are written as .exr")
    write_exr_channels(path, buffers_to_channels(buffers, style=style), half=half)
