"""The commands say this project's warnings as `warning: message`, one clean line, not Python's
`/path/hybrid/config.py:438: UserWarning: message` and the echoed `  warnings.warn(...` beneath it; a
library's warning keeps Python's format, whose path names the library; the filters are untouched."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
UNDONE = ["task.train_size=64", "task=maze"]  # an override a later preset undoes: hybrid/config.py warns
SAID = ("warning: task.train_size=64 is undone by task=maze, given after it: give task.train_size=64 after "
        "task=maze (presets and overrides apply left to right)")


def stderr_of(args: list[str], env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, cwd=ROOT, timeout=300,
                          env=os.environ | {"HF_HUB_OFFLINE": "1"} | (env or {}))


def console_scripts() -> dict[str, str]:
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]


@pytest.mark.parametrize("command", ["hybrid-train", "hybrid-eval", "hybrid-solve", "hybrid-cache"])
def test_every_command_says_our_warnings_in_one_line(command):
    """Each console script's main, as pyproject.toml names it: a warning of ours raised within it (the
    command line's, put where its arguments are parsed) is one line; after it Python's format is back."""
    module, function = console_scripts()[command].split(":")
    script = textwrap.dedent(f"""\
        import argparse, sys, warnings
        from hybrid.config import load_config

        def parsed(*args, **kwargs):
            load_config({UNDONE!r})
            sys.exit(0)

        argparse.ArgumentParser.parse_args = argparse.ArgumentParser.parse_intermixed_args = parsed
        from {module} import {function} as main
        assert warnings.formatwarning is warnings._formatwarning_orig, "importing a command changed it"
        try:
            main([])
        except SystemExit:
            pass
        assert warnings.formatwarning is warnings._formatwarning_orig, "not given back"
        """)
    proc = stderr_of(["-c", script])
    assert proc.returncode == 0 and proc.stderr == SAID + "\n", proc.stderr


def test_training_says_an_undone_override_in_one_line_and_the_filters_still_apply():
    """The whole command, as a user runs it; `python -W error` still makes the warning an error."""
    proc = stderr_of(["-m", "hybrid.train", "--print-config", *UNDONE])
    assert proc.returncode == 0 and proc.stderr == SAID + "\n", proc.stderr
    raised = stderr_of(["-W", "error", "-m", "hybrid.train", "--print-config", *UNDONE])
    assert raised.returncode == 1 and raised.stderr.splitlines()[-1] == "UserWarning: " + SAID.removeprefix("warning: ")


@pytest.mark.parametrize("setting", [["-W", "ignore"], ["-W", "ignore::UserWarning"]])
def test_a_command_told_to_ignore_warnings_says_none(setting):
    script = textwrap.dedent(f"""\
        from hybrid.config import load_config
        from hybrid.console import plain_warnings
        with plain_warnings():
            load_config({UNDONE!r})
        """)
    assert stderr_of([*setting, "-c", script]).stderr == ""
    assert stderr_of(["-c", script], env={"PYTHONWARNINGS": setting[1]}).stderr == ""


# A library module (in site-packages) with a deprecated function, which warns naming its caller's line, and
# a module of ours (in hybrid/, not on disk) that calls it, and raises a warning of its own naming its caller.
LIBRARY = """\
import warnings
def old():
    warnings.warn("old() is deprecated", FutureWarning, stacklevel=2)
def loud():
    warnings.warn("a library's own warning")
"""
OURS = """\
import warnings
def calls_old():
    old()
def warns_its_caller():
    warnings.warn("about the caller", stacklevel=2)
"""


def test_a_library_warning_keeps_python_format_even_where_it_names_our_line():
    """Ours is the code that called warnings.warn, not the line Python names: a library's deprecation
    (stacklevel=2) names our line that called it, and is still the library's to say, in full."""
    script = textwrap.dedent(f"""\
        import sysconfig, warnings
        from hybrid.console import ROOT, plain_warnings

        library, ours = {{}}, {{}}
        exec(compile({LIBRARY!r}, sysconfig.get_paths()["purelib"] + "/somelib/core.py", "exec"), library)
        ours["old"] = library["old"]
        exec(compile({OURS!r}, str(ROOT / "hybrid" / "uses_somelib.py"), "exec"), ours)
        with plain_warnings():
            library["loud"]()
            ours["calls_old"]()
            ours["warns_its_caller"]()
        """)
    lines = stderr_of(["-c", script]).stderr.splitlines()
    purelib = __import__("sysconfig").get_paths()["purelib"]
    assert lines == [f"{purelib}/somelib/core.py:5: UserWarning: a library's own warning",
                     f"{ROOT / 'hybrid' / 'uses_somelib.py'}:3: FutureWarning: old() is deprecated",
                     "warning: about the caller"], lines


def test_under_a_launch_a_process_other_than_the_main_one_says_only_its_process_warnings_in_one_line():
    """launch.one_voice's showwarning and the one-line format together, as hybrid/train.py's main has them."""
    script = textwrap.dedent(f"""\
        import os, sys, warnings
        from hybrid import launch
        from hybrid.config import load_config
        from hybrid.console import ROOT

        shard = {{}}
        exec(compile("import warnings\\nfrom hybrid.launch import ProcessWarning\\n"
                     "def warn():\\n    warnings.warn('this shard ran out of memory', ProcessWarning)\\n",
                     str(ROOT / "hybrid" / "shard.py"), "exec"), shard)
        for rank in ("1", "0"):
            os.environ["RANK"] = rank
            print(f"process {{rank}}:", file=sys.stderr)
            with launch.on_command_line():
                load_config({UNDONE!r})
                shard["warn"]()
        """)
    assert stderr_of(["-c", script]).stderr.splitlines() == [
        "process 1:", "warning: this shard ran out of memory",
        "process 0:", SAID, "warning: this shard ran out of memory"]


def test_plain_warnings_leaves_pytest_warns_to_record_them():
    from hybrid.config import load_config
    from hybrid.console import plain_warnings

    with pytest.warns(UserWarning, match="is undone by task=maze") as caught, plain_warnings():
        load_config(UNDONE)
    assert len(caught) == 1
