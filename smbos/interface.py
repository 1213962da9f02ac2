"""The container interface (docs/container-interface.md) in one place: the labels SMBOS writes
and reads, the ports, the runtime's user, the mounts, and how a published port is reached.

The Compose renderer writes these, the controller and the UI read them, the image's entrypoint
and `container` shim (smbos/image/) use the same names; a change here is a change of that page.
"""

from __future__ import annotations

# Labels of an agent's container (set by the Compose file).
LABEL_AGENT = "io.smbos.agent"
LABEL_PROJECT = "io.smbos.project"
LABEL_HASH = "io.smbos.config-hash"
# Set on the containers NanoClaw starts for each turn (smbos/image/container), with the agent and
# project labels of the agent that started them.
LABEL_TURN = "io.smbos.turn"
# Labels of the runtime image (set by `smbos build`).
LABEL_IMAGE = "io.smbos.image"
LABEL_SOURCE = "io.smbos.source"
LABEL_PATCHES = "io.smbos.patches"
LABEL_AGENT_IMAGE = "io.smbos.agent-image"
# On the per-turn agent image: the MCP server packages installed in it (smbos/integrations.py).
LABEL_MCP_PACKAGES = "io.smbos.mcp-packages"

# Inside the container.
AGENT_MOUNT = "/smbos/agent"
STORE_MOUNT = "/var/lib/smbos/store"
RELAY_PORT = 8080  # published on 127.0.0.1:<agent port>; relays to the runtime's own port
RELAY_PORT_KEY = f"{RELAY_PORT}/tcp"  # as the Engine API names it
RUNTIME_PORT = 3100
CONTAINER_USER = "1000:1000"
RUNTIME_UID, RUNTIME_GID = (int(x) for x in CONTAINER_USER.split(":"))


def published(ports: dict | None) -> str:
    """`host:port` where the Engine API's port map publishes the relay, or ""."""
    for binding in (ports or {}).get(RELAY_PORT_KEY) or []:
        return f"{binding.get('HostIp') or '0.0.0.0'}:{binding.get('HostPort')}"
    return ""


def reach(address: str) -> tuple[str, int]:
    """Where this machine reaches a published `host:port`: an any-address binding on loopback."""
    host, _, port = address.rpartition(":")
    return ("127.0.0.1" if host in ("0.0.0.0", "") else host), int(port)
