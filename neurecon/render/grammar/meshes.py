"""Triangle meshes for the scene grammar as numpy arrays (vertices, faces, UVs), in object space.

Compound geometry — assemblies of many small parts, wire lattices, foliage cards — is merged
into one mesh per object: hundreds of separate Mitsuba shapes would cost more to load than to
render at training resolutions.
"""

from __future__ import annotations

import numpy as np

from .textures import value_noise

Mesh = tuple[np.ndarray, np.ndarray, np.ndarray]  # V×3 float32, F×3 uint32, V×2 float32


def grid(nu: int, nv: int, wrap_u: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Faces and UVs of an nu×nv vertex grid (row-major), optionally closed around u."""
    cols = nu if wrap_u else nu - 1
    i, j = np.meshgrid(np.arange(nv - 1), np.arange(cols), indexing="ij")
    a = i * nu + j
    b = i * nu + (j + 1) % nu
    c, d = a + nu, b + nu
    faces = np.concatenate([np.stack([a, c, b], -1), np.stack([b, c, d], -1)]).reshape(-1, 3)
    u, v = np.meshgrid(np.linspace(0, 1, nu), np.linspace(0, 1, nv))
    return faces.astype(np.uint32), np.stack([u.ravel(), v.ravel()], -1).astype(np.float32)


def uv_sphere(nu: int = 48, nv: int = 24, radius=1.0) -> Mesh:
    u = np.linspace(0, 2 * np.pi, nu, endpoint=False)
    v = np.linspace(0, np.pi, nv)
    U, V = np.meshgrid(u, v)
    r = radius(U, V) if callable(radius) else radius
    pts = np.stack([r * np.sin(V) * np.cos(U), r * np.cos(V), r * np.sin(V) * np.sin(U)], -1)
    faces, uv = grid(nu, nv, wrap_u=True)
    verts = pts.reshape(-1, 3).astype(np.float32)
    return verts, drop_degenerate(verts, faces[:, ::-1]), uv  # outward: one-sided BSDFs are black from inside


def drop_degenerate(verts: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """Faces without the zero-area triangles a grid closed at a pole produces."""
    e1, e2 = verts[faces[:, 1]] - verts[faces[:, 0]], verts[faces[:, 2]] - verts[faces[:, 0]]
    return faces[np.linalg.norm(np.cross(e1, e2), axis=1) > 1e-12]


def torus(minor: float, nu: int = 48, nv: int = 24) -> Mesh:
    u = np.linspace(0, 2 * np.pi, nu, endpoint=False)
    v = np.linspace(0, 2 * np.pi, nv)
    U, V = np.meshgrid(u, v)
    pts = np.stack([(1 + minor * np.cos(V)) * np.cos(U), minor * np.sin(V), (1 + minor * np.cos(V)) * np.sin(U)], -1)
    faces, uv = grid(nu, nv, wrap_u=True)
    return pts.reshape(-1, 3).astype(np.float32), faces, uv  # outward as the grid winds it


def box() -> Mesh:
    """A unit cube [-1, 1]³ with 4 vertices per face (flat shading, a full UV square per face)."""
    quads = []
    for axis in range(3):
        for sign in (-1.0, 1.0):
            a, b = [k for k in range(3) if k != axis]
            corners = np.zeros((4, 3))
            corners[:, axis] = sign
            corners[:, a] = [-1, 1, 1, -1]
            corners[:, b] = [-1, -1, 1, 1]
            if sign < 0:
                corners = corners[::-1]
            quads.append(corners)
    verts = np.concatenate(quads).astype(np.float32)
    base = np.arange(6)[:, None] * 4
    faces = np.concatenate([base + [0, 1, 2], base + [0, 2, 3]]).astype(np.uint32)
    e1, e2 = verts[faces[:, 1]] - verts[faces[:, 0]], verts[faces[:, 2]] - verts[faces[:, 0]]
    inward = (np.cross(e1, e2) * verts[faces].mean(1)).sum(1) < 0  # convex about the origin
    faces[inward] = faces[inward][:, ::-1]
    uv = np.tile(np.array([[0, 0], [1, 0], [1, 1], [0, 1]], np.float32), (6, 1))
    return verts, faces, uv


def tube(path: np.ndarray, radius: float, sides: int = 6) -> Mesh:
    """An open tube of `radius` along a polyline `path` (P×3): wires, stems, rods."""
    t = np.gradient(path, axis=0)
    t /= np.linalg.norm(t, axis=1, keepdims=True) + 1e-12
    ref = np.where(np.abs(t[:, 1:2]) < 0.9, [[0.0, 1.0, 0.0]], [[1.0, 0.0, 0.0]])
    n1 = np.cross(t, ref)
    n1 /= np.linalg.norm(n1, axis=1, keepdims=True)
    n2 = np.cross(t, n1)
    ang = np.linspace(0, 2 * np.pi, sides, endpoint=False)
    ring = np.cos(ang)[None, :, None] * n1[:, None] + np.sin(ang)[None, :, None] * n2[:, None]
    verts = (path[:, None] + radius * ring).reshape(-1, 3).astype(np.float32)
    faces, uv = grid(sides, len(path), wrap_u=True)
    return verts, np.ascontiguousarray(faces[:, ::-1]), uv  # outward


def card(w: float = 1.0, h: float = 1.0) -> Mesh:
    verts = np.array([[-w, 0, -h], [w, 0, -h], [w, 0, h], [-w, 0, h]], np.float32)
    return verts, np.array([[0, 2, 1], [0, 3, 2]], np.uint32), np.array([[0, 0], [1, 0], [1, 1], [0, 1]], np.float32)


def merge(parts: list[Mesh]) -> Mesh:
    verts, faces, uvs, offset = [], [], [], 0
    for v, f, uv in parts:
        verts.append(v)
        faces.append(f + offset)
        uvs.append(uv)
        offset += len(v)
    return np.concatenate(verts), np.concatenate(faces).astype(np.uint32), np.concatenate(uvs)


def place(mesh: Mesh, scale, rotate_y: float = 0.0, translate=(0, 0, 0), tilt: float = 0.0) -> Mesh:
    """Scale (scalar or per axis), tilt about x, turn about y (degrees), then translate."""
    v, f, uv = mesh
    v = v * np.asarray(scale, np.float32)
    ct, st = np.cos(np.radians(tilt)), np.sin(np.radians(tilt))
    v = v @ np.array([[1, 0, 0], [0, ct, -st], [0, st, ct]], np.float32).T
    c, s = np.cos(np.radians(rotate_y)), np.sin(np.radians(rotate_y))
    v = v @ np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]], np.float32).T
    return (v + np.asarray(translate, np.float32)).astype(np.float32), f, uv


# ---------------------------------------------------------------- grammar geometry kinds
def lumpy(seed: int) -> Mesh:
    rng = np.random.default_rng(seed)
    terms = [(rng.uniform(-0.15, 0.15), *rng.integers(1, 5, 2), rng.uniform(0, 6)) for _ in range(3)]
    return uv_sphere(radius=lambda U, V: 1 + sum(a * np.sin(k * U + p) * np.sin(l * V) for a, k, l, p in terms))


def displaced(seed: int, amount: float) -> Mesh:
    """A finely subdivided sphere displaced along its normal by fractal noise (rock, terrain-like)."""
    n = 96
    h = value_noise(seed, n, octaves=5, base=3)

    def radius(U, V):
        i = np.clip((V / np.pi * (n - 1)).astype(int), 0, n - 1)
        j = np.clip((U / (2 * np.pi) * (n - 1)).astype(int), 0, n - 1)
        return 1 + amount * (h[i, j] - 0.5) * 2

    return uv_sphere(nu=2 * n, nv=n, radius=radius)


def assembly(seed: int, parts: int) -> Mesh:
    """Many small parts: a stacked pile or a regular structure of small boxes, rods and balls."""
    rng = np.random.default_rng(seed)
    out: list[Mesh] = []
    style = rng.choice(["pile", "lattice", "shelf"])
    for k in range(parts):
        shape = rng.choice(["box", "ball", "rod"])
        s = float(rng.uniform(0.04, 0.14))
        if style == "lattice":
            side = int(np.ceil(parts ** (1 / 3)))
            i, j, m = k % side, (k // side) % side, k // side**2
            pos = (np.array([i, m, j]) / max(1, side - 1) - [0.5, 0, 0.5]) * 1.6 + [0, s, 0]
        elif style == "shelf":
            row = k % 4
            pos = np.array([rng.uniform(-0.9, 0.9), row * 0.45 + s, rng.uniform(-0.15, 0.15)])
        else:
            r = rng.uniform(0, 0.9) ** 0.5
            a = rng.uniform(0, 2 * np.pi)
            pos = np.array([r * np.cos(a), rng.uniform(0, 0.6) * (1 - r) + s, r * np.sin(a)])
        if shape == "box":
            part = place(box(), [s, s * rng.uniform(0.5, 2), s], rng.uniform(0, 360), pos)
        elif shape == "ball":
            part = place(uv_sphere(12, 8), s, 0, pos)
        else:
            part = place(
                tube(np.array([[0, -1, 0], [0, 1, 0]], float), 1.0, 8),
                [s * 0.3, s * 2, s * 0.3],
                rng.uniform(0, 360),
                pos,
                tilt=float(rng.uniform(0, 90)),
            )
        out.append(part)
    if style == "shelf":  # the boards the parts stand on
        out += [place(box(), [1.0, 0.015, 0.25], 0, (0, row * 0.45 - 0.015, 0)) for row in range(4)]
    return merge(out)


def wires(seed: int, radius: float) -> Mesh:
    """Thin wires: a lattice (fence, grille) or loose curves (cables), merged into one mesh."""
    rng = np.random.default_rng(seed)
    out = []
    if rng.random() < 0.5:
        n = int(rng.integers(5, 16))
        for k in np.linspace(-1, 1, n):
            out.append(tube(np.array([[k, 0, 0], [k, 2, 0]], float), radius))
            out.append(tube(np.array([[-1, (k + 1), 0], [1, (k + 1), 0]], float), radius))
    else:
        for _ in range(int(rng.integers(3, 12))):
            t = np.linspace(0, 1, 40)[:, None]
            p0, p1, p2 = rng.uniform(-1, 1, (3, 3)) * [1, 0.8, 1] + [0, 1, 0]
            path = (1 - t) ** 2 * p0 + 2 * (1 - t) * t * p1 + t**2 * p2
            out.append(tube(path, radius))
    return merge(out)


def foliage(seed: int, leaves: int) -> Mesh:
    """Leaf cards around a few stems (no alpha: the card is the leaf)."""
    rng = np.random.default_rng(seed)
    out = []
    stems = rng.uniform(-0.5, 0.5, (int(rng.integers(1, 4)), 2))
    for sx, sz in stems:
        out.append(tube(np.array([[sx, 0, sz], [sx, 1.8, sz]], float), 0.02))
    for _ in range(leaves):
        sx, sz = stems[rng.integers(len(stems))]
        y = rng.uniform(0.3, 1.8)
        a = rng.uniform(0, 2 * np.pi)
        r = rng.uniform(0.05, 0.45)
        size = rng.uniform(0.04, 0.12)
        out.append(
            place(
                card(size * 0.5, size),
                1.0,
                np.degrees(a),
                (sx + r * np.cos(a), y, sz + r * np.sin(a)),
                tilt=float(rng.uniform(-60, 60)),
            )
        )
    return merge(out)


def shell(seed: int) -> Mesh:
    """A thin open surface: a bowl (open hemisphere) or a draped sheet (cloth-like wavy grid)."""
    rng = np.random.default_rng(seed)
    if rng.random() < 0.5:
        v, f, uv = uv_sphere(48, 24)
        keep = v[:, 1] <= 0.05
        idx = -np.ones(len(v), np.int64)
        idx[keep] = np.arange(keep.sum())
        f = f[keep[f].all(1)]
        return (v[keep] * [1, 0.7, 1] + [0, 0.7, 0]).astype(np.float32), idx[f].astype(np.uint32), uv[keep]
    n = 40
    faces, uv = grid(n, n)
    x, z = (uv[:, 0] - 0.5) * 2, (uv[:, 1] - 0.5) * 2
    h = value_noise(seed, n, octaves=3, base=2).ravel()
    y = 0.6 + 0.4 * np.cos(np.hypot(x, z) * 2) + 0.3 * (h - 0.5)
    return np.stack([x, y, z], -1).astype(np.float32), faces, uv
