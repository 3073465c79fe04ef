"""Acceptance: deliveries to a real loopback receiver, verified with ``standardwebhooks``.

The receiver is a threaded ``http.server`` on a free port; the dispatcher sends
over real HTTP and is stepped by the test on the engine's manual clock (started
at the real time, so the receiver's timestamp check holds), which lets retries
come due without waiting out a real backoff. Runs on memory, Redis and Cluster.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from fastapi import FastAPI
from standardwebhooks import Webhook

from api.app import create_app
from api.settings import ApiSettings
from api.webhooks_runtime import webhooks_of
from dispatch import Engine, ManualClock, MemoryStore
from dispatch.webhooks import HttpSender, RetrySchedule, WebhookDispatcher, webhook_store_for
from tests.api.conftest import APP, KEYS, OPS, OS, make_engine, order_body
from tests.api.webhook_receiver import Receiver, loopback_receiver
from tests.polling import pause, until

pytestmark = pytest.mark.anyio

SCHEDULE = RetrySchedule((2.0, 4.0, 8.0, 16.0, 32.0), jitter=0.2)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with loopback_receiver() as r:
        yield r


@pytest.fixture
def clock() -> ManualClock:
    """The engine's clock, at the real time: receivers check signatures' timestamps."""
    return ManualClock(time.time())


@pytest.fixture
def app(engine: Engine) -> FastAPI:
    settings = ApiSettings(api_keys=KEYS, tick_enabled=False, webhooks_allow_private=True)
    return create_app(settings, engine=engine)


def new_dispatcher(app: FastAPI) -> WebhookDispatcher:
    """A dispatcher as a (re)started process builds one: a fresh webhook store object over
    the same state (Redis), or the process's own memory store."""
    hooks = webhooks_of(app)
    store = hooks.store if isinstance(hooks.feed, MemoryStore) else webhook_store_for(hooks.feed)
    sender = HttpSender(timeout_s=5, allow_private=True)
    return WebhookDispatcher(
        hooks.feed, store, sender, hooks.clock, schedule=SCHEDULE, rng=random.Random(3)
    )


def drain(d: WebhookDispatcher, clock: ManualClock, webhook_id: str) -> None:
    """Step (moving the clock 2 s between steps) until no delivery is pending."""
    for _ in range(60):
        d.step()
        if all(x.final for x in d.store.list_deliveries(webhook_id, 10_000)):
            return
        clock.advance(2)
    raise AssertionError("deliveries still pending after 120 s of retries")


async def order_day(client: httpx.AsyncClient, orders: int) -> list[str]:
    """Orders created and dispatched; the first one picked up: events for several entities."""
    ids = [
        (await client.post("/v1/orders", json=order_body(), headers=OS)).json()["id"]
        for _ in range(orders)
    ]
    assert (await client.post("/v1/communities/c1/dispatch", headers=OPS)).status_code == 200
    r = await client.post(
        f"/v1/orders/{ids[0]}/events", json={"type": "picked_up", "worker_id": "w1"}, headers=APP
    )
    assert r.status_code == 200, r.text
    return ids


async def test_outage_then_retries_deliver_everything_in_order(
    client: httpx.AsyncClient, app: FastAPI, clock: ManualClock, courier: str, receiver: Receiver
) -> None:
    """Every request verifies with standardwebhooks; after an outage (503s, dropped
    connections, then connections refused) and a dispatcher restart, every event since
    registration was accepted, and each entity's events were first accepted in feed order."""
    before = (await client.get("/v1/events", params={"limit": 1000}, headers=OS)).json()
    r = await client.post("/v1/webhooks", json={"url": receiver.url}, headers=OS)
    assert r.status_code == 201, r.text
    wh = r.json()
    d = new_dispatcher(app)
    await order_day(client, 2)
    drain(d, clock, wh["id"])
    assert receiver.accepted()
    receiver.mode = "down"
    await order_day(client, 3)
    d.step()
    clock.advance(3)
    receiver.mode = "drop"
    d.step()
    failed = [x for x in receiver.got if x.status != 200]
    assert len(failed) >= 2
    receiver.close()  # refused
    clock.advance(5)
    d.step()
    refused = [x for x in d.store.list_deliveries(wh["id"], 100) if x.attempts]
    assert any(
        a.status_code is None and "refused" in (a.error or "") for x in refused for a in x.attempts
    )
    receiver.reopen()
    d.close()
    d = new_dispatcher(app)  # a restart while deliveries wait for their retry
    receiver.mode = "ok"
    drain(d, clock, wh["id"])
    d.close()

    secret = Webhook(wh["secret"])
    for got in receiver.got:
        assert secret.verify(got.body, got.headers)["seq"] > 0
        assert got.headers["webhook-id"].startswith("msg_")
    feed = (await client.get("/v1/events", params={"limit": 1000}, headers=OS)).json()["events"]
    wanted = [e for e in feed if e["seq"] > before["last_seq"]]
    first_accept: dict[int, int] = {}
    for n, got in enumerate(receiver.accepted()):
        first_accept.setdefault(json.loads(got.body)["seq"], n)
    assert sorted(first_accept) == [e["seq"] for e in wanted]  # none missing, none extra
    by_entity: dict[str, list[int]] = {}
    for e in wanted:
        by_entity.setdefault(f"{e['community_id']}:{e['entity_id']}", []).append(e["seq"])
    for seqs in by_entity.values():
        assert sorted(seqs, key=lambda s: first_accept[s]) == seqs
    assert any(len(seqs) > 1 for seqs in by_entity.values())
    retried = {json.loads(x.body)["seq"] for x in failed}
    assert retried <= set(first_accept)  # what failed was delivered later
    bodies = {json.loads(x.body)["seq"]: x.body for x in receiver.accepted()}
    assert {s: json.loads(b) for s, b in bodies.items()} == {e["seq"]: e for e in wanted}
    page = (await client.get(f"/v1/webhooks/{wh['id']}/deliveries", headers=OS)).json()
    retried_ids = [x for x in page["items"] if len(x["attempts"]) > 1]
    assert retried_ids and all(x["state"] == "succeeded" for x in page["items"])


@pytest.fixture
async def serving(receiver: Receiver) -> AsyncIterator[tuple[httpx.AsyncClient, FastAPI]]:
    """A memory-store server that ticks and sends webhooks by itself, as `dispatch serve`."""
    engine = make_engine(MemoryStore(), ManualClock(time.time()))
    settings = ApiSettings(
        api_keys=KEYS, tick_enabled=True, tick_poll_s=0.05, webhooks_allow_private=True
    )
    app = create_app(settings, engine=engine)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://api") as c,
    ):
        yield c, app


async def test_a_running_server_sends_on_its_own(
    serving: tuple[httpx.AsyncClient, FastAPI], receiver: Receiver
) -> None:
    """With ticks in-process the dispatcher thread runs too: a test delivery and a new
    community's event reach the receiver without any stepping by the test, and /metrics
    counts the sends."""
    client, _ = serving
    wh = (await client.post("/v1/webhooks", json={"url": receiver.url}, headers=OPS)).json()
    test = (await client.post(f"/v1/webhooks/{wh['id']}/test", headers=OPS)).json()
    body = {"name": "Riverside", "center": {"lat": 31.2304, "lng": 121.4737}}
    assert (await client.put("/v1/communities/c7", json=body, headers=OPS)).status_code == 200

    def types() -> set[str]:
        return {json.loads(x.body)["type"] for x in receiver.accepted()}

    assert until(lambda: {"webhook.test", "community.upserted"} <= types(), 15.0), types()
    ids = {x.headers["webhook-id"] for x in receiver.accepted()}
    assert test["id"] in ids
    for got in receiver.accepted():
        Webhook(wh["secret"]).verify(got.body, got.headers)

    def counted(metrics: str) -> bool:
        sent = [
            ln for ln in metrics.splitlines() if ln.startswith("dispatch_webhook_attempts_total")
        ]
        return any('outcome="success"' in ln and float(ln.split()[-1]) >= 2 for ln in sent)

    # the dispatcher counts a step's sends once the step ends, a moment after the receiver
    # has them: scrape until the count shows, within a deadline
    deadline = time.monotonic() + 15.0
    metrics = (await client.get("/metrics")).text
    while not counted(metrics) and time.monotonic() < deadline:
        pause(0.05)
        metrics = (await client.get("/metrics")).text
    assert counted(metrics), metrics
    assert "dispatch_webhook_dispatcher_age_seconds" in metrics
