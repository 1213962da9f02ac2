"""The offline demo (`make demo`, tests/docker/demo.sh): the whole portfolio of agents/ comes up
healthy on the stand-in from a copy with fake values, and the operator's own folders stay as
they were. A change to an agent of the portfolio (a new integration's key or credential file)
that the demo cannot satisfy fails here, not in front of an operator."""

from __future__ import annotations

import json
import os
import secrets
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import IN_CI
from .dockerfleet import BASE_IMAGE

pytestmark = pytest.mark.docker

ROOT = Path(__file__).resolve().parent.parent
DEMO = ROOT / "tests" / "docker" / "demo.sh"


def _port_busy(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _tree(path: Path) -> dict[str, float]:
    return {str(p.relative_to(path)): p.stat().st_mtime for p in sorted(path.rglob("*"))}


def test_the_demo_brings_the_whole_portfolio_up_and_leaves_agents_alone(
    tmp_path, docker_client, standin_image
):
    listed = subprocess.run(
        [sys.executable, "-m", "smbos", "list", "--json", "--agents", str(ROOT / "agents")],
        capture_output=True,
        text=True,
        check=True,
        cwd=tmp_path,
    )
    portfolio = {a["id"]: a["port"] for a in json.loads(listed.stdout) if a["enabled"]}
    busy = [p for p in portfolio.values() if _port_busy(p)]
    if busy:
        reason = f"the portfolio's ports {busy} are in use on 127.0.0.1 (a demo or fleet runs)"
        if IN_CI:
            pytest.fail(reason)
        pytest.skip(reason)
    before = _tree(ROOT / "agents")
    project = f"smbos-demo-t{secrets.token_hex(3)}"
    demo = tmp_path / "demo"
    env = {
        **os.environ,
        "SMBOS_DEMO_DIR": str(demo),
        "SMBOS_DEMO_PROJECT": project,
        "SMBOS_STANDIN_IMAGE": standin_image,
        "SMBOS_TEST_BASE_IMAGE": BASE_IMAGE,
        "SMBOS": f"{sys.executable} -m smbos",
    }
    try:
        up = subprocess.run(
            ["bash", str(DEMO), "up"],
            capture_output=True,
            text=True,
            env=env,
            cwd=tmp_path,
            timeout=600,
        )
        assert up.returncode == 0, up.stdout[-4000:] + up.stderr[-4000:]
        assert "OFFLINE DEMO on the NanoClaw STAND-IN" in up.stdout

        status = subprocess.run(
            [sys.executable, "-m", "smbos", "status", "--json", "--agents", str(demo / "agents")],
            capture_output=True,
            text=True,
            env={**env, "SMBOS_PROJECT": project},
            cwd=tmp_path,
            timeout=120,
        )
        assert status.returncode == 0, status.stderr
        rows = {r["id"]: r for r in json.loads(status.stdout)}
        assert set(rows) == set(portfolio)
        for agent_id, row in rows.items():
            assert (row["state"], row["health"], row["api"]) == ("running", "healthy", "ok"), row
        # Fake credential files where an integration needs them (Calendar), in the copy only.
        written = sorted(
            p.relative_to(demo / "agents").as_posix()
            for p in (demo / "agents").glob("*/credentials/*/*")
        )
        assert "andy/credentials/calendar/gcp-oauth.keys.json" in written
        assert "andy/credentials/calendar/tokens.json" in written
    finally:
        down = subprocess.run(
            ["bash", str(DEMO), "down"],
            capture_output=True,
            text=True,
            env=env,
            cwd=tmp_path,
            timeout=300,
        )
        for volume in docker_client.volumes.list(
            filters={"label": f"com.docker.compose.project={project}"}
        ):
            volume.remove(force=True)
    assert down.returncode == 0, down.stdout + down.stderr
    assert not docker_client.containers.list(
        all=True, filters={"label": f"com.docker.compose.project={project}"}
    )
    # The operator's folders: not a file added, removed or changed (no .env, no credentials).
    assert _tree(ROOT / "agents") == before
