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
import os
import sys
import time
from pathlib import Path

from eval import HarnessError
from eval.held_out import held_out_but_trained, say_untrained, trained_wordings, without_trained_puzzles
from eval.puzzle_file import parse_puzzles, puzzles_name, puzzles_source, read_puzzle_file, read_puzzles
from eval.report import compute, slot_accuracy, write_report
from eval.report_folder import say_replaced, where_now, writable
from eval.summary import print_summary
from eval.tasks import PuzzleError, make_task
from eval.tasks.base import input_name
from hybrid import checkpoint, trained_on
from hybrid.checkpoint import CheckpointError, CheckpointMismatch, load_weights, read_weights, read_whole
from hybrid.config import Config, ConfigError, as_dict, load_config
from hybrid.console import plain_warnings
from hybrid.solve import positive
from hybrid.summary import shell_word


def evaluate_run(path: str | Path, overrides: list[str] = (), split: str = "test", out: str | Path | None = None,
                 puzzles: str | Path | None = None, batch_size: int = 256, device: str | None = None,
                 ema: bool = True) -> dict:
    """Evaluate the weights `path` names (a run's final/, else its newest checkpoint; a pretrained
    folder; one checkpoint) and write the report; returns it."""
    from torch.utils.data import Subset

    from eval.runner import predict, score_predictions
    from hybrid.cache import backbone_inputs
    from hybrid.inference import backbone_named_in, device_for, question_field, read_config
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
    # (saying the question's JSON field, a qa model's task.question_field, from its config: no weights read for it)
    text, sha256 = read_puzzle_file(puzzles, question_field(path, overrides)) if puzzles is not None else (None, None)

    run = locate(path)[0]
    read_from = os.stat(run)  # which a move keeps: a new run in its train.output_dir may move it aside (where_now)

    def read(folder: Path) -> tuple:
        # All of it now, not after minutes of data and embedding: a run still training in `path`
        # deletes its older checkpoints meanwhile (read_whole then reads its newest).
        config_file = saved_config(run, folder)
        trained = read_config(config_file)  # a clear error for an old or damaged file
        record = trained_on.read(folder)  # before the weights, whose checksums then show it was still there
        # The weights' own: an older checkpoint may predate a resume on other data
        splits = checkpoint.splits_of(folder)
        return (config_file, trained, load_config(overrides, base=config_file), record, splits,
                read_weights(folder, ema))

    folder, (config_file, trained, config, record, recorded, saved) = read_whole(
        path, lambda p: weights_to_evaluate(p, ema), read)
    writable(Path(out) if out is not None else run / "eval")  # before minutes of evaluating
    # Another alpha loads without complaint and rescales the trained change
    if config.backbone.lora != trained.backbone.lora:
        raise HarnessError(f"backbone.lora cannot change at evaluation: the weights were trained with backbone.lora="
                           f"{trained.backbone.lora} (asked: {config.backbone.lora}); drop the backbone.lora override")

    task = make_task(config.task)
    for group in ("reasoner", "adapter"):  # heads split the same weights: other heads load without complaint
        asked, then = getattr(config, group).heads, getattr(trained, group).heads
        # Where either model has none (the mlp mixer, span pooling) they change nothing, or the shapes differ
        if asked != then and uses_heads(config, group, task) and uses_heads(
                trained, group, task if trained.task.name == config.task.name else make_task(trained.task)):
            raise HarnessError(f"{group}.heads cannot change at evaluation: the weights were trained with "
                               f"{group}.heads={then} (asked: {asked}), and other heads fit every shape but compute "
                               f"something else; drop the {group}.heads override")
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
    differs = trained_on.check(folder, record, backbone)  # warns if not the states the weights were trained on
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


@plain_warnings()  # ours in one line: `warning: ...`
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
    report = None
    # All of the work, the summary's table too: a stop while it printed (the report written) ended in a
    # KeyboardInterrupt traceback (Ctrl-C) or silently (SIGTERM), not in a line and the signal's exit status
    try:
        with checkpoint.sigterm_raises():  # so a `kill` too removes the report's half-written files
            report = evaluate_run(args.run, args.overrides, args.split, args.out, args.puzzles, args.batch_size,
                                  args.device, ema=not args.no_ema)
            print_summary(report)
    except (ConfigError, CheckpointError, PuzzleError, HarnessError) as err:
        sys.exit(f"error: {err}")
    except KeyboardInterrupt as stop:  # one line, as training says it; the report's files go in whole or not at all
        name, status = checkpoint.stopped_by(stop)
        said = (f"the report is written in {report['report']}" if report is not None else
                "no report written (an earlier report in the report folder is left as it was)")
        print(f"\n{name}: stopped, {said}", file=sys.stderr)
        sys.exit(status)
    failed = report["puzzle_failures"]["count"]
    # As hybrid.solve: a script must not read exit 0 as success
    if args.puzzles and failed and not report["num_puzzles"]:
        first = report["puzzle_failures"]["first"][0]["error"]  # the reason here, not only where to look it up
        cause = (f"none of the {failed} puzzles in {input_name(args.puzzles)} could be read" if failed > 1
                 else f"the puzzle in {input_name(args.puzzles)} could not be read")
        sys.exit(f"error: {cause}; report.json's puzzle_failures says why. The first: {first}")


if __name__ == "__main__":
    main()
