"""Intel Open Image Denoise (pyoidn) as the peer every benchmark and report compares against.

Always HDR (pyoidn defaults to LDR, which handicaps it on radiance), quality "high", CPU, with
albedo and normal when given. The first call builds the filter, so `warm_up()` before timing.
"""

from __future__ import annotations

import time

import numpy as np


def available() -> bool:
    try:
        import pyoidn  # noqa: F401
    except ImportError:
        return False
    return True


def oidn_denoise(
    color: np.ndarray, albedo: np.ndarray | None = None, normal: np.ndarray | None = None, quality: str = "high"
) -> tuple[np.ndarray, float]:
    """Denoised H×W×3 float32 and the seconds the call took."""
    import pyoidn

    c = np.ascontiguousarray(color, np.float32)
    a = None if albedo is None else np.ascontiguousarray(np.clip(albedo, 0, 1), np.float32)
    n = None if normal is None else np.ascontiguousarray(normal, np.float32)
    t = time.perf_counter()
    out = pyoidn.denoise(c, albedo=a, normal=n, hdr=True, quality=quality)
    return np.asarray(out, np.float32), time.perf_counter() - t


def warm_up(size: int = 64) -> None:
    z = np.full((size, size, 3), 0.5, np.float32)
    oidn_denoise(z, z, z)
