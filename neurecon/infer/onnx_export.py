"""Export a denoiser to ONNX with dynamic H×W (``neurecon export MODEL --onnx out.onnx``).

The graph is the model's forward pass traced under :func:`neurecon.nn.portable.portable_ops`
(plain convolutions, the kernel application as Σ_q shift·weight, up2 + concat + conv, no
autocast), fp32. Inputs are N×C×H×W float32 planes named after the buffers the chosen source
reads (``color``, ``color_var``, ``albedo``, …; plus ``lambda``, N×1×H×W, for λ models); the one
output ``output`` is N×3×H×W. The graph expects sanitised inputs (Buffers.sanitize's policy):
:mod:`.onnx_backend` does that in numpy before running it. What the backend needs to run the
file without torch (source, input names and widths, receptive radius, stride, the model card's
name) is stored in the file's metadata (``neurecon.*`` keys).
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from ..buffers import PLANES
from ..io.atomic import atomic_output
from ..models import load_model
from ..models.checkpoint import resolve
from ..nn.portable import portable_ops

OPSET = 18


class _Graph(nn.Module):
    """The model as a function of positional planes (exporters take tensors, not a dict)."""

    def __init__(self, model: nn.Module, source: str, names: list[str]):
        super().__init__()
        self.model, self.source, self.names = model, source, names

    def forward(self, *planes: torch.Tensor) -> torch.Tensor:
        inputs = dict(zip(self.names, planes))
        lam = inputs.pop("lambda", None)
        if lam is None:
            return self.model(inputs, self.source)
        return self.model(inputs, self.source, lam=lam)


def graph_inputs(model: Any, source: str) -> list[str]:
    """The planes the exported graph takes, in order: the source's buffers, colour first, the
    albedo when the reconstruction reads it, λ for λ models."""
    config = model.config
    names = ["color"] + [b for b in config.sources[source] if b != "color"]
    if config.uses_albedo and "albedo" not in names:
        names.append("albedo")
    if hasattr(model, "tail"):
        names.append("lambda")
    return names


def export_onnx(
    name_or_path: str | Path | None,
    out: str | Path,
    source: str | None = None,
    dynamo: bool = False,
    size: tuple[int, int] = (64, 96),
) -> dict:
    """Write the denoiser `name_or_path` (a shipped name or a .pt) as ONNX to `out`; returns the
    metadata stored in the file. `size` is the example frame the graph is traced on (any H×W runs).

    Two exporters give the same graph up to float rounding (both checked against torch): torch's
    TorchScript tracer (default: 5 s for `fast` here) and, with `dynamo`, torch.export with
    symbolic H and W (PyTorch's newer exporter, needs onnxscript: 100–240 s for `fast` on this
    2-core machine, nearly all in fake-tensor tracing). The portable path is written so that the
    tracer records sizes, not constants: a frame of any H×W, a multiple of the stride or not, runs."""
    try:  # the export side needs onnx (and onnxscript for --dynamo); running the file needs neither
        import onnx
    except ImportError:
        raise RuntimeError("exporting to ONNX needs the onnx package (pip install onnx)") from None

    model: Any
    model, ck = load_model(name_or_path)
    config: Any = getattr(model, "config", None)
    if getattr(config, "sources", None) is None or not hasattr(model, "receptive_radius"):
        raise ValueError(f"model '{name_or_path}' is not a single-frame denoiser; only those export to ONNX")
    source = source or model.default_source
    if source not in config.sources:
        raise ValueError(f"model '{name_or_path}' has no source '{source}'; it has {list(config.sources)}")
    names = graph_inputs(model, source)
    g = torch.Generator().manual_seed(0)
    h, w = size
    example = []
    for n in names:
        c = 1 if n == "lambda" else PLANES[n]
        x = torch.rand(1, c, h, w, generator=g)
        example.append(x * 2 - 1 if n == "normal" else 1 + x if n == "lambda" else x)
    graph = _Graph(model.float().eval(), source, names)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with torch.no_grad(), portable_ops(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the exporters' deprecation and constant-folding chatter
        if dynamo:
            H, W = torch.export.Dim("height", min=1), torch.export.Dim("width", min=1)
            program = torch.onnx.export(
                graph,
                tuple(example),
                input_names=names,
                output_names=["output"],
                dynamic_shapes=(tuple({2: H, 3: W} for _ in names),),  # one entry: forward(*planes)
                opset_version=OPSET,
                dynamo=True,
            )
            assert program is not None
            proto = program.model_proto
        else:
            buffer = io.BytesIO()
            torch.onnx.export(
                graph,
                tuple(example),
                buffer,  # type: ignore[arg-type]  # the TorchScript exporter writes to file objects too
                input_names=names,
                output_names=["output"],
                dynamic_axes={n: {2: "height", 3: "width"} for n in [*names, "output"]},
                opset_version=OPSET,
                dynamo=False,
            )
            proto = onnx.load_from_string(buffer.getvalue())
    card = ck.get("card") or {}
    meta = {
        "neurecon.model": str(name_or_path or "default"),
        "neurecon.source": source,
        "neurecon.inputs": json.dumps({n: 1 if n == "lambda" else PLANES[n] for n in names}),
        "neurecon.receptive_radius": str(int(model.receptive_radius())),
        "neurecon.stride": str(int(getattr(model, "stride", 1))),
        "neurecon.spec": json.dumps(ck["spec"]),
        "neurecon.card_title": str(card.get("title", card.get("name", ""))),
    }
    for k, v in meta.items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = k, v
    onnx.checker.check_model(proto)
    with atomic_output(out) as tmp:
        onnx.save(proto, str(tmp))
    return meta


def torch_reference(den, planes: dict[str, np.ndarray], source: str) -> np.ndarray:
    """The eager PyTorch output of Denoiser `den` (its inference path: channels-last, oneDNN's
    fused convolutions, banded kernel heads; fp32, one pass) for N×C×H×W planes."""
    inputs = {k: torch.from_numpy(v) for k, v in planes.items()}
    with torch.no_grad():
        return den._forward(inputs, source, "fp32").numpy()


def random_planes(names: dict[str, int], h: int, w: int, seed: int = 0) -> dict[str, np.ndarray]:
    """A render-like random frame for the export check: HDR colour with fireflies (a heavy
    tail), albedo in [0, 1], unit-range normals, small variances, λ in [1, 10]."""
    rng = np.random.default_rng(seed)
    out = {}
    for n, c in names.items():
        x = rng.random((1, c, h, w), dtype=np.float32)
        if n == "color":
            x = (x**6 * 20).astype(np.float32)
        elif n == "normal":
            x = x * 2 - 1
        elif n.endswith("_var"):
            x = x * 0.05
        elif n == "lambda":
            x = 1 + 9 * x
        out[n] = x
    return out


def check_onnx(name_or_path: str | Path | None, onnx_path: str | Path, sizes) -> dict[tuple[int, int], float]:
    """max |onnxruntime − torch| on a random frame of each (H, W) in `sizes`."""
    from .denoiser import Denoiser
    from .onnx_backend import ort_session

    den = Denoiser.load(name_or_path, precision="fp32")
    session = ort_session(onnx_path)
    meta = session.get_modelmeta().custom_metadata_map
    names = json.loads(meta["neurecon.inputs"])
    diffs = {}
    for h, w in sizes:
        planes = random_planes(names, h, w)
        got = session.run(["output"], planes)[0]
        ref = torch_reference(den, planes, meta["neurecon.source"])
        diffs[(h, w)] = float(np.abs(got - ref).max())
    return diffs


def cache_dir() -> Path:
    """Where `neurecon denoise --backend onnxruntime` keeps on-the-fly exports:
    $NEURECON_CACHE_DIR, else $XDG_CACHE_HOME/neurecon, else ~/.cache/neurecon."""
    base = os.environ.get("NEURECON_CACHE_DIR")
    if base:
        return Path(base) / "onnx"
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "neurecon" / "onnx"


def cached_export(name_or_path: str | Path | None, available: set[str]) -> Path:
    """The ONNX file of a shipped name or .pt for a frame with buffers `available` (the richest
    source they cover, as Denoiser.pick_source), exported on first use into cache_dir() and keyed
    by the checkpoint's content, so a retrained .pt under the same name is exported anew."""
    from .denoiser import Denoiser

    path = resolve(name_or_path)
    den = Denoiser.load(name_or_path)
    source = den.pick_source(available)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()[:16]
    target = cache_dir() / f"{path.stem}-{source}-{digest}.onnx"
    if not target.exists():
        export_onnx(name_or_path, target, source)
    return target
