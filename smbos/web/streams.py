"""Chat turns as server-sent events: `POST .../chat` and `POST .../skills/<id>`.

A turn is opened before the answer starts, so a runtime that does not answer with an event stream
is a plain 502 (errors.py); once streaming, a failure mid-turn becomes an `error` event and the
stream ends with `done`. Every text passes through the agent's redactor (`smbos.redact`) on its
way out, the turn's texts read as one: an agent that echoes a secret from its `.env` never shows
it, not even split across two events.
"""

from __future__ import annotations

import dataclasses
import json
from collections import deque
from collections.abc import AsyncIterator
from typing import Any

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from smbos import operations as ops
from smbos import redact
from smbos.agent import Agent
from smbos.nanoclaw.chatstream import Reply
from smbos.nanoclaw.runtime import AsyncRuntimeClient, ChatEvent, RuntimeProblem
from smbos.web.body import read_json
from smbos.web.errors import ok
from smbos.web.state import UIState, ui_state

SSE_HEADERS = {"Cache-Control": "no-cache, no-store", "X-Accel-Buffering": "no"}


def sse(event: str, data: Any) -> bytes:
    return f"event: {event}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n".encode()


def event_frame(event: ChatEvent) -> bytes:
    kind = getattr(event.type, "value", event.type)
    return sse(kind, {"text": event.text} if kind in ("message", "error") else {})


class _Scrubbed:
    """A chat stream whose message and error texts pass through the agent's redactor, read as
    one running text (`redact.RunningText`): a secret split across two events is hidden too.
    An event whose text could end with the start of a secret waits for the next text (or the
    end), and the events after it wait behind it; order and count are kept."""

    def __init__(self, stream, scrub: redact.Redactor):
        self.stream = stream
        self.running = scrub.running()
        self.waiting: deque[ChatEvent] = deque()  # in order; those with a text wait for it
        self.texts: deque[str] = deque()  # redacted texts not yet given to an event
        self.failure: BaseException | None = None
        self.ended = False

    def __aiter__(self):
        return self

    async def __anext__(self) -> ChatEvent:
        while not self._ready():
            if self.ended:
                if self.failure is not None:
                    failure, self.failure = self.failure, None
                    raise failure
                raise StopAsyncIteration
            try:
                event = await self.stream.__anext__()
            except StopAsyncIteration:
                self._end()
                continue
            except Exception as exc:  # noqa: BLE001 - raised once what came before is out
                self.failure = exc
                self._end()
                continue
            self.waiting.append(event)
            if event.text:
                self.texts.extend(self.running.push(event.text))
        event = self.waiting.popleft()
        if event.text:
            event = dataclasses.replace(event, text=self.texts.popleft())
        return event

    def _ready(self) -> bool:
        return bool(self.waiting) and (not self.waiting[0].text or bool(self.texts))

    def _end(self) -> None:
        self.ended = True
        self.texts.extend(self.running.flush())

    async def aclose(self) -> None:
        await self.stream.aclose()


async def open_chat(
    state: UIState, agent: Agent, message: str
) -> tuple[AsyncRuntimeClient, _Scrubbed, ChatEvent | None]:
    """(client, stream, first event) of a chat turn; RuntimeProblem when the runtime does not
    answer with an event stream. Texts come redacted (`smbos.redact`)."""
    client = state.runtime(ops.runtime_url(agent))
    stream = _Scrubbed(client.chat(message), redact.for_agent(agent))
    try:
        first = await stream.__anext__()
    except StopAsyncIteration:
        first = None
    except BaseException:
        await stream.aclose()
        await client.aclose()
        raise
    return client, stream, first


async def api_chat(request: Request) -> Response:
    state = ui_state(request)
    agent = await state.agent(request.path_params["agent_id"])
    body = await read_json(request)
    message = ops.check_message(body.get("message"))
    client, stream, first = await open_chat(state, agent, message)

    async def events() -> AsyncIterator[bytes]:
        try:
            if first is not None:
                yield event_frame(first)
            async for event in stream:
                yield event_frame(event)
        except RuntimeProblem as problem:
            yield sse("error", {"text": f"{agent.id}: {problem}"})
            yield sse("done", {})
        finally:
            await stream.aclose()
            await client.aclose()

    return StreamingResponse(events(), media_type="text/event-stream", headers=SSE_HEADERS)


async def api_skill_run(request: Request) -> Response:
    """The skill's prompt as a chat turn: streamed (prompt, the turn's events, result, done), or
    with `Accept: application/json` one answer once the turn is over."""
    state = ui_state(request)
    agent = await state.agent(request.path_params["agent_id"])
    skill = ops.find_skill(agent, request.path_params["skill_id"])
    body = await read_json(request)
    prompt = ops.skill_prompt(skill, body.get("values") or {})
    accept = request.headers.get("accept", "")
    client, stream, first = await open_chat(state, agent, prompt)

    if "application/json" in accept and "text/event-stream" not in accept:
        reply = Reply()
        try:
            if first is not None:
                reply.add(first)
            async for event in stream:
                reply.add(event)
        except RuntimeProblem as problem:
            reply.errors.append(f"{agent.id}: {problem}")
        finally:
            await stream.aclose()
            await client.aclose()
        return ok(
            {
                "agent_id": agent.id,
                "skill": skill.id,
                "prompt": prompt,
                "messages": reply.messages,
                "errors": reply.errors,
                "result": ops.skill_result(skill, reply.text),
            }
        )

    async def events_() -> AsyncIterator[bytes]:
        reply = Reply()
        try:
            yield sse("prompt", {"text": prompt})
            pending = [first] if first is not None else []
            for event in pending:
                reply.add(event)
                if event.type != "done":
                    yield event_frame(event)
            async for event in stream:
                reply.add(event)
                if event.type == "done":
                    break
                yield event_frame(event)
        except RuntimeProblem as problem:
            yield sse("error", {"text": f"{agent.id}: {problem}"})
        finally:
            await stream.aclose()
            await client.aclose()
        yield sse("result", ops.skill_result(skill, reply.text))
        yield sse("done", {})

    return StreamingResponse(events_(), media_type="text/event-stream", headers=SSE_HEADERS)
