"""Commands on the agent folders alone: init, validate, list, generate, new."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from smbos import scaffold
from smbos.cli.base import (
    Table,
    cell,
    cli,
    err,
    load_valid,
    make_console,
    out,
    out_json,
    project_options,
    report,
)
from smbos.errors import EXIT_CHECK_FAILED, EXIT_INVALID_INPUT, EXIT_OK
from smbos.project import Project


@cli.command()
@click.argument(
    "folder", metavar="[DIR]", default=".", type=click.Path(file_okay=False, path_type=Path)
)
@click.option(
    "--force", is_flag=True, help="Add to an existing fleet what it lacks (never replacing a file)."
)
def init(folder: Path, force: bool) -> None:
    """Start a fleet repository in DIR (default: here): agents/ with an example agent, a
    .gitignore for .env files, state/, credentials and build/, and a short README.

    Refuses a folder whose agents/ is not empty unless --force. Every command then works from
    DIR.
    """
    for line in scaffold.init_fleet(folder, force=force):
        out(line)
    where = "" if folder.resolve() == Path.cwd().resolve() else f"cd {folder}, "
    out(f"next: {where}fill agents/{scaffold.EXAMPLE[0]}/.env (see .env.example), then `smbos up`")


@cli.command()
@project_options
@click.option("--json", "as_json", is_flag=True, help="Print the problems as JSON.")
@click.option(
    "--strict", is_flag=True, help="Treat missing .env keys as errors (as `smbos up` does)."
)
def validate(project: Project, as_json: bool, strict: bool) -> None:
    """Check every agent folder; print each problem on one line.

    Exits 0 when there is no error (warnings allowed), 2 otherwise.
    """
    fleet = project.load(strict_env=strict)
    problems = sorted(fleet.problems, key=lambda p: (p.path, p.field))
    if as_json:
        out_json(
            {
                "valid": not fleet.errors,
                "agents": [a.id for a in fleet.agents],
                "problems": [
                    {
                        "path": p.path,
                        "field": p.field,
                        "message": p.message,
                        "severity": p.severity.value,
                    }
                    for p in problems
                ],
            }
        )
    else:
        report(problems)
        if not fleet.errors:
            warn = f", {len(fleet.warnings)} warning(s)" if fleet.warnings else ""
            out(f"{len(fleet.agents)} agent(s) valid in {fleet.display_root}/{warn}")
    sys.exit(EXIT_INVALID_INPUT if fleet.errors else EXIT_OK)


@cli.command(name="list")
@project_options
@click.option("--json", "as_json", is_flag=True, help="Print the agents as JSON.")
def list_(project: Project, as_json: bool) -> None:
    """List the agent folders: id, name, port, channels, integrations, schedules, teams."""
    from smbos.operations import agent_summary

    fleet = load_valid(project)
    rows = [agent_summary(a) for a in fleet.agents]
    if as_json:
        out_json(rows)
        return
    table = Table(box=None, pad_edge=False)
    for column in (
        "ID",
        "NAME",
        "ENABLED",
        "PORT",
        "ISOLATION",
        "CHANNELS",
        "INTEGRATIONS",
        "SCHEDULES",
        "SKILLS",
        "TEAMS",
        "TEAM",
    ):
        table.add_column(column, no_wrap=column in ("ID", "PORT"))
    for row in rows:
        table.add_row(
            *map(
                cell,
                (
                    row["id"],
                    row["name"],
                    "yes" if row["enabled"] else "no",
                    row["port"],
                    row["isolation"],
                    ",".join(row["channels"]),
                    ",".join(row["integrations"]) or "-",
                    len(row["schedules"]),
                    len(row["skills"]),
                    "on" if row["teams"] else "off",
                    ",".join(m["name"] for m in row["team"]) or "-",
                ),
            )
        )
    make_console().print(table)


@cli.command()
@project_options
@click.option(
    "--check",
    is_flag=True,
    help="Do not write; exit 1 when the file on disk differs from what would be generated.",
)
@click.option(
    "--force",
    is_flag=True,
    help="Replace the --file target even when it is not a Compose file SMBOS wrote.",
)
def generate(project: Project, check: bool, force: bool) -> None:
    """Render the Compose file from the agent folders.

    The file is replaced in one step and only when every folder is valid: a failed generate
    leaves the previous file as it was. A file SMBOS did not write (its first line says so) is
    never replaced without --force.
    """
    from smbos import compose

    fleet = load_valid(project)
    text = project.render(fleet)
    target = project.compose_file
    if check:
        changes = compose.diff(target, text)
        if changes:
            for line in changes[:200]:
                err(line)
            err(
                f"{project.compose_display}: out of date with {fleet.display_root}/; "
                "run `smbos generate`"
            )
            sys.exit(EXIT_CHECK_FAILED)
        out(f"{project.compose_display} is up to date ({len(fleet.enabled)} service(s))")
        return
    # Before anything is written, the port record included.
    compose.check_target(target, force, fix="add --force to replace it")
    project.record_ports(fleet)
    compose.write_atomic(target, text, force=force)
    out(
        f"wrote {project.compose_display}: {len(fleet.enabled)} service(s) from "
        f"{fleet.display_root}/"
    )


@cli.command()
@project_options
@click.argument("agent_id", metavar="ID")
@click.option(
    "--template",
    "-t",
    default="basic",
    show_default=True,
    type=click.Choice(scaffold.templates()),
    help="The built-in template to start from.",
)
@click.option("--name", default=None, help="Display name [default: from the id].")
@click.option("--description", default=None, help="One line: what the agent is for.")
@click.option(
    "--port",
    type=click.IntRange(1024, 65535),
    default=None,
    help="Host port on 127.0.0.1 [default: the first free one from 3101].",
)
def new(
    project: Project,
    agent_id: str,
    template: str,
    name: str | None,
    description: str | None,
    port: int | None,
) -> None:
    """Create agents/ID from a template, then validate it."""
    name = name or agent_id.replace("-", " ").title()
    description = description or f"{name}'s assistant"
    folder, port, mine, after = scaffold.new_agent(
        project, agent_id, template, name, description, port
    )
    report(mine)
    if any(p.is_error for p in mine):
        err(f"{folder}: not created; the options above gave an invalid folder")
        sys.exit(EXIT_INVALID_INPUT)
    out(f"created {folder}/ from template {template!r} on port {port}")
    out(f"next: fill {folder}/.env (see .env.example), then `smbos generate`")
    from smbos import integrations

    for step in integrations.next_steps(after.get(agent_id), folder):
        out(f"next: {step}")
