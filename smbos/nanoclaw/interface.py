"""The container interface (docs/container-interface.md) in one place: the labels SMBOS writes
and reads, the environment keys, the ports, the runtime's user, the mounts, the files the image
leaves in the instance directory, and how a published port is reached.

The names are read from `smbos/nanoclaw/image/interface.json`, the one file the image's entrypoint
reads them from too (`smbos/nanoclaw/image/entrypoint/interface.mjs`): a rename there is a rename on
both sides. The Compose renderer writes these, the controller and the UI read them.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

NAMES_FILE = Path(__file__).resolve().parent / "image" / "interface.json"
NAMES: dict[str, Any] = json.loads(NAMES_FILE.read_text(encoding="utf-8"))
_LABELS, _ENV, _CONTAINER, _INSTANCE = (
    NAMES[k] for k in ("labels", "env", "container", "instance")
)

# Labels of an agent's container (set by the Compose file).
LABEL_AGENT: str = _LABELS["agent"]
LABEL_PROJECT: str = _LABELS["project"]
LABEL_HASH: str = _LABELS["config_hash"]
# Set on the containers NanoClaw starts for each turn (smbos/nanoclaw/image/container), with the
# agent and project labels of the agent that started them.
LABEL_TURN: str = _LABELS["turn"]
# Labels of the runtime image (set by `smbos build`).
LABEL_IMAGE: str = _LABELS["image"]
LABEL_SOURCE: str = _LABELS["source"]
LABEL_PATCHES: str = _LABELS["patches"]
LABEL_AGENT_IMAGE: str = _LABELS["agent_image"]
# On the per-turn agent image: the MCP server packages installed in it (smbos/integrations.py).
LABEL_MCP_PACKAGES: str = _LABELS["mcp_packages"]

# The environment of an agent's container (smbos/runenv.py writes it, the image reads it): the
# variable of each setting, by its name in interface.json (`ENV["schedules"]` is SMBOS_SCHEDULES).
ENV: dict[str, str] = dict(_ENV)

# Inside the container.
AGENT_MOUNT: str = _CONTAINER["agent_dir"]
STORE_MOUNT: str = _CONTAINER["store_dir"]
# The relay: published on 127.0.0.1:<agent port>, it relays to the runtime's own port.
RELAY_PORT: int = _CONTAINER["relay_port"]
RELAY_PORT_KEY = f"{RELAY_PORT}/tcp"  # as the Engine API names it
RUNTIME_PORT: int = _CONTAINER["runtime_port"]
CONTAINER_USER: str = _CONTAINER["user"]
RUNTIME_UID, RUNTIME_GID = (int(x) for x in CONTAINER_USER.split(":"))
HEALTHCHECK: list[str] = list(_CONTAINER["healthcheck"])  # the image's own health command

# Files the image writes in the instance directory (`state/<id>`), by path from it.
RUNTIME_FACTS_FILE: str = _INSTANCE["runtime_facts"]  # what the built NanoClaw can do (schedules)
TELEGRAM_FACTS_FILE: str = _INSTANCE["telegram_facts"]  # the entrypoint's check of the chats
TELEGRAM_STATE_FILE: str = _INSTANCE["telegram_state"]  # the telegram-connect patch's state
MCP_CONFIG_FILE: str = _INSTANCE["mcp_config"]  # in the memory folder (groups/web-chat)
# The entrypoint writes files atomically through `<TEMP_PREFIX><name>`.
TEMP_PREFIX: str = _INSTANCE["temp_prefix"]
WEB_CHAT_FOLDER: str = _INSTANCE["web_chat_folder"]

# The identity block the image writes into the memory folder's CLAUDE.md (smbos/agentmd.py).
IDENTITY_BEGIN: str = NAMES["identity"]["begin"]
IDENTITY_END: str = NAMES["identity"]["end"]


def published(ports: dict | None) -> str:
    """`host:port` where the Engine API's port map publishes the relay, or ""."""
    for binding in (ports or {}).get(RELAY_PORT_KEY) or []:
        return f"{binding.get('HostIp') or '0.0.0.0'}:{binding.get('HostPort')}"
    return ""


def reach(address: str) -> tuple[str, int]:
    """Where this machine reaches a published `host:port`: an any-address binding on loopback."""
    host, _, port = address.rpartition(":")
    return ("127.0.0.1" if host in ("0.0.0.0", "") else host), int(port)
