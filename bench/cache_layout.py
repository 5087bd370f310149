"""What the embedding cache's layout costs: disk, and the time to read a training batch.

    python bench/cache_layout.py                               # zebra and ARC with MiniLM, ~2 min
    python bench/cache_layout.py --tasks sudoku maze --backbone smollm2
    python bench/cache_layout.py --tasks zebra --backbone tiny_bert --set task.train_size=300 --batch-size 8   # seconds

Each task's training split (its preset: `configs/task/<name>.yaml`) is embedded into the cache
(or read from it), then compared with the layout entries had before, every puzzle padded to the
split's longest text: bytes on disk, and milliseconds to read a shuffled batch through the
DataLoader, as training does (the padded layout sliced, the stored one padded to each batch's
own longest as it is read; both from memory). The default task's texts all have one length, so its
two layouts hold the same numbers; tasks whose texts vary are where the layout matters.
The JSON goes to bench/results/cache_layout.json only at the published figures' settings, else to
runs/bench/cache_layout.json (`--out` anywhere): bench/README.md.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

from common import at_least_zero, built_first, json_out, positive, print_table, results_path, write_json, written

import torch  # noqa: E402
from torch.utils.data import DataLoader, TensorDataset  # noqa: E402


def read_ms(dataset, batch_size: int, batches: int) -> float:
    """Median milliseconds per shuffled batch, over `batches` batches after one untimed."""
    loader = iter(DataLoader(dataset, batch_size=batch_size, shuffle=True, drop_last=True,
                             generator=torch.Generator().manual_seed(0)))
    next(loader)
    times = []
    for _ in range(batches):
        start = time.perf_counter()
        next(loader)
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def config_for(task_name: str, args):
    from hybrid.config import load_config

    return load_config([f"task={task_name}", f"backbone={args.backbone}", f"train.data_dir={args.data_dir}", *args.set])


def training_split(task_name: str, args) -> tuple:
    """(config, task, training split), the split built (or read) before any task is embedded: its
    size is only known then (a QA file's sizes are upper limits), and each read needs --batches + 1."""
    from eval.tasks import make_task
    from hybrid.config import ConfigError
    from hybrid.data import build_splits

    config = config_for(task_name, args)
    task = make_task(config.task)
    split = build_splits(task, config.task, config.train.seed, config.train.data_dir)["train"]
    if len(split) < 2 * args.batch_size:
        raise ConfigError(f"--batch-size {args.batch_size} needs a training split of at least {2 * args.batch_size} "
                          f"puzzles (one untimed batch, then timed ones); it holds {len(split)}")
    timed = len(split) // args.batch_size - 1  # whole batches (drop_last) after the untimed one
    if args.batches > timed:  # else fewer were timed than asked, and the JSON did not say so
        raise ConfigError(f"--batches {args.batches}: a training split of {len(split)} puzzles holds {timed} timed "
                          f"batches of --batch-size {args.batch_size} (after one untimed); ask for at most {timed}, "
                          f"a smaller --batch-size or a larger task.train_size")
    return config, task, split


def measure(task_name: str, args, config, task, split) -> dict:
    from hybrid.backbone import load_for
    from hybrid.cache import CachedStates, cache_path, embed_split, metadata_path

    backbone = load_for(config, task)
    path = cache_path(backbone, split, config.train.data_dir)
    labels = embed_split(backbone, split, task.num_slots, config.train.data_dir, "train").labels  # embeds unless cached
    about = json.loads(metadata_path(path).read_text(encoding="utf-8"))
    # Both layouts from memory, so the figures compare their work, not the disk (a run's entry is
    # memory-mapped: after the first epoch its pages are in the page cache).
    stored = CachedStates(torch.load(path, weights_only=True), labels)
    padded = TensorDataset(*stored[:])  # every puzzle padded to the split's longest: the layout before
    padded_bytes = sum(t.numel() * t.element_size() for t in padded.tensors[:3])  # states, mask, token_slot
    return {"task": task_name, "backbone": args.backbone, "puzzles": about["puzzles"],
            "mean_tokens": about["tokens"] / about["puzzles"], "longest_tokens": about["longest"],
            "entry_mib": path.stat().st_size / 2**20, "padded_mib": padded_bytes / 2**20,
            "read_ms": read_ms(stored, args.batch_size, args.batches),  # training_split checked the split holds them
            "padded_read_ms": read_ms(padded, args.batch_size, args.batches)}


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tasks", nargs="+", default=["zebra", "arc"], help="task presets")
    parser.add_argument("--backbone", default="minilm", help="backbone preset")
    parser.add_argument("--batch-size", type=positive, default=128, help="the default train.batch_size")
    parser.add_argument("--batches", type=positive, default=20, help="timed batches per layout")
    parser.add_argument("--threads", type=at_least_zero, default=2, help="CPU threads (0: torch's default)")
    parser.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE", help="config overrides, e.g. task.train_size=300")
    parser.add_argument("--data-dir", default="~/.cache/hybrid-trm", help="train.data_dir (datasets and the cache)")
    parser.add_argument("--out", type=json_out, help="JSON path (default: see bench/README.md)")
    args = parser.parse_args(argv)
    out = args.out or results_path("cache_layout", parser, args, same_figures=("data_dir",))
    splits = built_first(parser, "--tasks", args.tasks, lambda name: training_split(name, args))
    if args.threads:  # 0 leaves torch's default, as in the other benches
        torch.set_num_threads(args.threads)
    rows = [measure(name, args, *splits[name]) for name in args.tasks]
    print_table("embedding cache: stored layout (no padding) vs every puzzle padded to the split's longest",
                ["task", "backbone", "puzzles", "tokens mean / longest", "entry MiB", "padded MiB", "smaller",
                 "read ms/batch", "padded read ms/batch"],
                [[r["task"], r["backbone"], r["puzzles"], f"{r['mean_tokens']:.0f} / {r['longest_tokens']}",
                  f"{r['entry_mib']:.0f}", f"{r['padded_mib']:.0f}", f"{r['padded_mib'] / r['entry_mib']:.2f}x",
                  f"{r['read_ms']:.1f}", f"{r['padded_read_ms']:.1f}"] for r in rows])
    result = {"rows": rows, "batch_size": args.batch_size}
    print(f"wrote {written(write_json('cache_layout', result, out, argv))}")
    return result


if __name__ == "__main__":
    main()
