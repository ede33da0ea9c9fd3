"""How fast λ moves: for each λ model, a full denoise and a λ change (cached session: only the
specialiser tail), with the default model's full denoise and OIDN timed in the same process as
yardsticks.

    .venv/bin/python bench/lambda_speed.py --models lambda --size 256 --out bench/results/lambda_speed

Random inputs (speed does not depend on content); median of --rounds × --repeat runs after two
warm-ups, interleaved per round so background load hits every call alike. All models run at one
--precision. Writes lambda_speed.json and
lambda_speed.png.
"""

from __future__ import annotations

from pathlib import Path

import torch

from .common import pyplot, write_json
from .timing import random_frame, time_interleaved

LAM = 3.0


def label_of(model: str, taken: list[str]) -> str:
    """A short name for a model: runs/<name>/best.pt -> <name>; the spec itself for a bare file or
    a second checkpoint of one run."""
    label = Path(model).parent.name if model.endswith(".pt") else model
    return model if not label or label in taken else label


def ratios(sec: dict[str, float], labels: list[str]) -> dict:
    """A λ change against the model's own full denoise, the default model's and OIDN's."""
    res = {
        "lambda_change_speedup_vs_full": {m: sec[f"{m}: full"] / sec[f"{m}: λ change"] for m in labels},
        "lambda_change_vs_default_full": {m: sec[f"{m}: λ change"] / sec["default"] for m in labels},
    }
    if "oidn" in sec:
        res["lambda_change_vs_oidn"] = {m: sec[f"{m}: λ change"] / sec["oidn"] for m in labels}
    return res


def run(models: list[str], size: int, repeat: int, rounds: int, precision: str, out: str | Path) -> dict:
    """Time every model's full denoise and λ change on a random size² frame; writes
    lambda_speed.json and lambda_speed.png into `out`."""
    from .. import peers
    from ..infer.denoiser import Denoiser
    from ..nn.precision import native_bf16

    buf = random_frame(size)
    calls, labels = {}, []
    for m in models:
        den = Denoiser.load(m, precision=precision)
        sess = den.session(buf)
        label = label_of(m, labels)
        labels.append(label)
        calls[f"{label}: full"] = lambda d=den: d.denoise_buffers(buf, lam=LAM)
        calls[f"{label}: λ change"] = lambda s=sess: s.denoise(LAM)
    default = Denoiser.load(None, precision=precision)
    calls["default"] = lambda: default.denoise_buffers(buf)
    if peers.available():
        peers.warm_up()
        calls["oidn"] = lambda: peers.oidn_denoise(buf["color"], buf["albedo"], buf["normal"])
    sec = time_interleaved(calls, rounds, repeat)
    res = {
        "meta": {
            "models": dict(zip(labels, models)),
            "size": size,
            "lambda": LAM,
            "torch_threads": torch.get_num_threads(),
            "torch": torch.__version__,
            "precision": default.precision,
            "native_bf16": native_bf16(),
            "repeat": repeat,
            "rounds": rounds,
        },
        "seconds": sec,
        **ratios(sec, labels),
    }
    write_json(Path(out) / "lambda_speed.json", res, ensure_ascii=False)
    plot(sec, Path(out) / "lambda_speed.png")
    for k, s in sec.items():
        print(f"{k:40s} {s * 1e3:7.1f} ms")
    for m in labels:
        print(
            f"{m}: a λ change is {res['lambda_change_speedup_vs_full'][m]:.2f}× faster than its full denoise, "
            f"{res['lambda_change_vs_default_full'][m]:.2f}× the default model's full denoise"
        )
    return res


def plot(sec: dict[str, float], path: Path) -> None:
    """Milliseconds per call as bars: full denoise blue, λ change orange, yardsticks grey."""
    plt = pyplot()
    names = list(sec)
    fig, ax = plt.subplots(figsize=(7, 0.45 * len(names) + 1))
    colours = [
        "tab:orange" if "λ change" in n else "tab:grey" if n in ("default", "oidn") else "tab:blue" for n in names
    ]
    ax.barh(names, [sec[n] * 1e3 for n in names], color=colours)
    ax.invert_yaxis()
    ax.set_xlabel("ms per frame (median)")
    ax.set_title("full denoise (blue), λ change (orange), yardsticks (grey)")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
