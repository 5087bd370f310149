import random
import re

import pytest

from eval.tasks import Example, PuzzleError, make_task
from eval.tasks.reasoning_gym import ReasoningGym, ReasoningGymConfig
from eval.tasks.text_answer import VOCAB, AnswerDoesNotFit, encode, why_left_out
from hybrid.config import ConfigError
from hybrid.data import examples, generate_split


def round_trip(example: Example) -> Example:
    """What the evaluation sees: the example as stored in a `datasets` split."""
    return Example.from_record(example.to_record())


def test_mini_sudoku_is_scored_by_its_own_scorer():
    task = make_task(ReasoningGymConfig(dataset="mini_sudoku"))
    example = round_trip(task.generate(random.Random(0), 0))
    assert "Mini Sudoku" in example.question
    assert task.decode(example, example.labels) == example.answer
    assert task.score(example, example.answer) == 1.0 and task.verify(example, example.answer)
    one_wrong = example.answer[:-1] + ("1" if example.answer[-1] != "1" else "2")
    assert 0 < task.score(example, one_wrong) < 1  # reasoning-gym's partial credit
    assert not task.verify(example, one_wrong)
    assert task.score(example, example.answer.replace("\n", " ")) == 0.0  # its format is strict


def test_maze_and_zebra_items_are_read_and_scored():
    maze = ReasoningGym("maze", ["max_grid_size=6", "min_dist=3", "max_dist=4"])
    example = round_trip(maze.generate(random.Random(1), 0))
    assert "Legend:" in example.question and example.answer in ("3", "4")
    assert maze.verify(example, example.answer)
    assert maze.score(example, str(int(example.answer) + 1)) == 0.0

    zebra = ReasoningGym("zebra_puzzles", ["num_people=3", "num_characteristics=3"])
    example = round_trip(zebra.generate(random.Random(2), 0))
    assert "House 1" in example.question
    assert zebra.verify(example, example.answer)
    assert zebra.verify(example, example.answer.upper())  # its scorer ignores case
    assert not zebra.verify(example, "nobody")


class Draws(random.Random):
    """An rng whose randrange gives these indices in turn."""

    def __init__(self, *indices: int):
        super().__init__(0)
        self.indices = list(indices)

    def randrange(self, *args) -> int:
        return self.indices.pop(0)


def test_an_item_reasoning_gym_fails_to_make_is_skipped_for_another():
    """docs/external_tasks.md's maze example (max_grid_size=8): reasoning-gym raises "Could not find
    suitable path cell" for item 1910 of seed 0, and drawing it stopped the whole split in a traceback."""
    task = ReasoningGym("maze", ["max_grid_size=8"])
    example = task.generate(Draws(1910, 3), 0)
    assert example.data["index"] == 3 and task.verify(example, example.answer)
    task.entry = lambda index: task.dataset[1910]  # every item fails: the settings are wrong, said so
    with pytest.raises(PuzzleError, match=r"failed to make 100 'maze' items in a row \(the last, item 99: Could "
                                          r"not find suitable path cell.*task.options"):
        task.generate(Draws(*range(100)), 0)


@pytest.mark.parametrize("error", [ValueError("Failed to generate valid expression after 10000 attempts"),
                                   Exception("Failed to generate connected board after 50 attempts")],
                         ids=["countdown's ValueError", "knight_swap's Exception"])
def test_an_item_a_generator_gives_up_on_with_another_error_is_skipped_too(error):
    """Only a RuntimeError (maze's) was skipped: countdown, futoshiki or jugs give up on an item with a
    ValueError, knight_swap with a bare Exception, and the first such draw still stopped the whole split."""
    task = ReasoningGym("maze")
    made = task.entry

    def entry(index):
        if index == 7:
            raise error
        return made(index)

    task.entry = entry
    assert task.generate(Draws(7, 3), 0).data["index"] == 3


def test_answer_slots_hold_characters_then_end():
    task = ReasoningGym("maze", max_answer_chars=4)
    example = task.example(0)
    end, ignore = 0, -100
    assert example.labels[len(example.answer)] == end
    assert example.labels[len(example.answer) + 1:] == [ignore] * (3 - len(example.answer))
    # anything the model writes after END is not read
    ids = [i if i >= 0 else 7 for i in example.labels]
    assert task.decode(example, ids) == example.answer


def test_bad_names_options_and_long_answers_are_clear_errors():
    with pytest.raises(PuzzleError, match="task.dataset=mini_sudoko: reasoning-gym has no dataset 'mini_sudoko'; "
                                          "did you mean mini_sudoku"):
        ReasoningGym("mini_sudoko")
    with pytest.raises(PuzzleError, match="no setting 'walls'.*min_dist"):
        ReasoningGym("maze", ["walls=3"])
    with pytest.raises(PuzzleError, match="use task.seed"):
        ReasoningGym("maze", ["seed=3"])
    with pytest.raises(PuzzleError, match="not of the form key=value"):
        ReasoningGym("maze", ["min_dist"])
    with pytest.raises(PuzzleError, match="rejected the settings"):
        ReasoningGym("maze", ["min_dist=9", "max_dist=2"])
    # checked by reasoning-gym only when an item is made: before, the first draw raised randrange's ValueError
    with pytest.raises(PuzzleError, match=r"rejected the settings of 'maze' \(max_grid_size=8.5.*non-integer"):
        ReasoningGym("maze", ["max_grid_size=8.5"])
    for size in (0, -1):  # accepted by reasoning-gym, then a ValueError drawing the first item
        with pytest.raises(PuzzleError, match=f"task.size={size}: the pool of items"):
            ReasoningGym("maze", size=size)
    with pytest.raises(PuzzleError, match="task.max_answer_chars=8"):
        ReasoningGym("mini_sudoku", max_answer_chars=8).generate(random.Random(0), 0)


def test_a_setting_given_twice_in_options_is_an_error_naming_it():
    """task.options=[min_dist=3,min_dist=5] built the maze with min_dist=5 without a word."""
    with pytest.raises(PuzzleError, match=r"task.options sets 'min_dist' twice \(min_dist=3, min_dist=5\); give each"):
        ReasoningGym("maze", ["min_dist=3", "max_dist=9", "min_dist=5"])
    assert ReasoningGym("maze", ["min_dist=3", "max_dist=9"]).dataset.config.min_dist == 3  # each once: fine


def test_an_example_from_other_settings_is_not_scored_silently():
    example = ReasoningGym("maze", seed=1).example(5)
    with pytest.raises(PuzzleError, match="no longer matches"):
        ReasoningGym("maze", seed=2).score(example, example.answer)


def test_a_dataset_without_reference_answers_is_a_clear_error():
    """propositional_logic (like graph_color, rubiks_cube) scores any valid answer and stores none:
    its items must not become the answer text "None", which trains a model that scores 0."""
    task = ReasoningGym("propositional_logic")
    with pytest.raises(PuzzleError, match="no reference answer"):
        task.generate(random.Random(0), 0)


def test_a_split_leaves_out_items_whose_answers_do_not_fit_with_one_warning():
    """word_sorting's answers now and then hold an "é" or a "ï" (2 in 100), and a long tail runs past the
    slots: one such item stopped the whole split with an error naming neither the dataset nor the item."""
    task = ReasoningGym("word_sorting", max_answer_chars=80)
    with pytest.warns(UserWarning) as caught:
        split = generate_split(task, 200, 0, [0], set(), "train")
    assert len(caught) == 1  # one warning for the split, not one per item
    message = str(caught[0].message)
    assert re.match(r"train: left out \d+ of the \d+ reasoning_gym puzzles drawn", message)
    assert re.search(r"answers with characters outside the answer alphabet \(printable ASCII and newline\): "
                     r"\d+ \('ç', 'ê'\)",
                     message)
    assert re.search(r"answers longer than task.max_answer_chars=80: \d+ \(the longest: 98 characters\); raise",
                     message)
    assert "The split holds 200 puzzles" in message
    assert len(split) == 200  # drawn further, not cut short
    kept = examples(split)
    assert all(len(e.answer) <= 80 and e.answer.isascii() for e in kept)
    assert all(task.verify(e, e.answer) for e in kept[:20])  # each is still its index's item, which scoring regenerates


def test_a_split_of_mostly_unfitting_answers_is_refused_saying_why():
    with pytest.raises(ConfigError, match=r"test: most reasoning_gym puzzles drawn have answers the slots cannot hold "
                                          r"\(11 left out, 0 kept\): answers longer than task.max_answer_chars=8: 11 "
                                          r"\(the longest: 31 characters\); raise task.max_answer_chars"):
        generate_split(ReasoningGym("mini_sudoku", max_answer_chars=8), 10, 0, [0], set(), "test")
    with pytest.raises(ConfigError, match=r"train: most .*: answers with characters outside the answer alphabet .*×"):
        generate_split(ReasoningGym("prime_factorization"), 10, 0, [0], set(), "train")


def test_an_answer_that_does_not_fit_names_the_dataset_and_item():
    task = ReasoningGym("word_sorting", max_answer_chars=100)
    with pytest.raises(PuzzleError, match=r"word_sorting item 75: answer .* has characters outside .*: 'éï'"):
        task.example(75)
    with pytest.raises(PuzzleError, match=r"mini_sudoku item 3: answer of 31 characters does not fit"):
        ReasoningGym("mini_sudoku", max_answer_chars=8).example(3)


@pytest.mark.parametrize("slots", [0, -1])
def test_max_answer_chars_below_one_is_refused_when_the_task_is_built(slots):
    """It was taken, and only the first answer failed, as one too long for the slots."""
    with pytest.raises(PuzzleError, match=rf"task.max_answer_chars={slots}: an answer needs at least one slot"):
        ReasoningGym("maze", max_answer_chars=slots)


def test_the_warning_counts_every_puzzle_drawn_and_comes_for_a_single_one_left_out():
    """The total counts puzzles drawn and refused as repeats too; and one puzzle left out is still said."""
    task = ReasoningGym("word_sorting", size=10, max_answer_chars=80)  # item 9 holds an "é"
    real, drawn, left_out = task.generate, [], []

    def counted(rng, wording):
        drawn.append(wording)
        try:
            return real(rng, wording)
        except PuzzleError as err:
            left_out.append(err)
            raise

    task.generate = counted
    with pytest.warns(UserWarning, match=r"test: left out 1 of the (\d+) reasoning_gym puzzles drawn") as caught:
        generate_split(task, 6, 0, [0], set(), "test", distinct=True)  # a pool of 10: some drawn twice, refused
    assert len(left_out) == 1 and len(drawn) > 6 + 1
    assert f"left out 1 of the {len(drawn)} reasoning_gym puzzles drawn" in str(caught[0].message)


def test_why_left_out_counts_each_reason_apart():
    """An answer of exactly max_answer_chars fits in length: only its "é" left it out."""
    left_out = [AnswerDoesNotFit("abcdé", 5), AnswerDoesNotFit("abcdefg", 5), AnswerDoesNotFit("abcdefgh", 5)]
    assert why_left_out(left_out) == (
        "answers with characters outside the answer alphabet (printable ASCII and newline): 1 ('é'), which no setting "
        "here can hold; answers longer than task.max_answer_chars=5: 2 (the longest: 8 characters); raise "
        "task.max_answer_chars to keep them")


def test_one_answer_slot_is_enough():
    """Below one is refused; one slot holds a one-character answer (a digit, a letter)."""
    task = ReasoningGym("maze", max_answer_chars=1)
    assert task.num_slots == 1 and encode("7", task.max_answer_chars) == [VOCAB.index("7")]


@pytest.mark.parametrize("error", [Exception("Failed to generate connected board after 50 attempts"),
                                   RuntimeError("Could not find suitable path cell after 1000 attempts"),
                                   ValueError("Failed to generate valid expression after 10000 attempts")],
                         ids=["knight_swap's Exception", "maze's RuntimeError", "countdown's ValueError"])
def test_a_first_item_the_generator_fails_on_is_skipped_as_generation_skips_it(monkeypatch, error):
    """Building the task checks that items can be made by making item 0: an item 0 its generator gave up on
    (as it does with 1 maze item in 2,000) was a traceback, or a ValueError read as "rejected the settings"."""
    from reasoning_gym.games.maze import MazeDataset

    made = MazeDataset.__getitem__

    def getitem(self, index):
        if index in (0, 1):
            raise error
        return made(self, index)

    monkeypatch.setattr(MazeDataset, "__getitem__", getitem)
    task = ReasoningGym("maze")
    example = task.generate(Draws(0, 2), 0)
    assert example.data["index"] == 2 and task.verify(example, example.answer)


def test_settings_that_fail_every_item_are_rejected_naming_the_last_failure(monkeypatch):
    """The other side of skipping item 0: settings the constructor takes but no item can be made with."""
    from reasoning_gym.games.maze import MazeDataset

    tried = []

    def getitem(self, index):
        tried.append(index)
        raise Exception(f"no board for item {index}")

    monkeypatch.setattr(MazeDataset, "__getitem__", getitem)
    with pytest.raises(PuzzleError, match=r"reasoning-gym rejected the settings of 'maze' \(task.seed=0, task.size=5\)"
                                          r": it failed to make items 0 to 4 \(the last, item 4: no board for item 4"):
        ReasoningGym("maze", size=5)  # a pool smaller than the tries: each item tried once
    assert tried == [0, 1, 2, 3, 4]
