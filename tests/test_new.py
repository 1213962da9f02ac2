"""`smbos new`: a folder from each template that validates, on a free port; refusals."""

from __future__ import annotations

import hashlib
import socket
from pathlib import Path

import pytest
import yaml

from smbos import scaffold
from smbos.loader import load_fleet
from smbos.cli import cli

from .conftest import compose_config_ok, run_smbos, write_agent

TEMPLATES = scaffold.templates()


def _left(agents: Path) -> list[str]:
    """What is in agents/, but the port lock that `new` takes (it stays: smbos/files.py)."""
    return sorted(p.name for p in agents.iterdir() if p.name != ".ports.json.lock")


def _port(folder: Path) -> int:
    return yaml.safe_load((folder / "config.yaml").read_text())["port"]


def _tree(folder: Path) -> dict[str, str]:
    """Every path under `folder` with a hash of its bytes: to see that nothing changed."""
    return {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        if p.is_file()
        else "dir"
        for p in sorted(folder.rglob("*"))
    }


def test_there_are_templates() -> None:
    assert "basic" in TEMPLATES and len(TEMPLATES) >= 3


@pytest.mark.parametrize("template", TEMPLATES)
def test_new_from_each_template_validates(project: Path, template: str) -> None:
    result = run_smbos("new", "helper", "--template", template, cwd=project)
    assert result.code == 0, result
    assert "Traceback" not in result.output
    folder = project / "agents" / "helper"
    for rel in (
        "agent.md",
        "config.yaml",
        ".env.example",
        "memory/context.md",
        "memory/people.md",
        "memory/learnings.md",
    ):
        assert (folder / rel).is_file(), rel
    assert not (folder / ".env").exists()  # real values are the operator's to add
    assert f"port {_port(folder)}" in result.stdout
    # No staging folder is left beside it.
    assert _left(project / "agents") == ["helper"]

    checked = run_smbos("validate", cwd=project)
    assert checked.code == 0, checked
    assert all(line.startswith("warning: ") for line in checked.stderr.splitlines())
    fleet = load_fleet(project / "agents")
    assert [a.id for a in fleet.agents] == ["helper"] and not fleet.errors
    assert fleet.agents[0].name == "Helper"
    assert fleet.agents[0].port == _port(folder)


@pytest.mark.parametrize("template", TEMPLATES)
def test_new_with_awkward_names_gives_a_file_compose_reads(
    project: Path, template: str, compose_bin
) -> None:
    name = 'Ann: "the $HOME {x}" # 1 \\ été'
    result = run_smbos(
        "new",
        "ann",
        "-t",
        template,
        "--name",
        name,
        "--description",
        "Costs in $, 'quotes' & #hashes: yes",
        cwd=project,
    )
    assert result.code == 0, result
    agent = load_fleet(project / "agents").get("ann")
    assert agent is not None and agent.name == name
    generated = run_smbos("generate", cwd=project)
    assert generated.code == 0, generated
    target = project / "compose" / "docker-compose.yml"
    check = compose_config_ok(compose_bin, target)
    assert check.returncode == 0, check.stderr
    env = yaml.safe_load(target.read_text())["services"]["ann"]["environment"]
    assert env["ASSISTANT_NAME"].replace("$$", "$") == name


@pytest.mark.parametrize("name", ["An\ndy", "A" * 81])
def test_new_leaves_nothing_when_the_options_make_an_invalid_folder(
    project: Path, name: str
) -> None:
    result = run_smbos("new", "andy", "--name", name, cwd=project)
    assert result.code == 2, result
    assert "Traceback" not in result.output
    assert "agents/andy/" in result.stderr
    assert all(line.startswith("agents/andy") for line in result.stderr.splitlines())
    assert _left(project / "agents") == []
    # The id is free for the next try.
    assert run_smbos("new", "andy", "--name", "Andy", cwd=project).code == 0


def test_each_new_agent_gets_its_own_port(project: Path) -> None:
    ports = []
    for agent_id in ("one", "two", "three"):
        result = run_smbos("new", agent_id, cwd=project)
        assert result.code == 0, result
        ports.append(_port(project / "agents" / agent_id))
    assert len(set(ports)) == 3
    assert all(scaffold.PORTS.start <= p < scaffold.PORTS.stop for p in ports)
    assert run_smbos("validate", cwd=project).code == 0


def test_a_port_taken_by_a_hand_written_agent_is_skipped(project: Path) -> None:
    first = scaffold.pick_port(load_fleet(project / "agents"))
    write_agent(project / "agents", "manual", {"port": first})
    result = run_smbos("new", "auto", cwd=project)
    assert result.code == 0, result
    assert _port(project / "agents" / "auto") != first
    assert run_smbos("validate", cwd=project).code == 0


def test_a_port_something_listens_on_is_skipped(project: Path) -> None:
    first = scaffold.pick_port(load_fleet(project / "agents"))
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", first))
        sock.listen()
        result = run_smbos("new", "busy", cwd=project)
    assert result.code == 0, result
    assert _port(project / "agents" / "busy") != first


def test_an_existing_id_is_refused_and_untouched(project: Path) -> None:
    folder = write_agent(project / "agents", "andy")
    (folder / "memory" / "learnings.md").write_text("# Learnings\n\n- keep this\n")
    before = _tree(folder)
    for template in TEMPLATES:
        result = run_smbos("new", "andy", "-t", template, cwd=project)
        assert result.code == 2, result
        assert "already exists" in result.stderr
        assert len(result.stderr.splitlines()) == 1
    assert _tree(folder) == before
    assert [p.name for p in (project / "agents").iterdir()] == ["andy"]


@pytest.mark.parametrize(
    "agent_id",
    [
        "Andy",
        "an dy",
        "a" * 33,
        "my-nanoclaw-bot",
        "-andy",
        "andy-",
        "andy_1",
        "ändy",
        ".andy",
        "..",
        "a/b",
    ],
)
def test_an_invalid_id_is_refused(project: Path, agent_id: str) -> None:
    result = run_smbos("new", "--", agent_id, cwd=project)  # `--`: `-andy` is not an option
    assert result.code == 2, result
    assert "Traceback" not in result.output
    assert ": id: " in result.stderr and len(result.stderr.splitlines()) == 1
    assert list((project / "agents").iterdir()) == []


def test_a_port_used_by_an_agent_is_refused(project: Path) -> None:
    write_agent(project / "agents", "andy", {"port": 3150})
    result = run_smbos("new", "bob", "--port", "3150", cwd=project)
    assert result.code == 2, result
    assert "--port" in result.stderr and "'andy'" in result.stderr
    assert not (project / "agents" / "bob").exists()
    # A port taken by an agent that has no port in its config (an assigned one) counts too.
    write_agent(project / "agents", "carl", {"name": "Carl"})
    assigned = load_fleet(project / "agents").get("carl").port
    result = run_smbos("new", "dan", "--port", str(assigned), cwd=project)
    assert result.code == 2, result
    assert not (project / "agents" / "dan").exists()


@pytest.mark.parametrize("port", ["80", "70000", "abc", "-1"])
def test_a_port_out_of_range_is_refused(project: Path, port: str) -> None:
    result = run_smbos("new", "bob", "--port", port, cwd=project)
    assert result.code == 2, result
    assert "--port" in result.stderr
    assert list((project / "agents").iterdir()) == []


def test_an_explicit_free_port_is_used(project: Path) -> None:
    result = run_smbos("new", "bob", "--port", "4321", cwd=project)
    assert result.code == 0, result
    assert _port(project / "agents" / "bob") == 4321


def test_an_unknown_template_is_refused(project: Path) -> None:
    result = run_smbos("new", "bob", "--template", "nope", cwd=project)
    assert result.code == 2, result
    assert "nope" in result.stderr and "basic" in result.stderr
    assert list((project / "agents").iterdir()) == []


def test_new_makes_the_agents_folder(tmp_path: Path) -> None:
    result = run_smbos("new", "first", cwd=tmp_path)
    assert result.code == 0, result
    assert (tmp_path / "agents" / "first" / "agent.md").is_file()


def test_new_ignores_other_agents_problems(project: Path) -> None:
    write_agent(project / "agents", "broken", {"prot": 1})
    result = run_smbos("new", "fine", cwd=project)
    assert result.code == 0, result
    assert "broken" not in result.output


@pytest.mark.parametrize(
    "command",
    [
        "validate",
        "list",
        "generate",
        "new",
        *sorted(set(cli.commands) - {"validate", "list", "generate", "new"}),
    ],
)
def test_help_of_every_command(project: Path, command: str) -> None:
    result = run_smbos(command, "--help", cwd=project)
    assert result.code == 0, result
    assert result.stdout.startswith(f"Usage: smbos {command} ")
    assert result.stderr == ""
    short = run_smbos(command, "-h", cwd=project)
    assert short.code == 0 and short.stdout == result.stdout
