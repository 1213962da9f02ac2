"""Walking a folder that the runtime writes, within limits.

An agent's runtime (and the model behind it) writes `agents/<id>/memory` and `state/<id>`, so
anything can be there: a thousand nested folders, names past the system's path limit, link
loops, a million files. Every walk of such a folder goes through `walk`, which never recurses
(an explicit stack), never follows a link, and stops at a depth, a number of entries or a
deadline, whichever comes first. It returns what it saw and, when it did not see everything,
one line saying why (`Walk.note`); a folder it cannot read (too long a name, a loop, no
permission) is part of that line, never an exception. So one agent's strange folder costs at most
the limits, and is reported for that agent alone.

**Hard links.** A regular file with more than one name (`st_nlink > 1`) in such a folder may be
another name of any file its writer could reach: another agent's `.env` in a shared state folder,
or `/etc/shadow` on a host without `fs.protected_hardlinks`. SMBOS never shows the content of
one (`smbos memory`, the UI) and `smbos validate` warns about it (`hard_links`, `HARD_LINK`).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

MAX_DEPTH = 32  # folder levels below the root
MAX_ENTRIES = 20_000  # entries (files, folders, links) seen in one walk
SECONDS = 2.0  # wall time of one walk

DIR, FILE, LINK, OTHER = "dir", "file", "link", "other"


@dataclass(frozen=True)
class Entry:
    path: Path
    rel: str  # relative to the root, with '/'
    kind: str  # DIR, FILE, LINK (never followed) or OTHER (a FIFO, a socket, a device)
    depth: int  # 1 for an entry of the root itself


@dataclass
class Walk:
    entries: list[Entry] = field(default_factory=list)
    stopped: str = ""  # why the walk did not see everything
    unreadable: list[tuple[str, str]] = field(default_factory=list)  # (rel, reason) of folders

    @property
    def complete(self) -> bool:
        return not self.stopped and not self.unreadable

    @property
    def note(self) -> str:
        """One line when the walk is incomplete ("" when complete)."""
        parts = []
        if self.stopped:
            parts.append(f"stopped at limit: {self.stopped}")
        if self.unreadable:
            rel, reason = self.unreadable[0]
            more = f" and {len(self.unreadable) - 1} more" if len(self.unreadable) > 1 else ""
            parts.append(f"cannot read folder {short(rel)}: {reason}{more}")
        return "; ".join(parts)


HARD_LINK = (
    "has {links} names (a hard link): it may be another file on this host, so its "
    "content is never shown; remove it, or replace it with a plain copy"
)


def hard_links(path: Path) -> int:
    """How many names the file at `path` has (1 when it cannot be told: nothing to refuse)."""
    try:
        return os.lstat(path).st_nlink
    except OSError:
        return 1


def short(rel: str, limit: int = 80) -> str:
    """A relative path cut to `limit` characters (a path that stopped a walk may be huge)."""
    return rel if len(rel) <= limit else f"{rel[: limit - 25]}...{rel[-22:]}"


def _kind(entry: os.DirEntry) -> str:
    try:
        if entry.is_symlink():
            return LINK
        if entry.is_dir(follow_symlinks=False):
            return DIR
        if entry.is_file(follow_symlinks=False):
            return FILE
    except OSError:
        pass
    return OTHER


def walk(
    root: Path,
    *,
    skip: Callable[[str], bool] | None = None,
    max_depth: int = MAX_DEPTH,
    max_entries: int = MAX_ENTRIES,
    seconds: float = SECONDS,
) -> Walk:
    """The entries under `root` (not `root` itself), each folder's in name order, a folder's
    entries before those of its subfolders. `skip(name)`: entries left out (and not entered).
    A folder deeper than `max_depth` is listed but not entered; past `max_entries` entries or
    `seconds`, the walk ends. Links are listed as LINK and never followed."""
    out = Walk()
    deadline = time.monotonic() + seconds
    stack: list[tuple[Path, str, int]] = [(root, "", 0)]
    while stack:
        folder, rel, depth = stack.pop()
        try:
            with os.scandir(folder) as it:
                found = sorted(((e.name, _kind(e)) for e in it), key=lambda pair: pair[0])
        except OSError as exc:
            out.unreadable.append((rel or ".", (exc.strerror or str(exc)).lower()))
            continue
        below = []
        for name, kind in found:
            if skip is not None and skip(name):
                continue
            if len(out.entries) >= max_entries:
                out.stopped = f"more than {max_entries} entries"
                return out
            if time.monotonic() > deadline:
                out.stopped = f"took more than {seconds:g} s (at {short(rel or '.')})"
                return out
            path = folder / name
            child = f"{rel}/{name}" if rel else name
            out.entries.append(Entry(path, child, kind, depth + 1))
            if kind == DIR:
                if depth + 1 >= max_depth:
                    out.stopped = out.stopped or (
                        f"folders nested more than {max_depth} deep (at {short(child)})"
                    )
                else:
                    below.append((path, child, depth + 1))
        stack.extend(reversed(below))
    return out
