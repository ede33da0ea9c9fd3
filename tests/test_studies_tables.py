"""The tables of neurecon.studies' benchmarks on hand-made results: summaries, ratios, targets,
the ECO study's rows and deltas, the speed studies' ratios."""

import json

import pytest

from neurecon.studies import denoise_bench, dssim_gap, eco, inference, kp_vs_dp, lambda_speed, render_speed


def _row(method, spp, relmse, dssim, mpix, scene="s0"):
    return {
        "scene": scene,
        "spp": spp,
        "method": method,
        "relmse": relmse,
        "smape": relmse / 2,
        "dssim": dssim,
        "seconds": 1 / mpix if mpix else 0.0,
        "mpix_per_s": mpix,
    }


def test_denoise_summary_ratios_targets_and_table(tmp_path):
    rows = [
        _row("noisy", 4, 1.0, 0.5, None),
        _row("neurecon:fast", 4, 0.2, 0.1, 4.0),
        _row("neurecon:high", 4, 0.09, 0.04, 1.5),
        _row("neurecon:high", 4, 0.11, 0.06, 0.5, scene="s1"),
        _row("oidn", 4, 0.1, 0.05, 1.0),
        _row("oidn:fast", 4, 0.15, 0.08, 3.0),
    ]
    methods = ["noisy", "neurecon:fast", "neurecon:high", "oidn", "oidn:fast"]
    summary = denoise_bench.summarise(rows, [4], methods)
    assert list(summary) == [f"{m}@4" for m in methods]
    assert summary["neurecon:high@4"]["frames"] == 2 and summary["neurecon:high@4"]["mpix_per_s"] == 1.0
    assert summary["noisy@4"]["mpix_per_s"] is None
    ratios = denoise_bench.ratios_vs_oidn(summary)
    assert list(ratios) == ["neurecon:fast@4", "neurecon:high@4", "oidn:fast@4"]  # OIDN's fast mode too
    assert ratios["neurecon:high@4"]["relmse"] == pytest.approx(1.0) and ratios["neurecon:fast@4"]["throughput"] == 4
    targets = denoise_bench.check_targets(ratios, [4])
    assert targets == {4: {"match_oidn_at_1x": ["high"], "fast_2x": True}}
    assert denoise_bench.check_targets({}, [4]) == {4: {"match_oidn_at_1x": [], "fast_2x": None}}
    table = denoise_bench.markdown_table(summary, ratios, targets)
    assert "| neurecon:high | 4 | 0.1000 | 0.0500 | 0.0500 | 1.333 | 1.000 |" in table
    assert "| noisy | 4 | 1.0000 | 0.5000 | 0.5000 | – | – |" in table
    assert table.endswith("4 spp: presets matching OIDN at ≥ 1× throughput: high; fast ≥ 2× OIDN: True")
    denoise_bench.plot(summary, tmp_path / "d.png")
    assert (tmp_path / "d.png").stat().st_size > 1000


def _curve(offset, steps=range(100, 1001, 100), dip=None):
    return [{"step": s, "psnr_y": 30 + s / 1000 + offset - (0.5 if s == dip else 0.0), "ssim_y": 0.9} for s in steps]


def test_eco_curves_rows_deltas_and_trend(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    lines = [{"step": 50, "loss": 1.0, "elapsed_s": 3.0}, {"step": 100, "val_psnr_y": 30.1, "val_ssim_y": 0.9}]
    (run / "metrics.jsonl").write_text("\n".join(json.dumps(x) for x in lines) + "\n\n")
    assert eco.read_curve(run) == [{"step": 100, "psnr_y": 30.1, "ssim_y": 0.9}]
    assert eco.wall_time(run) == 3.0 and eco.wall_time(tmp_path) is None and eco.read_curve(tmp_path) == []
    assert not eco.finished(run, 100)

    steps = eco.table_steps(list(range(100, 1001, 100)), 1000)
    assert steps == {"early": 100, "quarter": 200, "mid": 500, "final": 1000}  # 250: the earlier of 200 and 300
    curves = {"vanilla": _curve(0.0), "kd": _curve(-0.1), "eco": _curve(0.2, dip=300)}
    table = {r: eco.table_row(curves[r], steps, 1000, None) for r in eco.RECIPES}
    assert table["vanilla"]["psnr_drops_db"] == 0
    assert table["eco"]["psnr_drops_db"] == pytest.approx(0.4)  # 30.4 at step 200, 30.0 at 300
    assert table["eco"]["psnr_drops_first_half_db"] == pytest.approx(0.4)
    assert table["eco"]["final"] == pytest.approx(31.2) and table["eco"]["best"] == pytest.approx(31.2)
    deltas = eco.deltas_vs_vanilla(curves, table, 1000)
    assert deltas["kd"] == {
        "first_quarter_mean": -0.1,
        "second_quarter_mean": -0.1,
        "last_tenth_mean": -0.1,
        "final": -0.1,
    }
    assert eco.paper_trend(deltas) == {
        "eco_ahead_early": True,
        "eco_not_behind_at_end": True,
        "kd_behind_vanilla_at_end": True,
    }
    result = {
        "curves": curves,
        "reference": {"teacher": {"psnr_y": 31.5}, "bicubic": {"psnr_y": 29.0}},
        "setup": {"iterations": 1000, "eco": None, "model": {"preset": "x"}, "scale": 2, "seed": 0, "teacher": "t"},
    }
    eco.plot(result, tmp_path / "eco.png")
    assert (tmp_path / "eco.png").stat().st_size > 1000


def _eco_configs(folder, prefix="sr_", **differ):
    for r in eco.RECIPES:
        teacher = "  teacher: {model: sr_teacher_x2}\n" if r != "vanilla" else ""
        (folder / f"{prefix}{r}_x2.yaml").write_text(
            f"task:\n  name: sr\n  recipe: {r}\n  scale: 2\n  data: {{patch: 48, batch: {differ.get(r, 8)}}}\n"
            f"  model: {{preset: edsr_baseline_xs}}\n{teacher}"
            f"optim: {{name: adam, lr: 1.0e-3}}\nrun: {{out: runs/sr_{r}_x2, iterations: 100, seed: 0}}\n"
        )
    return folder


def test_eco_configs_must_differ_only_in_the_recipe(tmp_path):
    configs = _eco_configs(tmp_path)
    cfgs = eco.load_configs(configs, tmp_path / "runs", [])
    assert {r: str(c[2].run.out) for r, c in cfgs.items()} == {r: str(tmp_path / "runs" / r) for r in eco.RECIPES}
    eco.check_controlled(cfgs)
    eco.check_controlled(eco.load_configs(configs, None, ["optim.lr=0.1"]))  # an override of all three is fair
    changed = eco.load_configs(configs, None, [])
    changed["kd"] = eco.load_configs(configs, None, ["optim.lr=0.1"])["kd"]
    with pytest.raises(SystemExit, match="'kd' differs"):
        eco.check_controlled(changed)
    (tmp_path / "b").mkdir()
    with pytest.raises(SystemExit, match="'eco' differs"):
        eco.check_controlled(eco.load_configs(_eco_configs(tmp_path / "b", prefix="", eco=16), None, []))


def test_eco_finds_the_recipes_in_either_layout(tmp_path):
    (tmp_path / "flat").mkdir(), (tmp_path / "sr").mkdir()
    _eco_configs(tmp_path / "flat"), _eco_configs(tmp_path / "sr", prefix="")
    assert eco.config_path(tmp_path / "flat", "kd") == tmp_path / "flat" / "sr_kd_x2.yaml"
    assert eco.config_path(tmp_path / "sr", "kd") == tmp_path / "sr" / "kd_x2.yaml"
    assert eco.config_path(tmp_path, "kd") == tmp_path / "kd_x2.yaml"  # neither: the error names the new one


def test_kp_vs_dp_tables():
    res = kp_vs_dp.compare_heads({"kp": [(100, 0.5), (200, 0.3)], "dp": [(100, 0.4), (200, 0.35), (300, 0.3)]})
    assert res["kp_below_dp_at"] == {100: False, 200: True} and res["final"] == {"kp": 0.3, "dp": 0.35}
    rows = [
        {"scene": "a", "kp_lowfreq_mse": 2.0, "kp_mse": 3.0, "ms_lowfreq_mse": 1.0, "ms_mse": 3.0},
        {"scene": "b", "kp_lowfreq_mse": 1.0, "kp_mse": 2.0, "ms_lowfreq_mse": 2.0, "ms_mse": 2.0},
    ]
    s = kp_vs_dp.multiscale_summary(rows)
    assert s["kp_lowfreq_mse"] == 1.5 and s["ms_lower_lowfreq_error_on"] == "1/2 scenes"


def test_speed_tables():
    assert lambda_speed.label_of("runs/pilot/best.pt", []) == "pilot"
    assert lambda_speed.label_of("runs/pilot/last.pt", ["pilot"]) == "runs/pilot/last.pt"
    assert lambda_speed.label_of("lambda", []) == "lambda"
    sec = {"m: full": 0.4, "m: λ change": 0.1, "default": 0.2, "oidn": 0.5}
    r = lambda_speed.ratios(sec, ["m"])
    assert r == {
        "lambda_change_speedup_vs_full": {"m": 4.0},
        "lambda_change_vs_default_full": {"m": 0.5},
        "lambda_change_vs_oidn": {"m": 0.2},
    }
    sec = {"fast:nchw": 0.2, "fast:channels_last": 0.1}
    res = inference.summarise(sec, {"fast:nchw": 0.0, "fast:channels_last": 1e-6}, 1000, {})
    assert res["speedup_vs_nchw"] == {"fast:nchw": 1.0, "fast:channels_last": 2.0}
    assert res["mpix_per_s"]["fast:channels_last"] == pytest.approx(10.0) and "throughput_vs_oidn" not in res
    results = [
        {"variant": "llvm_ad_rgb", "samples_per_second": 6.0},
        {"variant": "scalar_rgb", "samples_per_second": 2.0},
    ]
    assert render_speed.llvm_over_scalar(results) == 3.0
    assert render_speed.llvm_over_scalar([results[0], {"variant": "scalar_rgb", "error": ["x"]}]) is None


def test_dssim_gap_compare():
    def stats(d, octaves):
        return {**{k: d for k in dssim_gap.KEYS}, "octaves": octaves}

    rows = [
        {"model": stats(0.1, [1.0, 2.0]), "oidn": stats(0.2, [2.0, 2.0])},
        {"model": stats(0.3, [1.0, 0.0]), "oidn": stats(0.2, [2.0, 2.0])},
    ]
    c = dssim_gap.compare(rows)
    assert c["mean"]["model"]["dssim_flat"] == pytest.approx(0.2)
    assert c["ratio_vs_oidn"]["dssim_1/4"] == pytest.approx(1.0) and c["ratio_vs_oidn"]["octaves"] == [0.5, 0.5]


def test_decompose_ratios_wins_and_oidn():
    from neurecon.studies import decompose

    rows = []
    for scene, (single, lobes) in {"a": (0.2, 0.1), "b": (0.1, 0.15)}.items():
        for method, v in (("neurecon:s", single), ("neurecon:d", lobes), ("oidn", 0.1)):
            rows.append(
                {"scene": scene, "spp": 4, "method": method, "relmse": v, "smape": v, "dssim": v, "seconds": 1.0}
            )
    level = decompose.compare(rows, "s", "d")["4"]
    assert level["decomposed_over_single"]["relmse"] == pytest.approx(0.25 / 0.3)
    assert level["wins"] == {"relmse": 1, "smape": 1, "dssim": 1} and level["scenes"] == 2
    assert level["over_oidn"]["single"]["dssim"] == pytest.approx(1.5)
    with pytest.raises(ValueError, match="no rows for x"):
        decompose.compare(rows, "x", "d")
