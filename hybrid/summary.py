"""What a run prints and logs: the summary table, and its tracker with the run's settings."""

from __future__ import annotations

import os
import shlex
import subprocess
import time
from pathlib import Path

from eval.report import curve_text, headline, open_cell_rows
from eval.voting import exact_label, vote_rows
from hybrid.config import Config, as_dict


def flat(d: dict, prefix: str = "") -> dict:
    out = {}
    for k, v in d.items():
        if isinstance(v, dict):
            out |= flat(v, f"{prefix}{k}.")
        else:
            out[f"{prefix}{k}"] = v if isinstance(v, (int, float, str, bool)) else str(v)
    return out


SETTINGS_EVENTS = ".settings"  # the name's end of the event file holding a run's settings


def after_earlier_event_files(folder: Path) -> None:
    """Wait, where need be, into a second later than that of the event files in `folder`. TensorBoard
    reads a folder's files in name order, events.out.tfevents.<seconds>.<host>.<pid>.<counter>: two
    starts in one process within a second (a notebook resuming a run of a second) are ordered by the
    writer's counter as text, "10" before "8", and the resume's file, read first, lost its points to
    the first start's mark (purge_step)."""
    latest = max((int(f.name.split(".")[3]) for f in folder.glob("events.out.tfevents.*")
                  if f.name.split(".")[3].isdigit()), default=0)
    wait = latest + 1 - time.time()
    if 0 < wait <= 1:  # a file of this second; not one of a clock ahead (a run folder copied from elsewhere)
        time.sleep(wait)


def start_trackers(accelerator, config: Config, first_batch: int) -> None:
    """Start the run's tracker (train.tracker) at batch `first_batch`, with the run's settings.

    A resume replays what the stopped run logged after its checkpoint (the batches since it, or a
    newer branch's, and their final/): TensorBoard's mark at each start (purge_step; it takes a
    folder's first mark for the run's start) hides those points, else shown twice. Its settings
    go beside the scalars, as a session start with no experiment summary, so the HParams dashboard
    lists every run's and takes their metrics from the scalars: Accelerate's add_hparams wrote them
    in a folder of their own with an experiment naming no metric, which the dashboard took for every
    run's. TensorBoard keeps a folder's first settings, so they go in an event file of their own that
    each start replaces: a resume's (`--resume RUN train.steps=800`) showed the first start's.
    Other trackers get Accelerate's store_init_configuration. Main process only: the others have no
    trackers."""
    after_earlier_event_files(Path(accelerator.logging_dir) / "hybrid-trm")
    accelerator.init_trackers("hybrid-trm", init_kwargs={"tensorboard": {"purge_step": first_batch}})
    settings = flat(as_dict(config)) | {"num_processes": accelerator.num_processes}
    for tracker in accelerator.trackers:
        if tracker.name == "tensorboard":
            from tensorboard.plugins.hparams.summary_v2 import hparams_pb  # booleans as booleans, not 0 and 1
            from torch.utils.tensorboard.writer import FileWriter

            folder = Path(tracker.writer.log_dir)
            for earlier in folder.glob(f"events.out.tfevents.*{SETTINGS_EVENTS}"):
                earlier.unlink()
            settings_file = FileWriter(str(folder), filename_suffix=SETTINGS_EVENTS)
            settings_file.add_summary(hparams_pb(settings))
            settings_file.close()
        else:
            tracker.store_init_configuration(settings)


def say_setup(accelerator, config: Config) -> None:
    """The lines a run prints as its training starts: how its global batch is made, and what LoRA turns off."""
    if config.backbone.lora is not None:  # the config still reads backbone.cache: true; say it does not apply
        accelerator.print(f"backbone.lora.rank={config.backbone.lora.rank}: the backbone trains, so its states are "
                          f"computed each batch, not cached (backbone.cache does not apply)")
    per_step = config.train.batch_size // accelerator.num_processes // config.train.grad_accum
    accelerator.print(f"global batch {config.train.batch_size} = {accelerator.num_processes} process(es) x "
                      f"{per_step} puzzles x {config.train.grad_accum} accumulation step(s)")


def shell_word(path: Path) -> str:
    """`path` as one word of a command to paste: quoted where it holds a space or a quote (as cmd.exe
    and PowerShell read quotes on Windows)."""
    return subprocess.list2cmdline([str(path)]) if os.name == "nt" else shlex.quote(str(path))


def held_out_wordings_rows(metrics: dict) -> list[tuple[str, str]]:
    """The test split's accuracies (`headline`: exact, cell, open-cell where cells are given) on the
    held-out wordings, each row named so, to read beside the held-out puzzles' rows above them."""
    shown = headline(metrics)
    label, counted = exact_label(metrics)
    return [(f"{label} (held-out wordings)", f"{shown['exact_accuracy']:.3f}  ({counted})"),
            ("cell accuracy (held-out wordings)", f"{shown['cell_accuracy']:.3f}"),
            *open_cell_rows(metrics, "held-out wordings")]


def print_summary(config: Config, results: dict, out_dir: Path) -> None:
    from rich.table import Table

    from hybrid.console import console as printing_console, counted as how_many

    t = results["test"]
    table = Table(title=f"hybrid-trm: {config.task.name} with {config.backbone.path}")
    table.add_column("metric")
    table.add_column("value", justify="right", overflow="fold")  # a long outputs folder shown whole, not cut with …
    label, counted = exact_label(t)
    table.add_row(f"{label} (held-out)", f"{t['exact_accuracy']:.3f}  ({counted})")
    table.add_row("cell accuracy", f"{t['cell_accuracy']:.3f}")
    for row in open_cell_rows(t):  # a family whose questions give cells
        table.add_row(*row)
    table.add_row("verifier accuracy", f"{t.get('verifier_accuracy', float('nan')):.3f}")
    table.add_row("exact by supervision step", curve_text(t["exact_curve"]))
    table.add_row("early-exit exact / mean steps", f"{t['early_exit_exact_accuracy']:.3f} / {t['mean_halting_step']:.2f}")
    failed = t.get("answer_failures") or {}
    if failed.get("count"):  # a family's decode or verify that raises: verifier accuracy 0 would say nothing of why
        first = failed["first"][0]
        table.add_row("[bold red]answers that failed to decode[/]", f"{failed['count']} of {t['num_puzzles']}, counted "
                                                                      f"wrong (first: puzzle index {first['index']}, "
                                                                      f"{first['error']})")
    for row in vote_rows(t.get("votes")):  # ARC: the vote over task.test_views views, the score by task
        table.add_row(*row)
    if t.get("trained_puzzles_left_out"):  # a resume on other splits: as `python -m eval` says it
        table.add_row("[bold red]left out: trained on[/]", f"{t['trained_puzzles_left_out']} test puzzles the weights "
                                                           f"trained on before")
    if "test_heldout" in results:
        for row in held_out_wordings_rows(results["test_heldout"]):
            table.add_row(*row)
    work = f", {results['work']:.0%} of the supervision steps computed (halted puzzles leave)" if results.get("work") else ""
    waited = results.get("data_seconds") or 0.0
    live = not config.backbone.cache and config.backbone.lora is None  # the loader runs the backbone (LiveStates)
    waiting = "the backbone embedding each batch: backbone.cache=false" if live else "waiting for data"
    data = f" ({waited:.0f} s of it {waiting})" if waited > 0.1 * results["train_seconds"] else ""
    evaluating = f" (+ {results['eval_seconds']:.0f} s of periodic evaluation)" if results.get("eval_seconds") else ""
    first = results.get("resumed_at")  # the seconds and work are those since then
    since = f" ({results['batches'] - first} since resuming at batch {first})" if first else ""
    batches = how_many(results["batches"], "batch", "batches")  # "1 batch", not "1 batches"
    table.add_row("training", f"{batches}{since} in {results['train_seconds']:.0f} s{evaluating}{data}{work}")
    if results.get("stopped_by_time_limit"):  # else the batches read as all that train.steps asked for
        table.add_row("[bold yellow]stopped early[/]", f"by train.time_limit={config.train.time_limit:g} s, before "
                                                        f"train.steps={config.train.steps}")
    table.add_row("outputs", str(out_dir))
    console = printing_console()
    console.print(table)
    # What a first run is for next: its report and plots, and answers to puzzles of one's own.
    run = shell_word(out_dir)
    console.print(f"next: python -m eval {run}   (report and plots)\n"
                  f"      python -m hybrid.solve {run} --input puzzles.txt   (answer your own puzzles)",
                  highlight=False, soft_wrap=True)
