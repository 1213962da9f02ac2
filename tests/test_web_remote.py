"""A request is remote by the name it arrives under, not only by the address the UI binds.

Behind a tunnel the UI binds 127.0.0.1 and is reached as `--allow-host NAME`: such a request
comes from beyond this machine, so it needs the token for everything (pages through the session
cookie, the JSON API and the proxy in the header), as under `--host 0.0.0.0`. In this process,
on fakes (tests/fakefleet.py)."""

from __future__ import annotations

import pytest

from smbos.web.app import create_app
from smbos.web.security import SESSION_COOKIE, Guard

from .test_web_api import AUTH, TOKEN, make_client
from .test_web_runtime import SECRETS, fleet, runtime_of  # noqa: F401 - the fleet fixture

TUNNEL = "tunnel.example"
TUNNEL_HOST = {"Host": TUNNEL}
READS = [
    "/api/agents",
    "/api/agents/alpha",
    "/api/status",
    "/api/heal",
    "/api/agents/alpha/memory",
    "/api/agents/alpha/memory/context.md",
    "/api/agents/alpha/tasks",
    "/api/agents/alpha/messages",
    "/api/agents/alpha/skills",
    "/api/agents/alpha/logs",
    "/agents/alpha/api/health",
    "/agents/alpha/api/messages",
]
PAGES = ["/", "/agents/alpha", "/agents/alpha/settings", "/agents/alpha/skills/brief"]


@pytest.fixture
def tunnelled(fleet):  # noqa: F811
    app = create_app(
        fleet.project,
        TOKEN,
        allow_hosts=(TUNNEL,),
        transport=fleet.transport(),
        docker_client=fleet.docker,
    )
    with make_client(app) as c:
        yield c


@pytest.mark.parametrize("path", READS)
def test_reads_under_an_allowed_name_need_the_token(tunnelled, fleet, path):  # noqa: F811
    runtime_of(fleet, "alpha").add_task("daily", prompt=f"check {SECRETS['alpha']}")
    r = tunnelled.get(path, headers=TUNNEL_HOST)
    assert r.status_code == 401 and r.json()["kind"] == "token", (path, r.status_code, r.text)
    assert "alpha" not in r.text.replace("/agents/alpha", "")
    tunnelled.cookies.set(SESSION_COOKIE, Guard(token=TOKEN).session)
    assert tunnelled.get(path, headers=TUNNEL_HOST).status_code == 401, (
        "the session cookie opens pages only"
    )
    tunnelled.cookies.clear()
    r = tunnelled.get(path, headers={**TUNNEL_HOST, **AUTH})
    assert r.status_code == 200, (path, r.status_code, r.text)


@pytest.mark.parametrize("path", PAGES)
def test_pages_under_an_allowed_name_need_the_session(tunnelled, path):
    r = tunnelled.get(path, headers=TUNNEL_HOST)
    assert r.status_code == 401 and 'data-page="session"' in r.text, (path, r.text[:200])
    assert "Alpha" not in r.text and "identity-of-alpha" not in r.text
    session = tunnelled.post("/api/session", headers={**TUNNEL_HOST, **AUTH})
    assert session.status_code == 200 and session.json()["exposed"] is True
    assert tunnelled.get(path, headers=TUNNEL_HOST).status_code == 200


def test_loopback_names_stay_as_they_were(tunnelled):
    """Under a loopback name, on a UI bound to loopback, reads need no token (as before); the
    settings and every proxied read do."""
    for host in ("127.0.0.1:8787", "localhost:8787", "[::1]:8787"):
        assert tunnelled.get("/api/agents", headers={"Host": host}).status_code == 200, host
        assert tunnelled.get("/", headers={"Host": host}).status_code == 200, host
    assert tunnelled.post("/api/session", headers=AUTH).json()["exposed"] is False


@pytest.mark.parametrize(
    "bind,host,remote",
    [
        ("127.0.0.1", "127.0.0.1:8787", False),
        ("127.0.0.1", "localhost", False),
        ("127.0.0.1", "[::1]:8787", False),
        ("127.0.0.1", "LOCALHOST:1", False),
        ("127.0.0.1", "tunnel.example", True),
        ("127.0.0.1", "Tunnel.Example:443", True),
        ("127.0.0.1", None, True),
        ("127.0.0.1", "", True),
        ("0.0.0.0", "127.0.0.1:8787", True),  # any client can send that Host to a public socket
        ("::1", "[::1]:8787", False),
    ],
)
def test_guard_remote(bind, host, remote):
    guard = Guard(token=TOKEN, bind_host=bind, extra_hosts=("tunnel.example",))
    assert guard.remote(host) is remote


def test_start_up_says_allowed_names_need_the_token(tmp_path, monkeypatch):
    from smbos.project import Project
    from smbos.web import server

    lines: list[str] = []
    monkeypatch.setattr("uvicorn.Server.run", lambda self: None)
    agents = tmp_path / "agents"
    agents.mkdir()
    project = Project.from_options(agents, None, "remote")
    token = server.UIToken(TOKEN, False, "environment", "SMBOS_UI_TOKEN")
    server.serve(project, "127.0.0.1", 0, token, allow_hosts=(TUNNEL,), say=lines.append)
    said = "\n".join(lines)
    assert TUNNEL in said and "needs the token" in said, said
