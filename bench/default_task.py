"""The default main job, with and without recursion, from one command.

    python bench/default_task.py                 # its three runs, fresh data cache, ~15 min on 2 cores
    python bench/default_task.py --quick         # a smoke run, ~1 min: chars backbone, 4x4 (into runs/bench/)

Run 1 is exactly the README's main job (`accelerate launch hybrid/train.py`), timed end to
end from a fresh cache (puzzle generation and backbone embedding included). Run 2 switches
recursion off (reasoner.T=1, reasoner.n=1, reasoner.N_sup=1) with everything else the same,
reusing the cached embeddings, and a third gives the no-recursion model as many optimizer
steps as run 1 could make (N_sup x more batches; halting made run 1's fewer), so the comparison
cannot be blamed on fewer updates.
The JSON goes to bench/results/default_task.json only at the published figures' settings, else to
runs/bench/default_task.json (`--out` anywhere): bench/README.md.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run as a script from anywhere
NO_RECURSION = ["reasoner.T=1", "reasoner.n=1", "reasoner.N_sup=1"]
# A smoke run, of the script and not the claim (~1 min on 2 CPU cores, most of it starting the three trainings):
# the character backbone (no pretrained model to load and embed with), 4x4 puzzles, small batches and few of them
QUICK = ["backbone=chars", "task.size=4", "task.train_size=64", "task.test_size=16", "train.batch_size=16",
         "train.steps=4", "train.warmup=2", "train.eval_every=0", "reasoner.hidden=32"]


def run(name: str, overrides: list[str], data_dir: str, out_root: Path) -> dict:
    out = out_root / name
    cmd = [sys.executable, "-m", "accelerate.commands.launch", "hybrid/train.py", *overrides,
           f"train.data_dir={data_dir}", f"train.output_dir={out}", "train.tracker=null"]
    print(f"\n=== {name}: {' '.join(cmd[3:])}", flush=True)
    start = time.perf_counter()
    from common import run_child  # a SIGTERM to this script stops the training too (it saves a checkpoint)

    run_child(cmd, f"run '{name}' (what it saved is in {out})", check=True, raise_stop=True, cwd=ROOT,
              env=os.environ | {"HF_HUB_OFFLINE": "1"})
    wall = time.perf_counter() - start
    metrics = json.loads((out / "metrics.json").read_text(encoding="utf-8"))
    return {"name": name, "overrides": overrides, "wall_seconds": wall, "train_seconds": metrics["train_seconds"],
            "batches": metrics["batches"], "exact_accuracy": metrics["test"]["exact_accuracy"],
            "cell_accuracy": metrics["test"]["cell_accuracy"], "open_cell_accuracy": metrics["test"].get("open_cell_accuracy"),
            "num_puzzles": metrics["test"]["num_puzzles"],
            "exact_curve": metrics["test"]["exact_curve"]}


def output_path(args) -> Path:
    """--out, else the default parse_args found (in the repository, wherever the script runs from): a --quick run or
    one with overrides goes to runs/bench/, so it never replaces the figures the README quotes."""
    return Path(args.out) if args.out else args.default_out


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    from common import config_checked, json_out, results_path

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true",
                        help=f"a smoke run of about a minute that checks the script, not the claim: {' '.join(QUICK)}")
    parser.add_argument("--data-dir", help="reuse a cache folder (default: a fresh temporary one)")
    parser.add_argument("--out", type=json_out, help="JSON path (default: see bench/README.md; a --quick run never "
                                      "replaces the figures)")
    parser.add_argument("overrides", nargs="*", help="extra key=value overrides for every run")
    args = parser.parse_args(argv)
    args.default_out = results_path("default_task", parser, args, same_figures=("data_dir",))
    args.extra = (QUICK if args.quick else []) + list(args.overrides)  # the user's overrides win over --quick's sizes
    config_checked(parser, args.extra, args.overrides)
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    extra = args.extra
    data_dir = args.data_dir or tempfile.mkdtemp(prefix="hybrid-trm-bench-")
    out_root = Path(tempfile.mkdtemp(prefix="hybrid-trm-runs-"))
    from common import write_json, write_partial, written  # with the command and the machine, as every bench JSON

    from hybrid.checkpoint import sigterm_raises
    from hybrid.config import load_config

    runs, running = [], "recursion (default main job)"
    try:
        with sigterm_raises():  # a `kill` between the trainings too stops here with the finished runs written
            runs.append(run(running, extra, data_dir, out_root))
            running = "recursion off"
            runs.append(run(running, extra + NO_RECURSION, data_dir, out_root))
            running = "recursion off, same optimizer steps"
            same_updates = [f"train.steps={runs[0]['batches'] * load_config(extra).reasoner.N_sup}",
                            "train.time_limit=null"]
            runs.append(run(running, extra + NO_RECURSION + same_updates, data_dir, out_root))
    except KeyboardInterrupt as stop:  # kept: the stopped run's checkpoint, and the cache's minutes of embedding
        print(f"\nkept the runs' folders in {out_root}"
              + ("" if args.data_dir else f" and the fresh cache {data_dir} (--data-dir reuses it)"), file=sys.stderr)
        write_partial("default_task", {"runs": runs}, str(output_path(args)), argv, stop, f"run '{running}'",
                      f"the {len(runs)} run(s) finished")

    print(f"\n{'run':40s} {'exact':>7s} {'cell':>7s} {'open':>7s} {'batches':>8s} {'train s':>8s} {'wall s':>8s}")
    for r in runs:
        open_cells = f"{r['open_cell_accuracy']:7.3f}" if r.get("open_cell_accuracy") is not None else f"{'-':>7s}"
        print(f"{r['name']:40s} {r['exact_accuracy']:7.3f} {r['cell_accuracy']:7.3f} {open_cells} {r['batches']:8d} "
              f"{r['train_seconds']:8.0f} {r['wall_seconds']:8.0f}")
    gap = runs[0]["exact_accuracy"] - max(r["exact_accuracy"] for r in runs[1:])
    print(f"\nrecursion gain: {100 * gap:.1f} points of exact accuracy on {runs[0]['num_puzzles']} held-out puzzles")
    out = write_json("default_task", {"runs": runs, "gain_points": 100 * gap}, str(output_path(args)), argv)
    # the runs' folders and the fresh cache are throwaway once the figures are written, and were left in /tmp (the
    # cache: 7,000 puzzles' MiniLM states, ~0.5 GB at ~70 KB each); a run stopped or failed keeps them to look at
    shutil.rmtree(out_root, ignore_errors=True)
    if not args.data_dir:
        shutil.rmtree(data_dir, ignore_errors=True)
    print(f"removed the runs' folders in {out_root} (the trainings' 'next:' lines name them)"
          + ("" if args.data_dir else f" and the fresh cache {data_dir}"))
    print(f"wrote {written(out)}")


if __name__ == "__main__":
    main()
