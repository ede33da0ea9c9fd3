"""Error prediction (Vogels et al. 2018, §5): the ``error_predict`` training task (:mod:`.task`)
for :class:`neurecon.nn.error_predictor.ErrorPredictor` on a frozen denoiser's output."""
