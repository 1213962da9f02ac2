"""Headless Chromium against the UI and stub runtimes on 127.0.0.1 (no Docker engine needed).

An agent that serves a page on its API cannot have it run in the UI's origin: the proxy refuses
it, proxied data is sandboxed, and another agent's `.env` stays as it was. A link with a wrong
token does not replace the token the browser keeps. The settings page loads its values with the
token; a UI bound beyond loopback, or reached under an `--allow-host` name (a tunnel), opens its
pages once the browser has shown the token. The proxy answers only with the token.
"""

from __future__ import annotations

import pytest

from smbos import envfile
from smbos.web.app import create_app

from .stubruntime import Answer, StubRuntime
from .test_web_api import TOKEN, UIServer
from .test_web_browser import CHROMIUM_ARGS, chromium, shot
from .test_web_security import _project

pytestmark = [pytest.mark.browser]

TOKEN_KEY = "smbos-ui-token"
ATTACKER = "http://127.0.0.1:9/attacker"
# What an agent's API would serve to take over the fleet: read the UI token, rewrite the other
# agent's .env through the UI's own API.
EVIL_SCRIPT = f"""
window.__ran = true;
const token = localStorage.getItem('{TOKEN_KEY}');
fetch('/api/agents/victim/env', {{method: 'PUT', headers: {{'Content-Type': 'application/json',
  'X-SMBOS-Token': token}}, body: JSON.stringify({{values: {{ANTHROPIC_BASE_URL: '{ATTACKER}'}}}})}});
"""
EVIL_PAGE = f"<!doctype html><title>evil</title><script>{EVIL_SCRIPT}</script>"


@pytest.fixture(autouse=True)
def no_engine(monkeypatch, tmp_path):
    """The UI asks the engine for status: here there is none, whatever runs on this machine."""
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-engine.sock")


def test_agent_content_never_runs_as_the_ui(tmp_path):
    executable = chromium()
    from playwright.sync_api import expect, sync_playwright

    with StubRuntime() as evil, StubRuntime() as victim:
        evil.routes.update(
            {
                "/api/page": Answer(EVIL_PAGE, "text/html; charset=utf-8"),
                "/api/script.js": Answer(EVIL_SCRIPT, "application/javascript"),
                "/api/data": Answer('{"html": "<img src=x onerror=alert(1)>"}', "application/json"),
                "/api/sniff": Answer(EVIL_PAGE, "application/json"),
            }
        )
        project = _project(tmp_path, {"evil": evil.port, "victim": victim.port})
        env_path = project.agents_dir / "victim" / ".env"
        env_before = env_path.read_bytes()
        seen: list[str] = []
        with UIServer(create_app(project, TOKEN)) as server, sync_playwright() as p:
            browser = p.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
            try:
                page = browser.new_context().new_page()
                page.set_default_timeout(15_000)
                page.on("request", lambda req: seen.append(f"{req.method} {req.url}"))
                page.on(
                    "dialog",
                    lambda dialog: (seen.append(f"dialog {dialog.message}"), dialog.dismiss()),
                )

                # The link smbos ui prints: the token is checked, then kept.
                page.goto(f"{server.url}/#token={TOKEN}")
                expect(page.locator("#token-ok")).to_be_visible()
                assert page.evaluate(f"localStorage.getItem('{TOKEN_KEY}')") == TOKEN
                assert "#token" not in page.url

                # A link with another token: refused by the server, the kept token stays.
                page.goto(f"{server.url}/agents/victim#token=planted-{'x' * 30}")
                expect(page.locator("#token-notice")).to_contain_text(
                    "the token in the link was refused"
                )
                assert page.evaluate(f"localStorage.getItem('{TOKEN_KEY}')") == TOKEN
                assert "#token" not in page.url

                # The settings page fills itself through the API, with the token.
                page.goto(f"{server.url}/agents/victim/settings")
                expect(page.locator('input[name="ANTHROPIC_API_KEY"]')).to_have_value(
                    envfile.mask(envfile.read_env(env_path)["ANTHROPIC_API_KEY"])
                )

                # The proxy is a raw view of an agent: a navigation, which carries no token
                # header, is refused. With the header (as a script or a tool sends it) what
                # comes back is checked as below.
                response = page.goto(f"{server.url}/agents/evil/api/data")
                assert (
                    response.status == 401
                    and response.headers["content-type"] == "application/json"
                )
                page.context.set_extra_http_headers({"X-SMBOS-Token": TOKEN})

                # An agent's page through the proxy: refused, nothing of it runs.
                response = page.goto(f"{server.url}/agents/evil/api/page")
                assert response.status == 502
                assert response.headers["content-type"] == "application/json"
                assert "evil" != page.title()
                assert page.evaluate("window.__ran === undefined")

                # Data that passes is sandboxed: an opaque origin, no storage, no script. A
                # page typed as JSON is not JSON the proxy can read (and redact): not relayed.
                for path, status in (
                    ("/agents/evil/api/data", 200),
                    ("/agents/evil/api/sniff", 502),
                ):
                    response = page.goto(server.url + path)
                    assert response.status == status, path
                    assert page.evaluate("window.__ran === undefined")
                    assert page.evaluate("window.origin") == "null", path
                    blocked = page.evaluate("""() => { try { localStorage.getItem('x');
                        return false; } catch (e) { return true; } }""")
                    assert blocked, f"{path}: the UI's storage is readable from proxied data"

                # A UI page cannot be made to load an agent's answer as a script.
                page.goto(server.url + "/")
                page.evaluate("""() => new Promise((resolve) => {
                    const s = document.createElement('script');
                    s.src = '/agents/evil/api/script.js';
                    s.onload = s.onerror = resolve;
                    document.head.append(s);
                })""")
                assert page.evaluate("window.__ran === undefined")
                shot(page, "10-proxy-refused")
            finally:
                browser.close()
        assert env_path.read_bytes() == env_before, "another agent's .env was rewritten"
        assert not [s for s in seen if "/api/agents/victim/env" in s and s.startswith("PUT")]
        assert not [s for s in seen if s.startswith("dialog")], seen
        assert all("/api/script.js" not in path for _, path, _ in evil.requests), (
            "the browser never even fetched the agent's script (CSP)"
        )


def test_exposed_ui_opens_its_pages_after_the_token(tmp_path):
    executable = chromium()
    from playwright.sync_api import expect, sync_playwright

    with StubRuntime() as evil, StubRuntime() as victim:
        project = _project(tmp_path, {"evil": evil.port, "victim": victim.port})
        app = create_app(project, TOKEN, host="0.0.0.0")  # served on 127.0.0.1 by the test
        with UIServer(app) as server, sync_playwright() as p:
            browser = p.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
            try:
                page = browser.new_context().new_page()
                page.set_default_timeout(15_000)
                response = page.goto(f"{server.url}/agents/victim")
                assert response.status == 401
                expect(page.locator("#token-form")).to_be_visible()
                assert "Victim" not in page.content()
                page.locator("#token-input").fill("wrong-" + "y" * 30)
                page.locator("#token-form button[type=submit]").click()
                expect(page.locator("#toasts")).to_contain_text("token refused")
                page.locator("#token-input").fill(TOKEN)
                page.locator("#token-form button[type=submit]").click()
                expect(page.locator(".identity h1")).to_contain_text("Victim")
                cookies = page.context.cookies()
                assert [c["httpOnly"] for c in cookies] == [True]
                assert page.evaluate("document.cookie") == "", "the session cookie is HttpOnly"
            finally:
                browser.close()


def test_a_tunnel_name_gets_the_token_page_until_given_the_token(tmp_path):
    """A UI bound to 127.0.0.1 behind a tunnel (`--allow-host tunnel.example`): Chromium resolves
    the name to 127.0.0.1, as a tunnel's far end would deliver it, and gets the token page, not
    the fleet, and no data from the API or the proxy, until it has given the token."""
    executable = chromium()
    from playwright.sync_api import expect, sync_playwright

    with StubRuntime() as evil, StubRuntime() as victim:
        victim.routes["/api/messages"] = Answer('{"messages": []}')
        project = _project(tmp_path, {"evil": evil.port, "victim": victim.port})
        app = create_app(project, TOKEN, allow_hosts=("tunnel.example",))
        with UIServer(app) as server, sync_playwright() as p:
            browser = p.chromium.launch(
                executable_path=executable,
                args=[*CHROMIUM_ARGS, "--host-resolver-rules=MAP tunnel.example 127.0.0.1"],
            )
            try:
                url = f"http://tunnel.example:{server.port}"
                page = browser.new_context().new_page()
                page.set_default_timeout(15_000)
                response = page.goto(url + "/")
                assert response.status == 401
                assert page.evaluate("document.body.dataset.page") == "session"
                expect(page.locator("#token-form")).to_be_visible()
                assert (
                    "Victim" not in page.content() and 'data-agent="victim"' not in page.content()
                )
                for path in (
                    "/api/agents",
                    "/api/agents/victim/memory",
                    "/api/status",
                    "/agents/victim/api/messages",
                ):
                    status = page.evaluate(f"fetch('{path}').then(r => r.status)")
                    assert status == 401, (path, status)
                shot(page, "11-tunnel-token-page")

                page.locator("#token-input").fill(TOKEN)
                page.locator("#token-form button[type=submit]").click()
                expect(page.locator('#fleet tr[data-agent="victim"]')).to_be_visible()
                assert page.url.startswith(url)
                # The page's own calls carry the token; a bare fetch still gets nothing.
                status = page.evaluate("fetch('/api/agents').then(r => r.status)")
                assert status == 401
                shot(page, "12-tunnel-fleet")

                # The same UI under 127.0.0.1 is on this machine: the fleet, without the token.
                other = browser.new_context().new_page()
                assert other.goto(server.url + "/").status == 200
                expect(other.locator('#fleet tr[data-agent="victim"]')).to_be_visible()
            finally:
                browser.close()
