"""docs/extending.md, run: a puzzle family kept in a module of its own trains, evaluates and
solves by import path (also in a fresh process), and its mistakes are told before training; an
adapter or mixer added to its table is accepted by the config and used; a preset file outside
the repository loads."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from torch import nn

from eval.__main__ import evaluate_run
from eval.tasks import PuzzleError, make_task
from hybrid.config import ConfigError, load_config
from hybrid.inference import Hybrid
from hybrid.train import train

ROOT = Path(__file__).resolve().parent.parent
DOC = (ROOT / "docs" / "extending.md").read_text()


def doc_block(after: str) -> str:
    """The first python block after `after` in docs/extending.md: the test runs what the page shows."""
    return re.search(re.escape(after) + r".*?```python\n(.*?)```", DOC, re.S).group(1)


def tiny(*overrides: str, root: Path) -> list[str]:
    return ["backbone=chars", "reasoner.hidden=32", "reasoner.n=2", "reasoner.T=2", "reasoner.N_sup=2",
            "train.batch_size=16", "train.steps=3", "train.eval_every=0", "train.checkpoint_every=0", "train.warmup=0",
            "train.tracker=null", "train.cpu_threads=1",
            f"train.output_dir={root / 'run'}", f"train.data_dir={root / 'cache'}", *overrides]


@pytest.fixture
def my_tasks(tmp_path, monkeypatch):
    """The docs' my_tasks.py in a folder of its own, importable as a user's module is."""
    folder = tmp_path / "research"
    folder.mkdir()
    (folder / "my_tasks.py").write_text(doc_block("`my_tasks.py`"))
    monkeypatch.syspath_prepend(str(folder))
    yield folder
    sys.modules.pop("my_tasks", None)


def test_a_family_of_your_own_trains_evaluates_and_solves_by_import_path(my_tasks, tmp_path):
    config = load_config(tiny("task=my_tasks:BinaryAddition", "task.bits=4", "task.train_size=64",
                              "task.test_size=16", "task.held_out_wordings=[1]", root=tmp_path))
    assert config.task.bits == 4 and config.task.name == "my_tasks:BinaryAddition"
    metrics = train(config)
    run = tmp_path / "run"
    assert metrics["batches"] == 3 and metrics["test"]["num_puzzles"] == 16
    assert "my_tasks:BinaryAddition" in (run / "final" / "config.yaml").read_text()

    report = evaluate_run(run, split="test_heldout", out=tmp_path / "heldout")
    assert report["num_puzzles"] == 16 and report["answer_failures"]["count"] == 0
    assert report["task"]["name"] == "my_tasks:BinaryAddition" and list(report["by_wording"]) == ["1"]

    # A fresh process finds the family from the saved config alone, given the module's folder.
    (tmp_path / "typed.txt").write_text("What is 1011 + 11 in base two?\nAdd the binary numbers 1 and 0.\n")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(my_tasks), str(ROOT)])}
    proc = subprocess.run([sys.executable, "-m", "eval", str(run), "--puzzles", str(tmp_path / "typed.txt"),
                           "--out", str(tmp_path / "typed")], capture_output=True, text=True, cwd=ROOT, env=env)
    assert proc.returncode == 0, proc.stderr[-2000:]
    typed = json.loads((tmp_path / "typed" / "report.json").read_text())
    assert typed["num_puzzles"] == 2 and typed["puzzle_failures"]["count"] == 0

    solved = Hybrid.from_pretrained(run, "cpu").solve(["What is 1011 + 11 in base two?", "1 + 2"])
    assert re.fullmatch("[01]{5}", solved[0].answer) and isinstance(solved[0].verified, bool)
    assert solved[1].answer is None and "two binary numbers" in solved[1].error

    sys.modules.pop("my_tasks")  # elsewhere, without the module: say so, not "fix the config file"
    sys.path.remove(str(my_tasks))
    with pytest.raises(ConfigError, match="cannot import 'my_tasks'.*PYTHONPATH") as error:
        Hybrid.from_pretrained(run, "cpu")
    assert "config schema" not in str(error.value)


@pytest.mark.parametrize("name, source, message", [
    ("missing_module:Task", None, "cannot import 'missing_module'.*PYTHONPATH"),
    ("families:Nope", "", "module 'families' has no 'Nope'"),
    # A module that fails as it is imported: named with the file and line, not a raw traceback.
    ("families:Typo", "import os\ndef f(:\n", r"task 'families:Typo': importing 'families' raised SyntaxError "
     r"at .*families.py:2 \(invalid syntax\); fix that module"),
    ("families:Raises", "x = 1\nx = 1 / 0\n", r"importing 'families' raised ZeroDivisionError at .*families.py:2 "
     r"\(division by zero\); fix that module"),
    ("families:Nope", "import os\nos.nope\n", r"raised AttributeError at .*families.py:2 \(module 'os' has no "
     r"attribute 'nope'\)"),  # not "module 'families' has no 'Nope'"
    ("families:Thing", "class Thing: pass", "is not a Task subclass"),
    ("families:NoSchema", "from eval.tasks import Task\nclass NoSchema(Task): pass",
     "set `schema = <its config dataclass>` on NoSchema"),
    # A config subclass left without @dataclass: its knobs are no fields, and the override of one was
    # "Key 'bits' not in 'C'" while C plainly declares bits.
    ("families:Undecorated", "from eval.tasks import Task, TaskConfig\nclass C(TaskConfig):\n    bits: int = 8\n"
     "class Undecorated(Task):\n    schema = C", r"C declares bits, but not as dataclass fields: put @dataclass on C"),
    ("families:Short", "from dataclasses import dataclass\nfrom eval.tasks import Task\n"
     "@dataclass\nclass C:\n    name: str = 'families:Short'\n    train_size: int = 8\n"
     "class Short(Task):\n    schema = C", "its schema C lacks test_size, wordings, held_out_wordings"),
    # Told as the config is read: built later, these were Python's TypeError from inside training.
    ("families:Abstract", "from eval.tasks import Task, TaskConfig\nclass Abstract(Task):\n    schema = TaskConfig\n"
     "    def generate(self, rng, wording): pass", "Abstract does not define decode, verify"),
    ("families:Extra", "from dataclasses import dataclass\nfrom eval.tasks import TaskConfig\n"
     "from eval.tasks.sorting import Sorting\n@dataclass\nclass C(TaskConfig):\n    length: int = 5\n"
     "    carry: bool = True\nclass Extra(Sorting):\n    schema = C",
     r"knobs by name \(length, carry\), and got an unexpected keyword argument 'carry'"),
])
def test_a_family_by_import_path_that_cannot_be_used_is_a_clear_error(tmp_path, monkeypatch, name, source, message):
    if source is not None:
        (tmp_path / "families.py").write_text(source)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "families", raising=False)
    with pytest.raises(ConfigError, match=message):
        load_config([f"task={name}"])
    sys.modules.pop("families", None)


@pytest.mark.parametrize("drop, message", [("num_slots", "sets no num_slots"), ("vocab", "sets no vocab")])
def test_a_family_that_sets_no_vocab_or_num_slots_is_a_clear_error(my_tasks, tmp_path, drop, message):
    """Required, and often set only in the constructor: without one, building a split ended in an
    AttributeError on the first example."""
    line = {"vocab": '    vocab = ("0", "1")', "num_slots": "        self.num_slots = bits + 1"}[drop]
    assert line in doc_block("`my_tasks.py`")
    (my_tasks / "my_tasks.py").write_text(doc_block("`my_tasks.py`").replace(line, line.replace(line.lstrip(), "#")))
    config = load_config(tiny("task=my_tasks:BinaryAddition", "task.train_size=16", "task.test_size=8", root=tmp_path))
    with pytest.raises(PuzzleError, match=f"BinaryAddition {message} .*docs/extending.md"):
        make_task(config.task)


def test_an_adapter_added_to_its_table_is_accepted_built_and_trained(tmp_path, monkeypatch):
    from adapters import ADAPTERS
    from eval.tasks import make_task
    from hybrid.backbone import load_for
    from hybrid.model import HybridModel

    namespace = {"nn": nn, "torch": torch}
    exec(doc_block("## An adapter"), namespace)
    mean_pool = namespace["MeanPoolAdapter"]
    overrides = tiny("task=sudoku", "task.size=4", "task.train_size=32", "task.test_size=8", "task.wordings=[0]",
                     "adapter.kind=mean_pool", root=tmp_path)
    with pytest.raises(ConfigError, match="adapter.kind='mean_pool': choose auto, span_pool or query_attention"):
        load_config(overrides)
    monkeypatch.setitem(ADAPTERS, "mean_pool", mean_pool)
    config = load_config(overrides)
    assert isinstance(HybridModel(config, 8, 16, 4).adapter, mean_pool)
    assert train(config)["batches"] == 3
    # reads_spans on the class, not the kind's name, says whether the chars front end adds positions
    task = make_task(config.task)
    assert load_for(config, task).with_positions
    monkeypatch.setattr(mean_pool, "reads_spans", True, raising=False)
    assert not load_for(config, task).with_positions


def test_a_mixer_added_to_its_table_is_accepted_and_used(tmp_path, monkeypatch):
    from hybrid.model import HybridModel
    from reasoner.net import MIXERS, TinyNet

    line = re.search(r'^"none": (.*),$', DOC, re.M).group(1)
    with pytest.raises(ConfigError, match="reasoner.mixer='none': choose mlp or attention"):
        load_config(["reasoner.mixer=none"])
    monkeypatch.setitem(MIXERS, "none", eval(line, {"nn": nn}))
    config = load_config(tiny("task=sudoku", "task.size=4", "task.train_size=32", "task.test_size=8",
                              "task.wordings=[0]", "reasoner.mixer=none", root=tmp_path))
    model = HybridModel(config, 8, 16, 4)
    assert all(isinstance(block.mixer, nn.Identity) for block in model.reasoner.net)
    assert train(config)["batches"] == 3
    with pytest.raises(ValueError, match="mixer='atention': choose mlp or attention or none"):
        TinyNet(16, 4, mixer="atention")  # a misspelt mixer is not silently attention


def test_a_task_preset_names_a_family_of_your_own_by_import_path(my_tasks, tmp_path, monkeypatch):
    """docs/extending.md: a file holding `name: my_tasks:BinaryAddition` and any knobs, used as
    `task=~/research/binary.yaml`, keeps the long name off the command line."""
    monkeypatch.setenv("HOME", str(tmp_path))  # my_tasks lives in ~/research, as on the page
    (my_tasks / "binary.yaml").write_text("name: my_tasks:BinaryAddition\nbits: 6\n")
    config = load_config(["task=~/research/binary.yaml", "task.held_out_wordings=[1]"])
    task = config.task
    assert (type(task).__name__, task.bits, task.held_out_wordings) == ("BinaryAdditionConfig", 6, [1])
    assert make_task(task).num_slots == 7  # the family built with its knob from the file


def test_a_preset_file_outside_the_repository(tmp_path):
    preset = re.search(r"## A backbone preset.*?```yaml\n(.*?)```", DOC, re.S).group(1)
    (tmp_path / "my_encoder.yaml").write_text(preset)
    backbone = load_config([f"backbone={tmp_path / 'my_encoder.yaml'}", "backbone.batch_size=8"]).backbone
    assert (backbone.path, backbone.max_length, backbone.batch_size) == ("~/models/my-encoder", 256, 8)
    (tmp_path / "short_sorting.yaml").write_text("name: sorting\nlength: 3\n")
    assert load_config([f"task={tmp_path / 'short_sorting.yaml'}"]).task.length == 3
    with pytest.raises(ConfigError, match="backbone=.*missing.yaml: no such file"):
        load_config([f"backbone={tmp_path / 'missing.yaml'}"])


@pytest.mark.parametrize("change, message", [
    ({"aligned_slots": True}, "example 0 has no slot_spans, which span pooling reads"),
    ({"vocab": ("0",)}, "label 1 is neither a class of its vocab"),
    ({"num_slots": 3}, "5 labels, but the family declares num_slots=3"),
])
def test_examples_that_do_not_match_what_their_family_declares_are_refused_before_training(
        my_tasks, tmp_path, change, message):
    """A family's own mistakes, told before any split is saved, not found deep in training (or
    never: span pooling over examples without spans reads nothing of the question)."""
    from my_tasks import BinaryAddition

    from eval.tasks import PuzzleError
    from hybrid.data import build_splits

    change = dict(change)

    class Broken(BinaryAddition):
        aligned_slots = change.pop("aligned_slots", False)

    task = Broken(bits=4)
    vars(task).update(change)
    config = load_config(["task=my_tasks:BinaryAddition", "task.bits=4", "task.train_size=8", "task.test_size=4"])
    with pytest.raises(PuzzleError, match=message):
        build_splits(task, config.task, 0, tmp_path)
    assert not (tmp_path / "datasets").exists() or not any((tmp_path / "datasets").iterdir())


@pytest.mark.parametrize("spans, message", [
    # A slot left without a piece of the question read nothing under span pooling, silently.
    (lambda e: e.slot_spans[:-1], r"example 0: slot 4 has a label but no slot_span"),
    (lambda e: [*e.slot_spans, (0, 1)], r"example 0: 6 slot_spans, but the family declares num_slots=5"),
    (lambda e: [(a + 500, b + 500) for a, b in e.slot_spans], r"example 0: slot_span \(5\d\d, 5\d\d\) of slot 0 "
                                                               r"is not inside its question \(\d+ characters\)"),
    (lambda e: [*e.slot_spans[:-1], (3, 3)], r"example 0: slot_span \(3, 3\) of slot 4 is not inside"),  # empty
    (lambda e: [*e.slot_spans[:-1], (0, len(e.question) + 1)], r"example 0: slot_span \(0, \d+\) of slot 4 is not "
                                                                r"inside its question"),  # one past its end
])
def test_slot_spans_that_leave_a_slot_reading_nothing_are_refused_by_name(my_tasks, tmp_path, spans, message):
    from dataclasses import replace

    from my_tasks import BinaryAddition

    from hybrid.data import build_splits

    class Spanned(BinaryAddition):
        aligned_slots = True

        def generate(self, rng, wording):
            made = super().generate(rng, wording)
            spanned = replace(made, slot_spans=[(i, i + 1) for i in range(self.num_slots)])
            return replace(spanned, slot_spans=spans(spanned))

    config = load_config(["task=my_tasks:BinaryAddition", "task.bits=4", "task.train_size=8", "task.test_size=4"])
    with pytest.raises(PuzzleError, match=message):
        build_splits(Spanned(bits=4), config.task, 0, tmp_path)


@pytest.mark.parametrize("made", [None, ()])
def test_a_generate_that_returns_no_example_is_refused_by_name(my_tasks, tmp_path, made):
    """A `return` forgotten (None), or the example in a tuple: an AttributeError ("'NoneType' object
    has no attribute 'wording'") from inside hybrid/data.py, naming neither the family nor the method."""
    from my_tasks import BinaryAddition

    from hybrid.data import build_splits

    class Forgetful(BinaryAddition):
        def generate(self, rng, wording):
            super().generate(rng, wording)
            return made

    config = load_config(["task=my_tasks:BinaryAddition", "task.bits=4", "task.train_size=8", "task.test_size=4"])
    with pytest.raises(PuzzleError, match=rf"task binary_addition: generate\(rng, wording=\d\) returned "
                                          rf"{type(made).__name__}, not an Example \(eval.tasks.Example\)"):
        build_splits(Forgetful(bits=4), config.task, 0, tmp_path)


@pytest.mark.parametrize("example, message", [
    # Labels as the answer's characters, not class ids: a TypeError from a comparison in hybrid/data.py.
    (lambda e: dict(labels=list(e.answer)), r"label '[01]' is not a class id: each label is an index into its vocab"),
    # Data json cannot write: json's TypeError from deep inside split generation, naming no example.
    (lambda e: dict(data={**e.data, "bits": {1, 0}}), r"data of .*Add the binary numbers.* is not JSON-able .*set"),
    # The wording argument dropped: every example recorded as wording 0, held-out figures mislabelled.
    (lambda e: dict(wording=0), r"generate\(rng, wording=1\) returned an example of wording 0: give Example\(\.\.\., "
                                r"wording=wording\)"),
])
def test_examples_a_family_cannot_save_or_train_on_are_refused_by_name(my_tasks, tmp_path, example, message):
    from dataclasses import replace

    from my_tasks import BinaryAddition

    from hybrid.data import build_splits

    class Broken(BinaryAddition):
        def generate(self, rng, wording):
            made = super().generate(rng, wording)
            return replace(made, **example(made))

    config = load_config(["task=my_tasks:BinaryAddition", "task.bits=4", "task.train_size=8", "task.test_size=4"])
    with pytest.raises(PuzzleError, match=message):
        build_splits(Broken(bits=4), config.task, 0, tmp_path)
