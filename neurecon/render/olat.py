"""OLAT renders from Mitsuba: a virtual light stage for the relighting task.

A *subject* is a small scene from the scene grammar's objects and materials (:mod:`.scenes`: 1–3
spheres, boxes, cylinders and generated meshes with diffuse, plastic, rough plastic, rough metal
and textured materials), standing on a diffuse or checkered ground disk or floating without one.
It is lit by one small light at a time: a ``point`` emitter at a fixed distance from the
subject's centre, moved from light to light with ``mi.traverse`` + ``params.update()`` (one scene
load and one compiled kernel for every light). Point lights cast hard shadows and sharp
highlights, which is where interpolating between captured lights fails.

Light directions (camera frame, see :mod:`neurecon.io.olat`): a Fibonacci layout of ``lights``
directions on the upper hemisphere above the ground (``layout: hemisphere``, world elevation
≥ 0) or on the whole sphere (``sphere``); ``heldout`` more directions *between* the captured ones
(centres of faces of their triangulation) are rendered as ground truth that no input sees.
The light's intensity is π·distance², so a white surface facing it has radiance 1 / π · π = 1·ρ.

Pixel filter: box (as every neurecon render). The mask is the film's alpha (the fraction of a
pixel's samples that hit the subject or its ground; 0 = background) from a separate pass of
primary rays at 4× the spp (at least 256), written as ``mask.png``.

Splits are disjoint seed ranges as for the denoising data (:data:`.dataset.SPLIT_SEED_BASE`), so
held-out objects are never trained on. One subject = one OLAT folder ``OUT/SPLIT/subjectNNNNNN``.
"""

from __future__ import annotations

import math
import os
import platform
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from ..io.olat import MANIFEST, OlatLight, write_manifest, write_mask
from .dataset import SPLIT_SEED_BASE
from .lights import camera_basis, camera_to_world, fibonacci_hemisphere, fibonacci_sphere, heldout_between
from .mitsuba_backend import current_variant, mitsuba
from .scenes import _bsdf, _mesh

LAYOUTS = ("hemisphere", "sphere")
OLAT_KEYS = {"lights", "heldout", "layout", "ground", "distance", "max_depth", "min_elevation"}
SUBJECT_CENTRE = (0.0, 0.5, 0.0)


@dataclass
class OlatJob:
    out: str = "data/olat"
    split: str = "train"
    scenes: int = 8
    size: int = 64
    spp: int = 256
    seed: int = 0  # offset inside the split's seed range
    lights: int = 64  # captured lights
    heldout: int = 16  # held-out lights between the captured ones
    layout: str = "hemisphere"  # hemisphere | sphere
    min_elevation: float = 0.0  # degrees above the ground plane (hemisphere layout)
    ground: float = 0.7  # probability that a subject stands on a ground disk
    distance: float = 6.0  # light distance from the subject's centre (the subject spans ~2 units)
    max_depth: int = 3  # path depth: direct light plus two bounces
    shard: tuple[int, int] = (0, 1)
    overwrite: bool = False
    threads: int = 0  # Dr.Jit worker threads; 0 = Dr.Jit's default (DRJIT_NUM_THREADS)

    def __post_init__(self):
        if self.layout not in LAYOUTS:
            raise ValueError(f"unknown OLAT layout '{self.layout}'; choose {', '.join(LAYOUTS)}")
        if self.split not in SPLIT_SEED_BASE:
            raise ValueError(f"unknown split '{self.split}'; choose {', '.join(SPLIT_SEED_BASE)}")
        if self.lights < 4:
            raise ValueError("an OLAT render needs at least 4 captured lights")
        if self.heldout < 0 or self.size < 8 or self.spp < 1 or self.scenes < 0:
            raise ValueError("heldout ≥ 0, size ≥ 8, spp ≥ 1 and scenes ≥ 0 are required")

    def scene_ids(self) -> list[int]:
        base = SPLIT_SEED_BASE[self.split] + self.seed
        i, n = self.shard
        return [base + k for k in range(self.scenes) if k % n == i]

    @property
    def directory(self) -> Path:
        return Path(self.out) / self.split

    def light_directions(self) -> np.ndarray:
        """The captured directions in the *world* frame (y up), the same for every subject."""
        if self.layout == "sphere":
            return fibonacci_sphere(self.lights)
        return fibonacci_hemisphere(self.lights, self.min_elevation)


def job_from_recipe(job: dict) -> OlatJob:
    """An OLAT render job from a recipe's ``render:`` entry (``kind: olat``; options of the light
    stage under ``olat:``)."""
    from ..train.config import check_keys

    job = dict(job)
    job.pop("kind", None)
    olat = check_keys(dict(job.pop("olat", None) or {}), OLAT_KEYS, "render[].olat")
    check_keys(job, {"out", "split", "scenes", "size", "spp", "seed"}, "render[] (kind: olat)")
    if isinstance(job.get("spp"), list):
        if len(job["spp"]) != 1:
            raise ValueError("an OLAT render job has one spp count")
        job["spp"] = job["spp"][0]
    return OlatJob(**job, **olat)


def subject_name(seed: int) -> str:
    return f"subject{seed:06d}"


def _material(rng, mi) -> dict:
    """A grammar material a point light shows: smooth metals (a point light's mirror image has
    zero area, so they render black) are drawn again."""
    while True:
        b = _bsdf(rng, mi, opaque=True)
        if b["type"] != "conductor":
            return b


def olat_subject(seed: int, size: int = 64, ground_prob: float = 0.7, max_depth: int = 3) -> tuple[dict, dict]:
    """(Mitsuba scene dict without its light, description) of subject `seed`: objects near the
    origin, an optional ground disk, a camera on an orbit looking at :data:`SUBJECT_CENTRE`."""
    mi = mitsuba()
    rng = np.random.default_rng([seed, 0x01A7])
    scene: dict = {"type": "scene", "integrator": {"type": "path", "max_depth": max_depth, "rr_depth": 8}}
    ground = bool(rng.random() < ground_prob)
    desc: dict = {"seed": seed, "ground": ground, "objects": []}
    if ground:
        g = (
            {"type": "diffuse", "reflectance": {"type": "rgb", "value": [float(x) for x in rng.uniform(0.3, 0.8, 3)]}}
            if rng.random() < 0.6
            else _material(rng, mi)
        )
        scene["ground"] = {
            "type": "disk",
            "to_world": mi.ScalarTransform4f().rotate([1, 0, 0], -90).scale(2.2),
            "bsdf": g,
        }
        desc["ground_bsdf"] = g["type"]
    n_obj = int(rng.integers(1, 4))
    placed: list[tuple[float, float, float]] = []
    for i in range(n_obj):
        s = float(rng.uniform(0.35, 0.7)) if i else float(rng.uniform(0.6, 0.85))
        for _ in range(50):
            x, z = (0.0, 0.0) if not i else tuple(float(v) for v in rng.uniform(-1.2, 1.2, 2))
            if all(math.hypot(x - px, z - pz) > s + ps for px, pz, ps in placed):
                break
        else:
            continue
        placed.append((x, z, s))
        kind = str(rng.choice(["sphere", "cube", "cylinder", "mesh", "mesh"]))
        y = s if ground else s + float(rng.uniform(-0.3, 0.3))
        T = mi.ScalarTransform4f().translate([x, y, z]).rotate([0, 1, 0], float(rng.uniform(0, 360)))
        bsdf = _material(rng, mi)
        desc["objects"].append({"shape": kind, "bsdf": bsdf["type"], "size": round(s, 3)})
        if kind == "mesh":
            scene[f"obj{i}"] = _mesh(rng, mi, f"mesh{i}", bsdf, T.scale(s * 0.85))
            continue
        if kind == "sphere":
            obj = {"type": "sphere", "to_world": T.scale(s)}
        elif kind == "cube":
            obj = {"type": "cube", "to_world": T.scale(s * 0.75)}
        else:
            obj = {
                "type": "cylinder",
                "to_world": T.translate([0, -s, 0]).rotate([1, 0, 0], -90).scale([s * 0.6] * 2 + [2 * s]),
            }
        obj["bsdf"] = bsdf
        scene[f"obj{i}"] = obj
    az, el = float(rng.uniform(0, 2 * math.pi)), math.radians(float(rng.uniform(12, 35)))
    dist = float(rng.uniform(5.5, 6.5))
    target = np.array(SUBJECT_CENTRE)
    origin = target + dist * np.array([math.cos(el) * math.sin(az), math.sin(el), math.cos(el) * math.cos(az)])
    fov = 36.0 if ground else 28.0
    scene["sensor"] = {
        "type": "perspective",
        "fov": fov,
        "to_world": mi.ScalarTransform4f().look_at(origin=origin.tolist(), target=target.tolist(), up=[0, 1, 0]),
        "film": {"type": "hdrfilm", "width": size, "height": size, "rfilter": {"type": "box"}, "pixel_format": "rgba"},
        "sampler": {"type": "independent", "sample_count": 4},
    }
    desc["camera"] = {"origin": origin.round(5).tolist(), "target": list(SUBJECT_CENTRE), "up": [0, 1, 0], "fov": fov}
    return scene, desc


def mask_spp(spp: int) -> int:
    return max(4 * spp, 256)


def subject_mask(scene, spp: int, seed: int) -> np.ndarray:
    """H×W coverage of the subject (and its ground): the film's alpha with primary rays only
    (a path of depth 1 costs no light sampling), at :func:`mask_spp` samples per pixel."""
    mi = mitsuba()
    primary = mi.load_dict({"type": "path", "max_depth": 1})
    img = np.asarray(mi.render(scene, integrator=primary, spp=mask_spp(spp), seed=seed & 0xFFFFFFFF))
    return img[..., 3].astype(np.float32)


def render_subject(job: OlatJob, seed: int) -> dict:
    """Render one subject's OLAT folder (captured and held-out lights, mask, manifest)."""
    from ..io import write_image

    mi = mitsuba()
    folder = job.directory / subject_name(seed)
    folder.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    scene_dict, desc = olat_subject(seed, job.size, job.ground, job.max_depth)
    intensity = math.pi * job.distance**2
    scene_dict["olat_light"] = {
        "type": "point",
        "position": [0.0, 10.0, 0.0],
        "intensity": {"type": "rgb", "value": [intensity] * 3},
    }
    scene = mi.load_dict(scene_dict)
    params = mi.traverse(scene)
    cam = desc["camera"]
    basis = camera_basis(cam["origin"], cam["target"], cam["up"])
    world = job.light_directions()
    cam_dirs = world @ basis  # world → camera frame (basis columns are the camera axes)
    held_cam = heldout_between(cam_dirs, job.heldout, seed=seed) if job.heldout else np.zeros((0, 3))
    centre = np.array(SUBJECT_CENTRE)

    def shoot(d_cam: np.ndarray, k: int) -> np.ndarray:
        pos = centre + job.distance * camera_to_world(d_cam[None], basis)[0]
        params["olat_light.position"] = mi.Point3f(*[float(v) for v in pos])
        params.update()
        img = np.asarray(
            mi.render(scene, spp=job.spp, seed=int(np.random.SeedSequence([seed, k]).generate_state(1)[0]))
        )
        return img[..., :3].astype(np.float32)

    lights = []
    for i, d in enumerate(cam_dirs):
        name = f"light_{i:03d}.exr"
        write_image(folder / name, shoot(d, i))
        lights.append(OlatLight(name, tuple(float(v) for v in d)))  # type: ignore[arg-type]
    held = []
    for i, d in enumerate(held_cam):
        name = f"heldout_{i:03d}.exr"
        write_image(folder / name, shoot(d, 10_000 + i))
        held.append(OlatLight(name, tuple(float(v) for v in d)))  # type: ignore[arg-type]
    write_mask(folder / "mask.png", subject_mask(scene, job.spp, seed))
    import mitsuba as _mi

    meta = {
        "renderer": f"mitsuba {_mi.__version__}",
        "variant": current_variant(),
        "integrator": f"path (max_depth {job.max_depth})",
        "pixel_filter": "box",
        "emitter": f"point at distance {job.distance}, intensity {intensity:.4g} (π·distance²), moved by mi.traverse",
        "spp": job.spp,
        "size": job.size,
        "layout": job.layout,
        "mask": f"film alpha of primary rays, {mask_spp(job.spp)} spp",
        "subject": desc,
        "seconds": round(time.perf_counter() - t0, 2),
    }
    write_manifest(folder, lights, "mask.png", held, meta)  # last: a folder with a manifest is complete
    return {"name": folder.name, "seed": seed, "seconds": meta["seconds"]}


def _done(job: OlatJob, seed: int) -> bool:
    return (job.directory / subject_name(seed) / MANIFEST).exists()


def run(job: OlatJob, progress: bool = True) -> dict:
    """Render every subject of the job (finished ones are skipped unless ``overwrite``)."""
    from tqdm import tqdm

    if job.threads:
        os.environ["DRJIT_NUM_THREADS"] = str(job.threads)
    mitsuba()
    if job.threads:
        import drjit as dr

        dr.set_thread_count(job.threads)
    job.directory.mkdir(parents=True, exist_ok=True)
    ids = [s for s in job.scene_ids() if job.overwrite or not _done(job, s)]
    t0 = time.perf_counter()
    done = [render_subject(job, s) for s in tqdm(ids, desc=f"olat {job.split}", unit="subject", disable=not progress)]
    return {
        "subjects": done,
        "skipped": len(job.scene_ids()) - len(ids),
        "variant": current_variant(),
        "seconds": round(time.perf_counter() - t0, 2),
        "host": platform.node(),
        "job": asdict(job),
    }


def subject_folders(root: str | Path, split: str | None = None) -> list[Path]:
    """The OLAT folders under `root` (or `root/split`), sorted by name."""
    base = Path(root) / split if split else Path(root)
    if not base.is_dir():
        raise FileNotFoundError(f"OLAT data folder not found: {base} (render it with `neurecon render --olat`)")
    if (base / MANIFEST).exists():
        return [base]
    found = sorted(p for p in base.iterdir() if (p / MANIFEST).exists())
    if not found:
        raise FileNotFoundError(f"no OLAT folders (with {MANIFEST}) in {base}")
    return found
