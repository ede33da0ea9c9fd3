"""Paired SR data: HR images → (LR, HR) pairs with the MATLAB bicubic degradation, random LR crops,
flips and 90° rotations.

Pixel values are the *stored* sRGB code values scaled to [0, 1] (read with Pillow, no
linearisation): SR networks and their benchmarks work on display-referred 8-bit images, unlike the
linear-HDR denoising side (``neurecon.io.read_image`` decodes to linear — not used here).

Sources (``task.data.train`` / ``task.data.valid``):

* ``demo`` — the photographs bundled with scikit-image (no download), split by image:
    - train (:data:`DEMO_TRAIN`): astronaut, rocket, hubble_deep_field, immunohistochemistry,
      retina, the two views of stereo_motorcycle, and the greyscale photographs camera, brick,
      grass, gravel, moon, coins, clock (replicated to RGB);
    - valid (:data:`DEMO_VALID`): chelsea (= ``skimage.data.cat``) and coffee.
* a folder of HR images (DIV2K-style ``DIV2K_train_HR/``): every .png/.jpg/.jpeg/.bmp/.tif/.tiff/.webp
  in it, sorted by name (``limit`` keeps the first N). All images are held in memory (uint8 HR +
  float32 LR), ~12 bytes per HR pixel at ×2: fine for DIV2K-valid or a few hundred 2K images.
* a list of folders/files.

HR images are mod-cropped to a multiple of the scale; LR = ``imresize(HR, 1/scale)`` (antialiased
MATLAB bicubic) clamped to [0, 1] and, with ``quantize_lr`` (default), rounded to 8 bits as when
LR images are stored as PNG (the DIV2K convention).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from .imresize import bicubic_down, modcrop

IMAGE_EXTS = {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp"}
DEMO_TRAIN = [
    "astronaut",
    "rocket",
    "hubble_deep_field",
    "immunohistochemistry",
    "retina",
    "motorcycle_left",
    "motorcycle_right",
    "camera",
    "brick",
    "grass",
    "gravel",
    "moon",
    "coins",
    "clock",
]
DEMO_VALID = ["chelsea", "coffee"]


def _as_rgb8(a: np.ndarray) -> np.ndarray:
    a = np.asarray(a)
    if a.dtype == bool:
        a = a.astype(np.uint8) * 255
    if a.dtype != np.uint8:
        a = np.clip(np.round(a.astype(np.float64) * (255.0 if a.max() <= 1.0 else 1.0)), 0, 255).astype(np.uint8)
    if a.ndim == 2:
        a = np.repeat(a[..., None], 3, axis=2)
    if a.shape[2] == 4:
        a = a[..., :3]
    return np.ascontiguousarray(a)


def demo_image(name: str) -> np.ndarray:
    """One bundled scikit-image photograph as H×W×3 uint8."""
    try:
        import skimage.data as sd
    except ImportError as e:  # pragma: no cover
        raise ImportError("the built-in SR demo set needs scikit-image (pip install 'neurecon[sr]')") from e
    if name in ("motorcycle_left", "motorcycle_right"):
        left, right, _ = sd.stereo_motorcycle()
        return _as_rgb8(left if name == "motorcycle_left" else right)
    if not hasattr(sd, name):
        raise ValueError(f"unknown scikit-image demo image '{name}'")
    return _as_rgb8(getattr(sd, name)())


def read_rgb8(path: str | Path) -> np.ndarray:
    """An image file as H×W×3 uint8 sRGB code values (alpha dropped, grey replicated), within
    the read budget (:func:`neurecon.io.ldr.open_image`)."""
    from ...io.ldr import open_image

    with open_image(path) as im:
        if im.mode in ("I;16", "I;16B", "I;16L", "I"):
            a = np.asarray(im, dtype=np.float64) / 65535.0
            return _as_rgb8(a)
        return _as_rgb8(np.asarray(im.convert("RGB")))


def list_images(folder: str | Path) -> list[Path]:
    folder = Path(folder)
    if not folder.exists():
        raise FileNotFoundError(f"SR image folder not found: {folder}")
    if folder.is_file():
        return [folder]
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_EXTS)
    if not files:
        raise ValueError(f"no images ({', '.join(sorted(IMAGE_EXTS))}) in {folder}")
    return files


def load_hr(source, split: str = "train", limit: int | None = None) -> list[tuple[str, np.ndarray]]:
    """``(name, H×W×3 uint8)`` for ``"demo"``, a folder, a file, or a list of those / demo names."""
    if source == "demo":
        names = DEMO_TRAIN if split == "train" else DEMO_VALID
        items = [(n, demo_image(n)) for n in names]
    elif isinstance(source, (list, tuple)):
        items = []
        for s in source:
            if isinstance(s, str) and not Path(s).exists() and not any(c in s for c in "/\\."):
                items.append((s, demo_image(s)))  # a demo image name
            else:
                items += [(p.stem, read_rgb8(p)) for p in list_images(s)]
    else:
        items = [(p.stem, read_rgb8(p)) for p in list_images(source)]
    return items[:limit] if limit else items


@dataclass
class SRPair:
    name: str
    hr: np.ndarray  # H×W×3 float32 in [0, 1], H and W multiples of scale
    lr: np.ndarray  # (H/s)×(W/s)×3 float32 in [0, 1]


def make_pair(name: str, hr8: np.ndarray, scale: int, quantize_lr: bool = True, max_size: int | None = None) -> SRPair:
    hr8 = modcrop(hr8, scale)
    if max_size:  # centre crop (validation speed), kept a multiple of the scale
        h, w = hr8.shape[:2]
        ch, cw = min(h, max_size - max_size % scale), min(w, max_size - max_size % scale)
        y0, x0 = ((h - ch) // 2) // scale * scale, ((w - cw) // 2) // scale * scale
        hr8 = hr8[y0 : y0 + ch, x0 : x0 + cw]
    hr = hr8.astype(np.float32) / 255.0
    lr = np.clip(bicubic_down(hr.astype(np.float64), scale), 0.0, 1.0)
    if quantize_lr:
        lr = np.round(lr * 255.0) / 255.0
    return SRPair(name, np.ascontiguousarray(hr), np.ascontiguousarray(lr.astype(np.float32)))


def make_pairs(
    source,
    scale: int,
    split: str = "train",
    limit: int | None = None,
    quantize_lr: bool = True,
    max_size: int | None = None,
) -> list[SRPair]:
    return [make_pair(n, a, scale, quantize_lr, max_size) for n, a in load_hr(source, split, limit)]


def augment(arrays: list[np.ndarray], hflip: bool, vflip: bool, rot90: bool) -> list[np.ndarray]:
    """The same flips / transpose (with the flips: all 8 dihedral transforms) on H×W×C arrays."""
    out = []
    for a in arrays:
        if hflip:
            a = a[:, ::-1]
        if vflip:
            a = a[::-1]
        if rot90:
            a = a.transpose(1, 0, 2)
        out.append(a)
    return out


def to_tensor(batch: list[np.ndarray]) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(np.stack(batch))).permute(0, 3, 1, 2).contiguous()


class PairSampler:
    """Random aligned crops: an LR patch of ``patch``² at (i, j) and its HR patch at (s·i, s·j).

    Images are drawn uniformly; ``extra`` are further (LR-sized, HR-sized) array pairs per image
    (the teacher's pair) cropped at the same place with the same augmentation. Every batch also
    carries one uniform number per sample (``u``: the per-sample ECO choice) so that all recipes
    consume the same random stream and see identical crops for a given seed.
    """

    def __init__(
        self,
        pairs: list[SRPair],
        scale: int,
        patch: int = 48,
        batch: int = 16,
        augment: bool = True,
        seed: int = 0,
        extra: list[tuple[np.ndarray, np.ndarray]] | None = None,
    ):
        if not pairs:
            raise ValueError("no training images")
        small = [p.name for p in pairs if min(p.lr.shape[:2]) < patch]
        if small:
            raise ValueError(f"LR of {small} smaller than the patch size {patch}")
        if extra is not None and len(extra) != len(pairs):
            raise ValueError("extra pairs must match the images one to one")
        self.pairs, self.scale, self.patch, self.batch, self.aug = pairs, scale, patch, batch, augment
        self.extra = extra
        self.rng = np.random.default_rng(seed)

    def sample(self) -> dict[str, torch.Tensor]:
        s, p = self.scale, self.patch
        cols: dict[str, list[np.ndarray]] = {"lr": [], "hr": [], "lr_t": [], "hr_t": []}
        for _ in range(self.batch):
            k = int(self.rng.integers(len(self.pairs)))
            pr = self.pairs[k]
            h, w = pr.lr.shape[:2]
            i, j = int(self.rng.integers(h - p + 1)), int(self.rng.integers(w - p + 1))
            flips = self.rng.integers(2, size=3).astype(bool) if self.aug else np.zeros(3, bool)
            arrs = [pr.lr[i : i + p, j : j + p], pr.hr[s * i : s * (i + p), s * j : s * (j + p)]]
            if self.extra is not None:
                lt, ht = self.extra[k]
                arrs += [lt[i : i + p, j : j + p], ht[s * i : s * (i + p), s * j : s * (j + p)]]
            for key, a in zip(("lr", "hr", "lr_t", "hr_t"), augment(arrs, *flips)):
                cols[key].append(a)
        u = self.rng.random(self.batch)
        out = {k: to_tensor(v) for k, v in cols.items() if v}
        out["u"] = torch.from_numpy(u).float()
        return out
