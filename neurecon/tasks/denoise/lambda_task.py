"""§4.3 modular training of λ control: the frozen backbone plus a gated loss specialiser per
kernel scale, trained with the asymmetric loss."""

from __future__ import annotations

import torch

from ...losses import asymmetric
from ...models import load_checkpoint
from ...nn.blocks import freeze
from ...nn.specialiser import lambda_model
from .data import REFERENCE
from .task import DenoiseTask


class LambdaTask(DenoiseTask):
    """§4.3 modular training: load a trained KPCN, freeze it, and train only a loss-specialiser and
    a kernel predictor (initialised from the backbone's) with the asymmetric loss, log λ ~ U(0, log 10)
    (see `sample_lambda`).

    Config: `task: {name: denoise_lambda, backbone: default | path.pt, blocks: 2, gated: true, data: {...}}`.
    Validation reports the asymmetric loss at λ ∈ {1, 2, 5, 10}; `loss` is their mean.
    """

    VALID_LAMBDAS = (1.0, 2.0, 5.0, 10.0)

    @staticmethod
    def describe(cfg: dict) -> str:
        t = cfg["task"]
        gated = "gated " if t.get("gated", True) else ""
        return (
            f"λ control (§4): {gated}loss specialisers ({t.get('blocks', 2)} residual blocks per kernel scale) "
            f"on the frozen backbone `{t.get('backbone', 'default')}`, trained with the asymmetric loss around "
            f"{t.get('loss', 'smape')}, log λ ~ U(0, log 10)."
        )

    def __init__(self, cfg):
        t = dict(cfg.task)
        self.backbone_ck = load_checkpoint(t.pop("backbone", "default"))
        self.blocks = int(t.pop("blocks", 2))
        self.gated = bool(t.pop("gated", True))
        self.base = t.pop("loss", "smape")
        self.backbone_spec = dict(self.backbone_ck["spec"])
        t["model"] = self.backbone_spec
        super().__init__(type(cfg)(task=t, optim=cfg.optim, run=cfg.run, card=cfg.card))
        self.lam_rng = torch.Generator().manual_seed(cfg.run.seed + 77)

    def build_model(self):
        model = lambda_model(self.backbone_spec, self.blocks, self.gated)
        model.backbone.load_state_dict({k: v.float() for k, v in self.backbone_ck["model"].items()})
        freeze(model.backbone)
        model.start_from_backbone()
        if self.gated:  # only the specialiser learns: λ = 1 stays the backbone exactly
            freeze(getattr(model, "predictors", None) or model.predictor)
        return model

    def training_step(self, model, batch, step, total):
        lam = self.sample_lambda(batch["color"])
        src = self.sources[step % len(self.sources)]
        out = model(batch, src, lam=lam)
        return asymmetric(out, batch[REFERENCE], batch["color"], lam, self.base), {}

    def sample_lambda(self, like: torch.Tensor) -> torch.Tensor:
        """log λ ~ U(0, log 10): constant per patch for half the batch, a smooth random map
        (bilinear 4×4 noise) for the other half. The paper draws λ i.i.d. per pixel; we found
        that a 3×3-conv specialiser then cannot tell which λ belongs to which pixel and drifts
        towards the average (its λ = 1 result got worse than the frozen backbone's)."""
        n, _, h, w = like.shape
        g = self.lam_rng
        const = torch.rand(n, 1, 1, 1, generator=g).expand(n, 1, h, w)
        smooth = torch.nn.functional.interpolate(
            torch.rand(n, 1, 4, 4, generator=g), size=(h, w), mode="bilinear", align_corners=True
        )
        pick = (torch.arange(n) % 2 == 0).view(n, 1, 1, 1)
        return torch.exp(torch.where(pick, const, smooth) * torch.log(torch.tensor(10.0)))

    def validate(self, model) -> dict[str, float]:
        sums = {f"loss_lambda{int(l)}": 0.0 for l in self.VALID_LAMBDAS}
        for f in self.valid_frames:
            feats = model.features(f.inputs, self.source)
            free = model.lambda_free(feats)
            for lam in self.VALID_LAMBDAS:
                out = model.tail(feats, f.inputs, lam, free)
                sums[f"loss_lambda{int(lam)}"] += float(asymmetric(out, f.reference, f.inputs["color"], lam, self.base))
        res = {k: v / len(self.valid_frames) for k, v in sums.items()}
        res["loss"] = sum(res.values()) / len(res)
        return res

    def state_dict(self) -> dict:
        return {**super().state_dict(), "lam_rng": self.lam_rng.get_state()}

    def load_state_dict(self, state: dict) -> None:
        super().load_state_dict(state)
        self.lam_rng.set_state(state["lam_rng"])
