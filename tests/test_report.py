"""bench/report.py's sections for the benches run on their own: each renders its JSON's figures in
the right row, names the command and the machine, and is left out when its JSON is absent. And the
hand-written copies of those figures in README.md and docs/*.md (outside docs/performance.md, which
report.py renders) agree with the JSON they come from."""

import json
import re
import string
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parent.parent / "bench"
sys.path.insert(0, str(BENCH))

import report  # noqa: E402

MACHINE = {"processor": "Test CPU", "cpu_count": 2, "torch_threads": 2, "torch": "9.9", "load_average_1min": 0.5}


def write(folder: Path, name: str, payload: dict) -> None:
    (folder / f"{name}.json").write_text(json.dumps(payload))


def section(page: str, title: str) -> str:
    """The text of the section headed `title`, up to the next heading."""
    return page.split(f"## {title}\n", 1)[1].split("\n## ", 1)[0]


def row(text: str, first_cell: str) -> str:
    return next(line for line in text.splitlines() if line.startswith(f"| {first_cell} |"))


# backbone_cache.json's summary keys in the order the table shows them (speedup third)
CACHE_KEYS = ["cached_puzzles_per_second", "uncached_puzzles_per_second", "speedup", "backbone_seconds_per_batch",
              "cache_read_seconds_per_batch", "reasoner_seconds_per_batch", "bound", "backbone_gflop_per_batch",
              "reasoner_gflop_per_batch", "flop_bound"]


def cache_summary(speedup: float) -> dict:
    """Each figure its own value (1.5, 2.5, ...), so one shown in another's column is seen."""
    return {k: i + 1.5 for i, k in enumerate(CACHE_KEYS)} | {"speedup": speedup}


def cache_cells(speedup: float) -> str:
    """The figures' cells of cache_summary(speedup)'s table row, in the table's column order."""
    return " | ".join(format(v, ".3g") for v in cache_summary(speedup).values())


def test_the_cache_section_shows_both_points_and_each_ones_command(tmp_path):
    # an old JSON: no command, a machine without processor or torch (as backbone_cache.json is)
    old = {"steps": 5, "batch_size": 128, "machine": {"cpu_count": 2, "torch_threads": 2}}
    write(tmp_path, "backbone_cache", old | {"summary": {"minilm": cache_summary(1.61)}})
    text = section(report.render(tmp_path), "Training with and without the embedding cache")
    assert row(text, "minilm") == f"| minilm | from scratch | {cache_cells(1.61)} |"
    assert "`python bench/backbone_cache.py --steps 5` (as the docs give it" in text
    assert "trained" not in row(text, "minilm") and "Trained:" not in text  # no trained JSON beside it

    write(tmp_path, "backbone_cache_trained", old | {"summary": {"minilm": cache_summary(3.68)},
                                                     "command": "python bench/backbone_cache.py --init x", "machine": MACHINE})
    text = section(report.render(tmp_path), "Training with and without the embedding cache")
    trained = next(line for line in text.splitlines() if "| trained |" in line)
    assert trained == f"| minilm | trained | {cache_cells(3.68)} |"
    assert "Trained: Command: `python bench/backbone_cache.py --init x`" in text and "Test CPU" in text


def test_the_default_job_sections(tmp_path):
    """Accuracies with 3 decimals and mean steps with 2, as the benches print them (not `0`, `0.99`, `2`)."""
    run = {"overrides": [], "wall_seconds": 600.0, "train_seconds": 430.0, "batches": 180, "num_puzzles": 1000,
           "cell_accuracy": 0.99}
    write(tmp_path, "default_task", {"gain_points": 81.3, "runs": [
        run | {"name": "main", "exact_accuracy": 0.985},
        run | {"name": "off", "overrides": ["reasoner.T=1"], "exact_accuracy": 0.0}]})
    write(tmp_path, "default_task_smollm2", {
        "command": "accelerate launch hybrid/train.py backbone=smollm2", "install": "pip install gguf",
        "note": "a note", "machine": {"processor": "Test CPU", "torch": "9.9", "threads": 2}, "batches": 180,
        "train_seconds": 552.0, "test": {"exact_accuracy": 0.971, "cell_accuracy": 0.99, "exact_curve": [0.75, 0.971],
                                         "early_exit_exact_accuracy": 0.97, "mean_halting_step": 2.0,
                                         "num_puzzles": 1000}})
    page = report.render(tmp_path)
    text = section(page, "The default job, with and without recursion")
    # each figure in its own column: exact, cell, batches, training s, wall s, puzzles
    assert row(text, "off") == "| off | reasoner.T=1 | 0.000 | 0.990 | 180 | 430 | 600 | 1000 |"
    assert "81.3 points" in text and "Machine: not recorded in the JSON." in text
    smol = section(page, "The default job on SmolLM2 embeddings")
    assert "| 0.971 | 0.990 | 0.750 0.971 | 0.970 | 2.00 | 180 | 552 | 1000 |" in smol
    assert "`accelerate launch hybrid/train.py backbone=smollm2`" in smol and "Test CPU, 2 torch threads" in smol


def test_the_default_job_seeds_section(tmp_path):
    run = {"cell_accuracy": 0.99, "open_cell_accuracy": 0.98, "batches": 180, "train_seconds": 250.0}
    write(tmp_path, "default_task_seeds", {
        "command": "python hybrid/train.py train.seed=S", "machine": MACHINE, "date": "2026-12-06", "commit": "abc1234",
        "eval_size": 250, "note": "a note", "runs": [
            run | {"seed": 0, "exact_accuracy": 0.98, "exact_curve": [0.8, 0.98], "periodic_exact": [0.5, 0.9]},
            run | {"seed": 1, "exact_accuracy": 0.7, "exact_curve": [0.6, 0.7], "periodic_exact": [0.0, 0.44]},
            {"seed": 2, "exact_accuracy": 0.95}]})
    text = section(report.render(tmp_path), "The default job with other seeds")
    # each figure in its own column: exact, cell, open cell, curve, periodic evaluations, batches, training s
    assert row(text, "1") == "| 1 | 0.700 | 0.990 | 0.980 | 0.600 0.700 | 0.000 / 0.440 | 180 | 250 |"
    assert row(text, "2") == "| 2 | 0.950 | - | - | - | - | - | - |"  # quoted from another run: its exact alone
    assert "`python hybrid/train.py train.seed=S`" in text and "Test CPU" in text and "2026-12-06 at abc1234" in text
    assert "on 250 of them" in text and "Note: a note" in text


def test_the_early_exit_section(tmp_path):
    """Each figure with its column's decimals, as bench/early_exit.py prints them: 3 significant digits
    wrote 6.0 mean steps as `6` beside `1.35`, and an exact accuracy of 0 as `0` beside `0.984`."""
    modes = {"verifier_accuracy": 0.9, "puzzles_per_second": 1500.0, "seconds": 20.0}
    write(tmp_path, "early_exit", {"command": "python bench/early_exit.py runs/x", "machine": MACHINE,
                                   "checkpoint": "runs/x", "puzzles": 1000, "N_sup": 6, "pass": True,
                                   "fixed_steps": modes | {"exact_accuracy": 0.0, "mean_steps": 6.0},
                                   "early_exit": modes | {"exact_accuracy": 0.984, "mean_steps": 1.354}})
    text = section(report.render(tmp_path), "Early exit at inference")
    assert row(text, "early exit") == "| early exit | 0.984 | 0.900 | 1.35 | 1,500.0 | 20.0 |"
    assert row(text, "fixed steps") == "| fixed steps | 0.000 | 0.900 | 6.00 | 1,500.0 | 20.0 |"
    assert "pass" in text and "`python bench/early_exit.py runs/x`" in text


def test_the_test_time_compute_section(tmp_path):
    """Each figure with its column's decimals, as bench/test_time_compute.py prints them: 3 significant digits
    wrote an exact of 0.83 as `0.83` beside `0.949`, and 1.0 mean steps as `1` beside `1.21`."""
    write(tmp_path, "test_time_compute", {
        "command": "python bench/test_time_compute.py --run runs/x", "machine": MACHINE, "task": "sudoku 6",
        "source": {"checkpoint": "runs/x/final", "weights": "final/model.safetensors"}, "plot": "/elsewhere/ttc.png",
        "rows": [{"steps": 1, "fixed_exact": 0.83, "fixed_cell": 0.9676, "early_exit_exact": 0.0,
                  "early_exit_mean_steps": 1.0},
                 {"steps": 2, "fixed_exact": 0.9494, "fixed_cell": 0.986, "early_exit_exact": 0.948,
                  "early_exit_mean_steps": 1.214}]})
    text = section(report.render(tmp_path), "Test-time compute")
    assert row(text, "1") == "| 1 | 0.830 | 0.968 | 0.000 | 1.00 |"
    assert row(text, "2") == "| 2 | 0.949 | 0.986 | 0.948 | 1.21 |"
    assert "`python bench/test_time_compute.py --run runs/x`" in text and "![" not in text  # no plot beside it


def test_the_puzzle_suite_section(tmp_path):
    def result(exact, heldout=None, batches=10):
        x = {"time_limit": 33, "batches": batches, "test": {"exact_accuracy": exact}}
        return x | ({"test_heldout": {"exact_accuracy": heldout}} if heldout is not None else {})

    write(tmp_path, "puzzle_suite", {
        "settings": {"variants": {"hybrid": [], "no_backbone": ["backbone=chars"]}, "train_size": 1000,
                     "test_size": 200, "small": {"sudoku": ["task.size=4"]}},
        "machine": {"torch": "9.9", "threads": 1}, "total_seconds": 900.0,
        "results": {"sudoku": {"hybrid": result(0.98, 0.945, 124), "no_backbone": result(0.97, 0.685)},
                    "reasoning_gym": {"hybrid": result(0.5), "no_backbone": result(0.25)},
                    "qa": {v: {"skipped": "PuzzleError: needs task.path"} for v in ("hybrid", "no_backbone")}},
        "reruns": {"sudoku": {"command": "python bench/puzzle_suite.py --families sudoku", "why": "because"}},
        "previous": {"why": "an earlier run", "batches": {"sudoku/hybrid": 99}}})
    text = section(report.render(tmp_path), "Every puzzle family, small and short")
    assert row(text, "sudoku task.size=4") == "| sudoku task.size=4 | 0.980 / 0.945 (124) | 0.970 / 0.685 (10) |"
    assert row(text, "reasoning_gym") == "| reasoning_gym | 0.500 / n/a (10) | 0.250 / n/a (10) |"  # one wording
    assert row(text, "qa") == "| qa | skipped | skipped |" and "- qa skipped: PuzzleError: needs task.path" in text
    assert "`python bench/puzzle_suite.py --families sudoku`): because." in text
    assert "(as the docs give it" in text and "1 torch thread, torch 9.9" in text
    assert "kept under `previous` in the JSON: an earlier run." in text


def test_the_direction_probe_section(tmp_path):
    write(tmp_path, "direction_probe", {
        "command": "python bench/direction_probe.py", "machine": MACHINE, "trained_wordings": [0, 1],
        "held_out_wordings": [2], "samples": 12,
        "results": {"minilm": {"puzzle_accuracy": 0.826, "phrases_read": 1, "phrases": 2,
                               "per_phrase": {"up": 1.0, "down": 0.5}}}})
    text = section(report.render(tmp_path), "Direction words from pooled states (a linear probe)")
    assert row(text, "minilm") == "| minilm | 1 / 2 | 0.826 | down |"  # 0.5 is not most of its puzzles


def test_a_section_whose_json_is_absent_is_left_out(tmp_path):
    write(tmp_path, "direction_probe", {
        "command": "python bench/direction_probe.py", "machine": MACHINE, "trained_wordings": [0],
        "held_out_wordings": [1], "samples": 1, "results": {}})
    page = report.render(tmp_path)
    assert "## Direction words" in page
    for title in ("Training with and without the embedding cache", "The default job, with and without recursion",
                  "The default job on SmolLM2 embeddings", "Early exit at inference",
                  "Every puzzle family, small and short"):
        assert f"## {title}" not in page
    # the trained cache JSON alone is not a section: it is read beside backbone_cache.json
    write(tmp_path, "backbone_cache_trained", {"summary": {}, "steps": 5, "batch_size": 128})
    assert "## Training with and without the embedding cache" not in report.render(tmp_path)


# Hand-written copies of bench figures outside docs/performance.md (which report.py renders) --------------------------
#
# Each claim: (doc, anchor, json, figures). The anchor is the doc's own text with each figure replaced by the format
# field it is written with ("{:.3f}", "{:,d}", "{:.1f}x" ...); figures gives, in order, where each comes from: a path
# into the json ("runs.0.exact_accuracy", a number indexing a list), "other.json:path" for another results file, or a
# function of the json for a figure computed from it. The anchor must match the doc exactly once (whitespace and line
# breaks aside), and each figure there must read as its JSON value formatted as the doc writes it.

RESULTS = BENCH / "results"
ROOT = BENCH.parent


def mib(path: str, per: float = 2**20):
    """A byte count in the JSON, written in MiB (or GiB with per=2**30)."""
    return lambda r: value(r, path) / per


def fresh_clone_span(exact: float, field: str, end):
    """The least or greatest `field` over the fresh-clone runs that gave `exact` (one machine's runs)."""
    return lambda r: end(x[field] for x in r["runs"] if round(x["exact"], 3) == exact)


def backbone_over_reasoner(name: str):
    """MiniLM's seconds a batch over the reasoner's, in another cache JSON."""
    return lambda _: ratio(json.loads((RESULTS / f"{name}.json").read_text())["summary"]["minilm"])


def ratio(summary: dict) -> float:
    return summary["backbone_seconds_per_batch"] / summary["reasoner_seconds_per_batch"]


def suite_row(name: str, family: str, first: str = "{:.3f} / {:.3f} ({:,d})") -> str:
    cells = [first, "{:.3f} / {:.3f} ({:,d})", "{:.3f} / {:.3f} ({:,d})"]
    if family == "reasoning_gym":  # no held-out wordings: "n/a" in place of the second figure
        cells = [c.replace(" / {:.3f}", " / n/a") for c in cells]
    return f"| {name} | " + " | ".join(cells) + " |"


def suite_figures(family: str, variants=("hybrid", "no_recursion", "no_backbone"), results: str = "results"):
    parts = ("test.exact_accuracy", "batches") if family == "reasoning_gym" else \
        ("test.exact_accuracy", "test_heldout.exact_accuracy", "batches")
    return [f"{results}.{family}.{v}.{p}" for v in variants for p in parts]


SUITE_ROWS = [("sudoku (4x4)", "sudoku", "**{:.3f} / {:.3f}** ({:,d} batches)"), ("maze (attention)", "maze", None),
              ("sorting", "sorting", None), ("zebra (3 x 1)", "zebra", None), ("arc", "arc", None),
              ("reasoning_gym", "reasoning_gym", None)]

CACHE = "summary.minilm."  # the cache benches' MiniLM figures
CACHE_ROW = "| {:.1f} | {:.1f} | {:.1f}x | {:.2f} | {:.2f} | {:.1f}x | {:.1f}x |"  # docs/backbones.md's MiniLM tables
XEON_ROW = CACHE_ROW[:-len("{:.1f}x |")] + "{:.2f}x |"  # the Intel Xeon table gives the FLOP bound two decimals
CACHE_ROW_FIGURES = [CACHE + k for k in ("cached_puzzles_per_second", "uncached_puzzles_per_second", "speedup",
                                         "backbone_seconds_per_batch", "reasoner_seconds_per_batch", "bound",
                                         "flop_bound")]


def cache_table_row(name: str, point: str, bold: bool, backbone_s: str) -> str:
    """A row of docs/backbones.md's first cache table; SmolLM2's backbone seconds have one decimal, MiniLM's two."""
    speed = "**{:.1f}x**" if bold else "{:.1f}x"
    return (f"| {name} | {point} | {{:.1f}} | {{:.1f}} | {speed} | {backbone_s} | {{:.3f}} | {{:.2f}} | {{:.1f}}x | "
            "{:,.0f} | {:.0f} | {:.1f}x |")


def cache_table_figures(backbone: str) -> list[str]:
    return [f"summary.{backbone}.{k}" for k in (
        "cached_puzzles_per_second", "uncached_puzzles_per_second", "speedup", "backbone_seconds_per_batch",
        "cache_read_seconds_per_batch", "reasoner_seconds_per_batch", "bound", "backbone_gflop_per_batch",
        "reasoner_gflop_per_batch", "flop_bound")]


TTC = "rows.{}.fixed_exact"
SORTING_HELD_OUT = [f"{results}.sorting.{v}.test_heldout.exact_accuracy"
                    for results in ("results", "second_seed.results") for v in ("hybrid", "no_backbone")]
# the two seeds' points ahead of backbone-off on held-out wordings
SORTING_GAPS = [lambda r, h=hybrid, c=chars: 100 * (value(r, h) - value(r, c))
                for hybrid, chars in zip(SORTING_HELD_OUT[::2], SORTING_HELD_OUT[1::2])]


CLAIMS = [
    # README.md: the default job, with and without recursion
    ("README.md", "| **default main job** (T=2, n=3, N_sup=6) | **{:.3f}** | {:.3f} | {:d} | {:.0f} s | **{:.0f} s**",
     "default_task.json", ["runs.0.exact_accuracy", "runs.0.cell_accuracy", "runs.0.batches", "runs.0.train_seconds",
                           "runs.0.wall_seconds"]),
    ("README.md", "| recursion off, same batches | {:.3f} | {:.3f} | {:d} | {:.0f} s |", "default_task.json",
     ["runs.1.exact_accuracy", "runs.1.cell_accuracy", "runs.1.batches", "runs.1.train_seconds"]),
    ("README.md", "| recursion off, same optimizer steps | {:.3f} | {:.3f} | {:,d} | {:.0f} s |", "default_task.json",
     ["runs.2.exact_accuracy", "runs.2.cell_accuracy", "runs.2.batches", "runs.2.train_seconds"]),
    ("README.md", "Recursion is worth {:.0f} points of exact accuracy", "default_task.json", ["gain_points"]),
    ("README.md", "supervision step of the main job: {:.3f}, {:.3f}, {:.3f}, {:.3f}, {:.3f}, {:.3f};",
     "default_task.json", [f"runs.0.exact_curve.{i}" for i in range(6)]),
    ("README.md", "(stop once the halting head is 90% sure) {:.3f} takes {:.2f} supervision steps", "early_exit.json",
     ["early_exit.exact_accuracy", "early_exit.mean_steps"]),
    ("README.md", "`python bench/early_exit.py runs/default`: {:.1f} against {:.1f} puzzles/s", "early_exit.json",
     ["early_exit.puzzles_per_second", "fixed_steps.puzzles_per_second"]),
    ("README.md", "gave the same {:.3f} in {:.0f} s of training, {:.0f} s wall, {:.1f} GiB peak memory",
     "main_job.json", ["exact_accuracy", "train_seconds", "wall_seconds",
                       mib("peak_rss_largest_process_bytes", 2**30)]),
    ("README.md", "has given {:.3f} at every commit it was run at on the AMD EPYC machines behind these figures: "
     "{:.0f}-{:.0f} s of training, {:.0f}-{:,.0f} s from `pip install`", "fresh_clone.json",
     ["runs.0.exact", fresh_clone_span(0.985, "train_seconds", min), fresh_clone_span(0.985, "train_seconds", max),
      fresh_clone_span(0.985, "wall_seconds", min), fresh_clone_span(0.985, "wall_seconds", max)]),
    ("README.md", "42f0376: {:.0f}-{:.0f} s of training, {:.0f}-{:.0f} s in all", "fresh_clone.json",
     [fresh_clone_span(0.978, "train_seconds", min), fresh_clone_span(0.978, "train_seconds", max),
      fresh_clone_span(0.978, "wall_seconds", min), fresh_clone_span(0.978, "wall_seconds", max)]),
    ("README.md", "| all-MiniLM-L6-v2 (default) | {:.3f} | {:.3f} | {:.3f} / {:.2f} |", "default_task.json",
     ["runs.0.exact_accuracy", "runs.0.cell_accuracy", "early_exit.json:early_exit.exact_accuracy",
      "early_exit.json:early_exit.mean_steps"]),
    ("README.md", "| SmolLM2-135M-Instruct | {:.3f} | {:.3f} | {:.3f} / {:.2f} |", "default_task_smollm2.json",
     ["test.exact_accuracy", "test.cell_accuracy", "test.early_exit_exact_accuracy", "test.mean_halting_step"]),
    # README.md: GPU, memory, test-time compute, fast paths
    ("README.md", "default job on MiniLM, which reaches {:.3f} exact", "gpu_check.json",
     ["checks.8.figures.exact_accuracy"]),
    ("README.md", "memory is flat in T on CUDA too ({:,.0f} MiB at T = 1 to 8", "gpu_check.json",
     ["checks.11.figures.base_peak_mib"]),
    ("README.md", "peak training-step memory {:.1f} MiB at T = 1, 2, 4 and 8 (ratio T=8/T=1: {:.2f}), "
     "{:.0f} / {:.0f} / {:.0f} / {:.0f} MiB at n = 1 / 2 / 4 / 8 (linear fit r² = {:.2f})", "reasoner_step.json",
     [mib("sweeps.T.0.peak_bytes"), "checks.flat_in_T.peak_ratio", *[mib(f"sweeps.n.{i}.peak_bytes") for i in range(4)],
      "checks.linear_in_n_peak_bytes.r2"]),
    ("README.md", "rising past the trained depth, {:.3f} after 1 step, {:.3f} after 2, {:.3f} after 6, {:.3f} after 10, "
     "{:.3f} after 16; with early exit allowed up to 16 steps, {:.3f} takes {:.2f} steps", "test_time_compute.json",
     [TTC.format(0), TTC.format(1), TTC.format(5), TTC.format(9), TTC.format(15), "rows.15.early_exit_exact",
      "rows.15.early_exit_mean_steps"]),
    ("README.md", "(`reasoner.compile=true`) is {:.2f}x faster than eager once compiled ({:.0f} vs {:.0f} ms/step",
     "fast_paths.json", ["rows.2.speedup_vs_eager", "rows.2.median_ms", "rows.0.median_ms"]),
    ("README.md", "(`train.mixed_precision=bf16`) is {:.2f}x faster on this CPU", "fast_paths.json",
     ["rows.3.speedup_vs_eager"]),
    ("README.md", "and {:.2f}x on an Intel Xeon with AMX", "fast_paths_bf16_xeon.json", ["rows.1.speedup_vs_eager"]),
    ("README.md", "The whole default job in bf16 here gave {:.3f} exact (fp32: {:.3f}) in {:.0f} s of training against "
     "{:.0f} s", "default_task_bf16_cpu.json", ["test.exact_accuracy", "default_task.json:runs.0.exact_accuracy",
                                                "train_seconds", "default_task.json:runs.0.train_seconds"]),
    # README.md: versus the reference
    ("README.md", "| 4x4 | {:.1f} | {:.1f} | {:.2f} |", "vs_reference_speed.json",
     ["results.0.interleaved_ms_per_step.ours", "results.0.interleaved_ms_per_step.reference",
      lambda r: 1 / r["results"][0]["speedup"]]),
    ("README.md", "| 6x6 | {:.0f} | {:.0f} | {:.2f} |", "vs_reference_speed.json",
     ["results.1.interleaved_ms_per_step.ours", "results.1.interleaved_ms_per_step.reference",
      lambda r: 1 / r["results"][1]["speedup"]]),
    ("README.md", "Learning at equal optimizer steps (6x6, {:d} steps", "vs_reference_6x6_equal_steps.json",
     ["results.0.ours.optimizer_steps"]),
    ("README.md", "**ours {:.3f} exact, the reference {:.3f}**", "vs_reference_6x6_equal_steps.json",
     ["results.0.ours.final_exact", "results.0.reference.final_exact"]),
    # README.md: the embedding cache
    ("README.md", "train at the reasoner's speed, {:.1f} and {:.1f} puzzles/s from scratch, {:.0f} and {:.0f} trained",
     "backbone_cache.json", ["summary.minilm.cached_puzzles_per_second", "summary.smollm2.cached_puzzles_per_second",
                             "backbone_cache_trained.json:summary.minilm.cached_puzzles_per_second",
                             "backbone_cache_trained.json:summary.smollm2.cached_puzzles_per_second"]),
    ("README.md", "Without the cache MiniLM trains at {:.1f} and {:.1f} puzzles/s (the cache is **{:.1f}x and {:.1f}x** "
     "faster) and SmolLM2 at {:.1f} (**{:.1f}x and {:.0f}x**)", "backbone_cache.json",
     ["summary.minilm.uncached_puzzles_per_second", "backbone_cache_trained.json:summary.minilm.uncached_puzzles_per_second",
      "summary.minilm.speedup", "backbone_cache_trained.json:summary.minilm.speedup",
      "summary.smollm2.uncached_puzzles_per_second", "summary.smollm2.speedup",
      "backbone_cache_trained.json:summary.smollm2.speedup"]),
    ("README.md", "MiniLM's forward over a batch ({:.0f} GFLOP) is {:.1f} times what the reasoner computes on a trained "
     "batch ({:.0f} GFLOP), so a cache could give {:.1f}x ({:.1f}x from scratch)", "backbone_cache_trained.json",
     ["summary.minilm.backbone_gflop_per_batch",
      lambda r: r["summary"]["minilm"]["backbone_gflop_per_batch"] / r["summary"]["minilm"]["reasoner_gflop_per_batch"],
      "summary.minilm.reasoner_gflop_per_batch", "summary.minilm.flop_bound",
      "backbone_cache.json:summary.minilm.flop_bound"]),
    ("README.md", "hence {:.1f}x. With the reasoner in bf16", "backbone_cache_trained.json", ["summary.minilm.speedup"]),
    ("README.md", "the two rates meet and it measured {:.1f}-5.3x", "backbone_cache_trained_bf16.json",
     ["summary.minilm.speedup"]),
    ("README.md", "the cache gave {:.1f}-3.1x trained ({:.1f}x with MiniLM in bf16) and {:.1f}x from scratch",
     "backbone_cache_trained_xeon.json", ["summary.minilm.speedup",
                                          "backbone_cache_trained_backbone_bf16_xeon.json:summary.minilm.speedup",
                                          "backbone_cache_xeon.json:summary.minilm.speedup"]),
    # README.md: the sorting and zebra runs
    ("README.md", "| sorting (6 numbers 0-99, digits or words) | {:.3f} / **{:.3f}** ({:,d} batches) | "
     "{:.3f} / {:.3f} ({:,d}) | {:.3f} / {:.3f} ({:,d}) |", "puzzle_suite_sorting_zebra.json", suite_figures("sorting")),
    ("README.md", "| sorting, second seed (`train.seed=1`) | {:.3f} / **{:.3f}** ({:,d}) | | {:.3f} / {:.3f} ({:,d}) |",
     "puzzle_suite_sorting_zebra.json", suite_figures("sorting", ("hybrid", "no_backbone"), "second_seed.results")),
    ("README.md", "| zebra (3 houses x 1 attribute) | {:.3f} / **{:.3f}** ({:,d}) | {:.3f} / {:.3f} ({:,d}) | "
     "{:.3f} / {:.3f} ({:,d}) |", "puzzle_suite_sorting_zebra.json", suite_figures("zebra")),
    ("README.md", "recursion off keeps up on these small instances (sorting {:.3f}, zebra {:.3f} / {:.3f})",
     "puzzle_suite_sorting_zebra.json", ["results.sorting.no_recursion.test_heldout.exact_accuracy",
                                         "results.zebra.no_recursion.test.exact_accuracy",
                                         "results.zebra.no_recursion.test_heldout.exact_accuracy"]),
    ("README.md", "a batch is {:.0f}x (sorting) to {:.0f}x (zebra) cheaper, so it reaches the 5,000-batch cap "
     "within its 240 s (after {:.0f} and {:.0f} s)", "puzzle_suite_sorting_zebra.json",
     [*[lambda r, f=family: (r["results"][f]["hybrid"]["train_seconds"] / r["results"][f]["hybrid"]["batches"])
        / (r["results"][f]["no_recursion"]["train_seconds"] / r["results"][f]["no_recursion"]["batches"])
        for family in ("sorting", "zebra")],
      "results.sorting.no_recursion.train_seconds", "results.zebra.no_recursion.train_seconds"]),
    ("README.md", "held-out exact {:.3f} with seed 0, {:.3f} with `train.seed=1`, {:.3f} with `train.seed=2`",
     "default_task_seeds.json", [f"runs.{i}.exact_accuracy" for i in range(3)]),
    ("README.md", "(6x6 Sudoku above: {:.3f} vs {:.3f})", "default_task.json",
     ["runs.0.exact_accuracy", "runs.1.exact_accuracy"]),
    # README.md and docs/evaluation.md: every family, short budget (the same table in both)
    *[(doc, suite_row(name, family, *([first] if first else [])), "puzzle_suite.json", suite_figures(family))
      for doc in ("README.md", "docs/evaluation.md") for name, family, first in SUITE_ROWS],
    ("README.md", "`bench/results/puzzle_suite.json`, {:.0f} minutes, one run", "puzzle_suite.json",
     [lambda r: r["total_seconds"] / 60]),
    ("docs/evaluation.md", "`bench/results/puzzle_suite.json`): {:.0f} minutes in all", "puzzle_suite.json",
     [lambda r: r["total_seconds"] / 60]),
    # docs/evaluation.md: the sorting and zebra runs
    *[("docs/evaluation.md", f"| {family} | {name} | {{:,d}} | {{:.3f}} / {{:.3f}} / {{:.3f}} | {bold} / {{:.3f}} / "
       f"{{:.3f}} | {wordings}", "puzzle_suite_sorting_zebra.json",
       [f"{results}.{fam}.{variant}.batches",
        *[f"{results}.{fam}.{variant}.{split}.{m}" for split in ("test", "test_heldout")
          for m in ("exact_accuracy", "cell_accuracy", "verifier_accuracy")],
        *[f"{results}.{fam}.{variant}.test_heldout.by_wording.{w}.exact_accuracy" for w in ("4", "5") if fam == "sorting"]])
      for family, fam, results in (("sorting", "sorting", "results"), ("sorting, seed 1", "sorting", "second_seed.results"),
                                   ("zebra", "zebra", "results"))
      for name, variant in (("hybrid (MiniLM)", "hybrid"), ("recursion off", "no_recursion"), ("backbone off", "no_backbone"))
      if not (results == "second_seed.results" and variant == "no_recursion")
      for bold in ["**{:.3f}**" if variant == "hybrid" else "{:.3f}"]
      for wordings in ["4: {:.2f}, 5: {:.2f} |" if fam == "sorting" else "|"]],
    ("docs/evaluation.md", "the hybrid beats backbone-off by {:.0f} and {:.0f} points ({:.3f} vs {:.3f}, {:.3f} vs "
     "{:.3f} with seed 1)", "puzzle_suite_sorting_zebra.json", [*SORTING_GAPS, *SORTING_HELD_OUT]),
    ("README.md", "sorting by {:.0f} and {:.0f} points (two seeds), zebra {:.2f} against nothing",
     "puzzle_suite_sorting_zebra.json", [*SORTING_GAPS, "results.zebra.hybrid.test_heldout.exact_accuracy"]),
    ("docs/evaluation.md", "Before, the same commands gave the hybrid {:.3f} and {:.3f} on held-out wordings against "
     "backbone-off's {:.3f} and {:.3f}", "puzzle_suite_sorting_zebra.json",
     [f"previous.held_out_wordings_exact.sorting/{v}{seed}"
      for v in ("hybrid", "no_backbone") for seed in ("", "/seed1")]),
    ("docs/evaluation.md", "the slot embedding at 0.02 against 1: {:.3f} against {:.3f} on held-out wordings, {:.3f} "
     "against {:.3f} on held-out puzzles", "puzzle_suite_sorting_zebra.json",
     [f"slot_scale_check.runs.std_{scale}.{split}.exact_accuracy"
      for split in ("test_heldout", "test") for scale in ("002", "1")]),
    ("docs/evaluation.md", "on held-out wordings ({:.3f} against {:.3f} without recursion and {:.3f} without the "
     "backbone)", "puzzle_suite.json",
     [f"results.sudoku.{v}.test_heldout.exact_accuracy" for v in ("hybrid", "no_recursion", "no_backbone")]),
    ("docs/evaluation.md", "on held-out wordings ({:.3f} against the hybrid's {:.3f} and {:.3f} without the backbone)",
     "puzzle_suite.json",
     [f"results.sorting.{v}.test_heldout.exact_accuracy" for v in ("no_recursion", "hybrid", "no_backbone")]),
    *[(doc, sentence, "puzzle_suite.json",
       [lambda r: r["results"]["sorting"]["no_recursion"]["batches"] / r["results"]["sorting"]["hybrid"]["batches"]])
      for doc, sentence in (("README.md", "recursion off runs {:.0f} times the batches"),
                            ("docs/evaluation.md", "Recursion off leads there with {:.0f} times the batches"))],
    ("docs/evaluation.md", "(Sudoku's hybrid ran {:d} here, {:d} before)", "puzzle_suite.json",
     ["results.sudoku.hybrid.batches", "previous.batches.sudoku/hybrid"]),
    ("docs/evaluation.md", "{:d} of {:d} held-out phrases from MiniLM ({:.3f} of puzzles) and {:d} of {:d} from the "
     "character features ({:.3f};", "direction_probe.json",
     ["results.minilm.phrases_read", "results.minilm.phrases", "results.minilm.puzzle_accuracy",
      "results.chars.phrases_read", "results.chars.phrases", "results.chars.puzzle_accuracy"]),
    ("docs/evaluation.md", "Zebra: the hybrid beats backbone-off on held-out wordings ({:.3f} vs {:.3f})",
     "puzzle_suite_sorting_zebra.json", ["results.zebra.hybrid.test_heldout.exact_accuracy",
                                         "results.zebra.no_backbone.test_heldout.exact_accuracy"]),
    ("docs/evaluation.md", "ran {:d} batches and reached {:.3f} / {:.3f} exact (held-out puzzles / wordings), attention "
     "{:d} batches and {:.3f} / {:.3f}", "puzzle_suite_zebra_mixers.json",
     ["runs.0.batches", "runs.0.test.exact_accuracy", "runs.0.test_heldout.exact_accuracy",
      "runs.1.batches", "runs.1.test.exact_accuracy", "runs.1.test_heldout.exact_accuracy"]),
    ("docs/evaluation.md", "(sorting {:.3f} against {:.3f} on held-out wordings; zebra ahead, {:.3f} / {:.3f})",
     "puzzle_suite_sorting_zebra.json",
     ["results.sorting.no_recursion.test_heldout.exact_accuracy", "results.sorting.hybrid.test_heldout.exact_accuracy",
      "results.zebra.no_recursion.test.exact_accuracy", "results.zebra.no_recursion.test_heldout.exact_accuracy"]),
    ("docs/evaluation.md", "5,000 batches (the batch cap) after {:.0f} and {:.0f} s of its 240 s",
     "puzzle_suite_sorting_zebra.json", ["results.sorting.no_recursion.train_seconds",
                                         "results.zebra.no_recursion.train_seconds"]),
    ("docs/evaluation.md", "On 6x6 Sudoku the same switch costs {:.1f} points", "default_task.json",
     [lambda r: 100 * (r["runs"][0]["exact_accuracy"] - r["runs"][1]["exact_accuracy"])]),
    # docs/backbones.md: the embedding cache
    ("docs/backbones.md", "(MiniLM {:.2f} vs {:.2f} s per 128 puzzles on the AMD EPYC with AVX512-BF16, {:.2f} vs {:.2f} s "
     "on an Intel Xeon with AMX)", "backbone_cache_trained.json",
     ["backbone_cache_trained_bf16_backbone.json:" + CACHE + "backbone_seconds_per_batch", CACHE + "backbone_seconds_per_batch",
      "backbone_cache_trained_backbone_bf16_xeon.json:" + CACHE + "backbone_seconds_per_batch",
      "backbone_cache_trained_xeon.json:" + CACHE + "backbone_seconds_per_batch"]),
    ("docs/backbones.md", "| training split ({:,d} puzzles) |", "cache_layout.json", ["rows.0.puzzles"]),
    *[("docs/backbones.md", f"| {name} | {{:.0f}} / {{:d}} | {{:.0f}} MiB | {{:,.0f}} MiB | {{:.1f}} ms | {{:.1f}} ms |",
       "cache_layout.json", [f"rows.{i}.{k}" for k in ("mean_tokens", "longest_tokens", "entry_mib", "padded_mib",
                                                         "read_ms", "padded_read_ms")])
      for i, name in enumerate(["zebra (default preset)", "ARC (default preset; 512 is MiniLM's limit)"])],
    ("docs/backbones.md", cache_table_row("all-MiniLM-L6-v2", "from scratch", False, "{:.2f}"), "backbone_cache.json",
     cache_table_figures("minilm")),
    ("docs/backbones.md", cache_table_row("all-MiniLM-L6-v2", "trained", True, "{:.2f}"), "backbone_cache_trained.json",
     cache_table_figures("minilm")),
    ("docs/backbones.md", cache_table_row("SmolLM2-135M (converted GGUF)", "from scratch", False, "{:.1f}"),
     "backbone_cache.json", cache_table_figures("smollm2")),
    ("docs/backbones.md", cache_table_row("SmolLM2-135M (converted GGUF)", "trained", True, "{:.1f}"),
     "backbone_cache_trained.json", cache_table_figures("smollm2")),
    ("docs/backbones.md", "The reasoner costs {:.2f} GFLOP per puzzle-step; MiniLM's forward over 128 puzzles (91 tokens "
     "each) costs {:.0f} GFLOP", "backbone_cache_trained.json",
     [CACHE + "reasoner_gflop_per_puzzle_step", CACHE + "backbone_gflop_per_batch"]),
    ("docs/backbones.md", "so the FLOP bound is {:.1f}x and {:.1f}x.", "backbone_cache_trained.json",
     [CACHE + "flop_bound", "backbone_cache.json:" + CACHE + "flop_bound"]),
    ("docs/backbones.md", "the measured bound is lower: 3.4-{:.1f}x trained, {:.1f}x from scratch",
     "backbone_cache_trained.json", [CACHE + "bound", "backbone_cache.json:" + CACHE + "bound"]),
    ("docs/backbones.md", "so it takes {:.1f} times the reasoner's time here ({:.1f} times on the Xeon below), and {:.1f} "
     "times with the reasoner in bf16", "backbone_cache_trained.json",
     [backbone_over_reasoner(f) for f in ("backbone_cache_trained", "backbone_cache_trained_xeon",
                                          "backbone_cache_trained_bf16")]),
    ("docs/backbones.md", "| fp32 (default) " + CACHE_ROW, "backbone_cache_trained.json", CACHE_ROW_FIGURES),
    ("docs/backbones.md", "| `train.mixed_precision=bf16` (reasoner in bf16, backbone fp32) "
     + CACHE_ROW.replace("| {:.1f}x |", "| **{:.1f}x** |", 1), "backbone_cache_trained_bf16.json", CACHE_ROW_FIGURES),
    ("docs/backbones.md", "| same, and `backbone.dtype=bfloat16` " + CACHE_ROW, "backbone_cache_trained_bf16_backbone.json",
     CACHE_ROW_FIGURES),
    ("docs/backbones.md", "cache comes close to the FLOP bound ({:.1f}x): {:.1f}x here", "backbone_cache_trained_bf16.json",
     [CACHE + "flop_bound", CACHE + "speedup"]),
    ("docs/backbones.md", "Run the backbone in bf16 too and the ratio is back at {:.1f}x.",
     "backbone_cache_trained_bf16_backbone.json", [CACHE + "speedup"]),
    *[("docs/backbones.md", f"| {name} " + XEON_ROW, f"{json}.json", CACHE_ROW_FIGURES)
      for name, json in (("fp32 (default)", "backbone_cache_trained_xeon"),
                         ("`train.mixed_precision=bf16` (reasoner in bf16, backbone fp32)", "backbone_cache_trained_bf16_xeon"),
                         ("`backbone.dtype=bfloat16` (reasoner fp32)", "backbone_cache_trained_backbone_bf16_xeon"),
                         ("both in bf16", "backbone_cache_trained_bf16_backbone_xeon"))],
    ("docs/backbones.md", "From scratch (fp32): {:.1f} against {:.1f} puzzles/s, {:.1f}x (FLOP bound {:.1f}x)",
     "backbone_cache_xeon.json", [CACHE + "cached_puzzles_per_second", CACHE + "uncached_puzzles_per_second",
                                  CACHE + "speedup", CACHE + "flop_bound"]),
    ("docs/backbones.md", "| compiled reasoner | {:.1f} | {:.1f} | {:.1f}x | {:.2f} | {:.2f} |",
     "backbone_cache_trained_compiled.json", CACHE_ROW_FIGURES[:5]),
    ("docs/backbones.md", "| eager, minutes later | {:.1f} | {:.1f} | {:.1f}x | {:.2f} | {:.2f} |",
     "backbone_cache_trained_compiled.json", [f.replace("summary.", "eager_run_minutes_later.") for f in CACHE_ROW_FIGURES[:5]]),
    # docs/backbones.md: the default job on SmolLM2
    ("docs/backbones.md", "| all-MiniLM-L6-v2 (encoder, default) | {:.3f} | {:.3f} | {:.3f} {:.3f} {:.3f} {:.3f} {:.3f} "
     "{:.3f} | {:.3f} / {:.2f} | {:.0f} s |", "default_task.json",
     ["runs.0.exact_accuracy", "runs.0.cell_accuracy", *[f"runs.0.exact_curve.{i}" for i in range(6)],
      "early_exit.json:early_exit.exact_accuracy", "early_exit.json:early_exit.mean_steps", "runs.0.train_seconds"]),
    ("docs/backbones.md", "| SmolLM2-135M-Instruct (causal decoder) | {:.3f} | {:.3f} | {:.3f} {:.3f} {:.3f} {:.3f} "
     "{:.3f} {:.3f} | {:.3f} / {:.2f} | {:.0f} s |", "default_task_smollm2.json",
     ["test.exact_accuracy", "test.cell_accuracy", *[f"test.exact_curve.{i}" for i in range(6)],
      "test.early_exit_exact_accuracy", "test.mean_halting_step", "train_seconds"]),
    ("docs/backbones.md", "the decoder is behind ({:.2f} vs {:.2f})", "default_task_smollm2.json",
     ["test.exact_curve.0", "default_task.json:runs.0.exact_curve.0"]),
    ("docs/backbones.md", "later ({:.2f} steps at evaluation", "default_task_smollm2.json", ["test.mean_halting_step"]),
    ("docs/backbones.md", "it trained for {:.0f} s against MiniLM's {:.0f} s", "default_task_smollm2.json",
     ["train_seconds", "default_task.json:runs.0.train_seconds"]),
    # docs/tasks.md: puzzle generation
    ("docs/tasks.md", "9x9 mazes {:,.0f} puzzles/s, 15x15 {:,.0f}; sorting {:,.0f}; zebra 3 x 2 (the preset) {:,.0f}, "
     "5 x 4 {:,.0f}; 6x6 Sudoku (the default task) {:.0f}, minimal 9x9 Sudoku {:.0f}", "generation.json",
     [f"settings.{s}.puzzles_per_second" for s in ("maze", "maze:size=15", "sorting", "zebra",
                                                   "zebra:houses=5,attributes=4", "sudoku:size=6", "sudoku:size=9")]),
    ("docs/tasks.md", "6x6 minimal {:.1f} ms, 9x9 minimal {:.0f} ms, 9x9 with 25 givens {:.0f} ms", "generation.json",
     [lambda r, s=s: 1000 / r["settings"][s]["puzzles_per_second"]
      for s in ("sudoku:size=6", "sudoku:size=9", "sudoku:size=9,givens=25")]),
]


def value(result: dict, path: str):
    for key in path.split("."):
        result = result[int(key)] if isinstance(result, list) else result[key]
    return result


def figure(default_json: str, where) -> float:
    """One figure a claim names: a path into its JSON, "other.json:path", or a function of its JSON."""
    name, path = where.split(":", 1) if isinstance(where, str) and ".json:" in where else (default_json, where)
    result = json.loads((RESULTS / name).read_text())
    return where(result) if callable(where) else value(result, path)


def number(spec: str) -> str:
    """A figure written with this format spec, as a regex group: as many decimals as the spec gives."""
    decimals = re.search(r"\.(\d+)f", spec)
    return r"(-?\d[\d,]*" + (rf"\.\d{{{decimals[1]}}})" if decimals and decimals[1] != "0" else ")")


def test_hand_written_bench_figures_match_their_json():
    """Every claim's anchor is found once in its doc, and each figure there is its JSON value, rounded as written."""
    texts = {doc: " ".join((ROOT / doc).read_text().split()) for doc in {claim[0] for claim in CLAIMS}}
    wrong = []
    for doc, anchor, name, figures in CLAIMS:
        pieces = list(string.Formatter().parse(" ".join(anchor.split())))
        specs = [spec for _, field, spec, _ in pieces if field is not None]
        assert len(specs) == len(figures), f"{doc}: {anchor!r} has {len(specs)} figures, the claim names {len(figures)}"
        pattern = "".join(re.escape(text) + (number(spec) if field is not None else "") for text, field, spec, _ in pieces)
        found = re.findall(pattern, texts[doc])
        if len(found) != 1:
            wrong.append(f"{doc}: {anchor!r} found {len(found)} times (the doc's words changed?)")
            continue
        written = found[0] if isinstance(found[0], tuple) else (found[0],)
        for shown, spec, where in zip(written, specs, figures):
            want = format(figure(name, where), spec)
            if shown != want:
                source = (where if ".json:" in where else f"{name} {where}") if isinstance(where, str) else f"{name} (computed)"
                wrong.append(f"{doc}: {anchor!r} says {shown} where {source} gives {want}")
    assert not wrong, "\n".join(wrong)


def test_a_changed_figure_is_caught(monkeypatch):
    """A figure edited in the doc (or its JSON changed) fails the check above rather than passing unseen."""
    doc, anchor, name, figures = CLAIMS[0]
    spec = next(spec for _, field, spec, _ in string.Formatter().parse(anchor) if field is not None)
    right = format(figure(name, figures[0]), spec)
    off = format(figure(name, figures[0]) - 0.01, spec)
    row = anchor[:anchor.index("{")]  # the row's words up to its first figure, which the edit changes
    edited = (ROOT / doc).read_text().replace(f"{row}{right}", f"{row}{off}")
    assert edited != (ROOT / doc).read_text()
    real = Path.read_text
    monkeypatch.setattr(Path, "read_text", lambda self, *a, **k: edited if self == ROOT / doc else real(self, *a, **k))
    try:
        test_hand_written_bench_figures_match_their_json()
    except AssertionError as error:
        assert f"says {off} where {name} {figures[0]} gives {right}" in str(error)
    else:
        raise AssertionError("an edited figure passed")
