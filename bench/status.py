"""Benchmark: `smbos status --json` for ten live stand-in agents, each answering after 200 ms.

Runs a throw-away project of N agents on the stand-in image (`slow 200` in each agent's
`.standin-fault`, so every API probe takes 200 ms), then times, REPEAT times each, median:

  - `smbos status --json`                                  (all agents: Docker + API probes)
  - `docker compose -f FILE -p PROJECT ps --format json`   (Compose's own view, no probes)
  - `smbos status --json ONE_ID`                           (one agent alone)

and prints both ratios. Aims: status within 1.5x of compose ps; N agents within 1.5x of one
(the probes run concurrently, so ten slow agents cost about as much as one). Every container,
network and volume of the project is removed afterwards.

    python bench/status.py [--agents 10] [--repeat 5] [--delay-ms 200] [--image IMAGE]
                           [--baseline DIR]

`--baseline DIR` (DIR holding an earlier `smbos/` package, e.g. from `git archive`) times that
version's status commands in the same rounds, for before/after figures on a busy machine.
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

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests.conftest import write_agent  # noqa: E402
from tests.dockerfleet import BASE_IMAGE, STANDIN_IMAGE, free_port  # noqa: E402


def smbos_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "smbos", *args]


def timed(command: list[str], cwd: Path, env: dict[str, str]) -> float:
    start = time.perf_counter()
    proc = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=120)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed ({proc.returncode}):\n{proc.stderr[-2000:]}")
    return elapsed


def measure(
    commands: dict[str, tuple[list[str], dict[str, str]]], cwd: Path, repeat: int
) -> dict[str, list[float]]:
    """Each command `repeat` times, round-robin, so a busy machine slows them all alike."""
    times: dict[str, list[float]] = {label: [] for label in commands}
    for _ in range(repeat):
        for label, (command, env) in commands.items():
            times[label].append(timed(command, cwd, env))
    return times


def cleanup(name: str) -> None:
    import docker

    client = docker.from_env()
    for container in client.containers.list(
        all=True, filters={"label": f"io.smbos.project={name}"}
    ):
        container.remove(force=True)
    for network in client.networks.list(filters={"label": f"com.docker.compose.project={name}"}):
        try:
            network.remove()
        except docker.errors.APIError:
            pass
    for volume in client.volumes.list(filters={"label": f"com.docker.compose.project={name}"}):
        try:
            volume.remove(force=True)
        except docker.errors.APIError:
            pass


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agents", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--delay-ms", type=int, default=200)
    parser.add_argument("--image", default=STANDIN_IMAGE)
    parser.add_argument("--keep", action="store_true", help="Leave the project running.")
    parser.add_argument(
        "--baseline",
        type=Path,
        default=None,
        metavar="DIR",
        help="A folder holding an earlier copy of the smbos package: its status "
        "commands are timed too, interleaved, for a before/after figure.",
    )
    args = parser.parse_args()

    from smbos import dockercompose

    compose_bin = dockercompose.find()
    if compose_bin is None:
        raise SystemExit("Docker Compose v2 not found")
    root = Path(tempfile.mkdtemp(prefix="smbos-bench-status-"))
    name = f"bench{secrets.token_hex(3)}"
    env = {**os.environ, "SMBOS_IMAGE": args.image, "SMBOS_PROJECT": name, "COLUMNS": "200"}
    env.pop("SMBOS_DEBUG", None)
    ids = [f"agent-{i:02d}" for i in range(args.agents)]
    try:
        for agent_id in ids:
            write_agent(
                root / "agents",
                agent_id,
                {
                    "name": agent_id.title(),
                    "port": free_port(),
                    "runtime": {"container_isolation": "none", "agent_image": BASE_IMAGE},
                },
                env=f"ANTHROPIC_API_KEY=sk-bench-{agent_id}\n",
            )
        start = time.perf_counter()
        up = subprocess.run(
            smbos_command("up", "--no-build", "--wait-timeout", "180"),
            cwd=root,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )
        if up.returncode != 0:
            raise SystemExit(f"smbos up failed:\n{up.stdout[-2000:]}\n{up.stderr[-2000:]}")
        print(
            f"{args.agents} agents up in {time.perf_counter() - start:.1f} s "
            f"(project {name}, image {args.image})"
        )
        for agent_id in ids:
            (root / "state" / agent_id / ".standin-fault").write_text(f"slow {args.delay_ms}\n")

        compose_file = root / "compose" / "docker-compose.yml"
        all_cmd = smbos_command("status", "--json")
        one_cmd = smbos_command("status", "--json", ids[0])
        ps_cmd = [*compose_bin, "-f", str(compose_file), "-p", name, "ps", "--format", "json"]
        # Warm the page cache and Python's bytecode once, then measure.
        for command in (all_cmd, one_cmd, ps_cmd):
            timed(command, root, env)
        check = subprocess.run(all_cmd, cwd=root, env=env, capture_output=True, text=True)
        rows = json.loads(check.stdout)
        slow = [r for r in rows if r["api"] == "ok" and (r["latency_ms"] or 0) >= args.delay_ms]
        print(
            f"probe check: {len(slow)} of {len(rows)} agents answered ok after >= "
            f"{args.delay_ms} ms"
        )

        label_all = f"smbos status --json ({args.agents} agents)"
        label_one = "smbos status --json ONE_ID"
        label_ps = "docker compose ps --format json"
        commands = {label_all: (all_cmd, env), label_one: (one_cmd, env), label_ps: (ps_cmd, env)}
        if args.baseline:
            # The same commands with an earlier copy of the smbos package first on the path.
            old_env = {**env, "PYTHONPATH": str(args.baseline.resolve())}
            commands[f"baseline: {label_all}"] = (all_cmd, old_env)
            commands[f"baseline: {label_one}"] = (one_cmd, old_env)
            for label in list(commands)[-2:]:
                timed(commands[label][0], root, old_env)
        times = measure(commands, root, args.repeat)
        medians = {label: statistics.median(values) for label, values in times.items()}
        for label, values in times.items():
            runs = " ".join(f"{t:.3f}" for t in values)
            print(f"{label:<56} median {medians[label]:.3f} s   runs {runs}")

        def ratios(prefix: str) -> None:
            ratio_ps = medians[prefix + label_all] / medians[label_ps]
            ratio_one = medians[prefix + label_all] / medians[prefix + label_one]
            print(
                f"{prefix}ratio status / compose ps: {ratio_ps:.2f}  (aim <= 1.5: "
                f"{'met' if ratio_ps <= 1.5 else 'MISSED'})"
            )
            print(
                f"{prefix}ratio {args.agents} agents / one agent: {ratio_one:.2f}  (aim <= 1.5: "
                f"{'met' if ratio_one <= 1.5 else 'MISSED'})"
            )

        ratios("")
        if args.baseline:
            ratios("baseline: ")
    finally:
        if args.keep:
            print(f"kept: project {name} in {root} (SMBOS_PROJECT={name} SMBOS_IMAGE={args.image})")
        else:
            cleanup(name)
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
