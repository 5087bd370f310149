"""Span pooling: one vector per answer slot, the mean of the backbone tokens covering the
slot's text (found with the tokenizer's offset mapping), projected to reasoner width.

Pooling has no weights, so a batch is pooled once (`pool`) and every supervision step reuses
the pooled vectors: the training loop and the evaluation runner call `HybridModel.read` once
per batch and pass its result to each step (see hybrid/model.py)."""

from __future__ import annotations

import torch
from torch import nn


class SpanPoolAdapter(nn.Module):
    reads_spans = True  # pools the tokens of each slot's span (adapters.reads_spans)

    def __init__(self, backbone_hidden: int, hidden: int, num_slots: int, dropout: float = 0.0,
                 slot_scale: float = 0.02):
        super().__init__()
        self.num_slots = num_slots
        self.norm = nn.LayerNorm(backbone_hidden)
        self.proj = nn.Linear(backbone_hidden, hidden)
        # LeCun-normal: unit-scale normalized features come out at unit scale, the scale of the
        # RMS-normed latents they are added to (PyTorch's default gives about 0.58).
        nn.init.normal_(self.proj.weight, std=backbone_hidden ** -0.5)
        nn.init.zeros_(self.proj.bias)
        # Where a slot sits. 0.02 under the mlp mixer, which tells slots apart by their index itself;
        # make_adapter gives 1 (the latents' scale) under a mixer with no slot positions (attention):
        # there this is all that tells apart slots reading the same text (Sudoku's "_ _" on chars).
        self.slot_embedding = nn.Parameter(torch.randn(num_slots, hidden) * slot_scale)
        self.dropout = nn.Dropout(dropout)

    def pool(self, states: torch.Tensor, mask: torch.Tensor, token_slot: torch.Tensor) -> torch.Tensor:
        # states (B, L, H); token_slot (B, L): index of the slot a token covers, -1 for none
        members = (token_slot.unsqueeze(-1) == torch.arange(self.num_slots, device=states.device))
        members = (members & mask.bool().unsqueeze(-1)).to(states.dtype)  # (B, L, S)
        pooled = torch.einsum("bls,blh->bsh", members, states)
        return pooled / members.sum(1).clamp(min=1).unsqueeze(-1)  # (B, S, H)

    def read(self, states: torch.Tensor, mask: torch.Tensor, token_slot: torch.Tensor) -> tuple:
        return self.pool(states, mask, token_slot), mask, None  # forward's input, pooled once

    def forward(self, states: torch.Tensor, mask: torch.Tensor | None, token_slot: torch.Tensor | None) -> torch.Tensor:
        """token_slot=None: `states` are already pooled, (B, S, H)."""
        pooled = states if token_slot is None else self.pool(states, mask, token_slot)
        return self.dropout(self.proj(self.norm(pooled))) + self.slot_embedding  # (B, S, D)
