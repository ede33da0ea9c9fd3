"""The one overlap tiler every task's inference shares.

A frame is cut into tiles whose cores cover it exactly; each tile is run with `halo` pixels of
real context on every side that has neighbours (the frame's own border elsewhere, exactly as in
the untiled pass), and only its core is kept. With `halo` ≥ the network's receptive radius and
tile origins on multiples of its `stride` (pyramids and U-Nets are equivariant only to shifts by
their stride), the tiled result equals the untiled one up to float rounding.
"""

from __future__ import annotations

from collections.abc import Callable

import torch


def tile_apply(
    fn: Callable[[dict[str, torch.Tensor]], torch.Tensor],
    inputs: dict[str, torch.Tensor],
    tile: int,
    halo: int,
    stride: int = 1,
    scale: int = 1,
) -> torch.Tensor:
    """`fn` over overlapping tiles of `inputs` (N×C×H×W tensors of one size); its output is
    `scale`× the input size. `tile` ≤ 0, or a frame no larger than a tile, runs in one pass."""
    first = next(iter(inputs.values()))
    H, W = first.shape[-2:]
    if tile > 0:
        tile = max(stride, tile // stride * stride)
    if tile <= 0 or (H <= tile and W <= tile):
        return fn(inputs)
    halo = -(-halo // stride) * stride
    s = scale
    out = None
    for y0 in range(0, H, tile):
        for x0 in range(0, W, tile):
            y1, x1 = min(H, y0 + tile), min(W, x0 + tile)
            ya, xa = max(0, y0 - halo), max(0, x0 - halo)
            yb, xb = min(H, y1 + halo), min(W, x1 + halo)
            part = fn({k: v[..., ya:yb, xa:xb] for k, v in inputs.items()})
            if out is None:
                out = part.new_zeros(*part.shape[:-2], H * s, W * s)
            out[..., y0 * s : y1 * s, x0 * s : x1 * s] = part[
                ..., (y0 - ya) * s : (y1 - ya) * s, (x0 - xa) * s : (x1 - xa) * s
            ]
    assert out is not None
    return out
