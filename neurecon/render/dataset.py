"""`neurecon render`: procedural training/validation/test data in OIDN's dataset layout.

Two renderers: Mitsuba 3 (``renderer: mitsuba``, the default) and Blender Cycles
(``renderer: cycles``, :mod:`.cycles_backend`, the optional ``cycles`` extra), which renders the
same procedural scenes, or a user's ``.blend`` files (``blend: [paths]``), with its own sampler,
pixel filter and passes.

Splits are disjoint ranges of scene seeds, so "test" scenes are never seen in training whatever
the scene counts:  train = [0, 1e5), valid = [1e5, 2e5), test = [2e5, 3e5). Noisy images at each
spp level use their own render seed (independent samples), the reference another.
"""

from __future__ import annotations

import json
import os
import platform
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ..io.atomic import atomic_write_text
from .mitsuba_backend import current_variant, mitsuba, render_buffers, with_lobes
from .scenes import SAMPLERS, random_scene

RENDERERS = ("mitsuba", "cycles")
VARIANCE_MODES = ("none", "halves")
GENERATORS = ("procedural", "grammar")

SPLIT_SEED_BASE = {"train": 0, "valid": 100_000, "test": 200_000}
NOISY_PLANES = ["color", "albedo", "normal", "depth", "position", "color_var", "albedo_var", "normal_var"]
REF_PLANES = ["color", "albedo", "normal", "depth"]
# --lobes: colour split by the first bounce's lobe (render/lobes.py), noisy with variances
LOBE_PLANES = ["diffuse", "specular", "diffuse_var", "specular_var"]


@dataclass
class RenderJob:
    out: str
    split: str = "train"
    scenes: int = 8
    size: int = 128
    spp: list[int] = field(default_factory=lambda: [4, 16])
    ref_spp: int = 1024
    seed: int = 0  # offset inside the split's seed range
    sampler: str = "independent"
    shard: tuple[int, int] = (0, 1)
    overwrite: bool = False
    renderer: str = "mitsuba"
    blend: list[str] = field(default_factory=list)  # cycles: user .blend files instead of procedural scenes
    threads: int = 0  # render threads (0 = the renderer's choice: all cores)
    generator: str = "procedural"  # mitsuba: scenes.random_scene, or "grammar" (render.grammar: wider, recipes kept)
    lobes: bool = False  # mitsuba: also write the diffuse/specular split (render/lobes.py)
    variance: str = "none"  # cycles: "halves" = each noisy frame from two half-sample renders, with their variance
    # grammar: keep only the seeds whose recipe uses one of these kinds (e.g. bump, normalmap, photo)
    require: list[str] = field(default_factory=list)

    def validate(self) -> None:
        """A clear ValueError for a job that cannot render (before Mitsuba is loaded)."""
        if self.renderer not in RENDERERS:
            raise ValueError(f"unknown renderer '{self.renderer}'; choose from {', '.join(RENDERERS)}")
        if self.blend and self.renderer != "cycles":
            raise ValueError("--blend files render with Cycles (renderer: cycles)")
        missing = [b for b in self.blend if not Path(b).is_file()]
        if missing:
            raise ValueError(f".blend file(s) not found: {', '.join(missing)}")
        if self.lobes and self.renderer != "mitsuba":
            raise ValueError("--lobes (the diffuse/specular split) renders with Mitsuba")
        if self.variance not in VARIANCE_MODES:
            raise ValueError(f"unknown variance mode '{self.variance}'; choose from {', '.join(VARIANCE_MODES)}")
        if self.variance == "halves":
            if self.renderer != "cycles":
                raise ValueError("variance halves applies to Cycles (Mitsuba writes its variances itself)")
            odd = [v for v in (self.spp if isinstance(self.spp, (list, tuple)) else [self.spp]) if v % 2 or v < 2]
            if odd:
                raise ValueError(f"variance halves splits each frame's spp in two: spp must be even, got {odd}")
        if self.renderer == "cycles" and self.sampler != "independent":
            raise ValueError("--sampler applies to Mitsuba; Cycles renders with its own default sampling pattern")
        if self.sampler not in SAMPLERS:
            raise ValueError(f"unknown sampler '{self.sampler}'; choose from {', '.join(SAMPLERS)}")
        if self.generator not in GENERATORS:
            raise ValueError(f"unknown scene generator '{self.generator}'; choose from {', '.join(GENERATORS)}")
        if self.generator != "procedural" and self.renderer != "mitsuba":
            raise ValueError(f"the {self.generator} generator renders with Mitsuba")
        if self.require:
            if self.generator != "grammar":
                raise ValueError("--require-kind selects scene-grammar recipes (--generator grammar)")
            from .grammar.recipe import ALL_KINDS

            unknown = [k for k in self.require if k not in ALL_KINDS]
            if unknown:
                raise ValueError(f"unknown grammar kind(s) {unknown}; known: {', '.join(sorted(ALL_KINDS))}")
        if self.split not in SPLIT_SEED_BASE:
            raise ValueError(f"unknown split '{self.split}'; choose from {', '.join(SPLIT_SEED_BASE)}")
        checked = [("scenes", self.scenes), ("ref_spp", self.ref_spp)]
        if not (self.blend and self.size == 0):  # size 0: each .blend's own resolution
            checked.append(("size", self.size))
        for name, value in checked:
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"render {name} (--{name.replace('_', '-')}) must be an integer ≥ 1, got {value!r}")
        spp = self.spp if isinstance(self.spp, (list, tuple)) else [self.spp]
        if not spp or any(not isinstance(v, int) or isinstance(v, bool) or v < 1 for v in spp):
            raise ValueError(f"render spp (--spp) must be integers ≥ 1, got {self.spp!r}")
        if not isinstance(self.seed, int) or self.seed < 0:
            raise ValueError(f"render seed (--seed) must be an integer ≥ 0, got {self.seed!r}")

    def scene_ids(self) -> list[int]:
        """Scene seeds of this shard; with .blend files, indices into `blend`."""
        base = SPLIT_SEED_BASE[self.split] + self.seed
        i, n = self.shard
        if self.blend:
            return [k for k in range(len(self.blend)) if k % n == i]
        if self.require:  # the first `scenes` seeds from `base` whose recipes use a required kind
            from .grammar.recipe import seeds_using

            return [s for k, s in enumerate(seeds_using(self.require, base, self.scenes, self.size)) if k % n == i]
        return [base + k for k in range(self.scenes) if k % n == i]

    @property
    def directory(self) -> Path:
        return Path(self.out) / self.split


def scene_name(scene_seed: int, sampler: str, generator: str = "procedural") -> str:
    return (
        f"scene{scene_seed:06d}"
        + ("" if generator == "procedural" else f"_{generator}")
        + ("" if sampler == "independent" else f"_{sampler}")
    )


def blend_name(path: str) -> str:
    return Path(path).stem.replace(" ", "_")


def job_scene_name(job: RenderJob, scene_id: int) -> str:
    return blend_name(job.blend[scene_id]) if job.blend else scene_name(scene_id, job.sampler, job.generator)


def render_cycles_scene(job: RenderJob, scene_id: int) -> dict:
    """One procedural scene (or .blend file) rendered by Cycles in a child process."""
    from .cycles_backend import run_worker

    name = job_scene_name(job, scene_id)
    task = {
        "name": name,
        "seed": scene_id,
        "size": job.size,
        "spp": list(job.spp),
        "ref_spp": job.ref_spp,
        "directory": str(job.directory),
        "threads": job.threads,
        "variance": job.variance,
    }
    if job.blend:
        task["blend"] = str(Path(job.blend[scene_id]).resolve())
        task["seed"] = scene_id  # seeds 16·i + level, as for procedural scenes
    rec = run_worker(task)
    out = {"name": name, "seed": scene_id, "size": rec["cycles"]["resolution"][0], "spp": list(job.spp)}
    out.update({"ref_spp": job.ref_spp, "sampler": "cycles", "seconds": rec["seconds"], "cycles": rec["cycles"]})
    out["variance"] = job.variance
    if job.blend:
        out["blend"] = task["blend"]
        out.pop("seed")
    out["blender"] = rec["blender"]
    return out


def render_scene(job: RenderJob, scene_seed: int) -> dict:
    """Render one scene's noisy ladder and reference into job.directory; return timings."""
    from ..io import write_oidn_frame

    if job.renderer == "cycles":
        return render_cycles_scene(job, scene_seed)

    mi = mitsuba()
    name = job_scene_name(job, scene_seed)
    recipe = None
    if job.generator == "grammar":
        from .grammar import build_scene, sample_recipe

        recipe = sample_recipe(scene_seed, job.size)
        spec = build_scene(recipe, SAMPLERS[job.sampler])
    else:
        spec = random_scene(scene_seed, job.size, job.sampler)
    scene = mi.load_dict(with_lobes(spec) if job.lobes else spec)
    lobes = LOBE_PLANES if job.lobes else []
    times = {}
    for level, spp in enumerate(job.spp):
        t = time.perf_counter()
        buf = render_buffers(scene, spp, seed=scene_seed * 16 + level)
        write_oidn_frame(job.directory, name, spp, buf.subset(NOISY_PLANES + lobes))
        times[f"{spp}spp"] = round(time.perf_counter() - t, 3)
    t = time.perf_counter()
    ref = render_buffers(scene, job.ref_spp, seed=scene_seed * 16 + 15)
    write_oidn_frame(job.directory, name, "ref", ref.subset(REF_PLANES + lobes[:2]))
    times["ref"] = round(time.perf_counter() - t, 3)
    rec = {
        "name": name,
        "seed": scene_seed,
        "size": job.size,
        "spp": list(job.spp),
        "ref_spp": job.ref_spp,
        "sampler": job.sampler,
        "seconds": times,
        **({"lobes": True} if job.lobes else {}),
    }
    if recipe is not None:  # what the scene is, re-renderable without the generator's random draws
        rec.update(generator=job.generator, recipe=recipe)
    return rec


def _done(job: RenderJob, scene_seed: int) -> bool:
    return (job.directory / f"{job_scene_name(job, scene_seed)}_ref.hdr.exr").exists()


def run(job: RenderJob, progress: bool = True) -> dict:
    """Render every scene of the job (skipping finished ones unless overwrite) and merge metadata."""
    from tqdm import tqdm

    job.validate()
    job.directory.mkdir(parents=True, exist_ok=True)
    ids = [s for s in job.scene_ids() if job.overwrite or not _done(job, s)]
    if job.renderer == "cycles":
        from .cycles_backend import require_bpy

        require_bpy()
    else:
        mitsuba()
        if job.threads:
            import drjit as dr

            dr.set_thread_count(job.threads)
    meta_path = job.directory / (
        f"metadata.shard{job.shard[0]}of{job.shard[1]}.json" if job.shard[1] > 1 else "metadata.json"
    )
    meta = json.loads(meta_path.read_text()) if meta_path.exists() else {"scenes": []}
    t0 = time.perf_counter()
    engine = "cycles" if job.renderer == "cycles" else current_variant()
    for s in tqdm(ids, desc=f"render {job.split} [{engine}]", unit="scene", disable=not progress):
        rec = render_scene(job, s)
        meta["scenes"] = [r for r in meta.get("scenes", []) if r["name"] != rec["name"]] + [rec]
        _write_meta(meta, meta_path, job, time.perf_counter() - t0)  # after every scene: a killed job loses nothing
    if not ids and not meta_path.exists():
        _write_meta(meta, meta_path, job, 0.0)
    return meta


def _write_meta(meta: dict, path: Path, job: RenderJob, seconds: float) -> None:
    """Top-level fields describe every scene in the folder, not only this job's: a scene records how
    it was rendered, and a field whose scenes differ lists the distinct values."""
    for rec in meta["scenes"]:  # scenes rendered before scenes recorded this: what the folder said then
        for key in ("size", "spp", "ref_spp", "sampler"):
            rec.setdefault(key, meta.get(key, getattr(job, key)))

    def summary(key: str):
        values = sorted({json.dumps(r[key]) for r in meta["scenes"]})
        return json.loads(values[0]) if len(values) == 1 else [json.loads(v) for v in values]

    seeds = [r["seed"] for r in meta["scenes"] if "seed" in r] or [0]
    if job.renderer == "cycles":
        from .cycles_backend import BPY_VERSION

        cyc = meta["scenes"][-1].get("cycles", {}) if meta["scenes"] else {}
        engine = {
            "renderer": f"cycles (blender {BPY_VERSION})",
            "variant": "cpu",
            "sampler": "cycles",
            "integrator": "path (Cycles defaults; adaptive sampling and denoising off)",
            "pixel_filter": cyc.get("pixel_filter", "blackman_harris 1.5px"),
            "variance": job.variance,
            "source": "cycles_var" if job.variance == "halves" else "cycles",
        }
    else:
        import mitsuba as _mi

        engine = {
            "renderer": f"mitsuba {_mi.__version__}",
            "variant": current_variant(),
            "sampler": summary("sampler") if meta["scenes"] else job.sampler,
            "integrator": "moment(aov(lobes))" if job.lobes else "moment(aov(path))",
            "pixel_filter": "box",
        }
    meta.update(
        {
            **engine,
            "size": summary("size") if meta["scenes"] else job.size,
            "spp": summary("spp") if meta["scenes"] else job.spp,
            "ref_spp": summary("ref_spp") if meta["scenes"] else job.ref_spp,
            "split": job.split,
            "seed_range": [min(seeds), max(seeds) + 1]
            if meta["scenes"]
            else [SPLIT_SEED_BASE[job.split] + job.seed] * 2,
            "shard": list(job.shard),
            "host": platform.node(),
            "cpus": os.cpu_count(),
            "wall_seconds_this_run": round(seconds, 2),
            "job": asdict(job),
        }
    )
    atomic_write_text(path, json.dumps(meta, indent=1))


def parse_shard(text: str) -> tuple[int, int]:
    try:
        i, n = (int(x) for x in text.split("/"))
    except ValueError:
        raise ValueError(f"--shard takes i/N (e.g. 0/4), got '{text}'") from None
    if not 0 <= i < n:
        raise ValueError(f"--shard {text}: need 0 <= i < N")
    return i, n
