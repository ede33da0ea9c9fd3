"""Typed training configs loaded from YAML, with `key.sub=value` overrides from the command line.

A config has four sections: `task` (what is trained and on which data: free-form, validated by
the task), `optim`, `run`, and an optional `card` (text for the model card). Unknown keys in the
typed sections are an error, so a typo cannot silently train the wrong thing.

`base: other.yaml` (relative to the config's folder) starts from another config and overrides it
key by key (mappings merge, everything else replaces; `null` clears a key): a later training
stage states only what it changes.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml


@dataclass
class OptimConfig:
    name: str = "adam"  # adam | lamb
    lr: float = 1e-4
    betas: tuple[float, float] = (0.9, 0.999)
    weight_decay: float = 0.0
    grad_clip: float = 0.0  # max global grad norm; 0 = off
    schedule: str = "constant"  # constant | cosine
    warmup: int = 0
    min_lr_ratio: float = 0.0  # cosine ends at lr * min_lr_ratio
    ema: float = 0.0  # decay of a moving average of the weights that validation and best.pt use; 0 = off


@dataclass
class RunConfig:
    out: str = "runs/untitled"
    iterations: int = 1000
    val_every: int = 200
    ckpt_every: int = 200
    log_every: int = 20
    seed: int = 0
    threads: int = 0  # torch intra-op threads; 0 = torch's default
    tensorboard: bool = False
    max_minutes: float = 0.0  # stop (with a checkpoint) after this wall time; 0 = no limit
    precision: str = "fp32"  # fp32 | bf16: the forward pass under bf16 autocast (master weights, loss, validation fp32)


@dataclass
class TrainConfig:
    task: dict[str, Any] = field(default_factory=dict)
    optim: OptimConfig = field(default_factory=OptimConfig)
    run: RunConfig = field(default_factory=RunConfig)
    card: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def check_keys(section: dict, allowed, where: str) -> dict:
    """The one validator of config keys: a key outside `allowed` is an error naming where it was
    (a typo must not silently train the wrong thing). Returns `section`."""
    if not isinstance(section, dict):
        raise ValueError(f"'{where}' must be a mapping, got {type(section).__name__}")
    unknown = set(section) - set(allowed)
    if unknown:
        raise ValueError(f"unknown key(s) {sorted(unknown)} in '{where}'; allowed: {sorted(allowed)}")
    return section


def _typed(cls, data: dict, where: str):
    check_keys(data, {f.name for f in dataclasses.fields(cls)}, where)
    kw = {}
    for k, v in data.items():
        default = getattr(cls(), k)
        if isinstance(default, tuple) and isinstance(v, list):
            v = tuple(v)
        elif isinstance(default, float) and isinstance(v, (int, str)):
            try:  # YAML 1.1 reads "1e-4" (no dot) as a string
                v = float(v)
            except ValueError:
                raise ValueError(f"'{where}.{k}' must be a number, got {v!r}") from None
        kw[k] = v
    return cls(**kw)


def _set_dotted(d: dict, key: str, value: Any) -> None:
    parts = key.split(".")
    for p in parts[:-1]:
        d = d.setdefault(p, {})
    d[parts[-1]] = value


def _merge(base: dict, over: dict) -> dict:
    out = dict(base)
    for k, v in over.items():
        if v is None:  # `key: null` in the child removes the base's value (the default applies)
            out.pop(k, None)
        else:
            out[k] = _merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def read_config_file(path: Path, _chain: tuple[Path, ...] = ()) -> dict:
    """A config file's raw dict with its `base:` chain resolved."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"config not found: {path}" + (f" (base of {_chain[-1]})" if _chain else ""))
    if path.resolve() in _chain:
        raise ValueError(f"config base cycle: {' → '.join(map(str, _chain + (path.resolve(),)))}")
    raw = yaml.safe_load(path.read_text()) or {}
    if not isinstance(raw, dict):
        raise ValueError(f"{path}: a config is a mapping of sections, got {type(raw).__name__}")
    base = raw.pop("base", None)
    if base is None:
        return raw
    return _merge(read_config_file(path.parent / base, _chain + (path.resolve(),)), raw)


def load_config(path_or_dict: str | Path | dict, overrides: list[str] | None = None) -> TrainConfig:
    if isinstance(path_or_dict, dict):
        raw = dict(path_or_dict)
    else:
        raw = read_config_file(Path(path_or_dict))
    for item in overrides or []:
        if "=" not in item:
            raise ValueError(f"override '{item}' is not KEY=VALUE")
        k, v = item.split("=", 1)
        _set_dotted(raw, k, yaml.safe_load(v))
    check_keys(raw, {"task", "optim", "run", "card"}, "the config's sections")
    return TrainConfig(
        task=dict(raw.get("task") or {}),
        optim=_typed(OptimConfig, raw.get("optim") or {}, "optim"),
        run=_typed(RunConfig, raw.get("run") or {}, "run"),
        card=dict(raw.get("card") or {}),
    )
