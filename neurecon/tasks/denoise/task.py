"""Training task for the kernel-predicting denoiser (§6.2): SMAPE on random/importance-sampled
patches of the train split; validation on whole frames of the valid split.

Config (`task:` section)::

    name: denoise
    data: {root: data/mitsuba, train: train, valid: valid, spp: [4, 16], patch: 64, batch: 8,   # train: a dir or a list
           importance: 0.5, source: mitsuba, valid_limit: 8, train_limit: null,
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
        for d in train_dirs(self.data):
            self.train_frames += load_frames(
                root / d,
                self.data["spp"],
                buffers,
                limit=self.data["train_limit"],
                progress=progress,
                seeds=self.data["train_seeds"],
                copies=copies,
                pack=self.data["pack"],
                mapped=pack_bytes_of(self.train_frames) if self.data["pack"] else 0,
            )
        self.valid_frames = load_frames(
            root / self.data["valid"], self.data["spp"], buffers, limit=self.data["valid_limit"], progress=progress
        )
        self.sampler = PatchSampler(
            self.train_frames,
            self.data["patch"],
            self.data["batch"],
            self.data["importance"],
            seed=cfg.run.seed + 1000 * rank,
        )

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
        return self.sampler.sample()

    def training_step(self, model, batch, step, total):
        out = model(batch, self.sources[step % len(self.sources)])
        return self.loss(out, batch[REFERENCE]), {}

    def validate(self, model) -> dict[str, float]:
        sums: dict[str, float] = {}
        for f in self.valid_frames:
            for i, src in enumerate(self.sources):
                out = model(f.inputs, src)
                m = {"loss": float(self.loss(out, f.reference)), **metrics.denoise_metrics(out, f.reference)}
                for k, v in m.items():
                    key = k if i == 0 else f"{src}_{k}"
                    sums[key] = sums.get(key, 0.0) + v
        return {k: v / len(self.valid_frames) for k, v in sums.items()}

    def state_dict(self) -> dict:
        return {"sampler_rng": self.sampler.rng.bit_generator.state}

    def load_state_dict(self, state: dict) -> None:
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
    for key, split, sub in dirs + [("valid", "valid", d["valid"])]:
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
    sources = [d["source"]] if isinstance(d["source"], str) else list(d["source"])
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
