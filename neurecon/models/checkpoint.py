"""Checkpoints: rebuild any neurecon network from the `spec` stored next to its weights, and load
shipped weights by name (files in `neurecon/models/weights/`, produced by `configs/`).

A checkpoint is a dict with `spec` (``{"arch": name, **constructor arguments}``) and `model`
(a state dict, fp16 for shipped files). Parts of a checkpoint load into parts of a model with
:func:`load_part` — how pre-trained encoders and extractors are re-assembled under new heads.
Every ``.pt`` the package reads goes through :func:`read_file`.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import torch
from torch import nn

from ..io.atomic import atomic_save
from . import registry
from .registry import WEIGHTS_DIR


def read_file(path: str | Path) -> dict:
    """A .pt file's contents (CPU tensors)."""
    return torch.load(path, map_location="cpu", weights_only=False)


def build_model(spec: dict) -> nn.Module:
    spec = dict(spec)
    builder = registry.arch(spec.pop("arch", None))
    try:
        return builder(spec)
    except TypeError as e:  # an unknown or missing constructor argument in a config's model section
        raise ValueError(f"bad model spec: {e}") from None


def resolve(name_or_path: str | Path | None, default: str = "default") -> Path:
    if name_or_path is None:
        name_or_path = default
    p = Path(name_or_path)
    if p.suffix in (".pt", ".pth") or p.exists():
        if not p.exists():
            raise FileNotFoundError(f"model file not found: {p}")
        return p
    shipped = registry.SHIPPED.get(str(name_or_path))
    if shipped is None:
        raise ValueError(f"unknown model '{name_or_path}'; shipped: {sorted(registry.SHIPPED)}, or give a .pt path")
    path = WEIGHTS_DIR / shipped.file
    if not path.exists():
        raise FileNotFoundError(f"shipped model '{name_or_path}' has no weights at {path}; train it with configs/")
    return path


def load_checkpoint(name_or_path: str | Path | None, default: str = "default") -> dict:
    ck = read_file(resolve(name_or_path, default))
    if not isinstance(ck, dict) or "spec" not in ck or "model" not in ck:
        raise ValueError(f"{name_or_path}: not a neurecon checkpoint (needs 'spec' and 'model')")
    return ck


def load_model(name_or_path: str | Path | None = None, default: str = "default") -> tuple[nn.Module, dict]:
    """Model in eval mode (fp32) and its checkpoint dict (spec, card, …)."""
    ck = load_checkpoint(name_or_path, default)
    model = build_model(ck["spec"])
    model.load_state_dict({k: v.float() for k, v in ck["model"].items()})
    return model.eval(), ck


def load_part(module: nn.Module, checkpoint: dict, prefix: str, strict: bool = True) -> nn.Module:
    """Load the entries of `checkpoint["model"]` under `prefix.` into `module` (e.g. a frozen
    extractor taken from a trained KPCN)."""
    sub = {k[len(prefix) + 1 :]: v.float() for k, v in checkpoint["model"].items() if k.startswith(prefix + ".")}
    if not sub:
        raise ValueError(f"checkpoint has no parameters under '{prefix}'")
    module.load_state_dict(sub, strict=strict)
    return module


def export_shipped(best_pt: str | Path, out: str | Path, card: dict) -> Path:
    """Strip a training checkpoint to fp16 weights + spec + model card for committing."""
    ck = read_file(best_pt)
    out = Path(out)
    atomic_save(
        {
            "spec": ck["spec"],
            "model": {k: v.half() if v.is_floating_point() else v for k, v in ck["model"].items()},
            "card": card,
        },
        out,
    )
    return out


def weights_digest(state: dict[str, torch.Tensor]) -> str:
    """A short hash of a checkpoint's weights as stored (names, dtypes, shapes, values): a
    benchmark records it so a model card only takes results measured on these exact weights
    (rescoring a card rewrites the .pt file, so the file's own hash would not do)."""
    h = hashlib.sha256()
    for k in sorted(state):
        v = state[k].detach().cpu().contiguous()
        h.update(f"{k}:{v.dtype}:{tuple(v.shape)}".encode())
        h.update(v.reshape(-1).view(torch.uint8).numpy().tobytes() if v.numel() else b"")
    return h.hexdigest()[:16]
