"""Stable-max cross entropy (TRM): softmax's exp replaced by s(x) = x + 1 for x >= 0 and
1 / (1 - x) below, which grows linearly, so logits cannot blow up as training sharpens them."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from eval.tasks.base import IGNORE


def stable_exp(logits: torch.Tensor) -> torch.Tensor:
    """s(x), the stand-in for exp, in float32: the ratios need full precision even under bf16 autocast."""
    logits = logits.float()
    return torch.where(logits >= 0, logits + 1, 1 / (1 - logits.clamp(max=0)))


def stablemax_cross_entropy(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Per-slot loss (B, S); IGNORE slots give 0. Written as log(sum s) - log(s[label]), which
    takes fewer passes over the logits than gathering from the full log-probabilities."""
    s = stable_exp(logits)
    s_label = s.gather(-1, labels.clamp(min=0).unsqueeze(-1)).squeeze(-1)
    return (torch.log(s.sum(-1)) - torch.log(s_label)) * (labels != IGNORE)


def halting_loss(q_halt: torch.Tensor, correct: torch.Tensor) -> torch.Tensor:
    """BCE of the halting logit against "the current answer is fully correct" (B,)."""
    return F.binary_cross_entropy_with_logits(q_halt.float(), correct.float(), reduction="none")
