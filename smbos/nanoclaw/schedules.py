"""Scheduled tasks seen from outside the agent: whether its runtime can run them, and pause,
resume and cancel through NanoClaw's own IPC (never its database).

The runtime image's entrypoint records at every start, in the instance directory, what the built
NanoClaw can do (`.smbos-runtime.json`: a scheduler loop, an IPC watcher, task ids honoured) and
how the declared schedules were reconciled. An action is a task file in the IPC folder of the
task's own group (`state/<id>/data/ipc/<folder>/tasks/`), which NanoClaw's watcher consumes within
a second; `apply()` then waits until `/api/tasks` shows the change.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from smbos.errors import NotFound, Refused, SmbosError
from smbos.nanoclaw import ipc
from smbos.nanoclaw.interface import RUNTIME_FACTS_FILE as FACTS_FILE

ACTIONS = {"pause": "pause_task", "resume": "resume_task", "cancel": "cancel_task"}


@dataclass(frozen=True)
class Support:
    """Whether the agent's runtime runs schedules: True, False, or None when not known yet."""

    ok: bool | None
    reason: str = ""
    declared: int = 0

    def to_json(self) -> dict:
        return {"ok": self.ok, "reason": self.reason, "declared": self.declared}


def support(instance_dir: Path) -> Support:
    try:
        facts = json.loads((instance_dir / FACTS_FILE).read_text(encoding="utf-8"))
        caps = facts["schedules"]
    except (OSError, ValueError, KeyError, TypeError):
        return Support(
            None, "not known: the agent has not started with an image built by `smbos build`"
        )
    missing = [
        what
        for key, what in (
            ("scheduler", "no scheduler loop"),
            ("watcher", "no IPC watcher"),
            ("taskIds", "schedule_task ignores task ids"),
        )
        if not caps.get(key)
    ]
    declared = int(facts.get("declared") or 0)
    if missing:
        return Support(
            False,
            "its NanoClaw cannot run scheduled tasks ("
            + ", ".join(missing)
            + "); rebuild the image with `smbos build`, whose runtime patches add "
            "them",
            declared,
        )
    return Support(True, "", declared)


# NanoClaw's own rule for a group folder's name (`isValidGroupFolder`, src/group-folder.ts of
# upstream NanoClaw; the pinned fork fd6e44d has no such check, so SMBOS applies it itself): a
# letter or digit, then up to 63 letters, digits, '_' or '-'; never `global`, in any case.
GROUP_FOLDER_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")
RESERVED_GROUP_FOLDERS = frozenset({"global"})
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_FILE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC


def valid_group_folder(folder: object) -> bool:
    return (
        isinstance(folder, str)
        and GROUP_FOLDER_RE.fullmatch(folder) is not None
        and folder.lower() not in RESERVED_GROUP_FOLDERS
    )


def _open_tasks_folder(instance_dir: Path, folder: str, what: str) -> int:
    """A handle on `<instance_dir>/data/ipc/<folder>/tasks`, opened one part at a time without
    following a link: a link anywhere on the way (the instance folder itself included) would let
    the runtime, which writes this tree, aim the operator's write anywhere on the host."""
    parts = ipc.tasks_parts(folder)
    where = instance_dir
    try:
        fd = os.open(instance_dir, _DIR_FLAGS)
    except OSError as exc:
        raise _refusal(exc, where, what) from None
    try:
        for part in parts:
            where = where / part
            try:
                inner = os.open(part, _DIR_FLAGS, dir_fd=fd)
            except OSError as exc:
                raise _refusal(exc, where, what) from None
            os.close(fd)
            fd = inner
    except BaseException:
        os.close(fd)
        raise
    return fd


def _refusal(exc: OSError, where: Path, what: str) -> Refused:
    if exc.errno == errno.ENOENT:
        return Refused(f"{what}: {where}: no IPC folder (is the agent running?)")
    if exc.errno in (errno.ELOOP, errno.ENOTDIR):
        return Refused(
            f"{what}: {where} is a link (or not a folder); refusing to write through "
            "it, since the runtime writes this tree; nothing was written"
        )
    return Refused(f"{what}: cannot open {where}: {(exc.strerror or str(exc)).lower()}")


def queue(instance_dir: Path, task_id: str, group_folder: str, action: str) -> Path:
    """Write the IPC file that asks the runtime to pause, resume or cancel a task, into the
    tasks folder of the task's own group. The runtime reports `group_folder`: a name NanoClaw
    would not make, or a link on the way, is refused (Refused, naming the task and the folder)."""
    if action not in ACTIONS:
        raise SmbosError(f"unknown task action {action!r}; expected one of {', '.join(ACTIONS)}")
    shown = repr(group_folder[:80] if isinstance(group_folder, str) else group_folder)
    what = f"task {str(task_id)[:80]}: group folder {shown}"
    if not valid_group_folder(group_folder):
        raise Refused(
            f"{what} is not a folder name NanoClaw makes (a letter or digit, then up "
            "to 63 letters, digits, '_' or '-'; not 'global'); nothing was written"
        )
    name = ipc.job_file(f"{time.time_ns()}-{ACTIONS[action]}")
    tmp = f".{name}.tmp"  # not *.json: the runtime's watcher never reads half a file
    job = ipc.job(ACTIONS[action], taskId=task_id)
    fd = _open_tasks_folder(instance_dir, group_folder, what)
    data = (json.dumps(job) + "\n").encode()
    try:
        file = os.open(tmp, _FILE_FLAGS, 0o644, dir_fd=fd)
        try:
            os.fchmod(file, 0o644)
            os.write(file, data)
        finally:
            os.close(file)
        os.rename(tmp, name, src_dir_fd=fd, dst_dir_fd=fd)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp, dir_fd=fd)
        raise Refused(
            f"{what}: cannot write {name}: {exc.strerror or exc} (the runtime's uid "
            "1000 owns it: run as root or as that user)"
        ) from None
    finally:
        os.close(fd)
    return instance_dir.joinpath(*ipc.tasks_parts(group_folder), name)


def done(action: str, task) -> bool:
    """Whether `task` (None when gone) shows that `action` took effect."""
    if action == "cancel":
        return task is None
    return task is not None and task.status == ("paused" if action == "pause" else "active")


def apply(
    instance_dir: Path,
    task_id: str,
    action: str,
    fetch: Callable[[], list],
    timeout: float = 15.0,
    interval: float = 0.5,
):
    """Pause, resume or cancel `task_id` and wait until `fetch()` (the runtime's tasks) shows it.
    Returns the task as it is now (None once cancelled)."""
    tasks = {str(t.id): t for t in fetch()}
    task = tasks.get(task_id)
    if task is None:
        known = ", ".join(sorted(tasks)) or "none"
        raise NotFound(f"no task {task_id!r} (tasks: {known})")
    if done(action, task) and action != "cancel":
        return task
    file = queue(instance_dir, task_id, task.group_folder, action)
    deadline = time.monotonic() + timeout
    while True:
        current = {str(t.id): t for t in fetch()}.get(task_id)
        if done(action, current):
            return current
        if time.monotonic() > deadline:
            left = (
                " (the IPC file is still queued: is the runtime's IPC watcher running?)"
                if file.exists()
                else ""
            )
            raise Refused(
                f"task {task_id}: the runtime did not {action} it within {timeout:g} s{left}"
            )
        time.sleep(interval)
