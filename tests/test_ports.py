"""Ports of agents without `port:`: assigned once, recorded in agents/.ports.json, never moved by
other agents coming or going; running out is an error naming the agent."""

from __future__ import annotations

import json
import zlib
from pathlib import Path

import pytest

from smbos import ports
from smbos.loader import load_fleet

from .conftest import run_smbos, write_agent

SPAN = len(ports.ASSIGNED_PORTS)


def _cfg(name: str, **extra) -> dict:
    return {"name": name, "runtime": {"container_isolation": "none"}, **extra}


def _ports(project: Path) -> dict[str, int]:
    result = run_smbos("list", "--json", cwd=project)
    assert result.code == 0, result
    return {row["id"]: row["port"] for row in json.loads(result.stdout)}


def _rival(of: str) -> str:
    """An id that sorts before `of` and whose derived start is `of`'s: before recording, it
    would have taken `of`'s port and pushed `of` to the next one."""
    start = zlib.crc32(of.encode()) % SPAN
    for n in range(1_000_000):
        candidate = f"a{n}"
        if zlib.crc32(candidate.encode()) % SPAN == start and candidate < of:
            return candidate
    raise AssertionError("no rival id found")


def test_adding_an_agent_never_moves_another(project: Path) -> None:
    agents = project / "agents"
    write_agent(agents, "zed", _cfg("Zed"))
    write_agent(agents, "fixed", _cfg("Fixed", port=3101))
    generated = run_smbos("generate", cwd=project)
    assert generated.code == 0, generated
    zed = _ports(project)["zed"]
    assert json.loads((agents / ".ports.json").read_text()) == {"zed": zed}, (
        "only assigned ports are recorded, not fixed ones"
    )

    rival = _rival("zed")
    write_agent(agents, rival, _cfg("Rival"))
    after = _ports(project)
    assert after["zed"] == zed and after[rival] != zed
    assert run_smbos("generate", cwd=project).code == 0
    compose = (project / "compose" / "docker-compose.yml").read_text()
    assert f'published: "{zed}"' in compose
    record = json.loads((agents / ".ports.json").read_text())
    assert record == {"zed": zed, rival: after[rival]}

    # An agent whose folder has an error keeps its port; removing a folder frees its port.
    (agents / "zed" / "config.yaml").write_text("port: [oops\n")
    late = _rival("zed").replace("a", "b", 1)
    write_agent(agents, late, _cfg("Late"))
    assert run_smbos("validate", cwd=project).code == 2
    assert load_fleet(agents).get(late).port not in (zed, after[rival])
    (agents / "zed" / "config.yaml").write_text(json.dumps(_cfg("Zed")))
    assert _ports(project)["zed"] == zed


def test_a_fixed_port_may_not_take_an_assigned_one(project: Path) -> None:
    agents = project / "agents"
    write_agent(agents, "zed", _cfg("Zed"))
    assert run_smbos("generate", cwd=project).code == 0
    zed = _ports(project)["zed"]
    write_agent(agents, "bob", _cfg("Bob", port=zed))
    result = run_smbos("validate", cwd=project)
    assert result.code == 2
    assert result.stderr.strip() == (
        f"agents/bob/config.yaml: port: {zed} is assigned to agent "
        "'zed' (agents/.ports.json); expected a port no other agent "
        "uses"
    )


def test_a_fixed_port_frees_the_record(project: Path) -> None:
    agents = project / "agents"
    write_agent(agents, "zed", _cfg("Zed"))
    assert run_smbos("generate", cwd=project).code == 0
    (agents / "zed" / "config.yaml").write_text(json.dumps(_cfg("Zed", port=3150)))
    assert run_smbos("generate", cwd=project).code == 0
    assert json.loads((agents / ".ports.json").read_text()) == {}


def test_running_out_is_an_error_naming_the_agent(project: Path, monkeypatch) -> None:
    """More agents without a port than ports to assign: never "N agent(s) valid", exit 0.
    (The range is shrunk to three ports, which the CLI in this process uses: the rule is the
    same for 700, without writing 701 agent folders.)"""
    monkeypatch.setattr(ports, "ASSIGNED_PORTS", range(3200, 3203))
    agents = project / "agents"
    for n in range(4):
        write_agent(agents, f"agent-{n:03d}", _cfg(f"Agent {n}"))
    result = run_smbos("validate", cwd=project)
    assert result.code == 2, result.stdout[-300:]
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].endswith(
        "port: no free port left to assign in 3200-3202 (3 agents have one); set port: "
        "in config.yaml"
    ), lines[:3]
    assert "valid" not in result.stdout
    generated = run_smbos("generate", cwd=project)
    assert generated.code == 2 and not (project / "compose").exists()


def test_assignment_rules_in_process(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(ports, "ASSIGNED_PORTS", range(3200, 3203))
    agents = tmp_path / "agents"
    for agent_id in ("a", "b", "c"):
        write_agent(agents, agent_id, _cfg(agent_id))
    fleet = load_fleet(agents)
    assert not fleet.errors and sorted(a.port for a in fleet.agents) == [3200, 3201, 3202]
    write_agent(agents, "d", _cfg("d"))
    fleet = load_fleet(agents)
    assert [str(p) for p in fleet.errors] == [
        f"{fleet.display_root}/d/config.yaml: port: no free port left to assign in 3200-3202 "
        "(3 agents have one); set port: in config.yaml"
    ]


@pytest.mark.parametrize(
    "text,contains",
    [
        ("{oops", "not valid JSON"),
        ("[1, 2]", 'expected {"<agent id>": <port>, ...}'),
        ('{"zed": "x"}', "zed: expected a port from 3200 to 3899"),
        ('{"zed": 80}', "zed: expected a port from 3200 to 3899"),
        ('{"a": 3300, "zed": 3300}', "zed: port 3300 is recorded for agent 'a' too"),
    ],
)
def test_a_broken_record_is_reported(project: Path, text: str, contains: str) -> None:
    write_agent(project / "agents", "zed", _cfg("Zed"))
    (project / "agents" / ".ports.json").write_text(text)
    result = run_smbos("validate", cwd=project)
    assert result.code == 2
    assert result.stderr.startswith("agents/.ports.json: ") and contains in result.stderr, (
        result.stderr
    )
