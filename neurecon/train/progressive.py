"""Progressive coarse-to-fine training for any U-Net with auxiliary RGB heads (Sun et al. 2020,
supplement; after Karras et al. 2018).

A network with ``levels`` levels (0 = full resolution, ``levels − 1`` = the coarsest) and a 1×1
RGB head on every decoder level is trained in ``levels`` stages with one optimiser. The state of
the schedule at an iteration is a :class:`StageState` (``level`` d, ``w_fine`` α):

* **the blend-weight convention, named**: ``w_fine`` is the weight on the *finer* level d, i.e.
  the paper's α_d (ProGAN's "alpha" is also the weight on the new, finer level; pytorch_GAN_zoo's
  is the weight on the old, coarser one, = 1 − w_fine). The stage output is
  ``w_fine·A_d + (1 − w_fine)·U(A_(d+1))`` (:func:`stage_output`), and the network blends its
  encoder input at level d + 1 the same way (see :class:`neurecon.nn.relight.RelightUNet`).
* **stages**: stage 1 holds the coarsest level (d = levels − 1, α = 1) for ``hold`` iterations, then
  blends in the next finer level (d − 1, α from 0 to 1 linearly) for ``blend`` iterations; so does
  every stage up to level 1; the last stage trains at full resolution (d = 0, α = 1) for the
  remaining iterations. The paper's 4 stages: 3·10⁴ hold + 2·10⁴ blend three times, then 5·10⁴
  (2·10⁵ in all); :meth:`ProgressiveSchedule.paper` keeps these proportions for any budget.
* **the stage loss** (:func:`stage_loss`), Eq. 1 of the supplement with the background masked:
  ``L_d = Σ m·|T − (α·A_d + (1 − α)·U(A_(d+1)))| / Σ m`` over pixels and channels, where D(·, d)
  is box downsampling by 2^d and U nearest 2× upsampling. With ``target="fixed"`` (the paper's
  formula as printed) T = D(I, d) and m = D(M, d). With ``target="blended"`` (the default) the
  target and the mask are blended like the prediction, T = α·D(I, d) + (1 − α)·U(D(I, d + 1)) and
  m likewise: then L_d at α = 0 equals L_(d+1) at α = 1 *exactly* (nearest upsampling replicates
  each coarse pixel four times), which is the continuity in the iteration count the paper states.
  With the fixed target the loss jumps at each stage start by the target detail that the coarser
  level cannot represent (measured in the tests; the paper's "equal" holds only approximately).

A direct (non-progressive) run is :meth:`ProgressiveSchedule.direct`: full resolution, α = 1, from
the first iteration.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from ..nn.relight import down, up  # D(·, d): box downsampling by 2^d; U: 2× nearest (or bilinear)

TARGETS = ("blended", "fixed")


@dataclass(frozen=True)
class StageState:
    level: int  # d: the finest level in use (0 = full resolution)
    w_fine: float  # α_d: weight on level d's output; 1 − α_d on the upsampled level d + 1
    stage: int  # 1-based stage number
    phase: str  # "hold" | "blend" | "final"

    @property
    def full(self) -> bool:
        """The model's own full-resolution output is what is trained (final stage, or direct)."""
        return self.level == 0 and self.w_fine >= 1.0

    def as_dict(self) -> dict:
        return {"level": self.level, "w_fine": self.w_fine, "stage": self.stage, "phase": self.phase}


class ProgressiveSchedule:
    """Stages and α annealing over a run's iterations (see the module docstring).

    `hold[i]` and `blend[i]` are the iterations of stage i + 1 (i = 0 is the coarsest); the final
    stage runs from their sum to `total`. ``levels = 1`` or no stages is direct training."""

    def __init__(self, levels: int, hold: list[int], blend: list[int], total: int):
        if levels < 1:
            raise ValueError("a progressive schedule needs at least one level")
        hold, blend = [int(h) for h in hold], [int(b) for b in blend]
        if levels > 1 and (len(hold) != levels - 1 or len(blend) != levels - 1):
            raise ValueError(
                f"{levels} levels need {levels - 1} hold and blend lengths (one per stage before the last), "
                f"got {len(hold)} and {len(blend)}"
            )
        if any(h < 0 for h in hold) or any(b < 0 for b in blend):
            raise ValueError("hold and blend iterations must be ≥ 0")
        if sum(hold) + sum(blend) > total:
            raise ValueError(f"the stages before the last take {sum(hold) + sum(blend)} of {total} iterations")
        self.levels, self.hold, self.blend, self.total = levels, hold, blend, int(total)

    @classmethod
    def direct(cls, levels: int, total: int) -> ProgressiveSchedule:
        return cls(levels, [0] * (levels - 1), [0] * (levels - 1), total)

    @classmethod
    def paper(cls, levels: int, total: int) -> ProgressiveSchedule:
        """The supplement's proportions: every stage but the last 3 parts hold + 2 parts blend, the
        last 5 parts (4 levels: 15 % + 10 % per stage, 25 % at full resolution)."""
        unit = total / (5 * levels)
        hold = [round(3 * unit)] * (levels - 1)
        blend = [round(2 * unit)] * (levels - 1)
        return cls(levels, hold, blend, total)

    @classmethod
    def from_config(cls, cfg, levels: int, total: int) -> ProgressiveSchedule:
        """`cfg`: false/None (direct), true or "paper" (:meth:`paper`), or {hold: int | [int], blend:
        int | [int]} in iterations (the final stage takes the rest)."""
        if cfg in (None, False, "direct"):
            return cls.direct(levels, total)
        if cfg is True or cfg == "paper":
            return cls.paper(levels, total)
        if not isinstance(cfg, dict) or set(cfg) - {"hold", "blend"} or not cfg:
            raise ValueError(f"progressive is false, true, 'paper' or {{hold: N, blend: N}}, got {cfg!r}")
        per = lambda v: [int(v)] * (levels - 1) if isinstance(v, (int, float)) else list(v)  # noqa: E731
        return cls(levels, per(cfg.get("hold", 0)), per(cfg.get("blend", 0)), total)

    @property
    def is_direct(self) -> bool:
        return self.levels == 1 or sum(self.hold) + sum(self.blend) == 0

    def boundaries(self) -> list[tuple[int, StageState]]:
        """(first iteration, state there) of every phase, in order."""
        out, t = [], 0
        for i in range(self.levels - 1):
            d = self.levels - 1 - i
            if self.hold[i]:
                out.append((t, StageState(d, 1.0, i + 1, "hold")))
            t += self.hold[i]
            if self.blend[i]:
                out.append((t, StageState(d - 1, 0.0, i + 1, "blend")))
            t += self.blend[i]
        out.append((t, StageState(0, 1.0, self.levels, "final")))
        return out

    def state(self, step: float) -> StageState:
        """The state at iteration `step` (fractional steps allowed: α is linear in the iteration)."""
        t = 0.0
        for i in range(self.levels - 1):
            d = self.levels - 1 - i
            if step < t + self.hold[i]:
                return StageState(d, 1.0, i + 1, "hold")
            t += self.hold[i]
            if step < t + self.blend[i]:
                return StageState(d - 1, float((step - t) / self.blend[i]), i + 1, "blend")
            t += self.blend[i]
        return StageState(0, 1.0, self.levels, "final")

    def describe(self) -> str:
        if self.is_direct:
            return f"direct: full resolution for all {self.total} iterations"
        parts = [
            f"stage {i + 1}: {self.hold[i]} at 1/{2 ** (self.levels - 1 - i)} + {self.blend[i]} blending in "
            f"1/{2 ** (self.levels - 2 - i)}"
            for i in range(self.levels - 1)
        ]
        final = self.total - sum(self.hold) - sum(self.blend)
        return "; ".join(parts + [f"stage {self.levels}: {final} at full resolution"])


def stage_output(aux: list, level: int, w_fine: float, mode: str = "nearest") -> torch.Tensor:
    """w_fine·A_level + (1 − w_fine)·U(A_(level+1)): the prediction the stage is trained on."""
    fine = aux[level]
    if w_fine >= 1.0:
        return fine
    if level + 1 >= len(aux):
        raise ValueError(f"w_fine {w_fine} < 1 at the coarsest level {level}: there is no coarser level to blend")
    coarse = up(aux[level + 1], mode)
    if w_fine <= 0.0:
        return coarse
    return w_fine * fine + (1.0 - w_fine) * coarse


def stage_target(x: torch.Tensor, level: int, w_fine: float, target: str = "blended", mode: str = "nearest"):
    """The target (or mask) at the stage's resolution: D(x, d), or blended like the prediction."""
    if target not in TARGETS:
        raise ValueError(f"target must be one of {TARGETS}, got {target!r}")
    fine = down(x, level)
    if target == "fixed" or w_fine >= 1.0:
        return fine
    coarse = up(down(x, level + 1), mode)
    return w_fine * fine + (1.0 - w_fine) * coarse


def masked_l1(pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    """Σ m·|pred − target| / (Σ m · C): the mean over subject pixels (mask N×1×H×W, weights in [0, 1])."""
    err = (pred - target).abs()
    if mask is None:
        return err.mean()
    m = mask.expand_as(err)
    return (err * m).sum() / m.sum().clamp_min(1e-8)


def stage_loss(
    aux: list,
    target: torch.Tensor,
    mask: torch.Tensor | None,
    state: StageState,
    target_mode: str = "blended",
    mode: str = "nearest",
) -> torch.Tensor:
    """L_d of the state (see the module docstring): masked L1 between the stage output and the
    target at the stage's resolution."""
    pred = stage_output(aux, state.level, state.w_fine, mode)
    tgt = stage_target(target, state.level, state.w_fine, target_mode, mode)
    m = stage_target(mask, state.level, state.w_fine, target_mode, mode) if mask is not None else None
    return masked_l1(pred, tgt, m)


def full_resolution(pred: torch.Tensor, size: tuple[int, int], mode: str = "nearest") -> torch.Tensor:
    """A stage output brought to the full size (validation of a run still in a coarse stage)."""
    if tuple(pred.shape[-2:]) == tuple(size):
        return pred
    if mode == "nearest":
        return F.interpolate(pred, size=size, mode="nearest")
    return F.interpolate(pred, size=size, mode="bilinear", align_corners=False)
