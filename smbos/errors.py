"""Problems found in user input, reported one line each."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

# Exit codes shared by every command.
EXIT_OK = 0
EXIT_CHECK_FAILED = 1
EXIT_INVALID_INPUT = 2
EXIT_ENGINE_UNREACHABLE = 3


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
    """An error with a one-line message meant for the operator, and an exit code."""

    exit_code = EXIT_INVALID_INPUT

    def __init__(self, message: str, exit_code: int | None = None):
        super().__init__(message)
        if exit_code is not None:
            self.exit_code = exit_code


class InvalidInput(SmbosError):
    """The agent folders have errors; each is a Problem."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        super().__init__(f"{sum(p.is_error for p in problems)} error(s) in the agent folders")
