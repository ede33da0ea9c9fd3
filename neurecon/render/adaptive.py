"""Per-pixel sample counts with Mitsuba 3: exact accumulation of means and variances of the mean.

Mitsuba's own adaptive work (the ``adaptive_sampling`` branch, ``ad/integrators/adaptive.py``)
compresses the wavefront to the active pixels; masked lanes would still be traced. Here a pass is a
list of pixel indices, each repeated by its sample count: one lane per sample, rays from
``sensor.sample_ray_differential`` at the pixel position plus a jitter from an independent sampler,
radiance and features from ``aov(<the scene's integrator>).sample()``, and per-pixel sum, sum of
squares and count summed in float64. That is a box pixel filter by construction (a sample only ever
lands in its own pixel), so sums of passes are exact statistics of all the samples taken, and
allocation may depend on any completed pass without biasing the mean of a pixel beyond what its own
samples say. A pass is cut into work units of whole rows (bands()), each seeded by (pass seed,
unit): units render in any process (render/shard.py) with the same result.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from ..buffers import Buffers
from .mitsuba_backend import MAX_SAMPLES_PER_PASS, mitsuba

# aov channels, in the order the aov integrator returns them after the nested integrator's RGBA
AOVS = "albedo:albedo,nn:sh_normal,pos:position,dd:depth"
PLANES: dict[str, int] = {"color": 3, "albedo": 3, "normal": 3, "position": 3, "depth": 1}
VAR_PLANES = {"color": "color_var", "albedo": "albedo_var", "normal": "normal_var", "depth": "depth_var"}


# a work unit of a pass (bands()): ~2^18 samples keep a wavefront's fixed cost (tracing the
# integrator, codegen, transfers) small next to its rays and let N processes share a frame
BAND_SAMPLES = 1 << 18
CHANNELS = sum(PLANES.values())


def pass_seed(seed: int, *keys: int) -> int:
    """A uint32 Mitsuba seed per (pass seed, band[, chunk]): hashed, so no arithmetic overflows."""
    return int(np.random.SeedSequence([seed, *keys]).generate_state(1)[0])


@dataclass
class BandStats:
    """Per-pixel sample count, sums and sums of squares (the CHANNELS in PLANES order) of the
    contiguous flat pixels start, start + 1, …: one work unit's share of a pass."""

    start: int
    count: np.ndarray  # (n,) int64
    sums: np.ndarray  # (n, CHANNELS) float64
    squares: np.ndarray


@dataclass
class SampleStats:
    """Per-pixel sum, sum of squares (float64) and sample count of every plane; adding two
    SampleStats is exact pooling of their samples."""

    height: int
    width: int
    sums: dict[str, np.ndarray] = field(default_factory=dict)
    squares: dict[str, np.ndarray] = field(default_factory=dict)
    count: np.ndarray | None = None

    def __post_init__(self) -> None:
        if self.count is None:
            self.count = np.zeros((self.height, self.width), np.int64)
        for name, c in PLANES.items():
            self.sums.setdefault(name, np.zeros((self.height, self.width, c)))
            self.squares.setdefault(name, np.zeros((self.height, self.width, c)))

    @property
    def counts(self) -> np.ndarray:
        assert self.count is not None
        return self.count

    def __iadd__(self, other: SampleStats) -> SampleStats:
        if (other.height, other.width) != (self.height, self.width):
            raise ValueError(f"cannot pool {other.width}×{other.height} samples into {self.width}×{self.height}")
        for name in PLANES:
            self.sums[name] += other.sums[name]
            self.squares[name] += other.squares[name]
        self.count = self.counts + other.counts
        return self

    def add_band(self, band: BandStats) -> None:
        """Pool one work unit's samples into its pixels."""
        sl = slice(band.start, band.start + band.count.size)
        self.counts.reshape(-1)[sl] += band.count
        c = 0
        for name, ch in PLANES.items():
            self.sums[name].reshape(-1, ch)[sl] += band.sums[:, c : c + ch]
            self.squares[name].reshape(-1, ch)[sl] += band.squares[:, c : c + ch]
            c += ch

    @property
    def total(self) -> int:
        return int(self.counts.sum())

    def mean(self, name: str) -> np.ndarray:
        n = np.maximum(self.counts, 1)[..., None]
        return self.sums[name] / n

    def variance_of_mean(self, name: str) -> np.ndarray:
        """Unbiased sample variance / n (the data contract); 0 where a pixel has < 2 samples."""
        n = self.counts[..., None].astype(np.float64)
        mu = self.sums[name] / np.maximum(n, 1)
        # Σ(x − μ)² = Σx² − nμ²; rounding may leave a tiny negative, which is 0
        ss = np.maximum(self.squares[name] - n * mu * mu, 0.0)
        return np.where(n > 1, ss / np.maximum(n - 1, 1) / np.maximum(n, 1), 0.0)

    def buffers(self) -> Buffers:
        """Means (float32) and variances of the mean, the planes neurecon's renders write."""
        out = {name: self.mean(name).astype(np.float32) for name in PLANES}
        for name, var in VAR_PLANES.items():
            out[var] = self.variance_of_mean(name).astype(np.float32)
        return Buffers(out)


def plain_integrator(scene: dict) -> dict:
    """A scene dict whose moment/aov integrator stack (render/mitsuba_backend.integrator) is
    replaced by the integrator inside it: the adaptive renderer adds its own aov and moments."""
    integ = scene.get("integrator")
    while isinstance(integ, dict) and integ.get("type") in ("moment", "aov"):
        integ = integ.get("nested", integ.get("integrator"))
    return {**scene, "integrator": integ} if integ is not None else scene


class SceneLoadError(ValueError):
    """A scene that Mitsuba cannot load or that neurecon cannot render adaptively."""


class AdaptiveRenderer:
    """Renders arbitrary per-pixel sample counts of one Mitsuba scene (its first sensor, its own
    integrator wrapped in ``aov`` for albedo, shading normal, position and depth), each pass in
    work units of at most `band_samples` samples (bands(); part of what seeds the samples)."""

    def __init__(self, scene, band_samples: int = BAND_SAMPLES):
        mi = self.mi = mitsuba()
        self.band_samples = band_samples
        if isinstance(scene, dict):
            try:
                scene = mi.load_dict(plain_integrator(scene))
            except Exception as e:  # Mitsuba raises RuntimeError with its parser's message
                raise SceneLoadError(f"Mitsuba could not load the scene: {e}") from None
        self.scene = scene
        if not scene.sensors():
            raise SceneLoadError("the scene has no sensor")
        self.sensor = scene.sensors()[0]
        nested = scene.integrator()
        if nested is None or not isinstance(nested, mi.SamplingIntegrator):
            raise SceneLoadError(
                f"the scene's integrator ({type(nested).__name__}) is not a sampling integrator; "
                "adaptive rendering traces rays with its sample() (use path, volpath, …)"
            )
        if nested.aov_names():  # moment/aov stacks would break the channel order and double the work
            raise SceneLoadError(
                f"the scene's integrator already writes AOVs ({', '.join(nested.aov_names())}); "
                "give a plain integrator (path, volpath, …): neurecon adds the aov and moment parts"
            )
        self.integrator = mi.load_dict({"type": "aov", "aovs": AOVS, "integrator": nested})
        names = list(self.integrator.aov_names())
        self._first_aov = names.index("albedo.R")
        self.width, self.height = (int(v) for v in self.sensor.film().crop_size())

    @property
    def shape(self) -> tuple[int, int]:
        return self.height, self.width

    def _check_counts(self, counts) -> np.ndarray:
        c = np.asarray(counts)
        if c.shape != self.shape:
            raise ValueError(f"sample counts are {c.shape}, the film is {self.height}×{self.width}")
        if c.dtype.kind not in "iu":
            if not np.all(np.isfinite(c)) or np.any(c != np.round(c)):
                raise ValueError("sample counts must be whole numbers")
        c = c.astype(np.int64)
        if c.min(initial=0) < 0:
            raise ValueError("sample counts must be ≥ 0")
        return c

    def trace(self, pixels: np.ndarray, seed: int):
        """Trace one sample per entry of `pixels` (flat indices y·W + x), one wavefront, seeded by
        `seed`; returns the Dr.Jit index array and the list of per-sample channel values
        (R, G, B, albedo RGB, normal XYZ, position XYZ, depth)."""
        mi = self.mi
        import drjit as dr

        n = int(pixels.size)
        sensor, w = self.sensor, self.width
        sampler = mi.load_dict({"type": "independent"})
        # an opaque seed: a literal one would be baked into the kernel and recompile it every pass
        sampler.seed(dr.opaque(mi.UInt32, seed), n)
        idx = mi.UInt32(pixels.astype(np.uint32))
        # a pixel's continuous position: its corner plus a uniform jitter (box filter)
        pos = mi.Vector2f(mi.Float(idx % w), mi.Float(idx // w)) + sampler.next_2d()
        pos = pos / mi.ScalarVector2f(self.width, self.height)
        aperture = sampler.next_2d() if sensor.needs_aperture_sample() else mi.Vector2f(0.5)
        time = mi.Float(sensor.shutter_open())
        if sensor.shutter_open_time() > 0:
            time += sampler.next_1d() * sensor.shutter_open_time()
        wavelength = sampler.next_1d() if mi.is_spectral else mi.Float(0.5)
        ray, weight = sensor.sample_ray_differential(time=time, sample1=wavelength, sample2=pos, sample3=aperture)
        radiance, _, aovs = self.integrator.sample(self.scene, sampler, ray, None, True)
        radiance = radiance * weight
        if mi.is_spectral:
            radiance = mi.spectrum_to_srgb(radiance, ray.wavelengths)
        feats = list(aovs)[self._first_aov : self._first_aov + 10]
        values = [radiance[0], radiance[1], radiance[2], *feats]
        # a NaN/Inf sample would poison its pixel's sums for good: it counts as 0
        values = [dr.select(dr.isfinite(v), v, 0.0) for v in values]
        return idx, values

    def render_band(self, start: int, counts: np.ndarray, band: int, seed: int) -> BandStats:
        """The samples of one work unit (bands()): counts[i] samples in flat pixel start + i, seeded
        by (seed, band) alone, so the result does not depend on which process renders it."""
        import drjit as dr

        c = np.asarray(counts, np.int64).ravel()
        pixels = np.repeat(np.arange(start, start + c.size, dtype=np.uint32), c)
        sums, squares = np.zeros((c.size, CHANNELS)), np.zeros((c.size, CHANNELS))
        # one wavefront unless a single pixel holds more than MAX_SAMPLES_PER_PASS samples
        for k, lo in enumerate(range(0, pixels.size, MAX_SAMPLES_PER_PASS)):
            part = pixels[lo : lo + MAX_SAMPLES_PER_PASS]
            idx, values = self.trace(part, pass_seed(seed, band, *([k] if k else [])))
            dr.eval(values)
            # lanes are pixel-major: each pixel's samples are one run, summed in lane order in
            # float64 (deterministic, unlike atomic scatter-adds across Dr.Jit threads)
            runs = np.flatnonzero(np.r_[True, part[1:] != part[:-1]])
            at = part[runs] - start
            for ch, x in enumerate(values):
                x64 = np.asarray(x).astype(np.float64)
                sums[at, ch] += np.add.reduceat(x64, runs)
                squares[at, ch] += np.add.reduceat(x64 * x64, runs)
        return BandStats(start, c.copy(), sums, squares)

    def render_counts(self, counts, seed: int) -> SampleStats:
        """One pass: counts[y, x] samples in pixel (y, x), rendered unit by unit (bands())."""
        c = self._check_counts(counts)
        stats = SampleStats(self.height, self.width)
        for b, (lo, hi) in enumerate(bands(c, self.band_samples)):
            stats.add_band(self.render_band(lo, c.ravel()[lo:hi], b, seed))
        return stats

    def render_uniform(self, spp: int, seed: int) -> SampleStats:
        if spp < 1:
            raise ValueError(f"spp must be ≥ 1, got {spp}")
        return self.render_counts(np.full(self.shape, spp, np.int64), seed)


def bands(counts: np.ndarray, band_samples: int = BAND_SAMPLES) -> list[tuple[int, int]]:
    """A pass's work units: flat pixel ranges [start, stop) of whole rows holding at most
    `band_samples` samples (a row with more is cut at pixels; a pixel with more is a unit alone).
    They depend on the counts only, so every process of a sharded render cuts the same bands."""
    c = np.asarray(counts, np.int64)
    h, w = c.shape
    rows = c.sum(1)
    out: list[tuple[int, int]] = []
    lo, held = 0, 0
    for y in range(h):
        if held and held + rows[y] > band_samples:
            out.append((lo, y * w))
            lo, held = y * w, 0
        if rows[y] <= band_samples:
            held += int(rows[y])
            continue
        if lo < y * w:
            out.append((lo, y * w))
        cum = np.cumsum(c[y])
        x = 0
        while x < w:  # greedy over the row's pixels, at least one per unit
            stop = max(x + 1, int(np.searchsorted(cum, (cum[x - 1] if x else 0) + band_samples, "right")))
            out.append((y * w + x, y * w + stop))
            x = stop
        lo, held = (y + 1) * w, 0
    if lo < h * w:
        out.append((lo, h * w))
    return out


def allocate(weights, total: int, cap: float = 8.0, minimum: int = 1) -> np.ndarray:
    """Integer per-pixel counts summing exactly to `total`: `minimum` each, the rest in proportion
    to `weights`, no pixel above `cap` × the mean (total / pixels), filled like water (the excess of
    capped pixels goes to the others), rounded by largest remainder. Non-finite or negative weights
    count as 0; all-zero weights give a uniform allocation."""
    w = np.asarray(weights, np.float64)
    npix = w.size
    if total < minimum * npix:
        raise ValueError(f"a pass of {total} samples cannot give {minimum} to each of {npix} pixels")
    w = np.where(np.isfinite(w) & (w > 0), w, 0.0).ravel()
    if w.sum() <= 0:
        w = np.ones_like(w)
    limit = max(minimum, int(np.floor(cap * total / npix)))  # whole samples: floor keeps it ≤ cap × mean
    if limit * npix < total:
        raise ValueError(f"a cap of {cap:g}× the mean leaves no way to place {total} samples in {npix} pixels")
    extra = np.zeros(npix)
    free = np.ones(npix, bool)
    left = float(total - minimum * npix)
    for _ in range(npix):  # each round caps at least one pixel, or ends
        share = np.zeros(npix)
        ws = w[free].sum()
        if ws <= 0 or left <= 0:
            break
        share[free] = left * w[free] / ws
        over = free & (minimum + extra + share > limit)
        if not over.any():
            extra += share
            left = 0.0
            break
        left -= float((limit - minimum - extra[over]).sum())
        extra[over] = limit - minimum
        free &= ~over
    if left > 1e-9:  # every weighted pixel capped: the rest goes evenly to the uncapped ones
        room = limit - minimum - extra
        extra += left * room / room.sum()
    exact = minimum + extra
    counts = np.floor(exact).astype(np.int64)
    short = int(total - counts.sum())
    if short > 0:
        frac = exact - counts
        frac[counts >= limit] = -np.inf  # never above the cap
        counts[np.argsort(-frac, kind="stable")[:short]] += 1
    return counts.reshape(np.shape(weights))


def pass_schedule(budget: int, first: int | None = None) -> list[int]:
    """Totals (in average spp) after each pass: start at 16 (a quarter of budgets below 64, so
    small budgets adapt too), double each pass, end at exactly `budget`."""
    if budget < 1:
        raise ValueError(f"the budget must be ≥ 1 spp, got {budget}")
    start = first if first is not None else max(1, min(16, budget // 4))
    totals = [min(start, budget)]
    while totals[-1] < budget:
        totals.append(min(2 * totals[-1], budget))
    return totals


# guides: (buffers of the completed passes, their per-pixel counts) -> per-pixel weights ≥ 0
Guide = Callable[[Buffers, np.ndarray], np.ndarray]


def uniform_guide(buf: Buffers, counts: np.ndarray) -> np.ndarray:
    return np.ones(buf.shape)


def relative_variance(buf: Buffers, eps: float = 1e-3) -> np.ndarray:
    """Per-pixel relative variance of the colour mean, σ²(μ) / (μ² + ε), averaged over RGB: the
    classic guide that ignores the denoiser (Rousselle et al. 2011, Vogels §5's baseline)."""
    mu = np.asarray(buf["color"], np.float64)
    return (np.asarray(buf["color_var"], np.float64) / (mu * mu + eps)).mean(-1)


def variance_guide(buf: Buffers, counts: np.ndarray) -> np.ndarray:
    return relative_variance(buf)


@dataclass
class AdaptiveResult:
    stats: SampleStats
    passes: list[dict]  # per pass: total average spp after it, its samples, seconds (render, guide)
    weights: list[np.ndarray]  # the guide's map before each adaptive pass
    counts: list[np.ndarray]  # each pass's per-pixel counts (a replay renders the same samples)
    seeds: list[int]  # each pass's seed

    @property
    def render_seconds(self) -> float:
        return sum(p["render_seconds"] for p in self.passes)


def adaptive_render(
    renderer: AdaptiveRenderer,
    budget: int,
    guide: Guide,
    seed: int = 0,
    cap: float = 8.0,
    first: int | None = None,
) -> AdaptiveResult:
    """The sampling loop: a uniform first pass (pass_schedule), then each pass doubles the total
    and places its samples in proportion to ``guide`` evaluated on the completed passes only, at
    least 1 and at most `cap` × the pass's mean per pixel; the total is exactly budget × pixels."""
    totals = pass_schedule(budget, first)
    npix = renderer.width * renderer.height
    t = time.perf_counter()
    counts = [np.full(renderer.shape, totals[0], np.int64)]
    seeds = [pass_seed(seed, 0)]
    stats = renderer.render_counts(counts[0], seeds[0])
    passes = [{"total_spp": totals[0], "samples": totals[0] * npix, "render_seconds": time.perf_counter() - t}]
    weights = []
    for k in range(1, len(totals)):
        t = time.perf_counter()
        w = np.asarray(guide(stats.buffers(), stats.counts), np.float64)
        if w.shape != renderer.shape:
            raise ValueError(f"the guide returned a {w.shape} map for a {renderer.height}×{renderer.width} frame")
        weights.append(w)
        t_guide = time.perf_counter() - t
        new = (totals[k] - totals[k - 1]) * npix
        counts.append(allocate(w, new, cap=cap))
        seeds.append(pass_seed(seed, k))
        t = time.perf_counter()
        stats += renderer.render_counts(counts[-1], seeds[-1])
        passes.append(
            {
                "total_spp": totals[k],
                "samples": new,
                "render_seconds": time.perf_counter() - t,
                "guide_seconds": t_guide,
                "max_spp": int(counts[-1].max()),
            }
        )
    return AdaptiveResult(stats, passes, weights, counts, seeds)


def write_frame(path, stats: SampleStats, extra: dict[str, np.ndarray] | None = None) -> None:
    """One multi-layer EXR: every buffer neurecon reads (Mitsuba names, variances of the mean),
    the per-pixel sample count as ``spp.Y`` and any `extra` H×W planes (``name.Y``)."""
    from ..io import buffers_to_channels, write_exr_channels

    channels = buffers_to_channels(stats.buffers())
    channels["spp.Y"] = stats.counts.astype(np.float32)
    for name, plane in (extra or {}).items():
        channels[f"{name}.Y"] = np.asarray(plane, np.float32)
    write_exr_channels(path, channels)
