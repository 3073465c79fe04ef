"""Workers: registration, single and batched positions, routes."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from dispatch import ManualClock
from tests.api.conftest import APP, OPS, OS, assert_problem, north, order_body

pytestmark = pytest.mark.anyio


async def test_put_worker_uses_the_contract_defaults(
    client: httpx.AsyncClient, community: dict[str, Any]
) -> None:
    """bicycle, capacity 3, no skills, rating 5, available; no position yet."""
    r = await client.put(
        "/v1/workers/w9", json={"kind": "courier", "community_id": "c1"}, headers=OPS
    )
    assert r.status_code == 200, r.text
    w = r.json()
    assert (w["vehicle"], w["capacity"], w["skills"], w["rating"], w["status"]) == (
        "bicycle",
        3,
        [],
        5.0,
        "available",
    )
    assert w["position"] is None and w["shift_end"] is None


async def test_worker_input_errors(client: httpx.AsyncClient, community: dict[str, Any]) -> None:
    """Unknown community 404; bad kinds, vehicles, ratings and naive times 422."""
    base = {"kind": "courier", "community_id": "c1"}
    assert_problem(
        await client.put("/v1/workers/w9", json={**base, "community_id": "x"}, headers=OPS), 404
    )
    for bad in (
        {"kind": "robot"},
        {"vehicle": "truck"},
        {"rating": 5.5},
        {"capacity": -1},
        {"skills": ["x"] * 31},
        {"shift_end": "2026-01-01T08:00:00"},
        {"shift_end": 1767225600},
        {"status": "sleeping"},
    ):
        assert_problem(await client.put("/v1/workers/w9", json={**base, **bad}, headers=OPS), 422)
    assert_problem(await client.get("/v1/workers/ghost", headers=OPS), 404)


async def test_location_moves_the_worker_and_sets_status(
    client: httpx.AsyncClient, courier: str, clock: ManualClock
) -> None:
    """A fix is stored with its time; status changes only when given."""
    clock.advance(5)
    r = await client.post(
        "/v1/workers/w1/location", json={**north(40), "status": "busy"}, headers=APP
    )
    assert r.status_code == 200 and r.json()["status"] == "busy"
    assert r.json()["position"]["lat"] == pytest.approx(north(40)["lat"])
    r = await client.post("/v1/workers/w1/location", json=north(50), headers=APP)
    assert r.json()["status"] == "busy" and r.json()["position_ts"] == "2026-01-01T00:00:05Z"


async def test_location_errors(client: httpx.AsyncClient, courier: str) -> None:
    """Outside the fence 422, lat 91 422, future timestamps 422, unknown worker 404."""
    far = await client.post("/v1/workers/w1/location", json=north(5000), headers=APP)
    assert assert_problem(far, 422)["code"] == "outside_geofence"
    lat91 = await client.post("/v1/workers/w1/location", json={"lat": 91, "lng": 0}, headers=APP)
    assert assert_problem(lat91, 422)["errors"][0]["loc"] == ["body", "lat"]
    future = {**north(1), "ts": "2026-01-02T00:00:00Z"}
    assert_problem(await client.post("/v1/workers/w1/location", json=future, headers=APP), 422)
    assert_problem(await client.post("/v1/workers/ghost/location", json=north(0), headers=APP), 404)


async def test_batch_keeps_good_items_and_reports_bad_ones(
    client: httpx.AsyncClient, courier: str
) -> None:
    """Unknown workers and outside points are reported by index; the rest are kept."""
    body = {
        "updates": [
            {"worker_id": "ghost", **north(50)},
            {"worker_id": "w1", "lat": 31.9, "lng": 121.0},
            {"worker_id": "w1", "lat": 95.0, "lng": 121.0},
            {"worker_id": "w1", **north(50)},
        ]
    }
    r = await client.post("/v1/locations", json=body, headers=APP)
    assert r.status_code == 200
    out = r.json()
    assert out["accepted"] == 1 and [e["index"] for e in out["errors"]] == [0, 1, 2]
    assert out["errors"][0]["worker_id"] == "ghost"
    w = (await client.get("/v1/workers/w1", headers=OPS)).json()
    assert w["position"]["lat"] == pytest.approx(north(50)["lat"])


async def test_accepted_fix_is_kept_when_a_later_one_is_rejected(
    client: httpx.AsyncClient, courier: str
) -> None:
    """A good fix followed by an outside fix of the same worker: the good one is applied."""
    body = {"updates": [{"worker_id": "w1", **north(50)}, {"worker_id": "w1", **north(9000)}]}
    out = (await client.post("/v1/locations", json=body, headers=APP)).json()
    assert out["accepted"] == 1
    w = (await client.get("/v1/workers/w1", headers=OPS)).json()
    assert w["position"]["lat"] == pytest.approx(north(50)["lat"])


async def test_batch_limits(client: httpx.AsyncClient, courier: str) -> None:
    """5 000 items are accepted; 5 001 or none are 422; NaN anywhere is 422."""
    many = {"updates": [{"worker_id": "w1", **north(1)}] * 5000}
    r = await client.post("/v1/locations", json=many, headers=APP)
    assert r.status_code == 200 and r.json()["accepted"] == 5000
    too_many = {"updates": [{"worker_id": "w1", **north(1)}] * 5001}
    assert_problem(await client.post("/v1/locations", json=too_many, headers=APP), 422)
    assert_problem(await client.post("/v1/locations", json={"updates": []}, headers=APP), 422)
    raw = json.dumps({"updates": [{"worker_id": "w1", "lat": float("nan"), "lng": 121.0}]})
    r = await client.post(
        "/v1/locations", content=raw, headers={**APP, "content-type": "application/json"}
    )
    assert_problem(r, 422)


async def test_route_lists_committed_stops_with_etas(
    client: httpx.AsyncClient, courier: str
) -> None:
    """Empty before a tick; pickup then dropoff after, with increasing ETAs."""
    empty = await client.get("/v1/workers/w1/route", headers=OPS)
    assert empty.status_code == 200 and empty.json() == {"worker_id": "w1", "stops": []}
    await client.post("/v1/orders", json=order_body(), headers=OS)
    await client.post("/v1/communities/c1/dispatch", headers=OPS)
    stops = (await client.get("/v1/workers/w1/route", headers=APP)).json()["stops"]
    assert [s["kind"] for s in stops] == ["pickup", "dropoff"]
    assert stops[0]["eta"] < stops[1]["eta"] and stops[0]["eta"].endswith("Z")
    assert_problem(await client.get("/v1/workers/ghost/route", headers=OPS), 404)
