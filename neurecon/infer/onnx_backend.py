"""Denoise with an exported ONNX file through onnxruntime: numpy and onnxruntime only, no torch.

    den = OnnxDenoiser.load("default.onnx")      # written by `neurecon export MODEL --onnx`
    out = den.denoise(color, albedo=alb, normal=nrm, variance=var)   # H×W×3 float32, like Denoiser

The file's metadata (``neurecon.*``, :mod:`.onnx_export`) says which planes the graph takes,
its receptive radius and stride. Inputs go through the same sanitising policy as the torch
path (:meth:`Buffers.sanitize`, counts in `last_sanitize_report`); a frame larger than the pixel
budget is cut by the one tiler (:func:`.tiler.plan_tiles`, :func:`.tiler.tile_cores`, which slice
numpy arrays as well), so tiled output equals untiled output to float rounding.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np

from ..buffers import VALUE_MAX, BufferError, Buffers, SanitizeReport
from .tiler import TilePlan, plan_tiles, tile_cores
from .unused import API_ARGUMENTS, unused_buffer_notes, warn_unused

# Resident bytes per tile pixel of one onnxruntime pass of the exported `high` model (fp32): peak
# RSS grew by 1.21 KB a pixel on 512² and 768² frames (the plane copies' 72 B included), plus slack.
# The budget (`maxmem_mb`), less the planes and the output, divided by it sizes the tiles.
BYTES_PER_PIXEL = 1300


def _import_ort():
    try:
        import onnxruntime
    except ImportError:
        raise RuntimeError("the onnxruntime backend needs the onnxruntime package (pip install onnxruntime)") from None
    return onnxruntime


def ort_session(path: str | Path, threads: int | None = None):
    """An onnxruntime CPU session for `path`; a missing or broken file is a ValueError/OSError."""
    ort = _import_ort()
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such ONNX file (write one with `neurecon export MODEL --onnx {path}`)")
    options = ort.SessionOptions()
    if threads:
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
    try:
        return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    except Exception as e:  # onnxruntime raises its own types for a broken or foreign file
        raise ValueError(f"{path}: onnxruntime cannot load it ({str(e).splitlines()[0][:200]})") from None


class OnnxDenoiser:
    """An ONNX denoiser with the Denoiser API's denoise / denoise_buffers (no λ session)."""

    def __init__(self, path: str | Path, threads: int | None = None, maxmem_mb: int = 2048):
        path = Path(path)
        self.session = ort_session(path, threads)
        meta = self.session.get_modelmeta().custom_metadata_map
        if "neurecon.inputs" not in meta:
            raise ValueError(f"{path}: not a neurecon export (no neurecon.* metadata); write it with `neurecon export`")
        self.path = path
        self.inputs: dict[str, int] = json.loads(meta["neurecon.inputs"])
        self.source = meta["neurecon.source"]
        self.model_name = meta.get("neurecon.model", path.stem)
        self.receptive_radius = int(meta["neurecon.receptive_radius"])
        self.stride = int(meta["neurecon.stride"])
        self.maxmem_mb = maxmem_mb
        self.precision = "fp32"
        self.last_sanitize_report: SanitizeReport | None = None
        self.last_plan: TilePlan | None = None
        self.last_seconds = 0.0

    @classmethod
    def load(cls, path: str | Path, **kw) -> OnnxDenoiser:
        return cls(path, **kw)

    @property
    def has_lambda(self) -> bool:
        return "lambda" in self.inputs

    def denoise(self, color, albedo=None, normal=None, variance=None, lam=None) -> np.ndarray:
        """H×W×3 float32 linear HDR colour (auxiliary buffers H×W×3) → H×W×3 float32."""
        for name, value in {"color": color, "albedo": albedo, "normal": normal, "variance": variance}.items():
            if value is not None and np.asarray(value).dtype.kind in "biu":
                raise BufferError(
                    f"{name} is a {np.asarray(value).dtype} array: the denoiser takes linear float radiance"
                )
        buf = Buffers(color=color, albedo=albedo, normal=normal, color_var=variance)
        given = {"albedo": albedo, "normal": normal, "variance": variance}
        named = {API_ARGUMENTS[k]: f"{k}=" for k, v in given.items() if v is not None}
        warn_unused(self.unused_buffers(named, buf.names(), self.source))
        return self.denoise_buffers(buf, lam=lam)

    def unused_buffers(self, given: dict[str, str], available, source: str) -> list[str]:
        """Denoiser.unused_buffers for a graph of one source."""
        planes = [n for n in self.inputs if n != "lambda"]
        return unused_buffer_notes(given, available, source, {self.source: planes}, planes)

    def plan(self, h: int, w: int) -> TilePlan:
        fixed = sum(self.inputs.values()) * 4 * h * w + 12 * h * w  # the planes' copies and the output
        room = self.maxmem_mb * 2**20 - fixed
        plan = plan_tiles(h, w, self.receptive_radius, self.stride, max(0, room) // BYTES_PER_PIXEL)
        if plan is None:
            raise MemoryError(f"--maxmem {self.maxmem_mb} MB cannot hold this {w}×{h} frame's planes and a tile")
        return plan

    def check_source(self, name: str) -> str:
        """An exported graph has the encoder of one source: `name` must be it."""
        if name != self.source:
            raise ValueError(
                f"{self.path.name} was exported for the '{self.source}' source only, not '{name}'; export "
                f"that one with `neurecon export MODEL --onnx out.onnx --source {name}`"
            )
        return name

    def choose_source(self, available, requested: str | None = None, declared: str | None = None) -> tuple[str, str]:
        """Denoiser.choose_source for a graph of one source: that source, and why."""
        if requested is not None:
            return self.check_source(requested), "as requested"
        return self.source, f"the one source {self.path.name} was exported for"

    def denoise_buffers(self, buf: Buffers, source: str | None = None, lam=None) -> np.ndarray:
        if source is not None:
            self.check_source(source)
        h, w = buf.shape
        if h == 0 or w == 0:
            raise BufferError(f"the frame is empty ({w}×{h} pixels)")
        planes = [n for n in self.inputs if n != "lambda"]
        missing = [n for n in planes if n not in buf]
        if missing:
            raise BufferError(
                f"{self.path.name} was exported for the '{self.source}' source and needs {', '.join(planes)}; "
                f"missing {', '.join(missing)} (got {', '.join(buf.names())}); export another source with "
                "`neurecon export MODEL --onnx out.onnx --source oidn`"
            )
        if lam is not None and not self.has_lambda:
            raise ValueError(f"{self.path.name} has no λ input; export a λ model (e.g. `lambda`) for --lambda")
        t0 = time.perf_counter()
        sub = buf.subset(planes).copy()
        self.last_sanitize_report = sub.sanitize()
        views = {n: np.ascontiguousarray(sub[n].transpose(2, 0, 1))[None] for n in planes}
        if self.has_lambda:
            arr = np.asarray(1.0 if lam is None else lam, np.float32)
            arr = arr.mean(2) if arr.ndim == 3 else arr
            if arr.ndim and arr.shape != (h, w):
                raise ValueError(f"λ map is {arr.shape[-1]}×{arr.shape[0]} but the frame is {w}×{h}")
            lam_map = np.ascontiguousarray(np.broadcast_to(arr, (h, w)))
            if not np.isfinite(lam_map).all() or lam_map.min() < 1 or lam_map.max() > 10 * (1 + 1e-6):
                raise ValueError("λ must be finite, ≥ 1 and ≤ 10 everywhere (the λ models' trained range)")
            views["lambda"] = lam_map[None, None]
        plan = self.plan(h, w)
        self.last_plan = plan
        out = np.empty((1, 3, h, w), np.float32)

        def run(part: dict[str, np.ndarray]) -> np.ndarray:
            feed = {k: np.ascontiguousarray(v) for k, v in part.items()}
            return self.session.run(["output"], feed)[0]

        for y0, y1, x0, x1, core, _ in tile_cores(run, views, plan.tile, self.receptive_radius, self.stride):
            out[..., y0:y1, x0:x1] = core
        np.clip(out, -VALUE_MAX, VALUE_MAX, out=out)
        self.last_seconds = time.perf_counter() - t0
        return np.ascontiguousarray(out[0].transpose(1, 2, 0))
