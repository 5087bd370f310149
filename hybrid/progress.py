"""The progress bars of every command (training, generating, embedding, evaluating, solving).

In a terminal (or a notebook) they are tqdm's, as tqdm draws them. Written to a file or a pipe (a
`nohup ... > train.log` job, Slurm, CI), tqdm's redraws every 0.1 s with carriage returns, and its
cursor moves for a bar inside another, made one enormous line per bar with escape codes in it; there
a bar writes plain lines instead: one when it starts, one at most every LOG_INTERVAL seconds as its count
moves, and its last (count, time, overall rate, figures) when it ends, unless the line before showed that
count and time. A bar tqdm erases when done (leave=False, as an evaluation's inside training) writes
nothing unless it ran longer than LOG_INTERVAL.

A user's TQDM_* environment settings, which tqdm reads, come first: TQDM_MININTERVAL, TQDM_DELAY and
TQDM_MAXINTERVAL over these, and TQDM_DISABLE=1 (or true, yes) hides every bar. TQDM_DISABLE=0 (or false, no,
or empty) hides none: tqdm itself reads any value but an empty one as true.

transformers' own bars ("Loading weights" as a backbone loads, "Writing model shards" as one is saved) are
made here too within `transformers_bars()`: in a log they wrote tqdm's redraws. So is its bar of a GGUF file's
conversion, within `gguf_bars()` as well.
"""

from __future__ import annotations

import inspect
import io
import os
import sys
from contextlib import contextmanager

from tqdm.auto import tqdm
from tqdm.std import tqdm as plain_tqdm

LOG_INTERVAL = 30.0  # seconds between a bar's lines in a log file
NO = ("", "0", "false", "no", "off")  # the TQDM_DISABLE values that hide no bar


def progress_bar(iterable=None, **settings) -> plain_tqdm:
    """tqdm(iterable, **settings), written as lines when its stream is no terminal (see the module)."""
    if settings.get("disable", False) is False and "TQDM_DISABLE" in os.environ:
        # no reason to hide it here: TQDM_DISABLE decides, read as a yes or no (tqdm's own default, bool() of
        # the string, hid every bar for TQDM_DISABLE=0)
        settings["disable"] = os.environ["TQDM_DISABLE"].strip().lower() not in NO
    elif settings.get("disable") is False:  # tqdm's default then, which a test may set as TQDM_DISABLE does
        del settings["disable"]
    stream = settings.get("file") or sys.stderr
    if not writes_to_a_log(stream):
        return tqdm(iterable, **settings)
    lines = {"mininterval": LOG_INTERVAL, "delay": LOG_INTERVAL if settings.get("leave") is False else 0.0}
    for key, value in lines.items():
        if key not in settings and f"TQDM_{key.upper()}" not in os.environ:
            settings[key] = value
    if "maxinterval" not in settings and "TQDM_MAXINTERVAL" not in os.environ:
        # tqdm's monitor thread redraws a bar not drawn for maxinterval (10 s): no sooner than mininterval
        settings["maxinterval"] = max(settings.get("mininterval", _tqdm_default("mininterval")),
                                      _tqdm_default("maxinterval"))
    return LogBar(iterable, **settings)


@contextmanager
def transformers_bars():
    """Within it transformers' own bars are made by progress_bar (lines in a log file), or where this
    transformers cannot hand them over (no logging.set_tqdm_hook, before 5.4), hidden in a log file: their
    redraws ('\\r') wrote one long line there at each backbone load. Bars the user hid stay hidden
    (HF_HUB_DISABLE_PROGRESS_BARS=1, transformers' disable_progress_bar(): then `factory` is no tqdm)."""
    from transformers.utils import logging

    def make(factory, args, kwargs):
        return progress_bar(*args, **kwargs) if factory is tqdm else factory(*args, **kwargs)

    if hasattr(logging, "set_tqdm_hook"):
        previous = logging.set_tqdm_hook(make)
        try:
            yield
        finally:
            logging.set_tqdm_hook(previous)
    elif writes_to_a_log(sys.stderr):
        with transformers_bars_hidden():
            yield
    else:
        yield


@contextmanager
def gguf_bars():
    """transformers' "Converting and de-quantizing GGUF tensors" bar made by its own tqdm within it, so that
    `transformers_bars()` reaches it too. transformers' GGUF reader draws it with tqdm.auto's bar, imported as
    its module's `tqdm`, which neither its tqdm hook nor its switch (HF_HUB_DISABLE_PROGRESS_BARS) reaches:
    converting SmolLM2 wrote its redraws ('\\r') into a log."""
    from transformers import modeling_gguf_pytorch_utils as reader
    from transformers.utils import logging

    own, reader.tqdm = reader.tqdm, logging.tqdm
    try:
        yield
    finally:
        reader.tqdm = own


@contextmanager
def transformers_bars_hidden():
    """transformers' progress bars off within it, and on again after where they were on."""
    from transformers.utils import logging

    shown = logging.is_progress_bar_enabled()
    if shown:
        logging.disable_progress_bar()
    try:
        yield
    finally:
        if shown:
            logging.enable_progress_bar()


def writes_to_a_log(stream) -> bool:
    """Whether `stream` is a file or a pipe: no terminal, and no notebook's output (which shows tqdm's redraws)."""
    if stream is None or type(stream).__module__.split(".")[0] == "ipykernel":
        return False
    try:
        return not stream.isatty()
    except (AttributeError, ValueError):  # no isatty, or closed
        return True


def _tqdm_default(key: str):
    """tqdm's default for `key`: its own, or the TQDM_* environment setting tqdm read when imported."""
    return inspect.signature(plain_tqdm.__init__).parameters[key].default


class LogBar(plain_tqdm):
    """A tqdm bar that writes each redraw as a line of its own, never a carriage return or a cursor move."""

    def display(self, msg=None, pos=None) -> bool:
        """A line, unless this erases the bar (msg ""), comes sooner than mininterval after its last line (tqdm
        redraws every bar after a tqdm.write: the training's evaluation lines), or shows the count of that line
        again. Such a redraw, by tqdm's monitor thread of a bar not updated for maxinterval, only repeated the
        count with a later time and the rate of before (`19/94 [01:02<...]`, then `19/94 [01:36<...]`): a stale
        count (a bar over an iterable counts its items at its next line) and a stale rate, from a thread that
        would write it as well if the job hung; the next line, once the count moves, shows the time it took."""
        now = self._time()
        last = getattr(self, "last_line", None)  # (time, count, time shown) of the bar's last line
        if msg == "" or last and (now - last[0] < self.mininterval or self.n == last[1]):
            return False
        meter = self.format_dict
        self.fp.write(f"{self.format_meter(**meter) if msg is None else msg}\n")
        self.fp.flush()
        # the bar's own record, not tqdm's last_print_t and last_print_n: its updates and its loop over an
        # iterable decide from those when to draw and add the items since, so moving them here (at a redraw
        # by the monitor) added those items twice ("eval: 34it" of 30) and left the stall out of the rate
        self.last_line = (now, self.n, self.format_interval(meter["elapsed"]))
        return True

    @classmethod
    def write(cls, s, file=None, end="\n", nolock=False) -> None:
        """tqdm.write, flushed: a file's stdout is written in blocks, so the training's evaluation lines
        (`bar.write`) came into a log minutes late, after the bar's lines of batches since (stderr is not)."""
        super().write(s, file, end, nolock)
        fp = file if file is not None else sys.stdout
        if fp is not None:
            fp.flush()

    def clear(self, nolock=False) -> None:
        """Nothing to clear: tqdm clears the bars around a tqdm.write, which is a line of its own here."""

    def close(self) -> None:
        """The bar's last line, with the overall rate (as tqdm ends a bar it leaves on the screen): for a bar
        that wrote lines before, so not for one that tqdm erases (leave=False) and that ended within `delay`;
        and not when its last line already showed the same count and time (a bar whose last update drew it)."""
        if getattr(self, "disable", True):
            return
        last = getattr(self, "last_line", None)
        log, self.fp = self.fp, io.StringIO()  # tqdm's own end (a redraw in place and a newline, or an erase)
        try:
            super().close()
        finally:
            self.fp = log
        meter = {**self.format_dict, "rate": None}
        if last and last[1:] != (self.n, self.format_interval(meter["elapsed"])):
            with self._lock:
                log.write(self.format_meter(**meter) + "\n")
                log.flush()
