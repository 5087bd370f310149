"""The one evaluation runner every task, backbone and baseline goes through.

It runs all N_sup supervision steps on every puzzle (as the TRM reference does) and records
the answer after each step, so one pass yields the recursion curve (accuracy vs test-time
steps), the early-exit answer (the first step whose halting head says stop) and its cost.
"""

from __future__ import annotations

import time

import torch
from accelerate.data_loader import prepare_data_loader
from torch.utils.data import DataLoader, Dataset

from eval.tasks import IGNORE, Example, Task
from eval.voting import vote
from hybrid.progress import progress_bar


class Stopped(Exception):
    """An evaluation ended early by a stop request (`stop`, a checkpoint.GracefulStop): its figures would be
    those of the puzzles it got to, not of the split, so there are none."""

    def __init__(self, done: int, total: int, signal_name: str | None):
        super().__init__(f"stopped by {signal_name} after {done} of {total} puzzles")
        self.done, self.total, self.signal_name = done, total, signal_name


@torch.no_grad()
def predict(model, dataset: Dataset, N_sup: int, batch_size: int = 256, device=None, desc: str = "evaluating",
            disable_progress: bool = False, accelerator=None, stop=None) -> dict[str, torch.Tensor]:
    """Predicted class ids after every supervision step, plus halting logits.

    With an `accelerator`, each process predicts its shard of the dataset and every process
    gets the predictions for all of it (gather_for_metrics drops the padding Accelerate adds
    to even out the last batch). Returns ids (N, N_sup, S), q_halt (N, N_sup), labels (N, S),
    index (N,). With a `stop` (training's GracefulStop), a stop request in any process ends it
    before its next batch, raising Stopped: a periodic evaluation of a large split must not outlast
    a scheduler's grace period, which is for saving the batch."""
    model.eval()
    device = device or next(model.parameters()).device
    loader = DataLoader(dataset, batch_size=batch_size)
    if accelerator is not None:  # the module-level function: unlike accelerator.prepare, it does not
        # register the loader, so checkpoints (save_state) hold the training loader's state only
        loader = prepare_data_loader(loader, device, accelerator.num_processes, accelerator.process_index,
                                     put_on_device=True)
    ids, q_halts, labels, index = [], [], [], []
    stopped = False
    for states, mask, token_slot, label, idx in progress_bar(loader, desc=desc, leave=False, disable=disable_progress):
        # Asked by every process before every batch (each has as many): all of them stop at the same one
        if stop is not None and (stopped := stop.agreed(accelerator)[0]):
            break
        states, mask, token_slot = model.read(states.to(device).float(), mask.to(device), token_slot.to(device).long())
        carry = model.initial_carry(states.shape[0], label.shape[1], device)
        step_ids, step_q = [], []
        for _ in range(N_sup):
            out = model(states, mask, token_slot, carry.y, carry.z)
            carry = out.carry
            step_ids.append(out.logits.argmax(-1))
            step_q.append(out.q_halt.float())
        batch = (torch.stack(step_ids, 1), torch.stack(step_q, 1), label.to(device), idx.to(device))
        if accelerator is not None:
            batch = accelerator.gather_for_metrics(batch)
        for store, t in zip((ids, q_halts, labels, index), batch):
            store.append(t.cpu())
    if stopped:  # after the loop: its bar closed
        raise Stopped(sum(map(len, index)), len(dataset), stop.signal_name)
    return {"ids": torch.cat(ids), "q_halt": torch.cat(q_halts), "labels": torch.cat(labels), "index": torch.cat(index)}


def halt_fired(q_halt: torch.Tensor, threshold: float = 0.9) -> torch.Tensor:
    """Where the halting head says stop: sigmoid(q_halt) above the threshold (reaching it is not enough)."""
    return torch.sigmoid(q_halt) > threshold


def halting_steps(q_halt: torch.Tensor, threshold: float = 0.9) -> torch.Tensor:
    """1-based step at which each puzzle halts: the first where `halt_fired`, else the last."""
    fired = halt_fired(q_halt, threshold)
    first = torch.where(fired.any(1), fired.float().argmax(1), torch.full_like(fired[:, 0], fired.shape[1] - 1, dtype=torch.long))
    return first.long() + 1


def exact(ids: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Whether each answer is exact, as evaluation counts it: every scored slot (label not IGNORE)
    predicted right. By slots, not by the decoded text: a sorting answer with two tied numbers'
    places swapped reads the same and is wrong here. (..., S) ids and labels -> (...)."""
    return ((ids == labels) | (labels == IGNORE)).all(-1)


def score_predictions(pred: dict[str, torch.Tensor], task: Task, examples: list[Example] | None = None,
                      halt_threshold: float = 0.9) -> dict:
    """Exact and cell accuracy per step, early-exit accuracy and compute; with the examples, open-cell
    accuracy per step (the slots the question does not give), verifier and task score, and for a
    family with `undo_view` (ARC), pass@1 and pass@2 of the vote over each puzzle's views, by puzzle
    and by task."""
    ids, labels = pred["ids"], pred["labels"]
    N, steps = ids.shape[:2]
    valid = (labels != IGNORE).unsqueeze(1)  # (N, 1, S)
    right = ids == labels.unsqueeze(1)  # (N, steps, S)
    exact_curve = exact(ids, labels.unsqueeze(1)).float().mean(0)  # (steps,)
    cell_curve = slot_curve(right, valid)
    halt = halting_steps(pred["q_halt"], halt_threshold)
    early = ids[torch.arange(N), halt - 1]  # (N, S) answer at the halting step
    metrics = {
        "exact_accuracy": exact_curve[-1].item(),
        "cell_accuracy": cell_curve[-1].item(),
        "exact_curve": exact_curve.tolist(),
        "cell_curve": cell_curve.tolist(),
        "early_exit_exact_accuracy": exact(early, labels).float().mean().item(),
        "mean_halting_step": halt.float().mean().item(),
        "halting_histogram": torch.bincount(halt, minlength=steps + 1)[1:].tolist(),
        # puzzles whose head never fired; the histogram counts them at the last step
        "never_halted": int((~halt_fired(pred["q_halt"], halt_threshold).any(1)).sum()),
        "num_puzzles": N,
    }
    if examples is not None:
        rows = [examples[i] for i in pred["index"].tolist()]  # the example of each prediction row
        open_cells = valid & ~given_mask(task, rows, labels.shape[1]).unsqueeze(1)
        open_curve = slot_curve(right, open_cells).tolist() if open_cells.any() else None  # None: every slot given
        metrics["open_cell_accuracy"] = open_curve[-1] if open_curve else None
        metrics["open_cell_curve"] = open_curve
        metrics["given_cell_share"] = 1 - (open_cells.sum() / valid.sum().clamp(min=1)).item()
        final = ids[:, -1]
        verdicts, scores, failures, answers = [], [], [], []
        for k, i in enumerate(pred["index"].tolist()):
            answer = None  # stays None for the vote when decoding fails
            try:
                answer = task.decode(examples[i], final[k].tolist())
                # both judged before either is kept: a scorer failing after the verifier passed must
                # leave one verdict per puzzle, not a True and a False
                verdict, score = bool(task.verify(examples[i], answer)), float(task.score(examples[i], answer))
                verdicts.append(verdict)
                scores.append(score)
            except Exception as err:  # families wrap third-party scorers: one bad answer must not lose the run
                verdicts.append(False)
                scores.append(0.0)
                failures.append({"index": i, "error": f"{type(err).__name__}: {str(err)[:300]}"})
            answers.append(answer)
        metrics["verifier_accuracy"] = sum(verdicts) / max(N, 1)
        metrics["task_score"] = sum(scores) / max(N, 1)
        metrics["answer_failures"] = {"count": len(failures), "first": failures[:5]}  # counted as wrong
        metrics["by_wording"] = by_wording(exact(ids[:, -1], labels), [e.wording for e in rows])
        if hasattr(task, "undo_view"):  # a family whose test puzzles may come in several views (ARC)
            confidence = torch.sigmoid(pred["q_halt"][:, -1].float()).tolist()  # at the answering (last) step
            metrics["votes"] = vote(task, rows, answers, confidence)
    return metrics


def slot_curve(right: torch.Tensor, scored: torch.Tensor) -> torch.Tensor:
    """Fraction of the scored slots that are right after each step: right (N, steps, S) and
    scored (N, 1, S) -> (steps,)."""
    return (right & scored).sum((0, 2)).float() / scored.sum().clamp(min=1)


def given_mask(task: Task, examples: list[Example], num_slots: int) -> torch.Tensor:
    """(N, S): True where the question gives the slot's answer (`Task.given_slots`)."""
    given = [task.given_slots(e) for e in examples]
    if any(len(flags) != num_slots for flags in given):
        raise ValueError(f"{type(task).__name__}.given_slots must return one flag per answer slot ({num_slots}), "
                         f"got {sorted({len(flags) for flags in given})}")
    return torch.tensor(given, dtype=torch.bool).reshape(len(examples), num_slots)


def by_wording(is_exact: torch.Tensor, wordings: list[int]) -> dict[str, dict]:
    """Exact accuracy per renderer wording: which phrasings a model reads and which it does not."""
    groups: dict[int, list[int]] = {}
    for row, wording in enumerate(wordings):
        groups.setdefault(wording, []).append(row)
    return {str(w): {"exact_accuracy": is_exact[rows].float().mean().item(), "num_puzzles": len(rows)}
            for w, rows in sorted(groups.items())}


def evaluate(model, dataset: Dataset, task: Task, examples: list[Example] | None, N_sup: int,
             batch_size: int = 256, device=None, desc: str = "evaluating", disable_progress: bool = False,
             accelerator=None, halt_threshold: float = 0.9, stop=None) -> dict:
    """predict + score_predictions; with an `accelerator` the dataset is sharded over processes
    and every process returns the metrics of the whole dataset. `stop`: see predict."""
    start = time.perf_counter()
    pred = predict(model, dataset, N_sup, batch_size, device, desc, disable_progress, accelerator, stop)
    seconds = time.perf_counter() - start
    metrics = score_predictions(pred, task, examples, halt_threshold)
    metrics["puzzles_per_second"] = metrics["num_puzzles"] / max(seconds, 1e-9)
    return metrics
