"""Shared fixtures: tiny random backbones built once per session, offline hub, small configs."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import textwrap
from contextlib import contextmanager
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
# The suite states behaviour on the CPU, also on a machine with an accelerator: there, training
# in-process would take it (Accelerate's default: CUDA, or MPS on a Mac), and the two-process tests
# fork pytest, which is unsafe once earlier tests have used CUDA (on an H200 the forked processes
# died of segmentation faults). Set before any test asks torch about CUDA; subprocesses inherit
# both. bench/gpu_check.py checks the GPU paths.
os.environ["CUDA_VISIBLE_DEVICES"] = ""
os.environ["ACCELERATE_USE_CPU"] = "1"

import pytest  # noqa: E402

from hybrid import tiny_backbones  # noqa: E402
from hybrid.config import load_config  # noqa: E402


@pytest.fixture(autouse=True)
def one_torch_thread():
    """Each test starts on one torch thread, as small_config's runs do (train.cpu_threads=1): tests
    that build and step a model themselves ran on every core, whose threads spin-wait on each
    other beside any busy process (a few-step backbone test took 22 s instead of 1.4 s); and a
    train() of a config without cpu_threads no longer leaves every core to the tests after it."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def tiny_backbone(tmp_path_factory):
    """kind -> folder of a tiny random backbone saved with save_pretrained."""
    root = tmp_path_factory.mktemp("backbones")
    built: dict[str, str] = {}

    def get(kind: str = "bert") -> str:
        if kind not in built:
            built[kind] = str(tiny_backbones.build(kind, root / kind))
        return built[kind]

    return get


def small_config_in(tiny_backbone, folder: Path):
    """small_config's make, for runs under `folder` (run/ and cache/); for a fixture wider than
    one test, which cannot take the per-test small_config."""

    def make(*overrides: str, kind: str = "bert"):
        # A test naming another task family or a backbone preset replaces that section: these
        # defaults are left out there, as the preset would undo them (and warn that it did)
        replaced = {item.split("=")[0] for item in overrides if item.split("=")[0] in ("task", "backbone")}
        task = [] if "task" in replaced else ["task=sudoku", "task.size=4", "task.train_size=64", "task.test_size=16",
                                              "task.wordings=[0]"]
        return load_config([
            *task,
            *([] if "backbone" in replaced else [f"backbone.path={tiny_backbone(kind)}"]),
            "reasoner.hidden=32", "reasoner.n=2", "reasoner.T=2", "reasoner.N_sup=2",
            "train.batch_size=16", "train.steps=4", "train.eval_every=0", "train.checkpoint_every=2",
            # One thread: torch's threads spin-wait on each other, so a run on every core beside
            # any busy process (another test run, a helper) took 15x longer; alone, one is as fast.
            "train.warmup=0", "train.tracker=null", "train.cpu_threads=1",
            f"train.output_dir={folder / 'run'}", f"train.data_dir={folder / 'cache'}",
            *overrides,
        ])

    return make


@pytest.fixture(scope="session")
def small_config_under(tiny_backbone):
    """small_config_under(folder): small_config's make for runs under `folder`, for fixtures
    wider than one test."""
    return lambda folder: small_config_in(tiny_backbone, folder)


@pytest.fixture
def small_config(tiny_backbone, tmp_path):
    """A config for a few-second run: 4x4 Sudoku, tiny BERT, tiny reasoner."""
    return small_config_in(tiny_backbone, tmp_path)


@pytest.fixture
def held_by_another_process():
    """hold(file, then=...): a block during which another process holds the lock `file`
    (hybrid.lock) while it runs the Python `then`, letting go when that ends; the process is
    killed (SIGKILL) when the block ends, whatever it was doing."""

    @contextmanager
    def hold(file, then: str = "time.sleep(60)"):
        script = ("import time\nfrom pathlib import Path\nfrom hybrid.lock import locked\n"
                  f"with locked(Path({str(file)!r})):\n    print('held', flush=True)\n{textwrap.indent(then, '    ')}\n")
        holder = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True,
                                  env=os.environ | {"PYTHONPATH": os.pathsep.join(sys.path)})
        try:
            assert holder.stdout.readline() == "held\n"
            yield
        finally:
            holder.kill()
            holder.wait()

    return hold


@pytest.fixture
def launch():
    """launch(script, *args): `accelerate launch` of `script` in two real DDP processes on the CPU
    (gloo), fresh ones (a fork of a process that already ran torch's thread pool can hang in its
    first matmul); `--cpu` alone would silently run one. The run must succeed; returns what it wrote
    (stdout and stderr, as one string)."""

    def run(script, *args):
        root = Path(__file__).resolve().parent.parent
        env = os.environ | {"ACCELERATE_USE_CPU": "1", "PYTHONPATH": str(root), "OMP_NUM_THREADS": "1"}
        # A free port, not accelerate's fixed 29500 (two test runs at once would join each other). Picked
        # here: accelerate takes port 0 to mean "pick one" only since 1.7; before, it hands 0 to
        # torchrun and both processes wait for each other forever.
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        proc = subprocess.run([sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", "2",
                               "--num_machines", "1", "--main_process_port", str(port), "--mixed_precision", "no",
                               "--dynamo_backend", "no", str(script), *map(str, args)],
                              cwd=root, env=env, capture_output=True, text=True, timeout=600)
        assert proc.returncode == 0, proc.stderr[-3000:]
        return proc.stdout + proc.stderr

    return run


class EndedAtOnce(BaseException):
    """Stands for SIGTERM's and SIGHUP's default, which ends the process at once (the test run with it)."""


@pytest.fixture
def signals_as_in_a_terminal():
    """The signals' handlers as a command in a terminal starts with, however pytest was started, restored after:
    SIGINT raising KeyboardInterrupt (from a script with `&`, or under nohup, it starts ignored, and the commands
    rightly keep it ignored, so a Ctrl-C test would see nothing); SIGTERM and SIGHUP ending the process at once
    (nohup ignores SIGHUP), here raising EndedAtOnce, which names the signal that reached them."""
    def ended(signum, frame):
        raise EndedAtOnce(f"{signal.Signals(signum).name} reached the handler from before: the process would have "
                          f"ended at once (silently, losing what it had not saved)")

    wanted = {signal.SIGINT: signal.default_int_handler, signal.SIGTERM: ended}
    wanted |= {signal.SIGHUP: ended} if hasattr(signal, "SIGHUP") else {}
    previous = {signum: signal.signal(signum, handler) for signum, handler in wanted.items()}
    yield
    for signum, handler in previous.items():
        signal.signal(signum, handler)
