"""Voting over views of one puzzle: TRM's ARC evaluation.

A test split may ask one puzzle several times, in views: the puzzle as it is and copies turned,
reflected and recoloured (ARC with `task.test_views`). Each view is answered on its own. The
family maps every answer back into the puzzle's own frame (`undo_view(example, answer)` returns
which puzzle the view asks and the answer as that puzzle would have it), and the views vote:

- the answer most views give ranks first;
- between answers with as many votes, the one whose views' halting head was surer on average
  (mean sigmoid(q_halt) at the answering step) ranks first, as in TRM's evaluator;
- a tie on both keeps the answer given first (the view that is the puzzle itself comes first).

ARC scores two attempts per test input: pass@1 asks whether the top answer is right, pass@2
whether either of the top two different answers is. With one view per puzzle, pass@1 is the
verifier's accuracy and pass@2 equals pass@1 (one answer, one candidate).

ARC's own score counts tasks, not test inputs: a task scores the fraction of its test inputs
solved, and the tasks are averaged (the ARC Prize's scoring, and the figure TRM's evaluator
reports). `task_pass@1` and `task_pass@2` are that score, for views whose data name their
`task`; each puzzle of a family that names none is a task of its own. A task counts the test
inputs the split holds (with `task.test_size` below the number of inputs, maybe not all).
"""

from __future__ import annotations

from collections.abc import Iterable

from eval.tasks import Example, Task


def tally(votes: Iterable[tuple[str, float]]) -> dict[str, list[float]]:
    """The different answers of (answer, halting confidence) votes, each with the confidences of
    its votes, best first: most votes, then the higher mean confidence, then the one given first
    (sorted() keeps the order of equals)."""
    by_answer: dict[str, list[float]] = {}
    for answer, confidence in votes:
        by_answer.setdefault(answer, []).append(confidence)
    order = sorted(by_answer, key=lambda answer: (-len(by_answer[answer]),
                                                  -sum(by_answer[answer]) / len(by_answer[answer])))
    return {answer: by_answer[answer] for answer in order}


def rank(votes: Iterable[tuple[str, float]]) -> list[str]:
    """The different answers of the votes, best first (`tally`'s order)."""
    return list(tally(votes))


def vote(task: Task, examples: list[Example], answers: list[str | None], confidences: list[float]) -> dict:
    """pass@1 and pass@2 over the puzzles that `examples` (views) ask, and over their tasks
    (task_pass@1, task_pass@2), with the answer and halting confidence of each view; an answer
    that could not be decoded is None. The right answer of a puzzle is its view's own answer
    mapped back the same way, so views may come in any order; but a tie on votes and confidence
    goes to the answer given first (`tally`), which should be the view that is the puzzle itself."""
    votes: dict[str, list[tuple[str, float]]] = {}
    truth: dict[str, str | None] = {}
    views: dict[str, int] = {}
    tasks: dict[str, set[str]] = {}  # task -> its puzzles (test inputs)
    for example, answer, confidence in zip(examples, answers, confidences, strict=True):
        puzzle, right = task.undo_view(example, example.answer)
        truth.setdefault(puzzle, right)
        tasks.setdefault(str(example.data.get("task") or puzzle), set()).add(puzzle)
        views[puzzle] = views.get(puzzle, 0) + 1
        mapped = task.undo_view(example, answer)[1] if answer is not None else None
        if mapped is not None:  # a non-grid is no candidate
            votes.setdefault(puzzle, []).append((mapped, confidence))
    ranked = {puzzle: rank(votes.get(puzzle, ())) for puzzle in truth}
    n = max(len(truth), 1)

    def solved(puzzles, k: int) -> float:  # the fraction of `puzzles` whose top k answers hold the right one
        return sum(truth[p] in ranked[p][:k] for p in puzzles) / max(len(puzzles), 1)

    return {
        "pass@1": solved(truth, 1),
        "pass@2": solved(truth, 2),
        "task_pass@1": sum(solved(ps, 1) for ps in tasks.values()) / max(len(tasks), 1),
        "task_pass@2": sum(solved(ps, 2) for ps in tasks.values()) / max(len(tasks), 1),
        "num_puzzles": len(truth),
        "num_tasks": len(tasks),
        "views_per_puzzle": sum(views.values()) / n,
        "no_candidate": sum(not ranked[p] for p in truth),  # every view's answer was no grid
        "answers_per_puzzle": sum(len(ranked[p]) for p in truth) / n,  # how far the views disagree
    }


def describe(votes: dict) -> str:
    """One line of `vote`'s figures, for the tables runs and evaluations print."""
    return (f"{votes['pass@1']:.3f} / {votes['pass@2']:.3f}  ({votes['num_puzzles']} puzzles, "
            f"{votes['views_per_puzzle']:.1f} views each)")


def vote_rows(votes: dict | None, every_vote: bool = False) -> list[tuple[str, str]]:
    """The vote's rows for the tables runs and evaluations print: the vote over views (where
    there are several, or with `every_vote`), and ARC's score by task where it differs from the
    score by puzzle (some task asks several test inputs)."""
    if not votes:
        return []
    rows = []
    if every_vote or votes.get("views_per_puzzle", 1) > 1:
        rows.append(("vote over views: pass@1 / pass@2", describe(votes)))
    if votes.get("num_tasks", votes["num_puzzles"]) != votes["num_puzzles"]:
        rows.append(("ARC score (by task): pass@1 / pass@2",
                     f"{votes['task_pass@1']:.3f} / {votes['task_pass@2']:.3f}  ({votes['num_tasks']} tasks)"))
    return rows


def exact_label(result: dict) -> tuple[str, str]:
    """The row name and count for exact accuracy in those tables: with views it is counted per
    view, not per puzzle (the vote's line gives the per-puzzle figures)."""
    votes = result.get("votes", {})
    if votes.get("views_per_puzzle", 1) > 1:
        return "exact accuracy (each view)", f"{result['num_puzzles']} views of {votes['num_puzzles']} puzzles"
    return "exact accuracy", f"{result['num_puzzles']} puzzle" + "s" * (result["num_puzzles"] != 1)
