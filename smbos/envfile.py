"""`.env` and `.env.example` files: reading, documenting, spotting committed secrets, masking.

Values read from `.env` stay inside this process: nothing here prints them, and `mask` is the only
way a value is ever shown.
"""

from __future__ import annotations

import logging
import math
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from dotenv import dotenv_values

KEY_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_LINE_RE = re.compile(r"^\s*(?:export\s+)?(?P<key>[^=\s#]+)\s*=\s*(?P<value>.*)$")

# Well-known token shapes. A value that matches is a real secret, not an example.
_SECRET_SHAPES = [
    re.compile(r"sk-ant-[A-Za-z0-9_-]{10,}"),
    re.compile(r"\bsk-(?:proj-)?[A-Za-z0-9]{20,}"),
    re.compile(r"\b(?:sk|rk)_(?:live|test)_[A-Za-z0-9]{10,}"),
    re.compile(r"\bgh[pousr]_[A-Za-z0-9]{20,}"),
    re.compile(r"\bgithub_pat_[A-Za-z0-9_]{20,}"),
    re.compile(r"\bxox[abprs]-[A-Za-z0-9-]{10,}"),
    re.compile(r"\b(?:ntn|secret)_[A-Za-z0-9]{20,}"),
    re.compile(r"\blin_api_[A-Za-z0-9]{20,}"),
    re.compile(r"\bAKIA[0-9A-Z]{16}\b"),
    re.compile(r"\bAIza[0-9A-Za-z_-]{30,}"),
    re.compile(r"^\d{6,12}:[A-Za-z0-9_-]{30,}$"),  # Telegram bot token
    re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----"),
]
_PLACEHOLDER_RE = re.compile(
    r"^(?:<.*>|\$\{.*\}|your[-_].*|.*[-_]here|changeme|change-me|example|xxx+|\.\.\.|todo|none|"
    r"null|true|false|yes|no|\d{1,6}|https?://[^@\s]*|/[^\s]*|\./[^\s]*)$",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class ExampleKey:
    """A key documented in `.env.example`."""

    key: str
    line: int
    value: str
    comment: str
    optional: bool


def _unquote(value: str) -> str:
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        return value[1:-1]
    # An inline comment after an unquoted value.
    return re.split(r"\s+#", value, maxsplit=1)[0].strip()


def parse_example(text: str) -> tuple[list[ExampleKey], list[tuple[int, str]]]:
    """Parse `.env.example` text into documented keys, plus (line, problem) pairs."""
    keys: list[ExampleKey] = []
    problems: list[tuple[int, str]] = []
    comment: list[str] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line:
            comment = []
            continue
        if line.startswith("#"):
            comment.append(line.lstrip("#").strip())
            continue
        match = _LINE_RE.match(raw)
        if not match or not KEY_RE.match(match.group("key")):
            problems.append((number, f"line {number} is not KEY=value"))
            comment = []
            continue
        text_comment = " ".join(comment)
        keys.append(ExampleKey(
            key=match.group("key"),
            line=number,
            value=_unquote(match.group("value")),
            comment=text_comment,
            optional=bool(re.search(r"\boptional\b", text_comment, re.IGNORECASE)),
        ))
        comment = []
    return keys, problems


class _Quiet(logging.Filter):
    """python-dotenv logs unparsable lines straight to stderr, outside the one-line problems."""

    def filter(self, record: logging.LogRecord) -> bool:
        return False


_DOTENV_LOGGER = logging.getLogger("dotenv.main")


def read_env(path: Path) -> dict[str, str]:
    """The key/value pairs of a `.env` file; empty when it does not exist."""
    if not path.is_file():
        return {}
    quiet = _Quiet()
    _DOTENV_LOGGER.addFilter(quiet)
    try:
        values = dotenv_values(path, interpolate=False, encoding="utf-8")
    finally:
        _DOTENV_LOGGER.removeFilter(quiet)
    return {k: v for k, v in values.items() if v is not None}


def _entropy(value: str) -> float:
    counts = Counter(value)
    return -sum(n / len(value) * math.log2(n / len(value)) for n in counts.values())


def looks_like_secret(value: str) -> bool:
    """True when a value looks like a real credential rather than an example."""
    value = value.strip()
    if not value or _PLACEHOLDER_RE.match(value):
        return False
    if any(shape.search(value) for shape in _SECRET_SHAPES):
        return True
    if len(value) < 20 or any(c.isspace() for c in value):
        return False
    has_letters = any(c.isalpha() for c in value)
    has_digits = any(c.isdigit() for c in value)
    return has_letters and has_digits and _entropy(value) >= 3.5


def mask(value: str | None) -> str:
    """Show enough of a secret to recognise it, never enough to use it."""
    if not value:
        return ""
    if len(value) < 12:
        return "****"
    return f"{value[:4]}****{value[-4:]}"


def is_masked(value: str) -> bool:
    """True for a value `mask` produced: sending it back must not change the secret."""
    return value == "****" or bool(re.fullmatch(r".{4}\*{4}.{4}", value))
