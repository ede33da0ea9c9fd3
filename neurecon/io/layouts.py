"""Multi-layer EXR channel names ↔ canonical :class:`Buffers` planes.

Two naming families are understood (names compare case-insensitively):

* **Mitsuba / plain** — colour ``R,G,B`` (or grey ``Y``, or ``color.R…``); AOVs as
  ``<layer>.<component>``: ``albedo.R``, ``nn.X``/``normal.X`` (or ``.R``), ``depth.Y``/``dd.T``/
  ``dd.Y``/``depth.Z`` (or a bare ``Z``), ``pos.X``/``position.X``, motion (below) and our
  variances ``color_var.R``/``variance.R``, ``albedo_var.R``, ``normal_var.X``, ``depth_var.Y``;
  colour split by the first bounce's lobe ``diffuse.R``, ``specular.R`` and their variances
  ``diffuse_var.R``, ``specular_var.R`` (:mod:`neurecon.render.lobes`).
  Mitsuba's moment-integrator ``m2_*`` channels are not read: our own files store variances.
* **Blender Cycles** — ``<view layer>.<pass>.<component>`` with any view-layer name:
  ``Noisy Image`` (preferred: when Cycles denoises, ``Combined`` holds the *denoised* result)
  or ``Combined``, ``Denoising Albedo``, ``Denoising Normal``/``Normal``, ``Denoising Depth``/
  ``Depth`` (``.Z``), ``Position``, ``Vector`` (motion, converted: see below).

**Motion** (one convention, :mod:`neurecon.render.sequence`): ``motion.X``, ``motion.Y`` is the
offset in pixels (x to the right, y downwards, as columns and rows) from the pixel centre to where
the same surface point was in the previous frame (zero in the first frame); ``motion_valid.Y`` is 1
where that point was visible there and 0 at disocclusions, off-screen and in the first frame;
``motion_next.X/Y`` and ``motion_next_valid.Y`` are the same towards the next frame. Blender's
``Vector`` pass holds, in pixels with y up, R,G = the motion towards the previous frame and B,A =
minus the motion towards the next (Cycles: ``pre − center`` and ``center − post``), so it reads as
``motion = (X, −Y)`` and ``motion_next = (−Z, W)`` (and is written back the same way); it has no
validity, which the temporal denoiser then derives from the vectors (``neurecon.infer.temporal``).

For each plane the first complete alternative wins; a partial one (``albedo.R`` without
``albedo.B``) is an error rather than a silently missing buffer.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import numpy as np

from ..buffers import BufferError, Buffers

RGB, XYZ = ("R", "G", "B"), ("X", "Y", "Z")


def _alts(prefixes: Iterable[str], *groups: tuple[str, ...]) -> list[tuple[str, ...]]:
    return [tuple(p + c for c in g) for p in prefixes for g in groups]


# plane -> channel-name alternatives in order of preference; the first one is what we write.
MITSUBA: dict[str, list[tuple[str, ...]]] = {
    "color": _alts(("", "color."), RGB, ("Y",)),
    "albedo": _alts(("albedo.",), RGB, ("Y",)),
    "normal": _alts(("nn.", "normal."), XYZ, RGB),
    "depth": _alts(("depth.", "dd."), ("Y",), ("T",), ("Z",)) + [("Z",)],
    "position": _alts(("pos.", "position."), XYZ, RGB),
    "motion": _alts(("motion.",), ("X", "Y"), ("R", "G")),
    "motion_valid": _alts(("motion_valid.",), ("Y",), ("R",)),
    "motion_next": _alts(("motion_next.",), ("X", "Y"), ("R", "G")),
    "motion_next_valid": _alts(("motion_next_valid.",), ("Y",), ("R",)),
    "color_var": _alts(("color_var.", "variance."), RGB, ("Y",)),
    "albedo_var": _alts(("albedo_var.",), RGB, ("Y",)),
    "normal_var": _alts(("normal_var.",), XYZ, RGB),
    "depth_var": _alts(("depth_var.",), ("Y",), ("T",), ("Z",)),
    "diffuse": _alts(("diffuse.",), RGB, ("Y",)),
    "specular": _alts(("specular.",), RGB, ("Y",)),
    "diffuse_var": _alts(("diffuse_var.",), RGB, ("Y",)),
    "specular_var": _alts(("specular_var.",), RGB, ("Y",)),
}

# plane -> (pass, components) alternatives below "<view layer>."
CYCLES: dict[str, list[tuple[str, tuple[str, ...]]]] = {
    "color": [("Noisy Image", RGB), ("Combined", RGB)],
    "albedo": [("Denoising Albedo", RGB)],
    "normal": [("Denoising Normal", XYZ), ("Normal", XYZ)],
    "depth": [("Denoising Depth", ("Z",)), ("Depth", ("Z",))],
    "position": [("Position", XYZ)],
    "motion": [("Vector", ("X", "Y"))],
    "motion_next": [("Vector", ("Z", "W"))],
}
# Blender's Vector pass → our motion planes: per-component signs (y up → y down; B,A = −next)
_CYCLES_SIGN = {"motion": np.array([1, -1], np.float32), "motion_next": np.array([-1, 1], np.float32)}
_CYCLES_WRITE = {"color": "Combined"}  # a file we write holds the noisy image as Combined
_CYCLES_PASSES = {p.lower() for alts in CYCLES.values() for p, _ in alts}
_MITSUBA_AUX = {c.lower() for alts in MITSUBA.values() for alt in alts for c in alt if "." in c}


# the data source a file's channel names declare: Cycles names → the `cycles` encoder. Mitsuba-style
# names are also what other tools write, so they declare nothing (the buffers decide).
SOURCE_OF_LAYOUT = {"cycles": "cycles"}


def _cycles_layer(name: str) -> str | None:
    """The view-layer part of a Cycles channel name, or None if it is not one."""
    parts = name.rsplit(".", 2)
    return parts[0] if len(parts) == 3 and parts[1].lower() in _CYCLES_PASSES else None


def detect_layout(channel_names: Iterable[str]) -> str:
    """'cycles' if any channel is ``<layer>.<known Cycles pass>.<c>``, 'mitsuba' if any is a
    known Mitsuba AOV name, else 'plain' (colour-only ``R,G,B``/``Y``)."""
    names = list(channel_names)
    if any(_cycles_layer(n) is not None for n in names):
        return "cycles"
    if any(n.lower() in _MITSUBA_AUX for n in names):
        return "mitsuba"
    return "plain"


def _alternatives(channels: Mapping[str, np.ndarray], layer: str | None) -> dict[str, list[tuple[str, ...]]]:
    if detect_layout(channels) != "cycles":
        return MITSUBA
    layers = sorted({lay for n in channels if (lay := _cycles_layer(n)) is not None})
    if layer is None:
        if len(layers) > 1:
            raise BufferError(f"several Cycles view layers ({', '.join(layers)}); choose one with layer=")
        layer = layers[0]
    elif layer not in layers:
        raise BufferError(f"no Cycles view layer '{layer}'; found: {', '.join(layers)}")
    return {plane: [tuple(f"{layer}.{p}.{c}" for c in comps) for p, comps in alts] for plane, alts in CYCLES.items()}


def channels_to_buffers(channels: Mapping[str, np.ndarray], layer: str | None = None) -> Buffers:
    """Map EXR channels (``{name: H×W}``) to canonical planes; unknown channels are ignored.

    ``layer`` picks a Cycles view layer when a file holds several. Raises :class:`BufferError`
    listing the channels present when no colour is found or an AOV is incomplete.
    """
    by_lower = {n.lower(): n for n in channels}
    found = ", ".join(sorted(channels)) or "none"
    planes = {}
    layout = detect_layout(channels)
    for plane, alts in _alternatives(channels, layer).items():
        for alt in alts:
            found_names = [by_lower.get(c.lower()) for c in alt]
            names = [n for n in found_names if n is not None]
            if len(names) == len(found_names):
                planes[plane] = np.stack([channels[n] for n in names], axis=-1)
                if layout == "cycles" and plane in _CYCLES_SIGN:
                    planes[plane] = planes[plane] * _CYCLES_SIGN[plane]
                break
            if names:
                missing = [c for c, n in zip(alt, found_names) if n is None]
                raise BufferError(f"{plane}: channel(s) {', '.join(missing)} missing; channels found: {found}")
    if "color" not in planes:
        raise BufferError(f"no colour channels (R,G,B / Y / color.R… / <layer>.Combined.R…); channels found: {found}")
    buf = Buffers(planes)
    buf.source = SOURCE_OF_LAYOUT.get(layout)
    return buf


def buffers_to_channels(buffers: Buffers, style: str = "mitsuba") -> dict[str, np.ndarray]:
    """Split planes into named EXR channels: our canonical Mitsuba-style names (the first
    alternative of each plane in ``MITSUBA``), or Cycles names under ``ViewLayer.``.

    Cycles has no pass for variances, so writing them in that style is an error, not a loss.
    """
    if style == "mitsuba":
        names = {plane: alts[0] for plane, alts in MITSUBA.items()}
    elif style == "cycles":
        names = {
            plane: tuple(f"ViewLayer.{_CYCLES_WRITE.get(plane, alts[0][0])}.{c}" for c in alts[0][1])
            for plane, alts in CYCLES.items()
        }
    else:
        raise ValueError(f"unknown channel style '{style}' (mitsuba, cycles)")
    unnamed = [p for p in buffers.names() if p not in names]
    if unnamed:
        raise BufferError(f"{style} layout has no channels for {', '.join(unnamed)}")
    sign = _CYCLES_SIGN if style == "cycles" else {}
    return {
        c: buffers[p][..., i] * (sign[p][i] if p in sign else 1)
        for p in buffers.names()
        for i, c in enumerate(names[p])
    }
