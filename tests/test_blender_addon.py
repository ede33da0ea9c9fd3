"""The Blender add-on (neurecon/blender, issue #29): its pure-Python bridge, its zip, and — when
`bpy` is installed (`bash scripts/setup.sh --cycles`) — the add-on itself in Blender.

bpy never enters the pytest process: Blender is run by this file as a child (`python
tests/test_blender_addon.py MODE ZIP DIR`) with a hard timeout and its process group killed on
expiry. Ways a Blender test hangs, each avoided here: bpy loaded into a process that already holds
torch's OpenMP runtime (conftest imports torch) and then Blender's own thread pools and global
state; a child whose stdout is a pipe nobody drains (Blender logs a line per render sample and the
64 KiB pipe fills: here it goes to a file); a child waiting on stdin (here /dev/null); a grandchild
(the add-on's neurecon process) outliving a killed child (here a new session, killed as a group,
and the add-on's own time limit).
"""

from __future__ import annotations

import ast
import json
import os
import shutil
import signal
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
ADDON = ROOT / "neurecon" / "blender" / "addon"
CHILD_TIMEOUT = 300  # s; the run takes ~20 s here


def _have_bpy() -> bool:
    from neurecon.render.cycles_backend import have_bpy  # find_spec only: bpy is not imported

    return have_bpy()


needs_bpy = pytest.mark.skipif(
    not _have_bpy(), reason="bpy (Blender as a module) not installed: `bash scripts/setup.sh --cycles`"
)


# ------------------------------------------------------------------ the bridge, without Blender


def test_model_names_are_shipped_models_of_the_right_task():
    from neurecon.blender.addon import bridge
    from neurecon.models.registry import SHIPPED

    for name, _, _ in bridge.STILL_MODELS:
        assert name in SHIPPED, name
        task = SHIPPED[name].task
        assert (task == "denoise_lambda") == (name in bridge.LAMBDA_MODELS), (name, task)
        assert task in ("denoise", "denoise_adapt", "denoise_lambda"), (name, task)
    assert bridge.STILL_MODELS[0][0] == "default+cycles"  # the Cycles adapter is the panel's default


def test_pass_names_are_the_cycles_passes_neurecon_reads():
    from neurecon.blender.addon import bridge
    from neurecon.io.layouts import CYCLES

    passes = {plane: [p for p, _ in alts] for plane, alts in CYCLES.items()}
    assert list(bridge.COLOR_PASSES) == passes["color"]
    assert bridge.FEATURE_PASSES == (passes["albedo"][0], passes["normal"][0])
    assert passes["motion"] == [bridge.MOTION_PASS] == passes["motion_next"]


def test_exr_channels_reads_the_header_of_a_cycles_file(tmp_path):
    import OpenEXR

    from neurecon.blender.addon import bridge
    from neurecon.buffers import Buffers
    from neurecon.io import write_buffers

    rng = np.random.default_rng(0)
    buf = Buffers(
        color=rng.uniform(0, 1, (5, 7, 3)).astype(np.float32),
        albedo=rng.uniform(0, 1, (5, 7, 3)).astype(np.float32),
        motion=rng.uniform(-1, 1, (5, 7, 2)).astype(np.float32),
    )
    path = tmp_path / "f.exr"
    write_buffers(path, buf, style="cycles")
    expected = sorted(c.name for c in OpenEXR.File(str(path)).header()["channels"])
    assert sorted(bridge.exr_channels(str(path))) == expected
    assert "ViewLayer.Denoising Albedo.R" in expected
    assert bridge.layer_passes(expected) == {"ViewLayer": {"Combined", "Denoising Albedo", "Vector"}}
    # a multi-part file: every part's channels
    part_channels = {"a": ["L.Combined.R", "L.Combined.G"], "b": ["L.Vector.X"]}
    parts = [
        OpenEXR.Part({"name": n}, {c: np.zeros((2, 3), np.float32) for c in cs}) for n, cs in part_channels.items()
    ]
    OpenEXR.File(parts).write(str(tmp_path / "multi.exr"))
    assert sorted(bridge.exr_channels(str(tmp_path / "multi.exr"))) == ["L.Combined.G", "L.Combined.R", "L.Vector.X"]
    (tmp_path / "not.exr").write_bytes(b"P6\n1 1\n255\n\0\0\0")
    with pytest.raises(bridge.BridgeError, match="not an OpenEXR file"):
        bridge.exr_channels(str(tmp_path / "not.exr"))


def test_check_passes_names_the_pass_to_enable():
    from neurecon.blender.addon import bridge

    full = [f"VL.{p}.{c}" for p in ("Combined", "Denoising Albedo") for c in "RGB"]
    full += [f"VL.Denoising Normal.{c}" for c in "XYZ"]
    bridge.check_passes(full, "VL")
    with pytest.raises(
        bridge.BridgeError, match=r"no Denoising Albedo or Denoising Normal pass: enable .*Denoising Data"
    ):
        bridge.check_passes([f"VL.Combined.{c}" for c in "RGBA"], "VL")
    with pytest.raises(bridge.BridgeError, match=r"no Denoising Normal pass"):
        bridge.check_passes([c for c in full if "Normal" not in c], "VL")
    with pytest.raises(bridge.BridgeError, match=r"needs the Vector pass: enable .*Vector"):
        bridge.check_passes(full, "VL", motion=True)
    bridge.check_passes(full + [f"VL.Vector.{c}" for c in "XYZW"], "VL", motion=True)
    with pytest.raises(bridge.BridgeError, match=r"no view layer 'Other' \(found: VL\)"):
        bridge.check_passes(full, "Other")
    with pytest.raises(bridge.BridgeError, match="no Cycles passes"):
        bridge.check_passes(["R", "G", "B"], "VL")


def test_denoise_argv_parses_as_the_denoise_verb():
    from neurecon.blender.addon import bridge
    from neurecon.cli import build_parser

    parse = lambda argv: build_parser().parse_args(argv)
    a = parse(bridge.denoise_argv(["r.exr"], "o.exr", "View Layer", "default+cycles", lam=3.0))
    assert (a.input, a.output, a.layer, a.model, a.lam, a.temporal) == (
        ["r.exr"],
        "o.exr",
        "View Layer",
        "default+cycles",
        None,  # λ only goes to λ models
        None,
    )
    a = parse(bridge.denoise_argv(["r.exr"], "o.exr", "VL", "balanced_lambda", lam=2.5))
    assert (a.model, a.lam) == ("balanced_lambda", 2.5)
    a = parse(bridge.denoise_argv(["1.exr", "2.exr"], "out/", "VL", "default+cycles", lam=2.0, window=7))
    assert (a.temporal, a.model, a.lam, a.input) == (7, None, None, ["1.exr", "2.exr"])  # neurecon's temporal model
    a = parse(bridge.denoise_argv(["1.exr"], "out/", "VL", "/m/temporal.pt", window=3))
    assert (a.temporal, a.model) == (3, "/m/temporal.pt")
    with pytest.raises(bridge.BridgeError, match="temporal window 4"):
        bridge.denoise_argv(["1.exr"], "out/", "VL", window=4)


def test_frame_paths_follow_blenders_hash_pattern():
    from neurecon.blender.addon import bridge

    assert bridge.frame_paths("/r/shot_##/f_####.exr", [1, 12]) == ["/r/shot_##/f_0001.exr", "/r/shot_##/f_0012.exr"]
    assert bridge.frame_paths("/r/#.exr", [3, 10]) == ["/r/3.exr", "/r/10.exr"]
    with pytest.raises(bridge.BridgeError, match="no '#'"):
        bridge.frame_paths("/r/frame.exr", [1])


def test_runner_reports_a_missing_neurecon_and_neurecon_errors(tmp_path, monkeypatch):
    from neurecon.blender.addon import bridge

    with pytest.raises(bridge.BridgeError, match="neurecon Python not found: /nonexistent/python"):
        bridge.Runner("/nonexistent/python", timeout=30).version()
    base = getattr(sys, "_base_executable", None)
    monkeypatch.delenv("PYTHONPATH", raising=False)
    monkeypatch.chdir(tmp_path)  # `python -m` would find this checkout's neurecon in the working directory
    probe = None
    if base and os.path.exists(base):
        probe = subprocess.run(
            [base, "-c", "import neurecon"], capture_output=True, stdin=subprocess.DEVNULL, timeout=60
        )
    if probe is not None and probe.returncode != 0:  # the interpreter under the venv, without neurecon
        with pytest.raises(bridge.BridgeError, match=f"neurecon not found: {base} cannot import it"):
            bridge.Runner(base, timeout=60).run(["denoise", "x.exr", "-o", "y.exr"])
    # neurecon's own one-line error comes back, in a child and in this process alike
    argv = ["denoise", str(tmp_path / "missing.exr"), "-o", str(tmp_path / "out.exr")]
    monkeypatch.setenv("PYTHONPATH", str(ROOT))
    for runner in (bridge.Runner(sys.executable, timeout=120), bridge.Runner(None)):
        with pytest.raises(bridge.BridgeError, match=r"^neurecon denoise: error: .*missing\.exr"):
            runner.run(argv)
    assert "neurecon 0.1.0 at" in bridge.Runner(None).version()
    assert bridge.resolve_runner("", in_process=True).python is None  # neurecon imports here
    assert bridge.resolve_runner("", in_process=False).python == sys.executable
    assert bridge.resolve_runner("~/py", in_process=True).python == os.path.expanduser("~/py")
    assert bridge.resolve_runner("sh", in_process=True).python == shutil.which("sh")


def test_the_addon_imports_only_itself_and_bpy_at_registration():
    """The zip runs where neurecon may not be importable: nothing outside the add-on package at
    import time, relative imports only within it, bpy only in ui.py (which register() loads); the
    one way to neurecon is the in-process runner's deferred, absolute import of its command line."""
    from test_layout import graph

    g = graph()
    addon = {m for m in g if m.startswith("neurecon.blender.addon")}
    assert addon == {"neurecon.blender.addon", "neurecon.blender.addon.bridge", "neurecon.blender.addon.ui"}
    for m in addon:
        assert g[m] - addon <= ({"neurecon", "neurecon.cli"} if m.endswith(".bridge") else set()), (m, g[m] - addon)
    for f in ADDON.glob("*.py"):
        tree = ast.parse(f.read_text())
        assert all(n.level <= 1 for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)), f.name
        top = {a.name for n in tree.body if isinstance(n, ast.Import) for a in n.names}
        top |= {n.module for n in tree.body if isinstance(n, ast.ImportFrom) and n.module}
        assert ("bpy" in top) == (f.name == "ui.py"), f.name
        assert not any(t.split(".")[0] == "neurecon" for t in top), f.name


def test_zip_holds_the_addon_with_consistent_versions(tmp_path, capsys):
    import re

    import neurecon
    from neurecon.blender import ADDON_MODULE
    from neurecon.cli import main

    path = tmp_path / "addon.zip"
    assert main(["blender-addon", "--zip", str(path)]) == 0
    assert "Install from Disk" in capsys.readouterr().out
    with zipfile.ZipFile(path) as z:
        names = sorted(z.namelist())
        # its top-level strings (Python 3.10 has no tomllib; Blender's parse is the extension test's)
        manifest = dict(re.findall(r'^(\w+) = "(.*)"$', z.read(f"{ADDON_MODULE}/blender_manifest.toml").decode(), re.M))
        init = ast.parse(z.read(f"{ADDON_MODULE}/__init__.py").decode())
    assert names == sorted(f"{ADDON_MODULE}/{f.name}" for f in ADDON.iterdir() if f.suffix in (".py", ".toml"))
    assert f"{ADDON_MODULE}/__init__.py" in names and f"{ADDON_MODULE}/bridge.py" in names
    bl_info = next(
        ast.literal_eval(n.value) for n in init.body if isinstance(n, ast.Assign) and n.targets[0].id == "bl_info"
    )
    assert manifest["id"] == ADDON_MODULE
    assert manifest["version"] == neurecon.__version__ == ".".join(map(str, bl_info["version"]))
    assert manifest["blender_version_min"] == ".".join(map(str, bl_info["blender"]))
    assert main(["blender-addon", "--zip", str(tmp_path / "addon.tar")]) == 2


# ---------------------------------------------------------------------------- in Blender (bpy)


def _run_blender(mode: str, zip_path: Path, work: Path) -> dict:
    """This file's `_blender_child` in a child Python with bpy: user resources in `work` (never the
    user's own Blender config), one thread, stdin closed, log to a file, killed as a group on expiry."""
    env = {
        **os.environ,
        "BLENDER_USER_RESOURCES": str(work / "blender_user"),
        "OMP_NUM_THREADS": "1",
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
    }
    log = work / f"{mode}.log"
    with open(log, "w") as out:
        proc = subprocess.Popen(
            [sys.executable, __file__, mode, str(zip_path), str(work)],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=work,
            start_new_session=True,
        )
        try:
            code = proc.wait(timeout=CHILD_TIMEOUT)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            code = None
    result = work / f"{mode}.json"
    if code != 0 or not result.exists():
        tail = "\n".join(ln for ln in log.read_text(errors="replace").splitlines() if not ln.startswith("Fra:"))[-3000:]
        pytest.fail(f"Blender child {mode} {'timed out' if code is None else f'exited {code}'}:\n{tail}")
    return json.loads(result.read_text())


@needs_bpy
def test_addon_installs_as_an_extension(tmp_path):
    from neurecon.blender import build_zip

    rec = _run_blender("extension", tmp_path / "addon.zip", tmp_path) if build_zip(tmp_path / "addon.zip") else {}
    assert rec["module"] == "bl_ext.user_default.neurecon_blender" and rec["enabled"]
    assert rec["operators"] == ["check_installation", "denoise_animation", "denoise_render"]
    assert rec["check"] == ["FINISHED"]
    panel = ["model", "lam", "output_path", "neurecon.denoise_render", "window", "sequence_input", "sequence_output"]
    panel += ["neurecon.denoise_animation"]
    prefs = ["python_path", "in_process", "threads", "timeout", "neurecon.check_installation"]
    assert rec["drawn"] == ["label", *panel, *panel, *prefs]  # the warning label while Denoising Data is off
    assert "neurecon Python not found: /nonexistent/python" in rec["bad_python_error"]


@needs_bpy
def test_addon_denoises_a_cycles_render_and_sequence_in_blender(tmp_path):
    """Enable the zip, render a tiny Cycles scene (64², 4 spp, Denoising Data and Vector passes),
    run the operator: the new image is finite, the right size, and closer to a 256-spp render than
    the noisy one; the same through a child neurecon, from Cycles' Noisy Image, with λ, and for a
    rendered 3-frame EXR sequence through a temporal window."""
    from neurecon.blender import build_zip
    from neurecon.io import read_buffers
    from neurecon.io.exr import read_exr_channels
    from neurecon.metrics import relmse

    build_zip(tmp_path / "addon.zip")
    rec = _run_blender("legacy", tmp_path / "addon.zip", tmp_path)
    print("\nBlender add-on test:", json.dumps(rec, indent=1))
    assert rec["enabled"]
    assert "render an image first" in rec["no_render_error"]
    assert "no Denoising Albedo or Denoising Normal pass: enable" in rec["no_passes_error"]
    assert "Denoising Data" in rec["no_passes_error"]
    assert "neurecon Python not found: /nonexistent/python" in rec["bad_python_error"]

    color = lambda name: read_buffers(tmp_path / name)["color"]
    ref, noisy = color("ref.exr"), color("noisy.exr")
    den = np.load(tmp_path / "den_inproc.npy")
    assert den.shape == ref.shape == (64, 64, 3) and np.isfinite(den).all()
    assert rec["result"] == {"size": [64, 64], "packed": True}
    raw = read_exr_channels(tmp_path / "oidn.exr")  # Combined, as Cycles' own denoiser left it
    oidn = np.stack([raw[f"ViewLayer.Combined.{c}"] for c in "RGB"], -1)
    err = {"noisy": relmse(noisy, ref), "neurecon": relmse(den, ref), "cycles_oidn": relmse(oidn, ref)}
    print("relMSE vs 256 spp:", err)
    assert err["neurecon"] < 0.5 * err["noisy"]  # measured: 0.24x
    # the same command through a child interpreter, written to the output file too
    np.testing.assert_allclose(np.load(tmp_path / "den_child.npy"), den, atol=1e-6)
    np.testing.assert_allclose(color("den.exr"), den, atol=1e-6)
    assert rec["result_child"] == {"size": [64, 64], "packed": False}
    # with Cycles' own denoiser on, Combined is OIDN's output: the add-on denoises the Noisy Image
    assert err["cycles_oidn"] < 0.5 * err["noisy"]
    np.testing.assert_allclose(np.load(tmp_path / "den_from_noisy_image.npy"), den, atol=1e-5)
    # λ > 1 keeps more of the input
    lam1, lam8 = np.load(tmp_path / "den_lambda1.npy"), np.load(tmp_path / "den_lambda8.npy")
    assert relmse(lam8, noisy) < relmse(lam1, noisy)

    # the rendered sequence, 3-frame window
    assert rec["sequence_image"] == {"source": "SEQUENCE", "file": "frames/neurecon/0001.exr"}
    for f in (1, 2, 3):
        out = color(f"frames/neurecon/{f:04d}.exr")
        seq_ref, seq_noisy = color(f"seq_ref_{f}.exr"), color(f"frames/{f:04d}.exr")
        assert out.shape == (64, 64, 3) and np.isfinite(out).all()
        assert relmse(out, seq_ref) < 0.5 * relmse(seq_noisy, seq_ref), f


class _Layout:
    """What a panel's draw() asks of Blender's UILayout, which headless Blender cannot create: each
    property and operator it names is checked against the real RNA and recorded."""

    def __init__(self, drawn: list):
        self.drawn, self.use_property_split, self.active = drawn, False, True

    def prop(self, data, name, **_):
        assert name in data.bl_rna.properties, name
        self.drawn.append(name)

    def operator(self, idname, **_):
        import bpy

        group, op = idname.split(".")
        assert hasattr(getattr(bpy.ops, group), op), idname
        self.drawn.append(idname)

    def row(self, **_):
        return self

    column = row

    def label(self, **_):
        self.drawn.append("label")

    def separator(self, **_):
        pass


class _Drawing:
    """`obj` (a panel or the add-on's preferences) with a recording layout."""

    def __init__(self, obj, layout: _Layout):
        self._obj, self.layout = obj, layout

    def __getattr__(self, name):
        return getattr(self._obj, name)


def _draw_panels(ui, prefs) -> list[str]:
    import bpy

    drawn: list[str] = []
    ui.RENDER_PT_neurecon.draw(_Drawing(None, _Layout(drawn)), bpy.context)
    bpy.context.view_layer.cycles.denoising_store_passes = True  # no warning label then
    ui.RENDER_PT_neurecon.draw(_Drawing(None, _Layout(drawn)), bpy.context)
    ui.NeureconPreferences.draw(_Drawing(prefs, _Layout(drawn)), bpy.context)
    return drawn


def _blender_child(mode: str, zip_path: str, work_dir: str) -> None:
    """In the child: enable the add-on, render, run its operators; what the test checks goes into
    WORK/MODE.json and image files beside it."""
    import time

    import bpy

    from neurecon.blender import ADDON_MODULE

    work, rec, seconds = Path(work_dir), {}, {}
    tick = time.perf_counter()

    def lap(name):
        nonlocal tick
        seconds[name] = round(time.perf_counter() - tick, 2)
        tick = time.perf_counter()

    def error_of(op) -> str:
        try:
            op()
        except RuntimeError as e:  # an operator's ERROR report
            return str(e)
        return "(no error)"

    bpy.ops.wm.read_factory_settings(use_empty=False)
    if mode == "extension":
        bpy.ops.extensions.package_install_files(filepath=zip_path, repo="user_default", enable_on_install=True)
        module = f"bl_ext.user_default.{ADDON_MODULE}"
    else:
        bpy.ops.preferences.addon_install(filepath=zip_path)
        bpy.ops.preferences.addon_enable(module=ADDON_MODULE)
        module = ADDON_MODULE
    rec["module"], rec["enabled"] = module, module in bpy.context.preferences.addons
    prefs = bpy.context.preferences.addons[module].preferences
    prefs.threads, prefs.timeout = 1, 240
    lap("enable")
    if mode == "extension":
        rec["operators"] = sorted(n for n in dir(bpy.ops.neurecon) if not n.startswith("_"))
        rec["drawn"] = _draw_panels(sys.modules[f"{module}.ui"], prefs)
        rec["check"] = sorted(bpy.ops.neurecon.check_installation())
        prefs.python_path = "/nonexistent/python"
        rec["bad_python_error"] = error_of(bpy.ops.neurecon.check_installation)
        (work / f"{mode}.json").write_text(json.dumps(rec))
        return

    from neurecon.render.cycles_backend import configure

    sc = bpy.context.scene
    settings = sc.neurecon
    rec["no_render_error"] = error_of(bpy.ops.neurecon.denoise_render)
    configure((64, 64), threads=1)  # Cycles, CPU, fixed spp, Denoising Data + Vector passes, multi-layer EXR
    # the default cube on a ground plane, a metal sphere, a soft area light
    bpy.ops.mesh.primitive_plane_add(size=12, location=(0, 0, -1))
    bpy.ops.mesh.primitive_uv_sphere_add(radius=0.7, location=(1.6, 0.8, -0.3))
    metal = bpy.data.materials.new("metal")
    metal.use_nodes = True
    bsdf = metal.node_tree.nodes["Principled BSDF"]
    bsdf.inputs["Roughness"].default_value, bsdf.inputs["Metallic"].default_value = 0.25, 1.0
    bpy.context.object.data.materials.append(metal)
    bpy.data.lights["Light"].type = "AREA"
    light = bpy.data.lights["Light"]
    light.size, light.energy = 2.0, 400
    sc.world.node_tree.nodes["Background"].inputs["Strength"].default_value = 0.5

    def render(spp: int, seed: int, save: str | None = None):
        sc.cycles.samples, sc.cycles.seed = spp, seed
        bpy.ops.render.render()
        if save:  # the scene's output format is the multi-layer EXR (configure)
            bpy.data.images["Render Result"].save_render(str(work / save), scene=sc)

    def result(name: str, save: str) -> dict:
        img = bpy.data.images[name]
        w, h = img.size
        np.save(work / save, np.array(img.pixels[:], np.float32).reshape(h, w, 4)[::-1, :, :3])
        return {"size": [w, h], "packed": img.packed_file is not None}

    vl = sc.view_layers[0]
    vl.cycles.denoising_store_passes = False
    render(1, 1)
    rec["no_passes_error"] = error_of(bpy.ops.neurecon.denoise_render)
    vl.cycles.denoising_store_passes = True
    render(256, 7, "ref.exr")
    lap("reference 256 spp")
    render(4, 1, "noisy.exr")
    lap("render 4 spp")
    bpy.ops.neurecon.denoise_render()
    rec["result"] = result("neurecon Denoised", "den_inproc.npy")
    lap("denoise in process")
    prefs.python_path, settings.output_path = sys.executable, str(work / "den.exr")
    bpy.ops.neurecon.denoise_render()
    rec["result_child"] = result("neurecon Denoised", "den_child.npy")
    lap("denoise in a child")
    prefs.python_path = "/nonexistent/python"
    rec["bad_python_error"] = error_of(bpy.ops.neurecon.denoise_render)
    prefs.python_path, settings.output_path = "", ""
    sc.cycles.use_denoising, sc.cycles.denoiser = True, "OPENIMAGEDENOISE"
    render(4, 1, "oidn.exr")  # Combined: Cycles' OIDN; Noisy Image: the 4-spp render
    bpy.ops.neurecon.denoise_render()
    result("neurecon Denoised", "den_from_noisy_image.npy")
    sc.cycles.use_denoising = False
    render(4, 1)
    settings.model = "lambda"
    for lam in (1, 8):
        settings.lam = lam
        bpy.ops.neurecon.denoise_render()
        result("neurecon Denoised", f"den_lambda{lam}.npy")
    settings.model = "default+cycles"
    lap("denoise: noisy image, λ 1 and 8")

    # a 3-frame camera move rendered as an animation, denoised through a 3-frame window
    sc.frame_start, sc.frame_end = 1, 3
    sc.cycles.use_animated_seed = True
    cam = sc.camera
    for frame, dx in ((1, 0.0), (3, 0.4)):
        cam.location.x += dx
        cam.keyframe_insert("location", frame=frame)
    sc.render.filepath = str(work / "frames" / "####")
    sc.cycles.samples = 4
    bpy.ops.render.render(animation=True)
    lap("render 3 frames")
    for f in (1, 2, 3):
        sc.frame_set(f)
        render(128, 100 + f, f"seq_ref_{f}.exr")
    lap("reference frames 128 spp")
    settings.window = "3"
    bpy.ops.neurecon.denoise_animation()
    img = bpy.data.images["neurecon Denoised Sequence"]
    rec["sequence_image"] = {"source": img.source, "file": os.path.relpath(bpy.path.abspath(img.filepath), work)}
    lap("denoise the sequence")
    rec["seconds"] = seconds
    (work / f"{mode}.json").write_text(json.dumps(rec))


if __name__ == "__main__":
    _blender_child(*sys.argv[1:4])
