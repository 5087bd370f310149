import random

import pytest

from eval.tasks import IGNORE, Example, PuzzleError, make_task
from eval.tasks.sorting import WORDINGS, Sorting, SortingConfig, find_numbers, parse_numbers, ranks, to_words
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
    with pytest.raises(PuzzleError, match="'3.5' .*only whole numbers"):
        parse_numbers("3.5, 2")  # not 3 and 5
    for decimal in (".5", "-.5"):
        with pytest.raises(PuzzleError, match=f"'{decimal}' .*only whole numbers"):
            parse_numbers(f"3, {decimal}, 2")  # not 5


def spans_text(example):
    return [example.question[a:b] for a, b in example.slot_spans]


def test_find_numbers_gives_each_number_its_text():
    text = "minus 3, forty-two; three hundred and five\n- 7 negative six, 12"
    found = find_numbers(text)
    assert [v for v, _, _ in found] == [-3, 42, 305, 7, -6, 12]
    assert [text[a:b] for _, a, b in found] == ["minus 3", "forty-two", "three hundred and five", "7",
                                                "negative six", "12"]


def test_ranks_are_places_in_the_requested_order_ties_by_appearance():
    assert ranks([42, 7, 19, 88, 7], descending=False) == [3, 0, 2, 4, 1]
    assert ranks([42, 7, 19, 88, 7], descending=True) == [1, 3, 2, 0, 4]
    assert ranks([5, 5, 5], descending=False) == [0, 1, 2] == ranks([5, 5, 5], descending=True)


def test_slots_are_the_direction_phrase_then_each_number():
    task = Sorting(length=5)
    assert task.aligned_slots and task.num_slots == 6 and task.vocab == ("0", "1", "2", "3", "4")
    example = task.example([42, 7, 19, 88, 7], wording=2, descending=True, phrase=0)
    assert example.question == "Put these numbers in order, highest first: forty-two, seven, nineteen, eighty-eight, seven."
    assert spans_text(example) == ["highest first", "forty-two", "seven", "nineteen", "eighty-eight", "seven"]
    assert example.labels == [IGNORE, 1, 3, 2, 0, 4]  # 88 first; the two 7s keep their order
    assert example.answer == "88, 42, 19, 7, 7"
    ascending = task.example([42, 7, 19, 88, 7], wording=0, descending=False)
    assert ascending.question == "Sort these numbers in ascending order: 42, 7, 19, 88, 7."
    assert spans_text(ascending) == ["in ascending order", "42", "7", "19", "88", "7"]
    assert ascending.labels == [IGNORE, 3, 0, 2, 4, 1] and ascending.answer == "7, 7, 19, 42, 88"
    bullets = task.example([3, 30, 0, 99, 12], wording=4, descending=True, phrase=1)
    assert bullets.question == "Numbers to order, biggest first:\n- 3\n- 30\n- 0\n- 99\n- 12"
    assert spans_text(bullets) == ["biggest first", "3", "30", "0", "99", "12"]
    assert bullets.labels == [IGNORE, 3, 1, 4, 0, 2]
    assert Example.from_record(example.to_record()) == example


def test_decode_places_the_question_numbers_by_predicted_position():
    task = Sorting(length=5)
    example = task.example([42, 7, 19, 88, 7], wording=2, descending=True)
    assert task.decode(example, example.labels) == example.answer  # slot 0's prediction is not read
    assert task.decode(example, [4, *example.labels[1:]]) == example.answer
    assert task.verify(example, task.decode(example, [0, 1, 4, 2, 0, 3]))  # the two 7s swapped: still sorted
    wrong = task.decode(example, [0, 0, 3, 2, 1, 4])  # 42 and 88 swapped
    assert wrong == "42, 88, 19, 7, 7" and not task.verify(example, wrong) and task.score(example, wrong) == 0.6
    clash = task.decode(example, [0, 0, 0, 0, 0, 0])  # every number predicted first: order of appearance
    assert clash == "42, 7, 19, 88, 7" and not task.verify(example, clash)
    assert sorted(parse_numbers(clash)) == sorted(example.data["numbers"])  # every number, once


def test_hand_written_request_is_read_and_verified():
    task = Sorting(length=4)
    example = task.from_text("Sort descending: 5, forty, 12, zero")
    assert example.answer == "40, 12, 5, 0"
    assert example.labels == [IGNORE, 2, 0, 1, 3]
    assert spans_text(example) == ["descending", "5", "forty", "12", "zero"]
    assert task.decode(example, example.labels) == example.answer
    for answer in ("40, 12, 5, 0", "40 12 5 0", "[40, 12, 5, 0]", "forty, twelve, five, zero"):
        assert task.verify(example, answer), answer
    ascending = task.from_text("Sort these: 5, forty, 12, zero")
    assert ascending.answer == "0, 5, 12, 40" and not ascending.data["descending"]
    assert spans_text(ascending) == ["Sort these", "5", "forty", "12", "zero"]  # no direction phrase: the prefix
    bare = task.from_text("5 forty 12 0")
    assert bare.slot_spans[0] == (0, 0) and spans_text(bare)[1:] == ["5", "forty", "12", "0"]
    rendered = task.example([5, 40, 12, 0], wording=3, descending=True)
    again = task.from_text(rendered.question, wording=3)
    assert (again.slot_spans, again.labels, again.data) == (rendered.slot_spans, rendered.labels, rendered.data)


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


def test_the_same_numbers_sorted_the_other_way_are_another_puzzle():
    """The test splits keep out training puzzles by `puzzle_key`: without the direction in it, a
    test puzzle would be left out for numbers a training puzzle sorted the other way."""
    task = Sorting(length=3)
    up, down = task.example([3, 1, 2], descending=False), task.example([3, 1, 2], descending=True)
    assert task.puzzle_key(up) != task.puzzle_key(down)
    assert task.puzzle_key(task.example([3, 1, 2], wording=1, descending=True)) == task.puzzle_key(down)


@pytest.mark.parametrize("label", ["Q: ", "Task 3: ", "Puzzle: please "])
def test_a_label_before_the_request_leaves_the_numbers_after_the_request_colon(label):
    task = Sorting(length=4)
    example = task.from_text(f"{label}sort these 4 numbers descending: 5, 12, 0, 3")
    assert example.data == {"numbers": [5, 12, 0, 3], "descending": True}
    question = example.question
    assert [question[a:b] for a, b in example.slot_spans] == ["descending", "5", "12", "0", "3"]


def test_a_later_colon_among_the_numbers_does_not_hide_what_cannot_be_read():
    # Numbers were read before the "x": the list starts at the first colon, so its error stands
    # rather than a later colon's four numbers being sorted.
    with pytest.raises(PuzzleError, match="cannot read 'x'"):
        Sorting(length=4).from_text("Sort: 5, 3, x: 1, 9, 7, 2")


def test_a_later_colon_does_not_hide_words_after_a_number_written_in_words():
    # "five" was read as a number before "apples": the list starts at the first colon, as with digits, rather
    # than the later colon's four numbers being sorted and "five apples" dropped
    with pytest.raises(PuzzleError, match="cannot read 'apples'"):
        Sorting(length=4).from_text("Sort: five apples: 1, 9, 7, 2")


def test_words_before_numbers_survives_a_trip_between_processes():
    # a DataLoader worker or a process pool sends an error back pickled, rebuilt from its message alone
    import pickle

    with pytest.raises(PuzzleError) as refused:
        Sorting(length=4).from_text("Note: the numbers to sort: see below")
    copy = pickle.loads(pickle.dumps(refused.value))
    assert type(copy) is type(refused.value) and str(copy) == str(refused.value)


def test_words_after_every_colon_get_the_first_colons_error():
    # No colon is followed by numbers: the error is of the first colon's text, where numbers were looked for first
    with pytest.raises(PuzzleError, match="cannot read 'the' ") as refused:
        Sorting(length=4).from_text("Note: the numbers to sort: see below")
    # the hint for a request without a colon would not help: this one has two
    assert "ends with a colon" not in str(refused.value)
    assert "words come before any number after every colon" in str(refused.value)


def test_malformed_input_gets_clear_errors():
    task = Sorting(length=4, low=0, high=50)
    with pytest.raises(PuzzleError, match="expected 4 numbers"):
        task.from_text("Sort: 1, 2, 3")
    with pytest.raises(PuzzleError, match=r"numbers \[99\] are outside the task's range 0..50"):
        task.from_text("Sort: 1, 2, 3, 99")
    # Without a colon the request's own words are read as numbers: the error says what to add.
    with pytest.raises(PuzzleError, match="cannot read 'Sort' .*a request in words ends with a colon: 'Sort descending: "):
        task.from_text("Sort descending 5, 12, 0, 3")
    with pytest.raises(PuzzleError, match=r"cannot read '\?'") as bad_number:  # among the numbers: no such hint
        task.from_text("Sort: 5, ?, 0, 3")
    assert "colon" not in str(bad_number.value)
    with pytest.raises(PuzzleError, match="distinct=true needs at least"):
        make_task(SortingConfig(length=8, low=0, high=5, distinct=True))
    with pytest.raises(PuzzleError, match="low < high"):
        Sorting(low=10, high=10)
    with pytest.raises(PuzzleError, match="at least 2"):
        Sorting(length=1)


def test_a_number_too_long_for_int_is_a_puzzle_error():
    """int() raises ValueError past 4300 digits: a bad puzzle or a wrong answer, not a crash."""
    task = Sorting(length=4)
    example = task.from_text("Sort descending: 5, 40, 12, 0")
    huge = "1" * 5000
    with pytest.raises(PuzzleError, match="5000 digits"):
        task.from_text(f"Sort: 5, 40, 12, {huge}")
    assert task.verify(example, f"40, 12, 5, {huge}") is False and task.score(example, huge) == 0.0


@pytest.mark.parametrize("pasted", ["Sort these numbers: 5, 40, 12, 0.\n" * 20_000, "Sort: " + "1, " * 100_000,
                                    "Sort: 5, 40, " + "x" * 300_000, "Sort descending: " + "3.5, " * 50_000])
def test_an_error_on_a_huge_paste_quotes_a_line_of_it_not_all(pasted):
    """Each error quoted the whole text: a megabyte pasted made an error (and an answer line of
    hybrid.solve) of a megabyte."""
    with pytest.raises(PuzzleError) as error:
        Sorting(length=4).from_text(pasted)
    assert len(str(error.value)) < 500


def test_direction_phrases_are_read_however_they_are_spaced():
    """A direction phrase split by a tab, a double space or a line break is still that phrase (it
    was read as no phrase, so ascending); spans point into the text even after a letter that
    lower() lengthens ("İ")."""
    task = Sorting(length=3)
    for text, phrase in [("Sort from largest  to\tsmallest: 1, 3, 2", "from largest  to\tsmallest"),
                         ("Numbers to order, in\nfalling order: 1, 3, 2", "in\nfalling order"),
                         ("Sort highest to lowest: 1, 3, 2", "highest to lowest"),
                         ("İstanbul list, in descending order: 1, 3, 2", "in descending order")]:
        example = task.from_text(text)
        assert example.data["descending"] and spans_text(example)[0] == phrase, text
    assert not task.from_text("Sort lowest to highest: 1, 3, 2").data["descending"]


def test_a_direction_no_phrase_reads_is_an_error_not_ascending():
    """A typo in the direction ("from largest to smalest") was read as no direction, so ascending:
    a confident wrong answer. A request that names a direction the reader cannot place is
    refused, saying what it reads; one that names none still sorts ascending."""
    task = Sorting(length=3)
    for text, words in [("Sort from largest to smalest: 1, 3, 2", "'largest', 'smalest'"),
                        ("Sort in decending order: 1, 3, 2", "'decending'"),
                        ("Put these in reverse order: 1, 3, 2", "'reverse'"),
                        ("Arrange these numbers, smaller to lowest: 1, 3, 2", "'smaller', 'lowest'")]:
        with pytest.raises(PuzzleError, match=f"could not read the direction in .*{words}.*'from largest to smallest'"):
            task.from_text(text)
    assert task.from_text("Arrange the following numbers: 1, 3, 2").answer == "1, 2, 3"
    assert task.from_text("Sort from low to high: 1, 3, 2").answer == "1, 2, 3"  # wording 4's phrase before version 4
    assert task.from_text("Sort them high to low: 1, 3, 2").answer == "3, 2, 1"


def test_words_that_describe_the_numbers_are_no_direction():
    """"small", "top", "up", "lowest"... also describe the numbers or the task: such requests were
    refused as naming a direction no phrase reads. A direction word says one only in a
    direction's shape ("small to large", "from the biggest number to the smallest", "biggest
    number first"), or when it can mean nothing else ("reverse")."""
    task = Sorting(length=3)
    for text in ["Sort these small numbers: 1, 3, 2", "Sort the top scores: 1, 3, 2", "Write down these numbers "
                 "sorted: 1, 3, 2", "Sort the following numbers up to 10: 1, 3, 2", "Sort the high scores: 1, 3, 2",
                 "Sort the max temperatures: 1, 3, 2", "Sort the lowest temperatures: 1, 3, 2", "Sort by power: 1, 3, 2",
                 "Look up and sort these: 1, 3, 2", "Sort these, at least try: 1, 3, 2", "Sort the daily highs: 1, 3, 2",
                 "Sort the numbers arising from the test: 1, 3, 2", "Sort the larger ones: 1, 3, 2"]:
        assert task.from_text(text).answer == "1, 2, 3", text
    for text, words in [("Sort from the biggest number to the smallest number: 1, 3, 2", "'biggest', 'smallest'"),
                        ("Sort with the biggest number first: 1, 3, 2", "'biggest'"),
                        ("Sort the list, smallest one last: 1, 3, 2", "'smallest'")]:
        with pytest.raises(PuzzleError, match=f"could not read the direction in .*\\(from {words}\\)"):
            task.from_text(text)


def test_a_word_for_each_end_either_side_of_to_says_the_direction():
    """"small to large", "low to high" or "max to min" say the direction as plainly as a known
    phrase, but were refused as one no phrase reads. A word for each end of the sorted list, one
    either side of "to" (articles skipped), reads as that direction, and its words are the
    instruction slot; both words at one end, pairs that disagree and a pair beside another
    direction word are still refused."""
    task = Sorting(length=3)
    for text, phrase, descending in [("Sort from small to large: 1, 3, 2", "small to large", False),
                                     ("Sort small to big: 1, 3, 2", "small to big", False),
                                     ("Sort from smaller to larger numbers: 1, 3, 2", "smaller to larger", False),
                                     ("Order them from the lowest to the highest: 1, 3, 2", "lowest to the highest", False),
                                     ("Put these least to greatest: 1, 3, 2", "least to greatest", False),
                                     ("Sort From Small\nTo Large: 1, 3, 2", "Small\nTo Large", False),
                                     ("Sort from large to small: 1, 3, 2", "large to small", True),
                                     ("Sort them, max to min: 1, 3, 2", "max to min", True),
                                     ("Sort most to least: 1, 3, 2", "most to least", True),
                                     ("Arrange these numbers, largest to lowest: 1, 3, 2", "largest to lowest", True)]:
        example = task.from_text(text)
        assert (example.data["descending"], spans_text(example)[0]) == (descending, phrase), text
        assert example.answer == ("3, 2, 1" if descending else "1, 2, 3")
    for text, words in [("Sort smaller to lowest: 1, 3, 2", "'smaller', 'lowest'"),
                        ("Sort small to large, then large to small: 1, 3, 2", "'small', 'large', 'large', 'small'"),
                        ("Sort small to large to small: 1, 3, 2", "'small', 'large', 'small'"),
                        ("Sort in reverse, small to large: 1, 3, 2", "'reverse', 'small', 'large'"),
                        ("Sort small to large, biggest number first: 1, 3, 2", "'small', 'large', 'biggest'")]:
        with pytest.raises(PuzzleError, match=f"could not read the direction in .*\\(from {words}\\)"):
            task.from_text(text)


def test_requests_that_would_have_read_the_wrong_way_are_read_right_or_refused():
    """Three requests got a confident wrong answer: "non-decreasing" read as descending (the
    phrase "decreasing" inside it), "ascending, biggest first" as descending (the first phrase of
    either direction won), and "large to smal" as ascending (a misspelling too short to match)."""
    task = Sorting(length=3)
    for text, descending in [("Sort in non-decreasing order: 1, 3, 2", False), ("Sort nondecreasing: 1, 3, 2", False),
                             ("Sort in non decreasing order: 1, 3, 2", False), ("Sort non-increasing: 1, 3, 2", True),
                             ("Sort in decreasing order: 1, 3, 2", True), ("Sort increasingly: 1, 3, 2", False),
                             ("Sort decreasingly: 1, 3, 2", True)]:
        assert task.from_text(text).data["descending"] is descending, text
    with pytest.raises(PuzzleError, match=r"asks for both directions \('ascending', 'biggest first'\)"):
        task.from_text("Sort ascending, biggest first: 1, 3, 2")
    # a known phrase and a pair of ends that disagree (the pair was read only without a phrase)
    for text, said in [("Sort in ascending order, large to small: 1, 3, 2", "'in ascending order', 'large to small'"),
                       ("Sort descending, small to large: 1, 3, 2", "'descending', 'small to large'")]:
        with pytest.raises(PuzzleError, match=f"asks for both directions \\({said}\\)"):
            task.from_text(text)
    # "non" with any spacing negates the phrase after it (a fixed one-space lookbehind missed these)
    for text in ("Sort in non  decreasing order: 1, 3, 2", "Sort in non\ndecreasing order: 1, 3, 2",
                 "Sort non- decreasing: 1, 3, 2"):
        assert task.from_text(text).data["descending"] is False, text
    # a word for one end beside "to" is refused only with a near miss of another on the other side
    assert task.from_text("Sort, at least to start: 1, 3, 2").answer == "1, 2, 3"
    for text, word in [("Sort large to smal: 1, 3, 2", "large', 'smal"), ("Sort from smal to large: 1, 3, 2",
                                                                          "smal', 'large"),
                       ("Sort high to lo: 1, 3, 2", "high', 'lo")]:
        with pytest.raises(PuzzleError, match=f"could not read the direction in .*\\(from '{word}'\\)"):
            task.from_text(text)


def test_misspellings_are_matched_against_long_words_picked_once(monkeypatch):
    """says_direction filtered each word list for its long words on every call, once per word of a
    request; they are picked once, when the module is imported."""
    from eval.tasks import sorting

    for among in (sorting.ORDER_WORDS, sorting.DIRECTION_WORDS, sorting.FIRST_WORDS):
        assert sorting.LONG_WORDS[among] == sorted(word for word in among if len(word) >= 5)
    assert sorting.says_direction("decending", sorting.ORDER_WORDS)
    monkeypatch.setitem(sorting.LONG_WORDS, sorting.ORDER_WORDS, [])  # read from the table, not filtered again
    assert not sorting.says_direction("decending", sorting.ORDER_WORDS)
    assert sorting.says_direction("descending", sorting.ORDER_WORDS)


def test_wordings_say_the_direction_and_set_the_number_format():
    task = Sorting(length=6, low=-20, high=20)
    assert task.vocab == tuple(str(p) for p in range(6)) and task.aligned_slots
    for wording, (_, phrases, in_words, _) in enumerate(WORDINGS):
        seen = set()
        for seed in range(40):
            example = task.generate(random.Random(seed), wording)
            numbers, descending = example.data["numbers"], example.data["descending"]
            phrase = spans_text(example)[0]
            seen.add((descending, phrase))
            assert phrase in [pair[int(descending)] for pair in phrases]
            assert [parse_numbers(s) for s in spans_text(example)[1:]] == [[v] for v in numbers]
            assert example.answer == ", ".join(map(str, sorted(numbers, reverse=descending)))
            assert example.labels[1:] == ranks(numbers, descending) and example.labels[0] == IGNORE
            assert task.verify(example, example.answer)
            assert task.from_text(example.question).data == example.data  # the parser reads every wording
            assert any(ch.isdigit() for ch in example.question) != in_words  # words wordings show no digits
        # The direction and the phrase pair are drawn per puzzle, so only the phrase tells.
        assert seen == {(d, pair[int(d)]) for pair in phrases for d in (False, True)}


def test_held_out_wordings_say_the_direction_in_words_training_never_shows():
    """What the held-out wordings measure: a direction word (not a function word such as "in",
    "order", "first") in a held-out phrase neither contains nor lies within a direction word of
    a trained phrase ("low" lies within "lowest", which a character model sees), so reading it
    needs its meaning, not string overlap with the training phrases."""
    trained = load_config(["task=sorting"]).task.wordings
    function_words = {"in", "order", "from", "to", "first"}
    seen = {word for w in trained for pair in WORDINGS[w][1] for phrase in pair for word in phrase.split()}
    seen -= function_words
    for wording in set(range(len(WORDINGS))) - set(trained):
        for pair in WORDINGS[wording][1]:
            words = {word for phrase in pair for word in phrase.split()} - function_words
            overlap = {(new, old) for new in words for old in seen if new in old or old in new}
            assert words and not overlap, (pair, overlap)


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
    assert task.num_slots == 6
    splits = generate_splits(task, config, seed=0)
    assert set(splits["train"]["wording"]) <= {0, 1, 2}
    assert set(splits["test_heldout"]["wording"]) <= {3, 4}
    assert all(len(labels) == 6 for labels in splits["test_heldout"]["labels"])
    assert load_config(["task=sorting"]).task.wordings == [0, 1, 2, 3]  # the preset holds out 4 and 5


def test_signed_numbers_read_with_a_plus_or_the_unicode_minus():
    """"+5" and "−5" (U+2212, what word processors and chats write) were refused, in a request and
    in an answer: a right answer with a typographic minus scored 0."""
    assert parse_numbers("+5, \u22123, -2") == [5, -3, -2]
    with pytest.raises(PuzzleError, match="cannot read"):
        parse_numbers("5, \u2212 7")  # "- 7" is a bullet and 7; a minus sign alone is neither
    task = Sorting(length=4, low=-20, high=20)
    example = task.from_text("Sort descending: +5, \u221212, 0, 3")
    assert example.data == {"numbers": [5, -12, 0, 3], "descending": True}
    assert spans_text(example)[1:] == ["+5", "\u221212", "0", "3"]
    assert task.verify(example, "5, 3, 0, \u221212") and task.verify(example, "+5, +3, 0, -12")


def test_a_minus_glued_to_a_number_in_words_is_its_sign_as_in_digits():
    """"-seven" was read as 7 (the dash skipped as a bullet's), so "1, 3, -seven" passed the verifier
    for 1, 3, 7 and a typed "-seven" was sorted as 7. A hyphen between words still joins them."""
    assert parse_numbers("-seven, forty-two, 3 -twenty one, -one hundred, forty -two") == [-7, 42, 3, -21, -100, 40, -2]
    task = Sorting(length=3, low=-10, high=10)
    example = task.from_text("Sort: -seven, 3, 1")
    assert example.data["numbers"] == [-7, 3, 1] and spans_text(example)[1] == "-seven"
    assert not task.verify(task.example([3, 7, 1]), "1, 3, -seven")


@pytest.mark.parametrize("glued", ["5-12, 0, 3", "5, 12-0-3", "5, 12, 0, 3--4", "5, --12, 0, 3", "5, 12, 0+3",
                                   "5, minus -12, 0, 3", "5, 12-zero, 3", "5, minus -seven, 0, 3"])
def test_a_sign_glued_to_a_number_before_it_is_an_error_not_a_negative(glued):
    """"5-12" was read as 5 and -12 (a range or a subtraction read as two numbers), "--12" as -12,
    and "minus -12" as 12."""
    with pytest.raises(PuzzleError, match="sign"):
        parse_numbers(glued)
    with pytest.raises(PuzzleError, match="sign"):
        Sorting(length=4, low=-20, high=20).from_text(f"Sort: {glued}")


@pytest.mark.parametrize("grouped", ["1,000", "12,050", "1\u2009000", "1\u202f000"])
def test_a_thousands_separator_in_a_request_is_an_error_not_two_numbers(grouped):
    """"1,000, 12, 0" was read as 1, 0, 12, 0: one number split in two, silently when that made
    the count right."""
    task = Sorting(length=4, low=0, high=99)
    with pytest.raises(PuzzleError, match="thousands separator.*space after each comma"):
        task.from_text(f"Sort descending: {grouped}, 12, 0")
    assert task.from_text("Sort: 1, 000, 12, 0").data["numbers"] == [1, 0, 12, 0]  # spaced: a list
    assert task.from_text("Sort: 1,20,12,0").data["numbers"] == [1, 20, 12, 0]
    # three digits after a comma without a 0 first: a list written without spaces, as "1,20,12,0" is
    assert Sorting(length=4, low=0, high=999).from_text("Sort: 300,100,200,5").data["numbers"] == [300, 100, 200, 5]


@pytest.mark.parametrize("marker", ["{}. ", "{}) ", "{}.\t"])
def test_a_numbered_list_is_an_error_not_its_item_numbers_read_as_numbers(marker):
    """"1. 5\\n2. 12" was read as 1, 5, 2, 12: with twice as many slots as items, silently."""
    task = Sorting(length=4, low=0, high=99)
    items = "\n".join(marker.format(i) + value for i, value in enumerate(["5", "12"], 1))
    with pytest.raises(PuzzleError, match="numbered list"):
        task.from_text(f"Sort descending:\n{items}")
    assert task.from_text("Sort:\n5.\n12.\n1\n3.").data["numbers"] == [5, 12, 1, 3]  # a full stop is no marker


@pytest.mark.parametrize("after", ["\nWhat is the sorted list?", ". Which comes first?", " (descending)"])
def test_words_after_the_numbers_get_an_error_saying_to_move_them_before_the_colon(after):
    """The error said only "write numbers in digits or words", which is what the user had done."""
    with pytest.raises(PuzzleError, match="after the numbers.*before the colon"):
        Sorting(length=4).from_text(f"Sort: 5, 12, 0, 3{after}")


@pytest.mark.parametrize("fenced", ["Sort descending:\n```\n5, 12, 0, 3\n```",
                                    "```text\nSort descending: 5, 12, 0, 3\n```"])
def test_a_code_fence_around_a_request_gets_an_error_saying_to_remove_it(fenced):
    """A request pasted from a chat inside ``` was refused with "cannot read '`'", which said
    nothing of the fence."""
    with pytest.raises(PuzzleError, match="code fence.*remove"):
        Sorting(length=4).from_text(fenced)


# A reasoning-gym number_sorting item (seed 3, 4 numbers, no decimals, values 0-99), pasted as it comes:
# its numbers are written as floats ("59.0"), and its instructions follow them.
REASONING_GYM_SORTING = (
    "Sort these numbers in descending order: 59.0, 37.0, 62.0, 60.0\nPlease follow the instruction below:\n"
    "## 1. Let all your answers be a list of numbers. Instead of reporting your answer as -69, -13, 1, 7, 11, 43, "
    "59, 61, use ['-69', '-13', '1', '7', '11', '43', '59', '61'] instead\n## 2. Convert all numbers in the square "
    "brackets as strings. For example, ['-69', '-13', '1', '7', '11', '43', '59', '61']\n")


def test_a_reasoning_gym_number_sorting_item_is_pointed_to_the_reasoning_gym_task():
    """Every number_sorting item writes its numbers with a decimal point; the error said only that whole
    numbers can be sorted, of '59.0', and not how such an item is sorted."""
    with pytest.raises(PuzzleError, match="'59.0'.*write it as 59.*task=reasoning_gym task.dataset=number_sorting"):
        Sorting(length=4).from_text(REASONING_GYM_SORTING)


@pytest.mark.parametrize("number, rewrite", [("59.0", "59"), ("-59.00", "-59"), ("\u221259.0", "\u221259")])
def test_a_whole_number_written_with_a_decimal_point_is_told_how_to_write_it(number, rewrite):
    with pytest.raises(PuzzleError, match=rf"'{number}' .*only whole numbers can be sorted \(write it as {rewrite}\)"):
        Sorting(length=4).from_text(f"Sort: {number}, 2, 1, 0")


def test_a_number_with_a_fraction_is_not_told_to_drop_it():
    with pytest.raises(PuzzleError, match="only whole numbers can be sorted; ") as refused:
        Sorting(length=4).from_text("Sort: 3.5, 2, 1, 0")
    assert "write it as" not in str(refused.value)


def test_a_request_of_another_length_or_range_says_what_this_model_sorts():
    """"expected 4 numbers to sort, found 2" and "numbers [99] are outside the task's range 0..50" said
    what was wrong, not what this model takes nor which model takes the request as it is."""
    task = Sorting(length=4, low=0, high=50)
    with pytest.raises(PuzzleError) as refused:
        task.from_text("Sort: 1, 2")
    assert str(refused.value) == ("expected 4 numbers to sort, found 2: 1, 2; this model sorts 4 at a time "
                                  "(task.length=4): give 4, or use a model trained with task.length=2")
    with pytest.raises(PuzzleError) as refused:
        task.from_text("Sort: 1, 2, 3, 99")
    assert str(refused.value) == ("numbers [99] are outside the task's range 0..50 (task.low, task.high): give numbers "
                                  "from 0 to 50")
    with pytest.raises(PuzzleError, match=r"found 1: 7; this model sorts 4 at a time \(task.length=4\): give 4$"):
        task.from_text("Sort: 7")  # no model sorts one number
