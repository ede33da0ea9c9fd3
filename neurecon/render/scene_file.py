"""A user's Mitsuba 3 scene file, loaded for denoising renders.

The scene keeps its own sensor (camera, transform, aperture) and integrator; only the film is
replaced by a box-filtered RGB ``hdrfilm`` of the requested height at the sensor's own aspect
(a Gaussian filter would correlate neighbouring pixels' noise, which the denoiser is not trained
for, and neurecon accumulates samples per pixel anyway: render/adaptive.py).
"""

from __future__ import annotations

import os
import xml.etree.ElementTree as ET
from pathlib import Path

from .adaptive import SceneLoadError
from .mitsuba_backend import mitsuba


def _film_xml(width: int, height: int) -> ET.Element:
    film = ET.Element("film", {"type": "hdrfilm"})
    ET.SubElement(film, "integer", {"name": "width", "value": str(width)})
    ET.SubElement(film, "integer", {"name": "height", "value": str(height)})
    ET.SubElement(film, "string", {"name": "pixel_format", "value": "rgb"})
    ET.SubElement(film, "rfilter", {"type": "box"})
    return film


def _load(mi, text: str, directory: Path):
    resolver = mi.file_resolver()
    before = [str(resolver[i]) for i in range(len(resolver))]
    resolver.prepend(str(directory))  # textures, meshes and includes relative to the scene file
    try:
        return mi.load_string(text)
    finally:  # the resolver is process-wide: leave it as it was
        resolver.clear()
        for entry in before:
            resolver.append(entry)


def load_scene_file(path: str | os.PathLike, height: int | None = None):
    """Load `path` with its film replaced by a box-filtered hdrfilm `height` pixels high (the
    scene's own height when None), width = round(height × the sensor's aspect). Raises
    FileNotFoundError for a missing file and SceneLoadError (naming the file and Mitsuba's message)
    for one Mitsuba cannot load."""
    mi = mitsuba()
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"scene file {path} not found")
    if height is not None and height < 1:
        raise ValueError(f"--size must be ≥ 1, got {height}")
    try:
        root = ET.parse(path).getroot()
    except ET.ParseError as e:
        raise SceneLoadError(f"{path}: not a Mitsuba XML scene ({e})") from None
    sensor = root.find("sensor")
    if root.tag != "scene" or sensor is None:
        raise SceneLoadError(f"{path}: no <scene> with a <sensor> (neurecon renders the scene's own camera)")
    try:
        # the original film's size (defaults and $parameters resolved by Mitsuba itself) gives the aspect
        original = _load(mi, ET.tostring(root, encoding="unicode"), path.parent.resolve())
    except Exception as e:
        raise SceneLoadError(f"Mitsuba could not load {path}: {str(e).strip()}") from None
    w0, h0 = (int(v) for v in original.sensors()[0].film().crop_size())
    h = height or h0
    w = max(1, round(h * w0 / h0))
    for old in sensor.findall("film"):
        sensor.remove(old)
    sensor.append(_film_xml(w, h))
    try:
        return _load(mi, ET.tostring(root, encoding="unicode"), path.parent.resolve())
    except Exception as e:
        raise SceneLoadError(f"Mitsuba could not load {path} with a {w}×{h} box-filtered film: {e}") from None
