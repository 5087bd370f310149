"""Train and evaluate small instances of every registered puzzle family on the CPU, three ways,
and print one table of exact accuracy on held-out puzzles and on held-out wordings.

    python bench/puzzle_suite.py                                 # every family, ~15 min (--minutes: training time)
    python bench/puzzle_suite.py --families sudoku --time-limit 120 --train-size 3000
    python bench/puzzle_suite.py --task-set sudoku:size=6 reasoner.hidden=128

The three variants differ by one config switch each and go through the same training script
and the same evaluation harness (`python -m eval`):

    hybrid         the pretrained backbone (--backbone), recursion on (the configured T, n, N_sup)
    no_recursion   reasoner=no_recursion: T=1, n=1, N_sup=1 (one pass of the tiny network)
    no_backbone    backbone=chars: fixed one-hot characters, i.e. a plain TRM on characters

Every run gets the same data as the other variants of its family and the same wall-clock
training time as every other run (train.time_limit: --minutes shared out equally, or
--time-limit), so the variants without recursion run more batches in it. Data generation,
embedding and evaluation come on top of --minutes. A family whose renderer has several
wordings trains on its configured ones (all but the last when it names none) and is also
tested on the others (task.held_out_wordings). ARC is asked each test input once; with
`--task-set arc:test_views=8` the evaluation votes over 8 views of each, as TRM does, and the
results keep the vote's pass@1 and pass@2 (`votes`) beside the table's exact accuracy, which
counts every view as a puzzle. Families that fail are reported in the table, not fatal.
The JSON goes to bench/results/puzzle_suite.json only at the published figures' settings, else to
runs/bench/puzzle_suite.json (`--out` anywhere): bench/README.md.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import sys
import time
import traceback
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import torch  # noqa: E402
from common import (at_least_zero, backbone_config, backbone_overrides, built_first, duration, machine,  # noqa: E402
                    json_out, positive, results_path, trained, write_json, write_partial, written)

from eval.__main__ import evaluate_run  # noqa: E402
from eval.tasks import TASKS, make_task  # noqa: E402
from hybrid.checkpoint import sigterm_raises  # noqa: E402
from hybrid.config import load_config  # noqa: E402
from hybrid.train import train  # noqa: E402

VARIANTS = {
    "hybrid": [],
    "no_recursion": ["reasoner=no_recursion"],
    "no_backbone": ["backbone=chars"],
}
# Family settings small enough to learn something in a CPU minute (others run at their defaults).
SMALL = {
    "sudoku": ["task.size=4"],  # 6x6 needs minutes per variant here (docs/evaluation.md)
    "sorting": ["reasoner.mixer=attention"],  # comparing every pair of numbers: attention, not a fixed slot MLP
    "maze": ["reasoner.mixer=attention"],  # TRM: the slot MLP fails on mazes where attention learns them
    # 3 houses x 1 attribute (names only): 3 x 2 learns nothing in 240 s here, with either mixer.
    # Attention was chosen so a clue's mention could find its value's slot by content, but the
    # slot MLP did better: 0.387 / 0.347 against 0.277 / 0.270 in a paired 240 s run
    # (bench/results/puzzle_suite_zebra_mixers.json). Kept so the published figures reproduce.
    "zebra": ["task.attributes=1", "reasoner.mixer=attention"],
}


def family_overrides(family: str, args) -> list[str]:
    """The family's task settings: its preset, the suite's small size, --task-set, and held-out
    wordings: those its configured `task.wordings` leave out (the last one when it uses all)."""
    overrides = [f"task={family}", *SMALL.get(family, [])]
    overrides += [f"task.{kv.split(':', 1)[1]}" for kv in args.task_set if kv.split(":", 1)[0] == family]
    overrides += [f"task.train_size={args.train_size}", f"task.test_size={args.test_size}"]
    config = load_config(overrides).task
    every = list(range(make_task(config).num_wordings))
    held_out = [w for w in every if config.wordings is not None and w not in config.wordings]
    if not held_out and len(every) > 1:
        held_out = every[-1:]
    if held_out:
        overrides.append(f"task.held_out_wordings=[{','.join(map(str, held_out))}]")
    return overrides


def run_one(family: str, variant: str, task_overrides: list[str], time_limit: float, args) -> dict:
    out_dir = Path(args.work_dir) / family / variant
    overrides = [
        *task_overrides,
        *(backbone_overrides(args.backbone) if variant != "no_backbone" else []),
        f"reasoner.hidden={args.hidden}",
        *VARIANTS[variant],
        f"train.steps={args.steps}", f"train.time_limit={time_limit:g}", f"train.batch_size={args.batch_size}",
        "train.eval_every=0", f"train.checkpoint_every={args.steps}", "train.keep_checkpoints=1",
        "train.tracker=null", f"train.output_dir={out_dir}", f"train.seed={args.seed}",
        *([f"train.data_dir={args.data_dir}"] if args.data_dir else []),
        # train() sets torch's thread count from train.cpu_threads (default: every core), so
        # --threads alone would only hold until the first run started.
        *([f"train.cpu_threads={args.threads}"] if args.threads else []),
        *args.overrides,
    ]
    config = load_config(overrides)
    shutil.rmtree(out_dir, ignore_errors=True)  # a stale checkpoint from an older, longer run would win "newest"
    out_dir.mkdir(parents=True)
    # the runs' own output to a log: stdout keeps to the one table
    with open(out_dir / "log.txt", "w", encoding="utf-8") as log, contextlib.redirect_stdout(log):
        run = trained(train(config))  # a SIGTERM or Ctrl-C there stops the suite, not this run alone
        reports = {split: evaluate_run(out_dir, split=split, out=out_dir / "eval" / split)
                   for split in ("test", "test_heldout") if split == "test" or config.task.held_out_wordings}
    row = {"overrides": overrides, "time_limit": round(time_limit), "batches": run["batches"],
           "train_seconds": round(run["train_seconds"], 1)}
    for split, report in reports.items():
        row[split] = {k: report.get(k) for k in ("exact_accuracy", "cell_accuracy", "open_cell_accuracy", "verifier_accuracy",
                                                 "task_score", "num_puzzles", "exact_curve", "mean_halting_step",
                                                 "by_wording")}
        row[split]["failures"] = report.get("answer_failures", {}).get("count", 0)
        if "votes" in report:  # ARC: pass@1 / pass@2 of the vote over task.test_views views of each input
            row[split]["votes"] = report["votes"]
    return row


def cell(row: dict | None, split: str) -> str:
    if row is None:
        return "-"
    if "error" in row:
        return "error"
    return f"{row[split]['exact_accuracy']:.3f}" if split in row else "n/a"


def print_table(results: dict, variants: list[str]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title="exact accuracy: held-out puzzles / held-out wordings")
    table.add_column("family")
    for variant in variants:
        table.add_column(variant, justify="right")
    for family, rows in results.items():
        if all("skipped" in row for row in rows.values()):  # could not be built at its defaults
            table.add_row(family, *["skipped"] * len(variants))
            continue
        table.add_row(family, *(f"{cell(rows.get(v), 'test')} / {cell(rows.get(v), 'test_heldout')}" for v in variants))
    Console().print(table)


def check_task_set(parser: argparse.ArgumentParser, entries: list[str], families: list[str]) -> None:
    """Each --task-set entry is FAMILY:KEY=VALUE for a family that runs, and sets its key once:
    else it changed nothing without a word (no colon, another family, the last of two won), or
    (no value) its family's ConfigError was reported as "skipped"."""
    for entry in entries:
        family, colon, setting = entry.partition(":")
        if not colon or "=" in family or "=" not in setting:
            parser.error(f"--task-set {entry}: not of the form FAMILY:KEY=VALUE (e.g. sudoku:size=6)")
        if family not in families:
            parser.error(f"--task-set {entry}: {family} is not one of the families run ({', '.join(families)}); "
                         f"add it to --families, or drop this --task-set")
    settings = [entry.partition("=")[0].strip() for entry in entries]  # FAMILY:KEY
    for key in dict.fromkeys(settings):
        twice = [entry for entry, setting in zip(entries, settings) if setting == key]
        if len(twice) > 1:
            parser.error(f"--task-set sets {key} twice ({', '.join(twice)}); give each setting once")


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("overrides", nargs="*", help="key=value applied to every run (e.g. reasoner.T=3)")
    parser.add_argument("--families", help=f"comma-separated (default: all registered: {', '.join(TASKS)})")
    parser.add_argument("--variants", default=",".join(VARIANTS), help=f"comma-separated: {', '.join(VARIANTS)}")
    parser.add_argument("--task-set", action="append", default=[], metavar="FAMILY:KEY=VALUE",
                        help="a task setting for one family, e.g. sudoku:size=6 (repeatable)")
    parser.add_argument("--backbone", default="minilm", help="backbone preset or path for the hybrid variants")
    parser.add_argument("--train-size", type=positive, default=1000)
    parser.add_argument("--test-size", type=positive, default=200)
    parser.add_argument("--hidden", type=positive, default=64)
    parser.add_argument("--batch-size", type=positive, default=64)
    parser.add_argument("--steps", type=positive, default=5000, help="batch limit; the time limit usually binds first")
    parser.add_argument("--minutes", type=duration, default=10.0,
                        help="training time for the whole suite, shared equally by every run "
                        "(data, embedding and evaluation come on top)")
    parser.add_argument("--time-limit", type=duration, help="training seconds per run (overrides --minutes)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=at_least_zero, help="torch CPU threads; 1 is ~10x faster for these tiny models "
                        "when other jobs share the cores (2 threads spin-wait on each other)")
    parser.add_argument("--data-dir", help="dataset/embedding cache (default: train.data_dir)")
    parser.add_argument("--work-dir", default="runs/puzzle_suite")
    parser.add_argument("--out", type=json_out, help="JSON path (default: see bench/README.md)")
    args = parser.parse_args(argv)
    out = args.out or results_path("puzzle_suite", parser, args, same_figures=("data_dir", "work_dir"))
    families = args.families.split(",") if args.families else list(TASKS)
    unknown = [f for f in families if f not in TASKS]  # a typo ran the others without it
    if unknown:
        parser.error(f"unknown family(ies) {', '.join(unknown)}; choose from {', '.join(TASKS)}")
    check_task_set(parser, args.task_set, families)
    variants = args.variants.split(",")
    unknown = [v for v in variants if v not in VARIANTS]
    if unknown:
        parser.error(f"unknown variant(s) {', '.join(unknown)}; choose from {', '.join(VARIANTS)}")
    if any(v != "no_backbone" for v in variants):  # a typo failed each run, after the runs before it
        built_first(parser, "--backbone", [args.backbone], backbone_config)

    if args.threads:
        torch.set_num_threads(args.threads)

    start, results, plans = time.perf_counter(), {}, {}
    for family in families:
        try:
            plans[family] = family_overrides(family, args)
        except Exception as err:  # e.g. a family that needs a data file: it cannot run at its defaults
            print(f"skipping {family}: {type(err).__name__}: {err}", file=sys.stderr)
            results[family] = {v: {"skipped": f"{type(err).__name__}: {str(err)[:500]}"} for v in variants}
    # Equal training time for every run, fixed up front: a share of what is left after earlier
    # runs' set-up would starve the families that come last (sorting once got 14 s against 40 s).
    time_limit = args.time_limit or max(10.0, args.minutes * 60 / max(len(plans) * len(variants), 1))

    def payload() -> dict:
        return {
            "settings": {k: v for k, v in vars(args).items() if k != "out"} | {"variants": VARIANTS, "small": SMALL},
            "machine": machine() | {"threads": torch.get_num_threads(), "cuda": torch.cuda.is_available()},
            "total_seconds": round(time.perf_counter() - start, 1),
            "results": {f: results[f] for f in families if results.get(f)},  # registry order, skipped ones included
        }

    running = "the first run's set-up"
    try:
        with sigterm_raises():  # a `kill` too stops here with what finished written, not silently
            for family, task_overrides in plans.items():
                results[family] = {}
                for variant in variants:
                    running = f"{family} / {variant}"
                    print(f"== {running}: training for {time_limit:.0f} s", file=sys.stderr)
                    try:
                        results[family][variant] = run_one(family, variant, task_overrides, time_limit, args)
                    except Exception as err:  # one broken family must not cost the others their results
                        traceback.print_exc()
                        results[family][variant] = {"error": f"{type(err).__name__}: {str(err)[:500]}"}
    except KeyboardInterrupt as stop:  # hours of finished runs are kept, beside the complete figures
        done = sum(len(rows) for f, rows in results.items() if f in plans)
        write_partial("puzzle_suite", payload(), out, argv, stop, running, f"the {done} run(s) finished")

    summary = payload()
    print_table(summary["results"], variants)
    write_json("puzzle_suite", summary, out, argv)  # with the command, as every bench JSON
    print(f"{summary['total_seconds']:.0f} s in all; results in {written(out)}")
    return summary


if __name__ == "__main__":
    main()
