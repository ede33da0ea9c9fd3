"""`neurecon export RUN OUT.pt`: ship a run's best weights (fp16) with a model card; or refresh a
shipped card's benchmark rows from benchmark JSONs."""

from __future__ import annotations

import json
from pathlib import Path


def add_parser(sub) -> None:
    e = sub.add_parser("export", help="ship a training run's best weights (fp16) with a model card")
    e.add_argument(
        "run",
        help="training output directory (has best.pt, metrics.jsonl), or a shipped .pt whose "
        "card's benchmark rows --scores refreshes",
    )
    e.add_argument("out", nargs="?", help="destination .pt (a .md card is written beside it)")
    e.add_argument(
        "--scores",
        nargs="+",
        help="benchmark JSONs (bench/denoise.py, bench/asymmetric.py, "
        "bench/asymmetric_noise.py) whose results for this model go into the card",
    )
    e.add_argument("--recipe", help="with a shipped .pt: regenerate its card's description from this recipe")
    e.add_argument(
        "--onnx",
        metavar="OUT.onnx",
        help="write the denoiser RUN (a shipped name such as default or fast, or a .pt) as ONNX with dynamic "
        "height and width, for `neurecon denoise --backend onnxruntime` (needs the onnx and onnxscript packages)",
    )
    e.add_argument(
        "--source",
        help="with --onnx: the buffers the graph takes, one of the model's sources (default: its first, "
        "mitsuba = colour, albedo, normal and their variances; oidn = colour, albedo, normal)",
    )
    e.add_argument(
        "--dynamo",
        action="store_true",
        help="with --onnx: export through torch.export (PyTorch's newer exporter; minutes instead of seconds)",
    )
    e.add_argument(
        "--check",
        action="store_true",
        help="with --onnx: run the file with onnxruntime on 256² and 512×384 random frames and print the "
        "max abs difference from PyTorch",
    )
    e.set_defaults(func=run)


def run(a) -> int:
    if a.onnx:
        return run_onnx(a)
    if a.source or a.check or a.dynamo:
        raise ValueError("--source, --dynamo and --check go with --onnx OUT.onnx")
    from ..models.card import export_run, refresh_card, rescore, scores_for

    benches = [json.loads(Path(f).read_text()) for f in a.scores or []]
    if a.run.endswith(".pt"):  # an already shipped model: refresh its card's description or benchmark rows
        if not benches and not a.recipe:
            raise ValueError("refreshing a shipped model's card needs --recipe CONFIG or --scores bench.json")
        if a.recipe:
            print("refreshed {} and {}".format(*refresh_card(a.run, a.recipe)))
        if benches:
            print("rescored {} and {}".format(*rescore(a.run, *benches)))
        return 0
    if not a.out:
        raise ValueError("export needs the destination .pt")
    scores: dict = {}
    for bench in benches:
        scores.update(scores_for(bench, Path(a.out).name))
    pt, md = export_run(a.run, a.out, scores)
    print(f"wrote {pt} and {md}")
    return 0


def run_onnx(a) -> int:
    if a.out or a.scores or a.recipe:
        raise ValueError("--onnx takes the model and the .onnx path only (no OUT.pt, --scores or --recipe)")
    if not a.onnx.endswith(".onnx"):
        raise ValueError(f"--onnx needs a .onnx file name, got {a.onnx}")
    from ..infer.onnx_export import check_onnx, export_onnx

    meta = export_onnx(a.run, a.onnx, a.source, dynamo=a.dynamo)
    print(f"wrote {a.onnx} ({meta['neurecon.source']} source: {', '.join(input_names(meta))})")
    if a.check:
        for (h, w), diff in check_onnx(a.run, a.onnx, [(256, 256), (384, 512)]).items():
            print(f"  {w}×{h}: max |onnxruntime − torch| = {diff:.2e}")
    return 0


def input_names(meta: dict) -> list[str]:
    return list(json.loads(meta["neurecon.inputs"]))
