import random
import time

import pytest

from eval.tasks import PuzzleError, make_task
from eval.tasks.sorting import WORDINGS, Sorting, SortingConfig, parse_numbers, to_words
from hybrid.config import load_config


def test_numbers_in_words_round_trip():
    assert to_words(42) == "forty-two"
    assert to_words(305) == "three hundred five"
    assert to_words(-17) == "minus seventeen"
    assert to_words(0) == "zero" and to_words(900) == "nine hundred"
    values = list(range(-999, 1000))
    assert parse_numbers(", ".join(to_words(v) for v in values)) == values


def test_parse_numbers_reads_digits_words_and_separators():
    assert parse_numbers("7, 19, 42") == [7, 19, 42]
    assert parse_numbers("[7 19 42]") == [7, 19, 42]
    assert parse_numbers("forty two") == [42]
    assert parse_numbers("forty, two") == [40, 2]  # a comma ends a number
    assert parse_numbers("seven nineteen forty-two") == [7, 19, 42]  # split where a word cannot continue
    assert parse_numbers("three hundred and five; minus 3; negative six") == [305, -3, -6]
    assert parse_numbers("1\n2\n3.") == [1, 2, 3]
    with pytest.raises(PuzzleError, match="cannot read 'banana'"):
        parse_numbers("forty-banana")
    with pytest.raises(PuzzleError, match="'minus' without a number"):
        parse_numbers("3, minus")
    with pytest.raises(PuzzleError, match=r"cannot read '\?'"):
        parse_numbers("3, ?")


def test_hand_written_request_is_read_and_verified():
    task = Sorting(length=4)
    example = task.from_text("Sort descending: 5, forty, 12, zero")
    assert example.answer == "40, 12, 5, 0"
    assert example.labels == [40, 12, 5, 0]
    assert task.decode(example, example.labels) == example.answer
    for answer in ("40, 12, 5, 0", "40 12 5 0", "[40, 12, 5, 0]", "forty, twelve, five, zero"):
        assert task.verify(example, answer), answer
    ascending = task.from_text("Sort these: 5, forty, 12, zero")
    assert ascending.answer == "0, 5, 12, 40" and not ascending.data["descending"]


def test_verifier_rejects_wrong_answers_and_scores_partial_credit():
    task = Sorting(length=4)
    example = task.from_text("Sort descending: 5, 40, 12, 0")
    assert not task.verify(example, "0, 5, 12, 40")  # wrong direction
    assert not task.verify(example, "40, 12, 5")  # one missing
    assert not task.verify(example, "40, 12, 5, 0, 0")  # one extra
    assert not task.verify(example, "40, 12, 5, 1")  # a number changed
    assert not task.verify(example, "the answer is 40, 12, 5, 0")  # unreadable
    assert task.score(example, "40, 12, 5, 0") == 1.0
    assert task.score(example, "40, 12, 0, 5") == 0.5
    assert task.score(example, "40, 12, 5, 0, 0") == 0.8  # extra slots count against it
    assert task.score(example, "nonsense") == 0.0


def test_malformed_input_gets_clear_errors():
    task = Sorting(length=4, low=0, high=50)
    with pytest.raises(PuzzleError, match="expected 4 numbers"):
        task.from_text("Sort: 1, 2, 3")
    with pytest.raises(PuzzleError, match=r"numbers \[99\] are outside the task's range 0..50"):
        task.from_text("Sort: 1, 2, 3, 99")
    with pytest.raises(PuzzleError, match="distinct=true needs at least"):
        make_task(SortingConfig(length=8, low=0, high=5, distinct=True))
    with pytest.raises(PuzzleError, match="low < high"):
        Sorting(low=10, high=10)
    with pytest.raises(PuzzleError, match="at least 2"):
        Sorting(length=1)


def test_wordings_set_direction_and_number_format():
    task = Sorting(length=6, low=-20, high=20)
    assert task.vocab[0] == "-20" and len(task.vocab) == 41 and not task.aligned_slots
    for wording, (_, descending, in_words, _) in enumerate(WORDINGS):
        example = task.generate(random.Random(1), wording)
        numbers = example.data["numbers"]
        assert example.slot_spans is None
        assert example.answer == ", ".join(map(str, sorted(numbers, reverse=descending)))
        assert [task.low + i for i in example.labels] == sorted(numbers, reverse=descending)
        assert task.verify(example, example.answer)
        assert any(ch.isdigit() for ch in example.question) != in_words  # words wordings show no digits
        assert parse_numbers(example.question.split(":", 1)[1].split(". List")[0].split("Write")[0]) == numbers


def test_distinct_knob():
    task = Sorting(length=10, low=0, high=9, distinct=True)
    example = task.generate(random.Random(0), 0)
    assert example.answer == "0, 1, 2, 3, 4, 5, 6, 7, 8, 9"


def test_seeded_generation_and_held_out_wordings():
    task = Sorting()
    a, b = task.generate(random.Random(4), 2), task.generate(random.Random(4), 2)
    assert (a.question, a.answer) == (b.question, b.answer)
    assert task.generate(random.Random(5), 2).question != a.question
    texts = {task.generate(random.Random(4), w).question for w in range(task.num_wordings)}
    assert len(texts) == task.num_wordings

    from hybrid.data import generate_splits

    config = load_config(["task=sorting", "task.length=5", "task.train_size=20", "task.test_size=8",
                          "task.held_out_wordings=[3,4]"]).task
    task = make_task(config)
    assert task.num_slots == 5
    splits = generate_splits(task, config, seed=0)
    assert set(splits["train"]["wording"]) <= {0, 1, 2}
    assert set(splits["test_heldout"]["wording"]) <= {3, 4}
    assert all(len(labels) == 5 for labels in splits["test_heldout"]["labels"])


def test_generation_speed():
    task, rng = Sorting(), random.Random(0)
    start = time.perf_counter()
    for _ in range(3000):
        task.generate(rng, rng.randrange(task.num_wordings))
    assert time.perf_counter() - start < 10  # ~20 us each here (about 50,000 a second)
