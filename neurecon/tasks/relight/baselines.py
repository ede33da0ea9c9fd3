"""Relighting an OLAT set under a new light: three interpolation baselines and the network.

* ``nearest``: the image of the captured light closest to the query.
* ``barycentric``: the three lights of the triangle of the sphere's triangulation (convex hull of
  the captured directions, ``scipy.spatial.ConvexHull``) that the query passes through, blended
  with its barycentric weights (non-negative, summing to 1; exactly the captured image at a
  captured direction). Light sets covering part of the sphere: see
  :class:`neurecon.render.lights.SphereTriangulation`.
* ``knn``: the k nearest lights blended with inverse-squared angular distance weights (Shepard);
  exact at a captured direction.
* ``network``: the relighting U-Net on the k nearest lights (:class:`neurecon.nn.relight.RelightUNet`).

Blending is done on linear radiance, which is how light adds up.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from ...nn.relight import from_net, to_net
from ...render.lights import SphereTriangulation, angular_distance, nearest, normalize
from .data import Subject, exposure_scale

METHODS = ("nearest", "barycentric", "knn", "network")


def knn_weights(dirs: np.ndarray, query, k: int = 4, power: float = 2.0) -> tuple[np.ndarray, np.ndarray]:
    idx = nearest(dirs, query, k)
    ang = angular_distance(np.asarray(query, np.float64)[None], dirs[idx])[0]
    if ang[0] < 1e-9:
        w = np.zeros(len(idx))
        w[0] = 1.0
        return idx, w
    w = 1.0 / ang**power
    return idx, w / w.sum()


class Relighter:
    """One OLAT set in memory and every way to relight it. Images are linear in the folder's units;
    ``model`` (a RelightUNet) is needed only for ``network``."""

    def __init__(self, images: np.ndarray, dirs: np.ndarray, mask: np.ndarray | None = None, model=None, k: int = 4):
        self.images = np.asarray(images, np.float32)
        self.dirs = normalize(np.asarray(dirs, np.float64).reshape(-1, 3))
        if len(self.images) != len(self.dirs):
            raise ValueError(f"{len(self.images)} images for {len(self.dirs)} directions")
        self.mask = mask
        self.model, self.k = model, k
        self.scale = exposure_scale(self.images, mask)
        self._tri: SphereTriangulation | None = None

    @classmethod
    def from_subject(cls, s: Subject, model=None, k: int = 4) -> Relighter:
        return cls(s.images, s.dirs, s.mask, model, k)

    @property
    def triangulation(self) -> SphereTriangulation:
        if self._tri is None:
            self._tri = SphereTriangulation(self.dirs)
        return self._tri

    def blend(self, idx, w) -> np.ndarray:
        return np.tensordot(np.asarray(w, np.float32), self.images[np.asarray(idx)], axes=1)

    def nearest(self, q) -> np.ndarray:
        return self.images[int(nearest(self.dirs, normalize(q), 1)[0])].copy()

    def barycentric(self, q) -> np.ndarray:
        idx, w = self.triangulation.weights(q)
        return self.blend(idx, w)

    def knn(self, q, k: int = 4) -> np.ndarray:
        idx, w = knn_weights(self.dirs, normalize(q), k)
        return self.blend(idx, w)

    @torch.no_grad()
    def network(self, q) -> np.ndarray:
        if self.model is None:
            raise ValueError("the network method needs a model (--model NAME|PATH)")
        q = normalize(q)
        idx = nearest(self.dirs, q, self.k)
        imgs = torch.from_numpy(self.images[idx] * self.scale).permute(0, 3, 1, 2)
        H, W = imgs.shape[-2:]
        s = self.model.stride
        ph, pw = (-H) % s, (-W) % s
        x = to_net(imgs)
        if ph or pw:
            x = F.pad(x, (0, pw, 0, ph), mode="replicate")
        out = self.model.relight(
            x[None], torch.from_numpy(self.dirs[idx]).float()[None], torch.from_numpy(q).float()[None]
        )[0, :, :H, :W]
        return (from_net(out).permute(1, 2, 0).numpy() / self.scale).astype(np.float32)

    def __call__(self, method: str, q) -> np.ndarray:
        if method not in METHODS:
            raise ValueError(f"unknown relighting method '{method}'; choose {', '.join(METHODS)}")
        return getattr(self, method)(np.asarray(q, np.float64))
