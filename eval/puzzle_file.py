"""Hand-written puzzles from a file (or stdin) for `python -m eval --puzzles`: read once, with the
sha256 of the bytes read, split into puzzles as `hybrid.solve --input` splits them, and parsed into
the task's examples; and how messages, the report's split and its fields name the file."""

from __future__ import annotations

import hashlib
from pathlib import Path

from eval import HarnessError
from eval.tasks import PuzzleError, read_typed, split_typed_lines
from eval.tasks.base import (STDIN, TypedPuzzle, UnreadableInput, holds_no_puzzle, input_name, no_puzzles,
                             read_input, typed_puzzles)


def puzzles_said(puzzles: str | Path) -> str:
    """How messages name the puzzles: "stdin", or "puzzle file" and the path as given."""
    return input_name(puzzles) if str(puzzles) == STDIN else f"puzzle file {puzzles}"


def puzzles_name(puzzles: str | Path) -> str:
    """What the split (`puzzles:<name>`) and the report's folder (`puzzles-<name>`) are named after:
    the file's name, or "stdin"."""
    return input_name(puzzles) if str(puzzles) == STDIN else Path(puzzles).name


def puzzles_source(puzzles: str | Path) -> str:
    """The report's `puzzles`: "stdin"; a file's resolved path, one however it was spelt; a pipe's path
    as given (bash's <(...) is /dev/fd/63, which resolves to no file but "pipe:[N]", another each time)."""
    if str(puzzles) == STDIN:
        return input_name(puzzles)
    path = Path(puzzles).expanduser().absolute()
    return str(path.resolve() if path.is_file() else path)


def read_puzzle_file(path: str | Path, field: str = "question") -> tuple[str, str]:
    """(text, sha256): the text of a puzzle file and the sha256 of its bytes, read once, so that the
    report's fingerprint (`puzzles_sha256`) is of the very bytes its puzzles came from. The path alone
    says nothing of a file edited between two evaluations. `-` reads stdin, which can be read only
    once; a path that is no regular file but can be read (bash's <(generate ...), a named pipe) is
    read as a file is. Text that holds no puzzle is refused here, as a missing or unreadable file is:
    evaluate_run reads it before the weights and the backbone load (seconds to a minute), as
    hybrid.solve reads its --input. `field`: the JSON field of a question, which that error names."""
    stdin, where = str(path) == STDIN, puzzles_said(path)
    path = path if stdin else Path(path).expanduser()  # "~/mine.txt" from Python, as the report records it
    if not stdin and path.is_dir():
        raise HarnessError(f"puzzle file {path} is a folder; give the file of puzzles in it")
    if not stdin and not path.exists():
        raise HarnessError(f"puzzle file {path} does not exist")
    try:
        text, data = read_input(path, "--puzzles", where)
    except UnreadableInput as err:
        raise HarnessError(str(err)) from None
    if holds_no_puzzle(text):  # a report of no puzzles says nothing, and would replace an earlier report of them
        raise HarnessError(no_puzzles(where, field))
    return text, hashlib.sha256(data).hexdigest()


def read_puzzles(path: str | Path, task, text: str | None = None) -> list[TypedPuzzle]:
    """Hand-written puzzles, each with the file line it starts on, read as `hybrid.solve --input` reads
    them (`typed_puzzles`): a line written as JSON (a string, or {"question": ...}) is one puzzle,
    whatever the file is named; the other lines are plain text, one puzzle per line or per block of
    lines (`split_typed_lines`). `text`: the file's, where it was read already (`read_puzzle_file`)."""
    if text is None:
        text = read_puzzle_file(path, getattr(task, "fields", ["question"])[0])[0]
    return typed_puzzles(text, lambda plain: split_typed_lines(plain, task))  # not empty: read_puzzle_file refuses that


def parse_puzzles(task, puzzles: list[TypedPuzzle], wording: int = 0) -> tuple[list, list[dict]]:
    """Examples from typed puzzles (`read_puzzles`), worded in `wording` (one the model trained on);
    each one that cannot be read becomes a recorded failure, named by its file line where it has one."""
    answered = hasattr(task, "from_row")  # qa: an answer cannot be worked out, so it comes with its question
    if answered and all(p.value is None and p.error is None for p in puzzles):  # no line is JSON: no answers
        question, answer = getattr(task, "fields", ("question", "answer"))
        raise HarnessError(f"task {task.name!r} scores each question against the answer given with it, and no line of "
                           f'the file is JSON: give one {{"{question}": ..., "{answer}": ...}} object per line')
    if not answered and hasattr(task, "read_views"):  # ARC: a typed puzzle can be answered, not checked
        raise HarnessError(f"task {task.name!r} cannot score typed puzzles: the answer each asks is not in it, so "
                           f"there is nothing to check. To score tasks of your own, save them as ARC task .json files "
                           f"with their test outputs and run python -m hybrid.solve RUN --input FOLDER (each answer "
                           f"is verified), or evaluate a whole data folder (training/ and evaluation/, as ARC-AGI-2's "
                           f"data/) with python -m eval RUN task.source=FOLDER")
    if not answered and not hasattr(task, "from_text"):
        raise HarnessError(f"task {task.name!r} cannot score hand-written puzzles: it has no from_text, so nothing "
                           f"works out the answer a typed question asks. Score its test split (python -m eval RUN), or "
                           f"answer your questions with python -m hybrid.solve RUN --input FILE")
    parsed, failures = [], []
    for i, puzzle in enumerate(puzzles):
        where = f"line {puzzle.line}" if puzzle.line else f"puzzle {i}"
        try:
            if answered and isinstance(puzzle.value, dict):  # its fields are the task's, "question" or not
                parsed.append(task.from_row(puzzle.value, wording, where=where))
                continue
            if puzzle.error:  # a JSON error's own "line 1 column 23 (char 22)" was within the puzzle's line
                raise PuzzleError(puzzle.error)
            if answered:
                raise PuzzleError("each line must be a JSON object holding a question and its answer")
            parsed.append(read_typed(task, puzzle.question, wording))
        except Exception as err:  # a bad puzzle is reported, the others are still evaluated
            # A file line named first
            said = f"{where}: {err}" if puzzle.line and not str(err).startswith(where) else str(err)
            kind = "" if isinstance(err, PuzzleError) else f"{type(err).__name__}: "  # as error_text: a bug is named
            failures.append({"puzzle": i, "text": puzzle.text[:200], "error": f"{kind}{said[:500]}"}
                            | ({"line": puzzle.line} if puzzle.line else {}))
    return parsed, failures


def short_sha256(sha256: str | None) -> str:
    """A fingerprint as the summary and the warnings show it, its first 12 hex digits (as a short git
    commit: enough to tell two versions of a file apart by eye); "not recorded" for a report written
    before `puzzles_sha256` was."""
    return sha256[:12] if isinstance(sha256, str) and sha256 else "not recorded"
