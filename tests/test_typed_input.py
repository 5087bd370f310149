"""Several typed puzzles in one text (hybrid.solve --input, python -m eval --puzzles): one per
line, or one per block of lines when no line is a puzzle by itself."""

import json
import random
from functools import partial
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from eval.tasks import QA, Arc, Maze, PuzzleError, Sorting, Sudoku, Zebra, read_typed, split_typed, split_typed_lines
from eval.tasks.base import TypedPuzzle, typed_puzzles


def one_line(task: Sudoku, seed: int) -> str:
    return " ".join(str(v) if v else "_" for v in task.generate(random.Random(seed), 0).data["puzzle"])


def test_one_line_puzzles_need_no_blank_lines_between_them():
    task = Sudoku(4)
    lines = [one_line(task, seed) for seed in range(3)]
    assert split_typed("\n".join(lines) + "\n", task) == lines
    assert split_typed("\n\n".join(lines), task) == lines
    with_typo = [lines[0], "1 2 3", lines[1]]  # the bad line is its own (failing) puzzle
    assert split_typed("\n".join(with_typo), task) == with_typo


def test_a_block_of_lines_that_are_no_puzzle_alone_is_one_puzzle():
    sudoku, rng = Sudoku(4), random.Random(0)
    grids = [sudoku.generate(rng, 0).question.strip() for _ in range(2)]  # one row per line
    assert split_typed(f"{grids[0]}\n\n  \n{grids[1]}\n", sudoku) == grids
    maze = Maze(7)
    mazes = [maze.generate(rng, 0).question.strip() for _ in range(2)]
    assert split_typed("\n\n".join(mazes), maze) == mazes
    zebra = Zebra(3, 2)
    puzzles = [zebra.generate(rng, w).question.strip() for w in (0, 2)]
    assert split_typed("\n\n".join(puzzles), zebra) == puzzles
    assert [zebra.from_text(p).data for p in split_typed("\n\n".join(puzzles), zebra)] == \
        [zebra.from_text(p).data for p in puzzles]


def test_a_code_block_around_typed_puzzles_is_no_puzzle_of_its_own():
    """Pasted from a chat, one-line puzzles in a ``` block came out as three: the fences, each an
    error, and the request between them. A grid keeps its fences: the maze reads inside them."""
    sorting = Sorting(length=4, low=0, high=20)
    requests = ["Sort: 5, 12, 0, 3", "Sort descending: 1, 2, 3, 4"]
    assert split_typed("```text\n" + "\n".join(requests) + "\n```\n", sorting) == requests
    maze = Maze(7)
    grid = maze.generate(random.Random(0), 0).question.strip().splitlines()[-7:]  # its rows alone
    block = "\n".join(["```", *grid, "```"])
    assert split_typed(block, maze) == [block]
    assert maze.from_text(block).data["grid"] == maze.from_text("\n".join(grid)).data["grid"]


@pytest.mark.parametrize("text", ["```\n```", "```text\n\n```\n", "  ```\n\n\n"])
def test_a_code_blocks_fences_alone_are_no_puzzle_of_any_task(text):
    """An empty code block, its fences on two lines, was one puzzle to a task that parses text (no line of
    it reads alone) and failed as a puzzle with no cells; eval and solve say the input holds no puzzles."""
    from eval.tasks.base import holds_no_puzzle

    qa = QA(path=str(Path(__file__).parent / "data" / "qa_small.jsonl"))
    for task in (Sudoku(4), Maze(7), Zebra(3, 2), Sorting(length=4, low=0, high=20), Arc(max_size=4), qa):
        assert split_typed(text, task) == [] and split_typed(f"{text}\n\nSort: 2, 1", task)[-1] == "Sort: 2, 1", task
    assert holds_no_puzzle(text) and not holds_no_puzzle(text + "\n1 2 3")


@pytest.mark.parametrize("end", ["\r\n", "\r"])
def test_blocks_are_found_whatever_the_line_ends(end):
    maze, rng = Maze(7), random.Random(0)
    mazes = [maze.generate(rng, 0).question.strip() for _ in range(2)]
    typed = (end * 2).join(mazes).replace("\n", end)  # Windows, or old Mac: no "\n" at all
    assert split_typed(typed, maze) == mazes


def test_a_task_without_a_parser_takes_a_puzzle_per_line_or_per_block_when_its_questions_span_lines():
    task = QA(path=str(Path(__file__).parent / "data" / "qa_small.jsonl"))
    assert split_typed("What is 2+2?\nName a colour.\n\nWhy?", task) == ["What is 2+2?", "Name a colour.", "Why?"]
    arc = "\n".join(["ARC puzzle.", "Demonstration 1 input (2x2):", "1 0", "0 1", "Demonstration 1 output (2x2):",
                     "0 1", "1 0", "Test input (2x2):", "1 1", "0 0", "Test output:"])
    assert split_typed(f"{arc}\n\n{arc}\n", Arc(max_size=4)) == [arc, arc]  # grids: one puzzle per block


# ---- properties of every family's parser and verifier, checked on generated and mangled text ----

FAMILIES = {  # a family, and what makes two of its puzzles the same (the wording's glyphs are not the puzzle)
    "sudoku": (Sudoku(4), lambda e: e.data["puzzle"]),
    "maze": (Maze(7), lambda e: e.data["grid"]),
    "sorting": (Sorting(length=5, low=-20, high=20), lambda e: e.data),
    "zebra": (Zebra(3, 2), lambda e: e.data),
}
PROPERTY = settings(max_examples=40, deadline=None, derandomize=True, database=None)  # a few seconds, the same cases every run
# What typed text holds besides what the renderers write: digits int() cannot read (superscript) or
# can (Arabic-Indic, full width), other spaces and line ends, a byte-order mark, symbols.
ODD = "²³٣３\u00a0\u2003\t\r\n\ufeff,;:-_.?#*|=()[]{}SGxé"
CHARACTERS = st.sampled_from(ODD) | st.characters(codec="utf-8")


@st.composite
def puzzles(draw, name: str):
    task, _ = FAMILIES[name]
    wording = draw(st.integers(0, task.num_wordings - 1))
    return task.generate(random.Random(draw(st.integers(0, 10**6))), wording)


@st.composite
def mangled(draw, text: str) -> str:
    """`text` with a few characters inserted, deleted, swapped or replaced."""
    for _ in range(draw(st.integers(1, 4))):
        i = draw(st.integers(0, len(text)))
        edit = draw(st.sampled_from(["insert", "delete", "swap", "replace"]))
        if edit == "insert":
            text = text[:i] + draw(CHARACTERS) + text[i:]
        elif edit == "delete":
            text = text[:i] + text[i + 1:]
        elif edit == "swap":
            text = text[:i] + text[i + 1:i + 2] + text[i:i + 1] + text[i + 2:]
        else:
            text = text[:i] + draw(CHARACTERS) + text[i + 1:]
    return text


@pytest.mark.parametrize("name", FAMILIES)
@PROPERTY
@given(data=st.data())
def test_every_wording_reads_back_as_the_same_puzzle_with_its_answer(name, data):
    task, key = FAMILIES[name]
    example = data.draw(puzzles(name))
    back = task.from_text(example.question, example.wording)
    assert key(back) == key(example) and back.answer == example.answer and back.labels == example.labels
    if not isinstance(task, Zebra):  # a logic grid puzzle is worded anew (its paraphrases are drawn)
        assert (back.question, back.slot_spans) == (example.question, example.slot_spans)
    for text in (example.question.replace("\n", "\r\n"), example.question.replace("\n", "  \n") + "\n"):
        assert key(task.from_text(text, example.wording)) == key(example)  # Windows line ends, trailing spaces
    assert task.verify(example, example.answer) and task.verify(example, task.decode(example, example.labels))


@pytest.mark.parametrize("name", FAMILIES)
@PROPERTY
@given(data=st.data())
def test_mangled_text_is_a_puzzle_or_a_puzzle_error_never_a_crash(name, data):
    task, _ = FAMILIES[name]
    example = data.draw(puzzles(name))
    text = data.draw(mangled(example.question) | st.text(CHARACTERS, max_size=300))
    for read in (task.from_text, partial(read_typed, task)):  # read_typed: also the families it may look like
        try:
            read(text, example.wording)
        except PuzzleError:
            pass
    answer = data.draw(mangled(example.answer) | st.text(CHARACTERS, max_size=300))
    assert task.verify(example, answer) in (True, False)
    assert 0.0 <= task.score(example, answer) <= 1.0


@pytest.fixture(scope="module")
def text_answer_puzzles():
    """A puzzle of each family whose answer is text without a parser of its own: ARC, QA."""
    arc, qa = Arc(max_size=4), QA(path=str(Path(__file__).parent / "data" / "qa_small.jsonl"))
    return [(task, task.generate(random.Random(0), 0)) for task in (arc, qa)]


@PROPERTY
@given(data=st.data())
def test_arc_and_qa_verifiers_judge_any_text(text_answer_puzzles, data):
    for task, example in text_answer_puzzles:
        answer = data.draw(mangled(example.answer) | st.text(CHARACTERS, max_size=300))
        assert task.verify(example, answer) in (True, False) and 0.0 <= task.score(example, answer) <= 1.0


def test_a_fence_or_blank_lines_alone_make_no_arc_puzzle():
    """A chat's code block around an ARC puzzle whose closing fence follows a blank line made a
    second puzzle, "```", answered as an error; and a puzzle with blank lines between its grids came
    apart into puzzles of one grid each, each refused as "found 1 grids" without saying why."""
    from eval.tasks import PuzzleError
    from eval.tasks.arc import Arc, read_task

    arc = Arc(max_size=4)
    puzzle = "in:\n1 0\nout:\n0 1\ntest in:\n5 0\ntest out:"
    assert split_typed(f"```\n{puzzle}\n\n```\n", arc) == [f"```\n{puzzle}"]
    parts = split_typed(puzzle.replace("\nout", "\n\nout").replace("\ntest in", "\n\ntest in"), arc)
    assert len(parts) == 3
    with pytest.raises(PuzzleError, match=r"found 1 grid in the puzzle.*a blank line ends a puzzle"):
        read_task(parts[0])


@pytest.mark.parametrize("name", ["sudoku6.txt", "sudoku6.jsonl"])
def test_the_docs_example_puzzles_are_read_by_eval_and_solve_as_the_default_task(name):
    """README and docs/ point `python -m eval RUN --puzzles` and `hybrid.solve --input` at these
    files for a model of the default job (`runs/default`): every puzzle must read, as that model's
    task, in both commands, and the two files must hold the same puzzles."""
    from eval.puzzle_file import parse_puzzles, read_puzzles
    from eval.tasks import make_task
    from hybrid.config import load_config
    from hybrid.solve import read_items

    examples = Path(__file__).resolve().parent.parent / "docs" / "examples"
    path = examples / name
    task = make_task(load_config([]).task)
    parsed, failures = parse_puzzles(task, read_puzzles(path, task))
    assert failures == [] and len(parsed) == 3
    items = read_items(path.read_text(), lambda plain: split_typed_lines(plain, task))
    assert [item.error for item in items] == [None] * 3
    assert [task.from_text(item.puzzle).question for item in items] == [example.question for example in parsed]
    assert [item.puzzle for item in items] == (examples / "sudoku6.txt").read_text().splitlines()


@pytest.mark.parametrize("name", ["mine.txt", "mine.jsonl", "MINE.JSONL", "mine"])
def test_a_puzzle_file_is_read_by_its_lines_not_its_name_the_same_by_eval_and_solve(tmp_path, name):
    """`python -m eval --puzzles` read a file as JSON lines by its name (.jsonl) and `hybrid.solve
    --input` by its lines: a .txt file of JSON lines was plain text to eval (a Sudoku line's "id": 7
    one more cell), and a .jsonl file's plain puzzles, or a grid typed row by row, were each a line
    that is no JSON. Both read every line written as JSON as one puzzle and the rest as typed text,
    whatever the file is named, and name the same line with the same error."""
    from eval.__main__ import read_data
    from hybrid.config import load_config
    from hybrid.data import answering_wording
    from hybrid.solve import read_items

    config = load_config(["task=sudoku", "task.size=4"])
    task = Sudoku(4)
    lines = [one_line(task, seed) for seed in range(4)]
    grid = "\n".join(lines[3][i:i + 8].strip() for i in range(0, 32, 8))  # row by row: a block of 4 lines
    path = tmp_path / name
    path.write_text(f"{json.dumps({'id': 7, 'question': lines[0]})}\n{json.dumps(lines[1])}\n{lines[2]}\n"
                    f'{{"question": "{lines[0]}"\n\n{grid}\n', encoding="utf-8")
    _, _, parsed, failures, _ = read_data(task, config, "test", path)
    items = read_items(path.read_text(encoding="utf-8"), lambda plain: split_typed_lines(plain, task))
    wording = answering_wording(task, config.task)
    assert [e.question for e in parsed] == [read_typed(task, item.puzzle, wording).question
                                            for item in items if item.error is None]
    assert [e.data["puzzle"] for e in parsed] == [task.from_text(text).data["puzzle"]
                                                  for text in (lines[0], lines[1], lines[2], grid)]
    assert [(f["line"], f["error"]) for f in failures] == [(4, item.error) for item in items if item.error]
    assert failures[0]["error"].startswith("line 4 is not valid JSON")

# ---- what a person reads when a typed puzzle cannot be read ----


WHAT = {"sudoku": "a sudoku", "maze": "a maze", "sorting": "a sorting request", "zebra": "a logic-grid (zebra) puzzle"}


@pytest.mark.parametrize("name, other", [(a, b) for a in FAMILIES for b in FAMILIES if a != b])
def test_a_puzzle_of_another_family_is_named_with_the_model_that_answers_it(name, other):
    """A puzzle given to a model of another family was told that family's reading error: a maze given
    to a sudoku model "this sudoku has more than one solution; add givens" (its '.' read as blanks), a
    sudoku given to a maze model "expected a 7x7 maze ..., found 1 rows of lengths [16]", a zebra puzzle
    given to a sorting model "cannot read 'The' as part of a number". Every wording of each family is
    named as that family, with the model that answers it."""
    from eval.puzzle_file import parse_puzzles

    task, source = FAMILIES[name][0], FAMILIES[other][0]
    texts = [source.generate(random.Random(seed), wording).question
             for wording in range(source.num_wordings) for seed in range(3)]
    parsed, failures = parse_puzzles(task, [TypedPuzzle(text) for text in texts])
    assert parsed == [] and {f["error"] for f in failures} == {
        f"this looks like {WHAT[other]}, but this model was trained on task={name}: answer it with a model "
        f"trained with task={other}"}


def test_a_puzzle_of_the_models_own_family_keeps_its_own_reason():
    """Only another family's puzzle is named so: a sudoku of another size, a maze of another size or
    with a typo, or a sorting request of another length is told what is wrong with it as that family's
    puzzle. (A maze with a digit typed for a wall was "a sudoku": its 15 '.' blanks and the digit made a
    4x4 sudoku's 16 cells.)"""
    from eval.puzzle_file import parse_puzzles

    sudoku9 = " ".join(str(v) if v else "." for v in Sudoku(9, givens=30).generate(random.Random(0), 0).data["puzzle"])
    typo = "# # # 3 # # #\n# S . . # . #\n# # # . # . #\n# . . . . . #\n# . # # # # #\n# . . . . G #\n# # # # # # #"
    assert typo.count(".") == 15  # with the 3: a 4x4 sudoku's 16 cells
    for task, text, said in ((Sudoku(4), sudoku9, "81 cells make a 9x9 sudoku"),
                             (Maze(7), Maze(9).generate(random.Random(0), 0).question, "expected a 7x7 maze"),
                             (Maze(7), typo, "unexpected symbols '3' in the maze"),
                             (Sorting(length=5, low=-20, high=20), "Sort descending: 3, 1", "found 2")):
        _, [failure] = parse_puzzles(task, [TypedPuzzle(text)])
        assert said in failure["error"] and "looks like" not in failure["error"]


@pytest.mark.parametrize("name, form", [
    ("sudoku", "type a 4x4 sudoku: its 16 cells row by row, each a digit 1-4 or a blank (_ . 0 or ?)"),
    ("maze", "type a 7x7 maze: 7 rows of 7 cells, the border walls included: # wall, . floor, one S (start), "
             "one G (goal)"),
    ("sorting", "type a request and 5 whole numbers from -20 to 20, e.g. 'Sort descending: "),
    ("zebra", "type 2 lines that each list 3 values, like 'Names: Alice, Bob, Carol.', then one clue per line, like "
              "'1. Bob lives next to the cat owner.'"),
])
def test_an_empty_question_says_so_and_what_a_puzzle_of_the_family_looks_like(name, form):
    """{"question": ""} was told the family's reading error of no text: "expected 16 cells for a 4x4
    sudoku, found 0", "expected a 7x7 maze (7 lines of 7 cells), found 0 rows of lengths []"."""
    from eval.puzzle_file import parse_puzzles

    task = FAMILIES[name][0]
    _, failures = parse_puzzles(task, typed_puzzles('{"question": ""}\n" \\n "', partial(split_typed_lines, task=task)))
    assert [f["line"] for f in failures] == [1, 2]
    assert all(f["error"].startswith(f"line {f['line']}: the question is empty: {form}") for f in failures)


def test_a_file_and_stdin_of_the_same_bytes_are_read_alike_by_one_reader(tmp_path, monkeypatch):
    """hybrid.solve read stdin with its own code (Windows line ends kept, its "cannot read -") and eval a file
    with another; both read typed input through `read_input` now: the same bytes give the same text from a file
    and from stdin, and a Latin-1 input is the same error for either command."""
    import io

    from eval.tasks.base import UnreadableInput, read_input

    given = "\ufeff1 2 _ _\r\n_ _ 3 4\r\n".encode()
    (tmp_path / "in.txt").write_bytes(given)
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(given)))
    from_stdin, from_file = read_input("-", "--input"), read_input(tmp_path / "in.txt", "--puzzles")
    assert from_stdin == from_file == ("1 2 _ _\n_ _ 3 4\n", given)
    (tmp_path / "latin1.txt").write_bytes("Sort: café\n".encode("latin-1"))
    for flag in ("--input", "--puzzles"):
        with pytest.raises(UnreadableInput, match=r"cannot read .*latin1.txt: not UTF-8 text \('utf-8' codec"):
            read_input(tmp_path / "latin1.txt", flag)
    monkeypatch.setattr("sys.stdin", None)
    with pytest.raises(UnreadableInput, match="stdin is closed: give the puzzles with --puzzles FILE"):
        read_input("-", "--puzzles")
