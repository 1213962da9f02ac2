"""Benchmark: the operator UI with a fleet of real stand-in agents.

Starts N stand-in containers (default 20) through the real `smbos up`, runs `smbos ui` as a
subprocess on a free 127.0.0.1 port, and measures, over repeated requests:

- the fleet page (`GET /`) and the status API (`GET /api/status`, which inspects every container
  and probes every agent's API) one request at a time: median and p95;
- the status API with several clients polling at once (browser tabs): median and p95 per request;
- an agent page, the proxy (`GET /agents/<id>/api/health`) and a chat turn through the UI;
- the UI process's resident memory (VmRSS, and its peak VmHWM, from /proc/<pid>/status) after
  start and after the run.

    python bench/ui.py [--agents 20] [--repeat 100] [--clients 8] [--keep]

Needs a Docker engine and the stand-in image (`smbos/nanoclaw-standin:test`, built by the tests).
Every container it starts is removed at the end (unless --keep). Writes bench/results/ui.json.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from tests.dockerfleet import BASE_IMAGE, STANDIN_IMAGE, LiveFleet, free_port  # noqa: E402


def rss_kib(pid: int) -> dict[str, int]:
    values = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, rest = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            values[key] = int(rest.split()[0])
    return values


def percentile(samples: list[float], pct: float) -> float:
    ordered = sorted(samples)
    index = min(len(ordered) - 1, max(0, round(pct / 100 * (len(ordered) - 1))))
    return ordered[index]


def summary(samples: list[float]) -> dict[str, float]:
    ms = [s * 1000 for s in samples]
    return {
        "n": len(ms),
        "median_ms": round(statistics.median(ms), 1),
        "p95_ms": round(percentile(ms, 95), 1),
        "min_ms": round(min(ms), 1),
        "max_ms": round(max(ms), 1),
    }


def timed_get(client: httpx.Client, path: str, expect: int = 200) -> float:
    started = time.perf_counter()
    response = client.get(path)
    elapsed = time.perf_counter() - started
    if response.status_code != expect:
        raise SystemExit(f"GET {path}: HTTP {response.status_code}: {response.text[:200]}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agents", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=100)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--keep", action="store_true", help="Leave the containers running.")
    args = parser.parse_args()

    import docker

    engine = docker.from_env(timeout=60)
    engine.ping()
    engine.images.get(STANDIN_IMAGE)  # raises when missing: run the Docker tests once to build it
    results: dict = {
        "agents": args.agents,
        "repeat": args.repeat,
        "clients": args.clients,
        "cpus": os.cpu_count(),
    }
    with tempfile.TemporaryDirectory(prefix="smbos-bench-ui-") as tmp:
        root = Path(tmp)
        (root / "agents").mkdir()
        fleet = LiveFleet(
            root=root, name=f"bui{secrets.token_hex(3)}", image=STANDIN_IMAGE, client=engine
        )
        ui = None
        try:
            ids = [f"agent-{i:02d}" for i in range(args.agents)]
            for agent_id in ids:
                fleet.add(
                    agent_id,
                    config={"runtime": {"container_isolation": "none", "agent_image": BASE_IMAGE}},
                )
            started = time.perf_counter()
            up = fleet.smbos("up", "--no-build", "--wait-timeout", "600", timeout=900)
            if up.code != 0:
                lines = [line for line in up.output.splitlines() if "(no container)" not in line]
                raise SystemExit("smbos up failed:\n" + "\n".join(lines[-40:]))
            results["up_s"] = round(time.perf_counter() - started, 1)
            print(f"{args.agents} stand-in agents up and healthy in {results['up_s']} s")

            port = free_port()
            token = secrets.token_urlsafe(32)
            env = {**os.environ, **fleet.env, "SMBOS_UI_TOKEN": token}
            ui = subprocess.Popen(
                [sys.executable, "-m", "smbos", "ui", "--port", str(port)],
                cwd=root,
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                text=True,
            )
            base = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + 30
            while True:
                try:
                    httpx.get(f"{base}/api/agents", timeout=1, trust_env=False)
                    break
                except httpx.HTTPError:
                    if time.monotonic() > deadline or ui.poll() is not None:
                        raise SystemExit(f"smbos ui did not start: {ui.stderr.read()[-2000:]}")
                    time.sleep(0.1)
            results["rss_after_start_kib"] = rss_kib(ui.pid)

            with httpx.Client(base_url=base, timeout=60, trust_env=False) as client:
                status = client.get("/api/status").json()
                healthy = sum(
                    1 for a in status["agents"] if a["health"] == "healthy" and a["api"] == "ok"
                )
                print(
                    f"status API sees {len(status['agents'])} agents, {healthy} healthy "
                    "with their API answering"
                )
                for _ in range(5):  # warm-up
                    timed_get(client, "/")
                    timed_get(client, "/api/status")
                fleet_page = [timed_get(client, "/") for _ in range(args.repeat)]
                status_api = [timed_get(client, "/api/status") for _ in range(args.repeat)]
                agent_page = [timed_get(client, f"/agents/{ids[0]}") for _ in range(args.repeat)]
                proxy = [
                    timed_get(client, f"/agents/{ids[i % len(ids)]}/api/health")
                    for i in range(args.repeat)
                ]
                chats = []
                for i in range(min(20, args.repeat)):
                    started = time.perf_counter()
                    reply = client.post(
                        f"/api/agents/{ids[i % len(ids)]}/chat",
                        headers={"X-SMBOS-Token": token},
                        json={"message": f"bench {i}"},
                    )
                    chats.append(time.perf_counter() - started)
                    assert reply.status_code == 200 and "event: done" in reply.text

            concurrent: list[float] = []
            lock = threading.Lock()

            def poller() -> None:
                with httpx.Client(base_url=base, timeout=60, trust_env=False) as c:
                    for _ in range(max(1, args.repeat // 4)):
                        elapsed = timed_get(c, "/api/status")
                        with lock:
                            concurrent.append(elapsed)

            threads = [threading.Thread(target=poller) for _ in range(args.clients)]
            wall = time.perf_counter()
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            wall = time.perf_counter() - wall
            results["rss_after_run_kib"] = rss_kib(ui.pid)
            results["fleet_page"] = summary(fleet_page)
            results["status_api"] = summary(status_api)
            results["status_api_concurrent"] = {
                **summary(concurrent),
                "requests_per_s": round(len(concurrent) / wall, 1),
            }
            results["agent_page"] = summary(agent_page)
            results["proxy_health"] = summary(proxy)
            results["chat_turn"] = summary(chats)
        finally:
            if ui is not None:
                ui.terminate()
                try:
                    ui.wait(15)
                except subprocess.TimeoutExpired:
                    ui.kill()
            if not args.keep:
                fleet.teardown()

    print()
    print(
        f"UI benchmark: {args.agents} agents, {args.repeat} requests per figure, "
        f"{os.cpu_count()} CPU(s)"
    )
    print(f"{'':34}{'median':>10}{'p95':>10}{'max':>10}")
    for key, label in (
        ("fleet_page", "GET / (fleet page)"),
        ("status_api", "GET /api/status"),
        ("status_api_concurrent", f"GET /api/status, {args.clients} clients"),
        ("agent_page", "GET /agents/<id>"),
        ("proxy_health", "GET /agents/<id>/api/health"),
        ("chat_turn", "POST /api/agents/<id>/chat"),
    ):
        row = results[key]
        print(f"{label:34}{row['median_ms']:>8.1f}ms{row['p95_ms']:>8.1f}ms{row['max_ms']:>8.1f}ms")
    print(
        f"{'status API throughput, concurrent':34}"
        f"{results['status_api_concurrent']['requests_per_s']:>8.1f}/s"
    )
    start_rss, run_rss = results["rss_after_start_kib"], results["rss_after_run_kib"]
    print(
        f"UI process memory: VmRSS {start_rss['VmRSS'] / 1024:.1f} MiB after start, "
        f"{run_rss['VmRSS'] / 1024:.1f} MiB after the run (peak VmHWM "
        f"{run_rss['VmHWM'] / 1024:.1f} MiB)"
    )
    out = ROOT / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / "ui.json").write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {out / 'ui.json'}")


if __name__ == "__main__":
    main()
