"""The `smbos` command line.

Exit codes: 0 ok, 1 a check failed, 2 invalid input, 3 the Docker engine is unreachable.
Data goes to stdout (a table, or JSON with `--json`); problems go to stderr, one line each.
"""

from __future__ import annotations

import functools
import json
import os
import sys
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from smbos import __version__, compose, scaffold
from smbos.agent import Fleet
from smbos.errors import (
    EXIT_CHECK_FAILED,
    EXIT_INVALID_INPUT,
    EXIT_OK,
    InvalidInput,
    Problem,
    SmbosError,
)
from smbos.project import Project

EXIT_INTERNAL = 70


def _console(stderr: bool = False) -> Console:
    wide = None if (sys.stderr if stderr else sys.stdout).isatty() else 200
    return Console(stderr=stderr, width=wide, highlight=False, soft_wrap=not wide)


out = functools.partial(click.echo)


def err(message: str) -> None:
    click.echo(message, err=True)


class SmbosGroup(click.Group):
    """Turns every error into one line on stderr and an exit code: never a traceback."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except InvalidInput as exc:
            for problem in exc.problems:
                err(str(problem))
            ctx.exit(exc.exit_code)
        except SmbosError as exc:
            err(f"error: {' '.join(str(exc).split())}")
            ctx.exit(exc.exit_code)
        except (click.exceptions.Exit, click.ClickException, click.Abort):
            raise
        except KeyboardInterrupt:
            err("interrupted")
            ctx.exit(130)
        except Exception as exc:  # noqa: BLE001 - the last line of defence against tracebacks
            if os.environ.get("SMBOS_DEBUG"):
                raise
            err(f"internal error: {type(exc).__name__}: {' '.join(str(exc).split())} "
                "(set SMBOS_DEBUG=1 for a traceback)")
            ctx.exit(EXIT_INTERNAL)


def project_options(func):
    """--agents, --file and --project-name, shared by every command."""

    @click.option("--agents", "agents", type=click.Path(file_okay=False, path_type=Path),
                  envvar="SMBOS_AGENTS", default="agents", show_default=True,
                  help="The folder of agent folders.")
    @click.option("-f", "--file", "compose_file", type=click.Path(dir_okay=False, path_type=Path),
                  envvar="SMBOS_COMPOSE_FILE", default=None,
                  help="The Compose file [default: compose/docker-compose.yml beside the agents "
                       "folder].")
    @click.option("-p", "--project-name", "project_name", envvar="SMBOS_PROJECT", default=None,
                  help="The Compose project name [default: smbos].")
    @functools.wraps(func)
    def wrapper(agents, compose_file, project_name, **kwargs):
        project = Project.from_options(agents, compose_file, project_name)
        return func(project=project, **kwargs)

    return wrapper


def report(problems: list[Problem]) -> None:
    for problem in sorted(problems, key=lambda p: (p.path, p.field)):
        err(str(problem))


def load_valid(project: Project, strict_env: bool = False) -> Fleet:
    """The fleet, with warnings printed; raises InvalidInput on any error."""
    fleet = project.load(strict_env=strict_env)
    if fleet.errors:
        raise InvalidInput(sorted(fleet.problems, key=lambda p: (p.path, p.field)))
    if fleet.warnings:
        err(f"warning: {len(fleet.warnings)} warning(s) in {fleet.display_root}/; "
            "`smbos validate` lists them")
    return fleet


@click.group(cls=SmbosGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="smbos")
def cli() -> None:
    """SMBOS: run and steer a fleet of NanoClaw agents, one container per agent folder."""


# ----------------------------------------------------------------------------- folders


@cli.command()
@project_options
@click.option("--json", "as_json", is_flag=True, help="Print the problems as JSON.")
@click.option("--strict", is_flag=True,
              help="Treat missing .env keys as errors (as `smbos up` does).")
def validate(project: Project, as_json: bool, strict: bool) -> None:
    """Check every agent folder; print each problem on one line.

    Exits 0 when there is no error (warnings allowed), 2 otherwise.
    """
    fleet = project.load(strict_env=strict)
    problems = sorted(fleet.problems, key=lambda p: (p.path, p.field))
    if as_json:
        out(json.dumps({
            "valid": not fleet.errors,
            "agents": [a.id for a in fleet.agents],
            "problems": [{"path": p.path, "field": p.field, "message": p.message,
                          "severity": p.severity.value} for p in problems],
        }, indent=2))
    else:
        report(problems)
        if not fleet.errors:
            warn = f", {len(fleet.warnings)} warning(s)" if fleet.warnings else ""
            out(f"{len(fleet.agents)} agent(s) valid in {fleet.display_root}/{warn}")
    sys.exit(EXIT_INVALID_INPUT if fleet.errors else EXIT_OK)


def _agent_row(agent) -> dict:
    cfg = agent.config
    return {
        "id": agent.id,
        "name": agent.name,
        "description": agent.description,
        "enabled": agent.enabled,
        "port": agent.port,
        "isolation": cfg.runtime.container_isolation,
        "timezone": cfg.runtime.timezone,
        "channels": ["web", *agent.channels],
        "integrations": list(cfg.integrations),
        "schedules": [s.id for s in cfg.schedules if s.enabled],
        "skills": [s.id for s in cfg.skills],
        "heal": cfg.heal.enabled,
        "config_hash": agent.config_hash(),
    }


@cli.command(name="list")
@project_options
@click.option("--json", "as_json", is_flag=True, help="Print the agents as JSON.")
def list_(project: Project, as_json: bool) -> None:
    """List the agent folders: id, name, port, channels, integrations, schedules."""
    fleet = load_valid(project)
    rows = [_agent_row(a) for a in fleet.agents]
    if as_json:
        out(json.dumps(rows, indent=2))
        return
    table = Table(box=None, pad_edge=False)
    for column in ("ID", "NAME", "ENABLED", "PORT", "ISOLATION", "CHANNELS", "INTEGRATIONS",
                   "SCHEDULES", "SKILLS"):
        table.add_column(column, no_wrap=column in ("ID", "PORT"))
    for row in rows:
        table.add_row(row["id"], row["name"], "yes" if row["enabled"] else "no",
                      str(row["port"]), row["isolation"], ",".join(row["channels"]),
                      ",".join(row["integrations"]) or "-", str(len(row["schedules"])),
                      str(len(row["skills"])))
    _console().print(table)


@cli.command()
@project_options
@click.option("--check", is_flag=True,
              help="Do not write; exit 1 when the file on disk differs from what would be "
                   "generated.")
def generate(project: Project, check: bool) -> None:
    """Render the Compose file from the agent folders.

    The file is replaced in one step and only when every folder is valid: a failed generate
    leaves the previous file as it was.
    """
    fleet = load_valid(project)
    text = project.render(fleet)
    target = project.compose_file
    if check:
        changes = compose.diff(target, text)
        if changes:
            for line in changes[:200]:
                err(line)
            err(f"{project.compose_display}: out of date with {fleet.display_root}/; "
                "run `smbos generate`")
            sys.exit(EXIT_CHECK_FAILED)
        out(f"{project.compose_display} is up to date ({len(fleet.enabled)} service(s))")
        return
    compose.write_atomic(target, text)
    out(f"wrote {project.compose_display}: {len(fleet.enabled)} service(s) from "
        f"{fleet.display_root}/")


@cli.command()
@project_options
@click.argument("agent_id", metavar="ID")
@click.option("--template", "-t", default="basic", show_default=True,
              type=click.Choice(scaffold.templates()), help="The built-in template to start from.")
@click.option("--name", default=None, help="Display name [default: from the id].")
@click.option("--description", default=None, help="One line: what the agent is for.")
@click.option("--port", type=click.IntRange(1024, 65535), default=None,
              help="Host port on 127.0.0.1 [default: the first free one from 3101].")
def new(project: Project, agent_id: str, template: str, name: str | None,
        description: str | None, port: int | None) -> None:
    """Create agents/ID from a template, then validate it."""
    fleet = project.load()
    if port is None:
        port = scaffold.pick_port(fleet)
    elif any(a.port == port for a in fleet.agents):
        taken = next(a.id for a in fleet.agents if a.port == port)
        raise SmbosError(f"--port: {port} is already used by agent {taken!r}")
    name = name or agent_id.replace("-", " ").title()
    description = description or f"{name}'s assistant"
    folder = scaffold.create(project.agents_dir, agent_id, template, name, description, port)
    after = project.load()
    mine = [p for p in after.errors if f"/{agent_id}/" in f"{p.path}/"]
    report(mine)
    if any(p.is_error for p in mine):
        sys.exit(EXIT_INVALID_INPUT)
    out(f"created {folder}/ from template {template!r} on port {port}")
    out(f"next: fill {folder}/.env (see .env.example), then `smbos generate`")


def main() -> None:
    cli(prog_name="smbos")


if __name__ == "__main__":
    main()
