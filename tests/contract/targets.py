"""The NanoClaws the contract suite runs against, one per tier, each reached as SMBOS reaches it:
an HTTP base URL and the instance directory (NanoClaw's working directory, where SMBOS writes
IPC files).

| target          | what                                        | tier                        |
|-----------------|---------------------------------------------|-----------------------------|
| `fake`          | `FakeRuntime`, in this process              | fast                        |
| `standin`       | the stand-in, a Node process on a free port | fast                        |
| `standin-image` | the stand-in image, run by `smbos up`       | docker                      |
| `fork`          | the SMBOS fork with its patches, `smbos up` | real (the real tier's build)|

The Docker targets reuse the session fixtures of their tiers (`standin_image`; `real_build` and
`fake_api`) and run one agent in a project of their own for the whole module.
"""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from smbos.project import Project
from smbos.nanoclaw.runtime import RuntimeClient

from ..conftest import write_agent
from ..fakefleet import FakeFleet
from ..standinprocess import Standin

AGENT = "contract"
ASSISTANT = "Contract"  # the agent's name: its ASSISTANT_NAME


@dataclass
class Target:
    name: str
    base_url: str
    instance_dir: Path
    assistant_name: str
    transport: httpx.BaseTransport | None = None  # None: a real socket
    _http: httpx.Client | None = None

    @property
    def http(self) -> httpx.Client:
        """A plain HTTP client of the runtime, for exact answers (one per target)."""
        if self._http is None:
            self._http = httpx.Client(
                base_url=self.base_url,
                transport=self.transport,
                trust_env=False,
                timeout=httpx.Timeout(10.0, read=300.0),
            )
        return self._http

    def close(self) -> None:
        if self._http is not None:
            self._http.close()

    def client(self) -> RuntimeClient:
        """SMBOS's own client of the runtime."""
        return RuntimeClient(self.base_url, transport=self.transport, chat_timeout=300)

    def write_ipc(self, folder: str, name: str, order: dict) -> Path:
        """An IPC task file, as SMBOS's writers make one: `data/ipc/<folder>/tasks/<name>`,
        written beside it first and renamed, owned like the instance directory (the runtime's
        user must be able to delete it)."""
        owner = self.instance_dir.stat()
        where = self.instance_dir
        for part in ("data", "ipc", folder, "tasks"):
            where = where / part
            if not where.exists():
                where.mkdir()
                if os.geteuid() == 0:
                    os.chown(where, owner.st_uid, owner.st_gid)
        tmp = where / f".{name}.tmp"
        tmp.write_text(json.dumps(order) + "\n")
        tmp.chmod(0o644)
        tmp.rename(where / name)
        return where / name


def fake_target(root: Path) -> Iterator[Target]:
    (root / "agents").mkdir()
    write_agent(root / "agents", AGENT, {"name": ASSISTANT, "port": 3201})
    fleet = FakeFleet(Project.from_options(root / "agents", None, "smbos"))
    runtime = fleet.run(AGENT)
    runtime.instance_dir.mkdir(parents=True, exist_ok=True)
    yield Target(
        "fake", "http://127.0.0.1:3201", runtime.instance_dir, ASSISTANT, fleet.transport()
    )


def standin_target(root: Path) -> Iterator[Target]:
    server = Standin(
        root / "instance", env={"ASSISTANT_NAME": ASSISTANT, "STANDIN_IPC_POLL_MS": "50"}
    )
    try:
        yield Target("standin", server.url, server.folder, ASSISTANT)
    finally:
        server.stop()


def standin_image_target(root: Path, request: pytest.FixtureRequest) -> Iterator[Target]:
    from ..dockerfleet import LiveFleet

    client = request.getfixturevalue("docker_client")
    image = request.getfixturevalue("standin_image")
    (root / "agents").mkdir()
    fleet = LiveFleet(root=root, name=f"t{secrets.token_hex(4)}", image=image, client=client)
    try:
        fleet.add(AGENT)  # named "Contract", its ASSISTANT_NAME
        up = fleet.smbos("up", "--no-build", "--wait-timeout", "120")
        assert up.code == 0, up.output
        yield Target("standin-image", fleet.url(AGENT), fleet.state(AGENT), ASSISTANT)
    finally:
        fleet.teardown()


def fork_target(root: Path, request: pytest.FixtureRequest) -> Iterator[Target]:
    from ..realruntime import REAL_IMAGE, RealFleet

    client = request.getfixturevalue("docker_client")
    request.getfixturevalue("real_build")
    (root / "agents").mkdir()
    fleet = RealFleet(root=root, name=f"r{secrets.token_hex(4)}", image=REAL_IMAGE, client=client)
    fleet.fake = request.getfixturevalue("fake_api")
    try:
        fleet.add_real(AGENT)  # named "Contract", its ASSISTANT_NAME
        up = fleet.up()
        assert up.code == 0, up.output
        yield Target("fork", fleet.url(AGENT), fleet.state(AGENT), ASSISTANT)
    finally:
        fleet.teardown()


TARGETS = [
    pytest.param("fake", id="fake"),
    pytest.param("standin", id="standin"),
    pytest.param("standin-image", id="standin-image", marks=pytest.mark.docker),
    pytest.param("fork", id="fork", marks=[pytest.mark.real, pytest.mark.docker]),
]


def start(kind: str, root: Path, request: pytest.FixtureRequest) -> Iterator[Target]:
    if kind == "fake":
        return fake_target(root)
    if kind == "standin":
        return standin_target(root)
    if kind == "standin-image":
        return standin_image_target(root, request)
    return fork_target(root, request)
