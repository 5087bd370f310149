"""Tiny random backbones (BERT, GPT-2, Llama, T5, Switch Transformers; hidden 32, 2 layers) with a
character-level tokenizer, saved with save_pretrained so they load through the same `AutoModel` path as real
ones. Tests and smoke runs use them: `backbone.path=tiny:gpt2` builds the folder on first use.
"""

from __future__ import annotations

import string
from pathlib import Path

from tokenizers import Regex, Tokenizer, models, pre_tokenizers, processors
from transformers import (BertConfig, GPT2Config, LlamaConfig, PreTrainedTokenizerFast, SwitchTransformersConfig,
                          T5Config)

from hybrid.config import ConfigError, TrainConfig
from hybrid.folders import build_once, write_folder
from hybrid.lock import lock_file
from hybrid.progress import transformers_bars

KINDS = ("bert", "gpt2", "llama", "t5", "switch")  # an encoder, two decoders, an encoder-decoder, and one
# whose feed-forward layers are a mixture of 4 experts, each token routed to one (its path depends on the text)
SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]"]


def char_tokenizer(encoder: bool) -> PreTrainedTokenizerFast:
    """One token per character, so every character has its own offset."""
    vocab = {tok: i for i, tok in enumerate(SPECIALS + list(string.printable))}
    tok = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Split(Regex("."), behavior="isolated")
    if encoder:  # BERT style: [CLS] text [SEP]; decoders get no special tokens
        tok.post_processor = processors.TemplateProcessing(
            single="[CLS] $A [SEP]", special_tokens=[("[CLS]", vocab["[CLS]"]), ("[SEP]", vocab["[SEP]"])])
    return PreTrainedTokenizerFast(tokenizer_object=tok, pad_token="[PAD]", unk_token="[UNK]",
                                   cls_token="[CLS]", sep_token="[SEP]", eos_token="[SEP]")


def check_kind(kind: str) -> None:
    if kind not in KINDS:
        raise ConfigError(f"backbone.path='tiny:{kind}': no such tiny backbone; choose one of "
                          f"{', '.join(f'tiny:{k}' for k in KINDS)}")


def build(kind: str, path: str | Path, hidden: int = 32, layers: int = 2, seed: int = 0) -> Path:
    """Tiny backbone `kind` saved in the folder `path` (replacing what is there)."""
    check_kind(kind)
    path = Path(path)
    write_folder(path, lambda tmp: save(kind, tmp, hidden, layers, seed))
    return path


def resolve(kind: str, cache_dir: str | Path = Path(TrainConfig.data_dir) / "tiny") -> str:
    """The folder of tiny backbone `kind`, built on first use (by one of the runs started together)."""
    from hybrid.backbone import SAVED_BY

    check_kind(kind)
    path = Path(cache_dir).expanduser() / f"{kind}-{SAVED_BY}"
    build_once(path, "tokenizer.json", lambda tmp: save(kind, tmp), lock_file(cache_dir, path.name), f"building tiny:{kind}")
    return str(path)


def save(kind: str, folder: Path, hidden: int = 32, layers: int = 2, seed: int = 0) -> None:
    """Tiny backbone `kind` written into the empty folder `folder`."""
    import torch
    from transformers import AutoModel

    tokenizer = char_tokenizer(encoder=kind in ("bert", "t5", "switch"))
    size = len(tokenizer)
    config = {
        "bert": lambda: BertConfig(vocab_size=size, hidden_size=hidden, num_hidden_layers=layers, num_attention_heads=4,
                                   intermediate_size=2 * hidden, max_position_embeddings=1024),
        "gpt2": lambda: GPT2Config(vocab_size=size, n_embd=hidden, n_layer=layers, n_head=4, n_positions=1024,
                                   bos_token_id=3, eos_token_id=3),
        "llama": lambda: LlamaConfig(vocab_size=size, hidden_size=hidden, num_hidden_layers=layers, num_attention_heads=4,
                                     num_key_value_heads=2, intermediate_size=2 * hidden, max_position_embeddings=1024,
                                     pad_token_id=0, bos_token_id=3, eos_token_id=3),
        "t5": lambda: T5Config(vocab_size=size, d_model=hidden, d_kv=hidden // 4, d_ff=2 * hidden, num_layers=layers,
                               num_heads=4, pad_token_id=0, eos_token_id=3, decoder_start_token_id=0),
        "switch": lambda: SwitchTransformersConfig(vocab_size=size, d_model=hidden, d_kv=hidden // 4, d_ff=2 * hidden,
                                                   num_layers=layers, num_decoder_layers=layers, num_heads=4,
                                                   num_experts=4, encoder_sparse_step=1, decoder_sparse_step=1,
                                                   expert_capacity=1024, router_jitter_noise=0.0, pad_token_id=0,
                                                   eos_token_id=3, decoder_start_token_id=0),
    }[kind]()
    torch.manual_seed(seed)
    with transformers_bars():  # its "Writing model shards" bar: lines in a log file
        AutoModel.from_config(config).save_pretrained(folder)
    # Last: a folder an interrupted build of an older version left without it (weights without a
    # tokenizer, which would load with an empty one) is built again.
    tokenizer.save_pretrained(folder)
