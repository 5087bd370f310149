"""What a resumed run, or one started from trained weights (train.init_from), may change.

- A resume cannot change the settings the restored optimizer, weights or place in the data
  depend on (`FIXED_ON_RESUME`), nor the task's answer slots and symbols, nor a setting that gives the
  model other parameter shapes (found by hybrid/weight_shapes.py, which also refuses train.init_from
  weights of another shape); backbone.path may name the backbone's folder where it has moved to
  (`moved_backbone`).
- It may change the learning-rate schedule (`SCHEDULE_SETTINGS`): that goes on from the
  checkpoint's place with the new settings, and says how the rate moves (`schedule_on_resume`).
- Settings are quoted as they are typed on the command line (hybrid.config.typed), so a message's
  `key=value` can be given back as it is.
"""

from __future__ import annotations

import dataclasses
import os
import warnings
from pathlib import Path

from hybrid import checkpoint, trained_on
from hybrid.backbone import same_layer
from hybrid.backbone_files import folder_weights, is_local_folder, resolve_path
from hybrid.config import Config, ConfigError, anchored, typed
from hybrid.inference import Saved, read_config
from hybrid.weight_shapes import (lora_shape_changes, setting_shape_changes, task_shape_changes, tensor_shapes,
                                  uses_heads)


def check_init_settings(init: Saved, config: Config) -> None:
    """Weights trained with LoRA on the backbone cannot start a run without it: the tuned backbone
    they were fitted to would be lost (the other way, LoRA starts at zero on a frozen-backbone run's model).
    Under another backbone.lora.alpha they load, and a warning names the scale the run starts at."""
    lora = init.config.backbone.lora
    if lora is not None and config.backbone.lora is None:
        settings = " ".join(f"backbone.lora.{k}={typed(v)}" for k, v in dataclasses.asdict(lora).items())
        raise ConfigError(f"train.init_from={init.folder} was trained with LoRA on its backbone and this config has "
                          f"none, so its tuned backbone would be lost: add {settings}")
    now = config.backbone.lora
    # Another alpha loads (the weights have the same shapes) and moves the start: a warning, not an error,
    # since a fresh start from trained weights is the place to change alpha (a resume refuses it).
    if lora is not None and now is not None and now.alpha != lora.alpha and not lora_shape_changes(lora, now):
        then, here = lora.alpha / lora.rank, now.alpha / now.rank
        warnings.warn(f"train.init_from={init.folder} holds LoRA weights trained with backbone.lora.alpha="
                      f"{typed(lora.alpha)} and this config has backbone.lora.alpha={typed(now.alpha)}: LoRA scales "
                      f"the trained change by alpha / rank, {lora.alpha:g}/{lora.rank} = {then:g} there and "
                      f"{now.alpha:g}/{now.rank} = {here:g} here, so this run starts from that change "
                      f"x{here / then:g}, not from the model they were trained as. To start from that model, set "
                      f"backbone.lora.alpha={typed(lora.alpha)}", stacklevel=2)
    shapes = task_shape_changes(init.config, config, "its run")
    if shapes is not None and not shapes[1]:
        raise ConfigError(f"train.init_from={init.folder} was trained on a task of another shape: {shapes[0]}. Its "
                          f"weights fit only a model of that shape: start from weights trained on a task of this "
                          f"shape, or leave out train.init_from to train new weights")
    check_init_shapes(init, config)


def check_init_shapes(init: Saved, config: Config) -> None:
    """ConfigError naming each adapter or reasoner setting (reasoner.hidden, reasoner.mixer ...) that gives this
    config's model other parameter shapes than train.init_from's weights, beside the value they were trained
    with: found by loading alone, that came after the puzzles were generated and embedded (minutes), in
    load_state_dict's words. A backbone of another width is still found as the weights load (its width is
    known only once it is loaded), as are weights no setting accounts for (another version of the code)."""
    changes = setting_shape_changes(init.config, config, lambda: tensor_shapes(init.weights[0]), "its run")
    if changes:
        values = "that value" if len(changes) == 1 else "those values"
        raise ConfigError(f"train.init_from={init.folder} holds weights of other shapes than the model this config "
                          f"builds: {'; '.join(changes)}. Start from them with {values} (other settings, such as "
                          f"reasoner.T, may change), or leave out train.init_from to train new weights")


def setting(config: Config, key: str):
    """The value of a dotted `group.name` key ("train.warmup") in `config`."""
    group, name = key.split(".")
    return getattr(getattr(config, group), name)


# Settings a resumed run cannot change. The optimizer and scheduler state it restores hold the
# learning rate, weight decay and betas it was saved with (an override would be recorded in
# config.yaml yet never used), and the weights were fitted to one backbone's states: another
# backbone of the same width fits every shape, so loading would not notice. LoRA's alpha scales
# the trained low-rank change (alpha / rank): another alpha loads without complaint and moves
# every adapted projection, so LoRA's settings are compared whole. Attention heads split the same
# weights another way: other heads fit every shape too (refused where both models split weights into
# heads: `uses_heads`). The place in the epoch is a count of batches: read in batches of another size
# it replays or skips puzzles (train.grad_accum, which splits the same global batch, may change).
# Another task family gives the weights' slots and classes another meaning: where its shapes differ,
# loading found it only after the other task's puzzles were generated and embedded (minutes), and
# where they fit, the resume went on as if nothing changed.
FIXED_ON_RESUME = ("backbone.path", "backbone.revision", "backbone.gguf_file", "backbone.layer", "backbone.lora",
                   "reasoner.heads", "adapter.heads", "train.lr", "train.weight_decay", "train.betas",
                   "train.batch_size", "task.name")
HINTS_ON_RESUME = {"backbone.path": "; another folder must hold the same files",
                   "train.batch_size": "; train.grad_accum splits that batch into smaller steps to fit memory",
                   "task.name": "; its weights were fitted to that task's slots and classes"}


def check_resume_settings(folder: Path, config: Config) -> None:
    """CheckpointMismatch naming each FIXED_ON_RESUME setting that differs from the checkpoint's
    saved config, and train.ema turned on or off (a checkpoint without one is not checked); else
    a task of another shape; else each setting that gives the weights other shapes (`check_resume_shapes`)."""
    if not (folder / "config.yaml").exists():
        return
    saved = read_config(folder / "config.yaml")

    def value(c: Config, key: str):
        v = setting(c, key)
        if dataclasses.is_dataclass(v):  # backbone.lora: rank, alpha, dropout, target_modules
            return dataclasses.asdict(v)
        if key == "backbone.path":  # a run saved before paths were anchored holds it relative (anchored here alike)
            v = anchored(v)
        if key == "backbone.layer" and v in ("-1", "mean_last_1"):  # the last layer's states, as `last` gives
            v = "last"  # (an index equal to the last needs the model's layer count: below)
        return list(v) if isinstance(v, (list, tuple)) else os.path.expanduser(v) if isinstance(v, str) else v

    changed = [key for key in FIXED_ON_RESUME if value(config, key) != value(saved, key)]
    if bool(config.train.ema) != bool(saved.train.ema):  # an EMA copy saved and none to load it into, or the reverse
        changed.append("train.ema")
    if "backbone.layer" in changed and same_layer(config.backbone.layer, saved.backbone.layer,
                                                  trained_on.recorded_layers(folder)):
        changed.remove("backbone.layer")  # the last layer by its index, say, with the count the checkpoint recorded
    for key in ("reasoner.heads", "adapter.heads"):  # refused where both models split weights into them, as eval does
        group = key.split(".")[0]
        # Neither (the mlp mixer, span pooling): the same model. One alone: another mixer or adapter, whose
        # weights have other names and shapes, which loading names
        if key in changed and not (uses_heads(config, group) and uses_heads(saved, group)):
            changed.remove(key)
    if "backbone.path" in changed and moved_backbone(folder, config):
        changed.remove("backbone.path")  # the same files in another place: the same states
    if "backbone.path" in changed and recorded_files(folder) is None and is_local_folder(saved.backbone.path):
        # Saved before checkpoints recorded their backbone's files: a folder elsewhere cannot be
        # checked, so "another folder must hold the same files" would refuse one that does.
        raise checkpoint.CheckpointMismatch(
            f"cannot resume on backbone.path={value(config, 'backbone.path')}: the "
            f"{unrecorded(folder, saved.backbone.path)}")

    def differences(key: str) -> list[str]:  # backbone.lora by its own keys, which a resume can give one by one
        now, then = value(config, key), value(saved, key)
        if isinstance(now, dict) and isinstance(then, dict):
            return [f"{key}.{k}={typed(now[k])} (the checkpoint's run: {typed(then[k])})"
                    for k in now if now[k] != then[k]]
        return [f"{key}={typed(now)} (the checkpoint's run: {typed(then)}{HINTS_ON_RESUME.get(key, '')})"]

    lora_shape = "backbone.lora" in changed and lora_shape_changes(saved.backbone.lora, config.backbone.lora)
    changed = [difference for key in changed for difference in differences(key)]
    if changed:
        new_weights = ("train new weights without --resume (train.init_from takes LoRA weights only with the rank "
                       "and modules they were trained with)" if lora_shape else
                       f"start new training from its weights with train.init_from={folder} (a fresh optimizer takes "
                       f"the new settings)")
        raise checkpoint.CheckpointMismatch(
            f"checkpoint {folder} was trained with other settings that a resumed run cannot change: "
            f"{', '.join(changed)}. Resume with the checkpoint's values, or {new_weights}")
    shapes = task_shape_changes(saved, config, "the checkpoint's run")
    if shapes is not None:
        description, fits = shapes
        new_weights = (f"start new training from its weights with train.init_from={folder}" if fits else
                       "train new weights without --resume (train.init_from cannot take weights of another shape)")
        raise checkpoint.CheckpointMismatch(
            f"checkpoint {folder} was trained on a task of another shape, which a resumed run cannot change: "
            f"{description}. Resume with the checkpoint's task settings, or {new_weights}")
    check_resume_shapes(folder, config, saved)


def check_resume_shapes(folder: Path, config: Config, saved: Config) -> None:
    """CheckpointMismatch naming each setting that gives this config's model other parameter shapes
    than the checkpoint's weights (reasoner.mixer, reasoner.hidden, adapter.kind ...), each beside the
    checkpoint's value. Found by loading alone, that came after the puzzles were generated and embedded
    (minutes), in load_state_dict's words. Read from its config and its weights' safetensors header
    (not the tensors); skipped where no task, adapter or reasoner setting differs. Where no setting
    accounts for the weights (another version of the code), or they cannot be read, loading names it."""
    # The backbone is the checkpoint's (FIXED_ON_RESUME, or its folder moved: the same files, so as wide)
    changes = setting_shape_changes(saved, config, lambda: checkpoint.saved_shapes(folder), "the checkpoint's run")
    if changes:
        raise checkpoint.CheckpointMismatch(
            f"checkpoint {folder} holds weights of other shapes than the model this config builds, which a resumed "
            f"run cannot change: {'; '.join(changes)}. Resume with the checkpoint's value{'s' * (len(changes) > 1)}, "
            f"or train new weights without --resume (train.init_from cannot take weights of another shape)")


# Settings of the learning-rate schedule, which a resume may change. The scheduler's saved state
# holds only its place, a count of updates; the schedule itself is rebuilt from the config, so the
# new settings take over from that place (`schedule_on_resume`). train.ema may change too, silently:
# the averaged copy goes on from its saved weights, blending each update in with the new decay.
SCHEDULE_SETTINGS = ("train.schedule", "train.warmup", "train.steps", "reasoner.N_sup")


def schedule_on_resume(folder: Path, config: Config, scheduler, batches: int, announce: bool) -> None:
    """Move the schedule restored from the checkpoint in `folder` (at batch `batches`) onto this
    config's settings where a SCHEDULE_SETTINGS one differs from the checkpoint's, and warn (when
    `announce`) where that changes the learning rate. Left as loaded, the first resumed update ran
    at the old schedule's rate (the optimizer saved it) and the next jumped to the new one; and
    after another reasoner.N_sup the place, counted in updates of the old N_sup, no longer matched
    batches x N_sup, so a decaying schedule ended off its end (N_sup 2 -> 1 ran past it at rate 0).
    An unchanged resume is left untouched: it continues bit for bit."""
    if not (folder / "config.yaml").exists():
        return
    saved = read_config(folder / "config.yaml")
    changed = [key for key in SCHEDULE_SETTINGS if setting(config, key) != setting(saved, key)]
    if not changed:
        return
    schedule = getattr(scheduler, "scheduler", scheduler)  # AcceleratedScheduler holds the real one
    before = schedule.optimizer.param_groups[0]["lr"]  # what the next update took under the checkpoint's schedule
    # The schedule counts N_sup updates a batch (halted steps included): keep the fp16 loss scaler's
    # skipped updates, which never counted, and count each batch with the new N_sup.
    place = max(0, schedule.last_epoch + batches * (config.reasoner.N_sup - saved.reasoner.N_sup))
    schedule.last_epoch = place
    rates = [base * rate(place) for base, rate in zip(schedule.base_lrs, schedule.lr_lambdas)]
    for group, lr in zip(schedule.optimizer.param_groups, rates):
        group["lr"] = lr
    schedule._last_lr = rates  # what get_last_lr (the logged train/lr) reads
    if not announce or rates[0] == before or batches >= config.train.steps:
        return
    settings = ", ".join(f"{key}={typed(setting(config, key))} (the checkpoint's run: {typed(setting(saved, key))})"
                         for key in changed)
    counted = (f" (batch {batches} x reasoner.N_sup={config.reasoner.N_sup})" if "reasoner.N_sup" in changed else "")
    warnings.warn(f"{settings}: the schedule goes on from update {place}{counted} with the new settings, so the "
                  f"learning rate moves from {before:.1e} to {rates[0]:.1e}. To keep the checkpoint's schedule, "
                  f"resume with its values", stacklevel=2)


def recorded_files(folder: Path) -> str | None:
    """The digest of the files of the local backbone folder the checkpoint in `folder` was trained
    on (its backbone.json), which a moved folder is compared with; None where there is none:
    checkpoints saved before records, and runs on a hub id."""
    weights = (trained_on.read(folder) or {}).get("weights")
    return weights if isinstance(weights, str) and weights.startswith("files:") else None


def unrecorded(folder: Path, trained_on_path: str) -> str:
    """What to do when a checkpoint without a record of its backbone's files is resumed on a
    backbone folder that is not where it was trained."""
    return (f"checkpoint {folder} was saved by an older version without a record of its backbone's files "
            f"({trained_on.FILE}), so a folder elsewhere cannot be checked to hold the files it trained on: put the "
            f"backbone folder back at {trained_on_path} (or a symbolic link to it there) and resume without "
            f"backbone.path, or start new training from its weights with train.init_from={folder}")


def moved_backbone(folder: Path, config: Config) -> bool:
    """Whether config.backbone.path holds the very files of the local backbone folder that the
    checkpoint in `folder` was trained on (its backbone.json): that folder moved or copied, which
    a resumed run may name. A hub commit, or a checkpoint without a record, has no files to compare."""
    weights = recorded_files(folder)
    if weights is None:
        return False
    try:
        path = Path(resolve_path(config.backbone.path, config.train.data_dir))
    except ConfigError:
        return False
    return path.is_dir() and folder_weights(path, config.train.data_dir, config.backbone.trust_remote_code) == weights
