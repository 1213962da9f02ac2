"""`smbos up` as steps that return data: `prepare` (validate strictly, record ports, write the
Compose file when it changed, build the runtime image when missing, check the per-turn images,
prepare `state/`) and `start` (Compose up, wait, and a report of every agent that is not
healthy, with why and its last log lines). The CLI shows progress and prints the report; the
functions print nothing themselves: what they have to say goes to `say`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from smbos import compose, integrations, preflight
from smbos.controller import AgentStatus, Controller
from smbos.errors import CheckFailed, InvalidInput, SmbosError
from smbos.nanoclaw import image, schedules

if TYPE_CHECKING:
    from smbos.agent import Agent
    from smbos.project import Project


@dataclass
class Plan:
    """What `start` will bring up: the controller and the enabled agents asked for."""

    controller: Controller
    agents: list[Agent]
    all_agents: bool  # no ids given: Compose brings up the whole file


@dataclass
class Unhealthy:
    """An agent that is not running and healthy after `up`, and what the operator needs."""

    id: str
    state: str
    health: str
    image_missing: str = ""  # the image it needs, when that is what is missing
    log: list[str] | None = None  # its last log lines (None: it has no container)


@dataclass
class Report:
    rows: list[AgentStatus]
    unhealthy: list[Unhealthy] = field(default_factory=list)
    compose_error: str = ""  # Compose's last line when it failed
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.unhealthy


def prepare(
    project: Project,
    ids: tuple[str, ...] | list[str],
    *,
    no_build: bool,
    build: Callable[[object], object],
    say: Callable[[str], None],
) -> Plan:
    """Everything before containers start. `build(client)` builds the runtime image when it is
    missing; raises `InvalidInput` (folders, state/), `CheckFailed` (images) or `SmbosError`."""
    fleet = project.load_valid(strict_env=True, say=say)
    project.record_ports(fleet)
    controller = Controller(project)
    agents = controller.resolve(list(ids), fleet)
    disabled = [a.id for a in agents if not a.enabled]
    if ids and disabled:
        raise SmbosError(f"agent {disabled[0]!r} is disabled (enabled: false in its config.yaml)")
    agents = [a for a in agents if a.enabled]
    text = project.render(fleet)
    if compose.diff(project.compose_file, text):
        compose.write_atomic(project.compose_file, text)
        say(f"wrote {project.compose_display}")
    images = {a.config.runtime.image or project.image for a in agents}
    if project.image in images and not image.image_exists(controller.client, project.image):
        if no_build:
            raise CheckFailed(
                f"image {project.image} not found; build it with `smbos build` (or drop --no-build)"
            )
        build(controller.client)
    missing = image.missing_agent_images(controller.client, agents, project.image)
    for agent_id, wanted in missing:
        say(
            f"agents/{agent_id}: per-turn agent image {wanted} is not on this engine: every "
            "chat would fail; `smbos build` builds it (or set runtime.agent_image)"
        )
    lacking = integrations.servers_missing_from_images(controller.client, project.image, agents)
    for agent_id, wanted, packages in lacking:
        say(
            f"agents/{agent_id}: per-turn agent image {wanted} lacks the MCP server(s) "
            f"{', '.join(packages)}; `smbos build` installs the fleet's servers"
        )
    if missing or lacking:
        raise CheckFailed(
            f"{len(missing) + len(lacking)} agent(s) without their per-turn agent "
            "image or its MCP servers"
        )
    notes: list[str] = []
    problems = []
    host = project.host()
    for agent in agents:
        problems += preflight.prepare(agent, host, notes)
    for note in notes:
        say(note)
    if problems:
        raise InvalidInput(problems)
    return Plan(controller, agents, all_agents=not ids)


def start(project: Project, plan: Plan, wait_timeout: int) -> Report:
    """Compose up (the agents asked for, or the whole file), wait for health, and report."""
    controller = plan.controller
    result = controller.up([] if plan.all_agents else plan.agents, wait=True, timeout=wait_timeout)
    rows = controller.status([a.id for a in plan.agents])
    report = Report(rows)
    for agent in plan.agents:
        support = schedules.support(project.state_dir(agent.id))
        if support.ok is False and any(x.enabled for x in agent.config.schedules):
            report.warnings.append(
                f"agent {agent.id}: its schedules will not run: {support.reason}"
            )
    bad = [r for r in rows if r.state != "running" or r.health not in ("healthy", "none")]
    if result.returncode == 0 and not bad:
        return report
    detail = (result.stderr or "").strip().splitlines()
    report.compose_error = detail[-1] if detail else ""
    wanted_of = {a.id: a.config.runtime.image or project.image for a in plan.agents}
    for row in bad or rows:
        entry = Unhealthy(row.id, row.state, row.health)
        wanted = wanted_of.get(row.id)
        if (
            row.state == "not created"
            and wanted
            and not image.image_exists(controller.client, wanted)
        ):
            entry.image_missing = wanted
        else:
            loaded = project.load().get(row.id)
            try:
                entry.log = list(controller.logs(loaded, tail=20)) if loaded else None
            except SmbosError:
                entry.log = None
        report.unhealthy.append(entry)
    return report
