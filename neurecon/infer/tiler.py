"""The one overlap tiler every task's inference shares.

A frame is cut into tiles whose cores cover it exactly; each tile is run with `halo` pixels of
real context on every side that has neighbours (the frame's own border elsewhere, exactly as in
the untiled pass), and only its core is kept. With `halo` ≥ the network's receptive radius and
tile origins on multiples of its `stride` (pyramids and U-Nets are equivariant only to shifts by
their stride), the tiled result equals the untiled one up to float rounding.

Every tile recomputes its halo, so how a frame is cut matters: :func:`plan_tiles` picks the grid
(bands, columns or a grid of rectangles) that processes the fewest pixels in all while no tile,
halo included, exceeds a given number of pixels (the memory budget's).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:  # tile_cores slices numpy arrays as well: the onnxruntime backend runs without torch
    import torch

Array = TypeVar("Array", bound=Any)  # a torch.Tensor or a numpy array: anything sliced as [..., y, x]


def _size2(tile: int | tuple[int, int]) -> tuple[int, int]:
    return (tile, tile) if isinstance(tile, int) else (int(tile[0]), int(tile[1]))


def tile_apply(
    fn: Callable[[dict[str, torch.Tensor]], torch.Tensor],
    inputs: dict[str, torch.Tensor],
    tile: int | tuple[int, int],
    halo: int,
    stride: int = 1,
    scale: int = 1,
    out: torch.Tensor | None = None,
) -> torch.Tensor:
    """`fn` over overlapping tiles of `inputs` (N×C×H×W tensors of one size); its output is
    `scale`× the input size. `tile` (square, or (height, width) of the cores) ≤ 0, or a frame no
    larger than a tile, runs in one pass. `out`, if given, receives the result (any strides, e.g.
    a view of an H×W×C array) and is returned; else a new tensor is."""
    for y0, y1, x0, x1, core, _ in tile_cores(fn, inputs, tile, halo, stride, scale):
        if out is None:
            H, W = next(iter(inputs.values())).shape[-2:]
            out = core.new_zeros(*core.shape[:-2], H * scale, W * scale)
        out[..., y0:y1, x0:x1] = core
    assert out is not None
    return out


def tile_cores(
    fn: Callable[[dict[str, Array]], Array],
    inputs: dict[str, Array],
    tile: int | tuple[int, int],
    halo: int,
    stride: int = 1,
    scale: int = 1,
) -> Iterator[tuple[int, int, int, int, Array, bool]]:
    """The tiles of tile_apply one at a time, row by row: (y0, y1, x0, x1, core, last of its row)
    in output coordinates (× `scale`), `core` the part of fn's output that belongs there. A
    consumer that writes rows as they complete (a file, a band buffer) never holds the frame."""
    first = next(iter(inputs.values()))
    H, W = first.shape[-2:]
    th, tw = _size2(tile)
    if th > 0 and tw > 0:
        th, tw = max(stride, th // stride * stride), max(stride, tw // stride * stride)
    if th <= 0 or tw <= 0 or (H <= th and W <= tw):
        yield 0, H * scale, 0, W * scale, fn(inputs), True
        return
    halo = -(-halo // stride) * stride
    s = scale
    for y0 in range(0, H, th):
        for x0 in range(0, W, tw):
            y1, x1 = min(H, y0 + th), min(W, x0 + tw)
            ya, xa = max(0, y0 - halo), max(0, x0 - halo)
            yb, xb = min(H, y1 + halo), min(W, x1 + halo)
            part = fn({k: v[..., ya:yb, xa:xb] for k, v in inputs.items()})
            core = part[..., (y0 - ya) * s : (y1 - ya) * s, (x0 - xa) * s : (x1 - xa) * s]
            del part  # the core's view keeps what it needs; nothing of it outlives the consumer's copy
            yield y0 * s, y1 * s, x0 * s, x1 * s, core, x1 == W
            del core


@dataclass(frozen=True)
class TilePlan:
    """How tile_apply cuts an H×W frame: cores of `tile` = (height, width), `count` tiles; the
    largest tile with its halo has `max_pixels` (padded to the stride) and all tiles together
    process `work` × the frame's pixels (1.0: one pass, no halo)."""

    tile: tuple[int, int]
    count: int
    max_pixels: int
    work: float

    @property
    def untiled(self) -> bool:
        return self.count == 1


def _ceil_to(n: int, m: int) -> int:
    return -(-n // m) * m


def _extents(n: int, core: int, halo: int, stride: int) -> list[int]:
    """Lengths along one axis of the tiles tile_apply cuts (core + halo, clipped to the frame,
    then padded up to the stride as the network pads them)."""
    out = []
    for a in range(0, n, core):
        b = min(n, a + core)
        length = min(n, b + halo) - max(0, a - halo)
        out.append(_ceil_to(length, stride))
    return out


def plan_tiles(H: int, W: int, halo: int, stride: int, max_pixels: int) -> TilePlan | None:
    """The cut of an H×W frame into tiles of at most `max_pixels` each (halo and stride padding
    included) that processes the fewest pixels in all (ties: fewer tiles); None if no cut fits.
    Cores are multiples of `stride` and as even as the stride allows, so no sliver of a tile at
    the frame's edge carries a full halo for a few rows of output."""
    halo = _ceil_to(halo, stride)
    ph, pw = _ceil_to(H, stride), _ceil_to(W, stride)
    if ph * pw <= max_pixels:  # one pass (cores given as the padded size: a multiple of the stride)
        return TilePlan((ph, pw), 1, ph * pw, ph * pw / (H * W))

    def axis(n: int) -> list[tuple[int, int, int]]:
        """(core, sum of extents, largest extent) of every distinct cut of one axis."""
        cuts, seen = [], set()
        for parts in range(1, -(-n // stride) + 1):
            core = max(stride, _ceil_to(-(-n // parts), stride))  # ⌈n / parts⌉ up to the stride
            if core in seen:
                continue
            seen.add(core)
            ext = _extents(n, core, halo, stride)
            cuts.append((core, sum(ext), max(ext)))
        return cuts

    best: tuple[float, int, int, int, int] | None = None
    rows, cols = axis(H), axis(W)
    for ch, sh, mh in rows:
        for cw, sw, mw in cols:
            if mh * mw > max_pixels:
                continue
            count = -(-H // ch) * -(-W // cw)
            key = (sh * sw, count, ch, cw, mh * mw)
            if best is None or key[:2] < best[:2]:
                best = key
    if best is None:
        return None
    total, count, ch, cw, largest = best
    return TilePlan((ch, cw), count, largest, total / (H * W))
