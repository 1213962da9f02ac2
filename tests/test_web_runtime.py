"""The UI's routes that need an agent's runtime or the engine, in this process: the app is
built on a fake engine and fake NanoClaw APIs (tests/fakefleet.py) through
`create_app(..., transport=, docker_client=)`. What only real containers show (streaming
unbuffered, lifecycle of a real container, a secret reaching a restarted runtime) stays in the
live tests of test_web_api.py."""

from __future__ import annotations

import os
import secrets
import time
from pathlib import Path

import pytest

from smbos.project import Project
from smbos.web.app import create_app

from .conftest import write_agent
from .dockerfleet import free_port
from .fakefleet import FakeFleet
from .test_web_api import (
    AUTH,
    SKILLS,
    TOKEN,
    assert_all_running,
    make_client,
    no_canary,
    reply_fields,
    sse_events,
)

SECRETS = {
    agent_id: f"sk-ant-canary-{agent_id}-{secrets.token_hex(12)}" for agent_id in ("alpha", "beta")
}


@pytest.fixture
def fleet(tmp_path: Path) -> FakeFleet:
    agents = tmp_path / "agents"
    for agent_id, extra in (("alpha", {"skills": SKILLS}), ("beta", {})):
        write_agent(
            agents,
            agent_id,
            {
                "name": agent_id.title(),
                "port": free_port(),
                "runtime": {"container_isolation": "none"},
                **extra,
            },
            env=f"ANTHROPIC_API_KEY={SECRETS[agent_id]}\n",
        )
        hour_ago = time.time() - 3600  # written before the containers started
        os.utime(agents / agent_id / ".env", (hour_ago, hour_ago))
    fleet = FakeFleet(Project.from_options(agents, None, f"f{secrets.token_hex(4)}"))
    fleet.run("alpha")
    fleet.run("beta")
    return fleet


@pytest.fixture
def client(fleet):
    app = create_app(fleet.project, TOKEN, transport=fleet.transport(), docker_client=fleet.docker)
    with make_client(app) as c:
        yield c


def no_secret(response) -> None:
    no_canary(response, *SECRETS.values())


def runtime_of(fleet: FakeFleet, agent_id: str):
    return next(r for r in fleet.runtimes.values() if r.agent.id == agent_id)


def test_status_and_agent(client, fleet):
    r = client.get("/api/status")
    assert_all_running(r, {a.id: a.port for a in fleet.project.load().agents})
    assert all(row["uptime_s"] >= 600 for row in r.json()["agents"])
    assert [m for m, path in runtime_of(fleet, "alpha").requests] == ["GET"], "probed once"
    detail = client.get("/api/agents/alpha")
    assert detail.json()["status"]["state"] == "running"
    assert detail.json()["skills"] == ["brief", "grid"]
    assert "identity-of-alpha" in detail.json()["identity"]
    no_secret(r)
    no_secret(detail)
    page = client.get("/")
    assert page.status_code == 200 and 'data-agent="beta"' in page.text
    one = client.get("/api/status", params={"agent": "beta"}).json()["agents"]
    assert [row["id"] for row in one] == ["beta"]


def test_status_of_an_outdated_and_a_stopped_container(client, fleet):
    fleet.docker.of("alpha").config_hash = "old"
    fleet.docker.of("beta").status = "exited"
    rows = {row["id"]: row for row in client.get("/api/status").json()["agents"]}
    assert rows["alpha"]["drift"] == "needs recreate"
    assert rows["beta"]["state"] == "exited" and rows["beta"]["api"] == "-"


def test_logs_tasks_messages(client, fleet):
    fleet.docker.of("alpha").log_lines = ["[standin] up", f"key is {SECRETS['alpha']}"]
    logs = client.get("/api/agents/alpha/logs", params={"tail": 50})
    assert logs.status_code == 200 and logs.json()["lines"][0] == "[standin] up"
    assert "key is " in logs.json()["lines"][1]
    runtime_of(fleet, "alpha").add_task("daily", prompt=f"check {SECRETS['alpha']}")
    tasks = client.get("/api/agents/alpha/tasks").json()
    task = tasks["tasks"][0]
    assert task["schedule_type"] == "cron" and task["schedule_value"] == "0 9 * * *"
    assert task["next_run"] and task["status"] == "active" and "runLogs" in tasks
    assert tasks["schedules"]["ok"] is None, "no runtime facts recorded yet"
    r = client.post("/api/agents/beta/chat", headers=AUTH, json={"message": "history please"})
    assert r.status_code == 200
    messages = client.get("/api/agents/beta/messages", params={"limit": 10})
    contents = [m["content"] for m in messages.json()["messages"]]
    assert "history please" in contents and any("echo=history%20please" in c for c in contents)
    assert runtime_of(fleet, "beta").requests[-1] == ("GET", "/api/messages?limit=10")
    for answer in (logs, messages, client.get("/api/agents/alpha/tasks")):
        no_secret(answer)


def test_chat_streams_and_scrubs(client, fleet):
    r = client.post("/api/agents/alpha/chat", headers=AUTH, json={"message": "hello ünïcode"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
    assert r.headers["cache-control"] == "no-cache, no-store"
    events = sse_events(r.text)
    assert [e[0] for e in events] == ["typing", "message", "done"], events
    fields = reply_fields(events[1][1]["text"])
    assert fields["echo"] == "hello ünïcode" and fields["assistant"] == "Alpha"
    runtime_of(fleet, "alpha").reply = f"your key is {SECRETS['alpha']}"
    echoed = client.post("/api/agents/alpha/chat", headers=AUTH, json={"message": "key?"})
    assert "your key is " in sse_events(echoed.text)[1][1]["text"]
    no_secret(echoed)


def test_proxy_get_post_and_query(client, fleet):
    assert client.get("/agents/alpha/api/health").status_code == 401, "a raw view: the token"
    assert client.get("/agents/alpha/api/health", headers=AUTH).json() == {"status": "ok"}
    state = client.get("/agents/beta/api/state", headers=AUTH)
    assert state.status_code == 200 and state.json()["dbExists"] is True
    assert state.headers["content-security-policy"].startswith("sandbox")
    client.post("/api/agents/alpha/chat", headers=AUTH, json={"message": "one"})
    client.post("/api/agents/alpha/chat", headers=AUTH, json={"message": "two"})
    limited = client.get("/agents/alpha/api/messages?limit=1", headers=AUTH).json()["messages"]
    assert len(limited) == 1, "the query string reaches the runtime"
    assert client.get("/agents/alpha/api/tasks?x=1", headers=AUTH).status_code == 404, (
        "the runtime's own answer comes back as it was"
    )
    # NanoClaw's 404 has no body and no type (docs/runtime-api.md, section 1.1): passed as it is.
    missing = client.get("/agents/alpha/api/no-such-route", headers=AUTH)
    assert missing.status_code == 404 and missing.content == b""
    assert "content-type" not in missing.headers
    bad = client.post("/agents/alpha/api/chat", headers=AUTH, json={})
    assert bad.status_code == 400 and bad.json() == {"error": "message is required"}
    chat = client.post("/agents/alpha/api/chat", headers=AUTH, json={"message": "three"})
    assert chat.headers["content-type"] == "text/event-stream"
    assert [e[0] for e in sse_events(chat.text)] == ["typing", "message", "done"]


def test_skill_run_as_json_and_as_a_stream(client):
    values = {"topic": "tea & <b>", "count": "2", "day": "2026-03-01"}
    r = client.post(
        "/api/agents/alpha/skills/brief",
        headers={**AUTH, "Accept": "application/json"},
        json={"values": values},
    )
    assert r.status_code == 200, r.text
    data = r.json()
    assert data["prompt"] == "List 2 points about tea & <b> (short) for 2026-03-01. "
    assert reply_fields(data["messages"][0])["echo"] == data["prompt"]
    assert data["result"]["display"] == "list" and data["result"]["items"] == [data["messages"][0]]
    body = client.post("/api/agents/alpha/skills/grid", headers=AUTH, json={"values": {}}).text
    events = sse_events(body)
    assert [e[0] for e in events] == ["prompt", "typing", "message", "result", "done"], body
    assert events[0][1]["text"] == "Answer with a table"
    assert events[3][1]["display"] == "text" and "no Markdown table" in events[3][1]["note"]


def test_task_actions_go_through_the_ipc_folder(client, fleet):
    runtime_of(fleet, "alpha").add_task("daily")
    for action, status in (("pause", "paused"), ("resume", "active")):
        r = client.post(f"/api/agents/alpha/tasks/daily/{action}", headers=AUTH)
        assert r.status_code == 200, r.text
        assert r.json()["task"]["status"] == status and r.json()["action"] == action
    gone = client.post("/api/agents/alpha/tasks/daily/cancel", headers=AUTH)
    assert gone.status_code == 200 and gone.json()["task"] is None
    missing = client.post("/api/agents/alpha/tasks/daily/pause", headers=AUTH)
    assert missing.status_code == 404 and missing.json()["kind"] == "not_found"
    assert client.post("/api/agents/alpha/tasks/x/explode", headers=AUTH).status_code == 404


def test_a_runtime_that_does_not_answer_is_502(client, fleet):
    fleet.docker.of("alpha").status = "exited"
    for method, path, body in [
        ("GET", "/api/agents/alpha/tasks", None),
        ("GET", "/api/agents/alpha/messages", None),
        ("POST", "/api/agents/alpha/chat", {"message": "hi"}),
        ("POST", "/api/agents/alpha/skills/brief", {"values": {"topic": "x"}}),
        ("POST", "/api/agents/alpha/tasks/daily/pause", None),
        ("GET", "/agents/alpha/api/health", None),
    ]:
        r = client.request(method, path, headers=AUTH, json=body)
        assert r.status_code == 502, (path, r.status_code, r.text)
        assert r.json()["kind"] == "runtime_refused", (path, r.text)
        assert r.json()["error"].startswith("alpha: runtime at http://127.0.0.1:")


def test_lifecycle_and_restart_needed(client, fleet):
    r = client.put("/api/agents/alpha/env", headers=AUTH, json={"values": {"ASSISTANT_NAME": "Al"}})
    assert r.status_code == 200 and r.json()["restart_needed"] is True
    row = client.get("/api/status", params={"agent": "alpha"}).json()["agents"][0]
    assert row["restart_needed"] is True
    stop = client.post("/api/agents/alpha/stop", headers=AUTH)
    assert stop.status_code == 200 and stop.json()["status"]["state"] == "exited"
    assert client.get("/agents/alpha/api/health", headers=AUTH).status_code == 502
    start = client.post("/api/agents/alpha/start", headers=AUTH)
    assert start.status_code == 200 and start.json()["status"]["state"] == "running"
    restart = client.post("/api/agents/alpha/restart", headers=AUTH)
    assert restart.status_code == 200 and restart.json()["action"] == "restart"
    assert restart.json()["status"]["restart_needed"] is False
    assert restart.json()["status"]["uptime_s"] < 60 and restart.json()["status"]["api"] == "ok"


def test_lifecycle_refusals(client, fleet):
    del fleet.docker.all[fleet.docker.of("beta").id]
    r = client.post("/api/agents/beta/restart", headers=AUTH)
    assert r.status_code == 409 and "smbos up beta" in r.json()["error"]
    assert r.json()["kind"] == "no_container"
    assert client.get("/api/agents/beta/logs").status_code == 409
    row = client.get("/api/status", params={"agent": "beta"}).json()["agents"][0]
    assert row["state"] == "not created" and row["drift"] == "not created"

    import docker.errors

    fleet.docker.of("alpha").fail_with = docker.errors.APIError("conflict", explanation="busy\nnow")
    r = client.post("/api/agents/alpha/stop", headers=AUTH)
    assert r.status_code == 502 and r.json() == {
        "error": "alpha: stop failed: Docker: busy now",
        "kind": "docker",
    }
    assert client.app.state.ui.actions == {}, "a failed action is not left in progress"


def test_the_engine_going_away_mid_run(client, fleet):
    assert client.get("/api/status").status_code == 200
    fleet.docker.gone = True
    r = client.post("/api/agents/alpha/restart", headers=AUTH)
    assert r.status_code == 503 and r.json()["kind"] == "engine_unreachable"
    assert "stopped answering" in r.json()["error"]
    status = client.get("/api/status")
    assert status.status_code == 503 and status.json()["engine"]["ok"] is False
    assert {row["state"] for row in status.json()["agents"]} == {"unknown"}
    page = client.get("/")
    assert page.status_code == 200 and "stopped answering" in page.text


def test_telegram_in_status_and_on_the_pages(tmp_path):
    """The UI shows the channel as `smbos status` does: what the runtime records, never the token."""
    token = "123456789:AA" + secrets.token_hex(16)
    agents = tmp_path / "agents"
    write_agent(
        agents,
        "tele",
        {"port": free_port(), "channels": {"telegram": True}},
        env=f"ANTHROPIC_API_KEY=sk-ant-x\nTELEGRAM_BOT_TOKEN={token}\n",
        env_example="# Anthropic API key.\nANTHROPIC_API_KEY=\n"
        "# Telegram bot token.\nTELEGRAM_BOT_TOKEN=\n",
    )
    write_agent(agents, "quiet", {"port": free_port()})
    fleet = FakeFleet(Project.from_options(agents, None, f"f{secrets.token_hex(4)}"))
    fleet.run("tele")
    fleet.run("quiet")
    data = fleet.project.state_dir("tele") / "data"
    data.mkdir(parents=True)
    (data / "smbos-telegram.json").write_text('{"state": "failed", "error": "401: Unauthorized"}')
    app = create_app(fleet.project, TOKEN, transport=fleet.transport(), docker_client=fleet.docker)
    with make_client(app) as c:
        rows = {r["id"]: r for r in c.get("/api/status").json()["agents"]}
        assert (rows["tele"]["telegram"], rows["tele"]["telegram_detail"]) == (
            "failed",
            "401: Unauthorized",
        )
        assert rows["quiet"]["telegram"] == "off"
        (data / "smbos-telegram.json").write_text('{"state": "connected"}')
        assert c.get("/api/agents/tele").json()["status"]["telegram"] == "connected"
        pages = [c.get("/"), c.get("/agents/tele")]
        assert ">Telegram<" in pages[0].text and 'id="a-telegram"' in pages[1].text
        for response in [*pages, c.get("/api/status"), c.get("/api/agents/tele", headers=AUTH)]:
            assert token not in response.text
