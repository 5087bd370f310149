"""The splits record: which puzzle splits a run's weights trained on, so evaluation can leave
their training puzzles out of what it scores."""

from __future__ import annotations

import json
from pathlib import Path

# In a run's folder, copied into each checkpoint and final/ as saved: {"folder": the splits' folder it
# trains on, "earlier": [splits' folders its weights trained on before, oldest first]}. Earlier ones
# come from the run it resumed, on data changed since (an edited file, a task override), or the one it
# started from (train.init_from): their training puzzles may fall in this data's test split.
SPLITS_RECORD = "splits.json"


def recorded_splits(run: Path) -> list[Path]:
    """The splits' folders the weights in `run` trained on, oldest first (SPLITS_RECORD); none for a
    run from before records, or one whose record is damaged."""
    try:
        record = json.loads((Path(run) / SPLITS_RECORD).read_text(encoding="utf-8"))
        earlier, newest = record.get("earlier", []), record["folder"]
    except (OSError, ValueError, KeyError, TypeError, AttributeError):  # none, cut short, or not an object
        return []
    folders = [*earlier, newest] if isinstance(earlier, list) else []
    return [Path(f) for f in folders] if all(isinstance(f, str) for f in folders) else []


def record_splits(run: Path, folder: Path, earlier: list[Path]) -> None:
    """Write `run`'s SPLITS_RECORD: it trains on `folder`, its weights trained on `earlier` before."""
    kept: list[Path] = []
    for f in earlier:  # once each, by name: a folder's name is its content
        if f.name != folder.name and f.name not in {k.name for k in kept}:
            kept.append(f)
    record = {"folder": str(folder), "earlier": [str(f) for f in kept]}
    (run / SPLITS_RECORD).write_text(json.dumps(record), encoding="utf-8")
