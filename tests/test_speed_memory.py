"""Speed and memory at production resolutions (#23): the memory budget holds (peak RSS measured
in a subprocess), tiles equal the untiled pass for every shipped preset, the planner cuts frames
as it says, the sanitising scan reports what Buffers.sanitize does, and `auto` precision follows
its rule. No timing is asserted here (speed lives in bench/resolution.py)."""

import json
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch

from neurecon.buffers import Buffers
from neurecon.infer.denoiser import MAX_WORK, PLAN_SHARE, Denoiser, MemoryBudgetError, scan
from neurecon.infer.memory import peak_tensor_bytes
from neurecon.infer.tiler import plan_tiles, tile_apply
from neurecon.nn import precision
from neurecon.nn.unet import UNetKPCN

OIDN = ["color", "albedo", "normal"]


def _frame(h, w, seed=0):
    rng = np.random.default_rng(seed)
    return Buffers(
        color=rng.random((h, w, 3), dtype=np.float32) * 2,
        albedo=rng.random((h, w, 3), dtype=np.float32),
        normal=rng.random((h, w, 3), dtype=np.float32) * 2 - 1,
    )


@pytest.mark.parametrize("name", ["fast", "balanced", "high"])
def test_tiled_equals_untiled_for_every_preset(name):
    """At least 4 tiles, each with its halo of real context, against the untiled pass."""
    den = Denoiser.load(name, precision="fp32")
    stride, halo = den.model.stride, den.model.receptive_radius()
    tile = -(-halo // stride) * stride + 2 * stride  # 2 × 2 tiles, each cut short of the far edge
    h, w = 2 * tile, 2 * tile - 8
    assert tile + halo < w
    x, src = den.prepare(_frame(h, w), "oidn")
    full = den.run_tiled(x, src, tile=0)
    tiled = den.run_tiled(x, src, tile=tile)
    assert (full - tiled).abs().max() < 1e-4


def test_the_budget_plans_four_tiles_equal_to_one_pass():
    """The public path: a budget that holds a quarter of the frame cuts it into ≥ 4 tiles, and the
    result is the one-pass result."""
    den = Denoiser.load("fast", precision="fp32", maxmem_mb=100000)
    buf = _frame(512, 512)
    full = den.denoise_buffers(buf)
    assert den.last_plan.untiled
    held = sum(p.nbytes for p in buf.planes.values())
    tile_px = (256 + den.model.receptive_radius() + 8) ** 2  # a quarter of the frame with its halo
    den.maxmem_mb = int((held + 12 * 512**2 + 1.02 * tile_px * den.bytes_per_pixel("oidn")) / PLAN_SHARE / 2**20) + 1
    tiled = den.denoise_buffers(buf)
    assert den.last_plan.count >= 4 and den.last_plan.work <= MAX_WORK
    assert np.abs(full - tiled).max() < 1e-4


CHILD = textwrap.dedent(
    """
    import json, sys
    import neurecon  # before torch: its OpenMP wait policy (neurecon/_openmp.py)
    import numpy as np, torch
    torch.set_num_threads(2)
    from neurecon.infer.denoiser import Denoiser
    from neurecon.infer.memory import peak_rss_mb, reset_peak_rss, rss_mb
    den = Denoiser.load("fast", precision="fp32")
    base = rss_mb()  # the process: interpreter, torch, the model (not the budget's)
    rng = np.random.default_rng(0)
    buf = dict(color=rng.random((2048, 2048, 3), dtype=np.float32) * 2,
               albedo=rng.random((2048, 2048, 3), dtype=np.float32),
               normal=rng.random((2048, 2048, 3), dtype=np.float32) * 2 - 1)
    from neurecon.buffers import Buffers
    buf = Buffers(**buf)
    den.maxmem_mb = int(sys.argv[1])
    reset_peak_rss()
    out = den.denoise_buffers(buf)
    row = {"budget": den.maxmem_mb, "peak": peak_rss_mb() - base, "tiles": den.last_plan.count}
    print(json.dumps({"row": row, "sample": out[::64, ::64].tolist()}))
    """
)


def test_memory_budget_holds_for_a_2048_frame():
    """A 2048² frame (its planes alone 144 MB) with `fast` at two budgets, each in a fresh process
    (one process running both carried 50–90 MB of the first frame's freed heap into the second:
    600–642 MB at 512 MB from run to run, against 552–555 MB fresh): the peak RSS the frame adds over the process
    (planes, copies, activations, output) stays within 1.2× the budget, both budgets tile, and their
    results agree."""
    samples = []
    for mb in (1024, 512):
        res = subprocess.run([sys.executable, "-c", CHILD, str(mb)], capture_output=True, text=True, timeout=600)
        assert res.returncode == 0, res.stderr[-2000:]
        got = json.loads(res.stdout.strip().splitlines()[-1])
        assert got["row"]["tiles"] >= 2, got["row"]
        assert got["row"]["peak"] <= 1.2 * mb, got["row"]
        samples.append(np.asarray(got["sample"]))
    assert np.abs(samples[0] - samples[1]).max() < 1e-4


def test_a_budget_below_the_floor_is_refused_naming_the_minimum():
    den = Denoiser.load("fast", precision="fp32", maxmem_mb=250)
    buf = Buffers(**{n: np.zeros((2048, 2048, 3), np.float32) for n in ("color", "albedo", "normal")})
    with pytest.raises(MemoryBudgetError, match=r"needs at least (\d+) MB") as err:
        den.denoise_buffers(buf)  # refused before any pixel is denoised
    need = int(str(err.value).split("needs at least ")[1].split(" MB")[0])
    assert need > 250 and "raise --maxmem" in str(err.value)
    den.maxmem_mb = need + 1
    held = sum(p.nbytes for p in buf.planes.values())
    assert den.plan(2048, 2048, "oidn", held, False).work <= MAX_WORK
    den.maxmem_mb = 100  # the planes and output alone exceed it
    with pytest.raises(MemoryBudgetError, match="planes and output alone"):
        den.denoise_buffers(buf)


def test_plan_tiles_cuts_as_little_as_the_budget_allows():
    assert plan_tiles(1080, 1920, 148, 16, 10**7).untiled
    p = plan_tiles(2160, 3840, 148, 16, 2_700_000)
    assert p.count == 4 and p.tile == (1088, 1920) and p.max_pixels <= 2_700_000
    assert all(t % 16 == 0 for t in p.tile) and 1.0 < p.work < 1.3
    # no cut of a smaller tile processes fewer pixels: a brute-force check on a small frame
    q = plan_tiles(300, 500, 20, 4, 40_000)
    best = min(
        (sum(ey) * sum(ex), th, tw)
        for th in range(4, 304, 4)
        for tw in range(4, 504, 4)
        if max(ey := _ext(300, th, 20, 4)) * max(ex := _ext(500, tw, 20, 4)) <= 40_000
    )
    assert q.work * 300 * 500 == pytest.approx(best[0])
    assert plan_tiles(300, 500, 20, 4, 100) is None


def _ext(n, core, halo, stride):
    return [-(-(min(n, a + core + halo) - max(0, a - halo)) // stride) * stride for a in range(0, n, core)]


def test_rectangular_tiles_and_an_output_view_reproduce_one_pass():
    conv = torch.nn.Conv2d(3, 2, 5, padding=2)
    x = {"x": torch.rand(1, 3, 37, 53)}
    with torch.no_grad():
        full = conv(x["x"])
        hwc = np.zeros((37, 53, 2), np.float32)
        out = tile_apply(lambda p: conv(p["x"]), x, (16, 24), 2, out=torch.from_numpy(hwc).permute(2, 0, 1)[None])
    torch.testing.assert_close(out, full)
    np.testing.assert_allclose(hwc, full[0].permute(1, 2, 0).numpy(), rtol=1e-6, atol=1e-6)


def test_scan_reports_what_sanitize_reports_and_tiles_get_the_same_values(rng):
    h, w = 300, 40  # several scan bands of rows
    c = rng.uniform(0, 2, (h, w, 3)).astype(np.float32)
    c[3, 4] = np.nan
    c[250, 1, 2] = -np.inf
    c[100, 7] = 1e30
    c[299, 39, 0] = -3.0
    n = rng.uniform(-1.5, 1.5, (h, w, 3)).astype(np.float32)  # out of range: clamped, not counted
    var = rng.uniform(0, 1, (h, w, 3)).astype(np.float32)
    var[5, 5, 1] = np.inf
    buf = Buffers(color=c, normal=n, color_var=var, albedo=np.full((h, w, 3), 0.5, np.float32))
    ref = buf.copy()
    want = ref.sanitize()
    got, dirty = scan(buf)
    assert (got.nan, got.inf, got.huge, got.negative) == (want.nan, want.inf, want.huge, want.negative)
    assert dirty == {"color", "normal", "color_var"}
    den = Denoiser(UNetKPCN(widths=(4, 6, 8, 8), sources={"mitsuba": ["color", "color_var", "albedo", "normal"]}))
    inputs, _ = den.prepare(buf, "mitsuba")
    for name, t in inputs.items():
        np.testing.assert_array_equal(t[0].permute(1, 2, 0).numpy(), ref[name])
    np.testing.assert_array_equal(buf["color"], c)  # the caller's planes are not touched


def test_probe_memory_is_proportional_to_the_tile():
    """What the planner relies on: a pass's peak of live tensors scales with its pixels."""
    den = Denoiser(UNetKPCN(widths=(4, 6, 8, 8), sources={"oidn": OIDN}), precision="fp32")
    per_px = []
    for s in (128, 256):
        x, src = den.prepare(_frame(s, s), "oidn")
        with torch.no_grad():
            _, peak = peak_tensor_bytes(den._forward, x, src)
        per_px.append(peak / s**2)
    assert per_px[1] == pytest.approx(per_px[0], rel=0.1)


def test_fused_inference_equals_the_autograd_path_bit_for_bit():
    """conv+ReLU fused by oneDNN, skips freed early and kernel heads in bands (inference) compute
    exactly what the training path (plain modules, autograd on) does."""
    torch.manual_seed(0)
    m = UNetKPCN(widths=(8, 12, 16, 16, 16), sources={"oidn": OIDN}, albedo_ratio=True).eval()
    torch.nn.init.normal_(m.albedo_ratio.gate.weight, std=0.5)
    m = m.to(memory_format=torch.channels_last)
    g = torch.Generator().manual_seed(1)
    x = {"color": torch.rand(1, 3, 160, 192, generator=g) * 2, "albedo": torch.rand(1, 3, 160, 192, generator=g)}
    x["normal"] = torch.rand(1, 3, 160, 192, generator=g) * 2 - 1
    with torch.no_grad():
        fast = m(x, "oidn")
    slow = m(x, "oidn").detach()
    assert torch.equal(fast, slow)


def test_auto_precision_pays_for_bf16_only_on_large_jobs(monkeypatch):
    monkeypatch.setattr(precision, "native_bf16", lambda: False)
    assert precision.resolve_for("auto", 10**9) == "fp32"
    monkeypatch.setattr(precision, "native_bf16", lambda: True)
    assert precision.resolve_for("auto", 256**2) == "fp32"  # one small frame: fp32 is done sooner
    assert precision.resolve_for("auto", precision.BF16_MIN_PIXELS) == "bf16"
    assert precision.resolve_for("auto", 256**2, warm=True) == "bf16"  # primitives already exist
    assert precision.resolve_for("fp32", 10**9) == "fp32"
    den = Denoiser(UNetKPCN(widths=(4, 6, 8, 8), sources={"oidn": OIDN}), precision="auto")
    den.denoise_buffers(_frame(32, 32))
    assert den.precision == "fp32"
    den.expect_pixels(precision.BF16_MIN_PIXELS)  # a sequence: bf16 from its first frame
    den.denoise_buffers(_frame(32, 32))
    assert den.precision == "bf16"


def test_a_frame_whose_output_breaks_the_budget_is_written_band_by_band(tmp_path):
    """Just below the budget a whole output needs, the CLI streams the EXR as rows of tiles
    complete (io.exr.ExrRowWriter): the same image as one pass."""
    from neurecon.cli import main
    from neurecon.io import read_image, write_buffers

    buf = _frame(512, 384)
    write_buffers(tmp_path / "f.exr", buf)
    den = Denoiser.load("fast", precision="fp32", maxmem_mb=1)
    held = sum(p.nbytes for p in buf.planes.values())
    with pytest.raises(MemoryBudgetError) as err:
        den.plan(512, 384, "oidn", held, False)
    whole = int(str(err.value).split("needs at least ")[1].split(" MB")[0])
    den.maxmem_mb = whole - 1
    assert den.must_stream(buf)
    assert (
        main(
            ["denoise", str(tmp_path / "f.exr"), "-o", str(tmp_path / "o.exr"), "--model", "fast"]
            + ["--precision", "fp32", "--maxmem", str(whole - 1)]
        )
        == 0
    )
    ref = Denoiser.load("fast", precision="fp32").denoise_buffers(buf)
    assert np.abs(read_image(tmp_path / "o.exr") - ref).max() < 1e-4


def test_the_mmap_threshold_follows_the_budget():
    """1/64 of the budget within [4, 16] MB: small budgets keep less heap between tiles, large ones
    page-fault less (memory.py)."""
    from neurecon.infer.memory import mmap_threshold

    mb = 2**20
    assert [mmap_threshold(b * mb) // mb for b in (64, 256, 512, 1024, 2048, 8192)] == [4, 4, 8, 16, 16, 16]
