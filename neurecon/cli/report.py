"""`neurecon report DIR`: one self-contained HTML comparison page for a directory of frames."""

from __future__ import annotations


def add_parser(sub) -> None:
    r = sub.add_parser(
        "report",
        help="one self-contained HTML page comparing noisy / neurecon / OIDN / reference (and any other method)",
        description="DIR (or each of its subdirectories) holds reference.exr, noisy.exr and one image per method "
        "(neurecon.exr, oidn.exr, …), as `neurecon demo --out DIR` writes; a training run's metrics.jsonl adds "
        "its curves. The page embeds every image: before/after sliders, crops where the error is highest, "
        "relMSE (and FLIP, with the flip-evaluator package) error maps, the metrics table.",
    )
    r.add_argument("dir", help="the report directory (see above)")
    r.add_argument("-o", "--output", help="the page to write (default DIR/report.html)")
    r.add_argument("--title", help="the page's title (default: the directory's name)")
    r.add_argument("--crop", type=int, default=48, help="crop size in pixels (default 48)")
    r.set_defaults(func=run)


def run(a) -> int:
    from ..report import write_report_dir

    if a.crop < 8:
        raise ValueError(f"--crop must be at least 8 pixels, got {a.crop}")
    page, summary = write_report_dir(a.dir, a.output, a.title, a.crop)
    frames = ", ".join(f"{k} ({', '.join(v)})" for k, v in summary["frames"].items()) or "none"
    runs = ", ".join(summary["runs"]) or "none"
    flip = "" if summary["flip"] else "; FLIP skipped (pip install flip-evaluator)"
    print(f"wrote {page}: frames {frames}; training runs {runs}{flip}")
    return 0
