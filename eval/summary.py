"""The table `python -m eval` prints when an evaluation ends: the report's headline figures, what
deserves a second look (wordings or puzzles trained on, another backbone), and where its files are."""

from __future__ import annotations

from eval.puzzle_file import short_sha256
from eval.report import curve_text, open_cell_rows
from eval.voting import exact_label, vote_rows


def print_summary(report: dict) -> None:
    """Print `report` (evaluate_run's) as one table, a report of no puzzles as its failures and files."""
    from rich.table import Table

    from hybrid.console import console as printing_console

    table = Table(title=f"{report['task']['name']} / {report['split']} / {report['backbone']}")
    table.add_column("metric")
    table.add_column("value", justify="right", overflow="fold")  # a long report path shown whole, not cut with …
    if report["num_puzzles"]:
        c, t = report["compute"], report["throughput"]
        label, counted = exact_label(report)
        table.add_row(label, f"{report['exact_accuracy']:.3f}  ({counted})")
        table.add_row("cell accuracy / verifier / task score", f"{report['cell_accuracy']:.3f} / "
                      f"{report['verifier_accuracy']:.3f} / {report['task_score']:.3f}")
        for row in open_cell_rows(report):
            table.add_row(*row)
        trained = c.get("N_sup_trained")  # steps past it (or short of it) are not the depth the weights learned
        differs = f" (trained with N_sup={trained})" if trained and trained != len(report["exact_curve"]) else ""
        table.add_row(f"exact by supervision step{differs}", curve_text(report["exact_curve"]))
        table.add_row("early exit: exact / mean steps", f"{report['early_exit_exact_accuracy']:.3f} / "
                      f"{report['mean_halting_step']:.2f}")
        table.add_row("net applications per puzzle (all / early exit)",
                      f"{c['net_applications_all']} / {c['net_applications_early_exit']:.1f}")
        table.add_row("puzzles/s (reasoner / backbone)", f"{per_second(t['reasoner_puzzles_per_second'])} / "
                      f"{per_second(t['backbone_puzzles_per_second'])}")
        if len(report.get("by_wording", {})) > 1:
            table.add_row("exact by wording", "  ".join(f"{w}: {g['exact_accuracy']:.2f} ({g['num_puzzles']})"
                                                        for w, g in report["by_wording"].items()))
        for row in vote_rows(report.get("votes"), every_vote=True):
            table.add_row(*row)
        table.add_row("answers that failed to decode", str(report["answer_failures"]["count"]))
    table.add_row("puzzles that failed to parse", str(report["puzzle_failures"]["count"]))
    if report.get("held_out_wordings_trained_on"):
        table.add_row("[bold red]held out, but trained on[/]", f"wording(s) {report['held_out_wordings_trained_on']}")
    if report.get("trained_puzzles_left_out"):
        table.add_row("[bold red]left out: trained on[/]",
                      f"{report['trained_puzzles_left_out']} puzzles of this split")
    if report["backbone_differs"]:
        table.add_row("[bold red]backbone unlike training's[/]", "; ".join(report["backbone_differs"]))
    if "puzzles" in report:  # the title names the file alone: which one, and what it held
        table.add_row("puzzle file (sha256)", f"{report['puzzles']} ({short_sha256(report.get('puzzles_sha256'))})")
    table.add_row("weights", report["weights"])
    table.add_row("report", report["report"])
    if report.get("plot_error"):  # the figures are in the report; the plots a reader looks for beside it are not
        table.add_row("[bold red]plots failed[/]", report["plot_error"])
    elif report.get("plots"):
        table.add_row("plots (beside the report)", ", ".join(report["plots"].values()))
    printing_console().print(table)


def per_second(rate: float) -> str:
    """A rate as the summary shows it: whole numbers from 10 up, two significant digits below (a slow
    reasoner on a busy CPU, 0.43 puzzles/s, read "0")."""
    return f"{rate:,.0f}" if rate >= 10 else f"{rate:.2g}"
