"""Recipes: `render:` names the data, `stages:` trains a multi-stage model from one file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from neurecon.cli import main
from neurecon.train.config import load_config, load_stages, render_jobs

CONFIGS = Path(__file__).resolve().parents[1] / "configs"

STAGED = {
    "render": [{"out": "d", "split": "train", "scenes": 2, "size": 16, "spp": [4], "ref_spp": 8}],
    "task": {"name": "denoise", "data": {"root": "d", "spp": [4]}, "model": {"arch": "unet", "kernel": 3}},
    "optim": {"lr": 1e-3},
    "run": {"out": "runs/x", "iterations": 10},
    "stages": [
        {"name": "one"},
        {
            "name": "two",
            "optim": {"lr": 1e-4},
            "run": {"iterations": 20},
            "render": [{"out": "d", "split": "train", "seed": 2, "scenes": 2, "size": 16, "spp": [4], "ref_spp": 8}],
        },
        {"name": "three", "task": {"init": "balanced", "model": {"kernel": 5}}},
    ],
}


def test_stages_merge_in_order_and_chain_their_weights():
    (n1, c1), (n2, c2), (n3, c3) = load_stages(STAGED)
    assert (n1, n2, n3) == ("one", "two", "three")
    assert [c.run.out for c in (c1, c2, c3)] == ["runs/x/one", "runs/x/two", "runs/x/three"]
    assert "init" not in c1.task and c2.task["init"] == "runs/x/one/best.pt"
    assert c3.task["init"] == "balanced"  # a stage naming its own init keeps it
    assert (c1.optim.lr, c2.optim.lr, c3.optim.lr) == (1e-3, 1e-4, 1e-4)  # later stages inherit
    assert (c1.run.iterations, c3.run.iterations) == (10, 20)
    assert c3.task["model"] == {"arch": "unet", "kernel": 5}
    assert len(c2.render) == 2 and len(render_jobs(STAGED)) == 2
    assert load_config(STAGED).run.out == "runs/x/three"  # the recipe's model is its last stage


def test_stage_names_must_be_unique_and_sections_known():
    with pytest.raises(ValueError, match="unique name"):
        load_stages({**STAGED, "stages": [{"name": "a"}, {"name": "a"}]})
    with pytest.raises(ValueError, match="unknown key"):
        load_stages({**STAGED, "stages": [{"name": "a", "optimizer": {}}]})
    with pytest.raises(ValueError, match="render"):
        load_stages({**STAGED, "render": [{"split": "train", "scenez": 3}]})


def test_set_values_are_type_checked():
    with pytest.raises(ValueError, match="must be an integer"):
        load_config(STAGED, ["run.iterations=abc"])
    with pytest.raises(ValueError, match="true or false"):
        load_config(STAGED, ["run.tensorboard=3"])
    assert load_config(STAGED, ["run.iterations=7"]).run.iterations == 7


def test_render_recipe_renders_what_the_recipe_names(tmp_path, capsys):
    recipe = {
        "render": [{"out": str(tmp_path / "d"), "split": "valid", "scenes": 1, "size": 16, "spp": [2], "ref_spp": 4}],
        "task": {"name": "denoise"},
    }
    (tmp_path / "r.yaml").write_text(yaml.safe_dump(recipe))
    assert main(["render", "--recipe", str(tmp_path / "r.yaml"), "--quiet"]) == 0
    meta = json.loads((tmp_path / "d" / "valid" / "metadata.json").read_text())
    assert (meta["size"], meta["spp"], meta["ref_spp"], meta["seed_range"]) == (16, [2], 4, [100000, 100001])
    assert (tmp_path / "d" / "valid" / "scene100000_ref.hdr.exr").exists()
    (tmp_path / "n.yaml").write_text("task: {name: denoise}\n")
    assert main(["render", "--recipe", str(tmp_path / "n.yaml")]) == 2
    assert "names no render jobs" in capsys.readouterr().err


@pytest.mark.parametrize(
    "recipe", sorted(p.relative_to(CONFIGS).as_posix() for p in CONFIGS.glob("*/*.yaml") if p.parent.name != "history")
)
def test_shipped_recipes_are_self_contained(recipe):
    raw = yaml.safe_load((CONFIGS / recipe).read_text())
    assert "base" not in raw, "a shipped recipe does not inherit from another file"
    stages = load_stages(CONFIGS / recipe)
    for _, cfg in stages:
        init = str(cfg.task.get("init") or "")
        assert not init.startswith("runs/") or any(init.startswith(c.run.out + "/") for _, c in stages), init
        assert cfg.card.get("config") == f"configs/{recipe}"
    if stages[-1][1].task.get("name", "").startswith("denoise"):
        assert render_jobs(CONFIGS / recipe), "a denoising recipe names the renders of its data"


def test_a_stage_stopped_by_its_time_limit_holds_back_the_next(tiny_dataset, tmp_path):
    from conftest import tiny_config

    from neurecon.train.run import train_from_config

    cfg = tiny_config(tiny_dataset, tmp_path / "staged", iterations=4)
    cfg["stages"] = [{"name": "a", "run": {"max_minutes": 1e-9}}, {"name": "b", "run": {"max_minutes": 0.0}}]
    trainer = train_from_config(cfg, progress=False)
    assert trainer.step < 4 and trainer.out == tmp_path / "staged" / "a"
    assert not (tmp_path / "staged" / "b").exists()
    cfg["stages"][0]["run"]["max_minutes"] = 0.0  # the same command without the limit: a finishes, then b
    trainer = train_from_config(cfg, progress=False)
    assert trainer.out == tmp_path / "staged" / "b" and trainer.step == 4
    assert (tmp_path / "staged" / "a" / "best.pt").exists()


def test_stop_at_cuts_a_run_short_of_its_schedule(tiny_dataset, tmp_path):
    from conftest import tiny_config

    from neurecon.train.run import stage_finished, train_from_config

    cfg = tiny_config(tiny_dataset, tmp_path / "cut", iterations=8)
    cfg["optim"].update(schedule="cosine")
    cfg["run"]["stop_at"] = 3
    trainer = train_from_config(cfg, progress=False)
    assert trainer.step == 3 and stage_finished(load_config(cfg))
    lr = [r["lr"] for r in map(json.loads, (tmp_path / "cut" / "metrics.jsonl").read_text().splitlines()) if "lr" in r]
    assert lr[-1] > 1e-3 * 0.5  # still early in the 8-step cosine, not its end
    assert train_from_config(cfg, progress=False).step == 3  # resuming a finished cut run trains nothing


def test_metadata_describes_every_scene_of_a_split_not_the_last_job(tmp_path):
    from neurecon.render.dataset import RenderJob, run
    from neurecon.tasks.denoise.task import describe_data

    run(RenderJob(out=str(tmp_path), split="train", scenes=1, size=16, spp=[2], ref_spp=4), progress=False)
    meta_path = tmp_path / "train" / "metadata.json"
    run(RenderJob(out=str(tmp_path), split="train", scenes=1, size=16, spp=[2], ref_spp=8), progress=False)
    assert json.loads(meta_path.read_text())["ref_spp"] == 4  # a job over finished scenes changes nothing
    run(RenderJob(out=str(tmp_path), split="train", seed=1, scenes=1, size=16, spp=[2], ref_spp=8), progress=False)
    meta = json.loads(meta_path.read_text())
    assert meta["ref_spp"] == [4, 8] and meta["seed_range"] == [0, 2]
    assert [(r["seed"], r["ref_spp"]) for r in meta["scenes"]] == [(0, 4), (1, 8)]
    task = {"data": {"root": str(tmp_path), "train_seeds": [1, 2], "valid": "none"}}
    assert describe_data(task)["train"]["ref_spp"] == 8  # the card describes the scenes training read
