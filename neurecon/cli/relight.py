"""`neurecon relight --olat DIR --light x,y,z -o out.exr [--method nearest|barycentric|knn|network]`.

Relights the subject of an OLAT folder (the layout of :mod:`neurecon.io.olat`: ``olat.json`` with
light files and camera-frame directions, x right, y up, z towards the camera) under a new light
direction, or along a light path into an image sequence::

    neurecon relight --olat data/olat/test/subject200000 --light 0.5,0.6,0.6 -o relit.exr
    neurecon relight --olat DIR --path orbit --frames 36 --elevation 30 -o sweep/   # sweep/frame_000.exr …
    neurecon relight --olat DIR --path arc --from 1,0.3,0.3 --to -1,0.3,0.3 --frames 24 -o sweep/ --ext png

``--method network`` (the default) runs the shipped relighting model (or ``--model NAME|PATH``) on
the k nearest captured lights; the others are the interpolation baselines. Outputs are linear HDR
in the folder's units (.exr/.pfm), or tonemapped 8-bit (.png/.jpg, ``--exposure``).
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

METHODS = ("network", "nearest", "barycentric", "knn")


def add_parser(sub) -> None:
    r = sub.add_parser("relight", help="relight an OLAT folder under a new light direction (or a light path)")
    r.add_argument("--olat", required=True, metavar="DIR", help="an OLAT folder (olat.json + one image per light)")
    r.add_argument("--light", metavar="X,Y,Z", help="query light direction in the camera frame (normalised)")
    r.add_argument("--path", choices=["orbit", "arc"], help="a light path instead of one --light: an image sequence")
    r.add_argument("--frames", type=int, default=24, help="frames of a light path")
    r.add_argument("--elevation", type=float, default=30.0, help="orbit: degrees above the camera's horizontal plane")
    r.add_argument("--from", dest="start", metavar="X,Y,Z", help="arc: first direction")
    r.add_argument("--to", dest="end", metavar="X,Y,Z", help="arc: last direction")
    r.add_argument("-o", "--output", required=True, help="image file (one light) or folder (a light path)")
    r.add_argument("--ext", default="exr", choices=["exr", "pfm", "png", "jpg"], help="frame format of a light path")
    r.add_argument("--method", choices=METHODS, default="network")
    r.add_argument("--model", default=None, help="relighting model: shipped name or .pt (default: relight)")
    r.add_argument("--k", type=int, default=None, help="network inputs: nearest captured lights (default: the model's)")
    r.add_argument("--exposure", type=float, default=1.0, help="linear scale before tonemapping 8-bit outputs")
    r.set_defaults(func=run)


def parse_direction(text: str, what: str = "--light"):
    import numpy as np

    try:
        v = np.array([float(x) for x in text.split(",")], np.float64)
    except ValueError:
        v = np.zeros(0)
    if v.shape != (3,) or not np.all(np.isfinite(v)) or np.linalg.norm(v) < 1e-9:
        raise ValueError(f"{what} takes a non-zero direction x,y,z (camera frame), got {text!r}")
    return v / np.linalg.norm(v)


def outside_coverage(captured, queries) -> str:
    """Why some queries lie outside the captured lights' coverage ('' if none does): farther from
    their nearest captured light than twice the widest gap between neighbouring captured lights."""
    import numpy as np

    cos = np.clip(captured @ captured.T, -1, 1)
    np.fill_diagonal(cos, -1)
    spacing = float(np.degrees(np.arccos(cos.max(1))).max()) if len(captured) > 1 else 180.0
    nearest = np.degrees(np.arccos(np.clip(queries @ captured.T, -1, 1).max(1)))
    far = nearest > 2 * spacing
    if not far.any():
        return ""
    return (
        f"{int(far.sum())} of {len(queries)} query directions are up to {nearest.max():.0f}° from the nearest "
        f"captured light (the captured lights are at most {spacing:.0f}° apart)"
    )


def load_relighter(folder: str, method: str, model_name: str | None, k: int | None):
    from ..io.olat import read_olat
    from ..tasks.relight.baselines import Relighter

    olat = read_olat(folder)
    images = olat.images()
    mask = olat.mask(images.shape[1:3])
    model = None
    if method == "network":
        from ..models import load_model
        from ..models.registry import DEFAULTS

        model, ck = load_model(model_name, default=DEFAULTS["relight"])
        if not hasattr(model, "relight"):
            raise ValueError(f"{model_name or DEFAULTS['relight']} is not a relighting model")
        if k is None:
            cfg = (ck.get("card") or {}).get("config") or {}
            k = int(((cfg.get("task") or {}).get("data") or {}).get("k", 4))
    k = k or 4
    if k > len(images):
        raise ValueError(f"--k {k} but {folder} has only {len(images)} lights")
    return Relighter(images, olat.directions, mask, model, k), olat


def run(a) -> int:
    import numpy as np
    import torch

    from ..io import write_image
    from ..render.lights import light_path

    if bool(a.light) == bool(a.path):
        raise ValueError("give one query: --light x,y,z, or --path orbit|arc for a sequence")
    out = Path(a.output)
    if a.light:
        dirs = parse_direction(a.light)[None]
        if out.suffix.lower() not in (".exr", ".pfm", ".png", ".jpg", ".jpeg"):
            raise ValueError(f"{out}: the output image must be .exr, .pfm, .png or .jpg")
        if not out.parent.exists():
            raise FileNotFoundError(f"output folder does not exist: {out.parent}")
    else:
        start = parse_direction(a.start, "--from") if a.start else None
        end = parse_direction(a.end, "--to") if a.end else None
        dirs = light_path(a.path, a.frames, a.elevation, start, end)
        if out.exists() and not out.is_dir():
            raise ValueError(f"{out}: a light path writes a sequence into a folder, not a file")
    torch.set_num_threads(max(1, min(torch.get_num_threads(), 2)))
    relighter, olat = load_relighter(a.olat, a.method, a.model, a.k)
    far = outside_coverage(np.asarray(olat.directions, np.float64), dirs)
    if far:
        print(f"warning: {far}; every method extrapolates there", file=sys.stderr)
    t0 = time.perf_counter()
    if a.light:
        img = relighter(a.method, dirs[0])
        write_image(out, img, exposure=a.exposure)
        d = np.round(dirs[0], 4).tolist()
        print(f"relit {a.olat} under {d} with {a.method} → {out} ({time.perf_counter() - t0:.2f} s)")
        return 0
    out.mkdir(parents=True, exist_ok=True)
    frames = []
    for i, d in enumerate(dirs):
        name = f"frame_{i:03d}.{a.ext}"
        write_image(out / name, relighter(a.method, d), exposure=a.exposure)
        frames.append({"file": name, "direction": [round(float(c), 6) for c in d]})
    from ..io.atomic import atomic_write_text

    atomic_write_text(
        out / "path.json", json.dumps({"method": a.method, "olat": str(a.olat), "frames": frames}, indent=1)
    )
    print(
        f"relit {a.olat} along a {len(dirs)}-frame {a.path} with {a.method} → {out}/ ({time.perf_counter() - t0:.2f} s)"
    )
    return 0
