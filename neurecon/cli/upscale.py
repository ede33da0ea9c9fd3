"""`neurecon upscale in.png -o out.png --scale 2|3|4 [--model NAME|PATH] [--tile N]
[--blind [--actor NAME|PATH] | --sigma S]`.

Reads 8-bit or 16-bit PNG/JPEG/BMP/TIFF/WebP and works on the stored sRGB code values in [0, 1]
(no linearisation, as SR models are trained); writes 8-bit images. Grey inputs are upscaled as
RGB and written back as grey; an alpha channel is upscaled with the MATLAB bicubic. Large images
are processed in overlapping tiles of ``--tile`` LR pixels (0 = whole image) that reproduce the
untiled output.

Blind SR (×4): ``--blind`` estimates the blur of the input with the actor (a degradation estimator,
the shipped ``blind_actor_rl_x4`` unless ``--actor`` names another) and feeds it to a
degradation-modulated generator (the shipped ``amnet_x4`` unless ``--model`` names another);
``--sigma S`` gives the blur σ (HR pixels) by hand instead.
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
    b = u.add_mutually_exclusive_group()
    b.add_argument("--blind", action="store_true", help="estimate the input's blur with the actor (blind SR)")
    b.add_argument("--sigma", type=float, help="the input's blur σ in HR pixels, for a degradation-modulated model")
    u.add_argument("--actor", help="the degradation estimator for --blind (default: the shipped one)")
    u.set_defaults(func=run)


def upscale_image(model, rgb: np.ndarray, alpha: np.ndarray | None = None, tile: int = 256, code=None):
    import torch

    from ..infer.upscale import upscale_array, upscale_blind
    from ..tasks.sr.imresize import imresize

    with torch.inference_mode():
        out = upscale_array(model, rgb, tile=tile) if code is None else upscale_blind(model, rgb, code, tile)
    a = None
    if alpha is not None:
        a = np.clip(imresize(alpha.astype(np.float64), float(model.scale)), 0, 1)
    return out, a


def run(args) -> int:
    """Checked before the work: the output's type and folder (writable), that it is not the input."""
    from ..infer.upscale import estimate_code, is_modulated, load_blind_sr, load_sr_model
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
    sigma, blind = getattr(args, "sigma", None), getattr(args, "blind", False)
    if sigma is not None and not 0 <= sigma <= 10:
        raise ValueError(f"--sigma must be in [0, 10] HR pixels, got {sigma}")
    if getattr(args, "actor", None) and not blind:
        raise ValueError("--actor is used with --blind")
    rgb, alpha, grey = read_srgb8(args.input)
    code, how = None, ""
    if blind or sigma is not None:
        model, actor, name, aname = load_blind_sr(
            args.model, getattr(args, "actor", None), args.scale, need_actor=blind
        )
        if blind:
            assert actor is not None
            code = estimate_code(actor, rgb)
            how = f", blur estimated by {aname}: {', '.join(f'{c:.3g}' for c in code)}"
        else:
            if model.code_kind != "sigma":
                raise ValueError(f"{name} takes a '{model.code_kind}' code, not a σ: use --blind")
            lo, hi = getattr(model, "code_range", (0.0, 10.0))
            if not lo <= sigma <= hi:  # outside it the modulation was never trained: refused, not extrapolated
                raise ValueError(f"--sigma {sigma:g} is outside the σ range {name} was trained on, [{lo:g}, {hi:g}]")
            code, how = [float(sigma)], f", σ = {sigma:g} given"
    else:
        model, _, name = load_sr_model(args.model, args.scale)
        if is_modulated(model):
            raise ValueError(f"{name} is degradation-modulated: pass --blind (estimate the blur) or --sigma S")
    t0 = time.perf_counter()
    out, a = upscale_image(model, rgb, alpha, args.tile, code)
    write_srgb8(args.output, out, a, grey)
    h, w = rgb.shape[:2]
    print(
        f"upscaled {args.input} ({w}×{h}) ×{args.scale} with {name} → {args.output} "
        f"({out.shape[1]}×{out.shape[0]}) in {time.perf_counter() - t0:.2f} s{how}"
    )
    return 0
