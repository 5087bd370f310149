"""Sorting a list of numbers, asked for in several ways.

An example instance (length 5, values 0-99, wording 2, descending) as the backbone reads it:

    Put these numbers in order, highest first: forty-two, seven, nineteen, eighty-eight, seven.

Answer text: the sorted list in digits, "88, 42, 19, 7, 7". Each puzzle draws its direction
(ascending or descending) and one of its wording's direction phrases ("highest first",
"descending", ...), with the numbers in digits or in words; the answer is always digits, though
the verifier also reads number words and accepts any correctly sorted list. The held-out
wordings say the direction with words no trained phrase uses ("in falling order"), which tests
whether the front end knows what they mean.

Answer slots line up with the question, as Sudoku's cells do (`slot_spans`, span pooling):

    slot 0      the direction phrase ("highest first"): label IGNORE (no loss, not scored);
                it is there so the reasoner reads which way to sort
    slot 1..k   the k numbers in order of appearance, each span covering the number as written
                ("forty-two"); label = its 0-based place in the requested order, equal values
                keeping their order of appearance. Above: 1, 3, 2, 0, 4 (vocab = places 0..k-1)

`decode` lists the question's numbers by predicted place (ties by appearance), so an answer
always holds every number once. Partial credit (`score`): the fraction of answer positions
holding the right number.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from difflib import get_close_matches

from eval.tasks.base import IGNORE, Example, PuzzleError, SpanText, Task, TaskConfig, listed, shortened


@dataclass
class SortingConfig(TaskConfig):
    name: str = "sorting"
    length: int = 6  # how many numbers to sort (one slot each, after the instruction slot)
    low: int = 0  # smallest value (inclusive)
    high: int = 99  # largest value (inclusive)
    distinct: bool = False  # True: no value repeats within a list


# ---- numbers as English words (the renderer writes them, the parser reads them back) ----

UNITS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve",
         "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen")
TENS = ("", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety")
LIMIT = 999  # words are written for -999..999
NEGATIVE = ("minus", "negative")
SIGNS = "-+\u2212"  # a number's sign in digits: hyphen-minus, plus, the minus sign


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


class WordsBeforeNumbers(PuzzleError):
    """`find_numbers` met a word before any number: the request's own, when no colon ends it.
    `unread` is the message without its hint, for a caller that knows better what to advise."""

    def __init__(self, unread: str, hint: str = ""):  # a default: pickle rebuilds it from its message alone
        super().__init__(unread + hint)
        self.unread = unread


def find_numbers(text: str) -> list[tuple[int, int, int]]:
    """(value, start, end) of every number in `text`, in order: written in digits ("-7", "42") or
    in words ("minus seven", "forty-two", "three hundred and five"), `text[start:end]` being the
    number as written. Words run together ("seven nineteen") split where the next word cannot
    continue the number. Anything else is an error."""
    numbers: list[tuple[int, int, int]] = []
    current: dict | None = None  # the number being read: sign, hundreds, rest, last word kind, span

    def close() -> None:
        nonlocal current
        if current is not None:
            if current["last"] in ("sign", "and"):
                raise PuzzleError(f"{current['word']!r} without a number after it in {shortened(text)}")
            value = current["sign"] * (current["hundreds"] * 100 + current["rest"])
            numbers.append((value, current["start"], current["end"]))
            current = None

    def refuse_glued_sign(sign: int, end: int) -> None:
        # "5-12" is a range or a difference, not 5 and -12; "--12" and "minus -12" are one sign too many
        if sign and (text[sign - 1].isdigit() or text[sign - 1] in SIGNS) or current and current["last"] == "sign":
            raise PuzzleError(f"a sign glued to what comes before it in {shortened(text[max(0, sign - 10):end + 10])}; "
                              "give each number one sign and separate numbers with commas or spaces ('5, -12')")

    # A decimal is one token, so "3.5" or ".5" is refused rather than read as 3 and 5, or 5 ("." alone
    # is skipped). A sign is "-", "+" or the minus sign U+2212 (word processors and chats write it);
    # "-" alone is skipped (a list's bullet) unless glued to a number word ("-seven", see below), "+" or
    # U+2212 alone is refused.
    for match in re.finditer(r"[-+\u2212]?\d*\.?\d+|[A-Za-z]+|[,;\n]|[^\sA-Za-z\d.\[\]()-]", text):
        token, word, (a, b) = match.group(), match.group().lower(), match.span()
        if token in ",;\n":  # separators end a number: "forty, two" is two numbers
            close()
            continue
        if "." in token:
            # reasoning-gym's number_sorting writes even whole numbers so ("59.0"): say how to sort its items
            whole = re.fullmatch(r"([-+\u2212]?\d+)\.0*", token)
            rewrite = f" (write it as {whole[1]})" if whole else ""
            raise PuzzleError(f"{shortened(token)} in {shortened(text)}: only whole numbers can be sorted{rewrite}; "
                              "a list with decimals, such as a reasoning-gym number_sorting item, is sorted by a "
                              "model trained with task=reasoning_gym task.dataset=number_sorting "
                              "(docs/external_tasks.md)")
        if re.fullmatch(r"[-+\u2212]?\d+", token):
            if token[0] in SIGNS:
                refuse_glued_sign(a, b)
            if len(token) > 100:  # int() refuses over 4300 digits with a ValueError; no list to sort has such numbers
                raise PuzzleError(f"{token[:20]!r}... in {shortened(text, 60)}: a number of {len(token)} digits is "
                                  "too long")
            sign = -1 if current and current["last"] == "sign" or token[0] in "-\u2212" else 1  # "minus 3"
            if current and current["last"] == "sign":
                a, current = current["start"], None
            close()
            numbers.append((sign * int(token.lstrip(SIGNS)), a, b))
            continue
        if word in NEGATIVE:
            close()
            current = {"sign": -1, "hundreds": 0, "rest": 0, "last": "sign", "word": word, "start": a, "end": b}
            continue
        if word in UNITS or word in TENS[2:]:
            kind = "unit" if word in UNITS[:10] else "teen" if word in UNITS else "tens"
            value = UNITS.index(word) if word in UNITS else 10 * TENS.index(word)
            last = current["last"] if current else None
            # "-seven" is minus seven, as "-7" is -7 (a dash between words, "forty-two", joins them)
            minus = a > 0 and text[a - 1] == "-" and not (a > 1 and text[a - 2].isalpha())
            if minus:
                refuse_glued_sign(a - 1, b)
            # A unit continues a tens word (forty two); anything continues a sign, "hundred"
            # or "and"; otherwise this word starts a new number.
            if minus or not (last in ("sign", "hundred", "and") or (last == "tens" and kind == "unit" and value)):
                close()
                current = {"sign": -1 if minus else 1, "hundreds": 0, "rest": 0, "last": None, "word": None,
                           "start": a - minus}
            current["rest"] += value
            current["last"], current["end"] = kind, b
            continue
        if word == "hundred" and current and current["last"] == "unit" and current["hundreds"] == 0:
            current["hundreds"], current["rest"], current["last"] = current["rest"], 0, "hundred"
            current["end"] = b
            continue
        if word == "and" and current and current["last"] == "hundred":
            current["last"], current["word"] = "and", word
            continue
        if token == "`":  # a chat's code block: not read, as a request inside one would be read only in part
            raise PuzzleError(f"a code fence (```) in {shortened(text)}; remove it and give the request alone, "
                              "as 'Sort descending: 5, 12, 0'")
        # Words before every number are most likely the request itself, written without the colon
        # that Sorting.from_text reads the numbers after.
        request = "" if numbers or current else "; a request in words ends with a colon: 'Sort descending: 5, 12, 0'"
        if (numbers or current) and token.isalpha() and not re.search(r"\d", text[b:]):
            request = ("; words after the numbers are not read: put the request, its direction or a question before "
                       "the colon ('Sort descending: 5, 12, 0')")
        unread = (f"cannot read {shortened(token)} as part of a number in {shortened(text)}; write numbers in "
                  "digits or words, separated by commas or spaces")
        if not (numbers or current):
            raise WordsBeforeNumbers(unread, request)
        raise PuzzleError(unread + request)
    close()
    return numbers


def parse_numbers(text: str) -> list[int]:
    """Every number in `text`, in order (see `find_numbers`)."""
    return [value for value, _, _ in find_numbers(text)]


# ---- wordings: (template, direction phrases, numbers in words?, separator) ----
# The direction phrase fills {direction}, always before {items}: its span is the instruction slot.
# Each wording has a few (ascending, descending) phrase pairs and a puzzle draws one pair and a
# direction, so within every wording only the phrase tells the two directions apart.

WORDINGS = (
    ("Sort these numbers {direction}: {items}.",
     (("in ascending order", "in descending order"), ("in increasing order", "in decreasing order")), False, ", "),
    ("Arrange the following numbers {direction}: {items}",
     (("from smallest to largest", "from largest to smallest"), ("smallest first", "largest first")), False, " "),
    ("Put these numbers in order, {direction}: {items}.",
     (("lowest first", "highest first"), ("ascending", "descending")), True, ", "),
    ("Here are some numbers written out in words, to be listed {direction} in digits: {items}.",
     (("from lowest to highest", "from highest to lowest"), ("in increasing order", "in decreasing order")),
     True, "; "),
    # Held out by default (configs/task/sorting.yaml trains on 0-3): their direction words
    # (rising, tiniest, minimum, least, bottom, upward...) neither contain nor lie within a word
    # of a trained phrase (a test checks it; "low" would, within "lowest"), so reading them takes
    # knowing what the words mean, which is what a language backbone brings and a character
    # model trained on the phrases above cannot. One list in digits, one in words.
    ("Numbers to order, {direction}:\n{items}",
     (("in rising order", "in falling order"), ("tiniest first", "biggest first"), ("minimum first", "maximum first")),
     False, "\n"),
    ("Please rank these values {direction}: {items}.",
     (("least first", "greatest first"), ("from bottom to top", "from top to bottom"),
      ("in upward order", "in downward order")), True, ", "),
)
# Also read in typed requests ("low to high" was wording 4's phrase before `version` 4).
ASCENDING_WORDS = tuple(pair[0] for w in WORDINGS for pair in w[1]) + ("increasing", "smallest to largest",
                                                                      "smallest to biggest", "lowest to highest",
                                                                      "low to high")
DESCENDING_WORDS = tuple(pair[1] for w in WORDINGS for pair in w[1]) + ("decreasing", "largest to smallest",
                                                                       "biggest to smallest", "highest to lowest",
                                                                       "high to low")
# Matched on the text itself, with any whitespace between words ("largest  to\tsmallest", a line
# break) and in any case: spans found in text.lower() would shift after a letter whose lower case
# is longer ("İ"). Whole words only (or their adverbs: "increasingly").
PHRASE_PATTERNS = {p: re.compile(r"(?<![\w-])" + r"\s+".join(map(re.escape, p.split())) + r"(?:ly)?(?![\w-])",
                                 re.IGNORECASE)
                   for p in (*DESCENDING_WORDS, *ASCENDING_WORDS)}
# descending -> "non-increasing" or "non-decreasing", written with a hyphen, spaces, a line break
# or nothing between: a list sorted with ties never decreases going up. The phrase inside one
# ("decreasing") says the opposite direction and is not read on its own.
NEGATED = {descending: re.compile(rf"(?<![\w-])non[\s-]*{word}(?:ly)?(?![\w-])", re.IGNORECASE)
           for descending, word in ((True, "increasing"), (False, "decreasing"))}


def direction_phrases(text: str) -> list[tuple[int, int, bool]]:
    """(start, end, descending) of each known direction phrase in `text`, in order, those inside a
    longer one left out ("ascending" inside "in ascending order", "decreasing" inside
    "non-decreasing")."""
    found = {(m.start(), m.end(), descending) for descending, pattern in NEGATED.items() for m in pattern.finditer(text)}
    found |= {(m.start(), m.end(), phrase in DESCENDING_WORDS) for phrase, pattern in PHRASE_PATTERNS.items()
              for m in pattern.finditer(text)}
    return sorted(span for span in found
                  if not any(a <= span[0] and span[1] <= b and (a, b) != span[:2] for a, b, _ in found))


# A request that says which way to sort in none of the phrases above ("from largest to smalest", "in
# reverse order") is refused: read as ascending, as a request that names no direction is, it would
# get a confident wrong answer. These are the words that say it: the phrases' own, a few more, and
# near misses of the longer ones. Most of them also describe the numbers ("the small numbers", "the
# top scores", "numbers up to 100", "write down"): those say a direction only in a direction's shape,
# "<word> to <word>" ("small to large") or a superlative before "first" or "last" ("biggest number
# first"); ORDER_WORDS say one wherever they stand.
ORDER_WORDS = frozenset({"ascending", "descending", "ascend", "descend", "increasing", "decreasing", "reverse",
                         "reversed", "upward", "downward"})
DIRECTION_WORDS = frozenset({word for p in (*ASCENDING_WORDS, *DESCENDING_WORDS) for word in p.split()}
                            - {"in", "order", "from", "to", "first"}
                            | ORDER_WORDS
                            | {"increase", "decrease", "up", "down", "min", "max",
                               "small", "smaller", "big", "bigger", "large", "larger", "lower", "higher"})
FIRST_WORDS = frozenset(p.split()[-2] for p in (*ASCENDING_WORDS, *DESCENDING_WORDS)
                        if p.endswith(" first"))  # "smallest"...
# The words of each list above long enough to be read misspelt (`says_direction`), picked once.
LONG_WORDS = {among: sorted(word for word in among if len(word) >= 5) for among in (ORDER_WORDS, DIRECTION_WORDS,
                                                                                     FIRST_WORDS)}
# "<word> to <word>" with a word for each end of the sorted list, small end first or large end first,
# says the direction as plainly as a phrase above: "small to large", "smaller to larger", "from the
# lowest to the highest", "least to greatest", "max to min", "largest to lowest". Read only exactly
# in that shape (articles skipped): a pair with both words at one end ("smaller to lowest"), two
# pairs that disagree ("small to large, large to small") or a pair beside other direction words
# ("in reverse, small to large", "biggest number first") is still refused, as is a misspelt or
# farther apart one ("largest to smalest", "the biggest number to the smallest number").
SMALL_END = frozenset({"small", "smaller", "smallest", "little", "low", "lower", "lowest", "least", "min", "minimum"})
LARGE_END = frozenset({"large", "larger", "largest", "big", "bigger", "biggest", "high", "higher", "highest", "great",
                       "greater", "greatest", "most", "max", "maximum"})
END_WORDS = SMALL_END | LARGE_END
SORTED_END_WORDS = sorted(END_WORDS)  # for get_close_matches, in a fixed order


def near_end_word(word: str) -> bool:
    """A misspelling of a word for one end of the list, however short ("smal", "lo", "hihg"):
    beside "to" and a real end word it would otherwise leave a pair unread but unrefused."""
    return word not in END_WORDS and bool(get_close_matches(word, SORTED_END_WORDS, 1, 0.75))


def says_direction(word: str, among: frozenset[str] = DIRECTION_WORDS) -> bool:
    """Whether `word` is one of the words `among` (one of the lists above), or a misspelling of a
    long one ("smalest", "decending"; at this similarity common words such as "following" or
    "listed" are not)."""
    word = word.lower()
    return word in among or len(word) >= 5 and bool(get_close_matches(word, LONG_WORDS[among], 1, 0.8))


def request_words(text: str) -> list[tuple[str, int, int]]:
    """(word in lower case, start, end) of each word of `text`, articles skipped. Digits count as
    words: in "numbers up to 100", "to" has no direction word after it."""
    words = ((m.group().lower(), *m.span()) for m in re.finditer(r"[^\W_]+", text))
    return [word for word in words if word[0] not in ("the", "a", "an")]


def end_pairs(words: list[tuple[str, int, int]]) -> dict[int, bool]:
    """{i: descending} for each "to" at words[i] between a word for one end of the sorted list and
    one for the other (`SMALL_END`, `LARGE_END`): "small to large" says ascending, "high to low"
    descending."""
    pairs = {}
    for i in range(1, len(words) - 1):
        before, after = words[i - 1][0], words[i + 1][0]
        if words[i][0] == "to" and (before in SMALL_END and after in LARGE_END or
                                    before in LARGE_END and after in SMALL_END):
            pairs[i] = before in LARGE_END
    return pairs


def unread_direction(words: list[tuple[str, int, int]]) -> set[int]:
    """Which of `words` (`request_words` of a request before its numbers, which no known phrase
    reads) say which way to sort: an ORDER_WORD anywhere, direction words on both sides of "to"
    ("small to large", "from the largest to the lowest"), a word for one end of the list beside
    "to" with a misspelt one on the other side ("large to smal", too short for says_direction;
    "up to max" and "at least to start" say nothing), or a superlative up to three words before
    "first" or "last" ("biggest number first")."""
    words = [word for word, _, _ in words]
    said = set()
    for i, word in enumerate(words):
        if says_direction(word, ORDER_WORDS):
            said.add(i)
        if word == "to":
            before = [j for j in range(max(0, i - 2), i) if says_direction(words[j])]
            after = [j for j in range(i + 1, min(len(words), i + 3)) if says_direction(words[j])]
            if before and after:
                said |= {*before, *after}
            for end, other in ((i - 1, i + 1), (i + 1, i - 1)):
                if 0 <= min(end, other) and max(end, other) < len(words) and words[end] in END_WORDS \
                        and near_end_word(words[other]):
                    said |= {end, other}
        if says_direction(word, FIRST_WORDS) and {"first", "last"} & set(words[i + 1:i + 4]):
            said.add(i)
    return said


def render(numbers: list[int], wording: int, descending: bool, phrase: int = 0) -> tuple[str, list[tuple[int, int]]]:
    """Question text and the spans of its slots: the direction phrase, then each number.
    `phrase` picks the wording's (ascending, descending) phrase pair."""
    template, phrases, in_words, separator = WORDINGS[wording % len(WORDINGS)]
    before, rest = template.split("{direction}")
    middle, after = rest.split("{items}")
    emit = SpanText()
    emit(before)
    emit(phrases[phrase % len(phrases)][int(descending)], slot=True)
    emit(middle)
    for i, value in enumerate(numbers):
        if i:
            emit(separator)
        if separator == "\n":
            emit("- ")
        emit(to_words(value) if in_words else str(value), slot=True)
    emit(after)
    return emit.result()


def refuse_misread_lists(numbers: str) -> None:
    """A PuzzleError for the numbers of a request written in a way `find_numbers` would read as
    more numbers than meant: a thousands separator ("1,000": 1 and 0; no number here exceeds
    999, so it is a mistake either way) or a numbered list ("1. 5", whose item numbers would be
    sorted too). A comma groups thousands only before a group starting with 0: "300,100,200" is
    a list written without spaces. Answers are not checked: "0,050,100" is no answer's form."""
    grouped = re.search(r"\d+(?:,0\d\d|[\u2009\u202f]\d{3})+(?!\d)", numbers)
    if grouped:
        raise PuzzleError(f"{grouped.group()!r} reads as one number with a thousands separator, but numbers here are "
                          f"at most {LIMIT}; if these are separate numbers, put a space after each comma ('1, 000')")
    marker = re.search(r"\n[ \t]*(\d+[.)][ \t]+\S+)", numbers)
    if marker:
        raise PuzzleError(f"{marker.group(1)!r} looks like an item of a numbered list, whose item numbers would be "
                          "sorted too; write the numbers alone, one per line or separated by commas")


def numbers_after_colon(text: str) -> tuple[int, list[tuple[int, int, int]]]:
    """Where a request's numbers start (just after a colon, or 0 without one) and `find_numbers`
    of the text from there: after the first colon unless words come before any number there,
    which are then the request's own ("Q: Sort descending: 5, 12, 0", "Task 3: sort ..."), so the
    next colon is tried. Without such a colon the first colon's error is raised."""
    starts = [match.end() for match in re.finditer(":", text)] or [0]
    first_error = None
    for start in starts:
        try:
            found = find_numbers(text[start:])
        except WordsBeforeNumbers as error:
            first_error = first_error or error
            continue
        refuse_misread_lists(text[start:])
        return start, found
    if starts == [0]:
        raise first_error
    # the text has its colon, so advice to end the request with one would not help
    raise WordsBeforeNumbers(first_error.unread, "; words come before any number after every colon here: put the "
                             "numbers right after the request's colon, as in 'Sort descending: 5, 12, 0'") from None


def looks_like(text: str) -> bool:
    """Whether typed text asks to sort numbers: two or more, after words that say to sort, order or rank
    them or which way. For naming the family of a puzzle another family's model cannot read
    (`eval.tasks.read_typed`)."""
    try:
        colon, found = numbers_after_colon(text)
    except PuzzleError:
        return False
    request = text[:colon + found[0][1]] if found else ""
    return len(found) >= 2 and bool(direction_phrases(request) or re.search(r"\b(sort|order|arrange|rank)", request,
                                                                              re.IGNORECASE))


def ranks(numbers: list[int], descending: bool) -> list[int]:
    """0-based place of each number in the sorted answer; equal values keep their order."""
    order = sorted(range(len(numbers)), key=lambda i: -numbers[i] if descending else numbers[i])
    place = [0] * len(numbers)
    for position, i in enumerate(order):
        place[i] = position
    return place


class Sorting(Task):
    name = "sorting"
    num_wordings = len(WORDINGS)
    # 2: answer slots aligned with the question; 3: several direction phrases per wording; 4: "from
    # bottom to top" held out instead of "from low to high", test splits keep out training puzzles
    # in any wording (puzzle_key)
    version = 4

    def __init__(self, length: int = 6, low: int = 0, high: int = 99, distinct: bool = False):
        if length < 2:
            raise PuzzleError(f"task.length={length}: a list to sort needs at least 2 numbers")
        if not -LIMIT <= low < high <= LIMIT:
            raise PuzzleError(f"task.low={low} and task.high={high} must satisfy -{LIMIT} <= low < high <= {LIMIT}")
        if distinct and high - low + 1 < length:
            raise PuzzleError(f"task.distinct=true needs at least task.length={length} values, low..high has "
                              f"{high - low + 1}")
        self.length, self.low, self.high, self.distinct = length, low, high, distinct
        self.vocab = tuple(str(p) for p in range(length))  # a number's 0-based place in the answer
        self.num_slots = length + 1  # the instruction, then one slot per number

    def example(self, numbers: list[int], wording: int = 0, descending: bool = False,
                spans: list[tuple[int, int]] | None = None, question: str | None = None, phrase: int = 0) -> Example:
        """An example for `numbers`, rendered in `wording` with its `phrase`-th direction phrase,
        unless a hand-written `question` and its slot `spans` (instruction first, then each
        number) are given."""
        if len(numbers) != self.length:
            other = f", or use a model trained with task.length={len(numbers)}" * (len(numbers) >= 2)
            raise PuzzleError(f"expected {self.length} numbers to sort, found {len(numbers)}: {listed(numbers, 20)}; "
                              f"this model sorts {self.length} at a time (task.length={self.length}): give "
                              f"{self.length}{other}")
        outside = [v for v in numbers if not self.low <= v <= self.high]
        if outside:
            raise PuzzleError(f"numbers {outside} are outside the task's range {self.low}..{self.high} (task.low, "
                              f"task.high): give numbers from {self.low} to {self.high}")
        if question is None:
            question, spans = render(numbers, wording, descending, phrase)
        return Example(
            question=question,
            answer=", ".join(map(str, sorted(numbers, reverse=descending))),
            labels=[IGNORE, *ranks(numbers, descending)],
            slot_spans=[tuple(s) for s in spans],
            data={"numbers": list(numbers), "descending": descending},
            wording=wording,
        )

    def typed_form(self) -> str:
        """What to type for a puzzle of this model, as errors tell it: a request with numbers it sorts."""
        span = self.high - self.low + 1
        numbers = [self.low + (7 * i + span // 3) % span for i in range(self.length)]
        return (f"type a request and {self.length} whole numbers from {self.low} to {self.high}, e.g. "
                f"'Sort descending: {', '.join(map(str, numbers))}'")

    def from_text(self, text: str, wording: int = 0) -> Example:
        """An example from a hand-written request such as "Sort descending: 5, forty, 12";
        largest first when the text says so (`DESCENDING_WORDS`, or a pair of ends: "large to
        small", `end_pairs`), smallest first when it says so or names no direction, refused when
        it names one in no known phrase (`unread_direction`) or contradicts itself. The
        instruction slot covers the first direction phrase (or pair of ends) before the numbers,
        else all the text before them."""
        phrases = direction_phrases(text)
        descending = any(d for _, _, d in phrases)
        colon, found = numbers_after_colon(text)
        if not found:
            raise PuzzleError(f"expected {self.length} numbers to sort, found none in {shortened(text)}: "
                              f"{self.typed_form()}")
        first = colon + found[0][1]
        words = request_words(text[:first])
        pairs = end_pairs(words)
        if len({d for _, _, d in phrases}) > 1 or phrases and any(d != descending for d in pairs.values()):
            quoted = [text[a:b] for a, b, _ in phrases] + [" ".join(w for w, _, _ in words[i - 1:i + 2]) for i in pairs]
            raise PuzzleError(f"{shortened(text)} asks for both directions ({', '.join(map(repr, quoted))}); "
                              "say one: 'ascending' or 'descending', 'smallest first' or 'largest first'")
        before = [(a, b) for a, b, _ in phrases if a < first]
        if before:
            instruction = before[0]  # the first phrase (phrases inside a longer one are left out)
        else:
            # No known phrase: a pair of ends ("small to large", `end_pairs`) may say the direction,
            # when it is the only thing that does and all such pairs agree
            paired = {j for i in pairs for j in (i - 1, i + 1)}
            said = unread_direction(words)
            if said - paired or len(set(pairs.values())) > 1:
                unread = [words[j][0] for j in sorted(said | paired)]
                raise PuzzleError(f"could not read the direction in {shortened(text[:first].strip())} (from "
                                  f"{', '.join(map(repr, unread))}); say 'from smallest to largest' or 'from largest to "
                                  "smallest', 'ascending' or 'descending', 'smallest first' or 'largest first'")
            if pairs:
                i = min(pairs)
                descending, instruction = pairs[i], (words[i - 1][1], words[i + 1][2])
            else:
                prefix = text[:first].rstrip(" :\n\t-")
                instruction = (len(prefix) - len(prefix.lstrip()), len(prefix))
        spans = [instruction, *((colon + a, colon + b) for _, a, b in found)]
        return self.example([v for v, _, _ in found], wording, descending, spans, text)

    def generate(self, rng: random.Random, wording: int) -> Example:
        values = range(self.low, self.high + 1)
        numbers = rng.sample(values, self.length) if self.distinct else [rng.choice(values) for _ in range(self.length)]
        descending = rng.random() < 0.5
        return self.example(numbers, wording, descending, phrase=rng.randrange(len(WORDINGS[wording % len(WORDINGS)][1])))

    def puzzle_key(self, example: Example) -> str:
        return repr((example.data["numbers"], example.data["descending"]))  # not the wording's phrase or number format

    def decode(self, example: Example, ids: list[int]) -> str:
        """The question's numbers placed by predicted position (ties by order of appearance), so
        the answer always lists every number once; slot 0 (the instruction) is not read."""
        numbers = example.data["numbers"]
        places = list(ids)[1:len(numbers) + 1]
        order = sorted(range(len(numbers)), key=lambda i: (int(places[i]), i))
        return ", ".join(str(numbers[i]) for i in order)

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
