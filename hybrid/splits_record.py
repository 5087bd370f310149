"""The splits record: which puzzle splits a run's weights trained on, so evaluation can leave
their training puzzles out of what it scores."""

from __future__ import annotations

import json
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from hybrid.config import ConfigError, as_dict

if TYPE_CHECKING:  # a type only: hybrid.checkpoint imports this module
    from hybrid.config import Config

# In a run's folder, copied into each checkpoint and final/ as saved: {"folder": the splits' folder it
# trains on, "earlier": [splits' folders its weights trained on before, oldest first]}. Earlier ones
# come from the run it resumed, on data changed since (an edited file, a task override), or the one it
# started from (train.init_from): their training puzzles may fall in this data's test split.
SPLITS_RECORD = "splits.json"


def recorded_splits(run: Path) -> list[Path]:
    """The splits' folders the weights in `run` trained on, oldest first (SPLITS_RECORD); none for a
    run from before records, or one whose record is damaged."""
    try:
        record = json.loads((Path(run) / SPLITS_RECORD).read_text(encoding="utf-8"))
        earlier, newest = record.get("earlier", []), record["folder"]
    except (OSError, ValueError, KeyError, TypeError, AttributeError):  # none, cut short, or not an object
        return []
    folders = [*earlier, newest] if isinstance(earlier, list) else []
    return [Path(f) for f in folders] if all(isinstance(f, str) for f in folders) else []


def record_splits(run: Path, folder: Path, earlier: list[Path]) -> None:
    """Write `run`'s SPLITS_RECORD: it trains on `folder`, its weights trained on `earlier` before."""
    (run / SPLITS_RECORD).write_text(splits_record_text(folder, earlier), encoding="utf-8")


def splits_record_text(folder: Path, earlier: list[Path]) -> str:
    """SPLITS_RECORD's text, for record_splits."""
    kept: list[Path] = []
    for f in earlier:  # once each, by name: a folder's name is its content
        if f.name != folder.name and f.name not in {k.name for k in kept}:
            kept.append(f)
    return json.dumps({"folder": str(folder), "earlier": [str(f) for f in kept]})


def trained_puzzles(task, config: Config, trained: Config, recorded: Sequence[Path] = (),
                    cut: Path | None = None) -> set[str]:
    """The puzzle keys (`Task.puzzle_key`) of the training splits the weights were trained on, where
    the evaluated split may hold some of them. A test split leaves out the training puzzles of its
    own config, but an override of a task field or the seed (`task.wordings`,
    `task.held_out_wordings`, `train.seed`) draws another training split: on a small puzzle space
    (zebra 3 x 1, 4x4 Sudoku) its test split then holds puzzles the weights did train on. So does
    fixed data edited since training (a qa file with rows added): the same config recuts it. And
    the weights may have trained on other splits before (a resume on data changed since,
    train.init_from). `recorded`: the splits' folders training recorded, oldest first
    (`hybrid.checkpoint.splits_of`; none for a run from before records); `cut`: the folder the
    evaluated split came from. Empty when they are all that one, or of another family."""
    from eval.tasks import make_task  # here: hybrid.checkpoint imports this module, and needs no task
    from hybrid.data import build_splits, family_of

    same = (as_dict(trained)["task"], trained.train.seed) == (as_dict(config)["task"], config.train.seed)
    if not recorded:  # a run from before records: the split its config draws
        if same or trained.task.name != config.task.name:  # the same split; another family's puzzles are not these
            return set()
        return keys_of(task, build_splits, make_task(trained.task), trained.task, trained.train.seed,
                       config.train.data_dir)
    if same and cut is not None and hasattr(task, "splits") and cut.name != recorded[-1].name:
        warnings.warn(f"the data of task {config.task.name} changed since training, so its splits are cut anew: "
                      f"the {recorded[-1].name} split the weights were trained on is not this one", stacklevel=2)
    seen = set()
    for folder in recorded:
        # Names, not paths: a folder's name is its content, so a data_dir moved since keeps them.
        if (cut is None or folder.name != cut.name) and family_of(folder) == task.name:
            rebuild = folder is recorded[-1] and trained.task.name == config.task.name  # its config is the saved one
            seen |= keys_of(task, recorded_folder, folder, config, trained if rebuild else None)
    return seen


def recorded_folder(folder: Path, config: Config, trained: Config | None):
    """The splits a run recorded, where they are: at the path recorded, else under the evaluated
    train.data_dir (moved since), else cut again from `trained`'s settings (given for the newest only)."""
    from eval.tasks import make_task
    from hybrid.data import build_splits, read_splits, splits_folder

    moved = splits_folder(config.train.data_dir, folder.name)
    for place in (folder, moved):
        if place.is_dir():
            return read_splits(place)
    if trained is None:
        raise ConfigError(f"{folder.name} is in neither {folder.parent} nor {moved.parent}")
    made = build_splits(make_task(trained.task), trained.task, trained.train.seed, config.train.data_dir)
    if made.folder.name != folder.name:  # its data changed since: these are other splits
        raise ConfigError(f"{folder.name} is in neither {folder.parent} nor {moved.parent}, and the data now cuts "
                          f"other splits")
    return made


def keys_of(task, splits, *args) -> set[str]:
    """The puzzle keys of the training split of `splits(*args)`; none, with a warning, where it cannot be had."""
    from eval.tasks import PuzzleError
    from hybrid.data import examples

    try:  # saved by training in its data_dir, so usually read, not generated
        split = splits(*args)["train"]
    except (ConfigError, PuzzleError, OSError) as err:  # a qa file since moved: say so, and score what there is
        warnings.warn(f"cannot rebuild the training split the weights were trained on ({err}), so this split may hold "
                      f"some of its puzzles", stacklevel=2)
        return set()
    return {task.puzzle_key(e) for e in examples(split)}


def untrained_rows(task, config: Config, trained: Config, exs: list, recorded: Sequence[Path],
                   cut: Path | None) -> list[int]:
    """The places in `exs`, an evaluated split's examples, of the puzzles the weights were not
    trained on (`trained_puzzles`): the others would count a training puzzle as held out. Used
    by `python -m eval` and by a run's own evaluations, which after a resume on other splits
    (or train.init_from weights trained on others) test on a split cut without them in mind."""
    seen = trained_puzzles(task, config, trained, recorded, cut)
    return [i for i, example in enumerate(exs) if task.puzzle_key(example) not in seen]
