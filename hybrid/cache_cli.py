"""See and prune the embedding cache: `hybrid-cache list`, `hybrid-cache prune --keep-gb 10`.

Every change to what the states depend on (backbone, layer, texts, task size, seed...) makes a
new entry and leaves the old one, so the cache grows with every experiment. Entries are derived
data: a pruned entry is embedded again the next time a run needs it. Pruning goes by last use
(a run that reads an entry marks it used), so the entries of current experiments stay. Removing
an entry that a running job has open is safe: the job keeps its memory-mapped copy (Windows
removes no open file: such an entry is kept, and prune says so); one a run is embedding or
reading back (it holds the entry's lock) is kept too. A stopped prune (Ctrl-C, SIGTERM) has removed
what it said it removed; an entry cut short mid-removal (its states go before its description) leaves its
description, which the next prune removes: the same prune again goes on where it stopped.

The rest of data_dir (generated splits in datasets/, GGUF conversions in converted/, tiny test
backbones in tiny/) is left alone: runs reuse those folders, and they are small or slow to make
again (a conversion). Only folders nothing reads any more go, with --old: converted/ and tiny/
ones an older version saved without the `-transformers<major>` suffix, and `<name>.tmp` folders
of interrupted writes (not one a run is writing: it holds the folder's lock).

    hybrid-cache list                      # entries, newest use first, with sizes and what they hold;
                                           # then datasets/, converted/, tiny/ and what nothing reads
    hybrid-cache prune --keep-gb 10        # remove the least recently used until 10 GiB remain
    hybrid-cache prune --unused-days 14    # remove entries no run has read for two weeks
    hybrid-cache prune --old               # remove entries and folders an older version wrote (never read again)
    hybrid-cache prune --all --dry-run     # what removing every entry would free
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import re
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from stat import S_ISREG

from rich.console import Console
from rich.table import Table

from hybrid.cache_entries import FORMAT, entry_files, metadata_path
from hybrid.checkpoint import sigterm_raises, stopped_by
from hybrid.config import TrainConfig, given_path
from hybrid.console import console as printing_console
from hybrid.console import counted, plain_warnings
from hybrid.lock import Busy, held_elsewhere, lock_file, locked

STALE_LEFTOVER = 3600  # where no lock can be taken: seconds after which a piece is an interrupted write
BESIDE = {"datasets": "generated puzzle splits", "converted": "GGUF backbones as safetensors",
          "tiny": "tiny test backbones"}  # the folders of data_dir beside the cache (the rest: embeddings/, locks/)
# The suffix (backbone.SAVED_BY) of converted and tiny backbones: any major, as environments with
# transformers 4 and 5 share a data_dir and each reads its own.
SAVED = re.compile(r"-transformers-?\d+$")


@dataclass
class Entry:
    path: Path
    size: int
    last_used: float
    about: dict | None  # from the metadata file beside the entry; None for entries written before it existed

    @property
    def outdated(self) -> bool:
        """Written in an older layout: no run reads it again (its key names the old format)."""
        return self.about is None or self.about.get("format", 1) != FORMAT


def entries(folder: Path) -> list[Entry]:
    """The cache's entries, most recently used first."""
    found = []
    for path in folder.glob("*.pt"):
        try:
            stat = path.stat()
        except FileNotFoundError:  # removed since it was listed (another prune; a run that found it damaged)
            continue
        if not S_ISREG(stat.st_mode):  # a folder named like an entry: not the cache's (training leaves it too)
            continue
        meta = metadata_path(path)
        try:
            about = json.loads(meta.read_text(encoding="utf-8")) if meta.exists() else None
        except (OSError, ValueError):
            about = None
        if not isinstance(about, dict):  # JSON, but not a description (edited or overwritten): unknown too
            about = None
        found.append(Entry(path, stat.st_size, stat.st_mtime, about))
    return sorted(found, key=lambda e: e.last_used, reverse=True)


def leftovers(folder: Path, now: float) -> list[Path]:
    """Pieces of writes that were interrupted (a crash, a full disk), not ones a run is making:
    also a description whose entry never arrived (it is written before the entry's rename)."""
    pieces = [*folder.glob("*.tmp"), *folder.glob("*.part*"),
              *(m for m in folder.glob("*.json") if not m.with_suffix(".pt").exists())]
    return [p for p in pieces if p.is_file() and not being_written(p, now)]  # the cache writes files only


def piece_size(piece: Path) -> int:
    """A piece's bytes; 0 once it is gone (removed by another prune since it was found)."""
    try:
        return piece.stat().st_size
    except FileNotFoundError:
        return 0


def writer_lock(piece: Path) -> Path:
    """The lock a run holds while it writes the entry `piece` belongs to (`<key>.pt.tmp`, `<key>.part3`...)."""
    return lock_file(piece.parent.parent, piece.name.split(".")[0])


def being_written(piece: Path, now: float, lock: Path | None = None) -> bool:
    """A run holds the entry's lock (in a multi-process run, for as long as its slowest shard
    embeds), or `lock` for a folder. Where no lock can be taken, a piece younger than an hour
    counts as being written."""
    held = held_elsewhere(lock or writer_lock(piece))
    if held is not None:
        return held
    try:
        return now - piece.stat().st_mtime <= STALE_LEFTOVER
    except FileNotFoundError:
        return True  # gone since it was found: nothing to remove


def gib(size: int) -> str:
    return f"{size / 2**30:.2f} GiB" if size >= 2**28 else f"{size / 2**20:.1f} MiB"


def age(seconds: float) -> str:
    for unit, length in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= length:
            return f"{int(seconds // length)} {unit} ago"  # down: 13.6 days is not "14 d", which --unused-days 14 keeps
    return "just now"


def describe(entry: Entry) -> tuple[str, str]:
    """(what it holds, which backbone and settings) for the listing; '?' for an entry written
    before entries were described."""
    if entry.about is None:
        return "?", "?"
    a, b = entry.about, entry.about.get("backbone")
    b = b if isinstance(b, dict) else {}  # a description edited by hand: what it lacks shows as '?'
    settings = ", ".join(f"{k} {b[k]}" for k in ("layer", "dtype", "max_length", "quantization") if b.get(k) is not None)
    if entry.outdated:  # padded: every puzzle holds `tokens`
        tokens = f"{a.get('tokens', '?')} (padded)"
    else:
        try:
            tokens = f"{a['tokens'] / max(1, a['puzzles']):.0f}/{a['longest']}"
        except (KeyError, TypeError, ValueError):
            tokens = "?"
    holds = f"{a.get('split', '?')}: {a.get('puzzles', '?')} x {tokens} x {a.get('hidden', '?')}"
    return holds, f"{b.get('id') or b.get('identity', '?')}" + (f" ({settings})" if settings else "")


def show(folder: Path, console: Console) -> None:
    found = entries(folder)
    now = time.time()
    table = Table(title=f"embedding cache: {folder}", title_justify="left")
    table.add_column("entry", no_wrap=True)
    table.add_column("last used", no_wrap=True)
    table.add_column("size", justify="right", no_wrap=True)
    # Its long header wraps: kept on one line, it squeezed the size into "0.2 …" and the backbone out of
    # sight at 80 columns (a terminal's default, and rich's width for a pipe or file).
    table.add_column("split: puzzles x tokens (mean/max) x hidden")
    table.add_column("backbone")
    for e in found:
        table.add_row(e.path.stem[:12] + (" (old)" if e.outdated else ""), age(now - e.last_used), gib(e.size), *describe(e))
    console.print(table)
    unknown = sum(e.about is None for e in found)
    console.print(f"{counted(len(found), 'entry', 'entries')}, {gib(sum(e.size for e in found))}"
                  + (f" ({unknown} written before entries were described: '?')" if unknown else ""))
    old = [e for e in found if e.outdated]
    if old:
        console.print(f"{counted(len(old), 'entry (old) is', 'entries (old) are')} in an older layout that no run "
                      f"reads any more, {gib(sum(e.size for e in old))}: `hybrid-cache prune --old` removes them")
    stale = leftovers(folder, now)
    if stale:
        console.print(f"{counted(len(stale), 'leftover piece')} of interrupted writes, "
                      f"{gib(sum(piece_size(p) for p in stale))} (`hybrid-cache prune` with any option removes them)")


def folder_size(folder: Path) -> int:
    """Bytes of the files under `folder`. A run may rename or remove its files while they are
    counted (a `.tmp` folder moving into place): those count as 0, not as an error."""
    total = 0
    with contextlib.suppress(FileNotFoundError):  # the folder itself went
        for f in folder.rglob("*"):
            with contextlib.suppress(FileNotFoundError):
                total += f.stat().st_size if f.is_file() else 0
    return total


def folder_lock(path: Path) -> Path:
    """The lock a run holds while it writes the folder `path` or its `<name>.tmp` (build_once).
    tiny_backbones.resolve is given tiny/ itself as its cache_dir, so its locks are in tiny/locks/."""
    root = path.parent if path.parent.name == "tiny" else path.parent.parent
    return lock_file(root, path.name.removesuffix(".tmp"))


def beside(data_dir: Path) -> dict[str, list[Path]]:
    """The folders of datasets/, converted/ and tiny/ (not tiny/locks/), by name of the three."""
    return {name: sorted(p for p in (data_dir / name).glob("*") if p.is_dir() and p.name != "locks")
            for name in BESIDE}


def orphans(data_dir: Path, now: float) -> dict[Path, str]:
    """Folders nothing reads any more, with why: converted and tiny backbones an older version saved
    without the `-transformers<major>` suffix, and `<name>.tmp` folders of writes cut short
    (folders.write_folder) that no run is writing now. Folders in the current layout stay, those of
    datasets/ included: runs reuse them, and they are small or slow to make again."""
    found = {}
    for name, folders in beside(data_dir).items():
        for p in folders:
            if p.name.endswith(".tmp"):
                if not being_written(p, now, folder_lock(p)):
                    found[p] = "an interrupted write"
            elif name != "datasets" and not SAVED.search(p.name):
                found[p] = "an older layout"
    return found


def show_beside(data_dir: Path, console: Console) -> None:
    """After the table: what datasets/, converted/ and tiny/ hold, and which folders no run reads."""
    found, stale = beside(data_dir), orphans(data_dir, time.time())
    sizes = {p: folder_size(p) for folders in found.values() for p in folders}
    lines = []
    for name, folders in found.items():
        kept = [p for p in folders if p not in stale]
        if kept:
            lines.append(f"  {name + '/':<11}{counted(len(kept), 'folder')}, {gib(sum(sizes[p] for p in kept))} "
                         f"({BESIDE[name]})")
    if lines:
        console.print(f"also in {data_dir}, left alone by prune (runs with the same settings reuse them):", *lines, sep="\n")
    if stale:
        console.print(f"{counted(len(stale), 'folder')} no run reads any more, {gib(sum(sizes[p] for p in stale))}; "
                      f"`hybrid-cache prune --old` removes them:",
                      *(f"  {p.parent.name}/{p.name}  {gib(sizes[p])} ({why})" for p, why in stale.items()), sep="\n")


def prune_beside(data_dir: Path, dry_run: bool, console: Console) -> None:
    """prune --old beyond the cache: the folders `orphans` finds, each under its lock, so one a run
    began writing since (or an older version is writing) is left alone."""
    verb, gone = "would remove" if dry_run else "removed", []
    for p, why in orphans(data_dir, time.time()).items():
        size = folder_size(p)
        if not dry_run:
            try:
                with locked(folder_lock(p)):
                    shutil.rmtree(p)
            except (Busy, FileNotFoundError):  # taken up (or removed) by another process since
                continue
        console.print(f"{verb} {p.parent.name}/{p.name}: {gib(size)}, {why}")
        gone.append(size)
    if gone:
        console.print(f"{verb} {counted(len(gone), 'folder')} no run reads, {gib(sum(gone))}, from {data_dir}")


def choose(found: list[Entry], keep_bytes: int | None, unused_seconds: float | None, everything: bool,
           now: float, old: bool = False) -> list[Entry]:
    """The entries to remove: all, those in an older layout (`old`), those unused for too long,
    and then the least recently used until what is left fits in `keep_bytes`."""
    if everything:
        return list(found)
    doomed = [e for e in found if (unused_seconds is not None and now - e.last_used > unused_seconds)
              or (old and e.outdated)]
    if keep_bytes is not None:
        kept, full = 0, False
        for e in found:  # most recently used first: keep them until one does not fit, then none older
            if e in doomed:
                continue
            full = full or kept + e.size > keep_bytes
            if full:
                doomed.append(e)
            else:
                kept += e.size
    return doomed


IN_USE = "a run is embedding or reading it; prune again once it has"


def remove_entry(path: Path) -> str | None:
    """Remove the entry at `path` whole, or say why it stays (None: removed)."""
    try:  # under its lock: removed between a run's writing and reading it back, it stopped that run
        with locked(writer_lock(path)):
            for f in entry_files(path):  # the states first: an entry either stays whole or goes
                f.unlink(missing_ok=True)
    except Busy:
        return IN_USE
    except PermissionError:  # Windows removes no file another process has open (a run maps its entries)
        return "a running job has it open; prune again once it has ended"
    return None


def in_use(path: Path) -> str | None:
    """What `remove_entry` would say keeps the entry at `path` now, removing nothing (a dry run
    listed an entry a run held as going, which the real prune then kept)."""
    return IN_USE if held_elsewhere(writer_lock(path)) else None


def prune(folder: Path, args, console: Console) -> None:
    now = time.time()
    keep = None if args.keep_gb is None else int(args.keep_gb * 2**30)
    unused = None if args.unused_days is None else args.unused_days * 86400
    found = entries(folder)
    doomed = choose(found, keep, unused, args.all, now, args.old)
    stale = leftovers(folder, now)
    verb = "would remove" if args.dry_run else "removed"
    for e in list(doomed):
        kept = in_use(e.path) if args.dry_run else remove_entry(e.path)
        if kept is not None:
            console.print(f"{'would keep' if args.dry_run else 'kept'} {e.path.name}: {kept}")
            doomed.remove(e)
        else:
            holds, which = describe(e)  # which: entries of one split differ by backbone, layer or dtype alone
            console.print(f"{verb} {e.path.name}: {gib(e.size)}, used {age(now - e.last_used)}, "
                          f"holds {holds} of {which}")
    freed = sum(e.size for e in doomed) + sum(piece_size(p) for p in stale)
    left = sum(e.size for e in found) - sum(e.size for e in doomed)
    for p in stale:
        if not args.dry_run:
            with contextlib.suppress(Busy), locked(writer_lock(p)):  # a run that began writing it since is left alone
                p.unlink(missing_ok=True)
    console.print(f"{verb} {counted(len(doomed), 'entry', 'entries')} and {counted(len(stale), 'leftover piece')}, "
                  f"{gib(freed)}; {gib(left)} left in {folder}")


# What an interrupted prune leaves: an entry loses its states before its description, so one cut short leaves a
# description without states, a leftover piece; an rmtree cut short leaves a folder of the same name and kind
STOPPED = ("what is said removed above is gone, the rest is left as it was; the same prune again goes on, "
           "and removes what a removal cut short left behind")


def run(args, data_dir: Path, console: Console) -> None:
    """The command's work, once its arguments are checked."""
    folder = data_dir / "embeddings"
    if folder.exists() and not folder.is_dir():  # training refuses it too (a file where a folder goes)
        console.print(f"{folder} is a file, not the embedding cache's folder: no embedding cache "
                      f"(training with train.data_dir={args.data_dir} stops until it is moved away)")
    elif not folder.is_dir():
        console.print(f"no embedding cache in {folder} (nothing has been embedded with train.data_dir={args.data_dir})")
    elif args.command == "list":
        show(folder, console)
    else:
        prune(folder, args, console)
    # Also without an embedding cache: a converted backbone of an older layout takes room all the same.
    if args.command == "list":
        show_beside(data_dir, console)
    elif args.old:
        prune_beside(data_dir, args.dry_run, console)


@plain_warnings()  # ours in one line: `warning: ...`
def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", default=TrainConfig.data_dir, type=given_path,
                        help="train.data_dir of the runs whose cache this is (default: %(default)s)")
    # --data-dir also after the command (`hybrid-cache list --data-dir X`, as people type it); given
    # there it wins, and it is not set there otherwise, so the one before the command stands.
    after = argparse.ArgumentParser(add_help=False)
    after.add_argument("--data-dir", default=argparse.SUPPRESS, type=given_path, help=argparse.SUPPRESS)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("list", parents=[after], help="entries, most recently used first; then the rest of data_dir")
    p = commands.add_parser("prune", parents=[after], help="remove entries by last use; with --old, also folders no run reads")
    p.add_argument("--keep-gb", type=float, help="remove the least recently used entries until this many GiB remain")
    p.add_argument("--unused-days", type=float, help="remove entries no run has read for this many days")
    p.add_argument("--old", action="store_true",
                   help="remove entries in a layout older versions wrote, and converted/ and tiny/ folders they saved "
                        "without the -transformers<major> suffix (never read again), and *.tmp folders of interrupted "
                        "writes that no run is writing. Current datasets/, converted/ and tiny/ folders are left alone: runs reuse them, and "
                        "they are small or slow to make again")
    p.add_argument("--all", action="store_true", help="remove every entry")
    p.add_argument("--dry-run", action="store_true", help="say what would be removed, remove nothing")
    args = parser.parse_args(argv)
    # Checked before looking at the folder: a bad command is an error even where nothing has
    # been embedded yet, so a script that runs it fails on the first machine, not the tenth.
    if args.command == "prune":
        if args.keep_gb is None and args.unused_days is None and not (args.all or args.old):
            parser.error("prune needs --keep-gb N, --unused-days D, --old or --all (add --dry-run to see what would go)")
        # float() also reads nan and inf, which no size or age is (nan would compare false and remove nothing)
        if any(value is not None and not 0 <= value < math.inf for value in (args.keep_gb, args.unused_days)):
            parser.error("--keep-gb and --unused-days take a finite number >= 0")
    data_dir = Path(args.data_dir).expanduser()
    if not data_dir.is_dir() and args.data_dir != TrainConfig.data_dir:
        # A --data-dir that does not exist is a typo, not an empty cache ("nothing to prune" would hide it).
        parser.error(f"--data-dir {args.data_dir}: " + ("a file, not a folder" if data_dir.exists() else "no such folder"))
    try:  # a stop is one line and the signal's exit status, as training and eval say theirs: not a traceback
        with sigterm_raises():  # nor silence (SIGTERM, SIGHUP)
            run(args, data_dir, printing_console())
    except KeyboardInterrupt as stop:
        name, status = stopped_by(stop)
        left = STOPPED if args.command == "prune" and not args.dry_run else "nothing was changed"
        print(f"\n{name}: stopped; {left}", file=sys.stderr, flush=True)
        sys.exit(status)


if __name__ == "__main__":
    sys.exit(main())
