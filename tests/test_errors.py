"""The one error tree: each class's exit code, HTTP status and kind, and that every kind the UI
can answer with is a documented `Kind`."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from smbos import errors
from smbos.nanoclaw.contract import ProblemKind, RuntimeProblem
from smbos.errors import (
    Busy,
    CheckFailed,
    DockerRefused,
    EngineUnreachable,
    Forbidden,
    Internal,
    InvalidInput,
    Kind,
    NeedsSession,
    NoContainer,
    NotFound,
    NotText,
    OtherOrigin,
    Problem,
    Refused,
    RuntimeContentType,
    RuntimeUnavailable,
    SmbosError,
    TooLarge,
    TooManyStreams,
    Unauthorized,
    UnknownAgent,
    WrongHost,
    WrongToken,
    from_docker,
)
from smbos.nanoclaw.image import BuildFailed

ROOT = Path(__file__).resolve().parent.parent

TABLE = [
    # error                                             exit http kind
    (SmbosError("x"), 2, 400, Kind.BAD_REQUEST),
    (InvalidInput([Problem("agents/a/config.yaml", "port", "bad")]), 2, 400, Kind.INVALID),
    (NotFound("x"), 2, 404, Kind.NOT_FOUND),
    (UnknownAgent("x"), 2, 404, Kind.UNKNOWN_AGENT),
    (Refused("x"), 1, 409, Kind.REFUSED),
    (NoContainer("x"), 1, 409, Kind.NO_CONTAINER),
    (Busy("x"), 1, 409, Kind.BUSY),
    (Forbidden("x"), 2, 403, Kind.FORBIDDEN),
    (TooLarge("x"), 2, 413, Kind.TOO_LARGE),
    (NotText("x"), 2, 415, Kind.NOT_TEXT),
    (TooManyStreams("x"), 1, 429, Kind.TOO_MANY_STREAMS),
    (DockerRefused("x"), 1, 502, Kind.DOCKER),
    (RuntimeContentType("x"), 1, 502, Kind.RUNTIME_CONTENT_TYPE),
    (Internal("x"), 70, 500, Kind.INTERNAL),
    (Unauthorized("x"), 2, 401, Kind.TOKEN),
    (NeedsSession("x"), 2, 401, Kind.SESSION),
    (WrongToken("x"), 2, 403, Kind.TOKEN),
    (OtherOrigin("x"), 2, 403, Kind.ORIGIN),
    (WrongHost("x"), 2, 421, Kind.HOST),
    (EngineUnreachable("x"), 3, 503, Kind.ENGINE_UNREACHABLE),
    (
        RuntimeUnavailable("x", RuntimeProblem(ProblemKind.TIMEOUT, "GET /api/tasks", "slow")),
        1,
        502,
        Kind.RUNTIME_TIMEOUT,
    ),
    (CheckFailed("x"), 1, 500, Kind.CHECK_FAILED),
    (BuildFailed("x", ["step 3 failed"]), 1, 500, Kind.CHECK_FAILED),
]


@pytest.mark.parametrize(
    "error, exit_code, status, kind", TABLE, ids=[type(row[0]).__name__ for row in TABLE]
)
def test_each_error_has_one_exit_code_status_and_kind(error, exit_code, status, kind):
    assert isinstance(error, SmbosError)
    assert (error.exit_code, error.http_status, error.kind) == (exit_code, status, kind)


def test_every_runtime_problem_has_a_kind():
    for problem_kind in ProblemKind:
        failure = RuntimeUnavailable("x", RuntimeProblem(problem_kind, "GET /api/health", "x"))
        assert failure.kind.value == f"runtime_{problem_kind.value}"


def test_exit_codes_are_the_documented_ones():
    assert {
        errors.EXIT_OK,
        errors.EXIT_CHECK_FAILED,
        errors.EXIT_INVALID_INPUT,
        errors.EXIT_ENGINE_UNREACHABLE,
        errors.EXIT_INTERNAL,
        errors.EXIT_INTERRUPTED,
    } == {0, 1, 2, 3, 70, 130}
    assert {row[1] for row in TABLE} <= {1, 2, 3, 70}


# Statuses the UI could answer with: none may be picked by number outside smbos/errors.py.
HTTP_STATUSES = frozenset({400, 401, 403, 404, 405, 409, 413, 415, 421, 422, 429, 500, 502, 503})
# Calls that build an answer or an error: a status or an exit code given to one is picked by hand.
ANSWERS = frozenset(
    {
        "error",
        "ok",
        "page",
        "render_page",
        "JSONResponse",
        "Response",
        "HTMLResponse",
        "StreamingResponse",
    }
)
STATUS_KEYWORDS = frozenset({"status", "status_code", "http_status", "exit_code"})


def _name(func: ast.expr) -> str:
    return func.id if isinstance(func, ast.Name) else getattr(func, "attr", "")


def _picked_by_hand(tree: ast.AST) -> list[tuple[int, object]]:
    """(line, value) of each exit code or HTTP status written as a number where an answer or an
    error of the tree is made: `SmbosError("x", 3)`, `error(409, ...)`, `ok(data, 503)`,
    `Refused("x", exit_code=1)`, `return 401, kind, message`."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            name = _name(node.func)
            errorish = name.endswith(("Error", "Failed", "Refused", "Unreachable", "Found"))
            for arg in node.args:
                if (
                    isinstance(arg, ast.Constant)
                    and type(arg.value) is int
                    and (
                        (name in ANSWERS and arg.value in HTTP_STATUSES)
                        or (errorish and arg is not node.args[0])
                    )
                ):
                    found.append((node.lineno, arg.value))
            for keyword in node.keywords:
                if keyword.arg in STATUS_KEYWORDS and isinstance(keyword.value, ast.Constant):
                    found.append((node.lineno, keyword.value.value))
        elif isinstance(node, ast.Return) and isinstance(node.value, ast.Tuple):
            found += [
                (node.lineno, e.value)
                for e in node.value.elts
                if isinstance(e, ast.Constant) and type(e.value) is int and e.value in HTTP_STATUSES
            ]
    return found


def test_no_module_picks_an_exit_code_a_status_or_a_kind_by_hand():
    """Exit codes, HTTP statuses and kinds come from the classes of smbos.errors, with no
    exemption: no `SmbosError(..., 3)`, no `error(409, ...)`, no `"kind": "..."` string."""
    for path in sorted((ROOT / "smbos").rglob("*.py")):
        if path.name == "errors.py" and path.parent.name == "smbos":
            continue
        text = path.read_text(encoding="utf-8")
        where = path.relative_to(ROOT)
        picked = _picked_by_hand(ast.parse(text))
        assert not picked, f"{where}: a code or status by number at (line, value) {picked}"
        assert not re.search(r"""["']kind["']\s*:\s*["']""", text), f"{where}: a kind by hand"


def test_the_check_catches_what_it_names():
    """The check above fails on each way of picking by hand (so it cannot pass vacuously)."""
    for bad in (
        'raise SmbosError("x", 3)',
        'error(409, "busy", Kind.BUSY)',
        "ok(data, 503)",
        'Refused("x", exit_code=1)',
        'return 401, Kind.TOKEN, "m"',
        "JSONResponse({}, status_code=502)",
    ):
        body = f"def f():\n    {bad}\n" if bad.startswith("return") else bad
        assert _picked_by_hand(ast.parse(body)), bad
    assert not _picked_by_hand(ast.parse("Limits(max_connections=400)\nos.chmod(p, 0o644)"))


def test_docker_refusals_are_one_error():
    class APIError(Exception):
        explanation = "conflict:  container is\n paused"

    refused = from_docker(APIError("x"), "alpha: stop")
    assert isinstance(refused, DockerRefused)
    assert str(refused) == "alpha: stop failed: Docker: conflict: container is paused"


def test_the_openapi_document_lists_every_kind():
    from smbos.web import openapi

    schema = openapi.COMPONENTS["schemas"]["Error"]["properties"]["kind"]
    assert schema["enum"] == [k.value for k in Kind]
