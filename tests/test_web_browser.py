"""The operator UI in headless Chromium against real stand-in containers.

An operator opens the fleet page from the link `smbos ui` prints, restarts an agent and watches it
come back healthy, chats with it and sees the reply stream in, changes a setting (the secret in
`.env` stays intact), and runs a skill. Screenshots go to test-artifacts/web/ (git-ignored).

Never skipped in CI; outside CI it is skipped, saying why, only when Chromium is missing.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
from pathlib import Path

import pytest

from smbos import envfile
from smbos.project import Project
from smbos.web.app import create_app

from .conftest import IN_CI, ROOT

from .test_web_api import SKILLS, TOKEN, UIServer, reply_fields

pytestmark = [pytest.mark.browser, pytest.mark.docker]

CHROMIUM = os.environ.get("SMBOS_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = ROOT / "test-artifacts" / "web"


def chromium() -> str:
    if Path(CHROMIUM).exists():
        return CHROMIUM
    reason = f"headless Chromium not found at {CHROMIUM}: apt-get install -y chromium"
    if IN_CI:
        pytest.fail(f"browser tests never skip in CI: {reason}")
    pytest.skip(reason)


def shot(page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def test_operator_flow_in_chromium(test_fleet):  # noqa: F811
    executable = chromium()
    from playwright.sync_api import expect, sync_playwright

    test_fleet.add("alpha", config={"skills": SKILLS})
    test_fleet.add("beta")
    up = test_fleet.smbos("up", "--no-build", "--wait-timeout", "150")
    assert up.code == 0, up.output
    secret = test_fleet.secrets["alpha"]
    project = Project.from_options(test_fleet.agents, None, test_fleet.name, test_fleet.image)
    app = create_app(project, TOKEN)
    problems: list[str] = []
    with UIServer(app) as server, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(viewport={"width": 1360, "height": 900})
            page = context.new_page()
            page.on("pageerror", lambda exc: problems.append(f"page error: {exc}"))
            page.on(
                "console",
                lambda msg: (
                    problems.append(f"console {msg.type}: {msg.text}")
                    if msg.type == "error"
                    else None
                ),
            )
            page.on(
                "request",
                lambda req: (
                    problems.append(f"request elsewhere: {req.url}")
                    if not req.url.startswith(server.url)
                    else None
                ),
            )
            page.set_default_timeout(30_000)

            # -- the fleet page, opened from the printed link: the token moves to localStorage
            page.goto(f"{server.url}/#token={TOKEN}")
            assert "#token" not in page.url and TOKEN not in page.url
            expect(page.locator("#token-ok")).to_be_visible()  # kept once the server agreed
            assert page.evaluate("localStorage.getItem('smbos-ui-token')") == TOKEN
            alpha = page.locator('#fleet tr[data-agent="alpha"]')
            beta = page.locator('#fleet tr[data-agent="beta"]')
            expect(alpha.locator(".c-health")).to_have_text("healthy", timeout=60_000)
            expect(beta.locator(".c-health")).to_have_text("healthy", timeout=60_000)
            expect(alpha.locator(".c-state")).to_have_text("running")
            expect(alpha.locator(".c-api")).to_have_text(re.compile(r"^ok \d+ms$"))
            expect(alpha.locator('button[data-verb="restart"]')).to_be_enabled()
            expect(alpha.locator('button[data-verb="start"]')).to_be_disabled()
            shot(page, "01-fleet")

            # -- restart alpha by clicking; watch the feedback, then healthy again
            before = test_fleet.container("alpha").attrs["State"]["StartedAt"]
            page.evaluate("""() => {
                const row = document.querySelector('#fleet tr[data-agent="alpha"]');
                window.__seen = [];
                const note = () => window.__seen.push([row.querySelector('.busy').textContent,
                    row.querySelector('button[data-verb="restart"]').disabled]);
                new MutationObserver(note).observe(row, {subtree: true, childList: true,
                    characterData: true, attributes: true});
            }""")
            alpha.locator('button[data-verb="restart"]').click()
            expect(alpha.locator(".busy")).to_have_text(
                re.compile("restarting…|waiting for health…"), timeout=5_000
            )
            shot(page, "02-restarting")
            expect(alpha.locator(".busy")).to_have_text("", timeout=120_000)
            expect(alpha.locator(".c-health")).to_have_text("healthy")
            expect(alpha.locator('button[data-verb="restart"]')).to_be_enabled()
            seen = page.evaluate("window.__seen")
            assert ["restarting…", True] in seen, seen
            container = test_fleet.container("alpha")
            assert container.attrs["State"]["StartedAt"] != before, "the container restarted"
            uptime = alpha.locator(".c-uptime").inner_text()
            assert re.fullmatch(r"\d+s|1m\d+s", uptime), uptime
            shot(page, "03-back-healthy")

            # -- chat: the reply streams into the panel
            page.locator('#fleet tr[data-agent="alpha"] a').click()
            page.wait_for_url(f"{server.url}/agents/alpha")
            expect(page.locator("#a-health")).to_have_text("health healthy")
            expect(page.locator(".identity h1")).to_contain_text("Alpha")
            expect(page.locator("#logs")).to_contain_text("[standin]")
            expect(page.locator("#tasks")).to_contain_text("no scheduled tasks")
            page.evaluate("""() => {
                window.__chat = [];
                const log = document.getElementById('chat-log');
                new MutationObserver(() => {
                    for (const li of log.querySelectorAll('li.typing')) window.__chat.push(li.textContent);
                }).observe(log, {subtree: true, childList: true, characterData: true, attributes: true});
            }""")
            page.locator("#chat-input").fill("hello from the browser")
            page.locator("#chat-send").click()
            reply = page.locator("#chat-log li.bot", has_text="echo=hello%20from%20the%20browser")
            expect(reply).to_be_visible(timeout=30_000)
            assert "typing…" in page.evaluate("window.__chat"), "no typing state before the reply"
            fields = reply_fields(reply.inner_text().strip().splitlines()[-1])
            assert fields["assistant"] == "Alpha" and fields["echo"] == "hello from the browser"
            assert (
                fields["credential_sha256_12"] == hashlib.sha256(secret.encode()).hexdigest()[:12]
            )
            expect(page.locator("#chat-send")).to_have_text("Send")
            page.locator("#history-refresh").click()
            expect(
                page.locator("#chat-log li.me", has_text="hello from the browser")
            ).to_be_visible()
            page.locator("#memory-files button", has_text="context.md").click()
            expect(page.locator("#memory-text")).to_contain_text("Context of alpha")
            shot(page, "04-agent-chat")

            # -- settings: change one, keep the secret
            page.goto(f"{server.url}/agents/alpha/settings")
            secret_input = page.locator('input[name="ANTHROPIC_API_KEY"]')
            expect(secret_input).to_have_value(envfile.mask(secret))
            assert secret not in page.content()
            page.locator('input[name="TELEGRAM_ONLY"]').fill("false")
            page.locator('input[name="ASSISTANT_HAS_OWN_NUMBER"]').fill("true")
            page.locator("#env-save").click()
            expect(page.locator("#env-result")).to_contain_text("set ASSISTANT_HAS_OWN_NUMBER")
            expect(page.locator("#env-result")).to_contain_text(".env.bak")
            expect(page.locator("#restart-banner")).to_be_visible()
            values = envfile.read_env(test_fleet.agents / "alpha" / ".env")
            assert values["ANTHROPIC_API_KEY"] == secret, "the secret is intact"
            assert (
                values["TELEGRAM_ONLY"] == "false" and values["ASSISTANT_HAS_OWN_NUMBER"] == "true"
            )
            assert secret not in page.content()
            shot(page, "05-settings-saved")
            page.locator("#restart-now").click()
            expect(page.locator("#restart-banner")).to_be_hidden(timeout=120_000)
            shot(page, "06-settings-restarted")

            # -- a skill dashboard: form, run, result as a list (once the restarted runtime
            # answers: the banner hides when the container is new, before its API is up)
            page.goto(f"{server.url}/agents/alpha")
            expect(page.locator("#a-health")).to_have_text("health healthy", timeout=120_000)
            page.goto(f"{server.url}/agents/alpha/skills/brief")
            page.locator("#in-topic").fill("tea")
            page.locator("#in-day").fill("2026-03-01")
            page.locator("#skill-run").click()
            expect(page.locator("#skill-result ul li")).to_have_count(1, timeout=30_000)
            expect(page.locator("#skill-result ul li")).to_contain_text("echo=List%203%20points")
            expect(page.locator("#skill-prompt")).to_have_text(
                "List 3 points about tea (short) for 2026-03-01. "
            )
            shot(page, "07-skill")

            # -- the secret reached no page, and nothing was fetched from elsewhere
            for path in ("/", "/agents/alpha", "/agents/alpha/settings"):
                page.goto(server.url + path)
                page.wait_for_load_state("load")
                assert secret not in page.content()
        finally:
            browser.close()
    assert not problems, problems
