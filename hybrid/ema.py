"""EMA of the trainable weights, used for evaluation (TRM: without it Sudoku drops ~8 points)."""

from __future__ import annotations

from torch import nn
from torch.optim.swa_utils import AveragedModel


def make_ema(model: nn.Module, decay: float) -> AveragedModel:
    """An averaged copy whose decay warms up as (1 + t) / (10 + t), capped at `decay`, so short
    runs are not dominated by the random initial weights."""

    def average(ema_param, param, num_averaged):
        d = min(decay, (1 + float(num_averaged)) / (10 + float(num_averaged)))
        return ema_param * d + param * (1 - d)

    return AveragedModel(model, avg_fn=average, use_buffers=True)
