"""Whole training runs on the CPU with tiny models: checkpoints, resume, errors, backbones."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from hybrid import checkpoint
from hybrid.checkpoint import CheckpointError
from hybrid.train import train


def test_short_run_writes_checkpoints_and_resume_continues(small_config):
    config = small_config()
    first = train(config)
    out = Path(config.train.output_dir)
    saved = checkpoint.checkpoints(out)
    assert [p.name for p in saved] == ["step_00000002", "step_00000004"]
    assert (saved[-1] / "config.yaml").exists()
    assert json.loads((out / "metrics.json").read_text())["batches"] == 4
    assert 0.0 <= first["test"]["exact_accuracy"] <= 1.0
    assert len(first["test"]["exact_curve"]) == config.reasoner.N_sup

    resumed = train(small_config("train.steps=6", "train.resume=latest"))
    assert resumed["batches"] == 6
    assert [p.name for p in checkpoint.checkpoints(out)] == ["step_00000004", "step_00000006"]


def test_resumed_state_matches_the_saved_model(small_config):
    """Save then load gives identical logits: the checkpoint restores the trained weights."""
    from accelerate import Accelerator

    from hybrid.train import build

    config = small_config()
    train(config)
    accelerator = Accelerator(cpu=True)
    _, _, tensors, model_a = build(config, accelerator)
    _, _, _, model_b = build(config, accelerator)
    state = checkpoint.checkpoints(config.train.output_dir)[-1] / "model.safetensors"
    from safetensors.torch import load_file

    model_a.load_state_dict(load_file(state))
    model_b.load_state_dict(load_file(state))
    states, mask, slots, labels, _ = tensors["test"][:4]
    outs = []
    for model in (model_a, model_b):
        carry = model.initial_carry(4, labels.shape[1], "cpu")
        outs.append(model(states.float(), mask, slots.long(), carry.y, carry.z).logits)
    assert torch.equal(outs[0], outs[1])
    fresh = build(config, accelerator)[3]
    carry = fresh.initial_carry(4, labels.shape[1], "cpu")
    assert not torch.equal(fresh(states.float(), mask, slots.long(), carry.y, carry.z).logits, outs[0])


def test_corrupt_checkpoint_is_a_clear_error_and_loses_nothing(small_config):
    config = small_config()
    train(config)
    newest = checkpoint.checkpoints(config.train.output_dir)[-1]
    (newest / "model.safetensors").write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match=str(newest / "model.safetensors")):  # `latest` would fall back instead
        train(small_config("train.steps=6", f"train.resume={newest}"))
    assert len(checkpoint.checkpoints(config.train.output_dir)) == 2  # nothing deleted


def test_second_backbone_needs_only_a_config_change(small_config):
    result = train(small_config(kind="gpt2"))
    assert result["batches"] == 4


def test_command_line_reports_config_typos(tmp_path):
    proc = subprocess.run([sys.executable, "hybrid/train.py", "reasoner.tee=3"], capture_output=True, text=True,
                          cwd=Path(__file__).resolve().parent.parent)
    assert proc.returncode != 0
    assert "tee" in proc.stderr and "Traceback" not in proc.stderr
