"""`neurecon inspect FILE…`: buffers, resolution, value ranges and NaN/Inf counts of image files."""

from __future__ import annotations

import json
import math
import sys

from ..buffers import BufferError


def add_parser(sub) -> None:
    i = sub.add_parser("inspect", help="list the buffers in EXR/PFM/PNG files with ranges and NaN/Inf counts")
    i.add_argument("files", nargs="+")
    i.add_argument("--json", action="store_true")
    i.set_defaults(func=run)


def run(a) -> int:
    return inspect_paths(a.files, as_json=a.json)


def inspect_paths(paths: list[str], as_json: bool = False, out=None) -> int:
    """Print a table per file, or (`as_json`) one JSON list of the files that could be read (errors
    go to stderr; what OpenEXR prints is kept off stdout); returns 1 if any file had NaN/Inf
    (useful in scripts), 2 on errors. Files are read within the read budget (:mod:`neurecon.io.limits`)."""
    from ..io.exr import c_stdout_to_stderr
    from ..io.info import inspect_file
    from . import one_line

    out = out or sys.stdout
    status = 0
    results = []
    for path in paths:
        try:
            with c_stdout_to_stderr():
                info = inspect_file(path)
        except (BufferError, OSError, ValueError, RuntimeError, MemoryError) as e:
            print(f"{path}: error: {one_line(e)}", file=sys.stderr)
            status = 2
            continue
        results.append(info)
        bad = sum(b["nan"] + b["inf"] for b in info["buffers"].values())
        status = max(status, 1 if bad else 0)
        if as_json:
            continue
        print(
            f"{info['file']}: {info['width']}×{info['height']}"
            + (f", layout {info['layout']}, {len(info['channels'])} channels" if "channels" in info else ""),
            file=out,
        )
        print(f"  {'buffer':<12}{'ch':>3}{'min':>12}{'max':>12}{'mean':>12}{'NaN':>8}{'Inf':>8}", file=out)
        for name, s in info["buffers"].items():
            print(
                f"  {name:<12}{s['channels']:>3}{s['min']:>12.4g}{s['max']:>12.4g}{s['mean']:>12.4g}"
                f"{s['nan']:>8}{s['inf']:>8}",
                file=out,
            )
    if as_json:  # always a list, and strict JSON: NaN (no finite value in a plane) becomes null
        json.dump(_finite(results), out, indent=1, allow_nan=False)
        print(file=out)
    return status


def _finite(x):
    if isinstance(x, dict):
        return {k: _finite(v) for k, v in x.items()}
    if isinstance(x, list):
        return [_finite(v) for v in x]
    if isinstance(x, float) and not math.isfinite(x):
        return None
    return x
