"""The controller: per-agent lifecycle, status, logs and health, on the Docker SDK.

It finds agent containers by their `io.smbos.*` labels, never by name. It starts, stops and
restarts containers that exist; creating and recreating goes through Compose (ADR 001).
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone

from smbos.agent import Agent, Fleet
from smbos.dockercompose import Compose
from smbos.errors import EXIT_ENGINE_UNREACHABLE, SmbosError
from smbos.project import Project

LABEL_AGENT = "io.smbos.agent"
LABEL_PROJECT = "io.smbos.project"
LABEL_HASH = "io.smbos.config-hash"
RELAY_PORT = "8080/tcp"


class EngineUnreachable(SmbosError):
    exit_code = EXIT_ENGINE_UNREACHABLE


class UnknownAgent(SmbosError):
    def __init__(self, agent_id: str, known: list[str]):
        super().__init__(f"unknown agent {agent_id!r}; known agents: "
                         f"{', '.join(known) or 'none'}")


def engine(timeout: int = 30):
    """A Docker client for the engine of DOCKER_HOST (or the default socket), checked alive."""
    import docker
    import docker.errors

    where = os.environ.get("DOCKER_HOST") or "unix:///var/run/docker.sock"
    try:
        client = docker.from_env(timeout=timeout)
        client.ping()
        return client
    except docker.errors.DockerException as exc:
        reason = str(exc).split("(")[0].strip() or type(exc).__name__
        reason = " ".join(reason.split())[:160]
        raise EngineUnreachable(
            f"Docker engine unreachable at {where} ({reason}); start it (`sudo systemctl start "
            "docker` or `sudo dockerd &`) or point DOCKER_HOST at a running engine") from None


@dataclass
class AgentStatus:
    """One row of `smbos status`: what Docker and the agent's API say now."""

    id: str
    name: str
    enabled: bool
    port: int | None
    state: str = "not created"  # running, exited, restarting, paused, created, dead, not created
    health: str = "-"  # healthy, unhealthy, starting, none, -
    api: str = "-"  # ok, unresponsive, down, error, -
    api_detail: str = ""
    latency_ms: float | None = None
    uptime_s: float | None = None
    restarts: int = 0
    image: str = ""
    published: str = ""
    drift: str = ""  # "", "needs recreate", "not created", "no folder", "disabled"
    container: str = ""
    failing_streak: int = 0
    exit_code: int | None = None

    def to_json(self) -> dict:
        return asdict(self)


def _parse_time(value: str | None) -> datetime | None:
    if not value or value.startswith("0001-"):
        return None
    value = value.rstrip("Z")
    if "." in value:
        head, frac = value.split(".", 1)
        value = f"{head}.{frac[:6]}"
    try:
        return datetime.fromisoformat(value).replace(tzinfo=timezone.utc)
    except ValueError:
        return None


def _published(ports: dict | None) -> str:
    for binding in (ports or {}).get(RELAY_PORT) or []:
        return f"{binding.get('HostIp') or '0.0.0.0'}:{binding.get('HostPort')}"
    return ""


class Controller:
    """Lifecycle and observation of one project's agents."""

    def __init__(self, project: Project, client=None):
        self.project = project
        self._client = client

    # -- plumbing --------------------------------------------------------------------------

    @property
    def client(self):
        if self._client is None:
            self._client = engine()
        return self._client

    @property
    def compose(self) -> Compose:
        return Compose(self.project.compose_file, self.project.name)

    def fleet(self) -> Fleet:
        return self.project.load()

    def resolve(self, ids: list[str] | tuple[str, ...], fleet: Fleet | None = None) -> list[Agent]:
        """The agents named by `ids` (all of them when empty); unknown ids are an error."""
        fleet = fleet or self.fleet()
        if not ids:
            return fleet.agents
        known = [a.id for a in fleet.agents]
        agents = []
        for agent_id in ids:
            agent = fleet.get(agent_id)
            if agent is None:
                raise UnknownAgent(agent_id, known)
            agents.append(agent)
        return agents

    def containers(self) -> dict[str, dict]:
        """Inspect data of every container of this project, by agent id (found by label)."""
        summaries = self.client.api.containers(
            all=True, filters={"label": [f"{LABEL_PROJECT}={self.project.name}", LABEL_AGENT]})
        ids = [s["Id"] for s in summaries]
        with ThreadPoolExecutor(max_workers=min(16, max(1, len(ids)))) as pool:
            inspected = list(pool.map(self._inspect, ids))
        found: dict[str, dict] = {}
        for data in inspected:
            if data is None:
                continue
            agent_id = data["Config"]["Labels"].get(LABEL_AGENT)
            # Several containers for one agent only while Compose replaces one: keep the newest.
            if agent_id not in found or data["Created"] > found[agent_id]["Created"]:
                found[agent_id] = data
        return found

    def _inspect(self, container_id: str) -> dict | None:
        import docker.errors

        try:
            return self.client.api.inspect_container(container_id)
        except docker.errors.NotFound:
            return None

    def container_of(self, agent_id: str):
        """The Docker SDK container of an agent, or None when it has none."""
        data = self.containers().get(agent_id)
        return self.client.containers.get(data["Id"]) if data else None

    # -- status ----------------------------------------------------------------------------

    def status(self, ids: list[str] | tuple[str, ...] = (), probe: bool = True,
               fleet: Fleet | None = None) -> list[AgentStatus]:
        """Docker's view and the API's view of each agent; API probes run concurrently."""
        fleet = fleet or self.fleet()
        agents = self.resolve(ids, fleet)
        containers = self.containers()
        now = datetime.now(timezone.utc)
        rows: list[AgentStatus] = []
        for agent in agents:
            row = AgentStatus(id=agent.id, name=agent.name, enabled=agent.enabled,
                              port=agent.port)
            data = containers.get(agent.id)
            if data is None:
                row.drift = "not created" if agent.enabled else "disabled"
            else:
                self._fill(row, data, now)
                if not agent.enabled:
                    row.drift = "disabled"
                elif data["Config"]["Labels"].get(LABEL_HASH) != agent.config_hash():
                    row.drift = "needs recreate"
            rows.append(row)
        if not ids:
            for agent_id, data in sorted(containers.items()):
                if fleet.get(agent_id) is None:
                    row = AgentStatus(id=agent_id, name=agent_id, enabled=False, port=None,
                                      drift="no folder")
                    self._fill(row, data, now)
                    rows.append(row)
        if probe:
            self._probe(rows)
        return rows

    @staticmethod
    def _fill(row: AgentStatus, data: dict, now: datetime) -> None:
        state = data["State"]
        row.container = data["Id"][:12]
        row.state = state.get("Status", "unknown")
        health = state.get("Health")
        row.health = health.get("Status", "none") if health else "none"
        row.failing_streak = int(health.get("FailingStreak", 0)) if health else 0
        row.restarts = int(data.get("RestartCount", 0))
        row.image = data["Config"].get("Image", "")
        row.published = _published(data.get("NetworkSettings", {}).get("Ports"))
        started = _parse_time(state.get("StartedAt"))
        if row.state == "running" and started:
            row.uptime_s = max(0.0, (now - started).total_seconds())
        if row.state in ("exited", "dead"):
            row.exit_code = state.get("ExitCode")

    def _probe(self, rows: list[AgentStatus]) -> None:
        from smbos.runtime import AsyncRuntimeClient

        targets = [r for r in rows if r.state == "running" and r.published]

        async def one(row: AgentStatus):
            host, _, port = row.published.rpartition(":")
            host = "127.0.0.1" if host in ("0.0.0.0", "") else host
            async with AsyncRuntimeClient(f"http://{host}:{port}") as client:
                result = await client.probe()
            row.api = result.api.value
            row.api_detail = result.detail or ""
            row.latency_ms = result.latency_ms

        async def all_of():
            await asyncio.gather(*(one(r) for r in targets))

        if targets:
            asyncio.run(all_of())

    # -- lifecycle -------------------------------------------------------------------------

    def _existing(self, agent: Agent):
        container = self.container_of(agent.id)
        if container is None:
            raise SmbosError(f"agent {agent.id!r} has no container; create it with "
                             f"`smbos up {agent.id}`", 1)
        return container

    def start(self, agent: Agent) -> None:
        self._existing(agent).start()

    def stop(self, agent: Agent, timeout: int = 20) -> None:
        self._existing(agent).stop(timeout=timeout)

    def restart(self, agent: Agent, timeout: int = 20) -> None:
        self._existing(agent).restart(timeout=timeout)

    def wait_healthy(self, agent_id: str, timeout: float = 120) -> AgentStatus:
        """Poll until the agent is running and healthy (or the timeout passes)."""
        deadline = time.monotonic() + timeout
        while True:
            row = self.status([agent_id], probe=False)[0]
            if row.state == "running" and row.health in ("healthy", "none"):
                return row
            if time.monotonic() > deadline:
                return row
            time.sleep(0.5)

    # -- logs ------------------------------------------------------------------------------

    def logs(self, agent: Agent, tail: int | str = 100, follow: bool = False,
             poll: float = 0.5) -> Iterator[str]:
        """Log lines of the agent's container; with `follow`, across restarts and recreates."""
        import docker.errors

        since: datetime | None = None
        first = True
        while True:
            container = self.container_of(agent.id)
            if container is None:
                if not follow:
                    raise SmbosError(f"agent {agent.id!r} has no container; create it with "
                                     f"`smbos up {agent.id}`", 1)
                time.sleep(poll)
                continue
            kwargs = {"stream": True, "follow": follow, "timestamps": True}
            if first:
                kwargs["tail"] = tail
            elif since is not None:
                kwargs["since"] = since
            try:
                buffer = b""
                for chunk in container.logs(**kwargs):
                    buffer += chunk
                    while b"\n" in buffer:
                        raw, buffer = buffer.split(b"\n", 1)
                        stamp, _, text = raw.decode("utf-8", "replace").partition(" ")
                        moment = _parse_time(stamp)
                        if moment is not None:
                            if since is not None and moment <= since and not first:
                                continue
                            since = moment
                        yield text
            except docker.errors.NotFound:
                pass
            first = False
            if not follow:
                return
            # The stream ended: the container stopped. Wait for it (or its successor) to run.
            while True:
                time.sleep(poll)
                container = self.container_of(agent.id)
                if container is not None and container.status in ("running", "restarting"):
                    container.reload()
                    if container.status == "running":
                        break

    # -- compose ---------------------------------------------------------------------------

    def up(self, agents: list[Agent], wait: bool = True, timeout: int = 180):
        ids = [a.id for a in agents]
        return self.compose.up(ids, wait=wait, timeout=timeout)

    def down(self):
        return self.compose.down()


@dataclass
class HealAction:
    at: str
    agent: str
    action: str  # restarted, skipped
    reason: str

    def to_json(self) -> dict:
        return asdict(self)


@dataclass
class Healer:
    """Opt-in auto-heal: restart a container that stays unhealthy, with backoff and a cap.

    Docker restarts a container that exits, never one that is unhealthy. An agent is healed
    when its `heal.enabled` is true (or `all_agents` is set, the global switch) and Docker
    reports at least `heal.after` consecutive failing health checks. After each restart the
    agent gets a grace period that doubles (`backoff`), and at most `heal.max_restarts`
    restarts happen per hour.
    """

    controller: Controller
    all_agents: bool = False
    backoff: float = 30.0
    history: dict[str, list[float]] = field(default_factory=dict)
    actions: list[HealAction] = field(default_factory=list)

    def enabled_for(self, agent: Agent) -> bool:
        return self.all_agents or agent.config.heal.enabled

    def tick(self) -> list[HealAction]:
        """Look once at every agent; restart those that need it. Returns what was done."""
        fleet = self.controller.fleet()
        done: list[HealAction] = []
        rows = {r.id: r for r in self.controller.status(probe=False, fleet=fleet)}
        now = time.time()
        for agent in fleet.enabled:
            row = rows.get(agent.id)
            if row is None or not self.enabled_for(agent) or row.state != "running":
                continue
            policy = agent.config.heal
            if row.failing_streak < policy.after:
                continue
            recent = [t for t in self.history.get(agent.id, []) if now - t < 3600]
            self.history[agent.id] = recent
            stamp = datetime.now(timezone.utc).isoformat(timespec="seconds")
            if len(recent) >= policy.max_restarts:
                action = HealAction(stamp, agent.id, "skipped",
                                    f"{len(recent)} restarts in the last hour (cap "
                                    f"{policy.max_restarts})")
            elif recent and now - recent[-1] < self.backoff * 2 ** (len(recent) - 1):
                continue  # still in its grace period after the last restart
            else:
                self.controller.restart(agent)
                self.history[agent.id].append(now)
                action = HealAction(stamp, agent.id, "restarted",
                                    f"{row.failing_streak} failing health checks")
            if not (action.action == "skipped" and self.actions
                    and self.actions[-1].agent == agent.id
                    and self.actions[-1].action == "skipped"):
                done.append(action)
        self.actions.extend(done)
        if done:
            log = self.log_path()
            log.parent.mkdir(parents=True, exist_ok=True)
            with log.open("a", encoding="utf-8") as handle:
                for action in done:
                    handle.write(json.dumps(action.to_json()) + "\n")
        return done

    def log_path(self):
        return self.controller.project.project_dir / "state" / "heal-log.jsonl"


def heal_log(project: Project, limit: int = 50) -> list[HealAction]:
    """The most recent auto-heal actions recorded for a project."""
    path = project.project_dir / "state" / "heal-log.jsonl"
    if not path.is_file():
        return []
    actions = []
    for line in path.read_text(encoding="utf-8").splitlines()[-limit:]:
        try:
            actions.append(HealAction(**json.loads(line)))
        except (ValueError, TypeError):
            continue
    return actions
