import json
from pathlib import Path

import pytest
import torch
from conftest import tiny_config

from neurecon.io.torchfile import read_torch_file
from neurecon.train.config import load_config
from neurecon.train.run import train_from_config


def test_tiny_training_lowers_validation_loss(tiny_dataset, tmp_path):
    cfg = tiny_config(tiny_dataset, tmp_path / "run", iterations=40)
    cfg["run"].update(val_every=40, ckpt_every=40)
    tr = train_from_config(cfg, overrides=["optim.lr=3e-3"], progress=False)
    with torch.no_grad():
        first = tr.task.validate(type(tr.model)(tr.model.config).eval())  # untrained, same architecture
    hist = [json.loads(l) for l in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    final = [h for h in hist if "val_loss" in h][-1]["val_loss"]
    assert final < first["loss"]
    assert (tmp_path / "run" / "best.pt").exists() and (tmp_path / "run" / "curves.png").exists()


def test_bf16_training_learns_and_keeps_fp32_weights(tiny_dataset, tmp_path):
    cfg = tiny_config(tiny_dataset, tmp_path / "run", iterations=40)
    cfg["run"].update(val_every=40, ckpt_every=40, precision="bf16")
    tr = train_from_config(cfg, overrides=["optim.lr=3e-3"], progress=False)
    with torch.no_grad():
        first = tr.task.validate(type(tr.model)(tr.model.config).eval())
        assert tr.task.validate(tr.model.eval())["loss"] < first["loss"]
    assert all(p.dtype == torch.float32 for p in tr.model.parameters())
    cfg["run"]["precision"] = "fp16"
    with pytest.raises(ValueError, match="run.precision"):
        train_from_config(cfg, progress=False)


def test_resume_gives_same_next_step_weights(tiny_dataset, tmp_path):
    straight = train_from_config(tiny_config(tiny_dataset, tmp_path / "a", iterations=6), progress=False)
    cfg = tiny_config(tiny_dataset, tmp_path / "b", iterations=6)
    cfg["run"]["iterations"] = 3
    train_from_config(cfg, progress=False)  # stops with a checkpoint at step 3
    cfg["run"]["iterations"] = 6
    resumed = train_from_config(cfg, progress=False)
    assert resumed.step == 6
    for (k, a), b in zip(straight.model.state_dict().items(), resumed.model.state_dict().values()):
        torch.testing.assert_close(a, b, msg=k)


def test_weight_ema_is_the_exponential_average_of_the_weights():
    from neurecon.train.trainer import WeightEMA

    net = torch.nn.Linear(2, 1)
    ema = WeightEMA(net, 0.9)
    w0 = net.weight.detach().clone()
    expect = w0.clone()
    for k in range(1, 4):
        with torch.no_grad():
            net.weight.add_(float(k))
        ema.update(net)
        expect = 0.9 * expect + 0.1 * net.weight.detach()
    torch.testing.assert_close(ema.model.weight, expect)
    assert not torch.equal(ema.model.weight, net.weight) and not ema.model.weight.requires_grad
    with pytest.raises(ValueError, match="optim.ema"):
        WeightEMA(net, 1.0)


def test_ema_run_validates_and_keeps_the_average_and_resumes_it_exactly(tiny_dataset, tmp_path):
    def run(out, iterations, stop=None):
        cfg = tiny_config(tiny_dataset, out, iterations=iterations)
        cfg["run"].update(val_every=iterations, ckpt_every=100)
        cfg["optim"] = {**cfg.get("optim", {}), "ema": 0.5, "lr": 3e-3}
        if stop:
            cfg["run"]["iterations"] = stop
            train_from_config(cfg, progress=False)
            cfg["run"]["iterations"] = iterations
        return train_from_config(cfg, progress=False)

    straight = run(tmp_path / "a", 6)
    best = read_torch_file(tmp_path / "a" / "best.pt")["model"]
    ema, raw = straight.ema.model.state_dict(), straight.model.state_dict()
    assert any(not torch.equal(ema[k], raw[k]) for k in raw)  # the average is not the last step
    for k, v in best.items():
        torch.testing.assert_close(v, ema[k], msg=k)  # best.pt holds the average
    logged = [json.loads(l) for l in (tmp_path / "a" / "metrics.jsonl").read_text().splitlines() if "val_loss" in l][-1]
    with torch.no_grad():
        assert logged["val_loss"] == pytest.approx(straight.task.validate(straight.ema.model)["loss"], rel=1e-6)
    resumed = run(tmp_path / "b", 6, stop=3)
    for k, v in resumed.ema.model.state_dict().items():
        torch.testing.assert_close(v, ema[k], msg=k)


def test_config_errors_are_clear(tmp_path):
    with pytest.raises(ValueError, match="unknown key"):
        load_config({"run": {"iterationz": 3}})
    with pytest.raises(ValueError, match="section"):
        load_config({"trainer": {}})
    cfg = load_config({"optim": {"lr": "1e-4"}}, ["run.iterations=7"])
    assert cfg.optim.lr == 1e-4 and cfg.run.iterations == 7


def test_a_config_base_is_merged_under_the_child(tmp_path):
    (tmp_path / "stage1.yaml").write_text(
        "task: {name: denoise, init: null, model: {arch: unet, widths: [4, 6, 8, 8], kernel: 5}}\n"
        "optim: {lr: 2.0e-4, warmup: 200}\nrun: {out: runs/s1, iterations: 100}\n"
    )
    (tmp_path / "stages").mkdir()
    (tmp_path / "stages" / "stage2.yaml").write_text(
        "base: ../stage1.yaml\ntask: {init: runs/s1/best.pt, model: {albedo_ratio: true}}\n"
        "optim: {lr: 1.0e-4}\nrun: {out: runs/s2}\n"
    )
    cfg = load_config(tmp_path / "stages" / "stage2.yaml", ["run.iterations=7"])
    assert cfg.task["model"] == {"arch": "unet", "widths": [4, 6, 8, 8], "kernel": 5, "albedo_ratio": True}
    assert cfg.task["init"] == "runs/s1/best.pt" and cfg.task["name"] == "denoise"
    assert (cfg.optim.lr, cfg.optim.warmup) == (1e-4, 200)
    assert (cfg.run.out, cfg.run.iterations) == ("runs/s2", 7)
    (tmp_path / "stage3.yaml").write_text("base: stages/stage2.yaml\ntask: {init: null}\noptim: {warmup: null}\n")
    cfg = load_config(tmp_path / "stage3.yaml")  # two levels of bases; null removes a key
    assert "init" not in cfg.task and cfg.optim.warmup == 0 and cfg.optim.lr == 1e-4
    assert cfg.task["model"]["albedo_ratio"] and cfg.run.out == "runs/s2"


def test_config_base_errors_name_the_file(tmp_path):
    (tmp_path / "a.yaml").write_text("base: b.yaml\n")
    (tmp_path / "b.yaml").write_text("base: a.yaml\n")
    with pytest.raises(ValueError, match="cycle"):
        load_config(tmp_path / "a.yaml")
    (tmp_path / "c.yaml").write_text("base: missing.yaml\n")
    with pytest.raises(FileNotFoundError, match="missing.yaml.*base of"):
        load_config(tmp_path / "c.yaml")


def test_history_stage_configs_resolve_their_bases():
    configs = Path(__file__).parents[1] / "configs" / "history"  # the stage chains as they were trained
    cfg = load_config(configs / "denoise_high_ft3.yaml")
    assert cfg.task["model"]["albedo_ratio"] and cfg.task["model"]["widths"] == [32, 48, 64, 96, 128]
    assert cfg.task["init"] == "runs/denoise_high_ft2/best.pt" and cfg.run.precision == "bf16"
    cfg = load_config(configs / "denoise_high_ft4.yaml")  # ft4 → ft3 → ft2
    assert cfg.task["init"] == "runs/denoise_high_ft3/best.pt" and cfg.task["model"]["albedo_ratio"]
    assert cfg.task["data"]["train_seeds"] == [200, 1541] and cfg.task["data"]["patch"] == 128
    assert (cfg.optim.lr, cfg.run.out) == (1e-4, "runs/denoise_high_ft4")


def test_lambda_specialiser_trains_on_a_frozen_backbone(tiny_dataset, tmp_path):
    train_from_config(tiny_config(tiny_dataset, tmp_path / "base", iterations=3), progress=False)
    cfg = tiny_config(tiny_dataset, tmp_path / "lam", iterations=3)
    cfg["task"] = {
        "name": "denoise_lambda",
        "backbone": str(tmp_path / "base" / "best.pt"),
        "blocks": 1,
        "data": cfg["task"]["data"],
    }
    tr = train_from_config(cfg, progress=False)
    before = dict(read_torch_file(tmp_path / "base" / "best.pt")["model"])
    after = tr.model.backbone.state_dict()
    for k, v in before.items():
        torch.testing.assert_close(after[k], v, msg=k)  # frozen
    trainable = [n for n, p in tr.model.named_parameters() if p.requires_grad]
    assert trainable and all(
        n.startswith("specialiser") for n in trainable
    )  # gated: the predictor stays the backbone's
    val = [json.loads(l) for l in (tmp_path / "lam" / "metrics.jsonl").read_text().splitlines() if "val_loss" in l][-1]
    assert val["val_loss_lambda10"] > val["val_loss_lambda1"]  # a stricter loss scores higher


def test_init_fine_tunes_a_trained_model_and_rejects_another_architecture(tiny_dataset, tmp_path):
    train_from_config(tiny_config(tiny_dataset, tmp_path / "base", iterations=3), progress=False)
    base = torch.load(tmp_path / "base" / "best.pt", weights_only=False)["model"]
    cfg = tiny_config(tiny_dataset, tmp_path / "ft", iterations=1)
    cfg["task"]["init"] = str(tmp_path / "base" / "best.pt")
    tr = train_from_config(cfg, overrides=["optim.lr=0.0"], progress=False)  # lr 0: weights stay the init
    for k, v in base.items():
        torch.testing.assert_close(tr.model.state_dict()[k], v.float(), msg=k)
    demod = tiny_config(tiny_dataset, tmp_path / "demod", iterations=1, demodulate=True)
    demod["task"]["init"] = str(tmp_path / "base" / "best.pt")  # same parameters, new spec: fine-tunes
    tr = train_from_config(demod, overrides=["optim.lr=0.0"], progress=False)
    assert tr.model.config.demodulate
    torch.testing.assert_close(
        tr.model.state_dict()["predictor.logits.weight"], base["predictor.logits.weight"].float()
    )
    other = tiny_config(tiny_dataset, tmp_path / "bad", iterations=1, width=4)
    other["task"]["init"] = str(tmp_path / "base" / "best.pt")
    with pytest.raises(ValueError, match="task.init"):
        train_from_config(other, progress=False)


def test_several_train_dirs_and_a_seed_range_select_exact_scenes(tiny_dataset, tmp_path):
    """`train` may list directories (e.g. 128² and 256² renders); `train_seeds` keeps only the
    scenes rendered with those seeds, and the model card counts what training read."""
    from neurecon.models.card import run_summary

    cfg = tiny_config(tiny_dataset, tmp_path / "multi", iterations=1)
    cfg["task"]["data"].update(train=["train", "valid"], train_seeds=[1, 100001])
    tr = train_from_config(cfg, progress=False)
    assert sorted(f.name for f in tr.task.train_frames) == ["scene000001", "scene000002", "scene100000"]
    data = run_summary(tmp_path / "multi")["data"]
    assert data["train train"]["scenes"] == 2 and data["train train"]["seed_range"] == [1, 3]
    assert data["train valid"]["scenes"] == 1 and data["valid"]["scenes"] == 2
    cfg["task"]["data"]["train_seeds"] = [50, 60]
    with pytest.raises(FileNotFoundError, match="seeds"):
        train_from_config(cfg, progress=False)


def test_rescore_replaces_a_shipped_cards_benchmark_rows(tmp_path):
    from neurecon.models import SHIPPED
    from neurecon.models.card import rescore

    pt = tmp_path / SHIPPED["fast"].file
    torch.save({"spec": {}, "model": {}, "card": {"scores": {"old": 1}}}, pt)
    pt.with_suffix(".md").write_text('# fast\n\n## Benchmark scores\n\n```json\n{"old": 1}\n```\n\n## Config\n\nx\n')
    row = {"method": "neurecon:fast", "spp": 4, "relmse": 0.5}
    bench = {
        "summary": {"neurecon:fast@4": row, "neurecon:high@4": {**row, "method": "neurecon:high"}},
        "ratios_vs_oidn": {"neurecon:fast@4": {"relmse": 1.5}, "neurecon:high@4": {"relmse": 1.1}},
    }
    rescore(pt, bench)
    card = torch.load(pt, weights_only=False)["card"]
    assert list(card["scores"]["summary"]) == ["neurecon:fast@4"] and "old" not in card["scores"]
    md = pt.with_suffix(".md").read_text()
    assert md.count("## Benchmark scores") == 1 and '"old"' not in md and md.endswith("## Config\n\nx\n")
    rescore(pt, {"summary": {}, "ratios_vs_oidn": {}})  # a benchmark without this model drops the rows
    assert "## Benchmark scores" not in pt.with_suffix(".md").read_text()


def test_rescore_keeps_the_lambda_benches_that_ran_this_model(tmp_path):
    from neurecon.models import SHIPPED
    from neurecon.models.card import rescore

    pt = tmp_path / SHIPPED["lambda"].file
    torch.save({"spec": {}, "model": {}, "card": {"scores": {}}}, pt)
    pt.with_suffix(".md").write_text("# lambda\n\n## Config\n\nx\n")
    cell = {"noise_flat": 1e-4, "detail_kept": 0.712345, "p999": 0.15, "blend_p999": 0.14, "mse": 3e-4}
    study = {"model": "lambda", "summary": {"4": {"2.0": cell}}, "checks": {"4": {}}, "speed": {"x": 1.7}}
    noise = {
        "model": "runs/other/best.pt",
        "verdict": {"fig18_claim_holds": False},
        "summary": {"4": {"2.0": {"kurtosis": 3.0, "blend_kurtosis": 4.5}}},
    }
    denoise = {"summary": {}, "ratios_vs_oidn": {"neurecon:high@4": {"relmse": 0.8}}}
    rescore(pt, study, noise, denoise)
    scores = torch.load(pt, weights_only=False)["card"]["scores"]
    assert list(scores) == ["asymmetric"]  # the noise bench ran other weights, denoise.py another model
    assert scores["asymmetric"]["summary"]["4"]["2.0"] == {k: v for k, v in cell.items() if k != "mse"}
    assert scores["asymmetric"]["speed"] == {"x": 1.7}
    assert '"detail_kept": 0.7123,' in pt.with_suffix(".md").read_text()  # rounded for reading, whole in the .pt
    rescore(pt, {**noise, "model": "high_lambda"})  # another shipped name of the same file counts
    assert list(torch.load(pt, weights_only=False)["card"]["scores"]) == ["asymmetric_noise"]
    # a bench that recorded the weights it ran counts only for those weights
    from neurecon.models import weights_digest

    rescore(
        pt,
        {**study, "weights_digest": "0123456789abcdef"},
        {**noise, "model": "lambda", "weights_digest": weights_digest({})},
    )
    assert list(torch.load(pt, weights_only=False)["card"]["scores"]) == ["asymmetric_noise"]


def test_turning_the_weight_average_on_mid_run_starts_it_from_the_weights_and_rescores(tiny_dataset, tmp_path, capsys):
    cfg = tiny_config(tiny_dataset, tmp_path / "run", iterations=3)
    plain = train_from_config(cfg, progress=False)  # no average; last.pt at step 3
    cfg["run"]["iterations"], cfg["optim"] = 4, {**cfg["optim"], "ema": 0.5}
    resumed = train_from_config(cfg, progress=False)
    assert "optim.ema changed" in capsys.readouterr().out
    assert (
        torch.load(tmp_path / "run" / "best.pt", weights_only=False)["step"] == 4
    )  # rescored, not compared with raw weights
    w3 = plain.model.state_dict()
    for k, v in resumed.ema.model.state_dict().items():  # one update from the step-3 weights
        torch.testing.assert_close(v, 0.5 * w3[k] + 0.5 * resumed.model.state_dict()[k], msg=k)


def test_a_training_set_that_does_not_fit_in_ram_is_refused_before_loading(tiny_dataset, monkeypatch):
    """The check's estimate is the RAM the frames really take: a budget just above what the three
    scenes need loads them, just below raises MemoryError (before swapping, naming the fix)."""
    import neurecon.tasks.denoise.data as data

    buffers = ["color", "color_var", "albedo", "normal"]
    frames = data.load_frames(tiny_dataset / "train", [4], buffers)
    assert len({f.name for f in frames}) == 3
    held = sum(data._frame_bytes(f) + f.reference.nbytes for f in frames)  # one spp level: one frame per scene
    rest = held * 2 / 3  # what is still to load after the first scene, for one process
    monkeypatch.setattr(data, "available_memory", lambda: int(rest / data.RAM_HEADROOM) + 64)
    assert len(data.load_frames(tiny_dataset / "train", [4], buffers)) == 3
    with pytest.raises(MemoryError, match="train_seeds"):
        data.load_frames(tiny_dataset / "train", [4], buffers, copies=2)  # two ranks need twice that
    monkeypatch.setattr(data, "available_memory", lambda: int(rest / data.RAM_HEADROOM) - 64)
    with pytest.raises(MemoryError, match="3 scenes"):
        data.load_frames(tiny_dataset / "train", [4], buffers)


def test_weights_digest_follows_the_values_not_the_file():
    from neurecon.models import weights_digest

    state = {"conv.weight": torch.arange(6.0).view(2, 3).half(), "conv.bias": torch.zeros(2).half()}
    same = {k: v.clone() for k, v in reversed(list(state.items()))}
    assert weights_digest(state) == weights_digest(same)
    changed = {**state, "conv.bias": torch.tensor([0.0, 2**-14]).half()}
    assert weights_digest(changed) != weights_digest(state)
    assert weights_digest({k: v.float() for k, v in state.items()}) != weights_digest(state)  # dtype counts
