"""Trainable adapters from backbone width to reasoner width, one module each."""

from __future__ import annotations

from torch import nn

from adapters.query_attention import QueryAttentionAdapter
from adapters.span_pool import SpanPoolAdapter


def make_adapter(config, backbone_hidden: int, hidden: int, num_slots: int) -> nn.Module:
    if config.kind == "span_pool":
        return SpanPoolAdapter(backbone_hidden, hidden, num_slots, config.dropout)
    if config.kind == "query_attention":
        return QueryAttentionAdapter(backbone_hidden, hidden, num_slots, config.heads, config.dropout)
    raise ValueError(f"adapter.kind={config.kind!r}: choose span_pool or query_attention")


__all__ = ["SpanPoolAdapter", "QueryAttentionAdapter", "make_adapter"]
