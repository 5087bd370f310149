"""EMA of the trainable weights, used for evaluation (TRM: without it Sudoku drops ~8 points)."""

from __future__ import annotations

import torch
from torch import nn
from torch.optim.swa_utils import AveragedModel


def make_ema(model: nn.Module, decay: float) -> AveragedModel:
    """An averaged copy whose decay warms up as (1 + t) / (10 + t), capped at `decay`, so short
    runs are not dominated by the random initial weights."""

    @torch.no_grad()
    def average(ema_params, params, num_averaged):
        t = float(num_averaged)
        d = min(decay, (1 + t) / (10 + t))
        floats = [(e, p) for e, p in zip(ema_params, params) if e.is_floating_point()]
        if floats:  # one fused update for all float tensors; integer buffers (position ids) stay as they are
            torch._foreach_lerp_([e for e, _ in floats], [p for _, p in floats], 1 - d)

    return AveragedModel(model, multi_avg_fn=average, use_buffers=True)
