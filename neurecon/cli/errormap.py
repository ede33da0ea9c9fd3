"""`neurecon errormap FRAME -o err.exr --metric smape`: the predicted per-pixel error of the
default denoiser's output on FRAME (§5), the map adaptive sampling places samples by."""

from __future__ import annotations


def add_parser(sub) -> None:
    e = sub.add_parser("errormap", help="predict the per-pixel error of the denoised frame (SMAPE, relMSE, DSSIM)")
    e.add_argument("frame", help="a multi-layer EXR with colour, its variance, albedo and normal")
    e.add_argument("-o", "--output", required=True, help="EXR: the map as Y (or one channel per metric with all)")
    e.add_argument("--metric", choices=["smape", "relmse", "dssim", "all"], default="smape")
    e.add_argument(
        "--spp", type=float, default=None, help="samples per pixel of FRAME (default: its spp.Y layer, else 16)"
    )
    e.add_argument("--predictor", default=None, help="error predictor: shipped name or .pt (default errormap)")
    e.add_argument("--model", default=None, help="the denoiser (default: the one the predictor was trained for)")
    e.add_argument("--denoised", default=None, help="also write the denoised frame here")
    e.set_defaults(func=run)


def run(a) -> int:
    import numpy as np

    from ..infer.errormap import ErrorMapper
    from ..io import read_buffers, read_exr_channels, write_exr_channels, write_image

    if not a.output.lower().endswith(".exr"):
        raise ValueError(f"-o {a.output}: error maps are written as .exr")
    buf = read_buffers(a.frame)
    spp = a.spp
    if spp is None and a.frame.lower().endswith(".exr"):
        spp = read_exr_channels(a.frame).get("spp.Y")  # written by neurecon render -o
    if spp is not None and np.any(np.asarray(spp) < 1):
        raise ValueError("--spp (or the frame's spp.Y) must be ≥ 1")
    mapper = ErrorMapper.load(a.predictor, a.model)
    buf.sanitize()
    denoised, maps = mapper.analyse(buf, spp)
    names = mapper.metrics if a.metric == "all" else [a.metric]
    if a.metric != "all" and a.metric not in maps:
        raise ValueError(f"this predictor predicts {', '.join(maps)}, not {a.metric}")
    channels = {"Y": maps[names[0]]} if len(names) == 1 else {f"{m}.Y": maps[m] for m in names}
    write_exr_channels(a.output, channels)
    if a.denoised:
        write_image(a.denoised, denoised)
    summary = ", ".join(f"{m} mean {float(maps[m].mean()):.4g}" for m in names)
    print(f"{a.output}: predicted {summary}" + (f"; denoised: {a.denoised}" if a.denoised else ""))
    return 0
