"""The worker WebSocket: positions in, the route pushed when it changes, limits and auth."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from starlette.testclient import WebSocketDenialResponse
from starlette.websockets import WebSocketDisconnect

from tests.api.conftest import CENTER, OPS, OS, PROBLEM, north, order_body

STREAM = "/v1/workers/w1/stream"


@pytest.fixture
def ready(sync_client: TestClient) -> TestClient:
    """Community c1 with courier w1 at a fresh position."""
    c = sync_client
    assert c.put("/v1/communities/c1", json={"name": "R", "center": CENTER}, headers=OPS).is_success
    w = {"kind": "courier", "community_id": "c1"}
    assert c.put("/v1/workers/w1", json=w, headers=OPS).is_success
    fix = c.post(
        "/v1/workers/w1/location", json=north(10), headers={"Authorization": "Bearer app-k"}
    )
    assert fix.is_success
    return c


def test_route_is_pushed_whenever_it_changes(ready: TestClient) -> None:
    """The current route on connect, acks for fixes, and new routes after dispatch and cancel."""
    with ready.websocket_connect(f"{STREAM}?token=app-k") as ws:
        assert ws.receive_json() == {"type": "route", "worker_id": "w1", "stops": []}
        ws.send_json({**north(20), "ts": "2026-01-01T00:00:00Z"})
        assert ws.receive_json() == {"type": "ack"}
        order = ready.post("/v1/orders", json=order_body(), headers=OS).json()
        ready.post("/v1/communities/c1/dispatch", headers=OPS)
        pushed = ws.receive_json()  # no message from the app needed
        assert pushed["type"] == "route"
        assert [(s["kind"], s["entity_id"]) for s in pushed["stops"]] == [
            ("pickup", order["id"]),
            ("dropoff", order["id"]),
        ]
        ready.post(f"/v1/orders/{order['id']}/cancel", headers=OS)
        assert ws.receive_json() == {"type": "route", "worker_id": "w1", "stops": []}
    position = ready.get("/v1/workers/w1", headers=OPS).json()["position"]
    assert position["lat"] == pytest.approx(north(20)["lat"])


def test_bad_messages_get_errors_and_the_socket_stays(ready: TestClient) -> None:
    """Invalid JSON, NaN, lat 95 and points outside the fence are answered, not fatal."""
    with ready.websocket_connect(STREAM, headers={"Authorization": "Bearer app-k"}) as ws:
        ws.receive_json()
        for text in ("not json", '{"lat": NaN, "lng": 1}', '{"lat": 95, "lng": 1}'):
            ws.send_text(text)
            reply: dict[str, Any] = ws.receive_json()
            assert reply["type"] == "error" and reply["errors"]
        ws.send_json(north(9000))
        assert "outside" in ws.receive_json()["detail"]
        ws.send_json(north(30))
        assert ws.receive_json() == {"type": "ack"}


@pytest.mark.parametrize(
    ("url", "status"),
    [
        (STREAM, 401),
        (f"{STREAM}?token=wrong", 401),
        (f"{STREAM}?token=os-k", 403),
        ("/v1/workers/w2/stream?token=w1-k", 403),
        ("/v1/workers/ghost/stream?token=app-k", 404),
    ],
)
def test_handshake_is_refused_with_a_problem(ready: TestClient, url: str, status: int) -> None:
    """Bad keys 401, wrong role or worker 403, unknown worker 404: HTTP problems, no socket."""
    with pytest.raises(WebSocketDenialResponse) as refused, ready.websocket_connect(url):
        pass  # pragma: no cover - the handshake fails
    assert refused.value.status_code == status
    assert refused.value.headers["content-type"].startswith(PROBLEM)
    assert refused.value.json()["status"] == status


@pytest.mark.parametrize("binary", [False, True])
def test_frames_over_64_kib_close_with_1009(ready: TestClient, binary: bool) -> None:
    """A 64 KiB frame is read (and refused as JSON); one byte more closes the socket with 1009."""
    with ready.websocket_connect(f"{STREAM}?token=app-k") as ws:
        ws.receive_json()
        ws.send_text(" " * (64 * 1024))
        assert ws.receive_json()["type"] == "error"
        if binary:
            ws.send_bytes(b" " * (64 * 1024 + 1))
        else:
            ws.send_text(" " * (64 * 1024 + 1))
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive_json()
        assert closed.value.code == 1009
