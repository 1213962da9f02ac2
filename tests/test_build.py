"""NanoClaw sources, runtime patches and image staging: everything `smbos build` does before the
engine is asked (no Docker here; the real builds are in test_real_runtime.py).

The patches are checked against the real fork's sources in `../shared/nanoclaw/` when they are
there (always in CI), so a patch that stops applying fails here first.
"""

from __future__ import annotations

import re
import shutil
import socket
import tarfile
import threading
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from smbos.nanoclaw import image, patches, source
from smbos.cli import cli
from smbos.errors import SmbosError

from .conftest import IN_CI, ROOT, write_agent

SHARED = ROOT.parent / "shared" / "nanoclaw"
FORKS = {"60d8207": set(), "afcd598": set(), "fd6e44d": set()}

HTTP_SERVER_TS = """
if (req.method === 'GET' && req.url === '/api/health') {}
if (req.method === 'POST' && req.url === '/api/chat') {}
"""


def fork(tmp_path: Path, commit: str) -> Path:
    tarball = SHARED / f"smbos-fork-{commit}.tar.gz"
    if not tarball.is_file():
        if IN_CI:
            pytest.fail(f"{tarball} is missing in CI")
        pytest.skip(f"the fork's sources are not beside this checkout ({tarball})")
    with tarfile.open(tarball) as tar:
        tar.extractall(tmp_path / commit, filter="data")
    return tmp_path / commit / "nanoclaw"


def minimal_source(folder: Path, *, lock: bool = True, api: bool = True) -> Path:
    (folder / "src").mkdir(parents=True)
    (folder / "package.json").write_text('{"name": "nanoclaw"}\n')
    if lock:
        (folder / "package-lock.json").write_text("{}\n")
    if api:
        (folder / "src" / "http-server.ts").write_text(HTTP_SERVER_TS)
    return folder


# ------------------------------------------------------------------------------- sources


def test_the_default_source_is_the_pinned_smbos_fork():
    default = source.Source.default()
    assert default.kind == "git"
    assert default.location == "https://github.com/agenticevangelist/smbos.git"
    assert default.subdir == "nanoclaw"
    assert len(default.ref) == 40 and default.ref.startswith("fd6e44d")


@pytest.mark.parametrize(
    "text, expected",
    [
        (
            "https://example.invalid/x.git#v1:sub",
            ("git", "https://example.invalid/x.git", "v1", "sub"),
        ),
        ("https://example.invalid/x.git", ("git", "https://example.invalid/x.git", "main", "")),
        (
            "https://github.com/agenticevangelist/smbos.git#abc",
            ("git", "https://github.com/agenticevangelist/smbos.git", "abc", "nanoclaw"),
        ),
        ("/srv/nanoclaw.tar.gz", ("tarball", "/srv/nanoclaw.tar.gz", "", "")),
        ("/srv/checkout", ("dir", "/srv/checkout", "", "")),
    ],
)
def test_source_specs(text, expected):
    parsed = source.Source.parse(text)
    assert (parsed.kind, parsed.location, parsed.ref, parsed.subdir) == expected


def test_a_pnpm_only_source_is_refused_with_the_reason_and_what_to_use(tmp_path):
    folder = minimal_source(tmp_path / "v2", lock=False)
    with pytest.raises(SmbosError) as caught:
        source.inspect(folder)
    message = str(caught.value)
    assert "no package-lock.json" in message and "pnpm-only" in message
    assert "SMBOS fork" in message and "\n" not in message
    assert caught.value.exit_code == 1


def test_a_source_without_the_web_api_is_refused(tmp_path):
    folder = minimal_source(tmp_path / "v1", api=False)
    with pytest.raises(SmbosError, match="no web API .*upstream NanoClaw v1 and v2"):
        source.inspect(folder)


@pytest.mark.parametrize(
    "commit, routes, cli_name",
    [
        ("60d8207", ("health", "chat"), "docker"),
        ("afcd598", ("health", "state", "tasks", "messages", "chat"), "container"),
        ("fd6e44d", ("health", "state", "tasks", "messages", "chat"), "container"),
    ],
)
def test_the_fork_variants_are_read_from_their_files(tmp_path, commit, routes, cli_name):
    variant = source.inspect(fork(tmp_path, commit))
    assert variant.routes == routes
    assert variant.container_cli == cli_name


def test_stage_copies_a_tarball_without_vcs_or_build_output(tmp_path):
    folder = minimal_source(tmp_path / "src" / "nanoclaw")
    (folder / "node_modules" / "x").mkdir(parents=True)
    (folder / ".git").mkdir()
    (folder / ".env").write_text("ANTHROPIC_API_KEY=sk-never-copied\n")
    tarball = tmp_path / "nc.tar.gz"
    with tarfile.open(tarball, "w:gz") as tar:
        tar.add(folder, arcname="nanoclaw")
    context = tmp_path / "ctx"
    staged, identity = source.stage(source.Source.local(tarball), context)
    assert staged == context / "build" / "nanoclaw-src"
    assert (staged / "package.json").is_file()
    assert not (staged / "node_modules").exists() and not (staged / ".git").exists()
    assert not (staged / ".env").exists()
    assert len(identity) == 12


def test_stage_refuses_before_copying_anything(tmp_path):
    context = tmp_path / "ctx"
    with pytest.raises(SmbosError, match="no package-lock.json"):
        source.stage(source.Source.local(minimal_source(tmp_path / "v2", lock=False)), context)
    assert not (context / "build" / "nanoclaw-src").exists()


# ------------------------------------------------------------------------------- patches


def test_every_bundled_patch_has_its_header():
    bundled = patches.bundled()
    assert [p.id for p in bundled] == [
        "web-chat-row",
        "scheduler-loop",
        "ipc-watcher",
        "chat-done",
        "turn-settings",
        "schedule-task-id",
        "task-done",
        "telegram-connect",
        "unregister-group",
    ]
    for patch in bundled:
        assert patch.fixes and patch.variants and patch.fixed_when, patch.id


@pytest.mark.parametrize(
    "commit, applied, reason",
    [
        (
            "fd6e44d",
            [
                "web-chat-row",
                "scheduler-loop",
                "chat-done",
                "turn-settings",
                "schedule-task-id",
                "task-done",
                "telegram-connect",
                "unregister-group",
            ],
            {"ipc-watcher": "already fixed"},
        ),
        (
            "afcd598",
            [
                "web-chat-row",
                "scheduler-loop",
                "ipc-watcher",
                "chat-done",
                "turn-settings",
                "schedule-task-id",
                "task-done",
                "telegram-connect",
                "unregister-group",
            ],
            {},
        ),
        (
            "60d8207",
            ["chat-done", "turn-settings", "schedule-task-id", "task-done", "unregister-group"],
            {
                "web-chat-row": "not for this source",
                "scheduler-loop": "not for this source",
                "ipc-watcher": "not for this source",
                "telegram-connect": "not for this source",
            },
        ),
    ],
)
def test_patches_apply_to_each_fork_variant_once(tmp_path, commit, applied, reason):
    root = fork(tmp_path, commit)
    outcome = patches.apply(root)
    assert outcome.applied == applied
    assert {k: v.split(" (")[0] for k, v in outcome.skipped.items()} == reason
    index = (root / "src" / "index.ts").read_text()
    if "web-chat-row" in applied:
        assert index.count("storeChatMetadata(WEB_CHAT_JID") == 1
    if "scheduler-loop" in applied:
        assert index.count("startSchedulerLoop({") == 1
    # Detected by content: a second run finds every fix in place and changes nothing.
    before = {p: p.read_bytes() for p in root.rglob("*.ts")}
    again = patches.apply(root)
    assert again.applied == []
    assert {p: p.read_bytes() for p in root.rglob("*.ts")} == before
    assert all(
        v.startswith(("already fixed", "not for this source")) for v in again.skipped.values()
    )


def test_a_patch_that_does_not_fit_stops_the_build_loudly(tmp_path):
    root = fork(tmp_path, "fd6e44d")
    index = root / "src" / "index.ts"
    index.write_text(index.read_text().replace("  // Start HTTP server for web chat\n", ""))
    with pytest.raises(SmbosError) as caught:
        patches.apply(root)
    message = str(caught.value)
    assert message.startswith(
        "runtime patch web-chat-row (smbos/nanoclaw/patches/001-web-chat-row.patch)"
    )
    assert "found 0 times in src/index.ts" in message and "--no-patches" in message


def test_patch_format_errors_name_the_line():
    with pytest.raises(SmbosError, match=r"x.patch:3: a hunk before any `--- PATH` line"):
        patches.parse("# id: x\n# fixes: y\n@@ find\nz\n@@ end\n", "x.patch")
    with pytest.raises(SmbosError, match="has no `@@ end`"):
        patches.parse("# id: x\n--- a\n@@ find\nz\n", "x.patch")


# ------------------------------------------------------------------------------- images


def test_the_extra_ca_reaches_every_stage_of_the_agent_image(tmp_path):
    src = minimal_source(tmp_path / "src")
    (src / "container").mkdir()
    (src / "container" / "Dockerfile").write_text(
        "FROM node:22-slim AS one\nRUN npm install -g x\nFROM one\nRUN true\n"
    )
    ca = tmp_path / "ca.pem"
    ca.write_text("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n")
    spec = image.BuildSpec(project_dir=tmp_path / "ctx", tag="t", ca_cert=ca)
    image._stage_ca(spec)
    assert (spec.context / "build" / "smbos-ca.crt").read_text() == ca.read_text()
    context = image._stage_agent_context(spec, src)
    lines = (context / "Dockerfile").read_text().splitlines()
    assert lines == [
        "FROM node:22-slim AS one",
        "COPY smbos-ca.crt /etc/smbos/ca/smbos-ca.crt",
        "ENV NODE_EXTRA_CA_CERTS=/etc/smbos/ca/smbos-ca.crt",
        "RUN npm install -g x",
        "FROM one",
        "COPY smbos-ca.crt /etc/smbos/ca/smbos-ca.crt",
        "ENV NODE_EXTRA_CA_CERTS=/etc/smbos/ca/smbos-ca.crt",
        "RUN true",
    ]
    assert (context / "smbos-ca.crt").is_file()
    # The tag follows the content: another CA, another agent image.
    first = image._agent_tag(context)
    ca.write_text("-----BEGIN CERTIFICATE-----\nMIIC\n-----END CERTIFICATE-----\n")
    image._stage_ca(spec)
    assert image._agent_tag(image._stage_agent_context(spec, src)) != first
    assert first.startswith("smbos/nanoclaw-agent:")


def test_a_ca_file_that_is_not_pem_is_refused(tmp_path):
    bad = tmp_path / "ca.txt"
    bad.write_text("not a certificate\n")
    with pytest.raises(SmbosError, match="not a PEM certificate file"):
        image._stage_ca(image.BuildSpec(project_dir=tmp_path, tag="t", ca_cert=bad))


def test_build_refuses_an_unusable_source_before_asking_the_engine(tmp_path, monkeypatch):
    """No engine is needed to say no: DOCKER_HOST points nowhere, and the answer is the reason."""
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")
    checkout = tmp_path / "repo"
    checkout.mkdir()
    shutil.copy(ROOT / "Dockerfile.nanoclaw", checkout / "Dockerfile.nanoclaw")
    (checkout / "agents").mkdir()
    v2 = minimal_source(tmp_path / "v2", lock=False)
    result = CliRunner().invoke(
        cli, ["build", "--agents", str(checkout / "agents"), "--source", str(v2)]
    )
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert lines[-1].startswith("error: ") and "pnpm-only" in lines[-1]


def _copied_sources(dockerfile: str) -> list[str]:
    """What each COPY of the Dockerfile takes from the build context (ARG defaults filled in;
    stage-to-stage copies left out), as glob patterns."""
    defaults = dict(re.findall(r"^ARG (\w+)=(\S+)$", dockerfile, re.MULTILINE))
    sources = []
    for line in re.findall(r"^COPY (?!--from)(.+)$", dockerfile, re.MULTILINE):
        for word in line.split()[:-1]:
            sources.append(re.sub(r"\$\{(\w+)\}", lambda m: defaults[m.group(1)], word).rstrip("/"))
    return sources


def test_an_installed_smbos_stages_the_whole_build_context_in_the_project(tmp_path):
    """No checkout needed: the runtime image's build context is staged in the project's
    build/context/ from the package, and what the engine is sent of it (the .dockerignore
    applied, as docker-py applies it) holds every file the Dockerfile copies, and nothing of the
    source's secrets."""
    from docker.utils.build import exclude_paths

    project = tmp_path / "fleet"
    (project / "agents").mkdir(parents=True)
    assert not any((folder / "Dockerfile.nanoclaw").exists() for folder in project.parents)
    src = tmp_path / "standin"
    shutil.copytree(ROOT / "tests" / "standin", src)
    (src / ".env.local").write_text("ANTHROPIC_API_KEY=sk-ant-never-sent\n")
    ca = tmp_path / "ca.pem"
    ca.write_text("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n")
    spec = image.BuildSpec(
        project_dir=project, tag="t", source=source.Source.local(src), ca_cert=ca, agent_image=False
    )
    image.prepare(spec)
    context = project / "build" / "context"
    assert spec.context == context
    dockerfile = (context / "Dockerfile.nanoclaw").read_text()
    assert dockerfile == (ROOT / "Dockerfile.nanoclaw").read_text()
    assert (context / ".dockerignore").read_text() == (ROOT / ".dockerignore").read_text()
    sent = exclude_paths(
        str(context), (context / ".dockerignore").read_text().splitlines(), "Dockerfile.nanoclaw"
    )
    for pattern in _copied_sources(dockerfile):
        found = [p.relative_to(context).as_posix() for p in context.glob(pattern)]
        assert found and set(found) <= sent, (pattern, found)
    for name in ("entrypoint.mjs", "healthcheck.mjs", "container"):
        assert (context / "smbos" / "nanoclaw" / "image" / name).read_bytes() == (
            ROOT / "smbos" / "nanoclaw" / "image" / name
        ).read_bytes()
    assert "build/nanoclaw-src/package.json" in sent
    assert "build/smbos-ca.crt" in sent
    assert not [path for path in sent if ".env" in path], sent


def test_staging_leaves_no_image_files_of_an_earlier_layout(tmp_path):
    """The context's `smbos/` folder is staged afresh: the image's files of an earlier build, at
    a path this package no longer uses (smbos/image/ before ADR 020), are gone."""
    spec = image.BuildSpec(project_dir=tmp_path, tag="t", agent_image=False)
    stale = spec.context / "smbos" / "image" / "entrypoint.mjs"
    stale.parent.mkdir(parents=True)
    stale.write_text("// an earlier build's entrypoint\n")
    image._stage_files(spec)
    assert not stale.parent.exists()
    assert (spec.context / image.IMAGE_FILES / "entrypoint.mjs").is_file()


def test_smbos_build_works_from_a_project_outside_any_checkout(tmp_path, monkeypatch):
    """`smbos build` in a fleet folder of its own stages the context there and then asks the
    engine (none answers here: exit 3); it once stopped at "Dockerfile.nanoclaw not found"."""
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")
    project = tmp_path / "fleet"
    write_agent(project / "agents", "solo")
    monkeypatch.chdir(project)
    result = CliRunner().invoke(
        cli, ["build", "--source", str(ROOT / "tests" / "standin"), "--no-agent-image"]
    )
    assert result.exit_code == 3, result.output
    assert (project / "build" / "context" / "build" / "nanoclaw-src" / "package.json").is_file()
    assert (project / "build" / "context" / "Dockerfile.nanoclaw").is_file()


def test_the_standin_names_the_routes_it_serves_as_nanoclaw_does():
    """`smbos build --source tests/standin` recognises the stand-in by src/http-server.ts, as it
    recognises NanoClaw; the routes it names there are the ones src/index.js serves."""
    standin = ROOT / "tests" / "standin" / "src"
    named = set(
        re.findall(r"\['(GET|POST)', '(/api/[a-z]+)'\]", (standin / "http-server.ts").read_text())
    )
    # An exact path, or a prefix where the fork routes by prefix (`/api/messages`).
    served = set(
        re.findall(
            r"req\.method === '(GET|POST)' && req\.url(?: === |\.startsWith\()"
            r"'(/api/[a-z]+)'",
            (standin / "index.js").read_text(),
        )
    )
    assert named == served and len(served) == 5
    assert source.inspect(ROOT / "tests" / "standin").web_api


# ------------------------------------------------------------------------------- chat limits


class SilentRuntime:
    """An agent API on 127.0.0.1 whose chat sends `typing` and then `tick` events every
    `every` seconds (or nothing), never `done`."""

    def __init__(self, every: float | None):
        self.every = every
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(4)
        self.port = self.sock.getsockname()[1]
        self.stop = threading.Event()
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        self.sock.settimeout(0.2)
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            threading.Thread(target=self._talk, args=(conn,), daemon=True).start()

    def _talk(self, conn):
        try:
            conn.recv(65536)
            conn.sendall(
                b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n\r\n"
                b"event: typing\ndata: {}\n\n"
            )
            while not self.stop.is_set():
                time.sleep(self.every or 0.2)
                if self.every:
                    conn.sendall(b"event: typing\ndata: {}\n\n")
        except OSError:
            pass
        finally:
            conn.close()

    def close(self):
        self.stop.set()
        self.sock.close()


@pytest.mark.parametrize(
    "every, args, wanted",
    [
        (None, ["--idle-timeout", "1"], "no event after 1 s"),
        (0.2, ["--timeout", "2", "--idle-timeout", "60"], "answer not complete within 2 s"),
    ],
)
def test_chat_ends_at_its_time_limits_with_exit_1(project, fake_fleet, every, args, wanted):
    runtime = SilentRuntime(every)
    try:
        write_agent(project / "agents", "quiet", {"port": runtime.port})
        fake_fleet.docker.add(fake_fleet.project, fake_fleet.project.load().get("quiet"))
        started = time.monotonic()
        result = CliRunner().invoke(
            cli, ["chat", "--agents", str(project / "agents"), "quiet", "hello", *args]
        )
        elapsed = time.monotonic() - started
    finally:
        runtime.close()
    assert result.exit_code == 1, result.output
    assert wanted in result.output
    assert elapsed < 6
