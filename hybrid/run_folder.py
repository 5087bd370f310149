"""A run's folder, train.output_dir, and the folders its weights may start from.

- One run at a time: the main process holds a lock beside the folder (`running_in`); a second
  run given the same folder stops with a ConfigError instead of writing into it.
- A new run never mixes with an earlier one: the earlier run's folder is moved aside whole,
  to `<output_dir>-<when it started>` (`claim`).
- A resumed run continues the folder's run; resumed from a checkpoint older than the newest it
  branches there, and the newer checkpoints are moved aside as `step_N.superseded`
  (`resume_here`), so `latest` finds the branch's own.
- What a resume, or a start from train.init_from, may change is for hybrid/resume_settings.py
  to say. It, and the train.init_from and train.resume paths, are checked from their files alone
  before anything is built (`check_before_building`): a wrong path or setting fails before
  minutes of generating and embedding data.
- While it trains, the run's `RunState` saves its checkpoints there, once per batch however
  many reasons ask (a periodic save, a stop, the end of the run).

Nothing is deleted: every folder set aside can be moved back.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import time
import warnings
from contextlib import ExitStack, contextmanager
from pathlib import Path

import torch

from eval.report import headline
from eval.runner import Stopped, evaluate
from hybrid import checkpoint, trained_on
from hybrid.backbone_files import check_named, is_missing_folder
from hybrid.config import Config, ConfigError, as_dict, check_not_a_file, load_config, to_yaml, typed
from hybrid.data import examples
from hybrid.folders import make_writable
from hybrid.inference import Saved, read_config, read_saved
from hybrid.lock import Busy, locked
from hybrid.resume_settings import check_init_settings, check_resume_settings, recorded_files, unrecorded
from hybrid.splits_record import SPLITS_RECORD, splits_record_text, untrained_rows
from hybrid.summary import flat

EARLIER_RUN = ("config.yaml", "checkpoints", "final", "metrics.json")  # what a run writes in its folder


def run_lock(output_dir: str | Path, purpose: str = "") -> Path:
    """A lock file of the run in `output_dir`, beside that folder (hidden): not inside it, which
    an earlier run's folder moved aside would carry away."""
    out = Path(output_dir).resolve()
    return out.with_name(f".{out.name}{'.' * bool(purpose)}{purpose}.lock")


@contextmanager
def running_in(accelerator, output_dir: str | Path):
    """Hold output_dir for this run (its main process holds a lock beside it, `.<name>.lock`): a
    second run given the same folder (a sweep that varies reasoner.T but not train.output_dir)
    moved this one's folder aside while it ran, and the two then wrote into one folder, each
    pruning the other's checkpoints and overwriting its final/. Now it stops with a ConfigError."""
    with ExitStack() as held:
        if accelerator.is_main_process:
            out = Path(output_dir).resolve()
            if out.exists() and not out.is_dir():  # else found writing config.yaml, after data and embedding
                raise ConfigError(f"train.output_dir={output_dir} is a file; name a folder for the run "
                                  f"(its config.yaml, checkpoints/ and final/)")
            check_not_a_file(out.parent, f"train.output_dir={output_dir}")  # else blamed on a folder not there
            try:  # a folder that cannot be written would fail only at the first save, after data and embedding
                make_writable(out.parent)
            except OSError as err:
                raise ConfigError(f"train.output_dir={output_dir}: cannot write in {out.parent} ({err.strerror or err}); "
                                  f"choose a writable folder") from None
            try:
                held.enter_context(locked(run_lock(out)))
            except Busy:
                raise ConfigError(f"train.output_dir={output_dir} is in use by another run: "
                                  f"give each run its own train.output_dir, e.g. one per setting in a sweep") from None
        yield


def saved_config_to_resume(overrides: list[str]) -> Config | None:
    """For a resume from the command line without --config: the config saved with the checkpoint
    it resumes, the command line's overrides on top, so the run goes on with its own settings
    (built from the defaults instead, a bare --resume of a run trained with reasoner.T=3 went on
    at T=2, and one of a run on another backbone stopped). None when nothing is resumed, or the
    checkpoint or its config.yaml cannot be read: the command line alone then builds the config,
    and the resume says what is wrong with the checkpoint. An intact checkpoint whose config.yaml
    this version cannot take (a key an older version had) is a ConfigError naming the file. A
    checkpoint of a run folder goes on in that folder unless train.output_dir says otherwise (its
    saved output_dir may be relative to where training started)."""
    with warnings.catch_warnings():  # the whole command line is loaded next, and warns about it once
        warnings.simplefilter("ignore")
        where = load_config([item for item in overrides if item.split("=")[0].split(".")[0] == "train"]).train
    if not where.resume:
        return None

    def config_of(target: Path) -> Config:
        try:
            saved = read_config(target / "config.yaml")
        except ConfigError as err:
            checkpoint.verify(target)  # damaged: loading names the file, and `latest` may fall back to an older checkpoint
            # Intact, so written that way: a key an older version had, or a value this version refuses.
            # Built from the command line alone, the run went on with the default settings (their data
            # generated and embedded, an earlier run in the default output_dir moved aside) and then
            # ended in "does not fit the run this config builds", never naming the file.
            raise ConfigError(f"cannot resume {target}: {err}. Not in place, though: the checkpoint's "
                              f"{checkpoint.MANIFEST} covers config.yaml, so an edited one reads as damaged. Resume it "
                              f"with the version of the code that wrote it, or start new training from the run's "
                              f"final/ weights (whose config.yaml may be edited) with train.init_from") from None
        in_place = [f"train.output_dir={target.parent.parent}"] if target.parent.name == "checkpoints" else []
        if in_place and os.environ.get("RANK", "0") == "0":  # under accelerate launch, said once
            edits_not_read(target, saved, where.resume, overrides)
        return load_config(in_place + overrides, base=target / "config.yaml")

    try:  # read_whole: a run still training there may delete the checkpoint found while it is read
        return checkpoint.read_whole(where.resume, lambda _: checkpoint.resume_target(where.resume, where.output_dir),
                                     config_of)[1]
    except checkpoint.CheckpointError:
        return None


def edits_not_read(target: Path, saved: Config, resume: str, overrides: list[str]) -> None:
    """Warn when the run folder's config.yaml differs from `saved`, the config of the checkpoint
    `target` a resume goes on with, in keys the command line does not set: a researcher who raised
    train.steps there by hand saw the edit ignored without a word, and then written over as the run
    resumed. Not read instead: it records the settings of the run's last start, which may be a
    resume that stopped before its first checkpoint, and the checkpoint's are those its optimizer
    state was saved with."""
    top, saved_file = target.parent.parent / "config.yaml", target / "config.yaml"
    if not top.exists():
        return
    try:
        edited = flat(as_dict(read_config(top)))
    except ConfigError as err:  # a hand edit that misspelt a key: it would not have been read either
        warnings.warn(f"{top} is not read on a resume (the checkpoint's {saved_file} is), and it cannot be read: "
                      f"{err}", stacklevel=2)
        return
    kept = flat(as_dict(saved))
    given = [item.split("=")[0] for item in overrides]  # a preset (task=maze) sets its whole section
    # output_dir: the resume decides the folder from where it resumes, whatever either file says
    differ = [key for key in sorted(edited.keys() | kept.keys()) if edited.get(key) != kept.get(key)
              and key != "train.output_dir" and not any(key == g or key.startswith(g + ".") for g in given)]
    if not differ:
        return

    def setting(values: dict, key: str) -> str:
        value = values.get(key)
        return shlex.quote(f"{key}={typed(None if value == 'None' else value)}")

    there, before = (" ".join(setting(values, key) for key in differ) for values in (edited, kept))
    folder = "" if resume == "latest" else shlex.quote(resume) + " "
    warnings.warn(f"{top} is not read on a resume: the run goes on with the settings saved with the checkpoint, "
                  f"{saved_file}, and {top.name} records them anew when it resumes in its folder. They differ: {there} "
                  f"there, {before} in the checkpoint. To change settings on a resume, give them on the command "
                  f"line: --resume {folder}{there} (or all of that file's: add --config {shlex.quote(str(top))})",
                  stacklevel=2)


def check_before_building(config: Config) -> Saved | None:
    """The init_from weights (returned, read now: a run still training there may delete them while
    this one builds; not for a resume, whose checkpoint holds the weights), and a resume that
    cannot work, and a backbone.path that names nothing: all are known from the files alone (a hub id:
    its config.json), so they fail before minutes of generating and embedding data."""
    init = read_saved(config.train.init_from) if config.train.init_from and not config.train.resume else None
    if init is not None:
        check_init_settings(init, config)
    out = Path(config.train.output_dir).resolve()
    if not continues_in_place(config) and holds_a_run(out) and Path.cwd().resolve().is_relative_to(out):
        raise ConfigError(f"train.output_dir={config.train.output_dir} holds an earlier run, which a new run moves "
                          f"aside, and the current directory is inside it: start the run from another directory, "
                          f"or name another train.output_dir (or add --resume to continue that run)")
    if config.train.resume:
        target = None
        with contextlib.suppress(ConfigError):  # an unreadable config.yaml: loading decides (it may fall back)
            target = checkpoint.resume_target(config.train.resume, Path(config.train.output_dir))
            if checkpoint.newest_of(config.train.resume, config.train.output_dir) is None:
                checkpoint.verify(target)  # named, so no older one can stand in: damaged, it cannot be resumed
            check_resume_settings(target, config)
            if config.train.init_from and config.train.init_from != read_config(target / "config.yaml").train.init_from:
                warnings.warn(f"train.init_from={config.train.init_from} is not read on a resume: the checkpoint "
                              f"{target} holds the weights (to start from other weights, leave out --resume)")
        named = config.backbone.path
        if is_missing_folder(named):
            named_by = "(backbone.path, from the run's config.yaml or the command line)"
            if target is not None and recorded_files(target) is None:
                raise ConfigError(f"the backbone folder {named} is not there {named_by}. "
                                  f"The {unrecorded(target, named)}")
            raise ConfigError(f"the backbone folder {named} is not there {named_by}. If it has moved, resume with "
                              f"backbone.path=<where it is now>: the run continues when the files there are those it "
                              f"trained on")
    check_named(config.backbone)  # a misspelt hub id or folder: found now, not once the puzzles are generated
    return init


def holds_a_run(folder: Path) -> bool:
    return folder.is_dir() and any((folder / name).exists() for name in EARLIER_RUN)


def continues_in_place(config: Config) -> bool:
    """Whether this run resumes the run in its own output_dir (else an earlier run there is moved aside)."""
    resume, out_dir = config.train.resume, Path(config.train.output_dir)
    return bool(resume) and (resume == "latest" or Path(resume).resolve().is_relative_to(out_dir.resolve()))


def set_aside_earlier_run(accelerator, output_dir: str | Path) -> Path | None:
    """Before a new (not resumed) run: if output_dir holds an earlier run, move the whole folder to
    `<output_dir>-<when that run last started or resumed>` (each writes its config.yaml); return
    where. Left in place, the earlier run's checkpoints would mix with the new run's (pruning and
    `--resume` go by step number) and its final weights would be overwritten."""
    out = Path(output_dir).resolve()  # `.` has no name to build the new one from
    found = holds_a_run(out)
    target = None
    if found:
        started = (out / "config.yaml") if (out / "config.yaml").exists() else out
        stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(started.stat().st_mtime))
        target = checkpoint.free_name(out.with_name(f"{out.name}-{stamp}"))
    accelerator.wait_for_everyone()  # every process has named the target before the folder moves
    if found and accelerator.is_main_process:
        out.rename(target)
    accelerator.wait_for_everyone()
    return target


def claim(config: Config, accelerator, init: Path | None) -> Path | None:
    """A new run, or one branching from another folder's checkpoint, moves an earlier run in
    output_dir aside. Returns `init`, followed to where it moved when it was inside that run
    (train.init_from too)."""
    out_dir = Path(config.train.output_dir)
    if continues_in_place(config):
        return init
    ran = any((out_dir / name).exists() for name in EARLIER_RUN if name != "config.yaml")
    moved = set_aside_earlier_run(accelerator, out_dir)
    if moved is None:
        return init
    if ran:
        accelerator.print(f"{out_dir} held an earlier run: moved it to {moved} (to continue that run instead, "
                          f"move it back and add --resume)")
    else:  # a config.yaml written by hand (maybe this run's --config), or by a run stopped before its first save
        accelerator.print(f"{out_dir} held a config.yaml but no checkpoints, final/ or metrics.json: moved the folder, "
                          f"that file with it, to {moved}, as this run writes its own config.yaml there")
    if init is not None and init.resolve().is_relative_to(out_dir.resolve()):  # fine-tuning in place
        init = moved / init.resolve().relative_to(out_dir.resolve())
        # config.yaml names the weights the run started from: where they are now, not this run's own final/
        config.train.init_from = str(init)
    return init


def splits_resumed(loaded: Path, folder: Path, config: Config, say: bool) -> list[Path]:
    """The splits' folders the checkpoint `loaded` trained on (checkpoint.splits_of: the one loaded, not
    the newest, where `latest` fell back). `say`: warn where this run trains on other splits (`folder`),
    naming the settings that cut them (without, a task.test_size override read as other training data),
    and where a checkpoint saved before splits records was trained with other ones (else said nothing)."""
    earlier = checkpoint.splits_of(loaded)
    if not say:
        return earlier
    changed = data_settings_changed(loaded, config)
    if earlier[-1].name == folder.name if earlier else not changed:
        return earlier
    why = (f": {', '.join(changed)}" if changed else
           " (a data file edited since: the task and train.seed settings are the checkpoint's)")
    if earlier:
        trained_on_what = (f"it trained on the splits in {earlier[-1].name}, this config cuts {folder.name}{why}. "
                           f"The run goes on with the new splits; {SPLITS_RECORD} records both, so its own evaluations "
                           f"and `python -m eval` leave out the training puzzles of each")
    else:
        trained_on_what = (f"its settings cut other splits{why}. The run goes on with the new splits; the "
                           f"checkpoint was saved before {SPLITS_RECORD} records, so `python -m eval` cannot leave out "
                           f"the puzzles it trained on before")
    warnings.warn(f"the puzzle splits changed since the checkpoint this run resumes: {trained_on_what}. To go on with "
                  f"the data it trained on, resume with its settings (and its data) again", stacklevel=2)
    return earlier


def data_settings_changed(loaded: Path, config: Config) -> list[str]:
    """The settings that decide a run's puzzle splits (the task's, train.seed) where `config` differs from
    the checkpoint `loaded`'s, each as `key=value (the checkpoint's run: value)`."""
    if not (loaded / "config.yaml").exists():
        return []
    now, then = (flat(as_dict(c)) for c in (config, read_config(loaded / "config.yaml")))
    return [f"{key}={typed(now.get(key))} (the checkpoint's run: {typed(then.get(key))})"
            for key in sorted(now.keys() | then.keys())
            if (key.startswith("task.") or key == "train.seed") and now.get(key) != then.get(key)]


def resume_here(accelerator, config: Config, progress, backbone=None) -> Path:
    """Load train.resume into everything registered with the accelerator (`progress` among it)
    and branch the run there: the folder's newer checkpoints are moved aside. Returns the
    checkpoint loaded (with a run folder or `latest`, the newest good one). With the `backbone`
    loaded, a warning names how its states differ from those the checkpoint was trained on."""
    out_dir = Path(config.train.output_dir)
    path = checkpoint.resume(accelerator, config.train.resume, out_dir)
    check_resume_settings(path, config)  # again: `latest` may have fallen back to an older one
    if backbone is not None and accelerator.is_main_process:  # the same backbone.path may hold other weights now
        trained_on.check(path, trained_on.read(path), backbone)
    accelerator.print(f"resumed from {path} at batch {progress.step}")
    superseded = supersede(accelerator, out_dir, progress.step)
    if superseded:
        accelerator.print(f"the newer checkpoints of {out_dir} were moved aside: {', '.join(superseded)}")
    return path


def supersede(accelerator, output_dir: str | Path, step: int) -> list[str]:
    """Move aside (`.superseded`) the checkpoints of output_dir newer than `step`, where a resumed
    run continues: it will save its own, and `latest` must not find the abandoned ones."""
    accelerator.wait_for_everyone()  # every process has read the checkpoint it resumed from
    moved = []
    if accelerator.is_main_process:
        moved = [checkpoint.move_aside(c, "superseded").name for c in checkpoint.checkpoints(output_dir)
                 if checkpoint.step_of(c) > step]
    accelerator.wait_for_everyone()
    return moved


class RunState:
    """What the training loop, its evaluations and checkpoints, and the final report share."""

    def __init__(self, config: Config, accelerator, task, splits, tensors, eval_model, backbone_record: dict):
        self.config, self.accelerator, self.out_dir = config, accelerator, Path(config.train.output_dir)
        self.backbone_record = backbone_record  # what the states depend on, saved with the weights (hybrid.trained_on)
        self.task, self.splits, self.tensors, self.test_examples = task, splits, tensors, examples(splits["test"])
        self.eval_model = eval_model  # the EMA copy, else the trained module (never the DDP wrapper: see launch.finish)
        self.progress = checkpoint.Progress()
        self.saved = None  # (batch, folder) of the checkpoint that exists
        self.stopped_by = None  # the signal that stopped training early (SIGTERM, SIGINT), if one did
        # The splits' folders the weights trained on before this run's own (a resume on other splits,
        # train.init_from), set once known: their training puzzles may be in this run's test splits.
        self.earlier_splits: list[Path] = []
        self.untrained: dict[str, list[int]] = {}  # per split, the places of the puzzles to score

    def run_eval(self, split: str = "test", size: int | None = None, desc: str = "evaluating",
                 stop: checkpoint.GracefulStop | None = None) -> dict:
        """The metrics of `split` (its first `size` puzzles), leaving out the puzzles the weights trained on
        before (as `python -m eval` does): `trained_puzzles_left_out` says how many of the split. A stop
        request to `stop` ends it early, raising eval.runner.Stopped."""
        data, accelerator = self.tensors[split], self.accelerator
        exs = self.test_examples if split == "test" else examples(self.splits[split])
        if split not in self.untrained:  # read once: the earlier splits' training puzzles, from disk
            self.untrained[split] = untrained_rows(self.task, self.config, self.config, exs,
                                                   [*self.earlier_splits, self.splits.folder], self.splits.folder)
        rows, left_out = self.untrained[split], len(exs) - len(self.untrained[split])
        if not rows:  # nothing held out is left: score them all rather than nothing, and say so
            warnings.warn(f"every one of the {len(exs)} {split} puzzles is one the weights trained on before "
                          f"(splits {', '.join(f.name for f in self.earlier_splits)}): the held-out figures score "
                          f"them anyway", stacklevel=2)
            rows, left_out = list(range(len(exs))), 0
        if left_out or (size is not None and size < len(rows)):
            data = torch.utils.data.Subset(data, rows[:size])  # each keeps its place in `exs` (the index it yields)
        metrics = evaluate(self.eval_model, data, self.task, exs, self.config.reasoner.N_sup, device=accelerator.device,
                           desc=desc, halt_threshold=self.config.reasoner.halt_threshold,
                           disable_progress=not accelerator.is_main_process,
                           accelerator=accelerator, stop=stop)  # sharded, gathered
        return metrics | {"trained_puzzles_left_out": left_out}

    def periodic_eval(self, stop: checkpoint.GracefulStop, bar) -> tuple[dict, bool]:
        """train.eval_every's evaluation of train.eval_size test puzzles, said in a line above the `bar`:
        (its headline figures, for the log; whether to stop). A stop request (SIGTERM, Ctrl-C, SIGHUP, in any
        process) ends it before its next batch: with train.eval_size=null on a large split it could outlast a
        scheduler's grace period (Slurm's is 30 s), and the batch's checkpoint would be lost to the SIGKILL.
        What it had scored is neither logged nor shown as figures: a part is not the split's."""
        accelerator, step = self.accelerator, self.progress.step
        try:
            metrics = self.run_eval(size=self.config.train.eval_size, stop=stop)
        except Stopped as cut:
            if accelerator.is_main_process:
                bar.write(f"batch {step}: held-out evaluation {cut}; not logged, saving the batch instead")
            return {}, True
        shown = headline(metrics)
        if accelerator.is_main_process:
            bar.write(f"batch {step}: held-out " + ", ".join(  # of train.eval_size puzzles, if set
                f"{k.replace('_accuracy', ' accuracy').replace('_', '-')} {v:.3f}" for k, v in shown.items())
                + f" ({metrics['num_puzzles']} puzzles)")
        return shown, stop.agreed(accelerator)[0]  # asked for during its last batch: stop now, not a batch later

    def write_records(self) -> None:
        """The run's config.yaml and the record of the splits its weights trained on, beside its checkpoints.
        Whole or not at all, said in a line: a full disk cut a resume's records of the run short, in a traceback."""
        if self.accelerator.is_main_process:
            self.out_dir.mkdir(parents=True, exist_ok=True)
            checkpoint.write_text(self.out_dir / "config.yaml", to_yaml(self.config))
            checkpoint.write_text(self.out_dir / SPLITS_RECORD, splits_record_text(self.splits.folder,
                                                                                   self.earlier_splits))

    def save(self) -> Path:
        """Checkpoint the current state (once per batch, however many reasons ask)."""
        if self.saved is None or self.saved[0] != self.progress.step:
            self.saved = self.progress.step, checkpoint.save(self.accelerator, self.out_dir, self.progress.step,
                                                             self.config, self.config.train.keep_checkpoints,
                                                             self.backbone_record)
        return self.saved[1]
