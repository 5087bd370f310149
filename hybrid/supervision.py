"""Deep supervision on one batch (TRM): up to N_sup rounds of forward, loss and optimizer step,
each handing its detached latents (y, z) to the next, with samples leaving once they halt."""

from __future__ import annotations

import warnings
from contextlib import nullcontext
from dataclasses import dataclass

import torch

from eval.tasks import IGNORE
from hybrid.config import Config
from reasoner import Carry, halting_loss, stablemax_cross_entropy


class NonFiniteLoss(FloatingPointError):
    """Raised before the optimizer step, so the weights never take a non-finite update."""


@dataclass
class Chunk:
    """One gradient-accumulation chunk of the batch, as the supervision steps leave it."""

    inputs: list  # [*HybridModel.read(states, mask, token_slot), labels] of the samples still supervised
    carry: Carry  # their latents (y, z), detached, handed from one step to the next
    rows: torch.Tensor  # their indices in the chunk
    correct: torch.Tensor  # (size,) bool: each sample's answer right when it halted, or now if still running
    size: int  # samples in the chunk at the start: the loss stays a mean over all of them
    stand_in: tuple | None  # (inputs, carry) of one sample, passed at zero weight under DDP once all halted


def supervise(model, batch, optimizer, scheduler, ema, accelerator, config: Config) -> dict:
    """Deep supervision on one batch: up to N_sup (forward, loss, optimizer step) rounds.

    With train.halt (the default), a sample whose halting head says stop (q_halt > 0) leaves the
    batch: later steps neither train on it nor compute it, so a batch costs what its samples'
    halting steps add up to (TRM gets the same by refilling halted slots with new puzzles). The
    loss stays a mean over the whole batch, so the update equals masking halted samples out of a
    full-batch step."""
    k, N_sup = config.train.grad_accum, config.reasoner.N_sup
    inner = accelerator.unwrap_model(model)
    chunks = split_batch(batch, k, inner, accelerator)
    batch_size, device = sum(c.size for c in chunks), batch[0].device
    stats = {"loss": 0.0, "exact_first": 0.0, "exact_last": 0.0, "steps": 0, "work": 0.0}
    computed = 0  # samples supervised, summed over steps and chunks: counted whole, so any grad_accum logs one work
    # Each step's loss and exact accuracy stay on the device until the batch ends: reading a value
    # makes the host wait for everything queued on a GPU (the optimizer step, the EMA) before it
    # can queue the next step's forward, so a step reads only what decides the loop (the flags
    # below) and each chunk which of its samples halted (the next step's shapes depend on it).
    losses, exact = [], []
    for step in range(N_sup):
        step_loss = torch.zeros((), device=device)
        for i, chunk in enumerate(chunks):
            supervised = len(chunk.rows)  # before the samples that halt at this step leave
            loss = forward_backward(model, chunk, i == k - 1, accelerator, config)
            if loss is not None:
                step_loss += loss
                computed += supervised
        # One all-reduce decides for every process, before the update: a non-finite loss anywhere
        # stops the run with the weights untouched, and the loop ends once every sample halted.
        running = torch.full((), float(any(len(c.rows) > 0 for c in chunks)), device=device)  # a fill, no copy
        flags = accelerator.reduce(torch.stack([running, (~step_loss.isfinite()).float()]), "sum")
        running_anywhere, non_finite = flags.tolist()
        if non_finite > 0:
            raise NonFiniteLoss(f"the loss became non-finite at supervision step {step + 1} (update not applied)")
        update(model, optimizer, scheduler, ema, inner, accelerator, config)
        losses.append(step_loss)
        # exact: the answer each sample had when it halted, or has now if still running
        exact.append(torch.cat([c.correct for c in chunks]).float().mean())
        if config.train.halt and running_anywhere == 0:
            break  # every sample on every process has halted
    # The schedule spans N_sup steps a batch (train.steps * N_sup): the steps halting skipped
    # advance it too, with no update, so a decaying schedule ends where training ends. Counting
    # only the updates that ran, it stopped short of its end once puzzles learned to halt. Stepped
    # past Accelerate's wrapper, which steps only after an update the fp16 loss scaler let through:
    # after one it skipped, the wrapper dropped all of these too.
    schedule = getattr(scheduler, "scheduler", scheduler)  # AcceleratedScheduler holds the real one
    for _ in range(N_sup - len(losses)):
        schedule.step()
    total, stats["exact_first"], stats["exact_last"] = torch.stack([sum(losses), exact[0], exact[-1]]).tolist()
    stats["steps"], stats["work"] = len(losses), computed / (batch_size * N_sup)
    stats["loss"] = total / len(losses)
    return stats


def split_batch(batch, k: int, inner, accelerator) -> list[Chunk]:
    """The batch as k accumulation chunks, each read once for all N_sup steps and starting from
    the initial latents."""
    states, mask, token_slot, labels, _ = batch
    if len(states) % k:  # torch.chunk would cut uneven chunks, or fewer than k, and each chunk's loss weighs alike
        raise ValueError(f"a batch of {len(states)} samples does not split into train.grad_accum={k} equal chunks")
    with torch.no_grad():  # pool spans once for all N_sup steps (weight-free, see HybridModel.read)
        inputs = [[*inner.read(s, m, ts), y_true] for s, m, ts, y_true in
                  zip(states.float().chunk(k), mask.chunk(k), token_slot.long().chunk(k), labels.chunk(k))]
    chunks = []
    for part in inputs:
        size, slots = part[-1].shape
        # Under DDP each process must run the last chunk's backward at every step (it carries the
        # all-reduce), even once all its samples halted: it then passes one of them again at zero
        # weight (an empty batch would not do: attention rejects it). A single process skips it.
        stand_in = None
        if accelerator.num_processes > 1:
            stand_in = ([t[:1] if t is not None else None for t in part], inner.initial_carry(1, slots, states.device))
        rows = torch.arange(size, device=states.device)
        chunks.append(Chunk(part, inner.initial_carry(size, slots, states.device), rows,
                            torch.zeros(size, dtype=torch.bool, device=states.device), size, stand_in))
    return chunks


def forward_backward(model, chunk: Chunk, last: bool, accelerator, config: Config) -> torch.Tensor | None:
    """One supervision step on one chunk: forward from its carried latents, loss, backward; then
    the samples that halted leave it. Returns the chunk's share of the batch loss (detached, on
    the device), or None when it trained on nothing (all its samples halted)."""
    inputs, carry, weight = chunk.inputs, chunk.carry, 1.0
    if len(chunk.rows) == 0:
        if chunk.stand_in is None or not last:
            return None
        (inputs, carry), weight = chunk.stand_in, 0.0
    s, m, ts, y_true = inputs
    sync = accelerator.no_sync(model) if not last else nullcontext()  # all-reduce once per step
    with sync:
        out = model(s, m, ts, carry.y, carry.z)
        valid = y_true != IGNORE
        ce = stablemax_cross_entropy(out.logits, y_true).sum(1) / valid.sum(1).clamp(min=1)
        correct = ((out.logits.argmax(-1) == y_true) | ~valid).all(1)
        # A mean over the whole batch, halted samples included: k equal chunks each add 1/k of it.
        loss = weight * (ce + halting_loss(out.q_halt, correct)).sum() / (chunk.size * config.train.grad_accum)
        accelerator.backward(loss)
    if weight == 0.0:
        return None
    chunk.correct[chunk.rows] = correct
    chunk.carry = out.carry
    if config.train.halt:  # drop the samples that halted from everything the next step reads
        # As indices, found once: indexing with the boolean mask would find them again for each
        # tensor below, and each search (nonzero) makes the host wait for the GPU.
        keep = (out.q_halt.detach() <= 0).nonzero().squeeze(1)
        chunk.inputs = [t[keep] if t is not None else None for t in chunk.inputs]
        chunk.carry = Carry(out.carry.y[keep], out.carry.z[keep])
        chunk.rows = chunk.rows[keep]
    return loss.detach()


def make_optimizer(model: torch.nn.Module, config: Config, device: torch.device) -> torch.optim.Optimizer:
    """AdamW over the trainable weights; the fused kernel (one pass over all tensors) where `device`
    has one, since the tiny reasoner's many small tensors make per-tensor updates costly."""
    params = [p for p in model.parameters() if p.requires_grad]
    kwargs = dict(lr=config.train.lr, betas=tuple(config.train.betas), weight_decay=config.train.weight_decay)
    return torch.optim.AdamW(params, fused=has_fused_adamw(device), **kwargs)


def make_scheduler(optimizer: torch.optim.Optimizer, config: Config):
    """train.schedule over the run's optimizer steps, one per supervision step (`update`)."""
    # At least one update past the warm-up: a polynomial decay divides by the updates after it. A run
    # that ends within its warm-up never reaches them, so no schedule changes what it trains with.
    updates, warmup = config.train.steps * config.reasoner.N_sup, config.train.warmup
    if 0 < updates <= warmup and config.train.schedule != "constant":  # "constant" has no warm-up
        # Update k takes (k - 1) / warmup of the rate: a short run to size things trained below it throughout.
        warnings.warn(f"train.warmup={warmup} supervision steps outlast the run (train.steps={config.train.steps} x "
                      f"reasoner.N_sup={config.reasoner.N_sup} = {updates} updates): its last update takes "
                      f"{(updates - 1) / warmup:.0%} of train.lr; raise train.steps or lower train.warmup")
    total_updates = max(updates, warmup + 1)
    from transformers import get_scheduler  # its module imports peft (seconds): `train.py --help` needs none of it

    return get_scheduler(config.train.schedule, optimizer, num_warmup_steps=config.train.warmup,
                         num_training_steps=total_updates)


def has_fused_adamw(device: torch.device) -> bool:
    """Whether a fused AdamW step runs on `device`. Asked with one step on a one-number weight:
    AdamW(fused=True) builds anywhere (the weights are still on the host when it is made) and
    refuses a device without the kernel (XLA, for one) only at its first step."""
    weight = torch.zeros(1, device=device, requires_grad=True)
    weight.grad = torch.zeros_like(weight)
    try:
        torch.optim.AdamW([weight], fused=True).step()
    except RuntimeError:
        return False
    return True


def update(model, optimizer, scheduler, ema, inner, accelerator, config: Config) -> None:
    """The optimizer step that ends each supervision step (clipped, scheduled), and the EMA's."""
    if config.train.grad_clip:
        accelerator.clip_grad_norm_(model.parameters(), config.train.grad_clip)
    optimizer.step()
    scheduler.step()
    optimizer.zero_grad(set_to_none=True)
    if ema is not None:
        ema.update_parameters(inner)
