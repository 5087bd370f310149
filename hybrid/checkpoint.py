"""Checkpoints that survive crashes: Accelerate's save_state (model, EMA, optimizer, scheduler,
RNG, sampler, progress) plus the resolved config and a checksum of every file.

- Atomic: a checkpoint is written to `step_N.tmp` and renamed into place only once complete,
  so a crash while saving (SIGKILL, full disk) never destroys the last good one.
- Checked: `checksums.json`, written last, holds a SHA-256 per file; loading verifies it first,
  so a damaged or truncated file is named before anything is loaded from it.
- Resume from `latest` falls back to the previous good checkpoint (with a warning naming the
  damaged file) and moves the bad folder aside as `step_N.corrupt`; nothing is deleted.
  A checkpoint whose files are intact but do not fit the config (a changed shape) stops the
  resume with the details instead: it is not damaged, and an older one would not fit either.
  So does a resume that changes a setting it cannot (`resume_settings.check_resume_settings`).
- Readable while the run trains: only the newest `train.keep_checkpoints` are kept, and a reader
  (an evaluation of the run as it trains) whose checkpoint is deleted meanwhile reads the newer
  one (`read_whole`).
- SIGTERM (preemption, `kill`, a cluster job cancelled with scancel or the like), SIGINT
  (Ctrl-C in a terminal) and SIGHUP (the terminal closed: an ssh session that ended) become a
  request: `GracefulStop` lets the training loop finish the batch, save and exit cleanly.

The frozen backbone is never saved: the config names it.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import stat
import sys
import threading
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from safetensors import SafetensorError

from hybrid import trained_on
from hybrid.config import Config, ConfigError, anchored, first_line, to_yaml
from hybrid.splits_record import SPLITS_RECORD, recorded_splits

if TYPE_CHECKING:  # read_weights imports torch itself: `python -m eval --help`, which imports this module, loads none
    import torch

PREFIX = "step_"
MANIFEST = "checksums.json"
SAVED_OBJECTS = "custom_checkpoint_*.pkl"  # accelerate's files for registered objects (progress, EMA): training state


class CheckpointError(RuntimeError):
    """A checkpoint that cannot be used; the message names the folder or file."""


class Unwritable(OSError):
    """A write that failed (a full disk, a file-size limit, a read-only folder); the message names the
    file, the room left and what to do, so the command line says it without a traceback."""


class CheckpointMismatch(CheckpointError):
    """An intact checkpoint that does not fit the model or training state this config builds."""


def step_of(checkpoint: Path) -> int:
    return int(checkpoint.name.removeprefix(PREFIX))


def checkpoints(output_dir: str | Path) -> list[Path]:
    """Complete checkpoints, oldest first (`.tmp`, `.old`, `.corrupt` and `.superseded` folders are not)."""
    root = Path(output_dir) / "checkpoints"
    found = [p for p in root.glob(f"{PREFIX}*") if p.is_dir() and p.name.removeprefix(PREFIX).isdigit()]
    return sorted(found, key=step_of)


def run_of(folder: Path) -> Path:
    """The run folder a weights folder belongs to (RUN/final, RUN/checkpoints/step_N), or the
    folder itself (a pretrained folder outside any run)."""
    if folder.name == "final":
        return folder.parent
    if folder.parent.name == "checkpoints":
        return folder.parent.parent
    return folder


def splits_of(folder: Path) -> list[Path]:
    """The splits' folders the weights in `folder` trained on, oldest first (SPLITS_RECORD):
    the record saved with them, else their run's (a final/ or checkpoint saved before records were). Not
    the run's alone: a checkpoint older than a resume on other splits did not train on those."""
    return recorded_splits(folder if (folder / SPLITS_RECORD).exists() else run_of(folder))


def free_name(path: Path) -> Path:
    """`path`, or `path-2`, `path-3`... whichever does not exist yet."""
    target, n = path, 1
    while target.exists():
        n += 1
        target = path.with_name(f"{path.name}-{n}")
    return target


def move_aside(folder: Path, suffix: str) -> Path:
    """Rename `folder` to `folder.suffix` (or `.suffix-2`, `-3`... if taken): nothing is deleted."""
    target = free_name(folder.with_name(f"{folder.name}.{suffix}"))
    folder.rename(target)
    return target


def sha256(path: Path) -> str:
    # Read in chunks by hand: hashlib.file_digest is Python 3.11+, and 3.10 is supported.
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(2**20):
            digest.update(chunk)
    return digest.hexdigest()


def write_manifest(folder: Path) -> None:
    files = sorted(p for p in folder.rglob("*") if p.is_file() and p.name != MANIFEST)
    sums = {str(p.relative_to(folder)): sha256(p) for p in files}
    (folder / MANIFEST).write_text(json.dumps(sums, indent=1), encoding="utf-8")


# What to do about a file of saved weights missing or damaged
REFETCH = "copy it again from where it came from, or use another of its run's checkpoints (RUN/checkpoints/step_*)"


def verify(folder: Path) -> None:
    """Raise CheckpointError naming the first missing or damaged file. A folder without a
    manifest (written before checksums existed) is accepted and left to the loader."""
    manifest = folder / MANIFEST
    if not manifest.exists():
        return
    try:
        sums = json.loads(manifest.read_text(encoding="utf-8"))
    except ValueError:
        raise CheckpointError(f"{manifest} is damaged (not JSON)") from None
    if not isinstance(sums, dict):  # JSON, but not the file -> checksum mapping save() writes
        raise CheckpointError(f"{manifest} is damaged (not a mapping of file names to checksums)")
    for name, expected in sums.items():
        path = folder / name
        try:
            digest = sha256(path)
        except (FileNotFoundError, IsADirectoryError):  # or deleted while read: the rotation of a run training there
            raise CheckpointError(f"{path} is missing: {REFETCH}") from None
        if digest != expected:
            raise CheckpointError(f"{path} is damaged (its checksum differs from the one saved with it): {REFETCH}")


T = TypeVar("T")


def read_whole(path: str | Path, pick: Callable[[Path], Path], read: Callable[[Path], T], tries: int = 5) -> tuple[Path, T]:
    """(folder, read(folder)) for the weights folder `pick(path)` finds in `path`. A run still
    training there deletes its older checkpoints as it saves new ones (train.keep_checkpoints),
    perhaps the one picked while it is read: then the run's newest is picked and read again.
    A failure while `pick` still picks the same folder is that folder's own (damaged, or from an
    older version)."""
    path = Path(path)
    for _ in range(tries):
        folder = pick(path)
        try:
            return folder, read(folder)
        except (CheckpointError, ConfigError, OSError) as err:
            if folder.resolve() != path.resolve():
                if pick(path) == folder:
                    raise
                continue  # the run has moved on: read its newest
            if folder.exists():
                raise
            said = str(err).removesuffix(f": {REFETCH}")  # its own advice is not what to do here
            raise CheckpointError(f"{folder} was deleted while it was read ({said}). A run training beside it keeps "
                                  f"only its newest train.keep_checkpoints checkpoints: give the run folder to read "
                                  f"its newest, or copy the checkpoint elsewhere first") from None
    raise CheckpointError(f"the weights in {path} were deleted while they were read, {tries} times: the run training "
                          f"there saves checkpoints faster than they can be read (train.checkpoint_every) and keeps "
                          f"only its newest train.keep_checkpoints. Read a copy of its newest checkpoint instead")


def readable_as_umask_allows(folder: Path) -> None:
    """safetensors (0.8 on) writes its files readable by their owner alone, whatever the umask, so a
    colleague could not evaluate a model trained on a shared machine, nor load a backbone converted
    into a shared train.data_dir. They get the mode any other new file gets."""
    if os.name == "nt":  # no such mode bits there
        return
    umask = os.umask(0o077)  # read by setting it: for that instant to the strictest, never looser
    os.umask(umask)
    for path in folder.rglob("*.safetensors"):
        path.chmod(0o666 & ~umask)


def replace_folder(tmp: Path, final: Path) -> None:
    """Put the complete folder `tmp` at `final`. An existing `final` is moved aside first and
    removed only after the new one is in place, so some complete copy exists at every moment."""
    readable_as_umask_allows(tmp)
    old = final.with_name(final.name + ".old")
    shutil.rmtree(old, ignore_errors=True)
    if final.exists():
        final.rename(old)
    tmp.rename(final)
    shutil.rmtree(old, ignore_errors=True)


def unwritable(path: Path, err: Exception, fix: str, what: str | None = None) -> Unwritable:
    """The error for a write to `path` that failed. A full disk surfaces from torch, safetensors and
    pyarrow as several types, some without the path, so this names the path (or `what` was written
    there), the room left there and `fix`, what to do (a read-only folder's own error says so)."""
    where = path
    while not where.exists() and where != where.parent:
        where = where.parent
    try:
        free = f"{shutil.disk_usage(where).free / 2**30:.1f} GiB free there"
    except OSError:
        free = "free space unknown"
    return Unwritable(f"could not write {what or path} ({free}): {err}. {fix}")


def write_text(path: Path, text: str) -> None:
    """`text` in `path` as UTF-8 (not the locale's encoding: cp1252 on Windows), through a temporary
    file, so that a full disk leaves the old file or none, not a cut one; an error names the file."""
    tmp = path.with_name(path.name + ".tmp")
    try:
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(path)
    except OSError as err:
        tmp.unlink(missing_ok=True)
        raise unwritable(path, err, "Free space there") from err


def save(accelerator, output_dir: str | Path, step: int, config: Config, keep: int = 2,
         backbone_record: dict | None = None) -> Path:
    """Checkpoint `step` in output_dir/checkpoints, keeping the newest `keep`, with the record of
    the backbone states the weights are trained on (hybrid.trained_on). Returns the folder written."""
    final = Path(output_dir) / "checkpoints" / f"{PREFIX}{step:08d}"
    tmp = final.with_name(final.name + ".tmp")
    if accelerator.is_main_process:
        shutil.rmtree(tmp, ignore_errors=True)  # a half-written folder left by an earlier crash
    accelerator.wait_for_everyone()
    try:
        accelerator.save_state(str(tmp))
        accelerator.wait_for_everyone()
        if accelerator.is_main_process:
            (tmp / "config.yaml").write_text(to_yaml(config), encoding="utf-8")
            trained_on.write(tmp, backbone_record)
            record = Path(output_dir) / SPLITS_RECORD
            if record.exists():  # the splits these weights trained on so far, for a branch or init_from from here
                shutil.copyfile(record, tmp / SPLITS_RECORD)
            write_manifest(tmp)  # last: a folder with a manifest is complete
    except (OSError, RuntimeError, SafetensorError) as err:  # a full disk, as torch, safetensors or the OS say it
        if accelerator.is_main_process:
            shutil.rmtree(tmp, ignore_errors=True)  # the part written would only take room
        found = checkpoints(output_dir)
        again = f"from {found[-1].name} with --resume {output_dir}" if found else "by running again"
        raise unwritable(final, err, "Free space there (or move the run folder to a disk with room), then continue "
                                     + again) from err
    if accelerator.is_main_process:
        replace_folder(tmp, final)
        # Only checkpoints older than this one are pruned: this run's newest must survive whatever
        # else the folder holds.
        older = [c for c in checkpoints(output_dir) if step_of(c) < step]
        for old in older[:max(0, len(older) - (keep - 1))] if keep > 0 else []:  # fewer than keep - 1: none
            shutil.rmtree(old, ignore_errors=True)
    accelerator.wait_for_everyone()
    return final


def unreadable(folder: Path, err: Exception) -> CheckpointError:
    """The error for a checkpoint whose files torch or safetensors could not read, with the first
    line of their message: some have none (torch.load's EOFError for an empty file)."""
    said = first_line(err, limit=200)
    cause = type(err).__name__ if said == type(err).__name__ else f"{type(err).__name__}: {said}"
    return CheckpointError(f"checkpoint {folder} is unreadable ({cause})")


def load(accelerator, path: Path) -> None:
    """Verify, then restore everything save() wrote; CheckpointError names what is wrong."""
    verify(path)
    try:
        with fresh_scaler_without_state(accelerator, path):
            accelerator.load_state(str(path))
    except Exception as err:  # torch/safetensors raise many types for a damaged file
        if (path / MANIFEST).exists():  # the files are intact, so they do not fit this config
            # Settings of another shape are named before any data is built (resume_settings), where the weights'
            # shapes can be read; what is left here, train.init_from cannot take either (the same shapes only)
            raise CheckpointMismatch(
                f"checkpoint {path} does not fit the run this config builds. Resume with the checkpoint's settings "
                f"(its config.yaml: a setting that changes a weight's shape, such as reasoner.hidden, cannot change) "
                f"and the version of this code that saved it, or train new weights without --resume. "
                f"Details: {' '.join(str(err).split())[:300]}") from None
        raise unreadable(path, err) from None


@contextmanager
def fresh_scaler_without_state(accelerator, path: Path):
    """A run resumed with train.mixed_precision=fp16 (on a GPU: a gradient scaler) from a checkpoint
    saved without it (no, bf16) keeps its scaler as new, as an fp16 run starts; Accelerate would
    look for the scaler's state in the checkpoint and fail on the missing file."""
    from accelerate.utils import SCALER_NAME

    scaler = accelerator.scaler
    if scaler is not None and not (path / SCALER_NAME).exists():
        accelerator.scaler = None
    try:
        yield
    finally:
        accelerator.scaler = scaler


def resume(accelerator, resume: str, output_dir: str | Path) -> Path:
    """Load `resume`: a checkpoint folder, a run folder or `latest` (the newest good checkpoint
    of that run folder, or of output_dir).

    With a run folder or `latest`, a damaged checkpoint is skipped with a warning naming it and
    the next older one is tried; once one loads, the damaged folders are moved aside
    (`.corrupt`), so later runs neither retry nor prune around them. If none loads, the error
    lists each failure."""
    target, run_dir = resume_target(resume, output_dir), newest_of(resume, output_dir)
    if run_dir is not None:
        return _load_newest(accelerator, run_dir)
    load(accelerator, target)
    return target


def newest_of(resume: str, output_dir: str | Path) -> Path | None:
    """The run folder whose newest good checkpoint `resume` means, or None for a checkpoint folder."""
    run_dir = Path(output_dir) if resume == "latest" else Path(resume)
    return run_dir if resume == "latest" or (run_dir / "checkpoints").is_dir() else None


def resume_target(resume: str, output_dir: str | Path) -> Path:
    """The checkpoint folder `resume` names (for a run folder or `latest`, its newest), found
    without loading anything: a path that cannot be resumed from is a CheckpointError before a
    run spends minutes on data and embedding."""
    run_dir = newest_of(resume, output_dir)
    if run_dir is not None:
        found = checkpoints(run_dir)
        if not found:
            raise CheckpointError(f"{run_dir / 'checkpoints'} holds no checkpoint to resume from")
        return found[-1]
    folder = Path(resume)
    if not folder.is_dir():
        raise CheckpointError(f"checkpoint folder {folder} does not exist: give train.resume (--resume) a run folder, "
                              f"one of its checkpoints/step_* folders, or latest (the newest in train.output_dir)")
    if (folder / "final" / "model.safetensors").exists():  # a run folder whose checkpoints/ was removed (for room)
        raise CheckpointError(f"{folder} holds no checkpoints/ to resume from, only its final/ weights: start new "
                              f"training from them with train.init_from={folder / 'final'}")
    if (folder / "model.safetensors").exists() and not any(folder.glob(SAVED_OBJECTS)):
        raise CheckpointError(f"{folder} holds weights only (a pretrained folder such as final/), not a training "
                              f"checkpoint: resume from the run folder or one of its checkpoints/step_* folders, or "
                              f"start from these weights with train.init_from={folder}")
    if not ((folder / MANIFEST).exists() or (folder / "optimizer.bin").exists() or any(folder.glob(SAVED_OBJECTS))):
        # Else found by Accelerate's load_state, after the defaults' data were generated and embedded
        raise CheckpointError(f"{folder} is not a training checkpoint (no saved training state in it): resume from "
                              f"a run folder or one of its checkpoints/step_* folders")
    return folder


def _load_newest(accelerator, run_dir: Path) -> Path:
    found = checkpoints(run_dir)  # not empty: resume_target checked
    if accelerator.num_processes > 1:
        # The main process's list for all: a run training in run_dir may save between two processes'
        # looks, and processes resumed from different checkpoints diverge (or wait on each other forever).
        from accelerate.utils import broadcast_object_list

        found = broadcast_object_list([found])[0]
    failures: list[tuple[Path, CheckpointError]] = []
    for path in reversed(found):
        try:
            load(accelerator, path)
        except CheckpointMismatch:
            raise  # intact files: an older checkpoint of the same run would not fit either
        except CheckpointError as err:
            if checkpoints(run_dir)[-1:] != found[-1:]:  # not damaged: deleted by a run training there, which moved on
                raise CheckpointError(f"{path} was deleted while it was loaded: a run is still training in {run_dir} "
                                      f"(it keeps only its newest train.keep_checkpoints). Resume again to branch from "
                                      f"its newest checkpoint, or from a copy of one") from None
            failures.append((path, err))
            if accelerator.is_main_process:  # every process finds the same damage: said once
                warnings.warn(f"skipping checkpoint {path}: {err}", stacklevel=3)
            continue
        accelerator.wait_for_everyone()  # every process has read its files before any folder moves
        if accelerator.is_main_process:
            moved = [move_aside(bad, "corrupt").name for bad, _ in failures]
            if moved:
                warnings.warn(f"resumed from {path} instead of the newer {', '.join(b.name for b, _ in failures)}: "
                              f"moved aside as {', '.join(moved)}", stacklevel=3)
        return path
    raise CheckpointError("no checkpoint in {} could be loaded:\n  {}".format(
        run_dir / "checkpoints", "\n  ".join(str(err) for _, err in failures)))


class Progress:
    """Where training stands; checkpointed so a resumed run continues at the same batch."""

    def __init__(self):
        self.step = 0

    def state_dict(self):
        return {"step": self.step}

    def load_state_dict(self, state):
        self.step = state["step"]


# A closed terminal's SIGHUP stops a run as SIGTERM does; Windows has none
HANGUP = (signal.SIGHUP,) if hasattr(signal, "SIGHUP") else ()


def after_hangup() -> None:
    """Once the terminal has closed, a write to it fails (EIO): the run's last line would end it with an error,
    exit 1, after it saved. Lines meant for the terminal go nowhere instead; those to a file (`> log`) still go."""
    for name in ("stdout", "stderr"):
        stream = getattr(sys, name)
        try:  # not isatty(): a terminal that has hung up says it is none
            terminal = stat.S_ISCHR(os.fstat(stream.fileno()).st_mode)
        except (AttributeError, ValueError, OSError):  # none, closed, or no file (a notebook's, a test's capture)
            terminal = False
        if terminal:
            setattr(sys, name, open(os.devnull, "w", encoding="utf-8"))  # noqa: SIM115 (open until the process ends)


class GracefulStop:
    """While active, SIGTERM (a scheduler's preemption, `kill`), SIGINT (Ctrl-C) and SIGHUP (the terminal
    closed) only set `requested` and `signal_name`: the training loop finishes its batch, saves a checkpoint and
    exits cleanly, rather than losing the batches since the last checkpoint. The same signal a
    second time acts as usual: Ctrl-C twice stops at once. A signal the process was started to
    ignore (`nohup`, a job started with `&` from a script ignores SIGINT) stays ignored.
    `announce`: say so on the first Ctrl-C, in this process only (not in DataLoader workers, which
    inherit the handler). Signal handlers can be set only in the main thread; elsewhere this does
    nothing."""

    SIGNALS = (signal.SIGTERM, signal.SIGINT, *HANGUP)

    def __init__(self, announce: bool = True):
        self.requested, self.signal_name, self.announce = False, None, announce
        self._previous: dict = {}
        self._pid = None

    def _handle(self, signum, frame):
        self.requested = True
        self.signal_name = self.signal_name or signal.Signals(signum).name
        previous = self._previous.get(signum)
        signal.signal(signum, previous if previous is not None else signal.SIG_DFL)
        if signum in HANGUP:
            after_hangup()
        if signum == signal.SIGINT and self.announce and os.getpid() == self._pid:
            print("\nCtrl-C: finishing this batch and saving a checkpoint (Ctrl-C again stops at once)",
                  file=sys.stderr, flush=True)

    def __enter__(self) -> "GracefulStop":
        if threading.current_thread() is threading.main_thread():
            self._pid = os.getpid()
            self._previous = {s: signal.signal(s, self._handle) for s in self.SIGNALS
                              if signal.getsignal(s) is not signal.SIG_IGN}
        return self

    def __exit__(self, *exc) -> None:
        for s, previous in self._previous.items():
            signal.signal(s, previous if previous is not None else signal.SIG_DFL)

    def agreed(self, accelerator=None, *others: bool) -> tuple[bool, ...]:
        """(a stop requested, *others), each true where any process of the launch says so, in one all-reduce
        that every process calls (with no accelerator, this process's own): one process that stopped alone would
        leave the others waiting in their next collective. A process that got no signal itself takes the name of
        the one another got (the first in SIGNALS, if several), so it says and exits with what stopped the run."""
        import torch

        device = accelerator.device if accelerator is not None else "cpu"
        # One flag per signal, summed: a sum of signal numbers would read SIGTERM + SIGINT as another signal
        flags = torch.tensor([*map(float, others), *(float(self.signal_name == s.name) for s in self.SIGNALS)],
                             device=device)
        anywhere = (accelerator.reduce(flags, "sum") if accelerator is not None else flags).gt(0).tolist()
        got = [s.name for s, on in zip(self.SIGNALS, anywhere[len(others):]) if on]
        if got and self.signal_name is None:
            self.requested, self.signal_name = True, got[0]
        return (bool(got), *anywhere[:len(others)])


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised where the program was (see `sigterm_raises`)."""


class HungUp(Terminated):
    """SIGHUP (the terminal closed), raised where the program was, to stop it as SIGTERM does."""


def stopped_by(stop: KeyboardInterrupt) -> tuple[str, int]:
    """What stopped the program, as its one line says it, and the exit status a shell gives a process
    ended by that signal."""
    if isinstance(stop, HungUp):
        return "SIGHUP", 129
    return ("SIGTERM", 143) if isinstance(stop, Terminated) else ("Ctrl-C", 130)


def exit_status(signal_name: str) -> int:
    """The exit status a shell gives a process ended by the signal GracefulStop names (SIGINT: 130), also in a
    process of a launch that got none itself (`agreed` names the one another got); SIGTERM's, 143, for a name
    that is no signal's."""
    known = getattr(signal, signal_name, None) if signal_name.startswith("SIG") else None
    return 128 + int(known) if known is not None else 143


@contextmanager
def sigterm_raises() -> Iterator[None]:
    """While active, SIGTERM (`kill`, a scheduler) raises Terminated, as Ctrl-C raises
    KeyboardInterrupt: Python's default for SIGTERM ends the process at once, skipping the `finally`
    blocks that remove a half-written file's temporary name. So does SIGHUP (a closed terminal, an ended
    ssh session), as HungUp, where nothing handles it yet (nohup's, ignored, and a bench's, stay).
    Main thread only; a SIGTERM the process was started to ignore stays ignored. One raised where
    Python drops exceptions (a weakref callback, a __del__: "Exception ignored in ...") is raised again
    when the block ends, not lost."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    pid, received = os.getpid(), []

    def terminated(signum, frame):
        if os.getpid() != pid:  # a forked worker (DataLoader's), which its parent ends with SIGTERM: end quietly
            signal.signal(signum, signal.SIG_DFL)
            os.kill(os.getpid(), signum)
        received.append(signum)
        if signum in HANGUP:
            after_hangup()
            raise HungUp
        raise Terminated

    taken = [signal.SIGTERM] * (signal.getsignal(signal.SIGTERM) is not signal.SIG_IGN)
    taken += [s for s in HANGUP if signal.getsignal(s) is signal.SIG_DFL]
    previous = {s: signal.signal(s, terminated) for s in taken}
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler if handler is not None else signal.SIG_DFL)
    if received:  # the block went on: its Terminated was dropped, so it did not stop what the SIGTERM asked to
        raise HungUp if received[0] in HANGUP else Terminated


def read_weights(folder: Path, ema: bool = True) -> tuple[dict, str]:
    """(state dict, which weights): a training checkpoint's EMA weights (what training evaluates),
    else the folder's model.safetensors (in a final/ or pretrained folder that is the EMA copy)."""
    import torch

    verify(folder)  # a damaged file is named, not loaded as slightly wrong weights
    state, source = None, f"{folder.name}/model.safetensors"
    shards = folder / "pytorch_model_fsdp_0"  # FSDP's checkpoints (no EMA under FSDP: hybrid/launch.py)
    if shards.is_dir() and not (folder / "model.safetensors").exists():
        raise CheckpointError(f"checkpoint {folder} holds the weights in FSDP's shards ({shards.name}/), not whole: "
                              f"the run's final/ has them whole, or merge these first: accelerate merge-weights "
                              f"{shards} {folder}")
    try:
        if ema:
            # accelerate saves registered objects as custom_checkpoint_<i>.pkl in registration
            # order; the EMA (an AveragedModel) is the one that counts its averages.
            for pkl in sorted(folder.glob(SAVED_OBJECTS)):
                saved = torch.load(pkl, map_location="cpu", weights_only=True)
                if isinstance(saved, dict) and "n_averaged" in saved:
                    state = {k.removeprefix("module."): v for k, v in saved.items() if k != "n_averaged"}
                    source = f"ema ({pkl.name})"
        if state is None:
            from safetensors.torch import load_file

            state = load_file(folder / "model.safetensors")
    except Exception as err:  # torch/safetensors raise many types for a damaged file
        raise unreadable(folder, err) from None
    return state, source


def saved_shapes(folder: Path) -> dict[str, tuple] | None:
    """The shape of each tensor of the checkpoint `folder`'s model.safetensors, read from its header alone
    (milliseconds, whatever its size); None where there is none (FSDP's shards) or it cannot be read."""
    from safetensors import safe_open

    try:
        with safe_open(folder / "model.safetensors", framework="pt") as weights:
            return {key: tuple(weights.get_slice(key).get_shape()) for key in weights.keys()}
    except Exception:  # not there, or damaged: loading names it
        return None


def load_weights(model: torch.nn.Module, folder: Path, ema: bool = True, weights: tuple[dict, str] | None = None,
                 backbones: tuple[str, str] | None = None) -> str:
    """Load `folder`'s weights into `model` (`weights`, where read_weights read them already). Returns which.
    `backbones`: the backbone.path the weights were trained on and the one the model was built on (a relative
    path and its absolute form are one backbone)."""
    state, source = weights or read_weights(folder, ema)
    try:
        model.load_state_dict(state)
    except RuntimeError as err:  # missing/unexpected keys or shape mismatches
        # A LoRA run's keys name the backbone's modules: on another backbone the details list keys only
        other = (f" The weights were trained on backbone {backbones[0]}, not {backbones[1]} (backbone.path)."
                 if backbones and anchored(backbones[0]) != anchored(backbones[1]) else "")
        found = misfits(model.state_dict(), state) or [" ".join(str(err).split())[:300]]
        more = f" (and {len(found) - 1} more)" if len(found) > 1 else ""
        raise CheckpointMismatch(f"checkpoint {folder} does not fit the model this config builds: {found[0]}{more}."
                                 f"{other} Overrides may change the puzzles, N_sup, T and n, but not a shape the "
                                 f"weights depend on (task size, reasoner.hidden, the backbone)") from None
    return source


def misfits(model_state: dict, saved: dict) -> list[str]:
    """Each tensor by which the weights `saved` do not fit a model's state dict, in a few words each:
    PyTorch's load_state_dict says it in a sentence per tensor (weights of reasoner.hidden=32 on a
    model of 64: eleven of them, 1,795 characters)."""
    found = [f"{key} is {list(saved[key].shape)} in the weights, {list(tensor.shape)} in the model"
             for key, tensor in model_state.items() if key in saved and saved[key].shape != tensor.shape]
    found += [f"{key} is in the model, not in the weights" for key in model_state if key not in saved]
    return found + [f"{key} is in the weights, not in the model" for key in saved if key not in model_state]
