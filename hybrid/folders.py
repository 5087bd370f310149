"""Folders written whole: generated puzzle splits, converted and tiny backbones, pretrained folders.

A folder is written beside its place, as `<name>.tmp`, and renamed into it only once complete,
so a write cut short (Ctrl-C, a full disk, a killed run) never leaves a folder that looks
complete: its next use writes it again. One made from cached work (`build_once`) is made by
one run of several started together, which the others wait for.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Callable, TypeVar

from hybrid.checkpoint import replace_folder, unwritable
from hybrid.config import check_not_a_file
from hybrid.lock import locked

T = TypeVar("T")


def make_writable(folder: Path) -> None:
    """Make `folder` (with its parents) and write a file in it, raising the OSError where it cannot
    be written (below a file, a read-only disk): said before minutes of work, not after them."""
    folder.mkdir(parents=True, exist_ok=True)
    tempfile.TemporaryFile(dir=folder).close()


def write_folder(path: Path, write: Callable[[Path], T], fix: str | None = None,
                 errors: tuple[type[Exception], ...] = (OSError,)) -> T:
    """`write(tmp)` fills an empty folder `tmp` beside `path`, which then replaces `path` (some
    complete copy is there at every moment); returns what `write` returned. Where `write` fails,
    the part written is removed: it would only take room. With `fix` (what the user should do),
    a failure of one of `errors` (a full disk or a read-only folder, as the OS, pyarrow or
    safetensors say it) is raised as `unwritable`, naming `path` and the room left there."""
    tmp = path.with_name(path.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)  # a half-written folder left by an earlier crash
    try:
        tmp.mkdir(parents=True)
        made = write(tmp)
    except BaseException as err:  # Ctrl-C too
        shutil.rmtree(tmp, ignore_errors=True)
        if fix is not None and isinstance(err, errors):
            raise unwritable(path, err, fix) from err
        raise
    replace_folder(tmp, path)  # over what an interrupted write of an older version left there
    return made


def build_once(path: Path, marker: str, write: Callable[[Path], T], lock: Path, waiting: str,
               fix: str | None = None) -> T | None:
    """The folder `path`, written by `write` (see write_folder) unless it is complete already:
    it is complete when it holds the file `marker`. (Renamed into place whole, a folder has it or
    is not there; but older versions wrote some in place, and one cut short lacks the file they
    wrote last.) Returns what `write` returned, or None where the folder was complete.

    Runs started together (a sweep on one train.data_dir) take turns on the lock file `lock`, those
    that wait saying `waiting`, and find the folder complete once the first has written it:
    writing at once, they removed and renamed each other's half-written folders."""
    if (path / marker).exists():
        return None
    check_not_a_file(path.parent, "train.data_dir")  # its datasets/, tiny/ and converted/ folders
    with locked(lock, waiting):
        if (path / marker).exists():  # written by the run this one waited for
            return None
        return write_folder(path, write, fix)
