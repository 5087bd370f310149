"""Solve puzzles from the command line; writes one JSON object per puzzle (JSON Lines).

    python -m hybrid.solve runs/default --input puzzles.txt      # one puzzle per line (or block)
    cat puzzles.jsonl | python -m hybrid.solve runs/default/final --fixed-steps > answers.jsonl
    python -m hybrid.solve runs/arc --input arc.txt --views 8      # ARC: vote over 8 views of each puzzle

CHECKPOINT is a pretrained folder (config.yaml + model.safetensors, e.g. runs/default/final),
a training run folder (its final/, else its newest checkpoint's EMA weights) or a checkpoint.
Input: plain text with one puzzle per line (a Sudoku as its digits and blanks, e.g.
"_ _ 3 _ _ _ _ 5 _ 1 _ _ ..."), except that a block of lines none of which is a puzzle alone
(a grid, a maze, a logic puzzle) is one puzzle: put a blank line between such puzzles (ARC
and reasoning-gym questions: one per block, always). Or JSON lines with a "question" field,
which may hold any puzzle text, worded as the training data words it or typed; other fields
(an "id") are copied to the output. Output per puzzle:
answer, steps (supervision steps used), confidence (the halting head's sigmoid), verified (the
task's verifier, where it can judge), and error for a puzzle that could not be read. With
--views K (ARC only; default: the run's task.test_views), each puzzle is answered in K views
(itself, then turned and recoloured copies) and answer is the vote's top answer; attempts lists
the different answers, best first (the first two are ARC's two attempts), votes how many views
gave each, views how many were asked.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
from contextlib import nullcontext

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def read_items(text: str, split) -> list[dict]:
    """{"question": ...} per puzzle, in order: a line starting with "{" is one JSON item; the
    other lines are cut into puzzles by `split` (eval.tasks.split_typed: one per line, or one
    per block of lines that are no puzzle alone)."""
    items, plain = [], []

    def flush() -> None:
        items.extend({"question": question} for question in split("\n".join(plain)))
        plain.clear()

    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip().startswith("{"):
            plain.append(line)
            continue
        flush()
        try:
            item = json.loads(line)
        except ValueError as err:
            item = {"question": None, "error": f"line {n} is not valid JSON: {err}"}
        if not isinstance(item.get("question"), str) and "error" not in item:
            item["error"] = f"line {n} has no \"question\" string"
        items.append(item)
    flush()
    return items


def positive(value: str) -> int:
    if not value.lstrip("-").isdigit() or int(value) < 1:
        raise argparse.ArgumentTypeError(f"{value!r} is not a whole number >= 1")
    return int(value)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("checkpoint", help="pretrained folder, training run folder or checkpoint folder")
    parser.add_argument("--input", default="-", help="puzzle file, or - for stdin (default)")
    parser.add_argument("--output", default="-", help="JSONL file to write, or - for stdout (default)")
    parser.add_argument("--fixed-steps", action="store_true", help="run all N_sup supervision steps (no early exit)")
    parser.add_argument("--steps", type=positive, help="N_sup at test time (default: the trained value)")
    parser.add_argument("--batch-size", type=positive, default=64)
    parser.add_argument("--views", type=positive,
                        help="ARC: answer each puzzle in this many views and vote (default: the run's task.test_views)")
    parser.add_argument("--device", help="cpu, cuda, cuda:1 ... (default: cuda when available)")
    args = parser.parse_args(argv)

    from eval.tasks import PuzzleError, split_typed
    from hybrid.checkpoint import CheckpointError
    from hybrid.config import ConfigError
    from hybrid.inference import Hybrid

    try:
        with nullcontext(sys.stdin) if args.input == "-" else open(args.input, encoding="utf-8-sig") as source:
            text = source.read()  # -sig: a byte-order mark (Windows editors write one) is not text
    except OSError as err:
        sys.exit(f"error: cannot read {args.input}: {err.strerror}")
    except UnicodeDecodeError as err:  # a Latin-1 file, say
        sys.exit(f"error: cannot read {args.input}: not UTF-8 text ({err})")
    if args.output != "-" and not os.path.isdir(os.path.dirname(os.path.abspath(args.output))):
        sys.exit(f"error: cannot write {args.output}: its folder does not exist")  # before minutes of solving
    try:
        solver = Hybrid.from_pretrained(args.checkpoint, args.device)
    except (CheckpointError, ConfigError, PuzzleError) as err:  # PuzzleError: the task its config names cannot
        # be built here (a qa model's task.path file is gone, a reasoning-gym dataset missing)
        sys.exit(f"error: {err}")
    try:
        views = solver.views_wanted(args.views)
    except ValueError as err:  # views on a family without them
        sys.exit(f"error: {err}")
    items = read_items(text, lambda plain: split_typed(plain, solver.task))
    todo = [item for item in items if "error" not in item]
    solutions = iter(solver.solve([item["question"] for item in todo], fixed_steps=args.fixed_steps,
                                  N_sup=args.steps, batch_size=args.batch_size, views=views))
    with nullcontext(sys.stdout) if args.output == "-" else open(args.output, "w") as out:
        for item in items:
            if "error" not in item:
                found = dataclasses.asdict(next(solutions))
                if found["error"]:  # unread: no steps or confidence to report
                    found = {"answer": None, "error": found["error"]}
                item |= {k: v for k, v in found.items() if v is not None or k == "answer"}
            out.write(json.dumps(item) + "\n")


if __name__ == "__main__":
    main()
