"""neurecon.studies' shared helpers: JSON output, box filter, densest window, timing, λ summaries."""

import json

import numpy as np
import pytest
import torch

from neurecon.studies.blend import LAMBDAS, argmin_beta, summarise
from neurecon.studies.common import box, densest_window, write_json
from neurecon.studies.timing import PLANES, random_frame, time_interleaved, timed


def test_write_json_creates_the_folder_and_keeps_the_bench_format(tmp_path):
    path = write_json(tmp_path / "a" / "b.json", {"λ": 1.0, "x": [1, 2]}, ensure_ascii=False)
    assert path.read_text() == json.dumps({"λ": 1.0, "x": [1, 2]}, indent=1, ensure_ascii=False)
    assert not [p for p in path.parent.iterdir() if p.name != "b.json"]  # no temp file left behind


def test_box_keeps_the_size_and_a_constant():
    x = torch.full((1, 3, 10, 12), 0.25, dtype=torch.float64)
    assert box(x, 5).shape == x.shape and torch.allclose(box(x, 5), x)
    x[..., 5, 6] = 25.25  # one impulse spreads over k² pixels
    assert float(box(x, 5)[0, 0, 3, 4]) == pytest.approx(0.25 + 25 / 25)  # a corner of its 5×5


@pytest.mark.parametrize("stride", [1, 8])
def test_densest_window_finds_the_block_on_its_grid(stride):
    score = torch.zeros(1, 1, 64, 80, dtype=torch.float64)
    score[..., 24:40, 48:64] = 1.0
    y, x = densest_window(score, 16, stride)
    assert (y, x) == (24, 48)
    assert densest_window(torch.zeros(1, 1, 64, 80), 16, stride) == (0, 0)  # ties: the first window


def test_random_frame_is_seeded():
    a, b = random_frame(16, seed=1), random_frame(16, seed=1)
    for n in PLANES:
        assert a[n].shape == (16, 16, 3) and a[n].dtype == np.float32
        np.testing.assert_array_equal(a[n], b[n])
    assert not np.array_equal(random_frame(16, seed=2)["color"], a["color"])


def test_time_interleaved_warms_up_twice_and_interleaves():
    calls_made = []
    calls = {k: (lambda k=k: calls_made.append(k)) for k in ("a", "b")}
    sec = time_interleaved(calls, rounds=2, repeat=3)
    assert set(sec) == {"a", "b"} and all(s >= 0 for s in sec.values())
    assert calls_made == ["a", "a", "b", "b"] + (["a"] * 3 + ["b"] * 3) * 2


def test_timed_returns_the_last_result_and_a_median():
    it = iter(range(5))
    out, sec = timed(lambda: next(it), 5)
    assert out == 4 and sec >= 0


def test_argmin_beta_and_summarise():
    assert argmin_beta(lambda b: (b - 0.7) ** 2) == pytest.approx(0.7, abs=1e-6)
    rows = [
        {"spp": spp, "lambda": {str(l): {"x": spp * l + i} for l in LAMBDAS}} for spp in (4, 16) for i in (0.0, 1.0)
    ]
    s = summarise(rows, [4, 16], LAMBDAS[1:])
    assert list(s) == ["4", "16"] and list(s["4"]) == ["2.0", "5.0", "10.0"]
    assert s["16"]["5.0"]["x"] == pytest.approx(80.5)
