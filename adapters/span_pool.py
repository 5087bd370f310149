"""Span pooling: one vector per answer slot, the mean of the backbone tokens covering the
slot's text (found with the tokenizer's offset mapping), projected to reasoner width."""

from __future__ import annotations

import torch
from torch import nn


class SpanPoolAdapter(nn.Module):
    def __init__(self, backbone_hidden: int, hidden: int, num_slots: int, dropout: float = 0.0):
        super().__init__()
        self.num_slots = num_slots
        self.norm = nn.LayerNorm(backbone_hidden)
        self.proj = nn.Linear(backbone_hidden, hidden)
        self.slot_embedding = nn.Parameter(torch.randn(num_slots, hidden) * 0.02)  # where a slot sits
        self.dropout = nn.Dropout(dropout)

    def forward(self, states: torch.Tensor, mask: torch.Tensor, token_slot: torch.Tensor) -> torch.Tensor:
        # states (B, L, H); token_slot (B, L): index of the slot a token covers, -1 for none
        members = (token_slot.unsqueeze(-1) == torch.arange(self.num_slots, device=states.device))
        members = (members & mask.bool().unsqueeze(-1)).to(states.dtype)  # (B, L, S)
        pooled = torch.einsum("bls,blh->bsh", members, states)
        pooled = pooled / members.sum(1).clamp(min=1).unsqueeze(-1)  # (B, S, H)
        return self.dropout(self.proj(self.norm(pooled))) + self.slot_embedding  # (B, S, D)
