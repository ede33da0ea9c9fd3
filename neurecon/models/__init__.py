"""Model registry: rebuild any neurecon network from the `spec` stored next to its weights, and
load shipped weights by name (files in `neurecon/models/weights/`, produced by `configs/`).

A checkpoint is a dict with `spec` (``{"arch": name, **constructor arguments}``) and `model`
(a state dict, fp16 for shipped files). Parts of a checkpoint load into parts of a model with
:func:`load_part` — how pre-trained encoders and extractors are re-assembled under new heads.
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable

import torch
from torch import nn

WEIGHTS_DIR = Path(__file__).parent / "weights"
ARCHS: dict[str, Callable[[dict], nn.Module]] = {}
# shipped name -> file in WEIGHTS_DIR; "default" is what Denoiser.load() gives without a name
# default: the best quality at ≥ OIDN's throughput on this project's CPU (bench/denoise.py)
SHIPPED: dict[str, str] = {"default": "unet_high.pt", "kpcn": "kpcn_default.pt", "fast": "unet_fast.pt",
                           "balanced": "unet_balanced.pt", "high": "unet_high.pt",
                           # λ control: "lambda" is the default model's
                           "lambda": "unet_high_lambda.pt", "high_lambda": "unet_high_lambda.pt",
                           "balanced_lambda": "unet_balanced_lambda.pt", "kpcn_lambda": "kpcn_lambda.pt"}


def register(arch: str):
    def deco(builder: Callable[[dict], nn.Module]):
        ARCHS[arch] = builder
        return builder
    return deco


@register("kpcn")
def _kpcn(spec: dict) -> nn.Module:
    from ..nn.kpcn import KPCN, KPCNConfig

    return KPCN(KPCNConfig(**spec))


@register("unet")
def _unet(spec: dict) -> nn.Module:
    from ..nn.unet import UNetConfig, UNetKPCN

    return UNetKPCN(UNetConfig(**{**spec, "widths": tuple(spec.get("widths", UNetConfig().widths))}))


@register("kpcn_ms")
def _kpcn_ms(spec: dict) -> nn.Module:
    from ..nn.kpcn import KPCN, KPCNConfig
    from ..nn.multiscale import MultiScale

    levels = spec.pop("levels", 3)
    return MultiScale(KPCN(KPCNConfig(**spec)), levels)


@register("kpcn_lambda")
def _kpcn_lambda(spec: dict) -> nn.Module:
    from ..nn.specialiser import LambdaKPCN

    return LambdaKPCN(**spec)


@register("unet_lambda")
def _unet_lambda(spec: dict) -> nn.Module:
    from ..nn.specialiser import LambdaUNet

    return LambdaUNet(**spec)


def build_model(spec: dict) -> nn.Module:
    spec = dict(spec)
    arch = spec.pop("arch", None)
    if arch not in ARCHS:
        _import_plugins()
    if arch not in ARCHS:
        raise ValueError(f"unknown architecture '{arch}'; known: {sorted(ARCHS)}")
    try:
        return ARCHS[arch](spec)
    except TypeError as e:  # an unknown or missing constructor argument in a config's model section
        raise ValueError(f"bad model spec for '{arch}': {e}") from None


def _import_plugins() -> None:
    """Architectures living in other packages register themselves on import."""
    try:
        from ..sr import models as _  # noqa: F401
    except ImportError:
        pass


def resolve(name_or_path: str | Path | None, default: str = "default") -> Path:
    if name_or_path is None:
        name_or_path = default
    p = Path(name_or_path)
    if p.suffix in (".pt", ".pth") or p.exists():
        if not p.exists():
            raise FileNotFoundError(f"model file not found: {p}")
        return p
    if str(name_or_path) not in SHIPPED:
        _import_plugins()  # plugins add their shipped names (e.g. the SR models)
    if str(name_or_path) not in SHIPPED:
        raise ValueError(f"unknown model '{name_or_path}'; shipped: {sorted(SHIPPED)}, or give a .pt path")
    path = WEIGHTS_DIR / SHIPPED[str(name_or_path)]
    if not path.exists():
        raise FileNotFoundError(f"shipped model '{name_or_path}' has no weights at {path}; train it with configs/")
    return path


def load_checkpoint(name_or_path: str | Path | None, default: str = "default") -> dict:
    ck = torch.load(resolve(name_or_path, default), map_location="cpu", weights_only=False)
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
    sub = {k[len(prefix) + 1:]: v.float() for k, v in checkpoint["model"].items() if k.startswith(prefix + ".")}
    if not sub:
        raise ValueError(f"checkpoint has no parameters under '{prefix}'")
    module.load_state_dict(sub, strict=strict)
    return module


def export_shipped(best_pt: str | Path, out: str | Path, card: dict) -> Path:
    """Strip a training checkpoint to fp16 weights + spec + model card for committing."""
    ck = torch.load(best_pt, map_location="cpu", weights_only=False)
    out = Path(out)
    torch.save({"spec": ck["spec"], "model": {k: v.half() if v.is_floating_point() else v for k, v in ck["model"].items()},
                "card": card}, out)
    return out


def weights_digest(state: dict[str, torch.Tensor]) -> str:
    """A short hash of a checkpoint's weights as stored (names, dtypes, shapes, values): a
    benchmark records it so a model card only takes results measured on these exact weights
    (rescoring a card rewrites the .pt file, so the file's own hash would not do)."""
    import hashlib

    h = hashlib.sha256()
    for k in sorted(state):
        v = state[k].detach().cpu().contiguous()
        h.update(f"{k}:{v.dtype}:{tuple(v.shape)}".encode())
        h.update(v.reshape(-1).view(torch.uint8).numpy().tobytes() if v.numel() else b"")
    return h.hexdigest()[:16]
