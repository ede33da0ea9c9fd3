"""Blind super-resolution (Hui et al. 2021): Gaussian-blur + bicubic degradations
(:mod:`.degradations`), the held-out photograph splits (:mod:`.data`), whole-image evaluation and
rewards (:mod:`.evaluate`), and the ``blind_sr`` task with its generator (AMNet / AMGAN / AMGAN*),
actor and actor–critic recipes (:mod:`.task`). It builds on the ``sr`` task's MATLAB bicubic and
metrics; the networks are in :mod:`neurecon.nn.blind_sr`, the losses in :mod:`neurecon.losses`."""
