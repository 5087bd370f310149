"""The evaluation harness (`python -m eval`): a tiny trained run in, a report with plots out;
bad puzzles and bad answers are recorded, bad requests are clear errors."""

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

from eval import HarnessError
from eval.__main__ import evaluate_run, main
from eval.puzzle_file import parse_puzzles, read_puzzles
from eval.tasks import Arc, Maze, PuzzleError, Sorting, make_task
from eval.tasks.base import TypedPuzzle
from eval.tasks.sudoku import Grid, Sudoku, format_grid
from hybrid.checkpoint import CheckpointError, checkpoints
from hybrid.config import ConfigError, load_config
from hybrid.train import train

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """A run folder from a few-second training: 4x4 Sudoku on the character front end."""
    return trained_run(tmp_path_factory.mktemp("harness"), "task.train_size=64", "task.test_size=16", "reasoner.n=2",
                       "reasoner.T=2", "reasoner.N_sup=2", "train.steps=4", "train.checkpoint_every=2")


def trained_run(root: Path, *settings: str) -> Path:
    """A few-second training in `root`/run: 4x4 Sudoku on the character front end, with `settings`."""
    train(load_config([
        "backbone=chars", "task.size=4", "task.wordings=[0]", "reasoner.hidden=32", "train.batch_size=16",
        "train.eval_every=0", "train.warmup=0", "train.tracker=null", f"train.output_dir={root / 'run'}",
        f"train.data_dir={root / 'cache'}", *settings]))
    return root / "run"


@pytest.fixture(scope="module")
def all_wordings_run(tmp_path_factory):
    """A run whose config names no task.wordings (the default config names [0]), so it trained on
    all three of Sudoku's."""
    root = tmp_path_factory.mktemp("all_wordings")
    train(load_config([
        "backbone=chars", "task.size=4", "task.wordings=null", "task.train_size=32", "task.test_size=8",
        "reasoner.hidden=32", "reasoner.n=1", "reasoner.T=1", "reasoner.N_sup=1", "train.batch_size=16", "train.steps=1",
        "train.eval_every=0", "train.checkpoint_every=0", "train.tracker=null",
        f"train.output_dir={root / 'run'}", f"train.data_dir={root / 'cache'}",
    ]))
    return root / "run"


def report_section() -> str:
    """The "## The report" section of docs/evaluation.md."""
    return (ROOT / "docs" / "evaluation.md").read_text().split("## The report")[1].split("\n## ")[0]


def report_table() -> dict[str, str]:
    """The report table of docs/evaluation.md: each field its first column names -> its row's meaning."""
    return {name: meaning for names, meaning in re.findall(r"^\| (.*?) \| (.*) \|$", report_section(), re.M)
            for name in re.findall(r"`([\w@]+)`", names)}


def documented_report_fields() -> set[str]:
    """The fields the report table of docs/evaluation.md names (its first column)."""
    return set(report_table())


def fields_of_a_report_of_no_puzzles() -> set[str]:
    """The fields docs/evaluation.md says a report of no puzzles has: a run of the report table's
    rows (`first` to `last` in the table), and the others it names after them."""
    said = re.search(r"has `num_puzzles` 0 and .*?\((`\w+`)\s+to\s+(`\w+`)\s+in the table, (.*?)\), "
                     r"none of the figures", report_section(), re.S)
    assert said, "docs/evaluation.md no longer says which fields a report of no puzzles has"
    rows = list(report_table())  # in the table's order
    first, last = (rows.index(name.strip("`")) for name in said.group(1, 2))
    return {"num_puzzles", *rows[first:last + 1], *re.findall(r"`(\w+)`", said.group(3))}


def listed_plots() -> set[str]:
    """The plots the list below docs/evaluation.md's report table names (`<name>.png`)."""
    return set(re.findall(r"^- `(\w+)\.png`", report_section(), re.M))


def names_in(meaning: str) -> set[str]:
    """The names a table cell gives in code: `count`, `pass@1`, `net_applications_all = N_sup*T*(n+1)`
    (not `backbone.cache=false`, a config override)."""
    return {m.group(1) for span in re.findall(r"`([^`]*)`", meaning) if (m := re.fullmatch(r"([\w@]+)(?: = .*)?", span))}


# Fields only some reports have, each listed in the table and checked where it appears:
ONLY_SOME = {"votes": "families whose test puzzles come in views (ARC): checked on ARC's metrics below",
             "plot_error": "only when plotting failed: test_a_plot_that_fails_leaves_the_report_and_says_why",
             "puzzles": "only with --puzzles: the file's path, checked by "
                        "test_two_puzzle_files_of_one_name_are_told_apart_where_one_replaces_the_others_report",
             "puzzles_sha256": "only with --puzzles: what the file held, checked by "
                               "test_a_puzzle_file_edited_since_its_report_is_told_by_the_sha256_of_what_was_read"}
# Fields that hold dicts, and how their keys are checked against the table:
NAMED_KEYS = {"compute", "throughput", "votes", "answer_failures", "puzzle_failures"}  # in the row's meaning
OTHER_DICTS = {"task": "the run's task config: its keys are config keys (docs/tasks.md; tests/test_docs.py)",
               "by_wording": "keyed by wording; each value's keys are quoted in the row",
               "plots": "keyed by plot: `<name>.png` in the list below the table"}


def test_report_has_every_figure_and_the_plots_exist(run, tmp_path):
    report = evaluate_run(run, ["reasoner.N_sup=3"], out=tmp_path)  # more steps than trained
    saved = json.loads((tmp_path / "report.json").read_text())
    assert saved["report"] == str(tmp_path / "report.json")
    assert saved["exact_accuracy"] == report["exact_accuracy"]
    assert saved["num_puzzles"] == 16 and saved["checkpoint"] == str(run / "final")  # the EMA copy training wrote
    assert saved["weights"] == "final/model.safetensors"
    for key in ("exact_accuracy", "cell_accuracy", "verifier_accuracy", "task_score", "early_exit_exact_accuracy"):
        assert 0.0 <= saved[key] <= 1.0, key
    assert len(saved["exact_curve"]) == len(saved["cell_curve"]) == 3
    assert saved["exact_curve"][-1] == saved["exact_accuracy"]
    assert sum(saved["halting_histogram"]) == 16 and 1 <= saved["mean_halting_step"] <= 3
    assert 0 <= saved["never_halted"] <= saved["halting_histogram"][-1]
    assert len(saved["slot_accuracy"]) == 16
    compute = saved["compute"]
    assert compute["N_sup"] == 3 and compute["N_sup_trained"] == 2
    assert compute["net_applications_all"] == 3 * 2 * (2 + 1)  # N_sup * T * (n + 1)
    assert saved["throughput"]["reasoner_puzzles_per_second"] > 0
    assert saved["puzzle_failures"]["count"] == 0 and saved["answer_failures"]["count"] == 0
    assert saved["by_wording"] == {"0": {"exact_accuracy": saved["exact_accuracy"], "num_puzzles": 16}}
    for name in ("recursion_curve", "halting_steps"):
        assert (tmp_path / saved["plots"][name]).stat().st_size > 1000


def test_what_max_length_cuts_is_said_once_whether_the_split_is_embedded_read_from_the_cache_or_live(tmp_path):
    """The cut of the evaluated split is said once, by the split's own pass: the throughput timing embeds
    some of the same texts again and said their cut a second time, the very texts the cache had told."""
    run = trained_run(tmp_path, "backbone.max_length=24", "task.train_size=16", "task.test_size=8", "reasoner.n=1",
                      "reasoner.T=1", "reasoner.N_sup=1", "train.steps=1", "train.checkpoint_every=0")

    def cuts_said(*overrides: str) -> list[str]:
        with warnings.catch_warnings(record=True) as seen:
            warnings.simplefilter("always")  # a repeated message counts each time
            evaluate_run(run, list(overrides), out=tmp_path / f"report{len(overrides)}{overrides[-1:]}")
        return [str(w.message) for w in seen if "truncated" in str(w.message)]

    for overrides, split in [((), "test (cached)"),  # training embedded it: a cache hit still says it
                             ((f"train.data_dir={tmp_path / 'fresh'}",), "test"),  # embedded now
                             (("backbone.cache=false",), "test")]:  # live: tokenized once
        said = cuts_said(*overrides)
        assert len(said) == 1 and said[0].startswith(f"{split}: backbone.max_length=24 truncated"), (overrides, said)


def dict_keys(report: dict) -> dict[str, set[str]]:
    """The keys of each NAMED_KEYS field of `report`, with those of the dicts in its lists (`first`'s entries)."""
    return {field: set(value) | {key for inner in value.values() if isinstance(inner, list)
                                 for entry in inner if isinstance(entry, dict) for key in entry}
            for field, value in report.items() if field in NAMED_KEYS and isinstance(value, dict)}


def undocumented_keys(report: dict) -> list[str]:
    """What `report` (a report or the metrics of one) has that docs/evaluation.md's report table
    does not list: a field, a key of a NAMED_KEYS field, by_wording's or plots' keys; a dict-valued
    field nothing here says how to check."""
    table, problems = report_table(), []
    problems += [f"{field}: not in the table" for field in report if field not in table]
    for field, keys in dict_keys(report).items():
        problems += [f"{field}.{key}: not in its row" for key in sorted(keys - names_in(table.get(field, "")))]
    for field, value in report.items():
        if isinstance(value, dict) and field not in NAMED_KEYS | set(OTHER_DICTS):
            problems.append(f"{field}: a dict neither NAMED_KEYS nor OTHER_DICTS says how to check")
        elif field == "by_wording":
            inner = {key for counts in value.values() for key in counts}
            quoted = set(re.findall(r'"([a-z_]+)"', table[field]))
            problems += [f"by_wording: its row quotes {sorted(quoted)}, the report has {sorted(inner)}"] * (inner != quoted)
        elif field == "plots":
            problems += [f"plots.{name}: no `{name}.png` in the list below the table"
                         for name in sorted(set(value) - listed_plots())]
    return problems


def stale_names(seen: dict[str, set[str]]) -> list[str]:
    """Names the NAMED_KEYS rows give that no report had: neither a key `seen` (over several
    reports, so each field's lists had entries) nor a field."""
    table, known = report_table(), set().union(*seen.values())
    return [f"{field}: its row names `{name}`, which no report has" for field in sorted(NAMED_KEYS)
            for name in sorted(names_in(table[field]) - known - set(table))]


def test_one_override_given_as_a_str_says_to_pass_a_list(run, tmp_path):
    """From Python: each character of the str was read as an override."""
    with pytest.raises(TypeError, match=re.escape("pass ['reasoner.N_sup=3']")):
        evaluate_run(run, "reasoner.N_sup=3", out=tmp_path / "out")


def test_the_reports_fields_are_those_docs_evaluation_md_lists(run, tmp_path):
    """Both ways: a field (or key of one) the code writes that the table does not list fails, and so
    does a row naming a field no report has; ONLY_SOME's fields are checked where they appear."""
    import random

    import torch

    from eval.runner import score_predictions

    table = report_table()
    assert set(ONLY_SOME) <= set(table), "each field only some reports have is still listed, with its condition"
    evaluate_run(run, out=tmp_path / "test")
    saved = json.loads((tmp_path / "test" / "report.json").read_text())  # as written, `report` and `plots` too
    missing = set(table) - set(ONLY_SOME) - set(saved)
    assert not missing, f"the table lists fields a report does not have: {sorted(missing)}"

    # a puzzle file with one puzzle that fails: puzzle_failures' entries; one with none readable:
    # a report without the figures (the page says so), still only documented fields
    good = format_grid(Grid(4), Sudoku(size=4).generate(random.Random(1), 0).data["puzzle"]).replace("0", "_")
    (tmp_path / "mine.jsonl").write_text(f"{json.dumps(good)}\n\n\"1 2 3\"\n")  # a .jsonl row's failure names its line
    typed = evaluate_run(run, puzzles=tmp_path / "mine.jsonl", out=tmp_path / "typed")
    (tmp_path / "none.txt").write_text("1 2 3\n")
    nothing = evaluate_run(run, puzzles=tmp_path / "none.txt", out=tmp_path / "none")
    assert typed["puzzle_failures"]["first"][0]["line"] == 3
    assert typed["num_puzzles"] == 1 and nothing["num_puzzles"] == 0 and "exact_accuracy" not in nothing

    # ARC's metrics: votes, and answer_failures' entries (the second answer cannot be decoded)
    class Unreadable(Arc):
        def decode(self, example, ids):
            if example.data.get("unreadable"):
                raise ValueError("unreadable")
            return super().decode(example, ids)

    arc = Unreadable(max_size=4)
    mirror = {"id": "mirror", "train": [{"input": [[1, 0]], "output": [[0, 1]]}],
              "test": [{"input": [[3, 0]], "output": [[0, 3]]}, {"input": [[0, 4]], "output": [[4, 0]]}]}
    examples = [arc.example(mirror, 0), arc.example(mirror, 1)]
    examples[1].data["unreadable"] = True
    labels = torch.tensor([e.labels for e in examples])
    pred = {"ids": labels.unsqueeze(1), "q_halt": torch.zeros(2, 1), "labels": labels, "index": torch.arange(2)}
    metrics = score_predictions(pred, arc, examples)
    assert "votes" in metrics and metrics["answer_failures"]["first"]

    seen: dict[str, set[str]] = {}
    for report in (saved, typed, nothing, metrics):
        assert not undocumented_keys(report), undocumented_keys(report)
        for field, keys in dict_keys(report).items():
            seen[field] = seen.get(field, set()) | keys
    assert set(seen) == NAMED_KEYS  # each was seen, so each row's names were checked
    listed = listed_plots()
    assert set(saved["plots"]) == listed, f"the page lists the plots {sorted(listed)}, a report draws {saved['plots']}"
    assert not stale_names(seen), stale_names(seen)


def test_a_run_trained_with_relative_paths_evaluates_from_another_directory(small_config, tiny_backbone, tmp_path,
                                                                             monkeypatch):
    project, elsewhere = tmp_path / "project", tmp_path / "elsewhere"
    shutil.copytree(tiny_backbone("bert"), project / "models" / "bert")
    elsewhere.mkdir()
    monkeypatch.chdir(project)
    train(small_config("backbone.path=models/bert", "train.data_dir=cache"))
    monkeypatch.chdir(elsewhere)
    report = evaluate_run(tmp_path / "run", out=tmp_path / "report")  # offline: models/bert as a hub id failed
    assert report["backbone"] == str(project / "models" / "bert") and report["num_puzzles"] == 16
    assert not list(elsewhere.iterdir())  # the splits and states made in training are used, not made again here


def test_a_run_whose_backbone_folder_moved_is_evaluated_with_it_named(small_config, tiny_backbone, tmp_path):
    folder, moved = tmp_path / "bert", tmp_path / "moved"
    shutil.copytree(tiny_backbone("bert"), folder)
    run = tmp_path / "my run"  # the command to paste quotes it
    train(small_config(f"backbone.path={folder}", f"train.output_dir={run}"))
    folder.rename(moved)
    with pytest.raises(ConfigError, match=r"config.yaml names that backbone; if it is elsewhere here: "
                                          rf"python -m eval {re.escape(shlex.quote(str(run)))} backbone.path=PATH"):
        evaluate_run(run, out=tmp_path / "report")
    report = evaluate_run(run, [f"backbone.path={moved}"], out=tmp_path / "report")
    assert report["backbone"] == str(moved) and report["backbone_differs"] == []  # the same files: no transfer


def test_exact_accuracy_by_wording_groups_puzzles_by_their_phrasing():
    import torch

    from eval.runner import by_wording

    exact = torch.tensor([True, False, True, True, False])
    groups = by_wording(exact, [3, 1, 3, 1, 1])
    assert list(groups) == ["1", "3"]  # sorted by wording
    assert groups["1"]["num_puzzles"] == 3 and abs(groups["1"]["exact_accuracy"] - 1 / 3) < 1e-6
    assert groups["3"] == {"exact_accuracy": 1.0, "num_puzzles": 2}


def test_a_report_folder_that_cannot_be_written_is_said_before_evaluating(run, tmp_path, monkeypatch):
    import hybrid.inference

    def no_backbone(*args, **kwargs):
        raise AssertionError("the backbone loaded: the folder was checked only after evaluating")

    monkeypatch.setattr(hybrid.inference, "backbone_named_in", no_backbone)
    (tmp_path / "notes.txt").write_text("")
    with pytest.raises(HarnessError, match="cannot write the report in .*notes.txt/report.*--out a folder that can"):
        evaluate_run(run, out=tmp_path / "notes.txt" / "report")  # was: NotADirectoryError, after evaluating


def test_a_report_that_cannot_be_written_at_the_end_is_an_error_saying_what_to_do(run, tmp_path, monkeypatch):
    import eval.__main__

    def disk_full(report, out):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(eval.__main__, "write_report", disk_full)
    with pytest.raises(HarnessError, match=r"could not write .*report \(.* free there\): .*No space left.*another folder"):
        evaluate_run(run, out=tmp_path / "report")


def test_weights_saved_without_their_config_are_evaluated_with_the_runs(run, tmp_path):
    copy = shutil.copytree(run, tmp_path / "run")
    (copy / "final" / "config.yaml").unlink()  # a hand-made final/ (its checksums cover only the weights)
    report = evaluate_run(copy, out=tmp_path / "report")
    assert report["checkpoint"] == str(copy / "final") and report["num_puzzles"] == 16


def test_a_checkpoint_folder_and_held_out_wordings(run, tmp_path):
    checkpoint = run / "checkpoints" / "step_00000002"
    report = evaluate_run(checkpoint, ["task.held_out_wordings=[1]"], split="test_heldout", out=tmp_path)
    assert report["checkpoint"] == str(checkpoint) and report["num_puzzles"] == 16
    assert report["weights"].startswith("ema") and report["run"] == str(run)
    assert report["trained_wordings"] == [0] and report["task"]["held_out_wordings"] == [1]
    assert report["held_out_wordings_trained_on"] == []  # wording 1 was not trained on
    with pytest.raises(HarnessError, match="held_out_wordings"):
        evaluate_run(run, split="test_heldout", out=tmp_path)
    # the last checkpoint's EMA is what training copied to final/: both give the same answers
    last = evaluate_run(run / "checkpoints" / "step_00000004", out=tmp_path / "last")
    final = evaluate_run(run, out=tmp_path / "final")
    assert last["weights"].startswith("ema") and final["weights"] == "final/model.safetensors"
    assert (last["slot_accuracy"], last["halting_histogram"]) == (final["slot_accuracy"], final["halting_histogram"])


def test_a_checkpoint_named_on_its_own_reports_beside_the_runs_report_not_over_it(run, tmp_path):
    """`python -m eval RUN/checkpoints/step_N` wrote RUN/eval/test, replacing the report of the run's
    final weights there; it now writes RUN/eval/step_N/test, and the run's report stays."""
    copy = shutil.copytree(run, tmp_path / "run")
    final = evaluate_run(copy)
    older = evaluate_run(copy / "checkpoints" / "step_00000002")
    assert final["report"] == str(copy / "eval" / "test" / "report.json")
    assert older["report"] == str(copy / "eval" / "step_00000002" / "test" / "report.json")
    assert json.loads((copy / "eval" / "test" / "report.json").read_text())["checkpoint"] == str(copy / "final")
    # the run folder named, with no final/ yet: its newest checkpoint is the run's report, in RUN/eval/test
    shutil.rmtree(copy / "final")
    newest = checkpoints(copy)[-1]
    latest = evaluate_run(copy)
    assert latest["report"] == str(copy / "eval" / "test" / "report.json") and latest["checkpoint"] == str(newest)


def test_the_trained_wordings_are_those_training_used_when_the_config_named_none(all_wordings_run, tmp_path):
    assert evaluate_run(all_wordings_run, out=tmp_path)["trained_wordings"] == [0, 1, 2]


def test_weights_evaluated_on_another_family_report_the_wordings_of_the_family_they_trained_on():
    """Sudoku weights read on sorting puzzles: the wordings trained on are Sudoku's 3 (less the
    one held out), not sorting's 6, and another family's wording 1 is no overlap to warn about."""
    from eval.held_out import held_out_but_trained, trained_wordings
    from eval.tasks import make_task

    trained = load_config(["task=sudoku", "task.wordings=null", "task.held_out_wordings=[1]"])  # all less one
    config = load_config(["task=sorting", "task.held_out_wordings=[1]"])
    assert make_task(config.task).num_wordings != make_task(trained.task).num_wordings
    seen = trained_wordings(make_task(config.task), config, trained)
    assert seen == [0, 2]
    assert held_out_but_trained(config, trained, "test_heldout", [0, 1, 2]) == []  # not Sudoku's wording 1


def test_a_held_out_wording_the_weights_trained_on_is_a_warning_and_in_the_report(all_wordings_run, tmp_path):
    """A run trained on every wording, evaluated on a "held-out" wording 2: that split is no test
    of a phrasing the model never read."""
    with pytest.warns(UserWarning, match=r"wording\(s\) \[2\], which the weights were trained on .* not held out"):
        report = evaluate_run(all_wordings_run, ["task.held_out_wordings=[2]"], split="test_heldout", out=tmp_path)
    assert report["held_out_wordings_trained_on"] == [2] and report["by_wording"].keys() == {"2"}


def test_an_override_that_draws_another_training_split_leaves_the_trained_puzzles_out_of_the_test(tmp_path):
    """Zebra 3 x 1 is a small puzzle space. Evaluated with task.held_out_wordings=[2], a run trained
    on wordings 0-2 draws its training split anew (from wordings 0-1): the test split leaves out
    the puzzles of the split training drew, 6 of the 200 it would hold."""
    from hybrid.data import build_splits, examples

    common = ["task=zebra", "task.attributes=1", "task.train_size=500", "task.test_size=200", "backbone=chars",
              "reasoner.hidden=32", "reasoner.n=1", "reasoner.T=1", "reasoner.N_sup=1", "train.batch_size=16",
              "train.steps=1", "train.eval_every=0", "train.checkpoint_every=0", "train.tracker=null",
              "train.cpu_threads=1", f"train.data_dir={tmp_path / 'cache'}"]
    trained = load_config([*common, f"train.output_dir={tmp_path / 'run'}"])
    train(trained)
    task = make_task(trained.task)
    seen = {task.puzzle_key(e) for e in examples(build_splits(task, trained.task, trained.train.seed, tmp_path / "cache")["train"])}
    overridden = load_config([*common, "task.held_out_wordings=[2]"])
    drawn = examples(build_splits(task, overridden.task, overridden.train.seed, tmp_path / "cache")["test"])
    trained_on = sum(task.puzzle_key(e) in seen for e in drawn)
    assert trained_on > 0  # the leak this guards against (6 puzzles)

    with pytest.warns(UserWarning, match=f"{trained_on} of the 200 test puzzles .* were trained on"):
        report = evaluate_run(tmp_path / "run", ["task.held_out_wordings=[2]"], out=tmp_path / "report")
    assert report["trained_puzzles_left_out"] == trained_on and report["num_puzzles"] == 200 - trained_on
    assert evaluate_run(tmp_path / "run", out=tmp_path / "plain")["trained_puzzles_left_out"] == 0  # nothing overridden


def test_states_unlike_those_the_weights_were_trained_on_are_a_warning_and_in_the_report(small_config, tiny_backbone,
                                                                                         tmp_path):
    """A backbone of the same width loads whatever its states: evaluation and solve compare it with the
    record saved beside the weights, and name each difference (a moved folder is none)."""
    import torch
    from transformers import AutoModel

    from hybrid.inference import Hybrid

    folder = tmp_path / "bert"
    shutil.copytree(tiny_backbone("bert"), folder)
    config = small_config(f"backbone.path={folder}")
    train(config)
    run = Path(config.train.output_dir)
    moved = tmp_path / "elsewhere"
    shutil.copytree(folder, moved)
    assert evaluate_run(run, [f"backbone.path={moved}"], out=tmp_path / "moved")["backbone_differs"] == []
    with pytest.warns(UserWarning, match="trained on other backbone states than these: backbone.layer is 1, trained on last"):
        report = evaluate_run(run / "checkpoints" / "step_00000004", ["backbone.layer=1"], out=tmp_path / "layer")
    assert report["backbone_differs"] == ["backbone.layer is 1, trained on last"]

    model = AutoModel.from_pretrained(folder)  # the folder's weights replaced by another model's, same shapes
    with torch.no_grad():
        model.embeddings.word_embeddings.weight.add_(1.0)
    model.save_pretrained(folder)
    with pytest.warns(UserWarning, match=f"the files model.safetensors of {folder} are not those it was trained on"):
        solver = Hybrid.from_pretrained(run)
    saved = solver.save_pretrained(tmp_path / "copy")  # a copy keeps the record of what it was trained on
    assert (saved / "backbone.json").read_text() == (run / "final" / "backbone.json").read_text()
    assert len(evaluate_run(saved, [f"backbone.path={moved}"], out=tmp_path / "copy_report")["backbone_differs"]) == 0


def test_a_hub_commit_is_compared_with_a_commit_and_not_with_a_folders_files():
    from types import SimpleNamespace

    from hybrid.trained_on import differences

    hub = {"id": "org/model", "weights": "a" * 40, "tokenizer": "t", "layer": "last", "dtype": "float32",
           "max_length": 512}

    def now(**changes):
        return SimpleNamespace(fingerprint=hub | changes)

    assert differences(None, now()) is None  # weights saved before records: nothing to say
    assert differences(hub, now(dtype="bfloat16", max_length=64)) == []  # same states, up to rounding or truncation
    assert differences(hub, now(weights="b" * 40)) == [
        f"org/model is at commit bbbbbbbbbbbb, trained at aaaaaaaaaaaa (backbone.revision={'a' * 40} loads that one)"]
    # Another model's commit: its revision would load a commit of this one, which is not what trained (was told so)
    assert differences(hub, now(id="org/other", weights="b" * 40)) == [
        f"org/other is at commit bbbbbbbbbbbb, trained on org/model at aaaaaaaaaaaa (backbone.path=org/model "
        f"backbone.revision={'a' * 40} loads that one)"]
    assert differences(hub, now(id="/copy", weights="files:model.safetensors=0123")) == []  # cannot tell
    assert differences(hub, now(tokenizer="u"))[0].startswith("its tokenizer is not the one trained with")
    assert differences(hub | {"weights": 3}, now()) == []  # a record edited by hand never stops a load
    chars = SimpleNamespace(identity="chars@v2-3-pos-160", config=SimpleNamespace(max_length=512))
    assert differences(hub, chars) == ["the front end is chars@v2-3-pos-160, trained on org/model"]


def test_a_folders_changed_added_and_removed_files_are_named_and_a_record_that_is_no_mapping_is_none(tmp_path):
    from types import SimpleNamespace

    from hybrid import trained_on

    record = {"id": "/m", "weights": "files:config.json=1,model.safetensors=2", "tokenizer": "t", "layer": "last"}

    def now(files):
        return SimpleNamespace(fingerprint=record | {"weights": "files:" + files})

    def named(*files):
        return [f"the files {', '.join(files)} of /m are not those it was trained on"]

    assert trained_on.differences(record, now("config.json=1,model.safetensors=2")) == []
    assert trained_on.differences(record, now("config.json=1,model.safetensors=9")) == named("model.safetensors")
    assert trained_on.differences(record, now("config.json=1,extra.bin=3,model.safetensors=2")) == named("extra.bin")
    assert trained_on.differences(record, now("model.safetensors=2")) == named("config.json")
    other = SimpleNamespace(fingerprint=record | {"id": "/other", "weights": "files:config.json=1,model.safetensors=9"})
    assert trained_on.differences(record, other) == [  # another folder (init_from across backbones): was not named
        "the files model.safetensors of /other are not those it was trained on (those of /m)"]
    for text in ("[1, 2]", '"text"', "{not json"):  # edited or overwritten: no record, never a failed load
        (tmp_path / trained_on.FILE).write_text(text)
        assert trained_on.read(tmp_path) is None and trained_on.check(tmp_path, trained_on.read(tmp_path), now("other=1")) is None


def test_malformed_puzzles_are_recorded_and_the_rest_evaluated(run, tmp_path):
    task = Sudoku(size=4)
    import random

    good = task.generate(random.Random(1), 0).data["puzzle"]
    text = format_grid(Grid(4), good).replace("0", "_")
    puzzles = tmp_path / "mine.txt"
    puzzles.write_text(f"{text}\n\n1 2 3\n\n1 1 _ _\n_ _ _ _\n_ _ _ _\n_ _ _ _\n")
    report = evaluate_run(run, puzzles=puzzles, out=tmp_path / "report")
    assert report["num_puzzles"] == 1 and report["split"] == "puzzles:mine.txt"
    failures = report["puzzle_failures"]
    assert failures["count"] == 2
    assert "expected 16 cells" in failures["first"][0]["error"] and "no solution" in failures["first"][1]["error"]
    assert json.loads((tmp_path / "report" / "report.json").read_text())["puzzle_failures"]["count"] == 2
    assert set(report["by_wording"]) == {"0"}  # typed puzzles are worded as the model trained: wording 0
    worded = evaluate_run(run, ["task.wordings=[1]"], puzzles=puzzles, out=tmp_path / "worded")
    assert set(worded["by_wording"]) == {"1"}

    lines = tmp_path / "mine.jsonl"
    lines.write_text(json.dumps({"question": text}) + "\n{not json\n" + json.dumps(["a list"]) + "\n")
    report = evaluate_run(run, puzzles=lines, out=tmp_path / "jsonl")
    assert report["num_puzzles"] == 1 and report["puzzle_failures"]["count"] == 2
    assert report["split"] == "puzzles:mine.jsonl"  # the file's whole name: mine.txt is another split

    nothing = tmp_path / "bad.txt"
    nothing.write_text("not a sudoku\n")
    report = evaluate_run(run, puzzles=nothing, out=tmp_path / "none")  # no readable puzzle: still a report
    assert report["num_puzzles"] == 0 and (tmp_path / "none" / "report.json").exists()
    assert set(report) == fields_of_a_report_of_no_puzzles()  # what was asked and could not be read: no figures
    # but `python -m eval` exits 1 then, as hybrid.solve does (it exited 0: a script read "nothing evaluated" as success)
    from eval.__main__ import main

    with pytest.raises(SystemExit, match=r"the puzzle in .*bad.txt could not be read; report.json's puzzle_failures"):
        main([str(run), "--puzzles", str(nothing), "--out", str(tmp_path / "cli")])
    assert (tmp_path / "cli" / "report.json").exists()
    nothing.write_text("not a sudoku\n\nnor this\n")
    with pytest.raises(SystemExit, match="none of the 2 puzzles in"):
        main([str(run), "--puzzles", str(nothing), "--out", str(tmp_path / "cli")])
    main([str(run), "--puzzles", str(puzzles), "--out", str(tmp_path / "cli")])  # some readable: exit 0


def test_a_puzzle_file_with_a_byte_order_mark_reads_and_one_not_in_utf8_is_a_clear_error(tmp_path):
    """Windows editors may start a UTF-8 file with a byte-order mark: it was read as part of the first
    puzzle (a maze's top row then had 8 cells); a Latin-1 file was a UnicodeDecodeError traceback."""
    maze = "# # # # #\n# S . . #\n# # # . #\n# G . . #\n# # # # #\n"
    puzzles = tmp_path / "mine.txt"
    puzzles.write_bytes(b"\xef\xbb\xbf" + maze.encode())
    assert [Maze(5).from_text(p.question).data["grid"] for p in read_puzzles(puzzles, Maze(5))] == \
        [Maze(5).from_text(maze).data["grid"]]
    joined = tmp_path / "joined.jsonl"  # JSON Lines files joined end to end: the second's mark starts a line
    joined.write_bytes(b"\xef\xbb\xbf" + (json.dumps(maze) + "\n").encode() * 2 + b"\xef\xbb\xbf" +
                       (json.dumps({"question": maze}) + "\n").encode())
    parsed, failures = parse_puzzles(Maze(5), read_puzzles(joined, Maze(5)))
    assert failures == [] and len(parsed) == 3
    puzzles.write_bytes("Sort: 5, 3, café\n".encode("latin-1"))
    latin1 = r"cannot read puzzle file .*mine.txt: not UTF-8 text \(.utf-8. codec can.t decode"
    with pytest.raises(HarnessError, match=latin1):
        read_puzzles(puzzles, Sorting())


def test_a_byte_order_mark_inside_a_puzzle_file_is_no_part_of_its_line(tmp_path):
    """Files joined end to end (cat a.txt b.txt, b saved with a byte-order mark): the mark starts a
    line inside the text. It was read as part of that line: the second maze's top row had 6 cells,
    and a line holding only the mark was no blank line (a .jsonl file recorded it as a failure, a
    text file joined the blocks around it into one puzzle). hybrid.solve reads both puzzles."""
    maze = "# # # # #\n# S . . #\n# # # . #\n# G . . #\n# # # # #\n"
    task, joined = Maze(5), tmp_path / "joined.txt"
    for between in ("\n\ufeff", "\ufeff\n"):  # b starts with its maze, or with a blank line
        joined.write_text(maze + between + maze, encoding="utf-8")
        parsed, failures = parse_puzzles(task, read_puzzles(joined, task))
        assert failures == [] and [e.data["grid"] for e in parsed] == [task.from_text(maze).data["grid"]] * 2
    lines = tmp_path / "joined.jsonl"
    lines.write_text(json.dumps(maze) + "\n\ufeff\n" + json.dumps({"question": maze}) + "\n", encoding="utf-8")
    parsed, failures = parse_puzzles(task, read_puzzles(lines, task))
    assert failures == [] and len(parsed) == 2


def test_a_puzzle_file_with_no_puzzles_or_a_folder_is_refused_and_an_earlier_report_stays(run, tmp_path):
    earlier = run / "eval" / "puzzles-mine.txt" / "report.json"  # where --puzzles mine.txt reports by default
    earlier.parent.mkdir(parents=True)
    earlier.write_text('{"num_puzzles": 3}')
    # a file emptied by mistake: a report of nothing would replace the earlier one; a chat's code block with
    # nothing in it was one puzzle that could not be read (its two fences)
    for text in ("", "\n  \n\n", "```\n```\n"):
        (tmp_path / "mine.txt").write_text(text)
        with pytest.raises(SystemExit, match="mine.txt holds no puzzles"):
            main([str(run), "--puzzles", str(tmp_path / "mine.txt")])
    assert earlier.read_text() == '{"num_puzzles": 3}'
    with pytest.raises(HarnessError, match=f"puzzle file {tmp_path} is a folder"):
        read_puzzles(tmp_path, Sudoku(4))


def test_a_puzzle_file_named_jsonl_in_capitals_is_read_as_json_lines(tmp_path):
    """MINE.JSONL was read as plain text: a line's other fields counted as the puzzle's (a Sudoku's
    "id": 7 as a cell), and a qa run said to use a .jsonl file."""
    import random

    from eval.__main__ import read_data

    task = Sudoku(size=4)
    text = format_grid(Grid(4), task.generate(random.Random(1), 0).data["puzzle"]).replace("0", "_")
    puzzles = tmp_path / "MINE.JSONL"
    puzzles.write_text(json.dumps({"question": text, "id": 7}) + "\n")
    _, _, parsed, failures, _ = read_data(task, load_config(["task.size=4"]), "test", puzzles)
    assert failures == [] and [e.data["puzzle"] for e in parsed] == [task.from_text(text).data["puzzle"]]


def test_typed_arc_puzzles_are_refused_with_the_two_ways_to_score_arc_tasks_of_ones_own():
    """A typed ARC puzzle asks for its test output, so --puzzles has nothing to score it against:
    the error says so and names what does score such tasks (task files through hybrid.solve, a
    data folder through task.source), not "cannot read" (hybrid.solve reads typed ARC puzzles)."""
    typed = "Example input:\n1\n2\nExample output:\n2\n1\nTest input:\n3\n0"
    with pytest.raises(HarnessError, match=r"cannot score typed puzzles: the answer each asks is not in it.*"
                                           r"hybrid.solve RUN --input FOLDER.*task.source=FOLDER"):
        parse_puzzles(Arc(max_size=4), [TypedPuzzle(typed)])


def test_an_undecodable_answer_is_a_recorded_failure(run, tmp_path, monkeypatch):
    original, calls = Sudoku.decode, []

    def decode(self, example, ids):  # every second answer cannot be read
        calls.append(1)
        if len(calls) % 2 == 0:
            raise ValueError("cannot decode this answer")
        return original(self, example, ids)

    monkeypatch.setattr(Sudoku, "decode", decode)
    report = evaluate_run(run, out=tmp_path)
    failures = report["answer_failures"]
    assert failures["count"] == 8 and len(failures["first"]) == 5
    assert all("cannot decode" in f["error"] for f in failures["first"])
    assert report["verifier_accuracy"] <= 0.5  # a failed answer counts as wrong
    assert json.loads((tmp_path / "report.json").read_text())["answer_failures"]["count"] == 8


def test_bad_requests_are_clear_errors(run, tmp_path, capsys):
    with pytest.raises(CheckpointError, match="neither a pretrained folder"):
        evaluate_run(tmp_path)
    with pytest.raises(SystemExit, match="unknown task 'chess'"):
        main([str(run), "task=chess"])
    with pytest.raises(SystemExit, match=r"trained at other shapes: reasoner.hidden=64 \(trained: 32\)"):
        main([str(run), "reasoner.hidden=64", "--out", str(tmp_path)])
    with pytest.raises(SystemExit, match="reasoner.hidden=64"):  # after the flags: read, not "unrecognized"
        main([str(run), "--out", str(tmp_path), "reasoner.hidden=64"])
    with pytest.raises(SystemExit, match=r"trained on task 'sudoku'.*task 'maze' builds.*drop the task override"):
        main([str(run), "task=maze", "--out", str(tmp_path)])  # was: a size mismatch, naming no family
    old = tmp_path / "old"  # a folder saved by a version whose config had a key this one dropped
    shutil.copytree(run / "final", old)
    (old / "config.yaml").write_text((old / "config.yaml").read_text().replace("reasoner:\n", "reasoner:\n  gone: 1\n"))
    with pytest.raises(SystemExit, match="does not match this version's config schema"):
        main([str(old)])
    shutil.copytree(run / "final", tmp_path / "exported")  # a pretrained folder holds only the EMA copy
    with pytest.raises(SystemExit, match="--no-ema needs a checkpoint with raw weights"):
        main([str(tmp_path / "exported"), "--no-ema"])
    proc = subprocess.run([sys.executable, "-m", "eval", str(tmp_path / "missing")],
                          capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode != 0 and "is not a folder" in proc.stderr and "Traceback" not in proc.stderr


def test_an_out_that_is_a_file_is_refused_before_evaluating(run, tmp_path, monkeypatch):
    import eval.__main__ as harness

    monkeypatch.setattr(harness, "make_task", lambda *a: pytest.fail("evaluated before checking --out"))
    (tmp_path / "report").write_text("")
    with pytest.raises(SystemExit, match="--out .*report is a file"):
        main([str(run), "--out", str(tmp_path / "report")])


@pytest.mark.parametrize("args, said", [
    (["--out", ""], "--out is empty: give the report's folder"),
    (["--puzzles", ""], "--puzzles is empty: give the file of puzzles"),
    ([], "RUN_OR_CHECKPOINT is empty: give a training run folder"),
])
def test_an_empty_out_puzzles_or_run_is_refused_not_read_as_the_default_or_here(run, args, said, monkeypatch):
    """An empty value (a script's unset variable, --out "$DIR") was read as no --out, writing the report
    over the run's own in RUN/eval/test without a word; an empty --puzzles or run as ".", the folder here."""
    import eval.__main__ as harness

    monkeypatch.setattr(harness, "make_task", lambda *a: pytest.fail("evaluated with an empty value"))
    (run / "eval" / "test").mkdir(parents=True, exist_ok=True)
    (run / "eval" / "test" / "report.json").write_text("{}")
    with pytest.raises(SystemExit, match=re.escape(said)):
        main(([str(run)] if "RUN" not in said else [""]) + args)
    assert (run / "eval" / "test" / "report.json").read_text() == "{}"
    shutil.rmtree(run / "eval")


def test_damaged_or_missing_weights_are_an_error_saying_what_to_do(run, tmp_path):
    """The error named the damaged file and stopped there: say where intact weights can come from."""
    copy = tmp_path / "copy"
    shutil.copytree(run, copy)
    weights = copy / "final" / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:-10])
    with pytest.raises(SystemExit, match=r"model.safetensors is damaged .*: copy it again .*or use another"):
        main([str(copy), "--out", str(tmp_path / "report")])
    shutil.rmtree(copy / "final")
    (checkpoints(copy)[-1] / "custom_checkpoint_1.pkl").unlink()  # the EMA copy
    with pytest.raises(SystemExit, match=r"custom_checkpoint_1.pkl is missing: copy it again .*or use another"):
        main([str(copy), "--out", str(tmp_path / "report")])
    assert not (tmp_path / "report").exists()


def test_a_split_asked_with_a_puzzle_file_is_refused_before_evaluating(run, tmp_path, monkeypatch):
    """--split test_heldout with --puzzles evaluated the file's puzzles in the first trained wording
    and said nothing of the split asked for; the two are one choice, so asking both is an error."""
    import eval.__main__ as harness

    monkeypatch.setattr(harness, "make_task", lambda *a: pytest.fail("evaluated with --split and --puzzles"))
    (tmp_path / "mine.txt").write_text("1 _ _ _\n_ _ _ _\n_ _ _ _\n_ _ _ _\n")
    with pytest.raises(SystemExit, match="--split test_heldout and --puzzles .*mine.txt ask for two things"):
        main([str(run), "--puzzles", str(tmp_path / "mine.txt"), "--split", "test_heldout", "--out", str(tmp_path)])
    assert not (tmp_path / "report.json").exists()


def test_an_override_of_a_shape_the_weights_fix_is_refused_before_any_puzzle_is_made(run, tmp_path, monkeypatch):
    """task.size=9 on 4x4 weights was refused only after generating the splits of 9x9 Sudokus (the
    run's train_size and test_size of them: minutes at the default sizes), cached for nothing."""
    import hybrid.data

    monkeypatch.setattr(hybrid.data, "build_splits", lambda *a, **k: pytest.fail("puzzles made before the shape check"))
    with pytest.raises(SystemExit, match=r"trained at other shapes: task.size=9 \(trained: 4\)"):
        main([str(run), "task.size=9", "--out", str(tmp_path)])


@pytest.fixture(scope="module")
def attention_run(tmp_path_factory):
    """`run`'s few-second training with heads to split: the attention mixer and the query_attention adapter."""
    return trained_run(tmp_path_factory.mktemp("attention"), "task.train_size=32", "task.test_size=8",
                       "reasoner.mixer=attention", "adapter.kind=query_attention", "reasoner.n=1", "reasoner.T=1",
                       "reasoner.N_sup=1", "train.steps=1", "train.checkpoint_every=0")


@pytest.mark.parametrize("override", ["reasoner.heads=8", "adapter.heads=2"])
def test_other_heads_than_trained_are_refused(attention_run, tmp_path, override):
    """Heads split the same weights another way: reasoner.heads=8 on a run trained with 4 loaded
    without complaint and reported the accuracy of a model never trained."""
    key, value = override.split("=")
    with pytest.raises(HarnessError, match=rf"{key} cannot change at evaluation: the weights were trained with "
                                           rf"{key}=\d+ \(asked: {value}\)"):
        evaluate_run(attention_run, [override], out=tmp_path)


def test_heads_the_trained_model_does_not_use_may_be_given(run, tmp_path):
    """The mlp mixer and span pooling (`run`'s) have no heads: reasoner.heads=8 or adapter.heads=2 there
    was refused as if it split the weights another way. It changes nothing, so the report is the same."""
    plain = evaluate_run(run, out=tmp_path / "plain")
    for override in ("reasoner.heads=8", "adapter.heads=2"):
        report = evaluate_run(run, [override], out=tmp_path / override)
        assert (report["exact_curve"], report["cell_curve"]) == (plain["exact_curve"], plain["cell_curve"]), override


def test_a_bad_batch_size_or_device_is_a_message_not_a_traceback(run, tmp_path, capsys):
    with pytest.raises(SystemExit):
        main([str(run), "--batch-size", "0", "--out", str(tmp_path)])
    assert "'0' is not a whole number >= 1" in capsys.readouterr().err
    with pytest.raises(SystemExit, match="unknown device 'cdua'"):
        main([str(run), "--device", "cdua", "--out", str(tmp_path)])
    with pytest.raises(SystemExit, match="device 'cuda:99' is not available"):
        main([str(run), "--device", "cuda:99", "--out", str(tmp_path)])


def test_launched_as_several_processes_is_a_clear_error(run, tmp_path, monkeypatch):
    """Each of N launched processes would evaluate every puzzle and write the same report."""
    monkeypatch.setenv("WORLD_SIZE", "2")
    with pytest.raises(SystemExit, match="one of 2 launched processes: run it with python"):
        main([str(run), "--out", str(tmp_path)])
    assert not (tmp_path / "report.json").exists()


def test_a_scorer_that_fails_after_the_verifier_passed_counts_the_answer_wrong():
    """One verdict per puzzle: a failed answer is wrong for the verifier and the score alike."""
    import torch

    from eval.runner import score_predictions
    from eval.tasks import Example

    class Strict(Sudoku):
        def verify(self, example, answer):
            return True

        def score(self, example, answer):
            raise ValueError("this scorer cannot judge the answer")

    task = Strict(size=4)
    examples = [Example(question="q", answer="a", labels=[0] * 16, data={"puzzle": [0] * 16}) for _ in range(4)]
    pred = {"ids": torch.zeros(4, 2, 16, dtype=torch.long), "q_halt": torch.zeros(4, 2),
            "labels": torch.zeros(4, 16, dtype=torch.long), "index": torch.arange(4)}
    metrics = score_predictions(pred, task, examples)
    assert metrics["answer_failures"]["count"] == 4
    assert metrics["verifier_accuracy"] == 0.0 and metrics["task_score"] == 0.0


def test_scores_each_step_and_the_halting_step_on_hand_made_predictions():
    """Exact (every scored slot right) and cell accuracy per step, padding slots never scored; the
    headline figures and the exact accuracy by wording are the last step's; early exit reads each
    puzzle's answer at its halting step; the verifier judges the last step's answer."""
    import torch

    from eval.runner import score_predictions
    from eval.tasks import IGNORE, Example

    class Echo(Sudoku):  # the answer is the predicted ids; right when they equal the labels
        def decode(self, example, ids):
            return " ".join(map(str, ids))

        def verify(self, example, answer):
            return answer == " ".join(map(str, example.labels))

        def score(self, example, answer):
            return float(self.verify(example, answer))

    labels = torch.tensor([[0, 1, 2, IGNORE], [1, 1, 1, 1], [2, IGNORE, 0, 3]])
    ids = torch.tensor([
        [[0, 1, 0, 3], [0, 1, 2, 3], [0, 1, 2, 0]],  # 2/3 cells, then exact (the padding slot is never read)
        [[0, 0, 0, 0], [1, 1, 0, 0], [1, 1, 1, 1]],  # 0/4, 2/4, exact
        [[2, 0, 0, 3], [2, 0, 1, 3], [2, 0, 1, 3]],  # exact, then 2/3 twice
    ])
    # halts at 2, never (sigmoid(1) = 0.73 is below the threshold), 1
    q_halt = torch.tensor([[-5.0, 5.0, 5.0], [1.0, 1.0, -5.0], [5.0, -5.0, -5.0]])
    pred = {"ids": ids, "q_halt": q_halt, "labels": labels, "index": torch.arange(3)}
    examples = [Example(question="q", answer="a", labels=right, data={"puzzle": [0] * 4})  # no givens
                for right in ([0, 1, 2, 0], [1, 1, 1, 1], [2, 0, 0, 3])]
    metrics = score_predictions(pred, Echo(4), examples, halt_threshold=0.9)
    assert metrics["exact_curve"] == pytest.approx([1 / 3, 1 / 3, 2 / 3])
    assert metrics["cell_curve"] == pytest.approx([0.5, 0.7, 0.9])  # of the 10 scored slots
    assert metrics["exact_accuracy"] == pytest.approx(2 / 3) and metrics["cell_accuracy"] == pytest.approx(0.9)
    assert metrics["halting_histogram"] == [1, 1, 1] and metrics["mean_halting_step"] == 2.0
    assert metrics["never_halted"] == 1  # puzzle 1, counted at the last step; the others fired once
    assert metrics["early_exit_exact_accuracy"] == 1.0  # each puzzle was right when it halted
    assert metrics["verifier_accuracy"] == pytest.approx(2 / 3)  # puzzles 0 and 1 at the last step
    assert metrics["by_wording"] == {"0": {"exact_accuracy": pytest.approx(2 / 3), "num_puzzles": 3}}  # the last step too
    assert metrics["open_cell_curve"] == metrics["cell_curve"]  # nothing given: every cell is open
    assert metrics["given_cell_share"] == 0


def test_open_cell_accuracy_leaves_out_the_cells_the_question_gives():
    """A model that copies a real puzzle's givens and gets every other cell wrong has cell accuracy
    above 0 (the givens) but open-cell accuracy 0; solving it gives 1 for both."""
    import random

    import torch

    from eval.runner import score_predictions

    task = Sudoku(size=6)
    example = task.generate(random.Random(0), 0)
    given = task.given_slots(example)
    copied = [label if g else (label + 1) % 6 for label, g in zip(example.labels, given)]
    pred = {"ids": torch.tensor([[copied, example.labels]]), "q_halt": torch.zeros(1, 2),
            "labels": torch.tensor([example.labels]), "index": torch.tensor([0])}
    metrics = score_predictions(pred, task, [example])
    assert metrics["cell_curve"][0] == pytest.approx(sum(given) / 36) and 0 < sum(given) < 36
    assert metrics["open_cell_curve"] == [0.0, 1.0] and metrics["open_cell_accuracy"] == 1.0
    assert metrics["given_cell_share"] == pytest.approx(sum(given) / 36)


def test_a_training_run_prints_open_cell_accuracy_where_the_question_gives_cells(tmp_path, capsys):
    from hybrid.summary import print_summary

    test = {"exact_accuracy": 0.25, "num_puzzles": 8, "cell_accuracy": 0.5, "cell_curve": [0.5],
            "exact_curve": [0.25], "early_exit_exact_accuracy": 0.25, "mean_halting_step": 1.0}
    results = {"batches": 4, "train_seconds": 10.0}
    # givens (also where the open cells score as all cells do); none given; no examples
    for open_cells, share, shown in (([0.3], 0.25, True), ([0.5], 0.25, True), ([0.5], 0.0, False), (None, None, False)):
        scored = {"open_cell_accuracy": open_cells and open_cells[-1], "open_cell_curve": open_cells,
                  "given_cell_share": share}
        print_summary(load_config([]), results | {"test": test | scored}, tmp_path)
        out = capsys.readouterr().out
        assert ("open-cell accuracy" in out) == shown and ("open-cell accuracy (25% given)" in out) == shown


def test_a_training_summary_shows_the_held_out_wordings_and_a_long_wait_for_data(tmp_path, capsys, monkeypatch):
    """The held-out wordings' exact accuracy is a row of its own; a run that spent more than a tenth
    of its training time waiting for batches (slow workers, or the backbone without the cache) says
    how long, and which."""
    from hybrid.summary import print_summary

    monkeypatch.setenv("COLUMNS", "250")  # one line per row

    test = {"exact_accuracy": 0.25, "num_puzzles": 8, "cell_accuracy": 0.5, "cell_curve": [0.5],
            "exact_curve": [0.25], "early_exit_exact_accuracy": 0.25, "mean_halting_step": 1.0}
    results = {"batches": 4, "train_seconds": 100.0, "test": test}
    print_summary(load_config([]), results | {"data_seconds": 5.0}, tmp_path)
    out = capsys.readouterr().out
    assert "held-out wordings" not in out and "waiting for data" not in out
    print_summary(load_config([]), results | {"data_seconds": 30.0, "test_heldout": test | {"exact_accuracy": 0.125}},
                  tmp_path)
    out = capsys.readouterr().out
    assert re.search(r"exact accuracy \(held-out\)\s*│\s*0\.250  \(8 puzzles\)", out)  # not the cell accuracy
    assert re.search(r"exact accuracy \(held-out wordings\)\s*│\s*0\.125", out)
    assert "(30 s of it waiting for data)" in out
    # without the cache the loader's wait is the backbone's forward, not data: said so
    print_summary(load_config(["backbone.cache=false"]), results | {"data_seconds": 30.0}, tmp_path)
    assert "(30 s of it the backbone embedding each batch: backbone.cache=false)" in capsys.readouterr().out
    # a resumed run's seconds are those since the resume: "6 batches in 3 s" read as the whole run's
    print_summary(load_config([]), results | {"batches": 6, "train_seconds": 3.0, "resumed_at": 4}, tmp_path)
    assert "6 batches (2 since resuming at batch 4) in 3 s" in capsys.readouterr().out
    print_summary(load_config([]), results | {"resumed_at": 0}, tmp_path)
    assert "4 batches in 100 s" in capsys.readouterr().out
    print_summary(load_config([]), results | {"batches": 1}, tmp_path)  # not "1 batches"
    assert re.search(r"│\s*1 batch in 100 s", capsys.readouterr().out)


def test_the_summaries_curve_ends_on_the_exact_accuracy_beside_it(tmp_path, capsys, monkeypatch):
    """The README job's summary read "exact accuracy 0.985" over a curve ending "0.98": the curve had 2
    decimals. Both summaries show it to 3, as the accuracy."""
    from eval.summary import print_summary as eval_summary
    from hybrid.summary import print_summary

    monkeypatch.setenv("COLUMNS", "250")  # one line per row
    test = {"exact_accuracy": 0.985, "num_puzzles": 1000, "cell_accuracy": 0.995, "cell_curve": [0.9, 0.995],
            "exact_curve": [0.573, 0.985], "early_exit_exact_accuracy": 0.985, "mean_halting_step": 1.5}
    print_summary(load_config([]), {"batches": 4, "train_seconds": 10.0, "test": test}, tmp_path)
    assert re.search(r"exact by supervision step\s*│\s*0\.573 0\.985\s", capsys.readouterr().out)
    report = {"task": {"name": "sudoku"}, "split": "test", "backbone": "chars",
              "compute": {"N_sup": 2, "N_sup_trained": 2, "net_applications_all": 12,
                          "net_applications_early_exit": 9.0},
              "throughput": {"reasoner_puzzles_per_second": 100.0, "backbone_puzzles_per_second": 50.0},
              "verifier_accuracy": 0.985, "task_score": 0.985, "answer_failures": {"count": 0},
              "puzzle_failures": {"count": 0}, "backbone_differs": [], "weights": "final/model.safetensors",
              "report": "report.json"} | test
    eval_summary(report)
    out = capsys.readouterr().out
    assert re.search(r"exact by supervision step\s*│\s*0\.573 0\.985\s", out)
    assert re.search(r"puzzles/s \(reasoner / backbone\)\s*│\s*100 / 50\s", out)
    eval_summary(report | {"throughput": {"reasoner_puzzles_per_second": 0.43, "backbone_puzzles_per_second": 77.0}})
    assert re.search(r"puzzles/s \(reasoner / backbone\)\s*│\s*0\.43 / 77\s", capsys.readouterr().out)  # not "0 / 77"


def test_a_training_summary_names_answers_that_failed_to_decode(tmp_path, capsys, monkeypatch):
    """A family whose decode or verify raises on every answer trained to the end with a verifier
    accuracy of 0 and nothing said why; only `python -m eval` counted the failures."""
    from hybrid.summary import print_summary

    monkeypatch.setenv("COLUMNS", "250")
    test = {"exact_accuracy": 0.25, "num_puzzles": 8, "cell_accuracy": 0.5, "cell_curve": [0.5],
            "exact_curve": [0.25], "early_exit_exact_accuracy": 0.25, "mean_halting_step": 1.0}
    results = {"batches": 4, "train_seconds": 10.0}
    print_summary(load_config([]), results | {"test": test | {"answer_failures": {"count": 0, "first": []}}}, tmp_path)
    assert "failed to decode" not in capsys.readouterr().out
    failed = {"count": 8, "first": [{"index": 3, "error": "AttributeError: 'list' object has no attribute 'split'"}]}
    print_summary(load_config([]), results | {"test": test | {"answer_failures": failed}}, tmp_path)
    assert re.search(r"answers that failed to decode\s*│\s*8 of 8, counted wrong \(first: puzzle index 3, "
                     r"AttributeError: 'list' object has no attribute 'split'\)", capsys.readouterr().out)


def test_a_training_summary_shows_the_held_out_wordings_accuracies_the_test_split_shows(tmp_path, capsys, monkeypatch):
    """The held-out wordings had their exact accuracy only; their cell accuracy (and open-cell
    accuracy, where the questions give cells) were in results but not in the table."""
    from hybrid.summary import print_summary

    monkeypatch.setenv("COLUMNS", "250")  # one line per row
    test = {"exact_accuracy": 0.25, "num_puzzles": 8, "cell_accuracy": 0.5, "cell_curve": [0.5],
            "exact_curve": [0.25], "early_exit_exact_accuracy": 0.25, "mean_halting_step": 1.0}
    heldout = test | {"exact_accuracy": 0.125, "num_puzzles": 16, "cell_accuracy": 0.375}
    results = {"batches": 4, "train_seconds": 100.0, "test": test}
    print_summary(load_config([]), results | {"test_heldout": heldout}, tmp_path)
    out = capsys.readouterr().out
    assert re.search(r"cell accuracy \(held-out wordings\)\s*│\s*0\.375", out)
    assert re.search(r"exact accuracy \(held-out wordings\)\s*│\s*0\.125  \(16 puzzles\)", out)
    assert "open-cell" not in out  # no cells given
    given = {"open_cell_accuracy": 0.25, "open_cell_curve": [0.25], "given_cell_share": 0.4}
    print_summary(load_config([]), results | {"test": test | given, "test_heldout": heldout | given}, tmp_path)
    out = capsys.readouterr().out
    assert re.search(r"open-cell accuracy \(held-out wordings, 40% given\)\s*│\s*0\.250", out)


def test_tracker_hyperparameters_are_the_config_flattened_to_dotted_keys():
    from hybrid.summary import flat

    assert flat({"reasoner": {"T": 2, "mixer": "mlp"}, "train": {"betas": [0.9, 0.95], "lora": {"rank": None}}}) == {
        "reasoner.T": 2, "reasoner.mixer": "mlp", "train.betas": "[0.9, 0.95]", "train.lora.rank": "None"}


def test_predictions_gathered_out_of_order_are_scored_by_their_index():
    """Several processes gather their shards in another order than the dataset's: each row is
    scored against the example its `index` names (its givens, wording, verifier), so the figures
    are those of the same predictions in order."""
    import random

    import torch

    from eval.runner import score_predictions

    task = Sudoku(size=4)
    examples = [task.generate(random.Random(seed), wording) for seed, wording in ((0, 0), (1, 1), (2, 2), (3, 1))]
    labels = torch.tensor([e.labels for e in examples])
    wrong = (labels + 1) % 4
    # puzzle 0 solved; 1 right only where given; 2 right in its first half; 3 all wrong
    given = torch.tensor([task.given_slots(e) for e in examples])
    ids = torch.stack([labels[0], torch.where(given[1], labels[1], wrong[1]),
                       torch.cat([labels[2, :8], wrong[2, 8:]]), wrong[3]]).unsqueeze(1)  # (4, 1, 16)
    pred = {"ids": ids, "q_halt": torch.zeros(4, 1), "labels": labels, "index": torch.arange(4)}
    in_order = score_predictions(pred, task, examples)
    order = torch.tensor([2, 0, 3, 1])
    shuffled = score_predictions({k: v[order] for k, v in pred.items()}, task, examples)
    for key in ("exact_accuracy", "cell_accuracy", "open_cell_curve", "given_cell_share", "verifier_accuracy",
                "by_wording"):
        assert shuffled[key] == pytest.approx(in_order[key]) if isinstance(in_order[key], float) else \
            shuffled[key] == in_order[key], key
    assert in_order["by_wording"]["0"]["exact_accuracy"] == 1.0 and in_order["verifier_accuracy"] == 0.25


def test_a_given_slots_of_the_wrong_length_is_an_error_naming_it():
    import random

    import torch

    from eval.runner import score_predictions

    class Short(Sudoku):
        def given_slots(self, example):
            return super().given_slots(example)[:-1]

    task = Short(size=4)
    example = task.generate(random.Random(0), 0)
    pred = {"ids": torch.tensor([[example.labels]]), "q_halt": torch.zeros(1, 1), "labels": torch.tensor([example.labels]),
            "index": torch.tensor([0])}
    with pytest.raises(ValueError, match=r"Short.given_slots must return one flag per answer slot \(16\), got \[15\]"):
        score_predictions(pred, task, [example])


def test_evaluation_speed_is_puzzles_per_second(monkeypatch):
    from types import SimpleNamespace

    import torch

    import eval.runner as runner

    pred = {"ids": torch.zeros(6, 2, 3, dtype=torch.long), "q_halt": torch.zeros(6, 2),
            "labels": torch.zeros(6, 3, dtype=torch.long), "index": torch.arange(6)}
    monkeypatch.setattr(runner, "predict", lambda *args, **kwargs: pred)
    monkeypatch.setattr(runner, "time", SimpleNamespace(perf_counter=iter([10.0, 12.0]).__next__))  # 2 s
    metrics = runner.evaluate(None, None, Sudoku(size=4), None, N_sup=2)
    assert metrics["num_puzzles"] == 6 and metrics["puzzles_per_second"] == 3.0


def test_a_plot_that_fails_leaves_the_report_and_says_why(tmp_path, monkeypatch):
    import eval.report as report_module

    def no_plot(report, path):
        raise RuntimeError("no font cache")

    monkeypatch.setattr(report_module, "plot_recursion_curve", no_plot)
    path = report_module.write_report({"num_puzzles": 3, "exact_accuracy": 0.5}, tmp_path)
    saved = json.loads(path.read_text())
    assert saved["exact_accuracy"] == 0.5 and saved["plot_error"] == "RuntimeError: no font cache"
    assert "plot_error" in documented_report_fields() and "plot_error" in ONLY_SOME  # the table lists it
    assert saved["plots"] == {} and saved["report"] == str(path)


def test_each_evaluation_step_continues_from_the_latents_the_step_before_handed_on():
    """The recursion curve is accuracy after 1, 2, ... supervision steps: predict must run step k
    from the (y, z) step k-1 handed on. Restarted from the initial latents, every step would give
    step 1's answer, and the harness's near-untrained runs could not tell."""
    import torch

    from eval.runner import predict
    from hybrid.model import HybridOutput
    from reasoner import Carry

    class Counting(torch.nn.Module):  # answers in every slot the steps y has seen; its q_halt is z's count
        def read(self, states, mask, token_slot):
            return states, mask, token_slot

        def initial_carry(self, batch_size, num_slots, device):
            zeros = torch.zeros(batch_size, num_slots, 1, device=device)
            return Carry(zeros, zeros.clone())

        def forward(self, states, mask, token_slot, y, z):
            return HybridOutput(torch.nn.functional.one_hot(y[..., 0].long(), 5).float(), z[:, 0, 0], Carry(y + 1, z + 2))

    states, mask, token_slot = torch.zeros(3, 6, 4), torch.ones(3, 6, dtype=torch.bool), torch.zeros(3, 6, dtype=torch.long)
    data = torch.utils.data.TensorDataset(states, mask, token_slot, torch.zeros(3, 2, dtype=torch.long), torch.arange(3))
    pred = predict(Counting(), data, N_sup=3, batch_size=2, device="cpu", disable_progress=True)
    assert pred["ids"].tolist() == [[[0, 0], [1, 1], [2, 2]]] * 3
    assert pred["q_halt"].tolist() == [[0.0, 2.0, 4.0]] * 3


def test_predict_runs_the_model_in_eval_mode(small_config):
    """Dropout is for training: a model handed over in train mode (as training's periodic
    evaluation hands it) predicts the same answers every time."""
    import torch
    from accelerate import Accelerator
    from torch.utils.data import Subset

    from eval.runner import predict
    from hybrid.train import build

    config = small_config("adapter.dropout=0.5", "reasoner.N_sup=2")
    _, _, tensors, model, _ = build(config, Accelerator(cpu=True))
    test = Subset(tensors["test"], range(16))
    first = predict(model.train(), test, 2, batch_size=8, disable_progress=True)
    second = predict(model.train(), test, 2, batch_size=8, disable_progress=True)
    assert torch.equal(first["ids"], second["ids"]) and torch.equal(first["q_halt"], second["q_halt"])
    assert not model.training  # and leaves it in eval mode


def test_slot_accuracy_is_each_slots_accuracy_at_the_last_step_over_the_puzzles_that_score_it():
    """report.json's slot_accuracy (which cells a model gets wrong) reads the answer the headline
    figures read, the last step's; a slot padded in every puzzle has no accuracy (None)."""
    import torch

    from eval.report import slot_accuracy
    from eval.tasks import IGNORE

    labels = torch.tensor([[0, 1, 2, IGNORE], [1, 1, 1, IGNORE], [2, IGNORE, 0, IGNORE]])
    ids = torch.tensor([
        [[9, 9, 9, 9], [0, 1, 2, 5]],
        [[1, 1, 1, 1], [1, 0, 1, 1]],
        [[2, 2, 0, 0], [2, 2, 1, 0]],
    ])
    assert slot_accuracy({"ids": ids, "labels": labels}) == [1.0, 0.5, 0.6667, None]


def test_compute_counts_net_applications_for_all_steps_and_for_early_exit():
    """One supervision step applies the tiny network T * (n + 1) times; early exit costs the mean
    halting step's worth of them (the harness test checks only the all-steps count)."""
    from eval.report import compute

    figures = compute({"mean_halting_step": 1.5}, N_sup=4, T=3, n=2)
    assert figures["net_applications_per_step"] == 9 and figures["net_applications_all"] == 36
    assert figures["supervision_steps_early_exit"] == 1.5 and figures["net_applications_early_exit"] == 13.5
    assert figures["supervision_steps_all"] == 4  # the reported accuracy ran every step, whatever the head said


def test_a_puzzle_halts_where_its_halting_probability_exceeds_the_threshold_not_where_it_reaches_it():
    """The halting step is the first whose sigmoid(q_halt) exceeds reasoner.halt_threshold, as
    solve() stops a puzzle: with halt_threshold=1 nothing stops early, even a head so sure that
    sigmoid rounds to exactly 1.0 in float32 (q_halt = 20 here)."""
    import torch

    from eval.runner import halting_steps

    q_halt = torch.tensor([[20.0, 20.0, 20.0], [0.0, 20.0, 20.0]])
    assert torch.sigmoid(q_halt[0, 0]).item() == 1.0
    assert halting_steps(q_halt, threshold=1.0).tolist() == [3, 3]
    assert halting_steps(q_halt, threshold=0.5).tolist() == [1, 2]  # sigmoid(0) = 0.5 does not exceed 0.5


def test_the_headline_accuracies_are_the_last_steps_even_where_an_earlier_step_was_better():
    """exact_accuracy and cell_accuracy are what the model answers after all N_sup steps, the
    answer solve() gives; a better earlier step shows on the curves only. Reporting the best step
    would claim an accuracy no fixed number of steps achieves."""
    import torch

    from eval.runner import score_predictions

    labels = torch.tensor([[1, 2], [3, 4]])
    ids = torch.tensor([[[1, 2], [1, 0]], [[3, 4], [0, 0]]])  # both right at step 1, worse at step 2
    pred = {"ids": ids, "q_halt": torch.zeros(2, 2), "labels": labels, "index": torch.arange(2)}
    metrics = score_predictions(pred, Sudoku(4))
    assert metrics["exact_curve"] == [1.0, 0.0] and metrics["cell_curve"] == [1.0, 0.25]
    assert metrics["exact_accuracy"] == 0.0 and metrics["cell_accuracy"] == 0.25


def test_verifier_accuracy_and_task_score_count_an_undecodable_answer_among_all_puzzles():
    """Accuracy is over every puzzle evaluated: a puzzle whose answer fails to decode is a wrong
    one, not one left out. Dividing by the puzzles that decoded would make a model that writes
    unreadable answers look better."""
    import torch

    from eval.runner import score_predictions
    from eval.tasks import Example

    class HalfReadable(Sudoku):  # puzzles whose first predicted id is 1 cannot be decoded; the others are right
        def decode(self, example, ids):
            if ids[0] == 1:
                raise ValueError("unreadable")
            return "fine"

        def verify(self, example, answer):
            return True

        def score(self, example, answer):
            return 1.0

    task = HalfReadable(size=4)
    examples = [Example(question="q", answer="a", labels=[0] * 16, data={"puzzle": [0] * 16}) for _ in range(4)]
    ids = torch.zeros(4, 1, 16, dtype=torch.long)
    ids[:2, 0, 0] = 1
    pred = {"ids": ids, "q_halt": torch.zeros(4, 1), "labels": torch.zeros(4, 16, dtype=torch.long),
            "index": torch.arange(4)}
    metrics = score_predictions(pred, task, examples)
    assert metrics["answer_failures"]["count"] == 2
    assert metrics["verifier_accuracy"] == 0.5 and metrics["task_score"] == 0.5


def test_a_report_of_no_puzzles_has_no_plots_and_no_plot_error(tmp_path):
    """A puzzle file with nothing readable still gets its report; with no curve to draw it has no
    plots, and no plot_error that would send a reader hunting for a broken matplotlib."""
    from eval.report import write_report

    (tmp_path / "recursion_curve.png").write_bytes(b"an earlier report's")  # which this one replaces
    path = write_report({"num_puzzles": 0, "puzzle_failures": {"count": 1, "first": []}}, tmp_path)
    saved = json.loads(path.read_text())
    assert saved["plots"] == {} and "plot_error" not in saved
    assert not (tmp_path / "recursion_curve.png").exists()


@pytest.mark.parametrize("record", [None, "{\"folder\": ", "[]", "{\"splits\": \"x\"}", "{\"folder\": null}",
                                    "{\"folder\": \"x\", \"earlier\": \"y\"}", "{\"folder\": \"x\", \"earlier\": [1]}"])
def test_a_missing_or_damaged_splits_record_reads_as_a_run_from_before_records(tmp_path, record):
    """splits.json only tells evaluation whether fixed data was edited since training: a run without
    one (older versions), or with one cut short or edited, is evaluated as a run from before
    records, not stopped by a traceback."""
    from hybrid.splits_record import recorded_splits

    if record is not None:
        (tmp_path / "splits.json").write_text(record)
    assert recorded_splits(tmp_path) == []


def test_a_report_by_default_lands_in_the_run_and_reads_the_configs_threshold_and_throughput(run):
    """Without --out the report goes to RUN/eval/<split>; the halting threshold is the config's
    (an override included); with cached states the end-to-end rate adds the backbone's time to
    the reasoner's, while reading the backbone live the reasoner's rate already includes it."""
    report = evaluate_run(run, ["reasoner.halt_threshold=0.6"])
    assert report["report"] == str(run / "eval" / "test" / "report.json")
    assert report["halt_threshold"] == 0.6
    t = report["throughput"]
    assert t["reasoner_includes_backbone"] is False
    assert t["end_to_end_puzzles_per_second"] == pytest.approx(
        1 / (1 / t["reasoner_puzzles_per_second"] + 1 / t["backbone_puzzles_per_second"]))
    live = evaluate_run(run, ["backbone.cache=false"], out=run / "eval" / "live")["throughput"]
    assert live["reasoner_includes_backbone"] is True
    assert live["end_to_end_puzzles_per_second"] == live["reasoner_puzzles_per_second"]


def test_without_the_ema_the_newest_training_checkpoints_raw_weights_are_evaluated(run, tmp_path):
    """--no-ema on a run folder reads the raw weights of its newest checkpoint (final/ holds only
    the EMA copy), not an older checkpoint's; given one checkpoint, that one's (docs/evaluation.md)."""
    report = evaluate_run(run, out=tmp_path, ema=False)
    assert report["checkpoint"] == str(run / "checkpoints" / "step_00000004")
    assert not report["weights"].startswith("ema")
    older = evaluate_run(run / "checkpoints" / "step_00000002", out=tmp_path / "older", ema=False)
    assert older["checkpoint"] == str(run / "checkpoints" / "step_00000002")
    assert older["weights"] == "step_00000002/model.safetensors"


def test_the_evaluation_summary_shows_cell_accuracy_and_the_accuracy_of_each_wording(capsys, monkeypatch):
    """The printed table's cell-accuracy row is the cell accuracy, and a split of several wordings
    gets its per-wording row (one wording would only repeat the exact accuracy)."""
    from eval.summary import print_summary

    monkeypatch.setenv("COLUMNS", "200")  # one line per row
    report = {"task": {"name": "sudoku"}, "split": "test", "backbone": "chars", "num_puzzles": 8,
              "compute": {"net_applications_all": 12, "net_applications_early_exit": 6.0},
              "throughput": {"reasoner_puzzles_per_second": 100.0, "backbone_puzzles_per_second": 50.0},
              "exact_accuracy": 0.125, "cell_accuracy": 0.625, "verifier_accuracy": 0.125, "task_score": 0.125,
              "exact_curve": [0.125], "early_exit_exact_accuracy": 0.125, "mean_halting_step": 1.0,
              "by_wording": {"0": {"exact_accuracy": 0.25, "num_puzzles": 4}, "1": {"exact_accuracy": 0.0, "num_puzzles": 4}},
              "answer_failures": {"count": 0}, "puzzle_failures": {"count": 0}, "backbone_differs": [],
              "weights": "final/model.safetensors", "report": "report.json"}
    print_summary(report)
    out = capsys.readouterr().out
    assert "0.625 / 0.125 / 0.125" in out
    assert "0: 0.25 (4)  1: 0.00 (4)" in out


def test_the_evaluation_summary_names_the_plots_or_says_why_there_are_none(capsys, monkeypatch):
    """The table named report.json only: the plots beside it went unmentioned, and a plot that
    failed to draw (`plot_error`) was said nowhere but in the JSON."""
    from eval.summary import print_summary

    monkeypatch.setenv("COLUMNS", "200")  # one line per row
    report = {"task": {"name": "sudoku"}, "split": "test", "backbone": "chars", "num_puzzles": 0,
              "puzzle_failures": {"count": 0}, "backbone_differs": [], "weights": "final/model.safetensors",
              "report": "report.json", "plots": {"recursion_curve": "recursion_curve.png",
                                                 "halting_steps": "halting_steps.png"}}
    print_summary(report)
    assert "recursion_curve.png, halting_steps.png" in capsys.readouterr().out
    print_summary(report | {"plots": {}, "plot_error": "RuntimeError: no font cache"})
    assert re.search(r"plots failed +│ +RuntimeError: no font cache", capsys.readouterr().out)


def test_the_summaries_show_a_long_report_path_and_output_folder_whole(capsys, monkeypatch, tmp_path):
    """At a terminal's 80 columns the report row ended in "report.…": the path to open was cut.
    Its value folds onto more lines instead, as does a training run's outputs folder."""
    from eval.summary import print_summary
    from hybrid.summary import print_summary as print_training_summary

    monkeypatch.setenv("COLUMNS", "80")
    long = "/tmp/a-rather-long-folder-name/of-runs-kept-for-a-while/sudoku-6x6-minilm"
    report = {"task": {"name": "sudoku"}, "split": "test", "backbone": "chars", "num_puzzles": 0,
              "puzzle_failures": {"count": 1}, "backbone_differs": [], "weights": "final/model.safetensors",
              "report": f"{long}/eval/test/report.json"}
    print_summary(report)
    joined = "".join(re.sub(r"[│\s]", "", line) for line in capsys.readouterr().out.splitlines())
    assert f"report{long}/eval/test/report.json" in joined
    test = {"exact_accuracy": 0.25, "num_puzzles": 8, "cell_accuracy": 0.5, "cell_curve": [0.5],
            "exact_curve": [0.25], "early_exit_exact_accuracy": 0.25, "mean_halting_step": 1.0}
    print_training_summary(load_config([]), {"batches": 4, "train_seconds": 1.0, "test": test}, Path(long))
    table = capsys.readouterr().out.split("next:")[0]  # the line after the table names the folder too
    assert "outputs" + long in "".join(re.sub(r"[│\s]", "", line) for line in table.splitlines())


def test_a_puzzle_that_fails_to_parse_is_recorded_with_its_own_position_and_text():
    """puzzle_failures names each failure by its position among the file's puzzles (from 0, as the
    report's other indices) with its text, so the two agree and point at the puzzle to fix."""
    import random

    task = Sudoku(size=4)
    good = format_grid(Grid(4), task.generate(random.Random(1), 0).data["puzzle"]).replace("0", "_")
    texts = ["1 2 3", good, "not a sudoku"]
    parsed, failures = parse_puzzles(task, [TypedPuzzle(text) for text in texts])
    assert len(parsed) == 1 and [f["puzzle"] for f in failures] == [0, 2]
    assert all(texts[f["puzzle"]] == f["text"] for f in failures)


def test_a_jsonl_puzzle_line_without_a_question_string_is_a_failure_that_says_so(tmp_path):
    """A JSON line that is an object without a "question" string is recorded with the line itself
    and what it lacks (it was a bare KeyError: 'question'); the good lines are read. A line that is
    no JSON object or string ([3, 1, 2]) is typed text, as hybrid.solve reads it."""
    import random

    task = Sorting()
    good = json.dumps({"question": task.generate(random.Random(1), 0).question})
    texts = [good, json.dumps({"puzzle": "3 1 2"}), "[3, 1, 2]", json.dumps({"question": 7})]
    (tmp_path / "mine.jsonl").write_text("\n".join(texts) + "\n", encoding="utf-8")
    parsed, failures = parse_puzzles(task, read_puzzles(tmp_path / "mine.jsonl", task))
    assert len(parsed) == 1 and [f["puzzle"] for f in failures] == [1, 2, 3]
    assert all(texts[f["puzzle"]] == f["text"] for f in failures)
    with pytest.raises(PuzzleError) as typed:
        task.from_text("[3, 1, 2]", 0)
    assert [f["error"] for f in failures] == [
        'line 2 has no "question" (its fields: "puzzle"): put the puzzle\'s text in a "question" field, as '
        '{"question": "..."}',
        f"line 3: {typed.value}",
        'line 4\'s "question" is a number, not text: give the puzzle\'s text, as {"question": "..."}']


def test_an_evaluation_that_fails_leaves_no_empty_report_folder(run, tmp_path):
    """The report's folder is checked before minutes of evaluating; an evaluation that then fails
    (here on an override of a shape the weights fix) leaves no empty RUN/eval, nor --out's folders."""
    copy = shutil.copytree(run, tmp_path / "run", ignore=shutil.ignore_patterns("eval"))  # other tests' reports
    with pytest.raises(HarnessError, match="trained at other shapes"):
        evaluate_run(copy, ["reasoner.hidden=64"])
    assert not (copy / "eval").exists()
    with pytest.raises(HarnessError, match="trained at other shapes"):
        evaluate_run(copy, ["reasoner.hidden=64"], out=tmp_path / "reports" / "mine")
    assert not (tmp_path / "reports").exists()
    (tmp_path / "reports").write_text("a file")
    with pytest.raises(HarnessError, match="cannot write the report"):  # still said before evaluating
        evaluate_run(copy, ["reasoner.hidden=64"], out=tmp_path / "reports" / "mine")


def test_a_failed_evaluation_keeps_the_report_folders_that_were_there(run, tmp_path):
    """Only the folders the check made are removed: an empty --out folder made beforehand stays."""
    copy = shutil.copytree(run, tmp_path / "run", ignore=shutil.ignore_patterns("eval"))
    (tmp_path / "mine").mkdir()
    with pytest.raises(HarnessError, match="trained at other shapes"):
        evaluate_run(copy, ["reasoner.hidden=64"], out=tmp_path / "mine" / "deeper")
    assert (tmp_path / "mine").is_dir() and not (tmp_path / "mine" / "deeper").exists()


def test_a_report_folder_check_that_fails_part_way_leaves_none_of_the_folders_it_made(run, tmp_path):
    """--out with a name too long for the disk: its parents are made before the last one fails, and
    are removed again with the error (they were left behind, empty)."""
    copy = shutil.copytree(run, tmp_path / "run", ignore=shutil.ignore_patterns("eval"))
    with pytest.raises(HarnessError, match="cannot write the report"):
        evaluate_run(copy, out=tmp_path / "reports" / "mine" / ("x" * 300))
    assert not (tmp_path / "reports").exists()


def test_a_report_folder_another_evaluation_writes_in_meanwhile_is_kept(tmp_path, monkeypatch):
    """Two evaluations into one new folder: the check's folder, which the other one has written its
    report in meanwhile, is kept (not a traceback from removing a folder that is not empty)."""
    import eval.report_folder

    def and_another_writes(folder):
        folder.mkdir(parents=True)
        (folder / "report.json").write_text("{}")

    monkeypatch.setattr(eval.report_folder, "make_writable", and_another_writes)
    eval.report_folder.writable(tmp_path / "reports" / "mine")
    assert (tmp_path / "reports" / "mine" / "report.json").exists()


def test_a_checkpoint_is_evaluated_with_the_config_saved_in_it(run, tmp_path):
    """A resumed run rewrites the run's config.yaml (e.g. more test-time steps); an older
    checkpoint is still rebuilt and scored with the settings it was saved with."""
    copy = shutil.copytree(run, tmp_path / "run")
    newer = (copy / "config.yaml").read_text().replace("N_sup: 2", "N_sup: 5")
    assert newer != (copy / "config.yaml").read_text()
    (copy / "config.yaml").write_text(newer)
    report = evaluate_run(copy / "checkpoints" / "step_00000002", out=tmp_path / "report")
    assert report["compute"]["N_sup"] == report["compute"]["N_sup_trained"] == 2 and len(report["exact_curve"]) == 2


def test_weights_of_another_family_leave_no_puzzle_out_as_trained_on(tmp_path):
    """Sudoku weights read on sorting puzzles: no sorting puzzle is a Sudoku training puzzle, so
    nothing is left out (and the Sudoku split is neither built nor keyed as sorting puzzles)."""
    from hybrid.splits_record import trained_puzzles

    trained = load_config(["task=sudoku", "task.size=4", f"train.data_dir={tmp_path}"])
    config = load_config(["task=sorting", f"train.data_dir={tmp_path}"])
    assert trained_puzzles(make_task(config.task), config, trained) == set()
    assert not (tmp_path / "datasets").exists()


def test_a_json_line_is_one_puzzle_in_every_family_in_a_file_of_any_name(tmp_path):
    """Zebra reads plain text by blocks of lines (a logic puzzle spans several); JSON lines are
    always one puzzle a line, in a .txt file too (it was read as plain text: one block of them all)."""
    zebra = make_task(load_config(["task=zebra"]).task)
    lines = [json.dumps({"question": f"puzzle {i}"}) for i in range(3)]
    (tmp_path / "mine.jsonl").write_text("\n".join(lines) + "\n")
    (tmp_path / "mine.txt").write_text("\n".join(lines) + "\n")
    for name in ("mine.jsonl", "mine.txt"):
        assert [(p.line, p.text, p.question) for p in read_puzzles(tmp_path / name, zebra)] == \
            [(i + 1, line, f"puzzle {i}") for i, line in enumerate(lines)]


def test_the_evaluation_summary_flags_what_makes_a_split_not_held_out(capsys, monkeypatch):
    from eval.summary import print_summary

    monkeypatch.setenv("COLUMNS", "250")
    report = {"task": {"name": "zebra"}, "split": "test_heldout", "backbone": "chars", "num_puzzles": 0,
              "puzzle_failures": {"count": 0}, "held_out_wordings_trained_on": [2], "trained_puzzles_left_out": 6,
              "backbone_differs": None, "weights": "final/model.safetensors", "report": "r.json"}
    print_summary(report)
    out = capsys.readouterr().out
    assert re.search(r"held out, but trained on\s*│\s*wording\(s\) \[2\]", out)
    assert re.search(r"left out: trained on\s*│\s*6 puzzles of this split", out)
    print_summary(report | {"held_out_wordings_trained_on": [], "trained_puzzles_left_out": 0})
    out = capsys.readouterr().out
    assert "trained on" not in out


def test_two_evaluations_writing_one_folder_at_once_leave_one_whole_report(run, tmp_path, monkeypatch):
    """`python -m eval RUN` twice at once (here the second with another N_sup) writes one folder,
    RUN/eval/test. The second writes its report while the first still draws its plots: the folder
    then held the first's report.json beside a plot of the second's."""
    import eval.report as report_module

    drawing, calls = report_module.plot_halting_steps, []

    def other_writes_meanwhile(report, path):
        calls.append(path)
        if len(calls) == 1:
            evaluate_run(run, ["reasoner.N_sup=3"], out=tmp_path / "both")
        return drawing(report, path)

    monkeypatch.setattr(report_module, "plot_halting_steps", other_writes_meanwhile)
    evaluate_run(run, out=tmp_path / "both")
    saved = json.loads((tmp_path / "both" / "report.json").read_text())
    report_module.write_report(saved, tmp_path / "again")  # the plots that report draws
    for plot in ("recursion_curve.png", "halting_steps.png"):
        assert (tmp_path / "both" / plot).read_bytes() == (tmp_path / "again" / plot).read_bytes(), plot
    assert sorted(p.name for p in (tmp_path / "both").iterdir()) == ["halting_steps.png", "recursion_curve.png",
                                                                    "report.json"]  # no temporary file left


def test_a_report_cut_short_leaves_the_earlier_one_whole(run, tmp_path, monkeypatch):
    """Ctrl-C (or a full disk) while a plot is saved: the report and plots of the evaluation before
    stay as they were (they were rewritten in place: an earlier plot cut, beside a newer one)."""
    import eval.report as report_module

    evaluate_run(run, out=tmp_path)
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}

    def cut_short(report, path):
        path.write_bytes(b"\x89PNG cut")
        raise KeyboardInterrupt

    monkeypatch.setattr(report_module, "plot_halting_steps", cut_short)
    with pytest.raises(KeyboardInterrupt):
        evaluate_run(run, ["reasoner.N_sup=3"], out=tmp_path)
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before


def test_a_run_named_under_the_home_folder_is_evaluated_there(run, tmp_path, monkeypatch):
    """evaluate_run("~/runs/x") from Python (no shell to expand it) reads the home folder's run, as
    Hybrid.from_pretrained does; it was "not a folder" (a folder named "~" here)."""
    monkeypatch.setenv("HOME", str(tmp_path))
    copy = shutil.copytree(run, tmp_path / "runs" / "x", ignore=shutil.ignore_patterns("eval"))
    report = evaluate_run("~/runs/x", out=tmp_path / "report")
    assert report["run"] == str(copy) and (tmp_path / "report" / "report.json").exists()


def test_a_run_with_no_checkpoint_yet_says_so(run, tmp_path):
    """A run folder stopped (or still running) before its first checkpoint holds config.yaml and
    splits.json: the error says it has no weights yet, not that it is no run."""
    early = tmp_path / "early"
    early.mkdir()
    for name in ("config.yaml", "splits.json"):
        shutil.copy(run / name, early / name)
    with pytest.raises(CheckpointError, match="saved no checkpoint yet"):
        evaluate_run(early)
    with pytest.raises(CheckpointError, match="neither a pretrained folder"):  # a folder with nothing of a run
        evaluate_run(tmp_path)


@pytest.mark.parametrize("stop,name,code", [("ctrl_c", "Ctrl-C", 130), ("sigterm", "SIGTERM", 143)])
def test_ctrl_c_or_sigterm_during_an_evaluation_is_one_line_and_leaves_the_earlier_report(run, tmp_path, monkeypatch,
                                                                                         capsys, stop, name, code):
    """Ctrl-C while `python -m eval` evaluated or wrote its report printed a KeyboardInterrupt
    traceback (training says a Ctrl-C in one line); now one line, exit 130, and an earlier report stays.
    SIGTERM ended the process at once, leaving the half-written report's hidden temporary files;
    now as Ctrl-C, exit 143."""
    import os
    import signal

    import eval.report

    out = tmp_path / "report"
    main([str(run), "--out", str(out)])
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    handler = signal.getsignal(signal.SIGTERM)

    def ctrl_c(*args):
        if stop == "sigterm":
            os.kill(os.getpid(), signal.SIGTERM)  # its handler runs here, as the signal arrives
        raise KeyboardInterrupt

    # Mid-write: the first plot is written (under its temporary name), report.json not yet, so the
    # real write_report's all-or-nothing renames are what keep the earlier report
    monkeypatch.setattr(eval.report, "plot_halting_steps", ctrl_c)
    capsys.readouterr()
    with pytest.raises(SystemExit) as stopped:
        main([str(run), "--out", str(out)])
    assert stopped.value.code == code
    err = capsys.readouterr().err
    assert "Traceback" not in err and f"{name}: stopped, no report written" in err
    assert signal.getsignal(signal.SIGTERM) is handler  # as it was before main
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before  # each file as it was, no half-written one left


@pytest.mark.usefixtures("signals_as_in_a_terminal")
@pytest.mark.parametrize("signum,name,code", [("SIGINT", "Ctrl-C", 130), ("SIGTERM", "SIGTERM", 143)])
def test_a_stop_while_the_summary_prints_is_one_line_naming_the_written_report(run, tmp_path, monkeypatch, capsys,
                                                                               signum, name, code):
    """The summary's table was printed outside eval's SIGTERM handling: a SIGTERM then ended `python -m eval`
    silently, a Ctrl-C with a KeyboardInterrupt traceback, though the report was written. Now one line naming
    it, and the signal's exit status, as a stop earlier in the evaluation gets."""
    import signal

    import eval.summary

    signum = getattr(signal, signum)

    def rate_then_signal(rate):
        os.kill(os.getpid(), signum)  # its handler runs here, as the signal arrives mid-table
        return "1"

    out = tmp_path / "report"
    monkeypatch.setattr(eval.summary, "per_second", rate_then_signal)
    try:
        with pytest.raises(SystemExit) as stopped:
            main([str(run), "--out", str(out)])
    except KeyboardInterrupt:
        pytest.fail("Ctrl-C while the summary printed ended in a KeyboardInterrupt traceback")
    assert stopped.value.code == code
    err = capsys.readouterr().err
    assert "Traceback" not in err and f"{name}: stopped, the report is written in {out / 'report.json'}" in err
    assert json.loads((out / "report.json").read_text())["num_puzzles"] > 0


def test_the_commands_a_summary_suggests_run_as_pasted_from_a_folder_with_spaces(tmp_path, capsys, monkeypatch):
    """The run folder in the suggested commands is one shell word: `python -m eval runs/my run` evaluated
    a folder named "runs/my" and took "run" for an override."""
    import shlex

    from hybrid.summary import print_summary

    monkeypatch.setenv("COLUMNS", "250")
    test = {"exact_accuracy": 0.25, "num_puzzles": 8, "cell_accuracy": 0.5, "cell_curve": [0.5],
            "exact_curve": [0.25], "early_exit_exact_accuracy": 0.25, "mean_halting_step": 1.0}
    run = tmp_path / "my runs" / "it's one"
    print_summary(load_config([]), {"batches": 4, "train_seconds": 10.0, "test": test}, run)
    lines = capsys.readouterr().out.split("next:")[1].splitlines()
    assert shlex.split(lines[0].split("(")[0]) == ["python", "-m", "eval", str(run)]
    assert shlex.split(lines[1].split("(")[0]) == ["python", "-m", "hybrid.solve", str(run), "--input", "puzzles.txt"]


def test_the_evaluation_summary_names_the_trained_n_sup_when_the_evaluation_runs_another(capsys, monkeypatch):
    """`python -m eval RUN reasoner.N_sup=16` on weights trained with 6 printed 16 figures under
    "exact by supervision step" with nothing to say which steps training had seen (the plot and
    the JSON say it); a run evaluated at its trained N_sup keeps the plain label."""
    from eval.summary import print_summary

    monkeypatch.setenv("COLUMNS", "200")  # one line per row
    report = {"task": {"name": "sudoku"}, "split": "test", "backbone": "chars", "num_puzzles": 8,
              "compute": {"N_sup": 3, "N_sup_trained": 2, "net_applications_all": 18,
                          "net_applications_early_exit": 6.0},
              "throughput": {"reasoner_puzzles_per_second": 100.0, "backbone_puzzles_per_second": 50.0},
              "exact_accuracy": 0.5, "cell_accuracy": 0.625, "verifier_accuracy": 0.5, "task_score": 0.5,
              "exact_curve": [0.25, 0.5, 0.5], "early_exit_exact_accuracy": 0.25, "mean_halting_step": 1.0,
              "answer_failures": {"count": 0}, "puzzle_failures": {"count": 0}, "backbone_differs": [],
              "weights": "final/model.safetensors", "report": "report.json"}
    print_summary(report)
    row = r"exact by supervision step \(trained with N_sup=2\) +│ +0\.250 0\.500 0\.500"
    assert re.search(row, capsys.readouterr().out)
    print_summary(report | {"compute": report["compute"] | {"N_sup": 2}, "exact_curve": [0.25, 0.5]})
    assert re.search(r"exact by supervision step +│ +0\.250 0\.500 ", capsys.readouterr().out)


def test_a_file_of_puzzles_none_readable_exits_with_the_first_reason(run, tmp_path):
    """The exit line pointed at report.json only: a qa row missing its answer field, say, said
    nothing of which field until the report was opened. It now quotes the first failure."""
    nothing = tmp_path / "bad.txt"
    nothing.write_text("not a sudoku\n")
    with pytest.raises(SystemExit, match=r"could not be read; report.json's puzzle_failures says why\. "
                                         r"The first: line 1: expected 16 cells for a 4x4 sudoku, found 0: type "):
        main([str(run), "--puzzles", str(nothing), "--out", str(tmp_path / "cli")])


def test_a_file_of_several_puzzles_none_readable_says_none_could_be_read(run, tmp_path):
    """With two or more puzzles the exit line said "none of the 2 puzzles ... could not be read",
    which reads as "all of them could be read": the opposite of what happened."""
    nothing = tmp_path / "bad.txt"
    nothing.write_text("not a sudoku\n\nnor this\n")
    with pytest.raises(SystemExit) as stop:
        main([str(run), "--puzzles", str(nothing), "--out", str(tmp_path / "cli")])
    assert re.match(r"error: none of the 2 puzzles in .*bad\.txt could be read; report\.json", str(stop.value))


def test_a_family_without_a_parser_says_how_to_score_it_instead():
    """reasoning_gym has no from_text: `--puzzles` said only "(it has no from_text)", not that
    nothing works out the answers of typed questions, nor that its test split is the way to score."""
    from eval.tasks.reasoning_gym import ReasoningGym

    with pytest.raises(HarnessError, match=r"nothing works out the answer.*test split \(python -m eval RUN\)"):
        parse_puzzles(ReasoningGym("maze", size=10), [TypedPuzzle("How many steps?")])


def test_a_typed_puzzle_file_names_the_line_each_failed_puzzle_starts_on(run, tmp_path):
    """puzzle_failures named a .jsonl line but only the position of a plain-text puzzle: in a file of
    blocks (a chat answer, a grid) the reader had to count puzzles to find it."""
    import random

    good = " ".join(str(v) if v else "_" for v in Sudoku(size=4).generate(random.Random(1), 0).data["puzzle"])
    puzzles = tmp_path / "mine.txt"
    puzzles.write_text(f"{good}\n1 2 3\n\nHere it is:\n```\n1 1 _ _\n_ _ _ _\n_ _ _ _\n_ _ _ _\n```\n", newline="\r\n")
    failures = evaluate_run(run, puzzles=puzzles, out=tmp_path / "report")["puzzle_failures"]["first"]
    assert [(f["puzzle"], f["line"]) for f in failures] == [(1, 2), (2, 4)]
    assert failures[0]["error"].startswith("line 2: expected 16 cells") and failures[1]["error"].startswith("line 4: ")


def test_a_training_summary_says_stopped_early_only_when_the_time_limit_stopped_it(tmp_path, capsys, monkeypatch):
    """metrics.json holds stopped_by_time_limit, false for a run that did every train.steps within its
    train.time_limit: that run's summary has no "stopped early" row."""
    from hybrid.summary import print_summary

    monkeypatch.setenv("COLUMNS", "250")  # one line per row
    test = {"exact_accuracy": 0.25, "num_puzzles": 8, "cell_accuracy": 0.5, "cell_curve": [0.5],
            "exact_curve": [0.25], "early_exit_exact_accuracy": 0.25, "mean_halting_step": 1.0}
    config = load_config(["train.time_limit=60", "train.steps=50"])
    for stopped in (False, True):
        print_summary(config, {"batches": 50 - 20 * stopped, "train_seconds": 59.0, "test": test,
                               "stopped_by_time_limit": stopped}, tmp_path)
        out = capsys.readouterr().out
        assert ("stopped early" in out) == stopped, out


def test_a_puzzle_file_line_that_is_no_json_says_how_to_write_it_as_hybrid_solve_does(tmp_path):
    """A .jsonl line that did not parse was recorded as "JSONDecodeError: line 2: Expecting ',' delimiter:
    line 1 column 23 (char 22)": Python's class name, two line numbers, and nothing of what to write;
    hybrid.solve said the same of the same line in its own words."""
    from hybrid.solve import read_items

    lines = tmp_path / "mine.jsonl"
    lines.write_text('"1 2 _ 4"\n{"question": "1 2 _ 4"\n', encoding="utf-8")
    _, [_, failure] = parse_puzzles(Sudoku(4), read_puzzles(lines, Sudoku(4)))  # line 1: 4 cells
    [_, item] = read_items(lines.read_text(), str.splitlines)
    assert failure["error"] == item.error == (
        "line 2 is not valid JSON (Expecting ',' delimiter at column 23); a line that starts with { is read as JSON: "
        'write it as {"question": "..."}, in double quotes, or type the puzzle as plain text')


# Each override of a setting the weights' shapes depend on, on the `run` fixture (4x4 Sudoku, chars, hidden 32,
# 2 layers, mlp mixer, expansion 4, span pooling), and what the error names for it
SHAPE_OVERRIDES = [
    (["task.size=6"], [r"task.size=6 \(trained: 4\) gives 36 answer slots \(trained: 16\)"]),
    (["reasoner.hidden=64"], [r"reasoner.hidden=64 \(trained: 32\)"]),
    (["reasoner.layers=3"], [r"reasoner.layers=3 \(trained: 2\)"]),
    (["reasoner.mixer=attention"], [r"reasoner.mixer=attention \(trained: mlp\)"]),
    (["reasoner.expansion=2"], [r"reasoner.expansion=2.0 \(trained: 4.0\)"]),
    (["adapter.kind=query_attention"], [r"adapter.kind=query_attention \(trained: auto\)"]),
    (["backbone.path=chars:1"], [r"backbone.path=chars:1 \(trained: chars\) gives states 101 wide \(trained: 458\)"]),
    # two at once are both named; the settings beside them that keep the shapes are not
    (["task.size=6", "reasoner.hidden=64", "reasoner.N_sup=3", "reasoner.T=3"],
     [r"task.size=6 \(trained: 4\)", r"reasoner.hidden=64 \(trained: 32\)"]),
    # chars:3 is chars under another name (a backbone folder named where it is now): of the same width, not named
    (["backbone.path=chars:3", "task.size=6"], [r"task.size=6 \(trained: 4\)"]),
]


@pytest.mark.parametrize("overrides, named", SHAPE_OVERRIDES, ids=[" ".join(o) for o, _ in SHAPE_OVERRIDES])
def test_an_override_of_a_shape_the_weights_fix_names_each_setting_and_what_to_do(run, tmp_path, overrides, named):
    """task.size=6 on a run trained at 4 was one line of 600 characters, most of it PyTorch's
    load_state_dict text (size mismatch for adapter.slot_embedding: copying a param with shape
    torch.Size([16, 32]) ...), which named no setting: each one is named, trained value beside it."""
    with pytest.raises(SystemExit) as stop:
        main([str(run), *overrides, "--out", str(tmp_path)])
    said = str(stop.value)
    short = said.replace(str(run / "final"), "RUN/final")  # as long as any path there
    assert "\n" not in said and len(short) < 400 and "torch.Size" not in said and "state_dict" not in said, said
    for setting in named:
        assert re.search(setting, said), said
    keys = re.findall(r"([a-z_]+\.[a-z_]+)=\S+ \(trained", said)
    assert len(keys) == len(named), said  # N_sup, T and chars:3 keep every shape: not named
    given = " ".join(re.search(r"[^ ]+=[^ ]+", s).group(0).replace("\\", "") for s in named)
    assert re.search(rf"leave out {re.escape(given)}.*or evaluate a run trained with", said), said
    assert not (tmp_path / "report.json").exists()


def test_weights_that_fit_no_setting_name_the_tensor_that_differs_in_one_short_line(run, tmp_path):
    """Weights of another version of the model (a tensor renamed), with no override: no setting
    differs, so the tensor is named, without PyTorch's whole load_state_dict text."""
    from safetensors.torch import load_file, save_file

    copy = shutil.copytree(run / "final", tmp_path / "older")
    state = load_file(copy / "model.safetensors")
    state["head.proj.weight"] = state.pop("head.weight")
    save_file(state, copy / "model.safetensors")
    (copy / "checksums.json").unlink()
    with pytest.raises(SystemExit) as stop:
        main([str(copy), "--out", str(tmp_path / "report")])
    said = str(stop.value)
    assert "\n" not in said and len(said.replace(str(copy), "OLD")) < 300 and "state_dict" not in said, said
    assert re.search(r"does not fit the model this config builds: .*head.weight", said), said


def test_a_wording_the_weights_never_trained_on_is_said_in_one_line_unless_held_out_is_asked(run, tmp_path):
    """task.wordings=[1] on a run trained on [0] scored puzzles in a phrasing the model never read
    without a word (only the report's trained_wordings showed it). That is a fair held-out test, so
    it is a line, not an error; with --split test_heldout untrained wordings are the point: no line."""
    import warnings

    def lines(*args, **kwargs) -> list[str]:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            evaluate_run(run, *args, **kwargs)
        return [str(w.message) for w in caught if "not trained on" in str(w.message)]

    said = lines(["task.wordings=[1]"], out=tmp_path / "one")
    assert len(said) == 1 and "\n" not in said[0], said
    assert re.search(r"test split holds puzzles in wording\(s\) \[1\], .*not trained on \(trained on: \[0\]\)",
                     said[0]), said
    said = lines(["task.wordings=[0,2]"], out=tmp_path / "two")
    assert len(said) == 1 and re.search(r"wording\(s\) \[2\], ", said[0]), said  # only the one not trained on
    mine = tmp_path / "mine.txt"
    mine.write_text("12__\n__12\n2__1\n1_2_\n")
    said = lines(["task.wordings=[2]"], puzzles=mine, out=tmp_path / "mine")  # worded in wording 2
    assert len(said) == 1 and re.search(r"mine.txt are worded in wording\(s\) \[2\], ", said[0]), said
    assert lines(out=tmp_path / "trained") == []
    assert lines(puzzles=mine, out=tmp_path / "mine0") == []
    assert lines(["task.held_out_wordings=[1]"], split="test_heldout", out=tmp_path / "heldout") == []


def test_a_report_of_other_settings_replaced_in_its_folder_is_said_before_evaluating(run, tmp_path, monkeypatch):
    """`python -m eval RUN reasoner.N_sup=3` after `python -m eval RUN` replaced RUN/eval/test/report.json
    without a word: the earlier report was gone. It is said, with the settings that differ, before
    the evaluation (Ctrl-C then leaves the earlier report); the same settings again say nothing."""
    import warnings

    import eval.__main__ as harness

    def lines(*args, **kwargs) -> list[str]:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            evaluate_run(run, *args, **kwargs)
        return [str(w.message) for w in caught if "replaces" in str(w.message)]

    out = tmp_path / "report"
    assert lines(out=out) == []  # no report there yet
    assert lines(out=out) == []  # the same settings: the same report, made again
    said = lines(["reasoner.N_sup=3", "task.givens=9"], out=out)
    assert len(said) == 1 and "\n" not in said[0], said
    assert re.search(rf"{re.escape(str(out / 'report.json'))} .*other settings\W.*task.givens=9 \(the earlier "
                     rf"report's: null\).*reasoner.N_sup=3 \(the earlier report's: 2\).*--out", said[0]), said
    assert json.loads((out / "report.json").read_text())["compute"]["N_sup"] == 3
    said = lines(["reasoner.N_sup=3", "task.givens=9"], out=out, ema=False)  # the raw weights of another folder
    assert len(said) == 1 and re.search(r"checkpoint=.*step_00000004 \(the earlier report's: .*final\)", said[0]), said

    # said before the minutes of evaluating: stopped there, the earlier report is as it was
    monkeypatch.setattr(harness, "read_data", lambda *a: (_ for _ in ()).throw(KeyboardInterrupt))
    before = (out / "report.json").read_bytes()
    with pytest.warns(UserWarning, match="replaces"), pytest.raises(KeyboardInterrupt):
        evaluate_run(run, ["reasoner.N_sup=5"], out=out)
    assert (out / "report.json").read_bytes() == before


def test_two_puzzle_files_of_one_name_are_told_apart_where_one_replaces_the_others_report(run, tmp_path):
    """A report named its puzzle file by name alone (`split`: puzzles:mine.txt), so `--puzzles b/mine.txt`
    replaced the report of `--puzzles a/mine.txt` (both report in RUN/eval/puzzles-mine.txt) without a
    word. The report records the file's resolved path, which the replaced-report warning names; a report
    written before it was recorded is read as before."""
    import random
    import warnings

    def replaced(puzzles: Path, out: Path) -> list[str]:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            report = evaluate_run(run, puzzles=puzzles, out=out)
        assert report["split"] == "puzzles:mine.txt" and report["puzzles"] == str(puzzles.resolve())
        return [str(w.message) for w in caught if "replaces" in str(w.message)]

    files = []
    for seed, folder in enumerate(("a", "b"), 1):
        files.append(tmp_path / folder / "mine.txt")
        files[-1].parent.mkdir()
        puzzle = Sudoku(size=4).generate(random.Random(seed), 0).data["puzzle"]
        files[-1].write_text(format_grid(Grid(4), puzzle).replace("0", "_") + "\n")
    out = tmp_path / "report"
    assert replaced(files[0], out) == []
    assert replaced(tmp_path / "a" / ".." / "a" / "mine.txt", out) == []  # the same file, named another way
    said = replaced(files[1], out)
    assert len(said) == 1 and re.search(rf"--puzzles={re.escape(str(files[1]))} \(the earlier report's: "
                                        rf"{re.escape(str(files[0]))}\)", said[0]), said
    earlier = json.loads((out / "report.json").read_text())
    del earlier["puzzles"]  # a report written before the path was recorded
    (out / "report.json").write_text(json.dumps(earlier))
    assert replaced(files[0], out) == []  # nothing to compare the path with: not said, and no error


def test_a_puzzle_file_edited_since_its_report_is_told_by_the_sha256_of_what_was_read(run, tmp_path, capsys,
                                                                                     monkeypatch):
    """A report recorded its puzzle file's path alone: after puzzles were added to (or fixed in) the file,
    nothing said which contents a report was of, and a new one replaced it without a word. The report
    records the sha256 of the bytes read, the replaced-report warning says the file changed (not where
    the same bytes are named another way), and the summary shows its first 12 digits beside the file."""
    import hashlib
    import random

    from eval.summary import print_summary

    def evaluated(puzzles: Path, out: Path) -> tuple[dict, list[str]]:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            report = evaluate_run(run, puzzles=puzzles, out=out)
        return report, [str(w.message) for w in caught if "replaces" in str(w.message)]

    grids = [format_grid(Grid(4), Sudoku(size=4).generate(random.Random(seed), 0).data["puzzle"]).replace("0", "_")
             for seed in (1, 2)]
    mine, out = tmp_path / "mine.txt", tmp_path / "report"
    mine.write_bytes(f"{grids[0]}\r\n".encode())  # the bytes as written: a Windows line end is part of them
    report, said = evaluated(mine, out)
    first = hashlib.sha256(mine.read_bytes()).hexdigest()
    assert said == [] and report["puzzles_sha256"] == first and report["num_puzzles"] == 1
    assert json.loads((out / "report.json").read_text())["puzzles_sha256"] == first
    (tmp_path / "sub").mkdir()
    assert evaluated(tmp_path / "sub" / ".." / "mine.txt", out)[1] == []  # the same bytes, the path spelt otherwise

    mine.write_text(f"{grids[0]}\n\n{grids[1]}\n")  # a puzzle added
    report, said = evaluated(mine, out)
    second = hashlib.sha256(mine.read_bytes()).hexdigest()
    assert report["puzzles_sha256"] == second and report["num_puzzles"] == 2
    assert len(said) == 1 and re.search(rf"holds an evaluation of other puzzles\W.*--puzzles={re.escape(str(mine))},"
                                        rf" whose contents changed since \(sha256 {second[:12]}; the earlier "
                                        rf"report's: {first[:12]}\)", said[0]), said

    monkeypatch.setenv("COLUMNS", "250")  # one line per row
    capsys.readouterr()
    print_summary(report)
    shown = capsys.readouterr().out
    assert re.search(rf"puzzle file \(sha256\)\s*│\s*{re.escape(str(mine))} \({second[:12]}\)", shown), shown
    earlier = json.loads((out / "report.json").read_text())
    del earlier["puzzles_sha256"]  # a report written before the fingerprint was recorded
    (out / "report.json").write_text(json.dumps(earlier))
    print_summary(earlier)
    assert re.search(r"puzzle file \(sha256\)\s*│.*\(not recorded\)", capsys.readouterr().out)
    mine.write_text(f"{grids[1]}\n")
    assert evaluated(mine, out)[1] == []  # nothing to compare the contents with: not said, and no error


def sudoku_lines(*seeds: int) -> bytes:
    """4x4 Sudokus as one would type them, one line each (blanks as _)."""
    import random

    return "".join(format_grid(Grid(4), Sudoku(size=4).generate(random.Random(seed), 0).data["puzzle"])
                   .replace("0", "_").replace("\n", " ") + "\n" for seed in seeds).encode()


def test_the_replaced_report_warning_names_puzzles_piped_in_as_they_were_given(tmp_path):
    """A report records piped puzzles as "stdin", and the warning said `--puzzles=stdin`: typed so, that is
    a file named stdin. It says `--puzzles -`, as the user typed it."""
    from eval.report_folder import say_replaced

    def said(earlier: dict, now: dict) -> str:
        (tmp_path / "report.json").write_text(json.dumps(earlier))
        with pytest.warns(UserWarning, match="replaces") as caught:
            say_replaced(tmp_path, now)
        return str(caught[0].message)

    piped, mine = {"puzzles": "stdin"}, {"puzzles": str(tmp_path / "mine.txt")}
    message = said(piped | {"puzzles_sha256": "a" * 64}, piped | {"puzzles_sha256": "b" * 64})
    assert "--puzzles - (stdin), whose contents changed since (sha256 bbbbbbbbbbbb" in message
    assert "--puzzles=stdin" not in message
    message = said(mine, piped)
    assert f"--puzzles - (stdin) (the earlier report's: {tmp_path / 'mine.txt'})" in message
    assert f"--puzzles={tmp_path / 'mine.txt'} (the earlier report's: stdin)" in said(piped, mine)


def test_puzzles_piped_in_are_evaluated_and_a_report_of_other_piped_puzzles_says_they_changed(run, tmp_path,
                                                                                            monkeypatch):
    """`--puzzles -` said "puzzle file - does not exist", where hybrid.solve --input - reads stdin, and
    bash's <(generate ...) (a /dev/fd path: a pipe, no regular file) was refused the same way. Stdin's
    puzzles report as puzzles:stdin in RUN/eval/puzzles-stdin, with the sha256 of the bytes read, so
    other puzzles piped in later are told as contents changed since; a pipe's path is recorded as given
    (resolved, it is "pipe:[N]", another each time)."""
    import hashlib
    import io

    copy = shutil.copytree(run, tmp_path / "run", ignore=shutil.ignore_patterns("eval"))  # its default folder

    def piped(data: bytes) -> tuple[dict, list[str]]:
        monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data)))
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            report = evaluate_run(copy, puzzles="-")
        return report, [str(w.message) for w in caught if "replaces" in str(w.message)]

    one, two = sudoku_lines(1), sudoku_lines(1, 2)
    report, said = piped(one)
    assert said == [] and report["num_puzzles"] == 1 and report["puzzle_failures"]["count"] == 0
    assert (report["split"], report["puzzles"]) == ("puzzles:stdin", "stdin")
    assert report["puzzles_sha256"] == hashlib.sha256(one).hexdigest()
    assert Path(report["report"]).parent == copy / "eval" / "puzzles-stdin"
    assert piped(one)[1] == []  # the same puzzles again: nothing replaced that a reader could lose
    report, said = piped(two)
    assert report["num_puzzles"] == 2 and report["puzzles_sha256"] == hashlib.sha256(two).hexdigest()
    assert len(said) == 1 and re.search(rf"--puzzles - \(stdin\), whose contents changed since \(sha256 "
                                        rf"{hashlib.sha256(two).hexdigest()[:12]}; the earlier report's: "
                                        rf"{hashlib.sha256(one).hexdigest()[:12]}\)", said[0]), said

    read, write = os.pipe()  # what bash hands the command for <(...): /dev/fd/N
    os.write(write, two)
    os.close(write)
    try:
        report = evaluate_run(copy, puzzles=f"/dev/fd/{read}", out=tmp_path / "pipe")
    finally:
        os.close(read)
    assert report["num_puzzles"] == 2 and report["puzzles"] == f"/dev/fd/{read}"
    assert report["puzzles_sha256"] == hashlib.sha256(two).hexdigest()


def test_puzzles_piped_to_the_command_are_read_from_stdin(run, tmp_path):
    """The command line: `generate ... | python -m eval RUN --puzzles -`, as hybrid.solve reads its stdin."""
    proc = subprocess.run([sys.executable, "-m", "eval", str(run), "--puzzles", "-", "--out", str(tmp_path / "r")],
                          input=sudoku_lines(3), capture_output=True, cwd=ROOT, env=os.environ | {"COLUMNS": "250"})
    assert proc.returncode == 0, proc.stderr.decode()
    report = json.loads((tmp_path / "r" / "report.json").read_text())
    assert (report["split"], report["puzzles"], report["num_puzzles"]) == ("puzzles:stdin", "stdin", 1)
    assert re.search(r"puzzle file \(sha256\)\s*│\s*stdin \(", proc.stdout.decode()), proc.stdout.decode()


def test_puzzles_that_cannot_be_read_are_said_before_the_weights_and_the_backbone_load(run, tmp_path, monkeypatch):
    """A missing, unreadable or empty --puzzles file was said only after the weights and the backbone
    loaded (seconds to a minute; here the damaged weights' error came first). It is read first, as
    hybrid.solve reads its --input, with the same messages; an earlier report stays as it was."""
    import io

    import hybrid.inference

    copy = shutil.copytree(run, tmp_path / "run", ignore=shutil.ignore_patterns("eval"))
    weights = copy / "final" / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:-10])  # would fail to load
    monkeypatch.setattr(hybrid.inference, "backbone_named_in", lambda *a: pytest.fail("the backbone loaded first"))
    earlier = copy / "eval" / "puzzles-mine.txt" / "report.json"
    earlier.parent.mkdir(parents=True)
    earlier.write_text('{"num_puzzles": 3}')
    mine = tmp_path / "mine.txt"
    with pytest.raises(HarnessError, match=f"puzzle file {re.escape(str(mine))} does not exist"):
        evaluate_run(copy, puzzles=mine)
    mine.write_text("\n```\n```\n")
    with pytest.raises(HarnessError, match=f"puzzle file {re.escape(str(mine))} holds no puzzles"):
        evaluate_run(copy, puzzles=mine)
    mine.write_bytes("Sort: 5, 3, café\n".encode("latin-1"))
    latin1 = r"cannot read puzzle file .*mine.txt: not UTF-8 text \(.utf-8. codec can.t decode"
    with pytest.raises(HarnessError, match=latin1):
        evaluate_run(copy, puzzles=mine)
    with pytest.raises(HarnessError, match=f"puzzle file {re.escape(str(tmp_path))} is a folder"):
        evaluate_run(copy, puzzles=tmp_path)
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"  \n")))
    with pytest.raises(SystemExit, match="error: stdin holds no puzzles"):
        main([str(copy), "--puzzles", "-"])
    monkeypatch.setattr(sys, "stdin", None)  # started with stdin closed
    with pytest.raises(SystemExit, match="error: stdin is closed: give the puzzles with --puzzles FILE"):
        main([str(copy), "--puzzles", "-"])
    assert earlier.read_text() == '{"num_puzzles": 3}'
    mine.write_bytes(sudoku_lines(1))  # readable puzzles: then the weights are read, and their error said
    with pytest.raises(CheckpointError, match="model.safetensors is damaged"):
        evaluate_run(copy, puzzles=mine)
