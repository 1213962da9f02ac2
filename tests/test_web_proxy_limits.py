"""The proxy's bounds (smbos/web/limits.py): slow event streams cannot take the connections the
UI's own calls need. Served for real (uvicorn in a thread, runtimes on 127.0.0.1 ports, the UI's
own connection pools), in this process; the bounds are made small for the test."""

from __future__ import annotations

import asyncio
import json
import secrets
import threading
import time
from contextlib import AsyncExitStack
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from smbos.errors import EXIT_CHECK_FAILED, Kind, TooManyStreams
from smbos.project import Project
from smbos.web import limits
from smbos.web.app import create_app

from .conftest import write_agent
from .fakefleet import FakeDocker
from .test_web_api import AUTH, TOKEN, UIServer


class SlowRuntime:
    """`/api/stream` sends one event and then nothing until `release` (or 20 s);
    `/api/messages` answers at once."""

    def __init__(self):
        self.release = threading.Event()
        self.open = 0
        runtime = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self):
                if self.path.startswith("/api/messages"):
                    body = json.dumps({"messages": []}).encode()
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                    return
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Connection", "close")
                self.end_headers()
                self.wfile.write(b"event: typing\ndata: {}\n\n")
                self.wfile.flush()
                runtime.open += 1
                try:
                    runtime.release.wait(20)
                    self.wfile.write(b"event: done\ndata: {}\n\n")
                except OSError:
                    pass
                finally:
                    runtime.open -= 1
                self.close_connection = True

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        ).start()

    def close(self):
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def served(tmp_path, monkeypatch):
    monkeypatch.setattr(limits, "PROXY_PER_AGENT", 2)
    monkeypatch.setattr(limits, "PROXY_PER_CLIENT", 3)
    monkeypatch.setattr(limits, "PROXY_TOTAL", 3)
    runtimes = {"alpha": SlowRuntime(), "beta": SlowRuntime()}
    agents = tmp_path / "agents"
    for agent_id, runtime in runtimes.items():
        write_agent(
            agents, agent_id, {"port": runtime.port, "runtime": {"container_isolation": "none"}}
        )
    project = Project.from_options(agents, None, f"l{secrets.token_hex(4)}")
    try:
        with UIServer(create_app(project, TOKEN, docker_client=FakeDocker())) as server:
            yield server, runtimes
    finally:
        for runtime in runtimes.values():
            runtime.close()


async def _open(stack: AsyncExitStack, client: httpx.AsyncClient, url: str) -> httpx.Response:
    r = await stack.enter_async_context(
        client.stream("GET", url, headers={**AUTH, "Accept": "text/event-stream"})
    )
    if r.status_code == 200:
        r.chunks = r.aiter_bytes()  # kept: a dropped iterator closes the connection
        await r.chunks.__anext__()  # the first event: the stream is open end to end
    else:
        await r.aread()
    return r


def test_slow_streams_are_bounded_and_the_ui_still_reaches_agents(served):
    server, runtimes = served

    async def scenario():
        async with (
            httpx.AsyncClient(base_url=server.url, timeout=10, trust_env=False) as c,
            AsyncExitStack() as stack,
        ):
            first = [await _open(stack, c, "/agents/alpha/api/stream") for _ in range(2)]
            assert [r.status_code for r in first] == [200, 200]
            third = await _open(stack, c, "/agents/alpha/api/stream")
            assert third.status_code == 429, third.text
            assert third.json()["kind"] == "too_many_streams" and "alpha" in third.json()["error"]
            assert (await _open(stack, c, "/agents/beta/api/stream")).status_code == 200
            by_client = await _open(stack, c, "/agents/beta/api/stream")
            assert by_client.status_code == 429 and "from 127.0.0.1" in by_client.json()["error"]
            assert runtimes["alpha"].open == 2 and runtimes["beta"].open == 1
            # The UI's own calls keep their pool: they answer while the streams stay open.
            started = time.monotonic()
            for agent_id in ("alpha", "beta"):
                r = await c.get(f"/api/agents/{agent_id}/messages")
                assert r.status_code == 200 and r.json() == {"messages": []}, r.text
            assert time.monotonic() - started < 3
        # Closed by the client: each slot is given back, and a new stream opens.
        async with (
            httpx.AsyncClient(base_url=server.url, timeout=10, trust_env=False) as c,
            AsyncExitStack() as stack,
        ):
            for _ in range(50):
                r = await _open(stack, c, "/agents/alpha/api/stream")
                if r.status_code == 200:
                    break
                await r.aclose()
                await asyncio.sleep(0.05)
            assert r.status_code == 200, r.text

    asyncio.run(scenario())


def test_a_proxied_stream_ends_at_its_time_limit(served, monkeypatch):
    server, runtimes = served
    monkeypatch.setattr(limits, "PROXY_STREAM_MAX_S", 0.25)

    async def scenario():
        async with httpx.AsyncClient(base_url=server.url, timeout=10, trust_env=False) as c:
            started = time.monotonic()
            async with c.stream(
                "GET", "/agents/alpha/api/stream", headers={**AUTH, "Accept": "text/event-stream"}
            ) as r:
                body = (await r.aread()).decode()
            assert time.monotonic() - started < 5 and "event: typing" in body
            assert "done" not in body, "ended by the proxy, not the runtime"
            for _ in range(3):  # the slots it held are free again
                async with c.stream(
                    "GET",
                    "/agents/alpha/api/stream",
                    headers={**AUTH, "Accept": "text/event-stream"},
                ) as again:
                    assert again.status_code == 200
                    await again.aread()

    asyncio.run(scenario())


def test_the_refusal_is_in_the_error_tree():
    refusal = TooManyStreams("x")
    assert (refusal.exit_code, refusal.http_status, refusal.kind) == (
        EXIT_CHECK_FAILED,
        429,
        Kind.TOO_MANY_STREAMS,
    )
