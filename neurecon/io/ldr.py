"""8-bit PNG/JPEG I/O and the sRGB/tonemapping helpers that reports and metrics share.

Two readings of an 8-bit file: :func:`read_ldr` decodes to linear radiance (denoising, reports);
:func:`read_srgb8` keeps the stored code values (super-resolution).

Everything inside neurecon is linear HDR; LDR files are sRGB-encoded. Reading decodes to
linear so an LDR input can enter the same pipeline; writing applies exposure, clamps to [0, 1]
and sRGB-encodes, i.e. the plain "display" transform (no filmic curve, so images stay
comparable with the metrics computed on :func:`tonemap_to_ldr`).
"""

from __future__ import annotations

import os
import re
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from ..buffers import BufferError
from .atomic import atomic_output
from .limits import ENV_MAX_PIXELS, ImageTooLargeError, check_image_size, check_is_file, max_pixels

FORMATS = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG"}


def srgb_encode(linear: np.ndarray) -> np.ndarray:
    """Linear → sRGB transfer (IEC 61966-2-1). Values above 1 are extended, negatives stay linear."""
    x = np.asarray(linear, dtype=np.float32)
    curve = 1.055 * np.power(np.maximum(x, 0.0031308), 1 / 2.4) - 0.055
    return np.where(x <= 0.0031308, 12.92 * x, curve).astype(np.float32)


def srgb_decode(encoded: np.ndarray) -> np.ndarray:
    """sRGB → linear, the inverse of :func:`srgb_encode`."""
    x = np.asarray(encoded, dtype=np.float32)
    curve = np.power((np.maximum(x, 0.04045) + 0.055) / 1.055, 2.4)
    return np.where(x <= 0.04045, x / 12.92, curve).astype(np.float32)


def tonemap_to_ldr(img: np.ndarray, exposure: float = 1.0) -> np.ndarray:
    """Display transform: multiply by ``exposure`` (linear scale), clamp to [0, 1], sRGB-encode.

    NaN becomes 0 and +inf becomes 1 so a broken pixel cannot poison a report. Returns float32
    in [0, 1]; :func:`write_ldr` quantises it to 8 bits.
    """
    x = np.nan_to_num(np.asarray(img, dtype=np.float32) * np.float32(exposure), nan=0.0, posinf=1.0, neginf=0.0)
    return srgb_encode(np.clip(x, 0.0, 1.0))


@contextmanager
def open_image(path: str | os.PathLike) -> Iterator[Image.Image]:
    """``Image.open`` with the size its header declares checked against the read budget
    (:mod:`.limits`) before anything is decoded; Pillow's decompression-bomb refusal and its
    errors on broken files become the same one-line :class:`BufferError`s."""
    path = check_is_file(path)
    saved = Image.MAX_IMAGE_PIXELS
    Image.MAX_IMAGE_PIXELS = max_pixels()  # Pillow refuses at twice this; the budget check comes first
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            try:
                im = Image.open(path)
            except Image.DecompressionBombError as e:
                n = re.search(r"\((\d+) pixels\)", str(e))
                size = f"{int(n.group(1)) / 1e6:.1f} Mpx" if n else "its size"
                raise ImageTooLargeError(
                    f"{path}: image too large: {size}, over the limit of {max_pixels() / 1e6:.1f} Mpx; raise it "
                    f"with `neurecon --max-pixels N` or {ENV_MAX_PIXELS}=N"
                ) from None
            except UnidentifiedImageError as e:
                raise BufferError(f"{path}: not an image Pillow can read ({e})") from None
            except Exception as e:  # OSError, SyntaxError, struct.error, … from a broken header
                raise BufferError(f"{path}: cannot read image: {type(e).__name__}: {e}") from None
            with im:
                w, h = im.size
                check_image_size(path, w, h, max(3, len(im.getbands())))
                try:
                    im.load()
                except Image.DecompressionBombError as e:
                    raise ImageTooLargeError(f"{path}: image too large: {e}") from None
                except Exception as e:  # truncated or corrupt pixel data
                    raise BufferError(f"{path}: cannot read image: {type(e).__name__}: {e}") from None
                yield im
    finally:
        Image.MAX_IMAGE_PIXELS = saved


def read_ldr(path: str | os.PathLike) -> np.ndarray:
    """Read a PNG/JPEG as linear H×W×3 float32 (alpha dropped, grey expanded, 16-bit grey kept)."""
    with open_image(path) as im:
        if im.mode in ("I;16", "I;16B", "I;16L", "I"):
            arr = np.asarray(im, dtype=np.float32)[..., None].repeat(3, axis=2) / 65535.0
        else:
            arr = np.asarray(im.convert("RGB"), dtype=np.float32) / 255.0
    return srgb_decode(arr)


def write_ldr(path: str | os.PathLike, img: np.ndarray, exposure: float = 1.0) -> None:
    """Tonemap (:func:`tonemap_to_ldr`) and write H×W, H×W×1 or H×W×3 as 8-bit PNG/JPEG, atomically."""
    path = os.fspath(path)
    fmt = FORMATS.get(os.path.splitext(path)[1].lower())
    if fmt is None:
        raise BufferError(f"{path}: LDR output must be one of {', '.join(FORMATS)}")
    arr = np.asarray(img, dtype=np.float32)
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[..., 0]
    if not (arr.ndim == 2 or (arr.ndim == 3 and arr.shape[2] == 3)):
        raise BufferError(f"{path}: LDR images have 1 or 3 channels, got shape {arr.shape}")
    q = np.round(tonemap_to_ldr(arr, exposure) * 255.0).astype(np.uint8)
    with atomic_output(path) as tmp:
        Image.fromarray(q).save(tmp, format=fmt, **({"quality": 95} if fmt == "JPEG" else {}))


SRGB8_FORMATS = {
    ".png": "PNG",
    ".jpg": "JPEG",
    ".jpeg": "JPEG",
    ".bmp": "BMP",
    ".tif": "TIFF",
    ".tiff": "TIFF",
    ".webp": "WEBP",
}


def read_srgb8(path: str | Path) -> tuple[np.ndarray, np.ndarray | None, bool]:
    """An 8- or 16-bit image's stored sRGB code values, not linearised (as SR models and their
    benchmarks work): (H×W×3 float32 RGB in [0, 1], H×W alpha or None, was_grey)."""
    if not Path(path).exists():
        raise FileNotFoundError(f"input image not found: {path}")
    with open_image(path) as im:
        mode = im.mode
        alpha = None
        if mode in ("I;16", "I;16B", "I;16L", "I"):
            g = np.asarray(im, dtype=np.float32) / 65535.0
            return np.repeat(g[..., None], 3, axis=2), None, True
        if mode in ("RGBA", "LA", "PA") or (mode == "P" and "transparency" in im.info):
            rgba = im.convert("RGBA")
            alpha = np.asarray(rgba, dtype=np.float32)[..., 3] / 255.0
        grey = mode in ("L", "LA", "1")
        rgb = np.asarray(im.convert("RGB"), dtype=np.float32) / 255.0
    return rgb, alpha, grey


def write_srgb8(path: str | Path, rgb: np.ndarray, alpha: np.ndarray | None = None, grey: bool = False) -> None:
    """Code values in [0, 1] as an 8-bit image (grey and alpha as read by :func:`read_srgb8`), atomically."""
    path = Path(path)
    fmt = SRGB8_FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise ValueError(f"{path}: output must be one of {', '.join(SRGB8_FORMATS)}")
    if not path.parent.exists():
        raise FileNotFoundError(f"output folder does not exist: {path.parent}")
    q = np.round(np.clip(rgb, 0, 1) * 255.0).astype(np.uint8)
    if grey:
        g = np.round(np.clip(rgb.mean(axis=2), 0, 1) * 255.0).astype(np.uint8)
        im = Image.fromarray(g, "L")
        if alpha is not None and fmt in ("PNG", "WEBP", "TIFF"):
            im = Image.fromarray(np.dstack([g, np.round(np.clip(alpha, 0, 1) * 255).astype(np.uint8)]), "LA")
    elif alpha is not None and fmt in ("PNG", "WEBP", "TIFF"):
        im = Image.fromarray(np.dstack([q, np.round(np.clip(alpha, 0, 1) * 255).astype(np.uint8)]), "RGBA")
    else:
        im = Image.fromarray(q, "RGB")
    with atomic_output(path) as tmp:
        im.save(tmp, format=fmt, **({"quality": 95} if fmt == "JPEG" else {}))
