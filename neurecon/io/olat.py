"""The OLAT layout: one subject photographed (or rendered) under one light at a time.

Any light stage or renderer can produce it; `neurecon render --olat` writes it and every relighting
tool reads it::

    folder/
      olat.json
      light_000.exr … light_NNN.exr     linear HDR RGB, all of one size
      mask.png                          optional: 8-bit grey, white = subject, black = background
      heldout_000.exr …                 optional: ground truth under lights that are not inputs

``olat.json``::

    {"lights":  [{"file": "light_000.exr", "direction": [x, y, z]}, …],
     "mask":    "mask.png",                                   # optional
     "heldout": [{"file": "heldout_000.exr", "direction": [x, y, z]}, …],   # optional
     "meta":    {…}}                                          # optional, free-form (renderer, seed, …)

Directions are unit vectors from the subject towards the light in the camera's frame: x right,
y up, z towards the camera (a light behind the camera has z > 0). A direction that is not unit
length is normalised on reading; zero, non-finite or repeated directions are errors. ``file``
paths are relative to the folder. Held-out lights are ground truth for evaluation only: relighting
never reads them as inputs.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .atomic import atomic_output, atomic_write_text

MANIFEST = "olat.json"
KEYS = {"lights", "mask", "heldout", "meta"}


class OlatError(ValueError):
    """A folder that is not a valid OLAT layout; the message names the folder and the problem."""


@dataclass(frozen=True)
class OlatLight:
    file: str
    direction: tuple[float, float, float]


@dataclass
class OlatSet:
    """An OLAT folder as read by :func:`read_olat`: light list, optional mask and held-out lights.
    Images are read on demand (:meth:`images`, :meth:`heldout_images`)."""

    root: Path
    lights: list[OlatLight]
    mask_file: str | None = None
    heldout: list[OlatLight] = field(default_factory=list)
    meta: dict = field(default_factory=dict)

    @property
    def directions(self) -> np.ndarray:
        """N×3 float64 unit directions of the captured lights."""
        return np.array([l.direction for l in self.lights], np.float64).reshape(-1, 3)

    @property
    def heldout_directions(self) -> np.ndarray:
        return np.array([l.direction for l in self.heldout], np.float64).reshape(-1, 3)

    def _read(self, files: list[str]) -> np.ndarray:
        from .images import read_image

        imgs: list = []
        for f in files:
            img = read_image(self.root / f)
            if imgs and img.shape != imgs[0].shape:
                raise OlatError(
                    f"{self.root}: {f} is {img.shape[1]}×{img.shape[0]}, {files[0]} is "
                    f"{imgs[0].shape[1]}×{imgs[0].shape[0]}: every image of an OLAT folder has one size"
                )
            imgs.append(img)
        return np.stack(imgs) if imgs else np.zeros((0, 0, 0, 3), np.float32)

    def images(self) -> np.ndarray:
        """N×H×W×3 float32 linear images of the captured lights, in the manifest's order."""
        return self._read([l.file for l in self.lights])

    def heldout_images(self) -> np.ndarray:
        out = self._read([l.file for l in self.heldout])
        if len(out) and self.lights:
            first = self._read([self.lights[0].file])[0]
            if out.shape[1:] != first.shape:
                raise OlatError(f"{self.root}: held-out images are not the size of the captured ones")
        return out

    def mask(self, shape: tuple[int, int] | None = None) -> np.ndarray:
        """H×W float32 in [0, 1] (1 = subject); all ones when the folder has no mask. `shape`
        (H, W) is checked against the mask's size and used for the all-ones mask."""
        if self.mask_file is None:
            if shape is None:
                shape = self._read([self.lights[0].file])[0].shape[:2]
            return np.ones(shape, np.float32)
        m = read_mask(self.root / self.mask_file)
        if shape is not None and m.shape != tuple(shape):
            raise OlatError(
                f"{self.root}: mask {self.mask_file} is {m.shape[1]}×{m.shape[0]}, the images are {shape[1]}×{shape[0]}"
            )
        return m


def read_mask(path: str | os.PathLike) -> np.ndarray:
    """An 8- or 16-bit mask image as H×W float32 in [0, 1] (code values, not sRGB-decoded)."""
    from PIL import Image, UnidentifiedImageError

    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"mask not found: {path}")
    try:
        with Image.open(path) as im:
            im.load()
            if im.mode in ("I;16", "I;16B", "I;16L", "I"):
                return np.asarray(im, np.float32) / 65535.0
            return np.asarray(im.convert("L"), np.float32) / 255.0
    except UnidentifiedImageError as e:
        raise OlatError(f"{path}: the mask is not an image Pillow can read ({e})") from None


def write_mask(path: str | os.PathLike, mask: np.ndarray) -> None:
    """H×W values in [0, 1] as an 8-bit grey PNG (linear code values), atomically."""
    from PIL import Image

    q = np.round(np.clip(np.asarray(mask, np.float64), 0, 1) * 255).astype(np.uint8)
    with atomic_output(path) as tmp:
        Image.fromarray(q, "L").save(tmp, format="PNG")


def _direction(value, where: str) -> tuple[float, float, float]:
    try:
        d = np.asarray(value, np.float64).reshape(-1)
    except (TypeError, ValueError):
        d = np.zeros(0)
    if d.shape != (3,) or not np.all(np.isfinite(d)):
        raise OlatError(f"{where}: 'direction' must be three finite numbers [x, y, z], got {value!r}")
    n = float(np.linalg.norm(d))
    if n < 1e-6:
        raise OlatError(f"{where}: 'direction' {value!r} has zero length")
    d = d / n
    return float(d[0]), float(d[1]), float(d[2])


def _lights(root: Path, entries, key: str, check_files: bool) -> list[OlatLight]:
    if not isinstance(entries, list):
        raise OlatError(f"{root / MANIFEST}: '{key}' must be a list of {{file, direction}}")
    out = []
    for i, e in enumerate(entries):
        where = f"{root / MANIFEST}: {key}[{i}]"
        if not isinstance(e, dict) or set(e) != {"file", "direction"}:
            raise OlatError(f"{where} must be {{'file': ..., 'direction': [x, y, z]}}, got {e!r}")
        if not isinstance(e["file"], str) or not e["file"]:
            raise OlatError(f"{where}: 'file' must be a file name relative to the folder")
        if check_files and not (root / e["file"]).is_file():
            raise OlatError(f"{where}: image {e['file']} not found in {root}")
        out.append(OlatLight(e["file"], _direction(e["direction"], where)))
    return out


def read_olat(folder: str | os.PathLike, check_files: bool = True) -> OlatSet:
    """Read and check an OLAT folder's manifest (images are read on demand). Raises
    FileNotFoundError for a missing folder and :class:`OlatError` for anything malformed."""
    root = Path(folder)
    if not root.is_dir():
        raise FileNotFoundError(f"OLAT folder not found: {root}")
    path = root / MANIFEST
    if not path.is_file():
        raise OlatError(f"{root}: not an OLAT folder (no {MANIFEST}; see neurecon/io/olat.py for the layout)")
    try:
        raw = json.loads(path.read_text())
    except (ValueError, UnicodeDecodeError) as e:
        raise OlatError(f"{path}: not valid JSON ({e})") from None
    if not isinstance(raw, dict):
        raise OlatError(f"{path}: the manifest is a JSON object with 'lights', got {type(raw).__name__}")
    unknown = set(raw) - KEYS
    if unknown:
        raise OlatError(f"{path}: unknown key(s) {sorted(unknown)}; allowed: {sorted(KEYS)}")
    if "lights" not in raw:
        raise OlatError(f"{path}: no 'lights' list")
    lights = _lights(root, raw["lights"], "lights", check_files)
    if not lights:
        raise OlatError(f"{path}: 'lights' is empty")
    heldout = _lights(root, raw.get("heldout") or [], "heldout", check_files)
    files = [l.file for l in lights + heldout]
    dup = sorted({f for f in files if files.count(f) > 1})
    if dup:
        raise OlatError(f"{path}: image(s) listed twice: {dup}")
    dirs = np.array([l.direction for l in lights])
    close = np.argwhere(np.triu(dirs @ dirs.T > 1 - 1e-9, 1))
    if len(close):
        i, j = close[0]
        raise OlatError(f"{path}: lights[{i}] and lights[{j}] have the same direction {lights[i].direction}")
    mask = raw.get("mask")
    if mask is not None:
        if not isinstance(mask, str) or not mask:
            raise OlatError(f"{path}: 'mask' must be a file name or absent, got {mask!r}")
        if check_files and not (root / mask).is_file():
            raise OlatError(f"{path}: mask {mask} not found in {root}")
    meta = raw.get("meta") or {}
    if not isinstance(meta, dict):
        raise OlatError(f"{path}: 'meta' must be an object")
    return OlatSet(root, lights, mask, heldout, meta)


def write_manifest(
    folder: str | os.PathLike,
    lights: list[OlatLight],
    mask_file: str | None = None,
    heldout: list[OlatLight] | None = None,
    meta: dict | None = None,
) -> Path:
    """Write ``olat.json`` for images already in `folder` (atomically, written last so a killed
    writer leaves no manifest pointing at missing files)."""
    root = Path(folder)
    raw: dict = {"lights": [{"file": l.file, "direction": [round(float(c), 7) for c in l.direction]} for l in lights]}
    if mask_file:
        raw["mask"] = mask_file
    if heldout:
        raw["heldout"] = [{"file": l.file, "direction": [round(float(c), 7) for c in l.direction]} for l in heldout]
    if meta:
        raw["meta"] = meta
    atomic_write_text(root / MANIFEST, json.dumps(raw, indent=1))
    return root / MANIFEST


def write_olat(
    folder: str | os.PathLike,
    images,
    directions,
    mask: np.ndarray | None = None,
    heldout_images=None,
    heldout_directions=None,
    meta: dict | None = None,
    half: bool = False,
) -> OlatSet:
    """Write a whole OLAT folder: ``light_%03d.exr`` per captured light, ``heldout_%03d.exr``,
    ``mask.png`` and the manifest. Returns it as read back."""
    from .images import write_image

    root = Path(folder)
    root.mkdir(parents=True, exist_ok=True)
    images, directions = list(images), np.asarray(directions, np.float64).reshape(-1, 3)
    if len(images) != len(directions) or not images:
        raise OlatError(f"{root}: {len(images)} images for {len(directions)} directions")

    def put(prefix: str, imgs, dirs) -> list[OlatLight]:
        out = []
        for i, (img, d) in enumerate(zip(imgs, dirs)):
            name = f"{prefix}_{i:03d}.exr"
            write_image(root / name, np.asarray(img, np.float32)[..., :3], half=half)
            out.append(OlatLight(name, _direction(d, f"{root}: {prefix} {i}")))
        return out

    lights = put("light", images, directions)
    held = []
    if heldout_images is not None and len(heldout_images):
        hd = np.asarray(heldout_directions, np.float64).reshape(-1, 3)
        if len(hd) != len(heldout_images):
            raise OlatError(f"{root}: {len(heldout_images)} held-out images for {len(hd)} directions")
        held = put("heldout", heldout_images, hd)
    mask_file = None
    if mask is not None:
        mask_file = "mask.png"
        write_mask(root / mask_file, mask)
    write_manifest(root, lights, mask_file, held, meta)
    return read_olat(root)


def is_olat_folder(folder: str | os.PathLike) -> bool:
    return (Path(folder) / MANIFEST).is_file()
