"""The folder a report is written in: checked writable before minutes of evaluating, followed where
the run evaluated is moved meanwhile, and an earlier report there of other settings (or of a puzzle
file edited since) said before this evaluation replaces it."""

from __future__ import annotations

import contextlib
import json
import os
import warnings
from pathlib import Path

from eval import HarnessError
from eval.puzzle_file import short_sha256
from hybrid.config import typed
from hybrid.folders import make_writable


def writable(folder: Path) -> None:
    """Check the report's folder can be written: one that cannot (below a file, on a read-only disk)
    is said before minutes of evaluating, not after them in a traceback. The folders the check makes
    are removed again (the report makes them), so an evaluation that fails leaves none behind."""
    made = [f for f in (folder, *folder.parents) if not f.exists()]  # deepest first
    try:
        make_writable(folder)
    except OSError as err:
        raise HarnessError(f"cannot write the report in {folder} ({err.strerror or err}): give --out a folder "
                           f"that can be written") from None
    finally:  # a check that failed part-way (a name too long for the disk) made some of them too
        for f in made:
            with contextlib.suppress(OSError):  # another evaluation writing there meanwhile keeps it
                f.rmdir()


def where_now(run: Path, read_from: os.stat_result) -> Path | None:
    """Where the folder evaluated (`read_from`: its os.stat before its weights were read) is now; None
    where it is gone. A new training run given the same train.output_dir moves the run there aside,
    to `<output_dir>-<when it started>` beside it (hybrid.run_folder.claim), perhaps while it is
    evaluated: its report then goes with it, not into the new run's folder (where it read as the
    new run's, its `checkpoint` naming the new run's weights)."""
    def same(folder: Path) -> bool:
        try:
            return os.path.samestat(os.stat(folder), read_from)
        except OSError:  # not there
            return False

    if same(run):
        return run
    beside = run.resolve()
    return next((moved for moved in beside.parent.glob(f"{beside.name}-*") if same(moved)), None)


def report_settings(report: dict) -> dict:
    """What a report's figures depend on besides the weights' values, as settings by name: the weights
    (their folder within the run), the puzzles (a --puzzles file by its path, where the report records
    it), the backbone and the test-time recursion."""
    settings = {}
    if "checkpoint" in report and "run" in report:  # within the run: a run moved since is the same weights
        settings["checkpoint"] = os.path.relpath(report["checkpoint"], report["run"])
    settings |= {key: report[field] for key, field in (("weights", "weights"), ("split", "split"),
                                                       ("--puzzles", "puzzles"), ("backbone.path", "backbone"),
                                                       ("reasoner.halt_threshold", "halt_threshold"))
                 if field in report}
    settings |= {f"task.{key}": value for key, value in (report.get("task") or {}).items()}
    compute = report.get("compute") or {}  # a report of no puzzles has none
    return settings | {f"reasoner.{key}": compute[key] for key in ("N_sup", "T", "n") if key in compute}


def setting(key: str, value) -> str:
    """A setting as the user gave it: key=value, and `--puzzles - (stdin)` for puzzles piped in, which the
    report records as "stdin" (--puzzles=stdin would read a file of that name)."""
    return "--puzzles - (stdin)" if key == "--puzzles" and value == "stdin" else f"{key}={typed(value)}"


def say_replaced(out: Path, report: dict) -> None:
    """One warning where the folder `out` holds a report of other settings than `report` (this
    evaluation's, before its figures), which this one replaces: naming each that differs, and a puzzle
    file at the same path whose bytes changed since (`puzzles_sha256`). The same settings again (say,
    after more training) are a new report of the same thing, unsaid."""

    try:
        earlier = json.loads((out / "report.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):  # none there (or no report: nothing a reader could lose)
        return
    if not isinstance(earlier, dict):
        return
    then, now = report_settings(earlier), report_settings(json.loads(json.dumps(report)))  # tuples as JSON lists
    differ = [key for key in now if key in then and now[key] != then[key]]
    if "checkpoint" in differ and "weights" in differ:  # the same difference, said once
        differ.remove("weights")
    said = [f"{setting(key, now[key])} (the earlier report's: {typed(then[key])})" for key in differ]
    # The same file (its resolved path, however it was spelt) edited since: other puzzles under the same
    # setting. Unsaid where the earlier report recorded no fingerprint (written before it was recorded).
    was, held = earlier.get("puzzles_sha256"), report.get("puzzles_sha256")
    if "--puzzles" in then and then["--puzzles"] == now.get("--puzzles") and was and held and was != held:
        said.append(f"{setting('--puzzles', now['--puzzles'])}, whose contents changed since "
                    f"(sha256 {short_sha256(held)}; the earlier report's: {short_sha256(was)})")
    if said:
        what = "other settings" if differ else "other puzzles"
        warnings.warn(f"{out / 'report.json'} holds an evaluation of {what}, which this one replaces when it "
                      f"ends: {', '.join(said)}. To keep both, give --out another folder", stacklevel=3)
