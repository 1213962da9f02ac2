"""Integrations on the SMBOS side, fast and in-process (the real runtime: test_real_integrations).

Telegram chats (schema, Compose environment; the entrypoint's registration jobs and token
withholding are tested by node: smbos/nanoclaw/image/entrypoint/channels.test.mjs), MCP server packages (pinned, installed by `smbos build`, npx flagged), credential
files (declared, validated, mounted into every turn by the container CLI), and the Telegram
status SMBOS reads back.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
from pathlib import Path

import pytest
import yaml

from smbos import catalog, compose, integrations
from smbos.nanoclaw import image
from smbos.loader import load_fleet

from .conftest import ENV_EXAMPLE, ROOT, run_smbos, write_agent

CONTAINER_CLI = ROOT / "smbos" / "nanoclaw" / "image" / "container"
NOTION_EXAMPLE = ENV_EXAMPLE + "# Notion secret.\nNOTION_TOKEN=\n"
TELEGRAM_EXAMPLE = ENV_EXAMPLE + "# Telegram bot token.\nTELEGRAM_BOT_TOKEN=\n"


def problems(project: Path, strict: bool = False) -> list[str]:
    return [str(p) for p in load_fleet(project / "agents", strict_env=strict).problems]


def calendar_files(
    folder: Path, names=("gcp-oauth.keys.json", "tokens.json"), where: str = "credentials/calendar"
) -> Path:
    creds = folder / where
    creds.mkdir(parents=True, exist_ok=True)
    for name in names:
        (creds / name).write_text('{"secret": "x"}\n')
    return creds


# ------------------------------------------------------------------------------ Telegram


def test_telegram_chats_are_declared_and_checked(project):
    base = {"channels": {"telegram": True}}
    cases = {
        "tg:abc": "expected a chat id as the bot's /chatid answers it",
        "123": "expected a chat id",
    }
    for bad, expected in cases.items():
        write_agent(
            project / "agents",
            "tele",
            {**base, "channels": {"telegram": True, "telegram_chats": [{"id": bad}]}},
            env_example=TELEGRAM_EXAMPLE,
        )
        found = [p for p in problems(project) if "telegram_chats[0].id" in p]
        assert found and expected in found[0], problems(project)
    write_agent(
        project / "agents",
        "tele",
        {"channels": {"telegram": True, "telegram_chats": [{"id": "tg:1"}, {"id": "tg:1"}]}},
        env_example=TELEGRAM_EXAMPLE,
    )
    assert any("chat tg:1 is listed twice" in p for p in problems(project)), problems(project)
    write_agent(
        project / "agents",
        "tele",
        {"channels": {"telegram": True, "telegram_chats": [{"id": "tg:1", "trigger": "Andy"}]}},
        env_example=TELEGRAM_EXAMPLE,
    )
    assert any("telegram_chats[0].trigger: expected @" in p for p in problems(project))


def test_telegram_reaches_the_compose_file_as_a_switch_and_chats(project):
    chats = [
        {"id": "tg:123456789", "name": "Me", "requires_trigger": False},
        {"id": "tg:-1001234567890"},
    ]
    write_agent(
        project / "agents",
        "tele",
        {
            "runtime": {"assistant_name": "Andy"},
            "channels": {"telegram": True, "telegram_chats": chats},
        },
        env_example=TELEGRAM_EXAMPLE,
        env="ANTHROPIC_API_KEY=x\nTELEGRAM_BOT_TOKEN=1:abc\n",
    )
    write_agent(
        project / "agents", "quiet", {"channels": {"telegram": False, "telegram_chats": chats}}
    )
    fleet = load_fleet(project / "agents")
    assert not fleet.errors, fleet.errors
    host = compose.Host(project_dir=project)
    tele = compose.service(fleet.get("tele"), host)["environment"]
    assert tele["SMBOS_TELEGRAM"] == "on"
    assert json.loads(tele["SMBOS_TELEGRAM_CHATS"]) == [
        {
            "jid": "tg:123456789",
            "name": "Me",
            "folder": "telegram-123456789",
            "trigger": "@Andy",
            "requires_trigger": False,
        },
        {
            "jid": "tg:-1001234567890",
            "name": "tg:-1001234567890",
            "folder": "telegram-n1001234567890",
            "trigger": "@Andy",
            "requires_trigger": True,
        },
    ]
    quiet = compose.service(fleet.get("quiet"), host)["environment"]
    assert quiet["SMBOS_TELEGRAM"] == "off" and json.loads(quiet["SMBOS_TELEGRAM_CHATS"]) == []
    text = compose.render(fleet, host)
    assert "1:abc" not in text


def test_telegram_status_is_read_from_what_the_runtime_records(project):
    write_agent(
        project / "agents", "tele", {"channels": {"telegram": True}}, env_example=TELEGRAM_EXAMPLE
    )
    write_agent(project / "agents", "quiet")
    fleet = load_fleet(project / "agents")
    state = project / "state" / "tele"
    tele = fleet.get("tele")
    assert integrations.telegram_status(state, fleet.get("quiet").telegram, True) == ("off", "")
    assert integrations.telegram_status(state, tele.telegram, False) == ("-", "")
    assert integrations.telegram_status(state, tele.telegram, True) == ("unknown", "")
    (state / "data").mkdir(parents=True)
    (state / "data" / "smbos-telegram.json").write_text(
        json.dumps({"state": "failed", "error": "Call to 'getMe' failed! (401: Unauthorized)"})
    )
    (state / ".smbos-telegram.json").write_text(
        json.dumps(
            {
                "chats": {
                    "declared": ["tg:1"],
                    "registered": [],
                    "missing": ["tg:1"],
                    "undeclared": ["tg:2"],
                }
            }
        )
    )
    assert integrations.telegram_status(state, tele.telegram, True) == (
        "failed",
        "Call to 'getMe' failed! (401: Unauthorized); not registered: tg:1; "
        "served but not declared: tg:2; 0 chat(s)",
    )


# ------------------------------------------------------------------------- MCP packages


def test_servers_come_from_pinned_packages_and_npx_is_flagged(project):
    write_agent(
        project / "agents",
        "planner",
        {
            "integrations": ["calendar", "notion"],
            "tools": [
                {
                    "id": "files",
                    "type": "mcp",
                    "command": "mcp-files",
                    "package": "@acme/mcp-files@1.2.3",
                },
                {"id": "web", "type": "mcp", "command": "npx", "args": ["-y", "web-mcp"]},
            ],
        },
        env_example=NOTION_EXAMPLE,
    )
    calendar_files(project / "agents" / "planner")
    write_agent(
        project / "agents",
        "writer",
        {
            "integrations": ["notion"],
            "tools": [{"id": "notion", "type": "mcp", "command": "my-notion"}],
        },
        env_example=NOTION_EXAMPLE,
    )
    fleet = load_fleet(project / "agents")
    assert not fleet.errors, fleet.errors
    planner, writer = fleet.get("planner"), fleet.get("writer")
    assert integrations.server_packages(planner) == {
        "calendar": "@cocal/google-calendar-mcp@2.6.3",
        "files": "@acme/mcp-files@1.2.3",
        "notion": "@notionhq/notion-mcp-server@2.5.2",
    }
    assert integrations.server_packages(writer) == {}  # replaced by the operator's own command
    assert integrations.image_packages(fleet.agents) == (
        "@acme/mcp-files@1.2.3",
        "@cocal/google-calendar-mcp@2.6.3",
        "@notionhq/notion-mcp-server@2.5.2",
    )
    assert integrations.npx_servers(planner) == ["web"]
    assert integrations.missing_packages(planner, "@cocal/google-calendar-mcp@2.6.3") == [
        "@acme/mcp-files@1.2.3",
        "@notionhq/notion-mcp-server@2.5.2",
    ]
    assert integrations.missing_packages(planner, None) == []
    servers = planner.mcp_servers()
    assert servers["calendar"]["command"] == "google-calendar-mcp"
    assert (
        servers["calendar"]["values"]["GOOGLE_CALENDAR_MCP_TOKEN_PATH"]
        == f"{catalog.CALENDAR_DIR}/tokens.json"
    )
    doctor = run_smbos("doctor", cwd=project)
    assert "warn planner: MCP server web runs through npx" in doctor.stdout, doctor.output


@pytest.mark.parametrize(
    "tool, expected",
    [
        ({"package": "mcp-files"}, "expected an npm package with its exact version"),
        ({"package": "mcp-files@^1.2"}, "expected an npm package with its exact version"),
        ({"package": "x@1.0.0", "command": None}, "args, env and package need a command"),
    ],
)
def test_a_tools_package_must_be_pinned(project, tool, expected):
    entry = {"id": "files", "type": "mcp", "command": "mcp-files", **tool}
    write_agent(
        project / "agents",
        "planner",
        {"tools": [{k: v for k, v in entry.items() if v is not None}]},
    )
    assert any(expected in p for p in problems(project)), problems(project)


def test_the_agent_image_gets_one_layer_of_servers_and_a_failure_names_the_package(tmp_path):
    dockerfile = "FROM node:22-slim\nRUN npm install -g x\nUSER node\nWORKDIR /w\n"
    layer = image.mcp_layer(dockerfile, ("@a/b@1.0.0", "c@2.0.0"))
    lines = layer.splitlines()
    assert lines[1] == "USER root" and lines[-1] == "USER node"
    assert [line for line in lines if line.startswith("RUN ")] == [lines[2]]
    assert "npm install -g --no-audit --no-fund --no-update-notifier @a/b@1.0.0 ||" in lines[2]
    assert image.failed_package(["npm error 404", f"{image.MCP_FAILED} c@2.0.0"]) == "c@2.0.0"
    assert image.failed_package(["npm error"]) is None
    assert image.failed_package([f"\x1b[91m{image.MCP_FAILED} c@2.0.0\n\x1b[0m"]) == "c@2.0.0"
    assert (
        image.failed_package([f'Step 20/24 : RUN ... || {{ echo "{image.MCP_FAILED} c@2"']) is None
    )

    src = tmp_path / "src"
    (src / "container").mkdir(parents=True)
    (src / "container" / "Dockerfile").write_text(dockerfile)
    spec = image.BuildSpec(project_dir=tmp_path, tag="t", mcp_packages=("c@2.0.0",))
    staged = image._stage_agent_context(spec, src)
    assert (staged / "Dockerfile").read_text() == dockerfile + image.mcp_layer(
        dockerfile, ("c@2.0.0",)
    )
    plain = image._stage_agent_context(image.BuildSpec(project_dir=tmp_path, tag="t"), src)
    assert (plain / "Dockerfile").read_text() == dockerfile


# ---------------------------------------------------------------------- credential files


def test_credential_files_are_declared_validated_and_never_read(project):
    agents = project / "agents"
    folder = write_agent(agents, "planner", {"integrations": ["calendar"]})
    found = problems(project)
    assert (
        "agents/planner/credentials/calendar/gcp-oauth.keys.json: missing: "
        "integration calendar needs the OAuth client"
    ) in "\n".join(found)
    assert any("credentials/calendar/tokens.json: missing" in p for p in found)
    strict = run_smbos("validate", "--strict", cwd=project)
    assert strict.code == 2 and "credentials/calendar/tokens.json: missing" in strict.stderr
    calendar_files(folder)
    assert problems(project, strict=True) == []
    assert run_smbos("validate", "--strict", cwd=project).code == 0

    # Elsewhere under credentials/, as config.yaml says.
    (folder / "config.yaml").write_text(
        yaml.safe_dump(
            {"integrations": ["calendar"], "credentials": {"calendar": "credentials/google"}}
        )
    )
    assert any("credentials/google/gcp-oauth.keys.json: missing" in p for p in problems(project))
    calendar_files(folder, where="credentials/google")
    assert problems(project, strict=True) == []

    # A folder that is not a regular file's home.
    (folder / "credentials" / "google" / "tokens.json").unlink()
    (folder / "credentials" / "google" / "tokens.json").mkdir()
    assert any("tokens.json: is not a regular file" in p for p in problems(project))


@pytest.mark.parametrize(
    "credentials, expected",
    [
        ({"calendar": "memory/cal"}, "expected a folder under credentials/"),
        ({"calendar": "/etc/cal"}, "expected a folder inside the agent folder's credentials/"),
        ({"calendar": "credentials/../memory"}, "expected a folder under credentials/"),
        ({"notion": "credentials/notion"}, "'notion' is not an integration with credential files"),
        ({"calendar": "credentials/a,b"}, "a mount cannot carry"),
    ],
)
def test_a_credentials_folder_stays_in_credentials(project, credentials, expected):
    write_agent(
        project / "agents",
        "planner",
        {"integrations": ["calendar", "notion"], "credentials": credentials},
        env_example=NOTION_EXAMPLE,
    )
    assert any(expected in p and "config.yaml: credentials" in p for p in problems(project)), (
        problems(project)
    )


def test_credentials_need_their_integration_and_go_with_a_disabled_server(project):
    write_agent(project / "agents", "planner", {"credentials": {"calendar": "credentials/c"}})
    assert any("credentials: calendar is not in integrations" in p for p in problems(project))
    write_agent(
        project / "agents",
        "planner",
        {
            "integrations": ["calendar"],
            "tools": [{"id": "calendar", "type": "mcp", "enabled": False}],
        },
    )
    assert problems(project, strict=True) == []


def test_every_turn_gets_the_credential_folders(project, tmp_path):
    folder = write_agent(
        project / "agents",
        "planner",
        {"integrations": ["calendar"], "runtime": {"container_isolation": "docker"}},
    )
    calendar_files(folder)
    fleet = load_fleet(project / "agents")
    env = compose.service(fleet.get("planner"), compose.Host(project_dir=project))["environment"]
    source = folder.resolve() / "credentials" / "calendar"
    assert env["SMBOS_TURN_MOUNTS"] == f"type=bind,source={source},target={catalog.CALENDAR_DIR}"

    # The container CLI adds each line as one --mount, whatever the path holds.
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    log = tmp_path / "args"
    docker = bin_dir / "docker"
    docker.write_text(f"#!/bin/sh\nprintf '%s\\n' \"$@\" > {log}\n")
    docker.chmod(docker.stat().st_mode | stat.S_IEXEC)
    mounts = (
        'type=bind,"source=/srv/my agents/a,b",target=/home/node/.config/x\n'
        "type=bind,source=/srv/y,target=/home/node/y,readonly"
    )
    proc = subprocess.run(
        ["sh", str(CONTAINER_CLI), "run", "-i", "img"],
        capture_output=True,
        text=True,
        timeout=30,
        env={
            **os.environ,
            "PATH": f"{bin_dir}:{os.environ['PATH']}",
            "SMBOS_AGENT_ID": "planner",
            "SMBOS_TURN_MOUNTS": mounts,
        },
    )
    assert proc.returncode == 0, proc.stderr
    args = log.read_text().splitlines()
    assert args[0] == "run"
    pairs = [args[i + 1] for i, a in enumerate(args) if a == "--mount"]
    assert sorted(pairs) == sorted(mounts.splitlines())
    assert args[-2:] == ["-i", "img"]


# ------------------------------------------------------------- through the image (stand-in)


@pytest.mark.docker
def test_the_switch_and_the_chats_through_the_image(test_fleet):
    """With the stand-in (which registers chats through the same IPC as NanoClaw): off, the
    token never reaches the runtime; on, the declared chats are registered at start, once, in
    folders that are the agent's memory."""
    import urllib.request

    token = "123456789:AAtesttoken" + "x" * 20
    chats = [{"id": "tg:777", "name": "Me", "requires_trigger": False}]
    folder = test_fleet.add(
        "tele",
        config={"channels": {"telegram": False, "telegram_chats": chats}},
        env_example=TELEGRAM_EXAMPLE,
        env_extra=f"TELEGRAM_BOT_TOKEN={token}\n",
    )
    assert test_fleet.smbos("up", "--no-build").code == 0
    chat = test_fleet.smbos("chat", "tele", "hi")
    assert chat.code == 0 and "telegram=off" in chat.stdout, chat.output
    assert token not in (test_fleet.state("tele") / ".env").read_text()

    config = yaml.safe_load((folder / "config.yaml").read_text())
    config["channels"]["telegram"] = True
    (folder / "config.yaml").write_text(yaml.safe_dump(config))
    for _ in range(2):  # a restart registers the chat again, never twice
        assert test_fleet.smbos("up", "--no-build").code == 0

        def groups():
            with urllib.request.urlopen(f"{test_fleet.url('tele')}/api/state", timeout=5) as r:
                found = [g for g in json.loads(r.read())["groups"] if g["jid"].startswith("tg:")]
            return found or None

        found = test_fleet.wait(groups, timeout=30, what="the chat registered")
        assert [(g["jid"], g["folder"], g["name"]) for g in found] == [
            ("tg:777", "telegram-777", "Me")
        ]
    assert "telegram=on" in test_fleet.smbos("chat", "tele", "hi").stdout
    assert (test_fleet.state("tele") / "groups" / "telegram-777").resolve() == (
        folder / "memory"
    ).resolve()
    status = json.loads(test_fleet.smbos("status", "--json", "tele").stdout)[0]
    # As the patched runtime with api.telegram.org out of reach: connecting, and no further.
    assert status["telegram"] == "connecting"
    assert "1 chat(s)" in status["telegram_detail"]
    errors = test_fleet.state("tele") / "data" / "ipc" / "errors"
    assert not errors.exists() or not list(errors.iterdir())

    # Taken out of config.yaml: unregistered at the next start; the memory stays.
    config["channels"]["telegram_chats"] = []
    (folder / "config.yaml").write_text(yaml.safe_dump(config))
    assert test_fleet.smbos("up", "--no-build").code == 0
    test_fleet.wait(lambda: groups() is None, timeout=30, what="the chat unregistered")
    status = test_fleet.wait(
        lambda: (lambda r: r if "0 chat(s)" in r["telegram_detail"] else None)(
            json.loads(test_fleet.smbos("status", "--json", "tele").stdout)[0]
        ),
        timeout=30,
        what="no chat in smbos status",
    )
    assert "not declared" not in status["telegram_detail"]
    assert (folder / "memory").is_dir()


@pytest.mark.docker
def test_a_server_that_cannot_be_installed_fails_the_build_naming_it(tmp_path, docker_client):
    """The MCP layer on a minimal agent Dockerfile (the local test base image), with a package
    the npm registry does not have: the build stops before the runtime image, naming it."""
    from smbos.nanoclaw import patches, source
    from .dockerfleet import BASE_IMAGE
    from .realruntime import CA_BUNDLE, ensure_base_images

    ensure_base_images()
    src = tmp_path / "src"
    (src / "container").mkdir(parents=True)
    (src / "container" / "Dockerfile").write_text(f"FROM {BASE_IMAGE}\nUSER nobody\n")
    missing = f"@smbos-test/no-such-server-{os.getpid()}@1.0.0"
    spec = image.BuildSpec(
        project_dir=tmp_path,
        tag="smbos-test/never-built:x",
        source=source.Source.local(src),
        ca_cert=Path(CA_BUNDLE),
        mcp_packages=(missing,),
    )
    image._stage_ca(spec)
    staged = image.Staged(spec, src, "test", patches.Outcome())
    with pytest.raises(image.BuildFailed) as failed:
        image.build(docker_client, staged)
    assert f"MCP server {missing} could not be installed" in str(failed.value), failed.value.lines
    assert any("404" in line or "E404" in line for line in failed.value.lines), failed.value.lines
    assert not image.image_exists(docker_client, "smbos-test/never-built:x")


def test_new_from_the_assistant_template_says_what_calendar_and_telegram_need(project):
    created = run_smbos("new", "helper", "-t", "assistant", cwd=project)
    assert created.code == 0, created.output
    assert (
        "next: integration calendar needs gcp-oauth.keys.json and tokens.json in "
        "agents/helper/credentials/calendar/"
    ) in created.stdout
    assert "send /chatid to the bot" in created.stdout
    example = (project / "agents" / "helper" / ".env.example").read_text()
    assert "npx @cocal/google-calendar-mcp@2.6.3 auth" in example
    assert "GOOGLE_OAUTH_CREDENTIALS=\n" not in example  # a file, not a key
