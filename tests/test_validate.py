"""`smbos validate` and `smbos generate` on bad agent folders: every problem, one line each.

Each problem is reported as `agents/<id>/<file>: <field>: <what is wrong>` (a problem with the
whole file has no field), warnings start with `warning: `, nothing ever prints a traceback, and a
generate that fails leaves the Compose file it would have replaced byte for byte as it was.
"""

from __future__ import annotations

import json
import os
import random
import re
import string
from collections.abc import Callable
from pathlib import Path

import pytest

from .conftest import ENV_EXAMPLE, Result, run_smbos, run_smbos_process, write_agent

# One problem line: `[warning: ]agents/<...>: <field or message>...`
PROBLEM_LINE = re.compile(r"^(?:warning: )?agents/[^\n]*?: \S[^\n]*$")
SENTINEL = b"# sentinel: the previous Compose file, which a failed generate must not touch\n"
RNG = random.Random(20240611)


def _random_token(length: int, alphabet: str = string.ascii_letters + string.digits) -> str:
    while True:
        token = "".join(RNG.choice(alphabet) for _ in range(length))
        if any(c.isdigit() for c in token) and any(c.isalpha() for c in token):
            return token


def _base(**extra) -> dict:
    cfg = {"name": "Andy", "runtime": {"container_isolation": "none"}}
    cfg.update(extra)
    return cfg


def _write_sentinel(project: Path) -> Path:
    target = project / "compose" / "docker-compose.yml"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(SENTINEL)
    return target


def run_all(commands: list[list[str]], cwd: Path, timeout: float = 60) -> list[Result]:
    """`run_smbos` for each command, one after the other (in this process)."""
    return [run_smbos(*args, cwd=cwd, timeout=timeout) for args in commands]


def _assert_clean_output(result) -> None:
    assert "Traceback" not in result.output
    assert "internal error" not in result.output
    for line in result.stderr.splitlines():
        assert PROBLEM_LINE.match(line), f"not a one-line problem: {line!r}"


def _lines_with(stderr: str, prefix: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith(prefix)]


def assert_invalid(
    project: Path,
    prefix: str,
    contains: str = "",
    *,
    lines: int | None = 1,
    scope: str | None = None,
) -> None:
    """`validate` and `generate` both exit 2 and report `prefix...contains` on one line.

    `lines`: how many error lines must mention `scope` (default: the agent folder of `prefix`),
    so that one problem is one line, not a line and its consequences.
    """
    compose_file = _write_sentinel(project)
    scope = scope or "/".join(prefix.split("/")[:2]).split(":")[0]
    commands = [["validate"], ["generate"]]
    for args, result in zip(commands, run_all(commands, project)):
        assert result.code == 2, (args, result)
        _assert_clean_output(result)
        matching = _lines_with(result.stderr, prefix)
        assert matching, f"{args}: no line starts with {prefix!r}:\n{result.stderr}"
        assert any(contains in line for line in matching), (contains, matching)
        if lines is not None:
            mine = [
                line
                for line in result.stderr.splitlines()
                if not line.startswith("warning: ") and line.startswith((scope + "/", scope + ":"))
            ]
            assert len(mine) == lines, mine
        assert compose_file.read_bytes() == SENTINEL, f"{args} touched the Compose file"
        assert sorted(p.name for p in compose_file.parent.iterdir()) == ["docker-compose.yml"]


# --------------------------------------------------------------------------------- ids


@pytest.mark.parametrize(
    "agent_id, contains",
    [
        ("Andy", "lowercase"),
        ("an dy", "lowercase"),
        ("a" * 33, "at most 32"),
        ("my-nanoclaw-bot", "nanoclaw-"),
        ("nanoclaw-x", "nanoclaw-"),
        ("mynanoclaw", "contains 'nanoclaw'"),  # its container: smbos-mynanoclaw-1
        ("nanoclawx", "contains 'nanoclaw'"),  # the word anywhere, as the README says
        ("-andy", "starting and ending"),
        ("andy-", "starting and ending"),
        ("andy_1", "lowercase"),
        ("ändy", "lowercase"),
    ],
)
def test_invalid_agent_id(project: Path, agent_id: str, contains: str) -> None:
    write_agent(project / "agents", agent_id)
    assert_invalid(project, f"agents/{agent_id}: id: ", contains)


@pytest.mark.parametrize(
    "agent_id, shown",
    [
        ("an\ndy", "an\\ndy"),
        ("an\rdy", "an\\rdy"),
        ("an\u2028dy", "an\\u2028dy"),
    ],
)
def test_a_line_break_in_a_folder_name_stays_on_one_line(
    project: Path, agent_id: str, shown: str
) -> None:
    write_agent(project / "agents", agent_id)
    assert_invalid(project, f"agents/{shown}: id: ", "not valid")


def test_longest_valid_id_is_accepted(project: Path) -> None:
    write_agent(project / "agents", "a" * 32)
    result = run_smbos("validate", cwd=project)
    assert result.code == 0, result


@pytest.mark.parametrize("agent_id", ["..", ".", "../evil", "a/b", "/tmp/x", "", "-x"])
def test_new_refuses_path_like_ids(project: Path, agent_id: str) -> None:
    before = sorted(p.name for p in project.parent.iterdir())
    result = run_smbos("new", "--", agent_id, cwd=project)
    assert result.code == 2, result
    assert "Traceback" not in result.output
    assert len(result.stderr.splitlines()) == 1, result.stderr
    assert f"agents/{agent_id}: id: " in result.stderr
    assert list((project / "agents").iterdir()) == []
    assert sorted(p.name for p in project.parent.iterdir()) == before
    assert not (project / "evil").exists()


# ----------------------------------------------------------------------------- agent.md

AgentSetup = Callable[[Path], None]


def _no_agent_md(agents: Path) -> None:
    (write_agent(agents, "andy") / "agent.md").unlink()


def _md(text: str) -> AgentSetup:
    return lambda agents: write_agent(agents, "andy", agent_md=text)


AGENT_MD_CASES = {
    "missing": (_no_agent_md, "agents/andy/agent.md: missing", ""),
    "empty": (_md(""), "agents/andy/agent.md: is empty", ""),
    "blank": (_md("\n  \n\t\n"), "agents/andy/agent.md: is empty", ""),
    "unclosed-front-matter": (
        _md("---\nname: Andy\n# Andy\n\nYou plan.\n"),
        "agents/andy/agent.md: front matter: ",
        "never closed",
    ),
    "front-matter-is-a-list": (
        _md("---\n- a\n- b\n---\n# Andy\n\nYou plan.\n"),
        "agents/andy/agent.md: front matter: ",
        "mapping",
    ),
    "front-matter-bad-yaml": (
        _md("---\nname: Andy\ndescription: a: b\n---\n# Andy\n"),
        "agents/andy/agent.md: front matter: ",
        "not valid YAML at line 3",
    ),
    "front-matter-unknown-key": (
        _md("---\nnmae: Andy\n---\n# Andy\n"),
        "agents/andy/agent.md: nmae: ",
        "did you mean 'name'",
    ),
    "front-matter-wrong-type": (
        _md("---\nname: [Andy]\n---\n# Andy\n"),
        "agents/andy/agent.md: name: ",
        "string",
    ),
    "front-matter-name-two-lines": (
        _md('---\nname: "An\\ndy"\n---\n# Andy\n'),
        "agents/andy/agent.md: name: ",
        "single line",
    ),
    "body-empty": (
        _md("---\nname: Andy\n---\n\n   \n"),
        "agents/andy/agent.md: body: ",
        "is empty",
    ),
    "not-utf8": (
        lambda agents: (write_agent(agents, "andy") / "agent.md").write_bytes(b"# Andy \xff\xfe\n"),
        "agents/andy/agent.md: is not UTF-8",
        "",
    ),
    # A BOM before the fence would hide the front matter: its keys would go unchecked and the
    # YAML would end up in the identity.
    "bom": (
        _md("\ufeff---\nnmae: Andy\n---\n# Andy\n"),
        "agents/andy/agent.md: ",
        "byte order mark",
    ),
    "front-matter-description-two-lines": (
        _md('---\ndescription: "a\\nb"\n---\n# Andy\n'),
        "agents/andy/agent.md: description: ",
        "single line",
    ),
    "front-matter-duplicate-key": (
        _md("---\nname: Andy\nname: Bob\n---\n# Andy\n"),
        "agents/andy/agent.md: name: ",
        "given twice (line 3, first on line 2)",
    ),
}


@pytest.mark.parametrize("case", sorted(AGENT_MD_CASES))
def test_bad_agent_md(project: Path, case: str) -> None:
    setup, prefix, contains = AGENT_MD_CASES[case]
    setup(project / "agents")
    assert_invalid(project, prefix, contains)


# --------------------------------------------------------------------------- config.yaml


def _cfg(config) -> AgentSetup:
    return lambda agents: write_agent(agents, "andy", config)


def _cfg_bytes(data: bytes) -> AgentSetup:
    return lambda agents: (write_agent(agents, "andy") / "config.yaml").write_bytes(data)


def _schedules(*items: dict) -> AgentSetup:
    return _cfg(_base(schedules=[{"prompt": "Do the thing", **item} for item in items]))


BOMB = (
    "\n".join(
        [
            'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]',
            *[
                f"{chr(ord('b') + i)}: &{chr(ord('b') + i)} ["
                + ",".join([f"*{chr(ord('a') + i)}"] * 9)
                + "]"
                for i in range(8)
            ],
        ]
    )
    + "\n"
)

CONFIG_CASES = {
    "not-utf8": (_cfg_bytes(b"name: Andy \xff\xfe\n"), "agents/andy/config.yaml: is not UTF-8", ""),
    "bom": (
        _cfg_bytes("\ufeffname: Andy\n".encode()),
        "agents/andy/config.yaml: ",
        "byte order mark",
    ),
    "unprintable": (_cfg("\x1f"), "agents/andy/config.yaml: not valid YAML", "unacceptable"),
    "duplicate-key": (
        _cfg("name: Andy\nport: 3101\nport: 3102\n"),
        "agents/andy/config.yaml: port: ",
        "given twice (line 3, first on line 2)",
    ),
    "duplicate-nested-key": (
        _cfg(
            "name: Andy\nruntime:\n  timezone: UTC\n  log_level: info\n  timezone: Europe/Berlin\n"
        ),
        "agents/andy/config.yaml: runtime.timezone: ",
        "given twice",
    ),
    "duplicate-key-in-a-list": (
        _cfg(
            "name: Andy\nschedules:\n  - id: a\n    cron: 0 8 * * *\n    prompt: x\n    prompt: y\n"
        ),
        "agents/andy/config.yaml: schedules[0].prompt: ",
        "given twice",
    ),
    "a-list": (
        _cfg("- name: Andy\n- port: 3101\n"),
        "agents/andy/config.yaml: (top level): ",
        "expected a mapping of keys, got list",
    ),
    "a-scalar": (
        _cfg("just some words\n"),
        "agents/andy/config.yaml: (top level): ",
        "expected a mapping of keys, got str",
    ),
    "a-number": (_cfg("42\n"), "agents/andy/config.yaml: (top level): ", "got int"),
    "bad-yaml": (
        _cfg("name: Andy\nruntime:\n  timezone: [UTC\n"),
        "agents/andy/config.yaml: not valid YAML at line 4",
        "",
    ),
    "bad-yaml-tab": (
        _cfg("name: Andy\nruntime:\n\ttimezone: UTC\n"),
        "agents/andy/config.yaml: not valid YAML at line 3",
        "",
    ),
    "port-string": (_cfg(_base(port="abc")), "agents/andy/config.yaml: port: ", "integer"),
    "port-too-high": (_cfg(_base(port=70000)), "agents/andy/config.yaml: port: ", "65535"),
    "port-too-low": (_cfg(_base(port=80)), "agents/andy/config.yaml: port: ", "1024"),
    "port-float": (_cfg(_base(port=3101.5)), "agents/andy/config.yaml: port: ", ""),
    "enabled-yes-string": (
        _cfg(_base(enabled="yes")),
        "agents/andy/config.yaml: enabled: ",
        "boolean",
    ),
    "cpus-string": (
        _cfg(_base(runtime={"resources": {"cpus": "x"}})),
        "agents/andy/config.yaml: runtime.resources.cpus: ",
        "number",
    ),
    "memory-size": (
        _cfg(_base(runtime={"resources": {"memory": "lots"}})),
        "agents/andy/config.yaml: runtime.resources.memory: ",
        "512m",
    ),
    "timezone": (
        _cfg(_base(runtime={"timezone": "Europe/Berln"})),
        "agents/andy/config.yaml: runtime.timezone: ",
        "Europe/Berlin",
    ),
    "isolation": (
        _cfg(_base(runtime={"container_isolation": "podman"})),
        "agents/andy/config.yaml: runtime.container_isolation: ",
        "docker",
    ),
    "unknown-key": (
        _cfg(_base(prot=3101)),
        "agents/andy/config.yaml: prot: ",
        "did you mean 'port'",
    ),
    "unknown-nested-key": (
        _cfg(_base(runtime={"timezon": "UTC"})),
        "agents/andy/config.yaml: runtime.timezon: ",
        "did you mean 'timezone'",
    ),
    "key-with-a-newline": (
        _cfg('name: Andy\n"pr\\not": 1\n'),
        "agents/andy/config.yaml: pr\\not: ",
        "unknown key",
    ),
    "name-two-lines": (
        _cfg(_base(name="An\ndy")),
        "agents/andy/config.yaml: name: ",
        "single line",
    ),
    "assistant-name-line-separator": (
        _cfg(_base(runtime={"assistant_name": "An\u2028dy"})),
        "agents/andy/config.yaml: runtime.assistant_name: ",
        "single line",
    ),
    "unknown-key-no-suggestion": (
        _cfg(_base(zzzzzz=1)),
        "agents/andy/config.yaml: zzzzzz: ",
        "expected one of: name",
    ),
    "non-string-key": (
        _cfg("name: Andy\n1: one\n"),
        "agents/andy/config.yaml: 1: ",
        "keys must be strings",
    ),
    "cron-out-of-range": (
        _schedules({"id": "brief", "cron": "61 * * * *"}),
        "agents/andy/config.yaml: schedules[0].cron: ",
        "61 * * * *",
    ),
    "cron-too-few-fields": (
        _schedules({"id": "brief", "cron": "* * *"}),
        "agents/andy/config.yaml: schedules[0].cron: ",
        "5 fields",
    ),
    "interval-garbage": (
        _schedules({"id": "tick", "interval": "5x"}),
        "agents/andy/config.yaml: schedules[0].interval: ",
        "duration",
    ),
    "interval-too-short": (
        _schedules({"id": "tick", "interval": "10s"}),
        "agents/andy/config.yaml: schedules[0].interval: ",
        "60s",
    ),
    "interval-too-short-ms": (
        _schedules({"id": "tick", "interval": 59999}),
        "agents/andy/config.yaml: schedules[0].interval: ",
        "60s",
    ),
    "once-words": (
        _schedules({"id": "later", "once": "tomorrow"}),
        "agents/andy/config.yaml: schedules[0].once: ",
        "2026-12-01T09:00:00",
    ),
    "once-with-offset": (
        _schedules({"id": "later", "once": "2026-12-01T09:00:00+02:00"}),
        "agents/andy/config.yaml: schedules[0].once: ",
        "offset",
    ),
    "duplicate-schedule-id": (
        _schedules({"id": "brief", "cron": "0 8 * * *"}, {"id": "brief", "interval": "2h"}),
        "agents/andy/config.yaml: schedules[1].id: ",
        "duplicate",
    ),
    "cron-and-interval": (
        _schedules({"id": "both", "cron": "0 8 * * *", "interval": "1h"}),
        "agents/andy/config.yaml: schedules[0]: ",
        "exactly one",
    ),
    "no-schedule-kind": (
        _schedules({"id": "none"}),
        "agents/andy/config.yaml: schedules[0]: ",
        "exactly one",
    ),
    "schedule-without-prompt": (
        _cfg(_base(schedules=[{"id": "x", "cron": "0 8 * * *"}])),
        "agents/andy/config.yaml: schedules[0].prompt: ",
        "required",
    ),
    # Accepted before, refused now: each would have misbehaved at run time.
    "select-default-not-an-option": (
        _cfg(
            _base(
                skills=[
                    {
                        "id": "s",
                        "title": "S",
                        "prompt": "{tone}",
                        "inputs": [
                            {
                                "id": "tone",
                                "label": "Tone",
                                "type": "select",
                                "options": ["short", "long"],
                                "default": "loud",
                            }
                        ],
                    }
                ]
            )
        ),
        "agents/andy/config.yaml: skills[0].inputs[0]: ",
        "'loud' is not one of the options",
    ),
    "number-default-not-a-number": (
        _cfg(
            _base(
                skills=[
                    {
                        "id": "s",
                        "title": "S",
                        "prompt": "{n}",
                        "inputs": [{"id": "n", "label": "N", "type": "number", "default": "many"}],
                    }
                ]
            )
        ),
        "agents/andy/config.yaml: skills[0].inputs[0]: ",
        "'many' is not a number",
    ),
    "date-default-not-a-date": (
        _cfg(
            _base(
                skills=[
                    {
                        "id": "s",
                        "title": "S",
                        "prompt": "{d}",
                        "inputs": [
                            {"id": "d", "label": "D", "type": "date", "default": "31/12/2026"}
                        ],
                    }
                ]
            )
        ),
        "agents/andy/config.yaml: skills[0].inputs[0]: ",
        "is not a date YYYY-MM-DD",
    ),
    "blank-schedule-prompt": (
        _schedules({"id": "x", "cron": "0 8 * * *", "prompt": "  \n "}),
        "agents/andy/config.yaml: schedules[0].prompt: ",
        "blank",
    ),
    "blank-skill-prompt": (
        _cfg(_base(skills=[{"id": "s", "title": "S", "prompt": " "}])),
        "agents/andy/config.yaml: skills[0].prompt: ",
        "blank",
    ),
    "once-in-the-past": (
        _schedules({"id": "launch", "once": "2020-01-01T09:00:00"}),
        "agents/andy/config.yaml: schedules[0].once: ",
        "2020-01-01T09:00:00 has passed (UTC)",
    ),
    "cron-never-fires": (
        _schedules({"id": "never", "cron": "0 9 31 2 *"}),
        "agents/andy/config.yaml: schedules[0].cron: ",
        "never fires",
    ),
    "interval-too-long": (
        _schedules({"id": "tick", "interval": "400d"}),
        "agents/andy/config.yaml: schedules[0].interval: ",
        "at most 366d",
    ),
    "interval-huge-ms": (
        _schedules({"id": "tick", "interval": 10**30}),
        "agents/andy/config.yaml: schedules[0].interval: ",
        "",
    ),
    "cpus-tiny": (
        _cfg(_base(runtime={"resources": {"cpus": 0.0001}})),
        "agents/andy/config.yaml: runtime.resources.cpus: ",
        "0.01",
    ),
    "memory-zero": (
        _cfg(_base(runtime={"resources": {"memory": "0b"}})),
        "agents/andy/config.yaml: runtime.resources.memory: ",
        "at least 6m",
    ),
    "memory-tiny": (
        _cfg(_base(runtime={"resources": {"memory": "5m"}})),
        "agents/andy/config.yaml: runtime.resources.memory: ",
        "at least 6m",
    ),
    "image-reference": (
        _cfg(_base(runtime={"image": "Not An/Image::x"})),
        "agents/andy/config.yaml: runtime.image: ",
        "not an image reference",
    ),
    "image-uppercase": (
        _cfg(_base(runtime={"image": "smbos/NanoClaw:local"})),
        "agents/andy/config.yaml: runtime.image: ",
        "not an image reference",
    ),
    "telegram-only-without-telegram": (
        _cfg(_base(channels={"telegram_only": True})),
        "agents/andy/config.yaml: channels: ",
        "telegram_only needs telegram: true",
    ),
    "description-two-lines": (
        _cfg(_base(description="one\ntwo")),
        "agents/andy/config.yaml: description: ",
        "single line",
    ),
    "unknown-integration": (
        _cfg(_base(integrations=["notoin"])),
        "agents/andy/config.yaml: integrations: ",
        "did you mean 'notion'",
    ),
    "unknown-channel": (
        _cfg(_base(channels={"telegrm": True})),
        "agents/andy/config.yaml: channels.telegrm: ",
        "did you mean 'telegram'",
    ),
    "skill-placeholder": (
        _cfg(_base(skills=[{"id": "ask", "title": "Ask", "prompt": "{q}"}])),
        "agents/andy/config.yaml: skills[0]: ",
        "{q}",
    ),
    "too-large": (
        _cfg("# padding\n" + ("#" + "x" * 1023 + "\n") * 300),
        "agents/andy/config.yaml: ",
        "too large",
    ),
    "yaml-bomb": (_cfg(BOMB), "agents/andy/config.yaml: not valid YAML", "aliases"),
    "yaml-tagged-value-it-cannot-hold": (
        _cfg("name: Andy\nport: !!int 3x1\n"),
        "agents/andy/config.yaml: not valid YAML at line 2, column 7",
        "cannot read '3x1' as int",
    ),
    "yaml-anchor": (
        _cfg("name: &n Andy\ndescription: Plans\n"),
        "agents/andy/config.yaml: not valid YAML at line 1, column 7",
        "anchors and aliases are not supported",
    ),
    "yaml-anchor-on-a-mapping": (
        _cfg("runtime: &r {timezone: UTC}\n"),
        "agents/andy/config.yaml: not valid YAML at line 1",
        "anchors and aliases are not supported",
    ),
    "deep-nesting": (
        _cfg("[" * 60_000 + "]" * 60_000 + "\n"),
        "agents/andy/config.yaml: ",
        "nested too deeply",
    ),
}


@pytest.mark.parametrize("case", sorted(CONFIG_CASES))
def test_bad_config_yaml(project: Path, case: str) -> None:
    setup, prefix, contains = CONFIG_CASES[case]
    setup(project / "agents")
    assert_invalid(project, prefix, contains)


def test_unreadable_config_yaml(project: Path) -> None:
    # Root reads a chmod 000 file anyway: as root, the CLI runs without the two capabilities
    # that let it (setpriv, from util-linux), so the file is as unreadable as for anyone else.
    config = write_agent(project / "agents", "andy") / "config.yaml"
    config.chmod(0)
    root = os.geteuid() == 0
    try:
        for args in (["validate"], ["generate"]):
            result = (
                run_smbos_process(
                    *args,
                    cwd=project,
                    wrapper=("setpriv", "--bounding-set=-dac_override,-dac_read_search"),
                )
                if root
                else run_smbos(*args, cwd=project)
            )
            assert result.code == 2, (args, result)
            _assert_clean_output(result)
            assert _lines_with(result.stderr, "agents/andy/config.yaml: cannot read"), result
        assert not (project / "compose").exists()
    finally:
        config.chmod(0o644)


def test_two_agents_on_one_port(project: Path) -> None:
    write_agent(project / "agents", "andy", _base(port=3101))
    write_agent(project / "agents", "bob", _base(name="Bob", port=3101))
    assert_invalid(project, "agents/bob/config.yaml: port: ", "'andy'", scope="agents")


def test_assigned_port_does_not_collide_with_a_fixed_one(project: Path) -> None:
    # Without a port, an agent gets one from its id; a fixed port elsewhere is never reused.
    agents = project / "agents"
    write_agent(agents, "andy")
    first = json.loads(run_smbos("list", "--json", cwd=project).stdout)[0]["port"]
    write_agent(agents, "bob", _base(name="Bob", port=first))
    result = run_smbos("list", "--json", cwd=project)
    assert result.code == 0, result
    ports = {row["id"]: row["port"] for row in json.loads(result.stdout)}
    assert ports["bob"] == first and ports["andy"] != first


def test_yaml_bomb_is_refused_quickly(project: Path) -> None:
    write_agent(project / "agents", "andy", BOMB)
    result = run_smbos("validate", cwd=project, timeout=20)
    assert result.code == 2
    _assert_clean_output(result)


# -------------------------------------------------------------------------- .env.example


def _example(text: str) -> AgentSetup:
    return lambda agents: write_agent(agents, "andy", env_example=text)


def _no_example(agents: Path) -> None:
    (write_agent(agents, "andy") / ".env.example").unlink()


ANTHROPIC_SECRET = "sk-ant-api03-" + _random_token(40)
TELEGRAM_SECRET = "7412589630:AA" + _random_token(33, string.ascii_letters + string.digits + "_-")
GENERIC_SECRET = _random_token(40)

EXAMPLE_CASES = {
    "missing": (_no_example, "agents/andy/.env.example: missing", ""),
    "anthropic-key": (
        _example(f"# The API key.\nANTHROPIC_API_KEY={ANTHROPIC_SECRET}\n"),
        "agents/andy/.env.example: ANTHROPIC_API_KEY: ",
        "real secret",
    ),
    "anthropic-key-quoted": (
        _example(f'# The API key.\nANTHROPIC_API_KEY="{ANTHROPIC_SECRET}"\n'),
        "agents/andy/.env.example: ANTHROPIC_API_KEY: ",
        "real secret",
    ),
    "telegram-token": (
        _example(f"{ENV_EXAMPLE}\n# Bot.\nTELEGRAM_BOT_TOKEN={TELEGRAM_SECRET}\n"),
        "agents/andy/.env.example: TELEGRAM_BOT_TOKEN: ",
        "real secret",
    ),
    "generic-high-entropy": (
        _example(f"{ENV_EXAMPLE}\n# Some.\nSOME_SETTING={GENERIC_SECRET}\n"),
        "agents/andy/.env.example: SOME_SETTING: ",
        "real secret",
    ),
    "no-credential-documented": (
        _example("# optional\nFOO=\n"),
        "agents/andy/.env.example: ANTHROPIC_API_KEY: ",
        "not documented",
    ),
    "integration-key-undocumented": (
        lambda agents: write_agent(
            agents,
            "andy",
            _base(integrations=["notion"]),
            env="ANTHROPIC_API_KEY=x\nNOTION_TOKEN=y\n",
        ),
        "agents/andy/.env.example: NOTION_TOKEN: ",
        "integration notion",
    ),
    "channel-key-undocumented": (
        lambda agents: write_agent(
            agents,
            "andy",
            _base(channels={"telegram": True}),
            env="ANTHROPIC_API_KEY=x\nTELEGRAM_BOT_TOKEN=y\n",
        ),
        "agents/andy/.env.example: TELEGRAM_BOT_TOKEN: ",
        "channel telegram",
    ),
    "not-key-value": (
        _example(ENV_EXAMPLE + "\nthis is not a key\n"),
        "agents/andy/.env.example: line 7: ",
        "KEY=value",
    ),
    "bom": (_example("\ufeff" + ENV_EXAMPLE), "agents/andy/.env.example: ", "byte order mark"),
}


@pytest.mark.parametrize("case", sorted(EXAMPLE_CASES))
def test_bad_env_example(project: Path, case: str) -> None:
    setup, prefix, contains = EXAMPLE_CASES[case]
    setup(project / "agents")
    assert_invalid(project, prefix, contains)


@pytest.mark.parametrize("secret", [ANTHROPIC_SECRET, TELEGRAM_SECRET, GENERIC_SECRET])
def test_committed_secret_is_not_echoed(project: Path, secret: str) -> None:
    write_agent(
        project / "agents",
        "andy",
        env_example=ENV_EXAMPLE + f"\n# Something.\nSOME_TOKEN={secret}\n",
    )
    commands = [["validate"], ["validate", "--json"], ["generate"]]
    for result in run_all(commands, project):
        assert result.code == 2
        assert secret not in result.output
        assert secret[6:-6] not in result.output


@pytest.mark.parametrize(
    "value",
    [
        "",
        "<your-key>",
        "<paste the token from @BotFather>",
        "https://api.example.com",
        '""',
        "your-api-key",
        "changeme",
        "sk-ant-...",
        "put-your-key-here",
        "/run/secrets/token.json",
        "3101",
        "false",
    ],
)
def test_placeholders_are_not_secrets(project: Path, value: str) -> None:
    write_agent(
        project / "agents",
        "andy",
        env_example=ENV_EXAMPLE + f"\n# Optional: a setting.\nSOME_TOKEN={value}\n",
    )
    result = run_smbos("validate", cwd=project)
    assert result.code == 0, result
    assert "real secret" not in result.output
    _assert_clean_output(result)


# ---------------------------------------------------------------------------- .env keys

NEEDY_EXAMPLE = ENV_EXAMPLE + (
    "\n# Notion token.\nNOTION_TOKEN=\n"
    "\n# Telegram bot token.\nTELEGRAM_BOT_TOKEN=\n"
    "\n# The shop's domain.\nSHOP_DOMAIN=\n"
    "\n# Optional: a webhook.\nWEBHOOK_URL=\n"
)


def _needy(agents: Path, env: str | None) -> None:
    write_agent(
        agents,
        "andy",
        _base(channels={"telegram": True}, integrations=["notion"]),
        env_example=NEEDY_EXAMPLE,
        env=env,
    )


@pytest.mark.parametrize(
    "env, where",
    [
        ("ANTHROPIC_API_KEY=sk-test-placeholder\n", "agents/andy/.env"),
        (
            "ANTHROPIC_API_KEY=sk-test-placeholder\nNOTION_TOKEN=\nTELEGRAM_BOT_TOKEN=  \n",
            "agents/andy/.env",
        ),
        (None, "agents/andy/.env (missing)"),
    ],
)
def test_missing_env_keys_warn_then_fail_when_strict(
    project: Path, env: str | None, where: str
) -> None:
    _needy(project / "agents", env)
    expected = {
        "NOTION_TOKEN": "integration notion",
        "TELEGRAM_BOT_TOKEN": "channel telegram",
        "SHOP_DOMAIN": ".env.example",
    }
    if env is None:
        expected["ANTHROPIC_API_KEY"] = "ANTHROPIC_API_KEY or CLAUDE_CODE_OAUTH_TOKEN"

    result = run_smbos("validate", cwd=project)
    assert result.code == 0, result
    _assert_clean_output(result)
    for key, why in expected.items():
        lines = _lines_with(result.stderr, f"warning: {where}: {key}: not set")
        assert len(lines) == 1 and why in lines[0], (key, result.stderr)
    assert "WEBHOOK_URL" not in result.stderr  # optional
    assert len(result.stderr.splitlines()) == len(expected)

    strict = run_smbos("validate", "--strict", cwd=project)
    assert strict.code == 2, strict
    _assert_clean_output(strict)
    for key in expected:
        assert len(_lines_with(strict.stderr, f"{where}: {key}: not set")) == 1, strict.stderr
    assert "warning:" not in strict.stderr

    generated = run_smbos("generate", cwd=project)
    assert generated.code == 0, generated
    assert generated.stderr.startswith("warning: ")
    assert (project / "compose" / "docker-compose.yml").is_file()


def test_all_keys_set_is_clean_even_when_strict(project: Path) -> None:
    _needy(
        project / "agents",
        "ANTHROPIC_API_KEY=sk-a-7Hq2\nNOTION_TOKEN=ntn-b-7Hq2\n"
        "TELEGRAM_BOT_TOKEN=1:c-7Hq2\nSHOP_DOMAIN=d-7Hq2.example\n",
    )
    for result in run_all([["validate"], ["validate", "--strict"]], project):
        assert result.code == 0, result
        assert result.stderr == ""


def test_oauth_token_is_enough_credential(project: Path) -> None:
    write_agent(project / "agents", "andy", env="CLAUDE_CODE_OAUTH_TOKEN=tok\n")
    result = run_smbos("validate", "--strict", cwd=project)
    assert result.code == 0, result


def test_env_with_a_bom_is_an_error(project: Path) -> None:
    write_agent(project / "agents", "andy", env="\ufeffANTHROPIC_API_KEY=sk-test\n")
    assert_invalid(project, "agents/andy/.env: ", "byte order mark")


def test_env_inline_comment_is_a_warning_naming_the_key(project: Path) -> None:
    """`KEY=value # note`: the runtime reads `value # note`; validate says so, value unshown."""
    write_agent(
        project / "agents",
        "andy",
        env="ANTHROPIC_API_KEY=sk-test-planted9 # the team key\nQUOTED='a # b-7Hq2'\n",
    )
    result = run_smbos("validate", cwd=project)
    assert result.code == 0, result
    assert result.stderr.startswith(
        "warning: agents/andy/.env: ANTHROPIC_API_KEY: the value holds ' #'"
    ), result.stderr
    assert len(result.stderr.splitlines()) == 1 and "planted9" not in result.output


def test_unparsable_env_line_prints_nothing_stray(project: Path) -> None:
    write_agent(
        project / "agents",
        "andy",
        env="ANTHROPIC_API_KEY=sk-k-7Hq2\nnot a line at all planted-value-93\n'open=quote\n",
    )
    result = run_smbos("validate", cwd=project)
    assert result.code == 0, result
    assert result.stderr == ""
    assert "planted-value-93" not in result.output


# ------------------------------------------------------------------- folder structure


def _symlink_out(agents: Path) -> None:
    folder = write_agent(agents, "andy")
    (folder / "memory" / "leak.md").symlink_to("/etc/hostname")


def _env_dir(agents: Path) -> None:
    folder = write_agent(agents, "andy", env=None)
    (folder / ".env").mkdir()


def _no_memory(agents: Path) -> None:
    folder = write_agent(agents, "andy")
    for child in (folder / "memory").iterdir():
        child.unlink()
    (folder / "memory").rmdir()


def _memory_file(agents: Path) -> None:
    _no_memory(agents)
    (agents / "andy" / "memory").write_text("not a folder\n")


def _env_symlink_out(agents: Path) -> None:
    folder = write_agent(agents, "andy", env=None)
    (folder / ".env").symlink_to("/etc/hostname")


def _dir_symlink_out(agents: Path) -> None:
    folder = write_agent(agents, "andy")
    (folder / "memory" / "etc").symlink_to("/etc", target_is_directory=True)


STRUCTURE_CASES = {
    "symlink-outside": (_symlink_out, "agents/andy/memory/leak.md: symlink: ", "outside"),
    "dir-symlink-outside": (_dir_symlink_out, "agents/andy/memory/etc: symlink: ", "outside"),
    "env-symlink-outside": (_env_symlink_out, "agents/andy/.env: symlink: ", "outside"),
    "env-is-a-directory": (_env_dir, "agents/andy/.env: is a directory", ""),
    "memory-missing": (_no_memory, "agents/andy/memory: missing", ""),
    "memory-is-a-file": (_memory_file, "agents/andy/memory: is not a directory", ""),
    "env-example-is-a-directory": (
        lambda agents: (
            (write_agent(agents, "andy") / ".env.example").unlink(),
            (agents / "andy" / ".env.example").mkdir(),
        ),
        "agents/andy/.env.example: is not a regular file",
        "",
    ),
}


@pytest.mark.parametrize("case", sorted(STRUCTURE_CASES))
def test_bad_folder_structure(project: Path, case: str) -> None:
    setup, prefix, contains = STRUCTURE_CASES[case]
    setup(project / "agents")
    assert_invalid(project, prefix, contains)


@pytest.mark.parametrize("link", ["andy-2", "aaa"])  # sorting after and before the real one
def test_two_agent_folders_that_are_one_folder(project: Path, link: str) -> None:
    """A link to another agent's folder would give two containers one memory and one .env."""
    write_agent(project / "agents", "andy")
    (project / "agents" / link).symlink_to("andy", target_is_directory=True)
    assert_invalid(
        project, f"agents/{link}: is the same folder as agent 'andy' (a link)", scope="agents"
    )


@pytest.mark.parametrize(
    "config",
    [
        _base(runtime={"image": "ghcr.io/acme/nanoclaw:1.2.3"}),
        _base(runtime={"image": "localhost:5000/nanoclaw@sha256:" + "a" * 64}),
        _base(runtime={"image": "registry:5000/team/agent-runtime_v2"}),
        _base(runtime={"resources": {"cpus": 0.01, "memory": "6m"}}),
        _base(
            schedules=[
                {"id": "leap", "cron": "0 9 29 2 *", "prompt": "Leap day"},
                {"id": "yearly", "interval": "366d", "prompt": "Once a year"},
                {"id": "later", "once": "2099-01-01T09:00:00", "prompt": "Later"},
                {"id": "done", "once": "2020-01-01T09:00:00", "prompt": "Ran", "enabled": False},
            ]
        ),
        _base(
            skills=[
                {
                    "id": "s",
                    "title": "S",
                    "prompt": "{d} {n} {t}",
                    "inputs": [
                        {"id": "d", "label": "D", "type": "date", "default": "2026-03-01"},
                        {"id": "n", "label": "N", "type": "number", "default": 3},
                        {
                            "id": "t",
                            "label": "T",
                            "type": "select",
                            "options": [1, 2],
                            "default": 2,
                        },
                    ],
                }
            ]
        ),
    ],
    ids=["registry-tag", "digest", "registry-port", "smallest-limits", "schedules", "defaults"],
)
def test_edges_that_stay_valid(project: Path, config: dict) -> None:
    write_agent(project / "agents", "andy", config)
    result = run_smbos("validate", cwd=project)
    assert result.code == 0, result


def test_a_date_default_written_as_a_yaml_date(project: Path) -> None:
    write_agent(
        project / "agents",
        "andy",
        "name: Andy\nskills:\n  - id: s\n    title: S\n"
        "    prompt: '{d}'\n    inputs:\n      - {id: d, label: D, type: date, "
        "default: 2026-03-01}\n",
    )
    assert run_smbos("validate", cwd=project).code == 0


def test_a_once_without_a_time_says_so_plainly(project: Path) -> None:
    write_agent(
        project / "agents",
        "andy",
        "name: Andy\nschedules:\n  - id: x\n    once: 2027-01-01\n    prompt: Go\n",
    )
    assert_invalid(
        project,
        "agents/andy/config.yaml: schedules[0].once: ",
        "expected a local timestamp such as 2027-01-01T09:00:00, got the date "
        "2027-01-01 without a time",
    )
    result = run_smbos("validate", cwd=project)
    assert "datetime.date(" not in result.output


def test_symlink_inside_the_folder_is_fine(project: Path) -> None:
    folder = write_agent(project / "agents", "andy")
    (folder / "memory" / "alias.md").symlink_to("context.md")
    (folder / "notes").symlink_to("memory", target_is_directory=True)
    result = run_smbos("validate", cwd=project)
    assert result.code == 0, result
    assert result.stderr == ""


# --------------------------------------------------------------------- whole runs


def test_every_problem_of_every_agent_in_one_run(project: Path) -> None:
    agents = project / "agents"
    write_agent(
        agents,
        "andy",
        _base(prot=1, enabled="yes", schedules=[{"id": "x", "cron": "61 * * * *", "prompt": "p"}]),
    )
    write_agent(
        agents, "bob", _base(name="Bob", integrations=["notoin"]), agent_md="---\nname: Bob\n---\n"
    )
    write_agent(agents, "carl")  # valid, and not in the way
    (agents / "andy" / ".env.example").unlink()
    expected = [
        "agents/andy/.env.example: missing",
        "agents/andy/config.yaml: enabled: ",
        "agents/andy/config.yaml: prot: ",
        "agents/andy/config.yaml: schedules[0].cron: ",
        "agents/bob/agent.md: body: ",
        "agents/bob/config.yaml: integrations: ",
    ]
    compose_file = _write_sentinel(project)
    commands = [["validate"], ["generate"], ["list"], ["generate", "--check"]]
    for args, result in zip(commands, run_all(commands, project)):
        assert result.code == 2, (args, result)
        _assert_clean_output(result)
        lines = result.stderr.splitlines()
        assert len(lines) == len(expected), lines
        for prefix, line in zip(expected, lines):
            assert line.startswith(prefix), (prefix, line)
        assert compose_file.read_bytes() == SENTINEL

    as_json = run_smbos("validate", "--json", cwd=project)
    assert as_json.code == 2
    report = json.loads(as_json.stdout)
    assert report["valid"] is False and report["agents"] == ["carl"]
    assert [f"{p['path']}: {p['field']}" for p in report["problems"]] == [
        "agents/andy/.env.example: ",
        "agents/andy/config.yaml: enabled",
        "agents/andy/config.yaml: prot",
        "agents/andy/config.yaml: schedules[0].cron",
        "agents/bob/agent.md: body",
        "agents/bob/config.yaml: integrations",
    ]


def test_valid_folder_exits_zero(project: Path) -> None:
    write_agent(project / "agents", "andy")
    result = run_smbos("validate", cwd=project)
    assert result.code == 0, result
    assert result.stderr == ""
    assert "1 agent(s) valid" in result.stdout
    generated = run_smbos("generate", cwd=project)
    assert generated.code == 0, generated
    assert generated.stderr == ""
    assert "andy" in (project / "compose" / "docker-compose.yml").read_text()


def test_no_agents_folder(tmp_path: Path) -> None:
    result = run_smbos("validate", cwd=tmp_path)
    assert result.code == 2
    assert result.stderr == "agents: not found; expected a directory of agent folders\n"


def test_env_values_are_never_printed(project: Path) -> None:
    agents = project / "agents"
    planted = "planted-7c1e9b2f-value"
    env = (
        f"ANTHROPIC_API_KEY={planted}-1\nNOTION_TOKEN={planted}-2\n"
        f"SOME_OTHER={planted}-3\nbroken line {planted}-4\n"
    )
    write_agent(agents, "andy", _base(integrations=["notoin"], port=80), env=env)
    write_agent(
        agents,
        "bob",
        _base(name="Bob", channels={"telegram": True}),
        env_example=ENV_EXAMPLE + "\n# Bot.\nTELEGRAM_BOT_TOKEN=\n",
        env=f"CLAUDE_CODE_OAUTH_TOKEN={planted}-5\nTELEGRAM_BOT_TOKEN=\n",
    )
    write_agent(
        agents,
        "carl",
        _base(name="Carl"),
        env_example=ENV_EXAMPLE + "\n# Shop.\nSHOP=\n",
        env=f"ANTHROPIC_API_KEY={planted}-6\nSHOP={planted}-7\n",
    )
    commands = [
        ["validate"],
        ["validate", "--json"],
        ["validate", "--strict"],
        ["validate", "--strict", "--json"],
        ["generate"],
        ["list"],
        ["list", "--json"],
    ]
    for args, result in zip(commands, run_all(commands, project)):
        assert result.code == 2, (args, result)
        assert planted not in result.output, args


# ------------------------------------------------------------- the `# not secret` marker


@pytest.mark.parametrize(
    "comment, plain, warned",
    [
        ("# The shop's public domain.\n# not secret", True, ""),
        ("# The shop's public domain.\n#   not   secret  ", True, ""),
        ("# The shop's domain; not secret-free: it names the customer.", False, "mentions"),
        ("# The shop's domain (optional, not secret).", False, "mentions"),
        ("# The shop's domain.\n# NOT SECRET", False, "mentions"),
        ("# The shop's domain.\n# not secret: the public one", False, "mentions"),
        ("# The shop's domain.", False, ""),
    ],
)
def test_not_secret_is_one_exact_marker(
    project: Path, comment: str, plain: bool, warned: str
) -> None:
    """Only a comment line `# not secret` of its own shows a value in clear; a comment that
    merely mentions the words keeps it masked, and says so."""
    from smbos import envfile, operations
    from smbos.loader import load_fleet

    write_agent(
        project / "agents",
        "andy",
        env_example=ENV_EXAMPLE + f"\n{comment}\nSHOP_DOMAIN=\n",
        env="ANTHROPIC_API_KEY=sk-test\nSHOP_DOMAIN=shop.example.org\n",
    )
    andy = load_fleet(project / "agents").get("andy")
    assert operations.is_secret(andy, "SHOP_DOMAIN") is not plain
    [key] = [k for k in andy.env_example if k.key == "SHOP_DOMAIN"]
    assert envfile.NOT_SECRET not in key.comment and key.comment.startswith("The shop's")
    shown = run_smbos("env", "andy", cwd=project, env={"DOCKER_HOST": "unix:///nonexistent"})
    assert ("shop.example.org" in shown.stdout) is plain, shown.stdout
    result = run_smbos("validate", cwd=project)
    assert result.code == 0, result
    lines = _lines_with(result.stderr, "warning: agents/andy/.env.example: SHOP_DOMAIN: ")
    assert len(lines) == (1 if warned else 0), result.stderr
    assert all(warned in line and "'# not secret'" in line for line in lines), lines


@pytest.mark.parametrize(
    "key",
    [
        "STRIPE_API_KEY",
        "SESSION_TOKEN",
        "DB_PASSWORD",
        "PW_HASH",
        "GOOGLE_APPLICATION_CREDENTIALS",
        "WEBHOOK_SIGNATURE_SECRET",
    ],
)
def test_a_credential_marked_not_secret_is_warned_about(project: Path, key: str) -> None:
    write_agent(
        project / "agents",
        "andy",
        env_example=ENV_EXAMPLE + f"\n# Something.\n# not secret\n{key}=\n",
    )
    result = run_smbos("validate", cwd=project)
    assert result.code == 0, result
    [line] = _lines_with(result.stderr, f"warning: agents/andy/.env.example: {key}: ")
    assert "looks like a credential" in line and "shown in clear" in line, line


# ------------------------------------------- keys of integrations and channels that are off


def test_keys_of_integrations_and_channels_that_are_off_are_not_required(project: Path) -> None:
    """`.env.example` may document the keys of every integration and channel the agent might
    use; one is required only while its integration, channel or tool is on."""
    example = NEEDY_EXAMPLE + "\n# A tool's key.\nFILES_TOKEN=\n"
    tool = {
        "id": "files",
        "type": "mcp",
        "command": "files-mcp",
        "env": {"T": "FILES_TOKEN"},
        "enabled": False,
    }
    write_agent(
        project / "agents",
        "andy",
        _base(tools=[tool]),
        env_example=example,
        env="ANTHROPIC_API_KEY=sk-test-key-a\nSHOP_DOMAIN=shop.example.com\n",
    )
    for args in (["validate", "--strict"], ["generate"]):
        result = run_smbos(*args, cwd=project)
        assert result.code == 0 and result.stderr == "", (args, result)
    keys = {
        k["key"]: k
        for k in json.loads(
            run_smbos(
                "env", "andy", "--json", cwd=project, env={"DOCKER_HOST": "unix:///nonexistent"}
            ).stdout
        )["keys"]
    }
    assert not any(
        keys[k]["required"] for k in ("NOTION_TOKEN", "TELEGRAM_BOT_TOKEN", "FILES_TOKEN")
    )
    assert keys["SHOP_DOMAIN"]["required"]

    # Switched on, each is required again, and said by what.
    write_agent(
        project / "agents",
        "andy",
        _base(
            tools=[{**tool, "enabled": True}], integrations=["notion"], channels={"telegram": True}
        ),
        env_example=example,
        env="ANTHROPIC_API_KEY=sk-test-key-a\nSHOP_DOMAIN=shop.example.com\n",
    )
    strict = run_smbos("validate", "--strict", cwd=project)
    assert strict.code == 2, strict
    for key, why in (
        ("NOTION_TOKEN", "integration notion"),
        ("TELEGRAM_BOT_TOKEN", "channel telegram"),
        ("FILES_TOKEN", "tool files"),
    ):
        [line] = _lines_with(strict.stderr, f"agents/andy/.env: {key}: not set")
        assert line.endswith(f"required by {why}"), line


# ------------------------------------------------------- the container's environment limits


def _schedules(prompts: list[str], **extra) -> dict:
    return _base(
        schedules=[
            {"id": f"s{i}", "cron": "0 8 * * *", "prompt": p, **extra}
            for i, p in enumerate(prompts)
        ]
    )


def test_schedules_that_overflow_one_environment_variable_are_refused(project: Path) -> None:
    """Linux refuses a `NAME=value` over 128 KiB: the container could never start. The prompt
    that fills the variable to the byte is accepted, one byte more is refused, naming the field
    and the size; a disabled schedule does not count, and the size is in bytes (UTF-8)."""
    from smbos import runenv
    from smbos.loader import load_fleet

    agents = project / "agents"
    write_agent(agents, "andy", _schedules(["p"]))
    andy = load_fleet(agents).get("andy")
    room = runenv.MAX_VARIABLE_BYTES - runenv.size("SMBOS_SCHEDULES", runenv.schedules_json(andy))
    write_agent(agents, "andy", _schedules(["p" * (1 + room)]))
    assert run_smbos("validate", cwd=project).code == 0
    write_agent(agents, "andy", _schedules(["p" * room + "é"]))
    for args in (["validate"], ["generate"]):
        result = run_smbos(*args, cwd=project)
        assert result.code == 2, result
        [line] = result.stderr.splitlines()
        assert line == (
            "agents/andy/config.yaml: schedules: makes the container's variable SMBOS_SCHEDULES "
            f"{runenv.MAX_VARIABLE_BYTES + 1} bytes, limit {runenv.MAX_VARIABLE_BYTES} (Linux's "
            "limit on one environment variable): the container could not start; shorten it "
            "(long instructions belong in the agent's memory files)"
        ), line
    assert not (project / "compose" / "docker-compose.yml").exists()
    write_agent(agents, "andy", _schedules(["q" * 30_000] * 5))  # many schedules add up
    assert "SMBOS_SCHEDULES" in run_smbos("validate", cwd=project).stderr
    write_agent(agents, "andy", _schedules(["q" * 30_000] * 5, enabled=False))
    assert run_smbos("validate", cwd=project).code == 0


def test_other_large_variables_name_their_field(project: Path) -> None:
    tool = {"id": "big", "type": "mcp", "command": "big-mcp", "args": ["a" * 70_000] * 2}
    write_agent(project / "agents", "andy", _base(tools=[tool]))
    result = run_smbos("validate", cwd=project)
    assert result.code == 2
    assert result.stderr.startswith(
        "agents/andy/config.yaml: tools: makes the container's variable SMBOS_MCP_SERVERS "
    ), result.stderr


def test_the_whole_environment_has_a_limit_too() -> None:
    from smbos import runenv

    env = {f"V{i}": "x" * 120_000 for i in range(9)}
    [problem] = runenv.problems(env, "agents/andy/config.yaml")
    assert problem.field == "(environment)"
    assert (
        f"environment {sum(runenv.size(k, v) for k, v in env.items())} bytes in all, limit "
        f"{runenv.MAX_TOTAL_BYTES}" in problem.message
    )
    env["SMBOS_SCHEDULES"] = "y" * 140_000
    fields = [p.field for p in runenv.problems(env, "agents/andy/config.yaml")]
    assert fields == ["schedules", "schedules"]  # over one variable's limit, and the largest


@pytest.mark.parametrize(
    "once",
    [
        "2099-01-01T09:00:00",
        "2099-01-01 09:00:00",
        "2099-1-1T9:00:00",
        "2099-01-01T09:00:00.25",
        "2099-01-01t09:00:00",
        "2099-01-01T09:00",
        "2099-01-01",
        "2099-01-01T09:00:00Z",
        "2099-13-01T09:00:00",
        "next year",
    ],
)
def test_a_quoted_once_is_the_unquoted_one(project: Path, once: str) -> None:
    """YAML reads `once: 2099-01-01T09:00:00` as a timestamp and `once: "..."` as a string:
    both are the same schedule (or the same refusal), whatever form the time takes."""
    from smbos import compose

    results = []
    for shown in (once, f'"{once}"', f"'{once}'"):
        write_agent(
            project / "agents",
            "andy",
            "runtime: {container_isolation: none}\n"
            f"schedules:\n  - {{id: launch, prompt: Launch, once: {shown}}}\n",
        )
        result = run_smbos("validate", cwd=project)
        schedule = None
        if result.code == 0:
            from smbos.loader import load_fleet

            schedule = json.loads(compose.schedules_json(load_fleet(project / "agents").agents[0]))
        results.append((result.code, result.stderr, schedule))
    assert results[0] == results[1] == results[2], results
    if results[0][0] == 0:
        assert results[0][2][0]["schedule_value"].startswith("2099-01-01T09:00")


@pytest.mark.parametrize("newline", ["\r\n", "\r"])
def test_windows_and_old_mac_line_ends_read_as_line_feeds(project: Path, newline: str) -> None:
    """agent.md and config.yaml are read with `\\r\\n` and `\\r` as `\\n` (as Python's text files
    read them): the same agent as with `\\n`; `.env` keeps them (the runtime splits on `\\n`)."""
    from smbos.loader import load_fleet

    folder = write_agent(project / "agents", "andy", _base(description="Plans"))
    before = load_fleet(project / "agents").agents[0]
    for name in ("agent.md", "config.yaml"):
        path = folder / name
        path.write_bytes(path.read_bytes().replace(b"\n", newline.encode()))
    fleet = load_fleet(project / "agents")
    assert not fleet.errors, fleet.errors
    after = fleet.agents[0]
    assert (after.config, after.front, after.identity) == (
        before.config,
        before.front,
        before.identity,
    )


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
def test_a_fifo_in_place_of_a_file_is_a_problem_not_a_wait(project: Path) -> None:
    """Opening a FIFO waits for a writer: the loader looks before it opens."""
    folder = write_agent(project / "agents", "andy")
    (folder / "config.yaml").unlink()
    os.mkfifo(folder / "config.yaml")
    assert_invalid(project, "agents/andy/config.yaml: is not a regular file")


def test_an_agent_folder_that_is_a_link_is_mounted_where_it_is(
    project: Path, tmp_path: Path
) -> None:
    """The Compose file binds an agent's folder by its real path: a folder linked into agents/
    from elsewhere is bound from where it really is."""
    from smbos.loader import load_fleet

    elsewhere = write_agent(tmp_path / "elsewhere", "andy")
    (project / "agents").mkdir(exist_ok=True)
    (project / "agents" / "andy").symlink_to(elsewhere, target_is_directory=True)
    write_agent(project / "agents", "bea")
    fleet = load_fleet(project / "agents")
    assert not fleet.errors, fleet.errors
    assert {a.id: a.folder for a in fleet.agents} == {
        "andy": elsewhere.resolve(),
        "bea": (project / "agents" / "bea").resolve(),
    }


@pytest.mark.parametrize("enabled", [True, False])
def test_the_cycle_collector_is_paused_while_loading(
    project: Path, monkeypatch, enabled: bool
) -> None:
    """At 10,000 agents the collector walked the growing fleet again and again: it is off while
    the folders are read, and as it was afterwards (on, or off when the caller had it off)."""
    import gc

    from smbos import loader

    seen = []
    read_team = loader.read_team

    def spy(*args, **kwargs):
        seen.append(gc.isenabled())
        return read_team(*args, **kwargs)

    monkeypatch.setattr(loader, "read_team", spy)
    write_agent(project / "agents", "andy")
    write_agent(project / "agents", "bea")
    was = gc.isenabled()
    (gc.enable if enabled else gc.disable)()
    try:
        assert len(loader.load_fleet(project / "agents").agents) == 2
        assert seen == [False, False]
        assert gc.isenabled() is enabled
    finally:
        (gc.enable if was else gc.disable)()


def test_a_socket_in_place_of_a_file_is_a_problem(project: Path) -> None:
    """A socket cannot be opened (ENXIO): it is no regular file either."""
    import socket

    folder = write_agent(project / "agents", "andy")
    (folder / "config.yaml").unlink()
    listener = socket.socket(socket.AF_UNIX)
    try:
        try:
            listener.bind(str(folder / "config.yaml"))
        except OSError:
            pytest.skip("the path is too long for a socket here")
        assert_invalid(project, "agents/andy/config.yaml: is not a regular file")
    finally:
        listener.close()


@pytest.mark.parametrize(
    ("name", "data", "expected"),
    [
        ("config.yaml", b"\xff\xfe", "agents/andy/config.yaml: is not UTF-8 text"),
        (
            "agent.md",
            b"\xef\xbb\xbf# Andy\n",
            "agents/andy/agent.md: starts with a byte order mark",
        ),
        (
            "config.yaml",
            b"name: " + b"x" * (256 * 1024),
            "agents/andy/config.yaml: 262150 bytes is too large for this file",
        ),
    ],
)
def test_a_file_that_cannot_be_text_is_one_problem(
    project: Path, name: str, data: bytes, expected: str
) -> None:
    (write_agent(project / "agents", "andy") / name).write_bytes(data)
    assert_invalid(project, expected)
