"""The evaluation report: one JSON file plus two plots, written by `python -m eval`.

    report.json          every figure (see docs/evaluation.md for the fields)
    recursion_curve.png  exact, cell and open-cell accuracy after each test-time supervision step
    halting_steps.png    at which step the halting head first says "stop", per puzzle

The JSON is written even when plotting fails, so a broken matplotlib never loses the figures.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import TYPE_CHECKING

from eval.tasks import IGNORE

if TYPE_CHECKING:  # a type only: `python -m eval --help`, which imports this module, loads no torch
    import torch


def headline(metrics: dict) -> dict[str, float]:
    """The accuracies a run shows (tracker, progress line, summaries, plot): exact and cell
    accuracy, and open-cell accuracy where the task's questions give cells (it is the cell
    accuracy elsewhere)."""
    out = {k: metrics[k] for k in ("exact_accuracy", "cell_accuracy")}
    if metrics.get("open_cell_accuracy") is not None and metrics.get("given_cell_share"):
        out["open_cell_accuracy"] = metrics["open_cell_accuracy"]
    return out


def open_cell_rows(metrics: dict) -> list[tuple[str, str]]:
    """The summary row of open-cell accuracy, for the training and the evaluation summaries;
    none where the questions give no cell."""
    if "open_cell_accuracy" not in headline(metrics):
        return []
    return [(f"open-cell accuracy ({metrics['given_cell_share']:.0%} given)", f"{metrics['open_cell_accuracy']:.3f}")]


def slot_accuracy(pred: dict[str, torch.Tensor]) -> list[float | None]:
    """Accuracy of each answer slot (e.g. each Sudoku cell) after the last step; None where the
    slot is padding in every puzzle."""
    labels = pred["labels"]
    valid = labels != IGNORE
    right = (pred["ids"][:, -1] == labels) & valid
    counts = valid.sum(0)
    return [round(r / c, 4) if c else None for r, c in zip(right.sum(0).tolist(), counts.tolist())]


def compute(metrics: dict, N_sup: int, T: int, n: int) -> dict:
    """Reasoning compute per puzzle. One supervision step is T latent recursions, each n
    updates of z and one of y, so T*(n+1) applications of the tiny network."""
    per_step = T * (n + 1)
    halting = metrics["mean_halting_step"]
    return {
        "T": T, "n": n, "N_sup": N_sup,
        "net_applications_per_step": per_step,
        "supervision_steps_all": N_sup,  # what the reported accuracy used (no early exit)
        "supervision_steps_early_exit": halting,  # mean steps had each puzzle stopped when its head said so
        "net_applications_all": N_sup * per_step,
        "net_applications_early_exit": halting * per_step,
    }


def write_report(report: dict, out_dir: str | Path) -> Path:
    """report.json plus the plots in `out_dir`; returns the JSON path, which the report also holds
    (`report`, as docs/evaluation.md lists it).

    Each file is written under a temporary name of its own and all are renamed into place at the
    end, report.json last. Two evaluations writing one folder at once (`python -m eval RUN` twice,
    both into RUN/eval/test) wrote the same files in place: a report.json beside the other's plots,
    or a plot cut into the other's. A reader (or a write cut short) now finds a whole earlier
    report or a whole new one, without an earlier report's plot that this one does not draw."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    # This writer's own hidden names, each ending as its final name does (matplotlib picks the format
    # by it); not tempfile.mkstemp, whose files only their owner can read.
    mine = f".{uuid.uuid4().hex[:12]}."
    ready: dict[str, Path] = {}  # final name -> its file, written whole
    try:
        plots = {}
        if report.get("num_puzzles"):
            try:
                for name, plot in (("recursion_curve", plot_recursion_curve), ("halting_steps", plot_halting_steps)):
                    ready[f"{name}.png"] = plot(report, out / f"{mine}{name}.png")
                    plots[name] = f"{name}.png"
            except Exception as err:  # plotting is a nicety; the numbers must survive it
                report["plot_error"] = f"{type(err).__name__}: {err}"
        report["plots"] = plots
        path = out / "report.json"
        report["report"] = str(path)
        ready[path.name] = out / f"{mine}{path.name}"
        ready[path.name].write_text(json.dumps(report, indent=2))
        for stale in {"recursion_curve.png", "halting_steps.png"} - ready.keys():  # an earlier report's, replaced
            (out / stale).unlink(missing_ok=True)
        for name, written in ready.items():  # report.json last
            written.replace(out / name)
    finally:
        for left in out.glob(f"{mine}*"):  # by a failure
            left.unlink(missing_ok=True)
    return path


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")  # files only; works without a display
    import matplotlib.pyplot as plt

    return plt


def _title(report: dict) -> str:
    return f"{report['task']['name']} ({report['split']}), backbone {report['backbone']}"


def plot_recursion_curve(report: dict, path: Path) -> Path:
    plt = _pyplot()
    steps = list(range(1, len(report["exact_curve"]) + 1))
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(steps, report["exact_curve"], marker="o", label="exact (whole answer)")
    ax.plot(steps, report["cell_curve"], marker=".", linestyle="--", label="per slot (cell)")
    if "open_cell_accuracy" in headline(report):  # a family with given cells
        ax.plot(steps, report["open_cell_curve"], marker=".", linestyle=":", label="per open cell (not given)")
    trained = report["compute"].get("N_sup_trained")
    if trained and trained < len(steps):
        ax.axvline(trained, color="grey", linewidth=0.8, linestyle=":", label=f"N_sup in training ({trained})")
    ax.set(xlabel="test-time supervision steps", ylabel="accuracy", ylim=(-0.02, 1.02), title=_title(report))
    ax.set_xticks(steps if len(steps) <= 20 else steps[::max(1, len(steps) // 10)])
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def plot_halting_steps(report: dict, path: Path) -> Path:
    plt = _pyplot()
    histogram = report["halting_histogram"]
    steps = list(range(1, len(histogram) + 1))
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.bar(steps, histogram)
    ax.set(xlabel="halting step (first confident halt; the last step if it never fires)", ylabel="puzzles",
           title=f"mean {report['mean_halting_step']:.2f} steps, {report.get('never_halted', 0)} never halted; "
                 f"early-exit exact {report['early_exit_exact_accuracy']:.3f}")
    ax.set_xticks(steps if len(steps) <= 20 else steps[::max(1, len(steps) // 10)])
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
