"""SMBOS as an installed tool: the wheel built from this checkout, installed into a fresh virtual
environment in a folder outside the checkout, runs a fleet there with no checkout in sight:
`smbos init`, `validate`, `build` (the NanoClaw stand-in as the source, on the locally made base
image, as the Docker tier builds it), `up`, `chat`, `down` (ADR 018).

The virtual environment is made with `python -m venv` and gets the wheel and its dependencies
through pip as an operator's would (from the package index; pip's cache makes it quick), never
this environment's packages. The engine's layer cache makes the build quick after the first.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest
import yaml

from .conftest import ROOT
from .dockerfleet import BASE_IMAGE, LiveFleet, free_port

pytestmark = pytest.mark.docker

# What pip or setuptools print when the package's metadata is on its way out.
DEPRECATIONS = ("BuildBackendWarning", "SetuptoolsDeprecationWarning", "DeprecationWarning")


def _run(args: list, cwd: Path, env: dict, timeout: float = 900) -> subprocess.CompletedProcess:
    proc = subprocess.run(
        [str(a) for a in args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout
    )
    assert proc.returncode == 0, (
        f"{' '.join(map(str, args))}: exit {proc.returncode}\n"
        f"{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}"
    )
    return proc


def _checkout_copy(target: Path) -> Path:
    """The checkout's files as a clone would have them (tracked and new, nothing ignored: no
    .venv, no build/), links kept, so the wheel is built from what the repository holds."""
    listed = subprocess.run(
        ["git", "-C", str(ROOT), "ls-files", "-co", "--exclude-standard", "-z"],
        capture_output=True,
        check=True,
    ).stdout.decode()
    for name in filter(None, listed.split("\0")):
        source, dest = ROOT / name, target / name
        if not source.exists() and not source.is_symlink():
            continue  # deleted in the work tree
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, dest, follow_symlinks=False)
    return target


def _ensure_base_image() -> None:
    proc = subprocess.run(
        ["bash", str(ROOT / "tests" / "docker" / "make-base-image.sh")],
        capture_output=True,
        text=True,
        timeout=1200,
        env={**os.environ, "SMBOS_TEST_BASE_IMAGE": BASE_IMAGE},
    )
    assert proc.returncode == 0, f"making {BASE_IMAGE} failed:\n{proc.stderr[-3000:]}"


def test_the_wheel_installed_elsewhere_runs_a_fleet(tmp_path, docker_client):
    assert ROOT not in tmp_path.parents and not any(
        (folder / "Dockerfile.nanoclaw").exists() for folder in tmp_path.parents
    )
    _ensure_base_image()
    times: dict[str, float] = {}
    base_env = {
        key: value
        for key, value in os.environ.items()
        if key
        not in (
            "PYTHONPATH",
            "VIRTUAL_ENV",
            "PYTHONHOME",
            "SMBOS_AGENTS",
            "SMBOS_COMPOSE_FILE",
            "SMBOS_COMPOSE",
            "SMBOS_DEBUG",
        )
    }

    # The wheel, from a copy of the checkout: no deprecation warning, every package file in it.
    started = time.monotonic()
    tree = _checkout_copy(tmp_path / "src")
    wheels = tmp_path / "wheelhouse"
    built = _run(
        [sys.executable, "-m", "pip", "wheel", "-v", "--no-deps", "-w", wheels, tree],
        cwd=tmp_path,
        env=base_env,
    )
    said = built.stdout + built.stderr
    assert not [word for word in DEPRECATIONS if word in said], said[-6000:]
    [wheel] = wheels.glob("smbos-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        for path in (tree / "smbos").rglob("*"):
            if path.is_file() and "__pycache__" not in path.parts:
                assert path.relative_to(tree).as_posix() in names, f"{path} is not in {wheel.name}"
        dockerfile = archive.read("smbos/nanoclaw/image/Dockerfile.nanoclaw").decode()
    assert dockerfile == (ROOT / "Dockerfile.nanoclaw").read_text()
    times["wheel"] = time.monotonic() - started

    # A fresh virtual environment, outside the checkout, with the wheel as an operator installs it.
    started = time.monotonic()
    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", venv], cwd=tmp_path, env=base_env)
    _run(
        [venv / "bin" / "python", "-m", "pip", "install", "-q", f"{wheel}[compose]"],
        cwd=tmp_path,
        env=base_env,
    )
    times["venv and pip install"] = time.monotonic() - started
    env = {
        **base_env,
        "PATH": f"{venv / 'bin'}{os.pathsep}{base_env.get('PATH', '')}",
        "VIRTUAL_ENV": str(venv),
    }
    where = _run(
        [venv / "bin" / "python", "-c", "import smbos; print(smbos.__file__)"],
        cwd=tmp_path,
        env=env,
    ).stdout.strip()
    assert Path(where).is_relative_to(venv), where

    # A fleet of its own: init, then every command from its folder.
    name = f"w{secrets.token_hex(4)}"
    tag = f"smbos-test/wheel-{name}:test"
    smbos = venv / "bin" / "smbos"
    fleet_dir = tmp_path / "fleet"
    live = LiveFleet(root=fleet_dir, name=name, image=tag, client=docker_client)
    env.update(live.env)  # SMBOS_IMAGE, SMBOS_PROJECT: this test's own
    try:
        started = time.monotonic()
        init = _run([smbos, "init", "fleet"], cwd=tmp_path, env=env)
        assert "created fleet/agents/assistant/" in init.stdout, init.stdout
        agent = fleet_dir / "agents" / "assistant"
        config = yaml.safe_load((agent / "config.yaml").read_text())
        port = free_port()
        config["port"] = port
        config["runtime"]["container_isolation"] = "none"
        (agent / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
        key = f"sk-ant-wheel-{secrets.token_hex(12)}"
        (agent / ".env").write_text(f"ANTHROPIC_API_KEY={key}\n")
        _run([smbos, "validate", "--strict"], cwd=fleet_dir, env=env)
        times["init and validate"] = time.monotonic() - started

        started = time.monotonic()
        standin = shutil.copytree(
            ROOT / "tests" / "standin",
            tmp_path / "standin",
            ignore=shutil.ignore_patterns("dist", "node_modules"),
        )
        build = _run(
            [
                smbos,
                "build",
                "--source",
                standin,
                "--no-agent-image",
                *[
                    arg
                    for image_arg in (
                        "BASE_IMAGE",
                        "BUILD_IMAGE",
                        "DOCKER_CLI_IMAGE",
                        "AGENT_IMAGE",
                    )
                    for arg in ("--build-arg", f"{image_arg}={BASE_IMAGE}")
                ],
            ],
            cwd=fleet_dir,
            env=env,
            timeout=1800,
        )
        assert f"built {tag}" in build.stdout, build.stdout
        assert (fleet_dir / "build" / "context" / "Dockerfile.nanoclaw").is_file()
        times["build"] = time.monotonic() - started

        started = time.monotonic()
        _run([smbos, "up", "--no-build", "--wait-timeout", "120"], cwd=fleet_dir, env=env)
        times["up"] = time.monotonic() - started
        started = time.monotonic()
        chat = _run(
            [smbos, "chat", "assistant", "hello from the wheel"],
            cwd=fleet_dir,
            env=env,
            timeout=120,
        )
        assert "assistant=Assistant" in chat.stdout, chat.stdout
        assert "echo=hello%20from%20the%20wheel" in chat.stdout, chat.stdout
        assert key not in chat.stdout + chat.stderr
        times["chat"] = time.monotonic() - started
        started = time.monotonic()
        _run([smbos, "down"], cwd=fleet_dir, env=env)
        times["down"] = time.monotonic() - started
        assert live.containers() == []
        assert (fleet_dir / "state" / "assistant").is_dir()
        assert (fleet_dir / "compose" / "docker-compose.yml").is_file()
    finally:
        live.teardown()
        try:
            docker_client.images.remove(tag)
        except Exception:  # noqa: BLE001 - never built, or already gone
            pass
    print("\n" + ", ".join(f"{step}: {seconds:.1f} s" for step, seconds in times.items()))
