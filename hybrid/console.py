"""The console the commands print their tables and summaries to."""

from __future__ import annotations

import codecs
import sys

from rich.console import Console


def _printable(err: UnicodeEncodeError) -> tuple[str | bytes, int]:
    """A character the encoding lacks as an escape (\\u8fd0), as Python's stderr shows it; the bytes of
    a file name that were no text in the locale (lone surrogates: surrogateescape) as they were. One
    character at a time: the encoder hands over a whole run it cannot encode, a name's byte beside "…"."""
    one = UnicodeEncodeError(err.encoding, err.object, err.start, err.start + 1, err.reason)
    if "\udc80" <= err.object[err.start] <= "\udcff":
        return codecs.lookup_error("surrogateescape")(one)
    return codecs.backslashreplace_errors(one)


codecs.register_error("hybrid-printable", _printable)


def counted(n: int, noun: str, nouns: str = "") -> str:
    """`n` and its noun as a message says it: "1 token", "3 tokens", "0 entries" (`nouns`, where the plural
    is not the noun and an s)."""
    return f"{n} {noun if n == 1 else nouns or noun + 's'}"


def console() -> Console:
    """A rich Console on stdout that shows what stdout's encoding cannot hold instead of raising: a
    run folder under a Chinese user name on Windows (whose redirected stdout is cp1252), or rich's
    "…" under LC_ALL=C, made the summary of a finished training run, or `hybrid-cache list`, a
    UnicodeEncodeError."""
    if getattr(sys.stdout, "errors", None) in ("strict", "surrogateescape") and hasattr(sys.stdout, "reconfigure"):
        sys.stdout.reconfigure(errors="hybrid-printable")
    return Console()
