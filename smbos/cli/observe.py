"""Commands that watch the fleet: status (ps), logs, doctor, heal."""

from __future__ import annotations

import sys
import time
from datetime import UTC, datetime, timedelta

import click

from smbos.cli.base import (
    cli,
    controller_for,
    make_console,
    out,
    out_json,
    project_options,
    status_table,
)
from smbos.errors import EXIT_CHECK_FAILED, EXIT_OK, SmbosError
from smbos.project import Project


@cli.command(name="status")
@project_options
@click.argument("ids", nargs=-1, metavar="[ID]...")
@click.option("--json", "as_json", is_flag=True, help="Print the status as JSON.")
@click.option("--watch", "-w", is_flag=True, help="Refresh every --interval seconds.")
@click.option("--interval", default=2.0, show_default=True, type=click.FloatRange(0.2, 3600))
def status_(
    project: Project, ids: tuple[str, ...], as_json: bool, watch: bool, interval: float
) -> None:
    """Show each agent: state, health, API, port, uptime, restarts, drift."""
    from smbos import fleetindex
    from smbos.controller import Controller

    # The engine is reached on first use, inside `status`, which probes the agents' APIs while
    # the engine answers; the folders are read through the status cache (smbos.fleetindex).
    controller = Controller(project)
    while True:
        rows = controller.status(list(ids), fleet=fleetindex.load(project))
        if as_json:
            out_json([r.to_json() for r in rows])
        else:
            console = make_console()
            if watch and console.is_terminal:
                console.clear()
            console.print(status_table(rows))
            _print_recent_heals(project, {r.id for r in rows})
        if not watch:
            return
        time.sleep(interval)


def _print_recent_heals(project: Project, ids: set[str], hours: float = 24) -> None:
    """The auto-heal actions of the last day for these agents, under the status table."""
    from smbos.controller import heal_log

    since = datetime.now(UTC) - timedelta(hours=hours)
    recent = []
    for action in heal_log(project):
        try:
            moment = datetime.fromisoformat(action.at)
        except ValueError:
            continue
        if action.agent in ids and moment.tzinfo is not None and moment >= since:
            recent.append(action)
    for action in recent[-5:]:
        out(f"auto-heal {action.at} {action.agent}: {action.action} ({action.reason})")


cli.add_command(status_, name="ps")


@cli.command()
@project_options
@click.argument("agent_id", metavar="ID")
@click.option("--follow", "-f", is_flag=True, help="Keep following, across restarts.")
@click.option(
    "--tail", "-n", default="100", show_default=True, help="Lines to show from the end (or 'all')."
)
def logs(project: Project, agent_id: str, follow: bool, tail: str) -> None:
    """Show an agent's container log."""
    if tail != "all" and not tail.isdigit():
        raise SmbosError(f"--tail: expected a number or 'all', got {tail!r}")
    from smbos.controller import Controller

    controller = Controller(project)  # the engine is reached on first use, after the id check
    agent = controller.resolve([agent_id])[0]
    for line in controller.logs(agent, tail=int(tail) if tail.isdigit() else "all", follow=follow):
        out(line)
        sys.stdout.flush()


@cli.command()
@project_options
def doctor(project: Project) -> None:
    """Check the machine and the fleet, one line each with a fix. Exits 1 if a check fails."""
    from smbos import doctor as checks

    found = checks.run(project)
    for check in found:
        out(check.line())
    sys.exit(EXIT_CHECK_FAILED if checks.failed(found) else EXIT_OK)


@cli.command()
@project_options
@click.option(
    "--all",
    "all_agents",
    is_flag=True,
    help="Global switch: heal every agent, not only those with heal.enabled.",
)
@click.option("--once", is_flag=True, help="Look once and exit.")
@click.option("--interval", default=10.0, show_default=True, type=click.FloatRange(1, 3600))
def heal(project: Project, all_agents: bool, once: bool, interval: float) -> None:
    """Restart agents that stay unhealthy (opt-in per agent: heal.enabled), with backoff."""
    from smbos.controller import Healer

    healer = Healer(controller_for(project), all_agents=all_agents)
    while True:
        for action in healer.tick():
            out(f"{action.at} {action.agent}: {action.action} ({action.reason})")
            sys.stdout.flush()
        if once:
            return
        time.sleep(interval)
