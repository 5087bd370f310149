"""The commands in README.md and docs/*.md still work: every `hybrid/train.py`, `python -m eval`,
`python -m hybrid.solve` and `hybrid-cache` command (fenced shell blocks and inline `code`) has
overrides that load_config accepts and --flags its parser (or accelerate launch's, or the
hybrid-cache subcommand's) defines; so do the usage lines of those commands' own --help (their
module docstrings). So do the
`python bench/<name>.py` commands there, in bench/README.md and in each bench script's usage
lines: the script exists and its parser defines their --flags (docs/performance.md's bench
commands are left out: that page renders the commands bench/results/*.json recorded as run,
history rather than instructions). Researchers copy them; a renamed key, preset, flag or script
must fail here, not in their shell. Nothing is run or downloaded."""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import inspect
import itertools
import re
import shlex
import sys
import typing
from pathlib import Path

import pytest

from eval.tasks import TASKS
from hybrid.config import GROUPS, ConfigError, load_config

ROOT = Path(__file__).resolve().parent.parent
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
BENCH = ROOT / "bench"
BENCH_SCRIPT = re.compile(r"(?:.*/)?(bench/\w+\.py)")  # its cli: bench/<name>.py, as the docs name it
FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.M | re.S)
SHELL = ("", "bash", "sh", "shell", "console")  # python and yaml blocks may mention a command without being one
INLINE = re.compile(r"`([^`]+)`")  # a code span may wrap onto the next line of a paragraph
# The tokens a CLI's own arguments follow, as `python -m` or as the installed script.
CLIS = {"train": [["hybrid/train.py"], ["hybrid-train"], ["-m", "hybrid.train"]],
        "eval": [["python", "-m", "eval"], ["hybrid-eval"]],
        "solve": [["python", "-m", "hybrid.solve"], ["hybrid-solve"]],
        "cache": [["hybrid-cache"], ["-m", "hybrid.cache_cli"]]}
# The modules whose docstring is the CLI's --help description, usage lines and all.
CLI_MODULES = [ROOT / "hybrid" / "train.py", ROOT / "eval" / "__main__.py", ROOT / "hybrid" / "solve.py",
               ROOT / "hybrid" / "cache_cli.py"]
# Values the reader is to fill in (RUN, FOLDER, <preset>, ..., $DIR): only their key is checked.
PLACEHOLDER = re.compile(r"[A-Z][A-Z0-9_]*|<.*>|.*\.\.\..*|.*\$.*")


@dataclasses.dataclass
class Command:
    where: str  # file:line
    text: str
    cli: str  # train | eval | solve | bench/<name>.py
    args: list[str]  # after the script
    launcher: list[str]  # accelerate launch's own arguments, before hybrid/train.py

    def overrides(self) -> list[str]:
        return [arg for arg in self.args if "=" in arg and not arg.startswith("-")]


def code_lines(text: str) -> list[tuple[int, str]]:
    """(line number, code) for each line of the shell blocks (`\\` continuations joined) and each
    inline code span of a markdown file."""
    found = []
    for block in FENCE.finditer(text):
        if block.group(1) in SHELL:
            number = text.count("\n", 0, block.start(2)) + 1
            for line in re.split(r"(?<!\\)\n", block.group(2)):  # a line ending in \ goes on
                found.append((number, line.replace("\\\n", " ")))
                number += line.count("\n") + 1
    # Fences blanked out (line numbers kept), so their backticks pair with nothing in the prose.
    prose = FENCE.sub(lambda m: re.sub(r"[^\n]", " ", m.group(0)), text)
    found += [(prose.count("\n", 0, span.start()) + 1, " ".join(span.group(1).split()))
              for span in INLINE.finditer(prose)]
    return [(number, " ".join(line.split())) for number, line in found]


def usage_lines(path: Path) -> list[tuple[int, str]]:
    """(line number, command) for each indented usage line of a script's module docstring: one that
    runs python, an installed hybrid-* command, accelerate launch, or pipes `cat` into one of them."""
    text = path.read_text()
    doc = re.match(r'(?:#.*\n)*"""(.*?)"""', text, re.S)
    lines = re.split(r"(?<!\\)\n", doc.group(1)) if doc else []  # a line ending in \ goes on
    numbers = [1 + sum(line.count("\n") + 1 for line in lines[:i]) for i in range(len(lines))]
    return [(number, " ".join(line.replace("\\\n", " ").split())) for number, line in zip(numbers, lines)
            if re.match(r"\s+(python|hybrid-|accelerate |cat )", line)]


def bench_readme_lines(path: Path) -> list[tuple[int, str]]:
    """bench/README.md's command lines: its code, each table row's GPU-size example as a command
    of the row's script, and the device `run(command="...")` it gives as a shell line."""
    text = path.read_text()
    found = code_lines(text)
    for number, line in enumerate(text.splitlines(), 1):
        if row := re.fullmatch(r"\| `(\w+\.py)` \|.*\| `([^`]*)` \|", line):
            found.append((number, f"python bench/{row.group(1)} {row.group(2)}"))
        found += [(number, command) for command in re.findall(r'\brun\(command="(.*?)"', line)]
    return found


def commands_in(path: Path, root: Path = ROOT, lines: list[tuple[int, str]] | None = None) -> list[Command]:
    """The commands in markdown file `path` (or in `lines`, its numbered command lines)."""
    found = []
    for number, line in code_lines(path.read_text()) if lines is None else lines:
        try:
            lexer = shlex.shlex(line, posix=True, punctuation_chars=True)
            lexer.whitespace_split = True  # `#` starts a comment, as in the shell
            tokens = list(lexer)
        except ValueError:  # an unbalanced quote: prose in backticks, not a command
            continue
        segment: list[str] = []
        for token in [*tokens, ";"]:  # a pipeline or `a && b` holds several commands
            if token and set(token) <= set("();<>|&"):
                found += [Command(f"{path.relative_to(root)}:{number}", line, *parsed)
                          for parsed in [parse(segment)] if parsed]
                segment = []
            else:
                segment.append(token)
    return found


def parse(tokens: list[str]) -> tuple[str, list[str], list[str]] | None:
    """(cli, its arguments, accelerate launch's arguments) if `tokens` run one of the CLIs or a
    bench script (the first named: `python bench/main_job.py -- train.steps=9` runs the bench)."""
    for i in range(len(tokens)):
        for cli, names in CLIS.items():
            for name in names:
                if tokens[i:i + len(name)] == name or (name == ["hybrid/train.py"] and tokens[i].endswith(name[0])):
                    launcher = tokens[tokens.index("launch") + 1:i] if "launch" in tokens[:i] else []
                    return cli, tokens[i + len(name):], launcher
        if script := BENCH_SCRIPT.fullmatch(tokens[i]):
            return script.group(1), tokens[i + 1:], []
    return None


def is_bench(command: Command) -> bool:
    return command.cli not in CLIS


ALL = [command for path in DOCS for command in commands_in(path)
       if not (is_bench(command) and path.name == "performance.md")]  # its bench commands: as run, history
ALL += commands_in(BENCH / "README.md", lines=bench_readme_lines(BENCH / "README.md"))
ALL += [command for script in [*sorted(BENCH.glob("*.py")), *CLI_MODULES]
        for command in commands_in(script, lines=usage_lines(script))]


@pytest.fixture(scope="module")
def my_tasks(tmp_path_factory):
    """docs/extending.md's my_tasks.py, importable as the user's module its commands name."""
    folder = tmp_path_factory.mktemp("research")
    page = (ROOT / "docs" / "extending.md").read_text()
    (folder / "my_tasks.py").write_text(re.search(r"`my_tasks.py`.*?```python\n(.*?)```", page, re.S).group(1))
    sys.path.insert(0, str(folder))
    yield
    sys.path.remove(str(folder))
    sys.modules.pop("my_tasks", None)


def has_key(config, key: str) -> bool:
    """Whether dotted `key` names a field of the config's schema (the task's: its family's)."""
    if key in GROUPS:  # group=preset
        return True
    cls, parts = type(config), key.split(".")
    if parts[0] == "task":
        cls, parts = type(config.task), parts[1:]
    for part in parts:
        fields = {f.name: f for f in dataclasses.fields(cls)} if dataclasses.is_dataclass(cls) else {}
        if part not in fields:
            return False
        cls = schema_of(typing.get_type_hints(cls)[part])
    return True


def schema_of(hint):
    """The dataclass a field's type hint holds (LoraConfig in Optional[LoraConfig]), else the hint."""
    return next((arg for arg in typing.get_args(hint) if dataclasses.is_dataclass(arg)), hint)


def check_overrides(command: Command) -> str | None:
    """What is wrong with the command's overrides, or None."""
    given = command.overrides()
    if command.cli in ("solve", "cache"):
        return f"{command.cli} takes no overrides: {given}" if given else None
    filled = [item for item in given if not PLACEHOLDER.fullmatch(item.split("=", 1)[1])]
    families = [[]]  # the default task, or the one the command names
    if command.cli == "eval" and not any(item.startswith("task=") for item in given):
        # python -m eval applies its overrides to the run's saved config, whose family the command
        # need not name (runs/arc task.test_views=8): they must load for some family.
        families += [[f"task={name}"] for name in TASKS]
    errors = []
    for family in families:
        try:
            config = load_config(family + filled)
        except ConfigError as err:
            errors.append(str(err))
            continue
        unknown = [item for item in given if item not in filled and not has_key(config, item.split("=", 1)[0])]
        if not unknown:
            return None
        errors.append(f"unknown keys {unknown}")
    return errors[0]


def parsers() -> dict[str, argparse.ArgumentParser]:
    """Each CLI's parser, and each bench script's (keyed bench/<name>.py), captured at its parse
    call: the CLIs and scripts build them inside main()."""
    from accelerate.commands.launch import launch_command_parser

    from eval.__main__ import main as eval_main
    from hybrid.cache_cli import main as cache_main
    from hybrid.solve import main as solve_main
    from hybrid.train import parse_args

    class Captured(Exception):
        pass

    def capture(parser, *args, **kwargs):
        raise Captured(parser)

    found = {"accelerate launch": launch_command_parser()}
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(argparse.ArgumentParser, "parse_args", capture)
        patch.setattr(argparse.ArgumentParser, "parse_intermixed_args", capture)
        for cli, entry in (("train", parse_args), ("eval", eval_main), ("solve", solve_main), ("cache", cache_main)):
            with pytest.raises(Captured) as caught:
                entry([])
            found[cli] = caught.value.args[0]
        patch.syspath_prepend(str(BENCH))  # the scripts import common from their own folder
        for script in sorted(BENCH.glob("*.py")):
            module = importlib.import_module(script.stem)
            if hasattr(module, "main"):  # common.py is no script
                with pytest.raises(Captured) as caught:
                    module.main([])
                found[f"bench/{script.name}"] = caught.value.args[0]
    return found


def check_flags(command: Command, known: dict[str, argparse.ArgumentParser]) -> str | None:
    """Flags the command's parser (or accelerate launch's) does not define, and values outside a
    flag's choices; a bench script that is not there."""
    if command.cli not in known:
        return f"no script {command.cli}"
    problems = []
    for cli, args in ((command.cli, command.args), ("accelerate launch", command.launcher)):
        actions = known[cli]._option_string_actions
        subcommand = subcommand_named(known[cli], args)
        if subcommand is not None:  # hybrid-cache prune --keep-gb 10: the subcommand's flags too
            cli, actions = f"{cli} {subcommand[0]}", actions | subcommand[1]._option_string_actions
        args = args[:args.index("--")] if "--" in args else args  # after --: positionals
        args = [arg.removeprefix("[").removesuffix("]") for arg in args]  # [--init RUN]: optional
        for i, arg in enumerate(args):
            flag = arg.split("=", 1)[0]
            if not arg.startswith("--") or " " in arg:  # --launch-args "--multi_gpu ...": a quoted value
                continue
            if flag not in actions:
                problems.append(f"{cli} has no {flag}")
                continue
            nargs = actions[flag].nargs
            if "=" in arg:
                values = [arg.split("=", 1)[1]]
            elif nargs in ("+", "*"):  # up to the next flag
                values = list(itertools.takewhile(lambda value: not value.startswith("-"), args[i + 1:]))
            else:
                values = args[i + 1:i + 1 + (nargs if isinstance(nargs, int) else 1)] or [None]
            problems += [f"{cli} {flag} takes {'|'.join(actions[flag].choices)}, not {value}"
                         for value in values if actions[flag].choices and value not in actions[flag].choices]
    # A file of the repository the command reads (accelerate's configs/accelerate/*.yaml) must be there;
    # docs/examples/ files are checked wherever named (test_every_example_file_the_docs_name_exists).
    problems += [f"no file {arg}" for arg in command.launcher + command.args
                 if arg.startswith("configs/") and not (ROOT / arg).exists()]
    return "; ".join(problems) or None


def subcommand_named(parser: argparse.ArgumentParser, args: list[str]) -> tuple[str, argparse.ArgumentParser] | None:
    """(name, parser) of the subcommand `args` name (hybrid-cache's list or prune), if the parser has them."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return next(((arg, action.choices[arg]) for arg in args if arg in action.choices), None)
    return None


def test_the_docs_hold_the_commands_this_test_checks():
    # a collector that silently found nothing would pass every doc
    by_cli = {cli: sum(command.cli == cli for command in ALL) for cli in CLIS}
    assert min(by_cli.values()) >= 3, by_cli
    assert sum(len(command.overrides()) for command in ALL) >= 40
    bench = [command for command in ALL if is_bench(command)]
    assert len({command.cli for command in bench}) >= 12, sorted({command.cli for command in bench})
    assert sum(arg.startswith("--") for command in bench for arg in command.args) >= 100


def test_every_documented_override_loads(my_tasks):
    bad = [f"{c.where}: `{c.text}`: {problem}" for c in ALL if not is_bench(c) and (problem := check_overrides(c))]
    assert not bad, "stale overrides in the docs:\n" + "\n".join(bad)


def test_every_documented_flag_exists():
    known = parsers()
    bad = [f"{c.where}: `{c.text}`: {problem}" for c in ALL if (problem := check_flags(c, known))]
    assert not bad, "stale flags in the docs:\n" + "\n".join(bad)


def test_every_example_file_the_docs_name_exists():
    """A docs/examples/ file the docs name anywhere (`cat docs/examples/sudoku6.jsonl | ...` too, which
    check_flags does not see: it reads a command's own arguments) must be there to copy the command."""
    named = [(f"{path.relative_to(ROOT)}:{text.count(chr(10), 0, found.start()) + 1}", found.group(0))
             for path in [*DOCS, BENCH / "README.md"] for text in [path.read_text(encoding="utf-8")]
             for found in re.finditer(r"docs/examples/[\w.-]*\w", text)]
    assert len(named) >= 4  # a pattern that found nothing would pass every doc
    missing = [f"{where}: {name}" for where, name in named if not (ROOT / name).is_file()]
    assert not missing, "example files the docs name that are not there:\n" + "\n".join(missing)


KEY = re.compile(rf"(?:{'|'.join(GROUPS)})(?:\.\w+)+(?:=\S*)?")  # `train.init_from`, `task.size=9`


def named_keys(path: Path, root: Path = ROOT) -> list[tuple[str, str]]:
    """(file:line, key) for each config key the prose names in code (`train.init_from`,
    `task.size=9`); only the key is checked, a value there may be one the text says is refused."""
    return [(f"{path.relative_to(root)}:{number}", span.split("=", 1)[0]) for number, span in code_lines(path.read_text())
            if KEY.fullmatch(span) and not re.search(r"\.(json|jsonl|yaml|py|txt|md)$", span)]  # backbone.json: a file


def stale_keys(named: list[tuple[str, str]]) -> list[str]:
    # a task key belongs to some family's schema (the page says which, in words)
    configs = [load_config([f"task={name}"]) for name in TASKS]
    return [f"{where}: {key}" for where, key in named if not any(has_key(config, key) for config in configs)]


def test_every_config_key_the_docs_name_exists():
    named = [found for path in DOCS for found in named_keys(path)]
    assert len(named) >= 100, len(named)  # the collector still finds them
    bad = stale_keys(named)
    assert not bad, "config keys in the docs that no schema has:\n" + "\n".join(bad)


def test_a_broken_doc_is_reported(tmp_path):
    """The checks above fail on a doc with a typo: seen failing, they can be trusted passing."""
    doc = tmp_path / "broken.md"
    doc.write_text("Train:\n\n```bash\naccelerate launch --num_proceses 2 hybrid/train.py task=maze \\\n"
                   "    task.szie=9 --print-cfg\n```\n\nthen `python -m eval runs/x reasoner=trm_papr --split dev` and\n"
                   "`python -m eval runs/x reasoner.N_sup=NEW --no-emma`; `train.stpes` and `task.size` as keys.\n\n"
                   "```bash\npython bench/fast_paths.py --variants compile bf15 --batch 8 && python bench/gone.py\n"
                   "python bench/puzzle_suite.py --familes sudoku -- --not-a-flag\n```\n")
    commands = commands_in(doc, root=tmp_path)
    assert [(c.where, c.cli) for c in commands] == [  # the fenced blocks' first
        ("broken.md:4", "train"), ("broken.md:12", "bench/fast_paths.py"), ("broken.md:12", "bench/gone.py"),
        ("broken.md:13", "bench/puzzle_suite.py"), ("broken.md:8", "eval"), ("broken.md:9", "eval")]
    train, bad_choice, gone, typo, eval_bad_preset, eval_placeholder = commands
    assert "szie" in check_overrides(train)
    assert "trm_papr" in check_overrides(eval_bad_preset)
    assert check_overrides(eval_placeholder) is None  # NEW: a placeholder, its key is real
    assert "unknown keys" in check_overrides(dataclasses.replace(eval_placeholder, args=["x", "reasoner.N_sub=NEW"]))
    known = parsers()
    assert check_flags(train, known) == "train has no --print-cfg; accelerate launch has no --num_proceses"
    assert check_flags(eval_bad_preset, known) == "eval --split takes test|test_heldout, not dev"
    assert check_flags(eval_placeholder, known) == "eval has no --no-emma"
    assert check_flags(bad_choice, known) == "bench/fast_paths.py --variants takes compile|bf16, not bf15"
    assert check_flags(gone, known) == "no script bench/gone.py"
    assert check_flags(typo, known) == "bench/puzzle_suite.py has no --familes"  # after --: no flags
    usage = tmp_path / "script.py"
    usage.write_text('"""A bench script.\n\n    python bench/run_all.py --only reasoner_step \\\n        nope   # x\n"""\n')
    [command] = commands_in(usage, root=tmp_path, lines=usage_lines(usage))
    assert (command.where, check_flags(command, known)) == ("script.py:3", "bench/run_all.py --only takes "
                                                            f"{'|'.join(known['bench/run_all.py']._option_string_actions['--only'].choices)}, not nope")
    assert stale_keys(named_keys(doc, root=tmp_path)) == ["broken.md:9: train.stpes"]  # task.size: maze's
    cache = tmp_path / "cache.md"  # hybrid-cache: its subcommand's flags, and the global --data-dir before it
    cache.write_text("```bash\nhybrid-cache --data-dir X prune --keep-gb 10 --dry-run\n"
                     "hybrid-cache prune --keep-gbs 10\nhybrid-cache list --dry-run\n```\n")
    assert [check_flags(c, known) for c in commands_in(cache, root=tmp_path)] == [
        None, "cache prune has no --keep-gbs", "cache list has no --dry-run"]


def config_keys() -> list[tuple[str, type, str]]:
    """(dotted key, the dataclass that declares the field, field name) for every leaf of the typed
    config: backbone.*, backbone.lora.*, adapter.*, reasoner.*, train.*, and each family's task.*."""
    from hybrid.config import Config

    def leaves(cls, prefix):
        hints = typing.get_type_hints(cls)
        for f in dataclasses.fields(cls):
            inner = schema_of(hints[f.name])
            if dataclasses.is_dataclass(inner):  # backbone.lora: its own fields are the keys
                yield from leaves(inner, f"{prefix}{f.name}.")
            else:  # the class in the MRO that declares it (a family's config inherits TaskConfig's)
                yield f"{prefix}{f.name}", next(c for c in cls.__mro__ if f.name in vars(c).get("__annotations__", {})), f.name

    groups = typing.get_type_hints(Config)
    found = [leaf for group in GROUPS if group != "task" for leaf in leaves(groups[group], f"{group}.")]
    found += [leaf for _, config in TASKS.values() for leaf in leaves(config, "task.")]
    return list(dict.fromkeys(found))


def commented(cls: type, name: str) -> bool:
    """Whether field `name` of dataclass `cls` has a comment on its line or a comment line above it."""
    lines = inspect.getsourcelines(cls)[0]
    line = next(i for i, text in enumerate(lines) if re.match(rf"\s+{name}\s*:", text))
    return "#" in lines[line] or lines[line - 1].lstrip().startswith("#")


def undocumented_config_keys(docs: str) -> list[str]:
    """Config keys neither named in `docs` (`train.grad_clip`, also as `train.grad_clip=1`) nor
    commented beside their field."""
    return sorted({key for key, cls, name in config_keys()
                   if not re.search(rf"{re.escape(key)}(?!\w)", docs) and not commented(cls, name)})


def test_every_config_key_is_documented_or_commented():
    """The other direction from test_every_config_key_the_docs_name_exists: a key the config takes
    is named in README.md or docs/*.md, or its field in the dataclass has a comment saying what it does."""
    keys = [key for key, _, _ in config_keys()]
    assert len(keys) >= 60 and {"train.keep_checkpoints", "backbone.lora.rank", "task.size"} <= set(keys), keys
    docs = "\n".join(path.read_text() for path in DOCS)
    bad = undocumented_config_keys(docs)
    assert not bad, "config keys no doc names and no comment explains:\n" + "\n".join(bad)
    assert "train.seed" in undocumented_config_keys("")  # neither: reported (seed: no comment; the docs name it)


def test_extending_trains_from_a_folder_of_your_own():
    """docs/extending.md's reader works outside the repository, where `hybrid/train.py` is no file
    (accelerate launch said "can't open file"); `-m hybrid.train` runs from anywhere."""
    commands = [command for command in ALL if command.where.startswith("docs/extending.md")]
    assert [command.text for command in commands if "hybrid/train.py" in command.text] == []
    assert any(command.cli == "train" for command in commands)


def module_table(readme: str) -> list[str]:
    """The paths README.md's "How it fits together" table names in code (`hybrid/lock.py`, `adapters/`)."""
    table = readme.split("## How it fits together\n", 1)[1].split("\n## ", 1)[0]
    return [span for row in table.splitlines() if row.startswith("| ")
            for span in INLINE.findall(row) if re.fullmatch(r"[\w./]+/(?:[\w.]+\.py)?", span)]


def test_the_module_table_names_every_module_and_only_real_ones():
    """A reader looks a module up in the README's table: every path it names is there, and every module
    of hybrid/ is in it (hybrid/console.py was in none of its rows). eval/'s rows follow eval's own layout."""
    named = module_table((ROOT / "README.md").read_text())
    assert len(named) >= 25 and "hybrid/lock.py" in named, named  # the table is still found
    assert [path for path in named if not (ROOT / path).exists()] == []
    modules = sorted(f"hybrid/{path.name}" for path in (ROOT / "hybrid").glob("*.py") if path.name != "__init__.py")
    assert [module for module in modules if module not in named] == []
    assert {"adapters/", "reasoner/", "bench/", "docs/"} <= set(named)


def github_anchors(page: str) -> set[str]:
    """The anchors GitHub gives a markdown page's headings: lower case, punctuation dropped, spaces as
    hyphens, and -1, -2 after a repeated one. Headings inside fenced blocks are code, not headings."""
    found: set[str] = set()
    for heading in re.findall(r"^#+ +(.*?) *#*$", FENCE.sub("", page), re.M):
        slug = re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-")
        found.add(next(name for i in itertools.count() for name in [f"{slug}-{i}" if i else slug] if name not in found))
    return found


def broken_links(path: Path, root: Path = ROOT) -> list[str]:
    """The relative links of markdown file `path` ([text](docs/x.md#anchor)) to no file, or to no heading of it."""
    text, bad = path.read_text(encoding="utf-8"), []
    for link in re.finditer(r"\]\(([^)\s]+)\)", FENCE.sub(lambda m: re.sub(r"[^\n]", " ", m.group(0)), text)):
        target, _, anchor = link.group(1).partition("#")
        if re.match(r"[a-z]+:", target):  # https:, mailto:
            continue
        where = f"{path.relative_to(root)}:{text.count(chr(10), 0, link.start()) + 1}: {link.group(1)}"
        file = path.parent / target if target else path
        if not file.exists():
            bad.append(f"{where}: no such file")
        elif anchor and file.suffix == ".md" and anchor not in github_anchors(file.read_text(encoding="utf-8")):
            bad.append(f"{where}: no such heading")
    return bad


def test_every_doc_link_and_anchor_exists(tmp_path):
    """README.md links docs/performance.md#the-default-job-with-other-seeds and the like: a renamed
    heading or page leaves the reader at the top of a page, or at a 404."""
    pages = [*DOCS, BENCH / "README.md"]
    assert sum(len(re.findall(r"\]\((?!https?:)[^)\s]+#", p.read_text())) for p in pages) >= 2  # anchors are checked
    assert [bad for page in pages for bad in broken_links(page)] == []
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "a.md").write_text("# A page\n\n## The README's first line\n\n```\n# no heading\n```\n\n"
                                            "## Same\n\n## Same\n")
    doc = tmp_path / "README.md"
    doc.write_text("[ok](docs/a.md#the-readmes-first-line), [ok](docs/a.md#same-1), [gone](docs/b.md), "
                   "[typo](docs/a.md#the-readme-first-line), [code](docs/a.md#no-heading), [web](https://x.org/#y)\n")
    assert broken_links(doc, root=tmp_path) == [
        "README.md:1: docs/b.md: no such file", "README.md:1: docs/a.md#the-readme-first-line: no such heading",
        "README.md:1: docs/a.md#no-heading: no such heading"]
