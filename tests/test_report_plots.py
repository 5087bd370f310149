"""The figures a researcher reads after a run: the harness's recursion curve and halting
histogram (eval/report.py) and the test-time compute bench's plot, inspected as matplotlib
objects: what they draw is the report's numbers, and nothing is cut off."""

import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

from eval.report import halting_steps_figure, recursion_curve_figure  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))


def report(N_sup: int, never_halted: int) -> dict:
    """A report of 4x4 Sudoku (cells given) evaluated with N_sup steps, its model trained with 6."""
    exact = [round(0.5 + 0.4 * k / N_sup, 3) for k in range(1, N_sup + 1)]
    histogram = [0] * N_sup
    histogram[0], histogram[-1] = 80, 20 + never_halted
    return {"task": {"name": "sudoku"}, "split": "test", "backbone": "chars", "num_puzzles": 100 + never_halted,
            "exact_curve": exact, "cell_curve": [a + 0.05 for a in exact], "open_cell_curve": [a + 0.02 for a in exact],
            "exact_accuracy": exact[-1], "cell_accuracy": exact[-1] + 0.05, "open_cell_accuracy": exact[-1] + 0.02,
            "given_cell_share": 0.27, "halting_histogram": histogram, "never_halted": never_halted,
            "mean_halting_step": 1.5, "early_exit_exact_accuracy": 0.7, "compute": {"N_sup_trained": 6}}


@pytest.mark.parametrize("N_sup", [1, 6, 16])
def test_the_recursion_curve_draws_the_reports_curves_and_names_the_trained_depth(N_sup):
    r = report(N_sup, never_halted=5)
    fig = recursion_curve_figure(r)
    ax = fig.axes[0]
    drawn = {line.get_label(): list(line.get_ydata()) for line in ax.get_lines()}
    assert drawn[f"exact (whole answer): {r['exact_accuracy']:.3f}"] == r["exact_curve"]
    assert drawn[f"per slot (cell): {r['cell_accuracy']:.3f}"] == r["cell_curve"]
    assert drawn[f"per open cell (not given): {r['open_cell_accuracy']:.3f}"] == r["open_cell_curve"]
    assert "trained with N_sup=6" in ax.get_xlabel()  # also when evaluating fewer steps than trained
    assert ("N_sup in training (6)" in drawn) == (N_sup > 6)
    assert ax.get_ylim() == (-0.02, 1.02)
    plt.close(fig)


def test_the_halting_histogram_tells_never_halted_puzzles_from_late_halts():
    r = report(6, never_halted=15)
    fig = halting_steps_figure(r)
    ax = fig.axes[0]
    halted, never = ax.containers
    assert [bar.get_height() for bar in halted] == [80, 0, 0, 0, 0, 20]
    assert [bar.get_height() for bar in never] == [15] and never[0].get_y() == 20  # stacked on the last step
    assert never.get_label() == "never halted (counted at the last step)"
    assert "sudoku (test, 115 puzzles)" in ax.get_title()  # which run's puzzles, as the recursion curve says
    assert sorted(t.get_text() for t in ax.texts if t.get_text()) == ["35", "80"]  # the report's counts, on the bars
    plt.close(fig)


def test_the_test_time_compute_title_fits_in_its_figure():
    import test_time_compute

    rows = [{"steps": k, "fixed_exact": 0.9, "early_exit_exact": 0.9, "early_exit_mean_steps": 1.0}
            for k in range(1, 17)]
    title = ("sudoku 4 / chars / 500 held-out puzzles (trained with N_sup=6; early exit at sigmoid(q_halt) > 0.9)")
    fig = test_time_compute.figure(rows, 6, title)
    renderer = fig.canvas.get_renderer()
    box = fig.axes[0].title.get_window_extent(renderer)
    assert box.x0 >= 0 and box.x1 <= fig.bbox.x1, "the title runs past the figure's edge"
    plt.close(fig)


def test_the_held_out_wordings_plots_name_their_wordings():
    """The test_heldout plots looked like the test split's: which wordings the puzzles came in was
    in report.json only. The title says it, from the puzzles' own wordings (`by_wording`), else
    from the run's task.held_out_wordings."""
    heldout = report(6, never_halted=5) | {"split": "test_heldout",
                                           "by_wording": {"2": {"exact_accuracy": 0.5, "num_puzzles": 50},
                                                          "5": {"exact_accuracy": 0.9, "num_puzzles": 55}}}
    for r in (heldout, heldout | {"by_wording": {}, "task": {"name": "sudoku", "held_out_wordings": [5, 2]}}):
        for draw in (recursion_curve_figure, halting_steps_figure):
            fig = draw(r)
            assert "sudoku (test_heldout: wordings 2, 5; 105 puzzles)" in fig.axes[0].get_title(), draw.__name__
            plt.close(fig)
    # the test split's title says no wordings, though its report has by_wording (every split's has)
    # and the run's task names held-out ones: those are not the puzzles it drew
    test = report(6, never_halted=5) | {"by_wording": {"0": {"exact_accuracy": 0.7, "num_puzzles": 105}},
                                        "task": {"name": "sudoku", "held_out_wordings": [2, 5]}}
    for draw in (recursion_curve_figure, halting_steps_figure):
        fig = draw(test)
        assert "wordings" not in fig.axes[0].get_title() and "(test, 105 puzzles)" in fig.axes[0].get_title()
        plt.close(fig)


@pytest.mark.parametrize("wordings, said", [([], "(test, 105 puzzles)"),
                                             (list(range(0, 40, 2)), "test_heldout: 20 wordings (0, 2, 4, ...)"),
                                             ([*range(12), 14, 15, 17], "test_heldout: wordings 0-11, 14, 15, 17")])
def test_the_harness_titles_fit_in_their_figures(wordings, said):
    """A long list of held-out wordings, or a hub id for the backbone (as the test split's title
    with sentence-transformers/all-MiniLM-L6-v2 did already), ran past the figure's edge."""
    r = report(6, never_halted=5) | {"backbone": "sentence-transformers/all-MiniLM-L6-v2"}
    if wordings:
        r |= {"split": "test_heldout", "by_wording": {str(w): {"exact_accuracy": 0.5, "num_puzzles": 5}
                                                      for w in wordings}}
    for draw in (recursion_curve_figure, halting_steps_figure):
        fig = draw(r)
        title = fig.axes[0].title
        box = title.get_window_extent(fig.canvas.get_renderer())
        assert box.x0 >= 0 and box.x1 <= fig.bbox.x1, f"{draw.__name__}: the title runs past the figure's edge"
        assert said in title.get_text()
        plt.close(fig)


def test_the_tracker_logs_the_held_out_wordings_final_figures_beside_the_test_ones(tmp_path):
    """A run with task.held_out_wordings prints both splits' accuracy in its summary; tensorboard
    got only the test split's, so the held-out wordings figure was missing where runs are compared."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    from hybrid.config import load_config
    from hybrid.train import train

    results = train(load_config([
        "backbone=chars", "task.size=4", "task.train_size=32", "task.test_size=8", "task.wordings=[0]",
        "task.held_out_wordings=[2]", "reasoner.hidden=16", "reasoner.n=1", "reasoner.T=1", "reasoner.N_sup=1",
        "train.batch_size=16", "train.steps=1", "train.eval_every=0", "train.checkpoint_every=0",
        "train.tracker=tensorboard", f"train.output_dir={tmp_path / 'run'}", f"train.data_dir={tmp_path / 'cache'}"]))
    logged = {}
    for events in (tmp_path / "run").rglob("events.out.tfevents.*"):
        accumulator = EventAccumulator(str(events))
        accumulator.Reload()
        logged |= {tag: accumulator.Scalars(tag)[-1].value for tag in accumulator.Tags()["scalars"]}
    assert logged["final/exact_accuracy"] == pytest.approx(results["test"]["exact_accuracy"])
    assert logged["final_heldout_wordings/exact_accuracy"] == pytest.approx(results["test_heldout"]["exact_accuracy"])
    assert logged["final_heldout_wordings/cell_accuracy"] == pytest.approx(results["test_heldout"]["cell_accuracy"])


@pytest.mark.parametrize("N_sup", [21, 32, 64])
def test_a_long_evaluation_labels_its_first_and_last_step(N_sup):
    """Past 20 steps the ticks thin out; at 32 they ran 1, 4, ..., 31, so the last bar, where the
    never-halted puzzles are counted, had no step number."""
    for draw in (recursion_curve_figure, halting_steps_figure):
        fig = draw(report(N_sup, never_halted=5))
        ticks = list(fig.axes[0].get_xticks())
        assert ticks[0] == 1 and ticks[-1] == N_sup and len(ticks) <= 12, (draw.__name__, ticks)
        plt.close(fig)


@pytest.mark.parametrize("N_sup", [21, 32, 64])
def test_a_long_evaluations_ticks_are_evenly_spaced_from_step_1(N_sup):
    """Counted back from the last step, the thinned ticks can end next to step 1 (2 beside 1 at
    32 steps): one that close is left out, so no two labels crowd the axis's start."""
    fig = recursion_curve_figure(report(N_sup, never_halted=5))
    ticks = list(fig.axes[0].get_xticks())
    gaps = [b - a for a, b in zip(ticks, ticks[1:])]
    assert 2 * min(gaps) >= max(gaps), ticks
    plt.close(fig)


@pytest.mark.parametrize("never_halted", [0, 15])
def test_each_halting_bar_is_labelled_once_with_its_count(never_halted):
    """With no never-halted puzzles (a head that always fires) the last step's count was written
    over step 1's, and every empty step read "0" beside the blanks meant for it."""
    fig = halting_steps_figure(report(6, never_halted))
    ax = fig.axes[0]
    labels = {}
    for text in ax.texts:
        if text.get_text():
            labels.setdefault(round(text.xy[0]), []).append(text.get_text())
    assert labels == {1: ["80"], 6: [str(20 + never_halted)]}
    plt.close(fig)
