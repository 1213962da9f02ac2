"""`.env` and `.env.example` files: reading, documenting, spotting committed secrets, masking.

Values read from `.env` stay inside this process: nothing here prints them, and `mask` is the only
way a value is ever shown.

**One reading of `.env`, everywhere.** The runtime (NanoClaw, and the image's entrypoint before
it) reads `.env` line by line, and SMBOS reads it the same way (`parse_env_text`), so what
`smbos env` shows is what the agent gets:

- a line is `KEY=value`, optionally after `export `; other lines are ignored;
- a line whose first non-blank character is `#` is a comment; a `#` anywhere else is part of the
  value (`KEY=a # b` is `a # b`);
- the value is everything after the first `=`, without the whitespace around it; when it starts
  and ends with the same quote (`'` or `"`), that one pair is removed and nothing else changes
  (no escapes, no `$` expansion, no multi-line values);
- a key set twice keeps the last value.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from smbos import files

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
    not_secret: bool = False  # marked `# not secret` (NOT_SECRET): its value may be shown as it is


# The one marker that makes a `.env.example` key's value plain: a comment line of exactly this
# text among the lines above the key. A phrase inside a sentence ("not secret-free") is not it.
NOT_SECRET = "# not secret"
# Names that say "credential": a key marked not secret with such a name is warned about.
CREDENTIAL_NAME_RE = re.compile(
    r"KEY|TOKEN|SECRET|PASSWORD|PASSWD|PASSPHRASE|HASH|CREDENTIAL|PRIVATE|AUTH|COOKIE|SIGNATURE",
    re.IGNORECASE,
)


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
            comment.append(" ".join(line.split()))
            continue
        match = _LINE_RE.match(raw)
        if not match or not KEY_RE.match(match.group("key")):
            problems.append((number, f"line {number} is not KEY=value"))
            comment = []
            continue
        text_comment = " ".join(c.lstrip("#").strip() for c in comment if c != NOT_SECRET)
        keys.append(
            ExampleKey(
                key=match.group("key"),
                line=number,
                value=_unquote(match.group("value")),
                comment=text_comment,
                optional=bool(re.search(r"\boptional\b", text_comment, re.IGNORECASE)),
                not_secret=NOT_SECRET in comment,
            )
        )
        comment = []
    return keys, problems


BOM = "\ufeff"

# What JavaScript's `String.prototype.trim` removes (the runtime's reader trims with it); Python's
# `str.strip()` differs (it keeps U+FEFF and removes U+001C-U+001F and U+0085).
_JS_SPACE = (
    " \t\n\v\f\r\u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007"
    "\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000\ufeff"
)
_LINES_RE = re.compile(r"\r?\n")


def _js_trim(text: str) -> str:
    return text.strip(_JS_SPACE)


def _assignments(text: str):
    """(key, raw value after '=', trimmed) of every `KEY=value` line, as the runtime sees them."""
    for raw in _LINES_RE.split(text):
        line = _js_trim(raw)
        if not line or line.startswith("#"):
            continue
        if line.startswith("export "):
            line = _js_trim(line[7:])
        key, sep, value = line.partition("=")
        key = _js_trim(key)
        if not sep or not key:
            continue
        yield key, _js_trim(value)


def _drop_quotes(value: str) -> str:
    if len(value) >= 2 and value[0] in "'\"" and value[-1] == value[0]:
        return value[1:-1]
    return value


def parse_env_text(text: str) -> dict[str, str]:
    """The key/value pairs of `.env` text, read as the runtime reads them (module docstring)."""
    return {key: _drop_quotes(value) for key, value in _assignments(text)}


def read_env(path: Path) -> dict[str, str]:
    """The key/value pairs of a `.env` file; empty when it does not exist. Raises
    UnicodeDecodeError for a file that is not UTF-8."""
    if not path.is_file():
        return {}
    return parse_env_text(path.read_bytes().decode("utf-8"))


def inline_comment_keys(text: str) -> list[str]:
    """Keys whose unquoted value holds ` #`: what looks like a trailing comment is part of the
    value for the runtime. Names only, never values."""
    return [
        key
        for key, value in _assignments(text)
        if _drop_quotes(value) == value and re.search(r"\s#", value)
    ]


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


MASK = "****"
# A value shorter than this is shown as MASK alone: its last four characters would be a quarter
# or more of it (a PIN would be shown whole).
MASK_SHOWS_TAIL_FROM = 16


def mask(value: str | None) -> str:
    """Show enough of a secret to tell two apart, never enough to use it: at most its last four
    characters, and only for values of 16 characters or more."""
    if not value:
        return ""
    if len(value) < MASK_SHOWS_TAIL_FROM:
        return MASK
    return f"{MASK}{value[-4:]}"


def is_masked(value: str) -> bool:
    """True for a value `mask` produced: sending it back must not change the secret."""
    return value == MASK or bool(re.fullmatch(r"\*{4}.{4}", value, re.DOTALL))


# --------------------------------------------------------------------------- writing


class EnvWriteError(ValueError):
    """A change that cannot be written to `.env` (bad key, a value that cannot be quoted...)."""


@dataclass(frozen=True)
class EnvWrite:
    """What `write_env` did: keys set and removed, and where the previous file was saved."""

    changed: tuple[str, ...]
    removed: tuple[str, ...]
    backup: Path | None
    written: bool


_ASSIGN_RE = re.compile(r"^\s*(?:export\s+)?(?P<key>[A-Za-z_][A-Za-z0-9_]*)\s*=(?P<value>.*)$")


def format_line(key: str, value: str) -> str:
    """`KEY=value` as `.env`'s one reading (module docstring) reads it back unchanged.

    A value is written bare unless the reader would change it: whitespace at either end (trimmed)
    or the same quote at both ends (removed); such a value is wrapped in one pair of quotes, which
    the reader removes again. Quotes, `#`, `$` and apostrophes inside a value need nothing. Only a
    line break or NUL cannot be written, and is refused.
    """
    if not KEY_RE.match(key):
        raise EnvWriteError(
            f"{key!r} is not a valid key; expected letters, digits and '_', "
            "not starting with a digit"
        )
    if any(c in value for c in "\n\r\0"):
        raise EnvWriteError(f"{key}: a value cannot contain a line break or NUL character")
    if _js_trim(value) == value and _drop_quotes(value) == value:
        return f"{key}={value}"
    return f"{key}='{value}'"


def _entries(text: str) -> list[tuple[str | None, str]]:
    """The file as (key or None, line): one line is one entry, as the reader sees it."""
    entries: list[tuple[str | None, str]] = []
    for line in re.findall(r"[^\n]*\n|[^\n]+$", text):
        match = _ASSIGN_RE.match(line.rstrip("\r\n"))
        entries.append((match.group("key") if match else None, line))
    return entries


def write_env(
    path: Path,
    changes: dict[str, str | None],
    *,
    backup: bool = True,
    owner: tuple[int, int] | None = None,
    max_bytes: int = 64 * 1024,
) -> EnvWrite:
    """Set (`str`) or remove (`None`) keys of a `.env` file, atomically.

    Every other line (unknown keys, comments, blank lines) is kept as it was. A key set twice in
    the file keeps one line, where it first appeared. The new file is written to a temp file with
    mode 600 and renamed over the old one; the previous file, when there was one and something
    changed, is first saved as `<name>.bak` (mode 600, owned by whoever runs this: nothing but
    the operator reads a backup). The new file gets `owner` (uid, gid) when given and allowed
    (root), else the previous file's owner. Nothing is written when nothing changes. The new
    text is read back before the rename: the values must come back unchanged. Concurrent
    writers of one file, in any process, take turns (`files.locked`, `.env.lock` beside it).
    """
    lines_for = {
        key: (format_line(key, value) if value is not None else None)
        for key, value in changes.items()
    }
    for key in changes:
        if not KEY_RE.match(key):
            raise EnvWriteError(f"{key!r} is not a valid key")
    # From the read to the rename, other writers of this file wait (files.locked): a change
    # made by another process meanwhile is never lost.
    with files.locked(path, ".env"):
        return _apply(path, changes, lines_for, backup, owner, max_bytes)


def _apply(
    path: Path,
    changes: dict[str, str | None],
    lines_for: dict[str, str | None],
    backup: bool,
    owner: tuple[int, int] | None,
    max_bytes: int,
) -> EnvWrite:
    exists = path.is_file()
    original = path.read_bytes() if exists else b""
    text = original.decode("utf-8")
    before = read_env(path) if exists else {}
    out: list[str] = []
    placed: set[str] = set()
    for key, line in _entries(text):
        if key is None or key not in lines_for:
            out.append(line)
            continue
        given = lines_for[key]
        if key in placed or given is None:
            continue  # removed, or a later duplicate of a key already written
        out.append(given + "\n")
        placed.add(key)
    if out and not out[-1].endswith(("\n", "\r")):
        out[-1] += "\n"
    for key, given in lines_for.items():
        if given is not None and key not in placed:
            out.append(given + "\n")
    new_text = "".join(out)
    changed = tuple(k for k, v in changes.items() if v is not None and before.get(k) != v)
    removed = tuple(k for k, v in changes.items() if v is None and k in before)
    if new_text.encode("utf-8") == original:
        return EnvWrite(changed, removed, None, False)
    data = new_text.encode("utf-8")
    if len(data) > max_bytes:
        raise EnvWriteError(f"the new .env would be {len(data)} bytes; at most {max_bytes} allowed")
    # Read the new text back with the same reader the rest of SMBOS uses before replacing.
    after = parse_env_text(new_text)
    for key, value in changes.items():
        if after.get(key) != value:
            raise EnvWriteError(f"{key}: the value would not read back unchanged; not written")
    if owner is None and exists:
        info = path.stat()
        owner = (info.st_uid, info.st_gid)
    saved = None
    if backup and exists:
        saved = path.with_name(f"{path.name}.bak")
        files.replace(saved, original, 0o600)
    files.replace(path, data, 0o600, owner)
    return EnvWrite(changed, removed, saved, True)
