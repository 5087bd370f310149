"""Solve puzzles from the command line; writes one JSON object per puzzle (JSON Lines).

    python -m hybrid.solve runs/default --input puzzles.txt      # one puzzle per line (or block)
    cat puzzles.jsonl | python -m hybrid.solve runs/default/final --fixed-steps > answers.jsonl
    python -m hybrid.solve runs/arc --input arc.txt --views 8      # ARC: vote over 8 views of each puzzle
    python -m hybrid.solve runs/arc --input ~/ARC-AGI-2/data/evaluation --views 8 --submission submission.json

CHECKPOINT is a pretrained folder (config.yaml + model.safetensors, e.g. runs/default/final),
a training run folder (its final/, else its newest checkpoint's EMA weights) or a checkpoint.
Input: plain text with one puzzle per line (a Sudoku as its digits and blanks, e.g.
"_ _ 3 _ _ _ _ 5 _ 1 _ _ ..."), except that a block of lines none of which is a puzzle alone
(a grid, a maze, a logic puzzle) is one puzzle: put a blank line between such puzzles (ARC
and reasoning-gym questions: one per block, always; a question that holds blank lines itself,
as reasoning-gym's maze, zebra_puzzles and arc_1d questions do, would come apart into several,
so give it as a JSON line). Or JSON lines, in a file of any name (as python -m eval --puzzles
reads one): a line that starts with "{" or is in double quotes end to end is a string, or an
object with a "question" field, which may hold any puzzle text, worded as the training data
words it or typed; other fields (an "id") are copied to the output, one named like an output
field as given_<name> (QA: a given "answer" is given_answer, and verified checks the model's
answer against it); a JSON line that does not parse is that line's error (its "question" the
line as typed). Output per puzzle: answer, steps (supervision steps used), confidence (the
halting head's sigmoid), verified (the task's verifier, where it can judge), and error for a
puzzle that could not be read (naming the input line the puzzle starts on, what is wrong and
what to type). With --views K (ARC only; default: the run's task.test_views), each puzzle is answered in K views
(itself, then turned and recoloured copies) and answer is the vote's top answer; attempts lists
the different answers, best first (the first two are ARC's two attempts), votes how many views
gave each, views how many were asked. ARC task files (a .json file of ARC's format, or a folder
of them; ARC Prize's arc-agi_*_challenges.json, every task by id in one file, too) are read as
tasks (in a folder, a task id in two files is answered once, and ARC Prize's *_solutions.json
and sample_submission.json are skipped): each test input is one puzzle, its line says which ("task",
"test_index") and, where the file has the test output, whether the answer is right ("verified");
--submission also writes ARC Prize's submission.json (two attempts per test input).
Exit status 1 when no puzzle could be read (the lines are written all the same). Ctrl-C,
SIGTERM or SIGHUP while solving writes the lines of the puzzles answered so far, in order, and exits
130, 143 or 129 (--submission is not written: it would miss the rest; before the first answer nothing is
written, so an earlier --output stays as it was).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
from contextlib import nullcontext
from pathlib import Path

from hybrid.console import plain_warnings

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


@dataclasses.dataclass
class Item:
    """One puzzle to answer: the fields its output line starts from (the user's JSON fields, kept
    whatever their names; an ARC task file's "task" and "test_index"), and what to solve (the
    question, or the ARC Example asking it), or why it cannot be."""

    fields: dict
    puzzle: object = None
    error: str | None = None
    line: int | None = None  # the input line (from 1) it starts on, for errors found after reading


def read_items(text: str, split, field: str = "question") -> list[Item]:
    """One Item per puzzle, in order, as `python -m eval --puzzles` reads a file (`eval.tasks.base.typed_puzzles`):
    a line written as JSON is one item (its fields, its question in `field`, or {"question": ...} for a JSON string);
    the other lines are cut into puzzles by `split` (eval.tasks.split_typed_lines: one per line, or one per block
    of lines that are no puzzle alone, each with the line it starts on)."""
    from eval.tasks.base import typed_puzzles

    items = []
    for puzzle in typed_puzzles(text, split, field):
        error, fields = puzzle.error, puzzle.value
        if not isinstance(fields, dict):
            # Read as text, a bad escape or a missing brace was answered as a puzzle, quotes and all. Its line comes
            # back as typed, so the output shows which input it answers.
            fields = {"question": puzzle.text.strip() if error else puzzle.question}
        elif error and {"train", "test"} <= fields.keys():  # an ARC task pasted as a line: --input reads its file
            error = (f"line {puzzle.line} has no \"question\" string; it holds an ARC task (\"train\", \"test\"): "
                     f"save it as a .json file and give that as --input")
        items.append(Item(fields, puzzle.question, error, puzzle.line))
    return items


def with_answers(items: list[Item], task, wording: int) -> None:
    """qa: a JSON line holding the answer field the model trained on is asked with that answer, so
    its answer is verified against it (a question's answer cannot be worked out from it, as other
    families work theirs out from the puzzle); an answer no reference can be (empty, too long) is
    the line's error."""
    from eval.tasks import PuzzleError

    question_field, answer_field = task.fields
    for item in items:
        if item.error is None and answer_field in item.fields:
            row = {question_field: item.puzzle, answer_field: item.fields[answer_field]}
            try:
                item.puzzle = task.from_row(row, wording, where=f"line {item.line}")
            except PuzzleError as err:  # it names the line
                item.puzzle, item.error = None, str(err)


def task_files(path: str) -> list[Path] | None:
    """The ARC task files `--input` names: a .json file, or a folder of them (ARC-AGI-2's
    data/evaluation); None for puzzle text."""
    found = Path(path)
    if found.is_dir():  # .json in any case: a Windows export's TASK.JSON is one too
        return sorted(f for f in found.glob("*") if f.suffix.lower() == ".json" and f.is_file())
    return [found] if found.suffix.lower() == ".json" else None


def task_items(files: list[Path], solver) -> list[Item]:
    """One item per test input of each ARC task file: {"task", "test_index"}, and the Example that
    asks it, worded as the model trained (it carries the test output when the file has one, so
    the answer is verified); a file that is no ARC task is one item with its error. Among several
    files, one of answers by id (ARC Prize's *_solutions.json, sample_submission.json) is skipped, and
    a task id met again is answered once (a submission holds one entry per id): with other train pairs
    or test inputs, it is a PuzzleError naming both files."""
    from eval.tasks import PuzzleError
    from eval.tasks.arc import AnswersFile, tasks_in_file
    from eval.tasks.base import listed
    from hybrid.data import answering_wording

    wording, items = answering_wording(solver.task, solver.config.task), []
    seen, again, skipped = {}, {}, []  # task id -> (its file, what it asks); id -> (first file, file again)
    for path in files:
        try:
            tasks = tasks_in_file(path)  # one task, or ARC Prize's challenges file: every task by id
        except PuzzleError as err:  # it names the file
            if isinstance(err, AnswersFile) and len(files) > 1:  # ARC Prize's Kaggle folder holds them
                skipped.append(path.name)
            else:
                items.append(Item({"task": path.stem}, error=str(err)))
            continue
        for task_id, task in tasks:
            if isinstance(task, PuzzleError):  # it names the file and task
                items.append(Item({"task": task_id}, error=str(task)))
                continue
            asks = (task["train"], [pair["input"] for pair in task["test"]])  # a test output is the answer
            if task_id in seen:
                if seen[task_id][1] != asks:
                    raise PuzzleError(f"task {task_id!r} is in {seen[task_id][0]} and {path} with different "
                                      f"contents; a submission holds one task per id: give --input one of the files "
                                      f"(or move one out of the folder)")
                again.setdefault(task_id, (seen[task_id][0].name, path.name))
                continue
            seen[task_id] = (path, asks)
            for i in range(len(task["test"])):
                try:
                    items.append(Item({"task": task_id, "test_index": i}, solver.task.example(task, i, wording)))
                except PuzzleError as err:  # a grid larger than max_size: still a test input the submission must hold
                    items.append(Item({"task": task_id, "test_index": i}, error=f"{path}: {err}"))
    if again:
        first, (one, other) = next(iter(again.items()))
        print(f"{len(again)} task{'s are' if len(again) > 1 else ' is'} in more than one file with the same content "
              f"({listed([repr(task_id) for task_id in again], 3)}; {first!r} in {one} and {other}): each is answered "
              f"once", file=sys.stderr)
    if skipped:
        print(f"skipped {len(skipped)} file{'s' * (len(skipped) > 1)} that hold answers by task id, not tasks: "
              f"{listed(skipped)}", file=sys.stderr)
    return items


def solve_in_batches(solver, puzzles: list, views: int, batch_size: int,
                     **settings) -> tuple[list, KeyboardInterrupt | None]:
    """`solver.solve` of `puzzles`, a batch at a time (as it batches them itself), under one progress
    bar over all of them; and the Ctrl-C or SIGTERM that stopped it, if one did. The answers found
    before it are returned rather than lost with the rest: a file of many puzzles takes minutes."""
    from hybrid.checkpoint import sigterm_raises
    from hybrid.progress import progress_bar

    solutions, step = [], max(1, batch_size // views)  # puzzles per batch: each is asked in `views` examples
    # One bar: this one over the puzzles, or with one call (one puzzle whose views fill several batches) solve's own
    one_call = len(puzzles) <= step
    # One truncation warning with the totals of the batches solved (as one solve of them all gave), after the bar
    with solver.backbone.counting_truncation(), \
            progress_bar(total=len(puzzles), desc="solving", unit="puzzle", disable=one_call) as bar:
        try:
            with sigterm_raises():
                for start in range(0, len(puzzles), step):
                    solutions += solver.solve(puzzles[start:start + step], batch_size=batch_size, views=views,
                                              show_progress=one_call, **settings)
                    bar.update(min(step, len(puzzles) - start))
        except KeyboardInterrupt as stop:  # after the last batch it stops nothing: every answer is there
            return solutions, stop if len(solutions) < len(puzzles) else None
    return solutions, None


def submission(lines: list[dict]) -> dict:
    """ARC Prize's submission format: task id -> per test input {"attempt_1": grid, "attempt_2":
    grid}, the vote's top two answers (the top one twice when the views gave one; an answer that
    is no grid, or a task not answered, is [[0]]: every test input needs two grids)."""
    from eval.tasks import PuzzleError
    from eval.tasks.arc import parse_grid

    def grid(answer: str | None) -> list:
        try:
            return parse_grid(answer) if answer else [[0]]
        except PuzzleError:
            return [[0]]

    tasks: dict[str, list] = {}
    for line in lines:
        if "test_index" not in line:
            continue  # an unreadable file: nothing to submit for it
        attempts = (line.get("attempts") or [line.get("answer")]) * 2
        tasks.setdefault(line["task"], []).append({"attempt_1": grid(attempts[0]), "attempt_2": grid(attempts[1])})
    return tasks


def positive(value: str) -> int:
    if not value.lstrip("-").isdigit() or int(value) < 1:
        raise argparse.ArgumentTypeError(f"{value!r} is not a whole number >= 1")
    return int(value)


@plain_warnings()  # ours in one line: `warning: ...`
def main(argv: list[str] | None = None) -> None:
    from hybrid.config import given_path  # an empty path (a script's unset variable) is an error, not "." or stdout

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("checkpoint", metavar="CHECKPOINT", type=given_path,  # as the description names it
                        help="pretrained folder, training run folder or checkpoint folder")
    parser.add_argument("--input", default="-", type=given_path,
                        help="puzzle file, or - for stdin (default); ARC: also a task .json file or a folder of them, "
                             "each test input one puzzle")
    parser.add_argument("--output", default="-", type=given_path, help="JSONL file to write, or - for stdout (default)")
    parser.add_argument("--fixed-steps", action="store_true", help="run all N_sup supervision steps (no early exit)")
    parser.add_argument("--steps", type=positive, help="N_sup at test time (default: the trained value)")
    parser.add_argument("--batch-size", type=positive, default=64)
    parser.add_argument("--views", type=positive,
                        help="ARC: answer each puzzle in this many views and vote (default: the run's task.test_views)")
    parser.add_argument("--device", help="cpu, cuda, cuda:1 ... (default: cuda when available)")
    parser.add_argument("--backbone", help="where the model's backbone is here, when not where its config.yaml "
                                           "says (a folder, hub id or pypi:<module>)")
    parser.add_argument("--submission", type=given_path,
                        help="ARC task files: also write ARC Prize's submission.json here "
                             "(two attempts per test input)")
    args = parser.parse_args(argv)
    for name in ("input", "output", "submission"):  # --input=~/x: bash leaves a ~ after = as it is
        if getattr(args, name) not in ("-", None):
            setattr(args, name, os.path.expanduser(getattr(args, name)))

    from eval.tasks import PuzzleError, split_typed_lines
    from eval.tasks.base import UnreadableInput, holds_no_puzzle, input_name, no_puzzles, read_input
    from hybrid.checkpoint import CheckpointError, stopped_by
    from hybrid.config import ConfigError
    from hybrid.inference import Hybrid, question_field

    files = task_files(args.input) if args.input != "-" else None
    try:
        text = read_input(args.input, "--input")[0] if files is None else None
    except UnreadableInput as err:
        sys.exit(f"error: {err}")
    if files == []:
        sys.exit(f"error: {args.input} holds no .json task files")
    if files is None and holds_no_puzzle(text):  # as eval --puzzles: no answers say nothing, and would replace
        # --output's; blank, or a code block's fences alone, was "the puzzle could not be read" of no puzzle
        sys.exit(f"error: {no_puzzles(input_name(args.input), question_field(args.checkpoint))}")
    if args.submission and files is None:
        sys.exit("error: --submission needs ARC task files as --input (a .json file or a folder of them)")
    # Where the answers go, checked before minutes of solving
    for path in [p for p in (args.output, args.submission) if p not in ("-", None)]:
        if not os.path.isdir(os.path.dirname(os.path.abspath(path))):
            sys.exit(f"error: cannot write {path}: its folder does not exist")
        if os.path.isdir(path):
            sys.exit(f"error: cannot write {path}: it is a folder; name a file in it")
    if args.submission and args.output != "-" and os.path.realpath(args.output) == os.path.realpath(args.submission):
        # the submission, written second, would replace every answer line
        sys.exit(f"error: --output and --submission both name {args.submission}: give each its own file")
    read = [] if args.input == "-" else files or [Path(args.input)]
    # In a folder, the file may be the answers of an earlier run or ARC Prize's solutions, not puzzles
    what, lost = ((f"a .json file in --input {args.input}", "that file") if os.path.isdir(args.input)
                  else ("the --input file", "the puzzles"))
    for name in ("output", "submission"):  # written over, what they were read from would be lost
        path = getattr(args, name)
        if path not in ("-", None) and any(os.path.realpath(path) == os.path.realpath(f) for f in read):
            sys.exit(f"error: --{name} {path} is {what}: writing there would replace {lost}; name another file")
    try:
        solver = Hybrid.from_pretrained(args.checkpoint, args.device, args.backbone)
    except (CheckpointError, ConfigError, PuzzleError) as err:  # PuzzleError: the task its config names cannot
        # be built here (a qa model's task.path file is gone, a reasoning-gym dataset missing)
        sys.exit(f"error: {err}")
    try:
        views = solver.views_wanted(args.views)
    except ValueError as err:  # views on a family without them
        sys.exit(f"error: {err}")
    if files is not None and solver.task.name != "arc":
        # A .json name alone makes task files: JSON lines of puzzles named so (puzzles.json) land here too
        sys.exit(f"error: {args.input}: task files are ARC's; this model was trained on task {solver.task.name!r}. "
                 f"A .json file or a folder is read as ARC task files: put JSON lines of puzzles in a .jsonl file")
    if files is None:
        # qa: a JSON line's question is in the field its training rows held it (task.question_field), as eval reads it
        field = solver.task.fields[0] if hasattr(solver.task, "from_row") else "question"
        items = read_items(text, lambda plain: split_typed_lines(plain, solver.task), field)
        if hasattr(solver.task, "from_row"):
            from hybrid.data import answering_wording

            with_answers(items, solver.task, answering_wording(solver.task, solver.config.task))
    else:
        try:
            items = task_items(files, solver)
        except PuzzleError as err:  # one id given two different tasks
            sys.exit(f"error: {err}")
    solved, interrupted = solve_in_batches(solver, [item.puzzle for item in items if item.error is None], views,
                                           fixed_steps=args.fixed_steps, N_sup=args.steps, batch_size=args.batch_size)
    if interrupted and not solved:  # nothing to keep, and an earlier --output is not replaced by nothing
        name, status = stopped_by(interrupted)
        print(f"\n{name}: stopped before any puzzle was answered; nothing written", file=sys.stderr)
        sys.exit(status)
    solutions = iter(solved)
    lines, unread = [], 0
    for item in items:
        found = {"answer": None, "error": item.error}  # a line or task file not read: as a puzzle not read
        if item.error is None:
            solution = next(solutions, None)
            if solution is None:  # Ctrl-C came before this puzzle was answered: the lines stop here
                break
            found = dataclasses.asdict(solution)
            del found["ids"]  # the slots the answer was decoded from: for scoring (bench/), not an answer
            if found["error"]:  # unread: no steps or confidence to report; where to look, among blocks of lines
                error = found["error"]
                found = {"answer": None, "error": f"line {item.line}: {error}" if item.line else error}
        unread += found["error"] is not None  # not the line's "error": an input may hold a field of that name
        found = {k: v for k, v in found.items() if v is not None or k == "answer"}
        # An input field named like one the solver writes (a reference "answer") is kept beside it
        lines.append({f"given_{k}" if k in found else k: v for k, v in item.fields.items()} | found)
    closed = False
    try:
        with nullcontext(sys.stdout) if args.output == "-" else open(args.output, "w", encoding="utf-8") as out:
            for line in lines:
                out.write(json.dumps(line) + "\n")
            out.flush()  # here, not at exit: a few lines fit stdout's buffer, and a failed flush at exit is status 120
    except BrokenPipeError:  # `| head`: the reader stopped reading, which is no crash to show in a traceback
        # Python flushes stdout again at exit, which would raise once more: what is left goes nowhere
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        closed = True
    except OSError as err:  # a full disk, after every puzzle was solved: a line, not a traceback
        from hybrid.checkpoint import unwritable

        if args.output == "-":  # redirected to a file somewhere: the room left where it is is not known here
            sys.exit(f"error: could not write the answers to stdout: {err}. Free space where it goes, and solve again")
        sys.exit(f"error: {unwritable(Path(args.output), err, 'Free space there, and solve again')}")
    if interrupted:  # a submission needs every test input: one with some is no submission to send
        name, status = stopped_by(interrupted)
        where = "above" if args.output == "-" else f"in {args.output}"
        print(f"\n{name}: stopped; the answers to the first {len(lines)} of {len(items)} puzzles are {where}"
              + (f"; {args.submission} was not written, as it would miss the rest" if args.submission else ""),
              file=sys.stderr)
        sys.exit(status)
    if args.submission:  # written all the same: it is the answers' other copy
        Path(args.submission).write_text(json.dumps(submission(lines)), encoding="utf-8")
    if unread == len(lines):  # a script must see that nothing was solved, not read exit 0 as success
        sys.exit("error: " + (f"none of the {len(lines)} puzzles could be read; each output line says why"
                              if len(lines) > 1 else "the puzzle could not be read; its output line says why") + ' ("error")')
    if unread:
        print(f"{unread} of {len(lines)} puzzles could not be read; their output lines say why (\"error\")",
              file=sys.stderr)
    if closed:
        sys.exit(1)


if __name__ == "__main__":
    main()
