"""`neurecon lambda FRAME --out DIR`: the λ explorer (one EXR per λ and a page with a λ slider)."""

from __future__ import annotations

import time

from .common import add_frame_args, add_run_args, check_output_dir, read_frame_args


def add_parser(sub) -> None:
    x = sub.add_parser("lambda", help="sweep λ over a frame: one EXR per λ and a page with a λ slider")
    add_frame_args(x)
    x.add_argument("--out", required=True, help="directory for index.html, lambda_<λ>.exr and lambda.json")
    x.add_argument(
        "--lambdas",
        type=float,
        nargs="+",
        default=None,
        help="λ values ≥ 1 (default 1 1.5 2 3 5 7 10; the shipped λ models were trained for 1–10)",
    )
    x.add_argument("--reference", help="a clean image of the frame: adds relMSE/SMAPE/DSSIM per λ")
    x.add_argument("--model", default="lambda", help="lambda | balanced_lambda | kpcn_lambda | a checkpoint path")
    add_run_args(x)
    x.set_defaults(func=run)


def run(a) -> int:
    from ..infer.denoiser import Denoiser
    from ..io import read_image
    from ..tasks.denoise.explore import DEFAULT_LAMBDAS, explore

    check_output_dir(a.out)  # before the work, not after it
    buf = read_frame_args(a, a.input)
    ref = read_image(a.reference) if a.reference else None
    den = Denoiser.load(a.model, maxmem_mb=a.maxmem, precision=a.precision)
    lambdas = a.lambdas or DEFAULT_LAMBDAS
    t = time.perf_counter()
    page, timing = explore(den, buf, a.out, lambdas, ref)
    print(
        f"swept {len(set(lambdas))} λ values in {time.perf_counter() - t:.1f} s: a λ change takes "
        f"{timing['lambda_change_seconds']:.3f} s, a full denoise (features + λ tail) "
        f"{timing['full_denoise_seconds']:.3f} s ({timing['speedup']:.2f}× faster)"
    )
    print(f"page: {page}")
    return 0
