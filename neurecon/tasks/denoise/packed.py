"""Training scenes packed one file each and memory-mapped, so that DDP ranks share one copy.

Why: every rank used to decode the EXRs and hold its own float32 copy of the training set, which
capped two ranks on this 23 GB machine at about 1000 256² scenes. A pack holds a scene's sanitised
input planes at its spp levels, its reference (always fp32: it is the target) and the sampler's
summed-area tables. Processes mapping the same file read the same page-cache pages, and a restart
skips the EXR decode. The mapping is private (copy-on-write) and the file is opened read-only, so
nothing a process does to its tensors can reach the file or another process.

`dtype: bf16` also halves the input planes, rounding each value by at most 2⁻⁸ of itself. The
network's inputs are features computed from these planes, which bf16 mixed precision rounds as
much again; the kernels' weighted sum of the noisy colour averages the rounding over a kernel's
pixels. Both are far below the noise of 4–16 spp.

Layout: `<split>/.packed/<scene>.<dtype>.<key hash>.bin` (raw arrays, 64-byte aligned) and `.json`
(what is where, and the key). The key is what the pack was made from: the packed source files'
names, sizes and mtimes, the planes and spp levels, and the source of the code that computes the
arrays. Configs with other planes or levels get packs of their own, and a change to any source
file makes a new pack. Old packs are not deleted: `.packed/` may be removed at any time. Ranks
packing the same split at once split the work through one lock file per scene.
"""

from __future__ import annotations

import fcntl
import functools
import hashlib
import inspect
import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from ...buffers import Buffers
from ...io.atomic import atomic_output
from ...io.oidn_layout import FrameSet
from . import frames

DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16}
_ALIGN = 64


def pack_dir(split: Path) -> Path:
    return Path(split) / ".packed"


@functools.cache
def _code_version() -> str:
    """A hash of the code whose output a pack freezes (sanitising, tensor layout, the sampler's
    importance table, the pack's own layout): editing any of it makes new packs, not stale ones."""
    parts = [
        Buffers.sanitize,
        Buffers.to_tensor,
        frames.read_scene,
        frames.importance_map,
        frames.importance_table,
        _read_scene,
        write_pack,
        _write_arrays,
    ]
    return hashlib.sha1("".join(inspect.getsource(p) for p in parts).encode()).hexdigest()[:12]


def pack_key(fs: FrameSet, spp: Sequence[int], planes: Sequence[str], dtype: str) -> dict:
    """What a pack of `fs` is made from (stat only, no reads)."""
    ref_tag = "ref" if "ref" in fs.files else fs.reference_spp
    used = {str(s): {p: fs.files[s][p] for p in planes if p in fs.files[s]} for s in spp}
    used["ref"] = {"color": fs.files[ref_tag]["color"]} if ref_tag in fs.files else {}
    files = {
        t: {p: [path.name, path.stat().st_size, path.stat().st_mtime_ns] for p, path in sorted(level.items())}
        for t, level in used.items()
    }
    return {"code": _code_version(), "dtype": dtype, "planes": list(planes), "spp": list(spp), "files": files}


def _key_hash(key: dict) -> str:
    return hashlib.sha1(json.dumps(key, sort_keys=True).encode()).hexdigest()[:16]


def _file(out: Path, name: str, key: dict, ext: str) -> Path:
    """One of a scene's pack files (a scene in a sub-directory is named `sub/name`)."""
    return out / f"{name.replace('/', '--')}.{key['dtype']}.{_key_hash(key)}{ext}"


def _read_scene(fs: FrameSet, spp: Sequence[int], planes: Sequence[str]) -> dict[str, torch.Tensor]:
    """The arrays a pack holds, named `reference`, `<spp>/<plane>` and `<spp>/table` (float32/64)."""
    scene = frames.read_scene(fs, spp, planes)
    arrays = {"reference": scene[0].reference} if scene else {}  # no level asked for: nothing to map
    for f in scene:
        arrays.update({f"{f.spp}/{p}": t for p, t in f.inputs.items()})
        arrays[f"{f.spp}/table"] = torch.from_numpy(frames.importance_table(f))
    return arrays


def write_pack(fs: FrameSet, key: dict, out: Path) -> None:
    """Pack one scene as `key` describes it into its .bin and .json (each written to a temp file,
    synced and renamed into place; the .json last, so a .json always has its whole .bin)."""
    for _ in range(3):
        arrays = _read_scene(fs, key["spp"], key["planes"])
        if pack_key(fs, key["spp"], key["planes"], key["dtype"]) == key:
            break
        key = pack_key(fs, key["spp"], key["planes"], key["dtype"])  # a file changed while read: again
    else:
        raise RuntimeError(
            f"the files of scene {fs.name} kept changing while it was packed; is a render "
            f"still writing into {fs.files[key['spp'][0]]['color'].parent}?"
        )
    index, offset = {}, 0
    for name, t in arrays.items():
        if name != "reference" and not name.endswith("/table"):
            t = arrays[name] = t.to(DTYPES[key["dtype"]])
        offset = -(-offset // _ALIGN) * _ALIGN
        index[name] = {"offset": offset, "dtype": str(t.dtype).removeprefix("torch."), "shape": list(t.shape)}
        offset += t.numel() * t.element_size()
    out.mkdir(parents=True, exist_ok=True)
    for path, write in (
        (_file(out, fs.name, key, ".bin"), lambda f: _write_arrays(f, arrays, index)),
        (
            _file(out, fs.name, key, ".json"),
            lambda f: f.write(json.dumps({"key": key, "size": offset, "arrays": index}).encode()),
        ),
    ):
        with atomic_output(path, fsync=True) as tmp, open(tmp, "wb") as f:
            write(f)


def _write_arrays(f, arrays: dict[str, torch.Tensor], index: dict) -> None:
    for name, t in arrays.items():
        f.seek(index[name]["offset"])
        f.write(t.contiguous().view(torch.uint8).numpy().tobytes())


def _valid_index(out: Path, name: str, key: dict) -> dict | None:
    try:
        meta = json.loads(_file(out, name, key, ".json").read_text())
        size = _file(out, name, key, ".bin").stat().st_size
    except (OSError, ValueError):
        return None
    return meta if meta.get("key") == key and meta.get("size") == size else None


def open_pack(out: Path, name: str, meta: dict) -> dict[str, torch.Tensor]:
    """The scene's arrays as views of one read-only, copy-on-write file mapping."""
    path = _file(out, name, meta["key"], ".bin")
    if path.stat().st_size != meta["size"]:
        raise OSError(f"pack {path} is {path.stat().st_size} bytes, its index says {meta['size']}: delete it to repack")
    raw = torch.from_file(str(path), shared=False, size=meta["size"], dtype=torch.uint8)
    arrays = {}
    for k, m in meta["arrays"].items():
        dt = getattr(torch, m["dtype"])
        n = int(np.prod(m["shape"])) * torch.empty(0, dtype=dt).element_size()
        arrays[k] = raw[m["offset"] : m["offset"] + n].view(dt).view(m["shape"])
    return arrays


def ensure_packs(
    sets: dict[str, FrameSet],
    names: Sequence[str],
    spp: Sequence[int] | None,
    planes: Sequence[str],
    dtype: str,
    out: Path,
    progress: bool = False,
) -> dict[str, dict]:
    """Pack every named scene (at the levels in `spp` it has; all of them if None) that has no
    valid pack; return each scene's index. Ranks running this at once take turns per scene: a
    scene locked by another rank is left for a second, waiting pass."""
    from tqdm import tqdm

    if dtype not in DTYPES:
        raise ValueError(
            f"task.data.pack must be one of {sorted(DTYPES)} (or null for in-memory float32), got {dtype!r}"
        )
    out.mkdir(parents=True, exist_ok=True)
    metas: dict[str, dict] = {}
    todo = list(names)
    with tqdm(total=len(todo), desc=f"pack {out.parent.name}", disable=not progress, unit="scene") as bar:
        for blocking in (False, True):
            left = []
            for name in todo:
                fs = sets[name]
                levels = [s for s in fs.inputs if not spp or s in spp]  # ascending, as load_frames
                with open(out / f"{name.replace('/', '--')}.{dtype}.lock", "w") as lock:
                    try:
                        fcntl.flock(lock, fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
                    except BlockingIOError:
                        left.append(name)
                        continue
                    key = pack_key(fs, levels, planes, dtype)
                    meta = _valid_index(out, name, key)
                    if meta is None:
                        for tmp in out.glob(f".{name.replace('/', '--')}.{dtype}.*.tmp"):
                            tmp.unlink()  # a killed writer's leftovers: only the lock holder writes
                        write_pack(fs, key, out)
                        meta = _valid_index(out, name, pack_key(fs, levels, planes, dtype))
                    if meta is None:
                        raise RuntimeError(f"scene {name} changed right after it was packed into {out}")
                    metas[name] = meta
                bar.update()
            todo = left
    return metas
