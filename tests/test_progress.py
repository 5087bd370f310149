"""Progress bars (hybrid/progress.py): tqdm's own in a terminal; in a log file (a `nohup ... > train.log`
job, Slurm, CI), a plain line now and then. tqdm's clock is driven here, so a bar seems to run for minutes."""

import io
import itertools
import os
import re
import subprocess
import sys
import time

import pytest
import tqdm.std

from eval.tasks import make_task
from hybrid.config import load_config
from hybrid.data import generate_split
from hybrid.progress import LOG_INTERVAL


class Terminal(io.StringIO):
    def isatty(self):
        return True


@pytest.fixture
def clock(monkeypatch):
    """tqdm's clock, a second later at each reading; returns the seconds it has run."""
    start = now = time.time()

    def read():
        nonlocal now
        now += 1.0
        return now

    monkeypatch.setattr(tqdm.std, "time", read)
    return lambda: now - start


def generate_into(stream, monkeypatch, size=300) -> str:
    """What generating `size` puzzles (a bar that tqdm erases when done, leave=False) wrote to stderr=`stream`."""
    monkeypatch.setattr(sys, "stderr", stream)
    task = make_task(load_config(["task.size=4"]).task)
    generate_split(task, size, seed=0, wordings=[0], exclude=set(), desc="train")
    return stream.getvalue()


def test_a_bar_in_a_log_file_writes_a_line_now_and_then(clock, monkeypatch):
    """tqdm redrew the bar in place ('\\r') every 0.1 s: in a file, one line of hundreds of redraws. Now a line
    of its own at most every LOG_INTERVAL seconds, none in its first (an erased bar that ends sooner writes
    nothing), and its end: the count, the time and the overall rate."""
    written = generate_into(io.StringIO(), monkeypatch)
    assert "\r" not in written and "\x1b" not in written
    lines = written.splitlines()
    assert all(line.startswith("generating train: ") for line in lines), lines
    assert 3 <= len(lines) <= clock() / LOG_INTERVAL + 1, (len(lines), clock())
    assert "300/300" in lines[-1] and "it/s]" in lines[-1]


def test_a_bar_in_a_terminal_is_tqdms(clock, monkeypatch):
    """In a terminal the bar is redrawn in place as often as tqdm's mininterval (0.1 s) lets: here, with
    a second passing at each reading of the clock, at each puzzle."""
    written = generate_into(Terminal(), monkeypatch)
    assert written.count("\rgenerating train: ") >= 300
    assert "\n" not in written.rstrip("\r ")  # erased at the end, as tqdm does (leave=False)


def test_a_short_erased_bar_leaves_nothing_in_a_log_file(monkeypatch):
    """An evaluation inside training (a bar inside another, leave=False) wrote its start, its end and the
    erasing of it, with cursor moves ('\\x1b[A'), into the log at each periodic evaluation."""
    assert generate_into(io.StringIO(), monkeypatch, size=20) == ""


def settings_in_a_process(env: dict, disable: bool = False) -> str:
    """The settings of a bar made in a fresh process, where tqdm reads the TQDM_* environment on import."""
    script = ("import io\nfrom hybrid.progress import progress_bar\n"
              f"bar = progress_bar(total=3, file=io.StringIO(), disable={disable})\n"
              "print(bar.disable, getattr(bar, 'mininterval', None), getattr(bar, 'maxinterval', None))\n")
    clean = {k: v for k, v in os.environ.items() if not k.startswith("TQDM_")}
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True,
                          env=clean | env | {"PYTHONPATH": os.pathsep.join(sys.path)})
    return done.stdout.strip()


def test_a_users_tqdm_settings_come_first():
    """TQDM_MININTERVAL (and TQDM_MAXINTERVAL) over the log file's interval; TQDM_DISABLE hides a bar whose
    command passed disable=False (tqdm reads the environment as defaults, which an argument overrides)."""
    assert settings_in_a_process({}) == f"False {LOG_INTERVAL:.1f} {LOG_INTERVAL:.1f}"
    assert settings_in_a_process({"TQDM_MININTERVAL": "2"}) == "False 2.0 10.0"
    assert settings_in_a_process({"TQDM_MININTERVAL": "2", "TQDM_MAXINTERVAL": "4"}) == "False 2.0 4.0"
    assert settings_in_a_process({"TQDM_DISABLE": "1"}).startswith("True")
    assert settings_in_a_process({}, disable=True).startswith("True")


def test_tqdm_disable_hides_the_training_bar(small_config, capsys, monkeypatch):
    """tqdm reads TQDM_DISABLE=1 on import as its default for disable, which an argument overrides: the
    training bar, made with disable=False on the main process, was drawn all the same."""
    import functools

    from hybrid.train import train

    init = tqdm.std.tqdm.__dict__["__init__"]  # as tqdm.utils.envwrap leaves it with TQDM_DISABLE=1 set
    monkeypatch.setattr(tqdm.std.tqdm, "__init__", functools.partialmethod(init, disable=True))
    config = small_config("train.steps=2")
    capsys.readouterr()
    train(config)
    assert "training" not in capsys.readouterr().err


def test_a_line_written_beside_a_bar_in_a_log_file_is_flushed():
    """The training's evaluation lines go to stdout with bar.write: in a log file, stdout is written in blocks,
    so "batch 60: held-out exact accuracy ..." came after the bar's line of batch 113 (stderr, unbuffered)."""
    from hybrid.progress import progress_bar

    class Log(io.StringIO):
        flushed = ""

        def flush(self):
            self.flushed = self.getvalue()

    log = Log()
    with progress_bar(total=3, file=io.StringIO()) as bar:
        bar.write("batch 2: held-out exact accuracy 0.5", file=log)
        assert log.flushed == "batch 2: held-out exact accuracy 0.5\n"


def load_into(stream, folder: str, monkeypatch) -> str:
    """What loading the backbone in `folder` wrote to stderr=`stream`."""
    from hybrid.backbone import FrozenBackbone

    monkeypatch.setattr(sys, "stderr", stream)
    FrozenBackbone(load_config([f"backbone.path={folder}"]).backbone)
    return stream.getvalue()


def test_transformers_loading_bar_writes_lines_in_a_log_file(tiny_backbone, monkeypatch):
    """transformers' own "Loading weights" bar, drawn at each backbone load, wrote tqdm's redraws ('\\r') into a
    log; it is one of our bars now: plain lines there, tqdm's redraws in a terminal."""
    folder = tiny_backbone("bert")
    written = load_into(io.StringIO(), folder, monkeypatch)
    assert "\r" not in written
    assert [line.split(":")[0] for line in written.splitlines()] == ["Loading weights"] * 2, written
    assert "\rLoading weights: 100%" in load_into(Terminal(), folder, monkeypatch)


def test_transformers_bars_stay_hidden_where_the_user_hid_them(tiny_backbone, monkeypatch):
    """HF_HUB_DISABLE_PROGRESS_BARS=1 (read by transformers on import as its bars' switch) hides the loading bar."""
    from transformers.utils import logging

    monkeypatch.setattr(logging, "_tqdm_active", False)
    assert load_into(Terminal(), tiny_backbone("bert"), monkeypatch) == ""


def test_transformers_bars_without_a_tqdm_hook_are_hidden_in_a_log_file(tiny_backbone, monkeypatch):
    """A transformers without logging.set_tqdm_hook (older than 5.4): its bars are switched off during a load
    into a log, and back on after it."""
    from transformers.utils import logging

    monkeypatch.delattr(logging, "set_tqdm_hook")
    assert load_into(io.StringIO(), tiny_backbone("bert"), monkeypatch) == ""
    assert logging.is_progress_bar_enabled()
    assert "\rLoading weights: 100%" in load_into(Terminal(), tiny_backbone("bert"), monkeypatch)


@pytest.mark.parametrize("value, hidden", [("0", False), ("false", False), ("No", False), ("", False),
                                           ("1", True), ("true", True), ("YES", True)])
def test_tqdm_disable_is_read_as_a_yes_or_no(value, hidden):
    """tqdm casts TQDM_DISABLE to bool, so "0", "false" and "no" (non-empty strings) hid every bar as "1" does."""
    assert settings_in_a_process({"TQDM_DISABLE": value}).startswith(str(hidden))
    assert settings_in_a_process({"TQDM_DISABLE": value}, disable=True).startswith("True")


class StillClock:
    """tqdm's clock, moved only by `pass_(seconds)`: a bar's time as a test sets it."""

    def __init__(self):
        self.now = time.time()

    def __call__(self):
        return self.now

    def pass_(self, seconds: float):
        self.now += seconds


@pytest.fixture
def still_clock(monkeypatch):
    """A StillClock for every bar, and no monitor thread (a test redraws as it does, with `monitor_redraw`)."""
    clock = StillClock()
    monkeypatch.setattr(tqdm.std, "time", clock)
    monkeypatch.setattr(tqdm.std.tqdm, "monitor_interval", 0)
    return clock


def monitor_redraw(bar):
    """What tqdm's monitor thread does to a bar not drawn for maxinterval (tqdm/_monitor.py)."""
    bar.miniters = 1
    bar.refresh(nolock=True)


def counts_and_seconds(log: str) -> list[tuple[int, int]]:
    """The count and the time in seconds of each line a bar wrote into `log`."""
    found = [re.search(r"(\d+)/\d+ \[(\d+):(\d+)", line) for line in log.splitlines()]
    return [(int(n), int(minutes) * 60 + int(seconds)) for n, minutes, seconds in (f.groups() for f in found)]


def test_a_redraw_without_progress_writes_no_line_in_a_log_file(still_clock):
    """During a slow batch (a periodic evaluation), tqdm's monitor thread redrew the training bar: a line that
    repeated the count with a later time and the rate of before (`19/94 [01:02<...]`, then `19/94 [01:36<...]`).
    Now the next line is the one of the next batch, when it ends."""
    from hybrid.progress import progress_bar

    log = io.StringIO()
    with progress_bar(total=94, desc="training", file=log) as bar:
        still_clock.pass_(62)
        bar.update(19)
        still_clock.pass_(34)
        monitor_redraw(bar)
        still_clock.pass_(60)
        bar.update()
        still_clock.pass_(1)
    assert counts_and_seconds(log.getvalue()) == [(0, 0), (19, 62), (20, 156), (20, 157)], log.getvalue()


def test_an_iterated_bar_counts_each_item_once_in_a_log_file(still_clock):
    """A redraw by tqdm's monitor thread moved tqdm's record of the last redraw, which a bar over an iterable
    reads to count the items since: they were added twice, and a line showed 15 batches of an evaluation where
    12 were done (or 'eval: 34it' of 30)."""
    from hybrid.progress import progress_bar

    log, done = io.StringIO(), [0]  # the seconds at which each item was done
    bar = progress_bar(range(30), desc="eval", file=log)
    for item in bar:
        still_clock.pass_(10 if item < 10 else 25)
        done.append(done[-1] + (10 if item < 10 else 25))
        if item == 10:
            monitor_redraw(bar)
    for count, seconds in counts_and_seconds(log.getvalue()):
        assert count == sum(t <= seconds for t in done[1:]), (count, seconds, log.getvalue())
    assert log.getvalue().splitlines()[-1].startswith("eval: 100%|")


def test_a_bars_closing_line_repeats_no_line_in_a_log_file(still_clock):
    """A bar whose last update drew its last line, closed in the same second, wrote it twice: the same count
    and time (and the same rate where its one measured rate was its overall rate)."""
    from hybrid.progress import progress_bar

    for updates in ([3], [1, 2]):
        log = io.StringIO()
        with progress_bar(total=3, desc="solving", file=log) as bar:
            for n in updates:
                still_clock.pass_(LOG_INTERVAL)
                bar.update(n)
        assert [count for count, _ in counts_and_seconds(log.getvalue())] == [0, *itertools.accumulate(updates)], \
            log.getvalue()
    # closed later, it writes its last line: the count and the time until its end
    log = io.StringIO()
    with progress_bar(total=3, desc="solving", file=log) as bar:
        still_clock.pass_(LOG_INTERVAL)
        bar.update(3)
        still_clock.pass_(5)
    assert counts_and_seconds(log.getvalue()) == [(0, 0), (3, 30), (3, 35)], log.getvalue()
