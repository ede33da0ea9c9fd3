"""Render buffers: the named planes a renderer writes for one frame.

A :class:`Buffers` holds H×W×C float32 numpy planes keyed by canonical names (see ``PLANES``).
Everything that reads files produces one, everything that denoises consumes one, so file
layouts and network inputs never meet directly.

Conventions (the data contract): linear HDR radiance; normals in [-1, 1]; variances are the
variance of the per-pixel *mean* (sample variance / spp), per channel.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import numpy as np

# canonical name -> channel count
PLANES: dict[str, int] = {
    "color": 3,
    "albedo": 3,
    "normal": 3,
    "depth": 1,
    "position": 3,
    "motion": 2,  # pixels to the previous frame (x right, y down); see neurecon.render.sequence
    "motion_valid": 1,
    "motion_next": 2,
    "motion_next_valid": 1,
    "color_var": 3,
    "albedo_var": 3,
    "normal_var": 3,
    "depth_var": 1,
    # colour split by the first bounce's lobe: diffuse + specular = color (render/lobes.py)
    "diffuse": 3,
    "specular": 3,
    "diffuse_var": 3,
    "specular_var": 3,
}
VARIANCE_OF = {
    "color_var": "color",
    "albedo_var": "albedo",
    "normal_var": "normal",
    "depth_var": "depth",
    "diffuse_var": "diffuse",
    "specular_var": "specular",
}
RADIANCE = ("color", "diffuse", "specular")  # planes of light (exposure scales them)

# The largest magnitude :meth:`Buffers.sanitize` lets through (variances: its square). Far above
# any physical radiance (a directly seen sun in Cycles is ~1e7) and small enough that every sum
# the networks form stays finite in fp32 (max 3.4e38) and bf16 (same range): the relative-variance
# feature squares colour (3·1e30), demodulation divides by ≥ 0.02 (5e16), a kernel is a convex
# combination and each of ≤ 4 scale compositions adds a difference of such values (≤ 1e18); the
# U-Nets' albedo remodulation multiplies by ≤ 1e15 (1e33). Denoised output is clamped to ±VALUE_MAX.
VALUE_MAX = 1e15
VARIANCE_MAX = VALUE_MAX**2


class BufferError(ValueError):
    """A buffer is missing, has the wrong shape, or its file cannot be read as one."""


@dataclass
class SanitizeReport:
    """What :meth:`Buffers.sanitize` changed, per plane: counts of replaced values."""

    nan: dict[str, int] = field(default_factory=dict)
    inf: dict[str, int] = field(default_factory=dict)
    negative: dict[str, int] = field(default_factory=dict)
    huge: dict[str, int] = field(default_factory=dict)  # finite but beyond ±VALUE_MAX, clamped

    @property
    def total(self) -> int:
        return sum(sum(getattr(self, kind).values()) for kind in ("nan", "inf", "negative", "huge"))

    def __str__(self) -> str:
        if not self.total:
            return "clean"
        parts = []
        for kind in ("nan", "inf", "negative", "huge"):
            for name, n in getattr(self, kind).items():
                bound = VARIANCE_MAX if name in VARIANCE_OF else VALUE_MAX
                parts.append(f"{name}: {n} {kind}" + (f" (|x| > {bound:.0e}, clamped)" if kind == "huge" else ""))
        return ", ".join(parts)


def _as_plane(name: str, value) -> np.ndarray:
    arr = np.asarray(value, dtype=np.float32)
    if arr.ndim == 2:
        arr = arr[..., None]
    if arr.ndim != 3:
        raise BufferError(f"buffer '{name}' must be H×W or H×W×C, got shape {arr.shape}")
    want = PLANES.get(name)
    if want is not None and arr.shape[2] != want:
        if want == 3 and arr.shape[2] == 1:  # grey colour/albedo/variance: broadcast
            arr = np.repeat(arr, 3, axis=2)
        elif want == 1 and arr.shape[2] == 3:  # e.g. depth written as RGB
            arr = arr[..., :1]
        else:
            raise BufferError(f"buffer '{name}' needs {want} channels, got {arr.shape[2]}")
    return np.ascontiguousarray(arr)


class Buffers:
    """Named H×W×C float32 planes of one frame, all of the same size."""

    def __init__(self, planes: Mapping[str, np.ndarray] | None = None, **kw: np.ndarray):
        self.planes: dict[str, np.ndarray] = {}
        # the data source the file declared (e.g. "cycles" from Cycles channel names), if any:
        # the denoiser picks that source's encoder (nn/features.py DEFAULT_SOURCES)
        self.source: str | None = None
        for name, value in {**(planes or {}), **kw}.items():
            if value is not None:
                self[name] = value

    # mapping protocol -------------------------------------------------------------------
    def __getitem__(self, name: str) -> np.ndarray:
        try:
            return self.planes[name]
        except KeyError:
            raise BufferError(f"buffer '{name}' is missing; found: {self.describe_names()}") from None

    def __setitem__(self, name: str, value) -> None:
        arr = _as_plane(name, value)
        if self.planes:
            h, w = self.shape
            if arr.shape[:2] != (h, w):
                raise BufferError(f"buffer '{name}' is {arr.shape[1]}×{arr.shape[0]} but the others are {w}×{h}")
        self.planes[name] = arr

    def __contains__(self, name: str) -> bool:
        return name in self.planes

    def get(self, name: str, default=None):
        return self.planes.get(name, default)

    def names(self) -> list[str]:
        return list(self.planes)

    def describe_names(self) -> str:
        return ", ".join(self.planes) or "nothing"

    @property
    def shape(self) -> tuple[int, int]:
        if not self.planes:
            raise BufferError("no buffers")
        return next(iter(self.planes.values())).shape[:2]

    def require(self, names: Iterable[str]) -> Buffers:
        missing = [n for n in names if n not in self.planes]
        if missing:
            raise BufferError(f"missing required buffer(s) {', '.join(missing)}; found: {self.describe_names()}")
        return self

    def copy(self) -> Buffers:
        return Buffers({k: v.copy() for k, v in self.planes.items()})

    def subset(self, names: Iterable[str]) -> Buffers:
        return Buffers({n: self.planes[n] for n in names if n in self.planes})

    # geometry ---------------------------------------------------------------------------
    def crop(self, y: int, x: int, h: int, w: int) -> Buffers:
        H, W = self.shape
        if y < 0 or x < 0 or y + h > H or x + w > W:
            raise BufferError(f"crop {h}×{w} at ({y},{x}) outside a {H}×{W} frame")
        return Buffers({k: v[y : y + h, x : x + w] for k, v in self.planes.items()})

    def downsample2x(self) -> Buffers:
        """2×2 box downsampling (§3.4). Variances of a 4-sample mean are divided by 4."""
        H, W = self.shape
        h, w = H // 2, W // 2
        out = {}
        for k, v in self.planes.items():
            v = v[: 2 * h, : 2 * w].reshape(h, 2, w, 2, -1).mean(axis=(1, 3))
            out[k] = v / 4.0 if k in VARIANCE_OF else v
        return Buffers(out)

    # policy for broken renders --------------------------------------------------------
    def sanitize(self) -> SanitizeReport:
        """Replace non-finite values by 0, clamp huge ones, and negative radiance/variance to 0, in place.

        Policy: NaN and ±Inf become 0 in every plane (a single firefly NaN would otherwise spread
        through every kernel that touches it); finite values beyond ±VALUE_MAX (1e15; variances
        beyond VARIANCE_MAX = 1e30) are clamped to it, which keeps every sum of the networks finite
        in fp32 (see VALUE_MAX) — radiance that large is a broken render, not light; negative
        colour (and diffuse, specular), albedo, depth and variances become 0; normals are clamped
        to [-1, 1]. Returns the counts (``nan``, ``inf``, ``huge``, ``negative`` per plane) so callers can report them.
        """
        rep = SanitizeReport()
        for k, v in self.planes.items():
            nan = np.isnan(v)
            inf = np.isinf(v)
            if nan.any() or inf.any():
                rep.nan[k], rep.inf[k] = int(nan.sum()), int(inf.sum())
                v = np.where(nan | inf, np.float32(0), v)
            bound = np.float32(VARIANCE_MAX if k in VARIANCE_OF else VALUE_MAX)
            huge = np.abs(v) > bound
            if huge.any():
                rep.huge[k] = int(huge.sum())
                v = np.clip(v, -bound, bound)
            if k == "normal":
                v = np.clip(v, -1.0, 1.0)
            elif k in (*RADIANCE, "albedo", "depth") or k in VARIANCE_OF:
                neg = v < 0
                if neg.any():
                    rep.negative[k] = int(neg.sum())
                    v = np.maximum(v, 0)
            self.planes[k] = np.ascontiguousarray(v, dtype=np.float32)
        for d in (rep.nan, rep.inf):
            for k in [k for k, n in d.items() if n == 0]:
                del d[k]
        return rep

    # tensors ----------------------------------------------------------------------------
    def to_tensor(self, names: Iterable[str]):
        """Concatenate the named planes into a 1×C×H×W float32 torch tensor."""
        import torch

        self.require(names)
        arr = np.concatenate([self.planes[n] for n in names], axis=2)
        return torch.from_numpy(np.ascontiguousarray(arr.transpose(2, 0, 1)))[None]

    @classmethod
    def from_tensor(cls, tensor, names: Iterable[str]) -> Buffers:
        """Split a 1×C×H×W (or C×H×W) tensor into planes using the canonical channel counts."""
        t = tensor.detach().cpu()
        if t.ndim == 4:
            if t.shape[0] != 1:
                raise BufferError(f"from_tensor takes one frame, got a batch of {t.shape[0]}")
            t = t[0]
        arr = t.numpy().transpose(1, 2, 0)
        out, c = {}, 0
        for n in names:
            k = PLANES[n]
            out[n] = arr[..., c : c + k]
            c += k
        if c != arr.shape[2]:
            raise BufferError(f"tensor has {arr.shape[2]} channels, names account for {c}")
        return cls(out)

    def stats(self) -> dict[str, dict]:
        """Per plane: channels, finite min/max/mean and NaN/Inf counts (for `neurecon inspect`)."""
        out = {}
        for k, v in self.planes.items():
            fin = np.isfinite(v)
            vals = v[fin]
            out[k] = {
                "channels": int(v.shape[2]),
                "min": float(vals.min()) if vals.size else float("nan"),
                "max": float(vals.max()) if vals.size else float("nan"),
                "mean": float(vals.mean()) if vals.size else float("nan"),
                "nan": int(np.isnan(v).sum()),
                "inf": int(np.isinf(v).sum()),
            }
        return out

    def __repr__(self) -> str:
        if not self.planes:
            return "Buffers()"
        h, w = self.shape
        return f"Buffers({w}×{h}: {', '.join(f'{k}[{v.shape[2]}]' for k, v in self.planes.items())})"
