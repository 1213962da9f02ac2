"""What only a process shows, proven on the real `python -m smbos`: its exit status, that no
traceback reaches its streams, and that a secret in `.env` reaches neither stdout nor stderr.
Every other CLI test runs the commands in the test's own process (conftest.run_smbos)."""

from __future__ import annotations

import secrets
import socket
from pathlib import Path

from .conftest import run_smbos_process, write_agent
from .dockerfleet import free_port

NO_ENGINE = {"DOCKER_HOST": "unix:///nonexistent/docker.sock", "SMBOS_PROJECT": "cliprocess"}


def test_exit_status_one_line_errors_and_no_secret(project: Path):
    canary = f"sk-ant-api03-PROCESS{secrets.token_hex(16)}"
    write_agent(
        project / "agents",
        "alpha",
        {"name": "Alpha", "port": free_port(), "runtime": {"container_isolation": "none"}},
        env=f"ANTHROPIC_API_KEY={canary}\n",
    )
    taken = socket.create_server(("127.0.0.1", 0))
    # ok; a check failed (the UI's port is taken); invalid input; engine unreachable
    cases = [
        (("env", "alpha"), 0),
        (("ui", "--port", str(taken.getsockname()[1])), 1),
        (("status", "nosuch"), 2),
        (("status",), 3),
    ]
    with taken:
        results = [
            (
                args,
                code,
                run_smbos_process(
                    *args, cwd=project, timeout=30, env={**NO_ENGINE, "SMBOS_UI_TOKEN": canary}
                ),
            )
            for args, code in cases
        ]
    for args, code, result in results:
        assert result.code == code, (args, result)
        assert "Traceback" not in result.output and canary not in result.output, (args, result)
        if code:
            assert len(result.stderr.splitlines()) == 1 and result.stdout == "", (args, result)
        else:
            assert "ANTHROPIC_API_KEY" in result.stdout and "****" in result.stdout, result
