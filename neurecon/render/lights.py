"""Light directions on the sphere: Fibonacci layouts, the camera frame, the sphere's triangulation.

Conventions (the OLAT layout, :mod:`neurecon.io.olat`): a direction is a unit vector from the
subject towards the light, in the camera's frame: x right, y up, z towards the camera.

:class:`SphereTriangulation` triangulates a set of light directions with the convex hull of the
points (``scipy.spatial.ConvexHull``: on the unit sphere the hull's faces are the spherical
Delaunay triangulation) and gives the barycentric weights of the face a query direction passes
through. Light sets that cover only part of the sphere (a hemisphere above a ground plane) do
not surround the centre; the hull then gets one virtual vertex opposite the lights' mean
direction, and a query through a face that contains it is blended from that face's real lights
only (their weights renormalised).
"""

from __future__ import annotations

import math

import numpy as np

GOLDEN_ANGLE = math.pi * (3.0 - math.sqrt(5.0))


def normalize(v: np.ndarray) -> np.ndarray:
    v = np.asarray(v, np.float64)
    n = np.linalg.norm(v, axis=-1, keepdims=True)
    if np.any(n < 1e-12):
        raise ValueError("a light direction has zero length")
    return v / n


def fibonacci_sphere(n: int) -> np.ndarray:
    """n near-uniform unit vectors on the whole sphere (y is the pole axis)."""
    i = np.arange(n) + 0.5
    y = 1.0 - 2.0 * i / n
    r = np.sqrt(np.maximum(0.0, 1.0 - y * y))
    phi = GOLDEN_ANGLE * np.arange(n)
    return np.stack([r * np.cos(phi), y, r * np.sin(phi)], -1)


def fibonacci_hemisphere(n: int, min_elevation_deg: float = 0.0) -> np.ndarray:
    """n near-uniform unit vectors with elevation ≥ `min_elevation_deg` above the x–z plane (y up):
    the lights of a light stage above a ground."""
    lo = math.sin(math.radians(min_elevation_deg))
    i = np.arange(n) + 0.5
    y = 1.0 - (1.0 - lo) * i / n
    r = np.sqrt(np.maximum(0.0, 1.0 - y * y))
    phi = GOLDEN_ANGLE * np.arange(n)
    return np.stack([r * np.cos(phi), y, r * np.sin(phi)], -1)


def camera_basis(origin, target, up=(0.0, 1.0, 0.0)) -> np.ndarray:
    """3×3 matrix whose columns are the camera's right, up and towards-the-camera axes in world
    coordinates (the OLAT frame: x right, y up, z towards the camera)."""
    o, t, u = (np.asarray(v, np.float64) for v in (origin, target, up))
    back = normalize(o - t)  # from the target towards the camera
    right = normalize(np.cross(u, back))
    up2 = np.cross(back, right)
    return np.stack([right, up2, back], 1)


def world_to_camera(dirs, basis: np.ndarray) -> np.ndarray:
    return normalize(np.asarray(dirs, np.float64) @ basis)


def camera_to_world(dirs, basis: np.ndarray) -> np.ndarray:
    return normalize(np.asarray(dirs, np.float64) @ basis.T)


def angular_distance(a, b) -> np.ndarray:
    """Angles (radians) between every direction of `a` (…×3) and every direction of `b` (M×3)."""
    return np.arccos(np.clip(np.asarray(a, np.float64) @ np.asarray(b, np.float64).T, -1.0, 1.0))


def nearest(dirs: np.ndarray, query, k: int, exclude: int | None = None) -> np.ndarray:
    """Indices of the `k` lights of `dirs` closest to the unit vector `query` (nearest first);
    `exclude` leaves one light out (training on a captured light as the query)."""
    cos = np.asarray(dirs, np.float64) @ np.asarray(query, np.float64)
    if exclude is not None:
        cos = cos.copy()
        cos[exclude] = -np.inf
    k = min(k, len(cos) - (exclude is not None))
    idx = np.argpartition(-cos, k - 1)[:k]
    return idx[np.argsort(-cos[idx], kind="stable")]


class SphereTriangulation:
    """The convex-hull triangulation of unit light directions, for barycentric blending."""

    def __init__(self, dirs):
        from scipy.spatial import ConvexHull, QhullError

        dirs = normalize(np.asarray(dirs, np.float64).reshape(-1, 3))
        if len(dirs) < 3:
            raise ValueError(f"barycentric blending needs at least 3 lights, got {len(dirs)}")
        self.dirs = dirs
        self.n = len(dirs)
        pts = dirs
        self.virtual = False
        for attempt in range(2):
            try:
                hull = ConvexHull(pts)
            except QhullError as e:
                raise ValueError(
                    f"the {self.n} light directions do not span a 3-D hull (all on one great circle?): {e}"
                ) from None
            # hull.equations: n·x + c ≤ 0 inside; the centre is strictly inside iff every c < 0
            if np.all(hull.equations[:, 3] < -1e-9) or attempt == 1:
                break
            mean = dirs.mean(0)
            opposite = -mean / max(np.linalg.norm(mean), 1e-12) if np.linalg.norm(mean) > 1e-9 else -dirs[0]
            pts = np.concatenate([dirs, opposite[None]])
            self.virtual = True
        if not np.all(hull.equations[:, 3] < -1e-9):
            raise ValueError("the light directions do not surround the subject even with a virtual opposite light")
        self.points = pts
        self.faces = hull.simplices.astype(np.int64)  # F×3 vertex indices
        mats = np.transpose(pts[self.faces], (0, 2, 1))  # F×3×3, columns = the face's vertices
        self._inv = np.linalg.inv(mats)

    def real_faces(self) -> np.ndarray:
        """Faces whose three vertices are all real lights."""
        return self.faces[np.all(self.faces < self.n, axis=1)]

    def face_centres(self) -> np.ndarray:
        """Unit directions through the centroids of the real faces: the directions farthest from
        their three enclosing lights (held-out lights "between the captured ones")."""
        return normalize(self.dirs[self.real_faces()].mean(1))

    def weights(self, query) -> tuple[np.ndarray, np.ndarray]:
        """(3 light indices, 3 weights ≥ 0 summing to 1) of the face the ray towards `query`
        passes through. At a captured light's own direction the weight on it is exactly 1."""
        q = normalize(np.asarray(query, np.float64).reshape(3))
        exact = np.flatnonzero(self.dirs @ q > 1 - 1e-12)
        if len(exact):
            i = int(exact[0])
            return np.array([i, i, i]), np.array([1.0, 0.0, 0.0])
        lam = self._inv @ q  # F×3: q = Σ lam_v v per face
        score = lam.min(1)
        f = int(np.argmax(score))  # the face with all coordinates ≥ 0 (the largest minimum)
        w = np.maximum(lam[f], 0.0)
        idx = self.faces[f].copy()
        real = idx < self.n
        w = np.where(real, w, 0.0)
        if w.sum() <= 1e-12:  # the query is the virtual light itself: nearest real light
            i = int(nearest(self.dirs, q, 1)[0])
            return np.array([i, i, i]), np.array([1.0, 0.0, 0.0])
        w = w / w.sum()
        idx = np.where(real, idx, idx[real][0])
        return idx, w


def heldout_between(dirs, n: int, seed: int = 0, min_separation_deg: float = 0.0) -> np.ndarray:
    """`n` directions between the captured ones: centres of random faces of their triangulation
    (each at most once), at least `min_separation_deg` from each other."""
    centres = SphereTriangulation(dirs).face_centres()
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(centres))
    picked: list[np.ndarray] = []
    cos_min = math.cos(math.radians(min_separation_deg))
    for i in order:
        c = centres[i]
        if all(float(c @ p) < cos_min for p in picked) or not picked:
            picked.append(c)
        if len(picked) == n:
            break
    if len(picked) < n:
        raise ValueError(f"only {len(picked)} held-out directions fit between {len(dirs)} lights, asked for {n}")
    return np.stack(picked)


def light_path(kind: str, frames: int, elevation_deg: float = 30.0, start=None, end=None) -> np.ndarray:
    """A sequence of `frames` query directions in the camera frame: ``orbit`` (a full turn around
    the camera's up axis at `elevation_deg`) or ``arc`` (great-circle arc from `start` to `end`)."""
    if frames < 1:
        raise ValueError("a light path needs at least one frame")
    if kind == "orbit":
        el = math.radians(elevation_deg)
        t = 2 * math.pi * np.arange(frames) / frames
        return np.stack([math.cos(el) * np.sin(t), np.full(frames, math.sin(el)), math.cos(el) * np.cos(t)], -1)
    if kind == "arc":
        if start is None or end is None:
            raise ValueError("an arc light path needs a start and an end direction")
        a, b = normalize(start), normalize(end)
        omega = math.acos(float(np.clip(a @ b, -1, 1)))
        t = np.linspace(0, 1, frames)[:, None]
        if omega < 1e-9:
            return np.repeat(a[None], frames, 0)
        return normalize((np.sin((1 - t) * omega) * a + np.sin(t * omega) * b) / math.sin(omega))
    raise ValueError(f"unknown light path '{kind}'; choose orbit or arc")
