import hashlib
import json
import os
import random
from pathlib import Path

import pytest

from eval.tasks import TASK_CONFIGS, make_task
from hybrid.config import ConfigError, load_config
from hybrid.data import GENERATION, build_splits, examples, generate_splits, split_wordings


def test_saved_splits_are_reused_until_the_generator_version_changes(tmp_path):
    config = load_config(["task.size=4", "task.train_size=8", "task.test_size=4"]).task
    task = make_task(config)
    first = build_splits(task, config, seed=0, data_dir=tmp_path)
    assert build_splits(task, config, seed=0, data_dir=tmp_path)["train"]["question"] == first["train"]["question"]
    assert len(list((tmp_path / "datasets").iterdir())) == 1

    task.version += 1  # a changed renderer or slot encoding: the old puzzles must not be reused
    build_splits(task, config, seed=0, data_dir=tmp_path)
    assert len(list((tmp_path / "datasets").iterdir())) == 2


def test_saving_the_splits_draws_no_progress_bars_and_leaves_them_as_they_were(tmp_path, capfd):
    """datasets drew "Saving the dataset (1/1 shards)" twice per split, for a save that takes a
    fraction of a second: eight lines of the default job's console. A caller's setting stays."""
    import datasets

    config = load_config(["task.size=4", "task.train_size=8", "task.test_size=4"]).task
    assert not datasets.are_progress_bars_disabled()
    build_splits(make_task(config), config, seed=0, data_dir=tmp_path)
    assert "Saving the dataset" not in capfd.readouterr().err
    assert not datasets.are_progress_bars_disabled()
    datasets.disable_progress_bars()
    try:
        build_splits(make_task(config), config, seed=1, data_dir=tmp_path)
        assert datasets.are_progress_bars_disabled()
    finally:
        datasets.enable_progress_bars()


def test_splits_are_saved_under_the_home_folder_that_a_data_dir_of_tilde_names(tmp_path, monkeypatch):
    """train.data_dir is kept as "~/..." (its default is ~/.cache/hybrid-trm): the splits go under
    the home folder, not a folder named "~" in the working directory."""
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)
    config = load_config(["task.size=4", "task.train_size=8", "task.test_size=4"]).task
    made = build_splits(make_task(config), config, seed=0, data_dir="~/cache")
    assert made.folder.parent == tmp_path / "home" / "cache" / "datasets" and made.folder.is_dir()
    assert not (tmp_path / "~").exists()


def test_a_puzzle_reads_the_same_key_in_every_wording_and_another_puzzle_does_not():
    for name, knobs in [("sudoku", {"size": 4}), ("maze", {"size": 5}), ("sorting", {}), ("zebra", {"attributes": 1})]:
        task = make_task(TASK_CONFIGS[name](**knobs))
        keys = []
        for seed in range(4):
            same = {task.puzzle_key(task.generate(random.Random(seed), w)) for w in range(task.num_wordings)}
            assert len(same) == 1, (name, seed, same)  # the wording changes the text, not the puzzle
            keys += same
        assert len(set(keys)) == len(keys), name


def test_test_splits_hold_no_training_puzzle_in_other_words():
    # Small puzzle spaces and several wordings (and zebra's paraphrases within one): by text alone
    # 15 of 200 zebra and 1-2 of 200 sudoku test puzzles were training puzzles reworded.
    def puzzle(name, record):  # the puzzle itself, as this test reads it from the saved data
        data = json.loads(record["data"])
        return repr(data["puzzle"]) if name == "sudoku" else repr((data["values"], sorted(map(repr, data["clues"]))))

    for name, knobs, held_out in [("zebra", ["task.attributes=1"], "[3]"), ("sudoku", ["task.size=4"], "[2]")]:
        config = load_config([f"task={name}", *knobs, "task.train_size=1000", "task.test_size=200",
                              f"task.held_out_wordings={held_out}"]).task
        splits = generate_splits(make_task(config), config, seed=0)
        trained = {puzzle(name, r) for r in splits["train"]}
        for split in ("test", "test_heldout"):
            assert not [r for r in splits[split] if puzzle(name, r) in trained], (name, split)


def test_a_test_split_holds_each_puzzle_once():
    """Drawn with replacement, 13 of 1,000 4x4 Sudoku test puzzles were repeats, each counted twice
    in the accuracy. Here 128 puzzles (3 numbers of 0..3, either direction): 60 draws would repeat."""
    config = load_config(["task=sorting", "task.length=3", "task.low=0", "task.high=3", "task.train_size=20",
                          "task.test_size=60", "task.held_out_wordings=[1]"]).task
    task = make_task(config)
    splits = generate_splits(task, config, seed=0)
    trained = {task.puzzle_key(e) for e in examples(splits["train"])}
    for split in ("test", "test_heldout"):
        keys = [task.puzzle_key(e) for e in examples(splits[split])]
        assert len(set(keys)) == len(keys) == 60 and not trained & set(keys), split

    config.test_size = 128  # more than the puzzles left once the training ones are out
    with pytest.raises(ConfigError, match=r"^test: sorting keeps repeating training puzzles or its own \(\d+ of 128 "
                                          r".*, or make the puzzle space larger \(reasoning_gym: a larger task.size"):
        generate_splits(task, config, seed=0)


def test_a_wording_one_past_the_last_is_an_error():
    """Sudoku's wordings are 0..2: a 3 would be rendered as wording 0 (`wording % 3`), so a
    held-out wording 3 would test on a wording that training sees."""
    config = load_config(["task.held_out_wordings=[3]"]).task
    task = make_task(config)
    assert (task.name, task.num_wordings) == ("sudoku", 3)
    with pytest.raises(ConfigError, match=r"task.held_out_wordings=\[3\]: sudoku has wordings 0..2"):
        split_wordings(task, config)


@pytest.mark.parametrize("key", ["wordings", "held_out_wordings"])
def test_a_wording_named_twice_is_an_error_naming_the_key(key):
    """task.wordings=[0,0,1] drew wording 0 twice as often as 1, which no doc says."""
    config = load_config(["task=sorting", f"task.{key}=[1,4,1]"]).task
    with pytest.raises(ConfigError, match=rf"task.{key}=\[1, 4, 1\] names wording\(s\) \[1\] more than once"):
        split_wordings(make_task(config), config)


def test_an_edited_qa_file_is_not_answered_with_the_old_files_splits(tmp_path):
    source = tmp_path / "qa.jsonl"

    def write(answer):
        source.write_text("".join(json.dumps({"question": f"What is {i} plus 1?", "answer": answer(i)}) + "\n"
                                  for i in range(12)))

    config = load_config(["task=qa", f"task.path={source}", "task.train_size=8", "task.test_size=4"]).task
    write(lambda i: str(i + 1))
    before = build_splits(make_task(config), config, seed=0, data_dir=tmp_path)
    write(lambda i: f"<{i + 1}>")  # the same settings, corrected answers
    after = build_splits(make_task(config), config, seed=0, data_dir=tmp_path)
    assert after["test"]["question"] == before["test"]["question"]
    assert list(after["test"]["answer"]) == [f"<{a}>" for a in before["test"]["answer"]]
    assert build_splits(make_task(config), config, seed=0, data_dir=tmp_path)["train"][:] == after["train"][:]


def test_a_save_cut_short_does_not_break_later_runs(tmp_path, monkeypatch):
    from datasets import Dataset

    config = load_config(["task.size=4", "task.train_size=8", "task.test_size=4"]).task
    task = make_task(config)
    save = Dataset.save_to_disk

    def interrupted(self, path, *args, **kwargs):
        if str(path).endswith("test"):  # the train split is saved, then Ctrl-C
            raise KeyboardInterrupt
        return save(self, path, *args, **kwargs)

    monkeypatch.setattr(Dataset, "save_to_disk", interrupted)
    with pytest.raises(KeyboardInterrupt):
        build_splits(task, config, seed=0, data_dir=tmp_path)
    monkeypatch.setattr(Dataset, "save_to_disk", save)
    again = build_splits(task, config, seed=0, data_dir=tmp_path)
    assert (len(again["train"]), len(again["test"])) == (8, 4)
    assert build_splits(task, config, seed=0, data_dir=tmp_path)["test"][:] == again["test"][:]  # and reused


def test_a_puzzle_space_too_small_for_the_splits_is_a_one_line_error(tmp_path):
    from hybrid.train import main

    overrides = ["task=sorting", "task.length=2", "task.low=0", "task.high=1", "task.train_size=200", "task.test_size=20",
                 "backbone=chars", "train.tracker=null", f"train.output_dir={tmp_path / 'run'}",
                 f"train.data_dir={tmp_path / 'cache'}"]
    with pytest.raises(SystemExit, match="^error: test: sorting keeps repeating training puzzles .* lower task.train_size"):
        main(overrides)


def test_runs_started_together_generate_the_splits_once(tmp_path, monkeypatch):
    """A sweep started at once on one train.data_dir: the first run saves the splits, the others
    wait and read them (saving together, they removed and renamed each other's half-saved folders)."""
    import threading
    import time

    import hybrid.data

    config = load_config(["task.size=4", "task.train_size=8", "task.test_size=4"]).task
    real, calls, generating = hybrid.data.generate_splits, [], threading.Event()

    def slow(*args):
        calls.append(1)
        generating.set()
        time.sleep(1)  # the second run arrives meanwhile
        return real(*args)

    monkeypatch.setattr(hybrid.data, "generate_splits", slow)
    found = {}
    first = threading.Thread(target=lambda: found.update(first=build_splits(make_task(config), config, 0, tmp_path)))
    first.start()
    assert generating.wait(60)
    found["second"] = build_splits(make_task(config), config, 0, tmp_path)
    first.join()
    assert len(calls) == 1
    assert found["second"]["test"][:] == found["first"]["test"][:]


def test_a_full_disk_while_saving_splits_names_the_folder_and_leaves_nothing_behind(tmp_path, monkeypatch):
    import errno

    from datasets import Dataset

    config = load_config(["task.size=4", "task.train_size=8", "task.test_size=4"]).task
    save = Dataset.save_to_disk

    def disk_full(self, path, *args, **kwargs):
        if str(path).endswith("test"):  # the train split is saved, then the disk is full
            raise OSError(errno.ENOSPC, "No space left on device")
        return save(self, path, *args, **kwargs)

    monkeypatch.setattr(Dataset, "save_to_disk", disk_full)
    with pytest.raises(OSError, match=r"could not write .*datasets/sudoku-\w+ \(.* GiB free there\): .*No space left "
                                      r"on device.*train.data_dir"):
        build_splits(make_task(config), config, seed=0, data_dir=tmp_path)
    assert not any((tmp_path / "datasets").iterdir())  # the half-saved splits do not stay to fill the disk


def test_a_data_dir_that_is_a_file_is_a_config_error_before_generating(tmp_path, monkeypatch):
    import hybrid.data

    config = load_config(["task.size=4", "task.train_size=8", "task.test_size=4"]).task
    (tmp_path / "data").write_text("notes")  # train.data_dir=... naming a file: it stays as it is
    monkeypatch.setattr(hybrid.data, "generate_splits", lambda *args: pytest.fail("generated before the check"))
    with pytest.raises(ConfigError, match=r"train.data_dir=.*data is a file; name a folder"):
        build_splits(make_task(config), config, seed=0, data_dir=tmp_path / "data")
    assert (tmp_path / "data").read_text() == "notes"


@pytest.mark.parametrize("file, data_dir", [("data/datasets", "data"), ("data", "data/sub")])
def test_a_file_in_the_way_of_the_splits_folder_is_a_config_error_before_generating(tmp_path, monkeypatch, file, data_dir):
    """data_dir/datasets, or a folder above data_dir, being a file: generating, then saving, failed with
    a traceback that blamed the disk ("... GiB free there ... free space there")."""
    import hybrid.data

    config = load_config(["task.size=4", "task.train_size=8", "task.test_size=4"]).task
    (tmp_path / file).parent.mkdir(exist_ok=True)
    (tmp_path / file).write_text("notes")
    monkeypatch.setattr(hybrid.data, "generate_splits", lambda *args: pytest.fail("generated before the check"))
    with pytest.raises(ConfigError, match=rf"{tmp_path / file} is a file, not a folder"):
        build_splits(make_task(config), config, seed=0, data_dir=tmp_path / data_dir)
    assert (tmp_path / file).read_text() == "notes"


@pytest.mark.parametrize("damaged", ["train/data-00000-of-00001.arrow", "train/state.json"])
def test_saved_splits_that_are_damaged_are_a_clear_error_naming_the_folder(tmp_path, damaged):
    """Found complete (config.json is there) but unreadable: a disk error, a copy cut short, an edit."""
    config = load_config(["task.size=4", "task.train_size=8", "task.test_size=4"]).task
    build_splits(make_task(config), config, seed=0, data_dir=tmp_path)
    [folder] = (tmp_path / "datasets").iterdir()
    (folder / damaged).write_bytes((folder / damaged).read_bytes()[:50])
    with pytest.raises(ConfigError, match=rf"the puzzle splits saved in {folder} are damaged .*remove that folder"):
        build_splits(make_task(config), config, seed=0, data_dir=tmp_path)


@pytest.mark.parametrize("held_out, listed", [([], ["train"]), ([1], ["train", "test"])])
def test_saved_splits_missing_a_split_are_a_clear_error_naming_the_folder(tmp_path, held_out, listed):
    """dataset_dict.json names the splits that are read: listing fewer (an edit, a stray copy), they
    loaded, and the run failed later with a traceback (KeyError: 'test')."""
    config = load_config(["task.size=4", "task.train_size=8", "task.test_size=4",
                          f"task.held_out_wordings={held_out}"]).task
    build_splits(make_task(config), config, seed=0, data_dir=tmp_path)
    [folder] = (tmp_path / "datasets").iterdir()
    (folder / "dataset_dict.json").write_text(json.dumps({"splits": listed}))
    with pytest.raises(ConfigError, match=rf"the puzzle splits saved in {folder} are damaged .*no test.*remove that folder"):
        build_splits(make_task(config), config, seed=0, data_dir=tmp_path)


FINGERPRINTS = Path(__file__).parent / "data" / "split_fingerprints.json"


def split_fingerprint(name: str, tmp_path) -> str:
    """A digest of the small splits `build_splits` saves for family `name` (every wording, one held out)."""
    config = TASK_CONFIGS[name](train_size=6, test_size=3)
    task = make_task(config)
    config.held_out_wordings = [task.num_wordings - 1] if task.num_wordings > 1 else []
    splits = build_splits(task, config, seed=0, data_dir=tmp_path / name)
    records = {split: [splits[split][i] for i in range(len(splits[split]))] for split in sorted(splits)}
    return hashlib.sha256(json.dumps(records, sort_keys=True, default=str).encode()).hexdigest()[:16]


@pytest.mark.parametrize("name", [name for name in TASK_CONFIGS if name != "qa"])  # qa's data is the user's file
def test_generated_puzzles_match_the_fingerprint_of_their_family_version(name, tmp_path):
    """Saved splits are found again by their settings, seed and the family's `version`, not by
    their content: a generator or renderer changed without a new version hands every cached run
    the old puzzles, silently. So the puzzles a family makes are pinned to its version here.
    After a deliberate change: bump the family's `version` (for a change to how hybrid/data.py
    draws the splits, its GENERATION), then record the new fingerprints with
    HYBRID_TRM_UPDATE_FINGERPRINTS=1 python -m pytest tests/test_data.py -k fingerprint"""
    task, digest = make_task(TASK_CONFIGS[name]()), split_fingerprint(name, tmp_path)
    pinned = json.loads(FINGERPRINTS.read_text())
    if os.environ.get("HYBRID_TRM_UPDATE_FINGERPRINTS"):
        record = json.loads(FINGERPRINTS.read_text())  # again: parametrized cases write in turn
        record[name] = {"version": task.version, "generation": GENERATION, "splits": digest}
        FINGERPRINTS.write_text(json.dumps(record, indent=1, sort_keys=True) + "\n")
        return
    assert name in pinned, f"no fingerprint for {name}: record it (see this test's docstring)"
    versions = (task.version, GENERATION)
    recorded = (pinned[name]["version"], pinned[name].get("generation", 1))
    if recorded == versions:
        assert digest == pinned[name]["splits"], (
            f"{name}: the puzzles generated for the same settings and seed changed, but {type(task).__name__}.version "
            f"is still {task.version} and hybrid.data.GENERATION {GENERATION}, so runs would reuse splits of the old "
            f"puzzles saved in their train.data_dir. Bump one, then record the new fingerprint (see this test's docstring)")
    else:
        pytest.fail(f"{name}: (version, generation) {versions}, fingerprint recorded at {recorded}: "
                    f"record the new one (see this test's docstring)")
