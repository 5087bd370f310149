"""Run the README's two Quick start commands as a new user does, and record what they give.

    python bench/fresh_clone.py                  # clone HEAD, install, train, test; add a row
    python bench/fresh_clone.py --no-tests --note "after the cache change"

Clones this checkout's HEAD into an empty folder and gives it an empty HOME (no pip, Hugging
Face or puzzle cache) and a new virtual environment. Then it runs the Quick start lines exactly
as README.md writes them: the first timed from `pip install` to the printed result, the second
(the tests) after it. The row it adds to bench/results/fresh_clone.json (commit, held-out exact
accuracy, training seconds, wall seconds, tests passed) is a row of docs/performance.md's
section of the same name (`python bench/report.py --write`).

Needs the package registries and 10-20 minutes on 2 cores: run nothing else meanwhile, or the
times measure the other work too. A command that fails stops the script with its log's path.
The JSON goes to bench/results/fresh_clone.json only at the published figures' settings, else to
runs/bench/fresh_clone.json (`--out` anywhere): bench/README.md.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import ROOT, json_out, machine, print_table, results_path, run_child, written

README = ROOT / "README.md"


def quick_start(readme: Path = README) -> list[str]:
    """The command lines of the README's Quick start block: install-and-train, then the tests."""
    text = readme.read_text(encoding="utf-8")
    start = text.find("## Quick start")
    block = re.search(r"```bash\n(.*?)```", text[start:], re.S) if start >= 0 else None
    lines = [line for line in block.group(1).splitlines() if line.strip()] if block else []
    if len(lines) < 2:
        raise SystemExit(f"{readme}: no '## Quick start' bash block with two command lines")
    return lines[:2]


def run(command: str, cwd: Path, env: dict, log: Path) -> float:
    """Run `command` in bash with the clone's virtual environment active; its seconds."""
    start = time.perf_counter()
    with open(log, "w", encoding="utf-8") as out:
        code = run_child(["bash", "-c", f"source .venv/bin/activate && {command}"], f"`{command}` (its output: {log})",
                         cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT)
    if code:
        raise SystemExit(f"`{command}` failed (exit {code}); its output: {log}")
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--no-tests", action="store_true", help="run only the first command")
    parser.add_argument("--note", default="", help="a note for the row (what else was running, what changed)")
    parser.add_argument("--keep", action="store_true", help="keep the clone, HOME and logs (default: removed)")
    parser.add_argument("--out", type=json_out, help="JSON path to add the row to (default: see bench/README.md)")
    args = parser.parse_args(argv)
    out = Path(args.out or results_path("fresh_clone", parser, args, same_figures=("note", "keep")))

    train_line, test_line = quick_start()
    work = Path(tempfile.mkdtemp(prefix="hybrid-trm-fresh-"))
    clone, home = work / "repo", work / "home"
    home.mkdir()
    subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True)
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=clone, check=True, capture_output=True,
                            text=True).stdout.strip()
    # The user's environment minus what would reach into this checkout or its caches.
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "HF_HOME")} | {"HOME": str(home)}
    subprocess.run([sys.executable, "-m", "venv", ".venv"], cwd=clone, env=env, check=True)
    print(f"{commit}: `{train_line}` in {clone} (HOME={home})", flush=True)
    wall = run(train_line, clone, env, work / "first.log")
    metrics = json.loads((clone / "runs" / "default" / "metrics.json").read_text(encoding="utf-8"))
    row = {"commit": commit, "date": time.strftime("%Y-%m-%d"), "exact": round(metrics["test"]["exact_accuracy"], 4),
           "train_seconds": round(metrics["train_seconds"]), "wall_seconds": round(wall), "tests": None,
           "note": args.note, "machine": machine()}
    if not args.no_tests:
        print(f"{commit}: `{test_line}`", flush=True)
        seconds = run(test_line, clone, env, work / "tests.log")
        # "461 passed, 1 skipped, 15 warnings in ..."
        summary = (work / "tests.log").read_text(encoding="utf-8").strip().splitlines()[-1]
        counts = re.findall(r"(\d+) (passed|failed|skipped|errors?)", summary)
        row["tests"] = ", ".join(f"{n} {what}" for n, what in counts) + f" in {seconds:.0f} s"

    record = json.loads(out.read_text(encoding="utf-8")) if out.exists() else {"bench": "fresh_clone", "runs": []}
    record["command"] = "python bench/fresh_clone.py"
    record["runs"].append(row)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(record, indent=2), encoding="utf-8")
    print_table("The README's first line on a fresh clone", ["commit", "exact", "training s", "wall s", "tests"],
                [[r["commit"], f"{r['exact']:.3f}", r["train_seconds"], r["wall_seconds"], r["tests"] or "-"]
                 for r in record["runs"]])
    if args.keep:
        print(f"kept {work}")
    else:
        shutil.rmtree(work, ignore_errors=True)
    print(f"added a row to {written(out)}")
    return row


if __name__ == "__main__":
    main()
