"""The console the commands print their tables, summaries and warnings to."""

from __future__ import annotations

import codecs
import sys
import warnings
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # imported where a console is made: python -m eval --help and hybrid.solve's need no rich
    from rich.console import Console

# This project's packages, side by side in a checkout (or in site-packages, once installed): the code whose
# warnings plain_warnings says in one line.
ROOT = Path(__file__).resolve().parent.parent
OURS = ("hybrid", "eval", "adapters", "reasoner", "bench")


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
    from rich.console import Console

    if getattr(sys.stdout, "errors", None) in ("strict", "surrogateescape") and hasattr(sys.stdout, "reconfigure"):
        sys.stdout.reconfigure(errors="hybrid-printable")
    return Console()


def raised_by_us() -> bool:
    """Whether the warning being shown now was raised by this project's code: the frame that called
    warnings.warn, just outside warnings' _showwarnmsg (which the C warn calls; any showwarning wrapper, such
    as launch.one_voice's, runs below it). Not the file Python names: a library's deprecation, raised with
    stacklevel=2, names our line that called it, and is still the library's to say. A warning shown some other
    way (warnings.showwarning called by hand) is not ours. One a library raises from compiled code (numpy's
    "divide by zero", a torch C++ warning) called from our line reads as ours: no Python frame of the library
    is there to tell, and Python's own format names our line for it too."""
    frame = sys._getframe(1)
    while frame is not None and not (frame.f_code.co_name == "_showwarnmsg" and _in_warnings(frame)):
        frame = frame.f_back
    while frame is not None and _in_warnings(frame):  # warn and warn_explicit, where warnings has no C part
        frame = frame.f_back
    if frame is None or frame.f_code.co_filename.startswith("<"):  # <string>: python -c, exec
        return False
    path = Path(frame.f_code.co_filename).resolve()
    return path.is_relative_to(ROOT) and path.relative_to(ROOT).parts[0] in OURS


def _in_warnings(frame) -> bool:
    return frame.f_globals.get("__name__") in ("warnings", "_py_warnings")  # _py_warnings: Python 3.14's


@contextmanager
def plain_warnings():
    """The commands' warnings as a user reads them: ours as `warning: message` (a message of several lines as
    written), not Python's `path:line: UserWarning: message` and the echoed `warnings.warn(` line beneath;
    a library's (transformers, torch ...) as Python shows it, whose path names the library. Only the format
    changes: the filters (python -W error, -W ignore, PYTHONWARNINGS) and whatever shows a warning
    (launch.one_voice's showwarning, pytest's recorder) are untouched. Each command's main uses it, as a
    decorator or a with block; importing the project changes nothing."""
    python_format = warnings.formatwarning

    def formatted(message, category, filename, lineno, line=None):
        if raised_by_us():
            return f"warning: {message}\n"
        return python_format(message, category, filename, lineno, line)

    warnings.formatwarning = formatted
    try:
        yield
    finally:
        warnings.formatwarning = python_format
