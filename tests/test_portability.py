"""Machines unlike ours: a locale whose encoding is not UTF-8 (Windows' cp1252, LC_ALL=C's ASCII), a
console that cannot show every character."""

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# The C locale without Python's coercion to UTF-8: open() then writes ASCII, as it writes cp1252 on Windows.
ASCII_LOCALE = {"LC_ALL": "C", "LANG": "C", "PYTHONCOERCECLOCALE": "0", "PYTHONUTF8": "0", "PYTHONIOENCODING": ""}

# ASCII source: under LC_ALL=C a command line holds nothing else
TRAIN_AND_RELOAD = r"""
import sys
from hybrid.config import load_config, from_yaml
from hybrid.inference import Hybrid
from hybrid.train import train
data, out, cache = sys.argv[1:]
config = load_config(["task=qa", f"task.path={data}", "task.question_field=\u00e9nonc\u00e9",
                      "task.answer_field=r\u00e9ponse", "task.max_answer_chars=4", "task.test_size=5", "backbone=chars",
                      "reasoner.hidden=32", "reasoner.n=1", "reasoner.T=1", "reasoner.N_sup=1", "train.batch_size=4",
                      "train.steps=1", "train.eval_every=0", "train.checkpoint_every=1", "train.warmup=0",
                      "train.tracker=null", "train.cpu_threads=1", f"train.output_dir={out}",
                      f"train.data_dir={cache}"])
train(config)
assert from_yaml(f"{out}/config.yaml").task.question_field == "\u00e9nonc\u00e9"
print(Hybrid.from_pretrained(out).solve(["1+1"])[0].error)
"""


def python(*args, **env) -> subprocess.CompletedProcess:
    """`python *args` in a fresh process, from the repository root, with `env` on top of ours."""
    env = os.environ | {"PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"} | env
    return subprocess.run([sys.executable, *map(str, args)], cwd=ROOT, env=env, capture_output=True, timeout=300)


def qa_file(tmp_path: Path) -> Path:
    """A QA file whose fields are named in French."""
    data = tmp_path / "data.jsonl"
    data.write_text("".join(json.dumps({"énoncé": f"{a}+{b}", "réponse": str(a + b)}) + "\n"
                            for a in range(5) for b in range(5)), encoding="utf-8")
    return data


def test_a_run_whose_settings_are_not_ascii_trains_and_reloads_under_a_locale_that_is_not_utf8(tmp_path):
    """config.yaml is read as UTF-8 (OmegaConf.load), so it must be written as UTF-8 whatever the locale
    says: written in the locale's encoding, a field named "réponse" stopped the run at its first save
    under LC_ALL=C, and on Windows (cp1252) made a run that resume, eval and solve could not read."""
    done = python("-c", TRAIN_AND_RELOAD, qa_file(tmp_path), tmp_path / "run", tmp_path / "cache", **ASCII_LOCALE)
    assert done.returncode == 0, done.stderr.decode(errors="replace")[-3000:]
    assert done.stdout.strip().splitlines()[-1] == b"None"  # solved, no error
    # The commands that read a run and the cache, under the same locale
    for command in (["eval", tmp_path / "run"], ["hybrid.cache_cli", "--data-dir", tmp_path / "cache", "list"]):
        done = python("-m", *command, **ASCII_LOCALE)
        assert done.returncode == 0, done.stderr.decode(errors="replace")[-3000:]


def test_a_finished_run_prints_its_summary_to_a_console_that_cannot_show_its_folder(tmp_path):
    """Windows gives a redirected stdout cp1252, which has no Chinese: a run folder under a Chinese
    user name made the summary of a finished run a UnicodeEncodeError and exit status 1. The
    characters it lacks are shown as escapes, as Python's stderr shows them."""
    done = python("-c", TRAIN_AND_RELOAD, qa_file(tmp_path), tmp_path / "运行 1", tmp_path / "cache",
                  PYTHONIOENCODING="cp1252")
    assert done.returncode == 0, done.stderr.decode(errors="replace")[-3000:]
    assert b"next: python -m eval" in done.stdout and b"\\u8fd0" in done.stdout


def test_the_console_escapes_what_its_encoding_lacks_and_gives_back_a_file_names_bytes():
    """Under LC_ALL=C: rich's "…" (it cuts a long backbone name in `hybrid-cache list` with one) as an
    escape; a file name's byte that was no ASCII (decoded to a lone surrogate) as that byte."""
    script = r"from hybrid.console import console; console().print('chars@v2\u2026 /runs/caf\udce9', highlight=False)"
    done = python("-c", script, **ASCII_LOCALE)
    assert done.returncode == 0, done.stderr.decode(errors="replace")[-3000:]
    assert done.stdout.strip() == b"chars@v2\\u2026 /runs/caf\xe9"


def test_a_file_names_bytes_come_back_beside_a_character_the_encoding_lacks():
    """The encoder hands over a run of characters it cannot encode at once: a file name's byte (a lone
    surrogate) right before rich's "…" came out as the text \\udce9, a name that is not the file's."""
    import hybrid.console  # noqa: F401 (registers the handler)

    assert "caf\udce9\u2026".encode("ascii", "hybrid-printable") == b"caf\xe9\\u2026"
    assert "\u8fd0\udce9x".encode("cp1252", "hybrid-printable") == b"\\u8fd0\xe9x"
