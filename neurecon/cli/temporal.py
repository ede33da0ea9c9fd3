"""`neurecon denoise FRAMES -o DIR --temporal N`: a sequence streamed through the temporal denoiser
(:mod:`neurecon.infer.temporal`); frames are read one at a time as the window advances, so memory
is bounded by the window, not by the sequence."""

from __future__ import annotations

from pathlib import Path

from .common import read_frame_args


def run_temporal(a, frames: list, targets: list[Path]) -> int:
    from tqdm import tqdm

    from ..infer.temporal import TemporalDenoiser
    from ..io import write_image

    if a.temporal is None:
        raise ValueError("--causal goes with --temporal N")
    if a.hdr or None in frames:
        raise ValueError("--temporal takes multi-layer EXRs (colour, features and motion layers), not --hdr")
    if a.lam is not None or a.lambda_map:
        raise ValueError("--temporal has no λ control; drop --lambda / --lambda-map")
    model = a.model or ("temporal_m1" if a.temporal <= 3 else "temporal_m3")
    den = TemporalDenoiser.load(model, window=a.temporal, causal=a.causal, precision=a.precision, maxmem_mb=a.maxmem)

    def read():
        for f in frames:
            yield f, read_frame_args(a, f)

    done = 0
    bar = tqdm(total=len(frames), desc=f"denoise --temporal {den.window}", unit="frame", disable=len(frames) == 1)
    for dst, out in zip(targets, den.stream(read())):
        dst.parent.mkdir(parents=True, exist_ok=True)
        write_image(dst, out)  # atomic
        done += 1
        bar.update(1)
    bar.close()
    print(
        f"denoised {done} frame(s) into {a.output} with a {den.window}-frame window"
        + (" (causal)" if a.causal else "")
        + f" ({den.precision}, {den.steady_seconds():.2f} s a frame in steady state; "
        f"at most {den.max_held} frames held)"
    )
    return 0
