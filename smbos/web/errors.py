"""The UI's HTTP boundary for failures: every exception an endpoint lets out becomes an answer here.

The JSON API and the proxy answer `{"error": <one line>, "kind": <what failed>}` (the kinds:
`smbos.errors.Kind`); a page answers with the error page. Endpoints raise and never build error
answers for the cases below, so each failure has one status and one kind wherever it happens:

    SmbosError          its class's HTTP status and kind (smbos.errors: the one tree)
    RuntimeProblem      502 runtime_<problem kind> (an agent's runtime, named with its address)
    docker's APIError   502 docker (errors.from_docker: the engine's own reason)
    HTTPException       its status; kind http (the router: no such route or method)
    anything else       500 internal (errors.Internal), one line naming the failure, never a
                        traceback
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import docker.errors
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from smbos import operations as ops
from smbos.agent import Agent
from smbos.errors import (
    EngineUnreachable,
    Internal,
    Kind,
    RuntimeUnavailable,
    SmbosError,
    from_docker,
)
from smbos.nanoclaw.runtime import RuntimeProblem
from smbos.web.render import page


def error(exc: SmbosError) -> JSONResponse:
    """The JSON answer of an error of the tree: its one line, its status and its kind."""
    return _answer(exc.http_status, str(exc), exc.kind)


def _answer(status: int, message: str, kind: Kind) -> JSONResponse:
    return JSONResponse(
        {"error": message, "kind": Kind(kind).value},
        status_code=status,
        headers={"Cache-Control": "no-store"},
    )


def ok(data: Any, status: int = 200) -> JSONResponse:
    return JSONResponse(data, status_code=status, headers={"Cache-Control": "no-store"})


def runtime_unavailable(agent: Agent, problem: RuntimeProblem) -> RuntimeUnavailable:
    return RuntimeUnavailable(
        f"{agent.id}: runtime at {ops.runtime_url(agent)}: {problem}", problem
    )


def runtime_error(agent: Agent, problem: RuntimeProblem) -> JSONResponse:
    failure = runtime_unavailable(agent, problem)
    return error(failure)


def _wants_json(scope_path: str) -> bool:
    return scope_path.startswith("/api/") or "/api/" in scope_path


def _error_page(request: Request, status: int, title: str, message: str) -> Response:
    return page(request, "error.html", status=status, title=title, message=message)


async def _smbos_error(request: Request, exc: SmbosError) -> Response:
    if _wants_json(request.url.path):
        return error(exc)
    title = "Docker engine unreachable" if isinstance(exc, EngineUnreachable) else "Error"
    return _error_page(request, exc.http_status, title, str(exc))


async def _runtime_problem(request: Request, problem: RuntimeProblem) -> Response:
    """Only routes of one agent (`{agent_id}` in the path) call a runtime; the agent was found
    before the call, so it is found again here (from the fleet already loaded)."""
    agent = await request.app.state.ui.agent(request.path_params["agent_id"])
    return runtime_error(agent, problem)


async def _http_error(request: Request, exc: HTTPException) -> Response:
    if _wants_json(request.url.path):
        return _answer(exc.status_code, exc.detail or "error", Kind.HTTP)  # the router's own
    return _error_page(
        request,
        exc.status_code,
        "Not found" if exc.status_code == 404 else "Error",
        exc.detail or "",
    )


async def _internal_error(request: Request, exc: Exception) -> Response:
    # One line naming the failure; never a traceback or a request body in the answer.
    failure = Internal(f"internal error: {type(exc).__name__}: {' '.join(str(exc).split())[:300]}")
    if _wants_json(request.url.path):
        return error(failure)
    return _error_page(request, failure.http_status, "Internal error", str(failure))


async def _docker_error(request: Request, exc: Exception) -> Response:
    return await _smbos_error(request, from_docker(exc, f"{request.method} {request.url.path}"))


# Each handler takes the class it is registered for (its second argument's type depends on the
# key, which a dict's type cannot say: hence Any there).
HANDLERS: dict[type[Exception], Callable[[Request, Any], Awaitable[Response]]] = {
    SmbosError: _smbos_error,
    RuntimeProblem: _runtime_problem,
    docker.errors.APIError: _docker_error,
    HTTPException: _http_error,
    Exception: _internal_error,
}
