"""The adaptive-sampling study's arithmetic on synthetic per-scene records (no rendering)."""

import numpy as np
import pytest

from neurecon.studies.adaptive import GUIDES, summarise, targets, tile_means


def record(uniform_relmse, ratio, spearman=0.7, seconds=1.0):
    rec = {}
    for budget in (16, 64):
        rec[budget] = {
            g: {
                "relmse": uniform_relmse * (1 if g == "uniform" else ratio),
                "dssim": 0.1,
                "smape": 0.05,
            }
            for g in GUIDES
        }
        rec[budget]["timing"] = {
            "adaptive_seconds_per_sample": seconds * 1.2,
            "uniform_seconds_per_sample": seconds,
            "one_pass_seconds_per_sample": seconds * 1.1,
            "mitsuba_seconds_per_sample": seconds / 2,
        }
    return {"budgets": rec, "spearman": {"smape": spearman, "relmse": spearman, "dssim": spearman}}


def test_summary_is_relative_to_uniform_per_scene():
    per_scene = {"a": record(0.01, 0.5, 0.6), "b": record(1.0, 2.0, 0.8)}
    s = summarise(per_scene, (16, 64))
    r = s[64]["smape"]["relmse"]
    assert r["mean"] == pytest.approx(1.25) and r["geomean"] == pytest.approx(1.0)
    assert r["worst"] == pytest.approx(2.0) and r["best"] == pytest.approx(0.5)
    assert s[64]["uniform"]["relmse"]["mean"] == pytest.approx(1.0)
    assert s[16]["time_per_sample"]["smape_loop_vs_uniform"] == pytest.approx(1.2)
    assert s[16]["time_per_sample"]["uniform_vs_mitsuba_uniform"] == pytest.approx(2.0)
    assert s[16]["time_per_sample"]["smape_loop_vs_its_samples_in_one_pass"] == pytest.approx(1.2 / 1.1)
    assert t_ratio(s) == pytest.approx(1.2)
    assert s["spearman_per_tile"]["smape"] == pytest.approx(0.7)
    t = targets(s, (16, 64))
    assert t["smape_relmse_reduction_at_64"] == pytest.approx(-0.25)
    assert t["smape_worst_scene_relmse_ratio_at_16"] == pytest.approx(2.0)


def t_ratio(s):
    return targets(s, (16, 64))["smape_time_per_sample_ratio_at_64"]


def test_tile_means_drop_partial_tiles():
    m = np.arange(40 * 36, dtype=np.float64).reshape(40, 36)
    t = tile_means(m, 16)
    assert t.shape == (4,)
    assert t[0] == pytest.approx(m[:16, :16].mean()) and t[3] == pytest.approx(m[16:32, 16:32].mean())
