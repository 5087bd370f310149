import gzip
import json
import random
import re
from pathlib import Path

import pytest

from eval.tasks import PuzzleError, make_task
from eval.tasks.qa import QA, QaConfig, pair
from eval.tasks.text_answer import decode, encode

FIXTURE = str(Path(__file__).parent / "data" / "qa_small.jsonl")  # 12 rows, one repeated pair


def write(tmp_path, text: str) -> str:
    path = tmp_path / "data.jsonl"
    path.write_text(text)
    return str(path)


def test_jsonl_pairs_are_read_encoded_and_verified():
    task = make_task(QaConfig(path=FIXTURE, max_answer_chars=8))
    assert len(task.pairs) == 11  # the repeated "7 times 6" line counts once
    assert ("How many sides does a hexagon have?", "6") in task.pairs  # a number answer becomes text
    assert ("Name the opposite of 'hot'.", "cold") in task.pairs  # surrounding space dropped
    example = task.example("What is the capital of France?", "Paris")
    assert example.question == "What is the capital of France?"
    assert task.decode(example, [i if i >= 0 else 0 for i in example.labels]) == "Paris"
    assert task.verify(example, "  paris ")  # normalized: case and spaces do not count
    assert not task.verify(example, "Lyon") and not task.verify(example, "Pari")


def test_character_slots_round_trip_and_stop_at_end():
    assert decode(encode("a b\n1", 8)) == "a b\n1"
    assert encode("ab", 4)[2:] == [0, -100]  # END, then nothing to learn
    assert decode(encode("abcd", 4)) == "abcd"  # a full answer needs no END
    with pytest.raises(PuzzleError, match="outside the answer alphabet"):
        encode("café", 8)


def test_an_answer_one_character_short_of_its_slots_still_ends_with_end():
    """Only an answer that fills every slot goes without END; without it here, the last slot
    would be IGNORE and decode would read whatever the model wrote there."""
    end = 0  # END is class 0
    assert encode("abc", 4)[3] == end and encode("abc", 4)[:3] == encode("abcd", 4)[:3]


def test_a_single_file_is_cut_into_disjoint_seeded_splits():
    task = QA(FIXTURE)
    splits = task.splits(train_size=100, test_size=3, seed=0)
    train = {e.question for e in splits["train"]}
    test = {e.question for e in splits["test"]}
    assert len(test) == 3 and len(train) == 8 and not train & test
    again = task.splits(train_size=100, test_size=3, seed=0)
    assert [e.question for e in again["test"]] == [e.question for e in splits["test"]]
    assert len(task.splits(train_size=5, test_size=3, seed=0)["train"]) == 5  # sizes are upper limits
    rng = random.Random(0)
    assert all((e.question, e.answer) in task.pairs for e in (task.generate(rng, 0) for _ in range(5)))


def test_a_saved_dataset_keeps_its_own_splits_and_builds(tmp_path):
    from datasets import Dataset, DatasetDict

    from hybrid.data import build_splits

    def rows(n, tag):
        return [{"q": f"{tag} question {i}?", "a": f"{tag}{i}"} for i in range(n)]

    train = rows(6, "train") + [{"q": "test question 0?", "a": "test0"}]  # a leaked test question
    DatasetDict({"train": Dataset.from_list(train), "validation": Dataset.from_list(rows(2, "test"))}
                ).save_to_disk(str(tmp_path / "saved"))
    config = QaConfig(path=str(tmp_path / "saved"), question_field="q", answer_field="a", test_size=10)
    task = make_task(config)
    built = build_splits(task, config, seed=0, data_dir=tmp_path / "cache")
    assert sorted(built["test"]["answer"]) == ["test0", "test1"]  # validation serves as the test split
    assert sorted(built["train"]["answer"]) == [f"train{i}" for i in range(6)]  # the leak is dropped
    assert len(built["train"][0]["labels"]) == task.num_slots


def test_malformed_sources_are_clear_errors(tmp_path):
    """Named when the data is first read (building splits), not when the task is built."""
    with pytest.raises(PuzzleError, match=r"data.jsonl:2: not a JSON object"):
        QA(write(tmp_path, '{"question": "a?", "answer": "b"}\n{"question": "c?", "answer": \n')).pairs
    missing = r"data.jsonl:1: no field 'answer' \(task.answer_field\); the row has: question, reply"
    with pytest.raises(PuzzleError, match=missing):
        QA(write(tmp_path, '{"question": "a?", "reply": "b"}\n')).pairs
    too_long = r"data.jsonl:1: answer of 11 characters does not fit in task.max_answer_chars=4"
    with pytest.raises(PuzzleError, match=too_long):
        QA(write(tmp_path, '{"question": "a?", "answer": "much longer"}\n'), max_answer_chars=4).pairs
    with pytest.raises(PuzzleError, match="must be text or a number"):
        QA(write(tmp_path, '{"question": "a?", "answer": ["b"]}\n')).pairs
    with pytest.raises(PuzzleError, match=r"data.jsonl:1: the answer \('answer'\) is empty"):
        QA(write(tmp_path, '{"question": "a?", "answer": "  "}\n')).pairs
    with pytest.raises(PuzzleError, match=r"data.jsonl:1: the answer \('answer'\) is nan, not a finite number"):
        QA(write(tmp_path, '{"question": "a?", "answer": NaN}\n')).pairs
    assert QA(write(tmp_path, '{"question": "a?", "answer": 2.5}\n')).pairs == [("a?", "2.5")]
    assert QA(write(tmp_path, '{"question": "a?", "answer": "1 2\\r\\n3 4\\r"}\r\n')).pairs == [("a?", "1 2\n3 4")]
    lines_in_json = tmp_path / "data.json"
    lines_in_json.write_text('{"question": "a?", "answer": "b"}\n{"question": "c?", "answer": "d"}\n')
    with pytest.raises(PuzzleError, match="Extra data at line 2.*name the file .jsonl"):
        QA(str(lines_in_json)).pairs
    with pytest.raises(PuzzleError, match="needs task.path"):
        QA()
    with pytest.raises(PuzzleError, match="no such file"):
        QA(str(tmp_path / "missing.jsonl")).pairs
    exported = tmp_path / "data.csv"  # a spreadsheet's own export: said to be no JSON, not what to do
    exported.write_text("question,answer\na?,b\n")
    with pytest.raises(PuzzleError, match=r"data.csv: a CSV file is not read; convert it to JSON Lines"):
        QA(str(exported)).pairs
    latin1 = tmp_path / "latin1.jsonl"  # a spreadsheet export in the system's code page, say
    latin1.write_bytes('{"question": "caf\u00e9?", "answer": "b"}\n'.encode("latin-1"))
    with pytest.raises(PuzzleError, match=r"latin1.jsonl is not UTF-8 text .*save it as UTF-8"):
        QA(str(latin1)).pairs
    packed = tmp_path / "pairs.jsonl.gz"  # no text in any code page: "save it as UTF-8" misled
    packed.write_bytes(gzip.compress(latin1.read_bytes().replace(b"\xe9", b"e")))
    with pytest.raises(PuzzleError, match=r"pairs.jsonl.gz: a .gz file is not read; give a .jsonl .*or the folder"):
        QA(str(packed)).pairs
    with pytest.raises(PuzzleError, match="leaves 0 training"):
        QA(write(tmp_path, '{"question": "a?", "answer": "b"}\n')).splits(10, 5, seed=0)


def test_a_file_with_a_byte_order_mark_reads(tmp_path):
    """Windows editors and spreadsheet exports start UTF-8 files with a BOM; it is not data."""
    path = tmp_path / "data.jsonl"
    path.write_bytes(b"\xef\xbb\xbf" + b'{"question": "a?", "answer": "b"}\n{"question": "c?", "answer": "d"}\n')
    assert QA(str(path)).pairs == [("a?", "b"), ("c?", "d")]
    listed = tmp_path / "data.json"
    listed.write_bytes(b"\xef\xbb\xbf" + b'[{"question": "a?", "answer": "b"}]')
    assert QA(str(listed)).pairs == [("a?", "b")]
    joined = tmp_path / "joined.jsonl"  # two such files joined end to end: the second's mark starts a line
    joined.write_bytes(b"\xef\xbb\xbf" + b'{"question": "a?", "answer": "b"}\n\xef\xbb\xbf{"question": "c?", "answer": "d"}\n')
    assert QA(str(joined)).pairs == [("a?", "b"), ("c?", "d")]
    # The second file, emptied in a Windows editor, is its mark alone: a blank line, as typed input
    # reads one (it was a row that is no JSON object, "Expecting value", so no split could be built)
    joined.write_bytes(b'{"question": "a?", "answer": "b"}\n\xef\xbb\xbf\n'
                       b'{"question": "c?", "answer": "d"}\n\xef\xbb\xbf')
    assert QA(str(joined)).pairs == [("a?", "b"), ("c?", "d")]


def test_unicode_line_separators_inside_a_json_string_do_not_end_its_line(tmp_path):
    """json.dumps(..., ensure_ascii=False) writes U+2028, U+2029 and U+0085 (web text has them) as
    they are; JSON Lines ends a line only at a newline. str.splitlines cut there too: a valid line
    was "not a JSON object (Unterminated string)", and every later line was named one too far on."""
    rows = [{"question": "a?\u2028b?", "answer": "c"}, {"question": "d?\u0085\u2029", "answer": "e"}, {"answer": "f"}]
    path = tmp_path / "data.jsonl"
    path.write_bytes("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows).encode("utf-8"))
    with pytest.raises(PuzzleError, match=r"data.jsonl:3: no field 'question'"):
        QA(str(path)).pairs
    path.write_bytes("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows[:2]).encode("utf-8"))
    assert QA(str(path)).pairs == [("a?\u2028b?", "c"), ("d?\u0085\u2029", "e")]


def test_a_file_named_in_capitals_is_read_by_its_kind(tmp_path):
    """DATA.JSON (a Windows export, say) holds a JSON list: it was read as JSON Lines, and its first
    line said to be no JSON object."""
    listed = tmp_path / "DATA.JSON"
    listed.write_text('[\n  {"question": "a?", "answer": "b"},\n  {"question": "c?", "answer": "d"}\n]\n')
    assert QA(str(listed)).pairs == [("a?", "b"), ("c?", "d")]
    with pytest.raises(PuzzleError, match="no such file"):
        QA(str(tmp_path / "MOVED.JSONL")).pairs


def test_the_task_reads_its_data_only_when_asked():
    """A trained qa model answers new questions without its data file: building the task (as
    solve and python -m eval --puzzles do) reads nothing; splits and pairs read it."""
    task = QA("no/such/file.jsonl", max_answer_chars=8)
    assert task.num_slots == 8 and task.example("2 + 2?", "4").labels[:2] == encode("4", 8)[:2]
    with pytest.raises(PuzzleError, match="no such file"):
        task.splits(4, 2, seed=0)


def test_a_trained_qa_model_is_scored_on_hand_written_pairs(small_config, tmp_path):
    """`python -m eval RUN --puzzles mine.jsonl` on a qa run: the answer comes with each question
    (it cannot be worked out from it), so lines are read as pairs; a line without its answer is a
    recorded failure, and a plain-text file, which can hold no answers, is a clear error."""
    from eval import HarnessError
    from eval.__main__ import evaluate_run
    from hybrid.train import train

    data = write(tmp_path, "".join(f'{{"question": "What is {i} + 1?", "answer": "{i + 1}"}}\n' for i in range(12)))
    train(small_config("task=qa", f"task.path={data}", "task.max_answer_chars=4", "task.test_size=4",
                       "train.batch_size=4", "train.steps=2"))
    mine = tmp_path / "mine.jsonl"
    mine.write_text('{"question": "What is 20 + 1?", "answer": 21}\n{"question": "What is 30 + 1?"}\n'
                    '"What is 40 + 1?"\n{"question": "What is 2 + 1?", "answer": "3"}\n')
    report = evaluate_run(tmp_path / "run", puzzles=mine, out=tmp_path / "report")
    assert report["num_puzzles"] == 2 and report["puzzle_failures"]["count"] == 2
    first, second = report["puzzle_failures"]["first"]
    assert "line 2: no field 'answer' (task.answer_field)" in first["error"]  # its file line, not position 1
    assert "must be a JSON object holding a question and its answer" in second["error"]
    assert 0.0 <= report["exact_accuracy"] <= 1.0 and len(report["exact_curve"]) == 2
    both = tmp_path / "both.jsonl"  # one question, two answers: a model gives one, so one always counts wrong
    both.write_text('{"question": "What is 20 + 1?", "answer": "21"}\n{"question": "what is 20 + 1?", "answer": "22"}\n')
    with pytest.warns(UserWarning, match=rf"--puzzles {re.escape(str(both))}: 1 question\(s\) have more than one answer"):
        evaluate_run(tmp_path / "run", puzzles=both, out=tmp_path / "both")
    text = tmp_path / "mine.txt"
    text.write_text("What is 20 + 1?\n")
    with pytest.raises(HarnessError, match=r'no line of the file is JSON: give one \{"question": ..., "answer": ...\}'):
        evaluate_run(tmp_path / "run", puzzles=text, out=tmp_path / "text")


def test_normalized_answers_ignore_case_and_any_run_of_whitespace():
    """A multi-line or tab-separated answer matches its one-line form: verify compares normalized text."""
    from eval.tasks.text_answer import normalize

    assert normalize("  Two\n words\t\tHere ") == "two words here" == normalize("two words here")


def test_an_answer_too_long_for_its_slots_says_how_long_it_is_and_the_limit():
    """The error gives the answer's own length and task.max_answer_chars, the two numbers needed
    to pick a new limit."""
    with pytest.raises(PuzzleError, match=r"answer of 6 characters does not fit in task.max_answer_chars=4: 'abcdef'"):
        encode("abcdef", 4)


def test_a_hand_written_pair_too_long_for_a_trained_models_slots_does_not_say_to_raise_them():
    """`python -m eval RUN --puzzles mine.jsonl` records a pair whose answer is longer than the model's
    slots as a failure; it said to raise task.max_answer_chars, which the weights fix (an evaluation
    with it raised does not load). Data read for training still names the knob."""
    task = QA("unused.jsonl", max_answer_chars=4)
    with pytest.raises(PuzzleError, match=r"puzzle 3: the answer has 6 characters, more than the 4 this model writes "
                                          r"\(its task.max_answer_chars, fixed by its weights\)") as err:
        task.from_row({"question": "Spell it", "answer": "abcdef"}, where="puzzle 3")
    assert "raise task.max_answer_chars" not in str(err.value)
    assert task.from_row({"question": "Spell it", "answer": "abcd"}).answer == "abcd"  # exactly the slots fits
    with pytest.raises(PuzzleError, match="raise task.max_answer_chars"):
        pair({"question": "Spell it", "answer": "abcdef", "_where": "data.jsonl:1"}, "question", "answer", 4)


def test_a_data_file_edited_since_training_is_not_scored_on_its_training_pairs(small_config, tmp_path):
    """Rows added to the qa file after training recut its splits under the same config, and the
    new test split held pairs the weights were trained on, scored as held out without a word.
    Training records its splits folder; evaluation warns and leaves those pairs out."""
    from eval.__main__ import evaluate_run
    from hybrid.train import train

    rows = [f'{{"question": "What is {i} + 1?", "answer": "{i + 1}"}}\n' for i in range(40)]
    data = write(tmp_path, "".join(rows[:24]))
    train(small_config("task=qa", f"task.path={data}", "task.max_answer_chars=4", "task.test_size=8",
                       "train.batch_size=4", "train.steps=1"))
    Path(data).write_text("".join(rows))  # more rows: a new shuffle, a new test split
    with pytest.warns(UserWarning, match="changed since training"):
        report = evaluate_run(tmp_path / "run", out=tmp_path / "report")
    assert report["trained_puzzles_left_out"] > 0
    assert report["num_puzzles"] == 8 - report["trained_puzzles_left_out"]


def test_a_damaged_recorded_split_is_a_warning_and_the_split_is_scored(small_config, tmp_path):
    """Evaluating a qa run whose file was edited since training reads the training split from the
    folder training recorded; that folder damaged (its index cut short) is said in a warning, as a
    training split that cannot be rebuilt is, and the split is scored, not ended by a traceback."""
    from eval.__main__ import evaluate_run
    from hybrid.train import train

    rows = [f'{{"question": "What is {i} + 1?", "answer": "{i + 1}"}}\n' for i in range(40)]
    data = write(tmp_path, "".join(rows[:24]))
    train(small_config("task=qa", f"task.path={data}", "task.max_answer_chars=4", "task.test_size=8",
                       "train.batch_size=4", "train.steps=1"))
    recorded = Path(json.loads((tmp_path / "run" / "splits.json").read_text())["folder"])
    (recorded / "dataset_dict.json").write_text('{"splits": ')
    Path(data).write_text("".join(rows))
    with pytest.warns(UserWarning, match=r"cannot rebuild the training split .* are damaged"):
        report = evaluate_run(tmp_path / "run", out=tmp_path / "report")
    assert report["num_puzzles"] == 8


def test_a_data_dir_moved_since_training_is_not_taken_for_data_edited_since(small_config, tmp_path):
    """The splits' folder is named after their content, not their place: evaluated with the data_dir
    where it is now (train.data_dir=NEW), a qa run finds the splits it trained on there, so no
    warning says its data changed and no test pair is left out as trained on."""
    import warnings

    from eval.__main__ import evaluate_run
    from hybrid.train import train

    data = write(tmp_path, "".join(f'{{"question": "What is {i} + 1?", "answer": "{i + 1}"}}\n' for i in range(24)))
    train(small_config("task=qa", f"task.path={data}", "task.max_answer_chars=4", "task.test_size=8",
                       "train.batch_size=4", "train.steps=1"))
    moved = tmp_path / "moved"
    (tmp_path / "cache").rename(moved)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        report = evaluate_run(tmp_path / "run", [f"train.data_dir={moved}"], out=tmp_path / "report")
    assert not [w for w in caught if "changed since training" in str(w.message)]
    assert report["trained_puzzles_left_out"] == 0 and report["num_puzzles"] == 8


ADDITIONS = [f'{{"question": "What is {i} + 1?", "answer": "{i + 1}"}}\n' for i in range(40)]  # the first 24, then all
QA_RUN = ("task=qa", "task.max_answer_chars=4", "task.test_size=8", "train.batch_size=4")


def overlap(trained_on: Path, tested_on: Path) -> set[str]:
    """The pairs of the training split in the folder `trained_on` that are in the test split in `tested_on`."""
    from hybrid.data import examples, read_splits

    def keys(folder, split):
        return {QA("unread").puzzle_key(e) for e in examples(read_splits(folder)[split])}  # the key reads no file

    return keys(trained_on, "train") & keys(tested_on, "test")


def test_an_infinite_answer_is_an_error_and_a_lone_carriage_return_is_a_newline(tmp_path):
    """JSON's Infinity and -Infinity are no more an answer than NaN (not "inf"), and an old Mac
    editor's line end (a lone carriage return inside the answer, which strip() does not reach) reads as a newline."""
    for value, shown in (("Infinity", "inf"), ("-Infinity", "-inf")):
        with pytest.raises(PuzzleError, match=rf"data.jsonl:1: the answer \('answer'\) is {shown}, not a finite"):
            QA(write(tmp_path, f'{{"question": "a?", "answer": {value}}}\n')).pairs
    assert QA(write(tmp_path, '{"question": "a?", "answer": "1 2\\r3 4"}\n')).pairs == [("a?", "1 2\n3 4")]


def test_a_resume_on_an_edited_data_file_warns_and_keeps_both_cuts_out_of_evaluation(small_config, tmp_path):
    """Rows added to the qa file before a --resume recut its splits: the resumed run trains on the
    new cut, whose test split holds pairs its first batches trained on. The resume says so, and
    splits.json keeps both folders, so evaluation leaves those pairs out (without "changed since
    training": the data is the resumed run's own)."""
    import warnings

    from eval.__main__ import evaluate_run
    from hybrid.splits_record import recorded_splits
    from hybrid.train import train

    data = write(tmp_path, "".join(ADDITIONS[:24]))
    train(small_config(*QA_RUN, f"task.path={data}", "train.steps=1"))
    [first] = recorded_splits(tmp_path / "run")
    Path(data).write_text("".join(ADDITIONS))
    with pytest.warns(UserWarning, match=f"puzzle splits changed since the checkpoint this run resumes: it trained on "
                                         f"the splits in {first.name}"):
        train(small_config(*QA_RUN, f"task.path={data}", "train.steps=2", "train.resume=latest"))
    earlier, now = recorded_splits(tmp_path / "run")
    assert earlier == first and now != first
    trained_first = overlap(first, now)
    assert trained_first  # else the test shows nothing
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        report = evaluate_run(tmp_path / "run", out=tmp_path / "report")
    assert report["trained_puzzles_left_out"] == len(trained_first) and report["num_puzzles"] == 8 - len(trained_first)
    assert not [w for w in caught if "changed since training" in str(w.message)]


def test_weights_started_from_a_run_on_other_data_leave_that_runs_training_pairs_out(small_config, tmp_path):
    """train.init_from a run trained on the file before rows were added: the new run's test split
    holds pairs the weights it started from trained on, which evaluation leaves out."""
    import warnings

    from eval.__main__ import evaluate_run
    from hybrid.splits_record import recorded_splits
    from hybrid.train import train

    data = write(tmp_path, "".join(ADDITIONS[:24]))
    train(small_config(*QA_RUN, f"task.path={data}", "train.steps=1", f"train.output_dir={tmp_path / 'first'}"))
    Path(data).write_text("".join(ADDITIONS))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        train(small_config(*QA_RUN, f"task.path={data}", "train.steps=1", f"train.init_from={tmp_path / 'first'}"))
    assert not [w for w in caught if "puzzle splits changed" in str(w.message)]  # new training, not a resume
    [first], [started, now] = recorded_splits(tmp_path / "first"), recorded_splits(tmp_path / "run")
    assert started == first
    report = evaluate_run(tmp_path / "run", out=tmp_path / "report")
    assert overlap(first, now) and report["trained_puzzles_left_out"] == len(overlap(first, now))


def test_weights_saved_elsewhere_keep_the_splits_they_trained_on(small_config, tmp_path):
    """final/ holds the splits record, and so does a copy saved from it (Hybrid.save_pretrained): a
    run started from that copy after the file was edited still leaves the first run's training pairs
    out of its evaluation (the copy had no record, so nothing was left out)."""
    from eval.__main__ import evaluate_run
    from hybrid.inference import Hybrid
    from hybrid.splits_record import recorded_splits
    from hybrid.train import train

    data = write(tmp_path, "".join(ADDITIONS[:24]))
    train(small_config(*QA_RUN, f"task.path={data}", "train.steps=1", f"train.output_dir={tmp_path / 'first'}"))
    [first] = recorded_splits(tmp_path / "first")
    assert recorded_splits(tmp_path / "first" / "final") == [first]
    Hybrid.from_pretrained(tmp_path / "first").save_pretrained(tmp_path / "shared")
    assert recorded_splits(tmp_path / "shared") == [first]
    Path(data).write_text("".join(ADDITIONS))
    train(small_config(*QA_RUN, f"task.path={data}", "train.steps=1", f"train.init_from={tmp_path / 'shared'}"))
    started, now = recorded_splits(tmp_path / "run")
    assert started == first and recorded_splits(tmp_path / "run" / "final") == [first, now]
    report = evaluate_run(tmp_path / "run", out=tmp_path / "report")
    assert overlap(first, now) and report["trained_puzzles_left_out"] == len(overlap(first, now))


def test_splits_recorded_in_a_data_dir_moved_since_are_read_where_it_is_now(small_config, tmp_path):
    """The qa file edited and train.data_dir moved since training: the training split is read from the
    folder of the same name under the data_dir given (recut from the file, it would be the new data's,
    and leave out nothing)."""
    from eval.__main__ import evaluate_run
    from hybrid.splits_record import recorded_splits
    from hybrid.train import train

    data = write(tmp_path, "".join(ADDITIONS[:24]))
    train(small_config(*QA_RUN, f"task.path={data}", "train.steps=1"))
    [first] = recorded_splits(tmp_path / "run")
    Path(data).write_text("".join(ADDITIONS))
    moved = tmp_path / "moved"
    (tmp_path / "cache").rename(moved)
    with pytest.warns(UserWarning, match="changed since training"):
        report = evaluate_run(tmp_path / "run", [f"train.data_dir={moved}"], out=tmp_path / "report")
    now = next(f for f in (moved / "datasets").iterdir() if f.name.startswith("qa-") and f.name != first.name)
    assert overlap(moved / "datasets" / first.name, now)
    assert report["trained_puzzles_left_out"] == len(overlap(moved / "datasets" / first.name, now))


def test_recorded_splits_deleted_after_the_data_changed_are_said_to_be_lost(small_config, tmp_path):
    """The folder training recorded deleted and the file edited: cut again, the file gives the new
    data's splits, not the trained ones, so evaluation says it cannot rebuild them rather than
    leaving out nothing as if it had."""
    import shutil

    from eval.__main__ import evaluate_run
    from hybrid.splits_record import recorded_splits
    from hybrid.train import train

    data = write(tmp_path, "".join(ADDITIONS[:24]))
    train(small_config(*QA_RUN, f"task.path={data}", "train.steps=1"))
    shutil.rmtree(recorded_splits(tmp_path / "run")[0])
    Path(data).write_text("".join(ADDITIONS))
    with pytest.warns(UserWarning, match=r"cannot rebuild the training split .* and the data now cuts other splits"):
        report = evaluate_run(tmp_path / "run", out=tmp_path / "report")
    assert report["num_puzzles"] == 8


def test_a_checkpoint_saved_before_a_resume_on_edited_data_is_evaluated_on_its_own_splits(small_config, tmp_path):
    """A checkpoint saved before the resume on an edited file trained on the first cut only: evaluated
    on that data again, it leaves nothing out and does not say the data changed (the run's
    splits.json, written for the resumed weights, names the second cut too)."""
    import warnings

    from eval.__main__ import evaluate_run
    from hybrid.splits_record import recorded_splits
    from hybrid.train import train

    data = write(tmp_path, "".join(ADDITIONS[:24]))
    train(small_config(*QA_RUN, f"task.path={data}", "train.steps=1"))
    Path(data).write_text("".join(ADDITIONS))
    with pytest.warns(UserWarning, match="puzzle splits changed since the checkpoint"):
        train(small_config(*QA_RUN, f"task.path={data}", "train.steps=2", "train.resume=latest"))
    first, now = recorded_splits(tmp_path / "run")
    assert overlap(now, first)  # else the test shows nothing
    Path(data).write_text("".join(ADDITIONS[:24]))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        report = evaluate_run(tmp_path / "run" / "checkpoints" / "step_00000001", out=tmp_path / "report")
    assert report["trained_puzzles_left_out"] == 0 and report["num_puzzles"] == 8
    assert not [w for w in caught if "changed since training" in str(w.message)]


def test_a_resume_that_falls_back_past_a_damaged_checkpoint_records_the_splits_of_the_one_it_loads(small_config,
                                                                                                   tmp_path):
    """`--resume latest` whose newest checkpoint (trained on an edited file) is damaged loads the one
    before it, trained on the file as it is again: no "data changed" warning, and the record names only
    that cut (the damaged one's record, read instead, named both, so evaluation left out pairs this
    run's weights never trained on)."""
    import warnings

    from hybrid import checkpoint
    from hybrid.splits_record import recorded_splits
    from hybrid.train import train

    data = write(tmp_path, "".join(ADDITIONS[:24]))
    train(small_config(*QA_RUN, f"task.path={data}", "train.steps=1"))
    [first] = recorded_splits(tmp_path / "run")
    Path(data).write_text("".join(ADDITIONS))
    with pytest.warns(UserWarning, match="puzzle splits changed since the checkpoint"):
        train(small_config(*QA_RUN, f"task.path={data}", "train.steps=2", "train.resume=latest"))
    newest = checkpoint.checkpoints(tmp_path / "run")[-1]
    assert len(recorded_splits(newest)) == 2  # else the test shows nothing
    (newest / "model.safetensors").write_bytes(b"not a checkpoint")
    Path(data).write_text("".join(ADDITIONS[:24]))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        train(small_config(*QA_RUN, f"task.path={data}", "train.steps=2", "train.resume=latest"))
    assert [w for w in caught if "skipping checkpoint" in str(w.message)]  # it did fall back
    assert not [w for w in caught if "puzzle splits changed" in str(w.message)]
    assert [f.name for f in recorded_splits(tmp_path / "run")] == [first.name]


def test_an_override_that_cuts_other_splits_is_not_taken_for_data_changed_since_training(small_config, tmp_path):
    """Evaluated with a task override (task.test_size) or another train.seed, a qa run's file cuts other
    splits than it trained on, though the file is as it was: no warning says its data changed since training."""
    import warnings

    from eval.__main__ import evaluate_run
    from hybrid.train import train

    data = write(tmp_path, "".join(ADDITIONS[:24]))
    train(small_config(*QA_RUN, f"task.path={data}", "train.steps=1"))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        report = evaluate_run(tmp_path / "run", ["task.test_size=6"], out=tmp_path / "report")
        reseeded = evaluate_run(tmp_path / "run", ["train.seed=1"], out=tmp_path / "reseeded")  # another cut too
    assert report["num_puzzles"] + report["trained_puzzles_left_out"] == 6
    assert reseeded["trained_puzzles_left_out"] > 0  # the training pairs the seed's cut puts in its test split
    assert not [w for w in caught if "changed since training" in str(w.message)]


def test_a_question_with_two_answers_is_a_warning(tmp_path):
    """Both pairs are kept, but only one can ever be scored right: said, not left to a lower score."""
    data = write(tmp_path, '{"question": "Capital?", "answer": "Paris"}\n{"question": "capital?", "answer": "Lyon"}\n'
                           '{"question": "Colour?", "answer": "red"}\n{"question": "Colour?", "answer": "RED"}\n')
    with pytest.warns(UserWarning, match=r"1 question\(s\) have more than one answer, e.g. 'capital\?': 'Paris', 'Lyon'"):
        assert len(QA(data).pairs) == 4  # "red" and "RED" are one answer to verify: no conflict


def test_too_few_pairs_to_split_says_how_many_distinct_pairs_there_are(tmp_path):
    """Ten copies of one line are one pair: the error says so, else lowering test_size looks like the fix."""
    with pytest.raises(PuzzleError, match=r"\(1 distinct pair\(s\)\) leaves 0 training and 1 test"):
        QA(write(tmp_path, '{"question": "a?", "answer": "b"}\n' * 10)).splits(10, 5, seed=0)


def test_too_few_pairs_in_a_datasets_own_splits_names_those_splits(tmp_path):
    """A saved dataset keeps its own train and test splits: the error names them, since a count of
    pairs over both says nothing about which one ran short (here every training question is asked at test)."""
    from datasets import Dataset, DatasetDict

    pairs = Dataset.from_list([{"question": "a?", "answer": "b"}])
    DatasetDict({"train": pairs, "validation": pairs}).save_to_disk(str(tmp_path / "saved"))
    with pytest.raises(PuzzleError, match=r"\(splits \['train', 'validation'\]\) leaves 0 training and 1 test"):
        QA(str(tmp_path / "saved")).splits(10, 5, seed=0)


def save_pairs(tmp_path, answers, dtype=None):
    """A saved dataset of one question per answer; dtype: the answer column's type (else Arrow's pick)."""
    from datasets import Dataset, Features, Value

    features = Features(question=Value("string"), answer=Value(dtype)) if dtype else None
    questions = [f"Question {i}?" for i in range(len(answers))]
    Dataset.from_dict({"question": questions, "answer": answers}, features=features).save_to_disk(
        str(tmp_path / "saved"))
    return str(tmp_path / "saved")


@pytest.mark.parametrize("answers, dtype, read", [
    ([6, 7, 2.5], None, ["6", "7", "2.5"]),  # Arrow stores the column as float64: 6 came back as "6.0"
    ([6.0, 7.0, 2.0], "float64", ["6", "7", "2"]),
    ([2.1, 0.3, 1e20], "float32", ["2.1", "0.3", "1e+20"]),  # Python's float of float32 2.1: 2.0999999046325684
])
def test_a_float_answer_column_reads_whole_numbers_as_integers_and_says_so_once(tmp_path, answers, dtype, read):
    """A float column keeps no text: 6 among 2.5 is stored as 6.0, so it trained and was scored as "6.0",
    silently. Whole numbers read as integers (as .jsonl's 6 does, and as cast_column to string writes them),
    others at the column's own precision; one warning names the column, its type, an example and the fix."""
    path = save_pairs(tmp_path, answers, dtype)
    with pytest.warns(UserWarning) as caught:
        pairs = QA(path).pairs
    assert [a for _, a in pairs] == read
    said = [str(w.message) for w in caught if "stored as" in str(w.message)]
    assert len(said) == 1
    assert f"'answer' is stored as {dtype or 'float64'}" in said[0] and f"'{read[0]}'" in said[0]
    assert "cast_column('answer', Value('string'))" in said[0]


def test_an_integer_answer_column_reads_as_written_without_a_warning(tmp_path):
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert [a for _, a in QA(save_pairs(tmp_path, [6, 7, 12])).pairs] == ["6", "7", "12"]


def test_an_empty_split_of_a_saved_dataset_is_named_with_what_to_do(tmp_path):
    """datasets saves an empty split with no data file and cannot load it back ("IndexError: list index out
    of range"): the error names the split and the way out, not only the folder."""
    from datasets import Dataset, DatasetDict

    pairs = Dataset.from_dict({"question": ["a?", "b?"], "answer": ["1", "2"]})
    DatasetDict({"train": pairs, "test": pairs.select([])}).save_to_disk(str(tmp_path / "saved"))
    with pytest.raises(PuzzleError, match=r"split 'test' has no rows.*del dataset\['test'\]") as err:
        QA(str(tmp_path / "saved")).pairs
    assert "IndexError" not in str(err.value)
    pairs.select([]).save_to_disk(str(tmp_path / "empty"))
    with pytest.raises(PuzzleError, match=r"empty' has no rows"):
        QA(str(tmp_path / "empty")).pairs


@pytest.mark.parametrize("written", ["pyarrow", "datasets", "no bytes", "hub layout"])
def test_an_empty_split_of_a_parquet_folder_is_named_with_what_to_do(tmp_path, written):
    """A folder of train.parquet and a test.parquet with no rows failed as "DatasetGenerationError: An error
    occurred while generating the dataset" (pyarrow's, pandas' or an empty file), or "ValueError: Instruction
    "test" corresponds to no data!" (datasets' to_parquet), naming no split or file: it is said as a split
    saved empty by save_to_disk is, with the file that holds no rows."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    folder = tmp_path / "pairs"
    name = "data/test-00000-of-00001.parquet" if written == "hub layout" else "test.parquet"
    (folder / name).parent.mkdir(parents=True)
    pq.write_table(pa.table({"question": ["a?", "b?"], "answer": ["1", "2"]}), folder / name.replace("test", "train"))
    empty = pa.table({"question": pa.array([], pa.string()), "answer": pa.array([], pa.string())})
    if written == "datasets":
        from datasets import Dataset

        Dataset(empty).to_parquet(str(folder / name))
    elif written == "no bytes":
        (folder / name).write_bytes(b"")
    else:
        pq.write_table(empty, folder / name)
    with pytest.raises(PuzzleError, match=rf"split 'test' has no rows \({re.escape(name)} holds none\).*Give it rows, "
                                          rf"or remove {re.escape(name)}") as err:
        QA(str(folder)).pairs
    assert "DatasetGenerationError" not in str(err.value) and "Instruction" not in str(err.value)
    (folder / name.replace("test", "train")).unlink()  # nothing left with rows
    with pytest.raises(PuzzleError, match=r"pairs' has no rows"):
        QA(str(folder)).pairs


NO_ROWS = [  # a data file of no rows, and its twin with rows
    pytest.param("csv", "question,answer\n", "question,answer\na?,1\nb?,2\n", id="csv header only"),
    pytest.param("csv", "\n\n", "question,answer\na?,1\nb?,2\n", id="csv blank lines"),
    pytest.param("json", "[]\n", '[{"question": "a?", "answer": "1"}, {"question": "b?", "answer": "2"}]',
                 id="json []"),
    pytest.param("jsonl", "\n", '{"question": "a?", "answer": "1"}\n{"question": "b?", "answer": "2"}\n',
                 id="jsonl blank line"),  # a file of no bytes at all was named already
]


@pytest.mark.parametrize("layout", ["folder", "hub layout"])
@pytest.mark.parametrize("split", ["test", "train"])
@pytest.mark.parametrize("ext, empty, rows", NO_ROWS)
def test_a_csv_or_json_file_of_no_rows_in_a_folder_is_named_with_its_split(tmp_path, layout, split, ext, empty, rows):
    """A test.csv of only its header, a test.json holding [] or a test.jsonl of blank lines beside a train file
    of rows failed as datasets' "ValueError: Instruction "test" corresponds to no data!" (an empty train file:
    "DatasetGenerationError: An error occurred while generating the dataset"), naming no file: each is named,
    with its split, as an empty test.parquet is."""
    folder = tmp_path / "pairs"
    name = f"data/{split}-00000-of-00001.{ext}" if layout == "hub layout" else f"{split}.{ext}"
    other = name.replace(split, "train" if split == "test" else "test")
    (folder / name).parent.mkdir(parents=True)
    (folder / name).write_text(empty)
    (folder / other).write_text(rows)
    with pytest.raises(PuzzleError, match=rf"split '{split}' has no rows \({re.escape(name)} holds none\).*Give it "
                                          rf"rows, or remove {re.escape(name)}") as err:
        QA(str(folder)).pairs
    assert "DatasetGenerationError" not in str(err.value) and "Instruction" not in str(err.value)
    (folder / other).write_text(empty)  # nothing left with rows
    with pytest.raises(PuzzleError, match=rf"pairs' has no rows: .*{re.escape(name)}.* hold none"):
        QA(str(folder)).pairs


def compressed(data: bytes, compression: str, name: str) -> bytes:
    """`data` as the file `name`.`compression` holds it (a zip holds it as the file `name`)."""
    import bz2
    import io
    import lzma
    import zipfile

    if compression != "zip":
        return {"gz": gzip.compress, "bz2": bz2.compress, "xz": lzma.compress}[compression](data)
    packed = io.BytesIO()
    with zipfile.ZipFile(packed, "w") as archive:
        archive.writestr(name, data)
    return packed.getvalue()


@pytest.mark.parametrize("compression", ["gz", "bz2", "xz", "zip"])  # those datasets extracts with no extra library
@pytest.mark.parametrize("ext, empty, rows", NO_ROWS)
def test_a_compressed_file_of_no_rows_is_named_with_its_split_as_its_uncompressed_twin(tmp_path, compression, ext,
                                                                                       empty, rows):
    """A test.jsonl.gz of nothing (or test.json.gz holding [], test.csv.xz of its header) failed in datasets' words
    ('Instruction "test" corresponds to no data!', or a bare StopIteration for a folder of that file alone), while
    the same file uncompressed was named with its split: it is named so, read as datasets reads it, decompressed."""
    folder = tmp_path / "pairs"
    folder.mkdir()
    name = f"test.{ext}.{compression}"
    (folder / name).write_bytes(compressed(empty.encode(), compression, f"test.{ext}"))
    (folder / f"train.{ext}.{compression}").write_bytes(compressed(rows.encode(), compression, f"train.{ext}"))
    with pytest.raises(PuzzleError, match=rf"split 'test' has no rows \({re.escape(name)} holds none\).*Give it "
                                          rf"rows, or remove {re.escape(name)}"):
        QA(str(folder)).pairs
    (folder / f"train.{ext}.{compression}").unlink()  # the file alone: datasets' StopIteration, for some
    with pytest.raises(PuzzleError, match=rf"pairs' has no rows: {re.escape(name)} holds none"):
        QA(str(folder)).pairs
    (folder / name).write_bytes(compressed(rows.encode(), compression, f"test.{ext}"))  # with rows: read
    assert len(QA(str(folder)).pairs) == 2


@pytest.mark.parametrize("ext, empty, rows", NO_ROWS)
def test_a_zip_of_no_rows_is_read_as_the_file_it_holds(tmp_path, ext, empty, rows):
    """A test.zip holding test.jsonl of no rows: the format was read from the zip's own name, which has none
    (test.zip, not test.jsonl.zip), so the file was not known to be empty and datasets' 'Instruction "test"
    corresponds to no data!' was said. datasets reads the file in it, as this check does now."""
    folder = tmp_path / "pairs"
    folder.mkdir()
    (folder / "test.zip").write_bytes(compressed(empty.encode(), "zip", f"test.{ext}"))
    (folder / "train.zip").write_bytes(compressed(rows.encode(), "zip", f"train.{ext}"))
    with pytest.raises(PuzzleError, match=r"split 'test' has no rows \(test.zip holds none\)"):
        QA(str(folder)).pairs


def test_a_split_with_no_answer_in_any_row_is_named_as_a_split(tmp_path):
    """A hub test split published without its answers: every row lacks one, so naming row 0 sends the user
    to fix one row; the error names the split and says to leave it out."""
    from datasets import Dataset, DatasetDict

    train = Dataset.from_dict({"question": ["a?", "b?"], "answer": ["1", "2"]})
    unanswered = Dataset.from_dict({"question": ["c?", "d?"], "answer": [None, None]})
    DatasetDict({"train": train, "test": unanswered}).save_to_disk(str(tmp_path / "saved"))
    no_answers = r"split 'test': none of its 2 rows has an answer \('answer' is empty or null.*del dataset\['test'\]"
    with pytest.raises(PuzzleError, match=no_answers):
        QA(str(tmp_path / "saved")).pairs
    with pytest.raises(PuzzleError, match=r"\[all\] row 1: the answer \('answer'\) must be text"):  # one hole: the row
        QA(save_pairs(tmp_path, ["1", None])).pairs


def test_a_trained_run_whose_data_file_moved_says_how_to_point_at_it():
    """python -m eval RUN rebuilds the test split from the path saved in the run's config: after a
    move the error says the override that evaluates it (python -m eval RUN task.path=NEW)."""
    with pytest.raises(PuzzleError, match=r"no such file \(moved\? give its new place: task.path=NEW\)"):
        QA("no/such/file.jsonl").pairs


def test_a_hub_id_with_the_hub_offline_fails_at_once_saying_what_to_do(monkeypatch):
    """With HF_HUB_OFFLINE=1 a hub id not in the local datasets cache cannot load: the error says
    so and names the ways out (load it once online, a saved folder or a .jsonl file), not only
    datasets' "Couldn't reach ... (OfflineModeIsEnabled)"."""
    import datasets

    monkeypatch.setattr(datasets.config, "HF_HUB_OFFLINE", True)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(PuzzleError) as err:
        QA("nobody-here/no-such-qa-set").pairs
    message = str(err.value)
    assert "not a file or folder here" in message and "HF_HUB_OFFLINE=1" in message
    assert "not in the local datasets cache" in message
    assert "save_to_disk" in message and ".jsonl" in message


def test_a_folder_here_that_cannot_be_loaded_offline_is_not_called_absent(tmp_path, monkeypatch):
    """The offline hub id's advice is for a path that is nothing here: a folder of no data files is named as the
    folder it is, not "not a file or folder here"."""
    import datasets

    monkeypatch.setattr(datasets.config, "HF_HUB_OFFLINE", True)
    (tmp_path / "notes.bin").write_bytes(b"no data")
    with pytest.raises(PuzzleError, match="could not be loaded as a JSON") as err:
        QA(str(tmp_path)).pairs
    assert "not a file or folder here" not in str(err.value)


def test_a_hub_id_that_fails_online_is_not_told_about_the_offline_cache(monkeypatch):
    """With the hub reachable (HF_HUB_OFFLINE unset) a hub id that fails to load (misspelled, private) is the
    hub's own error, not "not in the local datasets cache, which is all HF_HUB_OFFLINE=1 lets load_dataset read"."""
    import datasets

    def unreachable(path, *args, **kwargs):  # the hub's answer, which this machine cannot ask for
        raise ConnectionError(f"Couldn't reach '{path}' on the Hub")

    monkeypatch.setattr(datasets.config, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(datasets, "load_dataset", unreachable)
    with pytest.raises(PuzzleError, match=r"could not be loaded .*ConnectionError: Couldn't reach") as err:
        QA("nobody-here/no-such-qa-set").pairs
    assert "local datasets cache" not in str(err.value)


@pytest.mark.parametrize("name", ["pairs.txt", "PAIRS.JSONL"])
def test_a_latin1_text_file_of_any_text_suffix_is_told_to_be_saved_as_utf8(name, tmp_path):
    """A .txt or upper-case .JSONL file in Latin-1 is text to save as UTF-8, not told "a .txt file is not
    read" as a file with no text in it is (.gz, .parquet)."""
    path = tmp_path / name
    path.write_bytes('{"question": "caf\u00e9?", "answer": "b"}\n'.encode("latin-1"))
    with pytest.raises(PuzzleError, match=rf"{name} is not UTF-8 text .*save it as UTF-8"):
        QA(str(path)).pairs


def test_a_bad_row_of_a_puzzles_file_is_named_by_its_file_line(tmp_path):
    """`python -m eval RUN --puzzles pairs.jsonl` skips blank lines: a failure named "puzzle 1"
    (its position, from 0) was on line 3, and a JSON error's own "line 1" was within the row."""
    from eval.puzzle_file import parse_puzzles, read_puzzles

    pairs = tmp_path / "pairs.jsonl"
    pairs.write_text('{"question": "a?", "answer": "1"}\n\n{"question": "b?"}\n{bad\n', encoding="utf-8")
    task = QA(path=str(pairs))
    parsed, failures = parse_puzzles(task, read_puzzles(pairs, task))
    assert len(parsed) == 1 and [f["line"] for f in failures] == [3, 4]
    assert failures[0]["error"].startswith("line 3: no field 'answer'")
    assert failures[1]["error"].startswith("line 4 is not valid JSON (")


def test_a_puzzles_file_of_pairs_is_scored_whatever_its_name(tmp_path):
    """`python -m eval RUN --puzzles pairs.txt` on a qa run was told to use a .jsonl file, though its
    lines were the objects asked for (hybrid.solve read them so), and a .jsonl file of plain
    questions was told each line is no JSON. A line written as JSON is read as JSON in a file of any
    name; a file with none is refused, as it holds no answer to score against."""
    from eval import HarnessError
    from eval.__main__ import read_data
    from hybrid.config import load_config

    data = write(tmp_path, '{"question": "x?", "answer": "y"}\n')
    config = load_config(["task=qa", f"task.path={data}"])
    task = make_task(config.task)
    pairs = tmp_path / "pairs.txt"
    pairs.write_text('{"question": "a?", "answer": "1"}\n"b?"\nc?\n', encoding="utf-8")
    _, _, parsed, failures, _ = read_data(task, config, "test", pairs)
    assert [(e.question, e.answer) for e in parsed] == [("a?", "1")] and [f["line"] for f in failures] == [2, 3]
    assert all("must be a JSON object holding a question and its answer" in f["error"] for f in failures)
    plain = tmp_path / "plain.jsonl"
    plain.write_text("c?\nd?\n", encoding="utf-8")
    with pytest.raises(HarnessError, match=r'no line of the file is JSON: give one \{"question": ..., "answer": ...\} '
                                           r"object per line"):
        read_data(task, config, "test", plain)


def test_a_huge_bad_question_is_quoted_short():
    """A blank question of a megabyte (or a pasted file) was quoted whole in its error."""
    with pytest.raises(PuzzleError) as raised:
        QA("unused.jsonl").from_row({"question": " " * 1_000_000, "answer": "4"}, where="line 2")
    assert len(str(raised.value)) < 300 and "(1000000 characters)" in str(raised.value)
    with pytest.raises(PuzzleError, match=r"line 3: the question \('question'\) must be non-empty text, got a list"):
        QA("unused.jsonl").from_row({"question": [1] * 100_000, "answer": "4"}, where="line 3")


def test_a_puzzles_file_line_may_hold_a_unicode_line_separator(tmp_path):
    """--puzzles pairs.jsonl cut its lines with splitlines, which ends a line at U+2028 too: a valid
    pair written by json.dumps(..., ensure_ascii=False) became two failures, one named on a line the file lacks."""
    from eval.puzzle_file import parse_puzzles, read_puzzles

    pairs = tmp_path / "pairs.jsonl"
    rows = [{"question": "a?\u2028b?", "answer": "1"}, {"question": "c?"}]
    pairs.write_bytes("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows).encode("utf-8"))
    task = QA(path=str(pairs))
    parsed, failures = parse_puzzles(task, read_puzzles(pairs, task))
    assert [e.question for e in parsed] == ["a?\u2028b?"] and [f["line"] for f in failures] == [2]


def test_max_answer_chars_below_one_is_refused_when_the_task_is_built(tmp_path):
    """It was taken, and only the file's first answer failed, as one too long for the slots."""
    with pytest.raises(PuzzleError, match=r"task.max_answer_chars=0: an answer needs at least one slot"):
        QA(write(tmp_path, '{"question": "a?", "answer": "b"}\n'), max_answer_chars=0)


def test_a_constant_answer_is_learned_with_the_attention_mixer(small_config, tmp_path):
    """Every question answered "abc": slot 1 must write a, slot 2 b, slot 3 c, slot 4 END. With
    reasoner.mixer=attention (no slot positions of its own) each slot knows which it is only by
    its learned query; started 50x below the unit-scale latents it is added to, the queries left
    the slots alike and the model wrote one character in every slot."""
    from hybrid.train import train

    data = write(tmp_path, "".join(f'{{"question": "Question {i}?", "answer": "abc"}}\n' for i in range(40)))
    results = train(small_config("task=qa", f"task.path={data}", "task.max_answer_chars=8", "task.test_size=8",
                                 "reasoner.mixer=attention", "reasoner.hidden=64", "train.lr=3e-3", "train.ema=0",
                                 "train.steps=30"))
    assert results["test"]["exact_accuracy"] == 1.0  # 0.0 (cell accuracy 0.25) with the queries at 0.02


def test_input_with_no_puzzles_names_the_question_field_the_model_reads(tmp_path, monkeypatch):
    """A qa model trained with task.question_field=prompt reads {"prompt": ...} lines: "holds no puzzles"
    said to give a "question", a field its user's file does not use. The saved config says which, before
    any weights load (here there are none to load: the file is not weights)."""
    from eval import HarnessError
    from eval.__main__ import evaluate_run
    from hybrid.config import load_config, to_yaml
    from hybrid.solve import main as solve_main

    model = tmp_path / "model"
    model.mkdir()
    (model / "config.yaml").write_text(to_yaml(load_config(["task=qa", f"task.path={FIXTURE}",
                                                            "task.question_field=prompt"])))
    (model / "model.safetensors").write_text("not weights: the input is refused before they are read")
    empty = tmp_path / "in.jsonl"
    empty.write_text("\n")
    with pytest.raises(SystemExit, match=r'in.jsonl holds no puzzles: .*JSON lines with a "prompt"'):
        solve_main([str(model), "--input", str(empty)])
    with pytest.raises(HarnessError, match=r'in.jsonl holds no puzzles: .*JSON lines with a "prompt"'):
        evaluate_run(model, puzzles=empty)
    with pytest.raises(HarnessError, match=r'in.jsonl holds no puzzles: .*JSON lines with a "q"'):
        evaluate_run(model, ["task.question_field=q"], puzzles=empty)  # the field this evaluation reads
    with pytest.raises(SystemExit, match=r'in.jsonl holds no puzzles: .*JSON lines with a "question"'):
        solve_main([str(tmp_path / "no_model"), "--input", str(empty)])  # no config to read: the usual field
