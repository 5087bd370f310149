"""Early exit at inference: `solve` on held-out puzzles, each stopped at its halting head's
call (sigmoid(q_halt) > reasoner.halt_threshold, then it leaves the batch), against running all N_sup supervision steps.

    accelerate launch hybrid/train.py                  # the main job: writes runs/default/final
    python bench/early_exit.py runs/default            # 1,000 held-out puzzles, both modes
    python bench/early_exit.py runs/default/final --puzzles 500 --device cuda

CHECKPOINT is anything `python -m hybrid.solve` accepts: a pretrained folder (final/), a run
folder, or a checkpoint folder. The puzzles are the run's held-out test split (rebuilt from the
saved config: same generator settings and seed, read from the data cache when present). The
check passes when early exit uses fewer supervision steps on average and its exact accuracy is
within 1 point of fixed steps; a failed check exits with status 1, after the figures are written.
Times include the backbone, which runs once per puzzle in both modes.
The JSON goes to bench/results/early_exit.json only at the published figures' settings, else to
runs/bench/early_exit.json (`--out` anywhere): bench/README.md.
"""

from __future__ import annotations

import argparse
import sys
import time

from common import (device_name, exact_accuracy, json_out, positive, print_table, results_path, run_named, setup,
                    write_json, written)

from hybrid.checkpoint import CheckpointError  # noqa: E402
from hybrid.config import ConfigError  # noqa: E402
from hybrid.data import build_splits, examples  # noqa: E402
from hybrid.inference import Hybrid  # noqa: E402


def run(solver: Hybrid, puzzles, fixed_steps: bool, batch_size: int) -> dict:
    start = time.perf_counter()
    solutions = solver.solve(puzzles, fixed_steps=fixed_steps, batch_size=batch_size)
    seconds = time.perf_counter() - start
    n = len(puzzles)
    return {
        "exact_accuracy": exact_accuracy(solutions, puzzles),  # by slots, as evaluation counts it
        "verifier_accuracy": sum(bool(s.verified) for s in solutions) / n,
        "mean_steps": sum(s.steps for s in solutions) / n,
        "puzzles_per_second": n / seconds,
        "seconds": seconds,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("checkpoint", help="pretrained folder (e.g. runs/default/final), run folder or checkpoint")
    parser.add_argument("--puzzles", type=positive, default=1000)
    parser.add_argument("--batch-size", type=positive, default=64)
    parser.add_argument("--device", type=device_name, default=None, help="cpu or cuda (default: cuda when available)")
    parser.add_argument("--out", type=json_out, help="JSON path (default: see bench/README.md)")
    args = parser.parse_args(argv)
    # the figures are the run's: the published ones are of the checkout's runs/default, however it was named
    out = args.out or results_path("early_exit", parser, argparse.Namespace(**vars(args) | {
        "checkpoint": run_named(args.checkpoint)}))
    setup(args.device or "cpu")

    try:
        solver = Hybrid.from_pretrained(args.checkpoint, args.device)
    except (CheckpointError, ConfigError) as err:  # no such folder, or not a model: one line, as `python -m hybrid.solve`
        sys.exit(f"error: {err}")
    config = solver.config
    test = examples(build_splits(solver.task, config.task, config.train.seed, config.train.data_dir)["test"])
    if len(test) < args.puzzles:
        print(f"note: the held-out split has {len(test)} puzzles (task.test_size); using all of them")
    puzzles = test[:args.puzzles]

    solver.solve(puzzles[:args.batch_size], fixed_steps=True, batch_size=args.batch_size)  # untimed: one-off costs
    fixed = run(solver, puzzles, fixed_steps=True, batch_size=args.batch_size)
    early = run(solver, puzzles, fixed_steps=False, batch_size=args.batch_size)
    columns = ["mode", "exact accuracy", "verifier accuracy", "mean supervision steps", "puzzles/s"]
    # each figure with its column's decimals, as the verdict below and other benches' accuracies (main_job's):
    # print_table's 3 significant digits wrote an accuracy of 0 as `0` beside `0.750`, and 2 steps as `2`
    print_table(f"early exit vs fixed steps: {len(puzzles)} held-out {config.task.name} puzzles, "
                f"N_sup={config.reasoner.N_sup}",
                columns, [[name, f"{r['exact_accuracy']:.3f}", f"{r['verifier_accuracy']:.3f}",
                           f"{r['mean_steps']:.2f}", f"{r['puzzles_per_second']:,.1f}"]
                          for name, r in (("fixed steps", fixed), ("early exit", early))])
    fewer = early["mean_steps"] < fixed["mean_steps"]
    close = abs(early["exact_accuracy"] - fixed["exact_accuracy"]) <= 0.01
    verdict = "PASS" if fewer and close else "FAIL"
    print(f"{verdict}: early exit uses {early['mean_steps']:.2f} of {fixed['mean_steps']:.0f} steps on average "
          f"({'fewer' if fewer else 'not fewer'}); exact accuracy {early['exact_accuracy']:.3f} vs "
          f"{fixed['exact_accuracy']:.3f} ({'within' if close else 'not within'} 1 point)")
    path = write_json("early_exit", {"checkpoint": args.checkpoint, "puzzles": len(puzzles), "N_sup": config.reasoner.N_sup,
                                     "fixed_steps": fixed, "early_exit": early, "pass": verdict == "PASS"}, out)
    print(f"wrote {written(path)}")
    if verdict == "FAIL":  # a script or scheduler running the check sees it failed, not only a reader
        sys.exit(1)


if __name__ == "__main__":
    main()
