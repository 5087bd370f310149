"""Reading a run folder that a training run is still writing (evaluating a run as it trains,
init_from or resume from it): the run keeps only its newest train.keep_checkpoints checkpoints
and deletes the one a reader picked. The interleavings are made by hand, at the moment each
reader would meet them."""

import shutil
from pathlib import Path

import pytest

import hybrid.inference
import hybrid.train
from eval import HarnessError
from eval.__main__ import evaluate_run
from hybrid import checkpoint, inference, run_folder
from hybrid.checkpoint import CheckpointError
from hybrid.inference import Hybrid
from hybrid.train import train


@pytest.fixture(scope="module")
def trained_once(small_config_under, tmp_path_factory):
    """The run training_run hands out, trained once for the module: (its config, the folder that
    holds run/ and cache/ as training left them, a pristine copy of that folder)."""
    folder = tmp_path_factory.mktemp("concurrent") / "work"
    config = small_config_under(folder)("train.keep_checkpoints=0")
    train(config)
    run = Path(config.train.output_dir)
    shutil.rmtree(run / "final")
    (run / "metrics.json").unlink()
    pristine = folder.with_name("pristine")
    shutil.copytree(folder, pristine)
    return config, folder, pristine


@pytest.fixture
def training_run(trained_once):
    """A run folder as it is mid-training (checkpoints step_2 and step_4, no final/ yet), and
    `save_next()`: what the run does next, save step_6 (a copy of step_4) and delete step_4
    (train.keep_checkpoints=1). Tests change the folder (checkpoints deleted, damaged, runs made
    beside it): each gets a fresh copy of the run trained once, at the path it was trained at (its
    saved config names that path)."""
    config, folder, pristine = trained_once
    shutil.rmtree(folder, ignore_errors=True)
    shutil.copytree(pristine, folder)
    run = Path(config.train.output_dir)

    def save_next():
        newest = checkpoint.checkpoints(run)[-1]
        shutil.copytree(newest, newest.with_name(f"step_{checkpoint.step_of(newest) + 2:08d}"))
        shutil.rmtree(newest)

    return config, run, save_next


def saving_during(monkeypatch, module, name: str, save_next, times: int = 1):
    """`module.name` (a step that takes a while: loading the backbone, reading weights), with the
    training run saving a checkpoint as it starts, the first `times` times it is called."""
    original, calls = getattr(module, name), []

    def slow(*args, **kwargs):
        calls.append(args[0])
        if len(calls) <= times:
            save_next()
        return original(*args, **kwargs)

    monkeypatch.setattr(module, name, slow)
    return calls


def test_from_pretrained_keeps_the_checkpoint_it_read_while_the_backbone_loads(training_run, monkeypatch):
    config, run, save_next = training_run
    saving_during(monkeypatch, inference, "backbone_named_in", save_next)
    solver = Hybrid.from_pretrained(run)  # was: "checkpoint .../step_00000004 is unreadable (FileNotFoundError ...)"
    assert solver.config.train.output_dir == config.train.output_dir


def test_a_checkpoint_deleted_while_read_is_read_again_at_the_runs_newest(training_run, monkeypatch):
    _, run, save_next = training_run
    calls = saving_during(monkeypatch, checkpoint, "read_weights", save_next)
    saved = inference.read_saved(run)
    assert [folder.name for folder in calls] == ["step_00000004", "step_00000006"]
    assert saved.folder.name == "step_00000006" and saved.weights[1].startswith("ema") and saved.record is not None


def test_a_checkpoint_deleted_just_after_its_weights_are_read_keeps_its_record(training_run, monkeypatch):
    _, run, save_next = training_run
    read = checkpoint.read_weights

    def then_rotated(folder, ema=True):
        weights = read(folder, ema)
        save_next()
        return weights

    monkeypatch.setattr(checkpoint, "read_weights", then_rotated)
    saved = inference.read_saved(run)
    assert saved.folder.name == "step_00000004" and saved.record is not None  # was: record None, read after the weights


def test_a_checkpoint_half_deleted_while_read_is_read_again_at_the_runs_newest(training_run, monkeypatch):
    """Where a folder with open files cannot be removed at once (Windows, NFS), a reader finds it
    still there without some of its files: the run has a newer one, so that is read instead."""
    _, run, _ = training_run

    def half_deleted():
        newest = checkpoint.checkpoints(run)[-1]
        shutil.copytree(newest, newest.with_name("step_00000006"))
        (newest / "model.safetensors").unlink()

    calls = saving_during(monkeypatch, checkpoint, "read_weights", half_deleted)
    assert inference.read_saved(run).folder.name == "step_00000006"
    assert [folder.name for folder in calls] == ["step_00000004", "step_00000006"]


def test_a_run_saving_faster_than_it_is_read_is_an_error_after_a_few_tries(training_run, monkeypatch):
    _, run, save_next = training_run
    calls = saving_during(monkeypatch, checkpoint, "read_weights", save_next, times=100)
    with pytest.raises(CheckpointError, match="deleted while they were read, 5 times.*copy of its newest"):
        inference.read_saved(run)
    assert len(calls) == 5


def test_a_named_checkpoint_deleted_while_read_is_an_error_saying_so(training_run, monkeypatch):
    _, run, save_next = training_run
    named = checkpoint.checkpoints(run)[-1]
    saving_during(monkeypatch, checkpoint, "read_weights", save_next)
    with pytest.raises(CheckpointError, match="step_00000004 was deleted while it was read.*copy the checkpoint"):
        inference.read_saved(named)


def test_a_named_checkpoint_deleted_while_its_files_are_checked_says_so_without_a_missing_files_advice(
        training_run, monkeypatch):
    """Deleted between its manifest and its files' checksums, a file of it is "missing": the error says
    the folder went, not also "copy it again from where it came from" (a missing file's own advice)."""
    _, run, save_next = training_run
    named = checkpoint.checkpoints(run)[-1]
    saving_during(monkeypatch, checkpoint, "sha256", save_next)
    with pytest.raises(CheckpointError, match=r"step_00000004 was deleted while it was read \(.* is missing\)\. ") \
            as err:
        inference.read_saved(named)
    assert "copy it again" not in str(err.value)


def test_a_damaged_checkpoint_is_its_own_error_not_read_again(training_run, monkeypatch):
    _, run, _ = training_run
    (checkpoint.checkpoints(run)[-1] / "model.safetensors").write_bytes(b"cut")
    calls = saving_during(monkeypatch, checkpoint, "read_weights", lambda: None, times=0)
    with pytest.raises(CheckpointError, match="model.safetensors is damaged"):
        inference.read_saved(run)
    assert len(calls) == 1


def test_a_file_deleted_while_its_checksum_is_computed_is_named_missing(training_run, monkeypatch):
    _, run, _ = training_run
    newest, digest = checkpoint.checkpoints(run)[-1], checkpoint.sha256

    def deleted_first(path):
        path.unlink()
        return digest(path)

    monkeypatch.setattr(checkpoint, "sha256", deleted_first)
    with pytest.raises(CheckpointError, match="is missing"):  # was: a raw FileNotFoundError
        checkpoint.verify(newest)


def test_evaluating_a_run_as_it_trains_scores_the_checkpoint_it_read(training_run, monkeypatch, tmp_path):
    _, run, save_next = training_run
    saving_during(monkeypatch, hybrid.inference, "backbone_named_in", save_next)
    # was: "config file .../step_00000004/config.yaml does not exist", or the checkpoint "is unreadable"
    report = evaluate_run(run, out=tmp_path / "report", device="cpu")
    assert report["checkpoint"].endswith("step_00000004") and report["weights"].startswith("ema")


def test_init_from_a_run_as_it_trains_reads_its_weights_before_building(training_run, small_config, monkeypatch):
    _, run, save_next = training_run
    saving_during(monkeypatch, hybrid.train, "build", save_next)  # data and embedding take minutes
    results = train(small_config(f"train.init_from={run}", "train.steps=1", f"train.output_dir={run.parent / 'ft'}"))
    assert results["batches"] == 1


def test_a_branch_from_a_run_as_it_trains_reads_the_config_of_its_newest_checkpoint(training_run, monkeypatch):
    _, run, save_next = training_run
    calls = saving_during(monkeypatch, run_folder, "read_config", save_next)
    # was: None (the checkpoint found was deleted before its config.yaml was read), so the branch
    # went on with the command line's settings alone
    resumed = run_folder.saved_config_to_resume([f"train.resume={run}", f"train.output_dir={run.parent / 'b'}"])
    read = [file.parent.name for file in calls if file.parent.parent.name == "checkpoints"]  # not the run's own
    assert read == ["step_00000004", "step_00000006"]
    assert resumed is not None and resumed.train.output_dir == str(run.parent / "b")


def test_a_branch_whose_checkpoint_the_run_deletes_while_it_loads_says_so(training_run, small_config, monkeypatch):
    """Not 'no checkpoint could be loaded' after calling each of the run's checkpoints damaged."""
    _, run, save_next = training_run
    saving_during(monkeypatch, checkpoint, "load", save_next)
    with pytest.raises(CheckpointError, match="step_00000004 was deleted while it was loaded.*Resume again"):
        train(small_config(f"train.resume={run}", f"train.output_dir={run.parent / 'b'}", "train.steps=6"))
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == ["step_00000002", "step_00000006"]  # none .corrupt


def test_a_run_moved_aside_while_evaluated_takes_its_report_with_it(small_config, monkeypatch):
    """A new training run given the same train.output_dir moves the run being evaluated aside (to
    `<output_dir>-<when it started>`): the report goes with the run it scores. It went to the new
    run's folder, as that run's, its `checkpoint` naming the new run's final/."""
    import eval.runner  # predict, imported by evaluate_run when it runs

    config = small_config()
    train(config)
    run = Path(config.train.output_dir)
    scoring, new_runs = eval.runner.predict, []

    def new_run_meanwhile(*args, **kwargs):
        if not new_runs:  # marked before it trains: the new run's own evaluations call eval.runner.predict too
            new_runs.append("started")
            train(small_config("train.steps=2"))
        return scoring(*args, **kwargs)

    monkeypatch.setattr(eval.runner, "predict", new_run_meanwhile)
    report = evaluate_run(run, device="cpu")
    [moved] = run.parent.glob("run-*")
    assert report["report"] == str(moved / "eval" / "test" / "report.json") and Path(report["report"]).is_file()
    assert report["run"] == str(moved) and report["checkpoint"] == str(moved / "final")
    assert not (run / "eval").exists() and (run / "final").is_dir()  # the new run's folder: its own files alone


def test_a_run_deleted_while_evaluated_gets_no_report_in_its_place(small_config, monkeypatch):
    """Not moved aside beside it (deleted, or moved by hand): no report is written where it was, which
    made a folder holding only eval/ (or filed it under whatever is there now)."""
    import eval.runner  # predict, imported by evaluate_run when it runs

    config = small_config()
    train(config)
    run = Path(config.train.output_dir)
    scoring = eval.runner.predict

    def deleted_meanwhile(*args, **kwargs):
        shutil.rmtree(run, ignore_errors=True)
        return scoring(*args, **kwargs)

    monkeypatch.setattr(eval.runner, "predict", deleted_meanwhile)
    with pytest.raises(HarnessError, match="moved or deleted while it was evaluated"):
        evaluate_run(run, device="cpu")
    assert not run.exists()


@pytest.mark.parametrize("meanwhile", ["moved aside", "deleted"])
def test_a_run_moved_or_deleted_while_evaluated_still_gets_the_report_asked_for_elsewhere(small_config, monkeypatch,
                                                                                          tmp_path, meanwhile):
    """With --out outside the run, the run's going does not touch the report's folder: the report
    is written there, naming the run where it is now (moved aside), or where it was (deleted). Only
    a report meant for the run's own folder is refused when the run is gone."""
    import eval.runner  # predict, imported by evaluate_run when it runs

    config = small_config()
    train(config)
    run = Path(config.train.output_dir)
    moved = run.with_name("run-20260101-000000")  # where a new run in train.output_dir would move it
    scoring = eval.runner.predict

    def gone_meanwhile(*args, **kwargs):
        if run.exists() and meanwhile == "deleted":
            shutil.rmtree(run)
        elif run.exists():
            run.rename(moved)
        return scoring(*args, **kwargs)

    monkeypatch.setattr(eval.runner, "predict", gone_meanwhile)
    report = evaluate_run(run, out=tmp_path / "report", device="cpu")
    assert report["report"] == str(tmp_path / "report" / "report.json") and Path(report["report"]).is_file()
    now = moved if meanwhile == "moved aside" else run
    assert report["run"] == str(now) and report["checkpoint"] == str(now / "final")
    assert not run.exists()
