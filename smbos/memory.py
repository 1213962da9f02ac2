"""An agent's memory folder as SMBOS shows it (`smbos memory`, the UI's memory tab): listed and
read, never written. The runtime writes this folder, so it is walked within limits
(`smbos.walk`), never through a link out of it, and a file that holds secrets (the runtime's MCP
configuration, the entrypoint's temporary files) or that has more than one name (a hard link,
which may be any file on the host) is never shown; what is shown is redacted (`smbos.redact`).
"""

from __future__ import annotations

import errno
import os
import re
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from smbos import redact, walk
from smbos.agent import Agent
from smbos.errors import Forbidden, NotFound, NotText, SmbosError, TooLarge
from smbos.nanoclaw.interface import MCP_CONFIG_FILE, TEMP_PREFIX

MEMORY_MAX_BYTES = 512 * 1024
MEMORY_MAX_FILES = 1000
# Files in the memory folder that hold secrets (the runtime's MCP configuration): never shown.
PRIVATE_MEMORY_FILES = frozenset({MCP_CONFIG_FILE, ".env"})
# The entrypoint writes files atomically through `.smbos-tmp.<name>` (older images:
# `.<name>.smbos-tmp`); such a file may hold the whole MCP configuration, secrets included.
OLD_TEMP_SUFFIX = ".smbos-tmp"


def is_private_memory(name: str) -> bool:
    """Whether a file of the memory folder is never listed nor shown."""
    return (
        name in PRIVATE_MEMORY_FILES
        or name.startswith(TEMP_PREFIX)
        or name.endswith(OLD_TEMP_SUFFIX)
    )


def _memory_root(agent: Agent) -> Path:
    root = agent.memory_dir
    if not root.is_dir():
        raise NotFound(f"agent {agent.id!r} has no memory folder")
    return Path(os.path.realpath(root))


@dataclass(frozen=True)
class MemoryListing:
    """The files of a memory folder, and why the listing is incomplete ("" when it is not)."""

    files: list[dict[str, Any]]
    stopped: str = ""


def _inside(path: str, root: Path) -> bool:
    return path.startswith(f"{root}{os.sep}")


def list_memory(agent: Agent) -> MemoryListing:
    """The files in the agent's memory folder (relative paths), walked within limits
    (smbos.walk: the runtime writes this folder), never following a link out of it. A file with
    other names (a hard link) is listed as not viewable, with the reason."""
    root = _memory_root(agent)
    seen = walk.walk(root, skip=is_private_memory)
    files: list[dict[str, Any]] = []
    for entry in seen.entries:
        if entry.kind == walk.LINK:
            target = os.path.realpath(entry.path)
            if not _inside(target, root) or any(
                is_private_memory(p) for p in Path(target).relative_to(root).parts
            ):
                continue
        elif entry.kind != walk.FILE:
            continue
        if len(files) >= MEMORY_MAX_FILES:
            return MemoryListing(files, f"stopped at limit: more than {MEMORY_MAX_FILES} files")
        try:
            info = os.stat(entry.path)
        except OSError:
            continue
        if not stat.S_ISREG(info.st_mode):
            continue
        item = {
            "path": entry.rel,
            "size": info.st_size,
            "modified": info.st_mtime,
            "viewable": info.st_size <= MEMORY_MAX_BYTES,
        }
        if info.st_nlink > 1:
            item.update(viewable=False, note=walk.HARD_LINK.format(links=info.st_nlink))
        files.append(item)
    return MemoryListing(files, seen.note)


def read_memory(agent: Agent, rel: str) -> str:
    """One memory file as text. Refuses paths outside the memory folder (`..`, absolute paths,
    links that point out), files with other names (hard links: walk.HARD_LINK), files over
    MEMORY_MAX_BYTES, and anything that is not UTF-8 text."""
    root = _memory_root(agent)
    if not rel or "\0" in rel or rel.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", rel):
        raise SmbosError("expected a path inside the memory folder, such as context.md")
    parts = [p for p in rel.replace("\\", "/").split("/") if p not in ("", ".")]
    if ".." in parts:
        raise SmbosError("expected a path inside the memory folder ('..' leads out of it)")
    if not parts:
        raise SmbosError("expected a file inside the memory folder, such as context.md")
    shown = walk.short(rel)
    # realpath, not Path.resolve: a link loop must be "no such file", not a RuntimeError.
    path = Path(os.path.realpath(root.joinpath(*parts)))
    if not _inside(str(path), root):
        raise SmbosError(f"{shown!r} leads out of the memory folder (a link)")
    if any(is_private_memory(p) for p in (*parts, *path.relative_to(root).parts)):
        raise Forbidden(f"{shown!r} holds secrets and is never shown")
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as exc:
        if exc.errno in (errno.ENOENT, errno.ENOTDIR, errno.ELOOP, errno.ENAMETOOLONG):
            raise NotFound(f"no memory file {shown!r}") from None
        raise Forbidden(f"{shown}: cannot read: {(exc.strerror or str(exc)).lower()}") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise NotFound(f"no memory file {shown!r}")
        if info.st_nlink > 1:
            raise Forbidden(f"{shown}: {walk.HARD_LINK.format(links=info.st_nlink)}")
        if info.st_size > MEMORY_MAX_BYTES:
            raise TooLarge(
                f"{shown}: {info.st_size} bytes is more than the {MEMORY_MAX_BYTES} bytes shown"
            )
        data = b""
        while len(data) <= MEMORY_MAX_BYTES:
            chunk = os.read(fd, MEMORY_MAX_BYTES + 1 - len(data))
            if not chunk:
                break
            data += chunk
    finally:
        os.close(fd)
    if len(data) > MEMORY_MAX_BYTES:
        raise TooLarge(f"{shown}: more than the {MEMORY_MAX_BYTES} bytes shown")
    if b"\0" in data:
        raise NotText(f"{shown}: not a text file")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise NotText(f"{shown}: not UTF-8 text") from None
    # The runtime writes here too (a failed turn logs its input, key included, in logs/).
    return redact.for_agent(agent)(text)
