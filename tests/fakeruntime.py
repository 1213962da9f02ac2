"""One agent's NanoClaw, answered in this process: its web API and its IPC task files, as the SMBOS
fork with SMBOS's runtime patches behaves (docs/runtime-api.md), for the fast tier.

What does not depend on the run (the empty 404, the chat refusals, the web chat group, the
sender fields of the user's messages and of replies) comes from
`tests/fixtures/runtime/fork-answers.json`, which the real tier checks against the fork; the
contract suite (`tests/contract/test_runtime_api.py`) holds this double, the stand-in and the
fork to the same cases. What this double does not have: agent turns (a reply echoes the message,
or is `reply`), a scheduler that runs due tasks, run logs of its own, Telegram.

The IPC watcher's work (data/ipc/<folder>/tasks/*.json) is done before each request is answered,
where NanoClaw does it within a second.
"""

from __future__ import annotations

import json
import re
import time
import urllib.parse
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import httpx

from smbos.agent import Agent

FORK = json.loads(
    (Path(__file__).parent / "fixtures" / "runtime" / "fork-answers.json").read_text(
        encoding="utf-8"
    )
)
WEB_CHAT = FORK["web_chat_group"]
WEB_CHAT_JID = WEB_CHAT["jid"]
WEB_CHAT_FOLDER = WEB_CHAT["folder"]
MAIN_FOLDER = "main"  # NanoClaw's MAIN_GROUP_FOLDER: the folder trusted with every chat
TASK_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")  # the schedule-task-id patch's rule
_INVALID_JSON = "Invalid JSON"
_REQUIRED = "message is required"


def iso_now() -> str:
    """`new Date().toISOString()`: UTC, milliseconds, `Z`."""
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def js_parse_int(text: str | None) -> int | None:
    """JavaScript's `parseInt(text, 10)`: the leading integer, None for NaN."""
    match = re.match(r"\s*([+-]?\d+)", text or "")
    return int(match.group(1)) if match else None


def chat_refusal(body: bytes) -> str | None:
    """The fork's 400 text for a chat body, or None when it starts a turn: `JSON.parse(body)`,
    then `parsed.message`, then `!message?.trim()`, all inside one try (a TypeError there, from
    `null.message` or a `message` that is not a string, is "Invalid JSON" too)."""
    try:
        parsed = json.loads(body.decode("utf-8"))
    except ValueError:
        return _INVALID_JSON
    if parsed is None:
        return _INVALID_JSON
    message = parsed.get("message") if isinstance(parsed, dict) else None
    if message is None:
        return _REQUIRED
    if not isinstance(message, str):
        return _INVALID_JSON
    return None if message.strip() else _REQUIRED


def answer(status: int, data, content_type: str | None = "application/json") -> httpx.Response:
    """An answer read as it is relayed (a stream, as from a socket), not loaded before."""
    body = data if isinstance(data, bytes) else json.dumps(data, separators=(",", ":")).encode()
    headers = {"Content-Length": str(len(body))}
    if content_type is not None:
        headers["Content-Type"] = content_type
    return httpx.Response(status, headers=headers, stream=httpx.ByteStream(body))


def not_found() -> httpx.Response:
    return answer(
        FORK["not_found"]["status"],
        FORK["not_found"]["body"].encode(),
        FORK["not_found"]["content_type"],
    )


@dataclass
class FakeRuntime:
    """One agent's NanoClaw API. Replies echo the message (`echo=<quoted> assistant=<name>`);
    `reply` replaces that text (e.g. to echo a secret); a list of texts is sent as that many
    `message` events (as the runtime does for a turn that answers several times)."""

    agent: Agent
    instance_dir: Path
    tasks: list[dict] = field(default_factory=list)
    messages: list[dict] = field(default_factory=list)
    run_logs: list[dict] = field(default_factory=list)
    groups: list[dict] = field(default_factory=lambda: [{**WEB_CHAT, "added_at": iso_now()}])
    sessions: int = 0
    requests: list[tuple[str, str]] = field(default_factory=list)  # (method, path and query)
    reply: str | list[str] | None = None
    _last_ms: int = 0

    # ---- the web API (docs/runtime-api.md, section 1)

    def handle(self, request: httpx.Request) -> httpx.Response:
        target = request.url.raw_path.decode()  # NanoClaw routes on `req.url`: path and query
        self.requests.append((request.method, target))
        self._take_ipc()
        if request.method == "GET" and target == "/api/health":
            return answer(200, FORK["health"])
        if request.method == "GET" and target == "/api/tasks":
            return answer(
                200, {"tasks": self._tasks_newest_first(), "runLogs": self.run_logs[-100:][::-1]}
            )
        if request.method == "GET" and target == "/api/state":
            return answer(200, self._state())
        if request.method == "GET" and target.startswith("/api/messages"):
            return answer(200, {"messages": self._messages(request.url.params.get("limit"))})
        if request.method == "POST" and target == "/api/chat":
            return self._chat(request)
        return not_found()

    def _state(self) -> dict:
        count = lambda status: sum(1 for t in self.tasks if t["status"] == status)  # noqa: E731
        return {
            "dbExists": True,
            "sessions": self.sessions,
            "groups": [{key: group[key] for key in FORK["group_keys"]} for group in self.groups],
            "taskStats": {
                "total": len(self.tasks),
                "active": count("active"),
                "paused": count("paused"),
                "completed": count("completed"),
            },
        }

    def _tasks_newest_first(self) -> list[dict]:
        return sorted(self.tasks, key=lambda t: t["created_at"], reverse=True)

    def _messages(self, limit_text: str | None) -> list[dict]:
        limit = js_parse_int(limit_text if limit_text else str(FORK["messages_default_limit"]))
        if limit is None:
            return []  # `LIMIT NaN` fails in SQLite; the route answers its empty page
        return self.messages[-limit:] if limit > 0 else [] if limit == 0 else list(self.messages)

    def _chat(self, request: httpx.Request) -> httpx.Response:
        refusal = chat_refusal(request.content)
        if refusal is not None:
            return answer(400, {"error": refusal}, FORK["chat_refusal_content_type"])
        message = json.loads(request.content)["message"]
        text = (
            self.reply
            if self.reply is not None
            else (
                f"echo={urllib.parse.quote(message)} "
                f"assistant={urllib.parse.quote(self.agent.assistant_name)}"
            )
        )
        texts = text if isinstance(text, list) else [text]
        self._store(FORK["user_message"], message)
        for reply in texts:
            self._store(FORK["reply_message"], reply)
        self.sessions = max(self.sessions, 1)
        body = (
            b"event: typing\ndata: {}\n\n"
            + b"".join(
                f"event: message\ndata: {json.dumps({'text': t})}\n\n".encode() for t in texts
            )
            + b"event: done\ndata: {}\n\n"
        )
        return answer(200, body, "text/event-stream")

    def _store(self, kind: dict, content: str) -> None:
        # `web-<ms>` / `bot-<ms>` as the fork makes them, kept unique here (a clash in the fork
        # replaces the row).
        self._last_ms = max(self._last_ms + 1, int(time.time() * 1000))
        self.messages.append(
            {
                "id": f"{kind['id_prefix']}{self._last_ms}",
                "sender": kind["sender"],
                "sender_name": kind["sender_name"].replace(
                    "<ASSISTANT_NAME>", self.agent.assistant_name
                ),
                "content": content,
                "timestamp": iso_now(),
                "is_from_me": kind["is_from_me"],
                "is_bot_message": kind["is_bot_message"],
            }
        )

    # ---- seeding for tests

    def add_task(self, task_id: str, prompt: str = "daily check", **fields) -> dict:
        task = {
            "id": task_id,
            "group_folder": WEB_CHAT_FOLDER,
            "chat_jid": WEB_CHAT_JID,
            "prompt": prompt,
            "schedule_type": "cron",
            "schedule_value": "0 9 * * *",
            "next_run": "2026-01-02T09:00:00.000Z",
            "last_run": None,
            "last_result": None,
            "status": "active",
            "created_at": iso_now(),
            "context_mode": "group",
            **fields,
        }
        self.tasks.append(task)
        (self.instance_dir / "data" / "ipc" / task["group_folder"] / "tasks").mkdir(
            parents=True, exist_ok=True
        )
        return task

    # ---- the IPC watcher (docs/runtime-api.md, section 2)

    def _take_ipc(self) -> None:
        """What NanoClaw's IPC watcher does with the task files in data/ipc/<folder>/tasks/:
        each `*.json` is read, acted on and deleted; one that is not JSON goes to
        data/ipc/errors/<folder>-<file>."""
        base = self.instance_dir / "data" / "ipc"
        if not base.is_dir():
            return
        for folder in sorted(p for p in base.iterdir() if p.is_dir() and p.name != "errors"):
            tasks = folder / "tasks"
            if not tasks.is_dir():
                continue
            for file in sorted(tasks.glob("*.json")):
                try:
                    order = json.loads(file.read_text(encoding="utf-8"))
                except (OSError, ValueError):
                    (base / "errors").mkdir(exist_ok=True)
                    file.rename(base / "errors" / f"{folder.name}-{file.name}")
                    continue
                if isinstance(order, dict):
                    self._ipc(order, folder.name)
                file.unlink()

    def _ipc(self, order: dict, source: str) -> None:
        is_main = source == MAIN_FOLDER
        kind = order.get("type")
        if kind == "schedule_task":
            self._schedule(order, source, is_main)
        elif kind in ("pause_task", "resume_task", "cancel_task") and order.get("taskId"):
            task = next((t for t in self.tasks if t["id"] == order["taskId"]), None)
            if task is None or not (is_main or task["group_folder"] == source):
                return  # logged as unauthorized by NanoClaw, the file consumed
            if kind == "cancel_task":
                self.tasks.remove(task)
                self.run_logs = [r for r in self.run_logs if r["task_id"] != task["id"]]
            else:
                task["status"] = "paused" if kind == "pause_task" else "active"
        elif kind == "register_group" and is_main:
            if all(order.get(key) for key in ("jid", "name", "folder", "trigger")):
                self.groups = [g for g in self.groups if g["jid"] != order["jid"]]
                self.groups.append(
                    {
                        "jid": order["jid"],
                        "name": order["name"],
                        "folder": order["folder"],
                        "trigger_pattern": order["trigger"],
                        "added_at": iso_now(),
                    }
                )
        elif kind == "unregister_group" and is_main:
            group = next((g for g in self.groups if g["jid"] == order.get("jid")), None)
            if group is not None and group["folder"] != MAIN_FOLDER:
                self.groups.remove(group)

    def _schedule(self, order: dict, source: str, is_main: bool) -> None:
        """`schedule_task` as the fork with the schedule-task-id patch: a valid `taskId` names
        the task, and the same id of the same group updates it (a new context mode replaces it).
        `next_run` is not computed here (a placeholder in the future)."""
        if not all(
            order.get(key) for key in ("prompt", "schedule_type", "schedule_value", "targetJid")
        ):
            return
        group = next((g for g in self.groups if g["jid"] == order["targetJid"]), None)
        if group is None or not (is_main or group["folder"] == source):
            return
        task_id = order.get("taskId")
        if not (isinstance(task_id, str) and TASK_ID.match(task_id)):
            task_id = f"task-{int(time.time() * 1000)}-{len(self.tasks)}"
        context = (
            order.get("context_mode")
            if order.get("context_mode") in ("group", "isolated")
            else "isolated"
        )
        existing = next((t for t in self.tasks if t["id"] == task_id), None)
        if existing is not None and existing["group_folder"] != group["folder"]:
            return
        fields = {
            "prompt": order["prompt"],
            "schedule_type": order["schedule_type"],
            "schedule_value": order["schedule_value"],
            "next_run": "2099-01-01T00:00:00.000Z",
        }
        if existing is not None and existing["context_mode"] == context:
            existing.update(fields)
            return
        if existing is not None:
            self.tasks.remove(existing)
        self.tasks.append(
            {
                "id": task_id,
                "group_folder": group["folder"],
                "chat_jid": order["targetJid"],
                **fields,
                "last_run": None,
                "last_result": None,
                "status": "active",
                "created_at": iso_now(),
                "context_mode": context,
            }
        )
