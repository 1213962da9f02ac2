"""What the CLI loads before it does any work: each command pays only for what it uses.

These run a fresh interpreter on purpose: start-up cost is a property of the process.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

# Heavy modules no command needs merely to start (`--version`, `--help`).
HEAVY = (
    "smbos.agent",
    "smbos.compose",
    "smbos.controller",
    "smbos.nanoclaw.runtime",
    "smbos.web",
    "jinja2",
    "pydantic",
    "croniter",
    "docker",
    "httpx",
    "rich",
    "yaml",
    "starlette",
    "uvicorn",
)


def loaded_modules(*args: str) -> set[str]:
    code = (
        "import sys\nfrom smbos.cli import cli\n"
        f"try:\n    cli({list(args)!r}, prog_name='smbos')\nexcept SystemExit:\n    pass\n"
        "print(' '.join(sorted(sys.modules)))"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    return set(proc.stdout.splitlines()[-1].split())


@pytest.mark.parametrize("args", [("--version",), ("--help",), ("status", "--help")])
def test_starting_the_cli_loads_no_command_machinery(args) -> None:
    modules = loaded_modules(*args)
    assert "smbos.cli" in modules  # the probe ran the CLI at all
    heavy = sorted(m for m in modules if any(m == h or m.startswith(f"{h}.") for h in HEAVY))
    assert not heavy, f"`smbos {' '.join(args)}` imported {heavy}"
