"""Every error SMBOS reports, in one tree, and the problems found in user input.

An error carries its one-line message and what it means at each boundary: the exit code of the
command line and the HTTP status and `kind` of the UI's JSON API. The CLI (`smbos.cli.base`) and
the UI (`smbos.web.errors`) each translate in one place; nothing else picks a code.

    SmbosError            exit 2  400 bad_request   (anything the operator asked for that is wrong)
      InvalidInput        exit 2  400 invalid       (the agent folders have errors: `problems`)
      NotFound            exit 2  404 not_found     (UnknownAgent: kind unknown_agent)
      Forbidden           exit 2  403 forbidden     (never shown: secrets, a hard link, unreadable)
      TooLarge            exit 2  413 too_large     (a body, a file, over its limit)
      NotText             exit 2  415 not_text      (a file that is not UTF-8 text)
      Refused             exit 1  409 refused       (valid, but not now)
        NoContainer       exit 1  409 no_container  (the agent has no container yet)
        Busy              exit 1  409 busy          (a lifecycle action of that agent is under way)
      TooManyStreams      exit 1  429 too_many_streams (the proxy's bounds: agent, client, all)
      EngineUnreachable   exit 3  503 engine_unreachable
      DockerRefused       exit 1  502 docker        (the engine refused an action: its reason)
      RuntimeUnavailable  exit 1  502 runtime_<problem kind> (an agent's NanoClaw API)
      RuntimeContentType  exit 1  502 runtime_content_type (what the proxy will not pass)
      CheckFailed         exit 1  500 check_failed  (a build, a write, a missing tool)
      Internal            exit 70 500 internal      (a bug, or a file shipped with SMBOS is broken)
      Unauthorized        exit 2  401 token         (the UI's token missing; NeedsSession: session)
      WrongToken          exit 2  403 token         (the UI's token wrong)
      OtherOrigin         exit 2  403 origin        (a changing request from another site)
      WrongHost           exit 2  421 host          (a Host the UI is not served under)

The statuses an engine's refusal (docker.errors.APIError) maps to: `from_docker` here, used by
both translators; no other module names a status or an exit code by number (tests/test_errors.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

# Exit codes shared by every command (the README's table).
EXIT_OK = 0
EXIT_CHECK_FAILED = 1
EXIT_INVALID_INPUT = 2
EXIT_ENGINE_UNREACHABLE = 3
EXIT_INTERNAL = 70  # a bug: one line, `SMBOS_DEBUG=1` shows the traceback
EXIT_INTERRUPTED = 130


class Kind(str, Enum):
    """The `kind` of every error answer of the UI's JSON API (the OpenAPI document lists them)."""

    BAD_REQUEST = "bad_request"  # the request is malformed (a field, a number, the body)
    INVALID = "invalid"  # the agent folders have errors
    NOT_FOUND = "not_found"  # no such thing (a memory file, a task action, a route)
    UNKNOWN_AGENT = "unknown_agent"  # no valid agent of that id
    TOO_LARGE = "too_large"  # a request body over the limit
    REFUSED = "refused"  # an operation refused (the reason in the message)
    BUSY = "busy"  # a lifecycle action of that agent is under way
    FORBIDDEN = "forbidden"  # a file SMBOS never shows (secrets, a hard link, unreadable)
    NOT_TEXT = "not_text"  # a file that is not UTF-8 text
    NO_CONTAINER = "no_container"  # the agent has no container yet (`smbos up ID`)
    DOCKER = "docker"  # the engine refused an action
    ENGINE_UNREACHABLE = "engine_unreachable"
    CHECK_FAILED = "check_failed"
    TOKEN = "token"  # the UI's token missing or wrong
    ORIGIN = "origin"  # a changing request from another site
    HOST = "host"  # a Host the UI is not served under
    SESSION = "session"  # a page asked for without the UI's session
    HTTP = "http"  # the router: no such route or method
    INTERNAL = "internal"  # a bug: one line, never a traceback
    RUNTIME_CONTENT_TYPE = "runtime_content_type"  # the proxy refused what a runtime answered
    TOO_MANY_STREAMS = "too_many_streams"  # the proxy has as many requests open as it allows
    # An agent's runtime failed (smbos.nanoclaw.contract.ProblemKind, prefixed).
    RUNTIME_REFUSED = "runtime_refused"
    RUNTIME_TIMEOUT = "runtime_timeout"
    RUNTIME_BAD_STATUS = "runtime_bad_status"
    RUNTIME_NOT_JSON = "runtime_not_json"
    RUNTIME_BAD_SHAPE = "runtime_bad_shape"
    RUNTIME_ABSENT = "runtime_absent"
    RUNTIME_STREAM_ERROR = "runtime_stream_error"


class Severity(str, Enum):
    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True, order=True)
class Problem:
    """One thing wrong with the input: where, which field, what was expected."""

    path: str
    field: str
    message: str
    severity: Severity = Severity.ERROR

    def __str__(self) -> str:
        prefix = "warning: " if self.severity is Severity.WARNING else ""
        where = f"{self.path}: {self.field}" if self.field else self.path
        # One line, always: a message never carries a newline into the output.
        return f"{prefix}{where}: {' '.join(self.message.split())}"

    @property
    def is_error(self) -> bool:
        return self.severity is Severity.ERROR


class SmbosError(Exception):
    """An error with a one-line message meant for the operator: its exit code, HTTP status and
    kind come from its class, never from the caller."""

    exit_code = EXIT_INVALID_INPUT
    http_status = 400
    kind = Kind.BAD_REQUEST

    def __init__(self, message: str) -> None:
        super().__init__(message)


class InvalidInput(SmbosError):
    """The agent folders have errors; each is a Problem."""

    kind = Kind.INVALID

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        super().__init__(f"{sum(p.is_error for p in problems)} error(s) in the agent folders")


class NotFound(SmbosError):
    http_status = 404
    kind = Kind.NOT_FOUND


class UnknownAgent(NotFound):
    """An id that is not a valid agent of the fleet; the message says which (Fleet.why_missing)."""

    kind = Kind.UNKNOWN_AGENT


class Refused(SmbosError):
    exit_code = EXIT_CHECK_FAILED
    http_status = 409
    kind = Kind.REFUSED


class NoContainer(Refused):
    """The agent has no container yet (`smbos up ID` makes it)."""

    kind = Kind.NO_CONTAINER


class TooManyStreams(SmbosError):
    """The proxy has as many requests open as it allows (for one agent, one client, or in all):
    try again once one ends."""

    exit_code = EXIT_CHECK_FAILED
    http_status = 429
    kind = Kind.TOO_MANY_STREAMS


class EngineUnreachable(SmbosError):
    exit_code = EXIT_ENGINE_UNREACHABLE
    http_status = 503
    kind = Kind.ENGINE_UNREACHABLE


class RuntimeUnavailable(SmbosError):
    """An agent's runtime failed (`problem`: a `smbos.nanoclaw.contract.RuntimeProblem`)."""

    exit_code = EXIT_CHECK_FAILED
    http_status = 502

    def __init__(self, message: str, problem) -> None:
        super().__init__(message)
        self.kind = Kind(f"runtime_{problem.kind.value}")
        self.problem = problem


class CheckFailed(SmbosError):
    exit_code = EXIT_CHECK_FAILED
    http_status = 500
    kind = Kind.CHECK_FAILED


class Forbidden(SmbosError):
    """What SMBOS never shows or touches (a file that holds secrets, a hard link, one it cannot
    read), whoever asks."""

    http_status = 403
    kind = Kind.FORBIDDEN


class TooLarge(SmbosError):
    http_status = 413
    kind = Kind.TOO_LARGE


class NotText(SmbosError):
    http_status = 415
    kind = Kind.NOT_TEXT


class Busy(Refused):
    kind = Kind.BUSY


class DockerRefused(SmbosError):
    """The engine refused an action (its own reason in the message)."""

    exit_code = EXIT_CHECK_FAILED
    http_status = 502
    kind = Kind.DOCKER


def from_docker(exc: Exception, doing: str) -> DockerRefused:
    """A Docker API error (docker.errors.APIError and the like) as the tree's error: one line,
    `<doing> failed: Docker: <the engine's own reason>`."""
    reason = " ".join(str(getattr(exc, "explanation", None) or exc).split())
    return DockerRefused(f"{doing} failed: Docker: {reason}")


class RuntimeContentType(SmbosError):
    """An agent's runtime answered with a type the UI's proxy does not pass."""

    exit_code = EXIT_CHECK_FAILED
    http_status = 502
    kind = Kind.RUNTIME_CONTENT_TYPE


class Internal(SmbosError):
    """A bug, or a file shipped with SMBOS that is broken (a runtime patch): exit 70."""

    exit_code = EXIT_INTERNAL
    http_status = 500
    kind = Kind.INTERNAL


class Unauthorized(SmbosError):
    """The UI's token is missing."""

    http_status = 401
    kind = Kind.TOKEN


class NeedsSession(Unauthorized):
    """A page asked for without the UI's session (answered with a page that gets one)."""

    kind = Kind.SESSION


class WrongToken(SmbosError):
    http_status = 403
    kind = Kind.TOKEN


class OtherOrigin(SmbosError):
    http_status = 403
    kind = Kind.ORIGIN


class WrongHost(SmbosError):
    http_status = 421
    kind = Kind.HOST
