"""The `neurecon` command line. Each subcommand imports its machinery lazily so that
`neurecon inspect` does not pay for torch and `neurecon denoise` does not pay for Mitsuba."""
from __future__ import annotations

import argparse
import sys


def _render(a) -> int:
    from .render.dataset import RenderJob, parse_shard, run

    job = RenderJob(out=a.out, split=a.split, scenes=a.scenes, size=a.size, spp=a.spp, ref_spp=a.ref_spp,
                    seed=a.seed, sampler=a.sampler, shard=parse_shard(a.shard), overwrite=a.overwrite)
    meta = run(job, progress=not a.quiet)
    print(f"rendered {len(job.scene_ids())} scene(s) into {job.directory} with {meta['variant']}")
    return 0


def _inspect(a) -> int:
    from .inspect import inspect_paths

    return inspect_paths(a.files, as_json=a.json)


def _train(a) -> int:
    from .train.run import train_from_config

    train_from_config(a.config, overrides=a.set, resume=not a.restart)
    return 0


def _denoise(a) -> int:
    from .denoise import denoise_cli

    return denoise_cli(a)


def _lambda(a) -> int:
    from .explore import explore_cli

    return explore_cli(a)


def _demo(a) -> int:
    from .demo import run_demo

    return run_demo(a.out, size=a.size, spp=a.spp, ref_spp=a.ref_spp, seed=a.seed, model=a.model)


def _upscale(a) -> int:
    from .sr.cli import upscale_cli

    return upscale_cli(a)


def _export(a) -> int:
    import json
    from pathlib import Path

    from .models.card import export_run, rescore, scores_for

    import yaml

    if a.run.endswith(".pt"):  # an already shipped model: refresh its card's benchmark rows only
        if not a.scores:
            raise ValueError("refreshing a shipped model's card needs --scores bench.json")
        pt, md = rescore(a.run, *(json.loads(Path(f).read_text()) for f in a.scores))
        print(f"rescored {pt} and {md}")
        return 0
    if not a.out:
        raise ValueError("export needs the destination .pt")
    task = yaml.safe_load((Path(a.run) / "config.yaml").read_text())["task"].get("name")
    if task == "sr":  # SR cards measure PSNR-Y/SSIM-Y with the exported weights
        from .sr.export import export_run as export_sr

        out = Path(a.out)
        card = export_sr(a.run, out.stem, out.parent)
        print(f"wrote {out} (PSNR-Y {card['valid_psnr_y']:.2f} dB)")
        return 0
    scores = {}
    for f in a.scores or []:
        scores.update(scores_for(json.loads(Path(f).read_text()), Path(a.out).name))
    pt, md = export_run(a.run, a.out, scores)
    print(f"wrote {pt} and {md}")
    return 0


def _add_frame_args(p: argparse.ArgumentParser, many: bool = False) -> None:
    if many:
        p.add_argument("input", nargs="*", help="multi-layer EXR(s) with colour and features; several "
                                                "frames (a sequence) go into the directory -o names")
    else:
        p.add_argument("input", nargs="?", help="multi-layer EXR with colour and features")
    p.add_argument("--hdr", help="colour image (EXR/PFM)")
    p.add_argument("--alb", help="albedo image")
    p.add_argument("--nrm", help="normal image")
    p.add_argument("--var", help="colour variance image")


def _add_run_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--maxmem", type=int, default=2048, help="memory budget in MB: larger frames are tiled")
    p.add_argument("--precision", choices=["auto", "fp32", "bf16"], default="auto",
                   help="auto: the conv trunk in bf16 on CPUs with native bf16 (AVX512-BF16/AMX), else fp32")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="neurecon", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)

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
    r.set_defaults(func=_render)

    i = sub.add_parser("inspect", help="list the buffers in EXR/PFM/PNG files with ranges and NaN/Inf counts")
    i.add_argument("files", nargs="+")
    i.add_argument("--json", action="store_true")
    i.set_defaults(func=_inspect)

    t = sub.add_parser("train", help="train a model from a YAML config")
    t.add_argument("config")
    t.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE", help="override config entries")
    t.add_argument("--restart", action="store_true", help="ignore an existing checkpoint")
    t.set_defaults(func=_train)

    d = sub.add_parser("denoise", help="denoise renders (multi-layer EXRs or OIDN-style separate files)")
    _add_frame_args(d, many=True)
    d.add_argument("-o", "--output", required=True, help="output image, or a directory for a sequence")
    d.add_argument("--model", default=None,
                   help="fast | balanced | high (speed/quality presets, as OIDN's modes), kpcn, lambda, "
                        "balanced_lambda, kpcn_lambda, or a checkpoint path; default: high, the best "
                        "quality at ≥ OIDN's speed")
    _add_run_args(d)
    d.add_argument("--lambda", dest="lam", type=float, default=None,
                   help="λ ≥ 1: keep more input detail (and noise); uses the 'lambda' model unless --model")
    d.add_argument("--lambda-map", help="spatially varying λ as an image (EXR/PFM/PNG; its mean over channels)")
    d.set_defaults(func=_denoise)

    x = sub.add_parser("lambda", help="sweep λ over a frame: one EXR per λ and a page with a λ slider")
    _add_frame_args(x)
    x.add_argument("--out", required=True, help="directory for index.html, lambda_<λ>.exr and lambda.json")
    x.add_argument("--lambdas", type=float, nargs="+", default=None,
                   help="λ values ≥ 1 (default 1 1.5 2 3 5 7 10; the shipped λ models were trained for 1–10)")
    x.add_argument("--reference", help="a clean image of the frame: adds relMSE/SMAPE/DSSIM per λ")
    x.add_argument("--model", default="lambda", help="lambda | balanced_lambda | kpcn_lambda | a checkpoint path")
    _add_run_args(x)
    x.set_defaults(func=_lambda)

    m = sub.add_parser("demo", help="render a scene, denoise it with the default model and with OIDN, write a report")
    m.add_argument("--out", default="demo")
    m.add_argument("--size", type=int, default=256)
    m.add_argument("--spp", type=int, default=4)
    m.add_argument("--ref-spp", type=int, default=1024)
    m.add_argument("--seed", type=int, default=200_000)
    m.add_argument("--model", default=None)
    m.set_defaults(func=_demo)

    e = sub.add_parser("export", help="ship a training run's best weights (fp16) with a model card")
    e.add_argument("run", help="training output directory (has best.pt, metrics.jsonl), or a shipped .pt whose "
                               "card's benchmark rows --scores refreshes")
    e.add_argument("out", nargs="?", help="destination .pt (a .md card is written beside it)")
    e.add_argument("--scores", nargs="+", help="benchmark JSONs (bench/denoise.py, bench/asymmetric.py, "
                                               "bench/asymmetric_noise.py) whose results for this model go into the card")
    e.set_defaults(func=_export)

    u = sub.add_parser("upscale", help="super-resolve an image")
    u.add_argument("input")
    u.add_argument("-o", "--output", required=True)
    u.add_argument("--scale", type=int, choices=[2, 3, 4], default=2)
    u.add_argument("--model", default=None)
    u.add_argument("--tile", type=int, default=256)
    u.set_defaults(func=_upscale)
    return p


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (ValueError, FileNotFoundError) as e:  # BufferError is a ValueError: user-facing
        print(f"neurecon {args.command}: error: {e}", file=sys.stderr)
        return 2
