"""`neurecon train CONFIG.yaml`: train the model a recipe describes (all its stages; resumes by default)."""

from __future__ import annotations


def add_parser(sub) -> None:
    t = sub.add_parser("train", help="train a model from a YAML recipe")
    t.add_argument("config")
    t.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE", help="override config entries")
    t.add_argument("--restart", action="store_true", help="ignore an existing checkpoint")
    t.add_argument("--stage", help="train only this stage of a staged recipe")
    t.add_argument(
        "--vgg19", metavar="PATH", help="torchvision's VGG19 ImageNet weights (vgg19-dcbb9e9d.pth) for vgg loss terms"
    )
    t.add_argument(
        "--vgg16", metavar="PATH", help="torchvision's VGG16 weights (vgg16-397923af.pth) for vgg16 / dists terms"
    )
    t.add_argument("--dists", metavar="PATH", help="DISTS's α/β (the weights.pt of dists-pytorch) for dists terms")
    t.set_defaults(func=run)


def run(a) -> int:
    import os
    from pathlib import Path

    from ..train.run import train_from_config

    # pretrained weights the project cannot train: the loss terms find them through the environment
    # (neurecon.nn.vgg / neurecon.nn.dists); a path that is not a file is an error now, not mid-run
    for flag, env in (("vgg19", "NEURECON_VGG19"), ("vgg16", "NEURECON_VGG16"), ("dists", "NEURECON_DISTS")):
        path = getattr(a, flag, None)
        if path:
            if not Path(path).is_file():
                raise FileNotFoundError(f"--{flag} {path}: no such file")
            os.environ[env] = str(Path(path).resolve())

    train_from_config(a.config, overrides=a.set, resume=not a.restart, stage=a.stage)
    return 0
