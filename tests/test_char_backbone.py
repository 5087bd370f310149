"""The backbone-off baseline: one fixed one-hot token per character, nothing trainable."""

import random

import torch

from eval.tasks import make_task
from hybrid.backbone import load_backbone
from hybrid.char_backbone import ALPHABET, CharBackbone
from hybrid.config import load_config
from hybrid.cache import token_slots
from hybrid.model import HybridModel
from reasoner import stablemax_cross_entropy


def chars(*overrides):
    return load_config(["backbone=chars", *overrides]).backbone


def test_one_token_per_character_with_its_offsets():
    backbone = load_backbone(chars())
    assert isinstance(backbone, CharBackbone) and not list(backbone.parameters())
    out = backbone(["r1c1=?", "ab\né"])
    assert out.states.shape == (2, 6, backbone.hidden_size)
    assert out.mask.tolist() == [[1] * 6, [1, 1, 1, 1, 0, 0]]
    assert out.offsets[0].tolist() == [[i, i + 1] for i in range(6)]
    assert out.offsets[1, 4:].tolist() == [[0, 0], [0, 0]]  # padding looks like a special token
    one_hot = out.states[..., :len(ALPHABET) + 1]
    assert one_hot[0].argmax(-1).tolist() == [ALPHABET.index(c) for c in "r1c1=?"]
    assert one_hot[1, 3].argmax().item() == len(ALPHABET)  # é is outside printable ASCII: "unknown"
    assert out.states[1, 4:].abs().sum() == 0
    # the same character at another position differs only in its position features
    same = backbone(["11"]).states[0]
    assert torch.equal(same[0, :len(ALPHABET) + 1], same[1, :len(ALPHABET) + 1]) and not torch.equal(same[0], same[1])


def test_long_texts_are_truncated_with_a_warning():
    import pytest

    backbone = load_backbone(chars("backbone.max_length=4"))
    with pytest.warns(UserWarning, match="max_length=4 truncated 2 characters"):
        assert backbone(["abcdef"]).states.shape[1] == 4


def test_span_pooling_reads_each_sudoku_cell_from_its_own_character():
    config = load_config(["backbone=chars", "task.size=4"])
    task, backbone = make_task(config.task), load_backbone(config.backbone)
    rng = random.Random(0)
    examples = [task.generate(rng, w) for w in range(task.num_wordings)]
    out = backbone([e.question for e in examples])
    for b, example in enumerate(examples):
        slots = token_slots(out.offsets[b], example.slot_spans)
        for cell, (start, end) in enumerate(example.slot_spans):
            tokens = (slots == cell).nonzero().flatten().tolist()
            assert tokens == [start] and end == start + 1  # exactly the cell's one symbol
            assert ALPHABET[out.states[b, start, :len(ALPHABET)].argmax()] == example.question[start]


def test_a_few_steps_on_characters_lower_the_loss():
    config = load_config(["backbone=chars", "task.size=4", "reasoner.hidden=32", "reasoner.n=2", "reasoner.T=2"])
    task, backbone = make_task(config.task), load_backbone(config.backbone)
    rng = random.Random(0)
    examples = [task.generate(rng, 0) for _ in range(16)]
    out = backbone([e.question for e in examples])
    slots = torch.stack([token_slots(o, e.slot_spans) for o, e in zip(out.offsets, examples)]).long()
    labels = torch.tensor([e.labels for e in examples])
    torch.manual_seed(0)
    model = HybridModel(config, backbone.hidden_size, task.num_slots, len(task.vocab))
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)

    def loss_now():
        carry = model.initial_carry(len(labels), task.num_slots, "cpu")
        return stablemax_cross_entropy(model(out.states, out.mask, slots, carry.y, carry.z).logits, labels).mean()

    before = loss_now().item()
    for _ in range(10):
        optimizer.zero_grad()
        loss_now().backward()
        optimizer.step()
    assert loss_now().item() < 0.9 * before
