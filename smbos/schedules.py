"""Scheduled tasks seen from outside the agent: whether its runtime can run them, and pause,
resume and cancel through NanoClaw's own IPC (never its database).

The runtime image's entrypoint records at every start, in the instance directory, what the built
NanoClaw can do (`.smbos-runtime.json`: a scheduler loop, an IPC watcher, task ids honoured) and
how the declared schedules were reconciled. An action is a task file in the IPC folder of the
task's own group (`state/<id>/data/ipc/<folder>/tasks/`), which NanoClaw's watcher consumes within
a second; `apply()` then waits until `/api/tasks` shows the change.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from smbos.errors import NotFound, Refused, SmbosError

FACTS_FILE = ".smbos-runtime.json"
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
        return Support(None, "not known: the agent has not started with an image built by "
                             "`smbos build`")
    missing = [what for key, what in (("scheduler", "no scheduler loop"),
                                      ("watcher", "no IPC watcher"),
                                      ("taskIds", "schedule_task ignores task ids"))
               if not caps.get(key)]
    declared = int(facts.get("declared") or 0)
    if missing:
        return Support(False, "its NanoClaw cannot run scheduled tasks (" + ", ".join(missing)
                       + "); rebuild the image with `smbos build`, whose runtime patches add "
                         "them", declared)
    return Support(True, "", declared)


def queue(instance_dir: Path, task_id: str, group_folder: str, action: str) -> Path:
    """Write the IPC file that asks the runtime to pause, resume or cancel a task."""
    if action not in ACTIONS:
        raise SmbosError(f"unknown task action {action!r}; expected one of {', '.join(ACTIONS)}")
    folder = instance_dir / "data" / "ipc" / group_folder / "tasks"
    if not folder.is_dir():
        raise Refused(f"{folder}: no IPC folder (is the agent running?)")
    target = folder / f"smbos-{time.time_ns()}-{ACTIONS[action]}.json"
    tmp = target.with_name(target.name + ".tmp")
    try:
        tmp.write_text(json.dumps({"type": ACTIONS[action], "taskId": task_id}) + "\n")
        os.chmod(tmp, 0o644)
        os.replace(tmp, target)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise Refused(f"cannot write {target}: {exc.strerror or exc} (the runtime's uid 1000 "
                      "owns it: run as root or as that user)") from None
    return target


def done(action: str, task) -> bool:
    """Whether `task` (None when gone) shows that `action` took effect."""
    if action == "cancel":
        return task is None
    return task is not None and task.status == ("paused" if action == "pause" else "active")


def apply(instance_dir: Path, task_id: str, action: str, fetch: Callable[[], list],
          timeout: float = 15.0, interval: float = 0.5):
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
            left = " (the IPC file is still queued: is the runtime's IPC watcher running?)" \
                if file.exists() else ""
            raise Refused(f"task {task_id}: the runtime did not {action} it within "
                          f"{timeout:g} s{left}")
        time.sleep(interval)
