"""`dispatch serve` as a real process on a free loopback port: one order from quote to door."""

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
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect

from tests.api.conftest import CENTER, PROBLEM, north, order_body

ROOT = Path(__file__).resolve().parents[2]
KEYS = "ops-k=ops,os-k=order-service,app-k=courier-app"
OPS = {"Authorization": "Bearer ops-k"}
OS = {"Authorization": "Bearer os-k"}
APP = {"Authorization": "Bearer app-k"}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[str, list[bytes]]]:
    """The server's base URL and its log lines so far (drained by a thread)."""
    port = _free_port()
    env = {**os.environ, "DISPATCH_API_KEYS": KEYS, "DISPATCH_TICK_ENABLED": "false"}
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
        # Wait for uvicorn's "startup complete" log line: event-driven and bounded.
        deadline = time.monotonic() + 60
        seen = b""
        while b"Application startup complete" not in seen:
            left = deadline - time.monotonic()
            if left <= 0 or proc.poll() is not None:
                raise RuntimeError(f"serve did not start: {seen[-3000:].decode(errors='replace')}")
            if select.select([proc.stdout], [], [], left)[0]:
                seen += os.read(proc.stdout.fileno(), 65536)
        lines.extend(seen.splitlines())
        stdout = proc.stdout
        threading.Thread(target=lambda: lines.extend(stdout), daemon=True).start()
        yield f"127.0.0.1:{port}", lines
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:  # pragma: no cover - a stuck server
            proc.kill()
            proc.wait()
        proc.stdout.close()


def test_quote_order_tick_pickup_delivery_over_http(server: tuple[str, list[bytes]]) -> None:
    """The whole lifecycle through a real socket and uvicorn, with JSON logs carrying ids."""
    address, lines = server
    with httpx.Client(base_url=f"http://{address}", timeout=30.0) as c:
        assert c.get("/healthz").json() == {"status": "ok"}
        assert c.get("/readyz").status_code == 200
        body = {"name": "e2e", "center": CENTER, "solver_budget_s": 0.5}
        assert c.put("/v1/communities/c1", json=body, headers=OPS).status_code == 200
        w = {"kind": "courier", "community_id": "c1"}
        assert c.put("/v1/workers/w1", json=w, headers=OPS).status_code == 200
        assert c.post("/v1/workers/w1/location", json=north(5), headers=APP).status_code == 200
        quote = c.post("/v1/quotes", json=order_body(), headers=OS).json()
        r = c.post("/v1/orders", json=order_body(), headers={**OS, "Idempotency-Key": "e2e"})
        assert r.status_code == 201 and r.json()["price"]["total"] == quote["total"]
        order = r.json()
        tick = c.post("/v1/communities/c1/dispatch", headers=OPS).json()
        assert tick["assigned"] == 1
        for kind in ("picked_up", "delivered"):
            ev = {"type": kind, "worker_id": "w1"}
            r = c.post(f"/v1/orders/{order['id']}/events", json=ev, headers=APP)
            assert r.status_code == 200, r.text
        done = c.get(f"/v1/orders/{order['id']}", headers={**OS, "X-Request-ID": "trace-me"})
        assert done.json()["state"] == "delivered"
        assert "dispatch_tick_duration_seconds_count 1.0" in c.get("/metrics").text
    logged = [json.loads(line) for line in lines if line.startswith(b"{")]
    assert any(e.get("request_id") == "trace-me" and e.get("status") == 200 for e in logged)


def test_oversize_body_is_answered_413_over_a_socket(server: tuple[str, list[bytes]]) -> None:
    """A body over 1 MiB gets a 413 problem, not a dropped connection."""
    address, _ = server
    with httpx.Client(base_url=f"http://{address}", timeout=30.0) as c:
        big = b'{"name": "' + b"x" * (1024 * 1024) + b'"}'
        r = c.put(
            "/v1/communities/c9", content=big, headers={**OPS, "content-type": "application/json"}
        )
        assert r.status_code == 413 and r.headers["content-type"].startswith(PROBLEM)
        assert r.json()["status"] == 413
        assert c.get("/healthz").status_code == 200


def test_websocket_frames_are_capped_by_the_server(server: tuple[str, list[bytes]]) -> None:
    """Through uvicorn: fixes are acked, a frame over 64 KiB closes with 1009, bad keys get 401."""
    address, _ = server
    with httpx.Client(base_url=f"http://{address}", timeout=30.0) as c:
        body = {"name": "ws", "center": CENTER}
        assert c.put("/v1/communities/c2", json=body, headers=OPS).status_code == 200
        w = {"kind": "courier", "community_id": "c2"}
        assert c.put("/v1/workers/w2", json=w, headers=OPS).status_code == 200
    with connect(f"ws://{address}/v1/workers/w2/stream", additional_headers=APP) as ws:
        assert json.loads(ws.recv(timeout=30))["type"] == "route"
        ws.send(json.dumps(north(10)))
        assert json.loads(ws.recv(timeout=30)) == {"type": "ack"}
        ws.send(" " * (64 * 1024 + 1))
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv(timeout=30)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1009
    with pytest.raises(InvalidStatus) as refused:
        connect(f"ws://{address}/v1/workers/w2/stream?token=wrong")
    assert refused.value.response.status_code == 401
