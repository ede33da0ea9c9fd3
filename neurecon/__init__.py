"""neurecon: neural image reconstruction (Monte Carlo denoising, relighting, super-resolution)."""

__version__ = "0.1.0"

from .buffers import BufferError, Buffers, SanitizeReport  # noqa: F401


def __getattr__(name):  # lazy: importing neurecon must not import torch-heavy modules
    if name == "Denoiser":
        from .infer.denoiser import Denoiser

        return Denoiser
    raise AttributeError(name)
