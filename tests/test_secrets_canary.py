"""Canaries: unique values planted in `.env` never come out of any command, nor the Compose file.

Every key SMBOS knows (credentials, core keys, channel and integration keys) plus unknown ones
gets a unique, credential-shaped value; every command that works without a running fleet is run,
on a valid fleet and on one with errors, and its output searched for each value.
"""

from __future__ import annotations

import secrets
import string
from pathlib import Path

import pytest

from smbos import catalog
from smbos.cli import cli

from .conftest import ENV_EXAMPLE, run_smbos, write_agent
from .test_validate import run_all

ALPHABET = string.ascii_letters + string.digits
UNKNOWN_KEYS = ("MY_WEBHOOK_SIGNING_SECRET", "SHOP_DOMAIN")
ALL_KEYS = sorted(
    {
        *catalog.CREDENTIAL_KEYS,
        *catalog.CORE_ENV_KEYS,
        *catalog.PLAIN_KEYS,
        *(k for p in catalog.INTEGRATIONS.values() for k in p.keys),
        *(k for p in catalog.CHANNELS.values() for k in p.keys),
        *UNKNOWN_KEYS,
    }
)
PROJECT = ["-p", "canarytest"]  # commands that look at the engine look at nothing of ours


def canary() -> str:
    """A unique value shaped like a credential: letters and digits, 32 of them."""
    return (
        "".join(secrets.choice(ALPHABET) for _ in range(30))
        + secrets.choice(string.digits)
        + secrets.choice(string.ascii_letters)
    )


class Canaries:
    """The planted values; `mask` may show the last four characters, nothing more."""

    def __init__(self) -> None:
        self.values: dict[str, str] = {}
        self.secret: set[str] = set()

    def plant(self, label: str, value: str | None = None, secret: bool = True) -> str:
        self.values[label] = value or canary()
        if secret:
            self.secret.add(label)
        return self.values[label]

    def assert_absent(self, text: str, what, secrets_only: bool = False) -> None:
        """`secrets_only`: `smbos env` shows a setting that is not secret (ASSISTANT_NAME,
        TELEGRAM_ONLY: catalog.PLAIN_KEYS) as it is, by design; every other value only masked."""
        for label, value in self.values.items():
            if secrets_only and label not in self.secret:
                continue
            assert value not in text, f"{label} leaked by {what}"
            assert value[:-4] not in text, f"{label} leaked (partly) by {what}"


def _env_text(agent_id: str, canaries: Canaries) -> str:
    lines = []
    for key in ALL_KEYS:
        secret = key not in catalog.PLAIN_KEYS
        lines.append(f"{key}={canaries.plant(f'{agent_id}:{key}', secret=secret)}")
    lines.append(f'export QUOTED_TOKEN="{canaries.plant(f"{agent_id}:quoted")}"')
    lines.append(f"# a commented-out old value {canaries.plant(f'{agent_id}:comment')}")
    lines.append(f"this line is not KEY=value {canaries.plant(f'{agent_id}:broken')}")
    # A secret by name, with a value that does not look like one: masked for its name.
    letters = "".join(secrets.choice(string.ascii_lowercase) for _ in range(24))
    lines.append(
        f"NOTION_TOKEN=plain-words-{agent_id}-" + canaries.plant(f"{agent_id}:plain", letters)
    )
    return "\n".join(lines) + "\n"


def _example_for(keys) -> str:
    return ENV_EXAMPLE + "".join(f"\n# {key}: documented.\n{key}=\n" for key in keys)


def _fleet(project: Path, canaries: Canaries) -> list[str]:
    agents = project / "agents"
    everything = {
        "name": "Full",
        "runtime": {"container_isolation": "none"},
        "channels": {"telegram": True},
        "integrations": sorted(catalog.INTEGRATIONS),
    }
    integration_keys = [k for p in catalog.INTEGRATIONS.values() for k in p.keys]
    write_agent(
        agents,
        "full",
        everything,
        env_example=_example_for([*integration_keys, "TELEGRAM_BOT_TOKEN", "SHOP_DOMAIN"]),
        env=_env_text("full", canaries),
    )
    # Credential files (calendar): their contents are secrets too, never read or shown.
    creds = agents / "full" / "credentials" / "calendar"
    creds.mkdir(parents=True)
    for name in ("gcp-oauth.keys.json", "tokens.json"):
        (creds / name).write_text('{"client_secret": "%s"}\n' % canaries.plant(f"full:{name}"))
    write_agent(agents, "plain", env=_env_text("plain", canaries))
    write_agent(
        agents,
        "some",
        {
            "name": "Some",
            "runtime": {"container_isolation": "docker"},
            "integrations": ["github", "notion"],
        },
        env_example=_example_for(["GITHUB_TOKEN", "NOTION_TOKEN"]),
        env=_env_text("some", canaries),
    )
    return ["full", "plain", "some"]


def _commands(ids: list[str]) -> list[list[str]]:
    """Commands that only read (`generate` runs before them, on its own)."""
    commands = [
        ["validate"],
        ["validate", "--json"],
        ["validate", "--strict"],
        ["validate", "--strict", "--json"],
        ["list"],
        ["list", "--json"],
        ["generate", "--check"],
        ["doctor", *PROJECT],
    ]
    for agent_id in ids:
        commands += [
            ["env", agent_id],
            ["env", agent_id, "--json"],
            ["memory", agent_id],
            ["memory", agent_id, "context.md"],
            ["skill", agent_id],
        ]
    commands += [["--help"], ["--version"]]
    commands += [[name, "--help"] for name in sorted(cli.commands)]
    return commands


def _run_all(project: Path, canaries: Canaries, commands, allowed_codes=(0, 1, 2)) -> dict:
    codes = {}
    first = run_smbos("generate", cwd=project)
    for args, result in [(["generate"], first), *zip(commands, run_all(commands, project, 120))]:
        assert result.code in allowed_codes, (args, result)
        assert "Traceback" not in result.output, (args, result)
        canaries.assert_absent(result.output, args, secrets_only=args[0] == "env")
        codes[" ".join(args)] = result.code
    return codes


def _compose_files(project: Path) -> list[Path]:
    return sorted((project / "compose").glob("*")) if (project / "compose").exists() else []


def test_valid_fleet_never_prints_or_writes_a_value(project: Path) -> None:
    canaries = Canaries()
    ids = _fleet(project, canaries)
    codes = _run_all(project, canaries, _commands(ids))
    assert codes["validate"] == 0 and codes["validate --strict"] == 0
    assert codes["generate"] == 0 and codes["generate --check"] == 0
    assert all(codes[f"{name} --help"] == 0 for name in cli.commands)

    new = run_smbos("new", "fresh", "--name", "Fresh", cwd=project)
    assert new.code == 0, new
    canaries.assert_absent(new.output, "new")
    for template_args in (["new", "second", "-t", "assistant"], ["new", "third", "-t", "support"]):
        result = run_smbos(*template_args, cwd=project)
        assert result.code == 0, result
        canaries.assert_absent(result.output, template_args)
    assert run_smbos("generate", cwd=project).code == 0

    files = _compose_files(project)
    assert files
    for path in files:
        canaries.assert_absent(path.read_text(encoding="utf-8"), path)
    # Nothing of .env was copied into a new agent's folder either.
    for path in (project / "agents" / "fresh").rglob("*"):
        if path.is_file():
            canaries.assert_absent(path.read_text(encoding="utf-8"), path)


def test_failing_fleet_never_prints_a_value(project: Path) -> None:
    canaries = Canaries()
    ids = _fleet(project, canaries)
    agents = project / "agents"
    # Errors of every kind, in folders whose .env holds canaries.
    write_agent(
        agents,
        "broken",
        {"prot": 1, "port": 80, "integrations": ["notoin"]},
        env=_env_text("broken", canaries),
    )
    write_agent(agents, "badmd", agent_md="---\nname: [x\n---\n", env=_env_text("badmd", canaries))
    (write_agent(agents, "envbytes", env=None) / ".env").write_bytes(
        b"ANTHROPIC_API_KEY=" + canaries.plant("envbytes:bytes").encode() + b"\xff\xfe\n"
    )
    (write_agent(agents, "envbig", env=None) / ".env").write_text(
        f"ANTHROPIC_API_KEY={canaries.plant('envbig:big')}\n" + "# padding\n" * 8000
    )
    leaked = canaries.plant("example:committed")
    write_agent(agents, "committed", env_example=ENV_EXAMPLE + f"\n# Oops.\nSOME_TOKEN={leaked}\n")
    compose_file = project / "compose" / "docker-compose.yml"
    compose_file.parent.mkdir()
    compose_file.write_text("# previous\n")

    codes = _run_all(
        project,
        canaries,
        _commands(ids)
        + [
            ["env", "broken"],
            ["memory", "broken"],
            ["new", "Bad"],
            ["new", "fresh2", "--port", "80"],
            ["validate", "--agents", "agents/broken"],
        ],
    )
    new = run_smbos("new", "fresh", cwd=project)
    assert new.code == 0, new
    canaries.assert_absent(new.output, "new")
    for command in (
        "validate",
        "validate --json",
        "validate --strict",
        "list",
        "generate",
        "generate --check",
    ):
        assert codes[command] == 2, command
    assert compose_file.read_text() == "# previous\n"

    result = run_smbos("validate", cwd=project)
    for agent_id in ("broken", "badmd", "envbytes", "envbig", "committed"):
        assert f"agents/{agent_id}/" in result.stderr, agent_id


@pytest.mark.parametrize("args", [["--help"], ["new", "--help"], ["env", "--help"]])
def test_help_needs_no_agents_folder(tmp_path: Path, args: list[str]) -> None:
    result = run_smbos(*args, cwd=tmp_path)
    assert result.code == 0, result
    assert "Usage:" in result.stdout
