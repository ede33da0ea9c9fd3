"""Temporal denoising of rendered sequences: a stream whose memory is bounded by the window.

    den = TemporalDenoiser.load("temporal_m3")            # or a .pt path; window=7 by default
    for out in den.stream(frames):                         # frames: any iterable of Buffers
        ...                                                # H×W×3 float32, in input order

Each frame is prepared once when it arrives — sanitised (``Buffers.sanitize``), the frozen
backbone's features and the temporal module's per-frame projection computed and cached — and kept
only while a window still needs it: at most M frames behind the frame being denoised, M ahead
(none ahead in causal mode). Frames need motion vectors (``motion.X/Y``, towards the previous frame;
for the frames ahead in a symmetric window also ``motion_next.X/Y``; see
:mod:`neurecon.render.sequence`). Validity comes from ``motion_valid`` / ``motion_next_valid`` when
the file has them; otherwise (Blender's ``Vector`` pass) a link between two frames is valid where
the forward and backward vectors agree to half a pixel and the point stays on screen.

Not tiled: a prepared frame holds 174 bytes per pixel for the shipped models (0.34 GiB at 1080p),
so the budget (`maxmem_mb`) is checked for the whole window on the first frame.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from ..buffers import VALUE_MAX, BufferError, Buffers
from ..models import load_model
from ..nn import precision as prec
from ..nn.multiscale import pad_to_multiple
from ..nn.temporal import Frame, TemporalUNet, chain_flows, in_frame, warp

CONSISTENCY_PX = 0.5  # forward-backward agreement that makes a link valid without a validity layer


class MotionError(BufferError):
    """A frame lacks the motion vectors a temporal window needs."""


@dataclass
class Prepared:
    """One frame as the stream keeps it: padded colour, cached features, motion planes."""

    index: int
    name: str
    size: tuple[int, int]
    color: torch.Tensor
    features: list[torch.Tensor]
    projected: list[torch.Tensor]
    motion: dict[str, torch.Tensor | None] = field(default_factory=dict)
    seconds: float = 0.0

    def nbytes(self) -> int:
        ts = [self.color, *self.features, *self.projected, *(t for t in self.motion.values() if t is not None)]
        return sum(t.numel() * t.element_size() for t in ts)


class TemporalDenoiser:
    def __init__(
        self,
        model: TemporalUNet,
        checkpoint: dict | None = None,
        window: int | None = None,
        causal: bool = False,
        precision: str = "auto",
        maxmem_mb: int = 4096,
        threads: int | None = None,
    ):
        if not isinstance(model, TemporalUNet):
            raise ValueError(f"not a temporal model (its spec: {getattr(model, 'spec', lambda: {})()})")
        self.model = model.eval()
        self.card = (checkpoint or {}).get("card", {})
        self.precision = prec.resolve(precision)
        self.maxmem_mb = maxmem_mb
        window = model.frames if window is None else int(window)
        if window < 1 or window % 2 == 0 or window > model.frames:
            raise ValueError(
                f"--temporal takes an odd window of at most {model.frames} frames for this model "
                f"(2M+1 with M = {model.radius}), got {window}"
            )
        self.radius = window // 2  # M of the window actually used (≤ the model's)
        self.causal = causal
        self.max_held = 0  # the most frames held at once in the last stream (tests and benches read it)
        self.prepare_seconds: list[float] = []
        self.combine_seconds: list[float] = []
        if threads:
            torch.set_num_threads(threads)

    @classmethod
    def load(cls, name_or_path: str | Path | None = None, **kw) -> TemporalDenoiser:
        model, ck = load_model(name_or_path, default="temporal_m3")
        if not isinstance(model, TemporalUNet):
            what = (ck.get("card") or {}).get("task") or ck["spec"].get("arch", "unknown")
            raise ValueError(f"model '{name_or_path}' is not a temporal denoiser (its task: {what})")
        return cls(model, ck, **kw)

    @property
    def window(self) -> int:
        return 2 * self.radius + 1

    # preparing one frame ---------------------------------------------------------------------
    def pick_source(self, available) -> str:
        sources = self.model.config.sources
        usable = [s for s, bufs in sources.items() if all(b in available for b in bufs)]
        if not usable:
            need = " or ".join("{" + ", ".join(b) + "}" for b in sources.values())
            raise BufferError(f"this model needs {need}; got {', '.join(sorted(available)) or 'nothing'}")
        return max(usable, key=lambda s: len(sources[s]))

    @torch.no_grad()
    def prepare(self, buf: Buffers, index: int, name: str | None = None) -> Prepared:
        name = name or f"frame {index}"
        t = time.perf_counter()
        h, w = buf.shape
        if "motion" not in buf:
            raise MotionError(
                f"{name}: no motion vectors: temporal denoising needs the layer motion.X/motion.Y (pixels to the "
                f"previous frame; Blender: the Vector pass) — found {buf.describe_names()}; render sequences with "
                "`neurecon render --sequence`, or denoise frame by frame without --temporal"
            )
        if self.radius and not self.causal and "motion_next" not in buf:
            raise MotionError(
                f"{name}: no motion_next.X/motion_next.Y layer (pixels to the next frame; Blender: Vector.Z/W), "
                "which the frames ahead of a symmetric window need; found "
                f"{buf.describe_names()}; use --causal (past frames only) or render both directions"
            )
        buf = buf.copy()
        buf.sanitize()
        source = self.pick_source(buf.names())
        needed = sorted(set(self.model.config.sources[source]) | {"color"})
        inputs = {n: buf.to_tensor([n]) for n in needed}
        padded, _ = pad_to_multiple(inputs, self.model.stride)
        with prec.trunk(self.precision):
            feats = self.model.features(inputs, source)
            projected = self.model.frame_features(feats)
        motion: dict[str, torch.Tensor | None] = {}
        for key in ("motion", "motion_valid", "motion_next", "motion_next_valid"):
            if key in buf:
                motion[key] = pad_to_multiple({"m": buf.to_tensor([key])}, self.model.stride)[0]["m"]
            else:
                motion[key] = None
        p = Prepared(index, name, (h, w), padded["color"], feats, projected, motion)
        p.seconds = time.perf_counter() - t
        return p

    # links and windows ------------------------------------------------------------------------
    @staticmethod
    def _link(a: Prepared, b: Prepared | None, direction: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Motion from frame a one step towards b (direction −1: previous, +1: next) and its
        validity: the file's layer, or forward-backward consistency with b's opposite vector."""
        key = "motion" if direction < 0 else "motion_next"
        step = a.motion[key]
        assert step is not None
        valid = a.motion[f"{key}_valid"]
        if valid is None:
            valid = in_frame(step)
            back = None if b is None else b.motion["motion_next" if direction < 0 else "motion"]
            if back is not None:
                err = (step + warp(back, step)).norm(dim=1, keepdim=True)
                valid = valid * (err <= CONSISTENCY_PX).to(valid.dtype)
        return step, valid

    def _window(self, held: dict[int, Prepared], o: int) -> list[Frame | None]:
        M, m = self.model.radius, self.radius
        ahead = 0 if self.causal else m
        slots: list[Frame | None] = [None] * self.model.frames
        c = held[o]
        slots[M] = Frame(c.features, c.color, projected=c.projected)
        for direction, reach in ((-1, m), (1, ahead)):
            steps, valids, frames = [], [], []
            for k in range(reach):
                a, b = held.get(o + direction * k), held.get(o + direction * (k + 1))
                if a is None or b is None:
                    break
                if direction > 0 and a.motion["motion_next"] is None:
                    raise MotionError(f"{a.name}: no motion_next.X/Y layer for the frames ahead; use --causal")
                s, v = self._link(a, b, direction)
                steps.append(s)
                valids.append(v)
                frames.append(b)
            flows, masks = chain_flows(steps, valids) if steps else ([], [])
            for k, (b, f, v) in enumerate(zip(frames, flows, masks)):
                slots[M + direction * (k + 1)] = Frame(b.features, b.color, f, v, b.projected)
        return slots

    @torch.no_grad()
    def _emit(self, held: dict[int, Prepared], o: int) -> np.ndarray:
        t = time.perf_counter()
        h, w = held[o].size
        with prec.trunk(self.precision):
            out = self.model.combine(self._window(held, o))
        out = prec.widen(out)[..., :h, :w].clamp_(-VALUE_MAX, VALUE_MAX)
        self.combine_seconds.append(time.perf_counter() - t)
        return out[0].permute(1, 2, 0).numpy().copy()

    # the stream --------------------------------------------------------------------------------
    def stream(self, frames: Iterable[Buffers | tuple[str, Buffers]]) -> Iterator[np.ndarray]:
        """Denoised frames in order, each as soon as the frames its window needs have arrived.
        `frames` yields Buffers (or (name, Buffers) for error messages); at most the window's
        frames are held (`max_held` records the most)."""
        m = self.radius
        ahead = 0 if self.causal else m
        held: dict[int, Prepared] = {}
        order: deque[int] = deque()
        self.max_held, self.prepare_seconds, self.combine_seconds = 0, [], []
        next_out = 0
        for i, item in enumerate(frames):
            name, buf = item if isinstance(item, tuple) else (None, item)
            p = self.prepare(buf, i, name)
            if held and p.size != next(iter(held.values())).size:
                first = next(iter(held.values()))
                raise BufferError(f"{p.name} is {p.size[1]}×{p.size[0]}, the sequence {first.size[1]}×{first.size[0]}")
            if i == 0:
                self._check_memory(p)
            self.prepare_seconds.append(p.seconds)
            held[i] = p
            order.append(i)
            self.max_held = max(self.max_held, len(held))
            while next_out + ahead <= i:
                yield self._emit(held, next_out)
                next_out += 1
                while order and order[0] < next_out - m:  # no later window reaches it
                    held.pop(order.popleft())
        while next_out in held:
            yield self._emit(held, next_out)
            next_out += 1
            while order and order[0] < next_out - m:
                held.pop(order.popleft())

    def denoise_sequence(self, frames: Iterable[Buffers]) -> list[np.ndarray]:
        return list(self.stream(frames))

    def _check_memory(self, p: Prepared) -> None:
        need = p.nbytes() * self.window / 2**20
        if need > self.maxmem_mb:
            raise MemoryError(
                f"a {self.window}-frame window of {p.size[1]}×{p.size[0]} frames holds about {need:.0f} MB of cached "
                f"features, over the {self.maxmem_mb} MB budget: raise --maxmem or use a shorter --temporal window"
            )

    def steady_seconds(self) -> float:
        """Per-frame cost once the stream runs: one frame's preparation plus one window's combination
        (medians; the first windows, which wait for frames, are included in neither)."""
        if not self.prepare_seconds or not self.combine_seconds:
            return float("nan")
        return float(np.median(self.prepare_seconds) + np.median(self.combine_seconds))
