"""How fast each puzzle family generates puzzles, and what a split of a given size costs.

    python bench/generation.py                       # every family at its preset size, ~1 min
    python bench/generation.py --seconds 0.5 --split 100000
    python bench/generation.py --only sudoku:size=9 sudoku:size=9,givens=25

Generation runs once per setting and seed (splits are cached on disk, hybrid/data.py), but a
large split of a slow setting can take longer than training: this prints puzzles per second per
setting (one process, the generator alone: no tokenizing, no saving) and the time a split of
`--split` puzzles would take. Each setting generates for about `--seconds` (at least 3 puzzles),
every wording in turn.
The JSON goes to bench/results/generation.json only at the published figures' settings, else to
runs/bench/generation.json (`--out` anywhere): bench/README.md.
"""

from __future__ import annotations

import argparse
import random
import time

from common import built_first, duration_or_zero, json_out, positive, print_table, results_path, write_json, written

from eval.tasks import make_task  # noqa: E402
from hybrid.config import load_config  # noqa: E402

# family:override,override ... (the task preset's settings, then these); the default task first
SETTINGS = ["sudoku:size=6", "sudoku:size=4", "sudoku:size=9", "sudoku:size=9,givens=25", "maze", "maze:size=15",
            "sorting", "zebra", "zebra:houses=5,attributes=4"]


def task_of(setting: str):
    family, _, overrides = setting.partition(":")
    extra = [f"task.{kv}" for kv in overrides.split(",") if kv]
    return make_task(load_config([f"task={family}", *extra]).task)


def rate(task, seconds: float, seed: int = 0) -> dict:
    rng, made, start = random.Random(seed), 0, time.perf_counter()
    while made < 3 or time.perf_counter() - start < seconds:
        task.generate(rng, made % task.num_wordings)
        made += 1
    elapsed = time.perf_counter() - start
    return {"puzzles": made, "seconds": elapsed, "puzzles_per_second": made / elapsed}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", nargs="+", metavar="FAMILY[:KEY=VALUE,...]", help=f"settings (default: {SETTINGS})")
    parser.add_argument("--seconds", type=duration_or_zero, default=5.0, help="time spent generating per setting")
    parser.add_argument("--split", type=positive, default=7000, help="puzzles in the split to estimate (the default "
                        "task's train + test: 7,000)")
    parser.add_argument("--out", type=json_out, help="JSON path (default: see bench/README.md)")
    args = parser.parse_args(argv)
    out = args.out or results_path("generation", parser, args)

    tasks = built_first(parser, "--only", args.only or SETTINGS, task_of)

    rows, results = [], {}
    for setting, task in tasks.items():
        measured = rate(task, args.seconds)
        split_seconds = args.split / measured["puzzles_per_second"]
        results[setting] = measured | {"split_seconds": split_seconds}
        rows.append([setting, measured["puzzles"], measured["puzzles_per_second"], 1000 / measured["puzzles_per_second"],
                     split_seconds / 60])
    print_table(f"puzzle generation, one process ({args.split:,} puzzles a split)",
                ["setting", "puzzles", "puzzles/s", "ms/puzzle", "split (min)"], rows)
    path = write_json("generation", {"split": args.split, "settings": results}, out, argv)
    print(f"wrote {written(path)}")


if __name__ == "__main__":
    main()
