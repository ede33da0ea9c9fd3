"""The `neurecon` command line: one module per verb, each with `add_parser(sub)` and `run(args)`.
This package is the only place that sees argparse. Each verb imports its machinery lazily, so
`neurecon inspect` does not pay for torch and `neurecon denoise` does not pay for Mitsuba.

Every expected failure (bad input, a missing file, an unsuitable model) is one line on stderr and
exit status 2; `--debug` shows the traceback instead.
"""

from __future__ import annotations

import argparse
import sys

from . import demo, denoise, export, inspect, lambda_, relight, render, train, upscale

VERBS = [render, inspect, train, denoise, lambda_, demo, export, upscale, relight]


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="neurecon",
        description="Neural image reconstruction: denoise Monte Carlo "
        "renders, super-resolve images, train and benchmark the models.",
    )
    p.add_argument("--debug", action="store_true", help="show tracebacks instead of one-line errors")
    sub = p.add_subparsers(dest="command", required=True)
    for verb in VERBS:
        verb.add_parser(sub)
    return p


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (ValueError, FileNotFoundError) as e:  # BufferError is a ValueError: user-facing
        if args.debug:
            raise
        print(f"neurecon {args.command}: error: {e}", file=sys.stderr)
        return 2
