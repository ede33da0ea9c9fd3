"""§3.3 modular training of the temporal denoiser: the shipped single-frame backbone is loaded and
frozen (its encoder and feature extractor run once per frame), and only the temporal combiners —
per kernel scale a per-frame projection, a 1×1 fusion of the motion-compensated features, residual
blocks and one kernel predictor per frame, jointly normalised — are trained on (noisy window,
reference centre) pairs.

Config (`task:` section)::

    name: denoise_temporal
    backbone: fast           # a shipped U-Net preset or a .pt (kernel heads, no demodulation/albedo ratio)
    radius: 1                # M: windows of 2M+1 frames
    blocks: 1                # residual blocks per scale in the temporal feature extractor
    neighbour_kernel: 3      # k×k kernels of the neighbour frames (the centre keeps the backbone's)
    proj: 8                  # channels of a frame's features that are gathered along the motion
    loss: smape+dssim        # per frame, on the centre (and, with the temporal term, the previous centre)
    temporal_weight: 0.0     # + w · SMAPE(d_t − W d_{t−1}, r_t − W r_{t−1}) over valid pixels
    data: {root: data/temporal, train: train, valid: valid, spp: [4, 16], patch: 64, batch: 4,
           source: mitsuba, train_limit: null, valid_limit: null, shrink: 0.25, causal: 0.15}

Validation runs the streaming denoiser (:mod:`neurecon.infer.temporal`) over whole validation
sequences: per-frame loss, relMSE, DSSIM, the temporal term and the warped flicker F, next to the
frozen backbone's own single-frame numbers (`single_*`, computed once). Single process only.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from ... import metrics
from ...losses import get_loss
from ...models import load_checkpoint
from ...nn.blocks import freeze
from ...nn.features import DEFAULT_SOURCES
from ...nn.temporal import TemporalUNet, slot_features, warp, window_frames
from ...train.config import check_keys
from .data import WindowSampler, load_sequences

DATA_DEFAULTS = {
    "root": "data/temporal",
    "train": "train",
    "valid": "valid",
    "spp": [4, 16],
    "patch": 64,
    "batch": 4,
    "source": "mitsuba",
    "train_limit": None,
    "valid_limit": None,
    "shrink": 0.25,
    "causal": 0.15,
}
TASK_KEYS = {
    "name",
    "backbone",
    "radius",
    "blocks",
    "neighbour_kernel",
    "proj",
    "loss",
    "temporal_weight",
    "data",
}
SMAPE_EPS = 1e-2


def temporal_smape(d, d_prev, r, r_prev, flow, valid) -> torch.Tensor:
    """SMAPE between the motion-warped frame differences of output and reference over valid
    pixels: |(d − W d') − (r − W r')| / (|d − W d'| + |r − W r'| + ε). It penalises output changes
    from frame to frame that the reference does not have (flicker), and nothing the reference has."""
    a = d - warp(d_prev, flow)
    b = r - warp(r_prev, flow)
    err = (a - b).abs() / (a.abs() + b.abs() + SMAPE_EPS)
    v = valid.expand_as(err)
    return (err * v).sum() / v.sum().clamp_min(1.0)


def _t(a: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(a.transpose(2, 0, 1)))[None]


def unwrap(model):
    """The TemporalUNet inside the trainer's wrappers (bf16 Autocast, DDP)."""
    while not isinstance(model, TemporalUNet):
        model = getattr(model, "net", None) or getattr(model, "module", None)
        if model is None:
            raise TypeError("not a TemporalUNet")
    return model


def flicker(outs: list[np.ndarray], refs: list[np.ndarray], motions, valids) -> float:
    """Warped flicker F (tonemapped): mean over valid pixels of |(d_t − W d_{t−1}) − (r_t − W r_{t−1})|."""
    num = den = 0.0
    for t in range(1, len(outs)):
        flow = torch.from_numpy(motions[t].transpose(2, 0, 1))[None]
        v = torch.from_numpy(valids[t].transpose(2, 0, 1))[None].double()
        d, dp, r, rp = (metrics.tonemapped(x) for x in (outs[t], outs[t - 1], refs[t], refs[t - 1]))
        e = ((d - warp(dp, flow.double())) - (r - warp(rp, flow.double()))).abs().mean(1, keepdim=True)
        num += float((e * v).sum())
        den += float(v.sum())
    return num / max(den, 1.0)


class TemporalTask:
    monitor = "loss"
    monitor_mode = "min"

    def __init__(self, cfg):
        t = dict(cfg.task)
        check_keys(t, TASK_KEYS, "task")
        self.data = {**DATA_DEFAULTS, **check_keys(t.get("data") or {}, DATA_DEFAULTS, "task.data")}
        self.backbone_name = t.get("backbone", "fast")
        self.backbone_ck = load_checkpoint(self.backbone_name)
        self.backbone_spec = dict(self.backbone_ck["spec"])
        if self.backbone_spec.pop("arch", None) != "unet":
            raise ValueError(f"the temporal task needs a U-Net backbone; '{self.backbone_name}' is not one")
        self.radius = int(t.get("radius", 1))
        self.blocks = int(t.get("blocks", 1))
        self.neighbour_kernel = int(t.get("neighbour_kernel", 3))
        self.proj = int(t.get("proj", 8))
        self.loss = get_loss(t.get("loss", "smape+dssim"))
        self.temporal_weight = float(t.get("temporal_weight", 0.0))
        self.source = self.data["source"]
        sources = self.backbone_spec.get("sources") or {}
        if self.source not in sources:
            raise ValueError(f"source '{self.source}' is not one of the backbone's: {sorted(sources)}")
        buffers = sorted(set(sources.get(self.source) or DEFAULT_SOURCES[self.source]))
        root = Path(self.data["root"])
        self.train_seqs = load_sequences(root / self.data["train"], self.data["spp"], buffers, self.data["train_limit"])
        self.valid_seqs = load_sequences(root / self.data["valid"], self.data["spp"], buffers, self.data["valid_limit"])
        self.pair = self.temporal_weight > 0
        self.sampler = WindowSampler(
            self.train_seqs,
            self.radius,
            self.data["patch"],
            self.data["batch"],
            pair=self.pair,
            shrink=self.data["shrink"],
            causal=self.data["causal"],
            seed=cfg.run.seed + 1,
        )
        self._single: dict[str, float] | None = None

    def build_model(self):
        model = TemporalUNet(self.backbone_spec, self.radius, self.blocks, self.neighbour_kernel, proj=self.proj)
        model.backbone.load_state_dict({k: v.float() for k, v in self.backbone_ck["model"].items()})
        freeze(model.backbone)
        model.start_from_backbone()
        return model

    def model_spec(self, model) -> dict:
        return unwrap(model).spec()

    def next_batch(self):
        return self.sampler.sample()

    def _window(self, batch: dict, lo: int) -> dict:
        T = 2 * self.radius + 1
        return {k: (v[:, lo : lo + T] if v.ndim >= 2 and k != "reference" else v) for k, v in batch.items()}

    def training_step(self, model, batch, step, total):
        net = unwrap(model)
        net.backbone.eval()  # frozen: its (absent) batch statistics never move
        feats = slot_features(net, batch, self.source)
        T = net.frames
        H, W = batch["color"].shape[-2:]
        centres = [1, 0] if self.pair else [0]  # slot offset of each window's first slot
        outs = []
        for lo in centres:
            sub = self._window(batch, lo)
            frames = window_frames(net, sub, self.source, feats[lo : lo + T])
            outs.append(net.forward_frames(frames, (H, W)))
        c = self.radius + centres[0]
        loss = sum(self.loss(o, batch["reference"][:, lo + self.radius]) for o, lo in zip(outs, centres)) / len(outs)
        logs = {}
        if self.pair:
            both = batch["present"][:, c] * batch["present"][:, c - 1]
            valid = batch["motion_valid"][:, c] * both[:, None, None, None]
            t_loss = temporal_smape(
                outs[0], outs[1], batch["reference"][:, c], batch["reference"][:, c - 1], batch["motion"][:, c], valid
            )
            logs["temporal"] = float(t_loss.detach())
            logs["spatial"] = float(loss.detach())
            loss = loss + self.temporal_weight * t_loss
        return loss, logs

    @torch.no_grad()
    def validate(self, model) -> dict[str, float]:
        from ...infer.temporal import TemporalDenoiser

        net = unwrap(model)
        den = TemporalDenoiser(net, precision="fp32")
        res = self._sequence_metrics(lambda frames: den.denoise_sequence(frames))
        if self._single is None:  # the frozen backbone, frame by frame: the bar to beat (computed once)
            bb = net.backbone

            def single(frames):
                outs = []
                for f in frames:
                    b = f.copy()
                    b.sanitize()
                    names = sorted(set(bb.config.sources[self.source]) | {"color"})
                    outs.append(bb({n: b.to_tensor([n]) for n in names}, self.source)[0].permute(1, 2, 0).numpy())
                return outs

            self._single = {f"single_{k}": v for k, v in self._sequence_metrics(single).items()}
        return {**res, **self._single}

    def _sequence_metrics(self, run) -> dict[str, float]:
        from ...buffers import Buffers

        sums: dict[str, float] = {}
        n = 0
        for s in self.valid_seqs:
            frames = [Buffers({k: v[t].permute(1, 2, 0).numpy() for k, v in s.planes.items()}) for t in range(s.frames)]
            refs = [s.reference[t].permute(1, 2, 0).numpy() for t in range(s.frames)]
            outs = run(frames)
            per = [float(self.loss(_t(o), _t(r))) for o, r in zip(outs, refs)]
            m = {
                "spatial": float(np.mean(per)),
                "relmse": float(np.mean([metrics.relmse(o, r) for o, r in zip(outs, refs)])),
                "dssim": float(np.mean([metrics.dssim(o, r) for o, r in zip(outs, refs)])),
                "flicker": flicker(outs, refs, [f["motion"] for f in frames], [f["motion_valid"] for f in frames]),
            }
            tl = []
            for t in range(1, s.frames):
                pair = (_t(outs[t]), _t(outs[t - 1]), _t(refs[t]), _t(refs[t - 1]))
                tl.append(float(temporal_smape(*pair, _t(frames[t]["motion"]), _t(frames[t]["motion_valid"]))))
            m["temporal"] = float(np.mean(tl)) if tl else 0.0
            for k, v in m.items():
                sums[k] = sums.get(k, 0.0) + v
            n += 1
        res = {k: v / n for k, v in sums.items()}
        res["loss"] = res["spatial"] + self.temporal_weight * res["temporal"]
        return res

    def state_dict(self) -> dict:
        return {"sampler_rng": self.sampler.rng.bit_generator.state}

    def load_state_dict(self, state: dict) -> None:
        self.sampler.rng.bit_generator.state = state["sampler_rng"]

    @staticmethod
    def describe(cfg: dict) -> str:
        t = cfg["task"]
        m = int(t.get("radius", 1))
        kn = int(t.get("neighbour_kernel", 3))
        tw = float(t.get("temporal_weight", 0.0))
        return (
            f"Temporal denoiser (§3.3, M = {m}: windows of {2 * m + 1} frames): the frozen "
            f"`{t.get('backbone', 'fast')}` U-Net runs once per frame; per kernel scale its features are "
            f"projected to {t.get('proj', 8)} channels, gathered along chained motion vectors (masked at "
            f"disocclusions), fused with {t.get('blocks', 1)} residual block(s) and turned into one kernel per "
            f"frame ({kn}×{kn} for neighbours), "
            f"jointly normalised over the window; loss {t.get('loss', 'smape+dssim')}"
            + (f" + {tw:g} × SMAPE of warped frame differences." if tw else ".")
        )

    @staticmethod
    def describe_data(task: dict) -> dict:
        d = {**DATA_DEFAULTS, **(task.get("data") or {})}
        root = Path(d["root"])
        out = {}
        for key in ("train", "valid"):
            meta = root / d[key] / "metadata.json"
            if not meta.exists():
                continue
            m = json.loads(meta.read_text())
            seqs = m.get("sequences", [])
            kinds: dict[str, int] = {}
            for s in seqs:
                kinds[s.get("kind", "?")] = kinds.get(s.get("kind", "?"), 0) + 1
            frames = sum(s.get("frames", 0) for s in seqs)
            mix = ", ".join(f"{v} {k}" for k, v in sorted(kinds.items()))
            out[key] = {
                "renderer": m.get("renderer"),
                "size": m.get("size"),
                "spp": m.get("spp"),
                "sequences": len(seqs),
                "frames": frames,
                "text": f"{len(seqs)} procedural Mitsuba sequences ({mix}), "
                f"{frames} frames of {m.get('size')}², noisy {m.get('spp')} spp, a reference per frame "
                f"({m.get('renderer')}, {m.get('variant')})",
            }
        return out
