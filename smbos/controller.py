"""The controller: per-agent lifecycle, status, logs and health, on the Docker SDK.

It finds agent containers by their `io.smbos.*` labels, never by name. It starts, stops and
restarts containers that exist; creating and recreating goes through Compose (ADR 001).
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypeVar

from smbos import engine as engines
from smbos import integrations
from smbos.engine import EngineUnreachable  # noqa: F401 - re-exported: the CLI's and UI's name
from smbos.engine import client as engine  # noqa: F401 - likewise
from smbos.errors import NoContainer, UnknownAgent  # noqa: F401 - UnknownAgent re-exported
from smbos.fleetindex import AgentView, FleetView
from smbos.nanoclaw.interface import (
    LABEL_AGENT,
    LABEL_HASH,
    LABEL_PATCHES,
    LABEL_PROJECT,
    LABEL_TURN,
    published,
    reach,
)
from smbos.nanoclaw.probe import Probes
from smbos.project import Project

if TYPE_CHECKING:  # `status` loads none of these (nor the agent models: smbos.fleetindex)
    from smbos.agent import Agent, Fleet
    from smbos.dockercompose import Compose

HEAL_LOG = "heal-log.jsonl"  # in state/


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
    # The runtime patches the container's image carries (`smbos build` records them as a label);
    # "" for an image not built by `smbos build`.
    patches: str = ""
    turns: int = 0  # per-turn containers running for this agent now
    # Telegram (smbos/integrations.py): off, -, connecting, connected, failed, unknown
    telegram: str = "off"
    telegram_detail: str = ""
    # Agent teams (runtime.swarms) and the team's member names (team/), as the folder says.
    teams: bool = False
    team: list[str] = field(default_factory=list)

    def to_json(self) -> dict:
        return asdict(self)

    def apply_probe(self, result) -> None:
        """The API column from a health probe (`smbos.nanoclaw.probe`)."""
        self.api = result.api.value
        self.api_detail = result.detail or ""
        self.latency_ms = result.latency_ms


def _parse_time(value: str | None) -> datetime | None:
    if not value or value.startswith("0001-"):
        return None
    value = value.rstrip("Z")
    if "." in value:
        head, frac = value.split(".", 1)
        value = f"{head}.{frac[:6]}"
    try:
        return datetime.fromisoformat(value).replace(tzinfo=UTC)
    except ValueError:
        return None


AgentT = TypeVar("AgentT", bound=AgentView)


def _pick(ids: list[str] | tuple[str, ...], fleet: FleetView[AgentT]) -> list[AgentT]:
    """The agents named by `ids` (all of them when empty); unknown ids are an error."""
    if not ids:
        return list(fleet.agents)
    agents = []
    for agent_id in ids:
        agent = fleet.get(agent_id)
        if agent is None:
            raise UnknownAgent(fleet.why_missing(agent_id))
        agents.append(agent)
    return agents


class Controller:
    """Lifecycle and observation of one project's agents."""

    def __init__(self, project: Project, client=None):
        self.project = project
        self._client = client
        self._reader: engines.Reader | None = None
        self.turns: dict[str, int] = {}  # running per-turn containers by agent, as last listed

    # -- plumbing --------------------------------------------------------------------------

    @property
    def client(self):
        """The Docker SDK client, for lifecycle and logs."""
        if self._client is None:
            self._client = engines.client()
        return self._client

    @property
    def reader(self) -> engines.Reader:
        """Read-only container state: the SDK client when there is one, else the cheapest."""
        if self._reader is None:
            self._reader = engines.reader(self._client)
        return self._reader

    @property
    def compose(self) -> Compose:
        from smbos.dockercompose import Compose

        return Compose(self.project.compose_file, self.project.name)

    def fleet(self) -> Fleet:
        return self.project.load()

    def resolve(self, ids: list[str] | tuple[str, ...], fleet: Fleet | None = None) -> list[Agent]:
        """The agents named by `ids` (all of them when empty); unknown ids are an error."""
        return _pick(ids, fleet or self.fleet())

    def containers(self) -> dict[str, dict]:
        """Inspect data of every agent container of this project, by agent id (found by label);
        the agents' per-turn containers are counted in `self.turns` instead."""
        summaries = self.reader.containers([f"{LABEL_PROJECT}={self.project.name}", LABEL_AGENT])
        self.turns = {}
        for summary in summaries:
            labels = summary.get("Labels") or {}
            if labels.get(LABEL_TURN) and summary.get("State") == "running":
                agent_id = labels.get(LABEL_AGENT, "")
                self.turns[agent_id] = self.turns.get(agent_id, 0) + 1
        ids = [s["Id"] for s in summaries if not (s.get("Labels") or {}).get(LABEL_TURN)]
        with ThreadPoolExecutor(max_workers=min(16, max(1, len(ids)))) as pool:
            inspected = list(pool.map(self.reader.inspect, ids))
        found: dict[str, dict] = {}
        for data in inspected:
            if data is None:
                continue
            agent_id = data["Config"]["Labels"].get(LABEL_AGENT)
            # Several containers for one agent only while Compose replaces one: keep the newest.
            if agent_id not in found or data["Created"] > found[agent_id]["Created"]:
                found[agent_id] = data
        return found

    def container_of(self, agent_id: str):
        """The Docker SDK container of an agent, or None when it has none."""
        data = self.containers().get(agent_id)
        return self.client.containers.get(data["Id"]) if data else None

    # -- status ----------------------------------------------------------------------------

    def status(
        self,
        ids: list[str] | tuple[str, ...] = (),
        probe: bool = True,
        fleet: FleetView[AgentView] | None = None,
    ) -> list[AgentStatus]:
        """Docker's view and the API's view of each agent; API probes run concurrently. The
        fleet may be the status cache's (`smbos.fleetindex`) or a loaded one."""
        fleet = fleet or self.fleet()
        agents = _pick(ids, fleet)
        # Probe each agent's own port while Docker is asked (and its SDK imported): the API
        # answers are waited for in parallel with the engine instead of after it. A row uses an
        # early answer only when Docker publishes the agent on exactly that address.
        early = (
            Probes([("127.0.0.1", a.port) for a in agents if a.enabled and a.port])
            if probe
            else None
        )
        containers = self.containers()
        now = datetime.now(UTC)
        rows: list[AgentStatus] = []
        for agent in agents:
            row = AgentStatus(
                id=agent.id,
                name=agent.name,
                enabled=agent.enabled,
                port=agent.port,
                teams=agent.teams,
                team=list(agent.members),
            )
            data = containers.get(agent.id)
            row.turns = self.turns.get(agent.id, 0)
            if data is None:
                row.drift = "not created" if agent.enabled else "disabled"
            else:
                self._fill(row, data, now)
                if not agent.enabled:
                    row.drift = "disabled"
                elif data["Config"]["Labels"].get(LABEL_HASH) != agent.config_hash():
                    row.drift = "needs recreate"
            row.telegram, row.telegram_detail = integrations.telegram_status(
                self.project.state_dir(agent.id), agent.telegram, row.state == "running"
            )
            rows.append(row)
        if not ids:
            for agent_id, data in sorted(containers.items()):
                if fleet.get(agent_id) is None:
                    row = AgentStatus(
                        id=agent_id, name=agent_id, enabled=False, port=None, drift="no folder"
                    )
                    self._fill(row, data, now)
                    rows.append(row)
        if probe:
            self._probe(rows, early)
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
        row.patches = (data["Config"].get("Labels") or {}).get(LABEL_PATCHES, "")
        row.published = published(data.get("NetworkSettings", {}).get("Ports"))
        started = _parse_time(state.get("StartedAt"))
        if row.state == "running" and started:
            row.uptime_s = max(0.0, (now - started).total_seconds())
        if row.state in ("exited", "dead", "restarting"):
            # While Docker waits to restart a container, ExitCode is the code it just exited with.
            row.exit_code = state.get("ExitCode")

    def _probe(self, rows: list[AgentStatus], early: Probes | None = None) -> None:
        targets = [r for r in rows if r.state == "running" and r.published]
        addresses = [reach(row.published) for row in targets]
        probes = early or Probes([])
        probes.start(addresses)  # those Docker publishes elsewhere than the folder says
        for row, address in zip(targets, addresses, strict=True):
            row.apply_probe(probes.result(address))

    # -- lifecycle -------------------------------------------------------------------------

    def _existing(self, agent: Agent):
        container = self.container_of(agent.id)
        if container is None:
            raise NoContainer(
                f"agent {agent.id!r} has no container; create it with `smbos up {agent.id}`"
            )
        return container

    def start(self, agent: Agent) -> None:
        self._existing(agent).start()

    def stop(self, agent: Agent, timeout: int = 20) -> None:
        self._existing(agent).stop(timeout=timeout)
        self.stop_turns(agent.id)

    def restart(self, agent: Agent, timeout: int = 20) -> None:
        container = self._existing(agent)
        container.stop(timeout=timeout)
        self.stop_turns(agent.id)
        container.start()

    def turn_containers(self, agent_id: str | None = None) -> list:
        """The per-turn containers of this project (of one agent, when given)."""
        labels = [f"{LABEL_PROJECT}={self.project.name}", f"{LABEL_TURN}=true"]
        if agent_id is not None:
            labels.append(f"{LABEL_AGENT}={agent_id}")
        return self.client.containers.list(all=True, filters={"label": labels})

    def stop_turns(self, agent_id: str | None = None) -> int:
        """Remove the agent's per-turn containers (every agent's, without an id): a turn
        outliving its runtime would otherwise run on, unseen, until its own timeout. Only after
        the runtime itself stopped, which would start no new ones."""
        import docker.errors

        turns = self.turn_containers(agent_id)
        for turn in turns:
            with contextlib.suppress(docker.errors.NotFound):
                turn.remove(force=True)
        return len(turns)

    # -- logs ------------------------------------------------------------------------------

    def logs(
        self, agent: Agent, tail: int | str = 100, follow: bool = False, poll: float = 0.5
    ) -> Iterator[str]:
        """Log lines of the agent's container; with `follow`, across restarts and recreates.
        The values of the agent's `.env` are redacted, whatever wrote them (`smbos.redact`)."""
        import docker.errors

        from smbos import redact

        scrub = redact.for_agent(agent)
        since: datetime | None = None
        first = True
        while True:
            container = self.container_of(agent.id)
            if container is None:
                if not follow:
                    raise NoContainer(
                        f"agent {agent.id!r} has no container; create it with `smbos up {agent.id}`"
                    )
                time.sleep(poll)
                continue
            kwargs: dict[str, Any] = {"stream": True, "follow": follow, "timestamps": True}
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
                        yield scrub(text)
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
        result = self.compose.down()
        self.stop_turns()
        return result


@dataclass
class HealAction:
    at: str
    agent: str
    action: str  # restarted, skipped, failed
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

    Restarts recorded in `state/heal-log.jsonl` by earlier runs count too, so `smbos heal
    --once` run every minute from cron keeps the same cap and backoff as one long-running
    `smbos heal`.
    """

    controller: Controller
    all_agents: bool = False
    backoff: float = 30.0
    history: dict[str, list[float]] = field(default_factory=dict)
    actions: list[HealAction] = field(default_factory=list)
    _last: dict[str, str] = field(default_factory=dict, repr=False)  # agent -> last action
    _loaded: bool = field(default=False, repr=False)

    def enabled_for(self, agent: Agent) -> bool:
        return self.all_agents or agent.config.heal.enabled

    def _load_log(self, now: float) -> None:
        """Seed the restart history (last hour) and each agent's last action from the log."""
        self._loaded = True
        for action in heal_log(self.controller.project, limit=100_000):
            self._last[action.agent] = action.action
            if action.action not in ("restarted", "failed"):
                continue
            try:
                at = datetime.fromisoformat(action.at).timestamp()
            except ValueError:
                continue
            if now - at < 3600:
                self.history.setdefault(action.agent, []).append(at)
        for times in self.history.values():
            times.sort()

    def tick(self) -> list[HealAction]:
        """Look once at every agent; restart those that need it. Returns what was done."""
        fleet = self.controller.fleet()
        done: list[HealAction] = []
        rows = {r.id: r for r in self.controller.status(probe=False, fleet=fleet)}
        now = time.time()
        if not self._loaded:
            self._load_log(now)
        stamp = datetime.fromtimestamp(now, UTC).isoformat(timespec="seconds")
        for agent in fleet.enabled:
            row = rows.get(agent.id)
            if row is None or not self.enabled_for(agent) or row.state != "running":
                continue
            policy = agent.config.heal
            if row.failing_streak < policy.after:
                continue
            recent = [t for t in self.history.get(agent.id, []) if now - t < 3600]
            self.history[agent.id] = recent
            if len(recent) >= policy.max_restarts:
                if self._last.get(agent.id) == "skipped":
                    continue  # said once; not again on every tick
                action = HealAction(
                    stamp,
                    agent.id,
                    "skipped",
                    f"{len(recent)} restarts in the last hour (cap {policy.max_restarts})",
                )
            elif recent and now - recent[-1] < self.backoff * 2 ** (len(recent) - 1):
                continue  # still in its grace period after the last restart
            else:
                self.history[agent.id].append(now)
                try:
                    self.controller.restart(agent)
                    action = HealAction(
                        stamp, agent.id, "restarted", f"{row.failing_streak} failing health checks"
                    )
                except Exception as exc:  # noqa: BLE001 - recorded; the other agents go on
                    reason = " ".join(str(getattr(exc, "explanation", None) or exc).split())
                    action = HealAction(
                        stamp, agent.id, "failed", f"restart failed: {reason[:200]}"
                    )
            self._last[agent.id] = action.action
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
        return self.controller.project.state_root / HEAL_LOG


def heal_log(project: Project, limit: int = 50) -> list[HealAction]:
    """The most recent auto-heal actions recorded for a project."""
    path = project.state_root / HEAL_LOG
    if not path.is_file():
        return []
    actions = []
    for line in path.read_text(encoding="utf-8").splitlines()[-limit:]:
        try:
            actions.append(HealAction(**json.loads(line)))
        except (ValueError, TypeError):
            continue
    return actions
