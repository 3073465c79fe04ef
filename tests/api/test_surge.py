"""Surge rules: read, preview without activating, replace with a new version."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from tests.api.conftest import AN, OS, assert_problem, order_body

pytestmark = pytest.mark.anyio


async def rules(client: httpx.AsyncClient) -> dict[str, Any]:
    r = await client.get("/v1/surge/rules", headers=AN)
    assert r.status_code == 200
    return r.json()  # type: ignore[no-any-return]


async def test_put_activates_a_new_version(client: httpx.AsyncClient, courier: str) -> None:
    """A valid rule set gets the next version, is active at once and prices new quotes."""
    before = await rules(client)
    assert before["version"] >= 1 and "services" in before["rules"]
    new = {**before["rules"], "max_change_per_min": 0.5, "version": 99}
    put = await client.put("/v1/surge/rules", json=new, headers=AN)
    assert put.status_code == 200, put.text
    assert put.json()["version"] == before["version"] + 1
    assert put.json()["rules"]["max_change_per_min"] == 0.5
    assert (await rules(client)) == put.json()
    quote = (await client.post("/v1/quotes", json=order_body(), headers=OS)).json()
    assert quote["rule_version"] == put.json()["version"]
    snap = (await client.get("/v1/communities/c1/surge", headers=AN)).json()
    assert snap["rule_version"] == put.json()["version"]


async def test_invalid_rules_list_every_problem_and_change_nothing(
    client: httpx.AsyncClient, courier: str
) -> None:
    """422 with errors[] naming each field; the active version stays."""
    before = await rules(client)
    bad = {**before["rules"], "max_change_per_min": -1, "colour": "red"}
    for method, path in (("PUT", "/v1/surge/rules"), ("POST", "/v1/surge/rules/preview")):
        r = await client.request(method, path, json=bad, headers=AN)
        errors = assert_problem(r, 422)["errors"]
        locs = {tuple(e["loc"]) for e in errors}
        assert ("body", "max_change_per_min") in locs and ("body", "colour") in locs
    assert (await rules(client))["version"] == before["version"]
    not_an_object = await client.put("/v1/surge/rules", json=[1, 2], headers=AN)
    assert_problem(not_an_object, 422)
    raw = json.dumps({**before["rules"], "max_change_per_min": float("nan")})
    nan = await client.put(
        "/v1/surge/rules", content=raw, headers={**AN, "content-type": "application/json"}
    )
    assert ("body", "max_change_per_min") in {
        tuple(e["loc"]) for e in assert_problem(nan, 422)["errors"]
    }
    assert (await rules(client))["version"] == before["version"]


async def test_preview_validates_without_activating(
    client: httpx.AsyncClient, courier: str
) -> None:
    """A valid preview answers the normalised rules as version 0; the active set is unchanged."""
    before = await rules(client)
    new = {**before["rules"], "max_change_per_min": 0.5}
    r = await client.post("/v1/surge/rules/preview", json=new, headers=AN)
    assert r.status_code == 200
    assert r.json()["version"] == 0 and r.json()["rules"]["max_change_per_min"] == 0.5
    assert r.json()["surge"] is None
    assert (await rules(client)) == before


async def test_preview_on_current_demand(client: httpx.AsyncClient, courier: str) -> None:
    """With community_id the preview shows the candidate's field on today's orders."""
    for _ in range(4):
        await client.post("/v1/orders", json=order_body(), headers=OS)
    before = await rules(client)
    steep = {**before["rules"], "default": {"curve": [[0, 3], [1, 3]], "floor": 1, "cap": 3}}
    steep["services"] = {}
    r = await client.post(
        "/v1/surge/rules/preview", params={"community_id": "c1"}, json=steep, headers=AN
    )
    assert r.status_code == 200, r.text
    surge = r.json()["surge"]
    assert surge["community_id"] == "c1" and surge["rule_version"] == 0
    busy = [c for c in surge["cells"] if c["demand"] > 0]
    assert busy and max(c["multiplier"]["takeout"] for c in busy) == 3
    assert (await rules(client)) == before
    unknown = await client.post(
        "/v1/surge/rules/preview", params={"community_id": "nope"}, json=before["rules"], headers=AN
    )
    assert_problem(unknown, 404)
