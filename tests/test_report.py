"""bench/report.py's sections for the benches run on their own: each renders its JSON's figures in
the right row, names the command and the machine, and is left out when its JSON is absent."""

import json
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


def cache_summary(speedup: float) -> dict:
    keys = ["cached_puzzles_per_second", "uncached_puzzles_per_second", "backbone_seconds_per_batch",
            "cache_read_seconds_per_batch", "reasoner_seconds_per_batch", "bound", "backbone_gflop_per_batch",
            "reasoner_gflop_per_batch", "flop_bound"]
    return {k: 1.0 for k in keys} | {"speedup": speedup}


def test_the_cache_section_shows_both_points_and_each_ones_command(tmp_path):
    # an old JSON: no command, a machine without processor or torch (as backbone_cache.json is)
    old = {"steps": 5, "batch_size": 128, "machine": {"cpu_count": 2, "torch_threads": 2}}
    write(tmp_path, "backbone_cache", old | {"summary": {"minilm": cache_summary(1.61)}})
    text = section(report.render(tmp_path), "Training with and without the embedding cache")
    assert "| 1.61 |" in row(text, "minilm") and "| from scratch |" in row(text, "minilm")
    assert "`python bench/backbone_cache.py --steps 5` (as the docs give it" in text
    assert "trained" not in row(text, "minilm") and "Trained:" not in text  # no trained JSON beside it

    write(tmp_path, "backbone_cache_trained", old | {"summary": {"minilm": cache_summary(3.68)},
                                                     "command": "python bench/backbone_cache.py --init x", "machine": MACHINE})
    text = section(report.render(tmp_path), "Training with and without the embedding cache")
    trained = next(line for line in text.splitlines() if "| trained |" in line)
    assert trained.startswith("| minilm |") and "| 3.68 |" in trained
    assert "Trained: Command: `python bench/backbone_cache.py --init x`" in text and "Test CPU" in text


def test_the_default_job_sections(tmp_path):
    run = {"overrides": [], "wall_seconds": 600.0, "train_seconds": 430.0, "batches": 180, "num_puzzles": 1000,
           "cell_accuracy": 0.99}
    write(tmp_path, "default_task", {"gain_points": 81.3, "runs": [
        run | {"name": "main", "exact_accuracy": 0.985},
        run | {"name": "off", "overrides": ["reasoner.T=1"], "exact_accuracy": 0.123}]})
    write(tmp_path, "default_task_smollm2", {
        "command": "accelerate launch hybrid/train.py backbone=smollm2", "install": "pip install gguf",
        "note": "a note", "machine": {"processor": "Test CPU", "torch": "9.9", "threads": 2}, "batches": 180,
        "train_seconds": 552.0, "test": {"exact_accuracy": 0.971, "cell_accuracy": 0.99, "exact_curve": [0.75, 0.971],
                                         "early_exit_exact_accuracy": 0.97, "mean_halting_step": 1.61,
                                         "num_puzzles": 1000}})
    page = report.render(tmp_path)
    text = section(page, "The default job, with and without recursion")
    assert "| 0.123 |" in row(text, "off") and "reasoner.T=1" in row(text, "off")
    assert "81.3 points" in text and "Machine: not recorded in the JSON." in text
    smol = section(page, "The default job on SmolLM2 embeddings")
    assert "| 0.971 | 0.99 | 0.750 0.971 | 0.97 | 1.61 |" in smol
    assert "`accelerate launch hybrid/train.py backbone=smollm2`" in smol and "Test CPU, 2 torch threads" in smol


def test_the_early_exit_section(tmp_path):
    modes = {"verifier_accuracy": 0.9, "puzzles_per_second": 50.0, "seconds": 20.0}
    write(tmp_path, "early_exit", {"command": "python bench/early_exit.py runs/x", "machine": MACHINE,
                                   "checkpoint": "runs/x", "puzzles": 1000, "N_sup": 6, "pass": True,
                                   "fixed_steps": modes | {"exact_accuracy": 0.985, "mean_steps": 6.0},
                                   "early_exit": modes | {"exact_accuracy": 0.984, "mean_steps": 1.35}})
    text = section(report.render(tmp_path), "Early exit at inference")
    assert row(text, "early exit").startswith("| early exit | 0.984 | 0.9 | 1.35 |")
    assert "| 6 |" in row(text, "fixed steps") and "pass" in text and "`python bench/early_exit.py runs/x`" in text


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
        "reruns": {"sudoku": {"command": "python bench/puzzle_suite.py --families sudoku", "why": "because"}}})
    text = section(report.render(tmp_path), "Every puzzle family, small and short")
    assert row(text, "sudoku task.size=4") == "| sudoku task.size=4 | 0.980 / 0.945 (124) | 0.970 / 0.685 (10) |"
    assert row(text, "reasoning_gym") == "| reasoning_gym | 0.500 / n/a (10) | 0.250 / n/a (10) |"  # one wording
    assert row(text, "qa") == "| qa | skipped | skipped |" and "- qa skipped: PuzzleError: needs task.path" in text
    assert "`python bench/puzzle_suite.py --families sudoku`): because." in text
    assert "(as the docs give it" in text and "1 torch threads, torch 9.9" in text


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
