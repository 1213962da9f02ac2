"""The proxy's bounds: how many requests it keeps open to the agents, and for how long.

A proxied event stream holds a connection to a runtime for as long as the client keeps it open.
Unbounded, a few hundred slow streams took every connection of the pool the UI's own calls
share, and the pages reached no agent. So:

- the proxy has its own connection pool (`UIState.proxy_transport`, PROXY_TOTAL connections);
  the UI's own calls (status probes, messages, tasks, chat) keep theirs;
- at most PROXY_PER_AGENT requests are open to one agent, PROXY_PER_CLIENT from one client
  address (behind a tunnel every client shares the tunnel's address) and PROXY_TOTAL in all; one
  more is refused at once (`TooManyStreams`, 429) rather than queued;
- a proxied stream ends after PROXY_STREAM_MAX_S, and after PROXY_READ_S without a byte.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from smbos.errors import TooManyStreams

PROXY_PER_AGENT = 8
PROXY_PER_CLIENT = 16
PROXY_TOTAL = 64
PROXY_STREAM_MAX_S = 15 * 60.0
PROXY_READ_S = 600.0


@dataclass
class Slot:
    """One proxied request open; `release` (idempotent) gives its place back."""

    owner: StreamSlots
    agent_id: str
    client: str
    released: bool = False

    def release(self) -> None:
        if not self.released:
            self.released = True
            self.owner._give_back(self)


class StreamSlots:
    """Counts of proxied requests open, by agent and by client. The limits are read when the UI
    starts (the module's constants)."""

    def __init__(self) -> None:
        self.per_agent = PROXY_PER_AGENT
        self.per_client = PROXY_PER_CLIENT
        self.total = PROXY_TOTAL
        self.agents: Counter[str] = Counter()
        self.clients: Counter[str] = Counter()
        self.open = 0

    def take(self, agent_id: str, client: str | None) -> Slot:
        """A slot for one more request, or TooManyStreams saying which bound it would pass."""
        client = client or "unknown"
        if self.agents[agent_id] >= self.per_agent:
            raise TooManyStreams(
                f"{agent_id}: {self.per_agent} proxied requests to this agent "
                "are open already; close one (or wait for one to end)"
            )
        if self.clients[client] >= self.per_client:
            raise TooManyStreams(
                f"{self.per_client} proxied requests from {client} are open "
                "already; close one (or wait for one to end)"
            )
        if self.open >= self.total:
            raise TooManyStreams(
                f"{self.total} proxied requests are open already (the proxy's "
                "bound); try again when one ends"
            )
        self.agents[agent_id] += 1
        self.clients[client] += 1
        self.open += 1
        return Slot(self, agent_id, client)

    def _give_back(self, slot: Slot) -> None:
        self.agents[slot.agent_id] -= 1
        self.clients[slot.client] -= 1
        self.open -= 1
        for counter, key in ((self.agents, slot.agent_id), (self.clients, slot.client)):
            if counter[key] <= 0:
                del counter[key]
