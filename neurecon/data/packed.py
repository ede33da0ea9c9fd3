"""Training scenes packed one file each and memory-mapped, so that DDP ranks share one copy.

Why: every rank used to decode the EXRs and hold its own float32 copy of the training set, which
capped two ranks on this 23 GB machine at about 1000 256² scenes (the rest of the RAM check's
story is in `load_frames`). A pack holds a scene's sanitised input planes at every spp level, its
reference (always fp32: it is the target) and the sampler's summed-area tables. It is mapped with
MAP_SHARED, so the ranks read the same page-cache pages, and a restart skips the EXR decode.

`dtype: bf16` also halves the input planes. Training under bf16 autocast rounds them to bf16 at
the first convolution anyway; what else sees them (the kernels' weighted sum of the noisy colour)
averages the 2⁻⁹ relative rounding over a kernel's pixels, far below 4–16 spp noise.

Layout: `<split>/.packed/<scene>.<dtype>.bin` (raw arrays, 64-byte aligned) and `.json` (what is
where, and the key: format, dtype, planes, spp levels and the source files' sizes and mtimes). A
pack whose key or size does not match is rebuilt, by writing a new file and renaming it over the old
one: a pack is never changed in place, so a running training's mapping stays what it mapped. Ranks packing the same split at once split the
work through one lock file per scene.
"""
from __future__ import annotations

import fcntl
import json
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from ..io._atomic import atomic_output
from ..io.oidn_layout import FrameSet

FORMAT = 1
DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16}
_ALIGN = 64


def pack_dir(split: Path) -> Path:
    return Path(split) / ".packed"


def _file(out: Path, name: str, dtype: str, ext: str) -> Path:
    """One of a scene's pack files (a scene in a sub-directory is named `sub/name`)."""
    return out / f"{name.replace('/', '--')}.{dtype}{ext}"


def pack_key(fs: FrameSet, spp: Sequence[int], planes: Sequence[str], dtype: str) -> dict:
    """What a pack was made from: a change to any of it means the pack is stale."""
    files = {str(t): {p: [path.name, path.stat().st_size, path.stat().st_mtime_ns]
                      for p, path in sorted(fs.files[t].items())}
             for t in fs.files if t in spp or t in ("ref", fs.reference_spp)}
    return {"format": FORMAT, "dtype": dtype, "planes": list(planes), "spp": list(spp), "files": files}


def _read_scene(fs: FrameSet, spp: Sequence[int], planes: Sequence[str]) -> dict[str, torch.Tensor]:
    """The arrays a pack holds, named `reference`, `<spp>/<plane>` and `<spp>/table` (float32/64)."""
    from .denoise import Frame, _importance_table  # the sampler's table, from its one home

    ref = fs.read("ref")
    ref.sanitize()
    reference = ref.to_tensor(["color"])
    arrays = {"reference": reference}
    for s in spp:
        buf = fs.read(s).require(planes)
        buf.sanitize()
        inputs = {p: buf.to_tensor([p]) for p in planes}
        arrays.update({f"{s}/{p}": t for p, t in inputs.items()})
        arrays[f"{s}/table"] = torch.from_numpy(_importance_table(Frame(fs.name, s, inputs, reference)))
    return arrays


def write_pack(fs: FrameSet, spp: Sequence[int], planes: Sequence[str], dtype: str, out: Path) -> None:
    """Pack one scene into `out/<scene>.bin` + `.json` (both replaced atomically, .bin first)."""
    arrays = _read_scene(fs, spp, planes)
    index, offset = {}, 0
    for name, t in arrays.items():
        if name != "reference" and not name.endswith("/table"):
            t = arrays[name] = t.to(DTYPES[dtype])
        offset = -(-offset // _ALIGN) * _ALIGN
        index[name] = {"offset": offset, "dtype": str(t.dtype).removeprefix("torch."), "shape": list(t.shape)}
        offset += t.numel() * t.element_size()
    out.mkdir(parents=True, exist_ok=True)
    with atomic_output(_file(out, fs.name, dtype, ".bin")) as tmp, open(tmp, "wb") as f:
        for name, t in arrays.items():
            f.seek(index[name]["offset"])
            f.write(t.contiguous().view(torch.uint8).numpy().tobytes())
    meta = {"key": pack_key(fs, spp, planes, dtype), "size": offset, "arrays": index}
    with atomic_output(_file(out, fs.name, dtype, ".json")) as tmp:
        Path(tmp).write_text(json.dumps(meta))


def _valid_index(out: Path, name: str, key: dict) -> dict | None:
    try:
        meta = json.loads(_file(out, name, key["dtype"], ".json").read_text())
        size = _file(out, name, key["dtype"], ".bin").stat().st_size
    except (OSError, ValueError):
        return None
    return meta if meta.get("key") == key and meta.get("size") == size else None


def open_pack(out: Path, name: str, meta: dict) -> dict[str, torch.Tensor]:
    """The scene's arrays as views of one shared, read-only-by-convention file mapping."""
    raw = torch.from_file(str(_file(out, name, meta["key"]["dtype"], ".bin")), shared=True, size=meta["size"], dtype=torch.uint8)
    arrays = {}
    for k, m in meta["arrays"].items():
        dt = getattr(torch, m["dtype"])
        n = int(np.prod(m["shape"])) * torch.empty(0, dtype=dt).element_size()
        arrays[k] = raw[m["offset"]:m["offset"] + n].view(dt).view(m["shape"])
    return arrays


def ensure_packs(sets: dict[str, FrameSet], names: Sequence[str], spp: Sequence[int], planes: Sequence[str],
                 dtype: str, out: Path, progress: bool = False) -> dict[str, dict]:
    """Pack every named scene that has no valid pack; return each scene's index. Ranks running this
    at once take turns per scene: a scene locked by another rank is left for a second, waiting pass."""
    from tqdm import tqdm

    if dtype not in DTYPES:
        raise ValueError(f"task.data.pack must be one of {sorted(DTYPES)} (or null for in-memory float32), got {dtype!r}")
    out.mkdir(parents=True, exist_ok=True)
    metas: dict[str, dict] = {}
    todo = list(names)
    with tqdm(total=len(todo), desc=f"pack {out.parent.name}", disable=not progress, unit="scene") as bar:
        for blocking in (False, True):
            left = []
            for name in todo:
                key = pack_key(sets[name], [s for s in spp if s in sets[name].inputs], planes, dtype)
                with open(_file(out, name, dtype, ".lock"), "w") as lock:
                    try:
                        fcntl.flock(lock, fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
                    except BlockingIOError:
                        left.append(name)
                        continue
                    meta = _valid_index(out, name, key)
                    if meta is None:
                        write_pack(sets[name], key["spp"], planes, dtype, out)
                        meta = _valid_index(out, name, key)
                    metas[name] = meta
                bar.update()
            todo = left
    return metas


def pack_bytes(metas: dict[str, dict]) -> int:
    return sum(m["size"] for m in metas.values())
