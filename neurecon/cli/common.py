"""Arguments and input handling several verbs share."""

from __future__ import annotations

import argparse

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
    p.add_argument("--var", help="colour variance image")


def add_run_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--maxmem", type=int, default=2048, help="memory budget in MB: larger frames are tiled")
    p.add_argument(
        "--precision",
        choices=["auto", "fp32", "bf16"],
        default="auto",
        help="auto: the conv trunk in bf16 on CPUs with native bf16 (AVX512-BF16/AMX), else fp32",
    )


def read_frame(
    path: str | None, hdr: str | None = None, alb: str | None = None, nrm: str | None = None, var: str | None = None
) -> Buffers:
    """One frame: the multi-layer EXR `path`, or (`path` None) OIDN-style separate files."""
    from ..io import read_buffers, read_image

    if path and hdr:
        raise ValueError("give either a multi-layer EXR or --hdr (with --alb/--nrm/--var), not both")
    if path:
        return read_buffers(path)
    if not hdr:
        raise ValueError("nothing to denoise: give a multi-layer EXR or --hdr color.exr")
    buf = Buffers(color=read_image(hdr))
    for file, plane in ((alb, "albedo"), (nrm, "normal"), (var, "color_var")):
        if file:
            buf[plane] = read_image(file)
    return buf


def read_frame_args(a: argparse.Namespace, path: str | None) -> Buffers:
    return read_frame(path, a.hdr, a.alb, a.nrm, a.var)
