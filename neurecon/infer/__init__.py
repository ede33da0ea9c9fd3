"""Inference shared by every task: the denoiser and its λ session (:mod:`.denoiser`), SR
upscaling (:mod:`.upscale`) and the one overlap tiler (:mod:`.tiler`)."""

from .tiler import tile_apply

__all__ = ["tile_apply"]
