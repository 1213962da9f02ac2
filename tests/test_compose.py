"""The generated Compose file: golden bytes, parsed back against the model, determinism, --check."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from smbos import compose
from smbos.errors import SmbosError
from smbos.loader import load_fleet

from .conftest import compose_config_ok, run_smbos, write_agent

FIXTURES = Path(__file__).parent / "fixtures" / "golden"
GOLDEN = FIXTURES / "docker-compose.yml"
GID = 4242


def golden_project(tmp_path: Path) -> Path:
    shutil.copytree(FIXTURES / "agents", tmp_path / "agents")
    return tmp_path


def render(project: Path, isolate_socket: str = "/var/run/docker.sock") -> str:
    fleet = load_fleet(project / "agents")
    assert not fleet.errors, fleet.errors
    host = compose.Host(project_dir=project, docker_socket=isolate_socket, docker_gid=GID)
    return compose.render(fleet, host)


def unescape(value):
    if isinstance(value, str):
        return value.replace("$$", "$")
    if isinstance(value, dict):
        return {k: unescape(v) for k, v in value.items()}
    if isinstance(value, list):
        return [unescape(v) for v in value]
    return value


def test_golden_file(tmp_path):
    project = golden_project(tmp_path)
    text = render(project).replace(str(project), "/PROJECT")
    if os.environ.get("SMBOS_UPDATE_GOLDEN"):
        GOLDEN.write_text(text)
    assert text == GOLDEN.read_text(), "golden file differs; SMBOS_UPDATE_GOLDEN=1 rewrites it"


def test_parsed_back_equals_the_model(tmp_path):
    project = golden_project(tmp_path)
    fleet = load_fleet(project / "agents")
    host = compose.Host(project_dir=project, docker_gid=GID)
    doc = yaml.safe_load(compose.render(fleet, host))
    assert doc["name"] == "smbos"
    assert sorted(doc["services"]) == [a.id for a in fleet.enabled] == ["alpha", "beta", "gamma"]
    for agent in fleet.enabled:
        want = compose.service(agent, host)
        got = unescape(doc["services"][agent.id])
        assert got["environment"] == want["environment"]
        assert got["labels"] == want["labels"]
        assert got["image"] == want["image"]
        assert [(p["target"], p["published"], p["host_ip"]) for p in got["ports"]] == [
            (p["target"], p["published"], p["host_ip"]) for p in want["ports"]
        ]
        assert [(v["type"], v["source"], v["target"]) for v in got["volumes"]] == [
            (v["type"], v["source"], v["target"]) for v in want["volumes"]
        ]
        assert got["cpus"] == agent.config.runtime.resources.cpus
        assert got["mem_limit"] == agent.config.runtime.resources.memory
        assert got["pids_limit"] == agent.config.runtime.resources.pids
    alpha = unescape(doc["services"]["alpha"])
    # Values with $, quotes and backslashes come back exactly.
    assert alpha["environment"]["ASSISTANT_NAME"] == 'Alpha $HOME ${USER} "A"'
    assert "\\ backslash" in alpha["environment"]["SMBOS_SCHEDULES"]


def test_conventions(tmp_path):
    project = golden_project(tmp_path)
    doc = yaml.safe_load(render(project))
    assert "version" not in doc
    for sid, svc in doc["services"].items():
        assert "container_name" not in svc
        assert all(p["host_ip"] == "127.0.0.1" for p in svc["ports"])
        assert svc["restart"] == "unless-stopped"
        assert svc["init"] is True
        assert svc["user"] == "1000:1000"
        assert svc["cap_drop"] == ["ALL"]
        assert "no-new-privileges:true" in svc["security_opt"]
        assert svc["healthcheck"]["start_period"]
        assert svc["healthcheck"]["test"][:2] == ["CMD", "node"]
        assert svc["logging"]["options"]["max-size"]
        assert not any(k.startswith("com.docker.compose") for k in svc["labels"])
        assert svc["labels"]["io.smbos.agent"] == sid
        assert len(svc["labels"]["io.smbos.config-hash"]) == 16
        agent_mount = next(v for v in svc["volumes"] if v["target"] == "/smbos/agent")
        assert agent_mount["read_only"] is True
        store = next(v for v in svc["volumes"] if v["type"] == "volume")
        assert store["source"] == f"{sid}-store" and store["source"] in doc["volumes"]
        memory = next(v for v in svc["volumes"] if v["source"].endswith(f"/{sid}/memory"))
        assert memory["target"] == memory["source"]  # path parity
        assert memory["bind"]["create_host_path"] is False
    # Only docker isolation mounts the engine socket.
    assert any(v["target"] == "/var/run/docker.sock" for v in doc["services"]["alpha"]["volumes"])
    assert doc["services"]["alpha"]["group_add"] == [str(GID)]
    assert not any(
        v["target"] == "/var/run/docker.sock" for v in doc["services"]["beta"]["volumes"]
    )
    assert "group_add" not in doc["services"]["beta"]
    # One image for everyone, built once: no service has a build section.
    assert {s["image"] for s in doc["services"].values()} == {compose.DEFAULT_IMAGE}
    assert not any("build" in s for s in doc["services"].values())


def test_compose_v2_accepts_it(tmp_path, compose_bin):
    project = golden_project(tmp_path)
    target = project / "compose" / "docker-compose.yml"
    result = run_smbos("generate", cwd=project)
    assert result.code == 0, result.output
    check = compose_config_ok(compose_bin, target)
    assert check.returncode == 0, check.stderr
    # Compose's own reading of the file gives back the model's values, `$` and all.
    import json
    import subprocess

    parsed = json.loads(
        subprocess.run(
            [*compose_bin, "-f", str(target), "config", "--format", "json"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    )
    fleet = load_fleet(project / "agents")
    for agent in fleet.enabled:
        # `config` prints a Compose file again, so `$` comes back escaped as `$$`.
        env = unescape(parsed["services"][agent.id]["environment"])
        assert env["ASSISTANT_NAME"] == agent.assistant_name
        assert env["SMBOS_SCHEDULES"] == compose.schedules_json(agent)
        assert parsed["services"][agent.id]["labels"]["io.smbos.config-hash"] == agent.config_hash()


def test_empty_fleet_is_a_valid_file(project, compose_bin):
    result = run_smbos("generate", cwd=project)
    assert result.code == 0, result.output
    check = compose_config_ok(compose_bin, project / "compose" / "docker-compose.yml")
    assert check.returncode == 0, check.stderr


def test_deterministic_and_check(tmp_path):
    project = golden_project(tmp_path)
    target = project / "compose" / "docker-compose.yml"
    assert run_smbos("generate", cwd=project).code == 0
    first = target.read_bytes()
    assert run_smbos("generate", cwd=project).code == 0
    assert target.read_bytes() == first
    ok = run_smbos("generate", "--check", cwd=project)
    assert ok.code == 0 and "up to date" in ok.stdout
    target.write_bytes(first.replace(b'"unless-stopped"', b'"always"', 1))
    edited = target.read_bytes()
    stale = run_smbos("generate", "--check", cwd=project)
    assert stale.code == 1
    assert "out of date" in stale.stderr and '"always"' in stale.stderr
    assert target.read_bytes() == edited  # --check never writes
    missing = project / "other.yml"
    assert run_smbos("generate", "--check", "--file", str(missing), cwd=project).code == 1
    assert not missing.exists()


def test_config_hash_tracks_the_folder(project):
    write_agent(project / "agents", "one")
    before = load_fleet(project / "agents").get("one").config_hash()
    assert load_fleet(project / "agents").get("one").config_hash() == before
    cfg = project / "agents" / "one" / "config.yaml"
    cfg.write_text(cfg.read_text() + "description: changed\n")
    after = load_fleet(project / "agents").get("one").config_hash()
    assert after != before
    md = project / "agents" / "one" / "agent.md"
    md.write_text(md.read_text() + "\nMore identity.\n")
    assert load_fleet(project / "agents").get("one").config_hash() != after


def test_failed_generate_leaves_previous_file(project):
    write_agent(project / "agents", "one")
    assert run_smbos("generate", cwd=project).code == 0
    target = project / "compose" / "docker-compose.yml"
    before = target.read_bytes()
    (project / "agents" / "one" / "config.yaml").write_text("port: [oops\n")
    result = run_smbos("generate", cwd=project)
    assert result.code == 2
    assert result.stderr.startswith("agents/one/config.yaml: ")
    assert target.read_bytes() == before
    assert list(target.parent.iterdir()) == [target]  # no temporary file left behind


def test_generate_file_never_overwrites_a_file_smbos_did_not_write(project):
    """`--file` may name anything: only an absent or empty file, or a Compose file SMBOS wrote
    (its header says so), is replaced; anything else needs `--force`."""
    write_agent(project / "agents", "one")
    notes = project / "notes.txt"
    notes.write_text("my own notes\n")
    result = run_smbos("generate", "--file", str(notes), cwd=project)
    assert result.code == 2, result.output
    assert result.stderr.startswith(f"error: {notes}: not a Compose file SMBOS wrote"), (
        result.stderr
    )
    assert "--force" in result.stderr and len(result.stderr.splitlines()) == 1
    assert notes.read_text() == "my own notes\n"
    hand = project / "hand.yml"
    hand.write_text("services: {}\n")
    assert run_smbos("generate", "--file", str(hand), cwd=project).code == 2
    assert hand.read_text() == "services: {}\n"
    with pytest.raises(SmbosError, match="not a Compose file SMBOS wrote"):  # `up` writes too
        compose.write_atomic(hand, "x")
    forced = run_smbos("generate", "--file", str(notes), "--force", cwd=project)
    assert forced.code == 0, forced.output
    assert notes.read_text().startswith("# Generated by `smbos generate` ")
    again = run_smbos("generate", "--file", str(notes), cwd=project)  # ours now
    assert again.code == 0, again.output
    empty = project / "empty.yml"
    empty.write_text("")
    assert run_smbos("generate", "--file", str(empty), cwd=project).code == 0
    assert run_smbos("generate", "--file", str(project / "new.yml"), cwd=project).code == 0


@pytest.mark.parametrize("isolation", ["docker", "none"])
def test_socket_follows_docker_host(project, isolation, monkeypatch):
    write_agent(project / "agents", "one", {"runtime": {"container_isolation": isolation}})
    monkeypatch.setenv("DOCKER_HOST", f"unix://{project}/engine.sock")
    host = compose.Host.detect(project)
    assert host.docker_socket == f"{project}/engine.sock"
    doc = yaml.safe_load(compose.render(load_fleet(project / "agents"), host))
    sources = [v["source"] for v in doc["services"]["one"]["volumes"]]
    assert (f"{project}/engine.sock" in sources) == (isolation == "docker")


def _quote_by_character(text: str) -> str:
    """The quoting as it was written first, one character at a time: the reference."""

    def printable(code: int) -> bool:
        return (
            0x20 <= code <= 0x7E
            or 0xA0 <= code <= 0xD7FF
            or 0xE000 <= code <= 0xFFFD
            and code != 0xFEFF
            or 0x10000 <= code <= 0x10FFFF
        ) and code not in (0x2028, 0x2029)

    out = ['"']
    for char in text.replace("$", "$$"):
        code = ord(char)
        if char == '"':
            out.append('\\"')
        elif char == "\\":
            out.append("\\\\")
        elif char == "\n":
            out.append("\\n")
        elif char == "\t":
            out.append("\\t")
        elif not printable(code):
            out.append(f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}")
        else:
            out.append(char)
    out.append('"')
    return "".join(out)


# Every kind of character: controls, DEL and C1, surrogates, the BOM and U+FFFE/U+FFFF, line and
# paragraph separators, astral planes, and what Compose or YAML give a meaning to.
ODD_CHARACTERS = st.one_of(
    st.characters(),
    st.sampled_from(
        list("$\"\\\n\t\r'{}#:&*!|>%@`")
        + [
            "\x00",
            "\x1f",
            "\x7f",
            "\x85",
            "\x9f",
            "\xa0",
            "\ud800",
            "\udfff",
            "\u2028",
            "\u2029",
            "\ufeff",
            "\ufffe",
            "\uffff",
            "\U00010000",
            "\U0010ffff",
            "${X}",
        ]
    ),
)


@settings(max_examples=500, deadline=None)
@given(text=st.lists(ODD_CHARACTERS, max_size=30).map("".join))
def test_quote_is_the_quoting_it_replaced(text: str) -> None:
    """`compose.quote` escapes with one regular expression; what it writes is what the loop per
    character wrote, and YAML reads it back as the text (with `$` doubled for Compose)."""
    assert compose.quote(text) == _quote_by_character(text)
    assert yaml.safe_load(compose.quote(text)) == text.replace("$", "$$")


def test_quote_of_every_code_point_is_the_quoting_it_replaced() -> None:
    every = "".join(map(chr, range(0x110000)))
    for start in range(0, len(every), 4096):
        chunk = every[start : start + 4096]
        assert compose.quote(chunk) == _quote_by_character(chunk), hex(start)
