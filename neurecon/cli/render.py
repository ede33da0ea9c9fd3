"""`neurecon render`: a procedural Mitsuba (or Cycles: `--renderer cycles`, `--blend FILE…`) dataset
in OIDN's layout, OLAT folders (`--olat`) for relighting, animated sequences with motion vectors
(`--sequence`) for temporal denoising, an evaluation family (`--evalset`), or one frame
(`-o frame.exr`) of a user's scene file (`--scene`) or a procedural scene, uniformly or with
adaptive sampling (`--adaptive`)."""

from __future__ import annotations

import numpy as np


def add_parser(sub) -> None:
    r = sub.add_parser("render", help="render a procedural Mitsuba dataset in OIDN's layout")
    r.add_argument(
        "--out", default=None, help="dataset root; scenes go to OUT/SPLIT/ (data/mitsuba; --olat: data/olat)"
    )
    r.add_argument("--split", choices=["train", "valid", "test"], default="train")
    r.add_argument("--scenes", type=int, default=8, help="scenes (with --sequence: sequences)")
    r.add_argument("--size", type=int, default=None, help="image width = height in pixels (128; --olat: 64)")
    r.add_argument("--spp", type=int, nargs="+", default=None, help="noisy spp ladder (4 16; --olat: one count, 256)")
    r.add_argument("--ref-spp", type=int, default=1024)
    r.add_argument("--seed", type=int, default=0, help="first scene seed inside the split's range")
    r.add_argument("--sampler", choices=["independent", "ldsampler"], default="independent")
    r.add_argument(
        "--generator",
        choices=["procedural", "grammar"],
        default="procedural",
        help="procedural scenes: the original generator, or the wider scene grammar (recipes kept in metadata.json)",
    )
    r.add_argument(
        "--renderer",
        choices=["mitsuba", "cycles"],
        default=None,
        help="mitsuba (default) or cycles: Blender Cycles on the same procedural scenes, its default "
        "pixel filter, Denoising Albedo/Normal and Vector passes (needs `bash scripts/setup.sh --cycles`)",
    )
    r.add_argument(
        "--blend",
        nargs="+",
        metavar="FILE",
        default=None,
        help="render these .blend files with Cycles (their camera, lights, materials; --size overrides "
        "the resolution) instead of procedural scenes",
    )
    r.add_argument(
        "--lobes",
        action="store_true",
        help="mitsuba: also write the colour split by the first bounce's lobe, diffuse + specular = colour "
        "(.diff/.spec and their variances .diff_var/.spec_var; the reference .diff/.spec)",
    )
    r.add_argument(
        "--require-kind",
        nargs="+",
        default=None,
        metavar="KIND",
        help="grammar: render only the seeds whose recipe uses one of these kinds (e.g. bump normalmap photo), "
        "the first --scenes of them from --seed",
    )
    r.add_argument(
        "--variance",
        choices=["none", "halves"],
        default="none",
        help="cycles: none (Cycles has no variance pass), or halves: each noisy frame is the mean of two "
        "half-sample renders, with the variance of that mean, (a - b)^2/4, as .var/.alb_var/.nrm_var "
        "(source cycles_var)",
    )
    r.add_argument(
        "--shard",
        default="0/1",
        help="render scenes k with k %% N == i (one frame: its row bands k with k %% N == i, into -o part.npz)",
    )
    r.add_argument("--overwrite", action="store_true", help="re-render finished scenes")
    r.add_argument(
        "--sequence",
        action="store_true",
        help="render animated sequences: per frame noisy buffers, a reference and motion vectors "
        "(OUT/SPLIT/seqNNNNNN/{S}spp/frame_TTTT.exr, ref/frame_TTTT.exr)",
    )
    r.add_argument("--frames", type=int, default=8, help="--sequence: frames per sequence")
    r.add_argument(
        "--motion",
        default="mixed",
        help="--sequence: orbit | dolly | pan | objects | orbit+objects | seeds (static camera, a new "
        "seed each frame, one reference) | mixed (one moving kind per sequence)",
    )
    r.add_argument("--speed", type=float, default=1.0, help="--sequence: scale of every motion step")
    r.add_argument("--quiet", action="store_true")
    f = r.add_argument_group("one frame (a Mitsuba scene file or a procedural scene) into one multi-layer EXR")
    f.add_argument(
        "--scene",
        metavar="XML",
        help="a Mitsuba 3 scene file: its own sensor and integrator, the film replaced by a box-filtered "
        "hdrfilm of height --size at the sensor's aspect; needs -o",
    )
    f.add_argument("-o", "--output", metavar="EXR", help="the frame to write (every buffer, variances, spp.Y)")
    f.add_argument(
        "--adaptive",
        action="store_true",
        help="adaptive sampling: 16 spp (a quarter of smaller budgets) then passes doubling the total, "
        "new samples in proportion to --guide; without --scene a procedural scene (--split, --seed)",
    )
    f.add_argument("--budget", type=int, default=64, help="--adaptive: average samples per pixel in total")
    f.add_argument("--guide", choices=GUIDES, default="smape", help="--adaptive: what places the new samples")
    f.add_argument("--cap", type=float, default=8.0, help="--adaptive: at most CAP × a pass's mean per pixel")
    f.add_argument(
        "--times-spp",
        action="store_true",
        help="--adaptive with a predicted guide: new samples ∝ predicted error × samples so far "
        "(default: ∝ predicted error, as Vogels et al. §5)",
    )
    f.add_argument("--predictor", default=None, help="--adaptive: error predictor (shipped name or .pt)")
    f.add_argument("--model", default=None, help="--adaptive: the denoiser whose error is predicted")
    f.add_argument("--render-seed", type=int, default=0, help="one frame: the sampler's seed")
    f.add_argument(
        "--workers",
        type=int,
        default=1,
        help="one frame: render each pass's row bands in N spawned processes (--threads Dr.Jit threads "
        "each, default 1); the result is bit-identical to one process",
    )
    f.add_argument(
        "--merge",
        nargs="+",
        metavar="NPZ",
        help="pool the shards of a uniform one-frame render (`--shard i/N -o part_i.npz`) into -o frame.exr",
    )
    e = r.add_argument_group("evaluation families (hand-built scenes training never sees; neurecon/render/evalsets/)")
    e.add_argument(
        "--evalset",
        metavar="FAMILY",
        help="render an evaluation family (classic) flat into OUT (default data/eval_FAMILY) in OIDN's "
        "layout with metadata.json; --size (default 256), --spp, --ref-spp and --overwrite apply",
    )
    e.add_argument("--evalset-scenes", nargs="+", metavar="NAME", help="only these scenes of the family")
    o = r.add_argument_group("OLAT (a virtual light stage for relighting; see neurecon/render/olat.py)")
    o.add_argument(
        "--olat",
        action="store_true",
        help="render OLAT folders (one subject lit by one point light at a time) instead of denoising "
        "data: OUT/SPLIT/subjectNNNNNN/olat.json; --spp is the samples per pixel of every light (default 256)",
    )
    o.add_argument("--lights", type=int, default=64, help="captured light directions (Fibonacci layout)")
    o.add_argument("--heldout", type=int, default=16, help="held-out directions between the captured ones")
    o.add_argument("--layout", choices=["hemisphere", "sphere"], default="hemisphere")
    o.add_argument("--ground", type=float, default=0.7, help="probability of a ground disk under a subject")
    o.add_argument("--distance", type=float, default=6.0, help="light distance from the subject's centre")
    o.add_argument(
        "--threads",
        type=int,
        default=0,
        help="render threads: Dr.Jit (with --workers: per worker, default 1) or Cycles (0 = all cores)",
    )
    r.add_argument(
        "--recipe",
        metavar="CONFIG",
        help="render every job a training recipe's render: section names "
        "(finished scenes are skipped); the other options are ignored",
    )
    r.set_defaults(func=run)


GUIDES = ["smape", "relmse", "dssim", "variance", "uniform"]


def _scene_factory(a):
    """A picklable callable building the one-frame scene (each worker process builds its own)."""
    from functools import partial

    if a.scene:
        from ..render.scene_file import load_scene_file

        return partial(load_scene_file, a.scene, a.size), a.scene
    from ..render.dataset import SPLIT_SEED_BASE
    from ..render.scenes import random_scene

    scene_seed = SPLIT_SEED_BASE[a.split] + a.seed
    return partial(random_scene, scene_seed, 128 if a.size is None else a.size, a.sampler), (
        f"procedural scene {scene_seed}"
    )


def _run_frame(a) -> None:
    """One frame of a scene file (--scene) or a procedural scene into -o, uniform or --adaptive,
    in this process, over --workers processes, or one --shard of it into an npz."""
    import time
    from contextlib import nullcontext

    from ..render.adaptive import AdaptiveRenderer, adaptive_render, uniform_guide, variance_guide, write_frame
    from ..render.dataset import parse_shard

    if not a.output:
        raise ValueError("a one-frame render (--scene / --adaptive) needs -o frame.exr")
    shard = parse_shard(a.shard)
    want = ".npz" if shard != (0, 1) else ".exr"
    if not a.output.lower().endswith(want):
        raise ValueError(
            f"-o {a.output}: a shard is a .npz of sums (merge them with --merge)"
            if want == ".npz"
            else f"-o {a.output}: the frame is a multi-layer .exr"
        )
    if shard != (0, 1) and (a.adaptive or a.workers > 1):
        raise ValueError(
            "--shard renders one part of a uniform pass; an adaptive pass depends on the merged "
            "passes before it: use --workers N on one machine (or shard the frames of a sequence)"
        )
    make_scene, what = _scene_factory(a)
    if a.workers > 1:
        from ..render.shard import PooledRenderer

        renderer = PooledRenderer(make_scene, a.workers, threads=a.threads or 1)
        context = renderer
    else:
        renderer = AdaptiveRenderer(make_scene())
        context = nullcontext(renderer)
    t0 = time.perf_counter()
    with context:
        if not a.adaptive:
            spp = _one_spp(a.spp, default=16, what="a one-frame render")
            if shard != (0, 1):
                from ..render.shard import render_shard

                units = render_shard(renderer, np.full(renderer.shape, spp), a.render_seed, shard, a.output)
                if not a.quiet:
                    print(
                        f"{a.output}: shard {a.shard} of {what} at {spp} spp ({units} units, "
                        f"{time.perf_counter() - t0:.1f} s)"
                    )
                return
            stats = renderer.render_uniform(spp, a.render_seed)
            how = f"{spp} spp"
        else:
            if a.budget < 1:
                raise ValueError(f"--budget must be ≥ 1 spp, got {a.budget}")
            if a.guide == "uniform":
                guide = uniform_guide
            elif a.guide == "variance":
                guide = variance_guide
            else:
                from ..infer.errormap import ErrorMapper

                guide = ErrorMapper.load(a.predictor, a.model).guide(a.guide, times_spp=a.times_spp)
            result = adaptive_render(renderer, a.budget, guide, seed=a.render_seed, cap=a.cap)
            stats = result.stats
            how = (
                f"{a.budget} spp on average, {a.guide}-guided, passes at "
                + ", ".join(str(p["total_spp"]) for p in result.passes)
                + f" spp, {int(stats.counts.min())}–{int(stats.counts.max())} per pixel"
            )
    write_frame(a.output, stats)
    if not a.quiet:
        workers = f", {a.workers} workers" if a.workers > 1 else ""
        print(
            f"{a.output}: {what} at {renderer.width}×{renderer.height}, {how} "
            f"({time.perf_counter() - t0:.1f} s{workers}); denoise it with `neurecon denoise {a.output}`"
        )


def _run_merge(a) -> None:
    from ..render.adaptive import write_frame
    from ..render.shard import merge_shards

    if not a.output or not a.output.lower().endswith(".exr"):
        raise ValueError("--merge needs -o frame.exr")
    stats = merge_shards(a.merge)
    write_frame(a.output, stats)
    if not a.quiet:
        print(f"{a.output}: {len(a.merge)} shard(s) merged, {stats.width}×{stats.height}, {stats.total} samples")


def _one_spp(spp: list[int] | None, default: int = 256, what: str = "an OLAT render") -> int:
    if spp and len(spp) != 1:
        raise ValueError(f"{what} takes one --spp count")
    if spp and spp[0] < 1:
        raise ValueError(f"--spp must be ≥ 1, got {spp[0]}")
    return spp[0] if spp else default


def _run_olat(job, a) -> None:
    from ..render.dataset import parse_shard
    from ..render.olat import run as run_olat

    job.shard, job.overwrite = parse_shard(a.shard), a.overwrite
    if a.threads:
        job.threads = a.threads
    meta = run_olat(job, progress=not a.quiet)
    print(
        f"{job.directory}: {len(job.scene_ids())} OLAT subject(s) ({meta['skipped']} already there), "
        f"{job.lights} + {job.heldout} held-out lights at {job.size}², {job.spp} spp, with {meta['variant']}"
    )


def _run_sequences(job, a) -> None:
    from ..render.sequence import run as run_sequences

    meta = run_sequences(job, progress=not a.quiet)
    print(
        f"{job.directory}: {len(job.sequence_ids())} sequence(s) of {job.frames} frames ({job.motion}) "
        f"with {meta['variant']}"
    )


def _run_evalset(a) -> None:
    from ..render.evalsets.job import EvalsetJob
    from ..render.evalsets.job import run as run_evalset

    job = EvalsetJob(
        out=a.out or f"data/eval_{a.evalset}",
        family=a.evalset,
        size=256 if a.size is None else a.size,
        spp=a.spp or [4, 16],
        ref_spp=a.ref_spp,
        scenes=a.evalset_scenes,
        overwrite=a.overwrite,
    )
    meta = run_evalset(job, progress=not a.quiet)
    print(
        f"{job.out}: {len(meta['scenes'])} scene(s) of '{job.family}' ({meta['skipped']} already there) "
        f"at {job.size}², {job.spp} spp, references {job.ref_spp} spp, with {meta['variant']}"
    )


def sequence_job(spec: dict, shard: tuple[int, int]):
    """A recipe's `kind: sequence` render entry (its options under `sequence:`) as a SequenceJob."""
    from ..render.sequence import SequenceJob

    spec = {k: v for k, v in spec.items() if k != "kind"}
    options = spec.pop("sequence", None) or {}
    if not isinstance(options, dict):
        raise ValueError(f"a sequence render job's sequence: is a mapping (frames, motion, speed), got {options!r}")
    return SequenceJob(**{"out": "data/temporal", **spec, **options, "shard": shard})


def run(a) -> int:
    from ..render.dataset import RenderJob, parse_shard
    from ..render.dataset import run as run_job
    from ..render.olat import OlatJob, job_from_recipe
    from ..render.sequence import SequenceJob

    if a.merge:
        _run_merge(a)
        return 0
    other = [
        f
        for f, on in (
            ("--scene/-o", a.scene or a.adaptive or a.output),
            ("--recipe", a.recipe),
            ("--evalset", a.evalset),
            ("--olat", a.olat),
            ("--sequence", a.sequence),
        )
        if on
    ]
    if a.lobes and other:
        raise ValueError(f"--lobes applies to dataset renders (no {other[0]}); a recipe's job says `lobes: true`")
    if a.scene or a.adaptive or a.output:
        _run_frame(a)
        return 0
    if a.recipe:
        from ..train.config import render_jobs

        jobs = render_jobs(a.recipe)
        if not jobs:
            raise ValueError(f"{a.recipe} names no render jobs (no render: section)")
        for spec in jobs:
            if spec.get("kind", "denoise") == "olat":
                _run_olat(job_from_recipe({"out": "data/olat", **spec}), a)
                continue
            if spec.get("kind") == "sequence":
                _run_sequences(sequence_job(spec, parse_shard(a.shard)), a)
                continue
            spec = {k: v for k, v in spec.items() if k != "kind"}
            out = "data/cycles" if spec.get("renderer") == "cycles" else "data/mitsuba"
            job = RenderJob(**{"out": out, **spec, "shard": parse_shard(a.shard)})
            job.threads = a.threads or job.threads
            meta = run_job(job, progress=not a.quiet)
            print(f"{job.directory}: {len(job.scene_ids())} scene(s) with {meta['renderer']} ({meta['variant']})")
        return 0
    if a.evalset:
        _run_evalset(a)
        return 0
    if a.olat:
        _run_olat(
            OlatJob(
                out=a.out or "data/olat",
                split=a.split,
                scenes=a.scenes,
                size=64 if a.size is None else a.size,
                spp=_one_spp(a.spp),
                seed=a.seed,
                lights=a.lights,
                heldout=a.heldout,
                layout=a.layout,
                ground=a.ground,
                distance=a.distance,
            ),
            a,
        )
        return 0
    if a.sequence:
        _run_sequences(
            SequenceJob(
                out=a.out or "data/temporal",
                split=a.split,
                scenes=a.scenes,
                frames=a.frames,
                size=128 if a.size is None else a.size,
                spp=a.spp or [4, 16],
                ref_spp=a.ref_spp,
                seed=a.seed,
                motion=a.motion,
                speed=a.speed,
                shard=parse_shard(a.shard),
                overwrite=a.overwrite,
            ),
            a,
        )
        return 0
    renderer = a.renderer or ("cycles" if a.blend else "mitsuba")
    job = RenderJob(
        out=a.out or f"data/{renderer}",
        split=a.split,
        scenes=a.scenes,
        # a .blend keeps its own resolution unless --size is given
        size=(0 if a.blend else 128) if a.size is None else a.size,
        spp=a.spp or [4, 16],
        ref_spp=a.ref_spp,
        seed=a.seed,
        sampler=a.sampler,
        shard=parse_shard(a.shard),
        overwrite=a.overwrite,
        renderer=renderer,
        blend=list(a.blend or []),
        threads=a.threads,
        generator=a.generator,
        lobes=a.lobes,
        variance=a.variance,
        require=list(a.require_kind or []),
    )
    meta = run_job(job, progress=not a.quiet)
    print(f"rendered {len(job.scene_ids())} scene(s) into {job.directory} with {meta['renderer']} ({meta['variant']})")
    return 0
