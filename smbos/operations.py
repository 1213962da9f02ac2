"""Agent operations shared by the CLI (`smbos env`, `smbos skill`, `smbos memory`) and the web UI.

Nothing here imports a web framework: the CLI and the UI call the same functions, so the UI has no
logic of its own. Values read from `.env` leave this module only through `envfile.mask`, except
those of keys known not to be secret (`is_secret`).
"""

from __future__ import annotations

import errno
import math
import os
import re
import stat
import time
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from smbos import catalog, envfile, preflight, redact, walk
from smbos.agent import Agent
from smbos.errors import Kind, SmbosError
from smbos.interface import MCP_CONFIG_FILE, TEMP_PREFIX
from smbos.schema import Skill

MEMORY_MAX_BYTES = 512 * 1024
MEMORY_MAX_FILES = 1000
# Files in the memory folder that hold secrets (the runtime's MCP configuration): never shown.
PRIVATE_MEMORY_FILES = frozenset({MCP_CONFIG_FILE, ".env"})
# The entrypoint writes files atomically through `.smbos-tmp.<name>` (older images:
# `.<name>.smbos-tmp`); such a file may hold the whole MCP configuration, secrets included.
OLD_TEMP_SUFFIX = ".smbos-tmp"


def is_private_memory(name: str) -> bool:
    """Whether a file of the memory folder is never listed nor shown."""
    return (name in PRIVATE_MEMORY_FILES or name.startswith(TEMP_PREFIX)
            or name.endswith(OLD_TEMP_SUFFIX))
SKILL_VALUE_MAX_CHARS = 20_000
MESSAGE_MAX_CHARS = 100_000


class OpError(SmbosError):
    """An operation refused (exit 2), with the HTTP status the UI answers with: kind not_found
    for 404, refused otherwise."""

    def __init__(self, message: str, status: int = 400, exit_code: int = 2):
        super().__init__(message, exit_code, http_status=status,
                         kind=Kind.NOT_FOUND if status == 404 else Kind.REFUSED)

    @property
    def status(self) -> int:
        return self.http_status


# ------------------------------------------------------------------------------- agents


def agent_summary(agent: Agent) -> dict[str, Any]:
    """What `smbos list --json` shows of one agent folder."""
    cfg = agent.config
    return {
        "id": agent.id,
        "name": agent.name,
        "description": agent.description,
        "enabled": agent.enabled,
        "port": agent.port,
        "isolation": cfg.runtime.container_isolation,
        "timezone": cfg.runtime.timezone,
        "channels": ["web", *agent.channels],
        "integrations": list(cfg.integrations),
        "schedules": [s.id for s in cfg.schedules if s.enabled],
        "skills": [s.id for s in cfg.skills],
        "heal": cfg.heal.enabled,
        # runtime.swarms, and the members of team/ (installed as subagents at every start).
        "teams": agent.teams,
        "team": [m.to_json() for m in agent.team],
        "config_hash": agent.config_hash(),
    }


def runtime_url(agent: Agent) -> str:
    """Where the agent's API answers on this machine (Compose publishes it on 127.0.0.1)."""
    return f"http://127.0.0.1:{agent.port}"


# ---------------------------------------------------------------------------------- .env


@dataclass(frozen=True)
class EnvKey:
    key: str
    set: bool
    secret: bool
    value: str  # masked when secret; "" when not set
    source: str  # core | channel telegram | integration notion | .env.example | .env
    description: str
    required: bool

    def to_json(self) -> dict[str, Any]:
        return {"key": self.key, "set": self.set, "secret": self.secret, "value": self.value,
                "source": self.source, "description": self.description,
                "required": self.required}


_CORE_DESCRIPTIONS = {
    "ANTHROPIC_API_KEY": "Anthropic API key (this or CLAUDE_CODE_OAUTH_TOKEN)",
    "CLAUDE_CODE_OAUTH_TOKEN": "Claude Code OAuth token (instead of the API key)",
    "ANTHROPIC_BASE_URL": "Anthropic API base URL (optional; a proxy or gateway)",
    "ANTHROPIC_AUTH_TOKEN": "Bearer token for ANTHROPIC_BASE_URL (optional)",
    "ASSISTANT_NAME": "The assistant's name (overrides config.yaml's runtime.assistant_name)",
    "ASSISTANT_HAS_OWN_NUMBER": "true when the assistant has its own phone number",
    "TELEGRAM_BOT_TOKEN": "Telegram bot token: the Telegram channel is on when set",
    "TELEGRAM_ONLY": "true: Telegram is the only channel",
    "TELEGRAM_CLIENT": "true: use a Telegram user account (needs the API id and hash)",
    "TELEGRAM_API_ID": "Telegram API id (user account mode)",
    "TELEGRAM_API_HASH": "Telegram API hash (user account mode)",
}


def is_secret(agent: Agent, key: str) -> bool:
    """Every `.env` value is a secret unless the key is one SMBOS knows to be plain (a name or a
    switch: `catalog.PLAIN_KEYS`) or the agent's `.env.example` marks `# not secret` (envfile).
    Guessing from a name or a value's shape misses passwords, PINs and webhook URLs."""
    if key in catalog.PLAIN_KEYS:
        return False
    return not any(k.key == key and k.not_secret for k in agent.env_example)


def shown_value(agent: Agent, key: str, value: str | None) -> str:
    """The only form in which a `.env` value leaves SMBOS."""
    if not value:
        return ""
    return envfile.mask(value) if is_secret(agent, key) else value


def env_keys(agent: Agent) -> list[EnvKey]:
    """The settings of an agent: core keys, its channel and integration keys, the keys its
    `.env.example` documents, and any other key its `.env` sets; secrets masked."""
    values = envfile.read_env(agent.env_path)
    required = {k for k, _ in agent.required_env_keys()}
    documented = {k.key: k.comment for k in agent.env_example}
    order: list[tuple[str, str]] = [(k, "core") for k in catalog.CORE_ENV_KEYS]
    for name in agent.channels:
        order += [(k, f"channel {name}") for k in catalog.CHANNELS[name].keys]
    for name in agent.config.integrations:
        order += [(k, f"integration {name}") for k in catalog.INTEGRATIONS[name].keys]
    order += [(k.key, ".env.example") for k in agent.env_example]
    order += [(k, ".env") for k in values]
    seen: set[str] = set()
    keys = []
    for key, source in order:
        if key in seen:
            continue
        seen.add(key)
        value = values.get(key)
        keys.append(EnvKey(
            key=key, set=bool(value), secret=is_secret(agent, key),
            value=shown_value(agent, key, value), source=source,
            description=documented.get(key) or _CORE_DESCRIPTIONS.get(key, ""),
            required=key in required))
    return keys


@dataclass(frozen=True)
class EnvUpdate:
    changed: list[str]
    removed: list[str]
    unchanged: list[str]
    backup: str | None
    warnings: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {"changed": self.changed, "removed": self.removed, "unchanged": self.unchanged,
                "backup": self.backup, "warnings": list(self.warnings)}


def _runtime_owner() -> tuple[int, int] | None:
    """As root, `.env` goes to the runtime's user (uid 1000), which must read it at start and
    which a mode-600 file owned by anyone else would shut out (as `smbos up`'s preflight does)."""
    if os.geteuid() != 0:
        return None
    from smbos.interface import RUNTIME_GID, RUNTIME_UID

    return RUNTIME_UID, RUNTIME_GID


def _whose_uid() -> list[str]:
    """As root, `.env` went to uid 1000: who that is on this host, when it is a person."""
    whose = preflight.runtime_account_warning() if _runtime_owner() is not None else ""
    return [whose.removeprefix("warning: ")] if whose else []


def _readable_by_runtime(agent: Agent) -> list[str]:
    from smbos.interface import RUNTIME_UID

    try:
        info = agent.env_path.stat()
    except OSError:
        return []
    if info.st_uid == RUNTIME_UID:
        return []
    warning = (f"{agent.env_path} (mode 600) is owned by uid {info.st_uid}, so the runtime's user "
               f"(uid {RUNTIME_UID}) cannot read it at its next start; run `sudo chown "
               f"{RUNTIME_UID}:{RUNTIME_UID} {agent.env_path}`")
    return [warning]


def update_env(agent: Agent, values: dict[str, Any]) -> EnvUpdate:
    """Apply settings to the agent's `.env`: a new value sets the key, an empty value (or None)
    removes it, and the masked form of the current value (as `env_keys` showed it) or the
    current value itself leaves it as it was. Written atomically with a `.env.bak` backup."""
    if not isinstance(values, dict):
        raise OpError("expected an object of KEY: value")
    current = envfile.read_env(agent.env_path)
    changes: dict[str, str | None] = {}
    unchanged: list[str] = []
    for key, value in values.items():
        if not isinstance(key, str) or not envfile.KEY_RE.match(key):
            raise OpError(f"{str(key)[:64]!r} is not a valid key; expected letters, digits and "
                          "'_', not starting with a digit")
        if value is not None and not isinstance(value, str):
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                value = str(value)
            else:
                raise OpError(f"{key}: expected a string value")
        old = current.get(key)
        if value is None or value == "":
            if old is None:
                unchanged.append(key)
            else:
                changes[key] = None
            continue
        if value == old:
            unchanged.append(key)
            continue
        if envfile.is_masked(value):
            if old and shown_value(agent, key, old) == value:
                unchanged.append(key)
                continue
            raise OpError(f"{key}: {value[:4]}... looks like a masked value but is not the current "
                          "one; type the whole new value (or leave the field as it was)")
        changes[key] = value
    if not changes:
        return EnvUpdate([], [], sorted(unchanged), None)
    try:
        result = envfile.write_env(agent.env_path, changes, owner=_runtime_owner())
    except envfile.EnvWriteError as exc:
        raise OpError(str(exc)) from None
    return EnvUpdate(list(result.changed), list(result.removed),
                     sorted(unchanged + [k for k in changes if k not in result.changed
                                         and k not in result.removed]),
                     result.backup.name if result.backup else None,
                     tuple(_readable_by_runtime(agent) + _whose_uid()))


def restart_needed(agent: Agent, state: str, uptime_s: float | None,
                   measured_at: float | None = None) -> bool:
    """True when `.env` changed after the running container started (it reads `.env` only at
    start). `measured_at`: the time (time.time()) just before `uptime_s` was measured."""
    if state != "running" or uptime_s is None:
        return False
    try:
        changed = agent.env_path.stat().st_mtime
    except OSError:
        return False
    started = (measured_at if measured_at is not None else time.time()) - uptime_s
    # `started` is at most the time a status call takes before the real start; a one-second
    # margin keeps a write made just before a restart from being flagged.
    return changed > started + 1.0


def parse_assignments(items: list[str] | tuple[str, ...], option: str = "KEY=VALUE"
                      ) -> dict[str, str]:
    """`NAME=VALUE` arguments (`smbos env`, `skill --input`, `build --build-arg`) as a dict."""
    out: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise OpError(f"{item.split('=')[0][:64]!r}: expected {option}")
        out[key] = value
    return out


# -------------------------------------------------------------------------------- memory


def _memory_root(agent: Agent) -> Path:
    root = agent.memory_dir
    if not root.is_dir():
        raise OpError(f"agent {agent.id!r} has no memory folder", 404)
    return Path(os.path.realpath(root))


@dataclass(frozen=True)
class MemoryListing:
    """The files of a memory folder, and why the listing is incomplete ("" when it is not)."""

    files: list[dict[str, Any]]
    stopped: str = ""


def _inside(path: str, root: Path) -> bool:
    return path.startswith(f"{root}{os.sep}")


def list_memory(agent: Agent) -> MemoryListing:
    """The files in the agent's memory folder (relative paths), walked within limits
    (smbos.walk: the runtime writes this folder), never following a link out of it. A file with
    other names (a hard link) is listed as not viewable, with the reason."""
    root = _memory_root(agent)
    seen = walk.walk(root, skip=is_private_memory)
    files: list[dict[str, Any]] = []
    for entry in seen.entries:
        if entry.kind == walk.LINK:
            target = os.path.realpath(entry.path)
            if not _inside(target, root) or any(is_private_memory(p) for p in
                                                Path(target).relative_to(root).parts):
                continue
        elif entry.kind != walk.FILE:
            continue
        if len(files) >= MEMORY_MAX_FILES:
            return MemoryListing(files, f"stopped at limit: more than {MEMORY_MAX_FILES} files")
        try:
            info = os.stat(entry.path)
        except OSError:
            continue
        if not stat.S_ISREG(info.st_mode):
            continue
        item = {"path": entry.rel, "size": info.st_size, "modified": info.st_mtime,
                "viewable": info.st_size <= MEMORY_MAX_BYTES}
        if info.st_nlink > 1:
            item.update(viewable=False, note=walk.HARD_LINK.format(links=info.st_nlink))
        files.append(item)
    return MemoryListing(files, seen.note)


def read_memory(agent: Agent, rel: str) -> str:
    """One memory file as text. Refuses paths outside the memory folder (`..`, absolute paths,
    links that point out), files with other names (hard links: walk.HARD_LINK), files over
    MEMORY_MAX_BYTES, and anything that is not UTF-8 text."""
    root = _memory_root(agent)
    if not rel or "\0" in rel or rel.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", rel):
        raise OpError("expected a path inside the memory folder, such as context.md", 400)
    parts = [p for p in rel.replace("\\", "/").split("/") if p not in ("", ".")]
    if ".." in parts:
        raise OpError("expected a path inside the memory folder ('..' leads out of it)", 400)
    if not parts:
        raise OpError("expected a file inside the memory folder, such as context.md", 400)
    shown = walk.short(rel)
    # realpath, not Path.resolve: a link loop must be "no such file", not a RuntimeError.
    path = Path(os.path.realpath(root.joinpath(*parts)))
    if not _inside(str(path), root):
        raise OpError(f"{shown!r} leads out of the memory folder (a link)", 400)
    if any(is_private_memory(p) for p in (*parts, *path.relative_to(root).parts)):
        raise OpError(f"{shown!r} holds secrets and is never shown", 403)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as exc:
        if exc.errno in (errno.ENOENT, errno.ENOTDIR, errno.ELOOP, errno.ENAMETOOLONG):
            raise OpError(f"no memory file {shown!r}", 404) from None
        raise OpError(f"{shown}: cannot read: {(exc.strerror or str(exc)).lower()}", 403) \
            from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise OpError(f"no memory file {shown!r}", 404)
        if info.st_nlink > 1:
            raise OpError(f"{shown}: {walk.HARD_LINK.format(links=info.st_nlink)}", 403)
        if info.st_size > MEMORY_MAX_BYTES:
            raise OpError(f"{shown}: {info.st_size} bytes is more than the {MEMORY_MAX_BYTES} "
                          "bytes shown", 413)
        data = b""
        while len(data) <= MEMORY_MAX_BYTES:
            chunk = os.read(fd, MEMORY_MAX_BYTES + 1 - len(data))
            if not chunk:
                break
            data += chunk
    finally:
        os.close(fd)
    if len(data) > MEMORY_MAX_BYTES:
        raise OpError(f"{shown}: more than the {MEMORY_MAX_BYTES} bytes shown", 413)
    if b"\0" in data:
        raise OpError(f"{shown}: not a text file", 415)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise OpError(f"{shown}: not UTF-8 text", 415) from None
    # The runtime writes here too (a failed turn logs its input, key included, in logs/).
    return redact.for_agent(agent)(text)


# -------------------------------------------------------------------------------- skills


def find_skill(agent: Agent, skill_id: str) -> Skill:
    for skill in agent.config.skills:
        if skill.id == skill_id:
            return skill
    known = ", ".join(s.id for s in agent.config.skills) or "none"
    raise OpError(f"agent {agent.id!r} has no skill {skill_id!r}; its skills: {known}", 404)


def skill_values(skill: Skill, given: dict[str, Any]) -> dict[str, str]:
    """The operator's values checked against the skill's inputs, defaults filled in.
    Raises OpError naming every bad input."""
    if not isinstance(given, dict):
        raise OpError("expected an object of input: value")
    problems: list[str] = []
    known = {i.id for i in skill.inputs}
    for key in given:
        if key not in known:
            problems.append(f"{str(key)[:40]}: not an input of skill {skill.id} "
                            f"(inputs: {', '.join(sorted(known)) or 'none'})")
    values: dict[str, str] = {}
    for spec in skill.inputs:
        raw = given.get(spec.id)
        if raw is None or (isinstance(raw, str) and raw.strip() == ""):
            raw = spec.default
        if raw is None or (isinstance(raw, str) and raw.strip() == ""):
            if spec.required:
                problems.append(f"{spec.id}: required ({spec.label})")
            values[spec.id] = ""
            continue
        if isinstance(raw, bool) or not isinstance(raw, (str, int, float)):
            problems.append(f"{spec.id}: expected text or a number")
            continue
        text = str(raw).strip() if spec.type != "textarea" else str(raw)
        if len(text) > SKILL_VALUE_MAX_CHARS:
            problems.append(f"{spec.id}: longer than {SKILL_VALUE_MAX_CHARS} characters")
            continue
        if spec.type != "textarea" and ("\n" in text or "\r" in text):
            problems.append(f"{spec.id}: expected a single line")
            continue
        if spec.type == "number":
            try:
                number = float(text)
            except ValueError:
                problems.append(f"{spec.id}: expected a number, got {text[:40]!r}")
                continue
            if not math.isfinite(number):
                problems.append(f"{spec.id}: expected a finite number")
                continue
            text = str(int(number)) if number.is_integer() else str(number)
        elif spec.type == "date":
            try:
                text = date.fromisoformat(text).isoformat()
            except ValueError:
                problems.append(f"{spec.id}: expected a date YYYY-MM-DD, got {text[:40]!r}")
                continue
        elif spec.type == "select":
            options = [str(o) for o in spec.options or []]
            if text not in options:
                problems.append(f"{spec.id}: expected one of {', '.join(options)}, "
                                f"got {text[:40]!r}")
                continue
        values[spec.id] = text
    if problems:
        raise OpError("; ".join(problems))
    return values


def skill_prompt(skill: Skill, given: dict[str, Any]) -> str:
    """The prompt the skill sends: `skill.render` of the checked values."""
    return skill.render(skill_values(skill, given))


_BULLET_RE = re.compile(r"^\s*(?:[-*+•]|\d{1,3}[.)])\s+(?P<item>.+?)\s*$")
_TABLE_SEP_RE = re.compile(r"^\s*\|?\s*:?-+:?\s*(\|\s*:?-+:?\s*)*\|?\s*$")


def parse_list(text: str) -> list[str]:
    """The Markdown bullet (or numbered) items of a reply; its non-empty lines when it has none."""
    items = [m.group("item") for m in map(_BULLET_RE.match, text.splitlines()) if m]
    if items:
        return items
    return [line.strip() for line in text.splitlines() if line.strip()]


def _cells(line: str) -> list[str]:
    line = line.strip()
    line = line.removeprefix("|")
    if line.endswith("|") and not line.endswith("\\|"):
        line = line[:-1]
    cells, current, escaped = [], "", False
    for char in line:
        if escaped:
            current += char if char == "|" else "\\" + char
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == "|":
            cells.append(current.strip())
            current = ""
        else:
            current += char
    if escaped:
        current += "\\"
    cells.append(current.strip())
    return cells


def parse_table(text: str) -> dict[str, Any] | None:
    """The first Markdown table of a reply: {"headers": [...], "rows": [[...]]}, or None."""
    lines = text.splitlines()
    for index in range(len(lines) - 1):
        if "|" not in lines[index] or not _TABLE_SEP_RE.match(lines[index + 1]):
            continue
        headers = _cells(lines[index])
        if len(_cells(lines[index + 1])) != len(headers):
            continue
        rows = []
        for line in lines[index + 2:]:
            if "|" not in line or not line.strip():
                break
            cells = _cells(line)
            cells = (cells + [""] * len(headers))[:len(headers)]
            rows.append(cells)
        return {"headers": headers, "rows": rows}
    return None


def skill_result(skill: Skill, text: str) -> dict[str, Any]:
    """The reply shaped for the skill's display: text, a list of items, or a table."""
    result: dict[str, Any] = {"display": skill.display, "text": text}
    if skill.display == "list":
        result["items"] = parse_list(text)
    elif skill.display == "table":
        table = parse_table(text)
        if table is None:
            result["display"] = "text"
            result["note"] = "the reply has no Markdown table; shown as text"
        else:
            result.update(table)
    return result


def check_message(message: Any) -> str:
    if not isinstance(message, str) or not message.strip():
        raise OpError("message is required: a non-empty string")
    if len(message) > MESSAGE_MAX_CHARS:
        raise OpError(f"message longer than {MESSAGE_MAX_CHARS} characters")
    return message
