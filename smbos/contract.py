"""The runtime contract without a transport, and the health probe of `smbos status`.

The contract itself is docs/runtime-api.md (section 1: the routes; section 4: runtimes that serve
part of them).

What every client of an agent's NanoClaw API shares: the routes, time budgets, the classified
`RuntimeProblem`, status and JSON checks, what a health answer means (`Probe`) and which routes a
runtime serves (`Capabilities`). `smbos.runtime` builds its httpx clients on these (and
re-exports them); `smbos.shapes` and `smbos.chatstream` read the answers.

`probe_many` is the status table's probe: one `GET /api/health` per agent, concurrently, on the
standard library's `http.client`, so that `smbos status` pays neither for httpx nor for pydantic
at start-up (together more than `docker compose ps` takes in all). A well-formed answer is read
here; any other is handed to `smbos.shapes.parse_health`, so a bad shape is named exactly as
the runtime client names it.
"""

from __future__ import annotations

import http.client
import json
import threading
import time
from dataclasses import dataclass
from enum import Enum
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import httpx

    from smbos.shapes import Health


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

        return httpx.Timeout(connect=self.connect, read=self.read, write=max(self.read, 1.0),
                             pool=self.connect)


PROBE_TIMEOUTS = Timeouts(connect=1.0, read=2.0, total=5.0)
CHAT_TIMEOUTS = Timeouts(connect=2.0, read=600.0, total=None)


def _as_timeouts(value: Timeouts | float, base: Timeouts) -> Timeouts:
    """A `Timeouts`, or a number: that read budget, the default connect budget, no total."""
    if isinstance(value, Timeouts):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return Timeouts(connect=base.connect, read=float(value), total=None)
    raise TypeError(f"expected Timeouts or seconds, got {type(value).__name__}")


def _over(deadline: float | None) -> bool:
    return deadline is not None and time.monotonic() > deadline


def _deadline(budget: Timeouts) -> float | None:
    return None if budget.total is None else time.monotonic() + budget.total


def _total_exceeded(route: str, budget: Timeouts) -> RuntimeProblem:
    return RuntimeProblem(ProblemKind.TIMEOUT, route,
                          f"answer not complete within {budget.total:g} s")


# --------------------------------------------------------------------------- problems


class ProblemKind(str, Enum):
    REFUSED = "refused"          # connection refused: nothing listens there
    TIMEOUT = "timeout"          # connect or read budget exhausted
    BAD_STATUS = "bad_status"    # a non-2xx answer (status code on the problem)
    NOT_JSON = "not_json"        # a body that is not JSON
    BAD_SHAPE = "bad_shape"      # JSON, but not the shape the contract says (field on the problem)
    ABSENT = "absent"            # 404 on a contract route: this runtime lacks the capability
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

    def __init__(self, kind: ProblemKind, route: str, detail: str, *, status: int | None = None,
                 field: str | None = None):
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
        raise RuntimeProblem(ProblemKind.ABSENT, route, "route not served by this runtime (404)",
                             status=404)
    if not 200 <= status < 300:
        text = _error_text(body)
        detail = f"HTTP {status}: {text}" if text else f"HTTP {status}"
        raise RuntimeProblem(ProblemKind.BAD_STATUS, route, detail, status=status)


def decode_json(body: bytes, route: str) -> Any:
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError):
        shown = snippet(body)
        raise RuntimeProblem(ProblemKind.NOT_JSON, route,
                             f"answer is not JSON: {shown!r}" if shown else "empty answer, not JSON"
                             ) from None


# --------------------------------------------------------------------------- probes


class ApiStatus(str, Enum):
    OK = "ok"
    UNRESPONSIVE = "unresponsive"  # timeout
    DOWN = "down"                  # refused
    ERROR = "error"                # bad status, not JSON, bad shape, dropped, absent


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


def probe_result(health: Health | None, problem: RuntimeProblem | None, elapsed_s: float
                 ) -> Probe:
    """What a `GET /api/health` answer (`health`: anything with `.ok` and `.status`) or its
    failure means for the status table."""
    latency = round(elapsed_s * 1000, 1)
    if problem is not None:
        if problem.kind is ProblemKind.REFUSED:
            return Probe(ApiStatus.DOWN, None, str(problem), problem.kind)
        if problem.kind is ProblemKind.TIMEOUT:
            return Probe(ApiStatus.UNRESPONSIVE, None, str(problem), problem.kind)
        return Probe(ApiStatus.ERROR, latency, str(problem), problem.kind)
    assert health is not None
    if not health.ok:
        return Probe(ApiStatus.ERROR, latency,
                     f"GET /api/health: runtime reports status {snippet(health.status)!r}",
                     ProblemKind.BAD_SHAPE)
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
        return [name for name in ("health", "state", "tasks", "messages", "chat")
                if getattr(self, name)]


def capabilities_from_statuses(statuses: dict[str, int]) -> Capabilities:
    return Capabilities(**{name: statuses[name] != 404
                           for name in ("health", "state", "tasks", "messages", "chat")})


# --------------------------------------------------------------------------- routes


@dataclass(frozen=True)
class _Route:
    name: str
    method: str
    path: str

    @property
    def label(self) -> str:
        return f"{self.method} {self.path}"


HEALTH = _Route("health", "GET", "/api/health")
STATE = _Route("state", "GET", "/api/state")
TASKS = _Route("tasks", "GET", "/api/tasks")  # exact path: a query string gives 404
MESSAGES = _Route("messages", "GET", "/api/messages")
CHAT = _Route("chat", "POST", "/api/chat")
GET_ROUTES = (HEALTH, STATE, TASKS, MESSAGES)
# A chat request without a message: a runtime with the route answers 400 and runs nothing.
CAPABILITY_CHAT_BODY: dict[str, Any] = {}


HEALTH_ROUTE = HEALTH.label


@dataclass(frozen=True)
class _Status:
    """A well-formed health answer (`Health` without pydantic)."""

    status: str

    @property
    def ok(self) -> bool:
        return self.status == "ok"


def _health(data: Any) -> _Status | Health:
    if isinstance(data, dict) and isinstance(data.get("status"), str):
        return _Status(data["status"])
    from smbos.shapes import parse_health  # raises the exact `bad_shape` problem

    return parse_health(data, HEALTH_ROUTE)


def _transport_problem(exc: BaseException, connected: bool, budget: Timeouts) -> RuntimeProblem:
    cause = one_line(str(exc)) or type(exc).__name__
    if isinstance(exc, TimeoutError):  # socket.timeout is TimeoutError
        if not connected:
            return RuntimeProblem(ProblemKind.TIMEOUT, HEALTH_ROUTE, f"connect timed out ({cause})")
        return RuntimeProblem(ProblemKind.TIMEOUT, HEALTH_ROUTE,
                              f"no answer after {budget.read:g} s (read timed out)")
    if not connected:
        detail = "connection refused" if isinstance(exc, ConnectionRefusedError) else \
            f"cannot connect ({snippet(cause)})"
        return RuntimeProblem(ProblemKind.REFUSED, HEALTH_ROUTE, detail)
    return RuntimeProblem(ProblemKind.STREAM_ERROR, HEALTH_ROUTE,
                          f"connection dropped before the answer was complete ({snippet(cause)})")


def probe_one(host: str, port: int, budget: Timeouts = PROBE_TIMEOUTS) -> Probe:
    """`GET /api/health` of the runtime at host:port, as a `Probe` (never raises)."""
    started = time.perf_counter()
    deadline = _deadline(budget)
    connection = http.client.HTTPConnection(host, port, timeout=budget.connect)
    connected = False
    try:
        connection.connect()
        connected = True
        connection.sock.settimeout(budget.read)
        connection.request("GET", "/api/health", headers={
            "Accept": "application/json", "User-Agent": "smbos-runtime-client"})
        reply = connection.getresponse()
        body = bytearray()
        while chunk := reply.read1(65536):
            body += chunk
            if len(body) > MAX_BODY_BYTES:
                raise RuntimeProblem(ProblemKind.BAD_SHAPE, HEALTH_ROUTE,
                                     f"answer larger than {MAX_BODY_BYTES} bytes", field="body")
            if _over(deadline):
                raise _total_exceeded(HEALTH_ROUTE, budget)
        check_status(reply.status, bytes(body), HEALTH_ROUTE)
        health = _health(decode_json(bytes(body), HEALTH_ROUTE))
    except RuntimeProblem as problem:
        return probe_result(None, problem, time.perf_counter() - started)
    except (OSError, http.client.HTTPException) as exc:
        problem = _transport_problem(exc, connected, budget)
        return probe_result(None, problem, time.perf_counter() - started)
    finally:
        connection.close()
    return probe_result(health, None, time.perf_counter() - started)


class Probes:
    """Health probes of several addresses, each on its own thread, started at once; `result`
    waits for that one address only (so a caller can ask the engine meanwhile)."""

    def __init__(self, addresses: list[tuple[str, int]], budget: Timeouts = PROBE_TIMEOUTS):
        self.budget = budget
        self._results: dict[tuple[str, int], Probe] = {}
        self._threads: dict[tuple[str, int], threading.Thread] = {}
        self.start(addresses)

    def start(self, addresses: list[tuple[str, int]]) -> None:
        """Start probing the addresses not probed yet."""
        for address in dict.fromkeys(addresses):
            if address not in self._threads:
                thread = threading.Thread(target=self._run, args=(address,), daemon=True,
                                          name=f"smbos-probe-{address[1]}")
                self._threads[address] = thread
                thread.start()

    def _run(self, address: tuple[str, int]) -> None:
        self._results[address] = probe_one(*address, self.budget)

    def result(self, address: tuple[str, int]) -> Probe:
        self.start([address])
        self._threads[address].join()
        return self._results[address]


def probe_many(addresses: list[tuple[str, int]], budget: Timeouts = PROBE_TIMEOUTS
               ) -> list[Probe]:
    """The probes of `addresses`, run concurrently: as long as the slowest one."""
    probes = Probes(addresses, budget)
    return [probes.result(address) for address in addresses]
