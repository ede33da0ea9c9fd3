"""Training task for the kernel-predicting denoiser (§6.2): SMAPE on random/importance-sampled
patches of the train split; validation on whole frames of the valid split.

Config (`task:` section)::

    name: denoise
    data: {root: data/mitsuba, train: train, valid: valid, spp: [4, 16], patch: 64, batch: 8,   # train: a dir or a list
           importance: 0.5, source: mitsuba, valid_limit: 8, train_limit: null,
           # source: a name; a list (every frame through each encoder in turn: one renderer, several
           # buffer sets); or a mapping dir → source (each train/valid dir's frames through its own
           # source's encoder, dirs in turn: several renderers behind one back-end, §3.2)
           train_seeds: null,   # train_seeds: [200, 400] reads only scenes rendered with those seeds
           pack: null}          # bf16 | fp32: map the train scenes from shared pack files (packed.py)
    model: {arch: kpcn, width: 32, blocks: 6, kernel: 21, demodulate: false, head: kernel}
    loss: smape            # or a weighted sum such as smape+2*dssim (neurecon.losses.get_loss)
    init: balanced         # optional: start from a shipped model or .pt with the same parameters
"""

from __future__ import annotations

import os
from pathlib import Path

from ... import metrics
from ...losses import get_loss
from ...models import build_model, load_model
from ...nn.features import DEFAULT_SOURCES
from ...nn.lobes import lobe_buffers
from ...train.config import check_keys
from ...train.trainer import dist_info
from .data import REFERENCE, PatchSampler, load_frames, pack_bytes_of

DATA_DEFAULTS = {
    "root": "data/mitsuba",
    "train": "train",
    "valid": "valid",
    "spp": [4, 16],
    "patch": 64,
    "batch": 8,
    "importance": 0.5,
    "source": "mitsuba",
    "valid_limit": 8,
    "train_limit": None,
    "train_seeds": None,
    "pack": None,
}


def train_dirs(data: dict) -> list[str]:
    t = data["train"]
    return [t] if isinstance(t, str) else list(t)


def valid_dirs(data: dict) -> list[str]:
    v = data["valid"]
    return [v] if isinstance(v, str) else list(v)


def dir_sources(data: dict) -> dict[str, str] | None:
    """A mapping train/valid dir → source when `data.source` is one (every dir named), else None."""
    src = data["source"]
    if not isinstance(src, dict):
        if not isinstance(data["valid"], str):
            raise ValueError("task.data.valid lists several dirs: give task.data.source as a mapping dir → source")
        return None
    unnamed = [d for d in train_dirs(data) + valid_dirs(data) if d not in src]
    if unnamed:
        raise ValueError(f"task.data.source maps dirs to sources but names no source for {', '.join(unnamed)}")
    return {str(k): str(v) for k, v in src.items()}


class DenoiseTask:
    monitor = "loss"
    monitor_mode = "min"

    def __init__(self, cfg):
        t = cfg.task
        check_keys(t, {"name", "data", "model", "loss", "init"}, "task")
        self.data = {**DATA_DEFAULTS, **check_keys(t.get("data") or {}, DATA_DEFAULTS, "task.data")}
        self.spec = {"arch": "kpcn", **(t.get("model") or {})}
        # several sources train one shared backbone behind source-aware encoders (§3.2):
        # steps alternate between them; validation reports each, the first one is monitored
        names = self.data["source"]
        self.dir_source = dir_sources(self.data)
        if self.dir_source is not None:  # first appearance order over the train dirs
            self.sources = list(dict.fromkeys(self.dir_source[d] for d in train_dirs(self.data)))
        else:
            self.sources = [names] if isinstance(names, str) else list(names)
        if "sources" not in self.spec:  # (not setdefault: a source without a default list is fine when given)
            self.spec["sources"] = {s: DEFAULT_SOURCES[s] for s in self.sources if s in DEFAULT_SOURCES}
        missing = [s for s in self.sources if s not in self.spec["sources"]]
        if missing:
            raise ValueError(f"source(s) {missing} have no buffer list; known defaults: {sorted(DEFAULT_SOURCES)}")
        self.source = self.sources[0]
        self.init = t.get("init")
        self.loss = get_loss(t.get("loss", "smape"))
        buffers = sorted({b for s in self.sources for b in self.spec["sources"][s]})
        if self.spec.get("decompose"):  # the diffuse/specular components (render --lobes)
            buffers = sorted({*buffers, *(b for s in self.sources for b in lobe_buffers(self.spec["sources"][s]))})
        root = Path(self.data["root"])
        rank, world = dist_info()
        progress = rank == 0
        copies = int(os.environ.get("LOCAL_WORLD_SIZE", world))  # ranks on this machine, each holding the set
        # `train` may list several split directories (e.g. 128² and 256² renders: training at the
        # resolutions people render at); limit and seed range apply to each
        self.train_frames = []
        per_dir: list[tuple[str, list]] = []
        for d in train_dirs(self.data):
            before = len(self.train_frames)
            self.train_frames += load_frames(
                root / d,
                self.data["spp"],
                self._buffers_of(d, buffers),
                limit=self.data["train_limit"],
                progress=progress,
                seeds=self.data["train_seeds"],
                copies=copies,
                pack=self.data["pack"],
                mapped=pack_bytes_of(self.train_frames) if self.data["pack"] else 0,
            )
            per_dir.append((d, self.train_frames[before:]))
        # (source or None, frames) per valid dir; None: every source of `self.sources` in turn
        self.valid_sets = [
            (
                self.dir_source[v] if self.dir_source else None,
                load_frames(
                    root / v, self.data["spp"], self._buffers_of(v, buffers), self.data["valid_limit"], progress
                ),
            )
            for v in valid_dirs(self.data)
        ]
        self.valid_frames = [f for _, frames in self.valid_sets for f in frames]
        seed = cfg.run.seed + 1000 * rank

        def sampler(frames: list, k: int) -> PatchSampler:  # k > 0: another stream for each further dir
            return PatchSampler(
                frames, self.data["patch"], self.data["batch"], self.data["importance"], seed=seed + 7919 * k
            )

        if self.dir_source is None:
            self.samplers = [(None, sampler(self.train_frames, 0))]
        else:  # one sampler per train dir, dirs in turn: each renderer gets the same share of steps
            self.samplers = [(self.dir_source[d], sampler(frames, k)) for k, (d, frames) in enumerate(per_dir)]
        self.sampler = self.samplers[0][1]
        self._turn = 0
        self._batch_source: str | None = None

    def _buffers_of(self, directory: str, union: list[str]) -> list[str]:
        """The buffers to read from a dir: its own source's when dirs are mapped to sources."""
        if self.dir_source is None:
            return union
        return sorted(self.spec["sources"][self.dir_source[directory]])

    def build_model(self):
        model = build_model(self.spec)
        if not self.init:
            return model
        # fine-tuning: new data or loss, same network
        trained, ck = load_model(self.init)
        # the same network, or a grown one (e.g. a U-Net with a 4th kernel scale): every trained
        # parameter must fit, parts the init lacks keep their fresh initialisation
        mismatch = f"task.init '{self.init}' is a {ck['spec']}, whose weights do not fit this config's {model.spec()}"
        try:
            missing, unexpected = model.load_state_dict(trained.state_dict(), strict=False)
        except RuntimeError as e:
            raise ValueError(mismatch) from e
        if unexpected:
            raise ValueError(f"{mismatch}: unexpected {', '.join(unexpected)}")
        changed = sorted(k for k in set(ck["spec"]) | set(model.spec()) if ck["spec"].get(k) != model.spec().get(k))
        if (changed or missing) and dist_info()[0] == 0:
            print(
                f"task.init: spec changes {changed}"
                + (f"; new parameters start fresh: {', '.join(missing)}" if missing else "")
            )
        return model

    def model_spec(self, model) -> dict:
        return model.spec()

    def next_batch(self):
        source, sampler = self.samplers[self._turn % len(self.samplers)]
        self._turn += 1
        self._batch_source = source
        return sampler.sample()

    def training_step(self, model, batch, step, total):
        source = self._batch_source or self.sources[step % len(self.sources)]
        out = model(batch, source)
        return self.loss(out, batch[REFERENCE]), {}

    def validate(self, model) -> dict[str, float]:
        """Means over the valid frames of the first source (or, with dirs mapped to sources, over
        every valid dir's frames through its own source), plus `{source}_{metric}` (or
        `{dir}_{metric}`) per other source or dir."""
        sums: dict[str, float] = {}
        counts: dict[str, int] = {}

        def add(prefix: str, m: dict) -> None:
            for k, v in m.items():
                sums[prefix + k] = sums.get(prefix + k, 0.0) + v
                counts[prefix + k] = counts.get(prefix + k, 0) + 1

        for (source, frames), directory in zip(self.valid_sets, valid_dirs(self.data)):
            for f in frames:
                for i, src in enumerate([source] if source else self.sources):
                    out = model(f.inputs, src)
                    m = {"loss": float(self.loss(out, f.reference)), **metrics.denoise_metrics(out, f.reference)}
                    if source is None:
                        add("" if i == 0 else f"{src}_", m)
                    else:
                        add("", m)
                        add(directory.replace("/", "_") + "_", m)
        return {k: v / counts[k] for k, v in sums.items()}

    def state_dict(self) -> dict:
        if len(self.samplers) == 1:
            return {"sampler_rng": self.sampler.rng.bit_generator.state}
        return {"sampler_rngs": [s.rng.bit_generator.state for _, s in self.samplers], "turn": self._turn}

    def load_state_dict(self, state: dict) -> None:
        if "sampler_rngs" in state:
            for (_, s), st in zip(self.samplers, state["sampler_rngs"]):
                s.rng.bit_generator.state = st
            self._turn = int(state["turn"])
        else:
            self.sampler.rng.bit_generator.state = state["sampler_rng"]

    @staticmethod
    def describe(cfg: dict) -> str:
        return describe_model(cfg["task"])

    @staticmethod
    def describe_data(task: dict) -> dict:
        """What the card says about the data a config trained on (read from the render jobs'
        metadata: renderer, sizes, spp, and the scenes and seeds the config selected)."""
        return describe_data(task)


def describe_data(task: dict) -> dict:
    import json

    from ...io import find_frames
    from .data import scene_seed, select_scenes

    d = {**DATA_DEFAULTS, **(task.get("data") or {})}
    root, subs = Path(d["root"]), train_dirs(d)
    dirs = [("train" if len(subs) == 1 else f"train {t}", "train", t) for t in subs]
    out = {}
    valids = valid_dirs(d)
    dirs += [("valid" if len(valids) == 1 else f"valid {v}", "valid", v) for v in valids]
    for key, split, sub in dirs:
        metas = sorted((root / sub).glob("metadata*.json"))  # one per render shard
        if not metas:
            continue
        meta = metas[0]
        m = json.loads(meta.read_text())
        for other in metas[1:]:
            m["scenes"] = m.get("scenes", []) + json.loads(other.read_text()).get("scenes", [])
        # what training read (limit, seed range) as each scene was rendered, not what the last job planned
        used = select_scenes(find_frames(meta.parent), d.get(f"{split}_limit"), d.get(f"{split}_seeds"))
        recs = {r["name"]: r for r in m.get("scenes", [])}
        out[key] = {k: m.get(k) for k in ("renderer", "variant")}
        for k in ("sampler", "size", "spp", "ref_spp"):
            values = sorted({json.dumps(recs.get(n, {}).get(k, m.get(k))) for n in used} or {json.dumps(m.get(k))})
            out[key][k] = json.loads(values[0]) if len(values) == 1 else [json.loads(v) for v in values]
        m = {**m, **out[key]}
        seeds = [s for s in map(scene_seed, used) if s is not None]
        out[key]["scenes"] = len(used)
        out[key]["seed_range"] = [min(seeds), max(seeds) + 1] if seeds else m.get("seed_range")
        kind = "scene-grammar" if any(recs.get(n, {}).get("generator") == "grammar" for n in used) else "procedural"
        out[key]["text"] = (
            f"{len(used)} {kind} Mitsuba scenes, {m.get('size')}², noisy {m.get('spp')} spp, "
            f"reference {m.get('ref_spp')} spp, seeds {out[key]['seed_range']} "
            f"({m.get('renderer')}, {m.get('variant')})"
        )
    return out


def describe_model(task: dict) -> str:
    """One sentence from the recipe: architecture, kernels, loss, sources, fine-tuning origin."""
    m = {"arch": "kpcn", **(task.get("model") or {})}
    d = {**DATA_DEFAULTS, **(task.get("data") or {})}
    src = d["source"]
    sources = [src] if isinstance(src, str) else list(dict.fromkeys(src.values() if isinstance(src, dict) else src))
    if m["arch"] == "unet":
        widths = "/".join(map(str, m.get("widths", [16, 24, 32, 48])))
        k = m.get("kernel", 5)
        net = f"U-Net kernel predictor (widths {widths}), {k}×{k} softmax kernels per scale"
        net += " and the gated albedo ratio" if m.get("albedo_ratio") else ""
        net += (
            ", diffuse (demodulated) and specular (log) denoised as a flagged batch of two"
            if m.get("decompose")
            else ""
        )
    else:
        net = (
            f"KPCN ({m.get('blocks', 6)} residual blocks × {m.get('width', 32)}), "
            f"{m.get('kernel', 21)}×{m.get('kernel', 21)} kernels"
        )
    text = f"{net}; loss {task.get('loss', 'smape')}; encoders for {', '.join(sources)}"
    init = str(task.get("init") or "")
    # a previous stage's weights (runs/…/best.pt) are the recipe's business, not the model's
    return text + (f"; fine-tuned from `{init}`." if init and not init.endswith("best.pt") else ".")
