"""The backbone-off baseline: one fixed one-hot token per character, nothing trainable."""

import random

import pytest
import torch

from eval.tasks import make_task
from hybrid.backbone import load_backbone
from hybrid.char_backbone import ALPHABET, POSITION_FEATURES, CharBackbone
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


def test_span_pooling_keeps_the_order_of_characters_inside_a_span():
    """A mean over one-hot characters and positions alone is a bag: "42" and "24" would pool to
    the same vector, and sorting could not tell its numbers apart without a backbone."""
    backbone = load_backbone(chars())

    def pooled(text: str, start: int, end: int) -> torch.Tensor:
        out = backbone([text])
        slots = token_slots(out.offsets[0], [(start, end)])
        return out.states[0][slots == 0].mean(0)

    pairs = [("Sort: 42, 7", "Sort: 24, 7", (6, 8)), ("Sort: sixty-nine, 7", "Sort: ninety-six, 7", (6, 16)),
             ("Sort from smallest to largest: 4", "Sort from largest to smallest: 4", (5, 29))]
    for a, b, (start, end) in pairs:
        assert sorted(a[start:end]) == sorted(b[start:end])  # the same characters, in another order
        assert not torch.allclose(pooled(a, start, end), pooled(b, start, end)), (a[start:end], b[start:end])
    # the context columns are fixed and the same whatever else is in the batch
    first = backbone(["Sort: 42, 7"]).states[0]
    assert torch.equal(backbone(["Sort: 42, 7", "something much longer than that"]).states[0, :11], first)


def test_ngram_order_sets_the_context_columns():
    from hybrid.char_backbone import CharBackbone
    from hybrid.config import BackboneConfig

    plain, full = (CharBackbone(BackboneConfig(path=p, max_length=64)) for p in ("chars:1", "chars"))
    assert full.hidden_size > plain.hidden_size
    assert plain.identity != full.identity  # the cache keeps their states apart
    a, b = plain(["42"]).states, plain(["24"]).states
    assert torch.allclose(a.mean(1), b.mean(1))  # plain characters pool to a bag: why `chars` adds context
    assert plain(["r1c1=3"]).states.shape[-1] == plain.hidden_size
    with pytest.raises(ValueError, match="chars:1"):
        CharBackbone(BackboneConfig(path="chars:5"))


def test_positions_only_where_the_adapter_does_not_place_slots():
    from hybrid.backbone import load_for

    def front_end(*overrides):
        config = load_config(["backbone=chars", *overrides])
        return load_for(config, make_task(config.task))

    pooled, attended = front_end(), front_end("adapter.kind=query_attention")
    assert attended.hidden_size == pooled.hidden_size + POSITION_FEATURES
    assert pooled.identity != attended.identity  # cached states of the two never mix
    # without positions, the same character in the same context is the same state wherever it is
    # (span pooling places the slots itself, with a learned embedding each)
    states = pooled(["xa1 xa1"]).states[0]
    assert torch.equal(states[2], states[6])
    assert not torch.equal(*attended(["xa1 xa1"]).states[0, [2, 6]])


def test_the_context_columns_are_the_character_before_and_a_hash_of_the_trigram_ending_here():
    """Column blocks of `chars`: this character, the one before (zero at the start), the trigram
    bucket. The bucket hashes all three characters, and the start of the text is its own symbol,
    not the character '0' (ALPHABET's first), so "7" and "007" start different trigrams."""
    from hybrid.char_backbone import TRIGRAM_BUCKETS, trigram_buckets

    backbone = load_backbone(chars())
    symbols = len(ALPHABET) + 1
    states = backbone(["abc"]).states[0]
    current, before = states[:, :symbols], states[:, symbols:2 * symbols]
    assert before[0].abs().sum() == 0 and torch.equal(before[1:], current[:-1])

    def last(text: str) -> int:
        return trigram_buckets(torch.tensor([[ALPHABET.index(c) for c in text]]), symbols)[0, -1].item()

    assert last("zabc") == last("abc") and 0 <= last("abc") < TRIGRAM_BUCKETS
    assert all(last(other) != last("abc") for other in ("abd", "aec", "fbc"))  # each of the three counts
    assert last("7") != last("07") and last("7") != last("007")
    trigram = states[:, 2 * symbols:2 * symbols + TRIGRAM_BUCKETS]
    assert trigram[2].argmax().item() == last("abc") and trigram.sum().item() == 3


def test_position_features_are_sine_cosine_pairs_whose_products_depend_only_on_the_offset():
    """The sinusoids of "Attention Is All You Need": each (sin, cos) pair lies on the unit circle,
    so the dot product of two positions' features depends on how far apart they are, not where."""
    from hybrid.char_backbone import position_features

    features = position_features(64)
    assert features.shape == (64, POSITION_FEATURES)
    assert torch.allclose(features[:, 0::2] ** 2 + features[:, 1::2] ** 2, torch.ones(64, POSITION_FEATURES // 2))
    assert torch.allclose(features[3] @ features[10], features[40] @ features[47], atol=1e-4)
