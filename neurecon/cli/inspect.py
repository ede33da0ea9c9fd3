"""`neurecon inspect FILE…`: buffers, resolution, value ranges and NaN/Inf counts of image files."""

from __future__ import annotations

import json
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
    """Print a table per file; returns 1 if any file had NaN/Inf (useful in scripts), 2 on errors."""
    from ..io.info import inspect_file

    out = out or sys.stdout
    status = 0
    results = []
    for path in paths:
        try:
            info = inspect_file(path)
        except (BufferError, FileNotFoundError) as e:
            print(f"{path}: error: {e}", file=sys.stderr)
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
    if as_json:
        json.dump(results if len(results) != 1 else results[0], out, indent=1)
        print(file=out)
    return status
