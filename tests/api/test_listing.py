"""Listing orders and jobs, an order's history, tracking, reasons and the skills catalogue."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from dispatch import ManualClock
from tests.api.conftest import APP, OPS, OS, assert_problem, job_body, north, order_body

pytestmark = pytest.mark.anyio


def iso(t: float) -> str:
    return datetime.fromtimestamp(t, tz=UTC).isoformat().replace("+00:00", "Z")


async def _orders(client: httpx.AsyncClient, n: int, clock: ManualClock, **kw: Any) -> list[str]:
    ids = []
    for i in range(n):
        r = await client.post("/v1/orders", json=order_body(**kw), headers=OS)
        assert r.status_code == 201, r.text
        ids.append(r.json()["id"])
        if i % 3 == 2:
            clock.advance(1.0)  # some share a creation time, some do not
    return ids


async def _all_pages(client: httpx.AsyncClient, url: str, **params: Any) -> list[str]:
    seen: list[str] = []
    cursor = None
    for _ in range(100):
        query = {**params, **({"cursor": cursor} if cursor else {})}
        r = await client.get(url, params=query, headers=OPS)
        assert r.status_code == 200, r.text
        page = r.json()
        seen += [item["id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            return seen
    raise AssertionError("listing never ended")


async def test_pages_list_every_order_once_in_creation_order(
    client: httpx.AsyncClient, community: dict[str, Any], clock: ManualClock
) -> None:
    """Seven orders in pages of three: each exactly once, oldest first."""
    ids = await _orders(client, 7, clock)
    seen = await _all_pages(client, "/v1/orders", community_id="c1", limit=3)
    assert seen == ids


async def test_a_cursor_is_stable_while_orders_arrive(
    client: httpx.AsyncClient, community: dict[str, Any], clock: ManualClock
) -> None:
    """Orders created between two pages join the end: no page repeats or skips one."""
    ids = await _orders(client, 4, clock)
    first = (await client.get("/v1/orders", params={"limit": 2}, headers=OS)).json()
    assert [o["id"] for o in first["items"]] == ids[:2]
    clock.advance(5)
    later = await _orders(client, 3, clock)
    rest = await _all_pages(client, "/v1/orders", limit=2, cursor=first["next_cursor"])
    assert rest == ids[2:] + later


async def test_filters_state_external_ref_and_creation_time(
    client: httpx.AsyncClient, community: dict[str, Any], clock: ManualClock
) -> None:
    """Filters combine; a cancelled order is found by state, a reference by its ref."""
    t0 = clock.now()
    a = (await client.post("/v1/orders", json=order_body(external_ref="shop-1"), headers=OS)).json()
    clock.advance(60)
    b = (await client.post("/v1/orders", json=order_body(notes="gate 4"), headers=OS)).json()
    assert b["notes"] == "gate 4" and a["external_ref"] == "shop-1"
    await client.post(f"/v1/orders/{b['id']}/cancel", headers=OS)
    by_ref = await _all_pages(client, "/v1/orders", external_ref="shop-1")
    assert by_ref == [a["id"]]
    cancelled = await _all_pages(client, "/v1/orders", state="cancelled")
    assert cancelled == [b["id"]]
    both = await _all_pages(client, "/v1/orders", state=["pending", "cancelled"])
    assert both == [a["id"], b["id"]]
    later = await _all_pages(client, "/v1/orders", created_after=iso(t0 + 30))
    earlier = await _all_pages(client, "/v1/orders", created_before=iso(t0 + 30))
    assert later == [b["id"]] and earlier == [a["id"]]


async def test_bad_listing_queries_are_422(
    client: httpx.AsyncClient, community: dict[str, Any], clock: ManualClock
) -> None:
    """Unknown states, oversize pages, forged cursors and reused cursors are refused."""
    await _orders(client, 3, clock)
    assert_problem(await client.get("/v1/orders", params={"state": "lost"}, headers=OS), 422)
    assert_problem(await client.get("/v1/orders", params={"limit": 501}, headers=OS), 422)
    # found by the fuzz test: a bare number in a query string is not a time
    assert_problem(await client.get("/v1/orders?created_before=0.5", headers=OS), 422)
    assert_problem(await client.get("/v1/orders", params={"cursor": "bm9wZQ"}, headers=OS), 422)
    page = (await client.get("/v1/orders", params={"limit": 1}, headers=OS)).json()
    other = {"limit": 1, "cursor": page["next_cursor"], "state": "pending"}
    body = assert_problem(await client.get("/v1/orders", params=other, headers=OS), 422)
    assert "other filters" in body["detail"]
    unknown = await client.get("/v1/orders", params={"community_id": "nowhere"}, headers=OS)
    assert_problem(unknown, 404)
    assert_problem(await client.get("/v1/orders", headers=APP), 403)


async def test_jobs_are_listed_by_worker_after_a_tick(
    client: httpx.AsyncClient, technician: str, clock: ManualClock
) -> None:
    """A job assigned by a tick is found under its technician; others are not."""
    job = (await client.post("/v1/jobs", json=job_body(), headers=OS)).json()
    assert (await client.post("/v1/communities/c1/dispatch", headers=OPS)).status_code == 200
    mine = await _all_pages(client, "/v1/jobs", worker_id=technician)
    assert mine == [job["id"]]
    assert await _all_pages(client, "/v1/jobs", worker_id="nobody") == []
    history = (await client.get(f"/v1/jobs/{job['id']}/events", headers=OS)).json()
    assert [e["type"] for e in history["events"]] == ["job.created", "job.assigned"]


async def test_an_orders_history_and_tracking_follow_it_to_the_door(
    client: httpx.AsyncClient, courier: str, clock: ManualClock
) -> None:
    """History lists the order's own events in order; tracking shows the courier only
    while it is on its way."""
    order = (await client.post("/v1/orders", json=order_body(), headers=OS)).json()
    track = (await client.get(f"/v1/orders/{order['id']}/tracking", headers=OS)).json()
    assert track["state"] == "pending" and track["courier"] is None
    await client.post("/v1/communities/c1/dispatch", headers=OPS)
    track = (await client.get(f"/v1/orders/{order['id']}/tracking", headers=OS)).json()
    assert track["state"] == "assigned" and track["eta"] is not None
    assert track["courier"]["position"]["lat"] == pytest.approx(north(10)["lat"])
    assert track["courier"]["stops_before"] == 0
    for kind in ("picked_up", "delivered"):
        body = {"type": kind, "worker_id": courier}
        r = await client.post(f"/v1/orders/{order['id']}/events", json=body, headers=APP)
        assert r.status_code == 200, r.text
    track = (await client.get(f"/v1/orders/{order['id']}/tracking", headers=OS)).json()
    assert track["state"] == "delivered" and track["courier"] is None
    history = (await client.get(f"/v1/orders/{order['id']}/events", headers=OS)).json()
    types = [e["type"] for e in history["events"]]
    assert types[0] == "order.created" and types[1] == "order.assigned"
    assert types[-1] == "order.delivered" and "order.picked_up" in types
    seqs = [e["seq"] for e in history["events"]]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    assert all(e["entity_id"] == order["id"] for e in history["events"])
    missing = await client.get("/v1/orders/o_nope/events", headers=OS)
    assert_problem(missing, 404)


async def test_concurrent_creation_lists_every_order(
    client: httpx.AsyncClient, community: dict[str, Any]
) -> None:
    """Twenty concurrent creations, one listing: every accepted order is there once."""
    rs = await asyncio.gather(
        *(client.post("/v1/orders", json=order_body(), headers=OS) for _ in range(20))
    )
    assert [r.status_code for r in rs] == [201] * 20, [r.text for r in rs if r.status_code != 201]
    ids = {r.json()["id"] for r in rs}
    seen = await _all_pages(client, "/v1/orders", limit=7)
    assert sorted(seen) == sorted(ids)


# ---- reasons ---------------------------------------------------------------------------


async def test_an_order_without_couriers_says_why(
    client: httpx.AsyncClient, community: dict[str, Any]
) -> None:
    """No courier on shift: the order waits with reason no_worker_on_shift."""
    order = (await client.post("/v1/orders", json=order_body(), headers=OS)).json()
    await client.post("/v1/communities/c1/dispatch", headers=OPS)
    got = (await client.get(f"/v1/orders/{order['id']}", headers=OS)).json()
    assert got["state"] == "pending" and got["reason"] == "no_worker_on_shift"


async def test_stale_positions_are_the_reason_then_unassigned_carries_it(
    client: httpx.AsyncClient, courier: str, clock: ManualClock
) -> None:
    """A courier whose position goes stale loses its order: the unassigned event and the
    order both say positions_stale."""
    order = (await client.post("/v1/orders", json=order_body(), headers=OS)).json()
    await client.post("/v1/communities/c1/dispatch", headers=OPS)
    assert (await client.get(f"/v1/orders/{order['id']}", headers=OS)).json()["reason"] is None
    clock.advance(600)  # no position for ten minutes
    await client.post("/v1/communities/c1/dispatch", headers=OPS)
    got = (await client.get(f"/v1/orders/{order['id']}", headers=OS)).json()
    assert got["state"] == "pending" and got["reason"] == "positions_stale"
    history = (await client.get(f"/v1/orders/{order['id']}/events", headers=OS)).json()
    unassigned = [e for e in history["events"] if e["type"] == "order.unassigned"]
    assert unassigned and unassigned[-1]["data"]["reason"] == "positions_stale"


async def test_a_job_nobody_can_do_says_no_qualified_worker(
    client: httpx.AsyncClient, technician: str
) -> None:
    """A catalogue skill no technician has: the job's at_risk event says why."""
    job = (await client.post("/v1/jobs", json=job_body(skills=["electrical"]), headers=OS)).json()
    await client.post("/v1/communities/c1/dispatch", headers=OPS)
    got = (await client.get(f"/v1/jobs/{job['id']}", headers=OS)).json()
    assert got["reason"] == "no_qualified_worker"
    history = (await client.get(f"/v1/jobs/{job['id']}/events", headers=OS)).json()
    risk = [e for e in history["events"] if e["type"] == "job.at_risk"]
    assert risk and risk[0]["data"]["reason"] == "no_qualified_worker"


# ---- skills catalogue --------------------------------------------------------------------


async def test_unknown_skills_are_422_naming_the_known_ones(
    client: httpx.AsyncClient, community: dict[str, Any]
) -> None:
    """A job or a technician naming gardening is refused, and nothing is stored."""
    assert "plumbing" in community["skills"] and "gardening" not in community["skills"]
    r = await client.post("/v1/jobs", json=job_body(skills=["gardening"]), headers=OS)
    body = assert_problem(r, 422)
    assert "gardening" in body["detail"] and "plumbing" in body["detail"]
    listed = (await client.get("/v1/jobs", headers=OS)).json()
    assert listed["items"] == []
    tech = {"kind": "technician", "community_id": "c1", "skills": ["gardening"], "capacity": 0}
    assert_problem(await client.put("/v1/workers/t9", json=tech, headers=OPS), 422)


async def test_a_community_edits_its_catalogue(client: httpx.AsyncClient) -> None:
    """A community adding gardening accepts gardening jobs; other fields keep it."""
    from tests.api.conftest import COMMUNITY

    body = {**COMMUNITY, "skills": ["gardening", "plumbing"]}
    r = await client.put("/v1/communities/c1", json=body, headers=OPS)
    assert r.status_code == 200 and r.json()["skills"] == ["gardening", "plumbing"]
    again = await client.put("/v1/communities/c1", json=COMMUNITY, headers=OPS)
    assert again.json()["skills"] == ["gardening", "plumbing"]  # kept when not given
    body = job_body(skills=["gardening"])
    body.pop("service_type")
    job = await client.post("/v1/jobs", json=body, headers=OS)
    assert job.status_code == 201, job.text
    assert job.json()["service_type"] == "repair"
    bad = {**COMMUNITY, "skills": ["Garden Work"]}
    assert_problem(await client.put("/v1/communities/c1", json=bad, headers=OPS), 422)


async def test_a_jobs_service_type_follows_its_skill(
    client: httpx.AsyncClient, community: dict[str, Any]
) -> None:
    """Without service_type a cleaning job is priced as cleaning, not repair."""
    body = job_body(skills=["cleaning"])
    body.pop("service_type")
    job = (await client.post("/v1/jobs", json=body, headers=OS)).json()
    assert job["service_type"] == "cleaning"
    body = job_body(skills=["appliance_cleaning"], service_type="repair")
    assert (await client.post("/v1/jobs", json=body, headers=OS)).json()["service_type"] == "repair"
