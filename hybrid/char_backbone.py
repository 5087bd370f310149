"""The backbone-off baseline (`backbone=chars`): a fixed, untrained front end with one token per
character.

Each token's state is the one-hot of its character (printable ASCII, plus one "unknown" column
for anything else), the one-hot of the character before it (all zero at the start of the text),
a one-hot bucket of the trigram ending at it (the two characters before and itself, hashed into
`TRIGRAM_BUCKETS` columns), and sinusoidal features of its position. Nothing here is learned.
The adapter's first trainable layer is a linear projection, and a linear map of a one-hot is a
lookup table, so the hybrid built on this front end is a plain TRM reading learned character
(and character n-gram) embeddings. It goes through the same cache, adapter, reasoner and harness
as a pretrained backbone, which makes it the "what does the backbone add?" baseline.

The context columns matter once a slot spans several characters: span pooling averages the
slot's tokens, and a mean of character one-hots and positions is a bag that forgets their order
("42" and "24", "sixty-nine" and "ninety-six" would pool to the same vector). With the previous
character and the trigram it pools to a bag of character n-grams, which keeps the order (as
fastText's subword features do), so "from smallest to largest" and "from largest to smallest"
differ too. Where every slot is one character (Sudoku cells) the context adds nothing but width:
`backbone.path=chars:1` keeps the character and position columns only (`chars:2` adds the
previous character).

Positions are left out when the adapter places each slot itself (span pooling adds a learned
embedding per slot): the absolute position of a slot's characters then only adds noise that
drowns the character columns after the adapter's LayerNorm (32 sinusoid columns against one
one-hot). On 6x6 Sudoku, 900 optimizer steps: 0.48 exact with them, 0.73 without (0.92 with the
adapter's unit-scale initialisation), against 0.885 for the reference TRM's cell embeddings
(bench/vs_reference.py). The query-attention adapter has no other notion of order, so it gets them.

    backbone("r1c1=?")  ->  states (1, 6, 101 + 101 + 256 + 32):
                            one-hot('r') ++ 0 ++ trigram(_, _, 'r') ++ sin/cos(position 0), ...
"""

from __future__ import annotations

import math
import string

import torch
from torch import nn

from hybrid.backbone import Encoded, TruncationWarnings
from hybrid.config import BackboneConfig, ConfigError
from hybrid.console import counted

ALPHABET = string.printable  # 100 characters: digits, letters, punctuation, whitespace
POSITION_FEATURES = 32  # sin/cos pairs at geometric wavelengths, as in "Attention Is All You Need"
TRIGRAM_BUCKETS = 256  # hashed (char before last, last, this) columns; collisions are rare and harmless
VERSION = "v2"  # part of `identity`, so a change to the features invalidates cached states


def trigram_buckets(ids: torch.Tensor, symbols: int, buckets: int = TRIGRAM_BUCKETS) -> torch.Tensor:
    """(B, L) character ids -> (B, L) bucket of the trigram ending at each character; before the
    start of the text counts as one more symbol. A fixed multiplicative hash, the same in every
    process (Python's str hash is salted per run)."""
    before = torch.nn.functional.pad(ids, (1, 0), value=symbols)[:, :-1]
    twice = torch.nn.functional.pad(ids, (2, 0), value=symbols)[:, :-2]
    code = (twice * (symbols + 1) + before) * (symbols + 1) + ids
    return (code * 2654435761 % 2**32) // (2**32 // buckets)


def ngram_order(path: str) -> int:
    """`chars` -> 3 (characters, the one before, trigram buckets); `chars:1` plain characters,
    `chars:2` with the previous character."""
    order = path.partition(":")[2] or "3"
    if order not in ("1", "2", "3"):
        raise ConfigError(f"backbone.path={path!r}: use chars (trigram context), chars:3 (the same), chars:2 "
                          f"(the character before) or chars:1 (characters alone)")
    return int(order)


def position_features(length: int, dim: int = POSITION_FEATURES, base: float = 10_000.0) -> torch.Tensor:
    """(length, dim) fixed sinusoidal features; nearby positions get similar vectors."""
    position = torch.arange(length, dtype=torch.float32).unsqueeze(1)
    frequency = torch.exp(torch.arange(0, dim, 2, dtype=torch.float32) * (-math.log(base) / dim))
    features = torch.zeros(length, dim)
    features[:, 0::2] = torch.sin(position * frequency)
    features[:, 1::2] = torch.cos(position * frequency)
    return features


class CharBackbone(TruncationWarnings, nn.Module):
    """Same interface as `FrozenBackbone`: `config`, `hidden_size`, `identity`, `texts -> Encoded`."""

    def __init__(self, config: BackboneConfig, positions: bool = True):
        super().__init__()
        self.config = config
        self.order = ngram_order(config.path)
        self.with_positions = positions
        self.index = {ch: i for i, ch in enumerate(ALPHABET)}
        self.unknown = len(ALPHABET)  # one column for every character outside the alphabet
        symbols = len(ALPHABET) + 1
        context = {1: 0, 2: symbols, 3: symbols + TRIGRAM_BUCKETS}[self.order]
        self.hidden_size = symbols + context + (POSITION_FEATURES if positions else 0)
        self.identity = f"chars@{VERSION}-{self.order}-{'pos' if positions else 'nopos'}-{self.hidden_size}"
        # A buffer so `.to(device)` moves it; persistent=False keeps it out of any state dict.
        self.register_buffer("positions", position_features(config.max_length), persistent=False)

    def train(self, mode: bool = True):
        return super().train(False)  # nothing to train; keep the same contract as FrozenBackbone

    def truncation_message(self, lost: int, texts: int) -> str:
        return (f"backbone.max_length={self.config.max_length} truncated {counted(lost, 'character')} over "
                f"{counted(texts, 'text')}; raise it to keep them")

    def ids(self, text: str) -> list[int]:
        return [self.index.get(ch, self.unknown) for ch in text]

    def tokenize(self, texts: list[str]) -> dict[str, torch.Tensor]:
        """Character ids, mask and offsets, cut at max_length and padded, as FrozenBackbone.tokenize
        gives them; warns when truncation cuts characters (see TruncationWarnings)."""
        limit = self.config.max_length
        self.truncated([len(t) for t in texts], limit)
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
        return {"input_ids": ids, "attention_mask": mask, "offset_mapping": offsets}

    @torch.no_grad()
    def forward(self, texts: list[str]) -> Encoded:
        batch = self.tokenize(texts)
        return Encoded(self.states(batch["input_ids"], batch["attention_mask"]), batch["attention_mask"],
                       batch["offset_mapping"])

    @torch.no_grad()
    def states(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """(B, L, H) features of tokenized texts, as `FrozenBackbone.states` gives a layer's."""
        length = ids.shape[1]
        device = self.positions.device
        symbols = self.unknown + 1
        one_hot = nn.functional.one_hot(ids, symbols).float()  # (B, L, V)
        columns = [one_hot]
        if self.order >= 2:
            columns.append(nn.functional.pad(one_hot, (0, 0, 1, 0))[:, :-1])  # (B, L, V), zero before the text
        if self.order >= 3:
            columns.append(nn.functional.one_hot(trigram_buckets(ids, symbols), TRIGRAM_BUCKETS).float())  # (B, L, T)
        if self.with_positions:
            columns.append(self.positions[:length].expand(len(ids), -1, -1))  # (B, L, P)
        states = torch.cat([c.to(device) for c in columns], -1)
        return states * mask.to(device).unsqueeze(-1)  # padding stays zero
