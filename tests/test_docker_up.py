"""`smbos up` / `down` against real stand-in containers on the real engine."""

from __future__ import annotations

import pytest

from .dockerfleet import docker_client, standin_image, test_fleet  # noqa: F401 - fixtures

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
