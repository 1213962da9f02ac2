"""`smbos up` / `down` against real stand-in containers on the real engine."""

from __future__ import annotations

import pytest


pytestmark = pytest.mark.docker


def test_up_status_down(test_fleet):
    test_fleet.add("alpha")
    test_fleet.add("beta")
    up = test_fleet.smbos("up", "--no-build", "--wait-timeout", "120")
    assert up.code == 0, up.output
    status = test_fleet.smbos("status", "--json")
    assert status.code == 0, status.output
    import json

    rows = {r["id"]: r for r in json.loads(status.stdout)}
    assert set(rows) == {"alpha", "beta"}
    for agent_id, row in rows.items():
        assert row["state"] == "running" and row["health"] == "healthy", row
        assert row["api"] == "ok"
        assert row["published"] == f"127.0.0.1:{test_fleet.ports[agent_id]}"
    down = test_fleet.smbos("down")
    assert down.code == 0, down.output
    assert test_fleet.containers() == []


def test_up_and_down_with_the_compose_cli_plugin(test_fleet, tmp_path):
    """The same commands through `docker compose` (the CLI plugin), not `docker-compose`."""
    import os
    import shutil
    import sys
    from pathlib import Path

    docker_cli = shutil.which("docker")
    assert docker_cli, "the docker CLI is needed for the Compose plugin"
    plugins = tmp_path / "docker-config" / "cli-plugins"
    plugins.mkdir(parents=True)
    standalone = Path(sys.executable).parent / "docker-compose"
    os.symlink(standalone, plugins / "docker-compose")
    test_fleet.add("gamma")
    env = {
        **test_fleet.env,
        "DOCKER_CONFIG": str(plugins.parent),
        "SMBOS_COMPOSE": "docker compose",
    }
    from .conftest import run_smbos_process

    doctor = run_smbos_process("doctor", cwd=test_fleet.root, env=env)
    assert "Docker Compose v2 present (docker compose)" in doctor.stdout, doctor.output
    up = run_smbos_process(
        "up", "--no-build", "--wait-timeout", "120", cwd=test_fleet.root, env=env
    )
    assert up.code == 0, up.output
    assert test_fleet.container("gamma").status == "running"
    down = run_smbos_process("down", cwd=test_fleet.root, env=env)
    assert down.code == 0, down.output
    assert test_fleet.containers() == []


def test_schedules_are_reconciled_not_duplicated(test_fleet):
    """config.yaml's schedules reach the runtime's scheduler; edits update, removals cancel."""
    import json

    def tasks():
        result = test_fleet.smbos("tasks", "sched", "--json")
        assert result.code == 0, result.output
        return {t["id"]: t for t in json.loads(result.stdout)["tasks"]}

    def schedules(items):
        return {
            "name": "Sched",
            "port": test_fleet.ports.get("sched"),
            "runtime": {"container_isolation": "none"},
            "schedules": items,
        }

    folder = test_fleet.add(
        "sched",
        config={
            "schedules": [
                {"id": "morning", "cron": "0 8 * * *", "prompt": "Brief me"},
                {"id": "sweep", "interval": "2h", "prompt": "Sweep"},
            ]
        },
    )
    assert test_fleet.smbos("up", "--no-build").code == 0

    def tasks_when(predicate):
        current = tasks()
        return current if predicate(current) else None

    seen = test_fleet.wait(
        lambda: tasks_when(lambda t: len(t) == 2), timeout=30, what="two seeded tasks"
    )
    assert seen["smbos-morning"]["schedule_value"] == "0 8 * * *"
    assert seen["smbos-morning"]["next_run"]
    assert seen["smbos-sweep"]["schedule_value"] == "7200000"

    # A restart queues nothing again.
    assert test_fleet.smbos("restart", "sched").code == 0
    assert test_fleet.wait(
        lambda: test_fleet.smbos("status", "sched", "--json").stdout.count('"healthy"') == 1,
        timeout=60,
        what="healthy after restart",
    )
    assert set(tasks()) == {"smbos-morning", "smbos-sweep"}

    import yaml

    cfg = yaml.safe_load((folder / "config.yaml").read_text())
    cfg["schedules"] = [
        {"id": "morning", "cron": "30 9 * * 1-5", "prompt": "Brief me later"},
        {"id": "weekly", "cron": "0 17 * * 5", "prompt": "Weekly review"},
    ]
    (folder / "config.yaml").write_text(yaml.safe_dump(cfg))
    assert test_fleet.smbos("up", "--no-build", "sched").code == 0
    after = test_fleet.wait(
        lambda: tasks_when(
            lambda t: (
                set(t) == {"smbos-morning", "smbos-weekly"}
                and t["smbos-morning"]["prompt"] == "Brief me later"
            )
        ),
        timeout=30,
        what="reconciled tasks",
    )
    assert after["smbos-morning"]["schedule_value"] == "30 9 * * 1-5"
    errors = test_fleet.state("sched") / "data" / "ipc" / "errors"
    assert not errors.exists() or not list(errors.iterdir()), list(errors.iterdir())


def test_integrations_reach_the_runtime_as_mcp_servers(test_fleet):
    """An integration's MCP server, and a custom one, land in the group's `.mcp.json` with the
    values from `.env`, readable by the runtime only; a disabled tool entry removes a default."""
    import hashlib
    import json
    import stat

    from .conftest import write_agent  # noqa: F401 - the fleet writes through it

    notion = "ntn-canary-" + "7" * 24
    files = "files-canary-" + "9" * 20
    example = (
        "# key\nANTHROPIC_API_KEY=\n# notion\nNOTION_TOKEN=\n# calendar\n"
        "GOOGLE_OAUTH_CREDENTIALS=\n# files\nFILES_TOKEN=\n"
    )
    test_fleet.add(
        "wired",
        config={
            "integrations": ["notion", "calendar"],
            "tools": [
                {"id": "calendar", "type": "mcp", "enabled": False},
                {
                    "id": "files",
                    "type": "mcp",
                    "command": "mcp-files",
                    "args": ["--root", "/data"],
                    "env": {"FILES_API_TOKEN": "FILES_TOKEN"},
                },
            ],
        },
        env_example=example,
        env_extra=f"NOTION_TOKEN={notion}\nGOOGLE_OAUTH_CREDENTIALS=/creds.json\n"
        f"FILES_TOKEN={files}\n",
    )
    up = test_fleet.smbos("up", "--no-build")
    assert up.code == 0, up.output
    chat = test_fleet.smbos("chat", "wired", "which tools?")
    assert chat.code == 0, chat.output
    short = {v: hashlib.sha256(v.encode()).hexdigest()[:12] for v in (notion, files)}
    assert (
        f"mcp=files:mcp-files:FILES_API_TOKEN={short[files]},"
        f"notion:notion-mcp-server:NOTION_TOKEN={short[notion]}"
    ) in chat.stdout, chat.stdout

    config = test_fleet.agents / "wired" / "memory" / ".mcp.json"
    assert stat.S_IMODE(config.stat().st_mode) == 0o600
    servers = json.loads(config.read_text())["mcpServers"]
    # Run from the per-turn agent image, where `smbos build` installs it (no npx download).
    assert servers["notion"] == {
        "command": "notion-mcp-server",
        "args": [],
        "env": {"NOTION_TOKEN": notion},
    }
    assert "calendar" not in servers
    assert servers["files"]["args"] == ["--root", "/data"]

    # The values are nowhere else: not in the Compose file, the logs, or the memory views.
    compose_text = (test_fleet.root / "compose" / "docker-compose.yml").read_text()
    logs = test_fleet.smbos("logs", "wired", "--tail", "all")
    memory = test_fleet.smbos("memory", "wired")
    refused = test_fleet.smbos("memory", "wired", ".mcp.json")
    assert refused.code != 0 and "secrets" in refused.stderr
    for text in (compose_text, logs.output, memory.output, refused.output, up.output):
        assert notion not in text and files not in text
    assert ".mcp.json" not in memory.stdout
