"""The `neurecon` command line: one module per verb, each with `add_parser(sub)` and `run(args)`.
This package is the only place that sees argparse. Each verb imports its machinery lazily, so
`neurecon inspect` does not pay for torch and `neurecon denoise` does not pay for Mitsuba.

:func:`main` is the one error boundary: every expected failure (bad or hostile input, a missing
file, an unsuitable model, an unwritable or full output, out of memory) is one line on stderr and
exit status 2; anything else is a bug, one line and exit status 3. `--debug` shows the traceback
instead. `--max-pixels` / `--max-read-mb` raise the read budget (:mod:`neurecon.io.limits`).
"""

from __future__ import annotations

import argparse
import sys

from . import (
    adapt,
    bench,
    blender_addon,
    demo,
    denoise,
    errormap,
    export,
    inspect,
    lambda_,
    relight,
    render,
    report,
    train,
    upscale,
)

VERBS = [
    render,
    inspect,
    train,
    adapt,
    denoise,
    errormap,
    lambda_,
    demo,
    report,
    bench,
    export,
    upscale,
    relight,
    blender_addon,
]

# what a user can cause: bad input (ValueError, incl. BufferError and CheckpointError), files and
# disks (OSError: missing, unwritable, full), memory, library errors on broken files (OpenEXR and
# torch raise RuntimeError), a training loss that diverged (FloatingPointError)
EXPECTED = (ValueError, OSError, MemoryError, RuntimeError, EOFError, FloatingPointError)


def _count(text: str) -> int:
    try:
        value = int(float(text))
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be ≥ 1, got {text!r}")
    return value


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="neurecon",
        description="Neural image reconstruction: denoise Monte Carlo "
        "renders, super-resolve images, train and benchmark the models.",
    )
    p.add_argument("--debug", action="store_true", help="show tracebacks instead of one-line errors")
    p.add_argument(
        "--max-pixels",
        type=_count,
        default=None,
        metavar="N",
        help="largest image a reader decodes, in pixels (default 67108864 = 8192², or $NEURECON_MAX_PIXELS)",
    )
    p.add_argument(
        "--max-read-mb",
        type=_count,
        default=None,
        metavar="MB",
        help="largest float32 size one file's channels decode to (default 8192, or $NEURECON_MAX_READ_MB)",
    )
    sub = p.add_subparsers(dest="command", required=True)
    for verb in VERBS:
        verb.add_parser(sub)
    return p


def one_line(e: BaseException) -> str:
    """An exception as one line: its first line (the rest is for --debug)."""
    if isinstance(e, MemoryError):
        return "out of memory" + (f" ({e})" if str(e) else "") + "; a smaller input or tile (--maxmem) may fit"
    lines = [ln.strip() for ln in str(e).splitlines() if ln.strip()]
    if not lines:
        return type(e).__name__
    return lines[0] + (" … (--debug shows the rest)" if len(lines) > 1 else "")


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    from ..io.limits import limits

    try:
        with limits(args.max_pixels, args.max_read_mb):
            return args.func(args)
    except KeyboardInterrupt:
        if args.debug:
            raise
        print(f"neurecon {args.command}: interrupted", file=sys.stderr)
        return 130
    except EXPECTED as e:
        if args.debug:
            raise
        print(f"neurecon {args.command}: error: {one_line(e)}", file=sys.stderr)
        return 2
    except Exception as e:
        if args.debug:
            raise
        print(
            f"neurecon {args.command}: internal error: {type(e).__name__}: {one_line(e)} "
            "(a bug: rerun with --debug for the traceback and report it)",
            file=sys.stderr,
        )
        return 3
