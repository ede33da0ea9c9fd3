"""Super-resolution inference: load an SR model by name or path and upscale whole images in
overlapping tiles (:func:`neurecon.infer.tiler.tile_apply`) that reproduce the untiled result.

For convolution-only networks (EDSR) a halo of one LR pixel per 3×3 conv makes tiled == untiled
up to float rounding; RCAN's channel attention pools over the tile, so its tiles are approximate
(use ``tile=0`` for exact RCAN output).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from ..models import DEFAULTS, load_model
from .tiler import tile_apply


def model_scale(model: nn.Module) -> int:
    s = getattr(model, "scale", None)
    if s is None:
        raise ValueError("not an SR model (no .scale)")
    return int(s)


def model_halo(model: nn.Module) -> int:
    halo = getattr(model, "halo", None)
    if callable(halo):
        return int(halo())
    # generic fallback: one pixel per conv, times its half-width
    return sum(max(m.kernel_size) // 2 * m.dilation[0] for m in model.modules() if isinstance(m, nn.Conv2d))


def load_sr_model(name_or_path: str | None, scale: int) -> tuple[nn.Module, dict, str]:
    """An SR model for `scale` (the shipped default for that scale when no name is given)."""
    defaults = DEFAULTS["sr"]
    if name_or_path is None:
        if scale not in defaults:
            raise ValueError(
                f"no shipped ×{scale} model (shipped: {', '.join(f'×{s}: {n}' for s, n in defaults.items())}); "
                f"train one (neurecon train configs/sr/*.yaml with task.scale={scale}) and pass --model PATH"
            )
        name_or_path = defaults[scale]
    model, ck = load_model(name_or_path)
    s = getattr(model, "scale", None)
    if s is None:
        raise ValueError(f"model '{name_or_path}' is not a super-resolution model")
    if int(s) != int(scale):
        raise ValueError(f"model '{name_or_path}' is a ×{s} model; run with --scale {s} or pick a ×{scale} model")
    return model, ck, str(name_or_path)


@torch.no_grad()
def upscale_tensor(model: nn.Module, x: torch.Tensor, tile: int = 0, halo: int | None = None) -> torch.Tensor:
    """N×C×H×W in → N×C×sH×sW out (not clamped). ``tile`` = LR core size, 0 = one pass."""
    halo = model_halo(model) if halo is None else halo
    return tile_apply(lambda part: model(part["x"]), {"x": x}, tile, halo, scale=model_scale(model))


def upscale_array(model: nn.Module, img: np.ndarray, tile: int = 0) -> np.ndarray:
    """H×W×3 float in [0, 1] → sH×sW×3 float32, clamped to [0, 1]. Integer arrays are refused
    (an 8-bit image is 0–255: divide by 255 first)."""
    if np.asarray(img).dtype.kind in "biu":
        raise ValueError(f"the image is a {np.asarray(img).dtype} array: give float code values in [0, 1] (x / 255)")
    if np.ndim(img) != 3 or np.shape(img)[2] != 3 or 0 in np.shape(img)[:2]:
        raise ValueError(f"the image must be H×W×3 with H, W ≥ 1, got shape {np.shape(img)}")
    x = torch.from_numpy(np.ascontiguousarray(img, dtype=np.float32)).permute(2, 0, 1)[None]
    y = upscale_tensor(model, x, tile).clamp(0, 1)
    return y[0].permute(1, 2, 0).numpy()


# --- blind SR: a degradation-modulated generator driven by a σ given by hand or by its actor -------
ACTOR_CROP = 512  # the actor sees at most this many LR pixels a side (a centre crop): the blur is global


def is_modulated(model: nn.Module) -> bool:
    """A generator that takes a degradation code (``forward(lr, code)``)."""
    return hasattr(model, "code_dim") and hasattr(model, "modulations")


def load_blind_sr(
    generator: str | None, actor: str | None, scale: int, need_actor: bool = True
) -> tuple[nn.Module, nn.Module | None, str, str | None]:
    """(generator, actor or None, their names) for ``neurecon upscale --blind`` / ``--sigma``: the
    shipped pair for the scale unless named."""
    shipped = DEFAULTS.get("blind_sr", {}).get(scale)
    if (generator is None or (need_actor and actor is None)) and shipped is None:
        raise ValueError(
            f"no shipped ×{scale} blind-SR model (shipped: ×{', ×'.join(map(str, DEFAULTS.get('blind_sr', {})))}); "
            "train one (configs/blind_sr/) and pass --model PATH (and --actor PATH)"
        )
    gname = generator or shipped["generator"]
    g, _, gname = load_sr_model(gname, scale)
    if not is_modulated(g):
        raise ValueError(f"model '{gname}' is not degradation-modulated: --blind and --sigma need one (e.g. amnet_x4)")
    a, aname = None, None
    if need_actor:
        aname = actor or shipped["actor"]
        a, _ = load_model(aname)
        if getattr(a, "code_kind", None) != g.code_kind or getattr(a, "code_dim", None) != g.code_dim:
            raise ValueError(f"actor '{aname}' does not estimate the '{g.code_kind}' code that '{gname}' takes")
    return g, a, gname, aname


@torch.no_grad()
def estimate_code(actor: nn.Module, img: np.ndarray, crop: int = ACTOR_CROP) -> list[float]:
    """The actor's degradation code for an H×W×3 image in [0, 1] (its centre ``crop``² at most)."""
    h, w = img.shape[:2]
    y0, x0 = max(0, (h - crop) // 2), max(0, (w - crop) // 2)
    part = np.ascontiguousarray(img[y0 : y0 + crop, x0 : x0 + crop], dtype=np.float32)
    return [float(v) for v in actor(torch.from_numpy(part).permute(2, 0, 1)[None])[0]]


def upscale_blind(generator: nn.Module, img: np.ndarray, code, tile: int = 0) -> np.ndarray:
    """H×W×3 float in [0, 1] → sH×sW×3 with the modulated ``generator`` told ``code`` (σ or a
    kernel code); exactly tiled like any local SR network."""
    from ..nn.blind_sr import WithCode

    code = [float(c) for c in np.atleast_1d(np.asarray(code, dtype=np.float64))]
    if len(code) != int(getattr(generator, "code_dim", len(code))):
        raise ValueError(f"the generator takes a {generator.code_dim}-number code, got {code}")
    return upscale_array(WithCode(generator, code), img, tile)
