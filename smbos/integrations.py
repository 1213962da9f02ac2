"""What an agent's integrations and channels need on the real runtime, besides `.env` keys.

- Telegram chats (`channels.telegram_chats`): the chats NanoClaw serves, registered at every
  start through NanoClaw's own `register_group` IPC (the entrypoint does it; each chat's group
  folder is the agent's memory folder, so every chat is the same agent with the same memory).
- MCP server packages: the pinned npm packages `smbos build` installs in the per-turn agent
  image, so that no turn downloads a server (`image_packages`), and the servers that still run
  through `npx` (`npx_servers`, flagged by `smbos doctor`).
- Credential files (`credentials`): an integration's folder of files in the agent folder
  (git-ignored, never shown), mounted into every per-turn container where its server reads them.

Nothing here reads a credential file's content or a `.env` value: only names and existence.
"""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

from smbos import catalog
from smbos.errors import Problem, Severity
from smbos.nanoclaw import interface

if TYPE_CHECKING:
    from smbos.agent import Agent
    from smbos.schema import AgentConfig

CHAT_ID_RE = re.compile(r"^tg:-?[0-9]{1,20}$")
PACKAGE_RE = re.compile(r"^(@[a-z0-9][a-z0-9._-]*/)?[a-z0-9][a-z0-9._-]*@[0-9][0-9A-Za-z.+-]*$")
CREDENTIALS_ROOT = "credentials"


def chat_folder(chat_id: str) -> str:
    """NanoClaw's group folder name for a chat (unique per chat, as its store wants)."""
    number = chat_id[3:]
    return f"telegram-{'n' + number[1:] if number.startswith('-') else number}"


def telegram_chats(agent: Agent) -> list[dict]:
    """The chats the entrypoint registers (none while Telegram is off)."""
    channels = agent.config.channels
    if not channels.telegram:
        return []
    return [
        {
            "jid": chat.id,
            "name": chat.name or chat.id,
            "folder": chat.folder,
            "trigger": chat.trigger or f"@{agent.assistant_name}",
            "requires_trigger": chat.requires_trigger,
        }
        for chat in channels.telegram_chats
    ]


# ------------------------------------------------------------------------ MCP packages


def server_packages(agent: Agent) -> dict[str, str]:
    """{server name: pinned package} for each of the agent's servers that comes from a package
    (an integration's default server, or a `tools` entry with `package`).

    The walk is `Agent.mcp_servers`'s (integrations' defaults, then `tools` entries override or
    disable them by id) on purpose: a server is installed exactly when it is configured."""
    found: dict[str, str] = {}
    for name in agent.config.integrations:
        default = catalog.INTEGRATIONS[name].mcp
        if default is not None and default.package:
            found[name] = default.package
    for tool in agent.config.tools:
        if tool.type != "mcp":
            continue
        if not tool.enabled:
            found.pop(tool.id, None)
        elif tool.command:
            if tool.package:
                found[tool.id] = tool.package
            else:
                found.pop(tool.id, None)
    return found


def image_packages(agents: list[Agent]) -> tuple[str, ...]:
    """Every package the fleet's servers need, sorted: what the per-turn agent image gets."""
    return tuple(sorted({p for agent in agents for p in server_packages(agent).values()}))


def missing_packages(agent: Agent, installed: str | None) -> list[str]:
    """The agent's packages not in an agent image whose label lists `installed` (None: an image
    SMBOS did not build, which is the operator's to fill: nothing is reported)."""
    if installed is None:
        return []
    have = set(filter(None, installed.split(",")))
    return sorted(set(server_packages(agent).values()) - have)


def servers_missing_from_images(
    client, default_image: str, agents: list[Agent]
) -> list[tuple[str, str, list[str]]]:
    """(agent id, agent image, packages) for each agent whose per-turn agent image (the label
    `smbos build` puts on it) lacks MCP servers the agent runs."""
    from smbos.nanoclaw import image

    found = []
    for agent in agents:
        runtime = agent.config.runtime
        if runtime.container_isolation != "docker":
            continue
        wanted = image.agent_image_of(client, runtime.image or default_image, runtime.agent_image)
        if not wanted:
            continue
        facts = image.image_facts(client, wanted)
        lacking = missing_packages(
            agent, None if facts is None else facts.get(image.LABEL_MCP_PACKAGES)
        )
        if lacking:
            found.append((agent.id, wanted, lacking))
    return found


def npx_servers(agent: Agent) -> list[str]:
    """The agent's servers that run through `npx` (a download in every turn)."""
    return sorted(
        name
        for name, server in agent.mcp_servers().items()
        if PurePosixPath(server["command"]).name == "npx"
    )


# -------------------------------------------------------------------- credential files


def credential_packs(config: AgentConfig) -> list[tuple[str, catalog.Credentials]]:
    """(name, credentials) of the agent's integrations with credential files, but not of one
    whose server a `tools` entry turns off (`enabled: false`)."""
    off = {tool.id for tool in config.tools if tool.type == "mcp" and not tool.enabled}
    found = []
    for name in config.integrations:
        credentials = catalog.INTEGRATIONS[name].credentials
        if credentials is not None and name not in off:
            found.append((name, credentials))
    return found


def credentials_folder(config: AgentConfig, name: str) -> str:
    """The folder (relative to the agent folder) of integration `name`'s files."""
    return config.credentials.get(name) or f"{CREDENTIALS_ROOT}/{name}"


def folder_problem(value: str) -> str | None:
    """Why `value` cannot be a credentials folder, or None."""
    path = PurePosixPath(value)
    if path.is_absolute() or "\\" in value:
        return f"expected a folder inside the agent folder's {CREDENTIALS_ROOT}/, got {value!r}"
    parts = path.parts
    if ".." in parts or len(parts) < 2 or parts[0] != CREDENTIALS_ROOT:
        return (
            f"expected a folder under {CREDENTIALS_ROOT}/ of the agent folder (git-ignored, "
            f"never shown), such as {CREDENTIALS_ROOT}/calendar; got {value!r}"
        )
    if any(c in value for c in '\n\r,"') or not value.isprintable():
        return f"{value!r} holds a character a mount cannot carry"
    return None


def credential_problems(
    folder: Path, config: AgentConfig, display: str, severity: Severity
) -> list[Problem]:
    """A problem for each file an integration needs that is not in its folder (the same
    severity as a missing `.env` key), and for files that are not regular files."""
    problems = []
    for name, credentials in credential_packs(config):
        rel = credentials_folder(config, name)
        base = folder / rel
        for item in credentials.files:
            path = base / item.name
            where = f"{display}/{rel}/{item.name}"
            if path.is_symlink() or (path.exists() and not path.is_file()):
                problems.append(
                    Problem(
                        where,
                        "",
                        f"is not a regular file; expected {item.what} of integration {name}",
                    )
                )
            elif not path.exists():
                problems.append(
                    Problem(
                        where,
                        "",
                        f"missing: integration {name} needs "
                        f"{item.what} ({item.how}; "
                        f"docs/integrations/{name}.md)",
                        severity,
                    )
                )
    return problems


def next_steps(agent: Agent | None, folder: Path) -> list[str]:
    """The one-time steps a new agent's integrations and channels need (`smbos new`)."""
    if agent is None:
        return []
    steps = []
    for name, credentials in credential_packs(agent.config):
        rel = credentials_folder(agent.config, name)
        names = " and ".join(f.name for f in credentials.files)
        steps.append(
            f"integration {name} needs {names} in {folder}/{rel}/ (git-ignored): "
            f"its one-time auth is in docs/integrations/{name}.md"
        )
    if agent.config.channels.telegram and not agent.config.channels.telegram_chats:
        steps.append(
            "Telegram: start the agent, send /chatid to the bot from your chat and put "
            "the tg:<id> it answers under channels.telegram_chats "
            "(docs/integrations/telegram.md)"
        )
    return steps


def turn_mounts(agent: Agent) -> list[dict]:
    """The credential folders every per-turn container of the agent gets."""
    mounts = []
    for name, credentials in credential_packs(agent.config):
        source = agent.folder / credentials_folder(agent.config, name)
        mounts.append(
            {
                "source": str(source),
                "target": credentials.target,
                "writable": credentials.writable,
                "integration": name,
            }
        )
    return mounts


def turn_mounts_env(agent: Agent) -> str:
    """SMBOS_TURN_MOUNTS: one docker `--mount` value a line (CSV, as docker reads it)."""
    lines = []
    for mount in turn_mounts(agent):
        fields = ["type=bind", f"source={mount['source']}", f"target={mount['target']}"]
        if not mount["writable"]:
            fields.append("readonly")
        buffer = io.StringIO()
        csv.writer(buffer, lineterminator="").writerow(fields)
        lines.append(buffer.getvalue())
    return "\n".join(lines)


def credential_dirs(agent: Agent) -> list[tuple[Path, bool]]:
    """(host folder, writable) of each credentials folder that exists: prepared for uid 1000."""
    return [
        (Path(m["source"]), m["writable"]) for m in turn_mounts(agent) if Path(m["source"]).is_dir()
    ]


# --------------------------------------------------------------------- Telegram status

TELEGRAM_STATE_FILE = Path(interface.TELEGRAM_STATE_FILE)  # the telegram-connect patch's
TELEGRAM_FACTS_FILE = interface.TELEGRAM_FACTS_FILE  # the entrypoint's check of the chats


def _read_json(path: Path) -> dict | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def telegram_status(instance_dir: Path, telegram: bool, running: bool) -> tuple[str, str]:
    """(state, detail) of the agent's Telegram channel: `off`, `-` (not running), `connected`,
    `connecting`, `failed` or `unknown` (a runtime that does not record it), and a detail: the
    failure's reason, chats the runtime did not register or still serves undeclared."""
    if not telegram:
        return "off", ""
    if not running:
        return "-", ""
    state = _read_json(instance_dir / TELEGRAM_STATE_FILE) or {}
    value = str(state.get("state") or "unknown")
    if value not in ("connecting", "connected", "failed"):
        value = "unknown"
    details = []
    if value == "failed" and state.get("error"):
        details.append(str(state["error"])[:200])
    facts = (_read_json(instance_dir / TELEGRAM_FACTS_FILE) or {}).get("chats") or {}
    if facts.get("missing"):
        details.append(f"not registered: {', '.join(map(str, facts['missing']))}")
    if facts.get("undeclared"):
        details.append(f"served but not declared: {', '.join(map(str, facts['undeclared']))}")
    if facts.get("registered") is not None:
        details.append(f"{len(facts['registered'])} chat(s)")
    return value, "; ".join(details)
