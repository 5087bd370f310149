"""Trainable adapters from backbone width to reasoner width, one module each."""

from __future__ import annotations

from torch import nn

from adapters.query_attention import QueryAttentionAdapter
from adapters.span_pool import SpanPoolAdapter


def adapter_kind(config, aligned_slots: bool = True) -> str:
    """`adapter.kind` with `auto` resolved: span pooling where the task's answer slots have
    character spans in the question, learned-query cross-attention otherwise."""
    return config.kind if config.kind != "auto" else ("span_pool" if aligned_slots else "query_attention")


def make_adapter(config, backbone_hidden: int, hidden: int, num_slots: int, aligned_slots: bool = True) -> nn.Module:
    """`aligned_slots`: the task's answer slots have character spans in the question."""
    kind = adapter_kind(config, aligned_slots)
    if kind == "span_pool" and not aligned_slots:
        raise ValueError("adapter.kind=span_pool needs answer slots that line up with the question text; "
                         "this task has none: use adapter.kind=query_attention (or auto)")
    if kind == "span_pool":
        return SpanPoolAdapter(backbone_hidden, hidden, num_slots, config.dropout)
    if kind == "query_attention":
        if hidden % config.heads:
            raise ValueError(f"adapter.heads={config.heads} must divide reasoner.hidden={hidden} "
                             f"(the query_attention adapter splits the reasoner's width into heads)")
        return QueryAttentionAdapter(backbone_hidden, hidden, num_slots, config.heads, config.dropout)
    raise ValueError(f"adapter.kind={config.kind!r}: choose span_pool or query_attention")


__all__ = ["SpanPoolAdapter", "QueryAttentionAdapter", "adapter_kind", "make_adapter"]
