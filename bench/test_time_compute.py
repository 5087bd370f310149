"""Test-time compute: held-out exact accuracy against supervision steps 1..16 at evaluation,
running a fixed number of steps versus stopping at the halting head's call (early exit).

    python bench/test_time_compute.py --run runs/default          # the README's main job, trained
    python bench/test_time_compute.py                              # runs/default, else trains a quick one
    python bench/test_time_compute.py --run RUN --max-steps 32 --device cuda

RUN is a folder written by hybrid/train.py (config.yaml, final/, checkpoints/step_*/); its final/
weights are evaluated, else its newest checkpoint's, EMA weights either way (what training
evaluates; `python -m eval` picks them by the same rule). One pass of
`eval.runner.predict` with `--max-steps` supervision steps records the answer and the halting
logit after every step; `eval.runner.score_predictions` turns that into the fixed-steps curve
and, on the first k steps, the early-exit accuracy and the mean number of steps it used.
A PNG plot goes beside the JSON.
The JSON goes to bench/results/test_time_compute.json only at the published figures' settings, else to
runs/bench/test_time_compute.json (`--out` anywhere): bench/README.md.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from common import (ROOT, at_least_zero, config_checked, device_name, json_out, positive, print_table, results_path,
                    run_child, run_named, setup, write_json, written)

import torch  # noqa: E402
from torch.utils.data import Subset  # noqa: E402

# The quick run trained when no run folder is given: 90 s of 4x4 Sudoku on the character front
# end. It checks the pipeline; the curve worth reading comes from a real run (--run).
QUICK_RUN = ["backbone=chars", "task.size=4", "task.train_size=4000", "task.test_size=500", "reasoner.hidden=64",
             "train.batch_size=64", "train.steps=100000", "train.time_limit=90", "train.eval_every=0",
             "train.checkpoint_every=100000", "train.tracker=null"]


def train_quick_run(folder: Path, extra: list[str]) -> Path:
    cmd = [sys.executable, "hybrid/train.py", *QUICK_RUN, *extra, f"train.output_dir={folder}"]
    print(f"no trained run given: training a quick one\n  {' '.join(cmd[1:])}", flush=True)
    run_child(cmd, f"the quick run's training (what it saved is in {folder})", check=True, cwd=ROOT,
              env=os.environ | {"HF_HUB_OFFLINE": "1"})
    return folder


def load_run(run: Path, overrides: list[str], device: torch.device):
    """Task, held-out tensors and the model with the run's final/ EMA weights, else its newest checkpoint's."""
    from accelerate import Accelerator

    from eval.__main__ import locate
    from hybrid.checkpoint import load_weights
    from hybrid.config import load_config
    from hybrid.train import build

    run, folder = locate(run)
    config = load_config(overrides, base=folder / "config.yaml")
    accelerator = Accelerator(cpu=device.type == "cpu")
    task, _, tensors, model, _ = build(config, accelerator)  # cached puzzles and backbone states
    weights = load_weights(model, folder)
    return config, task, tensors["test"], model.to(device), {"run": str(run), "checkpoint": str(folder),
                                                             "weights": weights}


def curves(pred: dict, task, max_steps: int, halt_threshold: float = 0.9) -> list[dict]:
    """`halt_threshold`: the sigmoid(q_halt) at which a puzzle stops early, the run's
    reasoner.halt_threshold (solve and `python -m eval` stop there too)."""
    from eval.runner import score_predictions

    full = score_predictions(pred, task, halt_threshold=halt_threshold)
    rows = []
    for k in range(1, max_steps + 1):
        first_k = {"ids": pred["ids"][:, :k], "q_halt": pred["q_halt"][:, :k], "labels": pred["labels"],
                   "index": pred["index"]}
        early = score_predictions(first_k, task, halt_threshold=halt_threshold)
        rows.append({"steps": k, "fixed_exact": full["exact_curve"][k - 1], "fixed_cell": full["cell_curve"][k - 1],
                     "early_exit_exact": early["early_exit_exact_accuracy"],
                     "early_exit_mean_steps": early["mean_halting_step"]})
    return rows


def figure(rows: list[dict], trained_steps: int, title: str):
    import textwrap

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot([r["steps"] for r in rows], [r["fixed_exact"] for r in rows], "o-", label="fixed steps")
    ax.plot([r["early_exit_mean_steps"] for r in rows], [r["early_exit_exact"] for r in rows], "s--",
            label="early exit (x = mean steps used, cap 1..max)")
    ax.axvline(trained_steps, color="grey", linestyle=":", label=f"N_sup in training ({trained_steps})")
    ax.set_xlabel("supervision steps at evaluation")
    ax.set_ylabel("held-out exact accuracy")
    ax.set_ylim(0, 1.02)
    ax.set_title(textwrap.fill(title, 90), fontsize=9)  # one line ran past the figure's edge, cut off
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def plot(rows: list[dict], trained_steps: int, title: str, path: Path) -> None:
    import matplotlib.pyplot as plt

    fig = figure(rows, trained_steps, title)
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run", help="training run folder or checkpoint (default: runs/default if trained)")
    parser.add_argument("--max-steps", type=positive, default=16, help="supervision steps to evaluate (1..max)")
    parser.add_argument("--eval-size", type=at_least_zero, default=1000, help="held-out puzzles (0: the whole test split)")
    parser.add_argument("--batch", type=positive, default=256)
    parser.add_argument("--device", type=device_name, default="cpu")
    parser.add_argument("--threads", type=at_least_zero, default=2)
    parser.add_argument("--quick-run-dir", default=str(ROOT / "runs" / "ttc_quick"),
                        help="where the quick run goes when no run is given")
    parser.add_argument("--quick-run-args", nargs="*", default=[], help="extra overrides for the quick run")
    parser.add_argument("overrides", nargs="*", help="config overrides that need no new weights (task.test_size=...)")
    parser.add_argument("--out", type=json_out, help="JSON path (default: see bench/README.md)")
    args = parser.parse_args(argv)
    device = setup(args.device, args.threads)

    default_run = ROOT / "runs" / "default"
    run = Path(args.run) if args.run else None
    has_checkpoint = lambda p: any(p.glob("checkpoints/step_*/model.safetensors"))  # noqa: E731
    if run is None:
        run = default_run if has_checkpoint(default_run) else Path(args.quick_run_dir)
    # The figures are the run's: the published ones are of the checkout's runs/default, however it was named (a bare
    # command uses it when trained, else a quick run). Threads, device and batch change the time, not the accuracies.
    used = argparse.Namespace(**vars(args) | {"run": run_named(run)})
    json_path = Path(args.out or results_path("test_time_compute", parser, used, same_figures=(
        "threads", "device", "batch", "quick_run_dir", "quick_run_args")))
    if not args.run and not has_checkpoint(run):  # checked before it trains (90 s), with the overrides its weights take
        given = [*args.quick_run_args, *args.overrides]
        config_checked(parser, [*QUICK_RUN, *given], given)
        train_quick_run(run, args.quick_run_args)
    from hybrid.checkpoint import CheckpointError
    from hybrid.config import ConfigError

    try:
        config, task, test, model, source = load_run(run, args.overrides, device)
    except (CheckpointError, ConfigError) as err:  # no such run, or a bad override: one line, as `python -m eval`
        sys.exit(f"error: {err}")
    if args.eval_size and args.eval_size < len(test):
        test = Subset(test, range(args.eval_size))

    from eval.runner import predict

    pred = predict(model, test, args.max_steps, args.batch, device, desc="evaluating 1..max steps")
    # The run's threshold (or an override's), as solve and `python -m eval` stop at it.
    threshold = config.reasoner.halt_threshold
    rows = curves(pred, task, args.max_steps, threshold)
    trained = config.reasoner.N_sup
    title = (f"{config.task.name} {getattr(config.task, 'size', '')} / {config.backbone.path} / "
             f"{len(pred['labels'])} held-out puzzles (trained with N_sup={trained}; early exit at "
             f"sigmoid(q_halt) > {threshold:g})")
    print_table(f"Test-time compute: {title}", ["steps", "fixed: exact", "fixed: cell", "early exit: exact",
                                                "early exit: mean steps"],
                # accuracies .3f and steps .2f, as early_exit.py's table: 3 significant digits wrote 0 as `0`
                [[r["steps"], f"{r['fixed_exact']:.3f}", f"{r['fixed_cell']:.3f}", f"{r['early_exit_exact']:.3f}",
                  f"{r['early_exit_mean_steps']:.2f}"] for r in rows])
    png = json_path.with_suffix(".png")
    png.parent.mkdir(parents=True, exist_ok=True)
    plot(rows, trained, title, png)
    payload = {"source": source, "task": title, "N_sup_trained": trained, "halt_threshold": threshold,
               "num_puzzles": len(pred["labels"]), "rows": rows, "plot": png.name}  # beside the JSON
    write_json("test_time_compute", payload, str(json_path), argv)
    print(f"wrote {png} and {written(json_path)}")
    return payload


if __name__ == "__main__":
    main()
