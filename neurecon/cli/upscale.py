"""`neurecon upscale in.png -o out.png --scale 2|3|4 [--model NAME|PATH] [--tile N]`.

Reads 8-bit or 16-bit PNG/JPEG/BMP/TIFF/WebP and works on the stored sRGB code values in [0, 1]
(no linearisation, as SR models are trained); writes 8-bit images. Grey inputs are upscaled as
RGB and written back as grey; an alpha channel is upscaled with the MATLAB bicubic. Large images
are processed in overlapping tiles of ``--tile`` LR pixels (0 = whole image) that reproduce the
untiled output.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from .common import check_output_dir, same_file


def add_parser(sub) -> None:
    u = sub.add_parser("upscale", help="super-resolve an image")
    u.add_argument("input")
    u.add_argument("-o", "--output", required=True)
    u.add_argument("--scale", type=int, choices=[2, 3, 4], default=2)
    u.add_argument("--model", default=None)
    u.add_argument("--tile", type=int, default=256)
    u.set_defaults(func=run)


def upscale_image(model, rgb: np.ndarray, alpha: np.ndarray | None = None, tile: int = 256):
    import torch

    from ..infer.upscale import upscale_array
    from ..tasks.sr.imresize import imresize

    with torch.inference_mode():
        out = upscale_array(model, rgb, tile=tile)
    a = None
    if alpha is not None:
        a = np.clip(imresize(alpha.astype(np.float64), float(model.scale)), 0, 1)
    return out, a


def run(args) -> int:
    """Checked before the work: the output's type and folder (writable), that it is not the input."""
    from ..infer.upscale import load_sr_model
    from ..io.ldr import SRGB8_FORMATS, read_srgb8, write_srgb8

    if args.tile < 0:
        raise ValueError("--tile must be >= 0 (0 = no tiling)")
    out_path = Path(args.output)
    if out_path.suffix.lower() not in SRGB8_FORMATS:  # fail before the (slow) inference
        raise ValueError(f"{out_path}: output must be one of {', '.join(SRGB8_FORMATS)}")
    if not out_path.parent.exists():
        raise FileNotFoundError(f"output folder does not exist: {out_path.parent}")
    if same_file(out_path, args.input):
        raise ValueError(f"the result would overwrite the input {args.input}; choose another -o")
    check_output_dir(out_path.parent)
    rgb, alpha, grey = read_srgb8(args.input)
    model, _, name = load_sr_model(args.model, args.scale)
    t0 = time.perf_counter()
    out, a = upscale_image(model, rgb, alpha, args.tile)
    write_srgb8(args.output, out, a, grey)
    h, w = rgb.shape[:2]
    print(
        f"upscaled {args.input} ({w}×{h}) ×{args.scale} with {name} → {args.output} "
        f"({out.shape[1]}×{out.shape[0]}) in {time.perf_counter() - t0:.2f} s"
    )
    return 0
