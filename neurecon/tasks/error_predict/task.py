"""Training task for the error predictor (§5): L1 between predicted and true per-pixel error maps
of a frozen denoiser's output, on neurecon's procedural renders at several spp levels.

Config (`task:` section)::

    name: error_predict
    data: {root: data/errormap, train: train, valid_scenes: 4, spp: [4, 8, 16, 32], patch: 64,
           batch: 4, denoiser: default, relmse_clip: 10.0}
    model: {metrics: [smape, relmse, dssim], width: 32, blocks: 6, squeeze: 16}

Every frame is denoised once, at start-up, by the frozen denoiser (fp32, untiled); its output, its
full-resolution decoder features and the true error maps (metrics.error_maps against the
reference) are what the predictor trains on. The last `valid_scenes` scenes of the train folder
are held out for validation. Each metric's L1 is divided by that metric's mean error over the
training frames, so SMAPE, relMSE and DSSIM weigh alike while the outputs stay in their own units.
relMSE maps are clipped at `relmse_clip` (a firefly's relMSE can be 10⁴, which L1 would chase).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from ... import metrics
from ...infer.errormap import denoise_with_features
from ...models import build_model, load_model
from ...nn.error_predictor import predictor_image
from ...train.config import check_keys

DATA_DEFAULTS = {
    "root": "data/errormap",
    "train": "train",
    "valid_scenes": 4,
    "spp": [4, 8, 16, 32],
    "patch": 64,
    "batch": 4,
    "denoiser": "default",
    "relmse_clip": 10.0,
    "train_limit": None,
}
TILE = 16  # the tile of the per-tile Spearman correlation validation reports


def prepare_frames(root: Path, spp, denoiser: str, metric_names, relmse_clip: float, limit=None, progress=False):
    """[(scene name, {image, features, target}) …]: each noisy frame denoised by the frozen
    denoiser, with its features and true error maps (1×C×H×W tensors)."""
    from tqdm import tqdm

    from ...io import find_frames
    from ..denoise.data import select_scenes

    den, _ = load_model(denoiser)
    sets = find_frames(root)
    if not sets:
        raise FileNotFoundError(f"no frames in OIDN layout found under {root}")
    names = select_scenes(sets, limit)
    source = next(s for s, b in den.config.sources.items() if "color_var" in b)
    needed = sorted(set(den.config.sources[source]) | {"color", "albedo", "normal", "color_var"})
    out = []
    with torch.no_grad():
        for name in tqdm(names, desc=f"denoise {root.name}", disable=not progress, unit="scene"):
            fs = sets[name]
            ref = fs.read("ref")
            ref.sanitize()
            reference = ref.to_tensor(["color"])
            for s in [s for s in fs.inputs if not spp or s in spp]:
                buf = fs.read(s).require(needed)
                buf.sanitize()
                inputs = {n: buf.to_tensor([n]) for n in needed}
                d, d0 = denoise_with_features(den, inputs, source)
                maps = metrics.error_maps(d, reference, metric_names)
                target = torch.cat([maps[m] for m in metric_names], 1).float()
                if "relmse" in metric_names:
                    i = list(metric_names).index("relmse")
                    target[:, i] = target[:, i].clamp_max(relmse_clip)
                spp_map = torch.full_like(d[:, :1], float(s))
                out.append(
                    (
                        name,
                        {
                            "image": predictor_image(inputs, d, spp_map),
                            "features": d0.half(),
                            "target": target,
                        },
                    )
                )
    return out


class ErrorPredictTask:
    monitor = "loss"
    monitor_mode = "min"

    def __init__(self, cfg):
        t = cfg.task
        check_keys(t, {"name", "data", "model"}, "task")
        self.data = {**DATA_DEFAULTS, **check_keys(t.get("data") or {}, DATA_DEFAULTS, "task.data")}
        self.spec = {"arch": "error_predictor", **(t.get("model") or {})}
        self.metrics = list(self.spec.get("metrics", ["smape", "relmse", "dssim"]))
        frames = prepare_frames(
            Path(self.data["root"]) / self.data["train"],
            self.data["spp"],
            self.data["denoiser"],
            self.metrics,
            self.data["relmse_clip"],
            self.data["train_limit"],
            progress=True,
        )
        scenes = sorted({n for n, _ in frames})
        held = set(scenes[len(scenes) - int(self.data["valid_scenes"]) :]) if self.data["valid_scenes"] else set()
        if len(held) >= len(scenes):
            raise ValueError(f"valid_scenes={self.data['valid_scenes']} leaves no training scene of {len(scenes)}")
        self.train = [f for n, f in frames if n not in held]
        self.valid = [f for n, f in frames if n in held]
        self.spec.setdefault("feature_width", int(self.train[0]["features"].shape[1]))
        # per-metric L1 weights: 1 / the metric's mean error over the training frames
        self.scale = torch.stack([f["target"].mean((0, 2, 3)) for f in self.train]).mean(0).clamp_min(1e-6)
        self.rng = np.random.default_rng(cfg.run.seed)

    def build_model(self):
        return build_model(self.spec)

    def model_spec(self, model) -> dict:
        return model.spec()

    def next_batch(self) -> dict[str, torch.Tensor]:
        p, out = int(self.data["patch"]), {"image": [], "features": [], "target": []}
        for _ in range(int(self.data["batch"])):
            f = self.train[int(self.rng.integers(len(self.train)))]
            h, w = f["image"].shape[2:]
            y, x = int(self.rng.integers(0, h - p + 1)), int(self.rng.integers(0, w - p + 1))
            flips = [d for d, flip in ((2, self.rng.random() < 0.5), (3, self.rng.random() < 0.5)) if flip]
            for k in out:
                crop = f[k][..., y : y + p, x : x + p].float()
                out[k].append(crop.flip(flips) if flips else crop)
        return {k: torch.cat(v) for k, v in out.items()}

    def loss(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return ((pred - target).abs().mean((0, 2, 3)) / self.scale).mean()

    def training_step(self, model, batch, step, total):
        pred = model(batch["image"], batch["features"].float())
        return self.loss(pred, batch["target"]), {}

    def validate(self, model) -> dict[str, float]:
        if not self.valid:
            return {}
        losses, preds, trues = [], {m: [] for m in self.metrics}, {m: [] for m in self.metrics}
        with torch.no_grad():
            for f in self.valid:
                pred = model(f["image"], f["features"].float())
                losses.append(float(self.loss(pred, f["target"])))
                for i, m in enumerate(self.metrics):
                    preds[m].append(tile_means(pred[:, i : i + 1]))
                    trues[m].append(tile_means(f["target"][:, i : i + 1]))
        out = {"loss": float(np.mean(losses))}
        for m in self.metrics:
            out[f"spearman_{m}"] = float(
                np.mean([metrics.spearman(p, t) for p, t in zip(preds[m], trues[m], strict=True)])
            )
        return out

    def state_dict(self) -> dict:
        return {"rng": self.rng.bit_generator.state}

    def load_state_dict(self, state: dict) -> None:
        self.rng.bit_generator.state = state["rng"]

    @staticmethod
    def describe(cfg: dict) -> str:
        t = cfg["task"]
        m = {"metrics": ["smape", "relmse", "dssim"], "width": 32, "blocks": 6, **(t.get("model") or {})}
        d = {**DATA_DEFAULTS, **(t.get("data") or {})}
        return (
            f"Error predictor (Vogels et al. 2018, §5): {m['blocks']} residual blocks of width {m['width']}, "
            f"L1 against the true per-pixel {', '.join(m['metrics'])} maps of the frozen '{d['denoiser']}' "
            "denoiser's output, from its full-resolution decoder features, the noisy buffers and the "
            "denoised colour; guides adaptive sampling (neurecon render --adaptive)."
        )

    @staticmethod
    def describe_data(task: dict) -> dict:
        import json

        d = {**DATA_DEFAULTS, **(task.get("data") or {})}
        meta = Path(d["root"]) / d["train"] / "metadata.json"
        if not meta.exists():
            return {}
        m = json.loads(meta.read_text())
        text = (
            f"{len(m.get('scenes', []))} procedural Mitsuba scenes ({d['valid_scenes']} held out for validation), "
            f"{m.get('size')}², noisy {d['spp']} spp, reference {m.get('ref_spp')} spp, seeds {m.get('seed_range')} "
            f"({m.get('renderer')}, {m.get('variant')}); targets: the '{d['denoiser']}' denoiser's error maps"
        )
        return {"train": {"text": text, "seed_range": m.get("seed_range")}}


def tile_means(x: torch.Tensor, tile: int = TILE) -> np.ndarray:
    """Means of a 1×1×H×W map over tile×tile blocks (partial edge tiles dropped)."""
    h, w = x.shape[2] // tile * tile, x.shape[3] // tile * tile
    return torch.nn.functional.avg_pool2d(x[..., :h, :w].double(), tile).ravel().numpy()
