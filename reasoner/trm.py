"""The Tiny Recursive Model's recursion core, with the paper's names.

    x: the embedded question (re-read at every latent step)
    y: the current answer, in latent form        z: the latent reasoning
    latent recursion: n times z <- net(x + y + z), then y <- net(y + z)
    deep recursion:   T-1 latent recursions without gradient, then one with gradient
    deep supervision: the caller runs up to N_sup deep recursions per batch, each with its own
                      loss and optimizer step, carrying (y, z) detached from one to the next.

Only the last latent recursion keeps activations, so memory does not grow with T.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import torch
from torch import nn


@dataclass
class Carry:
    """What one supervision step hands to the next (detached)."""

    y: torch.Tensor  # (B, S, D)
    z: torch.Tensor  # (B, S, D)


@dataclass
class ReasonerOutput:
    y: torch.Tensor  # (B, S, D) answer latent after this step, with gradient (for the head)
    # (B,) halting logit, "my answer is already right, stop": training halts a puzzle at > 0, early exit at
    # sigmoid(q_halt) > reasoner.halt_threshold (0.9)
    q_halt: torch.Tensor
    carry: Carry  # (y, z) detached, for the next supervision step


class TRM(nn.Module):
    def __init__(self, net: nn.Module, hidden: int, n: int = 6, T: int = 3, compiled: bool = False):
        super().__init__()
        if min(n, T) < 1:  # T=0 ran one recursion all the same (as T=1), n=0 never updated z
            raise ValueError(f"n and T must be >= 1 (got n={n}, T={T})")
        self.net = net  # the one tiny network, updating both z and y
        self.n, self.T = n, T
        self.compiled = compiled  # torch.compile each latent recursion (bench/fast_paths.py)
        # Fixed random starting latents, shared by every puzzle (no per-instance embedding).
        self.register_buffer("y_init", torch.randn(hidden) * 0.02)
        self.register_buffer("z_init", torch.randn(hidden) * 0.02)
        self.halt_head = nn.Linear(hidden, 1)
        # Start far from halting so early training runs every supervision step.
        nn.init.zeros_(self.halt_head.weight)
        nn.init.constant_(self.halt_head.bias, -5.0)

    def initial_carry(self, x: torch.Tensor) -> Carry:
        return Carry(self.y_init.expand_as(x).clone(), self.z_init.expand_as(x).clone())

    def latent_recursion(self, x: torch.Tensor, y: torch.Tensor, z: torch.Tensor):
        question_and_answer = x + y  # fixed during the n steps (the same sum as x + y + z)
        for _ in range(self.n):
            z = self.net(question_and_answer + z)  # reason, re-reading the question
        y = self.net(y + z)  # revise the answer from the reasoning
        return y, z

    def forward(self, x: torch.Tensor, carry: Carry) -> ReasonerOutput:
        y, z = carry.y, carry.z
        recursion = compiled_latent_recursion() if self.compiled else type(self).latent_recursion
        with torch.no_grad():
            for _ in range(self.T - 1):
                y, z = recursion(self, x, y, z)
        y, z = recursion(self, x, y, z)
        q_halt = self.halt_head(y.mean(dim=1)).squeeze(-1)
        return ReasonerOutput(y=y, q_halt=q_halt, carry=Carry(y.detach(), z.detach()))


@cache
def compiled_latent_recursion():
    """TRM.latent_recursion compiled once for every instance. The module is an argument rather
    than a compiled bound method, so a deep copy (the EMA) runs with its own weights."""
    return torch.compile(TRM.latent_recursion)
