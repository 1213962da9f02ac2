"""The runtime client (`smbos/nanoclaw/runtime.py`): pure parsing, then real HTTP on 127.0.0.1.

The HTTP tests run against the NanoClaw stand-in (`tests/standin/`, started with Node on a free
port by `tests/standinprocess.py`) and, where a precise misbehaviour is needed (a drop
mid-stream, a silent peer, a redirect), against small socket servers started here. Nothing here
talks to any other host.
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time

import httpx
import pytest

from smbos.nanoclaw.runtime import (
    ApiStatus,
    AsyncRuntimeClient,
    Capabilities,
    ChatDecoder,
    ChatEvent,
    Health,
    Message,
    ProblemKind,
    RuntimeClient,
    RuntimeProblem,
    SSEFrame,
    SSEParser,
    State,
    TasksPage,
    Timeouts,
    capabilities_from_statuses,
    check_status,
    classify_transport_error,
    decode_json,
    event_from_frame,
    normalize_base_url,
    parse_messages,
    parse_state,
    parse_tasks,
    probe_result,
    validate_shape,
)

from .standinprocess import Standin, free_port

REPLY_DELAY_MS = 300
FAST = Timeouts(connect=1.0, read=0.5, total=2.0)


# =========================================================================== pure: SSE parser


def parse_all(chunks: list[bytes]) -> list[SSEFrame]:
    parser = SSEParser()
    frames: list[SSEFrame] = []
    for chunk in chunks:
        frames += parser.feed(chunk)
    return frames + parser.close()


TRICKY_STREAM = (
    "\ufeff: a comment first\r\n"
    "event: typing\r\n"
    "data: {}\r\n"
    "\r\n"
    ":keep-alive\n"
    "event: message\n"
    'data: {"text": "line one\n'  # a second data line: joined with \n
    'data: caf\u00e9 \u2603 \U0001f600"}\n'
    "\n"
    "event:error\r"  # bare CR line endings, no space after the colon
    'data: {"text":"bad"}\r'
    "\r"
    "id: 7\n"
    "event: done\n"
    "data: {}\n"
    "\n"
).encode("utf-8")

TRICKY_FRAMES = [
    SSEFrame("typing", "{}"),
    SSEFrame("message", '{"text": "line one\ncaf\u00e9 \u2603 \U0001f600"}'),
    SSEFrame("error", '{"text":"bad"}'),
    SSEFrame("done", "{}", "7"),
]


def test_sse_parser_whole_stream():
    assert parse_all([TRICKY_STREAM]) == TRICKY_FRAMES


def test_sse_parser_byte_by_byte():
    assert parse_all([bytes([b]) for b in TRICKY_STREAM]) == TRICKY_FRAMES


def test_sse_parser_every_split_point():
    # Every two-chunk split, including inside multi-byte characters and between \r and \n.
    for cut in range(len(TRICKY_STREAM) + 1):
        assert parse_all([TRICKY_STREAM[:cut], TRICKY_STREAM[cut:]]) == TRICKY_FRAMES, cut


def test_sse_parser_three_way_splits():
    data = TRICKY_STREAM
    for a in range(0, len(data), 3):
        for b in range(a, len(data), 5):
            assert parse_all([data[:a], data[a:b], data[b:]]) == TRICKY_FRAMES, (a, b)


def test_sse_parser_cr_then_lf_in_next_chunk_is_one_line_end():
    # Had the \n been taken as a blank line, this would be two frames "a" and "b".
    frames = parse_all([b"data: a\r", b"\ndata: b\r\n\r\n"])
    assert frames == [SSEFrame("message", "a\nb")]


def test_sse_parser_frames_arrive_as_soon_as_complete():
    parser = SSEParser()
    assert parser.feed(b"event: typing\ndata: {}\n") == []
    assert parser.feed(b"\n") == [SSEFrame("typing", "{}")]
    assert parser.feed(b"event: done\ndata: {}\n\nevent: mess") == [SSEFrame("done", "{}")]


def test_sse_parser_drops_unterminated_last_frame_and_ignores_unknown_fields():
    frames = parse_all([b"retry: 10\nfoo: bar\nnocolon\ndata: x\n\nevent: message\ndata: cut"])
    assert frames == [SSEFrame("message", "x")]


def test_sse_parser_comment_only_and_blank_lines_make_no_frames():
    assert parse_all([b": hi\n\n\n: there\r\n\r\n"]) == []


# =========================================================================== pure: chat events


def test_event_from_frame():
    assert event_from_frame(SSEFrame("typing", "{}")) == ChatEvent("typing")
    assert event_from_frame(SSEFrame("done", "")) == ChatEvent("done")
    assert event_from_frame(SSEFrame("message", '{"text": "hi", "x": 1}')) == ChatEvent(
        "message", "hi"
    )
    assert event_from_frame(SSEFrame("error", '{"text": "boom"}')) == ChatEvent("error", "boom")
    assert event_from_frame(SSEFrame("progress", '{"pct": 3}')) is None


def test_event_from_frame_problems():
    with pytest.raises(RuntimeProblem) as info:
        event_from_frame(SSEFrame("message", '{"txt": "hi"}'))
    assert info.value.kind is ProblemKind.BAD_SHAPE and info.value.field == "message.text"
    with pytest.raises(RuntimeProblem) as info:
        event_from_frame(SSEFrame("message", "not json " + "x" * 500))
    assert info.value.kind is ProblemKind.NOT_JSON
    assert len(str(info.value)) < 200 and "\n" not in str(info.value)


def test_chat_decoder_sequence_and_end():
    decoder = ChatDecoder()
    stream = (
        b'event: typing\ndata: {}\n\nevent: message\ndata: {"text":"a"}\n\n'
        b'event: done\ndata: {}\n\nevent: message\ndata: {"text":"late"}\n\n'
    )
    events = []
    for i in range(len(stream)):
        events += decoder.feed(stream[i : i + 1])
    assert [(e.type, e.text) for e in events] == [
        ("typing", None),
        ("message", "a"),
        ("done", None),
    ]
    assert decoder.done
    assert decoder.finish() == []


def test_chat_decoder_without_done_is_a_stream_error():
    decoder = ChatDecoder()
    assert [e.type for e in decoder.feed(b"event: typing\ndata: {}\n\n")] == ["typing"]
    with pytest.raises(RuntimeProblem) as info:
        decoder.finish()
    assert info.value.kind is ProblemKind.STREAM_ERROR


# =========================================================================== pure: shapes


GOOD_TASK = {
    "id": "task-1",
    "group_folder": "web-chat",
    "chat_jid": "web-chat@smbos",
    "prompt": "say hi",
    "schedule_type": "cron",
    "schedule_value": "0 9 * * *",
    "next_run": "2099-01-01T09:00:00.000Z",
    "last_run": None,
    "last_result": None,
    "status": "active",
    "created_at": "2024-01-01T00:00:00.000Z",
    "context_mode": "isolated",
}
GOOD_LOG = {
    "id": 3,
    "task_id": "task-1",
    "run_at": "2024-01-02T09:00:00.000Z",
    "duration_ms": 1234,
    "status": "error",
    "result": None,
    "error": "boom",
}


def test_tasks_shape_ok_with_extra_fields():
    page = parse_tasks(
        {"tasks": [{**GOOD_TASK, "new_field": 1}], "runLogs": [GOOD_LOG], "extra": True}
    )
    assert isinstance(page, TasksPage)
    assert page.tasks[0].schedule_type == "cron" and page.tasks[0].last_run is None
    assert page.run_logs[0].duration_ms == 1234 and page.run_logs[0].error == "boom"


@pytest.mark.parametrize(
    "data, field",
    [
        (
            {"tasks": [{k: v for k, v in GOOD_TASK.items() if k != "status"}], "runLogs": []},
            "tasks[0].status",
        ),
        (
            {"tasks": [{**GOOD_TASK, "schedule_type": "weekly"}], "runLogs": []},
            "tasks[0].schedule_type",
        ),
        (
            {"tasks": [], "runLogs": [GOOD_LOG, {**GOOD_LOG, "duration_ms": "slow"}]},
            "runLogs[1].duration_ms",
        ),
        ({"tasks": []}, "runLogs"),
        ([], "(top level)"),
    ],
)
def test_tasks_shape_errors_name_the_field(data, field):
    with pytest.raises(RuntimeProblem) as info:
        parse_tasks(data)
    assert info.value.kind is ProblemKind.BAD_SHAPE
    assert info.value.field == field
    assert field in str(info.value) and str(info.value).startswith("GET /api/tasks: ")


def test_state_shape_uses_contract_names():
    state = parse_state(
        {
            "dbExists": True,
            "sessions": 2,
            "groups": [
                {
                    "jid": "web-chat@smbos",
                    "name": "Web Chat",
                    "folder": "web-chat",
                    "trigger_pattern": "@Andy",
                    "added_at": "2024-01-01T00:00:00Z",
                    "requires_trigger": 1,
                }
            ],
            "taskStats": {"total": 3, "active": 1, "paused": 1, "completed": 1},
        }
    )
    assert isinstance(state, State)
    assert state.db_exists and state.sessions == 2 and state.groups[0].folder == "web-chat"
    assert state.task_stats.completed == 1
    with pytest.raises(RuntimeProblem) as info:
        parse_state(
            {
                "dbExists": True,
                "sessions": 0,
                "groups": [],
                "taskStats": {"total": 0, "active": 0, "paused": 0},
            }
        )
    assert info.value.field == "taskStats.completed"


def test_messages_shape_accepts_sqlite_integers():
    messages = parse_messages(
        {
            "messages": [
                {
                    "id": 17,
                    "sender": "u",
                    "sender_name": None,
                    "content": "hi",
                    "timestamp": "2024-01-01T00:00:00Z",
                    "is_from_me": 0,
                    "is_bot_message": 1,
                }
            ]
        }
    )
    assert messages == [
        Message(
            id="17",
            sender="u",
            sender_name=None,
            content="hi",
            timestamp="2024-01-01T00:00:00Z",
            is_from_me=False,
            is_bot_message=True,
        )
    ]
    with pytest.raises(RuntimeProblem) as info:
        parse_messages({"messages": [{"id": "1", "sender": "u"}]})
    assert info.value.field.startswith("messages[0].") and "more" in str(info.value)


def test_health_shape():
    assert validate_shape(Health, {"status": "ok", "uptime": 3}, "GET /api/health").ok
    with pytest.raises(RuntimeProblem) as info:
        validate_shape(Health, {"healthy": True}, "GET /api/health")
    assert info.value.field == "status"


# =========================================================================== pure: classification


def test_check_status_and_decode_json():
    check_status(200, b"{}", "GET /api/state")
    with pytest.raises(RuntimeProblem) as info:
        check_status(404, b"", "GET /api/state")
    assert info.value.kind is ProblemKind.ABSENT and info.value.status == 404
    with pytest.raises(RuntimeProblem) as info:
        check_status(400, b'{"error":"message is required"}', "POST /api/chat")
    assert info.value.kind is ProblemKind.BAD_STATUS and info.value.status == 400
    assert str(info.value) == "POST /api/chat: HTTP 400: message is required"
    huge = ("<html>\n" + "x" * 5000 + "\n</html>").encode()
    for call in (
        lambda: check_status(502, huge, "GET /api/tasks"),
        lambda: decode_json(huge, "GET /api/tasks"),
    ):
        with pytest.raises(RuntimeProblem) as info:
            call()
        text = str(info.value)
        assert "\n" not in text and len(text) < 170, text
    assert decode_json(b'{"a": 1}', "r") == {"a": 1}
    with pytest.raises(RuntimeProblem) as info:
        decode_json(b"", "GET /api/health")
    assert info.value.kind is ProblemKind.NOT_JSON


def test_classify_transport_error():
    request = httpx.Request("GET", "http://127.0.0.1:1/api/health")
    cases = [
        (
            httpx.ConnectError("[Errno 111] Connection refused", request=request),
            ProblemKind.REFUSED,
        ),
        (httpx.ConnectTimeout("timed out", request=request), ProblemKind.TIMEOUT),
        (httpx.ReadTimeout("timed out", request=request), ProblemKind.TIMEOUT),
        (
            httpx.RemoteProtocolError("Server disconnected", request=request),
            ProblemKind.STREAM_ERROR,
        ),
        (httpx.ReadError("reset by peer", request=request), ProblemKind.STREAM_ERROR),
    ]
    for exc, kind in cases:
        problem = classify_transport_error(exc, "GET /api/health")
        assert problem.kind is kind, exc
        assert isinstance(problem, RuntimeError) and "\n" not in str(problem)


def test_probe_result_mapping():
    def problem(kind):
        return RuntimeProblem(kind, "GET /api/health", "x")

    ok = probe_result(Health(status="ok"), None, 0.0123)
    assert ok.api is ApiStatus.OK and ok.latency_ms == 12.3 and ok.ok
    assert probe_result(None, problem(ProblemKind.REFUSED), 0.001).api is ApiStatus.DOWN
    assert probe_result(None, problem(ProblemKind.TIMEOUT), 2).api is ApiStatus.UNRESPONSIVE
    for kind in (
        ProblemKind.BAD_STATUS,
        ProblemKind.NOT_JSON,
        ProblemKind.BAD_SHAPE,
        ProblemKind.ABSENT,
        ProblemKind.STREAM_ERROR,
    ):
        result = probe_result(None, problem(kind), 0.5)
        assert result.api is ApiStatus.ERROR and result.kind is kind and result.detail
    degraded = probe_result(Health(status="starting"), None, 0.01)
    assert degraded.api is ApiStatus.ERROR and "starting" in degraded.detail


def test_capabilities_from_statuses():
    caps = capabilities_from_statuses(
        {"health": 200, "state": 404, "tasks": 404, "messages": 404, "chat": 400}
    )
    assert caps == Capabilities(True, False, False, False, True)
    assert caps.routes == ["health", "chat"] and not caps.full


def test_base_url_and_timeouts_validation():
    assert normalize_base_url("http://127.0.0.1:3100/") == "http://127.0.0.1:3100"
    assert normalize_base_url("http://127.0.0.1:3100/prefix/") == "http://127.0.0.1:3100/prefix"
    for bad in (
        "127.0.0.1:3100",
        "ftp://127.0.0.1",
        "http://",
        "http://u:p@127.0.0.1",
        "http://127.0.0.1:99999",
        "http://127.0.0.1/?q=1",
    ):
        with pytest.raises(ValueError):
            normalize_base_url(bad)
    with pytest.raises(ValueError):
        Timeouts(connect=0)
    client = RuntimeClient("http://127.0.0.1:1", chat_timeout=30)
    assert client.chat_timeout.read == 30 and client.probe_timeout.read == 2.0
    client.close()


# =========================================================================== helpers: servers


def closed_port() -> int:
    return free_port()  # bound then released: nothing listens there


SEEDED_STORE = {
    "format": "smbos-nanoclaw-standin/1",
    "messages": [],
    "sessions": {},
    "groups": [],
    "tasks": [
        {**GOOD_TASK, "status": "paused"},
        {
            **GOOD_TASK,
            "id": "task-2",
            "schedule_type": "once",
            "schedule_value": "2024-01-01T10:00:00",
            "status": "completed",
            "next_run": None,
            "last_run": "2024-01-01T10:00:01.000Z",
            "last_result": "done",
            "created_at": "2023-12-31T00:00:00.000Z",
        },
    ],
    "runLogs": [
        {
            **GOOD_LOG,
            "id": 1,
            "task_id": "task-2",
            "status": "success",
            "result": "done",
            "error": None,
        }
    ],
    "nextRunLogId": 2,
}


@pytest.fixture(scope="module")
def standin(tmp_path_factory):
    server = Standin(
        tmp_path_factory.mktemp("standin"), store=SEEDED_STORE, reply_delay_ms=REPLY_DELAY_MS
    )
    yield server
    server.stop()


@pytest.fixture
def fault(standin):
    """Set a stand-in fault for one test; always cleared afterwards."""
    yield standin.fault
    standin.fault(None)


class RawServer:
    """A socket server on 127.0.0.1 whose every connection runs `handler(conn, request)`.
    It records when a client closed its side (`closed` event)."""

    def __init__(self, handler):
        self.handler = handler
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.closed = threading.Event()
        self.stop_event = threading.Event()
        self.conns: list[socket.socket] = []
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self):
        self.sock.settimeout(0.1)
        while not self.stop_event.is_set():
            try:
                conn, _ = self.sock.accept()
            except (TimeoutError, OSError):
                continue
            self.conns.append(conn)
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn):
        try:
            request = b""
            while b"\r\n\r\n" not in request:
                data = conn.recv(65536)
                if not data:
                    return
                request += data
            head, _, body = request.partition(b"\r\n\r\n")
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
                    while len(body) < length:
                        body += conn.recv(65536)
            self.handler(self, conn, head)
        except OSError:
            pass

    def wait_client_close(self, conn, timeout: float) -> bool:
        """Block until the peer closes `conn` (recv returns b"" or fails)."""
        conn.settimeout(timeout)
        try:
            while True:
                if conn.recv(65536) == b"":
                    self.closed.set()
                    return True
        except TimeoutError:
            return False
        except OSError:
            self.closed.set()
            return True

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop_event.set()
        self.sock.close()
        for conn in self.conns:
            try:
                conn.close()
            except OSError:
                pass


SSE_HEAD = (
    b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"
)


def chunk(data: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(data), data)


def pool_size(client) -> int:
    """Connections the client's httpx pool still holds (private attributes, test-only)."""
    return len(client._http._transport._pool.connections)


# =========================================================================== stand-in: happy path


def test_health_state_tasks_against_standin(standin):
    with RuntimeClient(standin.url) as client:
        assert client.health().ok
        state = client.state()
        assert state.db_exists and any(g.jid == "web-chat@smbos" for g in state.groups)
        assert state.task_stats.total == 2 and state.task_stats.paused == 1
        page = client.tasks()
        assert {t.id for t in page.tasks} == {"task-1", "task-2"}
        assert [log.task_id for log in page.run_logs] == ["task-2"]
        assert page.run_logs[0].status == "success"
        probe = client.probe()
        assert probe.api is ApiStatus.OK and probe.latency_ms is not None and probe.detail is None
        assert client.probe_capabilities().full


def test_chat_streams_events_as_they_arrive(standin):
    with RuntimeClient(standin.url) as client:
        seen = []
        for event in client.chat("hello from the test"):
            seen.append((event, time.monotonic()))
        assert [e.type for e, _ in seen] == ["typing", "message", "done"]
        assert "echo=hello%20from%20the%20test" in seen[1][0].text
        # The stand-in waits REPLY_DELAY_MS between typing and the reply: the iterator must have
        # handed out `typing` that long before `message`, not both at the end.
        gap = seen[1][1] - seen[0][1]
        assert gap > 0.05 and gap >= (REPLY_DELAY_MS / 1000) * 0.8, gap
        history = client.messages()
        assert [m.content for m in history[-2:]][0] == "hello from the test"
        assert history[-1].is_from_me and history[-1].is_bot_message
        assert len(client.messages(limit=1)) == 1
        assert pool_size(client) <= 1


def test_chat_error_event_and_bad_request(standin):
    with RuntimeClient(standin.url) as client:
        events = list(client.chat("standin:error"))
        assert [e.type for e in events] == ["typing", "error", "done"]
        assert "error requested" in events[1].text
        with pytest.raises(RuntimeProblem) as info:
            list(client.chat("   "))
        assert info.value.kind is ProblemKind.BAD_STATUS and info.value.status == 400
        assert "message is required" in str(info.value)
        with pytest.raises(ValueError):
            client.messages(limit=0)


def test_async_client_against_standin(standin):
    async def main():
        async with AsyncRuntimeClient(standin.url) as client:
            assert (await client.health()).ok
            assert (await client.state()).db_exists
            assert len((await client.tasks()).tasks) == 2
            seen = []
            async with client.chat("async hello") as events:
                async for event in events:
                    seen.append((event.type, time.monotonic()))
            assert [t for t, _ in seen] == ["typing", "message", "done"]
            assert seen[1][1] - seen[0][1] > 0.05
            assert (await client.messages(limit=2))[0].content == "async hello"
            assert (await client.probe()).api is ApiStatus.OK
            assert (await client.probe_capabilities()).full
            with pytest.raises(RuntimeProblem) as info:
                async for _ in client.chat(""):
                    pass
            assert info.value.kind is ProblemKind.BAD_STATUS and info.value.status == 400

    asyncio.run(main())


def test_proxy_environment_is_ignored(standin, monkeypatch):
    # The client sends traffic only to its base URL, whatever the environment says.
    dead = f"http://127.0.0.1:{closed_port()}"
    for name in ("HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.setenv(name, dead)
    for name in ("NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    with RuntimeClient(standin.url) as client:
        assert client.probe().api is ApiStatus.OK


# =========================================================================== stand-in: faults


def test_fault_500(standin, fault):
    fault("500")
    with RuntimeClient(standin.url) as client:
        for call in (client.health, client.state, client.tasks, client.messages):
            with pytest.raises(RuntimeProblem) as info:
                call()
            assert info.value.kind is ProblemKind.BAD_STATUS and info.value.status == 500
            assert "standin fault: 500" in str(info.value)
        with pytest.raises(RuntimeProblem) as info:
            list(client.chat("hi"))
        assert info.value.kind is ProblemKind.BAD_STATUS and info.value.status == 500
        probe = client.probe()
        assert probe.api is ApiStatus.ERROR and probe.kind is ProblemKind.BAD_STATUS
        assert "HTTP 500" in probe.detail


def test_fault_malformed(standin, fault):
    fault("malformed")
    with RuntimeClient(standin.url) as client:
        for call in (client.health, client.state, client.tasks, client.messages):
            with pytest.raises(RuntimeProblem) as info:
                call()
            assert info.value.kind is ProblemKind.NOT_JSON
            assert len(str(info.value)) < 200
        probe = client.probe()
        assert probe.api is ApiStatus.ERROR and probe.kind is ProblemKind.NOT_JSON


def test_fault_unhealthy(standin, fault):
    fault("unhealthy")
    with RuntimeClient(standin.url) as client:
        with pytest.raises(RuntimeProblem) as info:
            client.health()
        assert info.value.kind is ProblemKind.BAD_STATUS and info.value.status == 503
        probe = client.probe()
        assert probe.api is ApiStatus.ERROR and "503" in probe.detail
        assert "unhealthy" in probe.detail
        assert client.state().db_exists  # the other routes still answer


def test_fault_partial_is_an_older_runtime(standin, fault):
    fault("partial")
    with RuntimeClient(standin.url) as client:
        caps = client.probe_capabilities()
        assert caps == Capabilities(
            health=True, state=False, tasks=False, messages=False, chat=True
        )
        for call in (client.state, client.tasks, client.messages):
            with pytest.raises(RuntimeProblem) as info:
                call()
            assert info.value.kind is ProblemKind.ABSENT and info.value.status == 404
        assert client.probe().api is ApiStatus.OK
        assert [e.type for e in client.chat("still here")] == ["typing", "message", "done"]


def test_fault_slow_within_and_beyond_budget(standin, fault):
    fault("slow 400")
    with RuntimeClient(standin.url) as client:
        probe = client.probe()
        assert probe.api is ApiStatus.OK and probe.latency_ms >= 350
    with RuntimeClient(standin.url, probe_timeout=Timeouts(connect=1, read=0.15)) as client:
        started = time.monotonic()
        probe = client.probe()
        assert probe.api is ApiStatus.UNRESPONSIVE and probe.kind is ProblemKind.TIMEOUT
        assert probe.latency_ms is None
        assert time.monotonic() - started < 0.15 + 1.0


def test_fault_hang_probe_returns_within_budget(standin, fault):
    fault("hang")
    with RuntimeClient(standin.url, probe_timeout=FAST) as client:
        started = time.monotonic()
        probe = client.probe()
        elapsed = time.monotonic() - started
        assert probe.api is ApiStatus.UNRESPONSIVE, probe
        assert 0.4 <= elapsed < 0.5 + 1.0, elapsed
        with pytest.raises(RuntimeProblem) as info:
            client.tasks()
        assert info.value.kind is ProblemKind.TIMEOUT


def test_fault_hang_with_default_budget(standin, fault):
    fault("hang")
    with RuntimeClient(standin.url) as client:
        started = time.monotonic()
        probe = client.probe()
        elapsed = time.monotonic() - started
        assert probe.api is ApiStatus.UNRESPONSIVE
        assert elapsed < 2.0 + 1.5, elapsed


def test_fault_hang_async_probes_run_concurrently(standin, fault):
    fault("hang")

    async def main():
        clients = [AsyncRuntimeClient(standin.url, probe_timeout=FAST) for _ in range(4)]
        clients.append(AsyncRuntimeClient(f"http://127.0.0.1:{closed_port()}", probe_timeout=FAST))
        started = time.monotonic()
        probes = await asyncio.gather(*(c.probe() for c in clients))
        elapsed = time.monotonic() - started
        for c in clients:
            await c.aclose()
        return probes, elapsed

    probes, elapsed = asyncio.run(main())
    assert [p.api for p in probes] == [ApiStatus.UNRESPONSIVE] * 4 + [ApiStatus.DOWN]
    assert elapsed < 0.5 + 1.0, elapsed  # concurrently, not 4 x 0.5 s


def test_fault_exit_then_down(tmp_path):
    server = Standin(tmp_path / "exiting")
    try:
        server.fault("exit 3")
        with RuntimeClient(server.url, probe_timeout=FAST) as client:
            with pytest.raises(RuntimeProblem) as info:
                client.health()
            # The process died while our request was in flight: the connection dropped.
            assert info.value.kind is ProblemKind.STREAM_ERROR, info.value
            assert server.proc.wait(5) == 3
            probe = client.probe()
            assert probe.api is ApiStatus.DOWN and probe.kind is ProblemKind.REFUSED
            with pytest.raises(RuntimeProblem) as info:
                client.probe_capabilities()
            assert info.value.kind is ProblemKind.REFUSED
    finally:
        server.stop()


# =========================================================================== refused, silent peers


def test_refused_port():
    url = f"http://127.0.0.1:{closed_port()}"
    with RuntimeClient(url) as client:
        started = time.monotonic()
        probe = client.probe()
        assert probe.api is ApiStatus.DOWN and probe.latency_ms is None
        assert "refused" in probe.detail
        assert time.monotonic() - started < 1.0
        for call in (client.health, client.state, client.tasks, client.messages):
            with pytest.raises(RuntimeProblem) as info:
                call()
            assert info.value.kind is ProblemKind.REFUSED
        with pytest.raises(RuntimeProblem) as info:
            next(client.chat("hi"))
        assert info.value.kind is ProblemKind.REFUSED

    async def main():
        async with AsyncRuntimeClient(url) as client:
            return await client.probe()

    assert asyncio.run(main()).api is ApiStatus.DOWN


def test_silent_peer_probe_returns_within_budget():
    def never_answer(server, conn, head):
        server.wait_client_close(conn, 30)

    with RawServer(never_answer) as server:
        with RuntimeClient(server.url, probe_timeout=Timeouts(connect=1, read=0.3)) as client:
            started = time.monotonic()
            probe = client.probe()
            elapsed = time.monotonic() - started
        assert probe.api is ApiStatus.UNRESPONSIVE
        assert elapsed < 0.3 + 1.0, elapsed


def test_total_budget_bounds_a_trickling_answer():
    def trickle(server, conn, head):
        conn.sendall(
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n"
        )
        for _ in range(100):
            conn.sendall(b" ")
            time.sleep(0.1)

    with RawServer(trickle) as server:
        budget = Timeouts(connect=1, read=0.5, total=0.6)
        with RuntimeClient(server.url, probe_timeout=budget) as client:
            started = time.monotonic()
            with pytest.raises(RuntimeProblem) as info:
                client.state()
            assert info.value.kind is ProblemKind.TIMEOUT
            assert time.monotonic() - started < 0.6 + 0.5 + 1.0


def test_redirect_is_not_followed():
    def redirect(server, conn, head):
        conn.sendall(
            b"HTTP/1.1 302 Found\r\nLocation: http://127.0.0.2:1/elsewhere\r\n"
            b"Content-Length: 0\r\nConnection: close\r\n\r\n"
        )

    with RawServer(redirect) as server, RuntimeClient(server.url) as client:
        with pytest.raises(RuntimeProblem) as info:
            client.health()
        assert info.value.kind is ProblemKind.BAD_STATUS and info.value.status == 302


def test_wrong_shape_from_server():
    def shaped(server, conn, head):
        body = json.dumps({"tasks": [{**GOOD_TASK, "status": "sleeping"}], "runLogs": []}).encode()
        conn.sendall(
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
            b"Content-Length: %d\r\nConnection: close\r\n\r\n%s" % (len(body), body)
        )

    with RawServer(shaped) as server, RuntimeClient(server.url) as client:
        with pytest.raises(RuntimeProblem) as info:
            client.tasks()
        assert info.value.kind is ProblemKind.BAD_SHAPE and info.value.field == "tasks[0].status"
        probe = client.probe()  # /api/health gets the same body: no `status` field
        assert probe.api is ApiStatus.ERROR and probe.kind is ProblemKind.BAD_SHAPE


# =========================================================================== chat: drops, silence, cancellation


def test_chat_dropped_mid_stream():
    def drop(server, conn, head):
        conn.sendall(SSE_HEAD + chunk(b"event: typing\ndata: {}\n\n"))
        time.sleep(0.1)
        conn.shutdown(socket.SHUT_RDWR)
        conn.close()

    with RawServer(drop) as server, RuntimeClient(server.url) as client:
        events = []
        with pytest.raises(RuntimeProblem) as info:
            for event in client.chat("hi"):
                events.append(event.type)
        assert events == ["typing"]
        assert info.value.kind is ProblemKind.STREAM_ERROR, info.value


def test_chat_ended_without_done():
    def end_early(server, conn, head):
        conn.sendall(SSE_HEAD + chunk(b"event: typing\ndata: {}\n\n") + b"0\r\n\r\n")

    with RawServer(end_early) as server, RuntimeClient(server.url) as client:
        with pytest.raises(RuntimeProblem) as info:
            list(client.chat("hi"))
        assert info.value.kind is ProblemKind.STREAM_ERROR
        assert "before the done event" in str(info.value)


def test_chat_not_an_event_stream():
    def json_reply(server, conn, head):
        conn.sendall(
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
            b"Content-Length: 2\r\nConnection: close\r\n\r\n{}"
        )

    with RawServer(json_reply) as server, RuntimeClient(server.url) as client:
        with pytest.raises(RuntimeProblem) as info:
            list(client.chat("hi"))
        assert info.value.kind is ProblemKind.BAD_SHAPE and info.value.field == "content-type"


def test_chat_silence_beyond_read_budget():
    def silent(server, conn, head):
        conn.sendall(SSE_HEAD + chunk(b"event: typing\ndata: {}\n\n"))
        server.wait_client_close(conn, 30)

    with RawServer(silent) as server:
        with RuntimeClient(server.url, chat_timeout=Timeouts(connect=1, read=0.4)) as client:
            stream = client.chat("hi")
            assert next(stream).type == "typing"
            started = time.monotonic()
            with pytest.raises(RuntimeProblem) as info:
                next(stream)
            assert info.value.kind is ProblemKind.TIMEOUT
            assert 0.3 < time.monotonic() - started < 0.4 + 1.0
        assert server.closed.wait(5)


def test_chat_events_split_across_tcp_writes():
    frames = b'event: typing\r\ndata: {}\r\n\r\n: ping\r\nevent: message\r\ndata: {"te'

    def awkward(server, conn, head):
        conn.sendall(SSE_HEAD + chunk(frames))
        time.sleep(0.2)
        conn.sendall(chunk(b'xt": "caf\xc3'))
        time.sleep(0.05)
        conn.sendall(chunk(b'\xa9"}\r') + chunk(b"\n\r\nevent: done\ndata: {}\n\n") + b"0\r\n\r\n")

    with RawServer(awkward) as server, RuntimeClient(server.url) as client:
        seen = [(e.type, e.text, time.monotonic()) for e in client.chat("hi")]
        assert [(t, x) for t, x, _ in seen] == [
            ("typing", None),
            ("message", "caf\u00e9"),
            ("done", None),
        ]
        assert seen[1][2] - seen[0][2] > 0.15


def test_chat_cancellation_closes_the_connection():
    def endless(server, conn, head):
        conn.sendall(SSE_HEAD + chunk(b"event: typing\ndata: {}\n\n"))
        server.wait_client_close(conn, 10)

    with RawServer(endless) as server, RuntimeClient(server.url) as client:
        for event in client.chat("hi"):
            assert event.type == "typing"
            break
        assert server.closed.wait(3), "the server never saw the connection close"
        assert pool_size(client) == 0

    with RawServer(endless) as server, RuntimeClient(server.url) as client:
        with client.chat("hi") as stream:
            assert next(stream).type == "typing"
        assert server.closed.wait(3)
        assert pool_size(client) == 0


def test_chat_cancellation_async():
    def endless(server, conn, head):
        conn.sendall(SSE_HEAD + chunk(b"event: typing\ndata: {}\n\n"))
        server.wait_client_close(conn, 10)

    async def leave_early(url):
        async with AsyncRuntimeClient(url) as client:
            async with client.chat("hi") as events:
                async for event in events:
                    assert event.type == "typing"
                    break
            return pool_size(client)

    async def cancel_task(url):
        async with AsyncRuntimeClient(url) as client:
            got_typing = asyncio.Event()

            async def consume():
                async for event in client.chat("hi"):
                    got_typing.set()

            task = asyncio.create_task(consume())
            await asyncio.wait_for(got_typing.wait(), 5)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            return pool_size(client)

    for scenario in (leave_early, cancel_task):
        with RawServer(endless) as server:
            assert asyncio.run(scenario(server.url)) == 0
            assert server.closed.wait(3), scenario.__name__


def test_standin_chat_cancellation_leaves_no_connection(standin):
    with RuntimeClient(standin.url) as client:
        for event in client.chat("cancel me"):
            assert event.type == "typing"
            break
        assert pool_size(client) == 0
        assert client.probe().ok  # the client is still usable
