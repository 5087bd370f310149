"""The embedding cache: reused when nothing changed, recomputed when anything the states depend
on changed, stored in fp16, equal to fresh states, and built in shards by several processes."""

import json
import os
import random
import re
import shutil
import subprocess
import sys
import time
import warnings
from pathlib import Path

import pytest
import torch
from datasets import Dataset

from eval.tasks import make_task
from hybrid import cache, tiny_backbones
from hybrid.backbone import Encoded, FrozenBackbone
from hybrid.cache import LiveStates, cache_path, embed, embed_split, metadata_path, token_split
from hybrid.config import load_config


def puzzles(n=6, seed=0, size=4):
    task = make_task(load_config(["task=sudoku", f"task.size={size}"]).task)
    rng = random.Random(seed)
    return task, Dataset.from_list([task.generate(rng, 0).to_record() for _ in range(n)])


def backbone_at(path, *overrides):
    return FrozenBackbone(load_config([f"backbone.path={path}", "backbone.batch_size=4", *overrides]).backbone)


def test_second_use_reads_the_cache_instead_of_the_backbone(tiny_backbone, tmp_path):
    task, split = puzzles()
    backbone = backbone_at(tiny_backbone("bert"))
    first = embed_split(backbone, split, task.num_slots, tmp_path, "test")
    assert cache_path(backbone, split, tmp_path).exists()
    assert first.states.dtype == torch.float16  # half the disk and memory

    def no_backbone(texts):
        raise AssertionError("the backbone ran although the cache holds these states")

    backbone.forward = no_backbone
    again = embed_split(backbone, split, task.num_slots, tmp_path, "test")
    assert all(torch.equal(a, b) for a, b in zip(first[:], again[:]))


def test_an_entry_written_before_entries_held_their_key_is_still_read(tiny_backbone, tmp_path):
    """A cache filled by an older version holds no key: it is known by its file name, not embedded again."""
    task, split = puzzles()
    backbone = backbone_at(tiny_backbone("bert"))
    first = [t.clone() for t in embed_split(backbone, split, task.num_slots, tmp_path, "test")[:]]  # not the mmap
    entry = cache_path(backbone, split, tmp_path)
    stored = torch.load(entry)
    assert stored.pop("key") == entry.stem
    torch.save(stored, entry)

    def no_backbone(texts):
        raise AssertionError("the backbone ran although the cache holds these states")

    backbone.forward = no_backbone
    again = embed_split(backbone, split, task.num_slots, tmp_path, "test")
    assert all(torch.equal(a, b) for a, b in zip(first, again[:]))


def test_a_read_only_cache_is_still_read(tiny_backbone, tmp_path, monkeypatch):
    task, split = puzzles()
    backbone = backbone_at(tiny_backbone("bert"))
    first = embed_split(backbone, split, task.num_slots, tmp_path, "test")

    def read_only(*args, **kwargs):
        raise PermissionError(13, "Read-only file system")

    monkeypatch.setattr(os, "utime", read_only)  # marking the entry used fails; reading it must not
    again = embed_split(backbone, split, task.num_slots, tmp_path, "test")
    assert all(torch.equal(a, b) for a, b in zip(first[:], again[:]))


def test_a_weight_files_digest_is_remembered_until_the_file_changes(tiny_backbone, tmp_path, monkeypatch):
    """Hashing a 7B model's weights takes seconds at every load, so each file's digest is kept in
    data_dir by its size, inode and times; a file written since, even in place with its old
    modification time set back, is hashed again."""
    import hybrid.backbone_files as module

    folder, data_dir = tmp_path / "bert", tmp_path / "data"
    shutil.copytree(tiny_backbone("bert"), folder)
    config = load_config([f"backbone.path={folder}"]).backbone
    hashed, sha256 = [], module.sha256
    monkeypatch.setattr(module, "sha256", lambda path: hashed.append(path.name) or sha256(path))

    first = FrozenBackbone(config, data_dir).fingerprint
    assert sorted(hashed) == ["config.json", "model.safetensors"]
    assert not (data_dir / "digests.json").exists()  # just copied: a change in the same clock tick would go unseen
    monkeypatch.setattr(module, "SETTLED_NS", 0)  # as if they had not changed for a while
    assert FrozenBackbone(config, data_dir).fingerprint == first
    hashed.clear()
    assert FrozenBackbone(config, data_dir).fingerprint == first and hashed == []  # remembered

    weights = folder / "model.safetensors"
    before = weights.stat()
    with open(weights, "r+b") as f:  # the last byte of the last tensor, in place: same size and inode
        f.seek(-1, os.SEEK_END)
        last = f.read(1)
        f.seek(-1, os.SEEK_END)
        f.write(bytes([last[0] ^ 1]))
    os.utime(weights, ns=(before.st_atime_ns, before.st_mtime_ns))  # and its modification time set back
    changed = FrozenBackbone(config, data_dir).fingerprint
    assert hashed == ["model.safetensors"] and changed["weights"] != first["weights"]

    (data_dir / "digests.json").write_text("{not json")  # damaged: hashed again, and rewritten
    hashed.clear()
    assert FrozenBackbone(config, data_dir).fingerprint == changed and len(hashed) == 2
    assert str(weights) in json.loads((data_dir / "digests.json").read_text())


@pytest.mark.parametrize("kind", ["bert", "gpt2"])
def test_the_fingerprint_does_not_depend_on_what_the_backbone_tokenized_before(tiny_backbone, tmp_path, kind):
    """A fast tokenizer keeps the truncation and padding of its last call in the backend that its
    serialization hashes: a LoRA run tokenizes its splits before its fingerprint is recorded, so
    evaluation and solve, which compare a fresh backbone's, called every LoRA run a transfer."""
    task, split = puzzles(n=2)
    fresh = backbone_at(tiny_backbone(kind)).fingerprint
    used = backbone_at(tiny_backbone(kind))
    token_split(used, split, task.num_slots)  # what a LoRA run does before training records the fingerprint
    assert used.fingerprint == fresh
    assert cache_path(used, split, tmp_path) == cache_path(backbone_at(tiny_backbone(kind)), split, tmp_path)


def test_cached_and_live_states_match_the_backbone(tiny_backbone, tmp_path):
    task, split = puzzles(n=5)
    backbone = backbone_at(tiny_backbone("gpt2"))
    cached = embed_split(backbone, split, task.num_slots, tmp_path, "test")
    fresh = backbone(split["question"])
    live = torch.utils.data.DataLoader(LiveStates(backbone, split, task.num_slots), batch_size=5)
    states, mask, token_slot, labels, index = next(iter(live))
    cached_states, cached_mask, cached_slots, cached_labels, cached_index = cached[:]
    assert torch.allclose(cached_states.float(), fresh.states, atol=1e-2)  # fp16 rounding only
    assert torch.equal(states, fresh.states) and torch.equal(mask, cached_mask) and torch.equal(labels, cached_labels)
    assert torch.equal(token_slot, cached_slots) and torch.equal(index, torch.arange(5)) and torch.equal(index, cached_index)


def test_any_change_the_states_depend_on_gives_a_new_entry(tiny_backbone, tmp_path):
    task, split = puzzles()
    path = tiny_backbone("bert")
    base = cache_path(backbone_at(path), split, tmp_path)
    assert cache_path(backbone_at(path), split, tmp_path) == base  # same everything: same entry
    for override in ["backbone.layer=-2", "backbone.layer=mean_last_2", "backbone.dtype=bfloat16", "backbone.max_length=64"]:
        assert cache_path(backbone_at(path, override), split, tmp_path) != base, override
    _, other_texts = puzzles(seed=1)
    assert cache_path(backbone_at(path), other_texts, tmp_path) != base
    other_weights = tiny_backbones.build("bert", tmp_path / "bert-seed1", seed=1)  # same config, other weights
    assert cache_path(backbone_at(other_weights), split, tmp_path) != base
    retokenized = backbone_at(path)
    retokenized.tokenizer.add_tokens(["row"])  # a changed vocabulary changes the tokens
    assert cache_path(retokenized, split, tmp_path) != base


def test_spellings_of_one_layer_share_an_entry_and_are_no_transfer(tiny_backbone, tmp_path):
    """The tiny BERT has 2 layers: last, -1, mean_last_1 and 2 all pick its output. Keyed by the
    spelling, each embedded and stored the same states again, and weights trained at `last`
    scored at `-1` were warned about as trained on other states."""
    from hybrid.trained_on import differences

    task, split = puzzles()
    path = tiny_backbone("bert")
    last = backbone_at(path)
    assert last.fingerprint["layer"] == "last"  # the default's key is unchanged: existing entries stay valid
    for same in ("-1", "mean_last_1", "2"):
        now = backbone_at(path, f"backbone.layer={same}")
        assert cache_path(now, split, tmp_path) == cache_path(last, split, tmp_path), same
        assert differences(last.fingerprint, now) == [], same
        assert differences(last.fingerprint | {"layer": same}, last) == [], same  # a record spelled so before
    assert cache_path(backbone_at(path, "backbone.layer=-2"), split, tmp_path) == \
        cache_path(backbone_at(path, "backbone.layer=1"), split, tmp_path)
    assert differences(last.fingerprint, backbone_at(path, "backbone.layer=1")) == ["backbone.layer is 1, trained on last"]


def test_the_character_front_ends_cut_is_part_of_the_key(tmp_path):
    """`chars` has no fingerprint of its own: its identity and max_length name its states, so a
    run that cuts texts shorter must not read the entry of uncut ones (nor the reverse)."""
    from hybrid.backbone import load_backbone

    task, split = puzzles()

    def chars(max_length):
        return load_backbone(load_config(["backbone.path=chars", f"backbone.max_length={max_length}"]).backbone)

    full = embed_split(chars(512), split, task.num_slots, tmp_path, "test")[:][1].sum(1)
    with pytest.warns(UserWarning, match="truncated"):
        cut = embed_split(chars(16), split, task.num_slots, tmp_path, "test")[:][1].sum(1)
    assert cut.max() == 16 < full.min()
    assert torch.equal(embed_split(chars(512), split, task.num_slots, tmp_path, "test")[:][1].sum(1), full)


@pytest.mark.parametrize("key, value", [("hidden_act", "relu"), ("num_hidden_layers", 1)])
def test_an_edited_config_json_gives_a_new_entry(tiny_backbone, tmp_path, key, value):
    task, split = puzzles()
    folder = tmp_path / "bert"  # same weight files, another model: other states
    shutil.copytree(tiny_backbone("bert"), folder)
    base = cache_path(backbone_at(folder), split, tmp_path)
    settings = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps(settings | {key: value}))
    edited = backbone_at(folder)
    assert getattr(edited.model.config, key) == value and cache_path(edited, split, tmp_path) != base


def test_texts_are_embedded_longest_first_and_stored_in_split_order(tiny_backbone, tmp_path):
    task, split = puzzles(n=7)
    texts = [q + " and" * (3 * (i % 4)) for i, q in enumerate(split["question"])]  # lengths out of order
    split = split.remove_columns("question").add_column("question", texts)
    backbone = backbone_at(tiny_backbone("bert"), "backbone.batch_size=3")
    seen, real = [], backbone.forward
    backbone.forward = lambda batch: seen.extend(batch) or real(batch)
    states, mask, token_slot, _, _ = embed_split(backbone, split, task.num_slots, tmp_path, "test")[:]
    assert [len(t) for t in seen] == sorted((len(t) for t in texts), reverse=True)  # similar lengths pad little
    for i, text in enumerate(texts):  # yet row i holds puzzle i, as if embedded alone
        alone = real([text])
        n = alone.states.shape[1]
        assert torch.allclose(states[i, :n].float(), alone.states[0], atol=1e-2) and not mask[i, n:].any()
        assert torch.equal(token_slot[i, :n], embed_split(backbone, split.select([i]), task.num_slots, tmp_path / "one", "one")[:][2][0, :n])


def test_entries_store_no_padding_and_batches_pad_to_their_own_longest(tiny_backbone, tmp_path):
    task, split = puzzles(n=6)
    texts = [q + " and" * (10 * (i % 3)) for i, q in enumerate(split["question"])]  # three lengths
    split = split.remove_columns("question").add_column("question", texts)
    backbone = backbone_at(tiny_backbone("gpt2"), "backbone.batch_size=6")  # one batch: padded to the longest
    dataset = embed_split(backbone, split, task.num_slots, tmp_path, "test")
    own = [backbone([text]).states.shape[1] for text in texts]
    entry = torch.load(cache_path(backbone, split, tmp_path))
    assert entry["lengths"].tolist() == own and entry["states"].shape[0] == sum(own)  # real tokens only
    for indices in ([0, 3], [1, 0], [2, 5, 4]):
        states, mask, token_slot, labels, index = next(iter(torch.utils.data.DataLoader(
            dataset, batch_size=len(indices), sampler=indices)))
        assert states.shape[1] == max(own[i] for i in indices)  # padded to this batch's longest, no more
        assert mask.sum(1).tolist() == [own[i] for i in indices] and index.tolist() == indices
        for row, i in enumerate(indices):
            alone = backbone([texts[i]]).states[0]
            assert torch.allclose(states[row, :own[i]].float(), alone, atol=1e-2) and not states[row, own[i]:].any()
            assert (token_slot[row, own[i]:] == -1).all() and torch.equal(labels[row], torch.tensor(split[i]["labels"]))


def test_a_batch_size_that_runs_out_of_memory_is_lowered(tiny_backbone, tmp_path):
    task, split = puzzles(n=7)
    backbone = backbone_at(tiny_backbone("bert"), "backbone.batch_size=4")
    expected = embed_split(backbone, split, task.num_slots, tmp_path / "fits", "test")[:]
    calls, real = [], backbone.forward

    def small_memory(texts):
        calls.append(len(texts))
        if len(texts) > 2:
            raise RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return real(texts)

    backbone.forward = small_memory
    with pytest.warns(UserWarning, match="batch_size=4 ran out of memory; embedded 2 texts at a time"):
        lowered = embed_split(backbone, split, task.num_slots, tmp_path / "small", "test")
    # The first (longest) batch fails at once; Accelerate lowers the size (to 90% since 1.9, by half
    # before: [4, 3, 2, ...] or [4, 2, ...]) until it fits, and then 7 go as 2+2+2+1.
    assert calls[0] == 4 and all(n == 3 for n in calls[1:-4]) and calls[-4:] == [2, 2, 2, 1]
    assert all(torch.allclose(a.float(), b.float(), atol=1e-2) for a, b in zip(expected, lowered[:]))


@pytest.mark.parametrize("damage", ["cut_short", "empty", "random"])
def test_an_unreadable_entry_is_embedded_again(tiny_backbone, tmp_path, damage):
    """Said in plain words: for an empty or overwritten file torch told the user to `torch.save`
    with `_use_new_zipfile_serialization=True`, a fix for a file they never wrote."""
    task, split = puzzles()
    backbone = backbone_at(tiny_backbone("bert"))
    first = [t.clone() for t in embed_split(backbone, split, task.num_slots, tmp_path, "test")[:]]
    entry = cache_path(backbone, split, tmp_path)
    damaged = entry.with_name("damaged")
    damaged.write_bytes({"cut_short": entry.read_bytes()[: entry.stat().st_size // 2],  # as after a disk fault
                         "empty": b"", "random": random.Random(0).randbytes(5000)}[damage])
    damaged.replace(entry)
    with pytest.warns(UserWarning, match=r"unreadable \(ValueError: not a whole file torch.save wrote: .*embedding the split again"):
        again = embed_split(backbone, split, task.num_slots, tmp_path, "test")
    assert all(torch.equal(a, b) for a, b in zip(first, again[:]))
    torch.load(entry)  # rewritten whole


def test_an_entry_damaged_inside_its_states_is_embedded_again(tiny_backbone, tmp_path):
    """Bytes changed in place (a bad disk sector, a stray write) leave a whole zip file whose
    shapes fit: read as it was, it handed the run other states without a word. Each record's
    CRC-32, which torch.save stores, tells."""
    import zipfile

    task, split = puzzles()
    backbone = backbone_at(tiny_backbone("bert"))
    first = [t.clone() for t in embed_split(backbone, split, task.num_slots, tmp_path, "test")[:]]
    entry = cache_path(backbone, split, tmp_path)
    with zipfile.ZipFile(entry) as stored:
        states = max(stored.infolist(), key=lambda record: record.file_size)  # the fp16 states
    data = bytearray(entry.read_bytes())
    start = states.header_offset + 30 + len(states.filename.encode()) + len(states.extra)  # past its local header
    data[start + 100:start + 104] = bytes(4)
    entry.write_bytes(bytes(data))
    with pytest.warns(UserWarning, match="unreadable.*do not match their stored CRC-32.*embedding the split again"):
        again = embed_split(backbone, split, task.num_slots, tmp_path, "test")
    assert all(torch.equal(a, b) for a, b in zip(first, again[:]))


@pytest.mark.parametrize("damage", ["another_splits_entry", "another_entry_of_the_same_size", "states_cut_short"])
def test_an_entry_that_loads_but_does_not_fit_its_split_is_embedded_again(tiny_backbone, tmp_path, damage):
    """A whole, loadable file that is not this split's states (another entry copied over it, or
    one whose states hold fewer tokens than its lengths add up to) would hand puzzles other
    puzzles' tokens: it is treated as damaged and embedded again. Another split's entry with as
    many puzzles and tokens (or the same texts at another layer) fits every shape: the key it
    was written under tells."""
    task, split = puzzles()
    backbone = backbone_at(tiny_backbone("bert"))
    first = [t.clone() for t in embed_split(backbone, split, task.num_slots, tmp_path, "test")[:]]
    entry = cache_path(backbone, split, tmp_path)
    if damage.startswith("another"):
        other = split.select(range(4)) if damage == "another_splits_entry" else puzzles(seed=1)[1]
        embed_split(backbone, other, task.num_slots, tmp_path, "other")
        wrong = torch.load(cache_path(backbone, other, tmp_path))
    else:
        stored = torch.load(entry)
        wrong = stored | {"states": stored["states"][:-1].clone(), "token_slot": stored["token_slot"][:-1].clone()}
    torch.save(wrong, entry)
    with pytest.warns(UserWarning, match="unreadable.*embedding the split again"):
        again = embed_split(backbone, split, task.num_slots, tmp_path, "test")
    assert len(again) == len(split) and all(torch.equal(a, b) for a, b in zip(first, again[:]))


def test_examples_with_other_slots_than_the_task_declares_are_a_clear_error(tiny_backbone, tmp_path):
    task, split = puzzles()
    backbone = backbone_at(tiny_backbone("bert"))
    wrong = task.num_slots + 1
    message = f"test: examples have {task.num_slots} answer slots, the task declares {wrong}"
    for make in (lambda n: embed_split(backbone, split, n, tmp_path, "test"), lambda n: LiveStates(backbone, split, n, "test"),
                 lambda n: token_split(backbone, split, n, "test")):
        with pytest.raises(ValueError, match=message):
            make(wrong)
        assert len(make(task.num_slots)) == len(split)


def test_states_that_overflow_fp16_are_a_warning(tiny_backbone, tmp_path, recwarn):
    """Entries are stored in fp16: states beyond its range (65504) become inf, which would poison
    training without a word."""
    import dataclasses

    task, split = puzzles(n=2)
    backbone = backbone_at(tiny_backbone("bert"))
    embed_split(backbone, split, task.num_slots, tmp_path / "plain", "test")
    assert not [w for w in recwarn if "overflow" in str(w.message)]
    real = backbone.forward
    backbone.forward = lambda texts: dataclasses.replace(real(texts), states=real(texts).states * 1e6)
    with pytest.warns(UserWarning, match="test: backbone states overflow fp16"):
        embed_split(backbone, split, task.num_slots, tmp_path / "huge", "test")


def test_a_cache_grown_large_suggests_pruning_when_an_entry_is_written(tiny_backbone, tmp_path, monkeypatch, capsys):
    import hybrid.cache

    task, split = puzzles(n=2)
    backbone = backbone_at(tiny_backbone("bert"))
    embed_split(backbone, split, task.num_slots, tmp_path, "test")
    assert "hybrid-cache prune" not in capsys.readouterr().err  # a small cache: no word
    monkeypatch.setattr(hybrid.cache, "LARGE_CACHE", 0)
    embed_split(backbone, split, task.num_slots, tmp_path, "test")  # read, not written: no word either
    assert "hybrid-cache prune" not in capsys.readouterr().err
    embed_split(backbone, puzzles(n=2, seed=1)[1], task.num_slots, tmp_path, "other")
    assert "`hybrid-cache prune --keep-gb N` removes the least recently used" in capsys.readouterr().err


def test_a_stop_while_an_entry_is_written_leaves_no_partial_file(tiny_backbone, tmp_path, monkeypatch):
    """A SIGTERM or Ctrl-C in torch.save left the entry's half-written .pt.tmp behind, to be pruned by hand."""
    from hybrid.checkpoint import Terminated

    task, split = puzzles()
    backbone = backbone_at(tiny_backbone("bert"))

    def stopped_midway(obj, path):
        Path(path).write_bytes(b"PK partial")
        raise Terminated

    monkeypatch.setattr(torch, "save", stopped_midway)
    with pytest.raises(Terminated):
        embed_split(backbone, split, task.num_slots, tmp_path, "test")
    assert not any((tmp_path / "embeddings").iterdir())


def test_a_full_disk_leaves_no_partial_entry_and_says_what_to_do(tiny_backbone, tmp_path, monkeypatch):
    task, split = puzzles()
    backbone = backbone_at(tiny_backbone("bert"))

    def disk_full(obj, path):
        Path(path).write_bytes(b"PK partial")
        raise RuntimeError("PytorchStreamWriter failed writing file data/0: file write failed")

    monkeypatch.setattr(torch, "save", disk_full)
    with pytest.raises(OSError, match=r"GiB free there.*hybrid-cache prune --keep-gb"):
        embed_split(backbone, split, task.num_slots, tmp_path, "test")
    assert not any((tmp_path / "embeddings").iterdir())  # neither the entry nor the half-written file


def test_a_disk_that_fills_up_at_the_entrys_description_leaves_neither_file(tiny_backbone, tmp_path, monkeypatch):
    """The states are written, then their description runs out of room: its half-written file goes
    too, not only the states' (a description without its entry is one more thing to prune)."""
    import errno

    task, split = puzzles()
    backbone = backbone_at(tiny_backbone("bert"))
    real = Path.write_text

    def full_at_descriptions(self, text, *args, **kwargs):
        if self.parent.name == "embeddings" and self.suffix == ".json":
            real(self, text[:10], *args, **kwargs)
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(self, text, *args, **kwargs)

    monkeypatch.setattr(Path, "write_text", full_at_descriptions)
    with pytest.raises(OSError, match=r"could not write the embedding cache entry .*No space left.*hybrid-cache prune"):
        embed_split(backbone, split, task.num_slots, tmp_path, "test")
    assert not any((tmp_path / "embeddings").iterdir())


def test_a_full_disk_while_embedding_says_what_to_do_and_leaves_nothing(tiny_backbone, tmp_path, monkeypatch):
    """The batches' states wait in a scratch file beside the entries: a disk that fills up there gets
    the message an entry's write gets, not a bare OSError."""
    import errno
    import tempfile

    task, split = puzzles()
    backbone = backbone_at(tiny_backbone("bert"))
    real = tempfile.TemporaryFile

    class Full:  # a scratch file on a disk with no room left
        def __init__(self, **kwargs):
            self.file = real(**kwargs)

        def write(self, data):
            raise OSError(errno.ENOSPC, "No space left on device")

        def __getattr__(self, name):
            return getattr(self.file, name)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.file.close()

    monkeypatch.setattr(tempfile, "TemporaryFile", Full)
    said = (r"could not write the backbone states of test to a scratch file in .*embeddings \(.* GiB free there\): "
            r".*No space left on device.*hybrid-cache prune --keep-gb")
    with pytest.raises(OSError, match=said):
        embed_split(backbone, split, task.num_slots, tmp_path, "test")
    assert not any((tmp_path / "embeddings").iterdir())


def test_entries_are_described_and_pruned_least_recently_used_first(tiny_backbone, tmp_path, capsys):
    from hybrid.cache_cli import entries, main

    task, _ = puzzles()
    backbone = backbone_at(tiny_backbone("bert"))
    splits = [puzzles(seed=s)[1] for s in range(3)]
    paths = [cache_path(backbone, split, tmp_path) for split in splits]
    for i, split in enumerate(splits):
        embed_split(backbone, split, task.num_slots, tmp_path, f"split{i}")
        os.utime(paths[i], (0, time.time() - (3 - i) * 86400))  # written 3, 2 and 1 days ago
    embed_split(backbone, splits[0], task.num_slots, tmp_path, "split0")  # reading the oldest marks it used
    assert [e.path for e in entries(tmp_path / "embeddings")] == [paths[0], paths[2], paths[1]]

    main(["--data-dir", str(tmp_path), "list"])
    listing = capsys.readouterr().out
    assert all(f"split{i}: 6 x" in listing for i in range(3)) and "3 entries" in listing

    with pytest.raises(SystemExit):  # prune needs a criterion
        main(["--data-dir", str(tmp_path), "prune"])
    one = paths[0].stat().st_size
    main(["--data-dir", str(tmp_path), "prune", "--keep-gb", str(2.5 * one / 2**30), "--dry-run"])
    assert all(p.exists() for p in paths)
    said = capsys.readouterr().out.replace("\n", "")  # which entry: the split and backbone, as the listing names them
    assert re.search(rf"would remove {paths[1].name}: .* holds split1: 6 x \S+ x 32 of \S+/bert \(layer last, dtype",
                     said)
    main(["--data-dir", str(tmp_path), "prune", "--keep-gb", str(2.5 * one / 2**30)])
    assert [p.exists() for p in paths] == [True, False, True]  # the least recently used went, with its description
    assert not paths[1].with_suffix(".json").exists() and paths[0].with_suffix(".json").exists()
    main(["--data-dir", str(tmp_path), "prune", "--unused-days", "1.5"])
    assert [p.exists() for p in paths] == [True, False, True]  # both were used within a day and a half
    leftover = paths[0].with_name("abc.part0")
    leftover.write_bytes(b"interrupted")
    os.utime(leftover, (0, time.time() - 7200))
    capsys.readouterr()
    main(["--data-dir", str(tmp_path), "prune", "--all", "--dry-run"])
    assert "would remove 2 entries and 1 leftover piece," in capsys.readouterr().out
    assert leftover.exists() and paths[0].exists() and paths[2].exists()  # a dry run removes nothing
    main(["--data-dir", str(tmp_path), "prune", "--all"])
    assert not any((tmp_path / "embeddings").iterdir())
    again = embed_split(backbone, splits[0], task.num_slots, tmp_path, "split0")  # a pruned entry is made again
    assert len(again) == 6 and paths[0].exists()


def described_entries(data_dir: Path, *names: str) -> None:
    """Cache entries of 1000 bytes of states and an empty description each, in data_dir's embeddings/."""
    (data_dir / "embeddings").mkdir()
    for name in names:
        (data_dir / "embeddings" / f"{name}.pt").write_bytes(b"s" * 1000)
        (data_dir / "embeddings" / f"{name}.json").write_text("{}")


def test_an_entry_a_running_job_holds_open_on_windows_is_kept_and_said(tmp_path, capsys, monkeypatch):
    """Windows removes no file another process has open (a run memory-maps its entries): that entry
    stays, whole, and prune says so and goes on with the others instead of ending in a traceback."""
    from hybrid.cache_cli import main

    described_entries(tmp_path, "held", "free")
    real = Path.unlink

    def in_use(self, missing_ok=False):
        if self.name == "held.pt":
            raise PermissionError(13, "The process cannot access the file because it is being used by another process")
        return real(self, missing_ok=missing_ok)

    monkeypatch.setattr(Path, "unlink", in_use)
    main(["--data-dir", str(tmp_path), "prune", "--all"])
    said = capsys.readouterr().out
    assert sorted(p.name for p in (tmp_path / "embeddings").iterdir()) == ["held.json", "held.pt"]
    assert "kept held.pt: a running job has it open" in said and "removed 1 entry " in said


@pytest.mark.usefixtures("signals_as_in_a_terminal")
@pytest.mark.parametrize("signame,name,code", [("SIGINT", "Ctrl-C", 130), ("SIGTERM", "SIGTERM", 143)])
def test_a_stopped_prune_is_one_line_and_the_next_prune_removes_what_it_left(tmp_path, capsys, monkeypatch,
                                                                           signame, name, code):
    """hybrid-cache ended on Ctrl-C with a KeyboardInterrupt traceback and on SIGTERM silently. Now one line
    saying what is left and the signal's exit status; an entry whose removal was cut short (its states gone,
    its description not yet) is a leftover piece that the next prune removes."""
    import signal

    from hybrid.cache_cli import main

    signum = getattr(signal, signame)
    described_entries(tmp_path, "one", "two")
    real = Path.unlink

    def signal_after_the_first_states(self, missing_ok=False):
        real(self, missing_ok=missing_ok)
        if self.suffix == ".pt":
            monkeypatch.setattr(Path, "unlink", real)
            os.kill(os.getpid(), signum)  # its handler runs here: between the entry's states and its description

    monkeypatch.setattr(Path, "unlink", signal_after_the_first_states)
    try:
        with pytest.raises(SystemExit) as stopped:
            main(["--data-dir", str(tmp_path), "prune", "--all"])
    except KeyboardInterrupt:
        pytest.fail("Ctrl-C ended hybrid-cache prune in a KeyboardInterrupt traceback")
    assert stopped.value.code == code
    assert f"{name}: stopped; what is said removed above is gone" in capsys.readouterr().err
    left = sorted(p.name for p in (tmp_path / "embeddings").iterdir())
    assert len(left) == 3 and sum(n.endswith(".json") for n in left) == 2  # one whole entry, one description alone
    main(["--data-dir", str(tmp_path), "prune", "--all"])
    assert "removed 1 entry and 1 leftover piece" in capsys.readouterr().out
    assert not any((tmp_path / "embeddings").iterdir())


def test_a_dry_run_says_an_entry_a_run_holds_would_be_kept(tmp_path, capsys, held_by_another_process):
    """`prune --dry-run` listed an entry a run was embedding or reading as going; the real prune
    then kept it, so the dry run's total promised space that never came free."""
    from hybrid.cache_cli import main, writer_lock

    described_entries(tmp_path, "held", "free")
    with held_by_another_process(writer_lock(tmp_path / "embeddings" / "held.pt")):
        main(["--data-dir", str(tmp_path), "prune", "--all", "--dry-run"])
        dry = capsys.readouterr().out
        main(["--data-dir", str(tmp_path), "prune", "--all"])
        real = capsys.readouterr().out
    assert "would keep held.pt: a run is embedding or reading it" in dry and "would remove 1 entry " in dry
    assert "kept held.pt: a run is embedding or reading it" in real and "removed 1 entry " in real
    assert sorted(p.name for p in (tmp_path / "embeddings").iterdir()) == ["held.json", "held.pt"]


def test_list_shows_each_entrys_size_and_backbone_in_an_80_column_terminal(tmp_path, capsys, monkeypatch):
    """80 columns is a terminal's default and rich's width for a pipe or file (`hybrid-cache list >
    cache.txt`): the long header of the split column must wrap, not squeeze the size into '0.2 …'
    and the backbone column out of sight."""
    from hybrid.cache import FORMAT
    from hybrid.cache_cli import main

    monkeypatch.setenv("COLUMNS", "80")
    (tmp_path / "embeddings").mkdir()
    (tmp_path / "embeddings" / "abc.pt").write_bytes(b"s" * 300_000)
    (tmp_path / "embeddings" / "abc.json").write_text(json.dumps({
        "format": FORMAT, "split": "train", "puzzles": 64, "tokens": 10368, "longest": 162, "hidden": 32,
        "backbone": {"id": "tiny:bert", "layer": "last", "dtype": "float32", "max_length": 512}}))
    main(["--data-dir", str(tmp_path), "list"])
    listing = capsys.readouterr().out
    assert "0.3 MiB" in listing and "tiny:bert" in listing and "…" not in listing


def test_data_dir_may_come_after_the_command(tmp_path, capsys):
    """`hybrid-cache list --data-dir X`, the order people type, was argparse's 'unrecognized
    arguments'; before the command it still works, and after it, it wins."""
    from hybrid.cache_cli import main

    (tmp_path / "embeddings").mkdir()
    (tmp_path / "embeddings" / "abc.pt").write_bytes(b"s" * 1000)
    for argv in (["list", "--data-dir", str(tmp_path)], ["--data-dir", "~", "list", "--data-dir", str(tmp_path)]):
        main(argv)
        assert "abc" in capsys.readouterr().out
    main(["prune", "--all", "--data-dir", str(tmp_path)])
    assert not (tmp_path / "embeddings" / "abc.pt").exists()


@pytest.mark.parametrize("description", ["[1, 2]", '"text"', '{"format": 2, "split": "train"}',
                                         '{"format": 2, "split": "train", "puzzles": 3, "tokens": "x", "backbone": "b"}'])
def test_an_entry_whose_description_is_damaged_is_listed_and_pruned_as_unknown(tmp_path, capsys, description):
    """A description edited by hand or overwritten: JSON, but not what a run writes. It is shown
    as '?' (as one that is not JSON is), not a traceback that hides every other entry."""
    from hybrid.cache_cli import main

    (tmp_path / "embeddings").mkdir()
    (tmp_path / "embeddings" / "abc.pt").write_bytes(b"states")
    (tmp_path / "embeddings" / "abc.json").write_text(description)
    main(["--data-dir", str(tmp_path), "list"])
    assert "1 entry," in capsys.readouterr().out
    main(["--data-dir", str(tmp_path), "prune", "--all"])
    assert "removed 1 entry " in capsys.readouterr().out and not (tmp_path / "embeddings" / "abc.pt").exists()


def test_prune_removes_pieces_of_interrupted_writes_and_keeps_those_a_run_is_writing(tmp_path, capsys,
                                                                                     held_by_another_process):
    """However old: a multi-process run's fastest shard can wait hours for its slowest."""
    from hybrid.cache_cli import main
    from hybrid.lock import lock_file

    folder = tmp_path / "embeddings"
    folder.mkdir()
    interrupted, in_flight = folder / "aaa.pt.tmp", folder / "bbb.part1"
    for piece in (interrupted, in_flight):
        piece.write_bytes(b"half")
        os.utime(piece, (0, time.time() - 7200))
    with held_by_another_process(lock_file(tmp_path, "bbb")):  # a run writing entry bbb
        main(["--data-dir", str(tmp_path), "prune", "--all"])
        assert not interrupted.exists() and in_flight.exists()
    fresh = folder / "ccc.part0"  # a piece no run is writing is a leftover at once, not after an hour
    fresh.write_bytes(b"half")
    main(["--data-dir", str(tmp_path), "prune", "--all"])
    assert not fresh.exists() and not in_flight.exists()
    assert "removed 0 entries and 2 leftover pieces" in capsys.readouterr().out


def test_prune_keeps_an_entry_a_run_is_writing_or_reading(tiny_backbone, tmp_path, monkeypatch, capsys):
    """`hybrid-cache prune --all` between a run writing an entry and reading it back removed it
    under the run, which then stopped: "missing or unreadable right after it was written"."""
    import hybrid.cache
    from hybrid.cache_cli import main

    task, split = puzzles()
    save = hybrid.cache._save_entry

    def pruned_meanwhile(*args):
        save(*args)
        main(["--data-dir", str(tmp_path), "prune", "--all"])  # what another terminal runs meanwhile

    monkeypatch.setattr(hybrid.cache, "_save_entry", pruned_meanwhile)
    states = embed_split(backbone_at(tiny_backbone("bert")), split, task.num_slots, tmp_path, "test")
    assert len(states) == len(split)
    assert "a run is embedding or reading it" in capsys.readouterr().out


def test_where_no_lock_can_be_taken_prune_keeps_pieces_younger_than_an_hour(tmp_path, capsys, monkeypatch):
    """A read-only lock folder or a filesystem without locks cannot say whether a run is writing a
    piece: one written within the hour may be, and stays; an older one is an interrupted write."""
    from hybrid import cache_cli

    folder = tmp_path / "embeddings"
    folder.mkdir()
    young, old = folder / "aaa.pt.tmp", folder / "bbb.part0"
    for piece, age in ((young, 60), (old, 7200)):
        piece.write_bytes(b"half")
        os.utime(piece, (0, time.time() - age))
    monkeypatch.setattr(cache_cli, "held_elsewhere", lambda lock: None)  # no lock can be taken here
    cache_cli.main(["--data-dir", str(tmp_path), "prune", "--all"])
    assert young.exists() and not old.exists()
    assert "removed 0 entries and 1 leftover piece," in capsys.readouterr().out


def test_prune_old_removes_entries_in_an_older_layout_only(tiny_backbone, tmp_path, capsys):
    from hybrid.cache_cli import main

    task, split = puzzles()
    backbone = backbone_at(tiny_backbone("bert"))
    embed_split(backbone, split, task.num_slots, tmp_path, "test")
    current = cache_path(backbone, split, tmp_path)
    folder = current.parent
    (folder / "padded.pt").write_bytes(b"an entry of format 1")
    (folder / "padded.json").write_text('{"split": "train", "puzzles": 6, "tokens": 91, "hidden": 32}')  # no format
    (folder / "undescribed.pt").write_bytes(b"an entry from before descriptions")
    main(["--data-dir", str(tmp_path), "list"])
    assert "2 entries (old)" in capsys.readouterr().out
    main(["--data-dir", str(tmp_path), "prune", "--old"])
    assert sorted(p.name for p in folder.iterdir()) == sorted([current.name, current.with_suffix(".json").name])


def beside_the_cache(data_dir):
    """Folders in data_dir beside the cache: (current ones, ones no run reads any more). Sizes in MiB:
    datasets/ 1.0, converted/ 2 x 2.0 (one per transformers major), tiny/ 0.5; no longer read: a
    conversion and a tiny backbone saved without the suffix (3.0, 0.5), an interrupted write (0.5)."""
    def folder(path, mib):
        path.mkdir(parents=True)
        (path / "model.safetensors").write_bytes(bytes(int(mib * 2**20)))
        return path

    smol = "SmolLM2-135M-Instruct.Q4_1-b179c9523d0e6a0f"  # a GGUF stem with a dot
    current = [folder(data_dir / "datasets" / "sudoku-1f6e9ecb89c6d795", 1),
               folder(data_dir / "converted" / f"{smol}-transformers5", 2),
               folder(data_dir / "converted" / f"{smol}-transformers4", 2),
               folder(data_dir / "tiny" / "gpt2-transformers5", 0.5)]
    orphaned = [folder(data_dir / "converted" / smol, 3), folder(data_dir / "tiny" / "gpt2", 0.5),
                folder(data_dir / "datasets" / "zebra-0c5e5c15ec221766.tmp", 0.5)]
    (data_dir / "tiny" / "locks").mkdir()  # tiny backbones' locks: no backbone, current or old
    (data_dir / "tiny" / "locks" / "gpt2-transformers5.lock").touch()
    return current, orphaned


def listing(main, data_dir, capsys, *command):
    main(["--data-dir", str(data_dir), *(command or ["list"])])
    return " ".join(capsys.readouterr().out.split())  # as one line, however rich wrapped it


def test_list_sums_up_the_rest_of_data_dir_and_names_the_folders_no_run_reads(tmp_path, capsys):
    from hybrid.cache_cli import main

    beside_the_cache(tmp_path)
    (tmp_path / "embeddings").mkdir()
    out = listing(main, tmp_path, capsys)
    assert "0 entries," in out  # the cache's table, then the rest
    for kept in ("datasets/ 1 folder, 1.0 MiB", "converted/ 2 folders, 4.0 MiB", "tiny/ 1 folder, 0.5 MiB"):
        assert kept in out
    assert "3 folders no run reads any more, 4.0 MiB; `hybrid-cache prune --old` removes them" in out
    assert "converted/SmolLM2-135M-Instruct.Q4_1-b179c9523d0e6a0f 3.0 MiB (an older layout)" in out
    assert "tiny/gpt2 0.5 MiB (an older layout)" in out and "tiny/locks" not in out
    assert "datasets/zebra-0c5e5c15ec221766.tmp 0.5 MiB (an interrupted write)" in out


def test_prune_old_removes_the_folders_no_run_reads_and_no_other(tmp_path, capsys):
    """Also where nothing was embedded: an old conversion takes its room all the same."""
    from hybrid.cache_cli import main

    current, orphaned = beside_the_cache(tmp_path)
    def data():  # looking at a .tmp folder's lock leaves its (empty, reused) lock file, as runs do
        return sorted(p for p in tmp_path.rglob("*") if "locks" not in p.parts)

    everything = data()
    out = listing(main, tmp_path, capsys, "prune", "--old", "--dry-run")
    assert data() == everything
    assert "would remove tiny/gpt2: 0.5 MiB, an older layout" in out and "would remove 3 folders no run reads, 4.0 MiB" in out
    main(["--data-dir", str(tmp_path), "prune", "--keep-gb", "0", "--unused-days", "0", "--all"])
    assert all(p.exists() for p in current + orphaned)  # only --old reaches beyond the cache
    out = listing(main, tmp_path, capsys, "prune", "--old")
    assert "removed 3 folders no run reads, 4.0 MiB" in out
    assert [p for p in current + orphaned if p.exists()] == current and (tmp_path / "tiny" / "locks").is_dir()
    assert "no run reads" not in listing(main, tmp_path, capsys)


def test_prune_old_keeps_a_folder_a_run_is_writing(tmp_path, capsys, held_by_another_process):
    """However old: the lock says whether a run is writing it (build_once holds it meanwhile)."""
    from hybrid.cache_cli import main
    from hybrid.lock import lock_file

    splits, tiny = tmp_path / "datasets" / "maze-b55fe5be9a2e9a0a.tmp", tmp_path / "tiny" / "t5-transformers5.tmp"
    for folder in (splits, tiny):
        folder.mkdir(parents=True)
        (folder / "half").write_bytes(b"half")
        os.utime(folder, (0, time.time() - 7200))
    # tiny_backbones.resolve keeps its locks in tiny/locks/, the others in data_dir/locks/
    with held_by_another_process(lock_file(tmp_path, splits.name.removesuffix(".tmp"))), \
            held_by_another_process(lock_file(tmp_path / "tiny", tiny.name.removesuffix(".tmp"))):
        assert "no run reads" not in listing(main, tmp_path, capsys)
        main(["--data-dir", str(tmp_path), "prune", "--old"])
        assert splits.exists() and tiny.exists()
    out = listing(main, tmp_path, capsys, "prune", "--old")  # the runs ended without finishing them
    assert not splits.exists() and not tiny.exists() and "removed 2 folders no run reads" in out


def test_an_entry_never_goes_in_place_without_its_description(tiny_backbone, tmp_path, monkeypatch, capsys):
    from hybrid.cache_cli import main

    task, split = puzzles()
    backbone = backbone_at(tiny_backbone("bert"))
    entry = cache_path(backbone, split, tmp_path)
    described, rename = [], Path.replace

    def watched(self, target):  # a run killed right after this rename must leave a described entry
        described.append(metadata_path(Path(target)).exists())
        return rename(self, target)

    with monkeypatch.context() as patch:
        patch.setattr(Path, "replace", watched)
        embed_split(backbone, split, task.num_slots, tmp_path, "test")
    assert described == [True]
    metadata_path(entry).unlink()  # as an older version killed between its two writes left it
    embed_split(backbone, split, task.num_slots, tmp_path, "test")  # a run reads it: a current entry
    assert json.loads(metadata_path(entry).read_text())["split"] == "test"  # described again
    for damaged in ('{"format": 2, "spl', "[]"):  # cut short or overwritten: listed '?' (old) as well
        metadata_path(entry).write_text(damaged)
        embed_split(backbone, split, task.num_slots, tmp_path, "test")
        assert json.loads(metadata_path(entry).read_text())["split"] == "test"
    main(["--data-dir", str(tmp_path), "prune", "--old"])
    assert entry.exists() and "removed 0 entries" in capsys.readouterr().out  # not taken for an older version's
    orphan = entry.with_name("killed.json")  # described, then killed before its entry's rename
    orphan.write_text("{}")
    os.utime(orphan, (0, time.time() - 7200))
    main(["--data-dir", str(tmp_path), "prune", "--old"])
    assert not orphan.exists() and entry.exists() and metadata_path(entry).exists()


@pytest.mark.parametrize("front_end, cut", [("bert", "80 tokens"), ("chars", "64 characters")])
def test_truncation_is_reported_once_per_split_with_its_totals(tiny_backbone, tmp_path, front_end, cut):
    from hybrid.backbone import load_backbone

    split = Dataset.from_list([{"question": "x" * 20, "slot_spans": [[0, 1]], "labels": [0]} for _ in range(8)])
    path = tiny_backbone("bert") if front_end == "bert" else "chars"
    backbone = load_backbone(load_config([f"backbone.path={path}", "backbone.max_length=12",
                                          "backbone.batch_size=2"]).backbone)  # 4 batches
    # 20 characters (+ [CLS] and [SEP] for BERT) cut at 12, in each of 8 texts
    expected = [f"train: backbone.max_length=12 truncated {cut} over 8 texts; raise it to keep them"]
    with pytest.warns(UserWarning) as seen:
        embed_split(backbone, split, 1, tmp_path, "train")
    assert [str(w.message) for w in seen if "truncated" in str(w.message)] == expected
    with pytest.warns(UserWarning) as seen:  # a later run reads the entry: the cut is said again
        embed_split(backbone, split, 1, tmp_path, "train")
    assert [str(w.message) for w in seen if "truncated" in str(w.message)] == [expected[0].replace("train:", "train (cached):")]
    if front_end == "bert":  # backbone.lora tokenizes a split for a model that runs the backbone itself
        with pytest.warns(UserWarning) as seen:
            token_split(backbone, split, 1, "train")
        assert [str(w.message) for w in seen] == expected


def test_the_shards_processes_embed_join_into_the_whole_splits_entry_truncation_totals_included():
    """Several processes each embed a shard; the entry the main process joins from them is the one
    a single process writes, down to the truncation totals a later run reads back and says again
    (a run of two processes would say the first shard's cut, half the split's)."""
    from hybrid.backbone import load_backbone
    from hybrid.cache import _joined

    split = Dataset.from_list([{"question": "x" * (10 + 2 * i), "slot_spans": [[0, 1]], "labels": [0]}
                               for i in range(7)])  # 10 to 22 characters, cut at 12 in 5 of them
    backbone = load_backbone(load_config(["backbone.path=chars", "backbone.max_length=12"]).backbone)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # each embedding's own truncation warning
        whole = embed(backbone, split, "test", show_progress=False)
        joined = _joined([embed(backbone, split.select(rows), "shard", show_progress=False)
                          for rows in (range(0, 3), range(3, 7))])
    assert whole["cut"][1] == 5 and joined.keys() == whole.keys()
    assert all(torch.equal(joined[k], whole[k]) for k in whole)


@pytest.mark.parametrize("front_end", ["bert", "chars"])
def test_puzzles_whose_answer_slots_truncation_cut_off_are_counted(tiny_backbone, tmp_path, front_end):
    """A slot past the cut overlaps no kept token, so span pooling gives it no state: the warning
    said only how many tokens were cut, and such puzzles trained and scored on slots they cannot see."""
    from hybrid.backbone import load_backbone

    # 8 texts of 20 characters cut at 12 tokens; in 3 the second slot sits at the end, past the cut
    split = Dataset.from_list([{"question": "x" * 20, "slot_spans": [[0, 1], [18 if i < 3 else 2, 19 if i < 3 else 3]],
                                "labels": [0, 0]} for i in range(8)])
    path = tiny_backbone("bert") if front_end == "bert" else "chars"
    backbone = load_backbone(load_config([f"backbone.path={path}", "backbone.max_length=12",
                                          "backbone.batch_size=2"]).backbone)
    said = "In 3 of these puzzles answer slots fell past the cut: those slots get no tokens"
    with pytest.warns(UserWarning, match=said):
        states = embed_split(backbone, split, 2, tmp_path, "train")
    assert [int((states[i][2] == 1).sum()) for i in range(8)] == [0] * 3 + [1] * 5  # no token of the cut slot
    with pytest.warns(UserWarning, match=said):  # read from the cache: said again
        embed_split(backbone, split, 2, tmp_path, "train")
    if front_end == "bert":
        with pytest.warns(UserWarning, match=said):
            token_split(backbone, split, 2, "train")


@pytest.mark.parametrize("front_end", ["bert", "chars"])
def test_without_the_cache_truncation_is_said_once_with_the_splits_totals(tiny_backbone, tmp_path, front_end):
    """backbone.cache=false warned batch by batch: each warning told one batch's cut, and Python
    shows a repeated message once (with texts of one length, only the first batch's was seen)."""
    from hybrid.backbone import load_backbone

    split = Dataset.from_list([{"question": "x" * (10 + i), "slot_spans": [[0, 1], [9 + i, 10 + i]], "labels": [0, 0]}
                               for i in range(16)])
    path = tiny_backbone("bert") if front_end == "bert" else "chars"
    backbone = load_backbone(load_config([f"backbone.path={path}", "backbone.max_length=12",
                                          "backbone.batch_size=4"]).backbone)
    with pytest.warns(UserWarning) as cached:
        embed_split(backbone, split, 2, tmp_path, "train")
    with pytest.warns(UserWarning) as seen:
        live = LiveStates(backbone, split, 2, "train")
        for _ in range(2):  # two epochs
            for _ in torch.utils.data.DataLoader(live, batch_size=4, shuffle=True):
                pass
    said = [str(w.message) for w in seen if "truncated" in str(w.message)]
    assert said == [str(w.message) for w in cached if "truncated" in str(w.message)]  # what the cache says
    assert len(said) == 1 and "answer slots fell past the cut" in said[0]


def test_keep_gb_never_keeps_an_older_entry_in_place_of_a_newer_one():
    from hybrid.cache_cli import Entry, choose

    found = [Entry(Path(f"{name}.pt"), size, last_used, None)  # most recently used first
             for name, size, last_used in [("new", 1, 30.0), ("big", 5, 20.0), ("old", 1, 10.0)]]
    assert [e.path.stem for e in choose(found, 3, None, False, now=40.0)] == ["big", "old"]  # "old" would fit, yet goes
    assert [e.path.stem for e in choose(found, None, 15.0, False, now=40.0)] == ["big", "old"]  # unused for over 15 s
    assert [e.path.stem for e in choose(found, 100, None, False, now=40.0)] == []


def embed_in_each_process(backbone_path, cache_dir, timeout=None):
    """Run by `accelerate launch` below: every process embeds its shard of the same 7 puzzles.
    With `timeout`, the distributed timeout in seconds: each process says it has arrived first."""
    from datetime import timedelta

    from accelerate import Accelerator, InitProcessGroupKwargs

    import hybrid.lock
    from hybrid.launch import finish

    limits = [InitProcessGroupKwargs(timeout=timedelta(seconds=float(timeout)))] if timeout else []
    accelerator = Accelerator(cpu=True, kwargs_handlers=limits)
    if timeout:
        hybrid.lock.POLL_SECONDS = 0.2
        (Path(cache_dir) / f"arrived{accelerator.process_index}").touch()
    task, split = puzzles(n=7)
    dataset = embed_split(backbone_at(backbone_path), split, task.num_slots, cache_dir, "test", accelerator)
    assert accelerator.num_processes == 2 and len(dataset) == 7
    finish(accelerator)  # as train() ends: exiting with gloo's threads running can abort the process


def test_processes_embed_shards_and_the_main_process_writes_the_entry(tiny_backbone, tmp_path, launch):
    path = tiny_backbone("llama")
    launch(__file__, path, tmp_path / "parallel")
    task, split = puzzles(n=7)
    backbone = backbone_at(path)
    entry = cache_path(backbone, split, tmp_path / "parallel")
    assert entry.exists() and not list(entry.parent.glob("*.part*"))  # shards joined and removed
    joined = torch.load(entry)
    embed_split(backbone, split, task.num_slots, tmp_path / "single", "test")
    single = torch.load(cache_path(backbone, split, tmp_path / "single"))
    assert torch.allclose(joined["states"].float(), single["states"].float(), atol=1e-3)
    assert all(torch.equal(joined[k], single[k]) for k in ("token_slot", "lengths"))


def test_a_run_of_several_processes_waits_for_another_run_longer_than_the_distributed_timeout(
        tiny_backbone, tmp_path, held_by_another_process, launch):
    """Another run holds the entry's lock: the processes of this one wait together, in steps shorter
    than the distributed timeout (the others waited in one collective and timed out)."""
    from hybrid.lock import lock_file

    path, cache_dir = tiny_backbone("bert"), tmp_path / "cache"
    cache_dir.mkdir()
    entry = cache_path(backbone_at(path), puzzles(n=7)[1], cache_dir)
    both_waiting = (f"while len(list(Path({str(cache_dir)!r}).glob('arrived*'))) < 2:\n    time.sleep(0.1)\n"
                    "time.sleep(4)")  # then twice the timeout, and it lets go
    with held_by_another_process(lock_file(cache_dir, entry.stem), then=both_waiting):
        launch(__file__, path, cache_dir, 2)
    assert entry.exists()


@pytest.mark.parametrize("cache", ["true", "false"])
def test_training_runs_with_and_without_the_cache(small_config, cache):
    from hybrid.train import train

    config = small_config(f"backbone.cache={cache}", "train.steps=2", "train.checkpoint_every=0")
    metrics = train(config)
    assert metrics["batches"] == 2 and 0 < metrics["data_seconds"] < metrics["train_seconds"]
    entries = list((Path(config.train.data_dir) / "embeddings").glob("*.pt"))
    assert bool(entries) == (cache == "true")  # backbone.cache=false writes nothing


if __name__ == "__main__":
    embed_in_each_process(*sys.argv[1:])


def test_prune_arguments_are_checked_and_a_missing_data_dir_is_an_error(tmp_path, capsys):
    from hybrid.cache_cli import main

    (tmp_path / "data").mkdir()  # a data_dir where nothing was embedded yet
    with pytest.raises(SystemExit):  # no criterion: an error even where there is nothing to prune
        main(["--data-dir", str(tmp_path / "data"), "prune"])
    with pytest.raises(SystemExit):
        main(["--data-dir", str(tmp_path / "data"), "prune", "--keep-gb", "-1"])
    for option, value in (("--keep-gb", "nan"), ("--keep-gb", "inf"), ("--unused-days", "nan")):
        with pytest.raises(SystemExit):  # float() reads them; int() of the bytes failed once entries existed
            main(["--data-dir", str(tmp_path / "data"), "prune", option, value])
        assert "take a finite number >= 0" in capsys.readouterr().err
    main(["--data-dir", str(tmp_path / "data"), "prune", "--all"])  # valid: nothing to do
    assert "no embedding cache" in capsys.readouterr().out
    with pytest.raises(SystemExit):  # a --data-dir that does not exist is a typo, not an empty cache
        main(["--data-dir", str(tmp_path / "typo"), "list"])
    assert "no such folder" in capsys.readouterr().err
    (tmp_path / "data.txt").write_text("")  # a file: not said to be missing
    with pytest.raises(SystemExit):
        main(["--data-dir", str(tmp_path / "data.txt"), "list"])
    assert "data.txt: a file, not a folder" in capsys.readouterr().err


def test_the_default_data_dir_missing_is_an_empty_cache(tmp_path, monkeypatch, capsys):
    """On a machine where nothing has run yet the default data_dir does not exist: `list` and
    `prune` say there is nothing, not that the folder is a typo (named or left as the default)."""
    from hybrid.cache_cli import main
    from hybrid.config import TrainConfig

    default = tmp_path / "never-made"
    monkeypatch.setattr(TrainConfig, "data_dir", str(default))  # what the CLI reads as its default
    for argv in (["list"], ["prune", "--all"], ["--data-dir", str(default), "list"]):
        main(argv)
        assert "no embedding cache" in capsys.readouterr().out, argv
    assert not default.exists()  # looking creates nothing


def test_answer_spans_tokenizer_sides_and_the_layout_are_part_of_the_key(tiny_backbone, tmp_path, monkeypatch):
    """The entry stores which token covers which slot, and where truncation or padding cut: the
    same texts with other spans, another truncation or padding side, quantized weights or another
    stored layout must not read the old entry."""
    import hybrid.cache

    task, split = puzzles()
    path = tiny_backbone("bert")
    base = cache_path(backbone_at(path), split, tmp_path)
    shifted = [[[a + 1, b] for a, b in spans] for spans in split["slot_spans"]]
    other_spans = split.remove_columns("slot_spans").add_column("slot_spans", shifted)
    assert cache_path(backbone_at(path), other_spans, tmp_path) != base
    for side in ("truncation_side", "padding_side"):
        backbone = backbone_at(path)
        setattr(backbone.tokenizer, side, "left" if getattr(backbone.tokenizer, side) == "right" else "right")
        assert cache_path(backbone, split, tmp_path) != base, side
    quantized = backbone_at(path)
    quantized.config.quantization = "8bit"  # loading 8-bit weights needs a GPU: the setting alone here
    assert cache_path(quantized, split, tmp_path) != base
    monkeypatch.setattr(hybrid.cache, "FORMAT", hybrid.cache.FORMAT + 1)
    assert cache_path(backbone_at(path), split, tmp_path) != base


def test_a_token_belongs_to_the_slot_whose_text_it_overlaps():
    from hybrid.cache import token_slots

    spans = [(0, 3), (5, 8), (8, 9)]  # slot texts "abc", "fgh", "i" of "abc, fghi  "
    offsets = torch.tensor([[0, 0], [0, 1], [1, 3], [3, 5], [5, 8], [8, 9], [9, 11], [0, 0]])  # [CLS] ... [SEP]
    assert token_slots(offsets, spans).tolist() == [-1, 0, 0, -1, 1, 2, -1, -1]
    assert token_slots(offsets, None).tolist() == [-1] * 8


def test_slots_whose_pieces_come_in_another_order_than_the_text_still_read_their_tokens():
    """A family whose answer reverses or permutes the question (slot 0 is the last digit typed):
    its spans are not in text order, and every slot read no token at all, silently."""
    from hybrid.cache import token_slots

    offsets = torch.tensor([[0, 0], [0, 1], [1, 3], [3, 5], [5, 8], [8, 9], [9, 11], [0, 0]])
    spans = [(8, 9), (5, 8), (0, 3)]  # slot 0 is the text's last piece, slot 2 its first
    assert token_slots(offsets, spans).tolist() == [-1, 2, 2, -1, 1, 0, -1, -1]


def test_runs_started_together_embed_an_entry_once(tiny_backbone, tmp_path, monkeypatch):
    """A sweep started at once on one train.data_dir: the first run writes the entry, the others
    wait and read it (writing together, they wrote into one temporary file: one run's rename
    failed, another read a half-written entry)."""
    import threading

    import hybrid.cache

    task, split = puzzles()
    real, calls, embedding = hybrid.cache.embed, [], threading.Event()

    def slow(*args, **kwargs):
        calls.append(1)
        embedding.set()
        time.sleep(1)  # the second run arrives meanwhile
        return real(*args, **kwargs)

    monkeypatch.setattr(hybrid.cache, "embed", slow)
    found = {}
    first = threading.Thread(target=lambda: found.update(
        first=embed_split(backbone_at(tiny_backbone("bert")), split, task.num_slots, tmp_path, "test")))
    first.start()
    assert embedding.wait(60)
    found["second"] = embed_split(backbone_at(tiny_backbone("bert")), split, task.num_slots, tmp_path, "test")
    first.join()
    assert len(calls) == 1
    assert all(torch.equal(a, b) for a, b in zip(found["first"][:], found["second"][:]))


def test_an_entry_pruned_while_a_run_opens_it_is_embedded_again_quietly(tiny_backbone, tmp_path, monkeypatch, recwarn):
    task, split = puzzles()
    backbone = backbone_at(tiny_backbone("bert"))
    first = [t.clone() for t in embed_split(backbone, split, task.num_slots, tmp_path, "test")[:]]
    entry, load, pruned = cache_path(backbone, split, tmp_path), torch.load, []

    def pruned_first(path, *args, **kwargs):  # `hybrid-cache prune` removes it between exists() and load
        if Path(path) == entry and not pruned:
            pruned.append(entry.unlink())
        return load(path, *args, **kwargs)

    monkeypatch.setattr(torch, "load", pruned_first)
    again = embed_split(backbone, split, task.num_slots, tmp_path, "test")
    assert all(torch.equal(a, b) for a, b in zip(first, again[:]))
    assert not [w for w in recwarn if "unreadable" in str(w.message)]  # it was removed, not damaged


def test_a_folder_that_changes_while_it_is_measured_counts_what_is_left(tmp_path, monkeypatch):
    """`hybrid-cache list` measures data_dir's folders while runs write them: a file renamed or
    removed between being found and being measured (a .tmp folder moving into place) raised
    FileNotFoundError in 3 of 83 listings beside a run; it counts as nothing now."""
    from hybrid import cache_cli

    folder = tmp_path / "datasets" / "sorting-0001.tmp"
    folder.mkdir(parents=True)
    (folder / "kept").write_bytes(b"x" * 10)
    found = [folder / "kept", folder / "gone"]  # "gone" was listed, then moved away before its stat
    monkeypatch.setattr(type(folder), "rglob", lambda self, pattern: iter(found))
    monkeypatch.setattr(type(folder), "is_file", lambda self: self in found)  # both were files when listed
    assert cache_cli.folder_size(folder) == 10
    monkeypatch.undo()
    assert cache_cli.folder_size(tmp_path / "no-such-folder") == 0


@pytest.mark.parametrize("front_end", ["bert", "gpt2", "chars"])
def test_without_the_cache_each_batch_runs_the_backbone_on_ids_tokenized_once(tiny_backbone, front_end):
    """backbone.cache=false tokenized the whole split to count truncation, then each batch again;
    the split's ids are now kept, and a batch cut to its longest text gives the states, mask and
    token slots the backbone gives for those texts alone."""
    from hybrid.backbone import load_backbone
    from torch.utils.data import default_collate

    from hybrid.cache import batch_token_slots

    split = Dataset.from_list([{"question": "x y " * (3 + i % 5), "slot_spans": [[0, 1], [2, 3]], "labels": [0, 1]}
                               for i in range(10)])
    path = tiny_backbone(front_end) if front_end != "chars" else "chars"
    backbone = load_backbone(load_config([f"backbone.path={path}"]).backbone)
    live = LiveStates(backbone, split, 2, "train")
    tokenize = backbone.tokenize
    backbone.tokenize = lambda texts: pytest.fail("a batch was tokenized again")
    for indices in ([0, 1], [7, 2, 5], [3]):
        states, mask, token_slot, labels, index = default_collate(live.__getitems__(indices))
        rows = split[indices]
        batch = tokenize(rows["question"])
        expected = backbone.states(batch["input_ids"], batch["attention_mask"])
        assert torch.equal(mask, batch["attention_mask"].bool()) and torch.allclose(states, expected, atol=1e-6)
        assert torch.equal(token_slot, torch.stack(batch_token_slots(batch["offset_mapping"], rows["slot_spans"])))
        assert index.tolist() == indices and labels.tolist() == rows["labels"]


def test_a_file_where_the_cache_folder_goes_is_a_config_error_before_embedding(tiny_backbone, tmp_path):
    """data_dir/embeddings being a file: the split was embedded, then writing it failed with a
    traceback that blamed the disk ("folder not writable ... Free space with hybrid-cache prune")."""
    from hybrid.config import ConfigError

    task, split = puzzles()
    backbone = backbone_at(tiny_backbone("bert"))
    backbone.forward = lambda texts: pytest.fail("embedded before the check")
    (tmp_path / "embeddings").write_text("notes")
    with pytest.raises(ConfigError, match=rf"{tmp_path / 'embeddings'} is a file, not a folder"):
        embed_split(backbone, split, task.num_slots, tmp_path, "test")
    assert (tmp_path / "embeddings").read_text() == "notes"


def test_a_folder_where_an_entry_goes_is_left_alone_and_named(tiny_backbone, tmp_path, capsys):
    """A folder at an entry's path was warned about as unreadable ("removing it"), then the split
    was embedded and writing it failed with IsADirectoryError. The cache did not make the folder,
    so it neither embeds nor deletes: it names it. `hybrid-cache list` names an embeddings file."""
    from hybrid.cache_cli import main
    from hybrid.config import ConfigError

    task, split = puzzles()
    backbone = backbone_at(tiny_backbone("bert"))
    entry = cache_path(backbone, split, tmp_path)
    (entry / "mine").mkdir(parents=True)
    (entry / "mine" / "notes.txt").write_text("kept")
    backbone.forward = lambda texts: pytest.fail("embedded before the check")
    with pytest.raises(ConfigError, match=rf"{entry} is a folder where test's embedding cache entry .*move it away"):
        embed_split(backbone, split, task.num_slots, tmp_path, "test")
    assert (entry / "mine" / "notes.txt").read_text() == "kept"

    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "embeddings").write_text("notes")
    main(["--data-dir", str(tmp_path / "other"), "list"])
    out = capsys.readouterr().out
    assert "embeddings is a file, not the embedding cache's folder" in " ".join(out.split())


def peak_rss_since_reset() -> tuple[int, int]:
    """(resident bytes now, the peak since "5" was written to /proc/self/clear_refs), as Linux keeps them."""
    status = dict(line.split(":", 1) for line in Path("/proc/self/status").read_text().splitlines())
    return int(status["VmRSS"].split()[0]) * 1024, int(status["VmHWM"].split()[0]) * 1024


def memory_to_embed(backbone_path: str) -> float:
    """The peak memory `embed` adds, over the bytes of the states it stores, for an entry of ~24 MB
    (the tiny backbone's tokens, with wide states)."""
    task, split = puzzles(n=100)
    backbone = backbone_at(backbone_path, "backbone.batch_size=8")
    real, hidden = backbone.forward, 1024

    def wide(texts):
        out = real(texts)
        return Encoded(torch.randn(*out.mask.shape, hidden), out.mask, out.offsets)

    backbone.forward = wide
    embed(backbone, split.select(range(8)), "warm-up", show_progress=False)  # what a first call loads, once
    Path("/proc/self/clear_refs").write_text("5")  # the peak starts again from what is resident now
    before, _ = peak_rss_since_reset()
    entry = embed(backbone, split, "test", show_progress=False)
    _, peak = peak_rss_since_reset()
    stored = entry["states"].nbytes
    assert entry["states"].shape == (int(entry["lengths"].sum()), hidden) and stored > 20 * 2**20
    return (peak - before) / stored


@pytest.mark.skipif(not Path("/proc/self/clear_refs").exists(), reason="reads the peak resident size Linux keeps")
def test_embedding_a_split_holds_its_states_about_once(tiny_backbone):
    """It held them three times over: every padded batch, then each puzzle's copy, then their
    concatenation (~13 GB of memory for the 4.2 GB of a 60,000-puzzle 6x6 Sudoku split on MiniLM).
    Measured in a process of its own whose allocator hands freed tensors back to the system at
    once (glibc otherwise keeps 0.5-1x the states of freed batches here, and the test's own past)."""
    script = (f"import sys; sys.path.insert(0, {str(Path(__file__).parent)!r}); "
              f"from test_cache import memory_to_embed; print(memory_to_embed({str(tiny_backbone('bert'))!r}))")
    freed_at_once = {"MALLOC_MMAP_THRESHOLD_": "65536", "OMP_NUM_THREADS": "1"}
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300,
                          cwd=Path(__file__).parent.parent, env=os.environ | freed_at_once)
    assert proc.returncode == 0, proc.stderr
    held = float(proc.stdout.split()[-1])
    # 1.2x: the states and a batch in hand; it was 3x
    assert held < 2, f"embedding held {held:.1f}x the states it stores"


def test_embed_gives_each_puzzle_its_own_tokens_in_split_order_however_batched_or_padded(tiny_backbone, tmp_path):
    """`embed` writes each batch's real tokens to a scratch file in embedding order (longest text
    first) and puts them back in split order. Against each puzzle embedded alone, for texts of
    random lengths (all alike, too), splits of 0, 1 and more puzzles, any batch size, either
    padding side (GPT-2's and Llama's tokenizers are saved padding left), states wider than
    `backbone.hidden_size`, and an out-of-memory retry that strikes mid-split."""
    import warnings
    import zlib

    from hybrid.cache import token_slots

    rng = random.Random(0)
    backbone = backbone_at(tiny_backbone("bert"))
    real = backbone.forward

    def own_states(text: str, n: int, hidden: int) -> torch.Tensor:  # a puzzle's states whatever its batch
        return torch.randn(n, hidden, generator=torch.Generator().manual_seed(zlib.crc32(text.encode()))).half()

    seen = set()  # the cases the trials must cover
    for trial in range(30):
        n = rng.choice([0, 1, 1, 2, 3, 7, 12])
        same_length = rng.random() < 0.25
        words = [rng.randint(1, 3) if same_length else rng.randint(1, 12) for _ in range(n)]
        texts = [" ".join(str(rng.randint(0, 9)) * (1 if same_length else rng.randint(1, 2)) for _ in range(w))
                 for w in words]
        spans = [[(0, 1), (len(t) - 1, len(t))] if rng.random() < 0.7 else [] for t in texts]
        split = Dataset.from_dict({"question": texts, "slot_spans": spans})
        hidden = rng.choice([backbone.hidden_size, 5])
        backbone.tokenizer.padding_side = side = rng.choice(["left", "right"])
        backbone.config.batch_size = rng.randint(1, n + 2)
        oom_at = rng.choice([None, 2])
        calls = [0]

        def encoded(batch_texts):
            calls[0] += 1
            if calls[0] == oom_at and backbone.config.batch_size > 1:
                seen.add("retried")
                raise RuntimeError("CUDA out of memory. Tried to allocate 1 GiB")  # what Accelerate retries on
            out = real(batch_texts)
            seen.add(f"padded {side}" * bool(not out.mask[:, 0 if side == "left" else -1].all()))
            states = torch.full((*out.mask.shape, hidden), 7.0)  # padding: never a puzzle's
            for b, text in enumerate(batch_texts):
                kept = out.mask[b].bool()
                states[b, kept] = own_states(text, int(kept.sum()), hidden).float()
            return Encoded(states, out.mask, out.offsets)

        backbone.forward = encoded
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the retry's lowered batch size
            entry = embed(backbone, split, "test", show_progress=False, scratch_dir=tmp_path)
        backbone.forward = real
        about = f"trial {trial}: {n} puzzles, batch_size {backbone.config.batch_size}, {side} padding, OOM at {oom_at}"
        expected_states, expected_slots, expected_lengths = [], [], []
        for text, text_spans in zip(texts, spans):
            alone = real([text])
            kept = alone.mask[0].bool()
            expected_states.append(own_states(text, int(kept.sum()), hidden))
            expected_slots.append(token_slots(alone.offsets[0], text_spans)[kept])
            expected_lengths.append(int(kept.sum()))
        assert entry["lengths"].tolist() == expected_lengths, about
        if n:
            assert torch.equal(entry["states"], torch.cat(expected_states)), about
            assert torch.equal(entry["token_slot"], torch.cat(expected_slots)), about
        assert entry["states"].shape[0] == entry["token_slot"].shape[0] == sum(expected_lengths), about
        assert entry["states"].dtype == torch.float16 and entry["token_slot"].dtype == torch.int16, about
    assert seen >= {"retried", "padded left", "padded right"}
    assert not any(tmp_path.iterdir())  # the scratch files are gone


def test_running_out_of_memory_while_keeping_a_batchs_tokens_lowers_the_batch_size(tiny_backbone, tmp_path):
    """Picking a batch's real tokens out of its padded states allocates them: out of memory there is
    Accelerate's cue to embed fewer texts at a time, not a failed write to a full disk."""
    task, split = puzzles()
    backbone = backbone_at(tiny_backbone("bert"))
    real = backbone.forward

    class Tight(torch.Tensor):  # states whose real tokens fit in memory one text at a time
        @classmethod
        def __torch_function__(cls, func, types, args=(), kwargs=None):
            if func is torch.Tensor.__getitem__ and len(args[0]) > 1 and isinstance(args[1], torch.Tensor):
                raise RuntimeError("DefaultCPUAllocator: can't allocate memory: you tried to allocate 1 bytes")
            return super().__torch_function__(func, types, args, kwargs or {})

    def tight(texts):
        out = real(texts)
        return Encoded(out.states.as_subclass(Tight), out.mask, out.offsets)

    backbone.forward = tight
    with pytest.warns(UserWarning, match="backbone.batch_size=4 ran out of memory; embedded 1 texts at a time"):
        entry = embed(backbone, split, "test", show_progress=False, scratch_dir=tmp_path)
    backbone.forward = real
    assert torch.equal(entry["lengths"], embed(backbone, split, "test", show_progress=False)["lengths"])


def test_a_split_whose_states_do_not_fit_in_memory_says_so_without_embedding_it_again(tiny_backbone, tmp_path,
                                                                                        monkeypatch):
    """Out of memory while putting the states in split order is the whole split's: a smaller batch
    cannot help, so it is not Accelerate's to retry (which embedded the split again at every halved
    batch size, down to one, and then said "No executable batch size found")."""
    task, split = puzzles(n=7)
    backbone = backbone_at(tiny_backbone("bert"), "backbone.batch_size=4")
    calls, real = [], backbone.forward

    def counted(texts):
        calls.append(len(texts))
        return real(texts)

    def no_room(scratch, rows, lengths, slots, hidden):
        raise RuntimeError("DefaultCPUAllocator: can't allocate memory: you tried to allocate 1 bytes")

    backbone.forward = counted
    monkeypatch.setattr(cache, "_in_split_order", no_room)
    needed = r"(?s)test: its backbone states \([\d,]+ tokens x \d+ in fp16, [\d.]+ GiB\) do not fit"
    with pytest.raises(MemoryError, match=needed + ".*backbone.cache=false"):
        embed(backbone, split, "test", show_progress=False, scratch_dir=tmp_path)
    assert calls == [4, 3]  # each puzzle embedded once
    assert not any(tmp_path.iterdir())  # the scratch file is gone


def test_the_scratch_file_is_closed_when_the_smaller_batch_warning_is_an_error(tiny_backbone, tmp_path, monkeypatch):
    """Under `python -W error` the warning that a smaller batch was used raises: the scratch file
    holding the split's states (as large as they are) must be closed then too, not left open for as
    long as the error's traceback lives."""
    task, split = puzzles()
    backbone = backbone_at(tiny_backbone("bert"))
    real, opened, failed = backbone.forward, [], []

    def out_of_memory_once(texts):
        if not failed:
            failed.append(len(texts))
            raise RuntimeError("DefaultCPUAllocator: can't allocate memory: you tried to allocate 1 bytes")
        return real(texts)

    def recorded(*args, **kwargs):
        opened.append(real_temporary_file(*args, **kwargs))
        return opened[-1]

    real_temporary_file = cache.tempfile.TemporaryFile
    monkeypatch.setattr(cache.tempfile, "TemporaryFile", recorded)
    backbone.forward = out_of_memory_once
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(UserWarning, match="ran out of memory"):
            embed(backbone, split, "test", show_progress=False, scratch_dir=tmp_path)
        assert opened and all(f.closed for f in opened)


def test_list_and_prune_pass_over_what_is_no_entry_file_or_went_while_they_looked(tmp_path, capsys):
    """An entry removed between being found and being measured (by another prune, or by a run that
    found it damaged: `list` beside such churn failed in 108 of 2,000 tries), a folder named like an
    entry (training refuses it and leaves it: it did not make it) and a folder named like a piece
    of an interrupted write: `list` and `prune` went on with a traceback; they pass over them now."""
    from hybrid.cache_cli import main

    folder = tmp_path / "embeddings"
    folder.mkdir()
    (folder / "aaa.pt").write_bytes(b"s" * 1000)  # a real entry, written before entries were described
    (folder / "bbb.pt").symlink_to(folder / "gone.pt")  # listed by glob, gone by its stat
    (folder / "ccc.pt").mkdir()
    (folder / "ddd.pt.tmp").mkdir()
    main(["--data-dir", str(tmp_path), "list"])
    out = capsys.readouterr().out
    assert "1 entry," in out and "leftover" not in out
    main(["--data-dir", str(tmp_path), "prune", "--all"])
    assert "removed 1 entry and 0 leftover pieces" in capsys.readouterr().out
    assert not (folder / "aaa.pt").exists() and (folder / "ccc.pt").is_dir() and (folder / "ddd.pt.tmp").is_dir()


def test_the_listing_rounds_ages_down_as_prune_unused_days_counts_them():
    """An entry unused for 13.6 days was listed "14 d ago", and `prune --unused-days 14` kept it."""
    from hybrid.cache_cli import age

    assert [age(13.6 * 86400), age(1.99 * 3600), age(59.6 * 60), age(59)] == ["13 d ago", "1 h ago", "59 min ago",
                                                                               "just now"]


@pytest.mark.parametrize("argv", [["--data-dir", "", "prune", "--all"], ["prune", "--all", "--data-dir", ""]])
def test_an_empty_data_dir_is_an_error_not_the_folder_here(argv, tmp_path, monkeypatch, capsys):
    """`hybrid-cache --data-dir "$DIR" prune --all` with DIR unset pruned the cache under the folder here."""
    from hybrid.cache_cli import main

    monkeypatch.chdir(tmp_path)
    (tmp_path / "embeddings").mkdir()
    (tmp_path / "embeddings" / "abc.pt").write_bytes(b"states")
    with pytest.raises(SystemExit):
        main(argv)
    assert "argument --data-dir: is empty" in capsys.readouterr().err and (tmp_path / "embeddings" / "abc.pt").exists()


def test_list_says_one_old_entry_and_one_leftover_piece_in_the_singular(tmp_path, capsys):
    """The listing's own lines for the old layout and leftovers: '1 entries (old) are', '1 leftover pieces'."""
    from hybrid.cache_cli import main

    folder = tmp_path / "embeddings"
    folder.mkdir()
    (folder / "padded.pt").write_bytes(b"an entry of format 1")
    (folder / "padded.json").write_text('{"split": "train", "puzzles": 6, "tokens": 91, "hidden": 32}')  # no format
    (folder / "aaa.pt.tmp").write_bytes(b"half")  # no run writes entry aaa: a leftover
    main(["--data-dir", str(tmp_path), "list"])
    out = " ".join(capsys.readouterr().out.split())
    assert "1 entry (old) is in an older layout" in out and "1 leftover piece of interrupted writes" in out
    (folder / "old.pt").write_bytes(b"an entry from before descriptions")
    (folder / "bbb.part1").write_bytes(b"half")
    main(["--data-dir", str(tmp_path), "list"])
    out = " ".join(capsys.readouterr().out.split())
    assert "2 entries (old) are in an older layout" in out and "2 leftover pieces of interrupted writes" in out


def test_a_piece_gone_since_it_was_found_is_measured_as_nothing_and_left_alone(tmp_path, monkeypatch):
    """Another prune may remove a leftover between this one finding it and measuring or removing it:
    its size is 0 (it was a traceback) and, where no lock can be taken, it is not counted as removed."""
    from hybrid import cache_cli

    gone = tmp_path / "embeddings" / "aaa.pt.tmp"
    assert cache_cli.piece_size(gone) == 0
    monkeypatch.setattr(cache_cli, "held_elsewhere", lambda lock: None)  # no lock can be taken here
    assert cache_cli.being_written(gone, time.time()) is True
