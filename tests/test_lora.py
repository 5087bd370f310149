"""LoRA on the backbone: only LoRA weights change, checkpoints hold only trainable weights and
reload exactly, DDP keeps the processes' LoRA weights equal, and misuse is a clear error."""

import re
import shutil
import sys
import warnings
from pathlib import Path

import pytest
import torch
from accelerate import Accelerator
from safetensors.torch import load_file, save_file
from transformers import get_scheduler

from eval import HarnessError
from eval.__main__ import evaluate_run
from hybrid import checkpoint
from hybrid.backbone import FrozenBackbone, load_backbone
from hybrid.config import ConfigError, LoraConfig, from_yaml, load_config, to_yaml
from hybrid.inference import Hybrid
from hybrid.lora import LoraHybrid, add_lora, lora_weights
from hybrid.launch import finish
from hybrid.run_folder import check_before_building
from hybrid.train import build, supervise, train


def lora_run(config, steps=4):
    """Build the LoRA model through train.py's build, then a few real training steps on one batch."""
    accelerator = Accelerator(cpu=True)
    torch.manual_seed(0)
    _, _, tensors, model, _ = build(config, accelerator)
    before = {name: p.detach().clone() for name, p in model.named_parameters()}
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.train.lr)
    scheduler = get_scheduler("constant", optimizer)
    model, optimizer, scheduler = accelerator.prepare(model, optimizer, scheduler)
    losses = [supervise(model, tensors["train"][:16], optimizer, scheduler, None, accelerator, config)["loss"]
              for _ in range(steps)]
    return accelerator.unwrap_model(model), tensors, before, losses


def logits(model, tensors):
    model.eval()
    states, mask, token_slot, labels, _ = tensors["test"][:8]
    carry = model.initial_carry(8, labels.shape[1], "cpu")
    with torch.no_grad():
        return model(states.float(), mask, token_slot.long(), carry.y, carry.z).logits


@pytest.mark.parametrize("kind", ["bert", "llama", "t5"])
def test_training_changes_lora_weights_and_never_the_base_weights(small_config, kind):
    config = small_config("backbone.lora.rank=4", "train.lr=3e-3", "train.halt=false", kind=kind)
    model, _, before, losses = lora_run(config)
    assert isinstance(model, LoraHybrid) and losses[-1] < losses[0]
    lora = lora_weights(model)
    assert lora and all(not torch.equal(p, before[name]) for name, p in lora.items())
    base = {name: p for name, p in model.backbone.named_parameters() if "lora_" not in name}
    assert base and all(not p.requires_grad and torch.equal(p, before[f"backbone.{name}"]) for name, p in base.items())


def test_state_dict_holds_only_trainable_weights_and_reloads_the_same_logits(small_config, tmp_path):
    config = small_config("backbone.lora.rank=4", "train.lr=3e-3", "train.halt=false")
    model, tensors, _, _ = lora_run(config, steps=2)
    state = model.state_dict()
    trainable = {name for name, p in model.named_parameters() if p.requires_grad}
    assert trainable <= set(state)  # LoRA, adapter, reasoner, head (plus the reasoner's buffers)
    assert {k for k in state if k.startswith("backbone.")} == {k for k in trainable if k.startswith("backbone.")}
    save_file(state, tmp_path / "model.safetensors")

    fresh = build(config, Accelerator(cpu=True))[3]  # base weights come from the backbone folder
    assert not torch.equal(logits(fresh, tensors), logits(model, tensors))
    fresh.load_state_dict(load_file(tmp_path / "model.safetensors"))  # strict: frozen keys are filled in
    assert torch.equal(logits(fresh, tensors), logits(model, tensors))


@pytest.mark.parametrize("adapter", ["span_pool", "query_attention"])
def test_evaluation_runs_the_lora_backbone_once_a_batch_and_predicts_as_running_it_each_step(small_config, adapter,
                                                                                            monkeypatch):
    """Evaluating, the LoRA weights are fixed over a batch's N_sup steps: the backbone runs once a
    batch, not once a step as in training, and the predictions are those of running it each step."""
    from eval.runner import predict

    config = small_config("backbone.lora.rank=4", "train.lr=3e-3", f"adapter.kind={adapter}", "reasoner.N_sup=3")
    model, tensors, _, _ = lora_run(config, steps=2)
    calls, states = [], model.backbone.states
    monkeypatch.setattr(model.backbone, "states", lambda *args: calls.append(1) or states(*args))
    once = predict(model, tensors["test"], 3, batch_size=8)  # 16 puzzles: 2 batches
    assert len(calls) == 2
    monkeypatch.setattr(LoraHybrid, "read", lambda self, *inputs: inputs)  # token ids to every step, as training
    each_step = predict(model, tensors["test"], 3, batch_size=8)
    assert len(calls) == 2 + 2 * 3
    assert torch.equal(once["ids"], each_step["ids"])
    assert torch.allclose(once["q_halt"], each_step["q_halt"], atol=1e-5)


def test_the_lora_backbone_reads_every_token_of_the_longest_puzzle_in_a_batch(small_config):
    """Only columns that are padding in every row are dropped: a shorter puzzle in the batch must
    not cut the tokens of a longer one."""
    config = small_config("backbone.lora.rank=4")
    model = LoraHybrid(add_lora(load_backbone(config.backbone), config.backbone.lora), torch.nn.Identity())
    ids = torch.tensor([[2.0, 20, 21, 22, 3, 0], [2, 20, 3, 0, 0, 0]])  # token ids as the loop casts them
    mask = torch.tensor([[1, 1, 1, 1, 1, 0], [1, 1, 1, 0, 0, 0]])
    token_slot = torch.tensor([[-1, 0, 1, 2, -1, -1], [-1, 0, -1, -1, -1, -1]])
    states, kept_mask, kept_slot = model.backbone_states(ids, mask, token_slot)
    assert torch.equal(kept_mask, mask[:, :5]) and torch.equal(kept_slot, token_slot[:, :5])
    alone = model.backbone_states(ids[:1], mask[:1], token_slot[:1])[0]
    assert torch.allclose(states[:1], alone, atol=1e-5)


def test_checkpoints_hold_the_adapter_only_and_resume(small_config):
    config = small_config("backbone.lora.rank=4", "train.steps=2", "train.checkpoint_every=2")
    assert train(config)["batches"] == 2
    saved = checkpoint.checkpoints(config.train.output_dir)[-1]
    ema = [torch.load(p, weights_only=False) for p in saved.glob("custom_checkpoint_*.pkl")]  # EMA copy, progress
    for keys in [set(load_file(saved / "model.safetensors"))] + [set(state) for state in ema if len(state) > 1]:
        assert any("lora_A" in k for k in keys) and not any("backbone." in k and "lora_" not in k for k in keys)
    # alpha scales the trained change (alpha / rank) and fits every shape: another one must not load quietly
    # named by the one key that differs, as it is typed on a resume (the other LoRA settings agree)
    with pytest.raises(checkpoint.CheckpointMismatch,
                       match=r"cannot change: backbone.lora.alpha=64.0 \(the checkpoint's run: 16.0\)\. Resume"):
        train(small_config("backbone.lora.rank=4", "backbone.lora.alpha=64", "train.steps=3", "train.resume=latest"))
    with pytest.raises(checkpoint.CheckpointMismatch,
                       match=r"backbone.lora=null \(the checkpoint's run: \{rank: 4, alpha: 16.0, "):
        train(small_config("train.steps=3", "train.resume=latest"))
    with pytest.raises(HarnessError, match="backbone.lora cannot change at evaluation"):
        evaluate_run(config.train.output_dir, ["backbone.lora.alpha=64"])
    assert train(small_config("backbone.lora.rank=4", "train.steps=3", "train.resume=latest"))["batches"] == 3


def test_lora_weights_on_another_backbone_name_both_backbones(small_config, tiny_backbone):
    """A LoRA run's weights hold LoRA weights named by the backbone's modules, so on another backbone
    (from_pretrained's backbone=, eval's backbone.path=, train.init_from) they do not load: the error
    named the missing keys only, not the backbone trained on nor the one given."""
    trained_on, other = tiny_backbone("bert"), tiny_backbone("llama")
    config = small_config("backbone.lora.rank=4", "train.steps=1", "train.checkpoint_every=0")
    train(config)
    both = rf"trained on backbone {trained_on}, not {other} \(backbone.path\)"
    with pytest.raises(checkpoint.CheckpointMismatch, match=both):
        Hybrid.from_pretrained(config.train.output_dir, device="cpu", backbone=other)
    with pytest.raises(checkpoint.CheckpointMismatch, match=both):
        evaluate_run(config.train.output_dir, [f"backbone.path={other}"])
    with pytest.raises(checkpoint.CheckpointMismatch, match=both):
        train(small_config("backbone.lora.rank=4", "train.steps=0", f"train.init_from={config.train.output_dir}",
                           "train.output_dir=" + str(Path(config.train.output_dir).parent / "llama"), kind="llama"))


def test_resume_writes_final_again_where_it_lost_its_weights(small_config):
    """final/ without model.safetensors (deleted, or lost with a disk): the --resume its error names
    writes it again from the newest checkpoint's EMA, LoRA weights included. It refused, saying to
    run the same command again, since a folder of config files without weights is no model folder
    to replace (a run's own top folder looks like that), though final/ is the run's own."""
    config = small_config("backbone.lora.rank=4", "train.steps=2")
    train(config)
    final = Path(config.train.output_dir) / "final" / "model.safetensors"
    before = load_file(final)
    final.unlink()
    train(small_config("backbone.lora.rank=4", "train.steps=2", "train.resume=latest"))
    after = load_file(final)
    assert any("lora_B" in k for k in after) and before.keys() == after.keys()
    assert all(torch.equal(before[k], after[k]) for k in before)
    final.unlink()
    shutil.rmtree(Path(config.train.output_dir) / "checkpoints")
    with pytest.raises(checkpoint.CheckpointError, match=r"final has no model.safetensors and .* no checkpoints left"):
        evaluate_run(config.train.output_dir)


def test_a_lora_run_says_its_states_are_not_cached(small_config, capsys):
    """backbone.cache stays true in the saved config; the run must say the cache is off."""
    train(small_config("backbone.lora.rank=4", "train.steps=1", "train.checkpoint_every=0"))
    assert "not cached (backbone.cache does not apply)" in capsys.readouterr().out


def lora_steps_in_each_process(config_file):
    """Run by `accelerate launch` below: each process trains on its own puzzles."""
    config = from_yaml(config_file)
    accelerator = Accelerator(cpu=True)
    torch.manual_seed(accelerator.process_index)  # different init per process: DDP must broadcast rank 0's
    _, _, tensors, model, _ = build(config, accelerator)
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
    scheduler = get_scheduler("constant", optimizer)
    model, optimizer, scheduler = accelerator.prepare(model, optimizer, scheduler)
    rank = accelerator.process_index
    batch = tensors["train"][8 * rank:8 * rank + 8]  # each process its own puzzles
    for _ in range(2):
        supervise(model, batch, optimizer, scheduler, None, accelerator, config)
    flat = torch.cat([p.detach().flatten() for p in lora_weights(accelerator.unwrap_model(model)).values()])
    both = accelerator.gather(flat.unsqueeze(0))
    assert accelerator.num_processes == 2 and torch.equal(both[0], both[1]), "LoRA weights diverged across processes"
    assert flat.abs().sum() > 0
    # End as train() does (hybrid.launch.finish): drop the DDP wrapper, then shut the group down.
    del model
    finish(accelerator)


@pytest.mark.parametrize("settings", [
    ["backbone.layer=0"],  # the embeddings: no block runs
    ["backbone.layer=1", "backbone.lora.target_modules=[layer.1.attention.self.query]"],  # the block after it only
    ["backbone.layer=last", "backbone.lora.target_modules=[pooler.dense]"],  # BERT's pooler: not on the way to it
])
def test_lora_on_no_module_that_feeds_the_layer_read_is_an_error(small_config, settings):
    """backbone.layer=0 with backbone.lora trained a run whose LoRA weights never reached the states it
    read: lora_B stayed zero, the cache was off for nothing, and nothing said so. LoRA on BERT's pooler alone
    passed the check, which looked at the blocks only. Refused, naming both;
    a module before the layer read (block 0, or the embeddings themselves) is LoRA that trains."""
    with pytest.raises(ConfigError, match=rf"{re.escape(settings[0])} reads hidden state .* backbone.lora "
                                          r"would train nothing"):
        build(small_config("backbone.lora.rank=4", *settings), Accelerator(cpu=True))
    for reaches in (["backbone.layer=1"], ["backbone.layer=0", "backbone.lora.target_modules=[word_embeddings]"]):
        assert isinstance(build(small_config("backbone.lora.rank=4", *reaches), Accelerator(cpu=True))[3], LoraHybrid)


def test_lora_weights_the_layer_read_never_reaches_are_frozen_and_old_runs_still_load(small_config, tmp_path,
                                                                                     monkeypatch):
    """backbone.layer=-2 with LoRA on every block: the last block's LoRA weights never reach the states read,
    yet they were trainable, took AdamW state and were saved. Frozen now, and out of the checkpoints; a run
    trained with them (as before) evaluates and solves as the same run trained now."""
    import hybrid.lora

    settings = ["backbone.lora.rank=4", "backbone.layer=-2", "train.steps=2", "train.checkpoint_every=0"]
    now, before = tmp_path / "now", tmp_path / "before"
    frozen = train(small_config(*settings, f"train.output_dir={now}"))
    with monkeypatch.context() as patch:
        patch.setattr(hybrid.lora, "freeze_unread", lambda backbone: None)  # every LoRA weight trained, as before
        trained = train(small_config(*settings, f"train.output_dir={before}"))
    saved = {run: set(load_file(run / "final" / "model.safetensors")) for run in (now, before)}
    lora = {run: {k for k in keys if "lora_" in k} for run, keys in saved.items()}
    assert lora[now] and all(".layer.0." in k for k in lora[now]), lora[now]  # block 1's output is not read
    assert {k for k in lora[before] if ".layer.1." in k} == lora[before] - lora[now] != set()
    # per LoRA layer, rank x (in + out) weights: block 1 holds half of them
    assert frozen["trainable_parameters"] == trained["trainable_parameters"] - sum(
        p.numel() for k, p in load_file(before / "final" / "model.safetensors").items() if ".layer.1." in k)
    weights = {run: load_file(run / "final" / "model.safetensors") for run in (now, before)}
    assert all(torch.equal(p, weights[before][k]) for k, p in weights[now].items())  # the same run, less dead weight
    reports = [evaluate_run(run, out=tmp_path / f"{run.name}.json") for run in (before, now)]
    assert reports[0]["slot_accuracy"] == reports[1]["slot_accuracy"] and reports[0]["num_puzzles"] == 16
    puzzles = ["1...\n..3.\n.4..\n...2", "12..\n....\n..4.\n...1"]
    assert Hybrid.from_pretrained(before).solve(puzzles) == Hybrid.from_pretrained(now).solve(puzzles)


def test_lora_weights_a_text_may_route_around_stay_trainable_in_the_blocks_read(tiny_backbone):
    """A mixture of experts (tiny Switch Transformers, LoRA on every expert's wi and wo): the probe text
    ("a", 3 tokens) reaches some experts of each block, not all, and freeze_unread froze the others for the
    whole run, though another text's tokens are routed to them. Inside the blocks backbone.layer reads, the
    model's structure decides now: every expert's LoRA weights there train, those the text did not reach
    counted (DDP must look for weights without gradient); the block after the layer read is frozen whole."""
    backbone = FrozenBackbone(load_config([f"backbone.path={tiny_backbone('switch')}", "backbone.layer=-2"]).backbone)
    add_lora(backbone, LoraConfig(rank=4, target_modules=["wi", "wo"]))
    weights = lora_weights(backbone.model)
    block0 = {name for name in weights if ".block.0." in name}
    assert len(block0) == 4 * 2 * 2 == len(weights) // 2  # 4 experts x (wi, wo) x (lora_A, lora_B)
    assert {name for name, p in weights.items() if p.requires_grad} == block0
    batch = backbone.tokenizer(["a"], return_tensors="pt")
    states = backbone.states(batch["input_ids"], batch["attention_mask"])
    grads = torch.autograd.grad(states.sum(), [weights[name] for name in sorted(block0)], allow_unused=True)
    assert backbone.lora_unreached == sum(g is None for g in grads) > 0  # the case at hand: some expert unreached


@pytest.mark.parametrize("layer, trainable", [("last", True), ("0", False)])
def test_where_the_blocks_are_not_found_no_expert_the_text_missed_is_frozen(tiny_backbone, layer, trainable):
    """A backbone whose blocks are not one ModuleList (`blocks` None): the probe text alone decided, and
    froze for the whole run the LoRA weights of every expert it was not routed to (half of tiny Switch's).
    Nothing there tells a block read from one past it, so all stay trainable, those missed counted, but
    where the layer read is the embeddings, which no block feeds: there every block's weights are frozen."""
    backbone = FrozenBackbone(load_config([f"backbone.path={tiny_backbone('switch')}",
                                           f"backbone.layer={layer}"]).backbone)
    backbone.blocks = None  # as a model whose layers are not one list of num_layers
    add_lora(backbone, LoraConfig(rank=4, target_modules=["wi", "wo"]))
    weights = lora_weights(backbone.model)
    assert all(p.requires_grad == trainable for p in weights.values()), \
        [name for name, p in weights.items() if p.requires_grad != trainable]
    assert (backbone.lora_unreached > 0) == trainable


def test_a_tokenizer_with_no_token_for_the_probe_text_still_takes_lora(tiny_backbone):
    """freeze_unread asks which LoRA weights the states of "a" depend on: a tokenizer with no token for it
    (a BPE of digits without an unknown token drops it) gave a text of no tokens, which GPT-2 refused
    ("cannot reshape tensor of 0 elements") as LoRA was added. A single token stands in."""
    from tokenizers import Tokenizer, models
    from transformers import PreTrainedTokenizerFast

    backbone = FrozenBackbone(load_config([f"backbone.path={tiny_backbone('gpt2')}", "backbone.layer=-2"]).backbone)
    digits = Tokenizer(models.BPE(vocab={str(d): d for d in range(10)}, merges=[]))
    backbone.tokenizer = PreTrainedTokenizerFast(tokenizer_object=digits)
    assert backbone.tokenizer(["a"])["input_ids"] == [[]]
    add_lora(backbone, LoraConfig(rank=4))
    trainable = {name for name, p in lora_weights(backbone.model).items() if p.requires_grad}
    assert trainable and all(".h.0." in name for name in trainable), trainable  # block 1 is past the layer read


def test_lora_fine_tunes_a_frozen_backbone_run_from_its_weights(small_config, tmp_path):
    """train.init_from a run trained on the cache, with LoRA on: its weights become the hybrid's
    inside, and LoRA starts at zero, so the new run starts as exactly that model."""
    frozen = tmp_path / "frozen"
    train(small_config("train.steps=2", f"train.output_dir={frozen}"))
    tuned = tmp_path / "lora"
    train(small_config("backbone.lora.rank=4", "train.steps=0", "train.ema=0", f"train.init_from={frozen}",
                       f"train.output_dir={tuned}"))
    before, after = (load_file(run / "final" / "model.safetensors") for run in (frozen, tuned))
    assert all(torch.equal(after[f"hybrid.{k}"], v) for k, v in before.items())
    assert any("lora_A" in k for k in after)
    back = f"train.output_dir={tmp_path / 'back'}"
    # A LoRA run's weights need LoRA: said before any data is built, with the settings to add.
    with pytest.raises(ConfigError, match=r"trained with LoRA on its backbone .* add backbone.lora.rank=4 ") as err:
        train(small_config("train.steps=0", f"train.init_from={tuned}", back))
    named = str(err.value).split(": add ")[1].split()
    assert train(small_config("train.steps=0", f"train.init_from={tuned}", back, *named))["batches"] == 0


def test_lora_weights_of_another_rank_or_on_other_modules_name_the_settings_they_fit(small_config, tmp_path):
    """A resume that changes backbone.lora.rank was told to start from the weights with train.init_from,
    where LoRA weights of another rank, or on other modules, failed as a state-dict error listing keys."""
    run, out = tmp_path / "lora", f"train.output_dir={tmp_path / 'new'}"
    train(small_config("backbone.lora.rank=4", "train.steps=2", f"train.output_dir={run}"))
    with pytest.raises(checkpoint.CheckpointMismatch, match="backbone.lora.rank=2") as err:
        train(small_config("backbone.lora.rank=2", "train.steps=3", "train.resume=latest", f"train.output_dir={run}"))
    assert "train.init_from" not in str(err.value).split("Resume with")[1].split("(")[0]
    for other, fit in [("backbone.lora.rank=2", "backbone.lora.rank=4"),
                       ("backbone.lora.target_modules=[query,key]", "backbone.lora.target_modules=null")]:
        lora = ["backbone.lora.rank=4", other]
        with pytest.raises(checkpoint.CheckpointMismatch, match=rf"trained with {re.escape(fit)}[ ,].*set it") as err:
            train(small_config(*lora, "train.steps=0", f"train.init_from={run}", out))
        assert "Details" not in str(err.value)
    # The modules peft picks for BERT, named: the same weights' shapes, so they load.
    named = small_config("backbone.lora.rank=4", "backbone.lora.target_modules=[query,value]", "train.steps=0",
                         f"train.init_from={run}", out)
    assert train(named)["batches"] == 0


def test_lora_weights_under_another_alpha_say_the_scale_they_start_at(small_config, tmp_path):
    """LoRA scales its trained change by alpha / rank: train.init_from under another alpha loaded without a
    word and started from another model (a resume that changes alpha is refused). Said before any data is
    built, naming both alphas and the scales; the same alpha says nothing."""
    run = tmp_path / "lora"
    train(small_config("backbone.lora.rank=4", "backbone.lora.alpha=8", "train.steps=2", f"train.output_dir={run}"))
    init = ["backbone.lora.rank=4", f"train.init_from={run}", f"train.output_dir={tmp_path / 'new'}"]
    with pytest.warns(UserWarning, match=rf"train.init_from={run}/final holds LoRA weights trained with "
                                         r"backbone.lora.alpha=8.0 and this config has backbone.lora.alpha=32.0: "
                                         r"LoRA scales the trained change by alpha / rank, 8/4 = 2 there and "
                                         r"32/4 = 8 here, so this run starts from that change x4"):
        check_before_building(small_config("backbone.lora.alpha=32", *init))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the alpha they were trained with: nothing to say
        check_before_building(small_config("backbone.lora.alpha=8", "backbone.lora.dropout=0.1", *init))


def test_lora_weights_stay_identical_across_ddp_processes(small_config, tmp_path, launch):
    config = small_config("backbone.lora.rank=4", "train.halt=false", "train.batch_size=16")
    build(config, Accelerator(cpu=True))  # generate the puzzles once, before the processes start
    (tmp_path / "config.yaml").write_text(to_yaml(config))
    launch(__file__, "lora_steps_in_each_process", tmp_path / "config.yaml")


def train_in_each_process(config_file):
    """Run by `accelerate launch` below: hybrid.train.train, as `accelerate launch hybrid/train.py` runs it."""
    assert train(from_yaml(config_file))["batches"] == 2


@pytest.mark.parametrize("unread", [
    "backbone.layer=1",  # the second block's LoRA weights never see the loss
    "backbone.lora.target_modules=[query,value,dense]",  # BERT's pooler `dense`: its output feeds no loss
])
def test_ddp_trains_lora_without_looking_for_weights_that_get_no_gradient(small_config, tmp_path, unread, launch):
    """LoRA weights the layer read never reaches are frozen as LoRA is added (freeze_unread), so every
    trainable weight gets a gradient each step, and DDP need not walk the graph for unused ones: told to,
    it warned once per process that it found none. Were one trainable again, DDP stops at the second step."""
    config = small_config("backbone.lora.rank=4", unread, "train.steps=2", "train.checkpoint_every=0")
    (tmp_path / "config.yaml").write_text(to_yaml(config))
    said = launch(__file__, "train_in_each_process", tmp_path / "config.yaml")
    assert "find_unused_parameters" not in said


def test_ddp_looks_for_lora_weights_without_gradient_where_the_text_decides_the_path(small_config, tiny_backbone,
                                                                                     tmp_path, launch):
    """LoRA on a mixture of experts' experts: a batch whose tokens the router sends to none of an expert gives
    its LoRA weights no gradient, and DDP, not looking for such weights, stopped at the second step. Here no
    token ever reaches experts 2 and 3 (each router's rows: w, w/2, w/2, w/2; a tie goes to the first). DDP looks
    for them in such a run alone, and says so once (the test above: other runs do not)."""
    folder = tmp_path / "switch"
    shutil.copytree(tiny_backbone("switch"), folder)
    weights = load_file(folder / "model.safetensors")
    for name in [name for name in weights if name.endswith("router.classifier.weight")]:
        weights[name] = torch.cat([weights[name][:1], weights[name][:1].div(2).expand(3, -1)])
    save_file(weights, folder / "model.safetensors", metadata={"format": "pt"})
    config = small_config(f"backbone.path={folder}", "backbone.lora.rank=4", "backbone.lora.target_modules=[wi,wo]",
                          "train.steps=2", "train.checkpoint_every=0")
    (tmp_path / "config.yaml").write_text(to_yaml(config))
    said = launch(__file__, "train_in_each_process", tmp_path / "config.yaml")
    counts = re.findall(r"backbone.lora: (\d+) LoRA weights in the blocks backbone.layer reads got no gradient "
                        r"from a probe text .*; DDP looks for weights without gradient at every step", said)
    assert len(counts) == 1 and int(counts[0]) >= 2 * 2 * 2 * 2, said  # experts 2, 3 x blocks x (wi, wo) x (A, B)


def test_lora_misuse_is_a_clear_error(tiny_backbone):
    with pytest.raises(ConfigError, match="needs a transformer backbone"):
        add_lora(load_backbone(load_config(["backbone=chars"]).backbone), LoraConfig())
    backbone = FrozenBackbone(load_config([f"backbone.path={tiny_backbone('bert')}"]).backbone)
    with pytest.raises(ConfigError, match="target_modules=\\['nope'\\].*Linear layers in this backbone: .*query"):
        add_lora(backbone, LoraConfig(target_modules=["nope"]))
    # peft itself accepts a list where only some names match: a misspelt one must not silently drop out
    backbone = FrozenBackbone(load_config([f"backbone.path={tiny_backbone('bert')}"]).backbone)
    with pytest.raises(ConfigError, match="vaule matches no module.*Linear layers in this backbone: .*value"):
        add_lora(backbone, LoraConfig(target_modules=["query", "vaule"]))
    assert not backbone.has_lora and not lora_weights(backbone)
    with pytest.raises(ConfigError, match="val matches no module"):  # a piece of a name is no name to peft
        add_lora(backbone, LoraConfig(target_modules=["query", "val"]))
    add_lora(backbone, LoraConfig(target_modules=["query", "attention.self.value"]))  # a dotted suffix matches too
    assert {name.split(".")[-4] for name in lora_weights(backbone)} == {"query", "value"}
    assert Path(tiny_backbone("bert")).exists()


def test_several_unmatched_target_modules_are_all_named(tiny_backbone):
    backbone = FrozenBackbone(load_config([f"backbone.path={tiny_backbone('bert')}"]).backbone)
    with pytest.raises(ConfigError, match="vaule, kee match no module"):
        add_lora(backbone, LoraConfig(target_modules=["query", "vaule", "kee"]))


def test_lora_on_a_block_of_layers_names_it(tiny_backbone):
    """peft's error prints the whole module; its first line alone read "Target module BertAttention("."""
    backbone = FrozenBackbone(load_config([f"backbone.path={tiny_backbone('bert')}"]).backbone)
    with pytest.raises(ConfigError, match=r"target_modules=\['query', 'attention'\]: attention \(BertAttention\): a block "
                                          r"of layers, not a layer LoRA can adapt\. Linear layers in this backbone: .*query"):
        add_lora(backbone, LoraConfig(target_modules=["query", "attention"]))


if __name__ == "__main__":  # launch(__file__, function, *args)
    globals()[sys.argv[1]](*sys.argv[2:])


@pytest.mark.parametrize("dtype, autocast", [("float16", torch.bfloat16), ("bfloat16", torch.float16)])
def test_a_16_bit_lora_backbone_trains_under_autocast_to_the_other_16_bit_type(small_config, dtype, autocast):
    """backbone.dtype=float16 with train.mixed_precision=bf16 (or bfloat16 with fp16, on a GPU): the
    LoRA backbone runs inside the trained module's autocast, which added its bf16 results to the
    fp16 residual and LayerNorm refused the fp32 sum ("mixed dtype"). It computes in its own dtype."""
    config = small_config("backbone.lora.rank=4", f"backbone.dtype={dtype}")
    _, _, tensors, model, _ = build(config, Accelerator(cpu=True))
    states, mask, token_slot, labels, _ = tensors["train"][:4]
    carry = model.initial_carry(4, labels.shape[1], "cpu")
    with torch.autocast("cpu", autocast):
        out = model(*model.read(states.float(), mask, token_slot.long()), carry.y, carry.z)
    out.logits.float().sum().backward()
    assert torch.isfinite(out.logits).all()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in lora_weights(model).values())


def test_a_bf16_lora_run_evaluates_its_backbone_in_float32_and_its_reasoner_under_autocast(small_config, monkeypatch,
                                                                                           request):
    """docs/scaling.md, Mixed precision: training steps run the LoRA backbone under the autocast; the
    evaluations during training run it once a batch outside it (LoraHybrid.read), in float32, while
    the hybrid's steps stay under it. A change to either makes the doc's account of a bf16 LoRA run's
    metrics.json against `python -m eval` wrong."""
    from accelerate.state import AcceleratorState

    import hybrid.lora
    from hybrid.model import HybridModel

    reset = lambda: AcceleratorState._reset_state(reset_partial_state=True)  # noqa: E731 (one precision per state)
    reset()  # an earlier test's float32 state would refuse bf16
    request.addfinalizer(reset)
    seen = {"backbone": set(), "hybrid": set()}  # (training?, autocast on?)
    states, forward, probe = FrozenBackbone.states, HybridModel.forward, hybrid.lora.freeze_unread
    probing = []  # LoRA's probe text as LoRA is added (freeze_unread): neither a training step nor an evaluation

    def record(part, real):
        def wrapped(self, *args, **kwargs):
            if not probing:
                seen[part].add((torch.is_grad_enabled(), torch.is_autocast_enabled("cpu")))
            return real(self, *args, **kwargs)
        return wrapped

    def probed(backbone):
        probing.append(True)
        try:
            probe(backbone)
        finally:
            probing.clear()

    monkeypatch.setattr(hybrid.lora, "freeze_unread", probed)
    monkeypatch.setattr(FrozenBackbone, "states", record("backbone", states))
    monkeypatch.setattr(HybridModel, "forward", record("hybrid", forward))
    train(small_config("backbone.lora.rank=4", "train.mixed_precision=bf16", "train.steps=1", "train.eval_every=1"))
    assert seen["backbone"] == {(True, True), (False, False)}  # trained under it, evaluated outside it
    assert seen["hybrid"] == {(True, True), (False, True)}
