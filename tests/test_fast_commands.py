"""A command that only parses its arguments or reads a folder answers without loading the heavy
libraries: torch, transformers, datasets and the rest took seconds before a one-line `--help`."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

HEAVY = ("torch", "transformers", "peft", "accelerate", "datasets", "matplotlib")
ROOT = Path(__file__).resolve().parent.parent


def loaded_by(module: str, argv: list[str]) -> list[str]:
    """The heavy modules a fresh interpreter holds after `module.main(argv)` (which may exit)."""
    script = (f"import sys\nfrom {module} import main\ntry:\n    main({argv!r})\nexcept SystemExit:\n    pass\n"
              f"print('LOADED', sorted(m for m in {HEAVY!r} if m in sys.modules))")
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT,
                          env=os.environ | {"HF_HUB_OFFLINE": "1"}, timeout=300)
    last = proc.stdout.strip().splitlines()[-1]
    assert last.startswith("LOADED"), proc.stdout + proc.stderr
    return ast.literal_eval(last.removeprefix("LOADED "))


@pytest.mark.parametrize("module,argv", [
    ("eval.__main__", ["--help"]),
    ("hybrid.solve", ["--help"]),
    ("hybrid.cache_cli", ["--help"]),
    ("hybrid.cache_cli", ["--data-dir", "{empty}", "list"]),
])
def test_help_and_listing_load_no_heavy_library(module, argv, tmp_path):
    assert loaded_by(module, [a.format(empty=tmp_path) for a in argv]) == []


@pytest.mark.parametrize("argv", [["--help"], ["train.lrr=1"]])
def test_training_help_and_a_typo_load_no_peft(argv):
    """hybrid.train imports torch and transformers itself; peft (imported by transformers'
    scheduler module, seconds) waits for the run that makes a scheduler."""
    assert "peft" not in loaded_by("hybrid.train", argv)
