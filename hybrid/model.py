"""The trainable hybrid in data-flow order: backbone features -> adapter -> TRM -> answer head.

The frozen backbone is not part of this module (see hybrid/backbone.py): it stays outside the
DDP wrapper and outside checkpoints, and its token states can be cached on disk.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from adapters import make_adapter
from hybrid.config import Config, ConfigError
from reasoner import TRM, Carry, TinyNet


@dataclass
class HybridOutput:
    logits: torch.Tensor  # (B, S, V) over the task's answer vocabulary
    q_halt: torch.Tensor  # (B,) halting logit
    carry: Carry  # detached latents for the next supervision step


class HybridModel(nn.Module):
    def __init__(self, config: Config, backbone_hidden: int, num_slots: int, vocab_size: int,
                 aligned_slots: bool = True):
        super().__init__()
        r = config.reasoner
        try:
            self.adapter = make_adapter(config.adapter, backbone_hidden, r.hidden, num_slots, aligned_slots, r.mixer)
        except ValueError as err:  # an adapter setting this task or width cannot use: a config error
            raise ConfigError(str(err)) from None
        net = TinyNet(r.hidden, num_slots, r.layers, r.mixer, r.heads, r.expansion)
        self.reasoner = TRM(net, r.hidden, n=r.n, T=r.T, compiled=r.compile)
        self.head = nn.Linear(r.hidden, vocab_size, bias=False)
        self.N_sup = r.N_sup
        self.config = config  # save_pretrained writes it, so a saved folder names its backbone and task

    @classmethod
    def for_task(cls, config: Config, backbone_hidden: int, task) -> HybridModel:
        """The model for `task` (its answer slots and vocabulary) on a backbone of width
        `backbone_hidden`. Training, evaluation and solving all build it here, so each one's
        state dict fits the weights another saved."""
        return cls(config, backbone_hidden, task.num_slots, len(task.vocab), task.aligned_slots)

    def initial_carry(self, batch_size: int, num_slots: int, device) -> Carry:
        like = torch.zeros(batch_size, num_slots, self.reasoner.y_init.shape[0], device=device)  # (B, S, D), shape only
        return self.reasoner.initial_carry(like)

    def read(self, states, mask, token_slot) -> tuple:
        """The weight-free part of reading a batch, done once for all its supervision steps:
        span pooling (the pooled vectors replace the token states and `token_slot` becomes None).
        Returns the (states, mask, token_slot) that `forward` takes."""
        return self.adapter.read(states, mask, token_slot)

    def forward(self, states, mask, token_slot, y, z) -> HybridOutput:
        """One supervision step, on token states or on what `read` made of them. Latents come in
        as tensors so DDP sees plain arguments."""
        x = self.adapter(states, mask, token_slot)  # (B, S, D)
        out = self.reasoner(x, Carry(y, z))
        return HybridOutput(self.head(out.y), out.q_halt, out.carry)

    def save_pretrained(self, folder) -> None:
        """config.yaml + this module's weights in safetensors (training saves its EMA copy this way)."""
        from hybrid.inference import save_pretrained

        save_pretrained(self, self.config, folder)

    @classmethod
    def from_pretrained(cls, folder, device=None, backbone: str | None = None):
        """A ready-to-use solver (hybrid.inference.Hybrid, with `.solve(texts)`): the weights in
        `folder` plus the frozen backbone and task its config names (`backbone`: where that
        backbone is here, when not where the config says). The backbone is kept out of this
        module, so the solver holds the three together."""
        from hybrid.inference import Hybrid

        return Hybrid.from_pretrained(folder, device, backbone)
