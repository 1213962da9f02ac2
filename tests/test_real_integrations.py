"""The real-runtime tier: integrations on real NanoClaw (docs/integrations/).

- Telegram by configuration: with `channels.telegram: false` the runtime makes no connection
  even with a token in `.env`; switched on, NanoClaw's own bot connects to a fake Telegram Bot
  API (tests/fakes/telegram.mjs, reached as api.telegram.org through the test CA the image
  trusts), the declared chat is registered through NanoClaw's IPC, a message from it reaches the
  agent and the reply goes back, a message from an undeclared chat is dropped, and a chat taken
  out of config.yaml is unregistered.
- MCP servers from the agent image: the turn request of an agent with the calendar and notion
  integrations lists their tools (`mcp__calendar__*`, `mcp__notion__*`), one without lists none.
- Calendar's credential files are in every per-turn container, writable, and never shown.
"""

from __future__ import annotations

import json
import re
import secrets
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import yaml

from smbos import catalog
from smbos.project import Project
from smbos.web.app import create_app

from .conftest import ENV_EXAMPLE
from .test_web_api import make_client

pytestmark = [pytest.mark.real, pytest.mark.docker]

TOKEN = "t" * 32
DECLARED, UNDECLARED = 4242001, 5151002


def _status(fleet, agent_id: str) -> dict:
    result = fleet.smbos("status", "--json", agent_id)
    assert result.code == 0, result.output
    return json.loads(result.stdout)[0]


def _groups(fleet, agent_id: str) -> list[dict]:
    import urllib.request

    with urllib.request.urlopen(f"{fleet.url(agent_id)}/api/state", timeout=10) as resp:
        return json.loads(resp.read())["groups"]


def test_telegram_by_configuration_on_the_real_runtime(real_fleet, fake_telegram):
    token = fake_telegram.token
    chat = {"id": f"tg:{DECLARED}", "name": "Operator", "requires_trigger": False}
    folder = real_fleet.add_real(
        "tele",
        config={"channels": {"telegram": False, "telegram_chats": [chat]}},
        env_extra=f"TELEGRAM_BOT_TOKEN={token}\n",
        env_example=ENV_EXAMPLE + "# Telegram bot token.\nTELEGRAM_BOT_TOKEN=\n",
    )
    up = real_fleet.up()
    assert up.code == 0, up.output
    fake_telegram.join(f"{real_fleet.name}_tele")

    # Off: the token is in .env, but the runtime gets none and connects nowhere.
    copied = (real_fleet.state("tele") / ".env").read_text()
    assert "TELEGRAM_BOT_TOKEN" not in copied and token not in copied
    time.sleep(8)
    assert fake_telegram.calls() == []
    assert _status(real_fleet, "tele")["telegram"] == "off"

    # On: NanoClaw's own bot connects (the network and the fake stay across the recreate).
    config = yaml.safe_load((folder / "config.yaml").read_text())
    config["channels"]["telegram"] = True
    (folder / "config.yaml").write_text(yaml.safe_dump(config))
    up = real_fleet.up()
    assert up.code == 0, up.output
    row = real_fleet.wait(
        lambda: (lambda r: r if r["telegram"] == "connected" else None)(
            _status(real_fleet, "tele")
        ),
        timeout=90,
        what="telegram connected in smbos status",
    )
    assert "1 chat(s)" in row["telegram_detail"]
    calls = fake_telegram.calls()
    assert {"getMe", "getUpdates"} <= {c["method"] for c in calls}
    assert all(c["token_ok"] for c in calls)
    # Registered through NanoClaw's IPC, with its own folder linked to the agent's memory.
    group = next(g for g in _groups(real_fleet, "tele") if g["jid"] == f"tg:{DECLARED}")
    assert group["folder"] == f"telegram-{DECLARED}" and group["name"] == "Operator"
    assert (real_fleet.state("tele") / "groups" / group["folder"]).resolve() == (
        folder / "memory"
    ).resolve()

    before = len(real_fleet.fake.requests())
    fake_telegram.message(UNDECLARED, "undeclared chat says hello")
    fake_telegram.message(DECLARED, "hello from telegram")
    replies = real_fleet.wait(
        lambda: [t for t in fake_telegram.sent(DECLARED) if "FAKE-REPLY: hello from telegram" in t],
        timeout=180,
        interval=2,
        what="the agent's reply in the declared chat",
    )
    assert replies
    assert fake_telegram.sent(UNDECLARED) == []
    asked = json.dumps(real_fleet.fake.requests()[before:])
    assert "hello from telegram" in asked
    assert "undeclared chat says hello" not in asked

    # A chat removed from config.yaml is unregistered through IPC (the unregister-group patch):
    # the runtime no longer serves it, and its folder (the agent's memory) stays.
    config["channels"]["telegram_chats"] = []
    (folder / "config.yaml").write_text(yaml.safe_dump(config))
    assert real_fleet.up().code == 0
    real_fleet.wait(
        lambda: not [g for g in _groups(real_fleet, "tele") if g["jid"].startswith("tg:")],
        timeout=90,
        what="the removed chat unregistered",
    )
    row = real_fleet.wait(
        lambda: (
            lambda r: (
                r if r["telegram"] == "connected" and "0 chat(s)" in r["telegram_detail"] else None
            )
        )(_status(real_fleet, "tele")),
        timeout=90,
        what="telegram connected, no chat",
    )
    assert "not declared" not in row["telegram_detail"]
    assert (folder / "memory").is_dir() and any((folder / "memory").iterdir())
    before = len(real_fleet.fake.requests())
    replies = len(fake_telegram.sent(DECLARED))
    update = fake_telegram.message(DECLARED, "hello again from a removed chat")["update_id"]
    real_fleet.wait(
        lambda: [
            c
            for c in fake_telegram.calls()
            if c["method"] == "getUpdates" and int(c["body"].get("offset") or 0) > update
        ],
        timeout=60,
        what="the bot confirming the update from the removed chat",
    )
    time.sleep(5)
    assert "hello again from a removed chat" not in json.dumps(real_fleet.fake.requests()[before:])
    assert len(fake_telegram.sent(DECLARED)) == replies
    table = real_fleet.smbos("status", "tele")
    assert "TELEGRAM" in table.stdout and "connected" in table.stdout

    # A token Telegram refuses: the runtime stays up (the telegram-connect patch) and says why.
    env = (folder / ".env").read_text().replace(token, token[:-4] + "nope")
    (folder / ".env").write_text(env)
    assert real_fleet.smbos("restart", "tele").code == 0
    row = real_fleet.wait(
        lambda: (lambda r: r if r["telegram"] == "failed" else None)(_status(real_fleet, "tele")),
        timeout=90,
        what="telegram failed in smbos status",
    )
    assert "401" in row["telegram_detail"] and "Unauthorized" in row["telegram_detail"]
    time.sleep(5)
    row = _status(real_fleet, "tele")
    assert row["state"] == "running" and row["restarts"] == 0 and row["api"] == "ok", row

    outputs = [up.output, table.output]
    for args in (
        ("logs", "tele", "--tail", "all"),
        ("status", "--json"),
        ("env", "tele"),
        ("memory", "tele"),
    ):
        outputs.append(real_fleet.smbos(*args).output)
    for text in outputs:
        assert token not in text and token[:-4] + "nope" not in text


def _tool_names(requests: list[dict]) -> set[str]:
    """The tool names the turn's requests offered the model (messages and count_tokens)."""
    names: set[str] = set()
    for request in requests:
        if not request["path"].startswith("/v1/messages"):
            continue
        for tool in (request["body"] or {}).get("tools") or []:
            if isinstance(tool, dict) and tool.get("name"):
                names.add(tool["name"])
    return names


def _calendar_files(folder, canary: str) -> None:
    creds = folder / "credentials" / "calendar"
    creds.mkdir(parents=True)
    (creds / "gcp-oauth.keys.json").write_text(
        json.dumps(
            {
                "installed": {
                    "client_id": f"{canary}-client.apps.googleusercontent.com",
                    "client_secret": f"{canary}-secret",
                    "redirect_uris": ["http://localhost"],
                    "auth_uri": "https://accounts.google.com/o/oauth2/auth",
                    "token_uri": "https://oauth2.googleapis.com/token",
                }
            }
        )
    )
    (creds / "tokens.json").write_text(
        json.dumps(
            {
                "normal": {
                    "access_token": f"{canary}-access",
                    "refresh_token": f"{canary}-refresh",
                    "scope": "https://www.googleapis.com/auth/calendar",
                    "token_type": "Bearer",
                    "expiry_date": 4102444800000,
                }
            }
        )
    )


def test_mcp_servers_from_the_agent_image_and_calendar_credentials(real_fleet):
    canary = f"credcanary{secrets.token_hex(8)}"
    notion = f"ntn_{secrets.token_hex(16)}"
    example = ENV_EXAMPLE + "# Notion integration secret.\nNOTION_TOKEN=\n"
    planner = real_fleet.add_real(
        "planner",
        config={"integrations": ["calendar", "notion"]},
        env_extra=f"NOTION_TOKEN={notion}\n",
        env_example=example,
    )
    _calendar_files(planner, canary)
    real_fleet.add_real("bare")
    up = real_fleet.up()
    assert up.code == 0, up.output

    servers = json.loads((planner / "memory" / ".mcp.json").read_text())["mcpServers"]
    assert {name: s["command"] for name, s in servers.items()} == {
        "calendar": "google-calendar-mcp",
        "notion": "notion-mcp-server",
    }

    before = len(real_fleet.fake.requests())
    chat = real_fleet.smbos(
        "chat", "planner", "what is on my calendar?", "--timeout", "240", timeout=300
    )
    assert chat.code == 0, chat.output
    names = _tool_names(real_fleet.fake.requests()[before:])
    assert any(n.startswith("mcp__calendar__") for n in names), sorted(names)
    assert any(n.startswith("mcp__notion__") for n in names), sorted(names)

    before = len(real_fleet.fake.requests())
    chat = real_fleet.smbos(
        "chat", "bare", "what is on my calendar?", "--timeout", "240", timeout=300
    )
    assert chat.code == 0, chat.output
    names = _tool_names(real_fleet.fake.requests()[before:])
    assert names, "the turn offered no tools at all"
    assert not [n for n in names if re.match(r"mcp__(calendar|notion)__", n)], sorted(names)

    # The credential files in a per-turn container: the server's folder, writable.
    target = catalog.CALENDAR_DIR
    with ThreadPoolExecutor(1) as pool:
        slow = pool.submit(
            real_fleet.smbos, "chat", "planner", "fake:slow wait", "--timeout", "240", timeout=300
        )
        turn = real_fleet.wait(
            lambda: real_fleet.client.containers.list(
                filters={
                    "label": [
                        "io.smbos.turn=true",
                        f"io.smbos.project={real_fleet.name}",
                        "io.smbos.agent=planner",
                    ]
                }
            ),
            timeout=120,
            what="planner's turn container",
        )[0]
        mounts = {m["Destination"]: m for m in turn.attrs["Mounts"]}
        assert mounts[target]["RW"] is True
        assert mounts[target]["Source"] == str(planner / "credentials" / "calendar")
        probe = turn.exec_run(
            [
                "sh",
                "-c",
                f"test -r {target}/gcp-oauth.keys.json && "
                f"test -w {target}/tokens.json && "
                f"touch {target}/.write-probe && id -u",
            ]
        )
        assert probe.exit_code == 0 and probe.output.decode().strip() == "1000", probe.output
        # Both servers run in the turn (the patterns do not match this command's own line) ...
        ps = (
            "for f in /proc/[0-9]*/cmdline; do tr '\\0' ' ' < $f; echo; done > /tmp/ps.txt; "
            "grep -q 'google-calendar-mc[p]' /tmp/ps.txt && grep -q 'notion-mcp-serve[r]' "
            "/tmp/ps.txt"
        )
        real_fleet.wait(
            lambda: turn.exec_run(["sh", "-c", ps]).exit_code == 0,
            timeout=90,
            interval=1,
            what="both MCP servers running in the turn",
        )
        # ... from the image: installed there, nothing fetched by npx.
        installed = turn.exec_run(
            [
                "sh",
                "-c",
                "command -v google-calendar-mcp && "
                "command -v notion-mcp-server && "
                "! test -e $HOME/.npm/_npx",
            ]
        )
        assert installed.exit_code == 0, installed.output
        assert slow.result().code == 0
    (planner / "credentials" / "calendar" / ".write-probe").unlink()

    # Never shown: not by the CLI, not by the UI, not in the Compose file.
    outputs = [up.output, (real_fleet.root / "compose" / "docker-compose.yml").read_text()]
    for args in (
        ("validate",),
        ("list", "--json"),
        ("status", "--json"),
        ("doctor",),
        ("logs", "planner", "--tail", "all"),
        ("memory", "planner"),
        ("env", "planner"),
        ("env", "planner", "--json"),
    ):
        outputs.append(real_fleet.smbos(*args).output)
    project = Project.from_options(real_fleet.agents, None, real_fleet.name, real_fleet.image)
    with make_client(create_app(project, TOKEN)) as ui:
        headers = {"X-SMBOS-Token": TOKEN}
        for path in ("", "/logs?tail=5000", "/memory", "/env", "/messages"):
            outputs.append(ui.get(f"/api/agents/planner{path}", headers=headers).text)
        for page in ("/", "/agents/planner", "/agents/planner/settings"):
            outputs.append(ui.get(page, headers=headers).text)
    for text in outputs:
        assert canary not in text and notion not in text
