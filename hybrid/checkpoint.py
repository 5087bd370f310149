"""Checkpoints: Accelerate's save_state (model, EMA, optimizer, scheduler, RNG, progress) plus
the resolved config, written to a temporary folder and renamed into place so a crash while
saving never destroys the last good checkpoint. The frozen backbone is never saved."""

from __future__ import annotations

import shutil
from pathlib import Path

from hybrid.config import Config, to_yaml

PREFIX = "step_"


class CheckpointError(RuntimeError):
    """A checkpoint that cannot be used; the message names the folder or file."""


def checkpoints(output_dir: str | Path) -> list[Path]:
    root = Path(output_dir) / "checkpoints"
    return sorted((p for p in root.glob(f"{PREFIX}*") if p.is_dir() and not p.name.endswith(".tmp")),
                  key=lambda p: int(p.name.removeprefix(PREFIX)))


def save(accelerator, output_dir: str | Path, step: int, config: Config, keep: int = 2) -> Path:
    final = Path(output_dir) / "checkpoints" / f"{PREFIX}{step:08d}"
    tmp = final.with_name(final.name + ".tmp")
    if accelerator.is_main_process:
        shutil.rmtree(tmp, ignore_errors=True)
    accelerator.wait_for_everyone()
    accelerator.save_state(str(tmp))
    accelerator.wait_for_everyone()
    if accelerator.is_main_process:
        (tmp / "config.yaml").write_text(to_yaml(config))
        shutil.rmtree(final, ignore_errors=True)
        tmp.rename(final)
        for old in checkpoints(output_dir)[:-keep] if keep > 0 else []:
            shutil.rmtree(old, ignore_errors=True)
    accelerator.wait_for_everyone()
    return final


def resolve(resume: str, output_dir: str | Path) -> Path:
    """`latest` -> newest checkpoint in output_dir; otherwise the folder given."""
    if resume == "latest":
        found = checkpoints(output_dir)
        if not found:
            raise CheckpointError(f"train.resume=latest but {Path(output_dir) / 'checkpoints'} holds no checkpoint")
        return found[-1]
    path = Path(resume)
    if not path.is_dir():
        raise CheckpointError(f"checkpoint folder {path} does not exist")
    return path


def load(accelerator, path: Path) -> None:
    try:
        accelerator.load_state(str(path))
    except Exception as err:  # torch/safetensors raise many types for a damaged file
        raise CheckpointError(f"checkpoint {path} is unreadable ({type(err).__name__}: {str(err).splitlines()[0][:200]}). "
                              f"Delete it to resume from an older one in {path.parent}, or start afresh.") from None
