"""Reasoner training step: time and peak memory per step against T, n and hidden size.

    python bench/reasoner_step.py                                   # CPU, small sizes, ~1-2 min
    python bench/reasoner_step.py --device cuda --batch 768 --hidden 512 --bf16   # paper-like, GPU

One step is one deep-supervision step as hybrid/supervision.py runs it: TRM forward (T-1 recursions
without gradient, one with), answer head, stable-max cross entropy + halting BCE, backward,
AdamW step. Three sweeps, each varying one knob from the base setting:

    T sweep: memory must stay flat (only the last recursion keeps activations);
    n sweep: memory grows linearly in n (n + 1 net calls keep activations);
    hidden sweep: how time and memory scale with width.

Memory is the peak of live tensor bytes during the step (weights, gradients, AdamW state,
activations, temporaries; see bench/common.py) on the CPU and `torch.cuda.max_memory_allocated`
on CUDA, plus the activation bytes autograd saves for backward, counted exactly.
The JSON goes to bench/results/reasoner_step.json only at the published figures' settings, else to
runs/bench/reasoner_step.json (`--out` anywhere): bench/README.md.
"""

from __future__ import annotations

import argparse
from contextlib import nullcontext

from common import (at_least_zero, device_name, heads_divide, json_out, median_ms, mib, peak_bytes, positive,
                    print_table, results_path, saved_tensor_bytes, setup, write_json, written)

import torch  # noqa: E402  (common puts the repository on sys.path)
from torch import nn  # noqa: E402

from reasoner import TRM, TinyNet, halting_loss, stablemax_cross_entropy  # noqa: E402

VOCAB = 9  # answer classes (digits of a 9x9 Sudoku); the head is a negligible cost


class Step:
    """A reasoner (TRM + tiny net + head) and its optimizer, with random inputs of one size."""

    def __init__(self, args, T: int, n: int, hidden: int, device: torch.device):
        torch.manual_seed(0)
        net = TinyNet(hidden, args.slots, layers=args.layers, mixer=args.mixer, heads=args.heads)
        self.trm = TRM(net, hidden, n=n, T=T, compiled=args.compile).to(device)
        self.head = nn.Linear(hidden, VOCAB, bias=False).to(device)
        self.params = [*self.trm.parameters(), *self.head.parameters()]
        self.optimizer = torch.optim.AdamW(self.params, lr=1e-4, betas=(0.9, 0.95))
        self.x = torch.randn(args.batch, args.slots, hidden, device=device)
        self.labels = torch.randint(0, VOCAB, (args.batch, args.slots), device=device)
        self.carry = self.trm.initial_carry(self.x)
        self.autocast = (lambda: torch.autocast(device.type, dtype=torch.bfloat16)) if args.bf16 else nullcontext

    def forward_loss(self) -> torch.Tensor:
        with self.autocast():
            out = self.trm(self.x, self.carry)
            logits = self.head(out.y)
        correct = (logits.argmax(-1) == self.labels).all(1)
        self.next_carry = out.carry
        return (stablemax_cross_entropy(logits, self.labels).mean(1) + halting_loss(out.q_halt, correct)).mean()

    def __call__(self) -> None:
        self.forward_loss().backward()
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        self.carry = self.next_carry  # carry the detached latents, as deep supervision does

    def existing(self) -> list[torch.Tensor]:
        state = [t for s in self.optimizer.state.values() for t in s.values() if torch.is_tensor(t)]
        return [*self.params, *self.trm.buffers(), *state, self.x, self.labels, self.carry.y, self.carry.z]


def measure(args, T: int, n: int, hidden: int, device: torch.device) -> dict:
    step = Step(args, T, n, hidden, device)
    timing = median_ms(step, device, args.warmup, args.iters)  # warm-up also creates AdamW state
    peak = peak_bytes(step, device, step.existing())
    activations = saved_tensor_bytes(step.forward_loss, exclude=step.params)
    return {"T": T, "n": n, "hidden": hidden, "batch": args.batch, "slots": args.slots, **timing,
            "peak_bytes": peak, "activation_bytes": activations,
            "parameters": sum(p.numel() for p in step.params)}


def linear_fit(xs: list[float], ys: list[float]) -> tuple[float, float, float]:
    """Least squares y = a + b x; returns (a, b, r^2)."""
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    sxx = sum((x - mx) ** 2 for x in xs)
    b = sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sxx
    a = my - b * mx
    ss_res = sum((y - a - b * x) ** 2 for x, y in zip(xs, ys))
    ss_tot = sum((y - my) ** 2 for y in ys) or 1.0
    return a, b, 1 - ss_res / ss_tot


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", type=device_name, default="cpu")
    parser.add_argument("--threads", type=at_least_zero, default=2, help="CPU threads (0: torch's default)")
    parser.add_argument("--batch", type=positive, default=32)
    parser.add_argument("--slots", type=positive, default=36, help="answer slots (36: 6x6 Sudoku, 81: 9x9)")
    parser.add_argument("--layers", type=positive, default=2)
    parser.add_argument("--mixer", default="mlp", choices=["mlp", "attention"])
    parser.add_argument("--heads", type=positive, default=4)
    parser.add_argument("--base", type=positive, nargs=3, default=[2, 3, 64], metavar=("T", "n", "HIDDEN"),
                        help="the setting each sweep starts from")
    parser.add_argument("--T", type=positive, nargs="+", default=[1, 2, 4, 8])
    parser.add_argument("--n", type=positive, nargs="+", default=[1, 2, 4, 8])
    parser.add_argument("--hidden", type=positive, nargs="+", default=[32, 64, 128])
    parser.add_argument("--warmup", type=at_least_zero, default=2)
    parser.add_argument("--iters", type=positive, default=5)
    parser.add_argument("--bf16", action="store_true", help="bf16 autocast (GPU; on a CPU it depends on native bf16 support: docs/performance.md)")
    parser.add_argument("--compile", action="store_true", help="TRM(compiled=True): torch.compile each latent recursion")
    parser.add_argument("--out", type=json_out, help="JSON path (default: see bench/README.md)")
    args = parser.parse_args(argv)
    out = args.out or results_path("reasoner_step", parser, args)
    T0, n0, h0 = args.base
    heads_divide(parser, args, "--base HIDDEN", [h0])
    heads_divide(parser, args, "--hidden", args.hidden)
    device = setup(args.device, args.threads)

    sweeps = {
        "T": [measure(args, T, n0, h0, device) for T in args.T],
        "n": [measure(args, T0, n, h0, device) for n in args.n],
        "hidden": [measure(args, T0, n0, h, device) for h in args.hidden],
    }
    columns = ["T", "n", "hidden", "ms/step (median)", "peak MiB", "activations MiB", "parameters"]
    for knob, rows in sweeps.items():
        print_table(f"Reasoner training step vs {knob} (batch {args.batch}, {args.slots} slots, {args.device})", columns,
                    [[r["T"], r["n"], r["hidden"], r["median_ms"], mib(r["peak_bytes"]), mib(r["activation_bytes"]),
                      r["parameters"]] for r in rows])

    checks = {}
    by_T = {r["T"]: r for r in sweeps["T"]}
    lo, hi = min(by_T), max(by_T)
    if lo != hi:
        ratio = by_T[hi]["peak_bytes"] / by_T[lo]["peak_bytes"]
        checks["flat_in_T"] = {"T_low": lo, "T_high": hi, "peak_ratio": ratio, "pass": abs(ratio - 1) <= 0.10}
    if len(sweeps["n"]) >= 3:
        ns = [r["n"] for r in sweeps["n"]]
        for kind in ("peak_bytes", "activation_bytes"):
            a, b, r2 = linear_fit(ns, [r[kind] for r in sweeps["n"]])
            checks[f"linear_in_n_{kind}"] = {"intercept_bytes": a, "bytes_per_n": b, "r2": r2, "pass": r2 >= 0.99}
    for name, check in checks.items():
        detail = ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in check.items())
        print(f"{name}: {detail}")
    result = {"settings": {k: v for k, v in vars(args).items() if k != "out"}, "sweeps": sweeps, "checks": checks}
    path = write_json("reasoner_step", result, out, argv)
    print(f"wrote {written(path)}")
    return result


if __name__ == "__main__":
    main()
