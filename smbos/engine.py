"""The Docker engine: reaching it, and reading the fleet's containers cheaply.

Lifecycle goes through the Docker SDK (`client()`), which negotiates the API version and knows
every way of reaching an engine (local socket, TCP, TLS, SSH). Reading container state, which
`smbos status` does on every call and `status --watch` every two seconds, only needs two
read-only Engine API routes; on a local socket they are asked with the standard library, so a
status never pays for importing the SDK (requests, urllib3: about as long as `docker compose
ps` takes in all). Both readers return the Engine API's own JSON.
"""

from __future__ import annotations

import http.client
import json
import os
import socket
from typing import Any, Protocol
from urllib.parse import quote, urlencode

from smbos.errors import EngineUnreachable, SmbosError

DEFAULT_HOST = "unix:///var/run/docker.sock"


def where() -> str:
    return os.environ.get("DOCKER_HOST") or DEFAULT_HOST


def client(timeout: int = 30):
    """A Docker SDK client for the engine of DOCKER_HOST (or the default socket), checked alive.

    `docker.from_env` asks the engine for its API version, which is the liveness check: no
    separate ping (one round trip fewer on every command)."""
    import docker
    import docker.errors

    try:
        return docker.from_env(timeout=timeout)
    except docker.errors.DockerException as exc:
        raise unreachable(exc) from None


def unreachable(exc: BaseException) -> EngineUnreachable:
    """The one-line error for an engine that did not answer, with what to do about it."""
    cause = _root_os_error(exc)
    if isinstance(cause, PermissionError):
        fix = (
            "run smbos as a user in the `docker` group (`sudo usermod -aG docker $USER`, "
            "then log in again) or point DOCKER_HOST at an engine you may use"
        )
    else:
        fix = (
            "start it (`sudo systemctl start docker` or `sudo dockerd &`) or point "
            "DOCKER_HOST at a running engine"
        )
    return EngineUnreachable(
        f"Docker engine unreachable at {where()} ({_unreachable_reason(exc, cause)}); {fix}"
    )


def _root_os_error(exc: BaseException) -> OSError | None:
    """The innermost OSError behind a docker/requests/urllib3/httpx error (they nest it)."""
    seen: set[int] = set()
    todo: list[BaseException] = [exc]
    found: OSError | None = None
    while todo:
        current = todo.pop(0)
        if id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, OSError) and type(current).__module__ == "builtins":
            found = current
        todo += [c for c in (current.__cause__, current.__context__) if c is not None]
        todo += [a for a in getattr(current, "args", ()) if isinstance(a, BaseException)]
    return found


def _unreachable_reason(exc: BaseException, cause: OSError | None) -> str:
    if isinstance(cause, FileNotFoundError):
        return "no such socket"
    if isinstance(cause, PermissionError):
        return "permission denied on the socket"
    if isinstance(cause, ConnectionRefusedError):
        return "connection refused"
    if isinstance(cause, TimeoutError):
        return "timed out"
    if cause is not None and (cause.strerror or str(cause)):
        return " ".join((cause.strerror or str(cause)).split())[:160]
    reason = str(exc).split("(")[0].strip().rstrip(":") or type(exc).__name__
    return " ".join(reason.split())[:160]


class Reader(Protocol):
    """Read-only container state, as the Engine API returns it."""

    def containers(self, labels: list[str]) -> list[dict[str, Any]]: ...

    def inspect(self, container_id: str) -> dict[str, Any] | None: ...


class SdkReader:
    """The reader on a Docker SDK client (any engine the SDK can reach)."""

    def __init__(self, sdk_client) -> None:
        self.sdk = sdk_client

    def containers(self, labels: list[str]) -> list[dict[str, Any]]:
        return self.sdk.api.containers(all=True, filters={"label": labels})

    def inspect(self, container_id: str) -> dict[str, Any] | None:
        import docker.errors

        try:
            return self.sdk.api.inspect_container(container_id)
        except docker.errors.NotFound:
            return None


class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, socket_path: str, timeout: float) -> None:
        super().__init__("localhost", timeout=timeout)
        self.socket_path = socket_path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        try:
            sock.connect(self.socket_path)
        except OSError:
            sock.close()
            raise
        self.sock = sock


class SocketReader:
    """The reader on the engine's local Unix socket, on the standard library's `http.client`
    (one connection per request: the engine answers each in about a millisecond). Unversioned
    routes, which the engine serves at its own API version; the fields read here are stable
    across versions."""

    def __init__(self, socket_path: str, timeout: float = 30) -> None:
        self.socket_path = socket_path
        self.timeout = timeout

    def _get(self, path: str) -> tuple[int, Any]:
        connection = _UnixConnection(self.socket_path, self.timeout)
        try:
            connection.request("GET", path, headers={"Accept": "application/json"})
            reply = connection.getresponse()
            status, body = reply.status, reply.read()
        except (OSError, http.client.HTTPException) as exc:
            raise unreachable(exc) from None
        finally:
            connection.close()
        try:
            data = json.loads(body) if body else None
        except ValueError:
            data = None
        if status >= 400 and status != 404:
            message = data.get("message", "") if isinstance(data, dict) else ""
            raise SmbosError(
                f"Docker engine at {where()}: GET {path.split('?')[0]}: {status} "
                f"{' '.join(str(message).split())[:200]}"
            )
        return status, data

    def containers(self, labels: list[str]) -> list[dict[str, Any]]:
        query = urlencode({"all": "1", "filters": json.dumps({"label": labels})})
        return self._get(f"/containers/json?{query}")[1]

    def inspect(self, container_id: str) -> dict[str, Any] | None:
        status, data = self._get(f"/containers/{quote(container_id, safe='')}/json")
        return None if status == 404 else data


def reader(sdk_client=None) -> Reader:
    """The cheapest reader for this engine: the local socket when DOCKER_HOST names one (or is
    unset) and no SDK client is at hand, else the SDK."""
    if sdk_client is not None:
        return SdkReader(sdk_client)
    host = where()
    if host.startswith("unix://"):
        return SocketReader(host.removeprefix("unix://"))
    return SdkReader(client())
