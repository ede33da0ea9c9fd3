"""Monte Carlo denoising (Vogels et al. 2018): frames and patch sampling (:mod:`.data`,
:mod:`.frames`), shared packs (:mod:`.packed`), the training task (:mod:`.task`), λ control
(:mod:`.lambda_task`), the λ explorer (:mod:`.explore`) and the demo (:mod:`.demo`)."""
