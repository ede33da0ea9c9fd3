"""Buffers the user gave that the chosen encoder does not read, said once, with what would use them.

A model reads a frame through one source encoder (``config.sources``: the buffers each reads);
the richest encoder whose buffers were all given wins. A buffer outside that encoder is dropped
without effect — e.g. ``--var`` alone with the default model, whose variance encoder also needs
the albedo and normal variances — and the user should hear it. Only buffers the user *named*
count (``--alb``/``--nrm``/``--var``, or the API's keyword arrays): the planes a multi-layer EXR
carries are what the renderer wrote, not a request, and warning about each would be noise.
"""

from __future__ import annotations

import warnings
from collections.abc import Collection, Mapping, Sequence


class UnusedBufferWarning(UserWarning):
    """A given buffer that the chosen encoder does not read."""


def unused_buffer_notes(
    given: Mapping[str, str],
    available: Collection[str],
    used: str,
    sources: Mapping[str, Sequence[str]],
    read: Collection[str],
) -> list[str]:
    """One sentence per given buffer that the `used` encoder does not read.

    `given` maps a plane to how the user named it (``{"color_var": "--var"}``), `available` is
    every plane of the frame, `sources` every encoder's buffers, `read` what the model reads
    through `used` (its buffers, colour, and any albedo the reconstruction itself uses). Each
    sentence names the encoder that reads the buffer with the fewest others missing, and those."""
    notes = []
    for plane, label in given.items():
        if plane in read:
            continue
        readers = [(s, [b for b in bufs if b not in available]) for s, bufs in sources.items() if plane in bufs]
        if readers:
            source, missing = min(readers, key=lambda r: len(r[1]))
            why = f"the `{source}` encoder, which reads {plane}, " + (
                f"also needs {', '.join(missing)}" if missing else "was not chosen (--source)"
            )
        else:
            why = f"no encoder of this model reads {plane}"
        notes.append(f"{label} given but not used: {why}; the `{used}` encoder was used")
    return notes


# the API's keyword arguments -> planes (Denoiser.denoise, OnnxDenoiser.denoise)
API_ARGUMENTS = {"albedo": "albedo", "normal": "normal", "variance": "color_var"}


def warn_unused(notes: Sequence[str], stacklevel: int = 3) -> None:
    for note in notes:
        warnings.warn(note, UnusedBufferWarning, stacklevel=stacklevel)
