"""`neurecon train CONFIG.yaml`: train the model a recipe describes (all its stages; resumes by default)."""

from __future__ import annotations


def add_parser(sub) -> None:
    t = sub.add_parser("train", help="train a model from a YAML recipe")
    t.add_argument("config")
    t.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE", help="override config entries")
    t.add_argument("--restart", action="store_true", help="ignore an existing checkpoint")
    t.add_argument("--stage", help="train only this stage of a staged recipe")
    t.set_defaults(func=run)


def run(a) -> int:
    from ..train.run import train_from_config

    train_from_config(a.config, overrides=a.set, resume=not a.restart, stage=a.stage)
    return 0
