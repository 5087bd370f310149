import random

import pytest

from eval.tasks import PuzzleError, make_task, sudoku
from eval.tasks.sudoku import Grid, Sudoku, SudokuConfig, blocked, parse_grid, solve, still_unique_without

# A hand-written 4x4 puzzle (boxes 2x2) and its unique solution.
PUZZLE = """
1 _ | _ _
_ _ | 1 2
_ 1 | _ _
_ _ | 3 _
"""
SOLUTION = "1 2 4 3\n4 3 1 2\n3 1 2 4\n2 4 3 1"


def test_hand_written_puzzle_is_read_solved_and_verified():
    task = Sudoku(4)
    example = task.from_text(PUZZLE)
    assert example.answer == SOLUTION
    assert task.verify(example, SOLUTION)
    assert len(example.labels) == 16 and example.labels[:4] == [0, 1, 3, 2]


@pytest.mark.parametrize("size", [4, 6, 9])
def test_a_puzzle_reads_back_in_every_wording_it_is_written_in(size):
    """A user pasting a puzzle as the model saw it in training (instructions, cell labels and
    all) gets the same puzzle: the digits in "Sudoku 6x6 ...", "row 1:" or "r1c1=" are not cells."""
    task = Sudoku(size)
    for wording in range(task.num_wordings):
        example = task.generate(random.Random(wording), wording)
        back = task.from_text(example.question, wording)
        assert (back.data["puzzle"], back.answer) == (example.data["puzzle"], example.answer)


@pytest.mark.parametrize("size", [4, 6, 9])
def test_decoding_the_labels_writes_the_answer_and_one_wrong_digit_is_refused(size):
    """Class ids are digits minus one: decoding the labels gives back the answer text, which the
    verifier accepts; a decoded grid with one cell changed is refused."""
    task = Sudoku(size)
    example = task.generate(random.Random(size), 0)
    assert task.decode(example, example.labels) == example.answer and task.verify(example, example.answer)
    wrong = [(example.labels[0] + 1) % size, *example.labels[1:]]
    assert not task.verify(example, task.decode(example, wrong))


def test_the_puzzle_key_is_the_givens_whatever_the_wording():
    """Train and test splits are kept apart by puzzle_key: the same givens written in another
    wording are the same puzzle, other givens another one."""
    task = Sudoku(6)
    first = task.generate(random.Random(0), 0)
    keys = {task.puzzle_key(task.example(first.data["puzzle"], [label + 1 for label in first.labels], w))
            for w in range(task.num_wordings)}
    assert keys == {task.puzzle_key(first)} and task.num_wordings > 1
    assert task.puzzle_key(task.generate(random.Random(1), 0)) != task.puzzle_key(first)


def test_cell_labels_read_however_they_are_spaced():
    """A label typed "r1c1 = 5", "row  1 :" or with a tab had its digits read as cells, so the puzzle
    pasted back was refused ("expected 16 cells ..., found 29")."""
    task = Sudoku(4)
    puzzle = task.from_text(PUZZLE).data["puzzle"]
    for wording in range(task.num_wordings):
        question = task.from_text(PUZZLE, wording).question
        for typed in (question.replace("=", " = "), question.replace(" ", "  "), question.replace(" ", "\t"),
                      question.replace(":", " :")):
            assert task.from_text(typed).data["puzzle"] == puzzle, typed


def test_old_mac_line_ends_are_line_ends():
    """With bare CR line ends ("\\r", old Mac) the instructions' first line was not told apart, its
    "4x4", "2x2" and "1-4" were read as cells: "expected 16 cells ..., found 25"."""
    task = Sudoku(4)
    puzzle = task.from_text(PUZZLE).data["puzzle"]
    for wording in range(task.num_wordings):
        question = task.from_text(PUZZLE, wording).question
        assert task.from_text(question.replace("\n", "\r"), wording).data["puzzle"] == puzzle


@pytest.mark.parametrize("typo", ["x", "O"])  # a letter for a cell, an O for a 0
def test_a_stray_character_where_a_cell_should_be_is_named_with_its_place(typo):
    """A character typed for a cell is ignored like any other text, so the error was only a count
    ("found 24, 15 below the first line"), naming nothing to fix."""
    task = Sudoku(4)
    question = task.from_text(PUZZLE).question
    typed = question.replace("row 1: 1 _ | _ _", f"row 1: 1 _ | {typo} _")
    assert typed != question
    with pytest.raises(PuzzleError, match=rf"found 24, 15 below the first line: .*; '{typo}' \(line 2, column 14\) "
                                          r"is not a cell"):
        task.from_text(typed)
    with pytest.raises(PuzzleError, match=rf"found 15\b.*; '{typo}' \(line 1, column 5\) is not a cell"):
        task.from_text(f"1 _ {typo} _\n_ _ 1 2\n_ 1 _ _\n_ _ 3 _")  # no instructions line


def test_unicode_digits_are_not_cells():
    """str.isdigit() accepts "²", which int() cannot read: such text is a bad puzzle or a wrong
    answer, not a ValueError from deep inside the parser."""
    task = Sudoku(4)
    with pytest.raises(PuzzleError, match="expected 16 cells"):
        task.from_text(PUZZLE.replace("3", "³"))
    assert task.verify(task.from_text(PUZZLE), SOLUTION.replace("4", "⁴")) is False


def test_verifier_rejects_wrong_answers():
    task = Sudoku(4)
    example = task.from_text(PUZZLE)
    swapped = SOLUTION.replace("1 2 4 3", "2 1 4 3")  # breaks a given and a column
    assert not task.verify(example, swapped)
    assert not task.verify(example, SOLUTION[:-1] + "4")  # repeats a digit
    assert not task.verify(example, "1 2 3")  # unreadable: too few cells
    assert not task.verify(example, SOLUTION.replace("2 4 3 1", "2 4 3 _"))  # incomplete


def test_verifier_checks_rows_columns_boxes_and_givens_each_on_its_own():
    """Each wrong grid below breaks exactly one rule, so each rule must be checked by itself."""
    task = Sudoku(4)
    blank = task.example([0] * 16, [int(v) for v in SOLUTION.split()])
    latin_square = "1 2 3 4\n2 3 4 1\n3 4 1 2\n4 1 2 3"  # rows and columns fine, box 1 holds 2 twice
    columns_repeat = "1 2 3 4\n3 4 1 2\n1 2 3 4\n3 4 1 2"  # rows and boxes fine
    rows_repeat = "1 3 1 3\n2 4 2 4\n3 1 3 1\n4 2 4 2"  # columns and boxes fine
    for wrong in (latin_square, columns_repeat, rows_repeat):
        assert not task.verify(blank, wrong), wrong
    relabelled = SOLUTION.translate(str.maketrans("12", "21"))  # a valid grid, but r1c1 is not the given 1
    assert task.verify(blank, relabelled) and not task.verify(task.from_text(PUZZLE), relabelled)


def test_6x6_boxes_are_two_rows_by_three_columns():
    task = Sudoku(6)
    rows = ["1 2 3 4 5 6", "4 5 6 1 2 3", "2 3 1 5 6 4", "5 6 4 2 3 1", "3 1 2 6 4 5", "6 4 5 3 1 2"]
    grid = [[int(v) for v in row.split()] for row in rows]
    blank = task.example([0] * 36, sum(grid, []))
    assert task.verify(blank, "\n".join(rows))
    transposed = "\n".join(" ".join(str(grid[r][c]) for r in range(6)) for c in range(6))  # 3x2 boxes hold
    assert not task.verify(blank, transposed)


def test_verifier_accepts_any_valid_solution():
    task = Sudoku(4)
    # a puzzle with several solutions: the verifier must accept each of them
    grid = Grid(4)
    puzzle = [1] + [0] * 15
    solutions = solve(grid, puzzle, limit=5)
    assert len(solutions) == 5
    example = task.example(puzzle, solutions[0])
    for other in solutions[1:]:
        assert task.verify(example, " ".join(map(str, other)))


@pytest.mark.parametrize("size", [4, 6, 9])
def test_generated_puzzles_have_a_unique_solution(size):
    task = Sudoku(size)
    rng = random.Random(size)
    for _ in range(3 if size == 9 else 10):
        example = task.generate(rng, wording=rng.randrange(task.num_wordings))
        puzzle = example.data["puzzle"]
        assert len(solve(task.grid, puzzle, limit=2)) == 1
        assert task.verify(example, example.answer)
        # every slot span points at that cell's symbol in the question
        for cell, (a, b) in enumerate(example.slot_spans):
            assert example.question[a:b] in (str(puzzle[cell]) if puzzle[cell] else "_?.")


def test_the_given_slots_are_the_cells_whose_digit_the_question_writes():
    """Read from the question itself (each cell's span holds a digit or a blank), in every wording."""
    task = Sudoku(6, givens=12)
    for wording in range(task.num_wordings):
        example = task.generate(random.Random(wording), wording)
        written = [example.question[a:b].isdigit() for a, b in example.slot_spans]
        assert task.given_slots(example) == written and sum(written) == 12
        # a given's answer is the digit the question writes
        assert all(label + 1 == int(example.question[a:b]) for label, (a, b), given
                   in zip(example.labels, example.slot_spans, written) if given)


def test_givens_knob():
    for size, givens in [(4, 8), (6, 9)]:  # 9: the fewest 6x6 givens accepted
        example = Sudoku(size, givens=givens).generate(random.Random(0), 0)
        assert sum(1 for v in example.data["puzzle"] if v) == givens


def test_givens_no_unique_puzzle_reaches_are_refused_not_looped_on(monkeypatch):
    # Below the known minimum (4 for 4x4): out of range. Possible, but random removal seldom comes
    # down to it (9x9 17 drew 1000 grids, minutes, before refusing): refused at once, saying what
    # works. Reached, but from none of the TRIES grids drawn: generate gives up instead of looping.
    with pytest.raises(PuzzleError, match="givens=3 is out of range for a 4x4 sudoku"):
        make_task(SudokuConfig(size=4, givens=3))
    for size, givens, works in [(9, 17, 22), (9, 21, 22), (8, 16, 17), (6, 5, 9), (6, 8, 9)]:
        with pytest.raises(PuzzleError, match=f"givens={givens}: .* under 1 grid in 50.* task.givens >= {works}, or null"):
            make_task(SudokuConfig(size=size, givens=givens))
    monkeypatch.setattr(sudoku, "TRIES", 5)
    with pytest.raises(PuzzleError, match="givens=9: none of 5 random 6x6 grids.*raise task.givens"):
        Sudoku(6, givens=9).generate(random.Random(1), 0)


def test_removing_a_given_keeps_the_puzzle_unique_exactly_when_no_other_digit_fits():
    """The generator's uniqueness check agrees with counting solutions, on puzzles from full to sparse."""
    grid, rng, seen = Grid(6), random.Random(0), set()
    for blanks in range(5, 28):
        solution = solve(grid, [0] * 36, limit=1, rng=rng)[0]
        blank = set(rng.sample(range(36), blanks))
        puzzle = [0 if i in blank else v for i, v in enumerate(solution)]
        if len(solve(grid, puzzle)) != 1:
            continue
        for cell in (i for i, v in enumerate(puzzle) if v):
            unique = len(solve(grid, [v if i != cell else 0 for i, v in enumerate(puzzle)])) == 1
            assert still_unique_without(grid, puzzle, cell) == unique
            seen.add(unique)
    assert seen == {True, False}


def test_malformed_puzzles_get_clear_errors():
    task = Sudoku(4)
    with pytest.raises(PuzzleError, match="expected 16 cells"):
        task.from_text("1 2 3")
    with pytest.raises(PuzzleError, match="digits 1-4"):
        task.from_text("5" + " _" * 15)
    with pytest.raises(PuzzleError, match="no solution"):
        task.from_text("1 1" + " _" * 14)
    with pytest.raises(PuzzleError, match="more than one solution"):
        task.from_text("1" + " _" * 15)
    with pytest.raises(PuzzleError, match="task.size=5: Sudoku size 5 is not supported"):
        make_task(SudokuConfig(size=5))


def test_a_digit_above_the_size_is_named_with_its_row_and_column():
    """The error quoted the whole text back (a 9x9 question in the cells wording: some 1,500 characters),
    naming neither the digit nor where it stands."""
    typed = PUZZLE.replace("_ _ | 3 _", "_ _ | 3 7").replace("_ 1 | _ _", "_ 1 | 5 _")
    with pytest.raises(PuzzleError, match=r"a 4x4 sudoku holds digits 1-4 only: 5 \(row 3, column 3\), "
                                          r"7 \(row 4, column 4\)$"):
        Sudoku(4).from_text(typed)


@pytest.mark.parametrize("digit", ["\uff12", "\u0662", "\u00b2"])  # full-width, Arabic-Indic, superscript two
def test_a_digit_that_is_not_0_to_9_is_named_and_the_count_below_the_instructions_given(digit):
    """A full-width or Arabic-Indic digit is a digit to a reader but no cell: the error was only a
    count ("found 24": the instructions' "4x4", "2x2" and "1-4" counted in), naming nothing."""
    question = Sudoku(4).generate(random.Random(0), 0).question
    typed = question.replace("row 1: _ _ | 2 _", f"row 1: _ _ | {digit} _")
    assert typed != question
    with pytest.raises(PuzzleError, match=rf"found 24, 15 below the first line: .*; '{digit}' is not read as a digit: "
                                          r"type 0-9$"):
        Sudoku(4).from_text(typed)


@pytest.mark.parametrize("typed", [
    "```\n" + PUZZLE.strip() + "\n```\nCan you solve this?",  # a chat's code block and its question
    PUZZLE + "\nWhat goes in the 2 blanks of row 1?",
    "Here's today's puzzle.\nIt has 4 rows, with boxes of 2x2:\n" + PUZZLE,  # two lines of text before it
])
def test_lines_of_words_around_a_grid_are_not_read_as_cells(typed):
    """A "?" or "." ending a sentence is a blank and its digits are cells: a question after the grid, or
    more than one line of text before it, was refused ("found 19, ..."), a right answer followed by
    "Hope this helps." scored wrong."""
    task = Sudoku(4)
    assert task.from_text(typed).data["puzzle"] == task.from_text(PUZZLE).data["puzzle"]
    assert task.verify(task.from_text(PUZZLE), SOLUTION + "\nHope this helps.")


@pytest.mark.parametrize("extra", ["2 _ _ _", "4 3 2 1"])
def test_a_grid_with_a_row_too_many_is_refused_not_read_without_its_first_row(extra):
    """The first line was dropped whenever the cells below it added up, taken for instructions: a
    grid typed with one row too many read silently as its last rows, and was solved as that puzzle.
    A header of column numbers is still no row."""
    task = Sudoku(4)
    with pytest.raises(PuzzleError, match="expected 16 cells for a 4x4 sudoku, found 20"):
        task.from_text(extra + "\n" + PUZZLE)
    header = "  1 2   3 4\n" + "\n".join(f"{row} {line}" for row, line in zip("ABCD", PUZZLE.strip().splitlines()))
    assert task.from_text(header).data["puzzle"] == task.from_text(PUZZLE).data["puzzle"]


def test_a_puzzle_without_solution_names_the_digit_that_repeats():
    task = Sudoku(4)
    repeats = [("1 _ 1 _", "row 1"), ("1 _ _ _\n_ _ _ _\n1 _ _ _", "column 1"), ("1 _ _ _\n_ 1 _ _", "box 1")]
    for typed, where in repeats:
        lines = (typed + "\n_ _ _ _" * 3).splitlines()[:4]
        with pytest.raises(PuzzleError, match=f"no solution: two 1s in {where}"):
            task.from_text("\n".join(lines))


def test_a_puzzle_without_solution_names_a_cell_no_digit_fits():
    """Givens with no repeat but no solution were only "the givens contradict", leaving the user to find where."""
    task = Sudoku(4)
    # row 1 holds 1 and 2, column 2 holds 3 and 4: row 1, column 2 can hold none of 1-4
    with pytest.raises(PuzzleError, match="no solution: row 1, column 2 can hold no digit: its row, column and box"):
        task.from_text("1 _ _ 2\n_ _ _ _\n_ 3 _ _\n_ 4 _ _")
    # each empty cell can hold a digit, and still none completes row 4 (its 2 has no place): the general line
    deeper = "_ _ _ _\n_ _ _ _\n_ _ _ 2\n4 1 _ _"
    assert blocked(Grid(4), parse_grid(Grid(4), deeper)) == "" and not solve(Grid(4), parse_grid(Grid(4), deeper))
    with pytest.raises(PuzzleError, match="no solution: the givens contradict"):
        task.from_text(deeper)


def test_a_cell_no_digit_fits_is_named_when_only_its_box_completes_the_digits():
    """Row 1 holds 4 and 1, column 1 holds 2: only the 3 in its box leaves row 1, column 1 no digit."""
    with pytest.raises(PuzzleError, match="no solution: row 1, column 1 can hold no digit"):
        Sudoku(4).from_text("_ 4 1 _\n_ 3 _ _\n2 _ _ _\n_ _ _ _")


@pytest.mark.parametrize("typed, model", [(4, 6), (9, 6), (6, 4)])
def test_a_sudoku_of_another_size_names_the_model_that_answers_it(typed, model):
    """reasoning-gym's mini_sudoku (4x4) or sudoku (9x9) given to a 6x6 model was only a count of cells."""
    question = Sudoku(typed).generate(random.Random(0), 0).question
    said = rf"{typed * typed} cells make a {typed}x{typed} sudoku, which a model trained with task.size={typed} answers"
    with pytest.raises(PuzzleError, match=said + rf" \(this one has task.size={model}\)"):
        Sudoku(model).from_text(question)
    with pytest.raises(PuzzleError) as no_size:  # a count that is no other size's says nothing of one
        Sudoku(model).from_text("1 2\n2 1")
    assert "task.size" not in str(no_size.value)


def test_a_grid_of_the_wrong_shape_is_told_its_rows_lengths():
    """A row typed too many or too few, or blanks typed as spaces, was only a count ("found 12")."""
    task = Sudoku(4)
    with pytest.raises(PuzzleError, match=r"found 12: .*; the 4 lines of cells hold 4, 4, 1, 3 cells, where a 4x4 "
                                          r"sudoku has 4 lines of 4"):
        task.from_text("1 _ 3 _\n_ _ 1 2\n 1   \n_  3 _")  # blanks typed as spaces
    with pytest.raises(PuzzleError, match=r"the 5 lines of cells hold 4, 4, 4, 4, 4 cells"):
        task.from_text("2 _ _ _\n" + PUZZLE)


def test_a_wrong_count_of_cells_says_what_a_puzzle_of_this_size_is():
    """It said what was wrong ("expected 16 cells ..., found 9") but not what to type instead."""
    with pytest.raises(PuzzleError) as refused:
        Sudoku(4).from_text("1 2 3 4 _ _ 1 2 3")
    assert str(refused.value) == ("expected 16 cells for a 4x4 sudoku, found 9: type its 16 cells row by row, each a "
                                  "digit 1-4 or a blank (_ . 0 or ?)")
