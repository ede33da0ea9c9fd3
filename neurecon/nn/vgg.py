"""VGG16 / VGG19 feature extractors (Simonyan & Zisserman 2015) with torchvision's layer indices,
so torchvision's ImageNet state dicts load as they are — neurecon never downloads them.

``features`` is an ``nn.Sequential`` numbered exactly as ``torchvision.models.vgg19().features``
(conv, ReLU, …, max-pool), so ``features.0.weight`` … ``features.34.bias`` of the official file
``vgg19-dcbb9e9d.pth`` (VGG16: ``vgg16-397923af.pth``) load directly; the ``classifier.*`` entries
of those files are not needed and are ignored. Layer names → indices: :data:`LAYERS`
(``relu1_1`` = ``features.1``, ``relu2_1`` = 6, ``relu3_1`` = 11, ``relu4_1`` = 20, ``relu5_1`` = 29
for VGG19).

Where the weights come from (:func:`find_weights`), first hit wins:

1. an explicit path (``task.weights.vgg19: PATH`` in a recipe, ``neurecon train --vgg19 PATH``);
2. the environment variable ``NEURECON_VGG19`` / ``NEURECON_VGG16``;
3. torch hub's cache: ``$TORCH_HOME/hub/checkpoints/<torchvision file name>``
   (``~/.cache/torch/hub/checkpoints/`` by default) — where torchvision itself keeps it.

Nothing found is a :class:`WeightsNotFound` naming every place searched (a loss with
``missing="skip"`` then leaves the term out and reports it); a path given explicitly that is not a
file, or a file that is not a VGG state dict of the right depth, is an error saying what is wrong —
never random weights in its place.
Inputs are RGB in [0, 1], normalised here with ImageNet's mean and std.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch
from torch import nn

from ..io.torchfile import CheckpointError, read_torch_file

CFGS: dict[str, list[int | str]] = {
    "vgg16": [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"],
    "vgg19": [64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M", 512, 512, 512, 512, "M"],
}
FILES = {"vgg16": "vgg16-397923af.pth", "vgg19": "vgg19-dcbb9e9d.pth"}
ENV = {"vgg16": "NEURECON_VGG16", "vgg19": "NEURECON_VGG19"}
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def layer_names(depth: str) -> dict[str, int]:
    """``{"conv1_1": 0, "relu1_1": 1, …, "pool5": 36}`` for ``vgg16`` / ``vgg19``."""
    names: dict[str, int] = {}
    block, conv, i = 1, 1, 0
    for v in CFGS[depth]:
        if v == "M":
            names[f"pool{block}"] = i
            block, conv, i = block + 1, 1, i + 1
        else:
            names[f"conv{block}_{conv}"], names[f"relu{block}_{conv}"] = i, i + 1
            conv, i = conv + 1, i + 2
    return names


LAYERS = {d: layer_names(d) for d in CFGS}


class WeightsNotFound(FileNotFoundError):
    """Pretrained weights the project cannot train are not on this machine."""


class WeightsMismatch(ValueError):
    """A weights file is not what it was given as."""


def hub_dir() -> Path:
    home = os.environ.get("TORCH_HOME") or os.path.join(
        os.environ.get("XDG_CACHE_HOME", os.path.join(os.path.expanduser("~"), ".cache")), "torch"
    )
    return Path(home) / "hub" / "checkpoints"


def find_weights(depth: str, path: str | Path | None = None) -> Path:
    """The local torchvision ``depth`` file (see the module docstring for the search order)."""
    if depth not in FILES:
        raise ValueError(f"unknown VGG '{depth}'; choose vgg16 or vgg19")
    if path:  # given explicitly (a path or the environment): its absence is an error, never skipped
        p = Path(path).expanduser()
        if p.is_file():
            return p
        raise FileNotFoundError(f"{depth} weights: no such file {p}")
    env = os.environ.get(ENV[depth])
    if env:
        p = Path(env).expanduser()
        if p.is_file():
            return p
        raise FileNotFoundError(f"{depth} weights: ${ENV[depth]}={p} is not a file")
    tried = [f"${ENV[depth]} (unset)"]
    p = hub_dir() / FILES[depth]
    if p.is_file():
        return p
    tried.append(str(p))
    raise WeightsNotFound(
        f"{depth.upper()} ImageNet weights (torchvision's {FILES[depth]}) not found; looked at: {'; '.join(tried)}. "
        f"neurecon never downloads them: give the file with --{depth} PATH "
        f"(task.weights.{depth}: PATH in a blind_sr recipe) or ${ENV[depth]}"
    )


class VGGFeatures(nn.Module):
    """``features`` of torchvision's VGG16/19 (optionally cut after the deepest layer needed);
    :meth:`forward` returns the activations of the named layers."""

    mean: torch.Tensor
    std: torch.Tensor

    def __init__(
        self, depth: str = "vgg19", layers: tuple[str, ...] | list[str] = ("relu5_1",), normalize: bool = True
    ):
        super().__init__()
        if depth not in CFGS:
            raise ValueError(f"unknown VGG '{depth}'; choose vgg16 or vgg19")
        self.depth = depth
        names = LAYERS[depth]
        unknown = [n for n in layers if n not in names]
        if unknown:
            raise ValueError(f"unknown {depth} layer(s) {unknown}; known: {list(names)}")
        self.layers = list(layers)
        self.indices = [names[n] for n in self.layers]
        last = max(self.indices)
        mods: list[nn.Module] = []
        cin = 3
        for v in CFGS[depth]:
            if v == "M":
                mods.append(nn.MaxPool2d(2, 2))
            else:
                assert isinstance(v, int)
                mods += [nn.Conv2d(cin, v, 3, padding=1), nn.ReLU(inplace=False)]
                cin = v
        self.features = nn.Sequential(*mods[: last + 1])
        self.normalize = normalize
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)

    def channels(self) -> list[int]:
        """Channels of each requested layer's activation."""
        out = []
        for i in self.indices:
            m = self.features[i]
            j = i
            while not isinstance(m, nn.Conv2d):  # a ReLU or pool: the conv before it
                j -= 1
                m = self.features[j]
            out.append(m.out_channels)
        return out

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        h = (x - self.mean) / self.std if self.normalize else x
        out, want = [], set(self.indices)
        for i, m in enumerate(self.features):
            h = m(h)
            if i in want:
                out.append(h)
        return [out[sorted(want).index(i)] for i in self.indices]

    def load_torchvision(self, state: dict, source: str = "the state dict") -> VGGFeatures:
        """Load torchvision's ``features.N.*`` entries (``classifier.*`` ignored). A file with other
        keys or shapes is refused with a message naming ``source`` and what did not fit."""
        if not isinstance(state, dict) or not state:
            raise WeightsMismatch(f"{source}: not a state dict")
        if "state_dict" in state and isinstance(state["state_dict"], dict):
            state = state["state_dict"]
        own = self.features.state_dict()
        feats = {k[len("features.") :]: v for k, v in state.items() if isinstance(k, str) and k.startswith("features.")}
        if not feats:
            sample = ", ".join(list(map(str, state))[:4])
            raise WeightsMismatch(
                f"{source}: not a torchvision {self.depth} state dict (no 'features.N.weight' entries; found {sample}…)"
            )
        missing = [k for k in own if k not in feats]
        bad = [
            f"features.{k}: {tuple(feats[k].shape)} vs {tuple(v.shape)}"
            for k, v in own.items()
            if k in feats and (not torch.is_tensor(feats[k]) or feats[k].shape != v.shape)
        ]
        n_convs = sum(1 for k in feats if k.endswith(".weight"))
        want = sum(1 for v in CFGS[self.depth] if v != "M")
        if missing or bad or n_convs != want:
            raise WeightsMismatch(
                f"{source}: not torchvision's {self.depth} ({n_convs} conv layers in the file, {want} expected"
                + (f"; missing {missing[:3]}" if missing else "")
                + (f"; wrong shapes {bad[:3]}" if bad else "")
                + ")"
            )
        self.features.load_state_dict({k: feats[k].float() for k in own})
        return self

    def freeze(self) -> VGGFeatures:
        for p in self.parameters():
            p.requires_grad_(False)
        return self.eval()


def load_vgg(
    depth: str = "vgg19", layers: tuple[str, ...] | list[str] = ("relu5_1",), path: str | Path | None = None
) -> VGGFeatures:
    """A frozen :class:`VGGFeatures` with torchvision's ImageNet weights from a local file."""
    p = find_weights(depth, path)
    return VGGFeatures(depth, layers).load_torchvision(read_state(p), str(p)).freeze()


def read_state(path: str | Path) -> dict:
    """A ``.pth`` state dict read with ``weights_only=True`` (tensors and plain data only: a file
    cannot run code while it is read); anything else is a :class:`WeightsMismatch`."""
    p = Path(path)
    try:
        state = read_torch_file(p)
    except CheckpointError as e:  # not a zip/pickle, truncated, or holding Python objects
        raise WeightsMismatch(f"{p}: cannot be read as a state dict ({str(e).removeprefix(f'{p}: ')})") from None
    if not isinstance(state, dict):
        raise WeightsMismatch(f"{p}: holds a {type(state).__name__}, not a state dict")
    return state
