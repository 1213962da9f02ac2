"""Agent teams by configuration (ADR 017), in the fast tier.

- `runtime.swarms` and `team/<member>.md`: validation (each bad file one line, exit 2; an
  unknown tool a warning), the listings (`list`, the status rows, the agent page), the
  configuration hash (a changed switch or member means "needs recreate") and the Compose file.
- The entrypoint's teams.mjs, run by Node: the agent-teams key of each group's Claude settings
  is set while every other key survives; a missing file is written as the runtime writes it
  (checked against the fork's own source); members are installed, removed files removed, and
  the agent's own subagent files never touched.
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

TEAMS = ROOT / "smbos" / "image" / "teams.mjs"
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


def team_agent(agents: Path, agent_id: str = "crew", files: dict[str, str] | None = None,
               swarms: bool = True, **config) -> Path:
    cfg = {"name": agent_id.title(), "runtime": {"container_isolation": "none", "swarms": swarms},
           **config}
    folder = write_agent(agents, agent_id, cfg)
    (folder / "team").mkdir(exist_ok=True)
    for name, text in (files if files is not None else
                       {"scout.md": SCOUT, "editor.md": EDITOR}).items():
        (folder / "team" / name).write_text(text)
    return folder


# ------------------------------------------------------------------------------ validation


def test_a_valid_team_validates_and_is_listed(tmp_path):
    team_agent(tmp_path / "agents", integrations=["notion"])
    (tmp_path / "agents" / "crew" / ".env").write_text("ANTHROPIC_API_KEY=sk-team-test-key\nNOTION_TOKEN=ntn-team-test-token\n")
    (tmp_path / "agents" / "crew" / ".env.example").write_text(
        "# Anthropic API key\nANTHROPIC_API_KEY=\n\n# Notion token\nNOTION_TOKEN=\n")
    write_agent(tmp_path / "agents", "solo")
    result = run_smbos("validate", cwd=tmp_path)
    assert result.code == 0 and "warning" not in result.output, result.output

    rows = {r["id"]: r for r in json.loads(run_smbos("list", "--json", cwd=tmp_path).stdout)}
    assert rows["crew"]["teams"] is True and rows["solo"]["teams"] is False
    assert rows["solo"]["team"] == []
    assert rows["crew"]["team"] == [
        {"file": "editor.md", "name": "editor", "description": "Checks a draft against the "
         "voice guide", "tools": None, "model": None},
        {"file": "scout.md", "name": "scout", "description": "Finds sources for a question",
         "tools": ["Read", "WebSearch", "mcp__notion"], "model": "haiku"}]
    table = run_smbos("list", cwd=tmp_path).stdout
    crew = next(line for line in table.splitlines() if line.startswith("crew"))
    solo = next(line for line in table.splitlines() if line.startswith("solo"))
    assert "TEAMS" in table and re.search(r"\bon\s+editor,scout\s*$", crew), table
    assert re.search(r"\boff\s+-\s*$", solo), table


BAD = [
    ("no_front.md", "Just a prompt.\n", "front matter: missing; expected ---"),
    ("unclosed.md", "---\nname: a\n", "front matter: opened with '---' on line 1 and never "
                                      "closed"),
    ("no_name.md", "---\ndescription: d\n---\nBody.\n", "name: required"),
    ("no_description.md", "---\nname: alpha\n---\nBody.\n", "description: required"),
    ("blank_description.md", "---\nname: alpha\ndescription: '  '\n---\nBody.\n",
     "description: expected a non-empty text"),
    ("bad_name.md", "---\nname: Voice Editor\ndescription: d\n---\nBody.\n",
     "name: 'Voice Editor' is not a member name"),
    ("builtin.md", "---\nname: general-purpose\ndescription: d\n---\nBody.\n",
     "name: 'general-purpose' is a Claude Code built-in subagent"),
    ("unknown_key.md", "---\nname: alpha\ndescription: d\ntool: Read\n---\nBody.\n",
     "tool: unknown key (did you mean 'tools'?)"),
    ("tools_list.md", "---\nname: alpha\ndescription: d\ntools: [Read]\n---\nBody.\n",
     "tools: expected tool names separated by commas"),
    ("tools_empty.md", "---\nname: alpha\ndescription: d\ntools: ''\n---\nBody.\n",
     "tools: is empty; leave it out"),
    ("bad_model.md", "---\nname: alpha\ndescription: d\nmodel: gpt-4\n---\nBody.\n",
     "model: 'gpt-4' is not a model"),
    ("no_body.md", "---\nname: alpha\ndescription: d\n---\n\n  \n", "body: is empty"),
    ("bad_yaml.md", "---\nname: [alpha\ndescription: d\n---\nBody.\n",
     "front matter: not valid YAML at line"),
    ("bom.md", "\ufeff---\nname: alpha\ndescription: d\n---\nBody.\n",
     ": starts with a byte order mark"),
    ("two words.md", "---\nname: alpha\ndescription: d\n---\nBody.\n", "file name: expected"),
]


@pytest.mark.parametrize("file, text, message", BAD, ids=[b[0] for b in BAD])
def test_each_bad_member_file_is_one_line_and_exit_2(tmp_path, file, text, message):
    team_agent(tmp_path / "agents", files={"editor.md": EDITOR, file: text})
    result = run_smbos("validate", cwd=tmp_path)
    assert result.code == 2, result.output
    errors = [line for line in result.output.splitlines() if not line.startswith("warning:")
              and "agents/crew" in line]
    assert len(errors) == 1, result.output
    assert errors[0].startswith(f"agents/crew/team/{file}: "), errors
    assert message in errors[0], errors


def test_two_members_with_one_name_and_a_team_that_is_a_file(tmp_path):
    team_agent(tmp_path / "agents", files={"editor.md": EDITOR, "other.md": EDITOR})
    result = run_smbos("validate", cwd=tmp_path)
    assert result.code == 2
    assert ("agents/crew/team/other.md: name: 'editor' is also the name in team/editor.md; "
            "each member needs its own name") in result.output
    folder = write_agent(tmp_path / "agents", "flat")
    (folder / "team").write_text("not a folder\n")
    result = run_smbos("validate", cwd=tmp_path)
    assert "agents/flat/team: is not a folder" in result.output


def test_unknown_tools_and_stray_files_are_warnings(tmp_path):
    member = SCOUT.replace("tools: Read, WebSearch, mcp__notion",
                           "tools: Read, WebSerch, Teleport, mcp__calendar__list-events")
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
    (folder / "config.yaml").write_text(yaml.safe_dump(
        {"runtime": {"container_isolation": "none"}, "integrations": ["calendar"]}))
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


def _teams_script(body: str) -> object:
    return node_eval(f"import fs from 'node:fs';\nimport path from 'node:path';\n"
                     f"import * as t from {json.dumps(str(TEAMS))};\n{body}")


def test_the_settings_key_is_set_and_every_other_key_survives(tmp_path):
    claude = tmp_path / "sessions" / "web-chat" / ".claude"
    claude.mkdir(parents=True)
    theirs = {"env": {"CLAUDE_CODE_EXPERIMENTAL_AGENT_TEAMS": "1",
                      "CLAUDE_CODE_DISABLE_AUTO_MEMORY": "0", "THEIR_KEY": "kept"},
              "permissions": {"allow": ["Bash(ls:*)"]}, "model": "sonnet"}
    (claude / "settings.json").write_text(json.dumps(theirs))
    fresh = tmp_path / "fresh" / ".claude"
    fresh.mkdir(parents=True)
    broken = tmp_path / "broken" / ".claude"
    broken.mkdir(parents=True)
    (broken / "settings.json").write_text("{not json")
    listy = tmp_path / "listy" / ".claude"
    listy.mkdir(parents=True)
    (listy / "settings.json").write_text('{"env": ["x"]}')
    out = _teams_script(f"""
const dirs = {json.dumps([str(claude), str(fresh), str(broken), str(listy)])};
const read = (d) => {{ try {{ return JSON.parse(fs.readFileSync(d + '/settings.json', 'utf8')); }}
  catch {{ return fs.readFileSync(d + '/settings.json', 'utf8'); }} }};
const results = {{}};
results.off = dirs.map((d) => t.applyAgentTeams(d, false));
const off = dirs.map(read);
results.on = dirs.map((d) => t.applyAgentTeams(d, true));
const on = dirs.map(read);
const errors = [];
for (const bad of ['yes', '']) {{
  try {{ t.parseAgentTeams({{SMBOS_AGENT_TEAMS: bad}}, (m) => {{ throw new Error(m); }}); }}
  catch (e) {{ errors.push(e.message); }}
}}
console.log(JSON.stringify({{results, off, on, errors,
  parsed: [t.parseAgentTeams({{SMBOS_AGENT_TEAMS: 'on'}}), t.parseAgentTeams({{SMBOS_AGENT_TEAMS: 'off'}}),
           t.parseAgentTeams({{}})],
  defaults: t.RUNTIME_GROUP_SETTINGS}}));
""")
    assert out["results"] == {"off": ["updated", "created", "unreadable", "unreadable"],
                              "on": ["updated", "updated", "unreadable", "unreadable"]}
    mine, fresh_off, broken_text, listy_off = out["off"]
    assert mine == {**theirs, "env": {**theirs["env"], "CLAUDE_CODE_EXPERIMENTAL_AGENT_TEAMS": "0"}}
    assert fresh_off == {"env": {**out["defaults"]["env"],
                                 "CLAUDE_CODE_EXPERIMENTAL_AGENT_TEAMS": "0"}}
    assert broken_text == "{not json" and listy_off == {"env": ["x"]}
    assert out["on"][0] == {**theirs, "env": {**theirs["env"],
                                              "CLAUDE_CODE_EXPERIMENTAL_AGENT_TEAMS": "1"}}
    assert out["on"][1]["env"]["CLAUDE_CODE_EXPERIMENTAL_AGENT_TEAMS"] == "1"
    assert list(out["on"][0]) == list(theirs), "the keys keep their order"
    assert out["errors"] == ['SMBOS_AGENT_TEAMS must be on or off, got "yes"',
                             'SMBOS_AGENT_TEAMS must be on or off, got ""']
    assert out["parsed"] == [True, False, None]


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
    block = source[source.index("if (!fs.existsSync(settingsFile))"):]
    block = block[:block.index("}, null, 2)")]
    theirs = dict(re.findall(r"^\s*([A-Z_]+): '([^']*)',", block, re.M))
    ours = _teams_script("console.log(JSON.stringify(t.RUNTIME_GROUP_SETTINGS));")
    assert ours == {"env": theirs} and theirs["CLAUDE_CODE_EXPERIMENTAL_AGENT_TEAMS"] == "1"


def test_members_are_installed_removed_and_the_agents_own_files_left(tmp_path):
    agent = tmp_path / "agent"
    (agent / "team").mkdir(parents=True)
    (agent / "team" / "scout.md").write_text(SCOUT)
    (agent / "team" / "editor.md").write_text(EDITOR)
    (agent / "team" / "notes.txt").write_text("not a member")
    inst = tmp_path / "inst"
    # The agent's own subagent files, one with a member's file name; a group the runtime made.
    own = inst / "data" / "sessions" / "web-chat" / ".claude" / "agents"
    own.mkdir(parents=True)
    (own / "mine.md").write_text("the agent's own")
    (own / "editor.md").write_text("the agent's own editor")
    (inst / "data" / "sessions" / "old-group" / ".claude").mkdir(parents=True)
    script = f"""
const cfg = {{agentDir: {json.dumps(str(agent))}, instanceDir: {json.dumps(str(inst))},
  agentTeams: false, telegram: {{chats: [{{folder: 'telegram-42'}}]}}}};
const lines = [];
const run = () => t.prepareTeams(cfg, 'web-chat', (l) => lines.push(l));
const listing = () => Object.fromEntries(['web-chat', 'telegram-42', 'old-group'].map((g) => {{
  const dir = path.join(cfg.instanceDir, 'data', 'sessions', g, '.claude');
  const files = fs.existsSync(dir + '/agents') ? fs.readdirSync(dir + '/agents').sort() : [];
  return [g, {{files: Object.fromEntries(files.map((f) => [f, fs.readFileSync(dir + '/agents/' + f, 'utf8')])),
    manifest: JSON.parse(fs.readFileSync(dir + '/.smbos-team.json', 'utf8')),
    teams: JSON.parse(fs.readFileSync(dir + '/settings.json', 'utf8')).env.{'CLAUDE_CODE_EXPERIMENTAL_AGENT_TEAMS'}}}]; }}));
const first = run();
const installed = listing();
fs.unlinkSync(path.join(cfg.agentDir, 'team', 'scout.md'));
cfg.agentTeams = true;
run();
const after = listing();
console.log(JSON.stringify({{first, installed, after, lines}}));
"""
    out = _teams_script(script)
    assert out["first"] == {"folders": ["old-group", "telegram-42", "web-chat"],
                            "members": ["editor.md", "scout.md"]}
    web, tele, old = (out["installed"][g] for g in ("web-chat", "telegram-42", "old-group"))
    assert web["files"] == {"editor.md": "the agent's own editor", "mine.md": "the agent's own",
                            "scout.md": SCOUT}
    assert list(web["manifest"]["files"]) == ["scout.md"]
    for group in (tele, old):
        assert group["files"] == {"editor.md": EDITOR, "scout.md": SCOUT}
        assert sorted(group["manifest"]["files"]) == ["editor.md", "scout.md"]
    assert {g["teams"] for g in (web, tele, old)} == {"0"}
    # scout.md taken out of team/: removed where SMBOS installed it; the agent's files stay.
    web, tele, old = (out["after"][g] for g in ("web-chat", "telegram-42", "old-group"))
    assert web["files"] == {"editor.md": "the agent's own editor", "mine.md": "the agent's own"}
    assert tele["files"] == old["files"] == {"editor.md": EDITOR}
    assert web["manifest"] == {"files": {}}
    assert {g["teams"] for g in (web, tele, old)} == {"1"}
    assert out["lines"][0] == ("teams: off (runtime.swarms: false) in 3 group(s); team: 2 member "
                               "file(s) (editor.md, scout.md)")
    assert ("warning: team: not installed, a subagent file of that name is the agent's own: "
            "editor.md") in out["lines"]
    assert any(line.startswith("teams: on (runtime.swarms: true) in 3 group(s); team: 1 member "
                               "file(s) (editor.md), 3 removed file(s)") for line in out["lines"])


def test_without_the_switch_the_settings_are_left_alone(tmp_path):
    inst = tmp_path / "inst"
    claude = inst / "data" / "sessions" / "web-chat" / ".claude"
    claude.mkdir(parents=True)
    (claude / "settings.json").write_text('{"env": {"CLAUDE_CODE_EXPERIMENTAL_AGENT_TEAMS": "1"}}')
    out = _teams_script(f"""
const lines = [];
t.prepareTeams({{agentDir: {json.dumps(str(tmp_path / "agent"))}, instanceDir: {json.dumps(str(inst))},
  agentTeams: null, telegram: {{chats: []}}}}, 'web-chat', (l) => lines.push(l));
console.log(JSON.stringify({{lines, text: fs.readFileSync({json.dumps(str(claude / "settings.json"))}, 'utf8')}}));
""")
    assert out["text"] == '{"env": {"CLAUDE_CODE_EXPERIMENTAL_AGENT_TEAMS": "1"}}'
    assert out["lines"] == ["teams: left as the runtime has them (SMBOS_AGENT_TEAMS not set) in 1 "
                            "group(s); team: 0 member file(s)"]
    assert not (claude / "agents").exists()


# ------------------------------------------------------------------------------ stand-in


def test_the_standin_keeps_a_groups_claude_home_as_the_runtime_does(tmp_path):
    """At a turn the stand-in, as NanoClaw, writes the group's settings only when missing
    (teams on, the runtime's default), and its reply says what that turn would run with."""
    cwd = tmp_path / "inst"
    kept = cwd / "data" / "sessions" / "web-chat" / ".claude"
    (kept / "agents").mkdir(parents=True)
    (kept / "settings.json").write_text(
        '{"env": {"CLAUDE_CODE_EXPERIMENTAL_AGENT_TEAMS": "0", "X": "1"}}')
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
