"""The whole benchmark suite at its default small sizes, one script after another.

    python bench/run_all.py                  # ~14 min on 2 quiet CPU cores; prints every table
    python bench/run_all.py --only reasoner_step vs_reference
    python bench/run_all.py --smoke          # tiny sizes, results in runs/bench_smoke/ (~3 min)

Each script runs in its own process (so one's threads, compile caches and memory do not leak
into the next), with the arguments its published figures were made with, and writes
bench/results/<name>.json; this one adds run_all.json with each script's command, exit code and
wall time (bench/results/ for the whole suite, runs/bench/ with --only). `main_job --quick` is a
smoke check of the end-to-end job, not its figures: its JSON goes to runs/bench/. GPU sizes: run
the scripts one by one with the flags their docstrings show.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

from common import CHILD_GRACE_SECONDS, PUBLISHED_ARGS, ROOT, print_table, results_path, run_child, write_json, written

SUITE = {  # name -> arguments: those its published figures were made with (bench/results/<name>.json's command)
    "reasoner_step": [],
    "fast_paths": [],
    "vs_reference": PUBLISHED_ARGS["vs_reference"],
    "main_job": ["--quick"],  # the full job takes 15 min (PUBLISHED_ARGS): this checks it runs, into runs/bench/
    "test_time_compute": [],
    "generation": [],
}
SMOKE_DIR = ROOT / "runs" / "bench_smoke"
SMOKE = {  # seconds-to-a-minute sizes that still exercise every code path
    "reasoner_step": ["--batch", "4", "--slots", "16", "--base", "2", "2", "16", "--T", "1", "8", "--n", "1", "2", "4",
                      "--hidden", "16", "--iters", "2", "--warmup", "1"],
    "fast_paths": ["--batch", "4", "--slots", "16", "--hidden", "16", "--rounds", "2", "--variants", "bf16"],
    "vs_reference": ["--sizes", "4", "--seconds", "5", "--eval-seconds", "5", "--train-size", "256",
                     "--test-size", "64", "--eval-size", "64", "--speed-batches", "1"],
    "main_job": ["--quick", "train.steps=3"],
    "test_time_compute": ["--max-steps", "4", "--eval-size", "64", "--quick-run-args", "train.time_limit=10",
                          "task.train_size=256", "task.test_size=64"],
    "generation": ["--seconds", "0.2", "--only", "sudoku:size=4", "maze"],
}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", nargs="+", choices=list(SUITE), help="run these benches only")
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, results under runs/bench_smoke/")
    args = parser.parse_args(argv)
    out = SMOKE_DIR / "run_all.json" if args.smoke else results_path("run_all", parser, args)

    rows, runs = [], []
    for name in args.only or SUITE:
        extra = SMOKE[name] if args.smoke else SUITE[name]
        if args.smoke:  # kept out of bench/results (and out of git: runs/ is ignored)
            extra = extra + ["--out", str(SMOKE_DIR / f"{name}.json")]
            if name == "test_time_compute":
                extra += ["--quick-run-dir", str(SMOKE_DIR / "ttc_quick")]
        cmd = [sys.executable, f"bench/{name}.py", *extra]
        print(f"\n=== {name}: python {' '.join(cmd[1:])}", flush=True)
        start = time.perf_counter()
        # A SIGTERM to this script reaches the bench too, which passes it on to a training it runs: the bench
        # gets that training's grace and more, else it would be killed first and leave the training running.
        code = run_child(cmd, f"bench {name}", grace=2 * CHILD_GRACE_SECONDS, cwd=ROOT,
                         env=os.environ | {"HF_HUB_OFFLINE": "1"})
        seconds = time.perf_counter() - start
        runs.append({"bench": name, "command": f"python {' '.join(cmd[1:])}", "exit_code": code, "seconds": seconds})
        rows.append([name, "ok" if code == 0 else f"failed ({code})", seconds])
    print_table("Benchmark suite", ["bench", "status", "wall seconds"], rows + [["total", "", sum(r[2] for r in rows)]])
    path = write_json("run_all", {"runs": runs, "total_seconds": sum(r["seconds"] for r in runs)}, str(out), argv)
    print(f"wrote {written(path)}")
    if any(r["exit_code"] for r in runs):
        sys.exit(1)


if __name__ == "__main__":
    main()
