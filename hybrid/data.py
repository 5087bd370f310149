"""Data pipeline: generate puzzle splits once (saved as `datasets` on disk), and give the
training batches from where a run stands (`batches_from`). Embedding the puzzles with the
backbone (token states cached on disk) lives in hybrid/cache.py.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import numbers
import random
import time
import warnings
from contextlib import contextmanager
from pathlib import Path

import datasets
from datasets import Dataset, DatasetDict, load_from_disk

from eval.tasks import IGNORE, Example, PuzzleError, Task
from eval.tasks.text_answer import AnswerDoesNotFit, why_left_out
from hybrid.config import ConfigError
from hybrid.folders import build_once
from hybrid.lock import lock_file
from hybrid.progress import progress_bar

SPLIT_SEEDS = {"train": 1, "test": 2, "test_heldout": 3}  # disjoint streams per split
# The rules `generate_splits` draws by, in the key of saved splits beside each family's version:
# a change here must not hand a run splits drawn by the old rules.
# 2: a test split holds each puzzle once (drawn with replacement, 13 of 1,000 4x4 Sudoku test
#    puzzles were repeats, each counted twice in the accuracy).
GENERATION = 2


def _digest(*parts) -> str:
    h = hashlib.sha256()
    for part in parts:
        h.update(json.dumps(part, sort_keys=True, default=str).encode())
    return h.hexdigest()[:16]


def split_wordings(task: Task, task_config) -> tuple[list[int], list[int]]:
    """(wordings to train and test on, held-out wordings), checked against the family's count."""
    held_out = list(getattr(task_config, "held_out_wordings", None) or [])
    wanted = getattr(task_config, "wordings", None)
    for key, chosen in (("wordings", wanted or []), ("held_out_wordings", held_out)):
        if any(not 0 <= w < task.num_wordings for w in chosen):
            raise ConfigError(f"task.{key}={chosen}: {task.name} has wordings 0..{task.num_wordings - 1}")
        twice = sorted({w for w in chosen if chosen.count(w) > 1})
        if twice:  # a repeat drew that wording twice as often, unasked, and keyed another set of splits
            raise ConfigError(f"task.{key}={chosen} names wording(s) {twice} more than once: name each once")
    seen = [w for w in (range(task.num_wordings) if wanted is None else wanted) if w not in held_out]
    if not seen:
        every = "null (all)" if wanted is None else wanted  # as the config is written
        raise ConfigError(f"task.wordings={every} and task.held_out_wordings={held_out} leave no wording to train on")
    return seen, held_out


def answering_wording(task: Task, task_config) -> int:
    """The wording a typed puzzle is rendered in for the model: the first one it trained on."""
    return split_wordings(task, task_config)[0][0]


def generate_split(task: Task, size: int, seed: int, wordings: list[int], exclude: set[str], desc: str,
                   distinct: bool = False) -> Dataset:
    """`size` puzzles in `wordings`, none of them in `exclude` (by `puzzle_key`, any wording); with
    `distinct`, none twice either. Training may repeat a puzzle (as another epoch would); a test
    split must not, or the repeated puzzle counts twice in its accuracy.

    A drawn puzzle whose answer the slots cannot hold (`AnswerDoesNotFit`) is left out and another
    drawn in its place, with one warning for the split; when those outnumber `size`, the settings
    are wrong and the split is refused."""
    rng = random.Random(seed)
    exclude = set(exclude)
    records, rejected, left_out = [], 0, []
    with progress_bar(total=size, desc=f"generating {desc}", leave=False) as bar:
        while len(records) < size:
            wording = rng.choice(wordings)
            try:
                example = task.generate(rng, wording)
            except AnswerDoesNotFit as err:  # one "é" among word_sorting's answers stopped the whole split
                left_out.append(err)
                if len(left_out) > size:
                    raise ConfigError(f"{desc}: most {task.name} puzzles drawn have answers the slots cannot hold "
                                      f"({len(left_out)} left out, {len(records)} kept): "
                                      f"{why_left_out(left_out)}; e.g. {err}") from None
                continue
            if not isinstance(example, Example):  # a `return` forgotten: an AttributeError on the next line
                raise PuzzleError(f"task {task.name}: generate(rng, wording={wording}) returned "
                                  f"{type(example).__name__}, not an Example (eval.tasks.Example)")
            if example.wording != wording:  # recorded wrong, the held-out and per-wording figures would be mislabelled
                raise PuzzleError(f"task {task.name}: generate(rng, wording={wording}) returned an example of wording "
                                  f"{example.wording}: give Example(..., wording=wording)")
            key = task.puzzle_key(example)
            if key in exclude:  # keep training puzzles out, in any wording
                rejected += 1
                if rejected > 100 * size:  # a small puzzle space would loop forever; the settings' fault
                    drawn = "training puzzles or its own" if distinct else "training puzzles"
                    raise ConfigError(f"{desc}: {task.name} keeps repeating {drawn} ({len(records)} of {size} "
                                      f"new ones after {rejected} repeats); lower task.train_size or task.test_size, "
                                      "or make the puzzle space larger (reasoning_gym: a larger task.size, the pool "
                                      "drawn from; a grid family: a larger grid)")
                continue
            if distinct:
                exclude.add(key)
            records.append(example.to_record())
            bar.update()
    if left_out:
        warnings.warn(f"{desc}: left out {len(left_out)} of the {len(left_out) + size + rejected} {task.name} puzzles "
                      f"drawn, their answers not fitting the slots: {why_left_out(left_out)}. "
                      f"The split holds {size} puzzles all the same, drawn further", stacklevel=2)
    return Dataset.from_list(records)


def generate_splits(task: Task, task_config, seed: int) -> dict[str, Dataset]:
    config = dataclasses.asdict(task_config)
    seen, held_out = split_wordings(task, task_config)
    splits = {"train": generate_split(task, config["train_size"], seed * 1000 + SPLIT_SEEDS["train"], seen, set(), "train")}
    train_keys = {task.puzzle_key(e) for e in examples(splits["train"])}
    splits["test"] = generate_split(task, config["test_size"], seed * 1000 + SPLIT_SEEDS["test"], seen, train_keys, "test",
                                    distinct=True)
    if held_out:
        splits["test_heldout"] = generate_split(task, config["test_size"], seed * 1000 + SPLIT_SEEDS["test_heldout"],
                                                held_out, train_keys, "test (held-out wordings)",
                                                distinct=True)
    return splits


def check_batch_fits(train_config, num_processes: int, train_puzzles: int) -> None:
    """The global batch (train.batch_size) splits evenly over the processes and accumulation steps, and
    the training split fills one: checked once the splits exist, before a backbone loads or embeds."""
    size, k = train_config.batch_size, train_config.grad_accum
    if size % (num_processes * k):
        raise ConfigError(f"train.batch_size={size} must split evenly over {num_processes} "
                          f"processes x train.grad_accum={k}")
    if train_puzzles < size:
        raise ConfigError(f"train.batch_size={size} is larger than the training set "
                          f"({train_puzzles} puzzles): lower train.batch_size or raise task.train_size")


@contextmanager
def no_progress_bars():
    """datasets' progress bars off, then as they were."""
    shown = not datasets.are_progress_bars_disabled()
    datasets.disable_progress_bars()
    try:
        yield
    finally:
        if shown:
            datasets.enable_progress_bars()


def build_splits(task: Task, task_config, seed: int, data_dir: str | Path) -> DatasetDict:
    """train / test (same wordings) / test_heldout (held-out wordings, if any), cached on disk.

    A family over fixed data (a QA file), or one whose test puzzles must come from elsewhere
    than its training puzzles (ARC's evaluation tasks), may define
    `splits(train_size, test_size, seed, wordings, held_out_wordings) -> {"train": [Example],
    "test": [Example], "test_heldout": [Example] (when held_out_wordings)}`, given the wordings
    of `split_wordings`; it is used instead of generation when present."""
    if Path(data_dir).expanduser().is_file():  # else an OSError that blames a full disk
        raise ConfigError(f"train.data_dir={data_dir} is a file; name a folder for generated datasets and the "
                          f"embedding cache")
    config = dataclasses.asdict(task_config)
    wordings = split_wordings(task, task_config)  # checked first: a bad choice must not find a set saved before
    # The family's generator version is in the key: a changed renderer or slot encoding must not
    # reuse puzzles saved by the old one.
    key = [config, seed, task.version, GENERATION]
    own = None
    if hasattr(task, "splits"):
        # Fixed data (a QA file, a dataset) can change under the same settings; its splits are
        # cheap to cut, so their content is in the key: an edited file must not find the old splits.
        own = {name: [e.to_record() for e in split]
               for name, split in task.splits(config["train_size"], config["test_size"], seed, *wordings).items()}
        key.append(own)
    path = splits_folder(data_dir, f"{task.name}-{_digest(*key)}")

    def save(tmp: Path) -> DatasetDict:
        if own is not None:
            splits = {name: Dataset.from_list(records) for name, records in own.items()}
        else:
            splits = generate_splits(task, task_config, seed)
        for name, split in splits.items():
            check_split(task, name, split)
        dataset = DatasetDict(splits)
        with no_progress_bars():  # saving takes a fraction of a second: its bars only fill the console
            dataset.save_to_disk(str(tmp))
        # Last, as the mark of a complete folder: save_to_disk writes dataset_dict.json before the splits.
        (tmp / "config.json").write_text(json.dumps(config, indent=2, default=str), encoding="utf-8")
        return dataset

    # Generated by the first of the runs started together (a sweep); the others wait and read it.
    made = build_once(path, "config.json", save, lock_file(data_dir, path.name), "generating the puzzle splits",
                      fix="Point train.data_dir at a writable disk with room, or free space there")
    if made is None:
        made = read_splits(path, ["train", "test"] + ["test_heldout"] * bool(wordings[1]))
    # Training records it (hybrid.splits_record): for fixed data the folder names the content, so evaluation
    # can tell a data file edited since training, whose recut test split holds training puzzles.
    made.folder = path
    return made


def splits_folder(data_dir: str | Path, name: str) -> Path:
    """Where the splits named `name` (`<family>-<digest>`) are saved under train.data_dir."""
    return Path(data_dir).expanduser() / "datasets" / name


def family_of(folder: Path) -> str:
    """The task family whose splits a folder under datasets/ holds (it is named `<family>-<digest>`)."""
    return folder.name.rsplit("-", 1)[0]


def read_splits(path: Path, names=("train", "test")) -> DatasetDict:
    """The puzzle splits saved in `path`, `names` among them; a ConfigError saying what to do where
    they are damaged."""
    try:
        made = load_from_disk(str(path))
        # dataset_dict.json names the splits read: one listing fewer (edited) loads, and a run failed later
        missing = [name for name in names if name not in made]
        if missing:
            raise ValueError(f"no {' or '.join(missing)} split")
        return made
    except (OSError, ValueError) as err:  # a file cut short or edited: pyarrow's and json's errors are ValueErrors
        cause = " ".join(str(err).split())[:200]
        raise ConfigError(f"the puzzle splits saved in {path} are damaged ({type(err).__name__}: {cause}); "
                          f"remove that folder and they are generated again") from None


def check_split(task: Task, name: str, split: Dataset) -> None:
    """A family's examples against what it declares, before they are saved: a wrong slot count or a
    class outside `vocab` would fail later, deep inside training; examples without `slot_spans` for
    span pooling would train, silently, on slots that read nothing of the question."""
    for i, (question, labels, spans) in enumerate(zip(split["question"], split["labels"], split["slot_spans"])):
        check_example(task, f"task {task.name}, {name} example {i}", labels, spans, question)


def check_example(task: Task, where: str, labels, spans, question: str) -> None:
    """One example against what its family declares (check_split); `where` names it."""
    if len(labels) != task.num_slots:
        raise PuzzleError(f"{where}: {len(labels)} labels, but the family declares num_slots={task.num_slots}")
    not_ids = [label for label in labels if not isinstance(label, numbers.Integral)]  # numpy's ints too
    if not_ids:
        raise PuzzleError(f"{where}: label {not_ids[0]!r} is not a class id: each label is an index into its vocab "
                          f"(or IGNORE), e.g. labels=[vocab.index(symbol) for symbol in answer]")
    wrong = [label for label in labels if label != IGNORE and not 0 <= label < len(task.vocab)]
    if wrong:
        raise PuzzleError(f"{where}: label {wrong[0]} is neither a class of its vocab (0..{len(task.vocab) - 1}) "
                          f"nor IGNORE")
    if task.aligned_slots and not spans:
        raise PuzzleError(f"{where} has no slot_spans, which span pooling reads (aligned_slots is True): "
                          f"give each example its slot_spans, or make aligned_slots False")
    if task.aligned_slots:  # a slot without its piece of the question reads nothing, silently
        if len(spans) > task.num_slots:
            raise PuzzleError(f"{where}: {len(spans)} slot_spans, but the family declares num_slots={task.num_slots}")
        unread = [slot for slot in range(len(spans), len(labels)) if labels[slot] != IGNORE]
        if unread:
            raise PuzzleError(f"{where}: slot {unread[0]} has a label but no slot_span ({len(spans)} spans): give "
                              f"every labelled slot the (start, end) characters of its piece of the question")
        outside = [(slot, tuple(span)) for slot, span in enumerate(spans)
                   if not 0 <= span[0] < span[1] <= len(question)]
        if outside:
            slot, span = outside[0]
            raise PuzzleError(f"{where}: slot_span {span} of slot {slot} is not inside its question ({len(question)} "
                              f"characters): a span is (start, end) characters of the question, start < end")


def examples(split: Dataset) -> list[Example]:
    return [Example.from_record(r) for r in split]


def timed(batches, clock: dict):
    """The batches of `batches`, adding the time spent waiting for each to clock["seconds"] (with
    backbone.cache=false that is mostly the backbone's forward)."""
    batches = iter(batches)
    while True:
        start = time.perf_counter()
        try:
            batch = next(batches)
        except StopIteration:
            return
        finally:
            clock["seconds"] += time.perf_counter() - start
        yield batch


def batches_from(progress, loader, accelerator, waited: dict):
    """The loader's batches from batch `progress.step` on, epoch after epoch (a run resumed mid-epoch
    skips what its epoch already gave), the wait for each added to waited["seconds"]."""
    epoch_len = len(loader)
    while True:
        epoch, offset = divmod(progress.step, epoch_len)
        loader.set_epoch(epoch)
        yield from timed(accelerator.skip_first_batches(loader, offset) if offset else loader, waited)
