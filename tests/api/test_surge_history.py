"""Surge rules per community, their history with who and when, rollback, and the preview
beside the active set (memory, Redis and Redis Cluster)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.api.conftest import AN, COMMUNITY, OPS, OS, assert_problem, order_body

pytestmark = pytest.mark.anyio

RULES = "/v1/surge/rules"


async def active(client: httpx.AsyncClient, community_id: str | None = None) -> dict[str, Any]:
    params = {"community_id": community_id} if community_id else {}
    r = await client.get(RULES, params=params, headers=AN)
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


async def quoted_version(client: httpx.AsyncClient, community_id: str = "c1") -> int:
    r = await client.post("/v1/quotes", json=order_body(community_id=community_id), headers=OS)
    assert r.status_code == 200, r.text
    return int(r.json()["rule_version"])


async def test_a_community_set_overrides_the_global_one_until_dropped(
    client: httpx.AsyncClient, courier: str
) -> None:
    """A community's own set prices it (and only it); dropping it restores the global set."""
    r = await client.put("/v1/communities/c2", json=COMMUNITY, headers=OPS)
    assert r.status_code == 200, r.text
    glob = await active(client)
    own_rules = {**glob["rules"], "name": "c1 lunch", "max_change_per_min": 0.9}
    put = await client.put(RULES, params={"community_id": "c1"}, json=own_rules, headers=AN)
    assert put.status_code == 200, put.text
    own = put.json()
    assert own["community_id"] == "c1" and own["version"] > glob["version"]
    assert await active(client, "c1") == own
    assert (await active(client, "c2"))["community_id"] is None
    assert await active(client) == glob
    assert await quoted_version(client, "c1") == own["version"]
    assert await quoted_version(client, "c2") == glob["version"]
    snap = await client.get("/v1/communities/c1/surge", headers=AN)
    assert snap.json()["rule_version"] == own["version"]
    dropped = await client.delete(RULES, params={"community_id": "c1"}, headers=AN)
    assert dropped.status_code == 200 and dropped.json()["version"] == glob["version"]
    assert await quoted_version(client, "c1") == glob["version"]
    unknown = await client.put(RULES, params={"community_id": "nope"}, json=own_rules, headers=AN)
    assert_problem(unknown, 404)


async def test_history_names_who_and_when_and_rollback_activates_an_old_version(
    client: httpx.AsyncClient, courier: str
) -> None:
    """Every activation is listed newest first with its key's label, time, name and hash;
    activating an earlier version brings its rules back as a new version."""
    base = (await active(client))["rules"]
    a = (await client.put(RULES, json={**base, "name": "a", "k_ring": 2}, headers=AN)).json()
    b = (await client.put(RULES, json={**base, "name": "b", "k_ring": 0}, headers=AN)).json()
    listed = (await client.get(f"{RULES}/versions", headers=AN)).json()
    versions = listed["versions"]
    assert [v["version"] for v in versions[:2]] == [b["version"], a["version"]]
    top = versions[0]
    assert top["name"] == "b" and top["by"] == "key4" and top["active"]
    assert top["at"] is not None and len(top["hash"]) == 16 and not versions[1]["active"]
    detail = (await client.get(f"{RULES}/versions/{a['version']}", headers=AN)).json()
    assert detail["rules"]["k_ring"] == 2 and detail["name"] == "a"
    back = await client.post(f"{RULES}/versions/{a['version']}/activate", headers=AN)
    assert back.status_code == 200, back.text
    restored = back.json()
    assert restored["version"] > b["version"] and restored["rules"]["k_ring"] == 2
    assert (await active(client))["version"] == restored["version"]
    newest = (await client.get(f"{RULES}/versions", headers=AN)).json()["versions"][0]
    assert newest["restores"] == a["version"] and newest["hash"] == versions[1]["hash"]
    assert await quoted_version(client) == restored["version"]
    assert_problem(await client.post(f"{RULES}/versions/99999/activate", headers=AN), 404)
    assert_problem(await client.get(f"{RULES}/versions/0", headers=AN), 422)
    forbidden = await client.post(f"{RULES}/versions/{a['version']}/activate", headers=OS)
    assert forbidden.status_code == 403


async def test_community_history_is_its_own(client: httpx.AsyncClient, courier: str) -> None:
    """A community's history lists only its own activations; rollback stays in it."""
    base = (await active(client))["rules"]
    params = {"community_id": "c1"}
    first = await client.put(RULES, params=params, json={**base, "name": "x"}, headers=AN)
    await client.put(RULES, params=params, json={**base, "name": "y"}, headers=AN)
    own = (await client.get(f"{RULES}/versions", params=params, headers=AN)).json()
    assert own["community_id"] == "c1" and [v["name"] for v in own["versions"]] == ["y", "x"]
    glob = (await client.get(f"{RULES}/versions", headers=AN)).json()["versions"]
    assert all(v["name"] not in ("x", "y") for v in glob)
    v = first.json()["version"]
    back = await client.post(f"{RULES}/versions/{v}/activate", params=params, headers=AN)
    assert back.json()["community_id"] == "c1" and back.json()["rules"]["name"] == "x"
    assert (await active(client))["rules"]["name"] != "x"
    missing = await client.post(f"{RULES}/versions/{v}/activate", headers=AN)  # not global
    assert_problem(missing, 404)


async def test_put_takes_what_get_returns(client: httpx.AsyncClient, courier: str) -> None:
    """The whole JSON of GET (version and rules) is accepted by PUT as it is."""
    got = await active(client)
    got["rules"]["max_change_per_min"] = 0.4
    r = await client.put(RULES, json=got, headers=AN)
    assert r.status_code == 200, r.text
    assert r.json()["version"] > got["version"] and r.json()["rules"]["max_change_per_min"] == 0.4


async def test_preview_shows_the_active_set_beside_the_proposal(
    client: httpx.AsyncClient, courier: str
) -> None:
    """The preview answers the active set and its field next to the proposal's, and names
    the changed paths; nothing is activated."""
    for _ in range(3):
        await client.post("/v1/orders", json=order_body(), headers=OS)
    before = await active(client)
    steep = {**before["rules"], "default": {"curve": [[0, 3], [1, 3]], "floor": 1, "cap": 3}}
    steep["services"] = {}
    r = await client.post(f"{RULES}/preview", params={"community_id": "c1"}, json=steep, headers=AN)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["active"] == before and body["active_surge"]["community_id"] == "c1"
    assert "default.cap" in body["changed"] and "services.takeout" in body["changed"]
    assert "version" not in body["changed"]
    busy = [c for c in body["surge"]["cells"] if c["demand"] > 0]
    now = {c["cell"]: c for c in body["active_surge"]["cells"]}
    assert busy and all(
        c["multiplier"]["takeout"] >= now[c["cell"]]["multiplier"]["takeout"] for c in busy
    )
    assert await active(client) == before
