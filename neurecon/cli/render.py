"""`neurecon render`: a procedural Mitsuba (or Cycles: `--renderer cycles`, `--blend FILE…`) dataset
in OIDN's layout, OLAT folders (`--olat`) for relighting, or animated sequences with motion vectors
(`--sequence`) for temporal denoising."""

from __future__ import annotations


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
    r.add_argument("--shard", default="0/1", help="render scenes k with k %% N == i")
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
    o.add_argument("--threads", type=int, default=0, help="Dr.Jit (OLAT) or Cycles render threads (0 = their default)")
    r.add_argument(
        "--recipe",
        metavar="CONFIG",
        help="render every job a training recipe's render: section names "
        "(finished scenes are skipped); the other options are ignored",
    )
    r.set_defaults(func=run)


def _one_spp(spp: list[int] | None) -> int:
    if spp and len(spp) != 1:
        raise ValueError("an OLAT render takes one --spp count (every light gets it)")
    return spp[0] if spp else 256


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
            meta = run_job(job, progress=not a.quiet)
            print(f"{job.directory}: {len(job.scene_ids())} scene(s) with {meta['renderer']} ({meta['variant']})")
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
    )
    meta = run_job(job, progress=not a.quiet)
    print(f"rendered {len(job.scene_ids())} scene(s) into {job.directory} with {meta['renderer']} ({meta['variant']})")
    return 0
