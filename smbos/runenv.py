"""The environment of an agent's container, and the limits Linux sets on it.

The Compose file hands each container its settings as environment variables
(docs/container-interface.md); some are JSON that the folder decides: the schedules with their
prompts (`SMBOS_SCHEDULES`), the MCP servers (`SMBOS_MCP_SERVERS`), the Telegram chats. Linux
refuses to start a program one of whose environment strings (`NAME=value` and its closing NUL)
is longer than 128 KiB (MAX_ARG_STRLEN), or whose arguments and environment together exceed
ARG_MAX (a quarter of the stack limit: 2 MiB with the usual 8 MiB). Such a container is created
and then cannot start, over and over; `problems` makes it a folder error instead, naming the
field that made the variable too large, so `smbos validate` refuses it before anything runs.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

from smbos import integrations
from smbos.errors import Problem
from smbos.nanoclaw.interface import AGENT_MOUNT, ENV, RELAY_PORT, RUNTIME_PORT, STORE_MOUNT

if TYPE_CHECKING:
    from smbos.agent import Agent

# One `NAME=value` string with its NUL (MAX_ARG_STRLEN: 32 pages of 4 KiB).
MAX_VARIABLE_BYTES = 128 * 1024
# All of them together: half of ARG_MAX on an 8 MiB stack, leaving the other half to the
# arguments, the pointers to each string, and the variables the image and the runtime add.
MAX_TOTAL_BYTES = 1024 * 1024

# The config.yaml field that decides each variable that can grow.
FIELDS = {
    ENV["schedules"]: "schedules",
    ENV["mcp_servers"]: "tools",
    ENV["telegram_chats"]: "channels.telegram_chats",
    ENV["turn_mounts"]: "credentials",
    "CONTAINER_IMAGE": "runtime.agent_image",
}


def _json(data: object) -> str:
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"), sort_keys=True)


def schedules_json(agent: Agent) -> str:
    """The enabled schedules, as the entrypoint queues them into NanoClaw's scheduler."""
    return _json(
        [
            {
                "id": s.id,
                "prompt": s.prompt,
                "schedule_type": s.schedule_type,
                "schedule_value": s.schedule_value,
                "context_mode": s.context_mode,
            }
            for s in agent.config.schedules
            if s.enabled
        ]
    )


def environment(agent: Agent, project_name: str, instance_dir: Path) -> dict[str, str]:
    """Every variable the Compose file sets for the agent's container, sorted by name (the
    image's names from smbos/nanoclaw/image/interface.json, `env`; the rest are NanoClaw's own)."""
    runtime = agent.config.runtime
    turns = runtime.turn_resources
    env = {
        "ASSISTANT_NAME": agent.assistant_name,
        # runtime.swarms: Claude Code agent teams in every group's turns
        # (smbos/nanoclaw/image/entrypoint/teams.mjs).
        ENV["agent_teams"]: "on" if agent.teams else "off",
        ENV["runtime_port"]: str(RUNTIME_PORT),
        "LOG_LEVEL": runtime.log_level,
        "MAX_CONCURRENT_CONTAINERS": str(runtime.max_concurrent_containers),
        ENV["agent_dir"]: AGENT_MOUNT,
        ENV["agent_id"]: agent.id,
        ENV["instance_dir"]: str(instance_dir),
        ENV["mcp_servers"]: _json(agent.mcp_servers()),
        ENV["memory_dir"]: str(agent.memory_dir),
        ENV["project"]: project_name,
        ENV["relay_port"]: str(RELAY_PORT),
        ENV["schedules"]: schedules_json(agent),
        ENV["store_dir"]: STORE_MOUNT,
        ENV["telegram"]: "on" if agent.config.channels.telegram else "off",
        ENV["telegram_chats"]: _json(integrations.telegram_chats(agent)),
        ENV["telemetry"]: "on" if runtime.telemetry else "off",
        "TZ": runtime.timezone,
    }
    if runtime.agent_image:
        env["CONTAINER_IMAGE"] = runtime.agent_image
    if runtime.container_isolation == "docker":
        # Per-turn containers (smbos/nanoclaw/image/container): on this agent's own network, with
        # these limits; Compose names the network <project>_<service>.
        env.update(
            {
                ENV["turn_cpus"]: str(turns.cpus),
                ENV["turn_memory"]: turns.memory,
                ENV["turn_network"]: f"{project_name}_{agent.id}",
                ENV["turn_pids"]: str(turns.pids),
            }
        )
        mounts = integrations.turn_mounts_env(agent)
        if mounts:
            # Credential folders of the agent's integrations (paths only), for every turn.
            env[ENV["turn_mounts"]] = mounts
    if agent.config.channels.telegram_only:
        env["TELEGRAM_ONLY"] = "true"
    return dict(sorted(env.items()))


def size(name: str, value: str) -> int:
    """Bytes the kernel counts for one variable: `NAME=value` in UTF-8 and its NUL."""
    return len(name.encode()) + 1 + len(value.encode()) + 1


def problems(env: dict[str, str], display: str) -> list[Problem]:
    """A problem for each variable over MAX_VARIABLE_BYTES, on the field that decides it, and
    one when all of them exceed MAX_TOTAL_BYTES (`display`: the agent's config.yaml)."""
    found = []
    sizes = {name: size(name, value) for name, value in env.items()}
    for name, bytes_ in sizes.items():
        if bytes_ > MAX_VARIABLE_BYTES:
            found.append(
                Problem(
                    display,
                    FIELDS.get(name, "(environment)"),
                    (
                        f"makes the container's variable {name} {bytes_} bytes, limit "
                        f"{MAX_VARIABLE_BYTES} (Linux's limit on one environment variable): the "
                        "container could not start; shorten it (long instructions belong in the "
                        "agent's memory files)"
                    ),
                )
            )
    total = sum(sizes.values())
    if total > MAX_TOTAL_BYTES:
        biggest = max(sizes, key=sizes.__getitem__)
        found.append(
            Problem(
                display,
                FIELDS.get(biggest, "(environment)"),
                (
                    f"makes the container's environment {total} bytes in all, "
                    f"limit {MAX_TOTAL_BYTES} (Linux's limit on a program's arguments "
                    f"and environment); {biggest} is the largest: shorten it"
                ),
            )
        )
    return found
