"""Smoke tests on real containers: the stand-in image built through Dockerfile.nanoclaw, run by
the real `smbos` CLI and Compose, checked from the outside (HTTP, `docker inspect`, `docker top`,
`docker logs`, the files on the host).

Most tests share one fleet (`fleet`, three agents, one `smbos up`); each asserts one property.
The persistence test takes the fleet down and up again and therefore runs last of them. The
failure tests (missing image, crashing runtime) each get a project of their own.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import secrets
import socket
import time
from pathlib import Path
from urllib.parse import unquote

import httpx
import pytest

from smbos import agentmd

from .dockerfleet import LiveFleet

pytestmark = pytest.mark.docker

RUNTIME_ENTRY = "/opt/nanoclaw/dist/index.js"
STORE_FILE = "/var/lib/smbos/store/messages.db"
BEGIN, END = agentmd.BEGIN, agentmd.END
RUNTIME_UID = 1000
MISSING_IMAGE = "smbos-test/does-not-exist:1"

# The pid of the runtime inside a container: the process whose argv[1] is NanoClaw's entry
# (an exact argv match, so the searching process never finds itself).
FIND_RUNTIME_PID = (
    "const fs=require('fs');"
    "for(const p of fs.readdirSync('/proc')){"
    "if(!/^[0-9]+$/.test(p))continue;"
    "let a=[];try{a=fs.readFileSync('/proc/'+p+'/cmdline','utf8').split('\\0')}catch(e){}"
    f"if(a[1]==='{RUNTIME_ENTRY}')console.log(p)}}"
)


# ------------------------------------------------------------------------------ helpers


class RecordingFleet(LiveFleet):
    """A LiveFleet that keeps every CLI output, so the secret check can read them all."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.outputs: list[str] = []

    def smbos(self, *args: str, timeout: float = 300):
        result = super().smbos(*args, timeout=timeout)
        self.outputs.append(f"$ smbos {' '.join(args)}\n{result.output}")
        return result


def open_for_runtime(fleet: LiveFleet, agent_id: str) -> None:
    """As a user other than root or uid 1000 (a CI runner), make the agent's memory folder and
    instance directory usable by the runtime's uid 1000, as `smbos up` asks an operator to."""
    if os.geteuid() in (0, RUNTIME_UID):
        return
    state = fleet.state(agent_id)
    state.mkdir(parents=True, exist_ok=True)
    for path in (state, fleet.agents / agent_id / "memory"):
        path.chmod(0o777)
    (fleet.agents / agent_id / ".env").chmod(0o644)


def agent_body(agent_md: str) -> str:
    """The body of agent.md as the entrypoint takes it (one reading: tests/test_agentmd.py)."""
    return agentmd.read(agent_md).body


def sha256(data: str | bytes) -> str:
    return hashlib.sha256(data.encode() if isinstance(data, str) else data).hexdigest()


def identity_block(claude_md: str) -> str:
    begin = claude_md.index(BEGIN) + len(BEGIN)
    return claude_md[begin : claude_md.index(END, begin)].strip()


def parse_reply(line: str) -> dict[str, str]:
    """The stand-in's reply line: space-separated key=value pairs, values percent-encoded."""
    pairs = dict(part.split("=", 1) for part in line.strip().split(" "))
    return {key: unquote(value) for key, value in pairs.items()}


def chat_http(url: str, message: str, timeout: float = 60) -> list[tuple[str, dict]]:
    """POST /api/chat and read the whole event stream: [(event, data), ...]."""
    events: list[tuple[str, dict]] = []
    with httpx.stream(
        "POST", f"{url}/api/chat", json={"message": message}, timeout=timeout
    ) as response:
        assert response.status_code == 200, response.read()
        assert response.headers["content-type"].startswith("text/event-stream")
        buffer = ""
        for chunk in response.iter_text():
            buffer += chunk
            while "\n\n" in buffer:
                frame, buffer = buffer.split("\n\n", 1)
                kind, data = "", ""
                for row in frame.splitlines():
                    if row.startswith("event:"):
                        kind = row[len("event:") :].strip()
                    elif row.startswith("data:"):
                        data = row[len("data:") :].strip()
                events.append((kind, json.loads(data) if data else {}))
    return events


def reply_of(events: list[tuple[str, dict]]) -> dict[str, str]:
    kinds = [kind for kind, _ in events]
    assert kinds[0] == "typing" and kinds[-1] == "done", events
    texts = [data["text"] for kind, data in events if kind == "message"]
    assert len(texts) == 1 and "error" not in kinds, events
    return parse_reply(texts[0])


def container_logs(container) -> str:
    return container.logs(stdout=True, stderr=True).decode("utf-8", "replace")


def runtime_pids(container) -> list[str]:
    result = container.exec_run(["node", "-e", FIND_RUNTIME_PID])
    assert result.exit_code == 0, result.output
    return result.output.decode().split()


def health(container) -> str:
    container.reload()
    return (container.attrs["State"].get("Health") or {}).get("Status", "none")


def memory_checksums(folder: Path) -> dict[str, str]:
    return {
        str(path.relative_to(folder)): sha256(path.read_bytes())
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


def store_bytes(container) -> bytes:
    result = container.exec_run(["cat", STORE_FILE])
    assert result.exit_code == 0, result.output
    return result.output


def messages(fleet: LiveFleet, agent_id: str) -> list[dict]:
    response = httpx.get(f"{fleet.url(agent_id)}/api/messages", params={"limit": 1000}, timeout=10)
    assert response.status_code == 200
    return response.json()["messages"]


def local_non_loopback_address(client) -> str | None:
    """An address of this host that is not loopback (the default bridge's gateway), if any."""
    try:
        configs = client.networks.get("bridge").attrs["IPAM"]["Config"] or []
    except Exception:  # noqa: BLE001
        return None
    for config in configs:
        gateway = config.get("Gateway")
        if not gateway or ":" in gateway:
            continue
        with socket.socket() as sock:
            try:
                sock.bind((gateway, 0))  # succeeds only for an address of this host
            except OSError:
                continue
        return gateway
    return None


def assert_no_secret_anywhere(fleet: RecordingFleet) -> None:
    compose_text = (fleet.root / "compose" / "docker-compose.yml").read_text()
    containers = fleet.containers()
    assert containers
    for agent_id, secret in fleet.secrets.items():
        assert secret not in compose_text, f"{agent_id}'s secret is in the Compose file"
        for output in fleet.outputs:
            assert secret not in output, f"{agent_id}'s secret in CLI output:\n{output}"
        for container in containers:
            container.reload()
            name = container.labels.get("io.smbos.agent")
            assert secret not in container_logs(container), (
                f"{agent_id}'s secret in the docker logs of {name}"
            )
            assert secret not in json.dumps(container.attrs), (
                f"{agent_id}'s secret in docker inspect of {name}"
            )


# ------------------------------------------------------------------------------ the fleet


FLEET = {"alpha": "none", "beta": "none", "gamma": "docker"}


@pytest.fixture(scope="module")
def fleet(tmp_path_factory, docker_client, standin_image):  # noqa: F811
    root = tmp_path_factory.mktemp("smoke")
    (root / "agents").mkdir()
    live = RecordingFleet(
        root=root, name=f"smoke{secrets.token_hex(4)}", image=standin_image, client=docker_client
    )
    try:
        for agent_id, isolation in FLEET.items():
            live.add(agent_id, isolation=isolation)
            open_for_runtime(live, agent_id)
        live.up_result = live.smbos("up", "--no-build", "--wait-timeout", "120")
        yield live
    finally:
        live.teardown()


def test_up_starts_every_agent_healthy(fleet):
    assert fleet.up_result.code == 0, fleet.up_result.output
    status = fleet.smbos("status", "--json")
    assert status.code == 0, status.output
    rows = {row["id"]: row for row in json.loads(status.stdout)}
    assert set(rows) == set(FLEET)
    for agent_id, row in rows.items():
        assert (row["state"], row["health"], row["api"]) == ("running", "healthy", "ok"), row
        assert row["published"] == f"127.0.0.1:{fleet.ports[agent_id]}"
        assert health(fleet.container(agent_id)) == "healthy"


def test_every_api_answers_on_its_loopback_port(fleet):
    for agent_id in FLEET:
        url = fleet.url(agent_id)
        with httpx.Client(base_url=url, timeout=10) as client:
            assert client.get("/api/health").json() == {"status": "ok"}
            state = client.get("/api/state")
            assert state.status_code == 200
            assert state.json()["dbExists"] is True
            assert [g["jid"] for g in state.json()["groups"]] == ["web-chat@smbos"]
            tasks = client.get("/api/tasks")
            assert tasks.status_code == 200 and set(tasks.json()) == {"tasks", "runLogs"}
            listed = client.get("/api/messages", params={"limit": 5})
            assert listed.status_code == 200 and isinstance(listed.json()["messages"], list)


def test_nothing_is_published_beyond_loopback(fleet):
    other_address = local_non_loopback_address(fleet.client)
    for agent_id in FLEET:
        container = fleet.container(agent_id)
        container.reload()
        configured = container.attrs["HostConfig"]["PortBindings"] or {}
        actual = container.attrs["NetworkSettings"]["Ports"] or {}
        for bindings in (configured, actual):
            assert set(bindings) == {"8080/tcp"}, bindings
            for binding in bindings["8080/tcp"] or []:
                assert binding.get("HostIp") == "127.0.0.1", (agent_id, bindings)
        assert [b["HostPort"] for b in actual["8080/tcp"]] == [str(fleet.ports[agent_id])]
        if other_address:
            with socket.socket() as sock:
                sock.settimeout(2)
                assert sock.connect_ex((other_address, fleet.ports[agent_id])) != 0, (
                    f"{agent_id}'s port answers on {other_address}"
                )


def test_chat_reaches_each_agent_with_its_identity_and_credential(fleet):
    for agent_id in FLEET:
        claude_md = (fleet.agents / agent_id / "memory" / "CLAUDE.md").read_text()
        body = agent_body((fleet.agents / agent_id / "agent.md").read_text())
        assert identity_block(claude_md) == body
        expected = {
            "assistant": agent_id.title(),
            "identity_sha256": sha256(body),
            "identity_title": agent_id.title(),
            "credential": "anthropic_api_key",
            "credential_sha256_12": sha256(fleet.secrets[agent_id])[:12],
        }
        said = fleet.smbos("chat", agent_id, f"hello {agent_id} from the CLI", timeout=120)
        assert said.code == 0, said.output
        cli_reply = parse_reply(said.stdout.strip().splitlines()[-1])
        http_reply = reply_of(chat_http(fleet.url(agent_id), f"hello {agent_id} over HTTP"))
        for reply, echo in (
            (cli_reply, f"hello {agent_id} from the CLI"),
            (http_reply, f"hello {agent_id} over HTTP"),
        ):
            assert {k: reply.get(k) for k in expected} == expected, reply
            assert reply["echo"] == echo


def test_docker_isolation_turn_sees_the_group_folder_through_the_shared_path(fleet):
    reply = reply_of(chat_http(fleet.url("gamma"), "which folder do you see?"))
    assert reply["isolation"] == "container", reply
    assert reply["container_saw_identity_sha256"] == reply["identity_sha256"] != "none"
    assert "CLAUDE.md" in reply["container_saw_files"].split(",")
    assert "context.md" in reply["container_saw_files"].split(",")
    for agent_id in ("alpha", "beta"):
        assert reply_of(chat_http(fleet.url(agent_id), "where?"))["isolation"] == "in-process"


def test_runtime_runs_as_non_root(fleet):
    for agent_id in FLEET:
        container = fleet.container(agent_id)
        assert container.attrs["Config"]["User"] == f"{RUNTIME_UID}:{RUNTIME_UID}"
        result = container.exec_run(["id", "-u"])
        assert result.exit_code == 0 and result.output.decode().strip() == str(RUNTIME_UID)
        top = container.top(ps_args="-eo uid,pid,args")
        columns = [title.upper() for title in top["Titles"]]
        uid_at, args_at = columns.index("UID"), columns.index("COMMAND")
        runtime = [p for p in top["Processes"] if RUNTIME_ENTRY in p[args_at]]
        assert len(runtime) == 1, top["Processes"]
        for process in top["Processes"]:
            assert process[uid_at] == str(RUNTIME_UID), (agent_id, process)
        # And from inside: the runtime's own uid.
        pid = runtime_pids(container)[0]
        status = container.exec_run(["cat", f"/proc/{pid}/status"]).output.decode()
        uids = re.search(r"^Uid:\s+(.*)$", status, re.MULTILINE).group(1).split()
        assert set(uids) == {str(RUNTIME_UID)}, status


def test_killed_runtime_is_brought_back_by_the_restart_policy(fleet):
    container = fleet.container("beta")
    container.reload()
    before = container.attrs["RestartCount"]
    started_before = container.attrs["State"]["StartedAt"]
    pids = runtime_pids(container)
    assert len(pids) == 1
    killed = container.exec_run(["node", "-e", f"process.kill({int(pids[0])}, 'SIGKILL')"])
    assert killed.exit_code == 0, killed.output

    def restarted():
        container.reload()
        return (
            container.attrs["RestartCount"] > before
            and container.attrs["State"]["StartedAt"] != started_before
        )

    fleet.wait(restarted, timeout=60, what="beta's container to be restarted")
    fleet.wait(lambda: health(container) == "healthy", timeout=90, what="beta healthy again")
    assert "NanoClaw exited (signal SIGKILL)" in container_logs(container)
    assert httpx.get(f"{fleet.url('beta')}/api/health", timeout=10).json() == {"status": "ok"}
    assert reply_of(chat_http(fleet.url("beta"), "back?"))["assistant"] == "Beta"
    # The neighbours were not touched.
    for agent_id in ("alpha", "gamma"):
        other = fleet.container(agent_id)
        assert other.attrs["RestartCount"] == 0 and health(other) == "healthy"


def test_no_secret_in_logs_cli_output_inspect_or_compose_file(fleet):
    for agent_id in FLEET:
        logs = fleet.smbos("logs", agent_id, "--tail", "all")
        assert logs.code == 0 and "[standin]" in logs.stdout, logs.output
        chat = fleet.smbos("chat", agent_id, "tell me a secret")
        assert chat.code == 0, chat.output
        # The runtime does have the secret: only as <instance>/.env, mode 600.
        env_copy = fleet.state(agent_id) / ".env"
        assert oct(env_copy.stat().st_mode & 0o777) == "0o600"
    assert_no_secret_anywhere(fleet)


def test_memory_and_store_survive_down_generate_up(fleet):
    """Runs last on the shared fleet: it recreates every container."""
    before_messages, before_store, before_memory = {}, {}, {}
    for agent_id in FLEET:
        reply_of(chat_http(fleet.url(agent_id), f"remember me, {agent_id}"))
        memory = fleet.agents / agent_id / "memory"
        assert (memory / "logs" / "web-chat.jsonl").is_file()
        before_memory[agent_id] = memory_checksums(memory)
        before_messages[agent_id] = messages(fleet, agent_id)
        assert f"remember me, {agent_id}" in [m["content"] for m in before_messages[agent_id]]
        before_store[agent_id] = sha256(store_bytes(fleet.container(agent_id)))
    old_ids = {c.id for c in fleet.containers()}

    down = fleet.smbos("down")
    assert down.code == 0, down.output
    assert fleet.containers() == []
    volumes = {
        v.name
        for v in fleet.client.volumes.list(
            filters={"label": f"com.docker.compose.project={fleet.name}"}
        )
    }
    assert volumes == {f"{fleet.name}_{agent_id}-store" for agent_id in FLEET}
    generate = fleet.smbos("generate")
    assert generate.code == 0, generate.output
    up = fleet.smbos("up", "--no-build", "--wait-timeout", "120")
    assert up.code == 0, up.output
    assert not old_ids & {c.id for c in fleet.containers()}, "containers were not recreated"

    for agent_id in FLEET:
        memory = fleet.agents / agent_id / "memory"
        assert memory_checksums(memory) == before_memory[agent_id], agent_id
        assert messages(fleet, agent_id) == before_messages[agent_id], agent_id
        assert sha256(store_bytes(fleet.container(agent_id))) == before_store[agent_id], agent_id
        # The runtime goes on from there.
        reply_of(chat_http(fleet.url(agent_id), "still there?"))
        assert len(messages(fleet, agent_id)) == len(before_messages[agent_id]) + 2
    assert_no_secret_anywhere(fleet)


# --------------------------------------------------------------------------- failing ups


def test_up_fails_clearly_when_an_agent_image_is_missing(test_fleet):  # noqa: F811
    test_fleet.add("steady")
    test_fleet.add(
        "imageless", config={"runtime": {"container_isolation": "none", "image": MISSING_IMAGE}}
    )
    for agent_id in ("steady", "imageless"):
        open_for_runtime(test_fleet, agent_id)
    started = time.monotonic()
    up = test_fleet.smbos("up", "--no-build", "--wait-timeout", "60", timeout=240)
    assert up.code != 0, up.output
    assert time.monotonic() - started < 200
    lines = up.stderr.splitlines()
    assert any("imageless" in line and MISSING_IMAGE in line for line in lines), up.output
    assert "Traceback" not in up.output


def test_up_fails_clearly_when_a_runtime_crashes_at_start(test_fleet):  # noqa: F811
    test_fleet.add("steady")
    test_fleet.add("crashy")
    for agent_id in ("steady", "crashy"):
        open_for_runtime(test_fleet, agent_id)
    # The runtime exits 3 on its first request (the first health check), on every start.
    test_fleet.state("crashy").mkdir(parents=True, exist_ok=True)
    test_fleet.set_fault("crashy", "exit 3\n")
    up = test_fleet.smbos("up", "--no-build", "--wait-timeout", "45", timeout=240)
    assert up.code == 1, up.output
    assert "Traceback" not in up.output
    lines = up.stderr.splitlines()
    headline = [line for line in lines if line.startswith("agent crashy:")]
    assert headline, up.output
    assert not [line for line in lines if line.startswith("agent steady:")], up.output
    crash_lines = [line for line in lines if line.startswith("  crashy | ")]
    assert any("fault: exit 3" in line or "code 3" in line for line in crash_lines), up.output
    # The fault file is the runtime's own: the entrypoint leaves it in place.
    assert (test_fleet.state("crashy") / ".standin-fault").read_text() == "exit 3\n"
    steady = httpx.get(f"{test_fleet.url('steady')}/api/health", timeout=10)
    assert steady.json() == {"status": "ok"}
    assert_secret_free(test_fleet, up.output)


def assert_secret_free(fleet: LiveFleet, output: str) -> None:
    for agent_id, secret in fleet.secrets.items():
        assert secret not in output, agent_id
        for container in fleet.containers():
            assert secret not in container_logs(container), agent_id
