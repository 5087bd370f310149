"""Locks between runs: held by one process at a time, released however the holder ends
(kill -9 included), and no obstacle where none can be taken."""

import os

import pytest

from hybrid.lock import Busy, locked, main_process_first


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


def test_the_other_processes_of_a_run_start_once_the_main_one_has_prepared(tmp_path, held_by_another_process,
                                                                             monkeypatch):
    """main_process_first: the main process generates the data and converts the weights holding the
    run's lock; the others wait on that lock, then read what it wrote."""
    from types import SimpleNamespace

    import accelerate.utils

    monkeypatch.setattr(accelerate.utils, "broadcast_object_list", lambda objects: [True])  # the main one holds it
    file, prepared = tmp_path / "locks" / "run.lock", tmp_path / "prepared"
    other = SimpleNamespace(num_processes=2, is_main_process=False)
    with held_by_another_process(file, then=f"time.sleep(1)\nPath({str(prepared)!r}).write_text('splits')"):
        with main_process_first(other, file):
            assert prepared.exists()
