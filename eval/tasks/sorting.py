"""Sorting a list of numbers, asked for in several ways.

An example instance (length 5, values 0-99, wording 2) as the backbone reads it:

    Put these numbers in increasing order: forty-two, seven, nineteen, eighty-eight, seven.

Answer text: the sorted list in digits, "7, 7, 19, 42, 88". The wording decides the direction
(wordings 1 and 3 ask for largest first) and whether the numbers are written in digits or in
words; the answer is always digits, though the verifier also reads number words.

Answer slots: the `length` output positions, class id = value - low (the vocabulary is the
value range). Slots do not line up with pieces of the question (position 1 of the answer is
whichever number is smallest), so examples carry no `slot_spans` and the adapter reads the
question with learned queries (cross-attention).

Partial credit (`score`): the fraction of output positions holding the right number.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass

from eval.tasks.base import Example, PuzzleError, Task


@dataclass
class SortingConfig:
    name: str = "sorting"
    length: int = 8  # how many numbers to sort (answer slots)
    low: int = 0  # smallest value (inclusive)
    high: int = 99  # largest value (inclusive); the vocabulary is low..high
    distinct: bool = False  # True: no value repeats within a list
    train_size: int = 6000
    test_size: int = 1000
    wordings: list[int] | None = None  # renderer templates to train and test on (None: all)
    held_out_wordings: list[int] | None = None  # wordings never used in training


# ---- numbers as English words (the renderer writes them, the parser reads them back) ----

UNITS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve",
         "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen")
TENS = ("", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety")
LIMIT = 999  # words are written for -999..999
NEGATIVE = ("minus", "negative")


def to_words(value: int) -> str:
    """42 -> "forty-two", 305 -> "three hundred five", -7 -> "minus seven"."""
    if not -LIMIT <= value <= LIMIT:
        raise PuzzleError(f"{value} is outside the range written in words (-{LIMIT}..{LIMIT})")
    if value < 0:
        return "minus " + to_words(-value)
    hundreds, rest = divmod(value, 100)
    words = [UNITS[hundreds], "hundred"] if hundreds else []
    if rest or not hundreds:
        tens, unit = divmod(rest, 10)
        words.append(UNITS[rest] if rest < 20 else TENS[tens] + (f"-{UNITS[unit]}" if unit else ""))
    return " ".join(words)


def parse_numbers(text: str) -> list[int]:
    """Every number in `text`, written in digits ("-7", "42") or in words ("minus seven",
    "forty-two", "three hundred and five"), in order. Words run together ("seven nineteen")
    split where the next word cannot continue the number. Anything else is an error."""
    tokens = re.findall(r"-?\d+|[A-Za-z]+|[,;\n]|[^\sA-Za-z\d.\[\]()-]", text)
    numbers: list[int] = []
    current: dict | None = None  # the number being read: sign, hundreds, rest, last word kind

    def close() -> None:
        nonlocal current
        if current is not None:
            if current["last"] in ("sign", "and"):
                raise PuzzleError(f"{current['word']!r} without a number after it in {text!r}")
            numbers.append(current["sign"] * (current["hundreds"] * 100 + current["rest"]))
            current = None

    for token in tokens:
        word = token.lower()
        if token in ",;\n":  # separators end a number: "forty, two" is two numbers
            close()
            continue
        if re.fullmatch(r"-?\d+", token):
            sign = -1 if current and current["last"] == "sign" else 1  # "minus 3"
            if sign < 0:
                current = None
            close()
            numbers.append(sign * int(token))
            continue
        if word in NEGATIVE:
            close()
            current = {"sign": -1, "hundreds": 0, "rest": 0, "last": "sign", "word": word}
            continue
        if word in UNITS or word in TENS[2:]:
            kind = "unit" if word in UNITS[:10] else "teen" if word in UNITS else "tens"
            value = UNITS.index(word) if word in UNITS else 10 * TENS.index(word)
            last = current["last"] if current else None
            # A unit continues a tens word (forty two); anything continues a sign, "hundred"
            # or "and"; otherwise this word starts a new number.
            if not (last in ("sign", "hundred", "and") or (last == "tens" and kind == "unit" and value)):
                close()
                current = {"sign": 1, "hundreds": 0, "rest": 0, "last": None, "word": None}
            current["rest"] += value
            current["last"] = kind
            continue
        if word == "hundred" and current and current["last"] == "unit" and current["hundreds"] == 0:
            current["hundreds"], current["rest"], current["last"] = current["rest"], 0, "hundred"
            continue
        if word == "and" and current and current["last"] == "hundred":
            current["last"], current["word"] = "and", word
            continue
        raise PuzzleError(f"cannot read {token!r} as part of a number in {text!r}; write numbers in digits "
                          "or words, separated by commas or spaces")
    close()
    return numbers


# ---- wordings: (template, descending?, numbers in words?, separator) ----

WORDINGS = (
    ("Sort these numbers in ascending order: {items}.", False, False, ", "),
    ("Arrange the following numbers from largest to smallest: {items}", True, False, " "),
    ("Put these numbers in increasing order: {items}.", False, True, ", "),
    ("Here are some numbers written out in words: {items}. List them from highest to lowest, in digits.",
     True, True, "; "),
    ("Numbers:\n{items}\nWrite them sorted from smallest to largest.", False, False, "\n"),
)
DESCENDING_WORDS = ("descending", "decreasing", "largest to smallest", "highest to lowest", "biggest to smallest",
                    "largest first", "highest first")


def render(numbers: list[int], wording: int) -> str:
    template, _, in_words, separator = WORDINGS[wording % len(WORDINGS)]
    items = [to_words(v) if in_words else str(v) for v in numbers]
    if separator == "\n":
        items = [f"- {item}" for item in items]
    return template.format(items=separator.join(items))


class Sorting(Task):
    name = "sorting"
    num_wordings = len(WORDINGS)

    def __init__(self, length: int = 8, low: int = 0, high: int = 99, distinct: bool = False, **_: object):
        if length < 2:
            raise PuzzleError(f"length={length}: a list to sort needs at least 2 numbers")
        if not -LIMIT <= low < high <= LIMIT:
            raise PuzzleError(f"values low={low}..high={high} must satisfy -{LIMIT} <= low < high <= {LIMIT}")
        if distinct and high - low + 1 < length:
            raise PuzzleError(f"distinct=true needs at least length={length} values, low..high has {high - low + 1}")
        self.length, self.low, self.high, self.distinct = length, low, high, distinct
        self.vocab = tuple(str(v) for v in range(low, high + 1))
        self.num_slots = length

    @property
    def aligned_slots(self) -> bool:
        return False  # answer position i is not any one number of the question

    def example(self, numbers: list[int], wording: int = 0, descending: bool | None = None) -> Example:
        """An example for `numbers`; the direction comes from the wording unless given."""
        if len(numbers) != self.length:
            raise PuzzleError(f"expected {self.length} numbers to sort, found {len(numbers)}: {numbers}")
        outside = [v for v in numbers if not self.low <= v <= self.high]
        if outside:
            raise PuzzleError(f"numbers {outside} are outside the task's range {self.low}..{self.high}")
        if descending is None:
            descending = WORDINGS[wording % len(WORDINGS)][1]
        ordered = sorted(numbers, reverse=descending)
        return Example(
            question=render(numbers, wording),
            answer=", ".join(map(str, ordered)),
            labels=[v - self.low for v in ordered],
            slot_spans=None,
            data={"numbers": list(numbers), "descending": descending},
            wording=wording,
        )

    def from_text(self, text: str, wording: int = 0) -> Example:
        """An example from a hand-written request such as "Sort descending: 5, forty, 12";
        largest first when the text says so (`DESCENDING_WORDS`)."""
        descending = any(phrase in text.lower() for phrase in DESCENDING_WORDS)
        numbers = parse_numbers(re.sub(r"^[^:]*:", "", text.strip(), count=1) if ":" in text else text)
        return self.example(numbers, wording, descending)

    def generate(self, rng: random.Random, wording: int) -> Example:
        values = range(self.low, self.high + 1)
        numbers = rng.sample(values, self.length) if self.distinct else [rng.choice(values) for _ in range(self.length)]
        return self.example(numbers, wording)

    def decode(self, example: Example, ids: list[int]) -> str:
        return ", ".join(str(self.low + int(i)) for i in ids)

    def _expected(self, example: Example) -> list[int]:
        return sorted(example.data["numbers"], reverse=example.data["descending"])

    def verify(self, example: Example, answer: str) -> bool:
        try:
            return parse_numbers(answer) == self._expected(example)
        except PuzzleError:
            return False

    def score(self, example: Example, answer: str) -> float:
        try:
            got = parse_numbers(answer)
        except PuzzleError:
            return 0.0
        expected = self._expected(example)
        return sum(g == e for g, e in zip(got, expected)) / max(len(expected), len(got))
