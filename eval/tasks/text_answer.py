"""Free-text answers as a fixed number of character slots, shared by the families whose answer
is a string (reasoning-gym items, any question/answer file).

The answer "bob" with max_chars=6 becomes six slots:

    b    o    b    <end>  -     -        (- = IGNORE: no loss, never read)

Slot i predicts the i-th character or END. Everything after the first END is ignored, both by
the loss and by `decode`, so a prediction that is exactly right up to END counts as exact.
An answer of exactly max_chars characters needs no END: decode stops at the last slot.
"""

from __future__ import annotations

import re

from eval.tasks.base import IGNORE, PuzzleError, listed, shortened

END = "<end>"
# Printable ASCII plus newline (multi-line answers such as grids). Fixed, so the vocabulary and
# its class ids never depend on the data a model was trained on.
ALPHABET = tuple(chr(c) for c in range(32, 127)) + ("\n",)
VOCAB = (END,) + ALPHABET
_CLASS = {ch: i for i, ch in enumerate(VOCAB)}


class AnswerDoesNotFit(PuzzleError):
    """An answer the slots cannot hold: longer than `max_chars`, or with characters outside the
    alphabet. A generated split leaves such items out, with one warning (`why_left_out`), rather
    than stopping at the first (word_sorting's answers hold an "é" now and then)."""

    def __init__(self, answer: str, max_chars: int, where: str = ""):
        self.length, self.max_chars = len(answer), max_chars
        self.outside = "".join(sorted({ch for ch in answer if ch not in _CLASS}))
        problems = []
        if self.length > max_chars:
            problems.append(f"answer of {self.length} characters does not fit in task.max_answer_chars={max_chars}: "
                            f"{shortened(answer, 40)}; raise task.max_answer_chars")
        if self.outside:
            problems.append(f"answer {shortened(answer, 40)} has characters outside the answer alphabet "
                            f"(printable ASCII and newline): {self.outside!r}")
        super().__init__((f"{where}: " if where else "") + "; ".join(problems))


def why_left_out(left_out: list[AnswerDoesNotFit]) -> str:
    """Why these answers did not fit, for one warning or error: how many, which characters, the
    longest against the slots, and what keeps them."""
    reasons = []
    outside = [err for err in left_out if err.outside]
    if outside:
        chars = sorted({ch for err in outside for ch in err.outside})
        reasons.append(f"answers with characters outside the answer alphabet (printable ASCII and newline): "
                       f"{len(outside)} ({listed(list(map(repr, chars)), 10)}), which no setting here can hold")
    long = [err for err in left_out if err.length > err.max_chars]
    if long:
        reasons.append(f"answers longer than task.max_answer_chars={long[0].max_chars}: {len(long)} (the longest: "
                       f"{max(err.length for err in long)} characters); raise task.max_answer_chars to keep them")
    return "; ".join(reasons)


def checked_max_chars(max_chars: int) -> int:
    """`task.max_answer_chars`, which must leave a slot: 0 failed only at the first answer."""
    if max_chars < 1:
        raise PuzzleError(f"task.max_answer_chars={max_chars}: an answer needs at least one slot (>= 1)")
    return max_chars


def encode(answer: str, max_chars: int, where: str = "") -> list[int]:
    """One class id per slot: the answer's characters, END, then IGNORE up to `max_chars`.
    `where` (the item, say) starts the error of an answer that does not fit."""
    if len(answer) > max_chars or any(ch not in _CLASS for ch in answer):
        raise AnswerDoesNotFit(answer, max_chars, where)
    labels = [_CLASS[ch] for ch in answer]
    if len(labels) < max_chars:
        labels.append(_CLASS[END])
    return labels + [IGNORE] * (max_chars - len(labels))


def decode(ids: list[int]) -> str:
    """The characters before the first END."""
    chars = []
    for i in ids:
        if int(i) == _CLASS[END]:
            break
        chars.append(VOCAB[int(i)])
    return "".join(chars)


def normalize(text: str) -> str:
    """Case, surrounding space and runs of whitespace do not change an answer."""
    return re.sub(r"\s+", " ", text).strip().casefold()
