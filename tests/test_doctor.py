"""`smbos doctor` on a fake engine, in this process: it checks the runtime images the agents use."""

from __future__ import annotations

from pathlib import Path

import docker.errors
import pytest

from smbos.nanoclaw import image

from .conftest import run_smbos, write_agent
from .dockerfleet import free_port

CUSTOM = "registry.example.org/team/runtime:2"


class FakeImages:
    def __init__(self, present: dict[str, dict]):
        self.present = present

    def get(self, tag: str):
        if tag not in self.present:
            raise docker.errors.ImageNotFound(f"No such image: {tag}")
        return type("Image", (), {"attrs": {"Config": {"Labels": self.present[tag]}}})()


@pytest.fixture
def engine(fake_fleet):
    fake_fleet.docker.version = lambda: {"Version": "27.0.0-fake"}
    fake_fleet.docker.images = FakeImages({})
    return fake_fleet.docker


def _agents(project: Path, images: dict[str, str | None]) -> None:
    for agent_id, wanted in images.items():
        runtime = {"container_isolation": "none", **({"image": wanted} if wanted else {})}
        write_agent(project / "agents", agent_id, {"port": free_port(), "runtime": runtime})


def _image_lines(result) -> list[str]:
    return [line for line in result.stdout.splitlines() if "runtime image" in line]


def test_doctor_checks_the_images_the_agents_use(project: Path, engine) -> None:
    """Every agent names another runtime image, present: the default one (never built here) is
    not a failure."""
    _agents(project, {"alpha": CUSTOM, "beta": CUSTOM})
    engine.images.present[CUSTOM] = {image.LABEL_SOURCE: "git fork@abc"}
    result = run_smbos("doctor", cwd=project)
    assert _image_lines(result) == [
        f"ok   runtime image {CUSTOM} present (agents alpha, beta), built from git fork@abc"
    ], result.output
    assert "smbos/nanoclaw:local" not in result.output


def test_doctor_fails_on_a_missing_image_an_agent_uses(project: Path, engine) -> None:
    _agents(project, {"alpha": CUSTOM, "beta": None})
    engine.images.present["smbos/nanoclaw:local"] = {image.LABEL_PATCHES: "chat-done"}
    result = run_smbos("doctor", cwd=project)
    assert result.code == 1, result.output
    assert _image_lines(result) == [
        "ok   runtime image smbos/nanoclaw:local built",
        f"FAIL runtime image {CUSTOM} present (agents alpha) -- fix: `docker pull {CUSTOM}`, or "
        "change runtime.image in the agents' config.yaml",
    ], result.output
    assert "     runtime patches: chat-done" in result.stdout.splitlines()


def test_doctor_without_agents_checks_the_default_image(project: Path, engine) -> None:
    result = run_smbos("doctor", cwd=project)
    assert result.code == 1, result.output
    [line] = _image_lines(result)
    assert line.startswith("FAIL runtime image smbos/nanoclaw:local built -- fix: "), line
