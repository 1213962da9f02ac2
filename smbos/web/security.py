"""The UI's token and the checks every request goes through (docs/decisions/005-web-ui.md).

- Host: only the names the UI is served under are answered (defeats DNS rebinding). Listening on
  every address (0.0.0.0, ::) adds this machine's own addresses and host name, not any name.
- Changing requests (POST, PUT, PATCH, DELETE) need the token in `X-SMBOS-Token` and, when the
  browser sends an Origin, an Origin that is the UI's own (https too for an `--allow-host` name:
  a TLS tunnel in front of the UI).
- Reading the settings (`.env`, masked) and anything through the proxy (a raw view of an agent)
  needs the token everywhere: any local user can reach a loopback port, and `.env` is mode 600.
- A remote request needs it for every read too: the JSON API and the proxy in the header, the
  pages in the session cookie that the page's script gets for the token (`POST /api/session`; a
  browser cannot put a header on a page it navigates to). Remote is decided per request: every
  request when the UI listens on a non-loopback address (a client can send any Host), and on
  loopback any request under a name that is not a loopback name or address (an `--allow-host`
  name: a tunnel in front of the UI brings requests from elsewhere to 127.0.0.1).
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import ipaddress
import os
import re
import secrets
import socket
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from pathlib import Path
from urllib.parse import urlsplit

from smbos.errors import NeedsSession, OtherOrigin, Unauthorized, WrongHost, WrongToken

TOKEN_HEADER = "X-SMBOS-Token"
TOKEN_FILE = "ui-token"
MIN_TOKEN_CHARS = 16
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
SESSION_COOKIE = "smbos-ui-session"
SESSION_PATH = "/api/session"
WILDCARD_HOSTS = frozenset({"0.0.0.0", "::", ""})
# Paths anyone who can reach the UI may read: the UI's own code and the description of its API.
PUBLIC_PREFIXES = ("/static/",)
PUBLIC_PATHS = frozenset({"/api/openapi.json"})
# Reads that need the token even on loopback: the settings (masked `.env` values, key names) and
# the proxy (an agent's own API, a raw view of it).
_ALWAYS_GUARDED_RE = re.compile(r"^/api/agents/[^/]+/env$|^/agents/[^/]+/api/")


def token_path(project_dir: Path) -> Path:
    return project_dir / "state" / TOKEN_FILE


def load_or_create_token(project_dir: Path) -> tuple[str, bool]:
    """(token, created): the token in `state/ui-token`, made (mode 600) when missing."""
    path = token_path(project_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        token = read_token_file(path)
        if path.stat().st_mode & 0o077:
            os.chmod(path, 0o600)
        return token, False
    token = secrets.token_urlsafe(32)
    try:
        os.fchmod(fd, 0o600)
        os.write(fd, (token + "\n").encode())
    finally:
        os.close(fd)
    return token, True


def read_token_file(path: Path) -> str:
    """The token kept in a file (its first line). Raises ValueError when it is too short."""
    lines = path.read_text(encoding="utf-8").splitlines()
    token = lines[0].strip() if lines else ""
    if len(token) < MIN_TOKEN_CHARS:
        raise ValueError(
            f"{path}: the token is shorter than {MIN_TOKEN_CHARS} characters; "
            "put a longer one there (or delete state/ui-token to make a new one)"
        )
    return token


def is_loopback(host: str) -> bool:
    if host in ("localhost", ""):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


@functools.lru_cache(maxsize=256)
def is_own_address(text: str) -> bool:
    """Whether `text` is an IP address of this machine: binding a socket to it succeeds only
    then. A Host header that is an IP literal cannot come from DNS rebinding (the page's origin
    is that address itself), so this machine's addresses are safe to answer under."""
    try:
        address = ipaddress.ip_address(text.strip("[]"))
    except ValueError:
        return False
    family = socket.AF_INET6 if address.version == 6 else socket.AF_INET
    try:
        with socket.socket(family, socket.SOCK_DGRAM) as sock:
            sock.bind((str(address), 0))
    except OSError:
        return False
    return True


def host_name(host_header: str) -> str:
    """The name part of a Host header (`[::1]:8787` -> `[::1]`, `ui.example:443` ->
    `ui.example`)."""
    host = host_header.lower()
    if host.startswith("["):
        return host[: host.find("]") + 1] if "]" in host else host
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


@dataclass
class Guard:
    token: str
    bind_host: str = "127.0.0.1"
    extra_hosts: tuple[str, ...] = ()
    allowed_hosts: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        names = {"127.0.0.1", "localhost", "::1", "[::1]"}
        if self.bind_host not in WILDCARD_HOSTS:
            names.add(self.bind_host)
        self.tunnel_hosts = {h.lower() for h in self.extra_hosts}
        names.update(self.tunnel_hosts)
        self.every_address = self.bind_host in WILDCARD_HOSTS
        if self.every_address:
            names.add(socket.gethostname().lower())
        self.allowed_hosts = {n.lower() for n in names}
        self.session = hmac.new(
            self.token.encode(), b"smbos-ui-session", hashlib.sha256
        ).hexdigest()

    @property
    def exposed(self) -> bool:
        """Listening beyond this machine: every request is remote."""
        return not is_loopback(self.bind_host)

    def remote(self, host_header: str | None) -> bool:
        """Whether a request under this Host may come from beyond this machine, so that reads
        need the token too: every request when the UI listens beyond loopback, else one under
        any name but a loopback name or address (an `--allow-host` name, or none at all)."""
        if self.exposed or not host_header:
            return True
        return not is_loopback(host_name(host_header))

    def host_ok(self, host_header: str | None) -> bool:
        if not host_header:
            return False
        name = host_name(host_header)
        if name in self.allowed_hosts or name.strip("[]") in self.allowed_hosts:
            return True
        return self.every_address and is_own_address(name)

    def token_ok(self, given: str | None) -> bool:
        if not given:
            return False
        return secrets.compare_digest(given.encode(), self.token.encode())

    def session_ok(self, cookie_header: str | None) -> bool:
        """Whether the request carries the session cookie `POST /api/session` set."""
        if not cookie_header:
            return False
        cookies = SimpleCookie()
        try:
            cookies.load(cookie_header)
        except Exception:  # noqa: BLE001 - a malformed Cookie header is no session
            return False
        morsel = cookies.get(SESSION_COOKIE)
        return morsel is not None and secrets.compare_digest(
            morsel.value.encode(), self.session.encode()
        )

    def origin_ok(self, origin: str | None, scheme: str, host_header: str | None) -> bool:
        """No Origin (a tool such as curl) is fine; one that is not this UI's is refused. Under an
        `--allow-host` name the page may have been served over https by a tunnel in front of
        the UI, which itself sees http."""
        if origin is None:
            return True
        if not host_header:
            return False
        parts = urlsplit(origin)
        if origin == "null" or not parts.scheme or not parts.netloc:
            return False
        if parts.netloc.lower() != host_header.lower():
            return False
        return parts.scheme == scheme or (
            parts.scheme == "https" and host_name(host_header) in self.tunnel_hosts
        )

    @staticmethod
    def is_page(path: str) -> bool:
        return not (path.startswith("/api/") or "/api/" in path or path.startswith(PUBLIC_PREFIXES))

    def check(self, method: str, path: str, headers, scheme: str) -> None:
        """Returns when the request may go on, else raises the refusal (smbos.errors):
        NeedsSession for a page that needs the session cookie (the caller answers with a page
        that gets one), WrongHost, OtherOrigin, Unauthorized or WrongToken."""
        host = headers.get("host")
        if not self.host_ok(host):
            raise WrongHost(
                "this UI answers only under its own address (Host header refused); "
                "start it with --allow-host NAME to add a name"
            )
        changing = method.upper() not in SAFE_METHODS
        if changing and not self.origin_ok(headers.get("origin"), scheme, host):
            raise OtherOrigin("request from another site refused (Origin is not this UI)")
        given = headers.get(TOKEN_HEADER.lower())
        remote = self.remote(host)
        if path in PUBLIC_PATHS or path.startswith(PUBLIC_PREFIXES):
            guarded = changing
        elif self.is_page(path) and not changing:
            if not remote or self.token_ok(given) or self.session_ok(headers.get("cookie")):
                return
            raise NeedsSession(
                f"this UI is reached as {host_name(host)}, from beyond this "
                "machine: give the UI token (state/ui-token) to open its pages"
            )
        else:
            guarded = changing or remote or bool(_ALWAYS_GUARDED_RE.match(path))
        if guarded:
            if not given:
                raise Unauthorized(f"missing {TOKEN_HEADER} header; the token is in state/ui-token")
            if not self.token_ok(given):
                raise WrongToken(f"wrong {TOKEN_HEADER}")

    def session_cookie(self, secure: bool) -> str:
        """The Set-Cookie value that opens the pages for this browser (until it closes). Not
        readable by scripts (HttpOnly), never sent by another site's requests (SameSite)."""
        return f"{SESSION_COOKIE}={self.session}; Path=/; HttpOnly; SameSite=Strict" + (
            "; Secure" if secure else ""
        )

    @staticmethod
    def session_cookie_cleared() -> str:
        return f"{SESSION_COOKIE}=; Path=/; Max-Age=0; HttpOnly; SameSite=Strict"
