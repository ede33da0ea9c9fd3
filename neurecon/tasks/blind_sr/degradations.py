"""Blind-SR degradations: Gaussian blur (isotropic or anisotropic, 21×21), then the MATLAB bicubic
downsampling of :mod:`neurecon.tasks.sr.imresize` (×2, ×3, ×4), then optional noise and JPEG.

    LR = Q( JPEG( bicubic_down( HR ⊗ k_σ, s ) + n ) )

* ``k_σ``: a ``size``×``size`` Gaussian (21 by default) sampled at integer offsets from the centre
  and normalised to sum to one. Isotropic: ``σ``; anisotropic: ``σ_x``, ``σ_y`` and a rotation θ
  (covariance ``R(θ)·diag(σ_x², σ_y²)·R(θ)ᵀ``). ``σ ≤ 0`` is the delta kernel, and so is any σ small
  enough that every off-centre weight underflows to 0 (σ < ~0.026): blurring with a delta is
  skipped, so the degradation is then *exactly* the plain bicubic one (tested).
* the blur pads by reflection (``reflect``, OpenCV's BORDER_REFLECT_101), as BasicSR's degradations do;
  the bicubic step has its own MATLAB 'symmetric' edges.
* noise: additive white Gaussian on the LR image, std in 8-bit units (``noise: [0, 0]`` = none);
  JPEG: Pillow's encoder at a quality drawn from ``jpeg: [q_min, q_max]`` (``null`` = none);
  Q: clamp to [0, 1] and, with ``quantize``, round to 8 bits (the LR image stored as PNG).

Degradation codes — what the modulated generator is told and the actor estimates:

* ``sigma``: ``[σ]`` (isotropic kernels; the paper's setting);
* ``cov``: ``[Σ_xx, Σ_yy, Σ_xy] / 4`` (σ² units over 4), which names any Gaussian kernel uniquely
  (θ alone does not: θ and θ + π are the same kernel).

Training crops are degraded on the fly (:class:`BlindPairSampler`): an LR patch of ``p``² is cut
from an HR crop with a margin of 2 LR pixels (the ×s antialiased bicubic reads ±2 LR pixels) plus
the blur radius, and flips act on the HR crop before the blur, so every patch equals the same window
of the whole degraded image (up to float32 rounding; tested) — patches are never degraded with
edges the whole image does not have.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from ..sr.imresize import imresize

KERNEL_SIZE = 21
SIGMA_RANGE = (0.2, 4.0)
CODES = ("sigma", "cov")
CODE_DIMS = {"sigma": 1, "cov": 3}
LR_MARGIN = 2  # LR pixels of context the antialiased bicubic reads on each side, at any scale


def _offsets(size: int) -> np.ndarray:
    if size < 1 or size % 2 == 0:
        raise ValueError(f"blur kernel size must be odd and >= 1, got {size}")
    return np.arange(size, dtype=np.float64) - size // 2


def delta_kernel(size: int = KERNEL_SIZE) -> np.ndarray:
    k = np.zeros((size, size))
    k[size // 2, size // 2] = 1.0
    return k


def gaussian_1d(sigma: float, size: int = KERNEL_SIZE) -> np.ndarray:
    """A normalised 1-D Gaussian of ``size`` taps (a delta for σ ≤ 0)."""
    t = _offsets(size)
    if sigma <= 0:
        return (t == 0).astype(np.float64)
    g = np.exp(-0.5 * (t / sigma) ** 2)
    return g / g.sum()


def gaussian_kernel(
    sigma: float, size: int = KERNEL_SIZE, sigma_y: float | None = None, theta: float = 0.0
) -> np.ndarray:
    """``size``×``size`` Gaussian kernel (float64, sums to one). Isotropic with ``sigma`` alone;
    anisotropic with ``sigma_y`` and the rotation ``theta`` (radians) of the ``sigma`` axis from x."""
    if sigma_y is None or (sigma_y == sigma and sigma > 0):
        g = gaussian_1d(sigma, size)
        return np.outer(g, g)  # the product of normalised 1-D kernels is normalised
    if sigma <= 0 or sigma_y <= 0:
        raise ValueError(f"an anisotropic kernel needs σ_x, σ_y > 0, got {sigma}, {sigma_y}")
    c, s = math.cos(theta), math.sin(theta)
    rot = np.array([[c, -s], [s, c]])
    cov = rot @ np.diag([sigma**2, sigma_y**2]) @ rot.T
    inv = np.linalg.inv(cov)
    t = _offsets(size)
    yy, xx = np.meshgrid(t, t, indexing="ij")
    q = inv[0, 0] * xx * xx + 2 * inv[0, 1] * xx * yy + inv[1, 1] * yy * yy
    k = np.exp(-0.5 * q)
    return k / k.sum()


def is_delta(k: np.ndarray | torch.Tensor) -> bool:
    """One weight of exactly 1 at the centre, every other exactly 0."""
    a = np.asarray(k.detach().cpu() if isinstance(k, torch.Tensor) else k)
    c = a.shape[-1] // 2
    return bool(a[..., c, c].min() == 1.0 and np.count_nonzero(a) == a.size // (a.shape[-1] * a.shape[-2]))


@dataclass(frozen=True)
class Kernel:
    """A Gaussian blur: σ_x, σ_y (equal: isotropic) and θ (radians)."""

    sigma_x: float
    sigma_y: float
    theta: float = 0.0

    @property
    def isotropic(self) -> bool:
        return self.sigma_x == self.sigma_y

    def array(self, size: int = KERNEL_SIZE) -> np.ndarray:
        if self.isotropic:
            return gaussian_kernel(self.sigma_x, size)
        return gaussian_kernel(self.sigma_x, size, self.sigma_y, self.theta)

    def code(self, kind: str = "sigma") -> list[float]:
        if kind == "sigma":
            if not self.isotropic:
                raise ValueError("the 'sigma' code describes isotropic kernels only; use code: cov")
            return [float(self.sigma_x)]
        if kind == "cov":
            c, s = math.cos(self.theta), math.sin(self.theta)
            sx2, sy2 = self.sigma_x**2, self.sigma_y**2
            return [(c * c * sx2 + s * s * sy2) / 4, (s * s * sx2 + c * c * sy2) / 4, (c * s * (sx2 - sy2)) / 4]
        raise ValueError(f"unknown degradation code '{kind}'; choose {', '.join(CODES)}")


def isotropic(sigma: float) -> Kernel:
    return Kernel(float(sigma), float(sigma), 0.0)


def sample_kernel(rng: np.random.Generator, kind: str = "isotropic", sigma=SIGMA_RANGE) -> Kernel:
    """A random kernel: σ uniform in ``sigma`` (isotropic), or σ_x, σ_y uniform and θ uniform in
    [0, π) (anisotropic)."""
    lo, hi = float(sigma[0]), float(sigma[1])
    if kind == "isotropic":
        return isotropic(lo + (hi - lo) * rng.random())
    if kind == "anisotropic":
        sx, sy = lo + (hi - lo) * rng.random(), lo + (hi - lo) * rng.random()
        return Kernel(sx, sy, math.pi * rng.random())
    raise ValueError(f"unknown kernel kind '{kind}'; choose isotropic or anisotropic")


# --- applying kernels ---------------------------------------------------------------------------
def blur(x: torch.Tensor, kernels: torch.Tensor, pad: bool = True) -> torch.Tensor:
    """Per-sample blur of N×C×H×W by N×K×K (or one K×K) kernels, correlation (the kernels here are
    symmetric under 180° rotation, so correlation = convolution). ``pad``: reflect-pad by K//2 (size
    kept); otherwise the valid part (H − K + 1)."""
    n, c = x.shape[:2]
    k = kernels if kernels.ndim == 3 else kernels[None].expand(n, -1, -1)
    size = k.shape[-1]
    if pad:
        x = F.pad(x, (size // 2,) * 4, mode="reflect")
    w = k.to(x.dtype).repeat_interleave(c, dim=0)[:, None]  # (N·C)×1×K×K
    out = F.conv2d(x.reshape(1, n * c, *x.shape[-2:]), w, groups=n * c)
    return out.reshape(n, c, *out.shape[-2:])


def blur_separable(x: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
    """Valid per-sample blur of N×C×H×W by the outer products of N×K 1-D kernels (isotropic
    Gaussians): two 1-D passes, K/2× cheaper than :func:`blur`."""
    n, c, h, w = x.shape
    size = g.shape[-1]
    wt = g.to(x.dtype).repeat_interleave(c, dim=0)
    y = F.conv2d(x.reshape(1, n * c, h, w), wt[:, None, :, None], groups=n * c)
    y = F.conv2d(y, wt[:, None, None, :], groups=n * c)
    return y.reshape(n, c, h - size + 1, w - size + 1)


def add_noise(lr: np.ndarray, std8: float, rng: np.random.Generator) -> np.ndarray:
    return lr + rng.normal(0.0, std8 / 255.0, size=lr.shape) if std8 > 0 else lr


def jpeg(lr: np.ndarray, quality: int) -> np.ndarray:
    """Pillow JPEG round trip of an H×W×3 image in [0, 1] (4:2:0, as most JPEGs are)."""
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(np.round(np.clip(lr, 0, 1) * 255).astype(np.uint8)).save(buf, "JPEG", quality=int(quality))
    buf.seek(0)
    with Image.open(buf) as im:
        return np.asarray(im.convert("RGB"), dtype=np.float64) / 255.0


def finish(lr: np.ndarray, noise8: float, quality: int | None, quantize: bool, rng) -> np.ndarray:
    lr = add_noise(lr, noise8, rng) if noise8 > 0 else lr
    lr = np.clip(lr, 0.0, 1.0)
    if quality is not None:
        lr = jpeg(lr, quality)
    if quantize:
        lr = np.round(lr * 255.0) / 255.0
    return lr


def degrade(
    hr: np.ndarray,
    kernel: Kernel | np.ndarray,
    scale: int,
    noise8: float = 0.0,
    quality: int | None = None,
    quantize: bool = True,
    rng: np.random.Generator | None = None,
) -> np.ndarray:
    """The whole-image degradation: H×W×3 float in [0, 1] (H, W multiples of ``scale``) → LR
    float32. A delta kernel skips the blur, so ``degrade(hr, isotropic(0), s)`` is exactly
    ``clip(imresize(hr, 1/s))`` (rounded to 8 bits with ``quantize``)."""
    k = kernel.array() if isinstance(kernel, Kernel) else np.asarray(kernel, dtype=np.float64)
    x = np.asarray(hr, dtype=np.float64)
    if not is_delta(k):
        t = torch.from_numpy(np.ascontiguousarray(x)).permute(2, 0, 1)[None]
        if isinstance(kernel, Kernel) and kernel.isotropic:  # separable: two 1-D passes, same kernel
            r = k.shape[-1] // 2
            g = torch.from_numpy(gaussian_1d(kernel.sigma_x, k.shape[-1]))[None]
            out = blur_separable(F.pad(t, (r,) * 4, mode="reflect"), g)
        else:
            out = blur(t, torch.from_numpy(k))
        x = out.squeeze(0).permute(1, 2, 0).numpy()
    lr = imresize(x, 1.0 / scale)
    out = finish(lr, noise8, quality, quantize, rng if rng is not None else np.random.default_rng(0))
    return out.astype(np.float32)


# --- training pairs ---------------------------------------------------------------------------
@dataclass
class BlindImage:
    name: str
    hr: np.ndarray  # H×W×3 float32 in [0, 1], mod-cropped
    padded: torch.Tensor  # 3×(H+2r)×(W+2r), reflect-padded by the blur radius r


def prepare_images(items: list[tuple[str, np.ndarray]], scale: int, size: int = KERNEL_SIZE) -> list[BlindImage]:
    from ..sr.imresize import modcrop

    out = []
    for name, a8 in items:
        hr = modcrop(a8, scale).astype(np.float32) / 255.0
        t = torch.from_numpy(np.ascontiguousarray(hr)).permute(2, 0, 1)[None]
        out.append(BlindImage(name, hr, F.pad(t, (size // 2,) * 4, mode="reflect")[0]))
    return out


class BlindPairSampler:
    """Random (LR, HR, code) batches, degraded on the fly with a fresh kernel per sample.

    ``degradation``: the task's ``degradation`` section (kernel, sigma, size, noise, jpeg,
    quantize); ``code``: sigma | cov. Each batch: ``lr`` N×3×p×p, ``hr`` N×3×sp×sp, ``code`` N×D,
    ``sigma`` N (σ_x) — all random numbers from one numpy Generator (its state is the sampler's,
    saved for exact resume).
    """

    def __init__(
        self,
        images: list[BlindImage],
        scale: int,
        patch: int,
        batch: int,
        degradation: dict,
        code: str = "sigma",
        augment: bool = True,
        seed: int = 0,
    ):
        if not images:
            raise ValueError("no training images")
        self.images, self.scale, self.patch, self.batch, self.aug = images, scale, patch, batch, augment
        self.deg, self.code = degradation, code
        self.size = int(degradation.get("size", KERNEL_SIZE))
        if code not in CODES:
            raise ValueError(f"unknown degradation code '{code}'; choose {', '.join(CODES)}")
        if code == "sigma" and degradation.get("kernel", "isotropic") != "isotropic":
            raise ValueError("code: sigma needs kernel: isotropic (anisotropic kernels need code: cov)")
        need = patch + 2 * LR_MARGIN
        small = [im.name for im in images if min(im.hr.shape[:2]) // scale < need]
        if small:
            raise ValueError(f"LR of {small} smaller than the patch {patch} plus its margin {2 * LR_MARGIN}")
        self.rng = np.random.default_rng(seed)

    def sample(self) -> dict[str, torch.Tensor]:
        s, p, r, m = self.scale, self.patch, self.size // 2, LR_MARGIN
        d = self.deg
        crops, kernels, codes, sigmas = [], [], [], []
        for _ in range(self.batch):
            im = self.images[int(self.rng.integers(len(self.images)))]
            h, w = im.hr.shape[0] // s, im.hr.shape[1] // s
            i = int(self.rng.integers(m, h - p - m + 1))
            j = int(self.rng.integers(m, w - p - m + 1))
            # padded coordinates: HR row s·(i − m) of the image is row s·(i − m) + r − r of `padded`
            y0, x0 = s * (i - m), s * (j - m)
            crop = im.padded[:, y0 : y0 + s * (p + 2 * m) + 2 * r, x0 : x0 + s * (p + 2 * m) + 2 * r]
            if self.aug:
                hf, vf, tr = self.rng.integers(2, size=3).astype(bool)
                crop = crop.flip(-1) if hf else crop
                crop = crop.flip(-2) if vf else crop
                crop = crop.transpose(-1, -2) if tr else crop
            k = sample_kernel(self.rng, d.get("kernel", "isotropic"), d.get("sigma", SIGMA_RANGE))
            crops.append(crop)
            kernels.append(k)
            codes.append(k.code(self.code))
            sigmas.append(k.sigma_x)
        x = torch.stack(crops)
        if all(k.isotropic for k in kernels):
            g = torch.from_numpy(np.stack([gaussian_1d(k.sigma_x, self.size) for k in kernels]))
            blurred = blur_separable(x, g.float())
        else:
            kk = torch.from_numpy(np.stack([k.array(self.size) for k in kernels]))
            blurred = blur(x, kk.float(), pad=False)
        hr = x[..., r + s * m : r + s * (m + p), r + s * m : r + s * (m + p)]
        lr = imresize(blurred, 1.0 / s)[..., m : m + p, m : m + p]
        noise = d.get("noise") or [0, 0]
        quality = d.get("jpeg")
        if noise[1] > 0 or quality is not None:
            arrs = []
            for n in range(self.batch):
                a = lr[n].permute(1, 2, 0).double().numpy()
                std = float(noise[0] + (noise[1] - noise[0]) * self.rng.random()) if noise[1] > 0 else 0.0
                q = int(self.rng.integers(int(quality[0]), int(quality[1]) + 1)) if quality is not None else None
                arrs.append(finish(a, std, q, d.get("quantize", True), self.rng))
            lr = torch.from_numpy(np.stack(arrs)).permute(0, 3, 1, 2).float()
        else:
            lr = lr.clamp(0, 1)
            lr = torch.round(lr * 255.0) / 255.0 if d.get("quantize", True) else lr
        return {
            "lr": lr.contiguous(),
            "hr": hr.contiguous(),
            "code": torch.tensor(codes, dtype=torch.float32),
            "sigma": torch.tensor(sigmas, dtype=torch.float32),
        }
