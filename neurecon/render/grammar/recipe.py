"""The scene grammar's productions: a seed → a recipe, a JSON-able tree of choices.

scene    → layout · objects · lights · camera · max_depth
layout   → room | ground | interior_window | studio | tabletop
object   → geometry · material · placement
material → a BSDF kind, whose colour / roughness slots take textures; `bump` and `normalmap`
           wrap an inner material, `blend` mixes two
light    → area | sphere | point | spot | directional | envmap | sunsky, some of them in view
camera   → perspective or thin lens, focal length 15–85°, an aspect ratio

Everything random is drawn here; :mod:`.build` turns a recipe into a Mitsuba scene without any
randomness of its own, so a scene recorded in a dataset's metadata re-renders identically.
"""

from __future__ import annotations

import math

import numpy as np

from .textures import PATTERNS, PHOTOS

LAYOUTS = ("room", "ground", "interior_window", "studio", "tabletop")
GEOMETRIES = (
    "sphere",
    "cube",
    "cylinder",
    "disk",
    "card",
    "lumpy",
    "torus",
    "displaced",
    "assembly",
    "wires",
    "foliage",
    "shell",
)
MATERIALS = (
    "diffuse",
    "plastic",
    "roughplastic",
    "conductor",
    "roughconductor",
    "dielectric",
    "roughdielectric",
    "thindielectric",
    "principled",
    "blend",
    "bump",
    "normalmap",
    "emissive",
)
TEXTURES = ("constant", "checker", "noise", "marble", "wood", "voronoi", "photo", "text")
LIGHTS = ("area", "sphere", "point", "spot", "directional", "envmap", "sunsky")
ASPECTS = (1.0, 4 / 3, 3 / 2, 16 / 9, 3 / 4, 2 / 3)
# thin or open geometry whose back faces are seen: opaque materials on it are made two-sided
THIN = ("disk", "card", "foliage", "shell", "cylinder")
METALS = ("Au", "Cu", "Al", "Ag", "Cr")

_GEOMETRY_WEIGHTS = (3, 2, 1.5, 0.7, 0.7, 1.5, 1, 1, 1.2, 0.8, 0.8, 0.8)
_MATERIAL_WEIGHTS = (3, 1, 2, 1, 2, 1, 0.5, 0.4, 3, 1, 1.5, 1.5, 0.3)
_TEXTURE_WEIGHTS = (3.5, 0.8, 1, 1, 1, 1, 1.6, 0.6)


def _pick(rng, options, weights=None) -> str:
    p = None if weights is None else np.asarray(weights, float) / np.sum(weights)
    return str(options[int(rng.choice(len(options), p=p))])


def _rgb(rng, lo=0.05, hi=0.9) -> list[float]:
    return [float(x) for x in rng.uniform(lo, hi, 3)]


def _f(rng, lo, hi) -> float:
    return float(rng.uniform(lo, hi))


def color_texture(rng, lo=0.05, hi=0.9) -> dict:
    kind = _pick(rng, TEXTURES, _TEXTURE_WEIGHTS)
    if kind == "constant":
        return {"kind": kind, "value": _rgb(rng, lo, hi)}
    rec: dict = {"kind": kind, "seed": int(rng.integers(1 << 31)), "uv_scale": _f(rng, 0.5, 4)}
    if kind == "photo":
        rec["name"] = _pick(rng, PHOTOS)
        rec["tint"] = [float(x) for x in (rng.uniform(0.6, 1.0, 3) if rng.random() < 0.4 else [0.9] * 3)]
        rec["uv_scale"] = _f(rng, 0.7, 2)
    elif kind == "text":
        rec["uv_scale"] = _f(rng, 0.7, 2)
    else:
        rec["c0"], rec["c1"] = _rgb(rng, lo, hi), _rgb(rng, lo, hi)
        if kind != "checker":
            rec["scale"] = _f(rng, 0.5, 2.5)
        else:
            rec["uv_scale"] = _f(rng, 2, 16)
    return rec


def height_texture(rng) -> dict:
    """A height field for `bumpmap` / `normalmap`: one of the procedural patterns."""
    return {
        "kind": _pick(rng, PATTERNS),
        "seed": int(rng.integers(1 << 31)),
        "scale": _f(rng, 0.5, 2.5),
        "uv_scale": _f(rng, 1, 6),
    }


def roughness(rng, lo=0.03, hi=0.6) -> dict:
    """A roughness value, or (a third of the time) a roughness map: a pattern between two values."""
    if rng.random() < 0.66:
        return {"kind": "constant", "value": _f(rng, lo, hi)}
    a, b = sorted(rng.uniform(lo, hi, 2))
    return {
        "kind": _pick(rng, PATTERNS[:4]),
        "seed": int(rng.integers(1 << 31)),
        "scale": _f(rng, 0.5, 2.5),
        "uv_scale": _f(rng, 1, 4),
        "range": [float(a), float(b)],
    }


def material(rng, depth: int = 0, opaque: bool = False) -> dict:
    kinds = [k for k in MATERIALS if not (depth and k in ("blend", "bump", "normalmap", "emissive"))]
    if opaque:
        kinds = [k for k in kinds if "dielectric" not in k]
    weights = [_MATERIAL_WEIGHTS[MATERIALS.index(k)] for k in kinds]
    kind = _pick(rng, kinds, weights)
    if kind == "diffuse":
        return {"kind": kind, "albedo": color_texture(rng)}
    if kind == "plastic":
        return {"kind": kind, "albedo": color_texture(rng), "ior": _f(rng, 1.4, 1.7)}
    if kind == "roughplastic":
        return {"kind": kind, "albedo": color_texture(rng), "alpha": _f(rng, 0.05, 0.5)}
    if kind in ("conductor", "roughconductor"):
        rec = {"kind": kind, "metal": _pick(rng, METALS)}
        if kind == "roughconductor":
            rec["alpha"] = roughness(rng, 0.03, 0.5)
        return rec
    if kind in ("dielectric", "thindielectric"):
        return {"kind": kind, "ior": _f(rng, 1.3, 1.8)}
    if kind == "roughdielectric":
        return {"kind": kind, "ior": _f(rng, 1.3, 1.8), "alpha": _f(rng, 0.05, 0.3)}
    if kind == "principled":
        return {
            "kind": kind,
            "base_color": color_texture(rng),
            "roughness": roughness(rng, 0.05, 0.9),
            "metallic": float(rng.choice([0.0, 0.0, 1.0, _f(rng, 0, 1)])),
            "specular": _f(rng, 0.2, 0.8),
            "clearcoat": float(rng.choice([0.0, 0.0, _f(rng, 0.3, 1)])),
            "sheen": float(rng.choice([0.0, 0.0, _f(rng, 0.2, 1)])),
        }
    if kind == "blend":
        return {
            "kind": kind,
            "a": material(rng, 1, opaque=True),
            "b": material(rng, 1, opaque=True),
            "weight": {
                "kind": _pick(rng, PATTERNS[:4]),
                "seed": int(rng.integers(1 << 31)),
                "scale": _f(rng, 0.5, 2),
                "uv_scale": _f(rng, 0.5, 3),
            },
        }
    if kind in ("bump", "normalmap"):
        return {
            "kind": kind,
            "inner": material(rng, 1, opaque=True),
            "height": height_texture(rng),
            "strength": _f(rng, 0.2, 1.5) if kind == "bump" else _f(rng, 0.5, 4),
        }
    return {"kind": "emissive", "color": _rgb(rng, 0.4, 1.0), "radiance": _f(rng, 1, 30)}


def geometry(rng) -> dict:
    kind = _pick(rng, GEOMETRIES, _GEOMETRY_WEIGHTS)
    rec: dict = {"kind": kind}
    if kind in ("lumpy", "displaced", "assembly", "wires", "foliage", "shell"):
        rec["seed"] = int(rng.integers(1 << 31))
    if kind == "torus":
        rec["minor"] = _f(rng, 0.15, 0.5)
    elif kind == "displaced":
        rec["amount"] = _f(rng, 0.05, 0.3)
    elif kind == "assembly":
        rec["parts"] = int(rng.integers(20, 160))
    elif kind == "wires":
        rec["radius"] = _f(rng, 0.004, 0.03)
    elif kind == "foliage":
        rec["leaves"] = int(rng.integers(80, 400))
    return rec


def _objects(rng, layout: str) -> list[dict]:
    n = int(rng.integers(2, 9))
    spread = 0.9 if layout == "tabletop" else 2.3
    base_y = 0.9 if layout == "tabletop" else 0.0
    out = []
    for _ in range(n):
        geo = geometry(rng)
        s = _f(rng, 0.25, 0.5) if layout == "tabletop" else _f(rng, 0.3, 1.1)
        if geo["kind"] in ("assembly", "wires", "foliage"):
            s *= 1.4
        out.append(
            {
                "geometry": geo,
                "material": material(rng, opaque=geo["kind"] in ("wires", "foliage")),
                "at": [_f(rng, -spread, spread), base_y, _f(rng, -spread, 0.8 * spread)],
                "scale": s,
                "turn": _f(rng, 0, 360),
                "tilt": _f(rng, -30, 30) if geo["kind"] in ("cube", "disk", "card", "torus") else 0.0,
            }
        )
    return out


def environment(rng) -> dict:
    """A procedural HDR environment (sky gradient, a sun or bright blobs, optional window-like panels)."""
    return {
        "kind": "envmap",
        "seed": int(rng.integers(1 << 31)),
        "scale": _f(rng, 0.3, 1.5),
        "turn": _f(rng, 0, 360),
        "panels": int(rng.integers(0, 4)),
    }


def sunsky(rng) -> dict:
    elev, azim = _f(rng, 8, 70), _f(rng, 0, 360)
    e, a = math.radians(elev), math.radians(azim)
    return {
        "kind": "sunsky",
        "sun_direction": [math.cos(e) * math.cos(a), math.sin(e), math.cos(e) * math.sin(a)],
        "turbidity": _f(rng, 2, 8),
        "scale": _f(rng, 0.5, 2),
    }


def _local_light(rng, layout: str, visible: bool) -> dict:
    kind = _pick(rng, ("area", "sphere", "point", "spot"), (3, 1.5, 1, 1))
    hi = 4.8 if layout in ("room", "interior_window", "tabletop") else 6
    pos = [_f(rng, -3, 3), _f(rng, 2.5, hi), _f(rng, -3, 2)]
    if visible:  # in front of the back wall, low enough to be in frame
        pos = [_f(rng, -2.5, 2.5), _f(rng, 1.0, 3.0), _f(rng, -3.5, -2.5)]
    rec = {"kind": kind, "at": pos, "power": _f(rng, 3, 25), "color": _rgb(rng, 0.6, 1.0), "visible": visible}
    if kind == "area":
        rec["size"] = _f(rng, 0.2, 1.2)
        rec["facing"] = "front" if visible else "down"
    elif kind == "sphere":
        rec["radius"] = _f(rng, 0.05, 0.4)
    elif kind == "spot":
        rec["target"] = [_f(rng, -1, 1), 0.0, _f(rng, -1, 1)]
        rec["cutoff"] = _f(rng, 20, 50)
    return rec


def lights(rng, layout: str) -> list[dict]:
    out: list[dict] = []
    if layout == "ground":
        out.append(environment(rng) if rng.random() < 0.55 else sunsky(rng))
        if rng.random() < 0.3:
            out.append(_local_light(rng, layout, False))
    elif layout == "interior_window":
        out.append(sunsky(rng) if rng.random() < 0.6 else environment(rng))
        if rng.random() < 0.3:
            out.append(_local_light(rng, layout, False))
    elif layout == "studio":
        for _ in range(int(rng.integers(1, 4))):
            rec = _local_light(rng, layout, rng.random() < 0.25)
            rec.update(kind="area", size=_f(rng, 0.6, 2.0), facing="target")
            for other_kinds_key in ("radius", "target", "cutoff"):
                rec.pop(other_kinds_key, None)
            out.append(rec)
        if rng.random() < 0.4:
            out.append({**environment(rng), "scale": _f(rng, 0.05, 0.3)})
    else:
        while not out or rng.random() < 0.45:
            out.append(_local_light(rng, layout, rng.random() < 0.15))
        if rng.random() < 0.2:
            out.append(environment(rng))
    if rng.random() < 0.15 and layout != "interior_window":
        e, a = _f(rng, 0.3, 1.2), _f(rng, 0, 2 * math.pi)
        out.append(
            {
                "kind": "directional",
                "direction": [-math.cos(e) * math.cos(a), -math.sin(e), -math.cos(e) * math.sin(a)],
                "irradiance": _f(rng, 1, 6),
                "color": _rgb(rng, 0.7, 1.0),
            }
        )
    return out


def camera(rng, layout: str, objects: list[dict], size: int) -> dict:
    aspect = float(rng.choice(ASPECTS, p=np.array([3, 2, 1.5, 2, 1, 0.5]) / 10))
    height = size
    width = max(64, int(round(size * aspect / 2)) * 2)
    fov = float(np.exp(rng.uniform(np.log(15), np.log(85))))
    centre = np.mean([o["at"] for o in objects], 0)
    target = centre + rng.uniform(-0.4, 0.4, 3) + [0, _f(rng, 0.2, 0.9), 0]
    extent = 1.2 if layout == "tabletop" else _f(rng, 1.0, 3.2)  # half the width seen at the target
    dist = float(np.clip(extent / math.tan(math.radians(fov) / 2), 1.5, 25))
    ang, elev = _f(rng, -0.8, 0.8), _f(rng, 0.05, 0.5)
    d = np.array([math.sin(ang) * math.cos(elev), math.sin(elev), math.cos(ang) * math.cos(elev)])
    origin = target + d * dist
    if layout in ("interior_window", "room", "tabletop"):  # stay inside the walls (the room's front is open)
        origin[0] = np.clip(origin[0], -3.6, 3.6)
        origin[1] = np.clip(origin[1], 0.3, 4.6)
        if layout == "interior_window":
            origin[2] = np.clip(origin[2], -2.0, 3.6)
    rec = {
        "fov": fov,
        "origin": [float(x) for x in origin],
        "target": [float(x) for x in target],
        "film": [width, height],
    }
    if rng.random() < 0.25:
        rec["aperture"] = _f(rng, 0.01, 0.12)
        rec["focus"] = float(np.linalg.norm(origin - target) * rng.uniform(0.8, 1.2))
    return rec


def sample_recipe(seed: int, size: int = 128) -> dict:
    """The recipe of grammar scene `seed` with film height `size` (width by the drawn aspect ratio)."""
    rng = np.random.default_rng([seed, 0x6A4D])  # its own stream: grammar seeds never replay scenes.py's
    layout = _pick(rng, LAYOUTS, (3, 2.5, 1.5, 1.5, 1.5))
    lay: dict = {
        "kind": layout,
        "floor": material(rng, 1, opaque=True)
        if rng.random() < 0.6
        else {"kind": "diffuse", "albedo": {"kind": "constant", "value": _rgb(rng, 0.3, 0.8)}},
    }
    if layout in ("room", "interior_window", "tabletop"):
        lay["walls"] = [
            {
                "kind": "diffuse",
                "albedo": color_texture(rng, 0.2, 0.85)
                if rng.random() < 0.3
                else {"kind": "constant", "value": _rgb(rng, 0.2, 0.85)},
            }
            for _ in range(3)
        ]
        lay["ceiling"] = layout != "room" or rng.random() < 0.6
    if layout == "interior_window":
        lay["window"] = {
            "wall": _pick(rng, ("left", "right", "back")),
            "width": _f(rng, 1.0, 3.0),
            "height": _f(rng, 1.0, 2.5),
            "sill": _f(rng, 0.5, 1.5),
            "sky": _rgb(rng, 0.5, 1.0),
            "radiance": _f(rng, 1, 8),
        }
    if layout == "tabletop":
        lay["table"] = material(rng, 1, opaque=True)
    if layout == "studio":
        lay["backdrop"] = {"kind": "diffuse", "albedo": {"kind": "constant", "value": _rgb(rng, 0.2, 0.9)}}
    objects = _objects(rng, layout)
    depth = int(rng.integers(7, 11)) if layout == "interior_window" else int(rng.integers(4, 9))
    return {
        "grammar": 1,
        "seed": int(seed),
        "layout": lay,
        "objects": objects,
        "lights": lights(rng, layout),
        "camera": camera(rng, layout, objects, size),
        "max_depth": depth,
    }


def kinds_in(recipe: dict) -> dict[str, set[str]]:
    """The layout, geometry, material, texture and light kinds a recipe uses (for coverage checks)."""
    found: dict[str, set[str]] = {
        "layout": {recipe["layout"]["kind"]},
        "geometry": set(),
        "material": set(),
        "texture": set(),
        "light": set(),
    }

    def walk_material(m: dict) -> None:
        found["material"].add(m["kind"])
        for slot in ("albedo", "base_color"):
            if slot in m:
                found["texture"].add(m[slot]["kind"])
        for inner in ("a", "b", "inner"):
            if inner in m:
                walk_material(m[inner])

    lay = recipe["layout"]
    for m in [lay["floor"], *lay.get("walls", []), *([lay["table"]] if "table" in lay else [])]:
        walk_material(m)
    for o in recipe["objects"]:
        found["geometry"].add(o["geometry"]["kind"])
        walk_material(o["material"])
    for li in recipe["lights"]:
        found["light"].add(li["kind"])
    return found


ALL_KINDS = frozenset(LAYOUTS + GEOMETRIES + MATERIALS + TEXTURES + LIGHTS)


def seeds_using(kinds, start: int, count: int, size: int = 128, limit: int = 100_000) -> list[int]:
    """The first `count` seeds from `start` whose recipes use any of `kinds` (layout, geometry,
    material, texture or light kinds): data weighted towards content a model lacks, each scene
    still one of the grammar's (its recipe is the seed's, recorded as usual)."""
    wanted, out = set(kinds), []
    for seed in range(start, start + limit):
        if len(out) == count:
            return out
        if wanted & set().union(*kinds_in(sample_recipe(seed, size)).values()):
            out.append(seed)
    raise ValueError(f"only {len(out)} of {limit} seeds from {start} use {sorted(wanted)}")
