"""Texture images for the scene grammar, each a pure function of its recipe (a JSON-able dict).

Colour textures are linear RGB in [0, 1] (H×W×3 float32); height fields are H×W float32 in
[0, 1] for `bumpmap`, or turned into tangent-space normal maps for `normalmap`. Photographs come
from scikit-image's bundled files (nothing is downloaded), never the ones the evaluation family
holds out.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

# procedural patterns usable both as colour (two tints blended by the pattern) and as height
PATTERNS = ("noise", "marble", "wood", "voronoi", "bricks", "ripples")
COLOR_TEXTURES = ("constant", "checker", "noise", "marble", "wood", "voronoi", "photo", "text")
# scikit-image's bundled photographs and textures the grammar draws from; the evaluation family's
# HELD_OUT_PHOTOS (astronaut, chelsea, coffee) and the SR benchmark's camera are excluded on purpose
PHOTOS = (
    "brick",
    "grass",
    "gravel",
    "rocket",
    "motorcycle_left",
    "hubble_deep_field",
    "retina",
    "ihc",
    "coins",
    "moon",
    "page",
    "horse",
)
_PHOTO_FILES = {
    "motorcycle_left": "motorcycle_left.png",
    "hubble_deep_field": "hubble_deep_field.jpg",
    "retina": "retina.jpg",
    "ihc": "ihc.png",
    "rocket": "rocket.jpg",
}

N = 256  # side of generated textures: enough for 128–256² renders at typical UV scales


def value_noise(seed: int, n: int = N, octaves: int = 5, base: int = 4) -> np.ndarray:
    """Fractal value noise in [0, 1]: octaves of bilinearly upsampled uniform grids, halving in amplitude."""
    rng = np.random.default_rng(seed)
    img = np.zeros((n, n), np.float64)
    amp, total = 1.0, 0.0
    for o in range(octaves):
        g = base * 2**o
        grid = rng.uniform(0, 1, (g + 1, g + 1))
        x = np.linspace(0, g, n, endpoint=False)
        i0 = np.floor(x).astype(int)
        f = x - i0
        f = f * f * (3 - 2 * f)  # smoothstep: no grid-aligned creases
        rows = grid[i0] * (1 - f)[:, None] + grid[i0 + 1] * f[:, None]
        img += amp * (rows[:, i0] * (1 - f)[None] + rows[:, i0 + 1] * f[None])
        total += amp
        amp *= 0.5
    return (img / total).astype(np.float32)


def _normalise(x: np.ndarray) -> np.ndarray:
    return ((x - x.min()) / (np.ptp(x) + 1e-8)).astype(np.float32)


def pattern(rec: dict, n: int = N) -> np.ndarray:
    """A scalar pattern in [0, 1] from `rec` = {kind, seed, scale, ...}."""
    kind, seed, scale = rec["kind"], rec["seed"], rec.get("scale", 1.0)
    y, x = np.mgrid[0:n, 0:n].astype(np.float64) / n
    if kind == "noise":
        return _normalise(value_noise(seed, n, base=max(2, int(2 * scale))))
    if kind == "marble":
        turb = value_noise(seed, n, base=4)
        return _normalise(0.5 + 0.5 * np.sin((x * scale * 6 + turb * rec.get("turbulence", 4.0)) * np.pi))
    if kind == "wood":
        turb = value_noise(seed, n, base=4)
        r = np.hypot(x - 0.5 + 0.3 * turb, y * 0.2 - 0.5) * scale * 12 + turb * 2
        return _normalise((r - np.floor(r)) ** 2)
    if kind == "voronoi":
        rng = np.random.default_rng(seed)
        pts = rng.uniform(0, 1, (max(4, int(16 * scale)), 2))
        # toroidal distances, so the cells tile across the texture border
        d = np.abs(np.stack([x, y], -1)[:, :, None, :] - pts[None, None])
        d = np.minimum(d, 1 - d)
        dist = np.sort(np.sqrt((d**2).sum(-1)), axis=-1)
        if rec.get("edges", True):
            return _normalise(np.clip((dist[..., 1] - dist[..., 0]) * 20, 0, 1))
        return _normalise(rng.uniform(0, 1, len(pts))[np.argmin(np.sqrt((d**2).sum(-1)), axis=-1)])
    if kind == "bricks":
        rows = max(2, int(8 * scale))
        v = y * rows
        u = x * rows / 2 + 0.5 * (np.floor(v) % 2)
        mortar = rec.get("mortar", 0.08)
        fu, fv = u - np.floor(u), v - np.floor(v)
        edge = np.minimum(np.minimum(fu, 1 - fu) * 2, np.minimum(fv, 1 - fv))
        return _normalise(np.clip(edge / mortar, 0, 1) * (0.85 + 0.15 * value_noise(seed, n, base=16)))
    if kind == "ripples":
        rng = np.random.default_rng(seed)
        cx, cy = rng.uniform(0, 1, 2)
        r = np.hypot(x - cx, y - cy)
        return _normalise(np.sin(r * scale * 60) * np.exp(-r) + 0.3 * np.sin((x + y) * scale * 200))
    raise ValueError(f"unknown pattern '{kind}'; known: {', '.join(PATTERNS)}")


def _srgb_to_linear(img_u8: np.ndarray) -> np.ndarray:
    c = img_u8.astype(np.float32) / 255.0
    return np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4).astype(np.float32)


@lru_cache(maxsize=16)
def _photo_file(name: str) -> np.ndarray:
    import os

    import skimage.data
    from PIL import Image

    if name not in PHOTOS:
        raise ValueError(f"photo '{name}' is not one the grammar may use ({', '.join(PHOTOS)})")
    path = os.path.join(os.path.dirname(skimage.data.__file__), _PHOTO_FILES.get(name, f"{name}.png"))
    img = Image.open(path).convert("RGB")
    img.thumbnail((512, 512))
    return _srgb_to_linear(np.asarray(img))


def photo(rec: dict) -> np.ndarray:
    """A crop of a bundled photograph, optionally desaturated and tinted (so a few photos make many albedos)."""
    img = _photo_file(rec["name"])
    h, w = img.shape[:2]
    rng = np.random.default_rng(rec["seed"])
    side = int(min(h, w) * rng.uniform(0.5, 1.0))
    y0, x0 = int(rng.integers(0, h - side + 1)), int(rng.integers(0, w - side + 1))
    crop = img[y0 : y0 + side, x0 : x0 + side]
    tint = np.asarray(rec.get("tint", [1.0, 1.0, 1.0]), np.float32)
    return np.clip(crop * tint, 0, 1).astype(np.float32)


def text(rec: dict, n: int = N) -> np.ndarray:
    """Lines of random letters and digits in a few sizes (print, labels, signs) on a paper tint."""
    from PIL import Image, ImageDraw, ImageFont

    rng = np.random.default_rng(rec["seed"])
    paper = tuple(int(v) for v in rng.integers(170, 255, 3))
    ink = tuple(int(v) for v in rng.integers(0, 90, 3))
    img = Image.new("RGB", (n, n), paper)
    draw = ImageDraw.Draw(img)
    alphabet = list("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789 .,")
    y = int(rng.integers(2, 12))
    while y < n - 8:
        size = int(rng.choice([9, 12, 16, 24, 36]))
        try:
            font = ImageFont.load_default(size=size)
        except TypeError:  # Pillow < 10.1: one fixed bitmap font
            font = ImageFont.load_default()
        line = "".join(rng.choice(alphabet, int(rng.integers(8, 40))))
        draw.text((int(rng.integers(2, 20)), y), line, fill=ink, font=font)
        y += size + int(rng.integers(2, 10))
    return _srgb_to_linear(np.asarray(img))


def color_image(rec: dict) -> np.ndarray:
    """The RGB image of a colour-texture recipe (every kind but `constant` and `checker`, which
    Mitsuba draws natively)."""
    kind = rec["kind"]
    if kind == "photo":
        return photo(rec)
    if kind == "text":
        return text(rec)
    t = pattern(rec)[..., None]
    c0, c1 = np.asarray(rec["c0"], np.float32), np.asarray(rec["c1"], np.float32)
    return (c0 * (1 - t) + c1 * t).astype(np.float32)


def normal_map(height: np.ndarray, strength: float) -> np.ndarray:
    """Tangent-space normals of a height field, encoded in [0, 1] as Mitsuba's `normalmap` reads them."""
    gy, gx = np.gradient(height.astype(np.float64) * height.shape[0] / 64)
    nrm = np.stack([-gx * strength, -gy * strength, np.ones_like(gx)], -1)
    nrm /= np.linalg.norm(nrm, axis=-1, keepdims=True)
    return (nrm * 0.5 + 0.5).astype(np.float32)
