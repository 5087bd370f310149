"""Inference without train.py: save_pretrained / from_pretrained, solve with early exit or a
fixed number of steps, and the `python -m hybrid.solve` command line."""

import dataclasses
import json
import random
import re
import shutil
import signal
import weakref

import pytest
import torch

from eval.tasks import text_answer
from eval.tasks.sudoku import Sudoku
from hybrid.backbone import load_backbone
from hybrid.config import ConfigError, from_yaml
from hybrid.inference import Hybrid
from hybrid.model import HybridModel
from hybrid.solve import main as solve_main
from hybrid.train import train


def handwritten(n: int, seed: int = 0) -> list[str]:
    """4x4 puzzles as a person would type them: one line of digits and blanks."""
    task, rng = Sudoku(4), random.Random(seed)
    return [" ".join(str(v) if v else "_" for v in task.generate(rng, 0).data["puzzle"]) for _ in range(n)]


@pytest.fixture
def solver(small_config):
    """An untrained hybrid (solving needs no training to be tested), ready to solve. Seeded: the
    tests that set the halting head need the same weights whichever tests ran before."""
    torch.manual_seed(0)
    config = small_config()
    task = Sudoku(4)
    backbone = load_backbone(config.backbone)
    model = HybridModel.for_task(config, backbone.hidden_size, task)
    return Hybrid(model, backbone, task, config)


def test_a_typed_puzzle_is_worded_as_the_model_was_trained(small_config):
    """solve re-renders a typed puzzle in a wording the model saw in training, not always wording 0."""
    config = small_config("task.wordings=[2]")
    task = Sudoku(4)
    backbone = load_backbone(config.backbone)
    model = HybridModel.for_task(config, backbone.hidden_size, task)
    example = Hybrid(model, backbone, task, config).read(handwritten(1)[0])
    assert example.wording == 2 and example.question.startswith("Here is a 4x4 number puzzle")


def test_a_typed_logic_grid_puzzle_is_read_into_its_slots(small_config):
    """Zebra's slots are pieces of the question (span pooling): a typed puzzle goes through
    from_text, so every listed value and clue has its span, worded as the model trained."""
    from eval.tasks.zebra import Zebra

    config = small_config("task=zebra", "task.wordings=[1]")  # 3 houses x 2 attributes
    task = Zebra(3, 2)
    typed = task.generate(random.Random(0), 2).question  # the formal wording, as a person might paste it
    backbone = load_backbone(config.backbone)
    model = HybridModel.for_task(config, backbone.hidden_size, task)
    solver = Hybrid(model, backbone, task, config)
    example = solver.read(typed)
    assert example.wording == 1 and example.question.startswith("3 houses stand along a street")
    assert len(example.slot_spans) == 6 + 5 * len(example.data["clues"])
    [solution] = solver.solve([typed])
    assert solution.error is None and solution.verified in (True, False)  # the verifier could judge it


def test_a_task_whose_slots_need_spans_refuses_raw_text(solver):
    """Raw text has no slot spans: span pooling would answer from empty slots, silently wrong."""
    class NoParser(Sudoku):
        from_text = None

    solver.task = NoParser(4)
    assert solver.solve(["_ 2 _ 4 3 _ _ _ _ _ 4 _ _ _ _ 1"])[0].error.startswith("task 'sudoku' cannot")


def set_halting(solver: Hybrid, bias: float, weight_scale: float = 0.0):
    head = solver.model.reasoner.halt_head
    torch.nn.init.constant_(head.bias, bias)
    torch.nn.init.normal_(head.weight, std=weight_scale) if weight_scale else torch.nn.init.zeros_(head.weight)


def test_training_writes_a_pretrained_folder_of_ema_weights_that_solves(small_config):
    from hybrid.checkpoint import load_weights
    from hybrid import checkpoint

    config = small_config()
    train(config)
    solver = HybridModel.from_pretrained(config.train.output_dir)  # the run folder: loads final/
    ema = HybridModel(config, solver.backbone.hidden_size, 16, 4)
    assert load_weights(ema, checkpoint.checkpoints(config.train.output_dir)[-1], ema=True).startswith("ema")
    assert all(torch.equal(a, b) for a, b in zip(ema.state_dict().values(), solver.model.state_dict().values()))

    [s] = solver.solve(handwritten(1))
    assert len(s.answer.splitlines()) == 4 and set(s.answer.split()) <= set("1234")
    assert 1 <= s.steps <= config.reasoner.N_sup and 0.0 < s.confidence < 1.0
    assert s.verified in (True, False) and s.error is None


def test_save_pretrained_round_trip(solver, tmp_path):
    solver.model.save_pretrained(tmp_path / "saved")
    assert sorted(p.name for p in (tmp_path / "saved").iterdir()) == ["checksums.json", "config.yaml", "model.safetensors"]
    loaded = HybridModel.from_pretrained(tmp_path / "saved", "cpu")
    assert not loaded.model.training  # loaded to solve, or to run by hand: in eval mode
    assert all(torch.equal(a, b) for a, b in zip(solver.model.state_dict().values(), loaded.model.state_dict().values()))
    puzzles = handwritten(3)
    assert solver.solve(puzzles) == loaded.solve(puzzles)


def test_save_pretrained_replaces_a_pretrained_folder_and_nothing_else(solver, tmp_path):
    """It writes the whole folder anew: given a run folder (or any folder holding other files, or a
    file), it would have deleted the checkpoints and everything else there."""
    solver.save_pretrained(tmp_path / "saved")
    solver.save_pretrained(tmp_path / "saved")  # an earlier pretrained folder is replaced, as final/ is on resume
    run = tmp_path / "run"
    (run / "checkpoints" / "step_00000002").mkdir(parents=True)
    (run / "metrics.json").write_text("{}")
    with pytest.raises(FileExistsError, match=rf"{run} holds other files than a pretrained folder \(checkpoints, "
                                              r"metrics.json\).*a new folder"):
        solver.save_pretrained(run)
    assert (run / "checkpoints" / "step_00000002").is_dir() and (run / "metrics.json").exists()
    cut_short = tmp_path / "cut_short"  # a run stopped before its first checkpoint: its files are a pretrained folder's
    cut_short.mkdir()
    (cut_short / "config.yaml").write_text("mine")
    (cut_short / "splits.json").write_text("{}")
    with pytest.raises(FileExistsError, match=r"holds config.yaml, splits.json but no model.safetensors, so it is no pretrained folder"):
        solver.save_pretrained(cut_short)
    assert (cut_short / "config.yaml").read_text() == "mine"
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(FileExistsError, match="notes.txt is a file"):
        solver.model.save_pretrained(tmp_path / "notes.txt")
    assert (tmp_path / "notes.txt").read_text() == "mine"


def test_a_folder_under_the_home_folder_is_saved_and_loaded_there(solver, tmp_path, monkeypatch):
    """"~/models/x" is the home folder's, as in train.output_dir: saving made a folder named "~" in
    the current directory (which `rm -rf ~` would then clean up), and loading read that one."""
    (tmp_path / "home").mkdir()
    (tmp_path / "here").mkdir()
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path / "here")
    solver.save_pretrained("~/model")
    assert (tmp_path / "home" / "model" / "model.safetensors").exists() and not (tmp_path / "here" / "~").exists()
    assert Hybrid.from_pretrained("~/model", "cpu").config == solver.config


def test_damaged_pretrained_weights_are_named_not_loaded(solver, tmp_path):
    """final/ (what solve, eval and init_from read by default) carries its weights' checksum, as
    checkpoints do: a flipped byte is an error naming the file, not slightly wrong answers."""
    from hybrid.checkpoint import CheckpointError

    solver.save_pretrained(tmp_path / "saved")
    weights = tmp_path / "saved" / "model.safetensors"
    data = bytearray(weights.read_bytes())
    data[-10] ^= 0x40  # inside a tensor: the header still reads
    weights.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="model.safetensors is damaged"):
        HybridModel.from_pretrained(tmp_path / "saved", "cpu")
    (tmp_path / "in.txt").write_text(handwritten(1)[0] + "\n")
    with pytest.raises(SystemExit, match="model.safetensors is damaged"):
        solve_main([str(tmp_path / "saved"), "--input", str(tmp_path / "in.txt")])


def test_an_input_file_not_in_utf8_is_a_clear_error(tmp_path):
    (tmp_path / "in.txt").write_bytes("Sort: 5, 3, café\n".encode("latin-1"))  # read before any model is loaded
    with pytest.raises(SystemExit, match="cannot read .*in.txt: not UTF-8 text"):
        solve_main([str(tmp_path / "model"), "--input", str(tmp_path / "in.txt")])


@pytest.mark.parametrize("text", ["", "\n  \n\t\n", "```\n", "```text\n```\n", "```\n\n```\n"])
def test_an_input_without_puzzles_is_an_error_that_leaves_the_output_alone(tmp_path, text):
    """As eval --puzzles: an empty file (the wrong one, one still being written) is named before
    any model loads, not answered with nothing and exit status 0 over an earlier answers file. So is
    a code block's fences alone, which was "the puzzle could not be read" with no puzzle read."""
    (tmp_path / "in.txt").write_text(text)
    (tmp_path / "answers.jsonl").write_text('{"answer": "kept"}\n')
    with pytest.raises(SystemExit, match="in.txt holds no puzzles"):  # no model folder exists: checked first
        solve_main([str(tmp_path / "model"), "--input", str(tmp_path / "in.txt"),
                    "--output", str(tmp_path / "answers.jsonl")])
    assert (tmp_path / "answers.jsonl").read_text() == '{"answer": "kept"}\n'


def test_stdin_closed_or_a_terminal_is_said(tmp_path, monkeypatch, capsys):
    """Started with stdin closed (`<&-`), Python's sys.stdin is None: an error naming --input, not
    an AttributeError traceback. At a terminal the command says it waits for puzzles (as it does
    silently when piped) and how to end them."""
    import io

    monkeypatch.setattr("sys.stdin", None)
    with pytest.raises(SystemExit, match="stdin is closed: give the puzzles with --input FILE"):
        solve_main([str(tmp_path / "model")])

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    monkeypatch.setattr("sys.stdin", Terminal(""))  # Ctrl-D at once: nothing typed
    with pytest.raises(SystemExit, match="stdin holds no puzzles"):
        solve_main([str(tmp_path / "model")])
    assert "reading puzzles from the terminal, one per line; end with Ctrl-D" in capsys.readouterr().err
    monkeypatch.setattr("sys.stdin", io.StringIO(""))  # piped: no message in the output's way
    with pytest.raises(SystemExit, match="stdin holds no puzzles"):
        solve_main([str(tmp_path / "model")])
    assert "terminal" not in capsys.readouterr().err


def test_input_and_output_written_with_a_tilde_after_equals_mean_the_home_folder(solver, tmp_path, monkeypatch,
                                                                                capsys):
    """bash expands ~ in `--input ~/in.txt` but not in `--input=~/in.txt`: the command does, as
    from_pretrained does for the model folder, rather than look for a folder named ~."""
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.chdir(tmp_path / "..")
    solver.save_pretrained(tmp_path / "model")
    (tmp_path / "in.txt").write_text(handwritten(1)[0] + "\n")
    solve_main(["~/model", "--input=~/in.txt", "--output=~/answers.jsonl"])
    rows = [json.loads(line) for line in (tmp_path / "answers.jsonl").read_text().splitlines()]
    assert len(rows) == 1 and rows[0]["answer"] is not None


def test_piped_input_not_in_utf8_is_the_same_clear_error_as_such_a_file(tmp_path, monkeypatch):
    """Under the C.UTF-8 locale (containers') stdin decodes with surrogateescape: Latin-1 bytes
    passed as lone surrogates, which a raw-text task's records refused mid-solve in a traceback."""
    import io

    stdin = io.TextIOWrapper(io.BytesIO("What is a café?\n".encode("latin-1")), encoding="utf-8",
                             errors="surrogateescape")
    monkeypatch.setattr("sys.stdin", stdin)
    with pytest.raises(SystemExit, match="cannot read stdin: not UTF-8 text"):  # read before any model is loaded
        solve_main([str(tmp_path / "model")])


def test_views_on_a_family_without_them_are_a_clear_error(solver, tmp_path):
    """Only ARC makes views (turned, recoloured copies) to vote over; answering a Sudoku once
    when asked for 4 views would pass one answer off as a vote."""
    puzzles = handwritten(2)
    with pytest.raises(ValueError, match="task 'sudoku' has no views to vote over"):
        solver.solve(puzzles, views=4)
    assert solver.solve(puzzles, views=1) == solver.solve(puzzles)  # the default: one view, as before
    solver.save_pretrained(tmp_path / "model")
    (tmp_path / "in.txt").write_text(puzzles[0] + "\n")
    with pytest.raises(SystemExit, match="views=4: task 'sudoku' has no views"):
        solve_main([str(tmp_path / "model"), "--input", str(tmp_path / "in.txt"), "--views", "4"])
    (tmp_path / "task.json").write_text('{"train": [], "test": []}')  # ARC task files, to a Sudoku model
    with pytest.raises(SystemExit, match="task files are ARC's; this model was trained on task 'sudoku'"):
        solve_main([str(tmp_path / "model"), "--input", str(tmp_path / "task.json")])
    # JSON lines of puzzles named .json: the error says how to name them, and .jsonl solves them
    (tmp_path / "puzzles.json").write_text(json.dumps({"question": puzzles[0]}) + "\n")
    with pytest.raises(SystemExit, match="put JSON lines of puzzles in a .jsonl file"):
        solve_main([str(tmp_path / "model"), "--input", str(tmp_path / "puzzles.json")])
    (tmp_path / "puzzles.json").rename(tmp_path / "puzzles.jsonl")
    solve_main([str(tmp_path / "model"), "--input", str(tmp_path / "puzzles.jsonl")])


def test_solve_takes_a_list_not_one_text(solver):
    """A str is a sequence of characters: solve("...") would answer each character as a puzzle."""
    puzzle = handwritten(1)[0]
    with pytest.raises(TypeError, match=r"pass solve\(\[puzzle\]\)"):
        solver.solve(puzzle)
    assert len(solver.solve([puzzle])) == 1


@pytest.mark.parametrize("puzzles", [None, {"question": "1 _ _ 4"}, 7])
def test_solve_names_what_it_takes_when_given_no_list(solver, puzzles):
    """None or one JSON-like dict (iterated, a dict is its keys: "question" was solved as a puzzle)."""
    with pytest.raises(TypeError, match=r"solve takes a list of puzzles \(texts or Examples\)"):
        solver.solve(puzzles)


@pytest.mark.parametrize("option, error", [({"N_sup": "3"}, TypeError), ({"N_sup": 2.5}, TypeError),
                                           ({"batch_size": None}, TypeError), ({"views": "2"}, TypeError),
                                           ({"N_sup": 0}, ValueError), ({"batch_size": -1}, ValueError)])
def test_a_count_that_is_no_whole_number_from_one_up_is_named(solver, option, error):
    """Each named, with its value: "'<' not supported between 'str' and 'int'" named neither."""
    [(name, value)] = option.items()
    with pytest.raises(error, match=rf"^{name}={value!r} must be a whole number >= 1"):
        solver.solve(handwritten(1), **option)


@pytest.mark.parametrize("threshold", ["0.5", [0.5]])
def test_a_halt_threshold_that_is_no_number_is_named(solver, threshold):
    with pytest.raises(TypeError, match=re.escape(f"halt_threshold={threshold!r} must be a probability")):
        solver.solve(handwritten(1), halt_threshold=threshold)


def test_solve_takes_any_iterable_of_puzzles(solver):
    puzzles = handwritten(2)
    assert solver.solve(p for p in puzzles) == solver.solve(puzzles)


def test_a_puzzle_that_is_no_text_is_named_and_the_others_are_solved(solver):
    puzzle = handwritten(1)[0]
    solutions = solver.solve([{"question": puzzle}, None, puzzle])
    assert "a dict: pass its question text" in solutions[0].error
    assert "a puzzle is its text (a str) or an Example, not a NoneType" in solutions[1].error
    assert solutions[2].error is None and solutions[2].answer is not None


def test_an_example_that_does_not_fit_the_model_is_that_puzzles_error(solver):
    """An Example is used as given: one of another size (or family) failed the whole call deep in
    torch, and one without slot_spans was answered from slots that read nothing of the question
    (a typed puzzle without a parser is refused for that reason)."""
    rng = random.Random(0)
    other_size, fits = Sudoku(6).generate(rng, 0), Sudoku(4).generate(rng, 0)
    no_spans = dataclasses.replace(fits, slot_spans=None)
    no_labels = dataclasses.replace(fits, labels=None)
    solutions = solver.solve([other_size, no_spans, no_labels, fits])
    assert "36 labels, but the family declares num_slots=16" in solutions[0].error
    assert "has no slot_spans" in solutions[1].error
    assert "0 labels" in solutions[2].error
    assert solutions[3].error is None and solutions[3].verified is not None


def test_solve_answers_in_eval_mode_and_leaves_the_mode_as_it_was(small_config):
    """Dropout in training mode (a notebook that trained the module and then solved) made answers
    random from call to call. Nor does wrapping a module to solve with change its mode: a module a
    notebook was training was put in eval mode for good, its dropout off for the rest of its training."""
    torch.manual_seed(0)
    config, task = small_config("adapter.dropout=0.9"), Sudoku(4)
    backbone = load_backbone(config.backbone)
    training = HybridModel(config, backbone.hidden_size, task.num_slots, len(task.vocab)).train()
    solver = Hybrid(training, backbone, task, config)
    assert training.training
    puzzles = handwritten(8)
    answered = solver.solve(puzzles, fixed_steps=True)
    assert solver.model.training
    solver.model.eval()
    assert solver.solve(puzzles, fixed_steps=True) == answered
    assert not solver.model.training


def test_a_solver_prints_what_it_is(solver):
    assert repr(solver) == f"Hybrid(task=sudoku, backbone={solver.config.backbone.path}, device=cpu, N_sup=2)"


@pytest.mark.parametrize("threshold", [float("nan"), -0.1, 90])
def test_a_halt_threshold_that_is_no_probability_is_an_error(solver, threshold):
    """As reasoner.halt_threshold is: nan would stop every puzzle after its first step (no confidence
    is <= nan), 90 (a percentage) would never stop one, and neither would say so."""
    with pytest.raises(ValueError, match=rf"halt_threshold={threshold} must be a probability, in \[0, 1\]"):
        solver.solve(handwritten(1), halt_threshold=threshold)


def untrained_qa_model(small_config, tmp_path, fields=("question", "answer")):
    """(config, task, backbone, model, data file) of an untrained qa hybrid on 4 "What is i + 1?" pairs,
    in data rows of those `fields`."""
    from eval.tasks import make_task

    data = tmp_path / "pairs.jsonl"
    data.write_text("".join(json.dumps(dict(zip(fields, (f"What is {i} + 1?", str(i + 1))))) + "\n"
                            for i in range(4)))
    config = small_config("task=qa", f"task.path={data}", "task.max_answer_chars=4",
                          f"task.question_field={fields[0]}", f"task.answer_field={fields[1]}")
    task = make_task(config.task)
    backbone = load_backbone(config.backbone)
    model = HybridModel.for_task(config, backbone.hidden_size, task)
    return config, task, backbone, model, data


def test_an_empty_question_is_an_error_for_raw_text_tasks(small_config, tmp_path):
    """qa (no parser) takes the text as it is; an empty one, which training never accepts, gets
    `error` instead of an answer made up from nothing."""
    config, task, backbone, model, _ = untrained_qa_model(small_config, tmp_path)
    empty, blank, asked = Hybrid(model, backbone, task, config).solve(["", "  \n ", "What is 2 + 1?"])
    assert empty.answer is None and empty.error == "the question is empty: give its text"
    assert blank.answer is None and blank.error == "the question is empty: give its text"
    assert asked.error is None and asked.answer is not None


def test_early_exit_stops_when_the_halting_head_says_so(solver):
    puzzles, N_sup = handwritten(5), solver.config.reasoner.N_sup
    set_halting(solver, bias=20.0)  # "my answer is right" from the first step
    early, fixed = solver.solve(puzzles), solver.solve(puzzles, fixed_steps=True)
    one_step = solver.solve(puzzles, fixed_steps=True, N_sup=1)
    assert [s.steps for s in early] == [1] * 5 and [s.steps for s in fixed] == [N_sup] * 5
    assert [s.answer for s in early] == [s.answer for s in one_step]
    assert all(s.confidence > 0.99 for s in early)
    set_halting(solver, bias=-20.0)  # never confident: every step runs
    assert [s.steps for s in solver.solve(puzzles)] == [N_sup] * 5


def test_a_solution_carries_the_slots_its_answer_was_decoded_from(solver, tmp_path, capsys):
    """Evaluation counts an answer exact by its slots (eval.runner.exact), not its text; the bench
    scripts score solve's answers that way too, from these ids. The solve command leaves them out."""
    from eval.runner import exact

    puzzles = [solver.task.generate(random.Random(i), 0) for i in range(3)]
    for s, p in zip(solver.solve(puzzles, fixed_steps=True), puzzles):
        assert len(s.ids) == solver.task.num_slots and solver.task.decode(p, s.ids) == s.answer
        assert bool(exact(torch.tensor(s.ids), torch.tensor(p.labels))) == (s.answer == p.answer)  # Sudoku: one text
    solver.save_pretrained(tmp_path / "model")
    (tmp_path / "in.txt").write_text(handwritten(1)[0] + "\n")
    solve_main([str(tmp_path / "model"), "--input", str(tmp_path / "in.txt")])
    assert "ids" not in json.loads(capsys.readouterr().out.splitlines()[0])


def test_a_halt_threshold_of_one_never_stops_a_puzzle_early(solver):
    """A puzzle stops once sigmoid(q_halt) exceeds the threshold, as evaluation counts halting
    (eval.runner.halting_steps): a head so sure that sigmoid rounds to exactly 1.0 does not exceed 1."""
    set_halting(solver, bias=20.0)
    solutions = solver.solve(handwritten(3), halt_threshold=1.0)
    assert [s.confidence for s in solutions] == [1.0] * 3
    assert [s.steps for s in solutions] == [solver.config.reasoner.N_sup] * 3


def test_halted_puzzles_leave_the_batch_without_changing_the_others(solver):
    puzzles = handwritten(12)
    solver.config.reasoner.N_sup = 4
    set_halting(solver, bias=0.0, weight_scale=3.0)
    first = torch.tensor([s.confidence for s in solver.solve(puzzles, fixed_steps=True, N_sup=1)]).logit()
    middle = first.sort().values[5:7].mean()
    solver.model.reasoner.halt_head.bias.data -= middle  # half the puzzles are over 0.5 sure after step 1
    together = solver.solve(puzzles, batch_size=12, halt_threshold=0.5)
    assert len({s.steps for s in together}) > 1
    alone = [solver.solve([p], halt_threshold=0.5)[0] for p in puzzles]
    assert [(s.answer, s.steps) for s in together] == [(s.answer, s.steps) for s in alone]
    assert all(abs(a.confidence - b.confidence) < 1e-5 for a, b in zip(together, alone))


def test_solve_command_reads_lines_and_jsonl_and_reports_bad_puzzles(solver, tmp_path, capsys):
    solver.save_pretrained(tmp_path / "model")
    good = handwritten(3)
    grid = "\n".join(good[2][8 * r:8 * r + 7] for r in range(4))  # a puzzle typed as 4 rows: one block
    (tmp_path / "in.txt").write_text(f"\ufeff{good[0]}\n\n1 2 3\n" + json.dumps({"id": "x7", "question": good[1]})
                                     + f"\n{grid}\n" + '{"id": "q9"}\n')  # a byte-order mark first, as Windows editors write
    solve_main([str(tmp_path / "model"), "--input", str(tmp_path / "in.txt"), "--fixed-steps"])
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert len(rows) == 5
    # its own fields, and why it was not solved; "answer": null on every line not solved, as the docs say,
    # so reading row["answer"] needs no case for lines that were not even read
    assert rows[4] == {"id": "q9", "answer": None,
                       "error": 'line 9 has no "question" (its fields: "id"): put the puzzle\'s text in a "question" '
                                'field, as {"question": "..."}'}
    assert rows[3]["question"] == grid and rows[3]["answer"] is not None
    assert rows[0]["question"] == good[0] and rows[0]["steps"] == solver.config.reasoner.N_sup
    assert set(rows[0]) >= {"answer", "steps", "confidence", "verified"}
    assert rows[1]["answer"] is None and "expected 16 cells" in rows[1]["error"]
    assert set(rows[1]) == {"question", "answer", "error"}  # no steps or confidence for a puzzle not read
    assert rows[2]["id"] == "x7" and len(rows[2]["answer"].splitlines()) == 4


def test_solve_exits_1_when_no_puzzle_could_be_read_and_counts_the_unread(solver, tmp_path, capsys):
    """Every puzzle unreadable used to exit 0, which a script reads as success. The lines are still
    written (each says why); some unread among solved ones is exit 0 with a count on stderr. An
    input field named "error" is the user's, not a failure."""
    solver.save_pretrained(tmp_path / "model")
    (tmp_path / "bad.txt").write_text("1 2 3\n" + '{"id": "q2"}\n')
    with pytest.raises(SystemExit, match=r"none of the 2 puzzles could be read"):
        solve_main([str(tmp_path / "model"), "--input", str(tmp_path / "bad.txt"), "--output", str(tmp_path / "out")])
    rows = [json.loads(line) for line in (tmp_path / "out").read_text().splitlines()]
    assert [row["answer"] for row in rows] == [None, None] and all(row["error"] for row in rows)
    (tmp_path / "one.txt").write_text("1 2 3\n")
    with pytest.raises(SystemExit, match=r"the puzzle could not be read; its output line says why"):
        solve_main([str(tmp_path / "model"), "--input", str(tmp_path / "one.txt"), "--output", str(tmp_path / "out")])

    good = handwritten(2)
    (tmp_path / "some.txt").write_text(f"{good[0]}\n1 2 3\n" + json.dumps({"question": good[1], "error": "my note"}) + "\n")
    solve_main([str(tmp_path / "model"), "--input", str(tmp_path / "some.txt"), "--fixed-steps"])
    captured = capsys.readouterr()
    assert len(captured.out.splitlines()) == 3
    assert json.loads(captured.out.splitlines()[2])["error"] == "my note"  # kept, and (truthy) not counted as unread
    assert "1 of 3 puzzles could not be read" in captured.err


def test_solve_piped_into_a_reader_that_stops_exits_without_a_traceback(solver, tmp_path):
    """`python -m hybrid.solve RUN --input big.txt | head`: head closes the pipe after its lines,
    and the next write raised BrokenPipeError, shown as a traceback."""
    import subprocess
    import sys

    solver.save_pretrained(tmp_path / "model")
    (tmp_path / "in.txt").write_text("\n".join(handwritten(3)) + "\n")
    proc = subprocess.Popen([sys.executable, "-m", "hybrid.solve", str(tmp_path / "model"), "--input",
                             str(tmp_path / "in.txt"), "--device", "cpu"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    proc.stdout.close()  # the reader is gone before the first line
    err = proc.communicate(timeout=300)[1]
    assert proc.returncode == 1 and "Traceback" not in err and "BrokenPipeError" not in err


def test_solve_command_passes_its_step_options_on(solver, tmp_path, capsys, monkeypatch):
    """--fixed-steps and --steps reach the solver: all 3 steps run, one more than trained."""
    solver.save_pretrained(tmp_path / "model")
    (tmp_path / "in.txt").write_text(handwritten(1)[0] + "\n")
    asked, real = {}, Hybrid.solve

    def spy(self, puzzles, **kwargs):
        asked.update(kwargs)
        return real(self, puzzles, **kwargs)

    monkeypatch.setattr(Hybrid, "solve", spy)
    solve_main([str(tmp_path / "model"), "--input", str(tmp_path / "in.txt"), "--fixed-steps", "--steps", "3"])
    assert asked["fixed_steps"] is True and asked["N_sup"] == 3 != solver.config.reasoner.N_sup
    assert json.loads(capsys.readouterr().out)["steps"] == 3


@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")  # the SIGTERM dropped in a callback
def test_ctrl_c_while_solving_keeps_the_answers_found_and_exits_130(solver, tmp_path, capsys, monkeypatch):
    """A file of many puzzles takes minutes: Ctrl-C midway was a traceback, exit 1 and no output,
    every answer lost. The answers before it are written, in order, with unread lines among them;
    Ctrl-C before the first answer leaves an earlier --output as it was."""
    solver.save_pretrained(tmp_path / "model")
    good = handwritten(5)
    (tmp_path / "in.txt").write_text("\n".join([good[0], "1 2 3", *good[1:]]) + "\n")
    batches, real = [], Hybrid.solve

    def stopped_in_third_batch(self, puzzles, **kwargs):
        batches.append(len(puzzles))
        if len(batches) == 3:
            raise KeyboardInterrupt
        return real(self, puzzles, **kwargs)

    monkeypatch.setattr(Hybrid, "solve", stopped_in_third_batch)
    out = tmp_path / "out.jsonl"
    with pytest.raises(SystemExit) as stopped:
        solve_main([str(tmp_path / "model"), "--input", str(tmp_path / "in.txt"), "--output", str(out),
                    "--batch-size", "2"])
    assert stopped.value.code == 130 and batches == [2, 2, 2]
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [row["question"] for row in rows] == [good[0], "1 2 3", *good[1:3]]
    assert rows[1]["error"] and all(row["answer"] for row in rows[:1] + rows[2:])
    assert "Ctrl-C: stopped; the answers to the first 4 of 6 puzzles are in" in capsys.readouterr().err

    def stopped_after_the_last_batch(self, puzzles, **kwargs):  # a signal there stops nothing: a complete run
        solved = real(self, puzzles, **kwargs)
        batches.append(len(puzzles))
        if len(batches) == 2:  # a SIGTERM in a weakref callback: dropped there, raised when the batches' block ends
            class Thing:
                pass

            thing = Thing()
            watch = weakref.ref(thing, lambda _: signal.getsignal(signal.SIGTERM)(signal.SIGTERM, None))  # noqa: F841
            del thing
        return solved

    batches.clear()
    monkeypatch.setattr(Hybrid, "solve", stopped_after_the_last_batch)
    solve_main([str(tmp_path / "model"), "--input", str(tmp_path / "in.txt"), "--output", str(out),
                "--batch-size", "3"])
    assert len(out.read_text().splitlines()) == 6

    out.write_text("\n".join(out.read_text().splitlines()[:4]) + "\n")
    monkeypatch.setattr(Hybrid, "solve", lambda self, puzzles, **kwargs: (_ for _ in ()).throw(KeyboardInterrupt))
    with pytest.raises(SystemExit) as stopped:
        solve_main([str(tmp_path / "model"), "--input", str(tmp_path / "in.txt"), "--output", str(out)])
    assert stopped.value.code == 130 and len(out.read_text().splitlines()) == 4  # the earlier answers, kept
    assert "stopped before any puzzle was answered; nothing written" in capsys.readouterr().err


def test_truncation_while_solving_in_batches_is_said_once_with_the_totals(small_config, tmp_path):
    """The command solves a batch at a time (so Ctrl-C keeps the answers found): each batch warned
    of its own cut, a file of many puzzles gave a screen of warnings and none told the totals."""
    torch.manual_seed(0)
    config = small_config("backbone.max_length=8")  # shorter than any puzzle's text: each one is cut
    backbone = load_backbone(config.backbone)
    Hybrid(HybridModel.for_task(config, backbone.hidden_size, Sudoku(4)), backbone, Sudoku(4),
           config).save_pretrained(tmp_path / "model")
    (tmp_path / "in.txt").write_text("\n".join(handwritten(6)) + "\n")
    with pytest.warns(UserWarning) as seen:
        solve_main([str(tmp_path / "model"), "--input", str(tmp_path / "in.txt"), "--output",
                    str(tmp_path / "out.jsonl"), "--batch-size", "2"])
    said = [str(w.message) for w in seen if "truncated" in str(w.message)]
    assert len(said) == 1 and " over 6 texts" in said[0], said
    assert len((tmp_path / "out.jsonl").read_text().splitlines()) == 6


def test_a_model_whose_backbone_is_elsewhere_here_loads_with_it_named(small_config, tiny_backbone, tmp_path, capsys,
                                                                        recwarn):
    """A model folder from another machine, or a backbone folder moved since training: the error
    says how to name where the backbone is; named, it loads as the same backbone (no transfer
    warning) and answers as before, and saved again it names the new place."""
    folder, moved = tmp_path / "bert", tmp_path / "moved"
    shutil.copytree(tiny_backbone("bert"), folder)
    train(small_config(f"backbone.path={folder}"))
    run, puzzles = tmp_path / "run", handwritten(4)
    before = [s.answer for s in Hybrid.from_pretrained(run).solve(puzzles)]
    folder.rename(moved)
    with pytest.raises(ConfigError, match=r"no such folder.*\n.*config.yaml names that backbone; if it is elsewhere "
                                          r"here: python -m hybrid.solve ... --backbone PATH"):
        Hybrid.from_pretrained(run)
    recwarn.clear()
    solver = HybridModel.from_pretrained(run, backbone=str(moved))
    assert not [w for w in recwarn if "other backbone states" in str(w.message)]  # the same files
    assert [s.answer for s in solver.solve(puzzles)] == before
    solver.save_pretrained(tmp_path / "again")
    assert from_yaml(tmp_path / "again" / "config.yaml").backbone.path == str(moved)

    (tmp_path / "in.txt").write_text("\n".join(puzzles) + "\n")
    with pytest.raises(SystemExit, match="--backbone PATH"):
        solve_main([str(run), "--input", str(tmp_path / "in.txt")])
    capsys.readouterr()  # training's table
    solve_main([str(run), "--input", str(tmp_path / "in.txt"), "--backbone", str(moved)])
    assert [json.loads(line)["answer"] for line in capsys.readouterr().out.splitlines()] == before


@pytest.mark.parametrize("args, message", [
    (["--steps", "0"], "--steps: '0' is not a whole number >= 1"),
    (["--batch-size", "-1"], "--batch-size: '-1' is not a whole number >= 1"),
    (["--views", "0"], "--views: '0' is not a whole number >= 1"),
    (["--output", "missing/answers.jsonl"], "its folder does not exist"),
    (["--output", "."], "cannot write .: it is a folder; name a file in it"),  # found only after solving, before
    (["--input", "task.json", "--output", "a.json", "--submission", "./a.json"],  # the answers would be replaced
     "--output and --submission both name ./a.json: give each its own file"),
    (["--output", "./in.txt"], "--output ./in.txt is the --input file"),  # the puzzles were replaced by answers
    (["--input", "task.json", "--submission", "task.json"], "--submission task.json is the --input file"),
    (["--output", ""], "argument --output: is empty (an unset variable?)"),  # said "could not write ."
    (["--input", ""], "argument --input: is empty (an unset variable?)"),  # said " holds no .json task files"
    (["--submission", ""], "argument --submission: is empty (an unset variable?)"),
    (["--input", "arc", "--submission", "arc/submission.json"],  # an earlier run's, skipped as answers, not puzzles
     "--submission arc/submission.json is a .json file in --input arc: writing there would replace that file"),
])
def test_solve_command_refuses_bad_options_before_solving(tmp_path, capsys, monkeypatch, args, message):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "in.txt").write_text("_ 1 _ _\n")
    (tmp_path / "arc").mkdir()
    (tmp_path / "arc" / "submission.json").write_text('{"t": [{"attempt_1": [[0]], "attempt_2": [[0]]}]}')
    with pytest.raises(SystemExit) as exit_:  # no model folder exists: the options are checked first
        solve_main([str(tmp_path / "no-model"), "--input", "in.txt", *args])
    assert message in str(exit_.value.code) + capsys.readouterr().err


def test_solve_refuses_an_empty_checkpoint_not_reading_the_folder_here(tmp_path, monkeypatch, capsys):
    """`hybrid-solve "$MODEL" ...` with MODEL unset read the folder here as the model (a run's folder: its weights)."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "in.txt").write_text("_ 1 _ _\n")
    with pytest.raises(SystemExit) as exit_:
        solve_main(["", "--input", "in.txt"])
    assert exit_.value.code == 2 and "argument CHECKPOINT: is empty (an unset variable?)" in capsys.readouterr().err


def test_an_old_damaged_or_missing_config_is_a_clear_error(solver, tmp_path, capsys):
    """from_pretrained and the solve command name the file, as `python -m eval` does, not a traceback."""
    from hybrid.checkpoint import CheckpointError
    from hybrid.config import ConfigError

    folder = solver.save_pretrained(tmp_path / "model")
    config = (folder / "config.yaml").read_text()
    (folder / "config.yaml").write_text(config.replace("reasoner:\n", "reasoner:\n  gone: 1\n"))
    with pytest.raises(ConfigError, match="does not match this version's config schema"):
        Hybrid.from_pretrained(folder, "cpu")
    N_sup = solver.config.reasoner.N_sup
    for old, new, message in ((f"N_sup: {N_sup}", "N_sup: 0", r"reasoner.n, T and N_sup must be >= 1"),
                              ("mixer: mlp", "mixer: foo", r"reasoner.mixer='foo': choose mlp"),
                              ("kind: auto", "kind: foo", r"adapter.kind='foo': choose auto")):
        assert old in config  # a value edited by hand that the schema's types allow but nothing can run with
        (folder / "config.yaml").write_text(config.replace(old, new))
        with pytest.raises(ConfigError, match=rf"config.yaml: {message}"):
            Hybrid.from_pretrained(folder, "cpu")
    (folder / "config.yaml").write_text(config[:config.index("revision:") + 3])  # a copy cut part-way, in a key
    with pytest.raises(ConfigError, match="config.yaml is damaged, not readable YAML"):
        Hybrid.from_pretrained(folder, "cpu")
    (folder / "config.yaml").write_bytes(b"\xa9\x00\xff" + config.encode())  # bytes that are no text: the
    with pytest.raises(ConfigError, match="config.yaml is damaged, not readable YAML"):  # schema was blamed
        Hybrid.from_pretrained(folder, "cpu")
    (folder / "config.yaml").write_text("- 1\n")  # YAML, but a list, not a saved config
    with pytest.raises(ConfigError, match="config.yaml: no task section naming the task"):
        Hybrid.from_pretrained(folder, "cpu")
    (folder / "config.yaml").write_text(config[:config.index("task:") + 10])  # in "name:"
    (tmp_path / "in.txt").write_text(handwritten(1)[0] + "\n")
    with pytest.raises(SystemExit, match="config.yaml: no task section naming the task: the file is cut short"):
        solve_main([str(folder), "--input", str(tmp_path / "in.txt")])
    step = tmp_path / "run" / "checkpoints" / "step_00000002"  # a checkpoint that lost its config.yaml
    step.mkdir(parents=True)
    (step / "model.safetensors").write_bytes((folder / "model.safetensors").read_bytes())
    with pytest.raises(CheckpointError, match="no config.yaml in"):
        Hybrid.from_pretrained(tmp_path / "run", "cpu")


def test_weights_without_their_config_say_where_to_find_one(tmp_path):
    from eval.__main__ import saved_config
    from hybrid.checkpoint import CheckpointError
    from hybrid.inference import read_config

    with pytest.raises(CheckpointError, match=r"no config.yaml in .*: cannot tell which model to build; put the "
                                              r"config.yaml .* \(each checkpoint .* holds a copy\)"):
        read_config(tmp_path / "config.yaml")
    with pytest.raises(CheckpointError, match=rf"no config.yaml in {tmp_path / 'final'} or {tmp_path}: .*; put the "):
        saved_config(tmp_path, tmp_path / "final")


def test_a_qa_model_solves_without_its_data_file(small_config, tmp_path, capsys):
    """A qa model's config names its data file, but answering new questions needs only the
    weights: the file may be gone (a model shared without its training data)."""
    from hybrid.inference import save_pretrained

    config, _, _, model, data = untrained_qa_model(small_config, tmp_path)
    save_pretrained(model, config, tmp_path / "model")
    data.unlink()
    (tmp_path / "in.txt").write_text("What is 2 + 1?\n")
    solve_main([str(tmp_path / "model"), "--input", str(tmp_path / "in.txt")])
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert len(rows) == 1 and "error" not in rows[0] and isinstance(rows[0]["answer"], str)


def test_solve_names_a_device_this_machine_lacks(solver, tmp_path):
    solver.save_pretrained(tmp_path / "model")
    (tmp_path / "in.txt").write_text(handwritten(1)[0] + "\n")
    for device, message in (("cuda:99", "device 'cuda:99' is not available"), ("cdua", "unknown device 'cdua'"),
                            ("meta", "device 'meta' holds no values")):
        with pytest.raises(SystemExit, match=message):
            solve_main([str(tmp_path / "model"), "--input", str(tmp_path / "in.txt"), "--device", device])


def test_a_device_kind_this_build_lacks_is_a_config_error(monkeypatch):
    """mps, xpu...: torch names them, but this build or machine may have none: said before loading."""
    from hybrid.inference import device_for

    def empty(*args, device=None, **kwargs):
        if torch.device(device).type == "mps":
            raise RuntimeError("PyTorch is not linked with support for mps devices")
        return real(*args, device=device, **kwargs)

    real = torch.empty
    monkeypatch.setattr(torch, "empty", empty)
    with pytest.raises(ConfigError, match=r"device 'mps' is not available: this torch build or machine has no mps device"):
        device_for("mps")
    assert device_for("cpu") == torch.device("cpu")


def test_a_run_resumed_past_its_final_folder_loads_its_newest_checkpoint(tmp_path):
    """final/ is written with metrics.json when a run ends; a run resumed past that end and then
    stopped (SIGTERM, crash) keeps the old final/ beside newer checkpoints, which must win."""
    from hybrid.checkpoint import CheckpointError
    from hybrid.inference import locate

    run = tmp_path / "run"
    for folder in (run / "final", run / "checkpoints" / "step_00000006", run / "checkpoints" / "step_00000010"):
        folder.mkdir(parents=True)
        (folder / "config.yaml").write_text("")
        (folder / "model.safetensors").write_text("")
    assert locate(run) == run / "final"  # no metrics.json: nothing says final/ is behind
    (run / "metrics.json").write_text(json.dumps({"batches": 10}))
    assert locate(run) == run / "final"  # a clean end: final/ is the newest checkpoint's EMA
    (run / "metrics.json").write_text(json.dumps({"batches": 6}))
    with pytest.warns(UserWarning, match="batch 6, but the run went on to step_00000010"):
        assert locate(run) == run / "checkpoints" / "step_00000010"
    (run / "final" / "model.safetensors").unlink()  # final/ is written whole: its weights were lost since
    with pytest.warns(UserWarning, match="final has no model.safetensors: using step_00000010's weights instead"):
        assert locate(run) == run / "checkpoints" / "step_00000010"
    with pytest.raises(CheckpointError, match=rf"checkpoints is a run's folder of checkpoints: give the run, "
                                              rf"{re.escape(str(run))}, or one checkpoint in it \(step_00000010 is"):
        locate(run / "checkpoints")  # one level too deep: it said "neither a pretrained folder nor a training run"


def one_per_line(plain: str) -> list[tuple[int, str]]:
    """A splitter for read_items, as split_typed_lines splits one-line puzzles: (line, puzzle) pairs."""
    return [(n, line) for n, line in enumerate(plain.splitlines(), 1) if line.strip()]


def test_solve_input_keeps_the_order_of_plain_and_json_puzzles_and_names_the_bad_line():
    """Answers come out in the order the puzzles went in, plain lines and JSON items alike, so the
    n-th output line answers the n-th puzzle; a bad JSON line's error names its line (counted from
    1, as an editor shows it), and a "question" that is no string is an error, not a crash later."""
    from hybrid.solve import read_items

    text = 'first\n{"question": "second", "id": 7}\nthird\n{not json\n{"question": 5}\n'
    items = read_items(text, one_per_line)
    assert [item.fields["question"] for item in items] == ["first", "second", "third", "{not json", 5]
    assert [item.puzzle for item in items] == ["first", "second", "third", None, None]
    assert items[1].fields["id"] == 7 and all(item.error is None for item in items[:3])
    assert items[3].error.startswith("line 4 is not valid JSON")
    assert items[4].error == ('line 5\'s "question" is a number, not text: give the puzzle\'s text, as '
                              '{"question": "..."}')
    assert [item.line for item in items[:3]] == [1, 2, 3]  # a plain line's too, for an error found in solving
    task = read_items('{"train": [{"input": [[1]], "output": [[2]]}], "test": [{"input": [[1]]}]}', str.splitlines)
    assert task[0].error == ('line 1 has no "question" string; it holds an ARC task ("train", "test"): save it as a '
                             '.json file and give that as --input')


def test_solve_reads_a_json_string_line_as_its_question_as_eval_does():
    """python -m eval --puzzles file.jsonl takes a JSON string per line as well as {"question": ...};
    solve read such a line as plain text, quotes and escapes included, so a sorting request failed
    on its closing quote and a maze given as one string (its rows joined by \\n) was one bad row."""
    from hybrid.solve import read_items

    maze = "# # #\n# S #\n# G #\n# # #"
    text = json.dumps("Sort: 3, 1, 2") + "\n" + json.dumps(maze) + '\n"not closed\n'
    items = read_items(text, one_per_line)
    assert [item.puzzle for item in items] == ["Sort: 3, 1, 2", maze, '"not closed']  # the last: plain text
    assert [item.fields for item in items] == [{"question": "Sort: 3, 1, 2"}, {"question": maze},
                                               {"question": '"not closed'}]


def test_solve_reads_a_json_line_after_a_byte_order_mark_inside_the_input_as_json():
    """`cat a.jsonl b.jsonl` where b.jsonl was saved with a byte-order mark puts the mark at the
    start of a line inside the input: that line was read as a typed puzzle, JSON text and all, so
    a Sudoku was answered from the digits in it and its "id" did not come back."""
    from hybrid.solve import read_items

    first = json.dumps({"id": "a", "question": "1 2 _ 4"})
    second = json.dumps({"id": "b", "question": "4 3 2 _"})
    items = read_items(f"{first}\n\ufeff{second}\n\ufeffSort: 3, 1, 2\n", one_per_line)
    assert [item.fields for item in items] == [{"id": "a", "question": "1 2 _ 4"}, {"id": "b", "question": "4 3 2 _"},
                                               {"question": "Sort: 3, 1, 2"}]
    assert [item.puzzle for item in items] == ["1 2 _ 4", "4 3 2 _", "Sort: 3, 1, 2"]
    assert [item.line for item in items] == [1, 2, 3]


def test_solve_reads_a_json_line_whose_question_holds_a_unicode_line_separator():
    """json.dumps(..., ensure_ascii=False) writes U+2028 and U+0085 as they are; splitlines cut the line there,
    so a reasoning-gym question given as JSON lines was "not valid JSON" plus a stray puzzle on a line the file
    lacks, and every later line was numbered one too high."""
    from hybrid.solve import read_items

    text = json.dumps({"question": "a\u2028b", "id": 1}, ensure_ascii=False) + "\r\nplain\n{bad\n"
    items = read_items(text, one_per_line)
    assert [item.puzzle for item in items] == ["a\u2028b", "plain", None]
    assert [item.line for item in items[:2]] == [1, 2] and items[2].error.startswith("line 3 is not valid JSON")


def test_solve_reads_lines_ended_by_carriage_returns_alone():
    """Old-Mac line ends ("\\r" alone), which splitlines read: split at line feeds alone, the file was one JSON line."""
    from hybrid.solve import read_items

    items = read_items(json.dumps({"question": "a"}) + "\r" + json.dumps("b") + "\rplain\r", one_per_line)
    assert [(item.line, item.puzzle) for item in items] == [(1, "a"), (2, "b"), (3, "plain")]


def test_solve_keeps_every_field_of_a_json_line_whatever_its_name_and_reads_stdin_with_a_bom(solver, tmp_path,
                                                                                             capsys, monkeypatch):
    """A user's own fields are copied to the output, even named like the solver's inner ones
    ("example", "error"): the question is what is solved. Piped text with a byte-order mark reads
    as the same file given with --input."""
    import io

    solver.save_pretrained(tmp_path / "model")
    good = handwritten(2)
    lines = [json.dumps({"question": good[0], "id": 2, "example": "my note"}),
             json.dumps({"question": good[1], "id": 3, "error": 0})]
    monkeypatch.setattr("sys.stdin", io.StringIO("\ufeff" + "\n".join(lines) + "\n"))
    solve_main([str(tmp_path / "model")])
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [row["id"] for row in rows] == [2, 3]
    assert rows[0]["example"] == "my note" and rows[1]["error"] == 0  # not read as a puzzle or as a failure
    assert all(row["answer"] is not None and row["steps"] >= 1 for row in rows)


def test_a_submission_holds_the_votes_top_two_answers_for_every_test_input_read():
    """ARC Prize scores two attempts per test input: the vote's two best answers; one answer given
    twice when the views agreed; [[0]] for an answer that is no grid; an unreadable task file
    (no test_index) adds nothing."""
    from eval.tasks.arc import parse_grid
    from hybrid.solve import submission

    items = [{"task": "a", "test_index": 0, "answer": "1 2", "attempts": ["1 2", "3 4", "5 6"]},
             {"task": "a", "test_index": 1, "answer": "7"},
             {"task": "b", "test_index": 0, "answer": None, "error": "cannot read"},
             {"task": "c", "error": "not an ARC task"},
             {"task": "d", "test_index": 0, "answer": "seven", "attempts": ["seven", "7"]}]
    assert submission(items) == {
        "a": [{"attempt_1": parse_grid("1 2"), "attempt_2": parse_grid("3 4")},
              {"attempt_1": parse_grid("7"), "attempt_2": parse_grid("7")}],
        "b": [{"attempt_1": [[0]], "attempt_2": [[0]]}],
        "d": [{"attempt_1": [[0]], "attempt_2": parse_grid("7")}]}


def test_counts_on_the_command_line_must_be_at_least_one():
    """--steps 0 or --batch-size 0 would solve nothing or divide by zero minutes later."""
    import argparse

    from hybrid.solve import positive

    assert positive("1") == 1 and positive("16") == 16
    for bad in ("0", "-2", "two", "1.5"):
        with pytest.raises(argparse.ArgumentTypeError, match="is not a whole number >= 1"):
            positive(bad)


def test_a_qa_line_given_with_its_answer_is_verified_against_it_and_keeps_it(small_config, tmp_path, capsys):
    """A qa data line piped to solve, {"question", "answer"}: the model's answer replaced the one
    given, which was lost and never checked. The given one is the reference (a question's answer
    cannot be worked out from it), kept as given_answer; a line without one is answered unverified."""
    from hybrid.inference import save_pretrained

    torch.manual_seed(0)
    config, task, backbone, model, _ = untrained_qa_model(small_config, tmp_path)
    save_pretrained(model, config, tmp_path / "model")
    [own] = Hybrid(model, backbone, task, config).solve([task.example("What is 2 + 1?", "3")])
    assert own.verified is (text_answer.normalize(own.answer) == "3")  # an Example with its answer: judged
    lines = [{"question": "What is 2 + 1?", "answer": "3", "id": 1}, {"question": "What is 2 + 1?", "answer": 42},
             {"question": "What is 2 + 1?"}, {"question": "What is 2 + 1?", "answer": "much too long"}]
    (tmp_path / "in.jsonl").write_text("".join(json.dumps(line) + "\n" for line in lines))
    solve_main([str(tmp_path / "model"), "--input", str(tmp_path / "in.jsonl")])
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [row.get("given_answer") for row in rows] == ["3", 42, None, "much too long"]
    assert rows[0]["id"] == 1 and rows[0]["answer"] == own.answer and rows[0]["verified"] is own.verified
    assert rows[1]["verified"] is (text_answer.normalize(own.answer) == "42")
    assert "verified" not in rows[2] and rows[2]["answer"] == own.answer
    assert rows[3]["answer"] is None and rows[3]["error"].startswith("line 4: the answer has 13 characters, more than")


def test_a_broken_json_string_line_is_that_lines_error_not_a_puzzle():
    """A line written as a JSON string ("...") that does not parse, a bad escape say, was answered
    as plain text, quotes and backslashes included: garbage in, an answer out. It is that line's
    error, naming the line; a line that only starts with a quote is still plain text."""
    from hybrid.solve import read_items

    text = '"What is \\q?"\n"Hamlet" by whom?\n{"question": "x"\n"fine"\n'
    items = read_items(text, one_per_line)
    assert [item.puzzle for item in items] == [None, '"Hamlet" by whom?', None, "fine"]
    assert items[0].error == ("line 1 is not valid JSON (Invalid \\escape at column 10); a question that starts and "
                              'ends with a quote but is no JSON string can be given as {"question": ...}')
    assert items[2].error.startswith("line 3 is not valid JSON (Expecting ',' delimiter at column 17)")


def test_solve_errors_name_the_input_line_their_puzzle_starts_on(solver, tmp_path, capsys):
    """A text puzzle's error named no line, nor did an error found in a JSON object's question: with
    blocks of several lines between them, the output line's place did not say where to look."""
    solver.save_pretrained(tmp_path / "model")
    good = handwritten(1)[0]
    (tmp_path / "in.txt").write_text(f"{good}\n\nA puzzle:\n1 1 _ _\n_ _ _ _\n_ _ _ _\n_ _ _ _\n\n"
                                     + json.dumps({"id": "j", "question": "1 2 3"}) + "\n" + json.dumps("4 5") + "\n")
    solve_main([str(tmp_path / "model"), "--input", str(tmp_path / "in.txt")])
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [row["answer"] is None for row in rows] == [False, True, True, True]
    assert rows[1]["error"].startswith("line 3: ") and "no solution" in rows[1]["error"]
    assert rows[2]["id"] == "j" and rows[2]["error"].startswith("line 9: ")
    assert rows[3]["error"].startswith("line 10: ")


def test_a_full_disk_while_writing_the_answers_is_one_error_line(solver, tmp_path, monkeypatch):
    """It ended in an OSError traceback, after every puzzle was solved."""
    import errno
    import io

    import hybrid.solve

    class FullDisk(io.StringIO):
        def write(self, text):
            raise OSError(errno.ENOSPC, "No space left on device")

    solver.save_pretrained(tmp_path / "model")
    (tmp_path / "in.txt").write_text(handwritten(1)[0] + "\n")
    monkeypatch.setattr(hybrid.solve, "open", lambda file, mode="r", *args, **kwargs:
                        FullDisk() if "w" in mode else open(file, mode, *args, **kwargs), raising=False)
    with pytest.raises(SystemExit, match=r"^error: could not write .*answers.jsonl \(.* free there\): .*No space left"
                                         r".*Free space there"):
        solve_main([str(tmp_path / "model"), "--input", str(tmp_path / "in.txt"),
                    "--output", str(tmp_path / "answers.jsonl")])


def test_an_example_whose_slot_spans_are_not_inside_its_question_is_that_puzzles_error(solver):
    """An Example is checked against its own question: spans past its end (the question cut, or the
    spans of another puzzle) gave slots that read nothing of it, and an answer all the same."""
    fits = Sudoku(4).generate(random.Random(0), 0)
    cut = dataclasses.replace(fits, question=fits.question[:fits.slot_spans[-1][0]])
    solutions = solver.solve([cut, fits])
    assert re.search(r"the Example: slot_span \(\d+, \d+\) of slot 15 is not inside its question", solutions[0].error)
    assert solutions[1].error is None


def test_a_puzzles_error_says_what_to_do_and_names_only_unexpected_errors_by_class(solver):
    """Every error began with the exception's class, "PuzzleError: expected 16 cells ...": our own
    error's name is noise to a user, who reads what is wrong and what to type. An exception of another
    kind (a bug, or the API given no text) keeps its name. A maze given to a sudoku model was told
    "this sudoku has more than one solution; add givens" (its '.' are blanks), an empty question
    "found 0" cells."""
    maze = "# # # # #\n# S . . #\n# # # . #\n# G . . #\n# # # # #"
    short, empty, other, number = solver.solve(["1 2 3", "", maze, 5])
    assert short.error == ("expected 16 cells for a 4x4 sudoku, found 3: type its 16 cells row by row, each a digit "
                           "1-4 or a blank (_ . 0 or ?)")
    assert empty.error == ("the question is empty: type a 4x4 sudoku: its 16 cells row by row, each a digit 1-4 or a "
                           "blank (_ . 0 or ?)")
    assert other.error == ("this looks like a maze, but this model was trained on task=sudoku: answer it with a model "
                           "trained with task=maze")
    assert number.error.startswith("TypeError: a puzzle is its text (a str)")


def test_a_json_line_that_cannot_be_read_comes_back_as_typed_with_what_to_fix():
    """A line that starts with { and is no JSON came back with "question": null, so the output did not
    show which input it answers; its error and that of a line without a "question" string named what
    was wrong but not how to write the line."""
    from hybrid.solve import read_items

    text = ('{"question": "1 2 _ 4"\n{\'question\': \'1 2 _ 4\'}\n{"id": 3, "puzzle": "1 2 _ 4"}\n'
            '{"id": 4, "question": ["1 2 _ 4"]}\n{"id": 5, "question": null}\n')
    items = read_items(text, one_per_line)
    assert [item.fields.get("question") for item in items] == ['{"question": "1 2 _ 4"', "{'question': '1 2 _ 4'}",
                                                               None, ["1 2 _ 4"], None]
    advice = 'a line that starts with { is read as JSON: write it as {"question": "..."}, in double quotes, or type ' \
             'the puzzle as plain text'
    assert [item.error for item in items] == [
        f"line 1 is not valid JSON (Expecting ',' delimiter at column 23); {advice}",
        f"line 2 is not valid JSON (Expecting property name enclosed in double quotes at column 2); {advice}",
        'line 3 has no "question" (its fields: "id", "puzzle"): put the puzzle\'s text in a "question" field, as '
        '{"question": "..."}',
        'line 4\'s "question" is a list, not text: give the puzzle\'s text, as {"question": "..."}',
        'line 5\'s "question" is null, not text: give the puzzle\'s text, as {"question": "..."}',
    ]


def test_solve_reads_a_qa_json_line_by_the_fields_the_model_trained_on(small_config, tmp_path, capsys):
    """A qa model trained on rows {"q": ..., "a": ...} (task.question_field=q): `python -m eval RUN --puzzles`
    read such a line by those fields, and `hybrid.solve --input` said it had no "question"."""
    from hybrid.inference import save_pretrained

    config, task, backbone, model, _ = untrained_qa_model(small_config, tmp_path, fields=("q", "a"))
    save_pretrained(model, config, tmp_path / "model")
    (tmp_path / "in.jsonl").write_text('{"q": "What is 2 + 1?", "a": "3"}\n{"question": "What is 2 + 1?"}\n')
    solve_main([str(tmp_path / "model"), "--input", str(tmp_path / "in.jsonl")])
    first, second = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert "error" not in first and first["q"] == "What is 2 + 1?" and "verified" in first  # asked with its answer
    assert second["error"] == ('line 2 has no "q" (its fields: "question"): put the puzzle\'s text in a "q" field, '
                               'as {"q": "..."}')
