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
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from pydantic import ValidationError

from smbos import agentmd, envcheck, envfile, integrations, ports, runenv, walk
from smbos.agent import Agent, Fleet, mcp_servers
from smbos.defaults import DEFAULT_PROJECT
from smbos.errors import Problem, Severity
from smbos.files import display_path
from smbos.folderread import present, read_text, yaml_mapping
from smbos.ids import id_problem
from smbos.modelproblems import validation_problems
from smbos.schema import (
    AGENT_MD,
    CONFIG_YAML,
    MEMORY,
    AgentConfig,
    FrontMatter,
)
from smbos.team import TeamMember, read_team

MAX_CONFIG_BYTES = 256 * 1024
_NO_CONFIG = AgentConfig()  # while config.yaml is missing or invalid (pydantic copies defaults)
MAX_AGENT_MD_BYTES = 1024 * 1024


# ----------------------------------------------------------------------------- reading


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
    folder: Path, display: str, strict_env: bool, problems: list[Problem], real: Path
) -> _Loaded | None:
    """One agent folder read and checked: every problem found goes to `problems`; the agent,
    or None when any of them is an error. `real`: the folder with every link resolved
    (load_fleet knows it without a lookup)."""
    agent_id = folder.name
    start = len(problems)
    reason = id_problem(agent_id)
    if reason:
        problems.append(Problem(display, "id", reason))
        return None
    _check_folder(folder, real, display, problems)
    front, identity, md_sha = _read_agent_md(folder, display, problems)
    config = _read_config(folder, display, problems)
    example = envcheck.read_env_example(folder, display, config, problems)
    _check_memory(folder, display, problems)
    # team/: the members, their tools checked against the agent's MCP servers (smbos.team).
    members = read_team(folder, display, set(mcp_servers(config)), problems)
    env_keys = envcheck.read_env(folder, display, example, problems)
    if any(p.is_error for p in problems[start:]):
        return None
    agent = Agent(
        agent_id,
        real,
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
        runenv.environment(agent, DEFAULT_PROJECT, real.parent.parent / "state" / agent_id),
        f"{display}/{CONFIG_YAML}",
    )
    if too_large:
        problems += too_large
        return None
    severity = Severity.ERROR if strict_env else Severity.WARNING
    problems += envcheck.missing_env_keys(agent, folder, display, severity)
    problems += integrations.credential_problems(folder, config, display, severity)
    return _Loaded(agent_id, real, config, front, identity, example, env_keys, md_sha, members)


def _read_agent_md(
    folder: Path, display: str, problems: list[Problem]
) -> tuple[FrontMatter, str, str]:
    """agent.md: (front matter, the body that is the identity, the file's sha256)."""
    path, where = folder / AGENT_MD, f"{display}/{AGENT_MD}"
    front = FrontMatter()
    if not present(path, where, "the agent's identity in Markdown", problems):
        return front, "", ""
    text = read_text(path, where, MAX_AGENT_MD_BYTES, problems)
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
        data = yaml_mapping(parts.front, where, "front matter", problems, first_line=2)
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
    if not present(path, where, "a YAML mapping (may be empty)", problems):
        return _NO_CONFIG
    text = read_text(path, where, MAX_CONFIG_BYTES, problems)
    data = yaml_mapping(text, where, "", problems) if text is not None else None
    if data is None:
        return _NO_CONFIG
    try:
        config = AgentConfig.model_validate(data)
    except ValidationError as exc:
        problems += validation_problems(exc, AgentConfig, where)
        return _NO_CONFIG
    _check_unique(config, where, problems)
    _check_once(config, where, problems)
    return config


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
        fleet.problems.append(
            Problem(display_root, "", "not found; expected a directory of agent folders")
        )
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
        item = _load_one(
            entry, f"{display_root}/{entry.name}", strict_env, fleet.problems, real[entry]
        )
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
                folder=item.folder,
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
