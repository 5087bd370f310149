"""Folders written whole (hybrid/folders.py): a write cut short leaves nothing that looks
complete, a complete folder is reused, and runs started together write it once."""

import errno
import os
import stat
import threading
import time

import pytest
import torch
from safetensors.torch import save_file

from hybrid.folders import build_once, write_folder


def writer(calls, fail=None):
    """A write that records its call, writes `data` then the marker `done`, or raises `fail` between."""
    def write(tmp):
        calls.append(sorted(p.name for p in tmp.iterdir()))  # what it found in its folder: nothing
        (tmp / "data").write_text(f"call {len(calls)}")
        if fail is not None:
            raise fail
        (tmp / "done").write_text("")
        return len(calls)
    return write


def once(path, write, **kwargs):
    return build_once(path, "done", write, path.parent / "locks" / f"{path.name}.lock", "building x", **kwargs)


@pytest.mark.parametrize("fail", [KeyboardInterrupt(), RuntimeError("broken")])
def test_a_write_cut_short_leaves_nothing_and_the_next_call_writes_the_folder(tmp_path, fail):
    path, calls = tmp_path / "x", []
    (tmp_path / "x.tmp").mkdir()
    (tmp_path / "x.tmp" / "stale").write_text("")  # left by a crash before: the write gets an empty folder
    with pytest.raises(type(fail)):
        once(path, writer(calls, fail))
    assert not path.exists() and not (tmp_path / "x.tmp").exists()
    assert once(path, writer(calls)) == 2 and (path / "data").read_text() == "call 2"
    assert calls == [[], []]


def test_a_complete_folder_is_not_written_again_and_the_marker_says_which_is(tmp_path):
    path, calls = tmp_path / "x", []
    assert once(path, writer(calls)) == 1
    assert once(path, writer(calls)) is None and len(calls) == 1  # complete: reused
    (path / "done").unlink()  # what a write in place, cut short, left: no marker
    (path / "extra").write_text("")
    assert once(path, writer(calls)) == 2
    assert sorted(p.name for p in path.iterdir()) == ["data", "done"]  # replaced whole, not written over
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith("x.")] == []  # no .tmp or .old left


def test_a_full_disk_names_the_folder_and_what_to_do_and_other_errors_pass_unchanged(tmp_path):
    path = tmp_path / "x"
    full = OSError(errno.ENOSPC, "No space left on device")
    with pytest.raises(OSError, match=r"could not write .*/x \(.* GiB free there\): .*No space left on device.*Free it"):
        write_folder(path, writer([], full), "Free it")
    with pytest.raises(OSError, match="^\\[Errno 28\\] No space left on device$"):  # no fix: as raised
        write_folder(path, writer([], full))
    with pytest.raises(ValueError, match="^bad$"):  # not one of `errors`: as raised
        write_folder(path, writer([], ValueError("bad")), "Free it")
    assert list(tmp_path.iterdir()) == []


def test_runs_started_together_write_the_folder_once(tmp_path, capsys):
    path, calls, writing = tmp_path / "x", [], threading.Event()
    write = writer(calls)

    def slow(tmp):
        writing.set()
        time.sleep(0.5)  # the second run arrives meanwhile
        return write(tmp)

    first = threading.Thread(target=once, args=(path, slow))
    first.start()
    assert writing.wait(60)
    assert once(path, write) is None  # it waited for the first, then found the folder complete
    first.join()
    assert len(calls) == 1 and (path / "done").exists()
    assert "building x: another run is doing it; waiting" in capsys.readouterr().err


def test_a_crash_while_a_folder_replaces_another_leaves_the_earlier_one_whole(tmp_path, monkeypatch):
    """Between setting the earlier folder aside and renaming the new one into its place, some
    complete copy must exist (a SIGKILL there, stood in for by a failing rename)."""
    from pathlib import Path

    path, calls = tmp_path / "x", []
    write_folder(path, writer(calls))
    earlier = {p.name: p.read_text() for p in path.iterdir()}
    rename = Path.rename

    def killed_before_the_new_one_is_in_place(self, target):
        if self.name.endswith(".tmp"):
            raise OSError(errno.EIO, "Input/output error")
        return rename(self, target)

    monkeypatch.setattr(Path, "rename", killed_before_the_new_one_is_in_place)
    with pytest.raises(OSError):
        write_folder(path, writer(calls))  # writes "call 2"
    kept = [p for p in tmp_path.iterdir() if p.is_dir() and {q.name: q.read_text() for q in p.iterdir()} == earlier]
    assert kept, "the earlier folder was removed before the new one was in place"


def test_a_file_where_the_folder_goes_is_a_config_error_before_the_work(tmp_path):
    """data_dir/tiny (or converted/, datasets/) being a file: building a tiny backbone failed with a
    traceback (NotADirectoryError)."""
    from hybrid.config import ConfigError

    (tmp_path / "tiny").write_text("notes")
    calls = []
    with pytest.raises(ConfigError, match=rf"{tmp_path / 'tiny'} is a file, not a folder"):
        once(tmp_path / "tiny" / "bert", writer(calls))
    assert calls == [] and (tmp_path / "tiny").read_text() == "notes"


@pytest.mark.skipif(os.name == "nt", reason="no mode bits for others on Windows")
def test_safetensors_files_are_readable_as_the_umask_allows_like_the_folders_other_files(tmp_path):
    """safetensors 0.8 writes 0600 whatever the umask: final/ weights, checkpoints and a converted
    backbone would be the owner's alone, where config.yaml beside them is anyone's to read."""
    def write(tmp):
        save_file({"w": torch.zeros(2)}, tmp / "model.safetensors")
        (tmp / "nested").mkdir()
        save_file({"w": torch.zeros(2)}, tmp / "nested" / "model.safetensors")
        (tmp / "config.yaml").write_text("a: 1")

    old = os.umask(0o022)
    try:
        write_folder(tmp_path / "x", write)
    finally:
        os.umask(old)
    modes = {p.relative_to(tmp_path).as_posix(): stat.S_IMODE(p.stat().st_mode) for p in (tmp_path / "x").rglob("*.*")}
    assert modes == {"x/config.yaml": 0o644, "x/model.safetensors": 0o644, "x/nested/model.safetensors": 0o644}
