"""Whole training runs on the CPU with tiny models: checkpoints, resume, errors, backbones."""

import json
import re
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from hybrid import checkpoint
from hybrid.checkpoint import CheckpointError
from hybrid.config import ConfigError
from hybrid.run_folder import run_lock
from hybrid.train import train


@pytest.mark.parametrize("given", [["train.steps=3"], "configs/default.yaml", None])
def test_train_given_no_config_says_how_to_make_one(given):
    """From Python: a list of overrides or a file was "'list' object has no attribute 'train'"."""
    with pytest.raises(TypeError, match=re.escape("train takes a Config: train(load_config([")):
        train(given)


def test_short_run_writes_checkpoints_and_resume_continues(small_config):
    config = small_config()
    first = train(config)
    out = Path(config.train.output_dir)
    saved = checkpoint.checkpoints(out)
    assert [p.name for p in saved] == ["step_00000002", "step_00000004"]
    assert (saved[-1] / "config.yaml").exists()
    assert json.loads((out / "metrics.json").read_text())["batches"] == 4
    assert 0.0 <= first["test"]["exact_accuracy"] <= 1.0
    assert len(first["test"]["exact_curve"]) == config.reasoner.N_sup
    # safetensors 0.8 writes its files 0600 whatever the umask: the weights, final/ and the checkpoints',
    # must be as readable as metrics.json beside them, or no colleague can evaluate the run
    weights = {p.relative_to(out).as_posix(): stat.S_IMODE(p.stat().st_mode) for p in out.rglob("*.safetensors")}
    usual = stat.S_IMODE((out / "metrics.json").stat().st_mode)
    assert weights == dict.fromkeys(["checkpoints/step_00000002/model.safetensors",
                                     "checkpoints/step_00000004/model.safetensors", "final/model.safetensors"], usual)

    resumed = train(small_config("train.steps=6", "train.resume=latest"))
    assert resumed["batches"] == 6
    assert [p.name for p in checkpoint.checkpoints(out)] == ["step_00000004", "step_00000006"]


def test_a_resume_that_cuts_other_splits_says_so_and_records_both(small_config, recwarn):
    """A task override on resume (task.train_size) draws another training split: the resumed run
    warns and records both splits' folders for evaluation; a plain resume does neither."""
    from hybrid.splits_record import recorded_splits

    config = small_config()
    train(config)
    [first] = recorded_splits(Path(config.train.output_dir))
    train(small_config("train.steps=5", "train.resume=latest"))
    assert recorded_splits(Path(config.train.output_dir)) == [first]
    assert not [w for w in recwarn if "puzzle splits changed" in str(w.message)]
    with pytest.warns(UserWarning, match=f"changed since the checkpoint this run resumes: it trained on the splits in "
                                         f"{first.name}, this config cuts sudoku-"):
        train(small_config("train.steps=6", "train.resume=latest", "task.train_size=48"))
    earlier, now = recorded_splits(Path(config.train.output_dir))
    assert earlier == first and now.name != first.name and now.is_dir()
    recwarn.clear()
    train(small_config("train.steps=7", "train.resume=latest", "task.train_size=48"))  # on the splits it resumes
    assert not [w for w in recwarn if "puzzle splits changed" in str(w.message)]
    assert recorded_splits(Path(config.train.output_dir)) == [earlier, now]


def test_the_final_evaluation_after_a_resume_on_other_splits_leaves_the_earlier_training_puzzles_out(tmp_path, capsys):
    """Sorting 3 numbers of 0-5 is a small puzzle space: resumed on train.seed=1, the new test split
    holds puzzles the first batches trained on (7 of 32). The run's own final evaluation scored them
    as held out; it leaves them out as `python -m eval` does, and says how many."""
    from eval.tasks import make_task
    from hybrid.config import load_config
    from hybrid.data import examples, read_splits
    from hybrid.splits_record import recorded_splits

    def config(*overrides):
        return load_config(["task=sorting", "task.length=3", "task.high=5", "task.train_size=128", "task.test_size=32",
                            "backbone=chars", "reasoner.hidden=32", "reasoner.n=1", "reasoner.T=1", "reasoner.N_sup=2",
                            "train.batch_size=16", "train.eval_every=0", "train.checkpoint_every=2", "train.warmup=0",
                            "train.tracker=null", "train.cpu_threads=1", f"train.output_dir={tmp_path / 'run'}",
                            f"train.data_dir={tmp_path / 'cache'}", *overrides])

    train(config("train.steps=2"))
    with pytest.warns(UserWarning, match="puzzle splits changed since the checkpoint"):
        results = train(config("train.steps=4", "train.resume=latest", "train.seed=1", "train.eval_every=3"))
    first, now = recorded_splits(tmp_path / "run")
    task = make_task(config().task)
    trained_first = {task.puzzle_key(e) for e in examples(read_splits(first)["train"])}
    tested = [task.puzzle_key(e) for e in examples(read_splits(now)["test"])]
    left_out = sum(key in trained_first for key in tested)
    assert left_out > 0  # else the test shows nothing
    assert results["test"]["trained_puzzles_left_out"] == left_out
    assert results["test"]["num_puzzles"] == 32 - left_out
    saved = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert saved["test"]["trained_puzzles_left_out"] == left_out
    assert f"({32 - left_out} puzzles)" in capsys.readouterr().out


def test_a_resume_from_a_moved_data_dir_is_not_taken_for_other_splits(small_config, tmp_path, recwarn):
    """Splits' folders are compared by name (their content), not by place: resumed with train.data_dir
    where it has moved to, the run neither warns that its data changed nor records the old place as
    splits trained on before."""
    from hybrid.splits_record import recorded_splits

    train(small_config())
    [first] = recorded_splits(tmp_path / "run")
    (tmp_path / "cache").rename(tmp_path / "moved")
    train(small_config("train.steps=5", "train.resume=latest", f"train.data_dir={tmp_path / 'moved'}"))
    assert not [w for w in recwarn if "puzzle splits changed" in str(w.message)]
    assert recorded_splits(tmp_path / "run") == [tmp_path / "moved" / "datasets" / first.name]


def test_weights_started_in_place_from_the_run_they_move_aside_keep_its_splits_on_record(small_config):
    """train.init_from the final/ of the run in train.output_dir: that run is moved aside when the new
    one claims the folder, so its splits.json is read before, and the new run records its splits as
    trained on before (read after, from a folder no longer there, they would be lost)."""
    from hybrid.splits_record import recorded_splits

    config = small_config("train.steps=1")
    out = Path(config.train.output_dir)
    train(config)
    [first] = recorded_splits(out)
    train(small_config("train.steps=1", "task.train_size=48", f"train.init_from={out / 'final'}"))
    earlier, now = recorded_splits(out)
    assert earlier == first and now.name != first.name


@pytest.mark.parametrize("resume", ["run", "checkpoint"])
def test_a_branch_on_other_splits_records_the_splits_of_the_run_it_branches_from(small_config, tmp_path, resume):
    """--resume RUN (or one of its checkpoints) train.output_dir=BRANCH on other splits: the
    branch's record holds the splits the run it branches from trained on, then its own."""
    from hybrid.splits_record import recorded_splits

    train(small_config())
    [first] = recorded_splits(tmp_path / "run")
    source = tmp_path / "run" if resume == "run" else checkpoint.checkpoints(tmp_path / "run")[0]
    with pytest.warns(UserWarning, match=f"it trained on the splits in {first.name}"):
        train(small_config("train.steps=6", f"train.resume={source}", "task.train_size=48",
                           f"train.output_dir={tmp_path / 'branch'}"))
    earlier, now = recorded_splits(tmp_path / "branch")
    assert earlier == first and now.name != first.name
    assert recorded_splits(tmp_path / "run") == [first]  # the run branched from keeps its own


def test_a_branch_from_a_checkpoint_older_than_a_data_change_records_only_what_it_trained_on(small_config, recwarn):
    """splits.json is the run's, but a checkpoint saved before a resume on other splits trained on
    the first only: a branch back from it on the first data is not a data change (no warning), and
    its record holds no splits its weights never trained on (evaluation would leave out their
    puzzles from a test split that does hold them out)."""
    from hybrid.splits_record import recorded_splits

    config = small_config("train.steps=2", "train.checkpoint_every=1", "train.keep_checkpoints=0")
    out = Path(config.train.output_dir)
    train(config)
    [first] = recorded_splits(out)
    with pytest.warns(UserWarning, match="puzzle splits changed since the checkpoint"):
        train(small_config("train.steps=3", "train.checkpoint_every=1", "train.keep_checkpoints=0",
                           "train.resume=latest", "task.train_size=48"))
    recwarn.clear()
    train(small_config("train.steps=3", "train.checkpoint_every=1", "train.keep_checkpoints=0",
                       f"train.resume={out / 'checkpoints' / 'step_00000002'}"))
    assert not [w for w in recwarn if "puzzle splits changed" in str(w.message)]
    assert recorded_splits(out) == [first]


def test_a_final_folder_holding_other_files_says_to_move_them_not_to_free_space(small_config):
    """Its error advised "with room there, --resume writes final/", which failed the same way every time."""
    train(small_config())
    out = Path(small_config().train.output_dir)
    (out / "final" / "notes.txt").write_text("mine")
    moved = r"holds other files .*\(notes.txt\).* saved in .*step_00000006: once what is at final/ now is moved away"
    with pytest.raises(checkpoint.Unwritable, match=moved + ", the same command with --resume"):
        train(small_config("train.steps=6", "train.resume=latest"))
    assert (out / "final" / "notes.txt").read_text() == "mine"
    (out / "final" / "notes.txt").unlink()
    assert train(small_config("train.steps=6", "train.resume=latest"))["batches"] == 6


def test_resumed_state_matches_the_saved_model(small_config):
    """Save then load gives identical logits: the checkpoint restores the trained weights."""
    from accelerate import Accelerator

    from hybrid.train import build

    config = small_config()
    train(config)
    accelerator = Accelerator(cpu=True)
    _, _, tensors, model_a, _ = build(config, accelerator)
    _, _, _, model_b, _ = build(config, accelerator)
    state = checkpoint.checkpoints(config.train.output_dir)[-1] / "model.safetensors"
    from safetensors.torch import load_file

    model_a.load_state_dict(load_file(state))
    model_b.load_state_dict(load_file(state))
    states, mask, slots, labels, _ = tensors["test"][:4]
    outs = []
    for model in (model_a, model_b):
        carry = model.initial_carry(4, labels.shape[1], "cpu")
        outs.append(model(states.float(), mask, slots.long(), carry.y, carry.z).logits)
    assert torch.equal(outs[0], outs[1])
    fresh = build(config, accelerator)[3]
    carry = fresh.initial_carry(4, labels.shape[1], "cpu")
    assert not torch.equal(fresh(states.float(), mask, slots.long(), carry.y, carry.z).logits, outs[0])


def test_corrupt_checkpoint_is_a_clear_error_and_loses_nothing(small_config):
    config = small_config()
    train(config)
    newest = checkpoint.checkpoints(config.train.output_dir)[-1]
    (newest / "model.safetensors").write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match=str(newest / "model.safetensors")):  # `latest` would fall back instead
        train(small_config("train.steps=6", f"train.resume={newest}"))
    assert len(checkpoint.checkpoints(config.train.output_dir)) == 2  # nothing deleted


def test_a_model_setting_that_cannot_work_fails_before_the_embedding(small_config, monkeypatch):
    """The model is built from the backbone's width before the splits are embedded (minutes for a
    large backbone on a cold cache), so a setting no model can take stops the run first."""
    import hybrid.train

    monkeypatch.setattr(hybrid.train, "backbone_inputs", lambda *args: pytest.fail("embedded before the model was built"))
    with pytest.raises(ConfigError, match="adapter.heads=3 must divide reasoner.hidden=32"):
        train(small_config("adapter.kind=query_attention", "adapter.heads=3"))


def test_a_batch_larger_than_the_training_set_fails_before_the_backbone_loads(small_config, monkeypatch):
    """The splits' size is known once they exist; loading a backbone and embedding them (minutes
    for a large one) would be spent on a run that cannot take one batch."""
    import hybrid.train

    monkeypatch.setattr(hybrid.train, "load_for", lambda *args: pytest.fail("loaded the backbone first"))
    with pytest.raises(ConfigError, match=r"train.batch_size=128 is larger than the training set \(64 puzzles\)"):
        train(small_config("train.batch_size=128"))


def interrupt(stop: str):
    """Ctrl-C as Python raises it, or a real SIGTERM to this process (its handler runs at os.kill)."""
    import os
    import signal

    if stop == "sigterm":
        os.kill(os.getpid(), signal.SIGTERM)
    raise KeyboardInterrupt


STOPS = pytest.mark.parametrize("stop,name,status", [("ctrl_c", "Ctrl-C", 130), ("sigterm", "SIGTERM", 143)])


@STOPS
def test_ctrl_c_or_sigterm_before_training_starts_is_one_line(small_config, monkeypatch, tmp_path, capsys, stop, name,
                                                              status):
    """Ctrl-C while the data is embedded (before the loop, whose Ctrl-C saves a checkpoint) was a
    KeyboardInterrupt traceback, and SIGTERM ended the run without a word. Now each says training had
    not started, that nothing was saved and where the data made so far stays, and exits with 130 or 143."""
    import signal

    import hybrid.train

    handler = signal.getsignal(signal.SIGTERM)
    monkeypatch.setattr(hybrid.train, "backbone_inputs", lambda *args: interrupt(stop))
    with pytest.raises(KeyboardInterrupt):  # in Python (a notebook) still an interrupt, not an exit
        train(small_config())
    monkeypatch.setattr(hybrid.train, "parse_args", lambda argv: small_config())
    with pytest.raises(SystemExit) as stopped:  # the command exits as a shell reports that signal
        hybrid.train.main([])
    assert stopped.value.code == status
    said = capsys.readouterr().err.strip().splitlines()[-1]
    assert said == (f"{name}: stopped before training started, no checkpoint saved; the puzzle splits and backbone "
                    f"states made so far stay in {tmp_path / 'cache'} for the next run")
    assert signal.getsignal(signal.SIGTERM) is handler  # as it was before the run
    assert not (tmp_path / "run" / "checkpoints").exists()
    assert any((tmp_path / "cache").rglob("dataset_dict.json"))  # the splits generated before the Ctrl-C


@STOPS
def test_ctrl_c_or_sigterm_during_the_final_evaluation_says_the_state_is_saved_and_resume_finishes(
        small_config, monkeypatch, tmp_path, capsys, stop, name, status):
    """Ctrl-C in the final evaluation (after the loop, whose signal handling has ended) was a
    KeyboardInterrupt traceback, silent on whether the trained state was kept; SIGTERM, silent."""
    import hybrid.run_folder
    import hybrid.train

    real_eval = hybrid.run_folder.RunState.run_eval

    def ctrl_c_at_the_end(self, split="test", size=None, desc="evaluating"):
        if desc == "final evaluation":
            interrupt(stop)
        return real_eval(self, split, size, desc)

    monkeypatch.setattr(hybrid.run_folder.RunState, "run_eval", ctrl_c_at_the_end)
    monkeypatch.setattr(hybrid.train, "parse_args", lambda argv: small_config("train.steps=2"))
    with pytest.raises(SystemExit) as stopped:
        hybrid.train.main([])
    assert stopped.value.code == status
    out = tmp_path / "run"
    said = capsys.readouterr().err.strip().splitlines()[-1]
    assert said == (f"{name} during the final evaluation: the trained state is saved in "
                    f"{out / 'checkpoints' / 'step_00000002'}; --resume {out} evaluates it and writes final/")
    assert not (out / "final").exists()
    monkeypatch.undo()
    train(small_config("train.steps=2", "train.resume=latest"))  # as the line says: nothing trained again
    assert json.loads((out / "metrics.json").read_text())["batches"] == 2 and (out / "final" / "model.safetensors").exists()


def test_a_batch_of_the_whole_training_set_trains_and_one_no_process_can_accumulate_is_refused(small_config):
    """The two edges of the batch check: one batch holding every training puzzle is a run; a global
    batch that splits over the processes, but whose share per process does not split over its
    train.grad_accum steps (6 over 2 processes: 3 puzzles in 2 steps), is an error before any backbone loads."""
    from hybrid.data import check_batch_fits

    assert train(small_config("train.batch_size=64", "train.steps=1", "train.checkpoint_every=0"))["batches"] == 1
    config = small_config("train.batch_size=6", "train.grad_accum=2")
    with pytest.raises(ConfigError, match=r"train.batch_size=6 must split evenly over 2 processes x train.grad_accum=2"):
        check_batch_fits(config.train, num_processes=2, train_puzzles=64)


@pytest.mark.parametrize("steps, warmup", [(0, 0), (2, 4), (1, 6)])  # N_sup=2: the warm-up ends at or past the last update
def test_a_polynomial_schedule_whose_warmup_takes_the_whole_run_trains(small_config, steps, warmup):
    """transformers' polynomial decay divides by the updates left after the warm-up: none left was a
    ZeroDivisionError once the data and backbone were ready."""
    results = train(small_config("train.schedule=polynomial", f"train.steps={steps}", f"train.warmup={warmup}"))
    assert results["batches"] == steps


@pytest.mark.parametrize("overrides, said", [
    (("train.warmup=10",), "train.warmup=10 supervision steps outlast the run (train.steps=2 x reasoner.N_sup=2 = 4 "
                           "updates): its last update takes 30% of train.lr"),
    (("train.warmup=4",), "train.warmup=4 supervision steps outlast the run (train.steps=2 x reasoner.N_sup=2 = 4 "
                          "updates): its last update takes 75% of train.lr"),
    (("train.warmup=4", "train.schedule=linear"), "75% of train.lr"),
    (("train.warmup=3",), None),  # the 4th update takes train.lr itself
    (("train.warmup=10", "train.schedule=constant"), None),  # no warm-up in that schedule
    (("train.warmup=10", "train.steps=0"), None),  # no updates at all: nothing trains, as asked
])
def test_a_warmup_the_run_never_finishes_says_so(small_config, recwarn, overrides, said):
    """The rate at update k is (k - 1) / warmup of train.lr: a short run for sizing (default warm-up 50,
    train.steps=5, N_sup=6) trained below train.lr throughout, without a word."""
    train(small_config("train.steps=2", *overrides))
    found = [str(w.message) for w in recwarn if "outlast the run" in str(w.message)]
    if said:
        assert len(found) == 1 and said in found[0] and "raise train.steps or lower train.warmup" in found[0], found
    else:
        assert not found


def test_fp16_where_accelerate_skips_it_says_so(small_config, recwarn, request):
    """Accelerate runs fp16 on a CPU as fp32, silently: the run says so (bf16 it does run)."""
    from accelerate.state import AcceleratorState

    reset = lambda: AcceleratorState._reset_state(reset_partial_state=True)  # noqa: E731 (one precision per state)
    request.addfinalizer(reset)
    for precision, said in (("fp16", True), ("bf16", False)):
        reset()
        recwarn.clear()
        train(small_config(f"train.mixed_precision={precision}", "train.steps=1"))
        assert any(f"mixed_precision={precision} does nothing on cpu" in str(w.message) for w in recwarn) == said


def test_processes_launched_that_accelerate_set_up_each_alone_are_refused_before_anything(small_config, monkeypatch,
                                                                                         held_by_another_process):
    """`accelerate launch --multi_gpu --num_processes 2` on a machine without GPUs (or with
    fsdp.yaml there) started two one-process runs: one stopped on the other's folder or half-made
    data with an error that named neither the launch nor the fix."""
    import accelerate

    import hybrid.launch

    class AloneOfTwo(accelerate.Accelerator):  # one process, as Accelerate made each of torchrun's two
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            monkeypatch.setenv("WORLD_SIZE", "2")  # as torchrun sets it (set before, Accelerate would start DDP)

    monkeypatch.setattr(hybrid.launch, "Accelerator", AloneOfTwo)
    config = small_config()
    # the other process, a run of its own, holds the run folder: said before "in use by another run"
    with held_by_another_process(run_lock(config.train.output_dir)), \
            pytest.raises(ConfigError, match="accelerate launch started 2 processes, but .* ACCELERATE_USE_CPU=1"):
        train(config)
    assert not Path(config.train.output_dir).exists() and not Path(config.train.data_dir).exists()


def test_second_backbone_needs_only_a_config_change(small_config):
    result = train(small_config(kind="gpt2"))
    assert result["batches"] == 4


def test_command_line_reports_config_typos(tmp_path):
    proc = subprocess.run([sys.executable, "hybrid/train.py", "reasoner.tee=3"], capture_output=True, text=True,
                          cwd=Path(__file__).resolve().parent.parent)
    assert proc.returncode != 0
    assert "tee" in proc.stderr and "Traceback" not in proc.stderr


@pytest.mark.parametrize("grad_accum", [1, 2])
def test_halted_samples_leave_the_batch_and_the_update_is_unchanged(small_config, grad_accum):
    """Training-time halting drops halted samples from later steps' compute. The update must be
    the one a full-batch step gives with the halted samples' losses masked out (the definition,
    written out below), and the later steps must really see fewer samples."""
    import copy

    from accelerate import Accelerator
    from transformers import get_scheduler

    from hybrid.supervision import supervise
    from hybrid.train import build
    from reasoner import halting_loss, stablemax_cross_entropy

    config = small_config("reasoner.N_sup=3", "train.halt=true", f"train.grad_accum={grad_accum}",
                          "train.grad_clip=0")
    accelerator = Accelerator(cpu=True)
    torch.manual_seed(0)
    _, _, tensors, model, _ = build(config, accelerator)
    batch = tensors["train"][:16]
    states, mask, token_slot, labels, _ = batch
    read = model.read(states.float(), mask, token_slot.long())
    # A halting head that stops about half the puzzles after the first step.
    torch.nn.init.normal_(model.reasoner.halt_head.weight)
    start = model.initial_carry(16, labels.shape[1], states.device)
    with torch.no_grad():
        model.reasoner.halt_head.bias -= model(*read, start.y, start.z).q_halt.median()
    masked = copy.deepcopy(model)

    seen = []
    model.reasoner.register_forward_hook(lambda _m, args, _out: seen.append(args[0].shape[0]))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    model, optimizer = accelerator.prepare(model, optimizer)
    stats = supervise(model, batch, optimizer, get_scheduler("constant", optimizer), None, accelerator, config)

    optimizer = torch.optim.SGD(masked.parameters(), lr=0.1)
    carry, active = start, torch.ones(16, dtype=torch.bool)
    for step in range(stats["steps"]):
        out = masked(*read, carry.y, carry.z)
        ce = stablemax_cross_entropy(out.logits, labels).mean(1)
        correct = (out.logits.argmax(-1) == labels).all(1)
        ((ce + halting_loss(out.q_halt, correct)) * active).mean().backward()
        optimizer.step()
        optimizer.zero_grad()
        carry, active = out.carry, active & (out.q_halt.detach() <= 0)

    assert 0 < active.sum() < 16, "the test needs some puzzles halted and some running"
    assert sum(seen) < 16 * stats["steps"] and stats["work"] == pytest.approx(sum(seen) / (16 * 3))
    for (name, a), b in zip(accelerator.unwrap_model(model).named_parameters(), masked.parameters()):
        assert torch.allclose(a, b, atol=1e-6), name


@pytest.mark.parametrize("halting", ["off", "first chunks halt at once", "all halt at once"])
def test_grad_accum_gives_the_update_and_stats_of_the_whole_batch(small_config, halting):
    """train.grad_accum lowers memory only: one batch's supervision in 1, 2 or 4 chunks ends with the
    same weights, EMA, AdamW moments, schedule and logged stats, the gradient clipped as a whole
    (clipping each chunk's share would shrink the update). Halting is arranged so that whole chunks
    leave at the first step while others run on, or every sample does (the batch ends early)."""
    import copy

    from accelerate import Accelerator

    from eval.tasks import IGNORE
    from hybrid.ema import make_ema
    from hybrid.supervision import forward_backward, make_optimizer, make_scheduler, split_batch, supervise
    from hybrid.train import build

    config = small_config("reasoner.N_sup=3", "train.grad_clip=0.01", "train.ema=0.9",
                          f"train.halt={'false' if halting == 'off' else 'true'}")
    accelerator = Accelerator(cpu=True)
    torch.manual_seed(0)
    _, _, tensors, model, _ = build(config, accelerator)
    states, mask, token_slot, labels, index = tensors["train"][:16]
    labels = torch.where(torch.arange(labels.shape[1]) == 0, labels, IGNORE)  # one cell: some answers are exact
    torch.nn.init.normal_(model.reasoner.halt_head.weight)
    start = model.initial_carry(16, labels.shape[1], states.device)
    with torch.no_grad():
        q_halt = model(*model.read(states.float(), mask, token_slot.long()), start.y, start.z).q_halt
        eager_first = q_halt.argsort(descending=True)  # the 8 that halt first fill chunk 0 (chunks 0 and 1 of 4)
        model.reasoner.halt_head.bias -= q_halt.min() - 1 if halting == "all halt at once" else q_halt.median()
    batch = [t[eager_first] for t in (states, mask, token_slot, labels, index)]

    probe = copy.deepcopy(model)  # the first step's gradient is well above train.grad_clip: clipping acts
    forward_backward(probe, split_batch(batch, 1, probe, accelerator)[0], True, accelerator, config)
    assert torch.cat([p.grad.flatten() for p in probe.parameters() if p.grad is not None]).norm() > 0.1

    ends = {}
    for grad_accum in (1, 2, 4):
        config.train.grad_accum = grad_accum
        trained = copy.deepcopy(model)
        optimizer = make_optimizer(trained, config, accelerator.device)
        scheduler, ema = make_scheduler(optimizer, config), make_ema(trained, config.train.ema)
        stats = supervise(trained, batch, optimizer, scheduler, ema, accelerator, config)
        ends[grad_accum] = (stats, trained.state_dict(), ema.module.state_dict(), optimizer.state_dict(),
                            scheduler.last_epoch)

    stats, weights, averaged, adam, schedule = ends[1]
    # work: the share of 16 puzzles x 3 steps computed. Half halting at step 1: at most 16 + 8 + 8 of 48.
    low, high = {"off": (1, 1), "first chunks halt at once": (1 / 3 + 1e-6, 2 / 3),
                 "all halt at once": (1 / 3, 1 / 3)}[halting]
    assert low - 1e-6 <= stats["work"] <= high + 1e-6
    assert stats["steps"] == (1 if halting == "all halt at once" else 3)
    assert 0 < stats["exact_first"] < 1
    for grad_accum in (2, 4):
        other = ends[grad_accum]
        assert {k: v for k, v in other[0].items() if k != "loss"} == {k: v for k, v in stats.items() if k != "loss"}
        assert other[0]["loss"] == pytest.approx(stats["loss"], rel=1e-6), grad_accum
        assert other[4] == schedule
        for ours, theirs in ((other[1], weights), (other[2], averaged)):
            for name in theirs:
                assert torch.allclose(ours[name], theirs[name], atol=1e-6), (grad_accum, name)
        for i, moments in adam["state"].items():
            for key in ("exp_avg", "exp_avg_sq"):
                assert torch.allclose(other[3]["state"][i][key], moments[key], atol=1e-7), (grad_accum, i, key)


def test_a_batch_that_does_not_split_into_equal_chunks_is_refused():
    """The config and the loaders' drop_last keep training from it; called directly, torch.chunk cut
    10 samples into 3, 3, 3, 1 for train.grad_accum=4, and the lone sample weighed as much as three."""
    from hybrid.supervision import split_batch

    with pytest.raises(ValueError, match="a batch of 10 samples does not split into train.grad_accum=4 equal chunks"):
        split_batch([torch.zeros(10, 3)] * 5, 4, None, None)


def test_init_from_starts_from_a_trained_model_and_rejects_one_that_does_not_fit(small_config, tiny_backbone, tmp_path,
                                                                                 capsys):
    from safetensors.torch import load_file

    first = train(small_config())
    again = train(small_config(f"train.init_from={tmp_path / 'run'}", "train.steps=0",
                               f"train.output_dir={tmp_path / 'again'}"))
    assert "a transfer" not in capsys.readouterr().out
    # Another backbone of the same width fits every shape: it loads, and the run says it is a transfer.
    train(small_config(f"train.init_from={tmp_path / 'run'}", "train.steps=0", f"train.output_dir={tmp_path / 'moved'}",
                       kind="gpt2"))
    assert "a transfer: trained on other backbone states (the files config.json, model.safetensors of" in \
        capsys.readouterr().out
    moved = shutil.copytree(tiny_backbone("bert"), tmp_path / "bert-elsewhere")  # the same backbone, moved: no transfer
    train(small_config(f"train.init_from={tmp_path / 'run'}", "train.steps=0", f"backbone.path={moved}",
                       f"train.output_dir={tmp_path / 'moved-backbone'}"))
    out = capsys.readouterr().out
    assert "weights from" in out and "a transfer" not in out
    assert again["test"]["exact_curve"] == first["test"]["exact_curve"]
    assert again["test"]["cell_curve"] == first["test"]["cell_curve"]
    a, b = (load_file(tmp_path / run / "final" / "model.safetensors") for run in ("run", "again"))
    assert all(torch.equal(a[k], b[k]) for k in a)
    with pytest.raises(ConfigError, match=r"holds weights of other shapes .*: reasoner.hidden=16 \(its run: 32\)"):
        train(small_config(f"train.init_from={tmp_path / 'run'}", "reasoner.hidden=16",
                           f"train.output_dir={tmp_path / 'other'}"))


def test_fine_tuning_in_place_starts_from_the_earlier_run_where_it_was_moved(small_config, tmp_path, capsys):
    """train.init_from inside train.output_dir: the earlier run is moved aside first, and the new
    run names its starting weights where they now are (in its log and its config.yaml)."""
    from safetensors.torch import load_file

    from hybrid.inference import read_config

    train(small_config())
    before = load_file(tmp_path / "run" / "final" / "model.safetensors")
    capsys.readouterr()
    train(small_config(f"train.init_from={tmp_path / 'run' / 'final'}", "train.steps=0"))
    [moved] = [p for p in tmp_path.iterdir() if p.name.startswith("run-")]
    assert f"weights from {moved / 'final'} (" in capsys.readouterr().out
    assert read_config(tmp_path / "run" / "config.yaml").train.init_from == str(moved / "final")
    after = load_file(tmp_path / "run" / "final" / "model.safetensors")  # no step taken: the same weights
    assert before.keys() == after.keys() and all(torch.equal(before[k], after[k]) for k in before)


@pytest.mark.parametrize("held", [["config.yaml"], ["config.yaml", "metrics.json"]])
def test_a_folder_moved_aside_is_called_an_earlier_run_only_when_it_holds_one(held, tmp_path, capsys):
    """`mkdir runs/x; vi runs/x/config.yaml; train.py --config runs/x/config.yaml train.output_dir=runs/x`:
    the folder was moved aside as "an earlier run", with advice to add --resume to a folder of no checkpoint."""
    from types import SimpleNamespace

    from hybrid.config import load_config
    from hybrid.run_folder import claim

    (tmp_path / "run").mkdir()
    for name in held:
        (tmp_path / "run" / name).write_text(f"# {name}, mine\n")
    one = SimpleNamespace(is_main_process=True, wait_for_everyone=lambda: None, print=print)
    claim(load_config([f"train.output_dir={tmp_path / 'run'}"]), one, None)
    [moved] = [p for p in tmp_path.iterdir() if p.name.startswith("run-")]
    assert sorted(p.name for p in moved.iterdir()) == sorted(held) and not (tmp_path / "run").exists()
    assert (moved / "config.yaml").read_text() == "# config.yaml, mine\n"  # nothing lost
    said = capsys.readouterr().out
    if held == ["config.yaml"]:
        assert said == (f"{tmp_path / 'run'} held a config.yaml but no checkpoints, final/ or metrics.json: moved "
                        f"the folder, that file with it, to {moved}, as this run writes its own config.yaml there\n")
    else:
        assert said.startswith(f"{tmp_path / 'run'} held an earlier run: moved it to {moved} (to continue that run")


def test_timed_counts_waiting_for_batches_not_the_work_on_them(monkeypatch):
    import time

    from hybrid.data import timed

    now = [0.0]  # a clock the test moves: real sleeps overshoot on a loaded machine
    monkeypatch.setattr(time, "perf_counter", lambda: now[0])

    def slow_batches():
        for i in range(3):
            now[0] += 0.05  # the loader's share: a backbone forward, say
            yield i

    clock = {"seconds": 0.0}
    got = []
    for batch in timed(slow_batches(), clock):
        got.append(batch)
        now[0] += 0.1  # the training step's share
    assert got == [0, 1, 2]
    assert clock["seconds"] == pytest.approx(0.15)  # three waits, none of the 0.3 s of steps


def test_same_seed_same_initial_weights_when_the_first_run_builds_the_backbone(small_config, tmp_path, monkeypatch):
    """A tiny backbone is built (and torch reseeded) on first use only: the first run with a seed
    must start from the same weights as every later one."""
    from safetensors.torch import load_file

    monkeypatch.setenv("HOME", str(tmp_path / "home"))  # nothing built in the user's cache either
    for run in ("first", "second"):
        train(small_config("backbone.path=tiny:bert", "train.seed=3", "train.steps=0", "train.ema=0",
                           f"train.output_dir={tmp_path / run}"))
    assert any(p.name.startswith("bert-") for p in (tmp_path / "cache" / "tiny").iterdir())  # in train.data_dir
    assert not (tmp_path / "home").exists()
    a, b = (load_file(tmp_path / run / "final" / "model.safetensors") for run in ("first", "second"))
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_a_run_the_time_limit_stopped_says_so_in_its_summary(small_config, monkeypatch, capsys):
    """metrics.json held stopped_by_time_limit, but the summary showed only "3 batches in 6 s", which
    reads as all the batches train.steps asked for."""
    import time

    real_clock, calls = time.perf_counter, [0]

    def clock():  # a second more at each reading: the limit is reached within a few batches, whatever the load
        calls[0] += 1
        return real_clock() + calls[0]

    monkeypatch.setattr(time, "perf_counter", clock)
    monkeypatch.setenv("COLUMNS", "200")  # the table's rows on one line each
    results = train(small_config("train.steps=50", "train.time_limit=5", "train.eval_every=0"))
    assert results["stopped_by_time_limit"] and results["batches"] < 50
    out = re.sub(r"[│ ]+", " ", capsys.readouterr().out)
    assert "stopped early by train.time_limit=5 s, before train.steps=50" in out


def test_periodic_evaluation_is_timed_apart_from_training(small_config, monkeypatch, capsys):
    """train_seconds and train.time_limit count training only: a slow periodic evaluation is
    reported as eval_seconds and does not use up the time budget. Each says its accuracies in the
    summary's words."""
    import time

    import hybrid.run_folder

    real_evaluate, real_clock, slept = hybrid.run_folder.evaluate, time.perf_counter, [0.0]

    def slow_evaluate(*args, desc="", **kwargs):
        if desc == "evaluating":  # the periodic ones, not the final evaluation
            slept[0] += 100.0  # the clock jumps instead of sleeping: the test does not hang on the machine's load
        return real_evaluate(*args, desc=desc, **kwargs)

    monkeypatch.setattr(hybrid.run_folder, "evaluate", slow_evaluate)  # RunState.run_eval
    monkeypatch.setattr(time, "perf_counter", lambda: real_clock() + slept[0])
    results = train(small_config("train.steps=5", "train.eval_every=1", "train.eval_size=4", "train.time_limit=60"))
    assert results["batches"] == 5 and not results["stopped_by_time_limit"]  # 400 s of evaluation spent none of 60 s
    assert results["eval_seconds"] >= 400.0  # after batches 1-4; batch 5 is the last, evaluated in full
    assert results["train_seconds"] < 60.0
    line = next(line for line in capsys.readouterr().out.splitlines() if line.startswith("batch 1: "))
    assert re.fullmatch(r"batch 1: held-out exact accuracy [\d.]+, cell accuracy [\d.]+, open-cell accuracy [\d.]+ "
                        r"\(4 puzzles\)", line)  # train.eval_size's, not the split's


class Scripted(torch.nn.Module):
    """A stand-in for HybridModel whose outputs the test sets: a sample's states are its logits
    (plus a learned bias), its halting logit is q[token_slot[:, 0]], and the carry counts steps."""

    def __init__(self, samples: int, classes: int):
        super().__init__()
        self.bias = torch.nn.Parameter(torch.zeros(classes))
        self.q = torch.nn.Parameter(torch.zeros(samples))
        self.seen = []  # per forward: the carried step count of each sample

    def read(self, states, mask, token_slot):
        return states, mask, token_slot

    def initial_carry(self, batch_size, num_slots, device):
        from reasoner import Carry

        return Carry(torch.zeros(batch_size, num_slots, 1, device=device), torch.zeros(batch_size, num_slots, 1, device=device))

    def forward(self, states, mask, token_slot, y, z):
        from hybrid.model import HybridOutput
        from reasoner import Carry

        self.seen.append(y[:, 0, 0].tolist())
        return HybridOutput(states + self.bias, self.q[token_slot[:, 0]], Carry(y + 1, z + 1))


def test_supervision_halting_target_loss_carry_and_ema():
    """Per supervision step: the halting target is "every scored slot right" (IGNORE slots do not
    count, a mostly right answer is not right), the answer loss is the mean over scored slots,
    (y, z) are handed on with halting off, and the EMA averages once per optimizer step."""
    from accelerate import Accelerator
    from transformers import get_scheduler

    from eval.tasks import IGNORE
    from hybrid.config import load_config
    from hybrid.ema import make_ema
    from hybrid.supervision import supervise
    from reasoner import halting_loss, stablemax_cross_entropy

    predicted = torch.tensor([[0, 1, 2], [0, 1, 0], [0, 1, 0], [0, 0, 0]])
    labels = torch.tensor([[0, 1, 2], [0, 1, 2], [0, 1, IGNORE], [2, 2, 2]])
    target = torch.tensor([1.0, 0.0, 1.0, 0.0])  # right; 2 of 3 right; right where scored; wrong
    logits = torch.nn.functional.one_hot(predicted, 3).float() * 3
    batch = (logits, torch.ones(4, 3, dtype=torch.bool), torch.arange(4).unsqueeze(1).expand(4, 3), labels, torch.arange(4))
    accelerator = Accelerator(cpu=True)

    model = Scripted(4, 3)
    config = load_config(["reasoner.N_sup=1", "train.halt=false", "train.grad_clip=0"])
    optimizer = torch.optim.SGD(model.parameters(), lr=1.0)
    stats = supervise(model, batch, optimizer, get_scheduler("constant", optimizer), None, accelerator, config)
    valid = (labels != IGNORE).sum(1)
    ce = stablemax_cross_entropy(logits, labels).sum(1) / valid
    assert stats["loss"] == pytest.approx((ce + halting_loss(torch.zeros(4), target)).mean().item(), rel=1e-5)
    assert torch.equal(model.q.detach() > 0, target.bool())  # BCE pushed each logit toward its target
    assert stats["exact_first"] == stats["exact_last"] == 0.5

    model = Scripted(4, 3)
    config = load_config(["reasoner.N_sup=3", "train.halt=false", "train.grad_clip=0"])
    optimizer = torch.optim.SGD(model.parameters(), lr=1.0)
    ema = make_ema(model, 0.999)
    stats = supervise(model, batch, optimizer, get_scheduler("constant", optimizer), ema, accelerator, config)
    assert stats["steps"] == 3 and model.seen == [[0.0] * 4, [1.0] * 4, [2.0] * 4]
    assert int(ema.n_averaged) == 3


def scripted_run(q_start: list[float], *overrides: str, ema_decay: float | None = None):
    """supervise() on Scripted and the batch of the test above (only samples 0 and 2 are right),
    each sample's halting logit starting at q_start, SGD at lr 1.0 and a constant schedule.
    Returns the stats, the model, the scheduler and the EMA."""
    from accelerate import Accelerator
    from transformers import get_scheduler

    from eval.tasks import IGNORE
    from hybrid.config import load_config
    from hybrid.ema import make_ema
    from hybrid.supervision import supervise

    predicted = torch.tensor([[0, 1, 2], [0, 1, 0], [0, 1, 0], [0, 0, 0]])
    labels = torch.tensor([[0, 1, 2], [0, 1, 2], [0, 1, IGNORE], [2, 2, 2]])
    logits = torch.nn.functional.one_hot(predicted, 3).float() * 3
    batch = (logits, torch.ones(4, 3, dtype=torch.bool), torch.arange(4).unsqueeze(1).expand(4, 3), labels, torch.arange(4))
    model = Scripted(4, 3)
    with torch.no_grad():
        model.q.copy_(torch.tensor(q_start))
    optimizer = torch.optim.SGD(model.parameters(), lr=1.0)
    scheduler = get_scheduler("constant", optimizer)
    ema = make_ema(model, ema_decay) if ema_decay is not None else None
    config = load_config(["train.grad_clip=0", *overrides])
    stats = supervise(model, batch, optimizer, scheduler, ema, Accelerator(cpu=True), config)
    return stats, model, scheduler, ema


def test_the_ema_takes_in_the_weights_each_optimizer_step_made():
    """The EMA updates after the optimizer step, so its first update copies the trained weights.
    Updated before the step, it would lag one step behind and never see a batch's last update
    (the other EMA tests count its updates or compare it with the initial weights)."""
    stats, model, _, ema = scripted_run([-5.0] * 4, "reasoner.N_sup=1", "train.halt=false", ema_decay=0.999)
    assert stats["steps"] == 1 and int(ema.n_averaged) == 1
    assert model.bias.detach().abs().sum() > 0 and model.q.detach().ne(-5.0).all()  # the step changed them
    assert torch.equal(ema.module.bias, model.bias) and torch.equal(ema.module.q, model.q)


def test_once_every_sample_halted_the_batch_ends_without_further_updates():
    """With halting on, a batch whose samples all halted at step 1 ends there: no optimizer or
    EMA step runs on an empty batch, and the loss is the mean over the steps that ran. The
    schedule still advances over the steps skipped: it spans train.steps * N_sup, so counting
    only the updates that ran, a decaying schedule would stop short of its end."""
    from eval.tasks import IGNORE
    from reasoner import halting_loss, stablemax_cross_entropy

    stats, model, scheduler, ema = scripted_run([5.0] * 4, "reasoner.N_sup=3", "train.halt=true", ema_decay=0.999)
    assert stats["steps"] == 1 and model.seen == [[0.0] * 4]
    assert scheduler.last_epoch == 3 and int(ema.n_averaged) == 1
    predicted = torch.tensor([[0, 1, 2], [0, 1, 0], [0, 1, 0], [0, 0, 0]])
    labels = torch.tensor([[0, 1, 2], [0, 1, 2], [0, 1, IGNORE], [2, 2, 2]])
    ce = stablemax_cross_entropy(torch.nn.functional.one_hot(predicted, 3).float() * 3, labels).sum(1) / \
        (labels != IGNORE).sum(1)
    first = (ce + halting_loss(torch.full((4,), 5.0), torch.tensor([1.0, 0.0, 1.0, 0.0]))).mean().item()
    assert stats["loss"] == pytest.approx(first, rel=1e-5)


def test_the_optimizer_decays_every_trainable_weight_with_the_configs_betas(small_config, tiny_backbone):
    """docs/reasoner.md: one parameter group, as the published code has it: weight decay reaches the
    biases, the halting head, the slot embeddings and the adapter's LayerNorm too; frozen weights
    (the backbone under LoRA) are not handed to the optimizer at all."""
    from hybrid.backbone import load_for
    from hybrid.lora import with_backbone
    from hybrid.model import HybridModel
    from hybrid.supervision import make_optimizer
    from eval.tasks import make_task

    config = small_config("backbone.lora.rank=2", "train.weight_decay=0.25", "train.betas=[0.8,0.9]")
    task = make_task(config.task)
    backbone = load_for(config, task)
    model = with_backbone(HybridModel.for_task(config, backbone.hidden_size, task), backbone, config.backbone)
    optimizer = make_optimizer(model, config, torch.device("cpu"))
    [group] = optimizer.param_groups
    trainable = [name for name, p in model.named_parameters() if p.requires_grad]
    assert {id(p) for p in group["params"]} == {id(p) for p in model.parameters() if p.requires_grad}
    assert any("halt_head.bias" in n for n in trainable) and any("norm.weight" in n for n in trainable)
    assert any("lora_" in n for n in trainable) and any(not p.requires_grad for p in model.parameters())
    assert group["weight_decay"] == 0.25 and group["betas"] == (0.8, 0.9)


def test_the_steps_skipped_after_halting_advance_the_schedule_after_an_update_the_loss_scaler_skipped():
    """Under fp16 the loss scaler skips an update whose gradients overflowed, and Accelerate's
    scheduler then does not step for it. The supervision steps skipped because every sample halted
    must still advance the schedule: they once asked that same wrapper, which found the last
    update skipped and dropped them all, so one overflow cost the schedule a batch's worth of steps.
    Here a real scaler (its scale past float32's range) skips the only update of a batch that halts
    at once."""
    from accelerate import Accelerator
    from transformers import get_scheduler

    from hybrid.config import load_config
    from hybrid.supervision import supervise

    batch = (torch.randn(4, 3, 3), torch.ones(4, 3, dtype=torch.bool), torch.arange(4).unsqueeze(1).expand(4, 3),
             torch.zeros(4, 3, dtype=torch.long), torch.arange(4))

    class Steep(Scripted):  # the bias moves the logits 100-fold: its scaled gradient passes float32's range
        def forward(self, states, mask, token_slot, y, z):
            return super().forward(states + 99 * self.bias, mask, token_slot, y, z)

    model = Steep(4, 3)
    with torch.no_grad():
        model.q.fill_(5.0)  # every sample halts at step 1
    accelerator = Accelerator(cpu=True)
    accelerator.scaler = torch.amp.GradScaler("cpu", init_scale=2.0 ** 127)  # its scaled gradients overflow
    optimizer = torch.optim.SGD(model.parameters(), lr=1.0)
    optimizer, scheduler = accelerator.prepare(optimizer, get_scheduler("constant", optimizer))
    config = load_config(["train.grad_clip=0", "reasoner.N_sup=3", "train.halt=true"])
    stats = supervise(model, batch, optimizer, scheduler, None, accelerator, config)
    assert stats["steps"] == 1 and optimizer.step_was_skipped  # the one update overflowed and was skipped
    assert scheduler.scheduler.last_epoch == 2  # the two halted steps counted, the skipped update not


def test_a_halted_samples_exact_verdict_is_its_own_from_the_step_it_halted():
    """exact_last counts each sample's answer when it halted, or at the last step if it never did.
    Sample 0 (right) halts after step 1: the running samples' verdicts at step 2 must land in their
    own rows, not in the rows the remaining batch now fills (that gives 0.25 here)."""
    stats, model, _, _ = scripted_run([5.0, -5.0, -5.0, -5.0], "reasoner.N_sup=2", "train.halt=true")
    assert stats["steps"] == 2 and model.seen == [[0.0] * 4, [1.0] * 3]
    assert stats["exact_first"] == stats["exact_last"] == 0.5


def test_each_update_is_clipped_to_train_grad_clip():
    """One SGD step at lr 1 moves the weights by the gradient: clipped, by train.grad_clip exactly."""
    moved = {}
    for clip in (0.0, 0.01):
        before = Scripted(4, 3).state_dict()
        _, model, _, _ = scripted_run([0.0] * 4, "reasoner.N_sup=1", "train.halt=false", f"train.grad_clip={clip}")
        moved[clip] = torch.cat([(p.detach() - before[k]).flatten() for k, p in model.named_parameters()]).norm().item()
    assert moved[0.0] > 0.1  # unclipped, far more than the clip
    assert moved[0.01] == pytest.approx(0.01, rel=1e-3)


def test_exact_first_and_exact_last_are_the_first_and_last_steps_accuracy():
    """A model that gets one more sample right at each step: exact_first is step 1's accuracy,
    exact_last step 3's (how much the recursion added, as the training log shows it)."""

    class Improving(Scripted):  # sample i is right from step i + 1 on (the carry counts steps)
        def forward(self, states, mask, token_slot, y, z):
            out = super().forward(states, mask, token_slot, y, z)
            right = (token_slot[:, :1] < y[:, :1, 0] + 1).unsqueeze(-1)  # (B, 1, 1)
            logits = torch.where(right, torch.nn.functional.one_hot(labels, 3).float(), states) * 100  # states: wrong
            return type(out)(logits, out.q_halt, out.carry)

    from accelerate import Accelerator
    from transformers import get_scheduler

    from hybrid.config import load_config
    from hybrid.supervision import supervise

    labels = torch.tensor([[0, 1, 2], [2, 1, 0], [1, 1, 1], [2, 2, 2]])
    batch = (torch.nn.functional.one_hot((labels + 1) % 3, 3).float(), torch.ones(4, 3, dtype=torch.bool),
             torch.arange(4).unsqueeze(1).expand(4, 3), labels, torch.arange(4))
    model = Improving(4, 3)
    optimizer = torch.optim.SGD(model.parameters(), lr=1.0)
    config = load_config(["reasoner.N_sup=3", "train.halt=false", "train.grad_clip=0"])
    stats = supervise(model, batch, optimizer, get_scheduler("constant", optimizer), None, Accelerator(cpu=True), config)
    assert stats["steps"] == 3
    assert stats["exact_first"] == 0.25 and stats["exact_last"] == 0.75


def test_the_training_bar_keeps_tqdms_rate_limit_in_a_log_file(small_config, capsys):
    """Redirected to a file (a cluster job's log), the bar writes a line each time it redraws. Its
    loss/exact figures were set with set_postfix's default refresh, which redraws at once: a line per
    batch (often two), whatever tqdm's mininterval or TQDM_MININTERVAL said. In a file a bar draws at
    most every 30 s (hybrid/progress.py), so a run of seconds draws its start and its end only; the
    last figures are in the end. The periodic evaluations' bars (inside the training bar, and erased
    when done) wrote cursor moves ('\\x1b[A') and carriage returns there; a short one writes nothing."""
    config = small_config("train.steps=8", "train.checkpoint_every=0", "train.eval_every=3")
    capsys.readouterr()  # building the tiny backbone (transformers' own bars)
    train(config)
    err = capsys.readouterr().err.split("\n")
    err = "\n".join(line for line in err if "Loading weights" not in line)  # transformers' own bar, left alone
    assert "\r" not in err and "\x1b" not in err
    drawn = [line for line in err.splitlines() if line.startswith("training")]
    assert len(drawn) <= 3, drawn
    assert "8/8" in drawn[-1] and "loss=" in drawn[-1]
    assert not [line for line in err.splitlines() if line.startswith("evaluating")]


def test_the_default_tracker_logs_the_run_for_tensorboard(small_config, tmp_path):
    """train.tracker defaults to tensorboard (the tests otherwise turn it off): the loss and the
    accuracies (exact, cell, and open-cell since a Sudoku gives cells) of the periodic and final
    evaluations land in an event file in the run folder."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    from hybrid.config import load_config

    config = small_config("train.tracker=tensorboard", "train.eval_every=2")
    assert config.train.tracker == load_config([]).train.tracker
    train(config)
    files = list((tmp_path / "run").rglob("events.out.tfevents.*"))
    logged = {tag for events in files for tag in EventAccumulator(str(events)).Reload().Tags()["scalars"]}
    accuracies = {f"{when}/{k}_accuracy" for when in ("eval", "final") for k in ("exact", "cell", "open_cell")}
    assert {"train/loss", "train/lr"} | accuracies <= logged


def test_the_settings_are_logged_beside_the_scalars_for_the_hparams_dashboard(small_config, tmp_path):
    """TensorBoard's HParams dashboard pairs a run's settings with the scalars in the same folder, and takes
    the first experiment summary it finds as every run's. Accelerate's add_hparams wrote the settings in a
    folder of their own, with an experiment that declares no metric: the dashboard showed no metric beside
    them (and, comparing runs of other tasks, one run's setting names only). Booleans stay booleans."""
    from tensorboard.backend.event_processing.plugin_event_accumulator import EventAccumulator
    from tensorboard.plugins.hparams import metadata

    train(small_config("train.tracker=tensorboard"))
    folders = {events.parent for events in (tmp_path / "run").rglob("events.out.tfevents.*")}
    hparams = {folder: EventAccumulator(str(folder)).Reload() for folder in folders}
    hparams = {folder: logged.PluginTagToContent("hparams") for folder, logged in hparams.items()
               if "hparams" in logged.ActivePlugins()}
    assert list(hparams) == [tmp_path / "run" / "hybrid-trm"]  # the scalars' folder
    [tags] = hparams.values()
    assert metadata.EXPERIMENT_TAG not in tags  # the dashboard finds the metrics among the scalars then
    info = metadata.parse_session_start_info_plugin_data(tags[metadata.SESSION_START_INFO_TAG])
    settings = {k: getattr(v, v.WhichOneof("kind")) for k, v in info.hparams.items()}
    assert (settings["train.halt"], settings["reasoner.T"], settings["task.wordings"]) == (True, 2, "[0]")


def test_a_resumes_settings_replace_the_first_starts_for_the_hparams_dashboard(small_config, tmp_path):
    """TensorBoard keeps the first settings it reads in a folder: after `--resume RUN train.steps=6`
    the HParams dashboard showed the first start's train.steps=4 beside the resumed run's figures."""
    from tensorboard.backend.event_processing.plugin_event_accumulator import EventAccumulator
    from tensorboard.plugins.hparams import metadata

    train(small_config("train.tracker=tensorboard"))
    train(small_config("train.tracker=tensorboard", "train.steps=6", f"train.resume={tmp_path / 'run'}"))
    logged = EventAccumulator(str(tmp_path / "run" / "hybrid-trm")).Reload()
    content = logged.PluginTagToContent("hparams")[metadata.SESSION_START_INFO_TAG]
    assert metadata.parse_session_start_info_plugin_data(content).hparams["train.steps"].number_value == 6
    assert [event.step for event in logged.Tensors("train/loss")] == [1, 2, 3, 4, 5, 6]  # the scalars kept


def test_a_resume_logs_each_batch_once_for_tensorboard(small_config, tmp_path):
    """A run stopped after batch 3 whose last checkpoint is batch 2 (a crash; or a branch from an
    older checkpoint) logged batch 3 and its final/ figures already: the resume replays batch 3 into
    the same folder. TensorBoard, reading that folder as one run, showed batch 3 twice and the
    abandoned final/ point beside the resumed run's. Read as `tensorboard --logdir` reads it (plugin
    accumulator; the older EventAccumulator purges on other signs)."""
    from tensorboard.backend.event_processing.plugin_event_accumulator import EventAccumulator
    from tensorboard.util.tensor_util import make_ndarray

    train(small_config("train.tracker=tensorboard", "train.steps=3"))
    train(small_config("train.tracker=tensorboard", "train.steps=4",
                       f"train.resume={tmp_path / 'run' / 'checkpoints' / 'step_00000002'}"))
    logged = EventAccumulator(str(tmp_path / "run" / "hybrid-trm"), size_guidance={"tensors": 0}).Reload()
    assert [event.step for event in logged.Tensors("train/loss")] == [1, 2, 3, 4]
    [final] = logged.Tensors("final/cell_accuracy")
    saved = json.loads((tmp_path / "run" / "metrics.json").read_text())["test"]
    assert (final.step, make_ndarray(final.tensor_proto)) == (4, pytest.approx(saved["cell_accuracy"]))


def test_a_resume_started_within_the_second_of_the_first_start_logs_each_batch_once(small_config, tmp_path,
                                                                                     monkeypatch):
    """Two starts in one process within a second (a notebook resuming a run of a second): TensorBoard reads
    the folder's event files in name order, events.out.tfevents.<seconds>.<host>.<pid>.<counter>, and with
    the seconds alike the writers' counters compared as text: the first start's 8 after the resume's 10.
    The resume's file read first, the first start's mark (purge_step) then hid its batches: [1, 2, 3], as
    the test above gave now and then in a run of this file (whose three tracker tests before it leave the
    counter at 8). The writers' clock stands still here but for a wait."""
    import time

    from tensorboard.backend.event_processing.plugin_event_accumulator import EventAccumulator
    from tensorboard.summary.writer import event_file_writer

    import hybrid.summary

    start = time.time()

    class Clock:
        now = int(start) + 0.5

        def time(self):
            return self.now

        def sleep(self, seconds):
            self.now += seconds

    monkeypatch.setattr(event_file_writer, "time", Clock())
    monkeypatch.setattr(hybrid.summary, "time", event_file_writer.time)
    monkeypatch.setattr(event_file_writer, "_global_uid", event_file_writer.AtomicCounter(8))
    train(small_config("train.tracker=tensorboard", "train.steps=3"))
    train(small_config("train.tracker=tensorboard", "train.steps=4",
                       f"train.resume={tmp_path / 'run' / 'checkpoints' / 'step_00000002'}"))
    logged = EventAccumulator(str(tmp_path / "run" / "hybrid-trm")).Reload()
    assert [event.step for event in logged.Tensors("train/loss")] == [1, 2, 3, 4]


def test_the_final_model_is_the_ema_of_the_trained_weights(small_config):
    """Evaluation and final/ use the EMA copy: training must update it (it leaves the initial
    weights) without it being the raw trained weights (it averages)."""
    from accelerate import Accelerator
    from accelerate.utils import set_seed
    from safetensors.torch import load_file

    from hybrid.train import build

    config = small_config("train.steps=2", "train.checkpoint_every=0")
    train(config)
    out = Path(config.train.output_dir)
    final = load_file(out / "final" / "model.safetensors")
    raw = load_file(checkpoint.checkpoints(out)[-1] / "model.safetensors")
    set_seed(config.train.seed)
    initial = build(config, Accelerator(cpu=True))[3].state_dict()
    trained = [k for k in final if final[k].is_floating_point() and not torch.equal(raw[k], initial[k])]
    assert trained, "training changed no weight"
    assert all(not torch.equal(final[k], initial[k]) and not torch.equal(final[k], raw[k]) for k in trained)


@pytest.mark.parametrize("keep, kept", [(5, [1, 2, 3, 4]), (3, [2, 3, 4]), (1, [4])])
def test_keep_checkpoints_keeps_that_many(small_config, keep, kept):
    """The newest keep_checkpoints survive, also while fewer than that exist (the pruning slice once
    went negative there: keep=5 with 3 older left only 2)."""
    config = small_config("train.checkpoint_every=1", f"train.keep_checkpoints={keep}")
    train(config)
    assert [checkpoint.step_of(c) for c in checkpoint.checkpoints(config.train.output_dir)] == kept


@pytest.mark.parametrize("adapter, mixer", [("span_pool", "mlp"), ("query_attention", "attention")])
def test_bf16_mixed_precision_trains_in_bf16_and_saves_float32_weights(small_config, monkeypatch, request, adapter,
                                                                        mixer):
    """train.mixed_precision=bf16: training steps run under autocast (the CPU has one too, so this
    path runs here with each adapter and mixer), while the weights, the EMA and what is saved
    stay fp32."""
    from accelerate.state import AcceleratorState
    from safetensors.torch import load_file

    from hybrid.model import HybridModel

    logits_dtypes, forward = set(), HybridModel.forward

    def recording(self, *args):
        out = forward(self, *args)
        logits_dtypes.add(out.logits.dtype)
        return out

    monkeypatch.setattr(HybridModel, "forward", recording)  # before train() prepares (and wraps) the model
    AcceleratorState._reset_state(reset_partial_state=True)  # Accelerate keeps one state per process: an
    request.addfinalizer(lambda: AcceleratorState._reset_state(reset_partial_state=True))  # earlier fp32 one
    config = small_config("train.mixed_precision=bf16", f"adapter.kind={adapter}", f"reasoner.mixer={mixer}",
                          "reasoner.heads=2")
    metrics = train(config)
    assert torch.bfloat16 in logits_dtypes  # the head ran in bf16: autocast was on
    assert metrics["batches"] == 4 and torch.isfinite(torch.tensor(metrics["test"]["exact_curve"])).all()
    weights = load_file(Path(config.train.output_dir) / "final" / "model.safetensors")
    assert {t.dtype for t in weights.values() if t.is_floating_point()} == {torch.float32}


def test_a_resumed_runs_share_of_supervision_steps_is_the_mean_over_the_batches_it_ran(small_config, monkeypatch):
    """The summary's 'N% of the supervision steps computed' of a resumed run averages the batches
    this call ran, not their sum over every batch since the run began (half of it here)."""
    import hybrid.train

    def stub(model, batch, optimizer, scheduler, ema, accelerator, config):
        return {"loss": 1.0, "exact_first": 0.0, "exact_last": 0.0, "steps": 1, "work": 0.5}

    monkeypatch.setattr(hybrid.train, "supervise", stub)
    train(small_config("train.steps=2"))
    results = train(small_config("train.steps=4", "train.resume=latest"))
    assert results["batches"] == 4 and results["work"] == pytest.approx(0.5)


def test_memory_the_training_loop_holds_does_not_grow_with_the_batches(small_config, monkeypatch):
    """A run of days takes millions of batches: what the loop keeps across batches (figures for
    the final report) must not grow with each one. The real loop runs with a stand-in for the
    supervision step; what hybrid/train.py's lines hold is taken at batches 400, 800 and 1200, and a
    line that grows by 4 KB in both spans grows with the batches (a float kept per batch: 400 x 32
    bytes in each). The total held from batch 200 on, as this once measured, also counted one-off
    allocations and free lists, which the full suite made 8-10 KB against 3 KB alone."""
    import gc
    import tracemalloc

    import hybrid.train

    snapshots = []

    def stub(model, batch, optimizer, scheduler, ema, accelerator, config):
        stub.calls += 1
        if stub.calls == 200:
            tracemalloc.start()
        if stub.calls in (400, 800, 1200):
            gc.collect()  # garbage not yet collected (an earlier test's cycles) is not what the loop holds
            only_train = [tracemalloc.Filter(True, hybrid.train.__file__)]
            snapshots.append(tracemalloc.take_snapshot().filter_traces(only_train))
        if stub.calls == 1200:
            tracemalloc.stop()
        return {"loss": 1.0, "exact_first": 0.0, "exact_last": 0.0, "steps": 1, "work": 0.5 + stub.calls % 2 / 4}

    stub.calls = 0
    monkeypatch.setattr(hybrid.train, "supervise", stub)
    results = train(small_config("train.steps=1201", "train.checkpoint_every=0", "train.ema=0"))
    assert results["work"] == pytest.approx((601 * 0.75 + 600 * 0.5) / 1201)  # the mean over every batch
    first, second = ({str(d.traceback): d.size_diff for d in later.compare_to(earlier, "lineno")}
                     for earlier, later in zip(snapshots, snapshots[1:]))
    growing = {line: min(grew, second.get(line, 0)) for line, grew in first.items()}  # grew in both spans
    # below an object per batch; Python's free lists keep up to ~2.4 KB of floats on the line that made them last
    assert all(grew < 4096 for grew in growing.values()), {line: grew for line, grew in growing.items() if grew > 0}


def test_a_resume_on_other_splits_names_the_settings_that_changed_even_without_a_splits_record(small_config, tmp_path):
    """The warning named no setting ("a data file edited since, or another task or train.seed setting"), so a
    task.test_size override read as a change of the training data; and a checkpoint saved before splits
    records (no splits.json) resumed on another train.seed or task.train_size without a word."""
    train(small_config())
    with pytest.warns(UserWarning, match=r"puzzle splits changed since the checkpoint.*: train.seed=1 \(the "
                                         r"checkpoint's run: 0\)"):
        train(small_config("train.steps=5", "train.resume=latest", "train.seed=1"))
    for record in tmp_path.glob("run/**/splits.json"):  # as an older version saved them
        record.unlink()
        manifest = record.parent / checkpoint.MANIFEST
        if manifest.exists():
            manifest.write_text(json.dumps({k: v for k, v in json.loads(manifest.read_text()).items()
                                            if k != "splits.json"}))
    with pytest.warns(UserWarning, match=r"puzzle splits changed since the checkpoint.*: task.train_size=48 \(the "
                                         r"checkpoint's run: 64\), train.seed=0 \(the checkpoint's run: 1\)"):
        train(small_config("train.steps=6", "train.resume=latest", "task.train_size=48"))


def test_a_sweep_in_one_process_may_change_mixed_precision(small_config, monkeypatch, tmp_path):
    """From a notebook or a sweep script: Accelerate keeps one state per process, so a second train() with another
    train.mixed_precision raised "AcceleratorState has already been initialized and cannot be changed, restart your
    runtime". Each run now gets the precision its config asks for."""
    from hybrid import launch

    real, used = launch.accelerator_for, []

    def recording(config):
        accelerator = real(config)
        used.append(accelerator.mixed_precision)
        return accelerator

    monkeypatch.setattr(launch, "accelerator_for", recording)
    for i, precision in enumerate(("no", "bf16", "no")):
        results = train(small_config(f"train.mixed_precision={precision}", "train.steps=1", "train.checkpoint_every=0",
                                     f"train.output_dir={tmp_path / f'run{i}'}"))
        assert results["batches"] == 1
    assert used == ["no", "bf16", "no"]


def test_train_gives_back_the_callers_torch_threads_and_leaves_no_bar_open(small_config, monkeypatch, tmp_path):
    """train() sets torch's threads for its run (train.cpu_threads, else the cores shared out); from Python they
    stayed so after it, slowing (or crowding) the notebook's own work. And a run that raised left its training
    bar open (the traceback, which a notebook keeps, held it): every bar after it was drawn a line lower, with
    cursor moves that a notebook does not follow."""
    from tqdm.std import tqdm

    import hybrid.supervision

    assert torch.get_num_threads() == 1  # the caller's (conftest)
    train(small_config("train.cpu_threads=2", "train.steps=1", "train.checkpoint_every=0"))
    assert torch.get_num_threads() == 1

    real, calls = hybrid.supervision.stablemax_cross_entropy, []

    def poisoned(logits, labels):  # the 3rd loss (batch 2) is NaN: the run raises from inside its loop
        calls.append(1)
        return real(logits, labels) * (float("nan") if len(calls) == 3 else 1.0)

    monkeypatch.setattr(hybrid.supervision, "stablemax_cross_entropy", poisoned)
    with pytest.raises(FloatingPointError) as raised:
        train(small_config("train.cpu_threads=2", f"train.output_dir={tmp_path / 'nan'}"))
    assert raised.value.__traceback__ is not None  # still held, as a notebook holds the last error's
    assert torch.get_num_threads() == 1
    assert [bar.desc for bar in tqdm._instances] == []
