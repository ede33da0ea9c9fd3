"""`neurecon render`: a procedural Mitsuba dataset in OIDN's layout."""

from __future__ import annotations


def add_parser(sub) -> None:
    r = sub.add_parser("render", help="render a procedural Mitsuba dataset in OIDN's layout")
    r.add_argument("--out", default="data/mitsuba", help="dataset root; scenes go to OUT/SPLIT/")
    r.add_argument("--split", choices=["train", "valid", "test"], default="train")
    r.add_argument("--scenes", type=int, default=8)
    r.add_argument("--size", type=int, default=128, help="image width = height in pixels")
    r.add_argument("--spp", type=int, nargs="+", default=[4, 16], help="noisy spp ladder")
    r.add_argument("--ref-spp", type=int, default=1024)
    r.add_argument("--seed", type=int, default=0, help="first scene seed inside the split's range")
    r.add_argument("--sampler", choices=["independent", "ldsampler"], default="independent")
    r.add_argument("--shard", default="0/1", help="render scenes k with k %% N == i")
    r.add_argument("--overwrite", action="store_true", help="re-render finished scenes")
    r.add_argument("--quiet", action="store_true")
    r.add_argument(
        "--recipe",
        metavar="CONFIG",
        help="render every job a training recipe's render: section names "
        "(finished scenes are skipped); the other options are ignored",
    )
    r.set_defaults(func=run)


def run(a) -> int:
    from ..render.dataset import RenderJob, parse_shard
    from ..render.dataset import run as run_job

    if a.recipe:
        from ..train.config import render_jobs

        jobs = render_jobs(a.recipe)
        if not jobs:
            raise ValueError(f"{a.recipe} names no render jobs (no render: section)")
        for spec in jobs:
            job = RenderJob(**{"out": "data/mitsuba", **spec, "shard": parse_shard(a.shard)})
            meta = run_job(job, progress=not a.quiet)
            print(f"{job.directory}: {len(job.scene_ids())} scene(s) with {meta['variant']}")
        return 0
    job = RenderJob(
        out=a.out,
        split=a.split,
        scenes=a.scenes,
        size=a.size,
        spp=a.spp,
        ref_spp=a.ref_spp,
        seed=a.seed,
        sampler=a.sampler,
        shard=parse_shard(a.shard),
        overwrite=a.overwrite,
    )
    meta = run_job(job, progress=not a.quiet)
    print(f"rendered {len(job.scene_ids())} scene(s) into {job.directory} with {meta['variant']}")
    return 0
