"""What `smbos status` needs of the agent folders, without loading them every time.

A status row needs eight things per agent: id, name, enabled, port, whether Telegram is on,
whether agent teams are on, the team's member names, and the config hash that tells whether the
container is out of date. Working them out means the full load (YAML, the validated models, cron
checks, port assignment), which costs more than the rest of a status together. So the answer is
kept in a small per-user cache, keyed by a signature of everything the load reads (each folder's
files by inode, size and modification time, its team/ files, the port record, the folder list,
and smbos's own code): when nothing changed, status reads the eight things back; when anything
changed, it loads the folders as every other command does and writes the cache again.

Like Git's index, an entry written within a moment of its files' last change could miss a
second change in the same tick: such an answer is used but not cached. The cache holds no value
of any `.env` (only ids, names, ports and hashes), and losing or corrupting it costs one full
load, never a wrong answer.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, TypeVar

from smbos import __version__

if TYPE_CHECKING:
    from smbos.project import Project

# The files of an agent folder the loader reads (smbos.agent), and the fleet's port record.
FOLDER_FILES = ("agent.md", "config.yaml", ".env.example", ".env")
MEMORY = "memory"  # only whether it is a folder: what the agent writes in it changes nothing
TEAM = "team"  # team/<member>.md (smbos.team): the folder and each file in it
PORTS_FILE = ".ports.json"
# Changes younger than this are not trusted to the cache (modification-time granularity).
RACY_SECONDS = 2.0
FORMAT = 3


class AgentView(Protocol):
    """What a status row reads of an agent: a loaded `smbos.agent.Agent` or a cached
    `AgentEntry`."""

    @property
    def id(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def enabled(self) -> bool: ...
    @property
    def port(self) -> int | None: ...
    @property
    def telegram(self) -> bool: ...
    @property
    def teams(self) -> bool: ...
    @property
    def members(self) -> tuple[str, ...]: ...
    def config_hash(self) -> str: ...


AgentT_co = TypeVar("AgentT_co", bound=AgentView, covariant=True)


class FleetView(Protocol[AgentT_co]):
    """What status reads of a fleet: a loaded `smbos.agent.Fleet` or a `FleetIndex`."""

    @property
    def agents(self) -> Sequence[AgentT_co]: ...
    def get(self, agent_id: str) -> AgentT_co | None: ...
    def why_missing(self, agent_id: str) -> str: ...


@dataclass(frozen=True)
class AgentEntry:
    id: str
    name: str
    enabled: bool
    port: int | None
    hash: str
    telegram: bool = False
    teams: bool = False
    members: tuple[str, ...] = ()  # the team's member names

    def config_hash(self) -> str:
        return self.hash


@dataclass
class FleetIndex:
    """The fleet as status sees it; `why_missing` falls back to the full load for its message."""

    project: Project
    agents: list[AgentEntry]
    cached: bool = False

    def get(self, agent_id: str) -> AgentEntry | None:
        return next((a for a in self.agents if a.id == agent_id), None)

    def why_missing(self, agent_id: str) -> str:
        return self.project.load().why_missing(agent_id)


def cache_dir() -> Path:
    given = os.environ.get("SMBOS_CACHE_DIR")
    if given:
        return Path(given)
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "smbos"


class _Signature:
    """Stat lines of the paths the load reads, and the newest modification time among them."""

    def __init__(self) -> None:
        self.parts: list = []
        self.newest = 0

    def add(self, path: Path, *extra: str) -> None:
        try:
            st = path.stat()
        except OSError:
            self.parts.append([str(path), *extra, None])
            return
        self.newest = max(self.newest, st.st_mtime_ns)
        self.parts.append([str(path), *extra, st.st_ino, st.st_size, st.st_mtime_ns, st.st_mode])

    def digest(self) -> str:
        return hashlib.sha256(json.dumps(self.parts).encode()).hexdigest()


def signature(agents_dir: Path) -> tuple[str, int]:
    """A digest of everything the fleet load reads (and smbos's own code), and the newest
    modification time in it."""
    sig = _Signature()
    sig.parts.append([FORMAT, __version__, str(agents_dir.resolve())])
    for module in sorted(Path(__file__).parent.glob("*.py")):
        sig.add(module)
    sig.parts.append([str(agents_dir), agents_dir.is_dir()])
    sig.add(agents_dir / PORTS_FILE)
    try:
        names = sorted(e.name for e in os.scandir(agents_dir) if not e.name.startswith("."))
    except OSError:
        names = []
    for name in names:
        folder = agents_dir / name
        # A link's target decides what is loaded; a changed file changes its stat line.
        sig.parts.append(
            [name, os.path.realpath(folder), folder.is_dir(), (folder / MEMORY).is_dir()]
        )
        for file in FOLDER_FILES:
            sig.add(folder / file)
        _add_team(sig, folder / TEAM)
    return sig.digest(), sig.newest


def _add_team(sig: _Signature, team: Path) -> None:
    """The team folder: its listing and each file's stat line."""
    sig.add(team)
    try:
        names = sorted(e.name for e in os.scandir(team))
    except OSError:
        return
    sig.parts.append(names)
    for name in names:
        sig.add(team / name)


def _cache_file(agents_dir: Path) -> Path:
    key = hashlib.sha256(str(agents_dir.resolve()).encode()).hexdigest()[:16]
    return cache_dir() / f"fleet-{key}.json"


def load(project: Project) -> FleetIndex:
    """The fleet's status entries: from the cache when the folders are unchanged."""
    agents_dir = project.agents_dir
    digest, newest = signature(agents_dir)
    path = _cache_file(agents_dir)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if data.get("signature") == digest:
            return FleetIndex(
                project,
                [AgentEntry(**{**a, "members": tuple(a["members"])}) for a in data["agents"]],
                cached=True,
            )
    except (OSError, ValueError, TypeError, KeyError):
        pass
    fleet = project.load()
    agents = [
        AgentEntry(a.id, a.name, a.enabled, a.port, a.config_hash(), a.telegram, a.teams, a.members)
        for a in fleet.agents
    ]
    if time.time_ns() - newest > RACY_SECONDS * 1e9:
        _write(path, {"signature": digest, "agents": [asdict(a) for a in agents]})
    return FleetIndex(project, agents)


def _write(path: Path, data: dict) -> None:
    """Best effort: a cache that cannot be written only costs the next status a full load."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        temp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        temp.write_text(json.dumps(data, separators=(",", ":")), encoding="utf-8")
        os.replace(temp, path)
    except OSError:
        pass
