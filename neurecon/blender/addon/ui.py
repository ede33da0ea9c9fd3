"""The add-on's Blender side: preferences, the scene's settings, the operators and the panel in
Render Properties. All neurecon work goes through :mod:`.bridge`."""

from __future__ import annotations

import os
import tempfile
import time
from contextlib import contextmanager

import bpy

from . import bridge

CUSTOM = "CUSTOM"
NO_RENDER = "no render to denoise: render an image first (Render › Render Image)"
# what the last render is written with: Blender's own multi-layer EXR writer, all passes, float
_EXR_SETTINGS = (("file_format", "OPEN_EXR_MULTILAYER"), ("color_depth", "32"), ("exr_codec", "ZIP"))


class NeureconPreferences(bpy.types.AddonPreferences):
    bl_idname = __package__

    python_path: bpy.props.StringProperty(  # type: ignore[valid-type]
        name="neurecon Python",
        description="A Python interpreter with neurecon installed (e.g. /path/to/venv/bin/python); empty: Blender's "
        "own Python, if neurecon imports there",
        subtype="FILE_PATH",
    )
    in_process: bpy.props.BoolProperty(  # type: ignore[valid-type]
        name="Run in Blender's process",
        description="With Blender's own Python: denoise inside Blender (no start-up per run) rather than in a "
        "child process (which keeps Blender alive if the denoiser crashes or runs out of memory)",
        default=True,
    )
    threads: bpy.props.IntProperty(  # type: ignore[valid-type]
        name="Threads", description="CPU threads for the denoiser (0: all)", default=0, min=0
    )
    timeout: bpy.props.IntProperty(  # type: ignore[valid-type]
        name="Time limit (s)", description="A denoise that takes longer is stopped", default=1800, min=10
    )

    def draw(self, context):
        layout = self.layout
        layout.prop(self, "python_path")
        row = layout.row()
        row.active = not self.python_path
        row.prop(self, "in_process")
        layout.prop(self, "threads")
        layout.prop(self, "timeout")
        layout.operator(NEURECON_OT_check.bl_idname, icon="CHECKMARK")


MODEL_ITEMS = [*bridge.STILL_MODELS, (CUSTOM, "Custom file", "a checkpoint (.pt) or BASE+ADAPTER.pt (neurecon adapt)")]


class NeureconSettings(bpy.types.PropertyGroup):
    model: bpy.props.EnumProperty(name="Model", items=MODEL_ITEMS)  # type: ignore[valid-type]
    model_path: bpy.props.StringProperty(name="Model file", subtype="FILE_PATH")  # type: ignore[valid-type]
    lam: bpy.props.FloatProperty(  # type: ignore[valid-type]
        name="λ", description="λ models only: ≥ 1 keeps more of the input's detail (and noise)", default=1.0, min=1.0
    )
    output_path: bpy.props.StringProperty(  # type: ignore[valid-type]
        name="Output file",
        description="Also write the denoised render here (.exr, .png, .pfm); empty: only the image datablock "
        f"'{bridge.RESULT_IMAGE}' (packed into the .blend)",
        subtype="FILE_PATH",
    )
    window: bpy.props.EnumProperty(  # type: ignore[valid-type]
        name="Temporal window",
        description="Frames each frame is denoised from (needs the Vector pass); 1: frame by frame with the model",
        items=[(str(n), f"{n} frame{'s' if n > 1 else ''}", "") for n in bridge.TEMPORAL_WINDOWS],
        default="7",
    )
    sequence_input: bpy.props.StringProperty(  # type: ignore[valid-type]
        name="Frames",
        description="The multi-layer EXR frames, '#' for the frame number (e.g. //render/####.exr); empty: the "
        "scene's output path over its frame range",
        subtype="FILE_PATH",
    )
    sequence_output: bpy.props.StringProperty(  # type: ignore[valid-type]
        name="Output folder",
        description="Where the denoised frames go (same file names); empty: a 'neurecon' folder beside the frames",
        subtype="DIR_PATH",
    )


def _prefs(context) -> NeureconPreferences:
    return context.preferences.addons[__package__].preferences


def _runner(context) -> bridge.Runner:
    p = _prefs(context)
    return bridge.resolve_runner(bpy.path.abspath(p.python_path), p.in_process, p.timeout, p.threads)


def _model(settings) -> str:
    if settings.model != CUSTOM:
        return settings.model
    path = bpy.path.abspath(settings.model_path)
    if not path:
        raise bridge.BridgeError("model 'Custom file' needs a model file")
    return path


@contextmanager
def _multilayer_exr(scene):
    """The scene's output format set to a float multi-layer EXR for a save, restored after."""
    st = scene.render.image_settings
    old = [(key, getattr(st, key)) for key, _ in _EXR_SETTINGS]
    try:
        for key, value in _EXR_SETTINGS:
            setattr(st, key, value)
        yield
    finally:
        for key, value in old:
            try:
                setattr(st, key, value)
            except (TypeError, ValueError):  # a depth or codec the restored format does not offer
                pass


def _load_image(path: str, name: str, pack: bool, sequence: bool = False):
    """`path` as the image datablock `name`, replacing an older one; shown in the Image Editors
    that showed the render, the older one or nothing (not in those showing other images)."""
    old = bpy.data.images.get(name)
    spaces = [
        area.spaces.active
        for window in getattr(bpy.context.window_manager, "windows", [])
        for area in window.screen.areas
        if area.type == "IMAGE_EDITOR"
    ]
    spaces = [sp for sp in spaces if sp.image is None or sp.image == old or sp.image.type == "RENDER_RESULT"]
    if old is not None:
        bpy.data.images.remove(old)
    img = bpy.data.images.load(path, check_existing=False)
    img.name = name
    if sequence:
        img.source = "SEQUENCE"
    if pack:
        img.pack()
    for sp in spaces:
        sp.image = img
    return img


class _ReportingOperator:
    """execute(): the subclass's `_run`, whose message is reported; a BridgeError is the user's to
    act on, reported as an error."""

    def execute(self, context):
        try:
            message = self._run(context)
        except bridge.BridgeError as e:
            self.report({"ERROR"}, str(e))
            return {"CANCELLED"}
        self.report({"INFO"}, message)
        return {"FINISHED"}


class NEURECON_OT_denoise_render(_ReportingOperator, bpy.types.Operator):
    """Denoise the last render (Render Result) with neurecon into a new image"""

    bl_idname = "neurecon.denoise_render"
    bl_label = "Denoise Last Render"
    bl_options = {"REGISTER"}

    def _run(self, context) -> str:
        scene, settings = context.scene, context.scene.neurecon
        result = next((im for im in bpy.data.images if im.type == "RENDER_RESULT"), None)
        if result is None:
            raise bridge.BridgeError(NO_RENDER)
        layer = context.view_layer.name
        with tempfile.TemporaryDirectory(prefix="neurecon-") as tmp:
            noisy = os.path.join(tmp, "render.exr")
            try:
                with _multilayer_exr(scene):
                    result.save_render(noisy, scene=scene)
            except RuntimeError:  # "Image 'Render Result' does not have any image data"
                raise bridge.BridgeError(NO_RENDER) from None
            bridge.check_passes(bridge.exr_channels(noisy), layer)
            out = bpy.path.abspath(settings.output_path) or os.path.join(tmp, "denoised.exr")
            model = _model(settings)
            runner = _runner(context)
            start = time.perf_counter()
            runner.run(bridge.denoise_argv([noisy], out, layer, model, settings.lam))
            seconds = time.perf_counter() - start
            img = _load_image(out, bridge.RESULT_IMAGE, pack=not settings.output_path)
            w, h = img.size
        lam = f", λ {settings.lam:g}" if model in bridge.LAMBDA_MODELS else ""
        took = f"in {seconds:.1f} s ({runner.where})"
        return f"denoised {w}×{h} with {os.path.basename(model)}{lam} {took} → image '{img.name}'"


class NEURECON_OT_denoise_animation(_ReportingOperator, bpy.types.Operator):
    """Denoise the rendered multi-layer EXR frames of the scene's frame range with neurecon"""

    bl_idname = "neurecon.denoise_animation"
    bl_label = "Denoise Rendered Animation"
    bl_options = {"REGISTER"}

    def _run(self, context) -> str:
        scene, settings = context.scene, context.scene.neurecon
        frames = range(scene.frame_start, scene.frame_end + 1, scene.frame_step)
        if settings.sequence_input:
            paths = bridge.frame_paths(bpy.path.abspath(settings.sequence_input), frames)
        else:
            paths = [bpy.path.abspath(scene.render.frame_path(frame=f)) for f in frames]
        missing = [p for p in paths if not os.path.isfile(p)]
        if missing:
            raise bridge.BridgeError(
                f"{len(missing)} of {len(paths)} frames not found, e.g. {missing[0]}: render the animation as "
                "OpenEXR MultiLayer first, or set the frame pattern"
            )
        window = int(settings.window)
        layer = context.view_layer.name
        bridge.check_passes(bridge.exr_channels(paths[0]), layer, motion=window > 1)
        out_dir = bpy.path.abspath(settings.sequence_output) or os.path.join(os.path.dirname(paths[0]), "neurecon")
        model = _model(settings)
        runner = _runner(context)
        start = time.perf_counter()
        runner.run(bridge.denoise_argv(paths, out_dir.rstrip(os.sep) + os.sep, layer, model, settings.lam, window))
        seconds = time.perf_counter() - start
        first = os.path.join(out_dir, os.path.basename(paths[0]))
        _load_image(first, bridge.RESULT_SEQUENCE, pack=False, sequence=len(paths) > 1)
        how = f"a {window}-frame window" if window > 1 else os.path.basename(model)
        return f"denoised {len(paths)} frames with {how} in {seconds:.1f} s ({runner.where}) → {out_dir}"


class NEURECON_OT_check(_ReportingOperator, bpy.types.Operator):
    """Show which neurecon the add-on runs, or why it finds none"""

    bl_idname = "neurecon.check_installation"
    bl_label = "Check neurecon"

    def _run(self, context) -> str:
        return _runner(context).version()


class RENDER_PT_neurecon(bpy.types.Panel):
    bl_label = "neurecon Denoiser"
    bl_space_type = "PROPERTIES"
    bl_region_type = "WINDOW"
    bl_context = "render"
    bl_options = {"DEFAULT_CLOSED"}

    def draw(self, context):
        layout = self.layout
        layout.use_property_split = True
        settings = context.scene.neurecon
        cycles_layer = getattr(context.view_layer, "cycles", None)
        if cycles_layer is not None and not cycles_layer.denoising_store_passes:
            layout.label(text="Enable the Denoising Data passes (View Layer › Passes › Data)", icon="ERROR")
        layout.prop(settings, "model")
        if settings.model == CUSTOM:
            layout.prop(settings, "model_path")
        row = layout.row()
        row.active = settings.model in bridge.LAMBDA_MODELS
        row.prop(settings, "lam")
        layout.prop(settings, "output_path")
        layout.operator(NEURECON_OT_denoise_render.bl_idname, icon="IMAGE_DATA")
        col = layout.column(heading="Animation")
        col.prop(settings, "window")
        col.prop(settings, "sequence_input")
        col.prop(settings, "sequence_output")
        col.operator(NEURECON_OT_denoise_animation.bl_idname, icon="RENDER_ANIMATION")


def _image_menu(self, context):
    self.layout.separator()
    self.layout.operator(NEURECON_OT_denoise_render.bl_idname, text="Denoise Render with neurecon")


CLASSES = (
    NeureconPreferences,
    NeureconSettings,
    NEURECON_OT_denoise_render,
    NEURECON_OT_denoise_animation,
    NEURECON_OT_check,
    RENDER_PT_neurecon,
)


def register():
    for cls in CLASSES:
        bpy.utils.register_class(cls)
    bpy.types.Scene.neurecon = bpy.props.PointerProperty(type=NeureconSettings)
    bpy.types.IMAGE_MT_image.append(_image_menu)


def unregister():
    bpy.types.IMAGE_MT_image.remove(_image_menu)
    del bpy.types.Scene.neurecon
    for cls in reversed(CLASSES):
        bpy.utils.unregister_class(cls)
