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
    env = {**test_fleet.env, "DOCKER_CONFIG": str(plugins.parent),
           "SMBOS_COMPOSE": "docker compose"}
    from .conftest import run_smbos

    doctor = run_smbos("doctor", cwd=test_fleet.root, env=env)
    assert "Docker Compose v2 present (docker compose)" in doctor.stdout, doctor.output
    up = run_smbos("up", "--no-build", "--wait-timeout", "120", cwd=test_fleet.root, env=env)
    assert up.code == 0, up.output
    assert test_fleet.container("gamma").status == "running"
    down = run_smbos("down", cwd=test_fleet.root, env=env)
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
        return {"name": "Sched", "port": test_fleet.ports.get("sched"),
                "runtime": {"container_isolation": "none"}, "schedules": items}

    folder = test_fleet.add("sched", config={"schedules": [
        {"id": "morning", "cron": "0 8 * * *", "prompt": "Brief me"},
        {"id": "sweep", "interval": "2h", "prompt": "Sweep"},
    ]})
    assert test_fleet.smbos("up", "--no-build").code == 0
    def tasks_when(predicate):
        current = tasks()
        return current if predicate(current) else None

    seen = test_fleet.wait(lambda: tasks_when(lambda t: len(t) == 2), timeout=30,
                           what="two seeded tasks")
    assert seen["smbos-morning"]["schedule_value"] == "0 8 * * *"
    assert seen["smbos-morning"]["next_run"]
    assert seen["smbos-sweep"]["schedule_value"] == "7200000"

    # A restart queues nothing again.
    assert test_fleet.smbos("restart", "sched").code == 0
    assert test_fleet.wait(lambda: test_fleet.smbos("status", "sched", "--json").stdout.count(
        '"healthy"') == 1, timeout=60, what="healthy after restart")
    assert set(tasks()) == {"smbos-morning", "smbos-sweep"}

    import yaml
    cfg = yaml.safe_load((folder / "config.yaml").read_text())
    cfg["schedules"] = [
        {"id": "morning", "cron": "30 9 * * 1-5", "prompt": "Brief me later"},
        {"id": "weekly", "cron": "0 17 * * 5", "prompt": "Weekly review"},
    ]
    (folder / "config.yaml").write_text(yaml.safe_dump(cfg))
    assert test_fleet.smbos("up", "--no-build", "sched").code == 0
    after = test_fleet.wait(lambda: tasks_when(
        lambda t: set(t) == {"smbos-morning", "smbos-weekly"}
        and t["smbos-morning"]["prompt"] == "Brief me later"), timeout=30, what="reconciled tasks")
    assert after["smbos-morning"]["schedule_value"] == "30 9 * * 1-5"
    errors = test_fleet.state("sched") / "data" / "ipc" / "errors"
    assert not errors.exists() or not list(errors.iterdir()), list(errors.iterdir())
