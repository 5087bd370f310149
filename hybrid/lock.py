"""One process at a time where runs would write the same files: the runs of a sweep started
together on one train.data_dir (generated splits, embedding cache entries, converted backbones)
or, by mistake, in one train.output_dir.

A lock is `filelock`'s (an OS lock on a small file that stays and is reused), so it is released
however its holder ends, kill -9 included. Where none can be taken (a read-only folder, a
filesystem without locks) work goes on unlocked, as before: a write there fails with its own
message.
"""

from __future__ import annotations

import sys
from contextlib import contextmanager
from pathlib import Path

from filelock import FileLock, Timeout


class Busy(RuntimeError):
    """Another process holds the lock."""

    def __init__(self, file: Path):
        super().__init__(f"{file} is held by another process")
        self.file = file


def lock_file(root: str | Path, name: str) -> Path:
    """Where the lock on `name` under a cache folder lives: beside its data, not among it."""
    return Path(root).expanduser() / "locks" / f"{name}.lock"


@contextmanager
def locked(file: Path, waiting: str | None = None):
    """Hold the lock `file`. When another process holds it: say `waiting` and wait for it, or,
    with waiting=None, raise Busy at once."""
    lock = FileLock(file)
    try:
        file.parent.mkdir(parents=True, exist_ok=True)
        try:
            lock.acquire(timeout=0)
        except Timeout:
            if waiting is None:
                raise Busy(file) from None
            print(f"{waiting}: another run is doing it; waiting for it to finish ({file})", file=sys.stderr)
            lock.acquire()
    except (OSError, NotImplementedError):  # read-only, or no locks on this filesystem (Timeout is handled above)
        lock = None
    try:
        yield
    finally:
        if lock is not None:
            lock.release()
