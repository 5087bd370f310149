"""Backbone token states for every puzzle, computed once and kept on disk.

A frozen backbone gives the same states for the same text every time, so we embed each split
once (in batches, sharded over processes under `accelerate launch`) and store them in fp16,
each puzzle's own tokens back to back with no padding (an ARC split's texts differ 30x in
length). Training then costs the same whatever the backbone's size; `CachedStates` pads each
batch to its longest puzzle when the loader reads it. The cache file is named by a hash
of everything the states depend on: the backbone (id plus hub commit, or a hash of a local
folder's weight files and config.json), its tokenizer, layer choice, dtype, quantization,
max_length, and the exact texts and answer spans. Change any of them and a new entry is computed.

`backbone.cache=false` runs the backbone on every batch instead (`LiveStates`), and
`backbone.lora` feeds token ids to a model that holds the backbone (`token_split`), because
trained LoRA weights change the states after every optimizer step.
"""

from __future__ import annotations

import bisect
import hashlib
import itertools
import json
import os
import sys
import tempfile
import time
import warnings
import zipfile
from contextlib import contextmanager
from pathlib import Path

import torch
import torch.nn.functional as F
from accelerate.utils import find_executable_batch_size
from accelerate.utils.memory import should_reduce_batch_size
from datasets import Dataset
from torch.utils.data import Dataset as TorchDataset
from torch.utils.data import TensorDataset, default_collate

from hybrid.cache_entries import FORMAT, entry_files, fingerprint, metadata_path
from hybrid.checkpoint import unwritable
from hybrid.config import ConfigError, check_not_a_file
from hybrid.launch import ProcessWarning
from hybrid.lock import lock_file, locked
from hybrid.progress import progress_bar

LARGE_CACHE = 20 * 2**30  # bytes of entries past which writing one more suggests pruning


def token_slots(offsets: torch.Tensor, spans: list[tuple[int, int]] | None) -> torch.Tensor:
    """For each token, the index of the answer slot whose text it overlaps (-1 for none).
    The bisection goes over the spans in text order; slots need not be (a reversed answer's are not)."""
    out = torch.full(offsets.shape[:1], -1, dtype=torch.int16)
    if not spans:
        return out
    order = sorted(range(len(spans)), key=lambda slot: spans[slot][0])
    starts = [spans[slot][0] for slot in order]
    for t, (a, b) in enumerate(offsets.tolist()):
        if b <= a:
            continue  # special or padding token
        i = bisect.bisect_right(starts, b - 1) - 1  # last slot starting before the token ends
        if i >= 0 and spans[order[i]][1] > a:
            out[t] = order[i]
    return out


def batch_token_slots(offsets: torch.Tensor, spans_column: list) -> list[torch.Tensor]:
    """`token_slots` for each text of a batch: its offsets and the `slot_spans` column of its rows."""
    return [token_slots(o, spans) for o, spans in zip(offsets, spans_column)]


def slots_past_cut(offsets: torch.Tensor, spans_column: list) -> int:
    """How many texts of a batch have an answer slot starting where their kept tokens end: cut
    off by max_length, it overlaps no token, and span pooling gives it no state."""
    ends = offsets[..., 1].amax(-1).tolist()  # (B,) the character where each text's last token ends
    return sum(any(start >= end for start, _ in spans or []) for end, spans in zip(ends, spans_column))


def counted_token_slots(backbone, offsets: torch.Tensor, spans_column: list) -> torch.Tensor:
    """(B, L) `batch_token_slots`, counting the texts whose slots truncation cut off (`slots_cut`)."""
    backbone.slots_cut(slots_past_cut(offsets, spans_column))
    return torch.stack(batch_token_slots(offsets, spans_column))


def cache_key(backbone, split: Dataset) -> str:
    h = hashlib.sha256(json.dumps([FORMAT, fingerprint(backbone)], sort_keys=True).encode())
    for question, spans in zip(split["question"], split["slot_spans"]):
        h.update(json.dumps([question, [list(s) for s in spans or []]]).encode())
    return h.hexdigest()[:20]


def cache_path(backbone, split: Dataset, cache_dir: str | Path) -> Path:
    return Path(cache_dir).expanduser() / "embeddings" / f"{cache_key(backbone, split)}.pt"


def _labels(split: Dataset, num_slots: int, desc: str) -> torch.Tensor:
    labels = torch.tensor(split["labels"], dtype=torch.long)
    if labels.shape[1] != num_slots:
        raise ValueError(f"{desc}: examples have {labels.shape[1]} answer slots, the task declares {num_slots}")
    return labels


def _pad(t: torch.Tensor, length: int, value) -> torch.Tensor:
    """Pad dim 1 (tokens) of a (B, L) or (B, L, H) tensor to `length`."""
    pad = (0, 0, 0, length - t.shape[1]) if t.dim() == 3 else (0, length - t.shape[1])
    return F.pad(t, pad, value=value)


def _in_split_order(scratch, rows: list[torch.Tensor], lengths: list[torch.Tensor], slots: list[torch.Tensor],
                    hidden: int) -> dict[str, torch.Tensor]:
    """One entry from batches in embedding order: batch i holds the puzzles `rows[i]`, with
    `lengths[i]` real tokens each and their token slots `slots[i]` back to back; the file `scratch` holds
    their states (fp16), batch after batch. Read back one batch at a time into the entry's places,
    so the split's states are in memory once, not three times over as when every padded batch,
    each puzzle's copy and their concatenation were (~13 GB for the 4.2 GB of 60,000 6x6 Sudoku on MiniLM)."""
    n = torch.zeros(sum(len(r) for r in rows), dtype=torch.long)
    for part_rows, part_lengths in zip(rows, lengths):
        n[part_rows] = part_lengths
    starts = n.cumsum(0) - n
    states = torch.empty(int(n.sum()), hidden, dtype=torch.float16)
    token_slot = torch.empty(int(n.sum()), dtype=torch.int16)
    scratch.seek(0)
    for part_rows, part_lengths, part_slots in zip(rows, lengths, slots):
        # each token's place: its puzzle's start in the entry plus its position within the puzzle
        shift = torch.repeat_interleave(starts[part_rows] - (part_lengths.cumsum(0) - part_lengths), part_lengths)
        place = torch.arange(len(shift)) + shift
        part = torch.empty(len(place), hidden, dtype=torch.float16)
        scratch.readinto(part.numpy())
        states[place] = part
        token_slot[place] = part_slots
    return {"states": states, "token_slot": token_slot, "lengths": n}


def _joined(entries: list[dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
    """Entries of consecutive shards of a split, as one."""
    return ({k: torch.cat([e[k] for e in entries]) for k in ("states", "token_slot", "lengths")}
            | {"cut": sum(e["cut"] for e in entries)})


@torch.no_grad()
def embed(backbone, split: Dataset, desc: str = "", show_progress: bool = True,
          scratch_dir: str | Path | None = None, say_cut: bool = True) -> dict[str, torch.Tensor]:
    """An entry, on the CPU: states (tokens, H) fp16 and token_slot (tokens,) int16 for every
    puzzle's real tokens back to back, in split order, and lengths (N,): how many are each one's.

    Texts go longest first: batches of similar length pad little (a task's texts can differ 2x
    in length, ARC's 30x), and the largest batch comes first, so if `backbone.batch_size` does
    not fit in memory, Accelerate's `find_executable_batch_size` lowers it before any work is
    lost. Each batch's states wait in a file in `scratch_dir` (the system's temporary folder if
    None) and go to their puzzles' places at the end. The texts cut at backbone.max_length are counted
    in the entry's "cut", and said in one warning unless `say_cut` is false (a shard's: the split's totals are)."""
    if len(split) == 0:
        return {"states": torch.zeros(0, backbone.hidden_size, dtype=torch.float16),
                "token_slot": torch.zeros(0, dtype=torch.int16), "lengths": torch.zeros(0, dtype=torch.long),
                "cut": torch.zeros(3, dtype=torch.long)}
    lengths = [len(text) for text in split["question"]]
    order = torch.tensor(sorted(range(len(split)), key=lambda i: -lengths[i]), dtype=torch.long)

    @find_executable_batch_size(starting_batch_size=backbone.config.batch_size)
    def embed_in_batches(batch_size: int) -> tuple[tuple, int]:
        placed, lengths, slots_kept, hidden = list(order.split(batch_size)), [], [], backbone.hidden_size
        folder = Path(scratch_dir if scratch_dir is not None else tempfile.gettempdir())
        scratch_writes = f"the backbone states of {desc} to a scratch file in {folder}"  # what a full disk stops
        with _writing(scratch_writes, folder):
            folder.mkdir(parents=True, exist_ok=True)
            scratch = tempfile.TemporaryFile(dir=folder)  # unnamed: gone however the run ends
        try:  # each batch's states wait in `scratch` for the end
            with backbone.counting_truncation(desc, say=say_cut) as cut:  # one warning with the split's totals
                for where in progress_bar(placed, desc=f"embedding {desc}", leave=False, disable=not show_progress):
                    rows = split[where.tolist()]
                    encoded = backbone(rows["question"])
                    slots = counted_token_slots(backbone, encoded.offsets, rows["slot_spans"])
                    mask = encoded.mask.bool().cpu()
                    # fp16: half the disk and memory; the adapter reads fp32
                    states = encoded.states.to("cpu", torch.float16)
                    if not torch.isfinite(states).all():
                        warnings.warn(f"{desc}: backbone states overflow fp16; try another backbone.layer or "
                                      f"backbone.cache=false", ProcessWarning)  # a shard's: each process says its own
                    real = states[mask].numpy()  # the real tokens only, whichever side was padded
                    # (picked outside: out of memory there is find_executable_batch_size's to catch, not a full disk)
                    with _writing(scratch_writes, folder):
                        scratch.write(real)
                    lengths.append(mask.sum(1))
                    slots_kept.append(slots[mask])
                    hidden = states.shape[-1]
        except BaseException:
            scratch.close()
            raise
        return (scratch, placed, lengths, slots_kept, hidden, cut), batch_size

    (scratch, placed, lengths, slots, hidden, cut), used = embed_in_batches()
    with scratch:  # closed however this ends: the warning below raises under `python -W error`
        if used < backbone.config.batch_size:
            warnings.warn(f"{desc}: backbone.batch_size={backbone.config.batch_size} ran out of memory; embedded "
                          f"{used} texts at a time (set backbone.batch_size={used} to skip the search next time)",
                          ProcessWarning)  # on this process's device
        try:  # outside the batch size search: the whole split's states, which no smaller batch makes fit
            entry = _in_split_order(scratch, placed, lengths, slots, hidden)
        except RuntimeError as err:
            if not should_reduce_batch_size(err):
                raise
            tokens = sum(int(n.sum()) for n in lengths)
            raise MemoryError(
                f"{desc}: its backbone states ({tokens:,} tokens x {hidden} in fp16, "
                f"{tokens * hidden * 2 / 2**30:.1f} GiB) do not fit in memory at once ({err}). Free memory, train "
                f"on fewer puzzles, or set backbone.cache=false to run the backbone on each batch instead") from err
    return entry | {"cut": torch.tensor(cut)}  # cut: kept to warn again on reuse


@contextmanager
def _writing(what: str, folder: Path, partial: list[Path] = ()):
    """A write into the cache's folder that fails (a full disk, no permission) removes its `partial`
    files and says where, how much room is left and what to do; one stopped (Ctrl-C, SIGTERM) removes
    them too, as a stop elsewhere leaves nothing in the cache."""
    try:
        yield
    except BaseException as err:
        for leftover in partial:
            try:
                leftover.unlink(missing_ok=True)
            except OSError:
                pass  # a read-only folder: its own error, below, says so
        if not isinstance(err, (OSError, RuntimeError)):  # a full disk surfaces as RuntimeError from torch's zip writer
            raise
        raise unwritable(folder, err, "Free space with `hybrid-cache prune --keep-gb N` (see `hybrid-cache list`) "
                         "or point train.data_dir at a writable disk with room", what) from err


def _save(obj, path: Path, about: dict | None = None) -> None:
    """`obj` written to `path` through a temporary file; `about`, its description, is written
    before the entry is renamed into place, so no run ever reads an entry without one (which
    `hybrid-cache prune --old` would take for an older version's)."""
    tmp = path.with_name(path.name + ".tmp")
    with _writing(f"the embedding cache entry {path}", path.parent, [tmp, *([metadata_path(path)] if about else [])]):
        path.parent.mkdir(parents=True, exist_ok=True)
        torch.save(obj, tmp)
        if about is not None:
            metadata_path(path).write_text(json.dumps(about, indent=1), encoding="utf-8")
    tmp.replace(path)  # atomic: a crash never leaves a half-written entry that looks complete


def _described(entry: Path) -> bool:
    """Whether the entry's description is one a run writes: `hybrid-cache` takes an entry without
    one (none, cut short, overwritten) for an older version's, which `prune --old` removes."""
    try:
        about = json.loads(metadata_path(entry).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(about, dict) and about.get("format") == FORMAT


def _description(entry: dict, backbone, desc: str) -> dict:
    """What `hybrid-cache list` shows of an entry (kept beside it as <key>.json)."""
    lengths = entry["lengths"]
    return {"format": FORMAT, "split": desc, "puzzles": len(lengths), "tokens": int(lengths.sum()),
            "longest": int(lengths.max()) if len(lengths) else 0, "hidden": entry["states"].shape[1],
            "created": time.time(), "backbone": fingerprint(backbone)}


def _save_entry(entry: dict, path: Path, backbone, desc: str) -> None:
    """The entry, with a small description of it beside it (read by `hybrid-cache list`)."""
    _save(entry | {"key": path.stem}, path, _description(entry, backbone, desc))  # `_read` checks the key
    total = sum(p.stat().st_size for p in path.parent.glob("*.pt"))
    if total > LARGE_CACHE:
        print(f"the embedding cache in {path.parent} holds {total / 2**30:.1f} GiB; `hybrid-cache list` shows its "
              f"entries and `hybrid-cache prune --keep-gb N` removes the least recently used", file=sys.stderr)


def _read(path: Path, size: int, desc: str) -> dict | None:
    """The entry at `path`, memory-mapped (processes on one machine share its pages), or None if
    there is none. An unreadable or mismatched entry is removed with a warning: it is derived
    data, so the caller computes it again."""
    if not path.exists():
        return None
    try:
        if not zipfile.is_zipfile(path):  # torch's own errors here are "[Errno 22] Invalid argument" or advice
            raise ValueError("not a whole file torch.save wrote: empty, cut short or overwritten")  # to re-save it
        with zipfile.ZipFile(path) as stored:  # torch reads no checksum: bytes changed in place load as states
            damaged = stored.testzip()  # 1.6 GB/s: ~2.5 s for a 4 GB entry, whose pages training reads anyway
        if damaged is not None:
            raise ValueError(f"the bytes of its record {damaged} do not match their stored CRC-32: damaged on disk")
        entry = torch.load(path, mmap=True, weights_only=True)
        lengths = entry["lengths"]
        # Another entry copied or renamed over this one can fit every shape (another seed's split, another
        # layer); one written before entries held their key is known by its name alone.
        if entry.get("key", path.stem) != path.stem:
            raise ValueError(f"it holds the states of entry {entry['key']}, not of {path.stem}: copied or renamed here")
        if lengths.shape != (size,):
            raise ValueError(f"it holds {len(lengths)} puzzles, the split has {size}")
        if not entry["states"].shape[0] == entry["token_slot"].shape[0] == int(lengths.sum()):
            raise ValueError(f"its states hold {entry['states'].shape[0]} tokens, its lengths add up to {int(lengths.sum())}")
    except FileNotFoundError:
        return None  # removed since it was seen (`hybrid-cache prune`): there is none
    except Exception as err:  # truncated or damaged file, foreign content, missing fields
        warnings.warn(f"{desc}: the embedding cache entry {path} is unreadable ({type(err).__name__}: {err}); "
                      f"removing it and embedding the split again")
        for stale in entry_files(path):
            try:
                stale.unlink(missing_ok=True)
            except OSError:
                pass  # read-only: writing the new entry will fail with a clear error
        return None
    try:
        os.utime(path)  # last use, which `hybrid-cache prune` evicts by
    except OSError:
        pass  # a read-only cache (a shared, prepared data_dir) is still a cache
    return entry


def embed_split(backbone, split: Dataset, num_slots: int, cache_dir: str | Path, desc: str,
                accelerator=None) -> CachedStates:
    """(states, mask, token_slot, labels, index) for every puzzle, from the cache or computed.

    Under several processes each embeds one contiguous shard and writes it beside the entry;
    the main process joins the shards into the entry and the others wait, then all read it.
    Entries are memory-mapped, so processes on one machine share one copy in the page cache.
    Runs started together (a sweep) take turns at an entry: the first writes it while the others
    wait, then they read it (writing it at once, they wrote into one temporary file and could read
    each other's halves)."""
    path = cache_path(backbone, split, cache_dir)
    check_not_a_file(path.parent, f"train.data_dir={cache_dir}")
    if path.is_dir():  # not derived data the cache may remove: it did not make it
        raise ConfigError(f"train.data_dir={cache_dir}: {path} is a folder where {desc}'s embedding cache entry "
                          f"(a file) goes; the cache did not make it, so it is left as it is: move it away")
    with locked(lock_file(cache_dir, path.stem), f"embedding {desc}", accelerator):
        return _embed_split(backbone, split, num_slots, path, desc, accelerator)


def _embed_split(backbone, split: Dataset, num_slots: int, path: Path, desc: str, accelerator) -> CachedStates:
    world = accelerator.num_processes if accelerator is not None else 1
    main = accelerator is None or accelerator.is_main_process
    cached = _read(path, len(split), desc) if main else None
    exists = cached is not None
    if exists and not _described(path):  # lost by an older version killed between the two writes, or damaged
        try:
            metadata_path(path).write_text(json.dumps(_description(cached, backbone, desc), indent=1), encoding="utf-8")
        except OSError:
            pass  # a read-only cache: `hybrid-cache list` shows it as undescribed
    if exists and "cut" in cached:  # said when embedded; a rerun must say it again
        # (an entry written before slots were counted holds two counts: tokens and texts)
        backbone.say_cut(f"{desc} (cached)", cached["cut"])
    if world > 1:  # one decision for all processes, or some would wait at a barrier forever
        from accelerate.utils import broadcast_object_list

        exists = broadcast_object_list([exists])[0]
    if not exists and world == 1:
        _save_entry(embed(backbone, split, desc, scratch_dir=path.parent), path, backbone, desc)
    elif not exists:
        rank = accelerator.process_index
        bounds = [len(split) * r // world for r in range(world + 1)]
        shard = split.select(range(bounds[rank], bounds[rank + 1]))
        part = path.with_name(f"{path.stem}.part{rank}")
        _save(embed(backbone, shard, f"{desc} (shard {rank + 1}/{world})", show_progress=main,
                    scratch_dir=path.parent, say_cut=False), part)
        accelerator.wait_for_everyone()
        if main:
            parts = [path.with_name(f"{path.stem}.part{r}") for r in range(world)]
            joined = _joined([torch.load(p, mmap=True, weights_only=True) for p in parts])
            backbone.say_cut(desc, joined["cut"])  # the split's totals, once (not each shard's, one per process)
            _save_entry(joined, path, backbone, desc)
            for p in parts:
                p.unlink()
        accelerator.wait_for_everyone()
    if cached is None:  # read back what was just written (memory-mapped), or on the other processes
        cached = _read(path, len(split), desc)
        if cached is None:
            raise RuntimeError(f"{desc}: the embedding cache entry {path} is missing or unreadable right after it was "
                               f"written; under several processes train.data_dir ({path.parent.parent}) must be one "
                               f"filesystem that all of them see")
    return CachedStates(cached, _labels(split, num_slots, desc))


class CachedStates(TorchDataset):
    """A cache entry as a dataset of (states, mask, token_slot, label, index), like `LiveStates`.

    The DataLoader hands a whole batch of indices to `__getitems__`, which pads each puzzle to
    the batch's longest; `dataset[a:b]` gives such a batch as stacked tensors."""

    def __init__(self, entry: dict[str, torch.Tensor], labels: torch.Tensor):
        self.states, self.token_slot, self.labels = entry["states"], entry["token_slot"], labels
        self.lengths = entry["lengths"].tolist()
        self.starts = [0, *itertools.accumulate(self.lengths)][:-1]

    def __len__(self) -> int:
        return len(self.lengths)

    def padded(self, i: int, length: int) -> tuple:
        start, n = self.starts[i], self.lengths[i]
        return (F.pad(self.states[start:start + n], (0, 0, 0, length - n)), torch.arange(length) < n,
                F.pad(self.token_slot[start:start + n], (0, length - n), value=-1), self.labels[i], torch.tensor(i))

    def __getitems__(self, indices: list[int]) -> list[tuple]:
        length = max([1, *(self.lengths[i] for i in indices)])
        return [self.padded(i, length) for i in indices]

    def __getitem__(self, i):
        if isinstance(i, slice):
            return tuple(default_collate(self.__getitems__(list(range(len(self)))[i])))
        return self.__getitems__([int(i)])[0]


class LiveStates(TorchDataset):
    """`backbone.cache=false`: the backbone embeds each batch when the loader asks for it.

    DataLoader hands a whole batch of indices to `__getitems__`, so the backbone runs once per
    batch, and items come out as `CachedStates` gives them, padded to the batch's longest:
    (states, mask, token_slot, label, index). Keep train.num_workers=0 on a GPU (workers cannot
    share the CUDA backbone)."""

    def __init__(self, backbone, split: Dataset, num_slots: int, desc: str = ""):
        self.backbone = backbone
        # Tokenized once, as for LoRA: the tokenizer never changes, and what max_length cuts is
        # said once with the split's totals, as the cache says it (said by each batch, it told
        # that batch's cut only, and Python shows a repeated message once).
        self.tokens = token_split(backbone, split, num_slots, desc)

    def __len__(self) -> int:
        return len(self.tokens)

    def __getitem__(self, i: int):
        return self.__getitems__([i])[0]

    @torch.no_grad()
    def __getitems__(self, indices: list[int]) -> list[tuple]:
        ids, mask, token_slot, labels, index = self.tokens[list(indices)]
        # Padded to the split's longest text; cut to the batch's, as tokenizing the batch alone
        # pads it (padding is on the right, so the kept tokens' states are the same).
        keep = mask.any(0).nonzero().squeeze(1)
        ids, mask, token_slot = ids[:, keep], mask[:, keep], token_slot[:, keep]
        states = self.backbone.states(ids, mask.long())
        return [(states[k], mask[k], token_slot[k], labels[k], index[k]) for k in range(len(indices))]


def tokenized(backbone, split: Dataset, desc: str = "", chunk: int = 1024):
    """(tokenized texts, (B, L) token slots) for `chunk` puzzles at a time, and one truncation
    warning with the split's totals once all are read."""
    with backbone.counting_truncation(desc):
        for start in range(0, len(split), chunk):
            rows = split[start:start + chunk]
            batch = backbone.tokenize(rows["question"])
            yield batch, counted_token_slots(backbone, batch["offset_mapping"], rows["slot_spans"])


def token_split(backbone, split: Dataset, num_slots: int, desc: str = "") -> TensorDataset:
    """`backbone.lora`: (input_ids, mask, token_slot, labels, index) for a model that runs the
    backbone itself (hybrid/lora.py); tokenized once, since the tokenizer never changes."""
    ids, masks, slots = [], [], []
    for batch, token_slot in tokenized(backbone, split, desc):
        ids.append(batch["input_ids"])
        masks.append(batch["attention_mask"].bool())
        slots.append(token_slot)
    length = max(t.shape[1] for t in ids)
    # The character front end has no tokenizer; its padding is 0 (any id would do: masked out).
    pad_id = backbone.tokenizer.pad_token_id if hasattr(backbone, "tokenizer") else 0
    labels = _labels(split, num_slots, desc)
    return TensorDataset(torch.cat([_pad(t, length, pad_id) for t in ids]), torch.cat([_pad(t, length, False) for t in masks]),
                         torch.cat([_pad(t, length, -1) for t in slots]), labels, torch.arange(len(labels)))


def backbone_inputs(backbone, splits: dict[str, Dataset], num_slots: int, config, accelerator=None) -> dict[str, TorchDataset]:
    """What the training loop and evaluation read for each split, by backbone mode:
    cached states (default), states computed per batch (`backbone.cache=false`), or token ids
    for a model that holds a LoRA-tuned backbone (`backbone.lora`, which implies no cache)."""
    if config.backbone.lora is not None:
        return {name: token_split(backbone, split, num_slots, name) for name, split in splits.items()}
    if not config.backbone.cache:
        return {name: LiveStates(backbone, split, num_slots, name) for name, split in splits.items()}
    return {name: embed_split(backbone, split, num_slots, config.train.data_dir, name, accelerator)
            for name, split in splits.items()}
