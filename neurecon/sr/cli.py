"""``neurecon upscale in.png -o out.png --scale 2|3|4 [--model NAME|PATH] [--tile N]``.

Reads 8-bit or 16-bit PNG/JPEG/BMP/TIFF/WebP with Pillow and works on the stored sRGB code values
in [0, 1] (no linearisation, as SR models are trained); writes 8-bit PNG/JPEG/BMP/TIFF/WebP.
Grey inputs are upscaled as RGB and written back as grey; an alpha channel is upscaled with the
MATLAB bicubic (:func:`neurecon.sr.imresize.imresize`). Large images are processed in
overlapping tiles of ``--tile`` LR pixels (0 = whole image) that reproduce the untiled output.
"""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np

OUT_FORMATS = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".bmp": "BMP", ".tif": "TIFF", ".tiff": "TIFF",
               ".webp": "WEBP"}


def read_srgb(path: str | Path) -> tuple[np.ndarray, np.ndarray | None, bool]:
    """(H×W×3 float32 RGB in [0, 1], H×W alpha or None, was_grey)."""
    from PIL import Image, UnidentifiedImageError

    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"input image not found: {path}")
    try:
        with Image.open(path) as im:
            im.load()
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
    except UnidentifiedImageError as e:
        raise ValueError(f"{path}: not an image Pillow can read ({e})") from None
    return rgb, alpha, grey


def write_srgb(path: str | Path, rgb: np.ndarray, alpha: np.ndarray | None = None, grey: bool = False) -> None:
    from PIL import Image

    from ..io._atomic import atomic_output

    path = Path(path)
    fmt = OUT_FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise ValueError(f"{path}: output must be one of {', '.join(OUT_FORMATS)}")
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


def load_sr_model(name_or_path: str | None, scale: int):
    from ..models import load_model
    from .models import DEFAULT_SR  # also registers the SR archs and shipped names

    if name_or_path is None:
        if scale not in DEFAULT_SR:
            raise ValueError(f"no shipped ×{scale} model (shipped: {', '.join(f'×{s}: {n}' for s, n in DEFAULT_SR.items())}); "
                             f"train one (neurecon train configs/sr_*.yaml with task.scale={scale}) and pass --model PATH")
        name_or_path = DEFAULT_SR[scale]
    model, ck = load_model(name_or_path)
    s = getattr(model, "scale", None)
    if s is None:
        raise ValueError(f"model '{name_or_path}' is not a super-resolution model")
    if int(s) != int(scale):
        raise ValueError(f"model '{name_or_path}' is a ×{s} model; run with --scale {s} or pick a ×{scale} model")
    return model, ck, name_or_path


def upscale_image(model, rgb: np.ndarray, alpha: np.ndarray | None = None, tile: int = 256):
    import torch

    from .imresize import imresize
    from .infer import upscale_array

    with torch.inference_mode():
        out = upscale_array(model, rgb, tile=tile)
    a = None
    if alpha is not None:
        a = np.clip(imresize(alpha.astype(np.float64), float(model.scale)), 0, 1)
    return out, a


def upscale_cli(args) -> int:
    if args.tile < 0:
        raise ValueError("--tile must be >= 0 (0 = no tiling)")
    out_path = Path(args.output)
    if out_path.suffix.lower() not in OUT_FORMATS:  # fail before the (slow) inference
        raise ValueError(f"{out_path}: output must be one of {', '.join(OUT_FORMATS)}")
    if not out_path.parent.exists():
        raise FileNotFoundError(f"output folder does not exist: {out_path.parent}")
    rgb, alpha, grey = read_srgb(args.input)
    model, _, name = load_sr_model(args.model, args.scale)
    t0 = time.perf_counter()
    out, a = upscale_image(model, rgb, alpha, args.tile)
    write_srgb(args.output, out, a, grey)
    h, w = rgb.shape[:2]
    print(f"upscaled {args.input} ({w}×{h}) ×{args.scale} with {name} → {args.output} "
          f"({out.shape[1]}×{out.shape[0]}) in {time.perf_counter() - t0:.2f} s")
    return 0
