"""The UI's HTTP boundary for failures: every exception an endpoint lets out becomes an answer here.

The JSON API and the proxy answer `{"error": <one line>, "kind": <what failed>}` (the kinds:
`smbos.errors.Kind`); a page answers with the error page. Endpoints raise and never build error
answers for the cases below, so each failure has one status and one kind wherever it happens:

    SmbosError          its class's HTTP status and kind (smbos.errors: the one tree; ApiError
                        is a refusal the UI itself makes, with its own)
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
from smbos.errors import EngineUnreachable, Kind, RuntimeUnavailable, SmbosError
from smbos.runtime import RuntimeProblem
from smbos.web.render import page


class ApiError(SmbosError):
    """A refusal the UI itself makes, with its HTTP status and kind."""

    def __init__(self, status: int, message: str, kind: Kind = Kind.BAD_REQUEST):
        super().__init__(message, http_status=status, kind=kind)

    @property
    def status(self) -> int:
        return self.http_status

    @property
    def message(self) -> str:
        return str(self)


def error(status: int, message: str, kind: Kind) -> JSONResponse:
    return JSONResponse({"error": message, "kind": Kind(kind).value}, status_code=status,
                        headers={"Cache-Control": "no-store"})


def ok(data: Any, status: int = 200) -> JSONResponse:
    return JSONResponse(data, status_code=status, headers={"Cache-Control": "no-store"})


def runtime_unavailable(agent: Agent, problem: RuntimeProblem) -> RuntimeUnavailable:
    return RuntimeUnavailable(f"{agent.id}: runtime at {ops.runtime_url(agent)}: {problem}",
                              problem)


def runtime_error(agent: Agent, problem: RuntimeProblem) -> JSONResponse:
    failure = runtime_unavailable(agent, problem)
    return error(failure.http_status, str(failure), failure.kind)


def _wants_json(scope_path: str) -> bool:
    return scope_path.startswith("/api/") or "/api/" in scope_path


def _error_page(request: Request, status: int, title: str, message: str) -> Response:
    return page(request, "error.html", status=status, title=title, message=message)


async def _smbos_error(request: Request, exc: SmbosError) -> Response:
    if _wants_json(request.url.path):
        return error(exc.http_status, str(exc), exc.kind)
    title = "Docker engine unreachable" if isinstance(exc, EngineUnreachable) else "Error"
    return _error_page(request, exc.http_status, title, str(exc))


async def _runtime_problem(request: Request, problem: RuntimeProblem) -> Response:
    """Only routes of one agent (`{agent_id}` in the path) call a runtime; the agent was found
    before the call, so it is found again here (from the fleet already loaded)."""
    agent = await request.app.state.ui.agent(request.path_params["agent_id"])
    return runtime_error(agent, problem)


async def _http_error(request: Request, exc: HTTPException) -> Response:
    if _wants_json(request.url.path):
        return error(exc.status_code, exc.detail or "error", Kind.HTTP)
    return _error_page(request, exc.status_code,
                       "Not found" if exc.status_code == 404 else "Error", exc.detail or "")


async def _internal_error(request: Request, exc: Exception) -> Response:
    # One line naming the failure; never a traceback or a request body in the answer.
    message = f"internal error: {type(exc).__name__}: {' '.join(str(exc).split())[:300]}"
    if _wants_json(request.url.path):
        return error(500, message, Kind.INTERNAL)
    return _error_page(request, 500, "Internal error", message)


HANDLERS = {
    SmbosError: _smbos_error,
    RuntimeProblem: _runtime_problem,
    HTTPException: _http_error,
    Exception: _internal_error,
}
