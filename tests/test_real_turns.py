"""The real-runtime tier, continued: per-turn containers, schedules and secrets on real NanoClaw.

- Two agents' concurrent turns survive each other's restarts; `smbos down` leaves no turn.
- A declared schedule runs on NanoClaw's own scheduler, stays one task across restarts, follows
  edits and removal, and pauses and resumes from the CLI and from the UI's API.
- A canary secret echoed by the model and a failed turn (whose input NanoClaw logs, key
  included) never appear in any CLI output, UI page or JSON route.
"""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import yaml

from smbos.project import Project
from smbos.web.app import create_app

from .realruntime import BASE_IMAGE
from .test_web_api import make_client

pytestmark = [pytest.mark.real, pytest.mark.docker]

TOKEN = "t" * 32


def turns(fleet, agent_id: str | None = None) -> list:
    labels = ["io.smbos.turn=true", f"io.smbos.project={fleet.name}"]
    if agent_id:
        labels.append(f"io.smbos.agent={agent_id}")
    return fleet.client.containers.list(filters={"label": labels})


def test_concurrent_turns_survive_each_others_restart_and_down_leaves_none(real_fleet):
    real_fleet.add_real("north")
    real_fleet.add_real("south")
    assert real_fleet.up().code == 0
    with ThreadPoolExecutor(2) as pool:
        south_chat = pool.submit(
            real_fleet.smbos,
            "chat",
            "south",
            "fake:slow keep going",
            "--timeout",
            "240",
            timeout=300,
        )
        real_fleet.wait(
            lambda: turns(real_fleet, "south"), timeout=120, what="south's turn container"
        )
        # north restarts while south's turn runs: north's NanoClaw cleans up its orphans at
        # start, and sees only its own turns.
        restart = real_fleet.smbos("restart", "north")
        assert restart.code == 0, restart.output
        assert turns(real_fleet, "south"), "south's turn was stopped by north's restart"
        result = south_chat.result()
    assert result.code == 0, result.output
    assert "FAKE-REPLY: fake:slow keep going" in result.stdout

    # A turn in progress when the fleet goes down goes down with it.
    with ThreadPoolExecutor(1) as pool:
        pending = pool.submit(
            real_fleet.smbos,
            "chat",
            "north",
            "fake:slow until down",
            "--timeout",
            "240",
            timeout=300,
        )
        real_fleet.wait(
            lambda: turns(real_fleet, "north"), timeout=120, what="north's turn container"
        )
        status = json.loads(real_fleet.smbos("status", "--json", "north").stdout)
        assert status[0]["turns"] == 1
        assert real_fleet.smbos("down").code == 0
        assert turns(real_fleet) == []
        assert not real_fleet.client.containers.list(
            all=True,
            filters={"label": ["io.smbos.turn=true", f"io.smbos.project={real_fleet.name}"]},
        )
        assert pending.result().code == 1  # the runtime went away mid-turn


def _tasks(fleet, agent_id: str) -> dict:
    result = fleet.smbos("tasks", agent_id, "--json")
    assert result.code == 0, result.output
    return json.loads(result.stdout)


def _ours(page: dict) -> list[dict]:
    return [t for t in page["tasks"] if t["id"].startswith("smbos-")]


def test_a_declared_schedule_runs_and_is_managed_on_the_real_runtime(real_fleet):
    schedule = {"id": "ping", "interval": "1m", "prompt": "scheduled ping"}
    folder = real_fleet.add_real("clock", config={"schedules": [schedule]})
    assert real_fleet.up().code == 0

    def ran():
        page = _tasks(real_fleet, "clock")
        mine = _ours(page)
        logs = [r for r in page["runLogs"] if r["task_id"] == "smbos-ping"]
        return (page, mine, logs) if mine and mine[0]["last_run"] and logs else None

    page, mine, logs = real_fleet.wait(
        ran, timeout=180, interval=5, what="the interval schedule to run once"
    )
    task = mine[0]
    assert page["schedules"]["ok"] is True
    assert task["next_run"] and task["status"] == "active"
    assert "scheduled ping" in (task["last_result"] or "")
    assert logs[0]["status"] == "success"
    table = real_fleet.smbos("tasks", "clock")
    assert table.code == 0 and "smbos-ping" in table.stdout and "recent runs" in table.stdout

    # Restarts never duplicate it.
    for _ in range(3):
        assert real_fleet.smbos("restart", "clock").code == 0
    real_fleet.wait(
        lambda: (
            json.loads(real_fleet.smbos("status", "--json", "clock").stdout)[0]["health"]
            == "healthy"
        ),
        timeout=120,
        what="clock healthy",
    )
    time.sleep(3)
    assert [t["id"] for t in _ours(_tasks(real_fleet, "clock"))] == ["smbos-ping"]

    # An edit updates the same task.
    config = yaml.safe_load((folder / "config.yaml").read_text())
    config["schedules"][0]["prompt"] = "scheduled pong"
    (folder / "config.yaml").write_text(yaml.safe_dump(config))
    assert real_fleet.up().code == 0
    updated = real_fleet.wait(
        lambda: [t for t in _ours(_tasks(real_fleet, "clock")) if t["prompt"] == "scheduled pong"],
        timeout=60,
        what="the edited prompt",
    )
    assert [t["id"] for t in _ours(_tasks(real_fleet, "clock"))] == ["smbos-ping"]
    assert updated[0]["status"] == "active"

    # Pause from the CLI, resume from the UI's API (through NanoClaw's IPC both times).
    paused = real_fleet.smbos("tasks", "clock", "--pause", "smbos-ping")
    assert paused.code == 0, paused.output
    assert _ours(_tasks(real_fleet, "clock"))[0]["status"] == "paused"
    project = Project.from_options(real_fleet.agents, None, real_fleet.name, real_fleet.image)
    with make_client(create_app(project, TOKEN)) as ui:
        refused = ui.post("/api/agents/clock/tasks/smbos-ping/resume")
        assert refused.status_code in (401, 403)
        resumed = ui.post(
            "/api/agents/clock/tasks/smbos-ping/resume", headers={"X-SMBOS-Token": TOKEN}
        )
        assert resumed.status_code == 200, resumed.text
        assert resumed.json()["task"]["status"] == "active"
    assert _ours(_tasks(real_fleet, "clock"))[0]["status"] == "active"

    # A task the agent made itself is left alone; removing the schedule cancels ours.
    config["schedules"] = []
    (folder / "config.yaml").write_text(yaml.safe_dump(config))
    assert real_fleet.up().code == 0
    real_fleet.wait(
        lambda: not _ours(_tasks(real_fleet, "clock")),
        timeout=60,
        what="the removed schedule to be cancelled",
    )


def test_a_runtime_without_a_scheduler_says_so(real_fleet, tmp_path):
    """Built with --no-patches, the fork runs no scheduler: `tasks` says it in words, exit 1."""
    from .conftest import ROOT, run_smbos_process
    from .realruntime import build_args, prepared_source

    tag = "smbos-test/nanoclaw-real-unpatched:test"
    build = run_smbos_process(
        "build",
        "--agents",
        str(ROOT / "agents"),
        "--source",
        str(prepared_source()),
        "--tag",
        tag,
        "--no-patches",
        *build_args(),
        cwd=ROOT,
        timeout=2400,
    )
    assert build.code == 0, build.output[-3000:]
    assert "skipped chat-done: --no-patches" in build.stdout
    real_fleet.add_real(
        "plain",
        config={
            "runtime": {"container_isolation": "docker", "image": tag},
            "schedules": [{"id": "x", "cron": "0 9 * * *", "prompt": "never"}],
        },
    )
    up = real_fleet.up()
    assert up.code == 0, up.output
    assert "warning: agent plain: its schedules will not run" in up.stderr
    tasks = real_fleet.smbos("tasks", "plain")
    assert tasks.code == 1
    assert (
        "plain: scheduled tasks will not run: its NanoClaw cannot run scheduled tasks"
        in tasks.stderr
    )
    doctor = real_fleet.smbos("doctor")
    assert "FAIL plain: scheduled tasks cannot run" in doctor.stdout


def test_secrets_never_shown_even_when_the_runtime_leaks_them(real_fleet):
    real_fleet.add_real("vault")
    # A broken per-turn image: NanoClaw logs the failed turn's input, key included, into
    # memory/logs/, and quotes the container's stderr in the chat error.
    real_fleet.add_real(
        "leaky", config={"runtime": {"container_isolation": "docker", "agent_image": BASE_IMAGE}}
    )
    assert real_fleet.up().code == 0
    secret = real_fleet.secrets["vault"]
    leaky_secret = real_fleet.secrets["leaky"]

    echoed = real_fleet.smbos(
        "chat", "vault", f"repeat after me {secret}", "--timeout", "240", timeout=300
    )
    assert echoed.code == 0, echoed.output
    assert "FAKE-REPLY: repeat after me [secret ANTHROPIC_API_KEY]" in echoed.stdout
    failed = real_fleet.smbos("chat", "leaky", "this turn fails", "--timeout", "240", timeout=300)
    assert failed.code == 1

    logs_dir = real_fleet.agents / "leaky" / "memory" / "logs"
    leaked = [p for p in logs_dir.glob("container-*.log") if leaky_secret in p.read_text()]
    assert leaked, "the runtime no longer logs a failed turn's input; update this test"

    outputs = [echoed.output, failed.output]
    for agent_id in ("vault", "leaky"):
        for args in (
            ("logs", agent_id, "--tail", "all"),
            ("memory", agent_id),
            ("tasks", agent_id, "--json"),
            ("status", "--json"),
        ):
            outputs.append(real_fleet.smbos(*args).output)
    memory_file = f"logs/{leaked[0].name}"
    shown = real_fleet.smbos("memory", "leaky", memory_file)
    assert shown.code == 0 and "[secret ANTHROPIC_API_KEY]" in shown.stdout
    outputs.append(shown.output)

    project = Project.from_options(real_fleet.agents, None, real_fleet.name, real_fleet.image)
    with make_client(create_app(project, TOKEN)) as ui:
        headers = {"X-SMBOS-Token": TOKEN}
        for agent_id in ("vault", "leaky"):
            for path in ("", "/logs?tail=5000", "/tasks", "/messages", "/memory", "/env"):
                outputs.append(ui.get(f"/api/agents/{agent_id}{path}", headers=headers).text)
            for page_path in (f"/agents/{agent_id}", f"/agents/{agent_id}/settings"):
                outputs.append(ui.get(page_path, headers=headers).text)
        outputs.append(ui.get(f"/api/agents/leaky/memory/{memory_file}", headers=headers).text)
        chat = ui.post(
            "/api/agents/vault/chat", headers=headers, json={"message": f"again {secret}"}
        )
        outputs.append(chat.text)
        assert "[secret ANTHROPIC_API_KEY]" in chat.text
    for text in outputs:
        assert secret not in text and leaky_secret not in text
