"""End-to-end main job: wall time and peak memory of the README's main command,
`accelerate launch hybrid/train.py`, with any overrides.

    python bench/main_job.py                         # the full default job (~15 min on 2 cores)
    python bench/main_job.py --quick                 # smoke size, about a minute
    python bench/main_job.py -- reasoner.T=3 train.steps=100          # overrides for train.py
    python bench/main_job.py --fresh-cache           # include puzzle generation and embedding
    python bench/main_job.py --launch-args "--multi_gpu --num_processes 2"

Peak memory is the resident set size (RSS): the largest single process (from
`resource.getrusage(RUSAGE_CHILDREN)`, exact, over every finished child and grandchild) and the
whole process tree summed (psutil, sampled every 0.2 s), which counts every worker of a
multi-process launch. Training time and accuracy come from the run's metrics.json.
The JSON goes to bench/results/main_job.json only at the published figures' settings, else to
runs/bench/main_job.json (`--out` anywhere): bench/README.md.
"""

from __future__ import annotations

import argparse
import os
import resource
import shlex
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

from common import ROOT, child_process, config_checked, json_out, print_table, results_path, write_json, written

QUICK = ["task.size=4", "task.train_size=512", "task.test_size=128", "train.steps=20", "train.eval_every=0",
         "backbone=chars"]


def tree_rss_sampler(pid: int, stop: threading.Event, result: dict, every: float = 0.2) -> None:
    """Largest summed RSS of `pid` and its descendants while it runs."""
    import psutil

    try:
        root = psutil.Process(pid)
    except psutil.NoSuchProcess:
        return
    while not stop.is_set():
        total = 0
        try:
            for proc in [root, *root.children(recursive=True)]:
                try:
                    total += proc.memory_info().rss
                except psutil.NoSuchProcess:
                    pass
        except psutil.NoSuchProcess:
            break
        result["peak"] = max(result.get("peak", 0), total)
        stop.wait(every)


def largest_child_rss() -> int:
    """Bytes: the peak resident set of the largest finished child process (and grandchild)."""
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024  # bytes on macOS, KiB on Linux


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help=f"smoke size: {' '.join(QUICK)}")
    parser.add_argument("--launch-args", default="", help="arguments for accelerate launch (quoted)")
    parser.add_argument("--output-dir", help="train.output_dir (default: a temporary folder)")
    parser.add_argument("--fresh-cache", action="store_true",
                        help="a new train.data_dir, so puzzle generation and backbone embedding are timed too")
    parser.add_argument("--out", type=json_out, help="JSON path (default: see bench/README.md; a --quick run never "
                                      "replaces the full job's figures)")
    parser.add_argument("overrides", nargs="*", help="key=value overrides for hybrid/train.py (after --)")
    args = parser.parse_args(argv)
    out = args.out or results_path("main_job", parser, args, same_figures=("output_dir",))
    try:  # split before anything runs: a bad quote is a usage error
        launch_args = shlex.split(args.launch_args)
    except ValueError as err:
        parser.error(f"--launch-args {args.launch_args!r}: {err}")

    overrides = (QUICK if args.quick else []) + list(args.overrides)
    config_checked(parser, overrides, args.overrides)
    output_dir = args.output_dir or tempfile.mkdtemp(prefix="hybrid-trm-main-job-")
    overrides += [f"train.output_dir={output_dir}", "train.tracker=null"]
    fresh_cache = tempfile.mkdtemp(prefix="hybrid-trm-cache-") if args.fresh_cache else None
    if fresh_cache:
        overrides.append(f"train.data_dir={fresh_cache}")
    cmd = [sys.executable, "-m", "accelerate.commands.launch", *launch_args, "hybrid/train.py",
           *overrides]
    shown = "accelerate launch " + " ".join(cmd[3:])
    print(f"running: {shown}", flush=True)

    stop, sampled = threading.Event(), {}
    start = time.perf_counter()
    with child_process(cmd, f"the main job (what it saved is in {output_dir})", cwd=ROOT,
                       env=os.environ | {"HF_HUB_OFFLINE": "1"}) as proc:  # a SIGTERM here stops the training too
        sampler = threading.Thread(target=tree_rss_sampler, args=(proc.pid, stop, sampled), daemon=True)
        sampler.start()
        code = proc.wait()
    wall = time.perf_counter() - start
    stop.set()
    sampler.join()
    if code:
        sys.exit(f"the main job failed with exit code {code}")
    largest = largest_child_rss()

    import json

    metrics = json.loads((Path(output_dir) / "metrics.json").read_text(encoding="utf-8"))
    test = metrics["test"]
    result = {"launch": shown, "overrides": overrides, "output_dir": output_dir, "wall_seconds": wall,
              "train_seconds": metrics["train_seconds"], "batches": metrics["batches"],
              "peak_rss_largest_process_bytes": largest, "peak_rss_process_tree_bytes": sampled.get("peak", 0),
              "num_processes": metrics["num_processes"], "exact_accuracy": test["exact_accuracy"],
              "cell_accuracy": test["cell_accuracy"], "open_cell_accuracy": test.get("open_cell_accuracy"),
              "num_puzzles": test["num_puzzles"],
              "trainable_parameters": metrics["trainable_parameters"]}
    print(f"command: {shown}")
    print_table("End-to-end main job", ["metric", "value"], [
        ["wall time (s)", wall],
        ["training time (s)", metrics["train_seconds"]],
        ["batches", metrics["batches"]],
        ["processes", metrics["num_processes"]],
        ["peak RSS, largest process (MiB)", largest / 2**20],
        ["peak RSS, process tree (MiB, sampled)", sampled.get("peak", 0) / 2**20],
        ["held-out exact accuracy", f"{test['exact_accuracy']:.3f} ({test['num_puzzles']} puzzles)"],
        ["trainable parameters", metrics["trainable_parameters"]],
    ])
    path = write_json("main_job", result, out, argv)
    if fresh_cache:  # throwaway once timed (the default job's: ~0.5 GB), and it stayed in /tmp; the run stays
        shutil.rmtree(fresh_cache, ignore_errors=True)
    print(f"wrote {written(path)}")
    return result


if __name__ == "__main__":
    main()
