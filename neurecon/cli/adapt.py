"""`neurecon adapt`: teach a trained denoiser a new renderer with a few frames (§7.1) — a new source
encoder trained with everything else frozen, written as a small adapter file with a card."""

from __future__ import annotations

from pathlib import Path

RECIPE = Path(__file__).resolve().parents[2] / "configs" / "denoise_adapt" / "cycles.yaml"


def add_parser(sub) -> None:
    p = sub.add_parser("adapt", help="train a new source encoder on a frozen model; write an adapter file")
    p.add_argument("--base", default="default", help="the model to adapt: a shipped name or .pt (default: default)")
    p.add_argument("--source", required=True, help="the new source's name (e.g. cycles)")
    p.add_argument(
        "--data", required=True, help="dataset root in OIDN's layout with train/ and valid/ (neurecon render)"
    )
    p.add_argument("--frames", type=int, required=True, help="training frames: the first N scenes of DATA/train")
    p.add_argument(
        "--buffers",
        nargs="+",
        default=None,
        help="the buffers the new encoder reads (default: the source's known list, e.g. cycles: color albedo normal)",
    )
    p.add_argument(
        "--init-from", default=None, help="start the encoder from this base encoder (same buffers); 'none': fresh"
    )
    p.add_argument("--first-block", action="store_true", help="also train the first U-Net block")
    p.add_argument("--config", default=str(RECIPE), help="the adapt recipe (optimiser, iterations, …)")
    p.add_argument("--out", default=None, help="training run directory (default runs/adapt_<source>_<frames>)")
    p.add_argument("-o", "--output", default=None, help="the adapter file (default <out>/adapter.pt)")
    p.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE", help="override recipe entries")
    p.add_argument("--restart", action="store_true", help="ignore an existing checkpoint of the run")
    p.set_defaults(func=run)


def run(a) -> int:
    from ..models.card import export_adapter
    from ..tasks.denoise.adapt import adapt_config
    from ..train.run import train_from_config

    out = a.out or f"runs/adapt_{a.source}_{a.frames}"
    init_from = "recipe" if a.init_from is None else (None if a.init_from.lower() == "none" else a.init_from)
    raw = adapt_config(a.config, a.base, a.source, a.data, a.frames, out, a.buffers, init_from, a.first_block)
    train_from_config(raw, overrides=a.set, resume=not a.restart)
    run_dir = Path(out)
    for key in a.set:  # run.out may come from --set
        if key.startswith("run.out="):
            run_dir = Path(key.split("=", 1)[1])
    dst = Path(a.output) if a.output else run_dir / "adapter.pt"
    pt, md = export_adapter(run_dir, dst)
    print(f"wrote {pt} ({pt.stat().st_size / 1024:.0f} KiB) and {md}; load it with --model {a.base}+{pt}")
    return 0
