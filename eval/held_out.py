"""Whether the puzzles evaluated are held out from the weights' training: the wordings the weights were
trained on, a warning where the puzzles come in another (or test_heldout names a trained one), and a
split without the puzzles the weights were trained on."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from pathlib import Path

from eval.tasks import make_task
from eval.tasks.base import input_name
from hybrid.config import Config
from hybrid.splits_record import untrained_rows


def trained_wordings(task, config: Config, trained: Config) -> list[int]:
    """The wordings the weights were trained on: the run's `task.wordings` (all the family has when
    it named none) less its `task.held_out_wordings`."""
    from hybrid.data import split_wordings

    family = task if trained.task.name == config.task.name else make_task(trained.task)  # its own wording count
    return split_wordings(family, trained.task)[0]


def say_untrained(task, config: Config, trained: Config, seen: list[int], puzzles: str | Path | None,
                  split: str) -> None:
    """One warning where the puzzles evaluated come in a wording the weights were not trained on
    (`seen`): an override of task.wordings words a split, or a file's puzzles, in it. That is a fair
    test of a phrasing never read, not an error; with --split test_heldout it is the point, unsaid."""
    from hybrid.data import answering_wording, split_wordings

    if split == "test_heldout" or trained.task.name != config.task.name:  # another family's wordings are all new
        return
    worded = [answering_wording(task, config.task)] if puzzles is not None else split_wordings(task, config.task)[0]
    new = [w for w in worded if w not in seen]
    if new:
        what = (f"the puzzles of {input_name(puzzles)} are worded" if puzzles is not None
                else f"the {split} split holds puzzles")
        warnings.warn(f"{what} in wording(s) {new}, which the weights were not trained on (trained on: {seen}): "
                      f"their scores are of a phrasing the model never read, a held-out test", stacklevel=3)


def held_out_but_trained(config: Config, trained: Config, split: str, seen: list[int]) -> list[int]:
    """The wordings of the test_heldout split that the weights were trained on (`seen`), with a
    warning: an override of task.held_out_wordings can name one, and its puzzles then test a
    phrasing the model has read, not an unseen one."""
    if split != "test_heldout" or trained.task.name != config.task.name:  # another family's wording 2 is another one
        return []
    overlap = [w for w in config.task.held_out_wordings or [] if w in seen]
    if overlap:
        warnings.warn(f"task.held_out_wordings={config.task.held_out_wordings} names wording(s) {overlap}, which the "
                      f"weights were trained on (wordings {seen}): the {split} split is not held out from training in "
                      f"them. Hold out a wording outside {seen}, or train with task.held_out_wordings set",
                      stacklevel=2)
    return overlap


def without_trained_puzzles(task, config: Config, trained: Config, split: str, data, exs: list,
                            recorded: Sequence[Path], cut: Path):
    """(data, examples, how many were left out): the split without the puzzles the weights were
    trained on (`trained_puzzles`), each of which would count a training puzzle as held out."""
    keep = untrained_rows(task, config, trained, exs, recorded, cut)
    if len(keep) == len(exs):
        return data, exs, 0
    warnings.warn(f"{len(exs) - len(keep)} of the {len(exs)} {split} puzzles of this config are puzzles the weights "
                  f"were trained on (the overrides, or data changed since, draw another training split than "
                  f"training did): left out",
                  stacklevel=2)
    return data.select(keep) if keep else None, [exs[i] for i in keep], len(exs) - len(keep)  # None: nothing to score
