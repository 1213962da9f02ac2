"""Real containers for tests: the stand-in image, built through Dockerfile.nanoclaw, and a
throw-away project per test that runs agents through the real `smbos` CLI and Compose.

Docker tests never skip in CI (`CI` set): a missing engine there is a failure.
"""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from .conftest import IN_CI, ROOT, Result, run_smbos_process, write_agent

STANDIN_IMAGE = os.environ.get("SMBOS_STANDIN_IMAGE", "smbos/nanoclaw-standin:test")
BASE_IMAGE = os.environ.get("SMBOS_TEST_BASE_IMAGE", "smbos-test/base:bookworm")


def need_docker():
    """A Docker SDK client, or a skip (outside CI) / failure (in CI) saying why."""
    import docker

    try:
        client = docker.from_env(timeout=60)
        client.ping()
        return client
    except Exception as exc:  # noqa: BLE001
        reason = f"no Docker engine answers ({type(exc).__name__}): start dockerd"
        if IN_CI:
            pytest.fail(f"Docker tests never skip in CI: {reason}")
        pytest.skip(reason)


def build_standin_image() -> str:
    """Build the stand-in image through the real Dockerfile.nanoclaw (cached layers make a
    rebuild cheap); the base image is made with debootstrap when missing."""
    proc = subprocess.run(
        ["bash", str(ROOT / "tests" / "docker" / "build-standin-image.sh")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=1800,
        env={
            **os.environ,
            "SMBOS_STANDIN_IMAGE": STANDIN_IMAGE,
            "SMBOS_TEST_BASE_IMAGE": BASE_IMAGE,
        },
    )
    if proc.returncode != 0:
        pytest.fail(
            f"building the stand-in image failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
        )
    return STANDIN_IMAGE


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class LiveFleet:
    """A project folder with agents, run as project `name` on the stand-in image."""

    root: Path
    name: str
    image: str
    client: object
    ports: dict[str, int] = field(default_factory=dict)
    secrets: dict[str, str] = field(default_factory=dict)

    @property
    def agents(self) -> Path:
        return self.root / "agents"

    @property
    def env(self) -> dict[str, str]:
        return {"SMBOS_IMAGE": self.image, "SMBOS_PROJECT": self.name}

    def add(
        self,
        agent_id: str,
        isolation: str = "none",
        config: dict | None = None,
        env_extra: str = "",
        **kwargs,
    ) -> Path:
        """An agent with a unique secret in its .env and its own free port."""
        port = free_port()
        self.ports[agent_id] = port
        secret = f"sk-ant-canary-{agent_id}-{secrets.token_hex(12)}"
        self.secrets[agent_id] = secret
        cfg = {
            "name": agent_id.title(),
            "port": port,
            "runtime": {"container_isolation": isolation, "agent_image": BASE_IMAGE},
        }
        cfg.update(config or {})
        return write_agent(
            self.agents, agent_id, cfg, env=f"ANTHROPIC_API_KEY={secret}\n{env_extra}", **kwargs
        )

    def smbos(self, *args: str, timeout: float = 300) -> Result:
        return run_smbos_process(*args, cwd=self.root, env=self.env, timeout=timeout)

    def url(self, agent_id: str) -> str:
        return f"http://127.0.0.1:{self.ports[agent_id]}"

    def state(self, agent_id: str) -> Path:
        return self.root / "state" / agent_id

    def set_fault(self, agent_id: str, fault: str) -> None:
        """Make the stand-in misbehave (it reads `.standin-fault` in its cwd on each request)."""
        path = self.state(agent_id) / ".standin-fault"
        path.write_text(fault)
        os.chmod(path, 0o644)

    def containers(self) -> list:
        return self.client.containers.list(
            all=True, filters={"label": f"io.smbos.project={self.name}"}
        )

    def container(self, agent_id: str):
        for container in self.containers():
            if container.labels.get("io.smbos.agent") == agent_id:
                return container
        return None

    def wait(self, predicate, timeout: float = 60, interval: float = 0.5, what: str = ""):
        deadline = time.monotonic() + timeout
        while True:
            value = predicate()
            if value:
                return value
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out after {timeout}s waiting for {what or predicate}")
            time.sleep(interval)

    def teardown(self) -> None:
        """Remove the containers, networks and volumes of this test project."""
        for container in self.containers():
            container.remove(force=True)
        for network in self.client.networks.list(
            filters={"label": f"com.docker.compose.project={self.name}"}
        ):
            try:
                # Another test's container (the real tier's fake API) may still be attached:
                # a network with endpoints cannot be removed, and leaked networks exhaust the
                # engine's address pools within one run.
                network.reload()
                for attached in network.containers:
                    network.disconnect(attached, force=True)
                network.remove()
            except Exception:  # noqa: BLE001
                pass
        for volume in self.client.volumes.list(
            filters={"label": f"com.docker.compose.project={self.name}"}
        ):
            try:
                volume.remove(force=True)
            except Exception:  # noqa: BLE001
                pass


@pytest.fixture(scope="session")
def docker_client():
    return need_docker()


@pytest.fixture(scope="session")
def standin_image(docker_client) -> str:
    return build_standin_image()


@pytest.fixture
def test_fleet(tmp_path, docker_client, standin_image):
    name = f"t{secrets.token_hex(4)}"
    (tmp_path / "agents").mkdir()
    fleet = LiveFleet(root=tmp_path, name=name, image=standin_image, client=docker_client)
    yield fleet
    fleet.teardown()
