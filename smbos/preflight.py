"""Getting the host ready for the containers: folders the runtime user can read and write.

The runtime runs as uid 1000 (docs/container-interface.md). Its instance directory
(`state/<id>`) is SMBOS's own and is created here; the memory folder must be writable and `.env`
readable by that uid. As root, SMBOS hands them to uid 1000; as anyone else it says what to run.
"""

from __future__ import annotations

import os
import pwd
import socket
import stat
from pathlib import Path
from typing import TYPE_CHECKING

from smbos import integrations, walk
from smbos.agent import Agent
from smbos.errors import Problem
from smbos.nanoclaw.interface import RUNTIME_GID, RUNTIME_UID

if TYPE_CHECKING:  # only its type: `smbos env` imports this module and needs no renderer
    from smbos.compose import Host

# Accounts that are the runtime's own when they hold its uid: the image's user (`node`, of the
# Node base images) or one made for it.
RUNTIME_ACCOUNTS = frozenset({"node", "nanoclaw", "smbos"})


def runtime_account_warning() -> str:
    """As root, SMBOS hands files to uid 1000, the runtime's user (fixed by its image). When that
    uid is a person's account on this host, that person can read what is handed over (each
    agent's `.env`, its secrets): one line saying so and what to do; "" when the uid is unused,
    an account of the runtime's (RUNTIME_ACCOUNTS) or the operator's own (`SUDO_USER`)."""
    try:
        account = pwd.getpwuid(RUNTIME_UID).pw_name
    except KeyError:
        return ""
    if account in RUNTIME_ACCOUNTS or account == os.environ.get("SUDO_USER"):
        return ""
    return (
        f"warning: uid {RUNTIME_UID}, the runtime's user (fixed by its image), is the "
        f"account {account!r} on this host: {account!r} can read what SMBOS hands to the "
        "runtime (each agent's .env with its secrets, memory/, state/); if it must not, "
        f"give {account!r} another uid (`usermod -u`) so that uid {RUNTIME_UID} is the "
        "runtime's alone, or run smbos as a user other than root (it then only prints the "
        "chown to run)"
    )


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
            failed.append(
                f"cannot chown {walk.short(entry.rel)}: {(exc.strerror or str(exc)).lower()}"
            )
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
            whose = runtime_account_warning()
            if whose and whose not in notes:
                notes.append(whose)
            partly = _chown_tree(path)
            if path == agent.env_path:
                os.chmod(path, 0o600)
            if partly:
                notes.append(
                    f"warning: gave {path} to uid {RUNTIME_UID} (the runtime's user) "
                    f"only in part ({partly}); run `sudo chown -R {RUNTIME_UID}:"
                    f"{RUNTIME_GID} {path}` for the rest"
                )
            else:
                notes.append(f"gave {path} to uid {RUNTIME_UID} (the runtime's user)")
            continue
        problems.append(
            Problem(
                str(path),
                "permissions",
                f"{what} is not {'writable' if want == 7 else 'readable'} by uid "
                f"{RUNTIME_UID}, the runtime's user; run `sudo chown -R "
                f"{RUNTIME_UID}:{RUNTIME_GID} {path}`",
            )
        )
    folder = agent.folder
    if not _can(folder, RUNTIME_UID, RUNTIME_GID, 5):
        if root:
            os.chmod(folder, stat.S_IMODE(folder.stat().st_mode) | 0o005)
        else:
            problems.append(
                Problem(
                    str(folder),
                    "permissions",
                    f"not readable by uid {RUNTIME_UID}; run `chmod o+rx {folder}`",
                )
            )
    return problems


def port_free(port: int) -> bool:
    """Whether nothing listens on 127.0.0.1:port."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.3)
        return sock.connect_ex(("127.0.0.1", port)) != 0
