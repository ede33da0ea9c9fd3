"""Typed training configs loaded from YAML, with `key.sub=value` overrides from the command line.

A config has four sections: `task` (what is trained and on which data: free-form, validated by
the task), `optim`, `run`, and an optional `card` (text for the model card). Unknown keys in the
typed sections are an error, so a typo cannot silently train the wrong thing.

`base: other.yaml` (relative to the config's folder) starts from another config and overrides it
key by key (mappings merge, everything else replaces; `null` clears a key).

A shipped recipe is self-contained: its `render:` section lists the render jobs that make its data
(`neurecon render --recipe CONFIG` runs them), and a model trained in stages lists them under
`stages:`. Each stage states only what it changes against the stage before it (merged like
`base:`), trains into `<run.out>/<stage name>` and, unless it names its own `task.init`, starts
from the previous stage's best weights; `neurecon train CONFIG` runs the stages in order and
resumes the first unfinished one.
"""

from __future__ import annotations

import copy
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
    stop_at: int = 0  # end the run at this step, the LR schedule still spanning `iterations`; 0 = at the end
    precision: str = "fp32"  # fp32 | bf16: the forward pass under bf16 autocast (master weights, loss, validation fp32)


SECTIONS = ("task", "optim", "run", "card", "render")
RENDER_KEYS = {
    "out",
    "split",
    "scenes",
    "size",
    "spp",
    "ref_spp",
    "seed",
    "sampler",
    "kind",
    "olat",
    "renderer",
    "blend",
    "generator",
    "threads",
    "lobes",  # denoise jobs: also the diffuse/specular split (render --lobes)
    "variance",  # cycles jobs: "halves" (render --variance)
    "require",  # grammar jobs: only recipes using these kinds (render --require-kind)
}
# `kind` of a render job: denoise (the default: neurecon.render.dataset) or olat (a virtual light
# stage, neurecon.render.olat; its light-stage options go under `olat:` and are checked there)
RENDER_KINDS = ("denoise", "olat", "sequence")
RENDER_KEYS.add("sequence")  # kind: sequence — animated frames (neurecon.render.sequence), options under `sequence:`


@dataclass
class TrainConfig:
    task: dict[str, Any] = field(default_factory=dict)
    optim: OptimConfig = field(default_factory=OptimConfig)
    run: RunConfig = field(default_factory=RunConfig)
    card: dict[str, Any] = field(default_factory=dict)
    render: list[dict[str, Any]] = field(default_factory=list)

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
        elif isinstance(default, bool):
            if not isinstance(v, bool):
                raise ValueError(f"'{where}.{k}' must be true or false, got {v!r}")
        elif isinstance(default, float) and isinstance(v, (int, str)) and not isinstance(v, bool):
            try:  # YAML 1.1 reads "1e-4" (no dot) as a string
                v = float(v)
            except ValueError:
                raise ValueError(f"'{where}.{k}' must be a number, got {v!r}") from None
        elif isinstance(default, int) and (not isinstance(v, int) or isinstance(v, bool)):
            raise ValueError(f"'{where}.{k}' must be an integer, got {v!r}")
        elif isinstance(default, str) and not isinstance(v, str):
            raise ValueError(f"'{where}.{k}' must be a string, got {v!r}")
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


def _apply_overrides(raw: dict, overrides: list[str] | None) -> dict:
    raw = copy.deepcopy(raw)
    for item in overrides or []:
        if "=" not in item:
            raise ValueError(f"override '{item}' is not KEY=VALUE")
        k, v = item.split("=", 1)
        _set_dotted(raw, k, yaml.safe_load(v))
    return raw


def _build(raw: dict) -> TrainConfig:
    check_keys(raw, SECTIONS, "the config's sections")
    render = raw.get("render") or []
    if not isinstance(render, list):
        raise ValueError("'render' is a list of render jobs")
    for i, job in enumerate(render):
        check_keys(job, RENDER_KEYS, f"render[{i}]")
        if job.get("kind", "denoise") not in RENDER_KINDS:
            raise ValueError(f"render[{i}].kind must be one of {RENDER_KINDS}, got {job['kind']!r}")
        if "olat" in job and job.get("kind") != "olat":
            raise ValueError(f"render[{i}] has olat: options but is not kind: olat")
    return TrainConfig(
        task=dict(raw.get("task") or {}),
        optim=_typed(OptimConfig, raw.get("optim") or {}, "optim"),
        run=_typed(RunConfig, raw.get("run") or {}, "run"),
        card=dict(raw.get("card") or {}),
        render=[dict(j) for j in render],
    )


def _read(path_or_dict: str | Path | dict) -> dict:
    return copy.deepcopy(path_or_dict) if isinstance(path_or_dict, dict) else read_config_file(Path(path_or_dict))


def load_config(path_or_dict: str | Path | dict, overrides: list[str] | None = None) -> TrainConfig:
    """One training config; a staged recipe gives its last stage (see :func:`load_stages`)."""
    stages = load_stages(path_or_dict, overrides)
    return stages[-1][1]


def load_stages(
    path_or_dict: str | Path | dict, overrides: list[str] | None = None
) -> list[tuple[str | None, TrainConfig]]:
    """The stages of a recipe in training order as (name, config); a recipe without `stages:` is
    one stage named None. `overrides` apply to every stage."""
    raw = _read(path_or_dict)
    stages = raw.pop("stages", None)
    if stages is None:
        return [(None, _build(_apply_overrides(raw, overrides)))]
    if not isinstance(stages, list) or not stages:
        raise ValueError("'stages' is a non-empty list of {name: ..., <sections it changes>}")
    out: list[tuple[str | None, TrainConfig]] = []
    current, root, prev_out = raw, str((raw.get("run") or {}).get("out", RunConfig().out)), None
    names: set[str] = set()
    for i, stage in enumerate(stages):
        stage = dict(check_keys(stage, {"name", *SECTIONS}, f"stages[{i}]"))
        name = stage.pop("name", None)
        if not isinstance(name, str) or not name or "/" in name or name in names:
            raise ValueError(f"stages[{i}] needs a unique name without '/', got {name!r}")
        names.add(name)
        stage_render = stage.pop("render", None)
        current = _merge(current, stage)
        current["render"] = list(current.get("render") or []) + list(stage_render or [])
        cfg_raw = _apply_overrides(current, overrides)
        cfg_raw["run"] = {**(cfg_raw.get("run") or {}), "out": f"{root}/{name}"}
        task = dict(cfg_raw.get("task") or {})
        if prev_out is not None and "init" not in (stage.get("task") or {}) and task.get("name") != "denoise_lambda":
            task["init"] = f"{prev_out}/best.pt"
        cfg_raw["task"] = task
        cfg = _build(cfg_raw)
        out.append((name, cfg))
        prev_out = cfg.run.out
    return out


def render_jobs(path_or_dict: str | Path | dict) -> list[dict]:
    """Every render job a recipe names (all stages), each once, in order."""
    jobs: list[dict] = []
    for _, cfg in load_stages(path_or_dict):
        for job in cfg.render:
            if job not in jobs:
                jobs.append(job)
    return jobs
