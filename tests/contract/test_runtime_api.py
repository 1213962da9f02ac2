"""The runtime contract (docs/runtime-api.md): one suite, every NanoClaw the tests use.

Each case runs against the in-process `FakeRuntime` and the stand-in as a Node process (fast
tier), the stand-in image started by `smbos up` (docker tier) and the SMBOS fork with its runtime
patches (real tier): `tests/contract/targets.py`. What the fork answers where the answer does not
depend on the run is `tests/fixtures/runtime/fork-answers.json`; the fork's run of this suite is
what keeps that file true, the other runs keep the doubles to it.

Cost: one chat turn and a few IPC round trips per target (NanoClaw's watcher polls every second).
"""

from __future__ import annotations

import json
import re
import secrets
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest

from smbos.nanoclaw import schedules

from ..fakeruntime import FORK
from .targets import TARGETS, Target, start

WEB_CHAT = FORK["web_chat_group"]
ISO_MS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
FRAME = re.compile(rb"event: ([a-z]+)\ndata: ([^\n]*)\n\n")
IPC_WAIT_S = 30.0


def compact(data: object) -> bytes:
    """JSON as NanoClaw writes it (`JSON.stringify`: no spaces)."""
    return json.dumps(data, separators=(",", ":")).encode()


def until(probe: Callable[[], object], what: str, timeout: float = IPC_WAIT_S) -> object:
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(0.2)


@pytest.fixture(scope="module", params=TARGETS)
def runtime(request, tmp_path_factory) -> Iterator[Target]:
    for target in start(request.param, tmp_path_factory.mktemp(request.param), request):
        try:
            yield target
        finally:
            target.close()


def get_json(runtime: Target, path: str) -> object:
    response = runtime.http.get(path)
    assert response.status_code == 200, (path, response.status_code, response.content[:200])
    assert response.headers["content-type"] == "application/json", response.headers
    return response.json()


# --------------------------------------------------------------------------- every route


def test_health_answers_ok(runtime):
    response = runtime.http.get("/api/health")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.content == compact(FORK["health"])
    with runtime.client() as client:
        assert client.probe().ok
        assert client.probe_capabilities().full


@pytest.mark.parametrize(
    "method, path",
    FORK["not_found_requests"],
    ids=[f"{m} {p}" for m, p in FORK["not_found_requests"]],
)
def test_any_other_request_is_an_empty_404(runtime, method, path):
    response = runtime.http.request(method, path)
    expected = FORK["not_found"]
    assert response.status_code == expected["status"]
    assert response.content == expected["body"].encode()
    assert response.headers.get("content-type") == expected["content_type"]


@pytest.mark.parametrize("path", FORK["messages_prefix_requests"])
def test_the_messages_route_is_matched_by_its_prefix(runtime, path):
    assert isinstance(get_json(runtime, path)["messages"], list)


def test_state_lists_the_web_chat_and_counts_the_tasks(runtime):
    state = get_json(runtime, "/api/state")
    assert list(state) == FORK["state_keys"]
    assert state["dbExists"] is True
    assert type(state["sessions"]) is int
    for group in state["groups"]:
        assert list(group) == FORK["group_keys"], group
        assert isinstance(group["added_at"], str)
    web = [g for g in state["groups"] if g["jid"] == WEB_CHAT["jid"]]
    assert [{key: g[key] for key in WEB_CHAT} for g in web] == [WEB_CHAT]
    tasks = get_json(runtime, "/api/tasks")["tasks"]
    count = lambda status: sum(1 for t in tasks if t["status"] == status)  # noqa: E731
    assert state["taskStats"] == {
        "total": len(tasks),
        "active": count("active"),
        "paused": count("paused"),
        "completed": count("completed"),
    }
    with runtime.client() as client:
        assert client.state().db_exists


def test_tasks_page_has_tasks_and_run_logs(runtime):
    page = get_json(runtime, "/api/tasks")
    assert list(page) == ["tasks", "runLogs"]
    for task in page["tasks"]:
        assert set(task) == set(FORK["task_keys"]), task
    for log in page["runLogs"]:
        assert set(log) == set(FORK["run_log_keys"]), log
    with runtime.client() as client:
        assert len(client.tasks().tasks) == len(page["tasks"])


# --------------------------------------------------------------------------- the chat


@pytest.mark.parametrize("refusal", FORK["chat_refusals"], ids=lambda r: r["body"] or "empty")
def test_a_bad_chat_body_is_refused_and_runs_nothing(runtime, refusal):
    before = get_json(runtime, "/api/messages")["messages"]
    response = runtime.http.post(
        "/api/chat", content=refusal["body"].encode(), headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400
    assert response.headers["content-type"] == FORK["chat_refusal_content_type"]
    assert response.content == compact({"error": refusal["error"]})
    assert get_json(runtime, "/api/messages")["messages"] == before


@dataclass
class Turn:
    message: str
    content_type: str
    frames: list[tuple[str, object]]

    @property
    def texts(self) -> list[str]:
        return [data["text"] for kind, data in self.frames if kind == "message"]


@pytest.fixture(scope="module")
def turn(runtime) -> Turn:
    """One chat turn, as the bytes of its event stream."""
    message = f"contract check {secrets.token_hex(3)}"
    with runtime.http.stream("POST", "/api/chat", json={"message": message}) as response:
        assert response.status_code == 200, response.read()
        raw = response.read()
    frames = FRAME.findall(raw)
    assert b"".join(b"event: %s\ndata: %s\n\n" % f for f in frames) == raw, raw[:2000]
    return Turn(
        message,
        response.headers["content-type"],
        [(kind.decode(), json.loads(data)) for kind, data in frames],
    )


def test_a_chat_streams_typing_then_messages_then_done(runtime, turn):
    assert turn.content_type == "text/event-stream"
    kinds = [kind for kind, _ in turn.frames]
    assert kinds[0] == "typing" and kinds[-1] == "done", kinds
    assert kinds[1:-1] and set(kinds[1:-1]) == {"message"}, kinds
    assert turn.frames[0][1] == {} and turn.frames[-1][1] == {}
    for kind, data in turn.frames[1:-1]:
        assert list(data) == ["text"] and isinstance(data["text"], str) and data["text"]


def _check_message(row: dict, kind: dict, content: str, assistant: str) -> None:
    assert list(row) == FORK["message_keys"], row
    assert row["content"] == content
    assert row["sender"] == kind["sender"]
    assert row["sender_name"] == kind["sender_name"].replace("<ASSISTANT_NAME>", assistant)
    for flag in ("is_from_me", "is_bot_message"):
        # SQLite integers, as better-sqlite3 gives them: 0 or 1, never JSON booleans.
        assert type(row[flag]) is int and row[flag] == kind[flag], (flag, row[flag])
    assert isinstance(row["id"], str) and row["id"].startswith(kind["id_prefix"]), row["id"]
    assert ISO_MS.match(row["timestamp"]), row["timestamp"]


def test_the_turn_is_in_the_history_oldest_first(runtime, turn):
    rows = get_json(runtime, f"/api/messages?limit={1 + len(turn.texts)}")["messages"]
    assert len(rows) == 1 + len(turn.texts)
    _check_message(rows[0], FORK["user_message"], turn.message, runtime.assistant_name)
    for row, text in zip(rows[1:], turn.texts, strict=True):
        _check_message(row, FORK["reply_message"], text, runtime.assistant_name)
    assert [r["timestamp"] for r in rows] == sorted(r["timestamp"] for r in rows)
    assert get_json(runtime, "/api/messages?limit=1")["messages"] == rows[-1:]
    everything = get_json(runtime, "/api/messages")["messages"]
    assert everything[-len(rows) :] == rows
    with runtime.client() as client:
        typed = client.messages(limit=len(rows))
    assert [(m.is_from_me, m.is_bot_message) for m in typed] == [(False, False)] + [
        (True, True)
    ] * len(turn.texts)


@pytest.mark.parametrize("limit, expected", [("0", "none"), ("-1", "all"), ("many", "none")])
def test_messages_limit_as_sqlite_takes_it(runtime, turn, limit, expected):
    everything = get_json(runtime, "/api/messages")["messages"]
    assert len(everything) < FORK["messages_default_limit"], "the default limit would cut"
    got = get_json(runtime, f"/api/messages?limit={limit}")["messages"]
    assert got == ([] if expected == "none" else everything)


# --------------------------------------------------------------------------- IPC


def _tasks(runtime: Target) -> dict[str, dict]:
    return {t["id"]: t for t in get_json(runtime, "/api/tasks")["tasks"]}


def _schedule(runtime: Target, task_id: str, prompt: str) -> None:
    runtime.write_ipc(
        WEB_CHAT["folder"],
        f"{task_id}-{secrets.token_hex(2)}.json",
        {
            "type": "schedule_task",
            "taskId": task_id,
            "prompt": prompt,
            "schedule_type": "cron",
            "schedule_value": "0 9 1 1 *",
            "targetJid": WEB_CHAT["jid"],
            "context_mode": "group",
        },
    )


def test_tasks_follow_ipc_schedule_pause_resume_and_cancel(runtime):
    task_id = f"contract-{secrets.token_hex(4)}"
    _schedule(runtime, task_id, "contract: first")
    task = until(lambda: _tasks(runtime).get(task_id), "the scheduled task")
    assert set(task) == set(FORK["task_keys"])
    assert {
        k: task[k]
        for k in (
            "group_folder",
            "chat_jid",
            "prompt",
            "schedule_type",
            "schedule_value",
            "status",
            "context_mode",
            "last_run",
            "last_result",
        )
    } == {
        "group_folder": WEB_CHAT["folder"],
        "chat_jid": WEB_CHAT["jid"],
        "prompt": "contract: first",
        "schedule_type": "cron",
        "schedule_value": "0 9 1 1 *",
        "status": "active",
        "context_mode": "group",
        "last_run": None,
        "last_result": None,
    }
    assert ISO_MS.match(task["next_run"]) and ISO_MS.match(task["created_at"])

    # The same id again updates the task (the schedule-task-id patch), never a second one.
    _schedule(runtime, task_id, "contract: second")
    until(lambda: _tasks(runtime)[task_id]["prompt"] == "contract: second", "the update")
    assert [t for t in _tasks(runtime) if t == task_id] == [task_id]

    # Another group's folder may not act on the web chat's task: the file is consumed, no change.
    foreign = runtime.write_ipc(
        "contract-other", "pause.json", {"type": "pause_task", "taskId": task_id}
    )
    until(lambda: _tasks(runtime) and not foreign.exists(), "the foreign file consumed")
    assert _tasks(runtime)[task_id]["status"] == "active"

    for action, status in (("pause", "paused"), ("resume", "active")):
        schedules.queue(runtime.instance_dir, task_id, WEB_CHAT["folder"], action)
        until(lambda: _tasks(runtime)[task_id]["status"] == status, f"{action}: {status}")
        stats = get_json(runtime, "/api/state")["taskStats"]
        assert stats[status] == sum(1 for t in _tasks(runtime).values() if t["status"] == status)
    schedules.queue(runtime.instance_dir, task_id, WEB_CHAT["folder"], "cancel")
    until(lambda: task_id not in _tasks(runtime), "the task cancelled")

    tasks_folder = runtime.instance_dir / "data" / "ipc" / WEB_CHAT["folder"] / "tasks"
    assert not list(tasks_folder.glob("*.json")), "every task file consumed"
    errors = runtime.instance_dir / "data" / "ipc" / "errors"
    assert not errors.exists() or not list(errors.iterdir()), list(errors.iterdir())


def test_chats_follow_ipc_register_and_unregister_from_main(runtime):
    jid = f"tg:-100{secrets.randbelow(10**9)}"
    folder = f"contract-{secrets.token_hex(3)}"

    def group():
        return next((g for g in get_json(runtime, "/api/state")["groups"] if g["jid"] == jid), None)

    # Only the main group's folder may register a chat.
    ignored = runtime.write_ipc(
        WEB_CHAT["folder"],
        "register.json",
        {
            "type": "register_group",
            "jid": jid,
            "name": "Contract chat",
            "folder": folder,
            "trigger": "@Contract",
            "requiresTrigger": True,
        },
    )
    until(lambda: get_json(runtime, "/api/state") and not ignored.exists(), "the file consumed")
    assert group() is None

    runtime.write_ipc(
        "main",
        f"{folder}.json",
        {
            "type": "register_group",
            "jid": jid,
            "name": "Contract chat",
            "folder": folder,
            "trigger": "@Contract",
            "requiresTrigger": True,
        },
    )
    registered = until(group, "the chat registered")
    assert {k: registered[k] for k in ("jid", "name", "folder", "trigger_pattern")} == {
        "jid": jid,
        "name": "Contract chat",
        "folder": folder,
        "trigger_pattern": "@Contract",
    }

    runtime.write_ipc("main", f"{folder}-gone.json", {"type": "unregister_group", "jid": jid})
    until(lambda: group() is None, "the chat unregistered")
    web = [g for g in get_json(runtime, "/api/state")["groups"] if g["jid"] == WEB_CHAT["jid"]]
    assert len(web) == 1, "the web chat stays"
