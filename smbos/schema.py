"""The schema of an agent folder: `config.yaml` and `agent.md`'s front matter as pydantic models,
with the rules no model can state (ids, intervals, cron, time zones, image names, memory sizes).

The models are strict (unknown keys are refused, with a did-you-mean from the loader); every
message names what was expected. Nothing here reads a file: `smbos.loader` does.
"""

from __future__ import annotations

import difflib
import math
import re
from datetime import date
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from pydantic import Field, field_validator, model_validator

from smbos import catalog, envfile, integrations
from smbos.ids import ID_RE, MAX_ID_LENGTH, did_you_mean, id_problem  # noqa: F401 - re-exported
from smbos.modelbase import Model as _Model
from smbos.modelbase import not_blank as _not_blank
from smbos.modelbase import single_line as _single_line
from smbos.schedulespec import (  # noqa: F401 - re-exported
    MAX_INTERVAL_MS,
    MIN_INTERVAL_MS,
    SLUG_RE,
    Schedule,
    parse_interval,
)

INPUT_ID_RE = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
MEMORY_RE = re.compile(r"^(\d+(?:\.\d+)?)([bkmg])$", re.IGNORECASE)
MEMORY_UNITS = {"b": 1, "k": 1024, "m": 1024**2, "g": 1024**3}
MIN_MEMORY_BYTES = 6 * 1024**2  # the smallest memory limit Docker accepts
# An image reference as Docker reads it: [registry[:port]/]path[:tag][@digest], lowercase path.
_IMAGE_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_IMAGE_DOMAIN = (
    r"(?:localhost|[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)+|[A-Za-z0-9-]+(?=:\d))(?::\d+)?"
)
IMAGE_RE = re.compile(
    rf"^(?:{_IMAGE_DOMAIN}/)?{_IMAGE_COMPONENT}(?:/{_IMAGE_COMPONENT})*"
    r"(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?"
    r"(?:@[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,})?$"
)
PLACEHOLDER_RE = re.compile(r"\{([^{}]*)\}")
AGENT_MD = "agent.md"
CONFIG_YAML = "config.yaml"
ENV_EXAMPLE = ".env.example"
ENV = ".env"
MEMORY = "memory"


# --------------------------------------------------------------------------- schema


class Resources(_Model):
    cpus: float = Field(1.0, ge=0.01, le=256)  # Docker's smallest CPU share is 0.01
    memory: str = "1g"
    pids: int = Field(512, ge=32, le=1_000_000)

    @field_validator("memory")
    @classmethod
    def _memory(cls, value: str) -> str:
        match = MEMORY_RE.match(value)
        if not match:
            raise ValueError(f"expected a size such as 512m or 1g, got {value!r}")
        if float(match.group(1)) * MEMORY_UNITS[match.group(2).lower()] < MIN_MEMORY_BYTES:
            raise ValueError(
                f"expected at least 6m (the smallest memory limit Docker accepts), got {value!r}"
            )
        return value.lower()


class Runtime(_Model):
    assistant_name: str | None = Field(None, min_length=1, max_length=64)
    timezone: str = "UTC"
    image: str | None = Field(None, min_length=1)
    # None: the per-turn agent image built with the runtime image (`smbos build`), which the
    # runtime image records as its CONTAINER_IMAGE.
    agent_image: str | None = Field(None, min_length=1)
    container_isolation: Literal["docker", "none"] = "docker"
    log_level: Literal["trace", "debug", "info", "warn", "error", "fatal"] = "info"
    max_concurrent_containers: int = Field(5, ge=1, le=64)
    swarms: bool = False
    resources: Resources = Resources()
    # Limits of each per-turn container NanoClaw starts (Claude Code runs there).
    turn_resources: Resources = Resources(cpus=1.0, memory="2g", pids=1024)
    # Claude Code's non-essential traffic (telemetry, error reports, update checks) in turns.
    telemetry: bool = False

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            close = difflib.get_close_matches(value, sorted(available_timezones()), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ValueError(
                f"unknown time zone {value!r}; expected an IANA name such as Europe/Berlin{hint}"
            ) from None
        return value

    @field_validator("assistant_name")
    @classmethod
    def _one_line(cls, value: str | None) -> str | None:
        return _single_line(value)

    @field_validator("image")
    @classmethod
    def _image(cls, value: str | None) -> str | None:
        if value is not None and (len(value) > 255 or not IMAGE_RE.match(value)):
            raise ValueError(
                f"not an image reference: {value[:80]!r}; expected "
                "[registry/]name[:tag][@sha256:digest] with a lowercase name, such "
                "as smbos/nanoclaw:local"
            )
        return value


class TelegramChat(_Model):
    """A Telegram chat the agent serves: its id as NanoClaw writes it (`tg:<id>`, what the bot's
    /chatid command answers), a name, and whether a message needs the trigger."""

    id: str
    name: str | None = Field(None, min_length=1, max_length=80)
    requires_trigger: bool = True
    trigger: str | None = Field(None, min_length=2, max_length=64)

    @field_validator("id")
    @classmethod
    def _id(cls, value: str) -> str:
        if not integrations.CHAT_ID_RE.match(value):
            raise ValueError(
                f"expected a chat id as the bot's /chatid answers it, such as "
                f"tg:123456789 or tg:-1001234567890, got {value[:40]!r}"
            )
        return value

    @field_validator("name")
    @classmethod
    def _one_line(cls, value: str | None) -> str | None:
        return _single_line(value)

    @field_validator("trigger")
    @classmethod
    def _trigger(cls, value: str | None) -> str | None:
        value = _single_line(value)
        if value is not None and not value.startswith("@"):
            raise ValueError(f"expected @ and a name, such as @Andy, got {value[:40]!r}")
        return value

    @property
    def folder(self) -> str:
        """NanoClaw's group folder name for the chat (unique per chat, as its store wants)."""
        return integrations.chat_folder(self.id)


class Channels(_Model):
    telegram: bool = False
    telegram_only: bool = False
    # The Telegram chats the agent serves (smbos/integrations.py), registered at every start.
    telegram_chats: list[TelegramChat] = []

    @model_validator(mode="after")
    def _only_needs_telegram(self) -> Channels:
        if self.telegram_only and not self.telegram:
            raise ValueError(
                "telegram_only needs telegram: true (the only channel would be one that is off)"
            )
        ids = [chat.id for chat in self.telegram_chats]
        twice = sorted({i for i in ids if ids.count(i) > 1})
        if twice:
            raise ValueError(f"telegram_chats: chat {twice[0]} is listed twice")
        return self


class Tool(_Model):
    id: str = Field(pattern=SLUG_RE.pattern)
    type: Literal["mcp", "skill", "cli"]
    enabled: bool = True
    description: str = ""
    # type mcp: how the runtime starts the server; `env` maps its variables to `.env` keys.
    command: str | None = Field(None, min_length=1)
    args: list[str] = []
    env: dict[str, str] = {}
    # The pinned npm package that provides `command`, installed in the agent image by build.
    package: str | None = None

    @model_validator(mode="after")
    def _server(self) -> Tool:
        if self.type != "mcp" and (self.command or self.args or self.env or self.package):
            raise ValueError("command, args, env and package are only for type: mcp")
        if (self.args or self.env or self.package) and not self.command:
            raise ValueError("args, env and package need a command")
        if self.package is not None and not integrations.PACKAGE_RE.match(self.package):
            raise ValueError(
                f"package: expected an npm package with its exact version, such as "
                f"mcp-files@1.2.3 or @scope/server@2.0.1, got {self.package[:60]!r}"
            )
        for var, key in self.env.items():
            for name in (var, key):
                if not envfile.KEY_RE.match(name):
                    raise ValueError(f"env: {name!r} is not a variable name")
        return self


class SkillInput(_Model):
    id: str = Field(pattern=INPUT_ID_RE.pattern)
    label: str = Field(min_length=1)
    type: Literal["text", "textarea", "number", "date", "select"] = "text"
    required: bool = False
    default: str | int | float | None = None
    options: list[str | int | float] | None = None

    @field_validator("default", mode="before")
    @classmethod
    def _date_default(cls, value: Any) -> Any:
        # YAML reads `2026-03-01` as a date: the input's value is its text.
        return value.isoformat() if isinstance(value, date) else value

    @model_validator(mode="after")
    def _options(self) -> SkillInput:
        if self.type == "select" and not self.options:
            raise ValueError("a select input needs a non-empty options list")
        if self.type != "select" and self.options is not None:
            raise ValueError("options are only for type: select")
        default = None if self.default is None else str(self.default)
        if default is None or default.strip() == "":
            return self
        options = [str(o) for o in self.options or ()]
        if self.type == "select" and default not in options:
            raise ValueError(
                f"default {default[:40]!r} is not one of the options: {', '.join(options)}"
            )
        if self.type == "number" and not _is_number(default):
            raise ValueError(f"default {default[:40]!r} is not a number")
        if self.type == "date" and not _is_date(default):
            raise ValueError(f"default {default[:40]!r} is not a date YYYY-MM-DD")
        return self


def _is_number(text: str) -> bool:
    try:
        return math.isfinite(float(text))
    except ValueError:
        return False


def _is_date(text: str) -> bool:
    try:
        date.fromisoformat(text)
    except ValueError:
        return False
    return len(text) == 10


class Skill(_Model):
    id: str = Field(pattern=SLUG_RE.pattern)
    title: str = Field(min_length=1)
    description: str = ""
    inputs: list[SkillInput] = []
    prompt: str = Field(min_length=1)
    display: Literal["text", "list", "table"] = "text"

    @field_validator("prompt")
    @classmethod
    def _prompt(cls, value: str) -> str:
        return _not_blank(value)

    @model_validator(mode="after")
    def _placeholders(self) -> Skill:
        ids = [i.id for i in self.inputs]
        duplicates = sorted({i for i in ids if ids.count(i) > 1})
        if duplicates:
            raise ValueError(f"duplicate input id {duplicates[0]!r}")
        unknown = sorted({p for p in PLACEHOLDER_RE.findall(self.prompt) if p not in ids})
        if unknown:
            raise ValueError(
                f"prompt uses {{{unknown[0]}}} but no input has that id "
                f"(inputs: {', '.join(ids) or 'none'})"
            )
        return self

    def render(self, values: dict[str, Any]) -> str:
        """The prompt with each `{input}` replaced by the operator's value."""
        return PLACEHOLDER_RE.sub(lambda m: str(values.get(m.group(1), "")), self.prompt)


class Heal(_Model):
    enabled: bool = False
    after: int = Field(3, ge=1, le=100)
    max_restarts: int = Field(5, ge=0, le=100)


class AgentConfig(_Model):
    name: str | None = Field(None, min_length=1, max_length=80)
    description: str = ""
    enabled: bool = True
    port: int | None = Field(None, ge=1024, le=65535)
    runtime: Runtime = Runtime()
    channels: Channels = Channels()
    integrations: list[str] = []
    tools: list[Tool] = []
    schedules: list[Schedule] = []
    skills: list[Skill] = []
    heal: Heal = Heal()
    # integration -> its folder of credential files, under credentials/ (smbos/integrations.py)
    credentials: dict[str, str] = {}

    @field_validator("name", "description")
    @classmethod
    def _one_line(cls, value: str | None) -> str | None:
        return _single_line(value)

    @field_validator("credentials")
    @classmethod
    def _credentials(cls, value: dict[str, str]) -> dict[str, str]:
        for name, folder in value.items():
            pack = catalog.INTEGRATIONS.get(name)
            if pack is None or pack.credentials is None:
                with_files = sorted(n for n, p in catalog.INTEGRATIONS.items() if p.credentials)
                raise ValueError(
                    f"{name!r} is not an integration with credential files; "
                    f"expected one of: {', '.join(with_files)}"
                )
            problem = integrations.folder_problem(folder)
            if problem:
                raise ValueError(f"{name}: {problem}")
        return value

    @model_validator(mode="after")
    def _credentials_used(self) -> AgentConfig:
        unused = sorted(set(self.credentials) - set(self.integrations))
        if unused:
            raise ValueError(f"credentials: {unused[0]} is not in integrations")
        return self

    @field_validator("integrations")
    @classmethod
    def _integrations(cls, value: list[str]) -> list[str]:
        for name in value:
            if name not in catalog.INTEGRATIONS:
                hint = did_you_mean(name, catalog.INTEGRATIONS)
                raise ValueError(
                    f"unknown integration {name!r}{hint}"
                    f"; known: {', '.join(sorted(catalog.INTEGRATIONS))}"
                )
        if len(set(value)) != len(value):
            raise ValueError("an integration is listed twice")
        return value


class FrontMatter(_Model):
    name: str | None = Field(None, min_length=1, max_length=80)
    description: str | None = None
    model: str | None = None

    @field_validator("name", "description")
    @classmethod
    def _one_line(cls, value: str | None) -> str | None:
        return _single_line(value)
