"""Logic-grid ("zebra") puzzles in natural language.

An example instance (3 houses x 3 attributes, wording 0) as the backbone reads it:

    There are 3 houses in a row, numbered 1 to 3 from left to right. Each house is home to one
    person, and each person has a different name, pet and drink.
    Names: Alice, Bob, Carol.
    Pets: cat, dog, fish.
    Drinks: coffee, milk, tea.
    Clues:
    1. Carol lives immediately to the right of the person who keeps a dog.
    2. House 3 belongs to Alice.
    3. The person who drinks tea and the person who keeps a cat live in the same house.
    4. Bob is not the coffee drinker.
    5. The milk drinker and the fish owner are next-door neighbours.
    Who lives where?

Answer text: the full assignment, one house per line, values in attribute order:

    House 1: Bob, dog, milk
    House 2: Carol, fish, coffee
    House 3: Alice, cat, tea

Answer slots line up with the question (`aligned_slots`, so span pooling reads them):

  * one slot per value where the listings name it (Alice, Bob, Carol, cat, ..., tea: attribute
    by attribute, values in class order, which is alphabetical); class = the value's house,
    0-based (above: 2 0 1 | 2 0 1 | 1 0 2). These are the answer.
  * CLUE_PARTS = 5 slots per clue that tile its line: the text before its first mention, the
    first mention, the text between, the second mention, the rest of the line. A mention is a
    value word or a house ("3", "third"), so clue 1 above is "1. " | "Carol" | " lives
    immediately to the right of the person who keeps a " | "dog" | ".\n". They are there so the
    clues reach the reasoner, each mention pooled on its own so it can be matched with its
    value slot, and the relation kept apart from who is on which side of it. Their label is
    IGNORE (no loss, not scored), except that with `mention_labels` a mentioned
    value is labelled with its house like its listed slot (Carol 1, dog 0 above): redundant
    with the answer, but it gives the reasoner a target next to the clue text, and exact
    accuracy then asks for every mention too. Slots of clues a puzzle does not have (up to
    `max_clues`) have no text and label IGNORE.

`decode` writes the grid the predicted houses describe (a house predicted twice for one
attribute goes to the first value; values left over fill the free houses in order).

Wordings: 0 houses numbered left to right; 1 a street from west to east, ordinal houses; 2
formal constraints (`pos(pet=dog) + 1 = pos(name=Carol)`); 3 houses left to right again, every
sentence said in other words ("lives one house to the left of", "the resident of house 3 is",
"turns out to be"). The preset trains on 0-2, so 3 is the held-out paraphrase.

Clues are drawn from the hidden solution until exactly one assignment satisfies them (each new
clue is one the current runner-up solution breaks, so every clue makes progress), then clues
that the others already imply are dropped. The solver searches one attribute's permutation at a
time (bitmasks over permutations), checking a clue once its attributes are placed. The
verifier reads the answer grid back and checks every clue on it, not equality with our answer.
Partial credit (`score`): the fraction of grid cells that match the (unique) solution.
"""

from __future__ import annotations

import json
import random
import re
from dataclasses import dataclass
from functools import cache
from itertools import permutations, product

from eval.tasks.base import IGNORE, Example, PuzzleError, SpanText, Task, TaskConfig


@dataclass
class ZebraConfig(TaskConfig):
    name: str = "zebra"
    houses: int = 3  # N: houses in the row (2..5)
    attributes: int = 2  # M: attributes per house (1..len(CATEGORIES)), drawn per puzzle
    max_clues: int | None = None  # clue slots (CLUE_PARTS each); None: houses * attributes - 1
    mention_labels: bool = False  # also predict the house of each value a clue mentions


# category -> (label, values, noun phrases for "the person with value v"). Values are unique
# across categories, so an answer line can be read without knowing which column is which.
CATEGORIES = {
    "name": ("name", ("Alice", "Bob", "Carol", "David", "Eve", "Frank"), ("{v}",)),
    "color": ("house color", ("red", "green", "blue", "yellow", "white", "purple"),
              ("the person in the {v} house", "whoever lives in the {v} house")),
    "pet": ("pet", ("cat", "dog", "bird", "fish", "horse", "rabbit"),
            ("the {v} owner", "the person who keeps a {v}")),
    "drink": ("drink", ("tea", "coffee", "milk", "juice", "water", "cocoa"),
              ("the {v} drinker", "the person who drinks {v}")),
    "sport": ("sport", ("tennis", "golf", "soccer", "hockey", "rugby", "cricket"),
              ("the {v} player", "the person who plays {v}")),
    "job": ("job", ("doctor", "teacher", "baker", "pilot", "farmer", "lawyer"),
            ("the {v}", "the person who works as a {v}")),
}
MAX_HOUSES = 5

# A clue is a JSON-able list: [kind, a1, v1, a2, v2] relates two (attribute, value) items,
# [kind, a, v, h] places one item (h is a 0-based house). Kinds and their meaning on positions:
PAIR_KINDS = ("same", "not_same", "left", "before", "next")  # x==y, x!=y, x+1==y, x<y, |x-y|==1
PLACE_KINDS = ("at", "not_at")  # x==h, x!=h
SYMMETRIC_KINDS = ("same", "not_same", "next")  # the same clue with its two items swapped
TRIES = 1000  # puzzles drawn for one that fits in max_clues before giving up
KIND_WEIGHTS = {"same": 3, "not_same": 1, "left": 2, "before": 1, "next": 2, "at": 2, "not_at": 1}


def holds(clue: list, pos: list) -> bool:
    """Whether `clue` is true when pos[a][v] is the house of value v of attribute a."""
    kind = clue[0]
    if kind in PLACE_KINDS:
        return (pos[clue[1]][clue[2]] == clue[3]) == (kind == "at")
    x, y = pos[clue[1]][clue[2]], pos[clue[3]][clue[4]]
    if kind == "same":
        return x == y
    if kind == "not_same":
        return x != y
    if kind == "left":
        return x + 1 == y
    if kind == "before":
        return x < y
    return abs(x - y) == 1  # next


def canonical(clue: list | tuple) -> tuple:
    """`clue` in one form whichever way round its two items are given (`SYMMETRIC_KINDS`), so the
    same clue compares equal however it was worded or drawn."""
    clue = tuple(clue)
    return (clue[0], *sorted([clue[1:3], clue[3:5]])) if clue[0] in SYMMETRIC_KINDS else clue


def clue_attributes(clue: list) -> set[int]:
    return {clue[1]} if clue[0] in PLACE_KINDS else {clue[1], clue[3]}


def _houses_for(clue: list, own_first: bool, other: int, houses: int) -> list[int]:
    """Houses the clue allows for its item in the attribute being placed, given the house
    `other` of its item in an attribute already placed (`own_first`: ours is the clue's x)."""
    kind = clue[0]
    if kind == "same":
        allowed = [other]
    elif kind == "not_same":
        allowed = [h for h in range(houses) if h != other]
    elif kind == "left":  # x + 1 == y
        allowed = [other - 1] if own_first else [other + 1]
    elif kind == "before":  # x < y
        allowed = list(range(other)) if own_first else list(range(other + 1, houses))
    else:  # next
        allowed = [other - 1, other + 1]
    return allowed  # may hold -1 or `houses`: callers skip houses off the row


@cache
def _permutations(houses: int) -> tuple[list[tuple[int, ...]], list[list[int]]]:
    """All orders of one attribute's values (perm[v] = house of value v), and by_house[v][h]:
    the bitmask of the perms that put value v in house h."""
    perms = list(permutations(range(houses)))
    by_house = [[0] * houses for _ in range(houses)]
    for i, p in enumerate(perms):
        for v, h in enumerate(p):
            by_house[v][h] |= 1 << i
    return perms, by_house


def solve(houses: int, attributes: int, clues: list[list], limit: int = 2) -> list[list[list[int]]]:
    """Up to `limit` solutions, each as pos[a][v] = house.

    Every attribute's candidate orders are a bitmask over all permutations, first narrowed by
    the clues about that attribute alone. Attributes are then placed one at a time (fewest
    candidates first, then the one most tied by clues to those already placed); a clue linking
    the attribute being placed to a placed one is an AND with the orders that put its item in an
    allowed house. Bit operations instead of per-order checks keep 5x5 puzzles fast enough."""
    perms, by_house = _permutations(houses)

    def where(v: int, allowed) -> int:  # orders that put value v in one of the allowed houses
        mask = 0
        for h in allowed:
            if 0 <= h < houses:
                mask |= by_house[v][h]
        return mask

    candidates = [(1 << len(perms)) - 1] * attributes
    links = []  # (clue, its attributes) for clues across two attributes
    for c in clues:
        attrs = clue_attributes(c)
        if len(attrs) > 1:
            links.append((c, attrs))
        elif c[0] in PLACE_KINDS:
            a, v, h = c[1], c[2], c[3]
            candidates[a] &= by_house[v][h] if c[0] == "at" else ~by_house[v][h]
        else:  # two values of one attribute: v1 in house x, v2 in a house the clue allows
            a, v1, v2 = c[1], c[2], c[4]
            candidates[a] &= sum(by_house[v1][x] & where(v2, _houses_for(c, False, x, houses))
                                 for x in range(houses))  # disjoint masks: the sum is their union
    order: list[int] = []
    while len(order) < attributes:
        rest = [a for a in range(attributes) if a not in order]
        tied = {a: sum(1 for _, attrs in links if a in attrs and attrs - {a} <= set(order)) for a in rest}
        order.append(min(rest, key=lambda a: (-tied[a], candidates[a].bit_count())))
    # staged[i]: (clue, own value, own is the clue's x, other attribute, other value) for step i
    staged: list[list] = [[] for _ in range(attributes)]
    rank = {a: i for i, a in enumerate(order)}
    for c, _ in links:
        first_later = rank[c[1]] > rank[c[3]]
        a, va, b, vb = (c[1], c[2], c[3], c[4]) if first_later else (c[3], c[4], c[1], c[2])
        staged[rank[a]].append((c, va, first_later, b, vb))
    pos: list = [None] * attributes
    found: list[list[list[int]]] = []

    def search(i: int) -> bool:  # True: stop, enough solutions
        if i == attributes:
            found.append([list(p) for p in pos])
            return len(found) >= limit
        a = order[i]
        mask = candidates[a]
        for clue, va, own_first, b, vb in staged[i]:
            mask &= where(va, _houses_for(clue, own_first, pos[b][vb], houses))
        while mask:
            low = mask & -mask
            mask ^= low
            pos[a] = perms[low.bit_length() - 1]
            if search(i + 1):
                return True
        pos[a] = None
        return False

    search(0)
    return found


def random_clue(solution: list[list[int]], rng: random.Random) -> list:
    """A clue that is true of `solution` (pos[a][v] = house)."""
    attributes, houses = len(solution), len(solution[0])
    value_at = [{h: v for v, h in enumerate(solution[a])} for a in range(attributes)]  # house -> value
    kinds = [k for k in KIND_WEIGHTS if attributes > 1 or k not in ("same", "not_same")]
    kind = rng.choices(kinds, [KIND_WEIGHTS[k] for k in kinds])[0]
    if kind in PLACE_KINDS:
        a, h = rng.randrange(attributes), rng.randrange(houses)
        other = h if kind == "at" else rng.choice([x for x in range(houses) if x != h])
        return [kind, a, value_at[a][h], other]
    # Two items in different attributes for (not_)same; any two different items otherwise.
    a1, a2 = rng.sample(range(attributes), 2) if kind in ("same", "not_same") else (
        rng.randrange(attributes), rng.randrange(attributes))
    if kind == "same":
        h1 = h2 = rng.randrange(houses)
    elif kind == "left":
        h1 = rng.randrange(houses - 1)
        h2 = h1 + 1
    elif kind == "next":
        h1 = rng.randrange(houses - 1)
        h1, h2 = rng.sample([h1, h1 + 1], 2)
    else:  # not_same, before: two different houses (ordered for before)
        h1, h2 = rng.sample(range(houses), 2)
        if kind == "before" and h1 > h2:
            h1, h2 = h2, h1
    return [kind, a1, value_at[a1][h1], a2, value_at[a2][h2]]


def make_puzzle(houses: int, attributes: int, rng: random.Random) -> tuple[list[list[int]], list[list]]:
    """(solution as pos[a][v] = house, clues with exactly that one solution)."""
    solution = [rng.sample(range(houses), houses) for _ in range(attributes)]
    clues: list[list] = []
    while True:
        found = solve(houses, attributes, clues, limit=2)
        if len(found) == 1:
            break
        rival = found[0] if found[0] != solution else found[1]
        for _ in range(50):
            clue = random_clue(solution, rng)
            if not holds(clue, rival):
                break
        else:  # rare: place one item where the rival has it wrong
            a, v = next((a, v) for a in range(attributes) for v in range(houses) if rival[a][v] != solution[a][v])
            clue = ["at", a, v, solution[a][v]]
        clues.append(clue)
    # Drop clues the others already imply (latest first: early clues were drawn blind).
    for clue in clues[::-1]:
        rest = [c for c in clues if c is not clue]
        if len(solve(houses, attributes, rest, limit=2)) == 1:
            clues = rest
    rng.shuffle(clues)
    return solution, clues


# ---- rendering: per wording an intro, a way to name houses and items, clue paraphrases ----

ORDINALS = ("first", "second", "third", "fourth", "fifth")
FORMAL = 2  # the wording written as constraints: `attribute=value` mentions, `-` bullets, no capitals
TEMPLATES = (
    {  # 0: houses numbered left to right
        "same": ("{X} lives in the same house as {Y}.", "{X} and {Y} live in the same house.", "{X} is {Y}."),
        "not_same": ("{X} does not live in the same house as {Y}.", "{X} is not {Y}.",
                     "{X} and {Y} live in different houses."),
        "left": ("{X} lives directly left of {Y}.", "{Y} lives immediately to the right of {X}.",
                 "The house of {X} is just left of the house of {Y}."),
        "before": ("{X} lives somewhere to the left of {Y}.", "{Y} lives somewhere to the right of {X}.",
                   "{X} lives further left than {Y}."),
        "next": ("{X} lives next to {Y}.", "{X} and {Y} are next-door neighbours.",
                 "The houses of {X} and {Y} are adjacent."),
        "at": ("{X} lives in house {n}.", "House {n} belongs to {X}.", "{X} is in house number {n}."),
        "not_at": ("{X} does not live in house {n}.", "House {n} is not where {X} lives.",
                   "{X} is not in house number {n}."),
    },
    {  # 1: a street from west to east, houses by ordinal
        "same": ("{X} is also {Y}.", "{X} and {Y} are the same person.", "{X} lives where {Y} lives."),
        "not_same": ("{X} and {Y} are different people.", "{X} does not live where {Y} lives.",
                     "{X} is someone other than {Y}."),
        "left": ("{X} lives directly west of {Y}.", "{Y} lives directly east of {X}.",
                 "Walking east, {Y} lives right after {X}."),
        "before": ("{X} lives somewhere west of {Y}.", "{Y} lives somewhere east of {X}.",
                   "{X} lives closer to the west end than {Y}."),
        "next": ("{X} and {Y} live in neighbouring houses.", "{X} lives beside {Y}.", "{Y} lives right next to {X}."),
        "at": ("{X} lives in the {ordinal} house.", "The {ordinal} house from the west belongs to {X}.",
               "{X} occupies the {ordinal} house."),
        "not_at": ("{X} does not live in the {ordinal} house.", "The {ordinal} house is not home to {X}.",
                   "{X} lives somewhere other than the {ordinal} house."),
    },
    {  # 2: formal constraints on positions
        "same": ("pos({X}) = pos({Y})",), "not_same": ("pos({X}) != pos({Y})",),
        "left": ("pos({X}) + 1 = pos({Y})", "pos({Y}) - 1 = pos({X})"), "before": ("pos({X}) < pos({Y})",),
        "next": ("|pos({X}) - pos({Y})| = 1",), "at": ("pos({X}) = {n}",), "not_at": ("pos({X}) != {n}",),
    },
    {  # 3: houses numbered left to right, told in other words (the suite's held-out wording)
        "same": ("{X} and {Y} are one and the same person.", "{X} turns out to be {Y}.",
                 "The home of {X} is also the home of {Y}."),
        "not_same": ("{X} and {Y} are two different people.", "{X} is somebody other than {Y}.",
                     "The home of {X} is not the home of {Y}."),
        "left": ("{X} lives one house to the left of {Y}.", "{Y} lives one house to the right of {X}.",
                 "Directly to the right of {X} lives {Y}."),
        "before": ("{X} lives to the left of {Y}, though not necessarily next door.",
                   "{Y} lives to the right of {X}, though not necessarily next door.",
                   "Somewhere to the right of {X} lives {Y}."),
        "next": ("{X} and {Y} live side by side.", "{X} lives right next door to {Y}.",
                 "{X} and {Y} have neighbouring homes."),
        "at": ("{X} lives in the house numbered {n}.", "The resident of house {n} is {X}.", "{X} calls house {n} home."),
        "not_at": ("{X} does not live in the house numbered {n}.", "The resident of house {n} is not {X}.",
                   "{X} lives somewhere other than house {n}."),
    },
)
CLUE_PARTS = 5  # slots per clue: text before its first mention, mention, text between, mention, rest of line


def _plural(label: str) -> str:
    return label[0].upper() + label[1:] + "s"


def render(categories: list[str], values: list[list[str]], clues: list[list], wording: int,
           rng: random.Random) -> tuple[str, list[tuple[int, int]], list[tuple]]:
    """Question text, the character spans of its answer and clue slots, and what each clue's
    two mentions name in text order (("item", a, v) or ("house", h)); `rng` picks the
    paraphrase of each clue and of each item's phrase.

    Spans, in text order: every value where its attribute's values are listed (attribute by
    attribute, values in class order), then per clue CLUE_PARTS spans that tile its line: the
    text before its first mention, the first mention (a value word, or the house number or
    ordinal), the text between, the second mention, the rest of the line with its newline."""
    style = wording % len(TEMPLATES)
    emit = SpanText()
    _introduce(emit, style, categories, values)
    named: list[tuple] = []
    for i, clue in enumerate(clues):
        parts, mentions = _clue_line(i, clue, style, categories, values, rng)
        named += mentions
        for part in parts:
            emit(part, slot=True)
    emit(("Who lives where?", "Work out every resident's details.", "Find all positions.",
          "Which house has what?")[style])
    return *emit.result(), named


def _introduce(emit: SpanText, style: int, categories: list[str], values: list[list[str]]) -> None:
    """The opening sentence, each attribute's values listed (one slot per value) and the line
    before the clues, in the words of `style`."""
    houses, labels = len(values[0]), [CATEGORIES[c][0] for c in categories]

    def listing(before: str, vs: list[str], separators: list[str], after: str) -> None:
        emit(before)
        for i, v in enumerate(vs):
            emit(v, slot=True)
            emit(separators[i] if i < len(vs) - 1 else after)

    listed = ", ".join(labels[:-1]) + (" and " if len(labels) > 1 else "") + labels[-1]
    if style == 0:
        emit(f"There are {houses} houses in a row, numbered 1 to {houses} from left to right. Each house is "
             f"home to one person, and each person has a different {listed}.\n")
        for label, vs in zip(labels, values):
            listing(f"{_plural(label)}: ", vs, [", "] * houses, ".\n")
        emit("Clues:\n")
    elif style == 1:
        emit(f"{houses} houses stand along a street, the first at the west end and the last at the east end. "
             f"No two residents share a {' or '.join(labels)}.\n")
        for label, vs in zip(labels, values):
            listing(f"The {label}s are ", vs, [", "] * (houses - 2) + [" and "], ".\n")
        emit("We know that:\n")
    elif style == FORMAL:
        emit(f"Positions 1..{houses}, left to right. Every attribute takes each of its values at exactly one "
             "position.\n")
        for c, vs in zip(categories, values):
            listing(f"{c} in {{", vs, [", "] * houses, "}\n")
        emit("Constraints:\n")
    else:
        emit(f"Picture {houses} houses side by side, labelled 1 to {houses} from left to right. One person lives "
             f"in each, and no two of them share a {' or '.join(labels)}.\n")
        for label, vs in zip(labels, values):
            listing(f"Possible {label}s: ", vs, [", "] * (houses - 2) + [" or "], ".\n")
        emit("Here is what we know:\n")


def _clue_line(i: int, clue: list, style: int, categories: list[str], values: list[list[str]],
               rng: random.Random) -> tuple[list[str], list[tuple]]:
    """Clue i's line as the CLUE_PARTS texts that tile it (text, mention, text, mention, text),
    and what its two mentions name; `rng` picks the clue's paraphrase and its items' phrases."""

    def item(a: int, v: int) -> list[tuple[str, tuple | None]]:  # (text, what a mention names) pieces
        if style == FORMAL:
            return [(f"{categories[a]}=", None), (values[a][v], ("item", a, v))]
        before, after = rng.choice(CATEGORIES[categories[a]][2]).split("{v}")
        return [(before, None), (values[a][v], ("item", a, v)), (after, None)]

    template = rng.choice(TEMPLATES[style][clue[0]])
    fills = {"X": item(clue[1], clue[2])}
    if clue[0] in PLACE_KINDS:
        fills["n"] = [(str(clue[3] + 1), ("house", clue[3]))]
        fills["ordinal"] = [(ORDINALS[clue[3]], ("house", clue[3]))]
    else:
        fills["Y"] = item(clue[3], clue[4])
    pieces = [(f"{i + 1}. " if style != FORMAL else "- ", None)]
    for k, part in enumerate(re.split(r"\{(X|Y|n|ordinal)\}", template)):
        pieces += fills[part] if k % 2 else [(part, None)]
    if style != FORMAL:
        first = next(k for k, (text, _) in enumerate(pieces) if k and text)  # capitalise the sentence
        pieces[first] = (pieces[first][0][0].upper() + pieces[first][0][1:], pieces[first][1])
    pieces.append(("\n", None))
    parts, named = [""], []  # tile the line: text, mention, text, mention, text
    for text, names in pieces:
        if names:
            parts += [text, ""]
            named.append(names)
        else:
            parts[-1] += text
    assert len(parts) == CLUE_PARTS, template
    return parts, named


def format_grid(values: list[list[str]], grid: list[list[int]]) -> str:
    """grid[h][a] = value index -> "House 1: Alice, red, dog" lines."""
    return "\n".join(f"House {h + 1}: " + ", ".join(values[a][v] for a, v in enumerate(row))
                     for h, row in enumerate(grid))


def parse_grid(values: list[list[str]], text: str) -> list[list[int]]:
    """Read "House k: value, value, ..." lines back into grid[h][a] = value index. Values may
    come in any order within a line and carry an "attribute=" or "attribute:" prefix."""
    houses, attributes = len(values[0]), len(values)
    lookup = {v.lower(): (a, i) for a, vs in enumerate(values) for i, v in enumerate(vs)}
    grid: list[list[int] | None] = [None] * houses
    for line in filter(None, (line.strip() for line in text.strip().splitlines())):
        m = re.fullmatch(r"house\s*(\d{1,9})\s*[:\-]\s*(.*)", line, flags=re.IGNORECASE)  # int() fails on 4301 digits
        if not m:
            like = ", ".join(vs[0] for vs in values)
            raise PuzzleError(f"cannot read {line!r}: expected one line per house like 'House 1: {like}'")
        h = int(m.group(1)) - 1
        if not 0 <= h < houses:
            raise PuzzleError(f"house {h + 1} is not among houses 1-{houses}")
        if grid[h] is not None:
            raise PuzzleError(f"house {h + 1} is listed twice")
        row: list[int | None] = [None] * attributes
        for part in filter(None, (p.strip() for p in m.group(2).rstrip(".").split(","))):
            value = re.split(r"[=:]", part)[-1].strip().lower()
            if value not in lookup:
                raise PuzzleError(f"house {h + 1}: {value!r} is not a value of this puzzle")
            a, i = lookup[value]
            if row[a] is not None:
                raise PuzzleError(f"house {h + 1} has two values of one attribute ({values[a][row[a]]} and {value})")
            row[a] = i
        if None in row:
            lacking = "; ".join("/".join(values[a]) for a, v in enumerate(row) if v is None)
            raise PuzzleError(f"house {h + 1} has no value for: {lacking} (each house needs one value of each "
                              f"of the {attributes} attributes)")
        grid[h] = row
    missing = [h + 1 for h, row in enumerate(grid) if row is None]
    if missing:
        raise PuzzleError(f"no line for house(s) {missing}; expected houses 1-{houses}")
    return grid


# ---- reading a puzzle back from its text: the sentences above, in any mix of wordings ----

CATALOGUE = {v.lower(): (c, v) for c, (_, vs, _) in CATEGORIES.items() for v in vs}  # value word -> (category, value)
# Words joined by commas, "and" or "or", up to the end of the line. A space after a comma is matched
# by one \s* only, a list starts at a word (\b) and holds at most 20 (an attribute has 6 values):
# otherwise a line that is almost a list (25 words and commas, then "!") was tried every way of
# sharing out its spaces, twice the time per word (minutes), and a long line from each of its words.
# Any capitals: "JUICE, MILK AND TEA" is a list too (a case-sensitive "and" left it unread).
LIST_TAIL = re.compile(r"\b(\w+(?:\s*(?:,(?:\s*(?:and|or)\b)?|\b(?:and|or)\b)\s*\w+){1,19})\s*[.}]?\s*$",
                       re.IGNORECASE)
# "3. ", "3)", "3.)", "(3)", "[3]", "#3", "3 - ", "Clue 3:", "- ", "* ", "\u2022 "
NUMBERING = re.compile(r"^\s*(?:(?:clue\s*)?(?:#\d+|[(\[]?\d+\s*(?:[.):\]]+|-(?=\s)))|[-*\u2022])\s*", re.IGNORECASE)
# What word processors and chats put for the characters the sentences use: their hyphens, dashes and
# minus signs, a typeset "not equal", and zero-width characters, which split a word in two.
TYPESET = str.maketrans({**dict.fromkeys("\u2010\u2011\u2012\u2013\u2014\u2015\u2212", "-"), "\u2260": "!=",
                         **dict.fromkeys("\u200b\u200c\u200d\u2060\ufeff", "")})
QUOTE = re.compile(r"(?<!\w)['\"\u2018\u201c]|['\"\u2019\u201d](?!\w)")  # around a word, not an apostrophe in it


CUT = " (in a file a blank line ends a puzzle: keep a puzzle's lines together)"


def _normal(text: str) -> str:
    """Lower case, single spaces, none around punctuation, no final full stop: clue lines and
    clue sentences are compared in this form, so spacing and capitals do not matter."""
    text = re.sub(r"\s+", " ", re.sub("[*`]", "", text).strip().lower())  # * and `: Markdown emphasis and code
    return re.sub(r" ?([^\w\s{}]) ?", r"\1", text).rstrip(".;!")


@cache
def _clue_patterns() -> list[tuple[str, re.Pattern]]:
    """(kind, pattern) for every clue sentence of every wording. A pattern matches a clue line
    whose item phrases were replaced by {a} and {b} in text order (X and Y may be either)."""
    groups = {"x": r"(?P<x>\{[ab]\})", "y": r"(?P<y>\{[ab]\})", "n": r"(?P<n>\d{1,9})",  # int() fails on 4301 digits
              "ordinal": f"(?P<ordinal>{'|'.join(ORDINALS)})"}
    patterns = []
    for style in TEMPLATES:
        for kind, sentences in style.items():
            for sentence in sentences:
                pattern = re.escape(_normal(sentence))
                for field, group in groups.items():
                    pattern = pattern.replace(re.escape("{" + field + "}"), group)
                patterns.append((kind, re.compile(pattern)))
    return patterns


@cache
def _phrases(category: str, value: str) -> list[tuple[str, int]]:
    """Every way a clue may name the person with `value`, normalised, with where the value
    starts in it: "the cat owner", "the person who keeps a cat", "pet=cat"."""
    marker = "valuemarker"  # a word, so normalising spaces around it is the same as around the value
    forms = []
    for phrase in (*CATEGORIES[category][2], f"{category}={{v}}"):
        normal = _normal(phrase.format(v=marker))
        forms.append((normal.replace(marker, value.lower()), normal.index(marker)))
    return forms


def read_listing(line: str) -> tuple[str, list[str]] | None:
    """(category, values) when `line` lists one attribute's values ("Names: Alice, Bob, Carol.",
    "The pets are cat, dog and fish.", "drink in {milk, tea}", "Possible jobs: baker or pilot."),
    else None."""
    listing = re.sub("[;/]", ",", QUOTE.sub("", line))  # 'cat'; 'dog'; 'fish' and cat / dog / fish list values too
    tail = LIST_TAIL.search(listing)
    if not tail:
        return None
    words = [w for w in re.findall(r"\w+", tail.group(1)) if w.lower() not in ("and", "or")]
    kinds = {CATALOGUE.get(w.lower(), (None,))[0] for w in words}
    if len(kinds) == 1 and None not in kinds:
        category = kinds.pop()
    else:
        head = listing[:tail.start()].lower()
        named = [c for c, (label, _, _) in CATEGORIES.items()
                 if re.search(rf"\b(?:{c}|{label})s?\s*(?::|\bare|\bin\s*\{{)\s*$", head)]
        if not named:
            return None  # a sentence that happens to end in a list ("share a name or pet.")
        category = named[0]
        unknown = [w for w in words if CATALOGUE.get(w.lower(), (None,))[0] != category]
        raise PuzzleError(f"{line.strip()!r}: {', '.join(map(repr, unknown))} not among the {category} values this "
                          f"task knows ({', '.join(CATEGORIES[category][1])}); a puzzle in other names and values, "
                          f"such as a reasoning-gym zebra_puzzles item, is read by task=reasoning_gym "
                          f"task.dataset=zebra_puzzles (docs/external_tasks.md)")
    values = [CATALOGUE[w.lower()][1] for w in words]
    if len(set(values)) < len(values):
        raise PuzzleError(f"{line.strip()!r} lists a value twice")
    return category, values


def looks_like(text: str) -> bool:
    """Whether typed text is a logic-grid puzzle: a line of it lists an attribute's values ("Names: Alice,
    Bob, Carol."). For naming the family of a puzzle another family's model cannot read
    (`eval.tasks.read_typed`)."""
    for line in text.translate(TYPESET).splitlines():
        try:
            if read_listing(line):
                return True
        except PuzzleError:  # a listing of values this family does not know: a logic-grid puzzle's all the same
            return True
    return False


def example_clue(listed: dict[str, list[str]]) -> str:
    """A clue sentence naming values of `listed` (category -> values), for an error to show: one naming
    a value the puzzle does not list (Bob in a puzzle of pets alone) would not read in it."""
    (first, values), *others = listed.items()
    x = CATEGORIES[first][2][0].format(v=values[1])
    second, value = (others[0][0], others[0][1][0]) if others else (first, values[0])
    return f"{x[0].upper()}{x[1:]} lives next to {CATEGORIES[second][2][0].format(v=value)}."


def read_clue(line: str, listed: dict[str, list[str]], houses: int) -> tuple:
    """One clue sentence of any wording as (kind, category, value, category, value) or
    (kind, category, value, house), with names rather than indices and houses 0-based."""
    text = _normal(NUMBERING.sub("", line))
    mentions = [m for m in re.finditer(r"\w+", text) if m.group() in CATALOGUE]
    items = [CATALOGUE[m.group()] for m in mentions]  # (category, value) per mention
    for category, value in items:
        if value not in listed.get(category, ()):
            raise PuzzleError(f"clue {line.strip()!r} names {value!r}, which no listing has")
    if not mentions:
        every = ", ".join(v for vs in listed.values() for v in vs)
        raise PuzzleError(f"clue {line.strip()!r} names none of the listed values ({every}); a clue names one or two")
    if len(mentions) > 2:
        raise PuzzleError(f"clue {line.strip()!r} names {len(mentions)} values; a clue names one or two")
    read = set()
    for forms in product(*(_phrases(*item) for item in items)):
        skeleton, at = "", 0  # the line with each item's phrase replaced by {a}, {b}
        for m, (form, offset), slot in zip(mentions, forms, "ab"):
            start = m.start() - offset
            if start < at or text[start:start + len(form)] != form:
                break
            skeleton += text[at:start] + "{" + slot + "}"
            at = start + len(form)
        else:
            skeleton += text[at:]
            for kind, pattern in _clue_patterns():
                found = pattern.fullmatch(skeleton)
                if not found or len(items) != (1 if kind in PLACE_KINDS else 2):
                    continue
                x = items["ab".index(found["x"][1])]
                if kind in PAIR_KINDS:
                    read.add((kind, *x, *items["ab".index(found["y"][1])]))
                else:
                    house = int(found["n"]) - 1 if "n" in pattern.groupindex else ORDINALS.index(found["ordinal"])
                    if not 0 <= house < houses:
                        raise PuzzleError(f"clue {line.strip()!r} names house {house + 1}; houses are 1-{houses}")
                    read.add((kind, *x, house))
    if len(read) != 1:
        named = ", ".join(repr(value) for _, value in items)
        why = "it reads two ways" if read else ("it is none of the clue sentences in TEMPLATES (eval/tasks/zebra.py), "
                                                f"and of the listed values it names only {named}")
        raise PuzzleError(f"cannot read clue {line.strip()!r}: {why} (e.g. '{example_clue(listed)}')")
    return read.pop()


def read_clues(lines: list[str], listed: dict[str, list[str]], houses: int) -> list[tuple[str, tuple]]:
    """(line, clue) for the clues among `lines` (those numbered or naming a value; the others are skipped). A clue
    that does not read is read again joined with the next line when that starts no clue of its
    own: a clue wrapped over two lines, as pasted from a narrow window."""
    clues, i = [], 0
    while i < len(lines):
        line, i = lines[i], i + 1
        if not (NUMBERING.match(line) or any(w.lower() in CATALOGUE for w in re.findall(r"\w+", line))):
            continue
        try:
            clues.append((line, read_clue(line, listed, houses)))
        except PuzzleError as err:
            if i == len(lines) or NUMBERING.match(lines[i]):
                raise
            try:
                joined = f"{line} {lines[i]}"
                clues.append((joined, read_clue(joined, listed, houses)))
            except PuzzleError:
                raise PuzzleError(f"{err} (nor joined with the next line)") from None
            i += 1
    return clues


class Zebra(Task):
    name = "zebra"
    num_wordings = len(TEMPLATES)
    # 2: answer slots aligned with the question (span pooling); 3: test splits keep out training
    # puzzles in any wording (puzzle_key)
    version = 3

    def __init__(self, houses: int = 3, attributes: int = 2, max_clues: int | None = None,
                 mention_labels: bool = False):
        if not 2 <= houses <= MAX_HOUSES:
            raise PuzzleError(f"task.houses={houses}: choose 2..{MAX_HOUSES} (the solver enumerates permutations)")
        if not 1 <= attributes <= len(CATEGORIES):
            raise PuzzleError(f"task.attributes={attributes}: choose 1..{len(CATEGORIES)} ({', '.join(CATEGORIES)})")
        self.houses, self.attributes, self.mention_labels = houses, attributes, mention_labels
        self.max_clues = houses * attributes - 1 if max_clues is None else max_clues
        # Two values of one attribute that no clue mentions can swap houses, so every attribute
        # needs all but one of its values mentioned, and a clue mentions at most two.
        fewest = -(-attributes * (houses - 1) // 2)
        if self.max_clues < fewest:
            raise PuzzleError(f"task.max_clues={max_clues}: a {houses} x {attributes} puzzle needs at least "
                              f"{fewest} clues for one solution; raise task.max_clues or leave it null "
                              f"({houses * attributes - 1})")
        self.vocab = tuple(str(i) for i in range(houses))  # a house, 0-based
        self.cells = houses * attributes  # value slots, one per value in the listings
        self.num_slots = self.cells + CLUE_PARTS * self.max_clues

    def example(self, categories: list[str], values: list[list[str]], clues: list[list], wording: int = 0,
                rng: random.Random | None = None, clue_lines: list[str] | None = None) -> Example:
        """An example from explicit clues over `values` (each attribute's values in class order);
        raises PuzzleError unless exactly one assignment satisfies the clues. `clue_lines`: each
        clue as typed, to name a clue in an error by its line rather than by its place."""
        if len(values) != self.attributes or any(len(vs) != self.houses for vs in values):
            raise PuzzleError(f"expected {self.attributes} attributes of {self.houses} values each")
        unknown = [c for c in categories if c not in CATEGORIES]
        if unknown:
            raise PuzzleError(f"unknown attribute(s) {unknown}; choose from {', '.join(CATEGORIES)}")
        if len(clues) > self.max_clues:
            raise PuzzleError(f"{len(clues)} clues, but this task has slots for {self.max_clues} (task.max_clues)")
        for clue in clues:
            if not self._well_formed(clue):
                raise PuzzleError(f"clue {clue} is not [kind, attribute, value, attribute, value] with kind in "
                                  f"{PAIR_KINDS} or [kind, attribute, value, house] with kind in {PLACE_KINDS} "
                                  f"(0-based indices within {self.attributes} attributes x {self.houses} houses)")
        found = solve(self.houses, self.attributes, clues, limit=2)
        if not found:  # name the first clue that the ones before it rule out, so the reader knows where to look
            k = next(k for k in range(1, len(clues) + 1) if not solve(self.houses, self.attributes, clues[:k], limit=1))
            if clue_lines:
                which = f"clue {clue_lines[k - 1].strip()!r} " + ("contradicts the clues before it" if k > 1
                                                                  else "cannot hold")
            else:
                before = f"contradicts clues 1-{k - 1}" if k > 2 else "contradicts clue 1" if k == 2 else "cannot hold"
                which = f"clue {k} {before} (counted in the order given)"
            raise PuzzleError(f"these clues have no solution: {which}; correct or drop one of them")
        if len(found) > 1:
            open_ = [values[a][v] for a in range(self.attributes) for v in range(self.houses)
                     if found[0][a][v] != found[1][a][v]]
            raise PuzzleError(f"these clues allow more than one solution (two of them place {', '.join(open_)} in "
                              f"other houses); add clues")
        return self._example(categories, values, clues, found[0], wording, rng or random.Random(0))

    def _well_formed(self, clue) -> bool:
        """Whether `clue` is [kind, a, v, a, v] or [kind, a, v, house] with int indices in range."""
        if not isinstance(clue, (list, tuple)) or not clue:
            return False
        kind, *indices = clue
        if len(clue) != (5 if kind in PAIR_KINDS else 4 if kind in PLACE_KINDS else 0):
            return False
        if not all(isinstance(i, int) and not isinstance(i, bool) for i in indices):
            return False
        pairs = [indices[0:2]] + ([indices[2:4]] if kind in PAIR_KINDS else [])
        return (all(0 <= a < self.attributes and 0 <= v < self.houses for a, v in pairs)
                and (kind in PAIR_KINDS or 0 <= indices[2] < self.houses))

    def typed_form(self) -> str:
        """What to type for a puzzle of this model, as errors tell it."""
        # A clue names values of the listed attributes: with one attribute (names), no pet
        listed = {c: list(CATEGORIES[c][1][:self.houses]) for c in ("name", "pet")[:self.attributes]}
        return (f"type {self.attributes} line{'s that each list' if self.attributes > 1 else ' that lists'} "
                f"{self.houses} values, like '{self.example_listing()}', then one clue per line, like "
                f"'1. {example_clue(listed)}'")

    def example_listing(self) -> str:
        """A line listing one attribute's values, as many as this model's houses."""
        return f"Names: {', '.join(CATEGORIES['name'][1][:self.houses])}."

    def from_text(self, text: str, wording: int = 0) -> Example:
        """An example from a puzzle typed in the generator's sentences, in any wording or a mix:
        lines that list each attribute's values, then one clue per line; other lines (the
        introduction, "Clues:", the question) are skipped. Attributes and values are put in the
        order the generator uses, and the puzzle is worded anew in `wording`. Raises PuzzleError
        naming the line it cannot read, or when the clues do not have exactly one solution."""
        listed: dict[str, list[str]] = {}
        others = []
        for line in filter(str.strip, text.translate(TYPESET).splitlines()):
            listing = read_listing(line)
            if listing is None:
                others.append(line)
            elif listing[0] in listed:
                raise PuzzleError(f"the {CATEGORIES[listing[0]][0]}s are listed twice")
            else:
                listed[listing[0]] = listing[1]
        if not listed:
            raise PuzzleError(f"found no line listing an attribute's values (like '{self.example_listing()}')" + CUT)
        if len(listed) != self.attributes or any(len(vs) != self.houses for vs in listed.values()):
            found = ", ".join(f"{len(vs)} {CATEGORIES[c][0]}s" for c, vs in listed.items())
            sizes = {len(vs) for vs in listed.values()}
            other = (f", or use a model trained with task.houses={sizes.pop()} task.attributes={len(listed)}"
                     if len(sizes) == 1 and 2 <= min(sizes) <= MAX_HOUSES else "")
            raise PuzzleError(f"this puzzle lists {found}; this task has {self.attributes} attribute(s) of "
                              f"{self.houses} values each (task.attributes, task.houses): give a puzzle of "
                              f"{self.houses} houses with {self.attributes} attribute{'s' * (self.attributes > 1)}"
                              f"{other}")
        # A line ending in "?" is the question ("Who owns the fish?"): the full grid answers it
        clues = read_clues([line for line in others if not line.rstrip().endswith("?")], listed, self.houses)
        # A clue pasted twice is one clue: a second copy took a clue slot (past task.max_clues, a refusal)
        first: dict[tuple, tuple[str, tuple]] = {}
        for line, c in clues:
            first.setdefault(canonical(c), (line, c))
        lines, clues = [line for line, _ in first.values()], [c for _, c in first.values()]
        if not clues:
            raise PuzzleError(f"found no clues (one per line, e.g. '1. {example_clue(listed)}')" + CUT)
        categories = [c for c in CATEGORIES if c in listed]  # as `generate` orders them
        values = [sorted(listed[c]) for c in categories]

        def item(category: str, value: str) -> list[int]:  # (attribute, value) indices
            a = categories.index(category)
            return [a, values[a].index(value)]

        clues = [[c[0], *item(*c[1:3]), *(item(*c[3:]) if c[0] in PAIR_KINDS else c[3:])] for c in clues]
        return self.example(categories, values, clues, wording, clue_lines=lines)

    def _example(self, categories: list[str], values: list[list[str]], clues: list[list], pos: list[list[int]],
                 wording: int, rng: random.Random) -> Example:
        question, spans, named = render(categories, values, clues, wording, rng)
        labels = [h for perm in pos for h in perm]  # value slots: the value's house
        labels += [IGNORE] * (self.num_slots - len(labels))  # clue slots (and unused ones): read, not predicted
        if self.mention_labels:  # a value mentioned in a clue: its house too
            for k, names in enumerate(named):
                if names[0] == "item":
                    labels[self.cells + CLUE_PARTS * (k // 2) + 1 + 2 * (k % 2)] = pos[names[1]][names[2]]
        grid = to_grid(pos)
        return Example(
            question=question,
            answer=format_grid(values, grid),
            labels=labels,
            slot_spans=spans,
            data={"categories": categories, "values": values, "clues": clues, "solution": grid},
            wording=wording,
        )

    def generate(self, rng: random.Random, wording: int) -> Example:
        chosen = set(rng.sample(list(CATEGORIES), self.attributes))
        categories = [c for c in CATEGORIES if c in chosen]  # catalogue order: names first
        values = [sorted(rng.sample(CATEGORIES[c][1], self.houses)) for c in categories]
        for _ in range(TRIES):  # rarely more clues than slots: draw another puzzle
            pos, clues = make_puzzle(self.houses, self.attributes, rng)
            if len(clues) <= self.max_clues:
                return self._example(categories, values, clues, pos, wording, rng)
        raise PuzzleError(f"task.max_clues={self.max_clues}: none of {TRIES} {self.houses} x {self.attributes} puzzles "
                          f"had that few clues; raise task.max_clues or leave it null ({self.cells - 1})")

    def puzzle_key(self, example: Example) -> str:
        """The attributes, values and set of clues: not their order, paraphrases or wording."""
        clues = sorted(canonical(c) for c in example.data["clues"])
        return json.dumps([example.data["categories"], example.data["values"], clues])

    def decode(self, example: Example, ids: list[int]) -> str:
        """The grid the predicted houses describe. A house predicted for two values of one
        attribute goes to the first of them; values left without a house fill the houses left
        free in order, so the text is always a full grid (the verifier then judges it)."""
        n, grid = self.houses, [[0] * self.attributes for _ in range(self.houses)]
        for a in range(self.attributes):
            free, unplaced = set(range(n)), []
            for v in range(n):
                h = int(ids[a * n + v])
                if h in free:
                    grid[h][a] = v
                    free.remove(h)
                else:
                    unplaced.append(v)
            for v, h in zip(unplaced, sorted(free)):
                grid[h][a] = v
        return format_grid(example.data["values"], grid)

    def verify(self, example: Example, answer: str) -> bool:
        try:
            grid = parse_grid(example.data["values"], answer)
        except PuzzleError:
            return False
        pos = [[None] * self.houses for _ in range(self.attributes)]
        for h, row in enumerate(grid):
            for a, v in enumerate(row):
                if pos[a][v] is not None:
                    return False  # a value used twice in one attribute
                pos[a][v] = h
        return all(holds(c, pos) for c in example.data["clues"])

    def score(self, example: Example, answer: str) -> float:
        try:
            grid = parse_grid(example.data["values"], answer)
        except PuzzleError:
            return 0.0
        want = example.data["solution"]
        return sum(g == w for row, wrow in zip(grid, want) for g, w in zip(row, wrow)) / self.cells


def to_grid(pos: list[list[int]]) -> list[list[int]]:
    """pos[a][v] = house -> grid[h][a] = value index."""
    grid = [[0] * len(pos) for _ in range(len(pos[0]))]
    for a, perm in enumerate(pos):
        for v, h in enumerate(perm):
            grid[h][a] = v
    return grid
