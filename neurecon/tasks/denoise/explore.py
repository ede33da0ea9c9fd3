"""`neurecon lambda`: sweep λ over one frame and write a page with a λ slider.

The λ-independent features are computed once (`LambdaSession`); each λ re-runs only the
specialiser tail, so a sweep of seven values costs little more than one full denoise. The page
shows the output at the slider's λ next to the noisy input (and the reference when given), where
λ changes the output (|out(λ) − out(1)|), zoomed crops where it changes most, and, with a
reference, relMSE / SMAPE / DSSIM per λ. Every λ's output is also written as an EXR, so the
artist can keep the one they chose.
"""

from __future__ import annotations

import json
import statistics
from pathlib import Path

import numpy as np

from ... import metrics
from ...buffers import Buffers
from ...infer.denoiser import Denoiser
from ...io import write_image
from ...report import write_lambda_page

DEFAULT_LAMBDAS = (1.0, 1.5, 2.0, 3.0, 5.0, 7.0, 10.0)


def exr_name(lam: float) -> str:
    return f"lambda_{lam:g}.exr"


def sweep(den: Denoiser, buf: Buffers, lambdas=DEFAULT_LAMBDAS) -> tuple[dict[float, np.ndarray], dict]:
    """Outputs for each λ from one cached session, and what a λ change costs against a full
    denoise, taken as the session's two parts, features + tail, so the sweep runs no extra
    denoise. The features are timed on their first (cold) call, which makes the full denoise up
    to ~10 % slower than a warm one (256²: 0.199 s here vs 0.191 s warm in bench/lambda_speed.py,
    which times both warm)."""
    lambdas = sorted({float(l) for l in lambdas})
    if not lambdas:
        raise ValueError("give at least one λ")
    names = [exr_name(l) for l in lambdas]
    if len(set(names)) < len(names):
        raise ValueError(f"λ values {lambdas} are too close to tell apart in file names ({names})")
    for lam in (lambdas[0], lambdas[-1]):  # a λ outside the trained range fails before the features run
        den.lambda_map(lam, (1, 1))
    sess = den.session(buf)
    sess.denoise(lambdas[0])  # warm-up: the first tail call allocates
    outs, tail = {}, []
    for lam in lambdas:
        outs[lam] = sess.denoise(lam)
        tail.append(sess.last_seconds)
    change = statistics.median(tail)
    full = sess.feature_seconds + change
    timing = {
        "features_seconds": sess.feature_seconds,
        "lambda_change_seconds": change,
        "full_denoise_seconds": full,
        "speedup": full / change if change > 0 else float("inf"),
        "precision": den.precision,
    }
    return outs, timing


def explore(
    den: Denoiser,
    buf: Buffers,
    out_dir: str | Path,
    lambdas=DEFAULT_LAMBDAS,
    reference: np.ndarray | None = None,
    title: str = "neurecon λ explorer",
) -> tuple[Path, dict]:
    """Sweep λ, write one EXR per λ, `lambda.json` and the slider page; returns the page's path
    and the sweep's timing."""
    out = Path(out_dir)
    if reference is not None and reference.shape[:2] != buf.shape:
        h, w = reference.shape[:2]
        raise ValueError(f"the reference is {w}×{h} but the frame is {buf.shape[1]}×{buf.shape[0]}")
    outs, timing = sweep(den, buf, lambdas)
    out.mkdir(parents=True, exist_ok=True)
    for lam, img in outs.items():
        write_image(out / exr_name(lam), img)
    table = {lam: metrics.denoise_metrics(img, reference) for lam, img in outs.items()} if reference is not None else {}
    model = den.card.get("name", "λ model")
    page = write_lambda_page(
        out,
        outs,
        buf["color"],
        timing,
        reference=reference,
        table=table,
        title=title,
        notes=f"model {model}",
        exr_names=[exr_name(l) for l in outs],
    )
    (out / "lambda.json").write_text(
        json.dumps(
            {
                "model": model,
                "lambdas": list(outs),
                "timing": timing,
                "metrics": {f"{lam:g}": m for lam, m in table.items()},
            },
            indent=1,
        )
    )
    return page, timing
