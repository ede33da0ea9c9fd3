"""Single-image super-resolution: MATLAB-compatible bicubic degradation (:mod:`.imresize`), paired
data (:mod:`.data`), model presets (:mod:`.models`), Y-channel metrics (:mod:`.metrics`), ECO
(:mod:`.eco`) and the ``sr`` task with its vanilla, KD and ECO recipes (:mod:`.task`)."""
