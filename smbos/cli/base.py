"""The command group and what every command shares: one-line errors and exit codes (never a
traceback), stdout for data and stderr for problems, data shown as text (never markup or a
terminal control), the project options, the controller."""

from __future__ import annotations

import functools
import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from smbos import __version__
from smbos.errors import (
    EXIT_CHECK_FAILED,
    EXIT_INTERNAL,
    EXIT_INTERRUPTED,
    InvalidInput,
    Problem,
    SmbosError,
    UnknownAgent,
    from_docker,
)
from smbos.project import Project

if TYPE_CHECKING:  # each command imports what it uses: `--version` pays for none of it
    from rich.console import Console
    from rich.table import Table as RichTable
    from rich.text import Text

    from smbos.agent import Fleet


def make_console(stderr: bool = False) -> Console:
    """A console that never reads data as markup or emoji codes: what it prints is `cell`s."""
    from rich.console import Console  # on first use: `status --json` never draws

    wide = None if (sys.stderr if stderr else sys.stdout).isatty() else 200
    return Console(
        stderr=stderr, width=wide, highlight=False, soft_wrap=not wide, markup=False, emoji=False
    )


def Table(*args, **kwargs) -> RichTable:  # noqa: N802 - rich's Table, imported on first use
    from rich.table import Table

    return Table(*args, **kwargs)


# ------------------------------------------------------------------ data on the terminal
#
# Data (names, file names, file contents, what a runtime answers) is never markup and never a
# terminal control: every control character (C0, DEL, C1, the Unicode line and paragraph
# separators, the bidirectional overrides) is shown as an escape such as \x1b or \n, so that a
# name cannot move the cursor, retitle the terminal, make a hyperlink or split its row. Other
# characters (accents, scripts, emoji) are shown as they are.


def _escape(code: int) -> str:
    named = {0x09: "\\t", 0x0A: "\\n", 0x0D: "\\r"}
    return named.get(code) or (f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}")


_CONTROLS = [
    *range(0x00, 0x20),
    0x7F,
    *range(0x80, 0xA0),
    0x2028,
    0x2029,
    *range(0x202A, 0x202F),
    *range(0x2066, 0x206A),
]
_ONE_LINE = {code: _escape(code) for code in _CONTROLS}
_TEXT = {code: escaped for code, escaped in _ONE_LINE.items() if code not in (0x09, 0x0A)}


def shown(value: object) -> str:
    """`value` as one line of plain text: every control character escaped (`\\n` too)."""
    return str(value).translate(_ONE_LINE)


def shown_text(value: object) -> str:
    """`value` as lines of plain text: its newlines and tabs kept, every other control
    character escaped (a file's content, a reply)."""
    return str(value).replace("\r\n", "\n").translate(_TEXT)


def cell(value: object, style: str = "") -> Text:
    """A table cell (or any rich renderable) from data: plain text, never markup."""
    from rich.text import Text

    return Text(shown(value), style=style)


def out(message: object) -> None:
    """One line of output on stdout; any data in it shown safely (`shown`)."""
    click.echo(shown(message))


def out_text(text: str, nl: bool = True) -> None:
    """Lines of text on stdout (a file, a reply): newlines and tabs kept, controls escaped."""
    click.echo(shown_text(text), nl=nl)


def out_json(data: object) -> None:
    """JSON on stdout. `json.dumps` escapes every control character but DEL: that one too."""
    click.echo(json.dumps(data, indent=2).replace("\x7f", "\\u007f"))


def err(message: object) -> None:
    """One line on stderr (a problem, progress); any data in it shown safely (`shown`)."""
    click.echo(shown(message), err=True)


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
        except docker_errors() as exc:
            refused = from_docker(exc, ctx.invoked_subcommand or ctx.info_name or "smbos")
            err(f"error: {refused}")
            ctx.exit(refused.exit_code)
        except KeyboardInterrupt:
            err("interrupted")
            ctx.exit(EXIT_INTERRUPTED)
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
        err(
            f"internal error: {type(exc).__name__}: {' '.join(str(exc).split())} "
            "(set SMBOS_DEBUG=1 for a traceback)"
        )
        ctx.exit(EXIT_INTERNAL)


def docker_errors() -> tuple[type[Exception], ...]:
    import docker.errors

    return (docker.errors.DockerException,)


def project_options(func):
    """--agents, --file and --project-name, shared by every command."""

    @click.option(
        "--agents",
        "agents",
        type=click.Path(file_okay=False, path_type=Path),
        envvar="SMBOS_AGENTS",
        default="agents",
        show_default=True,
        help="The folder of agent folders.",
    )
    @click.option(
        "--file",
        "compose_file",
        type=click.Path(dir_okay=False, path_type=Path),
        envvar="SMBOS_COMPOSE_FILE",
        default=None,
        help="The Compose file [default: compose/docker-compose.yml beside the agents folder].",
    )
    @click.option(
        "-p",
        "--project-name",
        "project_name",
        envvar="SMBOS_PROJECT",
        default=None,
        help="The Compose project name [default: smbos].",
    )
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
    return project.load_valid(strict_env=strict_env, say=err)


@click.group(cls=SmbosGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="smbos")
def cli() -> None:
    """SMBOS: run and steer a fleet of NanoClaw agents, one container per agent folder."""


def controller_for(project: Project):
    from smbos.controller import Controller, engine

    return Controller(project, engine())


def folder_agent(project: Project, agent_id: str):
    """An agent from its folder (no Docker needed); unknown ids are an error."""
    fleet = project.load()
    agent = fleet.get(agent_id)
    if agent is None:
        raise UnknownAgent(fleet.why_missing(agent_id))
    return agent


def human_seconds(seconds: float | None) -> str:
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


def status_table(rows) -> RichTable:
    table = Table(box=None, pad_edge=False)
    for column in (
        "AGENT",
        "STATE",
        "HEALTH",
        "API",
        "PORT",
        "UPTIME",
        "RESTARTS",
        "TURNS",
        "TELEGRAM",
        "DRIFT",
    ):
        table.add_column(column, no_wrap=True)
    for row in rows:
        api = row.api
        if row.latency_ms is not None and row.api == "ok":
            api = f"ok {row.latency_ms:.0f}ms"
        table.add_row(
            *map(
                cell,
                (
                    row.id,
                    row.state,
                    row.health,
                    api,
                    row.published or (f"127.0.0.1:{row.port}" if row.port else "-"),
                    human_seconds(row.uptime_s),
                    row.restarts,
                    row.turns,
                    row.telegram + (f" ({row.telegram_detail})" if row.telegram_detail else ""),
                    row.drift or "-",
                ),
            )
        )
    return table


def main() -> None:
    cli(prog_name="smbos")
