"""The real-runtime tier: SMBOS against real NanoClaw (the SMBOS fork), end to end.

SMBOS -> real NanoClaw -> a per-turn container from NanoClaw's own agent image -> Claude Code
(the Agent SDK) -> a fake Anthropic Messages API (tests/fakes/anthropic.mjs, in a container on
the agents' networks) -> the reply. Both images are built by `smbos build` from the fork with its
runtime patches; `tests/realruntime.py` says what the harness leaves out to build offline.

Marker `real` (and `docker`): never skipped in CI. The images are built once per session and
kept by the engine's layer cache between runs.
"""

from __future__ import annotations

import json
import os
import signal
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from smbos.nanoclaw.runtime import RuntimeClient

from .conftest import ROOT, run_smbos_process
from .realruntime import REAL_IMAGE

pytestmark = [pytest.mark.real, pytest.mark.docker]


def test_build_records_patches_and_the_agent_image(real_build, docker_client):
    assert real_build["agent_image"].startswith("smbos/nanoclaw-agent:")
    assert docker_client.images.get(real_build["agent_image"])
    env = docker_client.images.get(REAL_IMAGE).attrs["Config"]["Env"]
    assert f"CONTAINER_IMAGE={real_build['agent_image']}" in env
    applied = real_build["patches"].split(",")
    assert {
        "web-chat-row",
        "scheduler-loop",
        "chat-done",
        "turn-settings",
        "schedule-task-id",
        "task-done",
    } <= set(applied)
    assert "skipped ipc-watcher: already fixed" in real_build["output"]


def test_two_real_agents_chat_and_keep_history(real_fleet):
    real_fleet.add_real("alpha")
    real_fleet.add_real("beta")
    up = real_fleet.up()
    assert up.code == 0, up.output
    status = json.loads(real_fleet.smbos("status", "--json").stdout)
    assert {row["id"]: row["health"] for row in status} == {"alpha": "healthy", "beta": "healthy"}

    started = time.monotonic()
    chat = real_fleet.smbos("chat", "alpha", "hello real runtime", "--timeout", "240", timeout=300)
    elapsed = time.monotonic() - started
    assert chat.code == 0, chat.output
    assert "FAKE-REPLY: hello real runtime" in chat.stdout
    assert elapsed < 120, f"the chat took {elapsed:.0f} s: `done` must follow the reply"
    secret = real_fleet.secrets["alpha"]
    assert secret not in chat.output

    # The turn went through the fake API with the agent's own key, from a per-turn container.
    seen = real_fleet.fake.requests()
    assert any(r["path"] == "/v1/messages" for r in seen)

    # The turn's container is gone once `done` came (NanoClaw's close sentinel), or soon after.
    real_fleet.wait(
        lambda: (
            not real_fleet.client.containers.list(
                filters={"label": ["io.smbos.turn=true", f"io.smbos.project={real_fleet.name}"]}
            )
        ),
        timeout=60,
        what="the per-turn container to exit",
    )

    # History survives down and up.
    with RuntimeClient(real_fleet.url("alpha")) as client:
        before = [m.content for m in client.messages()]
    assert "hello real runtime" in before
    assert any("FAKE-REPLY: hello real runtime" in text for text in before)
    assert real_fleet.smbos("down").code == 0
    up = real_fleet.up()
    assert up.code == 0, up.output
    with RuntimeClient(real_fleet.url("alpha")) as client:
        after = [m.content for m in client.messages()]
    assert after == before


def test_kill_9_brings_the_runtime_back_healthy(real_fleet):
    real_fleet.add_real("gamma")
    assert real_fleet.up().code == 0
    container = real_fleet.container("gamma")
    restarts = container.attrs["RestartCount"]
    # kill -9 of NanoClaw's own process (not of the container, which would count as a stop).
    top = container.top(ps_args="-eo pid,args")
    pids = [int(row[0]) for row in top["Processes"] if "/opt/nanoclaw/dist/index.js" in row[-1]]
    assert len(pids) == 1, top
    os.kill(pids[0], signal.SIGKILL)

    def healthy_again():
        c = real_fleet.container("gamma")
        c.reload()
        return (
            c.attrs["RestartCount"] > restarts
            and c.attrs["State"].get("Health", {}).get("Status") == "healthy"
        )

    real_fleet.wait(healthy_again, timeout=180, interval=2, what="gamma healthy after kill -9")


def test_doctor_lists_routes_patches_and_a_missing_agent_image(real_fleet):
    real_fleet.add_real("delta")
    real_fleet.add_real(
        "epsilon",
        config={
            "runtime": {
                "container_isolation": "docker",
                "agent_image": "smbos-test/no-such-agent:never",
            }
        },
    )
    real_fleet.smbos("generate")
    doctor = real_fleet.smbos("doctor")
    assert doctor.code == 1
    assert (
        "FAIL per-turn agent images missing: smbos-test/no-such-agent:never (agents epsilon)"
        in doctor.stdout
    ), doctor.stdout
    assert "runtime patches: " in doctor.stdout and "chat-done" in doctor.stdout
    # `up` refuses before starting anything, naming the agent and the fix.
    up = real_fleet.up()
    assert up.code == 1
    assert "agents/epsilon: per-turn agent image smbos-test/no-such-agent:never" in up.stderr
    assert real_fleet.container("delta") is None

    (real_fleet.agents / "epsilon" / "config.yaml").unlink()
    import shutil

    shutil.rmtree(real_fleet.agents / "epsilon")
    real_fleet.ports.pop("epsilon")
    assert real_fleet.up().code == 0
    doctor = real_fleet.smbos("doctor")
    assert (
        "ok   delta: API routes health, state, tasks, messages, chat (full contract)"
        in doctor.stdout
    ), doctor.stdout
    assert "ok   per-turn agent images present" in doctor.stdout


def test_a_source_smbos_cannot_serve_is_refused_in_one_line(tmp_path, docker_client):
    pnpm_only = tmp_path / "v2"
    (pnpm_only / "src").mkdir(parents=True)
    (pnpm_only / "package.json").write_text('{"name": "nanoclaw"}\n')
    (pnpm_only / "pnpm-lock.yaml").write_text("lockfileVersion: '9.0'\n")
    result = run_smbos_process(
        "build",
        "--agents",
        str(ROOT / "agents"),
        "--source",
        str(pnpm_only),
        "--tag",
        "smbos-test/never-built:x",
        cwd=ROOT,
    )
    assert result.code == 1
    lines = result.stderr.strip().splitlines()
    assert lines[-1].startswith("error: ") and "no package-lock.json" in lines[-1]
    assert "pnpm-only" in lines[-1] and "SMBOS fork" in lines[-1]
    with pytest.raises(Exception):
        docker_client.images.get("smbos-test/never-built:x")

    v1 = tmp_path / "v1"
    (v1 / "src").mkdir(parents=True)
    (v1 / "package.json").write_text('{"name": "nanoclaw"}\n')
    (v1 / "package-lock.json").write_text("{}\n")
    result = run_smbos_process(
        "build",
        "--agents",
        str(ROOT / "agents"),
        "--source",
        str(v1),
        "--tag",
        "smbos-test/never-built:x",
        cwd=ROOT,
    )
    assert result.code == 1
    assert "no web API" in result.stderr.strip().splitlines()[-1]


def test_turns_run_with_the_agents_settings_limits_labels_and_network(real_fleet, docker_client):
    """ANTHROPIC_BASE_URL reached the turn (the fake API answered it); the per-turn container
    ran with the agent's turn limits, labels, network and no-new-privileges; telemetry is off."""
    real_fleet.add_real(
        "zeta",
        config={
            "runtime": {
                "container_isolation": "docker",
                "turn_resources": {"cpus": 0.5, "memory": "1g", "pids": 256},
            }
        },
    )
    assert real_fleet.up().code == 0
    status = json.loads(real_fleet.smbos("status", "--json", "zeta").stdout)
    assert "chat-done" in status[0]["patches"].split(",")
    copied_env = (real_fleet.state("zeta") / ".env").read_text()
    assert "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1" in copied_env
    assert "DISABLE_TELEMETRY=1" in copied_env

    seen_before = len(real_fleet.fake.requests())
    with ThreadPoolExecutor(1) as pool:
        pending = pool.submit(
            real_fleet.smbos,
            "chat",
            "zeta",
            "fake:slow limits please",
            "--timeout",
            "240",
            timeout=300,
        )
        turn = real_fleet.wait(
            lambda: docker_client.containers.list(
                filters={"label": ["io.smbos.turn=true", "io.smbos.agent=zeta"]}
            ),
            timeout=120,
            what="zeta's per-turn container",
        )[0]
        chat = pending.result()
    assert chat.code == 0, chat.output
    assert "FAKE-REPLY: fake:slow limits please" in chat.stdout
    assert len(real_fleet.fake.requests()) > seen_before
    host = turn.attrs["HostConfig"]
    assert turn.labels["io.smbos.project"] == real_fleet.name
    assert host["NanoCpus"] == 500_000_000
    assert host["Memory"] == 1024**3
    assert host["PidsLimit"] == 256
    assert "no-new-privileges" in host["SecurityOpt"]
    assert host["NetworkMode"] == f"{real_fleet.name}_zeta"


@pytest.mark.browser
def test_the_ui_chat_shows_the_real_reply_and_ends(real_fleet):
    """The operator's chat panel, on real NanoClaw: the reply streams in and the panel is ready
    for the next message (the stream ended with `done`)."""
    from playwright.sync_api import expect, sync_playwright

    from smbos.project import Project
    from smbos.web.app import create_app

    from .test_web_browser import CHROMIUM_ARGS, chromium, shot
    from .test_web_api import TOKEN, UIServer

    executable = chromium()
    real_fleet.add_real("eta")
    assert real_fleet.up().code == 0
    project = Project.from_options(real_fleet.agents, None, real_fleet.name, real_fleet.image)
    with UIServer(create_app(project, TOKEN)) as server, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            page = browser.new_context(viewport={"width": 1360, "height": 900}).new_page()
            page.set_default_timeout(30_000)
            page.goto(f"{server.url}/#token={TOKEN}")
            # The link's token is kept only once the server accepts it.
            expect(page.locator("#token-ok")).to_be_visible()
            page.goto(f"{server.url}/agents/eta")
            expect(page.locator("#a-health")).to_have_text("health healthy", timeout=60_000)
            page.locator("#chat-input").fill("hello from the real browser")
            page.locator("#chat-send").click()
            reply = page.locator(
                "#chat-log li.bot", has_text="FAKE-REPLY: hello from the real browser"
            )
            expect(reply).to_be_visible(timeout=120_000)
            # The stream ended: the button is back to "Send" without waiting for an idle timeout.
            expect(page.locator("#chat-send")).to_have_text("Send", timeout=30_000)
            shot(page, "real-01-chat")
            assert real_fleet.secrets["eta"] not in page.content()
        finally:
            browser.close()
