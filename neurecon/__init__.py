"""neurecon: neural image reconstruction (Monte Carlo denoising, relighting, super-resolution)."""

__version__ = "0.1.0"

from ._openmp import choose_wait_policy

choose_wait_policy()  # before anything imports torch (see _openmp.py: 17× on a busy 2-core machine)

from .buffers import BufferError, Buffers, SanitizeReport  # noqa: E402, F401


def __getattr__(name):  # lazy: importing neurecon must not import torch-heavy modules
    if name == "Denoiser":
        from .infer.denoiser import Denoiser

        return Denoiser
    raise AttributeError(name)
