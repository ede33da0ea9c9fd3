"""Procedural Mitsuba 3 scenes for denoiser training data.

Every scene is a pure function of its integer seed, so a dataset is reproducible and shards
cleanly. Variety is what the denoiser learns from (the calibration in DESIGN.md found data, not
iterations, to be the bottleneck), so each scene draws independently: an open room or a ground
plane, 3–9 objects (built-in shapes and generated meshes), diffuse / rough plastic / conductor /
dielectric / textured materials, area, point, spot and environment lights, depth of field and a
camera placed on a random orbit.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import partial

import numpy as np

from .mitsuba_backend import integrator, mitsuba

SAMPLERS = {"independent": "independent", "ldsampler": "ldsampler"}


def _rgb(rng, lo=0.05, hi=0.9):
    return [float(x) for x in rng.uniform(lo, hi, 3)]


def _look_at(mi, origin, target, up=(0, 1, 0)):
    return mi.ScalarTransform4f().look_at(origin=list(origin), target=list(target), up=list(up))


def _bsdf(rng, mi, opaque: bool = False) -> dict:
    kinds = [
        "diffuse",
        "diffuse",
        "plastic",
        "roughplastic",
        "conductor",
        "roughconductor",
        "checker",
        "noise_texture",
    ] + ([] if opaque else ["dielectric", "roughdielectric"])
    kind = rng.choice(kinds)
    if kind == "diffuse":
        return {"type": "diffuse", "reflectance": {"type": "rgb", "value": _rgb(rng)}}
    if kind == "plastic":
        return {"type": "plastic", "diffuse_reflectance": {"type": "rgb", "value": _rgb(rng)}}
    if kind == "roughplastic":
        return {
            "type": "roughplastic",
            "alpha": float(rng.uniform(0.05, 0.4)),
            "diffuse_reflectance": {"type": "rgb", "value": _rgb(rng)},
        }
    if kind == "conductor":
        return {"type": "conductor", "material": str(rng.choice(["Au", "Cu", "Al", "Ag", "Cr"]))}
    if kind == "roughconductor":
        return {
            "type": "roughconductor",
            "material": str(rng.choice(["Au", "Cu", "Al", "Ag", "Cr"])),
            "alpha": float(rng.uniform(0.05, 0.5)),
        }
    if kind == "dielectric":
        return {"type": "dielectric", "int_ior": float(rng.uniform(1.3, 1.8))}
    if kind == "roughdielectric":
        return {
            "type": "roughdielectric",
            "alpha": float(rng.uniform(0.05, 0.3)),
            "int_ior": float(rng.uniform(1.3, 1.8)),
        }
    if kind == "checker":
        s = float(rng.uniform(2, 12))
        return {
            "type": "diffuse",
            "reflectance": {
                "type": "checkerboard",
                "color0": {"type": "rgb", "value": _rgb(rng)},
                "color1": {"type": "rgb", "value": _rgb(rng)},
                "to_uv": mi.ScalarTransform4f().scale([s, s, 1]),
            },
        }
    return {
        "type": "diffuse",
        "reflectance": {"type": "bitmap", "bitmap": _noise_bitmap(rng, mi), "filter_type": "bilinear"},
    }


def _noise_bitmap(rng, mi, n: int = 64):
    """A smooth random-colour texture: a few octaves of bilinearly upsampled noise, tinted."""
    img = np.zeros((n, n), np.float32)
    for octave in (4, 8, 16, 32):
        g = rng.uniform(0, 1, (octave + 1, octave + 1)).astype(np.float32)
        idx = np.linspace(0, octave, n)
        i0 = np.floor(idx).astype(int).clip(0, octave - 1)
        f = (idx - i0)[:, None]
        rows = g[i0] * (1 - f) + g[i0 + 1] * f
        img += (rows[:, i0] * (1 - f.T) + rows[:, i0 + 1] * f.T) / octave * 4
    img = (img - img.min()) / (np.ptp(img) + 1e-6)
    a, b = np.array(_rgb(rng)), np.array(_rgb(rng))
    rgb = (a[None, None] * img[..., None] + b[None, None] * (1 - img[..., None])).astype(np.float32)
    return mi.Bitmap(rgb)


def _mesh_arrays(rng, to_world) -> tuple[np.ndarray, np.ndarray]:
    """A generated mesh's world-space vertices (V×3 float32) and triangles (F×3 uint32): a lumpy
    sphere (random radial harmonics) or a torus."""
    nu, nv = 48, 24
    u = np.linspace(0, 2 * np.pi, nu, endpoint=False)
    v = np.linspace(0, np.pi, nv)
    U, V = np.meshgrid(u, v)
    if rng.random() < 0.5:
        r = 1 + sum(
            rng.uniform(-0.15, 0.15) * np.sin(k * U + rng.uniform(0, 6)) * np.sin(l * V)
            for k, l in rng.integers(1, 5, (3, 2))
        )
        pts = np.stack([r * np.sin(V) * np.cos(U), r * np.cos(V), r * np.sin(V) * np.sin(U)], -1)
    else:
        R, rr = 1.0, float(rng.uniform(0.25, 0.5))
        V2 = V * 2
        pts = np.stack([(R + rr * np.cos(V2)) * np.cos(U), rr * np.sin(V2), (R + rr * np.cos(V2)) * np.sin(U)], -1)
    verts = pts.reshape(-1, 3).astype(np.float32)
    faces = []
    for i in range(nv - 1):
        for j in range(nu):
            a, b = i * nu + j, i * nu + (j + 1) % nu
            c, d = a + nu, b + nu
            faces += [(a, c, b), (b, c, d)]
    m = np.array(to_world.matrix, np.float64)
    verts = (verts @ m[:3, :3].T + m[:3, 3]).astype(np.float32)
    return verts, np.array(faces, np.uint32)


def mitsuba_mesh(mi, name: str, verts: np.ndarray, faces: np.ndarray, bsdf: dict):
    """A Mitsuba mesh object of world-space `verts` and `faces`, with its BSDF."""
    props = mi.Properties()
    props["bsdf"] = mi.load_dict(bsdf)
    mesh = mi.Mesh(name, vertex_count=len(verts), face_count=len(faces), props=props)
    params = mi.traverse(mesh)
    # build buffers of the variant's own types (llvm arrays, or scalar-variant dynamic arrays)
    params["vertex_positions"] = type(params["vertex_positions"])(verts.ravel())
    params["faces"] = type(params["faces"])(faces.ravel())
    params.update()
    return mesh


def _mesh(rng, mi, name: str, bsdf: dict, to_world):
    """A generated Mitsuba mesh (see _mesh_arrays) with its BSDF."""
    return mitsuba_mesh(mi, name, *_mesh_arrays(rng, to_world), bsdf)


def _envmap(rng, mi, n: int = 64):
    """A sky-like lat-long map: horizon gradient, a sun disc and a few bright blobs."""
    h, w = n, 2 * n
    theta = np.linspace(0, np.pi, h)[:, None]
    phi = np.linspace(0, 2 * np.pi, w)[None, :]
    top, hor = np.array(_rgb(rng, 0.1, 1.0)), np.array(_rgb(rng, 0.3, 1.0))
    t = np.clip(np.cos(theta), 0, 1)[..., None]
    img = (hor * (1 - t) + top * t) * np.ones((1, w, 1))
    img[theta[:, 0] > np.pi / 2] *= 0.2  # darker ground
    for _ in range(rng.integers(1, 4)):
        st, sp = rng.uniform(0.1, 1.4), rng.uniform(0, 2 * np.pi)
        d = np.arccos(np.clip(np.sin(theta) * np.sin(st) * np.cos(phi - sp) + np.cos(theta) * np.cos(st), -1, 1))
        img += (np.exp(-((d / rng.uniform(0.03, 0.2)) ** 2)) * rng.uniform(5, 60))[..., None] * np.array(
            _rgb(rng, 0.5, 1)
        )
    return mi.Bitmap(img.astype(np.float32))


def random_scene(
    seed: int,
    size: int | tuple[int, int] = 128,
    sampler: str = "independent",
    max_depth: int | None = None,
    mesh: Callable | None = None,
) -> dict:
    """Mitsuba scene dict for `seed`. `size` is the film width (and height) in pixels.

    `mesh(name, verts, faces, bsdf)` makes the generated meshes' entries (default: Mitsuba mesh
    objects); the Cycles backend passes one that keeps the arrays, so both renderers draw the same
    scene from the same random numbers."""
    mi = mitsuba()
    rng = np.random.default_rng(seed)
    w, h = (size, size) if isinstance(size, int) else size
    scene: dict = {"type": "scene"}
    scene["integrator"] = integrator(max_depth or int(rng.integers(4, 9)))

    # layout: a closed-ish room (walls are indirect-light heavy) or a ground plane under a sky
    room = rng.random() < 0.55
    floor_bsdf = (
        _bsdf(rng, mi, opaque=True)
        if rng.random() < 0.5
        else {"type": "diffuse", "reflectance": {"type": "rgb", "value": _rgb(rng, 0.3, 0.8)}}
    )
    scene["floor"] = {
        "type": "rectangle",
        "to_world": mi.ScalarTransform4f().rotate([1, 0, 0], -90).scale(6 if room else 30),
        "bsdf": floor_bsdf,
    }
    if room:
        wall = {"type": "diffuse", "reflectance": {"type": "rgb", "value": _rgb(rng, 0.2, 0.85)}}
        T = mi.ScalarTransform4f()
        scene["back"] = {"type": "rectangle", "to_world": T.translate([0, 3, -4]).scale(6), "bsdf": wall}
        scene["left"] = {
            "type": "rectangle",
            "to_world": T.translate([-4, 3, 0]).rotate([0, 1, 0], 90).scale(6),
            "bsdf": {"type": "diffuse", "reflectance": {"type": "rgb", "value": _rgb(rng, 0.2, 0.85)}},
        }
        scene["right"] = {
            "type": "rectangle",
            "to_world": T.translate([4, 3, 0]).rotate([0, 1, 0], -90).scale(6),
            "bsdf": {"type": "diffuse", "reflectance": {"type": "rgb", "value": _rgb(rng, 0.2, 0.85)}},
        }
        if rng.random() < 0.6:
            scene["ceiling"] = {
                "type": "rectangle",
                "to_world": T.translate([0, 5, 0]).rotate([1, 0, 0], 90).scale(6),
                "bsdf": wall,
            }

    # objects
    shapes = ["sphere", "cube", "cylinder", "mesh", "disk"]
    n_obj = int(rng.integers(3, 10))
    for i in range(n_obj):
        kind = rng.choice(shapes)
        s = float(rng.uniform(0.3, 1.0))
        x, z = rng.uniform(-2.5, 2.5), rng.uniform(-2.5, 2.0)
        T = mi.ScalarTransform4f().translate([float(x), s, float(z)]).rotate([0, 1, 0], float(rng.uniform(0, 360)))
        bsdf = _bsdf(rng, mi)
        if kind == "sphere":
            obj = {"type": "sphere", "to_world": T.scale(s)}
        elif kind == "cube":
            obj = {"type": "cube", "to_world": T.rotate([1, 0, 0], float(rng.uniform(-30, 30))).scale(s * 0.8)}
        elif kind == "cylinder":
            obj = {
                "type": "cylinder",
                "to_world": T.translate([0, -s, 0]).rotate([1, 0, 0], -90).scale([s * 0.6, s * 0.6, 2 * s]),
            }
        elif kind == "mesh":
            verts, faces = _mesh_arrays(rng, T.scale(s * 0.8))
            scene[f"obj{i}"] = (mesh or partial(mitsuba_mesh, mi))(f"mesh{i}", verts, faces, bsdf)
            continue
        else:
            obj = {"type": "disk", "to_world": T.rotate([1, 0, 0], float(rng.uniform(-90, 0))).scale(s)}
        obj["bsdf"] = bsdf
        scene[f"obj{i}"] = obj

    # lights: at least one; environment only matters when the room is open
    n_lights = 0
    if not room or rng.random() < 0.3:
        scene["env"] = {
            "type": "envmap",
            "bitmap": _envmap(rng, mi),
            "scale": float(rng.uniform(0.3, 1.5)),
            "to_world": mi.ScalarTransform4f().rotate([0, 1, 0], float(rng.uniform(0, 360))),
        }
        n_lights += 1
    while n_lights == 0 or rng.random() < 0.45:
        kind = rng.choice(["area", "area", "point", "spot", "sphere_light"])
        pos = [float(rng.uniform(-3, 3)), float(rng.uniform(2.5, 4.8)), float(rng.uniform(-3, 2))]
        power = float(rng.uniform(3, 25))
        col = np.array(_rgb(rng, 0.6, 1.0))
        if kind == "area":
            s = float(rng.uniform(0.3, 1.2))
            scene[f"light{n_lights}"] = {
                "type": "rectangle",
                "to_world": mi.ScalarTransform4f().translate(pos).rotate([1, 0, 0], 90).scale(s),
                "emitter": {"type": "area", "radiance": {"type": "rgb", "value": list(col * power / (s * s))}},
            }
        elif kind == "sphere_light":
            r = float(rng.uniform(0.1, 0.4))
            scene[f"light{n_lights}"] = {
                "type": "sphere",
                "center": pos,
                "radius": r,
                "emitter": {"type": "area", "radiance": {"type": "rgb", "value": list(col * power / (4 * r * r))}},
            }
        elif kind == "point":
            scene[f"light{n_lights}"] = {
                "type": "point",
                "position": pos,
                "intensity": {"type": "rgb", "value": list(col * power * 2)},
            }
        else:
            scene[f"light{n_lights}"] = {
                "type": "spot",
                "to_world": _look_at(mi, pos, [float(rng.uniform(-1, 1)), 0, float(rng.uniform(-1, 1))]),
                "cutoff_angle": float(rng.uniform(20, 50)),
                "intensity": {"type": "rgb", "value": list(col * power * 3)},
            }
        n_lights += 1

    # camera on an orbit looking at the scene; thin lens sometimes for depth of field
    ang, elev, dist = rng.uniform(-0.9, 0.9), rng.uniform(0.8, 3.5), rng.uniform(5.5, 9)
    x = dist * math.sin(ang)
    origin = [float(np.clip(x, -3.5, 3.5) if room else x), float(elev), float(dist * math.cos(ang))]
    target = [float(rng.uniform(-1, 1)), float(rng.uniform(0.2, 1.0)), float(rng.uniform(-1, 0.5))]
    sensor = {
        "type": "perspective",
        "fov": float(rng.uniform(30, 60)),
        "to_world": _look_at(mi, origin, target),
        "film": {"type": "hdrfilm", "width": w, "height": h, "rfilter": {"type": "box"}, "pixel_format": "rgb"},
        "sampler": {"type": SAMPLERS[sampler], "sample_count": 4},
    }
    if rng.random() < 0.25:
        sensor["type"] = "thinlens"
        sensor["aperture_radius"] = float(rng.uniform(0.03, 0.15))
        sensor["focus_distance"] = float(np.linalg.norm(np.subtract(origin, target)) * rng.uniform(0.8, 1.2))
    scene["sensor"] = sensor
    return scene
