"""The scene grammar: the wide training generator (issue 24).

A seed draws a recipe (:func:`sample_recipe`, a JSON-able tree of choices: layout, objects with
geometry and material, lights, camera); :func:`build_scene` turns a recipe into a Mitsuba 3 scene
without randomness of its own, so the recipe a dataset records in its metadata re-renders the
scene identically. The declared kinds (:data:`LAYOUTS`, :data:`GEOMETRIES`, :data:`MATERIALS`,
:data:`TEXTURES`, :data:`LIGHTS`) are what a 64-scene sample must cover. The evaluation families
(:mod:`neurecon.render.evalsets`) are written apart from this code and never import it.
"""

from .build import build_scene
from .recipe import GEOMETRIES, LAYOUTS, LIGHTS, MATERIALS, TEXTURES, kinds_in, sample_recipe

__all__ = ["GEOMETRIES", "LAYOUTS", "LIGHTS", "MATERIALS", "TEXTURES", "build_scene", "kinds_in", "sample_recipe"]
