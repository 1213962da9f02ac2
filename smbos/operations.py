"""Agent operations shared by the CLI (`smbos env`, `list`) and the web UI: an agent's summary,
its runtime's address, and its `.env` settings read and written. The memory folder is
`smbos.memory`, skills `smbos.skills`; their names are re-exported here for both callers.

Nothing here imports a web framework: the CLI and the UI call the same functions. Values read
from `.env` leave this module only through `envfile.mask`, except those of keys known not to be
secret (`is_secret`).
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from typing import Any

from smbos import catalog, envfile, preflight
from smbos.agent import Agent, config_keys
from smbos.errors import SmbosError
from smbos.memory import (  # noqa: F401 - re-exported
    MEMORY_MAX_BYTES,
    MEMORY_MAX_FILES,
    MemoryListing,
    is_private_memory,
    list_memory,
    read_memory,
)
from smbos.nanoclaw.interface import RUNTIME_GID, RUNTIME_UID
from smbos.redact import is_secret  # noqa: F401 - the one rule, used here and re-exported
from smbos.skills import (  # noqa: F401 - re-exported
    MESSAGE_MAX_CHARS,
    SKILL_VALUE_MAX_CHARS,
    check_message,
    find_skill,
    parse_list,
    parse_table,
    skill_prompt,
    skill_result,
    skill_values,
)

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
        return {
            "key": self.key,
            "set": self.set,
            "secret": self.secret,
            "value": self.value,
            "source": self.source,
            "description": self.description,
            "required": self.required,
        }


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
    order += config_keys(agent.config)
    order += [(k.key, ".env.example") for k in agent.env_example]
    order += [(k, ".env") for k in values]
    seen: set[str] = set()
    keys = []
    for key, source in order:
        if key in seen:
            continue
        seen.add(key)
        value = values.get(key)
        keys.append(
            EnvKey(
                key=key,
                set=bool(value),
                secret=is_secret(agent, key),
                value=shown_value(agent, key, value),
                source=source,
                description=documented.get(key) or _CORE_DESCRIPTIONS.get(key, ""),
                required=key in required,
            )
        )
    return keys


@dataclass(frozen=True)
class EnvUpdate:
    changed: list[str]
    removed: list[str]
    unchanged: list[str]
    backup: str | None
    warnings: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "changed": self.changed,
            "removed": self.removed,
            "unchanged": self.unchanged,
            "backup": self.backup,
            "warnings": list(self.warnings),
        }


def _runtime_owner() -> tuple[int, int] | None:
    """As root, `.env` goes to the runtime's user (uid 1000), which must read it at start and
    which a mode-600 file owned by anyone else would shut out (as `smbos up`'s preflight does)."""
    if os.geteuid() != 0:
        return None
    return RUNTIME_UID, RUNTIME_GID


def _whose_uid() -> list[str]:
    """As root, `.env` went to uid 1000: who that is on this host, when it is a person."""
    whose = preflight.runtime_account_warning() if _runtime_owner() is not None else ""
    return [whose.removeprefix("warning: ")] if whose else []


def _readable_by_runtime(agent: Agent) -> list[str]:
    try:
        info = agent.env_path.stat()
    except OSError:
        return []
    if info.st_uid == RUNTIME_UID:
        return []
    warning = (
        f"{agent.env_path} (mode 600) is owned by uid {info.st_uid}, so the runtime's user "
        f"(uid {RUNTIME_UID}) cannot read it at its next start; run `sudo chown "
        f"{RUNTIME_UID}:{RUNTIME_UID} {agent.env_path}`"
    )
    return [warning]


def update_env(agent: Agent, values: dict[str, Any]) -> EnvUpdate:
    """Apply settings to the agent's `.env`: a new value sets the key, an empty value (or None)
    removes it, and the masked form of the current value (as `env_keys` showed it) or the
    current value itself leaves it as it was. Written atomically with a `.env.bak` backup."""
    if not isinstance(values, dict):
        raise SmbosError("expected an object of KEY: value")
    current = envfile.read_env(agent.env_path)
    changes: dict[str, str | None] = {}
    unchanged: list[str] = []
    for key, value in values.items():
        if not isinstance(key, str) or not envfile.KEY_RE.match(key):
            raise SmbosError(
                f"{str(key)[:64]!r} is not a valid key; expected letters, digits and "
                "'_', not starting with a digit"
            )
        if value is not None and not isinstance(value, str):
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                value = str(value)
            else:
                raise SmbosError(f"{key}: expected a string value")
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
            raise SmbosError(
                f"{key}: {value[:4]}... looks like a masked value but is not the "
                "current one; type the whole new value (or leave the field as it was)"
            )
        changes[key] = value
    if not changes:
        return EnvUpdate([], [], sorted(unchanged), None)
    try:
        result = envfile.write_env(agent.env_path, changes, owner=_runtime_owner())
    except envfile.EnvWriteError as exc:
        raise SmbosError(str(exc)) from None
    return EnvUpdate(
        list(result.changed),
        list(result.removed),
        sorted(
            unchanged + [k for k in changes if k not in result.changed and k not in result.removed]
        ),
        result.backup.name if result.backup else None,
        tuple(_readable_by_runtime(agent) + _whose_uid()),
    )


def restart_needed(
    agent: Agent, state: str, uptime_s: float | None, measured_at: float | None = None
) -> bool:
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


def parse_assignments(
    items: list[str] | tuple[str, ...], option: str = "KEY=VALUE"
) -> dict[str, str]:
    """`NAME=VALUE` arguments (`smbos env`, `skill --input`, `build --build-arg`) as a dict."""
    out: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise SmbosError(f"{item.split('=')[0][:64]!r}: expected {option}")
        out[key] = value
    return out
