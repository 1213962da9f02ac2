"""Schedule support and task actions through IPC, secret redaction and the per-turn container
CLI, without an engine (the real runtime runs them in test_real_turns.py).

The entrypoint's reconciliation is tested by node beside it
(smbos/nanoclaw/image/entrypoint/schedules.test.mjs); the `container` CLI here, as it ships: the shell
script run with a fake `docker` first on PATH that records its arguments.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
from types import SimpleNamespace

import pytest

from smbos import redact
from smbos.nanoclaw import schedules
from smbos.errors import SmbosError

from .conftest import ROOT

CONTAINER_CLI = ROOT / "smbos" / "nanoclaw" / "image" / "container"


def test_support_says_why_schedules_cannot_run(tmp_path):
    assert schedules.support(tmp_path).ok is None
    (tmp_path / schedules.FACTS_FILE).write_text(
        json.dumps(
            {"schedules": {"scheduler": False, "watcher": True, "taskIds": False}, "declared": 2}
        )
    )
    support = schedules.support(tmp_path)
    assert support.ok is False and support.declared == 2
    assert "no scheduler loop" in support.reason and "ignores task ids" in support.reason
    assert "smbos build" in support.reason
    (tmp_path / schedules.FACTS_FILE).write_text(
        json.dumps({"schedules": {"scheduler": True, "watcher": True, "taskIds": True}})
    )
    assert schedules.support(tmp_path).ok is True


def test_a_task_action_is_an_ipc_file_in_the_tasks_own_group_and_waits_for_the_runtime(tmp_path):
    ipc = tmp_path / "data" / "ipc" / "tg-chat" / "tasks"
    ipc.mkdir(parents=True)
    state = {"status": "active"}

    def fetch():
        # The runtime: consumes the IPC file and applies it, as NanoClaw's watcher does.
        for file in ipc.glob("*.json"):
            data = json.loads(file.read_text())
            assert data == {"type": "pause_task", "taskId": "t1"}
            state["status"] = "paused"
            file.unlink()
        return [SimpleNamespace(id="t1", group_folder="tg-chat", status=state["status"])]

    task_now = schedules.apply(tmp_path, "t1", "pause", fetch, timeout=5, interval=0.01)
    assert task_now.status == "paused"
    with pytest.raises(SmbosError, match=r"no task 'nope' \(tasks: t1\)"):
        schedules.apply(tmp_path, "nope", "pause", fetch)


def test_a_task_action_the_runtime_never_applies_times_out_saying_why(tmp_path):
    (tmp_path / "data" / "ipc" / "web-chat" / "tasks").mkdir(parents=True)

    def fetch():
        return [SimpleNamespace(id="t1", group_folder="web-chat", status="active")]

    with pytest.raises(SmbosError, match="did not cancel it within 0.2 s .*IPC watcher"):
        schedules.apply(tmp_path, "t1", "cancel", fetch, timeout=0.2, interval=0.05)


# ------------------------------------------------------------------------------ redaction


def test_every_long_env_value_is_redacted_and_settings_are_not(tmp_path):
    env = tmp_path / ".env"
    env.write_text(
        "ANTHROPIC_API_KEY=sk-ant-canary-0123456789\nDB_PASS=hunter2hunter2\n"
        "TELEGRAM_ONLY=true\nTZ_NAME=Europe/Berlin\nPIN=1234\nPORTNUM=31337000\n"
    )
    scrub = redact.Redactor.for_env_file(env)
    text = (
        "key sk-ant-canary-0123456789 and hunter2hunter2 in Europe/Berlin; "
        "TELEGRAM_ONLY=true 1234 31337000"
    )
    assert scrub(text) == (
        "key [secret ANTHROPIC_API_KEY] and [secret DB_PASS] in "
        "[secret TZ_NAME]; TELEGRAM_ONLY=true 1234 31337000"
    )
    assert scrub.deep({"a": [text, 3, None]})["a"][0].startswith("key [secret")
    assert redact.Redactor.for_env_file(tmp_path / "missing")("x") == "x"


def test_a_longer_secret_containing_a_shorter_one_is_redacted_whole(tmp_path):
    scrub = redact.Redactor.from_values({"SHORT": "abcdefgh", "LONG": "abcdefgh-ijklmnop"})
    assert scrub("abcdefgh-ijklmnop abcdefgh") == "[secret LONG] [secret SHORT]"


# ------------------------------------------------------------------------ the container CLI


@pytest.fixture
def fake_docker(tmp_path):
    """A `docker` that records its arguments and answers `ps` from a canned list."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    log = tmp_path / "docker.log"
    script = bin_dir / "docker"
    script.write_text(f"""#!/bin/sh
printf '%s\\n' "$*" >> {log}
case "$1" in
  ps)
    case "$*" in
      *--format\\ \\{{\\"status*) printf '%s\\n' '{{"status":"running","configuration":{{"id":"nanoclaw-web-chat-1"}}}}' ;;
      *) printf 'nanoclaw-web-chat-1\\n' ;;
    esac ;;
esac
exit 0
""")
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    env = {
        **os.environ,
        "PATH": f"{bin_dir}:{os.environ['PATH']}",
        "SMBOS_AGENT_ID": "andy",
        "SMBOS_PROJECT": "smbos",
        "SMBOS_TURN_NETWORK": "smbos_andy",
        "SMBOS_TURN_CPUS": "1.5",
        "SMBOS_TURN_MEMORY": "2g",
        "SMBOS_TURN_PIDS": "1024",
    }

    def run(*args):
        proc = subprocess.run(
            ["sh", str(CONTAINER_CLI), *args], env=env, capture_output=True, text=True, timeout=30
        )
        calls = log.read_text().splitlines() if log.exists() else []
        log.unlink(missing_ok=True)
        return proc, calls

    return run


def test_a_turn_runs_with_the_agents_labels_limits_and_network(fake_docker):
    proc, calls = fake_docker(
        "run", "-i", "--rm", "--name", "nanoclaw-web-chat-1", "-v", "/a:/b", "nanoclaw-agent:x"
    )
    assert proc.returncode == 0
    text = calls[0]
    assert text.startswith("run ")
    for part in (
        "--label io.smbos.turn=true",
        "--label io.smbos.agent=andy",
        "--label io.smbos.project=smbos",
        "--network smbos_andy",
        "--cpus 1.5",
        "--memory 2g --memory-swap 2g",
        "--pids-limit 1024",
        "--security-opt no-new-privileges",
    ):
        assert part in text, (part, text)
    assert text.endswith("-i --rm --name nanoclaw-web-chat-1 -v /a:/b nanoclaw-agent:x")


def test_ls_shows_only_this_agents_turns_in_the_forks_json(fake_docker):
    proc, calls = fake_docker("ls", "--format", "json")
    assert json.loads(proc.stdout) == [
        {"status": "running", "configuration": {"id": "nanoclaw-web-chat-1"}}
    ]
    assert "--filter label=io.smbos.agent=andy" in calls[0]
    assert "--filter label=io.smbos.turn=true" in calls[0]


def test_stop_refuses_a_container_that_is_not_this_agents_turn(fake_docker):
    proc, calls = fake_docker("stop", "nanoclaw-web-chat-9")
    assert proc.returncode == 1
    assert "not a turn of agent andy" in proc.stderr
    assert not any(c.startswith("stop") for c in calls)
    proc, calls = fake_docker("stop", "nanoclaw-web-chat-1")
    assert proc.returncode == 0 and calls[-1] == "stop nanoclaw-web-chat-1"
