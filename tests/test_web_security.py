"""The UI as an attacker meets it: proxied agent answers, a UI bound beyond loopback, the
settings, the proxy's paths and cookies, a TLS tunnel in front. Runtimes are stubs
(tests/stubruntime.py) answering in this process, and on real 127.0.0.1 ports where the UI is
served by uvicorn; no Docker engine is needed."""

from __future__ import annotations

import re
import secrets
import socket
from pathlib import Path

import pytest

from smbos.project import Project
from smbos.web.app import create_app
from smbos.web.security import SESSION_COOKIE, Guard

from .conftest import write_agent
from .fakefleet import FakeDocker
from .stubruntime import Answer, StubRuntime, transport
from .test_web_api import AUTH, BASE, CANARY, TOKEN, make_client

EVIL_PAGE = (
    "<!doctype html><title>evil</title><script>fetch('/api/agents/victim/env', "
    "{method: 'PUT'})</script>"
)


def _project(tmp_path: Path, ports: dict[str, int]) -> Project:
    agents = tmp_path / "agents"
    agents.mkdir()
    for agent_id, port in ports.items():
        write_agent(
            agents,
            agent_id,
            {"name": agent_id.title(), "port": port, "runtime": {"container_isolation": "none"}},
            env=f"ANTHROPIC_API_KEY={CANARY}\nANTHROPIC_BASE_URL=https://api.anthropic.com\n",
        )
    return Project.from_options(agents, None, f"s{secrets.token_hex(4)}")


@pytest.fixture
def stubs():
    return StubRuntime(), StubRuntime()


@pytest.fixture
def client(tmp_path, stubs):
    evil, victim = stubs
    project = _project(tmp_path, {"evil": evil.port, "victim": victim.port})
    with make_client(
        create_app(project, TOKEN, transport=transport(*stubs), docker_client=FakeDocker())
    ) as c:
        c.project = project
        yield c


# ------------------------------------------------------------- 1. proxied agent answers


@pytest.mark.parametrize(
    "content_type",
    [
        "text/html",
        "text/html; charset=utf-8",
        "TEXT/HTML",
        "application/xhtml+xml",
        "image/svg+xml",
        "application/javascript",
        "text/javascript",
        "text/plain",
        "text/xml",
        "application/pdf",
        "text/html;application/json",
        None,
    ],
)
def test_proxy_refuses_anything_but_json_and_event_streams(client, stubs, content_type):
    evil, _ = stubs
    evil.routes["/api/page"] = Answer(EVIL_PAGE, content_type)
    r = client.get("/agents/evil/api/page", headers=AUTH)
    assert r.status_code == 502, (content_type, r.headers, r.text)
    assert r.headers["content-type"] == "application/json"
    assert r.json()["kind"] == "runtime_content_type"
    assert "<script" not in r.text and "fetch(" not in r.text


@pytest.mark.parametrize(
    "given,expected",
    [
        ("application/json", "application/json"),
        ("application/json; charset=utf-8", "application/json; charset=utf-8"),
        ("text/event-stream", "text/event-stream"),
    ],
)
def test_proxied_data_is_never_sniffed_nor_run(client, stubs, given, expected):
    """What passes is data: typed as the runtime said, never sniffed, and sandboxed (no script,
    an opaque origin) should a browser be sent to it."""
    evil, _ = stubs
    evil.routes["/api/data"] = Answer(
        '{"html": "<script>alert(1)</script>"}',
        given,
        headers={
            "Set-Cookie": "agent=1; Path=/",
            "Content-Disposition": "inline",
            "Access-Control-Allow-Origin": "*",
        },
    )
    r = client.get("/agents/evil/api/data", headers=AUTH)
    assert r.status_code == 200
    assert r.headers["content-type"] == expected
    assert r.headers["x-content-type-options"] == "nosniff"
    csp = r.headers["content-security-policy"]
    assert csp.startswith("sandbox") and "default-src 'none'" in csp
    for header in ("set-cookie", "content-disposition", "access-control-allow-origin"):
        assert header not in r.headers, header


@pytest.mark.parametrize("status", [204, 404, 200])
def test_an_empty_answer_passes_without_a_type(client, stubs, status):
    evil, _ = stubs
    evil.routes["/api/nothing"] = Answer(b"", None, status=status)
    r = client.get("/agents/evil/api/nothing", headers=AUTH)
    assert r.status_code == status and r.content == b""
    assert r.headers["content-security-policy"].startswith("sandbox")
    assert "content-type" not in r.headers


def test_no_same_origin_url_but_the_uis_script_can_run(client):
    """Pages allow one script: the tag with this response's nonce. Every other answer (JSON,
    errors, static files) forbids scripts altogether."""
    page = client.get("/")
    csp = page.headers["content-security-policy"]
    script_src = re.search(r"script-src ([^;]+)", csp).group(1).split()
    assert len(script_src) == 1 and script_src[0].startswith("'nonce-")
    assert client.get("/").headers["content-security-policy"] != csp, "a fresh nonce per page"
    for path in ("/api/agents", "/api/nothing", "/static/app.js"):
        assert "sandbox" in client.get(path).headers["content-security-policy"], path


# -------------------------------------------------------- 2. bound beyond loopback


@pytest.fixture
def exposed(tmp_path, stubs):
    evil, victim = stubs
    project = _project(tmp_path, {"evil": evil.port, "victim": victim.port})
    with make_client(
        create_app(
            project, TOKEN, host="0.0.0.0", transport=transport(*stubs), docker_client=FakeDocker()
        )
    ) as c:
        yield c


PAGES = [
    "/",
    "/agents/victim",
    "/agents/victim/settings",
    "/agents/nosuch",
    "/agents/victim/skills/x",
    "/no-such-page",
]


@pytest.mark.parametrize("path", PAGES)
def test_exposed_pages_need_the_token(exposed, path):
    r = exposed.get(path)
    assert r.status_code == 401, r.text[:200]
    assert r.headers["content-type"].startswith("text/html")
    assert 'data-page="session"' in r.text
    for leak in ("victim", "identity-of", "Victim", CANARY):
        assert leak not in r.text, leak
    exposed.cookies.set(SESSION_COOKIE, "0" * 64)
    assert exposed.get(path).status_code == 401


def test_exposed_pages_open_with_the_session_cookie(exposed):
    refused = exposed.post("/api/session", headers={"X-SMBOS-Token": TOKEN + "x"})
    assert refused.status_code == 403 and "set-cookie" not in refused.headers
    r = exposed.post("/api/session", headers=AUTH)
    assert r.status_code == 200
    cookie = r.headers["set-cookie"]
    assert cookie.startswith(f"{SESSION_COOKIE}=") and "HttpOnly" in cookie
    assert "SameSite=Strict" in cookie and TOKEN not in cookie
    for path in PAGES[:3]:
        page = exposed.get(path)  # the client keeps the cookie
        assert page.status_code == 200, (path, page.text[:200])
    assert "victim" in exposed.get("/").text
    # JSON and the proxy take the header, never the cookie.
    assert exposed.get("/api/agents").status_code == 401
    assert exposed.get("/agents/victim/api/health").status_code == 401
    assert exposed.get("/api/agents", headers=AUTH).status_code == 200
    gone = exposed.delete("/api/session", headers=AUTH)
    assert gone.status_code == 200 and "Max-Age=0" in gone.headers["set-cookie"]


@pytest.mark.parametrize(
    "host,answered",
    [
        ("127.0.0.1:8787", True),
        ("localhost:8787", True),
        ("[::1]:8787", True),
        ("127.0.0.2:8787", True),  # an address of this machine
        (f"{socket.gethostname()}:8787", True),
        ("evil.example:8787", False),
        ("203.0.113.7:8787", False),
        ("127.0.0.1.evil.example", False),
    ],
)
def test_exposed_ui_answers_only_under_this_machines_names(exposed, host, answered):
    r = exposed.get("/api/openapi.json", headers={"Host": host})
    assert (r.status_code != 421) is answered, (host, r.status_code)


# ------------------------------------------------------------------- 3. the settings


def test_settings_need_the_token_on_loopback_too(client):
    r = client.get("/api/agents/victim/env")
    assert r.status_code == 401 and r.json()["kind"] == "token"
    assert (
        client.get("/api/agents/victim/env", headers={"X-SMBOS-Token": "x" * 20}).status_code == 403
    )
    page = client.get("/agents/victim/settings")
    assert page.status_code == 200
    assert "ANTHROPIC_BASE_URL" not in page.text and "****" not in page.text
    assert client.get("/api/agents/victim/env", headers=AUTH).status_code == 200


# ----------------------------------------------------------------- 5. smaller ones


def test_one_agents_cookies_never_reach_another(client, stubs):
    evil, victim = stubs
    evil.routes["/api/set"] = Answer("{}", headers={"Set-Cookie": "jar=evil; Path=/"})
    victim.routes["/api/health"] = Answer('{"status": "ok"}')
    assert client.get("/agents/evil/api/set", headers=AUTH).status_code == 200
    assert client.get("/agents/evil/api/set", headers=AUTH).status_code == 200
    client.cookies.set("mine", "1")
    assert client.get("/agents/victim/api/health", headers=AUTH).status_code == 200
    for _, _, headers in evil.requests + victim.requests:
        assert "cookie" not in {k.lower() for k in headers}, headers


@pytest.mark.parametrize(
    "path",
    [
        "%252e%252e/%252e%252e/etc/passwd",
        "%2e%2e/x",
        "..%2f..%2fx",
        "a/%00",
        "%00",
        "a%0ab",
        "a/%2e/b",
        "a//b",
        "a\\b",
        "%25",
        "%c0%ae%c0%ae/x",
    ],
)
def test_proxy_paths_are_plain_segments(client, stubs, path):
    evil, _ = stubs
    r = client.get(f"/agents/evil/api/{path}", headers=AUTH)
    # 404: no route matches a path with a line break in it.
    assert r.status_code == (404 if "%0a" in path else 400), (path, r.status_code, r.text)
    assert r.headers["content-type"] == "application/json"
    assert evil.requests == [], "nothing reached the runtime"


def test_a_tls_tunnel_under_an_allowed_name_may_change_things(tmp_path, stubs):
    evil, victim = stubs
    project = _project(tmp_path, {"evil": evil.port, "victim": victim.port})
    app = create_app(project, TOKEN, allow_hosts=("ui.example.com",), transport=transport(*stubs))
    with make_client(app) as c:
        tunnel = {**AUTH, "Host": "ui.example.com", "Origin": "https://ui.example.com"}
        r = c.put(
            "/api/agents/victim/env", headers=tunnel, json={"values": {"ASSISTANT_NAME": "Vic"}}
        )
        assert r.status_code == 200, r.text
        for origin, host in (
            ("https://evil.example", "ui.example.com"),
            ("https://127.0.0.1:8787", "127.0.0.1:8787"),
            ("http://ui.example.com.evil", "ui.example.com"),
        ):
            r = c.put(
                "/api/agents/victim/env",
                headers={**AUTH, "Host": host, "Origin": origin},
                json={"values": {"ASSISTANT_NAME": "Eve"}},
            )
            assert r.status_code == 403 and r.json()["kind"] == "origin", (origin, r.text)


def test_guard_origin_rules():
    guard = Guard(token=TOKEN, extra_hosts=("ui.example.com",))
    assert guard.origin_ok(None, "http", "127.0.0.1:8787")
    assert guard.origin_ok(BASE, "http", "127.0.0.1:8787")
    assert guard.origin_ok("https://ui.example.com", "http", "ui.example.com")
    assert not guard.origin_ok("https://127.0.0.1:8787", "http", "127.0.0.1:8787")
    assert not guard.origin_ok("null", "http", "127.0.0.1:8787")


@pytest.fixture
def served_stubs():
    with StubRuntime() as evil, StubRuntime() as victim:
        yield evil, victim


def test_proxy_paths_over_a_real_server(tmp_path, served_stubs):
    """The same refusals through uvicorn, which decodes the path once as a browser's request
    arrives, to a runtime on a real port: a double-encoded `..` or NUL must not reach the
    runtime decoded."""
    import httpx

    from .test_web_api import UIServer

    evil, victim = served_stubs
    project = _project(tmp_path, {"evil": evil.port, "victim": victim.port})
    evil.routes["/api/health"] = Answer('{"status": "ok"}')
    with (
        UIServer(create_app(project, TOKEN)) as server,
        httpx.Client(base_url=server.url, trust_env=False, timeout=10) as c,
    ):
        assert c.get("/agents/evil/api/health").status_code == 401, "the proxy needs the token"
        assert c.get("/agents/evil/api/health", headers=AUTH).status_code == 200
        for raw in (
            "%252e%252e/%252e%252e/api/health",
            "%252E%252E%252Fx",
            "a%2500b",
            "%00",
            "..%252f..%252fx",
        ):
            r = c.get(httpx.URL(f"{server.url}/agents/evil/api/{raw}"), headers=AUTH)
            assert r.status_code == 400, (raw, r.status_code, r.text)
    assert [path for _, path, _ in evil.requests] == ["/api/health"]
