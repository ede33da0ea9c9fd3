"""The `classic` evaluation family: hand-built Mitsuba 3 scenes that training never touches.

Written apart from the training generator (:mod:`neurecon.render.scenes`, which this module must
not import; tests/test_evalset.py checks it): each scene is one small function of the film size
returning a scene dict for ``mi.load_dict``. The scenes are the kinds of content the issue-24
measurements found the default losing on (thin parts, bump/normal maps, textures, material
previews) plus the classics every denoiser is judged on (Cornell box, caustics, visible emitters,
dark high-variance and environment-lit scenes). Textures are generated in memory at build time
(procedural heights, Pillow text, scikit-image's bundled photographs): nothing is downloaded.
Anything random uses a fixed generator per scene, so a scene dict is a pure function of its size.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from ..mitsuba_backend import integrator, mitsuba

Size = tuple[int, int]
# scikit-image photographs this family textures with: a wider training generator (issue 24) must not
# draw them, or the family stops being unseen content
HELD_OUT_PHOTOS = ("astronaut", "chelsea", "coffee")


# ---------------------------------------------------------------- building blocks
def _T():
    return mitsuba().ScalarTransform4f()


def _rgb(value) -> dict:
    return {"type": "rgb", "value": [float(v) for v in value]}


def _diffuse(value) -> dict:
    return {"type": "diffuse", "reflectance": _rgb(value)}


def _bitmap(img: np.ndarray, raw: bool = False, to_uv=None) -> dict:
    """An in-memory bitmap texture; `raw` keeps values linear (normal and height maps)."""
    mi = mitsuba()
    tex = {"type": "bitmap", "bitmap": mi.Bitmap(np.ascontiguousarray(img, dtype=np.float32)), "raw": raw}
    if to_uv is not None:
        tex["to_uv"] = to_uv
    return tex


def _srgb_to_linear(img_u8: np.ndarray) -> np.ndarray:
    x = img_u8.astype(np.float32) / 255.0
    return np.where(x <= 0.04045, x / 12.92, ((x + 0.055) / 1.055) ** 2.4).astype(np.float32)


def _sensor(size: Size, origin, target, fov: float = 40.0, up=(0, 1, 0)) -> dict:
    w, h = size
    return {
        "type": "perspective",
        "fov": float(fov),
        "fov_axis": "x",
        "to_world": _T().look_at(origin=list(origin), target=list(target), up=list(up)),
        # box filter: a Gaussian one correlates neighbouring pixels' noise (DESIGN.md)
        "film": {"type": "hdrfilm", "width": w, "height": h, "rfilter": {"type": "box"}, "pixel_format": "rgb"},
        "sampler": {"type": "independent", "sample_count": 4},
    }


def _scene(size: Size, sensor: dict, max_depth: int = 8, **shapes) -> dict:
    return {"type": "scene", "integrator": integrator(max_depth), "sensor": sensor, **shapes}


def _rect(T, bsdf: dict | None = None, emitter: dict | None = None) -> dict:
    d: dict = {"type": "rectangle", "to_world": T}
    if bsdf is not None:
        d["bsdf"] = bsdf
    if emitter is not None:
        d["emitter"] = emitter
    return d


def _floor(scale: float, bsdf: dict, y: float = 0.0) -> dict:
    return _rect(_T().translate([0, y, 0]).rotate([1, 0, 0], -90).scale(scale), bsdf)


def _checker(c0, c1, tiles: float) -> dict:
    return {
        "type": "diffuse",
        "reflectance": {
            "type": "checkerboard",
            "color0": _rgb(c0),
            "color1": _rgb(c1),
            "to_uv": _T().scale([tiles, tiles, 1]),
        },
    }


def _area(radiance) -> dict:
    return {"type": "area", "radiance": _rgb(radiance)}


def _box_room(width: float = 2.0, height: float = 2.0, colours=None) -> dict:
    """Five inward-facing walls of a box [-w/2, w/2] × [0, h] × [-w/2, w/2], open towards +z."""
    c = colours or {}
    T, hw = _T(), width / 2
    return {
        "floor": _rect(T.translate([0, 0, 0]).rotate([1, 0, 0], -90).scale(hw), _diffuse(c.get("floor", [0.7] * 3))),
        "ceiling": _rect(
            T.translate([0, height, 0]).rotate([1, 0, 0], 90).scale(hw), _diffuse(c.get("ceiling", [0.7] * 3))
        ),
        "back": _rect(T.translate([0, height / 2, -hw]).scale([hw, height / 2, 1]), _diffuse(c.get("back", [0.7] * 3))),
        "left": _rect(
            T.translate([-hw, height / 2, 0]).rotate([0, 1, 0], 90).scale([hw, height / 2, 1]),
            _diffuse(c.get("left", [0.7] * 3)),
        ),
        "right": _rect(
            T.translate([hw, height / 2, 0]).rotate([0, 1, 0], -90).scale([hw, height / 2, 1]),
            _diffuse(c.get("right", [0.7] * 3)),
        ),
    }


# ---------------------------------------------------------------- procedural textures
def _height_to_normalmap(height: np.ndarray, strength: float) -> np.ndarray:
    """Tangent-space normal map (encoded in [0, 1] as Mitsuba's `normalmap` expects) of a height field."""
    gy, gx = np.gradient(height.astype(np.float64))
    n = np.stack([-gx * strength, -gy * strength, np.ones_like(gx)], -1)
    n /= np.linalg.norm(n, axis=-1, keepdims=True)
    return (n * 0.5 + 0.5).astype(np.float32)


def _brick_height(n: int = 256, rows: int = 8, cols: int = 4, mortar: float = 0.06) -> np.ndarray:
    """Bricks in running bond: 1 on a brick, sloping to 0 in the mortar."""
    y, x = np.mgrid[0:n, 0:n] / n
    r = y * rows
    row = np.floor(r)
    c = x * cols + 0.5 * (row % 2)
    fy, fx = r - row, c - np.floor(c)
    d = np.minimum(np.minimum(fy, 1 - fy) / rows, np.minimum(fx, 1 - fx) / cols)
    return np.clip(d / (mortar / rows), 0, 1)


def _ripple_height(n: int = 256) -> np.ndarray:
    """Concentric ripples plus a fine cross-hatch: both large and pixel-scale bump detail."""
    y, x = (np.mgrid[0:n, 0:n] / n - 0.5) * 2
    r = np.hypot(x, y)
    return (0.6 * np.sin(40 * r) + 0.25 * np.sin(30 * x) * np.sin(30 * y)).astype(np.float32) * 0.5 + 0.5


def _text_image(lines: list[str], n: int = 512) -> np.ndarray:
    """Black text on a cream card, rendered with Pillow (its built-in font: no font files needed)."""
    from PIL import Image, ImageDraw, ImageFont

    img = Image.new("RGB", (n, n), (235, 225, 200))
    draw = ImageDraw.Draw(img)
    y = 12
    for i, line in enumerate(lines):
        size = 64 if i == 0 else 30
        try:
            font = ImageFont.load_default(size=size)
        except TypeError:  # Pillow < 10.1: a fixed bitmap font
            font = ImageFont.load_default()
        draw.text((14, y), line, fill=(20, 20, 30) if i else (150, 20, 20), font=font)
        y += size + 12
    return _srgb_to_linear(np.asarray(img))


def _photo(name: str) -> np.ndarray:
    """One of scikit-image's bundled RGB photographs (one of HELD_OUT_PHOTOS), linearised."""
    import skimage.data

    if name not in HELD_OUT_PHOTOS:
        raise ValueError(f"photo '{name}' is not in HELD_OUT_PHOTOS {HELD_OUT_PHOTOS}: add it there first")

    img = getattr(skimage.data, name)()
    if img.ndim == 2:
        img = np.repeat(img[..., None], 3, -1)
    return _srgb_to_linear(img[..., :3])


def _sky(n: int = 128, sun_dir=(0.4, 0.5, -0.6), sun_power: float = 400.0) -> np.ndarray:
    """A lat-long sky: zenith-to-horizon gradient, dark ground, a small bright sun."""
    h, w = n, 2 * n
    theta = (np.arange(h) + 0.5) / h * np.pi
    phi = (np.arange(w) + 0.5) / w * 2 * np.pi
    th, ph = np.meshgrid(theta, phi, indexing="ij")
    # directions with y up (Mitsuba's envmap convention); the sun's exact azimuth does not matter here
    d = np.stack([np.sin(th) * np.cos(ph), np.cos(th), np.sin(th) * np.sin(ph)], -1)
    up = np.clip(d[..., 1], 0, 1)[..., None]
    sky = np.array([0.9, 0.95, 1.0]) * (1 - up) + np.array([0.25, 0.45, 0.95]) * up
    sky = np.where(d[..., 1:2] < 0, np.array([0.12, 0.1, 0.08]), sky)
    s = np.asarray(sun_dir, float)
    s /= np.linalg.norm(s)
    cos = np.clip(d @ s, -1, 1)
    sky = sky + (np.exp(-((np.arccos(cos) / 0.035) ** 2)) * sun_power)[..., None] * np.array([1.0, 0.9, 0.75])
    return sky.astype(np.float32)


# ---------------------------------------------------------------- the scenes
def cornell_box(size: Size) -> dict:
    """The Cornell box: red and green side walls, a ceiling light, a tall and a short block."""
    T = _T()
    room = _box_room(2.0, 2.0, {"left": [0.63, 0.065, 0.05], "right": [0.14, 0.45, 0.091]})
    return _scene(
        size,
        _sensor(size, [0, 1, 3.9], [0, 1, 0], fov=39),
        **room,
        light=_rect(
            T.translate([0, 1.99, 0]).rotate([1, 0, 0], 90).scale(0.25), _diffuse([0, 0, 0]), _area([17, 12, 4])
        ),
        tall=_cube(T.translate([-0.33, 0.6, -0.3]).rotate([0, 1, 0], 18).scale([0.3, 0.6, 0.3]), [0.72, 0.7, 0.68]),
        short=_cube(T.translate([0.35, 0.3, 0.3]).rotate([0, 1, 0], -17).scale(0.3), [0.72, 0.7, 0.68]),
    )


def _cube(T, colour, bsdf: dict | None = None) -> dict:
    return {"type": "cube", "to_world": T, "bsdf": bsdf or _diffuse(colour)}


def material_preview(size: Size) -> dict:
    """A material-preview row on a checker plane: rough gold, rough blue plastic, smooth copper."""
    T = _T()
    return _scene(
        size,
        _sensor(size, [0, 1.6, 5.5], [0, 0.6, 0], fov=42),
        floor=_floor(20, _checker([0.8] * 3, [0.1] * 3, 40)),
        gold={
            "type": "sphere",
            "center": [-1.3, 0.6, 0],
            "radius": 0.6,
            "bsdf": {"type": "roughconductor", "material": "Au", "alpha": 0.18},
        },
        plastic={
            "type": "sphere",
            "center": [0, 0.6, 0],
            "radius": 0.6,
            "bsdf": {"type": "roughplastic", "alpha": 0.12, "diffuse_reflectance": _rgb([0.05, 0.15, 0.6])},
        },
        copper={
            "type": "sphere",
            "center": [1.3, 0.6, 0],
            "radius": 0.6,
            "bsdf": {"type": "conductor", "material": "Cu"},
        },
        key=_rect(T.translate([2.5, 4, 3]).rotate([1, 0, 0], 120).scale(0.8), None, _area([12, 12, 11])),
        fill={"type": "constant", "radiance": _rgb([0.15, 0.17, 0.2])},
    )


def window_interior(size: Size) -> dict:
    """A closed room lit only through a window in its side wall: sun and sky outside, light arrives
    through the opening and bounces (the indirect-light-heavy interior renderers struggle with)."""
    T = _T()
    W, H = 4.0, 2.6  # room width (x and z extent) and height
    hw = W / 2
    room = _box_room(W, H, {"floor": [0.55, 0.4, 0.28], "back": [0.8, 0.78, 0.72], "left": [0.75, 0.75, 0.7]})
    del room["right"]
    # the right wall with a window hole: four panels around y ∈ [0.9, 2.0], z ∈ [-0.9, 0.5]
    y0, y1, z0, z1 = 0.9, 2.0, -0.9, 0.5
    wall = _diffuse([0.78, 0.78, 0.74])

    def panel(zc, yc, zh, yh):
        return _rect(T.translate([hw, yc, zc]).rotate([0, 1, 0], -90).scale([zh, yh, 1]), wall)

    room["wall_below"] = panel(0, y0 / 2, hw, y0 / 2)
    room["wall_above"] = panel(0, (y1 + H) / 2, hw, (H - y1) / 2)
    room["wall_back"] = panel((-hw + z0) / 2, (y0 + y1) / 2, (z0 + hw) / 2, (y1 - y0) / 2)
    room["wall_front"] = panel((z1 + hw) / 2, (y0 + y1) / 2, (hw - z1) / 2, (y1 - y0) / 2)
    # the front wall (behind the camera) closes the room: only the window lets light in
    room["front"] = _rect(T.translate([0, H / 2, hw]).rotate([0, 1, 0], 180).scale([hw, H / 2, 1]), wall)
    return _scene(
        size,
        _sensor(size, [-1.2, 1.3, 1.9], [0.6, 0.9, -0.8], fov=70),
        max_depth=10,
        **room,
        table=_cube(T.translate([0.2, 0.4, -0.7]).scale([0.5, 0.4, 0.35]), [0.35, 0.22, 0.12]),
        ball={"type": "sphere", "center": [0.1, 1.0, -0.7], "radius": 0.2, "bsdf": _diffuse([0.7, 0.1, 0.1])},
        sun={"type": "directional", "direction": [-0.8, -0.5, -0.2], "irradiance": _rgb([9, 8.5, 7.5])},
        sky={"type": "constant", "radiance": _rgb([0.5, 0.6, 0.8])},
    )


def wire_grid(size: Size) -> dict:
    """Thin geometry: a lattice of thin metal wires (cylinders) in front of a lit wall and floor."""
    T = _T()
    shapes: dict = {
        "floor": _floor(10, _diffuse([0.6, 0.6, 0.6])),
        "wall": _rect(T.translate([0, 2, -1.5]).scale([5, 2, 1]), _diffuse([0.75, 0.55, 0.4])),
    }
    wire = {"type": "roughconductor", "material": "Al", "alpha": 0.25}
    r = 0.012
    for i, x in enumerate(np.linspace(-1.6, 1.6, 17)):
        shapes[f"v{i}"] = {
            "type": "cylinder",
            "p0": [float(x), 0, 0],
            "p1": [float(x), 2.4, 0],
            "radius": r,
            "bsdf": wire,
        }
    for j, y in enumerate(np.linspace(0.15, 2.3, 12)):
        shapes[f"h{j}"] = {
            "type": "cylinder",
            "p0": [-1.7, float(y), 0.03],
            "p1": [1.7, float(y), 0.03],
            "radius": r,
            "bsdf": wire,
        }
    shapes["light"] = _rect(T.translate([1.5, 3.5, 2.5]).rotate([1, 0, 0], 120).scale(0.6), None, _area([25, 24, 22]))
    shapes["fill"] = {"type": "constant", "radiance": _rgb([0.08, 0.09, 0.1])}
    return _scene(size, _sensor(size, [0.4, 1.3, 3.6], [0, 1.1, 0], fov=50), **shapes)


def foliage_cards(size: Size) -> dict:
    """Foliage-like thin cards: 300 small leaf rectangles (no alpha) around three stems, in sunlight."""
    T = _T()
    rng = np.random.default_rng(24_001)
    shapes: dict = {"ground": _floor(15, _diffuse([0.35, 0.3, 0.22]))}
    greens = [[0.08, 0.3, 0.05], [0.15, 0.4, 0.08], [0.05, 0.22, 0.08], [0.25, 0.45, 0.1]]
    leaf = 0
    for b, bx in enumerate((-1.1, 0.0, 1.1)):
        shapes[f"stem{b}"] = {
            "type": "cylinder",
            "p0": [bx, 0, 0],
            "p1": [bx, 1.6, 0],
            "radius": 0.03,
            "bsdf": _diffuse([0.25, 0.15, 0.08]),
        }
        for _ in range(100):
            c = np.array([bx, 1.2, 0]) + rng.normal(0, [0.35, 0.35, 0.35])
            axis = rng.normal(size=3)
            shapes[f"leaf{leaf}"] = _rect(
                T.translate(c.tolist())
                .rotate(axis.tolist(), float(rng.uniform(0, 360)))
                .scale([float(rng.uniform(0.02, 0.05)), float(rng.uniform(0.08, 0.15)), 1]),
                {"type": "twosided", "bsdf": _diffuse(greens[leaf % 4])},
            )
            leaf += 1
    shapes["sun"] = {"type": "directional", "direction": [-0.5, -0.8, -0.4], "irradiance": _rgb([4, 3.8, 3.3])}
    shapes["sky"] = {"type": "constant", "radiance": _rgb([0.3, 0.4, 0.6])}
    return _scene(size, _sensor(size, [0, 1.3, 4.2], [0, 1.0, 0], fov=48), **shapes)


def bumpmap_ripples(size: Size) -> dict:
    """A bump-mapped floor (procedural ripples and fine cross-hatch) under a grazing light, with a
    bump-mapped plastic sphere."""
    T = _T()
    height = _ripple_height(256)[..., None]
    floor_bsdf = {
        "type": "bumpmap",
        "arbitrary": _bitmap(height, raw=True, to_uv=_T().scale([3, 3, 1])),
        "scale": 0.6,
        "bsdf": {"type": "roughplastic", "alpha": 0.2, "diffuse_reflectance": _rgb([0.55, 0.45, 0.35])},
    }
    sphere_bsdf = {
        "type": "bumpmap",
        "arbitrary": _bitmap(height, raw=True, to_uv=_T().scale([4, 2, 1])),
        "scale": 0.4,
        "bsdf": {"type": "roughplastic", "alpha": 0.1, "diffuse_reflectance": _rgb([0.1, 0.3, 0.5])},
    }
    return _scene(
        size,
        _sensor(size, [0, 1.5, 3.8], [0, 0.4, 0], fov=45),
        floor=_floor(3, floor_bsdf),
        ball={"type": "sphere", "center": [0.6, 0.5, 0.2], "radius": 0.5, "bsdf": sphere_bsdf},
        light=_rect(T.translate([-4, 1.0, -1]).rotate([0, 1, 0], 80).scale(0.7), None, _area([40, 36, 30])),
        fill={"type": "constant", "radiance": _rgb([0.05, 0.05, 0.06])},
    )


def normalmap_bricks(size: Size) -> dict:
    """A normal-mapped brick wall and floor (tangent-space map computed from a brick height field)
    raked by a spot light."""
    T = _T()
    nmap = _height_to_normalmap(_brick_height(256), strength=40.0)
    brick = {
        "type": "normalmap",
        "normalmap": _bitmap(nmap, raw=True, to_uv=_T().scale([2, 2, 1])),
        "bsdf": {"type": "diffuse", "reflectance": _rgb([0.55, 0.22, 0.15])},
    }
    tiles = {
        "type": "normalmap",
        "normalmap": _bitmap(nmap, raw=True, to_uv=_T().scale([4, 4, 1])),
        "bsdf": {"type": "roughplastic", "alpha": 0.25, "diffuse_reflectance": _rgb([0.4, 0.4, 0.42])},
    }
    return _scene(
        size,
        _sensor(size, [1.2, 1.3, 3.2], [0, 1.0, 0], fov=50),
        wall=_rect(T.translate([0, 1.5, -0.5]).scale([2.5, 1.5, 1]), brick),
        floor=_floor(2.5, tiles),
        spot={
            "type": "spot",
            "to_world": _T().look_at(origin=[-2.2, 2.6, 1.0], target=[0.2, 1.0, -0.5], up=[0, 1, 0]),
            "cutoff_angle": 35.0,
            "intensity": _rgb([30, 28, 24]),
        },
        fill={"type": "constant", "radiance": _rgb([0.04, 0.04, 0.05])},
    )


def text_texture(size: Size) -> dict:
    """Text as texture: a Pillow-rendered page on a tilted card and on a cube, soft overhead light."""
    T = _T()
    page = _text_image(
        [
            "neurecon",
            "The quick brown fox jumps",
            "over the lazy dog. 0123456789",
            "Monte Carlo noise vs",
            "sharp glyph edges: a denoiser",
            "must keep every serif.",
            "ABCDEFGHIJKLMNOPQRSTUVWXYZ",
        ]
    )
    card = {"type": "diffuse", "reflectance": _bitmap(page[::-1].copy())}
    return _scene(
        size,
        _sensor(size, [-0.1, 1.3, 1.5], [-0.05, 0.0, -0.1], fov=50),
        table=_floor(6, _diffuse([0.3, 0.25, 0.2])),
        card=_rect(T.translate([-0.35, 0.01, 0.1]).rotate([0, 1, 0], 12).rotate([1, 0, 0], -90).scale(0.55), card),
        cube=_cube(T.translate([0.75, 0.3, -0.3]).rotate([0, 1, 0], -30).scale(0.3), None, card),
        light=_rect(T.translate([0.5, 3, 1]).rotate([1, 0, 0], 100).scale(0.9), None, _area([6, 6, 6])),
        fill={"type": "constant", "radiance": _rgb([0.1, 0.1, 0.12])},
    )


def photo_texture(size: Size) -> dict:
    """Photographs as textures: scikit-image's astronaut framed on a wall, its coffee cup on a cube,
    the cat on the floor, lit by a window-sized area light."""
    T = _T()

    def tex(name):
        return {"type": "diffuse", "reflectance": _bitmap(_photo(name)[::-1].copy())}

    return _scene(
        size,
        _sensor(size, [0.6, 1.2, 3.4], [0, 0.9, 0], fov=50),
        wall=_rect(T.translate([0, 1.5, -1]).scale([4, 1.5, 1]), _diffuse([0.6, 0.6, 0.58])),
        picture=_rect(T.translate([-0.3, 1.3, -0.99]).scale(0.7), tex("astronaut")),
        floor=_rect(T.rotate([1, 0, 0], -90).scale(2.0), tex("chelsea")),
        cube=_cube(T.translate([0.9, 0.35, 0.2]).rotate([0, 1, 0], 35).scale(0.35), None, tex("coffee")),
        light=_rect(
            T.translate([2.5, 2.2, 1.5]).rotate([0, 1, 0], -120).rotate([1, 0, 0], 20).scale(0.8),
            None,
            _area([10, 10, 9.5]),
        ),
        fill={"type": "constant", "radiance": _rgb([0.05, 0.05, 0.05])},
    )


def glass_caustics(size: Size) -> dict:
    """Glass with caustics: a dielectric sphere and a glass block on a plane under one small light
    (the caustic below them is only reached by light paths through the glass)."""
    T = _T()
    return _scene(
        size,
        _sensor(size, [0, 1.8, 3.6], [0, 0.4, 0], fov=42),
        max_depth=12,
        floor=_floor(6, _diffuse([0.75, 0.75, 0.72])),
        back=_rect(T.translate([0, 2, -2]).scale([6, 2, 1]), _diffuse([0.5, 0.55, 0.6])),
        glass={
            "type": "sphere",
            "center": [-0.45, 0.5, 0],
            "radius": 0.5,
            "bsdf": {"type": "dielectric", "int_ior": 1.5},
        },
        block=_cube(
            T.translate([0.75, 0.35, -0.2]).rotate([0, 1, 0], 30).scale([0.25, 0.35, 0.25]),
            None,
            {"type": "dielectric", "int_ior": 1.6},
        ),
        light={"type": "sphere", "center": [1.0, 3.0, 1.0], "radius": 0.08, "emitter": _area([900, 850, 800])},
    )


def visible_emitters(size: Size) -> dict:
    """Visible light sources: a glowing panel on the wall, three emissive spheres of different colours
    and brightness in frame (sharp bright edges a denoiser must not blur)."""
    T = _T()
    return _scene(
        size,
        _sensor(size, [0, 1.2, 3.5], [0, 1.0, 0], fov=50),
        floor=_floor(5, _diffuse([0.5, 0.5, 0.5])),
        wall=_rect(T.translate([0, 2, -1.2]).scale([5, 2, 1]), _diffuse([0.6, 0.6, 0.6])),
        panel=_rect(T.translate([0, 1.6, -1.18]).scale([0.9, 0.12, 1]), None, _area([20, 20, 18])),
        red={"type": "sphere", "center": [-0.9, 0.25, 0.2], "radius": 0.12, "emitter": _area([30, 3, 2])},
        green={"type": "sphere", "center": [0.0, 0.2, 0.6], "radius": 0.08, "emitter": _area([2, 40, 4])},
        blue={"type": "sphere", "center": [0.9, 0.3, 0.0], "radius": 0.15, "emitter": _area([2, 5, 20])},
        statue=_cube(T.translate([0.3, 0.4, -0.3]).rotate([0, 1, 0], 40).scale([0.2, 0.4, 0.2]), [0.7, 0.7, 0.7]),
    )


def glossy_highlights(size: Size) -> dict:
    """Highlight-heavy glossy scene: low-roughness metal spheres, a glossy floor and small bright lights
    (tiny, very bright reflections: the high-dynamic-range case for relMSE)."""
    shapes: dict = {
        "floor": _floor(8, {"type": "roughplastic", "alpha": 0.05, "diffuse_reflectance": _rgb([0.05, 0.05, 0.06])}),
    }
    mats = ["Ag", "Au", "Cu", "Cr", "Al"]
    for i, x in enumerate(np.linspace(-1.6, 1.6, 5)):
        shapes[f"ball{i}"] = {
            "type": "sphere",
            "center": [float(x), 0.32, float(0.3 * math.sin(i * 1.7))],
            "radius": 0.3,
            "bsdf": {"type": "roughconductor", "material": mats[i], "alpha": 0.02 + 0.03 * i},
        }
    for k, (x, z) in enumerate([(-2, 1), (0.5, 2), (2.5, -0.5)]):
        shapes[f"lamp{k}"] = {
            "type": "sphere",
            "center": [x, 2.2, z],
            "radius": 0.05,
            "emitter": _area([600, 580, 520]),
        }
    shapes["fill"] = {"type": "constant", "radiance": _rgb([0.02, 0.02, 0.025])}
    return _scene(size, _sensor(size, [0, 1.1, 4.0], [0, 0.3, 0], fov=45), **shapes)


def dark_small_light(size: Size) -> dict:
    """A dark room lit by one small light in a far corner, mostly seen indirectly: very high variance."""
    T = _T()
    room = _box_room(6.0, 3.0, {"floor": [0.4, 0.38, 0.35], "back": [0.5, 0.5, 0.5]})
    return _scene(
        size,
        _sensor(size, [1.5, 1.4, 2.9], [-0.5, 0.8, -1.5], fov=60),
        max_depth=10,
        **room,
        front=_rect(T.translate([0, 1.5, 3]).rotate([0, 1, 0], 180).scale([3, 1.5, 1]), _diffuse([0.5] * 3)),
        # a shade hides the bulb from the camera: the room is lit by its bounce off the ceiling corner
        shade=_rect(T.translate([-2.4, 2.55, -2.4]).rotate([1, 0, 0], -90).scale(0.35), _diffuse([0.2] * 3)),
        bulb={"type": "sphere", "center": [-2.4, 2.75, -2.4], "radius": 0.04, "emitter": _area([1500, 1200, 800])},
        chair=_cube(T.translate([0.0, 0.3, -1.0]).rotate([0, 1, 0], 20).scale([0.4, 0.3, 0.4]), [0.6, 0.5, 0.4]),
        ball={"type": "sphere", "center": [1.0, 0.35, -0.3], "radius": 0.35, "bsdf": _diffuse([0.7, 0.7, 0.7])},
    )


def environment_lit(size: Size) -> dict:
    """Environment lighting only: a procedural sky (gradient, dark ground, small sun) lights a
    still life of a sphere, a cube and a cylinder on a pale plane."""
    T = _T()
    return _scene(
        size,
        _sensor(size, [2.5, 1.5, 3.5], [0, 0.4, 0], fov=40),
        floor=_floor(20, _diffuse([0.7, 0.68, 0.62])),
        ball={"type": "sphere", "center": [-0.6, 0.45, 0], "radius": 0.45, "bsdf": _diffuse([0.7, 0.25, 0.2])},
        cube=_cube(T.translate([0.5, 0.35, -0.4]).rotate([0, 1, 0], 25).scale(0.35), [0.25, 0.5, 0.7]),
        can={
            "type": "cylinder",
            "p0": [0.4, 0, 0.6],
            "p1": [0.4, 0.7, 0.6],
            "radius": 0.2,
            "bsdf": {"type": "roughplastic", "alpha": 0.15, "diffuse_reflectance": _rgb([0.8, 0.75, 0.2])},
        },
        env={"type": "envmap", "bitmap": mitsuba().Bitmap(_sky()), "scale": 1.0},
    )


# name -> scene function; the order is the family's (and the contact sheet's) order
SCENES: dict[str, Callable[[Size], dict]] = {
    "cornell_box": cornell_box,
    "material_preview": material_preview,
    "window_interior": window_interior,
    "wire_grid": wire_grid,
    "foliage_cards": foliage_cards,
    "bumpmap_ripples": bumpmap_ripples,
    "normalmap_bricks": normalmap_bricks,
    "text_texture": text_texture,
    "photo_texture": photo_texture,
    "glass_caustics": glass_caustics,
    "visible_emitters": visible_emitters,
    "glossy_highlights": glossy_highlights,
    "dark_small_light": dark_small_light,
    "environment_lit": environment_lit,
}
