"""Quotes and orders: prices, creation, idempotency, cancellation and courier events."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import httpx
import pytest

from dispatch import Engine, ManualClock
from tests.api.conftest import APP, OPS, OS, assert_problem, north, order_body

pytestmark = pytest.mark.anyio


def iso(t: float) -> str:
    return datetime.fromtimestamp(t, tz=UTC).isoformat().replace("+00:00", "Z")


async def test_quote_has_the_contract_fields(client: httpx.AsyncClient, courier: str) -> None:
    """A quote names eta, base, multiplier, total, rule version and its reasons."""
    r = await client.post("/v1/quotes", json=order_body(), headers=OS)
    assert r.status_code == 200, r.text
    quote = r.json()
    assert {"eta_min", "base", "multiplier", "total", "rule_version", "explanation"} <= set(quote)
    assert quote["total"] > 0 and quote["multiplier"] >= 1.0 and quote["eta_min"] > 0


async def test_order_is_created_with_201_and_a_locked_price(
    client: httpx.AsyncClient, courier: str, clock: ManualClock
) -> None:
    """201 with id, state, promise 30 minutes out (UTC ISO 8601) and the quoted price."""
    quote = (await client.post("/v1/quotes", json=order_body(), headers=OS)).json()
    r = await client.post("/v1/orders", json=order_body(), headers=OS)
    assert r.status_code == 201, r.text
    order = r.json()
    assert order["state"] == "pending" and order["worker_id"] is None
    assert order["promised_by"] == iso(clock.now() + 1800)
    assert order["price"]["total"] == quote["total"]
    got = await client.get(f"/v1/orders/{order['id']}", headers=OPS)
    assert got.status_code == 200 and got.json() == order


async def test_same_key_and_body_replays_the_order(
    client: httpx.AsyncClient, community: dict[str, Any]
) -> None:
    """A retry with the same Idempotency-Key and body answers the same 201 body."""
    headers = {**OS, "Idempotency-Key": "retry-1"}
    first = await client.post("/v1/orders", json=order_body(), headers=headers)
    again = await client.post("/v1/orders", json=order_body(), headers=headers)
    assert first.status_code == again.status_code == 201
    assert first.json() == again.json()
    other = await client.post(
        "/v1/orders", json=order_body(), headers={**OS, "Idempotency-Key": "2"}
    )
    assert other.json()["id"] != first.json()["id"]


async def test_same_key_with_another_body_is_409(
    client: httpx.AsyncClient, community: dict[str, Any]
) -> None:
    """Reusing a key for a different order is a conflict, and no second order appears."""
    headers = {**OS, "Idempotency-Key": "k"}
    assert (await client.post("/v1/orders", json=order_body(), headers=headers)).status_code == 201
    clash = await client.post("/v1/orders", json=order_body(size=2), headers=headers)
    assert "Idempotency-Key" in assert_problem(clash, 409)["detail"]
    feed = (await client.get("/v1/events", params={"limit": 1000}, headers=OS)).json()
    assert sum(e["type"] == "order.created" for e in feed["events"]) == 1


async def test_fifty_concurrent_requests_with_one_key_create_one_order(
    client: httpx.AsyncClient, community: dict[str, Any], engine: Engine
) -> None:
    """50 concurrent retries with one key all get the same order; exactly one exists."""
    headers = {**OS, "Idempotency-Key": "same"}
    results = await asyncio.gather(
        *(client.post("/v1/orders", json=order_body(), headers=headers) for _ in range(50))
    )
    assert {r.status_code for r in results} == {201}
    assert len({r.json()["id"] for r in results}) == 1
    assert len(engine.open_orders("c1")) == 1
    feed = (await client.get("/v1/events", params={"limit": 1000}, headers=OS)).json()
    assert sum(e["type"] == "order.created" for e in feed["events"]) == 1


async def test_bad_idempotency_keys_are_422(
    client: httpx.AsyncClient, community: dict[str, Any]
) -> None:
    """Keys must be 1-255 visible ASCII characters."""
    for key in ("x" * 256, "has space"):
        r = await client.post(
            "/v1/orders", json=order_body(), headers={**OS, "Idempotency-Key": key}
        )
        assert assert_problem(r, 422)["errors"][0]["loc"][0] == "header"


async def test_cancel_is_idempotent_and_refused_after_pickup(
    client: httpx.AsyncClient, courier: str
) -> None:
    """Cancelling twice gives the same cancelled order; after pickup it is 409."""
    first = (await client.post("/v1/orders", json=order_body(), headers=OS)).json()
    for _ in range(2):
        r = await client.post(f"/v1/orders/{first['id']}/cancel", headers=OS)
        assert r.status_code == 200 and r.json()["state"] == "cancelled"
    second = (await client.post("/v1/orders", json=order_body(), headers=OS)).json()
    await client.post("/v1/communities/c1/dispatch", headers=OPS)
    ev = {"type": "picked_up", "worker_id": "w1"}
    assert (await client.post(f"/v1/orders/{second['id']}/events", json=ev, headers=APP)).is_success
    assert_problem(await client.post(f"/v1/orders/{second['id']}/cancel", headers=OS), 409)
    assert_problem(await client.post("/v1/orders/nope/cancel", headers=OS), 404)


async def test_order_from_quote_to_delivery(
    client: httpx.AsyncClient, courier: str, clock: ManualClock
) -> None:
    """order → dispatch → route → picked_up → delivered, each step in the event feed."""
    order = (await client.post("/v1/orders", json=order_body(), headers=OS)).json()
    tick = await client.post("/v1/communities/c1/dispatch", headers=OPS)
    assert tick.status_code == 200 and tick.json()["assigned"] == 1
    got = (await client.get(f"/v1/orders/{order['id']}", headers=OS)).json()
    assert got["state"] == "assigned" and got["worker_id"] == "w1" and got["eta"]
    assert got["eta"] <= got["promised_by"]
    route = (await client.get("/v1/workers/w1/route", headers=APP)).json()
    assert [(s["kind"], s["entity_id"]) for s in route["stops"]] == [
        ("pickup", order["id"]),
        ("dropoff", order["id"]),
    ]
    for kind in ("picked_up", "delivered"):
        clock.advance(300)
        r = await client.post(
            f"/v1/orders/{order['id']}/events", json={"type": kind, "worker_id": "w1"}, headers=APP
        )
        assert r.status_code == 200 and r.json()["state"] == kind
    feed = (await client.get("/v1/events", headers=OS)).json()
    types = [e["type"] for e in feed["events"] if e["entity_id"] == order["id"]]
    assert types == ["order.created", "order.assigned", "order.picked_up", "order.delivered"]


async def test_deliveries_feed_the_service_level_metrics(
    client: httpx.AsyncClient, courier: str, clock: ManualClock
) -> None:
    """On-time and late deliveries are counted by tier with their click-to-door time."""
    gold = (await client.post("/v1/orders", json=order_body(priority="gold"), headers=OS)).json()
    std = (await client.post("/v1/orders", json=order_body(), headers=OS)).json()
    await client.post("/v1/communities/c1/dispatch", headers=OPS)
    for oid in (gold["id"], std["id"]):
        ev = {"type": "picked_up", "worker_id": "w1"}
        assert (await client.post(f"/v1/orders/{oid}/events", json=ev, headers=APP)).is_success
    clock.advance(600)
    ev = {"type": "delivered", "worker_id": "w1"}
    assert (await client.post(f"/v1/orders/{gold['id']}/events", json=ev, headers=APP)).is_success
    clock.advance(1800)  # 40 minutes after ordering: past the 30-minute promise
    assert (await client.post(f"/v1/orders/{std['id']}/events", json=ev, headers=APP)).is_success
    text = (await client.get("/metrics")).text
    assert 'dispatch_deliveries_total{on_time="true",tier="gold"} 1.0' in text
    assert 'dispatch_deliveries_total{on_time="false",tier="standard"} 1.0' in text
    assert 'dispatch_click_to_door_seconds_bucket{le="600.0",tier="gold"} 1.0' in text
    assert 'dispatch_click_to_door_seconds_count{tier="standard"} 1.0' in text
    assert 'dispatch_at_risk{kind="order"} 0.0' in text


async def test_illegal_transitions_are_409(client: httpx.AsyncClient, courier: str) -> None:
    """Delivering a pending order, or as another courier, is a conflict."""
    order = (await client.post("/v1/orders", json=order_body(), headers=OS)).json()
    path = f"/v1/orders/{order['id']}/events"
    ev = {"type": "delivered", "worker_id": "w1"}
    assert_problem(await client.post(path, json=ev, headers=APP), 409)
    await client.post("/v1/communities/c1/dispatch", headers=OPS)
    await client.put("/v1/workers/w2", json={"kind": "courier", "community_id": "c1"}, headers=OPS)
    ev = {"type": "picked_up", "worker_id": "w2"}
    assert_problem(await client.post(path, json=ev, headers=APP), 409)
    ev = {"type": "started", "worker_id": "w1"}  # a job event on an order
    assert_problem(await client.post(path, json=ev, headers=APP), 422)


async def test_order_input_errors(client: httpx.AsyncClient, courier: str) -> None:
    """Ranges, unknown communities, points outside the fence and naive times."""
    far = await client.post("/v1/orders", json=order_body(dropoff=north(9000)), headers=OS)
    assert assert_problem(far, 422)["code"] == "outside_geofence"
    lat91 = await client.post(
        "/v1/quotes", json=order_body(pickup={"lat": 91, "lng": 1}), headers=OS
    )
    assert assert_problem(lat91, 422)["errors"][0]["loc"] == ["body", "pickup", "lat"]
    assert_problem(
        await client.post("/v1/orders", json=order_body(community_id="x"), headers=OS), 404
    )
    assert_problem(await client.get("/v1/orders/nope", headers=OS), 404)
    naive = order_body(ready_at="2026-01-01T00:10:00")
    assert_problem(await client.post("/v1/orders", json=naive, headers=OS), 422)
    late = order_body(ready_at="2030-01-01T00:00:00Z")
    assert_problem(await client.post("/v1/orders", json=late, headers=OS), 422)
    for bad in ({"size": 0}, {"size": "2"}, {"priority": "platinum"}, {"extra": 1}):
        assert_problem(await client.post("/v1/orders", json=order_body(**bad), headers=OS), 422)


async def test_ready_at_accepts_any_zone_and_answers_utc(
    client: httpx.AsyncClient, courier: str, clock: ManualClock
) -> None:
    """A time given with +08:00 is the same instant; answers are in UTC."""
    shanghai = timezone(timedelta(hours=8))
    local = datetime.fromtimestamp(clock.now() + 600, tz=shanghai).isoformat()
    assert local.endswith("+08:00")
    r = await client.post("/v1/orders", json=order_body(ready_at=local), headers=OS)
    assert r.status_code == 201, r.text
    assert r.json()["ready_at"] == iso(clock.now() + 600)
    assert r.json()["created_at"] == iso(clock.now())


async def test_the_kitchen_reports_when_the_food_is_ready(
    client: httpx.AsyncClient, courier: str, clock: ManualClock
) -> None:
    """POST /ready: a revised time, then "out now" (no body field), each shown on the order
    and in the feed; a time past the allowed range is 422, a courier app 403, an unknown
    order 404, and after pickup 409 (problem+json), the order kept as it was."""
    order = (await client.post("/v1/orders", json=order_body(), headers=OS)).json()
    url = f"/v1/orders/{order['id']}/ready"
    revised = await client.post(url, json={"ready_at": iso(clock.now() + 900)}, headers=OS)
    assert revised.status_code == 200, revised.text
    assert revised.json()["ready_at"] == iso(clock.now() + 900)
    clock.advance(60)
    out = await client.post(url, json={}, headers=OPS)
    assert out.status_code == 200 and out.json()["ready_at"] == iso(clock.now())
    too_old = {"ready_at": iso(clock.now() - 7200)}
    assert_problem(await client.post(url, json=too_old, headers=OS), 422)
    assert_problem(await client.post(url, json={}, headers=APP), 403)
    assert_problem(await client.post("/v1/orders/nope/ready", json={}, headers=OS), 404)
    await client.post("/v1/communities/c1/dispatch", headers=OPS)
    ev = {"type": "picked_up", "worker_id": "w1"}
    assert (await client.post(f"/v1/orders/{order['id']}/events", json=ev, headers=APP)).is_success
    assert_problem(await client.post(url, json={}, headers=OS), 409)
    got = (await client.get(f"/v1/orders/{order['id']}", headers=OS)).json()
    assert got["state"] == "picked_up" and got["ready_at"] == iso(clock.now())
    feed = (await client.get("/v1/events", headers=OS)).json()
    ready = [e for e in feed["events"] if e["type"] == "order.ready"]
    assert len(ready) == 2 and all(e["entity_id"] == order["id"] for e in ready)
