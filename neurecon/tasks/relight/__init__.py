"""Relighting from a virtual light stage (Sun et al. 2020, Light Stage Super-Resolution): OLAT data
(:mod:`.data`), the training task (:mod:`.task`), the interpolation baselines and the network's
inference (:mod:`.baselines`), and the metrics (:mod:`.metrics`)."""
