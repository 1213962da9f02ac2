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
