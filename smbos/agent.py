"""The agent unit: one folder under `agents/`, loaded and valid (`Agent`), and the fleet of them
(`Fleet`, with every problem found).

`smbos.schema` describes a folder's files and `smbos.loader` reads them (`load_fleet`), each
problem a one-line `Problem` naming the file and the field. Nothing here keeps a value from
`.env`: only which keys are set.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from smbos import catalog, envfile, ports
from smbos.errors import Problem
from smbos.schema import ENV, MEMORY, AgentConfig, FrontMatter
from smbos.team import TeamMember
from smbos.team import digest as team_digest

# ------------------------------------------------------------------- its MCP servers


def config_keys(config: AgentConfig) -> list[tuple[str, str]]:
    """(key, what needs it) for every `.env` key the configuration itself needs: the keys of
    the channels and integrations that are on and of the enabled MCP `tools` entries. The one
    list `.env.example` must document, `.env` must set, and the settings page shows."""
    needed: list[tuple[str, str]] = []
    for name in catalog.CHANNELS:
        if getattr(config.channels, name):
            needed += [(k, f"channel {name}") for k in catalog.CHANNELS[name].keys]
    for name in config.integrations:
        needed += [(k, f"integration {name}") for k in catalog.INTEGRATIONS[name].keys]
    for tool in config.tools:
        if tool.type == "mcp" and tool.enabled:
            needed += [(key, f"tool {tool.id}") for key in tool.env.values()]
    return needed


def mcp_servers(config: AgentConfig) -> dict[str, dict[str, Any]]:
    """The MCP servers the runtime gets: each integration's default server, and every
    enabled `tools` entry of type mcp with a command (which replaces a default of the same
    id; a disabled entry removes it)."""
    servers: dict[str, dict[str, Any]] = {}
    for name in config.integrations:
        default = catalog.INTEGRATIONS[name].mcp
        if default is not None:
            servers[name] = {
                "command": default.command,
                "args": list(default.args),
                "env": dict(default.env),
            }
            if default.values:
                servers[name]["values"] = dict(default.values)
    for tool in config.tools:
        if tool.type != "mcp":
            continue
        if not tool.enabled:
            servers.pop(tool.id, None)
        elif tool.command:
            servers[tool.id] = {
                "command": tool.command,
                "args": list(tool.args),
                "env": dict(tool.env),
            }
    return dict(sorted(servers.items()))


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
    # team/<member>.md (smbos.team): subagents installed at every start.
    team: tuple[TeamMember, ...] = ()

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
    def telegram(self) -> bool:
        """Whether the agent's Telegram channel is on (`channels.telegram`, the one switch)."""
        return self.config.channels.telegram

    @property
    def teams(self) -> bool:
        """Whether the agent's turns run with Claude Code agent teams (`runtime.swarms`)."""
        return self.config.runtime.swarms

    @property
    def members(self) -> tuple[str, ...]:
        """The names of the team's members (team/<member>.md)."""
        return tuple(m.name for m in self.team)

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
        """The MCP servers the runtime gets (`mcp_servers` of its config)."""
        return mcp_servers(self.config)

    def required_env_keys(self) -> list[tuple[str, str]]:
        """(key, why) for every key `.env` must set: those of the channels, integrations and
        MCP tools that are on (`config_keys`), and every other key `.env.example` documents
        without "optional". A key that belongs to a channel, an integration or a tool is needed
        only while one of them is on, whatever `.env.example` lists."""
        needed = config_keys(self.config)
        owned = set(catalog.key_owners()) | {
            key for tool in self.config.tools for key in tool.env.values()
        }
        needed += [
            (k.key, ".env.example")
            for k in self.env_example
            if not k.optional and k.key not in catalog.CREDENTIAL_KEYS and k.key not in owned
        ]
        first: dict[str, str] = {}  # each key once, with the first reason found
        for key, why in needed:
            first.setdefault(key, why)
        return list(first.items())

    def config_hash(self) -> str:
        """What the running container was created from: config, identity, port."""
        payload = {
            "config": self.config.model_dump(mode="json"),
            "agent_md": self.agent_md_sha256,
            "port": self.port,
        }
        if self.team:
            payload["team"] = team_digest(self.team)
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
        errors = sorted(
            p
            for p in self.errors
            if p.path == folder
            or p.path.startswith(folder + "/")
            or p.path.startswith(folder + " ")
        )
        if errors:
            more = (
                f" (and {len(errors) - 1} more problem(s): `smbos validate` lists them)"
                if len(errors) > 1
                else ""
            )
            return f"agent {agent_id[:64]!r} is invalid: {errors[0]}{more}"
        known = ", ".join(a.id for a in self.agents) or "none"
        return f"unknown agent {agent_id[:64]!r}; known agents: {known}"
