"""Joint training on several renderers (§3.2): `task.data.source` maps each train/valid dir to a
source; steps take the dirs in turn, each through its own source's encoder, one shared back-end."""

from __future__ import annotations

import shutil

import pytest
import torch
from conftest import tiny_config

from neurecon.train.run import train_from_config


@pytest.fixture(scope="module")
def two_renderers(tiny_dataset, tmp_path_factory):
    """The tiny Mitsuba set laid out as two renderers' dirs (the second one's files are copies:
    what is tested is which encoder each dir's frames go through, not the pixels)."""
    root = tmp_path_factory.mktemp("two")
    for r in ("a", "b"):
        for split in ("train", "valid"):
            shutil.copytree(tiny_dataset / split, root / r / split)
    return root


def joint_config(root, out, source, iterations=6):
    cfg = tiny_config(root, out, iterations=iterations)
    cfg["task"]["model"] = {"arch": "unet", "widths": [8, 8, 12, 12]}
    cfg["task"]["data"].update(train=["a/train", "b/train"], valid=["a/valid", "b/valid"], source=source)
    return cfg


def test_joint_training_alternates_dirs_and_validates_each(two_renderers, tmp_path):
    src = {"a/train": "oidn", "a/valid": "oidn", "b/train": "cycles", "b/valid": "cycles"}
    tr = train_from_config(joint_config(two_renderers, tmp_path / "r", src), progress=False)
    assert set(tr.model.config.sources) == {"oidn", "cycles"}
    assert tr.task._turn == 6 and [s for s, _ in tr.task.samplers] == ["oidn", "cycles"]
    with torch.no_grad():
        logs = tr.task.validate(tr.model)
    assert {"a_valid_dssim", "b_valid_dssim", "dssim"} <= set(logs)
    # the overall mean is the mean of the two dirs' (same number of frames each)
    assert logs["dssim"] == pytest.approx((logs["a_valid_dssim"] + logs["b_valid_dssim"]) / 2)


def test_a_batch_of_one_dir_moves_only_its_encoder(two_renderers, tmp_path):
    from neurecon.tasks.denoise.task import DenoiseTask
    from neurecon.train.config import load_config

    cfg = load_config(
        joint_config(
            two_renderers,
            tmp_path / "r",
            {"a/train": "oidn", "b/train": "cycles", "a/valid": "oidn", "b/valid": "cycles"},
        )
    )
    task = DenoiseTask(cfg)
    model = task.build_model()
    for expected in ("oidn", "cycles", "oidn"):
        batch = task.next_batch()
        model.zero_grad(set_to_none=True)
        loss, _ = task.training_step(model, batch, 0, 1)
        loss.backward()
        grads = {n for n, p in model.named_parameters() if p.grad is not None and p.grad.abs().sum() > 0}
        assert any(n.startswith(f"encoders.{expected}.") for n in grads)
        other = "cycles" if expected == "oidn" else "oidn"
        assert not any(n.startswith(f"encoders.{other}.") for n in grads)
        assert any(not n.startswith("encoders.") for n in grads)  # the shared back-end learns from both


def test_one_shared_encoder_reads_both_dirs(two_renderers, tmp_path):
    src = {"a/train": "oidn", "b/train": "oidn", "a/valid": "oidn", "b/valid": "oidn"}
    tr = train_from_config(joint_config(two_renderers, tmp_path / "r", src, iterations=4), progress=False)
    assert list(tr.model.config.sources) == ["oidn"] and len(tr.task.samplers) == 2


def test_resume_keeps_both_samplers_and_the_turn(two_renderers, tmp_path):
    src = {"a/train": "oidn", "b/train": "cycles", "a/valid": "oidn", "b/valid": "cycles"}
    straight = train_from_config(joint_config(two_renderers, tmp_path / "a", src), progress=False)
    cfg = joint_config(two_renderers, tmp_path / "b", src)
    cfg["run"]["iterations"] = 3
    train_from_config(cfg, progress=False)
    cfg["run"]["iterations"] = 6
    resumed = train_from_config(cfg, progress=False)
    for (k, a), b in zip(straight.model.state_dict().items(), resumed.model.state_dict().values()):
        torch.testing.assert_close(a, b, msg=k)


def test_a_dir_without_a_source_is_named(two_renderers, tmp_path):
    from neurecon.tasks.denoise.task import DenoiseTask
    from neurecon.train.config import load_config

    cfg = load_config(joint_config(two_renderers, tmp_path / "r", {"a/train": "oidn", "b/train": "cycles"}))
    with pytest.raises(ValueError, match="no source for a/valid, b/valid"):
        DenoiseTask(cfg)
    cfg = load_config(tiny_config(two_renderers, tmp_path / "s"))
    cfg.task["data"]["valid"] = ["a/valid", "b/valid"]
    with pytest.raises(ValueError, match="mapping dir → source"):
        DenoiseTask(cfg)


@pytest.mark.parametrize(
    "row, sources, dirs",
    [
        ("a_only", ["oidn"], 1),
        ("b_only", ["cycles"], 1),
        ("shared", ["oidn"], 2),
        ("per_source", ["oidn", "cycles"], 2),
    ],
)
def test_table2_rows_train_what_they_say(two_renderers, tmp_path, row, sources, dirs):
    """bench/sources.py --table2: each row's config reads its renderers' dirs through its encoders."""
    from neurecon.studies.sources import table2_config
    from neurecon.tasks.denoise.task import DenoiseTask
    from neurecon.train.config import load_config

    raw = table2_config(row, {"mitsuba": str(two_renderers / "a"), "cycles": str(two_renderers / "b")}, tmp_path)
    raw["task"]["data"].update(spp=[4], patch=16, batch=2)
    task = DenoiseTask(load_config(raw))
    assert task.sources == sources and len(task.samplers) == dirs == len(task.valid_sets)
    assert raw["run"]["out"] == str(tmp_path / "table2" / row)
