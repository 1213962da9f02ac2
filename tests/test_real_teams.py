"""The real-runtime tier: agent teams by configuration on real NanoClaw (ADR 017).

What the model is offered is read from the fake Anthropic API's record of each request:

- `runtime.swarms: false`: no request of that agent's turns offers the team tools (TeamCreate,
  TeamDelete, SendMessage), in the web chat and in a scheduled task; `true`: they are offered in
  both.
- A member of `team/` appears to the model: its name and description are in the subagent list
  Claude Code sends (the description of its Task/Agent tool), in both kinds of turn.
- A member whose file is removed is gone from that list after the next start, and switching
  `swarms` off on a running agent takes the team tools away (`smbos up` recreates it).
- The group's other Claude settings stay as the runtime wrote them.
"""

from __future__ import annotations

import json
import time

import pytest
import yaml

pytestmark = [pytest.mark.real, pytest.mark.docker]

TEAM_TOOLS = {"TeamCreate", "TeamDelete", "SendMessage"}
SCOUT = """---
name: scout
description: Scout-7f3a finds sources for a question and lists them
tools: Read, WebSearch, WebFetch
model: haiku
---
You are the scout. Find sources for the question and list them, one line each.
"""
EDITOR = """---
name: editor
description: Editor-91c2 checks a draft against the voice guide
---
You are the editor. Mark every sentence that breaks the voice guide.
"""
MARKS = {"scout": "Scout-7f3a", "editor": "Editor-91c2"}


def _last_user_text(body: dict) -> str:
    """The text of the last user message that is not only system reminders (as the fake
    reads it): the prompt of the turn, whatever history comes before it."""
    for message in reversed(body.get("messages") or []):
        if message.get("role") != "user":
            continue
        content = message.get("content")
        parts = (
            [content]
            if isinstance(content, str)
            else [c.get("text", "") for c in content or [] if c.get("type") == "text"]
        )
        text = "\n".join(p for p in parts if not p.strip().startswith("<system-reminder>"))
        if text.strip():
            return text
    return ""


def _turn_requests(requests: list[dict], marker: str) -> list[dict]:
    """The Messages requests of the turn whose prompt is `marker` (and that offer tools)."""
    return [
        r
        for r in requests
        if r["path"].startswith("/v1/messages")
        and (r["body"] or {}).get("tools")
        and marker in _last_user_text(r["body"])
    ]


def saw(requests: list[dict], marker: str) -> dict:
    """What the model was offered in one turn: the tools, and where each member appeared."""
    turn = _turn_requests(requests, marker)
    assert turn, f"no request of the turn {marker!r} reached the fake API"
    tools: set[str] = set()
    members: dict[str, list[str]] = {}
    subagent_list: dict[str, str] = {}
    for request in turn:
        for tool in request["body"]["tools"]:
            tools.add(tool.get("name", ""))
            text = json.dumps(tool)
            for member, mark in MARKS.items():
                if mark in text:
                    members.setdefault(member, []).append(f"tool {tool.get('name')}")
                    subagent_list = subagent_list or _agent_lines(tool.get("description", ""))
        system = json.dumps(request["body"].get("system"))
        for member, mark in MARKS.items():
            if mark in system:
                members.setdefault(member, []).append("system prompt")
    return {
        "requests": len(turn),
        "tools": sorted(tools),
        "team_tools": sorted(tools & TEAM_TOOLS),
        "members": {m: sorted(set(w)) for m, w in members.items()},
        "subagent_list": subagent_list,
    }


def _agent_lines(description: str) -> dict[str, str]:
    """The subagent list in a tool description (`- <name>: <description> (Tools: ...)`), by
    name; the members' lines in full, the others cut short."""
    found = {}
    for line in description.splitlines():
        if line.startswith("- ") and ":" in line:
            name, _, rest = line[2:].partition(":")
            found[name] = rest.strip() if name in MARKS else rest.strip()[:40] + "..."
    return found


def _settings(fleet, agent_id: str, folder: str = "web-chat") -> dict:
    path = fleet.state(agent_id) / "data" / "sessions" / folder / ".claude" / "settings.json"
    return json.loads(path.read_text())


def _chat(fleet, agent_id: str, text: str) -> None:
    result = fleet.smbos("chat", agent_id, text, "--timeout", "240", timeout=300)
    assert result.code == 0, result.output
    assert f"FAKE-REPLY: {text}" in result.stdout


def test_agent_teams_and_members_by_configuration(real_fleet):
    seen: dict[str, dict] = {}
    folders = {}
    for agent_id, swarms in (("solo", False), ("crew", True)):
        schedule = {"id": "tick", "interval": "1m", "prompt": f"sched-check-{agent_id}"}
        folders[agent_id] = real_fleet.add_real(
            agent_id,
            config={
                "runtime": {"container_isolation": "docker", "swarms": swarms},
                "schedules": [schedule],
            },
        )
        (folders[agent_id] / "team").mkdir()
        (folders[agent_id] / "team" / "scout.md").write_text(SCOUT)
        (folders[agent_id] / "team" / "editor.md").write_text(EDITOR)
    up = real_fleet.up()
    assert up.code == 0, up.output
    listed = {r["id"]: r for r in json.loads(real_fleet.smbos("list", "--json").stdout)}
    assert listed["solo"]["teams"] is False and listed["crew"]["teams"] is True
    status = {r["id"]: r for r in json.loads(real_fleet.smbos("status", "--json").stdout)}
    assert status["crew"]["team"] == ["editor", "scout"] and status["crew"]["teams"] is True

    for agent_id in ("solo", "crew"):
        _chat(real_fleet, agent_id, f"chat-check-{agent_id}")
        seen[f"{agent_id} web chat"] = saw(real_fleet.fake.requests(), f"chat-check-{agent_id}")

    # The same in a scheduled task (NanoClaw's own scheduler, the same group).
    def scheduled():
        requests = real_fleet.fake.requests()
        done = {a: _turn_requests(requests, f"sched-check-{a}") for a in ("solo", "crew")}
        return requests if all(done.values()) else None

    requests = real_fleet.wait(
        scheduled, timeout=200, interval=5, what="a scheduled run of both agents"
    )
    for agent_id in ("solo", "crew"):
        seen[f"{agent_id} scheduled task"] = saw(requests, f"sched-check-{agent_id}")
    print("\nwhat the model saw:\n" + json.dumps(seen, indent=2))

    for turn in ("web chat", "scheduled task"):
        off, on = seen[f"solo {turn}"], seen[f"crew {turn}"]
        assert off["team_tools"] == [], (turn, off["tools"])
        assert on["team_tools"] == sorted(TEAM_TOOLS), (turn, on["tools"])
        for member in ("scout", "editor"):
            assert off["members"].get(member) and on["members"].get(member), (turn, off, on)

    # SMBOS owns one key; the runtime's other settings are as it wrote them.
    for agent_id, value in (("solo", "0"), ("crew", "1")):
        env = _settings(real_fleet, agent_id)["env"]
        assert env["CLAUDE_CODE_EXPERIMENTAL_AGENT_TEAMS"] == value
        assert env["CLAUDE_CODE_ADDITIONAL_DIRECTORIES_CLAUDE_MD"] == "1"
        assert env["CLAUDE_CODE_DISABLE_AUTO_MEMORY"] == "0"

    # A member removed and teams switched off: both take effect at the next start.
    (folders["crew"] / "team" / "editor.md").unlink()
    config = yaml.safe_load((folders["crew"] / "config.yaml").read_text())
    config["runtime"]["swarms"] = False
    (folders["crew"] / "config.yaml").write_text(yaml.safe_dump(config))
    drift = {r["id"]: r["drift"] for r in json.loads(real_fleet.smbos("status", "--json").stdout)}
    assert drift == {"solo": "", "crew": "needs recreate"}
    up = real_fleet.up()
    assert up.code == 0, up.output
    time.sleep(1)
    _chat(real_fleet, "crew", "chat-again-crew")
    again = saw(real_fleet.fake.requests(), "chat-again-crew")
    seen["crew web chat after the change"] = again
    print("after removing editor.md and swarms: false:\n" + json.dumps(again, indent=2))
    assert again["team_tools"] == [], again["tools"]
    assert again["members"].get("scout") and "editor" not in again["members"], again
    assert "scout" in again["subagent_list"] and "editor" not in again["subagent_list"]
    agents_dir = real_fleet.state("crew") / "data" / "sessions" / "web-chat" / ".claude" / "agents"
    assert sorted(p.name for p in agents_dir.iterdir()) == ["scout.md"]
    assert _settings(real_fleet, "crew")["env"]["CLAUDE_CODE_EXPERIMENTAL_AGENT_TEAMS"] == "0"
