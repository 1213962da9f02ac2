"""What only a process shows, proven on the real `python -m smbos`: its exit status, that no
traceback reaches its streams, and that a secret in `.env` reaches neither stdout nor stderr.
Every other CLI test runs the commands in the test's own process (conftest.run_smbos)."""

from __future__ import annotations

import secrets
from pathlib import Path

from .conftest import run_smbos_process, write_agent
from .dockerfleet import free_port

NO_ENGINE = {"DOCKER_HOST": "unix:///nonexistent/docker.sock", "SMBOS_PROJECT": "cliprocess"}


def test_exit_status_one_line_errors_and_no_secret(project: Path):
    canary = f"sk-ant-api03-PROCESS{secrets.token_hex(16)}"
    write_agent(project / "agents", "alpha", {"name": "Alpha", "port": free_port(),
                                              "runtime": {"container_isolation": "none"}},
                env=f"ANTHROPIC_API_KEY={canary}\n")
    # ok; a check failed (nothing listens on alpha's port); invalid input; engine unreachable
    cases = [(("env", "alpha"), 0), (("tasks", "alpha"), 1), (("status", "nosuch"), 2),
             (("status",), 3)]
    for args, code in cases:
        result = run_smbos_process(*args, cwd=project, env=NO_ENGINE)
        assert result.code == code, (args, result)
        assert "Traceback" not in result.output and canary not in result.output, (args, result)
        if code:
            assert len(result.stderr.splitlines()) == 1 and result.stdout == "", (args, result)
        else:
            assert "ANTHROPIC_API_KEY" in result.stdout and "****" in result.stdout, result

