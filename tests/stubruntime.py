"""A stand-in for agents' runtime APIs: answers what a test tells it to (any status, headers and
body per path) and records what it was sent. No Docker needed.

In this process, `transport(*stubs)` is the `httpx.MockTransport` to hand to `create_app`: a
request to 127.0.0.1:<stub.port> gets that stub's answer, any other port is refused. Served on a
real 127.0.0.1 port (`with StubRuntime() as stub`), it answers a UI run by uvicorn, or a browser.
"""

from __future__ import annotations

import itertools
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx

# Ports of stubs answered in this process: numbers only, nothing listens on them.
_IN_PROCESS_PORTS = itertools.count(41000)


@dataclass
class Answer:
    body: bytes | str = b"{}"
    content_type: str | None = "application/json"
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)


# What NanoClaw answers to a path it does not serve (tests/fixtures/runtime/fork-answers.json).
NOT_FOUND = Answer(b"", None, status=404)


class StubRuntime:
    """`routes`: path (without the query string) -> Answer; anything else is NanoClaw's own
    404 (no body, no Content-Type: docs/runtime-api.md, section 1.1)."""

    def __init__(self, routes: dict[str, Answer] | None = None):
        self.routes = dict(routes or {})
        self.requests: list[tuple[str, str, dict[str, str]]] = []  # (method, path, headers)
        self.port = next(_IN_PROCESS_PORTS)
        self.server: ThreadingHTTPServer | None = None

    def answer(
        self, method: str, target: str, headers: dict[str, str]
    ) -> tuple[int, list[tuple[str, str]], bytes]:
        """(status, headers, body) for a request to `target` (path and query), recorded."""
        self.requests.append((method, target, headers))
        answer = self.routes.get(target.split("?", 1)[0], NOT_FOUND)
        body = answer.body.encode() if isinstance(answer.body, str) else answer.body
        out = [("Content-Type", answer.content_type)] if answer.content_type is not None else []
        out += list(answer.headers.items())
        out.append(("Content-Length", str(len(body))))
        return answer.status, out, body

    # -- on a real port ---------------------------------------------------------------------

    def __enter__(self) -> StubRuntime:
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                if length:
                    self.rfile.read(length)
                status, headers, body = stub.answer(
                    self.command, self.path, dict(self.headers.items())
                )
                self.send_response(status)
                for key, value in headers:
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = _answer

            def log_message(self, *args) -> None:  # quiet
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        # A short poll: shutdown() waits for the loop to notice, once per test.
        threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        ).start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()


def transport(*stubs: StubRuntime) -> httpx.MockTransport:
    """The stubs, answering in this process by port; a port of no stub refuses the connection
    (as 127.0.0.1 does where nothing listens)."""
    by_port = {stub.port: stub for stub in stubs}

    def handle(request: httpx.Request) -> httpx.Response:
        stub = by_port.get(request.url.port)
        if stub is None or request.url.host != "127.0.0.1":
            raise httpx.ConnectError("[Errno 111] Connection refused", request=request)
        status, headers, body = stub.answer(
            request.method, request.url.raw_path.decode("ascii"), dict(request.headers.items())
        )
        # A stream, as from a socket: the answer is read as it is relayed, not before.
        return httpx.Response(status, headers=headers, stream=httpx.ByteStream(body))

    return httpx.MockTransport(handle)
