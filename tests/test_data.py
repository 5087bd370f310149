import json
import random

from eval.tasks import TASK_CONFIGS, make_task
from hybrid.config import load_config
from hybrid.data import build_splits, generate_splits


def test_saved_splits_are_reused_until_the_generator_version_changes(tmp_path):
    config = load_config(["task.size=4", "task.train_size=8", "task.test_size=4"]).task
    task = make_task(config)
    first = build_splits(task, config, seed=0, data_dir=tmp_path)
    assert build_splits(task, config, seed=0, data_dir=tmp_path)["train"]["question"] == first["train"]["question"]
    assert len(list((tmp_path / "datasets").iterdir())) == 1

    task.version += 1  # a changed renderer or slot encoding: the old puzzles must not be reused
    build_splits(task, config, seed=0, data_dir=tmp_path)
    assert len(list((tmp_path / "datasets").iterdir())) == 2


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
