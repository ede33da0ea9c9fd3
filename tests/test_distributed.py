"""Two-rank DDP training over gloo, launched with torchrun as a user would."""

import json
import subprocess
import sys

import pytest
import yaml
from conftest import tiny_config

from neurecon.io.torchfile import read_torch_file


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_two_rank_ddp_training_with_two_sources(tiny_dataset, tmp_path, precision):
    cfg = tiny_config(
        tiny_dataset,
        tmp_path / "ddp",
        iterations=4,
        sources={
            "mitsuba": ["color", "color_var", "albedo", "albedo_var", "normal", "normal_var"],
            "oidn": ["color", "albedo", "normal"],
        },
    )
    cfg["task"]["data"]["source"] = ["mitsuba", "oidn"]
    cfg["run"]["precision"] = precision
    path = tmp_path / "ddp.yaml"
    path.write_text(yaml.safe_dump(cfg))
    p = subprocess.run(
        [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--nproc_per_node=2",
            "--master_port=29533",
            "-m",
            "neurecon",
            "train",
            str(path),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        env={**__import__("os").environ, "OMP_NUM_THREADS": "1"},
    )
    assert p.returncode == 0, p.stderr[-2000:]
    ck = read_torch_file(tmp_path / "ddp" / "last.pt")  # a trainer checkpoint loads without running code
    assert ck["world"] == 2 and ck["step"] == 4
    hist = [json.loads(l) for l in (tmp_path / "ddp" / "metrics.jsonl").read_text().splitlines()]
    assert any("val_oidn_loss" in h for h in hist)  # both sources validated
