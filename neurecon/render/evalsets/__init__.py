"""Evaluation scene families, built by code separate from the training generator
(:mod:`neurecon.render.scenes`): content the denoiser is measured on and never trained on."""

from __future__ import annotations

from . import classic

FAMILIES = {"classic": classic.SCENES}
