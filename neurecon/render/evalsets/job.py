"""Render an evaluation family into OIDN's dataset layout (the test split's files, flat in OUT/):
per scene the noisy spp ladder with every feature and variance, a reference, and `metadata.json`
naming each scene and how it was rendered. Seeds are a hash of (scene name, level), so a scene
re-renders identically whatever else the family holds; finished scenes are skipped."""

from __future__ import annotations

import json
import os
import platform
import time
import zlib
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ...io.atomic import atomic_write_text
from ..mitsuba_backend import current_variant, mitsuba, render_buffers

# the planes the training splits write too (neurecon.render.dataset is not imported: it pulls in the
# training generator, which this family must stay independent of)
NOISY_PLANES = ["color", "albedo", "normal", "depth", "position", "color_var", "albedo_var", "normal_var"]
REF_PLANES = ["color", "albedo", "normal", "depth"]


@dataclass
class EvalsetJob:
    out: str
    family: str = "classic"
    size: int = 256
    spp: list[int] = field(default_factory=lambda: [4, 16])
    ref_spp: int = 1024
    scenes: list[str] | None = None  # None: the whole family
    overwrite: bool = False

    def validate(self) -> list[str]:
        """The scene names to render; a clear ValueError for a job that cannot render."""
        from . import FAMILIES

        if self.family not in FAMILIES:
            raise ValueError(f"unknown evaluation family '{self.family}'; choose from {', '.join(FAMILIES)}")
        for name, value in (("size", self.size), ("ref_spp", self.ref_spp)):
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"evalset {name} (--{name.replace('_', '-')}) must be an integer ≥ 1, got {value!r}")
        if not self.spp or any(not isinstance(v, int) or isinstance(v, bool) or v < 1 for v in self.spp):
            raise ValueError(f"evalset spp (--spp) must be integers ≥ 1, got {self.spp!r}")
        family = FAMILIES[self.family]
        names = list(family) if not self.scenes else list(self.scenes)
        unknown = [n for n in names if n not in family]
        if unknown:
            raise ValueError(f"family '{self.family}' has no scene {', '.join(unknown)}; it has {', '.join(family)}")
        return names


def scene_seed(name: str, level: int) -> int:
    """A render seed from the scene's name and the level (spp index; the reference is level 15)."""
    return zlib.crc32(f"{name}/{level}".encode()) & 0x7FFFFFFF


def render_scene(job: EvalsetJob, name: str) -> dict:
    from ...io import write_oidn_frame
    from . import FAMILIES

    mi = mitsuba()
    scene_fn = FAMILIES[job.family][name]
    scene = mi.load_dict(scene_fn((job.size, job.size)))
    out = Path(job.out)
    times = {}
    for level, spp in enumerate(job.spp):
        t = time.perf_counter()
        buf = render_buffers(scene, spp, seed=scene_seed(name, level))
        write_oidn_frame(out, name, spp, buf.subset(NOISY_PLANES))
        times[f"{spp}spp"] = round(time.perf_counter() - t, 3)
    t = time.perf_counter()
    ref = render_buffers(scene, job.ref_spp, seed=scene_seed(name, 15))
    write_oidn_frame(out, name, "ref", ref.subset(REF_PLANES))
    times["ref"] = round(time.perf_counter() - t, 3)
    return {
        "name": name,
        "family": job.family,
        "description": (scene_fn.__doc__ or "").strip().split("\n\n")[0].replace("\n", " "),
        "size": job.size,
        "spp": list(job.spp),
        "ref_spp": job.ref_spp,
        "seeds": {**{f"{s}spp": scene_seed(name, i) for i, s in enumerate(job.spp)}, "ref": scene_seed(name, 15)},
        "seconds": times,
    }


def run(job: EvalsetJob, progress: bool = True) -> dict:
    """Render the job's scenes (skipping finished ones unless overwrite); metadata after every scene."""
    from tqdm import tqdm

    names = job.validate()
    out = Path(job.out)
    out.mkdir(parents=True, exist_ok=True)
    meta_path = out / "metadata.json"
    meta = json.loads(meta_path.read_text()) if meta_path.exists() else {"scenes": []}
    todo = [n for n in names if job.overwrite or not (out / f"{n}_ref.hdr.exr").exists()]
    mitsuba()
    t0 = time.perf_counter()
    for name in tqdm(todo, desc=f"render {job.family} [{current_variant()}]", unit="scene", disable=not progress):
        rec = render_scene(job, name)
        meta["scenes"] = [r for r in meta["scenes"] if r["name"] != name] + [rec]
        _write_meta(meta, meta_path, job, time.perf_counter() - t0)  # a killed job loses nothing
    if not meta_path.exists():
        _write_meta(meta, meta_path, job, 0.0)
    meta["skipped"] = len(names) - len(todo)
    return meta


def _write_meta(meta: dict, path: Path, job: EvalsetJob, seconds: float) -> None:
    import mitsuba as _mi

    from . import FAMILIES

    order = list(FAMILIES[job.family])
    meta["scenes"].sort(key=lambda r: order.index(r["name"]) if r["name"] in order else len(order))
    meta.update(
        {
            "family": job.family,
            "renderer": f"mitsuba {_mi.__version__}",
            "variant": current_variant(),
            "sampler": "independent",
            "integrator": "moment(aov(path))",
            "pixel_filter": "box",
            "host": platform.node(),
            "cpus": os.cpu_count(),
            "wall_seconds_this_run": round(seconds, 2),
            "job": asdict(job),
        }
    )
    atomic_write_text(path, json.dumps(meta, indent=1))
