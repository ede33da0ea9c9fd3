"""A grammar recipe → a Mitsuba 3 scene dict, deterministically (no random numbers here)."""

from __future__ import annotations

import math

import numpy as np

from ..mitsuba_backend import integrator, mitsuba
from . import meshes
from .recipe import THIN
from .textures import color_image, normal_map, pattern, value_noise

_SMOOTH = ("lumpy", "torus", "displaced", "shell")


def _T():
    return mitsuba().ScalarTransform4f()


def _bitmap(img: np.ndarray, uv_scale: float, raw: bool = False) -> dict:
    return {
        "type": "bitmap",
        "bitmap": mitsuba().Bitmap(np.ascontiguousarray(img, np.float32)),
        "raw": raw,
        "filter_type": "bilinear",
        "to_uv": _T().scale([uv_scale, uv_scale, 1]),
    }


def color(rec: dict) -> dict:
    if rec["kind"] == "constant":
        return {"type": "rgb", "value": rec["value"]}
    if rec["kind"] == "checker":
        return {
            "type": "checkerboard",
            "color0": {"type": "rgb", "value": rec["c0"]},
            "color1": {"type": "rgb", "value": rec["c1"]},
            "to_uv": _T().scale([rec["uv_scale"], rec["uv_scale"], 1]),
        }
    return _bitmap(color_image(rec), rec["uv_scale"])


def scalar(rec: dict, n: int = 128) -> float | dict:
    """A constant value or a pattern texture between rec['range'] (roughness, blend weights)."""
    if rec["kind"] == "constant":
        return float(rec["value"])
    lo, hi = rec.get("range", (0.0, 1.0))
    return _bitmap((lo + (hi - lo) * pattern(rec, n))[..., None], rec["uv_scale"], raw=True)


def bsdf(rec: dict, thin: bool = False) -> dict:
    """The BSDF of a material recipe; opaque one-sided kinds on thin geometry become two-sided."""
    kind = rec["kind"]
    if kind == "diffuse":
        out: dict = {"type": "diffuse", "reflectance": color(rec["albedo"])}
    elif kind == "plastic":
        out = {"type": "plastic", "diffuse_reflectance": color(rec["albedo"]), "int_ior": rec["ior"]}
    elif kind == "roughplastic":
        out = {"type": "roughplastic", "diffuse_reflectance": color(rec["albedo"]), "alpha": rec["alpha"]}
    elif kind == "conductor":
        out = {"type": "conductor", "material": rec["metal"]}
    elif kind == "roughconductor":
        out = {"type": "roughconductor", "material": rec["metal"], "alpha": scalar(rec["alpha"])}
    elif kind == "dielectric":
        return {"type": "dielectric", "int_ior": rec["ior"]}
    elif kind == "thindielectric":
        return {"type": "thindielectric", "int_ior": rec["ior"]}
    elif kind == "roughdielectric":
        return {"type": "roughdielectric", "int_ior": rec["ior"], "alpha": rec["alpha"]}
    elif kind == "principled":
        out = {
            "type": "principled",
            "base_color": color(rec["base_color"]),
            "roughness": scalar(rec["roughness"]),
            "metallic": rec["metallic"],
            "specular": rec["specular"],
            "clearcoat": rec["clearcoat"],
            "sheen": rec["sheen"],
        }
    elif kind == "blend":
        out = {
            "type": "blendbsdf",
            "weight": scalar({**rec["weight"], "range": [0.0, 1.0]}),
            "bsdf_0": bsdf(rec["a"]),
            "bsdf_1": bsdf(rec["b"]),
        }
    elif kind == "bump":
        h = rec["height"]
        out = {
            "type": "bumpmap",
            "arbitrary": _bitmap(pattern(h)[..., None], h["uv_scale"], raw=True),
            "scale": rec["strength"],
            "bsdf": bsdf(rec["inner"]),
        }
    elif kind == "normalmap":
        h = rec["height"]
        out = {
            "type": "normalmap",
            "normalmap": _bitmap(normal_map(pattern(h), rec["strength"]), h["uv_scale"], raw=True),
            "bsdf": bsdf(rec["inner"]),
        }
    elif kind == "emissive":
        out = {"type": "diffuse", "reflectance": {"type": "rgb", "value": [0.05, 0.05, 0.05]}}
    else:
        raise ValueError(f"unknown material kind '{kind}'")
    return {"type": "twosided", "bsdf": out} if thin else out


def _emitter(rec: dict) -> dict | None:
    if rec["kind"] != "emissive":
        return None
    return {"type": "area", "radiance": {"type": "rgb", "value": [c * rec["radiance"] for c in rec["color"]]}}


def mesh_shape(name: str, mesh: meshes.Mesh, bsdf_dict: dict, smooth: bool = False, emitter: dict | None = None):
    """A Mitsuba mesh with UVs (and interpolated normals when `smooth`) from world-space arrays."""
    mi = mitsuba()
    verts, faces, uvs = mesh
    props = mi.Properties()
    props["bsdf"] = mi.load_dict(bsdf_dict)
    if emitter is not None:
        props["emitter"] = mi.load_dict(emitter)
    shape = mi.Mesh(
        name,
        vertex_count=len(verts),
        face_count=len(faces),
        props=props,
        has_vertex_normals=smooth,
        has_vertex_texcoords=True,
    )
    params = mi.traverse(shape)
    params["vertex_positions"] = type(params["vertex_positions"])(np.ascontiguousarray(verts, np.float32).ravel())
    params["faces"] = type(params["faces"])(np.ascontiguousarray(faces, np.uint32).ravel())
    params["vertex_texcoords"] = type(params["vertex_texcoords"])(np.ascontiguousarray(uvs, np.float32).ravel())
    params.update()
    if smooth:
        shape.recompute_vertex_normals()
    return shape


def _object_mesh(geo: dict) -> meshes.Mesh:
    kind = geo["kind"]
    if kind == "card":
        return meshes.card()
    if kind == "lumpy":
        return meshes.lumpy(geo["seed"])
    if kind == "torus":
        return meshes.torus(geo["minor"])
    if kind == "displaced":
        return meshes.displaced(geo["seed"], geo["amount"])
    if kind == "assembly":
        return meshes.assembly(geo["seed"], geo["parts"])
    if kind == "wires":
        return meshes.wires(geo["seed"], geo["radius"])
    if kind == "foliage":
        return meshes.foliage(geo["seed"], geo["leaves"])
    if kind == "shell":
        return meshes.shell(geo["seed"])
    raise ValueError(f"unknown geometry kind '{kind}'")


def _object(i: int, obj: dict):
    geo, mat, s = obj["geometry"], obj["material"], obj["scale"]
    x, y, z = obj["at"]
    kind = geo["kind"]
    b, em = bsdf(mat, thin=kind in THIN), _emitter(mat)
    T = _T().translate([x, y, z]).rotate([0, 1, 0], obj["turn"])
    if kind in ("sphere", "cube", "cylinder", "disk"):
        if kind == "sphere":
            out: dict = {"type": "sphere", "to_world": T.translate([0, s, 0]).scale(s)}
        elif kind == "cube":
            out = {
                "type": "cube",
                "to_world": T.translate([0, s * 0.8, 0]).rotate([1, 0, 0], obj["tilt"]).scale(s * 0.8),
            }
        elif kind == "cylinder":
            out = {"type": "cylinder", "to_world": T.rotate([1, 0, 0], -90).scale([s * 0.6, s * 0.6, 2 * s])}
        else:
            out = {"type": "disk", "to_world": T.translate([0, s, 0]).rotate([1, 0, 0], obj["tilt"] - 60).scale(s)}
        out["bsdf"] = b
        if em is not None:
            out["emitter"] = em
        return out
    lift = s if kind in ("lumpy", "torus", "displaced", "card") else 0.0  # centred meshes stand on the floor
    tilt = obj["tilt"] + (90 if kind == "card" else 0)  # a card stands upright
    mesh = meshes.place(_object_mesh(geo), s, obj["turn"], (x, y + lift, z), tilt=tilt)
    return mesh_shape(f"obj{i}", mesh, b, smooth=kind in _SMOOTH, emitter=em)


def _rect(name: str, corners: np.ndarray, b: dict):
    """A quad from 4 world-space corners (two triangles, UVs over the quad)."""
    return mesh_shape(
        name,
        (
            corners.astype(np.float32),
            np.array([[0, 1, 2], [0, 2, 3]], np.uint32),
            np.array([[0, 0], [1, 0], [1, 1], [0, 1]], np.float32),
        ),
        b,
    )


def _wall(name: str, to_world, b: dict, hole: dict | None = None) -> list:
    """A 8×5 wall in its own (u, v) plane, u ∈ [-4, 4], v ∈ [0, 5], mapped by `to_world(u, v)`;
    with a window `hole`, the four quads around it."""
    boxes = [(-4.0, 4.0, 0.0, 5.0)]
    if hole is not None:
        u0, u1 = -hole["width"] / 2, hole["width"] / 2
        v0, v1 = hole["sill"], min(hole["sill"] + hole["height"], 4.8)
        boxes = [(-4, 4, 0, v0), (-4, 4, v1, 5), (-4, u0, v0, v1), (u1, 4, v0, v1)]
    out = []
    for k, (ua, ub, va, vb) in enumerate(boxes):
        corners = np.array([to_world(ua, va), to_world(ub, va), to_world(ub, vb), to_world(ua, vb)], float)
        out.append(_rect(f"{name}{k}", corners, b))
    return out


def _sky_panel(win: dict, on_wall) -> dict:
    """A bright panel just outside the window, facing in: the sky's light through the opening
    (an environment alone, sampled over the whole sphere, leaves a closed room at 256 spp mostly noise)."""
    vc = min(win["sill"] + win["height"], 4.8) / 2 + win["sill"] / 2
    centre = np.asarray(on_wall(0.0, vc), float)
    outward = centre * np.array([1, 0, 1]) / 4.0  # walls lie at ±4 on x or z
    c = centre + 0.3 * outward
    T = _T().look_at(origin=[float(x) for x in c], target=[float(x) for x in c - outward], up=[0, 1, 0])
    return {
        "type": "rectangle",
        "to_world": T.scale([win["width"] / 2 + 0.3, win["height"] / 2 + 0.3, 1]),
        "emitter": {"type": "area", "radiance": {"type": "rgb", "value": [c * win["radiance"] for c in win["sky"]]}},
    }


def _layout(lay: dict) -> dict:
    kind = lay["kind"]
    shapes: dict = {}
    floor = bsdf(lay["floor"], thin=True)
    half = 30.0 if kind == "ground" else 4.0
    if kind != "studio":
        shapes["floor"] = _rect(
            "floor", np.array([[-half, 0, half], [half, 0, half], [half, 0, -half], [-half, 0, -half]]), floor
        )
    if kind in ("room", "interior_window", "tabletop"):
        walls = [bsdf(w, thin=True) for w in lay["walls"]]
        win = lay.get("window")
        planes = {"back": lambda u, v: (u, v, -4), "left": lambda u, v: (-4, v, u), "right": lambda u, v: (4, v, -u)}
        for (side, fn), b in zip(planes.items(), walls):
            for k, s in enumerate(_wall(side, fn, b, win if win and win["wall"] == side else None)):
                shapes[f"{side}{k}"] = s
        if kind == "interior_window":
            shapes["front"] = _wall("front", lambda u, v: (u, v, 4), walls[0])[0]
            shapes["sky_panel"] = _sky_panel(win, planes[win["wall"]])
        if lay.get("ceiling"):
            shapes["ceiling"] = _rect("ceiling", np.array([[-4, 5, -4], [4, 5, -4], [4, 5, 4], [-4, 5, 4]]), walls[0])
    if kind == "tabletop":
        table = bsdf(lay["table"])
        shapes["table"] = {
            "type": "cube",
            "to_world": _T().translate([0, 0.85, -0.3]).scale([1.6, 0.05, 1.1]),
            "bsdf": table,
        }
        for k, (lx, lz) in enumerate([(-1.4, -1.2), (1.4, -1.2), (-1.4, 0.6), (1.4, 0.6)]):
            shapes[f"leg{k}"] = {
                "type": "cube",
                "to_world": _T().translate([lx, 0.4, lz]).scale([0.05, 0.4, 0.05]),
                "bsdf": table,
            }
    if kind == "studio":  # a cyclorama: the floor curving up into the back wall
        t = np.linspace(0, 1, 24)
        prof = [(z, 0.0) for z in np.linspace(20, -2, 12)] + [
            (-2 - 2 * math.sin(a), 2 - 2 * math.cos(a)) for a in t * math.pi / 2
        ]
        prof += [(-4.0, y) for y in np.linspace(2.3, 14, 6)]
        zs, ys = np.array(prof).T
        nu = 2
        verts = np.stack([np.repeat([[-20.0, 20.0]], len(zs), 0).ravel(), np.repeat(ys, nu), np.repeat(zs, nu)], -1)
        faces, uv = meshes.grid(nu, len(zs))
        shapes["backdrop"] = mesh_shape(
            "backdrop", (verts.astype(np.float32), faces, uv), bsdf(lay["backdrop"], thin=True), smooth=True
        )
    return shapes


def env_image(rec: dict, n: int = 64) -> np.ndarray:
    """A procedural HDR lat-long environment: sky gradient, dark ground, suns or blobs, bright panels."""
    rng = np.random.default_rng(rec["seed"])
    h, w = n, 2 * n
    theta = np.linspace(0, np.pi, h)[:, None]
    phi = np.linspace(0, 2 * np.pi, w)[None, :]
    top, hor = rng.uniform(0.1, 1.0, 3), rng.uniform(0.3, 1.0, 3)
    t = np.clip(np.cos(theta), 0, 1)[..., None]
    img = (hor * (1 - t) + top * t) * np.ones((1, w, 1))
    img[theta[:, 0] > np.pi / 2] *= rng.uniform(0.1, 0.4)
    img *= 0.7 + 0.6 * value_noise(int(rng.integers(1 << 31)), n=w, octaves=4)[:h, :, None]
    for _ in range(int(rng.integers(1, 4))):
        st, sp = rng.uniform(0.1, 1.4), rng.uniform(0, 2 * np.pi)
        d = np.arccos(np.clip(np.sin(theta) * np.sin(st) * np.cos(phi - sp) + np.cos(theta) * np.cos(st), -1, 1))
        img += (np.exp(-((d / rng.uniform(0.02, 0.2)) ** 2)) * rng.uniform(5, 80))[..., None] * rng.uniform(0.5, 1, 3)
    for _ in range(rec.get("panels", 0)):  # window- or softbox-like bright rectangles, as in studio HDRs
        r0, c0 = int(rng.integers(h // 5, h // 2)), int(rng.integers(0, w - w // 8))
        img[r0 : r0 + int(rng.integers(2, h // 5)), c0 : c0 + int(rng.integers(2, w // 8))] += rng.uniform(2, 20)
    return img.astype(np.float32)


def _light(rec: dict, centre) -> dict:
    mi = mitsuba()
    kind = rec["kind"]
    if kind == "envmap":
        return {
            "type": "envmap",
            "bitmap": mi.Bitmap(env_image(rec)),
            "scale": rec["scale"],
            "to_world": _T().rotate([0, 1, 0], rec["turn"]),
        }
    if kind == "sunsky":
        # Mitsuba's sunsky is z-up: turned so its zenith is the scenes' +y (sun_direction stays in world space)
        return {
            "type": "sunsky",
            "sun_direction": rec["sun_direction"],
            "turbidity": rec["turbidity"],
            "sun_scale": 1.5 * rec["scale"],
            "sky_scale": 1.5 * rec["scale"],
            "to_world": _T().rotate([1, 0, 0], -90),
        }
    if kind == "directional":
        return {
            "type": "directional",
            "direction": rec["direction"],
            "irradiance": {"type": "rgb", "value": [c * rec["irradiance"] for c in rec["color"]]},
        }
    col, power, pos = np.asarray(rec["color"]), rec["power"], rec["at"]
    if kind == "area":
        s = rec["size"]
        if rec["facing"] == "down":
            T = _T().translate(pos).rotate([1, 0, 0], 90)
        elif rec["facing"] == "front":
            T = _T().translate(pos)
        else:
            T = _T().look_at(origin=pos, target=[float(c) for c in centre], up=[0, 1, 0])
        return {
            "type": "rectangle",
            "to_world": T.scale(s),
            "emitter": {"type": "area", "radiance": {"type": "rgb", "value": list(col * power / (s * s))}},
        }
    if kind == "sphere":
        r = rec["radius"]
        return {
            "type": "sphere",
            "center": pos,
            "radius": r,
            "emitter": {"type": "area", "radiance": {"type": "rgb", "value": list(col * power / (4 * r * r))}},
        }
    if kind == "point":
        return {"type": "point", "position": pos, "intensity": {"type": "rgb", "value": list(col * power * 2)}}
    if kind == "spot":
        return {
            "type": "spot",
            "to_world": _T().look_at(origin=pos, target=rec["target"], up=[0, 1, 0]),
            "cutoff_angle": rec["cutoff"],
            "intensity": {"type": "rgb", "value": list(col * power * 3)},
        }
    raise ValueError(f"unknown light kind '{kind}'")


def build_scene(recipe: dict, sampler: str = "independent") -> dict:
    """The Mitsuba scene dict of a grammar recipe."""
    if recipe.get("grammar") != 1:
        raise ValueError(f"not a grammar-1 scene recipe (grammar: {recipe.get('grammar')!r})")
    scene: dict = {"type": "scene", "integrator": integrator(recipe["max_depth"])}
    scene.update(_layout(recipe["layout"]))
    for i, obj in enumerate(recipe["objects"]):
        scene[f"obj{i}"] = _object(i, obj)
    centre = np.mean([o["at"] for o in recipe["objects"]], 0) + [0, 0.5, 0]
    for i, li in enumerate(recipe["lights"]):
        scene[f"light{i}"] = _light(li, centre)
    cam = recipe["camera"]
    w, h = cam["film"]
    sensor = {
        "type": "perspective",
        "fov": cam["fov"],
        "to_world": _T().look_at(origin=cam["origin"], target=cam["target"], up=[0, 1, 0]),
        "film": {"type": "hdrfilm", "width": w, "height": h, "rfilter": {"type": "box"}, "pixel_format": "rgb"},
        "sampler": {"type": sampler, "sample_count": 4},
    }
    if "aperture" in cam:
        sensor.update(type="thinlens", aperture_radius=cam["aperture"], focus_distance=cam["focus"])
    scene["sensor"] = sensor
    return scene
