"""The `smbos` command line.

Exit codes: 0 ok, 1 a check failed, 2 invalid input, 3 the Docker engine is unreachable.
Data goes to stdout (a table, or JSON with `--json`); problems go to stderr, one line each.
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from smbos import __version__, scaffold
from smbos.errors import (
    EXIT_CHECK_FAILED,
    EXIT_INVALID_INPUT,
    EXIT_OK,
    InvalidInput,
    Problem,
    SmbosError,
)
from smbos.project import Project

if TYPE_CHECKING:  # each command imports what it uses: `--version` pays for none of it
    from rich.console import Console

    from smbos.agent import Fleet
    from rich.table import Table as RichTable

EXIT_INTERNAL = 70


def _console(stderr: bool = False) -> Console:
    from rich.console import Console  # on first use: `status --json` never draws

    wide = None if (sys.stderr if stderr else sys.stdout).isatty() else 200
    return Console(stderr=stderr, width=wide, highlight=False, soft_wrap=not wide)


def Table(*args, **kwargs) -> RichTable:  # noqa: N802 - rich's Table, imported on first use
    from rich.table import Table

    return Table(*args, **kwargs)


out = functools.partial(click.echo)


# Everything `str.splitlines` breaks on: one problem must stay one line even when a folder name
# or a YAML key carries a newline.
_LINE_BREAKS = {ord(c): c.encode("unicode_escape").decode("ascii")
                for c in "\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029"}


def err(message: str) -> None:
    click.echo(message.translate(_LINE_BREAKS), err=True)


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
            for line in getattr(exc, "lines", ()):  # a failed build step's own output
                err(f"  | {line}")
            err(f"error: {' '.join(str(exc).split())}")
            ctx.exit(exc.exit_code)
        except (click.exceptions.Exit, click.ClickException, click.Abort):
            raise
        except ImportError:
            raise
        except _docker_errors() as exc:
            err(f"error: Docker: {' '.join(str(getattr(exc, 'explanation', None) or exc).split())}")
            ctx.exit(EXIT_CHECK_FAILED)
        except KeyboardInterrupt:
            err("interrupted")
            ctx.exit(130)
        except OSError as exc:
            if exc.filename is None or os.environ.get("SMBOS_DEBUG"):
                self._internal(ctx, exc)
            # A file that could not be read or written: its path and the reason.
            err(f"error: {exc.filename}: {(exc.strerror or str(exc)).lower()}")
            ctx.exit(EXIT_CHECK_FAILED)
        except Exception as exc:  # noqa: BLE001 - the last line of defence against tracebacks
            self._internal(ctx, exc)

    @staticmethod
    def _internal(ctx: click.Context, exc: Exception):
        if os.environ.get("SMBOS_DEBUG"):
            raise exc
        err(f"internal error: {type(exc).__name__}: {' '.join(str(exc).split())} "
            "(set SMBOS_DEBUG=1 for a traceback)")
        ctx.exit(EXIT_INTERNAL)


def _docker_errors() -> tuple[type[BaseException], ...]:
    import docker.errors

    return (docker.errors.DockerException,)


def project_options(func):
    """--agents, --file and --project-name, shared by every command."""

    @click.option("--agents", "agents", type=click.Path(file_okay=False, path_type=Path),
                  envvar="SMBOS_AGENTS", default="agents", show_default=True,
                  help="The folder of agent folders.")
    @click.option("--file", "compose_file", type=click.Path(dir_okay=False, path_type=Path),
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


@cli.command(name="list")
@project_options
@click.option("--json", "as_json", is_flag=True, help="Print the agents as JSON.")
def list_(project: Project, as_json: bool) -> None:
    """List the agent folders: id, name, port, channels, integrations, schedules."""
    from smbos.operations import agent_summary

    fleet = load_valid(project)
    rows = [agent_summary(a) for a in fleet.agents]
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
    from smbos import compose

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
    project.record_ports(fleet)
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
        # A folder that does not validate is not created: it would break every later
        # `generate` and block the id for the next try.
        shutil.rmtree(folder, ignore_errors=True)
        err(f"{folder}: not created; the options above gave an invalid folder")
        sys.exit(EXIT_INVALID_INPUT)
    out(f"created {folder}/ from template {template!r} on port {port}")
    out(f"next: fill {folder}/.env (see .env.example), then `smbos generate`")


# ------------------------------------------------------------------------------- fleet


def _controller(project: Project):
    from smbos.controller import Controller, engine

    return Controller(project, engine())


def _human_seconds(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    seconds = int(seconds)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}{_rest(seconds % size, unit)}"
    return f"{seconds}s"


def _rest(rest: int, unit: str) -> str:
    if unit == "d":
        return f"{rest // 3600}h"
    if unit == "h":
        return f"{rest // 60}m"
    return f"{rest}s"


def _status_table(rows) -> Table:
    table = Table(box=None, pad_edge=False)
    for column in ("AGENT", "STATE", "HEALTH", "API", "PORT", "UPTIME", "RESTARTS", "TURNS",
                   "DRIFT"):
        table.add_column(column, no_wrap=True)
    for row in rows:
        api = row.api
        if row.latency_ms is not None and row.api == "ok":
            api = f"ok {row.latency_ms:.0f}ms"
        table.add_row(row.id, row.state, row.health, api,
                      row.published or (f"127.0.0.1:{row.port}" if row.port else "-"),
                      _human_seconds(row.uptime_s), str(row.restarts), str(row.turns),
                      row.drift or "-")
    return table


def source_options(func):
    """Where NanoClaw comes from and how it is built: shared by `build` and `up`."""

    @click.option("--source", type=click.Path(exists=True, path_type=Path),
                  help="A local NanoClaw checkout (folder) or a tarball of one.")
    @click.option("--git", "git_url", default=None,
                  help="NanoClaw git URL [default: the SMBOS fork of NanoClaw].")
    @click.option("--ref", default=None,
                  help="Branch, tag or commit of --git [default: the pinned fork commit].")
    @click.option("--subdir", default=None,
                  help="The folder holding NanoClaw inside the git repository or tarball "
                       "[default: nanoclaw for the fork].")
    @click.option("--ca-cert", type=click.Path(exists=True, dir_okay=False, path_type=Path),
                  default=None, envvar="SMBOS_CA_CERT",
                  help="A PEM file of extra CAs that builds and the runtime trust (a proxy "
                       "that intercepts TLS).")
    @click.option("--no-patches", is_flag=True,
                  help="Build the source as it is, without SMBOS's runtime patches.")
    @click.option("--build-arg", "build_args", multiple=True, metavar="KEY=VALUE",
                  help="Extra build arguments (BASE_IMAGE, BUILD_IMAGE, DOCKER_CLI_IMAGE).")
    @functools.wraps(func)
    def wrapper(**kwargs):
        return func(**kwargs)

    return wrapper


@cli.command()
@project_options
@source_options
@click.option("--tag", default=None, help="Image tag [default: smbos/nanoclaw:local].")
@click.option("--no-agent-image", is_flag=True,
              help="Do not build NanoClaw's per-turn agent image (set runtime.agent_image).")
@click.option("--no-cache", is_flag=True, help="Build every step again (no layer cache).")
def build(project: Project, tag: str | None, no_agent_image: bool, no_cache: bool,
          **source) -> None:
    """Build the runtime image and the per-turn agent image (once, for the whole fleet).

    NanoClaw comes from the SMBOS fork at a pinned commit unless --git or --source says
    otherwise; SMBOS's runtime patches are applied unless --no-patches.
    """
    result = _build_image(project, None, tag=tag, agent_image=not no_agent_image,
                          no_cache=no_cache, **source)
    out(f"built {result.tag} ({result.image_id[:19]}) from {result.source}")
    if result.agent_tag:
        out(f"built {result.agent_tag} (the per-turn agent image)")
    out(f"patches: {result.patches.label()}")
    for patch_id, why in result.patches.skipped.items():
        out(f"  skipped {patch_id}: {why}")


def _build_image(project: Project, client, *, source: Path | None, git_url: str | None,
                 ref: str | None, subdir: str | None, ca_cert: Path | None, no_patches: bool,
                 build_args: tuple[str, ...], tag: str | None = None, agent_image: bool = True,
                 no_cache: bool = False):
    from smbos import image
    from smbos import source as source_mod
    from smbos.operations import parse_assignments

    if source is not None and (git_url or ref):
        raise SmbosError("--source and --git/--ref: give one source, not both")
    if source is not None:
        where = source_mod.Source.local(source, subdir)
    elif git_url or ref or subdir:
        where = source_mod.Source.git(git_url or source_mod.DEFAULT_GIT, ref, subdir)
    else:
        where = source_mod.Source.default()
    spec = image.BuildSpec(context=image.find_context(project.project_dir),
                           tag=tag or project.image, source=where,
                           build_args=parse_assignments(build_args, "--build-arg KEY=VALUE"),
                           ca_cert=ca_cert, patches=not no_patches, agent_image=agent_image,
                           no_cache=no_cache)
    staged = image.prepare(spec, on_phase=err)
    client = client or _controller(project).client
    console = _console(stderr=True)
    if console.is_terminal:
        with console.status(f"building {spec.tag}") as status:
            def phase(text: str) -> None:
                console.print(f"[dim]{text}[/dim]")
                status.update(text)
            return image.build(client, staged, on_line=lambda line: status.update(line[:100]),
                               on_phase=phase)
    return image.build(client, staged, on_line=lambda line: err(f"  {line}"), on_phase=err)


def _check_agent_images(project: Project, client, agents) -> None:
    from smbos import image

    missing = image.missing_agent_images(client, agents, project.image)
    for agent_id, wanted in missing:
        err(f"agents/{agent_id}: per-turn agent image {wanted} is not on this engine: every "
            "chat would fail; `smbos build` builds it (or set runtime.agent_image)")
    if missing:
        raise SmbosError(f"{len(missing)} agent(s) without their per-turn agent image",
                         EXIT_CHECK_FAILED)


@cli.command()
@project_options
@click.argument("ids", nargs=-1, metavar="[ID]...")
@click.option("--wait-timeout", default=180, show_default=True, type=click.IntRange(1, 3600),
              help="Seconds to wait for every agent to become healthy.")
@click.option("--no-build", is_flag=True, help="Never build the image, even when it is missing.")
@source_options
def up(project: Project, ids: tuple[str, ...], wait_timeout: int, no_build: bool,
       **source) -> None:
    """Validate, generate, build the image if missing, create/start agents and wait for health.

    With IDs, only those agents are created or recreated. Exits 1 when an agent does not
    become healthy, showing its last log lines.
    """
    from smbos import compose as compose_mod
    from smbos import image, preflight

    fleet = load_valid(project, strict_env=True)
    project.record_ports(fleet)
    controller = _controller(project)
    agents = controller.resolve(list(ids), fleet)
    disabled = [a.id for a in agents if not a.enabled]
    if ids and disabled:
        raise SmbosError(f"agent {disabled[0]!r} is disabled (enabled: false in its config.yaml)")
    agents = [a for a in agents if a.enabled]
    text = project.render(fleet)
    if compose_mod.diff(project.compose_file, text):
        compose_mod.write_atomic(project.compose_file, text)
        err(f"wrote {project.compose_display}")
    images = {a.config.runtime.image or project.image for a in agents}
    if project.image in images and not image.image_exists(controller.client, project.image):
        if no_build:
            raise SmbosError(f"image {project.image} not found; build it with `smbos build` "
                             "(or drop --no-build)", 1)
        _build_image(project, controller.client, **source)
    _check_agent_images(project, controller.client, agents)
    notes: list[str] = []
    problems = []
    host = project.host()
    for agent in agents:
        problems += preflight.prepare(agent, host, notes)
    for note in notes:
        err(note)
    if problems:
        raise InvalidInput(problems)
    if not agents:
        out("no enabled agents")
        return
    err(f"starting {len(agents)} agent(s), waiting up to {wait_timeout}s for health ...")
    console = _console(stderr=True)
    if console.is_terminal:
        with console.status(f"docker compose up: waiting for {len(agents)} agent(s) to be "
                            "healthy"):
            result = controller.up(agents if ids else [], wait=True, timeout=wait_timeout)
    else:
        result = controller.up(agents if ids else [], wait=True, timeout=wait_timeout)
    rows = controller.status([a.id for a in agents])
    _console().print(_status_table(rows))
    from smbos import schedules

    for agent in agents:
        support = schedules.support(_instance_dir(project, agent.id))
        if support.ok is False and any(x.enabled for x in agent.config.schedules):
            err(f"warning: agent {agent.id}: its schedules will not run: {support.reason}")
    bad = [r for r in rows if r.state != "running" or r.health not in ("healthy", "none")]
    if result.returncode != 0 or bad:
        detail = (result.stderr or "").strip().splitlines()
        if detail:
            err(f"docker compose: {detail[-1]}")
        for row in bad or rows:
            wanted = next((a.config.runtime.image or project.image for a in agents
                           if a.id == row.id), None)
            if row.state == "not created" and wanted \
                    and not image.image_exists(controller.client, wanted):
                err(f"agent {row.id}: image {wanted} is not on this engine and could not be "
                    "pulled; pull or build it, or change runtime.image in its config.yaml")
                continue
            err(f"agent {row.id}: {row.state}, health {row.health}; last log lines:")
            try:
                for line in list(controller.logs(project.load().get(row.id), tail=20)):
                    err(f"  {row.id} | {line}")
            except SmbosError:
                err(f"  {row.id} | (no container)")
        sys.exit(EXIT_CHECK_FAILED)


@cli.command()
@project_options
def down(project: Project) -> None:
    """Stop and remove the agents' containers. Volumes and memory files are kept."""
    result = _controller(project).down()
    if result.returncode != 0:
        raise SmbosError(f"docker compose down failed: "
                         f"{(result.stderr or '').strip().splitlines()[-1:]}", 1)
    out("containers removed; volumes, state/ and every memory folder are kept")


@cli.command(name="status")
@project_options
@click.argument("ids", nargs=-1, metavar="[ID]...")
@click.option("--json", "as_json", is_flag=True, help="Print the status as JSON.")
@click.option("--watch", "-w", is_flag=True, help="Refresh every --interval seconds.")
@click.option("--interval", default=2.0, show_default=True, type=click.FloatRange(0.2, 3600))
def status_(project: Project, ids: tuple[str, ...], as_json: bool, watch: bool,
            interval: float) -> None:
    """Show each agent: state, health, API, port, uptime, restarts, drift."""
    import time as _time

    from smbos import fleetindex
    from smbos.controller import Controller

    # The engine is reached on first use, inside `status`, which probes the agents' APIs while
    # the engine answers; the folders are read through the status cache (smbos.fleetindex).
    controller = Controller(project)
    while True:
        rows = controller.status(list(ids), fleet=fleetindex.load(project))
        if as_json:
            out(json.dumps([r.to_json() for r in rows], indent=2))
        else:
            console = _console()
            if watch and console.is_terminal:
                console.clear()
            console.print(_status_table(rows))
            _print_recent_heals(project, {r.id for r in rows})
        if not watch:
            return
        _time.sleep(interval)


def _print_recent_heals(project: Project, ids: set[str], hours: float = 24) -> None:
    """The auto-heal actions of the last day for these agents, under the status table."""
    from datetime import datetime, timedelta, timezone

    from smbos.controller import heal_log

    since = datetime.now(timezone.utc) - timedelta(hours=hours)
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


def _lifecycle(verb: str):
    @project_options
    @click.argument("ids", nargs=-1, required=True, metavar="ID...")
    def command(project: Project, ids: tuple[str, ...]) -> None:
        from smbos.controller import Controller

        # Ids first (a typo is exit 2 even with the engine down), then the engine on first use.
        controller = Controller(project)
        agents = controller.resolve(list(ids))
        for agent in agents:
            getattr(controller, verb)(agent)
            out(f"{agent.id}: {verb} done" if verb != "stop" else f"{agent.id}: stopped")

    command.__doc__ = {
        "start": "Start the existing containers of agents ID...",
        "stop": "Stop agents ID... (the containers stay, ready for `smbos start`).",
        "restart": "Restart agents ID... (e.g. after changing their .env).",
    }[verb]
    return command


for _verb in ("start", "stop", "restart"):
    cli.command(name=_verb)(_lifecycle(_verb))


@cli.command()
@project_options
@click.argument("agent_id", metavar="ID")
@click.option("--follow", "-f", is_flag=True, help="Keep following, across restarts.")
@click.option("--tail", "-n", default="100", show_default=True,
              help="Lines to show from the end (or 'all').")
def logs(project: Project, agent_id: str, follow: bool, tail: str) -> None:
    """Show an agent's container log."""
    if tail != "all" and not tail.isdigit():
        raise SmbosError(f"--tail: expected a number or 'all', got {tail!r}")
    from smbos.controller import Controller

    controller = Controller(project)  # the engine is reached on first use, after the id check
    agent = controller.resolve([agent_id])[0]
    for line in controller.logs(agent, tail=int(tail) if tail.isdigit() else "all",
                                follow=follow):
        click.echo(line)
        sys.stdout.flush()


def _runtime_url(project: Project, agent_id: str) -> str:
    from smbos.controller import Controller
    from smbos.operations import runtime_url

    return runtime_url(Controller(project).resolve([agent_id])[0])


@cli.command()
@project_options
@click.argument("agent_id", metavar="ID")
@click.argument("message")
@click.option("--timeout", default=600, show_default=True, type=click.IntRange(1, 86400),
              help="Seconds the whole reply may take, from sending to `done`.")
@click.option("--idle-timeout", default=300, show_default=True, type=click.IntRange(1, 86400),
              help="Seconds the runtime may stay silent between two events.")
def chat(project: Project, agent_id: str, message: str, timeout: int, idle_timeout: int) -> None:
    """Send MESSAGE to an agent's web chat and stream the reply as it arrives.

    Exits 0 when the reply is complete, 1 when the runtime reports an error, the stream breaks,
    or a time limit is reached.
    """
    from smbos import redact
    from smbos.operations import check_message, runtime_url
    from smbos.runtime import RuntimeClient, RuntimeProblem, Timeouts

    check_message(message)  # an empty message is refused here, not by the runtime
    agent = _folder_agent(project, agent_id)
    scrub = redact.for_agent(agent)
    failed = False
    budget = Timeouts(connect=2.0, read=float(min(idle_timeout, timeout)), total=float(timeout))
    try:
        with RuntimeClient(runtime_url(agent), chat_timeout=budget) as client:
            with client.chat(message) as events:
                for event in events:
                    kind = getattr(event.type, "value", event.type)
                    if kind == "message":
                        click.echo(scrub(event.text))
                        sys.stdout.flush()
                    elif kind == "error":
                        failed = True
                        err(f"{agent_id}: error: {scrub(event.text)}")
    except RuntimeProblem as problem:
        raise SmbosError(f"{agent_id}: {problem}", EXIT_CHECK_FAILED) from None
    sys.exit(EXIT_CHECK_FAILED if failed else EXIT_OK)


def _instance_dir(project: Project, agent_id: str) -> Path:
    return project.state_dir(agent_id)


@cli.command()
@project_options
@click.argument("agent_id", metavar="ID")
@click.option("--json", "as_json", is_flag=True, help="Print tasks and run logs as JSON.")
@click.option("--runs", default=10, show_default=True, help="Recent run logs to show.")
@click.option("--pause", "pause_id", metavar="TASK", default=None, help="Pause a task.")
@click.option("--resume", "resume_id", metavar="TASK", default=None, help="Resume a paused task.")
@click.option("--cancel", "cancel_id", metavar="TASK", default=None, help="Cancel (delete) a task.")
def tasks(project: Project, agent_id: str, as_json: bool, runs: int, pause_id: str | None,
          resume_id: str | None, cancel_id: str | None) -> None:
    """An agent's scheduled tasks: schedule, status, next run, last run, recent run logs.

    --pause, --resume and --cancel act on one task through NanoClaw's own IPC and wait until
    the runtime shows the change. Exits 1 when the agent's runtime cannot run scheduled tasks.
    """
    from smbos import redact, schedules
    from smbos.runtime import RuntimeClient, RuntimeProblem

    url = _runtime_url(project, agent_id)
    instance = _instance_dir(project, agent_id)
    actions = [(a, t) for a, t in (("pause", pause_id), ("resume", resume_id),
                                   ("cancel", cancel_id)) if t]
    if len(actions) > 1:
        raise SmbosError("--pause, --resume and --cancel: give one at a time")
    try:
        with RuntimeClient(url) as client:
            if actions:
                action, task_id = actions[0]
                schedules.apply(instance, task_id, action, lambda: client.tasks().tasks)
                err(f"{agent_id}: task {task_id} {action}{'d' if action != 'cancel' else 'led'}")
            page = client.tasks()
    except RuntimeProblem as problem:
        raise SmbosError(f"{agent_id}: {problem}", EXIT_CHECK_FAILED) from None
    support = schedules.support(instance)
    page = page.model_validate(redact.for_agent(_folder_agent(project, agent_id)).deep(
        page.model_dump(mode="json", by_alias=True)))
    if as_json:
        data = page.model_dump(mode="json", by_alias=True)
        data["schedules"] = support.to_json()
        out(json.dumps(data, indent=2))
        if support.ok is False:
            sys.exit(EXIT_CHECK_FAILED)
        return
    table = Table(box=None, pad_edge=False, title=f"{agent_id}: scheduled tasks", title_justify="left")
    for column in ("TASK", "SCHEDULE", "STATUS", "NEXT RUN", "LAST RUN", "LAST RESULT"):
        table.add_column(column, overflow="ellipsis", no_wrap=column != "LAST RESULT")
    for task in page.tasks:
        table.add_row(str(task.id), f"{task.schedule_type} {task.schedule_value}", task.status,
                      task.next_run or "-", task.last_run or "-",
                      " ".join((task.last_result or "-").split())[:60])
    console = _console()
    console.print(table)
    if page.run_logs and runs > 0:
        log_table = Table(box=None, pad_edge=False, title="recent runs", title_justify="left")
        for column in ("TASK", "RUN AT", "STATUS", "MS", "RESULT"):
            log_table.add_column(column, no_wrap=column != "RESULT")
        for log in sorted(page.run_logs, key=lambda r: r.run_at, reverse=True)[:runs]:
            text = log.result if log.status == "success" else log.error
            log_table.add_row(str(log.task_id), log.run_at, log.status, str(log.duration_ms),
                              " ".join((text or "-").split())[:80])
        console.print(log_table)
    if not page.tasks:
        err(f"{agent_id}: no scheduled tasks")
    if support.ok is False:
        err(f"{agent_id}: scheduled tasks will not run: {support.reason}")
        sys.exit(EXIT_CHECK_FAILED)


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
@click.option("--all", "all_agents", is_flag=True,
              help="Global switch: heal every agent, not only those with heal.enabled.")
@click.option("--once", is_flag=True, help="Look once and exit.")
@click.option("--interval", default=10.0, show_default=True, type=click.FloatRange(1, 3600))
def heal(project: Project, all_agents: bool, once: bool, interval: float) -> None:
    """Restart agents that stay unhealthy (opt-in per agent: heal.enabled), with backoff."""
    import time as _time

    from smbos.controller import Healer

    healer = Healer(_controller(project), all_agents=all_agents)
    while True:
        for action in healer.tick():
            out(f"{action.at} {action.agent}: {action.action} ({action.reason})")
            sys.stdout.flush()
        if once:
            return
        _time.sleep(interval)


# ------------------------------------------------------------------- settings, skills, UI


def _folder_agent(project: Project, agent_id: str):
    """An agent from its folder (no Docker needed); unknown ids are an error."""
    from smbos.controller import UnknownAgent

    fleet = project.load()
    agent = fleet.get(agent_id)
    if agent is None:
        raise UnknownAgent(fleet.why_missing(agent_id))
    return agent


def _restart_needed(project: Project, agent) -> bool | None:
    """Whether the agent's running container predates its .env (None when Docker is away)."""
    import time as _time

    from smbos.controller import Controller, EngineUnreachable, engine
    from smbos import operations as ops

    try:
        measured_at = _time.time()
        row = Controller(project, engine(timeout=5)).status([agent.id], probe=False)[0]
    except (EngineUnreachable, *_docker_errors()):
        return None
    return ops.restart_needed(agent, row.state, row.uptime_s, measured_at)


@cli.command(name="env")
@project_options
@click.argument("agent_id", metavar="ID")
@click.argument("assignments", nargs=-1, metavar="[KEY=VALUE]...")
@click.option("--stdin", "stdin_key", metavar="KEY", default=None,
              help="Read KEY's value from the first line of stdin (keeps a secret out of the "
                   "shell history).")
@click.option("--json", "as_json", is_flag=True, help="Print the settings as JSON.")
def env_(project: Project, agent_id: str, assignments: tuple[str, ...], stdin_key: str | None,
         as_json: bool) -> None:
    """Show an agent's .env settings (secrets masked), or change them.

    KEY=VALUE sets a key, KEY= removes it; every other line of .env is kept. The file is
    replaced atomically (mode 600) and the previous one kept as .env.bak. The agent reads .env
    only at start: restart it to apply (`smbos restart ID`). The web UI's settings page does the
    same.
    """
    from smbos import operations as ops

    agent = _folder_agent(project, agent_id)
    changes = ops.parse_assignments(assignments, "KEY=VALUE (KEY= removes KEY)")
    if stdin_key:
        line = sys.stdin.readline().rstrip("\r\n")
        if not line.strip():
            # An empty value removes the key: never what a piped secret that came out empty means.
            raise SmbosError(f"--stdin {stdin_key}: stdin gave an empty value; nothing changed "
                             f"(to remove the key: smbos env {agent_id} {stdin_key}=)")
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
        out(json.dumps({"agent_id": agent.id, "keys": [k.to_json() for k in keys],
                        "restart_needed": _restart_needed(project, agent)}, indent=2))
        return
    table = Table(box=None, pad_edge=False)
    for column in ("KEY", "VALUE", "SOURCE", "REQUIRED"):
        table.add_column(column, no_wrap=column != "SOURCE")
    for key in keys:
        table.add_row(key.key, key.value or "-", key.source, "yes" if key.required else "")
    _console().print(table)
    if _restart_needed(project, agent):
        err(f"{agent.id}: .env changed after the agent started; restart needed: "
            f"smbos restart {agent.id}")


@cli.command(name="skill")
@project_options
@click.argument("agent_id", metavar="ID")
@click.argument("skill_id", metavar="[SKILL]", required=False)
@click.option("--input", "-i", "inputs", multiple=True, metavar="NAME=VALUE",
              help="A value for one of the skill's inputs (repeatable).")
@click.option("--json", "as_json", is_flag=True,
              help="Print prompt, reply and the parsed result (list items or table) as JSON.")
@click.option("--timeout", default=600, show_default=True, type=click.IntRange(1, 86400),
              help="Seconds to wait for the whole reply.")
def skill_(project: Project, agent_id: str, skill_id: str | None, inputs: tuple[str, ...],
           as_json: bool, timeout: int) -> None:
    """Run one of an agent's skill dashboards: its prompt, rendered from the inputs, goes to the
    agent's web chat and the reply streams back. Without SKILL, list the agent's skills."""
    from smbos.runtime import RuntimeClient, RuntimeProblem
    from smbos import operations as ops
    from smbos import redact

    agent = _folder_agent(project, agent_id)
    if skill_id is None:
        for skill in agent.config.skills:
            fields = ", ".join(f"{i.id}{'*' if i.required else ''} ({i.type})"
                               for i in skill.inputs) or "no inputs"
            out(f"{skill.id}: {skill.title} [{skill.display}] -- {fields}")
        if not agent.config.skills:
            out(f"{agent.id} declares no skills")
        return
    skill = ops.find_skill(agent, skill_id)
    values = ops.parse_assignments(inputs, "--input NAME=VALUE")
    prompt = ops.skill_prompt(skill, values)
    texts: list[str] = []
    problems: list[str] = []
    scrub = redact.for_agent(agent)
    if not as_json:
        err(f"{agent.id}/{skill.id}: sending: {' '.join(prompt.split())[:200]}")
    try:
        with RuntimeClient(ops.runtime_url(agent), chat_timeout=float(timeout)) as client:
            with client.chat(prompt) as events:
                for event in events:
                    kind = getattr(event.type, "value", event.type)
                    if kind == "message":
                        texts.append(scrub(event.text) or "")
                        if not as_json:
                            click.echo(texts[-1])
                            sys.stdout.flush()
                    elif kind == "error":
                        problems.append(scrub(event.text) or "")
                        if not as_json:
                            err(f"{agent.id}: error: {problems[-1]}")
    except RuntimeProblem as problem:
        raise SmbosError(f"{agent.id}: {problem}", EXIT_CHECK_FAILED) from None
    if as_json:
        out(json.dumps({"agent_id": agent.id, "skill": skill.id, "prompt": prompt,
                        "messages": texts, "errors": problems,
                        "result": ops.skill_result(skill, "\n\n".join(texts))}, indent=2))
    sys.exit(EXIT_CHECK_FAILED if problems else EXIT_OK)


@cli.command(name="memory")
@project_options
@click.argument("agent_id", metavar="ID")
@click.argument("file", required=False)
def memory_(project: Project, agent_id: str, file: str | None) -> None:
    """List an agent's memory files, or print one (read-only, as the UI shows them)."""
    from smbos import operations as ops

    agent = _folder_agent(project, agent_id)
    if file is None:
        for entry in ops.list_memory(agent):
            out(f"{entry['size']:>9}  {entry['path']}")
        return
    click.echo(ops.read_memory(agent, file), nl=False)


@cli.command(name="ui")
@project_options
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on. Anything but loopback prints a warning and makes every "
                   "page, API and proxy request need the token.")
@click.option("--port", default=8787, show_default=True, type=click.IntRange(1, 65535))
@click.option("--token-file", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Read the token from this file instead of state/ui-token (or set "
                   "SMBOS_UI_TOKEN).")
@click.option("--token", "token_argument", default=None, hidden=True)
@click.option("--allow-host", "allow_hosts", multiple=True, metavar="NAME",
              help="Another host name the UI may be reached under (e.g. behind a tunnel; "
                   "https Origins are accepted for it).")
@click.option("--show-token", is_flag=True, help="Print the link with the token again.")
@click.option("--access-log", is_flag=True, help="Log every request (paths only).")
def ui(project: Project, host: str, port: int, token_file: Path | None,
       token_argument: str | None, allow_hosts: tuple[str, ...], show_token: bool,
       access_log: bool) -> None:
    """Serve the operator UI (fleet, agents, chat, settings, skills) on 127.0.0.1:8787.

    Changing requests and the settings need the UI token (X-SMBOS-Token): made on first start in
    state/ui-token (mode 600) and printed once as a link that hands it to the browser.
    """
    from smbos.web import server

    if token_argument is not None:
        # Every user of the machine sees a process's arguments (`ps`): never take a secret there.
        raise SmbosError("--token: a token on the command line is visible to every user in `ps`; "
                         "set SMBOS_UI_TOKEN or use --token-file FILE")
    resolved = server.resolve_token(project, os.environ.get("SMBOS_UI_TOKEN") or None,
                                    token_file)
    server.serve(project, host, port, resolved, allow_hosts=allow_hosts, access_log=access_log,
                 say=err, show_token=show_token)


def main() -> None:
    cli(prog_name="smbos")


if __name__ == "__main__":
    main()
