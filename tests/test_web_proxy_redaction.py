"""Everything that leaves SMBOS from a runtime is redacted, whichever route it takes: the proxy's
JSON answers (decoded, redacted deep, keys too, re-encoded) and event streams (frame by frame,
the texts of consecutive events read as one, so a secret split across two events is hidden),
and the UI's own chat stream. A read through the proxy needs the token, on loopback too.

In this process: the runtimes answer through an `httpx.MockTransport` that hands out their
bodies in small chunks, as a socket would."""

from __future__ import annotations

import json
import secrets
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest

from smbos.project import Project
from smbos.web.app import create_app

from .conftest import write_agent
from .fakefleet import FakeDocker
from .test_web_api import AUTH, SKILLS, TOKEN, make_client, sse_events

SECRET = "sk-ant-api03-" + secrets.token_hex(12) + '/+"x'
PORT = 41900


class Chunked(httpx.AsyncByteStream):
    def __init__(self, body: bytes, size: int):
        self.body, self.size = body, size

    async def __aiter__(self):
        for at in range(0, len(self.body), self.size):
            yield self.body[at : at + self.size]


class Runtime:
    """Answers set per path: (content type, body, status)."""

    def __init__(self, chunk: int = 7):
        self.routes: dict[str, tuple[str | None, bytes, int]] = {}
        self.chunk = chunk

    def transport(self) -> httpx.MockTransport:
        def handle(request: httpx.Request) -> httpx.Response:
            if request.url.port != PORT:
                raise httpx.ConnectError("refused", request=request)
            # Anything else: NanoClaw's 404, no body and no Content-Type.
            kind, body, status = self.routes.get(request.url.path, (None, b"", 404))
            return httpx.Response(
                status,
                headers={"Content-Type": kind} if kind else {},
                stream=Chunked(body, self.chunk),
            )

        return httpx.MockTransport(handle)


def sse(*frames: tuple[str, object]) -> bytes:
    return b"".join(
        f"event: {name}\ndata: {json.dumps(data)}\n\n".encode() for name, data in frames
    )


@pytest.fixture
def runtime() -> Runtime:
    return Runtime()


@pytest.fixture
def client(tmp_path: Path, runtime: Runtime):
    agents = tmp_path / "agents"
    write_agent(
        agents,
        "alpha",
        {
            "name": "Alpha",
            "port": PORT,
            "skills": SKILLS,
            "runtime": {"container_isolation": "none"},
        },
        env=f"ANTHROPIC_API_KEY='{SECRET}'\nASSISTANT_NAME=Alpha\n",
    )
    project = Project.from_options(agents, None, f"p{secrets.token_hex(4)}")
    with make_client(
        create_app(project, TOKEN, transport=runtime.transport(), docker_client=FakeDocker())
    ) as c:
        yield c


def no_secret(text: str) -> None:
    for form in (SECRET, json.dumps(SECRET)[1:-1], quote(SECRET, safe="")):
        assert form not in text
    left = text.replace("[secret ANTHROPIC_API_KEY]", "\0")
    assert not any(SECRET[i : i + 6] in left for i in range(len(SECRET) - 5)), text


def test_proxy_reads_need_the_token_on_loopback(client, runtime):
    runtime.routes["/api/health"] = ("application/json", b'{"status": "ok"}', 200)
    r = client.get("/agents/alpha/api/health")
    assert r.status_code == 401 and r.json()["kind"] == "token"
    assert client.get("/agents/alpha/api/health", headers=AUTH).json() == {"status": "ok"}


@pytest.mark.parametrize("path", ["/api/messages", "/api/tasks", "/api/state"])
def test_json_answers_are_redacted_deep(client, runtime, path):
    data = {
        "messages": [
            {
                "content": f"the key is {SECRET}",
                SECRET: 1,
                "nested": [{"url": f"https://x.example/?k={quote(SECRET, safe='')}"}],
                "escaped": json.dumps({"inner": SECRET}),
            }
        ],
        "n": 3,
        "ok": True,
        "none": None,
        "é": "ünï",
    }
    runtime.routes[path] = ("application/json; charset=utf-8", json.dumps(data).encode(), 200)
    r = client.get(f"/agents/alpha{path}", headers=AUTH)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/json; charset=utf-8"
    no_secret(r.text)
    got = r.json()["messages"][0]
    assert got["content"] == "the key is [secret ANTHROPIC_API_KEY]"
    assert got["[secret ANTHROPIC_API_KEY]"] == 1
    assert got["nested"][0]["url"] == "https://x.example/?k=[secret ANTHROPIC_API_KEY]"
    assert json.loads(got["escaped"]) == {"inner": "[secret ANTHROPIC_API_KEY]"}
    assert r.json()["n"] == 3 and r.json()["é"] == "ünï" and r.json()["none"] is None


def test_an_error_answer_is_redacted_and_keeps_its_status(client, runtime):
    runtime.routes["/api/chat"] = (
        "application/json",
        json.dumps({"error": f"bad key {SECRET}"}).encode(),
        401,
    )
    r = client.post("/agents/alpha/api/chat", headers=AUTH, json={"message": "hi"})
    assert r.status_code == 401 and r.json() == {"error": "bad key [secret ANTHROPIC_API_KEY]"}


def test_json_that_cannot_be_read_is_not_passed(client, runtime):
    runtime.routes["/api/messages"] = ("application/json", f"oops {SECRET}".encode(), 200)
    r = client.get("/agents/alpha/api/messages", headers=AUTH)
    assert r.status_code == 502 and r.json()["kind"] == "runtime_not_json", r.text
    no_secret(r.text)


@pytest.mark.parametrize("chunk", [1, 5, 4096])
def test_event_streams_are_redacted_across_events(client, runtime, chunk):
    runtime.chunk = chunk
    cut = 17
    runtime.routes["/api/chat"] = (
        "text/event-stream",
        sse(
            ("typing", {}),
            ("message", {"text": f"whole {SECRET} here"}),
            ("message", {"text": f"split {SECRET[:cut]}"}),
            ("typing", {}),
            ("message", {"text": f"{SECRET[cut:]} done"}),
            ("message", {"text": f"escaped {json.dumps(SECRET)[1:-1]}"}),
            ("error", {"text": f"and {quote(SECRET, safe='')}"}),
            ("done", {}),
        ),
        200,
    )
    r = client.post("/agents/alpha/api/chat", headers=AUTH, json={"message": "hi"})
    assert r.status_code == 200 and r.headers["content-type"] == "text/event-stream"
    no_secret(r.text)
    events = sse_events(r.text)
    assert [name for name, _ in events] == [
        "typing",
        "message",
        "message",
        "typing",
        "message",
        "message",
        "error",
        "done",
    ], "order and count kept"
    texts = [data.get("text") for _, data in events]
    assert texts[1] == "whole [secret ANTHROPIC_API_KEY] here"
    assert texts[2] == "split [secret ANTHROPIC_API_KEY]" and texts[4] == " done"
    assert texts[5] == "escaped [secret ANTHROPIC_API_KEY]"
    assert texts[6] == "and [secret ANTHROPIC_API_KEY]"


def test_a_stream_that_is_not_json_is_redacted_as_text(client, runtime):
    body = (
        f"data: line one {SECRET[:9]}\n\n: keep-alive\n\ndata: {SECRET[9:]} end\n"
        f"data: second line\nid: 7\n\n"
    ).encode()
    runtime.routes["/api/events"] = ("text/event-stream", body, 200)
    r = client.get("/agents/alpha/api/events", headers={**AUTH, "Accept": "text/event-stream"})
    assert r.status_code == 200
    no_secret(r.text)
    assert "data: line one [secret ANTHROPIC_API_KEY]" in r.text
    assert "data:  end\ndata: second line" in r.text and "id: 7" in r.text


def test_the_uis_own_chat_hides_a_secret_split_across_events(client, runtime):
    runtime.routes["/api/chat"] = (
        "text/event-stream",
        sse(
            ("typing", {}),
            ("message", {"text": f"one {SECRET[:20]}"}),
            ("message", {"text": f"{SECRET[20:]} two"}),
            ("done", {}),
        ),
        200,
    )
    r = client.post("/api/agents/alpha/chat", headers=AUTH, json={"message": "hi"})
    assert r.status_code == 200
    no_secret(r.text)
    events = sse_events(r.text)
    assert [(n, d.get("text")) for n, d in events] == [
        ("typing", None),
        ("message", "one [secret ANTHROPIC_API_KEY]"),
        ("message", " two"),
        ("done", None),
    ]
    skill = client.post(
        "/api/agents/alpha/skills/grid",
        headers={**AUTH, "Accept": "application/json"},
        json={"values": {}},
    )
    assert skill.status_code == 200, skill.text
    assert skill.json()["messages"] == ["one [secret ANTHROPIC_API_KEY]", " two"]
    no_secret(skill.text)
