"""Any reasoning-gym dataset by name (`task=reasoning_gym task.dataset=mini_sudoku`).

An example instance (mini_sudoku, seed 1, index 0) as the backbone reads it, verbatim from
reasoning-gym:

    In 4x4 Mini Sudoku:
    - Each row must contain each number from 1-4 exactly once
    - Each column must contain each number 1-4 exactly once
    - Each 2x2 subgrid must contain each number 1-4 exactly once
    Solve this 4x4 Mini Sudoku puzzle:
    2 _ _ 3
    _ _ 1 _
    1 _ 3 _
    3 _ 2 1
    Format your response as the puzzle above, with spaces separating each number within a row,
    and newlines separating rows.

Answer text: reasoning-gym's answer, "2 1 4 3\n4 3 1 2\n1 2 3 4\n3 4 2 1". Answer slots: its
characters, then END (see `text_answer`), `max_answer_chars` slots in all. Scoring is the
dataset's own `score_answer` (partial credit where it gives some); verify means a score of 1.

Items are drawn by index from one reasoning-gym dataset built with `seed` and `size`; an
example stores only its index, and scoring regenerates the item (reasoning-gym items are pure
functions of seed + index), so the scorer sees exactly the entry it was written for. An item
whose answer the slots cannot hold (too long, or a character such as "é") is left out of a
split, which draws another in its place (hybrid/data.py's `generate_split`).
"""

from __future__ import annotations

import ast
import difflib
import random
from dataclasses import dataclass, field
from functools import lru_cache

from eval.tasks import text_answer
from eval.tasks.base import Example, PuzzleError, Task, TaskConfig

MAX_FAILED_ITEMS = 100  # items in a row reasoning-gym may fail to make before a draw gives up


@dataclass
class ReasoningGymConfig(TaskConfig):
    """One wording: the question as reasoning-gym writes it."""

    name: str = "reasoning_gym"
    dataset: str = "mini_sudoku"  # a reasoning-gym dataset name, as reasoning_gym.create_dataset spells it
    options: list[str] = field(default_factory=list)  # the generator's own settings: ["min_empty=4", ...]
    seed: int = 0  # seed of the reasoning-gym dataset items are drawn from
    size: int = 100_000  # items in that dataset (the pool indices are drawn from)
    max_answer_chars: int = 64  # answer slots; a split leaves longer answers out, with a warning naming this knob


def parse_options(options: list[str], config_cls: type) -> dict[str, object]:
    """["min_empty=4", "difficulty=hard"] -> {"min_empty": 4, "difficulty": "hard"}.

    Values are Python literals when they read as one (4, 0.5, True, [1, 2]), text otherwise.
    `seed` and `size` have knobs of their own, so the dataset and the pool stay one thing."""
    known = [f for f in getattr(config_cls, "__dataclass_fields__", {}) if f not in ("seed", "size")]
    parsed: dict[str, object] = {}
    for option in options:
        key, sep, value = str(option).partition("=")
        key = key.strip()
        if not sep or not key:
            raise PuzzleError(f"task.options entry {option!r} is not of the form key=value (e.g. min_empty=4)")
        if key in ("seed", "size"):
            raise PuzzleError(f"task.options sets {key!r}: use task.{key} instead")
        if key not in known:
            raise PuzzleError(f"task.options: {config_cls.__name__} has no setting {key!r}; "
                              f"it has: {', '.join(known) or 'none'}")
        if key in parsed:  # else the last one was used without a word, whichever was meant
            twice = ", ".join(str(o).strip() for o in options if str(o).partition("=")[0].strip() == key)
            raise PuzzleError(f"task.options sets {key!r} twice ({twice}); give each setting once")
        try:
            parsed[key] = ast.literal_eval(value.strip())
        except (ValueError, SyntaxError):
            parsed[key] = value.strip()
    return parsed


class ReasoningGym(Task):
    name = "reasoning_gym"
    vocab = text_answer.VOCAB
    num_wordings = 1
    multiline = True  # many generators write grids or lists of clues
    aligned_slots = False  # answer characters do not sit anywhere in the question

    def __init__(self, dataset: str = "mini_sudoku", options: list[str] | None = None, seed: int = 0,
                 size: int = 100_000, max_answer_chars: int = 64):
        import reasoning_gym  # imported here: it takes over a second and only this family needs it
        from reasoning_gym.factory import DATASETS

        if dataset not in DATASETS:
            close = difflib.get_close_matches(dataset, DATASETS, n=3)
            hint = f"did you mean {', '.join(close)}?" if close else f"available: {', '.join(sorted(DATASETS))}"
            raise PuzzleError(f"task.dataset={dataset}: reasoning-gym has no dataset {dataset!r}; {hint}")
        settings = parse_options(list(options or []), DATASETS[dataset][1])
        if size < 1:  # reasoning-gym takes it; drawing an item then failed with a bare ValueError
            raise PuzzleError(f"task.size={size}: the pool of items to draw from needs at least one")
        slots = text_answer.checked_max_chars(max_answer_chars)  # before the pool: acre builds its items up front
        settings_text = ", ".join([*map(str, options or []), f"task.seed={seed}", f"task.size={size}"])
        try:
            self.dataset = reasoning_gym.create_dataset(dataset, seed=seed, size=size, **settings)
        except Exception as err:  # reasoning-gym validates with assert (some datasets with other errors)
            raise PuzzleError(f"reasoning-gym rejected the settings of {dataset!r} ({settings_text}): {err}") from None
        self.entry = lru_cache(maxsize=16384)(self.dataset.__getitem__)  # scoring asks for each item many times
        # Items are made on demand, and a generator checks few of its settings up front: one such as
        # max_grid_size=8.5 failed only at the first draw, with randrange's bare ValueError. So items are
        # made here, skipping one its generator gives up on as `generate` does (item 0 may be such an item):
        # settings are rejected only when none of the first MAX_FAILED_ITEMS can be made.
        tries = min(size, MAX_FAILED_ITEMS)
        for index in range(tries):
            try:
                self.entry(index)
                break
            except Exception as err:  # reasoning-gym's own code, whichever error it gives up with
                failed = f"item {index}: {err}"
        else:
            raise PuzzleError(f"reasoning-gym rejected the settings of {dataset!r} ({settings_text}): it failed to "
                              f"make items 0 to {tries - 1} (the last, {failed})")
        self.dataset_name = dataset
        self.max_answer_chars = self.num_slots = slots

    def example(self, index: int, wording: int = 0) -> Example:
        entry = self.entry(index)
        if entry["answer"] is None:
            # Open-ended datasets (propositional_logic, graph_color, rubiks_cube, ...) give no reference
            # answer, only a scorer of any valid one: str(None) would train on "None", which scores 0.
            raise PuzzleError(f"reasoning-gym dataset {self.dataset_name!r} gives no reference answer for its "
                              f"items (item {index} has answer None), so there is nothing to train on; "
                              "choose a dataset with answers")
        answer = str(entry["answer"])
        return Example(
            question=entry["question"],
            answer=answer,
            labels=text_answer.encode(answer, self.max_answer_chars, f"{self.dataset_name} item {index}"),
            data={"dataset": self.dataset_name, "index": index},
            wording=wording,
        )

    def generate(self, rng: random.Random, wording: int) -> Example:
        """A random item of the pool. An item reasoning-gym's own generator fails to make is skipped for
        another index: maze raises "Could not find suitable path cell after 1000 attempts" for about 1
        item in 2,000 (seed 0, max_grid_size=8), and the first such draw stopped the whole run. Other
        generators give up on an item with another error (countdown's and futoshiki's ValueError, knight_swap's
        bare Exception), so any error of an item is skipped so: settings that fail every item end the loop."""
        for _ in range(MAX_FAILED_ITEMS):
            index = rng.randrange(len(self.dataset))
            try:
                self.entry(index)
            except Exception as err:  # reasoning-gym's own code, whichever error it gives up with
                failed = f"item {index}: {err}"
                continue
            return self.example(index, wording)
        raise PuzzleError(f"reasoning-gym failed to make {MAX_FAILED_ITEMS} {self.dataset_name!r} items in a row "
                          f"(the last, {failed}): its settings (task.options) leave it no items to make")

    def decode(self, example: Example, ids: list[int]) -> str:
        return text_answer.decode(ids)

    def score(self, example: Example, answer: str) -> float:
        if example.data.get("dataset") != self.dataset_name:
            raise PuzzleError(f"example from reasoning-gym dataset {example.data.get('dataset')!r} "
                              f"scored by a {self.dataset_name!r} task")
        entry = self.entry(int(example.data["index"]))
        if entry["question"] != example.question:
            # Same index, different item: other options or seed, or another reasoning-gym version.
            raise PuzzleError(f"{self.dataset_name} item {example.data['index']} no longer matches the stored "
                              "question; score with the settings (and reasoning-gym version) the data was made with")
        return float(self.dataset.score_answer(answer, entry))

    def verify(self, example: Example, answer: str) -> bool:
        return self.score(example, answer) == 1.0
