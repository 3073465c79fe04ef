"""Lifecycle over HTTP: busy status, arrivals, proof of delivery, retiring workers, communities."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from starlette.testclient import WebSocketDenialResponse

from tests.api.conftest import (
    APP,
    CENTER,
    OPS,
    OS,
    PROBLEM,
    assert_problem,
    north,
    order_body,
)

pytestmark = pytest.mark.anyio


async def _assigned_order(client: httpx.AsyncClient) -> str:
    """An order dispatched to courier w1; its id."""
    r = await client.post("/v1/orders", json=order_body(), headers=OS)
    assert r.status_code == 201, r.text
    tick = await client.post("/v1/communities/c1/dispatch", headers=OPS)
    assert tick.json()["assigned"] == 1, tick.text
    return r.json()["id"]  # type: ignore[no-any-return]


async def _report(
    client: httpx.AsyncClient, order_id: str, kind: str, **extra: Any
) -> httpx.Response:
    body = {"type": kind, "worker_id": "w1", **extra}
    return await client.post(f"/v1/orders/{order_id}/events", json=body, headers=APP)


async def _status(client: httpx.AsyncClient, worker_id: str = "w1") -> str:
    r = await client.get(f"/v1/workers/{worker_id}", headers=OPS)
    assert r.status_code == 200, r.text
    return r.json()["status"]  # type: ignore[no-any-return]


async def test_a_delivery_with_arrivals_and_proof(client: httpx.AsyncClient, courier: str) -> None:
    """busy while carrying; arrivals stamped and announced; proof_ref on the order and event."""
    oid = await _assigned_order(client)
    assert await _status(client) == "busy"
    workers = (await client.get("/v1/communities/c1/workers", headers=OPS)).json()
    assert [w["status"] for w in workers] == ["busy"]
    assert (await _report(client, oid, "arrived_at_pickup")).json()["arrived_at_pickup"]
    again = await _report(client, oid, "arrived_at_pickup")
    assert again.status_code == 200 and again.json()["state"] == "assigned"
    early = await _report(client, oid, "arrived_at_dropoff")
    assert assert_problem(early, 409)["code"] == "conflict"
    wrong = await _report(client, oid, "picked_up", proof_ref="photo-1")
    assert "delivered report only" in assert_problem(wrong, 422)["detail"]
    assert (await _report(client, oid, "picked_up")).status_code == 200
    assert (await _report(client, oid, "arrived_at_dropoff")).status_code == 200
    long = await _report(client, oid, "delivered", proof_ref="p" * 257)
    assert any(e["loc"][-1] == "proof_ref" for e in assert_problem(long, 422)["errors"])
    done = await _report(client, oid, "delivered", proof_ref="pod/2026/o1.jpg")
    assert done.status_code == 200, done.text
    order = (await client.get(f"/v1/orders/{oid}", headers=OS)).json()
    assert order["proof_ref"] == "pod/2026/o1.jpg" and order["delivered_at"]
    assert order["arrived_at_pickup"] <= order["arrived_at_dropoff"] <= order["delivered_at"]
    feed = (await client.get("/v1/events", params={"limit": 1000}, headers=OS)).json()["events"]
    mine = [e for e in feed if e["entity_id"] == oid]
    assert [e["type"] for e in mine] == [
        "order.created",
        "order.assigned",
        "order.arrived_at_pickup",
        "order.picked_up",
        "order.arrived_at_dropoff",
        "order.delivered",
    ]
    assert mine[-1]["data"]["proof_ref"] == "pod/2026/o1.jpg"
    assert await _status(client) == "available"


async def test_a_worker_retires_only_without_open_work_and_then_stays_out(
    client: httpx.AsyncClient, courier: str
) -> None:
    """409 open_work while it carries an order; afterwards retired: positions and updates 409."""
    oid = await _assigned_order(client)
    r = await client.post("/v1/workers/w1/retire", headers=OPS)
    assert assert_problem(r, 409)["code"] == "open_work"
    for kind in ("picked_up", "delivered"):
        assert (await _report(client, oid, kind)).status_code == 200
    assert_problem(await client.post("/v1/workers/w1/retire", headers=OS), 403)
    r = await client.post("/v1/workers/w1/retire", headers=OPS)
    assert r.status_code == 200 and r.json()["status"] == "retired"
    assert (await client.post("/v1/workers/w1/retire", headers=OPS)).json() == r.json()
    r = await client.post("/v1/workers/w1/location", json=north(20), headers=APP)
    assert assert_problem(r, 409)["code"] == "retired"
    batch = {"updates": [{"worker_id": "w1", **north(20)}]}
    r = await client.post("/v1/locations", json=batch, headers=APP)
    assert r.json()["accepted"] == 0 and "retired" in r.json()["errors"][0]["detail"]
    r = await client.put(
        "/v1/workers/w1", json={"kind": "courier", "community_id": "c1"}, headers=OPS
    )
    assert assert_problem(r, 409)["code"] == "retired"
    r = await client.put(
        "/v1/workers/w2",
        json={"kind": "courier", "community_id": "c1", "status": "retired"},
        headers=OPS,
    )
    assert any(e["loc"][-1] == "status" for e in assert_problem(r, 422)["errors"])
    r = await client.post("/v1/orders", json=order_body(), headers=OS)
    tick = (await client.post("/v1/communities/c1/dispatch", headers=OPS)).json()
    assert tick["assigned"] == 0 and await _status(client) == "retired"
    assert assert_problem(await client.post("/v1/workers/nobody/retire", headers=OPS), 404)


async def test_a_community_retires_once_its_work_and_workers_are_gone(
    client: httpx.AsyncClient, courier: str
) -> None:
    """409 open_work for an open order, then for an active worker; retired, it takes nothing."""
    r = await client.post("/v1/orders", json=order_body(), headers=OS)
    oid = r.json()["id"]
    r = await client.post("/v1/communities/c1/retire", headers=OPS)
    assert "1 open order" in assert_problem(r, 409)["detail"]
    assert (await client.post(f"/v1/orders/{oid}/cancel", headers=OS)).status_code == 200
    r = await client.post("/v1/communities/c1/retire", headers=OPS)
    problem = assert_problem(r, 409)
    assert problem["code"] == "open_work" and "w1" in problem["detail"]
    assert (await client.post("/v1/workers/w1/retire", headers=OPS)).status_code == 200
    r = await client.post("/v1/communities/c1/retire", headers=OPS)
    assert r.status_code == 200 and r.json()["retired_at"] == "2026-01-01T00:00:00Z"
    got = await client.get("/v1/communities/c1", headers=OS)
    assert got.json()["retired_at"] == r.json()["retired_at"]
    for path, body in (
        ("/v1/quotes", order_body()),
        ("/v1/orders", order_body()),
    ):
        assert assert_problem(await client.post(path, json=body, headers=OS), 409)["code"] == (
            "retired"
        )
    r = await client.put(
        "/v1/communities/c1", json={"name": "Again", "center": north(0)}, headers=OPS
    )
    assert assert_problem(r, 409)["code"] == "retired"
    r = await client.put(
        "/v1/workers/w3", json={"kind": "courier", "community_id": "c1"}, headers=OPS
    )
    assert assert_problem(r, 409)["code"] == "retired"
    assert (await client.get(f"/v1/orders/{oid}", headers=OS)).json()["state"] == "cancelled"


def test_a_retired_courier_cannot_open_its_stream(sync_client: TestClient) -> None:
    """Retired while connected: fixes get errors; afterwards the handshake is a 409 problem."""
    c = sync_client
    assert c.put("/v1/communities/c1", json={"name": "R", "center": CENTER}, headers=OPS).is_success
    worker = {"kind": "courier", "community_id": "c1"}
    assert c.put("/v1/workers/w1", json=worker, headers=OPS).is_success
    with c.websocket_connect("/v1/workers/w1/stream", headers=APP) as ws:
        assert ws.receive_json()["type"] == "route"
        assert c.post("/v1/workers/w1/retire", headers=OPS).json()["status"] == "retired"
        ws.send_json(north(20))
        assert ws.receive_json() == {"type": "error", "detail": "worker w1 is retired"}
    with (
        pytest.raises(WebSocketDenialResponse) as refused,
        c.websocket_connect("/v1/workers/w1/stream", headers=APP),
    ):
        pass  # pragma: no cover - the handshake fails
    assert refused.value.status_code == 409
    assert refused.value.headers["content-type"].startswith(PROBLEM)
    assert refused.value.json()["code"] == "retired"
