"""Deep supervision on one batch (TRM): up to N_sup rounds of forward, loss and optimizer step,
each handing its detached latents (y, z) to the next, with samples leaving once they halt."""

from __future__ import annotations

import math
from contextlib import nullcontext

import torch

from eval.tasks import IGNORE
from hybrid.config import Config
from reasoner import Carry, halting_loss, stablemax_cross_entropy


class NonFiniteLoss(FloatingPointError):
    """Raised before the optimizer step, so the weights never take a non-finite update."""


def supervise(model, batch, optimizer, scheduler, ema, accelerator, config: Config) -> dict:
    """Deep supervision on one batch: up to N_sup (forward, loss, optimizer step) rounds.

    A sample whose halting head says stop (q_halt > 0) leaves the batch: later steps neither
    train on it nor compute it, so a batch costs what its samples' halting steps add up to (TRM
    gets the same by refilling halted slots with new puzzles). The loss stays a mean over the
    whole batch, so the update equals masking halted samples out of a full-batch step."""
    states, mask, token_slot, labels, _ = batch
    k = config.train.grad_accum
    inner = accelerator.unwrap_model(model)
    with torch.no_grad():  # pool spans once for all N_sup steps (weight-free, see HybridModel.read)
        chunks = [[*inner.read(s, m, ts), y_true] for s, m, ts, y_true in
                  zip(states.float().chunk(k), mask.chunk(k), token_slot.long().chunk(k), labels.chunk(k))]
    sizes = [c[-1].shape[0] for c in chunks]
    carries = [inner.initial_carry(n, c[-1].shape[1], states.device) for n, c in zip(sizes, chunks)]
    correct_so_far = [torch.zeros(n, dtype=torch.bool, device=states.device) for n in sizes]
    rows = [torch.arange(n, device=states.device) for n in sizes]  # which samples are still supervised
    # Under DDP each process must run the last chunk's backward at every step (it carries the
    # all-reduce), even once all its samples halted: it then passes one of them again at zero
    # weight (an empty batch would not do: attention rejects it). A single process skips it.
    stand_in = [([t[:1] if t is not None else None for t in c], inner.initial_carry(1, c[-1].shape[1], states.device))
                for c in chunks] if accelerator.num_processes > 1 else None
    stats = {"loss": 0.0, "exact_first": 0.0, "exact_last": 0.0, "steps": 0, "work": 0.0}
    for step in range(config.reasoner.N_sup):
        step_loss = 0.0
        for i in range(k):
            (s, m, ts, y_true), carry, weight = chunks[i], carries[i], 1.0
            if len(rows[i]) == 0:
                if stand_in is None or i < k - 1:
                    continue
                ((s, m, ts, y_true), carry), weight = stand_in[i], 0.0
            sync = accelerator.no_sync(model) if i < k - 1 else nullcontext()  # all-reduce once per step
            with sync:
                out = model(s, m, ts, carry.y, carry.z)
                valid = y_true != IGNORE
                ce = stablemax_cross_entropy(out.logits, y_true).sum(1) / valid.sum(1).clamp(min=1)
                correct = ((out.logits.argmax(-1) == y_true) | ~valid).all(1)
                loss = weight * (ce + halting_loss(out.q_halt, correct)).sum() / (sizes[i] * k)
                accelerator.backward(loss)
            if weight == 0.0:
                continue
            step_loss += loss.item()
            correct_so_far[i][rows[i]] = correct
            stats["work"] += len(rows[i]) / (sum(sizes) * config.reasoner.N_sup)
            carries[i] = out.carry
            if config.train.halt:  # drop the samples that halted from everything the next step reads
                keep = out.q_halt.detach() <= 0
                chunks[i] = [t[keep] if t is not None else None for t in chunks[i]]
                carries[i] = Carry(out.carry.y[keep], out.carry.z[keep])
                rows[i] = rows[i][keep]
        # One all-reduce decides for every process, before the update: a non-finite loss anywhere
        # stops the run with the weights untouched, and the loop ends once every sample halted.
        running = any(len(r) > 0 for r in rows)
        flags = accelerator.reduce(torch.tensor([float(running), float(not math.isfinite(step_loss))],
                                                device=states.device), "sum")
        if flags[1] > 0:
            raise NonFiniteLoss(f"the loss became non-finite at supervision step {step + 1} (update not applied)")
        if config.train.grad_clip:
            accelerator.clip_grad_norm_(model.parameters(), config.train.grad_clip)
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad(set_to_none=True)
        if ema is not None:
            ema.update_parameters(inner)
        # exact: the answer each sample had when it halted, or has now if still running
        exact = torch.cat(correct_so_far).float().mean().item()
        stats["loss"] += step_loss
        stats["exact_first" if step == 0 else "exact_last"] = exact
        stats["steps"] += 1
        if config.train.halt and flags[0] == 0:
            break  # every sample on every process has halted
    stats["loss"] /= stats["steps"]
    if stats["steps"] == 1:
        stats["exact_last"] = stats["exact_first"]
    return stats
