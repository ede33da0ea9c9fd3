"""OIDN's training-dataset layout: one single-feature image file per buffer.

File names follow the OIDN training toolkit, ``<name>_<tag>.<feature>.<ext>``:

* ``<tag>`` is ``<spp>spp`` (or bare ``<spp>``, as OIDN accepts), written zero-padded to four
  digits so names sort; or a reference tag ``ref``/``reference``/``gt``/``target``.
* ``<feature>`` is OIDN's ``hdr`` (colour), ``alb``, ``nrm``, plus our extensions ``z`` (depth),
  ``pos``, ``mv`` (motion), ``var`` (variance of the colour mean), ``alb_var``, ``nrm_var``,
  ``z_var``, and the colour's diffuse/specular split ``diff``, ``spec``, ``diff_var``, ``spec_var``
  (``neurecon render --lobes``). OIDN ignores files with features it does not know.
* ``<ext>`` is ``exr`` (``R,G,B``; one-channel planes as ``Y``; motion as ``R,G``) or ``pfm``.

Reference rule (OIDN's): if a frame has no named reference, its highest spp level is the
reference; :attr:`FrameSet.reference_spp` then says which level that is.
``<name>`` may contain sub-directories: :func:`find_frames` walks the tree.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from ..buffers import PLANES, BufferError, Buffers
from .images import read_array, write_image

FEATURES = {
    "color": "hdr",
    "albedo": "alb",
    "normal": "nrm",
    "depth": "z",
    "position": "pos",
    "motion": "mv",
    "color_var": "var",
    "albedo_var": "alb_var",
    "normal_var": "nrm_var",
    "depth_var": "z_var",
    "diffuse": "diff",
    "specular": "spec",
    "diffuse_var": "diff_var",
    "specular_var": "spec_var",
}
_PLANE_OF = {f: p for p, f in FEATURES.items()}
REF_TAGS = ("ref", "reference", "gt", "target")
_FILE = re.compile(
    rf"(?P<name>.+)_(?:(?P<spp>\d+)(?:spp)?|(?P<ref>{'|'.join(REF_TAGS)}))"
    rf"\.(?P<feature>{'|'.join(sorted(FEATURES.values(), key=len, reverse=True))})\.(?P<ext>exr|pfm)"
)

Tag = int | str  # an spp level, or "ref"


@dataclass
class FrameSet:
    """The files of one frame: ``files[tag][plane] -> path`` with tag an spp level or "ref"."""

    name: str
    files: dict[Tag, dict[str, Path]] = field(default_factory=dict)
    reference: str | None = None  # the reference tag as spelled in the file names, if any

    @property
    def spp(self) -> list[int]:
        """All spp levels present, ascending (including one used as the reference)."""
        return sorted(t for t in self.files if isinstance(t, int))

    @property
    def reference_spp(self) -> int | None:
        """The spp level standing in for the reference when none is named, else None."""
        return None if self.reference or not self.spp else self.spp[-1]

    @property
    def inputs(self) -> list[int]:
        """spp levels usable as noisy inputs: all of them except ``reference_spp``."""
        return [s for s in self.spp if s != self.reference_spp]

    def read(self, spp_or_ref: Tag) -> Buffers:
        """Read one level (or the reference, named or highest-spp) into :class:`Buffers`."""
        tag = _tag(spp_or_ref)
        if tag == "ref" and self.reference is None and self.reference_spp is not None:
            tag = self.reference_spp
        level = self.files.get(tag)
        if not level:
            raise BufferError(
                f"frame '{self.name}' has no files at {_describe(tag)}; "
                f"found spp {self.spp}, reference: {self.reference or 'none named'}"
            )
        if "color" not in level:
            raise BufferError(
                f"frame '{self.name}' at {_describe(tag)} has no colour (.hdr) file; "
                f"found: {', '.join(p.name for p in level.values())}"
            )
        out = Buffers()
        for plane, path in level.items():
            arr = read_array(path)
            try:
                out[plane] = arr[..., : PLANES[plane]]
            except BufferError as e:
                raise BufferError(f"{path}: {e}") from None
        out.source = declared_source(level["color"])
        return out


def declared_source(path: str | os.PathLike) -> str | None:
    """The source a rendered dataset folder declares for its files (`neurecon render` writes
    ``"source"`` into the folder's metadata.json for Cycles renders), else None."""
    import json

    meta = Path(path).parent / "metadata.json"
    try:
        source = json.loads(meta.read_text()).get("source")
    except (OSError, ValueError, AttributeError):
        return None
    return source if isinstance(source, str) else None


def _tag(spp_or_ref: Tag) -> Tag:
    if isinstance(spp_or_ref, str) and spp_or_ref in REF_TAGS:
        return "ref"
    if isinstance(spp_or_ref, int) and not isinstance(spp_or_ref, bool) and spp_or_ref > 0:
        return spp_or_ref
    raise ValueError(f"expected a positive spp count or one of {', '.join(REF_TAGS)}, got {spp_or_ref!r}")


def _describe(tag: Tag) -> str:
    return "the reference" if tag == "ref" else f"{tag} spp"


def _scan(root: Path, sub: str, frames: dict[str, FrameSet]) -> None:
    """Add the OIDN-named files of ``root/sub`` (not recursing) to ``frames``."""
    for entry in sorted(os.scandir(root / sub), key=lambda e: e.name):
        m = _FILE.fullmatch(entry.name)
        if not m or not entry.is_file():
            continue
        name = f"{sub}/{m['name']}" if sub else m["name"]
        fs = frames.setdefault(name, FrameSet(name))
        tag: Tag = int(m["spp"]) if m["spp"] else "ref"
        if m["ref"]:
            if fs.reference not in (None, m["ref"]):
                raise BufferError(f"frame '{name}' has two references: _{fs.reference} and _{m['ref']}")
            fs.reference = m["ref"]
        level = fs.files.setdefault(tag, {})
        plane, path = _PLANE_OF[m["feature"]], Path(entry.path)
        other = level.get(plane)
        if other is not None:
            if other.suffix == path.suffix:
                raise BufferError(f"two files for the same buffer: {other} and {path}")
            path = other if other.suffix == ".exr" else path  # same data as EXR and PFM: use the EXR
        level[plane] = path


def find_frames(directory: str | os.PathLike, recursive: bool = True) -> dict[str, FrameSet]:
    """Index an OIDN-layout directory: ``{name: FrameSet}``, names sorted (with sub-directories
    as ``sub/name``). Files not following the naming scheme are ignored."""
    root = Path(directory)
    if not root.is_dir():
        raise FileNotFoundError(2, "no such dataset directory", str(root))
    frames: dict[str, FrameSet] = {}
    subs = [""]
    if recursive:
        subs += sorted(os.path.relpath(d, root).replace(os.sep, "/") for d, _, _ in os.walk(root) if Path(d) != root)
    for sub in subs:
        _scan(root, sub, frames)
    return dict(sorted(frames.items()))


def read_oidn_frame(directory: str | os.PathLike, name: str, spp_or_ref: Tag) -> Buffers:
    """Read frame ``name`` at an spp level or ``"ref"`` (the highest spp if none is named)."""
    root = Path(directory)
    sub = os.path.dirname(name)
    if not (root / sub).is_dir():
        raise FileNotFoundError(2, "no such dataset directory", str(root / sub))
    frames: dict[str, FrameSet] = {}
    _scan(root, sub, frames)
    if name not in frames:
        raise BufferError(f"no frame '{name}' in {root / sub}; found: {', '.join(frames) or 'nothing'}")
    return frames[name].read(spp_or_ref)


def write_oidn_frame(
    directory: str | os.PathLike, name: str, spp_or_ref: Tag, buffers: Buffers, fmt: str = "exr", half: bool = False
) -> list[Path]:
    """Write every plane of ``buffers`` to its own file (``fmt`` ``exr`` or ``pfm``); returns the paths.

    Creates the directory (and any sub-directory in ``name``).
    """
    if fmt not in ("exr", "pfm"):
        raise ValueError(f"OIDN layout files are exr or pfm, not '{fmt}'")
    tag = _tag(spp_or_ref)
    stem = f"{name}_ref" if tag == "ref" else f"{name}_{tag:04d}spp"
    unknown = [p for p in buffers.names() if p not in FEATURES]
    if unknown:
        raise BufferError(f"OIDN layout has no file type for {', '.join(unknown)}")
    out = Path(directory) / stem
    out.parent.mkdir(parents=True, exist_ok=True)
    paths = []
    for plane in buffers.names():
        path = out.with_name(f"{out.name}.{FEATURES[plane]}.{fmt}")
        write_image(path, buffers[plane], half=half)
        paths.append(path)
    return paths
