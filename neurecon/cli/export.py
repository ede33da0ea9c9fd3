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
    e.set_defaults(func=run)


def run(a) -> int:
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
