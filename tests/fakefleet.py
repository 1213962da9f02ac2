"""A fleet with no engine and no runtime: a fake Docker SDK client and fake NanoClaw APIs, both
answering in this process, for `create_app(..., transport=fleet.transport(),
docker_client=fleet.docker)`.

Only the part of the engine that SMBOS uses is there: the containers of a project by label,
inspect data, start/stop/logs. Each runtime is a `FakeRuntime` (tests/fakeruntime.py: NanoClaw's
web API and IPC as docs/runtime-api.md describes them, held to the contract suite in
tests/contract/); it answers only while its container runs, as a published port does.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

import httpx

from smbos import compose
from smbos.agent import Agent
from smbos.nanoclaw.interface import LABEL_AGENT, LABEL_HASH, LABEL_PROJECT
from smbos.nanoclaw.interface import RELAY_PORT_KEY as RELAY_PORT
from smbos.project import Project

from .fakeruntime import FakeRuntime

__all__ = ["FakeContainer", "FakeDocker", "FakeFleet", "FakeRuntime"]


def _stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%f000Z")


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

    def logs(
        self,
        stream: bool = True,
        follow: bool = False,
        timestamps: bool = True,
        tail="all",
        since=None,
    ):
        lines = self.log_lines if tail == "all" else self.log_lines[-int(tail) :]
        return iter([f"{_stamp(self.started)} {line}\n".encode() for line in lines])

    def inspect(self) -> dict:
        return {
            "Id": self.id,
            "Created": _stamp(self.started),
            "State": {
                "Status": self.status,
                "Health": {"Status": "healthy", "FailingStreak": 0}
                if self.status == "running"
                else None,
                "StartedAt": _stamp(self.started),
                "ExitCode": 0,
            },
            "RestartCount": self.restarts,
            "Config": {
                "Image": "smbos/nanoclaw:local",
                "Labels": {
                    LABEL_AGENT: self.agent_id,
                    LABEL_PROJECT: self.project,
                    LABEL_HASH: self.config_hash,
                },
            },
            "NetworkSettings": {
                "Ports": {RELAY_PORT: [{"HostIp": "127.0.0.1", "HostPort": str(self.port)}]}
            },
        }


class _Api:
    def __init__(self, docker: FakeDocker):
        self.docker = docker

    def containers(self, all: bool = False, filters: dict | None = None) -> list[dict]:
        self.docker.check()
        project = next(
            v.split("=", 1)[1] for v in filters["label"] if v.startswith(f"{LABEL_PROJECT}=")
        )
        return [
            {
                "Id": c.id,
                "State": c.status,
                "Labels": {LABEL_AGENT: c.agent_id, LABEL_PROJECT: c.project},
            }
            for c in self.docker.all.values()
            if c.project == project
        ]

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
        container = FakeContainer(
            id=secrets.token_hex(32),
            agent_id=agent.id,
            project=project.name,
            port=agent.port,
            config_hash=agent.config_hash(),
            **kwargs,
        )
        self.all[container.id] = container
        return container

    def of(self, agent_id: str) -> FakeContainer | None:
        return next((c for c in self.all.values() if c.agent_id == agent_id), None)


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
            if (
                request.url.host != "127.0.0.1"
                or container is None
                or container.status != "running"
            ):
                raise httpx.ConnectError("[Errno 111] Connection refused", request=request)
            return runtime.handle(request)

        return httpx.MockTransport(handle)
