"""The UI's HTTP boundary for failures: every exception an endpoint lets out becomes an answer here.

The JSON API and the proxy answer `{"error": <one line>, "kind": <what failed>}`; a page answers
with the error page. Endpoints raise and never build error answers for the cases below, so each
failure has one status and one kind wherever it happens:

    ApiError            its own status and kind (a refusal the UI itself makes)
    OpError             its status; kind refused, or not_found (smbos.operations)
    EngineUnreachable   503 engine_unreachable (the Docker engine, now or mid-request)
    RuntimeProblem      502 runtime_<problem kind> (an agent's runtime, named with its address)
    HTTPException       its status; kind http (the router: no such route or method)
    anything else       500 internal, one line naming the failure, never a traceback
"""

from __future__ import annotations

from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from smbos import operations as ops
from smbos.agent import Agent
from smbos.controller import EngineUnreachable
from smbos.runtime import RuntimeProblem
from smbos.web.render import page


class ApiError(Exception):
    def __init__(self, status: int, message: str, kind: str = "error"):
        super().__init__(message)
        self.status = status
        self.message = message
        self.kind = kind


def error(status: int, message: str, kind: str = "error") -> JSONResponse:
    return JSONResponse({"error": message, "kind": kind}, status_code=status,
                        headers={"Cache-Control": "no-store"})


def ok(data: Any, status: int = 200) -> JSONResponse:
    return JSONResponse(data, status_code=status, headers={"Cache-Control": "no-store"})


def runtime_error(agent: Agent, problem: RuntimeProblem) -> JSONResponse:
    return error(502, f"{agent.id}: runtime at {ops.runtime_url(agent)}: {problem}",
                 f"runtime_{problem.kind.value}")


def _wants_json(scope_path: str) -> bool:
    return scope_path.startswith("/api/") or "/api/" in scope_path


def _error_page(request: Request, status: int, title: str, message: str) -> Response:
    return page(request, "error.html", status=status, title=title, message=message)


async def _api_error(request: Request, exc: ApiError) -> Response:
    if _wants_json(request.url.path):
        return error(exc.status, exc.message, exc.kind)
    return _error_page(request, exc.status, "Error", exc.message)


async def _op_error(request: Request, exc: ops.OpError) -> Response:
    return error(exc.status, str(exc), "refused" if exc.status != 404 else "not_found")


async def _engine_unreachable(request: Request, exc: EngineUnreachable) -> Response:
    if _wants_json(request.url.path):
        return error(503, str(exc), "engine_unreachable")
    return _error_page(request, 503, "Docker engine unreachable", str(exc))


async def _runtime_problem(request: Request, problem: RuntimeProblem) -> Response:
    """Only routes of one agent (`{agent_id}` in the path) call a runtime; the agent was found
    before the call, so it is found again here (from the fleet already loaded)."""
    agent = await request.app.state.ui.agent(request.path_params["agent_id"])
    return runtime_error(agent, problem)


async def _http_error(request: Request, exc: HTTPException) -> Response:
    if _wants_json(request.url.path):
        return error(exc.status_code, exc.detail or "error", "http")
    return _error_page(request, exc.status_code,
                       "Not found" if exc.status_code == 404 else "Error", exc.detail or "")


async def _internal_error(request: Request, exc: Exception) -> Response:
    # One line naming the failure; never a traceback or a request body in the answer.
    message = f"internal error: {type(exc).__name__}: {' '.join(str(exc).split())[:300]}"
    if _wants_json(request.url.path):
        return error(500, message, "internal")
    return _error_page(request, 500, "Internal error", message)


HANDLERS = {
    ApiError: _api_error,
    ops.OpError: _op_error,
    EngineUnreachable: _engine_unreachable,
    RuntimeProblem: _runtime_problem,
    HTTPException: _http_error,
    Exception: _internal_error,
}
