"""Data is never markup and never a terminal control: every command, in this process, with
hostile names, file names, file contents and runtime answers (rich markup such as `[/]` and
`[link=...]`, emoji codes, escape sequences, BEL, newlines, bidirectional overrides).

Each command exits with its documented code (never 70), prints no raw control character and
no hyperlink, and shows the data itself, escaped (`\\x1b`, `\\n`). The engine is a fake Docker
client and the runtimes fake NanoClaw APIs (tests/fakefleet.py, through conftest's
`fake_runtimes`).
"""

from __future__ import annotations

import json
import re
import secrets
from datetime import datetime, timezone
from pathlib import Path

import pytest
import yaml


from .conftest import run_smbos, write_agent
from .fakefleet import FakeContainer, FakeFleet

PROJECT = "smbos"  # conftest.fake_fleet's
ENGINE = {"SMBOS_PROJECT": PROJECT}
NO_ENGINE = {"DOCKER_HOST": "unix:///nonexistent/docker.sock", "SMBOS_PROJECT": PROJECT}

# Markup that would close nothing (rich raises), a hyperlink, an emoji code, a title change
# (OSC 0 ... BEL), a colour (CSI), a cursor move, a newline, a carriage return, a C1 CSI and a
# right-to-left override.
HOSTILE = (
    "x[/]y[link=https://evil.example]:smile:\x1b]0;t\x07\x1b[31mred\x1b[2J\nsecond\rthird"
    "\x9b1m\u202eevil"
)
ONE_LINE = HOSTILE.replace("\n", " ").replace("\r", " ")  # for fields that refuse line breaks
RAW = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def safe(result, codes=(0,)) -> str:
    """The output, checked: an expected exit code, no raw control character, no hyperlink."""
    assert "Traceback" not in result.output and "internal error" not in result.output, result
    assert result.code in codes, result
    assert not RAW.search(result.output), repr(result.output)
    assert "\x1b]8;" not in result.output and "evil.example\x1b" not in result.output
    return result.output


def shows_data(output: str, text: str = ONE_LINE) -> None:
    """The data is there, as text: markup literally, control characters as escapes."""
    assert "x[/]y[link=https://evil.example]:smile:" in output, output
    assert "\\x1b[31mred" in output and "\\x07" in output, output
    assert "\\u202eevil" in output and "\\x9b1m" in output, output


@pytest.fixture
def fleet(fake_runtimes):
    """The CLI's engine is a fake Docker client, its runtimes fake NanoClaw APIs (conftest)."""
    return fake_runtimes


def hostile_agent(project: Path, agent_id: str = "alpha", **config) -> Path:
    return write_agent(
        project / "agents",
        agent_id,
        {
            "name": ONE_LINE,
            "description": ONE_LINE,
            "port": 3301,
            "runtime": {"container_isolation": "none", "assistant_name": "Alpha"},
            "skills": [
                {
                    "id": "brief",
                    "title": ONE_LINE,
                    "prompt": "Brief {topic}",
                    "inputs": [{"id": "topic", "label": ONE_LINE}],
                }
            ],
            **config,
        },
    )


# ------------------------------------------------------------------------ folders only


def test_validate_with_hostile_folder_names_and_keys(project: Path) -> None:
    hostile_agent(project)
    (project / "agents" / HOSTILE.replace("/", "_")).mkdir()
    bad = write_agent(project / "agents", "bravo")
    (bad / "config.yaml").write_text(yaml.safe_dump({ONE_LINE: 1, "name": HOSTILE}))
    for args in (("validate",), ("validate", "--json"), ("generate",), ("list",), ("doctor",)):
        output = safe(run_smbos(*args, cwd=project, env=NO_ENGINE), codes=(1, 2))
        if args[-1] != "--json":
            assert "x[/]y" in output and "\\x1b[31mred" in output, (args, output)
    lines = run_smbos("validate", cwd=project).stderr.splitlines()
    # The folder's id, bravo's unknown key and its name: one line each.
    assert len(lines) == 3 and all(line.startswith("agents/") for line in lines), lines


def test_list_shows_hostile_names_as_text(project: Path) -> None:
    hostile_agent(project)
    output = safe(run_smbos("list", cwd=project))
    shows_data(output)
    assert len(run_smbos("list", cwd=project).stdout.splitlines()) == 2  # header and one row
    data = json.loads(safe(run_smbos("list", "--json", cwd=project)))
    assert data[0]["name"] == ONE_LINE


def test_env_shows_hostile_keys_and_plain_values_as_text(project: Path) -> None:
    hostile_agent(project)
    env = project / "agents" / "alpha" / ".env"
    env.write_text(f"ANTHROPIC_API_KEY=sk-test\nASSISTANT_NAME={ONE_LINE}\nA[/]B[blink]=1\n")
    output = safe(run_smbos("env", "alpha", cwd=project, env=NO_ENGINE))
    shows_data(output)
    assert "A[/]B[blink]" in output
    data = json.loads(safe(run_smbos("env", "alpha", "--json", cwd=project, env=NO_ENGINE)))
    assert {k["key"]: k["value"] for k in data["keys"]}["ASSISTANT_NAME"] == ONE_LINE


def test_memory_shows_hostile_file_names_and_contents_escaped(project: Path) -> None:
    hostile_agent(project)
    memory = project / "agents" / "alpha" / "memory"
    (memory / f"{HOSTILE.replace('/', '|')}.md").write_text("notes\n")
    (memory / "context.md").write_text(f"line one\n\tindented {HOSTILE}\r\nlast\n")
    listing = safe(run_smbos("memory", "alpha", cwd=project))
    shows_data(listing.replace("|", "/"))
    assert "\\nsecond\\rthird" in listing  # one file, one line
    assert len(listing.splitlines()) == 2, listing
    content = safe(run_smbos("memory", "alpha", "context.md", cwd=project))
    shows_data(content)
    # The file's own lines and tabs are kept; a carriage return alone is shown, not obeyed.
    assert content.startswith("line one\n\tindented x[/]y"), content
    assert "\nsecond\\rthird" in content and content.endswith("evil\nlast\n"), content


def test_skill_list_shows_hostile_titles_as_text(project: Path) -> None:
    hostile_agent(project)
    shows_data(safe(run_smbos("skill", "alpha", cwd=project)))


# ------------------------------------------------------------------ engine and runtime


def test_status_logs_and_heal_log_with_hostile_data(project: Path, fleet: FakeFleet) -> None:
    hostile_agent(project)
    container = fleet.docker.add(
        fleet.project,
        fleet.project.load().get("alpha"),
        log_lines=[HOSTILE.replace("\n", " "), "plain line"],
    )
    # A container labelled for an agent that has no folder: its id comes from the engine.
    stray = FakeContainer(
        id=secrets.token_hex(32), agent_id=ONE_LINE, project=PROJECT, port=3399, config_hash="0"
    )
    fleet.docker.all[stray.id] = stray
    log = project / "state" / "heal-log.jsonl"
    log.parent.mkdir()
    log.write_text(
        json.dumps(
            {
                "at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                "agent": "alpha",
                "action": "restarted",
                "reason": HOSTILE,
            }
        )
        + "\n"
    )
    status = safe(run_smbos("status", cwd=project, env=ENGINE))
    assert "x[/]y" in status and "\\x1b[31mred" in status, status
    assert "auto-heal" in status and "\\nsecond" in status, status
    logs = safe(run_smbos("logs", "alpha", cwd=project, env=ENGINE))
    shows_data(logs)
    assert logs.splitlines()[-1] == "plain line" and len(logs.splitlines()) == 2, logs
    assert container.status == "running"


def test_tasks_chat_and_skill_with_hostile_runtime_answers(project: Path, fleet: FakeFleet) -> None:
    hostile_agent(project)
    agent = fleet.run("alpha")
    agent.add_task(
        f"task{HOSTILE}",
        prompt=HOSTILE,
        last_result=HOSTILE,
        schedule_value=ONE_LINE,
        next_run=ONE_LINE,
    )
    agent.reply = HOSTILE
    tasks = safe(run_smbos("tasks", "alpha", cwd=project, env=ENGINE))
    # Its cells are cut to the width (an ellipsis): the start of the data is there.
    assert "taskx[/]y[link=https://evil.example]:smile:\\x1b]0;t\\x07\\x1b[31mred" in tasks
    data = json.loads(safe(run_smbos("tasks", "alpha", "--json", cwd=project, env=ENGINE)))
    assert data["tasks"][0]["last_result"] == HOSTILE
    chat = safe(run_smbos("chat", "alpha", "hello", cwd=project, env=ENGINE))
    shows_data(chat)
    assert "\nsecond\\rthird" in chat, chat  # a reply keeps its lines
    skill = safe(
        run_smbos("skill", "alpha", "brief", "-i", f"topic={ONE_LINE}", cwd=project, env=ENGINE)
    )
    shows_data(skill)


def test_build_phase_lines_are_text(project: Path) -> None:
    """`build` prints its phases through rich on a terminal: as text, never markup."""
    from rich.console import Console

    from smbos.cli.base import cell, make_console

    console = make_console()
    assert isinstance(console, Console)
    with console.capture() as captured:
        console.print(cell(HOSTILE, style="dim"))
        console.print(HOSTILE.replace("\x1b", ""))  # even a plain string is not markup here
    text = captured.get()
    assert "[/]" in text and "[link=https://evil.example]" in text and ":smile:" in text
    assert "\x1b" not in text


def test_build_progress_on_a_terminal_is_text(project: Path, fake_fleet, monkeypatch) -> None:
    """On a terminal, `build` shows each phase and build line through rich (a spinner and dim
    lines): a build line holding markup or escapes is shown as text, never parsed."""
    from rich.console import Console

    from smbos.nanoclaw import image, patches

    hostile_agent(project)
    shown = []

    def terminal(stderr: bool = False) -> Console:  # make_console's, on a terminal
        return Console(
            file=_Sink(shown),
            force_terminal=True,
            width=200,
            markup=False,
            emoji=False,
            highlight=False,
        )

    def build(client, staged, on_line, on_phase):
        on_phase(HOSTILE)
        on_line(HOSTILE)
        return image.BuildResult(
            "sha256:" + "0" * 64, "smbos/nanoclaw:local", "", "a source", patches.Outcome()
        )

    monkeypatch.setattr("smbos.cli.fleet.make_console", terminal)
    monkeypatch.setattr(
        image, "prepare", lambda spec, on_phase: type("Staged", (), {"spec": spec})()
    )
    monkeypatch.setattr(image, "build", build)
    result = run_smbos("build", "--no-agent-image", cwd=project)
    assert result.code == 0, result
    drawn = "".join(shown)
    assert "x[/]y[link=https://evil.example]:smile:\\x1b]0;t\\x07" in drawn, drawn
    assert "\x1b]8;" not in drawn and "\x07" not in drawn


class _Sink:
    """A terminal's output, kept (rich draws its spinner and lines here)."""

    def __init__(self, kept: list[str]):
        self.kept = kept

    def write(self, text: str) -> int:
        self.kept.append(text)
        return len(text)

    def flush(self) -> None:
        pass

    def isatty(self) -> bool:
        return True


def test_chat_and_skill_hide_a_secret_split_across_two_events(
    project: Path, fleet: FakeFleet
) -> None:
    """The CLI reads a reply's texts as one, as the UI does (redact.RunningText): a secret
    the agent echoes in two `message` events never reaches the terminal, in whole or in part
    long enough to matter, and the text around it is all there."""
    hostile_agent(project)
    secret = "sk-ant-" + secrets.token_hex(12)
    (project / "agents" / "alpha" / ".env").write_text(f"ANTHROPIC_API_KEY={secret}\n")
    agent = fleet.run("alpha")
    agent.reply = [f"the key is {secret[:11]}", f"{secret[11:]} and that is all"]
    for args in (
        ("chat", "alpha", "hello"),
        ("skill", "alpha", "brief", "-i", "topic=x"),
        ("skill", "alpha", "brief", "-i", "topic=x", "--json"),
    ):
        output = safe(run_smbos(*args, cwd=project, env=ENGINE))
        assert secret[:11] not in output and secret[11:] not in output, (args, output)
        assert "the key is [secret ANTHROPIC_API_KEY]" in output, (args, output)
        assert "and that is all" in output, (args, output)
