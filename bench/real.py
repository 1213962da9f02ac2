"""Benchmark: SMBOS on real NanoClaw (the SMBOS fork), against plain Docker tools, in one run.

Prints:
- image build times: `smbos build --no-cache` of the fork, split into the per-turn agent image and
  the runtime image (what a first build costs), and the same build again from the layer cache;
- `smbos up --no-build` until two real agents are healthy, against `docker compose up -d --wait` on
  the Compose file smbos generated (aim <= 1.1x); a `down` between runs, the order alternating;
- a chat round trip: `smbos chat` against the same request sent with `curl -N` (aim <= 1.1x),
  each until the stream's `done`, through a real per-turn container to a fake Anthropic API, each
  started once the previous turn's container is gone;
- each runtime container's memory at rest (`docker stats`).

The fork and the offline build are those of the real-runtime tests (tests/realruntime.py):
SMBOS_NANOCLAW_SRC names the source (a folder, a tarball, or URL#REF:SUBDIR).

    SMBOS_NANOCLAW_SRC=../shared/nanoclaw/smbos-fork-fd6e44d.tar.gz python bench/real.py [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
from smbos import dockercompose  # noqa: E402
import tests.conftest  # noqa: E402,F401 (loads the test fixtures in their order)
from tests.dockerfleet import free_port  # noqa: E402
from up import run  # noqa: E402
from tests.realruntime import (  # noqa: E402
    BASE_IMAGE,
    REAL_IMAGE,
    build_args,
    ensure_base_images,
    prepared_source,
)

PROJECT = "smbos-bench-real"
AGENTS = ("bench-one", "bench-two")


def smbos_build(source: Path, no_cache: bool) -> dict[str, float]:
    """Seconds of each phase of `smbos build`, read from its phase lines on stderr."""
    args = [
        sys.executable,
        "-m",
        "smbos",
        "build",
        "--agents",
        str(ROOT / "agents"),
        "--source",
        str(source),
        "--tag",
        REAL_IMAGE,
        *build_args(),
    ]
    if no_cache:
        args.append("--no-cache")
    marks: list[tuple[str, float]] = [("start", time.perf_counter())]
    proc = subprocess.Popen(
        args, cwd=ROOT, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True
    )
    tail: list[str] = []
    for line in proc.stderr:
        tail = (tail + [line.rstrip()])[-30:]
        if line.startswith("building the per-turn agent image"):
            marks.append(("agent", time.perf_counter()))
        elif line.startswith("building the runtime image"):
            marks.append(("runtime", time.perf_counter()))
    if proc.wait() != 0:
        sys.exit("smbos build failed:\n" + "\n".join(tail))
    marks.append(("end", time.perf_counter()))
    at = dict(marks)
    return {
        "stage and patch": at["agent"] - at["start"],
        "agent image": at["runtime"] - at["agent"],
        "runtime image": at["end"] - at["runtime"],
    }


class Fleet:
    def __init__(self, root: Path):
        self.root = root
        self.agents = root / "agents"
        self.compose_file = root / "compose" / "docker-compose.yml"
        self.env = {"SMBOS_IMAGE": REAL_IMAGE, "SMBOS_PROJECT": PROJECT, "COLUMNS": "200"}
        self.compose = list(dockercompose.find() or ())
        self.ports: dict[str, int] = {}
        self.fake = f"{PROJECT}-fake-anthropic"

    def smbos(self, *args: str, check: bool = True, timeout: float = 600):
        return run(
            [sys.executable, "-m", "smbos", *args, "--agents", str(self.agents)],
            env=self.env,
            check=check,
            timeout=timeout,
        )

    def compose_run(self, *args: str, check: bool = True):
        return run([*self.compose, "-f", str(self.compose_file), "-p", PROJECT, *args], check=check)

    def prepare(self) -> None:
        for agent in AGENTS:
            folder = self.agents / agent
            (folder / "memory").mkdir(parents=True)
            port = free_port()
            self.ports[agent] = port
            (folder / "agent.md").write_text(f"---\nname: {agent}\n---\nYou are {agent}.\n")
            (folder / "config.yaml").write_text(
                f"port: {port}\nruntime:\n  container_isolation: docker\n"
            )
            (folder / ".env.example").write_text("# Anthropic API key.\nANTHROPIC_API_KEY=\n")
            (folder / ".env").write_text(
                f"ANTHROPIC_API_KEY=sk-bench-{secrets.token_hex(8)}\n"
                "ANTHROPIC_BASE_URL=http://fake-anthropic:8080\n"
            )
        run(["docker", "rm", "-f", self.fake], check=False)
        run(
            [
                "docker",
                "run",
                "-d",
                "--name",
                self.fake,
                "-v",
                f"{ROOT / 'tests' / 'fakes'}:/fake:ro",
                BASE_IMAGE,
                "node",
                "/fake/anthropic.mjs",
            ]
        )

    def join_fake(self) -> None:
        for agent in AGENTS:
            run(
                [
                    "docker",
                    "network",
                    "connect",
                    "--alias",
                    "fake-anthropic",
                    f"{PROJECT}_{agent}",
                    self.fake,
                ],
                check=False,
            )

    def healthy(self) -> bool:
        rows = json.loads(self.smbos("status", "--json").stdout)
        return len(rows) == len(AGENTS) and all(
            r["health"] == "healthy" and r["api"] == "ok" for r in rows
        )

    def down(self) -> None:
        self.compose_run("down", "--remove-orphans")

    def cleanup(self) -> None:
        run(["docker", "rm", "-f", self.fake], check=False)
        self.compose_run("down", "--remove-orphans", "--volumes", check=False)


def timed(fn) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def no_turn_running(timeout: float = 60) -> None:
    """Wait until the last turn's container is gone, so each timed chat starts alike."""
    deadline = time.monotonic() + timeout
    while run(
        [
            "docker",
            "ps",
            "-q",
            "--filter",
            "label=io.smbos.turn=true",
            "--filter",
            f"label=io.smbos.project={PROJECT}",
        ]
    ).stdout.strip():
        if time.monotonic() > deadline:
            sys.exit("a per-turn container did not exit within 60 s of its reply")
        time.sleep(0.5)


def curl_chat(port: int, message: str) -> None:
    proc = run(
        [
            "curl",
            "-sN",
            "--max-time",
            "300",
            "-H",
            "content-type: application/json",
            "-d",
            json.dumps({"message": message}),
            f"http://127.0.0.1:{port}/api/chat",
        ]
    )
    if "event: done" not in proc.stdout or "FAKE-REPLY" not in proc.stdout:
        sys.exit(f"curl chat: no reply or no done:\n{proc.stdout[-1000:]}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--skip-cold-build",
        action="store_true",
        help="Measure only the cached build (a cold one takes minutes).",
    )
    args = parser.parse_args()
    if not shutil.which("curl"):
        sys.exit("curl not found: apt-get install -y curl")
    ensure_base_images()
    source = prepared_source()
    print(f"source: {source} (SMBOS_NANOCLAW_SRC={os.environ.get('SMBOS_NANOCLAW_SRC', '')})")
    if not args.skip_cold_build:
        cold = smbos_build(source, no_cache=True)
        print("cold build (--no-cache): " + ", ".join(f"{k} {v:.1f} s" for k, v in cold.items()))
    warm = smbos_build(source, no_cache=False)
    print("cached build:             " + ", ".join(f"{k} {v:.1f} s" for k, v in warm.items()))
    for tag in (
        REAL_IMAGE,
        run(
            [
                "docker",
                "image",
                "inspect",
                "--format",
                '{{index .Config.Labels "io.smbos.agent-image"}}',
                REAL_IMAGE,
            ]
        ).stdout.strip(),
    ):
        size = int(run(["docker", "image", "inspect", "--format", "{{.Size}}", tag]).stdout)
        print(f"image {tag}: {size / 1e6:.0f} MB")

    with tempfile.TemporaryDirectory(prefix="smbos-bench-real-", ignore_cleanup_errors=True) as tmp:
        fleet = Fleet(Path(tmp))
        fleet.prepare()
        try:
            fleet.smbos("up", "--no-build", "--wait-timeout", "240")  # warm-up: volumes, chown
            fleet.down()
            timings: dict[str, list[float]] = {"smbos up": [], "compose up --wait": []}
            for index in range(args.repeat):
                order = list(timings)
                if index % 2:
                    order.reverse()
                for which in order:
                    if which == "smbos up":
                        seconds = timed(
                            lambda: fleet.smbos("up", "--no-build", "--wait-timeout", "240")
                        )
                    else:
                        seconds = timed(
                            lambda: fleet.compose_run("up", "-d", "--wait", "--wait-timeout", "240")
                        )
                    if not fleet.healthy():
                        sys.exit(f"{which}: returned, but not every agent is healthy")
                    timings[which].append(seconds)
                    print(f"  up run {index + 1} {which:<18} {seconds:6.2f} s")
                    fleet.down()
            fleet.smbos("up", "--no-build", "--wait-timeout", "240")
            fleet.join_fake()
            port = fleet.ports[AGENTS[0]]
            fleet.smbos("chat", AGENTS[0], "warm-up", "--timeout", "300", timeout=400)
            chats: dict[str, list[float]] = {"smbos chat": [], "curl -N": []}
            for index in range(args.repeat):
                order = list(chats)
                if index % 2:
                    order.reverse()
                for which in order:
                    message = f"bench {index} {which}"
                    no_turn_running()
                    if which == "smbos chat":
                        seconds = timed(
                            lambda: fleet.smbos(
                                "chat", AGENTS[0], message, "--timeout", "300", timeout=400
                            )
                        )
                    else:
                        seconds = timed(lambda: curl_chat(port, message))
                    chats[which].append(seconds)
                    print(f"  chat run {index + 1} {which:<11} {seconds:6.2f} s")
            time.sleep(20)  # let the last turn's container go and the runtime settle
            stats = run(
                ["docker", "stats", "--no-stream", "--format", "{{.Name}} {{.MemUsage}}"]
            ).stdout
            memory = [line for line in stats.splitlines() if line.startswith(PROJECT + "-")]
        finally:
            fleet.cleanup()
    ours, base = (
        statistics.median(timings["smbos up"]),
        statistics.median(timings["compose up --wait"]),
    )
    print(f"median smbos up --no-build:         {ours:6.2f} s (two real agents to healthy)")
    print(f"median docker compose up -d --wait: {base:6.2f} s")
    print(f"ratio up smbos / compose:           {ours / base:6.2f} (aim <= 1.1)")
    ours, base = statistics.median(chats["smbos chat"]), statistics.median(chats["curl -N"])
    print(f"median smbos chat round trip:       {ours:6.2f} s")
    print(f"median curl -N round trip:          {base:6.2f} s")
    print(f"ratio chat smbos / curl:            {ours / base:6.2f} (aim <= 1.1)")
    for line in memory:
        print(f"memory at rest: {line}")


if __name__ == "__main__":
    main()
