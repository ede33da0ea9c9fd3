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

import argparse
import json
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from inference import frame, time_interleaved  # noqa: E402  (bench/inference.py)
from neurecon.denoise import Denoiser  # noqa: E402

from neurecon import peers  # noqa: E402
from neurecon.nn.precision import native_bf16  # noqa: E402

LAM = 3.0


def plot(sec: dict[str, float], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

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


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", nargs="+", default=["lambda"], help="λ models: shipped names or .pt paths")
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--precision", default="auto")
    ap.add_argument("--out", default="bench/results/lambda_speed")
    a = ap.parse_args(argv)
    buf = frame(a.size)
    calls, labels = {}, []
    for m in a.models:
        den = Denoiser.load(m, precision=a.precision)
        sess = den.session(buf)
        label = Path(m).parent.name if m.endswith(".pt") else m  # runs/<name>/best.pt -> <name>
        if not label or label in labels:  # a bare file, or two checkpoints of one run
            label = m
        labels.append(label)
        calls[f"{label}: full"] = lambda d=den: d.denoise_buffers(buf, lam=LAM)
        calls[f"{label}: λ change"] = lambda s=sess: s.denoise(LAM)
    default = Denoiser.load(None, precision=a.precision)
    calls["default"] = lambda: default.denoise_buffers(buf)
    if peers.available():
        peers.warm_up()
        calls["oidn"] = lambda: peers.oidn_denoise(buf["color"], buf["albedo"], buf["normal"])
    sec = time_interleaved(calls, a.rounds, a.repeat)
    res = {
        "meta": {
            "models": dict(zip(labels, a.models)),
            "size": a.size,
            "lambda": LAM,
            "torch_threads": torch.get_num_threads(),
            "torch": torch.__version__,
            "precision": default.precision,
            "native_bf16": native_bf16(),
            "repeat": a.repeat,
            "rounds": a.rounds,
        },
        "seconds": sec,
        "lambda_change_speedup_vs_full": {m: sec[f"{m}: full"] / sec[f"{m}: λ change"] for m in labels},
        "lambda_change_vs_default_full": {m: sec[f"{m}: λ change"] / sec["default"] for m in labels},
    }
    if "oidn" in sec:
        res["lambda_change_vs_oidn"] = {m: sec[f"{m}: λ change"] / sec["oidn"] for m in labels}
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "lambda_speed.json").write_text(json.dumps(res, indent=1, ensure_ascii=False))
    plot(sec, out / "lambda_speed.png")
    for k, s in sec.items():
        print(f"{k:40s} {s * 1e3:7.1f} ms")
    for m in labels:
        print(
            f"{m}: a λ change is {res['lambda_change_speedup_vs_full'][m]:.2f}× faster than its full denoise, "
            f"{res['lambda_change_vs_default_full'][m]:.2f}× the default model's full denoise"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
