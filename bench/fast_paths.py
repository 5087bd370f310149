"""Optional fast paths for the reasoner's training step, each against plain eager fp32.

    python bench/fast_paths.py                                  # CPU, default reasoner size, ~3 min
    python bench/fast_paths.py --device cuda --batch 768 --hidden 512

Variants (same weights, same inputs; the step is the one bench/reasoner_step.py times):
    eager             the reasoner as shipped (fp32; attention mixer uses SDPA)
    compile(net)      torch.compile of the tiny network alone
    compile(recursion) TRM(compiled=True): torch.compile of one latent recursion (n + 1 net
                      calls in one graph); the fast path the reasoner ships, off by default
    bf16 autocast     (docs/performance.md: slower than fp32 on CPUs without native bf16; a GPU win)
The variants are timed round-robin, one step each per round, so all see the same machine load.
Compile time (the first call) is reported apart: it is paid once per run and process.
The JSON goes to bench/results/fast_paths.json only at the published figures' settings, else to
runs/bench/fast_paths.json (`--out` anywhere): bench/README.md.
"""

from __future__ import annotations

import argparse
import statistics
import time
from argparse import Namespace

from common import (at_least_zero, device_name, heads_divide, json_out, positive, print_table, results_path, setup,
                    sync, write_json, written)
from reasoner_step import Step

import torch  # noqa: E402


def make_variants(args, device: torch.device) -> dict:
    base = Namespace(slots=args.slots, layers=args.layers, mixer=args.mixer, heads=args.heads, batch=args.batch,
                     compile=False, bf16=False)
    T, n, hidden = args.T, args.n, args.hidden
    variants = {"eager": Step(base, T, n, hidden, device)}
    if "compile" in args.variants:
        net_only = Step(base, T, n, hidden, device)
        net_only.trm.net.compile()  # in place: parameter names (and checkpoints) unchanged
        variants["compile(net)"] = net_only
        variants["compile(recursion)"] = Step(Namespace(**{**vars(base), "compile": True}), T, n, hidden, device)
    if "bf16" in args.variants:
        variants["bf16 autocast"] = Step(Namespace(**{**vars(base), "bf16": True}), T, n, hidden, device)
    return variants


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", type=device_name, default="cpu")
    parser.add_argument("--threads", type=at_least_zero, default=2)
    parser.add_argument("--batch", type=positive, default=64)
    parser.add_argument("--slots", type=positive, default=36)
    parser.add_argument("--hidden", type=positive, default=128)
    parser.add_argument("--layers", type=positive, default=2)
    parser.add_argument("--mixer", default="mlp", choices=["mlp", "attention"])
    parser.add_argument("--heads", type=positive, default=4)
    parser.add_argument("--T", type=positive, default=2)
    parser.add_argument("--n", type=positive, default=3)
    parser.add_argument("--variants", nargs="+", default=["compile", "bf16"], choices=["compile", "bf16"])
    parser.add_argument("--warmup", type=at_least_zero, default=2)
    parser.add_argument("--rounds", type=positive, default=6)
    parser.add_argument("--out", type=json_out, help="JSON path (default: see bench/README.md)")
    args = parser.parse_args(argv)
    out = args.out or results_path("fast_paths", parser, args)
    heads_divide(parser, args, "--hidden", [args.hidden])
    device = setup(args.device, args.threads)

    variants = make_variants(args, device)
    first_call_s = {}
    for name, step in variants.items():
        start = time.perf_counter()
        step()  # compiles, where there is something to compile
        sync(device)
        first_call_s[name] = time.perf_counter() - start
        for _ in range(args.warmup - 1):
            step()
        sync(device)  # else their queued GPU work runs into the next variant's first call or the first timed step
    times = {name: [] for name in variants}
    for round_ in range(args.rounds):
        names = list(variants)
        for name in names[round_ % len(names):] + names[:round_ % len(names)]:  # rotate who goes first
            step = variants[name]
            start = time.perf_counter()
            step()
            sync(device)
            times[name].append((time.perf_counter() - start) * 1000)
    eager = statistics.median(times["eager"])
    rows = [{"variant": name, "median_ms": statistics.median(ts), "min_ms": min(ts),
             "speedup_vs_eager": eager / statistics.median(ts), "first_call_s": first_call_s[name]}
            for name, ts in times.items()]
    print_table(f"Reasoner training step, fast paths (batch {args.batch}, {args.slots} slots, hidden {args.hidden}, "
                f"T={args.T}, n={args.n}, {args.mixer} mixer, {args.device})",
                ["variant", "ms/step (median)", "ms/step (min)", "speed-up vs eager", "first call (s)"],
                [[r["variant"], r["median_ms"], r["min_ms"], r["speedup_vs_eager"], r["first_call_s"]] for r in rows])
    path = write_json("fast_paths", {"settings": {k: v for k, v in vars(args).items() if k != "out"}, "rows": rows},
                      out, argv)
    print(f"wrote {written(path)}")
    return {"rows": rows}


if __name__ == "__main__":
    main()
