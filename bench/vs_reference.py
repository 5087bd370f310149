"""Our reasoner versus the TRM reference implementation's approach, same task, same model size.

    python bench/vs_reference.py                              # 4x4 and 6x6 text Sudoku, CPU, ~6 min
    python bench/vs_reference.py --sizes 6 --seconds 600      # long enough for 6x6 to converge
    python bench/vs_reference.py --device cuda --hidden 512 --batch 768 --seconds 1800
    python bench/vs_reference.py --max-batches 40 --seconds 1e9   # equal steps: fair on a busy machine
    python bench/vs_reference.py --compile                        # ours with the compiled recursion

"ours" is this project with the backbone off (`backbone=chars backbone.path=chars:1`: fixed
one-hot characters without n-gram context, as every Sudoku cell is one character, so the
adapter's projection is a learned character embedding) trained by `hybrid.supervision.supervise`.
"reference" is a plain eager PyTorch TRM written below from the paper's description (not from
its code): learned cell embeddings, one 2-layer post-norm network (SwiGLU, MLP over the cell
axis, no biases), n times z = net(x + y + z) then y = net(y + z), T-1 recursions without
gradient and one with, deep supervision with the carry detached, softmax cross entropy
(`--reference-loss stablemax`: ours's stable-max) plus a halting BCE, EMA weights for
evaluation. Both get the same puzzles, width, depth, n, T, N_sup, batch, optimizer, learning
rate, warm-up and training-time budget; both run every supervision step (no halting during
training) unless `--halt` is given to ours.

Reported: ms per optimizer step (median over batches during training, and again with the two
implementations alternating batch by batch so both see the same machine load), training seconds to reach each target
held-out exact accuracy (evaluation time excluded), and final held-out exact accuracy.
The JSON goes to bench/results/vs_reference.json only at the published figures' settings, else to
runs/bench/vs_reference.json (`--out` anywhere): bench/README.md.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

from common import (at_least_zero, built_first, config_checked, device_name, duration, fraction, json_out, positive,
                    print_table, results_path, setup, write_json, write_partial, written)

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from torch import nn  # noqa: E402
from torch.utils.data import DataLoader, Subset, TensorDataset  # noqa: E402

from hybrid.checkpoint import sigterm_raises  # noqa: E402


# ---------------------------------------------------------------------------------------------
# The reference approach, from the paper's description.

class ReferenceBlock(nn.Module):
    """Post-norm block: h = rms(h + mix_cells(h)); h = rms(h + swiglu(h)). No biases."""

    def __init__(self, hidden: int, cells: int, expansion: float):
        super().__init__()
        inner, inner_cells = int(hidden * expansion * 2 / 3), int(cells * expansion * 2 / 3)
        self.cell_in = nn.Linear(cells, 2 * inner_cells, bias=False)
        self.cell_out = nn.Linear(inner_cells, cells, bias=False)
        self.channel_in = nn.Linear(hidden, 2 * inner, bias=False)
        self.channel_out = nn.Linear(inner, hidden, bias=False)

    @staticmethod
    def swiglu(w_in: nn.Linear, w_out: nn.Linear, h: torch.Tensor) -> torch.Tensor:
        gate, up = w_in(h).chunk(2, dim=-1)
        return w_out(F.silu(gate) * up)

    def forward(self, h: torch.Tensor) -> torch.Tensor:  # (B, S, D)
        mixed = self.swiglu(self.cell_in, self.cell_out, h.transpose(1, 2)).transpose(1, 2)
        h = F.rms_norm(h + mixed, h.shape[-1:])
        return F.rms_norm(h + self.swiglu(self.channel_in, self.channel_out, h), h.shape[-1:])


class ReferenceTRM(nn.Module):
    def __init__(self, size: int, hidden: int, layers: int, expansion: float, n: int, T: int):
        super().__init__()
        cells = size * size
        self.n, self.T = n, T
        self.embed = nn.Embedding(size + 1, hidden)  # 0 = blank, d = digit d
        self.position = nn.Parameter(torch.randn(cells, hidden) * 0.02)
        self.net = nn.Sequential(*[ReferenceBlock(hidden, cells, expansion) for _ in range(layers)])
        self.head = nn.Linear(hidden, size, bias=False)
        self.q_head = nn.Linear(hidden, 1)
        nn.init.zeros_(self.q_head.weight)
        nn.init.constant_(self.q_head.bias, -5.0)
        self.register_buffer("y0", torch.randn(hidden) * 0.02)
        self.register_buffer("z0", torch.randn(hidden) * 0.02)

    def init_latents(self, givens: torch.Tensor):
        shape = (*givens.shape, self.y0.shape[0])
        return self.y0.expand(shape), self.z0.expand(shape)

    def recursion(self, x, y, z):
        for _ in range(self.n):
            z = self.net(x + y + z)
        return self.net(y + z), z

    def forward(self, givens, y, z):
        x = self.embed(givens) + self.position  # (B, S, D)
        with torch.no_grad():
            for _ in range(self.T - 1):
                y, z = self.recursion(x, y, z)
        y, z = self.recursion(x, y, z)
        return self.head(y), self.q_head(y.mean(1)).squeeze(-1), y.detach(), z.detach()


class ReferenceEMA:
    """EMA of the weights with the usual warm-up, min(decay, (1 + t) / (10 + t))."""

    def __init__(self, model: nn.Module, decay: float):
        import copy

        self.module, self.model, self.decay, self.t = copy.deepcopy(model), model, decay, 0

    @torch.no_grad()
    def update(self) -> None:
        d = min(self.decay, (1 + self.t) / (10 + self.t))
        torch._foreach_lerp_(list(self.module.parameters()), list(self.model.parameters()), 1 - d)
        self.t += 1


class Reference:
    """Training and evaluation of the reference approach on one task's splits."""

    def __init__(self, args, size: int, splits, device):
        torch.manual_seed(args.seed)
        self.args, self.device = args, device
        self.model = ReferenceTRM(size, args.hidden, args.layers, args.expansion, args.n, args.T).to(device)
        self.optimizer = torch.optim.AdamW(self.model.parameters(), lr=args.lr, betas=(0.9, 0.95),
                                           weight_decay=args.weight_decay)
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(self.optimizer, lambda s: min(1.0, (s + 1) / args.warmup))
        self.ema = ReferenceEMA(self.model, args.ema) if args.ema else None
        self.train_set, self.test_set = (cells_dataset(splits[k]) for k in ("train", "test"))
        generator = torch.Generator().manual_seed(args.seed)
        self.loader = DataLoader(self.train_set, batch_size=args.batch, shuffle=True, drop_last=True, generator=generator)

    def batches(self):
        while True:
            yield from self.loader

    def train_batch(self, batch) -> int:
        self.model.train()
        givens, labels = (t.to(self.device) for t in batch)
        y, z = self.model.init_latents(givens)
        for _ in range(self.args.N_sup):
            logits, q_halt, y, z = self.model(givens, y, z)
            correct = (logits.argmax(-1) == labels).all(1).float()
            if self.args.reference_loss == "stablemax":  # ours's loss, to separate the loss from the rest
                from reasoner import stablemax_cross_entropy

                ce = stablemax_cross_entropy(logits, labels).mean()
            else:
                ce = F.cross_entropy(logits.transpose(1, 2), labels)
            loss = ce + F.binary_cross_entropy_with_logits(q_halt, correct)
            loss.backward()
            nn.utils.clip_grad_norm_(self.model.parameters(), 1.0)
            self.optimizer.step()
            self.scheduler.step()
            self.optimizer.zero_grad(set_to_none=True)
            if self.ema is not None:
                self.ema.update()
        return self.args.N_sup

    @torch.no_grad()
    def exact_accuracy(self, size: int | None = None) -> float:
        model = (self.ema.module if self.ema is not None else self.model).eval()
        data = self.test_set if size is None else Subset(self.test_set, range(min(size, len(self.test_set))))
        right = total = 0
        for givens, labels in DataLoader(data, batch_size=256):
            givens, labels = givens.to(self.device), labels.to(self.device)
            y, z = model.init_latents(givens)
            for _ in range(self.args.N_sup):
                logits, _, y, z = model(givens, y, z)
            right += (logits.argmax(-1) == labels).all(1).sum().item()
            total += len(labels)
        return right / total

    def parameters(self) -> int:
        return sum(p.numel() for p in self.model.parameters())


def cells_dataset(split) -> TensorDataset:
    """(givens, labels): the digit in each cell (0 = blank) and the solution's class ids."""
    givens = torch.tensor([json.loads(d)["puzzle"] for d in split["data"]], dtype=torch.long)
    return TensorDataset(givens, torch.tensor(split["labels"], dtype=torch.long))


# ---------------------------------------------------------------------------------------------
# Ours: the project's model and deep-supervision step, on the character front end.

class Ours:
    def __init__(self, args, size: int, device):
        from accelerate import Accelerator
        from accelerate.utils import set_seed
        from transformers import get_scheduler

        from hybrid.config import load_config
        from hybrid.ema import make_ema
        from hybrid.supervision import make_optimizer
        from hybrid.train import build

        self.args = args
        self.config = load_config(ours_overrides(args, size))
        self.accelerator = Accelerator(cpu=device.type == "cpu", mixed_precision=self.config.train.mixed_precision)
        set_seed(args.seed)
        self.task, self.splits, self.tensors, model, _ = build(self.config, self.accelerator)
        set_seed(args.seed)
        optimizer = make_optimizer(model, self.config, self.accelerator.device)
        scheduler = get_scheduler("constant_with_warmup", optimizer, num_warmup_steps=args.warmup)
        loader = DataLoader(self.tensors["train"], batch_size=args.batch, shuffle=True, drop_last=True)
        model.reasoner.compiled = args.compile  # the opt-in fast path (set before the EMA copies the model)
        self.model, self.optimizer, self.loader, self.scheduler = self.accelerator.prepare(model, optimizer, loader, scheduler)
        self.ema = make_ema(self.accelerator.unwrap_model(self.model), args.ema) if args.ema else None

    def batches(self):
        while True:
            yield from self.loader

    def train_batch(self, batch) -> int:
        from hybrid.supervision import supervise

        self.model.train()
        stats = supervise(self.model, batch, self.optimizer, self.scheduler, self.ema, self.accelerator, self.config)
        return stats["steps"]

    def exact_accuracy(self, size: int | None = None) -> float:
        from eval.runner import evaluate

        data = self.tensors["test"]
        if size is not None and size < len(data):
            data = Subset(data, range(size))
        model = self.ema.module if self.ema is not None else self.accelerator.unwrap_model(self.model)
        metrics = evaluate(model, data, self.task, None, self.config.reasoner.N_sup, device=self.accelerator.device,
                           disable_progress=True)
        return metrics["exact_accuracy"]

    def parameters(self) -> int:
        return sum(p.numel() for p in self.accelerator.unwrap_model(self.model).parameters())


def task_overrides(args, size: int) -> list[str]:
    return ["task=sudoku", f"task.size={size}", "task.wordings=[0]", f"task.train_size={args.train_size}",
            f"task.test_size={args.test_size}", f"train.data_dir={args.data_dir}"]


def ours_overrides(args, size: int) -> list[str]:
    """The overrides ours's config is loaded from: main checks them up front, Ours builds from them."""
    return task_overrides(args, size) + [
        "backbone=chars", "backbone.path=chars:1", "train.tracker=null", f"train.seed={args.seed}",
        f"reasoner.hidden={args.hidden}", f"reasoner.layers={args.layers}", f"reasoner.expansion={args.expansion}",
        f"reasoner.n={args.n}", f"reasoner.T={args.T}", f"reasoner.N_sup={args.N_sup}", "reasoner.mixer=mlp",
        f"train.batch_size={args.batch}", f"train.lr={args.lr}", f"train.weight_decay={args.weight_decay}",
        f"train.warmup={args.warmup}", f"train.ema={args.ema}", f"train.halt={args.halt}", "train.grad_clip=1.0",
        *(["train.mixed_precision=bf16"] if args.bf16 else []), *args.ours]


# ---------------------------------------------------------------------------------------------

def run(trainer, args, device) -> dict:
    """Train for `args.seconds` of training time (evaluation excluded), evaluating every
    `args.eval_seconds`; returns the accuracy curve and per-step timings."""
    curve, per_step_ms, train_seconds, steps, batches = [], [], 0.0, 0, 0
    next_eval = args.eval_seconds
    for batch in trainer.batches():
        start = time.perf_counter()
        done_steps = trainer.train_batch(batch)
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        elapsed = time.perf_counter() - start
        train_seconds, steps, batches = train_seconds + elapsed, steps + done_steps, batches + 1
        per_step_ms.append(elapsed * 1000 / done_steps)
        finished = train_seconds >= args.seconds or (args.max_batches and batches >= args.max_batches)
        if train_seconds >= next_eval or finished:
            exact = trainer.exact_accuracy(None if finished else args.eval_size)
            curve.append({"train_seconds": train_seconds, "optimizer_steps": steps, "exact": exact})
            print(f"  {type(trainer).__name__.lower():9s} {train_seconds:7.1f} s  {steps:5d} steps  exact {exact:.3f}",
                  flush=True)
            next_eval = train_seconds + args.eval_seconds
        if finished:
            break
    warm = per_step_ms[1:] or per_step_ms  # the first batch pays one-off costs
    reached = {str(t): next((p["train_seconds"] for p in curve if p["exact"] >= t), None) for t in args.targets}
    return {"ms_per_step": statistics.median(warm), "optimizer_steps": steps, "batches": batches,
            "train_seconds": train_seconds, "final_exact": curve[-1]["exact"], "seconds_to_target": reached,
            "curve": curve, "parameters": trainer.parameters()}


def interleaved_ms_per_step(trainers: dict, batches: int, device) -> dict:
    """Median ms per optimizer step, alternating one batch of each implementation so that both
    see the same machine load (the fair speed figure on a shared machine)."""
    times = {name: [] for name in trainers}
    streams = {name: t.batches() for name, t in trainers.items()}
    for round_ in range(batches):
        order = list(trainers) if round_ % 2 == 0 else list(trainers)[::-1]  # neither always goes first
        for name in order:
            trainer, batch = trainers[name], next(streams[name])
            start = time.perf_counter()
            steps = trainer.train_batch(batch)
            if device.type == "cuda":
                torch.cuda.synchronize(device)
            times[name].append((time.perf_counter() - start) * 1000 / steps)
    return {name: statistics.median(ts) for name, ts in times.items()}


# Flags that become ours's config settings (the reference runs on the same values), and their keys.
CONFIG_FLAGS = {"--expansion": "reasoner.expansion", "--lr": "train.lr", "--weight-decay": "train.weight_decay",
                "--ema": "train.ema"}


def check_config_flags(parser: argparse.ArgumentParser, args) -> None:
    """CONFIG_FLAGS by the config's own rules (hybrid.config.ranges, so the two cannot drift), before
    any work: else a ConfigError traceback when ours was built, after the puzzles were made."""
    from hybrid.config import Config, ranges

    config = Config()
    config.reasoner.hidden = args.hidden  # expansion's rule needs the width
    value = {flag: getattr(args, flag[2:].replace("-", "_")) for flag in CONFIG_FLAGS}
    for flag, key in CONFIG_FLAGS.items():
        section, name = key.split(".")
        setattr(getattr(config, section), name, value[flag])
    rules = {key: (allowed, rule) for key, _, allowed, rule in ranges(config)}
    for flag, key in CONFIG_FLAGS.items():
        allowed, rule = rules[key]
        if not allowed:
            parser.error(f"{flag} {value[flag]:g}: must be {rule} ({key} in ours's config)")


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[4, 6], help="Sudoku sizes (4: 2x2 boxes, 6: 2x3)")
    parser.add_argument("--device", type=device_name, default="cpu")
    parser.add_argument("--threads", type=at_least_zero, default=2)
    parser.add_argument("--seconds", type=duration, default=60, help="training-time budget per model and size")
    parser.add_argument("--max-batches", type=at_least_zero, default=0, help="stop after this many batches (0: no limit)")
    parser.add_argument("--eval-seconds", type=duration, default=15, help="training time between evaluations")
    parser.add_argument("--eval-size", type=positive, default=300, help="held-out puzzles per periodic evaluation")
    parser.add_argument("--speed-batches", type=at_least_zero, default=5,
                        help="batches of each, alternated, for the ms/step comparison (0: use the training runs)")
    parser.add_argument("--targets", type=fraction, nargs="+", default=[0.25, 0.5, 0.9],
                        help="held-out exact accuracies to time the training to")
    parser.add_argument("--train-size", type=positive, default=6000)
    parser.add_argument("--test-size", type=positive, default=1000, help="held-out puzzles for the final evaluation")
    parser.add_argument("--data-dir", default="~/.cache/hybrid-trm", help="generated puzzles are cached here")
    parser.add_argument("--hidden", type=positive, default=64)
    parser.add_argument("--layers", type=positive, default=2)
    parser.add_argument("--expansion", type=float, default=4.0)
    parser.add_argument("--n", type=positive, default=3)
    parser.add_argument("--T", type=positive, default=2)
    parser.add_argument("--N-sup", dest="N_sup", type=positive, default=6)
    parser.add_argument("--batch", type=positive, default=64)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--weight-decay", type=float, default=0.1)
    parser.add_argument("--warmup", type=positive, default=50)
    parser.add_argument("--ema", type=float, default=0.999)
    parser.add_argument("--halt", action="store_true", help="ours with training-time halting: halted puzzles leave the batch (ms/step then falls)")
    parser.add_argument("--bf16", action="store_true", help="bf16 autocast for both (GPU)")
    parser.add_argument("--compile", action="store_true", help="ours with TRM(compiled=True), the opt-in fast path")
    parser.add_argument("--reference-loss", choices=["softmax", "stablemax"], default="softmax",
                        help="the reference's cross entropy (ours always uses stable-max, as TRM does)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--ours", nargs="*", default=[], help="extra config overrides for ours (key=value)")
    parser.add_argument("--out", type=json_out, help="JSON path (default: see bench/README.md)")
    args = parser.parse_args(argv)
    out = args.out or results_path("vs_reference", parser, args, same_figures=("data_dir",))
    check_config_flags(parser, args)
    from eval.tasks import make_task
    from hybrid.config import load_config

    built_first(parser, "--sizes", args.sizes, lambda size: make_task(load_config(task_overrides(args, size)).task))
    if args.ours:  # the flags above are checked already, so what ours's config still refuses is --ours's
        for size in args.sizes:
            config_checked(parser, ours_overrides(args, size), ["--ours", *args.ours])
    device = setup(args.device, args.threads, args.seed)

    results, settings = [], {k: v for k, v in vars(args).items() if k != "out"}
    running = "the first size's set-up"
    try:
        with sigterm_raises():  # a `kill` too stops here with the finished sizes written, not silently
            for size in args.sizes:
                running = f"sudoku {size}x{size} / ours"
                print(f"Sudoku {size}x{size}: training each model for {args.seconds:.0f} s", flush=True)
                ours = Ours(args, size, device)  # builds (or loads) the cached puzzle splits first
                row = {"size": size, "ours": run(ours, args, device)}
                running = f"sudoku {size}x{size} / reference"
                reference = Reference(args, size, ours.splits, device)
                autocast = (torch.autocast(device.type, dtype=torch.bfloat16) if args.bf16
                            else torch.autocast(device.type, enabled=False))
                with autocast:
                    row["reference"] = run(reference, args, device)
                    if args.speed_batches:
                        running = f"sudoku {size}x{size} / interleaved timing"
                        row["interleaved_ms_per_step"] = interleaved_ms_per_step(
                            {"ours": ours, "reference": reference}, args.speed_batches, device)
                speed = row.get("interleaved_ms_per_step") or {k: row[k]["ms_per_step"] for k in ("ours", "reference")}
                row["speedup"] = speed["reference"] / speed["ours"]
                results.append(row)
    except KeyboardInterrupt as stop:  # a size stopped partway compares nothing: the sizes before it are kept
        write_partial("vs_reference", {"settings": settings, "results": results}, out, argv, stop, running,
                      f"the {len(results)} size(s) finished")

    columns = ["task", "implementation", "parameters", "ms/step (training)", "ms/step (interleaved)", "steps",
               "final exact",
               *[f"s to {t:g}" for t in args.targets]]
    table = []
    for row in results:
        for name in ("ours", "reference"):
            r = row[name]
            reached = [f"{v:.0f}" if v is not None else "-" for v in r["seconds_to_target"].values()]
            fair = row.get("interleaved_ms_per_step", {}).get(name, "-")
            table.append([f"sudoku {row['size']}x{row['size']}", name, r["parameters"], r["ms_per_step"], fair,
                          r["optimizer_steps"], f"{r['final_exact']:.3f}", *reached])  # 0.000, not 0
    print_table(f"Ours vs the reference approach (hidden {args.hidden}, n={args.n}, T={args.T}, N_sup={args.N_sup}, "
                f"batch {args.batch}, {args.seconds:.0f} s each, {args.device})", columns, table)
    for row in results:
        print(f"sudoku {row['size']}x{row['size']}: reference ms/step / ours ms/step = {row['speedup']:.2f} "
              f"({'ours at least as fast' if row['speedup'] >= 1 else 'ours slower'})")
    payload = {"settings": settings, "results": results}
    path = write_json("vs_reference", payload, out, argv)
    print(f"wrote {written(path)}")
    return payload


if __name__ == "__main__":
    main()
