"""Rendered sequences for temporal denoising (Vogels et al. 2018 §3.3, §7.2): one scene of the
procedural grammar (:func:`~neurecon.render.scenes.random_scene`), animated frame by frame, with
per-frame noisy buffers (distinct seeds), a reference per frame and exact motion vectors.

Mitsuba 3.9 has no animated transforms and no motion-vector AOV, so every frame sets its own scene
state with ``mi.traverse`` + ``params.update()`` (the sensor's ``to_world``, a moving shape's
``to_world`` or its ``vertex_positions``/``vertex_normals``), and motion vectors are computed
geometrically: one unjittered pinhole ray through each pixel centre (a thin-lens camera's centre
ray), intersected with the frame's scene; the hit point — moved by its shape's own rigid motion
when the shape moves — is projected with the neighbouring frame's camera (``sample_direction`` of
a pinhole sensor with that frame's pose and field of view returns continuous pixel coordinates;
pdf 0 = behind the camera). Pixels that see the environment are reprojected as directions.

Camera paths: ``orbit`` (around the point the centre pixel sees), ``dolly`` (along the view
direction), ``pan`` (the camera turns about its vertical axis), ``objects`` (static camera, one to
three objects translate and spin), ``orbit+objects``; ``seeds`` is the static camera of Fig. 12:
nothing moves, a new seed each frame, one reference.
``mixed`` (a job's default) draws one of the moving kinds per sequence.

**Motion convention** (each frame's multi-layer EXR; see :mod:`neurecon.io.layouts`):

* ``motion.X``, ``motion.Y`` — the offset in pixels (x to the right, y downwards, as image
  columns and rows) from this pixel's centre to where the same surface point was in the
  *previous* frame; zero in the first frame.
* ``motion_valid.Y`` — 1 where that surface point was visible there: on screen, and the previous
  frame's own pixel-centre hits around the reprojected position (all bilinear taps) lie on the same
  shape at the same depth (inverse camera depth, which is affine in screen space on planes, within
  1 % interpolated and 30 % per tap), or all see the environment when the point is the environment;
  0 at disocclusions, off-screen, and in the first frame.
* ``motion_next.X/Y``, ``motion_next_valid.Y`` — the same towards the *next* frame (zero / 0 in the
  last one): what a symmetric temporal window needs to reach future frames. Frames further away
  are reached by chaining (:func:`neurecon.nn.temporal.chain_flows`).

Layout: ``OUT/SPLIT/seqNNNNNN/{S}spp/frame_TTTT.exr`` (noisy buffers + motion) per spp level
``S``, ``ref/frame_TTTT.exr`` (reference colour, albedo, normal, depth + motion), ``sequence.json``
(kind, camera poses, moving shapes, timings; written last: a sequence without it is unfinished).
"""

from __future__ import annotations

import json
import math
import os
import platform
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from ..buffers import Buffers
from ..io.atomic import atomic_write_text
from .mitsuba_backend import current_variant, mitsuba, render_buffers
from .scenes import random_scene

SEQ_SPLIT_BASE = {"train": 0, "valid": 100_000, "test": 200_000}
MOVING = ("orbit", "dolly", "pan", "objects", "orbit+objects")
KINDS = (*MOVING, "seeds")
JOB_KINDS = (*KINDS, "mixed")
NOISY_PLANES = ["color", "albedo", "normal", "depth", "position", "color_var", "albedo_var", "normal_var"]
MOTION_PLANES = ["motion", "motion_valid", "motion_next", "motion_next_valid"]
REF_PLANES = ["color", "albedo", "normal", "depth"]
INVZ_TOL, INVZ_TAP_TOL = 0.01, 0.3  # validity: interpolated / per-tap relative inverse-depth mismatch
ENV_DISTANCE = 10.0  # environment pixels: a point this far along the ray from the neighbour's own origin


# --------------------------------------------------------------------------------------------
# geometry: poses, pixel-centre rays, projection


def _rot_y(deg: float) -> np.ndarray:
    a = math.radians(deg)
    c, s = math.cos(a), math.sin(a)
    return np.array([[c, 0, s, 0], [0, 1, 0, 0], [-s, 0, c, 0], [0, 0, 0, 1]], np.float64)


def _translate(v) -> np.ndarray:
    m = np.eye(4)
    m[:3, 3] = v
    return m


def about(pivot, m: np.ndarray) -> np.ndarray:
    """`m` (a rotation) applied about `pivot` instead of the origin."""
    return _translate(pivot) @ m @ _translate(-np.asarray(pivot, np.float64))


def _matrix(t) -> np.ndarray:
    m = np.asarray(t.matrix, np.float64)
    return m[..., 0] if m.ndim == 3 else m


@dataclass
class Camera:
    """A pinhole pose: `to_world` (4×4, Mitsuba's camera frame: +z forward, +x image-left, +y
    image-up) and the horizontal field of view in degrees."""

    to_world: np.ndarray
    fov: float
    size: tuple[int, int]  # (width, height)

    @property
    def origin(self) -> np.ndarray:
        return self.to_world[:3, 3]

    @property
    def forward(self) -> np.ndarray:
        return self.to_world[:3, 2] / np.linalg.norm(self.to_world[:3, 2])

    def sensor(self):
        mi = mitsuba()
        w, h = self.size
        return mi.load_dict(
            {
                "type": "perspective",
                "fov": float(self.fov),
                "fov_axis": "x",
                "to_world": mi.ScalarTransform4f(self.to_world.tolist()),
                "film": {"type": "hdrfilm", "width": w, "height": h, "rfilter": {"type": "box"}},
            }
        )


def pixel_rays(camera: Camera):
    """One unjittered ray per pixel centre (row-major), as Mitsuba rays."""
    mi = mitsuba()
    w, h = camera.size
    y, x = np.mgrid[0:h, 0:w]
    u = mi.Point2f(((x + 0.5) / w).ravel().astype(np.float32), ((y + 0.5) / h).ravel().astype(np.float32))
    ray, _ = camera.sensor().sample_ray(0.0, 0.5, u, mi.Point2f(0.5, 0.5))
    return ray


def project(camera: Camera, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """World points (N×3) → continuous pixel coordinates (N×2; pixel (i, j)'s centre is
    (i + 0.5, j + 0.5)) and whether each lies in front of the camera and on the film."""
    import drjit as dr

    mi = mitsuba()
    it = dr.zeros(mi.Interaction3f, len(points))
    p = np.ascontiguousarray(points, np.float32)
    it.p = mi.Point3f(p[:, 0], p[:, 1], p[:, 2])
    ds, _ = camera.sensor().sample_direction(it, mi.Point2f(0.5, 0.5))
    uv = np.array(ds.uv, np.float64).T.reshape(len(points), 2)
    ok = np.array(ds.pdf) > 0
    w, h = camera.size
    ok &= (uv[:, 0] >= 0) & (uv[:, 0] <= w) & (uv[:, 1] >= 0) & (uv[:, 1] <= h)
    return uv, ok


@dataclass
class Geometry:
    """Pixel-centre hits of one frame state (flattened row-major, H·W entries)."""

    camera: Camera
    hit: np.ndarray  # bool
    point: np.ndarray  # N×3 world positions (hits)
    direction: np.ndarray  # N×3 ray directions
    shape: np.ndarray  # index into scene.shapes(), -1 = environment
    invz: np.ndarray  # 1 / camera-space depth of the hit (0 for the environment)


def trace(scene, camera: Camera) -> Geometry:
    import drjit as dr

    mi = mitsuba()
    ray = pixel_rays(camera)
    si = scene.ray_intersect(ray)
    hit = np.array(si.is_valid()).astype(bool)
    point = np.array(si.p, np.float64).T.reshape(-1, 3)
    direction = np.array(ray.d, np.float64).T.reshape(-1, 3)
    shape = np.full(hit.shape, -1, np.int32)
    eq = getattr(dr, "eq", None)
    for i, sh in enumerate(scene.shapes()):
        ptr = mi.ShapePtr(sh)
        shape[np.array(eq(si.shape, ptr) if eq else si.shape == ptr).astype(bool) & hit] = i
    z = (point - camera.origin) @ camera.forward
    invz = np.where(hit, 1.0 / np.maximum(z, 1e-9), 0.0)
    return Geometry(camera, hit, point, direction, shape, invz)


def motion_between(
    src: Geometry, dst: Geometry, moves: dict[int, np.ndarray] | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Motion from frame `src` to frame `dst`: per pixel of `src`, the offset (H×W×2, pixels, x
    right, y down) from its centre to where its surface point is in `dst`, and the validity (H×W×1)
    described in the module docstring. `moves` maps a shape index to the 4×4 world transform taking
    that shape from its `src` pose to its `dst` pose."""
    w, h = src.camera.size
    x = src.point.copy()
    for k, m in (moves or {}).items():
        sel = src.shape == k
        x[sel] = x[sel] @ m[:3, :3].T + m[:3, 3]
    env = ~src.hit
    x[env] = dst.camera.origin + src.direction[env] * ENV_DISTANCE  # a direction: no parallax
    q, on = project(dst.camera, x)
    y, xx = np.mgrid[0:h, 0:w]
    centre = np.stack([xx.ravel() + 0.5, y.ravel() + 0.5], 1)
    flow = np.where(on[:, None], q - centre, 0.0)
    valid = on & _visible(q, x, src, dst)
    return flow.reshape(h, w, 2).astype(np.float32), valid.reshape(h, w, 1).astype(np.float32)


def _visible(q: np.ndarray, x: np.ndarray, src: Geometry, dst: Geometry) -> np.ndarray:
    """Whether the destination frame's own pixel-centre hits around q (every bilinear tap with a
    non-negligible weight) see the point x: the same shape at the same inverse depth, or all the
    environment for environment pixels."""
    w, h = dst.camera.size
    z = (x - dst.camera.origin) @ dst.camera.forward
    invz = 1.0 / np.maximum(z, 1e-9)
    px, py = q[:, 0] - 0.5, q[:, 1] - 0.5
    x0, y0 = np.floor(px).astype(np.int64), np.floor(py).astype(np.int64)
    fx, fy = px - x0, py - y0
    ok = np.ones(len(q), bool)
    num = np.zeros(len(q))
    den = np.zeros(len(q))
    for dx, dy, wt in ((0, 0, (1 - fx) * (1 - fy)), (1, 0, fx * (1 - fy)), (0, 1, (1 - fx) * fy), (1, 1, fx * fy)):
        used = wt > 1e-4
        tx, ty = x0 + dx, y0 + dy
        inside = (tx >= 0) & (tx < w) & (ty >= 0) & (ty < h)
        ok &= ~used | inside
        idx = np.clip(ty, 0, h - 1) * w + np.clip(tx, 0, w - 1)
        same = dst.shape[idx] == src.shape  # -1 == -1 for the environment
        tap_invz = dst.invz[idx]
        close = np.abs(tap_invz - invz) <= INVZ_TAP_TOL * invz
        ok &= ~used | (same & (close | ~src.hit))
        num += np.where(used, wt * tap_invz, 0.0)
        den += np.where(used, wt, 0.0)
    interp = num / np.maximum(den, 1e-12)
    ok &= ~src.hit | (np.abs(interp - invz) <= INVZ_TOL * invz)
    return ok


# --------------------------------------------------------------------------------------------
# animation: per-frame scene states


@dataclass
class Animation:
    """Frame-by-frame states of one loaded scene: camera poses and rigid motions of shapes."""

    scene: object
    kind: str
    frames: int
    cameras: list[Camera]
    moving: dict[str, list[np.ndarray]]  # parameter prefix (e.g. obj3) -> world transform per frame
    _params: object = None
    _base: dict = field(default_factory=dict)

    def __post_init__(self):
        mi = mitsuba()
        self._params = p = mi.traverse(self.scene)
        shapes = list(self.scene.shapes())
        self.shape_index = {}
        for name in self.moving:
            if f"{name}.to_world" in p:
                self._base[name] = ("to_world", _matrix(p[f"{name}.to_world"]))
            else:
                v = np.array(p[f"{name}.vertex_positions"], np.float64).reshape(-1, 3)
                nk = f"{name}.vertex_normals"
                n = np.array(p[nk], np.float64).reshape(-1, 3) if nk in p and len(np.array(p[nk])) else None
                self._base[name] = ("mesh", (v, n))
            key = f"{name}.to_world" if f"{name}.to_world" in p else f"{name}.vertex_positions"
            node = p.properties[key][2]  # the shape that owns the parameter
            self.shape_index[name] = next(i for i, sh in enumerate(shapes) if sh == node)

    def set_frame(self, t: int) -> None:
        mi = mitsuba()
        p = self._params
        p["sensor.to_world"] = mi.ScalarTransform4f(self.cameras[t].to_world.tolist())
        for name, mats in self.moving.items():
            kind, base = self._base[name]
            m = mats[t]
            if kind == "to_world":
                p[f"{name}.to_world"] = mi.ScalarTransform4f((m @ base).tolist())
            else:
                v, n = base
                p[f"{name}.vertex_positions"] = type(p[f"{name}.vertex_positions"])(
                    (v @ m[:3, :3].T + m[:3, 3]).astype(np.float32).ravel()
                )
                if n is not None:
                    p[f"{name}.vertex_normals"] = type(p[f"{name}.vertex_normals"])(
                        (n @ m[:3, :3].T).astype(np.float32).ravel()
                    )
        p.update()

    def geometry(self, t: int) -> Geometry:
        self.set_frame(t)
        return trace(self.scene, self.cameras[t])

    def moves(self, src: int, dst: int) -> dict[int, np.ndarray]:
        """Shape index → transform from its pose in frame `src` to its pose in frame `dst`."""
        return {self.shape_index[n]: m[dst] @ np.linalg.inv(m[src]) for n, m in self.moving.items()}

    def describe(self) -> dict:
        return {
            "kind": self.kind,
            "frames": self.frames,
            "fov": self.cameras[0].fov,
            "cameras": [c.to_world.round(6).tolist() for c in self.cameras],
            "moving": {n: [m.round(6).tolist() for m in mats] for n, mats in self.moving.items()},
        }


def animate(scene, kind: str, frames: int, seed: int, size: tuple[int, int], speed: float = 1.0) -> Animation:
    """Camera path and object motions for `kind`, drawn from `seed`; `speed` scales every step."""
    if kind not in KINDS:
        raise ValueError(f"unknown motion '{kind}'; choose from {', '.join(JOB_KINDS)}")
    mi = mitsuba()
    rng = np.random.default_rng([seed, 7])
    p = mi.traverse(scene)
    base = _matrix(p["sensor.to_world"])
    fov = float(np.asarray(p["sensor.x_fov"]).ravel()[0])
    cam0 = Camera(base, fov, size)
    # the pivot of an orbit: what the centre pixel sees (or a point 6 units ahead)
    g = trace(scene, cam0)
    w, h = size
    c = (h // 2) * w + w // 2
    dist = float((g.point[c] - cam0.origin) @ cam0.forward) if g.hit[c] else 6.0
    pivot = cam0.origin + cam0.forward * dist
    sign = lambda: float(rng.choice([-1.0, 1.0]))  # noqa: E731
    cams = []
    camera_kind = kind.split("+")[0]
    step = {
        "orbit": sign() * rng.uniform(0.6, 1.5),  # degrees per frame
        "dolly": sign() * rng.uniform(0.008, 0.02) * dist,  # scene units per frame
        "pan": sign() * rng.uniform(0.3, 0.9),  # degrees per frame
    }.get(camera_kind, 0.0) * speed
    for t in range(frames):
        if camera_kind == "orbit":
            m = about(pivot, _rot_y(step * t)) @ base
        elif camera_kind == "dolly":
            m = _translate(cam0.forward * step * t) @ base
        elif camera_kind == "pan":
            m = about(cam0.origin, _rot_y(step * t)) @ base
        else:
            m = base
        cams.append(Camera(m, fov, size))
    moving: dict[str, list[np.ndarray]] = {}
    if kind.endswith("objects"):
        names = sorted({k.split(".")[0] for k in p.keys() if k.startswith("obj")})
        names = [n for n in names if f"{n}.to_world" in p or f"{n}.vertex_positions" in p]
        for n in rng.permutation(names)[: int(rng.integers(1, 4))] if names else []:
            centre = _shape_centre(p, str(n))
            v = rng.normal(size=3) * np.array([1, 0.3, 1])
            v *= rng.uniform(0.02, 0.06) * speed / (np.linalg.norm(v) + 1e-9)
            spin = sign() * rng.uniform(1.5, 5.0) * speed
            moving[str(n)] = [_translate(v * t) @ about(centre, _rot_y(spin * t)) for t in range(frames)]
    return Animation(scene, kind, frames, cams, moving)


def _shape_centre(p, name: str) -> np.ndarray:
    if f"{name}.to_world" in p:
        return _matrix(p[f"{name}.to_world"])[:3, 3]
    return np.array(p[f"{name}.vertex_positions"], np.float64).reshape(-1, 3).mean(0)


# --------------------------------------------------------------------------------------------
# render jobs


@dataclass
class SequenceJob:
    out: str
    split: str = "train"
    scenes: int = 4  # sequences
    frames: int = 8
    size: int = 128
    spp: list[int] = field(default_factory=lambda: [4, 16])
    ref_spp: int = 256
    seed: int = 0  # offset inside the split's seed range
    motion: str = "mixed"
    speed: float = 1.0
    shard: tuple[int, int] = (0, 1)
    overwrite: bool = False

    def validate(self) -> None:
        if self.split not in SEQ_SPLIT_BASE:
            raise ValueError(f"unknown split '{self.split}'; choose from {', '.join(SEQ_SPLIT_BASE)}")
        if self.motion not in JOB_KINDS:
            raise ValueError(f"unknown motion '{self.motion}'; choose from {', '.join(JOB_KINDS)}")
        for name in ("size", "scenes", "frames", "ref_spp"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"render {name} must be an integer ≥ 1, got {value!r}")
        spp = self.spp if isinstance(self.spp, (list, tuple)) else [self.spp]
        if not spp or any(not isinstance(v, int) or isinstance(v, bool) or v < 1 for v in spp):
            raise ValueError(f"render spp must be integers ≥ 1, got {self.spp!r}")
        if not isinstance(self.seed, int) or self.seed < 0:
            raise ValueError(f"render seed must be an integer ≥ 0, got {self.seed!r}")

    @property
    def spp_list(self) -> list[int]:
        return list(self.spp) if isinstance(self.spp, (list, tuple)) else [int(self.spp)]

    def sequence_ids(self) -> list[int]:
        base = SEQ_SPLIT_BASE[self.split] + self.seed
        i, n = self.shard
        return [base + k for k in range(self.scenes) if k % n == i]

    @property
    def directory(self) -> Path:
        return Path(self.out) / self.split

    def kind_of(self, seq_seed: int) -> str:
        if self.motion != "mixed":
            return self.motion
        return str(np.random.default_rng([seq_seed, 11]).choice(MOVING))


def sequence_name(seq_seed: int) -> str:
    return f"seq{seq_seed:06d}"


def frame_name(t: int) -> str:
    return f"frame_{t:04d}.exr"


def _seed(*parts: int) -> int:
    return int(np.random.SeedSequence(list(parts)).generate_state(1)[0] & 0x7FFFFFFF)


def frame_motion(anim: Animation, geos: dict[int, Geometry], t: int) -> Buffers:
    """The motion planes of frame t (geometries of t−1, t, t+1 in `geos` where they exist)."""
    h, w = anim.cameras[t].size[1], anim.cameras[t].size[0]
    out = {}
    for key, other in (("motion", t - 1), ("motion_next", t + 1)):
        if other in geos:
            flow, valid = motion_between(geos[t], geos[other], anim.moves(t, other))
        else:
            flow, valid = np.zeros((h, w, 2), np.float32), np.zeros((h, w, 1), np.float32)
        out[key], out[f"{key}_valid"] = flow, valid
    return Buffers(out)


def render_sequence(job: SequenceJob, seq_seed: int, progress: bool = False) -> dict:
    """Render one sequence's frames (every spp level and the reference) into job.directory."""
    from tqdm import tqdm

    from ..io import write_buffers

    mi = mitsuba()
    name = sequence_name(seq_seed)
    kind = job.kind_of(seq_seed)
    size = (job.size, job.size)
    scene = mi.load_dict(random_scene(seq_seed, job.size))
    anim = animate(scene, kind, job.frames, seq_seed, size, job.speed)
    root = job.directory / name
    for sub in [f"{spp}spp" for spp in job.spp_list] + ["ref"]:
        (root / sub).mkdir(parents=True, exist_ok=True)
    times: dict[str, float] = {"noisy": 0.0, "ref": 0.0, "motion": 0.0}
    geos: dict[int, Geometry] = {}
    static_ref = None
    for t in tqdm(range(job.frames), desc=name, unit="frame", disable=not progress, leave=False):
        tm = time.perf_counter()
        for s in (t - 1, t, t + 1):  # keep the three geometries frame t's motion needs
            if 0 <= s < job.frames and s not in geos:
                geos[s] = anim.geometry(s)
        geos.pop(t - 2, None)
        motion = frame_motion(anim, geos, t)
        anim.set_frame(t)
        times["motion"] += time.perf_counter() - tm
        tn = time.perf_counter()
        for level, spp in enumerate(job.spp_list):
            buf = render_buffers(scene, spp, seed=_seed(seq_seed, t, level))
            buf = buf.subset(NOISY_PLANES)
            for k in MOTION_PLANES:
                buf[k] = motion[k]
            write_buffers(root / f"{spp}spp" / frame_name(t), buf)
        times["noisy"] += time.perf_counter() - tn
        tr = time.perf_counter()
        if kind == "seeds" and static_ref is not None:
            ref = static_ref
        else:
            ref = render_buffers(scene, job.ref_spp, seed=_seed(seq_seed, t, 99)).subset(REF_PLANES)
            static_ref = ref if kind == "seeds" else None
        ref = ref.copy()
        for k in MOTION_PLANES:
            ref[k] = motion[k]
        write_buffers(root / "ref" / frame_name(t), ref)
        times["ref"] += time.perf_counter() - tr
    rec = {
        "name": name,
        "seed": seq_seed,
        **anim.describe(),
        "spp": job.spp_list,
        "ref_spp": job.ref_spp,
        "size": job.size,
        "seconds": {k: round(v, 2) for k, v in times.items()},
    }
    atomic_write_text(root / "sequence.json", json.dumps(rec, indent=1))
    return {k: rec[k] for k in ("name", "seed", "kind", "frames", "seconds")}


def _done(job: SequenceJob, seq_seed: int) -> bool:
    return (job.directory / sequence_name(seq_seed) / "sequence.json").exists()


def run(job: SequenceJob, progress: bool = True) -> dict:
    """Render every sequence of the job (finished ones skipped unless overwrite); metadata.json
    is merged after each sequence, so a killed job loses at most the sequence in flight."""
    from tqdm import tqdm

    job.validate()
    job.directory.mkdir(parents=True, exist_ok=True)
    mitsuba()
    ids = [s for s in job.sequence_ids() if job.overwrite or not _done(job, s)]
    meta_path = job.directory / (
        f"metadata.shard{job.shard[0]}of{job.shard[1]}.json" if job.shard[1] > 1 else "metadata.json"
    )
    meta = json.loads(meta_path.read_text()) if meta_path.exists() else {"sequences": []}
    t0 = time.perf_counter()
    for s in tqdm(ids, desc=f"render {job.split} sequences [{current_variant()}]", disable=not progress):
        rec = render_sequence(job, s, progress=progress)
        meta["sequences"] = [r for r in meta.get("sequences", []) if r["name"] != rec["name"]] + [rec]
        _write_meta(meta, meta_path, job, time.perf_counter() - t0)
    if not ids:
        _write_meta(meta, meta_path, job, 0.0)
    return meta


def _write_meta(meta: dict, path: Path, job: SequenceJob, seconds: float) -> None:
    import mitsuba as _mi

    meta.update(
        {
            "renderer": f"mitsuba {_mi.__version__}",
            "variant": current_variant(),
            "sampler": "independent",
            "integrator": "moment(aov(path))",
            "pixel_filter": "box",
            "size": job.size,
            "frames": job.frames,
            "motion": job.motion,
            "spp": job.spp_list,
            "ref_spp": job.ref_spp,
            "split": job.split,
            "seed_range": [SEQ_SPLIT_BASE[job.split] + job.seed, SEQ_SPLIT_BASE[job.split] + job.seed + job.scenes],
            "host": platform.node(),
            "cpus": os.cpu_count(),
            "wall_seconds_this_run": round(seconds, 2),
            "job": asdict(job),
        }
    )
    atomic_write_text(path, json.dumps(meta, indent=1))
