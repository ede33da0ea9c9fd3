"""Temporal denoising (Vogels et al. 2018 §3.3): a temporal combiner trained on a frozen backbone."""
