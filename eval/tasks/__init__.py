"""Puzzle families. Each module holds one family: an example instance at the top, then its
generator, renderer, parser and verifier side by side. `make_task` builds one from config."""

from __future__ import annotations

import dataclasses

from eval.tasks.arc import Arc, ArcConfig
from eval.tasks.base import IGNORE, Example, PuzzleError, Task, split_typed
from eval.tasks.maze import Maze, MazeConfig
from eval.tasks.qa import QA, QaConfig
from eval.tasks.reasoning_gym import ReasoningGym, ReasoningGymConfig
from eval.tasks.sorting import Sorting, SortingConfig
from eval.tasks.sudoku import Sudoku, SudokuConfig
from eval.tasks.zebra import Zebra, ZebraConfig

# name -> (family class, its config schema). A new family registers itself here.
TASKS: dict[str, tuple[type[Task], type]] = {
    "sudoku": (Sudoku, SudokuConfig),
    "maze": (Maze, MazeConfig),
    "sorting": (Sorting, SortingConfig),
    "zebra": (Zebra, ZebraConfig),
    "arc": (Arc, ArcConfig),
    "reasoning_gym": (ReasoningGym, ReasoningGymConfig),
    "qa": (QA, QaConfig),
}
TASK_CONFIGS = {name: schema for name, (_, schema) in TASKS.items()}

# Fields every task config has that are about the dataset, not the family's constructor.
DATASET_FIELDS = ("name", "train_size", "test_size", "wordings", "held_out_wordings")


def make_task(config) -> Task:
    """The family named by `config.name`, built with its family-specific fields."""
    if config.name not in TASKS:
        raise PuzzleError(f"unknown task {config.name!r}; available: {', '.join(sorted(TASKS))}")
    cls, _ = TASKS[config.name]
    fields = dataclasses.asdict(config) if dataclasses.is_dataclass(config) else dict(config)
    return cls(**{k: v for k, v in fields.items() if k not in DATASET_FIELDS})


__all__ = ["IGNORE", "Example", "PuzzleError", "Task", "TASKS", "TASK_CONFIGS", "make_task", "split_typed"]
