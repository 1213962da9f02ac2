"""The chat reply's event stream (`POST /api/chat`, docs/runtime-api.md, section 1.5): server-sent
events parsed incrementally, whatever the chunking, into `typing`, `message`, `error` and `done`.

Transport-free: both runtime clients and the UI's relay feed it bytes as they arrive.
"""

from __future__ import annotations

import codecs
import dataclasses
import json
import time
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, TypeGuard

from smbos.nanoclaw.contract import ProblemKind, RuntimeProblem, check_status, snippet

MAX_SSE_LINE_CHARS = 16 * 1024 * 1024
EVENT_STREAM = "text/event-stream"


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
        self._pending = ""  # an unfinished line
        self._after_cr = False  # the last line ended at `\r`: a leading `\n` belongs to it
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
            raise RuntimeProblem(
                ProblemKind.BAD_SHAPE,
                "event stream",
                f"a line longer than {MAX_SSE_LINE_CHARS} characters",
                field="line",
            )
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


def is_chat_event_type(name: str) -> TypeGuard[ChatEventType]:
    return name in CHAT_EVENT_TYPES


@dataclass(frozen=True)
class ChatEvent:
    """One event of a chat turn: `typing`, then `message`/`error` (with `text`), last `done`."""

    type: ChatEventType
    text: str | None = None
    received_at: float = field(default=0.0, compare=False, repr=False)  # time.monotonic()


@dataclass
class Reply:
    """What a chat reply has said so far: its messages and its errors, in order, and whether the
    runtime said `done`. Every reader of a reply (the CLI's chat and skills, the UI's skills)
    collects it here, from events already redacted as one running text (`scrubbed`, or the
    UI's `web.streams._Scrubbed`)."""

    messages: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    done: bool = False

    def add(self, event: ChatEvent) -> str | None:
        """Take one event; the text it added, if any."""
        if event.type == "message":
            self.messages.append(event.text or "")
            return self.messages[-1]
        if event.type == "error":
            self.errors.append(event.text or "")
            return self.errors[-1]
        if event.type == "done":
            self.done = True
        return None

    @property
    def text(self) -> str:
        return "\n\n".join(self.messages)


class RunningScrub(Protocol):
    """Texts read one after another as one text (`redact.RunningText`): `push` gives back the
    texts that are final now, `flush` the rest."""

    def push(self, text: str) -> list[str]: ...

    def flush(self) -> list[str]: ...


def scrubbed(events: Iterable[ChatEvent], running: RunningScrub) -> Iterator[ChatEvent]:
    """`events` with their message and error texts read as one running text: a secret split
    across two events is hidden too. An event whose text could end with the start of a secret
    waits for the next text (or `done`, or the end), and the events after it wait behind it;
    order and count are kept. The blocking twin of the UI's `web.streams._Scrubbed`."""
    waiting: deque[ChatEvent] = deque()
    texts: deque[str] = deque()

    def ready() -> Iterator[ChatEvent]:
        while waiting:
            event = waiting[0]
            if event.type in ("message", "error"):
                if not texts:
                    return
                waiting.popleft()
                yield dataclasses.replace(event, text=texts.popleft())
            else:
                yield waiting.popleft()

    try:
        for event in events:
            waiting.append(event)
            if event.type in ("message", "error"):
                texts.extend(running.push(event.text or ""))
            if event.type == "done":
                texts.extend(running.flush())
            yield from ready()
    except Exception:
        texts.extend(running.flush())  # the stream broke: what was held back is final
        yield from ready()
        raise
    texts.extend(running.flush())
    yield from ready()


def event_from_frame(frame: SSEFrame, route: str = "POST /api/chat") -> ChatEvent | None:
    """The chat event a frame carries; None for an event type the contract does not name."""
    kind = frame.event
    if not is_chat_event_type(kind):
        return None
    now = time.monotonic()
    if frame.data.strip() == "":
        data: Any = {}
    else:
        try:
            data = json.loads(frame.data)
        except ValueError:
            raise RuntimeProblem(
                ProblemKind.NOT_JSON,
                route,
                f"event {frame.event}: data is not JSON: {snippet(frame.data)!r}",
            ) from None
    if kind in ("typing", "done"):
        return ChatEvent(kind, None, now)
    if not isinstance(data, dict) or not isinstance(data.get("text"), str):
        raise RuntimeProblem(
            ProblemKind.BAD_SHAPE,
            route,
            f'event {frame.event}: expected data {{"text": string}}, got {snippet(frame.data)!r}',
            field=f"{frame.event}.text",
        )
    return ChatEvent(kind, data["text"], now)


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
            raise RuntimeProblem(
                ProblemKind.STREAM_ERROR, self.route, "stream ended before the done event"
            )
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
        raise RuntimeProblem(
            ProblemKind.BAD_SHAPE,
            route,
            f"expected {EVENT_STREAM}, got {snippet(content_type) or 'no type'}",
            field="content-type",
        )
