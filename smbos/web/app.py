"""The operator UI: an ASGI app (Starlette) over the controller and the runtime client.

This module wires the app and nothing else; each part lives in the module named for it:

    state.py       what the app keeps between requests; its ways out (Docker, HTTP to the agents)
    pages.py       the HTML pages (render.py: templates and their Content-Security-Policy)
    api.py         the JSON API, which openapi.py describes
    streams.py     chat turns and skill runs as server-sent events
    proxy.py       each agent's own API, forwarded (relay.py: redacted; limits.py: bounded)
    body.py        request bodies: capped, JSON read strictly
    errors.py      every failure, answered at this boundary in one place
    middleware.py  the guard (security.py) and the security headers on every answer

The UI has no logic of its own: status, lifecycle and logs come from `Controller`, runtime data
from `AsyncRuntimeClient`, settings, memory and skills from `smbos.operations` (which the CLI uses).
Requests flow one way: middleware, route, endpoint, state; nothing below reaches back up.
"""

from __future__ import annotations

from contextlib import asynccontextmanager

import httpx
from starlette.applications import Starlette
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from smbos.project import Project
from smbos.web import api, pages, streams
from smbos.web.errors import HANDLERS
from smbos.web.middleware import GuardMiddleware
from smbos.web.proxy import proxy
from smbos.web.render import HERE, templates
from smbos.web.security import SESSION_PATH, Guard
from smbos.web.state import UIState


# Every route, pages included; openapi.py describes each by its name.
def routes() -> list:
    return [
        Route("/", pages.fleet_page, methods=["GET"], name="fleet_page"),
        Route("/agents/{agent_id}", pages.agent_page, methods=["GET"], name="agent_page"),
        Route(
            "/agents/{agent_id}/settings",
            pages.settings_page,
            methods=["GET"],
            name="settings_page",
        ),
        Route(
            "/agents/{agent_id}/skills/{skill_id}",
            pages.skill_page,
            methods=["GET"],
            name="skill_page",
        ),
        Route("/agents/{agent_id}/api/{path:path}", proxy, methods=["GET", "POST"], name="proxy"),
        Route("/api/openapi.json", api.api_openapi, methods=["GET"], name="openapi"),
        Route(SESSION_PATH, api.api_session, methods=["POST", "DELETE"], name="session"),
        Route("/api/status", api.api_status, methods=["GET"], name="status"),
        Route("/api/heal", api.api_heal, methods=["GET"], name="heal"),
        Route("/api/agents", api.api_agents, methods=["GET"], name="agents"),
        Route("/api/agents/{agent_id}", api.api_agent, methods=["GET"], name="agent"),
        Route(
            "/api/agents/{agent_id}/start", api.lifecycle("start"), methods=["POST"], name="start"
        ),
        Route("/api/agents/{agent_id}/stop", api.lifecycle("stop"), methods=["POST"], name="stop"),
        Route(
            "/api/agents/{agent_id}/restart",
            api.lifecycle("restart"),
            methods=["POST"],
            name="restart",
        ),
        Route("/api/agents/{agent_id}/logs", api.api_logs, methods=["GET"], name="logs"),
        Route("/api/agents/{agent_id}/tasks", api.api_tasks, methods=["GET"], name="tasks"),
        Route(
            "/api/agents/{agent_id}/tasks/{task_id}/{action}",
            api.api_task_action,
            methods=["POST"],
            name="task_action",
        ),
        Route(
            "/api/agents/{agent_id}/messages", api.api_messages, methods=["GET"], name="messages"
        ),
        Route("/api/agents/{agent_id}/chat", streams.api_chat, methods=["POST"], name="chat"),
        Route("/api/agents/{agent_id}/env", api.api_env_get, methods=["GET"], name="env_get"),
        Route("/api/agents/{agent_id}/env", api.api_env_put, methods=["PUT"], name="env_put"),
        Route("/api/agents/{agent_id}/memory", api.api_memory, methods=["GET"], name="memory"),
        Route(
            "/api/agents/{agent_id}/memory/{file:path}",
            api.api_memory_file,
            methods=["GET"],
            name="memory_file",
        ),
        Route("/api/agents/{agent_id}/skills", api.api_skills, methods=["GET"], name="skills"),
        Route(
            "/api/agents/{agent_id}/skills/{skill_id}",
            streams.api_skill_run,
            methods=["POST"],
            name="skill_run",
        ),
        Mount("/static", StaticFiles(directory=HERE / "static"), name="static"),
    ]


def create_app(
    project: Project,
    token: str,
    *,
    host: str = "127.0.0.1",
    allow_hosts: tuple[str, ...] = (),
    engine_timeout: int = 10,
    transport: httpx.AsyncBaseTransport | None = None,
    docker_client=None,
) -> Starlette:
    """The UI for `project`. `token` guards every changing request (security.Guard).

    `transport` carries every request to the agents' runtimes (proxy and runtime client) and
    `docker_client` every call to the engine; by default the UI makes its own (a pooled HTTP
    transport, `controller.engine()`). Given ones stay the caller's to close."""
    guard = Guard(token=token, bind_host=host, extra_hosts=allow_hosts)
    state = UIState(
        project,
        guard,
        engine_timeout=engine_timeout,
        transport=transport,
        docker_client=docker_client,
    )

    @asynccontextmanager
    async def lifespan(app):
        try:
            yield
        finally:
            await state.close()

    app = Starlette(routes=routes(), lifespan=lifespan, exception_handlers=dict(HANDLERS))
    app.state.ui = state
    app.state.templates = templates()
    app.add_middleware(GuardMiddleware, guard=guard, templates=app.state.templates)
    return app
