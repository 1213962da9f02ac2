"""The parts `smbos status` is made of, which each command's start-up cost keeps apart from the
rest: the folder cache (smbos.fleetindex), the engine reader on the local socket (smbos.engine)
and the health probe on the standard library (smbos.nanoclaw.contract). Each must give the answer the full
machinery gives; the cache must never give a stale one.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import yaml

from smbos import engine, fleetindex
from smbos.nanoclaw import probe
from smbos.project import Project
from smbos.nanoclaw.runtime import ApiStatus, ProblemKind, RuntimeClient, Timeouts

from .conftest import write_agent
from .test_runtime_client import RawServer, closed_port, fault, standin  # noqa: F401 - fixtures

FAST = Timeouts(connect=1.0, read=0.5, total=2.0)


# =========================================================================== the folder cache


@pytest.fixture
def cache(tmp_path, monkeypatch) -> Path:
    folder = tmp_path / "cache"
    monkeypatch.setenv("SMBOS_CACHE_DIR", str(folder))
    monkeypatch.setattr(fleetindex, "RACY_SECONDS", 0.0)  # files written a moment ago count
    return folder


def entries(project: Project) -> list[tuple]:
    """What the full load says status needs."""
    return [(a.id, a.name, a.enabled, a.port, a.config_hash()) for a in project.load().agents]


def index_entries(index) -> list[tuple]:
    return [(a.id, a.name, a.enabled, a.port, a.config_hash()) for a in index.agents]


def test_the_cache_answers_as_the_full_load_and_is_used(project, cache):
    write_agent(project / "agents", "alpha", {"name": "Alpha", "port": 3301})
    write_agent(project / "agents", "beta", {"name": "Beta", "port": 3302, "enabled": False})
    proj = Project.from_options(agents=project / "agents")
    first = fleetindex.load(proj)
    assert not first.cached and index_entries(first) == entries(proj)
    second = fleetindex.load(proj)
    assert second.cached and index_entries(second) == entries(proj)
    assert [a.id for a in second.agents] == ["alpha", "beta"]


@pytest.mark.parametrize(
    "edit",
    [
        "name",
        "port",
        "enabled",
        "agent_md",
        "new_folder",
        "removed_folder",
        "ports_record",
        "env_example",
    ],
)
def test_every_change_the_load_sees_reaches_status(project, cache, edit):
    agents = project / "agents"
    alpha = write_agent(agents, "alpha", {"name": "Alpha", "port": 3301})
    write_agent(agents, "beta", {"name": "Beta"})
    proj = Project.from_options(agents=agents)
    fleetindex.load(proj)
    assert fleetindex.load(proj).cached
    config = yaml.safe_load((alpha / "config.yaml").read_text())
    if edit == "name":
        config["name"] = "Alpha Two"
    elif edit == "port":
        config["port"] = 3399
    elif edit == "enabled":
        config["enabled"] = False
    if edit in ("name", "port", "enabled"):
        (alpha / "config.yaml").write_text(yaml.safe_dump(config))
    elif edit == "agent_md":
        (alpha / "agent.md").write_text((alpha / "agent.md").read_text() + "\nMore.\n")
    elif edit == "new_folder":
        write_agent(agents, "gamma", {"name": "Gamma"})
    elif edit == "removed_folder":
        import shutil

        shutil.rmtree(agents / "beta")
    elif edit == "ports_record":
        (agents / ".ports.json").write_text(json.dumps({"beta": 3377}))
    elif edit == "env_example":
        (alpha / ".env.example").write_text("ANTHROPIC_API_KEY=\nEXTRA_REQUIRED_KEY=\n")
    after = fleetindex.load(proj)
    assert not after.cached, f"a stale answer after changing {edit}"
    assert index_entries(after) == entries(proj)


def test_a_change_in_the_same_moment_is_not_cached(project, tmp_path, monkeypatch):
    monkeypatch.setenv("SMBOS_CACHE_DIR", str(tmp_path / "cache"))
    write_agent(project / "agents", "alpha", {"name": "Alpha"})
    proj = Project.from_options(agents=project / "agents")
    fleetindex.load(proj)  # the files are younger than RACY_SECONDS: answered, not cached
    assert not fleetindex.load(proj).cached
    assert not list((tmp_path / "cache").glob("fleet-*.json"))


def test_a_broken_cache_costs_a_load_not_a_wrong_answer(project, cache):
    write_agent(project / "agents", "alpha", {"name": "Alpha", "port": 3301})
    proj = Project.from_options(agents=project / "agents")
    fleetindex.load(proj)
    [file] = cache.glob("fleet-*.json")
    for garbage in (
        "{not json",
        json.dumps({"signature": json.loads(file.read_text())["signature"], "agents": [{"id": 1}]}),
    ):
        file.write_text(garbage)
        index = fleetindex.load(proj)
        assert index_entries(index) == entries(proj)


def test_the_cache_holds_no_env_value(project, cache):
    secret = "sk-ant-canary-" + "7" * 24
    write_agent(project / "agents", "alpha", {"name": "Alpha"}, env=f"ANTHROPIC_API_KEY={secret}\n")
    fleetindex.load(Project.from_options(agents=project / "agents"))
    [file] = cache.glob("fleet-*.json")
    assert secret not in file.read_text() and "alpha" in file.read_text()


def test_an_unknown_id_gets_the_full_loads_reason(project, cache):
    write_agent(project / "agents", "alpha", {"name": "Alpha"})
    proj = Project.from_options(agents=project / "agents")
    fleetindex.load(proj)
    index = fleetindex.load(proj)
    assert index.get("alpha") is not None and index.get("alhpa") is None
    assert index.why_missing("alhpa") == proj.load().why_missing("alhpa")


# =========================================================================== the engine reader


class FakeEngine:
    """An HTTP server on a Unix socket answering the two routes the reader uses."""

    def __init__(
        self, path: Path, containers: list[dict], inspected: dict[str, dict], status: int = 200
    ):
        self.requests: list[str] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 - http.server's name
                outer.requests.append(self.path)
                if status != 200:
                    self._send(status, {"message": "engine trouble\nsecond line"})
                elif self.path.startswith("/containers/json?"):
                    self._send(200, containers)
                else:
                    cid = self.path.split("/")[2]
                    if cid in inspected:
                        self._send(200, inspected[cid])
                    else:
                        self._send(404, {"message": f"No such container: {cid}"})

            def _send(self, code, data):
                body = json.dumps(data).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        class UnixServer(ThreadingHTTPServer):
            address_family = socket.AF_UNIX

            def server_bind(self):
                self.socket.bind(str(path))

            def get_request(self):
                conn, _ = self.socket.accept()
                return conn, ("local", 0)

        self.server = UnixServer(str(path), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def test_the_socket_reader_reads_the_engine_api(tmp_path):
    summary = {"Id": "abc123", "Labels": {"io.smbos.agent": "alpha"}, "State": "running"}
    inspected = {"abc123": {"Id": "abc123", "State": {"Status": "running"}}}
    fake = FakeEngine(tmp_path / "docker.sock", [summary], inspected)
    try:
        reader = engine.SocketReader(str(tmp_path / "docker.sock"))
        labels = ["io.smbos.project=demo", "io.smbos.agent"]
        assert reader.containers(labels) == [summary]
        assert reader.inspect("abc123") == inspected["abc123"]
        assert reader.inspect("gone") is None
        query = fake.requests[0].split("?", 1)[1]
        from urllib.parse import parse_qs

        params = parse_qs(query)
        assert params["all"] == ["1"]
        assert json.loads(params["filters"][0]) == {"label": labels}
    finally:
        fake.close()


def test_an_engine_error_is_one_line_naming_the_engine(tmp_path, monkeypatch):
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path / 'docker.sock'}")
    fake = FakeEngine(tmp_path / "docker.sock", [], {}, status=500)
    try:
        with pytest.raises(engine.SmbosError) as info:
            engine.reader().containers(["x"])
        message = str(info.value)
        assert "\n" not in message and "500" in message and "engine trouble" in message
        assert str(tmp_path / "docker.sock") in message
    finally:
        fake.close()


@pytest.mark.parametrize(
    "make, reason",
    [
        ("missing", "no such socket"),
        ("refusing", "connection refused"),
    ],
)
def test_an_unreachable_socket_says_why(tmp_path, monkeypatch, make, reason):
    path = tmp_path / "docker.sock"
    if make == "refusing":  # a socket file nobody listens on
        sock = socket.socket(socket.AF_UNIX)
        sock.bind(str(path))
        sock.close()
    monkeypatch.setenv("DOCKER_HOST", f"unix://{path}")
    with pytest.raises(engine.EngineUnreachable) as info:
        engine.reader().containers(["x"])
    assert info.value.exit_code == 3
    assert str(info.value).startswith(f"Docker engine unreachable at unix://{path} ({reason})")


def test_a_remote_engine_is_read_through_the_sdk(monkeypatch):
    monkeypatch.setenv("DOCKER_HOST", "tcp://127.0.0.1:1")  # nothing listens: the SDK says so
    with pytest.raises(engine.EngineUnreachable) as info:
        engine.reader()
    assert "tcp://127.0.0.1:1" in str(info.value)


# =========================================================================== the health probe


def both(url_port: int, budget: Timeouts = FAST):
    """The status probe and the runtime client's probe of the same address."""
    mine = probe.probe_one("127.0.0.1", url_port, budget)
    with RuntimeClient(f"http://127.0.0.1:{url_port}", probe_timeout=budget) as client:
        theirs = client.probe()
    return mine, theirs


def same(mine, theirs) -> None:
    assert (mine.api, mine.kind, mine.detail) == (theirs.api, theirs.kind, theirs.detail)
    assert (mine.latency_ms is None) == (theirs.latency_ms is None)


@pytest.mark.parametrize("fault_text", [None, "500", "malformed", "unhealthy", "slow 300"])
def test_the_status_probe_agrees_with_the_runtime_client(standin, fault, fault_text):  # noqa: F811
    if fault_text:
        fault(fault_text)
    mine, theirs = both(standin.port)
    same(mine, theirs)
    if fault_text is None:
        assert mine.api is ApiStatus.OK and mine.latency_ms is not None


@pytest.mark.parametrize(
    "answer, kind",
    [
        (b'{"ok": true}', ProblemKind.BAD_SHAPE),
        (b'{"status": 7}', ProblemKind.BAD_SHAPE),
        (b"[]", ProblemKind.BAD_SHAPE),
        (b'{"status": "starting"}', ProblemKind.BAD_SHAPE),
        (b"", ProblemKind.NOT_JSON),
    ],
)
def test_odd_health_answers_are_named_as_the_runtime_client_names_them(answer, kind):
    def reply(server, conn, head):
        conn.sendall(
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
            b"Content-Length: %d\r\nConnection: close\r\n\r\n%s" % (len(answer), answer)
        )
        conn.close()

    with RawServer(reply) as server:
        mine, theirs = both(server.port)
    same(mine, theirs)
    assert mine.api is ApiStatus.ERROR and mine.kind is kind


def test_refused_and_silent_peers(standin, fault):  # noqa: F811
    mine, theirs = both(closed_port())
    same(mine, theirs)
    assert mine.api is ApiStatus.DOWN
    fault("hang")
    started = time.monotonic()
    assert probe.probe_one("127.0.0.1", standin.port, FAST).api is ApiStatus.UNRESPONSIVE
    assert time.monotonic() - started < FAST.read + 1.0


def test_probes_run_concurrently(standin, fault):  # noqa: F811
    fault("hang")
    started = time.monotonic()
    addresses = [("127.0.0.1", standin.port)] + [
        ("127.0.0.1", p) for p in (closed_port(), closed_port())
    ]
    probes = probe.Probes(addresses, FAST)
    results = [probes.result(address) for address in addresses]
    elapsed = time.monotonic() - started
    assert [r.api for r in results] == [ApiStatus.UNRESPONSIVE, ApiStatus.DOWN, ApiStatus.DOWN]
    assert elapsed < FAST.read + 1.0, elapsed


# =========================================================================== in a process


def test_a_cached_status_loads_no_model_sdk_or_http_library(project, tmp_path):
    """The second `status --json` of an unchanged fleet imports neither the agent models
    (pydantic, YAML) nor the Docker SDK nor httpx: the start-up cost the cache and the readers
    exist for. The engine here is unreachable, so the run ends with exit 3 after the reads."""
    write_agent(project / "agents", "alpha", {"name": "Alpha", "port": closed_port()})
    old = time.time() - 60
    for path in (project / "agents").rglob("*"):
        os.utime(path, (old, old))
    env = {
        **os.environ,
        "SMBOS_CACHE_DIR": str(tmp_path / "cache"),
        "DOCKER_HOST": f"unix://{tmp_path / 'none.sock'}",
    }
    code = (
        "import sys\nfrom smbos.cli import cli\n"
        "try:\n    cli(['status', '--json'], prog_name='smbos')\n"
        "except SystemExit as exc:\n    print('exit', exc.code)\n"
        "print(' '.join(sorted(sys.modules)))"
    )
    runs = [
        subprocess.run(
            [sys.executable, "-c", code],
            cwd=project,
            env=env,
            text=True,
            capture_output=True,
            timeout=60,
        )
        for _ in range(2)
    ]
    for run in runs:
        assert "exit 3" in run.stdout, run.stdout[-500:] + run.stderr
    first, second = (set(run.stdout.splitlines()[-1].split()) for run in runs)
    assert "smbos.agent" in first  # the first status loads the folders fully
    heavy = sorted(
        m
        for m in second
        if m.split(".")[0] in ("pydantic", "yaml", "docker", "httpx", "jinja2", "croniter")
        or m == "smbos.agent"
    )
    assert not heavy, heavy
