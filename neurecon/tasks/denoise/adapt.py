"""The adapt recipe (§7.1): teach a trained denoiser a new data source with a few frames.

The base model's back-end (U-Net, kernel heads, compositor) stays frozen; only a new source
encoder is trained (optionally with the first U-Net block, ``first_block: true``), on the new
renderer's frames. The result is a small *adapter* — the new encoder's weights, which buffers it
reads, and the digest of the base weights it was trained against — that loads onto the base model
by name (``--model default+cycles``; :func:`neurecon.models.checkpoint.load_checkpoint`).

Config (`task:` section)::

    name: denoise_adapt
    base: default             # shipped name or .pt of the model to adapt
    source: cycles            # the new encoder's name
    buffers: null             # its buffers (default: DEFAULT_SOURCES[source])
    init_from: oidn           # start the new encoder from this encoder of the base (same width), or null: fresh
    first_block: false        # also train enc1 (the first U-Net block)
    data: {root: data/cycles, train_limit: 16, ...}   # as the denoise task; data.source is `source`
    loss: smape+dssim
"""

from __future__ import annotations

from pathlib import Path

from ...models import load_checkpoint, weights_digest
from ...nn.blocks import freeze
from ...nn.features import DEFAULT_SOURCES, source_width
from ...train.config import check_keys
from .task import DenoiseTask

ADAPT_KEYS = {"name", "base", "source", "buffers", "init_from", "first_block", "data", "loss"}


def adapter_prefixes(source: str, first_block: bool) -> list[str]:
    """The state-dict prefixes an adapter trains and ships."""
    return [f"encoders.{source}."] + (["enc1."] if first_block else [])


class AdaptTask(DenoiseTask):
    """A new source encoder on a frozen base model (see the module docstring)."""

    def __init__(self, cfg):
        t = dict(check_keys(dict(cfg.task), ADAPT_KEYS, "task"))
        self.base_name = t.pop("base", "default")
        self.new_source = t.pop("source", None)
        if not self.new_source:
            raise ValueError("task.source names the new source (e.g. cycles)")
        buffers = t.pop("buffers", None) or DEFAULT_SOURCES.get(self.new_source)
        if buffers is None:
            raise ValueError(
                f"source '{self.new_source}' has no default buffer list (known: {', '.join(DEFAULT_SOURCES)}); "
                "give task.buffers"
            )
        source_width(buffers)  # unknown buffer names fail here
        self.buffers = list(buffers)
        self.init_from = t.pop("init_from", None)
        self.first_block = bool(t.pop("first_block", False))
        self.base_ck = load_checkpoint(self.base_name)
        spec = dict(self.base_ck["spec"])
        if spec.get("arch") != "unet":
            raise ValueError(f"adapting needs a U-Net denoiser with per-source encoders; '{self.base_name}' is {spec}")
        if self.new_source in spec["sources"]:
            raise ValueError(
                f"'{self.base_name}' already has a '{self.new_source}' encoder; name the new source differently"
            )
        spec["sources"] = {**spec["sources"], self.new_source: self.buffers}
        self.base_digest = weights_digest(self.base_ck["model"])
        data = dict(t.get("data") or {})
        data["source"] = self.new_source
        t["data"], t["model"] = data, spec
        t["name"] = "denoise"
        super().__init__(type(cfg)(task=t, optim=cfg.optim, run=cfg.run, card=cfg.card, render=cfg.render))
        self.prefixes = adapter_prefixes(self.new_source, self.first_block)

    def build_model(self):
        from ...models import build_model

        model = build_model(self.spec)
        base = {k: v.float() for k, v in self.base_ck["model"].items()}
        missing, unexpected = model.load_state_dict(base, strict=False)
        assert not unexpected, unexpected
        assert all(k.startswith(f"encoders.{self.new_source}.") for k in missing), missing
        new = model.encoders[self.new_source]
        if self.init_from:
            if self.init_from not in self.base_ck["spec"]["sources"]:
                raise ValueError(
                    f"task.init_from '{self.init_from}' is not an encoder of '{self.base_name}' "
                    f"(it has {', '.join(self.base_ck['spec']['sources'])})"
                )
            if self.base_ck["spec"]["sources"][self.init_from] != self.buffers:
                raise ValueError(
                    f"task.init_from '{self.init_from}' reads {self.base_ck['spec']['sources'][self.init_from]}, "
                    f"the new encoder {self.buffers}: they must read the same buffers"
                )
            new.load_state_dict(model.encoders[self.init_from].state_dict())
        freeze(model)
        for name, p in model.named_parameters():
            if any(name.startswith(pre) for pre in self.prefixes):
                p.requires_grad_(True)
        return model

    def adapter_info(self) -> dict:
        """What the adapter file records about itself (models/checkpoint.py, adapters)."""
        return adapter_info(
            {
                "base": self.base_name,
                "source": self.new_source,
                "buffers": self.buffers,
                "first_block": self.first_block,
            }
        )

    @staticmethod
    def adapter_card_info(task: dict) -> dict:
        """adapter_info from a config's task section (what `neurecon adapt` writes after training)."""
        return adapter_info(task)

    @staticmethod
    def describe(cfg: dict) -> str:
        t = cfg["task"]
        d = t.get("data") or {}
        src = t.get("source")
        n = d.get("train_limit")
        return (
            f"Adapter (§7.1): a `{src}` source encoder"
            + (" and the first U-Net block" if t.get("first_block") else "")
            + f" trained on {n if n else 'all'} {src} frames"
            + (f" (started from the `{t['init_from']}` encoder)" if t.get("init_from") else "")
            + f", everything else of `{t.get('base', 'default')}` frozen; loss {t.get('loss', 'smape')}."
        )

    @staticmethod
    def describe_data(task: dict) -> dict:
        from .task import describe_data

        out = describe_data(task)
        for m in out.values():  # describe_data words Mitsuba renders; say what the files are
            if str(m.get("renderer", "")).startswith("cycles"):
                m["text"] = m["text"].replace("procedural Mitsuba scenes", "procedural scenes rendered by Cycles")
        return out


def adapter_info(task: dict) -> dict:
    """The adapter record of a `denoise_adapt` task section: base (and its weights' digest),
    source, buffers, the trained prefixes."""
    source = task["source"]
    base = task.get("base", "default")
    return {
        "base": str(base),
        "base_digest": weights_digest(load_checkpoint(base)["model"]),
        "source": source,
        "buffers": list(task.get("buffers") or DEFAULT_SOURCES[source]),
        "trained": adapter_prefixes(source, bool(task.get("first_block", False))),
    }


def adapt_config(
    recipe: str | Path,
    base: str,
    source: str,
    data: str | Path,
    frames: int,
    out: str | Path,
    buffers: list[str] | None = None,
    init_from: str | None = "recipe",
    first_block: bool = False,
) -> dict:
    """The adapt recipe's raw config with the run's choices filled in (what `neurecon adapt` and
    bench/sources.py train): base, source, data root, the first `frames` training scenes, run.out.
    `init_from` "recipe" keeps the recipe's, unless `buffers` differ from the source's default."""
    from ...train.config import read_config_file

    if frames < 1:
        raise ValueError(f"--frames must be ≥ 1, got {frames}")
    if not (Path(data) / "train").is_dir():
        raise FileNotFoundError(
            f"{Path(data) / 'train'} not found: render the new source's frames first (neurecon render)"
        )
    raw = read_config_file(Path(recipe))
    raw.pop("render", None)  # the data is given; the recipe's own render jobs are not run here
    task = raw.setdefault("task", {})
    task.update({"name": "denoise_adapt", "base": str(base), "source": source, "first_block": first_block})
    if buffers:
        task["buffers"] = list(buffers)
    if init_from != "recipe":
        task["init_from"] = init_from
    elif buffers and list(buffers) != DEFAULT_SOURCES.get(source):
        task["init_from"] = None  # the recipe's init_from reads the default buffers
    task.setdefault("data", {}).update({"root": str(data), "train_limit": int(frames)})
    raw.setdefault("run", {})["out"] = str(out)
    raw.setdefault("card", {})["name"] = f"{Path(str(base)).stem}+{source}"
    return raw
