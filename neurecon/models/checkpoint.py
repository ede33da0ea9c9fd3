"""Checkpoints: rebuild any neurecon network from the `spec` stored next to its weights, and load
shipped weights by name (files in `neurecon/models/weights/`, produced by `configs/`).

A checkpoint is a dict with `spec` (``{"arch": name, **constructor arguments}``) and `model`
(a state dict, fp16 for shipped files). Parts of a checkpoint load into parts of a model with
:func:`load_part` — how pre-trained encoders and extractors are re-assembled under new heads.
Every ``.pt`` the package reads goes through :func:`read_file`, which loads with
``weights_only=True``: tensors and plain Python data (dicts, lists, tuples, numbers, strings) only,
so a file cannot run code while it is read. neurecon's checkpoints need nothing else (the trainer
stores its RNG states as tensors and lists); any other file is a :class:`CheckpointError`.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ..io.atomic import atomic_save
from ..io.torchfile import CheckpointError, read_torch_file
from . import registry
from .registry import WEIGHTS_DIR


def read_file(path: str | Path) -> dict:
    """A .pt file's contents (CPU tensors), loaded with ``weights_only=True``; a neurecon
    checkpoint is a dict."""
    ck = read_torch_file(path)
    if not isinstance(ck, dict):
        raise CheckpointError(f"{path}: not a neurecon checkpoint (it holds a {type(ck).__name__}, not a dict)")
    return ck


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


def _split_adapter_name(name) -> tuple[str, str] | None:
    """`BASE+ADAPTER` (an adapter path or shipped adapter onto a base), unless the whole name is a
    shipped model or an existing file."""
    if not isinstance(name, str) or "+" not in name or name in registry.SHIPPED or Path(name).exists():
        return None
    base, _, adapter = name.partition("+")
    return (base, adapter) if base and adapter else None


def load_checkpoint(name_or_path: str | Path | None, default: str = "default") -> dict:
    """A checkpoint by shipped name or path; adapters (models/checkpoint.py, adapters) come back loaded onto
    their base: `BASE+ADAPTER`, a shipped adapter name (`default+cycles`), or an adapter file."""
    split = _split_adapter_name(name_or_path)
    if split is not None:
        base, adapter_name = split
        adapter = read_file(resolve(adapter_name))
        if not is_adapter(adapter):
            raise CheckpointError(f"{adapter_name}: not an adapter (in '{name_or_path}', BASE+ADAPTER)")
        return apply_adapter(load_checkpoint(base, default), adapter, base, str(adapter_name))
    ck = read_file(resolve(name_or_path, default))
    if is_adapter(ck):
        info = check_adapter(ck, str(name_or_path))
        base = info["base"]  # the weights it was trained on (a shipped alias may name another base)
        return apply_adapter(load_checkpoint(base, default), ck, base, str(name_or_path))
    if "spec" not in ck or "model" not in ck:
        raise CheckpointError(f"{name_or_path}: not a neurecon checkpoint (needs 'spec' and 'model')")
    if not isinstance(ck["spec"], dict) or not isinstance(ck["model"], dict):
        raise CheckpointError(f"{name_or_path}: not a neurecon checkpoint ('spec' and 'model' must be dicts)")
    return ck


def load_model(name_or_path: str | Path | None = None, default: str = "default") -> tuple[nn.Module, dict]:
    """Model in eval mode (fp32) and its checkpoint dict (spec, card, …)."""
    ck = load_checkpoint(name_or_path, default)
    model = build_model(ck["spec"])
    if not all(torch.is_tensor(v) for v in ck["model"].values()):
        raise CheckpointError(f"{name_or_path}: not a neurecon checkpoint ('model' must map names to tensors)")
    try:
        model.load_state_dict({k: v.float() for k, v in ck["model"].items()})
    except RuntimeError as e:  # missing/unexpected keys, size mismatches
        raise CheckpointError(
            f"{name_or_path}: the weights do not fit the model its spec describes "
            f"({str(e).strip().splitlines()[0]}; {_mismatch_summary(e)})"
        ) from None
    return model.eval(), ck


def _mismatch_summary(err: RuntimeError) -> str:
    lines = [ln.strip() for ln in str(err).splitlines()[1:] if ln.strip()]
    return lines[0][:200] if lines else "no details"


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
            "card": plain(card),
        },
        out,
    )
    return out


def plain(x):
    """`x` with numpy scalars and arrays turned into Python numbers and lists (tuples kept), so
    it loads with ``weights_only=True`` (a card's metrics may be numpy floats)."""
    if isinstance(x, dict):
        return {k: plain(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return type(x)(plain(v) for v in x)
    if isinstance(x, np.ndarray):
        return x.tolist()
    if isinstance(x, np.generic):
        return x.item()
    return x


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


# adapters -----------------------------------------------------------------------------
# Adapter files: a part of a model trained for one base model, shipped on its own.
#
# An adapter (the adapt recipe, §7.1: a new source encoder trained on a few frames of a new
# renderer, the rest frozen) is a small ``.pt`` holding only the trained weights and::
#
#     adapter: {base: "default", base_digest: "…", source: "cycles", buffers: [...], trained: ["encoders.cycles."]}
#
# It loads onto the base it names: ``--model default+cycles`` (a shipped adapter), ``--model
# BASE+path/adapter.pt``, or ``--model path/adapter.pt`` (onto the base it names). The base's
# weights must be the ones it was trained against (their :func:`weights_digest`): an adapter on
# other weights would silently compute something else.


def is_adapter(ck: dict) -> bool:
    return isinstance(ck.get("adapter"), dict)


def check_adapter(ck: dict, where: str) -> dict:
    info = ck.get("adapter")
    need = {"base", "base_digest", "source", "buffers", "trained"}
    if not isinstance(info, dict) or not need <= set(info) or not isinstance(ck.get("model"), dict):
        raise CheckpointError(f"{where}: not a neurecon adapter (needs 'adapter' with {sorted(need)} and 'model')")
    if not all(torch.is_tensor(v) for v in ck["model"].values()):
        raise CheckpointError(f"{where}: not a neurecon adapter ('model' must map names to tensors)")
    return info


def apply_adapter(base: dict, adapter: dict, base_name: str, where: str) -> dict:
    """The checkpoint of `base` with `adapter` loaded onto it: one more source in its spec, the
    adapter's weights added (or, for trained base parts such as enc1, replacing the base's)."""
    info = check_adapter(adapter, where)
    digest = weights_digest(base["model"])
    if digest != info["base_digest"]:
        raise CheckpointError(
            f"{where}: the adapter was trained on base weights {info['base_digest']} ('{info['base']}'), "
            f"but '{base_name}' has {digest}; adapt this base with `neurecon adapt --base {base_name}`"
        )
    spec = dict(base["spec"])
    if "sources" not in spec:
        raise CheckpointError(f"{where}: base '{base_name}' has no source encoders to add one to")
    spec["sources"] = {**spec["sources"], info["source"]: list(info["buffers"])}
    card = dict(base.get("card") or {})
    card["adapter"] = adapter.get("card") or {}
    card["name"] = f"{card.get('name', base_name)}+{info['source']}"
    return {**base, "spec": spec, "model": {**base["model"], **adapter["model"]}, "card": card}


def write_adapter(path: str | Path, state: dict[str, torch.Tensor], info: dict, card: dict) -> Path:
    """Save the adapter part of a full model state (fp16, like shipped models) with its card."""
    weights = {
        k: (v.half() if v.is_floating_point() else v).clone()
        for k, v in state.items()
        if any(k.startswith(p) for p in info["trained"])
    }
    if not weights:
        raise ValueError(f"no weights under {info['trained']} to put in the adapter")
    atomic_save({"adapter": plain(info), "model": weights, "card": plain(card)}, Path(path))
    return Path(path)
