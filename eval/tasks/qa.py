"""Any (question, answer) dataset: a JSONL file, a `datasets` dataset saved on disk, or a hub id.

    task=qa task.path=tests/data/qa_small.jsonl task.question_field=question task.answer_field=answer

An example instance (a line of tests/data/qa_small.jsonl) and what the backbone reads:

    {"question": "What is 7 times 6?", "answer": "42"}

    What is 7 times 6?

Answer text: the answer field, surrounding space removed ("42"). Answer slots: its characters,
then END (see `text_answer`), `max_answer_chars` slots in all. Verify is an exact match after
`text_answer.normalize` (case and runs of whitespace do not count).

This is fixed data, not a generator, so the family brings its own train/test splits
(`splits`): a source that has train and test (or validation) splits keeps them; a single file
is shuffled with the run's seed and cut. Repeated pairs are kept once, and a training question
that also appears in the test split is dropped, so the test split stays unseen.
"""

from __future__ import annotations

import io
import json
import math
import os
import random
import warnings
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from eval.tasks import text_answer
from eval.tasks.base import Example, PuzzleError, Task, TaskConfig, shortened, text_lines, with_line_feeds


@dataclass
class QaConfig(TaskConfig):
    """train_size and test_size are upper limits: a smaller source gives smaller splits. One
    wording: the question field as it is."""

    name: str = "qa"
    path: str | None = None  # a .jsonl/.json file, a folder from Dataset.save_to_disk, or a hub id
    question_field: str = "question"
    answer_field: str = "answer"
    max_answer_chars: int = 64  # answer slots; a longer answer is an error naming this knob


def read_json_rows(path: Path) -> list[dict]:
    """Objects from a JSONL file (one per line) or a .json file holding a list of them."""
    try:
        text = path.read_text(encoding="utf-8-sig")  # -sig: a byte-order mark (Windows editors write one) is not data
    except UnicodeDecodeError as err:  # a Latin-1 or UTF-16 export: a PuzzleError, which the commands report
        if path.suffix.lower() not in (".json", ".jsonl", ".txt"):  # no text at all: "save it as UTF-8" misleads
            raise PuzzleError(f"{path}: a {path.suffix} file is not read; give a .jsonl or .json file, or the folder "
                              f"holding it (datasets' load_dataset reads a folder of parquet, csv or compressed "
                              f"json files)") from None
        raise PuzzleError(f"{path} is not UTF-8 text ({err.reason} at byte {err.start}); save it as UTF-8") from None
    if path.suffix.lower() == ".json":  # DATA.JSON too: read as JSON Lines, its list was "not a JSON object"
        try:
            rows = json.loads(text)
        except json.JSONDecodeError as err:
            hint = " (one object per line is JSON Lines: name the file .jsonl)" if err.msg == "Extra data" else ""
            raise PuzzleError(f"{path}: not valid JSON ({err.msg} at line {err.lineno}){hint}") from None
        if not isinstance(rows, list):
            raise PuzzleError(f"{path}: expected a JSON list of objects (or use a .jsonl file, one object per line)")
        where = [f"{path}: item {i}" for i in range(len(rows))]
    else:
        rows, where = [], []
        # As typed input's lines: cut at line ends only (a JSON string may hold U+2028 as it is), each without the
        # byte-order mark files joined end to end (cat a.jsonl b.jsonl) keep, so a line of the mark alone is blank
        for number, line in enumerate(text_lines(text), 1):
            if not line.strip():
                continue
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as err:
                if path.suffix.lower() in (".csv", ".tsv"):  # read as JSON Lines, which says nothing of what to do
                    raise PuzzleError(f"{path}: a CSV file is not read; convert it to JSON Lines (one "
                                      f'{{"question": ..., "answer": ...}} object per line, named .jsonl), or load '
                                      f"it with datasets and give the folder Dataset.save_to_disk writes") from None
                raise PuzzleError(f"{path}:{number}: not a JSON object ({err.msg}): {line[:60]!r}") from None
            where.append(f"{path}:{number}")
    for row, at in zip(rows, where):
        if not isinstance(row, dict):
            raise PuzzleError(f"{at}: expected a JSON object with question and answer fields, got {type(row).__name__}")
    return [dict(row, _where=at) for row, at in zip(rows, where)]


def empty_saved_splits(folder: Path) -> list[str]:
    """The splits of a `save_to_disk` folder saved with no rows ("" for a Dataset saved empty): datasets
    writes them no data file, and `load_from_disk` then fails with "IndexError: list index out of range"."""
    states = [folder / "state.json"] if (folder / "state.json").exists() else sorted(folder.glob("*/state.json"))
    empty = []
    for state in states:
        try:
            files = json.loads(state.read_text(encoding="utf-8"))["_data_files"]
        except (OSError, ValueError, KeyError, TypeError):
            continue
        if not files:
            empty.append("" if state.parent == folder else state.parent.name)
    return empty


def decompressed(file: Path):
    """`file` opened (binary) as datasets reads it, and the suffix of the format it holds. datasets extracts a
    compressed data file first (test.jsonl.gz, .bz2, .xz, a .zip; .zst or .lz4 where their libraries are
    installed, as fsspec finds them): such a file is opened decompressed, as the format it holds (.jsonl: its
    name's, test.jsonl.gz; a zip's, its file's, as datasets reads a test.zip holding test.jsonl)."""
    from fsspec.core import open as open_file  # a dependency of datasets
    from fsspec.utils import infer_compression

    compression = infer_compression(file.name)
    if compression is None:
        return open(file, "rb"), file.suffix.lower()
    inner = Path(file.stem).suffix.lower()
    if compression == "zip":  # fsspec reads a zip's first file alone; datasets reads them all
        with zipfile.ZipFile(file) as archive:
            files = archive.namelist()
        if len(files) > 1:
            raise ValueError(f"{file} holds {len(files)} files: whether any has rows is not read here")
        if not files:
            return io.BytesIO(), inner
        inner = Path(files[0]).suffix.lower() or inner
    return open_file(str(file), "rb", compression=compression).open(), inner


def rowless_files(folder: Path) -> dict[str, tuple[list[str], bool]]:
    """The splits of a folder of data files (as `load_dataset` reads it: train.parquet, data/test-*.csv),
    and the files of each that hold no rows: a parquet file of none, a csv file of only its header, a json
    file holding [] or only blank lines (compressed or not: a test.jsonl.gz of nothing was datasets' "corresponds
    to no data" still), or any file of no bytes. Each split -> (those files, relative to
    `folder`; whether they are all of its files). datasets cannot load such a file, and says so naming
    neither split nor file ("DatasetGenerationError: An error occurred while generating the dataset", or
    'ValueError: Instruction "test" corresponds to no data!'). {} where the folder's files cannot be listed so."""
    try:
        import pandas
        import pyarrow.parquet as parquet
        from datasets.data_files import DataFilesDict, get_data_patterns

        found = DataFilesDict.from_patterns(get_data_patterns(str(folder)), str(folder))
    except Exception:  # no data files it recognizes, or another datasets: the error it gave is said instead
        return {}

    def rowless(file: Path) -> bool:
        """Whether `file` holds no rows as datasets reads it; False where that is not known."""
        try:
            if file.stat().st_size == 0:
                return True
            if file.suffix.lower() == ".parquet":  # compressed inside: datasets reads no .parquet.gz
                return parquet.read_metadata(file).num_rows == 0
            data, suffix = decompressed(file)
            with data:
                if suffix in (".csv", ".tsv"):  # read by pandas, as datasets does: blank lines are no rows
                    return pandas.read_csv(data, nrows=1, sep="\t" if suffix == ".tsv" else ",").empty
                # Only a small json file is read whole: one of no rows ([] or blank lines) is a few bytes.
                if suffix in (".json", ".jsonl", ".ndjson") and len(head := data.read(65536)) < 65536:
                    text = head.decode("utf-8-sig").strip()
                    return not text or json.loads(text) == []
        except pandas.errors.EmptyDataError:  # a csv of blank lines: no header, no rows
            return True
        except Exception:  # unreadable, or JSON Lines of rows: not known to be empty
            return False
        return False

    empty = {}
    for split, files in found.items():
        none = [Path(file) for file in files if rowless(Path(file))]
        named = [os.path.relpath(file, folder.resolve()) if file.is_absolute() else str(file) for file in none]
        empty[str(split)] = [name.replace(os.sep, "/") for name in named], len(none) == len(files)
    return empty


def rowless_said(path: str, folder: Path) -> str | None:
    """What to say of the files with no rows in `folder` (`rowless_files`), read as `task.path=path`; None
    where it has none."""
    found = rowless_files(folder)
    flagged = {split: (names, whole) for split, (names, whole) in found.items() if names}
    if not flagged:
        return None
    files = [name for names, _ in flagged.values() for name in names]
    if len(flagged) == len(found) and all(whole for _, whole in flagged.values()):
        return (f"task.path={path!r} has no rows: {', '.join(files)} hold{'s' * (len(files) == 1)} none, and "
                f"datasets cannot load a data file with no rows; give files that have rows")
    said = "; ".join(f"its split {split!r} has no rows ({', '.join(names)} hold{'s' * (len(names) == 1)} none)"
                     if whole else f"its split {split!r} has {'a file' if len(names) == 1 else 'files'} of no rows "
                                   f"({', '.join(names)})" for split, (names, whole) in flagged.items())
    left = sum(not whole for _, whole in found.values())  # splits left once those files are removed
    lone = (" (a lone split left is shuffled with train.seed and cut into train and test)"
            if left == 1 and len(found) > 1 else "")
    return (f"task.path={path!r}: {said}, and datasets cannot load a data file with no rows. Give "
            f"{'it' if len(files) == 1 else 'them'} rows, or remove {', '.join(files)}{lone}")


def float_text(value, dtype: str):
    """A number of a float column as text: a whole number as an integer ("6", not "6.0"), another as the
    shortest text its column's precision reads back (float32's 2.1 is "2.1", not "2.0999999046325684").
    None, NaN and infinities stay as they are, for `pair` to refuse by row."""
    if not isinstance(value, float) or not math.isfinite(value):
        return value
    if dtype != "float64":
        import numpy

        value = float(str(numpy.dtype(dtype).type(value)))
    return str(int(value)) if value.is_integer() and abs(value) < 2**53 else repr(value)


def load_source(path: str, answer_field: str | None = None) -> dict[str, list[dict]]:
    """split name -> rows. A file is one split named "all". A `datasets` answer column of floats
    (Arrow stores 6 beside 2.5 as 6.0) is read as `float_text`, with a warning."""
    local = Path(path).expanduser()
    if local.is_file():
        return {"all": read_json_rows(local)}
    if local.suffix.lower() in (".json", ".jsonl"):
        # A run's config keeps the path it trained with: evaluating it after the file moved lands here.
        raise PuzzleError(f"task.path={path!r}: no such file (moved? give its new place: task.path=NEW)")
    import datasets  # imported here: only sources other than a JSON file need it

    try:
        if local.is_dir() and ((local / "dataset_info.json").exists() or (local / "dataset_dict.json").exists()):
            loaded = datasets.load_from_disk(str(local))
        else:
            loaded = datasets.load_dataset(path)  # a hub id, or a folder of data files
    except Exception as err:  # datasets raises many kinds; the message is what helps
        empty = empty_saved_splits(local) if local.is_dir() else []
        if empty == [""]:
            raise PuzzleError(f"task.path={path!r} has no rows: datasets cannot load a dataset saved empty; "
                              f"save one that has rows") from None
        if empty:
            names = ", ".join(map(repr, empty))
            raise PuzzleError(f"task.path={path!r}: its split{'s' * (len(empty) > 1)} {names} "
                              f"{'have' if len(empty) > 1 else 'has'} no rows, and datasets cannot load a split "
                              f"saved empty (it writes it no data file). Give it rows, or save the dataset without "
                              f"it (del dataset[{empty[0]!r}] before save_to_disk; a lone split left is shuffled "
                              f"with train.seed and cut into train and test)") from None
        rowless = rowless_said(path, local) if local.is_dir() else None
        if rowless:
            raise PuzzleError(rowless) from None
        if not local.exists() and datasets.config.HF_HUB_OFFLINE:  # datasets' own words name no way out
            raise PuzzleError(f"task.path={path!r} is not a file or folder here, and as a hub id it is not in the "
                              f"local datasets cache, which is all HF_HUB_OFFLINE=1 lets load_dataset read: load it "
                              f"once with the hub reachable (HF_HUB_OFFLINE unset), or give a folder written by "
                              f"Dataset.save_to_disk or a .jsonl file (a relative path is read from {Path.cwd()}). "
                              f"Cause: {type(err).__name__}: {err}") from None
        raise PuzzleError(f"task.path={path!r} could not be loaded as a JSON(L) file, a saved dataset or a hub id "
                          f"(the hub is offline when HF_HUB_OFFLINE=1): {type(err).__name__}: {err}") from None
    if isinstance(loaded, datasets.Dataset):
        loaded = {"all": loaded}
    source, dtypes, read = {}, [], {}  # read: a few numbers of a float answer column -> their text
    for name, split in loaded.items():
        rows = [dict(row, _where=f"{path} [{name}] row {i}") for i, row in enumerate(split)]
        feature = split.features.get(answer_field)
        if isinstance(feature, datasets.Value) and feature.dtype.startswith("float"):
            dtypes.append(feature.dtype)
            for row in rows:
                number = row[answer_field]
                row[answer_field] = float_text(number, feature.dtype)
                if isinstance(row[answer_field], str) and len(read) < 3:
                    read.setdefault(number, row[answer_field])
        source[name] = rows
    if dtypes:
        dtype = " and ".join(dict.fromkeys(dtypes))
        examples = ", ".join(f"{number!r} as {text!r}" for number, text in read.items())
        warnings.warn(f"task.path={path!r}: its answer column {answer_field!r} is stored as {dtype}, not text, so "
                      f"the answers are read from the numbers, a whole number as an integer: {examples}. If any "
                      f"should read otherwise (such as '6.0' or '2.50'), store the answers as strings: their own text, "
                      f"or ds = ds.cast_column({answer_field!r}, Value('string')) before saving (Arrow writes 6.0 "
                      f"as '6')",
                      stacklevel=2)
    return source


def pair(row: dict, question_field: str, answer_field: str, max_chars: int, trained: bool = False) -> tuple[str, str]:
    """(question, answer) of one row, checked: both fields present, the answer fits the slots
    (`trained`: slots a model's weights fix, so raising task.max_answer_chars is no way out)."""
    where = row["_where"]
    for key, knob in ((question_field, "question_field"), (answer_field, "answer_field")):
        if key not in row:
            fields = ", ".join(k for k in row if k != "_where")
            raise PuzzleError(f"{where}: no field {key!r} (task.{knob}); the row has: {fields}")
    question, answer = row[question_field], row[answer_field]
    if not isinstance(question, str) or not question.strip():
        raise PuzzleError(f"{where}: the question ({question_field!r}) must be non-empty text, got "
                          f"{shortened(question) if isinstance(question, str) else 'a ' + type(question).__name__}")
    if isinstance(answer, float) and not math.isfinite(answer):  # JSON's NaN: a spreadsheet's empty cell, say
        raise PuzzleError(f"{where}: the answer ({answer_field!r}) is {answer}, not a finite number (a missing value "
                          f"written out?): give the row an answer, or drop it")
    if isinstance(answer, (int, float)) and not isinstance(answer, bool):
        answer = str(answer)  # numeric answers ("42") are common in JSONL files
    if not isinstance(answer, str):
        raise PuzzleError(f"{where}: the answer ({answer_field!r}) must be text or a number, "
                          f"got {type(answer).__name__}")
    answer = with_line_feeds(answer).strip()  # a Windows editor's line ends are newlines
    if not answer:  # nothing to learn or to check: a blank answer is a hole in the data, not an answer
        raise PuzzleError(f"{where}: the answer ({answer_field!r}) is empty")
    if trained and len(answer) > max_chars:
        raise PuzzleError(f"{where}: the answer has {len(answer)} characters, more than the {max_chars} this model "
                          f"writes (its task.max_answer_chars, fixed by its weights), so no answer of it can be right")
    try:
        text_answer.encode(answer, max_chars)
    except PuzzleError as err:
        raise PuzzleError(f"{where}: {err}") from None
    return question, answer


def unique(pairs: list[tuple[str, str]]) -> list[tuple[str, str]]:
    return list(dict.fromkeys(pairs))


def warn_conflicts(where: str, pairs: list[tuple[str, str]]) -> None:
    """A warning for questions given more than one answer in `where` (the file, as the user named
    it). Both pairs are kept (aliases are real data), but the model writes one answer and verify
    accepts only the pair's own: at test one of them always counts wrong, and in training their
    labels pull against each other."""
    answers: dict[str, dict[str, str]] = {}
    for question, answer in pairs:
        answers.setdefault(text_answer.normalize(question), {})[text_answer.normalize(answer)] = answer
    conflicts = [(q, list(a.values())) for q, a in answers.items() if len(a) > 1]
    if conflicts:
        question, given = conflicts[0]
        warnings.warn(f"{where}: {len(conflicts)} question(s) have more than one answer, e.g. "
                      f"{shortened(question)}: {', '.join(map(repr, given))}; a model gives one answer, so at most "
                      f"one of each counts right. Keep one answer per question", stacklevel=2)


class QA(Task):
    name = "qa"
    vocab = text_answer.VOCAB
    num_wordings = 1
    aligned_slots = False  # the answer's characters are not pieces of the question

    def __init__(self, path: str | None = None, question_field: str = "question", answer_field: str = "answer",
                 max_answer_chars: int = 64):
        if not path:
            raise PuzzleError("task=qa needs task.path: a .jsonl file, a saved dataset folder or a hub id")
        self.path = path
        self.max_answer_chars = self.num_slots = text_answer.checked_max_chars(max_answer_chars)
        self.fields = question_field, answer_field

    # Read on first use, not when the task is built: the vocabulary and slots do not depend on the
    # data, so a trained model answers new questions (hybrid.solve, Hybrid.solve) without it.
    @cached_property
    def source(self) -> dict[str, list[tuple[str, str]]]:
        """split name -> unique (question, answer) pairs, checked."""
        loaded = load_source(self.path, self.fields[1])
        for name, rows in loaded.items() if len(loaded) > 1 else ():  # a hub test split without answers, say
            for field, what in zip(self.fields, ("a question", "an answer")):
                if rows and all(field in row and (row[field] is None or str(row[field]).strip() == "")
                                for row in rows):  # named as a split, not by its first row
                    raise PuzzleError(f"task.path={self.path!r}, split {name!r}: none of its {len(rows)} rows has "
                                      f"{what} ({field!r} is empty or null in every one), so it can neither train "
                                      f"nor score: leave the split out (del dataset[{name!r}], save_to_disk, and "
                                      f"give that folder)")
        source = {name: unique([pair(row, *self.fields, self.max_answer_chars) for row in rows])
                  for name, rows in loaded.items()}
        if not any(source.values()):
            raise PuzzleError(f"task.path={self.path!r} holds no rows")
        warn_conflicts(f"task.path={self.path!r}", [p for rows in source.values() for p in rows])
        return source

    @cached_property
    def pairs(self) -> list[tuple[str, str]]:
        return [p for rows in self.source.values() for p in rows]

    def example(self, question: str, answer: str, wording: int = 0) -> Example:
        return Example(question=question, answer=answer, labels=text_answer.encode(answer, self.max_answer_chars),
                       wording=wording)

    def from_row(self, row: dict, wording: int = 0, where: str = "the row") -> Example:
        """An example from one (question, answer) object read by hand (`python -m eval --puzzles
        mine.jsonl`): the answer cannot be worked out from the question, so it comes with it, in the
        task's fields."""
        # The slots are the trained model's: an answer longer than them says so, not to raise the knob.
        return self.example(*pair(dict(row, _where=where), *self.fields, self.max_answer_chars, trained=True), wording)

    def generate(self, rng: random.Random, wording: int) -> Example:
        """A pair drawn from the whole source (every split)."""
        return self.example(*rng.choice(self.pairs), wording)

    def splits(self, train_size: int, test_size: int, seed: int, wordings: Sequence[int] = (0,),
               held_out_wordings: Sequence[int] = ()) -> dict[str, list[Example]]:
        """train and test examples: the source's own splits when it has them, else a seeded cut
        of its one split. Sizes are upper limits. Training drops questions the test split asks.
        There is one wording (the question as written), so the wordings choose nothing here."""
        rng = random.Random(seed)
        names = set(self.source)
        if len(names) == 1:
            pairs = list(next(iter(self.source.values())))
            rng.shuffle(pairs)
            test, train = pairs[:test_size], pairs[test_size:]
        else:
            test_name = next((n for n in ("test", "validation") if n in names), None)
            if "train" not in names or test_name is None:
                raise PuzzleError(f"task.path={self.path!r} has splits {sorted(names)}; "
                                  "expected 'train' and 'test' (or 'validation')")
            train, test = list(self.source["train"]), list(self.source[test_name])
            rng.shuffle(train)
            rng.shuffle(test)
            test = test[:test_size]
        asked = {text_answer.normalize(q) for q, _ in test}
        train = [p for p in train if text_answer.normalize(p[0]) not in asked][:train_size]
        if not train or not test:
            # Repeats count once: ten copies of one line are one pair, which no test_size can split.
            held = f"{len(self.pairs)} distinct pair(s)" if len(names) == 1 else f"splits {sorted(names)}"
            raise PuzzleError(f"task.path={self.path!r} ({held}) leaves {len(train)} training and {len(test)} "
                              f"test pairs; both need at least one (lower task.test_size or add rows)")
        return {"train": [self.example(q, a) for q, a in train], "test": [self.example(q, a) for q, a in test]}

    def decode(self, example: Example, ids: list[int]) -> str:
        return text_answer.decode(ids)

    def verify(self, example: Example, answer: str) -> bool:
        return text_answer.normalize(answer) == text_answer.normalize(example.answer)
