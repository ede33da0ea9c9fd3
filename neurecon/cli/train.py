"""`neurecon train CONFIG.yaml`: train the model a recipe describes (resumes by default)."""

from __future__ import annotations


def add_parser(sub) -> None:
    t = sub.add_parser("train", help="train a model from a YAML config")
    t.add_argument("config")
    t.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE", help="override config entries")
    t.add_argument("--restart", action="store_true", help="ignore an existing checkpoint")
    t.set_defaults(func=run)


def run(a) -> int:
    from ..train.run import train_from_config

    train_from_config(a.config, overrides=a.set, resume=not a.restart)
    return 0
