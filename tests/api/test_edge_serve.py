"""The hardened edge of `dispatch serve`, through a real socket: timeouts, refusals, logs.

A server with one-second header and body timeouts: a half-sent head or body is
answered 408, an unparseable request 400 and an oversize head 431, all as
problem+json; a WebSocket key passed as ``?token=`` never reaches the log.
"""

from __future__ import annotations

import json
import os
import select
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from websockets.sync.client import connect

from tests.api.conftest import CENTER, PROBLEM
from tests.polling import until

ROOT = Path(__file__).resolve().parents[2]
KEYS = "ops-k=ops,app-k=courier-app"
OPS = {"Authorization": "Bearer ops-k"}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[int, list[bytes]]]:
    """The server's port and its log lines so far (drained by a thread)."""
    port = _free_port()
    env = {
        **os.environ,
        "DISPATCH_API_KEYS": KEYS,
        "DISPATCH_TICK_ENABLED": "false",
        "DISPATCH_HEADER_TIMEOUT_S": "1",
        "DISPATCH_BODY_TIMEOUT_S": "1",
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "api", "serve", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    assert proc.stdout is not None
    lines: list[bytes] = []
    try:
        deadline = time.monotonic() + 60
        seen = b""
        while b"Uvicorn running on" not in seen:  # listening, not only started
            left = deadline - time.monotonic()
            if left <= 0 or proc.poll() is not None:
                raise RuntimeError(f"serve did not start: {seen[-3000:].decode(errors='replace')}")
            if select.select([proc.stdout], [], [], left)[0]:
                seen += os.read(proc.stdout.fileno(), 65536)
        lines.extend(seen.splitlines())
        stdout = proc.stdout
        threading.Thread(target=lambda: lines.extend(stdout), daemon=True).start()
        yield port, lines
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:  # pragma: no cover - a stuck server
            proc.kill()
            proc.wait()
        proc.stdout.close()


def _exchange(port: int, data: bytes, *, wait_s: float = 10.0) -> tuple[int, dict[str, str], dict]:
    """Send raw bytes, read the answer until the server closes; status, headers, JSON body."""
    with socket.create_connection(("127.0.0.1", port), timeout=wait_s) as s:
        s.sendall(data)
        raw = b""
        while chunk := s.recv(65536):
            raw += chunk
    head, _, body = raw.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    headers = {k.lower(): v.strip() for k, _, v in (h.partition(":") for h in header_lines)}
    return int(status_line.split()[1]), headers, json.loads(body)


def test_a_half_sent_head_is_answered_408(server: tuple[int, list[bytes]]) -> None:
    """A connection that never finishes its headers is closed with a 408 problem."""
    port, _ = server
    start = time.monotonic()
    status, headers, body = _exchange(port, b"GET /v1/communities HTTP/1.1\r\nHost: x\r\n")
    assert status == 408 and headers["content-type"] == PROBLEM and body["status"] == 408
    assert time.monotonic() - start < 8  # the server closed it, not our socket timeout


def test_a_silent_connection_is_closed_with_408(server: tuple[int, list[bytes]]) -> None:
    """Connecting and sending nothing at all is timed out the same way."""
    port, _ = server
    status, _, body = _exchange(port, b"")
    assert status == 408 and body["code"] == "request_timeout"


def test_a_half_sent_body_is_answered_408(server: tuple[int, list[bytes]]) -> None:
    """Headers promise 100 bytes, 10 arrive: the app answers 408 once the body timeout passes."""
    port, _ = server
    head = (
        b"PUT /v1/communities/c1 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ops-k\r\n"
        b"Content-Type: application/json\r\nContent-Length: 100\r\n\r\n"
    )
    status, headers, body = _exchange(port, head + b'{"name": "')
    assert status == 408 and headers["content-type"] == PROBLEM and body["status"] == 408


@pytest.mark.parametrize(
    ("data", "status"),
    [
        (b"NONSENSE\r\n\r\n", 400),
        (b"GET /" + b"a" * 10_000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", 414),
        (b"GET /" + b"a" * 20_000 + b" HTTP/1.1\r\nHost: x\r\n", 431),
        (b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"b" * 20_000 + b"\r\n\r\n", 431),
    ],
)
def test_requests_refused_below_the_app_are_problems(
    server: tuple[int, list[bytes]], data: bytes, status: int
) -> None:
    """Unparseable requests (400), long targets (414) and heads over the size limit (431,
    whole or still arriving) get problem+json."""
    port, _ = server
    got, headers, body = _exchange(port, data)
    assert got == status and headers["content-type"] == PROBLEM and body["status"] == status


def test_websocket_keys_in_the_query_never_reach_the_log(server: tuple[int, list[bytes]]) -> None:
    """uvicorn logs each WebSocket with its query string: the key is redacted from it."""
    port, lines = server
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30.0) as c:
        body = {"name": "ws", "center": CENTER}
        assert c.put("/v1/communities/c2", json=body, headers=OPS).status_code == 200
        w = {"kind": "courier", "community_id": "c2"}
        assert c.put("/v1/workers/w2", json=w, headers=OPS).status_code == 200
    with connect(f"ws://127.0.0.1:{port}/v1/workers/w2/stream?token=app-k") as ws:
        assert json.loads(ws.recv(timeout=30))["type"] == "route"
    assert until(lambda: any(b"token=[redacted]" in line for line in lines), 10)
    assert not any(b"app-k" in line for line in lines)
