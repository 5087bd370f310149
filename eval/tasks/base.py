"""What every puzzle family provides, and the record every family produces.

A family turns a random seed into an `Example`: the question text the frozen backbone reads,
the answer as one class id per answer slot (what the reasoner predicts), and, when slots line
up with pieces of the question (Sudoku cells), the character span of each slot so the span
pooling adapter can pool exactly the tokens that describe it.
"""

from __future__ import annotations

import io
import json
import random
import re
import sys
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, Callable, ClassVar

IGNORE = -100  # label of a padding slot: no loss, not scored


class PuzzleError(ValueError):
    """A puzzle or answer text that cannot be read. The message says what is wrong."""


def error_text(err: Exception) -> str:
    """An error as a puzzle's output line or failure record tells it: a PuzzleError by its message alone
    (its class name is noise to a user), any other by its class too (a bug, or the API misused, worth naming)."""
    return str(err) if isinstance(err, PuzzleError) else f"{type(err).__name__}: {err}"


def shortened(text: str, most: int = 80) -> str:
    """`text` as an error quotes it: at most `most` characters, so a pasted megabyte makes an
    error of a line, not of a megabyte (each error quoted all of it, in every answer line)."""
    return repr(text) if len(text) <= most else f"{text[:most]!r}... ({len(text)} characters)"


def with_line_feeds(text: str) -> str:
    """`text` with Windows ("\\r\\n") and old-Mac ("\\r") line ends written as "\\n"."""
    return re.sub(r"\r\n?", "\n", text)


def text_lines(text: str) -> list[str]:
    """The lines of typed input (`hybrid.solve`'s, `python -m eval --puzzles`'), cut at line ends only:
    a JSON string may hold U+2028 or U+0085 as they are, where splitlines cuts too. Byte-order marks
    starting a line are no part of it: files joined end to end (cat a.jsonl b.jsonl) keep each one's."""
    return [line.lstrip("\ufeff") for line in with_line_feeds(text).split("\n")]


# How a JSON line of typed input holds a puzzle (hybrid.solve --input, python -m eval --puzzles FILE)
JSON_FORM = '{"question": "..."}'


def json_error(where: str, err: json.JSONDecodeError, line: str) -> str:
    """What is wrong with a line of typed input, read as JSON, that does not parse, and how to write it."""
    said = f"{where} is not valid JSON ({err.msg.removesuffix(' at')} at column {err.colno})"  # "starting at" at
    if line.strip().startswith('"'):  # a JSON string meant, or a question in quotes
        return f'{said}; a question that starts and ends with a quote but is no JSON string can be given as ' \
               '{"question": ...}'
    return (f"{said}; a line that starts with {{ is read as JSON: write it as {JSON_FORM}, in double quotes, or type "
            "the puzzle as plain text")


def written_as_json(line: str) -> bool:
    """Whether a line of typed input is meant as JSON: an object ({...}), or a string ("...", a grid with
    \\n between its rows). A line that only starts with a quote ("Hamlet" by whom?) is a typed puzzle."""
    line = line.strip()
    return line.startswith("{") or (len(line) > 1 and line[0] == line[-1] == '"')


@dataclass
class TypedPuzzle:
    """One puzzle of typed input, as `typed_puzzles` reads it."""

    text: str  # as typed: a plain puzzle's lines, or a JSON line whole
    line: int | None = None  # the input line (from 1) it starts on; None: given in code, named by its place
    value: str | dict | None = None  # a JSON line's value: a string, or an object's fields; None: plain text
    error: str | None = None  # why a JSON line holds no puzzle: it is no JSON, or has no `field` string
    field: str = "question"  # the field of a JSON object that holds the puzzle

    @property
    def question(self) -> str | None:
        """The puzzle's text; None where `error` says why there is none."""
        if self.error is not None:
            return None
        if isinstance(self.value, dict):
            return self.value[self.field]
        return self.text if self.value is None else self.value


def typed_puzzles(text: str, split: Callable[[str], list[tuple[int, str]]],
                  field: str = "question") -> list[TypedPuzzle]:
    """The puzzles of typed input, in order, as `python -m eval --puzzles FILE` and `hybrid.solve --input`
    both read them, whatever the file is named (stdin has no name to go by): a line written as JSON
    (`written_as_json`) is one puzzle, a string or an object with a "question" (`field`: a qa model's
    task.question_field, as its training rows name it); the lines between are cut into puzzles by
    `split` (`split_typed_lines`: one per line, or per block of lines that are no puzzle alone), which
    numbers them from 1 within the text it is given."""
    puzzles, plain = [], []  # plain: (number, line) of the text lines since the last JSON line

    def flush() -> None:
        if plain:
            first = plain[0][0]
            puzzles.extend(TypedPuzzle(puzzle, first + n - 1) for n, puzzle in split("\n".join(t for _, t in plain)))
        plain.clear()

    for n, line in enumerate(text_lines(text), 1):
        if not written_as_json(line):
            plain.append((n, line))
            continue
        flush()
        try:
            value = json.loads(line)  # an object for a line starting with {, else a string: nothing else is written so
        except ValueError as err:
            puzzles.append(TypedPuzzle(line, n, error=json_error(f"line {n}", err, line)))
            continue
        missing = isinstance(value, dict) and not isinstance(value.get(field), str)
        puzzles.append(TypedPuzzle(line, n, value, no_question(f"line {n}", value, field) if missing else None, field))
    flush()
    return puzzles


STDIN = "-"  # the typed input's path that reads stdin: `hybrid.solve --input -`, `python -m eval --puzzles -`


class UnreadableInput(ValueError):
    """Typed input that could not be read at all (stdin closed, a file unreadable, bytes that are no UTF-8):
    the message names it and what to do."""


def input_name(path) -> str:
    """Typed input as messages name it: "stdin", or the path as given."""
    return "stdin" if str(path) == STDIN else str(path)


def read_input(path, flag: str, where: str = "") -> tuple[str, bytes]:
    """(text, bytes) of typed input, the one way `hybrid.solve --input` and `python -m eval --puzzles` read
    it: the file at `path`, or stdin where it is "-" (read once, as bytes: under the C locale sys.stdin
    decodes what is no UTF-8 into lone surrogates, which a tokenizer refuses mid-run). Decoded as a text file
    is read: UTF-8, a byte-order mark dropped (Windows editors write one), \\r\\n and \\r as \\n. A path that is
    no regular file but can be read (bash's <(generate ...)) is read as a file. `flag` (--input) and `where`
    (the input as messages name it; `input_name`'s by default) word the errors."""
    stdin, where = str(path) == STDIN, where or input_name(path)
    if stdin and sys.stdin is None:  # started with stdin closed (<&-, a daemon)
        raise UnreadableInput(f"stdin is closed: give the puzzles with {flag} FILE")
    if stdin and sys.stdin.isatty():  # not piped: say why nothing happens yet
        print(f"reading puzzles from the terminal, one per line; end with Ctrl-D (or give {flag} FILE)",
              file=sys.stderr)
    try:
        if stdin:
            buffer = getattr(sys.stdin, "buffer", None)  # none where stdin was replaced by text (a StringIO)
            data = buffer.read() if buffer is not None else sys.stdin.read().encode()
        else:
            with open(path, "rb") as file:
                data = file.read()
        return io.TextIOWrapper(io.BytesIO(data), encoding="utf-8-sig").read(), data
    except OSError as err:
        raise UnreadableInput(f"cannot read {where}: {err.strerror or err}") from None
    except UnicodeError as err:  # a Latin-1 file, say: one line, not a traceback
        raise UnreadableInput(f"cannot read {where}: not UTF-8 text ({err})") from None


def no_puzzles(where: str, field: str = "question") -> str:
    """What typed input with no puzzle in it is told, by `python -m eval --puzzles` and `hybrid.solve --input`
    alike: `where` (the file, or stdin) and what a puzzle looks like (`field`: the JSON field a question is in,
    a qa model's task.question_field)."""
    return f"{where} holds no puzzles: one per line, or per block of lines, or JSON lines with a {json.dumps(field)}"


def holds_no_puzzle(text: str) -> bool:
    """Whether typed input holds no puzzle for any task: each line blank or a code block's fence, from which
    `typed_puzzles` reads none. hybrid.solve asks before a model loads, which knows the task."""
    return all(not line.strip() or FENCE.fullmatch(line) for line in text_lines(text))


def no_question(where: str, item: dict, field: str = "question") -> str:
    """What a JSON object line of typed input lacks (a `field` string), and how to give it."""
    def kind(value: Any) -> str:
        return ("null" if value is None else "true or false" if isinstance(value, bool) else
                "a number" if isinstance(value, (int, float)) else "a list" if isinstance(value, list) else
                "an object" if isinstance(value, dict) else "a string")

    form = JSON_FORM.replace('"question"', json.dumps(field))
    if field in item:
        return f"{where}'s {json.dumps(field)} is {kind(item[field])}, not text: give the puzzle's text, as {form}"
    fields = f"its fields: {listed([json.dumps(key) for key in item])}" if item else "it has no fields"
    named = json.dumps(field)
    return f"{where} has no {named} ({fields}): put the puzzle's text in a {named} field, as {form}"


def listed(values: list, most: int = 5) -> str:
    """Up to `most` of `values` as an error lists them, then how many more: a grid of 100,000
    ragged rows listed every row's length, a megabyte error."""
    more = f" and {len(values) - most} more" if len(values) > most else ""
    return ", ".join(map(str, values[:most])) + more


@dataclass
class TaskConfig:
    """The dataset fields every task config has (`task.train_size=2000`). A family's config
    subclasses it, sets `name` and adds the family's own knobs (`task.size=9`), which `make_task`
    passes to the family's constructor by name."""

    name: str = ""  # the family: a name in eval.tasks.TASKS, or module:Class for one of your own
    train_size: int = 6000
    test_size: int = 1000
    wordings: list[int] | None = None  # renderer templates to train and test on (None: all)
    held_out_wordings: list[int] | None = None  # wordings never used in training (the test_heldout split)


@dataclass
class Example:
    question: str  # text the backbone reads
    answer: str  # canonical answer text
    labels: list[int]  # one class id per answer slot, IGNORE for padding; len == task.num_slots
    slot_spans: list[tuple[int, int]] | None = None  # (start, end) chars of each slot in question
    data: dict[str, Any] = field(default_factory=dict)  # what the verifier needs (JSON-able)
    wording: int = 0  # which renderer template produced the question

    def to_record(self) -> dict[str, Any]:
        """Flat columns for a `datasets.Dataset` (data as JSON so every family shares a schema)."""
        return {
            "question": self.question,
            "answer": self.answer,
            "labels": list(self.labels),
            "slot_spans": [list(s) for s in self.slot_spans] if self.slot_spans else [],
            "data": self.data_json(),
            "wording": self.wording,
        }

    def data_json(self) -> str:
        try:
            return json.dumps(self.data)
        except TypeError as err:  # json's own message names the type, not the example
            raise PuzzleError(f"the data of example {shortened(self.question)} is not JSON-able ({err}): give it "
                              f"lists, dicts, strings, numbers, booleans and None") from None

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> "Example":
        spans = record.get("slot_spans") or None
        return cls(
            question=record["question"],
            answer=record["answer"],
            labels=list(record["labels"]),
            slot_spans=[tuple(s) for s in spans] if spans else None,
            data=json.loads(record["data"]) if isinstance(record["data"], str) else record["data"],
            wording=int(record.get("wording", 0)),
        )


class SpanText:
    """Builds a question piece by piece, recording the character span of each slot's piece
    (what span pooling needs to find the tokens that describe a slot)."""

    def __init__(self):
        self.parts: list[str] = []
        self.spans: list[tuple[int, int]] = []
        self.length = 0

    def __call__(self, text: str, slot: bool = False) -> None:
        if slot:
            self.spans.append((self.length, self.length + len(text)))
        self.parts.append(text)
        self.length += len(text)

    def result(self) -> tuple[str, list[tuple[int, int]]]:
        return "".join(self.parts), self.spans


class Task(ABC):
    """A puzzle family at one difficulty setting.

    Subclasses set `name`, `vocab` (the symbols one answer slot can take) and `num_slots`, and
    implement `generate`, `decode` and `verify`. `score` defaults to the verifier's verdict.
    Optional: `from_text(text, wording)` reads a typed puzzle (`--puzzles`, `hybrid.solve`), and
    `typed_form()` says what to type for one (an empty typed question is told it),
    `splits(...)` supplies fixed splits instead of generated ones (hybrid/data.py), and
    `undo_view(example, answer)` maps an answer to a view of a puzzle (turned, recoloured) back to
    the puzzle, so the harness votes over views (eval/voting.py, ARC), and with it
    `read_views(text, wording, count, rng=None, answer="")` makes views of a typed puzzle, so `Hybrid.solve`
    votes over them too. `given_slots(example)` marks the slots the question already gives (Sudoku's
    givens), which open-cell accuracy leaves out. A family kept outside eval/tasks also sets `schema`
    (docs/extending.md).
    """

    name: ClassVar[str]
    vocab: tuple[str, ...]
    num_slots: int
    num_wordings: int = 1  # how many renderer templates `generate` can choose from
    # Bump when generated examples change (text, slots, labels) or which puzzles a split may hold
    # (`puzzle_key`): saved datasets are keyed on it.
    version: int = 1
    multiline: bool = False  # questions span lines: typed ones, unparsed, are separated by blank lines
    aligned_slots: bool = True  # examples carry `slot_spans`, each slot's piece of the question (span pooling reads them)
    # The config dataclass (a TaskConfig with the family's knobs) of a family named by import path
    # (`task=my_module:MyTask`); the families of this package are paired with theirs in TASKS.
    schema: ClassVar[type]

    @abstractmethod
    def generate(self, rng: random.Random, wording: int) -> Example:
        """A fresh puzzle drawn with `rng`, its question rendered with template `wording`."""

    @abstractmethod
    def decode(self, example: Example, ids: list[int]) -> str:
        """Answer text from one predicted class id per slot."""

    @abstractmethod
    def verify(self, example: Example, answer: str) -> bool:
        """True when `answer` solves the puzzle (any valid solution counts, not just ours)."""

    def score(self, example: Example, answer: str) -> float:
        """The family's own score in [0, 1]; families with partial credit override this."""
        return float(self.verify(example, answer))

    def given_slots(self, example: Example) -> list[bool]:
        """One flag per answer slot: True where the question already states the slot's answer, so a
        model can copy it (a Sudoku given). Open-cell accuracy scores only the other slots, what the
        model must work out; by default none is given and it equals cell accuracy."""
        return [False] * len(example.labels)

    def puzzle_key(self, example: Example) -> str:
        """What makes two examples the same puzzle, whatever their wording: the test splits keep
        out every training puzzle by it. By default the text itself; a family whose one puzzle
        can read several ways (wordings, paraphrases, glyphs) keys on the puzzle's data instead,
        or a puzzle seen in training would come back in other words as a test puzzle."""
        return example.answer + example.question


# A line that opens or closes a Markdown code block, as chats write one: ``` and a language name.
# A maze row of '`' walls is no fence: it ends in a wall, and a row is at least 5 cells.
FENCE = re.compile(r"[^\S\n]*```\w*[^\S\n]*")


def split_typed(text: str, task: Task) -> list[str]:
    """Puzzles typed one after another, in order: one per line, except that a block of lines
    (blank lines separate blocks) none of which is a puzzle by itself, such as a grid or a logic
    puzzle, is one puzzle. So one-line Sudokus need no blank lines between them, and mazes or
    zebra puzzles need one. A task that cannot parse text takes one puzzle per line, or per
    block when its questions span lines (`Task.multiline`: ARC, reasoning-gym)."""
    return [puzzle for _, puzzle in split_typed_lines(text, task)]


def split_typed_lines(text: str, task: Task) -> list[tuple[int, str]]:
    """`split_typed`'s puzzles, each with the line (from 1) it starts on, for its error to name:
    among blocks of several lines, a puzzle's place in the list left the reader counting."""
    parse = getattr(task, "from_text", None)

    def alone(line: str) -> bool:
        try:
            parse(line, 0)  # as every caller does, with a wording: whether the line reads alone is all we ask
            return True
        except ValueError:  # PuzzleError and kin: not a whole puzzle
            return False

    puzzles, first = [], 1  # first: the line the next block starts on
    text = with_line_feeds(text)  # a blank line between old-Mac or Windows lines is a blank line too
    for k, block in enumerate(re.split(r"(\n\s*\n)", text)):  # blocks, and between them the blank lines
        lines = [(first + i, line.rstrip()) for i, row in enumerate(block.split("\n"))
                 for line in row.splitlines() if line.strip()]
        first += block.count("\n")
        if k % 2 or all(FENCE.fullmatch(line) for _, line in lines):
            # blank lines between blocks; or a code block's fences alone (an empty block, the closing fence after
            # a blank line), which are no puzzle of any task (a block of fences was one, read as a bad puzzle)
            continue
        if parse is None and task.multiline:
            puzzles.append((lines[0][0], "\n".join(line for _, line in lines)))
        elif parse is None or len(lines) == 1 or any(alone(line) for _, line in lines):
            # one per line; a code block's fences around them are no puzzles (a grid keeps its own: maze reads them)
            puzzles += [(n, line.strip()) for n, line in lines if not FENCE.fullmatch(line)]
        elif lines:
            puzzles.append((lines[0][0], "\n".join(line for _, line in lines)))
    return puzzles
