"""`/agents/<id>/api/<path>`: the agent's own NanoClaw API, forwarded, redacted.

The proxy serves an agent's answers on the UI's own origin, where a page would run with the UI's
rights; so it passes data only (JSON and event streams, anything else refused), sandboxes what it
passes, forwards plain paths under /api/ only, and keeps no cookie (one client serves every
agent). It is a raw view of an agent, so it needs the token on loopback too (security.py), and
what it passes is redacted as every other route's answers are (relay.py): JSON read whole,
event streams frame by frame as they come.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator

import httpx
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from smbos import operations as ops
from smbos import redact
from smbos.errors import RuntimeContentType, SmbosError
from smbos.nanoclaw import contract
from smbos.nanoclaw.runtime import CHAT_TIMEOUTS, classify_transport_error
from smbos.web import limits
from smbos.web.body import parse_json_object, read_body
from smbos.web.errors import error
from smbos.web.relay import MAX_JSON_BYTES, EventStreamRedactor, redact_json
from smbos.web.state import PROXY_TIMEOUT, ui_state
from smbos.web.streams import SSE_HEADERS

PROXY_STREAM_TIMEOUT = httpx.Timeout(connect=2.0, read=CHAT_TIMEOUTS.read, write=10.0, pool=5.0)
_REQUEST_HEADERS = ("content-type", "accept", "cache-control", "last-event-id")
# What an agent's answer may be: data, never a document or a script.
PROXY_MEDIA_TYPES = frozenset({"application/json", "text/event-stream"})
# Every proxied answer: never sniffed into something else, and sandboxed (an opaque origin, no
# script) should a browser render it anyway.
PROXY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "sandbox; default-src 'none'; frame-ancestors 'none'",
    "Cache-Control": "no-store",
}
# A path under /api/: plain segments only. `%` is refused (a double-encoded `..` or NUL would be
# decoded by the runtime), and so are `.`/`..` segments, empty ones and control characters.
_PROXY_SEGMENT_RE = re.compile(r"^[A-Za-z0-9_~!$&'()*+,;=:@-][A-Za-z0-9._~!$&'()*+,;=:@-]*$")


def proxy_path_ok(sub: str) -> bool:
    return sub == "" or all(
        _PROXY_SEGMENT_RE.match(part) and part not in (".", "..") for part in sub.split("/")
    )


def proxy_media_type(content_type: str | None) -> tuple[str, str | None] | None:
    """(media type, charset or None) when the runtime's Content-Type may pass, else None."""
    if not content_type:
        return None
    media, _, params = content_type.partition(";")
    media = media.strip().lower()
    if media not in PROXY_MEDIA_TYPES:
        return None
    charset = re.search(r"charset=\"?([A-Za-z0-9._-]+)", params)
    return media, charset.group(1) if charset else None


async def _first_bytes(response: httpx.Response) -> bytes:
    async for chunk in response.aiter_raw():
        if chunk:
            return chunk
    return b""


async def _whole(response: httpx.Response, route: str) -> bytes:
    """A JSON answer, read whole (to redact it), at most MAX_JSON_BYTES."""
    body = bytearray()
    async for chunk in response.aiter_bytes():
        body += chunk
        if len(body) > MAX_JSON_BYTES:
            raise contract.too_large(route, MAX_JSON_BYTES)
    return bytes(body)


async def _chunks(response: httpx.Response) -> AsyncIterator[bytes]:
    """The answer's bytes until it ends, stalls PROXY_READ_S, or has run PROXY_STREAM_MAX_S."""
    deadline = time.monotonic() + limits.PROXY_STREAM_MAX_S
    chunks = response.aiter_bytes().__aiter__()
    while (left := deadline - time.monotonic()) > 0:
        try:
            yield await asyncio.wait_for(chunks.__anext__(), min(left, limits.PROXY_READ_S))
        except (TimeoutError, StopAsyncIteration):
            return


class _Relayed(StreamingResponse):
    """A streamed answer that gives back its slot and closes the runtime's answer however it
    ends: finished, failed, or the client gone before the first byte (when the body's own
    generator never runs)."""

    def __init__(self, content, *, done, **kwargs):
        super().__init__(content, **kwargs)
        self.done = done

    async def __call__(self, scope, receive, send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            await self.done()


async def proxy(request: Request) -> Response:
    """Forward to the agent's own API, streaming event streams as their frames complete. Only
    JSON and event streams come back, redacted; anything else is refused."""
    state = ui_state(request)
    agent = await state.agent(request.path_params["agent_id"])
    sub = request.path_params["path"]
    if not proxy_path_ok(sub):
        raise SmbosError(
            "expected a path under /api/ of plain segments (no '..', '%', "
            "'\\' or control characters)"
        )
    url = f"{ops.runtime_url(agent)}/api/{sub}"
    if request.url.query:
        url += f"?{request.url.query}"
    body = await read_body(request) if request.method == "POST" else None
    if body:
        parse_json_object(body)  # the runtime's POST routes take a JSON object: checked here
    headers = {k: request.headers[k] for k in _REQUEST_HEADERS if k in request.headers}
    streaming = "text/event-stream" in request.headers.get("accept", "") or (
        request.method == "POST" and sub == "chat"
    )
    upstream = state.http.build_request(
        request.method,
        httpx.URL(url),
        content=body,
        headers=headers,
        timeout=PROXY_STREAM_TIMEOUT if streaming else PROXY_TIMEOUT,
    )
    route = f"{request.method} /api/{sub}"
    slot = state.proxy_slots.take(agent.id, request.client.host if request.client else None)
    try:
        response = await state.http.send(upstream, stream=True)
    except httpx.HTTPError as exc:
        slot.release()
        raise classify_transport_error(exc, route) from None
    except BaseException:
        slot.release()
        raise

    async def done() -> None:
        slot.release()
        await response.aclose()

    try:
        answer = await _answer(agent, route, response)
    except BaseException:
        await done()
        raise
    if not isinstance(answer, AsyncIterator):
        await done()
        return answer
    return _Relayed(
        answer,
        done=done,
        status_code=response.status_code,
        headers=_out_headers(response, {**PROXY_HEADERS, **SSE_HEADERS}),
    )


def _out_headers(response: httpx.Response, out: dict[str, str]) -> dict[str, str]:
    media, charset = proxy_media_type(response.headers.get("content-type")) or ("", None)
    # Written again: JSON as UTF-8, event streams as the runtime wrote them (always UTF-8).
    out["Content-Type"] = f"{media}; charset=utf-8" if charset else media
    return out


async def _answer(agent, route: str, response: httpx.Response) -> Response | AsyncIterator[bytes]:
    """The whole answer (JSON, an empty one, a refusal), or the redacted event stream."""
    typed = proxy_media_type(response.headers.get("content-type"))
    if typed is None:
        # Only an empty answer (an empty 404, a 204) passes without a type that may pass.
        try:
            body = await _first_bytes(response)
        except httpx.HTTPError:
            body = b""
        if body:
            shown = " ".join((response.headers.get("content-type") or "none").split())[:80]
            return error(
                RuntimeContentType(
                    f"{agent.id}: runtime at {ops.runtime_url(agent)} answered {route} with "
                    f"{response.status_code} and Content-Type {shown!r}; "
                    "the proxy passes only JSON and event streams"
                )
            )
        return Response(status_code=response.status_code, headers=dict(PROXY_HEADERS))
    media, charset = typed
    scrub = redact.for_agent(agent)
    if media == "application/json":
        try:
            body = await _whole(response, route)
        except httpx.HTTPError as exc:
            raise classify_transport_error(exc, route) from None
        return Response(
            redact_json(body, charset, scrub, route) if body else b"",
            status_code=response.status_code,
            headers=_out_headers(response, dict(PROXY_HEADERS)),
        )

    async def relay() -> AsyncIterator[bytes]:
        events = EventStreamRedactor(scrub)
        try:
            async for chunk in _chunks(response):
                cleaned = events.feed(chunk)
                if cleaned:
                    yield cleaned
        except (httpx.HTTPError, contract.RuntimeProblem):
            pass  # the runtime dropped the connection or broke the stream: end ours too
        yield events.close()

    return relay()
