"""Sudoku as text.

An example instance (6x6, boxes of 2 rows x 3 columns, wording 0) as the backbone reads it:

    Sudoku 6x6 with boxes of 2x3. Fill every _ so that each row, column and box holds 1-6 once.
    row 1: _ _ 3 | _ _ _
    row 2: _ 5 _ | 1 _ _
    ...

Answer text: the full grid, one row per line, digits separated by spaces ("1 2 3 4 5 6\n...").
Answer slots: the n*n cells in reading order, class id = digit - 1. Givens are slots too: the
reasoner predicts the whole grid, as TRM does.

Puzzles are generated from a random full grid by removing givens in random order while the
solution stays unique (a given can go when a bitmask solver finds no solution with another
digit in its cell), so every puzzle has exactly one solution; `givens=None` removes until no
given can go (minimal).
"""

from __future__ import annotations

import random
import re
import string
from dataclasses import dataclass

from eval.tasks.base import Example, PuzzleError, SpanText, Task, TaskConfig, listed

BOX_SHAPES = {4: (2, 2), 6: (2, 3), 8: (2, 4), 9: (3, 3)}
BLANKS = "_.0?"  # symbols accepted as an empty cell when reading a grid back
# Fewest givens a puzzle with one solution can have: 4x4 by exhaustive search (no 3 givens of
# any of the 288 grids fix it), 9x9 proved by McGuire et al. (2012). Other sizes get the bound
# n - 1 (a puzzle lacking two digits has a second solution with them swapped).
MIN_GIVENS = {4: 4, 9: 17}
# Fewest givens that removing at random (`make_puzzle`) comes down to from at least 1 full grid in
# 50 (the measured shares are in docs/tasks.md). One fewer is reached from 1 grid in 235 (6x6), 500
# (9x9) or 800 (8x8), and 17 at 9x9 from practically none: a puzzle would draw hundreds of grids, a
# split of them run for hours, then stop at one that ran out of TRIES. Such a `givens` is refused.
REACHED = {4: 4, 6: 9, 8: 17, 9: 22}
TRIES = 1000  # full grids drawn for one puzzle with `givens` before giving up


@dataclass
class SudokuConfig(TaskConfig):
    name: str = "sudoku"
    size: int = 6  # 4, 6, 8 or 9
    givens: int | None = None  # None: minimal puzzles (no given can be removed)


class Grid:
    """Geometry of an n x n Sudoku: which cells share a row, column or box."""

    def __init__(self, size: int):
        if size not in BOX_SHAPES:
            raise PuzzleError(f"task.size={size}: Sudoku size {size} is not supported; choose one of {sorted(BOX_SHAPES)}")
        self.n = size
        self.box_rows, self.box_cols = BOX_SHAPES[size]
        self.full = (1 << size) - 1
        self.units = [(i // size, i % size, self.box(i)) for i in range(size * size)]  # (row, column, box) of each cell

    def box(self, cell: int) -> int:
        r, c = divmod(cell, self.n)
        return (r // self.box_rows) * (self.n // self.box_cols) + c // self.box_cols


def _masks(grid: Grid, cells: list[int]):
    rows, cols, boxes = [0] * grid.n, [0] * grid.n, [0] * grid.n
    for v, (r, c, b) in zip(cells, grid.units):
        if v:
            bit = 1 << (v - 1)
            if (rows[r] | cols[c] | boxes[b]) & bit:
                return None  # a digit repeats: no solution
            rows[r] |= bit
            cols[c] |= bit
            boxes[b] |= bit
    return rows, cols, boxes


def solve(grid: Grid, cells: list[int], limit: int = 2, rng: random.Random | None = None) -> list[list[int]]:
    """Up to `limit` solutions of `cells` (0 = empty). Depth-first on the most constrained
    cell (the first in reading order among equals: the sampler's grid for a seed depends on it);
    with `rng` the digit order is shuffled, which turns it into a random-grid sampler."""
    masks = _masks(grid, cells)
    if masks is None:
        return []
    rows, cols, boxes = masks
    cells, full, solutions = list(cells), grid.full, []

    def search(empty: list[tuple[int, int, int, int]]) -> None:  # (cell, row, column, box), in reading order
        best, best_options, best_count = -1, 0, grid.n + 1
        for k, (_, r, c, b) in enumerate(empty):
            options = full & ~(rows[r] | cols[c] | boxes[b])
            count = options.bit_count()
            if count < best_count:
                best, best_options, best_count = k, options, count
                if count <= 1:
                    break
        if best < 0:
            solutions.append(list(cells))
            return
        i, r, c, b = empty[best]
        rest = empty[:best] + empty[best + 1:]
        digits = [d for d in range(grid.n) if best_options >> d & 1]
        if rng is not None:
            rng.shuffle(digits)
        for d in digits:
            bit = 1 << d
            cells[i] = d + 1
            rows[r] |= bit
            cols[c] |= bit
            boxes[b] |= bit
            search(rest)
            rows[r] ^= bit
            cols[c] ^= bit
            boxes[b] ^= bit
            if len(solutions) >= limit:
                break
        cells[i] = 0

    search([(i, *grid.units[i]) for i, v in enumerate(cells) if not v])
    return solutions


def still_unique_without(grid: Grid, puzzle: list[int], cell: int) -> bool:
    """Whether `puzzle`, which has one solution, keeps just that one with `cell` emptied: no
    solution puts another digit there. Cheaper than counting solutions: the search skips the
    branch that holds the known solution."""
    digit, other = puzzle[cell], list(puzzle)
    other[cell] = 0
    rows, cols, boxes = _masks(grid, other)
    r, c, b = grid.units[cell]
    fits = grid.full & ~(rows[r] | cols[c] | boxes[b]) & ~(1 << (digit - 1))  # other digits the cell allows
    for d in range(grid.n):
        if fits >> d & 1:
            other[cell] = d + 1
            if solve(grid, other, limit=1):
                return False
    return True


def make_puzzle(grid: Grid, rng: random.Random, givens: int | None) -> tuple[list[int], list[int]]:
    """(puzzle, solution) with a unique solution and `givens` clues (minimal when None). Removing
    givens gets stuck above a few counts near the minimum, so a grid that does is drawn again,
    up to `TRIES` times."""
    target = 0 if givens is None else givens
    for _ in range(TRIES):
        solution = solve(grid, [0] * grid.n**2, limit=1, rng=rng)[0]
        puzzle = list(solution)
        order = list(range(grid.n**2))
        rng.shuffle(order)
        for cell in order:
            if sum(1 for v in puzzle if v) <= target:
                break
            if still_unique_without(grid, puzzle, cell):
                puzzle[cell] = 0
        if givens is None or sum(1 for v in puzzle if v) == givens:
            return puzzle, solution
    raise PuzzleError(f"task.givens={givens}: none of {TRIES} random {grid.n}x{grid.n} grids came down to {givens} "
                      "givens with a unique solution; raise task.givens, or set it to null for minimal puzzles "
                      "(as few givens as removal reaches)")


# Each wording renders cell i as one symbol; `render` records where that symbol sits.
WORDINGS = (
    "rows",  # "row 1: 1 _ 3 | _ _ _"
    "cells",  # "r1c1=1, r1c2=?, ..."
    "prose",  # "Line 1 is 1 . 3 . . .;" (dots are blanks)
)


def render(grid: Grid, puzzle: list[int], wording: int) -> tuple[str, list[tuple[int, int]]]:
    """Question text and the character span of every cell's symbol in it."""
    n, emit = grid.n, SpanText()

    style = WORDINGS[wording % len(WORDINGS)]
    if style == "rows":
        emit(f"Sudoku {n}x{n} with boxes of {grid.box_rows}x{grid.box_cols}. Fill every _ so that "
             f"each row, column and box holds 1-{n} once.\n")
        for r in range(n):
            emit(f"row {r + 1}:")
            for c in range(n):
                if c and c % grid.box_cols == 0:
                    emit(" |")
                emit(" ")
                v = puzzle[r * n + c]
                emit(str(v) if v else "_", slot=True)
            emit("\n")
    elif style == "cells":
        emit(f"Solve this {n} by {n} sudoku ({grid.box_rows} by {grid.box_cols} boxes). "
             f"Unknown cells are marked ?.\n")
        for i in range(n * n):
            r, c = divmod(i, n)
            emit(f"r{r + 1}c{c + 1}=")
            v = puzzle[i]
            emit(str(v) if v else "?", slot=True)
            emit(", " if c < n - 1 else "\n")
    else:
        emit(f"Here is a {n}x{n} number puzzle: every row, every column and every "
             f"{grid.box_rows}-by-{grid.box_cols} block must contain each number from 1 to {n} "
             f"exactly once. Dots are blanks.\n")
        for r in range(n):
            emit(f"Line {r + 1} is")
            for c in range(n):
                emit(" ")
                v = puzzle[r * n + c]
                emit(str(v) if v else ".", slot=True)
            emit(";\n")
    return emit.result()


# What the wordings write around the cells ("row 1:", "r1c1=", "Line 1 is"): their digits are not cells.
# Spaced any way when typed ("r1c1 = 5", "row  1 :", a tab), or their digits were read as cells.
CELL_LABELS = re.compile(r"\brow\s*\d+\s*:|\br\d+c\d+\s*=|\bLine\s*\d+\s*is", re.IGNORECASE)


def is_cell(ch: str) -> bool:
    """A cell symbol: a digit 0-9 or one of `BLANKS` (not "²": str.isdigit() takes it, int() cannot read it)."""
    return ch in string.digits or ch in BLANKS


def holds_cells(line: str) -> bool:
    """Whether a line is a row of cells rather than words: most of its words (split at spaces, the "|", ","
    or ";" the wordings write, and box-drawing lines) are cell symbols ("5", "_", "530070000") or one
    character each (an "x" typed for a blank, which `stray_characters` then names). A sentence around a
    grid is not: its "?" or "." would be a blank and its digits cells."""
    line = CELL_LABELS.sub(lambda label: " " * len(label[0]), line)
    words = [w for w in re.split(r"[\s|,;\u2500-\u257f]+", line) if w]
    return sum(len(w) == 1 or all(map(is_cell, w)) for w in words) * 2 > len(words)


def stray_characters(text: str, most: int = 3) -> list[str]:
    """Where characters that are no cell stand in a line of cells (`holds_cells`: "x" or an "O" typed
    for a blank or a "0"), as "'x' (line 2, column 14)": such a character is ignored like any other text,
    so a count of cells alone would not say what to fix. Digits other than 0-9 are named by `parse_grid`."""
    found = []
    for number, line in enumerate(text.splitlines(), 1):
        if not holds_cells(line):
            continue
        line = CELL_LABELS.sub(lambda label: " " * len(label[0]), line)  # blanked out, so columns stay as typed
        found += [f"{ch!r} (line {number}, column {column})" for column, ch in enumerate(line, 1)
                  if not (ch.isspace() or ch in "|,;" or "\u2500" <= ch <= "\u257f" or is_cell(ch) or ch.isdigit())]
    return found[:most]


def repeat(grid: Grid, cells: list[int]) -> str:
    """Where a digit stands twice ("two 5s in row 1"), the first such in reading order; "" when none does."""
    seen = {}
    for v, units in zip(cells, grid.units):
        for kind, unit in zip(("row", "column", "box"), units):
            if v and (kind, unit, v) in seen:
                return f"two {v}s in {kind} {unit + 1}"
            seen[kind, unit, v] = True
    return ""


def blocked(grid: Grid, cells: list[int]) -> str:
    """An empty cell that no digit fits ("row 2, column 3 can hold no digit: ..."), the first in reading
    order; "" when each can hold one (the contradiction then shows only some guesses in). Givens without
    a repeat (see `repeat`)."""
    rows, cols, boxes = _masks(grid, cells)
    for v, (r, c, b) in zip(cells, grid.units):
        if not v and rows[r] | cols[c] | boxes[b] == grid.full:
            return f"row {r + 1}, column {c + 1} can hold no digit: its row, column and box hold all of 1-{grid.n}"
    return ""


def cells_form(n: int) -> str:
    """What an n x n sudoku typed is, as errors tell it."""
    return f"its {n * n} cells row by row, each a digit 1-{n} or a blank ({' '.join(BLANKS[:-1])} or {BLANKS[-1]})"


def looks_like(text: str) -> bool:
    """Whether typed text is a sudoku of one of the sizes here: its cells read, some given and some blank
    (its '0's taken for blanks only in a text without commas: a list of numbers to sort has them), and
    nothing else among them (a maze's '.' are blanks too, but its '#' and 'S' are no cells, nor is a
    typo's digit among them a given). For naming the family of a puzzle another family's model cannot
    read (`eval.tasks.read_typed`)."""
    if stray_characters(text, most=1):
        return False
    for size in BOX_SHAPES:
        try:
            cells = parse_grid(Grid(size), text)
        except PuzzleError:
            continue
        zero_only = not any(blank in text for blank in BLANKS if blank != "0")
        return any(cells) and 0 in cells and not (zero_only and "," in text)
    return False


def parse_grid(grid: Grid, text: str) -> list[int]:
    """Read n*n cells (digits, or one of `BLANKS` for empty) from free text, ignoring the rest:
    the cell labels of the wordings, and a first line of instructions when the cells follow it,
    so a puzzle reads back in any wording `render` writes as well as hand-written."""
    def cells(text: str) -> list[str]:
        return [ch for ch in CELL_LABELS.sub(" ", text) if is_cell(ch)]

    digits, found, shape = cells(text), "", ""
    counted = len(digits)
    lines = text.strip().splitlines()  # "\n", "\r\n" and an old Mac's bare "\r" each end a line
    if len(digits) != grid.n**2 and len(lines) > 1:
        # Lines of words around the grid (instructions, a question after it) are left out, not any first
        # line: one that is a row (a row typed too many) would leave the grid's other rows read as the puzzle.
        kept = [line for line in lines if holds_cells(line)]
        if kept and cells(kept[0]) == [str(d) for d in range(1, grid.n + 1)]:
            kept = kept[1:] if len(cells("\n".join(kept))) == grid.n**2 + grid.n else kept  # a header of column numbers
        in_rows = cells("\n".join(kept))
        if len(in_rows) == grid.n**2:
            digits = in_rows
        counted = len(in_rows)
        where = "below the first line" if kept == lines[1:] else "on the lines that hold cells"
        found = f", {len(in_rows)} {where}" * (len(in_rows) != len(digits))  # what counts when the rest is words
        lengths = [len(cells(line)) for line in kept]
        if len(in_rows) != grid.n**2 and len(kept) > 1 and (len(kept) != grid.n or set(lengths) != {grid.n}):
            shape = (f"; the {len(kept)} lines of cells hold {listed(lengths, most=grid.n + 1)} cells, where a "
                     f"{grid.n}x{grid.n} sudoku has {grid.n} lines of {grid.n}")
    if len(digits) != grid.n**2:
        # A full-width "２" or an Arabic-Indic "٢" is a digit to a reader but no cell here: say so, not only a count
        odd = sorted({ch for ch in text if ch.isdigit() and ch not in string.digits})
        said = "is not read as a digit" if len(odd) == 1 else "are not read as digits"
        unread = f"; {', '.join(map(repr, odd))} {said}: type 0-9" * bool(odd)
        strays = stray_characters(text)
        said = "is not a cell" if len(strays) == 1 else "are not cells"
        typo = f"; {', '.join(strays)} {said}: type a digit or a blank" * bool(strays)
        # A puzzle of another size (reasoning-gym's sudoku is 9x9, its mini_sudoku 4x4): name the model it needs
        other = [m for m in BOX_SHAPES if counted == m * m]  # not n * n: those cells would have been read
        size = (f"; {counted} cells make a {other[0]}x{other[0]} sudoku, which a model trained with "
                f"task.size={other[0]} answers (this one has task.size={grid.n})") if other else ""
        raise PuzzleError(f"expected {grid.n**2} cells for a {grid.n}x{grid.n} sudoku, found {len(digits)}{found}: "
                          f"type {cells_form(grid.n)}{shape}{unread}{typo}{size}")
    values = [0 if ch in BLANKS else int(ch) for ch in digits]
    too_big = [f"{v} (row {i // grid.n + 1}, column {i % grid.n + 1})" for i, v in enumerate(values) if v > grid.n]
    if too_big:
        raise PuzzleError(f"a {grid.n}x{grid.n} sudoku holds digits 1-{grid.n} only: {listed(too_big, most=3)}")
    return values


class Sudoku(Task):
    name = "sudoku"
    num_wordings = len(WORDINGS)
    version = 2  # 2: test splits keep out training puzzles in any wording (puzzle_key)

    def __init__(self, size: int = 6, givens: int | None = None):
        self.grid = Grid(size)
        self.givens = givens
        self.vocab = tuple(str(d) for d in range(1, size + 1))
        self.num_slots = size * size
        max_givens, min_givens = size * size, MIN_GIVENS.get(size, size - 1)
        if givens is not None and not min_givens <= givens <= max_givens:
            raise PuzzleError(f"task.givens={givens} is out of range for a {size}x{size} sudoku ({min_givens}.."
                              f"{max_givens}: fewer than {min_givens} givens never have a unique solution)")
        if givens is not None and givens < REACHED[size]:
            raise PuzzleError(f"task.givens={givens}: removing givens at random from a full {size}x{size} grid, as the "
                              f"generator does, comes down to {givens} from under 1 grid in 50, so generating such "
                              f"puzzles would take hours or fail; choose task.givens >= {REACHED[size]}, or null for "
                              "minimal puzzles")

    def example(self, puzzle: list[int], solution: list[int], wording: int = 0) -> Example:
        question, spans = render(self.grid, puzzle, wording)
        return Example(
            question=question,
            answer=format_grid(self.grid, solution),
            labels=[v - 1 for v in solution],
            slot_spans=spans,
            data={"puzzle": puzzle, "size": self.grid.n},
            wording=wording,
        )

    def typed_form(self) -> str:
        """What to type for a puzzle of this model, as errors tell it."""
        return f"type a {self.grid.n}x{self.grid.n} sudoku: {cells_form(self.grid.n)}"

    def from_text(self, text: str, wording: int = 0) -> Example:
        """An example from a hand-written puzzle (digits and blanks) or one in any wording;
        raises PuzzleError when it cannot be read or has no unique solution."""
        puzzle = parse_grid(self.grid, text)
        solutions = solve(self.grid, puzzle, limit=2)
        if not solutions:
            where = repeat(self.grid, puzzle) or blocked(self.grid, puzzle) or "the givens contradict"
            raise PuzzleError(f"this sudoku has no solution: {where}; check the givens against the puzzle as written")
        if len(solutions) > 1:
            raise PuzzleError("this sudoku has more than one solution; add givens")
        return self.example(puzzle, solutions[0], wording)

    def generate(self, rng: random.Random, wording: int) -> Example:
        puzzle, solution = make_puzzle(self.grid, rng, self.givens)
        return self.example(puzzle, solution, wording)

    def puzzle_key(self, example: Example) -> str:
        return "".join(map(str, example.data["puzzle"]))  # the givens: the wordings only write them differently

    def given_slots(self, example: Example) -> list[bool]:
        return [bool(v) for v in example.data["puzzle"]]  # the givens: the question writes their digits

    def decode(self, example: Example, ids: list[int]) -> str:
        return format_grid(self.grid, [int(i) + 1 for i in ids])

    def verify(self, example: Example, answer: str) -> bool:
        try:
            cells = parse_grid(self.grid, answer)
        except PuzzleError:
            return False
        puzzle = example.data["puzzle"]
        if any(p and p != v for p, v in zip(puzzle, cells)) or 0 in cells:
            return False
        return _masks(self.grid, cells) is not None


def format_grid(grid: Grid, cells: list[int]) -> str:
    n = grid.n
    return "\n".join(" ".join(str(v) for v in cells[r * n:(r + 1) * n]) for r in range(n))
