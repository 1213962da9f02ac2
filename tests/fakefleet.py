"""A fleet with no engine and no runtime: a fake Docker SDK client and fake NanoClaw APIs, both
answering in this process, for `create_app(..., transport=fleet.transport(),
docker_client=fleet.docker)`.

Only the part of each that SMBOS uses is there: the containers of a project by label, inspect
data, start/stop/logs (docker), and health, state, tasks, messages and chat (NanoClaw's HTTP
API, as docs/container-interface.md describes it). A runtime answers only while its container
runs, as a published port does; task actions are taken from the IPC folder on the next
`GET /api/tasks`, as NanoClaw's watcher takes them.
"""

from __future__ import annotations

import json
import secrets
import urllib.parse
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

import httpx

from smbos import compose
from smbos.agent import Agent
from smbos.interface import LABEL_AGENT, LABEL_HASH, LABEL_PROJECT
from smbos.interface import RELAY_PORT_KEY as RELAY_PORT
from smbos.project import Project
from smbos.schedules import ACTIONS


def _stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%f000Z")


def _answer(status: int, data, content_type: str = "application/json") -> httpx.Response:
    """An answer read as it is relayed (a stream, as from a socket), not loaded before."""
    body = data if isinstance(data, bytes) else json.dumps(data).encode()
    return httpx.Response(status, headers={"Content-Type": content_type,
                                           "Content-Length": str(len(body))},
                          stream=httpx.ByteStream(body))


@dataclass
class FakeContainer:
    id: str
    agent_id: str
    project: str
    port: int
    config_hash: str
    status: str = "running"
    started: datetime = field(default_factory=lambda: datetime.now(timezone.utc))
    restarts: int = 0
    log_lines: list[str] = field(default_factory=list)
    fail_with: Exception | None = None  # what start/stop raise (a Docker API error)

    def start(self) -> None:
        if self.fail_with is not None:
            raise self.fail_with
        self.status = "running"
        self.started = datetime.now(timezone.utc)

    def stop(self, timeout: int = 10) -> None:
        if self.fail_with is not None:
            raise self.fail_with
        self.status = "exited"

    def reload(self) -> None:
        pass

    def logs(self, stream: bool = True, follow: bool = False, timestamps: bool = True,
             tail="all", since=None):
        lines = self.log_lines if tail == "all" else self.log_lines[-int(tail):]
        return iter([f"{_stamp(self.started)} {line}\n".encode() for line in lines])

    def inspect(self) -> dict:
        return {
            "Id": self.id, "Created": _stamp(self.started),
            "State": {"Status": self.status, "Health": {"Status": "healthy", "FailingStreak": 0}
                      if self.status == "running" else None,
                      "StartedAt": _stamp(self.started), "ExitCode": 0},
            "RestartCount": self.restarts,
            "Config": {"Image": "smbos/nanoclaw:local",
                       "Labels": {LABEL_AGENT: self.agent_id, LABEL_PROJECT: self.project,
                                  LABEL_HASH: self.config_hash}},
            "NetworkSettings": {"Ports": {RELAY_PORT: [{"HostIp": "127.0.0.1",
                                                        "HostPort": str(self.port)}]}},
        }


class _Api:
    def __init__(self, docker: FakeDocker):
        self.docker = docker

    def containers(self, all: bool = False, filters: dict | None = None) -> list[dict]:
        self.docker.check()
        project = next(v.split("=", 1)[1] for v in filters["label"]
                       if v.startswith(f"{LABEL_PROJECT}="))
        return [{"Id": c.id, "State": c.status,
                 "Labels": {LABEL_AGENT: c.agent_id, LABEL_PROJECT: c.project}}
                for c in self.docker.all.values() if c.project == project]

    def inspect_container(self, container_id: str) -> dict:
        self.docker.check()
        return self.docker.all[container_id].inspect()


class _Containers:
    def __init__(self, docker: FakeDocker):
        self.docker = docker

    def get(self, container_id: str) -> FakeContainer:
        self.docker.check()
        return self.docker.all[container_id]

    def list(self, all: bool = False, filters: dict | None = None) -> list:
        self.docker.check()
        return []  # no per-turn containers


class FakeDocker:
    """The Docker SDK client, as far as `Controller` uses it. `gone = True`: the engine stops
    answering (the connection error the SDK raises then)."""

    def __init__(self):
        self.all: dict[str, FakeContainer] = {}
        self.gone = False
        self.api = _Api(self)
        self.containers = _Containers(self)

    def check(self) -> None:
        if self.gone:
            import requests.exceptions

            raise requests.exceptions.ConnectionError("Connection aborted: the engine went away")

    def add(self, project: Project, agent: Agent, **kwargs) -> FakeContainer:
        container = FakeContainer(id=secrets.token_hex(32), agent_id=agent.id,
                                  project=project.name, port=agent.port,
                                  config_hash=agent.config_hash(), **kwargs)
        self.all[container.id] = container
        return container

    def of(self, agent_id: str) -> FakeContainer | None:
        return next((c for c in self.all.values() if c.agent_id == agent_id), None)


@dataclass
class FakeRuntime:
    """One agent's NanoClaw API. Replies echo the message (`echo=<quoted> assistant=<name>`);
    `reply` replaces that text (e.g. to echo a secret); a list of texts is sent as that many
    `message` events (as the runtime does for a turn that answers several times)."""

    agent: Agent
    instance_dir: Path
    tasks: list[dict] = field(default_factory=list)
    messages: list[dict] = field(default_factory=list)
    requests: list[tuple[str, str]] = field(default_factory=list)  # (method, path and query)
    reply: str | list[str] | None = None

    def handle(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        self.requests.append((request.method, request.url.raw_path.decode()))
        if request.method == "GET" and path == "/api/health":
            return _answer(200, {"status": "ok"})
        if request.method == "GET" and path == "/api/state":
            return _answer(200, {
                "dbExists": True, "sessions": 1, "groups": [],
                "taskStats": {"total": len(self.tasks), "active": 0, "paused": 0,
                              "completed": 0}})
        if request.method == "GET" and path == "/api/tasks" and not request.url.query:
            self._take_ipc()
            return _answer(200, {"tasks": self.tasks, "runLogs": []})
        if request.method == "GET" and path == "/api/messages":
            limit = int(request.url.params.get("limit", "50"))
            return _answer(200, {"messages": self.messages[-limit:]})
        if request.method == "POST" and path == "/api/chat":
            return self._chat(request)
        return _answer(404, {"error": "not found"})

    def _chat(self, request: httpx.Request) -> httpx.Response:
        message = (json.loads(request.content or b"{}") or {}).get("message")
        if not isinstance(message, str) or not message.strip():
            return _answer(400, {"error": "message is required"})
        text = self.reply if self.reply is not None else (
            f"echo={urllib.parse.quote(message)} "
            f"assistant={urllib.parse.quote(self.agent.assistant_name)}")
        texts = text if isinstance(text, list) else [text]
        for sender, content in (("web:operator", message), *(("bot", t) for t in texts)):
            self.messages.append({"id": len(self.messages) + 1, "sender": sender,
                                  "sender_name": None, "content": content,
                                  "timestamp": "2026-01-01T00:00:00Z",
                                  "is_from_me": sender == "bot",
                                  "is_bot_message": sender == "bot"})
        body = (b"event: typing\ndata: {}\n\n"
                + b"".join(f"event: message\ndata: {json.dumps({'text': t})}\n\n".encode()
                           for t in texts)
                + b"event: done\ndata: {}\n\n")
        return _answer(200, body, "text/event-stream")

    def add_task(self, task_id: str, prompt: str = "daily check", **fields) -> dict:
        task = {"id": task_id, "group_folder": "web-chat", "chat_jid": "web:operator",
                "prompt": prompt, "schedule_type": "cron", "schedule_value": "0 9 * * *",
                "next_run": "2026-01-02T09:00:00Z", "last_run": None, "last_result": None,
                "status": "active", "created_at": "2026-01-01T00:00:00Z",
                "context_mode": "group", **fields}
        self.tasks.append(task)
        (self.instance_dir / "data" / "ipc" / task["group_folder"] / "tasks").mkdir(
            parents=True, exist_ok=True)
        return task

    def _take_ipc(self) -> None:
        """What NanoClaw's IPC watcher does with the task files SMBOS writes."""
        kinds = {kind: action for action, kind in ACTIONS.items()}
        for file in sorted((self.instance_dir / "data" / "ipc").glob("*/tasks/*.json")):
            order = json.loads(file.read_text())
            file.unlink()
            action = kinds[order["type"]]
            if action == "cancel":
                self.tasks = [t for t in self.tasks if t["id"] != order["taskId"]]
            for task in self.tasks:
                if task["id"] == order["taskId"]:
                    task["status"] = "paused" if action == "pause" else "active"


class FakeFleet:
    """A project whose agents run: a container each (FakeDocker) and a runtime each."""

    def __init__(self, project: Project):
        self.project = project
        self.docker = FakeDocker()
        self.runtimes: dict[int, FakeRuntime] = {}

    def run(self, agent_id: str, started_ago: float = 600) -> FakeRuntime:
        agent = self.project.load().get(agent_id)
        container = self.docker.add(self.project, agent)
        container.started -= timedelta(seconds=started_ago)
        instance = compose.Host(project_dir=self.project.project_dir).state_dir(agent.id)
        runtime = FakeRuntime(agent, instance)
        self.runtimes[agent.port] = runtime
        return runtime

    def transport(self) -> httpx.MockTransport:
        def handle(request: httpx.Request) -> httpx.Response:
            runtime = self.runtimes.get(request.url.port)
            container = runtime and self.docker.of(runtime.agent.id)
            if request.url.host != "127.0.0.1" or container is None \
                    or container.status != "running":
                raise httpx.ConnectError("[Errno 111] Connection refused", request=request)
            return runtime.handle(request)

        return httpx.MockTransport(handle)
