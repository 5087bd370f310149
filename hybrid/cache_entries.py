"""An embedding cache entry's files and what its name is computed from, without torch.

`hybrid.cache` writes and reads the entries; `hybrid-cache` and the checkpoint code need only
these, and importing them costs no torch, transformers or datasets (seconds before `--help`)."""

from __future__ import annotations

from pathlib import Path

FORMAT = 2  # bump when the stored layout changes, so old entries are never misread (2: unpadded)


def fingerprint(backbone) -> dict:
    """What a backbone's states depend on (FrozenBackbone computes it; simpler front ends such as
    the character baseline are named by their `identity` and max_length)."""
    found = getattr(backbone, "fingerprint", None)
    return found if found is not None else {"identity": backbone.identity, "max_length": backbone.config.max_length}


def metadata_path(entry: Path) -> Path:
    return entry.with_suffix(".json")


def entry_files(entry: Path) -> list[Path]:
    """What removing an entry removes: the states and their description."""
    return [entry, metadata_path(entry)]
