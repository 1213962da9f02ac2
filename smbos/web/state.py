"""What the UI keeps between requests, and the two ways out of the process it owns.

Every request reaches Docker and the agents' runtimes through `UIState`: the Docker client (made
on first use, retried at most every ENGINE_RETRY_S while the engine is away), one HTTP connection
pool for every runtime client of the UI's own calls, and one for the proxy, bounded apart
(limits.py) so that proxied streams never take the connections the pages need. Both ways out can
be handed in (`create_app(..., transport=..., docker_client=...)`): the routes then run
in-process against an `httpx.MockTransport` (both pools) and a fake engine, nothing else changed.
"""

from __future__ import annotations

import asyncio
import http.cookiejar
import threading
import time
from collections.abc import Callable
from typing import Any

import httpx
import requests.exceptions
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from smbos import operations as ops
from smbos.agent import Agent, Fleet
from smbos.controller import AgentStatus, Controller, EngineUnreachable, engine
from smbos.errors import UnknownAgent
from smbos.nanoclaw.interface import reach
from smbos.nanoclaw.runtime import AsyncRuntimeClient, RuntimeClient
from smbos.project import Project
from smbos.web import limits
from smbos.web.security import Guard

ENGINE_RETRY_S = 2.0
PROXY_TIMEOUT = httpx.Timeout(connect=2.0, read=30.0, write=10.0, pool=5.0)


class _Shared(httpx.AsyncBaseTransport):
    """A view of the shared transport that a client may close without closing the pool."""

    def __init__(self, inner: httpx.AsyncBaseTransport):
        self.inner = inner

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        pass


def _no_cookies() -> http.cookiejar.CookieJar:
    """A jar that keeps nothing: the proxy serves every agent from one client, and a cookie one
    agent sets must never reach another (nor the browser: Set-Cookie is not relayed)."""
    return http.cookiejar.CookieJar(http.cookiejar.DefaultCookiePolicy(allowed_domains=[]))


def _engine_errors() -> tuple[type[BaseException], ...]:
    return (requests.exceptions.ConnectionError, requests.exceptions.Timeout)


class UIState:
    """The Docker client, the loaded fleet, actions in flight, the shared status computation,
    and the HTTP client of the proxy.

    `transport`: the httpx transport to the agents (default: a pooled `AsyncHTTPTransport`); one
    that also answers blocking requests (as `httpx.MockTransport` does) serves the blocking
    runtime client too. `docker_client`: the Docker SDK client (default: `controller.engine()`).
    Both stay the caller's: `close()` closes only what the state made itself."""

    def __init__(
        self,
        project: Project,
        guard: Guard,
        engine_timeout: int = 10,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        docker_client=None,
    ):
        self.project = project
        self.guard = guard
        self.engine_timeout = engine_timeout
        self._client = docker_client
        self._engine_error: str | None = None
        self._engine_checked = 0.0
        self._client_lock = threading.Lock()
        self._fleet: Fleet | None = None
        self._fleet_sig: tuple | None = None
        self._fleet_lock = threading.Lock()
        self._status_task: asyncio.Task | None = None
        self.actions: dict[str, str] = {}
        self._http: httpx.AsyncClient | None = None
        self._given_transport = transport
        self._transport: httpx.AsyncBaseTransport | None = transport
        self._proxy_transport: httpx.AsyncBaseTransport | None = transport
        self.proxy_slots = limits.StreamSlots()

    # -- HTTP to the agents: one connection pool for every runtime client and one for the proxy,
    # made on first use (on the app's event loop) and closed at shutdown. Building an httpx
    # client per request costs milliseconds of CPU each (TLS context); twenty probes a poll add
    # up.

    @property
    def transport(self) -> httpx.AsyncBaseTransport:
        if self._transport is None:
            self._transport = httpx.AsyncHTTPTransport(
                limits=httpx.Limits(max_connections=400, max_keepalive_connections=100)
            )
        return self._transport

    @property
    def proxy_transport(self) -> httpx.AsyncBaseTransport:
        """The proxy's own pool: as many connections as the proxy may have requests open."""
        if self._proxy_transport is None:
            self._proxy_transport = httpx.AsyncHTTPTransport(
                limits=httpx.Limits(
                    max_connections=self.proxy_slots.total,
                    max_keepalive_connections=self.proxy_slots.total,
                )
            )
        return self._proxy_transport

    @property
    def http(self) -> httpx.AsyncClient:
        """The proxy's HTTP client (on `proxy_transport`)."""
        if self._http is None:
            self._http = httpx.AsyncClient(
                transport=_Shared(self.proxy_transport),
                trust_env=False,
                follow_redirects=False,
                timeout=PROXY_TIMEOUT,
                cookies=_no_cookies(),
            )
        return self._http

    def runtime(self, base_url: str, **options) -> AsyncRuntimeClient:
        """The runtime client of one agent, on the shared connection pool."""
        return AsyncRuntimeClient(base_url, transport=_Shared(self.transport), **options)

    def blocking_runtime(self, base_url: str) -> RuntimeClient:
        """The blocking runtime client of one agent (for work done in a worker thread): on the
        given transport when it answers blocking requests too, else on its own connection."""
        given = self._given_transport
        return RuntimeClient(
            base_url, transport=given if isinstance(given, httpx.BaseTransport) else None
        )

    async def close(self) -> None:
        if self._http is not None:
            await self._http.aclose()
            self._http = None
        for name in ("_transport", "_proxy_transport"):
            made = getattr(self, name)
            if made is not None and made is not self._given_transport:
                await made.aclose()
                setattr(self, name, None)

    # -- Docker ----------------------------------------------------------------------------

    def _docker_client(self):
        with self._client_lock:
            if self._client is not None:
                return self._client
            if self._engine_error and time.monotonic() - self._engine_checked < ENGINE_RETRY_S:
                raise EngineUnreachable(self._engine_error)
            self._engine_checked = time.monotonic()
            try:
                self._client = engine(timeout=self.engine_timeout)
            except EngineUnreachable as exc:
                self._engine_error = str(exc)
                raise
            self._engine_error = None
            return self._client

    def _engine_failed(self, exc: BaseException) -> EngineUnreachable:
        reason = " ".join(str(exc).split())[:200] or type(exc).__name__
        message = (
            f"Docker engine stopped answering ({reason}); start it (`sudo systemctl start "
            "docker`) or point DOCKER_HOST at a running engine"
        )
        with self._client_lock:
            self._client = None
            self._engine_error = message
            self._engine_checked = time.monotonic()
        return EngineUnreachable(message)

    async def docker(self, func: Callable[[Controller], Any]) -> Any:
        """Run `func(controller)` in a worker thread; engine failures raise EngineUnreachable."""

        def call():
            client = self._docker_client()
            try:
                return func(Controller(self.project, client))
            except _engine_errors() as exc:
                raise self._engine_failed(exc) from None

        return await run_in_threadpool(call)

    async def check_engine(self) -> str | None:
        try:
            await run_in_threadpool(self._docker_client)
        except EngineUnreachable as exc:
            return str(exc)
        return None

    # -- folders ---------------------------------------------------------------------------

    def _signature(self) -> tuple:
        root = self.project.agents_dir
        parts: list = []
        try:
            entries = sorted(root.iterdir())
        except OSError:
            return ("missing",)
        for entry in entries:
            if entry.name.startswith(".") or not entry.is_dir():
                continue
            parts.append(entry.name)
            for name in ("agent.md", "config.yaml", ".env.example", ".env", "memory"):
                try:
                    info = (entry / name).stat()
                    parts.append((name, info.st_mtime_ns, info.st_size, info.st_ino))
                except OSError:
                    parts.append((name, None))
        return tuple(parts)

    def load_fleet(self) -> Fleet:
        with self._fleet_lock:
            sig = self._signature()
            if self._fleet is None or sig != self._fleet_sig:
                self._fleet = self.project.load()
                self._fleet_sig = sig
            return self._fleet

    async def fleet(self) -> Fleet:
        return await run_in_threadpool(self.load_fleet)

    async def agent(self, agent_id: str) -> Agent:
        fleet = await self.fleet()
        agent = fleet.get(agent_id)
        if agent is None:
            raise UnknownAgent(fleet.why_missing(agent_id))
        return agent

    # -- status ----------------------------------------------------------------------------

    def _rows_json(self, rows: list[AgentStatus], fleet: Fleet, measured_at: float) -> list[dict]:
        out = []
        for row in rows:
            data = row.to_json()
            agent = fleet.get(row.id)
            data["restart_needed"] = agent is not None and ops.restart_needed(
                agent, row.state, row.uptime_s, measured_at
            )
            data["action"] = self.actions.get(row.id)
            out.append(data)
        return out

    def _offline_rows(self, fleet: Fleet, ids: list[str]) -> list[dict]:
        rows = []
        for agent in fleet.agents:
            if ids and agent.id not in ids:
                continue
            row = AgentStatus(
                id=agent.id,
                name=agent.name,
                enabled=agent.enabled,
                port=agent.port,
                state="unknown",
                health="-",
                api="-",
            )
            data = row.to_json()
            data["restart_needed"] = False
            data["action"] = self.actions.get(agent.id)
            rows.append(data)
        return rows

    async def compute_status(self, ids: tuple[str, ...] = (), probe: bool = True) -> dict:
        """The status of `ids` (every agent when empty), computed now."""
        fleet = await self.fleet()
        for agent_id in ids:
            if fleet.get(agent_id) is None:
                raise UnknownAgent(fleet.why_missing(agent_id))
        measured_at = time.time()
        try:
            rows = await self.docker(lambda c: c.status(list(ids), probe=False, fleet=fleet))
            if probe:
                await self._probe(rows)
            agents = self._rows_json(rows, fleet, measured_at)
            engine_info: dict[str, Any] = {"ok": True, "error": None}
        except EngineUnreachable as exc:
            agents = self._offline_rows(fleet, list(ids))
            engine_info = {"ok": False, "error": str(exc)}
        return {
            "engine": engine_info,
            "agents": agents,
            "problems": [str(p) for p in fleet.errors],
            "warnings": len(fleet.warnings),
            "checked_at": measured_at,
        }

    async def _probe(self, rows: list[AgentStatus]) -> None:
        """The API column, probed on this event loop (the controller's probe, concurrently)."""
        targets = [r for r in rows if r.state == "running" and r.published]

        async def one(row: AgentStatus) -> None:
            host, port = reach(row.published)
            async with self.runtime(f"http://{host}:{port}") as client:
                row.apply_probe(await client.probe())

        await asyncio.gather(*(one(r) for r in targets))

    async def status(self) -> dict:
        """The fleet's status; callers that arrive while one is being computed share it."""
        task = self._status_task
        if task is None or task.done():
            task = asyncio.ensure_future(self.compute_status())
            self._status_task = task
        return await asyncio.shield(task)

    async def agent_status(self, agent_id: str, probe: bool = True) -> dict:
        data = await self.compute_status((agent_id,), probe=probe)
        row = data["agents"][0] if data["agents"] else None
        return {"engine": data["engine"], "agent": row}

    async def restart_needed(self, agent: Agent) -> bool | None:
        """Whether the agent's container predates its settings (None: cannot tell now)."""
        try:
            status = await self.agent_status(agent.id, probe=False)
        except UnknownAgent:
            return None
        if not status["engine"]["ok"] or status["agent"] is None:
            return None
        return status["agent"]["restart_needed"]


def ui_state(request: Request) -> UIState:
    return request.app.state.ui
