"""As root, SMBOS hands the runtime's files (an agent's `.env`, memory/, state/) to uid 1000, the
runtime's user, whoever that is on the host: when it is a person's account, SMBOS says so, once,
and what to do (smbos/preflight.py `runtime_account_warning`)."""

from __future__ import annotations

import os
import pwd
from types import SimpleNamespace

import pytest

from smbos import operations as ops
from smbos import preflight
from smbos.project import Project

from .conftest import write_agent


@pytest.mark.parametrize(
    "account,sudo_user,warned",
    [
        (None, None, False),  # uid 1000 is unused on this host: nobody else reads
        ("node", None, False),  # the runtime's own account (the image's user)
        ("alice", "alice", False),  # the operator's own account (sudo)
        ("alice", "root", True),  # a person's account: say so
    ],
)
def test_root_says_when_uid_1000_is_someone_elses_account(
    tmp_path, monkeypatch, account, sudo_user, warned
):
    def getpwuid(uid):
        if account is None or uid != 1000:
            raise KeyError(uid)
        return SimpleNamespace(pw_name=account)

    monkeypatch.setattr(pwd, "getpwuid", getpwuid)
    monkeypatch.setenv("SUDO_USER", sudo_user or "")
    monkeypatch.setattr(os, "geteuid", lambda: 0)
    monkeypatch.setattr(os, "fchown", lambda fd, uid, gid: None)
    monkeypatch.setattr(os, "chown", lambda path, uid, gid, follow_symlinks=True: None)
    expected = (
        "warning: uid 1000, the runtime's user (fixed by its image), is the account "
        "'alice' on this host"
    )
    agents = tmp_path / "agents"
    write_agent(agents, "bob")
    agent = Project.from_options(agents).load().get("bob")
    # smbos env / the settings page, as root: the new .env goes to uid 1000.
    result = ops.update_env(agent, {"ASSISTANT_NAME": "B"})
    said = [w for w in result.warnings if "the runtime's user (fixed" in w]
    assert len(said) == warned and all(w.startswith(expected[9:]) for w in said), said
    if warned:
        assert "'alice' can read" in said[0] and "usermod" in said[0] and "\n" not in said[0]
    # smbos up, as root: what it hands over, once per run whatever the number of agents.
    monkeypatch.setattr(preflight, "_can", lambda path, uid, gid, want: False)
    host = SimpleNamespace(state_dir=lambda agent_id: tmp_path / "state" / agent_id)
    notes: list[str] = []
    for _ in range(2):
        preflight.prepare(agent, host, notes)
    assert sum(note.startswith(expected) for note in notes) == warned, notes
