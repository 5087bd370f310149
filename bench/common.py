"""Helpers every bench script shares: timing, memory, machine description, table + JSON output.

Memory on the CPU has no allocator counter like `torch.cuda.max_memory_allocated`, so
`LiveMemory` counts it itself: a dispatch mode that sees every tensor an op returns, adds its
storage's bytes while the storage is alive and keeps the maximum. It counts what tensors hold
(weights, gradients, optimizer state, activations, temporaries), not allocator slack.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import signal
import statistics
import subprocess
import sys
import time
import weakref
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script: python bench/<name>.py
    sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import torch  # noqa: E402
from torch.utils._python_dispatch import TorchDispatchMode  # noqa: E402
from torch.utils._pytree import tree_leaves  # noqa: E402

from eval.runner import exact  # noqa: E402
from hybrid.solve import positive  # noqa: E402, F401  (the bench scripts' argparse types are all here)

RESULTS = ROOT / "bench" / "results"
SCRATCH = ROOT / "runs" / "bench"  # runs/ is git-ignored
# The arguments a bench's published figures (bench/results/<name>.json, its "command") were made with, where they are
# not its defaults: a run with these writes there by default, and run_all passes them. tests/test_bench.py checks that
# each published JSON's own command counts as published, so this cannot drift from the figures unseen.
PUBLISHED_ARGS = {
    "vs_reference": ["--threads", "1", "--speed-batches", "20"],
    "cache_layout": ["--batches", "40"],
    "puzzle_suite": ["--threads", "1", "train.cpu_threads=1"],
    "main_job": ["--fresh-cache"],
    "test_time_compute": ["--run", "runs/default"],
    "early_exit": ["runs/default"],
    "gpu_check": ["--device", "cuda", "--budget-seconds", "360", "--grace", "60"],
}


def results_path(name: str, parser: argparse.ArgumentParser, args: argparse.Namespace,
                 same_figures: tuple[str, ...] = ()) -> Path:
    """Where a bench writes its JSON when no --out is given. bench/results/<name>.json holds the published figures
    (docs/performance.md is rendered from them, tests pin them): only a run whose every option is as they were made
    (PUBLISHED_ARGS[name], else the parser's defaults) writes there. Any other setting (a subset, another size, time
    limit or seed, an override) goes to runs/bench/<name>.json, untracked. `same_figures` names the options that do
    not change the figures (folders, a note), compared with nothing; --out is never compared."""
    published = vars(parser.parse_args(PUBLISHED_ARGS.get(name, [])))
    differs = [dest for dest, value in published.items()
               if dest not in ("out", *same_figures) and getattr(args, dest, value) != value]
    return (SCRATCH if differs else RESULTS) / f"{name}.json"


def run_named(path: str | Path) -> str:
    """A run folder as results_path compares it with PUBLISHED_ARGS: "runs/default" for the checkout's, however it
    is spelt; any other by its absolute path. From another folder `runs/default` is that folder's run (where
    hybrid/train.py run there saves by default), not the one the published figures are of."""
    path = Path(path).expanduser().resolve()
    return "runs/default" if path == (ROOT / "runs" / "default").resolve() else str(path)


def written(path: str | Path) -> str:
    """`path` as a bench's last line names it: one in runs/bench/ says it is not the published figures, so nobody
    takes it for them or looks for it in bench/results/."""
    path = Path(path)
    if path.parent != SCRATCH:
        return str(path)
    return (f"{path} (settings other than bench/results/{path.name}'s, which it leaves as they are; "
            f"--out bench/results/{path.name} to replace them)")


def at_least_zero(value: str) -> int:
    """argparse type for a count where 0 means something (none, or all); a negative one means nothing.
    Counts that must be >= 1 take `positive` (hybrid.solve's, imported above)."""
    if not value.lstrip("-").isdigit() or int(value) < 0:
        raise argparse.ArgumentTypeError(f"{value!r} is not a whole number >= 0")
    return int(value)


def duration(value: str) -> float:
    """argparse type for a duration: a number > 0 (0 or less would time or train nothing)."""
    if not 0 < _number(value) < math.inf:
        raise argparse.ArgumentTypeError(f"{value!r} is not a number > 0")
    return float(value)


def duration_or_zero(value: str) -> float:
    """argparse type for a duration where 0 means something (none: at once); a negative one means nothing."""
    if not 0 <= _number(value) < math.inf:
        raise argparse.ArgumentTypeError(f"{value!r} is not a number >= 0")
    return float(value)


def fraction(value: str) -> float:
    """argparse type for a fraction such as an accuracy: a number in [0, 1] (nan, below 0 or above 1
    would be reached at once or never)."""
    if not 0 <= _number(value) <= 1:
        raise argparse.ArgumentTypeError(f"{value!r} is not a number in [0, 1]")
    return float(value)


def _number(value: str) -> float:
    try:
        return float(value)
    except ValueError:
        return math.nan


def device_name(value: str) -> str:
    """argparse type for --device: one this machine has (hybrid.inference.device_for's check), else
    an error naming it, not torch's traceback from inside the bench."""
    from hybrid.config import ConfigError
    from hybrid.inference import device_for

    try:
        device_for(value)
    except ConfigError as err:
        raise argparse.ArgumentTypeError(str(err)) from None
    return value


def json_out(value: str) -> str:
    """argparse type for --out, checked before any slow work: a folder there, or a file where its
    folder must be, was an OSError traceback when the figures were written, after minutes of work."""
    path = Path(value).expanduser()
    if path.is_dir():
        raise argparse.ArgumentTypeError(f"{value!r} is a folder; give a file path, e.g. {path / 'results.json'}")
    where = path.parent
    while not where.exists() and where != where.parent:  # the folder write_json creates, or the one it starts in
        where = where.parent
    if not where.is_dir():
        raise argparse.ArgumentTypeError(f"{value!r}: {where} is a file, not a folder; give a path in a folder")
    if not os.access(where, os.W_OK | os.X_OK):
        raise argparse.ArgumentTypeError(f"{value!r}: {where} is not writable; give a path you can write to")
    return value


def heads_divide(parser: argparse.ArgumentParser, args, flag: str, widths: list[int]) -> None:
    """With `--mixer attention`, `--heads` must divide each width `flag` names: else an argparse error
    naming both, before any slow work, not the attention net's ValueError when that width's turn came."""
    for width in widths:
        if args.mixer == "attention" and width % args.heads:
            parser.error(f"--heads {args.heads} must divide {flag} {width} (attention mixer)")


def built_first(parser: argparse.ArgumentParser, flag: str, items, build) -> dict:
    """{item: build(item)} for every item named by `flag`, all before any slow work: a bad one is an
    argparse error naming it, not a traceback when its turn comes, after the ones before it ran."""
    from eval.tasks import PuzzleError
    from hybrid.config import ConfigError

    built = {}
    for item in items:
        try:
            built[item] = build(item)
        except (ConfigError, PuzzleError) as err:
            parser.error(f"{flag} {item}: {err}")
    return built


def config_checked(parser: argparse.ArgumentParser, overrides: list[str], given: list[str]):
    """The config `overrides` make (the script's own and `given`, the user's), loaded before a bench
    launches hybrid/train.py: a misspelt key or a value nothing can run with is an argparse error
    naming it, not the launched run's failure and a traceback."""
    from hybrid.config import ConfigError, load_config

    try:
        return load_config(overrides)
    except ConfigError as err:
        parser.error(f"{' '.join(given)}: {err}")


def backbone_overrides(name: str) -> list[str]:
    """The overrides a bench's backbone name stands for: a preset (configs/backbone/<name>.yaml),
    else backbone.path (a hub id, a folder, pypi:<module> or tiny:<kind>)."""
    from hybrid.config import CONFIG_DIR

    return [f"backbone={name}"] if (CONFIG_DIR / "backbone" / f"{name}.yaml").exists() else [f"backbone.path={name}"]


def backbone_config(name: str):
    """The backbone section for a bench's backbone name, checked as far as it can be without
    loading, so a typo fails before any work (with built_first): a name close to a preset's is
    that preset misspelt (a hub model is named by its full id, org/name), and a package or folder
    named must be there. Hub ids are passed on: only loading can tell them."""
    import difflib

    from hybrid.backbone_files import resolve_path, written_as_path
    from hybrid.config import ConfigError, load_config, presets

    overrides = backbone_overrides(name)
    looks_like_preset = not (written_as_path(name) or "/" in name or ":" in name) and difflib.get_close_matches(
        name.lower(), presets("backbone"), n=1, cutoff=0.8)
    if looks_like_preset and overrides[0].startswith("backbone.path=") and not os.path.exists(name):
        try:
            load_config([f"backbone={name}"])  # says "no backbone preset ...; available: ..."
        except ConfigError as err:
            raise ConfigError(f"{err}; a hub model is named by its full id (org/name)") from None
    config = load_config(overrides).backbone
    if not config.path.startswith("tiny:"):  # tiny: builds its model here (its kind is checked by load_config)
        resolve_path(config.path)  # pypi:<module> not installed, a folder written as a path that is not there
    return config


def setup(device: str = "cpu", threads: int | None = 2, seed: int = 0) -> torch.device:
    if threads:
        torch.set_num_threads(threads)
    torch.manual_seed(seed)
    return torch.device(device)


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def median_ms(fn: Callable[[], object], device: torch.device, warmup: int = 2, iters: int = 5) -> dict:
    """Median (and min/max) wall time of `fn` in milliseconds, after `warmup` untimed calls."""
    for _ in range(warmup):
        fn()
    sync(device)
    times = []
    for _ in range(iters):
        start = time.perf_counter()
        fn()
        sync(device)
        times.append((time.perf_counter() - start) * 1000)
    return {"median_ms": statistics.median(times), "min_ms": min(times), "max_ms": max(times), "iters": iters}


class LiveMemory(TorchDispatchMode):
    """Current and peak bytes of live tensor storages created inside the mode (plus `track`ed ones)."""

    def __init__(self):
        super().__init__()
        self.sizes: dict[int, int] = {}
        self.current = self.peak = 0

    def track(self, *tensors) -> None:
        for t in tree_leaves(tensors):
            if not isinstance(t, torch.Tensor) or t.device.type == "meta":
                continue
            storage = t.untyped_storage()
            key = id(storage)  # one Python object per storage, kept while the storage lives
            if key in self.sizes:
                continue  # a view of a storage already counted
            self.sizes[key] = storage.nbytes()
            self.current += self.sizes[key]
            self.peak = max(self.peak, self.current)
            weakref.finalize(storage, self._free, key)

    def _free(self, key: int) -> None:
        self.current -= self.sizes.pop(key, 0)

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        self.track(out)
        return out


def peak_bytes(fn: Callable[[], object], device: torch.device, existing=()) -> int:
    """Peak bytes held by tensors while `fn` runs: CUDA allocator peak, or `LiveMemory` on the
    CPU with `existing` (weights, optimizer state, inputs) counted from the start."""
    if device.type == "cuda":
        sync(device)
        torch.cuda.reset_peak_memory_stats(device)
        fn()
        sync(device)
        return torch.cuda.max_memory_allocated(device)
    memory = LiveMemory()
    memory.track(list(existing))
    with memory:
        fn()
    return memory.peak


def saved_tensor_bytes(fn: Callable[[], object], exclude=()) -> int:
    """Bytes autograd saves for the backward pass while `fn` runs its forward: the activation
    memory. A storage saved several times counts once; `exclude` (the weights) not at all."""
    skip = {t.untyped_storage().data_ptr() for t in exclude}
    seen: dict[int, int] = {}

    def pack(t: torch.Tensor):
        storage = t.untyped_storage()
        if storage.data_ptr() not in skip:
            seen.setdefault(storage.data_ptr(), storage.nbytes())
        # Not `t` itself: a saved output would then hold its own grad_fn, a cycle through
        # autograd's C++ graph that gc cannot see, and every call leaked the forward's activations
        # (on an H200, bench/reasoner_step.py's peaks grew by them from one measurement to the next).
        return t.detach()

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        fn()
    return sum(seen.values())


def machine() -> dict:
    """Where a figure was measured: what docs/performance.md prints beside each table."""
    info = {"platform": platform.platform(), "python": platform.python_version(), "torch": torch.__version__,
            "cpu_count": os.cpu_count(), "torch_threads": torch.get_num_threads(), "processor": _cpu_name()}
    if hasattr(os, "getloadavg"):
        info["load_average_1min"] = round(os.getloadavg()[0], 2)  # > cores: timings are contended
    if torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name(0)
    return info


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def write_json(name: str, payload: dict, out: str | None = None, argv: list[str] | None = None) -> Path:
    """Write `payload` with the command that produced it (`argv`: the script's arguments, when
    called from Python) and the machine it ran on."""
    path = Path(out) if out else RESULTS / f"{name}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    arguments = sys.argv[1:] if argv is None else argv
    payload = {"bench": name, "command": " ".join(["python", f"bench/{name}.py", *arguments]),
               "machine": machine(), **payload}
    from hybrid.checkpoint import write_text

    write_text(path, json.dumps(payload, indent=2))  # through a temporary file: a failed write leaves the old figures
    return path


def partial_path(name: str, out: str | None) -> Path:
    """Where a bench stopped partway writes what it finished: beside its JSON, never over it (a complete
    run's figures, which docs/performance.md is rendered from, would be lost)."""
    path = Path(out) if out else RESULTS / f"{name}.json"
    return path.with_name(f"{path.stem}.partial.json")


def stopped(stop: KeyboardInterrupt) -> tuple[str, int]:
    """What stopped a bench (SIGTERM or Ctrl-C) and the exit status a shell gives a process ended by it.
    train()'s ReportedInterrupt carries its status, as it may have been a SIGTERM."""
    from hybrid.checkpoint import stopped_by
    from hybrid.train import ReportedInterrupt

    if isinstance(stop, ReportedInterrupt) and stop.args:
        return {143: "SIGTERM", 129: "SIGHUP"}.get(stop.args[0], "Ctrl-C"), stop.args[0]
    return stopped_by(stop)


def trained(results: dict) -> dict:
    """train()'s results; where a SIGTERM or Ctrl-C stopped it (it saved its batch and returned), that
    interrupt again: else a bench went on to its next run, recorded this one as failed and exited 0."""
    if results.get("interrupted"):
        from hybrid.checkpoint import HungUp, Terminated

        raise {"SIGTERM": Terminated, "SIGHUP": HungUp}.get(results.get("stopped_by"), KeyboardInterrupt)()
    return results


def write_partial(name: str, payload: dict, out: str | None, argv: list[str] | None, stop: KeyboardInterrupt,
                  during: str, finished: str) -> None:
    """A bench stopped by SIGTERM or Ctrl-C: what it finished goes to <out>.partial.json, marked partial,
    one line says where, and the process exits as a shell reports that signal (130 or 143)."""
    name_of_signal, status = stopped(stop)
    path = partial_path(name, out)
    write_json(name, payload | {"partial": True, "interrupted": f"{name_of_signal} during {during}"}, str(path), argv)
    print(f"\n{name_of_signal}: stopped during {during}; {finished} written to {path}, marked partial "
          f"({path.name.replace('.partial', '')} is left as it was)", file=sys.stderr)
    sys.exit(status)


# Seconds a child stopped by SIGTERM or Ctrl-C gets to end: train.py finishes its batch and saves a checkpoint.
CHILD_GRACE_SECONDS = 60.0


@contextmanager
def child_process(cmd: list[str], what: str, grace: float = CHILD_GRACE_SECONDS, raise_stop: bool = False,
                  **popen) -> Iterator[subprocess.Popen]:
    """`cmd` started in a process group of its own, for the block to wait on. A SIGTERM (`kill`, `timeout`, a
    scheduler: these reach this process alone, not its group as Ctrl-C in a terminal does) or Ctrl-C during the
    block is passed on (`end_group`), the child gets `grace` seconds to end (train.py saves a checkpoint), then
    SIGKILL; one line says what was stopped and this process exits as a shell reports that signal (143 or 130),
    or with `raise_stop` the interrupt is raised again, for a caller that keeps what it finished (write_partial).
    `what` names the child in that line. In a session of its own the child no longer gets a closed terminal's
    SIGHUP, which ended it with this process: sigterm_raises makes a hangup a HungUp, passed on as a SIGTERM
    (and this process's lines to the closed terminal go nowhere, rather than failing: exit 129, not 1)."""
    from hybrid.checkpoint import sigterm_raises, stopped_by

    child = subprocess.Popen(cmd, start_new_session=True, **popen)
    try:
        with sigterm_raises():
            yield child
    except KeyboardInterrupt as stop:
        name_of_signal, status = stopped_by(stop)
        ended = end_group(child, signal.SIGINT if status == 130 else signal.SIGTERM, grace)  # a hangup as SIGTERM
        print(f"\n{name_of_signal}: stopped {what}; {ended}", file=sys.stderr, flush=True)
        if raise_stop:
            raise
        sys.exit(status)
    finally:  # an error in the block: the child does not run on without the process that waits for it
        if child.poll() is None:
            end_group(child, signal.SIGTERM, grace)


def run_child(cmd: list[str], what: str, grace: float = CHILD_GRACE_SECONDS, check: bool = False,
              raise_stop: bool = False, **popen) -> int:
    """`cmd` run to its end in `child_process` (stopped with this process, or with `raise_stop` the interrupt raised
    to the caller); its exit code. `check`: a failure raises CalledProcessError, as subprocess.run(check=True) does."""
    with child_process(cmd, what, grace, raise_stop, **popen) as child:
        code = child.wait()
    if check and code:
        raise subprocess.CalledProcessError(code, cmd)
    return code


def end_group(child: subprocess.Popen, signum: int, grace: float) -> str:
    """`signum` to the child alone, as a launcher that passes it on (accelerate's, since 1.x; a bench script's
    child_process) must be the one to: train.py stopped by a second SIGTERM saves nothing. Once the child has
    ended, what it left running in its group (an `accelerate launch` or bash that ended at once, passing nothing
    on) gets `signum` too; what is left after `grace` seconds, or at once if this process is stopped again, is
    killed. Says how the child ended."""
    from hybrid.checkpoint import sigterm_raises

    start, sent_to_group = time.monotonic(), False
    child.send_signal(signum)
    try:
        with sigterm_raises():
            while group_alive(child) and time.monotonic() - start < grace:
                if child.returncode is not None and not sent_to_group:
                    os.killpg(child.pid, signum)
                    sent_to_group = True
                time.sleep(0.1)
    except (KeyboardInterrupt, ProcessLookupError):  # a second SIGTERM or Ctrl-C: stop at once; or the group ended
        pass
    if not group_alive(child):
        return f"it ended with exit code {child.returncode} after {time.monotonic() - start:.0f} s"
    os.killpg(child.pid, signal.SIGKILL)
    child.wait()
    return f"it was still running after {time.monotonic() - start:.0f} s and was killed"


def group_alive(child: subprocess.Popen) -> bool:
    """Whether any process of the child's group runs (train.py can outlive an `accelerate launch` ended by SIGTERM)."""
    child.poll()  # reaps the child once it ends: a zombie still counts in its group
    try:
        os.killpg(child.pid, 0)
    except ProcessLookupError:
        return False
    return True


def print_table(title: str, columns: list[str], rows: list[list]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title)
    for i, column in enumerate(columns):
        table.add_column(column, justify="left" if i == 0 else "right")
    for row in rows:
        table.add_row(*[_fmt(v) for v in row])
    Console(width=200).print(table)


def exact_accuracy(solutions, puzzles) -> float:
    """The share of `puzzles` (Examples, with their labels) that `Hybrid.solve` answered exactly, as
    evaluation counts it (eval.runner.exact: every scored slot right), not by answer text: a sorting
    answer with two tied numbers' places swapped reads the same and evaluation counts it wrong. A
    vote over views (ARC) has no slots: its answer counts when it is the puzzle's own, as
    eval/voting.py's pass@1 does. An unread puzzle counts wrong."""
    def right(s, p) -> bool:
        if s.ids is None:
            return s.attempts is not None and s.answer == p.answer
        return bool(exact(torch.tensor(s.ids), torch.tensor(p.labels)))

    return sum(right(s, p) for s, p in zip(solutions, puzzles, strict=True)) / len(puzzles)


def _fmt(value) -> str:
    if isinstance(value, float):
        return f"{value:.3g}" if abs(value) < 1000 else f"{value:,.0f}"
    return str(value)


def mib(n_bytes: float) -> float:
    return n_bytes / 2**20
