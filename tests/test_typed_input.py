"""Several typed puzzles in one text (hybrid.solve --input, python -m eval --puzzles): one per
line, or one per block of lines when no line is a puzzle by itself."""

import random
from pathlib import Path

from eval.tasks import QA, Arc, Maze, Sudoku, Zebra, split_typed


def one_line(task: Sudoku, seed: int) -> str:
    return " ".join(str(v) if v else "_" for v in task.generate(random.Random(seed), 0).data["puzzle"])


def test_one_line_puzzles_need_no_blank_lines_between_them():
    task = Sudoku(4)
    lines = [one_line(task, seed) for seed in range(3)]
    assert split_typed("\n".join(lines) + "\n", task) == lines
    assert split_typed("\n\n".join(lines), task) == lines
    with_typo = [lines[0], "1 2 3", lines[1]]  # the bad line is its own (failing) puzzle
    assert split_typed("\n".join(with_typo), task) == with_typo


def test_a_block_of_lines_that_are_no_puzzle_alone_is_one_puzzle():
    sudoku, rng = Sudoku(4), random.Random(0)
    grids = [sudoku.generate(rng, 0).question.strip() for _ in range(2)]  # one row per line
    assert split_typed(f"{grids[0]}\n\n  \n{grids[1]}\n", sudoku) == grids
    maze = Maze(7)
    mazes = [maze.generate(rng, 0).question.strip() for _ in range(2)]
    assert split_typed("\n\n".join(mazes), maze) == mazes
    zebra = Zebra(3, 2)
    puzzles = [zebra.generate(rng, w).question.strip() for w in (0, 2)]
    assert split_typed("\n\n".join(puzzles), zebra) == puzzles
    assert [zebra.from_text(p).data for p in split_typed("\n\n".join(puzzles), zebra)] == \
        [zebra.from_text(p).data for p in puzzles]


def test_a_task_without_a_parser_takes_a_puzzle_per_line_or_per_block_when_its_questions_span_lines():
    task = QA(path=str(Path(__file__).parent / "data" / "qa_small.jsonl"))
    assert split_typed("What is 2+2?\nName a colour.\n\nWhy?", task) == ["What is 2+2?", "Name a colour.", "Why?"]
    arc = "\n".join(["ARC puzzle.", "Demonstration 1 input (2x2):", "1 0", "0 1", "Demonstration 1 output (2x2):",
                     "0 1", "1 0", "Test input (2x2):", "1 1", "0 0", "Test output:"])
    assert split_typed(f"{arc}\n\n{arc}\n", Arc(max_size=4)) == [arc, arc]  # grids: one puzzle per block
