"""The UI's token and the checks every request goes through (docs/decisions/005-web-ui.md).

- Host: only the names the UI is served under are answered (defeats DNS rebinding).
- Changing requests (POST, PUT, PATCH, DELETE) need the token in `X-SMBOS-Token` and, when the
  browser sends an Origin, an Origin that is the UI's own.
- When the UI listens on a non-loopback address, reading the JSON API and the proxy needs the
  token too.
"""

from __future__ import annotations

import ipaddress
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

TOKEN_HEADER = "X-SMBOS-Token"
TOKEN_FILE = "ui-token"
MIN_TOKEN_CHARS = 16
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def token_path(project_dir: Path) -> Path:
    return project_dir / "state" / TOKEN_FILE


def load_or_create_token(project_dir: Path) -> tuple[str, bool]:
    """(token, created): the token in `state/ui-token`, made (mode 600) when missing."""
    path = token_path(project_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        token = path.read_text(encoding="utf-8").strip()
        if len(token) < MIN_TOKEN_CHARS:
            raise ValueError(f"{path}: the token is shorter than {MIN_TOKEN_CHARS} characters; "
                             "delete the file to make a new one") from None
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


def is_loopback(host: str) -> bool:
    if host in ("localhost", ""):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


@dataclass
class Guard:
    token: str
    bind_host: str = "127.0.0.1"
    extra_hosts: tuple[str, ...] = ()
    allowed_hosts: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        names = {"127.0.0.1", "localhost", "::1", "[::1]"}
        if self.bind_host not in ("0.0.0.0", "::", ""):
            names.add(self.bind_host)
        names.update(h.lower() for h in self.extra_hosts)
        self.allowed_hosts = {n.lower() for n in names}
        self.any_host = self.bind_host in ("0.0.0.0", "::") and not self.extra_hosts

    @property
    def exposed(self) -> bool:
        """Listening beyond this machine: reads need the token too."""
        return not is_loopback(self.bind_host)

    def host_ok(self, host_header: str | None) -> bool:
        if not host_header:
            return False
        if self.any_host:
            return True
        host = host_header.lower()
        if host.startswith("["):
            name = host[: host.find("]") + 1] if "]" in host else host
        else:
            name = host.rsplit(":", 1)[0] if host.count(":") == 1 else host
        return name in self.allowed_hosts or name.strip("[]") in self.allowed_hosts

    def token_ok(self, given: str | None) -> bool:
        return bool(given) and secrets.compare_digest(given.encode(), self.token.encode())

    @staticmethod
    def origin_ok(origin: str | None, scheme: str, host_header: str | None) -> bool:
        """No Origin (a tool such as curl) is fine; one that is not this UI's is refused."""
        if origin is None:
            return True
        if not host_header:
            return False
        parts = urlsplit(origin)
        if origin == "null" or not parts.scheme or not parts.netloc:
            return False
        return parts.scheme == scheme and parts.netloc.lower() == host_header.lower()

    def check(self, method: str, path: str, headers, scheme: str) -> tuple[int, str, str] | None:
        """None when the request may go on, else (status, kind, message)."""
        host = headers.get("host")
        if not self.host_ok(host):
            return 421, "host", ("this UI answers only under its own address (Host header "
                                 "refused); start it with --allow-host NAME to add a name")
        changing = method.upper() not in SAFE_METHODS
        if changing and not self.origin_ok(headers.get("origin"), scheme, host):
            return 403, "origin", "request from another site refused (Origin is not this UI)"
        guarded = changing or (self.exposed and (path.startswith("/api/") or "/api/" in path)
                               and path != "/api/openapi.json")
        if guarded:
            given = headers.get(TOKEN_HEADER.lower())
            if not given:
                return 401, "token", (f"missing {TOKEN_HEADER} header; the token is in "
                                      "state/ui-token")
            if not self.token_ok(given):
                return 403, "token", f"wrong {TOKEN_HEADER}"
        return None
