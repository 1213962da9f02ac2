"""The real NanoClaw (the SMBOS fork) for the `real` test tier, built offline.

Where it comes from: `SMBOS_NANOCLAW_SRC`, a folder, a tarball, or `URL#REF:SUBDIR`. `.ci/run`
points it at the fork's tarball in `../shared/nanoclaw/`; unset, the fork is cloned from its git
host, and when that cannot be reached the tier is skipped with the reason (never in CI). Nothing
of the fork is copied into this repository: the copy lives under /var/tmp.

What the harness changes in its copy, and only there, because these machines reach no code host
and no image registry (the product builds the fork as it is):

- WhatsApp: `@whiskeysockets/baileys` pulls `libsignal` from a git host, so `npm ci` fails
  offline. Its entry is dropped from package.json, the lock regenerated without it
  (`npm install --package-lock-only --ignore-scripts`), and the WhatsApp files that import it
  (`src/channels/whatsapp*.ts`, `src/whatsapp-auth.ts`; nothing else imports them) removed.
- The per-turn agent image (`container/Dockerfile`): `FROM node:22-slim` cannot be pulled, so it
  starts from the local test base image (Debian bookworm with the host's Node 20) plus a `node`
  user (uid 1000) as in node's images; Chromium, its libraries and `agent-browser` are left out
  (they come from Debian's and npm's servers at build time and only serve browsing tools).
  Claude Code and the agent runner are installed exactly as the Dockerfile says.

Both images are built by `smbos build` itself, with `--ca-cert` set to the host's CA bundle (the
package registries are reached through a TLS-intercepting proxy) plus the tier's own test CA
(made once with openssl and kept in CACHE: it signs the fake Telegram Bot API's certificate for
api.telegram.org, which the runtime then trusts exactly as it trusts a proxy), and the local base images as
`BASE_IMAGE`, `BUILD_IMAGE` (with python3, make, g++ and Node's headers: better-sqlite3 compiles
from source offline) and `DOCKER_CLI_IMAGE`.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import secrets
import shutil
import subprocess
import tarfile
import time
import urllib.request
from pathlib import Path

import pytest

from .conftest import IN_CI, ROOT, run_smbos_process
from .dockerfleet import LiveFleet, free_port

SHARED = ROOT.parent / "shared" / "nanoclaw"
FORK_GIT = "https://github.com/agenticevangelist/smbos.git"
PINNED = "fd6e44d5c3515312a933313f86c41ac5b4ac6ac2"
CACHE = Path(os.environ.get("SMBOS_REAL_CACHE", "/var/tmp/smbos-real"))

BASE_IMAGE = os.environ.get("SMBOS_TEST_BASE_IMAGE", "smbos-test/base:bookworm")
BUILD_IMAGE = os.environ.get("SMBOS_TEST_BUILD_IMAGE", "smbos-test/build:bookworm")
REAL_IMAGE = os.environ.get("SMBOS_REAL_IMAGE", "smbos-test/nanoclaw-real:test")
CA_BUNDLE = os.environ.get("SMBOS_TEST_CA", "/etc/ssl/certs/ca-certificates.crt")

WHATSAPP_FILES = (
    "src/channels/whatsapp.ts",
    "src/channels/whatsapp.test.ts",
    "src/whatsapp-auth.ts",
)


def skip_or_fail(reason: str):
    if IN_CI:
        pytest.fail(f"the real-runtime tier never skips in CI: {reason}")
    pytest.skip(reason)


def source_spec() -> str:
    return os.environ.get("SMBOS_NANOCLAW_SRC") or f"{FORK_GIT}#{PINNED}:nanoclaw"


def _fetch(spec: str, into: Path) -> Path:
    """The NanoClaw folder of `spec`, unpacked or cloned under `into`."""
    if "://" in spec:
        url, _, rest = spec.partition("#")
        ref, _, subdir = rest.partition(":")
        repo = into / "git"
        try:
            subprocess.run(["git", "init", "-q", str(repo)], check=True, timeout=60)
            subprocess.run(
                ["git", "-C", str(repo), "fetch", "-q", "--depth", "1", url, ref or "HEAD"],
                check=True,
                timeout=120,
                capture_output=True,
            )
            subprocess.run(
                ["git", "-C", str(repo), "checkout", "-q", "FETCH_HEAD"], check=True, timeout=60
            )
        except (subprocess.SubprocessError, OSError) as exc:
            skip_or_fail(
                f"cannot clone {url} ({type(exc).__name__}); set SMBOS_NANOCLAW_SRC to "
                "a fork tarball or folder"
            )
        return repo / subdir if subdir else repo
    path = Path(spec).expanduser()
    if path.is_dir():
        return path
    if path.is_file():
        with tarfile.open(path) as tar:
            tar.extractall(into / "unpacked", filter="data")
        top = into / "unpacked"
        return top / "nanoclaw" if (top / "nanoclaw").is_dir() else top
    skip_or_fail(f"SMBOS_NANOCLAW_SRC={spec}: no such folder or file")
    raise AssertionError("unreachable")


def _drop_whatsapp(folder: Path) -> None:
    package = folder / "package.json"
    data = json.loads(package.read_text())
    data.get("dependencies", {}).pop("@whiskeysockets/baileys", None)
    package.write_text(json.dumps(data, indent=2) + "\n")
    for rel in WHATSAPP_FILES:
        (folder / rel).unlink(missing_ok=True)
    env = {**os.environ, "NODE_EXTRA_CA_CERTS": CA_BUNDLE, "npm_config_update_notifier": "false"}
    proc = subprocess.run(
        ["npm", "install", "--package-lock-only", "--ignore-scripts", "--no-audit", "--no-fund"],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    if proc.returncode != 0:
        pytest.fail(
            f"regenerating package-lock.json without baileys failed:\n{proc.stderr[-2000:]}"
        )


_APT_BLOCK = re.compile(r"^RUN apt-get update.*?rm -rf /var/lib/apt/lists/\*\n", re.M | re.S)


def _offline_agent_dockerfile(folder: Path) -> None:
    dockerfile = folder / "container" / "Dockerfile"
    text = dockerfile.read_text()
    text, n_from = re.subn(
        r"^FROM node:22-slim$",
        f"FROM {BASE_IMAGE}\nRUN useradd -m -u 1000 -s /bin/bash node",
        text,
        flags=re.M,
    )
    text, n_apt = _APT_BLOCK.subn("", text)
    text, n_npm = re.subn(
        r"npm install -g agent-browser @anthropic-ai/claude-code",
        "npm install -g @anthropic-ai/claude-code",
        text,
    )
    if (n_from, n_apt, n_npm) != (1, 1, 1):
        pytest.fail(
            f"container/Dockerfile of the fork changed shape ({n_from}, {n_apt}, {n_npm}):"
            " update tests/realruntime.py"
        )
    dockerfile.write_text(text)


def prepared_source() -> Path:
    """The offline-buildable copy of the fork (made once per source, kept in CACHE)."""
    spec = source_spec()
    key = hashlib.sha256(spec.encode()).hexdigest()[:12]
    spec_path = Path(spec)
    if spec_path.is_file():
        key = hashlib.sha256(spec_path.read_bytes()).hexdigest()[:12]
    target = CACHE / f"fork-{key}"
    done = target / ".prepared"
    if done.is_file():
        return target / "nanoclaw"
    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    folder = _fetch(spec, target / "fetch")
    shutil.copytree(
        folder,
        target / "nanoclaw",
        symlinks=True,
        ignore=shutil.ignore_patterns(".git", "node_modules", "dist"),
    )
    _drop_whatsapp(target / "nanoclaw")
    _offline_agent_dockerfile(target / "nanoclaw")
    shutil.rmtree(target / "fetch", ignore_errors=True)
    done.write_text(spec + "\n")
    return target / "nanoclaw"


def ensure_base_images() -> None:
    script = ROOT / "tests" / "docker" / "make-base-image.sh"
    for tag, extra in ((BASE_IMAGE, ""), (BUILD_IMAGE, "python3,make,g++")):
        proc = subprocess.run(
            ["bash", str(script)],
            capture_output=True,
            text=True,
            timeout=1200,
            env={**os.environ, "SMBOS_TEST_BASE_IMAGE": tag, "SMBOS_BASE_EXTRA": extra},
        )
        if proc.returncode != 0:
            pytest.fail(f"making {tag} failed:\n{proc.stderr[-3000:]}")


TEST_CA_DIR = CACHE / "test-ca"
TELEGRAM_HOST = "api.telegram.org"


def _openssl(*args: str) -> None:
    proc = subprocess.run(["openssl", *args], capture_output=True, text=True, timeout=120)
    if proc.returncode != 0:
        pytest.fail(f"openssl {args[0]} failed: {proc.stderr[-1500:]}")


def make_test_ca() -> Path:
    """The tier's test CA and a certificate for api.telegram.org signed by it (made once per
    CACHE, so the images built with it stay cached); returns the folder holding ca.crt,
    server.crt and server.key."""
    folder = TEST_CA_DIR
    if (folder / ".done").is_file():
        return folder
    folder.mkdir(parents=True, exist_ok=True)
    ca_key, ca_crt = folder / "ca.key", folder / "ca.crt"
    key, csr, crt = folder / "server.key", folder / "server.csr", folder / "server.crt"
    ext = folder / "server.ext"
    _openssl(
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "3650",
        "-subj",
        "/CN=SMBOS test CA (real-runtime tier)",
        "-keyout",
        str(ca_key),
        "-out",
        str(ca_crt),
    )
    _openssl(
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-subj",
        f"/CN={TELEGRAM_HOST}",
        "-keyout",
        str(key),
        "-out",
        str(csr),
    )
    ext.write_text(
        f"subjectAltName=DNS:{TELEGRAM_HOST}\nbasicConstraints=CA:FALSE\n"
        "keyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n"
    )
    _openssl(
        "x509",
        "-req",
        "-in",
        str(csr),
        "-CA",
        str(ca_crt),
        "-CAkey",
        str(ca_key),
        "-CAcreateserial",
        "-days",
        "3650",
        "-extfile",
        str(ext),
        "-out",
        str(crt),
    )
    for path in (key, crt, ca_crt):
        os.chmod(path, 0o644)  # read by the fake's container
    (folder / ".done").write_text("ok\n")
    return folder


def ca_bundle() -> str:
    """The host's CA bundle (the registries' proxy) plus the tier's test CA."""
    bundle = CACHE / "ca-bundle.pem"
    text = Path(CA_BUNDLE).read_text() + "\n" + (make_test_ca() / "ca.crt").read_text()
    if not bundle.is_file() or bundle.read_text() != text:
        bundle.write_text(text)
    return str(bundle)


def build_args() -> list[str]:
    """The `smbos build` arguments of the tier (besides --source and --tag)."""
    return [
        "--ca-cert",
        ca_bundle(),
        "--build-arg",
        f"BASE_IMAGE={BASE_IMAGE}",
        "--build-arg",
        f"BUILD_IMAGE={BUILD_IMAGE}",
        "--build-arg",
        f"DOCKER_CLI_IMAGE={BASE_IMAGE}",
    ]


# ----------------------------------------------------------------------------- fixtures

FAKE_ALIAS = "fake-anthropic"
FAKE_URL = f"http://{FAKE_ALIAS}:8080"


@pytest.fixture(scope="session")
def real_build(docker_client):
    """`smbos build` of the fork: the runtime image and its per-turn agent image."""
    ensure_base_images()
    source = prepared_source()
    started = time.monotonic()
    result = run_smbos_process(
        "build",
        "--agents",
        str(ROOT / "agents"),
        "--source",
        str(source),
        "--tag",
        REAL_IMAGE,
        *build_args(),
        cwd=ROOT,
        timeout=2400,
    )
    assert result.code == 0, result.output[-6000:]
    facts = docker_client.images.get(REAL_IMAGE).labels
    return {
        "output": result.stdout,
        "seconds": time.monotonic() - started,
        "agent_image": facts["io.smbos.agent-image"],
        "patches": facts["io.smbos.patches"],
    }


class FakeApi:
    """The fake Anthropic API container; `requests()` is what it received."""

    def __init__(self, client, name: str, port: int):
        self.client = client
        self.name = name
        self.port = port

    def _get(self, path: str):
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{path}", timeout=10) as resp:
            return json.loads(resp.read() or b"null")

    def requests(self) -> list[dict]:
        return self._get("/_fake/requests")

    def join(self, network: str) -> None:
        self.client.networks.get(network).connect(self.name, aliases=[FAKE_ALIAS])


def _until_answering(container, probe, timeout: float = 30) -> None:
    """Wait until a fake's control port answers `probe()`; fail with its log if it never does."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            probe()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise AssertionError(container.logs().decode()[-2000:]) from None
            time.sleep(0.3)


@pytest.fixture(scope="session")
def fake_api(docker_client):
    ensure_base_images()
    name = f"smbos-test-fake-anthropic-{secrets.token_hex(3)}"
    port = free_port()
    container = docker_client.containers.run(
        BASE_IMAGE,
        ["node", "/fake/anthropic.mjs"],
        name=name,
        detach=True,
        volumes={str(ROOT / "tests" / "fakes"): {"bind": "/fake", "mode": "ro"}},
        ports={"8080/tcp": ("127.0.0.1", port)},
        labels={"io.smbos.test": "fake-anthropic"},
    )
    fake = FakeApi(docker_client, name, port)
    _until_answering(container, fake.requests)
    yield fake
    container.remove(force=True)


class RealFleet(LiveFleet):
    fake: FakeApi

    def add_real(self, agent_id: str, config: dict | None = None, env_extra: str = "", **kwargs):
        cfg = {"runtime": {"container_isolation": "docker"}}
        cfg.update(config or {})
        folder = self.add(
            agent_id, config=cfg, env_extra=f"ANTHROPIC_BASE_URL={FAKE_URL}\n{env_extra}", **kwargs
        )
        return folder

    def up(self, *args: str, timeout: float = 300):
        result = self.smbos("up", "--no-build", "--wait-timeout", "240", *args, timeout=timeout)
        for agent_id in self.ports:
            network = f"{self.name}_{agent_id}"
            try:
                self.fake.join(network)
            except Exception as exc:  # noqa: BLE001 - joined already, or `up` made no network
                if "already exists" not in str(exc) and "not found" not in str(exc):
                    raise
        return result


@pytest.fixture
def real_fleet(tmp_path, docker_client, real_build, fake_api):
    (tmp_path / "agents").mkdir()
    fleet = RealFleet(
        root=tmp_path, name=f"r{secrets.token_hex(4)}", image=REAL_IMAGE, client=docker_client
    )
    fleet.fake = fake_api
    yield fleet
    for container in docker_client.containers.list(
        all=True, filters={"label": f"io.smbos.project={fleet.name}"}
    ):
        container.remove(force=True)
    fleet.teardown()


class FakeTelegram:
    """The fake Telegram Bot API container (tests/fakes/telegram.mjs)."""

    def __init__(self, client, name: str, port: int, token: str):
        self.client = client
        self.name = name
        self.port = port
        self.token = token

    def _call(self, path: str, body: dict | None = None):
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.port}{path}",
            data=data,
            headers={"content-type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=10) as resp:
            return json.loads(resp.read() or b"null")

    def calls(self) -> list[dict]:
        return self._call("/_fake/calls")

    def message(self, chat_id: int, text: str) -> dict:
        return self._call("/_fake/message", {"chat_id": chat_id, "text": text})

    def sent(self, chat_id: int) -> list[str]:
        """The texts the bot sent or edited in chat `chat_id`."""
        return [
            str(c["body"].get("text"))
            for c in self.calls()
            if c["method"] in ("sendMessage", "editMessageText")
            and str(c["body"].get("chat_id")) == str(chat_id)
        ]

    def join(self, network: str) -> None:
        """The agent's network, as api.telegram.org (the runtime resolves it there first)."""
        self.client.networks.get(network).connect(self.name, aliases=[TELEGRAM_HOST])


@pytest.fixture(scope="session")
def fake_telegram(docker_client):
    ensure_base_images()
    certs = make_test_ca()
    name = f"smbos-test-fake-telegram-{secrets.token_hex(3)}"
    port = free_port()
    token = f"{secrets.randbelow(10**9) + 10**9}:AA{secrets.token_urlsafe(24)}"
    container = docker_client.containers.run(
        BASE_IMAGE,
        ["node", "/fake/telegram.mjs"],
        name=name,
        detach=True,
        environment={"FAKE_TELEGRAM_TOKEN": token, "FAKE_CERT_DIR": "/ca"},
        volumes={
            str(ROOT / "tests" / "fakes"): {"bind": "/fake", "mode": "ro"},
            str(certs): {"bind": "/ca", "mode": "ro"},
        },
        ports={"8080/tcp": ("127.0.0.1", port)},
        labels={"io.smbos.test": "fake-telegram"},
    )
    fake = FakeTelegram(docker_client, name, port, token)
    _until_answering(container, fake.calls)
    yield fake
    container.remove(force=True)
