"""The one tiny network TRM reapplies: a few post-norm blocks (RMSNorm, SwiGLU, no biases)
whose token mixing is either bidirectional attention or an MLP over the slot axis."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class SwiGLU(nn.Module):
    def __init__(self, dim: int, expansion: float):
        super().__init__()
        inner = int(dim * expansion * 2 / 3)  # 2/3 keeps parameters equal to a plain MLP of `expansion`
        if inner < 1:  # a layer of width 0 adds nothing, and built without a word: a net with no weights
            raise ValueError(f"expansion={expansion} leaves the SwiGLU over {dim} features no width "
                             f"(int({dim} * {expansion} * 2/3) = {inner}); raise reasoner.expansion")
        self.gate_up = nn.Linear(dim, 2 * inner, bias=False)
        self.down = nn.Linear(inner, dim, bias=False)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        # F.linear on the layers' weights: the net runs T * (n + 1) times per step, and the
        # per-call overhead of nn.Module adds up at this size. Gate and up come from the two
        # row halves of one weight, each as its own product: a chunk of one product would be a
        # strided view, and silu and the product run slower on those (bench/vs_reference.py).
        w_gate, w_up = self.gate_up.weight.chunk(2, dim=0)
        return F.linear(F.silu(F.linear(h, w_gate)) * F.linear(h, w_up), self.down.weight)


class Attention(nn.Module):
    def __init__(self, dim: int, heads: int):
        super().__init__()
        if heads < 1 or dim % heads:  # else the first forward failed on a reshape: "shape '[2, 9, 3, 4, 7]' is invalid"
            raise ValueError(f"heads={heads} must divide the width {dim} (reasoner.heads, reasoner.hidden)")
        self.heads = heads
        self.qkv = nn.Linear(dim, 3 * dim, bias=False)
        self.out = nn.Linear(dim, dim, bias=False)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        B, S, D = h.shape
        q, k, v = self.qkv(h).view(B, S, 3, self.heads, D // self.heads).permute(2, 0, 3, 1, 4)
        mixed = F.scaled_dot_product_attention(q, k, v)  # (B, heads, S, D/heads), no mask: bidirectional
        return self.out(mixed.transpose(1, 2).reshape(B, S, D))


class SequenceMLP(nn.Module):
    """Mixes slots with a SwiGLU across the slot axis: fixed-size grids only (TRM-MLP)."""

    def __init__(self, num_slots: int, expansion: float):
        super().__init__()
        self.num_slots, self.mlp = num_slots, SwiGLU(num_slots, expansion)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        if h.shape[1] != self.num_slots:  # else torch's "mat1 and mat2 shapes cannot be multiplied (32x10 and 9x24)"
            raise ValueError(f"mixer=mlp mixes a fixed number of slots: this net was built for {self.num_slots}, the "
                             f"input has {h.shape[1]}; for inputs of other lengths use reasoner.mixer=attention")
        return self.mlp(h.transpose(1, 2)).transpose(1, 2)


class Block(nn.Module):
    def __init__(self, dim: int, mixer: nn.Module, expansion: float):
        super().__init__()
        self.mixer, self.mlp = mixer, SwiGLU(dim, expansion)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        # Post-norm (RMSNorm without weights) keeps the recurrent state's scale fixed. Functional
        # rather than modules: the net runs T * (n + 1) times per step, and module calls add up.
        h = F.rms_norm(h + self.mixer(h), h.shape[-1:])
        return F.rms_norm(h + self.mlp(h), h.shape[-1:])


# reasoner.mixer -> how one block's slot mixer is built from (dim, num_slots, heads, expansion); it maps
# (B, S, D) to (B, S, D). A new mixer is a line here (the config accepts every name in this table).
MIXERS = {
    "mlp": lambda dim, num_slots, heads, expansion: SequenceMLP(num_slots, expansion),
    "attention": lambda dim, num_slots, heads, expansion: Attention(dim, heads),
}


class TinyNet(nn.Sequential):
    """`layers` blocks; input and output are (B, S, D)."""

    def __init__(self, dim: int, num_slots: int, layers: int = 2, mixer: str = "mlp", heads: int = 4,
                 expansion: float = 4.0):
        if mixer not in MIXERS:
            raise ValueError(f"mixer={mixer!r}: choose {' or '.join(MIXERS)}")
        super().__init__(*[Block(dim, MIXERS[mixer](dim, num_slots, heads, expansion), expansion)
                           for _ in range(layers)])
