"""The runtime contract without a transport.

The contract itself is docs/runtime-api.md (section 1: the routes; section 4: runtimes that serve
part of them).

What every client of an agent's NanoClaw API shares: the routes, time budgets, the classified
`RuntimeProblem`, status and JSON checks, what a health answer means (`Probe`) and which routes a
runtime serves (`Capabilities`). `smbos.nanoclaw.runtime` builds its httpx clients on these (and
re-exports them); `smbos.nanoclaw._shapes` and `smbos.nanoclaw.chatstream` read the answers.

The health probe of `smbos status`, on the standard library alone, is `smbos.nanoclaw.probe`.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from enum import Enum
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    import httpx


SNIPPET_CHARS = 100
MAX_BODY_BYTES = 16 * 1024 * 1024  # a probe reply larger than this is not the runtime's


# --------------------------------------------------------------------------- budgets


@dataclass(frozen=True)
class Timeouts:
    """Time budgets in seconds. `read` bounds each wait for bytes (for the chat stream: the longest
    silence between events); `total`, when set, bounds the whole exchange (checked between reads,
    so the worst case is `total + read`)."""

    connect: float = 1.0
    read: float = 2.0
    total: float | None = None

    def __post_init__(self) -> None:
        for name in ("connect", "read", "total"):
            value = getattr(self, name)
            if value is not None and not value > 0:
                raise ValueError(f"Timeouts.{name} must be positive, got {value!r}")

    def to_httpx(self) -> httpx.Timeout:
        import httpx

        return httpx.Timeout(
            connect=self.connect, read=self.read, write=max(self.read, 1.0), pool=self.connect
        )


PROBE_TIMEOUTS = Timeouts(connect=1.0, read=2.0, total=5.0)
CHAT_TIMEOUTS = Timeouts(connect=2.0, read=600.0, total=None)


def as_timeouts(value: Timeouts | float, base: Timeouts) -> Timeouts:
    """A `Timeouts`, or a number: that read budget, the default connect budget, no total."""
    if isinstance(value, Timeouts):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return Timeouts(connect=base.connect, read=float(value), total=None)
    raise TypeError(f"expected Timeouts or seconds, got {type(value).__name__}")


def over(deadline: float | None) -> bool:
    return deadline is not None and time.monotonic() > deadline


def deadline_of(budget: Timeouts) -> float | None:
    return None if budget.total is None else time.monotonic() + budget.total


def total_exceeded(route: str, budget: Timeouts) -> RuntimeProblem:
    return RuntimeProblem(
        ProblemKind.TIMEOUT, route, f"answer not complete within {budget.total:g} s"
    )


# --------------------------------------------------------------------------- problems


class ProblemKind(str, Enum):
    REFUSED = "refused"  # connection refused: nothing listens there
    TIMEOUT = "timeout"  # connect or read budget exhausted
    BAD_STATUS = "bad_status"  # a non-2xx answer (status code on the problem)
    NOT_JSON = "not_json"  # a body that is not JSON
    BAD_SHAPE = "bad_shape"  # JSON, but not the shape the contract says (field on the problem)
    ABSENT = "absent"  # 404 on a contract route: this runtime lacks the capability
    STREAM_ERROR = "stream_error"  # the connection dropped before the answer was complete


def one_line(text: str) -> str:
    return " ".join(str(text).split())


def snippet(text: str | bytes, limit: int = SNIPPET_CHARS) -> str:
    """At most `limit` characters of `text` on one line, marked when cut."""
    if isinstance(text, bytes):
        text = text[: limit * 4].decode("utf-8", errors="replace")
    flat = one_line(text)
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


class RuntimeProblem(RuntimeError):
    """A classified failure talking to a runtime; `str()` is one line."""

    def __init__(
        self,
        kind: ProblemKind,
        route: str,
        detail: str,
        *,
        status: int | None = None,
        field: str | None = None,
    ):
        self.kind = kind
        self.route = route
        self.detail = one_line(detail)
        self.status = status
        self.field = field
        super().__init__(f"{route}: {self.detail}" if route else self.detail)

    def __repr__(self) -> str:
        return f"RuntimeProblem({self.kind.value}, {str(self)!r})"


def _error_text(body: bytes) -> str:
    """The runtime's own explanation in an error body (`{"error": ...}`), else a short snippet."""
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return snippet(body)
    if isinstance(data, dict):
        for key in ("error", "message", "status"):
            if isinstance(data.get(key), str):
                return snippet(data[key])
    return snippet(body)


def check_status(status: int, body: bytes, route: str) -> None:
    """Raise `absent` for 404 and `bad_status` for any other non-2xx answer."""
    if status == 404:
        raise RuntimeProblem(
            ProblemKind.ABSENT, route, "route not served by this runtime (404)", status=status
        )
    if not 200 <= status < 300:
        text = _error_text(body)
        detail = f"HTTP {status}: {text}" if text else f"HTTP {status}"
        raise RuntimeProblem(ProblemKind.BAD_STATUS, route, detail, status=status)


def too_large(route: str, limit: int = MAX_BODY_BYTES) -> RuntimeProblem:
    """The problem of an answer larger than `limit`: never the runtime's (and never read whole)."""
    return RuntimeProblem(
        ProblemKind.BAD_SHAPE, route, f"answer larger than {limit} bytes", field="body"
    )


def decode_json(body: bytes, route: str) -> Any:
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError):
        shown = snippet(body)
        raise RuntimeProblem(
            ProblemKind.NOT_JSON,
            route,
            f"answer is not JSON: {shown!r}" if shown else "empty answer, not JSON",
        ) from None


# --------------------------------------------------------------------------- probes


class ApiStatus(str, Enum):
    OK = "ok"
    UNRESPONSIVE = "unresponsive"  # timeout
    DOWN = "down"  # refused
    ERROR = "error"  # bad status, not JSON, bad shape, dropped, absent


@dataclass(frozen=True)
class Probe:
    """One health probe: `api` status, latency in ms (None when there was no answer), detail."""

    api: ApiStatus
    latency_ms: float | None
    detail: str | None = None
    kind: ProblemKind | None = None

    @property
    def ok(self) -> bool:
        return self.api is ApiStatus.OK


class HealthAnswer(Protocol):
    """A well-formed `GET /api/health` answer: `shapes.Health`, or the probe's plain reading."""

    @property
    def status(self) -> str: ...
    @property
    def ok(self) -> bool: ...


def probe_result(
    health: HealthAnswer | None, problem: RuntimeProblem | None, elapsed_s: float
) -> Probe:
    """What a `GET /api/health` answer or its failure means for the status table."""
    latency = round(elapsed_s * 1000, 1)
    if problem is not None:
        if problem.kind is ProblemKind.REFUSED:
            return Probe(ApiStatus.DOWN, None, str(problem), problem.kind)
        if problem.kind is ProblemKind.TIMEOUT:
            return Probe(ApiStatus.UNRESPONSIVE, None, str(problem), problem.kind)
        return Probe(ApiStatus.ERROR, latency, str(problem), problem.kind)
    assert health is not None
    if not health.ok:
        return Probe(
            ApiStatus.ERROR,
            latency,
            f"GET /api/health: runtime reports status {snippet(health.status)!r}",
            ProblemKind.BAD_SHAPE,
        )
    return Probe(ApiStatus.OK, latency)


# --------------------------------------------------------------------------- probe summaries


@dataclass(frozen=True)
class Capabilities:
    """Which contract routes a runtime serves (a route is present unless it answers 404)."""

    health: bool
    state: bool
    tasks: bool
    messages: bool
    chat: bool

    @property
    def full(self) -> bool:
        return all((self.health, self.state, self.tasks, self.messages, self.chat))

    @property
    def routes(self) -> list[str]:
        return [
            name for name in ("health", "state", "tasks", "messages", "chat") if getattr(self, name)
        ]


def capabilities_from_statuses(statuses: dict[str, int]) -> Capabilities:
    return Capabilities(
        **{name: statuses[name] != 404 for name in ("health", "state", "tasks", "messages", "chat")}
    )


# --------------------------------------------------------------------------- routes


@dataclass(frozen=True)
class Route:
    name: str
    method: str
    path: str

    @property
    def label(self) -> str:
        return f"{self.method} {self.path}"


HEALTH = Route("health", "GET", "/api/health")
STATE = Route("state", "GET", "/api/state")
TASKS = Route("tasks", "GET", "/api/tasks")  # exact path: a query string gives 404
MESSAGES = Route("messages", "GET", "/api/messages")
CHAT = Route("chat", "POST", "/api/chat")
GET_ROUTES = (HEALTH, STATE, TASKS, MESSAGES)
# A chat request without a message: a runtime with the route answers 400 and runs nothing.
CAPABILITY_CHAT_BODY: dict[str, Any] = {}
