"""A stand-in for an agent's runtime API on 127.0.0.1, in a thread: answers what a test tells it
to (any status, headers and body per path) and records what it was sent. No Docker needed."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Answer:
    body: bytes | str = b"{}"
    content_type: str | None = "application/json"
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)


class StubRuntime:
    """`routes`: path (without the query string) -> Answer; anything else is 404 JSON."""

    def __init__(self, routes: dict[str, Answer] | None = None):
        self.routes = dict(routes or {})
        self.requests: list[tuple[str, str, dict[str, str]]] = []  # (method, path, headers)
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                if length:
                    self.rfile.read(length)
                stub.requests.append((self.command, self.path, dict(self.headers.items())))
                answer = stub.routes.get(self.path.split("?", 1)[0],
                                         Answer(b'{"error": "no such route"}', status=404))
                body = answer.body.encode() if isinstance(answer.body, str) else answer.body
                self.send_response(answer.status)
                if answer.content_type is not None:
                    self.send_header("Content-Type", answer.content_type)
                for key, value in answer.headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = _answer

            def log_message(self, *args) -> None:  # quiet
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> StubRuntime:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()
