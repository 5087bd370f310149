"""The evaluation harness (`python -m eval`, eval/__main__.py) and what it is built from."""


class HarnessError(ValueError):
    """A request the harness cannot serve (missing split, unreadable puzzle file)."""
