"""Pause, resume and cancel write an IPC file where the runtime's `group_folder` says, and the
runtime is not trusted with it: a folder name NanoClaw would not make, or a link anywhere on the
way (state/<id> itself, data, ipc, the group's folder, tasks), is refused naming the task and
the folder, and nothing is written outside the agent's own IPC tree (smbos/nanoclaw/schedules.py)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from smbos.nanoclaw import schedules
from smbos.errors import Refused


@pytest.fixture
def tree(tmp_path) -> tuple[Path, Path]:
    """state/alice with its IPC tree, and bob's beside it (what an attack would aim at)."""
    state = tmp_path / "state"
    for agent_id in ("alice", "bob"):
        for group in ("main", "web-chat"):
            (state / agent_id / "data" / "ipc" / group / "tasks").mkdir(parents=True)
    return state / "alice", state / "bob"


def written(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file())


@pytest.mark.parametrize(
    "folder",
    [
        "../../../bob/data/ipc/main",
        "..",
        ".",
        "",
        "/etc",
        "/tmp/x",
        "web-chat/../main",
        "a/b",
        "-dash",
        "_under",
        "x" * 65,
        "global",
        "GLOBAL",
        " main",
        "main\n",
        "mai\x00n",
        "web chat",
        "ü",
        "main\\x",
    ],
)
def test_a_folder_name_nanoclaw_would_not_make_is_refused(tree, folder):
    alice, bob = tree
    with pytest.raises(Refused) as info:
        schedules.queue(alice, "t1", folder, "pause")
    message = str(info.value)
    assert message.startswith("task t1: group folder ") and repr(folder[:80]) in message
    assert "\n" not in message
    assert written(alice.parent) == [], "nothing written anywhere"


@pytest.mark.parametrize("where", ["instance", "data", "ipc", "group", "tasks"])
def test_a_link_on_the_way_is_refused(tree, where):
    alice, bob = tree
    inside = {
        "instance": alice,
        "data": alice / "data",
        "ipc": alice / "data" / "ipc",
        "group": alice / "data" / "ipc" / "main",
        "tasks": alice / "data" / "ipc" / "main" / "tasks",
    }[where]
    target = {
        "instance": bob,
        "data": bob / "data",
        "ipc": bob / "data" / "ipc",
        "group": bob / "data" / "ipc" / "main",
        "tasks": bob / "data" / "ipc" / "main" / "tasks",
    }[where]
    os.rename(inside, inside.with_name(inside.name + ".real"))
    os.symlink(target, inside)
    with pytest.raises(Refused) as info:
        schedules.queue(alice, "t1", "main", "cancel")
    assert "task t1: group folder 'main'" in str(info.value)
    assert "a link" in str(info.value)
    assert written(bob) == [] and written(alice.parent) == []


def test_a_valid_folder_gets_one_file_in_its_own_tasks_folder(tree):
    alice, bob = tree
    for folder in ("main", "web-chat", "telegram-100123", "A_1", "x" * 64):
        (alice / "data" / "ipc" / folder / "tasks").mkdir(parents=True, exist_ok=True)
        path = schedules.queue(alice, "t1", folder, "resume")
        assert path.parent == alice / "data" / "ipc" / folder / "tasks"
        assert path.read_text() == '{"type": "resume_task", "taskId": "t1"}\n'
        assert oct(path.stat().st_mode & 0o777) == oct(0o644)
    assert written(bob) == []
    assert not [p for p in alice.rglob("*.tmp")]


def test_a_missing_ipc_folder_says_so(tree):
    alice, _ = tree
    with pytest.raises(Refused, match="no IPC folder .*is the agent running"):
        schedules.queue(alice, "t1", "telegram-5", "pause")
