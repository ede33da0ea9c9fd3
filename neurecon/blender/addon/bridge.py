"""The add-on's side of the bridge to neurecon, in plain Python (no bpy, no neurecon import):
which passes a render needs, reading an EXR's channel names, the `neurecon denoise` command line,
and running it in Blender's process or in a child interpreter.

This file is copied into the add-on zip, where neurecon may not be importable (Blender's own Python
usually has no torch): it talks to neurecon only through its command line, and its pass and model
names are checked against neurecon's own tables by tests/test_blender_addon.py.
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import os
import re
import shutil
import struct
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass

# shipped still models the panel offers (neurecon.models.registry names), first is the default
STILL_MODELS = [
    ("default+cycles", "Cycles adapter", "the default model with its encoder adapted to Cycles' passes (best here)"),
    ("default", "Default", "the default model (high quality), trained on Mitsuba renders"),
    ("balanced", "Balanced", "faster than default, a little lower quality"),
    ("fast", "Fast", "the fastest preset"),
    ("kpcn", "KPCN", "the kernel-predicting network of the paper"),
    ("lambda", "λ: default", "the default model with λ control (λ ≥ 1 keeps more detail and noise)"),
    ("balanced_lambda", "λ: balanced", "the balanced model with λ control"),
    ("kpcn_lambda", "λ: KPCN", "the KPCN model with λ control"),
]
LAMBDA_MODELS = {"lambda", "balanced_lambda", "kpcn_lambda"}
# odd temporal windows `neurecon denoise --temporal N` takes (1: frame by frame, the still model)
TEMPORAL_WINDOWS = (1, 3, 5, 7)

# Cycles passes a denoise needs (view layer pass names, as in neurecon.io.layouts.CYCLES), and where
# a Blender user turns each on
COLOR_PASSES = ("Noisy Image", "Combined")
FEATURE_PASSES = ("Denoising Albedo", "Denoising Normal")
MOTION_PASS = "Vector"
ENABLE_FEATURES = "View Layer Properties › Passes › Data › Denoising Data (Cycles)"
ENABLE_MOTION = "View Layer Properties › Passes › Data › Vector (and Render Properties › Motion Blur off)"

RESULT_IMAGE = "neurecon Denoised"
RESULT_SEQUENCE = "neurecon Denoised Sequence"

_EXR_MAGIC = 20000630


class BridgeError(RuntimeError):
    """A failure the user can act on; its message is what the operator reports."""


# ---------------------------------------------------------------------------------------- EXR


def exr_channels(path: str) -> list[str]:
    """The channel names of an OpenEXR file (every part's), read from its header alone."""
    with open(path, "rb") as f:
        head = f.read(8)
        if len(head) < 8 or struct.unpack("<i", head[:4])[0] != _EXR_MAGIC:
            raise BridgeError(f"{path} is not an OpenEXR file")
        multipart = bool(struct.unpack("<i", head[4:])[0] & 0x1000)
        names: list[str] = []
        while True:  # one header per part; a multi-part file ends its header list with an empty one
            attrs = 0
            while (name := _cstring(f)) != b"":
                kind, size = _cstring(f), struct.unpack("<i", f.read(4))[0]
                value = f.read(size)
                attrs += 1
                if name == b"channels" and kind == b"chlist":
                    names += _chlist(value)
            if not multipart or attrs == 0:
                return names


def _cstring(f) -> bytes:
    out = bytearray()
    while (c := f.read(1)) not in (b"\0", b""):
        out += c
    return bytes(out)


def _chlist(value: bytes) -> list[str]:
    names, i = [], 0
    while i < len(value) and value[i] != 0:
        end = value.index(b"\0", i)
        names.append(value[i:end].decode("utf-8", "replace"))
        i = end + 1 + 16  # pixel type, pLinear + 3 reserved bytes, x and y sampling
    return names


def layer_passes(channels: Sequence[str]) -> dict[str, set[str]]:
    """Cycles channel names ``<view layer>.<pass>.<component>`` grouped as {layer: {pass}}."""
    out: dict[str, set[str]] = {}
    for name in channels:
        parts = name.rsplit(".", 2)
        if len(parts) == 3:
            out.setdefault(parts[0], set()).add(parts[1])
    return out


def check_passes(channels: Sequence[str], layer: str, motion: bool = False) -> None:
    """Raise a :class:`BridgeError` saying which pass to enable when `layer` lacks one a denoise
    needs (colour, albedo, normal; the Vector pass for a temporal window)."""
    layers = layer_passes(channels)
    if layer not in layers:
        found = ", ".join(sorted(layers)) or "no Cycles passes"
        raise BridgeError(f"the render has no view layer '{layer}' (found: {found}); render with Cycles first")
    have = layers[layer]
    if not have & set(COLOR_PASSES):
        raise BridgeError(f"view layer '{layer}' has no Combined pass")
    missing = [p for p in FEATURE_PASSES if p not in have]
    if missing:
        raise BridgeError(f"the render has no {' or '.join(missing)} pass: enable {ENABLE_FEATURES} and render again")
    if motion and MOTION_PASS not in have:
        raise BridgeError(f"a temporal window needs the Vector pass: enable {ENABLE_MOTION} and render again")


def frame_paths(pattern: str, frames: Sequence[int]) -> list[str]:
    """Blender's frame pattern: the last run of '#' is the zero-padded frame number."""
    runs = list(re.finditer(r"#+", pattern))
    if not runs:
        raise BridgeError(f"the frame pattern {pattern!r} has no '#' for the frame number (e.g. //render/####.exr)")
    m = runs[-1]
    width = m.end() - m.start()
    return [pattern[: m.start()] + f"{f:0{width}d}" + pattern[m.end() :] for f in frames]


# ---------------------------------------------------------------------------- the command line


def denoise_argv(
    inputs: Sequence[str],
    output: str,
    layer: str,
    model: str | None = None,
    lam: float | None = None,
    window: int = 1,
) -> list[str]:
    """`neurecon denoise` arguments (after ``neurecon``). λ goes only to a λ model; a temporal
    window > 1 uses neurecon's temporal model for it unless a custom model is named."""
    if window not in TEMPORAL_WINDOWS:
        raise BridgeError(f"temporal window {window}: choose one of {', '.join(map(str, TEMPORAL_WINDOWS))}")
    argv = ["denoise", *inputs, "-o", output, "--layer", layer]
    if window > 1:
        argv += ["--temporal", str(window)]
        if model and model not in {m[0] for m in STILL_MODELS}:
            argv += ["--model", model]  # a custom temporal checkpoint
        return argv
    if model:
        argv += ["--model", model]
    if lam is not None and model in LAMBDA_MODELS:
        argv += ["--lambda", f"{lam:g}"]
    return argv


@dataclass
class Runner:
    """Where neurecon runs: `python` None = in Blender's own process, else that interpreter."""

    python: str | None
    timeout: float = 1800
    threads: int = 0

    @property
    def where(self) -> str:
        return "Blender's Python (in process)" if self.python is None else self.python

    def run(self, argv: Sequence[str]) -> str:
        """Run ``neurecon ARGV``; its stdout on success, else a :class:`BridgeError` with its error."""
        if self.python is None:
            return self._in_process(list(argv))
        return self._child(["-m", "neurecon", *argv])

    def _child(self, argv: list[str], timeout: float | None = None) -> str:
        """``python ARGV`` with stdin closed and its output collected; errors as :class:`BridgeError`."""
        assert self.python is not None
        env = dict(os.environ)
        if self.threads:
            env["OMP_NUM_THREADS"] = str(self.threads)
        timeout = timeout or self.timeout
        try:
            proc = subprocess.run(
                [self.python, *argv],
                stdin=subprocess.DEVNULL,  # never wait for input
                capture_output=True,
                text=True,
                errors="replace",
                timeout=timeout,
                env=env,
            )
        except FileNotFoundError:
            raise BridgeError(
                f"neurecon Python not found: {self.python} (set it in the add-on's preferences)"
            ) from None
        except PermissionError:
            raise BridgeError(f"neurecon Python {self.python} is not executable") from None
        except subprocess.TimeoutExpired:
            raise BridgeError(
                f"neurecon took longer than {timeout:g} s and was stopped (the time limit is in the add-on's "
                "preferences)"
            ) from None
        if proc.returncode != 0:
            raise BridgeError(_error_of(proc.stderr, self.python))
        return proc.stdout

    def _in_process(self, argv: list[str]) -> str:
        from neurecon.cli import main  # only when Blender's Python has neurecon (resolve_runner)

        if self.threads:
            import torch

            torch.set_num_threads(self.threads)
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = main(argv)
            except SystemExit as e:  # argparse refusing the arguments
                code = e.code if isinstance(e.code, int) else 2
        if code != 0:
            raise BridgeError(_error_of(err.getvalue(), "Blender's Python"))
        return out.getvalue()

    def version(self) -> str:
        """neurecon's version and location as this runner sees it (the preferences' check)."""
        if self.python is None:
            import neurecon

            return f"neurecon {neurecon.__version__} at {os.path.dirname(neurecon.__file__)} (in Blender's process)"
        code = "import neurecon, os; print(neurecon.__version__, os.path.dirname(neurecon.__file__))"
        version, _, where = self._child(["-c", code], timeout=min(self.timeout, 60)).strip().partition(" ")
        return f"neurecon {version} at {where} (via {self.python})"


def _error_of(stderr: str, python: str) -> str:
    """The line of a failed run the user needs: neurecon's own one-line error, or that neurecon is
    not installed for `python`."""
    lines = [ln.strip() for ln in stderr.splitlines() if ln.strip()]
    if any("No module named neurecon" in ln or "No module named 'neurecon'" in ln for ln in lines):
        return f"neurecon not found: {python} cannot import it (set the neurecon Python in the add-on's preferences)"
    for ln in reversed(lines):
        if ln.startswith("neurecon ") and (": error:" in ln or ": internal error:" in ln):
            return ln
    return f"neurecon in {python} failed: {lines[-1] if lines else 'no message'}"


def resolve_runner(python_path: str, in_process: bool, timeout: float = 1800, threads: int = 0) -> Runner:
    """The configured interpreter if one is set; else Blender's own Python, in its process when
    allowed (neurecon importable there), else as a child. Raises when neither has neurecon."""
    if python_path:
        path = os.path.expanduser(python_path)
        # a bare command name (python3) is looked up on PATH, as a shell would
        path = (shutil.which(path) or path) if os.sep not in path else os.path.abspath(path)
        return Runner(path, timeout, threads)
    if importlib.util.find_spec("neurecon") is None:
        raise BridgeError(
            f"neurecon not found: Blender's Python ({sys.executable}) cannot import it; set the Python of a neurecon "
            "installation in Edit › Preferences › Add-ons › neurecon Denoiser"
        )
    return Runner(None if in_process else sys.executable, timeout, threads)
