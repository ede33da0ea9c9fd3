"""`neurecon denoise`: one frame or a sequence, multi-layer EXR or OIDN-style separate files."""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from .common import add_frame_args, add_run_args, check_output_dir, read_frame_args


def add_parser(sub) -> None:
    d = sub.add_parser("denoise", help="denoise renders (multi-layer EXRs or OIDN-style separate files)")
    add_frame_args(d, many=True)
    d.add_argument("-o", "--output", required=True, help="output image, or a directory for a sequence")
    d.add_argument(
        "--model",
        default=None,
        help="fast | balanced | high (speed/quality presets, as OIDN's modes), kpcn, lambda, "
        "balanced_lambda, kpcn_lambda, default+cycles (with the Cycles adapter), a checkpoint path, or "
        "BASE+ADAPTER.pt (neurecon adapt); default: high, the best quality at ≥ OIDN's speed; with "
        "--backend onnxruntime also an exported .onnx",
    )
    d.add_argument(
        "--backend",
        choices=["torch", "onnxruntime"],
        default=None,
        help="torch (default), or onnxruntime: runs an .onnx from `neurecon export MODEL --onnx` (torch is not "
        "imported), or exports the named model on first use into ~/.cache/neurecon/onnx ($NEURECON_CACHE_DIR); "
        "fp32 only, no --temporal; default: onnxruntime when --model is an .onnx",
    )
    add_run_args(d)
    d.add_argument(
        "--source",
        default=None,
        help="the model's encoder to use (mitsuba, oidn, cycles with an adapter: --model default+cycles, …); "
        "default: the source the file declares (Cycles channel names → cycles) if the model has it, "
        "else the richest one whose buffers were given",
    )
    d.add_argument(
        "--lambda",
        dest="lam",
        type=float,
        default=None,
        help="λ ≥ 1: keep more input detail (and noise); uses the 'lambda' model unless --model",
    )
    d.add_argument("--lambda-map", help="spatially varying λ as an image (EXR/PFM/PNG; its mean over channels)")
    d.add_argument(
        "--temporal",
        type=int,
        metavar="N",
        default=None,
        help="denoise the frames (in the order given) as a sequence with an N-frame window (odd; 3: "
        "temporal_m1, 5 or 7: temporal_m3, unless --model), motion vectors from each frame's layers; "
        "streams with memory bounded by the window",
    )
    d.add_argument("--causal", action="store_true", help="with --temporal: past frames only (interactive use)")
    d.set_defaults(func=run)


def output_paths(names: list[str], output: str, protected: Sequence[str | None] = ()) -> list[Path]:
    """Where each frame's result goes: `output` itself for one frame, else `output`/<frame's name>.
    `output` is a directory when it is one, ends in a slash, or several frames are given. Refused:
    a name clash inside the directory, and any result that would overwrite a `protected` input."""
    from ..io.images import IMAGE_TYPES

    out = Path(output)
    as_dir = len(names) > 1 or out.is_dir() or output.endswith(("/", os.sep))
    if as_dir and out.exists() and not out.is_dir():
        raise ValueError(f"{len(names)} frames need a directory for -o, but {out} is a file")
    if len(names) > 1 and out.suffix.lower() in IMAGE_TYPES:
        raise ValueError(f"{len(names)} frames need a directory for -o, not the file name {out}")
    if not as_dir and out.suffix.lower() not in IMAGE_TYPES:
        raise ValueError(
            f"{out}: unsupported image type '{out.suffix}' ({', '.join(IMAGE_TYPES)}), or end it with / for a directory"
        )
    base = [Path(n).name for n in names]
    dup = sorted({n for n in base if base.count(n) > 1})
    if as_dir and dup:
        raise ValueError(f"several inputs are named {', '.join(dup)}: their results would overwrite each other")
    targets = [out / n for n in base] if as_dir else [out]
    given = [p for p in [*names, *protected] if p]
    inputs = {Path(p).resolve(): p for p in given}
    inodes = {(st.st_dev, st.st_ino): p for p in given if (st := _stat(p))}  # hard links too
    for dst in targets:
        st = _stat(dst)
        hit = inputs.get(dst.resolve()) or (inodes.get((st.st_dev, st.st_ino)) if st else None)
        if hit:
            raise ValueError(f"the result would overwrite the input {hit}; choose another -o")
    return targets


def _stat(path) -> os.stat_result | None:
    try:
        return os.stat(path)
    except OSError:
        return None


def run(a) -> int:
    """One frame (errors are the command's) or a sequence (one model load; a frame that fails for
    any reason — unreadable, too large, out of memory, a full disk — is reported and the others
    still run). The output's directory is checked writable before anything is read."""
    from tqdm import tqdm

    from ..io import read_image, write_image

    frames = a.input or [None]  # None: the OIDN-style --hdr frame
    if len(frames) > 1 and a.hdr:
        raise ValueError("--hdr names one frame; give a sequence as multi-layer EXRs")
    if a.lam is not None and a.lambda_map:
        raise ValueError("give --lambda or --lambda-map, not both")
    names = [f or a.hdr for f in frames]
    if names == [None]:
        raise ValueError("nothing to denoise: give a multi-layer EXR or --hdr color.exr")
    targets = output_paths(names, a.output, [a.alb, a.nrm, a.var, a.alb_var, a.nrm_var, a.lambda_map])
    for d in sorted({t.parent for t in targets}):
        check_output_dir(d)
    onnx = a.backend == "onnxruntime" or (a.backend is None and str(a.model or "").endswith(".onnx"))
    if a.backend == "torch" and str(a.model or "").endswith(".onnx"):
        raise ValueError("an .onnx model runs with --backend onnxruntime")
    if onnx and (a.temporal is not None or a.causal):
        raise ValueError("--temporal runs on the torch backend only")
    if a.temporal is not None or a.causal:
        from .temporal import run_temporal

        return run_temporal(a, frames, targets)
    lam = a.lam if a.lam is not None else (read_image(a.lambda_map).mean(2) if a.lambda_map else None)
    single, failed, seconds = len(frames) == 1, [], []
    first = read_frame_args(a, frames[0]) if single else None  # a bad frame fails before the model loads
    model = a.model or ("lambda" if lam is not None else None)
    if onnx:
        den = _onnx_denoiser(a, model, first if first is not None else read_frame_args(a, frames[0]))
    else:
        from ..infer.denoiser import Denoiser

        den = Denoiser.load(model, maxmem_mb=a.maxmem, precision=a.precision)
    if lam is not None and not onnx:  # a wrong λ or a model without λ is the command's error, not every frame's
        den.lambda_map(lam, np.shape(lam)[:2] if np.ndim(lam) else (1, 1))
    if a.source is not None:  # a wrong source name is the command's error too
        den.check_source(a.source)
    said: set[str] = set()
    for i, (src, dst) in enumerate(tqdm(list(zip(frames, targets)), desc="denoise", unit="frame", disable=single)):
        try:
            buf = first if first is not None else read_frame_args(a, src)
            if i == 0 and not onnx:  # --precision auto weighs bf16's one-time set-up against the whole job
                den.expect_pixels(len(frames) * buf.shape[0] * buf.shape[1])
            source, why = den.choose_source(buf.names(), a.source, buf.source)
            for note in [f"source: {source} ({why})", *_unused_notes(den, a, buf, source)]:
                if note not in said:  # once per reason, not once per frame
                    said.add(note)
                    print(note if note.startswith("source:") else f"warning: {note}", file=sys.stderr)
            dst.parent.mkdir(parents=True, exist_ok=True)
            if not onnx and dst.suffix.lower() == ".exr" and den.must_stream(buf, source=source, lam=lam):
                # the output alone would break --maxmem: written band by band as tiles complete
                from ..io.exr import ExrRowWriter

                with ExrRowWriter(dst, buf.shape[1], buf.shape[0]) as rows:
                    den.denoise_rows(buf, rows, source=source, lam=lam)
            else:
                write_image(
                    dst, den.denoise_buffers(buf, source=source, lam=lam)
                )  # atomic: a failed write leaves no partial file
        except Exception as e:  # unreadable, too large or unsuitable frame, λ map of another size, full disk, OOM
            if single:
                raise
            from . import one_line

            failed.append(f"{src}: {one_line(e)}")
            continue
        seconds.append(den.last_seconds)
    label = den.precision + (", onnxruntime" if onnx else "")
    if single:
        rep = den.last_sanitize_report
        plan = den.last_plan
        h, w = buf.shape
        tiles = "" if plan is None or plan.untiled else f", {plan.count} tiles: {plan.work:.2f}× the work"
        print(
            f"denoised {w}×{h} in {den.last_seconds:.2f} s ({label}{tiles}) -> {targets[0]}"
            + ("" if not rep or not rep.total else f" (sanitised input: {rep})")
        )
        return 0
    done = len(seconds)
    print(
        f"denoised {done} of {len(frames)} frames into {a.output} ({label}"
        + (f", {sum(seconds) / done:.2f} s a frame)" if done else ")")
    )
    if failed:
        print("failed:\n  " + "\n  ".join(failed), file=sys.stderr)
        return 2
    return 0


# the OIDN-style file flags -> the planes they fill (cli/common.read_frame)
FILE_FLAGS = {
    "albedo": "--alb",
    "normal": "--nrm",
    "color_var": "--var",
    "albedo_var": "--alb-var",
    "normal_var": "--nrm-var",
}


def _unused_notes(den, a, buf, source: str) -> list[str]:
    """The buffers given by flag that `source`'s encoder does not read. Planes a multi-layer EXR
    carries are not warned about: the renderer wrote them, the user did not ask for them."""
    given = {plane: flag for plane, flag in FILE_FLAGS.items() if getattr(a, flag[2:].replace("-", "_"), None)}
    return den.unused_buffers(given, buf.names(), source)


def _onnx_denoiser(a, model: str | None, first):
    """The onnxruntime denoiser for `model`: an .onnx as given, or a shipped name / .pt exported
    once into the cache for the buffers of the first frame."""
    from ..infer.onnx_backend import OnnxDenoiser

    if a.precision not in ("auto", "fp32"):
        raise ValueError("the onnxruntime backend runs in fp32 (--precision fp32 or auto)")
    if model is None or not str(model).endswith(".onnx"):
        try:
            from ..infer.onnx_export import cached_export
        except ImportError as e:
            raise ValueError(
                f"exporting '{model or 'default'}' to ONNX needs torch and onnx ({e}); give an exported "
                "--model FILE.onnx instead (neurecon export MODEL --onnx FILE.onnx)"
            ) from None
        model = str(cached_export(model, set(first.names())))
    return OnnxDenoiser.load(model, maxmem_mb=a.maxmem)
