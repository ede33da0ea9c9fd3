"""Predicted per-pixel error of a frozen denoiser's output (Vogels et al. 2018, §5), and the
guides that turn it into sample placement for render/adaptive.py.

An :class:`ErrorMapper` holds the denoiser (a U-Net with ``features()``) and the error predictor
trained on that denoiser's output; ``analyse`` denoises a frame once and returns the denoised
colour plus one predicted map per metric, from the same features the denoiser computed.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from ..buffers import BufferError, Buffers
from ..models.checkpoint import load_model
from ..nn.error_predictor import ErrorPredictor, predictor_image
from ..nn.multiscale import pad_to_multiple
from .denoiser import Denoiser


def _nchw(a: np.ndarray) -> torch.Tensor:
    a = np.asarray(a, np.float32)
    if a.ndim == 2:
        a = a[..., None]
    return torch.from_numpy(np.ascontiguousarray(a.transpose(2, 0, 1)))[None]


def denoise_with_features(model, inputs: dict[str, torch.Tensor], source: str) -> tuple[torch.Tensor, torch.Tensor]:
    """The denoised colour and the full-resolution decoder features (d0) of one untiled pass."""
    padded, (h, w) = pad_to_multiple(inputs, model.stride)
    feats = model.features(padded, source)
    d0 = feats[0][..., :h, :w]
    out = model.reconstruct(feats, padded)[..., :h, :w]
    return out, d0


class ErrorMapper:
    def __init__(self, denoiser: Denoiser, predictor: ErrorPredictor, card: dict | None = None):
        if not hasattr(denoiser.model, "features"):
            raise ValueError("error maps need a U-Net denoiser (its decoder features are the predictor's input)")
        self.denoiser, self.predictor = denoiser, predictor.eval()
        self.card = card or {}
        self.metrics = list(predictor.metrics)

    @classmethod
    def load(cls, predictor: str | Path | None = None, denoiser: str | Path | None = None) -> ErrorMapper:
        """The shipped `errormap` predictor (or a .pt) and the denoiser it was trained for (its
        card's `denoiser`, unless `denoiser` names another: then the maps predict that one badly)."""
        model, ck = load_model(predictor, default="errormap")
        if not isinstance(model, ErrorPredictor):
            raise ValueError(f"'{predictor}' is not an error predictor (arch {ck['spec'].get('arch')})")
        card = ck.get("card", {})
        trained_for = card.get("denoiser") or ((card.get("config") or {}).get("task") or {}).get("data", {}).get(
            "denoiser", "default"
        )
        return cls(Denoiser.load(denoiser or trained_for, precision="fp32"), model, card)

    def analyse(self, buf: Buffers, spp=None) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """(denoised H×W×3, {metric: predicted H×W error}) for a frame; `spp` is its per-pixel sample
        count (H×W) or one number; without it the frame's metadata is unknown and 16 is assumed."""
        if "color_var" not in buf:
            raise BufferError("error maps need the colour variance (color_var) of the frame")
        inputs, source = self.denoiser.prepare(buf)
        for name in ("color", "color_var", "albedo", "normal"):
            if name not in inputs:
                inputs[name] = self.denoiser._tile_input(_nchw(buf[name]), name, set())
        h, w = buf.shape
        counts = np.full((h, w), 16.0 if spp is None else 1.0, np.float32) * (1 if spp is None else np.asarray(spp))
        with torch.no_grad():
            out, d0 = denoise_with_features(self.denoiser.model, inputs, source)
            image = predictor_image(inputs, out, _nchw(counts.astype(np.float32)))
            pred = self.predictor(image, d0)
        denoised = out[0].permute(1, 2, 0).numpy()
        return denoised, {m: pred[0, i].numpy().astype(np.float32) for i, m in enumerate(self.metrics)}

    def guide(self, metric: str, times_spp: bool = False) -> Callable[[Buffers, np.ndarray], np.ndarray]:
        """A render/adaptive.py guide: new samples in proportion to the predicted `metric` error
        of the frame denoised from the passes so far (§5), or, with `times_spp`, to that error
        times the pixel's samples so far (so a pixel's total, not only its increment, follows the
        error: a pixel that was already given many samples keeps its share)."""
        if metric not in self.metrics:
            raise ValueError(f"this predictor predicts {', '.join(self.metrics)}, not '{metric}'")

        def guide(buf: Buffers, counts: np.ndarray) -> np.ndarray:
            err = self.analyse(buf, counts)[1][metric]
            return err * counts if times_spp else err

        return guide
