import itertools
import random
import re
import time

import pytest

from eval.tasks import IGNORE, Example, PuzzleError, make_task, zebra
from eval.tasks.zebra import CLUE_PARTS, Zebra, ZebraConfig, holds, parse_grid, random_clue, solve
from hybrid.config import load_config

# The puzzle in eval/tasks/zebra.py's docstring, as structured clues. Values are listed in class
# order (alphabetical); a clue item is (attribute, value index), houses are 0-based.
CATEGORIES = ["name", "pet", "drink"]
VALUES = [["Alice", "Bob", "Carol"], ["cat", "dog", "fish"], ["coffee", "milk", "tea"]]
NAME, PET, DRINK = 0, 1, 2
CLUES = [
    ["left", PET, 1, NAME, 2],  # the dog owner lives directly left of Carol
    ["at", NAME, 0, 2],  # Alice lives in house 3
    ["same", DRINK, 2, PET, 0],  # the tea drinker and the cat owner share a house
    ["not_same", NAME, 1, DRINK, 0],  # Bob is not the coffee drinker
    ["next", DRINK, 1, PET, 2],  # the milk drinker lives next to the fish owner
]
ANSWER = "House 1: Bob, dog, milk\nHouse 2: Carol, fish, coffee\nHouse 3: Alice, cat, tea"


QUESTION = """There are 3 houses in a row, numbered 1 to 3 from left to right. Each house is home to one person, \
and each person has a different name, pet and drink.
Names: Alice, Bob, Carol.
Pets: cat, dog, fish.
Drinks: coffee, milk, tea.
Clues:
1. Carol lives immediately to the right of the person who keeps a dog.
2. House 3 belongs to Alice.
3. The person who drinks tea and the person who keeps a cat live in the same house.
4. Bob is not the coffee drinker.
5. The milk drinker and the fish owner are next-door neighbours.
Who lives where?"""


def test_hand_written_puzzle_is_solved_rendered_and_verified():
    task = Zebra(houses=3, attributes=3)  # 8 clue slots by default
    example = task.example(CATEGORIES, VALUES, CLUES)
    assert example.question == QUESTION  # the module docstring's example
    assert example.answer == ANSWER
    assert task.aligned_slots and task.num_slots == 9 + CLUE_PARTS * 8
    # value slots, in listing order: the value's house (Alice 3, Bob 1, Carol 2 | cat 3, ...)
    assert example.labels[:9] == [2, 0, 1, 2, 0, 1, 1, 0, 2]
    assert example.labels[9:] == [IGNORE] * (task.num_slots - 9)
    texts = [example.question[a:b] for a, b in example.slot_spans]
    assert texts[:9] == ["Alice", "Bob", "Carol", "cat", "dog", "fish", "coffee", "milk", "tea"]
    assert example.question.index("Names: Alice") + len("Names: ") == example.slot_spans[0][0]
    assert texts[9:14] == ["1. ", "Carol", " lives immediately to the right of the person who keeps a ", "dog", ".\n"]
    assert texts[14:19] == ["2. House ", "3", " belongs to ", "Alice", ".\n"]
    assert texts[19:24] == ["3. The person who drinks ", "tea", " and the person who keeps a ", "cat",
                            " live in the same house.\n"]
    assert len(example.slot_spans) == 9 + CLUE_PARTS * len(CLUES)  # unused clue slots have no text
    clue_lines = example.question.split("Clues:\n")[1].rsplit("\n", 1)[0] + "\n"
    assert "".join(texts[9:]) == clue_lines  # clue slots tile the clue lines, in order
    assert all(a < b and b <= c for (a, b), (c, _) in zip(example.slot_spans, example.slot_spans[1:]))
    assert task.decode(example, example.labels) == ANSWER
    assert task.verify(example, ANSWER)
    # lines and values in any order, with or without attribute names
    assert task.verify(example, "house 3: tea, cat, Alice\nHouse 1: name=Bob, pet=dog, drink=milk\n"
                                "House 2 - carol, fish, coffee.")


def test_spans_in_every_wording():
    task = Zebra(houses=3, attributes=3)
    for wording in range(task.num_wordings):
        example = task.example(CATEGORIES, VALUES, CLUES, wording=wording, rng=random.Random(wording))
        texts = [example.question[a:b] for a, b in example.slot_spans]
        assert texts[:9] == [v for vs in VALUES for v in vs]
        for k, clue in enumerate(CLUES):
            parts = texts[9 + CLUE_PARTS * k:9 + CLUE_PARTS * (k + 1)]
            mentions = {parts[1], parts[3]}
            want = {VALUES[clue[1]][clue[2]]} | ({VALUES[clue[3]][clue[4]]} if len(clue) == 5 else
                                                 {str(clue[3] + 1), "third"})
            assert mentions <= want and len(mentions & {VALUES[clue[1]][clue[2]]}) == 1, (wording, parts)
            assert parts[4].endswith("\n") and all(parts)
        assert example.labels[:9] == [2, 0, 1, 2, 0, 1, 1, 0, 2]


def test_mention_labels():
    task = Zebra(houses=3, attributes=3, mention_labels=True)
    example = task.example(CATEGORIES, VALUES, CLUES)
    texts = [example.question[a:b] for a, b in example.slot_spans]
    house = {v: example.labels[i] for i, v in enumerate(texts[:9])}
    for i in range(9, len(texts)):
        part = (i - 9) % CLUE_PARTS
        want = house[texts[i]] if part in (1, 3) and texts[i] in house else IGNORE  # "3" in "House 3": no label
        assert example.labels[i] == want, texts[i]
    assert example.labels[14:19] == [IGNORE, IGNORE, IGNORE, 2, IGNORE]  # "2. House " "3" " belongs to " "Alice"
    assert task.decode(example, example.labels) == ANSWER


def test_decode_repairs_clashing_houses():
    task = Zebra(houses=3, attributes=3)
    example = task.example(CATEGORIES, VALUES, CLUES)
    ids = list(example.labels)
    ids[1] = 2  # Bob predicted in house 3 as well as Alice: Alice keeps it, Bob takes the free house 1
    assert task.decode(example, ids) == ANSWER
    ids[0], ids[1], ids[2] = 0, 0, 0  # all three names in house 1: Alice there, Bob and Carol fill 2, 3
    wrong = task.decode(example, ids)
    assert wrong.splitlines()[0] == "House 1: Alice, dog, milk" and not task.verify(example, wrong)
    assert task.score(example, wrong) == pytest.approx(6 / 9)


def test_verifier_rejects_wrong_grids():
    task = Zebra(houses=3, attributes=3)
    example = task.example(CATEGORIES, VALUES, CLUES)
    swapped = ANSWER.replace("dog", "X").replace("fish", "dog").replace("X", "fish")  # breaks clue 1
    assert not task.verify(example, swapped)
    repeated = ANSWER.replace("Carol, fish, coffee", "Carol, fish, milk")  # milk twice, coffee nowhere
    assert not task.verify(example, repeated)
    assert not task.verify(example, "\n".join(ANSWER.splitlines()[:2]))  # a house missing
    assert task.score(example, ANSWER) == 1.0
    assert task.score(example, swapped) == pytest.approx(7 / 9)
    assert task.score(example, "no idea") == 0.0


def test_verifier_rejects_a_value_in_two_houses_even_when_the_clues_hold():
    task = Zebra(houses=3, attributes=3)
    example = Example(question="", answer=ANSWER, labels=[0] * 9, data={"values": VALUES, "clues": [CLUES[1]]})
    assert task.verify(example, ANSWER)
    assert not task.verify(example, ANSWER.replace("Carol, fish", "Carol, dog"))  # two dogs, no fish; Alice in 3


def test_verifier_checks_clues_not_our_answer():
    # Without clue 2 (Alice in house 3) two assignments fit; both must verify.
    task = Zebra(houses=3, attributes=3)
    clues = CLUES[:1] + CLUES[2:]
    solutions = solve(3, 3, clues, limit=5)
    assert len(solutions) >= 2
    example = Example(question="", answer=ANSWER, labels=[0] * 9, data={"values": VALUES, "clues": clues})
    for pos in solutions:
        grid = [[pos[a].index(h) for a in range(3)] for h in range(3)]
        text = "\n".join(f"House {h + 1}: " + ", ".join(VALUES[a][v] for a, v in enumerate(row))
                         for h, row in enumerate(grid))
        assert task.verify(example, text)


def test_malformed_answers_and_puzzles_get_clear_errors():
    task = Zebra(houses=3, attributes=3)
    with pytest.raises(PuzzleError, match="expected one line per house"):
        parse_grid(VALUES, "Bob, dog, milk")
    with pytest.raises(PuzzleError, match="'zebra' is not a value"):
        parse_grid(VALUES, ANSWER.replace("dog", "zebra"))
    with pytest.raises(PuzzleError, match="house 1 has two values of one attribute"):
        parse_grid(VALUES, ANSWER.replace("Bob, dog", "Bob, cat, dog"))
    with pytest.raises(PuzzleError, match="house 2 has no value for: cat/dog/fish"):
        parse_grid(VALUES, ANSWER.replace("fish, ", ""))
    with pytest.raises(PuzzleError, match="house 2 is listed twice"):
        parse_grid(VALUES, ANSWER.replace("House 3", "House 2"))
    with pytest.raises(PuzzleError, match=r"no line for house\(s\) \[3\]"):
        parse_grid(VALUES, "\n".join(ANSWER.splitlines()[:2]))
    with pytest.raises(PuzzleError, match="more than one solution"):
        task.example(CATEGORIES, VALUES, CLUES[1:])
    with pytest.raises(PuzzleError, match="no solution"):
        task.example(CATEGORIES, VALUES, CLUES + [["at", NAME, 0, 0]])
    with pytest.raises(PuzzleError, match="houses=6"):
        make_task(ZebraConfig(houses=6))
    with pytest.raises(PuzzleError, match=r"clue \['left', 1, 5, 0, 2\] is not"):
        task.example(CATEGORIES, VALUES, CLUES + [["left", PET, 5, NAME, 2]])  # value 5 of 3
    with pytest.raises(PuzzleError, match=r"clue \['beside'"):
        task.example(CATEGORIES, VALUES, CLUES + [["beside", PET, 0, NAME, 2]])
    with pytest.raises(PuzzleError, match="unknown attribute"):
        task.example(["name", "pet", "planet"], VALUES, CLUES)
    with pytest.raises(PuzzleError, match="slots for 4"):
        Zebra(3, 3, max_clues=4).example(CATEGORIES, VALUES, CLUES)


@pytest.mark.parametrize("clue", [[], ["at", NAME, 0, 2.0], ["at", NAME, 0.0, 2], "at", None])
def test_a_hand_written_clue_of_the_wrong_shape_is_a_puzzle_error(clue):
    """An empty clue raised IndexError and a float index TypeError, not the error saying what a clue is."""
    with pytest.raises(PuzzleError, match="is not \\[kind, attribute, value, attribute, value\\]"):
        Zebra(houses=3, attributes=3).example(CATEGORIES, VALUES, CLUES[:4] + [clue])


def test_a_house_number_too_long_for_int_is_a_puzzle_error():
    """int() raises ValueError past 4300 digits: a wrong answer or a bad clue, not a crash."""
    task, huge = Zebra(houses=3, attributes=3), "1" * 5000
    example = task.from_text(QUESTION)
    assert task.verify(example, ANSWER.replace("House 3", f"House {huge}")) is False
    assert task.score(example, f"House {huge}: Alice, cat, tea") == 0.0
    with pytest.raises(PuzzleError, match="cannot read clue '2. House 1111"):
        task.from_text(QUESTION.replace("House 3 belongs", f"House {huge} belongs"))


def test_max_clues_too_few_for_one_solution_is_refused_not_looped_on(monkeypatch):
    # 3 x 2 needs 2 clues at least (4 of its 6 values mentioned, 2 per clue): refused at once.
    # 3 x 1 passes that bound with 1 clue but needs 2: generate gives up after TRIES puzzles.
    with pytest.raises(PuzzleError, match="max_clues=1: a 3 x 2 puzzle needs at least 2 clues"):
        make_task(ZebraConfig(houses=3, attributes=2, max_clues=1))
    with pytest.raises(PuzzleError, match="max_clues=0: a 3 x 2 puzzle needs at least 2 clues"):
        make_task(ZebraConfig(houses=3, attributes=2, max_clues=0))  # 0 is too few, not "the default"
    monkeypatch.setattr(zebra, "TRIES", 20)
    with pytest.raises(PuzzleError, match="max_clues=1: none of 20 3 x 1 puzzles.*raise task.max_clues"):
        Zebra(3, 1, max_clues=1).generate(random.Random(0), 0)


def test_puzzle_key_ignores_clue_order_and_the_sides_of_a_symmetric_clue():
    task, rng = Zebra(3, 3), random.Random(0)
    a = task.example(CATEGORIES, VALUES, CLUES, 0, rng)
    # the same clues in another order, symmetric ones told the other way round, in the held-out wording
    swapped = [[c[0], *c[3:5], *c[1:3]] if c[0] in ("same", "not_same", "next") else c for c in CLUES[::-1]]
    b = task.example(CATEGORIES, VALUES, swapped, 3, rng)
    assert a.question != b.question and task.puzzle_key(a) == task.puzzle_key(b)
    renamed = [["Alice", "Bob", "David"], *VALUES[1:]]  # other values: another puzzle
    assert task.puzzle_key(task.example(CATEGORIES, renamed, CLUES)) != task.puzzle_key(a)


def test_solver_matches_brute_force():
    rng = random.Random(0)
    houses, attributes = 3, 3
    every = [list(map(list, combo)) for combo in itertools.product(itertools.permutations(range(houses)),
                                                                   repeat=attributes)]
    for _ in range(40):
        truth = [rng.sample(range(houses), houses) for _ in range(attributes)]
        clues = [random_clue(truth, rng) for _ in range(rng.randrange(1, 5))]
        brute = [pos for pos in every if all(holds(c, pos) for c in clues)]
        found = solve(houses, attributes, clues, limit=len(every))
        assert sorted(found) == sorted(brute)
        assert truth in found


@pytest.mark.parametrize("houses,attributes", [(2, 1), (3, 2), (4, 3), (5, 3)])
def test_generated_puzzles_are_unique_and_minimal(houses, attributes):
    task = Zebra(houses, attributes)
    rng = random.Random(houses * 10 + attributes)
    for wording in range(task.num_wordings):
        example = task.generate(rng, wording)
        clues = example.data["clues"]
        assert len(solve(houses, attributes, clues)) == 1
        assert task.verify(example, example.answer)
        assert len(example.labels) == task.num_slots == houses * attributes + CLUE_PARTS * task.max_clues
        assert example.labels[houses * attributes:] == [IGNORE] * (task.num_slots - houses * attributes)
        assert len(example.slot_spans) == houses * attributes + CLUE_PARTS * len(clues)
        assert task.decode(example, example.labels) == example.answer
        for i in range(len(clues)):  # every clue is needed
            assert len(solve(houses, attributes, clues[:i] + clues[i + 1:])) > 1


def test_seeded_generation_wordings_and_paraphrases():
    task = Zebra(4, 3)
    a, b = task.generate(random.Random(9), 0), task.generate(random.Random(9), 0)
    assert (a.question, a.answer) == (b.question, b.answer)
    assert task.generate(random.Random(10), 0).question != a.question
    texts = [task.generate(random.Random(9), w).question for w in range(task.num_wordings)]
    assert len(set(texts)) == task.num_wordings
    assert "pos(" in texts[2] and "pos(" not in texts[0]
    assert {task.generate(random.Random(9), w).answer for w in range(task.num_wordings)} == {a.answer}
    # the same clue kind comes out in several phrasings across puzzles
    rng = random.Random(0)
    clue_lines = {line.split(". ", 1)[1] for _ in range(30)
                  for line in task.generate(rng, 0).question.splitlines() if line[:1].isdigit()}
    assert any("directly left of" in line for line in clue_lines)
    assert any("immediately to the right of" in line for line in clue_lines)


def test_config_and_held_out_wordings():
    from hybrid.data import generate_splits

    config = load_config(["task=zebra", "task.train_size=12", "task.test_size=6", "task.held_out_wordings=[3]"]).task
    assert (config.houses, config.attributes, config.mention_labels, config.wordings) == (3, 2, False, [0, 1, 2])
    task = make_task(config)
    assert task.num_slots == 6 + CLUE_PARTS * 5 and task.aligned_slots
    splits = generate_splits(task, config, seed=0)
    assert set(splits["train"]["wording"]) <= {0, 1, 2}
    assert set(splits["test_heldout"]["wording"]) == {3}
    assert all("Here is what we know:" in q for q in splits["test_heldout"]["question"])


def test_held_out_wording_is_a_paraphrase():
    # wording 3 states the same clues as wording 0 (same houses, left to right) in other sentences
    task = Zebra(3, 3)
    for seed in range(20):
        a, b = task.generate(random.Random(seed), 0), task.generate(random.Random(seed), 3)
        assert a.labels == b.labels and a.data["clues"] == b.data["clues"]
        lines_a = [line.split(". ", 1)[1] for line in a.question.splitlines() if line[:1].isdigit()]
        lines_b = [line.split(". ", 1)[1] for line in b.question.splitlines() if line[:1].isdigit()]
        assert len(lines_a) == len(lines_b) and not set(lines_a) & set(lines_b)


@pytest.mark.parametrize("houses,attributes", [(2, 1), (3, 2), (4, 3), (5, 4)])
def test_every_wording_reads_back_as_the_same_puzzle_in_any_wording(houses, attributes):
    task, rng = Zebra(houses, attributes), random.Random(houses + attributes)
    for wording in range(task.num_wordings):
        for _ in range(3):
            example = task.generate(rng, wording)
            for answering in range(task.num_wordings):
                back = task.from_text(example.question, answering)
                assert back.data == example.data and back.labels == example.labels, (wording, answering)
                assert back.wording == answering
            assert task.from_text(example.question, wording).slot_spans is not None


def test_a_typed_puzzle_in_mixed_wordings_and_loose_spacing_reads():
    task = Zebra(houses=3, attributes=3)
    assert task.from_text(QUESTION).question == QUESTION  # the docstring's puzzle, worded the same way
    typed = """drink in {tea, milk, coffee}
    The pets are fish, dog and cat.
    names:  carol, bob , alice
    - pos(pet=dog) + 1 = pos(name=Carol)
    ALICE   lives in the THIRD house
    * the tea drinker and the person who keeps a cat are one and the same person.
    Clue 4: Bob is not the coffee drinker
    5) The milk drinker lives beside the fish owner."""
    example = task.from_text(typed)
    assert example.data["clues"] == CLUES and example.data["values"] == VALUES  # values sorted as generated
    assert example.answer == ANSWER and example.question == QUESTION


def test_a_puzzle_typed_in_capitals_reads_in_every_wording():
    """The docs promise any capitals. Listings joined by "and" or "or" (wordings 1 and 3, the
    held-out one) were no listing once in capitals: "THE DRINKS ARE JUICE, MILK AND TEA." """
    task, rng = Zebra(houses=3, attributes=2), random.Random(5)
    for wording in range(task.num_wordings):
        example = task.generate(rng, wording)
        for case in (str.upper, str.title, str.swapcase):
            assert task.from_text(case(example.question), 0).data == example.data, (wording, case)


def test_a_line_that_is_almost_a_list_is_read_in_linear_time():
    """A line of 22 words and commas ending in "!" took 5 s to be found no listing (twice as long
    per word: 30 words, a quarter of an hour), a word of 10,000 letters 4 s (100,000: 7 minutes),
    and a long line of words and commas time in the square of its length. Such lines are skipped
    like any other line that is not part of the puzzle. The lines here are longer, so the bound
    can be loose (a busy CI machine must not fail it): read linearly they take about 0.25 s in
    all; read as before, minutes."""
    task = Zebra(houses=3, attributes=3)
    start = time.perf_counter()
    for line in ("Notes: " + "a, " * 30 + "!", "x" * 100_000, "b, " * 30_000 + "!"):
        assert task.from_text(f"{QUESTION}\n{line}").data == task.from_text(QUESTION).data
    assert time.perf_counter() - start < 10


@pytest.mark.parametrize("change,message", [
    (("Carol.", "Zoe."), "'Zoe' not among the name values"),
    (("House 3 belongs to Alice", "House 3 belongs to David"), "names 'David', which no listing has"),
    (("Bob is not the", "Bob is surely not the"), "cannot read clue '4. Bob is surely not"),
    (("4. Bob is not the coffee drinker.", "4. Bob likes long walks."), "cannot read clue '4. Bob likes"),
    (("House 3 belongs", "House 4 belongs"), "names house 4; houses are 1-3"),
    (("Pets: cat, dog, fish.\n", ""), "lists 3 names, 3 drinks; this task has 3 attribute"),
    (("Pets: cat, dog", "Pets: cat, cat"), "lists a value twice"),
    (("dog, fish.", "dog, tea."), "'Pets: cat, dog, tea.': 'tea' not among the pet values"),
    (("coffee drinker", "coffee drinker next to Alice"), "names 3 values; a clue names one or two"),
    (("2. House 3 belongs to Alice.\n", ""), "more than one solution"),
])
def test_a_puzzle_that_cannot_be_read_names_what_is_wrong(change, message):
    with pytest.raises(PuzzleError, match=re.escape(message)):
        Zebra(houses=3, attributes=3).from_text(QUESTION.replace(*change))


def _renumbered(bullet: str) -> str:
    """QUESTION with its clue numbers "k. " written as `bullet` with k for the number."""
    return re.sub(r"^(\d)\. ", lambda m: bullet.replace("k", m[1]) + " ", QUESTION, flags=re.MULTILINE)


@pytest.mark.parametrize("typed", [
    QUESTION.replace("Who lives where?", "Who owns the fish?"),  # a closing question naming a value
    QUESTION.replace("Who lives where?", "Which house does Bob live in, and what does he drink?"),
    # word processors' hyphens and dashes, each of them
    *(QUESTION.replace("next-door", f"next{dash}door") for dash in "\u2010\u2011\u2012\u2013\u2014\u2015\u2212"),
    QUESTION.replace("Carol lives", "Carol\u200b lives").replace("Bob,", "Bob\u2060,"),  # zero-width characters
    QUESTION.replace("4. Bob is not the coffee drinker.", "4. pos(name=Bob) \u2260 pos(drink=coffee)")
    .replace("5. The milk drinker and the fish owner are next-door neighbours.",
             "5. |pos(drink=milk) \u2212 pos(pet=fish)| = 1"),  # typeset formal clues
    _renumbered("(k)"), _renumbered("[k]"), _renumbered("#k"), _renumbered("k.)"), _renumbered("k -"),
    QUESTION.replace("Alice, Bob, Carol", "'Alice', 'Bob', 'Carol'"),
    QUESTION.replace("Alice, Bob, Carol", "\u201cAlice\u201d, \u201cBob\u201d, \u201cCarol\u201d"),
    QUESTION.replace("Alice, Bob, Carol", "Alice; Bob; Carol"),
    QUESTION.replace("to the right of the person", "to the right of\nthe person"),  # a clue wrapped in two lines
    QUESTION.replace("4. Bob is not", "4. Bob is\n   not"),
])
def test_a_puzzle_pasted_with_other_punctuation_reads_as_typed(typed):
    """Each of these read as an unreadable clue, or (quoted or semicolon-separated listings) as a
    puzzle lacking its names, though each says what QUESTION says."""
    task = Zebra(houses=3, attributes=3)
    assert task.from_text(typed).data == task.from_text(QUESTION).data


def test_an_under_determined_puzzle_names_values_whose_house_the_clues_leave_open():
    """"allow more than one solution; add clues" did not say which values the clues leave open."""
    with pytest.raises(PuzzleError, match=re.escape("two of them place Bob, Carol in other houses")):
        Zebra(houses=3, attributes=1).from_text("Names: Alice, Bob, Carol.\n1. Alice lives in house 1.")


def test_contradicting_clues_name_the_clue_that_breaks_the_others():
    typed = QUESTION.replace("Who lives where?", "6. Alice lives in house 1.\nWho lives where?")
    breaking = "clue '6. Alice lives in house 1.' contradicts the clues before it"
    with pytest.raises(PuzzleError, match=re.escape(breaking)):
        Zebra(houses=3, attributes=3).from_text(typed)


def test_a_contradicting_clue_after_a_repeated_one_is_named_by_its_own_line():
    """A clue given twice is read once, so clues were counted without the copy: the clue on line
    7 was called "clue 6", which is the repeated clue, not the one that breaks the others."""
    typed = QUESTION.replace("Who lives", "6. Bob is not the coffee drinker.\n7. Alice lives in house 1.\nWho lives")
    with pytest.raises(PuzzleError, match=re.escape("clue '7. Alice lives in house 1.' contradicts the clues before")):
        Zebra(houses=3, attributes=3).from_text(typed)


def test_a_reasoning_gym_zebra_item_is_pointed_to_the_reasoning_gym_task():
    reasoning_gym = pytest.importorskip("reasoning_gym")
    item = reasoning_gym.create_dataset("zebra_puzzles", seed=0, size=1)[0]
    with pytest.raises(PuzzleError, match=re.escape("task=reasoning_gym task.dataset=zebra_puzzles")):
        Zebra(houses=4, attributes=4).from_text(item["question"])


def test_a_puzzle_cut_by_a_blank_line_says_a_blank_line_ends_a_puzzle():
    """In a file a blank line ends a puzzle, so listings, blank line, clues are two puzzles, each
    refused for lacking the other half; the errors said nothing of why."""
    listings, clues = QUESTION.split("Clues:\n")
    task = Zebra(houses=3, attributes=3)
    for half in (listings, clues):
        with pytest.raises(PuzzleError, match="a blank line ends a puzzle"):
            task.from_text(half)


@pytest.mark.parametrize("typed", [
    QUESTION.replace("Alice, Bob, Carol", "Alice / Bob / Carol"),
    QUESTION.replace("4. Bob is not the coffee drinker.", "4. **Bob** is not the `coffee` drinker!"),  # Markdown
    QUESTION.replace("coffee drinker.", "coffee drinker;"),
])
def test_a_puzzle_pasted_with_markdown_or_other_separators_reads_as_typed(typed):
    task = Zebra(houses=3, attributes=3)
    assert task.from_text(typed).data == task.from_text(QUESTION).data


def test_a_clue_given_twice_is_read_once():
    """A clue pasted twice took a second clue slot: past task.max_clues the puzzle was refused for
    having too many clues, and within it the model read a clue set unlike any it trained on."""
    task = Zebra(houses=3, attributes=3)
    twice = QUESTION.replace("Who lives", "6. Bob is not the coffee drinker.\n7. The fish owner and the milk drinker "
                             "are next-door neighbours.\nWho lives")
    assert task.from_text(twice).data == task.from_text(QUESTION).data


@pytest.mark.parametrize("clue,message", [
    ("Dave lives in house 1.", "names none of the listed values (Alice, Bob, Carol, cat"),
    ("Dave is not the coffee drinker.", "of the listed values it names only 'coffee'"),
])
def test_a_clue_naming_an_unlisted_person_says_which_values_it_names(clue, message):
    """"names 0 values" (Dave looks like one) and "none of the clue sentences" (it is one) did not
    say that the name is what is not known."""
    with pytest.raises(PuzzleError, match=re.escape(message)):
        Zebra(houses=3, attributes=3).from_text(QUESTION.replace("Who lives", f"6. {clue}\nWho lives"))


def test_a_puzzle_of_another_size_says_which_model_reads_it():
    """"this puzzle lists 4 names, 4 jobs; this task has 2 attribute(s) of 3 values each" said what was
    wrong, not what to do about it."""
    question = Zebra(houses=4, attributes=2).generate(random.Random(0), 0).question
    with pytest.raises(PuzzleError, match=re.escape(
            "this task has 2 attribute(s) of 3 values each (task.attributes, task.houses): give a puzzle of 3 houses "
            "with 2 attributes, or use a model trained with task.houses=4 task.attributes=2")):
        Zebra(houses=3, attributes=2).from_text(question)


@pytest.mark.parametrize("houses, attributes", [(2, 1), (3, 1), (5, 1), (2, 2), (3, 2), (5, 4)])
def test_what_to_type_gives_an_example_a_puzzle_of_this_model_can_hold(houses, attributes):
    """The example clue a user is told to type ('1. Bob lives next to the cat owner.') named a pet for a
    3 x 1 model too, whose puzzles list one attribute, so a clue of theirs names values of that one
    alone. Each example (the listing and the clue) reads, and names no more attributes than the model's."""
    from eval.tasks.zebra import CATALOGUE, CATEGORIES, read_clue, read_listing

    form = Zebra(houses, attributes).typed_form()
    listing, clue = re.findall(r"like '([^']*)'", form)
    category, values = read_listing(listing)
    assert len(values) == houses
    named = {CATALOGUE[word.lower()][0] for word in re.findall(r"\w+", clue) if word.lower() in CATALOGUE}
    assert category in named and len(named) <= attributes, form
    listed = {c: list(CATEGORIES[c][1][:houses]) for c in named} | {category: values}
    read_clue(clue, listed, houses)  # one clue of a puzzle of this model


@pytest.mark.parametrize("houses, categories", [(3, ["pet"]), (2, ["name"]), (4, ["drink", "job"]),
                                                (3, ["color", "sport", "pet"]), (5, ["name", "pet"])])
def test_the_examples_a_typed_puzzle_error_shows_read_in_that_puzzle(houses, categories):
    """An unreadable clue, and a puzzle of no clues, were told to write clues like 'Bob lives next to the cat
    owner.' whatever the puzzle listed: in a puzzle of pets alone (a 3 x 1 puzzle may list only pets) typing it
    failed again ("names 'Bob', which no listing has"). A puzzle of no listing was shown 'Names: Alice, Bob,
    Carol.' whatever task.houses. Each example now names the puzzle's own values (a listing: the model's
    houses), so typed into the puzzle it reads: one clue alone leaves more than one solution, nothing worse."""
    from eval.tasks.zebra import CATEGORIES

    task = Zebra(houses, len(categories))
    listings = "\n".join(f"{CATEGORIES[c][0].capitalize()}s: {', '.join(CATEGORIES[c][1][:houses])}."
                         for c in categories)
    shown = []
    for puzzle in (f"{listings}\n1. {CATEGORIES[categories[0]][1][0]} is happy.", listings):
        with pytest.raises(PuzzleError) as err:
            task.from_text(puzzle)
        shown.append(re.search(r"e\.g\. '(?:1\. )?([^']*)'", str(err.value)).group(1))
    for clue in shown:
        with pytest.raises(PuzzleError, match="more than one solution"):
            task.from_text(f"{listings}\n1. {clue}")
    with pytest.raises(PuzzleError, match="found no line listing") as err:
        task.from_text("1. Bob lives next to the cat owner.")
    listing = re.search(r"like '([^']*)'", str(err.value)).group(1)
    one = "\n".join([listing] + [f"{CATEGORIES[c][0].capitalize()}s: {', '.join(CATEGORIES[c][1][:houses])}."
                                 for c in ("pet", "drink", "job", "sport", "color")][:len(categories) - 1])
    with pytest.raises(PuzzleError, match="found no clues"):  # the listing reads, as the model's size
        task.from_text(one)
