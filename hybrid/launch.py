"""The Accelerator a training run uses: made from the config, checked against how the script was
launched, and shut down so that no process hangs at exit; and the warnings, log records, errors and tracebacks
of a launch of several processes, said once, not once per process."""

from __future__ import annotations

import logging
import os
import sys
import time
import warnings
from contextlib import ExitStack, contextmanager
from typing import NoReturn

import torch
from accelerate import Accelerator
from accelerate.state import AcceleratorState
from accelerate.utils import (DataLoaderConfiguration, DistributedDataParallelKwargs, DistributedType,
                              get_cpu_distributed_information)

from hybrid.config import Config, ConfigError
from hybrid.console import plain_warnings
from hybrid.progress import transformers_bars_hidden


def accelerator_for(config: Config) -> Accelerator:
    """Devices, processes, mixed precision and tracker, as the launch and `config.train` say."""
    # DDP is not told to look for weights without gradient (find_unused_parameters): every trainable one
    # gets one at every step, LoRA's too (those the layer read never reaches are frozen: lora.freeze_unread),
    # but for a backbone whose path depends on its input (look_for_unused, once it is built).
    # The loader yields global batches (train.batch_size) and Accelerate splits each over the
    # processes, so the scheduler, counted in global supervision steps, steps once per step. Every process
    # must shuffle alike to take its slice of the same batch: the order's seed is given, not read
    # from torch's (which differs per process once training seeds it with the process index).
    batches = DataLoaderConfiguration(use_seedable_sampler=True, split_batches=True, data_seed=config.train.seed)
    # Accelerate keeps one state per process, with its mixed precision: a notebook's or a sweep's second train()
    # with another train.mixed_precision failed ("AcceleratorState has already been initialized and cannot be
    # changed, restart your runtime"). That part is made anew; the device and process group (PartialState) stay.
    wanted = config.train.mixed_precision
    if AcceleratorState._shared_state.get("_mixed_precision", wanted) != wanted:
        AcceleratorState._reset_state()
    accelerator = Accelerator(mixed_precision=config.train.mixed_precision, log_with=config.train.tracker,
                              project_dir=config.train.output_dir, dataloader_config=batches)
    check_set_up(accelerator, config)
    return accelerator


def look_for_unused(accelerator: Accelerator, backbone) -> None:
    """DDP told to look for weights without gradient at every step (find_unused_parameters) where some may get
    none: LoRA weights inside the blocks backbone.layer reads that lora.freeze_unread's probe text did not reach,
    such as the experts a mixture of experts' router did not send it to. They stay trainable, and a batch none of
    whose tokens reach one gives it no gradient, which stops DDP at the next step unless it looks. Said once; other
    runs do not pay the graph walk."""
    unreached = getattr(backbone, "lora_unreached", 0)  # `chars` has no LoRA
    if not unreached:
        return
    accelerator.ddp_handler = DistributedDataParallelKwargs(find_unused_parameters=True)  # read by prepare
    ddp = accelerator.num_processes > 1 and accelerator.distributed_type != DistributedType.FSDP
    accelerator.print(f"backbone.lora: {unreached} LoRA weights in the blocks backbone.layer reads got no gradient "
                      f"from a probe text (its path depends on the input, as a router's choice of experts does): they "
                      f"stay trainable, and train in the batches that reach them"
                      + ("; DDP looks for weights without gradient at every step" if ddp else ""))


def check_set_up(accelerator: Accelerator, config: Config) -> None:
    """What Accelerate set up, against the launch and the config, before anything is built."""
    launched = int(os.environ.get("WORLD_SIZE", "1"))
    if launched != accelerator.num_processes:  # else each process ran alone, and one stopped on the other's lock
        raise ConfigError(f"accelerate launch started {launched} processes, but Accelerate made each a run of its own "
                          f"on {accelerator.device.type}: on a machine without GPUs, launch them with "
                          f"ACCELERATE_USE_CPU=1 accelerate launch --multi_gpu ... (docs/scaling.md)")
    if accelerator.distributed_type == DistributedType.FSDP and config.train.ema:  # else a crash once the data is built
        raise ConfigError(f"train.ema={config.train.ema}: the EMA is a whole copy of the trained module, which FSDP "
                          f"shards over the processes (and cannot copy); run FSDP with train.ema=0, or use DDP "
                          f"(configs/accelerate/multi_gpu.yaml)")
    # fp16 on a CPU: Accelerate skips it. Alike on every process: the main one says it
    if config.train.mixed_precision != "no" and not accelerator.native_amp and accelerator.is_main_process:
        warnings.warn(f"train.mixed_precision={config.train.mixed_precision} does nothing on "
                      f"{accelerator.device.type}: training runs in fp32 (on a CPU, bf16 works)")


class ProcessWarning(UserWarning):
    """A warning about what one process of a launch alone knows (its shard of the data, its device): every
    process that has it says it. Other warnings are about what every process checks alike (the settings, the
    data, the run folder), which the main process says for all (`one_voice`)."""


# How long a process other than the main one waits before it says an error and ends (`fail`): an error every
# process hits alike is said by the main one, whose exit makes the launcher stop the others first.
WAIT_FOR_MAIN_SECONDS = 10.0


def process_index() -> int:
    """This process's rank in its launch, known before any Accelerator exists: the process group's once one is up
    (debug_launcher, notebook_launcher), else what the launcher set (accelerate launch and torchrun: RANK; mpirun's
    own); 0 for a process alone."""
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        return torch.distributed.get_rank()
    return get_cpu_distributed_information().rank


# The libraries whose log records (a checkpoint's load report, a retried download) every process of a launch
# writes alike, through Python logging: their own loggers, outside the warnings one_voice filters.
LIBRARIES = ("transformers", "datasets", "accelerate", "peft", "huggingface_hub")


@contextmanager
def one_voice():
    """Warnings said once per launch, not once per process: each process checks the same settings, data and files,
    so N processes said each warning N times (interleaved). Within this block a process other than the main one
    shows only its ProcessWarnings; the filters still apply on it (`python -W error` raises there too). Nor does it
    show the LIBRARIES' log records below ERROR, or transformers' progress bars (loading the backbone's weights)."""
    with warnings.catch_warnings(), ExitStack() as restored:
        if process_index() != 0:
            shown = warnings.showwarning

            def own_only(message, category, *args, **kwargs):
                if issubclass(category, ProcessWarning):
                    shown(message, category, *args, **kwargs)

            warnings.showwarning = own_only
            restored.enter_context(libraries_quiet())
        yield


@contextmanager
def threads_kept():
    """torch's number of threads as it was before the block: a run sets it for itself (train.cpu_threads, else the
    cores shared out among the processes), and a notebook or a sweep script calling train() kept the run's after."""
    threads = torch.get_num_threads()
    try:
        yield
    finally:
        torch.set_num_threads(threads)


@contextmanager
def on_command_line():
    """one_voice for hybrid/train.py's command, whose warnings are also said in one line each (plain_warnings);
    train() called from a notebook or a test gets one_voice alone."""
    with plain_warnings(), one_voice():
        yield


@contextmanager
def libraries_quiet():
    """The LIBRARIES' loggers at ERROR at least and transformers' progress bars off, as they were after."""
    import datasets.utils.logging  # noqa: F401  sets its level as it is imported (huggingface_hub too, below)
    from transformers.utils import logging as transformers_logging

    transformers_logging.get_verbosity()  # sets its level at its first use: here, not over ours within the block
    loggers = [logging.getLogger(name) for name in LIBRARIES]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(max(logger.getEffectiveLevel(), logging.ERROR))
    try:
        with transformers_bars_hidden():
            yield
    finally:
        for logger, level in zip(loggers, levels):
            logger.setLevel(level)


def wait_for_main() -> int:
    """This process's rank, once a process other than the main one has waited WAIT_FOR_MAIN_SECONDS for the
    launcher to stop it: an error every process hits alike is then said once, by the main process (`fail`)."""
    rank = process_index()
    if rank != 0:
        time.sleep(WAIT_FOR_MAIN_SECONDS)
    return rank


def fail(message: str) -> NoReturn:
    """End this process with `error: message` and status 1, said once per launch: an error that every process
    hits alike (a setting, a checkpoint) is said by the main process, and its exit makes the launcher (torchrun,
    debug_launcher, mpirun) stop the others. Another process waits WAIT_FOR_MAIN_SECONDS for that, then says it
    itself, naming itself: an error only it hit (its shard, its device) is seen, not just its exit status."""
    rank = wait_for_main()
    sys.exit(f"error{f' (process {rank})' if rank else ''}: {message}")


def before_traceback() -> None:
    """Called as an uncaught exception (a bug) ends a process, before Python prints its traceback: as `fail` says
    an error, once per launch. N processes printed N tracebacks of one bug, interleaved. The main process's comes at
    once; another process waits for the launcher to stop it and, still running, names itself above its own: a bug
    only it hit (its shard, its device) is seen in full."""
    rank = wait_for_main()
    if rank:
        print(f"error (process {rank}): the main process has not failed alike in {WAIT_FOR_MAIN_SECONDS:g} s; this "
              f"process's traceback:", file=sys.stderr, flush=True)


def finish(accelerator: Accelerator) -> None:
    """End a run: every process waits for the others, then the process group shuts down.

    The caller drops its reference to the DDP-wrapped model first; `free_memory` drops what
    Accelerate prepared and collects any reference cycle still holding the wrapper, so it is
    freed while the group is still registered. Freed after, its reducer would destroy a gloo
    group holding the GIL while a gloo thread waits for the GIL to free the last collective's
    tensors: a hang at exit (pytorch/pytorch#56297; 4 runs in 26 of a 2-process CPU test)."""
    accelerator.wait_for_everyone()
    accelerator.free_memory()
    accelerator.end_training()
