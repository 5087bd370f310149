"""Train the hybrid: `accelerate launch hybrid/train.py [group=preset] [key=value ...]`.

The same script runs on one CPU, one GPU, many GPUs or many nodes. Each batch runs up to
N_sup deep-supervision steps; every step has its own loss and optimizer step and hands its
detached latents (y, z) to the next, and a sample leaves the batch once its halting head says
stop, so later steps cost only what is still running.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

if __package__ in (None, ""):  # run as a script (accelerate launch hybrid/train.py)
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch
from accelerate import Accelerator
from accelerate.utils import set_seed
from torch.utils.data import DataLoader

from eval.report import headline
from eval.tasks import PuzzleError, make_task
from hybrid import checkpoint, launch, resume_settings, run_folder, trained_on
from hybrid.backbone import load_for
from hybrid.cache import backbone_inputs
from hybrid.config import Config, ConfigError, check_tracker_installed, given_path, load_config, presets_help, to_yaml
from hybrid.data import batches_from, build_splits, check_batch_fits, split_wordings
from hybrid.ema import make_ema
from hybrid.inference import load_init, save_pretrained
from hybrid.lock import main_process_first
from hybrid.lora import with_backbone
from hybrid.model import HybridModel
from hybrid.progress import progress_bar
from hybrid.splits_record import recorded_splits
from hybrid.summary import print_summary, say_setup, start_trackers
from hybrid.supervision import NonFiniteLoss, make_optimizer, make_scheduler, supervise


def build(config: Config, accelerator: Accelerator):
    """Task, data (generated and embedded once, cached), model and the frozen backbone."""
    task = make_task(config.task)
    # The caller's seed alone decides the initial weights (built on the CPU): a backbone's first
    # use may draw random numbers (a tiny backbone's build reseeds torch), later uses do not.
    with torch.random.fork_rng(devices=[]):
        # The main process generates data and converts GGUF weights first; the others wait on a lock.
        with main_process_first(accelerator, run_folder.run_lock(config.train.output_dir, "preparing")):
            splits = build_splits(task, config.task, config.train.seed, config.train.data_dir)
            check_batch_fits(config.train, accelerator.num_processes, len(splits["train"]))
            backbone = load_for(config, task).to(accelerator.device)
    model = HybridModel.for_task(config, backbone.hidden_size, task)
    with torch.random.fork_rng(devices=[]):  # after the model: a setting no model takes fails before minutes of this
        tensors = backbone_inputs(backbone, splits, task.num_slots, config, accelerator)  # every process embeds a shard
    model = with_backbone(model, backbone, config.backbone, training=True)  # backbone.lora: trains inside the model
    return task, splits, tensors, model, backbone


def train(config: Config) -> dict:
    if not isinstance(config, Config):  # overrides or a file name failed on their missing `.train`
        raise TypeError(f"train takes a Config: train(load_config([...overrides], base=file)) from hybrid.config, "
                        f"not a {type(config).__name__}")
    with launch.one_voice(), launch.threads_kept():  # each warning once per launch; the caller's torch threads after
        check_tracker_installed(config.train)  # else Accelerate warns once and logs nothing
        accelerator = launch.accelerator_for(config)
        if config.train.resume:  # a checkpoint that is not there is named first, not the output_dir another run is in
            checkpoint.resume_target(config.train.resume, config.train.output_dir)
        with run_folder.running_in(accelerator, config.train.output_dir):  # before anything is generated or moved
            return run(config, accelerator)


class ReportedInterrupt(KeyboardInterrupt):
    """A stop outside the training loop, said in one line; an interrupt to a Python caller; args[0]: its exit status."""


def run(config: Config, accelerator: Accelerator) -> dict:
    """Build, train, evaluate and save, in the run's own output_dir. Outside the training loop (whose
    GracefulStop saves the batch instead) SIGTERM stops the run as Ctrl-C does: a line, not silence."""
    try:  # minutes of generating and embedding data
        with checkpoint.sigterm_raises():
            state, model, optimizer, scheduler, loader, ema = set_up(config, accelerator)
    except KeyboardInterrupt as stop:  # nothing trained, nothing to save: a line, not a traceback
        accelerator.print(f"\n{checkpoint.stopped_by(stop)[0]}: stopped before training started, no checkpoint saved; "
                          f"the puzzle splits and backbone states made so far stay in {config.train.data_dir} for the "
                          f"next run", file=sys.stderr)
        raise ReportedInterrupt(checkpoint.stopped_by(stop)[1]) from None
    try:
        figures = train_loop(state, model, optimizer, scheduler, loader, ema)
    except KeyboardInterrupt as stop:  # Ctrl-C (or a bench's SIGTERM, SIGHUP) again while its batch saved: at once
        found = checkpoint.checkpoints(state.out_dir)  # complete ones only: a save cut short is not among them
        kept = (f"the newest checkpoint is {found[-1]}; continue from it with --resume {state.out_dir}" if found
                else "no checkpoint was saved yet")
        name, status = checkpoint.stopped_by(stop)
        accelerator.print(f"\n{name} again: stopped at once, without saving the batches since the last checkpoint; "
                          f"{kept}", file=sys.stderr)
        raise ReportedInterrupt(status) from None
    if figures is None:  # SIGTERM or Ctrl-C; no final evaluation: a preempted job has seconds to exit
        path = state.save()  # already saved in the loop; this names it
        accelerator.print(f"{state.stopped_by}: stopped after batch {state.progress.step}, state saved in {path}; "
                          f"continue with --resume {state.out_dir}")  # a bare --resume resumes runs/default
        results = {"interrupted": True, "stopped_by": state.stopped_by, "batches": state.progress.step,
                   "checkpoint": str(path)}
    else:
        try:
            with checkpoint.sigterm_raises():
                results = evaluate_and_save(state, figures, accelerator.unwrap_model(model))
        except KeyboardInterrupt as stop:  # the end state was saved first: nothing trained is lost
            accelerator.print(f"\n{checkpoint.stopped_by(stop)[0]} during the final evaluation: the trained state is "
                              f"saved in {state.save()}; --resume {state.out_dir} evaluates it and writes final/",
                              file=sys.stderr)
            raise ReportedInterrupt(checkpoint.stopped_by(stop)[1]) from None
    del model
    launch.finish(accelerator)  # final/ exists for every process once train() returns
    return results


def set_up(config: Config, accelerator: Accelerator) -> tuple:
    """The run up to its first batch: data, model, the weights it starts from, prepared for Accelerate."""
    if accelerator.device.type == "cpu":
        torch.set_num_threads(config.train.cpu_threads or max(1, (os.cpu_count() or 1) // accelerator.num_processes))
    init = run_folder.check_before_building(config)
    set_seed(config.train.seed)
    task, splits, tensors, model, backbone = build(config, accelerator)
    # Training's own draws (dropout) start from the seed too, plus the process index: the same
    # masks on every process would repeat one dropout pattern across the global batch.
    set_seed(config.train.seed, device_specific=True)
    source = load_init(model, init, config, backbone) if init is not None else None
    trained_before = checkpoint.splits_of(init.folder) if init is not None else []  # read before claim may move them
    started_from = run_folder.claim(config, accelerator, init.folder if init else None)  # only now, once all of that works
    if started_from is not None:
        accelerator.print(f"weights from {started_from} ({source})")
    # Its own generator: starting an iterator draws a seed from it, not from the global one that
    # dropout uses, so a run resumed mid-epoch drops the same units as an unbroken run.
    loader = DataLoader(tensors["train"], batch_size=config.train.batch_size, shuffle=True, drop_last=True,
                        num_workers=config.train.num_workers, generator=torch.Generator())
    optimizer = make_optimizer(model, config, accelerator.device)
    scheduler = make_scheduler(optimizer, config)
    launch.look_for_unused(accelerator, backbone)  # a LoRA backbone whose path depends on the input
    model, optimizer, loader, scheduler = accelerator.prepare(model, optimizer, loader, scheduler)
    # Evaluation runs a LoRA backbone in `read`, not in forward: FSDP2 must gather its weights there too
    if getattr(accelerator, "is_fsdp2", False):  # (accelerate >= 1.6)
        from torch.distributed.fsdp import register_fsdp_forward_method
        register_fsdp_forward_method(model, "read")
    ema = make_ema(accelerator.unwrap_model(model), config.train.ema) if config.train.ema else None
    eval_model = ema.module if ema is not None else accelerator.unwrap_model(model)
    state = run_folder.RunState(config, accelerator, task, splits, tensors, eval_model, trained_on.record_of(backbone))
    accelerator.register_for_checkpointing(state.progress, *([ema] if ema is not None else []))
    if config.train.resume:
        loaded = run_folder.resume_here(accelerator, config, state.progress, backbone)
        trained_before = run_folder.splits_resumed(loaded, splits.folder, config, accelerator.is_main_process)
        resume_settings.schedule_on_resume(loaded, config, scheduler, state.progress.step, accelerator.is_main_process)
        state.saved = state.progress.step, loaded  # a resumed batch's checkpoint exists: keep it
    state.earlier_splits = trained_before  # their training puzzles are left out of its evaluations
    state.write_records()
    if config.train.tracker:
        start_trackers(accelerator, config, first_batch=state.progress.step + 1)
    say_setup(accelerator, config)
    return state, model, optimizer, scheduler, loader, ema


def train_loop(state: run_folder.RunState, model, optimizer, scheduler, loader, ema) -> dict | None:
    """Batches until train.steps, train.time_limit or SIGTERM / Ctrl-C (then None): each is one `supervise`,
    its log line and, when due, a periodic evaluation and a checkpoint. Returns the loop's figures."""
    config, accelerator, progress = state.config, state.accelerator, state.progress
    bar = progress_bar(total=config.train.steps, initial=progress.step, desc="training",
                       disable=not accelerator.is_main_process)
    start, stopped_early, interrupted = time.perf_counter(), False, False
    # The share of batch x N_sup supervision steps computed (halted samples leave), summed over this
    # call's batches (progress.step - first): a list of them would grow by a float per batch.
    work, first = 0.0, progress.step
    waited, evaluating = {"seconds": 0.0}, 0.0  # for batches from the loader; in periodic evaluations
    batches = batches_from(progress, loader, accelerator, waited) if progress.step < config.train.steps else []
    # Finish the batch, save, exit; the bar closed however it ends (left open by an error, later bars went a line down)
    with checkpoint.GracefulStop(announce=accelerator.is_main_process) as signalled, bar:
        for batch in batches:
            model.train()
            try:
                stats = supervise(model, batch, optimizer, scheduler, ema, accelerator, config)
            except NonFiniteLoss as err:
                fp32 = " or use train.mixed_precision=no" if config.train.mixed_precision != "no" else ""
                raise FloatingPointError(f"{err} in batch {progress.step + 1}; lower train.lr{fp32}. "
                                         f"Last good state: {state.save()}") from None
            progress.step += 1
            # Global numbers (means over processes) for the log, and one decision to stop for all
            # processes: one that stopped alone would leave the others waiting in an all-reduce.
            values = torch.tensor([float(v) for v in stats.values()], device=accelerator.device)
            stats = dict(zip(stats, accelerator.reduce(values, "mean").tolist()))
            work += stats["work"]
            timed_out = bool(config.train.time_limit) and time.perf_counter() - start - evaluating > config.train.time_limit
            interrupted, timed_out = signalled.agreed(accelerator, timed_out)  # SIGTERM, Ctrl-C, SIGHUP in any process
            # Drawn by update, as often as tqdm's mininterval lets: set_postfix's own redraw wrote a line
            # per batch into a log file (a cluster job's), whatever mininterval or TQDM_MININTERVAL said
            bar.set_postfix(loss=f"{stats['loss']:.3f}", exact=f"{stats['exact_last']:.2f}", sup=f"{stats['steps']:.0f}",
                            work=f"{stats['work']:.2f}", refresh=False)
            bar.update()
            log = {f"train/{k}": v for k, v in stats.items()} | {"train/lr": scheduler.get_last_lr()[0]}
            done = progress.step >= config.train.steps or timed_out
            if config.train.eval_every and progress.step % config.train.eval_every == 0 and not (done or interrupted):
                began = time.perf_counter()
                shown, interrupted = state.periodic_eval(signalled, bar)  # a stop request cuts it short: none shown
                evaluating += time.perf_counter() - began  # not training time: reported on its own
                log |= {f"eval/{k}": v for k, v in shown.items()}
            accelerator.log(log, step=progress.step)
            every = config.train.checkpoint_every
            if interrupted or every and progress.step % every == 0:
                state.save()
            if done or interrupted:
                stopped_early = timed_out and progress.step < config.train.steps
                break
    if interrupted:
        state.stopped_by = signalled.signal_name  # the signal another process got, where this one got none
        return None
    # train_seconds and work cover this call's batches, those after resumed_at (0: a run from the start)
    return {"batches": progress.step, "resumed_at": first, "train_seconds": time.perf_counter() - start - evaluating,
            "data_seconds": waited["seconds"], "eval_seconds": evaluating, "stopped_by_time_limit": stopped_early,
            "work": work / (progress.step - first) if progress.step > first else None}


def evaluate_and_save(state: run_folder.RunState, figures: dict, trained: torch.nn.Module) -> dict:
    """The end of a run: its last checkpoint, the final evaluation, final/ and metrics.json."""
    config, accelerator, out_dir = state.config, state.accelerator, state.out_dir
    state.save()  # the end state, resumable (with train.checkpoint_every=0 the only checkpoint); a no-op if just saved
    results = {"test": state.run_eval(desc="final evaluation")}
    if "test_heldout" in state.tensors:
        results["test_heldout"] = state.run_eval("test_heldout", desc="held-out wordings")
    results |= figures | {"num_processes": accelerator.num_processes, "global_batch_size": config.train.batch_size,
                          "trainable_parameters": sum(p.numel() for p in trained.parameters() if p.requires_grad)}
    # FSDP holds each process's shard of every weight: gathered whole (by every process) for final/
    whole = accelerator.get_state_dict(trained) if getattr(accelerator, "is_fsdp2", False) else None
    if accelerator.is_main_process:
        try:
            save_pretrained(state.eval_model, config, out_dir / "final", state.backbone_record,  # for from_pretrained
                            recorded_splits(out_dir), weights=whole, lost_weights_ok=True)
            checkpoint.write_text(out_dir / "metrics.json", json.dumps(results, indent=2))
        except OSError as err:  # a full disk, or final/ holding what no run wrote there (FileExistsError)
            fix = "once what is at final/ now is moved away" if isinstance(err, FileExistsError) else "with room there"
            raise checkpoint.Unwritable(f"{err}. The trained state is saved in {state.save()}: {fix}, the same "
                                        f"command with --resume writes final/ and metrics.json from it (evaluating "
                                        f"again)") from err
        final = {f"final/{k}": v for k, v in headline(results["test"]).items()}
        if "test_heldout" in results:  # beside the held-out puzzles, as the summary shows it
            final |= {f"final_heldout_wordings/{k}": v for k, v in headline(results["test_heldout"]).items()}
        accelerator.log(final, step=state.progress.step)
        print_summary(config, results, out_dir)
    return results


def parse_args(argv: list[str] | None = None) -> Config:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog=presets_help())
    parser.add_argument("overrides", nargs="*", help="group=preset or dotted key=value, e.g. reasoner.T=3")
    parser.add_argument("--config", action="append", type=given_path, help="a YAML file merged before the overrides")
    parser.add_argument("--resume", nargs="?", const="latest", type=given_path,
                        help="resume from a checkpoint folder or a run folder (default: the newest in train.output_dir)")
    parser.add_argument("--print-config", action="store_true",
                        help="print the resolved config (as the run saves it in config.yaml) and exit without training")
    argv = list(sys.argv[1:] if argv is None else argv)
    for i, item in enumerate(argv[:-1]):
        if item == "--resume" and "=" in argv[i + 1] and not Path(argv[i + 1]).exists():
            argv[i] = "--resume=latest"  # `--resume train.steps=800`: an override, kept in its place, not a folder
    args = parser.parse_intermixed_args(argv)  # overrides may come before and after the flags
    if len(args.config or []) > 1:  # argparse kept the last and dropped the others without a word
        raise ConfigError(f"--config is given twice ({', '.join(args.config)}): give one, the other's as overrides")
    [base] = args.config or [None]
    overrides = args.overrides + ([f"train.resume={args.resume}"] if args.resume else [])
    config = (base is None and run_folder.saved_config_to_resume(overrides)) or load_config(overrides, base)
    if args.print_config:  # like --help: nothing generated, loaded or written
        split_wordings(make_task(config.task), config.task)  # but the task checks the run makes first (knobs, wordings): cheap
        check_tracker_installed(config.train)  # and the tracker's, as training's first step
        if os.environ.get("RANK", "0") == "0":  # under accelerate launch, one copy (not one per process)
            print(to_yaml(config), end="")
        sys.exit(0)
    return config


def main(argv: list[str] | None = None) -> None:
    with launch.on_command_line():  # one_voice for the command line's warnings too, each in one line
        try:
            if stopped := train(parse_args(argv)).get("stopped_by"):  # saved and said; not 0: `train && eval` stops
                sys.exit(checkpoint.exit_status(stopped))  # as a shell reports a process ended by that signal
        except (ConfigError, PuzzleError, checkpoint.CheckpointError, FloatingPointError, checkpoint.Unwritable) as err:
            launch.fail(str(err))  # a bad setting, puzzle, checkpoint, loss or write: the message says which, once
        except ReportedInterrupt as stop:
            sys.exit(stop.args[0])  # as a shell reports a process ended by that signal
        except Exception:  # a bug: its traceback once, the main process's or that of the one process that hit it
            launch.before_traceback()
            raise


if __name__ == "__main__":
    main()
