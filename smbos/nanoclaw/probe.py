"""The health probe of `smbos status`: one `GET /api/health` per agent, concurrently, on the
standard library's `http.client`, so that `smbos status` pays neither for httpx nor for pydantic at
start-up (together more than `docker compose ps` takes in all). A well-formed answer is read here;
any other is handed to `smbos.nanoclaw._shapes.parse_health` (imported then, for that reason), so a
bad shape is named exactly as the runtime client names it.
"""

from __future__ import annotations

import http.client
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from smbos.nanoclaw.contract import (
    HEALTH,
    MAX_BODY_BYTES,
    PROBE_TIMEOUTS,
    Probe,
    ProblemKind,
    RuntimeProblem,
    Timeouts,
    check_status,
    deadline_of,
    decode_json,
    one_line,
    over,
    probe_result,
    snippet,
    too_large,
    total_exceeded,
)

if TYPE_CHECKING:
    from smbos.nanoclaw._shapes import Health

HEALTH_ROUTE = HEALTH.label


@dataclass(frozen=True)
class _Status:
    """A well-formed health answer (`Health` without pydantic)."""

    status: str

    @property
    def ok(self) -> bool:
        return self.status == "ok"


def _health(data: Any) -> _Status | Health:
    if isinstance(data, dict) and isinstance(data.get("status"), str):
        return _Status(data["status"])
    from smbos.nanoclaw._shapes import parse_health  # raises the exact `bad_shape` problem

    return parse_health(data, HEALTH_ROUTE)


def _transport_problem(exc: BaseException, connected: bool, budget: Timeouts) -> RuntimeProblem:
    cause = one_line(str(exc)) or type(exc).__name__
    if isinstance(exc, TimeoutError):  # socket.timeout is TimeoutError
        if not connected:
            return RuntimeProblem(ProblemKind.TIMEOUT, HEALTH_ROUTE, f"connect timed out ({cause})")
        return RuntimeProblem(
            ProblemKind.TIMEOUT, HEALTH_ROUTE, f"no answer after {budget.read:g} s (read timed out)"
        )
    if not connected:
        detail = (
            "connection refused"
            if isinstance(exc, ConnectionRefusedError)
            else f"cannot connect ({snippet(cause)})"
        )
        return RuntimeProblem(ProblemKind.REFUSED, HEALTH_ROUTE, detail)
    return RuntimeProblem(
        ProblemKind.STREAM_ERROR,
        HEALTH_ROUTE,
        f"connection dropped before the answer was complete ({snippet(cause)})",
    )


def probe_one(host: str, port: int, budget: Timeouts = PROBE_TIMEOUTS) -> Probe:
    """`GET /api/health` of the runtime at host:port, as a `Probe` (never raises)."""
    started = time.perf_counter()
    deadline = deadline_of(budget)
    connection = http.client.HTTPConnection(host, port, timeout=budget.connect)
    connected = False
    try:
        connection.connect()
        connected = True
        connection.sock.settimeout(budget.read)
        connection.request(
            "GET",
            "/api/health",
            headers={"Accept": "application/json", "User-Agent": "smbos-runtime-client"},
        )
        reply = connection.getresponse()
        body = bytearray()
        while chunk := reply.read1(65536):
            body += chunk
            if len(body) > MAX_BODY_BYTES:
                raise too_large(HEALTH_ROUTE)
            if over(deadline):
                raise total_exceeded(HEALTH_ROUTE, budget)
        check_status(reply.status, bytes(body), HEALTH_ROUTE)
        health = _health(decode_json(bytes(body), HEALTH_ROUTE))
    except RuntimeProblem as problem:
        return probe_result(None, problem, time.perf_counter() - started)
    except (OSError, http.client.HTTPException) as exc:
        failure = _transport_problem(exc, connected, budget)
        return probe_result(None, failure, time.perf_counter() - started)
    finally:
        connection.close()
    return probe_result(health, None, time.perf_counter() - started)


class Probes:
    """Health probes of several addresses, each on its own thread, started at once; `result`
    waits for that one address only (so a caller can ask the engine meanwhile)."""

    def __init__(self, addresses: list[tuple[str, int]], budget: Timeouts = PROBE_TIMEOUTS):
        self.budget = budget
        self._results: dict[tuple[str, int], Probe] = {}
        self._threads: dict[tuple[str, int], threading.Thread] = {}
        self.start(addresses)

    def start(self, addresses: list[tuple[str, int]]) -> None:
        """Start probing the addresses not probed yet."""
        for address in dict.fromkeys(addresses):
            if address not in self._threads:
                thread = threading.Thread(
                    target=self._run, args=(address,), daemon=True, name=f"smbos-probe-{address[1]}"
                )
                self._threads[address] = thread
                thread.start()

    def _run(self, address: tuple[str, int]) -> None:
        self._results[address] = probe_one(*address, self.budget)

    def result(self, address: tuple[str, int]) -> Probe:
        self.start([address])
        self._threads[address].join()
        return self._results[address]
