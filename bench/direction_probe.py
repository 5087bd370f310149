"""Can a front end's pooled phrase states tell ascending from descending for phrases never
trained on? A linear probe on the sorting task's direction slot, per front end.

    python bench/direction_probe.py                           # MiniLM and the character front end, ~1 min
    python bench/direction_probe.py --backbones minilm smollm2 chars --samples 24

For every (ascending, descending) phrase pair of the sorting wordings, puzzles are rendered with
random numbers and the direction slot's tokens are mean-pooled, as span pooling does in
training. A logistic regression (standardised features, L2) is fitted on the phrases of the
trained wordings (configs/task/sorting.yaml: 0-3) and tested on those of the held-out ones (4-5,
whose direction words never occur in a trained phrase). A phrase counts as read when most of
its puzzles are classified right. This isolates what the front end offers from how training
uses it: the suite (bench/puzzle_suite.py) measures the trained models.
The JSON goes to bench/results/direction_probe.json only at the published figures' settings, else to
runs/bench/direction_probe.json (`--out` anywhere): bench/README.md.
"""

from __future__ import annotations

import argparse
import random

from common import (at_least_zero, backbone_config, built_first, json_out, positive, print_table, results_path, setup,
                    write_json, written)

import torch  # noqa: E402

from eval.tasks.sorting import WORDINGS, Sorting  # noqa: E402
from hybrid.backbone import load_backbone  # noqa: E402
from hybrid.cache import token_slots  # noqa: E402
from hybrid.config import load_config  # noqa: E402


def pooled_phrases(backbone, task: Sorting, wordings: list[int], samples: int, rng: random.Random):
    """(features, is_descending, phrase) for `samples` puzzles per phrase of `wordings`."""
    features, labels, names = [], [], []
    for wording in wordings:
        for index, pair in enumerate(WORDINGS[wording][1]):
            for descending in (False, True):
                examples = [task.example([rng.randint(task.low, task.high) for _ in range(task.length)], wording,
                                         descending, phrase=index) for _ in range(samples)]
                encoded = backbone([e.question for e in examples])
                for b, example in enumerate(examples):
                    direction = token_slots(encoded.offsets[b], example.slot_spans) == 0  # slot 0, as training maps it
                    features.append(encoded.states[b][direction].float().mean(0))
                labels += [float(descending)] * samples
                names += [pair[int(descending)]] * samples
    return torch.stack(features), torch.tensor(labels), names


def probe(train, test, weight_decay: float = 1e-3, iterations: int = 500) -> list[bool]:
    """Logistic regression on `train`; which `test` rows it classifies right."""
    (x, y), (x_test, y_test) = train, test
    mean, std = x.mean(0), x.std(0) + 1e-4
    w = torch.zeros(x.shape[1], requires_grad=True)
    bias = torch.zeros(1, requires_grad=True)
    optimizer = torch.optim.Adam([w, bias], lr=1e-2)
    for _ in range(iterations):
        logits = (x - mean) / std @ w + bias
        loss = torch.nn.functional.binary_cross_entropy_with_logits(logits, y) + weight_decay * w.square().sum()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    with torch.no_grad():
        return (((x_test - mean) / std @ w + bias > 0).float() == y_test).tolist()


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backbones", nargs="+", default=["minilm", "chars"],
                        help="presets (configs/backbone) or paths; chars is the backbone-off front end")
    parser.add_argument("--samples", type=positive, default=12, help="puzzles per phrase and direction")
    parser.add_argument("--threads", type=at_least_zero, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=json_out, help="JSON path (default: see bench/README.md)")
    args = parser.parse_args(argv)
    # threads change the time it takes, not what the probe reads
    out = args.out or results_path("direction_probe", parser, args, same_figures=("threads",))
    configs = built_first(parser, "--backbones", args.backbones, backbone_config)
    setup("cpu", args.threads, args.seed)
    task_config = load_config(["task=sorting"]).task
    task = Sorting(task_config.length, task_config.low, task_config.high)
    trained = list(task_config.wordings)
    held_out = [w for w in range(len(WORDINGS)) if w not in trained]

    results, rows = {}, []
    for name in args.backbones:
        backbone = load_backbone(configs[name], slots_placed=True).eval()  # as training builds it for span pooling
        rng = random.Random(args.seed)
        with torch.no_grad():
            x, y, _ = pooled_phrases(backbone, task, trained, args.samples, rng)
            x_test, y_test, names = pooled_phrases(backbone, task, held_out, args.samples, rng)
        right = probe((x, y), (x_test, y_test))
        per_phrase = {}
        for phrase, ok in zip(names, right):
            per_phrase.setdefault(phrase, []).append(ok)
        read = {phrase: sum(oks) / len(oks) for phrase, oks in per_phrase.items()}
        results[name] = {"puzzle_accuracy": sum(right) / len(right), "phrases_read": sum(a > 0.5 for a in read.values()),
                         "phrases": len(read), "per_phrase": read}
        missed = ", ".join(p for p, a in read.items() if a <= 0.5) or "-"
        rows.append([name, f"{results[name]['phrases_read']} / {len(read)}", f"{results[name]['puzzle_accuracy']:.3f}",
                     missed])
    print_table(f"Direction of held-out sorting phrases from pooled states (trained on wordings {trained}, "
                f"tested on {held_out})", ["front end", "phrases read", "puzzles right", "missed"], rows)
    payload = {"trained_wordings": trained, "held_out_wordings": held_out, "samples": args.samples, "results": results}
    print(f"wrote {written(write_json('direction_probe', payload, out, argv))}")
    return payload


if __name__ == "__main__":
    main()
