"""The agent unit: one folder under `agents/`, loaded and validated into an `Agent`.

`load_fleet` reads every folder and returns the agents it could load together with every problem
it found, each a one-line `Problem` naming the file and the field. Nothing here raises on bad
input, and nothing here keeps a value from `.env`: only which keys are set.
"""

from __future__ import annotations

import difflib
import functools
import hashlib
import json
import os
import re
from dataclasses import dataclass, field
import math
from datetime import date, datetime
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from smbos import catalog, envfile, ports
from smbos.files import display_path
from smbos.errors import Problem, Severity

ID_RE = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,30}[a-z0-9])?$")
SLUG_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
INPUT_ID_RE = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
MEMORY_RE = re.compile(r"^(\d+(?:\.\d+)?)([bkmg])$", re.IGNORECASE)
MEMORY_UNITS = {"b": 1, "k": 1024, "m": 1024 ** 2, "g": 1024 ** 3}
MIN_MEMORY_BYTES = 6 * 1024 ** 2  # the smallest memory limit Docker accepts
# An image reference as Docker reads it: [registry[:port]/]path[:tag][@digest], lowercase path.
_IMAGE_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_IMAGE_DOMAIN = (r"(?:localhost|[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
                 r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)+|[A-Za-z0-9-]+(?=:\d))(?::\d+)?")
IMAGE_RE = re.compile(rf"^(?:{_IMAGE_DOMAIN}/)?{_IMAGE_COMPONENT}(?:/{_IMAGE_COMPONENT})*"
                      r"(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?"
                      r"(?:@[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,})?$")
PLACEHOLDER_RE = re.compile(r"\{([^{}]*)\}")

MAX_ID_LENGTH = 32
MAX_CONFIG_BYTES = 256 * 1024
MAX_AGENT_MD_BYTES = 1024 * 1024
MAX_ENV_BYTES = 64 * 1024
MIN_INTERVAL_MS = 60_000
# The runtime computes the next run as `Date.now() + interval` in JavaScript: far beyond a year that
# loses precision or leaves Date's range; a year is longer than any useful interval (use cron).
MAX_INTERVAL_MS = 366 * 86_400_000

AGENT_MD = "agent.md"
CONFIG_YAML = "config.yaml"
ENV_EXAMPLE = ".env.example"
ENV = ".env"
MEMORY = "memory"


# --------------------------------------------------------------------------- schema


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


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
            raise ValueError(f"expected at least 6m (the smallest memory limit Docker accepts), "
                             f"got {value!r}")
        return value.lower()


def _single_line(value: str | None) -> str | None:
    """A name becomes ASSISTANT_NAME (default from `name`), a description a table cell: no line
    break of any kind."""
    if value and value.splitlines() != [value]:
        raise ValueError("expected a single line")
    return value


def _not_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("is blank; expected the text the agent gets")
    return value


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
            raise ValueError(f"unknown time zone {value!r}; expected an IANA name such as "
                             f"Europe/Berlin{hint}") from None
        return value

    @field_validator("assistant_name")
    @classmethod
    def _one_line(cls, value: str | None) -> str | None:
        return _single_line(value)

    @field_validator("image")
    @classmethod
    def _image(cls, value: str | None) -> str | None:
        if value is not None and (len(value) > 255 or not IMAGE_RE.match(value)):
            raise ValueError(f"not an image reference: {value[:80]!r}; expected "
                             "[registry/]name[:tag][@sha256:digest] with a lowercase name, such "
                             "as smbos/nanoclaw:local")
        return value


class Channels(_Model):
    telegram: bool = False
    telegram_only: bool = False

    @model_validator(mode="after")
    def _only_needs_telegram(self) -> Channels:
        if self.telegram_only and not self.telegram:
            raise ValueError("telegram_only needs telegram: true (the only channel would be "
                             "one that is off)")
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

    @model_validator(mode="after")
    def _server(self) -> Tool:
        if self.type != "mcp" and (self.command or self.args or self.env):
            raise ValueError("command, args and env are only for type: mcp")
        if (self.args or self.env) and not self.command:
            raise ValueError("args and env need a command")
        for var, key in self.env.items():
            for name in (var, key):
                if not envfile.KEY_RE.match(name):
                    raise ValueError(f"env: {name!r} is not a variable name")
        return self


def parse_interval(value: str | int) -> int:
    """`90s`, `15m`, `2h`, `1d` or a millisecond count, as milliseconds."""
    if isinstance(value, bool):
        raise ValueError("expected a duration such as 15m, 2h, 1d or a millisecond count")
    if isinstance(value, int):
        ms = value
    else:
        match = re.fullmatch(r"\s*(\d+)\s*(ms|s|m|h|d)?\s*", value)
        if not match:
            raise ValueError(f"expected a duration such as 15m, 2h, 1d or a millisecond count, "
                             f"got {value!r}")
        unit = {"ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000, None: 1}
        ms = int(match.group(1)) * unit[match.group(2)]
    if ms < MIN_INTERVAL_MS:
        raise ValueError("must be at least 60s (the runtime's scheduler polls once a minute)")
    if ms > MAX_INTERVAL_MS:
        raise ValueError("must be at most 366d (the runtime adds it to the current time in "
                         "JavaScript); for rarer runs use cron or once")
    return ms


@functools.lru_cache(maxsize=4096)
def _cron_problem(value: str) -> str | None:
    """What is wrong with a 5-field cron expression, or None (fleets repeat expressions: cached)."""
    from croniter import CroniterBadDateError, croniter  # only fleets with a cron schedule pay

    if not croniter.is_valid(value):
        return f"not a valid cron expression: {value!r}"
    try:
        croniter(value, datetime(2000, 1, 1)).get_next(datetime)
    except CroniterBadDateError:
        return (f"{value!r} never fires (no such date, e.g. 31 February); expected a day that "
                "exists in the months given")
    return None


class Schedule(_Model):
    id: str = Field(pattern=SLUG_RE.pattern)
    cron: str | None = None
    interval: str | int | None = None
    once: str | datetime | None = None
    prompt: str = Field(min_length=1)
    context_mode: Literal["group", "isolated"] = "group"
    enabled: bool = True

    @field_validator("cron")
    @classmethod
    def _cron(cls, value: str | None) -> str | None:
        if value is None:
            return None
        fields = value.split()
        if len(fields) != 5:
            raise ValueError(f"expected 5 fields (minute hour day month weekday), got {value!r}")
        problem = _cron_problem(value)
        if problem:
            raise ValueError(problem)
        return " ".join(fields)

    @field_validator("interval")
    @classmethod
    def _interval(cls, value: str | int | None) -> str | int | None:
        if value is not None:
            parse_interval(value)
        return value

    @field_validator("prompt")
    @classmethod
    def _prompt(cls, value: str) -> str:
        return _not_blank(value)

    @field_validator("once", mode="before")
    @classmethod
    def _once_date(cls, value: Any) -> Any:
        if isinstance(value, date) and not isinstance(value, datetime):
            raise ValueError(f"expected a local timestamp such as {value.isoformat()}T09:00:00, "
                             f"got the date {value.isoformat()} without a time")
        return value

    @field_validator("once")
    @classmethod
    def _once(cls, value: str | datetime | None) -> str | None:
        if value is None:
            return None
        if isinstance(value, str):
            try:
                value = datetime.fromisoformat(value.strip())
            except ValueError:
                raise ValueError(f"expected a local timestamp such as 2026-12-01T09:00:00, "
                                 f"got {value!r}") from None
        if value.tzinfo is not None:
            raise ValueError("expected a local time without offset (the runtime reads it in its "
                             "own time zone)")
        return value.replace(microsecond=0).isoformat()

    @model_validator(mode="after")
    def _exactly_one(self) -> Schedule:
        given = [k for k in ("cron", "interval", "once") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError("expected exactly one of cron, interval, once"
                             + (f" (got {', '.join(given)})" if given else ""))
        return self

    @property
    def schedule_type(self) -> str:
        return "cron" if self.cron else "interval" if self.interval is not None else "once"

    @property
    def schedule_value(self) -> str:
        if self.cron:
            return self.cron
        if self.interval is not None:
            return str(parse_interval(self.interval))
        return str(self.once)


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
        if self.type == "select" and default not in [str(o) for o in self.options]:
            raise ValueError(f"default {default[:40]!r} is not one of the options: "
                             f"{', '.join(str(o) for o in self.options)}")
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
            raise ValueError(f"prompt uses {{{unknown[0]}}} but no input has that id "
                             f"(inputs: {', '.join(ids) or 'none'})")
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

    @field_validator("name", "description")
    @classmethod
    def _one_line(cls, value: str | None) -> str | None:
        return _single_line(value)

    @field_validator("integrations")
    @classmethod
    def _integrations(cls, value: list[str]) -> list[str]:
        for name in value:
            if name not in catalog.INTEGRATIONS:
                raise ValueError(f"unknown integration {name!r}{_did_you_mean(name, catalog.INTEGRATIONS)}"
                                 f"; known: {', '.join(sorted(catalog.INTEGRATIONS))}")
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


# ------------------------------------------------------------------------- the agent


@dataclass(frozen=True)
class Agent:
    """A loaded, valid agent folder. Holds the names of `.env` keys, never their values."""

    id: str
    folder: Path
    config: AgentConfig
    front: FrontMatter
    identity: str
    port: int
    env_example: tuple[envfile.ExampleKey, ...]
    env_keys: frozenset[str]
    agent_md_sha256: str

    @property
    def name(self) -> str:
        return self.config.name or self.front.name or self.id

    @property
    def description(self) -> str:
        return self.config.description or self.front.description or ""

    @property
    def assistant_name(self) -> str:
        return self.config.runtime.assistant_name or self.name

    @property
    def enabled(self) -> bool:
        return self.config.enabled

    @property
    def channels(self) -> list[str]:
        return [name for name in catalog.CHANNELS if getattr(self.config.channels, name)]

    @property
    def memory_dir(self) -> Path:
        return self.folder / MEMORY

    @property
    def env_path(self) -> Path:
        return self.folder / ENV

    def mcp_servers(self) -> dict[str, dict[str, Any]]:
        """The MCP servers the runtime gets: each integration's default server, and every
        enabled `tools` entry of type mcp with a command (which replaces a default of the same
        id; a disabled entry removes it)."""
        servers: dict[str, dict[str, Any]] = {}
        for name in self.config.integrations:
            default = catalog.INTEGRATIONS[name].mcp
            if default is not None:
                servers[name] = {"command": default.command, "args": list(default.args),
                                 "env": dict(default.env)}
        for tool in self.config.tools:
            if tool.type != "mcp":
                continue
            if not tool.enabled:
                servers.pop(tool.id, None)
            elif tool.command:
                servers[tool.id] = {"command": tool.command, "args": list(tool.args),
                                    "env": dict(tool.env)}
        return dict(sorted(servers.items()))

    def required_env_keys(self) -> list[tuple[str, str]]:
        """(key, why) for every key `.env` must set."""
        needed = []
        for name in self.channels:
            needed += [(k, f"channel {name}") for k in catalog.CHANNELS[name].keys]
        for name in self.config.integrations:
            needed += [(k, f"integration {name}") for k in catalog.INTEGRATIONS[name].keys]
        for tool in self.config.tools:
            if tool.type == "mcp" and tool.enabled:
                needed += [(key, f"tool {tool.id}") for key in tool.env.values()]
        needed += [(k.key, ".env.example") for k in self.env_example
                   if not k.optional and k.key not in catalog.CREDENTIAL_KEYS]
        seen: set[str] = set()
        return [(k, why) for k, why in needed if not (k in seen or seen.add(k))]

    def config_hash(self) -> str:
        """What the running container was created from: config, identity, port."""
        payload = {
            "config": self.config.model_dump(mode="json"),
            "agent_md": self.agent_md_sha256,
            "port": self.port,
        }
        blob = json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()
        return hashlib.sha256(blob).hexdigest()[:16]


@dataclass
class Fleet:
    """Every agent folder under one directory, and every problem found in them."""

    root: Path
    display_root: str
    agents: list[Agent] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    # Assigned ports (ports.py): as recorded in agents/.ports.json, and as it should be now.
    recorded_ports: dict[str, int] = field(default_factory=dict)
    port_record: dict[str, int] = field(default_factory=dict)

    @property
    def ports_file(self) -> Path:
        return self.root / ports.PORTS_FILE

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.is_error]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if not p.is_error]

    @property
    def enabled(self) -> list[Agent]:
        return [a for a in self.agents if a.enabled]

    @property
    def project_dir(self) -> Path:
        """The folder that holds `agents/`, `compose/` and `state/`."""
        return self.root.parent

    def get(self, agent_id: str) -> Agent | None:
        return next((a for a in self.agents if a.id == agent_id), None)

    def why_missing(self, agent_id: str) -> str:
        """Why `agent_id` is not an agent here: its folder's first error when it has one (an
        invalid agent is not an unknown one), else the ids there are."""
        folder = f"{self.display_root}/{agent_id}"
        errors = sorted(p for p in self.errors if p.path == folder
                        or p.path.startswith(folder + "/") or p.path.startswith(folder + " "))
        if errors:
            more = (f" (and {len(errors) - 1} more problem(s): `smbos validate` lists them)"
                    if len(errors) > 1 else "")
            return f"agent {agent_id[:64]!r} is invalid: {errors[0]}{more}"
        known = ", ".join(a.id for a in self.agents) or "none"
        return f"unknown agent {agent_id[:64]!r}; known agents: {known}"


# --------------------------------------------------------------------------- helpers


def _did_you_mean(word: str, choices) -> str:
    close = difflib.get_close_matches(str(word), sorted(choices), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def id_problem(agent_id: str) -> str | None:
    """Why `agent_id` is not a valid agent id, or None."""
    if not agent_id:
        return "empty; expected lowercase letters, digits and '-'"
    if len(agent_id) > MAX_ID_LENGTH:
        return f"{len(agent_id)} characters long; expected at most {MAX_ID_LENGTH}"
    if "nanoclaw" in agent_id:
        return ("contains 'nanoclaw': its container name would contain 'nanoclaw-', and NanoClaw "
                "stops every container whose name does")
    if not ID_RE.match(agent_id):
        return (f"{agent_id!r} is not valid; expected lowercase letters, digits and '-', "
                "starting and ending with a letter or digit")
    return None


class _NoAliasLoader(yaml.SafeLoader):
    """A safe loader that refuses anchors and aliases, so no document can expand (YAML bombs)."""

    def compose_node(self, parent, index):  # type: ignore[override]
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise yaml.constructor.ConstructorError(
                None, None, "anchors and aliases are not supported", event.start_mark)
        return super().compose_node(parent, index)


def _yaml_problem(exc: yaml.YAMLError, first_line: int = 1) -> str:
    mark = getattr(exc, "problem_mark", None)
    where = f" at line {mark.line + first_line}, column {mark.column + 1}" if mark else ""
    what = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    return f"not valid YAML{where}: {what}"


_UNION_TAGS = frozenset({"str", "int", "float", "bool", "datetime", "none"})
_UNION_TAG_PREFIXES = ("function-", "list[", "dict[", "literal[")


def _loc(loc: tuple) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part in _UNION_TAGS or str(part).startswith(_UNION_TAG_PREFIXES):
            # A union member's tag (`interval.str`), not a key: a field such as `integrations`
            # or `interval` must not be mistaken for one.
            continue
        else:
            out += f".{part}" if out else str(part)
    return out


def _fields_at(model: type[BaseModel], loc: tuple) -> list[str]:
    """The keys allowed where an unknown key was found."""
    current: Any = model
    for part in loc:
        if isinstance(part, int) or current is None:
            continue
        info = current.model_fields.get(part) if hasattr(current, "model_fields") else None
        if info is None:
            return []
        current = _model_in(info.annotation)
    return list(current.model_fields) if hasattr(current, "model_fields") else []


def _model_in(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()) or ():
        found = _model_in(arg)
        if found:
            return found
    return None


def _short(value: Any) -> str:
    text = value.isoformat() if isinstance(value, date) else repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def validation_problems(exc: ValidationError, model: type[BaseModel], path: str) -> list[Problem]:
    """One Problem per pydantic error, with field paths like `schedules[0].cron`."""
    problems = []
    for error in exc.errors():
        loc = tuple(error["loc"])
        kind = error["type"]
        if kind == "extra_forbidden":
            key = loc[-1]
            allowed = _fields_at(model, loc[:-1])
            message = f"unknown key{_did_you_mean(key, allowed)}"
            if allowed and not _did_you_mean(key, allowed):
                message += f"; expected one of: {', '.join(allowed)}"
        elif kind == "missing":
            message = "required"
        elif kind == "value_error":
            message = str(error.get("ctx", {}).get("error") or error["msg"])
        else:
            message = f"{error['msg'].rstrip('.')}"
            if kind.endswith("_type") or kind.startswith(("literal", "string_pattern")):
                message += f", got {_short(error.get('input'))}"
            message = message[0].lower() + message[1:]
        problems.append(Problem(path, _loc(loc) or "(top level)", message))
    return problems


_INLINE_COMMENT = ("the value holds ' #', which the runtime reads as part of the value (a '#' "
                   "starts a comment only at the start of a line); put the comment on its own "
                   "line")


def _read_text(path: Path, display: str, limit: int, problems: list[Problem],
               raw: bool = False) -> str | None:
    """The file as text, or None with the problem added. `raw`: keep line endings as they are
    (`.env`: the runtime splits lines on `\\n` only). A byte order mark is an error: readers that
    do not expect one see it as part of the first line (a front matter fence, a key)."""
    try:
        size = path.stat().st_size
    except OSError as exc:
        problems.append(Problem(display, "", f"cannot read: {exc.strerror}"))
        return None
    if not path.is_file():
        problems.append(Problem(display, "", "is not a regular file"))
        return None
    if size > limit:
        problems.append(Problem(display, "", f"{size} bytes is too large for this file; "
                                             f"expected at most {limit}"))
        return None
    try:
        text = path.read_bytes().decode("utf-8") if raw else path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        problems.append(Problem(display, "", "is not UTF-8 text"))
        return None
    except OSError as exc:
        problems.append(Problem(display, "", f"cannot read: {exc.strerror}"))
        return None
    if text.startswith(envfile.BOM):
        problems.append(Problem(display, "", "starts with a byte order mark (U+FEFF), which hides "
                                             "the first line from its readers; save the file as "
                                             "UTF-8 without BOM"))
        return None
    return text


def _load_yaml(text: str, display: str, problems: list[Problem], field: str = "",
               first_line: int = 1) -> Any:
    """`first_line`: the file's line number of the text's first line (front matter: 2).
    A key given twice in one mapping is an error naming it (YAML loaders keep the last value,
    silently): the data is not returned then."""
    loader = None
    try:
        loader = _NoAliasLoader(text)  # its reader refuses unprintable characters at once
        node = loader.get_single_node()
        duplicates = _duplicate_keys(node, "") if node is not None else []
        for key, line, first in duplicates:
            problems.append(Problem(display, key, f"given twice (line {line + first_line}, first "
                                                  f"on line {first + first_line}); a key may "
                                                  "appear once in a mapping"))
        if duplicates:
            return None
        return loader.construct_document(node) if node is not None else None
    except yaml.YAMLError as exc:
        problems.append(Problem(display, field, _yaml_problem(exc, first_line)))
    except RecursionError:
        problems.append(Problem(display, field, "nested too deeply to be a configuration"))
    finally:
        if loader is not None:
            loader.dispose()
    return None


def _duplicate_keys(node: yaml.Node, path: str) -> list[tuple[str, int, int]]:
    """(key path, line, line of the first one) of every key repeated in a mapping of `node`."""
    found: list[tuple[str, int, int]] = []
    if isinstance(node, yaml.MappingNode):
        seen: dict[tuple[str, str], int] = {}
        for key_node, value_node in node.value:
            scalar = isinstance(key_node, yaml.ScalarNode)
            name = str(key_node.value) if scalar else "?"
            where = f"{path}.{name}" if path else name
            if scalar:
                ident = (key_node.tag, key_node.value)
                if ident in seen:
                    found.append((where, key_node.start_mark.line, seen[ident]))
                else:
                    seen[ident] = key_node.start_mark.line
            found += _duplicate_keys(value_node, where)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            found += _duplicate_keys(item, f"{path}[{index}]")
    return found


def split_front_matter(text: str) -> tuple[str | None, str, int]:
    """(front matter text or None, body, line where the body starts). Raises ValueError."""
    if not text.startswith("---"):
        return None, text, 1
    lines = text.splitlines(keepends=True)
    if lines[0].strip() != "---":
        raise ValueError("the first line starts with '---' but is not a front matter fence")
    for index in range(1, len(lines)):
        if lines[index].strip() in ("---", "..."):
            return "".join(lines[1:index]), "".join(lines[index + 1:]), index + 2
    raise ValueError("front matter opened with '---' on line 1 is never closed")


def _check_symlinks(folder: Path, display: str, problems: list[Problem]) -> None:
    root = folder.resolve()
    for dirpath, dirnames, filenames in os.walk(folder, followlinks=False):
        for name in sorted(dirnames + filenames):
            path = Path(dirpath) / name
            if not path.is_symlink():
                continue
            target = path.resolve()
            rel = path.relative_to(folder).as_posix()
            if target != root and root not in target.parents:
                problems.append(Problem(f"{display}/{rel}", "symlink",
                                        "points outside the agent folder; expected a file "
                                        "inside it (a container cannot see the target)"))


# ----------------------------------------------------------------------------- loading


@dataclass
class _Loaded:
    agent_id: str
    folder: Path
    config: AgentConfig
    front: FrontMatter
    identity: str
    env_example: list[envfile.ExampleKey]
    env_keys: frozenset[str]
    agent_md_sha256: str


def _load_one(folder: Path, display: str, strict_env: bool, problems: list[Problem]) -> _Loaded | None:
    agent_id = folder.name
    start = len(problems)
    reason = id_problem(agent_id)
    if reason:
        problems.append(Problem(display, "id", reason))
        return None

    _check_symlinks(folder, display, problems)

    # agent.md: front matter and a body that is the identity.
    front = FrontMatter()
    identity = ""
    md_path = folder / AGENT_MD
    md_display = f"{display}/{AGENT_MD}"
    md_sha = ""
    if not md_path.exists() and not md_path.is_symlink():
        problems.append(Problem(md_display, "", "missing; expected the agent's identity in Markdown"))
    else:
        text = _read_text(md_path, md_display, MAX_AGENT_MD_BYTES, problems)
        if text is not None:
            md_sha = hashlib.sha256(text.encode()).hexdigest()
            fenced = True
            try:
                raw_front, identity, _ = split_front_matter(text)
            except ValueError as exc:
                problems.append(Problem(md_display, "front matter", str(exc)))
                raw_front = None
                fenced = False  # no body to speak of until the front matter is closed
            if raw_front is not None:
                before = len(problems)
                data = _load_yaml(raw_front, md_display, problems, "front matter", first_line=2)
                if data is None and len(problems) == before:
                    data = {}
                if data is not None and not isinstance(data, dict):
                    problems.append(Problem(md_display, "front matter",
                                            f"expected a mapping of keys, got {type(data).__name__}"))
                elif isinstance(data, dict):
                    try:
                        front = FrontMatter.model_validate(data)
                    except ValidationError as exc:
                        problems += validation_problems(exc, FrontMatter, md_display)
            identity = identity.strip()
            if not identity and not text.strip():
                problems.append(Problem(md_display, "", "is empty; expected the agent's identity "
                                                        "in Markdown"))
            elif not identity and fenced:
                problems.append(Problem(md_display, "body", "is empty; expected the agent's "
                                                            "identity after the front matter"))

    # config.yaml
    config = AgentConfig()
    cfg_path = folder / CONFIG_YAML
    cfg_display = f"{display}/{CONFIG_YAML}"
    if not cfg_path.exists() and not cfg_path.is_symlink():
        problems.append(Problem(cfg_display, "", "missing; expected a YAML mapping (may be empty)"))
    else:
        text = _read_text(cfg_path, cfg_display, MAX_CONFIG_BYTES, problems)
        if text is not None:
            before = len(problems)
            data = _load_yaml(text, cfg_display, problems)
            if data is None and len(problems) == before:
                data = {}
            if data is not None and not isinstance(data, dict):
                problems.append(Problem(cfg_display, "(top level)",
                                        f"expected a mapping of keys, got {type(data).__name__}"))
            elif isinstance(data, dict):
                bad_keys = [k for k in data if not isinstance(k, str)]
                if bad_keys:
                    problems.append(Problem(cfg_display, str(bad_keys[0]),
                                            "keys must be strings"))
                else:
                    try:
                        config = AgentConfig.model_validate(data)
                    except ValidationError as exc:
                        problems += validation_problems(exc, AgentConfig, cfg_display)
                    else:
                        _check_unique(config, cfg_display, problems)
                        _check_once(config, cfg_display, problems)

    # .env.example: documented keys, no committed secrets.
    example: list[envfile.ExampleKey] = []
    ex_path = folder / ENV_EXAMPLE
    ex_display = f"{display}/{ENV_EXAMPLE}"
    if not ex_path.exists() and not ex_path.is_symlink():
        problems.append(Problem(ex_display, "", "missing; expected every key this agent needs, "
                                                "documented, with empty values"))
    else:
        text = _read_text(ex_path, ex_display, MAX_ENV_BYTES, problems)
        if text is not None:
            example, line_problems = envfile.parse_example(text)
            for line, message in line_problems:
                problems.append(Problem(ex_display, f"line {line}", message))
            for key in example:
                if envfile.looks_like_secret(key.value):
                    problems.append(Problem(ex_display, key.key,
                                            "looks like a real secret; expected an empty value or "
                                            "a placeholder such as <your-key> (put real values in "
                                            ".env, which is not committed)"))
            documented = {k.key for k in example}
            if not documented & set(catalog.CREDENTIAL_KEYS):
                problems.append(Problem(ex_display, catalog.CREDENTIAL_KEYS[0],
                                        "not documented; every agent needs "
                                        f"{' or '.join(catalog.CREDENTIAL_KEYS)}"))
            for name in config.integrations:
                for key in catalog.INTEGRATIONS[name].keys:
                    if key not in documented:
                        problems.append(Problem(ex_display, key,
                                                f"not documented; integration {name} needs it"))
            for name in catalog.CHANNELS:
                if getattr(config.channels, name):
                    for key in catalog.CHANNELS[name].keys:
                        if key not in documented:
                            problems.append(Problem(ex_display, key,
                                                    f"not documented; channel {name} needs it"))
            for tool in config.tools:
                if tool.type == "mcp" and tool.enabled:
                    for key in sorted(set(tool.env.values()) - documented):
                        problems.append(Problem(ex_display, key,
                                                f"not documented; tool {tool.id} needs it"))

    # memory/
    memory = folder / MEMORY
    if not memory.is_dir():
        problems.append(Problem(f"{display}/{MEMORY}", "",
                                "missing; expected a directory (the agent's memory, mounted "
                                "into its runtime)" if not memory.exists() else
                                "is not a directory"))

    # .env: which keys are set (values are read, never kept or shown).
    env_path = folder / ENV
    env_keys: frozenset[str] = frozenset()
    env_display = f"{display}/{ENV}"
    if env_path.is_dir():
        problems.append(Problem(env_display, "", "is a directory (left by a bind mount of a "
                                                 "missing file?); expected a file of KEY=value "
                                                 "lines: remove it"))
    elif env_path.exists():
        env_text = _read_text(env_path, env_display, MAX_ENV_BYTES, problems, raw=True)
        if env_text is not None:
            env_keys = frozenset(k for k, v in envfile.parse_env_text(env_text).items()
                                 if v.strip())
            for key in envfile.inline_comment_keys(env_text):
                problems.append(Problem(env_display, key, _INLINE_COMMENT, Severity.WARNING))

    if any(p.is_error for p in problems[start:]):
        return None

    severity = Severity.ERROR if strict_env else Severity.WARNING
    missing_where = env_display if env_path.exists() else f"{env_display} (missing)"
    if not env_keys & set(catalog.CREDENTIAL_KEYS):
        problems.append(Problem(missing_where, catalog.CREDENTIAL_KEYS[0],
                                f"not set; the runtime needs {' or '.join(catalog.CREDENTIAL_KEYS)}",
                                severity))
    loaded = _Loaded(agent_id, folder, config, front, identity, example, env_keys, md_sha)
    probe = Agent(agent_id, folder, config, front, identity, 0, tuple(example), env_keys, md_sha)
    for key, why in probe.required_env_keys():
        if key not in env_keys:
            problems.append(Problem(missing_where, key, f"not set; required by {why}", severity))
    return loaded


def _check_once(config: AgentConfig, display: str, problems: list[Problem]) -> None:
    """A `once` schedule whose time has passed (in the agent's time zone) would never run."""
    now = datetime.now(ZoneInfo(config.runtime.timezone)).replace(tzinfo=None)
    for index, schedule in enumerate(config.schedules):
        if schedule.enabled and schedule.once and datetime.fromisoformat(schedule.once) <= now:
            problems.append(Problem(display, f"schedules[{index}].once",
                                    f"{schedule.once} has passed ({config.runtime.timezone}); "
                                    "set a later time, or enabled: false once it has run"))


def _check_unique(config: AgentConfig, display: str, problems: list[Problem]) -> None:
    for attr in ("schedules", "skills", "tools"):
        seen: set[str] = set()
        for index, item in enumerate(getattr(config, attr)):
            if item.id in seen:
                problems.append(Problem(display, f"{attr}[{index}].id",
                                        f"duplicate id {item.id!r}; ids must be unique"))
            seen.add(item.id)


def _same_folders(entries: list[Path]) -> dict[Path, str]:
    """Entries that are another entry's folder under a second name (a link), mapped to the id of
    the one that keeps it: the real folder, else the first name."""
    groups: dict[Path, list[Path]] = {}
    for entry in entries:
        groups.setdefault(entry.resolve(), []).append(entry)
    out: dict[Path, str] = {}
    for group in groups.values():
        if len(group) < 2:
            continue
        owner = next((e for e in group if not e.is_symlink()), group[0])
        out.update({e: owner.name for e in group if e is not owner})
    return out


def load_fleet(agents_dir: Path | str, strict_env: bool = False) -> Fleet:
    """Load every agent folder under `agents_dir`. `strict_env`: missing `.env` keys are errors."""
    given = Path(agents_dir)
    display_root = display_path(given)
    fleet = Fleet(root=given.resolve(), display_root=display_root)
    if not given.is_dir():
        fleet.problems.append(Problem(display_root, "", "not found; expected a directory of "
                                                        "agent folders"))
        return fleet
    loaded = []
    entries = [e for e in sorted(given.iterdir(), key=lambda p: p.name)
               if not e.name.startswith(".") and e.is_dir()]
    folders = {e.name for e in entries}
    same = _same_folders(entries)
    for entry, owner in same.items():
        fleet.problems.append(Problem(f"{display_root}/{entry.name}", "",
                                      f"is the same folder as agent {owner!r} (a link); the two "
                                      "would share one memory and one .env: remove the link, or "
                                      "copy the folder"))
    for entry in entries:
        if entry in same:
            continue
        item = _load_one(entry, f"{display_root}/{entry.name}", strict_env, fleet.problems)
        if item:
            loaded.append(item)
    record_display = f"{display_root}/{ports.PORTS_FILE}"
    fleet.recorded_ports, record_problems = ports.read_record(fleet.ports_file, record_display)
    fleet.problems += record_problems
    assignment = ports.assign(
        [(i.agent_id, i.config.port, f"{display_root}/{i.agent_id}/{CONFIG_YAML}") for i in loaded],
        fleet.recorded_ports, folders, record_display)
    fleet.problems += assignment.problems
    fleet.port_record = assignment.record
    for item in loaded:
        if item.agent_id not in assignment.ports:
            continue
        fleet.agents.append(Agent(
            id=item.agent_id,
            folder=item.folder.resolve(),
            config=item.config,
            front=item.front,
            identity=item.identity,
            port=assignment.ports[item.agent_id],
            env_example=tuple(item.env_example),
            env_keys=item.env_keys,
            agent_md_sha256=item.agent_md_sha256,
        ))
    return fleet
