"""The fleet commands against real stand-in containers, observed as an operator observes them:
through `smbos status --json` (and `logs`, `doctor`, `heal`, `chat`, `tasks`) run as programs.

Covers the lifecycle transitions, a killed runtime, every misbehaviour of the stand-in and how
`status` classifies it, drift and its repair through Compose, opt-in auto-heal, logs followed
across a restart, chat streamed event by event, seeded schedules, and unknown ids. The Healer's
cap and backoff are also tested without Docker, on a fake controller.
"""

from __future__ import annotations

import json
import os
import queue
import re
import secrets
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from urllib.parse import unquote

import httpx
import pytest
import yaml

from smbos.controller import AgentStatus, Healer, _parse_time, heal_log
from smbos.project import Project
from smbos.nanoclaw.runtime import PROBE_TIMEOUTS, RuntimeClient

from .conftest import write_agent
from .dockerfleet import LiveFleet

docker = pytest.mark.docker

WAIT = 90  # seconds: a restart, then the first health check (every 5 s) must pass


# ----------------------------------------------------------------------------- helpers


def up(fleet: LiveFleet, *ids: str) -> None:
    result = fleet.smbos("up", "--no-build", "--wait-timeout", "150", *ids)
    assert result.code == 0, result.output


def status(fleet: LiveFleet, *ids: str) -> dict[str, dict]:
    """`smbos status --json [ID...]`, by agent id."""
    result = fleet.smbos("status", "--json", *ids)
    assert result.code == 0, result.output
    return {row["id"]: row for row in json.loads(result.stdout)}


def row_of(fleet: LiveFleet, agent_id: str) -> dict:
    return status(fleet, agent_id)[agent_id]


def wait_row(
    fleet: LiveFleet,
    agent_id: str,
    predicate,
    what: str,
    timeout: float = WAIT,
    seen: list | None = None,
) -> dict:
    """Poll `smbos status --json ID` until `predicate(row)`; every row seen goes to `seen`."""
    last: dict = {}

    def check():
        nonlocal last
        last = row_of(fleet, agent_id)
        if seen is not None:
            seen.append(last)
        return last if predicate(last) else None

    try:
        return fleet.wait(check, timeout=timeout, interval=0.5, what=f"{agent_id}: {what}")
    except AssertionError as exc:
        raise AssertionError(f"{exc}; last row: {last}") from None


def healthy(row: dict) -> bool:
    return row["state"] == "running" and row["health"] == "healthy" and row["api"] == "ok"


def started_at(fleet: LiveFleet, agent_id: str) -> datetime:
    """When Docker last started the agent's container (to the microsecond)."""
    container = fleet.container(agent_id)
    container.reload()
    moment = _parse_time(container.attrs["State"]["StartedAt"])
    assert moment is not None, container.attrs["State"]
    return moment


def clear_fault(fleet: LiveFleet, agent_id: str) -> None:
    (fleet.state(agent_id) / ".standin-fault").unlink(missing_ok=True)


def kill_runtime(fleet: LiveFleet, agent_id: str) -> int:
    """SIGKILL the node process running /opt/nanoclaw/dist/index.js inside the container."""
    container = fleet.container(agent_id)
    listing = container.exec_run(
        [
            "sh",
            "-c",
            'for p in /proc/[0-9]*; do printf "%s " "${p#/proc/}"; '
            'tr "\\000" " " < "$p/cmdline"; echo; done',
        ]
    )
    assert listing.exit_code == 0, listing.output
    pids = [
        int(line.split()[0])
        for line in listing.output.decode().splitlines()
        if re.search(r"\bnode /opt/nanoclaw/dist/index\.js\b", line)
    ]
    assert len(pids) == 1, listing.output.decode()
    killed = container.exec_run(["sh", "-c", f"kill -KILL {pids[0]}"])
    assert killed.exit_code == 0, killed.output
    return pids[0]


def log_text(fleet: LiveFleet, agent_id: str) -> str:
    result = fleet.smbos("logs", agent_id, "--tail", "all")
    assert result.code == 0, result.output
    return result.stdout


def module_fleet(tmp_path_factory, client, image, label: str) -> LiveFleet:
    root = tmp_path_factory.mktemp(label)
    (root / "agents").mkdir()
    return LiveFleet(
        root=root, name=f"{label[0]}{secrets.token_hex(4)}", image=image, client=client
    )


# ----------------------------------------------------------------------------- lifecycle


@docker
def test_stop_start_restart(test_fleet):
    test_fleet.add("solo")
    test_fleet.add("other")
    up(test_fleet)
    first = wait_row(
        test_fleet, "solo", lambda r: healthy(r) and r["uptime_s"] >= 3, "healthy for 3 s"
    )
    assert first["restarts"] == 0 and first["drift"] == ""
    container_id = first["container"]

    stop = test_fleet.smbos("stop", "solo")
    assert stop.code == 0, stop.output
    assert stop.stdout.strip() == "solo: stopped"
    rows = status(test_fleet)
    stopped = rows["solo"]
    assert stopped["state"] == "exited", stopped
    assert stopped["exit_code"] == 0, stopped  # SIGTERM is forwarded; the runtime exits 0
    assert stopped["api"] == "-" and stopped["uptime_s"] is None and stopped["published"] == ""
    assert stopped["container"] == container_id
    assert healthy(rows["other"]), rows["other"]

    start = test_fleet.smbos("start", "solo")
    assert start.code == 0, start.output
    assert start.stdout.strip() == "solo: start done"
    assert row_of(test_fleet, "solo")["state"] == "running"
    before = wait_row(
        test_fleet,
        "solo",
        lambda r: healthy(r) and r["uptime_s"] >= 3,
        "healthy for 3 s after start",
    )
    assert before["container"] == container_id
    started = started_at(test_fleet, "solo")

    restart = test_fleet.smbos("restart", "solo")
    assert restart.code == 0, restart.output
    after = row_of(test_fleet, "solo")
    assert after["state"] == "running"
    assert after["uptime_s"] < before["uptime_s"], (before, after)
    assert started_at(test_fleet, "solo") > started
    assert after["container"] == container_id  # the same container, restarted
    assert after["restarts"] == 0  # Docker counts its own restarts only, not the operator's
    wait_row(test_fleet, "solo", healthy, "healthy after restart")


# ----------------------------------------------------------------------------- faults


@pytest.fixture(scope="module")
def faults(tmp_path_factory, docker_client, standin_image):  # noqa: F811
    """Three stand-in agents shared by the fault tests; each test leaves them healthy."""
    fleet = module_fleet(tmp_path_factory, docker_client, standin_image, "faults")
    try:
        for agent_id in ("alpha", "beta", "gamma"):
            fleet.add(agent_id)
        up(fleet)
        yield fleet
    finally:
        fleet.teardown()


@pytest.fixture
def fleet3(faults):
    yield faults
    for agent_id in ("alpha", "beta", "gamma"):
        clear_fault(faults, agent_id)
    for agent_id in ("alpha", "beta", "gamma"):
        wait_row(faults, agent_id, healthy, "healthy again after the fault was cleared")


@docker
def test_killed_runtime_is_restarted(fleet3):
    before = wait_row(fleet3, "gamma", healthy, "healthy")
    kill_runtime(fleet3, "gamma")
    seen: list[dict] = []
    after = wait_row(
        fleet3,
        "gamma",
        lambda r: r["restarts"] > before["restarts"] and healthy(r),
        "restarted by Docker and healthy",
        seen=seen,
    )
    assert after["container"] == before["container"]
    assert after["uptime_s"] < before["uptime_s"] + 1
    for row in seen:  # any row caught while Docker was restarting it carries the exit code
        if row["state"] == "restarting":
            assert row["exit_code"] == 137, row
    assert "NanoClaw exited (signal SIGKILL); container exits 137" in log_text(fleet3, "gamma")


@docker
def test_slow_answer_within_and_beyond_the_read_budget(fleet3):
    fleet3.set_fault("alpha", "slow 500")
    within = row_of(fleet3, "alpha")
    assert within["api"] == "ok", within
    assert within["latency_ms"] >= 500, within

    assert PROBE_TIMEOUTS.read < 3.0
    fleet3.set_fault("alpha", "slow 3000")
    rows = status(fleet3)
    beyond = rows["alpha"]
    assert beyond["api"] == "unresponsive", beyond
    assert beyond["latency_ms"] is None
    assert "GET /api/health" in beyond["api_detail"] and "timed out" in beyond["api_detail"]
    assert beyond["state"] == "running"
    assert rows["beta"]["api"] == "ok" and rows["gamma"]["api"] == "ok"


@docker
def test_hang_is_unresponsive_within_the_probe_budget(fleet3):
    """Three hung runtimes cost one read budget, not three: the probes run concurrently."""
    timings = []
    for _ in range(2):
        started = time.monotonic()
        assert all(r["api"] == "ok" for r in status(fleet3).values())
        timings.append(time.monotonic() - started)
    baseline = min(timings)
    for agent_id in ("alpha", "beta", "gamma"):
        fleet3.set_fault(agent_id, "hang")
    started = time.monotonic()
    rows = status(fleet3)
    elapsed = time.monotonic() - started
    for agent_id in ("alpha", "beta", "gamma"):
        row = rows[agent_id]
        assert row["api"] == "unresponsive", row
        assert "GET /api/health" in row["api_detail"] and "timed out" in row["api_detail"]
        assert row["state"] == "running"
    slack = 2.0  # a busy CI machine; three sequential probes would need 3 x read
    print(
        f"status with 3 hung runtimes: {elapsed:.2f} s (healthy fleet: {baseline:.2f} s, "
        f"read budget {PROBE_TIMEOUTS.read:g} s)"
    )
    assert elapsed >= PROBE_TIMEOUTS.read
    assert elapsed - baseline <= PROBE_TIMEOUTS.read + slack, (elapsed, baseline)
    assert elapsed <= baseline + PROBE_TIMEOUTS.total + slack


@docker
def test_http_500_is_error_with_the_status_code(fleet3):
    fleet3.set_fault("beta", "500")
    row = row_of(fleet3, "beta")
    assert row["api"] == "error", row
    assert "500" in row["api_detail"] and "GET /api/health" in row["api_detail"], row
    assert row["latency_ms"] is not None


@docker
def test_malformed_body_is_error_mentioning_json(fleet3):
    fleet3.set_fault("beta", "malformed")
    row = row_of(fleet3, "beta")
    assert row["api"] == "error", row
    assert "JSON" in row["api_detail"], row


@docker
def test_runtime_exit_code_restarts_the_container(fleet3):
    before = wait_row(fleet3, "alpha", healthy, "healthy")
    fleet3.set_fault("alpha", "exit 3")
    # The next request (this status probe, or Docker's health check) makes the runtime exit 3.
    seen: list[dict] = []
    wait_row(
        fleet3,
        "alpha",
        lambda r: r["restarts"] > before["restarts"],
        "restarted after exiting 3",
        seen=seen,
    )
    clear_fault(fleet3, "alpha")
    after = wait_row(fleet3, "alpha", healthy, "healthy after the fault was cleared")
    assert after["restarts"] > before["restarts"]
    assert after["container"] == before["container"]
    for row in seen:
        assert row["api"] != "ok" or row["restarts"] > before["restarts"], row
        if row["state"] == "restarting":
            assert row["exit_code"] == 3, row
    assert "NanoClaw exited (code 3); container exits 3" in log_text(fleet3, "alpha")


@docker
def test_partial_runtime_doctor_lists_absent_routes(fleet3):
    fleet3.set_fault("gamma", "partial")
    row = row_of(fleet3, "gamma")
    assert row["api"] == "ok" and row["health"] == "healthy", row
    doctor = fleet3.smbos("doctor")
    assert doctor.code == 0, doctor.output
    lines = doctor.stdout.splitlines()
    gamma = [line for line in lines if line.split()[1:3] == ["gamma:", "API"]]
    assert gamma == ["ok   gamma: API routes health, chat (absent: state, tasks, messages)"], lines
    alpha = [line for line in lines if line.split()[1:3] == ["alpha:", "API"]]
    assert "ok   alpha: scheduler running (0 declared schedule(s))" in lines
    assert alpha == [
        "ok   alpha: API routes health, state, tasks, messages, chat (full contract)"
    ], lines


@docker
def test_unhealthy_runtime_turns_docker_health_unhealthy(fleet3):
    fleet3.set_fault("beta", "unhealthy")
    row = wait_row(
        fleet3, "beta", lambda r: r["health"] == "unhealthy", "Docker health unhealthy", timeout=60
    )
    assert row["state"] == "running"
    assert row["failing_streak"] >= 3, row  # the Compose file's healthcheck retries
    assert row["api"] == "error" and "503" in row["api_detail"], row
    others = status(fleet3)
    assert others["alpha"]["health"] == "healthy" and others["gamma"]["health"] == "healthy"


# ----------------------------------------------------------------------------- drift


@docker
def test_drift_after_config_edit_cleared_by_up(test_fleet):
    test_fleet.add("editor")
    test_fleet.add("other")
    up(test_fleet)
    rows = status(test_fleet)
    assert rows["editor"]["drift"] == "" and rows["other"]["drift"] == ""
    old_editor, old_other = rows["editor"]["container"], rows["other"]["container"]

    config_path = test_fleet.agents / "editor" / "config.yaml"
    config = yaml.safe_load(config_path.read_text())
    config["description"] = "Edited after the container was created"
    config_path.write_text(yaml.safe_dump(config, sort_keys=False))
    rows = status(test_fleet)
    assert rows["editor"]["drift"] == "needs recreate", rows["editor"]
    assert rows["editor"]["state"] == "running"  # nothing was changed behind the operator
    assert rows["other"]["drift"] == ""
    table = test_fleet.smbos("status")
    assert re.search(r"^editor .*needs recreate\s*$", table.stdout, re.M), table.stdout

    up(test_fleet, "editor")
    rows = status(test_fleet)
    assert rows["editor"]["drift"] == "", rows["editor"]
    assert healthy(rows["editor"]), rows["editor"]
    assert rows["editor"]["container"] != old_editor  # recreated ...
    assert rows["other"]["container"] == old_other  # ... and only that one
    container = test_fleet.container("editor")
    assert container.labels["com.docker.compose.project"] == test_fleet.name  # by Compose
    assert container.labels["com.docker.compose.service"] == "editor"


# ----------------------------------------------------------------------------- auto-heal


@docker
def test_heal_restarts_only_the_opted_in_agent(test_fleet):
    test_fleet.add("healer", config={"heal": {"enabled": True, "after": 2, "max_restarts": 3}})
    test_fleet.add("plain")
    up(test_fleet)
    for agent_id in ("healer", "plain"):
        wait_row(test_fleet, agent_id, healthy, "healthy")
        test_fleet.set_fault(agent_id, "unhealthy")
    for agent_id in ("healer", "plain"):
        wait_row(
            test_fleet,
            agent_id,
            lambda r: r["failing_streak"] >= 2,
            "two failing health checks",
            timeout=60,
        )
    healer_started = started_at(test_fleet, "healer")
    plain_started = started_at(test_fleet, "plain")

    heal = test_fleet.smbos("heal", "--once")
    assert heal.code == 0, heal.output
    lines = heal.stdout.splitlines()
    assert len(lines) == 1, heal.stdout
    assert re.fullmatch(r"\S+ healer: restarted \(\d+ failing health checks\)", lines[0]), lines
    assert "plain" not in heal.stdout

    assert started_at(test_fleet, "healer") > healer_started
    assert started_at(test_fleet, "plain") == plain_started
    rows = status(test_fleet)
    assert rows["healer"]["state"] == "running" and rows["healer"]["failing_streak"] < 2
    assert rows["healer"]["restarts"] == 0  # restarted by smbos, not by Docker's policy
    assert rows["plain"]["failing_streak"] >= 2 and rows["plain"]["uptime_s"] > 5

    log = test_fleet.root / "state" / "heal-log.jsonl"
    records = [json.loads(line) for line in log.read_text().splitlines()]
    assert [(r["agent"], r["action"]) for r in records] == [("healer", "restarted")]
    assert records[0]["at"] in lines[0]
    # The status table shows the action under the agents.
    table = test_fleet.smbos("status")
    assert table.code == 0, table.output
    assert f"auto-heal {records[0]['at']} healer: restarted" in table.stdout, table.stdout

    # Straight after the restart the healer's streak starts again from zero: nothing to do.
    again = test_fleet.smbos("heal", "--once")
    assert again.code == 0 and again.stdout == "", again.output

    for agent_id in ("healer", "plain"):
        clear_fault(test_fleet, agent_id)
    for agent_id in ("healer", "plain"):
        wait_row(test_fleet, agent_id, healthy, "healthy once the fault is cleared")


# ----------------------------------------------------------------------------- logs, chat, tasks


SCHEDULE = {"id": "morning-brief", "cron": "0 9 * * *", "prompt": "Summarise the inbox"}


@pytest.fixture(scope="module")
def writer(tmp_path_factory, docker_client, standin_image):  # noqa: F811
    """One agent with a seeded schedule, shared by the logs, chat and tasks tests."""
    fleet = module_fleet(tmp_path_factory, docker_client, standin_image, "writer")
    try:
        fleet.add("writer", config={"schedules": [SCHEDULE]})
        up(fleet)
        yield fleet
    finally:
        fleet.teardown()


@dataclass
class Follower:
    """`smbos logs ID -f` running as a program; its stdout lines collected as they arrive."""

    proc: subprocess.Popen
    lines: list[str] = field(default_factory=list)
    arrived: queue.Queue = field(default_factory=queue.Queue)

    def pump(self) -> None:
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))
            self.arrived.put(None)

    def wait_for(self, text: str, timeout: float) -> int:
        deadline = time.monotonic() + timeout
        while True:
            for index, line in enumerate(self.lines):
                if text in line:
                    return index
            left = deadline - time.monotonic()
            if left <= 0 or self.proc.poll() is not None:
                raise AssertionError(
                    f"{text!r} never reached the follower (exit "
                    f"{self.proc.poll()}); it printed:\n" + "\n".join(self.lines)
                )
            try:
                self.arrived.get(timeout=min(left, 1.0))
            except queue.Empty:
                pass


@docker
def test_logs_follow_across_a_restart(writer):
    env = {**os.environ, "COLUMNS": "200", **writer.env}
    env.pop("SMBOS_DEBUG", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "smbos", "logs", "writer", "-f", "-n", "5"],
        cwd=writer.root,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        bufsize=1,
    )
    follower = Follower(proc)
    threading.Thread(target=follower.pump, daemon=True).start()
    token = secrets.token_hex(4)
    try:
        with httpx.Client(base_url=writer.url("writer"), timeout=10, trust_env=False) as http:
            assert http.get(f"/before-{token}").status_code == 404  # logged by the runtime
            before = follower.wait_for(f"GET /before-{token} 404", timeout=30)

            restart = writer.smbos("restart", "writer")
            assert restart.code == 0, restart.output
            wait_row(writer, "writer", healthy, "healthy after restart")
            assert http.get(f"/after-{token}").status_code == 404
            after = follower.wait_for(f"GET /after-{token} 404", timeout=60)
        stop = follower.wait_for("SIGTERM", timeout=5)
        assert before < stop < after, follower.lines
        assert proc.poll() is None  # still following
    finally:
        proc.kill()
        proc.wait(timeout=10)
    assert sum(f"/after-{token}" in line for line in follower.lines) == 1  # no line twice
    assert "Traceback" not in proc.stderr.read()


@docker
def test_chat_streams_event_by_event(writer):
    with RuntimeClient(writer.url("writer")) as client:
        with client.chat("hello stream") as stream:
            events = list(stream)
    assert [e.type for e in events] == ["typing", "message", "done"], events
    typing, message, done = events
    assert typing.received_at < message.received_at <= done.received_at
    # The stand-in pauses between `typing` and the reply: the client saw `typing` before the
    # reply existed, not both at the end of one buffered body.
    assert message.received_at - typing.received_at >= 0.05
    reply = dict(pair.split("=", 1) for pair in message.text.split(" "))
    assert unquote(reply["echo"]) == "hello stream"

    result = writer.smbos("chat", "writer", "hello from the CLI")
    assert result.code == 0, result.output
    lines = result.stdout.splitlines()
    assert len(lines) == 1, result.stdout
    reply = dict(pair.split("=", 1) for pair in lines[0].split(" "))
    assert unquote(reply["echo"]) == "hello from the CLI"
    assert reply["assistant"] == "Writer"


TASK_KEYS = {
    "id",
    "group_folder",
    "chat_jid",
    "prompt",
    "schedule_type",
    "schedule_value",
    "next_run",
    "last_run",
    "last_result",
    "status",
    "created_at",
    "context_mode",
}


@docker
def test_tasks_json_shows_the_seeded_schedule(writer):
    def page():
        result = writer.smbos("tasks", "writer", "--json")
        assert result.code == 0, result.output
        data = json.loads(result.stdout)
        return data if data["tasks"] else None

    data = writer.wait(page, timeout=30, what="the seeded schedule in `smbos tasks --json`")
    assert set(data) == {"tasks", "runLogs", "schedules"}
    assert data["schedules"] == {"ok": True, "reason": "", "declared": 1}
    assert data["runLogs"] == []
    [task] = data["tasks"]
    assert set(task) == TASK_KEYS, task
    assert SCHEDULE["id"] in task["id"]
    assert task["prompt"] == SCHEDULE["prompt"]
    assert (task["schedule_type"], task["schedule_value"]) == ("cron", SCHEDULE["cron"])
    assert task["status"] == "active" and task["last_run"] is None
    assert task["chat_jid"] == "web-chat@smbos" and task["group_folder"] == "web-chat"
    next_run = datetime.fromisoformat(task["next_run"].replace("Z", "+00:00"))
    if next_run.tzinfo is None:
        next_run = next_run.replace(tzinfo=timezone.utc)
    now = datetime.now(timezone.utc)
    assert now < next_run <= now + timedelta(days=1), task["next_run"]
    assert next_run.astimezone(timezone.utc).strftime("%H:%M") == "09:00"  # TZ is UTC

    table = writer.smbos("tasks", "writer")
    assert table.code == 0 and "cron 0 9 * * *" in table.stdout, table.output


# ----------------------------------------------------------------------------- unknown ids


@docker
@pytest.mark.parametrize(
    "args",
    [("status", "nosuch"), ("start", "nosuch"), ("logs", "nosuch"), ("chat", "nosuch", "hi")],
    ids=lambda a: a[0],
)
def test_unknown_agent(test_fleet, args):
    test_fleet.add("alpha")
    test_fleet.add("beta")
    result = test_fleet.smbos(*args)
    assert result.code == 2, result.output
    assert result.stderr.strip() == "error: unknown agent 'nosuch'; known agents: alpha, beta"
    assert result.stdout == ""


# ----------------------------------------------------------------------------- Healer (no Docker)


@dataclass
class FakeController:
    """What the Healer uses of a Controller: the fleet, a status per agent, restart."""

    project: Project
    streak: dict[str, int] = field(default_factory=dict)
    restarted: list[str] = field(default_factory=list)
    fail_restart: bool = False

    def fleet(self):
        return self.project.load()

    def status(self, ids=(), probe=True, fleet=None):
        assert probe is False  # healing never waits on API probes
        return [
            AgentStatus(
                id=a.id,
                name=a.name,
                enabled=a.enabled,
                port=a.port,
                state="running",
                health="unhealthy",
                failing_streak=self.streak.get(a.id, 0),
            )
            for a in (fleet or self.fleet()).agents
        ]

    def restart(self, agent):
        if self.fail_restart:
            raise RuntimeError("409 Client Error: Conflict")
        self.restarted.append(agent.id)


class Clock:
    def __init__(self):
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def heal_project(tmp_path, monkeypatch):
    agents = tmp_path / "agents"
    runtime = {"container_isolation": "none"}
    write_agent(
        agents,
        "opted",
        {
            "name": "Opted",
            "port": 3201,
            "runtime": runtime,
            "heal": {"enabled": True, "after": 2, "max_restarts": 3},
        },
    )
    write_agent(agents, "plain", {"name": "Plain", "port": 3202, "runtime": runtime})
    clock = Clock()
    monkeypatch.setattr("smbos.controller.time.time", clock)
    project = Project.from_options(agents, tmp_path / "compose" / "docker-compose.yml", "healtest")
    return project, clock


def logged(project: Project) -> list[tuple[str, str]]:
    return [(a.agent, a.action) for a in heal_log(project, limit=1000)]


def test_healer_after_backoff_and_cap(heal_project):
    project, clock = heal_project
    controller = FakeController(project)
    healer = Healer(controller, backoff=30)
    controller.streak = {"opted": 1, "plain": 9}
    assert healer.tick() == []  # below `after`; `plain` is not opted in
    controller.streak["opted"] = 2
    assert [(a.agent, a.action) for a in healer.tick()] == [("opted", "restarted")]

    def tick_after(seconds: float) -> list[str]:
        clock.now += seconds
        return [a.action for a in healer.tick()]

    assert tick_after(29) == []  # grace period 30 s after the first restart
    assert tick_after(2) == ["restarted"]
    assert tick_after(59) == []  # 60 s after the second
    assert tick_after(2) == ["restarted"]
    assert controller.restarted == ["opted"] * 3
    assert tick_after(500) == ["skipped"]  # three restarts this hour: the cap
    assert tick_after(500) == []  # said once, not on every tick
    assert controller.restarted == ["opted"] * 3
    # An hour after the first restart it no longer counts against the cap.
    clock.now = healer.history["opted"][0] + 3601
    assert tick_after(0) == ["restarted"]
    assert "plain" not in controller.restarted
    assert logged(project) == [("opted", "restarted")] * 3 + [
        ("opted", "skipped"),
        ("opted", "restarted"),
    ]
    stamps = [a.at for a in heal_log(project)]
    assert stamps == sorted(stamps)


def test_healer_global_switch(heal_project):
    project, _ = heal_project
    controller = FakeController(project, streak={"opted": 5, "plain": 5})
    assert sorted(a.agent for a in Healer(controller, all_agents=True).tick()) == ["opted", "plain"]


def test_healer_cap_and_backoff_survive_a_new_process(heal_project):
    """`smbos heal --once` from cron is a new Healer each minute: the log carries the history."""
    project, clock = heal_project
    controller = FakeController(project, streak={"opted": 3})
    assert [a.action for a in Healer(controller).tick()] == ["restarted"]
    clock.now += 10
    assert Healer(controller).tick() == []  # within the grace period, though a new process
    for _ in range(2):
        clock.now += 3000 / 2
        assert [a.action for a in Healer(controller).tick()] == ["restarted"]
    clock.now += 200  # 3 restarts within the hour
    assert [a.action for a in Healer(controller).tick()] == ["skipped"]
    clock.now += 60
    assert Healer(controller).tick() == []  # the skip was logged already
    assert controller.restarted == ["opted"] * 3


def test_healer_records_a_failed_restart_and_goes_on(heal_project):
    project, _ = heal_project
    controller = FakeController(project, streak={"opted": 2, "plain": 3}, fail_restart=True)
    actions = Healer(controller, all_agents=True).tick()
    assert [(a.agent, a.action) for a in actions] == [("opted", "failed"), ("plain", "failed")]
    assert "409 Client Error" in actions[0].reason
    assert logged(project) == [("opted", "failed"), ("plain", "failed")]
