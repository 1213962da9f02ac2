"""The one error tree: each class's exit code, HTTP status and kind, and that every kind the UI
can answer with is a documented `Kind`."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from smbos import errors
from smbos.contract import ProblemKind, RuntimeProblem
from smbos.errors import (
    CheckFailed,
    EngineUnreachable,
    InvalidInput,
    Kind,
    NotFound,
    Problem,
    Refused,
    RuntimeUnavailable,
    SmbosError,
    UnknownAgent,
)
from smbos.image import BuildFailed
from smbos.operations import OpError
from smbos.web.errors import ApiError

ROOT = Path(__file__).resolve().parent.parent

TABLE = [
    # error                                             exit http kind
    (SmbosError("x"),                                   2, 400, Kind.BAD_REQUEST),
    (InvalidInput([Problem("agents/a/config.yaml", "port", "bad")]), 2, 400, Kind.INVALID),
    (NotFound("x"),                                     2, 404, Kind.NOT_FOUND),
    (UnknownAgent("x"),                                 2, 404, Kind.UNKNOWN_AGENT),
    (Refused("x"),                                      1, 409, Kind.REFUSED),
    (Refused("x", kind=Kind.NO_CONTAINER),              1, 409, Kind.NO_CONTAINER),
    (EngineUnreachable("x"),                            3, 503, Kind.ENGINE_UNREACHABLE),
    (RuntimeUnavailable("x", RuntimeProblem(ProblemKind.TIMEOUT, "GET /api/tasks", "slow")),
                                                        1, 502, Kind.RUNTIME_TIMEOUT),
    (CheckFailed("x"),                                  1, 500, Kind.CHECK_FAILED),
    (BuildFailed("x", ["step 3 failed"]),               1, 500, Kind.CHECK_FAILED),
    (OpError("x"),                                      2, 400, Kind.REFUSED),
    (OpError("x", 404),                                 2, 404, Kind.NOT_FOUND),
    (OpError("x", 413),                                 2, 413, Kind.REFUSED),
    (ApiError(413, "x", Kind.TOO_LARGE),                2, 413, Kind.TOO_LARGE),
]


@pytest.mark.parametrize("error, exit_code, status, kind", TABLE,
                         ids=[type(row[0]).__name__ for row in TABLE])
def test_each_error_has_one_exit_code_status_and_kind(error, exit_code, status, kind):
    assert isinstance(error, SmbosError)
    assert (error.exit_code, error.http_status, error.kind) == (exit_code, status, kind)


def test_every_runtime_problem_has_a_kind():
    for problem_kind in ProblemKind:
        failure = RuntimeUnavailable("x", RuntimeProblem(problem_kind, "GET /api/health", "x"))
        assert failure.kind.value == f"runtime_{problem_kind.value}"


def test_exit_codes_are_the_documented_ones():
    assert {errors.EXIT_OK, errors.EXIT_CHECK_FAILED, errors.EXIT_INVALID_INPUT,
            errors.EXIT_ENGINE_UNREACHABLE, errors.EXIT_INTERNAL, errors.EXIT_INTERRUPTED} \
        == {0, 1, 2, 3, 70, 130}
    assert {row[1] for row in TABLE} <= {1, 2, 3}


def _exit_codes_by_number(tree: ast.AST) -> list[int]:
    """Lines raising an error of the tree with a literal number as its exit code."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) \
                and node.func.id.endswith(("Error", "Failed", "Refused", "Unreachable")) \
                and node.func.id not in ("OpError", "ApiError") and len(node.args) >= 2 \
                and isinstance(node.args[1], ast.Constant) and isinstance(node.args[1].value, int):
            found.append(node.lineno)
        for keyword in getattr(node, "keywords", []) or []:
            if keyword.arg == "exit_code" and isinstance(keyword.value, ast.Constant):
                found.append(node.lineno)
    return found


def test_no_module_picks_an_exit_code_or_a_kind_by_number_or_by_hand():
    """Exit codes come from smbos.errors' names, and every kind the UI answers with is a Kind:
    no `SmbosError(..., 3)` and no `"kind": "..."` string outside the tree."""
    for path in sorted((ROOT / "smbos").rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        where = path.relative_to(ROOT)
        lines = _exit_codes_by_number(ast.parse(text))
        assert not lines, f"{where}: an exit code by number on line(s) {lines}"
        if path.name != "errors.py":
            assert not re.search(r"""["']kind["']\s*:\s*["']""", text), f"{where}: a kind by hand"
            assert not re.search(r"""(?:ApiError|error)\(\d{3},[^)]*,\s*["'][a-z_]+["']\)""",
                                 text), f"{where}: a kind string, not a Kind"


def test_the_openapi_document_lists_every_kind():
    from smbos.web import openapi

    schema = openapi.COMPONENTS["schemas"]["Error"]["properties"]["kind"]
    assert schema["enum"] == [k.value for k in Kind]
