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

from eval.tasks.base import IGNORE, PuzzleError

END = "<end>"
# Printable ASCII plus newline (multi-line answers such as grids). Fixed, so the vocabulary and
# its class ids never depend on the data a model was trained on.
ALPHABET = tuple(chr(c) for c in range(32, 127)) + ("\n",)
VOCAB = (END,) + ALPHABET
_CLASS = {ch: i for i, ch in enumerate(VOCAB)}


def encode(answer: str, max_chars: int) -> list[int]:
    """One class id per slot: the answer's characters, END, then IGNORE up to `max_chars`."""
    if len(answer) > max_chars:
        raise PuzzleError(f"answer of {len(answer)} characters does not fit in task.max_answer_chars="
                          f"{max_chars}: {answer[:40]!r}{'...' if len(answer) > 40 else ''}; raise task.max_answer_chars")
    outside = sorted({ch for ch in answer if ch not in _CLASS})
    if outside:
        raise PuzzleError(f"answer {answer[:40]!r} has characters outside the answer alphabet "
                          f"(printable ASCII and newline): {''.join(outside)!r}")
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
