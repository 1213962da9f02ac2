"""`smbos init`: a fleet repository anywhere, from which every command works (no checkout of
SMBOS needed: tests/test_wheel.py runs the same from an installed wheel)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from smbos import scaffold

from .conftest import ROOT, run_smbos


def _tree(folder: Path) -> dict[str, bytes]:
    return {
        p.relative_to(folder).as_posix(): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def test_init_starts_a_fleet_that_every_command_works_from(tmp_path: Path) -> None:
    result = run_smbos("init", "fleet", cwd=tmp_path)
    assert result.code == 0, result.output
    fleet = tmp_path / "fleet"
    agent = fleet / "agents" / "assistant"
    for name in ("agent.md", "config.yaml", ".env.example", "memory/context.md"):
        assert (agent / name).is_file(), name
    assert (fleet / ".gitignore").read_text() == (scaffold.FLEET / "gitignore").read_text()
    assert "smbos up" in (fleet / "README.md").read_text()
    assert (
        result.stdout.splitlines()[-1]
        == "next: cd fleet, fill agents/assistant/.env (see .env.example), then `smbos up`"
    )

    checked = run_smbos("validate", cwd=fleet)
    assert checked.code == 0, checked.output
    assert "ANTHROPIC_API_KEY: not set" in checked.stderr  # a warning until .env is filled
    (agent / ".env").write_text("ANTHROPIC_API_KEY=sk-ant-example-0123456789\n")
    assert run_smbos("validate", "--strict", cwd=fleet).code == 0
    listed = run_smbos("list", "--json", cwd=fleet)
    assert [row["id"] for row in json.loads(listed.stdout)] == ["assistant"]
    generated = run_smbos("generate", cwd=fleet)
    assert generated.code == 0, generated.output
    compose = (fleet / "compose" / "docker-compose.yml").read_text()
    # Every path is the fleet's own: its agent folder and its state/, never SMBOS's checkout.
    assert str(agent) in compose and str(fleet / "state" / "assistant") in compose
    assert str(ROOT) not in compose


def test_init_without_a_folder_starts_the_fleet_here(tmp_path: Path) -> None:
    result = run_smbos("init", cwd=tmp_path)
    assert result.code == 0, result.output
    assert (tmp_path / "agents" / "assistant" / "config.yaml").is_file()
    assert result.stdout.splitlines()[-1].startswith("next: fill agents/assistant/.env")


def test_init_refuses_an_existing_fleet_and_force_adds_only_what_is_missing(tmp_path):
    assert run_smbos("init", cwd=tmp_path).code == 0
    (tmp_path / "README.md").write_text("# Our fleet\n")
    (tmp_path / "agents" / "assistant" / "agent.md").write_text("---\n---\n# Mine\n")
    (tmp_path / ".gitignore").write_text("node_modules/\n.env\n")
    before = _tree(tmp_path)

    again = run_smbos("init", cwd=tmp_path)
    assert again.code == 2, again.output
    assert again.stderr.strip().splitlines() == [
        "error: agents: already holds a fleet; `smbos init --force` adds only what is "
        "missing and never replaces a file"
    ]
    assert _tree(tmp_path) == before

    forced = run_smbos("init", "--force", cwd=tmp_path)
    assert forced.code == 0, forced.output
    assert "kept agents/assistant/" in forced.stdout and "kept README.md" in forced.stdout
    after = _tree(tmp_path)
    assert {k: v for k, v in after.items() if k != ".gitignore"} == {
        k: v for k, v in before.items() if k != ".gitignore"
    }
    lines = (tmp_path / ".gitignore").read_text().splitlines()
    assert lines[:2] == ["node_modules/", ".env"] and lines.count(".env") == 1
    assert {"state/", "build/", "agents/*/.env.*", "agents/*/credentials/"} <= set(lines)
    third = run_smbos("init", "--force", cwd=tmp_path)
    assert "kept .gitignore (it ignores what SMBOS writes)" in third.stdout
    assert _tree(tmp_path) == after


def test_init_where_a_file_stands_is_invalid_input(tmp_path: Path) -> None:
    (tmp_path / "agents").write_text("not a folder\n")
    result = run_smbos("init", cwd=tmp_path)
    assert result.code == 2
    assert result.stderr.strip() == "error: agents: not a folder"


def test_the_new_fleet_ignores_secrets_state_and_build_output_and_keeps_the_folders(tmp_path):
    assert run_smbos("init", cwd=tmp_path).code == 0
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    ignored = [
        "agents/assistant/.env",
        "agents/assistant/.env.bak",
        "agents/assistant/.env.lock",
        "agents/assistant/credentials/calendar/tokens.json",
        "agents/.ports.json.lock",
        "agents/assistant/memory/logs/turn.log",
        "agents/assistant/memory/.mcp.json",
        "state/assistant/.env",
        "build/context/Dockerfile.nanoclaw",
        "compose/docker-compose.yml",
    ]
    kept = [
        "agents/assistant/.env.example",
        "agents/assistant/config.yaml",
        "agents/assistant/agent.md",
        "agents/assistant/memory/context.md",
        "agents/.ports.json",
        "README.md",
        ".gitignore",
    ]
    proc = subprocess.run(
        ["git", "-C", str(tmp_path), "check-ignore", "--no-index", *ignored, *kept],
        capture_output=True,
        text=True,
    )
    assert proc.stdout.split() == ignored


def test_the_fleet_gitignore_is_a_part_of_the_repositorys_own() -> None:
    """This repository is a fleet repository too: what a new fleet ignores, it ignores."""
    own = set((ROOT / ".gitignore").read_text().splitlines())
    lines = [
        line
        for line in (scaffold.FLEET / "gitignore").read_text().splitlines()
        if line and not line.startswith("#")
    ]
    assert [line for line in lines if line not in own] == []
