"""The client for one agent's NanoClaw web API (runtime contract, section 1).

`RuntimeClient` (blocking, on `httpx.Client`) and `AsyncRuntimeClient` (on `httpx.AsyncClient`)
have the same surface: one typed method per route, `probe()` for the status table, and
`probe_capabilities()` for runtimes that serve only part of the API (contract, section 4).

Everything that does not do I/O lives in plain functions shared by both clients: checking the
status code, decoding JSON, validating shapes, classifying transport failures, and parsing the
server-sent events of `POST /api/chat` incrementally. The transport-free part that the status
table's own probe shares (budgets, problems, what a health answer means) is `smbos.probe`.

Every failure is a `RuntimeProblem` with a `kind` (`ProblemKind`) and a one-line message that
never quotes more than about 100 characters of a response body.

Caveat from the contract: on internal failure the runtime's GET routes answer 200 with empty
lists, so an empty `TasksPage` or message list does not prove the runtime is healthy.
"""

from __future__ import annotations

import codecs
import json
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal, TypeVar
from urllib.parse import urlsplit

import httpx
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

from smbos.probe import (
    MAX_BODY_BYTES,
    PROBE_TIMEOUTS,
    SNIPPET_CHARS,  # noqa: F401 - part of this module's surface
    ApiStatus,
    Probe,
    ProblemKind,
    RuntimeProblem,
    Timeouts,
    _deadline,
    _over,
    _total_exceeded,
    check_status,
    decode_json,
    one_line,
    probe_result,
    snippet,
)

__all__ = [
    "CHAT_TIMEOUTS",
    "PROBE_TIMEOUTS",
    "ApiStatus",
    "AsyncChatStream",
    "AsyncRuntimeClient",
    "Capabilities",
    "ChatDecoder",
    "ChatEvent",
    "ChatStream",
    "Group",
    "Health",
    "Message",
    "Probe",
    "ProblemKind",
    "RunLog",
    "RuntimeClient",
    "RuntimeProblem",
    "SSEFrame",
    "SSEParser",
    "State",
    "Task",
    "TaskStats",
    "TasksPage",
    "Timeouts",
    "capabilities_from_statuses",
    "chat_request_body",
    "check_chat_reply",
    "check_status",
    "classify_transport_error",
    "decode_json",
    "event_from_frame",
    "normalize_base_url",
    "parse_health",
    "parse_messages",
    "parse_state",
    "parse_tasks",
    "probe_result",
    "validate_shape",
]

MAX_SSE_LINE_CHARS = 16 * 1024 * 1024
EVENT_STREAM = "text/event-stream"


# --------------------------------------------------------------------------- budgets


CHAT_TIMEOUTS = Timeouts(connect=2.0, read=600.0, total=None)


def _as_timeouts(value: Timeouts | float, base: Timeouts) -> Timeouts:
    """A `Timeouts`, or a number: that read budget, the default connect budget, no total."""
    if isinstance(value, Timeouts):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return Timeouts(connect=base.connect, read=float(value), total=None)
    raise TypeError(f"expected Timeouts or seconds, got {type(value).__name__}")


# --------------------------------------------------------------------------- problems


def classify_transport_error(exc: Exception, route: str, *, streaming: bool = False,
                             read_budget: float | None = None) -> RuntimeProblem:
    """The `RuntimeProblem` for an httpx (or socket) failure on `route`."""
    cause = one_line(str(exc)) or type(exc).__name__
    if isinstance(exc, httpx.ConnectTimeout):
        return RuntimeProblem(ProblemKind.TIMEOUT, route, f"connect timed out ({cause})")
    if isinstance(exc, httpx.TimeoutException):
        budget = f" after {read_budget:g} s" if read_budget else ""
        what = "no event" if streaming else "no answer"
        return RuntimeProblem(ProblemKind.TIMEOUT, route, f"{what}{budget} (read timed out)")
    if isinstance(exc, httpx.ConnectError) or isinstance(exc, ConnectionRefusedError):
        lowered = cause.lower()
        detail = "connection refused" if "refused" in lowered or not cause else \
            f"cannot connect ({snippet(cause)})"
        return RuntimeProblem(ProblemKind.REFUSED, route, detail)
    if isinstance(exc, (httpx.ReadError, httpx.WriteError, httpx.RemoteProtocolError,
                        httpx.CloseError, ConnectionError)):
        where = "mid-stream" if streaming else "before the answer was complete"
        return RuntimeProblem(ProblemKind.STREAM_ERROR, route,
                              f"connection dropped {where} ({snippet(cause)})")
    if isinstance(exc, httpx.DecodingError):
        return RuntimeProblem(ProblemKind.STREAM_ERROR, route, f"undecodable body ({snippet(cause)})")
    return RuntimeProblem(ProblemKind.STREAM_ERROR, route,
                          f"{type(exc).__name__}: {snippet(cause)}")


# --------------------------------------------------------------------------- shapes


def _id_text(value: Any) -> Any:
    """SQLite ids may come as numbers; the contract's ids are compared as text."""
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return value


IdText = Annotated[str, BeforeValidator(_id_text)]


class _Shape(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True)


class Health(_Shape):
    status: str

    @property
    def ok(self) -> bool:
        return self.status == "ok"


class Group(_Shape):
    jid: str
    name: str
    folder: str
    trigger_pattern: str | None
    added_at: str


class TaskStats(_Shape):
    total: int
    active: int
    paused: int
    completed: int


class State(_Shape):
    db_exists: bool = Field(alias="dbExists")
    sessions: int
    groups: list[Group]
    task_stats: TaskStats = Field(alias="taskStats")


class Task(_Shape):
    id: IdText
    group_folder: str
    chat_jid: str
    prompt: str
    schedule_type: Literal["cron", "interval", "once"]
    schedule_value: str
    next_run: str | None
    last_run: str | None
    last_result: str | None
    status: Literal["active", "paused", "completed"]
    created_at: str
    context_mode: Literal["group", "isolated"]


class RunLog(_Shape):
    id: int
    task_id: IdText
    run_at: str
    duration_ms: int
    status: Literal["success", "error"]
    result: str | None
    error: str | None


class TasksPage(_Shape):
    tasks: list[Task]
    run_logs: list[RunLog] = Field(alias="runLogs")


class Message(_Shape):
    id: IdText
    sender: str
    sender_name: str | None
    content: str
    timestamp: str
    is_from_me: bool
    is_bot_message: bool


class _MessagesPage(_Shape):
    messages: list[Message]


M = TypeVar("M", bound=BaseModel)


def _loc_text(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out or "(top level)"


def validate_shape(model: type[M], data: Any, route: str) -> M:
    """`data` as `model`, or `bad_shape` naming the first wrong field."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        errors = exc.errors(include_url=False, include_input=False)
        first = errors[0]
        where = _loc_text(tuple(first.get("loc", ())))
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        raise RuntimeProblem(ProblemKind.BAD_SHAPE, route,
                             f"bad shape at {where}: {snippet(first.get('msg', 'invalid'))}{more}",
                             field=where) from None


def parse_health(data: Any, route: str = "GET /api/health") -> Health:
    return validate_shape(Health, data, route)


def parse_state(data: Any, route: str = "GET /api/state") -> State:
    return validate_shape(State, data, route)


def parse_tasks(data: Any, route: str = "GET /api/tasks") -> TasksPage:
    return validate_shape(TasksPage, data, route)


def parse_messages(data: Any, route: str = "GET /api/messages") -> list[Message]:
    return validate_shape(_MessagesPage, data, route).messages


# --------------------------------------------------------------------------- server-sent events


@dataclass(frozen=True)
class SSEFrame:
    event: str
    data: str
    id: str | None = None


class SSEParser:
    """Incremental parser of a `text/event-stream` byte stream.

    Feed it chunks as they arrive, split anywhere (inside a UTF-8 character, between `\\r` and
    `\\n`); each call returns the frames completed so far. Lines end with `\\r\\n`, `\\n` or
    `\\r`; comment lines (`:`) are skipped; several `data:` lines join with `\\n`. A frame is
    dispatched at a blank line when it had an `event` or `data` field; an event name defaults to
    `message`, as in the SSE specification.
    """

    def __init__(self) -> None:
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._pending = ""         # an unfinished line
        self._after_cr = False     # the last line ended at `\r`: a leading `\n` belongs to it
        self._started = False
        self._event: str | None = None
        self._data: list[str] = []
        self._seen_field = False
        self._last_id: str | None = None

    def feed(self, chunk: bytes) -> list[SSEFrame]:
        return self._take(self._decoder.decode(chunk))

    def close(self) -> list[SSEFrame]:
        """Flush at end of stream. An unterminated last frame is dropped, per the specification."""
        frames = self._take(self._decoder.decode(b"", final=True))
        if self._pending:
            self._line(self._pending)
            self._pending = ""
        return frames

    def _take(self, text: str) -> list[SSEFrame]:
        if not text:
            return []
        if not self._started:
            self._started = True
            if text.startswith("\ufeff"):
                text = text[1:]
        if self._after_cr and text.startswith("\n"):
            text = text[1:]
        self._after_cr = False
        frames: list[SSEFrame] = []
        buf = self._pending + text
        start = 0
        size = len(buf)
        while start < size:
            cr = buf.find("\r", start)
            lf = buf.find("\n", start)
            if cr < 0 and lf < 0:
                break
            end = lf if cr < 0 else cr if lf < 0 else min(cr, lf)
            frame = self._line(buf[start:end])
            if frame is not None:
                frames.append(frame)
            if buf[end] == "\r":
                if end + 1 < size:
                    start = end + 2 if buf[end + 1] == "\n" else end + 1
                else:
                    self._after_cr = True
                    start = end + 1
            else:
                start = end + 1
        self._pending = buf[start:]
        if len(self._pending) > MAX_SSE_LINE_CHARS:
            raise RuntimeProblem(ProblemKind.BAD_SHAPE, "event stream",
                                 f"a line longer than {MAX_SSE_LINE_CHARS} characters",
                                 field="line")
        return frames

    def _line(self, line: str) -> SSEFrame | None:
        if line == "":
            if not self._seen_field:
                return None
            frame = SSEFrame(self._event or "message", "\n".join(self._data), self._last_id)
            self._event, self._data, self._seen_field = None, [], False
            return frame
        if line.startswith(":"):
            return None
        name, colon, value = line.partition(":")
        if colon and value.startswith(" "):
            value = value[1:]
        if name == "event":
            self._event = value
            self._seen_field = True
        elif name == "data":
            self._data.append(value)
            self._seen_field = True
        elif name == "id" and "\0" not in value:
            self._last_id = value
        return None


ChatEventType = Literal["typing", "message", "error", "done"]
CHAT_EVENT_TYPES = ("typing", "message", "error", "done")


@dataclass(frozen=True)
class ChatEvent:
    """One event of a chat turn: `typing`, then `message`/`error` (with `text`), last `done`."""

    type: ChatEventType
    text: str | None = None
    received_at: float = field(default=0.0, compare=False, repr=False)  # time.monotonic()


def event_from_frame(frame: SSEFrame, route: str = "POST /api/chat") -> ChatEvent | None:
    """The chat event a frame carries; None for an event type the contract does not name."""
    if frame.event not in CHAT_EVENT_TYPES:
        return None
    now = time.monotonic()
    if frame.data.strip() == "":
        data: Any = {}
    else:
        try:
            data = json.loads(frame.data)
        except ValueError:
            raise RuntimeProblem(ProblemKind.NOT_JSON, route,
                                 f"event {frame.event}: data is not JSON: {snippet(frame.data)!r}"
                                 ) from None
    if frame.event in ("typing", "done"):
        return ChatEvent(frame.event, None, now)  # type: ignore[arg-type]
    if not isinstance(data, dict) or not isinstance(data.get("text"), str):
        raise RuntimeProblem(ProblemKind.BAD_SHAPE, route,
                             f"event {frame.event}: expected data {{\"text\": string}}, got "
                             f"{snippet(frame.data)!r}", field=f"{frame.event}.text")
    return ChatEvent(frame.event, data["text"], now)  # type: ignore[arg-type]


class ChatDecoder:
    """Bytes of a chat reply in, `ChatEvent`s out; `finish()` raises when `done` never came."""

    def __init__(self, route: str = "POST /api/chat") -> None:
        self.route = route
        self.parser = SSEParser()
        self.done = False

    def feed(self, chunk: bytes) -> list[ChatEvent]:
        return self._events(self.parser.feed(chunk))

    def finish(self) -> list[ChatEvent]:
        events = self._events(self.parser.close())
        if not self.done:
            raise RuntimeProblem(ProblemKind.STREAM_ERROR, self.route,
                                 "stream ended before the done event")
        return events

    def _events(self, frames: list[SSEFrame]) -> list[ChatEvent]:
        out: list[ChatEvent] = []
        for frame in frames:
            if self.done:
                break
            event = event_from_frame(frame, self.route)
            if event is not None:
                out.append(event)
                self.done = event.type == "done"
        return out


def chat_request_body(message: str) -> dict[str, str]:
    if not isinstance(message, str):
        raise TypeError(f"message must be a string, got {type(message).__name__}")
    return {"message": message}


def check_chat_reply(status: int, content_type: str, body: bytes, route: str) -> None:
    """Raise for a chat reply that is not an event stream (`body`: the first bytes, if read)."""
    check_status(status, body, route)
    if content_type.split(";")[0].strip().lower() != EVENT_STREAM:
        raise RuntimeProblem(ProblemKind.BAD_SHAPE, route,
                             f"expected {EVENT_STREAM}, got {snippet(content_type) or 'no type'}",
                             field="content-type")


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


# --------------------------------------------------------------------------- shared client base


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


def normalize_base_url(base_url: str) -> str:
    """`http(s)://host[:port][/prefix]` without a trailing slash; ValueError otherwise."""
    if not isinstance(base_url, str):
        raise TypeError("base_url must be a string")
    parts = urlsplit(base_url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"base URL must be http(s)://host[:port], got {snippet(base_url)!r}")
    if parts.query or parts.fragment or parts.username or parts.password:
        raise ValueError(f"base URL must have no credentials, query or fragment: "
                         f"{snippet(base_url)!r}")
    try:
        _ = parts.port  # urllib parses the port lazily: this is the check
    except ValueError:
        raise ValueError(f"base URL has a bad port: {snippet(base_url)!r}") from None
    return f"{parts.scheme}://{parts.netloc}{parts.path.rstrip('/')}"


def _messages_params(limit: int) -> dict[str, int]:
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        raise ValueError(f"limit must be a positive integer, got {limit!r}")
    return {"limit": limit}


def _too_large(route: str) -> RuntimeProblem:
    return RuntimeProblem(ProblemKind.BAD_SHAPE, route,
                          f"answer larger than {MAX_BODY_BYTES} bytes", field="body")


class _ClientBase:
    def __init__(self, base_url: str, probe_timeout: Timeouts | float,
                 chat_timeout: Timeouts | float) -> None:
        self.base_url = normalize_base_url(base_url)
        self.probe_timeout = _as_timeouts(probe_timeout, PROBE_TIMEOUTS)
        self.chat_timeout = _as_timeouts(chat_timeout, CHAT_TIMEOUTS)

    def _client_options(self) -> dict[str, Any]:
        # trust_env=False: no proxy from the environment, so traffic only goes to base_url;
        # no redirects followed, for the same reason (a 3xx is a bad status).
        return {"base_url": self.base_url, "timeout": self.probe_timeout.to_httpx(),
                "follow_redirects": False, "trust_env": False,
                "headers": {"User-Agent": "smbos-runtime-client"}}

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.base_url!r})"


# --------------------------------------------------------------------------- blocking client


class ChatStream(Iterator[ChatEvent]):
    """The events of one chat turn as they arrive. The request is sent on the first `next()`.
    `close()` (or leaving a `with` block, or dropping the iterator) closes the connection."""

    def __init__(self, events: Iterator[ChatEvent]) -> None:
        self._events = events

    def __iter__(self) -> ChatStream:
        return self

    def __next__(self) -> ChatEvent:
        return next(self._events)

    def close(self) -> None:
        self._events.close()  # type: ignore[attr-defined]

    def __enter__(self) -> ChatStream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class RuntimeClient(_ClientBase):
    """Blocking client of one runtime. Use as a context manager, or call `close()`."""

    def __init__(self, base_url: str, *, probe_timeout: Timeouts | float = PROBE_TIMEOUTS,
                 chat_timeout: Timeouts | float = CHAT_TIMEOUTS,
                 transport: httpx.BaseTransport | None = None) -> None:
        super().__init__(base_url, probe_timeout, chat_timeout)
        self._http = httpx.Client(transport=transport, **self._client_options())

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> RuntimeClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---- I/O

    def _fetch(self, route: _Route, params: dict[str, Any] | None = None) -> Any:
        budget = self.probe_timeout
        deadline = _deadline(budget)
        try:
            with self._http.stream(route.method, route.path, params=params,
                                   headers={"Accept": "application/json"},
                                   timeout=budget.to_httpx()) as response:
                body = bytearray()
                for chunk in response.iter_bytes():
                    body += chunk
                    if len(body) > MAX_BODY_BYTES:
                        raise _too_large(route.label)
                    if _over(deadline):
                        raise _total_exceeded(route.label, budget)
                status = response.status_code
        except httpx.HTTPError as exc:
            raise classify_transport_error(exc, route.label, read_budget=budget.read) from exc
        check_status(status, bytes(body), route.label)
        return decode_json(bytes(body), route.label)

    def _status(self, route: _Route, json_body: Any = None) -> int:
        budget = self.probe_timeout
        try:
            with self._http.stream(route.method, route.path, json=json_body,
                                   timeout=budget.to_httpx()) as response:
                return response.status_code
        except httpx.HTTPError as exc:
            raise classify_transport_error(exc, route.label, read_budget=budget.read) from exc

    # ---- routes

    def health(self) -> Health:
        return parse_health(self._fetch(HEALTH), HEALTH.label)

    def state(self) -> State:
        return parse_state(self._fetch(STATE), STATE.label)

    def tasks(self) -> TasksPage:
        return parse_tasks(self._fetch(TASKS), TASKS.label)

    def messages(self, limit: int = 200) -> list[Message]:
        return parse_messages(self._fetch(MESSAGES, _messages_params(limit)), MESSAGES.label)

    def chat(self, message: str) -> ChatStream:
        return ChatStream(self._chat_events(chat_request_body(message)))

    def _chat_events(self, body: dict[str, str]) -> Iterator[ChatEvent]:
        budget = self.chat_timeout
        deadline = _deadline(budget)
        route = CHAT.label
        try:
            with self._http.stream("POST", CHAT.path, json=body,
                                   headers={"Accept": EVENT_STREAM, "Cache-Control": "no-cache"},
                                   timeout=budget.to_httpx()) as response:
                head = b""
                if not response.is_success:  # read the runtime's `{"error": ...}`
                    for chunk in response.iter_bytes():
                        head += chunk
                        if len(head) > 4096:
                            break
                check_chat_reply(response.status_code, response.headers.get("content-type", ""),
                                 head, route)
                decoder = ChatDecoder(route)
                for chunk in response.iter_bytes():
                    for event in decoder.feed(chunk):
                        yield event
                        if event.type == "done":
                            return
                    if _over(deadline):
                        raise _total_exceeded(route, budget)
                for event in decoder.finish():
                    yield event
        except httpx.HTTPError as exc:
            raise classify_transport_error(exc, route, streaming=True,
                                           read_budget=budget.read) from exc

    # ---- summaries

    def probe(self) -> Probe:
        started = time.perf_counter()
        try:
            health = self.health()
        except RuntimeProblem as problem:
            return probe_result(None, problem, time.perf_counter() - started)
        return probe_result(health, None, time.perf_counter() - started)

    def probe_capabilities(self) -> Capabilities:
        """Which routes exist. Raises `RuntimeProblem` when the runtime cannot be reached."""
        statuses = {route.name: self._status(route) for route in GET_ROUTES}
        statuses[CHAT.name] = self._status(CHAT, CAPABILITY_CHAT_BODY)
        return capabilities_from_statuses(statuses)


# --------------------------------------------------------------------------- asyncio client


class AsyncChatStream(AsyncIterator[ChatEvent]):
    """The events of one chat turn as they arrive. Prefer `async with client.chat(m) as events:`
    so that leaving early closes the connection at once (`aclose()` does the same)."""

    def __init__(self, events: Any) -> None:
        self._events = events

    def __aiter__(self) -> AsyncChatStream:
        return self

    async def __anext__(self) -> ChatEvent:
        return await self._events.__anext__()

    async def aclose(self) -> None:
        await self._events.aclose()

    async def __aenter__(self) -> AsyncChatStream:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


class AsyncRuntimeClient(_ClientBase):
    """asyncio client of one runtime, same surface as `RuntimeClient` with `await`.

    Its I/O methods repeat `RuntimeClient`'s line for line with `async`/`await` (the usual price
    of a blocking and an asyncio client on httpx): everything that decides anything, from status
    checks to SSE parsing, is in the shared functions above, so only the reading loops repeat."""

    def __init__(self, base_url: str, *, probe_timeout: Timeouts | float = PROBE_TIMEOUTS,
                 chat_timeout: Timeouts | float = CHAT_TIMEOUTS,
                 transport: httpx.AsyncBaseTransport | None = None) -> None:
        super().__init__(base_url, probe_timeout, chat_timeout)
        self._http = httpx.AsyncClient(transport=transport, **self._client_options())

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> AsyncRuntimeClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    # ---- I/O

    async def _fetch(self, route: _Route, params: dict[str, Any] | None = None) -> Any:
        budget = self.probe_timeout
        deadline = _deadline(budget)
        try:
            async with self._http.stream(route.method, route.path, params=params,
                                         headers={"Accept": "application/json"},
                                         timeout=budget.to_httpx()) as response:
                body = bytearray()
                async for chunk in response.aiter_bytes():
                    body += chunk
                    if len(body) > MAX_BODY_BYTES:
                        raise _too_large(route.label)
                    if _over(deadline):
                        raise _total_exceeded(route.label, budget)
                status = response.status_code
        except httpx.HTTPError as exc:
            raise classify_transport_error(exc, route.label, read_budget=budget.read) from exc
        check_status(status, bytes(body), route.label)
        return decode_json(bytes(body), route.label)

    async def _status(self, route: _Route, json_body: Any = None) -> int:
        budget = self.probe_timeout
        try:
            async with self._http.stream(route.method, route.path, json=json_body,
                                         timeout=budget.to_httpx()) as response:
                return response.status_code
        except httpx.HTTPError as exc:
            raise classify_transport_error(exc, route.label, read_budget=budget.read) from exc

    # ---- routes

    async def health(self) -> Health:
        return parse_health(await self._fetch(HEALTH), HEALTH.label)

    async def state(self) -> State:
        return parse_state(await self._fetch(STATE), STATE.label)

    async def tasks(self) -> TasksPage:
        return parse_tasks(await self._fetch(TASKS), TASKS.label)

    async def messages(self, limit: int = 200) -> list[Message]:
        params = _messages_params(limit)
        return parse_messages(await self._fetch(MESSAGES, params), MESSAGES.label)

    def chat(self, message: str) -> AsyncChatStream:
        return AsyncChatStream(self._chat_events(chat_request_body(message)))

    async def _chat_events(self, body: dict[str, str]) -> Any:
        budget = self.chat_timeout
        deadline = _deadline(budget)
        route = CHAT.label
        try:
            async with self._http.stream("POST", CHAT.path, json=body,
                                         headers={"Accept": EVENT_STREAM,
                                                  "Cache-Control": "no-cache"},
                                         timeout=budget.to_httpx()) as response:
                head = b""
                if not response.is_success:  # read the runtime's `{"error": ...}`
                    async for chunk in response.aiter_bytes():
                        head += chunk
                        if len(head) > 4096:
                            break
                check_chat_reply(response.status_code, response.headers.get("content-type", ""),
                                 head, route)
                decoder = ChatDecoder(route)
                async for chunk in response.aiter_bytes():
                    for event in decoder.feed(chunk):
                        yield event
                        if event.type == "done":
                            return
                    if _over(deadline):
                        raise _total_exceeded(route, budget)
                for event in decoder.finish():
                    yield event
        except httpx.HTTPError as exc:
            raise classify_transport_error(exc, route, streaming=True,
                                           read_budget=budget.read) from exc

    # ---- summaries

    async def probe(self) -> Probe:
        started = time.perf_counter()
        try:
            health = await self.health()
        except RuntimeProblem as problem:
            return probe_result(None, problem, time.perf_counter() - started)
        return probe_result(health, None, time.perf_counter() - started)

    async def probe_capabilities(self) -> Capabilities:
        """Which routes exist. Raises `RuntimeProblem` when the runtime cannot be reached."""
        statuses = {route.name: await self._status(route) for route in GET_ROUTES}
        statuses[CHAT.name] = await self._status(CHAT, CAPABILITY_CHAT_BODY)
        return capabilities_from_statuses(statuses)
