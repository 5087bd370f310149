"""Learned-query cross-attention: each answer slot owns a learned query that attends over all
backbone tokens. Needs no alignment between slots and text, so it serves free-text puzzles,
and sees every token even when a causal decoder backbone made early tokens blind to later ones."""

from __future__ import annotations

import torch
from torch import nn


class QueryAttentionAdapter(nn.Module):
    reads_spans = False  # attends over every token: no slot spans needed (adapters.reads_spans)

    def __init__(self, backbone_hidden: int, hidden: int, num_slots: int, heads: int = 4, dropout: float = 0.0):
        super().__init__()
        self.norm = nn.LayerNorm(backbone_hidden)
        self.proj = nn.Linear(backbone_hidden, hidden)
        # Unit scale, the scale of the RMS-normed latents x is added to: a slot's query is all that
        # tells it from the others when the reasoner mixes slots by attention (no positions of its own),
        # and queries at 0.02 left the slots alike, so the model wrote one character in every slot.
        self.queries = nn.Parameter(torch.randn(num_slots, hidden))
        self.attention = nn.MultiheadAttention(hidden, heads, dropout=dropout, batch_first=True)
        self.mlp = nn.Sequential(nn.LayerNorm(hidden), nn.Linear(hidden, 2 * hidden), nn.GELU(), nn.Linear(2 * hidden, hidden))

    def read(self, states: torch.Tensor, mask: torch.Tensor, token_slot: torch.Tensor | None) -> tuple:
        return states, mask, token_slot  # attention has weights at every step: nothing to precompute

    def forward(self, states: torch.Tensor, mask: torch.Tensor, token_slot: torch.Tensor | None = None) -> torch.Tensor:
        tokens = self.proj(self.norm(states))  # (B, L, D)
        queries = self.queries.expand(states.shape[0], -1, -1)  # (B, S, D)
        attended, _ = self.attention(queries, tokens, tokens, key_padding_mask=~mask.bool(), need_weights=False)
        x = queries + attended
        return x + self.mlp(x)  # (B, S, D)
