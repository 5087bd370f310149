"""Surviving interruptions: a run stopped mid-way (SIGTERM or Ctrl-C, or a crash that loses the batch in
flight) and resumed ends exactly where an uninterrupted run ends; damaged checkpoints are
skipped; a crash while saving or a non-finite loss never leaves a bad state behind."""

import contextlib
import dataclasses
import json
import os
import re
import shlex
import shutil
import signal
import sys
import warnings
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

import hybrid.run_folder
import hybrid.supervision
import hybrid.train
from hybrid import checkpoint, trained_on
from hybrid.checkpoint import CheckpointError, CheckpointMismatch
from eval.tasks import PuzzleError
from hybrid.config import ConfigError, load_config
from hybrid.train import train

# Evaluation in between, as by default, and a learning rate that changes at every update (warm-up,
# then linear decay), so a resumed run that restarted its schedule would end elsewhere.
RUN = ("train.steps=6", "train.checkpoint_every=2", "train.eval_every=2", "train.schedule=linear", "train.warmup=4")


class Killed(BaseException):
    """Stands for SIGKILL: the process is gone, nothing after this point runs."""


def interrupt_at(monkeypatch, batch: int, action):
    """Make `action` happen while batch `batch` (1-based) trains."""
    real, calls = hybrid.train.supervise, []

    def supervise(*args, **kwargs):
        calls.append(1)
        if len(calls) == batch:
            action()
        return real(*args, **kwargs)

    monkeypatch.setattr(hybrid.train, "supervise", supervise)


def assert_same_run(a: Path, b: Path):
    """Same final (EMA) weights and the same held-out metrics."""
    wa, wb = load_file(a / "final" / "model.safetensors"), load_file(b / "final" / "model.safetensors")
    assert wa.keys() == wb.keys() and all(torch.equal(wa[k], wb[k]) for k in wa)
    ma, mb = (json.loads((p / "metrics.json").read_text())["test"] for p in (a, b))
    for m in (ma, mb):
        m.pop("puzzles_per_second")
    assert ma == mb


@pytest.fixture
def reference(small_config, tmp_path):
    config = small_config(*RUN, f"train.output_dir={tmp_path / 'reference'}")
    train(config)
    return Path(config.train.output_dir)


@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")  # the drop this test makes
def test_a_sigterm_raised_where_python_drops_exceptions_stops_the_block_at_its_end():
    """A SIGTERM that arrives in a weakref callback (garbage collection, at any moment) raised Terminated
    there, which Python prints as "Exception ignored" and drops: the block went on and ended as if no
    SIGTERM had come (a bench went on to its next runs and exited 0)."""
    import weakref

    class Thing:
        pass

    went_on = []
    with pytest.raises(checkpoint.Terminated), checkpoint.sigterm_raises():
        thing = Thing()
        # the handler, as the signal would run it, inside the callback that collecting `thing` calls
        watch = weakref.ref(thing, lambda _: signal.getsignal(signal.SIGTERM)(signal.SIGTERM, None))  # noqa: F841
        del thing
        went_on.append(True)
    assert went_on == [True]  # the callback's exception was dropped; the block's end raised it


def test_sigterm_saves_the_batch_and_resume_matches_an_uninterrupted_run(small_config, reference, monkeypatch, tmp_path):
    out, handler = tmp_path / "sigterm", signal.getsignal(signal.SIGTERM)
    interrupt_at(monkeypatch, 3, lambda: os.kill(os.getpid(), signal.SIGTERM))
    stopped = train(small_config(*RUN, f"train.output_dir={out}"))
    assert stopped == {"interrupted": True, "stopped_by": "SIGTERM", "batches": 3,
                       "checkpoint": str(out / "checkpoints" / "step_00000003")}
    assert [p.name for p in checkpoint.checkpoints(out)] == ["step_00000002", "step_00000003"]
    assert signal.getsignal(signal.SIGTERM) == handler  # restored

    monkeypatch.undo()
    resumed = train(small_config(*RUN, f"train.output_dir={out}", "train.resume=latest"))
    assert resumed["batches"] == 6
    assert_same_run(reference, out)


@pytest.mark.usefixtures("signals_as_in_a_terminal")
def test_ctrl_c_saves_the_batch_once_and_twice_stops_at_once(small_config, monkeypatch, tmp_path, capsys):
    """Ctrl-C (SIGINT) in a terminal lost every batch since the last checkpoint, with a traceback.
    Now the first finishes the batch, saves it and says so, like SIGTERM; a second stops at once
    (KeyboardInterrupt), naming the newest checkpoint in one line, not a traceback; a SIGTERM after a Ctrl-C asks for the same save, not a stop mid-save; and
    a process started to ignore SIGINT (`cmd &` in a script) still ignores it."""
    out, handlers = tmp_path / "ctrl_c", (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM))
    interrupt_at(monkeypatch, 3, lambda: os.kill(os.getpid(), signal.SIGINT))
    stopped = train(small_config(*RUN, f"train.output_dir={out}"))
    assert stopped == {"interrupted": True, "stopped_by": "SIGINT", "batches": 3,
                       "checkpoint": str(out / "checkpoints" / "step_00000003")}
    printed = capsys.readouterr()
    assert "Ctrl-C: finishing this batch and saving a checkpoint" in printed.err
    assert "SIGINT: stopped after batch 3, state saved in" in printed.out
    assert f"continue with --resume {out}\n" in printed.out  # not a bare --resume, which resumes runs/default
    assert (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)) == handlers  # restored

    def twice():
        os.kill(os.getpid(), signal.SIGINT)
        os.kill(os.getpid(), signal.SIGINT)

    interrupt_at(monkeypatch, 2, twice)
    with pytest.raises(KeyboardInterrupt):
        train(small_config(*RUN, f"train.output_dir={tmp_path / 'twice'}"))
    said = capsys.readouterr().err
    assert "Ctrl-C again: stopped at once" in said and "no checkpoint was saved yet" in said
    interrupt_at(monkeypatch, 5, twice)  # after the checkpoints of batches 2 and 4: main names the newest, no traceback
    monkeypatch.setattr(hybrid.train, "parse_args", lambda argv: small_config(*RUN, f"train.output_dir={tmp_path / 'twice'}"))
    with pytest.raises(SystemExit) as exit:
        hybrid.train.main([])
    assert exit.value.code == 130
    said = capsys.readouterr().err
    assert f"the newest checkpoint is {tmp_path / 'twice' / 'checkpoints' / 'step_00000004'}; continue from it " \
           f"with --resume {tmp_path / 'twice'}" in said and "Traceback" not in said

    def ctrl_c_then_sigterm():  # a scheduler's SIGTERM arriving while the Ctrl-C's save is under way
        os.kill(os.getpid(), signal.SIGINT)
        os.kill(os.getpid(), signal.SIGTERM)

    interrupt_at(monkeypatch, 2, ctrl_c_then_sigterm)
    assert train(small_config(*RUN, f"train.output_dir={tmp_path / 'both'}"))["batches"] == 2

    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        interrupt_at(monkeypatch, 2, lambda: os.kill(os.getpid(), signal.SIGINT))
        assert train(small_config(*RUN, f"train.output_dir={tmp_path / 'ignored'}"))["batches"] == 6  # ran on
        assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
    finally:
        signal.signal(signal.SIGINT, previous)


@pytest.mark.skipif(sys.platform == "win32", reason="SIGHUP is POSIX")
@pytest.mark.usefixtures("signals_as_in_a_terminal")
@pytest.mark.parametrize("signum, status",
                         [(signal.SIGTERM, 143), (signal.SIGINT, 130), (getattr(signal, "SIGHUP", 1), 129)])
def test_the_command_stopped_by_a_signal_saves_the_batch_and_exits_as_a_signalled_process(
        small_config, monkeypatch, tmp_path, capsys, signum, status):
    """`python -m hybrid.train` stopped by SIGTERM or Ctrl-C saved its batch and exited 0, as a finished run does:
    `train && python -m eval RUN` went on to evaluate a half-trained run. A closed terminal's SIGHUP (an ended ssh
    session) ended it at once, losing every batch since the last checkpoint. Each now saves the batch, says so and
    exits as a shell reports a process that signal ended; --resume goes on from the checkpoint."""
    out = tmp_path / "run"
    monkeypatch.setattr(hybrid.train, "parse_args", lambda argv: small_config(*RUN, f"train.output_dir={out}"))
    interrupt_at(monkeypatch, 3, lambda: os.kill(os.getpid(), signum))
    handler = signal.getsignal(signum)
    with pytest.raises(SystemExit) as ended:
        hybrid.train.main([])
    assert ended.value.code == status
    name = signal.Signals(signum).name
    saved = out / "checkpoints" / "step_00000003"
    assert f"{name}: stopped after batch 3, state saved in {saved}" in capsys.readouterr().out
    assert signal.getsignal(signum) == handler  # restored
    monkeypatch.undo()
    assert train(small_config(*RUN, f"train.output_dir={out}", "train.resume=latest"))["batches"] == 6


def test_a_sigterm_during_a_periodic_evaluation_ends_it_early_and_saves_the_batch(small_config, monkeypatch, tmp_path,
                                                                                  capsys):
    """A periodic evaluation (train.eval_every) ran to its end before a SIGTERM was acted on: with
    train.eval_size=null on a large split it could outlast a scheduler's grace period (Slurm's: 30 s), and the
    batch's checkpoint was lost to the SIGKILL. Now the evaluation stops before its next batch, what it had
    scored is not shown or logged as the held-out figures, and the batch is saved."""
    import eval.runner

    out, real_loader, real_bar, logged = tmp_path / "run", eval.runner.DataLoader, eval.runner.progress_bar, []
    # Evaluation batches of 8 puzzles: 5 for the 40 test puzzles
    monkeypatch.setattr(eval.runner, "DataLoader", lambda data, batch_size: real_loader(data, batch_size=8))

    def signal_after_the_first_batch(iterable, **settings):
        for i, item in enumerate(real_bar(iterable, **settings)):
            if i == 1 and settings.get("desc") == "evaluating":
                os.kill(os.getpid(), signal.SIGTERM)  # the first batch predicted: a scheduler's SIGTERM arrives
            yield item

    def log(self, values, step=None, **kwargs):
        logged.append(values)

    monkeypatch.setattr(eval.runner, "progress_bar", signal_after_the_first_batch)
    monkeypatch.setattr(hybrid.train.Accelerator, "log", log)
    results = train(small_config(*RUN, "task.test_size=40", "train.eval_size=null", f"train.output_dir={out}"))
    said = "".join(capsys.readouterr())
    assert results["stopped_by"] == "SIGTERM" and results["batches"] == 2
    assert "batch 2: held-out evaluation stopped by SIGTERM after 8 of 40 puzzles; not logged" in said
    assert "batch 2: held-out exact" not in said and not any(k.startswith("eval/") for v in logged for k in v)
    assert results["checkpoint"] == str(out / "checkpoints" / "step_00000002")


def test_a_sigterm_during_a_periodic_evaluations_last_batch_logs_it_whole_and_stops_at_that_batch(
        small_config, monkeypatch, tmp_path, capsys):
    """A stop that arrives once the evaluation asked before its last batch is for that evaluation to act on
    (periodic_eval asks again after it): the evaluation is whole, so its figures are shown and logged, and the
    run stops at its batch rather than training one more that the grace period may not have room to save."""
    import eval.runner

    out, real_bar, logged = tmp_path / "run", eval.runner.progress_bar, []

    def signal_during_the_last_batch(iterable, **settings):
        yield from real_bar(iterable, **settings)
        if settings.get("desc") == "evaluating":  # the last batch predicted, no batch left to ask before
            os.kill(os.getpid(), signal.SIGTERM)

    def log(self, values, step=None, **kwargs):
        logged.append((step, values))

    monkeypatch.setattr(eval.runner, "progress_bar", signal_during_the_last_batch)
    monkeypatch.setattr(hybrid.train.Accelerator, "log", log)
    results = train(small_config(*RUN, f"train.output_dir={out}"))
    said = "".join(capsys.readouterr())
    assert results["stopped_by"] == "SIGTERM" and results["batches"] == 2
    assert "batch 2: held-out exact" in said and "evaluation stopped" not in said
    assert any(step == 2 and any(k.startswith("eval/") for k in values) for step, values in logged)
    assert results["checkpoint"] == str(out / "checkpoints" / "step_00000002")


@pytest.mark.skipif(sys.platform == "win32", reason="SIGHUP is POSIX")
@pytest.mark.parametrize("signum, status", [(signal.SIGTERM, 143), (getattr(signal, "SIGHUP", 1), 129)])
def test_a_second_signal_where_a_bench_trains_is_named_as_itself(small_config, monkeypatch, tmp_path, capsys,
                                                                 signum, status):
    """A bench trains in its own process inside sigterm_raises, so a second SIGTERM or SIGHUP (a scheduler's,
    a closed terminal's) raises in the training loop: it was said as "Ctrl-C again" with Ctrl-C's 130, and the
    bench exited 130 naming Ctrl-C."""
    interrupt_at(monkeypatch, 2, lambda: [os.kill(os.getpid(), signum) for _ in range(2)])
    before = signal.signal(signal.SIGHUP, signal.SIG_DFL)  # as in a terminal's session, which sigterm_raises takes
    try:
        with pytest.raises(hybrid.train.ReportedInterrupt) as stop, checkpoint.sigterm_raises():
            train(small_config(*RUN, f"train.output_dir={tmp_path / 'run'}"))
    finally:
        signal.signal(signal.SIGHUP, before)
    assert stop.value.args == (status,)
    name = signal.Signals(signum).name
    assert f"{name} again: stopped at once, without saving" in capsys.readouterr().err


@pytest.mark.skipif(sys.platform == "win32", reason="SIGHUP and terminals are POSIX")
def test_a_hangup_raises_where_the_command_is_and_its_lines_to_the_closed_terminal_go_nowhere(monkeypatch):
    """After a terminal closes, a write to it fails (EIO): training, which had saved its batch, ended on its last
    line with a traceback and exit 1 instead of 129. A SIGHUP in sigterm_raises stops the block as SIGTERM does,
    named as itself; one the process was started to ignore (nohup) stays ignored."""
    import pty

    before = signal.signal(signal.SIGHUP, signal.SIG_DFL)  # as in a terminal's session, also under nohup
    try:
        leader, follower = pty.openpty()
        terminal = open(follower, "w", encoding="utf-8")  # noqa: SIM115 (closed below)
        monkeypatch.setattr(sys, "stdout", terminal)
        os.close(leader)  # the terminal closes: writes to it fail from now on
        with pytest.raises(OSError):
            print("x", flush=True)
        with pytest.raises(checkpoint.HungUp) as stop:
            with checkpoint.sigterm_raises():
                assert signal.getsignal(signal.SIGHUP) is not signal.SIG_DFL, "SIGHUP still ends the process at once"
                os.kill(os.getpid(), signal.SIGHUP)
        print("stopped", flush=True)  # to nowhere, without an error
        assert sys.stdout is not terminal and checkpoint.stopped_by(stop.value) == ("SIGHUP", 129)
        with contextlib.suppress(OSError):  # its unwritten "x"; the file is closed all the same
            terminal.close()
        assert signal.getsignal(signal.SIGHUP) is signal.SIG_DFL  # restored
        signal.signal(signal.SIGHUP, signal.SIG_IGN)
        with checkpoint.sigterm_raises():
            os.kill(os.getpid(), signal.SIGHUP)  # ignored, as under nohup
    finally:
        signal.signal(signal.SIGHUP, before)


def test_resume_is_exact_with_dropout_on(small_config, monkeypatch, tmp_path):
    """Dropout draws from the global generator, so the resumed loader must not draw from it when it
    starts mid-epoch, or the first resumed batch would drop other units than an unbroken run."""
    run = (*RUN, "adapter.dropout=0.2")
    train(small_config(*run, f"train.output_dir={tmp_path / 'reference'}"))
    interrupt_at(monkeypatch, 3, lambda: os.kill(os.getpid(), signal.SIGTERM))
    train(small_config(*run, f"train.output_dir={tmp_path / 'resumed'}"))
    monkeypatch.undo()
    train(small_config(*run, f"train.output_dir={tmp_path / 'resumed'}", "train.resume=latest"))
    assert_same_run(tmp_path / "reference", tmp_path / "resumed")


def test_crash_mid_batch_resumes_from_the_last_checkpoint_to_the_same_result(small_config, reference, monkeypatch, tmp_path):
    out = tmp_path / "crash"

    def crash():  # nothing is saved, batch 5 is lost
        raise Killed

    interrupt_at(monkeypatch, 5, crash)
    with pytest.raises(Killed):
        train(small_config(*RUN, f"train.output_dir={out}"))
    assert checkpoint.checkpoints(out)[-1].name == "step_00000004"
    monkeypatch.undo()
    train(small_config(*RUN, f"train.output_dir={out}", "train.resume=latest"))
    assert_same_run(reference, out)


def test_damaged_newest_checkpoint_falls_back_to_the_previous_one(small_config, reference, tmp_path):
    out = tmp_path / "damaged"
    shutil.copytree(reference, out)
    shutil.rmtree(out / "final")
    newest = checkpoint.checkpoints(out)[-1]  # step 6: the run's end
    (newest / "model.safetensors").write_bytes(b"\0" * 100)  # same kind of damage as a torn write

    with pytest.warns(UserWarning, match=str(newest / "model.safetensors")):
        resumed = train(small_config(*RUN, f"train.output_dir={out}", "train.resume=latest"))
    assert resumed["batches"] == 6  # batches 5 and 6 trained again from step 4
    assert_same_run(reference, out)
    assert (out / "checkpoints" / "step_00000006.corrupt" / "model.safetensors").exists()  # kept for inspection
    assert [p.name for p in checkpoint.checkpoints(out)] == ["step_00000004", "step_00000006"]


def test_no_good_checkpoint_is_a_clear_error_naming_each_file(small_config):
    config = small_config()  # 4 batches, checkpoints at 2 and 4
    train(config)
    saved = checkpoint.checkpoints(config.train.output_dir)
    for folder in saved:
        (folder / "optimizer.bin").unlink()
    with pytest.raises(CheckpointError) as err:
        train(small_config("train.steps=6", "train.resume=latest"))
    assert all(str(folder / "optimizer.bin") in str(err.value) for folder in saved)
    assert checkpoint.checkpoints(config.train.output_dir) == saved  # nothing moved or deleted


class OtherProcess:
    """An accelerator as a process other than the main one sees it (the rest is the real one's)."""

    is_main_process = False

    def __init__(self, accelerator):
        self.accelerator = accelerator

    def __getattr__(self, name):
        return getattr(self.accelerator, name)


def test_a_damaged_checkpoint_is_said_once_by_the_main_process_not_by_every_process(tmp_path):
    from accelerate import Accelerator

    accelerator = Accelerator(cpu=True)
    accelerator.prepare(torch.nn.Linear(4, 4))
    for step in (1, 2):
        checkpoint.save(accelerator, tmp_path, step, load_config())
    damaged = checkpoint.checkpoints(tmp_path)[-1]
    (damaged / "model.safetensors").write_bytes(b"\0" * 100)
    with warnings.catch_warnings(record=True) as caught:  # each process falls back alike, saying nothing
        warnings.simplefilter("always")
        assert checkpoint.resume(OtherProcess(accelerator), "latest", tmp_path).name == "step_00000001"
    assert [str(w.message) for w in caught] == []
    with pytest.warns(UserWarning, match=f"skipping checkpoint {damaged}"):  # the main one says it
        assert checkpoint.resume(accelerator, "latest", tmp_path).name == "step_00000001"


def test_crash_while_saving_keeps_the_last_good_checkpoint(tmp_path, monkeypatch):
    from accelerate import Accelerator

    accelerator = Accelerator(cpu=True)
    model = accelerator.prepare(torch.nn.Linear(4, 4))
    config = load_config()
    checkpoint.save(accelerator, tmp_path, 1, config)
    good = checkpoint.checkpoints(tmp_path)[-1]

    def torn_save(folder, **kwargs):  # writes part of the state, then the process dies
        Path(folder).mkdir(parents=True)
        (Path(folder) / "model.safetensors").write_bytes(b"half")
        raise Killed

    monkeypatch.setattr(accelerator, "save_state", torn_save)
    for step in (2, 1):  # a new checkpoint, and one replacing the good one
        with pytest.raises(Killed):
            checkpoint.save(accelerator, tmp_path, step, config)
        assert checkpoint.checkpoints(tmp_path) == [good]
    checkpoint.load(accelerator, good)  # still complete and verified
    assert torch.isfinite(model.weight).all()


def test_non_finite_loss_stops_before_the_update_and_saves_the_good_state(small_config, monkeypatch, tmp_path):
    real, calls = hybrid.supervision.stablemax_cross_entropy, []

    def poisoned(logits, labels):  # the 5th loss (batch 3, first supervision step) is NaN
        calls.append(1)
        loss = real(logits, labels)
        return loss * float("nan") if len(calls) == 5 else loss

    monkeypatch.setattr(hybrid.supervision, "stablemax_cross_entropy", poisoned)
    out = tmp_path / "nan"
    with pytest.raises(FloatingPointError, match="batch 3.*step_00000002") as err:
        train(small_config(*RUN, f"train.output_dir={out}", "train.checkpoint_every=0"))
    assert "update not applied" in str(err.value)
    assert "lower train.lr. Last good state" in str(err.value)  # in fp32 already: no mixed-precision advice
    saved = checkpoint.checkpoints(out)[-1]
    weights = load_file(saved / "model.safetensors")
    assert all(torch.isfinite(w).all() for w in weights.values())
    monkeypatch.undo()  # and training goes on from there
    assert train(small_config(*RUN, f"train.output_dir={out}", "train.resume=latest"))["batches"] == 6


def files(folder: Path) -> dict:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}


def test_a_new_run_in_a_used_folder_moves_the_earlier_run_aside(small_config, tmp_path):
    out = tmp_path / "run"
    train(small_config("train.steps=6"))  # the earlier run: checkpoints 4 and 6, final/
    earlier = {c.name: files(c) for c in checkpoint.checkpoints(out)} | {"final": files(out / "final")}
    train(small_config("train.steps=4", "train.lr=3e-4"))  # a new run with fewer steps, same folder
    (moved,) = [p for p in tmp_path.iterdir() if p.name.startswith("run-")]
    assert {c.name: files(c) for c in checkpoint.checkpoints(moved)} | {"final": files(moved / "final")} == earlier
    assert [c.name for c in checkpoint.checkpoints(out)] == ["step_00000002", "step_00000004"]  # its own, kept
    resumed = train(small_config("train.steps=6", "train.lr=3e-4", "train.resume=latest"))
    assert resumed["batches"] == 6  # continued the new run (from its batch 4), not the earlier one's batch 6


def test_a_new_run_in_the_current_directory_with_a_run_in_it_is_refused_before_building(small_config, tmp_path,
                                                                                       monkeypatch):
    """Moving the earlier run aside would move the directory the run works in (`.`, or one above
    it): refused before data and embedding, with the earlier run left in place. A resume goes on."""
    (tmp_path / "here").mkdir()
    monkeypatch.chdir(tmp_path / "here")
    train(small_config("train.output_dir=."))
    saved = checkpoint.checkpoints(tmp_path / "here")
    monkeypatch.setattr(hybrid.train, "build", lambda *args: pytest.fail("built before the check"))
    for out in (".", str(tmp_path / "here"), str(tmp_path / "here" / "sub" / "..")):
        with pytest.raises(ConfigError, match=rf"train.output_dir={re.escape(out)} holds an earlier run.*current "
                                              r"directory is inside it"):
            train(small_config(f"train.output_dir={out}", "train.steps=6"))
    assert checkpoint.checkpoints(tmp_path / "here") == saved
    assert not [p for p in tmp_path.iterdir() if p.name.startswith("here-")]  # nothing moved aside
    monkeypatch.undo()
    monkeypatch.chdir(tmp_path / "here")
    assert train(small_config("train.output_dir=.", "train.steps=6", "train.resume=latest"))["batches"] == 6


def test_a_new_run_moves_aside_an_earlier_run_that_crashed_before_its_end(small_config, monkeypatch, tmp_path):
    """A run killed mid-way leaves config.yaml and checkpoints but no final/ or metrics.json: its
    checkpoints must not mix with a new run's (pruning and --resume go by step number)."""
    out = tmp_path / "run"

    def crash():
        raise Killed

    interrupt_at(monkeypatch, 4, crash)
    with pytest.raises(Killed):
        train(small_config("train.lr=3e-4"))
    monkeypatch.undo()
    assert not (out / "final").exists() and not (out / "metrics.json").exists()
    earlier = {c.name: files(c) for c in checkpoint.checkpoints(out)}
    assert list(earlier) == ["step_00000002"]
    train(small_config())
    (moved,) = [p for p in tmp_path.iterdir() if p.name.startswith("run-")]
    assert {c.name: files(c) for c in checkpoint.checkpoints(moved)} == earlier
    assert files(checkpoint.checkpoints(out)[0]) != earlier["step_00000002"]  # the new run's own


def test_a_new_run_that_stops_on_a_bad_setting_leaves_the_earlier_run_in_place(small_config, tmp_path):
    out = tmp_path / "run"
    train(small_config())
    earlier = {c.name: files(c) for c in checkpoint.checkpoints(out)} | {"final": files(out / "final")}
    with pytest.raises(ConfigError, match="larger than the training set"):
        train(small_config("train.batch_size=128"))  # found once the splits exist
    with pytest.raises(ConfigError, match=r"task.wordings=\[7\]"):
        train(small_config("task.wordings=[7]"))  # checked against the task once it is built
    with pytest.raises(ConfigError, match="no such folder"):
        train(small_config(f"backbone.path={tmp_path / 'missing'}"))  # the backbone does not load
    with pytest.raises(PuzzleError, match="no such file"):
        train(small_config("task=qa", f"task.path={tmp_path / 'missing.jsonl'}"))  # nor the data
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith("run")] == ["run"]  # nothing moved aside
    assert {c.name: files(c) for c in checkpoint.checkpoints(out)} | {"final": files(out / "final")} == earlier


def test_resuming_with_settings_the_checkpoint_cannot_take_is_an_error(small_config, tmp_path):
    """The restored optimizer and scheduler keep the saved lr, weight decay and betas (an override
    would be written to config.yaml and never used); another backbone of the same width (tiny
    GPT-2 and BERT: 32) fits every shape, so loading alone would not notice it."""
    out = tmp_path / "run"
    train(small_config())
    saved = checkpoint.checkpoints(out)
    for changed, message in ((("train.lr=0.5",), r"train.lr=0.5 \(the checkpoint's run: 0.001\)"),
                             (("train.betas=[0.9,0.99]",),
                              r"train.betas=\[0.9,0.99\] \(the checkpoint's run: \[0.9,0.95\]\)"),
                             (("train.weight_decay=0.5",), r"train.weight_decay=0.5 \(the checkpoint's run: "),
                             (("backbone.layer=1",), r"backbone.layer=1 \(the checkpoint's run: last\)"),
                             ((), r"backbone.path=.*gpt2 \(the checkpoint's run: .*bert; another folder must hold "
                                  r"the same files\)")):
        config = small_config("train.steps=6", "train.resume=latest", *changed, kind="gpt2" if not changed else "bert")
        with pytest.raises(CheckpointMismatch, match=message + ".*train.init_from"):
            train(config)
    assert checkpoint.checkpoints(out) == saved  # not taken for damage, nothing moved
    assert train(small_config("train.steps=6", "train.resume=latest", "reasoner.T=3"))["batches"] == 6  # the rest may change


def test_a_resume_may_give_other_heads_only_where_no_model_splits_them(small_config, tmp_path):
    """Heads split the attention mixer's and the query_attention adapter's weights: other heads fit every
    shape but compute something else, so a resume refuses them. The mlp mixer and span pooling (the
    defaults on sudoku) have none: reasoner.heads=8 or adapter.heads=2 there was refused as if they did,
    though the model is the same. The resumed run's config.yaml records the values it was given."""
    from hybrid.config import to_yaml
    from hybrid.inference import read_config
    from hybrid.resume_settings import check_resume_settings

    (tmp_path / "step").mkdir()
    (tmp_path / "step" / "config.yaml").write_text(to_yaml(small_config("reasoner.mixer=attention",
                                                                        "adapter.kind=query_attention")))
    for override in ("reasoner.heads=8", "adapter.heads=2"):
        key, value = override.split("=")
        with pytest.raises(CheckpointMismatch, match=rf"cannot change: {key}={value} \(the checkpoint's run: 4\)"):
            check_resume_settings(tmp_path / "step", small_config("reasoner.mixer=attention",
                                                                  "adapter.kind=query_attention", override))
    out = tmp_path / "run"
    train(small_config())  # the mlp mixer, span pooling
    assert train(small_config("train.steps=6", "train.resume=latest", "reasoner.heads=8",
                              "adapter.heads=2"))["batches"] == 6
    for saved in (out / "config.yaml", checkpoint.checkpoints(out)[-1] / "config.yaml"):
        recorded = read_config(saved)
        assert (recorded.reasoner.heads, recorded.adapter.heads) == (8, 2), saved


def test_a_checkpoint_that_saved_a_relative_backbone_path_resumes_from_the_directory_it_names(small_config, tiny_backbone,
                                                                                                tmp_path, monkeypatch):
    """Runs saved before relative paths were made absolute hold backbone.path as typed: from the
    directory it was typed in it is the same folder; from another it is not."""
    from hybrid.config import to_yaml
    from hybrid.resume_settings import check_resume_settings

    shutil.copytree(tiny_backbone("bert"), tmp_path / "models" / "bert")
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path)
    config = small_config("backbone.path=models/bert")
    saved = dataclasses.replace(config, backbone=dataclasses.replace(config.backbone, path="models/bert"))
    (tmp_path / "step").mkdir()
    (tmp_path / "step" / "config.yaml").write_text(to_yaml(saved))
    check_resume_settings(tmp_path / "step", config)
    monkeypatch.chdir(tmp_path / "elsewhere")
    with pytest.raises(CheckpointMismatch, match=r"backbone.path=.*models/bert \(the checkpoint's run: models/bert;"):
        check_resume_settings(tmp_path / "step", config)


def test_a_resume_may_spell_the_last_layer_otherwise(small_config, tmp_path):
    """-1 and mean_last_1 pick the states `last` picks: no other settings, nothing to refuse."""
    from hybrid.config import to_yaml
    from hybrid.resume_settings import check_resume_settings

    (tmp_path / "step").mkdir()
    (tmp_path / "step" / "config.yaml").write_text(to_yaml(small_config()))
    for same in ("-1", "mean_last_1"):
        check_resume_settings(tmp_path / "step", small_config(f"backbone.layer={same}"))
    with pytest.raises(CheckpointMismatch, match=r"backbone.layer=-2 \(the checkpoint's run: last\)"):
        check_resume_settings(tmp_path / "step", small_config("backbone.layer=-2"))
    # The last layer's own index needs the layer count: a checkpoint from before it was recorded cannot tell...
    with pytest.raises(CheckpointMismatch, match=r"backbone.layer=2 \(the checkpoint's run: last\)"):
        check_resume_settings(tmp_path / "step", small_config("backbone.layer=2"))
    trained_on.write(tmp_path / "step", {"layer": "last", "num_layers": 2})  # ...one written now records it
    check_resume_settings(tmp_path / "step", small_config("backbone.layer=2"))
    with pytest.raises(CheckpointMismatch, match=r"backbone.layer=1 \(the checkpoint's run: last\)"):
        check_resume_settings(tmp_path / "step", small_config("backbone.layer=1"))


def test_a_resume_that_cannot_work_fails_before_data_and_embedding(small_config, monkeypatch, tmp_path):
    """A changed learning rate, or a run folder with no checkpoint, is known from the files alone:
    the run stops before it builds data and embeds it (minutes on a cold cache)."""
    train(small_config())
    built = []
    monkeypatch.setattr(hybrid.train, "build", lambda *args: built.append(1) or pytest.fail("built before the check"))
    with pytest.raises(CheckpointMismatch, match=r"train.lr=0.5"):
        train(small_config("train.steps=6", "train.resume=latest", "train.lr=0.5"))
    with pytest.raises(CheckpointMismatch, match=r"cannot change: train.ema=0.0 \(the checkpoint's run: 0.999\)"):
        train(small_config("train.steps=6", "train.resume=latest", "train.ema=0"))  # was found by load_state
    (tmp_path / "empty" / "checkpoints").mkdir(parents=True)
    with pytest.raises(CheckpointError, match="holds no checkpoint"):
        train(small_config("train.steps=6", f"train.resume={tmp_path / 'empty'}"))
    # A folder that is no checkpoint (the run's checkpoints/ itself): was found by load_state, after building
    for folder in (tmp_path / "run" / "checkpoints", tmp_path):
        with pytest.raises(CheckpointError, match=f"{folder} is not a training checkpoint"):
            train(small_config("train.steps=6", f"train.resume={folder}", f"train.output_dir={tmp_path / 'branch'}"))
    # A damaged checkpoint named directly: was found by load_state, after building
    named = checkpoint.checkpoints(tmp_path / "run")[-1]
    (named / "model.safetensors").write_bytes(b"cut short")
    with pytest.raises(CheckpointError, match=f"{named / 'model.safetensors'} is damaged"):
        train(small_config("train.steps=6", f"train.resume={named}"))
    resumed = small_config("train.steps=6", "train.resume=latest", f"train.init_from={tmp_path / 'other'}")
    with pytest.warns(UserWarning, match=r"train.init_from=.*other is not read on a resume: the checkpoint .* holds"):
        hybrid.run_folder.check_before_building(resumed)  # written into config.yaml, yet never loaded: said, not silent
    assert not built


def test_a_resume_that_changes_the_schedule_goes_on_from_its_place_and_says_how_the_rate_moves(small_config, tmp_path,
                                                                                              monkeypatch):
    """The scheduler's saved state is only a count of updates; the schedule is rebuilt from the
    config. The first resumed update ran at the checkpoint's rate (the optimizer saved it) and the
    next jumped to the new schedule's, without a word; another reasoner.N_sup kept a place counted
    in the old one's updates, so a decaying schedule no longer ended where training ends."""
    base = ("train.schedule=linear", "train.steps=4", "train.checkpoint_every=2")  # 8 updates, linear from 1e-3
    train(small_config(*base, f"train.output_dir={tmp_path / 'base'}"))
    rates = []
    real_update = hybrid.supervision.update

    def update(model, optimizer, *args, **kwargs):
        rates.append(optimizer.param_groups[0]["lr"])
        return real_update(model, optimizer, *args, **kwargs)

    monkeypatch.setattr(hybrid.supervision, "update", update)
    # Resumed at batch 2 (update 4), where the checkpoint's schedule gives the next update 5.0e-04.
    for override, first, last, said in (
            ("train.steps=8", 7.5e-4, 1e-3 / 16, "train.steps=8 (the checkpoint's run: 4): the schedule goes on from "
                                                 "update 4 with the new settings, so the learning rate moves from "
                                                 "5.0e-04 to 7.5e-04"),
            ("train.warmup=2", 1e-3 * 4 / 6, 1e-3 / 6, "train.warmup=2 (the checkpoint's run: 0)"),
            ("train.schedule=constant", 1e-3, 1e-3, "train.schedule=constant (the checkpoint's run: linear)"),
            # Without a warm-up the same fraction of the run: no jump, and the decay ends at the run's end
            ("reasoner.N_sup=3", 5e-4, 1e-3 / 12, None),
            ("train.ema=0.9", 5e-4, 1e-3 / 8, None)):
        run = tmp_path / override
        shutil.copytree(tmp_path / "base", run)
        rates.clear()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            train(small_config(*base, override, f"train.output_dir={run}",
                               f"train.resume={checkpoint.checkpoints(run)[0]}"))
        moved = [str(w.message) for w in caught if "learning rate moves" in str(w.message)]
        assert rates[0] == pytest.approx(first) and rates[-1] == pytest.approx(last), override
        assert (moved == [] if said is None else len(moved) == 1 and said in moved[0]), (override, moved)


def test_a_resume_from_the_command_line_goes_on_with_the_runs_own_settings(small_config, tmp_path, monkeypatch):
    """--resume builds the config from the one saved with the checkpoint, the command line's
    overrides on top: from the defaults, a run trained with reasoner.T=3 went on at T=2 and one on
    another backbone stopped. Its train.init_from is not needed: the checkpoint holds the weights."""
    from hybrid.train import parse_args

    first, out = tmp_path / "first", tmp_path / "run"
    train(small_config(f"train.output_dir={first}"))
    monkeypatch.chdir(tmp_path)
    trained = small_config("reasoner.T=3", f"train.init_from={first / 'final'}", "train.output_dir=run")  # relative
    train(trained)
    shutil.rmtree(first)
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")
    assert parse_args(["--resume", str(out)]).train.output_dir == str(out)  # its own folder, not ./run here
    config = parse_args(["--resume", f"train.output_dir={out}", "train.steps=6"])
    assert (config.reasoner.T, config.backbone.path, config.task, config.train.data_dir) == \
        (3, trained.backbone.path, trained.task, trained.train.data_dir)
    assert config.train.steps == 6 and config.train.resume == "latest"
    assert parse_args(["--resume", str(out), "reasoner.T=2"]).reasoner.T == 2  # an override still wins
    assert train(config)["batches"] == 6
    assert load_config([], base=out / "config.yaml").reasoner.T == 3
    # Nothing to resume: the command line alone builds the config, and the resume says what is wrong
    config = parse_args(["--resume", f"train.output_dir={tmp_path / 'none'}"])
    assert config.backbone.path == load_config([]).backbone.path
    with pytest.raises(CheckpointError, match="holds no checkpoint"):
        train(config)


def test_a_resume_says_that_edits_to_the_run_folders_config_are_not_read(small_config, tmp_path, monkeypatch):
    """A bare --resume goes on with the checkpoint's config.yaml: an edit to the run folder's own
    config.yaml (train.steps raised by hand) was ignored without a word, and the resume then wrote
    over it. Now the resume names the file, each key that differs and the override that sets it."""
    from hybrid.train import parse_args

    out = tmp_path / "my run"  # a space: the command line it suggests quotes the folder
    train(small_config(f"train.output_dir={out}"))
    top = out / "config.yaml"
    top.write_text(top.read_text().replace("  steps: 4\n", "  steps: 6\n").replace("  T: 2\n", "  T: 3\n"))
    with pytest.warns(UserWarning, match=rf"{top} is not read on a resume.*step_00000004/config.yaml.*: "
                                         r"reasoner.T=3 train.steps=6 there, reasoner.T=2 train.steps=4 in the "
                                         r"checkpoint.*give them on the command line: --resume .* reasoner.T=3 "
                                         r"train.steps=6"):
        assert parse_args(["--resume", str(out)]).train.steps == 4  # which file is read stays as it was
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # given on the command line, or no edit: nothing to say
        assert parse_args(["--resume", str(out), "train.steps=6", "reasoner.T=3"]).train.steps == 6
        top.write_text((checkpoint.checkpoints(out)[-1] / "config.yaml").read_text())
        parse_args(["--resume", str(out)])
    top.write_text(top.read_text().replace("  steps: 4\n", "  stpes: 6\n"))  # unreadable: said, the resume goes on
    with pytest.warns(UserWarning, match=rf"{top} is not read on a resume.*stpes"):
        assert parse_args(["--resume", str(out)]).train.steps == 4

    # The command line it suggests sets the edited values, null and false as YAML spells them
    saved = (checkpoint.checkpoints(out)[-1] / "config.yaml").read_text()
    top.write_text(saved.replace("  cpu_threads: 1\n", "  cpu_threads: null\n")
                   .replace("  halt: true\n", "  halt: false\n"))
    with pytest.warns(UserWarning, match="is not read on a resume") as said:
        parse_args(["--resume", str(out)])
    suggested = re.search(r"give them on the command line: (--resume .*) \(or all", str(said[0].message)).group(1)
    assert suggested == f"--resume '{out}' train.cpu_threads=null train.halt=false"
    assert str(said[0].message).endswith(f"(or all of that file's: add --config '{top}')")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the suggestion taken: nothing left to say
        config = parse_args(shlex.split(suggested))
        assert config.train.cpu_threads is None and config.train.halt is False
        # Nothing to say either: a preset given sets its whole section; a folder moved since (the
        # resume decides train.output_dir); the processes after the first under accelerate launch; no such file
        top.write_text(saved.replace("  T: 2\n", "  T: 3\n"))
        assert parse_args(["--resume", str(out), "reasoner=trm_paper"]).reasoner.T == 3  # the preset's
        monkeypatch.setenv("RANK", "1")
        parse_args(["--resume", str(out)])
        monkeypatch.delenv("RANK")
        moved = saved.replace(f"output_dir: {out}\n", f"output_dir: {tmp_path / 'moved'}\n")
        assert moved != saved
        top.write_text(moved)
        parse_args(["--resume", str(out)])
        top.unlink()  # checkpoints/ copied without it: the resume goes on
        assert parse_args(["--resume", str(out)]).train.steps == 4


def test_a_checkpoint_whose_config_this_version_cannot_read_is_an_error_before_anything_runs(small_config, tmp_path,
                                                                                               monkeypatch):
    """An intact checkpoint whose config.yaml holds a key an older version had: --resume built the
    config from the command line alone, so the default job's data was generated and embedded, an
    earlier run in the default output_dir was moved aside, and it ended in 'does not fit the run
    this config builds', never naming the file. Now the error names the file and the key at once."""
    from hybrid.train import parse_args

    run = tmp_path / "run"
    train(small_config())
    for saved in checkpoint.checkpoints(run):  # as a version with a knob this one no longer has wrote it
        config_file = saved / "config.yaml"
        config_file.write_text(config_file.read_text().replace("reasoner:\n", "reasoner:\n  old_knob: 3\n"))
        checkpoint.write_manifest(saved)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError, match=r"cannot resume .*step_00000004: .*step_00000004/config.yaml does not match "
                                          r"this version's config schema .*old_knob.*checksums.json covers config.yaml"):
        parse_args(["--resume", str(run), "train.steps=6"])
    # Damaged instead (its checksum differs): loading names the file, and may fall back to an older checkpoint
    newest = checkpoint.checkpoints(run)[-1] / "config.yaml"
    newest.write_text(newest.read_text() + "\n")
    assert parse_args(["--resume", str(run), "train.steps=6"]).train.resume == str(run)


def test_a_saved_config_does_not_carry_the_resume_flag(small_config, tmp_path):
    """A run's config.yaml passed back with --config must start a run, not resume one that is not there."""
    from hybrid.config import from_yaml

    out = tmp_path / "run"
    train(small_config())
    train(small_config("train.steps=6", "train.resume=latest"))
    for saved in (out / "config.yaml", out / "final" / "config.yaml", checkpoint.checkpoints(out)[-1] / "config.yaml"):
        assert from_yaml(saved).train.resume is None
    again = load_config([f"train.output_dir={tmp_path / 'again'}"], base=out / "config.yaml")
    assert train(again)["batches"] == 6


def test_resuming_from_a_pretrained_folder_points_to_init_from(small_config, tmp_path):
    train(small_config())
    final = tmp_path / "run" / "final"
    with pytest.raises(CheckpointError, match=f"{final} holds weights only.*train.init_from={final}"):
        train(small_config("train.steps=6", f"train.resume={final}", f"train.output_dir={tmp_path / 'branch'}"))


def test_resuming_an_older_checkpoint_sets_the_newer_ones_aside(small_config, tmp_path):
    out = tmp_path / "run"
    train(small_config("train.steps=6"))  # checkpoints 4 and 6
    newest = files(out / "checkpoints" / "step_00000006")
    train(small_config("train.steps=6", f"train.resume={out / 'checkpoints' / 'step_00000004'}"))
    assert (out / "checkpoints" / "step_00000006.superseded").is_dir()
    assert files(out / "checkpoints" / "step_00000006.superseded") == newest
    assert [c.name for c in checkpoint.checkpoints(out)] == ["step_00000004", "step_00000006"]  # the branch's own


def test_the_state_names_the_folder_its_checkpoint_was_written_to(tmp_path, monkeypatch):
    """RunState.save built the folder's path again by hand; it is what checkpoint.save returns."""
    written = []

    def save(accelerator, output_dir, step, *args):
        written.append(tmp_path / "where_save_wrote" / str(step))
        return written[-1]

    monkeypatch.setattr(hybrid.run_folder.checkpoint, "save", save)
    state = hybrid.run_folder.RunState(load_config([f"train.output_dir={tmp_path}"]), None, None, {"test": []}, {},
                                       None, {})
    assert state.save() == state.save() == tmp_path / "where_save_wrote" / "0" and len(written) == 1  # once a batch


def test_a_non_finite_loss_right_after_resuming_keeps_the_checkpoint_it_resumed_from(small_config, monkeypatch, tmp_path):
    out = tmp_path / "run"
    train(small_config("train.steps=2"))
    good = files(out / "checkpoints" / "step_00000002")
    monkeypatch.setattr(hybrid.supervision, "stablemax_cross_entropy", lambda logits, labels: logits.sum(-1) * float("nan"))
    with pytest.raises(FloatingPointError, match="step_00000002"):
        train(small_config("train.steps=4", "train.resume=latest"))
    assert files(out / "checkpoints" / "step_00000002") == good


def test_checkpoint_every_0_saves_at_the_end(small_config, tmp_path):
    train(small_config("train.steps=3", "train.checkpoint_every=0"))
    assert [c.name for c in checkpoint.checkpoints(tmp_path / "run")] == ["step_00000003"]
    assert trained_on.read(tmp_path / "run" / "checkpoints" / "step_00000003")["num_layers"] == 2  # the tiny BERT's


def test_resuming_with_a_changed_shape_is_a_config_error_and_moves_nothing(small_config, tmp_path):
    train(small_config())
    saved = checkpoint.checkpoints(tmp_path / "run")
    with pytest.raises(CheckpointMismatch, match=r"reasoner.hidden=64 \(the checkpoint's run: 32\)"):
        train(small_config("reasoner.hidden=64", "train.steps=6", "train.resume=latest"))
    assert checkpoint.checkpoints(tmp_path / "run") == saved  # not taken for damage, not moved aside


# Each setting of a resume that gives the model other parameter shapes (the run: 4x4 Sudoku, hidden 32, 2 layers,
# the mlp mixer, expansion 4, span pooling), and what the refusal names for it
SHAPE_RESUMES = [
    (["reasoner.mixer=attention"], [r"reasoner.mixer=attention \(the checkpoint's run: mlp\)"]),
    (["reasoner.hidden=64"], [r"reasoner.hidden=64 \(the checkpoint's run: 32\)"]),
    (["reasoner.expansion=2"], [r"reasoner.expansion=2.0 \(the checkpoint's run: 4.0\)"]),
    (["adapter.kind=query_attention"], [r"adapter.kind=query_attention \(the checkpoint's run: auto\)"]),
    # two at once are both named; a setting beside them that keeps the shapes (T, which a resume may change) is not
    (["reasoner.layers=3", "reasoner.hidden=64", "reasoner.T=3"],
     [r"reasoner.hidden=64 \(the checkpoint's run: 32\)", r"reasoner.layers=3 \(the checkpoint's run: 2\)"]),
]


def test_a_resume_that_changes_a_weight_shape_is_refused_before_any_puzzle_is_made(small_config, tmp_path,
                                                                                   monkeypatch):
    """reasoner.mixer=attention on an mlp run's --resume was found only as the checkpoint loaded, after the
    puzzles were generated and embedded (minutes on the default task), in load_state_dict's words ("Missing
    key(s) in state_dict: reasoner.net.0.mixer.out.weight ...") that named no setting, and advised
    train.init_from, which cannot take weights of other shapes either. Each setting is named now, the
    checkpoint's value beside it, before any data is made."""
    train(small_config())
    out, cache = tmp_path / "run", tmp_path / "cache"
    saved = checkpoint.checkpoints(out)
    shutil.rmtree(cache)
    monkeypatch.setattr(hybrid.train, "build_splits", lambda *a, **k: pytest.fail("puzzles made before the check"))
    for overrides, named in SHAPE_RESUMES:
        with pytest.raises(CheckpointMismatch) as refused:
            train(small_config("train.steps=6", "train.resume=latest", *overrides))
        said = str(refused.value)
        for setting in named:
            assert re.search(setting, said), said
        assert len(re.findall(r"\(the checkpoint's run: ", said)) == len(named), said
        assert "state_dict" not in said and "Missing key" not in said, said
        assert re.search(r"Resume with the checkpoint's values?, or train new weights without --resume "
                         r"\(train.init_from cannot take weights of another shape\)$", said), said
    assert not cache.exists() and checkpoint.checkpoints(out) == saved


def test_weights_of_another_version_of_the_model_still_fail_as_the_checkpoint_loads(small_config, tmp_path):
    """A tensor renamed (weights of another version of the code): no setting differs, so no setting can
    be named; loading names the tensor, as before. It advised train.init_from, which takes weights of the
    same shapes only, so fails on these too."""
    from safetensors.torch import save_file

    train(small_config())
    step = checkpoint.checkpoints(tmp_path / "run")[-1]
    state = load_file(step / "model.safetensors")
    state["head.proj.weight"] = state.pop("head.weight")
    save_file(state, step / "model.safetensors")
    checkpoint.write_manifest(step)  # intact files, of another version
    for overrides in ((), ("reasoner.T=3",)):  # a setting that keeps the shapes: not blamed
        with pytest.raises(CheckpointMismatch, match=r"does not fit the run this config builds.*head.proj.weight") \
                as refused:
            train(small_config("train.steps=6", "train.resume=latest", *overrides))
        assert "init_from" not in str(refused.value) and "without --resume" in str(refused.value)


def test_resume_takes_a_run_folder(small_config, tmp_path):
    train(small_config())  # into tmp_path/run
    other = small_config("train.steps=6", f"train.output_dir={tmp_path / 'branch'}", f"train.resume={tmp_path / 'run'}")
    results = train(other)
    assert results["batches"] == 6 and results["resumed_at"] == 4  # train_seconds: the 2 batches run here
    assert [c.name for c in checkpoint.checkpoints(tmp_path / "branch")] == ["step_00000006"]


def change_weights(folder: Path) -> None:
    """Save the tiny BERT in `folder` again with other weights (its word embeddings negated)."""
    from transformers import AutoModel

    model = AutoModel.from_pretrained(folder)
    with torch.no_grad():
        model.embeddings.word_embeddings.weight.mul_(-1.0)
    model.save_pretrained(folder)


def test_a_resume_on_a_backbone_folder_whose_weights_changed_warns(small_config, tiny_backbone, tmp_path):
    """The resume check sees only the config, whose backbone.path is the same: the weights there are
    compared with the record saved in the checkpoint."""
    folder = tmp_path / "bert"
    shutil.copytree(tiny_backbone("bert"), folder)
    train(small_config(f"backbone.path={folder}"))
    assert json.loads((tmp_path / "run" / "checkpoints" / "step_00000004" / "backbone.json").read_text())["id"] == str(folder)
    change_weights(folder)
    with pytest.warns(UserWarning, match=r"step_00000004 were trained on other backbone states than these: the files "
                                         r"model.safetensors of .*bert are not those it was trained on"):
        train(small_config(f"backbone.path={folder}", "train.steps=6", "train.resume=latest"))


def test_a_run_resumes_on_its_backbone_folder_moved_elsewhere_but_not_on_other_files(small_config, tiny_backbone,
                                                                                     tmp_path, monkeypatch):
    """The folder's files, not its path, are what the weights were fitted to: a moved folder is told
    where it is now (before anything is built), and only a folder holding the same files will do."""
    before, moved, other = tmp_path / "bert", tmp_path / "models" / "bert", tmp_path / "other"
    shutil.copytree(tiny_backbone("bert"), before)
    train(small_config(f"backbone.path={before}"))
    before.parent.joinpath("models").mkdir()
    before.rename(moved)
    built = []
    real_build = hybrid.train.build
    monkeypatch.setattr(hybrid.train, "build", lambda *args: built.append(1) or real_build(*args))
    with pytest.raises(ConfigError, match=rf"backbone folder {before} is not there .*resume with backbone.path="):
        train(small_config(f"backbone.path={before}", "train.steps=6", "train.resume=latest"))
    assert not built
    shutil.copytree(moved, other)
    change_weights(other)
    with pytest.raises(CheckpointMismatch, match=rf"backbone.path={other} \(the checkpoint's run: {before}; another "
                                                 r"folder must hold the same files\)"):
        train(small_config(f"backbone.path={other}", "train.steps=6", "train.resume=latest"))
    assert not built
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message=".*trained on other backbone states")
        assert train(small_config(f"backbone.path={moved}", "train.steps=6", "train.resume=latest"))["batches"] == 6
    assert f"path: {moved}" in (tmp_path / "run" / "config.yaml").read_text()  # the next resume finds it there


def test_a_checkpoint_without_a_record_of_its_backbone_files_says_to_put_a_moved_folder_back(small_config, tiny_backbone,
                                                                                            tmp_path, monkeypatch):
    """Checkpoints saved before backbone.json (older versions) cannot tell whether a folder elsewhere
    holds the files they trained on: the errors say so and how to resume (the folder, or a link to it,
    back in its place), instead of 'resume with backbone.path=<where it is now>', then refusing that
    folder because 'another folder must hold the same files' when it does."""
    before, moved = tmp_path / "bert", tmp_path / "models" / "bert"
    shutil.copytree(tiny_backbone("bert"), before)
    train(small_config(f"backbone.path={before}"))
    for saved in checkpoint.checkpoints(tmp_path / "run"):  # as an older version wrote them
        (saved / "backbone.json").unlink()
        checkpoint.write_manifest(saved)
    moved.parent.mkdir()
    before.rename(moved)
    built = []
    real_build = hybrid.train.build
    monkeypatch.setattr(hybrid.train, "build", lambda *args: built.append(1) or real_build(*args))
    unrecorded = rf"step_00000004 was saved by an older version without a record of its backbone's files.*put the " \
                 rf"backbone folder back at {before} \(or a symbolic link to it there\)"
    with pytest.raises(ConfigError, match=rf"backbone folder {before} is not there .*{unrecorded}"):
        train(small_config(f"backbone.path={before}", "train.steps=6", "train.resume=latest"))
    with pytest.raises(CheckpointMismatch, match=rf"cannot resume on backbone.path={moved}: the checkpoint .*{unrecorded}"):
        train(small_config(f"backbone.path={moved}", "train.steps=6", "train.resume=latest"))
    assert not built
    before.symlink_to(moved)  # what the errors say to do
    assert train(small_config(f"backbone.path={before}", "train.steps=6", "train.resume=latest"))["batches"] == 6


def test_branching_from_another_runs_checkpoint_moves_an_earlier_run_aside(small_config, tmp_path):
    """--resume <another folder's checkpoint> into a used output_dir starts a branch there: the
    earlier run moves aside whole instead of its checkpoints mixing with (and being pruned by) the branch's."""
    train(small_config())  # tmp_path/run: checkpoints 2 and 4
    branch = tmp_path / "branch"
    train(small_config("train.steps=2", f"train.output_dir={branch}"))  # an earlier run in the branch's folder
    earlier = {c.name: files(c) for c in checkpoint.checkpoints(branch)}
    resumed = small_config("train.steps=6", f"train.output_dir={branch}",
                           f"train.resume={tmp_path / 'run' / 'checkpoints' / 'step_00000004'}")
    assert train(resumed)["batches"] == 6
    assert [c.name for c in checkpoint.checkpoints(branch)] == ["step_00000006"]
    (moved,) = [p for p in tmp_path.iterdir() if p.name.startswith("branch-")]
    assert {c.name: files(c) for c in checkpoint.checkpoints(moved)} == earlier


def test_resuming_from_a_folder_that_is_not_there_says_what_to_give(tmp_path):
    said = (f"checkpoint folder {tmp_path / 'typo'} does not exist: give train.resume \\(--resume\\) a run folder, "
            f"one of its checkpoints/step_\\* folders, or latest")
    with pytest.raises(CheckpointError, match=said):
        checkpoint.resume_target(str(tmp_path / "typo"), tmp_path / "run")


def test_move_aside_never_overwrites(tmp_path):
    for _ in range(3):
        (tmp_path / "step_00000004").mkdir()
        checkpoint.move_aside(tmp_path / "step_00000004", "corrupt")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["step_00000004.corrupt", "step_00000004.corrupt-2",
                                                          "step_00000004.corrupt-3"]


def test_loading_weights_checks_the_checksums(small_config, tmp_path):
    from hybrid.inference import Hybrid

    train(small_config())
    saved = checkpoint.checkpoints(tmp_path / "run")[-1]
    ema = saved / "custom_checkpoint_1.pkl"  # the EMA: registered after the progress counter
    data = bytearray(ema.read_bytes())
    data[len(data) // 2] ^= 0xFF  # one flipped byte in the middle (tensor data): the file would still load
    ema.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match=f"{ema}.*damaged"):
        Hybrid.from_pretrained(saved)


def test_an_empty_saved_object_in_a_checkpoint_without_checksums_is_named_not_an_index_error(tmp_path):
    """A checkpoint from before checksums (nothing to verify) whose EMA file was left empty (a full
    disk): torch.load's EOFError has no message, and the error about it failed on its first line."""
    folder = tmp_path / "step_00000002"
    folder.mkdir()
    (folder / "custom_checkpoint_1.pkl").write_bytes(b"")
    with pytest.raises(CheckpointError, match=f"checkpoint {folder} is unreadable \\(EOFError"):
        checkpoint.read_weights(folder)


@pytest.mark.parametrize("manifest", ["[]", "null", '"sums"'])
def test_a_manifest_that_is_json_but_no_mapping_is_a_damaged_checkpoint(tmp_path, manifest):
    """An edited or overwritten checksums.json is named like an unreadable one, so `latest` falls
    back to an older checkpoint instead of stopping with an AttributeError."""
    folder = tmp_path / "step_00000002"
    folder.mkdir()
    (folder / "model.safetensors").write_bytes(b"weights")
    (folder / checkpoint.MANIFEST).write_text(manifest)
    with pytest.raises(CheckpointError, match=f"{folder / checkpoint.MANIFEST} is damaged"):
        checkpoint.verify(folder)


def test_file_hashes_read_in_chunks_without_python_3_11(tmp_path, monkeypatch):
    """Checkpoint checksums and backbone file digests: Python 3.10 has no hashlib.file_digest."""
    import hashlib

    from hybrid.backbone_files import file_digest

    monkeypatch.delattr(hashlib, "file_digest", raising=False)
    data = os.urandom(2 * 2**20 + 5)  # over two 1 MiB reads, the last one short
    (tmp_path / "weights").write_bytes(data)
    assert checkpoint.sha256(tmp_path / "weights") == hashlib.sha256(data).hexdigest()
    assert file_digest(tmp_path / "weights") == hashlib.sha256(data).hexdigest()[:16]


def test_a_second_run_in_the_same_output_dir_stops_and_leaves_the_first_alone(small_config, tmp_path, monkeypatch):
    """A sweep that varies a setting but not train.output_dir: the second run moved the first one's
    folder aside while it ran, and both went on writing into one folder."""
    import threading

    real, training, release = hybrid.train.supervise, threading.Event(), threading.Event()

    def held(*args, **kwargs):  # the first run's first batch waits until the second run has tried
        if not training.is_set():
            training.set()
            release.wait(60)
        return real(*args, **kwargs)

    monkeypatch.setattr(hybrid.train, "supervise", held)
    first = threading.Thread(target=train, args=(small_config(),))
    first.start()
    try:
        assert training.wait(60)
        out = re.escape(str(tmp_path / "run"))
        with pytest.raises(ConfigError, match=rf"train.output_dir={out} is in use by another run: "
                                              r".*its own train.output_dir"):
            train(small_config("reasoner.T=1"))
    finally:
        release.set()
        first.join()
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("run")) == ["run"]  # nothing moved aside
    assert json.loads((tmp_path / "run" / "metrics.json").read_text())["batches"] == 4  # the first run finished


def test_a_resume_of_a_missing_folder_says_so_while_another_run_holds_the_output_dir(small_config, tmp_path,
                                                                                      monkeypatch):
    """`--resume runs/maze` (a typo, or not there yet) while another run trained in the default output_dir was told
    that output_dir is in use by another run, not that runs/maze does not exist."""
    from hybrid.lock import Busy

    def busy(*args, **kwargs):
        raise Busy("another run")

    monkeypatch.setattr(hybrid.run_folder, "locked", busy)  # the default output_dir's lock, held by another run
    with pytest.raises(CheckpointError, match=f"checkpoint folder {re.escape(str(tmp_path / 'maze'))} does not exist"):
        train(small_config(f"train.resume={tmp_path / 'maze'}"))


def test_a_full_disk_while_checkpointing_names_the_folder_and_keeps_the_last_good_one(tmp_path, monkeypatch):
    from accelerate import Accelerator

    accelerator = Accelerator(cpu=True)
    accelerator.prepare(torch.nn.Linear(4, 4))
    config = load_config()
    checkpoint.save(accelerator, tmp_path, 1, config)
    good = checkpoint.checkpoints(tmp_path)[-1]

    def disk_full(folder, **kwargs):
        Path(folder).mkdir(parents=True)
        (Path(folder) / "optimizer.bin").write_bytes(b"PK partial")
        raise RuntimeError("[enforce fail at inline_container.cc:672] . unexpected pos 101952 vs 101844")  # torch's words

    monkeypatch.setattr(accelerator, "save_state", disk_full)
    with pytest.raises(OSError, match=r"could not write .*step_00000002 \(.* GiB free there\): .*unexpected pos.*"
                                      rf"Free space there.*continue from step_00000001 with --resume {tmp_path}$"):
        checkpoint.save(accelerator, tmp_path, 2, config)
    assert os.listdir(tmp_path / "checkpoints") == [good.name]  # the good one kept, the half-written one gone
    checkpoint.load(accelerator, good)


@pytest.mark.parametrize("full_at", ["final", "metrics.json"])
def test_a_full_disk_at_the_end_says_how_to_finish_and_resume_does(small_config, tmp_path, monkeypatch, full_at):
    import errno

    from safetensors import SafetensorError

    import hybrid.inference

    if full_at == "final":
        def save_file(state, path, **kwargs):
            Path(path).write_bytes(b"partial")
            raise SafetensorError("Error while serializing: I/O error: No space left on device (os error 28)")

        monkeypatch.setattr(hybrid.inference, "save_file", save_file)
    else:
        write_text = Path.write_text

        def cut_short(self, text, *args, **kwargs):
            if self.name.startswith("metrics.json"):
                write_text(self, text[:10])
                raise OSError(errno.ENOSPC, "No space left on device")
            return write_text(self, text, *args, **kwargs)

        monkeypatch.setattr(Path, "write_text", cut_short)
    out = tmp_path / "run"
    with pytest.raises(OSError, match=rf"could not write .*{full_at} \(.*No space left on device.*saved in "
                                      r".*step_00000002: .*--resume writes final/ and metrics.json"):
        train(small_config("train.steps=2"))
    assert not (out / "metrics.json").exists() and not [p for p in out.iterdir() if p.name.endswith(".tmp")]
    monkeypatch.undo()
    train(small_config("train.steps=2", "train.resume=latest"))
    assert json.loads((out / "metrics.json").read_text())["batches"] == 2 and (out / "final" / "model.safetensors").exists()


def test_an_output_dir_that_cannot_be_written_fails_before_data_and_embedding(small_config, monkeypatch):
    import errno
    import tempfile

    def read_only(*args, **kwargs):  # root ignores chmod, so the file system's answer is stood in for
        raise OSError(errno.EROFS, "Read-only file system")

    monkeypatch.setattr(tempfile, "TemporaryFile", read_only)
    monkeypatch.setattr(hybrid.train, "build", lambda *args: pytest.fail("built before the check"))
    with pytest.raises(ConfigError, match=r"train.output_dir=.*run: cannot write in .*Read-only file system.*writable"):
        train(small_config())


def test_an_output_dir_that_is_a_file_fails_before_data_and_embedding(small_config, tmp_path, monkeypatch):
    (tmp_path / "run").write_text("notes")  # a file where the run folder would go: it stays as it is
    monkeypatch.setattr(hybrid.train, "build", lambda *args: pytest.fail("built before the check"))
    with pytest.raises(ConfigError, match=r"train.output_dir=.*run is a file; name a folder"):
        train(small_config())
    assert (tmp_path / "run").read_text() == "notes"


def test_an_output_dir_below_a_file_names_the_file(small_config, tmp_path, monkeypatch):
    """Said as `cannot write in .../notes/a (Not a directory)`: a folder that is not there, not the file in the way."""
    (tmp_path / "notes").write_text("mine")
    monkeypatch.setattr(hybrid.train, "build", lambda *args: pytest.fail("built before the check"))
    with pytest.raises(ConfigError, match=rf"{tmp_path / 'notes'} is a file, not a folder"):
        train(small_config(f"train.output_dir={tmp_path / 'notes' / 'a' / 'run'}"))
    assert (tmp_path / "notes").read_text() == "mine"


def test_a_full_disk_while_checkpointing_is_one_error_line_from_the_command_line(tiny_backbone, tmp_path, monkeypatch,
                                                                                capsys):
    """`could not write ... Free space there ...` came at the end of an OSError traceback; from the
    command line it is now the one `error:` line (status 1), as a bad setting or checkpoint is."""
    def full(folder):
        raise OSError(27, "File too large")

    monkeypatch.setattr(checkpoint, "write_manifest", full)
    argv = ["task=sudoku", "task.size=4", "task.train_size=64", "task.test_size=16", "task.wordings=[0]",
            f"backbone.path={tiny_backbone()}", "reasoner.hidden=32", "reasoner.n=2", "reasoner.T=2", "reasoner.N_sup=2",
            "train.batch_size=16", "train.steps=2", "train.checkpoint_every=2", "train.tracker=null",
            "train.cpu_threads=1", f"train.output_dir={tmp_path / 'run'}", f"train.data_dir={tmp_path / 'cache'}"]
    with pytest.raises(SystemExit) as stopped:
        hybrid.train.main(argv)
    assert re.fullmatch(r"error: could not write .*step_00000002 \(.* free there\): .*File too large\. Free space there"
                        r".*then continue by running again", str(stopped.value.code))


def test_resuming_with_another_batch_size_is_an_error_that_points_to_grad_accum(small_config, tmp_path):
    """The checkpoint's place in its epoch is a batch count: read in batches of another size it
    replayed puzzles (2 batches of 8, resumed with batches of 4, trained on the second batch's 8 again)
    and moved every later epoch boundary. train.grad_accum splits the same global batch instead."""
    train(small_config())
    saved = checkpoint.checkpoints(tmp_path / "run")
    with pytest.raises(CheckpointMismatch, match=r"train.batch_size=8 \(the checkpoint's run: 16; "
                                                 r"train.grad_accum splits .*train.init_from"):
        train(small_config("train.batch_size=8", "train.steps=6", "train.resume=latest"))
    assert checkpoint.checkpoints(tmp_path / "run") == saved  # nothing moved aside
    assert train(small_config("train.grad_accum=2", "train.steps=6", "train.resume=latest"))["batches"] == 6


def test_a_resume_on_another_task_is_refused_before_data_and_embedding(small_config, monkeypatch):
    """task=sorting on a sudoku run's --resume: the weights' slots and classes mean another task's, which
    is new training from them (train.init_from). It was found only by load_state's size mismatch, after
    generating and embedding the other task's puzzles (minutes), and never named the task."""
    train(small_config())
    monkeypatch.setattr(hybrid.train, "build", lambda *args: pytest.fail("built before the check"))
    with pytest.raises(CheckpointMismatch, match=r"task.name=sorting \(the checkpoint's run: sudoku.*train.init_from"):
        train(small_config("train.steps=6", "train.resume=latest", "task=sorting", "task.train_size=64",
                           "task.test_size=16"))


def test_a_resume_on_a_task_of_another_shape_is_refused_before_data_and_embedding(small_config, monkeypatch):
    """task.size=6 on a 4x4 sudoku run's --resume: the weights answer 16 slots from 4 digits, the new task
    36 from 6. It was found only by load_state's size mismatch, after generating and embedding the new
    task's puzzles (minutes at real sizes), and the message named no setting."""
    train(small_config())
    monkeypatch.setattr(hybrid.train, "build", lambda *args: pytest.fail("built before the check"))
    with pytest.raises(CheckpointMismatch, match=r"task.size=6 \(the checkpoint's run: 4\) gives 36 answer slots "
                                                 r"\(the checkpoint's run: 16\), answer symbols 1 2 3 4 5 6 "
                                                 r"\(the checkpoint's run: 1 2 3 4\).*train.init_from"):
        train(small_config("train.steps=6", "train.resume=latest", "task.size=6"))
    monkeypatch.undo()  # a task setting that keeps the shape goes on
    assert train(small_config("train.steps=6", "train.resume=latest", "task.givens=10"))["batches"] == 6


def test_weights_of_another_task_shape_are_refused_before_data_and_embedding(small_config, tmp_path, monkeypatch):
    """train.init_from with weights of a 4x4 sudoku run on a 6x6 one: strict loading found the shapes
    differ only after the new task's puzzles were generated and embedded."""
    train(small_config("train.steps=1", f"train.output_dir={tmp_path / 'first'}"))
    monkeypatch.setattr(hybrid.train, "build", lambda *args: pytest.fail("built before the check"))
    with pytest.raises(ConfigError, match=r"train.init_from=.*first.*task.size=6 \(its run: 4\) gives 36 answer "
                                          r"slots \(its run: 16\), answer symbols 1 2 3 4 5 6 \(its run: 1 2 3 4\)\."):
        train(small_config("train.steps=1", "task.size=6", f"train.init_from={tmp_path / 'first'}"))


def test_init_from_weights_of_another_model_shape_are_refused_before_data_and_embedding(small_config, tmp_path,
                                                                                       monkeypatch):
    """train.init_from with weights of a hidden-32 mlp run under reasoner.hidden=64 (or the attention mixer)
    was found only by strict loading, after the puzzles were generated and embedded, in load_state_dict's
    words. Each setting is named now beside its run's value; a setting that keeps the shapes goes on."""
    train(small_config("train.steps=1", f"train.output_dir={tmp_path / 'first'}"))
    monkeypatch.setattr(hybrid.train, "build", lambda *args: pytest.fail("built before the check"))
    for overrides, named in SHAPE_RESUMES:
        with pytest.raises(ConfigError) as refused:
            train(small_config("train.steps=1", f"train.init_from={tmp_path / 'first'}", *overrides))
        said = str(refused.value)
        assert said.startswith(f"train.init_from={tmp_path / 'first'}"), said
        for setting in named:
            assert re.search(setting.replace("the checkpoint's run", "its run"), said), said
        assert len(re.findall(r"\(its run: ", said)) == len(named), said
        assert said.endswith("or leave out train.init_from to train new weights"), said
    monkeypatch.undo()
    assert train(small_config("train.steps=1", "reasoner.T=3", f"train.init_from={tmp_path / 'first'}"))["batches"] == 1


def test_init_from_settings_that_change_shapes_only_together_are_named_together(small_config, tmp_path,
                                                                              monkeypatch):
    """reasoner.hidden=30 with reasoner.heads=5 from an attention run of 32 and 4: neither builds a model
    beside the other's trained value, so neither was named, and loading failed after the data was built."""
    attention = ("reasoner.mixer=attention",)  # beside span pooling (sudoku), which splits no heads
    train(small_config("train.steps=1", *attention, f"train.output_dir={tmp_path / 'first'}"))
    monkeypatch.setattr(hybrid.train, "build", lambda *args: pytest.fail("built before the check"))
    with pytest.raises(ConfigError, match=r"other shapes than the model this config builds: reasoner.hidden=30 \(its "
                                          r"run: 32\); reasoner.heads=5 \(its run: 4\)\. Start from them with those"):
        train(small_config("train.steps=1", *attention, "reasoner.hidden=30", "reasoner.heads=5",
                           f"train.init_from={tmp_path / 'first'}"))


def test_a_resume_that_turns_on_fp16_starts_a_fresh_gradient_scaler(small_config, monkeypatch, request):
    """train.mixed_precision=fp16 on a GPU scales the loss with a GradScaler, whose state Accelerate
    saves and loads; a checkpoint of a run without it has none, and loading it was taken for a
    checkpoint of another shape. It starts at its initial scale, as a new fp16 run's (a CPU, which
    skips fp16, gets a scaler here to stand for the GPU's)."""
    from accelerate.state import AcceleratorState
    from accelerate.utils import SCALER_NAME

    from hybrid import launch

    reset = lambda: AcceleratorState._reset_state(reset_partial_state=True)  # noqa: E731 (one precision per state)
    request.addfinalizer(reset)
    train(small_config("train.steps=2"))
    reset()
    real = launch.accelerator_for

    def with_scaler(config):
        accelerator = real(config)
        accelerator.scaler = torch.amp.GradScaler("cpu")
        return accelerator

    monkeypatch.setattr(launch, "accelerator_for", with_scaler)
    resumed = train(small_config("train.steps=4", "train.resume=latest", "train.mixed_precision=fp16"))
    assert resumed["batches"] == 4
    assert (checkpoint.checkpoints(Path(small_config().train.output_dir))[-1] / SCALER_NAME).exists()


@pytest.mark.parametrize("full_at", ["config.yaml", "splits.json"])
def test_a_full_disk_as_a_resume_starts_keeps_the_runs_files_and_is_one_error(small_config, tmp_path, monkeypatch,
                                                                             full_at):
    """The run's config.yaml and splits.json were rewritten in place as a run started: a full disk left
    them cut short (a resume's, the record of the run) and ended in an OSError traceback."""
    import errno

    train(small_config("train.steps=2"))
    out = tmp_path / "run"
    before = (out / full_at).read_bytes()
    write_text = Path.write_text

    def cut_short(self, text, *args, **kwargs):
        if self.parent == out and self.name.startswith(full_at):
            write_text(self, text[:10])
            raise OSError(errno.ENOSPC, "No space left on device")
        return write_text(self, text, *args, **kwargs)

    monkeypatch.setattr(Path, "write_text", cut_short)
    with pytest.raises(checkpoint.Unwritable, match=rf"could not write .*run/{full_at} \(.*No space left on device"):
        train(small_config("train.steps=4", "train.resume=latest"))
    assert (out / full_at).read_bytes() == before  # config.yaml written first is the resume's: its start's settings
    assert not [p for p in out.iterdir() if p.name.endswith(".tmp")]


def test_resuming_a_run_folder_with_final_weights_but_no_checkpoints_points_to_init_from(small_config, tmp_path):
    """A run folder whose checkpoints/ was removed to save room: the error said to give a run folder,
    which it is."""
    train(small_config("train.steps=2"))
    shutil.rmtree(tmp_path / "run" / "checkpoints")
    with pytest.raises(CheckpointError, match=r"run holds no checkpoints/ to resume from.*train.init_from=.*run/final"):
        checkpoint.resume_target(str(tmp_path / "run"), tmp_path / "other")
