"""Agent teams by configuration (ADR 017), in the fast tier.

- `runtime.swarms` and `team/<member>.md`: validation (each bad file one line, exit 2; an
  unknown tool a warning), the listings (`list`, the status rows, the agent page), the
  configuration hash (a changed switch or member means "needs recreate") and the Compose file.
- The entrypoint's teams.mjs: a missing settings file is written as the runtime writes it,
  checked here against the fork's own source (the rest, by node beside it: the agent-teams key
  of each group's Claude settings is set while every other key survives; members are installed,
  removed files removed, and the agent's own subagent files never touched).
- The stand-in does what the runtime does with a group's Claude home.
- The portfolio and the `smbos new` templates use teams.
"""

from __future__ import annotations

import json
import re
import tarfile
from pathlib import Path

import pytest
import yaml

from smbos import fleetindex
from smbos.project import Project
from smbos.web.app import create_app

from .conftest import IN_CI, ROOT, node_eval, run_smbos, write_agent
from .fakefleet import FakeDocker
from .test_web_api import make_client

TEAMS = ROOT / "smbos" / "nanoclaw" / "image" / "entrypoint" / "teams.mjs"
STANDIN_AGENT = ROOT / "tests" / "standin" / "src" / "agent.js"
TOKEN = "t" * 32

SCOUT = """---
name: scout
description: Finds sources for a question
tools: Read, WebSearch, mcp__notion
model: haiku
---
You are the scout. Find sources and list them, one line each.
"""
EDITOR = """---
name: editor
description: Checks a draft against the voice guide
---
You are the editor. Mark every sentence that breaks the voice guide.
"""


def team_agent(
    agents: Path,
    agent_id: str = "crew",
    files: dict[str, str] | None = None,
    swarms: bool = True,
    **config,
) -> Path:
    cfg = {
        "name": agent_id.title(),
        "runtime": {"container_isolation": "none", "swarms": swarms},
        **config,
    }
    folder = write_agent(agents, agent_id, cfg)
    (folder / "team").mkdir(exist_ok=True)
    for name, text in (
        files if files is not None else {"scout.md": SCOUT, "editor.md": EDITOR}
    ).items():
        (folder / "team" / name).write_text(text)
    return folder


# ------------------------------------------------------------------------------ validation


def test_a_valid_team_validates_and_is_listed(tmp_path):
    team_agent(tmp_path / "agents", integrations=["notion"])
    (tmp_path / "agents" / "crew" / ".env").write_text(
        "ANTHROPIC_API_KEY=sk-team-test-key\nNOTION_TOKEN=ntn-team-test-token\n"
    )
    (tmp_path / "agents" / "crew" / ".env.example").write_text(
        "# Anthropic API key\nANTHROPIC_API_KEY=\n\n# Notion token\nNOTION_TOKEN=\n"
    )
    write_agent(tmp_path / "agents", "solo")
    result = run_smbos("validate", cwd=tmp_path)
    assert result.code == 0 and "warning" not in result.output, result.output

    rows = {r["id"]: r for r in json.loads(run_smbos("list", "--json", cwd=tmp_path).stdout)}
    assert rows["crew"]["teams"] is True and rows["solo"]["teams"] is False
    assert rows["solo"]["team"] == []
    assert rows["crew"]["team"] == [
        {
            "file": "editor.md",
            "name": "editor",
            "description": "Checks a draft against the voice guide",
            "tools": None,
            "model": None,
        },
        {
            "file": "scout.md",
            "name": "scout",
            "description": "Finds sources for a question",
            "tools": ["Read", "WebSearch", "mcp__notion"],
            "model": "haiku",
        },
    ]
    table = run_smbos("list", cwd=tmp_path).stdout
    crew = next(line for line in table.splitlines() if line.startswith("crew"))
    solo = next(line for line in table.splitlines() if line.startswith("solo"))
    assert "TEAMS" in table and re.search(r"\bon\s+editor,scout\s*$", crew), table
    assert re.search(r"\boff\s+-\s*$", solo), table


BAD = [
    ("no_front.md", "Just a prompt.\n", "front matter: missing; expected ---"),
    ("unclosed.md", "---\nname: a\n", "front matter: opened with '---' on line 1 and never closed"),
    ("no_name.md", "---\ndescription: d\n---\nBody.\n", "name: required"),
    ("no_description.md", "---\nname: alpha\n---\nBody.\n", "description: required"),
    (
        "blank_description.md",
        "---\nname: alpha\ndescription: '  '\n---\nBody.\n",
        "description: expected a non-empty text",
    ),
    (
        "bad_name.md",
        "---\nname: Voice Editor\ndescription: d\n---\nBody.\n",
        "name: 'Voice Editor' is not a member name",
    ),
    (
        "builtin.md",
        "---\nname: general-purpose\ndescription: d\n---\nBody.\n",
        "name: 'general-purpose' is a Claude Code built-in subagent",
    ),
    (
        "unknown_key.md",
        "---\nname: alpha\ndescription: d\ntool: Read\n---\nBody.\n",
        "tool: unknown key (did you mean 'tools'?)",
    ),
    (
        "tools_list.md",
        "---\nname: alpha\ndescription: d\ntools: [Read]\n---\nBody.\n",
        "tools: expected tool names separated by commas",
    ),
    (
        "tools_empty.md",
        "---\nname: alpha\ndescription: d\ntools: ''\n---\nBody.\n",
        "tools: is empty; leave it out",
    ),
    (
        "bad_model.md",
        "---\nname: alpha\ndescription: d\nmodel: gpt-4\n---\nBody.\n",
        "model: 'gpt-4' is not a model",
    ),
    ("no_body.md", "---\nname: alpha\ndescription: d\n---\n\n  \n", "body: is empty"),
    (
        "bad_yaml.md",
        "---\nname: [alpha\ndescription: d\n---\nBody.\n",
        "front matter: not valid YAML at line",
    ),
    (
        "bom.md",
        "\ufeff---\nname: alpha\ndescription: d\n---\nBody.\n",
        ": starts with a byte order mark",
    ),
    ("two words.md", "---\nname: alpha\ndescription: d\n---\nBody.\n", "file name: expected"),
]


@pytest.mark.parametrize("file, text, message", BAD, ids=[b[0] for b in BAD])
def test_each_bad_member_file_is_one_line_and_exit_2(tmp_path, file, text, message):
    team_agent(tmp_path / "agents", files={"editor.md": EDITOR, file: text})
    result = run_smbos("validate", cwd=tmp_path)
    assert result.code == 2, result.output
    errors = [
        line
        for line in result.output.splitlines()
        if not line.startswith("warning:") and "agents/crew" in line
    ]
    assert len(errors) == 1, result.output
    assert errors[0].startswith(f"agents/crew/team/{file}: "), errors
    assert message in errors[0], errors


def test_two_members_with_one_name_and_a_team_that_is_a_file(tmp_path):
    team_agent(tmp_path / "agents", files={"editor.md": EDITOR, "other.md": EDITOR})
    result = run_smbos("validate", cwd=tmp_path)
    assert result.code == 2
    assert (
        "agents/crew/team/other.md: name: 'editor' is also the name in team/editor.md; "
        "each member needs its own name"
    ) in result.output
    folder = write_agent(tmp_path / "agents", "flat")
    (folder / "team").write_text("not a folder\n")
    result = run_smbos("validate", cwd=tmp_path)
    assert "agents/flat/team: is not a folder" in result.output


def test_unknown_tools_and_stray_files_are_warnings(tmp_path):
    member = SCOUT.replace(
        "tools: Read, WebSearch, mcp__notion",
        "tools: Read, WebSerch, Teleport, mcp__calendar__list-events",
    )
    folder = team_agent(tmp_path / "agents", files={"scout.md": member})
    (folder / "team" / "notes.txt").write_text("x")
    (folder / "team" / "drafts").mkdir()
    result = run_smbos("validate", cwd=tmp_path)
    assert result.code == 0, result.output
    warnings = [line for line in result.output.splitlines() if "agents/crew/team" in line]
    assert warnings == [
        "warning: agents/crew/team/drafts: ignored: a folder; a member is team/<member>.md",
        "warning: agents/crew/team/notes.txt: ignored: not a .md file; a member is "
        "team/<member>.md",
        "warning: agents/crew/team/scout.md: tools: WebSerch: not a Claude Code tool (did you "
        "mean 'WebSearch'?); the member will not have it",
        "warning: agents/crew/team/scout.md: tools: Teleport: not a Claude Code tool; the member "
        "will not have it",
        "warning: agents/crew/team/scout.md: tools: mcp__calendar__list-events: no MCP server "
        "'calendar' in this agent (it has: nanoclaw)",
    ], result.output
    # The runtime's own server and the agent's own are known.
    member = SCOUT.replace("mcp__notion", "mcp__nanoclaw__schedule_task, mcp__calendar")
    (folder / "team" / "scout.md").write_text(member)
    (folder / "config.yaml").write_text(
        yaml.safe_dump({"runtime": {"container_isolation": "none"}, "integrations": ["calendar"]})
    )
    result = run_smbos("validate", cwd=tmp_path)
    assert "scout.md" not in result.output, result.output


# ------------------------------------------------------------- hash, Compose file, status


def test_the_switch_and_the_members_mark_the_container_out_of_date(tmp_path, monkeypatch):
    monkeypatch.setenv("SMBOS_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(fleetindex, "RACY_SECONDS", 0.0)
    folder = team_agent(tmp_path / "agents", swarms=False)
    project = Project.from_options(agents=tmp_path / "agents")
    docker = FakeDocker()
    agent = project.load().get("crew")
    docker.add(project, agent)
    hashes = [agent.config_hash()]

    def row() -> dict:
        index = fleetindex.load(project)
        entry = index.get("crew")
        assert entry.config_hash() == project.load().get("crew").config_hash()
        with make_client(create_app(project, TOKEN, docker_client=docker)) as ui:
            return ui.get("/api/status").json()["agents"][0]

    first = row()
    assert first["drift"] == "" and first["teams"] is False
    assert first["team"] == ["editor", "scout"]

    config = yaml.safe_load((folder / "config.yaml").read_text())
    config["runtime"]["swarms"] = True
    (folder / "config.yaml").write_text(yaml.safe_dump(config))
    second = row()
    assert second["drift"] == "needs recreate" and second["teams"] is True
    hashes.append(project.load().get("crew").config_hash())

    for edit in ("changed", "removed", "added"):
        if edit == "changed":
            (folder / "team" / "editor.md").write_text(EDITOR + "\nAlso check the spelling.\n")
        elif edit == "removed":
            (folder / "team" / "scout.md").unlink()
        else:
            (folder / "team" / "critic.md").write_text(EDITOR.replace("editor", "critic"))
        hashes.append(project.load().get("crew").config_hash())
        assert row()["drift"] == "needs recreate"
    assert len(set(hashes)) == len(hashes), "every edit changes the hash"
    assert row()["team"] == ["critic", "editor"]


def test_the_compose_file_carries_the_switch(tmp_path):
    team_agent(tmp_path / "agents", "crew", swarms=True)
    write_agent(tmp_path / "agents", "plain")
    assert run_smbos("generate", cwd=tmp_path).code == 0
    services = yaml.safe_load((tmp_path / "compose" / "docker-compose.yml").read_text())["services"]
    assert services["crew"]["environment"]["SMBOS_AGENT_TEAMS"] == "on"
    assert services["plain"]["environment"]["SMBOS_AGENT_TEAMS"] == "off"


def test_the_agent_page_shows_teams_and_members(tmp_path):
    team_agent(tmp_path / "agents")
    write_agent(tmp_path / "agents", "solo")
    project = Project.from_options(agents=tmp_path / "agents")
    with make_client(create_app(project, TOKEN, docker_client=FakeDocker())) as ui:
        page = ui.get("/agents/crew").text
        solo = ui.get("/agents/solo").text
        api = ui.get("/api/agents/crew").json()
    assert '<strong id="a-teams">on</strong>' in page
    assert "<td>scout</td><td>Finds sources for a question</td>" in page
    assert "<td>Read, WebSearch, mcp__notion</td>" in page and "<td>haiku</td>" in page
    assert "<td>all of the agent&#39;s</td>" in page and "team/editor.md" in page
    assert '<strong id="a-teams">off</strong>' in solo and "No members" in solo
    summary = api.get("agent", api)
    assert summary["teams"] is True and [m["name"] for m in summary["team"]] == ["editor", "scout"]


# ------------------------------------------------------------------- the entrypoint (Node)


def test_the_runtime_defaults_are_the_forks_own(tmp_path):
    """A missing settings file is written as NanoClaw writes it: the same keys and values as
    the settings block of the fork's src/container-runner.ts."""
    tarball = ROOT.parent / "shared" / "nanoclaw" / "smbos-fork-fd6e44d.tar.gz"
    if not tarball.is_file():
        if IN_CI:
            pytest.fail(f"{tarball} is missing in CI")
        pytest.skip(f"the fork's sources are not beside this checkout ({tarball})")
    with tarfile.open(tarball) as tar:
        member = tar.getmember("nanoclaw/src/container-runner.ts")
        source = tar.extractfile(member).read().decode()
    block = source[source.index("if (!fs.existsSync(settingsFile))") :]
    block = block[: block.index("}, null, 2)")]
    theirs = dict(re.findall(r"^\s*([A-Z_]+): '([^']*)',", block, re.M))
    ours = node_eval(
        f"import {{ RUNTIME_GROUP_SETTINGS }} from {json.dumps(str(TEAMS))};\n"
        "console.log(JSON.stringify(RUNTIME_GROUP_SETTINGS));"
    )
    assert ours == {"env": theirs} and theirs["CLAUDE_CODE_EXPERIMENTAL_AGENT_TEAMS"] == "1"


# ------------------------------------------------------------------------------ stand-in


def test_the_standin_keeps_a_groups_claude_home_as_the_runtime_does(tmp_path):
    """At a turn the stand-in, as NanoClaw, writes the group's settings only when missing
    (teams on, the runtime's default), and its reply says what that turn would run with."""
    cwd = tmp_path / "inst"
    kept = cwd / "data" / "sessions" / "web-chat" / ".claude"
    (kept / "agents").mkdir(parents=True)
    (kept / "settings.json").write_text(
        '{"env": {"CLAUDE_CODE_EXPERIMENTAL_AGENT_TEAMS": "0", "X": "1"}}'
    )
    (kept / "agents" / "scout.md").write_text(SCOUT)
    (kept / "agents" / "editor.md").write_text(EDITOR)
    out = node_eval(f"""
import fs from 'node:fs';
import {{ claudeHomeOf }} from {json.dumps(str(STANDIN_AGENT))};
const cwd = {json.dumps(str(cwd))};
console.log(JSON.stringify({{kept: claudeHomeOf(cwd, 'web-chat'), fresh: claudeHomeOf(cwd, 'telegram-7'),
  freshText: JSON.parse(fs.readFileSync(cwd + '/data/sessions/telegram-7/.claude/settings.json', 'utf8')),
  keptText: fs.readFileSync(cwd + '/data/sessions/web-chat/.claude/settings.json', 'utf8')}}));
""")
    assert out["kept"] == {"teams": "off", "subagents": "editor,scout"}
    assert out["fresh"] == {"teams": "on", "subagents": "none"}
    assert out["freshText"]["env"]["CLAUDE_CODE_EXPERIMENTAL_AGENT_TEAMS"] == "1"
    assert out["keptText"] == '{"env": {"CLAUDE_CODE_EXPERIMENTAL_AGENT_TEAMS": "0", "X": "1"}}'


# --------------------------------------------------------------- portfolio and templates


def test_the_portfolio_uses_teams_where_its_agents_delegate(tmp_path):
    project = Project.from_options(agents=ROOT / "agents")
    fleet = project.load()
    assert not fleet.errors, fleet.errors
    assert not [p for p in fleet.warnings if "/team" in p.path], fleet.warnings
    with_team = {a.id: a.members for a in fleet.agents if a.teams}
    assert with_team and all(len(m) >= 2 for m in with_team.values()), with_team
    assert all(not a.team for a in fleet.agents if not a.teams), "members only where teams are on"
    assert len(with_team) < len(fleet.agents), "the others stay off"


def test_smbos_new_shows_how(tmp_path):
    result = run_smbos("new", "desk", "--template", "support", "--port", "3150", cwd=tmp_path)
    assert result.code == 0, result.output
    assert "team/" not in run_smbos("validate", cwd=tmp_path).output
    agent = Project.from_options(agents=tmp_path / "agents").load().get("desk")
    assert agent.teams is True and len(agent.members) >= 2
    result = run_smbos("new", "plain", "--template", "basic", "--port", "3151", cwd=tmp_path)
    assert result.code == 0, result.output
    basic = (tmp_path / "agents" / "plain" / "config.yaml").read_text()
    assert "swarms: false" in basic and "team/" in basic
    assert not (tmp_path / "agents" / "plain" / "team").exists()
