"""The operator web UI: smbos ui."""

from __future__ import annotations

import os
from pathlib import Path

import click

from smbos.cli.base import cli, err, project_options
from smbos.errors import SmbosError
from smbos.project import Project


@cli.command(name="ui")
@project_options
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="Address to listen on. Anything but loopback prints a warning and makes every "
    "page, API and proxy request need the token.",
)
@click.option("--port", default=8787, show_default=True, type=click.IntRange(1, 65535))
@click.option(
    "--token-file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Read the token from this file instead of state/ui-token (or set SMBOS_UI_TOKEN).",
)
@click.option("--token", "token_argument", default=None, hidden=True)
@click.option(
    "--allow-host",
    "allow_hosts",
    multiple=True,
    metavar="NAME",
    help="Another host name the UI may be reached under (e.g. behind a tunnel; "
    "https Origins are accepted for it). A request under it is remote: every "
    "page, API and proxy request then needs the token.",
)
@click.option("--show-token", is_flag=True, help="Print the link with the token again.")
@click.option("--access-log", is_flag=True, help="Log every request (paths only).")
def ui(
    project: Project,
    host: str,
    port: int,
    token_file: Path | None,
    token_argument: str | None,
    allow_hosts: tuple[str, ...],
    show_token: bool,
    access_log: bool,
) -> None:
    """Serve the operator UI (fleet, agents, chat, settings, skills) on 127.0.0.1:8787.

    Changing requests and the settings need the UI token (X-SMBOS-Token): made on first start in
    state/ui-token (mode 600) and printed once as a link that hands it to the browser.
    """
    from smbos.web import server

    if token_argument is not None:
        # Every user of the machine sees a process's arguments (`ps`): never take a secret there.
        raise SmbosError(
            "--token: a token on the command line is visible to every user in `ps`; "
            "set SMBOS_UI_TOKEN or use --token-file FILE"
        )
    resolved = server.resolve_token(project, os.environ.get("SMBOS_UI_TOKEN") or None, token_file)
    server.serve(
        project,
        host,
        port,
        resolved,
        allow_hosts=allow_hosts,
        access_log=access_log,
        say=err,
        show_token=show_token,
    )
