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
import time
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
def locked(file: Path, waiting: str | None = None, accelerator=None):
    """Hold the lock `file`. When another process holds it: say `waiting` and wait for it, or,
    with waiting=None, raise Busy at once.

    With the `accelerator` of a run of several processes, all of them call this: the main process
    takes the lock for the run and the others wait with it. They wait in short steps taken together:
    a process left in one collective for longer than the distributed timeout (10 to 30 minutes)
    would end the run while another run embeds for an hour."""
    lock = FileLock(file)
    if accelerator is not None and accelerator.num_processes > 1:
        held = _wait_together(lock, file, waiting or "waiting", accelerator)
    else:
        held = _wait(lock, file, waiting)
    try:
        yield
    finally:
        if held:
            lock.release()


@contextmanager
def main_process_first(accelerator, file: Path):
    """accelerator.main_process_first, with the other processes waiting on the lock `file` (held by
    the main process meanwhile) rather than in a barrier: generating a large puzzle set or
    converting a large GGUF model can take longer than the distributed timeout (10 minutes with
    NCCL), which ended the run. Where the main process can take no lock it falls back to the
    barrier. Another process waits only where it sees the main process's lock: one that can take
    no lock (a read-only folder), or whose lock file is another (a node that does not share the
    run folder's disk), goes on at once, taking turns only on the data's own locks."""
    from accelerate.utils import broadcast_object_list

    if accelerator.num_processes == 1:
        yield
        return
    lock, main = FileLock(file), accelerator.is_main_process
    held = _wait(lock, file, "preparing the run") if main else False
    if not broadcast_object_list([held])[0]:  # the main process could take no lock here: a barrier, as before
        with accelerator.main_process_first():
            yield
        return
    if not main and _wait(lock, file, waiting=""):  # False where this process can take no lock: it goes on
        lock.release()  # it came free: the main process is done (or, on another node's own disk, it never was held)
    try:
        yield
    finally:
        if held:
            lock.release()


def held_elsewhere(file: Path) -> bool | None:
    """Whether another process holds the lock `file` now; None where no lock can be taken."""
    lock = FileLock(file)
    taken = _try(lock, file)
    if taken:
        lock.release()
    return None if taken is None else not taken


def _try(lock: FileLock, file: Path) -> bool | None:
    """True: taken. False: another process holds it. None: no lock can be taken here (a read-only
    folder, a filesystem without locks), and work goes on without one."""
    try:
        file.parent.mkdir(parents=True, exist_ok=True)
        lock.acquire(timeout=0)
        return True
    except Timeout:
        return False
    except (OSError, NotImplementedError):
        return None


def _say_waiting(file: Path, waiting: str) -> None:
    print(f"{waiting}: another run is doing it; waiting for it to finish ({file})", file=sys.stderr)


def _wait(lock: FileLock, file: Path, waiting: str | None) -> bool:
    held = _try(lock, file)
    if held is False:
        if waiting is None:
            raise Busy(file)
        if waiting:  # "": wait without a word
            _say_waiting(file, waiting)
        lock.acquire()
        held = True
    return bool(held)


POLL_SECONDS = 5.0  # how often the processes of a waiting run check together whether the lock is free


def _wait_together(lock: FileLock, file: Path, waiting: str, accelerator) -> bool:
    from accelerate.utils import broadcast_object_list

    main = accelerator.is_main_process
    held = _try(lock, file) if main else None
    if held is False:
        _say_waiting(file, waiting)
    while not broadcast_object_list([held is not False])[0]:  # the main process's answer, on every process
        time.sleep(POLL_SECONDS)
        if main:
            held = _try(lock, file)
    return bool(held)
