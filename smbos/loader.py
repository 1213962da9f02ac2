"""Reading agent folders: `load_fleet` turns `agents/` into a `Fleet` of valid agents and every
problem found (ADR 004: problems are collected, never raised).

YAML is read by a safe loader that refuses anchors and aliases, after a size check; duplicate
keys, links out of a folder and `.env` files the runtime would read differently are problems;
pydantic's errors become `file: field: message` lines with a did-you-mean for unknown keys.
"""

from __future__ import annotations

import gc
import hashlib
import os
import re
import stat
from dataclasses import dataclass
from datetime import date, datetime
from errno import ENXIO
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ValidationError

from smbos import agentmd, catalog, envfile, integrations, ports, redact, runenv, walk
from smbos.agent import Agent, Fleet, mcp_servers
from smbos.defaults import DEFAULT_PROJECT
from smbos.errors import Problem, Severity
from smbos.files import display_path
from smbos.safeyaml import load_yaml
from smbos.schema import (
    AGENT_MD,
    CONFIG_YAML,
    ENV,
    ENV_EXAMPLE,
    MEMORY,
    AgentConfig,
    FrontMatter,
    _did_you_mean,
    id_problem,
)
from smbos.team import TeamMember, read_team

MAX_CONFIG_BYTES = 256 * 1024
_NO_CONFIG = AgentConfig()  # while config.yaml is missing or invalid (pydantic copies defaults)
MAX_AGENT_MD_BYTES = 1024 * 1024
MAX_ENV_BYTES = 64 * 1024


# --------------------------------------------- problems from the models' errors (ADR 004)


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


# ----------------------------------------------------------------------------- reading


_INLINE_COMMENT = ("the value holds ' #', which the runtime reads as part of the value (a '#' "
                   "starts a comment only at the start of a line); put the comment on its own "
                   "line")


def _read_text(path: Path, display: str, limit: int, problems: list[Problem],
               raw: bool = False) -> str | None:
    """The file as text, or None with the problem added. `raw`: keep line endings as they are
    (`.env`: the runtime splits lines on `\\n` only; else `\\r\\n` and `\\r` read as `\\n`). A
    byte order mark is an error: readers that do not expect one see it as part of the first
    line (a front matter fence, a key)."""
    why, text = "", ""
    try:  # open, look, read, close: four system calls (and a FIFO is never waited for)
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
        try:
            info = os.fstat(fd)
            if not stat.S_ISREG(info.st_mode):
                why = "is not a regular file"
            elif info.st_size > limit:
                why = f"{info.st_size} bytes is too large for this file; expected at most {limit}"
            else:
                data = os.read(fd, info.st_size)
                while len(data) < info.st_size and (more := os.read(fd, info.st_size - len(data))):
                    data += more
                text = data.decode("utf-8")
        finally:
            os.close(fd)
    except OSError as exc:  # a socket cannot be opened (ENXIO): no regular file either
        why = "is not a regular file" if exc.errno == ENXIO else f"cannot read: {exc.strerror}"
    except UnicodeDecodeError:
        why = "is not UTF-8 text"
    if text.startswith(envfile.BOM):
        why = ("starts with a byte order mark (U+FEFF), which hides the first line from its "
               "readers; save the file as UTF-8 without BOM")
    if why:
        problems.append(Problem(display, "", why))
        return None
    return text if raw or "\r" not in text else text.replace("\r\n", "\n").replace("\r", "\n")


def _check_folder(folder: Path, real: Path, display: str, problems: list[Problem]) -> None:
    """Links out of the agent folder (really at `real`), and hard links in its memory, found by
    one bounded walk (smbos.walk: the runtime writes `memory/`, so anything can be there); a walk
    that did not see everything is one warning for this agent, never an exception."""
    root = str(real)
    seen = walk.walk(folder)
    for entry in seen.entries:
        if entry.kind == walk.LINK:
            target = os.path.realpath(entry.path)  # never raises on a loop, unlike Path.resolve
            if target != root and not target.startswith(root + os.sep):
                problems.append(Problem(f"{display}/{walk.short(entry.rel)}", "symlink",
                                        "points outside the agent folder; expected a file "
                                        "inside it (a container cannot see the target)"))
        elif entry.kind == walk.FILE and entry.rel.startswith(f"{MEMORY}/"):
            links = walk.hard_links(entry.path)
            if links > 1:
                problems.append(Problem(f"{display}/{walk.short(entry.rel)}", "hard link",
                                        walk.HARD_LINK.format(links=links), Severity.WARNING))
    if seen.note:
        problems.append(Problem(display, "folders", f"{seen.note}; links below were not "
                                                    "checked", Severity.WARNING))


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
    team: tuple[TeamMember, ...] = ()


def _load_one(folder: Path, display: str, strict_env: bool, problems: list[Problem],
              real: Path) -> _Loaded | None:
    agent_id = folder.name
    start = len(problems)
    reason = id_problem(agent_id)
    if reason:
        problems.append(Problem(display, "id", reason))
        return None

    _check_folder(folder, real, display, problems)

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
                parts = agentmd.read(text)
                raw_front, identity = parts.front, parts.body
            except agentmd.AgentMdError as exc:
                problems.append(Problem(md_display, exc.field, str(exc)))
                raw_front = None
                fenced = False  # no body to speak of until the agent.md can be read
            if raw_front is not None:
                before = len(problems)
                data = load_yaml(raw_front, md_display, problems, "front matter", first_line=2)
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
            if not identity and not text.strip():
                problems.append(Problem(md_display, "", "is empty; expected the agent's identity "
                                                        "in Markdown"))
            elif not identity and fenced:
                problems.append(Problem(md_display, "body", "is empty; expected the agent's "
                                                            "identity after the front matter"))

    # config.yaml
    config = _NO_CONFIG
    cfg_path = folder / CONFIG_YAML
    cfg_display = f"{display}/{CONFIG_YAML}"
    if not cfg_path.exists() and not cfg_path.is_symlink():
        problems.append(Problem(cfg_display, "", "missing; expected a YAML mapping (may be empty)"))
    else:
        text = _read_text(cfg_path, cfg_display, MAX_CONFIG_BYTES, problems)
        if text is not None:
            before = len(problems)
            data = load_yaml(text, cfg_display, problems)
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
                problems += _marker_problems(key, ex_display)
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

    # team/: the members, their tools checked against the agent's MCP servers (smbos.team).
    members = read_team(folder, display, set(mcp_servers(config)), problems)

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
            values = envfile.parse_env_text(env_text)
            env_keys = frozenset(k for k, v in values.items() if v.strip())
            for key in envfile.inline_comment_keys(env_text):
                problems.append(Problem(env_display, key, _INLINE_COMMENT, Severity.WARNING))
            plain = catalog.PLAIN_KEYS | {k.key for k in example if k.not_secret}
            for key, why in redact.weak_secrets(values, plain):
                problems.append(Problem(env_display, key, why, Severity.WARNING))

    if any(p.is_error for p in problems[start:]):
        return None

    # The container's environment, as the Compose file will set it (the project's name and
    # state folder are short: the defaults stand in for them), within Linux's limits.
    probe = Agent(agent_id, real, config, front, identity, 0, tuple(example),
                  env_keys, md_sha, team=members)
    too_large = runenv.problems(runenv.environment(
        probe, DEFAULT_PROJECT, real.parent.parent / "state" / agent_id), cfg_display)
    if too_large:
        problems += too_large
        return None

    severity = Severity.ERROR if strict_env else Severity.WARNING
    missing_where = env_display if env_path.exists() else f"{env_display} (missing)"
    if not env_keys & set(catalog.CREDENTIAL_KEYS):
        problems.append(Problem(missing_where, catalog.CREDENTIAL_KEYS[0],
                                f"not set; the runtime needs {' or '.join(catalog.CREDENTIAL_KEYS)}",
                                severity))
    loaded = _Loaded(agent_id, real, config, front, identity, example, env_keys, md_sha,
                     members)
    for key, why in probe.required_env_keys():
        if key not in env_keys:
            problems.append(Problem(missing_where, key, f"not set; required by {why}", severity))
    problems += integrations.credential_problems(folder, config, display, severity)
    return loaded


def _marker_problems(key: envfile.ExampleKey, display: str) -> list[Problem]:
    """Warnings about the `# not secret` marker: on a key whose name says credential, and a
    comment that only mentions the words (the value stays masked)."""
    if key.not_secret and envfile.CREDENTIAL_NAME_RE.search(key.key):
        return [Problem(display, key.key, f"marked {envfile.NOT_SECRET!r} but its name looks "
                        "like a credential's: its value is shown in clear by `smbos env` and the "
                        "UI; remove the marker unless the value really is not secret",
                        Severity.WARNING)]
    if not key.not_secret and re.search(r"\bnot\s+secret\b", key.comment, re.IGNORECASE):
        return [Problem(display, key.key, "its comment mentions 'not secret', which is not the "
                        f"marker: the value stays masked; to show it in clear, put the line "
                        f"{envfile.NOT_SECRET!r} of its own above the key", Severity.WARNING)]
    return []


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


def _same_folders(real: dict[Path, Path], links: set[Path]) -> dict[Path, str]:
    """Entries that are another entry's folder under a second name (a link), mapped to the id of
    the one that keeps it: the real folder, else the first name (`real`: where each one is)."""
    groups: dict[Path, list[Path]] = {}
    for entry, where in real.items():
        groups.setdefault(where, []).append(entry)
    out: dict[Path, str] = {}
    for group in groups.values():
        if len(group) < 2:
            continue
        owner = next((e for e in group if e not in links), group[0])
        out.update({e: owner.name for e in group if e is not owner})
    return out


def load_fleet(agents_dir: Path | str, strict_env: bool = False) -> Fleet:
    """Load every agent folder under `agents_dir`. `strict_env`: missing `.env` keys are errors."""
    # The cycle collector would walk the growing fleet again and again: off (loads make no cycles).
    collecting = gc.isenabled()
    gc.disable()
    try:
        return _load_fleet(Path(agents_dir), strict_env)
    finally:
        if collecting:
            gc.enable()


def _load_fleet(given: Path, strict_env: bool) -> Fleet:
    display_root = display_path(given)
    fleet = Fleet(root=given.resolve(), display_root=display_root)
    if not given.is_dir():
        fleet.problems.append(Problem(display_root, "", "not found; expected a directory of "
                                                        "agent folders"))
        return fleet
    loaded = []
    with os.scandir(given) as listing:  # each entry's kind without a lookup of its own
        found = [e for e in listing if not e.name.startswith(".") and e.is_dir()]
    entries = sorted((given / e.name for e in found), key=lambda p: p.name)
    links = {given / e.name for e in found if e.is_symlink()}
    # Where each folder is: below the resolved root unless a link (no lookup per path component).
    real = {e: e.resolve() if e in links else fleet.root / e.name for e in entries}
    folders = {e.name for e in entries}
    same = _same_folders(real, links)
    for entry, owner in same.items():
        fleet.problems.append(Problem(f"{display_root}/{entry.name}", "",
                                      f"is the same folder as agent {owner!r} (a link); the two "
                                      "would share one memory and one .env: remove the link, or "
                                      "copy the folder"))
    for entry in entries:
        if entry in same:
            continue
        item = _load_one(entry, f"{display_root}/{entry.name}", strict_env, fleet.problems,
                         real[entry])
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
            folder=item.folder,
            config=item.config,
            front=item.front,
            identity=item.identity,
            port=assignment.ports[item.agent_id],
            env_example=tuple(item.env_example),
            env_keys=item.env_keys,
            agent_md_sha256=item.agent_md_sha256,
            team=item.team,
        ))
    return fleet
