"""Running the UI: the token, the listening socket, uvicorn."""

from __future__ import annotations

import errno
import socket
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import uvicorn

from smbos.errors import Refused, SmbosError
from smbos.project import Project
from smbos.web.app import create_app
from smbos.web.security import (
    MIN_TOKEN_CHARS,
    is_loopback,
    load_or_create_token,
    read_token_file,
    token_path,
)

DEFAULT_PORT = 8787


@dataclass(frozen=True)
class UIToken:
    value: str
    created: bool
    source: str  # "file" (state/ui-token), "token-file" or "environment"
    where: str = ""  # how messages name it when it is not state/ui-token


def resolve_token(
    project: Project, given: str | None = None, token_file: Path | None = None
) -> UIToken:
    """The token of SMBOS_UI_TOKEN (`given`), else of --token-file, else the one in
    state/ui-token (made once). Never from the command line, where `ps` shows it."""
    if given:
        if len(given) < MIN_TOKEN_CHARS:
            raise SmbosError(f"SMBOS_UI_TOKEN: expected at least {MIN_TOKEN_CHARS} characters")
        return UIToken(given, False, "environment", "SMBOS_UI_TOKEN")
    if token_file is not None:
        try:
            return UIToken(read_token_file(token_file), False, "token-file", str(token_file))
        except (OSError, UnicodeDecodeError) as exc:
            raise SmbosError(
                f"--token-file: {token_file}: cannot read ({getattr(exc, 'strerror', None) or exc})"
            ) from None
        except ValueError as exc:
            raise SmbosError(f"--token-file: {exc}") from None
    try:
        value, created = load_or_create_token(project.project_dir)
    except (OSError, ValueError) as exc:
        raise SmbosError(f"UI token: {exc}") from None
    return UIToken(value, created, "file")


def check_port(host: str, port: int) -> None:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise Refused(
                    f"--port: {host}:{port} is already in use; pick another with --port"
                ) from None
            raise Refused(
                f"--host/--port: cannot listen on {host}:{port} ({exc.strerror})"
            ) from None


def url_for(host: str, port: int) -> str:
    shown = "127.0.0.1" if host in ("0.0.0.0", "") else "[::1]" if host == "::" else host
    if ":" in shown and not shown.startswith("["):
        shown = f"[{shown}]"
    return f"http://{shown}:{port}/"


def serve(
    project: Project,
    host: str,
    port: int,
    token: UIToken,
    *,
    allow_hosts: tuple[str, ...] = (),
    access_log: bool = False,
    say: Callable[[str], None] = lambda line: print(line, file=sys.stderr),
    show_token: bool = False,
) -> None:
    """Serve the UI until interrupted."""
    check_port(host, port)
    if not is_loopback(host):
        say(
            f"warning: the UI listens on {host}, reachable beyond this machine; every "
            "page, API and proxy request then needs the token, and traffic is not encrypted "
            "(prefer an SSH tunnel to 127.0.0.1)"
        )
    remote_names = [name for name in allow_hosts if not is_loopback(name.lower())]
    if remote_names:
        say(
            f"requests under {', '.join(remote_names)} come from beyond this machine: each "
            "needs the token (every page, API and proxy request), as with --host 0.0.0.0"
        )
    app = create_app(project, token.value, host=host, allow_hosts=allow_hosts)
    url = url_for(host, port)
    say(f"SMBOS UI for {project.agents_dir}/ on {url}")
    if token.created or show_token:
        where = token.where or str(token_path(project.project_dir))
        what = "made a new UI token (kept in" if token.created else "UI token (from"
        say(f"{what} {where}); open this link once, the browser keeps it:")
        say(f"  {url}#token={token.value}")
    elif token.source == "file":
        say(
            f"actions need the UI token in {token_path(project.project_dir)} (paste it once in "
            "the page, or run with --show-token for a link)"
        )
    say("press Ctrl+C to stop")
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level="warning",
        access_log=access_log,
        proxy_headers=False,
        server_header=False,
        date_header=False,
        lifespan="on",
        timeout_graceful_shutdown=3,
    )
    uvicorn.Server(config).run()
