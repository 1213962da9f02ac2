"""How the fleet commands fail: one line on stderr, the documented exit code, never a traceback.

No containers are needed: the engine is made unreachable with DOCKER_HOST pointing at a socket
that does not exist, and the runtimes that chat/tasks talk to are simply not running.
"""

from __future__ import annotations

import socket

import pytest

from .conftest import run_smbos, run_smbos_process, write_agent
from .dockerfleet import free_port

NO_ENGINE = {"DOCKER_HOST": "unix:///nonexistent/docker.sock", "SMBOS_PROJECT": "clierrors"}


@pytest.fixture
def folders(project):
    """Two valid agents with their .env, on ports where nothing listens."""
    for agent_id in ("alpha", "beta"):
        write_agent(
            project / "agents",
            agent_id,
            {
                "name": agent_id.title(),
                "port": free_port(),
                "runtime": {"container_isolation": "none"},
            },
        )
    return project


def no_traceback(result) -> None:
    assert "Traceback" not in result.output, result.output
    assert "internal error" not in result.output, result.output


def one_stderr_line(result) -> str:
    lines = result.stderr.splitlines()
    assert len(lines) == 1, f"expected one stderr line, got {len(lines)}:\n{result.stderr}"
    return lines[0]


def assert_engine_unreachable(line: str, where: str = NO_ENGINE["DOCKER_HOST"]) -> None:
    assert line.startswith("error: Docker engine unreachable at "), line
    assert where in line, line
    # ... and how to fix it: start the engine, or point DOCKER_HOST elsewhere.
    assert "dockerd" in line and "DOCKER_HOST" in line, line


@pytest.mark.parametrize(
    "args",
    [
        ("status",),
        ("status", "--json"),
        ("status", "alpha"),
        ("start", "alpha"),
        ("stop", "alpha"),
        ("restart", "alpha", "beta"),
        ("logs", "alpha"),
        ("logs", "alpha", "-f"),
        ("heal", "--once"),
        ("down",),
    ],
    ids=lambda a: " ".join(a),
)
def test_engine_unreachable_is_exit_3_and_one_line(folders, args):
    result = run_smbos(*args, cwd=folders, env=NO_ENGINE)
    no_traceback(result)
    assert result.code == 3, result.output
    assert_engine_unreachable(one_stderr_line(result))
    assert result.stdout == ""


def test_up_with_engine_unreachable(folders):
    # With the Compose file already current, `up` has nothing to write: the engine is the only
    # thing to report.
    generated = run_smbos("generate", cwd=folders, env=NO_ENGINE)
    assert generated.code == 0, generated.output
    result = run_smbos("up", cwd=folders, env=NO_ENGINE)
    no_traceback(result)
    assert result.code == 3, result.output
    assert_engine_unreachable(one_stderr_line(result))
    assert result.stdout == ""


def test_reason_names_the_cause(folders, tmp_path):
    """The reason in parentheses says what is wrong with the socket, not a library's wording."""
    missing = run_smbos("status", cwd=folders, env=NO_ENGINE)
    assert "(no such socket)" in missing.stderr, missing.stderr
    not_a_socket = tmp_path / "plain-file.sock"
    not_a_socket.write_text("")
    refused = run_smbos(
        "status", cwd=folders, env={**NO_ENGINE, "DOCKER_HOST": f"unix://{not_a_socket}"}
    )
    assert refused.code == 3
    assert_engine_unreachable(one_stderr_line(refused), f"unix://{not_a_socket}")
    assert "(connection refused)" in refused.stderr
    tcp = run_smbos(
        "status", cwd=folders, env={**NO_ENGINE, "DOCKER_HOST": f"tcp://127.0.0.1:{free_port()}"}
    )
    assert tcp.code == 3
    assert "(connection refused)" in one_stderr_line(tcp)
    bogus = run_smbos("status", cwd=folders, env={**NO_ENGINE, "DOCKER_HOST": "bogus://x"})
    no_traceback(bogus)
    assert bogus.code == 3
    assert_engine_unreachable(one_stderr_line(bogus), "bogus://x")


def test_doctor_with_engine_unreachable(folders):
    """`doctor` is the report itself: every check on stdout, the engine check a FAIL line with its
    fix, the other checks still run, and exit 1 ("a check failed"), as for any failed check.
    Nothing on stderr: the report is the output."""
    result = run_smbos("doctor", cwd=folders, env=NO_ENGINE)
    no_traceback(result)
    assert result.code == 1, result.output
    assert result.stderr == ""
    lines = result.stdout.splitlines()
    failed = [line for line in lines if line.startswith("FAIL")]
    assert len(failed) == 1, result.stdout
    assert "Docker engine unreachable at unix:///nonexistent/docker.sock" in failed[0]
    assert "-- fix:" in failed[0] and "dockerd" in failed[0], failed[0]
    assert any(line.startswith("ok") and "agent folder(s) valid" in line for line in lines), lines
    # The ports are checked without the engine too (nothing listens on them here).
    assert sum(line.startswith("ok   port ") for line in lines) == 2, lines


@pytest.mark.parametrize(
    "args",
    [
        ("status", "nosuch"),
        ("start", "nosuch"),
        ("stop", "alpha", "nosuch"),
        ("logs", "nosuch"),
        ("chat", "nosuch", "hello"),
        ("tasks", "nosuch"),
    ],
    ids=lambda a: " ".join(a),
)
def test_unknown_agent_is_reported_before_the_engine(folders, args):
    """A mistyped id is invalid input (exit 2, with the known ids), whatever the engine does."""
    result = run_smbos(*args, cwd=folders, env=NO_ENGINE)
    no_traceback(result)
    assert result.code == 2, result.output
    assert one_stderr_line(result) == "error: unknown agent 'nosuch'; known agents: alpha, beta"
    assert result.stdout == ""


RUNTIME_COMMANDS = [
    ("chat", "alpha", "hello"),
    ("tasks", "alpha"),
    ("tasks", "alpha", "--json"),
    ("tasks", "alpha", "--pause", "t1"),
    ("skill", "alpha", "brief"),
]


def _with_skill(folders):
    write_agent(
        folders / "agents",
        "alpha",
        {
            "name": "Alpha",
            "port": free_port(),
            "runtime": {"container_isolation": "none"},
            "skills": [{"id": "brief", "title": "Brief", "prompt": "Brief me"}],
        },
    )
    return folders


@pytest.mark.parametrize("args", RUNTIME_COMMANDS, ids=lambda a: " ".join(a))
def test_runtime_commands_ask_the_engine_first(folders, args):
    """chat, tasks and skill reach an agent's runtime only through its running container: with
    the engine away they say so (exit 3), whatever listens on the agent's port."""
    result = run_smbos(*args, cwd=_with_skill(folders), env=NO_ENGINE)
    no_traceback(result)
    assert result.code == 3, result.output
    assert_engine_unreachable(one_stderr_line(result))
    assert result.stdout == ""


@pytest.mark.parametrize("args", RUNTIME_COMMANDS, ids=lambda a: " ".join(a))
def test_runtime_commands_need_a_running_container(folders, fake_fleet, args):
    """No container, or one that does not run: exit 1 and the command that starts it; the
    agent's port is never tried (a listener there, not the agent's, gets no connection)."""
    _with_skill(folders)
    alpha = fake_fleet.project.load().get("alpha")
    squatter = socket.create_server(("127.0.0.1", alpha.port))
    squatter.settimeout(0.05)
    try:
        result = run_smbos(*args, cwd=folders)
        no_traceback(result)
        assert result.code == 1, result.output
        assert one_stderr_line(result) == (
            "error: agent alpha is not running (state: not created); smbos up alpha"
        )
        fake_fleet.docker.add(fake_fleet.project, alpha, status="exited")
        result = run_smbos(*args, cwd=folders)
        assert result.code == 1, result.output
        assert one_stderr_line(result) == (
            "error: agent alpha is not running (state: exited); smbos start alpha"
        )
        with pytest.raises(TimeoutError):
            squatter.accept()
    finally:
        squatter.close()


@pytest.mark.parametrize("args", RUNTIME_COMMANDS[:3], ids=lambda a: " ".join(a))
def test_runtime_not_answering(folders, fake_fleet, args):
    """The container runs but nothing answers on its published port: exit 1, one line that
    names the agent and says the connection was refused."""
    fake_fleet.docker.add(fake_fleet.project, fake_fleet.project.load().get("alpha"))
    result = run_smbos(*args, cwd=folders)
    no_traceback(result)
    assert result.code == 1, result.output
    line = one_stderr_line(result)
    assert line.startswith("error: alpha: "), line
    assert "refused" in line, line
    assert result.stdout == ""


def test_no_agents_folder(tmp_path):
    """Not a project at all: still one line and an exit code, no traceback."""
    result = run_smbos("status", cwd=tmp_path, env=NO_ENGINE)
    no_traceback(result)
    assert result.code in (2, 3), result.output
    one_stderr_line(result)


# ---------------------------------------------------------- files that cannot be written


def _compose_is_a_file(project):
    (project / "compose").write_text("not a folder\n")
    return project / "compose"


def _file_is_a_directory(project):
    (project / "compose" / "docker-compose.yml").mkdir(parents=True)
    return project / "compose" / "docker-compose.yml"


def _read_only(project):
    target = project / "compose" / "docker-compose.yml"
    target.parent.mkdir()
    target.write_text("# Generated by `smbos generate` 0.0.0 from agents/ -- the previous file\n")
    target.parent.chmod(0o555)
    return target


@pytest.mark.parametrize(
    "setup,code,reason",
    [
        (_compose_is_a_file, 2, "compose is not a directory"),
        (_file_is_a_directory, 2, "is a directory; expected a file"),
        (_read_only, 1, "permission denied"),
    ],
    ids=["compose-is-a-file", "file-is-a-directory", "read-only"],
)
def test_compose_target_that_cannot_be_written(folders, setup, code, reason):
    """The path and the reason on one line, exit 1 (the file system refused) or 2 (the path is
    not what it must be); the previous file, if any, as it was."""
    import os

    target = setup(folders)
    before = target.read_bytes() if target.is_file() else None
    try:
        # (`up` writes through the same helper, once the engine answers.) As root, a read-only
        # folder needs a process without the capabilities that ignore file modes.
        if setup is _read_only and os.geteuid() == 0:
            result = run_smbos_process(
                "generate",
                cwd=folders,
                env=NO_ENGINE,
                wrapper=("setpriv", "--bounding-set=-dac_override,-dac_read_search"),
            )
        else:
            result = run_smbos("generate", cwd=folders, env=NO_ENGINE)
        no_traceback(result)
        assert result.code == code, result.output
        line = one_stderr_line(result)
        assert line.startswith(f"error: {folders / 'compose'}") and reason in line, line
        assert line.endswith("nothing was written"), line
        if before is not None:
            assert target.read_bytes() == before
    finally:
        if target.parent.is_dir():
            target.parent.chmod(0o755)


def test_env_stdin_refuses_an_empty_value(folders):
    """`smbos env ID --stdin KEY` with nothing on stdin would remove the key: refused."""
    env_file = folders / "agents" / "alpha" / ".env"
    before = env_file.read_bytes()
    for given in ("", "\n", "  \n"):
        result = run_smbos("env", "alpha", "--stdin", "ANTHROPIC_API_KEY", cwd=folders, input=given)
        assert result.code == 2, result
        assert "empty value" in result.stderr and "ANTHROPIC_API_KEY=" in result.stderr
        assert env_file.read_bytes() == before


@pytest.mark.parametrize("message", ["", "   ", "\n"])
def test_chat_refuses_an_empty_message_locally(folders, message):
    result = run_smbos("chat", "alpha", message, cwd=folders, env=NO_ENGINE)
    no_traceback(result)
    assert result.code == 2, result.output
    assert one_stderr_line(result) == "error: message is required: a non-empty string"


def test_env_stores_apostrophes(folders):
    value = "it's Bob's 'team' key"
    result = run_smbos("env", "alpha", f"ASSISTANT_NAME={value}", cwd=folders)
    assert result.code == 0, result.output
    from smbos import envfile

    assert envfile.read_env(folders / "agents" / "alpha" / ".env")["ASSISTANT_NAME"] == value


@pytest.mark.parametrize(
    "args",
    [
        ("status", "beta"),
        ("start", "beta"),
        ("logs", "beta"),
        ("chat", "beta", "hello"),
        ("tasks", "beta"),
        ("env", "beta"),
        ("memory", "beta"),
        ("skill", "beta"),
    ],
    ids=lambda a: " ".join(a),
)
def test_an_invalid_agent_is_not_called_unknown(folders, args):
    """An agent whose folder has an error: said so, with the first problem, not "unknown"."""
    (folders / "agents" / "beta" / "config.yaml").write_text("name: Beta\nprot: 3101\n")
    result = run_smbos(*args, cwd=folders, env=NO_ENGINE)
    no_traceback(result)
    assert result.code == 2, result.output
    assert one_stderr_line(result) == (
        "error: agent 'beta' is invalid: agents/beta/config.yaml: prot: unknown key (did you "
        "mean 'port'?)"
    )


def test_the_ui_says_an_agent_is_invalid(folders):
    from smbos.project import Project
    from smbos.web.app import create_app

    from .test_web_api import AUTH, make_client

    (folders / "agents" / "beta" / "config.yaml").write_text("name: Beta\nprot: 3101\n")
    project = Project.from_options(folders / "agents", None, "clierrors")
    with make_client(create_app(project, AUTH["X-SMBOS-Token"])) as client:
        for path in ("/api/agents/beta", "/api/agents/beta/env", "/agents/beta/api/health"):
            r = client.get(path, headers=AUTH)
            assert r.status_code == 404 and "agent 'beta' is invalid" in r.json()["error"]
        page = client.get("/agents/beta")
        assert page.status_code == 404 and "is invalid" in page.text
