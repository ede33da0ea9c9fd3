"""neurecon's Blender add-on: denoise the last Cycles render, or a rendered multi-layer EXR
sequence, with neurecon (docs/blender.md). Built into an installable zip by
``neurecon blender-addon --zip FILE``; installs as a legacy add-on or as a 4.2+ extension.

bpy is imported only at registration (:mod:`.ui`), so :mod:`.bridge` is importable without Blender.
"""

bl_info = {
    "name": "neurecon Denoiser",
    "author": "neurecon",
    "version": (0, 1, 0),
    "blender": (4, 2, 0),
    "location": "Properties › Render › neurecon Denoiser",
    "description": "Denoise the last Cycles render or a rendered EXR sequence with neurecon",
    "category": "Render",
}


def register():
    from . import ui

    ui.register()


def unregister():
    from . import ui

    ui.unregister()
