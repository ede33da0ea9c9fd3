"""Blender Cycles as a second dataset renderer (the optional ``cycles`` extra: ``bpy==4.5.4``).

A second renderer with its own sampler, pixel filter and pass names is what the per-source
encoders (§3.2) and the adapt recipe (§7.1) are for. Two kinds of input:

* **procedural scenes** from the same grammar as Mitsuba's (:func:`.scenes.random_scene`): the
  scene dict is drawn from the same random numbers and translated into bpy objects
  (:func:`describe_scene` → plain arrays and numbers, :func:`build_scene` → bpy);
* **user .blend files** (``neurecon render --blend FILE``): their camera, lights and materials as
  they are; only the render settings below are overridden.

Render settings: Cycles on the CPU, adaptive sampling off (a fixed spp per frame), Cycles'
built-in denoiser off, ``Denoising Data`` passes on (``Denoising Albedo``, ``Denoising Normal``,
``Denoising Depth``) plus ``Vector``; a fixed ``cycles.seed`` per frame. Everything else stays
Cycles' default, since that is what users have: the Blackman-Harris pixel filter (1.5 px, it
correlates neighbouring pixels' noise), indirect clamping at 10, the light tree, Filter Glossy 1.
Normals stay in Blender's world frame (Z up), as a Cycles user's files hold them. Cycles has no
variance pass, so the ``cycles`` source has none.

Translation of the grammar (simplifications, documented): coordinates Mitsuba Y-up → Blender
Z-up; ``diffuse`` → Diffuse BSDF; ``plastic``/``roughplastic`` → Principled (IOR 1.49,
roughness √α); ``conductor``/``roughconductor`` → metallic Principled with a tabulated F0 colour
per metal (not Mitsuba's spectral η, k); ``dielectric``/``roughdielectric`` → Glass BSDF (GGX);
the checkerboard and the noise bitmap use Blender's own primitive UVs; area and sphere lights are
emissive meshes with the same radiance (emitting from the front side only, like Mitsuba's);
point and spot lights use Blender's watts (``POINT_WATTS_PER_INTENSITY``); Mitsuba's
``max_depth`` d becomes ``max_bounces`` d − 2 (both count the same paths: d − 1 segments).

bpy runs in a child process (:func:`run_worker`, ``python -m neurecon.render.cycles_backend``):
Blender prints to the C stdout and keeps global state; one process per scene also means a killed
job loses at most that scene. The bpy wheel declares ``numpy<2`` but renders with the numpy 2 that
torch needs here (its audio module fails to import and says so; rendering does not use it), so
``scripts/setup.sh --cycles`` installs it with ``--no-deps``.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

BPY_VERSION = "4.5.4"
# Blender's point and spot lights take watts; Cycles turns P watts into a radiant intensity of
# P / (4π²) W/sr (strength / 4π, then the 1/π of its light evaluation): the inverse here.
POINT_WATTS_PER_INTENSITY = 4 * math.pi**2
# Mitsuba Y-up world → Blender Z-up world: (x, y, z) → (x, −z, y)
TO_BLENDER = np.array([[1, 0, 0, 0], [0, 0, -1, 0], [0, 1, 0, 0], [0, 0, 0, 1]], np.float64)
# F0 (linear sRGB) of the metals the grammar names (Gulbrandsen-style artist colours)
METAL_F0 = {
    "Au": (1.0, 0.766, 0.336),
    "Cu": (0.955, 0.638, 0.538),
    "Al": (0.913, 0.922, 0.924),
    "Ag": (0.972, 0.960, 0.915),
    "Cr": (0.549, 0.556, 0.554),
}
VIEW_LAYER = "ViewLayer"


def have_bpy() -> bool:
    """Whether Blender-as-a-module can be imported (checked in a child: importing bpy here would
    load Blender into this process)."""
    try:
        import importlib.util

        return importlib.util.find_spec("bpy") is not None
    except (ImportError, ValueError):
        return False


def require_bpy() -> None:
    if not have_bpy():
        raise RuntimeError(
            f"Cycles rendering needs Blender as a Python module: `bash scripts/setup.sh --cycles` "
            f"(pip install --no-deps bpy=={BPY_VERSION}, ~950 MB)"
        )


# ------------------------------------------------------------------ grammar → plain description


def _matrix(t) -> list[list[float]]:
    return np.array(t.matrix, np.float64).tolist()


def _rgb_value(spec: dict, key: str, default=(0.5, 0.5, 0.5)) -> list[float]:
    v = spec.get(key)
    return [float(x) for x in v["value"]] if isinstance(v, dict) and "value" in v else list(default)


def _material(bsdf: dict) -> dict:
    kind = bsdf["type"]
    if kind == "diffuse":
        refl = bsdf["reflectance"]
        if refl["type"] == "rgb":
            return {"kind": "diffuse", "color": [float(x) for x in refl["value"]]}
        if refl["type"] == "checkerboard":
            scale = float(np.array(refl["to_uv"].matrix)[0, 0])
            return {
                "kind": "checker",
                "color0": _rgb_value(refl, "color0"),
                "color1": _rgb_value(refl, "color1"),
                # Mitsuba's checkerboard has 2 cells per unit of (scaled) uv, Blender's 1 per unit
                "scale": 2 * scale,
            }
        return {"kind": "image", "image": np.array(refl["bitmap"], np.float32)}
    if kind in ("plastic", "roughplastic"):
        return {
            "kind": "plastic",
            "color": _rgb_value(bsdf, "diffuse_reflectance"),
            "roughness": math.sqrt(float(bsdf.get("alpha", 0.0))),
        }
    if kind in ("conductor", "roughconductor"):
        return {
            "kind": "metal",
            "color": list(METAL_F0[bsdf["material"]]),
            "roughness": math.sqrt(float(bsdf.get("alpha", 0.0))),
        }
    if kind in ("dielectric", "roughdielectric"):
        return {
            "kind": "glass",
            "ior": float(bsdf["int_ior"]),
            "roughness": math.sqrt(float(bsdf.get("alpha", 0.0))),
        }
    raise ValueError(f"the Cycles translation has no material for Mitsuba BSDF '{kind}'")


def _keep_mesh(name, verts, faces, bsdf) -> dict:
    return {"type": "mesh", "vertices": verts, "faces": faces, "bsdf": bsdf}


def describe_scene(seed: int, size: int = 128) -> dict:
    """The procedural scene of `seed` (the grammar of :mod:`.scenes`) as plain data for
    :func:`build_scene`: shapes with Mitsuba world matrices, materials, lights, camera."""
    os.environ.setdefault("NEURECON_MITSUBA_VARIANT", "scalar_rgb")  # only dicts and matrices are needed
    from .scenes import random_scene

    scene = random_scene(seed, size, mesh=_keep_mesh)
    desc: dict = {"seed": seed, "size": size, "objects": [], "lights": [], "env": None}
    desc["max_depth"] = int(scene["integrator"]["nested"]["integrator"]["max_depth"])
    for key, item in scene.items():
        if key in ("type", "integrator", "sensor") or not isinstance(item, dict):
            continue
        kind = item["type"]
        if kind == "envmap":
            desc["env"] = {
                "image": np.array(item["bitmap"], np.float32),
                "scale": float(item["scale"]),
                "matrix": _matrix(item["to_world"]),
            }
            continue
        if kind in ("point", "spot"):
            light = {"type": kind, "intensity": [float(x) for x in item["intensity"]["value"]]}
            if kind == "point":
                light["position"] = [float(x) for x in item["position"]]
            else:
                light["matrix"] = _matrix(item["to_world"])
                light["cutoff_deg"] = float(item["cutoff_angle"])
            desc["lights"].append(light)
            continue
        obj: dict = {"name": key, "shape": kind}
        if kind == "sphere" and "center" in item:  # sphere lights: centre + radius
            c, r = item["center"], float(item["radius"])
            m = np.diag([r, r, r, 1.0])
            m[:3, 3] = c
            obj["matrix"] = m.tolist()
        elif kind == "mesh":
            obj["vertices"], obj["faces"] = item["vertices"], item["faces"]
            obj["matrix"] = np.eye(4).tolist()
        else:
            obj["matrix"] = _matrix(item["to_world"])
        if "emitter" in item:
            obj["emission"] = [float(x) for x in item["emitter"]["radiance"]["value"]]
        else:
            obj["material"] = _material(item["bsdf"])
        desc["objects"].append(obj)
    s = scene["sensor"]
    desc["camera"] = {"matrix": _matrix(s["to_world"]), "fov_deg": float(s["fov"])}
    if s["type"] == "thinlens":
        desc["camera"]["aperture_radius"] = float(s["aperture_radius"])
        desc["camera"]["focus_distance"] = float(s["focus_distance"])
    return desc


def envmap_to_blender(image: np.ndarray, to_world, height: int | None = None) -> np.ndarray:
    """Resample a Mitsuba lat-long map (with its to_world) into Blender's equirectangular
    convention, as rows top → bottom: Blender direction → Mitsuba world → envmap local → (u, v).

    Mitsuba: u = atan2(x, −z)/2π, v = acos(y)/π (local, Y up); Blender: u = ½ − atan2(y, x)/2π,
    v = ½ + asin(z)/π (world, Z up; image rows bottom → top)."""
    src = np.asarray(image, np.float32)
    hs, ws = src.shape[:2]
    h = height or hs
    w = 2 * h
    theta = (np.arange(h) + 0.5) / h * np.pi  # from +Z (top row) down
    phi = (0.5 - (np.arange(w) + 0.5) / w) * 2 * np.pi  # atan2(y, x) of Blender's u
    st = np.sin(theta)[:, None]
    d_bl = np.stack([st * np.cos(phi)[None], st * np.sin(phi)[None], np.cos(theta)[:, None] * np.ones((1, w))], -1)
    d_mi = np.stack([d_bl[..., 0], d_bl[..., 2], -d_bl[..., 1]], -1)  # Blender → Mitsuba world
    rot = np.array(to_world, np.float64)[:3, :3]
    local = d_mi @ np.linalg.inv(rot).T
    local /= np.linalg.norm(local, axis=-1, keepdims=True)
    u = (np.arctan2(local[..., 0], -local[..., 2]) / (2 * np.pi)) % 1.0
    v = np.arccos(np.clip(local[..., 1], -1, 1)) / np.pi
    # bilinear lookup, wrapping in u
    x = u * ws - 0.5
    y = np.clip(v * hs - 0.5, 0, hs - 1)
    x0, y0 = np.floor(x).astype(int), np.floor(y).astype(int)
    fx, fy = (x - x0)[..., None], (y - y0)[..., None]
    x0 %= ws
    x1, y1 = (x0 + 1) % ws, np.minimum(y0 + 1, hs - 1)
    top = src[y0, x0] * (1 - fx) + src[y0, x1] * fx
    bottom = src[y1, x0] * (1 - fx) + src[y1, x1] * fx
    return (top * (1 - fy) + bottom * fy).astype(np.float32)


# ------------------------------------------------------------------------------- bpy (child)


def _blender_matrix(m):
    import mathutils

    return mathutils.Matrix((TO_BLENDER @ np.array(m, np.float64)).tolist())


def _camera_matrix(m):
    """Mitsuba sensor frame (x left, y up, looking along +z) → Blender camera (x right, y up,
    looking along −z), in Blender's world."""
    m = np.array(m, np.float64).copy()
    m[:3, 0] *= -1
    m[:3, 2] *= -1
    return _blender_matrix(m)


def _image(bpy, name: str, rgb: np.ndarray):
    h, w = rgb.shape[:2]
    img = bpy.data.images.new(name, w, h, alpha=True, float_buffer=True)
    img.colorspace_settings.name = "Linear Rec.709"
    rgba = np.concatenate([rgb[::-1], np.ones((h, w, 1), np.float32)], -1)  # Blender rows go bottom → top
    img.pixels.foreach_set(np.ascontiguousarray(rgba, np.float32).ravel())
    img.pack()
    return img


def _make_material(bpy, name: str, spec: dict | None, emission: list[float] | None):
    mat = bpy.data.materials.new(name)
    mat.use_nodes = True
    nt = mat.node_tree
    nt.nodes.clear()
    out = nt.nodes.new("ShaderNodeOutputMaterial")
    if emission is not None:
        # emit from the front side only (Mitsuba's area emitters are one-sided)
        strength = max(emission)
        em = nt.nodes.new("ShaderNodeEmission")
        em.inputs["Color"].default_value = (*[c / strength for c in emission], 1.0)
        em.inputs["Strength"].default_value = strength
        black = nt.nodes.new("ShaderNodeBsdfDiffuse")
        black.inputs["Color"].default_value = (0, 0, 0, 1)
        geo = nt.nodes.new("ShaderNodeNewGeometry")
        mix = nt.nodes.new("ShaderNodeMixShader")
        nt.links.new(geo.outputs["Backfacing"], mix.inputs["Fac"])
        nt.links.new(em.outputs["Emission"], mix.inputs[1])
        nt.links.new(black.outputs["BSDF"], mix.inputs[2])
        nt.links.new(mix.outputs["Shader"], out.inputs["Surface"])
        return mat
    assert spec is not None
    kind = spec["kind"]
    if kind in ("diffuse", "checker", "image"):
        shader = nt.nodes.new("ShaderNodeBsdfDiffuse")
        if kind == "diffuse":
            shader.inputs["Color"].default_value = (*spec["color"], 1.0)
        else:
            coords = nt.nodes.new("ShaderNodeTexCoord")
            if kind == "checker":
                tex = nt.nodes.new("ShaderNodeTexChecker")
                tex.inputs["Color1"].default_value = (*spec["color0"], 1.0)
                tex.inputs["Color2"].default_value = (*spec["color1"], 1.0)
                tex.inputs["Scale"].default_value = spec["scale"]
            else:
                tex = nt.nodes.new("ShaderNodeTexImage")
                tex.image = _image(bpy, name + "_tex", spec["image"])
                tex.interpolation = "Linear"
            nt.links.new(coords.outputs["UV"], tex.inputs["Vector"])
            nt.links.new(tex.outputs["Color"], shader.inputs["Color"])
        nt.links.new(shader.outputs["BSDF"], out.inputs["Surface"])
    elif kind == "glass":
        shader = nt.nodes.new("ShaderNodeBsdfGlass")
        shader.distribution = "GGX"
        shader.inputs["IOR"].default_value = spec["ior"]
        shader.inputs["Roughness"].default_value = spec["roughness"]
        nt.links.new(shader.outputs["BSDF"], out.inputs["Surface"])
    else:  # plastic, metal
        shader = nt.nodes.new("ShaderNodeBsdfPrincipled")
        shader.inputs["Base Color"].default_value = (*spec["color"], 1.0)
        shader.inputs["Roughness"].default_value = spec["roughness"]
        shader.inputs["Metallic"].default_value = 1.0 if kind == "metal" else 0.0
        shader.inputs["IOR"].default_value = 1.49
        nt.links.new(shader.outputs["BSDF"], out.inputs["Surface"])
    return mat


def _shape_mesh(bpy, obj: dict):
    """A bpy mesh for a grammar shape, in the shape's local frame (as Mitsuba defines it)."""
    import bmesh

    shape = obj["shape"]
    me = bpy.data.meshes.new(obj["name"])
    if shape == "mesh":
        v, f = np.asarray(obj["vertices"]), np.asarray(obj["faces"])
        # Mitsuba world → Blender world; the object matrix stays the identity
        v = v @ TO_BLENDER[:3, :3].T
        me.from_pydata(v.tolist(), [], f.tolist())
        me.update()
        me.shade_smooth()
        return me
    bm = bmesh.new()
    if shape == "sphere":
        bmesh.ops.create_uvsphere(bm, u_segments=64, v_segments=32, radius=1.0, calc_uvs=True)
    elif shape == "cube":
        bmesh.ops.create_cube(bm, size=2.0, calc_uvs=True)
    elif shape == "cylinder":  # Mitsuba's: open, from z = 0 to z = 1, radius 1
        bmesh.ops.create_cone(bm, cap_ends=False, segments=64, radius1=1.0, radius2=1.0, depth=1.0, calc_uvs=True)
        bmesh.ops.translate(bm, verts=bm.verts, vec=(0, 0, 0.5))
    elif shape == "disk":
        bmesh.ops.create_circle(bm, cap_ends=True, segments=64, radius=1.0, calc_uvs=True)
    elif shape == "rectangle":
        bmesh.ops.create_grid(bm, x_segments=1, y_segments=1, size=1.0, calc_uvs=True)
    else:
        raise ValueError(f"the Cycles translation has no shape '{shape}'")
    bm.to_mesh(me)
    bm.free()
    if shape in ("sphere", "cylinder"):
        me.shade_smooth()
    return me


def build_scene(desc: dict) -> None:
    """Replace Blender's current scene with `desc` (from :func:`describe_scene`)."""
    import bpy

    bpy.ops.wm.read_factory_settings(use_empty=True)
    sc = bpy.context.scene
    for obj in desc["objects"]:
        me = _shape_mesh(bpy, obj)
        me.materials.append(_make_material(bpy, obj["name"] + "_mat", obj.get("material"), obj.get("emission")))
        ob = bpy.data.objects.new(obj["name"], me)
        ob.matrix_world = _blender_matrix(obj["matrix"])
        sc.collection.objects.link(ob)
    for i, light in enumerate(desc["lights"]):
        la = bpy.data.lights.new(f"light{i}", light["type"].upper())
        inten = np.array(light["intensity"], np.float64)
        peak = float(inten.max())
        la.color = tuple(inten / peak)
        la.energy = peak * POINT_WATTS_PER_INTENSITY
        la.shadow_soft_size = 0.0  # Mitsuba's point and spot lights are points
        ob = bpy.data.objects.new(f"light{i}", la)
        if light["type"] == "point":
            m = np.eye(4)
            m[:3, 3] = light["position"]
            ob.matrix_world = _blender_matrix(m)
        else:  # a spot emits along its local +z in Mitsuba, −z in Blender
            la.spot_size = math.radians(2 * light["cutoff_deg"])
            la.spot_blend = 0.25  # Mitsuba's default beam width is ¾ of the cutoff
            ob.matrix_world = _camera_matrix(light["matrix"])
        sc.collection.objects.link(ob)
    world = bpy.data.worlds.new("world")
    sc.world = world
    world.use_nodes = True
    nt = world.node_tree
    bg = nt.nodes["Background"]
    if desc["env"] is not None:
        env = nt.nodes.new("ShaderNodeTexEnvironment")
        env.image = _image(bpy, "envmap", envmap_to_blender(desc["env"]["image"], desc["env"]["matrix"]))
        nt.links.new(env.outputs["Color"], bg.inputs["Color"])
        bg.inputs["Strength"].default_value = desc["env"]["scale"]
    else:
        bg.inputs["Color"].default_value = (0, 0, 0, 1)
        bg.inputs["Strength"].default_value = 0.0
    cam_desc = desc["camera"]
    cam = bpy.data.cameras.new("camera")
    cam.sensor_fit = "HORIZONTAL"
    cam.angle = math.radians(cam_desc["fov_deg"])
    cam.clip_start = 0.01
    if "aperture_radius" in cam_desc:
        cam.dof.use_dof = True
        cam.dof.focus_distance = cam_desc["focus_distance"]
        # Cycles: aperture radius = ½ · focal length (m) / f-stop
        cam.dof.aperture_fstop = 0.5 * cam.lens * 1e-3 / cam_desc["aperture_radius"]
    cam_ob = bpy.data.objects.new("camera", cam)
    cam_ob.matrix_world = _camera_matrix(cam_desc["matrix"])
    sc.collection.objects.link(cam_ob)
    sc.camera = cam_ob
    # the total path length as Mitsuba's; the per-type limits stay Cycles' defaults below it
    sc.cycles.max_bounces = max(desc["max_depth"] - 2, 0)
    sc.render.resolution_x = sc.render.resolution_y = int(desc["size"])


def configure(size: tuple[int, int] | None, threads: int = 0) -> dict:
    """Render settings on the current scene (procedural or a user's .blend): Cycles, CPU, fixed
    spp, denoising passes and Vector, Cycles' default filter. Returns what was set, for metadata."""
    import bpy

    sc = bpy.context.scene
    sc.render.engine = "CYCLES"
    sc.cycles.device = "CPU"
    sc.cycles.use_adaptive_sampling = False
    sc.cycles.use_denoising = False
    sc.cycles.use_animated_seed = False
    sc.render.use_motion_blur = False  # the Vector pass exists only without motion blur
    sc.render.film_transparent = False
    if size is not None:
        sc.render.resolution_x, sc.render.resolution_y = size
    sc.render.resolution_percentage = 100
    sc.render.use_border = False
    if threads:
        sc.render.threads_mode, sc.render.threads = "FIXED", threads
    if sc.camera is None:
        raise ValueError("the .blend file has no active camera")
    for vl in sc.view_layers:
        vl.use = vl.name == sc.view_layers[0].name  # one view layer in the file
    vl = sc.view_layers[0]
    vl.cycles.denoising_store_passes = True
    vl.use_pass_vector = True
    st = sc.render.image_settings
    st.file_format = "OPEN_EXR_MULTILAYER"
    st.color_depth = "32"
    st.exr_codec = "ZIP"
    return {
        "pixel_filter": f"{sc.cycles.pixel_filter_type.lower()} {sc.cycles.filter_width:g}px",
        "sampling_pattern": sc.cycles.sampling_pattern.lower(),
        "clamp_indirect": sc.cycles.sample_clamp_indirect,
        "clamp_direct": sc.cycles.sample_clamp_direct,
        "max_bounces": sc.cycles.max_bounces,
        "light_tree": bool(sc.cycles.use_light_tree),
        "view_layer": vl.name,
        "resolution": [sc.render.resolution_x, sc.render.resolution_y],
    }


def render_exr(path: Path, spp: int, seed: int) -> float:
    """Render the current scene at `spp` with `seed` into a multi-layer EXR; seconds taken."""
    import bpy

    sc = bpy.context.scene
    sc.cycles.samples = spp
    sc.cycles.seed = seed
    sc.render.filepath = str(path)
    t = time.perf_counter()
    bpy.ops.render.render(write_still=True)
    return time.perf_counter() - t


# motion_next has no file in the OIDN layout; for stills both are 0 (the Vector pass is kept as `mv`)
NOISY_PLANES = ["color", "albedo", "normal", "depth", "motion"]
VAR_PLANES = ["color_var", "albedo_var", "normal_var"]  # variance "halves": estimated from two half-sample renders
REF_PLANES = ["color", "albedo", "normal", "depth"]


def frame_seed(scene_seed: int, level: int) -> int:
    """Cycles' seed (an int ≥ 0, < 2³¹) of one frame: distinct per scene and spp level, the
    reference at level 15 (as in the Mitsuba jobs)."""
    return (scene_seed * 16 + level) % (2**31 - 1)


def halves_mean_variance(a, b):
    """Two independent half-sample renders of one frame → (their mean, the variance of that mean)
    per plane of colour, albedo and normal: with two samples of a per-pixel estimator, the sample
    variance is (a − b)²/2 and the mean's variance half of it, (a − b)²/4. Other planes (depth,
    motion) come from the first half."""
    from ..buffers import Buffers

    out = Buffers({n: a[n] for n in a.names()})
    for plane in ("color", "albedo", "normal"):
        if plane in a and plane in b:
            x, y = a[plane].astype(np.float64), b[plane].astype(np.float64)
            out[plane] = ((x + y) / 2).astype(np.float32)
            out[f"{plane}_var"] = ((x - y) ** 2 / 4).astype(np.float32)
    return out


def _render_level(tmp: Path, level: int, spp: int, scene_seed: int, halves: bool):
    """One frame of the ladder as Buffers (two half-sample renders with a variance estimate when
    `halves`); seconds taken."""
    from ..io import read_buffers

    if not halves:
        exr = Path(tmp) / f"{level}.exr"
        seconds = render_exr(exr, spp, frame_seed(scene_seed, level))
        return read_buffers(exr), seconds, exr
    parts, seconds = [], 0.0
    for half in (0, 1):  # the second half's seeds (level + 8) never meet a ladder level's (< 8) or the ref's (15)
        exr = Path(tmp) / f"{level}_{half}.exr"
        seconds += render_exr(exr, spp // 2, frame_seed(scene_seed, level + 8 * half))
        parts.append(read_buffers(exr))
    return halves_mean_variance(*parts), seconds, None


def render_task(task: dict) -> dict:
    """In the child: one scene (procedural seed or .blend) → its noisy ladder and reference in
    OIDN's layout under task["directory"]."""
    import bpy

    from ..io import write_oidn_frame

    if task.get("blend"):
        bpy.ops.wm.open_mainfile(filepath=task["blend"])
        size = (task["size"], task["size"]) if task.get("size") else None
    else:
        build_scene(describe_scene(task["seed"], task["size"]))
        size = (task["size"], task["size"])
    settings = configure(size, task.get("threads", 0))
    directory = Path(task["directory"])
    times = {}
    halves = task.get("variance") == "halves"
    with tempfile.TemporaryDirectory() as tmp:
        for level, spp in [*enumerate(task["spp"]), (15, task["ref_spp"])]:
            buf, seconds, exr = _render_level(Path(tmp), level, spp, task["seed"], halves and level != 15)
            tag = "ref" if level == 15 else spp
            planes = (NOISY_PLANES + (VAR_PLANES if halves else [])) if level != 15 else REF_PLANES
            write_oidn_frame(directory, task["name"], tag, buf.subset([p for p in planes if p in buf.names()]))
            times["ref" if level == 15 else f"{spp}spp"] = round(seconds, 3)
            if level == 15 and task.get("keep_exr"):
                os.replace(exr, directory / f"{task['name']}_ref.cycles.exr")
    return {"seconds": times, "cycles": settings, "blender": bpy.app.version_string}


def run_worker(task: dict, timeout: float | None = None) -> dict:
    """Render one task in a child Python with bpy; its stdout (Blender's log) goes to a file
    beside the outputs only on failure."""
    require_bpy()
    root = Path(__file__).resolve().parents[2]  # this checkout's neurecon, not another install's
    with tempfile.TemporaryDirectory() as tmp:
        job, result, log = Path(tmp) / "task.json", Path(tmp) / "result.json", Path(tmp) / "log.txt"
        job.write_text(json.dumps({**task, "result": str(result)}))
        with open(log, "w") as out:
            proc = subprocess.run(
                [sys.executable, "-m", "neurecon.render.cycles_backend", str(job)],
                stdout=out,
                stderr=subprocess.STDOUT,
                timeout=timeout,
                cwd=root,
                env={
                    **os.environ,
                    "PYTHONPATH": os.pathsep.join(filter(None, [str(root), os.environ.get("PYTHONPATH")])),
                },
            )
        if proc.returncode != 0 or not result.exists():
            tail = "\n".join(log.read_text(errors="replace").splitlines()[-15:])
            raise RuntimeError(f"Cycles render of {task.get('name')} failed (exit {proc.returncode}):\n{tail}")
        return json.loads(result.read_text())


def _main(argv: list[str]) -> int:
    task = json.loads(Path(argv[0]).read_text())
    rec = render_task(task)
    Path(task["result"]).write_text(json.dumps(rec))
    return 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
