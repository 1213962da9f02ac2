"""Host ports of agents without `port:` in their config.yaml: assigned once, then kept.

An assignment is recorded in `agents/.ports.json` (`{"<id>": <port>}`, committed with the agent
folders) by the commands that make ports real (`smbos generate`, `smbos up`); from then on it is
that agent's, whatever other agents come and go (docs/decisions/009-recorded-port-assignments.md).
An agent not yet recorded gets the first free port from a start derived from its id; running out
is an error naming the agent, never a silently dropped agent.
"""

from __future__ import annotations

import json
import zlib
from dataclasses import dataclass, field
from pathlib import Path

from smbos import files
from smbos.errors import Problem, Refused

ASSIGNED_PORTS = range(3200, 3900)
PORTS_FILE = ".ports.json"
MAX_RECORD_BYTES = 1024 * 1024


@dataclass
class Assignment:
    ports: dict[str, int] = field(default_factory=dict)  # agent id -> port, every agent placed
    record: dict[str, int] = field(default_factory=dict)  # what agents/.ports.json should hold
    problems: list[Problem] = field(default_factory=list)


def read_record(path: Path, display: str) -> tuple[dict[str, int], list[Problem]]:
    """The recorded assignments, and what is wrong with the file (nothing when it is missing)."""
    fix = "fix it, or delete it to have every unrecorded port assigned anew"
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return {}, []
    except OSError as exc:
        return {}, [Problem(display, "", f"cannot read: {exc.strerror}")]
    if len(data) > MAX_RECORD_BYTES:
        return {}, [Problem(display, "", f"larger than {MAX_RECORD_BYTES} bytes; {fix}")]
    try:
        record = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        return {}, [Problem(display, "", f"not valid JSON ({exc}); {fix}")]
    if not isinstance(record, dict):
        return {}, [Problem(display, "", f'expected {{"<agent id>": <port>, ...}}; {fix}')]
    ports: dict[str, int] = {}
    problems: list[Problem] = []
    owner: dict[int, str] = {}
    for agent_id, port in sorted(record.items()):
        if isinstance(port, bool) or not isinstance(port, int) or port not in ASSIGNED_PORTS:
            problems.append(
                Problem(
                    display,
                    agent_id,
                    f"expected a port from "
                    f"{ASSIGNED_PORTS.start} to {ASSIGNED_PORTS.stop - 1}, got "
                    f"{json.dumps(port)[:40]}",
                )
            )
        elif port in owner:
            problems.append(
                Problem(
                    display,
                    agent_id,
                    f"port {port} is recorded for agent "
                    f"{owner[port]!r} too; remove one of the two lines",
                )
            )
        else:
            owner[port] = agent_id
            ports[agent_id] = port
    return ports, problems


def assign(
    wanted: list[tuple[str, int | None, str]],
    recorded: dict[str, int],
    folders: set[str],
    display: str,
) -> Assignment:
    """Place every agent of `wanted` ((id, its config's port or None, config display path)).

    A recorded port stays reserved while its folder exists (an agent folder with errors keeps
    its port); a fixed `port:` may not take a port recorded for another agent. Ids without a
    port and without a record get the first free port from a start derived from the id.
    """
    out = Assignment()
    fixed = {agent_id for agent_id, port, _ in wanted if port is not None}
    reserved = {
        port: agent_id
        for agent_id, port in recorded.items()
        if agent_id in folders and agent_id not in fixed
    }
    taken: dict[int, str] = dict(reserved)
    for agent_id, port, where in wanted:
        if port is None:
            continue
        if port in taken:
            other = taken[port]
            why = (
                f"assigned to agent {other!r} ({display})"
                if port in reserved
                else f"already used by agent {other!r}"
            )
            out.problems.append(
                Problem(where, "port", f"{port} is {why}; expected a port no other agent uses")
            )
            continue
        taken[port] = agent_id
        out.ports[agent_id] = port
    out.record = {agent_id: port for port, agent_id in reserved.items()}
    span = len(ASSIGNED_PORTS)
    left = span - sum(port in ASSIGNED_PORTS for port in taken)
    for agent_id, port, where in wanted:
        if port is not None:
            continue
        if agent_id in out.record:
            out.ports[agent_id] = out.record[agent_id]
            continue
        start = zlib.crc32(agent_id.encode()) % span
        free = (
            next(
                (
                    ASSIGNED_PORTS[(start + step) % span]
                    for step in range(span)
                    if ASSIGNED_PORTS[(start + step) % span] not in taken
                ),
                None,
            )
            if left
            else None
        )
        if free is None:
            out.problems.append(
                Problem(
                    where,
                    "port",
                    f"no free port left to assign in "
                    f"{ASSIGNED_PORTS.start}-{ASSIGNED_PORTS.stop - 1} "
                    f"({span} agents have one); set port: in config.yaml",
                )
            )
            continue
        taken[free] = agent_id
        left -= 1
        out.ports[agent_id] = free
        out.record[agent_id] = free
    out.record = dict(sorted(out.record.items()))
    return out


def write_record(path: Path, record: dict[str, int]) -> None:
    """Replace the record in one step. Raises SmbosError naming the path and why. Callers hold
    the lock (`locked`); `save_record` does."""
    files.write_atomic(
        path, json.dumps(record, indent=2, sort_keys=True) + "\n", "the assigned ports"
    )


def locked(agents_dir: Path):
    """The fleet's port lock (`agents/.ports.json.lock`, smbos.files.locked), held by every
    command that decides a port: recording assignments (generate, up) and `smbos new` choosing
    one, so two commands at once never give two agents one port."""
    agents_dir.mkdir(parents=True, exist_ok=True)
    return files.locked(agents_dir / PORTS_FILE, "the assigned ports")


def save_record(path: Path, loaded: dict[str, int], record: dict[str, int]) -> bool:
    """Write `record` over the file `loaded` was read from, under the lock. When another command
    changed the file meanwhile (to something else than `record`), nothing is written and
    Refused says so: its assignments are never silently overwritten. True when written."""
    with locked(path.parent):
        now, _ = read_record(path, str(path))
        if now == record:
            return False
        if now != loaded:
            raise Refused(
                f"{path}: changed by another command while this one ran (another "
                "smbos generate, up or new?); nothing was written: run it again"
            )
        write_record(path, record)
        return True
