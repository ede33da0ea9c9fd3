"""Actor–critic pieces (DDPG, Lillicrap et al. 2016; Algorithm 1 of the AMGAN-RL supplement) that
any task with a non-differentiable reward can compose: a replay buffer whose state saves with a
checkpoint, exploration around the actor's action, the critic's update and the actor's objective.

A task owns the critic and its optimiser, calls :func:`critic_update` inside its
``training_step`` and returns :func:`actor_objective` as the loss the trainer's optimiser (the
actor's) minimises. The losses are :func:`neurecon.losses.critic_loss` and
:func:`neurecon.losses.actor_loss`.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from ..losses import actor_loss, critic_loss


class ReplayBuffer:
    """A ring buffer of (s, a, r) transitions held as tensors; 8-bit states (``quantized``) are
    stored as uint8 exactly. :meth:`state_dict` / :meth:`load_state_dict` make resume exact."""

    def __init__(
        self, capacity: int, state_shape: tuple[int, ...], action_dim: int, quantized: bool = False, extra_dim: int = 0
    ):
        if capacity < 1:
            raise ValueError(f"replay buffer capacity must be >= 1, got {capacity}")
        self.capacity, self.quantized = capacity, quantized
        self.s = torch.zeros((capacity, *state_shape), dtype=torch.uint8 if quantized else torch.float32)
        self.a = torch.zeros(capacity, action_dim)
        self.r = torch.zeros(capacity)
        self.x = torch.zeros(capacity, extra_dim)  # per-state extras (e.g. a critic's hint), computed once
        self.n = self.pos = 0

    def __len__(self) -> int:
        return self.n

    def add(self, s: torch.Tensor, a: torch.Tensor, r: torch.Tensor, extra: torch.Tensor | None = None) -> None:
        s = torch.round(s.detach() * 255).to(torch.uint8) if self.quantized else s.detach().float()
        for i in range(s.shape[0]):
            self.s[self.pos], self.a[self.pos], self.r[self.pos] = s[i], a[i].detach(), r[i].detach()
            if extra is not None:
                self.x[self.pos] = extra[i].detach()
            self.pos = (self.pos + 1) % self.capacity
            self.n = min(self.n + 1, self.capacity)

    def sample(self, rng: np.random.Generator, n: int, extra: bool = False) -> tuple[torch.Tensor, ...]:
        """(s, a, r) of ``n`` random transitions, and their extras with ``extra``."""
        if self.n == 0:
            raise ValueError("the replay buffer is empty")
        idx = torch.from_numpy(rng.integers(self.n, size=n))
        s = self.s[idx].float() / 255 if self.quantized else self.s[idx]
        return (s, self.a[idx], self.r[idx], self.x[idx]) if extra else (s, self.a[idx], self.r[idx])

    def state_dict(self) -> dict:
        n = self.n
        return {"s": self.s[:n].clone(), "a": self.a[:n].clone(), "r": self.r[:n].clone(), "x": self.x[:n].clone(),
                "n": n, "pos": self.pos}  # fmt: skip

    def load_state_dict(self, st: dict) -> None:
        self.n, self.pos = int(st["n"]), int(st["pos"])
        self.s[: self.n], self.a[: self.n], self.r[: self.n] = st["s"], st["a"], st["r"]
        if "x" in st:
            self.x[: self.n] = st["x"]


def explore(
    mu: torch.Tensor,
    copies: int,
    std: float,
    rng: np.random.Generator,
    low: float | None = None,
    high: float | None = None,
) -> torch.Tensor:
    """``copies`` actions per state, (copies·N)×D: the first N are the actor's own (no noise), the
    others add Gaussian noise of ``std``; clamped to [low, high] when given."""
    noise = torch.from_numpy(rng.normal(0.0, std, size=(copies * mu.shape[0], mu.shape[1]))).to(mu.dtype)
    noise[: mu.shape[0]] = 0
    acts = mu.detach().repeat(copies, 1) + noise
    if low is not None or high is not None:
        acts = acts.clamp(low, high)
    return acts


def critic_update(
    critic: nn.Module,
    opt: torch.optim.Optimizer,
    buffer: ReplayBuffer,
    rng: np.random.Generator,
    minibatch: int,
    form: str = "td2",
    gamma: float = 0.0,
    grad_clip: float = 0.0,
    hint: bool = False,
) -> float:
    """One step of the critic on a random minibatch of the buffer (Algorithm 1, lines 6–7); with
    ``hint`` the critic also reads the buffer's per-state extras."""
    if hint:
        s, a, r, h = buffer.sample(rng, minibatch, extra=True)
        q = critic(s, a, h)
    else:
        s, a, r = buffer.sample(rng, minibatch)
        q = critic(s, a)
    loss = critic_loss(q, r, form, gamma)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    if grad_clip > 0:
        nn.utils.clip_grad_norm_(critic.parameters(), grad_clip)
    opt.step()
    return float(loss.detach())


def actor_objective(
    critic: nn.Module, actor: nn.Module, states: torch.Tensor, hint: torch.Tensor | None = None
) -> torch.Tensor:
    """−mean Q(s, μ(s)) with the critic held fixed: backpropagated, it gives Algorithm 1's policy
    gradient (line 8) in the actor's parameters only; ``hint``: the critic's extra input for states."""
    req = [p.requires_grad for p in critic.parameters()]
    critic.requires_grad_(False)
    try:
        a = actor(states)
        return actor_loss(critic(states, a) if hint is None else critic(states, a, hint))
    finally:
        for p, r in zip(critic.parameters(), req):
            p.requires_grad_(r)
