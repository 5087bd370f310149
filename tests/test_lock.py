"""Locks between runs: held by one process at a time, released however the holder ends
(kill -9 included), and no obstacle where none can be taken."""

import os

import pytest

from hybrid.lock import Busy, locked


def test_a_lock_is_held_by_one_process_and_freed_when_it_is_killed(tmp_path, held_by_another_process):
    file = tmp_path / "locks" / "x.lock"
    with held_by_another_process(file):  # killed with SIGKILL at the end of the block
        with pytest.raises(Busy, match="held by another process"):
            with locked(file):
                pass
    with locked(file):  # nothing stale is left to wait for
        pass


def test_where_no_lock_can_be_taken_work_goes_on(tmp_path, monkeypatch):
    def read_only(*args, **kwargs):
        raise PermissionError(13, "Read-only file system")

    monkeypatch.setattr(os, "open", read_only)
    done = []
    with locked(tmp_path / "x.lock", "writing"):
        done.append("written")
    assert done == ["written"]
