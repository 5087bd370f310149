"""The evaluation report: one JSON file plus two plots, written by `python -m eval`.

    report.json          every figure (see docs/evaluation.md for the fields)
    recursion_curve.png  exact, cell and open-cell accuracy after each test-time supervision step
    halting_steps.png    at which step the halting head first says "stop", per puzzle

The JSON is written even when plotting fails, so a broken matplotlib never loses the figures.
"""

from __future__ import annotations

import json
import textwrap
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


def open_cell_rows(metrics: dict, puzzles: str = "") -> list[tuple[str, str]]:
    """The summary row of open-cell accuracy, for the training and the evaluation summaries;
    none where the questions give no cell. `puzzles` names which ones ("held-out wordings")."""
    if "open_cell_accuracy" not in headline(metrics):
        return []
    given = f"{metrics['given_cell_share']:.0%} given"
    if puzzles:
        given = f"{puzzles}, {given}"
    return [(f"open-cell accuracy ({given})", f"{metrics['open_cell_accuracy']:.3f}")]


def curve_text(curve: list[float]) -> str:
    """The exact accuracy after each supervision step, for the training and evaluation summaries: to
    3 decimals, as the exact accuracy beside it (at 2, the README job's last step read 0.98 under its
    0.985)."""
    return " ".join(f"{a:.3f}" for a in curve)


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
        ready[path.name].write_text(json.dumps(report, indent=2), encoding="utf-8")
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


def _wordings(numbers: list[int], most: int = 4) -> str:
    """"wordings 2, 5", "wordings 0-3, 5": runs of three or more as a range; past `most` parts the
    count and the first ones ("20 wordings (0, 2, 4, ...)"), so that a long list keeps to a line."""
    runs: list[list[int]] = []
    for w in sorted(numbers):
        if runs and w == runs[-1][-1] + 1:
            runs[-1].append(w)
        else:
            runs.append([w])
    parts: list[str] = []
    for r in runs:
        parts += [f"{r[0]}-{r[-1]}"] if len(r) > 2 else [str(w) for w in r]
    if len(parts) > most:
        return f"{len(numbers)} wordings ({', '.join(parts[:most - 1])}, ...)"
    return f"wordings {', '.join(parts)}"


def _title(report: dict, width: int = 64) -> str:
    """Which puzzles: the task, split and count, the wordings of a test_heldout split (its plots
    looked like the test split's), and the backbone. Past `width` characters (about what 6 inches
    hold at 12 points) the backbone takes a line of its own, and a line still longer wraps."""
    split = report["split"]
    # The wordings the puzzles came in; the run's held_out_wordings where a report has no by_wording
    wordings = [int(w) for w in report.get("by_wording", {})] or report["task"].get("held_out_wordings") or []
    said = f": {_wordings(wordings)};" if split == "test_heldout" and wordings else ","
    puzzles = f"{report['task']['name']} ({split}{said} {report['num_puzzles']} puzzles)"
    backbone = f"backbone {report['backbone']}"
    if len(puzzles) + 2 + len(backbone) <= width:
        return f"{puzzles}, {backbone}"
    return "\n".join(textwrap.fill(line, width, break_on_hyphens=False) for line in (puzzles, backbone))


def _step_ticks(ax, steps: list[int]) -> None:
    """Every step up to 20; past that about ten, counted back from the last step so that the step the
    evaluation ended at (where the never-halted puzzles are counted) is labelled, and step 1."""
    if len(steps) <= 20:
        ax.set_xticks(steps)
        return
    stride = len(steps) // 10
    ax.set_xticks([1, *(s for s in steps[::-stride][::-1] if s > 1 + stride / 2)])


def recursion_curve_figure(report: dict):
    """The recursion curve; each legend entry ends with the figure after the last step (the report's
    accuracy), and the x label names the depth trained with, so a shorter evaluation says it too."""
    plt = _pyplot()
    steps = list(range(1, len(report["exact_curve"]) + 1))
    fig, ax = plt.subplots(figsize=(6, 4))
    curves = [("exact_curve", "exact (whole answer)", dict(marker="o")),
              ("cell_curve", "per slot (cell)", dict(marker=".", linestyle="--"))]
    if "open_cell_accuracy" in headline(report):  # a family with given cells
        curves.append(("open_cell_curve", "per open cell (not given)", dict(marker=".", linestyle=":")))
    for key, name, style in curves:
        ax.plot(steps, report[key], label=f"{name}: {report[key][-1]:.3f}", **style)
    trained = report["compute"].get("N_sup_trained")
    if trained and trained < len(steps):
        ax.axvline(trained, color="grey", linewidth=0.8, linestyle=":", label=f"N_sup in training ({trained})")
    trained_with = f" (trained with N_sup={trained})" if trained else ""
    ax.set(xlabel=f"test-time supervision steps{trained_with}", ylabel="accuracy (fraction)", ylim=(-0.02, 1.02),
           title=_title(report))
    _step_ticks(ax, steps)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    return fig


def halting_steps_figure(report: dict):
    """Puzzles by halting step. Those whose head never fired are counted at the last step; they are
    drawn apart there (hatched), so a head that never halts is not read as one that halts late."""
    plt = _pyplot()
    histogram = report["halting_histogram"]
    never = report.get("never_halted", 0)
    steps = list(range(1, len(histogram) + 1))
    halted = [*histogram[:-1], histogram[-1] - never]
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.bar(steps, halted, label="halted (sigmoid(q_halt) > threshold)")
    if never:
        ax.bar(steps[-1:], [never], bottom=halted[-1:], color="lightgrey", edgecolor="grey", hatch="//",
               label="never halted (counted at the last step)")
    if len(steps) <= 20:  # a count over each step, since a step with a handful of puzzles shows no bar
        counts = [str(c) if c else "" for c in histogram]
        if never:  # the last step's count goes over the stacked never-halted bar, not inside it
            ax.bar_label(ax.containers[1], labels=[counts[-1]])
            counts[-1] = ""
        ax.bar_label(ax.containers[0], labels=counts)
    ax.set(xlabel="halting step (first confident halt; the last step if it never fires)", ylabel="puzzles",
           title=f"{_title(report)}\nmean {report['mean_halting_step']:.2f} steps, {never} never halted; "
                 f"early-exit exact {report['early_exit_exact_accuracy']:.3f}")
    ax.title.set_fontsize(10)
    ax.margins(y=0.12)  # room for the counts above the tallest bar
    _step_ticks(ax, steps)
    ax.legend()
    fig.tight_layout()
    return fig


def _save(fig, path: Path) -> Path:
    fig.savefig(path, dpi=120)
    _pyplot().close(fig)
    return path


def plot_recursion_curve(report: dict, path: Path) -> Path:
    return _save(recursion_curve_figure(report), path)


def plot_halting_steps(report: dict, path: Path) -> Path:
    return _save(halting_steps_figure(report), path)
