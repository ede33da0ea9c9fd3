"""Packed training sets (neurecon/data/packed.py): what a pack maps equals what the EXRs hold,
stale or broken packs are rebuilt, ranks packing at once agree, and the RAM check counts a pack once."""

import multiprocessing as mp
import os
import shutil

import numpy as np
import pytest
import torch

import neurecon.tasks.denoise.data as data
from neurecon.tasks.denoise.packed import pack_dir

BUFFERS = ["color", "color_var", "albedo", "normal"]


@pytest.fixture
def dataset(tiny_dataset, tmp_path):
    """A private copy: packs are written next to the scenes."""
    shutil.copytree(tiny_dataset / "train", tmp_path / "train")
    return tmp_path / "train"


def _by_key(frames):
    return {(f.name, f.spp): f for f in frames}


def test_an_fp32_pack_maps_exactly_what_the_exrs_hold(dataset):
    loaded = _by_key(data.load_frames(dataset, [4], BUFFERS))
    packed = _by_key(data.load_frames(dataset, [4], BUFFERS, pack="fp32"))
    assert packed.keys() == loaded.keys() and len(packed) == 3
    for k, f in packed.items():
        assert f.inputs.keys() == loaded[k].inputs.keys()
        for p, t in f.inputs.items():
            assert t.dtype == torch.float32 and torch.equal(t, loaded[k].inputs[p]), (k, p)
        assert torch.equal(f.reference, loaded[k].reference)
        np.testing.assert_array_equal(f.table, data.importance_table(loaded[k]))
    # the sampler draws the same batches from either (same seed, same tables)
    a = data.PatchSampler(list(loaded.values()), patch=16, batch=4, seed=5).sample()
    b = data.PatchSampler(list(packed.values()), patch=16, batch=4, seed=5).sample()
    for k in a:
        assert torch.equal(a[k], b[k]), k


def test_a_bf16_pack_rounds_the_inputs_only_and_batches_come_out_float32(dataset):
    loaded = _by_key(data.load_frames(dataset, [4], BUFFERS))
    packed = _by_key(data.load_frames(dataset, [4], BUFFERS, pack="bf16"))
    for k, f in packed.items():
        for p, t in f.inputs.items():
            assert t.dtype == torch.bfloat16
            exact = loaded[k].inputs[p]
            torch.testing.assert_close(t.float(), exact, rtol=2**-8, atol=1e-30)  # round to nearest: ≤ half an ulp
            assert not torch.equal(t.float(), exact)  # it did round
        assert f.reference.dtype == torch.float32 and torch.equal(f.reference, loaded[k].reference)
    batch = data.PatchSampler(list(packed.values()), patch=16, batch=2, seed=0).sample()
    assert all(v.dtype == torch.float32 for v in batch.values())
    data.load_frames(dataset, [4], BUFFERS, pack="fp32")  # another dtype: packs of its own, beside
    bf16, fp32 = (sum(p.stat().st_size for p in pack_dir(dataset).glob(f"*.{d}.*.bin")) for d in ("bf16", "fp32"))
    assert 1.3 * bf16 < fp32 < 2 * bf16


def test_stale_and_truncated_packs_are_rebuilt(dataset):
    frames = data.load_frames(dataset, [4], BUFFERS, pack="fp32")
    name = frames[0].name
    first = _by_key(frames)[(name, 4)].inputs["color"].clone()
    out = pack_dir(dataset)
    # a source file rewritten (new mtime): the pack must follow the new colour
    from neurecon.io import find_frames, read_array, write_image

    src = find_frames(dataset)[name].files[4]["color"]

    write_image(src, read_array(src) * 2)
    os.utime(src, ns=(src.stat().st_atime_ns, src.stat().st_mtime_ns + 10**9))
    rebuilt = _by_key(data.load_frames(dataset, [4], BUFFERS, pack="fp32"))[(name, 4)].inputs["color"].clone()
    torch.testing.assert_close(rebuilt, 2 * first)
    # a pack cut short (a crash mid-copy, a full disk): rebuilt, not mapped past its end
    (bin_,) = [
        p
        for p in out.glob(f"{name}.fp32.*.bin")
        if p.stat().st_mtime_ns == max(q.stat().st_mtime_ns for q in out.glob(f"{name}.fp32.*.bin"))
    ]  # the newest: the rebuilt one
    with open(bin_, "r+b") as f:
        f.truncate(bin_.stat().st_size // 2)
    again = _by_key(data.load_frames(dataset, [4], BUFFERS, pack="fp32"))
    assert torch.equal(again[(name, 4)].inputs["color"], rebuilt)


def test_configs_with_other_planes_get_their_own_packs_and_writes_stay_private(dataset):
    """Two configs on one split (other buffers) do not rebuild each other's packs; spp=None packs
    every level, like loading; an in-place write to a mapped tensor reaches neither the file nor
    the next process to map it."""
    data.load_frames(dataset, [4], BUFFERS, pack="bf16")
    stamp = {p: p.stat().st_mtime_ns for p in pack_dir(dataset).glob("*.bin")}
    data.load_frames(dataset, [4], ["color", "albedo"], pack="bf16")
    frames = data.load_frames(dataset, None, BUFFERS, pack="bf16")  # all levels: here, 4 spp
    assert {p: p.stat().st_mtime_ns for p in pack_dir(dataset).glob("*.bin") if p in stamp} == stamp
    assert len(list(pack_dir(dataset).glob("*.bin"))) == 2 * len(stamp)
    assert sorted(_by_key(frames)) == sorted(_by_key(data.load_frames(dataset, None, BUFFERS)))
    before = frames[0].inputs["color"].clone()
    frames[0].inputs["color"].add_(1.0)
    again = data.load_frames(dataset, None, BUFFERS, pack="bf16")
    assert torch.equal(again[0].inputs["color"], before)


def _pack_in_process(root):
    data.load_frames(root, [4], BUFFERS, pack="bf16")


def test_two_processes_packing_at_once_leave_valid_packs(dataset):
    ctx = mp.get_context("spawn")
    procs = [ctx.Process(target=_pack_in_process, args=(dataset,)) for _ in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
    assert [p.exitcode for p in procs] == [0, 0]
    loaded = _by_key(data.load_frames(dataset, [4], BUFFERS))
    for k, f in _by_key(data.load_frames(dataset, [4], BUFFERS, pack="bf16")).items():
        torch.testing.assert_close(f.inputs["color"].float(), loaded[k].inputs["color"], rtol=2**-8, atol=1e-30)
    assert not list(pack_dir(dataset).glob(".*.tmp"))  # no leftovers of the atomic writes


def test_the_ram_check_counts_a_pack_once_whatever_the_ranks(dataset, monkeypatch):
    frames = data.load_frames(dataset, [4], BUFFERS, pack="bf16")
    size = sum(p.stat().st_size for p in pack_dir(dataset).glob("*.bin"))
    assert data.pack_bytes_of(frames) == size
    monkeypatch.setattr(data, "available_memory", lambda: int(size / data.RAM_HEADROOM) + 64)
    assert len(data.load_frames(dataset, [4], BUFFERS, pack="bf16", copies=2)) == 3
    monkeypatch.setattr(data, "available_memory", lambda: int(size / data.RAM_HEADROOM) - 64)
    with pytest.raises(MemoryError, match="packed"):
        data.load_frames(dataset, [4], BUFFERS, pack="bf16")


def test_an_unknown_pack_dtype_is_refused(dataset):
    with pytest.raises(ValueError, match="task.data.pack"):
        data.load_frames(dataset, [4], BUFFERS, pack="fp16")


def test_a_config_trains_from_packed_frames_like_from_loaded_ones(tiny_dataset, tmp_path):
    """`task.data.pack: fp32` maps exactly the loaded values, so the same seeds give the same
    training run; `bf16` trains too, on its rounded inputs."""
    from conftest import tiny_config

    from neurecon.train.run import train_from_config

    shutil.copytree(tiny_dataset, tmp_path / "ds")
    runs = {}
    for pack in (None, "fp32", "bf16"):
        cfg = tiny_config(tmp_path / "ds", tmp_path / f"run_{pack}", iterations=3)
        cfg["task"]["data"]["pack"] = pack
        runs[pack] = train_from_config(cfg, progress=False)
    assert runs["bf16"].task.train_frames[0].inputs["color"].dtype == torch.bfloat16
    plain, fp32, bf16 = (runs[p].model.state_dict() for p in (None, "fp32", "bf16"))
    for k in plain:
        torch.testing.assert_close(fp32[k], plain[k], rtol=0, atol=0, msg=k)
    assert any(not torch.equal(bf16[k], plain[k]) for k in plain)
