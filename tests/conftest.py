import os

import pytest
import torch

# CI has two cores: keep each test process on few threads so the suite's timings are stable.
torch.set_num_threads(min(2, os.cpu_count() or 1))


@pytest.fixture
def rng():
    import numpy as np

    return np.random.default_rng(0)


@pytest.fixture(scope="session")
def tiny_dataset(tmp_path_factory):
    """A real Mitsuba dataset, small enough for CI: 3 train + 2 valid scenes at 32², 4 spp, ref 64."""
    from neurecon.render.dataset import RenderJob, run

    root = tmp_path_factory.mktemp("tinyds")
    run(RenderJob(out=str(root), split="train", scenes=3, size=32, spp=[4], ref_spp=64), progress=False)
    run(RenderJob(out=str(root), split="valid", scenes=2, size=32, spp=[4], ref_spp=64), progress=False)
    return root


def tiny_config(root, out, iterations=6, **model):
    return {
        "task": {
            "name": "denoise",
            "data": {"root": str(root), "spp": [4], "patch": 16, "batch": 2, "valid_limit": 2},
            "model": {"width": 8, "blocks": 1, "kernel": 5, **model},
        },
        "optim": {"lr": 1e-3},
        "run": {"out": str(out), "iterations": iterations, "val_every": 3, "ckpt_every": 3, "log_every": 1, "seed": 3},
    }
