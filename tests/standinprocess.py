"""The NanoClaw stand-in (tests/standin/) as a child process on a free 127.0.0.1 port, in its own
instance folder, without an engine: for the fast tier (the Docker tier runs it in its image)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import time
from pathlib import Path

import httpx

STANDIN = Path(__file__).resolve().parent / "standin" / "src" / "index.js"
NODE = "/usr/bin/node"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Standin:
    """The NanoClaw stand-in as a child process, in its own instance folder."""

    def __init__(
        self,
        folder: Path,
        env: dict[str, str] | None = None,
        store: dict | None = None,
        reply_delay_ms: int = 100,
    ):
        assert Path(NODE).exists(), "Node is required at /usr/bin/node"
        assert STANDIN.exists(), f"stand-in missing: {STANDIN}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / ".env").write_text("ANTHROPIC_API_KEY=sk-test-placeholder\n")
        if store is not None:
            (folder / "store").mkdir(exist_ok=True)
            (folder / "store" / "messages.db").write_text(json.dumps(store))
        self.folder = folder
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        full_env = {k: v for k, v in os.environ.items() if k not in ("STANDIN_FAULT",)}
        full_env.update(
            {
                "HTTP_PORT": str(self.port),
                "STANDIN_CONTAINERS": "0",
                "STANDIN_REPLY_DELAY_MS": str(reply_delay_ms),
                **(env or {}),
            }
        )
        self.log = open(folder / "standin.log", "wb")
        self.proc = subprocess.Popen(
            [NODE, str(STANDIN)],
            cwd=folder,
            env=full_env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        self._wait_ready()

    def _wait_ready(self, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        with httpx.Client(trust_env=False, timeout=1.0) as http:
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    raise AssertionError(
                        f"stand-in exited {self.proc.returncode}: {self.log_text()[-2000:]}"
                    )
                try:
                    if http.get(f"{self.url}/api/health").status_code == 200:
                        return
                except httpx.HTTPError:
                    pass
                time.sleep(0.05)
        self.stop()
        raise AssertionError(f"stand-in not ready: {self.log_text()[-2000:]}")

    def fault(self, text: str | None) -> None:
        path = self.folder / ".standin-fault"
        if text is None:
            path.unlink(missing_ok=True)
        else:
            path.write_text(text + "\n")

    def log_text(self) -> str:
        self.log.flush()
        return (self.folder / "standin.log").read_text(errors="replace")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.log.close()
