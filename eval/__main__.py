"""Evaluate a trained model on any task and write a JSON report with plots.

    python -m eval runs/default                                  # held-out test puzzles
    python -m eval runs/default reasoner.N_sup=16                # more test-time steps than trained
    python -m eval runs/default task.held_out_wordings=[2] --split test_heldout
    python -m eval runs/arc task.test_views=8                    # ARC: vote over 8 views of each test input
    python -m eval runs/default/checkpoints/step_00000120 --puzzles mine.txt --out reports/mine
    ./make_puzzles.sh | python -m eval runs/default --puzzles -   # puzzles piped in (stdin)

RUN_OR_CHECKPOINT is a training run folder (its final/ weights, written when training ends,
else its newest checkpoint), a pretrained folder, or one checkpoint folder. The model is
rebuilt from the config saved with it, as HybridModel.from_pretrained does, and `key=value`
overrides change what needs no new weights (the test puzzles, N_sup, T, n, the data folder).
The report lands in RUN/eval/<split> (with --puzzles FILE, RUN/eval/puzzles-<FILE's name>, and with
--puzzles - (stdin), RUN/eval/puzzles-stdin; for a checkpoint named on its own, the same under
RUN/eval/step_N/) unless --out says otherwise. See docs/evaluation.md.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import sys
import time
import warnings
from collections.abc import Sequence
from pathlib import Path

from eval.report import compute, curve_text, open_cell_rows, slot_accuracy, write_report
from eval.tasks import PuzzleError, make_task, read_typed, split_typed_lines
from eval.tasks.base import (STDIN, TypedPuzzle, UnreadableInput, holds_no_puzzle, no_puzzles, read_input,
                             typed_puzzles)
from eval.voting import exact_label, vote_rows
from hybrid import checkpoint, trained_on
from hybrid.checkpoint import CheckpointError, CheckpointMismatch, load_weights, read_weights, read_whole
from hybrid.config import Config, ConfigError, as_dict, load_config, typed
from hybrid.folders import make_writable
from hybrid.solve import positive
from hybrid.splits_record import untrained_rows
from hybrid.summary import shell_word


class HarnessError(ValueError):
    """A request the harness cannot serve (missing split, unreadable puzzle file)."""


def locate(path: str | Path) -> tuple[Path, Path]:
    """(run folder, weights folder) for a run folder (its `final` pretrained folder, else its
    newest checkpoint), a pretrained folder, or one checkpoint folder."""
    from hybrid.inference import locate as weights_folder  # the same rule HybridModel.from_pretrained uses

    path = Path(path).expanduser()  # "~/runs/x" from Python, as from_pretrained reads it
    if not path.is_dir():
        raise CheckpointError(f"{path} is not a folder; give a training run folder, its final/ folder or "
                              f"one of its checkpoints/step_* folders")
    folder = weights_folder(path)
    return checkpoint.run_of(folder), folder


def puzzles_said(puzzles: str | Path, file: str = "") -> str:
    """How messages name the puzzles: "stdin", or the file as given (after `file`: "puzzle file ")."""
    return "stdin" if str(puzzles) == STDIN else f"{file}{puzzles}"


def puzzles_name(puzzles: str | Path) -> str:
    """What the split (`puzzles:<name>`) and the report's folder (`puzzles-<name>`) are named after:
    the file's name, or "stdin"."""
    return "stdin" if str(puzzles) == STDIN else Path(puzzles).name


def puzzles_source(puzzles: str | Path) -> str:
    """The report's `puzzles`: "stdin"; a file's resolved path, one however it was spelt; a pipe's path
    as given (bash's <(...) is /dev/fd/63, which resolves to no file but "pipe:[N]", another each time)."""
    if str(puzzles) == STDIN:
        return "stdin"
    path = Path(puzzles).expanduser().absolute()
    return str(path.resolve() if path.is_file() else path)


def read_puzzle_file(path: str | Path) -> tuple[str, str]:
    """(text, sha256): the text of a puzzle file and the sha256 of its bytes, read once, so that the
    report's fingerprint (`puzzles_sha256`) is of the very bytes its puzzles came from. The path alone
    says nothing of a file edited between two evaluations. `-` reads stdin, which can be read only
    once; a path that is no regular file but can be read (bash's <(generate ...), a named pipe) is
    read as a file is. Text that holds no puzzle is refused here, as a missing or unreadable file is:
    evaluate_run reads it before the weights and the backbone load (seconds to a minute), as
    hybrid.solve reads its --input."""
    stdin, where = str(path) == STDIN, puzzles_said(path, "puzzle file ")
    path = path if stdin else Path(path).expanduser()  # "~/mine.txt" from Python, as the report records it
    if not stdin and path.is_dir():
        raise HarnessError(f"puzzle file {path} is a folder; give the file of puzzles in it")
    if not stdin and not path.exists():
        raise HarnessError(f"puzzle file {path} does not exist")
    try:
        text, data = read_input(path, "--puzzles", where)
    except UnreadableInput as err:
        raise HarnessError(str(err)) from None
    if holds_no_puzzle(text):  # a report of no puzzles says nothing, and would replace an earlier report of them
        raise HarnessError(no_puzzles(where))
    return text, hashlib.sha256(data).hexdigest()


def read_puzzles(path: str | Path, task, text: str | None = None) -> list[TypedPuzzle]:
    """Hand-written puzzles, each with the file line it starts on, read as `hybrid.solve --input` reads
    them (`typed_puzzles`): a line written as JSON (a string, or {"question": ...}) is one puzzle,
    whatever the file is named; the other lines are plain text, one puzzle per line or per block of
    lines (`split_typed_lines`). `text`: the file's, where it was read already (`read_puzzle_file`)."""
    if text is None:
        text = read_puzzle_file(path)[0]
    puzzles = typed_puzzles(text, lambda plain: split_typed_lines(plain, task))
    if not puzzles:  # a report of no puzzles says nothing, and would replace an earlier report of this file
        raise HarnessError(no_puzzles(puzzles_said(path, "puzzle file ")))
    return puzzles


def parse_puzzles(task, puzzles: list[TypedPuzzle], wording: int = 0) -> tuple[list, list[dict]]:
    """Examples from typed puzzles (`read_puzzles`), worded in `wording` (one the model trained on);
    each one that cannot be read becomes a recorded failure, named by its file line where it has one."""
    answered = hasattr(task, "from_row")  # qa: an answer cannot be worked out, so it comes with its question
    if answered and all(p.value is None and p.error is None for p in puzzles):  # no line is JSON: no answers
        question, answer = getattr(task, "fields", ("question", "answer"))
        raise HarnessError(f"task {task.name!r} scores each question against the answer given with it, and no line of "
                           f'the file is JSON: give one {{"{question}": ..., "{answer}": ...}} object per line')
    if not answered and hasattr(task, "read_views"):  # ARC: a typed puzzle can be answered, not checked
        raise HarnessError(f"task {task.name!r} cannot score typed puzzles: the answer each asks is not in it, so there "
                           f"is nothing to check. To score tasks of your own, save them as ARC task .json files with "
                           f"their test outputs and run python -m hybrid.solve RUN --input FOLDER (each answer is "
                           f"verified), or evaluate a whole data folder (training/ and evaluation/, as ARC-AGI-2's "
                           f"data/) with python -m eval RUN task.source=FOLDER")
    if not answered and not hasattr(task, "from_text"):
        raise HarnessError(f"task {task.name!r} cannot score hand-written puzzles: it has no from_text, so nothing "
                           f"works out the answer a typed question asks. Score its test split (python -m eval RUN), or "
                           f"answer your questions with python -m hybrid.solve RUN --input FILE")
    parsed, failures = [], []
    for i, puzzle in enumerate(puzzles):
        where = f"line {puzzle.line}" if puzzle.line else f"puzzle {i}"
        try:
            if answered and isinstance(puzzle.value, dict):  # its fields are the task's, "question" or not
                parsed.append(task.from_row(puzzle.value, wording, where=where))
                continue
            if puzzle.error:  # a JSON error's own "line 1 column 23 (char 22)" was within the puzzle's line
                raise PuzzleError(puzzle.error)
            if answered:
                raise PuzzleError("each line must be a JSON object holding a question and its answer")
            parsed.append(read_typed(task, puzzle.question, wording))
        except Exception as err:  # a bad puzzle is reported, the others are still evaluated
            # A file line named first
            said = f"{where}: {err}" if puzzle.line and not str(err).startswith(where) else str(err)
            kind = "" if isinstance(err, PuzzleError) else f"{type(err).__name__}: "  # as error_text: a bug is named
            failures.append({"puzzle": i, "text": puzzle.text[:200], "error": f"{kind}{said[:500]}"}
                            | ({"line": puzzle.line} if puzzle.line else {}))
    return parsed, failures


def backbone_throughput(backbone, questions: list[str], sample: int = 64) -> float:
    """Puzzles per second through the frozen backbone alone, on up to `sample` questions (the
    evaluation itself reads cached states, so it does not time the backbone). What max_length cuts of
    them is not said again: the split's own pass (embedded, read from the cache, or tokenized) said it."""
    questions = questions[:sample]
    if not questions:
        return 0.0
    start = time.perf_counter()
    with backbone.counting_truncation(say=False):
        for i in range(0, len(questions), backbone.config.batch_size):
            states = backbone(questions[i:i + backbone.config.batch_size]).states
    # On a GPU the forwards return once queued: reading a value waits for the last one to finish.
    states.flatten()[:1].sum().item()
    return len(questions) / max(time.perf_counter() - start, 1e-9)


def evaluate_run(path: str | Path, overrides: list[str] = (), split: str = "test", out: str | Path | None = None,
                 puzzles: str | Path | None = None, batch_size: int = 256, device: str | None = None,
                 ema: bool = True) -> dict:
    """Evaluate the weights `path` names (a run's final/, else its newest checkpoint; a pretrained
    folder; one checkpoint) and write the report; returns it."""
    from torch.utils.data import Subset

    from eval.runner import predict, score_predictions
    from hybrid.cache import backbone_inputs
    from hybrid.inference import backbone_named_in, device_for, read_config
    from hybrid.lora import with_backbone
    from hybrid.model import HybridModel
    from hybrid.weight_shapes import shape_changes, tensor_shapes, uses_heads  # imports torch: not for --help

    # An empty value (a script's unset variable: --out "$DIR") read as none wrote over the run's own report
    # (--out), or as "." read the folder here (the run, --puzzles)
    for flag, value, want in (("RUN_OR_CHECKPOINT", path, "a training run folder, its final/ folder or one of its "
                                                           "checkpoints/step_* folders"),
                              ("--out", out, "the report's folder, or leave --out out for RUN/eval/<split>"),
                              ("--puzzles", puzzles, "the file of puzzles, or leave --puzzles out for a split")):
        if isinstance(value, str) and not value:
            raise HarnessError(f"{flag} is empty: give {want}")
    if out is not None and Path(out).exists() and not Path(out).is_dir():  # before minutes of evaluating
        raise HarnessError(f"--out {out} is a file; give a folder for report.json and the plots")
    if puzzles is not None and split != "test":  # the file's puzzles are the split: --split would go unheeded
        raise HarnessError(f"--split {split} and --puzzles {puzzles} ask for two things to evaluate: the puzzles of a "
                           f"file are worded in the first of task.wordings, not a split's. Give one of them (to word "
                           f"the file's puzzles another way, add task.wordings=[...])")
    # Read once, now: a missing, unreadable or empty file is said before the weights and the backbone load, and the
    # report's fingerprint is of these bytes (stdin is read once, and a file may change while the model loads)
    text, sha256 = read_puzzle_file(puzzles) if puzzles is not None else (None, None)

    run = locate(path)[0]
    read_from = os.stat(run)  # which a move keeps: a new run in its train.output_dir may move it aside (where_now)

    def read(folder: Path) -> tuple:
        # All of it now, not after minutes of data and embedding: a run still training in `path`
        # deletes its older checkpoints meanwhile (read_whole then reads its newest).
        config_file = saved_config(run, folder)
        trained = read_config(config_file)  # a clear error for an old or damaged file
        record = trained_on.read(folder)  # before the weights, whose checksums then show it was still there
        splits = checkpoint.splits_of(folder)  # the weights' own: an older checkpoint may predate a resume on other data
        return (config_file, trained, load_config(overrides, base=config_file), record, splits,
                read_weights(folder, ema))

    folder, (config_file, trained, config, record, recorded, saved) = read_whole(
        path, lambda p: weights_to_evaluate(p, ema), read)
    writable(Path(out) if out is not None else run / "eval")  # before minutes of evaluating
    if config.backbone.lora != trained.backbone.lora:  # another alpha loads without complaint and rescales the trained change
        raise HarnessError(f"backbone.lora cannot change at evaluation: the weights were trained with backbone.lora="
                           f"{trained.backbone.lora} (asked: {config.backbone.lora}); drop the backbone.lora override")

    task = make_task(config.task)
    for group in ("reasoner", "adapter"):  # heads split the same weights: other heads load without complaint
        asked, then = getattr(config, group).heads, getattr(trained, group).heads
        # Where either model has none (the mlp mixer, span pooling) they change nothing, or the shapes differ
        if asked != then and uses_heads(config, group, task) and uses_heads(
                trained, group, task if trained.task.name == config.task.name else make_task(trained.task)):
            raise HarnessError(f"{group}.heads cannot change at evaluation: the weights were trained with {group}.heads="
                               f"{then} (asked: {asked}), and other heads fit every shape but compute something "
                               f"else; drop the {group}.heads override")
    device = device_for(device)
    named = any(item.startswith(("backbone.path=", "backbone=")) for item in overrides)
    say_where = None if named else f"python -m eval {shell_word(path)} backbone.path=PATH"
    backbone = backbone_named_in(config, task, config_file, say_where).to(device)

    # Built as hybrid/train.py builds it, so the checkpoint's state dict fits exactly. Before the
    # puzzles: an override of a shape the weights depend on (task.size=9) is an error at once, not
    # after generating a split of 9x9 Sudokus (minutes) that no evaluation can use.
    bare = model = HybridModel.for_task(config, backbone.hidden_size, task)
    model = with_backbone(model, backbone, config.backbone)  # backbone.lora: the backbone is part of the model
    try:
        weights = load_weights(model, folder, ema, weights=saved,
                               backbones=(trained.backbone.path, config.backbone.path))
    except CheckpointMismatch:  # intact weights (read above), other shapes
        if config.task.name != trained.task.name:
            # Another family's puzzles are evaluated where the shapes fit; where not, that is the cause to name
            raise HarnessError(f"the weights in {folder} were trained on task {trained.task.name!r}, and task "
                               f"{config.task.name!r} builds a model of other shapes: drop the task override, or "
                               f"give a run trained on {config.task.name}") from None
        changes = shape_changes(trained, config, backbone.hidden_size, tensor_shapes(saved[0]),
                                "hybrid." if model is not bare else "")
        if not changes:  # none of the settings (weights of another version of the model): the tensor is named
            raise
        given = " ".join(setting for setting, _ in changes)
        raise HarnessError(f"the weights in {folder} were trained at other shapes: {'; '.join(s for _, s in changes)}."
                           f" An evaluation may change the puzzles, N_sup, T and n, not a shape of the weights: leave "
                           f"out {given}, or evaluate a run trained with {'it' if len(changes) == 1 else 'them'}"
                           ) from None
    differs = trained_on.check(folder, record, backbone)  # warns if these are not the states the weights were trained on
    model.to(device)
    asked = f"puzzles:{puzzles_name(puzzles)}" if puzzles is not None else split  # as the report names it
    # A checkpoint named on its own reports beside the run's own reports, not over them (RUN/eval/test
    # is the run's: its final/ weights, else its newest checkpoint).
    own = folder.parent.name == "checkpoints" and Path(path).expanduser().resolve() == folder.resolve()
    out = Path(out) if out else run / "eval" / (folder.name if own else "") / asked.replace(":", "-")
    r = config.reasoner
    # Said before the minutes of data and evaluating, where Ctrl-C still leaves the earlier report
    head = {"run": str(run), "checkpoint": str(folder), "weights": weights, "split": asked,
            "task": as_dict(config)["task"], "backbone": config.backbone.path}  # the report's first fields
    if puzzles is not None:  # the split names the file alone: another folder's mine.txt is told apart by its path,
        # and the same file edited since (or other puzzles piped in) by what it held
        head |= {"puzzles": puzzles_source(puzzles), "puzzles_sha256": sha256}
    say_replaced(out, head | {"halt_threshold": r.halt_threshold, "compute": {"N_sup": r.N_sup, "T": r.T, "n": r.n}})
    seen = trained_wordings(task, config, trained)
    say_untrained(task, config, trained, seen, puzzles, split)
    split, data, exs, failures, cut = read_data(task, config, split, puzzles, text)
    left_out = 0
    if puzzles is None:
        data, exs, left_out = without_trained_puzzles(task, config, trained, split, data, exs, recorded, cut)
    report = head | {
        "split": split, "backbone_differs": differs,  # split: as read_data names it
        "trained_wordings": seen, "held_out_wordings_trained_on": held_out_but_trained(config, trained, split, seen),
        "num_puzzles": 0,
        "puzzle_failures": {"count": len(failures), "first": failures[:5]},
        "trained_puzzles_left_out": left_out,
    }
    if data is not None:
        tensors = backbone_inputs(backbone, {split: data}, task.num_slots, config)[split]
        # One small untimed pass first, so one-off start-up costs do not count as throughput.
        predict(model, Subset(tensors, range(min(8, len(tensors)))), 1, batch_size, device, disable_progress=True)
        start = time.perf_counter()
        pred = predict(model, tensors, r.N_sup, batch_size, device, desc=f"evaluating {split}")
        seconds = time.perf_counter() - start
        threshold = r.halt_threshold  # sigmoid(q_halt) a puzzle needs to stop early
        metrics = score_predictions(pred, task, exs, halt_threshold=threshold)
        report |= metrics
        report["slot_accuracy"] = slot_accuracy(pred)
        report["halt_threshold"] = threshold
        report["compute"] = compute(metrics, r.N_sup, r.T, r.n) | {"N_sup_trained": trained.reasoner.N_sup}
        reasoner_rate = metrics["num_puzzles"] / max(seconds, 1e-9)
        backbone_rate = backbone_throughput(backbone, data["question"])
        # From cached states (the default) the reasoner pass excludes the backbone; live or LoRA includes it.
        live = config.backbone.lora is not None or not config.backbone.cache
        report["throughput"] = {
            "reasoner_puzzles_per_second": reasoner_rate,  # all N_sup steps
            "reasoner_includes_backbone": live,
            "backbone_puzzles_per_second": backbone_rate,
            "end_to_end_puzzles_per_second": reasoner_rate if live else 1 / (1 / reasoner_rate + 1 / backbone_rate),
            "device": str(device), "batch_size": batch_size,
        }
    now = where_now(run, read_from)
    if now != run:  # moved while evaluated: the folder at `run` is another run's now, or none
        inside = out.resolve().is_relative_to(run.resolve())
        if now is None and inside:
            raise HarnessError(f"{run} was moved or deleted while it was evaluated (not to {run}-<when it started>, "
                               f"where a new training run in it moves it): its report is not written into {out}, "
                               f"which is no longer its folder. Evaluate it again where it is now")
        if now is not None:
            report["run"], report["checkpoint"] = str(now), str(now / folder.relative_to(run))
            out = now / out.resolve().relative_to(run.resolve()) if inside else out
    try:
        write_report(report, out)  # sets report["report"], its path
    except OSError as err:  # a disk that filled meanwhile
        raise HarnessError(str(checkpoint.unwritable(out, err, "Free space there, or give --out another folder, "
                                                               "and evaluate again"))) from None
    return report


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


def weights_to_evaluate(path: str | Path, ema: bool = True) -> Path:
    """The weights folder evaluate_run reads for `path`; without the EMA (`ema=False`) the training
    checkpoint given, else (final/ or a pretrained folder, which hold only the EMA copy) the run's
    newest training checkpoint."""
    run, folder = locate(path)
    if not ema and not any(folder.glob(checkpoint.SAVED_OBJECTS)):  # a pretrained folder (final/) holds only
        # the EMA copy; raw weights live in the training checkpoints
        found = checkpoint.checkpoints(run)
        if not found:
            raise CheckpointError(f"--no-ema needs a checkpoint with raw weights; {run / 'checkpoints'} holds none")
        folder = found[-1]
    return folder


def saved_config(run: Path, folder: Path) -> Path:
    """The config.yaml saved with the weights in `folder`, else the one of their `run`."""
    from hybrid.inference import no_config

    config_file = folder / "config.yaml" if (folder / "config.yaml").exists() else run / "config.yaml"
    if not config_file.exists():
        raise no_config(f"{folder} or {run}")
    return config_file


def read_data(task, config: Config, split: str, puzzles: str | Path | None,
              text: str | None = None) -> tuple[str, object, list, list[dict], Path | None]:
    """(split name, dataset or None, examples, puzzle failures, the splits' folder): the hand-written
    `puzzles` when given (their split is named after the file; no folder; `text`, the file's where it
    was read already), else the task config's `split`."""
    from datasets import Dataset

    from hybrid.data import answering_wording, build_splits, examples

    if puzzles is not None:
        exs, failures = parse_puzzles(task, read_puzzles(puzzles, task, text),
                                      wording=answering_wording(task, config.task))
        if hasattr(task, "from_row"):  # qa: each answer is the file's own, and two for one question cannot both score
            from eval.tasks.qa import warn_conflicts

            warn_conflicts(f"--puzzles {puzzles}", [(e.question, e.answer) for e in exs])
        data = Dataset.from_list([e.to_record() for e in exs]) if exs else None
        return f"puzzles:{puzzles_name(puzzles)}", data, exs, failures, None
    splits = build_splits(task, config.task, config.train.seed, config.train.data_dir)
    if split not in splits:
        hint = " (set task.held_out_wordings=[...] to make one)" if split == "test_heldout" else ""
        raise HarnessError(f"no split {split!r} for this task config; available: {', '.join(splits)}{hint}")
    return split, splits[split], examples(splits[split]), [], splits.folder


def trained_wordings(task, config: Config, trained: Config) -> list[int]:
    """The wordings the weights were trained on: the run's `task.wordings` (all the family has when
    it named none) less its `task.held_out_wordings`."""
    from hybrid.data import split_wordings

    family = task if trained.task.name == config.task.name else make_task(trained.task)  # its own wording count
    return split_wordings(family, trained.task)[0]


def say_untrained(task, config: Config, trained: Config, seen: list[int], puzzles: str | Path | None,
                  split: str) -> None:
    """One warning where the puzzles evaluated come in a wording the weights were not trained on
    (`seen`): an override of task.wordings words a split, or a file's puzzles, in it. That is a fair
    test of a phrasing never read, not an error; with --split test_heldout it is the point, unsaid."""
    from hybrid.data import answering_wording, split_wordings

    if split == "test_heldout" or trained.task.name != config.task.name:  # another family's wordings are all new
        return
    worded = [answering_wording(task, config.task)] if puzzles is not None else split_wordings(task, config.task)[0]
    new = [w for w in worded if w not in seen]
    if new:
        what = (f"the puzzles of {puzzles_said(puzzles)} are worded" if puzzles is not None
                else f"the {split} split holds puzzles")
        warnings.warn(f"{what} in wording(s) {new}, which the weights were not trained on (trained on: {seen}): "
                      f"their scores are of a phrasing the model never read, a held-out test", stacklevel=3)


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
    said = [f"{key}={typed(now[key])} (the earlier report's: {typed(then[key])})" for key in differ]
    # The same file (its resolved path, however it was spelt) edited since: other puzzles under the same
    # setting. Unsaid where the earlier report recorded no fingerprint (written before it was recorded).
    was, held = earlier.get("puzzles_sha256"), report.get("puzzles_sha256")
    if "--puzzles" in then and then["--puzzles"] == now.get("--puzzles") and was and held and was != held:
        said.append(f"--puzzles={typed(now['--puzzles'])}, whose contents changed since (sha256 {short_sha256(held)};"
                    f" the earlier report's: {short_sha256(was)})")
    if said:
        what = "other settings" if differ else "other puzzles"
        warnings.warn(f"{out / 'report.json'} holds an evaluation of {what}, which this one replaces when it "
                      f"ends: {', '.join(said)}. To keep both, give --out another folder", stacklevel=3)


def short_sha256(sha256: str | None) -> str:
    """A fingerprint as the summary and the warnings show it, its first 12 hex digits (as a short git
    commit: enough to tell two versions of a file apart by eye); "not recorded" for a report written
    before `puzzles_sha256` was."""
    return sha256[:12] if isinstance(sha256, str) and sha256 else "not recorded"


def held_out_but_trained(config: Config, trained: Config, split: str, seen: list[int]) -> list[int]:
    """The wordings of the test_heldout split that the weights were trained on (`seen`), with a
    warning: an override of task.held_out_wordings can name one, and its puzzles then test a
    phrasing the model has read, not an unseen one."""
    if split != "test_heldout" or trained.task.name != config.task.name:  # another family's wording 2 is another one
        return []
    overlap = [w for w in config.task.held_out_wordings or [] if w in seen]
    if overlap:
        warnings.warn(f"task.held_out_wordings={config.task.held_out_wordings} names wording(s) {overlap}, which the "
                      f"weights were trained on (wordings {seen}): the {split} split is not held out from training in "
                      f"them. Hold out a wording outside {seen}, or train with task.held_out_wordings set", stacklevel=2)
    return overlap


def without_trained_puzzles(task, config: Config, trained: Config, split: str, data, exs: list,
                            recorded: Sequence[Path], cut: Path):
    """(data, examples, how many were left out): the split without the puzzles the weights were
    trained on (`trained_puzzles`), each of which would count a training puzzle as held out."""
    keep = untrained_rows(task, config, trained, exs, recorded, cut)
    if len(keep) == len(exs):
        return data, exs, 0
    warnings.warn(f"{len(exs) - len(keep)} of the {len(exs)} {split} puzzles of this config are puzzles the weights "
                  f"were trained on (the overrides, or data changed since, draw another training split than training did): left out",
                  stacklevel=2)
    return data.select(keep) if keep else None, [exs[i] for i in keep], len(exs) - len(keep)  # None: nothing to score


def print_summary(report: dict) -> None:
    from rich.table import Table

    from hybrid.console import console as printing_console

    table = Table(title=f"{report['task']['name']} / {report['split']} / {report['backbone']}")
    table.add_column("metric")
    table.add_column("value", justify="right", overflow="fold")  # a long report path shown whole, not cut with …
    if report["num_puzzles"]:
        c, t = report["compute"], report["throughput"]
        label, counted = exact_label(report)
        table.add_row(label, f"{report['exact_accuracy']:.3f}  ({counted})")
        table.add_row("cell accuracy / verifier / task score", f"{report['cell_accuracy']:.3f} / "
                      f"{report['verifier_accuracy']:.3f} / {report['task_score']:.3f}")
        for row in open_cell_rows(report):
            table.add_row(*row)
        trained = c.get("N_sup_trained")  # steps past it (or short of it) are not the depth the weights learned
        differs = f" (trained with N_sup={trained})" if trained and trained != len(report["exact_curve"]) else ""
        table.add_row(f"exact by supervision step{differs}", curve_text(report["exact_curve"]))
        table.add_row("early exit: exact / mean steps", f"{report['early_exit_exact_accuracy']:.3f} / "
                      f"{report['mean_halting_step']:.2f}")
        table.add_row("net applications per puzzle (all / early exit)",
                      f"{c['net_applications_all']} / {c['net_applications_early_exit']:.1f}")
        table.add_row("puzzles/s (reasoner / backbone)", f"{t['reasoner_puzzles_per_second']:.0f} / "
                      f"{t['backbone_puzzles_per_second']:.0f}")
        if len(report.get("by_wording", {})) > 1:
            table.add_row("exact by wording", "  ".join(f"{w}: {g['exact_accuracy']:.2f} ({g['num_puzzles']})"
                                                        for w, g in report["by_wording"].items()))
        for row in vote_rows(report.get("votes"), every_vote=True):
            table.add_row(*row)
        table.add_row("answers that failed to decode", str(report["answer_failures"]["count"]))
    table.add_row("puzzles that failed to parse", str(report["puzzle_failures"]["count"]))
    if report.get("held_out_wordings_trained_on"):
        table.add_row("[bold red]held out, but trained on[/]", f"wording(s) {report['held_out_wordings_trained_on']}")
    if report.get("trained_puzzles_left_out"):
        table.add_row("[bold red]left out: trained on[/]", f"{report['trained_puzzles_left_out']} puzzles of this split")
    if report["backbone_differs"]:
        table.add_row("[bold red]backbone unlike training's[/]", "; ".join(report["backbone_differs"]))
    if "puzzles" in report:  # the title names the file alone: which one, and what it held
        table.add_row("puzzle file (sha256)", f"{report['puzzles']} ({short_sha256(report.get('puzzles_sha256'))})")
    table.add_row("weights", report["weights"])
    table.add_row("report", report["report"])
    if report.get("plot_error"):  # the figures are in the report; the plots a reader looks for beside it are not
        table.add_row("[bold red]plots failed[/]", report["plot_error"])
    elif report.get("plots"):
        table.add_row("plots (beside the report)", ", ".join(report["plots"].values()))
    printing_console().print(table)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m eval", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run", metavar="RUN_OR_CHECKPOINT")
    parser.add_argument("overrides", nargs="*", help="task=<family>, task.key=value, reasoner.N_sup=16, ...")
    parser.add_argument("--split", default="test", choices=("test", "test_heldout"))
    parser.add_argument("--puzzles", metavar="FILE",
                        help="evaluate hand-written puzzles from this file instead of a split; - reads them from "
                             "stdin (a pipe), as hybrid.solve --input - does")
    parser.add_argument("--out", help="report folder (default: RUN/eval/<split>, or RUN/eval/puzzles-<FILE's name> "
                                      "with --puzzles FILE, RUN/eval/puzzles-stdin with --puzzles -; for a checkpoint "
                                      "named on its own, the same under RUN/eval/step_N/)")
    parser.add_argument("--batch-size", type=positive, default=256)
    parser.add_argument("--device", help="cpu, cuda, cuda:1 ... (default: cuda when available)")
    parser.add_argument("--no-ema", action="store_true", help="use the raw weights, not the EMA")
    args = parser.parse_intermixed_args(argv)  # overrides may come after the flags, as train.py takes them
    if int(os.environ.get("WORLD_SIZE", "1")) > 1:  # every process would evaluate everything and write one report
        sys.exit(f"error: python -m eval runs as one process on one device (--device), but this is one of "
                 f"{os.environ['WORLD_SIZE']} launched processes: run it with python, not accelerate launch")
    try:
        with checkpoint.sigterm_raises():  # so a `kill` too removes the report's half-written files
            report = evaluate_run(args.run, args.overrides, args.split, args.out, args.puzzles, args.batch_size,
                                  args.device, ema=not args.no_ema)
    except (ConfigError, CheckpointError, PuzzleError, HarnessError) as err:
        sys.exit(f"error: {err}")
    except KeyboardInterrupt as stop:  # one line, as training says it; the report's files go in whole or not at all
        name, status = checkpoint.stopped_by(stop)
        print(f"\n{name}: stopped, no report written (an earlier report in the report folder is left as it was)",
              file=sys.stderr)
        sys.exit(status)
    print_summary(report)
    failed = report["puzzle_failures"]["count"]
    if args.puzzles and failed and not report["num_puzzles"]:  # as hybrid.solve: a script must not read exit 0 as success
        first = report["puzzle_failures"]["first"][0]["error"]  # the reason here, not only where to look it up
        cause = (f"none of the {failed} puzzles in {puzzles_said(args.puzzles)} could be read" if failed > 1
                 else f"the puzzle in {puzzles_said(args.puzzles)} could not be read")
        sys.exit(f"error: {cause}; report.json's puzzle_failures says why. The first: {first}")


if __name__ == "__main__":
    main()
