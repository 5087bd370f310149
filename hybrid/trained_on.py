"""Which backbone states a model's weights were fitted to, so that using them on others is said.

The adapter takes whatever token states it is given, and any backbone of the same width fits
every shape: `python -m eval RUN backbone.layer=0`, a local backbone folder whose weights were
replaced since training, or a hub id that moved to a new commit all load and then score weights
on states they never saw, quietly. So training writes the backbone's fingerprint (what the
embedding cache is keyed by: weights, tokenizer, layer...) as `backbone.json` beside the weights
of each checkpoint and of final/, and evaluation, `hybrid.solve` and a resumed run compare it
with the backbone they load: each difference that changes the states is a warning, and
evaluation's report lists them (`backbone_differs`). A moved folder with the same files is no
difference.

Only a warning: scoring trained weights on another backbone is also a transfer experiment.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

from hybrid.cache_entries import fingerprint

FILE = "backbone.json"


def layers(backbone) -> int | None:
    """Its layer count; None for a front end without layers (the character baseline)."""
    return getattr(backbone, "num_layers", None)


def record_of(backbone) -> dict:
    """What is saved beside weights trained on `backbone`: its fingerprint, and its layer count,
    by which a resume that names the last layer by its index is the same run (the fingerprint,
    the cache's key, leaves the count out: the layer's span says all the states depend on)."""
    return fingerprint(backbone) | ({"num_layers": layers(backbone)} if layers(backbone) is not None else {})


def recorded_layers(folder: Path) -> int | None:
    """The layer count recorded with the weights in `folder`; None for one saved before counts were."""
    count = (read(folder) or {}).get("num_layers")
    return count if isinstance(count, int) else None


def write(folder: Path, record: dict | None) -> None:
    if record is not None:
        (folder / FILE).write_text(json.dumps(record, indent=1), encoding="utf-8")


def read(folder: Path) -> dict | None:
    """The record saved with the weights in `folder`; None for a folder from before records (or
    one whose record is not readable JSON: it only ever produces a warning, never blocks a load)."""
    try:
        record = json.loads((folder / FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) else None


def _files(weights: str) -> dict[str, str]:
    """A local folder's `files:name=digest,...` as {name: digest}."""
    return dict(part.split("=", 1) for part in weights.removeprefix("files:").split(",") if "=" in part)


def differences(trained: dict | None, backbone) -> list[str] | None:
    """How `backbone`'s states differ from those the weights were trained on, one phrase per
    difference ([] for none); None when there is no record to compare with. The id (a path,
    which may move), dtype and max_length are not compared: the same weights give the same
    states, up to rounding or truncation, which warn on their own."""
    from hybrid.backbone import same_layer  # imported here: hybrid.backbone imports hybrid.checkpoint, which imports this

    if trained is None:
        return None
    now, found = fingerprint(backbone), []
    if now.get("identity") != trained.get("identity"):  # the character front end, or another kind than trained on:
        return [f"the front end is {now.get('identity') or now.get('id')}, trained on "  # nothing else compares
                f"{trained.get('identity') or trained.get('id')}"]
    was, weights = trained.get("weights"), now.get("weights")
    # A hub commit and a local folder's files cannot be compared: say nothing rather than guess.
    if isinstance(was, str) and weights and was != weights and was.startswith("files:") == weights.startswith("files:"):
        # Another id as well (init_from or --backbone across models, a folder moved and changed): named, as the
        # revision alone would load a commit of this model, not the one trained on
        other = trained.get("id") if trained.get("id") not in (None, now.get("id")) else None
        if weights.startswith("files:"):
            a, b = _files(was), _files(weights)
            changed = sorted(name for name in a.keys() | b.keys() if a.get(name) != b.get(name))
            found.append(f"the files {', '.join(changed)} of {now['id']} are not those it was trained on"
                         + (f" (those of {other})" if other else ""))
        elif other:
            found.append(f"{now['id']} is at commit {weights[:12]}, trained on {other} at {was[:12]} "
                         f"(backbone.path={other} backbone.revision={was} loads that one)")
        else:
            found.append(f"{now['id']} is at commit {weights[:12]}, trained at {was[:12]} "
                         f"(backbone.revision={was} loads that one)")
    if trained.get("tokenizer") not in (None, now.get("tokenizer")):
        found.append("its tokenizer is not the one trained with (or a newer tokenizers library saves it differently)")
    # A record from before layers were keyed by their span may spell the same one otherwise (-1 for last).
    if trained.get("layer") is not None and not same_layer(str(trained["layer"]), str(now.get("layer")), layers(backbone)):
        found.append(f"backbone.layer is {now.get('layer')}, trained on {trained['layer']}")
    return found


def warn(folder: Path, found: list[str] | None) -> None:
    """A warning naming the `differences` found for the weights in `folder`, if any."""
    if found:
        warnings.warn(f"the weights in {folder} were trained on other backbone states than these: {'; '.join(found)}. "
                      f"What they answer and score here is a transfer, not the model as trained", stacklevel=3)


def check(folder: Path, record: dict | None, backbone) -> list[str] | None:
    """`differences` for the weights in `folder` (`record`: what `read` found there), each one warned about."""
    found = differences(record, backbone)
    warn(folder, found)
    return found
