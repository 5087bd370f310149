"""Trainable adapters from backbone width to reasoner width, one module each."""

from __future__ import annotations

from torch import nn

from adapters.query_attention import QueryAttentionAdapter
from adapters.span_pool import SpanPoolAdapter

# adapter.kind -> its class. A new adapter is a module here and a line in this table (the config
# accepts every name in it); make_adapter builds it as cls(backbone_hidden, hidden, num_slots, dropout).
ADAPTERS: dict[str, type[nn.Module]] = {
    "span_pool": SpanPoolAdapter,
    "query_attention": QueryAttentionAdapter,
}


def adapter_kind(config, aligned_slots: bool = True) -> str:
    """`adapter.kind` with `auto` resolved: span pooling where the task's answer slots have
    character spans in the question, learned-query cross-attention otherwise."""
    return config.kind if config.kind != "auto" else ("span_pool" if aligned_slots else "query_attention")


def reads_spans(config, aligned_slots: bool = True) -> bool:
    """Whether the adapter pools each slot's own tokens (`reads_spans` on its class): it needs the
    task's slot spans, and it places each slot itself, so the backbone need add no positions."""
    return getattr(ADAPTERS[adapter_kind(config, aligned_slots)], "reads_spans", False)


def check_adapter(config, hidden: int, aligned_slots: bool = True, task: str = "this task") -> None:
    """A ValueError for adapter settings no model can be built with: an unknown kind, span pooling
    on a task whose slots have no spans, or heads that do not split the reasoner's width. The
    config (hybrid.config.validate) and make_adapter both ask, so the two cannot drift apart."""
    kind = adapter_kind(config, aligned_slots)
    if kind not in ADAPTERS:
        raise ValueError(f"adapter.kind={config.kind!r}: choose auto, {' or '.join(ADAPTERS)}")
    if reads_spans(config, aligned_slots) and not aligned_slots:
        raise ValueError(f"adapter.kind={kind} needs answer slots that line up with the question text; "
                         f"{task} has none: use adapter.kind=query_attention (or auto)")
    if kind == "query_attention" and hidden % config.heads:
        raise ValueError(f"adapter.heads={config.heads} must divide reasoner.hidden={hidden} "
                         f"(the query_attention adapter splits the reasoner's width into heads)")


def make_adapter(config, backbone_hidden: int, hidden: int, num_slots: int, aligned_slots: bool = True,
                 mixer: str = "mlp") -> nn.Module:
    """`aligned_slots`: the task's answer slots have character spans in the question. `mixer`: the
    reasoner's (reasoner.mixer); only mlp tells slots apart by index, so under any other span
    pooling's slot embedding starts at the latents' unit scale (see adapters/span_pool.py)."""
    check_adapter(config, hidden, aligned_slots)
    kind = adapter_kind(config, aligned_slots)
    if kind == "query_attention":
        return QueryAttentionAdapter(backbone_hidden, hidden, num_slots, config.heads, config.dropout)
    if kind == "span_pool":
        return SpanPoolAdapter(backbone_hidden, hidden, num_slots, config.dropout, 0.02 if mixer == "mlp" else 1.0)
    return ADAPTERS[kind](backbone_hidden, hidden, num_slots, config.dropout)


__all__ = ["ADAPTERS", "SpanPoolAdapter", "QueryAttentionAdapter", "adapter_kind", "check_adapter", "make_adapter", "reads_spans"]
