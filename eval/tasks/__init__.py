"""Puzzle families. Each module holds one family: an example instance at the top, then its
generator, renderer, parser and verifier side by side. `make_task` builds one from config."""

from __future__ import annotations

import dataclasses
import difflib
import importlib
import inspect
import traceback

from eval.tasks import maze, sorting, sudoku, zebra
from eval.tasks.arc import Arc, ArcConfig
from eval.tasks.base import IGNORE, Example, PuzzleError, Task, TaskConfig, split_typed, split_typed_lines
from eval.tasks.maze import Maze, MazeConfig
from eval.tasks.qa import QA, QaConfig
from eval.tasks.reasoning_gym import ReasoningGym, ReasoningGymConfig
from eval.tasks.sorting import Sorting, SortingConfig
from eval.tasks.sudoku import Sudoku, SudokuConfig
from eval.tasks.zebra import Zebra, ZebraConfig

# name -> (family class, its config schema): the families of this package. One kept in a module of
# your own needs no line here: `task=my_module:MyTask` names it by import path (see `family`).
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
DATASET_FIELDS = tuple(f.name for f in dataclasses.fields(TaskConfig))


def family(name: str) -> tuple[type[Task], type]:
    """The family class and config schema that `task.name` names: a registered family, or
    `module:Class` for one defined outside this package, whose class names its schema in `schema`.
    The import path is what a run's saved config holds, so evaluation, `hybrid.solve` and
    `from_pretrained` find the family again without registering it."""
    if name in TASKS:
        return TASKS[name]
    if ":" not in name:
        close = difflib.get_close_matches(name, TASKS, n=1)
        raise PuzzleError(f"unknown task {name!r}{f' (did you mean {close[0]}?)' if close else ''}; available: "
                          f"{', '.join(sorted(TASKS))}, "
                          f"or module:Class for a family of your own (docs/extending.md)")
    module, _, attr = name.partition(":")
    try:
        imported = importlib.import_module(module)
    except ImportError as err:
        raise PuzzleError(f"task {name!r}: cannot import {module!r} ({err}); install it or put its folder "
                          f"on PYTHONPATH") from None
    except Exception as err:  # a SyntaxError, or whatever the module raises as it runs
        syntax = isinstance(err, SyntaxError)  # its traceback ends in importlib; the error names the place
        where = (err.filename, err.lineno) if syntax else traceback.extract_tb(err.__traceback__)[-1][:2]
        raise PuzzleError(f"task {name!r}: importing {module!r} raised {type(err).__name__} at {where[0]}:{where[1]} "
                          f"({err.msg if syntax else err}); fix that module") from None
    try:
        cls = getattr(imported, attr)
    except AttributeError:
        raise PuzzleError(f"task {name!r}: module {module!r} has no {attr!r}") from None
    if not (isinstance(cls, type) and issubclass(cls, Task)):
        raise PuzzleError(f"task {name!r} is not a Task subclass (eval.tasks.Task)")
    schema = getattr(cls, "schema", None)
    if not dataclasses.is_dataclass(schema):
        raise PuzzleError(f"task {name!r}: set `schema = <its config dataclass>` on {attr} (a subclass of "
                          f"eval.tasks.TaskConfig with the knobs the family takes)")
    fields = {field.name for field in dataclasses.fields(schema)}
    # A subclass of a dataclass is one too, but without its own @dataclass its knobs are no fields
    undecorated = [knob for knob, hint in inspect.get_annotations(schema).items()
                   if knob not in fields and not any(kind in str(hint) for kind in ("ClassVar", "InitVar"))]
    if undecorated:
        raise PuzzleError(f"task {name!r}: {schema.__name__} declares {', '.join(undecorated)}, but not as "
                          f"dataclass fields: put @dataclass on {schema.__name__}")
    missing = [f for f in DATASET_FIELDS if f not in fields]
    if missing:
        raise PuzzleError(f"task {name!r}: its schema {schema.__name__} lacks {', '.join(missing)} "
                          f"(every task config has them: subclass eval.tasks.TaskConfig)")
    # Known from the class alone, so told as the config is read: built later (make_task) these were
    # Python's TypeError from deep inside training, after the command line had been accepted.
    if inspect.isabstract(cls):
        raise PuzzleError(f"task {name!r}: {attr} does not define {', '.join(sorted(cls.__abstractmethods__))} "
                          f"(every family implements generate, decode and verify: docs/extending.md)")
    knobs = [f.name for f in dataclasses.fields(schema) if f.name not in DATASET_FIELDS]
    try:
        inspect.signature(cls).bind(**dict.fromkeys(knobs))  # make_task passes each knob by name
    except TypeError as err:
        raise PuzzleError(f"task {name!r}: {attr}(...) is built with its schema's knobs by name "
                          f"({', '.join(knobs) or 'none'}), and {err}: make {schema.__name__}'s fields and "
                          f"the constructor's parameters match") from None
    return cls, schema


# The families typed text is told apart as, for a puzzle the model's own family cannot read: (name, the
# puzzle as said, whether text looks like one), in this order, as a maze's '.' are sudoku blanks, and a
# logic-grid puzzle or a sorting request holds numbers another family might read.
RESEMBLED = (("zebra", "a logic-grid (zebra) puzzle", zebra.looks_like), ("maze", "a maze", maze.looks_like),
             ("sorting", "a sorting request", sorting.looks_like), ("sudoku", "a sudoku", sudoku.looks_like))


def read_typed(task: Task, text: str, wording: int = 0) -> Example:
    """`task.from_text(text, wording)`, a typed puzzle (hybrid.solve, python -m eval --puzzles), with
    the errors a person meets said for a person: an empty question says what a puzzle of the family
    looks like, and a puzzle the family cannot read that looks like another family's (a maze given to a
    sudoku model) names that family and the model that answers it, not the family's reading error."""
    form = getattr(task, "typed_form", None)
    if not text.strip():
        raise PuzzleError(f"the question is empty: {form() if form else 'give its text'}")
    try:
        return task.from_text(text, wording)
    except PuzzleError:
        name, what = next(((name, what) for name, what, looks_like in RESEMBLED if looks_like(text)), (task.name, ""))
        if name == task.name:
            raise
    raise PuzzleError(f"this looks like {what}, but this model was trained on task={task.name}: answer it with a "
                      f"model trained with task={name}")


def make_task(config) -> Task:
    """The family named by `config.name`, built with its family-specific fields."""
    cls, _ = family(config.name)
    fields = dataclasses.asdict(config) if dataclasses.is_dataclass(config) else dict(config)
    task = cls(**{k: v for k, v in fields.items() if k not in DATASET_FIELDS})
    # Required, and often set in the constructor (num_slots from a size knob): without one, building
    # a split ended in an AttributeError on the first example.
    missing = [key for key in ("name", "vocab", "num_slots") if not hasattr(task, key)]
    if missing:
        raise PuzzleError(f"task {config.name!r}: {cls.__name__} sets no {', '.join(missing)} (every family "
                          f"sets name, vocab and num_slots, on the class or in its constructor: docs/extending.md)")
    return task


__all__ = ["IGNORE", "Example", "PuzzleError", "Task", "TaskConfig", "TASKS", "TASK_CONFIGS", "family", "make_task",
           "read_typed", "split_typed", "split_typed_lines"]
