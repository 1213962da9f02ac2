"""Getting the host ready for the containers: folders the runtime user can read and write.

The runtime runs as uid 1000 (docs/container-interface.md). Its instance directory
(`state/<id>`) is SMBOS's own and is created here; the memory folder must be writable and `.env`
readable by that uid. As root, SMBOS hands them to uid 1000; as anyone else it says what to run.
"""

from __future__ import annotations

import os
import socket
import stat
from pathlib import Path

from smbos import integrations, walk
from smbos.agent import Agent
from smbos.compose import Host
from smbos.errors import Problem
from smbos.interface import RUNTIME_GID, RUNTIME_UID



def _can(path: Path, uid: int, gid: int, want: int) -> bool:
    """Whether uid:gid has the permission bits `want` (r=4, w=2, x=1) on `path`."""
    info = path.stat()
    if info.st_uid == uid:
        bits = (info.st_mode >> 6) & 7
    elif info.st_gid == gid:
        bits = (info.st_mode >> 3) & 7
    else:
        bits = info.st_mode & 7
    return bits & want == want


def _chown_tree(path: Path) -> str:
    """Give `path` and what is under it to the runtime's user, never through a link. The
    runtime writes these folders, so they are walked within limits (smbos.walk); returns why
    not everything was reached ("" when it was)."""
    os.chown(path, RUNTIME_UID, RUNTIME_GID, follow_symlinks=False)
    if not path.is_dir() or path.is_symlink():
        return ""
    seen = walk.walk(path)
    failed: list[str] = []
    for entry in seen.entries:
        try:
            os.chown(entry.path, RUNTIME_UID, RUNTIME_GID, follow_symlinks=False)
        except OSError as exc:
            failed.append(f"cannot chown {walk.short(entry.rel)}: "
                          f"{(exc.strerror or str(exc)).lower()}")
    return "; ".join(filter(None, [seen.note, *failed[:1]]))


def prepare(agent: Agent, host: Host, notes: list[str]) -> list[Problem]:
    """Make `agent`'s folders usable by the runtime user; return what is still wrong."""
    problems: list[Problem] = []
    root = os.geteuid() == 0
    state = host.state_dir(agent.id)
    state.mkdir(parents=True, exist_ok=True)
    targets = [(state, 7, "the instance directory"), (agent.memory_dir, 7, "the memory folder")]
    if agent.env_path.is_file():
        targets.append((agent.env_path, 4, "the secrets file"))
    # Credential folders: read (and, where the server refreshes its token, written) in turns.
    for folder, writable in integrations.credential_dirs(agent):
        targets.append((folder, 7 if writable else 5, "the credentials folder"))
    for path, want, what in targets:
        if _can(path, RUNTIME_UID, RUNTIME_GID, want):
            continue
        if root:
            partly = _chown_tree(path)
            if path == agent.env_path:
                os.chmod(path, 0o600)
            if partly:
                notes.append(f"warning: gave {path} to uid {RUNTIME_UID} (the runtime's user) "
                             f"only in part ({partly}); run `sudo chown -R {RUNTIME_UID}:"
                             f"{RUNTIME_GID} {path}` for the rest")
            else:
                notes.append(f"gave {path} to uid {RUNTIME_UID} (the runtime's user)")
            continue
        problems.append(Problem(str(path), "permissions",
                                f"{what} is not {'writable' if want == 7 else 'readable'} by uid "
                                f"{RUNTIME_UID}, the runtime's user; run `sudo chown -R "
                                f"{RUNTIME_UID}:{RUNTIME_GID} {path}`"))
    folder = agent.folder
    if not _can(folder, RUNTIME_UID, RUNTIME_GID, 5):
        if root:
            os.chmod(folder, stat.S_IMODE(folder.stat().st_mode) | 0o005)
        else:
            problems.append(Problem(str(folder), "permissions",
                                    f"not readable by uid {RUNTIME_UID}; run `chmod o+rx {folder}`"))
    return problems


def port_free(port: int) -> bool:
    """Whether nothing listens on 127.0.0.1:port."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.3)
        return sock.connect_ex(("127.0.0.1", port)) != 0
