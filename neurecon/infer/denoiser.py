"""The `Denoiser` Python API (pyoidn's conventions) and the interactive λ session.

    den = neurecon.Denoiser.load()            # shipped default, or a name / .pt path
    out = den.denoise(color, albedo=alb, normal=nrm, variance=var)   # H×W×3 float32 arrays

The model's source-aware encoders decide which buffers are needed: the richest source whose
buffers were all given is used (e.g. `mitsuba` with variances, `oidn` with colour+albedo+normal).
Inputs are sanitised (NaN/Inf → 0, |x| > 1e15 clamped, negative radiance → 0; see
`Buffers.sanitize`) and the counts are kept in `last_sanitize_report`; the output is finite and
within ±1e15 (`buffers.VALUE_MAX`). Integer arrays (8-bit images) are refused: the API takes
linear float radiance.

Memory: `maxmem_mb` (the CLI's ``--maxmem``) bounds what one call holds — the frame's planes (the
caller's arrays included), the tiles' input copies, every activation and the output — but not the
process itself (interpreter, torch and the model's weights: ~250 MB here). A frame whose single
pass fits is denoised in one pass; a larger one in tiles that overlap by the receptive radius
(tiled and untiled results agree to float rounding), cut by :func:`.tiler.plan_tiles` so that the
halos recompute as little as the budget allows. What a pass needs is measured, not guessed: the
peak of live tensors on a probe tile (:mod:`.memory`), once per model, source and precision. A
budget so small that its tiles would recompute more than ``MAX_WORK``× the frame's work is refused
(:class:`MemoryBudgetError`), naming the smallest budget that would do.

Inputs are never copied whole: the planes are scanned for values the sanitising policy changes
(that is the report), and each tile converts and sanitises its own part of them.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from ..buffers import PLANES, RADIANCE, VALUE_MAX, VARIANCE_MAX, VARIANCE_OF, BufferError, Buffers, SanitizeReport
from ..models import load_model
from ..nn import precision as prec
from ..nn.specialiser import LAMBDA_MAX
from .memory import RSS_PER_LIVE, peak_tensor_bytes, predictable_heap
from .tiler import TilePlan, plan_tiles, tile_apply, tile_cores
from .unused import API_ARGUMENTS, unused_buffer_notes, warn_unused

# A budget whose tiles would process more than this many times the frame's pixels (their halos
# recomputed) is refused rather than run slowly; the error names the smallest budget that does.
MAX_WORK = 3.0
# The share of the budget a plan fills; the rest is slack for what no probe sees (Python objects,
# the C allocator's fragmentation from one tile to the next).
PLAN_SHARE = 0.9
# Bytes a pixel that no network pass here exceeds (measured ≤ 1.2 KB for every shipped model):
# a frame that fits the budget at this rate is run in one pass without a probe.
PROBE_FREE_BYTES = 8192


class MemoryBudgetError(ValueError):
    """The memory budget cannot hold this frame, or only in tiles that would recompute too much."""


def _nchw(plane: np.ndarray) -> torch.Tensor:
    """An H×W×C array as a 1×C×H×W tensor view (no copy)."""
    return torch.from_numpy(plane).permute(2, 0, 1)[None]


_NON_NEGATIVE = (*RADIANCE, "albedo", "depth", *VARIANCE_OF)


def _bound(name: str) -> float:
    return float(np.float32(VARIANCE_MAX if name in VARIANCE_OF else VALUE_MAX))


def sanitize_tensor(t: torch.Tensor, name: str) -> torch.Tensor:
    """`Buffers.sanitize`'s policy for plane `name`, in place on a tensor (a tile's own copy):
    NaN/Inf → 0, clamped to ±VALUE_MAX (variances ±VARIANCE_MAX), normals to [−1, 1], negative
    colour, albedo, depth and variances → 0."""
    torch.nan_to_num_(t, nan=0.0, posinf=0.0, neginf=0.0)
    bound = _bound(name)
    t.clamp_(-bound, bound)
    if name == "normal":
        t.clamp_(-1.0, 1.0)
    elif name in _NON_NEGATIVE:
        t.clamp_min_(0.0)
    return t


def scan(buf: Buffers, rows: int = 256) -> tuple[SanitizeReport, set[str]]:
    """What `Buffers.sanitize` would report for `buf` (the same counts), and the planes whose values
    it would change, without copying the frame: `rows` rows at a time, where a clean band costs a
    finiteness test and a min/max."""
    rep = SanitizeReport()
    dirty: set[str] = set()
    for name, plane in buf.planes.items():
        bound = _bound(name)
        lo = -1.0 if name == "normal" else 0.0 if name in _NON_NEGATIVE else -bound
        hi = 1.0 if name == "normal" else bound
        counts = dict.fromkeys(("nan", "inf", "huge", "negative"), 0)
        t = torch.from_numpy(plane)
        for y0 in range(0, t.shape[0], rows):
            band = t[y0 : y0 + rows]
            if bool(torch.isfinite(band).all()):
                vmin, vmax = (float(v) for v in torch.aminmax(band))
                if lo <= vmin and vmax <= hi:
                    continue
            dirty.add(name)
            counts["nan"] += int(torch.isnan(band).sum())
            counts["inf"] += int(torch.isinf(band).sum())
            x = torch.nan_to_num(band, nan=0.0, posinf=0.0, neginf=0.0)
            counts["huge"] += int((x.abs() > bound).sum())
            if name != "normal" and name in _NON_NEGATIVE:
                counts["negative"] += int((x.clamp(-bound, bound) < 0).sum())
        for kind, n in counts.items():
            if n:
                getattr(rep, kind)[name] = n
    return rep, dirty


class Denoiser:
    def __init__(
        self,
        model,
        checkpoint: dict | None = None,
        maxmem_mb: int = 2048,
        threads: int | None = None,
        channels_last: bool = True,
        precision: str = "auto",
    ):
        # channels-last lets oneDNN skip its layout reorders around every conv (bench/inference.py)
        self.model = model.eval().to(memory_format=torch.channels_last if channels_last else torch.contiguous_format)
        # 'auto': fp32, or the conv trunk in bf16 where the CPU has native bf16 and the job is large
        # enough to pay for creating the bf16 primitives (nn/precision.py: resolve_for)
        self.requested_precision = precision
        self.precision = prec.resolve(precision) if precision != "auto" else "fp32"
        self.job_pixels = 0  # a caller denoising many frames says so (expect_pixels)
        self.card = (checkpoint or {}).get("card", {})
        self.maxmem_mb = maxmem_mb
        self.last_sanitize_report: SanitizeReport | None = None
        self.last_seconds = 0.0
        self.last_plan: TilePlan | None = None
        self.last_timings: dict[str, float] = {}
        self._bytes_per_pixel: dict[tuple, float] = {}
        if threads:
            torch.set_num_threads(threads)

    @classmethod
    def load(cls, name_or_path: str | Path | None = None, **kw) -> Denoiser:
        model, ck = load_model(name_or_path)
        if getattr(getattr(model, "config", None), "sources", None) is None:
            what = (ck.get("card") or {}).get("task") or ck["spec"].get("arch", "unknown")
            hint = "; super-resolve with `neurecon upscale`" if hasattr(model, "scale") else ""
            raise ValueError(f"model '{name_or_path}' is not a denoiser (its task: {what}){hint}")
        return cls(model, ck, **kw)

    # source selection -------------------------------------------------------------------
    def check_source(self, name: str) -> str:
        """`name` if this model has an encoder for it, else a ValueError listing the ones it has."""
        sources = self.model.config.sources
        if name not in sources:
            from ..nn.features import DEFAULT_SOURCES

            others = sorted(set(DEFAULT_SOURCES) - set(sources))
            raise ValueError(
                f"unknown source '{name}' for this model; its sources: {', '.join(sources)}"
                + (f" (other known sources, through an adapter: {', '.join(others)})" if others else "")
            )
        return name

    def choose_source(self, available, requested: str | None = None, declared: str | None = None) -> tuple[str, str]:
        """The encoder for a frame and why: `requested` (``--source``) if given; else the source
        the file declared (``Buffers.source``: Cycles channel names → ``cycles``) when the model
        has an encoder for it; else the richest source whose buffers were all given."""
        if requested is not None:
            return self.check_source(requested), "as requested"
        sources = self.model.config.sources
        if declared is not None and declared in sources:
            self._needed_buffers(available, declared)
            return declared, f"declared by the file ({declared} layout)"
        picked = self.pick_source(available)
        if declared is not None:
            return picked, (
                f"the file is {declared}, which this model has no encoder for: the {picked} encoder reads "
                f"its buffers (adapt one: neurecon adapt --source {declared}, then --model <base>+{declared})"
            )
        return picked, "the richest source whose buffers were given"

    def _needed_buffers(self, available, source: str) -> None:
        missing = [b for b in self.model.config.sources[source] if b not in available]
        if missing:
            raise BufferError(
                f"the {source} encoder needs {', '.join(self.model.config.sources[source])}; "
                f"missing {', '.join(missing)} (got {', '.join(sorted(available)) or 'nothing'})"
            )

    def reads(self, source: str) -> set[str]:
        """The planes the model reads through `source`'s encoder (its buffers, colour, and the
        albedo and diffuse/specular components a reconstruction itself uses)."""
        config = self.model.config
        extra = config.reconstruction_buffers(source) if hasattr(config, "reconstruction_buffers") else []
        return set(config.sources[source]) | {"color"} | ({"albedo"} if config.uses_albedo else set()) | set(extra)

    def unused_buffers(self, given: dict[str, str], available, source: str) -> list[str]:
        """A sentence for each buffer the user gave (`given`: plane -> how it was named, e.g.
        ``{"color_var": "--var"}``) that `source`'s encoder does not read (infer/unused.py)."""
        return unused_buffer_notes(given, available, source, self.model.config.sources, self.reads(source))

    def pick_source(self, available) -> str:
        sources = self.model.config.sources
        usable = [s for s, bufs in sources.items() if all(b in available for b in bufs)]
        if not usable:
            need = " or ".join("{" + ", ".join(b) + "}" for b in sources.values())
            raise BufferError(f"this model needs {need}; got {', '.join(sorted(available)) or 'nothing'}")
        return max(usable, key=lambda s: len(sources[s]))

    # API ----------------------------------------------------------------------------------
    @property
    def has_lambda(self) -> bool:
        return hasattr(self.model, "tail")

    def denoise(
        self, color, albedo=None, normal=None, variance=None, source: str | None = None, lam=None
    ) -> np.ndarray:
        """Denoise H×W×3 float32 linear HDR colour; auxiliary buffers are H×W×3 too. Integer
        arrays are refused (an 8-bit image is not linear radiance: decode it first, e.g.
        ``neurecon.io.srgb_decode(x / 255)``). `lam` (1 ≤ λ ≤ 10, float or H×W map) trades bias
        for variance on models trained for it."""
        given = {"color": color, "albedo": albedo, "normal": normal, "variance": variance}
        for name, value in given.items():
            kind = np.asarray(value).dtype.kind if value is not None else "f"
            if kind in "biu":
                raise BufferError(
                    f"{name} is a {np.asarray(value).dtype} array: the denoiser takes linear float radiance; "
                    "convert it first (an 8-bit sRGB image: neurecon.io.srgb_decode(x / 255))"
                )
        buf = Buffers(color=color, albedo=albedo, normal=normal, color_var=variance)
        chosen = self._needed(buf, source)[1]  # (an empty frame is refused first)
        named = {API_ARGUMENTS[k]: f"{k}=" for k, v in given.items() if k in API_ARGUMENTS and v is not None}
        warn_unused(self.unused_buffers(named, buf.names(), chosen))
        return self.denoise_buffers(buf, chosen, lam)

    def _needed(self, buf: Buffers, source: str | None) -> tuple[list[str], str]:
        h, w = buf.shape
        if h == 0 or w == 0:
            raise BufferError(f"the frame is empty ({w}×{h} pixels)")
        source = self.check_source(source) if source else self.choose_source(buf.names(), declared=buf.source)[0]
        needed = sorted(self.reads(source))
        buf.require(needed)
        return needed, source

    def prepare(self, buf: Buffers, source: str | None = None) -> tuple[dict[str, torch.Tensor], str]:
        """Sanitised whole-frame input tensors for the chosen source, copies of the planes (the
        report lands in last_sanitize_report). denoise_buffers does not need them: it converts
        tile by tile."""
        needed, source = self._needed(buf, source)
        self.last_sanitize_report, dirty = scan(buf)
        return {n: self._tile_input(_nchw(buf[n]), n, dirty) for n in needed}, source

    @staticmethod
    def _tile_input(view: torch.Tensor, name: str, dirty: set[str]) -> torch.Tensor:
        """A tile's own planar copy of a plane's view, sanitised if the plane needs it."""
        t = view.clone(memory_format=torch.contiguous_format)
        return sanitize_tensor(t, name) if name in dirty else t

    def lambda_map(self, lam, shape: tuple[int, int]) -> torch.Tensor:
        """Validate λ (scalar or H×W) and return it as a 1×1×H×W tensor.

        λ outside [1, LAMBDA_MAX = 10], the range the λ models were trained for, is refused (not
        clamped): beyond it the specialiser extrapolates, and a clamped map would silently not be
        the one asked for. NaN/Inf in a map are refused and counted."""
        if not self.has_lambda:
            raise ValueError("this model has no λ control; load a model trained with configs/denoise_lambda.yaml")
        arr = np.asarray(lam, np.float32)
        if arr.ndim == 3 and arr.shape[2] in (1, 3):
            arr = arr.mean(2)
        if arr.ndim == 0:
            arr = np.full(shape, float(arr), np.float32)
        if arr.shape != tuple(shape):
            raise ValueError(
                f"λ map is {arr.shape[1] if arr.ndim > 1 else '?'}×{arr.shape[0]} "
                f"but the frame is {shape[1]}×{shape[0]}"
            )
        bad = int((~np.isfinite(arr)).sum())
        if bad:
            raise ValueError(f"λ map has {bad} NaN/Inf value{'s' if bad > 1 else ''}; λ must be a number ≥ 1 and ≤ 10")
        lo, hi = float(arr.min()), float(arr.max())
        if lo < 1 or hi > LAMBDA_MAX * (1 + 1e-6):
            raise ValueError(
                f"λ must be ≥ 1 and ≤ {LAMBDA_MAX:g} everywhere (1 = symmetric loss; the λ models were trained for "
                f"1–{LAMBDA_MAX:g}: values outside are refused, not clamped); got min {lo:.3g}, max {hi:.3g}"
            )
        return torch.from_numpy(np.ascontiguousarray(arr))[None, None]

    def denoise_buffers(self, buf: Buffers, source: str | None = None, lam=None) -> np.ndarray:
        """Denoise a frame (H×W×3 float32, finite, within ±VALUE_MAX), in one pass or in the tiles
        the memory budget allows (last_plan says which; last_timings how long each part took)."""
        out = self._denoise(buf, source, lam, None)
        assert out is not None
        return out

    def denoise_rows(
        self, buf: Buffers, sink: Callable[[np.ndarray, int], None], source: str | None = None, lam=None
    ) -> None:
        """denoise_buffers without keeping the output whole: rows go to ``sink(rows, y0)`` (an
        n×W×3 array of rows y0 … y0 + n − 1, valid during the call) in order as each row of tiles
        completes, and the budget counts one such band instead of the frame's output (a frame whose
        output alone would not fit, written as it is made: io.exr.ExrRowWriter; must_stream)."""
        self._denoise(buf, source, lam, sink)

    def _denoise(
        self, buf: Buffers, source: str | None, lam, sink: Callable[[np.ndarray, int], None] | None
    ) -> np.ndarray | None:
        t0 = time.perf_counter()
        needed, source = self._needed(buf, source)
        h, w = buf.shape
        self.last_sanitize_report, dirty = scan(buf)
        views = {n: _nchw(buf[n]) for n in needed}
        if lam is not None or self.has_lambda:
            views["lambda"] = self.lambda_map(1.0 if lam is None else lam, buf.shape)
        precision = self._precision_for(h * w)
        held = self._held_bytes(buf, views)
        plan = self.plan(h, w, source, held, "lambda" in views, precision, stream=sink is not None)
        if not plan.untiled:
            # tiles after the first reuse little heap that RSS keeps (memory.py)
            predictable_heap(self.maxmem_mb * 2**20)
        t1 = time.perf_counter()

        def run(part: dict[str, torch.Tensor]) -> torch.Tensor:
            x = {k: v if k == "lambda" else self._tile_input(v, k, dirty) for k, v in part.items()}
            return self._forward(x, source, precision)

        r = self.model.receptive_radius()
        out = np.empty((h if sink is None else min(h, plan.tile[0]), w, 3), np.float32)
        dst = _nchw(out)
        with torch.no_grad():
            for y0, y1, x0, x1, core, row_done in tile_cores(run, views, plan.tile, r, self._stride):
                band = y0 if sink is not None else 0  # a band buffer's rows start at its first row
                dst[..., y0 - band : y1 - band, x0:x1] = core
                if sink is not None and row_done:
                    rows = out[: y1 - y0]
                    torch.from_numpy(rows).clamp_(-VALUE_MAX, VALUE_MAX)
                    sink(rows, y0)
        t2 = time.perf_counter()
        if sink is None:
            torch.from_numpy(out).clamp_(-VALUE_MAX, VALUE_MAX)  # a no-op on any valid frame
        t3 = time.perf_counter()
        self.last_seconds = t3 - t1
        self.last_timings = {"scan_and_plan": t1 - t0, "tiles": t2 - t1, "clamp": t3 - t2}
        return out if sink is None else None

    def _held_bytes(self, buf: Buffers, views: dict[str, torch.Tensor]) -> int:
        """What the frame holds before the call: its planes (the caller's) and a λ map."""
        return sum(p.nbytes for p in buf.planes.values()) + (views["lambda"].nbytes if "lambda" in views else 0)

    def must_stream(self, buf: Buffers, source: str | None = None, lam=None) -> bool:
        """Whether this frame fits the budget only with its output written as it is made (sink):
        the whole output does not fit, a band of it does."""
        needed, source = self._needed(buf, source)
        h, w = buf.shape
        views = {n: _nchw(buf[n]) for n in needed}
        if lam is not None or self.has_lambda:
            views["lambda"] = self.lambda_map(1.0 if lam is None else lam, buf.shape)
        precision, held = self._precision_for(h * w), self._held_bytes(buf, views)
        try:
            self.plan(h, w, source, held, "lambda" in views, precision)
            return False
        except MemoryBudgetError:
            self.plan(h, w, source, held, "lambda" in views, precision, stream=True)  # or refused: raises
            return True

    # memory -------------------------------------------------------------------------------
    @property
    def _stride(self) -> int:
        return int(getattr(self.model, "stride", 1))

    def expect_pixels(self, pixels: int) -> None:
        """Tell the denoiser how many pixels the whole job has (e.g. all frames of a sequence):
        `precision='auto'` weighs bf16's one-time primitive creation against it."""
        self.job_pixels = int(pixels)

    def _precision_for(self, pixels: int) -> str:
        if self.requested_precision == "auto":
            self.precision = prec.resolve_for("auto", max(pixels, self.job_pixels), warm=self.precision == "bf16")
        return self.precision

    def bytes_per_pixel(self, source: str, lam: bool = False, precision: str | None = None) -> float:
        """Bytes one pixel of a tile (halo included) costs at the peak of a pass, measured on a probe
        tile (live tensors: input copies, activations, output) × memory.RSS_PER_LIVE; cached."""
        precision = precision or self.precision
        key = (source, lam, precision)
        if key not in self._bytes_per_pixel:
            size = max(128, 8 * self._stride)
            g = torch.Generator().manual_seed(0)
            names = self.reads(source) | {"albedo"}
            probe = {n: torch.rand(1, PLANES[n], size, size, generator=g) for n in names}
            if lam:
                probe["lambda"] = torch.ones(1, 1, size, size)

            def run() -> torch.Tensor:
                x = {k: v if k == "lambda" else self._tile_input(v, k, set()) for k, v in probe.items()}
                return self._forward(x, source, precision)

            with torch.no_grad():
                _, peak = peak_tensor_bytes(run)
            self._bytes_per_pixel[key] = peak / size**2 * RSS_PER_LIVE
        return self._bytes_per_pixel[key]

    def plan(
        self,
        h: int,
        w: int,
        source: str,
        held_bytes: int,
        lam: bool,
        precision: str | None = None,
        stream: bool = False,
    ) -> TilePlan:
        """How an h×w frame is cut within the budget, given the bytes the caller's planes (and a λ
        map) already hold; the output (12 B a pixel) is counted too, the whole frame's or with
        `stream` one row of tiles'. Refused (MemoryBudgetError) when the planes alone exceed the
        budget or the tiles would recompute > MAX_WORK×."""
        if not stream:
            plan = self._plan(h, w, source, held_bytes + 12 * h * w, lam, precision)
        else:  # the output is one row of tiles: find the rows whose band the plan's tiles fit with
            rows = self._stride
            for _ in range(4):
                plan = self._plan(h, w, source, held_bytes + 12 * w * rows, lam, precision)
                if min(h, plan.tile[0]) <= rows:
                    break
                rows = min(h, plan.tile[0])
            else:
                plan = self._plan(h, w, source, held_bytes + 12 * w * h, lam, precision)
        self.last_plan = plan
        return plan

    def _plan(self, h: int, w: int, source: str, fixed: int, lam: bool, precision: str | None) -> TilePlan:
        r, stride = self.model.receptive_radius(), self._stride
        budget = self.maxmem_mb * 2**20 * PLAN_SHARE
        pixels = -(-h // stride) * stride * (-(-w // stride) * stride)
        if fixed + pixels * PROBE_FREE_BYTES <= budget:
            plan = plan_tiles(h, w, r, stride, pixels)
        else:
            per_px = self.bytes_per_pixel(source, lam, precision)
            room = budget - fixed
            plan = plan_tiles(h, w, r, stride, int(room / per_px)) if room > 0 else None
            if plan is None or plan.work > MAX_WORK:
                raise MemoryBudgetError(self._refusal(h, w, fixed, per_px, plan))
        assert plan is not None
        return plan

    def _refusal(self, h: int, w: int, fixed: float, per_px: float, plan: TilePlan | None) -> str:
        r, stride = self.model.receptive_radius(), self._stride
        lo, hi = 1, -(-h // stride) * stride * (-(-w // stride) * stride)
        while lo < hi:  # the smallest tile (pixels) whose plan recomputes ≤ MAX_WORK×
            mid = (lo + hi) // 2
            p = plan_tiles(h, w, r, stride, mid)
            lo, hi = (lo, mid) if p is not None and p.work <= MAX_WORK else (mid + 1, hi)
        need = (fixed + lo * per_px) / PLAN_SHARE / 2**20
        why = (
            f"the frame's planes and output alone take {fixed / 2**20:.0f} MB"
            if plan is None and fixed >= self.maxmem_mb * 2**20 * PLAN_SHARE
            else "its tiles would be so small that they recompute "
            + (f"{plan.work:.1f}×" if plan is not None else "too much of")
            + f" the frame's work (at most {MAX_WORK:g}× is run)"
        )
        return (
            f"--maxmem {self.maxmem_mb} MB is too small for this {w}×{h} frame: {why}; it needs at least "
            f"{need:.0f} MB (planes and output {fixed / 2**20:.0f} MB, {per_px:.0f} B a tile pixel): "
            f"raise --maxmem (maxmem_mb) to {int(np.ceil(need))} or more"
        )

    def session(self, buf: Buffers, source: str | None = None) -> LambdaSession:
        """Interactive λ: features computed once, each λ re-runs only the specialiser tail."""
        return LambdaSession(self, buf, source)

    def _forward(self, inputs: dict[str, torch.Tensor], source: str, precision: str | None = None) -> torch.Tensor:
        lam = inputs.get("lambda")
        with prec.trunk(precision or self.precision):
            return self.model(inputs, source) if lam is None else self.model(inputs, source, lam=lam)

    @torch.no_grad()
    def run_tiled(self, inputs: dict[str, torch.Tensor], source: str, tile: int | None = None) -> torch.Tensor:
        """Run the model on whole-frame input tensors (sanitised, e.g. from prepare) in overlapping
        tiles whose cores cover the frame exactly: `tile` cores, or the cut the budget plans."""
        cut: int | tuple[int, int]
        if tile is None:
            h, w = next(iter(inputs.values())).shape[-2:]
            held = sum(v.nbytes for v in inputs.values())
            cut = self.plan(h, w, source, held, "lambda" in inputs).tile
        else:
            cut = tile
        return tile_apply(
            lambda part: self._forward(part, source), inputs, cut, self.model.receptive_radius(), stride=self._stride
        )


def _cached_bytes_per_pixel(model, inputs: dict[str, torch.Tensor], source: str, precision: str) -> float:
    """What a λ session keeps per pixel (inputs, features, the specialisers' λ-free part), measured
    on a 64² corner of the frame."""
    probe = {k: v[..., :64, :64] for k, v in inputs.items()}
    with torch.no_grad(), prec.trunk(precision):
        feats = model.features(probe, source)
        kept = [*probe.values(), *feats, *model.lambda_free(feats)]
    return sum(t.numel() * t.element_size() for t in kept) / (probe["color"].shape[-2] * probe["color"].shape[-1])


class LambdaSession:
    """A frame whose λ-independent features are cached (whole frame, untiled: a frame whose cache
    and tail would exceed the denoiser's memory budget is refused up front)."""

    def __init__(self, den: Denoiser, buf: Buffers, source: str | None = None):
        if not den.has_lambda:
            raise ValueError("this model has no λ control; load a model trained with configs/denoise_lambda.yaml")
        self.den, self.shape = den, buf.shape
        self.inputs, self.source = den.prepare(buf, source)
        h, w = buf.shape
        self.precision = den._precision_for(h * w)
        # the tail's transient activations are of the cache's sizes: peak RSS of a 1024² session and
        # one λ on the shipped `lambda` model was 1.0 KB/px with 0.46 KB/px cached (fp32)
        need_mb = h * w * 2.2 * _cached_bytes_per_pixel(den.model, self.inputs, self.source, self.precision) / 2**20
        if need_mb > den.maxmem_mb:
            raise ValueError(
                f"an interactive λ session on this {w}×{h} frame needs about {need_mb:.0f} MB, over the "
                f"{den.maxmem_mb} MB budget: raise --maxmem (maxmem_mb), or denoise at a fixed λ "
                f"(neurecon denoise --lambda), which tiles"
            )
        t = time.perf_counter()
        with torch.no_grad(), prec.trunk(self.precision):
            self.features = den.model.features(self.inputs, self.source)
            self.lambda_free = den.model.lambda_free(self.features)
        self.feature_seconds = time.perf_counter() - t
        self.last_seconds = 0.0

    @torch.no_grad()
    def denoise(self, lam=1.0) -> np.ndarray:
        t = time.perf_counter()
        with prec.trunk(self.precision):
            out = self.den.model.tail(
                self.features, self.inputs, self.den.lambda_map(lam, self.shape), self.lambda_free
            ).clamp_(-VALUE_MAX, VALUE_MAX)
        self.last_seconds = time.perf_counter() - t
        return out[0].permute(1, 2, 0).numpy()
