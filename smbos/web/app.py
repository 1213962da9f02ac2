"""The operator UI: an ASGI app (Starlette) over the controller and the runtime client.

Pages are Jinja2 templates with vanilla JS and CSS from `static/`; every page action goes through
the JSON API below, which `openapi.py` describes. Blocking Docker SDK calls run in worker threads.
The UI has no logic of its own: status, lifecycle and logs come from `Controller`, runtime data
from `AsyncRuntimeClient`, settings, memory and skills from `smbos.operations` (which the CLI uses).
"""

from __future__ import annotations

import asyncio
import dataclasses
import http.cookiejar
import json
import re
import secrets
import threading
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import jinja2
import yaml
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers, MutableHeaders
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response, StreamingResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from smbos import __version__
from smbos.agent import Agent, Fleet
from smbos.controller import (
    AgentStatus,
    Controller,
    EngineUnreachable,
    engine,
    heal_log,
)
from smbos.errors import SmbosError
from smbos.project import Project
from smbos.runtime import (
    CHAT_TIMEOUTS,
    AsyncRuntimeClient,
    ChatEvent,
    RuntimeClient,
    RuntimeProblem,
    classify_transport_error,
)
from smbos import compose, redact, schedules
from smbos import operations as ops
from smbos.web import markdown
from smbos.web.security import SESSION_PATH, Guard

HERE = Path(__file__).resolve().parent
MAX_BODY_BYTES = 1024 * 1024
ENGINE_RETRY_S = 2.0
PROXY_TIMEOUT = httpx.Timeout(connect=2.0, read=30.0, write=10.0, pool=5.0)
PROXY_STREAM_TIMEOUT = httpx.Timeout(connect=2.0, read=CHAT_TIMEOUTS.read, write=10.0, pool=5.0)


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


class EngineDown(SmbosError):
    """The Docker engine cannot be reached (now, or it stopped answering)."""


class ApiError(Exception):
    def __init__(self, status: int, message: str, kind: str = "error"):
        super().__init__(message)
        self.status = status
        self.message = message
        self.kind = kind


def _engine_errors() -> tuple[type[BaseException], ...]:
    import requests.exceptions

    return (requests.exceptions.ConnectionError, requests.exceptions.Timeout)


# --------------------------------------------------------------------------------- state


class UIState:
    """What the app keeps between requests: the Docker client, the loaded fleet, actions in
    flight, the shared status computation, and the HTTP client of the proxy."""

    def __init__(self, project: Project, guard: Guard, engine_timeout: int = 10):
        self.project = project
        self.guard = guard
        self.engine_timeout = engine_timeout
        self._client = None
        self._engine_error: str | None = None
        self._engine_checked = 0.0
        self._client_lock = threading.Lock()
        self._fleet: Fleet | None = None
        self._fleet_sig: tuple | None = None
        self._fleet_lock = threading.Lock()
        self._status_task: asyncio.Task | None = None
        self.actions: dict[str, str] = {}
        self._http: httpx.AsyncClient | None = None
        self._transport: httpx.AsyncHTTPTransport | None = None

    # -- HTTP to the agents: one connection pool for the proxy and every runtime client, made on
    # first use (on the app's event loop) and closed at shutdown. Building an httpx client per
    # request costs milliseconds of CPU each (TLS context); twenty probes a poll add up.

    @property
    def transport(self) -> httpx.AsyncHTTPTransport:
        if self._transport is None:
            self._transport = httpx.AsyncHTTPTransport(
                limits=httpx.Limits(max_connections=400, max_keepalive_connections=100))
        return self._transport

    @property
    def http(self) -> httpx.AsyncClient:
        if self._http is None:
            self._http = httpx.AsyncClient(transport=_Shared(self.transport), trust_env=False,
                                           follow_redirects=False, timeout=PROXY_TIMEOUT,
                                           cookies=_no_cookies())
        return self._http

    def runtime(self, base_url: str, **options) -> AsyncRuntimeClient:
        """The runtime client of one agent, on the shared connection pool."""
        return AsyncRuntimeClient(base_url, transport=_Shared(self.transport), **options)

    async def close(self) -> None:
        if self._http is not None:
            await self._http.aclose()
            self._http = None
        if self._transport is not None:
            await self._transport.aclose()
            self._transport = None

    # -- Docker ----------------------------------------------------------------------------

    def _docker_client(self):
        with self._client_lock:
            if self._client is not None:
                return self._client
            if self._engine_error and time.monotonic() - self._engine_checked < ENGINE_RETRY_S:
                raise EngineDown(self._engine_error, 3)
            self._engine_checked = time.monotonic()
            try:
                self._client = engine(timeout=self.engine_timeout)
            except EngineUnreachable as exc:
                self._engine_error = str(exc)
                raise EngineDown(str(exc), 3) from None
            self._engine_error = None
            return self._client

    def _engine_failed(self, exc: BaseException) -> EngineDown:
        reason = " ".join(str(exc).split())[:200] or type(exc).__name__
        message = (f"Docker engine stopped answering ({reason}); start it (`sudo systemctl start "
                   "docker`) or point DOCKER_HOST at a running engine")
        with self._client_lock:
            self._client = None
            self._engine_error = message
            self._engine_checked = time.monotonic()
        return EngineDown(message, 3)

    @property
    def engine_error(self) -> str | None:
        """The last known engine problem (None when it answered last time, or never asked)."""
        return self._engine_error

    async def docker(self, func: Callable[[Controller], Any]) -> Any:
        """Run `func(controller)` in a worker thread; engine failures become EngineDown."""

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
        except EngineDown as exc:
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
            raise ApiError(404, fleet.why_missing(agent_id), "unknown_agent")
        return agent

    # -- status ----------------------------------------------------------------------------

    def _rows_json(self, rows: list[AgentStatus], fleet: Fleet, measured_at: float) -> list[dict]:
        out = []
        for row in rows:
            data = row.to_json()
            agent = fleet.get(row.id)
            data["restart_needed"] = bool(agent) and ops.restart_needed(
                agent, row.state, row.uptime_s, measured_at)
            data["action"] = self.actions.get(row.id)
            out.append(data)
        return out

    def _offline_rows(self, fleet: Fleet, ids: list[str]) -> list[dict]:
        rows = []
        for agent in fleet.agents:
            if ids and agent.id not in ids:
                continue
            row = AgentStatus(id=agent.id, name=agent.name, enabled=agent.enabled,
                              port=agent.port, state="unknown", health="-", api="-")
            data = row.to_json()
            data["restart_needed"] = False
            data["action"] = self.actions.get(agent.id)
            rows.append(data)
        return rows

    async def _compute_status(self, ids: tuple[str, ...] = (), probe: bool = True) -> dict:
        fleet = await self.fleet()
        for agent_id in ids:
            if fleet.get(agent_id) is None:
                raise ApiError(404, fleet.why_missing(agent_id), "unknown_agent")
        measured_at = time.time()
        try:
            rows = await self.docker(lambda c: c.status(list(ids), probe=False, fleet=fleet))
            if probe:
                await self._probe(rows)
            agents = self._rows_json(rows, fleet, measured_at)
            engine_info = {"ok": True, "error": None}
        except EngineDown as exc:
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
            host, _, port = row.published.rpartition(":")
            host = "127.0.0.1" if host in ("0.0.0.0", "") else host
            async with self.runtime(f"http://{host}:{port}") as client:
                result = await client.probe()
            row.api = result.api.value
            row.api_detail = result.detail or ""
            row.latency_ms = result.latency_ms

        await asyncio.gather(*(one(r) for r in targets))

    async def status(self) -> dict:
        """The fleet's status; callers that arrive while one is being computed share it."""
        task = self._status_task
        if task is None or task.done():
            task = asyncio.ensure_future(self._compute_status())
            self._status_task = task
        return await asyncio.shield(task)

    async def agent_status(self, agent_id: str, probe: bool = True) -> dict:
        data = await self._compute_status((agent_id,), probe=probe)
        row = data["agents"][0] if data["agents"] else None
        return {"engine": data["engine"], "agent": row}


# ------------------------------------------------------------------------------- helpers


def _state(request: Request) -> UIState:
    return request.app.state.ui


def error(status: int, message: str, kind: str = "error") -> JSONResponse:
    return JSONResponse({"error": message, "kind": kind}, status_code=status,
                        headers={"Cache-Control": "no-store"})


def ok(data: Any, status: int = 200) -> JSONResponse:
    return JSONResponse(data, status_code=status, headers={"Cache-Control": "no-store"})


async def read_json(request: Request) -> dict:
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY_BYTES:
            raise ApiError(413, f"request body larger than {MAX_BODY_BYTES} bytes", "too_large")
    if not body:
        return {}
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise ApiError(400, "request body is not JSON", "bad_request") from None
    if not isinstance(data, dict):
        raise ApiError(400, "expected a JSON object", "bad_request")
    return data


def sse(event: str, data: Any) -> bytes:
    return f"event: {event}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n".encode()


def event_frame(event: ChatEvent) -> bytes:
    kind = getattr(event.type, "value", event.type)
    return sse(kind, {"text": event.text} if kind in ("message", "error") else {})


SSE_HEADERS = {"Cache-Control": "no-cache, no-store", "X-Accel-Buffering": "no"}


class _Scrubbed:
    """A chat stream whose message and error texts pass through the agent's redactor."""

    def __init__(self, stream, scrub: redact.Redactor):
        self.stream = stream
        self.scrub = scrub

    def __aiter__(self):
        return self

    async def __anext__(self) -> ChatEvent:
        return self.clean(await self.stream.__anext__())

    def clean(self, event: ChatEvent | None) -> ChatEvent | None:
        if event is None or not event.text:
            return event
        return dataclasses.replace(event, text=self.scrub(event.text))

    async def aclose(self) -> None:
        await self.stream.aclose()


async def open_chat(state: UIState, agent: Agent, message: str):
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


def runtime_error(agent: Agent, problem: RuntimeProblem) -> JSONResponse:
    return error(502, f"{agent.id}: runtime at {ops.runtime_url(agent)}: {problem}",
                 f"runtime_{problem.kind.value}")


# --------------------------------------------------------------------------------- pages


def _templates() -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(HERE / "templates"),
                             autoescape=True, trim_blocks=True, lstrip_blocks=True)
    env.globals["version"] = __version__
    return env


def page_csp(nonce: str) -> str:
    """A page runs only the script tag that carries this response's nonce: no other URL of this
    origin (a proxied agent answer included) can ever run as the UI's script."""
    return (f"default-src 'self'; script-src 'nonce-{nonce}'; style-src 'self'; "
            "img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; "
            "form-action 'self'; frame-ancestors 'none'")


def render_page(templates: jinja2.Environment, name: str, status: int, **context) -> HTMLResponse:
    nonce = secrets.token_urlsafe(18)
    html = templates.get_template(name).render(csp_nonce=nonce, **context)
    return HTMLResponse(html, status_code=status, headers={
        "Cache-Control": "no-store", "Content-Security-Policy": page_csp(nonce)})


def page(request: Request, name: str, status: int = 200, **context) -> HTMLResponse:
    state = _state(request)
    return render_page(request.app.state.templates, name, status, request=request,
                       project=state.project, exposed=state.guard.exposed, **context)


async def page_agent(request: Request) -> Agent | HTMLResponse:
    try:
        return await _state(request).agent(request.path_params["agent_id"])
    except ApiError as exc:
        title = "Unknown agent" if exc.message.startswith("unknown") else "Invalid agent"
        return page(request, "error.html", status=exc.status, title=title, message=exc.message)


async def fleet_page(request: Request) -> Response:
    state = _state(request)
    fleet = await state.fleet()
    engine_problem = await state.check_engine()
    return page(request, "fleet.html", title="Fleet", fleet=fleet, engine_problem=engine_problem,
                problems=[str(p) for p in fleet.errors])


async def agent_page(request: Request) -> Response:
    agent = await page_agent(request)
    if isinstance(agent, Response):
        return agent
    config = yaml.safe_dump(agent.config.model_dump(mode="json", exclude_defaults=False),
                            sort_keys=False, allow_unicode=True, width=100)
    return page(request, "agent.html", title=agent.name, agent=agent,
                identity=markdown.render(agent.identity), config_text=config,
                summary=ops.agent_summary(agent))


async def settings_page(request: Request) -> Response:
    agent = await page_agent(request)
    if isinstance(agent, Response):
        return agent
    # The values (masked) and key names come from GET /api/agents/<id>/env, which needs the token:
    # the page itself holds nothing of `.env`.
    return page(request, "settings.html", title=f"{agent.name}: settings", agent=agent)


async def skill_page(request: Request) -> Response:
    agent = await page_agent(request)
    if isinstance(agent, Response):
        return agent
    try:
        skill = ops.find_skill(agent, request.path_params["skill_id"])
    except ops.OpError as exc:
        return page(request, "error.html", status=404, title="Unknown skill", message=str(exc))
    return page(request, "skill.html", title=f"{agent.name}: {skill.title}", agent=agent,
                skill=skill)


# ------------------------------------------------------------------------------ JSON API


async def api_status(request: Request) -> Response:
    state = _state(request)
    ids = tuple(request.query_params.getlist("agent"))
    data = await (state._compute_status(ids) if ids else state.status())
    return ok(data, 200 if data["engine"]["ok"] else 503)


async def api_agents(request: Request) -> Response:
    fleet = await _state(request).fleet()
    return ok({"agents": [ops.agent_summary(a) for a in fleet.agents],
               "problems": [str(p) for p in fleet.errors]})


async def api_agent(request: Request) -> Response:
    state = _state(request)
    agent = await state.agent(request.path_params["agent_id"])
    status = await state.agent_status(agent.id)
    data = ops.agent_summary(agent)
    data.update({
        "identity": agent.identity,
        "front_matter": agent.front.model_dump(mode="json"),
        "config": agent.config.model_dump(mode="json"),
        "status": status["agent"],
        "engine": status["engine"],
        "runtime_url": ops.runtime_url(agent),
    })
    return ok(data)


def _lifecycle(verb: str):
    async def endpoint(request: Request) -> Response:
        state = _state(request)
        agent = await state.agent(request.path_params["agent_id"])
        running = state.actions.get(agent.id)
        if running:
            return error(409, f"{agent.id}: {running} already in progress", "busy")
        state.actions[agent.id] = verb
        try:
            await state.docker(lambda c: getattr(c, verb)(agent))
        except EngineDown:
            raise
        except SmbosError as exc:
            return error(409, str(exc), "no_container")
        except Exception as exc:  # noqa: BLE001 - Docker API errors, shown to the operator
            return error(502, f"{agent.id}: {verb} failed: Docker: "
                              f"{' '.join(str(getattr(exc, 'explanation', None) or exc).split())}",
                         "docker")
        finally:
            state.actions.pop(agent.id, None)
        status = await state.agent_status(agent.id)
        return ok({"ok": True, "agent_id": agent.id, "action": verb, "status": status["agent"]})

    endpoint.__name__ = f"api_{verb}"
    return endpoint


async def api_logs(request: Request) -> Response:
    state = _state(request)
    agent = await state.agent(request.path_params["agent_id"])
    raw = request.query_params.get("tail", "200")
    if not raw.isdigit() or not 1 <= int(raw) <= 5000:
        raise ApiError(400, "tail: expected a number from 1 to 5000", "bad_request")
    tail = int(raw)
    try:
        lines = await state.docker(lambda c: list(c.logs(agent, tail=tail)))
    except EngineDown:
        raise
    except SmbosError as exc:
        return error(409, str(exc), "no_container")
    return ok({"agent_id": agent.id, "lines": lines})


def _instance_dir(state: UIState, agent: Agent) -> Path:
    return compose.Host(project_dir=state.project.project_dir).state_dir(agent.id)


async def api_tasks(request: Request) -> Response:
    state = _state(request)
    agent = await state.agent(request.path_params["agent_id"])
    try:
        async with state.runtime(ops.runtime_url(agent)) as client:
            page_ = await client.tasks()
    except RuntimeProblem as problem:
        return runtime_error(agent, problem)
    data = redact.for_agent(agent).deep(page_.model_dump(mode="json", by_alias=True))
    data["schedules"] = schedules.support(_instance_dir(state, agent)).to_json()
    return ok(data)


async def api_task_action(request: Request) -> Response:
    """Pause, resume or cancel a task through NanoClaw's IPC; answers once the runtime shows it."""
    state = _state(request)
    agent = await state.agent(request.path_params["agent_id"])
    action = request.path_params["action"]
    if action not in schedules.ACTIONS:
        raise ApiError(404, f"unknown task action {action!r}", "not_found")
    task_id = request.path_params["task_id"]
    url = ops.runtime_url(agent)

    def act():
        with RuntimeClient(url) as client:
            task = schedules.apply(_instance_dir(state, agent), task_id, action,
                                   lambda: client.tasks().tasks)
        return None if task is None else redact.for_agent(agent).deep(task.model_dump(mode="json"))

    try:
        task = await asyncio.to_thread(act)
    except RuntimeProblem as problem:
        return runtime_error(agent, problem)
    except SmbosError as exc:
        status = 404 if str(exc).startswith("no task") else 409
        return error(status, str(exc), "not_found" if status == 404 else "conflict")
    return ok({"ok": True, "agent_id": agent.id, "task_id": task_id, "action": action,
               "task": task})


async def api_messages(request: Request) -> Response:
    state = _state(request)
    agent = await state.agent(request.path_params["agent_id"])
    raw = request.query_params.get("limit", "200")
    if not raw.isdigit() or not 1 <= int(raw) <= 1000:
        raise ApiError(400, "limit: expected a number from 1 to 1000", "bad_request")
    try:
        async with state.runtime(ops.runtime_url(agent)) as client:
            messages = await client.messages(int(raw))
    except RuntimeProblem as problem:
        return runtime_error(agent, problem)
    scrub = redact.for_agent(agent)
    return ok({"messages": [scrub.deep(m.model_dump(mode="json")) for m in messages]})


async def api_chat(request: Request) -> Response:
    agent = await _state(request).agent(request.path_params["agent_id"])
    body = await read_json(request)
    message = ops.check_message(body.get("message"))
    try:
        client, stream, first = await open_chat(_state(request), agent, message)
    except RuntimeProblem as problem:
        return runtime_error(agent, problem)

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


async def api_env_get(request: Request) -> Response:
    state = _state(request)
    agent = await state.agent(request.path_params["agent_id"])
    keys = await run_in_threadpool(ops.env_keys, agent)
    return ok({"agent_id": agent.id, "keys": [k.to_json() for k in keys],
               "restart_needed": await _restart_needed(state, agent)})


async def _restart_needed(state: UIState, agent: Agent) -> bool | None:
    try:
        status = await state.agent_status(agent.id, probe=False)
    except ApiError:
        return None
    if not status["engine"]["ok"] or status["agent"] is None:
        return None
    return status["agent"]["restart_needed"]


async def api_env_put(request: Request) -> Response:
    state = _state(request)
    agent = await state.agent(request.path_params["agent_id"])
    body = await read_json(request)
    values = body.get("values")
    if not isinstance(values, dict):
        raise ApiError(400, 'expected {"values": {"KEY": "value", ...}}', "bad_request")
    result = await run_in_threadpool(ops.update_env, agent, values)
    keys = await run_in_threadpool(ops.env_keys, agent)
    data = result.to_json()
    data.update({"agent_id": agent.id, "keys": [k.to_json() for k in keys],
                 "restart_needed": await _restart_needed(state, agent)})
    return ok(data)


async def api_memory(request: Request) -> Response:
    agent = await _state(request).agent(request.path_params["agent_id"])
    files = await run_in_threadpool(ops.list_memory, agent)
    return ok({"agent_id": agent.id, "files": files, "max_bytes": ops.MEMORY_MAX_BYTES})


async def api_memory_file(request: Request) -> Response:
    agent = await _state(request).agent(request.path_params["agent_id"])
    rel = request.path_params["file"]
    text = await run_in_threadpool(ops.read_memory, agent, rel)
    return ok({"agent_id": agent.id, "path": rel, "text": text})


async def api_skills(request: Request) -> Response:
    agent = await _state(request).agent(request.path_params["agent_id"])
    return ok({"agent_id": agent.id,
               "skills": [s.model_dump(mode="json") for s in agent.config.skills]})


async def api_skill_run(request: Request) -> Response:
    agent = await _state(request).agent(request.path_params["agent_id"])
    skill = ops.find_skill(agent, request.path_params["skill_id"])
    body = await read_json(request)
    prompt = ops.skill_prompt(skill, body.get("values") or {})
    accept = request.headers.get("accept", "")
    try:
        client, stream, first = await open_chat(_state(request), agent, prompt)
    except RuntimeProblem as problem:
        return runtime_error(agent, problem)

    if "application/json" in accept and "text/event-stream" not in accept:
        texts, errors = [], []
        try:
            events = ([first] if first is not None else [])
            async for event in stream:
                events.append(event)
        except RuntimeProblem as problem:
            errors.append(f"{agent.id}: {problem}")
        finally:
            await stream.aclose()
            await client.aclose()
        for event in events:
            if event.type == "message":
                texts.append(event.text or "")
            elif event.type == "error":
                errors.append(event.text or "")
        return ok({"agent_id": agent.id, "skill": skill.id, "prompt": prompt,
                   "messages": texts, "errors": errors,
                   "result": ops.skill_result(skill, "\n\n".join(texts))})

    async def events_() -> AsyncIterator[bytes]:
        texts: list[str] = []
        try:
            yield sse("prompt", {"text": prompt})
            pending = [first] if first is not None else []
            for event in pending:
                if event.type == "message":
                    texts.append(event.text or "")
                if event.type != "done":
                    yield event_frame(event)
            async for event in stream:
                if event.type == "message":
                    texts.append(event.text or "")
                if event.type == "done":
                    break
                yield event_frame(event)
        except RuntimeProblem as problem:
            yield sse("error", {"text": f"{agent.id}: {problem}"})
        finally:
            await stream.aclose()
            await client.aclose()
        yield sse("result", ops.skill_result(skill, "\n\n".join(texts)))
        yield sse("done", {})

    return StreamingResponse(events_(), media_type="text/event-stream", headers=SSE_HEADERS)


async def api_heal(request: Request) -> Response:
    state = _state(request)
    raw = request.query_params.get("limit", "50")
    if not raw.isdigit() or not 1 <= int(raw) <= 1000:
        raise ApiError(400, "limit: expected a number from 1 to 1000", "bad_request")
    actions = await run_in_threadpool(heal_log, state.project, int(raw))
    return ok({"actions": [a.to_json() for a in reversed(actions)]})


async def api_session(request: Request) -> Response:
    """POST: the token (checked by the guard) is right; the answer sets the cookie that opens the
    pages when the UI listens beyond loopback. DELETE: forget it. The page's script calls POST
    before it keeps a token, so a link cannot plant a wrong one."""
    guard = _state(request).guard
    response = ok({"ok": True, "exposed": guard.exposed})
    if request.method == "DELETE":
        response.headers["Set-Cookie"] = guard.session_cookie_cleared()
    else:
        secure = request.headers.get("origin", "").startswith("https:")
        response.headers["Set-Cookie"] = guard.session_cookie(secure)
    return response


async def api_openapi(request: Request) -> Response:
    from smbos.web.openapi import document

    return ok(document(request.app))


# --------------------------------------------------------------------------------- proxy

_REQUEST_HEADERS = ("content-type", "accept", "cache-control", "last-event-id")
# What an agent's answer may be: data, never a document or a script (the proxy serves it on the
# UI's own origin, where a page would run with the UI's rights).
PROXY_MEDIA_TYPES = frozenset({"application/json", "text/event-stream"})
# Every proxied answer: never sniffed into something else, and sandboxed (an opaque origin, no
# script) should a browser render it anyway.
PROXY_HEADERS = {"X-Content-Type-Options": "nosniff",
                 "Content-Security-Policy": "sandbox; default-src 'none'; frame-ancestors 'none'",
                 "Cache-Control": "no-store"}
# A path under /api/: plain segments only. `%` is refused (a double-encoded `..` or NUL would be
# decoded by the runtime), and so are `.`/`..` segments, empty ones and control characters.
_PROXY_SEGMENT_RE = re.compile(r"^[A-Za-z0-9_~!$&'()*+,;=:@-][A-Za-z0-9._~!$&'()*+,;=:@-]*$")


def proxy_path_ok(sub: str) -> bool:
    return sub == "" or all(_PROXY_SEGMENT_RE.match(part) and part not in (".", "..")
                            for part in sub.split("/"))


def proxy_media_type(content_type: str | None) -> str | None:
    """`application/json; charset=utf-8` when the runtime's Content-Type may pass, else None."""
    if not content_type:
        return None
    media, _, params = content_type.partition(";")
    media = media.strip().lower()
    if media not in PROXY_MEDIA_TYPES:
        return None
    charset = re.search(r"charset=\"?([A-Za-z0-9._-]+)", params)
    return f"{media}; charset={charset.group(1)}" if charset else media


async def _first_bytes(response: httpx.Response) -> bytes:
    async for chunk in response.aiter_raw():
        if chunk:
            return chunk
    return b""


async def proxy(request: Request) -> Response:
    """Forward to the agent's own API, streaming the answer as it comes (server-sent events
    pass through unbuffered). Only JSON and event streams come back; anything else is refused."""
    state = _state(request)
    agent = await state.agent(request.path_params["agent_id"])
    sub = request.path_params["path"]
    if not proxy_path_ok(sub):
        raise ApiError(400, "expected a path under /api/ of plain segments (no '..', '%', "
                            "'\\' or control characters)", "bad_request")
    url = f"{ops.runtime_url(agent)}/api/{sub}"
    if request.url.query:
        url += f"?{request.url.query}"
    body = None
    if request.method == "POST":
        data = bytearray()
        async for chunk in request.stream():
            data += chunk
            if len(data) > MAX_BODY_BYTES:
                raise ApiError(413, f"request body larger than {MAX_BODY_BYTES} bytes",
                               "too_large")
        body = bytes(data)
    headers = {k: request.headers[k] for k in _REQUEST_HEADERS if k in request.headers}
    streaming = "text/event-stream" in request.headers.get("accept", "") or (
        request.method == "POST" and sub == "chat")
    upstream = state.http.build_request(request.method, httpx.URL(url), content=body,
                                        headers=headers,
                                        timeout=PROXY_STREAM_TIMEOUT if streaming
                                        else PROXY_TIMEOUT)
    route = f"{request.method} /api/{sub}"
    try:
        response = await state.http.send(upstream, stream=True)
    except httpx.HTTPError as exc:
        return runtime_error(agent, classify_transport_error(exc, route))
    media = proxy_media_type(response.headers.get("content-type"))
    out = dict(PROXY_HEADERS)
    if media is None:
        # Only an empty answer (an empty 404, a 204) passes without a type that may pass.
        try:
            body = await _first_bytes(response)
        except httpx.HTTPError:
            body = b""
        finally:
            await response.aclose()
        if body:
            shown = " ".join((response.headers.get("content-type") or "none").split())[:80]
            return error(502, f"{agent.id}: runtime at {ops.runtime_url(agent)} answered {route} "
                              f"with {response.status_code} and Content-Type {shown!r}; the proxy "
                              "passes only JSON and event streams", "runtime_content_type")
        return Response(status_code=response.status_code, headers=out)
    out["Content-Type"] = media
    if media == "text/event-stream":
        out.update(SSE_HEADERS)

    async def relay() -> AsyncIterator[bytes]:
        try:
            async for chunk in response.aiter_raw():
                yield chunk
        except httpx.HTTPError:
            pass  # the runtime dropped the connection mid-answer: end ours too
        finally:
            await response.aclose()

    return StreamingResponse(relay(), status_code=response.status_code, headers=out)


# ----------------------------------------------------------------------------- the app

# (methods, path, endpoint, name): every route, pages included; openapi.py describes each.
def routes() -> list:
    return [
        Route("/", fleet_page, methods=["GET"], name="fleet_page"),
        Route("/agents/{agent_id}", agent_page, methods=["GET"], name="agent_page"),
        Route("/agents/{agent_id}/settings", settings_page, methods=["GET"],
              name="settings_page"),
        Route("/agents/{agent_id}/skills/{skill_id}", skill_page, methods=["GET"],
              name="skill_page"),
        Route("/agents/{agent_id}/api/{path:path}", proxy, methods=["GET", "POST"],
              name="proxy"),
        Route("/api/openapi.json", api_openapi, methods=["GET"], name="openapi"),
        Route(SESSION_PATH, api_session, methods=["POST", "DELETE"], name="session"),
        Route("/api/status", api_status, methods=["GET"], name="status"),
        Route("/api/heal", api_heal, methods=["GET"], name="heal"),
        Route("/api/agents", api_agents, methods=["GET"], name="agents"),
        Route("/api/agents/{agent_id}", api_agent, methods=["GET"], name="agent"),
        Route("/api/agents/{agent_id}/start", _lifecycle("start"), methods=["POST"],
              name="start"),
        Route("/api/agents/{agent_id}/stop", _lifecycle("stop"), methods=["POST"],
              name="stop"),
        Route("/api/agents/{agent_id}/restart", _lifecycle("restart"), methods=["POST"],
              name="restart"),
        Route("/api/agents/{agent_id}/logs", api_logs, methods=["GET"], name="logs"),
        Route("/api/agents/{agent_id}/tasks", api_tasks, methods=["GET"], name="tasks"),
        Route("/api/agents/{agent_id}/tasks/{task_id}/{action}", api_task_action,
              methods=["POST"], name="task_action"),
        Route("/api/agents/{agent_id}/messages", api_messages, methods=["GET"],
              name="messages"),
        Route("/api/agents/{agent_id}/chat", api_chat, methods=["POST"], name="chat"),
        Route("/api/agents/{agent_id}/env", api_env_get, methods=["GET"], name="env_get"),
        Route("/api/agents/{agent_id}/env", api_env_put, methods=["PUT"], name="env_put"),
        Route("/api/agents/{agent_id}/memory", api_memory, methods=["GET"], name="memory"),
        Route("/api/agents/{agent_id}/memory/{file:path}", api_memory_file, methods=["GET"],
              name="memory_file"),
        Route("/api/agents/{agent_id}/skills", api_skills, methods=["GET"], name="skills"),
        Route("/api/agents/{agent_id}/skills/{skill_id}", api_skill_run, methods=["POST"],
              name="skill_run"),
        Mount("/static", StaticFiles(directory=HERE / "static"), name="static"),
    ]


def _wants_json(scope_path: str) -> bool:
    return scope_path.startswith("/api/") or "/api/" in scope_path


async def _api_error(request: Request, exc: ApiError) -> Response:
    if _wants_json(request.url.path):
        return error(exc.status, exc.message, exc.kind)
    return page(request, "error.html", status=exc.status, title="Error", message=exc.message)


async def _op_error(request: Request, exc: ops.OpError) -> Response:
    return error(exc.status, str(exc), "refused" if exc.status != 404 else "not_found")


async def _engine_down(request: Request, exc: EngineDown) -> Response:
    if _wants_json(request.url.path):
        return error(503, str(exc), "engine_unreachable")
    return page(request, "error.html", status=503, title="Docker engine unreachable",
                message=str(exc))


async def _http_error(request: Request, exc: HTTPException) -> Response:
    if _wants_json(request.url.path):
        return error(exc.status_code, exc.detail or "error", "http")
    return page(request, "error.html", status=exc.status_code, title="Not found"
                if exc.status_code == 404 else "Error", message=exc.detail or "")


async def _internal_error(request: Request, exc: Exception) -> Response:
    # One line naming the failure; never a traceback or a request body in the answer.
    message = f"internal error: {type(exc).__name__}: {' '.join(str(exc).split())[:300]}"
    if _wants_json(request.url.path):
        return error(500, message, "internal")
    return page(request, "error.html", status=500, title="Internal error", message=message)


SECURITY_HEADERS = {
    # Pages set their own (page_csp, with a nonce); everything else is data: no script at all.
    "content-security-policy": "default-src 'none'; frame-ancestors 'none'; sandbox",
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
    "cross-origin-opener-policy": "same-origin",
    "cross-origin-resource-policy": "same-origin",
}


class GuardMiddleware:
    """Host, Origin and token checks (security.Guard) and security headers on every answer."""

    def __init__(self, app, guard: Guard, templates: jinja2.Environment):
        self.app = app
        self.guard = guard
        self.templates = templates

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = Headers(scope=scope)
        refused = self.guard.check(scope["method"], scope["path"], headers,
                                   scope.get("scheme", "http"))

        async def send_with_headers(message):
            if message["type"] == "http.response.start":
                out = MutableHeaders(scope=message)
                for key, value in SECURITY_HEADERS.items():
                    if key not in out:
                        out[key] = value
            await send(message)

        if refused is not None:
            status, kind, message = refused
            if kind == "session":
                # A page, without the token: a page whose script gets the session cookie.
                response = render_page(self.templates, "session.html", status, title="UI token",
                                       message=message, exposed=True)
            else:
                response = JSONResponse({"error": message, "kind": kind}, status_code=status)
            return await response(scope, receive, send_with_headers)
        await self.app(scope, receive, send_with_headers)


def create_app(project: Project, token: str, *, host: str = "127.0.0.1",
               allow_hosts: tuple[str, ...] = (), engine_timeout: int = 10) -> Starlette:
    """The UI for `project`. `token` guards every changing request (security.Guard)."""
    guard = Guard(token=token, bind_host=host, extra_hosts=allow_hosts)
    state = UIState(project, guard, engine_timeout=engine_timeout)

    @asynccontextmanager
    async def lifespan(app):
        try:
            yield
        finally:
            await state.close()

    app = Starlette(routes=routes(), lifespan=lifespan, exception_handlers={
        ApiError: _api_error, ops.OpError: _op_error, EngineDown: _engine_down,
        HTTPException: _http_error, Exception: _internal_error,
    })
    app.state.ui = state
    app.state.templates = _templates()
    app.add_middleware(GuardMiddleware, guard=guard, templates=app.state.templates)
    return app
