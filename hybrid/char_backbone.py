"""The backbone-off baseline (`backbone=chars`): a fixed, untrained front end with one token per
character.

Each token's state is the one-hot of its character (printable ASCII, plus one "unknown" column
for anything else) followed by sinusoidal features of its position. Nothing here is learned.
The adapter's first trainable layer is a linear projection, and a linear map of a one-hot is a
lookup table, so the hybrid built on this front end is a plain TRM reading learned character
embeddings. It goes through the same cache, adapter, reasoner and harness as a pretrained
backbone, which makes it the "what does the backbone add?" baseline.

    backbone("r1c1=?")  ->  states (1, 6, 101 + 32): one-hot('r') ++ sin/cos(position 0), ...
"""

from __future__ import annotations

import math
import string
import warnings

import torch
from torch import nn

from hybrid.backbone import Encoded
from hybrid.config import BackboneConfig

ALPHABET = string.printable  # 100 characters: digits, letters, punctuation, whitespace
POSITION_FEATURES = 32  # sin/cos pairs at geometric wavelengths, as in "Attention Is All You Need"
VERSION = "v1"  # part of `identity`, so a change to the features invalidates cached states


def position_features(length: int, dim: int = POSITION_FEATURES, base: float = 10_000.0) -> torch.Tensor:
    """(length, dim) fixed sinusoidal features; nearby positions get similar vectors."""
    position = torch.arange(length, dtype=torch.float32).unsqueeze(1)
    frequency = torch.exp(torch.arange(0, dim, 2, dtype=torch.float32) * (-math.log(base) / dim))
    features = torch.zeros(length, dim)
    features[:, 0::2] = torch.sin(position * frequency)
    features[:, 1::2] = torch.cos(position * frequency)
    return features


class CharBackbone(nn.Module):
    """Same interface as `FrozenBackbone`: `config`, `hidden_size`, `identity`, `texts -> Encoded`."""

    def __init__(self, config: BackboneConfig):
        super().__init__()
        self.config = config
        self.index = {ch: i for i, ch in enumerate(ALPHABET)}
        self.unknown = len(ALPHABET)  # one column for every character outside the alphabet
        self.hidden_size = len(ALPHABET) + 1 + POSITION_FEATURES
        self.identity = f"chars@{VERSION}-{self.hidden_size}"
        # A buffer so `.to(device)` moves it; persistent=False keeps it out of any state dict.
        self.register_buffer("positions", position_features(config.max_length), persistent=False)

    def train(self, mode: bool = True):
        return super().train(False)  # nothing to train; keep the same contract as FrozenBackbone

    def ids(self, text: str) -> list[int]:
        return [self.index.get(ch, self.unknown) for ch in text]

    @torch.no_grad()
    def forward(self, texts: list[str]) -> Encoded:
        limit = self.config.max_length
        too_long = [len(t) for t in texts if len(t) > limit]
        if too_long:
            warnings.warn(f"backbone.max_length={limit} truncated {sum(n - limit for n in too_long)} characters "
                          f"over {len(too_long)} texts; raise it to keep them")
        length = max(1, min(limit, max((len(t) for t in texts), default=1)))
        ids = torch.zeros(len(texts), length, dtype=torch.long)
        mask = torch.zeros(len(texts), length, dtype=torch.long)
        offsets = torch.zeros(len(texts), length, 2, dtype=torch.long)  # (0, 0) marks padding
        for b, text in enumerate(texts):
            kept = text[:limit]
            ids[b, :len(kept)] = torch.tensor(self.ids(kept), dtype=torch.long)
            mask[b, :len(kept)] = 1
            offsets[b, :len(kept), 0] = torch.arange(len(kept))
            offsets[b, :len(kept), 1] = torch.arange(1, len(kept) + 1)
        device = self.positions.device
        one_hot = nn.functional.one_hot(ids, self.unknown + 1).float().to(device)  # (B, L, V)
        where = self.positions[:length].expand(len(texts), -1, -1)  # (B, L, P)
        states = torch.cat([one_hot, where], -1) * mask.to(device).unsqueeze(-1)  # padding stays zero
        return Encoded(states, mask, offsets)
