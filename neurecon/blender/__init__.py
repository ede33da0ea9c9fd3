"""neurecon inside Blender: the add-on (:mod:`.addon`, runs in Blender's Python and talks to
neurecon through its command line) and its installable zip (:func:`build_zip`).

Nothing here imports bpy: the add-on's modules import it only when Blender registers them.
"""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

ADDON_DIR = Path(__file__).parent / "addon"
# the add-on's module name inside Blender (the zip's top folder; the manifest's id)
ADDON_MODULE = "neurecon_blender"


def build_zip(path: str | os.PathLike) -> list[str]:
    """Write the installable add-on zip (a legacy add-on and a 4.2+ extension at once: one top
    folder holding ``bl_info`` and ``blender_manifest.toml``); the names it holds."""
    from ..io.atomic import atomic_output

    files = sorted(p for p in ADDON_DIR.iterdir() if p.suffix in (".py", ".toml"))
    with atomic_output(path) as tmp, zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as z:
        for f in files:
            z.write(f, f"{ADDON_MODULE}/{f.name}")
    return [f"{ADDON_MODULE}/{f.name}" for f in files]
