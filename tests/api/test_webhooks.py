"""Webhooks over HTTP on memory, Redis and Cluster: registration, reading, deliveries.

The dispatcher is driven by hand here (a scripted sender, the test's manual
clock); tests/api/test_webhooks_e2e.py sends to a real receiver.
"""

from __future__ import annotations

import json
import random
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from api.app import create_app
from api.settings import ApiSettings
from api.webhooks_runtime import webhooks_of
from dispatch import Engine, ManualClock
from dispatch.webhooks import RetrySchedule, WebhookDispatcher, sign
from tests.api.conftest import AN, APP, KEYS, OPS, OS, assert_problem, order_body
from tests.dispatch.webhooks.conftest import ScriptedSender

pytestmark = pytest.mark.anyio

HOOK = {"url": "https://hooks.example.com/in"}


def dispatcher(app: FastAPI, sender: ScriptedSender, **kw: Any) -> WebhookDispatcher:
    """A dispatcher over the app's own stores and clock, stepped by the test."""
    hooks = webhooks_of(app)
    return WebhookDispatcher(
        hooks.feed, hooks.store, sender, hooks.clock, rng=random.Random(0), **kw
    )


async def test_register_shows_the_secret_once(client: httpx.AsyncClient) -> None:
    """201 with id and whsec_ secret; GET, the listing and the 404 after DELETE never show it."""
    r = await client.post("/v1/webhooks", json=HOOK, headers=OS)
    assert r.status_code == 201, r.text
    created = r.json()
    assert created["secret"].startswith("whsec_") and created["id"]
    assert created["event_types"] == [] and created["community_ids"] == []
    assert created["disabled"] is False
    got = (await client.get(f"/v1/webhooks/{created['id']}", headers=OPS)).json()
    assert "secret" not in got and got["url"] == HOOK["url"]
    page = (await client.get("/v1/webhooks", headers=OS)).json()
    assert [w["id"] for w in page["items"]] == [created["id"]] and page["next_cursor"] is None
    assert created["secret"] not in json.dumps(page) and '"secret"' not in json.dumps(page)
    assert (await client.delete(f"/v1/webhooks/{created['id']}", headers=OS)).status_code == 204
    assert_problem(await client.get(f"/v1/webhooks/{created['id']}", headers=OS), 404)
    assert_problem(await client.delete(f"/v1/webhooks/{created['id']}", headers=OS), 404)


async def test_listing_pages_by_cursor(client: httpx.AsyncClient) -> None:
    """limit cuts pages; next_cursor continues without repeats; limit past 500 is 422."""
    ids = {
        (await client.post("/v1/webhooks", json=HOOK, headers=OS)).json()["id"] for _ in range(5)
    }
    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 2} | ({"cursor": cursor} if cursor else {})
        page = (await client.get("/v1/webhooks", params=params, headers=OS)).json()
        seen += [w["id"] for w in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == sorted(ids)
    assert_problem(await client.get("/v1/webhooks", params={"limit": 501}, headers=OS), 422)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"url": "ftp://hooks.example.com/"}, "http or https"),
        ({"url": "http://127.0.0.1:9000/"}, "loopback"),
        ({"url": "http://192.168.0.10/"}, "private"),
        ({"url": "http://169.254.169.254/"}, "link-local"),
        ({"url": "https://u:p@hooks.example.com/"}, "credentials"),
        ({**HOOK, "event_types": ["Order Created"]}, "event_types"),
        ({**HOOK, "community_ids": ["c9"]}, "unknown communities"),
        ({**HOOK, "secret": "whsec_mine"}, "extra"),
        ({"url": ""}, "url"),
    ],
)
async def test_bad_registrations_are_422_and_store_nothing(
    client: httpx.AsyncClient, community: dict[str, Any], body: dict[str, Any], field: str
) -> None:
    """Each bad registration is a problem+json 422 naming the problem; nothing is stored."""
    problem = assert_problem(await client.post("/v1/webhooks", json=body, headers=OS), 422)
    assert field in json.dumps(problem)
    assert (await client.get("/v1/webhooks", headers=OS)).json()["items"] == []


async def test_only_order_service_and_ops_manage_webhooks(client: httpx.AsyncClient) -> None:
    """Courier-app and analyst keys get 403, no key 401; both allowed roles get through."""
    assert_problem(await client.post("/v1/webhooks", json=HOOK), 401)
    for headers in (APP, AN):
        assert_problem(await client.post("/v1/webhooks", json=HOOK, headers=headers), 403)
        assert_problem(await client.get("/v1/webhooks", headers=headers), 403)
    for headers in (OS, OPS):
        assert (await client.post("/v1/webhooks", json=HOOK, headers=headers)).status_code == 201


async def test_events_are_delivered_as_the_feed_shows_them(
    client: httpx.AsyncClient, app: FastAPI, courier: str
) -> None:
    """An order's events reach a subscribed endpoint with the feed's exact JSON, and the
    deliveries list them with their attempts; other types and earlier events are left out."""
    hook = {**HOOK, "event_types": ["order.*"], "community_ids": ["c1"]}
    wh = (await client.post("/v1/webhooks", json=hook, headers=OS)).json()
    order = (await client.post("/v1/orders", json=order_body(), headers=OS)).json()
    await client.post("/v1/communities/c1/dispatch", headers=OPS)
    sender = ScriptedSender()
    d = dispatcher(app, sender)
    d.step()
    d.step()
    feed = (await client.get("/v1/events", params={"limit": 1000}, headers=OS)).json()["events"]
    wanted = [e for e in feed if e["type"].startswith("order.")]
    assert [e["entity_id"] for e in wanted] == [order["id"]] * len(wanted) and len(wanted) >= 2
    assert [json.loads(s.body) for s in sender.sent] == wanted
    page = (await client.get(f"/v1/webhooks/{wh['id']}/deliveries", headers=OS)).json()
    assert [x["event_seq"] for x in page["items"]] == [e["seq"] for e in reversed(wanted)]
    first = page["items"][-1]
    assert first["state"] == "succeeded" and first["attempts"][0]["status_code"] == 200
    one = await client.get(f"/v1/webhooks/{wh['id']}/deliveries/{first['id']}", headers=OS)
    assert one.json() == first
    assert_problem(await client.get(f"/v1/webhooks/{wh['id']}/deliveries/nope", headers=OS), 404)


async def test_deliveries_page_newest_first(client: httpx.AsyncClient, app: FastAPI) -> None:
    """Delivery pages follow next_cursor with no repeats; a made-up cursor is 422."""
    wh = (await client.post("/v1/webhooks", json=HOOK, headers=OS)).json()
    made = [
        (await client.post(f"/v1/webhooks/{wh['id']}/test", headers=OS)).json() for _ in range(5)
    ]
    url = f"/v1/webhooks/{wh['id']}/deliveries"
    first = (await client.get(url, params={"limit": 3}, headers=OS)).json()
    rest = (await client.get(url, params={"cursor": first["next_cursor"]}, headers=OS)).json()
    got = [x["id"] for x in first["items"] + rest["items"]]
    assert got == [m["id"] for m in reversed(made)] and rest["next_cursor"] is None
    assert_problem(await client.get(url, params={"cursor": "abc"}, headers=OS), 422)


async def test_test_delivery_and_redelivery(client: httpx.AsyncClient, app: FastAPI) -> None:
    """test queues a webhook.test delivery (202); redelivering is 409 while it is pending,
    202 after, and sends the same webhook-id again."""
    wh = (await client.post("/v1/webhooks", json=HOOK, headers=OS)).json()
    r = await client.post(f"/v1/webhooks/{wh['id']}/test", headers=OS)
    assert r.status_code == 202 and r.json()["state"] == "pending"
    test = r.json()
    again = f"/v1/webhooks/{wh['id']}/deliveries/{test['id']}/redeliver"
    assert_problem(await client.post(again, headers=OS), 409)
    sender = ScriptedSender()
    d = dispatcher(app, sender)
    d.step()
    assert json.loads(sender.sent[0].body)["type"] == "webhook.test"
    r = await client.post(again, headers=OPS)
    assert r.status_code == 202 and r.json()["state"] == "pending"
    d.step()
    assert [s.headers["webhook-id"] for s in sender.sent] == [test["id"], test["id"]]
    done = (await client.get(f"/v1/webhooks/{wh['id']}/deliveries/{test['id']}", headers=OS)).json()
    assert done["state"] == "succeeded" and len(done["attempts"]) == 2
    assert_problem(await client.post("/v1/webhooks/nope/test", headers=OS), 404)


async def test_a_disabled_endpoint_can_be_enabled_again(
    client: httpx.AsyncClient, app: FastAPI, clock: ManualClock
) -> None:
    """Past the schedule the endpoint shows disabled with a reason and the feed has
    webhook.disabled; test and redeliver are 409 until enable, which then works."""
    wh = (await client.post("/v1/webhooks", json=HOOK, headers=OS)).json()
    test = (await client.post(f"/v1/webhooks/{wh['id']}/test", headers=OS)).json()
    schedule = RetrySchedule((1.0, 2.0), jitter=0.0)
    d = dispatcher(app, ScriptedSender(lambda s: 500), schedule=schedule)
    for _ in range(schedule.attempts):
        d.step()
        clock.advance(2)
    got = (await client.get(f"/v1/webhooks/{wh['id']}", headers=OS)).json()
    assert got["disabled"] is True and got["disabled_at"] and "schedule" in got["disabled_reason"]
    feed = (await client.get("/v1/events", headers=OS)).json()["events"]
    assert [e["entity_id"] for e in feed if e["type"] == "webhook.disabled"] == [wh["id"]]
    assert_problem(await client.post(f"/v1/webhooks/{wh['id']}/test", headers=OS), 409)
    again = f"/v1/webhooks/{wh['id']}/deliveries/{test['id']}/redeliver"
    assert_problem(await client.post(again, headers=OS), 409)
    r = await client.post(f"/v1/webhooks/{wh['id']}/enable", headers=OS)
    assert r.status_code == 200 and r.json()["disabled"] is False
    assert (await client.post(again, headers=OS)).status_code == 202


async def test_patch_changes_only_what_is_given(
    client: httpx.AsyncClient, app: FastAPI, community: dict[str, Any]
) -> None:
    """PATCH keeps fields left out, validates the others (422, nothing changed), and new
    filters apply to the next events."""
    wh = (await client.post("/v1/webhooks", json={**HOOK, "description": "a"}, headers=OS)).json()
    url = f"/v1/webhooks/{wh['id']}"
    r = await client.patch(url, json={"event_types": ["webhook.test"]}, headers=OS)
    assert r.status_code == 200, r.text
    assert r.json()["event_types"] == ["webhook.test"] and r.json()["description"] == "a"
    assert r.json()["url"] == HOOK["url"] and "secret" not in r.json()
    for bad in ({"url": "http://10.0.0.1/"}, {"community_ids": ["c9"]}, {"secret": "x"}):
        assert_problem(await client.patch(url, json=bad, headers=OS), 422)
    assert (await client.get(url, headers=OS)).json() == r.json()
    assert_problem(await client.patch("/v1/webhooks/nope", json={}, headers=OS), 404)
    await client.put(
        "/v1/communities/c1", json={"name": "Renamed", "center": community["center"]}, headers=OPS
    )
    sender = ScriptedSender()
    dispatcher(app, sender).step()
    assert sender.sent == []  # community.upserted is not a webhook.test


async def test_rotating_the_secret_signs_with_both_for_a_day(
    client: httpx.AsyncClient, app: FastAPI, clock: ManualClock
) -> None:
    """rotate-secret shows a new secret once; deliveries verify with the new and the old
    secret for 24 h, then with the new one only."""
    wh = (await client.post("/v1/webhooks", json=HOOK, headers=OS)).json()
    r = await client.post(f"/v1/webhooks/{wh['id']}/rotate-secret", headers=OS)
    assert r.status_code == 200, r.text
    rotated = r.json()
    assert rotated["secret"].startswith("whsec_") and rotated["secret"] != wh["secret"]
    assert rotated["previous_secret_until"]
    got = (await client.get(f"/v1/webhooks/{wh['id']}", headers=OS)).json()
    assert "secret" not in got and got["previous_secret_until"] == rotated["previous_secret_until"]
    sender = ScriptedSender()
    d = dispatcher(app, sender)
    await client.post(f"/v1/webhooks/{wh['id']}/test", headers=OS)
    d.step()
    clock.advance(24 * 3600 + 1)
    await client.post(f"/v1/webhooks/{wh['id']}/test", headers=OS)
    d.step()
    first, later = sender.sent
    assert len(first.headers["webhook-signature"].split(" ")) == 2
    assert len(later.headers["webhook-signature"].split(" ")) == 1
    ts = int(first.headers["webhook-timestamp"])
    for secret in (wh["secret"], rotated["secret"]):
        expected = sign(secret, first.headers["webhook-id"], ts, first.body)
        assert expected in first.headers["webhook-signature"].split(" ")
    old = sign(
        wh["secret"],
        later.headers["webhook-id"],
        int(later.headers["webhook-timestamp"]),
        later.body,
    )
    assert old not in later.headers["webhook-signature"]


async def test_the_private_address_setting_comes_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, engine: Engine
) -> None:
    """DISPATCH_WEBHOOKS_ALLOW_PRIVATE=true lets a loopback receiver register (201); by
    default the same URL is 422."""
    monkeypatch.setenv("DISPATCH_WEBHOOKS_ALLOW_PRIVATE", "true")
    settings = ApiSettings(api_keys=KEYS, tick_enabled=False)
    assert settings.webhooks_allow_private is True
    loopback = {"url": "http://127.0.0.1:9000/hook"}
    for cfg, status in (
        (settings, 201),
        (ApiSettings(api_keys=KEYS, tick_enabled=False, webhooks_allow_private=False), 422),
    ):
        app = create_app(cfg, engine=engine)
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://api") as c,
        ):
            r = await c.post("/v1/webhooks", json=loopback, headers=OS)
            assert r.status_code == status, r.text


async def test_recover_sends_again_what_was_given_up_oldest_first(
    client: httpx.AsyncClient, app: FastAPI, clock: ManualClock
) -> None:
    """After a disable: enable, then recover since a time requeues the given-up deliveries
    of that period, oldest first with their ids; the state filter lists them."""
    wh = (await client.post("/v1/webhooks", json=HOOK, headers=OS)).json()
    url = f"/v1/webhooks/{wh['id']}"
    made = [(await client.post(f"{url}/test", headers=OS)).json() for _ in range(3)]
    schedule = RetrySchedule((1.0,), jitter=0.0)
    d = dispatcher(app, ScriptedSender(lambda s: 500), schedule=schedule)
    d.step()
    clock.advance(2)
    d.step()
    failed = (await client.get(f"{url}/deliveries", params={"state": "failed"}, headers=OS)).json()
    assert sorted(x["id"] for x in failed["items"]) == sorted(m["id"] for m in made)
    assert (
        await client.get(f"{url}/deliveries", params={"state": "pending"}, headers=OS)
    ).json() == {
        "items": [],
        "next_cursor": None,
    }
    since = {"since": "2000-01-01T00:00:00Z"}
    assert_problem(await client.post(f"{url}/recover", json=since, headers=OS), 409)  # disabled
    await client.post(f"{url}/enable", headers=OS)
    r = await client.post(f"{url}/recover", json=since, headers=OS)
    assert r.status_code == 202 and r.json() == {"requeued": 3}
    sender = ScriptedSender()
    dispatcher(app, sender).step()
    again = [s.headers["webhook-id"] for s in sender.sent if "test" in s.headers["webhook-id"]]
    assert sorted(again) == sorted(m["id"] for m in made)
    page = (
        await client.get(f"{url}/deliveries", params={"state": "succeeded", "limit": 2}, headers=OS)
    ).json()
    assert len(page["items"]) == 2 and page["next_cursor"]
    assert_problem(
        await client.post(f"{url}/recover", json={"since": "1999-12-31T00:00:00Z"}, headers=OS), 422
    )
