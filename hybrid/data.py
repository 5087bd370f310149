"""Data pipeline: generate puzzle splits once (saved as `datasets` on disk), embed them once
with the frozen backbone (token states cached on disk), and serve tensors to the loop.

Because the backbone is frozen, its output for a given text never changes: caching it makes a
training step cost the same whatever the backbone's size.
"""

from __future__ import annotations

import bisect
import dataclasses
import hashlib
import json
import random
from pathlib import Path

import torch
from datasets import Dataset, DatasetDict, load_from_disk
from torch.utils.data import TensorDataset
from tqdm.auto import tqdm

from eval.tasks import Example, Task

SPLIT_SEEDS = {"train": 1, "test": 2, "test_heldout": 3}  # disjoint streams per split


def _digest(*parts) -> str:
    h = hashlib.sha256()
    for part in parts:
        h.update(json.dumps(part, sort_keys=True, default=str).encode())
    return h.hexdigest()[:16]


def split_wordings(task: Task, task_config) -> tuple[list[int], list[int]]:
    held_out = list(getattr(task_config, "held_out_wordings", None) or [])
    seen = [w for w in range(task.num_wordings) if w not in held_out]
    wanted = getattr(task_config, "wordings", None)
    if wanted is not None:
        seen = [w for w in wanted if w not in held_out]
    if not seen:
        raise ValueError(f"task.held_out_wordings={held_out} leaves no wording to train on")
    return seen, held_out


def generate_split(task: Task, size: int, seed: int, wordings: list[int], exclude: set[str], desc: str) -> Dataset:
    rng = random.Random(seed)
    records = []
    with tqdm(total=size, desc=f"generating {desc}", leave=False) as bar:
        while len(records) < size:
            example = task.generate(rng, rng.choice(wordings))
            if example.answer + example.question in exclude:  # keep held-out puzzles unseen
                continue
            records.append(example.to_record())
            bar.update()
    return Dataset.from_list(records)


def build_splits(task: Task, task_config, seed: int, data_dir: str | Path) -> DatasetDict:
    """train / test (same wordings) / test_heldout (held-out wordings, if any), cached on disk."""
    config = dataclasses.asdict(task_config)
    path = Path(data_dir).expanduser() / "datasets" / f"{task.name}-{_digest(config, seed)}"
    if (path / "dataset_dict.json").exists():
        return load_from_disk(str(path))
    seen, held_out = split_wordings(task, task_config)
    splits = {"train": generate_split(task, config["train_size"], seed * 1000 + SPLIT_SEEDS["train"], seen, set(), "train")}
    train_keys = set(a + q for a, q in zip(splits["train"]["answer"], splits["train"]["question"]))
    splits["test"] = generate_split(task, config["test_size"], seed * 1000 + SPLIT_SEEDS["test"], seen, train_keys, "test")
    if held_out:
        splits["test_heldout"] = generate_split(task, config["test_size"], seed * 1000 + SPLIT_SEEDS["test_heldout"],
                                                held_out, train_keys, "test (held-out wordings)")
    dataset = DatasetDict(splits)
    dataset.save_to_disk(str(path))
    (path / "config.json").write_text(json.dumps(config, indent=2, default=str))
    return dataset


def token_slots(offsets: torch.Tensor, spans: list[tuple[int, int]] | None) -> torch.Tensor:
    """For each token, the index of the answer slot whose text it overlaps (-1 for none)."""
    out = torch.full(offsets.shape[:1], -1, dtype=torch.int16)
    if not spans:
        return out
    starts = [s for s, _ in spans]
    for t, (a, b) in enumerate(offsets.tolist()):
        if b <= a:
            continue  # special or padding token
        i = bisect.bisect_right(starts, b - 1) - 1  # last slot starting before the token ends
        if i >= 0 and spans[i][1] > a:
            out[t] = i
    return out


def embed_split(backbone, split: Dataset, num_slots: int, cache_dir: str | Path, desc: str) -> TensorDataset:
    """Backbone states for every question, computed in batches once and cached on disk."""
    questions = split["question"]
    key = _digest(backbone.identity, backbone.config.layer, backbone.config.dtype,
                  backbone.config.max_length, questions, [list(s) for s in split["slot_spans"]])
    path = Path(cache_dir).expanduser() / "embeddings" / f"{key}.pt"
    if path.exists():
        cached = torch.load(path)
    else:
        cached = _embed(backbone, split, desc)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        torch.save(cached, tmp)
        tmp.replace(path)  # atomic: a crash never leaves a half-written cache entry
    labels = torch.tensor(split["labels"], dtype=torch.long)
    if labels.shape[1] != num_slots:
        raise ValueError(f"{desc}: examples have {labels.shape[1]} answer slots, the task declares {num_slots}")
    return TensorDataset(cached["states"], cached["mask"], cached["token_slot"], labels, torch.arange(len(labels)))


@torch.no_grad()
def _embed(backbone, split: Dataset, desc: str) -> dict[str, torch.Tensor]:
    batch_size = backbone.config.batch_size
    chunks = []
    for start in tqdm(range(0, len(split), batch_size), desc=f"embedding {desc}", leave=False):
        rows = split[start:start + batch_size]
        encoded = backbone(rows["question"])
        slots = torch.stack([token_slots(o, [tuple(s) for s in spans])
                             for o, spans in zip(encoded.offsets, rows["slot_spans"])])
        chunks.append((encoded.states.to("cpu", torch.float16), encoded.mask.bool().cpu(), slots))
    length = max(c[0].shape[1] for c in chunks)
    pad = lambda t, value: torch.nn.functional.pad(t, (0, 0, 0, length - t.shape[1]) if t.dim() == 3  # noqa: E731
                                                 else (0, length - t.shape[1]), value=value)
    return {
        "states": torch.cat([pad(c[0], 0) for c in chunks]),
        "mask": torch.cat([pad(c[1], False) for c in chunks]),
        "token_slot": torch.cat([pad(c[2], -1) for c in chunks]),
    }


def examples(split: Dataset) -> list[Example]:
    return [Example.from_record(r) for r in split]
