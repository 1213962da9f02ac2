"""An agent's team: `team/<member>.md` in its folder, read and checked (ADR 017).

Each file is a Claude Code subagent definition: YAML front matter with `name` and `description`
(required), `tools` and `model` (optional), and a Markdown body that is the member's prompt. At
every start the entrypoint installs the files where the agent's turns load subagents from
(smbos/nanoclaw/image/entrypoint/teams.mjs); here they are only read, for `smbos validate`, the
listings and the configuration hash (a changed member means the container is out of date).

A problem is one line naming the file and the field, as everywhere (ADR 004). A tool that is
neither a Claude Code tool nor one of the agent's MCP servers is a warning: Claude Code ignores
a tool it does not know, so the member simply has less than its file says.
"""

from __future__ import annotations

import difflib
import hashlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from smbos import agentmd
from smbos.errors import Problem, Severity
from smbos.safeyaml import load_yaml

TEAM = "team"  # the folder, in the agent folder
MAX_MEMBER_BYTES = 64 * 1024
KEYS = ("name", "description", "tools", "model")
# A member's name as Claude Code takes it: lowercase letters, digits and hyphens.
NAME_RE = re.compile(r"^[a-z][a-z0-9]*(?:-[a-z0-9]+)*$")
MAX_NAME = 64
# A file the entrypoint installs under the same name: plain names only.
FILE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*\.md$")
# Claude Code's own subagents: a member of the same name would hide one of them.
BUILT_IN_SUBAGENTS = frozenset({"general-purpose", "statusline-setup", "output-style-setup"})
MODEL_ALIASES = ("inherit", "sonnet", "opus", "haiku")
MODEL_RE = re.compile(r"^claude-[a-z0-9][a-z0-9.-]*$")
# Claude Code's tools, as a subagent's `tools` names them.
CLAUDE_CODE_TOOLS = frozenset(
    {
        "Agent",
        "AskUserQuestion",
        "Bash",
        "BashOutput",
        "Edit",
        "ExitPlanMode",
        "Glob",
        "Grep",
        "KillShell",
        "LS",
        "MultiEdit",
        "NotebookEdit",
        "NotebookRead",
        "Read",
        "SendMessage",
        "Skill",
        "SlashCommand",
        "Task",
        "TaskOutput",
        "TaskStop",
        "TeamCreate",
        "TeamDelete",
        "TodoWrite",
        "ToolSearch",
        "WebFetch",
        "WebSearch",
        "Write",
    }
)
# The MCP server every NanoClaw turn has (its scheduler and messaging tools).
RUNTIME_MCP_SERVER = "nanoclaw"
MCP_TOOL_RE = re.compile(r"^mcp__([A-Za-z0-9_-]+?)(?:__([A-Za-z0-9_*-]+))?$")


@dataclass(frozen=True)
class TeamMember:
    """One valid `team/<file>`: what the listings show, and the digest the hash takes."""

    file: str
    name: str
    description: str
    tools: tuple[str, ...] | None  # None: every tool of the agent
    model: str | None
    sha256: str

    def to_json(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "name": self.name,
            "description": self.description,
            "tools": list(self.tools) if self.tools is not None else None,
            "model": self.model,
        }


def digest(members: tuple[TeamMember, ...]) -> str:
    """One digest of the team's files (names and contents), for the configuration hash."""
    blob = "\n".join(f"{m.file}:{m.sha256}" for m in sorted(members, key=lambda m: m.file))
    return hashlib.sha256(blob.encode()).hexdigest()


def member_files(folder: Path) -> list[Path]:
    """The files of `folder/team/` that define members (`*.md`, not hidden), by name."""
    team = folder / TEAM
    if not team.is_dir():
        return []
    return sorted(
        (p for p in team.iterdir() if p.name.endswith(".md") and not p.name.startswith(".")),
        key=lambda p: p.name,
    )


def read_team(
    folder: Path, display: str, mcp_servers: set[str] | frozenset[str], problems: list[Problem]
) -> tuple[TeamMember, ...]:
    """The members of `folder/team/`, each problem added to `problems`. `mcp_servers`: the
    names of the agent's MCP servers (a tool `mcp__<server>...` of one of them is known)."""
    team = folder / TEAM
    team_display = f"{display}/{TEAM}"
    if not team.exists() and not team.is_symlink():
        return ()
    if not team.is_dir():
        problems.append(
            Problem(
                team_display,
                "",
                "is not a folder; expected team/<member>.md "
                "files (Claude Code subagent definitions)",
            )
        )
        return ()
    for entry in sorted(team.iterdir(), key=lambda p: p.name):
        if entry.name.startswith(".") or entry.name.endswith(".md"):
            continue
        what = "a folder" if entry.is_dir() else "not a .md file"
        problems.append(
            Problem(
                f"{team_display}/{entry.name}",
                "",
                f"ignored: {what}; a member is team/<member>.md",
                Severity.WARNING,
            )
        )
    members: list[TeamMember] = []
    names: dict[str, str] = {}
    known = frozenset(mcp_servers) | {RUNTIME_MCP_SERVER}
    for path in member_files(folder):
        member = _read_member(path, f"{team_display}/{path.name}", known, problems)
        if member is None:
            continue
        if member.name in names:
            problems.append(
                Problem(
                    f"{team_display}/{path.name}",
                    "name",
                    f"{member.name!r} is also the name in team/{names[member.name]}"
                    "; each member needs its own name",
                )
            )
            continue
        names[member.name] = path.name
        members.append(member)
    return tuple(members)


def _read_text(path: Path, display: str, problems: list[Problem]) -> str | None:
    if not path.is_file():
        problems.append(Problem(display, "", "is not a regular file"))
        return None
    try:
        data = path.read_bytes()
    except OSError as exc:
        problems.append(Problem(display, "", f"cannot read: {exc.strerror}"))
        return None
    if len(data) > MAX_MEMBER_BYTES:
        problems.append(
            Problem(
                display,
                "",
                f"{len(data)} bytes is too large for a member; expected at most {MAX_MEMBER_BYTES}",
            )
        )
        return None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        problems.append(Problem(display, "", "is not UTF-8 text"))
        return None
    if text.startswith("\ufeff"):
        problems.append(
            Problem(
                display,
                "",
                "starts with a byte order mark (U+FEFF), which "
                "hides the front matter from Claude Code; save the "
                "file as UTF-8 without BOM",
            )
        )
        return None
    return text


def _read_member(
    path: Path, display: str, known_servers: frozenset[str], problems: list[Problem]
) -> TeamMember | None:
    start = len(problems)
    if not FILE_RE.match(path.name):
        problems.append(
            Problem(
                display,
                "file name",
                "expected letters, digits, '-' and '_' before .md (the name it is installed as)",
            )
        )
    text = _read_text(path, display, problems)
    if text is None:
        return None
    try:
        parsed = agentmd.read(text)  # front matter read as agent.md's is
    except agentmd.AgentMdError as exc:
        problems.append(Problem(display, exc.field, str(exc)))
        return None
    raw_front, body = parsed.front, parsed.body
    if raw_front is None:
        problems.append(
            Problem(
                display,
                "front matter",
                "missing; expected --- with name and description --- before the prompt",
            )
        )
        return None
    before = len(problems)
    data = load_yaml(raw_front, display, problems, "front matter", first_line=2)
    if data is None and len(problems) > before:
        return None
    if not isinstance(data, dict):
        problems.append(
            Problem(display, "front matter", "expected a mapping with name and description")
        )
        return None
    for key in data:
        if key not in KEYS:
            close = difflib.get_close_matches(str(key), KEYS, n=1, cutoff=0.6)
            hint = f" (did you mean {close[0]!r}?)" if close else f"; expected: {', '.join(KEYS)}"
            problems.append(Problem(display, str(key), f"unknown key{hint}"))
    name = _text_field(data, "name", display, problems)
    if name is not None:
        if len(name) > MAX_NAME or not NAME_RE.match(name):
            problems.append(
                Problem(
                    display,
                    "name",
                    f"{name[:40]!r} is not a member name; "
                    "expected lowercase letters, digits and "
                    "'-', starting with a letter (as "
                    "'voice-editor')",
                )
            )
        elif name in BUILT_IN_SUBAGENTS:
            problems.append(
                Problem(
                    display,
                    "name",
                    f"{name!r} is a Claude Code built-in subagent; choose another name",
                )
            )
    description = _text_field(data, "description", display, problems)
    tools = _tools(data.get("tools"), display, known_servers, problems) if "tools" in data else None
    model = data.get("model")
    if "model" in data and (
        not isinstance(model, str) or not (model in MODEL_ALIASES or MODEL_RE.match(model))
    ):
        problems.append(
            Problem(
                display,
                "model",
                f"{str(model)[:40]!r} is not a model; expected "
                f"{', '.join(MODEL_ALIASES)} or a model id such "
                "as claude-sonnet-4-5",
            )
        )
    if not body.strip():
        problems.append(
            Problem(
                display, "body", "is empty; expected the member's prompt after the front matter"
            )
        )
    if any(p.is_error for p in problems[start:]) or name is None or description is None:
        return None
    return TeamMember(
        path.name,
        name,
        " ".join(description.split()),
        tools,
        model if isinstance(model, str) else None,
        hashlib.sha256(text.encode()).hexdigest(),
    )


def _text_field(data: dict, key: str, display: str, problems: list[Problem]) -> str | None:
    value = data.get(key)
    if key not in data:
        problems.append(Problem(display, key, "required"))
        return None
    if not isinstance(value, str) or not value.strip():
        problems.append(Problem(display, key, "expected a non-empty text"))
        return None
    return value.strip()


def _tools(
    value: Any, display: str, known_servers: frozenset[str], problems: list[Problem]
) -> tuple[str, ...] | None:
    """`tools: Read, Grep, mcp__notion` as Claude Code reads it: names separated by commas."""
    if not isinstance(value, str):
        problems.append(
            Problem(
                display,
                "tools",
                "expected tool names separated by commas, such as 'Read, Grep, WebSearch'",
            )
        )
        return None
    names = tuple(t.strip() for t in value.split(",") if t.strip())
    if not names:
        problems.append(
            Problem(
                display,
                "tools",
                "is empty; leave it out to give the member every tool of the agent",
            )
        )
        return None
    for tool in names:
        mcp = MCP_TOOL_RE.match(tool)
        if mcp:
            if mcp.group(1) not in known_servers:
                servers = ", ".join(sorted(known_servers))
                problems.append(
                    Problem(
                        display,
                        "tools",
                        f"{tool}: no MCP server {mcp.group(1)!r} in this agent (it has: {servers})",
                        Severity.WARNING,
                    )
                )
        elif tool not in CLAUDE_CODE_TOOLS:
            close = difflib.get_close_matches(tool, sorted(CLAUDE_CODE_TOOLS), n=1, cutoff=0.6)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            problems.append(
                Problem(
                    display,
                    "tools",
                    f"{tool}: not a Claude Code tool{hint}; the member will not have it",
                    Severity.WARNING,
                )
            )
    return names
