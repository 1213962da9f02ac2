"""The client for one agent's NanoClaw web API (docs/runtime-api.md, section 1).

`RuntimeClient` (blocking, on `httpx.Client`) and `AsyncRuntimeClient` (on `httpx.AsyncClient`)
have the same surface: one typed method per route, `probe()` for the status table, and
`probe_capabilities()` for runtimes that serve only part of the API (docs/runtime-api.md,
section 4).

Everything that does not do I/O lives in plain functions shared by both clients: checking the status
code, decoding JSON, validating shapes, classifying transport failures, and parsing the server-sent
events of `POST /api/chat` incrementally. The transport-free part that the status table's own probe
shares (budgets, problems, what a health answer means) is `smbos.nanoclaw.contract`.

Every failure is a `RuntimeProblem` with a `kind` (`ProblemKind`) and a one-line message that
never quotes more than about 100 characters of a response body.

Caveat from the contract (docs/runtime-api.md, section 1.1): on internal failure the runtime's
GET routes answer 200 with empty lists, so an empty `TasksPage` or message list does not prove
the runtime is healthy.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Generator, Iterator
from typing import Any

import httpx

from smbos.nanoclaw._client import (
    ClientBase,
    classify_transport_error,
    messages_params,
    normalize_base_url,
)
from smbos.nanoclaw._shapes import (
    Group,
    Health,
    Message,
    RunLog,
    State,
    Task,
    TasksPage,
    TaskStats,
    parse_health,
    parse_messages,
    parse_state,
    parse_tasks,
    validate_shape,
)
from smbos.nanoclaw.chatstream import (
    EVENT_STREAM,
    MAX_SSE_LINE_CHARS,  # noqa: F401 - part of this module's surface
    ChatDecoder,
    ChatEvent,
    SSEFrame,
    SSEParser,
    chat_request_body,
    check_chat_reply,
    event_from_frame,
)
from smbos.nanoclaw.contract import (
    CAPABILITY_CHAT_BODY,
    CHAT,
    CHAT_TIMEOUTS,
    GET_ROUTES,
    HEALTH,
    MAX_BODY_BYTES,
    MESSAGES,
    PROBE_TIMEOUTS,
    SNIPPET_CHARS,  # noqa: F401 - part of this module's surface
    STATE,
    TASKS,
    ApiStatus,
    Capabilities,
    Probe,
    ProblemKind,
    Route,
    RuntimeProblem,
    Timeouts,
    capabilities_from_statuses,
    check_status,
    deadline_of,
    decode_json,
    over,
    probe_result,
    too_large,
    total_exceeded,
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


# --------------------------------------------------------------------------- blocking client


class ChatStream(Iterator[ChatEvent]):
    """The events of one chat turn as they arrive. The request is sent on the first `next()`.
    `close()` (or leaving a `with` block, or dropping the iterator) closes the connection."""

    def __init__(self, events: Generator[ChatEvent, None, None]) -> None:
        self._events = events

    def __iter__(self) -> ChatStream:
        return self

    def __next__(self) -> ChatEvent:
        return next(self._events)

    def close(self) -> None:
        self._events.close()

    def __enter__(self) -> ChatStream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class RuntimeClient(ClientBase):
    """Blocking client of one runtime. Use as a context manager, or call `close()`."""

    def __init__(
        self,
        base_url: str,
        *,
        probe_timeout: Timeouts | float = PROBE_TIMEOUTS,
        chat_timeout: Timeouts | float = CHAT_TIMEOUTS,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        super().__init__(base_url, probe_timeout, chat_timeout)
        self._http = httpx.Client(transport=transport, **self._client_options())

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> RuntimeClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---- I/O

    def _fetch(self, route: Route, params: dict[str, Any] | None = None) -> Any:
        budget = self.probe_timeout
        deadline = deadline_of(budget)
        try:
            with self._http.stream(
                route.method,
                route.path,
                params=params,
                headers={"Accept": "application/json"},
                timeout=budget.to_httpx(),
            ) as response:
                body = bytearray()
                for chunk in response.iter_bytes():
                    body += chunk
                    if len(body) > MAX_BODY_BYTES:
                        raise too_large(route.label)
                    if over(deadline):
                        raise total_exceeded(route.label, budget)
                status = response.status_code
        except httpx.HTTPError as exc:
            raise classify_transport_error(exc, route.label, read_budget=budget.read) from exc
        check_status(status, bytes(body), route.label)
        return decode_json(bytes(body), route.label)

    def _status(self, route: Route, json_body: Any = None) -> int:
        budget = self.probe_timeout
        try:
            with self._http.stream(
                route.method, route.path, json=json_body, timeout=budget.to_httpx()
            ) as response:
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
        return parse_messages(self._fetch(MESSAGES, messages_params(limit)), MESSAGES.label)

    def chat(self, message: str) -> ChatStream:
        return ChatStream(self._chat_events(chat_request_body(message)))

    def _chat_events(self, body: dict[str, str]) -> Generator[ChatEvent, None, None]:
        budget = self.chat_timeout
        deadline = deadline_of(budget)
        route = CHAT.label
        try:
            with self._http.stream(
                "POST",
                CHAT.path,
                json=body,
                headers={"Accept": EVENT_STREAM, "Cache-Control": "no-cache"},
                timeout=budget.to_httpx(),
            ) as response:
                head = b""
                if not response.is_success:  # read the runtime's `{"error": ...}`
                    for chunk in response.iter_bytes():
                        head += chunk
                        if len(head) > 4096:
                            break
                check_chat_reply(
                    response.status_code, response.headers.get("content-type", ""), head, route
                )
                decoder = ChatDecoder(route)
                for chunk in response.iter_bytes():
                    for event in decoder.feed(chunk):
                        yield event
                        if event.type == "done":
                            return
                    if over(deadline):
                        raise total_exceeded(route, budget)
                for event in decoder.finish():
                    yield event
        except httpx.HTTPError as exc:
            raise classify_transport_error(
                exc, route, streaming=True, read_budget=budget.read
            ) from exc

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


class AsyncRuntimeClient(ClientBase):
    """asyncio client of one runtime, same surface as `RuntimeClient` with `await`.

    Its I/O methods repeat `RuntimeClient`'s line for line with `async`/`await` (the usual price
    of a blocking and an asyncio client on httpx): everything that decides anything, from status
    checks to SSE parsing, is in the shared functions above, so only the reading loops repeat."""

    def __init__(
        self,
        base_url: str,
        *,
        probe_timeout: Timeouts | float = PROBE_TIMEOUTS,
        chat_timeout: Timeouts | float = CHAT_TIMEOUTS,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        super().__init__(base_url, probe_timeout, chat_timeout)
        self._http = httpx.AsyncClient(transport=transport, **self._client_options())

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> AsyncRuntimeClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    # ---- I/O

    async def _fetch(self, route: Route, params: dict[str, Any] | None = None) -> Any:
        budget = self.probe_timeout
        deadline = deadline_of(budget)
        try:
            async with self._http.stream(
                route.method,
                route.path,
                params=params,
                headers={"Accept": "application/json"},
                timeout=budget.to_httpx(),
            ) as response:
                body = bytearray()
                async for chunk in response.aiter_bytes():
                    body += chunk
                    if len(body) > MAX_BODY_BYTES:
                        raise too_large(route.label)
                    if over(deadline):
                        raise total_exceeded(route.label, budget)
                status = response.status_code
        except httpx.HTTPError as exc:
            raise classify_transport_error(exc, route.label, read_budget=budget.read) from exc
        check_status(status, bytes(body), route.label)
        return decode_json(bytes(body), route.label)

    async def _status(self, route: Route, json_body: Any = None) -> int:
        budget = self.probe_timeout
        try:
            async with self._http.stream(
                route.method, route.path, json=json_body, timeout=budget.to_httpx()
            ) as response:
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
        params = messages_params(limit)
        return parse_messages(await self._fetch(MESSAGES, params), MESSAGES.label)

    def chat(self, message: str) -> AsyncChatStream:
        return AsyncChatStream(self._chat_events(chat_request_body(message)))

    async def _chat_events(self, body: dict[str, str]) -> Any:
        budget = self.chat_timeout
        deadline = deadline_of(budget)
        route = CHAT.label
        try:
            async with self._http.stream(
                "POST",
                CHAT.path,
                json=body,
                headers={"Accept": EVENT_STREAM, "Cache-Control": "no-cache"},
                timeout=budget.to_httpx(),
            ) as response:
                head = b""
                if not response.is_success:  # read the runtime's `{"error": ...}`
                    async for chunk in response.aiter_bytes():
                        head += chunk
                        if len(head) > 4096:
                            break
                check_chat_reply(
                    response.status_code, response.headers.get("content-type", ""), head, route
                )
                decoder = ChatDecoder(route)
                async for chunk in response.aiter_bytes():
                    for event in decoder.feed(chunk):
                        yield event
                        if event.type == "done":
                            return
                    if over(deadline):
                        raise total_exceeded(route, budget)
                for event in decoder.finish():
                    yield event
        except httpx.HTTPError as exc:
            raise classify_transport_error(
                exc, route, streaming=True, read_budget=budget.read
            ) from exc

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
