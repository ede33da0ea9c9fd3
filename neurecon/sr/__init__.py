"""Single-image super-resolution: MATLAB-compatible bicubic degradation, paired data, EDSR/RCAN
generators, Y-channel metrics, and the ``sr`` training task (vanilla, KD and ECO recipes) that runs
on :class:`neurecon.train.trainer.Trainer`. ``neurecon upscale`` is :func:`neurecon.sr.cli.upscale_cli`.

Submodules import lazily: ``neurecon.sr.imresize``, ``.data``, ``.models``, ``.metrics``, ``.eco``,
``.tasks``, ``.infer``, ``.cli``, ``.export``.
"""
