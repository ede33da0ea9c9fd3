"""The generalisation benchmark's arithmetic: geomean ratios to OIDN per set and the home-vs-unseen gap."""

from __future__ import annotations

import math

import pytest

from neurecon.studies import generalise


def rows(ratios: dict[str, float], method: str = "m", spp: int = 4) -> list[dict]:
    out = []
    for scene, r in ratios.items():
        base = {"scene": scene, "spp": spp, "method": method}
        out.append({**base, **{f"{k}_vs_oidn": r for k in generalise.SCORES}})
    return out


def test_summary_is_the_geomean_of_per_scene_ratios_with_the_worst_scene_and_wins():
    s = generalise.summarise(rows({"a": 0.5, "b": 2.0, "c": 1.0}), ["m"], [4])["m@4"]
    assert s["geomean_relmse"] == pytest.approx(1.0) and s["geomean_flip"] == pytest.approx(1.0)
    assert s["worst_relmse"] == {"scene": "b", "ratio": 2.0} and s["ahead_on"] == 1 and s["scenes"] == 3


def test_gap_is_the_unseen_ratio_over_the_home_ratio():
    summ = {
        "home": generalise.summarise(rows({"a": 0.8, "b": 0.8}), ["m"], [4]),
        "unseen": generalise.summarise(rows({"x": 1.2, "y": 1.2}), ["m"], [4]),
    }
    g = generalise.gaps(summ)
    assert g["unseen"]["m@4"]["relmse"] == pytest.approx(1.5) and "home" not in g
    assert generalise.gaps({"unseen": summ["unseen"]}) == {}  # no home set, no gap
    assert math.isfinite(g["unseen"]["m@4"]["dssim"])


def test_models_are_label_spec_pairs_with_distinct_labels():
    assert generalise.parse_models(["high=default", "fast"]) == {"high": "default", "fast": "fast"}
    with pytest.raises(ValueError, match="distinct labels"):
        generalise.parse_models(["a=default", "a=fast"])
