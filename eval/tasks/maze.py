"""Mazes as text: find a shortest path from start to goal.

An example instance (size 7, wording 0) as the backbone reads it:

    Find a shortest path from S to G in this maze. # is a wall, . is open floor; each step
    moves up, down, left or right onto open floor.
    # # # # # # #
    # S . . # . #
    # # # . # . #
    # . . . . . #
    # . # # # # #
    # . . . . G #
    # # # # # # #

Answer text: the same grid with the cells of one shortest path (start and goal excluded)
marked `*`:

    # # # # # # #
    # S * * # . #
    # # # * # . #
    # * * * . . #
    # * # # # # #
    # * * * * G #
    # # # # # # #

Answer slots: the size*size cells in reading order, class id = index of the cell's glyph in
`VOCAB` ("#", ".", "S", "G", "*"). Walls, start and goal are slots too: the reasoner predicts
the whole grid, as TRM does on Maze-Hard. Every cell is its own glyph separated by spaces, so
a wordpiece tokenizer gives it its own token and `slot_spans` points at exactly that token.

The verifier reads the marked grid back and accepts ANY shortest path: the walls, start and
goal must be unchanged, the `*` cells must connect start to goal through open cells, and there
must be exactly as many of them as a breadth-first search says a shortest path needs.

Mazes are carved by a randomized depth-first search over the rooms at odd coordinates (a
perfect maze, one route between any two cells), then `loops` knocks out a fraction of the
remaining walls between rooms so that several shortest paths can exist.
"""

from __future__ import annotations

import random
import re
from collections import deque
from dataclasses import dataclass

from eval.tasks.base import FENCE, Example, PuzzleError, SpanText, Task, TaskConfig, with_line_feeds

WALL, OPEN, START, GOAL, PATH = "#", ".", "S", "G", "*"
VOCAB = (WALL, OPEN, START, GOAL, PATH)
STEPS = ((-1, 0), (1, 0), (0, -1), (0, 1))  # up, down, left, right

# Wording 1 draws its glyphs per puzzle from these (reasoning-gym's maze does the same), so a
# model cannot rely on "#" meaning wall. Single characters a wordpiece tokenizer keeps whole; no
# "*" (answers mark the path with it), and no two equal once lowercased, nor equal to a start or
# goal letter, as uncased tokenizers (MiniLM) read them. (M and K replaced x and o: the pool keeps
# its length, so the same seed still draws the same mazes.)
GLYPH_POOL = "#@%=XOM+$&KHW"
START_GOAL_POOL = "SGEABZ"


@dataclass
class MazeConfig(TaskConfig):
    name: str = "maze"
    size: int = 9  # side of the character grid, border walls included; odd, 5..31
    loops: float = 0.15  # fraction of the inner walls between rooms knocked out (0: one route)
    min_distance: int | None = None  # fewest steps from start to goal (None: size - 1)


Cell = tuple[int, int]


def carve(size: int, loops: float, rng: random.Random) -> list[list[str]]:
    """A size x size grid of WALL/OPEN: a randomized DFS maze over rooms at odd coordinates,
    with a `loops` fraction of the leftover room-to-room walls removed."""
    grid = [[WALL] * size for _ in range(size)]
    start = (1 + 2 * rng.randrange(size // 2), 1 + 2 * rng.randrange(size // 2))
    grid[start[0]][start[1]] = OPEN
    stack = [start]
    while stack:
        r, c = stack[-1]
        rooms = [(r + 2 * dr, c + 2 * dc) for dr, dc in STEPS]
        unvisited = [(nr, nc) for nr, nc in rooms if 0 < nr < size - 1 and 0 < nc < size - 1 and grid[nr][nc] == WALL]
        if not unvisited:
            stack.pop()
            continue
        nr, nc = rng.choice(unvisited)
        grid[(r + nr) // 2][(c + nc) // 2] = OPEN  # the wall between the two rooms
        grid[nr][nc] = OPEN
        stack.append((nr, nc))
    # Walls between two rooms sit at one odd and one even coordinate; pillars (even, even) stay.
    inner = [(r, c) for r in range(1, size - 1) for c in range(1, size - 1)
             if grid[r][c] == WALL and (r % 2) != (c % 2)]
    for r, c in inner:
        if rng.random() < loops:
            grid[r][c] = OPEN
    return grid


def distances(grid: list[list[str]], source: Cell) -> dict[Cell, int]:
    """Breadth-first steps from `source` to every reachable non-wall cell."""
    dist = {source: 0}
    queue = deque([source])
    while queue:
        r, c = queue.popleft()
        for dr, dc in STEPS:
            nxt = (r + dr, c + dc)
            if (0 <= nxt[0] < len(grid) and 0 <= nxt[1] < len(grid[0]) and nxt not in dist
                    and grid[nxt[0]][nxt[1]] != WALL):
                dist[nxt] = dist[(r, c)] + 1
                queue.append(nxt)
    return dist


def shortest_path(grid: list[list[str]], start: Cell, goal: Cell) -> list[Cell]:
    """One shortest path, start and goal included: walk back from the goal, always to a
    neighbour one step closer to the start (the first such one in STEPS order)."""
    dist = distances(grid, start)
    if goal not in dist:
        raise PuzzleError(f"the goal at row {goal[0] + 1}, column {goal[1] + 1} cannot be reached from the start")
    path = [goal]
    while path[-1] != start:
        r, c = path[-1]
        path.append(next((r + dr, c + dc) for dr, dc in STEPS if dist.get((r + dr, c + dc)) == dist[(r, c)] - 1))
    return path[::-1]


def find(grid: list[list[str]], glyph: str, typed: str | None = None) -> Cell:
    """Where the one `glyph` (START or GOAL) sits; an error names it as `typed` (a legend's own glyph for it)."""
    found = [(r, c) for r, row in enumerate(grid) for c, g in enumerate(row) if g == glyph]
    if len(found) != 1:
        typed = typed or glyph
        fix = "keep one" if found else f"mark the {WORDS[glyph]}'s cell {typed!r}"
        raise PuzzleError(f"a maze needs exactly one {typed!r}, found {len(found)} ({typed!r} is the {WORDS[glyph]}): "
                          f"{fix}")
    return found[0]


def is_sentence(line: str) -> bool:
    """Whether a line is words, not a row: two of its words hold a run of letters. A row is glyphs run
    together ("#S..#", one word) or spaced one a word ("# S . . #"), a legend's letters included."""
    return sum(bool(re.search(r"[^\W\d_]{2}", word)) for word in line.split()) >= 2


def grid_form(size: int) -> str:
    """What a size x size maze typed is, as errors tell it."""
    return (f"{size} rows of {size} cells, the border walls included: {WALL} wall, {OPEN} floor, one {START} (start), "
            f"one {GOAL} (goal)")


def parse_grid(text: str, size: int, allowed: str) -> list[list[str]]:
    """Rows of glyphs from text: one row per non-empty line, spaces between cells optional. Lines
    of instructions before the grid (as the symbols wording writes them) are skipped, and so are
    lines of words after it (a question typed under the grid)."""
    lines = text.strip().splitlines()
    while lines and is_sentence(lines[-1]):
        lines.pop()
    # Any whitespace parts cells: a no-break space (a web page's) kept as a cell made every row too long
    rows = ["".join(line.split()) for line in lines]
    rows = [row for row in rows if row]
    instructions = rows[:-size]
    # A line of maze glyphs alone is a row, not instructions: a grid with a row too many is the wrong
    # shape (skipping its first row read another maze)
    if instructions and all(len(row) == size for row in rows[-size:]) and \
            not any(set(row) <= set(allowed) for row in instructions):
        rows = rows[-size:]
    if len(rows) != size or any(len(row) != size for row in rows):
        shortest, longest = min(map(len, rows), default=0), max(map(len, rows), default=0)
        cells = f"{shortest}" if shortest == longest else f"{shortest} to {longest}"
        shape = f"{len(rows)} row{'s' * (len(rows) > 1)} of {cells} cells" if rows else "no rows of cells"
        raise PuzzleError(f"expected a {size}x{size} maze, found {shape}: type {grid_form(size)}")
    stray = sorted({g for row in rows for g in row if g not in allowed})
    if stray:
        raise PuzzleError(f"unexpected symbols {''.join(stray)!r} in the maze; use only {' '.join(allowed)}")
    return [list(row) for row in rows]


# Each wording renders every cell as one glyph or word; `render` records where it sits.
WORDINGS = (
    "symbols",  # "# S . . #" rows, fixed glyphs
    "legend",  # per-puzzle glyphs declared in a legend (reasoning-gym style)
    "words",  # "Row 1: wall start open ..."
)
WORDS = {WALL: "wall", OPEN: "open", START: "start", GOAL: "goal"}


def render(grid: list[list[str]], glyphs: str, wording: int) -> tuple[str, list[tuple[int, int]]]:
    """Question text and the character span of every cell in it (reading order). `glyphs` are
    the wall, open, start and goal symbols the legend wording uses."""
    size, emit = len(grid), SpanText()

    style = WORDINGS[wording % len(WORDINGS)]
    if style == "symbols":
        emit(f"Find a shortest path from {START} to {GOAL} in this maze. {WALL} is a wall, {OPEN} is open "
             "floor; each step moves up, down, left or right onto open floor.\n")
        symbol = {g: g for g in WORDS}
    elif style == "legend":
        wall, floor, start, goal = glyphs
        emit(f"Navigate from '{start}' (start) to '{goal}' (goal) in as few steps as possible, moving "
             f"only between horizontally or vertically adjacent cells.\n"
             f"Legend: '{wall}' = Wall, '{floor}' = Passage\n")
        symbol = dict(zip((WALL, OPEN, START, GOAL), glyphs))
    else:
        emit(f"A maze of {size} by {size} squares is described row by row, top to bottom. Walk from the "
             "start square to the goal square along open squares, never through a wall, using as few "
             "steps as you can.\n")
        symbol = WORDS
    for r, row in enumerate(grid):
        if style == "words":
            emit(f"Row {r + 1}:")
        for c, g in enumerate(row):
            if c or style == "words":
                emit(" ")
            emit(symbol[g], slot=True)
        emit("\n")
    return emit.result()


# The legend wording declares its glyphs in two phrases, start and goal first, wall and floor later
# (on the same line or a later one); the grid follows the legend's line. Searched for one after the
# other rather than as one pattern: "from ... .*? Legend ...[^\n]*\n" retried its .*? and [^\n]* from
# every start phrase to every legend, so a long line of them took seconds to minutes to refuse.
# A glyph is one character of a grid row, so never a line break ('.' without re.S). Words are apart by
# a few spaces or tabs, as typed (one space only refused a tab-spaced legend's grid as stray symbols);
# a few, not any number: each pattern then matches a bounded stretch, and a search stays linear.
GAP = r"[^\S\n]{1,10}"
START_GOAL = re.compile(rf"from{GAP}'(.)'{GAP}\(start\){GAP}to{GAP}'(.)'{GAP}\(goal\)")
WALL_FLOOR = re.compile(rf"Legend:{GAP}'(.)'{GAP}={GAP}Wall,{GAP}'(.)'{GAP}={GAP}Passage")
# [^\S\n]: any space but a line break, so an indented row, tabs or the \r of a CRLF line end still read
# A "Row N:" line naming any of the four words is a row of words (its other words are checked, to be named if
# misspelt); one of glyphs is not: its error would call a glyph a misspelt word
ROW_OF_WORDS = re.compile(r"^[^\S\n]*Row[^\S\n]+(\d+):(.*\b(?:wall|open|start|goal)\b.*)$", re.M | re.I)


def grid_and_glyphs(text: str) -> tuple[str, str]:
    """The text of the grid in `text` and the glyphs it is written in (wall, floor, start, goal):
    rows of words turned into # . S G, a legend's grid in the legend's own glyphs (so a glyph it
    does not declare is refused, not read as # or .), and for `render` the glyphs to write again."""
    text = with_line_feeds(text)  # a bare CR ends a line: the legend is read up to one
    rows = ROW_OF_WORDS.findall(text)
    if rows:
        glyph = {word: g for g, word in WORDS.items()}
        # Checked here: a row with a word the pattern would not match was dropped, the maze refused a row short
        for number, words in rows:
            unknown = [word for word in words.split() if word.lower() not in glyph]
            if unknown:
                raise PuzzleError(f"row {number} has {unknown[0]!r}: a row of words uses only wall, open, start, goal")
        return "\n".join(" ".join(glyph[word.lower()] for word in words.split()) for _, words in rows), "#.SG"
    legend = find_legend(text)
    if legend:
        (start, goal, wall, floor), grid_from = legend
        # One glyph with two meanings would take its later one: '#' as both wall and passage read every
        # wall as floor
        meanings = {"wall": wall, "floor": floor, "start": start, "goal": goal}
        twice = [g for g in meanings.values() if list(meanings.values()).count(g) > 1]
        if twice:
            both = " and ".join(k for k, g in meanings.items() if g == twice[0])
            raise PuzzleError(f"the legend gives {twice[0]!r} to both {both}; give wall, floor, start and goal a "
                              f"glyph each")
        # reasoning-gym fences its grid and writes the legend after it
        return fenced(text) or text[grid_from:], wall + floor + start + goal
    return fenced(text) or text, "#.SG"


def fenced(text: str) -> str | None:
    """The lines inside the first closed ``` code block of `text` (as chats and reasoning-gym write a
    grid), or None when it has none."""
    lines = text.split("\n")
    fences = [i for i, line in enumerate(lines) if FENCE.fullmatch(line)]
    return "\n".join(lines[fences[0] + 1:fences[1]]) if len(fences) > 1 else None


def find_legend(text: str) -> tuple[tuple[str, str, str, str], int] | None:
    """The glyphs a legend declares (start, goal, wall, floor) and where the grid after it
    begins: the first start phrase, the first legend after it, the line after that legend (what
    one pattern with `.*?` between them found). Where the first fails, a later one cannot: a
    legend or line break after it is after the first too. So each is one search, linear in
    the text."""
    start_goal = START_GOAL.search(text)
    wall_floor = start_goal and WALL_FLOOR.search(text, start_goal.end())
    line_end = text.find("\n", wall_floor.end()) if wall_floor else -1
    if line_end < 0:
        return None
    return (*start_goal.groups(), *wall_floor.groups()), line_end + 1


def looks_like(text: str) -> bool:
    """Whether typed text is a maze of any size, in any wording: a square grid of its glyphs with walls,
    a start and a goal. For naming the family of a puzzle another family's model cannot read
    (`eval.tasks.read_typed`)."""
    try:
        grid, glyphs = grid_and_glyphs(text)
    except PuzzleError:  # rows of words or a legend, mistyped: a maze's all the same
        return True
    for size in range(3, 32):
        try:
            rows = parse_grid(grid, size, glyphs)
        except PuzzleError:
            continue
        cells = {g for row in rows for g in row}
        return {glyphs[0], glyphs[2], glyphs[3]} <= cells  # a wall, a start and a goal
    return False


def format_grid(grid: list[list[str]]) -> str:
    return "\n".join(" ".join(row) for row in grid)


class Maze(Task):
    name = "maze"
    vocab = VOCAB
    num_wordings = len(WORDINGS)
    version = 2  # 2: legend glyphs distinct when lowercased; test splits keep out training mazes in any wording

    def __init__(self, size: int = 9, loops: float = 0.15, min_distance: int | None = None):
        if size % 2 == 0 or not 5 <= size <= 31:
            raise PuzzleError(f"task.size={size}: must be odd and between 5 and 31 (rooms sit at odd coordinates)")
        if not 0.0 <= loops <= 1.0:
            raise PuzzleError(f"task.loops={loops} is a fraction of walls to remove: choose 0..1")
        self.size = size
        self.loops = loops
        self.min_distance = size - 1 if min_distance is None else min_distance
        # One corridor through every room: (size // 2)**2 rooms, each step past the first two squares
        # (the wall between, the room); a loop only shortens the way.
        longest = 2 * (size // 2) ** 2 - 2
        if not 1 <= self.min_distance <= longest:
            raise PuzzleError(f"task.min_distance={min_distance} is out of range for a {size}x{size} maze "
                              f"(1..{longest})")
        self.num_slots = size * size

    def example(self, grid: list[list[str]], glyphs: str = "#.SG", wording: int = 0) -> Example:
        """An example from a grid of WALL/OPEN/START/GOAL glyphs (canonical ones); `glyphs`: those the
        puzzle is written in (a legend's own), also to name a missing or second start or goal as typed."""
        start, goal = find(grid, START, glyphs[2]), find(grid, GOAL, glyphs[3])
        path = shortest_path(grid, start, goal)
        solved = [list(row) for row in grid]
        for r, c in path[1:-1]:
            solved[r][c] = PATH
        question, spans = render(grid, glyphs, wording)
        return Example(
            question=question,
            answer=format_grid(solved),
            labels=[VOCAB.index(g) for row in solved for g in row],
            slot_spans=spans,
            data={"grid": ["".join(row) for row in grid], "glyphs": glyphs, "distance": len(path) - 1},
            wording=wording,
        )

    def typed_form(self) -> str:
        """What to type for a puzzle of this model, as errors tell it."""
        return f"type a {self.size}x{self.size} maze: {grid_form(self.size)}"

    def from_text(self, text: str, wording: int = 0) -> Example:
        """An example from a maze hand-written in the canonical glyphs (# . S G), or as any
        wording writes it (instructions first; the legend's own glyphs; rows of words); raises
        PuzzleError when it cannot be read or the goal cannot be reached."""
        grid, glyphs = grid_and_glyphs(text)
        canonical = dict(zip(glyphs, WALL + OPEN + START + GOAL))  # all at once: '#' may be the legend's floor
        rows = parse_grid(grid, self.size, glyphs)
        return self.example([[canonical[g] for g in row] for row in rows], glyphs, wording)

    def generate(self, rng: random.Random, wording: int) -> Example:
        for _ in range(1000):
            grid = carve(self.size, self.loops, rng)
            floor = [(r, c) for r in range(self.size) for c in range(self.size) if grid[r][c] == OPEN]
            start = rng.choice(floor)
            far = [cell for cell, d in distances(grid, start).items() if d >= self.min_distance]
            if far:
                goal = rng.choice(far)
                grid[start[0]][start[1]], grid[goal[0]][goal[1]] = START, GOAL
                glyphs = "".join(rng.sample(GLYPH_POOL, 2)) + "".join(rng.sample(START_GOAL_POOL, 2))
                return self.example(grid, glyphs, wording)
        raise PuzzleError(f"no start and goal {self.min_distance} steps apart in 1000 mazes of size {self.size}; "
                          "lower task.min_distance")

    def puzzle_key(self, example: Example) -> str:
        return "\n".join(example.data["grid"])  # walls, start and goal in canonical glyphs, whatever the wording drew

    def given_slots(self, example: Example) -> list[bool]:
        # Walls, start and goal are answered as the question writes them; only open floor is a
        # choice (left open, or on the path).
        return [g != OPEN for row in example.data["grid"] for g in row]

    def decode(self, example: Example, ids: list[int]) -> str:
        return format_grid([[VOCAB[int(i)] for i in ids[r * self.size:(r + 1) * self.size]]
                            for r in range(self.size)])

    def verify(self, example: Example, answer: str) -> bool:
        try:
            marked = parse_grid(answer, self.size, "".join(VOCAB))
        except PuzzleError:
            return False
        grid = example.data["grid"]
        # The maze itself must be copied unchanged: only open cells may become path cells.
        for r in range(self.size):
            for c in range(self.size):
                want, got = grid[r][c], marked[r][c]
                if got != want and not (want == OPEN and got == PATH):
                    return False
        start, goal = find(grid, START), find(grid, GOAL)
        on_path = {(r, c) for r in range(self.size) for c in range(self.size) if marked[r][c] == PATH}
        # Reaching the goal through marked cells takes at least distance - 1 of them; having
        # exactly that many means every marked cell lies on one shortest path.
        if len(on_path) != example.data["distance"] - 1:
            return False
        walk = [list(row) for row in grid]
        for r in range(self.size):
            for c in range(self.size):
                if walk[r][c] == OPEN and (r, c) not in on_path:
                    walk[r][c] = WALL
        return goal in distances(walk, start)
