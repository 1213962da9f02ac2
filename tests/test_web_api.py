"""The operator UI's HTTP surface: every route, the refusals, and the secrets it must never show.

Settings, memory and pages use plain temp folders. Routes that need a runtime or the engine run
in this process on fakes (test_web_runtime.py); the live tests below prove the real path against
stand-in containers (a module-scoped fleet of two agents, started through the real CLI).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import re
import secrets
import stat
import subprocess
import sys
import threading
import time
import urllib.parse
from pathlib import Path

import httpx
import pytest

from smbos import catalog, envfile
from smbos.project import Project
from smbos import operations as ops
from smbos.errors import SmbosError
from smbos.web import markdown
from smbos.web.app import create_app
from smbos.web.security import Guard, load_or_create_token

from .conftest import IN_CI, run_smbos, write_agent
from .dockerfleet import LiveFleet, free_port
from .fakefleet import FakeDocker

TOKEN = "t0k-" + secrets.token_urlsafe(24)
BASE = "http://127.0.0.1:8787"
AUTH = {"X-SMBOS-Token": TOKEN}
CANARY = "sk-ant-api03-CANARY" + secrets.token_hex(16) + "zz"


def make_client(app):
    import warnings

    with warnings.catch_warnings():  # Starlette would rather its TestClient ran on httpx2
        warnings.filterwarnings("ignore", message=".*httpx2.*")
        from starlette.testclient import TestClient

        return TestClient(app, base_url=BASE, raise_server_exceptions=True)


# ------------------------------------------------------------------------------ helpers


class UIServer:
    """The app served by uvicorn on a free 127.0.0.1 port, in a thread (real streaming)."""

    def __init__(self, app):
        import uvicorn

        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(
            app,
            host="127.0.0.1",
            port=self.port,
            log_level="warning",
            lifespan="on",
            access_log=False,
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> UIServer:
        self.thread.start()
        deadline = time.monotonic() + 15
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.05)
        return self

    def __exit__(self, *exc) -> None:
        self.server.should_exit = True
        self.thread.join(15)


def sse_events(text: str) -> list[tuple[str, dict]]:
    events = []
    for block in re.split(r"\r?\n\r?\n", text):
        name, data = "message", []
        for line in block.splitlines():
            if line.startswith("event:"):
                name = line[6:].strip()
            elif line.startswith("data:"):
                data.append(line[5:].strip())
        if data:
            events.append((name, json.loads("\n".join(data))))
    return events


def reply_fields(line: str) -> dict[str, str]:
    """The stand-in's reply line, decoded (tests/standin/README.md)."""
    return {k: urllib.parse.unquote(v) for k, v in (p.split("=", 1) for p in line.split(" "))}


def standin_env(text: str) -> dict[str, str]:
    """`.env` read the way the stand-in (and NanoClaw) read it."""
    values = {}
    for raw in re.split(r"\r?\n", text):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("export "):
            line = line[7:].strip()
        key, sep, value = line.partition("=")
        if not sep or not key:
            continue
        value = value.strip()
        if len(value) >= 2 and value[0] in "\"'" and value[-1] == value[0]:
            value = value[1:-1]
        values[key.strip()] = value
    return values


ENV_TEXT = f"""# Secrets for alpha (comment kept)
ANTHROPIC_API_KEY={CANARY}

# not a core key: must survive every write
UNKNOWN_FLAG=keep-me
TELEGRAM_ONLY=false
NOTION_TOKEN=ntn_{"x" * 30}
DB_PASS=hunter2
ALERT_WEBHOOK=https://hooks.example.net/services/T0/B0/SIGNED-{"q" * 20}
DOOR_PIN=4711
SHOP_DOMAIN=shop.example
"""

SKILLS = [
    {
        "id": "brief",
        "title": "Brief",
        "description": "A list",
        "inputs": [
            {"id": "topic", "label": "Topic", "type": "text", "required": True},
            {"id": "count", "label": "How many", "type": "number", "default": 3},
            {
                "id": "tone",
                "label": "Tone",
                "type": "select",
                "options": ["short", "long"],
                "default": "short",
            },
            {"id": "day", "label": "Day", "type": "date"},
            {"id": "notes", "label": "Notes", "type": "textarea"},
        ],
        "prompt": "List {count} points about {topic} ({tone}) for {day}. {notes}",
        "display": "list",
    },
    {
        "id": "grid",
        "title": "Grid",
        "inputs": [],
        "prompt": "Answer with a table",
        "display": "table",
    },
]


@pytest.fixture
def folders(tmp_path: Path) -> Project:
    """A project with two agents in plain folders; nothing listens on their ports."""
    agents = tmp_path / "agents"
    agents.mkdir()
    md = (
        "---\nname: Alpha\n---\n# Alpha <script>alert('x')</script>\n\nHello **bold** "
        "`code` [link](javascript:alert(1))\n\n- one\n- two\n"
    )
    example = (
        "# Anthropic API key\nANTHROPIC_API_KEY=\n\n# optional: oauth\n"
        "CLAUDE_CODE_OAUTH_TOKEN=\n\n# Notion integration token\nNOTION_TOKEN=\n\n"
        "# optional: the shop's domain\n# not secret\nSHOP_DOMAIN=\n"
    )
    write_agent(
        agents,
        "alpha",
        {
            "name": "Alpha",
            "port": free_port(),
            "runtime": {"container_isolation": "none"},
            "integrations": ["notion"],
            "skills": SKILLS,
        },
        agent_md=md,
        env_example=example,
        env=ENV_TEXT,
        memory={"context.md": "# Context\nremember this\n"},
    )
    (agents / "alpha" / "memory" / "notes").mkdir()
    (agents / "alpha" / "memory" / "notes" / "todo.md").write_text("- a\n")
    (agents / "alpha" / "memory" / "blob.bin").write_bytes(b"\x00\x01binary")
    (agents / "alpha" / "memory" / "big.md").write_text("y" * (ops.MEMORY_MAX_BYTES + 1))
    os.symlink("../.env", agents / "alpha" / "memory" / "leak.md")
    write_agent(
        agents,
        "beta",
        {"name": "Beta", "port": free_port(), "runtime": {"container_isolation": "none"}},
        env=None,
    )
    return Project.from_options(agents, None, f"w{secrets.token_hex(4)}")


@pytest.fixture
def client(folders):
    """The UI of `folders` on an engine that has no containers (no Docker needed)."""
    with make_client(create_app(folders, TOKEN, docker_client=FakeDocker())) as c:
        yield c


def no_canary(response, *canaries: str) -> None:
    body = response.text
    for canary in canaries or (CANARY,):
        assert canary not in body, f"a secret reached {response.request.url}"
        for value in response.headers.values():
            assert canary not in value


# ------------------------------------------------------------------------ pages (folders)


def test_pages_render_without_secrets(client):
    for path in (
        "/",
        "/agents/alpha",
        "/agents/alpha/settings",
        "/agents/alpha/skills/brief",
        "/agents/beta",
        "/agents/beta/settings",
    ):
        r = client.get(path)
        assert r.status_code == 200, (path, r.text[:300])
        assert r.headers["content-type"].startswith("text/html")
        csp = r.headers["content-security-policy"]
        nonce = re.search(r"script-src 'nonce-([A-Za-z0-9_-]{20,})'", csp).group(1)
        assert f'<script nonce="{nonce}" src="/static/app.js' in r.text
        assert "'self'" not in csp.split("script-src")[1].split(";")[0], "only our script runs"
        assert r.headers["x-frame-options"] == "DENY"
        assert not re.search(r"<(script|link)[^>]+(src|href)=\"https?://", r.text), path
        no_canary(r)
    fleet = client.get("/").text
    assert 'data-agent="alpha"' in fleet and 'data-agent="beta"' in fleet


def test_identity_is_escaped_markdown(client):
    html = client.get("/agents/alpha").text
    assert "<script>alert" not in html
    assert "&lt;script&gt;alert(" in html
    assert "<strong>bold</strong>" in html and "<code>code</code>" in html
    assert "<li>one</li>" in html
    assert 'href="javascript' not in html


def test_markdown_renderer_is_safe():
    out = str(
        markdown.render(
            "# T <img src=x onerror=alert(1)>\n\n**<b>x</b>** \"q\" & 'a'\n\n"
            '```\n<script>\n```\n> <i>quote</i>\n1. n <a href="y">\n'
        )
    )
    assert "<img" not in out and "<b>" not in out and "<script>" not in out and "<a " not in out
    assert "&lt;img" in out and "<pre><code>&lt;script&gt;</code></pre>" in out
    assert "<ol><li>" in out.replace("\n", "") and "<blockquote>" in out


def test_skill_page_builds_the_form(client):
    html = client.get("/agents/alpha/skills/brief").text
    assert 'name="topic"' in html and "required" in html
    assert 'type="number"' in html and 'type="date"' in html and "<textarea" in html
    assert '<option value="long">' in html and 'data-display="list"' in html
    r = client.get("/agents/alpha/skills/nope")
    assert r.status_code == 404 and "no skill" in r.text


def test_static_files_are_local(client):
    for name in ("app.js", "app.css"):
        r = client.get(f"/static/{name}")
        assert r.status_code == 200
        assert "http://" not in r.text and "https://" not in r.text and "//cdn" not in r.text
    assert client.get("/static/favicon.svg").status_code == 200
    assert client.get("/static/../app.py").status_code == 404


# ---------------------------------------------------------------------------- refusals


CHANGING = [
    ("POST", "/api/agents/alpha/start", None),
    ("POST", "/api/agents/alpha/stop", None),
    ("POST", "/api/agents/alpha/restart", None),
    ("POST", "/api/agents/alpha/chat", {"message": "hi"}),
    ("POST", "/api/agents/alpha/skills/brief", {"values": {"topic": "x"}}),
    ("PUT", "/api/agents/alpha/env", {"values": {"ANTHROPIC_API_KEY": "stolen"}}),
    ("POST", "/agents/alpha/api/chat", {"message": "hi"}),
]


@pytest.mark.parametrize("method,path,body", CHANGING)
def test_changing_requests_need_the_token_and_our_origin(client, folders, method, path, body):
    env_before = (folders.agents_dir / "alpha" / ".env").read_bytes()
    kwargs = {"json": body} if body is not None else {}
    r = client.request(method, path, **kwargs)
    assert r.status_code == 401 and r.json()["kind"] == "token", r.text
    r = client.request(method, path, headers={"X-SMBOS-Token": TOKEN + "x"}, **kwargs)
    assert r.status_code == 403 and r.json()["kind"] == "token"
    r = client.request(method, path, headers={"X-SMBOS-Token": ""}, **kwargs)
    assert r.status_code == 401
    for origin in (
        "https://evil.example",
        "null",
        "http://127.0.0.1:9999",
        "http://localhost:8787",
    ):
        r = client.request(method, path, headers={**AUTH, "Origin": origin}, **kwargs)
        assert r.status_code == 403 and r.json()["kind"] == "origin", (origin, r.text)
    r = client.request(
        method,
        path,
        headers={**AUTH, "Host": "attacker.example:8787", "Origin": "http://attacker.example:8787"},
        **kwargs,
    )
    assert r.status_code == 421
    assert (folders.agents_dir / "alpha" / ".env").read_bytes() == env_before
    # With the token and our own Origin it goes through the guard (whatever the route says).
    r = client.request(method, path, headers={**AUTH, "Origin": BASE}, **kwargs)
    assert r.status_code not in (401, 403, 421), r.text


def test_reads_need_no_token_on_loopback_but_do_when_exposed(folders):
    with make_client(create_app(folders, TOKEN)) as c:
        assert c.get("/api/agents").status_code == 200
        assert c.get("/agents/alpha/api/health").status_code == 401, "the proxy: always"
        assert c.get("/", headers={"Host": "evil.example"}).status_code == 421
    with make_client(create_app(folders, TOKEN, host="0.0.0.0")) as c:
        assert c.get("/api/agents").status_code == 401
        assert c.get("/api/agents/alpha/env").status_code == 401
        assert c.get("/agents/alpha/api/health").status_code == 401
        assert c.get("/api/agents", headers=AUTH).status_code == 200
        assert c.get("/api/openapi.json").status_code == 200
        assert c.get("/").status_code == 401, "pages too (test_web_security.py)"


def test_guard_host_names():
    guard = Guard(token=TOKEN, bind_host="127.0.0.1", extra_hosts=("ui.internal",))
    assert guard.host_ok("127.0.0.1:8787") and guard.host_ok("localhost")
    assert guard.host_ok("[::1]:8787") and guard.host_ok("ui.internal:8787")
    assert not guard.host_ok("evil.example:8787") and not guard.host_ok(None)
    assert not guard.host_ok("127.0.0.1.evil.example")


def test_unknown_agent_is_404_everywhere(client):
    for method, path in [
        ("GET", "/api/agents/zzz"),
        ("GET", "/api/agents/zzz/logs"),
        ("GET", "/api/agents/zzz/tasks"),
        ("GET", "/api/agents/zzz/messages"),
        ("GET", "/api/agents/zzz/env"),
        ("PUT", "/api/agents/zzz/env"),
        ("GET", "/api/agents/zzz/memory"),
        ("GET", "/api/agents/zzz/memory/x"),
        ("GET", "/api/agents/zzz/skills"),
        ("POST", "/api/agents/zzz/skills/x"),
        ("POST", "/api/agents/zzz/chat"),
        ("POST", "/api/agents/zzz/restart"),
        ("POST", "/api/agents/zzz/start"),
        ("POST", "/api/agents/zzz/stop"),
        ("GET", "/agents/zzz/api/health"),
        ("POST", "/agents/zzz/api/chat"),
        ("GET", "/api/status?agent=zzz"),
    ]:
        r = client.request(
            method,
            path,
            headers=AUTH,
            json={"values": {}, "message": "x"} if method != "GET" else None,
        )
        assert r.status_code == 404, (method, path, r.status_code, r.text)
        assert r.headers["content-type"] == "application/json"
        assert "zzz" in r.json()["error"]
    for path in ("/agents/zzz", "/agents/zzz/settings", "/agents/zzz/skills/x"):
        r = client.get(path)
        assert r.status_code == 404 and "text/html" in r.headers["content-type"]
    assert client.get("/api/nothing-here").status_code == 404
    assert client.get("/api/nothing-here").json()["error"]


def test_runtime_down_is_502_json(client):
    """alpha's port has nothing listening: every runtime route says so as JSON."""
    checks = [
        ("GET", "/api/agents/alpha/tasks", None),
        ("GET", "/api/agents/alpha/messages", None),
        ("POST", "/api/agents/alpha/chat", {"message": "hi"}),
        ("POST", "/api/agents/alpha/skills/brief", {"values": {"topic": "x"}}),
        ("GET", "/agents/alpha/api/health", None),
        ("GET", "/agents/alpha/api/state?x=1", None),
        ("POST", "/agents/alpha/api/chat", {"message": "hi"}),
    ]
    for method, path, body in checks:
        r = client.request(method, path, headers=AUTH, json=body)
        assert r.status_code == 502, (path, r.status_code, r.text)
        assert r.headers["content-type"] == "application/json"
        assert r.json()["kind"] == "runtime_refused" and "alpha" in r.json()["error"]


def test_bad_request_bodies(client):
    assert client.post("/api/agents/alpha/chat", headers=AUTH, json={}).status_code == 400
    assert (
        client.post("/api/agents/alpha/chat", headers=AUTH, json={"message": "  "}).status_code
        == 400
    )
    r = client.post(
        "/api/agents/alpha/chat",
        headers={**AUTH, "Content-Type": "application/json"},
        content=b"{not json",
    )
    assert r.status_code == 400 and r.json()["error"] == "request body is not JSON"
    r = client.post("/api/agents/alpha/chat", headers=AUTH, content=b"x" * (1024 * 1024 + 10))
    assert r.status_code == 413
    assert (
        client.put("/api/agents/alpha/env", headers=AUTH, json={"values": "x"}).status_code == 400
    )
    assert client.get("/api/agents/alpha/logs?tail=abc").status_code == 400
    assert client.get("/api/agents/alpha/messages?limit=0").status_code == 400
    assert client.get("/api/heal?limit=-1").status_code == 400
    assert client.get("/agents/alpha/api/../../etc/passwd").status_code in (400, 404)


# ------------------------------------------------------------------------------ settings


def test_env_shows_masked_secrets_and_plain_settings(client):
    r = client.get("/api/agents/alpha/env", headers=AUTH)
    assert r.status_code == 200
    no_canary(r)
    keys = {k["key"]: k for k in r.json()["keys"]}
    assert list(keys)[: len(catalog.CORE_ENV_KEYS)] == list(catalog.CORE_ENV_KEYS)
    assert keys["ANTHROPIC_API_KEY"] == {
        **keys["ANTHROPIC_API_KEY"],
        "set": True,
        "secret": True,
        "value": envfile.mask(CANARY),
        "required": False,
    }
    assert keys["NOTION_TOKEN"]["source"] == "integration notion"
    assert keys["NOTION_TOKEN"]["secret"] and keys["NOTION_TOKEN"]["required"]
    assert keys["NOTION_TOKEN"]["value"] == "****xxxx"
    assert keys["TELEGRAM_ONLY"]["value"] == "false" and not keys["TELEGRAM_ONLY"]["secret"]
    # Every other value is a secret, whatever its name or shape, unless .env.example says not.
    assert keys["UNKNOWN_FLAG"] == {
        **keys["UNKNOWN_FLAG"],
        "value": "****",
        "source": ".env",
        "secret": True,
    }
    assert keys["SHOP_DOMAIN"] == {**keys["SHOP_DOMAIN"], "value": "shop.example", "secret": False}
    for key, clear in (
        ("DB_PASS", "hunter2"),
        ("DOOR_PIN", "4711"),
        ("ALERT_WEBHOOK", "hooks.example.net"),
    ):
        assert keys[key]["secret"] and keys[key]["value"] in ("****", "****qqqq"), key
        assert clear not in r.text, key
    # At most the last four characters of a secret are ever shown.
    assert keys["ANTHROPIC_API_KEY"]["value"] == "****" + CANARY[-4:]
    assert keys["ASSISTANT_NAME"]["set"] is False and keys["ASSISTANT_NAME"]["value"] == ""
    settings = client.get("/agents/alpha/settings").text
    assert envfile.mask(CANARY) not in settings and "UNKNOWN_FLAG" not in settings, (
        "the settings page holds nothing of .env: its script loads it with the token"
    )


def test_env_write_is_atomic_keeps_the_rest_and_backs_up(client, folders):
    env = folders.agents_dir / "alpha" / ".env"
    os.chmod(env, 0o640)
    shown = {
        k["key"]: k["value"]
        for k in client.get("/api/agents/alpha/env", headers=AUTH).json()["keys"]
    }
    values = {
        **shown,
        "ASSISTANT_NAME": "Alfred",
        "TELEGRAM_ONLY": "",
        "ANTHROPIC_BASE_URL": "http://127.0.0.1:9/x y",
    }  # every field sent back, as a form
    r = client.put("/api/agents/alpha/env", headers=AUTH, json={"values": values})
    assert r.status_code == 200, r.text
    no_canary(r)
    data = r.json()
    assert sorted(data["changed"]) == ["ANTHROPIC_BASE_URL", "ASSISTANT_NAME"]
    assert data["removed"] == ["TELEGRAM_ONLY"] and data["backup"] == ".env.bak"
    assert "ANTHROPIC_API_KEY" in data["unchanged"] and "NOTION_TOKEN" in data["unchanged"]
    text = env.read_text()
    assert f"ANTHROPIC_API_KEY={CANARY}\n" in text
    assert "# Secrets for alpha (comment kept)" in text and "UNKNOWN_FLAG=keep-me" in text
    assert "TELEGRAM_ONLY" not in text
    for reader in (envfile.read_env(env), standin_env(text)):
        assert reader["ASSISTANT_NAME"] == "Alfred" and reader["ANTHROPIC_API_KEY"] == CANARY
        assert reader["ANTHROPIC_BASE_URL"] == "http://127.0.0.1:9/x y"
    assert stat.S_IMODE(env.stat().st_mode) == 0o600
    backup = env.with_name(".env.bak")
    assert backup.read_text() == ENV_TEXT and stat.S_IMODE(backup.stat().st_mode) == 0o600
    assert sorted(p.name for p in env.parent.iterdir() if p.name.startswith(".env")) == [
        ".env",
        ".env.bak",
        ".env.example",
        ".env.lock",
    ], "a temp file was left behind"
    # Nothing to change: nothing written, the backup stays the previous file.
    before = env.stat().st_mtime_ns
    r = client.put(
        "/api/agents/alpha/env",
        headers=AUTH,
        json={"values": values | {"ASSISTANT_NAME": "Alfred", "TELEGRAM_ONLY": ""}},
    )
    assert r.json()["changed"] == [] and r.json()["backup"] is None
    assert env.stat().st_mtime_ns == before


def test_env_masked_value_round_trip_and_refusals(client, folders):
    env = folders.agents_dir / "alpha" / ".env"
    masked = envfile.mask(CANARY)
    r = client.put(
        "/api/agents/alpha/env", headers=AUTH, json={"values": {"ANTHROPIC_API_KEY": masked}}
    )
    assert r.status_code == 200 and r.json()["unchanged"] == ["ANTHROPIC_API_KEY"]
    assert envfile.read_env(env)["ANTHROPIC_API_KEY"] == CANARY
    assert not env.with_name(".env.bak").exists()
    # A short secret is shown as **** alone; sending that back keeps it too.
    r = client.put(
        "/api/agents/alpha/env",
        headers=AUTH,
        json={"values": {"DB_PASS": "****", "DOOR_PIN": "****"}},
    )
    assert r.status_code == 200 and r.json()["changed"] == [], r.text
    assert envfile.read_env(env)["DOOR_PIN"] == "4711"
    bad = [
        {"ANTHROPIC_API_KEY": "****zzzz"},  # masked, but not the current secret
        {"bad key": "x"},
        {"1X": "y"},
        {"ASSISTANT_NAME": "two\nlines"},
        {"ASSISTANT_NAME": ["list"]},
    ]
    for values in bad:
        r = client.put("/api/agents/alpha/env", headers=AUTH, json={"values": values})
        assert r.status_code == 400, (values, r.text)
        assert r.json()["error"]
        no_canary(r)
    assert envfile.read_env(env)["ANTHROPIC_API_KEY"] == CANARY
    new = "sk-ant-api03-NEWSECRET" + secrets.token_hex(12)
    r = client.put(
        "/api/agents/alpha/env", headers=AUTH, json={"values": {"ANTHROPIC_API_KEY": new}}
    )
    assert r.status_code == 200 and r.json()["changed"] == ["ANTHROPIC_API_KEY"]
    no_canary(r, CANARY, new)
    assert envfile.read_env(env)["ANTHROPIC_API_KEY"] == new
    assert envfile.read_env(env.with_name(".env.bak"))["ANTHROPIC_API_KEY"] == CANARY
    r = client.put(
        "/api/agents/alpha/env", headers=AUTH, json={"values": {"ANTHROPIC_API_KEY": ""}}
    )
    assert r.json()["removed"] == ["ANTHROPIC_API_KEY"]
    assert "ANTHROPIC_API_KEY" not in envfile.read_env(env)


def test_env_created_when_missing(client, folders):
    env = folders.agents_dir / "beta" / ".env"
    assert not env.exists()
    r = client.put(
        "/api/agents/beta/env",
        headers=AUTH,
        json={"values": {"CLAUDE_CODE_OAUTH_TOKEN": CANARY, "ASSISTANT_NAME": "B"}},
    )
    assert r.status_code == 200 and r.json()["backup"] is None
    no_canary(r)
    assert stat.S_IMODE(env.stat().st_mode) == 0o600
    assert envfile.read_env(env) == {"CLAUDE_CODE_OAUTH_TOKEN": CANARY, "ASSISTANT_NAME": "B"}
    owner = (env.stat().st_uid, env.stat().st_gid)
    assert owner == ((1000, 1000) if os.geteuid() == 0 else (os.geteuid(), os.getegid()))


def replaced_by(fd: int) -> str:
    """The file an open temp file of `files.replace` will become (`.NAME.HEX.tmp` -> NAME)."""
    name = Path(os.readlink(f"/proc/self/fd/{fd}")).name
    match = re.fullmatch(r"\.(.+)\.[0-9a-f]{12}\.tmp", name)
    assert match, name
    return match.group(1)


def test_env_written_as_root_goes_to_the_runtimes_user(client, folders, monkeypatch):
    """Run as root, the UI hands a new `.env` to the runtime's user (uid 1000), which must read
    it. Checked as any user: the process is told it is root, and the ownership it then asks the
    kernel for is recorded (and applied only when it really is root)."""
    really_root = os.geteuid() == 0
    asked = []
    real_fchown = os.fchown

    def fchown(fd, uid, gid):
        asked.append((replaced_by(fd), uid, gid))
        if really_root:
            real_fchown(fd, uid, gid)

    monkeypatch.setattr(os, "geteuid", lambda: 0)
    monkeypatch.setattr(os, "fchown", fchown)
    r = client.put("/api/agents/beta/env", headers=AUTH, json={"values": {"ASSISTANT_NAME": "B"}})
    assert r.status_code == 200, r.text
    assert asked == [(".env", 1000, 1000)]
    if really_root:
        assert (folders.agents_dir / "beta" / ".env").stat().st_uid == 1000


def test_only_the_env_the_runtime_reads_is_handed_to_its_user(tmp_path, monkeypatch):
    """The runtime (uid 1000) reads `.env`; the backup is the operator's alone and keeps the
    owner of whoever wrote it (as root: root), whoever uid 1000 is on the host."""
    env = tmp_path / ".env"
    env.write_text("A=1\n")
    chowned = []
    real = os.fchown

    def spy(fd, uid, gid):
        chowned.append((replaced_by(fd), uid))
        return real(fd, uid, gid) if os.geteuid() == 0 else None

    monkeypatch.setattr(os, "fchown", spy)
    envfile.write_env(env, {"A": "2"}, owner=(1000, 1000))
    assert chowned == [(".env", 1000)]
    assert env.with_name(".env.bak").stat().st_uid == os.geteuid()
    if os.geteuid() == 0:
        assert env.stat().st_uid == 1000


@pytest.mark.parametrize(
    "value",
    [
        "plain",
        "with space",
        "a#b",
        "x=y",
        'dq"inside',
        "$HOME",
        "back\\slash",
        " lead",
        "trail ",
        "",
        "ünïcode ✓",
        "`cmd`",
        "it's",
        "it's got 'quotes' and spaces",
        "'x'",
        '"y"',
        "'",
        "a # not a comment",
        "#hash",
        " 'both' ",
        "line\u2028sep",
    ],
)
def test_env_values_read_back_the_same_by_both_readers(tmp_path, value):
    env = tmp_path / ".env"
    env.write_text("A=1\n")
    envfile.write_env(env, {"K": value})
    assert envfile.read_env(env)["K"] == value
    assert standin_env(env.read_text())["K"] == value
    assert env.read_text().startswith("A=1\n")


def test_env_write_handles_duplicates_line_by_line(tmp_path):
    """One line is one entry, as the runtime reads it: a quote never swallows the next line."""
    env = tmp_path / ".env"
    env.write_text('A="line1\nline2"\nB=1\nB=2\nexport C=3\nD=\'open\nE=5\n')
    envfile.write_env(env, {"A": "one", "B": "two", "C": "three", "D": "four"})
    assert env.read_text() == 'A=one\nline2"\nB=two\nC=three\nD=four\nE=5\n'


@pytest.mark.parametrize(
    "text,expected",
    [
        ("K=a # b\n", "a # b"),  # `#` inside a value is not a comment
        ("K='a # b'\n", "a # b"),
        ('K="x\\ny"\n', "x\\ny"),  # no escapes
        ("K=$HOME\n", "$HOME"),  # no expansion
        ("export K = spaced \n", "spaced"),
        ("K=\"q'\n", "\"q'"),  # quotes that do not match stay
        ("K=1\r\nK=2\r\n", "2"),  # the last one wins
        ("  # K=commented\nK=ok\n", "ok"),
    ],
)
def test_env_has_one_reading_the_runtimes(text, expected):
    """SMBOS reads `.env` as the runtime (and its entrypoint's parseEnvText) does."""
    assert envfile.parse_env_text(text)["K"] == expected
    assert standin_env(text)["K"] == expected


# -------------------------------------------------------------------------------- memory


def test_memory_list_and_read(client):
    r = client.get("/api/agents/alpha/memory")
    assert r.status_code == 200
    files = {f["path"]: f for f in r.json()["files"]}
    assert {"context.md", "notes/todo.md", "blob.bin", "big.md"} <= set(files)
    assert "leak.md" not in files, "a link out of the memory folder is not listed"
    assert files["big.md"]["viewable"] is False
    r = client.get("/api/agents/alpha/memory/context.md")
    assert r.status_code == 200 and r.json()["text"] == "# Context\nremember this\n"
    assert client.get("/api/agents/alpha/memory/notes/todo.md").json()["text"] == "- a\n"


@pytest.mark.parametrize(
    "path,status",
    [
        ("../.env", (400, 404)),
        ("..%2F.env", (400,)),
        ("notes/../../.env", (400, 404)),
        ("notes%2F..%2F..%2F.env", (400,)),
        ("%2Fetc%2Fpasswd", (400,)),
        ("leak.md", (400,)),
        ("blob.bin", (415,)),
        ("big.md", (413,)),
        ("missing.md", (404,)),
        ("notes", (404,)),
    ],
)
def test_memory_refusals(client, path, status):
    r = client.get(f"/api/agents/alpha/memory/{path}")
    assert r.status_code in status, (path, r.status_code, r.text)
    no_canary(r)
    assert r.json()["error"]


def test_memory_paths_are_checked_in_the_operation(folders):
    agent = folders.load().get("alpha")
    for rel in (
        "../.env",
        "notes/../../.env",
        "/etc/passwd",
        "leak.md",
        "..",
        ".",
        "",
        "C:/x",
        "a\x00b",
    ):
        with pytest.raises(SmbosError) as info:
            ops.read_memory(agent, rel)
        assert info.value.http_status in (400, 404)
        assert CANARY not in str(info.value)
        assert ("'..'" in str(info.value)) == (".." in rel), (rel, str(info.value))
    # `./` is a path inside the folder, as a shell would complete it.
    assert ops.read_memory(agent, "./context.md") == "# Context\nremember this\n"
    assert ops.read_memory(agent, "notes/./todo.md") == "- a\n"


TEMP_NAMES = [
    ".smbos-tmp.mcp.json",
    "..mcp.json.smbos-tmp",
    ".smbos-tmp.CLAUDE.md",
    "notes/.smbos-tmp.x.md",
]


def test_entrypoint_temp_files_are_never_shown_and_git_ignored(client, folders):
    """The entrypoint writes `.mcp.json` (secrets written in) through a temp file: a left-over
    one is neither listed nor shown, by the UI or `smbos memory`, and git ignores it."""
    memory = folders.agents_dir / "alpha" / "memory"
    for name in TEMP_NAMES:
        (memory / name).write_text(f'{{"env": {{"NOTION_TOKEN": "{CANARY}"}}}}\n')
    listed = client.get("/api/agents/alpha/memory")
    assert not [f for f in listed.json()["files"] if "smbos-tmp" in f["path"]]
    root = folders.project_dir
    env = {"SMBOS_PROJECT": folders.name}
    assert "smbos-tmp" not in run_smbos("memory", "alpha", cwd=root, env=env).stdout
    for name in TEMP_NAMES:
        r = client.get(f"/api/agents/alpha/memory/{name}")
        assert r.status_code == 403, (name, r.text)
        no_canary(r)
        cli = run_smbos("memory", "alpha", name, cwd=root, env=env)
        assert cli.code == 2 and "never shown" in cli.stderr and CANARY not in cli.output
    repo = Path(__file__).resolve().parent.parent
    for name in TEMP_NAMES + [".mcp.json"]:
        ignored = subprocess.run(
            [
                "git",
                "-C",
                str(repo),
                "check-ignore",
                "-q",
                "--no-index",
                f"agents/andy/memory/{name}",
            ],
            check=False,
        )
        assert ignored.returncode == 0, f"{name} is not git-ignored"


# -------------------------------------------------------------------------------- skills


def test_skill_values_are_checked(client):
    r = client.get("/api/agents/alpha/skills")
    assert [s["id"] for s in r.json()["skills"]] == ["brief", "grid"]
    cases = [
        ({}, "topic: required"),
        ({"topic": "x", "count": "many"}, "count: expected a number"),
        ({"topic": "x", "tone": "loud"}, "tone: expected one of short, long"),
        ({"topic": "x", "day": "31/12/2026"}, "day: expected a date"),
        ({"topic": "x", "extra": "1"}, "extra: not an input"),
        ({"topic": "a\nb"}, "topic: expected a single line"),
    ]
    for values, message in cases:
        r = client.post("/api/agents/alpha/skills/brief", headers=AUTH, json={"values": values})
        assert r.status_code == 400 and message in r.json()["error"], (values, r.text)
    r = client.post("/api/agents/alpha/skills/nope", headers=AUTH, json={"values": {}})
    assert r.status_code == 404


def test_skill_prompt_rendering_and_result_parsing(folders):
    skill = folders.load().get("alpha").config.skills[0]
    prompt = ops.skill_prompt(skill, {"topic": "tea", "day": "2026-03-01", "notes": "a\nb"})
    assert prompt == "List 3 points about tea (short) for 2026-03-01. a\nb"
    assert ops.skill_prompt(skill, {"topic": "x", "count": "2.0"}).startswith("List 2 points")
    assert ops.parse_list("Intro\n- one\n* two\n3. three\n  + four\nnot this") == [
        "one",
        "two",
        "three",
        "four",
    ]
    assert ops.parse_list("just\n\ntext") == ["just", "text"]
    table = ops.parse_table(
        "Here:\n\n| Day | Start | Note |\n|---|:-:|---|\n| Mon | 09:00 | a \\| b |\n"
        "| Tue | 10:00 |\n\nAfter"
    )
    assert table == {
        "headers": ["Day", "Start", "Note"],
        "rows": [["Mon", "09:00", "a | b"], ["Tue", "10:00", ""]],
    }
    assert ops.parse_table("no table | here") is None
    grid = folders.load().get("alpha").config.skills[1]
    assert ops.skill_result(grid, "plain")["display"] == "text"


# ------------------------------------------------------------------ engine unreachable


def test_engine_unreachable_keeps_the_ui_up(folders, monkeypatch, tmp_path):
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-engine.sock")
    with make_client(create_app(folders, TOKEN)) as c:
        r = c.get("/api/status")
        assert r.status_code == 503
        data = r.json()
        assert data["engine"]["ok"] is False and "unreachable" in data["engine"]["error"]
        assert {a["id"]: a["state"] for a in data["agents"]} == {
            "alpha": "unknown",
            "beta": "unknown",
        }
        page = c.get("/").text
        assert 'id="engine-banner" class="banner error" role="alert">' in page, (
            "the banner is shown (not hidden) when the engine is away"
        )
        assert "no-engine.sock" in page
        for method, path in [
            ("POST", "/api/agents/alpha/restart"),
            ("GET", "/api/agents/alpha/logs"),
        ]:
            r = c.request(method, path, headers=AUTH)
            assert r.status_code == 503 and r.json()["kind"] == "engine_unreachable", r.text
        r = c.get("/api/agents/alpha")
        assert r.status_code == 200 and r.json()["engine"]["ok"] is False
        r = c.get("/api/agents/alpha/env", headers=AUTH)
        assert r.status_code == 200 and r.json()["restart_needed"] is None
        assert c.get("/agents/alpha").status_code == 200
        assert c.get("/api/heal").status_code == 200


def test_heal_log(folders):
    state = folders.project_dir / "state"
    state.mkdir()
    (state / "heal-log.jsonl").write_text(
        '{"at": "2026-01-01T00:00:00+00:00", "agent": "alpha", "action": "restarted", '
        '"reason": "3 failing health checks"}\nnot json\n'
        '{"at": "2026-01-01T00:05:00+00:00", "agent": "beta", "action": "skipped", "reason": "cap"}\n'
    )
    with make_client(create_app(folders, TOKEN)) as c:
        actions = c.get("/api/heal").json()["actions"]
    assert [a["agent"] for a in actions] == ["beta", "alpha"]


# ------------------------------------------------------------------------------- openapi


def _example_path(path: str) -> str:
    """A concrete URL of an OpenAPI path: every `{param}` filled with a value no agent has."""
    return re.sub(r"\{(\w+)\}", lambda m: "app.js" if m.group(1) == "file" else "nosuch", path)


def no_route(response) -> bool:
    """Whether the router found no route (its 404), not a route that answered 404."""
    if response.status_code != 404:
        return False
    if "json" in response.headers["content-type"]:
        return response.json().get("kind") == "http"
    return "<title>Not found" in response.text


def test_openapi_lists_every_route(client):
    """The document and the app agree, each checked on its own: the hand-written entries
    (openapi.ROUTES) name exactly the routes and methods the app serves, and every documented
    operation reaches a route when asked (the router never answers "no such route" for it)."""
    from smbos.web.app import routes
    from smbos.web.openapi import ROUTES

    doc = client.get("/api/openapi.json").json()
    assert doc["openapi"].startswith("3.")
    served = {
        (route.name, method.lower())
        for route in client.app.routes
        if route.name != "static"
        for method in route.methods - {"HEAD"}
    }
    written = {(name, method) for name, spec in ROUTES.items() for method in spec}
    assert served == written, (
        "served, not written:",
        served - written,
        "written, not served:",
        written - served,
    )
    listed = {(m, p) for p, ops_ in doc["paths"].items() for m in ops_}
    assert len(listed) == len(served) + 1  # static files are one entry
    assert ("get", "/static/{file}") in listed
    for method, path in sorted(listed):
        url = _example_path(path)
        r = client.request(
            method.upper(), url, headers=AUTH, json={} if method in ("post", "put") else None
        )
        assert r.status_code != 405, (method, path, r.text[:200])
        assert not no_route(r), f"{method.upper()} {url} is documented but no route answers it"
    assert no_route(client.get("/api/agents/nosuch/nothing")) and no_route(client.get("/nothing"))
    assert len(served) >= 25
    for path, operations in doc["paths"].items():
        for method, op in operations.items():
            assert (
                op["responses"]
                and op["summary"]
                and op.get("operationId")
                or path == "/static/{file}"
            ), (method, path)
            if method in ("post", "put"):
                assert op.get("security") == [{"token": []}], (method, path)
    assert len(routes()) == len(client.app.routes)


# --------------------------------------------------------------------------- the token


def test_token_file(tmp_path):
    token, created = load_or_create_token(tmp_path)
    path = tmp_path / "state" / "ui-token"
    assert created and len(token) >= 32 and stat.S_IMODE(path.stat().st_mode) == 0o600
    os.chmod(path, 0o644)
    again, created = load_or_create_token(tmp_path)
    assert again == token and not created and stat.S_IMODE(path.stat().st_mode) == 0o600


def test_ui_command_makes_the_token_once_and_serves(folders, monkeypatch):
    """`smbos ui` as a subprocess serves, and prints the token link when it made the token;
    run again (in this process, where it stops as soon as it would serve) it does not."""
    root = folders.project_dir
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k != "SMBOS_UI_TOKEN"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "smbos", "ui", "--port", str(port)],
        cwd=root,
        env={**env, "SMBOS_PROJECT": folders.name},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                r = httpx.get(f"http://127.0.0.1:{port}/api/agents", timeout=1)
                break
            except httpx.HTTPError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise AssertionError(proc.communicate(timeout=5))
                time.sleep(0.2)
        assert r.status_code == 200
    finally:
        proc.terminate()
        stdout, stderr = proc.communicate(timeout=15)
    token = (root / "state" / "ui-token").read_text().strip()
    assert f"#token={token}" in stdout + stderr
    served = serve_in_this_process(monkeypatch)
    again = run_smbos(
        "ui",
        "--port",
        str(free_port()),
        cwd=root,
        env={"SMBOS_PROJECT": folders.name, "SMBOS_UI_TOKEN": None},
    )
    assert again.code == 0 and len(served) == 1, again
    assert token not in again.output and "state/ui-token" in again.output
    short = run_smbos("ui", "--host", "0.0.0.0", cwd=root, env={"SMBOS_UI_TOKEN": "short"})
    assert short.code == 2 and "SMBOS_UI_TOKEN" in short.stderr


def serve_in_this_process(monkeypatch) -> list:
    """`smbos ui` run in this process returns where it would serve; the list gets each app."""
    import uvicorn

    served = []
    monkeypatch.setattr(uvicorn.Server, "run", lambda self: served.append(self.config.app))
    return served


def test_ui_token_never_on_the_command_line(folders, monkeypatch):
    """A token given as an argument is visible to every user in `ps`: refused, with the ways
    that are not (SMBOS_UI_TOKEN, --token-file)."""
    root = folders.project_dir
    for value in ("short", TOKEN):
        bad = run_smbos("ui", "--token", value, cwd=root)
        assert bad.code == 2 and "ps" in bad.stderr and "--token-file" in bad.stderr, bad
        assert value not in bad.output
    token_file = root / "my-token"
    token_file.write_text("tiny\n")
    assert run_smbos("ui", "--token-file", str(token_file), cwd=root).code == 2
    token_file.write_text(TOKEN + "\n")
    served = serve_in_this_process(monkeypatch)
    shown = run_smbos(
        "ui",
        "--port",
        str(free_port()),
        "--token-file",
        str(token_file),
        "--show-token",
        cwd=root,
        env={"SMBOS_PROJECT": folders.name},
    )
    assert shown.code == 0 and f"(from {token_file})" in shown.output, shown
    monkeypatch.chdir(root)  # the app was made for `agents/` of the directory it ran in
    with make_client(served[0]) as c:
        assert c.get("/api/agents/alpha/env", headers=AUTH).status_code == 200
        assert (
            c.get("/api/agents/alpha/env", headers={"X-SMBOS-Token": "x" * 20}).status_code == 403
        )
    assert not (root / "state" / "ui-token").exists()


# ---------------------------------------------------------------------------------- CLI


def test_cli_env_skill_memory_share_the_operations(folders):
    root = folders.project_dir
    env = {"SMBOS_PROJECT": folders.name}
    shown = run_smbos("env", "alpha", "--json", cwd=root, env=env)
    assert shown.code == 0, shown.output
    assert CANARY not in shown.output
    keys = {k["key"]: k for k in json.loads(shown.stdout)["keys"]}
    assert keys["ANTHROPIC_API_KEY"]["value"] == envfile.mask(CANARY)
    table = run_smbos("env", "alpha", cwd=root, env=env)
    assert table.code == 0 and CANARY not in table.output and envfile.mask(CANARY) in table.stdout
    changed = run_smbos(
        "env",
        "alpha",
        "ASSISTANT_NAME=Al",
        "UNKNOWN_FLAG=",
        f"ANTHROPIC_API_KEY={envfile.mask(CANARY)}",
        cwd=root,
        env=env,
    )
    assert changed.code == 0, changed.output
    assert "set ASSISTANT_NAME" in changed.stdout and "removed UNKNOWN_FLAG" in changed.stdout
    values = envfile.read_env(folders.agents_dir / "alpha" / ".env")
    assert values["ANTHROPIC_API_KEY"] == CANARY and values["ASSISTANT_NAME"] == "Al"
    proc = subprocess.run(
        [sys.executable, "-m", "smbos", "env", "beta", "--stdin", "ANTHROPIC_API_KEY"],
        cwd=root,
        input=CANARY + "\n",
        text=True,
        capture_output=True,
        env={**os.environ, **env},
        check=False,
    )
    assert proc.returncode == 0 and CANARY not in proc.stdout + proc.stderr
    assert envfile.read_env(folders.agents_dir / "beta" / ".env")["ANTHROPIC_API_KEY"] == CANARY
    bad = run_smbos("env", "alpha", "ASSISTANT_NAME", cwd=root, env=env)
    assert bad.code == 2 and "KEY=VALUE" in bad.stderr
    missing = run_smbos("skill", "alpha", "brief", cwd=root, env=env)
    assert missing.code == 2 and "topic: required" in missing.stderr
    listed = run_smbos("skill", "alpha", cwd=root, env=env)
    assert "brief: Brief [list]" in listed.stdout
    # A skill runs only on a running container: asked of an engine that is away, exit 3.
    down = run_smbos(
        "skill",
        "alpha",
        "brief",
        "-i",
        "topic=x",
        cwd=root,
        env={**env, "DOCKER_HOST": "unix:///nonexistent/docker.sock"},
    )
    assert down.code == 3 and "Docker engine unreachable" in down.stderr, down.output
    mem = run_smbos("memory", "alpha", cwd=root, env=env)
    assert "context.md" in mem.stdout and "leak.md" not in mem.stdout
    assert run_smbos("memory", "alpha", "context.md", cwd=root, env=env).stdout.startswith(
        "# Context"
    )
    leak = run_smbos("memory", "alpha", "../.env", cwd=root, env=env)
    assert leak.code == 2 and CANARY not in leak.output


# ====================================================================== live containers


@pytest.fixture(scope="module")
def live(tmp_path_factory, docker_client, standin_image):  # noqa: F811 - fixtures
    """Two stand-in agents, up through the real CLI, shared by the tests below."""
    root = tmp_path_factory.mktemp("webfleet")
    (root / "agents").mkdir()
    fleet = LiveFleet(
        root=root, name=f"w{secrets.token_hex(4)}", image=standin_image, client=docker_client
    )
    fleet.add(
        "alpha",
        config={
            "schedules": [{"id": "daily", "cron": "0 9 * * *", "prompt": "daily check"}],
            "skills": SKILLS,
        },
    )
    fleet.add("beta")
    try:
        up = fleet.smbos("up", "--no-build", "--wait-timeout", "150")
        assert up.code == 0, up.output
        yield fleet
    finally:
        fleet.teardown()


@pytest.fixture(scope="module")
def live_app(live):
    project = Project.from_options(live.agents, None, live.name, live.image)
    return create_app(project, TOKEN)


@pytest.fixture(scope="module")
def server(live_app):
    with UIServer(live_app) as srv:
        yield srv


@pytest.fixture
def api(server):
    with httpx.Client(base_url=server.url, timeout=60, trust_env=False) as c:
        yield c


def wait_healthy(api, agent_id: str, timeout: float = 90) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        row = api.get("/api/status", params={"agent": agent_id}).json()["agents"][0]
        if row["state"] == "running" and row["health"] == "healthy" and row["api"] == "ok":
            return row
        assert time.monotonic() < deadline, json.dumps(row)
        time.sleep(0.5)


def assert_all_running(response, ports: dict[str, int]) -> None:
    """`GET /api/status` says every agent of `ports` runs, answers, and is current."""
    assert response.status_code == 200
    data = response.json()
    assert data["engine"] == {"ok": True, "error": None}
    rows = {row["id"]: row for row in data["agents"]}
    assert set(rows) == set(ports)
    for agent_id, row in rows.items():
        assert row["state"] == "running" and row["health"] == "healthy" and row["api"] == "ok"
        assert row["published"] == f"127.0.0.1:{ports[agent_id]}"
        assert row["restart_needed"] is False and row["action"] is None and row["drift"] == ""


@pytest.mark.docker
def test_live_status_and_agent(api, live):
    r = api.get("/api/status")
    assert_all_running(r, live.ports)
    detail = api.get("/api/agents/alpha").json()
    assert detail["status"]["state"] == "running" and detail["skills"] == ["brief", "grid"]
    assert "identity-of-alpha" in detail["identity"]
    for secret in live.secrets.values():
        assert secret not in r.text and secret not in json.dumps(detail)
    page = api.get("/")
    assert page.status_code == 200 and 'data-agent="beta"' in page.text


@pytest.mark.docker
def test_live_chat_streams(server, live):
    """The reply streams: `typing` reaches us before the runtime has produced the message."""
    url = f"{server.url}/api/agents/alpha/chat"
    events, stamps = [], []
    with (
        httpx.Client(timeout=60, trust_env=False) as c,
        c.stream(
            "POST", url, headers={**AUTH, "Origin": server.url}, json={"message": "hello ünïcode"}
        ) as r,
    ):
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/event-stream")
        buffer = ""
        for chunk in r.iter_text():
            buffer += chunk
            while "\n\n" in buffer:
                frame, buffer = buffer.split("\n\n", 1)
                events += sse_events(frame + "\n\n")
                stamps.append(time.monotonic())
    kinds = [e[0] for e in events]
    assert kinds == ["typing", "message", "done"], events
    assert stamps[1] - stamps[0] >= 0.05, "typing and the reply arrived together: buffered"
    fields = reply_fields(events[1][1]["text"])
    assert fields["echo"] == "hello ünïcode" and fields["assistant"] == "Alpha"
    expected = hashlib.sha256(live.secrets["alpha"].encode()).hexdigest()[:12]
    assert fields["credential_sha256_12"] == expected


@pytest.mark.docker
def test_live_proxy_streams_two_agents_at_once(server, live):
    async def one(client, agent_id, message):
        stamps, body = [], ""
        async with client.stream(
            "POST",
            f"{server.url}/agents/{agent_id}/api/chat",
            headers={**AUTH, "Accept": "text/event-stream"},
            json={"message": message},
        ) as r:
            assert r.status_code == 200
            assert r.headers["content-type"].startswith("text/event-stream")
            async for chunk in r.aiter_text():
                body += chunk
                stamps.append((time.monotonic(), chunk))
        return body, stamps

    async def both():
        async with httpx.AsyncClient(timeout=60, trust_env=False) as client:
            started = time.monotonic()
            results = await asyncio.gather(
                *(one(client, a, f"to {a} {i}") for i in range(3) for a in ("alpha", "beta"))
            )
            return results, time.monotonic() - started

    results, elapsed = asyncio.run(both())
    for index, (body, stamps) in enumerate(results):
        agent_id = ("alpha", "beta")[index % 2]
        events = sse_events(body)
        assert [e[0] for e in events] == ["typing", "message", "done"], body
        fields = reply_fields(events[1][1]["text"])
        assert (
            fields["assistant"] == agent_id.title()
            and fields["echo"] == f"to {agent_id} {index // 2}"
        )
        first_typing = next(t for t, chunk in stamps if "typing" in chunk)
        first_message = next(t for t, chunk in stamps if "event: message" in chunk)
        assert first_message - first_typing >= 0.05, "the proxy buffered the stream"
    assert elapsed < 6 * 0.1 + 5


@pytest.mark.docker
def test_live_skill_run(api, server, live):
    values = {"topic": "tea & <b>", "count": "2", "day": "2026-03-01"}
    r = api.post(
        "/api/agents/alpha/skills/brief",
        headers={**AUTH, "Accept": "application/json"},
        json={"values": values},
    )
    assert r.status_code == 200, r.text
    data = r.json()
    assert data["prompt"] == "List 2 points about tea & <b> (short) for 2026-03-01. "
    assert reply_fields(data["messages"][0])["echo"] == data["prompt"]
    assert data["result"]["display"] == "list" and data["result"]["items"] == [data["messages"][0]]
    with httpx.Client(timeout=60, trust_env=False) as c:
        body = c.post(
            f"{server.url}/api/agents/alpha/skills/grid", headers=AUTH, json={"values": {}}
        ).text
    events = sse_events(body)
    assert [e[0] for e in events] == ["prompt", "typing", "message", "result", "done"], body
    assert events[0][1]["text"] == "Answer with a table"
    assert events[3][1]["display"] == "text" and "no Markdown table" in events[3][1]["note"]
    root = live.root
    cli = run_smbos("skill", "alpha", "brief", "--json", "-i", "topic=tea", cwd=root, env=live.env)
    assert cli.code == 0, cli.output
    out = json.loads(cli.stdout)
    assert out["prompt"].startswith("List 3 points about tea (short)")
    assert out["result"]["items"] == out["messages"]


@pytest.mark.docker
def test_live_lifecycle_and_restart_needed(api, live):
    """Stop, start, restart through the API; a new secret reaches the runtime only after the
    restart the UI says is needed."""
    env_path = live.agents / "alpha" / ".env"
    new_secret = "sk-ant-api03-ROTATED" + secrets.token_hex(12)
    r = api.put(
        "/api/agents/alpha/env", headers=AUTH, json={"values": {"ANTHROPIC_API_KEY": new_secret}}
    )
    assert r.status_code == 200 and r.json()["changed"] == ["ANTHROPIC_API_KEY"]
    assert r.json()["restart_needed"] is True
    assert new_secret not in r.text and live.secrets["alpha"] not in r.text
    if os.geteuid() == 0:
        assert env_path.stat().st_uid == 1000, "the runtime's user must read .env at start"
    # As root, the one warning may say whose account uid 1000 is on this host (tests of their own).
    assert [
        w for w in r.json()["warnings"] if "the runtime's user (fixed" not in w
    ] == [] or os.geteuid() != 0
    row = api.get("/api/status", params={"agent": "alpha"}).json()["agents"][0]
    assert row["restart_needed"] is True
    old_hash = hashlib.sha256(live.secrets["alpha"].encode()).hexdigest()[:12]
    new_hash = hashlib.sha256(new_secret.encode()).hexdigest()[:12]
    reply = sse_events(
        api.post("/api/agents/alpha/chat", headers=AUTH, json={"message": "before"}).text
    )[1][1]["text"]
    assert reply_fields(reply)["credential_sha256_12"] == old_hash

    stop = api.post("/api/agents/alpha/stop", headers=AUTH)
    assert stop.status_code == 200 and stop.json()["status"]["state"] == "exited"
    down = api.get("/api/agents/alpha/tasks")
    assert down.status_code == 502 and down.json()["kind"] == "runtime_refused"
    assert api.get("/agents/alpha/api/health", headers=AUTH).status_code == 502
    start = api.post("/api/agents/alpha/start", headers=AUTH)
    assert start.status_code == 200 and start.json()["status"]["state"] == "running"
    wait_healthy(api, "alpha")
    restart = api.post(
        "/api/agents/alpha/restart", headers={**AUTH, "Origin": str(api.base_url).rstrip("/")}
    )
    assert restart.status_code == 200, restart.text
    assert restart.json()["action"] == "restart"
    row = wait_healthy(api, "alpha")
    assert row["restart_needed"] is False and row["uptime_s"] < 60
    reply = sse_events(
        api.post("/api/agents/alpha/chat", headers=AUTH, json={"message": "after"}).text
    )[1][1]["text"]
    assert reply_fields(reply)["credential_sha256_12"] == new_hash
    # An action while another runs on the same agent is refused, not queued.
    with httpx.Client(base_url=api.base_url, timeout=60, trust_env=False) as other:
        results = {}

        def restart_in_thread():
            results["first"] = other.post("/api/agents/beta/restart", headers=AUTH)

        thread = threading.Thread(target=restart_in_thread)
        thread.start()
        time.sleep(0.3)
        second = api.post("/api/agents/beta/stop", headers=AUTH)
        thread.join(60)
    assert results["first"].status_code == 200
    assert second.status_code == 409 and "restart already in progress" in second.json()["error"]
    wait_healthy(api, "beta")


@pytest.mark.docker
def test_live_no_container_is_409(live):
    folder = live.add("gamma")
    try:
        project = Project.from_options(live.agents, None, live.name, live.image)
        with make_client(create_app(project, TOKEN)) as c:
            r = c.post("/api/agents/gamma/restart", headers=AUTH)
            assert r.status_code == 409 and "smbos up gamma" in r.json()["error"]
            assert c.get("/api/agents/gamma/logs").status_code == 409
            row = c.get("/api/status", params={"agent": "gamma"}).json()["agents"][0]
            assert row["state"] == "not created" and row["drift"] == "not created"
    finally:
        import shutil

        shutil.rmtree(folder)


def test_env_reading_is_the_entrypoints(tmp_path):
    """Python's reading of `.env` and the image entrypoint's `parseEnvText` (the one reader of
    smbos/nanoclaw/image/entrypoint/env.mjs) agree, on tricky lines and on random ones (one run of node
    for all of them)."""
    import random
    import shutil

    node = shutil.which("node")
    if node is None:
        if IN_CI:
            pytest.fail("node is required in CI (the entrypoint's .env reader is tested with it)")
        pytest.skip("node not found: the entrypoint's reader cannot be run here")
    rng = random.Random(7)
    pieces = [
        "K",
        "A_1",
        "export ",
        "=",
        "==",
        " ",
        "\t",
        "#",
        " #",
        "'",
        '"',
        "x",
        "é",
        "\u00a0",
        "\u2028",
        "\r",
        "\r\n",
        "\n",
        "\v",
        "\ufeff",
        "$HOME",
        "\\n",
        "ok",
    ]
    texts = [
        "K=a # b\n",
        "K='a # b'\n",
        'K="x\\ny"\n',
        "export K = spaced \n",
        "K=\"q'\n",
        "K=1\r\nK=2\r\n",
        "  # K=commented\nK=ok\n",
        "K=''x''\n",
        "K=\u00a0v\u00a0\n",
        "=nokey\n",
        "export\tK=v\n",
        "K='\n",
    ]
    texts += ["".join(rng.choice(pieces) for _ in range(rng.randint(1, 30))) for _ in range(400)]
    script = tmp_path / "read.mjs"
    reader = (
        Path(__file__).resolve().parent.parent
        / "smbos"
        / "nanoclaw"
        / "image"
        / "entrypoint"
        / "env.mjs"
    )
    script.write_text(
        f"import {{ parseEnvText }} from {json.dumps(str(reader))};\n"
        "let input = ''; process.stdin.on('data', (d) => { input += d; });\n"
        "process.stdin.on('end', () => process.stdout.write(JSON.stringify("
        "JSON.parse(input).map((t) => parseEnvText(t)))));\n"
    )
    proc = subprocess.run(
        [node, str(script)],
        input=json.dumps(texts),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    for text, theirs in zip(texts, json.loads(proc.stdout)):
        assert envfile.parse_env_text(text) == theirs, repr(text)
