"""Two-process DDP on the CPU (gloo, via accelerate.debug_launcher): processes keep identical
weights, the loss matches one process at the same global batch, evaluation is sharded and
gathered."""

import contextlib
import gc
import io
import json
import logging
import os
import signal
import sys
import time
import traceback
import warnings
from pathlib import Path

import pytest
import torch
from accelerate import Accelerator, debug_launcher
from accelerate.state import AcceleratorState
from safetensors.torch import load_file
from torch.nn.parallel import DistributedDataParallel

import hybrid.launch
import hybrid.train
from eval.runner import predict
from hybrid import checkpoint
from hybrid.config import to_yaml
from hybrid.train import train


def record_losses(spy_on: list, check_weights: bool = False, lrs: list | None = None):
    """Wrap the supervise that hybrid.train calls: record the batch loss (mean over processes) and the
    learning rate after it, and, under DDP, check after every batch that all processes hold the same
    trainable weights."""
    real = hybrid.train.supervise

    def supervise(model, batch, optimizer, scheduler, ema, accelerator, config):
        stats = real(model, batch, optimizer, scheduler, ema, accelerator, config)
        if check_weights:
            flat = torch.cat([p.detach().flatten() for p in accelerator.unwrap_model(model).parameters()])
            everyone = accelerator.gather(flat[None])  # (processes, parameters)
            assert all(torch.equal(everyone[0], w) for w in everyone[1:]), "DDP processes diverged"
        spy_on.append(accelerator.reduce(torch.tensor(stats["loss"]), "mean").item())
        if lrs is not None:
            lrs.append(scheduler.get_last_lr()[0])
        return stats

    return supervise


def end_if_stuck(seconds: int = 300) -> None:
    """In a forked process: die after `seconds`, so a process waiting forever in an all-reduce the
    other never joins fails the test instead of hanging it (the launcher reports the dead child).
    The default action, not a Python handler, which would wait for the blocked C++ call to return."""
    signal.signal(signal.SIGALRM, signal.SIG_DFL)
    signal.alarm(seconds)


def two_processes(config, report: str):
    end_if_stuck()
    # Each process is a fork of pytest: forget the one-process Accelerate state an earlier test
    # may have left in it, so the Accelerator built here joins the two-process group.
    AcceleratorState._reset_state(reset_partial_state=True)
    torch.set_num_threads(1)  # two processes share the two cores
    losses, lrs = [], []
    hybrid.train.supervise = record_losses(losses, check_weights=True, lrs=lrs)  # in this forked process only
    # The DDP wrapper must be gone before the process group shuts down: its reducer would destroy
    # the group later, holding the GIL, and can deadlock with gloo (hybrid.launch.finish).
    wrappers_at_end, end_training = [], Accelerator.end_training

    def counting_wrappers(self):
        wrappers_at_end.append(sum(isinstance(o, DistributedDataParallel) for o in gc.get_objects()))
        end_training(self)

    Accelerator.end_training = counting_wrappers
    results = train(config)
    Accelerator.end_training = end_training
    assert wrappers_at_end == [0], f"{wrappers_at_end} DDP wrapper(s) alive when the process group shut down"

    # Evaluation shards the data: each process predicts about half, and gathering restores the
    # whole set once, in order, equal to predicting it in one process.
    accelerator = Accelerator()
    from hybrid.inference import Hybrid

    solver = Hybrid.from_pretrained(Path(config.train.output_dir) / "final", "cpu")
    same = torch.Generator().manual_seed(0)  # the same puzzles on every process (their global RNGs differ)
    states, mask = torch.randn(11, 7, solver.backbone.hidden_size, generator=same), torch.ones(11, 7, dtype=torch.bool)
    slots, labels = torch.randint(-1, 16, (11, 7), generator=same), torch.zeros(11, 16, dtype=torch.long)
    data = torch.utils.data.TensorDataset(states, mask, slots, labels, torch.arange(11))
    rows = []
    hook = solver.model.register_forward_hook(lambda module, args, out: rows.append(args[0].shape[0]))
    sharded = predict(solver.model, data, 2, batch_size=3, accelerator=accelerator)
    hook.remove()
    assert sum(rows) == 2 * 6  # 2 supervision steps on this process's 2 batches of 3 (11 puzzles, padded to 12)
    alone = predict(solver.model, data, 2, batch_size=3)
    assert all(torch.equal(sharded[k], alone[k]) for k in alone)
    if accelerator.is_main_process:
        Path(report).write_text(json.dumps({"losses": losses, "lrs": lrs, "results": results}))


def test_two_process_ddp_matches_one_process(small_config, monkeypatch, tmp_path):
    # A warm-up and a decay, so that the learning rate each update gets is compared too.
    overrides = ("train.steps=3", "train.checkpoint_every=0", "train.eval_every=0", f"train.data_dir={tmp_path / 'cache'}",
                 "train.warmup=4", "train.schedule=linear")
    report = tmp_path / "ddp.json"
    debug_launcher(two_processes, args=(small_config(*overrides, f"train.output_dir={tmp_path / 'ddp'}"), str(report)),
                   num_processes=2)
    ddp = json.loads(report.read_text())
    assert ddp["results"]["num_processes"] == 2 and ddp["results"]["global_batch_size"] == 16
    assert ddp["results"]["test"]["num_puzzles"] == 16  # every held-out puzzle once, none twice

    losses, lrs = [], []
    monkeypatch.setattr(hybrid.train, "supervise", record_losses(losses, lrs=lrs))
    single = train(small_config(*overrides, f"train.output_dir={tmp_path / 'single'}"))
    assert single["num_processes"] == 1
    # 2 updates a batch: half-way through the warm-up, at its end, then linear decay to 0 after 6 updates.
    assert lrs == pytest.approx([0.5e-3, 1e-3, 0.0])
    assert ddp["lrs"] == pytest.approx(lrs)  # the schedule counts global updates at any process count
    assert torch.allclose(torch.tensor(ddp["losses"]), torch.tensor(losses), rtol=1e-4)
    a, b = (load_file(tmp_path / run / "final" / "model.safetensors") for run in ("ddp", "single"))
    assert all(torch.allclose(a[k], b[k], atol=1e-5) for k in a)


def one_process_runs_out(config, report_dir: str):
    """Rank 1's halting head stops every sample after the first step, rank 0's never does."""
    end_if_stuck()
    AcceleratorState._reset_state(reset_partial_state=True)
    torch.set_num_threads(1)
    real, seen = hybrid.train.supervise, []

    def supervise(model, batch, optimizer, scheduler, ema, accelerator, config):
        with torch.no_grad():  # weights differ across processes here on purpose: only this bias
            accelerator.unwrap_model(model).reasoner.halt_head.bias.fill_(50.0 if accelerator.process_index else -50.0)
        stats = real(model, batch, optimizer, scheduler, ema, accelerator, config)
        seen.append({"rank": accelerator.process_index, "steps": stats["steps"], "work": stats["work"]})
        return stats

    hybrid.train.supervise = supervise
    train(config)
    Path(report_dir, f"rank{seen[0]['rank']}.json").write_text(json.dumps(seen))


def test_ddp_goes_on_when_one_process_has_no_sample_left(small_config, tmp_path):
    """Halted samples leave the batch. A process left with none still joins every supervision
    step's all-reduce (else the other would wait forever), also with attention in the adapter,
    which rejects an empty batch, and with gradient accumulation."""
    config = small_config("train.steps=2", "train.checkpoint_every=0", "train.eval_every=0", "train.grad_accum=2",
                          "adapter.kind=query_attention", f"train.data_dir={tmp_path / 'cache'}",
                          f"train.output_dir={tmp_path / 'ddp'}")
    debug_launcher(one_process_runs_out, args=(config, str(tmp_path)), num_processes=2)
    for rank, work in ((0, 1.0), (1, 1 / config.reasoner.N_sup)):
        seen = json.loads((tmp_path / f"rank{rank}.json").read_text())
        assert [s["steps"] for s in seen] == [config.reasoner.N_sup] * 2  # rank 0's samples keep both going
        assert all(abs(s["work"] - work) < 1e-6 for s in seen), (rank, seen)


def first_draws(config, report_dir: str):
    end_if_stuck()
    AcceleratorState._reset_state(reset_partial_state=True)
    torch.set_num_threads(1)
    real = hybrid.train.supervise

    def supervise(model, batch, optimizer, scheduler, ema, accelerator, config):
        draws = torch.rand(8).tolist()  # what dropout would draw next on this process (one batch: once)
        Path(report_dir, f"rank{accelerator.process_index}.json").write_text(json.dumps(draws))
        return real(model, batch, optimizer, scheduler, ema, accelerator, config)

    hybrid.train.supervise = supervise
    train(config)


def test_each_process_draws_its_own_dropout_masks(small_config, tmp_path):
    """Weights start equal on every process, but training's random draws (dropout) differ: the same
    seed everywhere would repeat one mask pattern across the global batch."""
    config = small_config("train.steps=1", "train.checkpoint_every=0", f"train.data_dir={tmp_path / 'cache'}",
                          f"train.output_dir={tmp_path / 'ddp'}")
    debug_launcher(first_draws, args=(config, str(tmp_path)), num_processes=2)
    rank0, rank1 = (json.loads((tmp_path / f"rank{r}.json").read_text()) for r in (0, 1))
    assert rank0 != rank1


def branch_as_the_run_saves(config, source: str, report_dir: str):
    """Rank 0 lists the source run's checkpoints before it saves step 4, rank 1 after; each
    process records the batch it resumed at and its weights, then stops (no training)."""
    end_if_stuck()
    AcceleratorState._reset_state(reset_partial_state=True)
    torch.set_num_threads(1)
    real = checkpoint.checkpoints

    def listed(folder):
        found = real(folder)
        if Path(folder) == Path(source) and AcceleratorState().process_index == 0:
            found = [c for c in found if checkpoint.step_of(c) <= 2]  # step 4 not saved yet
        return found

    def stop_at_start(state, model, *args):
        weights = torch.cat([p.detach().flatten() for p in state.accelerator.unwrap_model(model).parameters()])
        Path(report_dir, f"rank{state.accelerator.process_index}.json").write_text(
            json.dumps({"step": state.progress.step, "weights": weights.tolist()}))
        return None  # as if stopped by a signal: saved, no final evaluation

    checkpoint.checkpoints, hybrid.train.train_loop = listed, stop_at_start  # in this forked process only
    train(config)


def test_a_two_process_branch_from_a_run_as_it_trains_resumes_every_process_from_one_checkpoint(small_config, tmp_path):
    """`--resume RUN train.output_dir=BRANCH` loads RUN's newest checkpoint once the data is
    built, each process on its own: the run saving a checkpoint between two processes' looks had
    them resume from different ones, at different batches with different weights (then waiting
    for each other forever in mismatched all-reduces). The main process picks for all."""
    source = tmp_path / "source"
    train(small_config("train.keep_checkpoints=0", f"train.output_dir={source}"))  # step_2 and step_4
    config = small_config(f"train.resume={source}", f"train.output_dir={tmp_path / 'branch'}")
    debug_launcher(branch_as_the_run_saves, args=(config, str(source), str(tmp_path)), num_processes=2)
    rank0, rank1 = (json.loads((tmp_path / f"rank{r}.json").read_text()) for r in (0, 1))
    assert rank0["step"] == rank1["step"] == 2  # was: 2 and 4
    assert rank0["weights"] == rank1["weights"]


def train_signalling_one_process_mid_evaluation(config, report_dir: str):
    """Rank 1 alone gets a SIGINT (as `kill -INT` sends one) once the periodic evaluation at batch 2 has predicted
    its first batch; each process records what train() returned and the evaluation's line, if it printed one."""
    end_if_stuck(120)
    AcceleratorState._reset_state(reset_partial_state=True)
    torch.set_num_threads(1)
    import eval.runner

    rank, real_loader, real_bar = torch.distributed.get_rank(), eval.runner.DataLoader, eval.runner.progress_bar
    eval.runner.DataLoader = lambda data, batch_size: real_loader(data, batch_size=4)  # 3 batches a process

    def signal_after_the_first_batch(iterable, **settings):
        for i, item in enumerate(real_bar(iterable, **settings)):
            if i == 1 and settings.get("desc") == "evaluating" and rank == 1:
                os.kill(os.getpid(), signal.SIGINT)
            yield item

    eval.runner.progress_bar = signal_after_the_first_batch  # in this forked process only
    signal.signal(signal.SIGINT, signal.default_int_handler)  # as in a terminal, however pytest was started
    with contextlib.redirect_stdout(io.StringIO()) as said:  # the lines above the training bar (tqdm.write)
        results = train(config)
    Path(report_dir, f"rank{rank}.json").write_text(json.dumps({"results": results, "said": said.getvalue()}))


def test_a_signal_to_one_process_ends_every_processs_periodic_evaluation_and_names_itself_everywhere(small_config,
                                                                                                    tmp_path):
    """One process of a launch signalled during a periodic evaluation: every process stops at the same
    evaluation batch (one stopping alone would leave the other waiting in its gather) and saves the batch; and
    the process that got no signal itself says and exits with the signal the other got, not with 143 for "a
    signal to another process" whatever it was."""
    config = small_config("task.test_size=20", "train.steps=6", "train.eval_every=2", "train.eval_size=null",
                          f"train.output_dir={tmp_path / 'run'}")
    debug_launcher(train_signalling_one_process_mid_evaluation, args=(config, str(tmp_path)), num_processes=2)
    rank0, rank1 = (json.loads((tmp_path / f"rank{r}.json").read_text()) for r in (0, 1))
    assert rank0["results"] == rank1["results"]
    assert rank0["results"]["stopped_by"] == "SIGINT" and rank0["results"]["batches"] == 2
    assert "batch 2: held-out evaluation stopped by SIGINT after 8 of 20 puzzles; not logged" in rank0["said"]
    assert checkpoint.exit_status(rank0["results"]["stopped_by"]) == 130  # was 143 whatever the signal
    assert (tmp_path / "run" / "checkpoints" / "step_00000002").is_dir()


def train_recording_splits_and_warnings(config, report_dir: str, said: str = "more than one answer"):
    end_if_stuck()
    AcceleratorState._reset_state(reset_partial_state=True)
    torch.set_num_threads(1)
    real, folders = hybrid.train.build_splits, []

    def build_splits(*args):
        splits = real(*args)
        folders.append(str(splits.folder))
        return splits

    hybrid.train.build_splits = build_splits
    rank = torch.distributed.get_rank()  # train() ends the process group
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        train(config)
    Path(report_dir, f"rank{rank}.json").write_text(json.dumps(
        {"folders": folders, "warnings": [str(w.message) for w in caught if said in str(w.message)]}))


def test_a_two_process_qa_run_trains_every_process_on_the_recorded_splits_and_warns_once(small_config, tmp_path):
    """Every process cuts the qa file itself: they must train on one split, the one the run records
    for python -m eval (which then finds the data unchanged and leaves nothing out). A question with
    two answers is said once, not once per process."""
    from eval.__main__ import evaluate_run

    rows = [f'{{"question": "What is {i} + 1?", "answer": "{i + 1}"}}\n' for i in range(24)]
    data = tmp_path / "qa.jsonl"
    data.write_text("".join(rows) + '{"question": "What is 3 + 1?", "answer": "5"}\n')
    config = small_config("task=qa", f"task.path={data}", "task.max_answer_chars=4", "task.test_size=8",
                          "train.batch_size=4", "train.steps=2", f"train.output_dir={tmp_path / 'run'}")
    debug_launcher(train_recording_splits_and_warnings, args=(config, str(tmp_path)), num_processes=2)
    rank0, rank1 = (json.loads((tmp_path / f"rank{r}.json").read_text()) for r in (0, 1))
    recorded = json.loads((tmp_path / "run" / "splits.json").read_text())["folder"]
    assert rank0["folders"] == rank1["folders"] == [recorded]
    assert len(rank0["warnings"]) + len(rank1["warnings"]) == 1  # was: 2, one per process
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        report = evaluate_run(tmp_path / "run", out=tmp_path / "report", device="cpu")
    assert report["trained_puzzles_left_out"] == 0 and report["num_puzzles"] == 8
    assert not [w for w in caught if "changed since training" in str(w.message)]


def test_a_two_process_resume_on_an_edited_qa_file_says_so_once_and_records_both_splits(small_config, tmp_path):
    """Rows added to the qa file before a two-process --resume: the warning that the data changed
    since the checkpoint comes once, not once per process, and the record keeps both folders."""
    from hybrid.splits_record import recorded_splits

    rows = [f'{{"question": "What is {i} + 1?", "answer": "{i + 1}"}}\n' for i in range(40)]
    data = tmp_path / "qa.jsonl"
    data.write_text("".join(rows[:24]))
    qa = ("task=qa", f"task.path={data}", "task.max_answer_chars=4", "task.test_size=8", "train.batch_size=4")
    train(small_config(*qa, "train.steps=1"))
    [first] = recorded_splits(tmp_path / "run")
    data.write_text("".join(rows))
    config = small_config(*qa, "train.steps=2", "train.resume=latest")
    debug_launcher(train_recording_splits_and_warnings, args=(config, str(tmp_path), "puzzle splits changed"),
                   num_processes=2)
    rank0, rank1 = (json.loads((tmp_path / f"rank{r}.json").read_text()) for r in (0, 1))
    assert len(rank0["warnings"]) + len(rank1["warnings"]) == 1
    earlier, now = recorded_splits(tmp_path / "run")
    assert earlier == first and rank0["folders"] == rank1["folders"] == [str(now)] != [str(first)]


def build_with_slow_data(config_file: str, timeout: str):
    """Run by `accelerate launch` below: build a run (hybrid.train.build) in processes whose
    distributed timeout is `timeout` seconds, while generating the puzzle splits takes twice that."""
    from datetime import timedelta

    from accelerate import InitProcessGroupKwargs

    import hybrid.data
    from hybrid.config import from_yaml

    config, timeout = from_yaml(config_file), float(timeout)
    accelerator = Accelerator(cpu=True, kwargs_handlers=[InitProcessGroupKwargs(timeout=timedelta(seconds=timeout))])
    real = hybrid.data.generate_splits

    def slow(*args):
        time.sleep(2 * timeout)
        return real(*args)

    hybrid.data.generate_splits = slow
    task, splits, tensors, model, _ = hybrid.train.build(config, accelerator)
    assert accelerator.num_processes == 2 and len(tensors["train"]) == config.task.train_size
    hybrid.launch.finish(accelerator)


def test_the_processes_wait_for_the_main_one_to_prepare_data_longer_than_the_distributed_timeout(
        small_config, tmp_path, launch):
    """The main process generates the splits while the others wait on a lock, not in a barrier,
    which ended the run once generating took longer than the distributed timeout."""
    config_file = tmp_path / "config.yaml"
    config_file.write_text(to_yaml(small_config(f"train.data_dir={tmp_path / 'cache'}")))
    # 5 s: the timeout also bounds how far apart the two processes may reach the process group's setup;
    # at 2 s, two processes importing torch on two loaded cores missed each other (gloo: connection refused)
    launch(__file__, config_file, 5)
    assert len(list((tmp_path / "cache" / "datasets").iterdir())) == 1  # generated once, by one process


if __name__ == "__main__":
    build_with_slow_data(*sys.argv[1:])


def test_a_two_process_run_says_its_setting_warnings_once(small_config, tmp_path):
    """A warm-up that outlasts the run and fp16 on a CPU are the same settings on every process: each
    warning came once per process (N times with N processes), as the data's did before. Texts cut at
    backbone.max_length were said by each process for its shard of the embedding (its half of the
    counts): now once for each split, with the split's totals."""
    from datasets import load_from_disk
    from tokenizers import Tokenizer

    config = small_config("train.steps=1", "train.warmup=10", "train.mixed_precision=fp16", "train.checkpoint_every=0",
                          "backbone.max_length=12", f"train.output_dir={tmp_path / 'run'}")
    debug_launcher(train_recording_splits_and_warnings, args=(config, str(tmp_path), ""), num_processes=2)
    said = [m for r in (0, 1) for m in json.loads((tmp_path / f"rank{r}.json").read_text())["warnings"]]
    for warning in ("outlast the run", "mixed_precision=fp16 does nothing on cpu"):
        assert len([m for m in said if warning in m]) == 1, (warning, said)
    # What cutting each split's texts at 12 tokens loses, counted here with the backbone's tokenizer
    tokenizer = Tokenizer.from_file(str(Path(config.backbone.path) / "tokenizer.json"))
    folder = Path(json.loads((tmp_path / "run" / "splits.json").read_text())["folder"])
    for split in ("train", "test"):
        lengths = [len(tokenizer.encode(text).ids) for text in load_from_disk(folder / split)["question"]]
        lost, texts = sum(max(0, n - 12) for n in lengths), sum(n > 12 for n in lengths)
        cut = [m for m in said if m.startswith(split) and "truncated" in m]  # was: one a shard, with its half
        assert texts > 0 and len(cut) == 1, said
        assert cut[0].startswith(f"{split}: backbone.max_length=12 truncated {lost} tokens over {texts} texts"), said


def test_a_two_process_run_from_lora_weights_under_another_alpha_warns_once(small_config, tmp_path):
    """The checks before any data is built (train.init_from's LoRA alpha) and the backbone's (a max_length
    above the model's) run alike on every process, and each said its warnings: twice with two processes."""
    lora = ("backbone.lora.rank=4", "train.steps=1", "train.checkpoint_every=0")
    train(small_config(*lora, "backbone.lora.alpha=8", f"train.output_dir={tmp_path / 'lora'}"))
    config = small_config(*lora, "backbone.lora.alpha=16", f"train.init_from={tmp_path / 'lora' / 'final'}",
                          "backbone.max_length=5000", f"train.output_dir={tmp_path / 'run'}")
    debug_launcher(train_recording_splits_and_warnings, args=(config, str(tmp_path), ""), num_processes=2)
    said = [m for r in (0, 1) for m in json.loads((tmp_path / f"rank{r}.json").read_text())["warnings"]]
    for warning in ("trained with backbone.lora.alpha=8.0 and this config has backbone.lora.alpha=16.0",
                    "backbone.max_length=5000 is more than"):
        assert len([m for m in said if warning in m]) == 1, (warning, said)  # was: 2


def main_in_a_process(argv: list[str]):
    """hybrid/train.py's main, in a process of the launch, with the environment torchrun gives it."""
    end_if_stuck()
    AcceleratorState._reset_state(reset_partial_state=True)
    torch.set_num_threads(1)
    os.environ["RANK"] = os.environ["LOCAL_RANK"] = str(torch.distributed.get_rank())
    hybrid.train.main(argv)


def test_an_error_every_process_of_a_launch_hits_is_said_once(small_config, tmp_path, capfd):
    """A checkpoint or setting that fails once training starts fails alike in every process, and each said it:
    N messages, interleaved. The main process says it, and the launcher stops the others as it exits."""
    config_file, missing = tmp_path / "config.yaml", tmp_path / "no_run_here"
    config_file.write_text(to_yaml(small_config()))
    with pytest.raises(Exception, match="terminated with exit code 1"):
        debug_launcher(main_in_a_process, args=(["--config", str(config_file), "--resume", str(missing)],),
                       num_processes=2)
    said = [line for line in capfd.readouterr().err.splitlines() if line.startswith("error")]
    assert said == [f"error: checkpoint folder {missing} does not exist: give train.resume (--resume) a run folder, "
                    f"one of its checkpoints/step_* folders, or latest (the newest in train.output_dir)"]  # was: 2


def train_recording_logs(config, report_dir: str):
    """train(config) in a process of the launch, recording the records the LIBRARIES' loggers passed on, and
    their levels before and after."""
    end_if_stuck()
    AcceleratorState._reset_state(reset_partial_state=True)
    torch.set_num_threads(1)
    rank, records, handler = torch.distributed.get_rank(), [], logging.Handler()  # train() ends the process group
    handler.emit = records.append
    loggers = [logging.getLogger(name) for name in hybrid.launch.LIBRARIES]
    for logger in loggers:
        logger.addHandler(handler)
    before = [logger.level for logger in loggers]
    train(config)
    Path(report_dir, f"rank{rank}.json").write_text(json.dumps(
        {"logged": [r.getMessage() for r in records], "levels": [before, [logger.level for logger in loggers]]}))


def test_a_two_process_run_from_a_masked_lm_checkpoint_logs_its_load_report_once(small_config, tmp_path):
    """A backbone saved with a head (a masked LM: bert-base-uncased, roberta-base) loads without it and with a new
    pooler, and transformers logs that (a load report): each process logged it, N times with N processes."""
    from transformers import BertConfig, BertForMaskedLM

    from hybrid.tiny_backbones import char_tokenizer

    tokenizer, folder = char_tokenizer(encoder=True), tmp_path / "masked_lm"
    BertForMaskedLM(BertConfig(vocab_size=len(tokenizer), hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                               intermediate_size=64)).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    config = small_config(f"backbone.path={folder}", "train.steps=1", "train.checkpoint_every=0",
                          f"train.output_dir={tmp_path / 'run'}")
    debug_launcher(train_recording_logs, args=(config, str(tmp_path)), num_processes=2)
    rank0, rank1 = (json.loads((tmp_path / f"rank{r}.json").read_text()) for r in (0, 1))
    assert len([m for m in rank0["logged"] if "pooler.dense.weight" in m]) == 1, rank0["logged"]
    assert not [m for m in rank1["logged"] if "pooler.dense.weight" in m], rank1["logged"]  # was: the same report
    assert rank0["levels"][0] == rank0["levels"][1] and rank1["levels"][0] == rank1["levels"][1]  # as they were


def log_in_one_voice(report_dir: str):
    """A warning and an error from a module of each of the LIBRARIES, logged within one_voice in a process of the
    launch: the records its handler got, and whether transformers' progress bars were on within and after."""
    from transformers.utils import logging as transformers_logging

    end_if_stuck()
    rank, records, handler = torch.distributed.get_rank(), [], logging.Handler()
    handler.emit = records.append
    for name in hybrid.launch.LIBRARIES:
        logging.getLogger(name).addHandler(handler)
    with hybrid.launch.one_voice():
        for name in hybrid.launch.LIBRARIES:
            logging.getLogger(f"{name}.module").warning(f"{name} warns")
            logging.getLogger(f"{name}.module").error(f"{name} fails")
        bars = transformers_logging.is_progress_bar_enabled()
    Path(report_dir, f"rank{rank}.json").write_text(json.dumps(
        {"logged": [r.getMessage() for r in records], "bars": [bars, transformers_logging.is_progress_bar_enabled()]}))


def test_the_libraries_log_records_below_error_come_from_the_main_process_alone(tmp_path):
    """transformers, datasets, accelerate, peft and huggingface_hub log what every process meets alike: the main
    process shows it; another shows only errors, and no progress bar of transformers (loading the weights)."""
    debug_launcher(log_in_one_voice, args=(str(tmp_path),), num_processes=2)
    rank0, rank1 = (json.loads((tmp_path / f"rank{r}.json").read_text()) for r in (0, 1))
    libraries = hybrid.launch.LIBRARIES
    assert rank0["logged"] == [m for name in libraries for m in (f"{name} warns", f"{name} fails")]
    assert rank1["logged"] == [f"{name} fails" for name in libraries]  # was: the warnings too
    assert rank0["bars"] == [True, True] and rank1["bars"] == [False, True]  # was: [True, True]


def main_with_a_bug(argv: list[str], only_in: int | None):
    """main_in_a_process, whose training hits a bug (a RuntimeError) in process `only_in` (None: in every one),
    its traceback printed as Python prints the one that ends a program (torch's workers hand it to the launcher)."""
    rank = torch.distributed.get_rank()

    def train_with_a_bug(config):
        if only_in in (None, rank):
            raise RuntimeError(f"a bug in process {rank}")
        return {}  # a run that finished, as train's results say it

    hybrid.train.train = train_with_a_bug
    if only_in is not None:  # no main process failing, for the launcher to stop this one: not 10 s
        hybrid.launch.WAIT_FOR_MAIN_SECONDS = 0.5
    try:
        main_in_a_process(argv)
    except Exception:
        traceback.print_exc()
        raise


def test_a_bug_every_process_of_a_launch_hits_prints_one_traceback(tmp_path, capfd):
    """An exception no `fail` catches (a bug) ended every process alike, and each printed its traceback: N of
    them, interleaved. The main process prints its own, and the launcher stops the others as it exits."""
    with pytest.raises(Exception, match="Process 0 terminated with the following error"):
        debug_launcher(main_with_a_bug, args=([f"train.output_dir={tmp_path}"], None), num_processes=2)
    said = [line for line in capfd.readouterr().err.splitlines() if line.startswith(("RuntimeError", "error"))]
    assert said == ["RuntimeError: a bug in process 0"]  # was: process 1's too


def test_a_bug_only_another_process_hits_prints_its_traceback_naming_it(tmp_path, capfd):
    """A bug in process 1 alone (its shard, its device) is not lost for waiting on the main process: once the
    launcher has not stopped it, it says which process it is and prints its own traceback."""
    with pytest.raises(Exception, match="Process 1 terminated with the following error"):
        debug_launcher(main_with_a_bug, args=([f"train.output_dir={tmp_path}"], 1), num_processes=2)
    said = [line for line in capfd.readouterr().err.splitlines() if line.startswith(("RuntimeError", "error"))]
    assert said == ["error (process 1): the main process has not failed alike in 0.5 s; this process's traceback:",
                    "RuntimeError: a bug in process 1"]
