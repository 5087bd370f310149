"""Which settings give a model other parameter shapes than trained weights, which therefore cannot load
into it: a resume (hybrid/resume_settings.py), a start from trained weights (train.init_from) and
`python -m eval RUN key=value` each refuse such a change before minutes of data and embedding,
naming the setting beside the trained value rather than leaving load_state_dict to list tensors.

- `setting_shape_changes`: what a resume and train.init_from refuse, from the weights' own shapes.
- `shape_changes`: the task, adapter, reasoner and backbone settings that change a parameter's
  shape, found by building both models on the meta device (`model_shapes`, milliseconds) and
  compared with the weights' own shapes (their safetensors header), and the backbone width those
  weights were trained on (`trained_width`).
- `task_shape_changes`: a task's answer slots and symbols, in the task's words.
- `lora_shape_changes`: LoRA settings (rank, target modules) whose weights fit no other.
- `uses_heads`: whether a model splits weights into attention heads, where another heads setting
  fits every shape yet computes something else.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from adapters import adapter_kind
from eval.tasks import DATASET_FIELDS, PuzzleError, make_task
from hybrid.config import Config, anchored, typed


def tensor_shapes(state: dict) -> dict[str, tuple]:
    """The shape of each tensor of a state dict, as the shapes here are compared."""
    return {key: tuple(tensor.shape) for key, tensor in state.items()}


def model_shapes(config: Config, width: int) -> dict[str, tuple]:
    """The shapes of the state dict of the model `config` builds on a backbone `width` wide (built on the
    meta device: no memory, milliseconds)."""
    import torch

    from hybrid.model import HybridModel

    with torch.device("meta"):
        model = HybridModel.for_task(config, width, make_task(config.task))
    return tensor_shapes(model.state_dict())


def setting_shape_changes(trained: Config, config: Config, read_shapes: Callable[[], dict[str, tuple] | None],
                          label: str) -> list[str]:
    """Each task, adapter or reasoner setting of `config` that gives its model other parameter shapes than the
    weights trained at `trained`, said beside its trained value (`shape_changes`, `label`), on the backbone
    width those weights were trained on: a resume keeps the backbone, and one of another width under
    train.init_from is found as they load. `read_shapes` gives the weights' shapes (a checkpoint's safetensors
    header, or tensors already read), read only where such a setting differs. [] where none does, or where the
    shapes or their width cannot be told (weights of another version): loading names what is wrong."""
    if all(getattr(config, group) == getattr(trained, group) for group in ("task", "adapter", "reasoner")):
        return []
    saved = read_shapes()
    prefix = "hybrid." if trained.backbone.lora is not None else ""  # a LoRA run's model: backbone and hybrid
    width = None if saved is None else trained_width(trained, saved, prefix)
    if width is None:
        return []
    return [said for setting, said in shape_changes(trained, config, width, saved, prefix, label)
            if not setting.startswith("backbone.")]  # on the weights' own width: no backbone is named


def trained_width(trained: Config, saved: dict[str, tuple], prefix: str = "") -> int | None:
    """The backbone width the weights `saved` (their shapes, keys under `prefix`) were trained on, as
    `trained` builds them: a dimension that is 1 and 2 on backbones that wide. None where none is found
    (weights of another version of the model)."""
    one, two = model_shapes(trained, 1), model_shapes(trained, 2)
    return next((saved[prefix + key][i] for key in one if prefix + key in saved
                 for i, sizes in enumerate(zip(one[key], two[key]))
                 if sizes == (1, 2) and i < len(saved[prefix + key])), None)


def shape_changes(trained: Config, config: Config, width: int, saved: dict[str, tuple], prefix: str = "",
                  label: str = "trained") -> list[tuple[str, str]]:
    """The settings of `config` that give the model other parameter shapes than the weights trained at
    `trained` (their config; `saved`: their shapes), each as (`key=value`, `key=value (<label>: value)`).
    A task, adapter or reasoner setting counts where the trained model with it alone changed has other
    shapes (`model_shapes`); the backbone's, where the trained model on a backbone of this `width` does
    not fit the weights (their keys under `prefix`: "hybrid." in a LoRA run's). So reasoner.N_sup beside
    task.size=6 is not named, nor a backbone folder named where it is now. Settings that build no model
    alone beside the trained ones (reasoner.hidden=30 with reasoner.heads=5 on an attention run of 32 and
    4) are named together, where this config's model with all of them has other shapes."""
    try:
        fitted = model_shapes(trained, width)
    except Exception:  # the trained config no longer builds (its code changed): the tensor is named instead
        return []
    found, only_together = [], []
    for group in ("task", "adapter", "reasoner"):
        now, then = getattr(config, group), getattr(trained, group)
        for field in dataclasses.fields(now):
            value, was = getattr(now, field.name), getattr(then, field.name, None)
            if value == was:
                continue
            changed = dataclasses.replace(trained, **{group: dataclasses.replace(then, **{field.name: value})})
            try:
                if model_shapes(changed, width) == fitted:
                    continue
            except Exception:  # no model with it beside the trained settings: not this setting alone
                only_together.append((f"{group}.{field.name}={typed(value)}", typed(was)))
                continue
            said = task_shape_changes(trained, changed, label) if group == "task" else None
            setting = f"{group}.{field.name}={typed(value)}"
            found.append((setting, said[0] if said else f"{setting} ({label}: {typed(was)})"))
    if only_together and not found and together_changes_shapes(trained, config, width, fitted):
        found = [(setting, f"{setting} ({label}: {was})") for setting, was in only_together]
    if any(saved.get(prefix + key, ()) != shape for key, shape in fitted.items()):
        # the trained model on a backbone of this width does not fit: another width than the weights were trained on
        for key in ("path", "revision", "gguf_file"):
            now, then = getattr(config.backbone, key), getattr(trained.backbone, key)
            if (anchored(now) if key == "path" else now) != (anchored(then) if key == "path" else then):
                setting = f"backbone.{key}={typed(now)}"
                found.append((setting, f"{setting} ({label}: {typed(then)}) gives states {width} wide ({label}: "
                                       f"{trained_width(trained, saved, prefix) or 'another width'})"))
    return found


def together_changes_shapes(trained: Config, config: Config, width: int, fitted: dict[str, tuple]) -> bool:
    """Whether the model with `config`'s task, adapter and reasoner settings, all at once, has other shapes
    than `fitted` (the trained model's). False where that model cannot be built: the run fails there first."""
    try:
        return model_shapes(dataclasses.replace(trained, task=config.task, adapter=config.adapter,
                                                reasoner=config.reasoner), width) != fitted
    except Exception:
        return False


def task_shape_changes(other: Config, config: Config, label: str) -> tuple[str, bool] | None:
    """How `config`'s task differs from `other`'s in what a model's weights are fitted to (its answer
    slots, the symbols they take, whether they are pieces of the question), each of `other`'s values as
    `(<label>: value)`: `task.size=6 (trained: 4) gives 36 answer slots (trained: 16)`; and whether `other`'s
    weights still fit this config's model (the same parameter shapes). None where nothing differs, or
    `other`'s task cannot be built (its code changed or gone: loading decides). Tasks are built only where
    their settings differ, and cheaply."""
    if other.task.name != config.task.name:
        keys = ["name"]
    else:
        knobs = [dataclasses.asdict(c.task) for c in (config, other)]
        keys = [key for key in sorted(knobs[0].keys() | knobs[1].keys())
                if key not in DATASET_FIELDS and knobs[0].get(key) != knobs[1].get(key)]
    if not keys:
        return None
    try:
        then = make_task(other.task)
    except (PuzzleError, ImportError):  # a family's library (reasoning_gym) uninstalled since
        return None
    now = make_task(config.task)  # one this config cannot build fails here as it would in building the run

    def symbols(vocab) -> str:
        return " ".join(vocab[:8]) + (f" ... ({len(vocab)})" if len(vocab) > 8 else "")

    def aligned(task) -> str:
        return "" if task.aligned_slots else "not "

    aspects = []
    if now.num_slots != then.num_slots:
        aspects.append(f"{now.num_slots} answer slots ({label}: {then.num_slots})")
    if tuple(now.vocab) != tuple(then.vocab):
        aspects.append(f"answer symbols {symbols(now.vocab)} ({label}: {symbols(then.vocab)})")
    if now.aligned_slots != then.aligned_slots:  # adapter.kind=auto picks another adapter by it
        aspects.append(f"answer slots {aligned(now)}aligned with the question ({label}: {aligned(then)}aligned)")
    if not aspects:
        return None
    settings = ", ".join(f"task.{key}={typed(getattr(config.task, key, None))} ({label}: "
                         f"{typed(getattr(other.task, key, None))})" for key in keys)
    fits = (now.num_slots == then.num_slots and len(now.vocab) == len(then.vocab)
            and adapter_kind(config.adapter, now.aligned_slots) == adapter_kind(config.adapter, then.aligned_slots))
    return f"{settings} gives {', '.join(aspects)}", fits


def lora_shape_changes(trained, now) -> list[str]:
    """The backbone.lora settings that give LoRA weights trained with `trained` other shapes or
    names under `now` (LoRA turned off, another rank or other target modules), typed as `trained`
    had them; alpha and dropout fit any weights."""
    if trained is None:
        return []
    if now is None:
        return [f"backbone.lora.{k}={typed(v)}" for k, v in dataclasses.asdict(trained).items()]
    return [f"backbone.lora.{k}={typed(getattr(trained, k))}" for k in ("rank", "target_modules")
            if getattr(trained, k) != getattr(now, k)]


def uses_heads(config: Config, group: str, task=None) -> bool:
    """Whether the model `config` builds for `task` (by default its own, built where the answer
    depends on it) splits anything into `group`.heads (reasoner, adapter): a reasoner mixer other than
    mlp (attention; a mixer added since may too), the query_attention adapter. The mlp mixer and span
    pooling have no heads to split. A task that cannot be built counts as one with heads."""
    if group == "reasoner":
        return config.reasoner.mixer != "mlp"
    if task is None and config.adapter.kind == "auto":  # auto picks by whether the task's slots are aligned
        try:
            task = make_task(config.task)
        except (PuzzleError, ImportError):  # its code changed or gone: as if it split heads, which refuses
            return True
    aligned = task.aligned_slots if task is not None else True  # another kind than auto does not ask
    return adapter_kind(config.adapter, aligned) == "query_attention"
