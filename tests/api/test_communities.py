"""Communities: create, read, list, their workers, manual dispatch and the surge map."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from dispatch.community import COMMUNITY_LIMITS, Range, community_default
from tests.api.conftest import AN, APP, CENTER, COMMUNITY, OPS, OS, assert_problem, order_body

pytestmark = pytest.mark.anyio


async def test_put_answers_the_community_with_its_cell_count(
    client: httpx.AsyncClient, community: dict[str, Any]
) -> None:
    """Contract defaults, and the resolution-9 cells covering a 3 km circle (~270 inside)."""
    assert 250 < community["cell_count"] < 450
    assert community["radius_m"] == 3000 and community["h3_resolution"] == 9
    assert community["delivery_sla_min"] == 30 and community["id"] == "c1"
    for headers in (OPS, OS, APP, AN):
        r = await client.get("/v1/communities/c1", headers=headers)
        assert r.status_code == 200 and r.json() == community


async def test_put_again_replaces_and_bumps_the_version(
    client: httpx.AsyncClient, community: dict[str, Any]
) -> None:
    """A second PUT replaces the fields and increments the version."""
    body = {"name": "Riverside East", "center": CENTER, "radius_m": 2000, "h3_resolution": 8}
    r = await client.put("/v1/communities/c1", json=body, headers=OPS)
    assert r.status_code == 200
    assert r.json()["version"] == community["version"] + 1
    assert r.json()["cell_count"] < community["cell_count"]
    listed = (await client.get("/v1/communities", headers=OPS)).json()
    assert [c["name"] for c in listed] == ["Riverside East"]


async def test_community_input_errors(client: httpx.AsyncClient) -> None:
    """Bad ranges, types and ids are 422; unknown communities 404."""
    bad_bodies = [
        {"name": "x", "center": {"lat": 91, "lng": 0}},
        {"name": "x", "center": CENTER, "radius_m": 50},
        {"name": "x", "center": CENTER, "h3_resolution": 16},
        {"name": "x", "center": CENTER, "h3_resolution": 9.5},
        {"name": "", "center": CENTER},
        {"name": "x" * 201, "center": CENTER},
        {"name": "x", "center": CENTER, "delivery_sla_min": 0},
        {"name": "x", "center": CENTER, "colour": "red"},
        {"center": CENTER},
    ]
    for body in bad_bodies:
        assert_problem(await client.put("/v1/communities/c2", json=body, headers=OPS), 422)
    bad_id = await client.put(
        "/v1/communities/a%20b", json={"name": "x", "center": CENTER}, headers=OPS
    )
    assert_problem(bad_id, 422)
    assert_problem(await client.get("/v1/communities/nope", headers=OPS), 404)
    assert_problem(await client.get("/v1/communities/nope/workers", headers=OPS), 404)
    assert_problem(await client.post("/v1/communities/nope/dispatch", headers=OPS), 404)
    assert_problem(await client.get("/v1/communities/nope/surge", headers=AN), 404)


async def test_dispatch_answers_the_tick_summary(client: httpx.AsyncClient, courier: str) -> None:
    """assigned, unassigned, solve_ms, plan_version, fallback, retries; versions increase."""
    await client.post("/v1/orders", json=order_body(), headers=OS)
    first = (await client.post("/v1/communities/c1/dispatch", headers=OPS)).json()
    fields = {"assigned", "unassigned", "solve_ms", "plan_version", "fallback", "retries"}
    assert fields <= set(first) and first["retries"] == 0
    assert first["assigned"] == 1 and first["unassigned"] == 0 and first["fallback"] is False
    second = (await client.post("/v1/communities/c1/dispatch", headers=OPS)).json()
    assert second["plan_version"] == first["plan_version"] + 1 and second["assigned"] == 0


async def test_surge_map_lists_cells_with_demand(client: httpx.AsyncClient, courier: str) -> None:
    """After an order the map has a cell with demand, multipliers per service, hex cell ids."""
    await client.post("/v1/orders", json=order_body(), headers=OS)
    r = await client.get("/v1/communities/c1/surge", headers=OPS)
    assert r.status_code == 200
    snap = r.json()
    assert snap["community_id"] == "c1" and snap["rule_version"] >= 1
    busy = [c for c in snap["cells"] if c["demand"] > 0]
    assert busy and int(busy[0]["cell"], 16) > 0 and "takeout" in busy[0]["multiplier"]


async def test_workers_of_a_community(client: httpx.AsyncClient, courier: str) -> None:
    """Ops list the community's workers with their positions."""
    workers = (await client.get("/v1/communities/c1/workers", headers=OPS)).json()
    assert [w["id"] for w in workers] == ["w1"] and workers[0]["position"] is not None


async def test_defaults_are_the_community_specs(
    client: httpx.AsyncClient, community: dict[str, Any]
) -> None:
    """A PUT that leaves a field out gets CommunitySpec's default (one specification)."""
    for name in (*COMMUNITY_LIMITS, "single_merchant_trips"):
        assert community[name] == community_default(name), name


def _outside(limits: Range) -> list[float]:
    """Values just beyond each end of the range (the open low end itself is outside)."""
    low = limits.low if limits.low_open else limits.low - 1
    return [low, limits.high + 1]


def _inside(limits: Range) -> list[float]:
    """The ends of the range that belong to it."""
    return [limits.high] if limits.low_open else [limits.low, limits.high]


@pytest.mark.parametrize("name", sorted(COMMUNITY_LIMITS))
async def test_limits_are_the_community_specs(client: httpx.AsyncClient, name: str) -> None:
    """Each limit of COMMUNITY_LIMITS holds at the edge: 422 naming the field, ends accepted."""
    limits = COMMUNITY_LIMITS[name]
    for value in _outside(limits):
        r = await client.put("/v1/communities/c2", json={**COMMUNITY, name: value}, headers=OPS)
        errors = assert_problem(r, 422)["errors"]
        assert [e["loc"] for e in errors] == [["body", name]], (name, value)
    for value in _inside(limits):
        r = await client.put("/v1/communities/c2", json={**COMMUNITY, name: value}, headers=OPS)
        assert r.status_code == 200 and r.json()[name] == value, (name, value, r.text)


async def test_the_openapi_document_shows_the_specs_limits(client: httpx.AsyncClient) -> None:
    """The schema's bounds and defaults come from the same table."""
    schema = (await client.get("/openapi.json")).json()["components"]["schemas"]["CommunityIn"]
    for name, limits in COMMUNITY_LIMITS.items():
        prop = schema["properties"][name]
        low = prop["exclusiveMinimum"] if limits.low_open else prop["minimum"]
        assert (low, prop["maximum"]) == (limits.low, limits.high), name
        assert prop["default"] == community_default(name) and prop["description"], name
