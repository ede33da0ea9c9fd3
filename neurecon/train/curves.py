"""Training-curve PNG from the metrics history (training loss and every validation metric)."""

from __future__ import annotations

from pathlib import Path


def plot_history(history: list[dict], path: Path, monitor: str = "loss") -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    train = [(h["step"], h["loss"]) for h in history if "loss" in h]
    val_keys = sorted({k for h in history for k in h if k.startswith("val_")})
    fig, axes = plt.subplots(1, 1 + len(val_keys), figsize=(4 * (1 + len(val_keys)), 3.2), squeeze=False)
    ax = axes[0, 0]
    if train:
        ax.plot(*zip(*train), lw=1)
    # log scale for losses, linear where a loss can be ≤ 0 (an actor's −Q, a zero step while a buffer fills)
    ax.set(
        title="training loss", xlabel="iteration", yscale="log" if train and min(v for _, v in train) > 0 else "linear"
    )
    for ax, k in zip(axes[0, 1:], val_keys):
        pts = [(h["step"], h[k]) for h in history if k in h]
        ax.plot(*zip(*pts), "o-", ms=3, color="C1" if k == f"val_{monitor}" else "C2")
        ax.set(title=k, xlabel="iteration")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
