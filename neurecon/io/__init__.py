"""File I/O: every on-disk format becomes a :class:`neurecon.buffers.Buffers` (or an H×W×3 array).

* :func:`read_image` / :func:`write_image` — one image, format by extension (.exr, .pfm, .png, .jpg).
* :func:`read_buffers` / :func:`write_buffers` — a multi-layer EXR (Mitsuba, Cycles or plain
  channel names, see :mod:`.layouts`).
* :func:`find_frames`, :func:`read_oidn_frame`, :func:`write_oidn_frame` — OIDN's dataset layout
  of one file per feature and spp level (see :mod:`.oidn_layout`).

Readers raise FileNotFoundError for missing files and a :class:`~neurecon.buffers.BufferError`
(:class:`ExrError` for unreadable EXRs) that names the file for anything else. Every reader checks
the size a file's header declares against the read budget (:mod:`.limits`) before decoding it
(:class:`ImageTooLargeError`).
"""

from .exr import ExrError, read_exr_channels, write_exr_channels
from .images import read_array, read_buffers, read_image, write_buffers, write_image
from .layouts import buffers_to_channels, channels_to_buffers, detect_layout
from .ldr import srgb_decode, srgb_encode, tonemap_to_ldr
from .limits import ImageTooLargeError
from .oidn_layout import FrameSet, find_frames, read_oidn_frame, write_oidn_frame
from .pfm import PfmError, read_pfm, write_pfm

__all__ = [
    "ExrError",
    "ImageTooLargeError",
    "PfmError",
    "FrameSet",
    "read_image",
    "write_image",
    "read_array",
    "read_buffers",
    "write_buffers",
    "read_exr_channels",
    "write_exr_channels",
    "read_pfm",
    "write_pfm",
    "detect_layout",
    "channels_to_buffers",
    "buffers_to_channels",
    "find_frames",
    "read_oidn_frame",
    "write_oidn_frame",
    "srgb_encode",
    "srgb_decode",
    "tonemap_to_ldr",
]
