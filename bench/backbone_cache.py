"""Training throughput with the embedding cache vs without it, for MiniLM and SmolLM2.

    python bench/backbone_cache.py                   # both backbones, ~12 min on 2 shared cores
    python bench/backbone_cache.py --backbones minilm --steps 3
    python bench/backbone_cache.py --init minilm=runs/default smollm2=runs/smollm2 \
        --out bench/results/backbone_cache_trained.json
    python bench/backbone_cache.py --backbones minilm --init minilm=runs/default --set train.mixed_precision=bf16 \
        --out bench/results/backbone_cache_trained_bf16.json
    python bench/backbone_cache.py --warmup 2 --set reasoner.compile=true     # compile before timing

Each backbone trains the default task (6x6 Sudoku, configs/default.yaml) twice with the same
seed and settings: once from cached states (`backbone.cache=true`, the default: the backbone
embeds every puzzle once, before training) and once running the backbone on every batch
(`backbone.cache=false`). Throughput is puzzles per second of the training loop alone
(train_seconds from metrics.json); setup (loading, the one-off embedding, final evaluation) is
reported apart. The training set is cut to `--steps` batches so the one-off embedding stays
short: throughput does not depend on it. Results go to stdout and to a JSON file.

From scratch no puzzle halts yet, so every batch runs all N_sup supervision steps: the cache's
smallest gain. `--init PRESET=RUN ...` starts both runs of that backbone from a model trained
on it for the default task (`train.init_from`): most puzzles then halt after a step or two and
leave the batch, as late in training, so the reasoner costs less per batch and the backbone's
share (the cache's gain) grows.

Each run also splits a batch's time into waiting for data (the backbone's forward without the
cache, reading the entry with it) and the rest (the reasoner's supervision steps), so the table
shows the bound on any cache's gain: batch time without the cache over the reasoner's time.
It also counts the matrix-multiply FLOPs of one batch (torch.utils.flop_counter) for the
backbone's forward and for the reasoner's supervision steps (forward and backward, as many
puzzle-steps as the run computed): the FLOP bound is the speedup a cache would give if both ran
at the same FLOP rate, so it holds on any hardware, where the measured bound holds on this one.

With `reasoner.compile=true` the first batches compile the reasoner. `--warmup N` first trains N
untimed batches in the same process, so the timed runs reuse the compiled graphs.
The JSON goes to bench/results/backbone_cache.json only at the published figures' settings, else to
runs/bench/backbone_cache.json (`--out` anywhere): bench/README.md.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")


def setting(preset: str, args) -> list[str]:
    """The backbone and data every run of `preset` uses (and the FLOP count, so it counts them)."""
    return [f"backbone={preset}", f"task.train_size={args.batch_size * args.steps}", f"task.test_size={args.test_size}",
            f"train.data_dir={args.data_dir}"]


def init_from(preset: str, args) -> list[str]:
    """The train.init_from override `--init` gives `preset`'s runs (none: from scratch)."""
    return [f"train.init_from={args.init[preset]}"] if preset in args.init else []


def run(preset: str, cache: bool, args, out_root: Path, steps: int | None = None) -> dict:
    """One training run of `steps` batches (default --steps) on the same data as every run."""
    from common import trained

    from hybrid.config import load_config
    from hybrid.train import train

    batch, steps = args.batch_size, steps or args.steps
    config = load_config([
        *setting(preset, args), f"backbone.cache={str(cache).lower()}", f"train.batch_size={batch}",
        f"train.steps={steps}", "train.eval_every=0", "train.checkpoint_every=0", "train.tracker=null",
        f"train.output_dir={out_root / f'{preset}-{cache}-{steps}'}",
        *init_from(preset, args), *args.set,
    ])
    start = time.perf_counter()
    metrics = trained(train(config))  # a SIGTERM or Ctrl-C there stops the bench, not this run alone
    wall = time.perf_counter() - start
    return {"backbone": preset, "path": config.backbone.path, "cache": cache, "batches": metrics["batches"],
            "batch_size": batch, "train_seconds": metrics["train_seconds"],
            "puzzles_per_second": metrics["batches"] * batch / metrics["train_seconds"],
            "data_seconds": metrics["data_seconds"],  # waiting for batches: the backbone, without the cache
            "setup_and_eval_seconds": wall - metrics["train_seconds"], "work": metrics.get("work")}


@contextlib.contextmanager
def counting_flops():
    """A FlopCounterMode that sees attention: scaled_dot_product_attention runs its math backend
    (the same products as explicit matmuls), as the counter has no formula for the CPU's fused
    attention kernel and counted none of the backbone's (or an attention mixer's) attention."""
    from torch.nn.attention import SDPBackend, sdpa_kernel
    from torch.utils.flop_counter import FlopCounterMode

    with sdpa_kernel(SDPBackend.MATH), FlopCounterMode(display=False) as counter:
        yield counter


def matmul_flops(preset: str, args, work: float) -> dict:
    """Matrix-multiply FLOPs of one training batch of the default task: the backbone's forward
    (what the cache saves) and the reasoner's supervision steps, `work` x N_sup x batch
    puzzle-steps of forward + backward (what is left). Counted on the first batch of puzzles."""
    import torch
    from torch.utils.data import default_collate

    from eval.tasks import make_task
    from hybrid.backbone import load_for
    from hybrid.cache import LiveStates
    from hybrid.config import load_config
    from hybrid.data import build_splits
    from hybrid.model import HybridModel
    from reasoner import stablemax_cross_entropy

    batch = args.batch_size
    config = load_config([*setting(preset, args), *args.set,
                          "reasoner.compile=false"])  # the same FLOPs; the counter sees eager operations only
    task = make_task(config.task)
    backbone = load_for(config, task)
    live = LiveStates(backbone, build_splits(task, config.task, config.train.seed, config.train.data_dir)["train"],
                      task.num_slots)
    with counting_flops() as counter:
        states, mask, token_slot, labels, _ = default_collate(live.__getitems__(list(range(batch))))
    backbone_flops = counter.get_total_flops()
    model = HybridModel.for_task(config, backbone.hidden_size, task)
    carry = model.initial_carry(batch, task.num_slots, states.device)
    with torch.no_grad():  # as hybrid.supervision.supervise reads a batch: once, weight-free, in fp32
        read = model.read(states.float(), mask, token_slot.long())
    with counting_flops() as counter:  # one supervision step of the whole batch
        out = model(*read, carry.y, carry.z)
        stablemax_cross_entropy(out.logits, labels).mean().backward()
    per_puzzle_step = counter.get_total_flops() / batch
    reasoner_flops = work * config.reasoner.N_sup * batch * per_puzzle_step
    return {"backbone_gflop_per_batch": backbone_flops / 1e9, "reasoner_gflop_per_puzzle_step": per_puzzle_step / 1e9,
            "reasoner_gflop_per_batch": reasoner_flops / 1e9,
            "flop_bound": (backbone_flops + reasoner_flops) / reasoner_flops}


def run_of(preset: str, results: list[dict], cache: bool) -> dict:
    return next(r for r in results if r["backbone"] == preset and r["cache"] == cache)


def speedups(preset: str, results: list[dict]) -> dict:
    """`preset`'s runs with and without the cache compared: the speedup, and where a batch's time goes."""
    cached, live = run_of(preset, results, cache=True), run_of(preset, results, cache=False)
    per_batch = lambda r, seconds: seconds / r["batches"]  # noqa: E731
    reasoner = per_batch(cached, cached["train_seconds"] - cached["data_seconds"])
    return {"cached_puzzles_per_second": cached["puzzles_per_second"],
            "uncached_puzzles_per_second": live["puzzles_per_second"],
            "speedup": cached["puzzles_per_second"] / live["puzzles_per_second"],
            # where a batch's time goes: no cache can beat skipping the read entirely
            "backbone_seconds_per_batch": per_batch(live, live["data_seconds"]),
            "cache_read_seconds_per_batch": per_batch(cached, cached["data_seconds"]),
            "reasoner_seconds_per_batch": reasoner,
            "bound": per_batch(live, live["train_seconds"]) / reasoner}


def main(argv: list[str] | None = None) -> dict:
    from common import at_least_zero, built_first, json_out, positive, results_path, written

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backbones", nargs="+", default=["minilm", "smollm2"], help="backbone presets")
    parser.add_argument("--steps", type=positive, default=5, help="training batches per run (5: as docs/backbones.md's figures)")
    parser.add_argument("--batch-size", type=positive, default=128, help="the default train.batch_size")
    parser.add_argument("--test-size", type=positive, default=32, help="puzzles in the (untimed) final evaluation")
    parser.add_argument("--init", nargs="*", default=[], metavar="PRESET=RUN",
                        help="start that backbone's runs from a model trained on it (train.init_from)")
    parser.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE",
                        help="config overrides for every run, e.g. train.mixed_precision=bf16")
    parser.add_argument("--warmup", type=at_least_zero, default=0, metavar="BATCHES",
                        help="untimed training batches first, in this process: with reasoner.compile=true they "
                             "compile the reasoner once, so the timed runs measure training, not compilation")
    parser.add_argument("--data-dir", default="~/.cache/hybrid-trm", help="datasets, embedding cache, GGUF conversions")
    parser.add_argument("--out", type=json_out, help="JSON path (default: see bench/README.md)")
    args = parser.parse_args(argv)
    out = args.out or results_path("backbone_cache", parser, args, same_figures=("data_dir",))
    if not all("=" in item for item in args.init):
        parser.error("--init takes PRESET=RUN pairs, e.g. --init minilm=runs/default")
    args.init = dict(item.split("=", 1) for item in args.init)
    for preset in sorted(args.init.keys() - set(args.backbones)):  # a typo would be ignored, the runs start from scratch
        parser.error(f"--init {preset}: not one of --backbones ({' '.join(args.backbones)})")
    from hybrid.config import load_config

    configs = built_first(parser, "--backbones", args.backbones,
                          lambda preset: load_config([*setting(preset, args), *init_from(preset, args), *args.set]))
    from hybrid.checkpoint import CheckpointError
    from hybrid.config import ConfigError
    from hybrid.inference import read_saved
    from hybrid.resume_settings import check_init_settings

    for preset, folder in args.init.items():  # else a traceback when that backbone's turn came, after the runs before it
        try:
            check_init_settings(read_saved(folder), configs[preset])
        except (CheckpointError, ConfigError) as err:
            parser.error(f"--init {preset}={folder}: {err}")
    out_root = Path(tempfile.mkdtemp(prefix="hybrid-trm-bench-cache-"))
    import torch

    from common import machine, write_json, write_partial  # with the command and the machine, as every bench JSON

    from hybrid.checkpoint import sigterm_raises

    results, summary = [], {}

    def report() -> dict:
        return {"summary": summary, "runs": results, "steps": args.steps, "batch_size": args.batch_size,
                "init": args.init, "overrides": args.set, "warmup": args.warmup,
                "machine": machine() | {"cuda": torch.cuda.get_device_name() if torch.cuda.is_available() else None}}

    running = "the warm-up" if args.warmup else f"{args.backbones[0]}, backbone.cache=True"
    try:
        with sigterm_raises():  # a `kill` too stops here with the finished runs written, not silently
            if args.warmup:  # compiled graphs are kept per process and shared by every model instance
                print(f"\n=== warm-up: {args.warmup} untimed batches", flush=True)
                run(args.backbones[0], True, args, out_root, steps=args.warmup)
            for preset in args.backbones:
                for cache in (True, False):
                    running = f"{preset}, backbone.cache={cache}"
                    print(f"\n=== {running}", flush=True)
                    results.append(run(preset, cache, args, out_root))
            for preset in args.backbones:
                running = f"{preset}'s FLOP count"
                flops = matmul_flops(preset, args, run_of(preset, results, cache=True)["work"])
                summary[preset] = speedups(preset, results) | flops  # whole or not at all in a partial file
    except KeyboardInterrupt as stop:  # the finished runs are kept, beside the complete figures
        write_partial("backbone_cache", report(), out, argv, stop, running, f"the {len(results)} run(s) finished")
    finally:  # the runs' folders hold only checkpoints of throwaway runs: each bench left one in /tmp
        shutil.rmtree(out_root, ignore_errors=True)
    figures = report()
    write_json("backbone_cache", figures, out, argv)
    print(f"\n{'backbone':<10} {'cached (puzzles/s)':>20} {'no cache (puzzles/s)':>22} {'speedup':>9}   "
          f"seconds per batch: {'backbone':>9} {'reasoner':>9} {'cache read':>11}   bound   "
          f"GFLOP per batch: {'backbone':>9} {'reasoner':>9}   FLOP bound")
    for preset, s in summary.items():
        print(f"{preset:<10} {s['cached_puzzles_per_second']:>20.1f} {s['uncached_puzzles_per_second']:>22.1f} "
              f"{s['speedup']:>8.1f}x   {'':>19}{s['backbone_seconds_per_batch']:>9.2f} "
              f"{s['reasoner_seconds_per_batch']:>9.2f} {s['cache_read_seconds_per_batch']:>11.3f}   "
              f"{s['bound']:>4.1f}x   {'':>16}{s['backbone_gflop_per_batch']:>9.1f} "
              f"{s['reasoner_gflop_per_batch']:>9.1f}   {s['flop_bound']:>9.2f}x")
    print("bound: the speedup of a cache that took no time to read (the batch time without the cache over the "
          "reasoner's time); the speedup can only approach it. FLOP bound: the same if backbone and reasoner ran "
          "at one FLOP rate (matrix multiplies only), whatever the hardware")
    print(f"written to {written(out)}")
    return figures


if __name__ == "__main__":
    main()
