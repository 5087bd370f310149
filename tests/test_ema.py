"""The EMA copy that training evaluates: its warm-up schedule and what it averages."""

import torch
from torch import nn

from hybrid.ema import make_ema


class Tiny(nn.Module):
    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(3, 2)
        self.register_buffer("ids", torch.arange(4))  # an integer buffer: never averaged


def test_first_update_copies_then_decay_warms_up_to_its_cap():
    model = Tiny()
    ema = make_ema(model, decay=0.5)
    expected = ema.module.linear.weight.detach().clone()
    for t in range(4):
        with torch.no_grad():
            model.linear.weight.add_(torch.randn_like(model.linear.weight))
            model.ids.add_(1)
        weight = model.linear.weight.detach()
        d = min(0.5, (1 + t) / (10 + t))  # 0.1, 0.18, 0.25, 0.31: below the cap here
        expected = weight.clone() if t == 0 else d * expected + (1 - d) * weight
        ema.update_parameters(model)
        assert torch.allclose(ema.module.linear.weight, expected, atol=1e-6), t
    assert int(ema.n_averaged) == 4 and torch.equal(ema.module.ids, torch.arange(4))
    assert "n_averaged" in ema.state_dict()  # the checkpoint format load_weights reads


def test_decay_caps_and_the_copy_is_separate():
    model = Tiny()
    ema = make_ema(model, decay=0.05)
    ema.update_parameters(model)
    before = ema.module.linear.bias.detach().clone()
    with torch.no_grad():
        model.linear.bias.add_(1.0)
    ema.update_parameters(model)  # t = 1: min(0.05, 2/11) = 0.05
    assert torch.allclose(ema.module.linear.bias, before + 0.95, atol=1e-6)
    assert ema.module.linear.bias.data_ptr() != model.linear.bias.data_ptr()


def test_frozen_weights_are_shared_not_copied():
    """A LoRA backbone's base weights never change: the EMA copy holds the model's own tensors
    for them (no second backbone in memory), and averages only what trains."""
    model = Tiny()
    model.frozen = nn.Linear(3, 3).requires_grad_(False)
    ema = make_ema(model, decay=0.5)
    assert ema.module.frozen.weight is model.frozen.weight
    assert ema.module.linear.weight is not model.linear.weight
    before = ema.module.linear.weight.detach().clone()
    ema.update_parameters(model)
    with torch.no_grad():
        model.linear.weight.add_(1.0)
    ema.update_parameters(model)
    assert not torch.equal(ema.module.linear.weight, before)  # the trainable weights still average
    assert set(ema.state_dict()) == {"n_averaged", *(f"module.{k}" for k in model.state_dict())}


def test_float_buffers_are_averaged_like_weights():
    """A float buffer that training changes (BatchNorm's running statistics) is part of the model
    the EMA stands for: it averages with the weights; the integer step count is left alone."""
    model = nn.BatchNorm1d(3)
    ema = make_ema(model, decay=0.5)
    model(torch.randn(16, 3) + 4.0)  # a training forward moves the running mean toward 4
    ema.update_parameters(model)
    assert torch.equal(ema.module.running_mean, model.running_mean) and model.running_mean.abs().sum() > 0
    model(torch.randn(16, 3) + 4.0)
    before = ema.module.running_mean.clone()
    ema.update_parameters(model)  # t = 1: min(0.5, 2/11)
    d = 2 / 11
    assert torch.allclose(ema.module.running_mean, d * before + (1 - d) * model.running_mean, atol=1e-6)
    assert int(ema.module.num_batches_tracked) == 0
