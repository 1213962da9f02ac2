"""Benchmark: how fast the CLI answers, against Compose on the same fleet, in one run.

The fleet is the portfolio (six agents) on the NanoClaw stand-in image, brought up the way
bench/up.py does it (a temporary copy with fake `.env` values). Prints medians of `--repeat` runs
of each command as a fresh process, as an operator or a script runs it:

- `smbos --version`, `smbos list --json`, `smbos validate`, `smbos status --json`;
- the baseline: `docker compose ps --format json` plus one `GET /api/health` of an agent (what a
  script would do to get the same answer), with the ratio `status --json` / baseline (aim <= 3);
- with `--baseline REF|DIR`, each smbos command also as it was at that git revision (the package
  exported to a temporary folder) or in DIR (a folder holding an earlier `smbos/`), run on the
  same interpreter and packages, so before and after are measured in one run, alternating;
- with `--portfolio REF|DIR`, on agents/ as it was at REF (or DIR): a baseline from before a
  change to the portfolio's folders may reject today's (it is then left out, with the reason).

    python bench/cli.py [--repeat 5] [--image smbos/nanoclaw-standin:test] [--baseline REF|DIR]
                        [--portfolio REF|DIR]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from up import PROJECT, ROOT, Bench, port_busy, run  # noqa: E402


def export_tree(ref: str, into: Path, what: str = "smbos") -> Path:
    """The folder `what` (the package) as it was at `ref`, exported (not checked out) into
    `into`."""
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", ref, what], capture_output=True, check=False
    )
    if archive.returncode != 0:
        sys.exit(f"{ref}: {archive.stderr.decode(errors='replace').strip()}")
    into.mkdir(parents=True)
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive.stdout, check=True)
    return into


def timed(command: list[str], env: dict | None = None) -> float:
    started = time.perf_counter()
    proc = subprocess.run(
        command, capture_output=True, text=True, env={**os.environ, **(env or {})}, timeout=120
    )
    elapsed = time.perf_counter() - started
    if proc.returncode != 0:
        sys.exit(f"failed ({proc.returncode}): {' '.join(command)}\n{proc.stderr[-2000:]}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument(
        "--image", default=os.environ.get("SMBOS_STANDIN_IMAGE", "smbos/nanoclaw-standin:test")
    )
    parser.add_argument(
        "--baseline",
        metavar="REF|DIR",
        default=None,
        help="Also time each smbos command as it was at this git revision, or "
        "as the smbos/ package in DIR is.",
    )
    parser.add_argument(
        "--portfolio",
        metavar="REF|DIR",
        default=None,
        help="The agent folders to run: agents/ as it was at this git revision, "
        "or DIR (default: agents/ of this checkout). A baseline from before "
        "a change to the portfolio needs the portfolio of its time.",
    )
    args = parser.parse_args()
    if run(["docker", "image", "inspect", args.image], check=False).returncode != 0:
        sys.exit(f"image {args.image} not found: run tests/docker/build-standin-image.sh")
    with tempfile.TemporaryDirectory(prefix="smbos-bench-cli-", ignore_cleanup_errors=True) as tmp:
        portfolio = ROOT / "agents"
        if args.portfolio:
            given = Path(args.portfolio)
            portfolio = (
                given
                if given.is_dir()
                else export_tree(args.portfolio, Path(tmp) / "portfolio", "agents") / "agents"
            )
        bench = Bench(Path(tmp), args.image, portfolio)
        ports = bench.prepare()
        busy = [p for p in ports if port_busy(p)]
        if busy:
            sys.exit(f"ports {busy} on 127.0.0.1 are in use; stop the fleet or the demo first")
        agents = ["--agents", str(bench.agents)]
        verbs = {
            "smbos --version": ["--version"],
            "smbos list --json": ["list", "--json", *agents],
            "smbos validate": ["validate", *agents],
            "smbos status --json": ["status", "--json", *agents],
        }
        # -I: neither the working directory nor PYTHON* variables choose which smbos runs.
        trees = {"": ["-c", "import runpy; runpy.run_module('smbos', run_name='__main__')"]}
        if args.baseline:
            given = Path(args.baseline)
            old = (
                given
                if (given / "smbos").is_dir()
                else export_tree(args.baseline, Path(tmp) / "before")
            )
            trees[f" @{args.baseline}"] = [
                "-c",
                f"import sys, runpy; sys.path.insert(0, {str(old)!r}); "
                "runpy.run_module('smbos', run_name='__main__')",
            ]
        commands = {
            f"{name}{label}": [sys.executable, "-I", *prefix, *argv]
            for name, argv in verbs.items()
            for label, prefix in trees.items()
        }
        baseline_ps = [
            *bench.compose,
            "-f",
            str(bench.compose_file),
            "-p",
            PROJECT,
            "ps",
            "--format",
            "json",
        ]
        health = f"http://127.0.0.1:{ports[0]}/api/health"
        try:
            bench.time_smbos()  # up, to healthy
            if not bench.all_healthy():
                sys.exit("the fleet did not come up healthy")
            for label in [label for label in trees if label]:
                # A baseline from before a change to the agent schema may reject this portfolio:
                # its figures are left out (say so) rather than the whole run lost.
                for name, argv in verbs.items():
                    trial = subprocess.run(
                        commands[f"{name}{label}"],
                        capture_output=True,
                        text=True,
                        env={**os.environ, **bench.env},
                        timeout=120,
                    )
                    if trial.returncode != 0:
                        why = (trial.stderr.strip().splitlines() or ["no output"])[-1]
                        print(
                            f"baseline{label} cannot run `{name}` on this fleet "
                            f"(exit {trial.returncode}: {why}); its figures are left out"
                        )
                        for verb in verbs:
                            commands.pop(f"{verb}{label}", None)
                        del trees[label]
                        break
            timings: dict[str, list[float]] = {name: [] for name in commands}
            timings["compose ps --format json + 1 probe"] = []
            for _ in range(args.repeat):
                for name, command in commands.items():
                    timings[name].append(timed(command, bench.env))
                started = time.perf_counter()
                subprocess.run(baseline_ps, capture_output=True, check=True, timeout=60)
                with urllib.request.urlopen(health, timeout=5) as reply:
                    reply.read()
                timings["compose ps --format json + 1 probe"].append(time.perf_counter() - started)
        finally:
            bench.compose_run("down", "--remove-orphans", "--volumes", check=False)
    medians = {name: statistics.median(values) * 1000 for name, values in timings.items()}
    print(
        f"fleet: {len(ports)} agents of {args.portfolio or 'agents/'} on {args.image}; "
        f"medians of {args.repeat} runs"
    )
    for name, ms in medians.items():
        print(f"  {name:<38} {ms:8.0f} ms")
    baseline = medians["compose ps --format json + 1 probe"]
    for label in trees:
        print(
            f"ratio status --json{label} / (compose ps + probe): "
            f"{medians[f'smbos status --json{label}'] / baseline:.2f} (aim <= 3)"
        )
    print(f"smbos --version: {medians['smbos --version']:.0f} ms (aim <= 150)")


if __name__ == "__main__":
    main()
