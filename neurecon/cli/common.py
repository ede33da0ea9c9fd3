"""Arguments and input handling several verbs share."""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

from ..buffers import Buffers


def add_frame_args(p: argparse.ArgumentParser, many: bool = False) -> None:
    if many:
        p.add_argument(
            "input",
            nargs="*",
            help="multi-layer EXR(s) with colour and features; several "
            "frames (a sequence) go into the directory -o names",
        )
    else:
        p.add_argument("input", nargs="?", help="multi-layer EXR with colour and features")
    p.add_argument("--hdr", help="colour image (EXR/PFM)")
    p.add_argument("--alb", help="albedo image")
    p.add_argument("--nrm", help="normal image")
    p.add_argument("--var", help="colour variance image (of the pixel mean)")
    p.add_argument("--alb-var", help="albedo variance image (with --var: the variance encoders)")
    p.add_argument("--nrm-var", help="normal variance image")
    p.add_argument(
        "--layer",
        default=None,
        help="the Cycles view layer to read when a multi-layer EXR holds several (Blender writes every enabled one)",
    )


def add_run_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--maxmem",
        type=int,
        default=2048,
        help="memory budget in MB for a frame: its buffers, copies, activations and output (not the "
        "process's ~250 MB of Python, torch and model); frames whose single pass would exceed it are "
        "tiled, budgets that would need tiles recomputing > 3x the work are refused with the minimum",
    )
    p.add_argument(
        "--precision",
        choices=["auto", "fp32", "bf16"],
        default="auto",
        help="auto: fp32, or the conv trunk in bf16 on CPUs with native bf16 (AVX512-BF16/AMX) for jobs "
        "of >= 2 Mpix (a single small frame is done sooner in fp32 than bf16's one-time set-up takes)",
    )


def read_frame(
    path: str | None,
    hdr: str | None = None,
    alb: str | None = None,
    nrm: str | None = None,
    var: str | None = None,
    alb_var: str | None = None,
    nrm_var: str | None = None,
    layer: str | None = None,
) -> Buffers:
    """One frame: the multi-layer EXR `path` (its Cycles view layer `layer`), or (`path` None)
    OIDN-style separate files."""
    from ..io import read_buffers, read_image
    from ..io.oidn_layout import declared_source

    files = {"albedo": alb, "normal": nrm, "color_var": var, "albedo_var": alb_var, "normal_var": nrm_var}
    if path and (hdr or any(files.values())):  # a flag beside a multi-layer EXR would be silently ignored
        raise ValueError(
            "give either a multi-layer EXR or --hdr (with --alb/--nrm/--var/--alb-var/--nrm-var), not both"
        )
    if path:
        return read_buffers(path, layer=layer)
    if layer:
        raise ValueError("--layer picks a view layer of a multi-layer EXR, not of --hdr files")
    if not hdr:
        raise ValueError("nothing to denoise: give a multi-layer EXR or --hdr color.exr")
    buf = Buffers(color=read_image(hdr))
    for plane, file in files.items():
        if file:
            buf[plane] = read_image(file)
    buf.source = declared_source(hdr)
    return buf


def read_frame_args(a: argparse.Namespace, path: str | None) -> Buffers:
    return read_frame(path, a.hdr, a.alb, a.nrm, a.var, a.alb_var, a.nrm_var, a.layer)


def check_output_dir(directory: str | os.PathLike) -> Path:
    """Check that files can be written into `directory` (or, while it does not exist, created in
    its nearest existing parent): an unwritable or read-only output fails here, before the work,
    not after it. Nothing is left behind (the writers create the directory)."""
    d = Path(directory)
    existing = d
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise ValueError(f"cannot write into {d}: {existing} is a file, not a directory")
    try:
        fd, probe = tempfile.mkstemp(dir=existing, prefix=".neurecon-write-test.")
        try:
            os.write(fd, bytes(4096))
        finally:
            os.close(fd)
            os.unlink(probe)
    except OSError as e:
        raise ValueError(f"cannot write into {d}: {e.strerror or e}") from None
    return d


def same_file(a: str | os.PathLike, b: str | os.PathLike) -> bool:
    """`a` and `b` name one file (through links, relative paths, hard links)."""
    pa, pb = Path(a), Path(b)
    if pa.exists() and pb.exists():
        return os.path.samefile(pa, pb)
    return pa.resolve() == pb.resolve()
