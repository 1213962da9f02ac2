"""What the proxy relays from a runtime, redacted (`smbos.redact`): nothing reaches the browser
through `/agents/<id>/api/...` that `/api/agents/<id>/...` would hide.

- JSON answers are read whole (at most MAX_JSON_BYTES), decoded, redacted deep (keys too) and
  written again as UTF-8. A body that is not JSON is not relayed (502 `runtime_not_json`):
  only what can be read can be redacted.
- Event streams are parsed into frames (`chatstream.SSEParser`) and written again frame by frame
  as they complete. The strings of every frame's data (each string of a JSON value, in order;
  the whole data when it is not JSON) are one running text (`redact.RunningText`): "a secret
  split across two events" means two frames whose data strings, put together, hold it (two
  `message` events whose `text`s do), and it is hidden: `[secret KEY]` in the first frame, the
  rest cut from the next. A frame that ends with what could begin a secret waits for the next
  frame (or the stream's end), and the frames after it wait behind it: order and count are
  kept. Comments are dropped; a comment goes out at most every KEEPALIVE_S while frames flow
  in pieces, so an idle stream is kept open as the runtime meant.
"""

from __future__ import annotations

import json
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from smbos.nanoclaw.chatstream import SSEFrame, SSEParser
from smbos.nanoclaw.contract import ProblemKind, RuntimeProblem
from smbos.redact import Redactor

MAX_JSON_BYTES = 16 * 1024 * 1024
KEEPALIVE_S = 10.0


def _dumps(data: Any) -> bytes:
    try:
        return json.dumps(data, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate the runtime escaped: keep it escaped
        return json.dumps(data).encode("ascii")


def redact_json(body: bytes, charset: str | None, redactor: Redactor, route: str) -> bytes:
    """The JSON answer `body`, redacted and written as UTF-8; RuntimeProblem when it is not JSON
    the proxy can read."""
    unreadable = RuntimeProblem(
        ProblemKind.NOT_JSON,
        route,
        "answered application/json with a body that is not JSON the "
        "proxy can read (it relays only what it can redact)",
    )
    try:
        text = body.decode(charset or json.detect_encoding(body))
        return _dumps(redactor.deep(json.loads(text)))
    except (LookupError, ValueError, RecursionError):  # UnicodeDecodeError is a ValueError
        raise unreadable from None


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for item in value.values() for s in _strings(item)]
    if isinstance(value, list):
        return [s for item in value for s in _strings(item)]
    return []


def _rebuild(value: Any, texts: Iterator[str], redactor: Redactor) -> Any:
    if isinstance(value, str):
        return next(texts)
    if isinstance(value, dict):
        return {
            redactor(key) if isinstance(key, str) else key: _rebuild(item, texts, redactor)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [_rebuild(item, texts, redactor) for item in value]
    return value


_RAW = object()  # a frame whose data is not JSON


@dataclass
class _Pending:
    frame: SSEFrame
    data: Any  # the parsed JSON, or _RAW
    needed: int
    texts: list[str] = field(default_factory=list)


class EventStreamRedactor:
    """Bytes of an event stream in (`feed`, then `close` at its end), redacted bytes out."""

    def __init__(self, redactor: Redactor):
        self.redactor = redactor
        self.parser = SSEParser()
        self.running = redactor.running()
        self.queue: deque[_Pending] = deque()
        self.last_id: str | None = None
        self.last_out = time.monotonic()

    def feed(self, chunk: bytes) -> bytes:
        frames = self.parser.feed(chunk)
        for frame in frames:
            self._take(frame)
        out = self._ready()
        if not out and time.monotonic() - self.last_out >= KEEPALIVE_S:
            out = b":\n\n"
        if out:
            self.last_out = time.monotonic()
        return out

    def close(self) -> bytes:
        """What is left at the end of the stream (held frames included)."""
        try:
            for frame in self.parser.close():
                self._take(frame)
        finally:
            self._assign(self.running.flush())
        return self._ready()

    def _take(self, frame: SSEFrame) -> None:
        data: Any = _RAW
        strings = [frame.data] if frame.data else []
        if frame.data.strip():
            try:
                data = json.loads(frame.data)
                strings = _strings(data)
            except (ValueError, RecursionError):
                data = _RAW
                strings = [frame.data]
        self.queue.append(_Pending(frame, data, len(strings)))
        for text in strings:
            self._assign(self.running.push(text))

    def _assign(self, texts: list[str]) -> None:
        for text in texts:
            entry = next(e for e in self.queue if len(e.texts) < e.needed)
            entry.texts.append(text)

    def _ready(self) -> bytes:
        out = []
        while self.queue and len(self.queue[0].texts) == self.queue[0].needed:
            out.append(self._write(self.queue.popleft()))
        return b"".join(out)

    def _write(self, entry: _Pending) -> bytes:
        lines = []
        if entry.frame.id is not None and entry.frame.id != self.last_id:
            lines.append(f"id: {entry.frame.id}".encode())
            self.last_id = entry.frame.id
        lines.append(f"event: {entry.frame.event}".encode())
        if entry.data is _RAW:
            lines += (
                [f"data: {line}".encode() for line in "".join(entry.texts).split("\n")]
                if entry.needed
                else []
            )
        else:
            try:
                data = _dumps(_rebuild(entry.data, iter(entry.texts), self.redactor))
            except RecursionError:  # as deep as the parser allowed: redacted as one text
                data = self.redactor(entry.frame.data).encode()
            lines.append(b"data: " + data)
        return b"\n".join(lines) + b"\n\n"
