"""Device placement, checked on the CPU: training, evaluation and solving run on a pretend
accelerator, and a tensor left on the CPU among the device's tensors is an error, as on a GPU.

The CPU tests run everything on one device, so a `torch.zeros(B)` without `device=`, a buffer
kept as a plain attribute or a CPU index tensor mixed with model outputs passes them and fails
only on a GPU ("Expected all tensors to be on the same device"). Here the trainable model and
the batch are moved to a pretend device: tensors that keep their data on the CPU but report
`device='meta'`, so code that follows `x.device` or `device=` puts what it makes there too,
while whatever is made without them stays a plain CPU tensor. Every operation is checked: one
that gets pretend-device tensors together with CPU tensors of one or more dimensions fails
(0-dim CPU tensors mix with CUDA tensors, so they may here too). The data is real, so `.item()`,
halting and boolean masks run as they do on a GPU, which the bare meta device cannot do.

What this does not see: kernels (numerics, dtype support of a CUDA kernel), autocast (a pretend
device has none), and copies CUDA would accept: it is stricter there, failing on a CPU index
into device tensors, which CUDA accepts at the cost of a copy to the device per use.
"""

from __future__ import annotations

import contextlib
import random
from types import SimpleNamespace

import pytest
import torch
from torch.overrides import TorchFunctionMode
from torch.utils._python_dispatch import TorchDispatchMode, return_and_correct_aliasing
from torch.utils._pytree import tree_flatten, tree_map

PRETEND = torch.device("meta")  # a device every torch build has; the data itself stays on the CPU


class OnDevice(torch.Tensor):
    """A CPU tensor (`.data_`) that says it lives on the PRETEND device."""

    @staticmethod
    def __new__(cls, data: torch.Tensor):
        return torch.Tensor._make_wrapper_subclass(cls, data.shape, strides=data.stride(), dtype=data.dtype,
                                                   storage_offset=data.storage_offset(), device=PRETEND,
                                                   requires_grad=data.requires_grad)

    def __init__(self, data: torch.Tensor):
        self.data_ = data

    __torch_function__ = torch._C._disabled_torch_function_impl

    def tolist(self):  # torch's own tolist refuses tensor subclasses; on a GPU it copies to the host
        host_waits.append("tolist")
        return self.data_.tolist()

    def __repr__(self):
        return f"OnDevice({self.data_!r})"

    @classmethod
    def __torch_dispatch__(cls, func, types, args=(), kwargs=None):
        return run_op(func, args, kwargs or {})


def is_pretend(device) -> bool:
    return device is not None and torch.device(device) == PRETEND


# Operations that make the host wait for the device (a GPU sync) when given device tensors:
# reading a value (.item(), bool(), float()), a copy to the host, and those whose output size
# depends on the data (nonzero, and indexing with a boolean mask, which runs nonzero). A copy
# from the host (torch.tensor(..., device=), .to(device)) waits too unless non_blocking.
VALUE_READS = {torch.ops.aten._local_scalar_dense.default, torch.ops.aten.nonzero.default,
               torch.ops.aten.masked_select.default}
host_waits: list[str] = []  # the waits since pretend_accelerator() was entered, by operation


def waits_for_device(func, args, kwargs) -> bool:
    if func is torch.ops.aten._to_copy.default:
        moved = not isinstance(args[0], OnDevice) and is_pretend(kwargs.get("device"))
        return not is_pretend(kwargs.get("device", PRETEND)) or moved and not kwargs.get("non_blocking")
    if func is torch.ops.aten.copy_.default:
        non_blocking = kwargs.get("non_blocking", len(args) > 2 and args[2])
        return isinstance(args[0], OnDevice) != isinstance(args[1], OnDevice) and not non_blocking
    if func in (torch.ops.aten.index.Tensor, torch.ops.aten.index_put_.default):
        return any(i is not None and i.dtype == torch.bool for i in args[1])
    return func in VALUE_READS


def run_op(func, args, kwargs):
    """`func` on the CPU data, after the device check; results of device inputs stay on the device."""
    leaves, _ = tree_flatten((args, kwargs))
    on_device = [t for t in leaves if isinstance(t, OnDevice)]
    if (on_device or is_pretend(kwargs.get("device"))) and waits_for_device(func, args, kwargs):
        host_waits.append(str(func))
    on_cpu = [t for t in leaves if isinstance(t, torch.Tensor) and not isinstance(t, OnDevice) and t.dim() > 0]
    if any(t.device == PRETEND for t in on_cpu):  # a real, data-less meta tensor: made by a path we do not wrap
        raise AssertionError(f"{func}: a tensor was made on the bare meta device, outside this harness")
    if on_device and on_cpu and func is not torch.ops.aten.copy_.default:  # copy_ between devices is a transfer
        raise RuntimeError(f"Expected all tensors to be on the same device: {func} got CPU tensor(s) of shape "
                           f"{[tuple(t.shape) for t in on_cpu]} with tensors on the accelerator")
    made_there = is_pretend(kwargs.get("device"))  # a factory (or .to) asked for the device
    unwrap = lambda t: t.data_ if isinstance(t, OnDevice) else t  # noqa: E731
    cpu_kwargs = tree_map(unwrap, kwargs) | ({"device": torch.device("cpu")} if made_there else {})
    out = func(*tree_map(unwrap, args), **cpu_kwargs)
    if func is torch.ops.aten._to_copy.default and "device" in kwargs and not made_there:
        return out  # .cpu() / .to("cpu"): a copy to the host
    if not (on_device or made_there):
        return out
    out = tree_map(lambda t: OnDevice(t) if isinstance(t, torch.Tensor) else t, out)
    return return_and_correct_aliasing(func, args, kwargs, out)  # in-place ops and views return their input


class _Dispatch(TorchDispatchMode):
    """Sees factories (torch.zeros, torch.arange ...), which have no tensor argument to dispatch on."""

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        return run_op(func, args, kwargs or {})


class _Constructors(TorchFunctionMode):
    """torch.tensor(data, device=...) fills its tensor below the dispatcher, where the device would
    be the bare meta device (no data): build it on the CPU and move it instead."""

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if func in (torch.tensor, torch.as_tensor) and is_pretend(kwargs.get("device")):
            host_waits.append(f"{func.__name__}(device=)")  # a copy from the host
            return OnDevice(func(*args, **(kwargs | {"device": "cpu"})))
        return func(*args, **kwargs)


@contextlib.contextmanager
def pretend_accelerator():
    host_waits.clear()
    with _Constructors(), _Dispatch(), _no_autocast_off_on_meta():
        yield PRETEND


@contextlib.contextmanager
def _no_autocast_off_on_meta():
    """torch.autocast(device_type="meta", enabled=False) a no-op, as on a GPU where autocast is
    off: torch has no autocast for meta and raises "unsupported scalarType". transformers 4.x
    asks for it in Llama's rotary embedding; 5.x skips it on meta itself (maybe_autocast)."""
    real = torch.autocast

    def autocast(device_type, *args, **kwargs):
        if device_type == "meta" and kwargs.get("enabled", True) is False:
            return contextlib.nullcontext()
        return real(device_type, *args, **kwargs)

    torch.autocast = autocast
    try:
        yield
    finally:
        torch.autocast = real


def to_pretend(module: torch.nn.Module) -> torch.nn.Module:
    """`module.to(device)` for the pretend device: every parameter and buffer becomes an OnDevice."""
    return module._apply(lambda t: OnDevice(t.detach()) if not isinstance(t, OnDevice) else t)


def on_device(t):
    return OnDevice(t) if isinstance(t, torch.Tensor) else t


# --- the harness checks itself ----------------------------------------------------------------

def test_the_pretend_device_catches_a_stray_cpu_tensor_and_lets_correct_code_run():
    with pretend_accelerator() as device:
        x = on_device(torch.randn(4, 3))
        rows = torch.arange(4, device=device)
        assert x.device == device and rows.device == device
        assert (x[rows] + torch.zeros(3, device=x.device) * torch.tensor(2.0)).cpu().tolist() == x.cpu().tolist()
        assert torch.tensor([1.0, 2.0], device=device).sum().item() == 3.0  # made on the CPU, moved: data kept
        with pytest.raises(RuntimeError, match="same device"):
            x + torch.zeros(3)  # no device=: made on the CPU
        with pytest.raises(RuntimeError, match="same device"):
            x[torch.arange(4)]  # a CPU index into device tensors (CUDA would copy it over; we say so)
        host_waits.clear()
        x[x[:, 0] > 0], x.sum().item(), x.tolist(), x[rows], torch.full((), 2.0, device=device) * x
        torch.tensor(2.0, device=device), torch.ones(2).to(device), torch.ones(2).to(device, non_blocking=True)
        assert host_waits == ["aten.index.Tensor", "aten._local_scalar_dense.default", "tolist", "tensor(device=)",
                              "aten._to_copy.default"]  # an index, a fill and a non-blocking copy are none


# --- the project on the pretend device -------------------------------------------------------

@pytest.fixture(autouse=True)
def seeded():
    torch.manual_seed(0)  # the same weights, so the same samples halt, whichever tests ran before


def tiny_config(*overrides: str, task: tuple[str, ...] = ("task=sudoku", "task.size=4")):
    from hybrid.config import load_config

    return load_config([*task, "backbone.path=chars:1", "reasoner.hidden=16", "reasoner.n=2", "reasoner.T=2",
                        "reasoner.N_sup=3", "train.halt=true", "train.tracker=null", *overrides])


def halting_half(model, batch: tuple | None = None) -> None:
    """A halting head that stops some samples at each step (q_halt > 0), so the steps that drop
    halted samples from the batch run too: about half of `batch` at the first step."""
    torch.nn.init.normal_(model.reasoner.halt_head.weight, std=10.0)
    torch.nn.init.zeros_(model.reasoner.halt_head.bias)
    if batch is not None:
        states, mask, token_slot, labels, _ = batch
        start = model.initial_carry(*labels.shape, "cpu")
        with torch.no_grad():
            q_halt = model(*model.read(states.float(), mask, token_slot.long()), start.y, start.z).q_halt
            # Between the two middle samples (median() would take one of them, leaving it at exactly
            # 0, where the last bit of the device's arithmetic decides whether it halts).
            model.reasoner.halt_head.bias -= q_halt.quantile(0.5)


def synthetic_batch(size: int, tokens: int, hidden: int, slots: int, classes: int) -> tuple:
    """(states, mask, token_slot, labels, index) as the loader gives a batch of cached states."""
    g = torch.Generator().manual_seed(0)
    token_slot = torch.randint(-1, slots, (size, tokens), generator=g)
    token_slot[:, :slots] = torch.arange(slots)  # every slot has a token
    mask = torch.ones(size, tokens, dtype=torch.bool)
    mask[::2, -2:] = False  # padding
    return (torch.randn(size, tokens, hidden, generator=g).half(), mask, token_slot.short(),
            torch.randint(0, classes, (size, slots), generator=g), torch.arange(size))


def supervise_on_the_device(*overrides: str):
    """hybrid.supervision.supervise as train.py calls it on a GPU: model, EMA and batch on the
    device, halting on (about half the samples leave at the first step), clipping, the EMA update.
    Returns the stats and the model and EMA (still on the device)."""
    from accelerate import Accelerator
    from transformers import get_scheduler

    from eval.tasks import make_task
    from hybrid.ema import make_ema
    from hybrid.model import HybridModel
    from hybrid.supervision import supervise

    config = tiny_config("train.grad_clip=1.0", *overrides)
    task = make_task(config.task)
    model = HybridModel(config, 8, task.num_slots, len(task.vocab))
    batch = synthetic_batch(8, 20, 8, task.num_slots, len(task.vocab))
    halting_half(model, batch)
    with pretend_accelerator():
        model = to_pretend(model)
        ema = make_ema(model, 0.999)
        optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
        stats = supervise(model, tuple(map(on_device, batch)), optimizer, get_scheduler("constant", optimizer), ema,
                          Accelerator(cpu=True), config)
    return stats, model, ema


@pytest.mark.parametrize("adapter, mixer, grad_accum", [("span_pool", "mlp", 1), ("query_attention", "attention", 2)])
def test_supervision_runs_on_the_accelerator(adapter, mixer, grad_accum):
    stats, model, ema = supervise_on_the_device(f"adapter.kind={adapter}", f"reasoner.mixer={mixer}",
                                                f"train.grad_accum={grad_accum}")
    assert all(p.device == PRETEND for p in [*model.parameters(), *ema.module.parameters()])
    assert stats["steps"] >= 2 and 0 < stats["work"] < 1  # some samples halted, some ran on
    assert all(isinstance(v, (int, float)) for v in stats.values())


def test_adamw_is_fused_only_on_a_device_that_has_the_kernel():
    """AdamW(fused=True) builds anywhere and fails at its first step on a device without the fused
    kernel (XLA, for one; meta here). The optimizer training makes steps on such a device, unfused,
    and is fused on the CPU, which has the kernel."""
    from hybrid.supervision import make_optimizer

    config = tiny_config()
    assert make_optimizer(torch.nn.Linear(3, 2), config, torch.device("cpu")).defaults["fused"]
    model = torch.nn.Linear(3, 2, device="meta")
    optimizer = make_optimizer(model, config, torch.device("meta"))
    for p in model.parameters():
        p.grad = torch.zeros_like(p)
    optimizer.step()
    assert not optimizer.defaults["fused"]


def test_training_resumes_on_the_accelerator():
    """--resume as Accelerate's load_state does it: AdamW's moments, saved from the device and read
    back on the host (map_location="cpu"), are loaded into an optimizer whose parameters are on the
    device, and training goes on there, the EMA averaging on. (Weights are loaded on the host here,
    before the move: copying into a pretend device's parameters is a no-op, while on a GPU it is a
    plain copy, with nothing to place.)"""
    from accelerate import Accelerator
    from transformers import get_scheduler

    from eval.tasks import make_task
    from hybrid.ema import make_ema
    from hybrid.model import HybridModel
    from hybrid.supervision import make_optimizer, supervise

    config = tiny_config()
    task = make_task(config.task)
    batch = synthetic_batch(8, 20, 8, task.num_slots, len(task.vocab))
    models = [HybridModel(config, 8, task.num_slots, len(task.vocab)) for _ in range(2)]  # trained, resumed
    halting_half(models[0], batch)

    def train(model, saved: list | None = None) -> tuple:
        """supervise one batch on the device, first loading `saved`; returns the stats, the optimizer,
        the EMA and their states as a checkpoint holds them (on the host)."""
        ema = make_ema(model, 0.999)
        if saved:
            model.load_state_dict(saved[0])
            ema.load_state_dict(saved[2])
        model, ema = to_pretend(model), to_pretend(ema)
        optimizer = make_optimizer(model, config, PRETEND)  # unfused: no device but a real one has the kernel
        if saved:
            optimizer.load_state_dict(saved[1])  # the moments follow their parameters onto the device
        stats = supervise(model, tuple(map(on_device, batch)), optimizer, get_scheduler("constant", optimizer), ema,
                          Accelerator(cpu=True), config)
        host = [tree_map(lambda t: t.cpu() if isinstance(t, torch.Tensor) else t, obj.state_dict())
                for obj in (model, optimizer, ema)]
        return stats, optimizer, ema, host

    with pretend_accelerator():
        first, _, _, saved = train(models[0])
        second, optimizer, ema, _ = train(models[1], saved)  # other initial weights, replaced by the saved ones
    assert all(t.device == PRETEND for t in [*optimizer.param_groups[0]["params"], *ema.module.parameters()])
    moments = [state[k] for state in optimizer.state.values() for k in ("exp_avg", "exp_avg_sq")]
    assert moments and all(m.device == PRETEND for m in moments)
    assert int(ema.n_averaged) == first["steps"] + second["steps"]  # averaging went on from where it was


@pytest.mark.parametrize("adapter, sharded", [("span_pool", False), ("query_attention", False), ("span_pool", True)])
def test_evaluation_runs_on_the_accelerator(adapter, sharded):
    """eval.runner.predict as `python -m eval` runs it (the loader's CPU batches moved to the
    device) and as training's periodic evaluation does (`sharded`: Accelerate's loader puts them
    there, the predictions are gathered), the predictions brought back to the host."""
    from accelerate import Accelerator

    from eval.runner import predict, score_predictions
    from eval.tasks import make_task
    from hybrid.model import HybridModel

    config = tiny_config(f"adapter.kind={adapter}")
    task = make_task(config.task)
    model = HybridModel(config, 8, task.num_slots, len(task.vocab))
    halting_half(model)
    data = torch.utils.data.TensorDataset(*synthetic_batch(6, 20, 8, task.num_slots, len(task.vocab)))
    accelerator = Accelerator(cpu=True) if sharded else None
    with pretend_accelerator() as device:
        pred = predict(to_pretend(model), data, 3, batch_size=4, device=device, disable_progress=True,
                       accelerator=accelerator)
    assert all(type(t) is torch.Tensor and t.device.type == "cpu" for t in pred.values())  # back on the host
    assert score_predictions(pred, task)["num_puzzles"] == 6


def tiny_path(tiny_backbone, backbone: str) -> str:
    return backbone if backbone.startswith("chars") else tiny_backbone(backbone)


def live_batch(backbone, task, puzzles: list) -> tuple:
    """(states, mask, token_slot, labels, index) of the puzzles, as solving reads them (on the CPU)."""
    from datasets import Dataset
    from torch.utils.data import default_collate

    from hybrid.cache import LiveStates

    states = LiveStates(backbone, Dataset.from_list([p.to_record() for p in puzzles]), task.num_slots)
    return tuple(default_collate(states.__getitems__(list(range(len(puzzles))))))


def test_the_embedding_cache_is_filled_from_and_read_onto_the_accelerator(tiny_backbone, tmp_path):
    """hybrid.cache.embed_split with the backbone on the device, as training fills the cache: each
    batch's token states come back to the host for the entry (fp16, unpadded), the same as
    embedded on the CPU; evaluation then reads the entry's padded batches onto the device."""
    from eval.runner import predict
    from eval.tasks import make_task
    from hybrid.backbone import load_for
    from hybrid.cache import embed, embed_split
    from hybrid.data import generate_split
    from hybrid.model import HybridModel

    config = tiny_config(f"backbone.path={tiny_backbone('bert')}", "backbone.layer=mean_last_2",
                         "backbone.batch_size=3")
    task = make_task(config.task)
    backbone = load_for(config, task)
    split = generate_split(task, 7, 0, [0], set(), "test")
    on_cpu = embed(backbone, split, show_progress=False)
    model = HybridModel(config, backbone.hidden_size, task.num_slots, len(task.vocab))
    with pretend_accelerator() as device:
        cached = embed_split(to_pretend(backbone), split, task.num_slots, tmp_path, "test")
        assert type(cached.states) is torch.Tensor and cached.token_slot.equal(on_cpu["token_slot"])  # on the host
        # the same states but for the last bit (fp16's is 1e-3 of a value): the device's kernels need
        # not add up in the CPU's order
        assert torch.allclose(cached.states.float(), on_cpu["states"].float(), rtol=2e-3, atol=1e-3)
        pred = predict(to_pretend(model), cached, 2, batch_size=4, device=device, disable_progress=True)
    assert pred["ids"].shape == (7, 2, task.num_slots) and pred["index"].tolist() == list(range(7))


def test_the_reports_backbone_throughput_stops_its_clock_after_the_device_finished(monkeypatch):
    """On a GPU a forward returns once its work is queued: python -m eval's backbone throughput
    must wait for the device (a value read) before it reads the clock, or it times the queuing."""
    import eval.__main__ as cli

    class Queuing:  # a backbone whose forward reads no value back (a BERT's reads one early, at its mask)
        config = SimpleNamespace(batch_size=2)

        def __call__(self, texts):
            return SimpleNamespace(states=torch.ones(len(texts), 3, 4, device=PRETEND) * 2)

        def counting_truncation(self, say):  # what max_length cut, counted silently: none here
            return contextlib.nullcontext()

    clock = iter(range(100))
    monkeypatch.setattr(cli.time, "perf_counter", lambda: host_waits.append("clock") or next(clock))
    with pretend_accelerator():
        cli.backbone_throughput(Queuing(), ["1 2", "3 4", "5 6"])
    assert host_waits == ["clock", "aten._local_scalar_dense.default", "clock"]


@pytest.mark.parametrize("backbone, overrides, fixed_steps", [
    ("chars:1", (), False), ("chars:1", (), True), ("bert", (), False),
    # the character front end's position columns (a buffer moved with it) and trigrams, read by attention
    ("chars", ("adapter.kind=query_attention",), False),
    # the layer choices that hook the backbone's blocks: stopping as a state enters one, the mean of the last k
    ("bert", ("backbone.layer=1",), False), ("bert", ("backbone.layer=mean_last_2",), False),
    ("llama", (), False), ("t5", (), False),
    # LoRA: the solver reads token ids and the backbone runs inside the model, once per batch (LoraHybrid.read)
    ("bert", ("backbone.lora.rank=4",), False),
])
def test_solving_runs_on_the_accelerator(tiny_backbone, backbone, overrides, fixed_steps):
    """Hybrid.solve with the backbone and model on the device, halting puzzles leaving the batch,
    gives what it gives on the CPU; the backbone's token states come from the device, its masks
    and offsets from the tokenizer."""
    from eval.tasks import make_task
    from hybrid.backbone import load_for
    from hybrid.inference import Hybrid
    from hybrid.lora import with_backbone
    from hybrid.model import HybridModel

    config = tiny_config(f"backbone.path={tiny_path(tiny_backbone, backbone)}", *overrides)
    task = make_task(config.task)
    backbone = load_for(config, task)
    rng = random.Random(0)
    puzzles = [task.generate(rng, 0) for _ in range(6)]
    for seed in range(20):  # a model whose halting head stops some puzzles early and lets others run on
        torch.manual_seed(seed)
        model = HybridModel(config, backbone.hidden_size, task.num_slots, len(task.vocab))
        halting_half(model, live_batch(backbone, task, puzzles))
        model = with_backbone(model, backbone, config.backbone)
        on_cpu = Hybrid(model, backbone, task, config).solve(puzzles, fixed_steps=fixed_steps, halt_threshold=0.5)
        if fixed_steps or min(s.steps for s in on_cpu) < 3 == max(s.steps for s in on_cpu):
            break
    # In eval mode, as from_pretrained gives it: transformers (5.25, with `kernels`) re-kernelizes a backbone whose
    # mode changes for its device, which refuses the meta device that stands for an accelerator here
    model.eval()
    with pretend_accelerator():
        solver = Hybrid(to_pretend(model), to_pretend(backbone), task, config)
        solutions = solver.solve(puzzles, fixed_steps=fixed_steps, halt_threshold=0.5)
    assert all(s.error is None and s.answer for s in solutions)
    assert [(s.answer, s.steps) for s in solutions] == [(s.answer, s.steps) for s in on_cpu]
    steps = [s.steps for s in solutions]
    assert steps == [3] * 6 if fixed_steps else min(steps) < 3 == max(steps)


def test_solving_with_views_runs_on_the_accelerator():
    """ARC's solve(views=K): each puzzle asked in K turned and recoloured views, answered together
    on the device (some halting early), the answers brought back, mapped into the puzzle's frame
    and voted over, as on the CPU."""
    from eval.tasks import make_task
    from hybrid.backbone import load_for
    from hybrid.inference import Hybrid
    from hybrid.model import HybridModel

    config = tiny_config(task=("task=arc", "task.max_size=4", "task.wordings=[2]"))  # query attention (auto)
    task = make_task(config.task)
    backbone = load_for(config, task)
    rng = random.Random(0)
    puzzles = [task.generate(rng, 0) for _ in range(3)]
    model = HybridModel(config, backbone.hidden_size, task.num_slots, len(task.vocab), task.aligned_slots)
    views = [view for p in puzzles for view in Hybrid(model, backbone, task, config).ask(p, 4)]
    halting_half(model, live_batch(backbone, task, views))
    on_cpu = Hybrid(model, backbone, task, config).solve(puzzles, views=4, halt_threshold=0.5)
    with pretend_accelerator():
        solutions = Hybrid(to_pretend(model), to_pretend(backbone), task, config).solve(puzzles, views=4,
                                                                                        halt_threshold=0.5)
    assert [(s.answer, s.attempts, s.votes, s.steps, s.views) for s in solutions] == \
           [(s.answer, s.attempts, s.votes, s.steps, s.views) for s in on_cpu]
    assert all(s.error is None and s.views == 4 for s in solutions)
    assert any(len(s.attempts) > 1 for s in solutions)  # views that disagree: a vote with several candidates
    assert 4 < sum(s.steps for s in solutions) < 3 * 4 * 3  # some views halted early, some ran on


@pytest.mark.parametrize("kind", ["bert", "gpt2"])
def test_lora_training_runs_on_the_accelerator(tiny_backbone, kind):
    """backbone.lora: the batch is token ids and the transformer runs inside the trained module."""
    from accelerate import Accelerator
    from transformers import get_scheduler

    from eval.tasks import make_task
    from hybrid.backbone import load_for
    from hybrid.cache import token_split
    from hybrid.data import generate_split
    from hybrid.lora import with_backbone
    from hybrid.model import HybridModel
    from hybrid.supervision import supervise

    config = tiny_config(f"backbone.path={tiny_backbone(kind)}", "backbone.lora.rank=4")
    task = make_task(config.task)
    backbone = load_for(config, task)
    model = HybridModel(config, backbone.hidden_size, task.num_slots, len(task.vocab))
    halting_half(model)
    model = with_backbone(model, backbone, config.backbone)
    ids, mask, token_slot, labels, index = token_split(backbone, generate_split(task, 8, 0, [0], set(), "test"),
                                                       task.num_slots)[:8]
    with pretend_accelerator():
        model = to_pretend(model)
        optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-3)
        batch = tuple(map(on_device, (ids.float(), mask, token_slot, labels, index)))  # the loop casts ids to float
        stats = supervise(model, batch, optimizer, get_scheduler("constant", optimizer), None, Accelerator(cpu=True),
                          config)
    assert stats["steps"] >= 1
    # Dropping the all-padding columns reads the mask once per step, not once per tensor it trims.
    trims = [r for r in host_waits if r in ("aten.nonzero.default", "aten.index.Tensor")]
    assert len(trims) <= stats["steps"] * 2, host_waits  # and one for which samples halted


def test_supervision_waits_for_the_device_once_per_chunk_and_step():
    """Each read of a device value makes the host wait until the GPU has done everything queued,
    so the next kernels cannot be queued while it works. A supervision step needs one per chunk
    (which samples halted: the next step's shapes depend on it) and one for the step (whether any
    loss is non-finite, whether every sample halted: the all-reduced flags, before the update);
    the losses and accuracies for the log are read once, when the batch ends."""
    stats, _, _ = supervise_on_the_device("train.grad_accum=2")
    assert stats["steps"] >= 2
    halting = [r for r in host_waits if r in ("aten.nonzero.default", "aten.index.Tensor")]
    assert len(halting) <= stats["steps"] * 2, host_waits  # one per chunk (train.grad_accum=2) and step
    assert len(host_waits) <= stats["steps"] * (2 + 1) + 1, host_waits  # and one per step, one per batch
