"""Reading agent folders: `load_fleet` turns `agents/` into a `Fleet` of valid agents and every
problem found (ADR 004: problems are collected, never raised).

YAML is read by a safe loader that refuses anchors and aliases, after a size check; duplicate
keys, links out of a folder and `.env` files the runtime would read differently are problems;
pydantic's errors become `file: field: message` lines with a did-you-mean for unknown keys.
"""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ValidationError

from smbos import agentmd, catalog, envfile, integrations, ports, redact, runenv, walk
from smbos.agent import Agent, Fleet, config_keys, mcp_servers
from smbos.defaults import DEFAULT_PROJECT
from smbos.errors import Problem, Severity
from smbos.files import display_path
from smbos.ids import did_you_mean, id_problem
from smbos.safeyaml import load_yaml
from smbos.schema import (
    AGENT_MD,
    CONFIG_YAML,
    ENV,
    ENV_EXAMPLE,
    MEMORY,
    AgentConfig,
    FrontMatter,
)
from smbos.team import TeamMember, read_team

MAX_CONFIG_BYTES = 256 * 1024
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
            key = str(loc[-1])
            allowed = _fields_at(model, loc[:-1])
            message = f"unknown key{did_you_mean(key, allowed)}"
            if allowed and not did_you_mean(key, allowed):
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


_INLINE_COMMENT = (
    "the value holds ' #', which the runtime reads as part of the value (a '#' "
    "starts a comment only at the start of a line); put the comment on its own "
    "line"
)


def _read_text(
    path: Path, display: str, limit: int, problems: list[Problem], raw: bool = False
) -> str | None:
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
        problems.append(
            Problem(
                display, "", f"{size} bytes is too large for this file; expected at most {limit}"
            )
        )
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
        problems.append(
            Problem(
                display,
                "",
                "starts with a byte order mark (U+FEFF), which hides "
                "the first line from its readers; save the file as "
                "UTF-8 without BOM",
            )
        )
        return None
    return text


def _check_folder(folder: Path, display: str, problems: list[Problem]) -> None:
    """Links out of the agent folder, and hard links in its memory, found by one bounded walk
    (smbos.walk: the runtime writes `memory/`, so anything can be there); a walk that did not
    see everything is one warning for this agent, never an exception."""
    root = os.path.realpath(folder)
    seen = walk.walk(folder)
    for entry in seen.entries:
        if entry.kind == walk.LINK:
            target = os.path.realpath(entry.path)  # never raises on a loop, unlike Path.resolve
            if target != root and not target.startswith(root + os.sep):
                problems.append(
                    Problem(
                        f"{display}/{walk.short(entry.rel)}",
                        "symlink",
                        "points outside the agent folder; expected a file "
                        "inside it (a container cannot see the target)",
                    )
                )
        elif entry.kind == walk.FILE and entry.rel.startswith(f"{MEMORY}/"):
            links = walk.hard_links(entry.path)
            if links > 1:
                problems.append(
                    Problem(
                        f"{display}/{walk.short(entry.rel)}",
                        "hard link",
                        walk.HARD_LINK.format(links=links),
                        Severity.WARNING,
                    )
                )
    if seen.note:
        problems.append(
            Problem(
                display, "folders", f"{seen.note}; links below were not checked", Severity.WARNING
            )
        )


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


def _load_one(
    folder: Path, display: str, strict_env: bool, problems: list[Problem]
) -> _Loaded | None:
    """One agent folder read and checked: every problem found goes to `problems`; the agent,
    or None when any of them is an error."""
    agent_id = folder.name
    start = len(problems)
    reason = id_problem(agent_id)
    if reason:
        problems.append(Problem(display, "id", reason))
        return None
    _check_folder(folder, display, problems)
    front, identity, md_sha = _read_agent_md(folder, display, problems)
    config = _read_config(folder, display, problems)
    example = _read_env_example(folder, display, config, problems)
    _check_memory(folder, display, problems)
    # team/: the members, their tools checked against the agent's MCP servers (smbos.team).
    members = read_team(folder, display, set(mcp_servers(config)), problems)
    env_keys = _read_env(folder, display, example, problems)
    if any(p.is_error for p in problems[start:]):
        return None
    agent = Agent(
        agent_id,
        folder.resolve(),
        config,
        front,
        identity,
        0,
        tuple(example),
        env_keys,
        md_sha,
        team=members,
    )
    # The container's environment, as the Compose file will set it (the project's name and
    # state folder are short: the defaults stand in for them), within Linux's limits.
    too_large = runenv.problems(
        runenv.environment(
            agent, DEFAULT_PROJECT, folder.resolve().parent.parent / "state" / agent_id
        ),
        f"{display}/{CONFIG_YAML}",
    )
    if too_large:
        problems += too_large
        return None
    severity = Severity.ERROR if strict_env else Severity.WARNING
    problems += _missing_env_keys(agent, folder, display, severity)
    problems += integrations.credential_problems(folder, config, display, severity)
    return _Loaded(agent_id, folder, config, front, identity, example, env_keys, md_sha, members)


def _present(path: Path, display: str, expected: str, problems: list[Problem]) -> bool:
    """Whether a file the folder must hold is there (a dangling link is there, and said to be
    wrong when read); a problem naming what was expected when it is not."""
    if path.exists() or path.is_symlink():
        return True
    problems.append(Problem(display, "", f"missing; expected {expected}"))
    return False


def _yaml_mapping(
    text: str, display: str, field: str, problems: list[Problem], first_line: int = 1
) -> dict | None:
    """The YAML mapping `text` holds ({} for an empty document), else None with the problems
    said (not YAML, not a mapping, a key that is not a string). `field`: where the text is
    (front matter), or "" for a whole file, whose mapping is "(top level)"."""
    before = len(problems)
    data = load_yaml(text, display, problems, field, first_line)
    field = field or "(top level)"
    if data is None:
        return {} if len(problems) == before else None
    if not isinstance(data, dict):
        problems.append(
            Problem(display, field, f"expected a mapping of keys, got {type(data).__name__}")
        )
        return None
    bad_keys = [k for k in data if not isinstance(k, str)]
    if bad_keys:
        problems.append(Problem(display, str(bad_keys[0]), "keys must be strings"))
        return None
    return data


def _read_agent_md(
    folder: Path, display: str, problems: list[Problem]
) -> tuple[FrontMatter, str, str]:
    """agent.md: (front matter, the body that is the identity, the file's sha256)."""
    path, where = folder / AGENT_MD, f"{display}/{AGENT_MD}"
    front = FrontMatter()
    if not _present(path, where, "the agent's identity in Markdown", problems):
        return front, "", ""
    text = _read_text(path, where, MAX_AGENT_MD_BYTES, problems)
    if text is None:
        return front, "", ""
    sha = hashlib.sha256(text.encode()).hexdigest()
    try:
        parts = agentmd.read(text)
    except agentmd.AgentMdError as exc:
        problems.append(Problem(where, exc.field, str(exc)))
        if not text.strip():
            problems.append(
                Problem(where, "", "is empty; expected the agent's identity in Markdown")
            )
        return front, "", sha  # no body to speak of until the agent.md can be read
    if parts.front is not None:
        data = _yaml_mapping(parts.front, where, "front matter", problems, first_line=2)
        if data is not None:
            try:
                front = FrontMatter.model_validate(data)
            except ValidationError as exc:
                problems += validation_problems(exc, FrontMatter, where)
    if not parts.body and not text.strip():
        problems.append(Problem(where, "", "is empty; expected the agent's identity in Markdown"))
    elif not parts.body:
        problems.append(
            Problem(where, "body", "is empty; expected the agent's identity after the front matter")
        )
    return front, parts.body, sha


def _read_config(folder: Path, display: str, problems: list[Problem]) -> AgentConfig:
    """config.yaml, validated; the defaults when it cannot be read (its problems said)."""
    path, where = folder / CONFIG_YAML, f"{display}/{CONFIG_YAML}"
    if not _present(path, where, "a YAML mapping (may be empty)", problems):
        return AgentConfig()
    text = _read_text(path, where, MAX_CONFIG_BYTES, problems)
    data = _yaml_mapping(text, where, "", problems) if text is not None else None
    if data is None:
        return AgentConfig()
    try:
        config = AgentConfig.model_validate(data)
    except ValidationError as exc:
        problems += validation_problems(exc, AgentConfig, where)
        return AgentConfig()
    _check_unique(config, where, problems)
    _check_once(config, where, problems)
    return config


def _read_env_example(
    folder: Path, display: str, config: AgentConfig, problems: list[Problem]
) -> list[envfile.ExampleKey]:
    """.env.example: every key documented (those the configuration needs among them), no
    committed secret, the `# not secret` marker where it may be."""
    path, where = folder / ENV_EXAMPLE, f"{display}/{ENV_EXAMPLE}"
    if not _present(
        path, where, "every key this agent needs, documented, with empty values", problems
    ):
        return []
    text = _read_text(path, where, MAX_ENV_BYTES, problems)
    if text is None:
        return []
    example, line_problems = envfile.parse_example(text)
    problems += [Problem(where, f"line {line}", message) for line, message in line_problems]
    for key in example:
        problems += _marker_problems(key, where)
        if envfile.looks_like_secret(key.value):
            problems.append(
                Problem(
                    where,
                    key.key,
                    "looks like a real secret; expected an empty value or a "
                    "placeholder such as <your-key> (put real values in .env, "
                    "which is not committed)",
                )
            )
    documented = {k.key for k in example}
    if not documented & set(catalog.CREDENTIAL_KEYS):
        problems.append(
            Problem(
                where,
                catalog.CREDENTIAL_KEYS[0],
                f"not documented; every agent needs {' or '.join(catalog.CREDENTIAL_KEYS)}",
            )
        )
    for needed, why in config_keys(config):
        if needed not in documented:
            documented.add(needed)  # said once, for the first that needs it
            problems.append(Problem(where, needed, f"not documented; {why} needs it"))
    return example


def _check_memory(folder: Path, display: str, problems: list[Problem]) -> None:
    memory = folder / MEMORY
    if not memory.is_dir():
        problems.append(
            Problem(
                f"{display}/{MEMORY}",
                "",
                "missing; expected a directory (the agent's memory, mounted into its runtime)"
                if not memory.exists()
                else "is not a directory",
            )
        )


def _read_env(
    folder: Path, display: str, example: list[envfile.ExampleKey], problems: list[Problem]
) -> frozenset[str]:
    """.env: which keys are set (values are read to check them, never kept or shown)."""
    path, where = folder / ENV, f"{display}/{ENV}"
    if path.is_dir():
        problems.append(
            Problem(
                where,
                "",
                "is a directory (left by a bind mount of a missing "
                "file?); expected a file of KEY=value lines: remove "
                "it",
            )
        )
        return frozenset()
    if not path.exists():
        return frozenset()
    text = _read_text(path, where, MAX_ENV_BYTES, problems, raw=True)
    if text is None:
        return frozenset()
    values = envfile.parse_env_text(text)
    for key in envfile.inline_comment_keys(text):
        problems.append(Problem(where, key, _INLINE_COMMENT, Severity.WARNING))
    plain = catalog.PLAIN_KEYS | {k.key for k in example if k.not_secret}
    for key, why in redact.weak_secrets(values, plain):
        problems.append(Problem(where, key, why, Severity.WARNING))
    return frozenset(k for k, v in values.items() if v.strip())


def _missing_env_keys(
    agent: Agent, folder: Path, display: str, severity: Severity
) -> list[Problem]:
    """A problem for each key `.env` must set and does not (warnings unless strict)."""
    where = f"{display}/{ENV}" if (folder / ENV).exists() else f"{display}/{ENV} (missing)"
    found = []
    if not agent.env_keys & set(catalog.CREDENTIAL_KEYS):
        found.append(
            Problem(
                where,
                catalog.CREDENTIAL_KEYS[0],
                f"not set; the runtime needs {' or '.join(catalog.CREDENTIAL_KEYS)}",
                severity,
            )
        )
    for key, why in agent.required_env_keys():
        if key not in agent.env_keys:
            found.append(Problem(where, key, f"not set; required by {why}", severity))
    return found


def _marker_problems(key: envfile.ExampleKey, display: str) -> list[Problem]:
    """Warnings about the `# not secret` marker: on a key whose name says credential, and a
    comment that only mentions the words (the value stays masked)."""
    if key.not_secret and envfile.CREDENTIAL_NAME_RE.search(key.key):
        return [
            Problem(
                display,
                key.key,
                f"marked {envfile.NOT_SECRET!r} but its name looks "
                "like a credential's: its value is shown in clear by `smbos env` and the "
                "UI; remove the marker unless the value really is not secret",
                Severity.WARNING,
            )
        ]
    if not key.not_secret and re.search(r"\bnot\s+secret\b", key.comment, re.IGNORECASE):
        return [
            Problem(
                display,
                key.key,
                "its comment mentions 'not secret', which is not the "
                f"marker: the value stays masked; to show it in clear, put the line "
                f"{envfile.NOT_SECRET!r} of its own above the key",
                Severity.WARNING,
            )
        ]
    return []


def _check_once(config: AgentConfig, display: str, problems: list[Problem]) -> None:
    """A `once` schedule whose time has passed (in the agent's time zone) would never run."""
    now = datetime.now(ZoneInfo(config.runtime.timezone)).replace(tzinfo=None)
    for index, schedule in enumerate(config.schedules):
        once = schedule.once  # validated: the ISO text of a local time
        if schedule.enabled and isinstance(once, str) and datetime.fromisoformat(once) <= now:
            problems.append(
                Problem(
                    display,
                    f"schedules[{index}].once",
                    f"{schedule.once} has passed ({config.runtime.timezone}); "
                    "set a later time, or enabled: false once it has run",
                )
            )


def _check_unique(config: AgentConfig, display: str, problems: list[Problem]) -> None:
    for attr in ("schedules", "skills", "tools"):
        seen: set[str] = set()
        for index, item in enumerate(getattr(config, attr)):
            if item.id in seen:
                problems.append(
                    Problem(
                        display,
                        f"{attr}[{index}].id",
                        f"duplicate id {item.id!r}; ids must be unique",
                    )
                )
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
        fleet.problems.append(
            Problem(display_root, "", "not found; expected a directory of agent folders")
        )
        return fleet
    loaded = []
    entries = [
        e
        for e in sorted(given.iterdir(), key=lambda p: p.name)
        if not e.name.startswith(".") and e.is_dir()
    ]
    folders = {e.name for e in entries}
    same = _same_folders(entries)
    for entry, owner in same.items():
        fleet.problems.append(
            Problem(
                f"{display_root}/{entry.name}",
                "",
                f"is the same folder as agent {owner!r} (a link); the two "
                "would share one memory and one .env: remove the link, or "
                "copy the folder",
            )
        )
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
        fleet.recorded_ports,
        folders,
        record_display,
    )
    fleet.problems += assignment.problems
    fleet.port_record = assignment.record
    for item in loaded:
        if item.agent_id not in assignment.ports:
            continue
        fleet.agents.append(
            Agent(
                id=item.agent_id,
                folder=item.folder.resolve(),
                config=item.config,
                front=item.front,
                identity=item.identity,
                port=assignment.ports[item.agent_id],
                env_example=tuple(item.env_example),
                env_keys=item.env_keys,
                agent_md_sha256=item.agent_md_sha256,
                team=item.team,
            )
        )
    return fleet
