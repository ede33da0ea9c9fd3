"""What both Fig. 18 studies (:mod:`.asymmetric`, :mod:`.asymmetric_noise`) share: the λ values, the
error spaces, the β fits of the naive blend β·noisy + (1 − β)·symmetric output, the λ outputs of
one frame and the per-(spp, λ) summary of their rows."""

from __future__ import annotations

import numpy as np
import torch

from ..metrics import tonemap
from ..nn.precision import trunk

LAMBDAS = (1.0, 2.0, 5.0, 10.0)

# Error spaces for the Fig. 18 comparison: (map of linear values into the space, per-pixel weight
# from the space's reference). Tonemapped is what people see; linear relative error,
# |d − r| / (r̄ + 0.01) with r̄ the reference's channel mean (one weight per pixel, so a saturated
# colour's dark channel does not blow up), is where an HDR firefly stays as large as it is.
SPACES = {"": (tonemap, lambda ref: 1.0), "hdr_": (lambda x: x, lambda ref: 1.0 / (ref.mean(1, keepdim=True) + 1e-2))}


def fit_beta(mse, target_mse: float) -> float:
    """β in [0, 1] at which the blend's MSE, `mse(β)`, reaches the target, on the side of its
    minimum where MSE grows with β (more of the input's noise). Blending in a little of an unbiased
    input can lower the MSE first (it undoes some bias), so the search starts at the minimum, not
    at β = 0; a target below the minimum is unreachable and gets the minimising β."""
    lo = argmin_beta(mse)
    hi = 1.0
    if target_mse <= mse(lo):
        return lo
    for _ in range(32):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if mse(mid) < target_mse else (lo, mid)
    return (lo + hi) / 2


def argmin_beta(f, iterations: int = 40) -> float:
    """β in [0, 1] minimising a unimodal f (golden section, one new evaluation per step)."""
    g = (5**0.5 - 1) / 2
    lo, hi = 0.0, 1.0
    a, b = hi - g * (hi - lo), lo + g * (hi - lo)
    fa, fb = f(a), f(b)
    for _ in range(iterations):
        if fa < fb:
            hi, b, fb = b, a, fa
            a = hi - g * (hi - lo)
            fa = f(a)
        else:
            lo, a, fa = a, b, fb
            b = lo + g * (hi - lo)
            fb = f(b)
    return (lo + hi) / 2


def lambda_outputs(den, buf, lambdas=LAMBDAS) -> tuple:
    """(session, {λ: output}, symmetric output) for one frame and a λ `Denoiser`: the λ outputs
    from one feature pass, the symmetric one from the frozen backbone the specialiser was trained on."""
    sess = den.session(buf)
    outs = {lam: sess.denoise(lam) for lam in lambdas}
    with torch.no_grad(), trunk(den.precision):  # the precision the λ outputs ran in
        sym_img = den.model.backbone(sess.inputs, sess.source)[0].float().permute(1, 2, 0).numpy()
    return sess, outs, sym_img


def summarise(rows: list[dict], spps, lambdas) -> dict:
    """Mean over scenes of every statistic, per spp and λ: ``{str(spp): {str(λ): {key: mean}}}``
    from rows ``{"spp": spp, "lambda": {str(λ): {key: value}}}``."""
    summary = {}
    for spp in spps:
        sel = [r for r in rows if r["spp"] == spp]
        summary[str(spp)] = {
            str(lam): {k: float(np.mean([r["lambda"][str(lam)][k] for r in sel])) for k in sel[0]["lambda"][str(lam)]}
            for lam in lambdas
        }
    return summary
