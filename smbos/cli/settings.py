"""Commands on an agent's settings and memory: env, memory."""

from __future__ import annotations

import sys
import time

import click

from smbos.cli.base import (
    Table,
    cell,
    cli,
    docker_errors,
    err,
    folder_agent,
    make_console,
    out,
    out_json,
    out_text,
    project_options,
)
from smbos.errors import SmbosError
from smbos.project import Project


def _restart_needed(project: Project, agent) -> bool | None:
    """Whether the agent's running container predates its .env (None when Docker is away)."""
    from smbos import operations as ops
    from smbos.controller import Controller, EngineUnreachable, engine

    away: tuple[type[Exception], ...] = (EngineUnreachable, *docker_errors())
    try:
        measured_at = time.time()
        row = Controller(project, engine(timeout=5)).status([agent.id], probe=False)[0]
    except away:
        return None
    return ops.restart_needed(agent, row.state, row.uptime_s, measured_at)


@cli.command(name="env")
@project_options
@click.argument("agent_id", metavar="ID")
@click.argument("assignments", nargs=-1, metavar="[KEY=VALUE]...")
@click.option(
    "--stdin",
    "stdin_key",
    metavar="KEY",
    default=None,
    help="Read KEY's value from the first line of stdin (keeps a secret out of the shell history).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the settings as JSON.")
def env_(
    project: Project,
    agent_id: str,
    assignments: tuple[str, ...],
    stdin_key: str | None,
    as_json: bool,
) -> None:
    """Show an agent's .env settings (secrets masked), or change them.

    KEY=VALUE sets a key, KEY= removes it; every other line of .env is kept. The file is
    replaced atomically (mode 600) and the previous one kept as .env.bak. The agent reads .env
    only at start: restart it to apply (`smbos restart ID`). The web UI's settings page does the
    same.
    """
    from smbos import operations as ops

    agent = folder_agent(project, agent_id)
    changes = ops.parse_assignments(assignments, "KEY=VALUE (KEY= removes KEY)")
    if stdin_key:
        line = sys.stdin.readline().rstrip("\r\n")
        if not line.strip():
            # An empty value removes the key: never what a piped secret that came out empty means.
            raise SmbosError(
                f"--stdin {stdin_key}: stdin gave an empty value; nothing changed "
                f"(to remove the key: smbos env {agent_id} {stdin_key}=)"
            )
        changes[stdin_key] = line
    if changes:
        result = ops.update_env(agent, changes)
        done = []
        if result.changed:
            done.append(f"set {', '.join(result.changed)}")
        if result.removed:
            done.append(f"removed {', '.join(result.removed)}")
        if not done:
            out(f"{agent.id}: .env unchanged")
            return
        backup = f"; previous file kept as {result.backup}" if result.backup else ""
        out(f"{agent.id}: {'; '.join(done)} in {agent.env_path}{backup}")
        for warning in result.warnings:
            err(f"warning: {warning}")
        if _restart_needed(project, agent):
            err(f"{agent.id}: restart needed to apply: smbos restart {agent.id}")
        return
    keys = ops.env_keys(agent)
    if as_json:
        out_json(
            {
                "agent_id": agent.id,
                "keys": [k.to_json() for k in keys],
                "restart_needed": _restart_needed(project, agent),
            }
        )
        return
    table = Table(box=None, pad_edge=False)
    for column in ("KEY", "VALUE", "SOURCE", "REQUIRED"):
        table.add_column(column, no_wrap=column != "SOURCE")
    for key in keys:
        table.add_row(
            *map(cell, (key.key, key.value or "-", key.source, "yes" if key.required else ""))
        )
    make_console().print(table)
    if _restart_needed(project, agent):
        err(
            f"{agent.id}: .env changed after the agent started; restart needed: "
            f"smbos restart {agent.id}"
        )


@cli.command(name="memory")
@project_options
@click.argument("agent_id", metavar="ID")
@click.argument("file", required=False)
def memory_(project: Project, agent_id: str, file: str | None) -> None:
    """List an agent's memory files, or print one (read-only, as the UI shows them)."""
    from smbos import operations as ops

    agent = folder_agent(project, agent_id)
    if file is None:
        listing = ops.list_memory(agent)
        for entry in listing.files:
            note = "  (not shown: a hard link)" if entry.get("note") else ""
            out(f"{entry['size']:>9}  {entry['path']}{note}")
        if listing.stopped:
            err(f"warning: memory/ listed in part: {listing.stopped}")
        return
    out_text(ops.read_memory(agent, file), nl=False)
