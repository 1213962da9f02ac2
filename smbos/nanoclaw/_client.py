"""What the blocking and the asyncio client of the runtime's API share and that does no I/O:
the base URL's check, the options of the httpx client, the `RuntimeProblem` of a transport
failure (docs/runtime-api.md, section 1). Read by `smbos.nanoclaw.runtime` and the UI's proxy
through it (`runtime.classify_transport_error`).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import httpx

from smbos.nanoclaw.contract import (
    CHAT_TIMEOUTS,
    PROBE_TIMEOUTS,
    ProblemKind,
    RuntimeProblem,
    Timeouts,
    as_timeouts,
    one_line,
    snippet,
)

# --------------------------------------------------------------------------- problems


def classify_transport_error(
    exc: Exception, route: str, *, streaming: bool = False, read_budget: float | None = None
) -> RuntimeProblem:
    """The `RuntimeProblem` for an httpx (or socket) failure on `route`."""
    cause = one_line(str(exc)) or type(exc).__name__
    if isinstance(exc, httpx.ConnectTimeout):
        return RuntimeProblem(ProblemKind.TIMEOUT, route, f"connect timed out ({cause})")
    if isinstance(exc, httpx.TimeoutException):
        budget = f" after {read_budget:g} s" if read_budget else ""
        what = "no event" if streaming else "no answer"
        return RuntimeProblem(ProblemKind.TIMEOUT, route, f"{what}{budget} (read timed out)")
    if isinstance(exc, (httpx.ConnectError, ConnectionRefusedError)):
        lowered = cause.lower()
        detail = (
            "connection refused"
            if "refused" in lowered or not cause
            else f"cannot connect ({snippet(cause)})"
        )
        return RuntimeProblem(ProblemKind.REFUSED, route, detail)
    if isinstance(
        exc,
        (
            httpx.ReadError,
            httpx.WriteError,
            httpx.RemoteProtocolError,
            httpx.CloseError,
            ConnectionError,
        ),
    ):
        where = "mid-stream" if streaming else "before the answer was complete"
        return RuntimeProblem(
            ProblemKind.STREAM_ERROR, route, f"connection dropped {where} ({snippet(cause)})"
        )
    if isinstance(exc, httpx.DecodingError):
        return RuntimeProblem(
            ProblemKind.STREAM_ERROR, route, f"undecodable body ({snippet(cause)})"
        )
    return RuntimeProblem(
        ProblemKind.STREAM_ERROR, route, f"{type(exc).__name__}: {snippet(cause)}"
    )


# --------------------------------------------------------------------------- shared client base


def normalize_base_url(base_url: str) -> str:
    """`http(s)://host[:port][/prefix]` without a trailing slash; ValueError otherwise."""
    if not isinstance(base_url, str):
        raise TypeError("base_url must be a string")
    parts = urlsplit(base_url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"base URL must be http(s)://host[:port], got {snippet(base_url)!r}")
    if parts.query or parts.fragment or parts.username or parts.password:
        raise ValueError(
            f"base URL must have no credentials, query or fragment: {snippet(base_url)!r}"
        )
    try:
        _ = parts.port  # urllib parses the port lazily: this is the check
    except ValueError:
        raise ValueError(f"base URL has a bad port: {snippet(base_url)!r}") from None
    return f"{parts.scheme}://{parts.netloc}{parts.path.rstrip('/')}"


def messages_params(limit: int) -> dict[str, int]:
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        raise ValueError(f"limit must be a positive integer, got {limit!r}")
    return {"limit": limit}


class ClientBase:
    def __init__(
        self, base_url: str, probe_timeout: Timeouts | float, chat_timeout: Timeouts | float
    ) -> None:
        self.base_url = normalize_base_url(base_url)
        self.probe_timeout = as_timeouts(probe_timeout, PROBE_TIMEOUTS)
        self.chat_timeout = as_timeouts(chat_timeout, CHAT_TIMEOUTS)

    def _client_options(self) -> dict[str, Any]:
        # trust_env=False: no proxy from the environment, so traffic only goes to base_url;
        # no redirects followed, for the same reason (a 3xx is a bad status).
        return {
            "base_url": self.base_url,
            "timeout": self.probe_timeout.to_httpx(),
            "follow_redirects": False,
            "trust_env": False,
            "headers": {"User-Agent": "smbos-runtime-client"},
        }

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.base_url!r})"
